/* ncp_simd: the hot loops of the spiking engine, behind one interface.
 * The AVX2 versions are chosen at build time (-march=x86-64-v3, see the
 * Makefile); the portable ones compute the same thing. */
#ifndef NCP_SIMD_H
#define NCP_SIMD_H

#include <stdint.h>

/* The LIF population update (ncp_lif.c) for n neurons:
 *   v = max(v + (J - v) f, vmin);  ref = max(ref - dt, 0)
 * where f is each neuron's update factor for this step (1 - exp(-dt_eff /
 * tau_rc)), then the indices of neurons with v > 1 go into spikes,
 * ascending; returns how many.  Every array must be readable and writable
 * up to n rounded up to 8, with padding that never spikes (f = 0, v = 0);
 * spikes needs room for n + 8 entries. */
int ncp_simd_lif(float *v, float *ref, const float *J, const float *f, int n,
		 float dt, float vmin, uint32_t *spikes);

/* J = bias + sum_j enc[j n' + i] x[j] for i < n, where n' is n rounded up
 * to 16 (the row stride of enc), dims rows. */
void ncp_simd_encode(float *J, const float *bias, const float *enc, int n,
		     int dims, const float *x);

/* Round n up to the padding these kernels expect (16 floats). */
static inline int ncp_simd_pad(int n)
{
	return (n + 15) & ~15;
}

/* The name of the implementation compiled in ("avx2" or "portable"). */
const char *ncp_simd_name(void);

#endif
