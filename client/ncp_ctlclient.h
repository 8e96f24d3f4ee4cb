/* ncp_ctlclient: a blocking client for the control socket, every call
 * bounded by a timeout.  Used by ncpctl, the tests and the benchmark; it
 * knows nothing of the commands, only of lines.
 *
 *   struct ncp_ctlclient c;
 *   if (ncp_ctlclient_init(&c, path, 5000, err, sizeof(err)) < 0) ...
 *   rc = ncp_ctlclient_call(&c, "status", reply, sizeof(reply), 5000);
 *   ncp_ctlclient_fini(&c);
 *
 * Timeouts are in milliseconds; a negative timeout waits forever.  One
 * thread per client. */
#ifndef NCP_CTLCLIENT_H
#define NCP_CTLCLIENT_H

#include <stddef.h>

#define NCP_CTLCLIENT_BUF 8192 /* longest reply line taken, "\n" included */

struct ncp_ctlclient {
	int fd;
	size_t len; /* bytes received, not yet returned, at buf[0] */
	char buf[NCP_CTLCLIENT_BUF];
};

/* Connect to the socket at path.  0, or -errno with a message naming the
 * path, the cause and, where it helps, what to check. */
int ncp_ctlclient_init(struct ncp_ctlclient *c, const char *path,
		       int timeout_ms, char *err, size_t errlen);
/* Close the connection; safe on a client whose init failed. */
void ncp_ctlclient_fini(struct ncp_ctlclient *c);

/* Send len bytes as they are.  0, -ETIMEDOUT, or -errno (EPIPE when the
 * daemon closed the connection). */
int ncp_ctlclient_send(struct ncp_ctlclient *c, const char *data, size_t len,
		       int timeout_ms);

/* The next line, without its "\n", NUL-terminated in line (cap bytes).
 * Its length, or -ETIMEDOUT, -ECONNRESET (closed before a whole line),
 * -EMSGSIZE (longer than cap - 1 or NCP_CTLCLIENT_BUF), -errno. */
int ncp_ctlclient_recv_line(struct ncp_ctlclient *c, char *line, size_t cap,
			    int timeout_ms);

/* Send request plus "\n", then receive one reply line: as recv_line.
 * When the daemon closed the connection before the request went out
 * (a refusal), the line it left is still returned. */
int ncp_ctlclient_call(struct ncp_ctlclient *c, const char *request,
		       char *reply, size_t cap, int timeout_ms);

#endif
