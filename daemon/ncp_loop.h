/* ncp_loop: the daemon's real-time loop thread.  Each tick it applies the
 * commands queued for it, advances the simulation one step (unless
 * paused) and publishes the step into shared memory: M1 spikes into the
 * window ring, the state block, the arm history, and every
 * NCP_LOOP_STATS_EVERY steps the timing statistics.
 *
 * After start-up the loop thread never allocates, locks, blocks (but in
 * its clock sleep), prints or makes a system call other than the sleep.
 * Other threads see its progress through the shared-memory segment and
 * the atomic counters below.
 */
#ifndef NCP_LOOP_H
#define NCP_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/ncp_rt.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_json.h"
#include "shm/ncp_shm_writer.h"

#define NCP_LOOP_STATS_EVERY 250 /* steps between stats publications */

struct ncp_loop {
	struct ncp_sim *sim;
	struct ncp_shm_writer *shm;
	struct ncp_rt_params rtp;
	uint64_t max_steps;	/* stop after this many steps; 0: never */

	/* Set by other threads. */
	_Atomic bool stop;

	/* Read by other threads while the loop runs. */
	_Atomic bool started, finished;
	_Atomic uint64_t pub_steps, pub_slips, pub_overruns, pub_behind_ns;

	/* Set by the loop thread before `started`. */
	bool fifo;		/* SCHED_FIFO in effect */
	char rt_warning[256];	/* what real-time set-up could not do */

	/* The loop thread's own (read by others only after `finished`). */
	struct ncp_rt_clock clock;
	bool paused;
	struct ncp_shm_state state;
	struct ncp_shm_stats stats;
};

/* Prepare (nothing runs yet).  shm may be NULL (no publication). */
void ncp_loop_init(struct ncp_loop *l, struct ncp_sim *sim,
		   struct ncp_shm_writer *shm, const struct ncp_rt_params *rtp,
		   uint64_t max_steps);
/* The thread body: pthread_create(&t, NULL, ncp_loop_thread, loop). */
void *ncp_loop_thread(void *loop);
/* The loop's figures for the summary: overruns, slips, jitter_us,
 * cost_us, late_wakeups, catchup_steps, max_behind_ms, mode, sched. */
void ncp_loop_json(const struct ncp_loop *l, struct ncp_json *j);

#endif
