/* Shared by the Check suites: one suite per file, run by NCP_CHECK_MAIN. */
#ifndef NCP_CHECK_H
#define NCP_CHECK_H

#include <check.h>
#include <stdio.h>
#include <stdlib.h>

/* Each test_<module>.c defines `static Suite *make_suite(void)` and ends
 * with NCP_CHECK_MAIN(make_suite).  Exit status: 0 when every test passed. */
#define NCP_CHECK_MAIN(make)                                             \
	int main(void)                                                   \
	{                                                                \
		SRunner *sr = srunner_create(make());                    \
		srunner_run_all(sr, CK_NORMAL);                          \
		int failed = srunner_ntests_failed(sr);                  \
		srunner_free(sr);                                        \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS;             \
	}

/* |a - b| <= tol, with both values in the failure message. */
#define ncp_ck_near(a, b, tol)                                           \
	do {                                                             \
		double a_ = (a), b_ = (b), t_ = (tol);                   \
		ck_assert_msg(fabs(a_ - b_) <= t_,                       \
			      "%s = %.9g, %s = %.9g, differ by %.3g > %.3g", \
			      #a, a_, #b, b_, fabs(a_ - b_), t_);        \
	} while (0)

#endif
