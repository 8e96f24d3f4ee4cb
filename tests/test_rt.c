/* The real-time clock and thread set-up: warnings that fit their buffer
 * (whole or cut), keeping a thread off a CPU, and the free-run clock's
 * accounting. */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ncp_rt.h"
#include "tests/ncp_check.h"

/* A CPU no machine running the tests has: pinning to it fails, which
 * makes ncp_rt_setup_thread write a warning.  Normal policy, so the test
 * needs no privilege.  (Check runs each test in its own process, so the
 * timer slack it sets does not outlive the test.) */
static const struct ncp_rt_params no_such_cpu = {
	.period = 0.001, .priority = 0, .cpu = 1023, .catchup = 0.1,
};

START_TEST(warning_fits_a_large_buffer)
{
	char warn[256];
	memset(warn, 'x', sizeof(warn));
	ck_assert(!ncp_rt_setup_thread(&no_such_cpu, warn, sizeof(warn)));
	/* The trailing "; " separator is dropped from the last warning. */
	ck_assert_str_eq(warn, "cannot pin to CPU 1023 (Invalid argument)");
}
END_TEST

/* A buffer too small for the warning gets its start, NUL-terminated
 * inside the buffer; nothing past the buffer is written. */
START_TEST(warning_is_cut_within_a_small_buffer)
{
	static const size_t sizes[] = { 1, 2, 3, 8, 16, 40, 41, 42, 43 };
	const char *full = "cannot pin to CPU 1023 (Invalid argument)";

	/* A heap buffer of the exact size (AddressSanitizer builds also
	 * catch a write past it). */
	char *small = malloc(8);
	ck_assert_ptr_nonnull(small);
	ncp_rt_setup_thread(&no_such_cpu, small, 8);
	ck_assert_uint_lt(strnlen(small, 8), 8);
	free(small);

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		char buf[128];
		memset(buf, 'x', sizeof(buf));
		ncp_rt_setup_thread(&no_such_cpu, buf, len);
		size_t n = strnlen(buf, len);
		ck_assert_msg(n < len, "size %zu: not terminated inside", len);
		/* What is there is the warning's beginning. */
		ck_assert_msg(strncmp(buf, full, n) == 0, "size %zu: '%s'", len,
			      buf);
		/* All of it that fits, less a cut separator or a space. */
		size_t fits = len - 1 < strlen(full) ? len - 1 : strlen(full);
		ck_assert_msg(n <= fits && n + 2 >= fits, "size %zu: %zu bytes kept",
			      len, n);
		ck_assert_msg(n == 0 || (buf[n - 1] != ' ' && buf[n - 1] != ';'),
			      "size %zu: ends in a separator: '%s'", len, buf);
		for (size_t k = len; k < sizeof(buf); k++)
			ck_assert_msg(buf[k] == 'x', "size %zu: byte %zu written",
				      len, k);
	}
	/* No buffer at all. */
	ncp_rt_setup_thread(&no_such_cpu, NULL, 0);
}
END_TEST

START_TEST(free_run_clock_never_sleeps_nor_is_late)
{
	struct ncp_rt_params p = { .period = 0.001, .free_run = true,
				   .cpu = -1, .catchup = 0.1 };
	struct ncp_rt_clock c;

	ncp_rt_clock_init(&c, &p);
	ncp_rt_clock_start(&c);
	for (int i = 0; i < 1000; i++) {
		ncp_rt_clock_wait(&c);
		ncp_rt_clock_done(&c);
	}
	/* Every step was timed; no wake-up was (only a sleep adds one). */
	ck_assert_uint_eq(c.steps, 1000);
	ck_assert_uint_eq(c.cost.count, 1000);
	ck_assert_uint_eq(c.jitter.count, 0);
	ck_assert_uint_eq(c.catchup_steps, 0);
	ck_assert_uint_eq(c.overruns, 0);
	ck_assert_uint_eq(c.slips, 0);
}
END_TEST

static void allowed(cpu_set_t *set)
{
	ck_assert_int_eq(pthread_getaffinity_np(pthread_self(), sizeof(*set), set), 0);
}

/* (Check runs each test in its own process: the affinity set here does
 * not outlive the test.) */
START_TEST(keep_off_cpu_leaves_the_other_cpus)
{
	cpu_set_t all, now;
	allowed(&all);
	int first = -1, second = -1;
	for (int i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &all))
			continue;
		if (first < 0)
			first = i;
		else if (second < 0)
			second = i;
	}
	ck_assert_int_ge(first, 0);
	ck_assert_int_eq(ncp_rt_keep_off_cpu(-1), 1);
	ck_assert_int_eq(ncp_rt_keep_off_cpu(CPU_SETSIZE), 1);
	if (second < 0) {
		/* One CPU allowed: the thread stays on it. */
		ck_assert_int_eq(ncp_rt_keep_off_cpu(first), 1);
		allowed(&now);
		ck_assert(CPU_EQUAL(&now, &all));
		return;
	}
	ck_assert_int_eq(ncp_rt_keep_off_cpu(first), 0);
	allowed(&now);
	ck_assert(!CPU_ISSET(first, &now));
	ck_assert_int_eq(CPU_COUNT(&now), CPU_COUNT(&all) - 1);
	/* Already off it: nothing to do. */
	ck_assert_int_eq(ncp_rt_keep_off_cpu(first), 1);
	/* Down to one CPU, the thread stays there. */
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(second, &one);
	ck_assert_int_eq(pthread_setaffinity_np(pthread_self(), sizeof(one), &one), 0);
	ck_assert_int_eq(ncp_rt_keep_off_cpu(second), 1);
	allowed(&now);
	ck_assert(CPU_EQUAL(&now, &one));
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("rt");
	TCase *tc = tcase_create("rt");
	tcase_add_test(tc, warning_fits_a_large_buffer);
	tcase_add_test(tc, warning_is_cut_within_a_small_buffer);
	tcase_add_test(tc, free_run_clock_never_sleeps_nor_is_late);
	tcase_add_test(tc, keep_off_cpu_leaves_the_other_cpus);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
