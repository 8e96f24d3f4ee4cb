/* ncp_base: what every ncpd module uses: assertions, errors, logging, time.
 *
 * Conventions: actions return 0 or -errno; predicates return
 * bool; constructors return a pointer or NULL.  Parsers write a
 * user-facing message into a caller's buffer (char *err, size_t errlen).
 */
#ifndef NCP_BASE_H
#define NCP_BASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_VERSION "0.1.0"

#define NCP_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NCP_MIN(a, b) ((a) < (b) ? (a) : (b))
#define NCP_MAX(a, b) ((a) > (b) ? (a) : (b))
#define NCP_UNUSED __attribute__((unused))
#define NCP_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* A broken invariant: print where and abort.  Never for expected faults. */
#define ncp_assert(cond) \
	((cond) ? (void)0 : ncp_assert_fail(#cond, __FILE__, __LINE__, __func__))
_Noreturn void ncp_assert_fail(const char *expr, const char *file, int line,
			       const char *func);

/* The message for an error code, given as -errno or errno. */
const char *ncp_strerror(int err);

/* Write a formatted message into err (errlen bytes); a NULL err is allowed.
 * Returns -EINVAL so parsers can `return ncp_errf(...)`. */
int ncp_errf(char *err, size_t errlen, const char *fmt, ...) NCP_PRINTF(3, 4);
/* The same for a fault of another kind: sets errno to code (a positive
 * errno value) and returns -code. */
int ncp_errf_code(char *err, size_t errlen, int code, const char *fmt, ...)
	NCP_PRINTF(4, 5);

/* Logging to stderr.  Under systemd (JOURNAL_STREAM set) each line carries
 * the syslog priority prefix "<N>" journald reads; on a terminal it reads
 * "name: level: message".  Not for the real-time thread. */
enum ncp_log_level {
	NCP_LOG_ERR = 3,
	NCP_LOG_WARNING = 4,
	NCP_LOG_NOTICE = 5,
	NCP_LOG_INFO = 6,
	NCP_LOG_DEBUG = 7,
};
void ncp_log_init(const char *prog, int max_level);
/* Send log lines to syslog(3) instead of stderr (a detached daemon whose
 * stderr was a terminal). */
void ncp_log_to_syslog(void);
void ncp_log(int level, const char *fmt, ...) NCP_PRINTF(2, 3);
#define ncp_log_err(...) ncp_log(NCP_LOG_ERR, __VA_ARGS__)
#define ncp_log_warn(...) ncp_log(NCP_LOG_WARNING, __VA_ARGS__)
#define ncp_log_notice(...) ncp_log(NCP_LOG_NOTICE, __VA_ARGS__)
#define ncp_log_info(...) ncp_log(NCP_LOG_INFO, __VA_ARGS__)
#define ncp_log_debug(...) ncp_log(NCP_LOG_DEBUG, __VA_ARGS__)

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t ncp_now_ns(void);

/* Aligned zeroed allocation for arrays the hot paths read (64-byte
 * aligned, so vector loads never split a cache line).  Free with free(). */
void *ncp_calloc_aligned(size_t n, size_t size);

#endif
