/* ncpctl's reading of replies: pairs, text, errors, malformed lines, and
 * the human and JSON renderings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/ncp_ctlfmt.h"
#include "tests/ncp_check.h"

static struct ncp_ctlfmt_reply r;

/* Render line as JSON (topic "t") or for people (stdout and stderr
 * joined as "OUT|ERR"). */
static const char *render(const char *line, bool json)
{
	static char result[2 * NCP_CTLFMT_LINE_MAX];
	char *o = NULL, *e = NULL;
	size_t on = 0, en = 0;
	FILE *out = open_memstream(&o, &on), *err = open_memstream(&e, &en);

	ck_assert_int_eq(ncp_ctlfmt_parse(line, &r), 0);
	if (json)
		ncp_ctlfmt_json(&r, "t", out);
	else
		ncp_ctlfmt_human(&r, "ncpctl", out, err);
	fclose(out);
	fclose(err);
	snprintf(result, sizeof(result), json ? "%s" : "%s|%s", o, e);
	free(o);
	free(e);
	return result;
}

START_TEST(parses_replies)
{
	ck_assert_int_eq(ncp_ctlfmt_parse("ok", &r), 0);
	ck_assert(r.ok && r.npairs == 0 && !r.text[0]);
	ck_assert_int_eq(ncp_ctlfmt_parse("ok a.b=1 c=x,y", &r), 0);
	ck_assert_uint_eq(r.npairs, 2);
	ck_assert_str_eq(r.pairs[0].key, "a.b");
	ck_assert_str_eq(r.pairs[0].value, "1");
	ck_assert_str_eq(r.pairs[1].key, "c");
	ck_assert_str_eq(r.pairs[1].value, "x,y");
	ck_assert_int_eq(ncp_ctlfmt_parse("ok k=v=w e=", &r), 0);
	ck_assert_str_eq(r.pairs[0].value, "v=w");
	ck_assert_str_eq(r.pairs[1].value, "");
	/* Prose, not pairs: kept whole. */
	ck_assert_int_eq(ncp_ctlfmt_parse("ok commands: a=b c", &r), 0);
	ck_assert_uint_eq(r.npairs, 0);
	ck_assert_str_eq(r.text, "commands: a=b c");
	ck_assert_int_eq(ncp_ctlfmt_parse("ok a=1  b=2", &r), 0);
	ck_assert_str_eq(r.text, "a=1  b=2");
	ck_assert_int_eq(ncp_ctlfmt_parse("ok a=1 ", &r), 0);
	ck_assert_uint_eq(r.npairs, 0);
	ck_assert_int_eq(ncp_ctlfmt_parse("ok =1", &r), 0);
	ck_assert_uint_eq(r.npairs, 0);

	ck_assert_int_eq(ncp_ctlfmt_parse("err EINVAL bad thing", &r), 0);
	ck_assert(!r.ok);
	ck_assert_str_eq(r.code, "EINVAL");
	ck_assert_str_eq(r.message, "bad thing");
	ck_assert_int_eq(ncp_ctlfmt_parse("err E2BIG", &r), 0);
	ck_assert_str_eq(r.code, "E2BIG");
	ck_assert_str_eq(r.message, "");

	ck_assert_int_eq(ncp_ctlfmt_parse("", &r), -EBADMSG);
	ck_assert_int_eq(ncp_ctlfmt_parse("okay", &r), -EBADMSG);
	ck_assert_int_eq(ncp_ctlfmt_parse("err", &r), -EBADMSG);
	ck_assert_int_eq(ncp_ctlfmt_parse("err einval x", &r), -EBADMSG);
	ck_assert_int_eq(ncp_ctlfmt_parse("err EINVAL: x", &r), -EBADMSG);
	ck_assert_int_eq(ncp_ctlfmt_parse("hello", &r), -EBADMSG);
}
END_TEST

START_TEST(human_output)
{
	ck_assert_str_eq(render("ok", false), "ok\n|");
	ck_assert_str_eq(render("ok some text", false), "some text\n|");
	ck_assert_str_eq(render("ok a.x=1 b.y=2 top=3 a.z=4,5", false),
			 "top: 3\na:\n  x: 1\n  z: 4,5\nb:\n  y: 2\n|");
	ck_assert_str_eq(render("ok a.b.c=1", false), "a:\n  b.c: 1\n|");
	ck_assert_str_eq(render("err ENOENT no such model 'm'", false),
			 "|ncpctl: no such model 'm' (ENOENT)\n");
	ck_assert_str_eq(render("err EIO", false), "|ncpctl: EIO\n");
}
END_TEST

START_TEST(json_output)
{
	ck_assert_str_eq(render("ok", true), "{\"ok\":true}\n");
	ck_assert_str_eq(render("ok say \"hi\"\\", true),
			 "{\"ok\":true,\"t\":\"say \\\"hi\\\"\\\\\"}\n");
	ck_assert_str_eq(render("ok loop.step=12000 loop.paused=true arm.q=0.1,-2e-05 "
				"x=nan task.kind=centre-out v.mixed=1,a v.z=-0 "
				"v.bad=01 v.dot=1. v.inf=-inf,1 v.e=",
				true),
			 "{\"ok\":true,\"t\":{\"x\":null,"
			 "\"loop\":{\"step\":12000,\"paused\":true},"
			 "\"arm\":{\"q\":[0.1,-2e-05]},"
			 "\"task\":{\"kind\":\"centre-out\"},"
			 "\"v\":{\"mixed\":\"1,a\",\"z\":-0,\"bad\":\"01\","
			 "\"dot\":\"1.\",\"inf\":[null,1],\"e\":\"\"}}}\n");
	ck_assert_str_eq(render("err EACCES can't \"x\"", true),
			 "{\"ok\":false,\"code\":\"EACCES\",\"message\":"
			 "\"can't \\\"x\\\"\"}\n");
}
END_TEST

START_TEST(topics)
{
	char t[16];

	ncp_ctlfmt_topic("status", t, sizeof(t));
	ck_assert_str_eq(t, "status");
	ncp_ctlfmt_topic("  train status\n", t, sizeof(t));
	ck_assert_str_eq(t, "train");
	ncp_ctlfmt_topic("", t, sizeof(t));
	ck_assert_str_eq(t, "reply");
	ncp_ctlfmt_topic("we\"ird x", t, sizeof(t));
	ck_assert_str_eq(t, "reply");
	ncp_ctlfmt_topic("averyveryverylongword", t, sizeof(t));
	ck_assert_str_eq(t, "reply");
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("ctlfmt");
	TCase *tc = tcase_create("replies");
	tcase_add_test(tc, parses_replies);
	tcase_add_test(tc, human_output);
	tcase_add_test(tc, json_output);
	tcase_add_test(tc, topics);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
