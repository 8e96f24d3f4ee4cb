/* ncp_loop: the daemon's real-time loop thread.  Each tick it applies the
 * commands queued for it, advances the simulation one step (unless
 * paused) and publishes the step into shared memory: M1 spikes into the
 * window ring, the state block, the arm history, and every
 * NCP_LOOP_STATS_EVERY steps the timing statistics.  In real time it then
 * predicts the step itself when the emulator thread is not there to
 * (ncp_emulator_fallback: a try, never a wait).
 *
 * After start-up the loop thread never allocates, locks, blocks (but in
 * its clock sleep), prints or makes a system call other than the sleep,
 * and once, when it ends, a write to done_fd (an eventfd opened
 * non-blocking: the write cannot wait).  Other threads see its progress
 * through the shared-memory segment and the atomic counters below, and
 * its end by `finished` or by done_fd becoming readable (poll it to wake
 * on the end instead of polling `finished` on a timer).
 */
#ifndef NCP_LOOP_H
#define NCP_LOOP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/ncp_coproc.h"
#include "daemon/ncp_cpn_online.h"
#include "daemon/ncp_emulator.h"
#include "daemon/ncp_online.h"
#include "daemon/ncp_recorder.h"
#include "daemon/ncp_rt.h"
#include "daemon/ncp_spsc.h"
#include "daemon/ncp_sim.h"
#include "daemon/ncp_stim_box.h"
#include "models/base/ncp_json.h"
#include "shm/ncp_shm_writer.h"

#define NCP_LOOP_STATS_EVERY 250 /* steps between stats publications */
#define NCP_LOOP_CMD_QUEUES 2	/* producers: control thread, main thread */
#define NCP_LOOP_CMDS_PER_TICK 16

/* What other threads ask of the loop; applied at a step boundary. */
enum ncp_loop_cmd_kind {
	NCP_LOOP_TARGET,	/* manual target xy (the task becomes manual) */
	NCP_LOOP_TASK,		/* a new task from the next step */
	NCP_LOOP_PAUSE,
	NCP_LOOP_RESUME,
	NCP_LOOP_RESET,		/* arm to the start, filters cleared */
	NCP_LOOP_LESION,	/* lesion_kind, lesion_fraction (and oracle_k) */
	NCP_LOOP_FIELD,		/* field */
};

struct ncp_loop_cmd {
	enum ncp_loop_cmd_kind kind;
	double xy[2];
	struct ncp_task_params task;
	int lesion_kind;	/* enum ncp_lesion_kind */
	double lesion_fraction;
	struct ncp_field_params field;
	/* With a lesion, when the stimulation source is the oracle: the slot
	 * of oracle_k holding its map refitted for the new lesion
	 * (ncp_loop_oracle_slot), put in force at the same step boundary as
	 * the lesion; -1: none. */
	int oracle_slot;
};

/* Room for oracle maps on their way to the loop: a sender writes a map
 * into the slot ncp_loop_oracle_slot gives it, then queues the lesion
 * command naming it. */
#define NCP_LOOP_ORACLE_SLOTS 4

struct ncp_loop {
	struct ncp_sim *sim;
	struct ncp_shm_writer *shm;
	struct ncp_recorder *recorder;	/* may be NULL */
	struct ncp_emulator *emulator;	/* may be NULL */
	bool emulator_lockstep;		/* free-run: the loop runs it */
	struct ncp_online *online;	/* may be NULL */
	struct ncp_coproc *coproc;	/* may be NULL */
	bool coproc_lockstep;		/* free-run: the loop runs it */
	struct ncp_cpn_online *cpn_online; /* may be NULL; lockstep only */
	struct ncp_rt_params rtp;
	uint64_t max_steps;	/* stop after this many steps; 0: never */
	uint64_t pause_at;	/* pause before this step (once); 0: never */

	/* Set by other threads. */
	_Atomic bool stop;
	/* Commands in: one single-producer queue per producing thread. */
	struct ncp_spsc *cmdq[NCP_LOOP_CMD_QUEUES];
	/* Electrode commands in (ncp_stim_box.h): the newest theta; one
	 * mailbox per writer: the control thread's commands, the
	 * co-processor's thetas (the newer wins at a boundary). */
	struct ncp_stim_box *stim_box;
	struct ncp_stim_box *ncp_box;
	/* Oracle maps in (control thread only): slot n % NCP_LOOP_ORACLE_SLOTS
	 * of oracle_k for the n-th map; the loop counts the maps it applied
	 * in oracle_applied, so a slot is written only after the loop is
	 * done with it. */
	double (*oracle_k)[2 * NCP_STIM_MAX_ELECTRODES];
	uint64_t oracle_sent;
	_Atomic uint64_t oracle_applied;

	/* Read by other threads while the loop runs. */
	_Atomic bool started, finished;
	int done_fd;		/* eventfd, readable once `finished` is set */
	_Atomic uint64_t pub_steps, pub_slips, pub_overruns, pub_behind_ns;
	/* The lesion in force: kind << 32 | neurons hit. */
	_Atomic uint64_t pub_lesion;

	/* Set by the loop thread before `started`. */
	bool fifo;		/* SCHED_FIFO in effect */
	char rt_warning[256];	/* what real-time set-up could not do */

	/* The loop thread's own (read by others only after `finished`). */
	struct ncp_rt_clock clock;
	bool paused;
	bool stim_once;		/* the theta in force is for one step */
	float *stim_zero;	/* NCP_STIM_MAX_ELECTRODES zeros */
	/* The theta applied in the last step, as floats (the emulator's
	 * stimulation input); NCP_STIM_MAX_ELECTRODES */
	float *theta_f;
	/* The step's observation as a window slot carries it: rec[R],
	 * arm[6], target[2], alpha[E]. */
	float *obs;
	int obs_rec;
	struct ncp_shm_state state;
	struct ncp_shm_stats stats;
	struct ncp_shm_stim stim_pub;	/* the stim block's scalars */
	long page_faults;	/* the loop's own, once it ran (summary) */
};

/* Prepare (nothing runs yet).  shm may be NULL (no publication).  Allocates
 * the command queues and opens done_fd: 0 or -errno. */
int ncp_loop_init(struct ncp_loop *l, struct ncp_sim *sim,
		  struct ncp_shm_writer *shm, const struct ncp_rt_params *rtp,
		  uint64_t max_steps);
void ncp_loop_fini(struct ncp_loop *l);
/* Queue a command from producer `q` (one thread per q).  false when the
 * queue is full (the loop is not keeping up with commands). */
bool ncp_loop_send(struct ncp_loop *l, int q, const struct ncp_loop_cmd *c);
/* The slot for the next oracle map (its 2 E values go in
 * l->oracle_k[slot]), or -1 when the loop has not yet applied the map
 * that slot held.  Then ncp_loop_send a lesion command with
 * oracle_slot = slot, which must succeed before the next call.  One
 * sending thread. */
int ncp_loop_oracle_slot(struct ncp_loop *l);
/* A lesion command with an oracle map could not be queued: the slot is
 * free again. */
void ncp_loop_oracle_unsent(struct ncp_loop *l);
/* The thread body: pthread_create(&t, NULL, ncp_loop_thread, loop). */
void *ncp_loop_thread(void *loop);
/* The loop's figures for the summary: overruns, slips, jitter_us,
 * cost_us, late_wakeups, catchup_steps, max_behind_ms, mode, sched. */
void ncp_loop_json(const struct ncp_loop *l, struct ncp_json *j);

#endif
