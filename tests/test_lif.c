#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/nef/ncp_lif.h"
#include "tests/ncp_check.h"

/* nef.md's LIF, one neuron, in double precision: the reference. */
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
	/* A varying input (including below threshold and negative): the
	 * spike steps must agree and voltages stay within float precision. */
	const double dt = 0.001;
	struct ncp_rng rng;
	struct ncp_lif lif;
	ncp_rng_seed(&rng, 5);
	ck_assert_int_eq(ncp_lif_init(&lif, 1, &ncp_lif_default, dt, &rng), 0);
	struct ref_neuron ref = { lif.v[0], 0.0 };
	float J[16] = { 0 };
	int spikes = 0;
	for (int s = 0; s < 20000; s++) {
		J[0] = (float)(6.0 * sin(s * 0.003) + 3.0 * sin(s * 0.031));
		ncp_lif_step(&lif, J);
		bool want = ref_step(&ref, J[0], dt);
		ck_assert_msg((lif.n_spikes == 1) == want, "step %d: spike %d vs "
			      "reference %d", s, lif.n_spikes, want);
		spikes += want;
		ncp_ck_near(lif.v[0], ref.v, 2e-4);
		ck_assert(lif.v[0] >= 0.0f);
	}
	ck_assert_int_gt(spikes, 500);
	ncp_lif_fini(&lif);
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
	tcase_add_test(tc, spike_list_is_sorted_and_complete);
	tcase_add_test(tc, gain_bias_give_back_rate_and_intercept);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
