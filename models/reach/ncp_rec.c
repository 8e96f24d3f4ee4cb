#include "models/reach/ncp_rec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/reach/ncp_stim.h"

void ncp_rec_params_default(struct ncp_rec_params *p)
{
	memset(p, 0, sizeof(*p));
	p->electrodes = 16;
	p->spread = 0.05;
	p->tau = 0.01;
	p->layout = NCP_STIM_TOPOGRAPHIC;
	p->jitter = 0.01;
	p->seed = 1;
}

int ncp_rec_params_check(const struct ncp_rec_params *p, char *err,
			 size_t errlen)
{
	if (p->electrodes < 1 || p->electrodes > NCP_REC_MAX_ELECTRODES)
		return ncp_errf(err, errlen, "ncp.rec_electrodes %d is not in "
				"[1, %d]", p->electrodes, NCP_REC_MAX_ELECTRODES);
	if (!(p->spread > 0 && p->spread <= 10))
		return ncp_errf(err, errlen, "ncp.rec_spread %g is not in "
				"(0, 10]", p->spread);
	if (!(p->tau > 0 && p->tau <= 10))
		return ncp_errf(err, errlen, "ncp.rec_tau %g is not in (0, 10]",
				p->tau);
	if (p->layout < 0 || p->layout >= NCP_STIM_LAYOUT_COUNT)
		return ncp_errf(err, errlen, "ncp.rec_layout %d unknown",
				p->layout);
	if (!(p->jitter >= 0 && p->jitter <= 1))
		return ncp_errf(err, errlen, "ncp.rec_jitter %g is not in "
				"[0, 1]", p->jitter);
	return 0;
}

int ncp_rec_init(struct ncp_rec *rec, const struct ncp_rec_params *p, int n,
		 const double *exd, double dt, char *err, size_t errlen)
{
	int ret = ncp_rec_params_check(p, err, errlen);
	if (ret)
		return ret;
	memset(rec, 0, sizeof(*rec));
	rec->n = n;
	rec->R = p->electrodes;
	rec->d = exp(-dt / p->tau);
	rec->gain = (1.0 - rec->d) / dt;
	rec->pos = calloc((size_t)n, sizeof(double));
	rec->W = calloc((size_t)n * (size_t)rec->R, sizeof(float));
	rec->y = calloc((size_t)rec->R, sizeof(double));
	rec->yf = calloc((size_t)rec->R, sizeof(float));
	rec->acc = calloc((size_t)rec->R, sizeof(float));
	if (!rec->pos || !rec->W || !rec->y || !rec->yf || !rec->acc) {
		ncp_rec_fini(rec);
		return ncp_errf(err, errlen, "out of memory");
	}
	ncp_stim_positions(rec->pos, n, exd, p->layout, p->jitter,
			   ncp_rng_derive(p->seed, 0x7ec));
	for (int i = 0; i < n; i++)
		for (int r = 0; r < rec->R; r++)
			rec->W[(size_t)i * rec->R + r] = ncp_stim_footprint(
				rec->pos[i], (r + 0.5) / rec->R, p->spread);
	return 0;
}

void ncp_rec_fini(struct ncp_rec *rec)
{
	free(rec->pos);
	free(rec->W);
	free(rec->y);
	free(rec->yf);
	free(rec->acc);
	memset(rec, 0, sizeof(*rec));
}

void ncp_rec_step(struct ncp_rec *rec, const uint32_t *spikes, int count)
{
	const int R = rec->R;
	float *restrict acc = rec->acc;
	/* The step's weighted spike count in float (R adds per spike, in
	 * vector registers), then the lowpass in double. */
	for (int r = 0; r < R; r++)
		acc[r] = 0.0f;
	for (int k = 0; k < count; k++) {
		const float *restrict w = rec->W + (size_t)spikes[k] * R;
		for (int r = 0; r < R; r++)
			acc[r] += w[r];
	}
	for (int r = 0; r < R; r++) {
		rec->y[r] = rec->d * rec->y[r] + rec->gain * acc[r];
		rec->yf[r] = (float)rec->y[r];
	}
}

void ncp_rec_reset(struct ncp_rec *rec)
{
	for (int r = 0; r < rec->R; r++) {
		rec->y[r] = 0.0;
		rec->yf[r] = 0.0f;
	}
}
