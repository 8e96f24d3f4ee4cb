#include "models/nef/ncp_ens.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/base/ncp_sha256.h"
#include "models/nef/ncp_dcache.h"
#include "models/nef/ncp_simd.h"

/* LAPACK (OpenBLAS ships it): Cholesky factorisation and solve. */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
		    int *info);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs,
		    const double *a, const int *lda, double *b, const int *ldb,
		    int *info);

void ncp_ens_spec_default(struct ncp_ens_spec *s, int n, int dims)
{
	memset(s, 0, sizeof(*s));
	s->n = n;
	s->dims = dims;
	s->radius = 1.0;
	s->max_rates = (struct ncp_dist){ NCP_DIST_UNIFORM, 200.0, 400.0, 0 };
	s->intercepts = (struct ncp_dist){ NCP_DIST_UNIFORM, -1.0, 0.9, 0 };
	s->lif = ncp_lif_default;
	s->reg = 0.1;
}

int ncp_ens_default_eval(int n, int dims)
{
	int m = 500 * dims;
	m = m < 750 ? 750 : m > 2500 ? 2500 : m;
	return m > 2 * n ? m : 2 * n;
}

void ncp_ens_fini(struct ncp_ens *e)
{
	free(e->encoders);
	free(e->gain);
	free(e->bias);
	free(e->max_rate);
	free(e->intercept);
	free(e->eval);
	free(e->enc);
	free(e->biasf);
	free(e->J);
	ncp_lif_fini(&e->lif);
	for (int i = 0; i < e->n_sub; i++)
		ncp_ens_fini(&e->sub[i]);
	free(e->sub);
	memset(e, 0, sizeof(*e));
}

/* The fields every ensemble has, for n neurons in d dims, and its
 * per-neuron arrays (zeroed).  0 or -ENOMEM. */
static int ens_alloc(struct ncp_ens *e, const struct ncp_ens_spec *s, int n,
		     int d, double dt)
{
	e->n = n;
	e->dims = d;
	e->radius = s->radius;
	e->dt = dt;
	e->lifp = s->lif;
	e->reg = s->reg;
	e->encoders = calloc((size_t)n * d, sizeof(double));
	e->gain = calloc((size_t)n, sizeof(double));
	e->bias = calloc((size_t)n, sizeof(double));
	e->max_rate = calloc((size_t)n, sizeof(double));
	e->intercept = calloc((size_t)n, sizeof(double));
	e->enc = ncp_calloc_aligned((size_t)ncp_simd_pad(n) * d, sizeof(float));
	e->biasf = ncp_calloc_aligned((size_t)n, sizeof(float));
	e->J = ncp_calloc_aligned((size_t)n, sizeof(float));
	return e->encoders && e->gain && e->bias && e->max_rate &&
			       e->intercept && e->enc && e->biasf && e->J ?
		       0 : -ENOMEM;
}

int ncp_ens_init_array(struct ncp_ens *e, const struct ncp_ens_spec *spec,
		       int n_sub, double dt, char *err, size_t errlen)
{
	const int sn = spec->n, sd = spec->dims;
	memset(e, 0, sizeof(*e));
	if (n_sub < 1 || sn < 1 || sd < 1)
		return ncp_errf(err, errlen, "ensemble array needs at least one "
				"ensemble of n >= 1, dims >= 1");
	e->sub = calloc((size_t)n_sub, sizeof(*e->sub));
	if (!e->sub)
		return ncp_errf(err, errlen, "out of memory building an array");
	for (int b = 0; b < n_sub; b++, e->n_sub++) {
		struct ncp_ens_spec s = *spec;
		s.seed = ncp_rng_derive(spec->seed, (uint64_t)b);
		int ret = ncp_ens_init(&e->sub[b], &s, dt, err, errlen);
		if (ret) {
			ncp_ens_fini(e);
			return ret;
		}
	}
	const int n = n_sub * sn, d = n_sub * sd;
	const int pad = ncp_simd_pad(n), spad = ncp_simd_pad(sn);
	struct ncp_rng rng;
	ncp_rng_seed(&rng, spec->seed);
	int ret = ens_alloc(e, spec, n, d, dt);
	if (ret || (ret = ncp_lif_init(&e->lif, n, &spec->lif, dt, &rng))) {
		ncp_errf(err, errlen, "ensemble array: %s", ncp_strerror(ret));
		ncp_ens_fini(e);
		return ret;
	}
	for (int b = 0; b < n_sub; b++) {
		const struct ncp_ens *s = &e->sub[b];
		for (int i = 0; i < sn; i++) {
			int g = b * sn + i;
			e->gain[g] = s->gain[i];
			e->bias[g] = s->bias[i];
			e->max_rate[g] = s->max_rate[i];
			e->intercept[g] = s->intercept[i];
			e->biasf[g] = s->biasf[i];
			e->lif.v[g] = s->lif.v[i];	/* as each drew them */
			for (int j = 0; j < sd; j++) {
				e->encoders[(size_t)g * d + b * sd + j] =
					s->encoders[(size_t)i * sd + j];
				e->enc[(size_t)(b * sd + j) * pad + g] =
					s->enc[(size_t)j * spad + i];
			}
		}
	}
	return 0;
}

int ncp_ens_solve_array(const struct ncp_ens *e, ncp_func f, void *ctx,
			struct ncp_dcache *cache, float *D, double *rmse)
{
	if (!e->n_sub)
		return -EINVAL;
	const int sn = e->sub[0].n, sd = e->sub[0].dims;
	float *block = malloc(sizeof(float) * (size_t)sn * sd);
	double se = 0.0;
	if (!block)
		return -ENOMEM;
	memset(D, 0, sizeof(float) * (size_t)e->n * e->dims);
	for (int b = 0; b < e->n_sub; b++) {
		double r;
		int ret = ncp_ens_solve_cached(&e->sub[b], f, ctx, sd, cache, block,
					       &r);
		if (ret) {
			free(block);
			return ret;
		}
		se += r * r;
		for (int i = 0; i < sn; i++)
			for (int j = 0; j < sd; j++)
				D[(size_t)(b * sn + i) * e->dims + b * sd + j] =
					block[(size_t)i * sd + j];
	}
	free(block);
	if (rmse)
		*rmse = sqrt(se / e->n_sub);
	return 0;
}

int ncp_ens_init(struct ncp_ens *e, const struct ncp_ens_spec *s, double dt,
		 char *err, size_t errlen)
{
	struct ncp_rng rng;
	int n = s->n, d = s->dims, ret;

	memset(e, 0, sizeof(*e));
	if (n < 1 || d < 1 || !(s->radius > 0) || !(dt > 0))
		return ncp_errf(err, errlen,
				"ensemble needs n >= 1, dims >= 1, radius > 0 "
				"(got n=%d dims=%d radius=%g)", n, d, s->radius);
	e->n_eval = s->n_eval > 0 ? s->n_eval : ncp_ens_default_eval(n, d);
	ret = ens_alloc(e, s, n, d, dt);
	e->eval = calloc((size_t)e->n_eval * d, sizeof(double));
	if (ret || !e->eval) {
		ret = -ENOMEM;
		ncp_errf(err, errlen, "out of memory building an ensemble");
		goto fail;
	}

	/* Draw in a fixed order from one seed: encoders, max rates,
	 * intercepts, evaluation points, initial voltages. */
	ncp_rng_seed(&rng, s->seed);
	ret = ncp_dist_hypersphere(n, d, true, &rng, e->encoders);
	if (!ret)
		ret = ncp_dist_sample(&s->max_rates, d, n, &rng, e->max_rate);
	if (!ret)
		ret = ncp_dist_sample(&s->intercepts, d, n, &rng, e->intercept);
	if (ret) {
		ncp_errf(err, errlen, "bad max-rate or intercept distribution");
		goto fail;
	}
	for (int i = 0; i < n; i++) {
		ret = ncp_lif_gain_bias(&s->lif, e->max_rate[i], e->intercept[i],
					&e->gain[i], &e->bias[i]);
		if (ret) {
			ncp_errf(err, errlen,
				 "neuron %d: no LIF gain/bias for max rate %g Hz "
				 "and intercept %g", i, e->max_rate[i],
				 e->intercept[i]);
			goto fail;
		}
		e->biasf[i] = (float)e->bias[i];
		for (int j = 0; j < d; j++)
			e->enc[(size_t)j * ncp_simd_pad(n) + i] = (float)(
				e->gain[i] * e->encoders[(size_t)i * d + j] /
				e->radius);
	}
	ret = ncp_dist_hypersphere(e->n_eval, d, false, &rng, e->eval);
	if (ret) {
		ncp_errf(err, errlen, "out of memory for evaluation points");
		goto fail;
	}
	for (int i = 0; i < e->n_eval * d; i++)
		e->eval[i] *= e->radius;
	ret = ncp_lif_init(&e->lif, n, &s->lif, dt, &rng);
	if (ret) {
		ncp_errf(err, errlen, "LIF population: %s", ncp_strerror(ret));
		goto fail;
	}
	return 0;
fail:
	ncp_ens_fini(e);
	return ret ? ret : -EINVAL;
}

void ncp_ens_rates(const struct ncp_ens *e, const double *x, double *rates)
{
	for (int i = 0; i < e->n; i++) {
		double dot = 0.0;
		for (int j = 0; j < e->dims; j++)
			dot += e->encoders[(size_t)i * e->dims + j] * x[j];
		rates[i] = ncp_lif_rate(&e->lifp,
					e->gain[i] * dot / e->radius + e->bias[i]);
	}
}

/* Evaluation points whose rates go into a solve's key. */
#define KEY_RATE_POINTS 32

/* The key of a solve: every input its result depends on (the rates A
 * come from the encoders, gains, biases, radius and LIF parameters at
 * the evaluation points; the targets are Y), and the platform.  Then, in
 * case ncp_ens_rates ever reads something this list lacks, the rates
 * themselves at KEY_RATE_POINTS of the points, as the solve computes
 * them.  -ENOMEM when scratch cannot be had. */
static int solve_key(const struct ncp_ens *e, const double *Y, int k,
		     uint8_t key[NCP_DCACHE_KEY_BYTES])
{
	static const char kind[] = "ncp_ens_solve: LIF rates, L2-regularised "
				   "least squares, Cholesky";
	const char *plat = ncp_dcache_platform();
	const int32_t ints[4] = { e->n, e->dims, e->n_eval, k };
	const double reals[5] = { e->reg, e->radius, e->lifp.tau_rc,
				  e->lifp.tau_ref, e->lifp.min_voltage };
	const size_t n = (size_t)e->n, d = (size_t)e->dims, m = (size_t)e->n_eval;
	struct ncp_sha256 s;

	ncp_sha256_init(&s);
	ncp_sha256_update(&s, kind, sizeof(kind));
	ncp_sha256_update(&s, plat, strlen(plat) + 1);
	ncp_sha256_update(&s, ints, sizeof(ints));
	ncp_sha256_update(&s, reals, sizeof(reals));
	ncp_sha256_update(&s, e->encoders, sizeof(double) * n * d);
	ncp_sha256_update(&s, e->gain, sizeof(double) * n);
	ncp_sha256_update(&s, e->bias, sizeof(double) * n);
	ncp_sha256_update(&s, e->eval, sizeof(double) * m * d);
	ncp_sha256_update(&s, Y, sizeof(double) * m * (size_t)k);
	double *rates = malloc(sizeof(double) * n);
	if (!rates)
		return -ENOMEM;
	size_t points = m < KEY_RATE_POINTS ? m : KEY_RATE_POINTS;
	for (size_t j = 0; j < points; j++) {
		ncp_ens_rates(e, &e->eval[j * m / points * d], rates);
		ncp_sha256_update(&s, rates, sizeof(double) * n);
	}
	free(rates);
	ncp_sha256_final(&s, key);
	return 0;
}

/* The solve proper, for targets Y (n_eval x k); rmse may be NULL. */
static int solve(const struct ncp_ens *e, const double *Y, int k, float *D,
		 double *rmse)
{
	const int m = e->n_eval, n = e->n, d = e->dims;
	double *A = malloc(sizeof(double) * (size_t)m * n);
	double *G = malloc(sizeof(double) * (size_t)n * n);
	double *B = malloc(sizeof(double) * (size_t)n * k);
	int ret = -ENOMEM, info = 0;

	if (!A || !G || !B)
		goto out;
	double amax = 0.0;
	for (int p = 0; p < m; p++)
		ncp_ens_rates(e, &e->eval[(size_t)p * d], &A[(size_t)p * n]);
	/* Rates are finite and >= 0: a compare does what fmax() did, without
	 * a library call per entry (~1.5% of a cold build). */
	for (size_t i = 0; i < (size_t)m * n; i++)
		if (A[i] > amax)
			amax = A[i];

	/* (A^T A + m sigma^2 I) D = A^T Y, sigma = reg * max(A). */
	double sigma = e->reg * amax;
	cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, n, m, 1.0, A, n,
		    0.0, G, n);
	for (int i = 0; i < n; i++)
		G[(size_t)i * n + i] += m * sigma * sigma;
	/* Column-major view: A is n x m (lda n), Y is k x m (ldy k);
	 * B (n x k, col-major) = A Y^T. */
	cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, k, m, 1.0, A, n,
		    Y, k, 0.0, B, n);
	dpotrf_("U", &n, G, &n, &info);
	if (info == 0)
		dpotrs_("U", &n, &k, G, &n, B, &n, &info);
	if (info != 0) {
		ret = -EDOM;
		goto out;
	}
	for (int i = 0; i < n; i++)
		for (int c = 0; c < k; c++)
			D[(size_t)i * k + c] = (float)B[(size_t)c * n + i];
	if (rmse) {
		double se = 0.0;
		for (int p = 0; p < m; p++)
			for (int c = 0; c < k; c++) {
				double y = 0.0;
				for (int i = 0; i < n; i++)
					y += A[(size_t)p * n + i] * B[(size_t)c * n + i];
				double r = y - Y[(size_t)p * k + c];
				se += r * r;
			}
		*rmse = sqrt(se / ((double)m * k));
	}
	ret = 0;
out:
	free(A);
	free(G);
	free(B);
	return ret;
}

int ncp_ens_solve_cached(const struct ncp_ens *e, ncp_func f, void *ctx,
			 int k, struct ncp_dcache *cache, float *D,
			 double *rmse)
{
	if (e->n_sub)
		return -EINVAL;	/* an array: ncp_ens_solve_array */
	const int m = e->n_eval, d = e->dims;
	double *Y = malloc(sizeof(double) * (size_t)m * k);
	uint8_t key[NCP_DCACHE_KEY_BYTES];
	double r;
	int ret = 0;

	if (!Y)
		return -ENOMEM;
	for (int p = 0; p < m; p++)
		f(&e->eval[(size_t)p * d], &Y[(size_t)p * k], ctx);
	if (cache && solve_key(e, Y, k, key))
		cache = NULL;	/* no memory to key it: solve */
	if (!cache || !ncp_dcache_get(cache, key, e->n, k, D, &r)) {
		ret = solve(e, Y, k, D, cache || rmse ? &r : NULL);
		if (!ret && cache)
			ncp_dcache_put(cache, key, e->n, k, D, r);
	}
	if (!ret && rmse)
		*rmse = r;
	free(Y);
	return ret;
}

int ncp_ens_solve(const struct ncp_ens *e, ncp_func f, void *ctx, int k,
		  float *D, double *rmse)
{
	return ncp_ens_solve_cached(e, f, ctx, k, NULL, D, rmse);
}

void ncp_ens_encode(struct ncp_ens *e, const float *x)
{
	ncp_simd_encode(e->J, e->biasf, e->enc, e->n, e->dims, x);
}

void ncp_ens_decode_add(const struct ncp_ens *e, const float *D, int k,
			float w, float *y)
{
	const uint32_t *spk = e->lif.spikes;
	const float amp = w / (float)e->dt;
	if (e->n_sub && k == e->dims) {
		/* An array's decoders are block-diagonal: a spike adds to its
		 * own ensemble's dimensions only (the rest of its row would
		 * add exact zeros). */
		const uint32_t sn = (uint32_t)e->sub[0].n;
		const int sd = e->sub[0].dims;
		uint32_t b = 0, end = sn;	/* spikes come in ascending order */
		for (int s = 0; s < e->lif.n_spikes; s++) {
			while (spk[s] >= end) {
				b++;
				end += sn;
			}
			const float *row = D + (size_t)spk[s] * k + b * sd;
			float *yb = y + b * sd;
			for (int c = 0; c < sd; c++)
				yb[c] += amp * row[c];
		}
		return;
	}
	for (int s = 0; s < e->lif.n_spikes; s++) {
		const float *row = D + (size_t)spk[s] * k;
		for (int c = 0; c < k; c++)
			y[c] += amp * row[c];
	}
}
