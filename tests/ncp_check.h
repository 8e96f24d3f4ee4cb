/* Shared by the Check suites: one suite per file, run by NCP_CHECK_MAIN. */
#ifndef NCP_CHECK_H
#define NCP_CHECK_H

#include <check.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A test that cannot run here calls ncp_ck_skip("why", ...) and returns.
 * Check runs each test in a child process, so the reasons go to a shared
 * anonymous mapping the runner's process reads at the end. */
struct ncp_ck_skips {
	int n;
	char why[1024];
};
static struct ncp_ck_skips *ncp_ck_skips __attribute__((unused));

__attribute__((format(printf, 1, 2), unused))
static void ncp_ck_skip_note(const char *fmt, ...)
{
	struct ncp_ck_skips *s = ncp_ck_skips;
	va_list ap;
	if (!s)
		return;
	size_t len = strlen(s->why);
	if (s->n++ && len + 2 < sizeof(s->why)) {
		memcpy(s->why + len, "; ", 3);
		len += 2;
	}
	va_start(ap, fmt);
	vsnprintf(s->why + len, sizeof(s->why) - len, fmt, ap);
	va_end(ap);
}
#define ncp_ck_skip(...)                                                 \
	do {                                                             \
		ncp_ck_skip_note(__VA_ARGS__);                           \
		return;                                                  \
	} while (0)

/* Each test_<module>.c defines `static Suite *make_suite(void)` and ends
 * with NCP_CHECK_MAIN(make_suite).  Exit status: 1 when a test failed,
 * else NCP_CK_SKIPPED when a test skipped (its reasons on the last line,
 * "SKIP: ..."), else 0.  tests/run_tests.sh reads both. */
#define NCP_CK_SKIPPED 77
#define NCP_CHECK_MAIN(make)                                             \
	int main(void)                                                   \
	{                                                                \
		ncp_ck_skips = mmap(NULL, sizeof(*ncp_ck_skips),         \
				    PROT_READ | PROT_WRITE,              \
				    MAP_SHARED | MAP_ANONYMOUS, -1, 0);  \
		if (ncp_ck_skips == MAP_FAILED) {                        \
			perror("mmap");                                  \
			return EXIT_FAILURE;                             \
		}                                                        \
		SRunner *sr = srunner_create(make());                    \
		srunner_run_all(sr, CK_NORMAL);                          \
		int failed = srunner_ntests_failed(sr);                  \
		srunner_free(sr);                                        \
		if (failed)                                              \
			return EXIT_FAILURE;                             \
		if (ncp_ck_skips->n) {                                   \
			printf("SKIP: %s\n", ncp_ck_skips->why);         \
			return NCP_CK_SKIPPED;                           \
		}                                                        \
		return EXIT_SUCCESS;                                     \
	}

/* |a - b| <= tol, with both values in the failure message. */
#define ncp_ck_near(a, b, tol)                                           \
	do {                                                             \
		double a_ = (a), b_ = (b), t_ = (tol);                   \
		ck_assert_msg(fabs(a_ - b_) <= t_,                       \
			      "%s = %.9g, %s = %.9g, differ by %.3g > %.3g", \
			      #a, a_, #b, b_, fabs(a_ - b_), t_);        \
	} while (0)

/* A scratch directory for a suite's files: ncp_ck_dir is its path,
 * ncp_ck_path(name) a path inside it (one of 64 rotating buffers: enough
 * for any one test; a path kept longer is copied into the test's own
 * storage). */
static char ncp_ck_dir[64] __attribute__((unused));

static inline void ncp_ck_make_dir(const char *tag)
{
	snprintf(ncp_ck_dir, sizeof(ncp_ck_dir), "/tmp/ncp_test_%s.XXXXXX", tag);
	ck_assert_ptr_nonnull(mkdtemp(ncp_ck_dir));
}

static inline void ncp_ck_remove_dir(void)
{
	char cmd[192];
	snprintf(cmd, sizeof(cmd), "chmod -R u+w '%s'; rm -rf '%s'", ncp_ck_dir,
		 ncp_ck_dir);
	ck_assert_int_eq(system(cmd), 0);
}

static inline const char *ncp_ck_path(const char *name)
{
	static char path[64][256];
	static int k;
	k = (k + 1) % 64;
	snprintf(path[k], sizeof(path[k]), "%s/%s", ncp_ck_dir, name);
	return path[k];
}

/* n elements of the value pattern the file-format tests and their Python
 * checks (tests/ref_pattern.py) share: element k (C order) is k * 0.25 - 3
 * for floats (kind 'f'), k % 251 for unsigned integers ('u'),
 * k % 200 - 100 for signed ones ('i'), k % 3 == 0 for booleans ('b');
 * size is the element's bytes (little-endian, as the host).  Not inlined:
 * GCC then sees the 8-byte store for sizes it cannot take. */
static __attribute__((noinline, unused)) void
ncp_ck_fill(void *buf, char kind, size_t size, uint64_t n)
{
	unsigned char *p = buf;

	for (uint64_t k = 0; k < n; k++, p += size) {
		double f = (double)k * 0.25 - 3;
		float f4 = (float)f;
		uint64_t v = kind == 'u' ? k % 251
			     : kind == 'i' ? (uint64_t)((int64_t)(k % 200) - 100)
			     : kind == 'b' ? k % 3 == 0 : 0;
		if (kind == 'f' && size == 4)
			memcpy(p, &f4, 4);
		else if (kind == 'f' && size == 8)
			memcpy(p, &f, 8);
		else if (kind != 'f' && size <= 8)
			memcpy(p, &v, size); /* the low bytes */
		else
			ck_abort_msg("no pattern for kind %c, size %zu", kind, size);
	}
}

#endif
