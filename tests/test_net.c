#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/nef/ncp_net.h"
#include "tests/ncp_check.h"

static void sine(double t, const float *in, float *out, void *ctx)
{
	out[0] = (float)(0.8 * sin(2 * M_PI * t));
}

START_TEST(lowpass_step_response)
{
	const double dt = 0.001;
	const double taus[] = { 0.005, 0.02, 0.1 };
	char err[200];
	for (size_t k = 0; k < NCP_ARRAY_SIZE(taus); k++) {
		struct ncp_net *net = ncp_net_new(dt);
		int src = ncp_net_node(net, "one", 0, 1, NULL, NULL);
		int dst = ncp_net_node(net, "probe", 1, 1, NULL, NULL);
		ck_assert_int_ge(ncp_net_connect(net, &(struct ncp_conn_spec){
			.src = src, .dst = dst, .tau = taus[k] }, err, sizeof(err)), 0);
		ck_assert_int_eq(ncp_net_finalize(net), 0);
		ncp_net_output(net, src)[0] = 1.0f;
		/* A synapse delivers last step's filter output: after step s
		 * (1-based) the probe holds 1 - exp(-(s - 1) dt / tau). */
		for (int s = 1; s <= 1000; s++) {
			ncp_net_step(net);
			double want = 1.0 - exp(-(s - 1) * dt / taus[k]);
			ncp_ck_near(ncp_net_output(net, dst)[0], want, 2e-6);
		}
		ncp_net_free(net);
	}
}
END_TEST

/* Nengo's Alpha(tau) discretised with a zero-order hold is exact at the
 * steps for a held input: the step response 1 - (1 + t/tau) exp(-t/tau),
 * one step late as every synapse.  A lowpass of the same tau misses it
 * (the second order matters). */
START_TEST(alpha_step_response)
{
	const double dt = 0.001;
	const double taus[] = { 0.002, 0.005, 0.05 };
	char err[200];
	for (size_t k = 0; k < NCP_ARRAY_SIZE(taus); k++) {
		struct ncp_net *net = ncp_net_new(dt);
		int src = ncp_net_node(net, "one", 0, 1, NULL, NULL);
		int dst = ncp_net_node(net, "probe", 2, 2, NULL, NULL);
		ck_assert_int_ge(ncp_net_connect(net, &(struct ncp_conn_spec){
			.src = src, .dst = dst, .dst_lo = 0, .dst_dims = 1,
			.tau = taus[k], .alpha = true }, err, sizeof(err)), 0);
		ck_assert_int_ge(ncp_net_connect(net, &(struct ncp_conn_spec){
			.src = src, .dst = dst, .dst_lo = 1, .dst_dims = 1,
			.tau = taus[k] }, err, sizeof(err)), 0);
		ck_assert_int_eq(ncp_net_finalize(net), 0);
		ncp_net_output(net, src)[0] = 1.0f;
		double worst_lowpass = 0;
		for (int round = 0; round < 2; round++) {
			for (int s = 1; s <= 500; s++) {
				ncp_net_step(net);
				double t = (s - 1) * dt / taus[k];
				double want = 1.0 - (1.0 + t) * exp(-t);
				const float *y = ncp_net_output(net, dst);
				ncp_ck_near(y[0], want, 2e-6);
				worst_lowpass = fmax(worst_lowpass,
						     fabs(y[1] - want));
			}
			ncp_net_reset(net); /* the same again from rest */
		}
		ck_assert(worst_lowpass > 0.1);
		ncp_net_free(net);
	}
}
END_TEST

START_TEST(direct_connection_same_step)
{
	char err[200];
	struct ncp_net *net = ncp_net_new(0.001);
	int a = ncp_net_node(net, "a", 0, 2, NULL, NULL);
	int b = ncp_net_node(net, "b", 2, 2, NULL, NULL);
	float T[4] = { 0, 2, -1, 0 };
	ck_assert_int_ge(ncp_net_connect(net, &(struct ncp_conn_spec){
		.src = a, .dst = b, .transform = T }, err, sizeof(err)), 0);
	/* Backwards without a synapse is refused: it would read stale data. */
	ck_assert_int_lt(ncp_net_connect(net, &(struct ncp_conn_spec){
		.src = b, .dst = b }, err, sizeof(err)), 0);
	ck_assert(strstr(err, "forward") != NULL);
	ck_assert_int_lt(ncp_net_connect(net, &(struct ncp_conn_spec){
		.src = a, .dst = b, .dst_lo = 1 }, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_net_finalize(net), 0);
	ncp_net_output(net, a)[0] = 3.0f;
	ncp_net_output(net, a)[1] = 5.0f;
	ncp_net_step(net);
	ncp_ck_near(ncp_net_output(net, b)[0], 10.0, 1e-6);
	ncp_ck_near(ncp_net_output(net, b)[1], -3.0, 1e-6);
	ncp_net_free(net);
}
END_TEST

START_TEST(ensemble_array_represents_input)
{
	char err[200];
	struct ncp_net *net = ncp_net_new(0.001);
	struct ncp_ens_spec s;
	int in, out;
	ncp_ens_spec_default(&s, 50, 1);
	s.seed = 21;
	int src = ncp_net_node(net, "src", 0, 6, NULL, NULL);
	ck_assert_int_eq(ncp_net_ens_array(net, "arr", 6, &s, &in, &out, err,
					   sizeof(err)), 0);
	int probe = ncp_net_node(net, "probe", 6, 6, NULL, NULL);
	ncp_net_connect(net, &(struct ncp_conn_spec){ .src = src, .dst = in },
			err, sizeof(err));
	ncp_net_connect(net, &(struct ncp_conn_spec){ .src = out, .dst = probe,
			.tau = 0.01 }, err, sizeof(err));
	ck_assert_int_eq(ncp_net_finalize(net), 0);
	ck_assert_int_eq(ncp_net_neurons(net), 300);
	const float x[6] = { -0.8f, -0.4f, 0.0f, 0.2f, 0.5f, 0.9f };
	memcpy(ncp_net_output(net, src), x, sizeof(x));
	double sum[6] = { 0 };
	for (int step = 0; step < 1000; step++) {
		ncp_net_step(net);
		if (step >= 500)
			for (int i = 0; i < 6; i++)
				sum[i] += ncp_net_output(net, probe)[i] / 500.0;
	}
	for (int i = 0; i < 6; i++)
		ncp_ck_near(sum[i], x[i], 0.06);
	ncp_net_free(net);
}
END_TEST

static void square1(const double *x, double *y, void *ctx)
{
	y[0] = x[0] * x[0];
}

START_TEST(ensemble_array_equals_ensembles_apart)
{
	/* The array runs its ensembles as one population; built apart (an
	 * input node, six ensembles with the array's seeds, an output node),
	 * they must give the same output, bit for bit, step after step. */
	char err[200];
	struct ncp_ens_spec s;
	ncp_ens_spec_default(&s, 50, 1);
	s.seed = 77;
	struct ncp_net *a = ncp_net_new(0.001), *b = ncp_net_new(0.001);
	int in_a, out_a;
	int src_a = ncp_net_node(a, "src", 0, 6, NULL, NULL);
	ck_assert_int_eq(ncp_net_ens_array(a, "arr", 6, &s, &in_a, &out_a, err,
					   sizeof(err)), 0);
	ncp_net_connect(a, &(struct ncp_conn_spec){ .src = src_a, .dst = in_a },
			err, sizeof(err));
	int src_b = ncp_net_node(b, "src", 0, 6, NULL, NULL);
	int in_b = ncp_net_node(b, "in", 6, 6, NULL, NULL);
	int ens[6];
	for (int i = 0; i < 6; i++) {
		struct ncp_ens_spec si = s;
		si.seed = ncp_rng_derive(s.seed, (uint64_t)i);
		ens[i] = ncp_net_ensemble(b, "e", &si, err, sizeof(err));
		ck_assert_int_ge(ens[i], 0);
		ck_assert_int_ge(ncp_net_connect(b, &(struct ncp_conn_spec){
			.src = in_b, .dst = ens[i], .src_lo = i, .src_dims = 1 },
			err, sizeof(err)), 0);
	}
	int out_b = ncp_net_node(b, "out", 6, 6, NULL, NULL);
	for (int i = 0; i < 6; i++)
		ck_assert_int_ge(ncp_net_connect(b, &(struct ncp_conn_spec){
			.src = ens[i], .dst = out_b, .dst_lo = i, .dst_dims = 1 },
			err, sizeof(err)), 0);
	ncp_net_connect(b, &(struct ncp_conn_spec){ .src = src_b, .dst = in_b },
			err, sizeof(err));
	/* An array decodes nothing but its identity. */
	int arr = ncp_net_find(a, "arr");
	ck_assert_int_ge(arr, 0);
	int probe = ncp_net_node(a, "probe", 1, 1, NULL, NULL);
	ck_assert_int_lt(ncp_net_connect(a, &(struct ncp_conn_spec){
		.src = arr, .dst = probe, .function = square1, .src_dims = 1,
		.tau = 0.01 }, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "identity only"), "%s", err);
	ck_assert_int_eq(ncp_net_finalize(a), 0);
	ck_assert_int_eq(ncp_net_finalize(b), 0);
	ck_assert_int_eq(ncp_net_neurons(a), ncp_net_neurons(b));
	long spikes = 0;
	for (int step = 0; step < 600; step++) {
		float x[6];
		for (int i = 0; i < 6; i++)
			x[i] = (float)sin(0.004 * step * (i + 1) + i);
		memcpy(ncp_net_output(a, src_a), x, sizeof(x));
		memcpy(ncp_net_output(b, src_b), x, sizeof(x));
		ncp_net_step(a);
		ncp_net_step(b);
		ck_assert(memcmp(ncp_net_output(a, out_a), ncp_net_output(b, out_b),
				 sizeof(float) * 6) == 0);
		spikes += ncp_net_ens(a, arr)->lif.n_spikes;
	}
	ck_assert_int_gt(spikes, 10000);
	ncp_net_free(a);
	ncp_net_free(b);
}
END_TEST

static void zero2(const double *x, double *y, void *ctx)
{
	y[0] = 0.0;
}

START_TEST(pes_learns_identity)
{
	/* An ensemble starts decoding 0 and learns to decode its input from
	 * the error (decoded - target), as Nengo's PES does. */
	char err[200];
	struct ncp_net *net = ncp_net_new(0.001);
	struct ncp_ens_spec s;
	ncp_ens_spec_default(&s, 200, 1);
	s.seed = 31;
	int src = ncp_net_node(net, "src", 0, 1, sine, NULL);
	int ens = ncp_net_ensemble(net, "ens", &s, err, sizeof(err));
	int out = ncp_net_node(net, "out", 1, 1, NULL, NULL);
	int error = ncp_net_node(net, "error", 1, 1, NULL, NULL);
	ncp_net_connect(net, &(struct ncp_conn_spec){ .src = src, .dst = ens },
			err, sizeof(err));
	int learn = ncp_net_connect(net, &(struct ncp_conn_spec){
		.src = ens, .dst = out, .function = zero2, .src_dims = 1,
		.tau = 0.01, .pes_rate = 1e-3, .pes_err = error }, err, sizeof(err));
	ck_assert_int_ge(learn, 0);
	/* error = out - src */
	ncp_net_connect(net, &(struct ncp_conn_spec){ .src = out, .dst = error,
			.tau = 0.01 }, err, sizeof(err));
	ncp_net_connect(net, &(struct ncp_conn_spec){ .src = src, .dst = error,
			.weight = -1, .tau = 0.01 }, err, sizeof(err));
	ck_assert_int_eq(ncp_net_finalize(net), 0);
	/* Without learning the error is the target itself: RMS 0.8/sqrt(2). */
	const double untrained = 0.8 / sqrt(2.0);
	double first = 0, last = 0;
	for (int step = 0; step < 20000; step++) {
		ncp_net_step(net);
		double e = ncp_net_output(net, error)[0];
		if (step < 1000)
			first += e * e / 1000;
		if (step >= 19000)
			last += e * e / 1000;
	}
	first = sqrt(first);
	last = sqrt(last);
	printf("PES: error RMS first second %.3f, last second %.3f\n", first,
	       last);
	ck_assert_msg(last < 0.15 * untrained, "last second %.3f vs untrained "
		      "%.3f", last, untrained);
	/* Reset restores the decoders as built. */
	ncp_net_reset(net);
	const float *D = ncp_net_decoders(net, learn);
	for (int i = 0; i < 200; i++)
		ncp_ck_near(D[i], 0.0, 1e-6);
	ncp_net_free(net);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("net");
	TCase *tc = tcase_create("net");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, lowpass_step_response);
	tcase_add_test(tc, alpha_step_response);
	tcase_add_test(tc, direct_connection_same_step);
	tcase_add_test(tc, ensemble_array_represents_input);
	tcase_add_test(tc, ensemble_array_equals_ensembles_apart);
	tcase_add_test(tc, pes_learns_identity);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
