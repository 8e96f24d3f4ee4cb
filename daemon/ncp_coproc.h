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
 *    does (ncp_follow.h).  A backlog (the thread was held up) is read
 *    whole, for the reach statistics, but only the newest step gets a
 *    theta; the others count as skipped.
 *  - lockstep (free-run): the loop calls ncp_coproc_step after each step,
 *    so the run is deterministic.
 *
 * Exploration (while training online, ncp.explore > 0): ncp_explore.h,
 * in blocks of ncp.explore_block seconds the CPN as it is (10%), its
 * electrode target perturbed (60%) or white noise (30%).
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
	double stim_max;
	bool lockstep;			/* free-run: ncp_coproc_step */
	int priority;			/* SCHED_FIFO of the thread; 0: normal */
	int cpu;			/* -1: not pinned */
	bool explore;			/* explore while training */
	struct ncp_explore_params xp;
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
 * and swapped in at the next step.  -EBUSY when the previous ones were
 * not taken yet, -EINVAL when they do not fit, -ENOENT without a model.
 * One thread offers weights. */
int ncp_coproc_offer_weights(struct ncp_coproc *c,
			     const struct ncp_cpn_model *src);
/* A copy of the weights in use (NULL when none) and its label. */
struct ncp_cpn_model *ncp_coproc_clone_model(struct ncp_coproc *c,
					     char *label, size_t len);

/* Drive the electrodes or stop.  On needs a model (loaded or offered):
 * -ENOENT otherwise, and -EPERM when the configuration does not allow it
 * (refuse_on); the state stays as it was on error. */
int ncp_coproc_set_on(struct ncp_coproc *c, bool on, char *err, size_t errlen);
bool ncp_coproc_on(const struct ncp_coproc *c);
/* Whether a model is there (offered or in use). */
bool ncp_coproc_loaded(const struct ncp_coproc *c);
/* Training online: exploration applies (ncp.explore) and the block says
 * so.  Any thread. */
void ncp_coproc_set_train(struct ncp_coproc *c, bool on);
/* The trainer's newest figures, for the block (any thread). */
void ncp_coproc_set_losses(struct ncp_coproc *c, double task_loss,
			   double en_loss, uint64_t updates,
			   uint64_t rollbacks);
/* The lesion in force (the loop, when it changes): enum ncp_lesion_kind. */
void ncp_coproc_set_lesion(struct ncp_coproc *c, int kind);

/* Lockstep: the observation of the step the loop just simulated, laid out
 * as in a window slot: rec[R], arm[6], target[2], alpha[E]. */
void ncp_coproc_step(struct ncp_coproc *c, uint64_t step, const float *obs);

/* Tests: hold the thread (it computes nothing, as if its CPU stalled). */
void ncp_coproc_hold(struct ncp_coproc *c, bool hold);

/* The summary's "ncp" object; once stopped. */
void ncp_coproc_json(const struct ncp_coproc *c, struct ncp_json *j);

#endif
