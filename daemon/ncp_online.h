/* ncp_online: trains the emulator while the loop runs.
 *
 * It keeps a replay buffer of the recent steps (M1 spikes and arm states,
 * emulator.replay seconds of them), trains a working copy of the model on
 * minibatches of it with Adam, holds out recent blocks of time for
 * validation, and hands new weights to the emulator (which swaps them in
 * at a step boundary) only when their validation loss is no worse than
 * that of the weights in use.  A loss or gradient that is not finite, or
 * a loss that explodes, rolls the working copy back to the weights in use
 * and is counted (the daemon logs it).
 *
 * Real time: its own thread, at the normal scheduling policy, reads the
 * steps from the shared-memory rings and trains as fast as the CPU left
 * over by the loop and the emulator allows (both preempt it).  Free-run
 * (lockstep): the loop hands it every step and it takes one minibatch
 * step every `lockstep_every` steps, so the run stays deterministic.
 *
 * Memory: the replay buffer is allocated whole when training first starts
 * and never grows: room for replay x 1.1 steps and 32 spikes a step on
 * average; its oldest steps are dropped in place when it is full (down to
 * the replay length, fewer seconds when M1 fires more densely), and the
 * trainer's running-filter checkpoints (one every window steps) are
 * rebuilt then (docs/tuning.md, "Memory").
 *
 * Starting from no model (emulator.model none), the first model is built
 * once `warmup` seconds of data are in: input and output normalisation
 * from them, weights from the seed.
 */
#ifndef NCP_ONLINE_H
#define NCP_ONLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ncp_emulator.h"
#include "models/arm/ncp_arm.h"
#include "models/base/ncp_json.h"
#include "shm/ncp_shm_writer.h"

struct ncp_online_params {
	int m1_neurons;
	double dt;
	bool lockstep;
	int lockstep_every;		/* free-run: steps per minibatch step */
	char arch[32];			/* for a model built from scratch */
	double replay;			/* s of steps trained on */
	double warmup;			/* s of data before the first model */
	double lr;
	int batch;
	uint64_t seed;
	double val_every;		/* s (of training time) between validations */
	int joints;			/* the arm's links (0: 2) */
};

struct ncp_online_status {
	bool enabled;
	uint64_t updates, swaps, rollbacks;
	double loss, val_loss;		/* latest; NaN before the first */
	uint64_t rows;			/* steps in the replay buffer */
	uint64_t missed;		/* steps lost from the ring (real time) */
	uint64_t bytes;			/* allocated for the replay buffer and
					 * the trainer's checkpoints */
	char last_rollback[128];
};

struct ncp_online;

struct ncp_online *ncp_online_new(const struct ncp_online_params *p,
				  struct ncp_emulator *emu,
				  struct ncp_shm_writer *shm, bool enabled,
				  char *err, size_t errlen);
void ncp_online_free(struct ncp_online *o);
/* Real time: start the thread.  0 or -errno. */
int ncp_online_start(struct ncp_online *o);
void ncp_online_stop(struct ncp_online *o);

/* train on / train off (any thread but the loop's).  Off returns once a
 * training round in progress has ended (a minibatch step, with at times a
 * validation or a trim of the replay buffer): from then on no update is
 * made and the replay buffer does not grow. */
void ncp_online_enable(struct ncp_online *o, bool on);
bool ncp_online_enabled(const struct ncp_online *o);

/* Lockstep: the step the loop just simulated. */
void ncp_online_step(struct ncp_online *o, uint64_t step,
		     const uint32_t *spikes, int n, const struct ncp_arm_state *arm);

/* Fault injection (tests): the next minibatch step finds a NaN in the
 * working weights, as a numerical blow-up would leave it. */
void ncp_online_inject_nan(struct ncp_online *o);

void ncp_online_status(struct ncp_online *o, struct ncp_online_status *s);
/* The summary's "training" object; once stopped. */
void ncp_online_json(struct ncp_online *o, struct ncp_json *j);

#endif
