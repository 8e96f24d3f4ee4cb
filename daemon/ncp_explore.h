/* ncp_explore: exploration around the co-processor's output, for the data
 * its emulator learns from (docs/coprocessor.md, "Exploration"): Bryan et
 * al.'s mix of the current CPN, the CPN perturbed, and white noise.
 *
 * Time is cut into blocks of `block` seconds; each block's drive is drawn
 * from (seed, block number) alone, so it does not depend on who computes
 * it or when: the CPN as it is (mix[0]), perturbed (mix[1]) or noise
 * (mix[2]).  The exploration acts on the electrode current a* the CPN asks
 * for (ncp_cpn_state_target), as ncp-train --cpn does:
 *   perturbed  a* + an Ornstein-Uhlenbeck noise of sd perturb_sd x
 *              alpha_max and correlation time perturb_tau, within
 *              +-alpha_max
 *   noise      Gaussian a* of sd noise_sd x alpha_max, redrawn every
 *              noise_hold seconds, within +-alpha_max
 * and theta = clamp(a* - d alpha, +-stim_max) brings the electrodes to it
 * in one step.
 */
#ifndef NCP_EXPLORE_H
#define NCP_EXPLORE_H

#include <stdint.h>

#include "models/base/ncp_rng.h"
#include "models/reach/ncp_stim.h"

enum ncp_explore_drive {
	NCP_EXPLORE_CPN,	/* as the NCP_CPN_SRC_* of the samples */
	NCP_EXPLORE_PERTURBED,
	NCP_EXPLORE_NOISE,
};

struct ncp_explore_params {
	double block;		/* s */
	double mix[3];		/* shares of cpn, perturbed, noise */
	double perturb_sd;	/* fraction of alpha_max */
	double perturb_tau;	/* s */
	double noise_sd;	/* fraction of alpha_max */
	double noise_hold;	/* s */
	uint64_t seed;
};

struct ncp_explore {
	struct ncp_explore_params p;
	int E;
	double dt;
	uint64_t block_steps, hold_steps;
	struct ncp_ou ou;
	struct ncp_rng rng;	/* the noise drive */
	float *noise;		/* E: the held noise */
};

/* 0 or -ENOMEM. */
int ncp_explore_init(struct ncp_explore *x, const struct ncp_explore_params *p,
		     int E, double dt);
void ncp_explore_fini(struct ncp_explore *x);
/* The drive of the block that holds step. */
int ncp_explore_drive(const struct ncp_explore *x, uint64_t step);
/* Explore a* (E values, the CPN's) for `step` under `drive`, in place, and
 * write theta = clamp(a* - d alpha, +-smax). */
void ncp_explore_apply(struct ncp_explore *x, int drive, uint64_t step,
		       float *astar, double amax, const float *alpha, double d,
		       double smax, float *theta);

#endif
