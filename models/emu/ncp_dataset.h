/* ncp_dataset: what the emulator trains on: segments of consecutive steps
 * (a recording, or a stretch of a running simulation), each step's M1
 * spikes as a list of indices, its stimulation values and its arm state.
 *
 * A row is a step, named by its index over all segments in order.  A row's
 * input is the history of its own segment up to it (never a neighbouring
 * segment's steps); its target is the arm state of that step, NaN where
 * unknown (masked in training).  Rows need a full window of history:
 * ncp_dataset_row_ok.
 *
 * Spikes take 4 bytes each (600 s of M1 at 16 spikes a step: 38 MB); no
 * dense window is ever built.
 */
#ifndef NCP_DATASET_H
#define NCP_DATASET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/emu/ncp_feat.h"

struct ncp_recording;
struct ncp_dataset;

/* An empty dataset for this many neurons and stimulation channels, of
 * an arm of 2 joints. */
struct ncp_dataset *ncp_dataset_new(int neurons, int stim);
void ncp_dataset_free(struct ncp_dataset *ds);
/* The arm's joints J (2 or 3; its state is 2 J + 2 values a step); only
 * while the dataset has no steps (adding a recording to an empty dataset
 * takes the recording's).  0, -EINVAL or -ENOMEM. */
int ncp_dataset_set_joints(struct ncp_dataset *ds, int joints);
int ncp_dataset_joints(const struct ncp_dataset *ds);

/* Start a new segment (name for messages, copied). 0 or -ENOMEM. */
int ncp_dataset_begin(struct ncp_dataset *ds, const char *name);
/* Append a step to the current segment: spike indices (ascending, <
 * neurons; others are refused with -EINVAL), nstim stimulation values (NULL:
 * zero), the arm state (2 J + 2 values, NaN where unknown).  0, -EINVAL,
 * -ENOMEM. */
int ncp_dataset_append(struct ncp_dataset *ds, const uint32_t *spikes, int n,
		       const float *stim, int nstim, const float *arm);
/* A recording as a new segment; its neurons must match.  0 or -errno with
 * a message. */
int ncp_dataset_add_recording(struct ncp_dataset *ds,
			      const struct ncp_recording *r, char *err,
			      size_t errlen);

/* Room for `steps` steps holding `spikes` spikes in all, allocated and
 * written now (resident under locked memory): appending within it never
 * allocates.  Capacity never shrinks.  0 or -ENOMEM. */
int ncp_dataset_reserve(struct ncp_dataset *ds, uint64_t steps,
			uint64_t spikes);
/* Spikes in the rows before `row`. */
uint64_t ncp_dataset_spikes_before(const struct ncp_dataset *ds, uint64_t row);
/* Drop the oldest rows in place, keeping the allocations (a replay buffer
 * of bounded size): what remains is renumbered from row 0, segments
 * wholly dropped are gone and the first one left starts at its first kept
 * step. */
void ncp_dataset_drop_front(struct ncp_dataset *ds, uint64_t rows);
/* Bytes allocated for the data (steps, spikes, stimulation, segments). */
size_t ncp_dataset_bytes(const struct ncp_dataset *ds);

int ncp_dataset_neurons(const struct ncp_dataset *ds);
int ncp_dataset_stim(const struct ncp_dataset *ds);
uint64_t ncp_dataset_steps(const struct ncp_dataset *ds);
uint64_t ncp_dataset_spikes(const struct ncp_dataset *ds);
int ncp_dataset_segments(const struct ncp_dataset *ds);
/* Segment i: first row and length. */
void ncp_dataset_segment(const struct ncp_dataset *ds, int i, uint64_t *start,
			 uint64_t *len);
/* The segment holding a row. */
int ncp_dataset_segment_of(const struct ncp_dataset *ds, uint64_t row);

/* The row has `window` steps of its segment behind it (itself included). */
bool ncp_dataset_row_ok(const struct ncp_dataset *ds, uint64_t row,
			int window);
/* The arm state of a row (2 J + 2 floats). */
const float *ncp_dataset_arm(const struct ncp_dataset *ds, uint64_t row);
/* The arm state `horizon` steps after a row (2 J + 2 floats), or NULL when that
 * step is past the row's segment. */
const float *ncp_dataset_target(const struct ncp_dataset *ds, uint64_t row,
				int horizon);
/* The stimulation values of a row (stim floats), or NULL when zero. */
const float *ncp_dataset_stim_at(const struct ncp_dataset *ds, uint64_t row);
/* The spikes of a row. */
int ncp_dataset_spikes_at(const struct ncp_dataset *ds, uint64_t row,
			  const uint32_t **spk);

/* The len steps up to and including row, oldest first, as a feature window
 * (spk, n and stim each have room for len entries; steps before the
 * segment's start are empty). */
void ncp_dataset_view(const struct ncp_dataset *ds, uint64_t row, int len,
		      const uint32_t **spk, int *n, const float **stim,
		      struct ncp_feat_win *w);

/* Validation held out by blocks of time. */
struct ncp_dataset_split_opts {
	int window;		/* rows need a full window */
	int horizon;		/* and a target this many steps after them
				 * within their segment */
	double val_frac;	/* share of blocks held out (0: none) */
	uint64_t block;		/* rows per block */
	uint64_t gap;		/* training rows this close to a validation
				 * block are dropped (one window plus the
				 * horizon: no shared inputs or targets) */
};

/* Cut each segment's usable rows (a full window behind, the horizon's
 * target ahead) into blocks, hold out val_frac of them
 * (evenly spread over the data), drop the training rows within gap of a
 * validation block, and return both row lists in order (malloc'd; free()).
 * 0, or -EINVAL (message) when there are no usable rows. */
int ncp_dataset_split(const struct ncp_dataset *ds,
		      const struct ncp_dataset_split_opts *o, uint64_t **train,
		      size_t *ntrain, uint64_t **val, size_t *nval, char *err,
		      size_t errlen);

#endif
