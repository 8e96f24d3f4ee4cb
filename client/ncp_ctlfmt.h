/* ncp_ctlfmt: reads a control reply line and prints it for people or as
 * JSON (ncpctl).  Clients may not use the daemon's code, so this is the
 * client's own small reading of the reply grammar (docs/protocol.md):
 *
 *   ok                      -> people: "ok"            JSON: {"ok":true}
 *   ok k.a=1 k.b=x,y s.c=2  -> people: grouped by section, "  a: 1"
 *                              JSON: {"ok":true,"k":{"a":1,"b":"x,y"},"s":{"c":2}}
 *   ok some text            -> people: the text        JSON: {"ok":true,"text":"some text"}
 *   err CODE message        -> people: message on stderr
 *                              JSON: {"ok":false,"code":"CODE","message":"..."}
 *
 * In JSON a reply's key "a.b" is always at .a.b, whatever the command
 * (status, train status and record stop all give "train" or "record" the
 * same shape).  Sections are the text before a key's first '.'; keys
 * without one sit beside "ok".  Values that read as numbers are numbers
 * (their text kept; past a double's range, null), true/false are
 * booleans, nan/inf are null, comma-separated scalars are arrays;
 * anything else is a string.  A key is written once: a pair repeating an
 * earlier key, or a key without a section named "ok" or like a section,
 * is left out of the JSON. */
#ifndef NCP_CTLFMT_H
#define NCP_CTLFMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define NCP_CTLFMT_LINE_MAX 8192
#define NCP_CTLFMT_PAIRS_MAX 1024

struct ncp_ctlfmt_pair {
	const char *key; /* "loop.step" */
	const char *value;
};

/* A reply taken apart; the strings point into its own copy of the line. */
struct ncp_ctlfmt_reply {
	bool ok;
	const char *code;    /* err: "EINVAL" */
	const char *message; /* err: the message, maybe "" */
	const char *text;    /* ok: the payload when it is not pairs, maybe "" */
	size_t npairs;	     /* ok: the payload's pairs */
	struct ncp_ctlfmt_pair pairs[NCP_CTLFMT_PAIRS_MAX];
	char buf[NCP_CTLFMT_LINE_MAX];
};

/* Parse one reply line (without "\n").  0, or -EBADMSG when it is not a
 * reply (then nothing in r is meaningful). */
int ncp_ctlfmt_parse(const char *line, struct ncp_ctlfmt_reply *r);

/* For people: ok replies on out, err messages on errout as
 * "PROG: message (CODE)". */
void ncp_ctlfmt_human(const struct ncp_ctlfmt_reply *r, const char *prog,
		      FILE *out, FILE *errout);

/* One JSON object and a newline on out.  0, or -ENOMEM (nothing
 * printed). */
int ncp_ctlfmt_json(const struct ncp_ctlfmt_reply *r, FILE *out);

#endif
