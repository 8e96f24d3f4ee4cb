#include "client/ncp_ctlclient.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t deadline_of(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Wait until fd is ready for events or the deadline passes. */
static int wait_for(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int ms = -1, n;

		if (deadline >= 0) {
			int64_t left = deadline - now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			ms = left > 1000000 ? 1000000 : (int)left;
		}
		n = poll(&p, 1, ms);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int ncp_ctlclient_init(struct ncp_ctlclient *c, const char *path,
		       int timeout_ms, char *err, size_t errlen)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int64_t deadline = deadline_of(timeout_ms);
	const char *hint = "";
	int rc;

	c->fd = -1;
	c->len = 0;
	if (strlen(path) >= sizeof(a.sun_path)) {
		rc = -ENAMETOOLONG;
		goto fail;
	}
	memcpy(a.sun_path, path, strlen(path) + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (c->fd < 0) {
		rc = -errno;
		goto fail;
	}
	/* A Unix connect either completes or finds the backlog full
	 * (EAGAIN): then try again until the deadline. */
	while (connect(c->fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
		rc = -errno;
		if (rc == -EINTR)
			continue;
		if (rc != -EAGAIN)
			goto fail;
		if (deadline >= 0 && now_ms() >= deadline) {
			rc = -ETIMEDOUT;
			goto fail;
		}
		nanosleep(&(struct timespec){ .tv_nsec = 5000000 }, NULL);
	}
	return 0;

fail:
	if (rc == -ENOENT || rc == -ECONNREFUSED)
		hint = " (is ncpd running?)";
	else if (rc == -EACCES || rc == -EPERM)
		hint = " (are you root, the daemon's user or in its group?)";
	if (err && errlen)
		snprintf(err, errlen, "cannot connect to %s: %s%s", path,
			 strerror(-rc), hint);
	ncp_ctlclient_fini(c);
	return rc;
}

void ncp_ctlclient_fini(struct ncp_ctlclient *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->len = 0;
}

int ncp_ctlclient_send(struct ncp_ctlclient *c, const char *data, size_t len,
		       int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);

	while (len > 0) {
		ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n > 0) {
			data += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		int rc = wait_for(c->fd, POLLOUT, deadline);
		if (rc)
			return rc;
	}
	return 0;
}

int ncp_ctlclient_recv_line(struct ncp_ctlclient *c, char *line, size_t cap,
			    int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	size_t scanned = 0;

	for (;;) {
		char *nl = memchr(c->buf + scanned, '\n', c->len - scanned);
		if (nl) {
			size_t n = (size_t)(nl - c->buf);
			int rc = (int)n;
			if (n + 1 > cap) {
				rc = -EMSGSIZE;
			} else {
				memcpy(line, c->buf, n);
				line[n] = '\0';
			}
			memmove(c->buf, nl + 1, c->len - n - 1);
			c->len -= n + 1;
			return rc;
		}
		scanned = c->len;
		if (c->len == sizeof(c->buf))
			return -EMSGSIZE;
		ssize_t got = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
		if (got > 0) {
			c->len += (size_t)got;
			continue;
		}
		if (got == 0)
			return -ECONNRESET;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		int rc = wait_for(c->fd, POLLIN, deadline);
		if (rc)
			return rc;
	}
}

int ncp_ctlclient_call(struct ncp_ctlclient *c, const char *request,
		       char *reply, size_t cap, int timeout_ms)
{
	int64_t deadline = deadline_of(timeout_ms);
	size_t n = strlen(request);
	int rc;

	rc = ncp_ctlclient_send(c, request, n, timeout_ms);
	if (rc == 0)
		rc = ncp_ctlclient_send(c, "\n", 1, timeout_ms);
	/* A refused connection is closed at once, maybe before our request
	 * went out: its "err ..." line is still there to read. */
	if (rc && rc != -EPIPE && rc != -ECONNRESET)
		return rc;
	if (deadline >= 0) {
		int64_t left = deadline - now_ms();
		timeout_ms = left > 0 ? (int)left : 0;
	}
	return ncp_ctlclient_recv_line(c, reply, cap, timeout_ms);
}
