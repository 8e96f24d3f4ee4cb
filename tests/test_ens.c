#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/nef/ncp_dist.h"
#include "models/nef/ncp_ens.h"
#include "tests/ncp_check.h"

static void identity(const double *x, double *y, void *ctx)
{
	int d = *(const int *)ctx;
	memcpy(y, x, sizeof(double) * (size_t)d);
}

static void square(const double *x, double *y, void *ctx)
{
	y[0] = x[0] * x[0];
}

/* Static decode RMSE of D (n x k) for f over test points (not the
 * evaluation points the decoders were solved on). */
static double test_rmse(const struct ncp_ens *e, const float *D, int k,
			ncp_func f, void *ctx, const double *pts, int m)
{
	double *rates = malloc(sizeof(double) * (size_t)e->n), se = 0.0, y[8];
	for (int p = 0; p < m; p++) {
		ncp_ens_rates(e, &pts[(size_t)p * e->dims], rates);
		f(&pts[(size_t)p * e->dims], y, ctx);
		for (int c = 0; c < k; c++) {
			double acc = 0.0;
			for (int i = 0; i < e->n; i++)
				acc += rates[i] * D[(size_t)i * k + c];
			se += (acc - y[c]) * (acc - y[c]);
		}
	}
	free(rates);
	return sqrt(se / ((double)m * k));
}

START_TEST(decode_1d_x_and_x2)
{
	struct ncp_ens_spec s;
	struct ncp_ens e;
	char err[200];
	int d = 1;
	ncp_ens_spec_default(&s, 100, 1);
	s.seed = 11;
	ck_assert_int_eq(ncp_ens_init(&e, &s, 0.001, err, sizeof(err)), 0);
	float D[100];
	double pts[201];
	for (int i = 0; i <= 200; i++)
		pts[i] = -1.0 + i / 100.0;
	ck_assert_int_eq(ncp_ens_solve(&e, identity, &d, 1, D, NULL), 0);
	double r1 = test_rmse(&e, D, 1, identity, &d, pts, 201);
	ck_assert_int_eq(ncp_ens_solve(&e, square, NULL, 1, D, NULL), 0);
	double r2 = test_rmse(&e, D, 1, square, NULL, pts, 201);
	printf("1-D, 100 neurons: static RMSE x %.4f, x^2 %.4f\n", r1, r2);
	ck_assert_msg(r1 < 0.05, "x: RMSE %.4f", r1);
	ck_assert_msg(r2 < 0.05, "x^2: RMSE %.4f", r2);
	ncp_ens_fini(&e);
}
END_TEST

START_TEST(decode_4d_identity)
{
	struct ncp_ens_spec s;
	struct ncp_ens e;
	struct ncp_rng rng;
	char err[200];
	int d = 4, m = 2000;
	ncp_ens_spec_default(&s, 1000, 4);
	s.seed = 12;
	ck_assert_int_eq(ncp_ens_init(&e, &s, 0.001, err, sizeof(err)), 0);
	float *D = malloc(sizeof(float) * 1000 * 4);
	double *pts = malloc(sizeof(double) * (size_t)m * 4);
	ncp_rng_seed(&rng, 99);
	/* Independent uniform points in the ball (rejection sampling). */
	for (int p = 0; p < m;) {
		double x[4], r2 = 0;
		for (int j = 0; j < 4; j++) {
			x[j] = ncp_rng_range(&rng, -1, 1);
			r2 += x[j] * x[j];
		}
		if (r2 <= 1.0)
			memcpy(&pts[(size_t)4 * p++], x, sizeof(x));
	}
	ck_assert_int_eq(ncp_ens_solve(&e, identity, &d, 4, D, NULL), 0);
	double r = test_rmse(&e, D, 4, identity, &d, pts, m);
	printf("4-D, 1000 neurons: static RMSE identity %.4f\n", r);
	ck_assert_msg(r < 0.05, "RMSE %.4f", r);
	free(D);
	free(pts);
	ncp_ens_fini(&e);
}
END_TEST

START_TEST(spiking_decode_follows_input)
{
	/* 1-D ensemble fed a constant, decoded through a 10 ms lowpass. */
	struct ncp_ens_spec s;
	struct ncp_ens e;
	char err[200];
	int d = 1;
	ncp_ens_spec_default(&s, 100, 1);
	s.seed = 13;
	ck_assert_int_eq(ncp_ens_init(&e, &s, 0.001, err, sizeof(err)), 0);
	float D[100];
	ck_assert_int_eq(ncp_ens_solve(&e, identity, &d, 1, D, NULL), 0);
	const float xs[] = { -0.7f, 0.0f, 0.5f };
	for (size_t t = 0; t < NCP_ARRAY_SIZE(xs); t++) {
		double y = 0, sum = 0, a = exp(-0.001 / 0.01);
		ncp_ens_encode(&e, &xs[t]);
		for (int step = 0; step < 1000; step++) {
			float dec = 0;
			ncp_ens_step(&e);
			ncp_ens_decode_add(&e, D, 1, 1.0f, &dec);
			y = a * y + (1 - a) * dec;
			if (step >= 500)
				sum += y;
		}
		ncp_ck_near(sum / 500, xs[t], 0.05);
	}
	ncp_ens_fini(&e);
}
END_TEST

START_TEST(fused_run_equals_encode_then_step)
{
	/* ncp_ens_run (one pass) against ncp_ens_encode + ncp_ens_step, for
	 * every dimensionality the kernels specialise and one they do not:
	 * the same voltages and spikes, bit for bit, for 300 steps. */
	const int dims[] = { 1, 2, 3, 4, 5, 6 };
	for (size_t c = 0; c < NCP_ARRAY_SIZE(dims); c++) {
		struct ncp_ens_spec s;
		struct ncp_ens a, b;
		char err[200];
		ncp_ens_spec_default(&s, 203, dims[c]);
		s.seed = 21;
		ck_assert_int_eq(ncp_ens_init(&a, &s, 0.001, err, sizeof(err)), 0);
		ck_assert_int_eq(ncp_ens_init(&b, &s, 0.001, err, sizeof(err)), 0);
		long spikes = 0;
		for (int t = 0; t < 300; t++) {
			float x[6];
			for (int j = 0; j < dims[c]; j++)
				x[j] = (float)sin(0.01 * t * (j + 1) + j);
			ncp_ens_run(&a, x);
			ncp_ens_encode(&b, x);
			ncp_ens_step(&b);
			ck_assert_int_eq(a.lif.n_spikes, b.lif.n_spikes);
			ck_assert(memcmp(a.lif.spikes, b.lif.spikes, sizeof(uint32_t) *
					 (size_t)a.lif.n_spikes) == 0);
			ck_assert(memcmp(a.lif.v, b.lif.v, sizeof(float) * 203) == 0);
			ck_assert(memcmp(a.lif.ref, b.lif.ref, sizeof(float) * 203) == 0);
			spikes += a.lif.n_spikes;
		}
		ck_assert_int_gt(spikes, 1000);
		ncp_ens_fini(&a);
		ncp_ens_fini(&b);
	}
}
END_TEST

/* I_x(a, 1/2) by Simpson's rule after substituting 1 - t = u^2, which
 * removes the (1 - t)^(-1/2) singularity: the integrand is 2 (1-u^2)^(a-1)
 * over u in [sqrt(1 - x), 1]. */
static double simpson_u(double lo, double a)
{
	int n = 20000;
	double h = (1.0 - lo) / n, acc = 0;
	for (int i = 0; i <= n; i++) {
		double u = lo + i * h;
		double w = (i == 0 || i == n) ? 1 : (i % 2 ? 4 : 2);
		acc += w * 2.0 * pow(fmax(0.0, 1.0 - u * u), a - 1.0);
	}
	return acc * h / 3.0;
}

static double inc_beta_half(double x, double a)
{
	return simpson_u(sqrt(1.0 - x), a) / simpson_u(0.0, a);
}

START_TEST(area_intercepts_transform)
{
	const int dims = 4;
	ncp_ck_near(ncp_dist_area_transform(0.0, dims), 0.0, 1e-12);
	ncp_ck_near(ncp_dist_area_transform(-1.0, dims), 1.0, 1e-12);
	/* intercept c for base sample s: I(1 - c^2; (d+1)/2, 1/2) = s + 1. */
	const double ss[] = { -0.9, -0.5, -0.2, -0.05 };
	double prev = 1.0;
	for (size_t i = 0; i < NCP_ARRAY_SIZE(ss); i++) {
		double c = ncp_dist_area_transform(ss[i], dims);
		ck_assert(c > 0 && c < prev);
		prev = c;
		ncp_ck_near(inc_beta_half(1 - c * c, (dims + 1) / 2.0), ss[i] + 1,
			    1e-6);
	}
	/* Positive base samples flip sign. */
	double c = ncp_dist_area_transform(0.05, dims);
	ncp_ck_near(c, -ncp_dist_area_transform(-0.05, dims), 1e-12);
	/* A distribution's own dims (REACH's adaptive population: the area
	 * of 2 dimensions on a 4-D ensemble) overrides the ensemble's. */
	struct ncp_rng r1, r2;
	double a[8], b[8], u[8];
	ncp_rng_seed(&r1, 5);
	ncp_rng_seed(&r2, 5);
	ck_assert_int_eq(ncp_dist_sample(&(struct ncp_dist){ NCP_DIST_AREA,
		-0.5, 0.2, 2 }, dims, 8, &r1, a), 0);
	ck_assert_int_eq(ncp_dist_sample(&(struct ncp_dist){ NCP_DIST_AREA,
		-0.5, 0.2, 0 }, 2, 8, &r2, b), 0);
	ncp_rng_seed(&r1, 5);
	ck_assert_int_eq(ncp_dist_sample(&(struct ncp_dist){ NCP_DIST_UNIFORM,
		-0.5, 0.2, 0 }, dims, 8, &r1, u), 0);
	for (int i = 0; i < 8; i++) {
		ncp_ck_near(a[i], b[i], 0);
		ncp_ck_near(a[i], ncp_dist_area_transform(u[i], 2), 0);
		ck_assert(fabs(a[i] - ncp_dist_area_transform(u[i], dims)) > 1e-3);
	}
}
END_TEST

START_TEST(hypersphere_points)
{
	struct ncp_rng rng;
	const int n = 4000;
	double *p = malloc(sizeof(double) * n * 3);
	ncp_rng_seed(&rng, 4);
	ck_assert_int_eq(ncp_dist_hypersphere(n, 3, true, &rng, p), 0);
	double mean[3] = { 0 };
	for (int i = 0; i < n; i++) {
		double r = 0;
		for (int j = 0; j < 3; j++) {
			r += p[3 * i + j] * p[3 * i + j];
			mean[j] += p[3 * i + j] / n;
		}
		ncp_ck_near(sqrt(r), 1.0, 1e-9);
	}
	for (int j = 0; j < 3; j++)
		ncp_ck_near(mean[j], 0.0, 0.03);
	/* Inside the 2-D ball: a quarter of the points within radius 1/2. */
	ck_assert_int_eq(ncp_dist_hypersphere(n, 2, false, &rng, p), 0);
	int inner = 0;
	for (int i = 0; i < n; i++) {
		double r = hypot(p[2 * i], p[2 * i + 1]);
		ck_assert(r <= 1.0 + 1e-12);
		inner += r < 0.5;
	}
	ncp_ck_near(inner / (double)n, 0.25, 0.02);
	free(p);
}
END_TEST

START_TEST(build_is_deterministic)
{
	struct ncp_ens_spec s;
	struct ncp_ens a, b;
	char err[200];
	ncp_ens_spec_default(&s, 300, 2);
	s.seed = 77;
	ck_assert_int_eq(ncp_ens_init(&a, &s, 0.001, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_ens_init(&b, &s, 0.001, err, sizeof(err)), 0);
	ck_assert(memcmp(a.gain, b.gain, sizeof(double) * 300) == 0);
	ck_assert(memcmp(a.encoders, b.encoders, sizeof(double) * 600) == 0);
	ncp_ens_fini(&b);
	s.seed = 78;
	ck_assert_int_eq(ncp_ens_init(&b, &s, 0.001, err, sizeof(err)), 0);
	ck_assert(memcmp(a.gain, b.gain, sizeof(double) * 300) != 0);
	/* Max rates and intercepts fall in their distributions. */
	for (int i = 0; i < 300; i++) {
		ck_assert(a.max_rate[i] >= 200 && a.max_rate[i] <= 400);
		ck_assert(a.intercept[i] >= -1 && a.intercept[i] <= 0.9);
	}
	ncp_ens_fini(&a);
	ncp_ens_fini(&b);
	/* A bad spec is refused with a message. */
	s.n = 0;
	ck_assert_int_lt(ncp_ens_init(&a, &s, 0.001, err, sizeof(err)), 0);
	ck_assert(strstr(err, "n >= 1") != NULL);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("ens");
	TCase *tc = tcase_create("ens");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, decode_1d_x_and_x2);
	tcase_add_test(tc, decode_4d_identity);
	tcase_add_test(tc, spiking_decode_follows_input);
	tcase_add_test(tc, fused_run_equals_encode_then_step);
	tcase_add_test(tc, area_intercepts_transform);
	tcase_add_test(tc, hypersphere_points);
	tcase_add_test(tc, build_is_deterministic);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
