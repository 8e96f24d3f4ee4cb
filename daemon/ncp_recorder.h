/* ncp_recorder: records a run into DATA_DIR/NAME/ as m1.npy, arm.npy,
 * target.npy, stim.npy, lesion.npy, pred.npy, rec.npy, alpha.npy and
 * meta.json
 * (docs/file-formats.md), off the real-time thread.  pred.npy holds the
 * emulator's prediction of each step (ncp_recorder_push_pred), NaN where
 * it made none.
 *
 * The loop hands each step over with ncp_recorder_push: a fixed-size
 * record into a single-producer queue, no system call, no waiting.  The
 * recorder's own thread turns records into rows and writes them through
 * io_uring, rewriting each file's row count about once a second (with
 * fdatasync) so a crash leaves valid files up to that point.  When the
 * disk is slower than the loop the queue fills and steps are dropped and
 * counted (their rows hold no spikes and NaN arm values); in free-run
 * mode the loop waits instead, so a free-run recording is complete.
 *
 * A recording ends on ncp_recorder_stop, when its duration runs out, on a
 * write error (a full disk: the recording stops with the error, the loop
 * goes on) or when the recorder is freed (daemon shutdown).  Ending writes
 * the final headers, fsyncs, renames NAME.npy.partial to NAME.npy and
 * writes meta.json with "complete": true.
 *
 * Threads: push from the loop thread; start, stop and status from one
 * controlling thread at a time (the control thread; a mutex serialises
 * them with the main thread at start-up); the recorder thread does the
 * rest.
 */
#ifndef NCP_RECORDER_H
#define NCP_RECORDER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/arm/ncp_arm.h"
#include "models/nef/ncp_probe.h"

struct ncp_recorder_params {
	const char *data_dir;
	int m1_neurons;
	double dt;
	uint32_t window;
	uint64_t seed, task_seed;
	const char *config_json;	/* the effective config, copied */
	bool lossless;			/* free-run: push waits instead of dropping */
	int stim_electrodes;		/* columns of stim.npy and alpha.npy
					 * (0 is taken as 1) */
	int rec_electrodes;		/* columns of rec.npy (0 is taken as 1) */
	/* The probe frame the loop fills each step (ncp_probe.h; not
	 * owned, outlives the recorder), or NULL: no probes. */
	const struct ncp_probe_frame *probe_frame;
	int arm_links;			/* the arm's (0: 2): arm.npy and
					 * pred.npy have 2 links + 2 columns */
};

struct ncp_recorder_status {
	bool active;			/* a recording is running */
	char name[160];
	uint64_t rows;			/* rows written (current or last) */
	uint64_t dropped;		/* steps dropped (current or last) */
	double seconds;			/* requested duration; 0: until stopped */
	char last_error[320];		/* why the last recording ended early */
	char last_path[4096];		/* directory of the last recording */
};

struct ncp_recorder;

struct ncp_recorder *ncp_recorder_new(const struct ncp_recorder_params *p,
				      char *err, size_t errlen);
/* Finish any recording (complete files) and stop the thread. */
void ncp_recorder_free(struct ncp_recorder *r);

/* Start recording into DATA_DIR/NAME/ from the next pushed step, for
 * `seconds` of simulated time (0: until stopped).  NAME must not exist.
 * Returns 0, or -errno with a message (-EBUSY: already recording,
 * -EEXIST, -EACCES for a name that leaves the data directory, ...). */
int ncp_recorder_start(struct ncp_recorder *r, const char *name,
		       double seconds, char *err, size_t errlen);
/* The same with probes (n of them, resolved against probe_frame): each
 * adds a file probe.NAME.KIND.npy (docs/file-formats.md).  -EINVAL when
 * probes are asked for and the recorder has no frame. */
int ncp_recorder_start_probes(struct ncp_recorder *r, const char *name,
			      double seconds, const struct ncp_probe *probes,
			      int n, char *err, size_t errlen);
/* Ask the running recording to end; the recorder thread finishes it
 * (ncp_recorder_status says when).  -ENOENT when none runs. */
int ncp_recorder_stop(struct ncp_recorder *r);
/* Wait until no recording is active (at most timeout seconds): 0 or
 * -ETIMEDOUT.  Not for the loop thread. */
int ncp_recorder_wait_idle(struct ncp_recorder *r, double timeout);
void ncp_recorder_status(struct ncp_recorder *r, struct ncp_recorder_status *s);

/* Loop thread: whether steps are wanted, and one step. */
bool ncp_recorder_active(const struct ncp_recorder *r);
/* Loop thread, before ncp_recorder_push: the step's electrode commands
 * (theta, stim_electrodes values) and lesion (kind, neurons hit); they
 * stay for the following pushes until set again. */
void ncp_recorder_set_stim(struct ncp_recorder *r, const double *theta,
			   int lesion_kind, int lesion_neurons);
/* Loop thread, before ncp_recorder_push: what the co-processor observes
 * after the step, the recording electrodes (rec_electrodes values) and
 * the electrode currents alpha (stim_electrodes values); they stay for
 * the following pushes until set again (zeros until first set). */
void ncp_recorder_set_obs(struct ncp_recorder *r, const float *rec,
			  const float *alpha);
/* Loop thread, before ncp_recorder_push: where to fill the step's probe
 * frame (ncp_probe_frame_fill), or NULL without a frame. */
void *ncp_recorder_probe_frame(struct ncp_recorder *r);
void ncp_recorder_push(struct ncp_recorder *r, uint64_t step,
		       const uint32_t *spikes, int n,
		       const struct ncp_arm_state *arm, const double target[2]);
/* The emulator's prediction from the window ending at `step` (q0, q1,
 * dq0, dq1, hand_x, hand_y), for the row of that step in pred.npy; it may
 * come before or after the step's ncp_recorder_push.  One thread at a
 * time: whichever holds the emulator's model state (the emulator thread
 * or the loop), the hand-over between them being a happens-before
 * (ncp_spsc.h's contract).  Never waits in real time: a prediction the
 * queue cannot take leaves its row NaN; in free-run (lossless) it waits
 * for the recorder as ncp_recorder_push does. */
void ncp_recorder_push_pred(struct ncp_recorder *r, uint64_t step,
			    const float *y);

#endif
