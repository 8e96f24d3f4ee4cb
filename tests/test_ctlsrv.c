/* The control server on a temporary socket with a test handler, and
 * build/ncpctl against it.  Each test starts its own server. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client/ncp_ctlclient.h"
#include "daemon/ncp_ctlsrv.h"
#include "shm/ncp_paths.h"
#include "tests/ncp_check.h"

#define TIMEOUT_MS 2000

/* --- fixture ---------------------------------------------------------- */

struct hctx {
	_Atomic unsigned calls;
};

static struct {
	char dir[64];
	char path[96]; /* fits a sockaddr_un */
	struct ncp_ctlsrv *srv;
	struct hctx h;
} fx;

static const char status_line[] =
	"ok loop.step=12000 loop.overruns=0 loop.paused=false "
	"arm.hand=0.012,1.251 target.xy=0,1.25 task.kind=centre-out "
	"task.period=nan";

static int test_handler(void *ctx, const struct ncp_cmd *cmd,
			struct ncp_reply *r)
{
	struct hctx *h = ctx;
	static char pad[NCP_REPLY_MAX];

	atomic_fetch_add(&h->calls, 1);
	switch (cmd->kind) {
	case NCP_CMD_STATUS: {
		double hand[2] = { 0.012, 1.251 }, xy[2] = { 0, 1.25 };
		ncp_reply_uint(r, "loop.step", 12000);
		ncp_reply_uint(r, "loop.overruns", 0);
		ncp_reply_bool(r, "loop.paused", false);
		ncp_reply_vec(r, "arm.hand", hand, 2);
		ncp_reply_vec(r, "target.xy", xy, 2);
		ncp_reply_str(r, "task.kind", "centre-out");
		ncp_reply_num(r, "task.period", NAN);
		return 0;
	}
	case NCP_CMD_TARGET: {
		double xy[2] = { cmd->target.x, cmd->target.y };
		if (fabs(xy[0]) > 2 || fabs(xy[1]) > 2)
			return ncp_reply_err(r, ERANGE,
					     "target (%g, %g) is outside the "
					     "reachable workspace",
					     xy[0], xy[1]);
		ncp_reply_vec(r, "target.xy", xy, 2);
		return 0;
	}
	case NCP_CMD_CONFIG_GET: {
		/* "pad.N.tag": a reply of about N bytes that names its key. */
		unsigned n;
		if (sscanf(cmd->config.key, "pad.%u", &n) == 1 &&
		    n < NCP_REPLY_MAX - 200) {
			memset(pad, 'x', n);
			pad[n] = '\0';
			ncp_reply_str(r, "key", cmd->config.key);
			ncp_reply_str(r, "pad", pad);
			return 0;
		}
		return ncp_reply_err(r, ENOENT, "no config key '%s'",
				     cmd->config.key);
	}
	case NCP_CMD_SAVE:
		return -ENOSPC;
	default:
		return 0;
	}
}

static void server_up(unsigned max_clients, unsigned idle_ms, const char *group)
{
	struct ncp_ctlsrv_config cfg = {
		.path = fx.path,
		.group = group,
		.max_clients = max_clients,
		.idle_timeout_ms = idle_ms,
		.handler = test_handler,
		.ctx = &fx.h,
	};
	char err[256];

	fx.srv = ncp_ctlsrv_new(&cfg, err, sizeof(err));
	ck_assert_msg(fx.srv, "ncp_ctlsrv_new: %s", err);
	ck_assert_int_eq(ncp_ctlsrv_start(fx.srv), 0);
}

/* Each test works in its own directory under one root per test case.
 * The root is made and removed in the parent process (unchecked
 * fixture), so a failed test, whose checked teardown does not run, leaves
 * nothing behind.  0755: the child that becomes "nobody" must pass. */
static char root[32];

static void root_up(void)
{
	snprintf(root, sizeof(root), "/tmp/ncp-ctlsrv-XXXXXX");
	if (!mkdtemp(root) || chmod(root, 0755) != 0) {
		perror("test_ctlsrv: mkdtemp");
		exit(1);
	}
}

static void root_down(void)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
}

static void setup(void)
{
	snprintf(fx.dir, sizeof(fx.dir), "%s/t-XXXXXX", root);
	ck_assert_ptr_nonnull(mkdtemp(fx.dir));
	snprintf(fx.path, sizeof(fx.path), "%s/ctl.sock", fx.dir);
	atomic_store(&fx.h.calls, 0);
	fx.srv = NULL;
}

static void teardown(void)
{
	ncp_ctlsrv_free(fx.srv);
	fx.srv = NULL;
}

static void cl_open(struct ncp_ctlclient *c)
{
	char err[256];
	int rc = ncp_ctlclient_init(c, fx.path, TIMEOUT_MS, err, sizeof(err));
	ck_assert_msg(rc == 0, "%s", err);
}

/* One request; the reply must equal `want`, or start with it when `want`
 * ends in '*'. */
static void cl_expect(struct ncp_ctlclient *c, const char *req, const char *want)
{
	char line[NCP_CTLCLIENT_BUF];
	size_t n = strlen(want);
	int rc = ncp_ctlclient_call(c, req, line, sizeof(line), TIMEOUT_MS);

	ck_assert_msg(rc >= 0, "'%s': %s", req, strerror(-rc));
	if (n && want[n - 1] == '*')
		ck_assert_msg(strncmp(line, want, n - 1) == 0,
			      "'%s' -> '%s', want '%s'", req, line, want);
	else
		ck_assert_msg(strcmp(line, want) == 0, "'%s' -> '%s', want '%s'",
			      req, line, want);
}

static void cl_expect_eof(struct ncp_ctlclient *c)
{
	char line[NCP_CTLCLIENT_BUF];
	int rc = ncp_ctlclient_recv_line(c, line, sizeof(line), TIMEOUT_MS);
	ck_assert_msg(rc == -ECONNRESET, "expected the server to close, got %d %s",
		      rc, rc >= 0 ? line : strerror(-rc));
}

static double ms_since(uint64_t t0)
{
	return (double)(ncp_now_ns() - t0) / 1e6;
}

static struct ncp_ctlsrv_stats stats(void)
{
	struct ncp_ctlsrv_stats st;
	ncp_ctlsrv_stats(fx.srv, &st);
	return st;
}

/* Wait up to 2 s for the server to count `n` clients. */
static void wait_clients(uint64_t n)
{
	for (int i = 0; i < 400 && stats().clients != n; i++)
		usleep(5000);
	ck_assert_uint_eq(stats().clients, n);
}

/* --- requests and replies --------------------------------------------- */

START_TEST(request_response)
{
	struct ncp_ctlclient c;
	struct ncp_ctlsrv_stats st;

	server_up(0, 0, NULL);
	cl_open(&c);
	cl_expect(&c, "status", status_line);
	cl_expect(&c, "target 0.1 1.2", "ok target.xy=0.1,1.2");
	cl_expect(&c, "target 5 5",
		  "err ERANGE target (5, 5) is outside the reachable workspace");
	cl_expect(&c, "save model", "err ENOSPC No space left on device");
	cl_expect(&c, "bogus", "err EINVAL unknown command 'bogus' (try 'help')");
	cl_expect(&c, "target 1x 2", "err EINVAL X: '1x' is not a number*");
	cl_expect(&c, "load ../x", "err EACCES '..' is refused*");
	cl_expect(&c, "", "err EINVAL empty line (try 'help')");
	cl_expect(&c, "pause\r", "ok");
	/* help is answered by the server, not the handler. */
	unsigned calls = atomic_load(&fx.h.calls);
	cl_expect(&c, "help", "ok commands: target task*");
	cl_expect(&c, "help train", "ok train on|off|status: *");
	ck_assert_uint_eq(atomic_load(&fx.h.calls), calls);

	/* Pipelined requests in one write, answered in order. */
	ck_assert_int_eq(ncp_ctlclient_send(&c, "target 0 1\nnope\nstatus\n", 23,
					    TIMEOUT_MS), 0);
	char line[NCP_CTLCLIENT_BUF];
	ck_assert_int_ge(ncp_ctlclient_recv_line(&c, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, "ok target.xy=0,1");
	ck_assert_int_ge(ncp_ctlclient_recv_line(&c, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert(strncmp(line, "err EINVAL unknown command 'nope'", 33) == 0);
	ck_assert_int_ge(ncp_ctlclient_recv_line(&c, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, status_line);

	/* NUL and invalid UTF-8 on the wire. */
	ck_assert_int_eq(ncp_ctlclient_send(&c, "sta\0tus\n\xc0\xafx\n", 12,
					    TIMEOUT_MS), 0);
	ck_assert_int_ge(ncp_ctlclient_recv_line(&c, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, "err EPROTO NUL byte at byte 4 of the line");
	ck_assert_int_ge(ncp_ctlclient_recv_line(&c, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, "err EPROTO invalid UTF-8 at byte 1 of the line");

	st = stats();
	ck_assert_uint_eq(st.accepted, 1);
	ck_assert_uint_eq(st.requests, 16);
	ck_assert_uint_eq(st.errors, 9);
	ck_assert_uint_eq(st.clients, 1);
	ncp_ctlclient_fini(&c);
	wait_clients(0);
}
END_TEST

START_TEST(clients_interleaved)
{
	enum { N = 8, ROUNDS = 20 };
	struct ncp_ctlclient c[N];
	char req[64], want[64];

	server_up(0, 0, NULL);
	for (int i = 0; i < N; i++)
		cl_open(&c[i]);
	/* Each client's replies carry its own numbers, so a reply sent to
	 * the wrong client or out of order is caught. */
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < N; i++) {
			snprintf(req, sizeof(req), "target 0.%d %g\n", i + 1, r / 16.0);
			ck_assert_int_eq(ncp_ctlclient_send(&c[i], req, strlen(req),
							    TIMEOUT_MS), 0);
		}
		for (int i = N - 1; i >= 0; i--) {
			char line[NCP_CTLCLIENT_BUF];
			snprintf(want, sizeof(want), "ok target.xy=0.%d,%g", i + 1,
				 r / 16.0);
			ck_assert_int_ge(ncp_ctlclient_recv_line(&c[i], line,
								 sizeof(line),
								 TIMEOUT_MS), 0);
			ck_assert_str_eq(line, want);
		}
	}
	/* A request sent one byte at a time. */
	const char *slow = "status\n";
	for (const char *p = slow; *p; p++) {
		ck_assert_int_eq(ncp_ctlclient_send(&c[0], p, 1, TIMEOUT_MS), 0);
		usleep(1000);
	}
	char line[NCP_CTLCLIENT_BUF];
	ck_assert_int_ge(ncp_ctlclient_recv_line(&c[0], line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, status_line);
	ck_assert_uint_eq(stats().requests, N * ROUNDS + 1);
	for (int i = 0; i < N; i++)
		ncp_ctlclient_fini(&c[i]);
}
END_TEST

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

START_TEST(stalled_clients_hold_nobody_up)
{
	enum { N = 100 };
	struct ncp_ctlclient silent, half, busy;
	double lat[N];

	server_up(0, 0, NULL);
	cl_open(&silent);
	cl_open(&half);
	ck_assert_int_eq(ncp_ctlclient_send(&half, "targ", 4, TIMEOUT_MS), 0);
	cl_open(&busy);
	wait_clients(3);
	for (int i = 0; i < N; i++) {
		uint64_t t0 = ncp_now_ns();
		cl_expect(&busy, "status", status_line);
		lat[i] = ms_since(t0);
	}
	qsort(lat, N, sizeof(lat[0]), cmp_double);
	printf("round trips beside two stalled clients: p50 %.3f ms, "
	       "p99 %.3f ms, max %.3f ms\n",
	       lat[N / 2], lat[N * 99 / 100], lat[N - 1]);
	ck_assert_msg(lat[N * 99 / 100] < 100.0, "p99 %.1f ms", lat[N * 99 / 100]);
	/* The half line still completes into a request. */
	ck_assert_int_eq(ncp_ctlclient_send(&half, "et 1 1\n", 7, TIMEOUT_MS), 0);
	char line[NCP_CTLCLIENT_BUF];
	ck_assert_int_ge(ncp_ctlclient_recv_line(&half, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, "ok target.xy=1,1");
	ncp_ctlclient_fini(&silent);
	ncp_ctlclient_fini(&half);
	ncp_ctlclient_fini(&busy);
}
END_TEST

START_TEST(overlong_line_then_usable)
{
	static char big[5000];
	struct ncp_ctlclient c;
	char line[NCP_CTLCLIENT_BUF];

	server_up(0, 0, NULL);
	cl_open(&c);
	/* 5000 bytes, then its newline later: one error, then service. */
	memset(big, 'a', sizeof(big));
	ck_assert_int_eq(ncp_ctlclient_send(&c, big, sizeof(big), TIMEOUT_MS), 0);
	ck_assert_int_ge(ncp_ctlclient_recv_line(&c, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, "err E2BIG line longer than 1024 bytes (discarded "
			       "up to its newline)");
	ck_assert_int_eq(ncp_ctlclient_send(&c, big, 3000, TIMEOUT_MS), 0);
	cl_expect(&c, "\nstatus", status_line);
	/* Exactly 1024 bytes with the newline is still a request. */
	memset(big, ' ', NCP_PROTO_LINE_MAX);
	memcpy(big, "status", 6);
	big[NCP_PROTO_LINE_MAX - 1] = '\n';
	ck_assert_int_eq(ncp_ctlclient_send(&c, big, NCP_PROTO_LINE_MAX, TIMEOUT_MS), 0);
	ck_assert_int_ge(ncp_ctlclient_recv_line(&c, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, status_line);
	ck_assert_uint_eq(stats().requests, 3);
	ck_assert_uint_eq(stats().errors, 1);
	ncp_ctlclient_fini(&c);
}
END_TEST

START_TEST(client_bound)
{
	struct ncp_ctlclient c[4], extra;

	server_up(4, 0, NULL);
	for (int i = 0; i < 4; i++) {
		cl_open(&c[i]);
		cl_expect(&c[i], "status", status_line);
	}
	cl_open(&extra);
	char line[NCP_CTLCLIENT_BUF];
	ck_assert_int_ge(ncp_ctlclient_recv_line(&extra, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, "err EBUSY too many clients");
	cl_expect_eof(&extra);
	ncp_ctlclient_fini(&extra);
	ck_assert_uint_eq(stats().refused_busy, 1);
	ck_assert_uint_eq(stats().accepted, 4);
	/* The others are unaffected; one leaves, a newcomer is served. */
	cl_expect(&c[3], "status", status_line);
	ncp_ctlclient_fini(&c[0]);
	wait_clients(3);
	cl_open(&extra);
	cl_expect(&extra, "status", status_line);
	ncp_ctlclient_fini(&extra);
	for (int i = 1; i < 4; i++)
		ncp_ctlclient_fini(&c[i]);
}
END_TEST

START_TEST(hangup_mid_reply_and_slow_reader)
{
	enum { N = 200 };
	struct ncp_ctlclient c, other;
	char req[64], want[64];

	/* On a Unix socket the sender's buffer (about 208 KB) bounds what
	 * is in flight: 200 replies of 3 KB overflow it, so the server's
	 * sends are partial or wait. */
	server_up(0, 0, NULL);
	/* A client asks for 200 replies of 3 KB and hangs up unread. */
	cl_open(&c);
	for (int i = 0; i < N; i++) {
		snprintf(req, sizeof(req), "config get pad.3000.h%d\n", i);
		ck_assert_int_eq(ncp_ctlclient_send(&c, req, strlen(req), TIMEOUT_MS), 0);
	}
	usleep(20000);
	ncp_ctlclient_fini(&c);
	wait_clients(0);

	/* A slow reader gets every reply, whole and in order (partial
	 * sends, back-pressure). */
	cl_open(&c);
	for (int i = 0; i < N; i++) {
		snprintf(req, sizeof(req), "config get pad.3000.r%d\n", i);
		ck_assert_int_eq(ncp_ctlclient_send(&c, req, strlen(req), TIMEOUT_MS), 0);
	}
	cl_open(&other); /* served meanwhile */
	cl_expect(&other, "status", status_line);
	for (int i = 0; i < N; i++) {
		char line[NCP_CTLCLIENT_BUF];
		if (i % 20 == 0)
			usleep(2000);
		ck_assert_int_ge(ncp_ctlclient_recv_line(&c, line, sizeof(line),
							 TIMEOUT_MS), 0);
		snprintf(want, sizeof(want), "ok key=pad.3000.r%d pad=xxx", i);
		ck_assert_msg(strncmp(line, want, strlen(want)) == 0, "%d: %.40s", i,
			      line);
		ck_assert_uint_eq(strlen(line), strlen(want) - 3 + 3000);
	}
	ncp_ctlclient_fini(&c);
	ncp_ctlclient_fini(&other);
	wait_clients(0);
}
END_TEST

START_TEST(half_close_and_idle_timeout)
{
	struct ncp_ctlclient c, quiet, chatty;
	uint64_t t0;

	server_up(0, 300, NULL);
	/* A client that sends its request and shuts its side still gets the
	 * reply, then the close. */
	cl_open(&c);
	ck_assert_int_eq(ncp_ctlclient_send(&c, "status\n", 7, TIMEOUT_MS), 0);
	shutdown(c.fd, SHUT_WR);
	char line[NCP_CTLCLIENT_BUF];
	ck_assert_int_ge(ncp_ctlclient_recv_line(&c, line, sizeof(line), TIMEOUT_MS), 0);
	ck_assert_str_eq(line, status_line);
	cl_expect_eof(&c);
	ncp_ctlclient_fini(&c);

	/* A silent client is told and closed; a chatty one stays. */
	double told_ms = -1;
	t0 = ncp_now_ns();
	cl_open(&quiet);
	cl_open(&chatty);
	for (int i = 0; i < 40 && told_ms < 0; i++) {
		usleep(25000);
		cl_expect(&chatty, "status", status_line);
		if (ncp_ctlclient_recv_line(&quiet, line, sizeof(line), 0) >= 0)
			told_ms = ms_since(t0);
	}
	ck_assert_msg(told_ms >= 300.0, "told after %.0f ms", told_ms);
	ck_assert_str_eq(line, "err ETIMEDOUT no complete request for 0.3 s: closing");
	cl_expect_eof(&quiet);
	printf("idle client closed after %.0f ms (timeout 300 ms)\n", told_ms);
	ck_assert_uint_eq(stats().timeouts, 1);
	cl_expect(&chatty, "status", status_line);
	ncp_ctlclient_fini(&quiet);
	ncp_ctlclient_fini(&chatty);
}
END_TEST

START_TEST(stop_is_prompt)
{
	struct ncp_ctlclient idle, half, greedy, quitter;
	char req[64], line[NCP_CTLCLIENT_BUF];
	uint64_t t0, answered = 0;
	double ms;

	server_up(0, 0, NULL);
	cl_open(&idle);
	cl_open(&half);
	ck_assert_int_eq(ncp_ctlclient_send(&half, "stat", 4, TIMEOUT_MS), 0);
	/* One that never reads its replies: once the server's socket buffer
	 * is full, its output is stuck and the count of answers stops. */
	cl_open(&greedy);
	for (int i = 0; i < 200; i++) {
		snprintf(req, sizeof(req), "config get pad.3000.s%d\n", i);
		ck_assert_int_eq(ncp_ctlclient_send(&greedy, req, strlen(req),
						    TIMEOUT_MS), 0);
	}
	for (int i = 0; i < 200; i++) {
		usleep(10000);
		if (stats().requests == answered && answered >= 10)
			break;
		answered = stats().requests;
	}
	ck_assert_uint_lt(answered, 200);
	/* "shutdown" is answered before the server goes. */
	cl_open(&quitter);
	ck_assert_int_eq(ncp_ctlclient_send(&quitter, "shutdown\n", 9, TIMEOUT_MS), 0);
	while (stats().requests == answered)
		usleep(1000);
	t0 = ncp_now_ns();
	ncp_ctlsrv_stop(fx.srv);
	ms = ms_since(t0);
	printf("stop with 4 clients, one with %" PRIu64 " replies it does not "
	       "read: %.1f ms (drain limit %d ms)\n",
	       answered, ms, NCP_CTLSRV_DRAIN_MS);
	/* The stuck client is given the drain period; the upper bound is a
	 * hang guard (a stop that waited on the client would never end). */
	ck_assert_msg(ms >= NCP_CTLSRV_DRAIN_MS * 0.8 && ms < 30000.0,
		      "stop took %.0f ms", ms);
	ck_assert_uint_eq(stats().clients, 0);
	ck_assert_int_ge(ncp_ctlclient_recv_line(&quitter, line, sizeof(line),
						 TIMEOUT_MS), 0);
	ck_assert_str_eq(line, "ok");
	cl_expect_eof(&quitter);
	cl_expect_eof(&idle);
	cl_expect_eof(&half);
	ncp_ctlsrv_stop(fx.srv); /* idempotent */
	ncp_ctlclient_fini(&idle);
	ncp_ctlclient_fini(&half);
	ncp_ctlclient_fini(&greedy);
	ncp_ctlclient_fini(&quitter);
}
END_TEST

/* --- the socket file --------------------------------------------------- */

START_TEST(socket_file)
{
	struct ncp_ctlsrv_config cfg = { .path = fx.path, .handler = test_handler,
					 .ctx = &fx.h };
	struct ncp_ctlsrv *second;
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	char err[256], sub[128];
	struct stat st;
	int fd;

	/* Mode 0660, our uid, the configured group (only root may give the
	 * socket a group it is not in). */
	server_up(0, 0, geteuid() == 0 ? "4242" : NULL);
	ck_assert_int_eq(stat(fx.path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	ck_assert_uint_eq(st.st_mode & 07777, 0660);
	ck_assert_uint_eq(st.st_uid, geteuid());
	if (geteuid() == 0)
		ck_assert_uint_eq(st.st_gid, 4242);
	else
		ncp_ck_skip_note("socket_file: the socket's group is not "
				 "checked: only root may give it a group it "
				 "is not in");

	/* A second server on the same path is refused. */
	second = ncp_ctlsrv_new(&cfg, err, sizeof(err));
	ck_assert_ptr_null(second);
	ck_assert_int_eq(errno, EADDRINUSE);
	ck_assert_msg(strstr(err, "already running"), "%s", err);
	ncp_ctlsrv_free(fx.srv);
	fx.srv = NULL;
	ck_assert_int_eq(access(fx.path, F_OK), -1); /* removed at free */
	snprintf(sub, sizeof(sub), "%s.lock", fx.path);
	ck_assert_int_eq(access(sub, F_OK), -1);     /* its lock too */

	/* A dead server's socket is replaced. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", fx.path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	close(fd);
	server_up(0, 0, NULL);
	ncp_ctlsrv_free(fx.srv);
	fx.srv = NULL;

	/* A live one (not ours, no lock) is refused. */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	ck_assert_ptr_null(ncp_ctlsrv_new(&cfg, err, sizeof(err)));
	ck_assert_int_eq(errno, EADDRINUSE);
	ck_assert_msg(strstr(err, "another server is listening"), "%s", err);
	close(fd);
	unlink(fx.path);

	/* Something else at the path is left alone. */
	fd = open(fx.path, O_CREAT | O_WRONLY, 0600);
	close(fd);
	ck_assert_ptr_null(ncp_ctlsrv_new(&cfg, err, sizeof(err)));
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_msg(strstr(err, "not a socket"), "%s", err);
	unlink(fx.path);

	/* Missing directories are created, 0750. */
	snprintf(sub, sizeof(sub), "%s/a/b/ctl.sock", fx.dir);
	cfg.path = sub;
	fx.srv = ncp_ctlsrv_new(&cfg, err, sizeof(err));
	ck_assert_msg(fx.srv, "%s", err);
	snprintf(sub, sizeof(sub), "%s/a/b", fx.dir);
	ck_assert_int_eq(stat(sub, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0750);
	ncp_ctlsrv_free(fx.srv);
	fx.srv = NULL;

	/* A directory anyone may write to is refused. */
	snprintf(sub, sizeof(sub), "%s/open", fx.dir);
	ck_assert_int_eq(mkdir(sub, 0777), 0);
	ck_assert_int_eq(chmod(sub, 0777), 0);
	snprintf(sub, sizeof(sub), "%s/open/ctl.sock", fx.dir);
	ck_assert_ptr_null(ncp_ctlsrv_new(&cfg, err, sizeof(err)));
	ck_assert_int_eq(errno, EACCES);
	ck_assert_msg(strstr(err, "writable by everyone"), "%s", err);

	/* Too long a path, an unknown group. */
	memset(sub, 'p', sizeof(sub) - 1);
	sub[0] = '/';
	sub[sizeof(sub) - 1] = '\0';
	ck_assert_ptr_null(ncp_ctlsrv_new(&cfg, err, sizeof(err)));
	ck_assert_int_eq(errno, ENAMETOOLONG);
	cfg.path = fx.path;
	cfg.group = "no-such-group-ncp";
	ck_assert_ptr_null(ncp_ctlsrv_new(&cfg, err, sizeof(err)));
	ck_assert_msg(strstr(err, "no-such-group-ncp"), "%s", err);
}
END_TEST

/* In a child: take the given identity, connect, send status.  Exit 0: ok;
 * 10: err EACCES from the server; 20: connect refused by the file's mode;
 * 30: anything else. */
static int as_user(uid_t uid, gid_t gid, gid_t extra)
{
	pid_t pid = fork();
	int status;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct ncp_ctlclient c;
		char line[NCP_CTLCLIENT_BUF];
		int rc;
		if (setgroups(extra ? 1 : 0, &extra) != 0 || setgid(gid) != 0 ||
		    setuid(uid) != 0)
			_exit(31);
		rc = ncp_ctlclient_init(&c, fx.path, TIMEOUT_MS, NULL, 0);
		if (rc == -EACCES)
			_exit(20);
		if (rc)
			_exit(32);
		rc = ncp_ctlclient_call(&c, "status", line, sizeof(line), TIMEOUT_MS);
		if (rc >= 0 && strncmp(line, "ok ", 3) == 0)
			_exit(0);
		if (rc >= 0 && strncmp(line, "err EACCES permission denied", 28) == 0 &&
		    ncp_ctlclient_recv_line(&c, line, sizeof(line), TIMEOUT_MS) < 0)
			_exit(10);
		_exit(30);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

START_TEST(peer_credentials)
{
	if (geteuid() != 0)
		ncp_ck_skip("peer_credentials: needs root to setuid() a child to "
			    "65534 (running as uid %u)", (unsigned)geteuid());
	ck_assert_int_eq(chmod(fx.dir, 0755), 0);
	server_up(0, 0, "4242");
	/* The file's mode keeps strangers out before the server sees them. */
	ck_assert_int_eq(as_user(65534, 65534, 0), 20);
	/* With the file opened to all (a mistake), the credential check
	 * still refuses them; members of the group pass. */
	ck_assert_int_eq(chmod(fx.path, 0666), 0);
	ck_assert_int_eq(as_user(65534, 65534, 0), 10);
	ck_assert_int_eq(as_user(65534, 4242, 0), 0);     /* primary group */
	ck_assert_int_eq(as_user(65534, 65534, 4242), 0); /* supplementary */
	ck_assert_uint_eq(stats().refused_perm, 1);
	ck_assert_uint_eq(stats().accepted, 2);
	/* Root passes, with or without the group. */
	struct ncp_ctlclient c;
	cl_open(&c);
	cl_expect(&c, "status", status_line);
	ncp_ctlclient_fini(&c);
}
END_TEST

START_TEST(default_socket_paths)
{
	char p[128];

	ck_assert_int_eq(ncp_paths_socket_for(0, "/run/user/1000", p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/run/ncpd/ncpd.sock");
	ck_assert_int_eq(ncp_paths_socket_for(1000, "/run/user/1000", p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/run/user/1000/ncpd/ncpd.sock");
	ck_assert_int_eq(ncp_paths_socket_for(1000, NULL, p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/tmp/ncpd-1000/ncpd.sock");
	ck_assert_int_eq(ncp_paths_socket_for(1000, "relative", p, sizeof(p)), 0);
	ck_assert_str_eq(p, "/tmp/ncpd-1000/ncpd.sock");
	ck_assert_int_eq(ncp_paths_socket_for(1000, "/x", p, 8), -ENAMETOOLONG);
}
END_TEST

/* --- ncpctl ----------------------------------------------------------- */

/* Run build/ncpctl with args (NULL-terminated) and stdin; capture
 * stdout and stderr; return the exit status. */
static int ncpctl(const char *in, char *out, size_t outlen, char *err,
		  size_t errlen, ...)
{
	const char *build = getenv("BUILD") ? getenv("BUILD") : "build";
	char bin[256];
	char *argv[16];
	int pin[2], pout[2], perr[2], status, argc = 0;
	va_list ap;
	pid_t pid;

	snprintf(bin, sizeof(bin), "%s/ncpctl", build);
	ck_assert_msg(access(bin, X_OK) == 0, "%s is missing: build it first", bin);
	argv[argc++] = bin;
	va_start(ap, errlen);
	while (argc < 15 && (argv[argc] = va_arg(ap, char *)))
		argc++;
	va_end(ap);
	argv[argc] = NULL;
	ck_assert(pipe(pin) == 0 && pipe(pout) == 0 && pipe(perr) == 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pin[0], 0);
		dup2(pout[1], 1);
		dup2(perr[1], 2);
		close(pin[1]);
		close(pout[0]);
		close(perr[0]);
		execv(bin, argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	if (in && write(pin[1], in, strlen(in)) != (ssize_t)strlen(in))
		ck_abort_msg("cannot feed ncpctl");
	close(pin[1]);
	/* Read both pipes as they fill, so neither blocks the child. */
	size_t no = 0, ne = 0;
	struct pollfd p[2] = { { .fd = pout[0], .events = POLLIN },
			       { .fd = perr[0], .events = POLLIN } };
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		ck_assert_int_gt(poll(p, 2, 10000), 0);
		for (int k = 0; k < 2; k++) {
			if (p[k].fd < 0 || !p[k].revents)
				continue;
			char *buf = k ? err : out;
			size_t *n = k ? &ne : &no, cap = k ? errlen : outlen;
			ssize_t got = read(p[k].fd, buf + *n, cap - 1 - *n);
			if (got <= 0) {
				close(p[k].fd);
				p[k].fd = -1;
			} else {
				*n += (size_t)got;
			}
		}
	}
	out[no] = '\0';
	err[ne] = '\0';
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#define OUT_MAX 16384
static char out[OUT_MAX], errout[OUT_MAX];

START_TEST(ncpctl_exit_codes_and_output)
{
	server_up(0, 0, NULL);

	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--socket",
				fx.path, "status", NULL), 0);
	ck_assert_str_eq(out, "loop:\n  step: 12000\n  overruns: 0\n  paused: false\n"
			      "arm:\n  hand: 0.012,1.251\ntarget:\n  xy: 0,1.25\n"
			      "task:\n  kind: centre-out\n  period: nan\n");
	ck_assert_str_eq(errout, "");

	/* A reply's key a.b is at .a.b whatever the command: a reply whose
	 * section is the command's own name is not nested twice. */
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--json",
				"--socket", fx.path, "target", "0.5", "1", NULL), 0);
	ck_assert_str_eq(out, "{\"ok\":true,\"target\":{\"xy\":[0.5,1]}}\n");
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--json",
				"--socket", fx.path, "status", NULL), 0);
	ck_assert_str_eq(out, "{\"ok\":true,\"loop\":{\"step\":12000,"
			      "\"overruns\":0,\"paused\":false},\"arm\":{\"hand\":"
			      "[0.012,1.251]},\"target\":{\"xy\":[0,1.25]},\"task\":"
			      "{\"kind\":\"centre-out\",\"period\":null}}\n");

	/* Negative numbers after the command are arguments, not options. */
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--socket",
				fx.path, "target", "-0.5", "1", NULL), 0);
	ck_assert_str_eq(out, "target:\n  xy: -0.5,1\n");
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--socket",
				fx.path, "pause", NULL), 0);
	ck_assert_str_eq(out, "ok\n");
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--socket",
				fx.path, "--json", "help", "load", NULL), 0);
	ck_assert_str_eq(out, "{\"ok\":true,\"text\":\"load NAME: load the emulator "
			      "model NAME from the data directory\"}\n");

	/* err from the daemon: 1, the message on stderr. */
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--socket",
				fx.path, "target", "9", "9", NULL), 1);
	ck_assert_str_eq(out, "");
	ck_assert_str_eq(errout, "ncpctl: target (9, 9) is outside the reachable "
				 "workspace (ERANGE)\n");
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--json",
				"--socket", fx.path, "save", "../x", NULL), 1);
	ck_assert_str_eq(out, "{\"ok\":false,\"code\":\"EACCES\",\"message\":\"'..' "
			      "is refused: NAME stays inside the data directory "
			      "(got '../x')\"}\n");

	/* --raw: every line answered, in order; status 1 as one was err. */
	ck_assert_int_eq(ncpctl("target 0 1\nbogus\nhelp pause", out, OUT_MAX,
				errout, OUT_MAX, "--socket", fx.path, "--raw", NULL),
			 1);
	ck_assert_str_eq(out, "ok target.xy=0,1\n"
			      "err EINVAL unknown command 'bogus' (try 'help')\n"
			      "ok pause: stop stepping the simulation; the loop "
			      "keeps its clock\n");
	ck_assert_int_eq(ncpctl("status\nresume\n", out, OUT_MAX, errout, OUT_MAX,
				"--socket", fx.path, "--raw", "--json", NULL), 0);
	ck_assert(strncmp(out, "{\"ok\":true,\"loop\":{", 18) == 0);
	ck_assert(strstr(out, "}}\n{\"ok\":true}\n"));

	/* 2: usage errors, no socket, no reply. */
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--socket",
				fx.path, NULL), 2);
	ck_assert(strstr(errout, "no COMMAND given"));
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--bogus",
				"status", NULL), 2);
	ck_assert(strstr(errout, "unknown option '--bogus'"));
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--socket",
				"/nonexistent/ncpd.sock", "status", NULL), 2);
	ck_assert_str_eq(errout, "ncpctl: cannot connect to /nonexistent/ncpd.sock: "
				 "No such file or directory (is ncpd running?)\n");
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--socket",
				fx.path, "target", "1\n2", NULL), 2);

	/* --help documents every command. */
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--help", NULL),
			 0);
	for (int k = NCP_CMD_TARGET; k < NCP_CMD_COUNT; k++)
		ck_assert_msg(strstr(out, ncp_proto_cmd_name(k)), "--help lacks %s",
			      ncp_proto_cmd_name(k));
	ck_assert(strstr(out, "$XDG_RUNTIME_DIR/ncpd/ncpd.sock"));
}
END_TEST

START_TEST(ncpctl_refused)
{
	struct ncp_ctlclient c;

	/* The only place is taken: ncpctl reports the daemon's reason. */
	server_up(1, 0, NULL);
	cl_open(&c);
	cl_expect(&c, "status", status_line);
	for (int i = 0; i < 5; i++) {
		ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX,
					"--socket", fx.path, "status", NULL), 1);
		ck_assert_str_eq(errout, "ncpctl: too many clients (EBUSY)\n");
	}
	ck_assert_uint_eq(stats().refused_busy, 5);
	ncp_ctlclient_fini(&c);
}
END_TEST

START_TEST(ncpctl_timeout)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	uint64_t t0;

	/* A socket that takes connections and never answers. */
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", fx.path);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(fd, 4), 0);
	t0 = ncp_now_ns();
	ck_assert_int_eq(ncpctl(NULL, out, OUT_MAX, errout, OUT_MAX, "--timeout",
				"0.3", "--socket", fx.path, "status", NULL), 2);
	ck_assert_msg(strstr(errout, "no reply from") && strstr(errout, "within 0.3 s"),
		      "%s", errout);
	ck_assert(ms_since(t0) >= 300.0);
	close(fd);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("ctlsrv");
	TCase *tc = tcase_create("server");
	tcase_add_unchecked_fixture(tc, root_up, root_down);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, request_response);
	tcase_add_test(tc, clients_interleaved);
	tcase_add_test(tc, stalled_clients_hold_nobody_up);
	tcase_add_test(tc, overlong_line_then_usable);
	tcase_add_test(tc, client_bound);
	tcase_add_test(tc, hangup_mid_reply_and_slow_reader);
	tcase_add_test(tc, half_close_and_idle_timeout);
	tcase_add_test(tc, stop_is_prompt);
	tcase_add_test(tc, socket_file);
	tcase_add_test(tc, peer_credentials);
	tcase_add_test(tc, default_socket_paths);
	suite_add_tcase(s, tc);

	tc = tcase_create("ncpctl");
	tcase_add_unchecked_fixture(tc, root_up, root_down);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, ncpctl_exit_codes_and_output);
	tcase_add_test(tc, ncpctl_refused);
	tcase_add_test(tc, ncpctl_timeout);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
