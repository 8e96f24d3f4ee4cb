/* ncp_mon_json: a small JSON writer for ncp-monitor's snapshots.
 *
 * Writes into a growing buffer that the writer owns; commas and nesting
 * are tracked.  The first error (out of memory, bad nesting) is kept and
 * reported by ncp_mon_json_finish(), so callers write a whole document
 * and check once:
 *
 *   struct ncp_mon_json j;
 *   ncp_mon_json_init(&j);
 *   ncp_mon_json_obj(&j);
 *   ncp_mon_json_key(&j, "step");  ncp_mon_json_uint(&j, 1234);
 *   ncp_mon_json_end(&j);
 *   if (ncp_mon_json_finish(&j) == 0) puts(j.buf);
 *   ncp_mon_json_fini(&j);
 *
 * Numbers are written so that they read back as the same double (up to
 * 17 significant digits, fewer when they suffice); NaN and infinities,
 * which JSON cannot hold, are written as null.  Integers are exact.
 */
#ifndef NCP_MON_JSON_H
#define NCP_MON_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_MON_JSON_MAX_DEPTH 16

struct ncp_mon_json {
	char *buf;      /* NUL-terminated output (owned); NULL until written */
	size_t len;     /* bytes in buf, without the NUL */
	size_t cap;
	int depth;      /* open objects and arrays */
	bool has_items[NCP_MON_JSON_MAX_DEPTH]; /* a value was written there */
	bool is_obj[NCP_MON_JSON_MAX_DEPTH];
	bool after_key; /* a key was written; its value comes next */
	int err;        /* first error (-ENOMEM, -EINVAL), 0 if none */
};

void ncp_mon_json_init(struct ncp_mon_json *j);
void ncp_mon_json_fini(struct ncp_mon_json *j);

/* 0 when a complete document was written, else the first error:
 * -ENOMEM, or -EINVAL (unbalanced, a key outside an object, a value
 * without a key inside one, nesting deeper than NCP_MON_JSON_MAX_DEPTH,
 * nothing written). */
int ncp_mon_json_finish(const struct ncp_mon_json *j);

void ncp_mon_json_obj(struct ncp_mon_json *j); /* { */
void ncp_mon_json_arr(struct ncp_mon_json *j); /* [ */
void ncp_mon_json_end(struct ncp_mon_json *j); /* } or ] */
void ncp_mon_json_key(struct ncp_mon_json *j, const char *key);
/* A string (UTF-8 passed through; quotes, backslashes and control
 * characters escaped).  NULL writes null. */
void ncp_mon_json_str(struct ncp_mon_json *j, const char *s);
void ncp_mon_json_num(struct ncp_mon_json *j, double x);
void ncp_mon_json_int(struct ncp_mon_json *j, int64_t x);
void ncp_mon_json_uint(struct ncp_mon_json *j, uint64_t x);
void ncp_mon_json_bool(struct ncp_mon_json *j, bool b);
void ncp_mon_json_null(struct ncp_mon_json *j);

/* Shorthands: an array of n numbers (doubles or floats). */
void ncp_mon_json_nums(struct ncp_mon_json *j, const double *x, size_t n);
void ncp_mon_json_floats(struct ncp_mon_json *j, const float *x, size_t n);

#endif
