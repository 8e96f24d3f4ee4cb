#include <math.h>

#include "models/base/ncp_base.h"
#include "models/reach/ncp_task.h"
#include "tests/ncp_check.h"

START_TEST(centre_out_sequence)
{
	struct ncp_task_params p;
	struct ncp_task t;
	ncp_task_params_default(&p);
	ck_assert_int_eq(ncp_task_init(&t, &p, 0.001, 0), 0);
	double xy[2];
	int ends = 0;
	for (uint64_t s = 0; s < 16000; s++) {
		ncp_task_target(&t, s, xy);
		uint64_t k = s / 1000;
		if (k % 2 == 0) {
			ncp_ck_near(xy[0], 0.0, 1e-12);
			ncp_ck_near(xy[1], 1.25, 1e-12);
		} else {
			double a = 2 * M_PI * (double)(k / 2) / 8;
			ncp_ck_near(xy[0], 0.25 * cos(a), 1e-12);
			ncp_ck_near(xy[1], 1.25 + 0.25 * sin(a), 1e-12);
		}
		if (ncp_task_period_ends(&t, s)) {
			ck_assert_uint_eq(s % 1000, 999);
			ends++;
		}
	}
	ck_assert_int_eq(ends, 16);
}
END_TEST

START_TEST(random_targets_in_disc_and_seeded)
{
	struct ncp_task_params p;
	struct ncp_task a, b, c;
	ncp_task_params_default(&p);
	p.kind = NCP_TASK_RANDOM;
	p.period = 0.5;
	ncp_task_init(&a, &p, 0.001, 0);
	ncp_task_init(&b, &p, 0.001, 0);
	p.seed = 2;
	ncp_task_init(&c, &p, 0.001, 0);
	int differ = 0;
	double far = 0;
	for (uint64_t s = 0; s < 200000; s += 500) {
		double xa[2], xb[2], xc[2];
		ncp_task_target(&a, s, xa);
		ncp_task_target(&b, s, xb);
		ncp_task_target(&c, s, xc);
		ck_assert(xa[0] == xb[0] && xa[1] == xb[1]);
		differ += xa[0] != xc[0];
		double r = hypot(xa[0], xa[1] - 1.25);
		ck_assert(r <= 0.3 + 1e-12);
		far = fmax(far, r);
	}
	ck_assert_int_gt(differ, 390);
	ck_assert(far > 0.28); /* covers the disc, not just its middle */
}
END_TEST

START_TEST(manual_holds_target)
{
	struct ncp_task_params p;
	struct ncp_task t;
	ncp_task_params_default(&p);
	p.kind = NCP_TASK_MANUAL;
	ncp_task_init(&t, &p, 0.001, 100);
	double xy[2];
	ncp_task_target(&t, 100, xy);
	ncp_ck_near(xy[1], 1.25, 1e-12);
	ncp_task_set_target(&t, (double[2]){ 0.1, 1.1 });
	ncp_task_target(&t, 5000, xy);
	ncp_ck_near(xy[0], 0.1, 1e-12);
	ncp_ck_near(xy[1], 1.1, 1e-12);
	enum ncp_task_kind k;
	ck_assert_int_eq(ncp_task_kind_parse("random", &k), 0);
	ck_assert_int_eq(k, NCP_TASK_RANDOM);
	ck_assert_int_lt(ncp_task_kind_parse("sideways", &k), 0);
	p.period = 0;
	ck_assert_int_lt(ncp_task_init(&t, &p, 0.001, 0), 0);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("task");
	TCase *tc = tcase_create("task");
	tcase_add_test(tc, centre_out_sequence);
	tcase_add_test(tc, random_targets_in_disc_and_seeded);
	tcase_add_test(tc, manual_holds_target);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
