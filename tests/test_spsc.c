/* The SPSC queue on one thread: sizes, full and empty, order, drops. */
#include <errno.h>
#include <string.h>

#include "daemon/ncp_spsc.h"
#include "tests/ncp_check.h"

START_TEST(rejects_bad_sizes)
{
	errno = 0;
	ck_assert_ptr_null(ncp_spsc_new(0, 8));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_null(ncp_spsc_new(1, 8));
	ck_assert_ptr_null(ncp_spsc_new(6, 8));
	ck_assert_ptr_null(ncp_spsc_new(8, 0));
	ck_assert_ptr_null(ncp_spsc_new((size_t)1 << 62, 64));
	ncp_spsc_free(NULL);
}
END_TEST

START_TEST(fills_empties_and_counts_drops)
{
	struct ncp_spsc *q = ncp_spsc_new(4, 13); /* odd record size */
	unsigned char rec[13], out[13];

	ck_assert_ptr_nonnull(q);
	ck_assert_uint_eq(ncp_spsc_capacity(q), 4);
	ck_assert(!ncp_spsc_try_pop(q, out));
	for (int i = 0; i < 4; i++) {
		memset(rec, 'a' + i, sizeof(rec));
		ck_assert(ncp_spsc_try_push(q, rec));
	}
	ck_assert_uint_eq(ncp_spsc_count(q), 4);
	memset(rec, 'z', sizeof(rec));
	ck_assert(!ncp_spsc_try_push(q, rec));
	ck_assert(!ncp_spsc_try_push(q, rec));
	ck_assert_uint_eq(ncp_spsc_drops(q), 2);
	for (int i = 0; i < 4; i++) {
		memset(out, 0, sizeof(out));
		ck_assert(ncp_spsc_try_pop(q, out));
		for (size_t k = 0; k < sizeof(out); k++)
			ck_assert_int_eq(out[k], 'a' + i);
	}
	ck_assert(!ncp_spsc_try_pop(q, out));
	ck_assert_uint_eq(ncp_spsc_count(q), 0);
	ck_assert_uint_eq(ncp_spsc_drops(q), 2);
	ncp_spsc_free(q);
}
END_TEST

START_TEST(wraps_in_order)
{
	struct ncp_spsc *q = ncp_spsc_new(8, sizeof(uint64_t));
	uint64_t next_in = 0, next_out = 0, v;

	ck_assert_ptr_nonnull(q);
	/* Uneven bursts so the indices pass the end of the ring often. */
	for (int round = 0; round < 10000; round++) {
		int push = 1 + round % 7, pop = 1 + (round * 5) % 6;
		for (int i = 0; i < push; i++)
			if (ncp_spsc_try_push(q, &next_in))
				next_in++;
		for (int i = 0; i < pop && ncp_spsc_try_pop(q, &v); i++)
			ck_assert_uint_eq(v, next_out++);
	}
	while (ncp_spsc_try_pop(q, &v))
		ck_assert_uint_eq(v, next_out++);
	ck_assert_uint_eq(next_in, next_out);
	ck_assert(next_out > 20000);
	ncp_spsc_free(q);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("spsc");
	TCase *tc = tcase_create("single-thread");
	tcase_add_test(tc, rejects_bad_sizes);
	tcase_add_test(tc, fills_empties_and_counts_drops);
	tcase_add_test(tc, wraps_in_order);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
