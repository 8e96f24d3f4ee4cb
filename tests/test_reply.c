/* The reply builder: pairs, vectors, text, errors, and its limits. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "daemon/ncp_reply.h"
#include "tests/ncp_check.h"

START_TEST(ok_and_pairs)
{
	struct ncp_reply r;
	double hand[2] = { 0.012, 1.251 };
	double odd[3] = { NAN, INFINITY, -0.0 };

	ncp_reply_init(&r);
	ck_assert_str_eq(r.line, "ok");
	ck_assert_uint_eq(r.len, 2);
	ncp_reply_uint(&r, "loop.step", 12000);
	ncp_reply_int(&r, "loop.overruns", -3);
	ncp_reply_num(&r, "loop.sim_time", 12.0);
	ncp_reply_vec(&r, "arm.hand", hand, 2);
	ncp_reply_str(&r, "task.kind", "centre-out");
	ncp_reply_bool(&r, "loop.paused", false);
	ncp_reply_num(&r, "x.third", 1.0 / 3.0);
	ncp_reply_vec(&r, "x.odd", odd, 3);
	ncp_reply_vec(&r, "x.empty", odd, 0);
	ncp_reply_str(&r, "x.spaced", "two words\nand\tmore");
	ck_assert_str_eq(r.line,
			 "ok loop.step=12000 loop.overruns=-3 loop.sim_time=12 "
			 "arm.hand=0.012,1.251 task.kind=centre-out "
			 "loop.paused=false x.third=0.333333333 "
			 "x.odd=nan,inf,0 x.empty= x.spaced=two_words_and_more");
	ck_assert_uint_eq(r.len, strlen(r.line));
	ck_assert(!r.is_err);
}
END_TEST

START_TEST(text_payload)
{
	struct ncp_reply r;

	ncp_reply_init(&r);
	ncp_reply_text(&r, "commands: %s\nnext", "a b");
	ck_assert_str_eq(r.line, "ok commands: a b next");
	ck_assert(r.has_text);
	ncp_reply_init(&r);
	ncp_reply_text(&r, "%s", "");
	ck_assert_str_eq(r.line, "ok");
	ck_assert_uint_eq(r.len, 2);
}
END_TEST

START_TEST(errors)
{
	struct ncp_reply r;

	ncp_reply_init(&r);
	ncp_reply_uint(&r, "a.b", 1);
	ck_assert_int_eq(ncp_reply_err(&r, ENOSPC, "disk full: %s", "data"),
			 -ENOSPC);
	ck_assert_str_eq(r.line, "err ENOSPC disk full: data");
	ck_assert(r.is_err);
	ncp_reply_uint(&r, "c.d", 2); /* ignored once an error */
	ck_assert_str_eq(r.line, "err ENOSPC disk full: data");
	ck_assert_int_eq(ncp_reply_err(&r, -EACCES, "line1\nline2\r"), -EACCES);
	ck_assert_str_eq(r.line, "err EACCES line1 line2");
	ck_assert_int_eq(ncp_reply_err(&r, -EBUSY, "%s", ""), -EBUSY);
	ck_assert_str_eq(r.line, "err EBUSY");
	ck_assert_int_eq(ncp_reply_err(&r, 0, "zero"), -EIO);
	ck_assert_str_eq(r.line, "err EIO zero");
	ck_assert_str_eq(ncp_reply_errname(-EPROTO), "EPROTO");
	ck_assert_str_eq(ncp_reply_errname(E2BIG), "E2BIG");
	ck_assert_str_eq(ncp_reply_errname(100000), "EIO");
}
END_TEST

START_TEST(limits)
{
	struct ncp_reply r;
	static char big[NCP_REPLY_MAX * 2];
	double v[600];

	/* Fill to just under the limit: still ok. */
	ncp_reply_init(&r);
	memset(big, 'v', sizeof(big));
	big[NCP_REPLY_MAX - 1 - 2 - 5] = '\0'; /* "ok" + " k.k=" */
	ncp_reply_str(&r, "k.k", big);
	ck_assert(!r.is_err);
	ck_assert_uint_eq(r.len, NCP_REPLY_MAX - 1);
	ck_assert_uint_eq(strlen(r.line), NCP_REPLY_MAX - 1);
	/* One more byte is too long. */
	ncp_reply_str(&r, "x", "");
	ck_assert(r.is_err);
	ck_assert_str_eq(r.line, "err E2BIG reply longer than 4096 bytes");

	for (int i = 0; i < 600; i++)
		v[i] = 1.0 / 7.0;
	ncp_reply_init(&r);
	ncp_reply_vec(&r, "v.v", v, 600);
	ck_assert(r.is_err);
	ck_assert_uint_eq(r.len, strlen(r.line));

	/* An over-long error message is cut, still one line. */
	big[3000] = '\n';
	big[sizeof(big) - 1] = '\0';
	ncp_reply_err(&r, EINVAL, "%s", big);
	ck_assert_uint_eq(r.len, NCP_REPLY_MAX - 1);
	ck_assert_uint_eq(strlen(r.line), NCP_REPLY_MAX - 1);
	ck_assert(!strchr(r.line, '\n'));
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("reply");
	TCase *tc = tcase_create("build");
	tcase_add_test(tc, ok_and_pairs);
	tcase_add_test(tc, text_payload);
	tcase_add_test(tc, errors);
	tcase_add_test(tc, limits);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
