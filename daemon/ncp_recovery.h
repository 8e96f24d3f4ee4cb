/* ncp_recovery: the co-processor experiment in one call
 * (docs/coprocessor.md, "The experiment"): healthy baseline, lesion,
 * exploration, EN and CPN training interleaved, evaluation on reaches the
 * training never saw, against ncpd's oracle.  Free-run simulations only:
 * the same configuration and options give the same figures bit for bit
 * (all but the wall time).  `ncp-train --cpn` drives it.
 */
#ifndef NCP_RECOVERY_H
#define NCP_RECOVERY_H

#include <stdbool.h>
#include <stdint.h>

#include "daemon/ncp_config.h"
#include "models/emu/ncp_cpn.h"

#define NCP_RECOVERY_MAX_CFG 128
#define NCP_RECOVERY_MAX_DATA 64

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
	int effect_pairs;	/* counterfactual pairs scoring the EN (0: none) */
	/* Deploy the CPN of the curve point with the least mean end error on
	 * eval_s / 4 of a validation task seed (task.seed + 500); the
	 * default (--no-select: the last CPN). */
	int select;
	uint64_t eval_seed;	/* held-out task seed */
	struct ncp_cpn_spec spec;	/* E, R, dt, stim_max come from the config */
	struct ncp_cpn_train_opts train;
	const char *out;	/* CPN file or NULL */
	const char *svg;	/* plot or NULL */
	/* The EN reads M1 as the stimulation electrodes record it (E
	 * features; train.en_feat is set from it). */
	int en_m1;
	int verbose;
	/* --config FILE and --set KEY=VALUE in their order (ncp_recovery_config). */
	const char *cfg[NCP_RECOVERY_MAX_CFG];
	bool cfg_file[NCP_RECOVERY_MAX_CFG];
	int ncfg;
	/* Training from recordings (ncp_recovery_rec.h): the recordings, the
	 * rounds of cpn_epochs, the EN's validation share by blocks of time,
	 * and whether to evaluate the CPN in the closed loop. */
	const char *data[NCP_RECOVERY_MAX_DATA];
	int ndata;
	int rounds;
	double val_frac, block_s;
	bool no_eval;
};

void ncp_recovery_opts_default(struct ncp_recovery_opts *o);
/* Apply o's --config and --set, in order, to c.  0 or -errno with a
 * message. */
int ncp_recovery_config(struct ncp_config *c,
			const struct ncp_recovery_opts *o, char *err,
			size_t errlen);

/* Run it on configuration c; prints the JSON result to stdout.  0 or
 * -errno with a message. */
int ncp_recovery_run(const struct ncp_config *c,
		     const struct ncp_recovery_opts *o, char *err,
		     size_t errlen);

/* The training steps the simulated protocol and the training from
 * recordings (ncp_recovery_rec.h) share.  Fit the standardisation and
 * train the EN on d: 0 or -errno with a message. */
int ncp_recovery_en_start(struct ncp_cpn_trainer *tr,
			  const struct ncp_cpn_data *d, double *en_loss,
			  char *err, size_t errlen);
/* `epochs` CPN epochs through the frozen EN; returns the rollbacks. */
int ncp_recovery_cpn_epochs(struct ncp_cpn_trainer *tr,
			    const struct ncp_cpn_data *d, int epochs,
			    double *task_loss);
/* The EN's loss on fresh's samples [from, n) into *new_loss; when the EN
 * has expired by it, retrain it on d (*en_loss).  Returns the rollbacks
 * (0 or 1). */
int ncp_recovery_en_check(struct ncp_cpn_trainer *tr,
			  const struct ncp_cpn_data *d,
			  const struct ncp_cpn_data *fresh, size_t from,
			  double *new_loss, double *en_loss);

/* A CPN in the closed loop, as the experiment evaluates it: mean end
 * errors (m) on eval_s of held-out random reaches (task seed eval_seed,
 * or task.seed + 1000) and on the centre-out reaches, healthy (no
 * lesion, no stimulation), lesioned (c's lesion) and restored (the
 * lesion, m driving), on free-run simulations of c. */
struct ncp_recovery_eval {
	uint64_t task_seed;
	double L_healthy, L_lesioned, L_restored, recovery_pct;
	double co_healthy, co_lesioned, co_restored, co_recovery_pct;
};
int ncp_recovery_evaluate(const struct ncp_config *c,
			  const struct ncp_recovery_opts *o,
			  const struct ncp_cpn_model *m,
			  struct ncp_recovery_eval *ev, char *err,
			  size_t errlen);

struct ncp_json;
struct ncp_cpn_trainer;

/* The training's figures as ncp-train --cpn prints them: horizon,
 * reference_r2, rounds, cpn_epochs and en_trainings (tr's), rollbacks,
 * task_loss, en_loss. */
void ncp_recovery_json_training(struct ncp_json *j, int horizon,
				double reference_r2, int rounds,
				const struct ncp_cpn_trainer *tr, int rollbacks,
				double task_loss, double en_loss);

/* The experiment's figures as ncp-train --cpn prints them: "held_out"
 * (task random, task_seed, eval_s seconds), then L_healthy, L_lesioned,
 * L_restored, L_oracle and recovery_pct, oracle_recovery_pct of held =
 * { healthy, lesioned, restored, oracle }, and the same of co under
 * "centre_out"; an oracle of NaN is left out with its recovery. */
void ncp_recovery_json_losses(struct ncp_json *j, uint64_t task_seed,
			      double eval_s, const double held[4],
			      const double co[4]);

struct ncp_sim;

/* The co-processor's observation of simulation s (NCP_CPN_OBS(R) floats:
 * the R recording electrodes, then the arm state after the last step). */
void ncp_recovery_observe(const struct ncp_sim *s, int R, float *obs);

/* Append `seconds` of white-noise exploration on configuration c (its
 * lesion; stim.source taken as none) and task, as the experiment's first
 * phase collects them (o's noise_sd, noise_hold, sample_every, horizon),
 * to data.  The same arguments give the same samples.  0 or -errno with a
 * message. */
int ncp_recovery_explore(const struct ncp_config *c,
			 const struct ncp_recovery_opts *o,
			 const struct ncp_task_params *task, double seconds,
			 uint64_t seed, struct ncp_cpn_data *data, char *err,
			 size_t errlen);

/* ncp-train --cpn ARGS: parse and run.  Exit status. */
int ncp_recovery_main(int argc, char **argv);

#endif
