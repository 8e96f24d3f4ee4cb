#include "models/base/ncp_blas.h"

#include <limits.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include <cblas.h>
#include <pmmintrin.h>
#include <xmmintrin.h>

void ncp_fp_flush_denormals(void)
{
	_MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
	_MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
}

const char *ncp_blas_core(void)
{
	const char *c = openblas_get_corename();
	return c ? c : "unknown";
}

/* The most capable core OpenBLAS has kernels for that this CPU runs, or
 * NULL.  __builtin_cpu_supports also checks that the kernel saves the
 * AVX and AVX-512 registers (XCR0). */
static const char *best_core(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
		return "SkylakeX";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "Haswell";
	return NULL;
}

void ncp_blas_pick_core(char **argv)
{
	const char *want;

	if (getenv("OPENBLAS_CORETYPE"))
		return;		/* the user's choice, or our own second run */
	if (strcasecmp(ncp_blas_core(), "Prescott"))
		return;		/* OpenBLAS knows this CPU */
	want = best_core();
	if (!want || setenv("OPENBLAS_CORETYPE", want, 1))
		return;
	/* By its own path, not /proc/self/exe: the kernel names a process
	 * after the file it executes, and ps, top and journald would
	 * otherwise call ncpd "exe". */
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		execv(self, argv);
	}
	execv("/proc/self/exe", argv);
	/* Not executed again (no /proc?): go on with the generic kernels;
	 * the variable stays set, so a child does not try again. */
}
