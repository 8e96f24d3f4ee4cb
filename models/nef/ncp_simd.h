/* ncp_simd: the hot loops of the spiking engine, behind one interface.
 * The AVX2 versions are chosen at build time (-march=x86-64-v3, see the
 * Makefile); the portable ones compute the same thing. */
#ifndef NCP_SIMD_H
#define NCP_SIMD_H

#include <stdint.h>

/* Constants of the LIF update. */
struct ncp_simd_lif_k {
	float dt, vmin;
	float inv_tau_rc;	/* 1 / tau_rc */
	float decay;		/* 1 - exp(-dt / tau_rc), a full step's factor */
	float tau_rc, tau_ref;
};
/* Largest dt / tau_rc for which the partial step's factor comes from a
 * five-term series (Nengo's defaults: 0.05); beyond it the update takes
 * expm1f for each neuron in that step. */
#define NCP_SIMD_LIF_ZMAX 0.1f

/* The LIF population update (ncp_lif.c, Nengo's LIF step) for n neurons:
 *   rr = ref - dt;  dt_eff = clamp(dt - rr, 0, dt)
 *   v = max(v + (J - v) (1 - exp(-dt_eff / tau_rc)), vmin);  ref = max(rr, 0)
 * then the indices of neurons with v > 1 go into spikes, ascending;
 * returns how many.  Every array must be readable and writable up to n
 * rounded up to 8, with padding that never spikes (v = J = 0); spikes
 * needs room for n + 8 entries. */
int ncp_simd_lif(float *v, float *ref, const float *J, int n,
		 const struct ncp_simd_lif_k *k, uint32_t *spikes);
/* ncp_simd_encode into J, then ncp_simd_lif, in one pass where the
 * kernel has it (the same results). */
int ncp_simd_lif_encode(float *v, float *ref, float *J, const float *bias,
			const float *enc, int dims, const float *x, int n,
			const struct ncp_simd_lif_k *k, uint32_t *spikes);
/* After ncp_simd_lif: each of the ns neurons listed in spk spiked inside
 * this step, when its voltage crossed 1 on its way from v_old to J; the
 * time left in the step after that is t = tau_rc log((J - v) / (J - 1)),
 * so its refractory time left is ref = tau_ref + dt + t and v = 0. */
void ncp_simd_lif_spiked(float *v, float *ref, const float *J,
			 const uint32_t *spk, int ns,
			 const struct ncp_simd_lif_k *k);
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
