/* bench_ctl: N control connections at once sending a mix of valid and
 * invalid request lines; prints requests per second and round-trip
 * percentiles as one JSON line (make bench).
 *
 *   bench_ctl [--socket PATH] [--clients N] [--seconds S]
 *
 * Without --socket it serves itself: an ncp_ctlsrv in this process, on a
 * temporary socket, with a handler that answers like a daemon would.
 * With --socket it loads a running ncpd (only requests that change
 * nothing are sent).  Every reply is checked: the valid requests must be
 * answered ok, the invalid ones err with the expected code, in order.
 * Exit status 1 on any wrong or missing reply. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client/ncp_ctlclient.h"
#include "daemon/ncp_ctlsrv.h"

struct req {
	const char *line; /* sent as is ("\n" included) */
	size_t len;
	const char *want; /* reply prefix */
};

#define REQ(l, w) { l, sizeof(l) - 1, w }
static char overlong[1500 + 2];
static struct req reqs[] = {
	REQ("status\n", "ok "),
	REQ("help target\n", "ok target X Y: "),
	REQ("frobnicate\n", "err EINVAL unknown command"),
	REQ("target nan 0\n", "err ERANGE "),
	REQ("status\n", "ok "),
	REQ("save ../etc/passwd\n", "err EACCES "),
	REQ("target 1x 0\n", "err EINVAL "),
	REQ("\xff\xfe\n", "err EPROTO "),
	{ overlong, sizeof(overlong) - 1, "err E2BIG " },
	REQ("help\n", "ok commands: "),
};
#define NREQS (sizeof(reqs) / sizeof(reqs[0]))

struct conn {
	struct ncp_ctlclient c;
	unsigned next;	/* index into reqs of the request in flight */
	uint64_t sent_ns;
};

static int handler(void *ctx, const struct ncp_cmd *cmd, struct ncp_reply *r)
{
	static const double hand[2] = { 0.012, 1.251 }, q[2] = { 0.3, 1.2 };

	if (cmd->kind != NCP_CMD_STATUS)
		return 0;
	ncp_reply_uint(r, "loop.step", 12000);
	ncp_reply_num(r, "loop.sim_time", 12.0);
	ncp_reply_str(r, "loop.mode", "realtime");
	ncp_reply_uint(r, "loop.overruns", 0);
	ncp_reply_uint(r, "loop.slips", 0);
	ncp_reply_num(r, "loop.jitter_p99_us", 24.5);
	ncp_reply_bool(r, "loop.paused", false);
	ncp_reply_vec(r, "arm.q", q, 2);
	ncp_reply_vec(r, "arm.dq", q, 2);
	ncp_reply_vec(r, "arm.hand", hand, 2);
	ncp_reply_vec(r, "target.xy", hand, 2);
	ncp_reply_str(r, "task.kind", "centre-out");
	ncp_reply_num(r, "task.period", 2.0);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static int send_next(struct conn *k)
{
	const struct req *q = &reqs[k->next];
	k->sent_ns = ncp_now_ns();
	return ncp_ctlclient_send(&k->c, q->line, q->len, 5000);
}

int main(int argc, char **argv)
{
	const char *socket_path = NULL;
	unsigned nclients = 64;
	double seconds = 2.0;
	char dir[] = "/tmp/ncp-bench-XXXXXX", path[128], err[256];
	struct ncp_ctlsrv *srv = NULL;
	struct conn *conns = NULL;
	struct pollfd *pfd = NULL;
	uint64_t *lat = NULL, nlat = 0, caplat = 1 << 16, bad = 0, t0, t1;
	int status = 1;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc)
			socket_path = argv[++i];
		else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
			nclients = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_ctl [--socket PATH] [--clients N] "
					"[--seconds S]\n");
			return 2;
		}
	}
	if (nclients == 0 || nclients > 4000 || !(seconds > 0)) {
		fprintf(stderr, "bench_ctl: --clients in 1..4000, --seconds > 0\n");
		return 2;
	}
	overlong[0] = 's';
	memset(overlong + 1, 'a', sizeof(overlong) - 3);
	overlong[sizeof(overlong) - 2] = '\n';

	if (!socket_path) {
		struct ncp_ctlsrv_config cfg = { .path = path, .handler = handler,
						 .max_clients = nclients };
		if (!mkdtemp(dir)) {
			perror("bench_ctl: mkdtemp");
			return 1;
		}
		snprintf(path, sizeof(path), "%s/ctl.sock", dir);
		ncp_log_init("bench_ctl", NCP_LOG_WARNING);
		srv = ncp_ctlsrv_new(&cfg, err, sizeof(err));
		if (!srv || ncp_ctlsrv_start(srv) != 0) {
			fprintf(stderr, "bench_ctl: %s\n", err);
			goto out;
		}
		socket_path = path;
	}

	conns = calloc(nclients, sizeof(*conns));
	pfd = calloc(nclients, sizeof(*pfd));
	lat = malloc(caplat * sizeof(*lat));
	if (!conns || !pfd || !lat) {
		perror("bench_ctl");
		goto out;
	}
	for (unsigned i = 0; i < nclients; i++) {
		conns[i].c.fd = -1;
		if (ncp_ctlclient_init(&conns[i].c, socket_path, 5000, err,
				       sizeof(err)) < 0) {
			fprintf(stderr, "bench_ctl: client %u: %s\n", i, err);
			goto out;
		}
		conns[i].next = i % NREQS; /* every mix of requests at once */
		pfd[i].fd = conns[i].c.fd;
		pfd[i].events = POLLIN;
	}

	t0 = ncp_now_ns();
	for (unsigned i = 0; i < nclients; i++)
		if (send_next(&conns[i]) != 0)
			goto lost;
	while (ncp_now_ns() - t0 < (uint64_t)(seconds * 1e9)) {
		int n = poll(pfd, nclients, 5000);
		if (n <= 0) {
			fprintf(stderr, "bench_ctl: no reply for 5 s\n");
			goto out;
		}
		for (unsigned i = 0; i < nclients; i++) {
			struct conn *k = &conns[i];
			char line[NCP_CTLCLIENT_BUF];
			if (!pfd[i].revents)
				continue;
			/* Exactly one reply is due: read it whole. */
			int rc = ncp_ctlclient_recv_line(&k->c, line, sizeof(line), 5000);
			if (rc < 0) {
				fprintf(stderr, "bench_ctl: client %u: %s\n", i,
					strerror(-rc));
				goto out;
			}
			uint64_t dt = ncp_now_ns() - k->sent_ns;
			if (nlat == caplat) {
				uint64_t *more = realloc(lat, 2 * caplat * sizeof(*lat));
				if (!more)
					goto out;
				lat = more;
				caplat *= 2;
			}
			lat[nlat++] = dt;
			const char *want = reqs[k->next].want;
			if (strncmp(line, want, strlen(want)) != 0 && bad++ < 5)
				fprintf(stderr, "bench_ctl: '%.20s' -> '%.60s', want '%s'\n",
					reqs[k->next].line, line, want);
			k->next = (k->next + 1) % NREQS;
			if (send_next(k) != 0)
				goto lost;
		}
	}
	t1 = ncp_now_ns();
	qsort(lat, nlat, sizeof(*lat), cmp_u64);
	printf("{\"bench\":\"ctl_requests\",\"server\":\"%s\",\"clients\":%u,"
	       "\"seconds\":%.3f,\"requests\":%" PRIu64 ",\"requests_per_s\":%.0f,"
	       "\"p50_us\":%.1f,\"p99_us\":%.1f,\"p999_us\":%.1f,\"max_us\":%.1f,"
	       "\"bad_replies\":%" PRIu64 "}\n",
	       srv ? "in-process" : socket_path, nclients, (t1 - t0) / 1e9, nlat,
	       nlat / ((t1 - t0) / 1e9), lat[nlat / 2] / 1e3,
	       lat[nlat * 99 / 100] / 1e3, lat[nlat * 999 / 1000] / 1e3,
	       lat[nlat - 1] / 1e3, bad);
	status = bad ? 1 : 0;
	goto out;

lost:
	fprintf(stderr, "bench_ctl: a connection was lost\n");
out:
	for (unsigned i = 0; conns && i < nclients; i++)
		ncp_ctlclient_fini(&conns[i].c);
	free(conns);
	free(pfd);
	free(lat);
	if (srv) {
		ncp_ctlsrv_free(srv);
		char lock[160];
		snprintf(lock, sizeof(lock), "%s.lock", path);
		unlink(lock);
		rmdir(dir);
	}
	return status;
}
