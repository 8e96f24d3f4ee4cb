#include "models/reach/ncp_stim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/io/ncp_npy.h"
#include "models/nef/ncp_simd.h"

const char *const ncp_lesion_kind_names[NCP_LESION_KIND_COUNT + 1] = {
	"none", "pmc-m1", "m1-silence", NULL
};
const char *const ncp_stim_layout_names[NCP_STIM_LAYOUT_COUNT + 1] = {
	"topographic", "random", NULL
};
const char *const ncp_stim_source_names[NCP_STIM_SRC_COUNT + 1] = {
	"none", "noise", "oracle", "cpn", NULL
};

void ncp_stim_params_default(struct ncp_stim_params *p)
{
	memset(p, 0, sizeof(*p));
	p->lesion_kind = NCP_LESION_NONE;
	p->lesion_fraction = 1.0;
	p->lesion_seed = 1;
	p->electrodes = 16;
	p->spread = 0.05;
	p->max = 20.0;
	p->decay = 0.7;
	p->layout = NCP_STIM_TOPOGRAPHIC;
	p->jitter = 0.01;
	p->seed = 1;
	p->source = NCP_STIM_SRC_NONE;
	p->noise = 0.0;
	p->noise_tau = 0.05;
}

int ncp_stim_params_check(const struct ncp_stim_params *p, char *err,
			  size_t errlen)
{
	if (p->lesion_kind < 0 || p->lesion_kind >= NCP_LESION_KIND_COUNT)
		return ncp_errf(err, errlen, "lesion.kind %d unknown",
				p->lesion_kind);
	if (!(p->lesion_fraction >= 0 && p->lesion_fraction <= 1))
		return ncp_errf(err, errlen, "lesion.fraction %g is not in "
				"[0, 1]", p->lesion_fraction);
	if (p->electrodes < 1 || p->electrodes > NCP_STIM_MAX_ELECTRODES)
		return ncp_errf(err, errlen, "stim.electrodes %d is not in "
				"[1, %d]", p->electrodes, NCP_STIM_MAX_ELECTRODES);
	if (!(p->spread > 0 && p->spread <= 10))
		return ncp_errf(err, errlen, "stim.spread %g is not in (0, 10]",
				p->spread);
	if (!(p->max > 0 && p->max <= 1000))
		return ncp_errf(err, errlen, "stim.max %g is not in (0, 1000]",
				p->max);
	if (!(p->decay >= 0 && p->decay < 1))
		return ncp_errf(err, errlen, "stim.decay %g is not in [0, 1)",
				p->decay);
	if (p->layout < 0 || p->layout >= NCP_STIM_LAYOUT_COUNT)
		return ncp_errf(err, errlen, "stim.layout %d unknown", p->layout);
	if (!(p->jitter >= 0 && p->jitter <= 1))
		return ncp_errf(err, errlen, "stim.jitter %g is not in [0, 1]",
				p->jitter);
	if (p->source < 0 || p->source >= NCP_STIM_SRC_COUNT)
		return ncp_errf(err, errlen, "stim.source %d unknown", p->source);
	if (!(p->noise >= 0 && p->noise <= p->max))
		return ncp_errf(err, errlen, "stim.noise %g is not in [0, "
				"stim.max %g]", p->noise, p->max);
	if (!(p->noise_tau > 0 && p->noise_tau <= 100))
		return ncp_errf(err, errlen, "stim.noise_tau %g is not in "
				"(0, 100]", p->noise_tau);
	return 0;
}

void ncp_stim_lesion_order(uint32_t *order, int n, uint64_t seed)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, ncp_rng_derive(seed, 0x1e5));
	for (int i = 0; i < n; i++)
		order[i] = (uint32_t)i;
	for (int i = n - 1; i > 0; i--) {	/* Fisher-Yates */
		int j = (int)ncp_rng_below(&rng, (uint64_t)i + 1);
		uint32_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
}

void ncp_stim_positions(double *pos, int n, const double *exd, int layout,
			double jitter, uint64_t seed)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, seed);
	for (int i = 0; i < n; i++) {
		double x;
		if (layout == NCP_STIM_RANDOM) {
			x = ncp_rng_uniform(&rng);
		} else {
			double phi = atan2(exd[2 * i + 1], exd[2 * i]);
			x = (phi + M_PI) / (2 * M_PI) +
			    jitter * ncp_rng_normal(&rng);
			x = fmin(fmax(x, 0.0), 1.0);
		}
		pos[i] = x;
	}
}

float ncp_stim_footprint(double pos, double centre, double spread)
{
	double z = (pos - centre) / spread;
	double w = exp(-0.5 * z * z);
	/* Cut at NCP_STIM_FOOTPRINT_MIN: the far tail would be float
	 * denormals, which make every step's multiply-adds tens of times
	 * slower. */
	return w >= NCP_STIM_FOOTPRINT_MIN ? (float)w : 0.0f;
}

int ncp_stim_init(struct ncp_stim *s, const struct ncp_stim_params *p, int n,
		  const double *exd, double dt, char *err, size_t errlen)
{
	int ret = ncp_stim_params_check(p, err, errlen);
	if (ret)
		return ret;
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->E = p->electrodes;
	s->pad = ncp_simd_pad(n);
	s->dt = dt;
	s->d = pow(p->decay, dt / 0.01);
	s->max = p->max;
	s->pos = calloc((size_t)n, sizeof(double));
	s->C = ncp_calloc_aligned((size_t)s->E * s->pad, sizeof(float));
	s->alpha = calloc((size_t)s->E, sizeof(double));
	s->alpha_f = calloc((size_t)s->E, sizeof(float));
	s->theta = calloc((size_t)s->E, sizeof(double));
	if (!s->pos || !s->C || !s->alpha || !s->alpha_f || !s->theta ||
	    ncp_ou_init(&s->ou, s->E, p->noise_tau, dt,
			ncp_rng_derive(p->noise_seed ? p->noise_seed : p->seed,
				       0x0015e))) {
		ncp_stim_fini(s);
		return ncp_errf(err, errlen, "out of memory");
	}

	ncp_stim_positions(s->pos, n, exd, p->layout, p->jitter,
			   ncp_rng_derive(p->seed, 0x9051));
	for (int e = 0; e < s->E; e++) {
		double c = (e + 0.5) / s->E;
		for (int i = 0; i < n; i++)
			s->C[(size_t)e * s->pad + i] =
				ncp_stim_footprint(s->pos[i], c, p->spread);
	}
	return 0;
}

void ncp_stim_fini(struct ncp_stim *s)
{
	free(s->pos);
	free(s->C);
	free(s->alpha);
	free(s->alpha_f);
	free(s->theta);
	ncp_ou_fini(&s->ou);
	memset(s, 0, sizeof(*s));
}

void ncp_stim_set_theta(struct ncp_stim *s, const float *theta)
{
	for (int e = 0; e < s->E; e++) {
		s->theta[e] = theta[e];
		if (theta[e] != 0.0f)
			s->active = true;
	}
}

int ncp_ou_init(struct ncp_ou *o, int E, double tau, double dt, uint64_t seed)
{
	memset(o, 0, sizeof(*o));
	o->x = calloc((size_t)E, sizeof(double));
	if (!o->x)
		return -ENOMEM;
	o->E = E;
	/* x' = -x / tau + noise, exact over a step, stationary sd 1. */
	o->a = exp(-dt / tau);
	o->b = sqrt(1.0 - o->a * o->a);
	o->seed = seed;
	ncp_rng_seed(&o->rng, seed);
	return 0;
}

void ncp_ou_fini(struct ncp_ou *o)
{
	free(o->x);
	memset(o, 0, sizeof(*o));
}

void ncp_ou_reset(struct ncp_ou *o)
{
	for (int e = 0; e < o->E; e++)
		o->x[e] = 0.0;
	ncp_rng_seed(&o->rng, o->seed);
}

void ncp_ou_draw(struct ncp_ou *o, double sd, double max, const float *base,
		 float *out)
{
	for (int e = 0; e < o->E; e++) {
		o->x[e] = o->a * o->x[e] + o->b * ncp_rng_normal(&o->rng);
		double v = (base ? (double)base[e] : 0.0) + sd * o->x[e];
		out[e] = (float)fmin(fmax(v, -max), max);
	}
}

void ncp_stim_noise(struct ncp_stim *s, double sd, const float *base,
		    float *theta)
{
	ncp_ou_draw(&s->ou, sd, s->max, base, theta);
}

bool ncp_stim_step(struct ncp_stim *s, const float *base, float *out)
{
	if (!s->active)
		return false;
	bool any = false;
	int last = 0;
	for (int e = 0; e < s->E; e++) {
		double a = s->d * s->alpha[e] + s->theta[e];
		a = fmin(fmax(a, -s->max), s->max);
		if (fabs(a) < NCP_STIM_ALPHA_FLOOR)
			a = 0.0;
		s->alpha[e] = a;
		s->alpha_f[e] = (float)a;
		any |= a != 0.0 || s->theta[e] != 0.0;
		if (a != 0.0)
			last = e + 1;
	}
	/* Sixteen neurons at a time, every electrode added in registers, so
	 * out is written once.  C's rows are padded to 16 with zeros. */
	const int n = s->n, pad = s->pad;
	int i = 0;
	for (; i + 16 <= n; i += 16) {
		float acc[16];
		for (int j = 0; j < 16; j++)
			acc[j] = base[i + j];
		for (int e = 0; e < last; e++) {
			const float a = s->alpha_f[e];
			const float *restrict c = s->C + (size_t)e * pad + i;
			for (int j = 0; j < 16; j++)
				acc[j] += c[j] * a;
		}
		for (int j = 0; j < 16; j++)
			out[i + j] = acc[j];
	}
	for (; i < n; i++) {
		float acc = base[i];
		for (int e = 0; e < last; e++)
			acc += s->C[(size_t)e * pad + i] * s->alpha_f[e];
		out[i] = acc;
	}
	/* alpha reaches its floor, and so exact zeros, about 0.7 s after
	 * the last nonzero theta; from then on nothing is added. */
	s->active = any;
	return true;
}

void ncp_stim_reset(struct ncp_stim *s)
{
	for (int e = 0; e < s->E; e++) {
		s->alpha[e] = s->theta[e] = 0.0;
		s->alpha_f[e] = 0.0f;
	}
	s->active = false;
	ncp_ou_reset(&s->ou);
}

int ncp_stim_check_theta(const struct ncp_stim *s, const float *theta, int n,
			 char *err, size_t errlen)
{
	if (n != s->E)
		return ncp_errf(err, errlen, "theta has %d values; stim."
				"electrodes is %d", n, s->E);
	for (int e = 0; e < n; e++) {
		if (!isfinite(theta[e]))
			return ncp_errf(err, errlen, "theta[%d] is not a finite "
					"number", e);
		if (fabs(theta[e]) > s->max) {
			ncp_errf(err, errlen, "theta[%d] = %g is beyond stim.max "
				 "%g", e, theta[e], s->max);
			return -EDOM;
		}
	}
	return 0;
}

int ncp_stim_file_load(const char *path, int E, double max, float **data,
		       uint64_t *steps, char *err, size_t errlen)
{
	char msg[300];
	struct ncp_npy *a = ncp_npy_load(path, 0, msg, sizeof(msg));
	int ret = -EINVAL;

	*data = NULL;
	*steps = 0;
	if (!a)
		return ncp_errf(err, errlen, "%s", msg);
	if (a->h.dtype != NCP_NPY_F32 || a->h.ndim != 2 ||
	    a->h.shape[1] != (uint64_t)E) {
		char shape[64] = "(";
		for (int d = 0; d < a->h.ndim && d < 4; d++)
			snprintf(shape + strlen(shape), sizeof(shape) - strlen(shape),
				 "%s%llu", d ? ", " : "",
				 (unsigned long long)a->h.shape[d]);
		ncp_errf(err, errlen, "%s: expected float32 of shape (steps, %d) "
			 "(stim.electrodes), got %s of shape %s)", path, E,
			 ncp_npy_dtype_descr(a->h.dtype), shape);
		goto out;
	}
	const float *v = a->data;
	for (uint64_t k = 0; k < a->count; k++) {
		if (!isfinite(v[k])) {
			ncp_errf(err, errlen, "%s: row %llu, electrode %llu: not "
				 "a finite number", path,
				 (unsigned long long)(k / (uint64_t)E),
				 (unsigned long long)(k % (uint64_t)E));
			goto out;
		}
		if (fabs(v[k]) > max) {
			ncp_errf(err, errlen, "%s: row %llu, electrode %llu: %g "
				 "is beyond stim.max %g", path,
				 (unsigned long long)(k / (uint64_t)E),
				 (unsigned long long)(k % (uint64_t)E), v[k], max);
			ret = -EDOM;
			goto out;
		}
	}
	*data = malloc(a->count ? sizeof(float) * a->count : 1);
	if (!*data) {
		ret = ncp_errf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	memcpy(*data, v, sizeof(float) * a->count);
	*steps = a->h.shape[0];
	ret = 0;
out:
	ncp_npy_free(a);
	return ret;
}
