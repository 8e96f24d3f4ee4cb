/* ncpctl's reading of replies: pairs, text, errors, malformed lines, and
 * the human and JSON renderings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/ncp_ctlfmt.h"
#include "tests/ncp_check.h"

static struct ncp_ctlfmt_reply r;

/* Render line as JSON or for people (stdout and stderr
 * joined as "OUT|ERR"). */
static const char *render(const char *line, bool json)
{
	static char result[2 * NCP_CTLFMT_LINE_MAX];
	char *o = NULL, *e = NULL;
	size_t on = 0, en = 0;
	FILE *out = open_memstream(&o, &on), *err = open_memstream(&e, &en);

	ck_assert_int_eq(ncp_ctlfmt_parse(line, &r), 0);
	if (json)
		ck_assert_int_eq(ncp_ctlfmt_json(&r, out), 0);
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
			 "{\"ok\":true,\"text\":\"say \\\"hi\\\"\\\\\"}\n");
	ck_assert_str_eq(render("ok loop.step=12000 loop.paused=true arm.q=0.1,-2e-05 "
				"x=nan task.kind=centre-out v.mixed=1,a v.z=-0 "
				"v.bad=01 v.dot=1. v.inf=-inf,1 v.e=",
				true),
			 "{\"ok\":true,\"x\":null,"
			 "\"loop\":{\"step\":12000,\"paused\":true},"
			 "\"arm\":{\"q\":[0.1,-2e-05]},"
			 "\"task\":{\"kind\":\"centre-out\"},"
			 "\"v\":{\"mixed\":\"1,a\",\"z\":-0,\"bad\":\"01\","
			 "\"dot\":\"1.\",\"inf\":[null,1],\"e\":\"\"}}\n");
	ck_assert_str_eq(render("err EACCES can't \"x\"", true),
			 "{\"ok\":false,\"code\":\"EACCES\",\"message\":"
			 "\"can't \\\"x\\\"\"}\n");
}
END_TEST

/* Every command's reply as the daemon sends it (daemon/ncp_control.c):
 * key a.b is at .a.b, never under the command's name as well. */
START_TEST(json_shape_of_every_reply)
{
	static const struct {
		const char *reply, *json;
	} cases[] = {
		{ "ok target.xy=0.1,0.45", "{\"ok\":true,\"target\":{\"xy\":[0.1,0.45]}}" },
		{ "ok save.path=/d/m.safetensors save.params=774 save.checksum=00ff",
		  "{\"ok\":true,\"save\":{\"path\":\"/d/m.safetensors\","
		  "\"params\":774,\"checksum\":\"00ff\"}}" },
		{ "ok record.name=run1", "{\"ok\":true,\"record\":{\"name\":\"run1\"}}" },
		{ "ok record.name=run1 record.steps=2000",
		  "{\"ok\":true,\"record\":{\"name\":\"run1\",\"steps\":2000}}" },
		{ "ok emulator.model=m", "{\"ok\":true,\"emulator\":{\"model\":\"m\"}}" },
		{ "ok train.online=true train.updates=3 train.loss=nan",
		  "{\"ok\":true,\"train\":{\"online\":true,\"updates\":3,\"loss\":null}}" },
		{ "ok task.period=2", "{\"ok\":true,\"task\":{\"period\":2}}" },
		{ "ok seed=7", "{\"ok\":true,\"seed\":7}" },
		{ "ok loop.step=1 record.active=false train.online=false",
		  "{\"ok\":true,\"loop\":{\"step\":1},\"record\":{\"active\":false},"
		  "\"train\":{\"online\":false}}" },
		{ "ok", "{\"ok\":true}" },
		{ "ok commands: target task", "{\"ok\":true,\"text\":\"commands: target task\"}" },
	};
	char want[512];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(want, sizeof(want), "%s\n", cases[i].json);
		ck_assert_str_eq(render(cases[i].reply, true), want);
	}
}
END_TEST

START_TEST(json_is_valid_whatever_the_reply_holds)
{
	/* A key is written once: repeats, a key named like a section or
	 * "ok" are left out of the JSON (people still see them). */
	ck_assert_str_eq(render("ok a=1 a=2 b.x=1 b.x=2 b=3 ok=4 ok.y=5", true),
			 "{\"ok\":true,\"a\":1,\"b\":{\"x\":1}}\n");
	/* A number past a double's range is not finite: null. */
	ck_assert_str_eq(render("ok a.big=1e999 a.v=1,-1e400", true),
			 "{\"ok\":true,\"a\":{\"big\":null,\"v\":[1,null]}}\n");
	/* Bytes that are not UTF-8 become U+FFFD, control characters are
	 * escaped. */
	ck_assert_str_eq(render("ok a.b=x\xff" "y c=\x01", true),
			 "{\"ok\":true,\"c\":\"\\u0001\",\"a\":{\"b\":\"x\\ufffdy\"}}\n");
	ck_assert_str_eq(render("err EIO disk \xc3", true),
			 "{\"ok\":false,\"code\":\"EIO\",\"message\":\"disk \\ufffd\"}\n");
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("ctlfmt");
	TCase *tc = tcase_create("replies");
	tcase_add_test(tc, parses_replies);
	tcase_add_test(tc, human_output);
	tcase_add_test(tc, json_output);
	tcase_add_test(tc, json_shape_of_every_reply);
	tcase_add_test(tc, json_is_valid_whatever_the_reply_holds);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
