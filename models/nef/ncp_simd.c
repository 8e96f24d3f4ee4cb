#include "models/nef/ncp_simd.h"

#include <float.h>
#include <math.h>
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

/* 1 - exp(-z) for 0 <= z <= NCP_SIMD_LIF_ZMAX from its Taylor series to
 * z^5 (the error, under z^6 / 6!, is below float rounding), evaluated as
 * z ((1 - z/2) + z^2 ((1/6 - z/24) + z^2/120)) to keep the chain of
 * dependent operations short: it sits on the path to the spike test. */
static inline float neg_expm1_series(float z)
{
	float z2 = z * z;
	float hi = (1.0f / 6 - z * (1.0f / 24)) + z2 * (1.0f / 120);
	return z * ((1.0f - z * 0.5f) + z2 * hi);
}

/* The indices of neurons with v > 1, ascending, without branches. */
static int list_spikes(const float *v, int n, uint32_t *spikes)
{
	int count = 0;
	for (int i = 0; i < n; i++) {
		spikes[count] = (uint32_t)i;
		count += v[i] > 1.0f;
	}
	return count;
}

/* Any dt / tau_rc: the factor from expm1f where a neuron needs it. */
static int lif_exact(float *v, float *ref, const float *J, int n,
		     const struct ncp_simd_lif_k *k, uint32_t *spikes)
{
	for (int i = 0; i < n; i++) {
		float rr = ref[i] - k->dt, f = k->decay;
		if (rr >= k->dt)
			f = 0.0f;
		else if (rr > 0.0f)
			f = -expm1f(-(k->dt - rr) * k->inv_tau_rc);
		float x = v[i] + (J[i] - v[i]) * f;
		v[i] = x > k->vmin ? x : k->vmin;
		ref[i] = rr > 0.0f ? rr : 0.0f;
	}
	return list_spikes(v, n, spikes);
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

#define C(x) _mm256_set1_ps(x)

/* neg_expm1_series() on eight lanes. */
static inline __m256 neg_expm1_series_ps(__m256 z)
{
	__m256 z2 = _mm256_mul_ps(z, z);
	__m256 lo = _mm256_fnmadd_ps(z, C(1.0f / 2), C(1.0f));
	__m256 hi = _mm256_fnmadd_ps(z, C(1.0f / 24), C(1.0f / 6));
	hi = _mm256_fmadd_ps(z2, C(1.0f / 120), hi);
	return _mm256_mul_ps(z, _mm256_fmadd_ps(z2, hi, lo));
}

/* The AVX2 update; with DIMS > 0 the currents are encoded lane by lane
 * first, J = bias + sum_j enc[j stride + i] x[j] in the order of
 * ncp_simd_encode (so the same bits), and stored for the spike times.
 * Inlined with DIMS constant, so that each case is its own loop. */
static inline __attribute__((always_inline)) int
lif_avx2(float *v, float *ref, float *J, int n, const struct ncp_simd_lif_k *k,
	 uint32_t *spikes, const float *bias, const float *enc, const float *x,
	 int DIMS)
{
	const __m256 one = C(1.0f), zero = _mm256_setzero_ps();
	const __m256 vdt = C(k->dt), vlo = C(k->vmin), decay = C(k->decay);
	const __m256 itau = C(k->inv_tau_rc), zfull = C(k->dt * k->inv_tau_rc);
	const __m256 z0 = C(2.0f * k->dt * k->inv_tau_rc);
	const int stride = ncp_simd_pad(n);
	__m256 xs[8];
	int count = 0;

	for (int j = 0; j < DIMS; j++)
		xs[j] = C(x[j]);
	for (int b = 0; b < n; b += 8) {
		/* Every lane's factor, without branches: the full step's
		 * (exactly `decay`) once the refractory period is over
		 * (ref <= dt), the series for the partial step that ends it,
		 * 0 inside it.  z = dt_eff / tau_rc = clamp(2 dt - ref, 0, dt)
		 * / tau_rc. */
		__m256 rf = _mm256_loadu_ps(ref + b);
		__m256 z = _mm256_min_ps(_mm256_max_ps(
			_mm256_fnmadd_ps(rf, itau, z0), zero), zfull);
		__m256 f = _mm256_blendv_ps(neg_expm1_series_ps(z), decay,
					    _mm256_cmp_ps(rf, vdt, _CMP_LE_OQ));
		_mm256_storeu_ps(ref + b,
				 _mm256_max_ps(_mm256_sub_ps(rf, vdt), zero));

		__m256 jj;
		if (DIMS > 0) {
			jj = _mm256_loadu_ps(bias + b);
			for (int j = 0; j < DIMS; j++)
				jj = _mm256_fmadd_ps(_mm256_loadu_ps(
					enc + (size_t)j * stride + b), xs[j], jj);
			_mm256_storeu_ps(J + b, jj);
		} else {
			jj = _mm256_loadu_ps(J + b);
		}
		__m256 vv = _mm256_loadu_ps(v + b);
		vv = _mm256_fmadd_ps(_mm256_sub_ps(jj, vv), f, vv);
		vv = _mm256_max_ps(vv, vlo);
		_mm256_storeu_ps(v + b, vv);
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

int ncp_simd_lif(float *v, float *ref, const float *J, int n,
		 const struct ncp_simd_lif_k *k, uint32_t *spikes)
{
	if (!(k->dt * k->inv_tau_rc <= NCP_SIMD_LIF_ZMAX))
		return lif_exact(v, ref, J, n, k, spikes);
	/* J is only read when DIMS is 0. */
	return lif_avx2(v, ref, (float *)J, n, k, spikes, NULL, NULL, NULL, 0);
}

int ncp_simd_lif_encode(float *v, float *ref, float *J, const float *bias,
			const float *enc, int dims, const float *x, int n,
			const struct ncp_simd_lif_k *k, uint32_t *spikes)
{
	if (k->dt * k->inv_tau_rc <= NCP_SIMD_LIF_ZMAX) {
		switch (dims) {
#define CASE(D) case D: \
	return lif_avx2(v, ref, J, n, k, spikes, bias, enc, x, D)
		CASE(1); CASE(2); CASE(3); CASE(4); CASE(6);
#undef CASE
		}
	}
	ncp_simd_encode(J, bias, enc, n, dims, x);
	return ncp_simd_lif(v, ref, J, n, k, spikes);
}

/* log(x) for positive normal floats: x = 2^e m with m in [sqrt(1/2),
 * sqrt(2)), log m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| < 0.172,
 * from its series to s^9 (error under 1e-9), and e log 2 in two parts. */
static inline __m256 log_ps(__m256 x)
{
	__m256i xi = _mm256_castps_si256(x);
	__m256i e = _mm256_sub_epi32(_mm256_srli_epi32(xi, 23),
				     _mm256_set1_epi32(127));
	__m256 m = _mm256_castsi256_ps(_mm256_or_si256(
		_mm256_and_si256(xi, _mm256_set1_epi32(0x007fffff)),
		_mm256_set1_epi32(0x3f800000)));
	__m256 big = _mm256_cmp_ps(m, C(1.41421356f), _CMP_GT_OQ);
	m = _mm256_blendv_ps(m, _mm256_mul_ps(m, C(0.5f)), big);
	e = _mm256_sub_epi32(e, _mm256_castps_si256(big)); /* -(-1) */
	__m256 s = _mm256_div_ps(_mm256_sub_ps(m, C(1.0f)),
				 _mm256_add_ps(m, C(1.0f)));
	__m256 s2 = _mm256_mul_ps(s, s);
	__m256 p = _mm256_fmadd_ps(s2, C(1.0f / 9), C(1.0f / 7));
	p = _mm256_fmadd_ps(s2, p, C(1.0f / 5));
	p = _mm256_fmadd_ps(s2, p, C(1.0f / 3));
	p = _mm256_fmadd_ps(s2, p, C(1.0f));
	__m256 ef = _mm256_cvtepi32_ps(e);
	__m256 lm = _mm256_fmadd_ps(ef, C(-2.12194440e-4f),
				    _mm256_mul_ps(_mm256_add_ps(s, s), p));
	return _mm256_fmadd_ps(ef, C(0.693359375f), lm);
}

/* As the portable version (below), eight spikes at a time. */
void ncp_simd_lif_spiked(float *v, float *ref, const float *J,
			 const uint32_t *spk, int ns,
			 const struct ncp_simd_lif_k *k)
{
	const __m256 one = C(1.0f), tmin = C(FLT_MIN);
	const __m256 t0 = C(k->tau_ref + k->dt), trc = C(k->tau_rc);
	float r[8];

	for (int s = 0; s < ns; s += 8) {
		int lanes = ns - s < 8 ? ns - s : 8;
		__m256i live = _mm256_cmpgt_epi32(
			_mm256_set1_epi32(lanes),
			_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
		__m256i idx = _mm256_maskload_epi32((const int *)spk + s, live);
		__m256 vv = _mm256_mask_i32gather_ps(one, v, idx,
			_mm256_castsi256_ps(live), 4);
		__m256 jj = _mm256_mask_i32gather_ps(C(2.0f), J, idx,
			_mm256_castsi256_ps(live), 4);
		__m256 x = _mm256_div_ps(_mm256_sub_ps(jj, vv),
					 _mm256_sub_ps(jj, one));
		x = _mm256_max_ps(x, tmin);
		_mm256_storeu_ps(r, _mm256_fmadd_ps(trc, log_ps(x), t0));
		for (int l = 0; l < lanes; l++) {
			ref[spk[s + l]] = r[l];
			v[spk[s + l]] = 0.0f;
		}
	}
}

const char *ncp_simd_name(void)
{
	return "avx2";
}

#else

/* The update written without branches, so that the compiler vectorizes
 * it for whatever the target has (it needs -fno-trapping-math to turn the
 * selects into blends): z = dt_eff / tau_rc = clamp(2 dt - ref, 0, dt) /
 * tau_rc; the factor is exactly `decay` once the refractory period is
 * over (ref <= dt), the series for the partial step that ends it, 0
 * inside it. */
static int lif_series(float *restrict v, float *restrict ref,
		      const float *restrict J, int n,
		      const struct ncp_simd_lif_k *k, uint32_t *restrict spikes)
{
	const float dt = k->dt, itau = k->inv_tau_rc, decay = k->decay;
	const float vmin = k->vmin, zfull = dt * itau, z0 = 2.0f * zfull;
	for (int i = 0; i < n; i++) {
		float z = z0 - ref[i] * itau;
		z = z > 0.0f ? z : 0.0f;
		z = z < zfull ? z : zfull;
		float p = neg_expm1_series(z);	/* every lane: no branch */
		float f = ref[i] <= dt ? decay : p;
		float x = v[i] + (J[i] - v[i]) * f;
		float r = ref[i] - dt;
		v[i] = x > vmin ? x : vmin;
		ref[i] = r > 0.0f ? r : 0.0f;
	}
	return list_spikes(v, n, spikes);
}

int ncp_simd_lif(float *v, float *ref, const float *J, int n,
		 const struct ncp_simd_lif_k *k, uint32_t *spikes)
{
	if (!(k->dt * k->inv_tau_rc <= NCP_SIMD_LIF_ZMAX))
		return lif_exact(v, ref, J, n, k, spikes);
	return lif_series(v, ref, J, n, k, spikes);
}

int ncp_simd_lif_encode(float *v, float *ref, float *J, const float *bias,
			const float *enc, int dims, const float *x, int n,
			const struct ncp_simd_lif_k *k, uint32_t *spikes)
{
	ncp_simd_encode(J, bias, enc, n, dims, x);
	return ncp_simd_lif(v, ref, J, n, k, spikes);
}

/* The fraction of the step left after a spike is (J - v) / (J - 1) in
 * exponential time; it is clamped to a positive float so that a neuron
 * whose voltage rounded onto J gets a very negative t, which (as in
 * Nengo) leaves it no refractory time. */
void ncp_simd_lif_spiked(float *v, float *ref, const float *J,
			 const uint32_t *spk, int ns,
			 const struct ncp_simd_lif_k *k)
{
	for (int s = 0; s < ns; s++) {
		uint32_t i = spk[s];
		float x = fmaxf((J[i] - v[i]) / (J[i] - 1.0f), FLT_MIN);
		ref[i] = k->tau_ref + k->dt + k->tau_rc * logf(x);
		v[i] = 0.0f;
	}
}

const char *ncp_simd_name(void)
{
	return "portable";
}

#endif
