#include "daemon/ncp_ctlsrv.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/ncp_service.h"
#include "models/base/ncp_base.h"

/* An io_uring request's user_data: what it is, and for whom (a client
 * slot, or the fd of a refused connection). */
enum op {
	OP_WAKE = 1,	 /* read on the stop eventfd */
	OP_ACCEPT,
	OP_RETRY,	 /* timer: accept again after EMFILE and the like */
	OP_SWEEP,	 /* timer: close idle clients */
	OP_DRAIN,	 /* timer: the end of the grace period at stop */
	OP_RECV,	 /* client slot */
	OP_SEND,	 /* client slot */
	OP_CANCEL,	 /* client slot */
	OP_REFUSE_SEND,	 /* fd */
	OP_REFUSE_CLOSE, /* fd */
	OP_TIMER_REMOVE,
};
#define UD(op, idx) (((uint64_t)(op) << 32) | (uint32_t)(idx))
#define UD_OP(ud) ((enum op)((ud) >> 32))
#define UD_IDX(ud) ((uint32_t)(ud))

#define SQ_ENTRIES 256
#define SUFFIX_TMP ".new"
#define SUFFIX_LOCK ".lock"
#define RETRY_MS 100

struct client {
	int fd;			 /* -1: free slot */
	unsigned inflight;	 /* requests whose completion is due */
	bool recv_busy, send_busy;
	bool eof;		 /* the peer has sent its last byte */
	bool close_after_send;	 /* close once the queued replies are out */
	bool closing;		 /* cancelled; released when inflight is 0 */
	uint64_t last_active_ns;
	size_t out_off, out_len; /* queued reply bytes: out[off, len) */
	struct ncp_proto_framer in;
	char out[2 * NCP_REPLY_MAX];
};

struct ncp_ctlsrv {
	ncp_ctlsrv_handler_fn handler;
	void *ctx;
	char *path;
	unsigned max_clients;
	uint64_t idle_ns;
	uid_t uid;
	bool has_group;
	gid_t gid;
	int lfd, efd, lockfd;
	dev_t sock_dev;
	ino_t sock_ino;
	struct io_uring ring;
	pthread_t thread;
	bool started, joined;

	/* Server thread only, from here on. */
	struct client *clients;
	unsigned nclients;
	unsigned inflight; /* all requests whose completion is due */
	bool stopping;
	bool accept_busy, retry_busy, sweep_busy, drain_busy;
	uint64_t wake_value;
	struct __kernel_timespec retry_ts, sweep_ts, drain_ts;
	struct ncp_reply reply;
	char refuse_perm[192];
	size_t refuse_perm_len;
	uint64_t log_window_ns;
	unsigned log_count, log_suppressed;

	/* Written by the server thread, read anywhere (relaxed: counters). */
	_Atomic uint64_t st_accepted, st_refused_busy, st_refused_perm;
	_Atomic uint64_t st_requests, st_errors, st_timeouts, st_clients;
};

static const char refuse_busy[] = "err EBUSY too many clients\n";

static void count(_Atomic uint64_t *c, int d)
{
	atomic_fetch_add_explicit(c, (uint64_t)(int64_t)d, memory_order_relaxed);
}

/* Expected faults are logged, at most 5 a second. */
static void log_limited(struct ncp_ctlsrv *s, int level, const char *fmt, ...)
	NCP_PRINTF(3, 4);
static void log_limited(struct ncp_ctlsrv *s, int level, const char *fmt, ...)
{
	uint64_t now = ncp_now_ns();
	char msg[256];
	va_list ap;

	if (now - s->log_window_ns > 1000000000u) {
		if (s->log_suppressed)
			ncp_log(level, "control: %u messages suppressed",
				s->log_suppressed);
		s->log_window_ns = now;
		s->log_count = 0;
		s->log_suppressed = 0;
	}
	if (s->log_count >= 5) {
		s->log_suppressed++;
		return;
	}
	s->log_count++;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	ncp_log(level, "control: %s", msg);
}

/* --- ring helpers ---------------------------------------------------- */

/* A submission entry; when the queue is full, what it holds is submitted
 * first.  Every entry taken is a completion due: counted in inflight. */
static struct io_uring_sqe *sqe_get(struct ncp_ctlsrv *s, uint64_t ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&s->ring);

	if (!sqe) {
		io_uring_submit(&s->ring);
		sqe = io_uring_get_sqe(&s->ring);
	}
	ncp_assert(sqe); /* the kernel consumed the queue we just submitted */
	io_uring_sqe_set_data64(sqe, ud);
	s->inflight++;
	return sqe;
}

static void set_ts(struct __kernel_timespec *ts, uint64_t ns)
{
	ts->tv_sec = (long long)(ns / 1000000000u);
	ts->tv_nsec = (long long)(ns % 1000000000u);
}

static void arm_timer(struct ncp_ctlsrv *s, enum op op,
		      struct __kernel_timespec *ts, uint64_t ns, bool *busy)
{
	set_ts(ts, ns);
	io_uring_prep_timeout(sqe_get(s, UD(op, 0)), ts, 0, 0);
	*busy = true;
}

static void remove_timer(struct ncp_ctlsrv *s, enum op op, bool busy)
{
	if (busy)
		io_uring_prep_timeout_remove(sqe_get(s, UD(OP_TIMER_REMOVE, 0)),
					     UD(op, 0), 0);
}

static void arm_accept(struct ncp_ctlsrv *s)
{
	io_uring_prep_accept(sqe_get(s, UD(OP_ACCEPT, 0)), s->lfd, NULL, NULL,
			     SOCK_CLOEXEC);
	s->accept_busy = true;
}

static uint64_t sweep_period_ns(const struct ncp_ctlsrv *s)
{
	uint64_t p = s->idle_ns / 4;
	return NCP_MAX(NCP_MIN(p, 1000000000u), 10000000u);
}

/* --- clients --------------------------------------------------------- */

static unsigned slot_of(const struct ncp_ctlsrv *s, const struct client *c)
{
	return (unsigned)(c - s->clients);
}

static void release_if_done(struct ncp_ctlsrv *s, struct client *c)
{
	if (c->fd < 0 || !c->closing || c->inflight > 0)
		return;
	close(c->fd);
	c->fd = -1;
	c->closing = false;
	s->nclients--;
	count(&s->st_clients, -1);
	if (s->stopping && s->nclients == 0) {
		remove_timer(s, OP_DRAIN, s->drain_busy);
		s->drain_busy = false;
	}
}

/* Close a client: cancel what it has in flight, release it when the last
 * completion is back (the kernel may still write into its buffers). */
static void client_close(struct ncp_ctlsrv *s, struct client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	if (c->recv_busy || c->send_busy) {
		io_uring_prep_cancel_fd(sqe_get(s, UD(OP_CANCEL, slot_of(s, c))),
					c->fd, IORING_ASYNC_CANCEL_ALL);
		c->inflight++;
	}
	release_if_done(s, c);
}

/* Close once the queued replies are sent; stop reading meanwhile. */
static void client_finish(struct ncp_ctlsrv *s, struct client *c)
{
	c->close_after_send = true;
	if (c->recv_busy) {
		io_uring_prep_cancel64(sqe_get(s, UD(OP_CANCEL, slot_of(s, c))),
				       UD(OP_RECV, slot_of(s, c)), 0);
		c->inflight++;
	}
	if (c->out_len == c->out_off && !c->send_busy)
		client_close(s, c);
}

/* Queue a reply line; `answered` counts it as the answer to a request. */
static void queue_reply(struct ncp_ctlsrv *s, struct client *c,
			const struct ncp_reply *r, bool answered)
{
	ncp_assert(c->out_len + r->len + 1 <= sizeof(c->out));
	memcpy(c->out + c->out_len, r->line, r->len);
	c->out[c->out_len + r->len] = '\n';
	c->out_len += r->len + 1;
	if (!answered)
		return;
	count(&s->st_requests, 1);
	if (r->is_err)
		count(&s->st_errors, 1);
}

static void answer(struct ncp_ctlsrv *s, const char *line, size_t len,
		   struct ncp_reply *r)
{
	char msg[NCP_PROTO_ERR_MAX];
	struct ncp_cmd cmd;
	int rc;

	ncp_reply_init(r);
	rc = ncp_proto_parse(line, len, &cmd, msg, sizeof(msg));
	if (rc) {
		ncp_reply_err(r, rc, "%s", msg);
		return;
	}
	if (cmd.kind == NCP_CMD_HELP) {
		ncp_proto_help(&cmd, r);
		return;
	}
	rc = s->handler(s->ctx, &cmd, r);
	if (rc < 0 && !r->is_err)
		ncp_reply_err(r, rc, "%s", ncp_strerror(rc));
}

/* Answer the complete lines received while there is room for their
 * replies, send what is queued, and read more when every line is
 * answered. */
static void client_pump(struct ncp_ctlsrv *s, struct client *c)
{
	bool want_recv = !c->recv_busy;

	if (c->closing)
		return;
	/* Complete lines can wait only while no receive is in flight. */
	while (!c->recv_busy && !c->close_after_send) {
		const char *line;
		size_t len;
		enum ncp_proto_frame ev;

		if (!c->send_busy && c->out_off > 0) {
			memmove(c->out, c->out + c->out_off,
				c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		if (c->out_len + NCP_REPLY_MAX > sizeof(c->out)) {
			want_recv = false; /* the client reads slowly: wait */
			break;
		}
		ev = ncp_proto_framer_next(&c->in, &line, &len);
		if (ev == NCP_PROTO_FRAME_NONE)
			break;
		if (ev == NCP_PROTO_FRAME_TOO_LONG) {
			ncp_reply_init(&s->reply);
			ncp_reply_err(&s->reply, -E2BIG,
				      "line longer than %d bytes (discarded up "
				      "to its newline)",
				      NCP_PROTO_LINE_MAX);
		} else {
			answer(s, line, len, &s->reply);
		}
		queue_reply(s, c, &s->reply, true);
	}
	if (c->out_len > c->out_off && !c->send_busy) {
		io_uring_prep_send(sqe_get(s, UD(OP_SEND, slot_of(s, c))), c->fd,
				   c->out + c->out_off, c->out_len - c->out_off,
				   MSG_NOSIGNAL);
		c->inflight++;
		c->send_busy = true;
	}
	if (c->close_after_send) {
		if (c->out_len == c->out_off && !c->send_busy)
			client_close(s, c);
		return;
	}
	if (want_recv && !c->recv_busy && !c->eof) {
		size_t avail;
		char *p = ncp_proto_framer_space(&c->in, &avail);
		io_uring_prep_recv(sqe_get(s, UD(OP_RECV, slot_of(s, c))), c->fd,
				   p, avail, 0);
		c->inflight++;
		c->recv_busy = true;
	}
}

static void on_recv(struct ncp_ctlsrv *s, struct client *c, int res)
{
	c->recv_busy = false;
	if (c->closing)
		return;
	if (res > 0) {
		ncp_proto_framer_commit(&c->in, (size_t)res);
		c->last_active_ns = ncp_now_ns();
		client_pump(s, c);
	} else if (res == 0) {
		/* The peer will send no more; answer what came, then close. */
		c->eof = true;
		client_finish(s, c);
	} else if (res == -ECANCELED && c->close_after_send) {
		/* We stopped reading on purpose; the send goes on. */
	} else {
		client_close(s, c);
	}
}

static void on_send(struct ncp_ctlsrv *s, struct client *c, int res)
{
	c->send_busy = false;
	if (c->closing)
		return;
	if (res <= 0) {
		/* The peer hung up mid-reply (EPIPE, ECONNRESET). */
		client_close(s, c);
		return;
	}
	c->out_off += (size_t)res;
	if (c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	c->last_active_ns = ncp_now_ns();
	client_pump(s, c); /* partial send: the rest goes out from here */
}

static void sweep_idle(struct ncp_ctlsrv *s)
{
	uint64_t now = ncp_now_ns();

	for (unsigned i = 0; i < s->max_clients; i++) {
		struct client *c = &s->clients[i];
		if (c->fd < 0 || c->closing || c->close_after_send ||
		    now - c->last_active_ns < s->idle_ns)
			continue;
		count(&s->st_timeouts, 1);
		if (c->send_busy) {
			client_close(s, c); /* it does not read its replies */
			continue;
		}
		ncp_reply_init(&s->reply);
		ncp_reply_err(&s->reply, -ETIMEDOUT,
			      "no complete request for %.3g s: closing",
			      (double)s->idle_ns / 1e9);
		queue_reply(s, c, &s->reply, false);
		client_finish(s, c);
		client_pump(s, c);
	}
}

/* --- accepting -------------------------------------------------------- */

static bool peer_allowed(struct ncp_ctlsrv *s, int fd, const struct ucred *cr)
{
	gid_t stack[64], *groups = stack;
	socklen_t len = sizeof(stack);
	bool ok = false;

	if (cr->uid == 0 || cr->uid == s->uid)
		return true;
	if (!s->has_group)
		return false;
	if (cr->gid == s->gid)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0) {
		if (errno != ERANGE)
			return false;
		groups = malloc(len);
		if (!groups ||
		    getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
			goto out;
	}
	for (size_t i = 0; i < len / sizeof(gid_t); i++)
		ok = ok || groups[i] == s->gid;
out:
	if (groups != stack)
		free(groups);
	return ok;
}

/* Send a fixed message to a connection that is not served, then close it
 * (a hard link: the close runs even when the send fails). */
static void refuse(struct ncp_ctlsrv *s, int fd, const char *msg, size_t len)
{
	struct io_uring_sqe *sqe;

	if (io_uring_sq_space_left(&s->ring) < 2)
		io_uring_submit(&s->ring);
	sqe = sqe_get(s, UD(OP_REFUSE_SEND, fd));
	io_uring_prep_send(sqe, fd, msg, len, MSG_NOSIGNAL);
	sqe->flags |= IOSQE_IO_HARDLINK;
	io_uring_prep_close(sqe_get(s, UD(OP_REFUSE_CLOSE, fd)), fd);
}

static void on_accept(struct ncp_ctlsrv *s, int fd)
{
	struct ucred cr;
	socklen_t len = sizeof(cr);
	struct client *c = NULL;

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) != 0) {
		close(fd);
		return;
	}
	if (!peer_allowed(s, fd, &cr)) {
		count(&s->st_refused_perm, 1);
		log_limited(s, NCP_LOG_NOTICE,
			    "refused pid %d uid %u gid %u: not allowed",
			    (int)cr.pid, (unsigned)cr.uid, (unsigned)cr.gid);
		refuse(s, fd, s->refuse_perm, s->refuse_perm_len);
		return;
	}
	for (unsigned i = 0; i < s->max_clients && !c; i++)
		if (s->clients[i].fd < 0)
			c = &s->clients[i];
	if (!c) {
		count(&s->st_refused_busy, 1);
		log_limited(s, NCP_LOG_WARNING,
			    "refused pid %d: %u clients already", (int)cr.pid,
			    s->max_clients);
		refuse(s, fd, refuse_busy, sizeof(refuse_busy) - 1);
		return;
	}
	memset(c, 0, offsetof(struct client, in));
	c->fd = fd;
	c->last_active_ns = ncp_now_ns();
	ncp_proto_framer_init(&c->in);
	s->nclients++;
	count(&s->st_clients, 1);
	count(&s->st_accepted, 1);
	if (s->idle_ns && !s->sweep_busy)
		arm_timer(s, OP_SWEEP, &s->sweep_ts, sweep_period_ns(s),
			  &s->sweep_busy);
	client_pump(s, c);
}

static void on_accept_done(struct ncp_ctlsrv *s, int res)
{
	s->accept_busy = false;
	if (res >= 0) {
		if (s->stopping)
			close(res);
		else
			on_accept(s, res);
	} else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN &&
		   res != -ECONNABORTED) {
		/* Out of descriptors or memory: try again a little later
		 * rather than spin on the same failure. */
		log_limited(s, NCP_LOG_WARNING, "accept: %s", ncp_strerror(res));
		if (!s->stopping)
			arm_timer(s, OP_RETRY, &s->retry_ts,
				  RETRY_MS * 1000000ull, &s->retry_busy);
		return;
	}
	if (!s->stopping)
		arm_accept(s);
}

/* --- the thread -------------------------------------------------------- */

static void begin_stop(struct ncp_ctlsrv *s)
{
	s->stopping = true;
	if (s->accept_busy)
		io_uring_prep_cancel64(sqe_get(s, UD(OP_CANCEL, UINT32_MAX)),
				       UD(OP_ACCEPT, 0), 0);
	remove_timer(s, OP_RETRY, s->retry_busy);
	remove_timer(s, OP_SWEEP, s->sweep_busy);
	for (unsigned i = 0; i < s->max_clients; i++) {
		struct client *c = &s->clients[i];
		if (c->fd < 0 || c->closing)
			continue;
		if (c->out_len > c->out_off)
			client_finish(s, c);
		else
			client_close(s, c);
	}
	if (s->nclients > 0)
		arm_timer(s, OP_DRAIN, &s->drain_ts,
			  NCP_CTLSRV_DRAIN_MS * 1000000ull, &s->drain_busy);
}

static void dispatch(struct ncp_ctlsrv *s, uint64_t ud, int res)
{
	enum op op = UD_OP(ud);
	struct client *c = NULL;

	s->inflight--;
	if (op == OP_RECV || op == OP_SEND ||
	    (op == OP_CANCEL && UD_IDX(ud) != UINT32_MAX)) {
		ncp_assert(UD_IDX(ud) < s->max_clients);
		c = &s->clients[UD_IDX(ud)];
		ncp_assert(c->fd >= 0 && c->inflight > 0);
		c->inflight--;
	}
	switch (op) {
	case OP_WAKE:
		begin_stop(s);
		break;
	case OP_ACCEPT:
		on_accept_done(s, res);
		break;
	case OP_RETRY:
		s->retry_busy = false;
		if (res == -ETIME && !s->stopping && !s->accept_busy)
			arm_accept(s);
		break;
	case OP_SWEEP:
		s->sweep_busy = false;
		if (res != -ETIME || s->stopping)
			break;
		sweep_idle(s);
		if (s->nclients > 0)
			arm_timer(s, OP_SWEEP, &s->sweep_ts, sweep_period_ns(s),
				  &s->sweep_busy);
		break;
	case OP_DRAIN:
		s->drain_busy = false;
		if (res != -ETIME)
			break;
		for (unsigned i = 0; i < s->max_clients; i++)
			if (s->clients[i].fd >= 0)
				client_close(s, &s->clients[i]);
		break;
	case OP_RECV:
		on_recv(s, c, res);
		break;
	case OP_SEND:
		on_send(s, c, res);
		break;
	case OP_CANCEL:
	case OP_REFUSE_SEND:
	case OP_REFUSE_CLOSE:
	case OP_TIMER_REMOVE:
		break;
	}
	if (c)
		release_if_done(s, c);
}

static void *server_main(void *arg)
{
	struct ncp_ctlsrv *s = arg;

	pthread_setname_np(pthread_self(), "ncp-ctl");
	io_uring_prep_read(sqe_get(s, UD(OP_WAKE, 0)), s->efd, &s->wake_value,
			   sizeof(s->wake_value), 0);
	arm_accept(s);
	while (!s->stopping || s->inflight > 0) {
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0;
		int rc = io_uring_submit_and_wait(&s->ring, 1);

		if (rc < 0 && rc != -EINTR && rc != -EBUSY && rc != -EAGAIN) {
			/* Not expected; do not spin on it. */
			log_limited(s, NCP_LOG_ERR, "io_uring: %s",
				    ncp_strerror(rc));
			nanosleep(&(struct timespec){ .tv_nsec = 10000000 }, NULL);
		}
		io_uring_for_each_cqe(&s->ring, head, cqe)
		{
			dispatch(s, cqe->user_data, cqe->res);
			seen++;
		}
		io_uring_cq_advance(&s->ring, seen);
	}
	return NULL;
}

/* --- set-up ------------------------------------------------------------ */

static int resolve_group(const char *name, gid_t *gid, char *err, size_t errlen)
{
	struct group gr, *res = NULL;
	char buf[4096], *end;
	unsigned long n;
	int rc;

	errno = 0;
	n = strtoul(name, &end, 10);
	if (*name && !*end && errno == 0 && n <= (gid_t)-2) {
		*gid = (gid_t)n;
		return 0;
	}
	rc = getgrnam_r(name, &gr, buf, sizeof(buf), &res);
	if (rc || !res) {
		ncp_errf(err, errlen, "control socket group '%s': %s", name,
			 rc ? ncp_strerror(rc) : "no such group");
		return -ENOENT;
	}
	*gid = gr.gr_gid;
	return 0;
}

/* Create the missing directories above path (0750, group gid), then check
 * that the socket's own directory cannot be tampered with by others. */
static int prepare_parent(const char *path, bool has_group, gid_t gid,
			  char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';

	for (char *p = dir + (dir[0] == '/'); *p; p++) {
		bool last = p[1] == '\0';
		if (*p != '/' && !last)
			continue;
		char saved = *p;
		if (!last)
			*p = '\0';
		if (mkdir(dir, 0750) == 0) {
			/* chmod: the umask may have taken group bits away. */
			if (chmod(dir, 0750) != 0 ||
			    (has_group && chown(dir, (uid_t)-1, gid) != 0)) {
				int e = errno;
				ncp_errf(err, errlen, "control socket directory %s: %s",
					 dir, strerror(e));
				return -e;
			}
		} else if (errno != EEXIST) {
			int e = errno;
			ncp_errf(err, errlen, "cannot create %s: %s", dir,
				 strerror(e));
			return -e;
		}
		*p = saved;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		ncp_errf(err, errlen, "%s is not a directory", dir);
		return -ENOTDIR;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		ncp_errf(err, errlen,
			 "%s belongs to uid %u: another user could replace the "
			 "control socket",
			 dir, (unsigned)st.st_uid);
		return -EACCES;
	}
	if ((st.st_mode & S_IWOTH) && !(st.st_mode & S_ISVTX)) {
		ncp_errf(err, errlen,
			 "%s is writable by everyone: another user could "
			 "replace the control socket",
			 dir);
		return -EACCES;
	}
	return 0;
}

static int fill_addr(struct sockaddr_un *a, const char *path, const char *suffix)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (strlen(path) + strlen(suffix) >= sizeof(a->sun_path))
		return -ENAMETOOLONG;
	snprintf(a->sun_path, sizeof(a->sun_path), "%s%s", path, suffix);
	return 0;
}

/* An existing file at path: a dead daemon's socket may be replaced, a
 * live one or anything else may not. */
static int check_existing(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un a;
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		ncp_errf(err, errlen,
			 "%s exists and is not a socket: remove it or choose "
			 "another socket path",
			 path);
		return -EEXIST;
	}
	fill_addr(&a, path, "");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 ? 0 : -errno;
	close(fd);
	if (rc == 0 || rc == -EAGAIN) {
		ncp_errf(err, errlen,
			 "%s: another server is listening on it (is ncpd "
			 "already running?)",
			 path);
		return -EADDRINUSE;
	}
	if (rc != -ECONNREFUSED) {
		ncp_errf(err, errlen, "%s: cannot tell whether it is in use: %s",
			 path, ncp_strerror(rc));
		return rc;
	}
	return 0; /* stale: replaced by the rename below */
}

/* PATH.lock, held for the server's life. */
static void lock_path(const struct ncp_ctlsrv *s, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", s->path, SUFFIX_LOCK);
}

static int open_socket(struct ncp_ctlsrv *s, char *err, size_t errlen)
{
	struct sockaddr_un a;
	char lock[sizeof(a.sun_path) + sizeof(SUFFIX_LOCK)];
	struct stat st;
	int rc;

	rc = fill_addr(&a, s->path, SUFFIX_TMP);
	if (rc) {
		ncp_errf(err, errlen,
			 "control socket path too long (at most %zu bytes): %s",
			 sizeof(a.sun_path) - sizeof(SUFFIX_TMP), s->path);
		return rc;
	}
	rc = prepare_parent(s->path, s->has_group, s->gid, err, errlen);
	if (rc)
		return rc;

	lock_path(s, lock, sizeof(lock));
	rc = ncp_service_flock(lock, 0600);
	if (rc == -EWOULDBLOCK) {
		ncp_errf(err, errlen,
			 "%s: another server holds %s (is ncpd already "
			 "running?)",
			 s->path, lock);
		return -EADDRINUSE;
	}
	if (rc < 0) {
		ncp_errf(err, errlen, "cannot lock %s: %s", lock, ncp_strerror(rc));
		return rc;
	}
	s->lockfd = rc;
	rc = check_existing(s->path, err, errlen);
	if (rc) {
		if (err && !err[0])
			ncp_errf(err, errlen, "%s: %s", s->path, ncp_strerror(rc));
		return rc;
	}

	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->lfd < 0) {
		rc = -errno;
		ncp_errf(err, errlen, "socket: %s", ncp_strerror(rc));
		return rc;
	}
	/* Bind under a temporary name, set mode and group, then rename into
	 * place: the socket never exists under its name with a wider mode. */
	unlink(a.sun_path);
	if (bind(s->lfd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    chmod(a.sun_path, 0660) != 0 ||
	    (s->has_group && chown(a.sun_path, (uid_t)-1, s->gid) != 0) ||
	    listen(s->lfd, SOMAXCONN) != 0 || rename(a.sun_path, s->path) != 0 ||
	    stat(s->path, &st) != 0) {
		rc = -errno;
		ncp_errf(err, errlen, "cannot create control socket %s: %s",
			 s->path, ncp_strerror(rc));
		unlink(a.sun_path);
		return rc;
	}
	/* From here on the file at path is ours (and removed on failure). */
	s->sock_dev = st.st_dev;
	s->sock_ino = st.st_ino;
	return 0;
}

struct ncp_ctlsrv *ncp_ctlsrv_new(const struct ncp_ctlsrv_config *cfg,
				  char *err, size_t errlen)
{
	struct io_uring_params params;
	struct ncp_ctlsrv *s;
	unsigned cq;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (!cfg->path || !cfg->path[0] || !cfg->handler ||
	    cfg->max_clients > NCP_CTLSRV_MAX_CLIENTS) {
		ncp_errf(err, errlen,
			 "control server: a socket path and a handler are "
			 "needed, and at most %d clients",
			 NCP_CTLSRV_MAX_CLIENTS);
		errno = EINVAL;
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		rc = -ENOMEM;
		goto fail;
	}
	s->lfd = s->efd = s->lockfd = -1;
	s->handler = cfg->handler;
	s->ctx = cfg->ctx;
	s->max_clients = cfg->max_clients ? cfg->max_clients
					  : NCP_CTLSRV_DEFAULT_CLIENTS;
	s->idle_ns = (uint64_t)cfg->idle_timeout_ms * 1000000u;
	s->uid = geteuid();
	s->path = strdup(cfg->path);
	if (!s->path) {
		rc = -ENOMEM;
		goto fail_free;
	}
	if (cfg->group && cfg->group[0]) {
		rc = resolve_group(cfg->group, &s->gid, err, errlen);
		if (rc)
			goto fail_free;
		s->has_group = true;
	}
	s->refuse_perm_len = (size_t)snprintf(
		s->refuse_perm, sizeof(s->refuse_perm),
		"err EACCES permission denied: only root, uid %u%s%s%s may "
		"use this socket\n",
		(unsigned)s->uid, s->has_group ? " and group '" : "",
		s->has_group ? cfg->group : "", s->has_group ? "'" : "");
	if (s->refuse_perm_len >= sizeof(s->refuse_perm)) {
		s->refuse_perm_len = sizeof(s->refuse_perm) - 1;
		s->refuse_perm[s->refuse_perm_len - 1] = '\n';
	}
	s->clients = calloc(s->max_clients, sizeof(*s->clients));
	if (!s->clients) {
		rc = -ENOMEM;
		goto fail_free;
	}
	for (unsigned i = 0; i < s->max_clients; i++)
		s->clients[i].fd = -1;

	rc = open_socket(s, err, errlen);
	if (rc)
		goto fail_socket;
	s->efd = eventfd(0, EFD_CLOEXEC);
	if (s->efd < 0) {
		rc = -errno;
		goto fail_socket;
	}
	/* Room in the completion queue for every request that can be in
	 * flight: three per client, refusals and timers. */
	memset(&params, 0, sizeof(params));
	for (cq = 2 * SQ_ENTRIES; cq < 4 * s->max_clients + 64; cq *= 2)
		;
	params.flags = IORING_SETUP_CQSIZE;
	params.cq_entries = cq;
	rc = io_uring_queue_init_params(SQ_ENTRIES, &s->ring, &params);
	if (rc) {
		if (err && !err[0])
			ncp_errf(err, errlen, "io_uring: %s", ncp_strerror(rc));
		goto fail_ring;
	}
	ncp_log_info("control socket %s (mode 0660%s%s, %u clients at most)",
		     s->path, s->has_group ? ", group " : "",
		     s->has_group ? cfg->group : "", s->max_clients);
	return s;

fail_ring:
	close(s->efd);
fail_socket:
	if (s->sock_ino)
		unlink(s->path);
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->lockfd >= 0) {
		char lock[PATH_MAX];
		lock_path(s, lock, sizeof(lock));
		ncp_service_unlock(s->lockfd, lock);
	}
fail_free:
	free(s->clients);
	free(s->path);
	free(s);
fail:
	if (err && !err[0])
		ncp_errf(err, errlen, "control server: %s", ncp_strerror(rc));
	errno = -rc;
	return NULL;
}

int ncp_ctlsrv_start(struct ncp_ctlsrv *s)
{
	sigset_t all, old;
	int rc;

	if (s->started)
		return -EALREADY;
	/* The thread inherits a full signal mask: signals go to the
	 * daemon's other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&s->thread, NULL, server_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	s->started = true;
	return 0;
}

void ncp_ctlsrv_stop(struct ncp_ctlsrv *s)
{
	uint64_t one = 1;

	if (!s->started || s->joined)
		return;
	/* The eventfd read the thread keeps pending completes: it wakes. */
	while (write(s->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
	pthread_join(s->thread, NULL);
	s->joined = true;
}

void ncp_ctlsrv_free(struct ncp_ctlsrv *s)
{
	struct stat st;

	if (!s)
		return;
	ncp_ctlsrv_stop(s);
	/* Never started, or stopped: no request is in flight but, if never
	 * started, none was ever submitted. */
	io_uring_queue_exit(&s->ring);
	for (unsigned i = 0; i < s->max_clients; i++)
		if (s->clients[i].fd >= 0)
			close(s->clients[i].fd);
	close(s->lfd);
	/* Remove the socket only while it is still ours. */
	if (stat(s->path, &st) == 0 && st.st_dev == s->sock_dev &&
	    st.st_ino == s->sock_ino)
		unlink(s->path);
	close(s->efd);
	/* Last: the lock covered the socket's unlink; its file goes too,
	 * removed while still held. */
	char lock[PATH_MAX];
	lock_path(s, lock, sizeof(lock));
	ncp_service_unlock(s->lockfd, lock);
	free(s->clients);
	free(s->path);
	free(s);
}

void ncp_ctlsrv_stats(const struct ncp_ctlsrv *s, struct ncp_ctlsrv_stats *out)
{
	struct ncp_ctlsrv *m = (struct ncp_ctlsrv *)s; /* atomics: loads only */

	out->accepted = atomic_load_explicit(&m->st_accepted, memory_order_relaxed);
	out->refused_busy =
		atomic_load_explicit(&m->st_refused_busy, memory_order_relaxed);
	out->refused_perm =
		atomic_load_explicit(&m->st_refused_perm, memory_order_relaxed);
	out->requests = atomic_load_explicit(&m->st_requests, memory_order_relaxed);
	out->errors = atomic_load_explicit(&m->st_errors, memory_order_relaxed);
	out->timeouts = atomic_load_explicit(&m->st_timeouts, memory_order_relaxed);
	out->clients = atomic_load_explicit(&m->st_clients, memory_order_relaxed);
}
