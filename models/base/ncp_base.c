#include "models/base/ncp_base.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "ncpd";
static int log_max = NCP_LOG_INFO;
static bool log_journal;
static bool log_syslog;

void ncp_assert_fail(const char *expr, const char *file, int line,
		     const char *func)
{
	fprintf(stderr, "%s: assertion failed: %s (%s:%d, %s)\n", log_prog,
		expr, file, line, func);
	abort();
}

const char *ncp_strerror(int err)
{
	if (err < 0)
		err = -err;
	return strerror(err);
}

static void verrf(char *err, size_t errlen, const char *fmt, va_list ap)
{
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
}

int ncp_errf(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int ncp_errf_code(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	verrf(err, errlen, fmt, ap);
	va_end(ap);
	errno = code;
	return -code;
}

void ncp_log_init(const char *prog, int max_level)
{
	if (prog)
		log_prog = prog;
	log_max = max_level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void ncp_log_to_syslog(void)
{
	openlog(log_prog, LOG_PID, LOG_DAEMON);
	log_syslog = true;
}

void ncp_log(int level, const char *fmt, ...)
{
	static const char *names[] = {
		[NCP_LOG_ERR] = "error",     [NCP_LOG_WARNING] = "warning",
		[NCP_LOG_NOTICE] = "notice", [NCP_LOG_INFO] = "info",
		[NCP_LOG_DEBUG] = "debug",
	};
	char msg[1024];
	va_list ap;

	if (level > log_max)
		return;
	if (level < NCP_LOG_ERR)
		level = NCP_LOG_ERR;
	if (level > NCP_LOG_DEBUG)
		level = NCP_LOG_DEBUG;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One write per line so lines from several threads never interleave. */
	if (log_syslog)
		syslog(level, "%s", msg);
	else if (log_journal)
		dprintf(STDERR_FILENO, "<%d>%s\n", level, msg);
	else
		dprintf(STDERR_FILENO, "%s: %s: %s\n", log_prog, names[level],
			msg);
}

uint64_t ncp_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void *ncp_calloc_aligned(size_t n, size_t size)
{
	void *p = NULL;
	size_t bytes;

	if (size && n > SIZE_MAX / size)
		return NULL;
	bytes = n * size;
	if (bytes == 0)
		bytes = 64;
	bytes = (bytes + 63) & ~(size_t)63;
	if (posix_memalign(&p, 64, bytes))
		return NULL;
	memset(p, 0, bytes);
	return p;
}
