/* ncp_reply: builds the one-line response to a control request.
 *
 * A reply is either
 *   ok                              nothing more to say
 *   ok key=value key=value ...      structured: space-separated pairs
 *   ok free text                    help and other prose (ncp_reply_text)
 *   err CODE message                CODE an errno name (EINVAL, ENOENT, ...)
 * Keys are `section.key` (letters, digits, '_', '-', '.'); values never hold
 * spaces: numbers, comma-separated vectors, single words.  A value given
 * with a space or control character has it replaced by '_'.  The line never
 * holds a newline; the server appends the "\n".
 *
 *   struct ncp_reply r;
 *   ncp_reply_init(&r);                       // "ok"
 *   ncp_reply_uint(&r, "loop.step", 12000);   // "ok loop.step=12000"
 *   double hand[2] = {0.012, 1.251};
 *   ncp_reply_vec(&r, "arm.hand", hand, 2);   // "... arm.hand=0.012,1.251"
 *   ncp_reply_err(&r, -EBUSY, "recording already running");
 *                                             // "err EBUSY recording ..."
 *
 * Once the reply is an error, further pairs are ignored.  A reply that
 * would grow past NCP_REPLY_MAX becomes "err E2BIG reply too long".  The
 * struct is plain data: no allocation, safe to build on any thread.
 */
#ifndef NCP_REPLY_H
#define NCP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/base/ncp_base.h"

/* Longest reply line in bytes, its "\n" included. */
#define NCP_REPLY_MAX 4096

struct ncp_reply {
	size_t len;		  /* bytes in line, no "\n" */
	bool is_err;		  /* line starts with "err " */
	bool has_text;		  /* a free-text payload was written */
	char line[NCP_REPLY_MAX]; /* NUL-terminated, at most MAX - 1 bytes */
};

/* Start an "ok" reply. */
void ncp_reply_init(struct ncp_reply *r);

/* Pairs.  `key` is a literal from the code (an invalid key is a bug and
 * aborts). */
void ncp_reply_str(struct ncp_reply *r, const char *key, const char *value);
void ncp_reply_int(struct ncp_reply *r, const char *key, int64_t value);
void ncp_reply_uint(struct ncp_reply *r, const char *key, uint64_t value);
/* Up to 9 significant digits; NaN and infinities as nan, inf, -inf. */
void ncp_reply_num(struct ncp_reply *r, const char *key, double value);
/* n numbers separated by commas, each as ncp_reply_num writes it. */
void ncp_reply_vec(struct ncp_reply *r, const char *key, const double *v,
		   size_t n);
/* true or false. */
void ncp_reply_bool(struct ncp_reply *r, const char *key, bool value);

/* A free-text payload after "ok " (newlines and control characters become
 * spaces).  Not to be mixed with pairs. */
void ncp_reply_text(struct ncp_reply *r, const char *fmt, ...) NCP_PRINTF(2, 3);

/* Turn the reply into "err CODE message", whatever it held.  err is an
 * errno value, positive or negative; the message is kept to one line.
 * Returns -|err| so a handler can `return ncp_reply_err(...)`. */
int ncp_reply_err(struct ncp_reply *r, int err, const char *fmt, ...)
	NCP_PRINTF(3, 4);

/* The errno name for err (positive or negative): "EINVAL", ...; "EIO"
 * for a value without a name. */
const char *ncp_reply_errname(int err);

#endif
