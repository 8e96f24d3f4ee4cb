/* ncp_ctlsrv: the control socket server (docs/protocol.md).
 *
 * A Unix-domain stream socket served from one thread through io_uring:
 * accept, receive and send are io_uring requests, and the thread sleeps in
 * the kernel until one completes (no polling).  Each client sends request
 * lines and gets one reply line per request, in order.  Lines are parsed
 * with ncp_proto; `help` is answered here; every other command goes to the
 * handler the daemon supplies.
 *
 * Threading contract
 * - ncp_ctlsrv_new, _start, _stop and _free are called from one
 *   controlling thread (the daemon's main thread).
 * - _start runs the server thread ("ncp-ctl", all signals blocked).  It
 *   alone touches the ring, the sockets and the clients.
 * - The handler runs on the server thread, one request at a time, never
 *   concurrently with itself.  It must not block for long: while it runs
 *   no client is served.  (The daemon's handler pushes commands to the RT
 *   loop through an ncp_spsc queue and reads status from shared state,
 *   neither of which waits.)  It must not call _stop or _free.
 * - _stop wakes the thread through an eventfd and joins it.  Replies
 *   already queued get up to NCP_CTLSRV_DRAIN_MS to reach their clients
 *   (so "shutdown" is answered before the daemon exits); then every
 *   connection is closed.
 * - ncp_ctlsrv_stats may be called from any thread between _new and _free.
 *
 * Who may connect
 * - The socket file is mode 0660, owned by the daemon's user and, when a
 *   group is configured, by that group.  Missing parent directories are
 *   created 0750 (group: the configured one).  The parent directory must
 *   belong to the daemon's user or root and must not be writable by
 *   everyone (unless sticky), or _new refuses.
 * - Each connection's peer credentials (SO_PEERCRED, taken at connect
 *   time) are checked: root, the daemon's own uid, or a member of the
 *   configured group (primary gid, or supplementary groups from
 *   SO_PEERGROUPS) is served; anyone else gets "err EACCES ..." and is
 *   closed.
 * - Over max_clients, a new connection gets "err EBUSY too many clients"
 *   and is closed.
 *
 * Start-up: a socket file left by a dead daemon is replaced; a live one
 * (something accepts connections on it) is refused, and so is a second
 * server on the same path (PATH.lock is held with flock for the server's
 * life).  The socket is bound under a temporary name, given its mode and
 * group, then renamed into place: it never exists with a wider mode.
 *
 * Limits per client: one request line of NCP_PROTO_LINE_MAX bytes in
 * flight, two replies queued (2 * NCP_REPLY_MAX); a client that sends
 * faster than it reads is simply not read until its replies are sent.
 * A client silent for idle_timeout_ms is sent "err ETIMEDOUT ..." and
 * closed.
 */
#ifndef NCP_CTLSRV_H
#define NCP_CTLSRV_H

#include <stdint.h>

#include "daemon/ncp_proto.h"
#include "daemon/ncp_reply.h"

#define NCP_CTLSRV_DEFAULT_CLIENTS 128
#define NCP_CTLSRV_MAX_CLIENTS 4096
#define NCP_CTLSRV_DRAIN_MS 250

/* Answer one parsed request (never NCP_CMD_HELP) by filling reply, which
 * arrives as a plain "ok".  Return 0, or a negative errno: when the reply
 * is not already an error, the server turns it into "err CODE <strerror>". */
typedef int (*ncp_ctlsrv_handler_fn)(void *ctx, const struct ncp_cmd *cmd,
				     struct ncp_reply *reply);

struct ncp_ctlsrv_config {
	const char *path;	  /* socket path (required; copied) */
	const char *group;	  /* group name or number also allowed, and the
				     socket's group; NULL or "": none */
	unsigned max_clients;	  /* 0: NCP_CTLSRV_DEFAULT_CLIENTS */
	unsigned idle_timeout_ms; /* 0: clients may stay silent forever */
	ncp_ctlsrv_handler_fn handler; /* required */
	void *ctx;		  /* passed to handler */
};

struct ncp_ctlsrv_stats {
	uint64_t accepted;     /* connections served */
	uint64_t refused_busy; /* refused: max_clients reached */
	uint64_t refused_perm; /* refused: peer credentials */
	uint64_t requests;     /* lines answered, errors included */
	uint64_t errors;       /* lines answered with err */
	uint64_t timeouts;     /* clients closed for idleness */
	uint64_t clients;      /* connected now */
};

struct ncp_ctlsrv;

/* Create the socket (listening) and the ring; the thread is not started.
 * NULL on failure, with errno set and a message naming the path and the
 * cause in err. */
struct ncp_ctlsrv *ncp_ctlsrv_new(const struct ncp_ctlsrv_config *cfg,
				  char *err, size_t errlen);

/* Start the server thread.  0 or -errno; only once per server. */
int ncp_ctlsrv_start(struct ncp_ctlsrv *s);

/* Stop and join the server thread (see the contract above).  Idempotent;
 * a server that was never started is left as it is. */
void ncp_ctlsrv_stop(struct ncp_ctlsrv *s);

/* Stop, close every connection, remove the socket file (when it is still
 * ours) and free.  NULL is a no-op. */
void ncp_ctlsrv_free(struct ncp_ctlsrv *s);

void ncp_ctlsrv_stats(const struct ncp_ctlsrv *s,
		      struct ncp_ctlsrv_stats *out);

#endif
