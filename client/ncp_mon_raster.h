/* ncp_mon_raster: bin a copy of the M1 window into a heat map.
 *
 * The window (ncp_shm_reader_window: `nsteps` slot copies, oldest first,
 * `stride` bytes apart) is cut into a grid: rows are groups of
 * consecutive neurons (row r holds neurons i with floor(i * rows /
 * neurons) == r), columns are groups of consecutive steps, oldest on the
 * left (step s of the copy goes to column floor(s * cols / nsteps)).
 * Each cell counts the spikes in it; a cell's firing rate is its count
 * over its neurons x steps x dt.  A grid wider or taller than the data
 * shrinks to one column per step or one row per neuron (used_cols,
 * used_rows).
 *
 * Pure computation; the raster owns its arrays.
 */
#ifndef NCP_MON_RASTER_H
#define NCP_MON_RASTER_H

#include <stddef.h>
#include <stdint.h>

struct ncp_mon_raster {
	int rows, cols;           /* capacity */
	int used_rows, used_cols; /* of the last ncp_mon_raster_bin() */
	uint32_t *counts;         /* used_rows x used_cols, row-major */
	uint32_t *row_neurons;    /* neurons in each row */
	uint32_t *col_steps;      /* steps in each column */
	uint32_t *col_spikes;     /* spikes in each column, all neurons */
	uint32_t max_step_spikes; /* most spikes in one step */
	uint64_t total;           /* spikes in the window */
	uint32_t steps, neurons;  /* binned */
};

/* A raster of at most rows x cols cells; NULL for sizes < 1 or out of
 * memory. */
struct ncp_mon_raster *ncp_mon_raster_new(int rows, int cols);
void ncp_mon_raster_free(struct ncp_mon_raster *r);

/* Bin nsteps window slot copies of `neurons` neurons (see above).
 * nsteps 0 gives an empty raster.  Returns 0, or -EINVAL when neurons is
 * 0 or stride too small for them. */
int ncp_mon_raster_bin(struct ncp_mon_raster *r, const void *win,
		       size_t stride, uint32_t nsteps, uint32_t neurons);

/* Firing rate of a cell, Hz (0 for an empty cell or dt <= 0). */
double ncp_mon_raster_rate(const struct ncp_mon_raster *r, int row, int col,
			   double dt);

/* The shade of a firing rate on a scale of `levels` (>= 2) steps: 0 for
 * no spikes, 1 below NCP_MON_RASTER_BASE_HZ, then one level per
 * doubling, the top level holding everything above. */
#define NCP_MON_RASTER_BASE_HZ 5.0
int ncp_mon_raster_level(double rate_hz, int levels);

/* The rate at which `level` starts (0 for levels 0 and 1). */
double ncp_mon_raster_level_floor(int level);

#endif
