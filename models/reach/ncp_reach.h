/* ncp_reach: the REACH circuits (reference/reach.md) wired into a closed
 * loop with the arm: PMC target -> error -> M1 -> torque -> arm -> S1 ->
 * back, with the cerebellum (CB) adding -M kv dq, and optionally an
 * adaptive CB population learning an extra torque with PES.
 *
 * Built once (this solves every decoder); a step allocates nothing.
 */
#ifndef NCP_REACH_H
#define NCP_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/arm/ncp_arm.h"
#include "models/nef/ncp_net.h"

struct ncp_reach_params {
	uint64_t seed;		/* the network: encoders, rates, voltages */
	double dt;		/* s */
	double kp;		/* position gain */
	double kv;		/* velocity gain; 0: 1.5 sqrt(kp) */
	double tau;		/* synapse time constant, s */
	int n_m1, n_cb, n_error, n_s1; /* n_s1: per S1 dimension */
	bool adapt;		/* the PES-learning CB population */
	int n_adapt;
	double adapt_rate;	/* PES learning rate */
	double adapt_tau;	/* error filter, s */
	double m1_mean[4], m1_scale[4];
	double s1_mean[6], s1_scale[6];
	double cb_mean[4], cb_scale[4];
	double start[2];	/* the hand's start position, m */
	struct ncp_arm_params arm;
};

void ncp_reach_params_default(struct ncp_reach_params *p);

struct ncp_reach;

/* Build; decoders through cache (not owned, used during the call only;
 * NULL: solve them all).  A build from the cache gives the same network,
 * bit for bit. */
struct ncp_reach *ncp_reach_new(const struct ncp_reach_params *p,
				struct ncp_dcache *cache, char *err,
				size_t errlen);
void ncp_reach_free(struct ncp_reach *r);

/* The PMC's target for the coming steps. */
void ncp_reach_set_target(struct ncp_reach *r, const double xy[2]);
/* One step of the whole loop. */
void ncp_reach_step(struct ncp_reach *r);
/* Back to the start posture at rest with every filter and neuron cleared. */
void ncp_reach_reset(struct ncp_reach *r);

/* The M1 neurons that spiked in the last step (ascending indices). */
const uint32_t *ncp_reach_m1_spikes(const struct ncp_reach *r, int *n);
void ncp_reach_arm_state(const struct ncp_reach *r, struct ncp_arm_state *s);
/* The torque the arm got in the last step. */
void ncp_reach_torque(const struct ncp_reach *r, double u[2]);
void ncp_reach_target(const struct ncp_reach *r, double xy[2]);
const struct ncp_arm_params *ncp_reach_arm_params(const struct ncp_reach *r);
int ncp_reach_neurons(const struct ncp_reach *r);
int ncp_reach_m1_neurons(const struct ncp_reach *r);
uint64_t ncp_reach_steps(const struct ncp_reach *r);
struct ncp_net *ncp_reach_net(struct ncp_reach *r);

#endif
