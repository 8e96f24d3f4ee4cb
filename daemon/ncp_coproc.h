/* ncp_coproc: the co-processor in the daemon (docs/coprocessor.md, "In
 * the loop").  After every step it reads what the loop published with the
 * step (the window slot's observation: the recording electrodes over the
 * planning ensemble, the S1 arm state, the target and the electrodes'
 * alpha), computes theta with the CPN (models/emu/ncp_cpn.h) and posts it
 * into its stimulation mailbox as a one-step message: the loop applies the
 * newest theta at the next step boundary and never waits; when no theta
 * came in time, theta is 0 for that step and alpha decays.
 *
 * Two ways to run:
 *  - real time: its own thread (SCHED_FIFO ncp.priority, below the loop
 *    and above the emulator) follows the window ring as the emulator's
 *    does (ncp_follow.h).  When that thread is not watching when the loop
 *    publishes a step (it slept through, or its CPU was taken), the loop
 *    computes the step's theta itself (ncp_coproc_fallback); the two hand
 *    the state over through one atomic word and never both compute a
 *    step.  A backlog (the thread was held up) is read whole, for the
 *    reach statistics and samples, but only the newest step gets a
 *    theta; the others count as skipped.
 *  - lockstep (free-run): the loop calls ncp_coproc_step after each step,
 *    so the run is deterministic.
 *
 * Exploration (while training online, ncp.explore > 0): ncp_explore.h,
 * in blocks of ncp.explore_block seconds the CPN as it is (10%), its
 * electrode target perturbed (60%) or white noise (30%); during the
 * trainer's warm-up (ncp_coproc_set_warm) every block perturbed, by
 * ncp.warmup_explore.
 *
 * Models are offered by other threads (ncp_coproc_load: the control
 * thread; ncp_coproc_offer_weights: the trainer) and adopted by the
 * computing thread at its next step; a file that does not fit (another E
 * or R, dt, stim.max, corrupt, non-finite weights) is refused and the
 * model and the on/off state in use stay.
 *
 * Reaches: each reach (a target held until the next one) that ended
 * wholly without a lesion counts as healthy, wholly with a lesion and the
 * CPN off as lesioned, wholly with a lesion and the CPN on (no
 * exploration) as restored; the recovery so far compares their mean end
 * errors (restored over the last 60 s of simulated time).  Published in
 * the ncp block of shared memory (docs/shm.md) after every theta, and
 * every 10 ms while there is none.
 */
#ifndef NCP_COPROC_H
#define NCP_COPROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ncp_explore.h"
#include "daemon/ncp_stim_box.h"
#include "models/base/ncp_json.h"
#include "models/emu/ncp_cpn.h"
#include "shm/ncp_shm_writer.h"

/* ncp.model auto: this name in data_dir, with ".safetensors". */
#define NCP_COPROC_AUTO_NAME "cpn"
/* Seconds of simulated time the restored mean end error covers. */
#define NCP_COPROC_RECENT_S 60.0

struct ncp_coproc_params {
	double dt;
	int electrodes, rec;		/* E (stim.electrodes), R */
	int joints;			/* the arm's, J (0: 2); a CPN takes 2 */
	double stim_max;
	bool lockstep;			/* free-run: ncp_coproc_step */
	int priority;			/* SCHED_FIFO of the thread; 0: normal */
	int cpu;			/* -1: not pinned */
	int loop_cpu;			/* the loop's (rt.cpu), -1: none; not
					 * pinned, the thread keeps off it */
	bool explore;			/* explore while training */
	struct ncp_explore_params xp;
	double warm_sd;			/* warm-up perturbation sd / alpha_max */
	bool on;			/* drive the electrodes once loaded */
	/* Why the CPN may not drive the electrodes ("": it may), e.g. the
	 * oracle is the stimulation source. */
	char refuse_on[128];
};

struct ncp_coproc;

struct ncp_coproc *ncp_coproc_new(const struct ncp_coproc_params *p,
				  struct ncp_shm_writer *shm,
				  struct ncp_stim_box *box, char *err,
				  size_t errlen);
/* Stop the thread (if any) and free every model. */
void ncp_coproc_free(struct ncp_coproc *c);
/* Real time: start following the window.  0 or -errno. */
int ncp_coproc_start(struct ncp_coproc *c);
void ncp_coproc_stop(struct ncp_coproc *c);

/* Load a CPN file and offer it; `label` names it.  A file that does not
 * fit this daemon is refused with the reason (-EINVAL) and the model in
 * use stays.  Not for the loop thread. */
int ncp_coproc_load(struct ncp_coproc *c, const char *path, const char *label,
		    char *err, size_t errlen);
/* Offer a model object (the trainer's first model); owned from now on. */
int ncp_coproc_offer(struct ncp_coproc *c, struct ncp_cpn_model *m,
		     const char *label, char *err, size_t errlen);
/* New weights for the model in use (the trainer): copied into its spare
 * and swapped in at the next step, if the model in use is still the one
 * of generation `gen` (ncp_coproc_clone_model).  -EBUSY when the previous
 * ones were not taken yet, -EINVAL when they do not fit, -ENOENT without
 * a model, -ESTALE when another model was offered since (a load).  One
 * thread offers weights. */
int ncp_coproc_offer_weights(struct ncp_coproc *c,
			     const struct ncp_cpn_model *src, uint64_t gen);
/* The generation of the newest model offered (ncp_coproc_offer, a load
 * or a CPN from scratch; weights do not count): 0 before any. */
uint64_t ncp_coproc_generation(const struct ncp_coproc *c);
/* A copy of the weights in use (NULL when none), its label and, when gen
 * is not NULL, the generation of the model they are in. */
struct ncp_cpn_model *ncp_coproc_clone_model(struct ncp_coproc *c,
					     char *label, size_t len,
					     uint64_t *gen);

/* Drive the electrodes or stop.  On needs a model (loaded or offered):
 * -ENOENT otherwise, and -EPERM when the configuration does not allow it
 * (refuse_on); the state stays as it was on error. */
int ncp_coproc_set_on(struct ncp_coproc *c, bool on, char *err, size_t errlen);
bool ncp_coproc_on(const struct ncp_coproc *c);
/* Whether the CPN may drive the electrodes here: 0, or -EPERM with the
 * reason (refuse_on). */
int ncp_coproc_may_drive(const struct ncp_coproc *c, char *err, size_t errlen);
/* Whether a lesion is in force (as the loop last said). */
bool ncp_coproc_lesioned(const struct ncp_coproc *c);
/* Whether a model is there (offered or in use). */
bool ncp_coproc_loaded(const struct ncp_coproc *c);
/* Training online: exploration applies (ncp.explore) and the block says
 * so.  Any thread. */
void ncp_coproc_set_train(struct ncp_coproc *c, bool on);
/* The trainer's warm-up (until its first weights are offered): the
 * exploration is the CPN perturbed by warm_sd in every block. */
void ncp_coproc_set_warm(struct ncp_coproc *c, bool warm);
/* The trainer's newest figures, for the block (any thread). */
void ncp_coproc_set_losses(struct ncp_coproc *c, double task_loss,
			   double en_loss, uint64_t updates,
			   uint64_t rollbacks);
/* The lesion in force (the loop, when it changes): enum ncp_lesion_kind. */
void ncp_coproc_set_lesion(struct ncp_coproc *c, int kind);

/* Training samples (the online trainer's, ncp_cpn_online.h): from now on
 * the computing thread pushes one every `every` steps into q (a
 * single-producer queue of NCP_COPROC_SAMPLE_FLOATS(R, E) floats a
 * record; a full queue drops the sample and counts it): the observation
 * before step t (R + 6), alpha after step t (E), the target of step t (2),
 * the arm state after step t + horizon - 1 (6), the drive that set step
 * t's theta (enum ncp_explore_drive) and 1 when the step was healthy (no
 * lesion, CPN off), else 0.  Only healthy steps and steps with a lesion
 * the CPN drove are sampled.  Call before start (or lockstep's first
 * step). */
#define NCP_COPROC_SAMPLE_FLOATS(R, E) ((R) + 6 + (E) + 2 + 6 + 2)
struct ncp_spsc;
void ncp_coproc_set_sink(struct ncp_coproc *c, struct ncp_spsc *q,
			 int horizon, int every);

/* Lockstep: the observation of the step the loop just simulated, laid out
 * as in a window slot: rec[R], arm[6], target[2], alpha[E]. */
void ncp_coproc_step(struct ncp_coproc *c, uint64_t step, const float *obs);

/* Real time, the loop thread right after publishing `step` (its window
 * slot, published at t_ns) with its observation obs: when the
 * co-processor thread is not watching for the step and does not hold the
 * state, compute its theta here.  Never waits, locks or allocates; costs
 * a CPN step (a few us) only when it computes, a few atomic loads
 * otherwise.  A no-op in lockstep and while the CPN is off. */
void ncp_coproc_fallback(struct ncp_coproc *c, uint64_t step, const float *obs,
			 uint64_t t_ns);

/* Tests: hold the thread (it computes nothing, as if its CPU stalled). */
void ncp_coproc_hold(struct ncp_coproc *c, bool hold);

/* The summary's "ncp" object; once stopped. */
void ncp_coproc_json(const struct ncp_coproc *c, struct ncp_json *j);

#endif
