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
	lif->v = ncp_calloc_aligned((size_t)n, sizeof(float));
	lif->ref = ncp_calloc_aligned((size_t)n, sizeof(float));
	lif->spikes = ncp_calloc_aligned((size_t)n + 16, sizeof(uint32_t));
	if (!lif->v || !lif->ref || !lif->spikes) {
		ncp_lif_fini(lif);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++)
		lif->v[i] = (float)ncp_rng_uniform(rng);
	return 0;
}

void ncp_lif_fini(struct ncp_lif *lif)
{
	free(lif->v);
	free(lif->ref);
	free(lif->spikes);
	memset(lif, 0, sizeof(*lif));
}

void ncp_lif_reset(struct ncp_lif *lif)
{
	memset(lif->v, 0, sizeof(float) * (size_t)lif->n);
	memset(lif->ref, 0, sizeof(float) * (size_t)lif->n);
	lif->n_spikes = 0;
}

static struct ncp_simd_lif_k lif_k(const struct ncp_lif *lif)
{
	return (struct ncp_simd_lif_k){
		.dt = lif->dt, .vmin = lif->min_voltage,
		.inv_tau_rc = 1.0f / lif->tau_rc, .decay = lif->decay,
		.tau_rc = lif->tau_rc, .tau_ref = lif->tau_ref,
	};
}

/* Every neuron integrates for the part of the step outside its refractory
 * period (all of it for most, none while refractory, the rest of the step
 * when the period ends inside it), and the spikes come out of the same
 * pass; then each spike's exact time within the step sets the refractory
 * time left, and the voltage resets. */
void ncp_lif_step(struct ncp_lif *lif, const float *J)
{
	const struct ncp_simd_lif_k k = lif_k(lif);
	lif->n_spikes = ncp_simd_lif(lif->v, lif->ref, J, lif->n, &k,
				     lif->spikes);
	ncp_simd_lif_spiked(lif->v, lif->ref, J, lif->spikes, lif->n_spikes, &k);
}

void ncp_lif_step_encode(struct ncp_lif *lif, float *J, const float *bias,
			 const float *enc, int dims, const float *x)
{
	const struct ncp_simd_lif_k k = lif_k(lif);
	lif->n_spikes = ncp_simd_lif_encode(lif->v, lif->ref, J, bias, enc,
					    dims, x, lif->n, &k, lif->spikes);
	ncp_simd_lif_spiked(lif->v, lif->ref, J, lif->spikes, lif->n_spikes, &k);
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
