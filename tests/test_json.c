#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_json.h"
#include "tests/ncp_check.h"

/* Finish j, compare with want, free. */
static void json_is(struct ncp_json *j, const char *want)
{
	ck_assert_int_eq(ncp_json_finish(j), 0);
	ck_assert_str_eq(j->buf, want);
	ncp_json_fini(j);
}

START_TEST(json_nesting_and_commas)
{
	struct ncp_json j;

	ncp_json_init(&j);
	ncp_json_obj(&j);
	ncp_json_key(&j, "a");
	ncp_json_int(&j, 1);
	ncp_json_key(&j, "b");
	ncp_json_arr(&j);
	ncp_json_int(&j, 1);
	ncp_json_int(&j, -2);
	ncp_json_obj(&j);
	ncp_json_key(&j, "c");
	ncp_json_null(&j);
	ncp_json_end(&j);
	ncp_json_arr(&j);
	ncp_json_end(&j);
	ncp_json_end(&j);
	ncp_json_key(&j, "d");
	ncp_json_str(&j, "x");
	ncp_json_key(&j, "e");
	ncp_json_bool(&j, true);
	ncp_json_key(&j, "f");
	ncp_json_obj(&j);
	ncp_json_end(&j);
	ncp_json_end(&j);
	json_is(&j, "{\"a\":1,\"b\":[1,-2,{\"c\":null},[]],\"d\":\"x\","
		    "\"e\":true,\"f\":{}}");
}
END_TEST

START_TEST(json_strings_escaped)
{
	struct ncp_json j;

	ncp_json_init(&j);
	ncp_json_arr(&j);
	ncp_json_str(&j, "q\"b\\n\nt\tc\x01 \xc3\xa9");
	ncp_json_str(&j, NULL);
	ncp_json_end(&j);
	json_is(&j, "[\"q\\\"b\\\\n\\nt\\tc\\u0001 \xc3\xa9\",null]");
}
END_TEST

START_TEST(json_numbers_exact)
{
	static const double xs[] = { 0.1, 1.0 / 3, -2.5e-300, 1e300, 123456789.125,
				     0.6112905622683099, 5e-324 };
	struct ncp_json j;

	ncp_json_init(&j);
	ncp_json_arr(&j);
	ncp_json_uint(&j, UINT64_MAX);
	ncp_json_int(&j, INT64_MIN);
	ncp_json_num(&j, NAN);
	ncp_json_num(&j, -INFINITY);
	ncp_json_num_exact(&j, 0.1);
	ncp_json_num_exact(&j, 1);
	ncp_json_end(&j);
	json_is(&j, "[18446744073709551615,-9223372036854775808,null,null,"
		    "0.1,1]");

	/* Every double reads back as itself. */
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		ncp_json_init(&j);
		ncp_json_num_exact(&j, xs[i]);
		ck_assert_int_eq(ncp_json_finish(&j), 0);
		ck_assert_msg(strtod(j.buf, NULL) == xs[i], "%s != %.17g",
			      j.buf, xs[i]);
		ncp_json_fini(&j);
	}
}
END_TEST

START_TEST(json_misuse_reported)
{
	struct ncp_json j;

	ncp_json_init(&j); /* nothing written */
	ck_assert_int_eq(ncp_json_finish(&j), -EINVAL);
	ncp_json_fini(&j);

	ncp_json_init(&j); /* unbalanced */
	ncp_json_obj(&j);
	ck_assert_int_eq(ncp_json_finish(&j), -EINVAL);
	ncp_json_fini(&j);

	ncp_json_init(&j); /* a key in an array */
	ncp_json_arr(&j);
	ncp_json_key(&j, "k");
	ncp_json_end(&j);
	ck_assert_int_eq(ncp_json_finish(&j), -EINVAL);
	ncp_json_fini(&j);

	ncp_json_init(&j); /* a value without a key */
	ncp_json_obj(&j);
	ncp_json_int(&j, 3);
	ncp_json_end(&j);
	ck_assert_int_eq(ncp_json_finish(&j), -EINVAL);
	ncp_json_fini(&j);

	ncp_json_init(&j); /* a key without a value */
	ncp_json_obj(&j);
	ncp_json_key(&j, "k");
	ncp_json_end(&j);
	ck_assert_int_eq(ncp_json_finish(&j), -EINVAL);
	ncp_json_fini(&j);

	ncp_json_init(&j); /* two documents */
	ncp_json_int(&j, 1);
	ncp_json_int(&j, 2);
	ck_assert_int_eq(ncp_json_finish(&j), -EINVAL);
	ncp_json_fini(&j);

	ncp_json_init(&j); /* too deep */
	for (int i = 0; i <= NCP_JSON_MAX_DEPTH; i++)
		ncp_json_arr(&j);
	for (int i = 0; i <= NCP_JSON_MAX_DEPTH; i++)
		ncp_json_end(&j);
	ck_assert_int_eq(ncp_json_finish(&j), -EINVAL);
	ncp_json_fini(&j);
}
END_TEST

START_TEST(json_grows)
{
	struct ncp_json j;

	ncp_json_init(&j);
	ncp_json_arr(&j);
	for (int i = 0; i < 10000; i++)
		ncp_json_int(&j, i);
	ncp_json_end(&j);
	ck_assert_int_eq(ncp_json_finish(&j), 0);
	ck_assert_uint_eq(strlen(j.buf), j.len);
	ck_assert(!strncmp(j.buf, "[0,1,2,", 7));
	ck_assert(!strcmp(j.buf + j.len - 10, ",9998,9999]"  + 1));
	ncp_json_fini(&j);
}
END_TEST


START_TEST(json_writer_nests_and_escapes)
{
	struct ncp_json j;
	ncp_json_init(&j);
	ncp_json_obj(&j);
	ncp_json_key(&j, "a");
	ncp_json_int(&j, -3);
	ncp_json_key(&j, "list");
	ncp_json_arr(&j);
	ncp_json_num(&j, 0.25);
	ncp_json_num(&j, NAN);
	ncp_json_obj(&j);
	ncp_json_key(&j, "s");
	ncp_json_str(&j, "q\"\\\n\x01");
	ncp_json_end(&j);
	ncp_json_end(&j);
	ncp_json_key(&j, "t");
	ncp_json_bool(&j, true);
	ncp_json_end(&j);
	ck_assert_int_eq(ncp_json_finish(&j), 0);
	ck_assert_str_eq(j.buf, "{\"a\":-3,\"list\":[0.25,null,{\"s\":"
				"\"q\\\"\\\\\\n\\u0001\"}],\"t\":true}");
	ncp_json_fini(&j);

	ncp_json_init(&j);
	ncp_json_obj(&j);
	ck_assert_int_eq(ncp_json_finish(&j), -EINVAL); /* unclosed */
	ncp_json_fini(&j);
}
END_TEST

START_TEST(invalid_utf8_becomes_replacement_characters)
{
	struct ncp_json j;

	/* A stray continuation byte, a cut sequence, an encoded surrogate:
	 * each invalid byte is one U+FFFD, valid text around them stays. */
	ncp_json_init(&j);
	ncp_json_arr(&j);
	ncp_json_str(&j, "a\x80" "b");
	ncp_json_str(&j, "\xc3\xa9\xe2\x82");
	ncp_json_str(&j, "\xed\xa0\x80");
	ncp_json_str_n(&j, "k\0z", 3);
	ncp_json_end(&j);
	json_is(&j, "[\"a\\ufffdb\",\"\xc3\xa9\\ufffd\\ufffd\","
		    "\"\\ufffd\\ufffd\\ufffd\",\"k\\u0000z\"]");

	ncp_json_init(&j);
	ncp_json_obj(&j);
	ncp_json_key_n(&j, "sect.name", 4);
	ncp_json_num(&j, -0.0);
	ncp_json_end(&j);
	json_is(&j, "{\"sect\":0}");
}
END_TEST

START_TEST(quote_for_messages)
{
	char buf[16];
	ncp_json_quote(buf, sizeof(buf), "a\"b\n", 4);
	ck_assert_str_eq(buf, "\"a\\\"b\\u000a\"");
	ncp_json_quote(buf, sizeof(buf), "abcdefghijklmnopqrstuvwxyz", 26);
	ck_assert_str_eq(buf, "\"abcdefghij...\"");
	ck_assert_uint_le(strlen(buf), sizeof(buf) - 1);
	/* A cut never splits a UTF-8 sequence. */
	ncp_json_quote(buf, sizeof(buf), "abcdefghi\xe2\x82\xac", 12);
	ck_assert_str_eq(buf, "\"abcdefghi...\"");
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("writer");
	tcase_add_test(tc, json_nesting_and_commas);
	tcase_add_test(tc, json_strings_escaped);
	tcase_add_test(tc, json_numbers_exact);
	tcase_add_test(tc, json_misuse_reported);
	tcase_add_test(tc, json_grows);
	tcase_add_test(tc, json_writer_nests_and_escapes);
	tcase_add_test(tc, invalid_utf8_becomes_replacement_characters);
	tcase_add_test(tc, quote_for_messages);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
