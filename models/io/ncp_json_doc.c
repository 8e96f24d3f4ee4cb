#include "models/io/ncp_json_doc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "models/base/ncp_base.h"

/* Messages name the document like a compiler: "NAME:LINE:COLUMN: ...",
 * then the byte offset (position 0 when there is none to give). */
static void where_errf(char *err, size_t errlen, const char *name, int line,
		       int column, size_t position, const char *msg)
{
	char at[48] = "";

	if (position)
		snprintf(at, sizeof(at), " (byte %zu)", position);
	if (name)
		ncp_errf(err, errlen, "%s:%d:%d: %s%s", name, line, column, msg,
			 at);
	else
		ncp_errf(err, errlen, "line %d, column %d: %s%s", line, column,
			 msg, at);
}

/* What jansson would report unclearly or not at all: nesting deeper than
 * max (brackets inside strings do not count), a NUL byte (jansson says
 * "end of file expected"), a byte order mark.  Returns the message, or
 * NULL when there is none, with where it applies. */
static const char *prescan(const char *text, size_t len, int max, int *line,
			   int *column, size_t *position)
{
	bool in_str = false;
	int depth = 0;

	*line = 1;
	*column = 0;
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3)) {
		*column = 1;
		*position = 1;
		return "a byte order mark is not allowed in JSON";
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n') {
			(*line)++;
			*column = 0;
			continue;
		}
		if ((c & 0xc0) != 0x80)
			(*column)++; /* a character starts here */
		*position = i + 1;
		if (c == 0)
			return "a NUL byte is not allowed in JSON";
		if (in_str) {
			if (c == '\\' && i + 1 < len && text[i + 1] != 0 &&
			    text[i + 1] != '\n') {
				i++; /* the escaped character */
				if (((unsigned char)text[i] & 0xc0) != 0x80)
					(*column)++;
			} else if (c == '"') {
				in_str = false;
			}
		} else if (c == '"') {
			in_str = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				return "nested too deep";
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return NULL;
}

json_t *ncp_json_doc_parse(const char *text, size_t len, const char *name,
			   const struct ncp_json_doc_limits *lim, char *err,
			   size_t errlen)
{
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes
						 : NCP_JSON_DOC_MAX_BYTES;
	int max_depth = lim && lim->max_depth > 0 ? lim->max_depth
						  : NCP_JSON_DOC_MAX_DEPTH;
	json_error_t je;
	int line, column;
	size_t position;
	json_t *root;

	if (len > max_bytes) {
		ncp_errf(err, errlen,
			 "%s%s%zu bytes of JSON exceed the limit of %zu bytes",
			 name ? name : "", name ? ": " : "", len, max_bytes);
		errno = E2BIG;
		return NULL;
	}
	if (!text && len) {
		ncp_errf(err, errlen, "%s%sno input", name ? name : "",
			 name ? ": " : "");
		errno = EINVAL;
		return NULL;
	}
	const char *why = text ? prescan(text, len, max_depth, &line, &column,
					 &position) : NULL;
	if (why) {
		char msg[64];
		if (!strcmp(why, "nested too deep"))
			snprintf(msg, sizeof(msg), "nested deeper than %d levels",
				 max_depth);
		else
			snprintf(msg, sizeof(msg), "%s", why);
		where_errf(err, errlen, name, line, column, position, msg);
		errno = EINVAL;
		return NULL;
	}
	root = json_loadb(text ? text : "", len,
			  JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		bool nomem = json_error_code(&je) == json_error_out_of_memory;
		/* jansson names its own option here; say what is wrong. */
		const char *what = strncmp(je.text, "\\u0000 is not allowed", 20)
			? je.text : "\\u0000 (a NUL character) is not allowed in strings";
		where_errf(err, errlen, name, je.line < 1 ? 1 : je.line,
			   je.column < 1 ? 1 : je.column,
			   je.position < 0 ? 0 : (size_t)je.position, what);
		errno = nomem ? ENOMEM : EINVAL;
		return NULL;
	}
	return root;
}

const char *ncp_json_doc_type_name(const json_t *v)
{
	switch (v ? json_typeof(v) : (json_type)-1) {
	case JSON_NULL: return "null";
	case JSON_TRUE:
	case JSON_FALSE: return "a boolean";
	case JSON_INTEGER:
	case JSON_REAL: return "a number";
	case JSON_STRING: return "a string";
	case JSON_ARRAY: return "an array";
	case JSON_OBJECT: return "an object";
	}
	return "nothing";
}

/* Member key of obj when it passes is(), else an error naming what was
 * wanted and what was found. */
static int typed(const json_t *obj, const char *key, int (*is)(const json_t *),
		 const char *want, const json_t **out, char *err,
		 size_t errlen)
{
	const json_t *v = json_object_get(obj, key);

	if (!v) {
		ncp_errf(err, errlen, "%s: missing", key);
		return -ENOENT;
	}
	if (!is(v))
		return ncp_errf(err, errlen, "%s: expected %s, found %s", key,
				want, ncp_json_doc_type_name(v));
	*out = v;
	return 0;
}

/* jansson's type tests are macros; these give typed() functions. */
static int is_bool(const json_t *v) { return json_is_boolean(v); }
static int is_int(const json_t *v) { return json_is_integer(v); }
static int is_num(const json_t *v) { return json_is_number(v); }
static int is_str(const json_t *v) { return json_is_string(v); }

int ncp_json_doc_get_bool(const json_t *obj, const char *key, bool *out,
			  char *err, size_t errlen)
{
	const json_t *v = NULL;
	int r = typed(obj, key, is_bool, "true or false", &v, err, errlen);
	if (!r)
		*out = json_is_true(v);
	return r;
}

int ncp_json_doc_get_int(const json_t *obj, const char *key, int64_t *out,
			 char *err, size_t errlen)
{
	const json_t *v = NULL;
	int r = typed(obj, key, is_int, "an integer", &v, err, errlen);
	if (!r)
		*out = json_integer_value(v);
	return r;
}

int ncp_json_doc_get_double(const json_t *obj, const char *key, double *out,
			    char *err, size_t errlen)
{
	const json_t *v = NULL;
	int r = typed(obj, key, is_num, "a number", &v, err, errlen);
	if (!r)
		*out = json_number_value(v);
	return r;
}

int ncp_json_doc_get_str(const json_t *obj, const char *key, const char **out,
			 char *err, size_t errlen)
{
	const json_t *v = NULL;
	int r = typed(obj, key, is_str, "a string", &v, err, errlen);
	if (!r)
		*out = json_string_value(v);
	return r;
}
