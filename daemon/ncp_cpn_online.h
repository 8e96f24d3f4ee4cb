/* ncp_cpn_online: trains the co-processor (the CPN and the stimulation
 * emulator it learns through, models/emu/ncp_cpn.h) while the loop runs
 * (docs/coprocessor.md, "Online training").
 *
 * Data: the co-processor's computing thread samples the steps
 * (ncp_coproc_set_sink) into a single-producer queue; this trainer takes
 * them: healthy samples (no lesion, CPN off) into a buffer of their own,
 * from which the healthy reference is fitted once ncp.ref_s seconds of
 * them are in; samples of steps the CPN drove under a lesion (current,
 * perturbed or noise, ncp_explore.h) into the replay buffer of the last
 * ncp.replay seconds.
 *
 * Rounds, as ncp-train --cpn runs them: once ncp.warmup seconds of
 * lesioned data are in, the input standardisation is fitted (a loaded,
 * trained CPN keeps its own) and the EN trained; then each round (every ncp.round seconds of new data) runs
 * ncp.cpn_epochs CPN epochs through the frozen EN, offers the CPN's new
 * weights to the co-processor (swapped in at its next step), and retrains
 * the EN when it has expired.  Until the first weights are offered the
 * exploration is gentle (ncp_coproc_set_warm: the CPN perturbed by
 * ncp.warmup_explore, no white noise).  Guard rails: a non-finite loss or
 * gradient puts the weights back (the trainer's own rollback); new weights
 * that are not finite, or whose task loss is not finite or above the
 * weights' in use on the same samples (ncp_cpn_online_guard), are kept
 * from the co-processor.  Each is counted and the reason kept.
 *
 * A CPN loaded while training was off (another generation of the
 * co-processor's model) restarts the trainer from it at `ncp train on`:
 * weights trained from the CPN before it are never offered (the
 * co-processor refuses them, -ESTALE, should one be on its way).
 *
 * Real time: its own thread at the normal policy (the loop and the
 * co-processor preempt it; it never takes a lock they take: samples come
 * through the queue, weights go through the co-processor's spare).  Each
 * call into the trainer is bounded (ncp.batches minibatches).  Lockstep
 * (free-run): the loop calls ncp_cpn_online_step after every step, so a
 * run is deterministic.
 *
 * `ncp train on` without a CPN starts one from the configuration's spec
 * (weights from ncp.seed, the output layer zero: it asks for no current
 * until trained).  Once the reference is fitted and a lesion is
 * in force the trainer turns the CPN on (with its exploration); `ncp
 * train off` stops training and exploration (the CPN stays as it is, with
 * the weights it has).
 */
#ifndef NCP_CPN_ONLINE_H
#define NCP_CPN_ONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ncp_coproc.h"
#include "models/base/ncp_json.h"
#include "models/emu/ncp_cpn.h"

struct ncp_cpn_online_params {
	struct ncp_cpn_spec spec;	/* a CPN started from scratch */
	struct ncp_cpn_train_opts train;
	bool lockstep;
	double replay;		/* s of lesioned samples kept */
	double ref_s;		/* s of healthy samples before the reference */
	double warmup;		/* s of lesioned samples before the first EN */
	double round;		/* s of new samples per round */
	int cpn_epochs;		/* per round */
	int sample_every;	/* steps between samples */
	uint64_t seed;
};

struct ncp_cpn_online_status {
	bool enabled;
	const char *state;	/* what it waits for or does (static text) */
	uint64_t samples, healthy, dropped;
	uint64_t rounds, cpn_epochs, en_trainings, offers, rollbacks;
	double task_loss, en_loss;
	char last_rollback[128];
};

struct ncp_cpn_online;

struct ncp_cpn_online *ncp_cpn_online_new(const struct ncp_cpn_online_params *p,
					  struct ncp_coproc *coproc, bool enabled,
					  char *err, size_t errlen);
void ncp_cpn_online_free(struct ncp_cpn_online *o);
int ncp_cpn_online_start(struct ncp_cpn_online *o);
void ncp_cpn_online_stop(struct ncp_cpn_online *o);

/* train on / off (the control thread).  On: 0, or -errno with a message
 * (the co-processor cannot drive the electrodes here). */
int ncp_cpn_online_enable(struct ncp_cpn_online *o, bool on, char *err,
			  size_t errlen);
bool ncp_cpn_online_enabled(const struct ncp_cpn_online *o);

/* Lockstep: after the co-processor's step. */
void ncp_cpn_online_step(struct ncp_cpn_online *o);

/* A recent, consistent copy (any thread; never waits for the trainer). */
void ncp_cpn_online_status(struct ncp_cpn_online *o,
			   struct ncp_cpn_online_status *s);
/* The guard before new weights go to the co-processor
 * (docs/coprocessor.md, "Online training"): the weights in use and the
 * new ones are scored on the same samples (the newest of d) through the
 * trainer's emulator.  NULL when next may be offered, else why not: a
 * weight or its task loss not finite, or a task loss above the one of
 * the weights in use.  *l_in_use, *l_next: the two task losses (NaN when
 * not computed). */
const char *ncp_cpn_online_guard(struct ncp_cpn_trainer *tr,
				 const struct ncp_cpn_model *in_use,
				 const struct ncp_cpn_model *next,
				 const struct ncp_cpn_data *d, double *l_in_use,
				 double *l_next);
/* The summary's "ncp_training" object; once stopped. */
void ncp_cpn_online_json(struct ncp_cpn_online *o, struct ncp_json *j);

#endif
