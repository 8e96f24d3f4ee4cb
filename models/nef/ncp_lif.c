#include "models/nef/ncp_lif.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/nef/ncp_simd.h"

const struct ncp_lif_params ncp_lif_default = {
	.tau_rc = 0.02,
	.tau_ref = 0.002,
	.min_voltage = 0.0,
};

int ncp_lif_init(struct ncp_lif *lif, int n, const struct ncp_lif_params *p,
		 double dt, struct ncp_rng *rng)
{
	memset(lif, 0, sizeof(*lif));
	if (n <= 0 || dt <= 0 || p->tau_rc <= 0 || p->tau_ref < 0)
		return -EINVAL;
	lif->n = n;
	lif->dt = (float)dt;
	lif->tau_rc = (float)p->tau_rc;
	lif->tau_ref = (float)p->tau_ref;
	lif->min_voltage = (float)p->min_voltage;
	lif->decay = (float)-expm1(-dt / p->tau_rc);
	/* A neuron is refractory for at most tau_ref + dt after its spike;
	 * one more step covers rounding. */
	lif->hist_len = (int)ceil(p->tau_ref / dt) + 2;
	if (lif->hist_len > NCP_LIF_HISTORY)
		return -EINVAL;
	lif->v = ncp_calloc_aligned((size_t)n, sizeof(float));
	lif->ref = ncp_calloc_aligned((size_t)n, sizeof(float));
	lif->fac = ncp_calloc_aligned((size_t)n, sizeof(float));
	lif->spikes = ncp_calloc_aligned((size_t)n + 16, sizeof(uint32_t));
	if (!lif->v || !lif->ref || !lif->fac || !lif->spikes)
		goto fail;
	for (int i = 0; i < n; i++)
		lif->fac[i] = lif->decay;
	for (int k = 0; k < lif->hist_len; k++) {
		lif->hist[k] = ncp_calloc_aligned((size_t)n + 16, sizeof(uint32_t));
		if (!lif->hist[k])
			goto fail;
	}
	for (int i = 0; i < n; i++)
		lif->v[i] = (float)ncp_rng_uniform(rng);
	return 0;
fail:
	ncp_lif_fini(lif);
	return -ENOMEM;
}

void ncp_lif_fini(struct ncp_lif *lif)
{
	free(lif->v);
	free(lif->ref);
	free(lif->fac);
	free(lif->spikes);
	for (int k = 0; k < NCP_LIF_HISTORY; k++)
		free(lif->hist[k]);
	memset(lif, 0, sizeof(*lif));
}

void ncp_lif_reset(struct ncp_lif *lif)
{
	memset(lif->v, 0, sizeof(float) * (size_t)lif->n);
	memset(lif->ref, 0, sizeof(float) * (size_t)lif->n);
	for (int i = 0; i < lif->n; i++)
		lif->fac[i] = lif->decay;
	for (int k = 0; k < lif->hist_len; k++)
		lif->hist_n[k] = 0;
	lif->n_spikes = 0;
}

/* The update factor 1 - exp(-dt_eff / tau_rc) for the step after this
 * one, given the refractory time left now. */
static inline float next_factor(const struct ncp_lif *lif, float ref)
{
	float r = ref - lif->dt;	/* what the next step starts with */
	if (r <= 0.0f)
		return lif->decay;
	if (r >= lif->dt)
		return 0.0f;
	/* 1 - expf(): its absolute error (< 1e-7) is far below anything the
	 * voltage resolves, and it is several times faster than expm1f. */
	return 1.0f - expf(-(lif->dt - r) / lif->tau_rc);
}

void ncp_lif_step(struct ncp_lif *lif, const float *restrict J)
{
	float *restrict v = lif->v;
	float *restrict ref = lif->ref;
	uint32_t *restrict spk = lif->spikes;

	/* 1. Every neuron with its own factor: the full step for most, 0 while
	 *    refractory, the partial step dt_eff = clamp(dt - ref, 0, dt) when
	 *    the refractory period ends inside this step.  The spikes come
	 *    out of the same pass. */
	int ns = ncp_simd_lif(v, ref, J, lif->fac, lif->n, lif->dt,
			      lif->min_voltage, spk);
	lif->n_spikes = ns;

	/* 2. Each spike's exact time within the step sets the refractory time
	 *    left; the voltage resets.  log1p(y) is taken as logf(1 + y): the
	 *    rounding of 1 + y moves the spike time by under 2 ns, and logf is
	 *    several times faster than log1pf. */
	for (int s = 0; s < ns; s++) {
		uint32_t i = spk[s];
		float y = -(v[i] - 1.0f) / (J[i] - 1.0f);
		float t_spike = lif->dt + lif->tau_rc * logf(1.0f + y);
		ref[i] = lif->tau_ref + t_spike;
		v[i] = 0.0f;
	}

	/* 3. This step's spikes join the history; every neuron in it gets its
	 *    factor for the next step (back to the full step once its
	 *    refractory period is over; the history is long enough for that). */
	int last = lif->hist_len - 1;
	uint32_t *oldest = lif->hist[last];
	memmove(&lif->hist[1], &lif->hist[0], sizeof(lif->hist[0]) * (size_t)last);
	memmove(&lif->hist_n[1], &lif->hist_n[0], sizeof(int) * (size_t)last);
	lif->hist[0] = oldest;
	memcpy(oldest, spk, sizeof(uint32_t) * (size_t)ns);
	lif->hist_n[0] = ns;
	for (int k = 0; k < lif->hist_len; k++) {
		const uint32_t *idx = lif->hist[k];
		for (int s = 0; s < lif->hist_n[k]; s++)
			lif->fac[idx[s]] = next_factor(lif, ref[idx[s]]);
	}
}

double ncp_lif_rate(const struct ncp_lif_params *p, double J)
{
	if (J <= 1.0)
		return 0.0;
	return 1.0 / (p->tau_ref + p->tau_rc * log1p(1.0 / (J - 1.0)));
}

int ncp_lif_gain_bias(const struct ncp_lif_params *p, double max_rate,
		      double intercept, double *gain, double *bias)
{
	if (!(intercept < 1.0) || !(max_rate > 0.0))
		return -EDOM;
	double inv = p->tau_ref - 1.0 / max_rate;
	if (!(inv < 0.0))
		return -EDOM; /* max_rate >= 1/tau_ref is unreachable */
	double z = 1.0 / (1.0 - exp(inv / p->tau_rc));
	*gain = (1.0 - z) / (intercept - 1.0);
	*bias = 1.0 - *gain * intercept;
	return 0;
}
