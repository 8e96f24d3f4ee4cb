/* ncp_json_doc: reading JSON documents (safetensors headers, meta.json,
 * JSON held in model metadata) with jansson, under limits, with errors
 * that say what and where.
 *
 * The input is untrusted: strict RFC 8259 as jansson reads it (one value;
 * no comments, trailing commas, byte order mark, leading zeros,
 * NaN/Infinity; valid UTF-8 only, no overlong forms or encoded
 * surrogates; no \u0000 in strings or keys), duplicate keys refused,
 * integers that do not fit int64 and numbers that overflow a double
 * refused.  On top of that the input's size and nesting depth are
 * limited (jansson's own depth limit is 2048).  Objects iterate in
 * document order.
 *
 *   char err[256];
 *   json_t *root = ncp_json_doc_parse(text, len, "meta.json", NULL,
 *                                     err, sizeof(err));
 *   int64_t steps;
 *   if (!root || ncp_json_doc_get_int(root, "steps", &steps, err,
 *                                     sizeof(err)))
 *           ... report err ...
 *   json_decref(root);
 *
 * Parse errors read "NAME:LINE:COLUMN: what jansson found (byte N)" (or
 * "line L, column C: ..." without a name); lines and columns count from
 * 1, a column counts characters, N counts bytes read.
 */
#ifndef NCP_JSON_DOC_H
#define NCP_JSON_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define NCP_JSON_DOC_MAX_DEPTH 64		/* default nesting limit */
#define NCP_JSON_DOC_MAX_BYTES (64u << 20)	/* default input size limit */

/* Limits for one parse; a zero field means the default. */
struct ncp_json_doc_limits {
	size_t max_bytes;	/* longest input accepted */
	int max_depth;		/* deepest nesting of arrays and objects */
};

/* Parse len bytes of text (need not be NUL-terminated).  name (may be NULL)
 * prefixes error messages; lim may be NULL for the defaults.  Returns a new
 * reference (json_decref() it), or NULL with a message in err and errno set
 * (EINVAL for bad input, E2BIG past max_bytes, ENOMEM). */
json_t *ncp_json_doc_parse(const char *text, size_t len, const char *name,
			   const struct ncp_json_doc_limits *lim, char *err,
			   size_t errlen);

/* "null", "a boolean", "a number", "a string", "an array", "an object"
 * ("nothing" for NULL), for messages. */
const char *ncp_json_doc_type_name(const json_t *v);

/* Typed getters: member key of obj, of the right type.  0; -ENOENT when
 * obj is not an object or has no such key ("KEY: missing"); -EINVAL for a
 * value of the wrong type ("KEY: expected an integer, found a string"). */
int ncp_json_doc_get_bool(const json_t *obj, const char *key, bool *out,
			  char *err, size_t errlen);
/* An integer literal (1.0 and 1e3 are not integers). */
int ncp_json_doc_get_int(const json_t *obj, const char *key, int64_t *out,
			 char *err, size_t errlen);
/* Any number. */
int ncp_json_doc_get_double(const json_t *obj, const char *key, double *out,
			    char *err, size_t errlen);
/* A string: owned by obj, valid while obj is. */
int ncp_json_doc_get_str(const json_t *obj, const char *key, const char **out,
			 char *err, size_t errlen);

#endif
