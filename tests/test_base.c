#include <errno.h>
#include <math.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_blas.h"
#include "models/base/ncp_rng.h"
#include "tests/ncp_check.h"

START_TEST(rng_is_reproducible_and_uniform)
{
	struct ncp_rng a, b;
	ncp_rng_seed(&a, 42);
	ncp_rng_seed(&b, 42);
	double sum = 0, sum2 = 0;
	int n = 200000;
	for (int i = 0; i < n; i++) {
		double x = ncp_rng_uniform(&a);
		ck_assert(x == ncp_rng_uniform(&b));
		ck_assert(x >= 0.0 && x < 1.0);
		sum += x;
		sum2 += x * x;
	}
	ncp_ck_near(sum / n, 0.5, 0.005);
	ncp_ck_near(sum2 / n - (sum / n) * (sum / n), 1.0 / 12, 0.002);
	ck_assert(ncp_rng_derive(1, 2) != ncp_rng_derive(1, 3));
	ck_assert(ncp_rng_derive(1, 2) == ncp_rng_derive(1, 2));
}
END_TEST

START_TEST(rng_normal_moments)
{
	struct ncp_rng r;
	ncp_rng_seed(&r, 7);
	double sum = 0, sum2 = 0;
	int n = 200000;
	for (int i = 0; i < n; i++) {
		double x = ncp_rng_normal(&r);
		sum += x;
		sum2 += x * x;
	}
	ncp_ck_near(sum / n, 0.0, 0.01);
	ncp_ck_near(sum2 / n, 1.0, 0.01);
}
END_TEST

/* Denormals survive by default and are flushed after the call, both as
 * results (1e-39 * 1) and as operands (1e-39 > 0 no longer holds). */
START_TEST(denormals_flushed_on_request)
{
	volatile float tiny = 1e-39f, one = 1.0f, zero = 0.0f;
	volatile float y = tiny * one;
	ck_assert_msg(y != 0.0f, "denormals flushed before the call");
	ncp_fp_flush_denormals();
	y = tiny * one;
	ck_assert_msg(y == 0.0f, "1e-39 * 1 = %g after the call", (double)y);
	ck_assert_msg(!(tiny > zero), "a denormal operand was not read as 0");
}
END_TEST

START_TEST(errf_writes_the_message_and_returns_the_code)
{
	char err[16];

	ck_assert_int_eq(ncp_errf(err, sizeof(err), "bad %s", "thing"), -EINVAL);
	ck_assert_str_eq(err, "bad thing");
	errno = 0;
	ck_assert_int_eq(ncp_errf_code(err, sizeof(err), EPROTO, "x=%d", 3),
			 -EPROTO);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_str_eq(err, "x=3");
	/* Cut to fit; a NULL buffer is allowed. */
	ncp_errf(err, 4, "abcdef");
	ck_assert_str_eq(err, "abc");
	ck_assert_int_eq(ncp_errf_code(NULL, 0, ENOENT, "y"), -ENOENT);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("base");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, rng_is_reproducible_and_uniform);
	tcase_add_test(tc, rng_normal_moments);
	tcase_add_test(tc, denormals_flushed_on_request);
	tcase_add_test(tc, errf_writes_the_message_and_returns_the_code);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
