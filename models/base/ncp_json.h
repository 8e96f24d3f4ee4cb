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

#endif
