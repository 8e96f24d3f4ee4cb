#include <stdbool.h>
#include <string.h>

#include "models/base/ncp_utf8.h"
#include "tests/ncp_check.h"

/* Whether s is valid; *bad is where it stops being valid. */
static bool utf8(const char *s, size_t *bad)
{
	*bad = ncp_utf8_check(s, strlen(s));
	return *bad == strlen(s);
}

START_TEST(validation)
{
	size_t bad = 99;

	ck_assert(utf8("plain ascii", &bad));
	ck_assert(utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", &bad));
	ck_assert(utf8("\xed\x9f\xbf", &bad));		/* U+D7FF */
	ck_assert(utf8("\xee\x80\x80", &bad));		/* U+E000 */
	ck_assert(utf8("\xf4\x8f\xbf\xbf", &bad));	/* U+10FFFF */
	ck_assert(utf8("\xc2\x80", &bad));		/* U+0080 */
	ck_assert(utf8("\xe0\xa0\x80", &bad));		/* U+0800 */
	ck_assert(utf8("\xf0\x90\x80\x80", &bad));	/* U+10000 */

	/* Overlong forms. */
	ck_assert(!utf8("ab\xc0\xaf", &bad) && bad == 2);	/* '/' in 2 */
	ck_assert(!utf8("\xc1\xbf", &bad) && bad == 0);
	ck_assert(!utf8("x\xe0\x80\xaf", &bad) && bad == 1);	/* '/' in 3 */
	ck_assert(!utf8("\xe0\x9f\xbf", &bad) && bad == 0);	/* U+07FF in 3 */
	ck_assert(!utf8("\xf0\x80\x80\xaf", &bad) && bad == 0);
	ck_assert(!utf8("\xf0\x8f\xbf\xbf", &bad) && bad == 0); /* U+FFFF in 4 */
	/* Surrogates. */
	ck_assert(!utf8("\xed\xa0\x80", &bad) && bad == 0);	/* U+D800 */
	ck_assert(!utf8("a\xed\xbf\xbf", &bad) && bad == 1);	/* U+DFFF */
	/* Beyond U+10FFFF, bytes that never occur. */
	ck_assert(!utf8("\xf4\x90\x80\x80", &bad) && bad == 0);
	ck_assert(!utf8("\xf5\x80\x80\x80", &bad));
	ck_assert(!utf8("\xfe", &bad));
	ck_assert(!utf8("\xff", &bad));
	/* Stray continuation, truncated sequences, bad continuation. */
	ck_assert(!utf8("abc\x80", &bad) && bad == 3);
	ck_assert(!utf8("\xc3", &bad) && bad == 0);
	ck_assert(!utf8("\xe2\x82", &bad) && bad == 0);
	ck_assert(!utf8("\xf0\x9f\x98", &bad) && bad == 0);
	ck_assert(!utf8("\xc3(", &bad) && bad == 0);
	ck_assert(!utf8("\xe2\x82(", &bad));
}
END_TEST

START_TEST(sequence_lengths)
{
	ck_assert_uint_eq(ncp_utf8_len("a", 1), 1);
	ck_assert_uint_eq(ncp_utf8_len("\xc3\xa9", 2), 2);
	ck_assert_uint_eq(ncp_utf8_len("\xe2\x82\xac", 3), 3);
	ck_assert_uint_eq(ncp_utf8_len("\xf0\x9f\x98\x80", 4), 4);
	/* Only the bytes available count: a sequence cut by n is invalid. */
	ck_assert_uint_eq(ncp_utf8_len("\xe2\x82\xac", 2), 0);
	ck_assert_uint_eq(ncp_utf8_len("\x80", 1), 0);
}
END_TEST

START_TEST(utf8_check_finds_the_first_bad_byte)
{
	ck_assert_uint_eq(ncp_utf8_check("", 0), 0);
	ck_assert_uint_eq(ncp_utf8_check("a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 10), 10);
	ck_assert_uint_eq(ncp_utf8_check("\xf4\x8f\xbf\xbf", 4), 4);	/* U+10FFFF */
	ck_assert_uint_eq(ncp_utf8_check("ab\xff", 3), 2);
	ck_assert_uint_eq(ncp_utf8_check("a\xc3", 2), 1);		/* cut short */
	ck_assert_uint_eq(ncp_utf8_check("a\xc1\xbf", 3), 1);		/* overlong */
	ck_assert_uint_eq(ncp_utf8_check("a\xe0\x9f\xbf", 4), 1);	/* overlong */
	ck_assert_uint_eq(ncp_utf8_check("\xed\xbf\xbf", 3), 0);	/* surrogate */
	ck_assert_uint_eq(ncp_utf8_check("\xf4\x90\x80\x80", 4), 0);	/* > U+10FFFF */
	ck_assert_uint_eq(ncp_utf8_check("a\0b", 3), 3);		/* NUL is valid */
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, validation);
	tcase_add_test(tc, sequence_lengths);
	tcase_add_test(tc, utf8_check_finds_the_first_bad_byte);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
