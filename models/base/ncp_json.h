/* ncp_json: a JSON writer into a growing buffer (summaries, metadata,
 * status replies).  Commas and nesting are tracked; a writer that runs out
 * of memory remembers it and ncp_json_finish() reports -ENOMEM.
 *
 *   struct ncp_json j;
 *   ncp_json_init(&j);
 *   ncp_json_obj(&j);  ncp_json_key(&j, "steps");  ncp_json_int(&j, 16000);
 *   ncp_json_end(&j);
 *   if (ncp_json_finish(&j) == 0) puts(j.buf);
 *   ncp_json_fini(&j);
 */
#ifndef NCP_JSON_H
#define NCP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_JSON_MAX_DEPTH 32

struct ncp_json {
	char *buf;		/* NUL-terminated output, owned */
	size_t len, cap;
	int depth;
	bool first[NCP_JSON_MAX_DEPTH]; /* nothing written yet at this depth */
	char close[NCP_JSON_MAX_DEPTH]; /* '}' or ']' for each open level */
	bool after_key;
	int err;		/* first error, 0 if none */
};

void ncp_json_init(struct ncp_json *j);
void ncp_json_fini(struct ncp_json *j);
/* 0, or the first error met while writing (-ENOMEM, -EINVAL for bad
 * nesting). */
int ncp_json_finish(struct ncp_json *j);

void ncp_json_obj(struct ncp_json *j);	/* { */
void ncp_json_arr(struct ncp_json *j);	/* [ */
void ncp_json_end(struct ncp_json *j);	/* } or ] */
void ncp_json_key(struct ncp_json *j, const char *key);
void ncp_json_str(struct ncp_json *j, const char *s);
/* Finite numbers with up to 9 significant digits (float32 round-trips);
 * NaN and infinities, which JSON cannot hold, are written as null. */
void ncp_json_num(struct ncp_json *j, double x);
/* Full double precision (17 digits). */
void ncp_json_num_exact(struct ncp_json *j, double x);
void ncp_json_int(struct ncp_json *j, int64_t x);
void ncp_json_bool(struct ncp_json *j, bool b);
void ncp_json_null(struct ncp_json *j);
/* Insert already formatted JSON as one value. */
void ncp_json_raw(struct ncp_json *j, const char *json);

#endif
