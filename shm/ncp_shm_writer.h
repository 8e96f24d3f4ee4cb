/* ncp_shm_writer: creates the shared-memory segment and publishes into it.
 * Used by the daemon only; readers use ncp_shm_reader.h.
 *
 * Creation (ncp_shm_writer_new) makes a POSIX shm object with O_CREAT |
 * O_EXCL, mode 0640 whatever the umask, sizes it, maps it, touches and
 * locks every page, fills the header with a fresh generation and holds an
 * exclusive flock() on it for the writer's lifetime (the kernel drops it
 * when the process dies, so a later daemon can tell a live owner from a
 * dead one).  An existing segment of the same name is replaced when it is
 * stale (its state is stopped, or no process holds its lock: the daemon
 * died) or left empty by a creation that crashed; one held by a live
 * daemon, or one that is not an ncpd segment, is refused with a message
 * that names the segment (and the owner's pid).
 *
 * Threads: each block has a single writer.  The loop thread calls
 * set_obs, push_spikes, put_state, put_stim, push_arm and put_stats; the
 * emulator thread put_predicted; the training thread push_train; the
 * co-processor put_ncp.  These do no syscall, no
 * allocation, never wait.  Costs measured by bench_shm (make bench; 1000
 * neurons, ~14 spikes a step, 0 to 4 reader processes copying windows
 * back to back), back to back / once a millisecond as the loop calls them
 * (cache lines cold, taken back from the readers):
 *   push_spikes   30-70 ns / median 0.2-0.7 us, p99 1.1-3 us
 *   put_state     ~10 ns   / median 30-110 ns, p99 0.5-0.75 us
 *   push_arm      ~10 ns   / median 10-70 ns, p99 0.4-0.5 us
 *   put_stim      median 110-120 ns paced (16 electrodes)
 * (the spread is between runs on a quiet and a loaded machine).
 *   put_stats, put_predicted, push_train: the same kind of word copies
 *   (448, 256 and 64 bytes).
 * Readers never write to the segment, so their number only changes which
 * cache lines the writer has to take back.
 */
#ifndef NCP_SHM_WRITER_H
#define NCP_SHM_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/ncp_shm.h"

#define NCP_SHM_DEFAULT_WINDOW_LEN 100
#define NCP_SHM_DEFAULT_ARM_SLOTS 4096
#define NCP_SHM_DEFAULT_TRAIN_SLOTS 1024

/* Zero fields take the defaults given. */
struct ncp_shm_writer_config {
	const char *name;      /* "/name", NULL: NCP_SHM_DEFAULT_NAME */
	double dt;             /* simulation step, s; 0: 0.001 */
	uint32_t m1_neurons;   /* 1 .. NCP_SHM_MAX_NEURONS; 0: 1000 */
	uint32_t window_len;   /* 0: 100 */
	uint32_t window_slots; /* power of two >= window_len + 16; 0: the
				* smallest power of two >= window_len + 128
				* (256 for 100) */
	uint32_t arm_slots;    /* power of two; 0: 4096 */
	uint32_t train_slots;  /* power of two; 0: 1024 */
	double arm_links[2];   /* the arm's link lengths, m; 0: not given */
	uint32_t arm_joints;   /* 2 or 3; 0: 2 */
	double arm_link_hand;  /* 3 joints: the third link, m */
	uint32_t stim_electrodes; /* E of the stim block, 0 .. 256 (0: none) */
	uint32_t rec_electrodes; /* R of the window slots' observation, 0 ..
				  * 256 (0: no observation) */
	bool require_lock;     /* fail if mlock() fails (else only report it
				* through ncp_shm_writer_locked) */
};

struct ncp_shm_writer;

/* Create the segment (state STARTING).  Returns NULL with a message in err
 * and errno set: EEXIST (a live daemon owns the name, or it is not an
 * ncpd segment), EINVAL (bad config), or the failing call's errno. */
struct ncp_shm_writer *ncp_shm_writer_new(const struct ncp_shm_writer_config *cfg,
					  char *err, size_t errlen);

/* Clean exit: mark the segment stopped, unlink its name (if it still names
 * this segment), unmap, release the lock.  NULL is a no-op. */
void ncp_shm_writer_free(struct ncp_shm_writer *w);

/* Set the header's state word (STARTING, RUNNING, STOPPED). */
void ncp_shm_writer_set_state(struct ncp_shm_writer *w,
			      enum ncp_shm_state_word state);

/* Push step `step`'s M1 spikes: n neuron indices (each < m1_neurons, in
 * any order) and optional stimulation (nstim <= NCP_SHM_STIM_CHANNELS
 * values, or NULL/0).  Steps go in order from 0: step must equal the
 * number of steps pushed so far.  Returns 0, or -EINVAL (nothing written)
 * for a step out of order, a neuron out of range or too many channels. */
int ncp_shm_writer_push_spikes(struct ncp_shm_writer *w, uint64_t step,
			       const uint32_t *idx, uint32_t n,
			       const float *stim, uint32_t nstim);

/* The observation the next push_spikes publishes with its step (ABI 1.4):
 * rec (R values), arm (2 J + 2), target (2) and alpha (E, the config's
 * stim_electrodes); NULL: zeros.  A no-op without rec_electrodes. */
void ncp_shm_writer_set_obs(struct ncp_shm_writer *w, const float *rec,
			    const float *arm, const float target[2],
			    const float *alpha);

/* Publish the state block (its seq field is ignored). */
void ncp_shm_writer_put_state(struct ncp_shm_writer *w,
			      const struct ncp_shm_state *s);

/* Publish the stim block: s's scalar fields (seq, electrodes,
 * theta_max_abs and alpha_max_abs are set here) and theta, alpha (E doubles
 * each, E = the config's stim_electrodes; NULL: zeros).  Loop thread. */
void ncp_shm_writer_put_stim(struct ncp_shm_writer *w,
			     const struct ncp_shm_stim *s, const double *theta,
			     const double *alpha);

/* Append to the arm history (seq ignored). */
void ncp_shm_writer_push_arm(struct ncp_shm_writer *w,
			     const struct ncp_shm_arm_entry *e);

/* Publish the loop statistics (seq ignored; jitter_bins is set). */
void ncp_shm_writer_put_stats(struct ncp_shm_writer *w,
			      const struct ncp_shm_stats *s);

/* Publish a prediction (seq ignored; model is NUL-terminated here). */
void ncp_shm_writer_put_predicted(struct ncp_shm_writer *w,
				  const struct ncp_shm_predicted *p);

/* Publish the co-processor block (seq ignored; model is NUL-terminated
 * here). */
void ncp_shm_writer_put_ncp(struct ncp_shm_writer *w,
			    const struct ncp_shm_ncp *n);

/* Append to the training history (seq ignored). */
void ncp_shm_writer_push_train(struct ncp_shm_writer *w,
			       const struct ncp_shm_train_entry *e);

/* The mapping (for an in-process reader: ncp_shm_reader_from_mem). */
const void *ncp_shm_writer_base(const struct ncp_shm_writer *w);
size_t ncp_shm_writer_size(const struct ncp_shm_writer *w);
uint64_t ncp_shm_writer_generation(const struct ncp_shm_writer *w);
const char *ncp_shm_writer_name(const struct ncp_shm_writer *w);
/* Whether mlock() succeeded on the segment. */
bool ncp_shm_writer_locked(const struct ncp_shm_writer *w);
/* CLOCK_MONOTONIC ns at which the last step was pushed (its slot's t_ns);
 * writer thread only. */
uint64_t ncp_shm_writer_last_ns(const struct ncp_shm_writer *w);
/* Steps pushed so far (the window ring's head); writer thread only. */
uint64_t ncp_shm_writer_steps(const struct ncp_shm_writer *w);

#endif
