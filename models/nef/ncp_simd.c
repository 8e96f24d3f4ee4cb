#include "models/nef/ncp_simd.h"

#include <string.h>

/* The encode loop written per dimensionality, so that the compiler keeps
 * the accumulators in registers and vectorizes over neurons. */
#define ENCODE_DIMS(D)                                                   \
	static void encode_##D(float *restrict J, const float *restrict b,   \
			       const float *restrict enc, int n, int stride, \
			       const float *x)                               \
	{                                                                \
		float xs[D];                                             \
		for (int j = 0; j < D; j++)                              \
			xs[j] = x[j];                                    \
		for (int i = 0; i < n; i++) {                            \
			float acc = b[i];                                \
			for (int j = 0; j < D; j++)                      \
				acc += enc[j * stride + i] * xs[j];      \
			J[i] = acc;                                      \
		}                                                        \
	}
ENCODE_DIMS(1)
ENCODE_DIMS(2)
ENCODE_DIMS(3)
ENCODE_DIMS(4)
ENCODE_DIMS(6)

void ncp_simd_encode(float *J, const float *bias, const float *enc, int n,
		     int dims, const float *x)
{
	const int stride = ncp_simd_pad(n);
	switch (dims) {
	case 1: encode_1(J, bias, enc, n, stride, x); return;
	case 2: encode_2(J, bias, enc, n, stride, x); return;
	case 3: encode_3(J, bias, enc, n, stride, x); return;
	case 4: encode_4(J, bias, enc, n, stride, x); return;
	case 6: encode_6(J, bias, enc, n, stride, x); return;
	}
	memcpy(J, bias, sizeof(float) * (size_t)n);
	for (int j = 0; j < dims; j++) {
		const float *restrict col = enc + (size_t)j * stride;
		for (int i = 0; i < n; i++)
			J[i] += col[i] * x[j];
	}
}

#ifdef __AVX2__
#include <immintrin.h>

/* For each 8-bit mask, the positions of its set bits packed low. */
static uint64_t pack_lut[256];

__attribute__((constructor)) static void pack_lut_init(void)
{
	for (int m = 0; m < 256; m++) {
		uint64_t e = 0;
		int k = 0;
		for (int b = 0; b < 8; b++)
			if (m & (1 << b))
				e |= (uint64_t)b << (8 * k++);
		pack_lut[m] = e;
	}
}

int ncp_simd_lif(float *v, float *ref, const float *J, const float *f, int n,
		 float dt, float vmin, uint32_t *spikes)
{
	const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
	const __m256 vdt = _mm256_set1_ps(dt), vlo = _mm256_set1_ps(vmin);
	int count = 0;

	for (int b = 0; b < n; b += 8) {
		__m256 vv = _mm256_loadu_ps(v + b);
		__m256 jj = _mm256_loadu_ps(J + b);
		__m256 ff = _mm256_loadu_ps(f + b);
		vv = _mm256_fmadd_ps(_mm256_sub_ps(jj, vv), ff, vv);
		vv = _mm256_max_ps(vv, vlo);
		_mm256_storeu_ps(v + b, vv);
		__m256 rr = _mm256_sub_ps(_mm256_loadu_ps(ref + b), vdt);
		_mm256_storeu_ps(ref + b, _mm256_max_ps(rr, zero));
		/* Left-pack the spiking lanes' indices, without branches. */
		unsigned m = (unsigned)_mm256_movemask_ps(
			_mm256_cmp_ps(vv, one, _CMP_GT_OQ));
		__m256i idx = _mm256_cvtepu8_epi32(
			_mm_cvtsi64_si128((long long)pack_lut[m]));
		idx = _mm256_add_epi32(idx, _mm256_set1_epi32(b));
		_mm256_storeu_si256((__m256i *)(spikes + count), idx);
		count += __builtin_popcount(m);
	}
	/* Padding lanes never spike, but n need not be a multiple of 8. */
	while (count > 0 && spikes[count - 1] >= (uint32_t)n)
		count--;
	return count;
}

const char *ncp_simd_name(void)
{
	return "avx2";
}

#else

int ncp_simd_lif(float *v, float *ref, const float *J, const float *f, int n,
		 float dt, float vmin, uint32_t *spikes)
{
	int count = 0;
	for (int i = 0; i < n; i++) {
		float x = v[i] + (J[i] - v[i]) * f[i];
		float r = ref[i] - dt;
		v[i] = x > vmin ? x : vmin;
		ref[i] = r > 0.0f ? r : 0.0f;
	}
	for (int i = 0; i < n; i++) {
		spikes[count] = (uint32_t)i;
		count += v[i] > 1.0f;
	}
	return count;
}

const char *ncp_simd_name(void)
{
	return "portable";
}

#endif
