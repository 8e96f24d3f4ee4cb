/* ncp_recording: reads a recording directory (docs/file-formats.md):
 * meta.json, m1.npy, arm.npy, target.npy; when meta.json names
 * stim_electrodes, stim.npy; when it names rec_electrodes (the
 * co-processor's observation), rec.npy, alpha.npy and lesion.npy; all
 * checked against each other.
 *
 * Refused, with a message naming the directory or file and the fault: a
 * missing or unparsable meta.json, a format other than "ncpd-recording"
 * version 1, an unfinished recording ("complete": false), a missing
 * array, a dtype or shape that does not match meta.json (m1: steps x
 * m1_neurons of uint8, bool or float32; arm: steps x (2 J + 2) float32,
 * J = meta.json's arm_links (2 when absent); target: steps x 2 float32;
 * stim and alpha: steps x stim_electrodes float32; lesion: steps x 2
 * int32; rec: steps x rec_electrodes float32).  m1.npy is mapped, not
 * read, so long recordings cost
 * no memory until used.
 */
#ifndef NCP_RECORDING_H
#define NCP_RECORDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ncp_npy;

struct ncp_recording {
	char *dir;
	char *name;		/* meta.json's "name" (or the directory) */
	uint64_t steps;
	uint64_t first_step;
	uint64_t dropped_steps;	/* rows with no spikes and NaN arm values */
	double dt;
	int window;
	int neurons;
	uint64_t seed, task_seed;	/* 0 when absent */
	char *config_json;	/* meta.json's "config" object as JSON, or NULL */
	int joints;		/* the arm's links J: meta.json's arm_links, 2
				 * when absent */
	/* steps x (2 J + 2): q (J), dq (J), hand_x, hand_y; with 2 joints
	 * q0, q1, dq0, dq1, hand_x, hand_y */
	const float *arm;
	const float *target;	/* steps x 2 */
	/* steps x stim_channels: the electrode commands theta applied in each
	 * step (NaN in a dropped step); NULL and 0 in a recording made
	 * without stimulation electrodes */
	const float *stim;
	int stim_channels;
	/* steps x 2: the lesion in force (kind, neurons hit; -1 in a dropped
	 * step); read with rec (NULL without) */
	const int32_t *lesion;
	/* steps x rec_channels: the recording electrodes after each step (Hz),
	 * and steps x stim_channels: the electrode currents alpha after it
	 * (NaN in a dropped step); NULL and 0 in a recording made before
	 * they were recorded */
	const float *rec;
	int rec_channels;
	const float *alpha;
	/* private */
	struct ncp_npy *m1_npy, *arm_npy, *target_npy, *stim_npy, *lesion_npy;
	struct ncp_npy *rec_npy, *alpha_npy;
};

/* Open and check a recording.  NULL with a message (errno set). */
struct ncp_recording *ncp_recording_open(const char *dir, char *err,
					 size_t errlen);
void ncp_recording_close(struct ncp_recording *r);

/* The neurons that spiked in step `step` (< steps), ascending, into idx
 * (room for `neurons`); returns how many. */
int ncp_recording_spikes(const struct ncp_recording *r, uint64_t step,
			 uint32_t *idx);

/* The stimulation of step `step` into stim (room for stim_channels): the
 * recording's theta, 0 for a dropped step's NaN.  Returns stim_channels
 * (0 for a recording without stimulation). */
int ncp_recording_stim(const struct ncp_recording *r, uint64_t step,
		       float *stim);

#endif
