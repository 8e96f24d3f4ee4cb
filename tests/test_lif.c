#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/nef/ncp_lif.h"
#include "models/nef/ncp_simd.h"
#include "tests/ncp_check.h"

/* docs/model.md's LIF, one neuron, in double precision: the reference. */
struct ref_neuron {
	double v, r;
};

static bool ref_step(struct ref_neuron *n, double J, double dt)
{
	const double tau_rc = 0.02, tau_ref = 0.002;
	n->r -= dt;
	double dt_eff = fmin(fmax(dt - n->r, 0.0), dt);
	n->v = n->v + (J - n->v) * -expm1(-dt_eff / tau_rc);
	bool spiked = n->v > 1.0;
	if (spiked) {
		double t_spike = dt + tau_rc * log1p(-(n->v - 1.0) / (J - 1.0));
		n->v = 0.0;
		n->r = tau_ref + t_spike;
	}
	n->v = fmax(n->v, 0.0);
	return spiked;
}

START_TEST(rate_matches_formula)
{
	/* 200 neurons per current, random initial voltages, 2 s: the mean
	 * count gives the rate to well under a spike. */
	const double currents[] = { 1.05, 1.3, 2.0, 5.0, 12.0, 40.0 };
	const int n = 200, steps = 2000;
	const double dt = 0.001;
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 3);
	for (size_t c = 0; c < NCP_ARRAY_SIZE(currents); c++) {
		struct ncp_lif lif;
		ck_assert_int_eq(ncp_lif_init(&lif, n, &ncp_lif_default, dt, &rng), 0);
		float *J = calloc((size_t)n + 16, sizeof(float));
		for (int i = 0; i < n; i++)
			J[i] = (float)currents[c];
		long count = 0;
		for (int s = 0; s < steps; s++) {
			ncp_lif_step(&lif, J);
			count += lif.n_spikes;
		}
		double rate = count / (double)n / (steps * dt);
		double want = ncp_lif_rate(&ncp_lif_default, currents[c]);
		ck_assert_msg(fabs(rate - want) <= 0.01 * want,
			      "J=%g: rate %.3f Hz, formula %.3f Hz", currents[c],
			      rate, want);
		free(J);
		ncp_lif_fini(&lif);
	}
}
END_TEST

START_TEST(matches_reference_step_by_step)
{
	/* 40 neurons, each with its own varying input (including below
	 * threshold and negative), so that steps see many spikes at once and
	 * many neurons end their refractory period inside a step: spike steps
	 * must agree, voltages stay within float precision and the
	 * refractory time left within 10 us of the double-precision
	 * reference (float voltages near threshold move spike times by
	 * microseconds; spike_time_matches_double checks the arithmetic).  A spike that lands on the other side of a step boundary
	 * in float is counted, and the reference takes our state. */
	enum { N = 40 };
	const double dt = 0.001;
	struct ncp_rng rng;
	struct ncp_lif lif;
	ncp_rng_seed(&rng, 5);
	ck_assert_int_eq(ncp_lif_init(&lif, N, &ncp_lif_default, dt, &rng), 0);
	struct ref_neuron ref[N];
	for (int i = 0; i < N; i++)
		ref[i] = (struct ref_neuron){ lif.v[i], 0.0 };
	float J[N + 16] = { 0 };
	long spikes = 0, mismatched = 0;
	int most = 0;
	double worst_ref = 0.0;
	for (int s = 0; s < 20000; s++) {
		for (int i = 0; i < N; i++)
			J[i] = (float)(6.0 * sin(s * 0.003 + i) +
				       3.0 * sin(s * 0.031 + 2 * i) + 0.1 * i);
		ncp_lif_step(&lif, J);
		bool ours[N] = { false };
		for (int k = 0; k < lif.n_spikes; k++)
			ours[lif.spikes[k]] = true;
		most = lif.n_spikes > most ? lif.n_spikes : most;
		for (int i = 0; i < N; i++) {
			bool want = ref_step(&ref[i], J[i], dt);
			spikes += want;
			if (ours[i] != want) {
				mismatched++;
				ref[i] = (struct ref_neuron){ lif.v[i], lif.ref[i] };
				continue;
			}
			ncp_ck_near(lif.v[i], ref[i].v, 2e-4);
			double e = fabs(lif.ref[i] - fmax(ref[i].r, 0.0));
			worst_ref = e > worst_ref ? e : worst_ref;
			ck_assert(lif.v[i] >= 0.0f);
		}
	}
	printf("lif: %ld spikes, %ld in another step, refractory time within "
	       "%.2g s\n", spikes, mismatched, worst_ref);
	ck_assert_msg(worst_ref <= 1e-5, "refractory time off by %g s", worst_ref);
	ck_assert_int_gt(spikes, 20000);
	ck_assert_int_ge(most, 9);	/* more than one batch of eight */
	ck_assert_msg(mismatched <= spikes / 5000, "%ld of %ld spikes in "
		      "another step than the reference's", mismatched, spikes);
	ncp_lif_fini(&lif);
}
END_TEST

START_TEST(spike_time_matches_double)
{
	/* ncp_simd_lif_spiked against the same formula in double precision
	 * from the same float inputs, for 1001 spikes (every batch of eight
	 * and a ragged tail): within 20 ns, a few float roundings (of J - 1,
	 * the quotient and the logarithm, which reaches -10 for late spikes). */
	enum { N = 1001 };
	const struct ncp_simd_lif_k k = {
		.dt = 0.001f, .vmin = 0.0f, .inv_tau_rc = 50.0f,
		.decay = (float)-expm1(-0.001 / 0.02), .tau_rc = 0.02f,
		.tau_ref = 0.002f,
	};
	float *v = calloc(N + 16, sizeof(float));
	float *J = calloc(N + 16, sizeof(float));
	float *ref = calloc(N + 16, sizeof(float));
	uint32_t *spk = calloc(N + 16, sizeof(uint32_t));
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 11);
	for (int i = 0; i < N; i++) {
		J[i] = (float)(1.001 + 49.0 * ncp_rng_uniform(&rng));
		v[i] = (float)(1.0 + (J[i] - 1.0) * ncp_rng_uniform(&rng));
		spk[i] = (uint32_t)i;
	}
	float *v0 = malloc(N * sizeof(float));
	memcpy(v0, v, N * sizeof(float));
	ncp_simd_lif_spiked(v, ref, J, spk, N, &k);
	double worst = 0.0;
	for (int i = 0; i < N; i++) {
		double x = ((double)J[i] - v0[i]) / ((double)J[i] - 1.0);
		double want = (double)k.tau_ref + k.dt + k.tau_rc * log(x);
		double e = fabs(ref[i] - want);
		worst = e > worst ? e : worst;
		ck_assert(v[i] == 0.0f);
	}
	ck_assert_msg(worst <= 2e-8, "spike time off by %g s (%s)", worst,
		      ncp_simd_name());
	free(v);
	free(v0);
	free(J);
	free(ref);
	free(spk);
}
END_TEST

START_TEST(partial_step_matches_expm1)
{
	/* Neurons whose refractory period ends inside the step integrate for
	 * dt_eff = 2 dt - ref: ncp_simd_lif's factor against expm1 in double,
	 * and the full step and the refractory ones exactly. */
	enum { N = 203 };
	const double dt = 0.001, tau = 0.02;
	const struct ncp_simd_lif_k k = {
		.dt = (float)dt, .vmin = 0.0f, .inv_tau_rc = (float)(1 / tau),
		.decay = (float)-expm1(-dt / tau), .tau_rc = (float)tau,
		.tau_ref = 0.002f,
	};
	float *v = calloc(N + 16, sizeof(float));
	float *J = calloc(N + 16, sizeof(float));
	float *ref = calloc(N + 16, sizeof(float));
	uint32_t *spk = calloc(N + 16, sizeof(uint32_t));
	double want[N];
	for (int i = 0; i < N; i++) {
		ref[i] = (float)(3.0 * dt * i / N);	/* [0, 3 dt) */
		v[i] = 0.5f;
		J[i] = 0.9f;
		double d = fmin(fmax(2 * dt - ref[i], 0.0), dt);
		want[i] = 0.5 + 0.4 * -expm1(-d / tau);
	}
	ck_assert_int_eq(ncp_simd_lif(v, ref, J, N, &k, spk), 0);
	for (int i = 0; i < N; i++) {
		ncp_ck_near(v[i], want[i], 1e-7);
		if (ref[i] == 0.0f && want[i] > 0.5 + 0.4 * 0.0487)
			ck_assert(v[i] == 0.5f + (0.9f - 0.5f) * k.decay);
	}
	free(v);
	free(J);
	free(ref);
	free(spk);
}
END_TEST

START_TEST(spike_list_is_sorted_and_complete)
{
	const int n = 1003; /* not a multiple of 8 */
	struct ncp_rng rng;
	struct ncp_lif lif;
	ncp_rng_seed(&rng, 9);
	ck_assert_int_eq(ncp_lif_init(&lif, n, &ncp_lif_default, 0.001, &rng), 0);
	float *J = calloc((size_t)n + 16, sizeof(float));
	for (int i = 0; i < n; i++)
		J[i] = (float)(i % 7 == 0 ? 30.0 : 1.5);
	for (int s = 0; s < 50; s++) {
		float before[1024];
		memcpy(before, lif.v, sizeof(float) * (size_t)n);
		ncp_lif_step(&lif, J);
		for (int k = 1; k < lif.n_spikes; k++)
			ck_assert_uint_lt(lif.spikes[k - 1], lif.spikes[k]);
		for (int k = 0; k < lif.n_spikes; k++) {
			ck_assert_uint_lt(lif.spikes[k], (unsigned)n);
			ck_assert(lif.v[lif.spikes[k]] == 0.0f);
		}
	}
	free(J);
	ncp_lif_fini(&lif);
}
END_TEST

START_TEST(gain_bias_give_back_rate_and_intercept)
{
	const double rates[] = { 10, 200, 300, 400, 450 };
	const double icepts[] = { -0.99, -0.5, 0.0, 0.3, 0.95 };
	for (size_t a = 0; a < NCP_ARRAY_SIZE(rates); a++)
		for (size_t b = 0; b < NCP_ARRAY_SIZE(icepts); b++) {
			double g, bias;
			ck_assert_int_eq(ncp_lif_gain_bias(&ncp_lif_default, rates[a],
							   icepts[b], &g, &bias), 0);
			ncp_ck_near(ncp_lif_rate(&ncp_lif_default, g + bias),
				    rates[a], 1e-9 * rates[a]);
			/* Threshold current 1 exactly at the intercept. */
			ncp_ck_near(g * icepts[b] + bias, 1.0, 1e-12);
			ck_assert(ncp_lif_rate(&ncp_lif_default,
					       g * (icepts[b] - 1e-6) + bias) == 0.0);
			ck_assert(ncp_lif_rate(&ncp_lif_default,
					       g * (icepts[b] + 1e-3) + bias) > 0.0);
		}
	double g, bias;
	ck_assert_int_eq(ncp_lif_gain_bias(&ncp_lif_default, 600, 0, &g, &bias),
			 -EDOM); /* above 1/tau_ref */
	ck_assert_int_eq(ncp_lif_gain_bias(&ncp_lif_default, 200, 1.0, &g, &bias),
			 -EDOM);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("lif");
	TCase *tc = tcase_create("lif");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, rate_matches_formula);
	tcase_add_test(tc, matches_reference_step_by_step);
	tcase_add_test(tc, spike_time_matches_double);
	tcase_add_test(tc, partial_step_matches_expm1);
	tcase_add_test(tc, spike_list_is_sorted_and_complete);
	tcase_add_test(tc, gain_bias_give_back_rate_and_intercept);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
