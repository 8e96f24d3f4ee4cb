/* ncp_recovery: the co-processor experiment in one call
 * (docs/coprocessor.md, "The experiment"): healthy baseline, lesion,
 * exploration, EN and CPN training interleaved, evaluation on reaches the
 * training never saw, against ncpd's oracle.  Free-run simulations only:
 * the same configuration and options give the same figures bit for bit
 * (all but the wall time).  `ncp-train --cpn` drives it.
 */
#ifndef NCP_RECOVERY_H
#define NCP_RECOVERY_H

#include <stdint.h>

#include "daemon/ncp_config.h"
#include "models/emu/ncp_cpn.h"

struct ncp_recovery_opts {
	double healthy_s;	/* healthy reaches the reference is fitted on */
	double explore_s;	/* lesioned, white-noise stimulation */
	double round_s;		/* data per round (10/60/30 mix) */
	double train_s;		/* simulated time of exploration and rounds */
	double eval_s;		/* held-out reaches (random task, new seed) */
	int cpn_epochs;		/* CPN epochs per round */
	int sample_every;	/* steps between samples */
	double noise_sd;	/* white noise: a* sd, fraction of alpha_max */
	double noise_hold;	/* white noise: a* held this long, s */
	double perturb_sd;	/* perturbed CPN: added a* sd, fraction of alpha_max */
	double perturb_tau;	/* its correlation time, s */
	double mix[3];		/* current, perturbed, noise shares */
	double seg_s;		/* one source per segment of this length */
	int curve_every;	/* rounds between learning-curve evaluations */
	int effect_pairs;
	/* Deploy the CPN of the curve point with the least mean end error on
	 * eval_s / 4 of a validation task seed (task.seed + 500). */
	int select;	/* counterfactual pairs scoring the EN (0: none) */
	uint64_t eval_seed;	/* held-out task seed */
	struct ncp_cpn_spec spec;	/* E, R, dt, stim_max come from the config */
	struct ncp_cpn_train_opts train;
	const char *out;	/* CPN file or NULL */
	const char *svg;	/* plot or NULL */
	/* The EN reads M1 as the stimulation electrodes record it (E
	 * features; train.en_feat is set from it). */
	int en_m1;
	int verbose;
};

void ncp_recovery_opts_default(struct ncp_recovery_opts *o);

/* Run it on configuration c; prints the JSON result to stdout.  0 or
 * -errno with a message. */
int ncp_recovery_run(const struct ncp_config *c,
		     const struct ncp_recovery_opts *o, char *err,
		     size_t errlen);

/* ncp-train --cpn ARGS: parse and run.  Exit status. */
int ncp_recovery_main(int argc, char **argv);

#endif
