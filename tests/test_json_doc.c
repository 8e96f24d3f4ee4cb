/* Reading JSON documents (jansson under our limits): valid documents come
 * back in document order; every kind of bad input is refused with its
 * line, column and what was wrong; the typed getters name the key. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_json.h"
#include "models/io/ncp_json_doc.h"
#include "tests/ncp_check.h"

static json_t *parse(const char *s, char *err, size_t errlen)
{
	return ncp_json_doc_parse(s, strlen(s), NULL, NULL, err, errlen);
}

START_TEST(values_in_document_order)
{
	char err[256] = "";
	const char *text = " {\"z\": [1, {\"b\": [[], {}]}, true],\n"
			   "  \"a\": null, \"m\": \"x\\u00e9\\ud83d\\ude00\", \"f\": -2.5e-3,"
			   " \"i\": -9223372036854775808}\n";
	json_t *root = parse(text, err, sizeof(err));
	ck_assert_msg(root, "%s", err);
	static const char *order[] = { "z", "a", "m", "f", "i" };
	const char *key;
	json_t *v;
	size_t k = 0;
	json_object_foreach(root, key, v)
		ck_assert_str_eq(key, order[k++]);
	ck_assert_uint_eq(k, 5);
	ck_assert(json_is_true(json_array_get(json_object_get(root, "z"), 2)));
	ck_assert_str_eq(json_string_value(json_object_get(root, "m")),
			 "x\xc3\xa9\xf0\x9f\x98\x80");
	ck_assert(json_real_value(json_object_get(root, "f")) == -2.5e-3);
	ck_assert(json_integer_value(json_object_get(root, "i")) == INT64_MIN);
	json_decref(root);
}
END_TEST

struct bad {
	const char *text;
	size_t len;	/* 0: strlen(text) */
	const char *where, *what;
};

static const struct bad bad_docs[] = {
	{ "", 0, "line 1, column 1: ", "unexpected token" },
	{ "  \n  ", 0, "line 2, column 2: ", "unexpected token" },
	{ "[1,]", 0, "line 1, column 4: ", "unexpected token" },
	{ "{\"a\":1,}", 0, "line 1, column 8: ", "string or '}' expected" },
	{ "{1:2}", 0, "line 1, column 2: ", "string or '}' expected" },
	{ "{\"a\" 1}", 0, "line 1, column 6: ", "':' expected" },
	{ "[1 2]", 0, "line 1, column 4: ", "']' expected" },
	{ "{\"a\":1 \"b\":2}", 0, "line 1, column 10: ", "'}' expected" },
	{ "[1", 0, "line 1, column 2: ", "']' expected" },
	{ "01", 0, "line 1, column 1: ", "invalid token" },
	{ "-", 0, "line 1, column 1: ", "invalid token" },
	{ "-a", 0, "line 1, column 1: ", "invalid token" },
	{ "1.", 0, "line 1, column 2: ", "invalid token" },
	{ "1.e5", 0, "line 1, column 2: ", "invalid token" },
	{ "1e+", 0, "line 1, column 3: ", "invalid token" },
	{ ".5", 0, "line 1, column 1: ", "invalid token" },
	{ "+1", 0, "line 1, column 1: ", "invalid token" },
	{ "[1e400]", 0, "line 1, column 6: ", "real number overflow" },
	{ "NaN", 0, "line 1, column 3: ", "invalid token" },
	{ "tru", 0, "line 1, column 3: ", "invalid token" },
	{ "nul", 0, "line 1, column 3: ", "invalid token" },
	{ "\"abc", 0, "line 1, column 4: ", "premature end of input" },
	{ "\"a\tb\"", 0, "line 1, column 2: ", "control character 0x9" },
	{ "\"a\nb\"", 0, "line 1, column 2: ", "unexpected newline" },
	{ "\"\\x\"", 0, "line 1, column 3: ", "invalid escape" },
	{ "\"\\", 0, "line 1, column 2: ", "invalid escape" },
	{ "\"\\u12G4\"", 0, "line 1, column 6: ", "invalid escape" },
	{ "\"\\u12", 0, "line 1, column 5: ", "invalid escape" },
	{ "\"\\ud800\"", 0, "line 1, column 8: ", "invalid Unicode '\\uD800'" },
	{ "\"\\udc00\"", 0, "line 1, column 8: ", "invalid Unicode '\\uDC00'" },
	{ "\"\\ud800\\u0041\"", 0, "line 1, column 14: ", "invalid Unicode '\\uD800\\u0041'" },
	{ "\"\xc0\x80\"", 0, "line 1, column 1: ", "unable to decode byte 0xc0" },
	{ "\"\xed\xa0\x80\"", 0, "line 1, column 1: ", "unable to decode byte 0xed" },
	{ "\"\xf4\x90\x80\x80\"", 0, "line 1, column 1: ", "unable to decode byte 0xf4" },
	{ "\"\xe2\x82\"", 0, "line 1, column 1: ", "unable to decode byte 0xe2" },
	{ "\"\x80\"", 0, "line 1, column 1: ", "unable to decode byte 0x80" },
	{ "\"\xc3\xa9\" x", 0, "line 1, column 5: ", "end of file expected" },
	{ "[\"\xf0\x9f\x98\x80\", \"\\q\"]", 0, "line 1, column 9: ", "invalid escape" },
	{ "[1] [2]", 0, "line 1, column 5: ", "end of file expected" },
	{ "{\"a\":1,\"a\":2}", 0, "line 1, column 10: ", "duplicate object key" },
	{ "\xef\xbb\xbf{}", 0, "line 1, column 1: ", "a byte order mark is not allowed in JSON" },
	{ "/* c */ 1", 0, "line 1, column 1: ", "invalid token" },
	{ "[1]\0", 4, "line 1, column 4: ", "a NUL byte is not allowed in JSON" },
	{ "{\n  \"a\": [1,\n    2,,\n  ]\n}", 0, "line 3, column 7: ", "unexpected token" },
	{ "\r\n\t[\r\n x]", 0, "line 3, column 2: ", "invalid token" },
	{ "\"a\\u0000b\"", 0, "line 1, column 10: ", "\\u0000 (a NUL character) is not allowed in strings" },
	{ "{\"\\u0000\":1}", 0, "line 1, column 9: ", "NUL byte in object key not supported" },
	{ "[9223372036854775808]", 0, "line 1, column 20: ", "too big integer" },
	{ "[-9223372036854775809]", 0, "line 1, column 21: ", "too big negative integer" },
};

START_TEST(every_error_with_line_and_column)
{
	const struct bad *b = &bad_docs[_i];
	char err[256] = "", want[256];
	size_t len = b->len ? b->len : strlen(b->text);
	errno = 0;
	json_t *root = ncp_json_doc_parse(b->text, len, NULL, NULL, err,
					  sizeof(err));
	ck_assert_msg(!root, "case %d parsed", _i);
	ck_assert_int_eq(errno, EINVAL);
	snprintf(want, sizeof(want), "%s%s", b->where, b->what);
	ck_assert_msg(!strncmp(err, want, strlen(want)),
		      "case %d:\n got  %s\n want %s...", _i, err, want);
}
END_TEST

START_TEST(limits_and_names)
{
	char text[512], err[256];
	size_t n = 0;

	/* Size: E2BIG before reading anything. */
	struct ncp_json_doc_limits small = { .max_bytes = 4 };
	errno = 0;
	ck_assert_ptr_null(ncp_json_doc_parse("[1,2]", 5, "h.json", &small, err,
					      sizeof(err)));
	ck_assert_int_eq(errno, E2BIG);
	ck_assert_str_eq(err, "h.json: 5 bytes of JSON exceed the limit of 4 bytes");

	/* Depth: the default 64 levels pass, 65 do not, and the message says
	 * where the 65th opens. */
	for (int i = 0; i < 64; i++)
		text[n++] = '[';
	for (int i = 0; i < 64; i++)
		text[n++] = ']';
	json_t *root = ncp_json_doc_parse(text, n, NULL, NULL, err, sizeof(err));
	ck_assert_msg(root, "%s", err);
	json_decref(root);
	n = 0;
	text[n++] = '\n';
	for (int i = 0; i < 65; i++)
		text[n++] = '[';
	text[n] = '\0';
	errno = 0;
	ck_assert_ptr_null(ncp_json_doc_parse(text, n, "deep.json", NULL, err,
					      sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_str_eq(err, "deep.json:2:65: nested deeper than 64 levels (byte 66)");

	/* A lower limit; brackets inside strings do not count. */
	struct ncp_json_doc_limits shallow = { .max_depth = 2 };
	root = ncp_json_doc_parse("[[\"[[[[\\\"[[\"]]", 14, NULL, &shallow, err,
				  sizeof(err));
	ck_assert_msg(root, "%s", err);
	json_decref(root);
	ck_assert_ptr_null(ncp_json_doc_parse("{\"a\":[{}]}", 10, NULL, &shallow,
					      err, sizeof(err)));
	ck_assert_str_eq(err, "line 1, column 7: nested deeper than 2 levels (byte 7)");

	/* The name prefixes parse errors like a compiler's. */
	ck_assert_ptr_null(ncp_json_doc_parse("{\n\"a\" 1}", 8, "meta.json", NULL,
					      err, sizeof(err)));
	ck_assert_msg(!strncmp(err, "meta.json:2:5: ':' expected", 27), "%s", err);
	/* A small buffer is cut, never overrun. */
	char tiny[8];
	ck_assert_ptr_null(ncp_json_doc_parse("[", 1, NULL, NULL, tiny, sizeof(tiny)));
	ck_assert_uint_eq(strlen(tiny), 7);
	ck_assert_ptr_null(ncp_json_doc_parse("[", 1, NULL, NULL, NULL, 0));
}
END_TEST

START_TEST(typed_getters_name_the_key)
{
	char err[256];
	json_t *root = parse("{\"b\": true, \"i\": 7, \"r\": 1.0, \"s\": \"x\", "
			     "\"n\": null, \"a\": [1]}", err, sizeof(err));
	ck_assert_msg(root, "%s", err);
	bool b = false;
	int64_t i = 0;
	double d = 0;
	const char *s = NULL;
	ck_assert_int_eq(ncp_json_doc_get_bool(root, "b", &b, err, sizeof(err)), 0);
	ck_assert(b);
	ck_assert_int_eq(ncp_json_doc_get_int(root, "i", &i, err, sizeof(err)), 0);
	ck_assert_int_eq(i, 7);
	ck_assert_int_eq(ncp_json_doc_get_double(root, "i", &d, err, sizeof(err)), 0);
	ck_assert(d == 7.0);
	ck_assert_int_eq(ncp_json_doc_get_double(root, "r", &d, err, sizeof(err)), 0);
	ck_assert(d == 1.0);
	ck_assert_int_eq(ncp_json_doc_get_str(root, "s", &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s, "x");

	/* 1.0 is a number, not an integer. */
	ck_assert_int_eq(ncp_json_doc_get_int(root, "r", &i, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "r: expected an integer, found a number");
	ck_assert_int_eq(ncp_json_doc_get_str(root, "a", &s, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "a: expected a string, found an array");
	ck_assert_int_eq(ncp_json_doc_get_bool(root, "n", &b, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "n: expected true or false, found null");
	ck_assert_int_eq(ncp_json_doc_get_double(root, "zz", &d, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "zz: missing");
	/* Not an object: nothing is found. */
	ck_assert_int_eq(ncp_json_doc_get_int(json_object_get(root, "a"), "x", &i,
					      NULL, 0), -ENOENT);
	ck_assert_str_eq(ncp_json_doc_type_name(NULL), "nothing");
	json_decref(root);
}
END_TEST

START_TEST(writer_output_parses_back)
{
	struct ncp_json j;
	char err[256];
	ncp_json_init(&j);
	ncp_json_obj(&j);
	ncp_json_key(&j, "s");
	ncp_json_str(&j, "tab\there \"q\" \x01 \xc3\xa9 bad\xff");
	ncp_json_key(&j, "x");
	ncp_json_num_exact(&j, 0.1);
	ncp_json_key(&j, "n");
	ncp_json_int(&j, INT64_MIN);
	ncp_json_key(&j, "u");
	ncp_json_num(&j, NAN);
	ncp_json_end(&j);
	ck_assert_int_eq(ncp_json_finish(&j), 0);
	json_t *r = parse(j.buf, err, sizeof(err));
	ck_assert_msg(r, "%s", err);
	ck_assert_str_eq(json_string_value(json_object_get(r, "s")),
			 "tab\there \"q\" \x01 \xc3\xa9 bad\xef\xbf\xbd");
	ck_assert(json_real_value(json_object_get(r, "x")) == 0.1);
	ck_assert(json_integer_value(json_object_get(r, "n")) == INT64_MIN);
	ck_assert(json_is_null(json_object_get(r, "u")));
	json_decref(r);
	ncp_json_fini(&j);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("json_doc");
	TCase *tc = tcase_create("reader");
	tcase_add_test(tc, values_in_document_order);
	tcase_add_loop_test(tc, every_error_with_line_and_column, 0,
			    (int)(sizeof(bad_docs) / sizeof(bad_docs[0])));
	tcase_add_test(tc, limits_and_names);
	tcase_add_test(tc, typed_getters_name_the_key);
	tcase_add_test(tc, writer_output_parses_back);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
