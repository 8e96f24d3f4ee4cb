#include "client/ncp_mon_raster.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "shm/ncp_shm.h"

struct ncp_mon_raster *ncp_mon_raster_new(int rows, int cols)
{
	struct ncp_mon_raster *r;

	if (rows < 1 || cols < 1 || rows > 65536 || cols > 65536)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->rows = rows;
	r->cols = cols;
	r->counts = calloc((size_t)rows * (size_t)cols, sizeof(*r->counts));
	r->row_neurons = calloc((size_t)rows, sizeof(*r->row_neurons));
	r->col_steps = calloc((size_t)cols, sizeof(*r->col_steps));
	r->col_spikes = calloc((size_t)cols, sizeof(*r->col_spikes));
	if (!r->counts || !r->row_neurons || !r->col_steps || !r->col_spikes) {
		ncp_mon_raster_free(r);
		return NULL;
	}
	return r;
}

void ncp_mon_raster_free(struct ncp_mon_raster *r)
{
	if (!r)
		return;
	free(r->counts);
	free(r->row_neurons);
	free(r->col_steps);
	free(r->col_spikes);
	free(r);
}

int ncp_mon_raster_bin(struct ncp_mon_raster *r, const void *win,
		       size_t stride, uint32_t nsteps, uint32_t neurons)
{
	uint32_t words = ncp_shm_win_words(neurons);
	int rows, cols;

	if (neurons == 0 || stride < ncp_shm_win_copy_size(neurons))
		return -EINVAL;
	rows = neurons < (uint32_t)r->rows ? (int)neurons : r->rows;
	cols = nsteps < (uint32_t)r->cols ? (int)nsteps : r->cols;
	r->used_rows = rows;
	r->used_cols = cols;
	r->steps = nsteps;
	r->neurons = neurons;
	r->total = 0;
	r->max_step_spikes = 0;
	memset(r->counts, 0, (size_t)r->rows * (size_t)r->cols *
			     sizeof(*r->counts));
	memset(r->row_neurons, 0, (size_t)r->rows * sizeof(*r->row_neurons));
	memset(r->col_steps, 0, (size_t)r->cols * sizeof(*r->col_steps));
	memset(r->col_spikes, 0, (size_t)r->cols * sizeof(*r->col_spikes));
	for (uint32_t i = 0; i < neurons; i++)
		r->row_neurons[(uint64_t)i * (uint64_t)rows / neurons]++;
	for (uint32_t s = 0; s < nsteps; s++) {
		const struct ncp_shm_win_slot *slot =
			ncp_shm_win_at(win, stride, s);
		int col = (int)((uint64_t)s * (uint64_t)cols / nsteps);
		uint32_t n = 0;

		r->col_steps[col]++;
		for (uint32_t w = 0; w < words; w++) {
			uint64_t bits = slot->bits[w];

			while (bits) {
				uint32_t i = w * 64 + (uint32_t)__builtin_ctzll(bits);

				bits &= bits - 1;
				if (i >= neurons)
					break; /* bits past the last neuron */
				int row = (int)((uint64_t)i * (uint64_t)rows /
						neurons);
				r->counts[(size_t)row * (size_t)cols + (size_t)col]++;
				n++;
			}
		}
		r->col_spikes[col] += n;
		r->total += n;
		if (n > r->max_step_spikes)
			r->max_step_spikes = n;
	}
	return 0;
}

double ncp_mon_raster_rate(const struct ncp_mon_raster *r, int row, int col,
			   double dt)
{
	double samples;

	if (row < 0 || col < 0 || row >= r->used_rows || col >= r->used_cols ||
	    !(dt > 0))
		return 0;
	samples = (double)r->row_neurons[row] * r->col_steps[col] * dt;
	if (!(samples > 0))
		return 0;
	return r->counts[(size_t)row * (size_t)r->used_cols + (size_t)col] /
	       samples;
}

int ncp_mon_raster_level(double rate_hz, int levels)
{
	int level;

	if (!(rate_hz > 0) || levels < 2)
		return 0;
	if (rate_hz < NCP_MON_RASTER_BASE_HZ)
		return 1;
	if (!isfinite(rate_hz))
		return levels - 1;
	level = 2 + (int)floor(log2(rate_hz / NCP_MON_RASTER_BASE_HZ));
	return level < levels - 1 ? level : levels - 1;
}

double ncp_mon_raster_level_floor(int level)
{
	if (level <= 1)
		return 0;
	return NCP_MON_RASTER_BASE_HZ * ldexp(1.0, level - 2);
}
