/* ncp_net: a network of nodes, spiking ensembles and connections, stepped
 * the way Nengo steps one.
 *
 * Objects run in the order they were added.  Each step:
 *   1. every object's input is the sum of its incoming connections;
 *   2. a connection with a synapse delivers its filter's output from the
 *      previous step (Nengo's "update" synapses: one step of delay);
 *   3. a connection without a synapse delivers its source's value from this
 *      step, so its source must come earlier in the order;
 *   4. after all objects ran, filters take in this step's values:
 *      y = a y + (1 - a) x, a = exp(-dt / tau) (an alpha synapse: its
 *      second-order form, ncp_conn_spec); PES rules update decoders.
 * A node computes out = fn(t, in); a node without a function holds an
 * output the caller sets (size_in 0) or passes its input through.  An
 * ensemble encodes its input into currents and spikes; what it represents
 * leaves through decoded connections (decoders solved at build time, with
 * the connection's transform folded in).
 *
 * Building allocates; after ncp_net_finalize() a step allocates nothing.
 */
#ifndef NCP_NET_H
#define NCP_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/nef/ncp_ens.h"

typedef void (*ncp_node_fn)(double t, const float *in, float *out, void *ctx);

/* Parts of a step, for the cost breakdown (ncp_net_profile). */
enum ncp_net_part {
	NCP_PART_ENCODE,	/* input -> currents */
	NCP_PART_NEURONS,	/* LIF updates */
	NCP_PART_DECODE,	/* spikes -> decoded values, PES */
	NCP_PART_SYNAPSES,	/* connection sums and filters */
	NCP_PART_NODES,		/* node functions */
	NCP_PART_ARM,		/* nodes marked as the arm */
	NCP_PART_COUNT,
};
extern const char *const ncp_net_part_names[NCP_PART_COUNT];

struct ncp_conn_spec {
	int src, dst;		/* object ids */
	/* Node source: the slice [src_lo, src_lo + src_dims) of its output.
	 * Ensemble source: src_dims values of `function` (NULL: identity,
	 * src_dims = the ensemble's dims). */
	int src_lo, src_dims;
	ncp_func function;
	void *ctx;
	/* Destination slice of the target's input. */
	int dst_lo, dst_dims;
	/* dst_dims x src_dims row-major; NULL: weight times identity. */
	const float *transform;
	float weight;		/* used without a transform; 0 is taken as 1 */
	double tau;		/* lowpass synapse, s; 0: none */
	/* With tau: Nengo's Alpha(tau), 1 / (tau s + 1)^2, instead of the
	 * lowpass (zero-order hold: y = 2a y1 - a^2 y2 + b1 x + b2 x1). */
	bool alpha;
	/* PES learning on an ensemble-sourced connection (rate 0: off).
	 * The error is node pes_err's output [pes_err_lo, + dst_dims). */
	double pes_rate;
	int pes_err, pes_err_lo;
	double pes_tau;		/* presynaptic activity filter; 0: 5 ms */
};

struct ncp_net;

struct ncp_net *ncp_net_new(double dt);
void ncp_net_free(struct ncp_net *net);
/* Solve the decoders of the connections added from now on through this
 * cache (not owned; it must outlive the connects; NULL: none). */
void ncp_net_set_cache(struct ncp_net *net, struct ncp_dcache *cache);

/* Add a node; returns its object id or -errno. */
int ncp_net_node(struct ncp_net *net, const char *name, int size_in,
		 int size_out, ncp_node_fn fn, void *ctx);
/* Count a node's time as `part` in the breakdown (default NODES). */
void ncp_net_node_part(struct ncp_net *net, int node, enum ncp_net_part part);
/* Add an ensemble; returns its object id or -errno with a message. */
int ncp_net_ensemble(struct ncp_net *net, const char *name,
		     const struct ncp_ens_spec *spec, char *err, size_t errlen);
/* Add a connection; returns its id or -errno with a message (decoders are
 * solved here for ensemble sources). */
int ncp_net_connect(struct ncp_net *net, const struct ncp_conn_spec *c,
		    char *err, size_t errlen);
/* An ensemble array: n_ens ensembles of spec->dims each (spec->seed is
 * varied per ensemble), an input node feeding them without synapse, and an
 * output node they decode into (identity, no synapse), as Nengo's
 * EnsembleArray.  *in_node and *out_node get the two nodes' ids.  The
 * ensembles run as one population (ncp_ens_init_array): the same bits as
 * apart, one pass instead of n_ens; it decodes its identity only. */
int ncp_net_ens_array(struct ncp_net *net, const char *name, int n_ens,
		      const struct ncp_ens_spec *spec, int *in_node,
		      int *out_node, char *err, size_t errlen);
/* Freeze the structure; required before the first step. */
int ncp_net_finalize(struct ncp_net *net);

void ncp_net_step(struct ncp_net *net);
/* Back to time 0: filters, neuron state and learned decoders as built. */
void ncp_net_reset(struct ncp_net *net);

int ncp_net_find(const struct ncp_net *net, const char *name);
/* Objects in run order: how many, and each one's name and output size
 * (a node's values; an ensemble's dimensions). */
int ncp_net_objects(const struct ncp_net *net);
const char *ncp_net_name(const struct ncp_net *net, int obj);
int ncp_net_size_out(const struct ncp_net *net, int obj);
/* An ensemble's decoded output: the value (before its synapse) of its
 * first outgoing connection this step, *dims values; NULL for a node or
 * an ensemble that decodes nothing.  Valid after each step. */
const float *ncp_net_decoded(const struct ncp_net *net, int obj, int *dims);
float *ncp_net_output(struct ncp_net *net, int node);
const float *ncp_net_input(const struct ncp_net *net, int obj);
struct ncp_ens *ncp_net_ens(struct ncp_net *net, int obj);
/* Decoders of an ensemble-sourced connection (n x dst_dims), or NULL. */
const float *ncp_net_decoders(const struct ncp_net *net, int conn);
/* Static decode RMSE of an ensemble-sourced connection at build. */
double ncp_net_decode_rmse(const struct ncp_net *net, int conn);
double ncp_net_time(const struct ncp_net *net);
uint64_t ncp_net_steps(const struct ncp_net *net);
int ncp_net_neurons(const struct ncp_net *net);

/* Time each part of every step (costs about a microsecond a step). */
void ncp_net_profile(struct ncp_net *net, bool on);
/* Nanoseconds spent per part since profiling was switched on. */
void ncp_net_profile_read(const struct ncp_net *net,
			  uint64_t ns[NCP_PART_COUNT], uint64_t *steps);

#endif
