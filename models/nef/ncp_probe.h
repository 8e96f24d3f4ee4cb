/* ncp_probe: what a recording can probe in a network, as Nengo's probes:
 * the spikes of any ensemble, and the value of any ensemble (what it
 * decodes: its first outgoing connection's function, before that
 * connection's synapse) or node (its output), optionally through a
 * lowpass synapse of its own.
 *
 * Each step the loop copies one *frame* of everything probeable (every
 * ensemble's spikes as bits, then every value as float32) with
 * ncp_probe_frame_fill, which allocates nothing; the recorder's thread
 * picks out and filters what a recording asked for.
 *
 * A probe is written NAME[:KIND[:TAU]]: NAME an object of the network
 * (ncp_probe_names lists them), KIND `spikes` (ensembles; their default)
 * or `value` (`decoded` is the same for an ensemble; a node's default),
 * TAU the probe's synapse in seconds (values only; none by default).
 */
#ifndef NCP_PROBE_H
#define NCP_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include "models/nef/ncp_net.h"

#define NCP_PROBE_MAX 16	/* probes in one recording */
#define NCP_PROBE_SPEC_MAX 64	/* characters in a probe's text */

enum ncp_probe_kind { NCP_PROBE_SPIKES, NCP_PROBE_VALUE };

/* One probe, resolved against a frame. */
struct ncp_probe {
	char target[48];	/* the object's name */
	enum ncp_probe_kind kind;
	double tau;		/* s; 0: no synapse */
	int cols;		/* neurons or values */
	size_t off;		/* spikes: first bit; value: first float */
	char file[96];		/* probe.NAME.KIND.npy */
};

/* The layout of one step's frame for a network (after finalize). */
struct ncp_probe_frame {
	size_t bytes;		/* frame size, a multiple of 8 */
	int n_obj;
	size_t *bit_off;	/* per object: first spike bit (ensembles) */
	size_t *val_off;	/* per object: first float of its value */
	int *val_dims;		/* per object: values (0: none) */
	size_t words;		/* 64-bit words of spike bits */
	size_t n_vals;
};

int ncp_probe_frame_init(struct ncp_probe_frame *f, const struct ncp_net *net);
void ncp_probe_frame_fini(struct ncp_probe_frame *f);
/* The loop, after a step: the frame (f->bytes at out, 8-aligned). */
void ncp_probe_frame_fill(const struct ncp_probe_frame *f,
			  struct ncp_net *net, void *out);

/* Parse and resolve one probe.  0, or -EINVAL with a message naming the
 * fault and, for an unknown name, the names there are. */
int ncp_probe_parse(const char *spec, const struct ncp_probe_frame *f,
		    const struct ncp_net *net, struct ncp_probe *p, char *err,
		    size_t errlen);
/* A comma-separated list (config record.probes; "" is none): *n probes
 * into p (at most NCP_PROBE_MAX); a probe given twice is refused. */
int ncp_probe_parse_list(const char *list, const struct ncp_probe_frame *f,
			 const struct ncp_net *net, struct ncp_probe *p, int *n,
			 char *err, size_t errlen);

/* Picking a probe's row out of a frame: spikes as 0/1 bytes, values as
 * float32 through the probe's synapse (state: cols floats, zero at the
 * start; a = exp(-dt / tau)). */
void ncp_probe_spikes(const struct ncp_probe *p, const void *frame,
		      uint8_t *row);
void ncp_probe_values(const struct ncp_probe *p, const void *frame,
		      const struct ncp_probe_frame *f, float a, float *state,
		      float *row);

#endif
