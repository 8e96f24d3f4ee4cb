/* ncp_emulator: the emulator network in the daemon.  After every step it
 * feeds the step's M1 spikes to the model (models/emu), predicts the arm's
 * state [q0, q1, dq0, dq1, hand_x, hand_y], publishes the prediction with
 * the step it belongs to into shared memory (the predicted block; the
 * predicted arm's hand is the forward kinematics of the predicted joint
 * angles) and scores it against the real arm.
 *
 * Two ways to run:
 *  - real time: its own thread follows the window in shared memory,
 *    watching the ring around the time each step is due.  When that
 *    thread is not watching when the loop publishes a step (it slept
 *    through, or its CPU stalled), the loop predicts the step itself
 *    (ncp_emulator_fallback), so a prediction is late only when the loop
 *    is.  The two hand the model state over through one atomic word and
 *    never both predict a step.  When the emulator falls far behind it
 *    feeds every missed step (so its filters stay exact) but predicts only
 *    the newest PREDICT_BACKLOG, and counts the predictions it skipped; it
 *    never holds up the loop.
 *  - lockstep (free-run): the loop calls ncp_emulator_step after each
 *    step, so every step is predicted and a free run is deterministic.
 *
 * Scoring: every predicted step with a full window behind the model (from
 * step window - 1 on) is scored against the arm, in both modes; in real
 * time a prediction waits for its step's arm entry in the ring.
 *
 * Models are offered by other threads (ncp_emulator_load: control thread
 * or main) and adopted at the next step; a model that does not fit (other
 * neuron count, corrupt file) is refused and the model in use stays.
 * Adopting feeds the new model the recent history from the window ring,
 * so its first predictions already see a full window.
 */
#ifndef NCP_EMULATOR_H
#define NCP_EMULATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/arm/ncp_arm.h"
#include "models/base/ncp_json.h"
#include "models/emu/ncp_emu.h"
#include "shm/ncp_shm_writer.h"

/* emulator.model auto: this name in data_dir, with ".safetensors" (the
 * model make run trains), when it is there. */
#define NCP_EMULATOR_AUTO_NAME "emulator"

struct ncp_emulator_params {
	double dt;
	int m1_neurons;
	bool lockstep;			/* free-run: ncp_emulator_step */
	int priority;			/* SCHED_FIFO of the thread; 0: normal */
	int cpu;			/* -1: not pinned */
	int loop_cpu;			/* the loop's (rt.cpu), -1: none; not
					 * pinned, the thread keeps off it */
	struct ncp_arm_params arm;
};

/* What the control thread reports (a recent, consistent copy, read
 * without a lock: the emulator thread never waits for a reader). */
struct ncp_emulator_status {
	bool loaded;
	char model[64];
	char arch[32];
	int horizon;			/* steps ahead */
	bool arm_input, residual;	/* the model's kind (docs/model-format.md) */
	uint64_t predictions, skipped;
	uint64_t fallbacks;		/* predictions the loop made itself */
	uint64_t scored;		/* predictions scored against the arm */
	double latency_p99_us;
	double hand_rmse_1s;		/* m, over the last second */
	double hand_rmse, q_rmse, dq_rmse; /* over the run */
	uint64_t checksum;		/* of the weights in use */
};

struct ncp_emulator;

struct ncp_emulator *ncp_emulator_new(const struct ncp_emulator_params *p,
				      struct ncp_shm_writer *shm, char *err,
				      size_t errlen);
/* Stop the thread (if any) and free every model. */
void ncp_emulator_free(struct ncp_emulator *e);
struct ncp_recorder;
/* Hand every prediction to the recorder too (its pred.npy); before
 * ncp_emulator_start, and before the loop runs. */
void ncp_emulator_set_recorder(struct ncp_emulator *e, struct ncp_recorder *r);

/* Real time: start following the window.  0 or -errno. */
int ncp_emulator_start(struct ncp_emulator *e);
void ncp_emulator_stop(struct ncp_emulator *e);

/* Load a model file and offer it; `label` names it in status.  Refuses a
 * model that cannot run here (-EINVAL with the reason); the model in use
 * stays.  Not for the loop thread. */
int ncp_emulator_load(struct ncp_emulator *e, const char *path,
		      const char *label, char *err, size_t errlen);

/* Offer a model object (the online trainer's first model); the emulator
 * owns it from now on.  Same checks as ncp_emulator_load. */
int ncp_emulator_offer(struct ncp_emulator *e, struct ncp_emu_model *m,
		       const char *label, char *err, size_t errlen);

/* New weights for the model in use, from the online trainer: copied into
 * the slot's spare model (same architecture and sizes) and swapped in by
 * the emulator at its next step, which keeps the input history.  -EBUSY
 * when the previous weights were not taken yet, -EINVAL when src does not
 * fit the model in use or there is none.  One thread offers weights. */
int ncp_emulator_offer_weights(struct ncp_emulator *e,
			       const struct ncp_emu_model *src);
/* A copy of the weights in use (NULL when none), consistent even while
 * the online trainer swaps weights; its `label` names the model. */
struct ncp_emu_model *ncp_emulator_clone_model(struct ncp_emulator *e,
					       char *label, size_t len);

/* Lockstep: the step the loop just simulated, the stimulation applied in
 * it (theta, nstim electrodes; NULL: none) and the arm after it. */
void ncp_emulator_step(struct ncp_emulator *e, uint64_t step,
		       const uint32_t *spikes, int n, const float *theta,
		       int nstim, const struct ncp_arm_state *arm);

/* Real time, the loop thread right after publishing `step` (its spikes
 * and arm entry): when the emulator thread is not watching for the step
 * and does not hold the model state, predict the step here and publish
 * it (and up to 3 older steps nobody fed yet).  Never waits, locks or
 * allocates; costs a prediction (about 10 us for the default mlp) only
 * when it predicts, a few atomic loads otherwise.  A no-op in lockstep. */
void ncp_emulator_fallback(struct ncp_emulator *e, uint64_t step);

/* Tests: hold the emulator thread (it takes no steps, as if its CPU had
 * stalled) or let it go again. */
void ncp_emulator_hold(struct ncp_emulator *e, bool hold);

/* The newest predicted hand (for the loop's arm history); false when
 * there is none.  Any thread; never waits. */
bool ncp_emulator_pred_hand(const struct ncp_emulator *e, float xy[2]);

void ncp_emulator_status(struct ncp_emulator *e, struct ncp_emulator_status *s);
/* The summary's "emulator" object; call once the emulator has stopped. */
void ncp_emulator_json(const struct ncp_emulator *e, struct ncp_json *j);

#endif
