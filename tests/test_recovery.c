/* The co-processor experiment's shared pieces (daemon/ncp_recovery.h): the
 * observation and the white-noise exploration bench_stim_effects --en
 * trains its EN on. */
#include <math.h>
#include <string.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_recovery.h"
#include "daemon/ncp_sim.h"
#include "tests/ncp_check.h"

static void lesioned_config(struct ncp_config *c)
{
	char err[256];
	ncp_config_defaults(c);
	ck_assert_int_eq(ncp_config_set(c, "task.kind=random", err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_set(c, "lesion.kind=pmc-m1", err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_set(c, "lesion.fraction=1", err, sizeof(err)), 0);
}

/* The observation is the recording electrodes, then q, dq and the hand
 * after the last step. */
START_TEST(observe_layout)
{
	struct ncp_config c;
	struct ncp_sim s;
	char err[256];
	float obs[NCP_CPN_OBS(NCP_CPN_MAX_ELECTRODES)];
	int R;

	lesioned_config(&c);
	ck_assert_int_eq(ncp_sim_init(&s, &c, 64, err, sizeof(err)), 0);
	for (int k = 0; k < 200; k++)
		ncp_sim_step(&s);
	const float *rec = ncp_reach_rec(s.reach, &R);
	ck_assert_int_eq(R, c.reach.rec.electrodes);
	ncp_recovery_observe(&s, R, obs);
	ck_assert(memcmp(obs, rec, (size_t)R * sizeof(float)) == 0);
	for (int k = 0; k < 2; k++) {
		ck_assert(obs[R + k] == (float)s.arm.q[k]);
		ck_assert(obs[R + 2 + k] == (float)s.arm.dq[k]);
		ck_assert(obs[R + 4 + k] == (float)s.arm.hand[k]);
	}
	ncp_sim_fini(&s);
}
END_TEST

/* Two seconds of exploration: a sample every 5 steps whose arm 100 steps
 * on is within the run, the currents stimulating within alpha_max, the
 * same samples from the same seeds and others from another seed; data
 * made for other electrode counts refused with the reason. */
START_TEST(explore_samples)
{
	struct ncp_config c;
	struct ncp_recovery_opts o;
	struct ncp_cpn_data d1, d2, d3, bad;
	char err[256];

	lesioned_config(&c);
	ncp_recovery_opts_default(&o);
	struct ncp_task_params tp = c.task;
	int R = c.reach.rec.electrodes, E = c.reach.stim.electrodes;
	ck_assert_int_eq(ncp_cpn_data_init(&d1, R, E, 1000), 0);
	ck_assert_int_eq(ncp_cpn_data_init(&d2, R, E, 1000), 0);
	ck_assert_int_eq(ncp_cpn_data_init(&d3, R, E, 1000), 0);
	ck_assert_int_eq(ncp_recovery_explore(&c, &o, &tp, 2, 7, &d1, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_recovery_explore(&c, &o, &tp, 2, 7, &d2, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_recovery_explore(&c, &o, &tp, 2, 8, &d3, err, sizeof(err)), 0);
	/* Steps t = 0, 5, ..., with t + H - 1 < 2000. */
	size_t want = (size_t)((2000 - o.train.horizon) / o.sample_every + 1);
	ck_assert_uint_eq(d1.n, want);
	ck_assert_uint_eq(d2.n, want);
	double amax = fmin(o.spec.alpha_max, c.reach.stim.max), big = 0;
	for (size_t i = 0; i < d1.n * (size_t)E; i++) {
		ck_assert(fabs(d1.alpha[i]) <= amax * (1 + 1e-6));
		big = fmax(big, fabs(d1.alpha[i]));
	}
	ck_assert(big > 0.5 * amax);
	ck_assert(memcmp(d1.obs, d2.obs, d1.n * NCP_CPN_OBS(R) * sizeof(float)) == 0);
	ck_assert(memcmp(d1.alpha, d2.alpha, d1.n * (size_t)E * sizeof(float)) == 0);
	ck_assert(memcmp(d1.future, d2.future, d1.n * 6 * sizeof(float)) == 0);
	ck_assert(memcmp(d1.alpha, d3.alpha, d1.n * (size_t)E * sizeof(float)) != 0);
	ck_assert_int_eq(ncp_cpn_data_init(&bad, R + 1, E, 10), 0);
	ck_assert_int_ne(ncp_recovery_explore(&c, &o, &tp, 1, 7, &bad, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "recording") != NULL, "%s", err);
	ck_assert_uint_eq(bad.n, 0);
	ncp_cpn_data_fini(&d1);
	ncp_cpn_data_fini(&d2);
	ncp_cpn_data_fini(&d3);
	ncp_cpn_data_fini(&bad);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("recovery");
	TCase *tc = tcase_create("recovery");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, observe_layout);
	tcase_add_test(tc, explore_samples);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
