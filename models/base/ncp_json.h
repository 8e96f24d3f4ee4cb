/* ncp_json: the JSON writer every program uses (the daemon's summaries,
 * metadata and replies, ncp-monitor's snapshots, ncpctl --json), into a
 * growing buffer.
 *
 * Commas and nesting are tracked and checked: a key only inside an
 * object, a value inside an object only after its key, one value at the
 * top.  The first error (out of memory, bad nesting) is kept and
 * reported by ncp_json_finish(), so callers write a whole document and
 * check once:
 *
 *   struct ncp_json j;
 *   ncp_json_init(&j);
 *   ncp_json_obj(&j);  ncp_json_key(&j, "steps");  ncp_json_int(&j, 16000);
 *   ncp_json_end(&j);
 *   if (ncp_json_finish(&j) == 0) puts(j.buf);
 *   ncp_json_fini(&j);
 *
 * Whatever it is given, the output is valid JSON: strings are escaped
 * (quotes, backslashes, control characters, DEL) and bytes that are not
 * UTF-8 become U+FFFD; NaN and infinities, which JSON cannot hold, are
 * written as null.
 */
#ifndef NCP_JSON_H
#define NCP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_JSON_MAX_DEPTH 32

struct ncp_json {
	char *buf;	/* NUL-terminated output (owned); NULL until written */
	size_t len;	/* bytes in buf, without the NUL */
	size_t cap;
	int depth;	/* open objects and arrays */
	bool has_items[NCP_JSON_MAX_DEPTH]; /* a value was written there */
	bool is_obj[NCP_JSON_MAX_DEPTH];
	bool after_key;	/* a key was written; its value comes next */
	int err;	/* first error (-ENOMEM, -EINVAL), 0 if none */
};

void ncp_json_init(struct ncp_json *j);
void ncp_json_fini(struct ncp_json *j);
/* 0 when one complete value was written, else the first error: -ENOMEM,
 * or -EINVAL (unbalanced, a key outside an object, a value without a key
 * inside one, nesting deeper than NCP_JSON_MAX_DEPTH, nothing written). */
int ncp_json_finish(const struct ncp_json *j);

void ncp_json_obj(struct ncp_json *j);	/* { */
void ncp_json_arr(struct ncp_json *j);	/* [ */
void ncp_json_end(struct ncp_json *j);	/* } or ] */
void ncp_json_key(struct ncp_json *j, const char *key);
/* The first n bytes of key (which may hold no NUL in them). */
void ncp_json_key_n(struct ncp_json *j, const char *key, size_t n);
/* A string; NULL writes null. */
void ncp_json_str(struct ncp_json *j, const char *s);
void ncp_json_str_n(struct ncp_json *j, const char *s, size_t n);
/* Finite numbers with up to 9 significant digits (float32 round-trips). */
void ncp_json_num(struct ncp_json *j, double x);
/* The shortest form (15 to 17 digits) that reads back as the same double. */
void ncp_json_num_exact(struct ncp_json *j, double x);
void ncp_json_int(struct ncp_json *j, int64_t x);
void ncp_json_uint(struct ncp_json *j, uint64_t x);
void ncp_json_bool(struct ncp_json *j, bool b);
void ncp_json_null(struct ncp_json *j);
/* Insert already formatted JSON as one value (the caller vouches for it). */
void ncp_json_raw(struct ncp_json *j, const char *json);
/* Shorthands: an array of n numbers (ncp_json_num_exact). */
void ncp_json_nums(struct ncp_json *j, const double *x, size_t n);
void ncp_json_floats(struct ncp_json *j, const float *x, size_t n);

/* Write n bytes of s into buf (len bytes) as a JSON string literal for a
 * message: quoted, control characters escaped, cut with "..." to fit. */
void ncp_json_quote(char *buf, size_t len, const char *s, size_t n);

/* ---- Parser -------------------------------------------------------------
 *
 * Strict RFC 8259: one value with optional whitespace around it; no
 * comments, no trailing commas, no byte order mark, no leading zeros, no
 * NaN/Infinity; strings must be valid UTF-8 (no overlong forms, no encoded
 * surrogates, nothing past U+10FFFF) without raw control characters; \u
 * escapes are decoded into UTF-8 and surrogate pairs must be complete.
 * Numbers that overflow a double are refused.  Duplicate keys in one object
 * are refused (RFC 8259 leaves their meaning open; every caller here would
 * treat them as a mistake).  Objects keep their members in document order.
 *
 *   char err[256];
 *   struct ncp_json_doc *doc = ncp_json_parse(text, len, "meta.json", NULL,
 *                                             err, sizeof(err));
 *   int64_t steps;
 *   if (!doc || ncp_json_get_int(ncp_json_doc_root(doc), "recording.steps",
 *                                &steps, err, sizeof(err)))
 *           ... report err ...
 *   ncp_json_doc_free(doc);
 *
 * Errors read "NAME:LINE:COLUMN: what was expected, what was found" (or
 * "line L, column C: ..." without a name).  Lines and columns count from 1;
 * a column counts characters (UTF-8 code points), not bytes.  Numbers are
 * converted in the C locale whatever the process locale is.
 *
 * The tree is owned by its ncp_json_doc: every pointer into it (values,
 * keys, strings) lives until ncp_json_doc_free().  The input text is not
 * referenced after ncp_json_parse() returns. */

#define NCP_JSON_PARSE_MAX_DEPTH 64		/* default nesting limit */
#define NCP_JSON_PARSE_MAX_BYTES (64u << 20)	/* default input size limit */

enum ncp_json_type {
	NCP_JSON_NULL,
	NCP_JSON_BOOL,
	NCP_JSON_NUMBER,
	NCP_JSON_STRING,
	NCP_JSON_ARRAY,
	NCP_JSON_OBJECT,
};

struct ncp_json_member;

struct ncp_json_value {
	enum ncp_json_type type;
	uint32_t line, column;	/* where the value starts (saturates) */
	union {
		bool boolean;
		struct {
			double d;	/* always set */
			int64_t i;	/* valid when is_int */
			/* Written without fraction or exponent and fits int64. */
			bool is_int;
		} num;
		struct {
			const char *s;	/* UTF-8, NUL-terminated */
			size_t len;	/* bytes; > strlen(s) if it holds \u0000 */
		} str;
		struct {
			const struct ncp_json_value *items;
			size_t n;
		} arr;
		struct {
			const struct ncp_json_member *members; /* document order */
			size_t n;
		} obj;
	};
};

struct ncp_json_member {
	const char *key;	/* UTF-8, NUL-terminated */
	size_t key_len;
	uint32_t line, column;	/* where the key starts */
	struct ncp_json_value value;
};

/* Limits for one parse; a zero field means the default. */
struct ncp_json_limits {
	size_t max_bytes;	/* longest input accepted */
	int max_depth;		/* deepest nesting of arrays and objects
				 * (the parser recurses: at most 1024) */
};

struct ncp_json_doc;

/* Parse len bytes of text (need not be NUL-terminated).  name (may be NULL)
 * prefixes error messages; lim may be NULL for the defaults.  Returns the
 * document, or NULL with a message in err and errno set (EINVAL for bad
 * input, E2BIG past max_bytes, ENOMEM). */
struct ncp_json_doc *ncp_json_parse(const char *text, size_t len,
				    const char *name,
				    const struct ncp_json_limits *lim,
				    char *err, size_t errlen);
void ncp_json_doc_free(struct ncp_json_doc *doc);
const struct ncp_json_value *ncp_json_doc_root(const struct ncp_json_doc *doc);

/* "null", "a boolean", "a number", "a string", "an array", "an object". */
const char *ncp_json_type_name(enum ncp_json_type type);

/* The member of an object with this key (NUL-free), or NULL when obj is
 * NULL, not an object, or has no such key. */
const struct ncp_json_value *ncp_json_member(const struct ncp_json_value *obj,
					     const char *key);
/* Element i of an array, or NULL when arr is NULL, not an array, or too
 * short. */
const struct ncp_json_value *ncp_json_index(const struct ncp_json_value *arr,
					    size_t i);
/* Follow a key path from v: keys separated by '.', array indexes in
 * brackets ("emulator.layers[2].units"; "" is v itself).  NULL when any
 * step is missing.  Keys holding '.' or '[' need ncp_json_member(). */
const struct ncp_json_value *ncp_json_lookup(const struct ncp_json_value *v,
					     const char *path);

/* Typed getters: follow path from v (as ncp_json_lookup) and check the
 * type.  Return 0; -ENOENT when the path leads nowhere; -EINVAL for a value
 * of the wrong type (or a bad path).  The message names the key path and,
 * for a wrong type, where the value is and what it is:
 *   "emulator.units (line 4, column 14): expected an integer, found a string"
 */
int ncp_json_get_bool(const struct ncp_json_value *v, const char *path,
		      bool *out, char *err, size_t errlen);
/* An integer literal that fits int64 (1.0 and 1e3 are not integers). */
int ncp_json_get_int(const struct ncp_json_value *v, const char *path,
		     int64_t *out, char *err, size_t errlen);
int ncp_json_get_double(const struct ncp_json_value *v, const char *path,
			double *out, char *err, size_t errlen);
/* A string without NUL characters (safe to use as a C string). */
int ncp_json_get_str(const struct ncp_json_value *v, const char *path,
		     const char **out, char *err, size_t errlen);
int ncp_json_get_obj(const struct ncp_json_value *v, const char *path,
		     const struct ncp_json_value **out, char *err,
		     size_t errlen);
int ncp_json_get_arr(const struct ncp_json_value *v, const char *path,
		     const struct ncp_json_value **out, char *err,
		     size_t errlen);

#endif
