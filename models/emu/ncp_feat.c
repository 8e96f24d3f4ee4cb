#include "models/emu/ncp_feat.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"

int ncp_feat_spec_check(const struct ncp_feat_spec *s, char *err,
			size_t errlen)
{
	if (s->window < 1 || s->window > NCP_FEAT_MAX_WINDOW)
		return ncp_errf(err, errlen, "window %d is out of range (1 to %d steps)",
				s->window, NCP_FEAT_MAX_WINDOW);
	if (s->neurons < 1 || s->neurons > NCP_FEAT_MAX_NEURONS)
		return ncp_errf(err, errlen, "neurons %d is out of range (1 to %d)",
				s->neurons, NCP_FEAT_MAX_NEURONS);
	if ((uint64_t)s->window * (uint64_t)s->neurons > NCP_FEAT_MAX_ENTRIES)
		return ncp_errf(err, errlen,
				"a window of %d steps x %d neurons is too large (at most %u entries)",
				s->window, s->neurons, NCP_FEAT_MAX_ENTRIES);
	if (s->stim < 0 || s->stim > NCP_FEAT_MAX_STIM)
		return ncp_errf(err, errlen,
				"stimulation channels %d is out of range (0 to %d)",
				s->stim, NCP_FEAT_MAX_STIM);
	if (s->ntau < 1 || s->ntau > NCP_FEAT_MAX_TAUS)
		return ncp_errf(err, errlen,
				"%d time constants: 1 to %d are supported",
				s->ntau, NCP_FEAT_MAX_TAUS);
	if (!(isfinite(s->dt) && s->dt > 0 && s->dt <= 1))
		return ncp_errf(err, errlen, "dt %g is not in (0, 1] s", s->dt);
	for (int k = 0; k < s->ntau; k++)
		if (!(isfinite(s->taus[k]) && s->taus[k] >= 1e-6 &&
		      s->taus[k] <= 1000))
			return ncp_errf(err, errlen,
					"time constant %g is not in [1e-6, 1000] s",
					s->taus[k]);
	if (s->mode != NCP_FEAT_WINDOW && s->mode != NCP_FEAT_RUNNING)
		return ncp_errf(err, errlen, "unknown feature mode %d", (int)s->mode);
	return 0;
}

const char *ncp_feat_mode_name(enum ncp_feat_mode mode)
{
	return mode == NCP_FEAT_RUNNING ? "running" : "window";
}

int ncp_feat_init(struct ncp_feat *f, const struct ncp_feat_spec *s,
		  char *err, size_t errlen)
{
	int r;

	memset(f, 0, sizeof(*f));
	r = ncp_feat_spec_check(s, err, errlen);
	if (r)
		return r;
	f->spec = *s;
	f->nfeat = (s->neurons + s->stim) * s->ntau;
	f->coef = ncp_calloc_aligned((size_t)s->window * (size_t)s->ntau,
				     sizeof(float));
	f->decay_pow = ncp_calloc_aligned((size_t)(s->window + 1) *
					  (size_t)s->ntau, sizeof(float));
	f->decay_vec = ncp_calloc_aligned((size_t)f->nfeat, sizeof(double));
	if (!f->coef || !f->decay_pow || !f->decay_vec) {
		ncp_feat_fini(f);
		ncp_errf(err, errlen, "out of memory for the feature tables");
		return -ENOMEM;
	}
	for (int k = 0; k < s->ntau; k++) {
		double a = exp(-s->dt / s->taus[k]);
		f->decay[k] = a;
		f->gain[k] = (1.0 - a) / s->dt;
		for (int d = 0; d <= s->window; d++) {
			/* pow, not repeated products: each entry is rounded once. */
			double p = pow(a, d);
			f->decay_pow[d * s->ntau + k] = (float)p;
			if (d < s->window)
				f->coef[d * s->ntau + k] = (float)(f->gain[k] * p);
		}
	}
	for (int j = 0; j < f->nfeat; j++)
		f->decay_vec[j] = f->decay[j % s->ntau];
	return 0;
}

void ncp_feat_fini(struct ncp_feat *f)
{
	free(f->coef);
	free(f->decay_pow);
	free(f->decay_vec);
	f->coef = f->decay_pow = NULL;
	f->decay_vec = NULL;
}

/* out += the window sum over w's steps (the last one has age 0). */
static void add_window(const struct ncp_feat *f, const struct ncp_feat_win *w,
		       float *out)
{
	const int ntau = f->spec.ntau;
	const int nn = f->spec.neurons, nstim = f->spec.stim;

	ncp_assert(w->len >= 0 && w->len <= f->spec.window);
	for (int i = 0; i < w->len; i++) {
		const float *c = f->coef + (size_t)(w->len - 1 - i) * ntau;
		const uint32_t *spk = w->spk[i];
		const int n = w->n[i];

		if (ntau == 3) {
			const float c0 = c[0], c1 = c[1], c2 = c[2];
			for (int j = 0; j < n; j++) {
				float *o = out + (size_t)spk[j] * 3;
				o[0] += c0;
				o[1] += c1;
				o[2] += c2;
			}
		} else {
			for (int j = 0; j < n; j++) {
				float *o = out + (size_t)spk[j] * ntau;
				for (int k = 0; k < ntau; k++)
					o[k] += c[k];
			}
		}
		if (nstim && w->stim && w->stim[i]) {
			const float *st = w->stim[i];
			float *o = out + (size_t)nn * ntau;
			for (int ch = 0; ch < nstim; ch++)
				for (int k = 0; k < ntau; k++)
					o[ch * ntau + k] += c[k] * st[ch];
		}
	}
}

void ncp_feat_window(const struct ncp_feat *f, const struct ncp_feat_win *w,
		     float *out)
{
	memset(out, 0, (size_t)f->nfeat * sizeof(float));
	add_window(f, w, out);
}

void ncp_feat_running_from(const struct ncp_feat *f, const float *ckpt,
			   const struct ncp_feat_win *w, float *out)
{
	const int ntau = f->spec.ntau;

	if (!ckpt) {
		ncp_feat_window(f, w, out);
		return;
	}
	const float *p = f->decay_pow + (size_t)w->len * ntau;
	const int rows = f->nfeat / ntau;
	for (int r = 0; r < rows; r++)
		for (int k = 0; k < ntau; k++)
			out[r * ntau + k] = p[k] * ckpt[r * ntau + k];
	add_window(f, w, out);
}

void ncp_feat_running_step(const struct ncp_feat *f, double *state,
			   const uint32_t *spk, int n, const float *stim)
{
	const int ntau = f->spec.ntau;
	const int nn = f->spec.neurons;
	const double *a = f->decay_vec;

	for (int j = 0; j < f->nfeat; j++)
		state[j] *= a[j];
	for (int j = 0; j < n; j++) {
		double *s = state + (size_t)spk[j] * ntau;
		for (int k = 0; k < ntau; k++)
			s[k] += f->gain[k];
	}
	if (stim && f->spec.stim) {
		double *s = state + (size_t)nn * ntau;
		for (int ch = 0; ch < f->spec.stim; ch++)
			for (int k = 0; k < ntau; k++)
				s[ch * ntau + k] += f->gain[k] * stim[ch];
	}
}
