/* The JSON parser: valid documents come back as the tree they describe;
 * every kind of bad input is refused with its line:column. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "models/base/ncp_json.h"
#include "tests/ncp_check.h"

static struct ncp_json_doc *parse(const char *s, char *err, size_t errlen)
{
	return ncp_json_parse(s, strlen(s), NULL, NULL, err, errlen);
}

START_TEST(nesting_and_order)
{
	char err[256] = "";
	const char *text = " {\"z\": [1, {\"b\": [[], {}]}, true],\n"
			   "  \"a\": null, \"m\": \"x\", \"f\": false}\n";
	struct ncp_json_doc *doc = parse(text, err, sizeof(err));
	ck_assert_msg(doc, "%s", err);
	const struct ncp_json_value *r = ncp_json_doc_root(doc);
	ck_assert_int_eq(r->type, NCP_JSON_OBJECT);
	ck_assert_uint_eq(r->obj.n, 4);
	/* Document order, not sorted. */
	ck_assert_str_eq(r->obj.members[0].key, "z");
	ck_assert_str_eq(r->obj.members[1].key, "a");
	ck_assert_str_eq(r->obj.members[2].key, "m");
	ck_assert_str_eq(r->obj.members[3].key, "f");
	ck_assert_uint_eq(r->obj.members[1].line, 2);
	ck_assert_uint_eq(r->obj.members[1].column, 3);
	const struct ncp_json_value *z = ncp_json_member(r, "z");
	ck_assert_int_eq(z->type, NCP_JSON_ARRAY);
	ck_assert_uint_eq(z->arr.n, 3);
	ck_assert_int_eq(ncp_json_index(z, 2)->type, NCP_JSON_BOOL);
	ck_assert(ncp_json_index(z, 2)->boolean);
	ck_assert_ptr_null(ncp_json_index(z, 3));
	const struct ncp_json_value *b = ncp_json_lookup(r, "z[1].b");
	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->arr.n, 2);
	ck_assert_int_eq(ncp_json_lookup(r, "z[1].b[0]")->type, NCP_JSON_ARRAY);
	ck_assert_uint_eq(ncp_json_lookup(r, "z[1].b[0]")->arr.n, 0);
	ck_assert_int_eq(ncp_json_lookup(r, "z[1].b[1]")->type, NCP_JSON_OBJECT);
	ck_assert_uint_eq(ncp_json_lookup(r, "z[1].b[1]")->obj.n, 0);
	ck_assert_int_eq(ncp_json_member(r, "a")->type, NCP_JSON_NULL);
	ck_assert_ptr_null(ncp_json_member(r, "nope"));
	ck_assert_ptr_null(ncp_json_lookup(r, "z[1].c"));
	ck_assert_ptr_eq(ncp_json_lookup(r, ""), r);
	ncp_json_doc_free(doc);

	/* Scalars at the top level. */
	doc = parse(" \"s\" ", err, sizeof(err));
	ck_assert_msg(doc, "%s", err);
	ck_assert_str_eq(ncp_json_doc_root(doc)->str.s, "s");
	ncp_json_doc_free(doc);
	doc = parse("null", err, sizeof(err));
	ck_assert_int_eq(ncp_json_doc_root(doc)->type, NCP_JSON_NULL);
	ncp_json_doc_free(doc);
	ncp_json_doc_free(NULL);
}
END_TEST

START_TEST(escapes_and_utf8)
{
	char err[256] = "";
	const char *text =
		"[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u0041\\u00e9\\u20AC\\ud83d\\ude00\","
		" \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\", \"a\\u0000b\"]";
	struct ncp_json_doc *doc = parse(text, err, sizeof(err));
	ck_assert_msg(doc, "%s", err);
	const struct ncp_json_value *r = ncp_json_doc_root(doc);
	ck_assert_str_eq(r->arr.items[0].str.s, "\"\\/\b\f\n\r\t");
	ck_assert_str_eq(r->arr.items[1].str.s,
			 "A\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	ck_assert_uint_eq(r->arr.items[1].str.len, 1 + 2 + 3 + 4);
	ck_assert_str_eq(r->arr.items[2].str.s,
			 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f");
	/* An escaped NUL is kept, and the C-string getter refuses it. */
	ck_assert_uint_eq(r->arr.items[3].str.len, 3);
	ck_assert(!memcmp(r->arr.items[3].str.s, "a\0b", 4));
	const char *s;
	ck_assert_int_eq(ncp_json_get_str(r, "[3]", &s, err, sizeof(err)),
			 -EINVAL);
	ck_assert_str_eq(err, "[3] (line 1, column 64): the string contains a NUL character");
	ck_assert_int_eq(ncp_json_get_str(r, "[2]", &s, err, sizeof(err)), 0);
	ncp_json_doc_free(doc);
}
END_TEST

START_TEST(numbers_at_the_edges)
{
	char err[256] = "";
	const char *text = "[0, -0, 9223372036854775807, -9223372036854775808,"
			   " 9223372036854775808, -9223372036854775809,"
			   " 1.7976931348623157e308, 4.9e-324, 1e-400,"
			   " 1.5E+3, -2.5e-2, 1.0, 1e2, 12345678901234567890123]";
	struct ncp_json_doc *doc = parse(text, err, sizeof(err));
	ck_assert_msg(doc, "%s", err);
	const struct ncp_json_value *a = ncp_json_doc_root(doc);
	const struct ncp_json_value *it = a->arr.items;
	ck_assert_uint_eq(a->arr.n, 14);
	ck_assert(it[0].num.is_int && it[0].num.i == 0);
	ck_assert(it[1].num.is_int && it[1].num.i == 0 && signbit(it[1].num.d));
	ck_assert(it[2].num.is_int && it[2].num.i == INT64_MAX);
	ck_assert(it[3].num.is_int && it[3].num.i == INT64_MIN);
	ck_assert(!it[4].num.is_int && it[4].num.d == 9223372036854775808.0);
	ck_assert(!it[5].num.is_int && it[5].num.d == -9223372036854775808.0);
	ck_assert(it[6].num.d == 1.7976931348623157e308);
	ck_assert(it[7].num.d == 4.9e-324);
	ck_assert(it[8].num.d == 0.0);		/* underflow is not an error */
	ck_assert(!it[9].num.is_int && it[9].num.d == 1500.0);
	ck_assert(it[10].num.d == -0.025);
	ck_assert(!it[11].num.is_int && !it[12].num.is_int);
	ck_assert(!it[13].num.is_int && it[13].num.d > 1.2e22);

	int64_t i;
	double d;
	ck_assert_int_eq(ncp_json_get_int(a, "[2]", &i, err, sizeof(err)), 0);
	ck_assert(i == INT64_MAX);
	ck_assert_int_eq(ncp_json_get_int(a, "[11]", &i, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "[11] (line 1, column ") &&
		      strstr(err, "expected an integer, found 1"), "%s", err);
	ck_assert_int_eq(ncp_json_get_int(a, "[10]", &i, err, sizeof(err)),
			 -EINVAL);
	ck_assert_msg(strstr(err, "expected an integer, found -0.025"), "%s", err);
	ck_assert_int_eq(ncp_json_get_double(a, "[10]", &d, err, sizeof(err)), 0);
	ck_assert(d == -0.025);
	ncp_json_doc_free(doc);
}
END_TEST

struct bad {
	const char *text;
	size_t len;		/* 0: strlen */
	const char *msg;	/* the whole expected message */
};

static const struct bad bad_docs[] = {
	{ "", 0, "line 1, column 1: expected a value, found end of input" },
	{ "  \n  ", 0, "line 2, column 3: expected a value, found end of input" },
	{ "[1,]", 0, "line 1, column 4: expected a value, found ']'" },
	{ "{\"a\":1,}", 0, "line 1, column 8: expected a string key, found '}'" },
	{ "{1:2}", 0, "line 1, column 2: expected a string key or '}', found '1'" },
	{ "{\"a\" 1}", 0, "line 1, column 6: expected ':' after the key \"a\", found '1'" },
	{ "[1 2]", 0, "line 1, column 4: expected ',' or ']' after an array element, found '2'" },
	{ "{\"a\":1 \"b\":2}", 0, "line 1, column 8: expected ',' or '}' after an object member, found '\"'" },
	{ "[1", 0, "line 1, column 3: expected ',' or ']' after an array element, found end of input" },
	{ "01", 0, "line 1, column 2: leading zeros are not allowed in numbers" },
	{ "-", 0, "line 1, column 2: expected a digit after '-', found end of input" },
	{ "-a", 0, "line 1, column 2: expected a digit after '-', found 'a'" },
	{ "1.", 0, "line 1, column 3: expected a digit after '.', found end of input" },
	{ "1.e5", 0, "line 1, column 3: expected a digit after '.', found 'e'" },
	{ "1e+", 0, "line 1, column 4: expected a digit in the exponent, found end of input" },
	{ ".5", 0, "line 1, column 1: expected a value, found '.'" },
	{ "+1", 0, "line 1, column 1: expected a value, found '+'" },
	{ "[1e400]", 0, "line 1, column 2: number 1e400 is out of range for a double" },
	{ "NaN", 0, "line 1, column 1: expected a value, found 'N'" },
	{ "tru", 0, "line 1, column 1: invalid literal: expected true, false or null" },
	{ "nul", 0, "line 1, column 1: invalid literal: expected true, false or null" },
	{ "\"abc", 0, "line 1, column 5: unterminated string: expected '\"' before the end of input" },
	{ "\"a\tb\"", 0, "line 1, column 3: control character 0x09 in a string (write it as a \\u escape)" },
	{ "\"a\nb\"", 0, "line 1, column 3: control character 0x0A in a string (write it as a \\u escape)" },
	{ "\"\\x\"", 0, "line 1, column 3: invalid escape '\\x' in a string (expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)" },
	{ "\"\\", 0, "line 1, column 3: unterminated escape at the end of input" },
	{ "\"\\u12G4\"", 0, "line 1, column 6: expected a hex digit in a \\u escape, found 'G'" },
	{ "\"\\u12", 0, "line 1, column 6: unterminated \\u escape: expected 4 hex digits" },
	{ "\"\\ud800\"", 0, "line 1, column 2: unpaired high surrogate \\uD800: expected a \\uDC00-\\uDFFF escape after it" },
	{ "\"\\udc00\"", 0, "line 1, column 2: unpaired low surrogate \\uDC00" },
	{ "\"\\ud800\\u0041\"", 0, "line 1, column 8: high surrogate \\uD800 followed by \\u0041: expected \\uDC00-\\uDFFF" },
	{ "\"\xc0\x80\"", 0, "line 1, column 2: invalid UTF-8 (byte 0xC0) in a string" },
	{ "\"\xed\xa0\x80\"", 0, "line 1, column 2: invalid UTF-8 (byte 0xED) in a string" },
	{ "\"\xf4\x90\x80\x80\"", 0, "line 1, column 2: invalid UTF-8 (byte 0xF4) in a string" },
	{ "\"\xe2\x82\"", 0, "line 1, column 2: invalid UTF-8 (byte 0xE2) in a string" },
	{ "\"\x80\"", 0, "line 1, column 2: invalid UTF-8 (byte 0x80) in a string" },
	/* Columns count characters: the x is the 5th character, 6th byte. */
	{ "\"\xc3\xa9\" x", 0, "line 1, column 5: expected the end of input after the value, found 'x'" },
	{ "[\"\xf0\x9f\x98\x80\", \"\\q\"]", 0, "line 1, column 9: invalid escape '\\q' in a string (expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)" },
	{ "[1] [2]", 0, "line 1, column 5: expected the end of input after the value, found '['" },
	{ "{\"a\":1,\"a\":2}", 0, "line 1, column 8: duplicate key \"a\" (first at line 1, column 2)" },
	{ "\xef\xbb\xbf{}", 0, "line 1, column 1: a byte order mark is not allowed in JSON" },
	{ "/* c */ 1", 0, "line 1, column 1: expected a value, found '/'" },
	{ "[1]\0", 4, "line 1, column 4: expected the end of input after the value, found byte 0x00" },
	{ "{\n  \"a\": [1,\n    2,,\n  ]\n}", 0, "line 3, column 7: expected a value, found ','" },
	{ "\r\n\t[\r\n x]", 0, "line 3, column 2: expected a value, found 'x'" },
};

START_TEST(every_error_with_line_and_column)
{
	const struct bad *b = &bad_docs[_i];
	char err[256] = "";
	size_t len = b->len ? b->len : strlen(b->text);
	errno = 0;
	struct ncp_json_doc *doc = ncp_json_parse(b->text, len, NULL, NULL,
						  err, sizeof(err));
	ck_assert_msg(!doc, "case %d parsed", _i);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_msg(!strcmp(err, b->msg), "case %d:\n got  %s\n want %s", _i,
		      err, b->msg);
}
END_TEST

START_TEST(duplicates_in_large_objects)
{
	char text[4096], err[256];
	size_t o = 0;
	o += (size_t)sprintf(text + o, "{");
	for (int i = 0; i < 40; i++)
		o += (size_t)sprintf(text + o, "%s\"k%d\":%d", i ? "," : "", i, i);
	o += (size_t)sprintf(text + o, ",\n\"k33\":1, \"k7\":2}");
	struct ncp_json_doc *doc = parse(text, err, sizeof(err));
	ck_assert_ptr_null(doc);
	/* The earliest repeated key is reported, with its first place. */
	ck_assert_msg(strstr(err, "line 2, column 1: duplicate key \"k33\" (first at line 1, column "),
		      "%s", err);

	/* 40 distinct keys, and keys that only differ in length, are fine. */
	text[0] = 0;
	o = 0;
	o += (size_t)sprintf(text + o, "{\"k\":0,\"k\\u0000\":1");
	for (int i = 0; i < 40; i++)
		o += (size_t)sprintf(text + o, ",\"k%d\":%d", i, i);
	sprintf(text + o, "}");
	doc = parse(text, err, sizeof(err));
	ck_assert_msg(doc, "%s", err);
	ck_assert_uint_eq(ncp_json_doc_root(doc)->obj.n, 42);
	ncp_json_doc_free(doc);
}
END_TEST

START_TEST(limits_and_names)
{
	char text[512], err[256];
	int depth = NCP_JSON_PARSE_MAX_DEPTH;

	/* Exactly the default depth parses; one more is refused. */
	memset(text, '[', (size_t)depth);
	memset(text + depth, ']', (size_t)depth);
	struct ncp_json_doc *doc = ncp_json_parse(text, 2 * (size_t)depth, NULL,
						  NULL, err, sizeof(err));
	ck_assert_msg(doc, "%s", err);
	ncp_json_doc_free(doc);
	memset(text, '[', (size_t)depth + 1);
	memset(text + depth + 1, ']', (size_t)depth + 1);
	doc = ncp_json_parse(text, 2 * (size_t)depth + 2, NULL, NULL, err,
			     sizeof(err));
	ck_assert_ptr_null(doc);
	ck_assert_str_eq(err, "line 1, column 65: nesting deeper than 64 levels");

	struct ncp_json_limits lim = { .max_depth = 2, .max_bytes = 12 };
	doc = ncp_json_parse("[{}]", 4, "x.json", &lim, err, sizeof(err));
	ck_assert_msg(doc, "%s", err);
	ncp_json_doc_free(doc);
	doc = ncp_json_parse("[{\"a\":[]}]", 10, "x.json", &lim, err,
			     sizeof(err));
	ck_assert_ptr_null(doc);
	ck_assert_str_eq(err, "x.json:1:7: nesting deeper than 2 levels");
	errno = 0;
	doc = ncp_json_parse("[1,2,3,4,5,6]", 13, "x.json", &lim, err,
			     sizeof(err));
	ck_assert_ptr_null(doc);
	ck_assert_int_eq(errno, E2BIG);
	ck_assert_str_eq(err, "x.json: 13 bytes of JSON exceed the limit of 12 bytes");

	/* A name prefixes messages GNU-style. */
	doc = ncp_json_parse("{\n  \"a\": x}", 11, "meta.json", NULL, err,
			     sizeof(err));
	ck_assert_ptr_null(doc);
	ck_assert_str_eq(err, "meta.json:2:8: expected a value, found 'x'");
}
END_TEST

START_TEST(typed_getters_name_the_path)
{
	char err[256];
	const char *text = "{\"emulator\": {\"units\": \"many\", \"layers\": "
			   "[{\"n\": 3}, {\"n\": 4.5}], \"on\": true},\n \"name\": \"m\"}";
	struct ncp_json_doc *doc = parse(text, err, sizeof(err));
	ck_assert_msg(doc, "%s", err);
	const struct ncp_json_value *r = ncp_json_doc_root(doc), *o;
	int64_t i;
	bool b;
	const char *s;

	ck_assert_int_eq(ncp_json_get_int(r, "emulator.layers[0].n", &i, err,
					  sizeof(err)), 0);
	ck_assert_int_eq(i, 3);
	ck_assert_int_eq(ncp_json_get_bool(r, "emulator.on", &b, err, sizeof(err)), 0);
	ck_assert(b);
	ck_assert_int_eq(ncp_json_get_str(r, "name", &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s, "m");
	ck_assert_int_eq(ncp_json_get_obj(r, "emulator", &o, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_json_get_arr(o, "layers", &o, err, sizeof(err)), 0);
	ck_assert_uint_eq(o->arr.n, 2);

	ck_assert_int_eq(ncp_json_get_int(r, "emulator.units", &i, err,
					  sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "emulator.units (line 1, column 24): expected an integer, found a string");
	ck_assert_int_eq(ncp_json_get_int(r, "emulator.layers[1].n", &i, err,
					  sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "emulator.layers[1].n (line 1, column 59): expected an integer, found 4.5");
	ck_assert_int_eq(ncp_json_get_int(r, "emulator.hidden", &i, err,
					  sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "emulator.hidden: missing");
	ck_assert_int_eq(ncp_json_get_int(r, "emulator.layers[2].n", &i, err,
					  sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "emulator.layers[2]: missing (the array at line 1, column 42 has 2 elements)");
	ck_assert_int_eq(ncp_json_get_int(r, "name.first", &i, err,
					  sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "name (line 2, column 10): expected an object, found a string");
	ck_assert_int_eq(ncp_json_get_int(r, "emulator[0]", &i, err,
					  sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "emulator (line 1, column 14): expected an array, found an object");
	ck_assert_int_eq(ncp_json_get_bool(r, "", &b, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "the value (line 1, column 1): expected true or false, found an object");
	ck_assert_int_eq(ncp_json_get_bool(r, "a..b", &b, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "bad key path \"a..b\"");
	ck_assert_int_eq(ncp_json_get_bool(r, "a[x]", &b, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ncp_json_get_bool(r, "a[1]b", &b, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ncp_json_get_bool(r, "a.", &b, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ncp_json_get_bool(r, ".a", &b, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ncp_json_get_bool(r, "a.[0]", &b, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ncp_json_get_bool(r, "a]", &b, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(ncp_json_lookup(r, "emulator.layers[1]"));
	ncp_json_doc_free(doc);
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

START_TEST(writer_output_parses_back)
{
	struct ncp_json j;
	char err[256];
	ncp_json_init(&j);
	ncp_json_obj(&j);
	ncp_json_key(&j, "s");
	ncp_json_str(&j, "tab\there \"q\" \x01 \xc3\xa9");
	ncp_json_key(&j, "x");
	ncp_json_num_exact(&j, 0.1);
	ncp_json_key(&j, "n");
	ncp_json_int(&j, INT64_MIN);
	ncp_json_end(&j);
	ck_assert_int_eq(ncp_json_finish(&j), 0);
	struct ncp_json_doc *doc = parse(j.buf, err, sizeof(err));
	ck_assert_msg(doc, "%s", err);
	const struct ncp_json_value *r = ncp_json_doc_root(doc);
	ck_assert_str_eq(ncp_json_member(r, "s")->str.s, "tab\there \"q\" \x01 \xc3\xa9");
	ck_assert(ncp_json_member(r, "x")->num.d == 0.1);
	ck_assert(ncp_json_member(r, "n")->num.i == INT64_MIN);
	ncp_json_doc_free(doc);
	ncp_json_fini(&j);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("parser");
	tcase_add_test(tc, nesting_and_order);
	tcase_add_test(tc, escapes_and_utf8);
	tcase_add_test(tc, numbers_at_the_edges);
	tcase_add_loop_test(tc, every_error_with_line_and_column, 0,
			    (int)(sizeof(bad_docs) / sizeof(bad_docs[0])));
	tcase_add_test(tc, duplicates_in_large_objects);
	tcase_add_test(tc, limits_and_names);
	tcase_add_test(tc, typed_getters_name_the_path);
	tcase_add_test(tc, quote_for_messages);
	tcase_add_test(tc, writer_output_parses_back);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
