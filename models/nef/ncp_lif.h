/* ncp_lif: a population of spiking leaky integrate-and-fire neurons,
 * stepped exactly as Nengo's LIF (docs/model.md): partial-step
 * refractory period, sub-step spike time, spikes of amplitude 1/dt.
 *
 * State is float32 structure-of-arrays, padded to 16 floats, so the
 * update vectorizes (ncp_simd); one step allocates nothing.  Spikes come
 * out as a list of neuron indices, which is what everything downstream
 * (decoding, the shared-memory window) consumes.
 */
#ifndef NCP_LIF_H
#define NCP_LIF_H

#include <stdbool.h>
#include <stdint.h>

struct ncp_rng;

struct ncp_lif_params {
	double tau_rc;		/* membrane time constant, s (0.02) */
	double tau_ref;		/* absolute refractory period, s (0.002) */
	double min_voltage;	/* floor of the voltage (0) */
};

/* Nengo's defaults: tau_rc 0.02, tau_ref 0.002, min_voltage 0. */
extern const struct ncp_lif_params ncp_lif_default;

struct ncp_lif {
	int n;
	float dt;
	float tau_rc, tau_ref, min_voltage;
	float decay;		/* 1 - exp(-dt / tau_rc): a full step's update */
	float *v;		/* voltage, n */
	float *ref;		/* refractory time left, n (>= 0) */
	uint32_t *spikes;	/* this step's spiking neurons, ascending */
	int n_spikes;
};

/* Allocate n neurons with voltages uniform in [0, 1) from rng (as Nengo
 * initialises them) and no refractoriness.  Returns 0 or -errno. */
int ncp_lif_init(struct ncp_lif *lif, int n, const struct ncp_lif_params *p,
		 double dt, struct ncp_rng *rng);
void ncp_lif_fini(struct ncp_lif *lif);

/* Advance one step with input currents J (n).  Afterwards lif->spikes
 * holds the lif->n_spikes neurons that spiked (amplitude 1/dt each). */
void ncp_lif_step(struct ncp_lif *lif, const float *J);
/* The same with the currents computed in the same pass: J (n, stored) =
 * bias + enc^T x, enc as ncp_simd_encode takes it. */
void ncp_lif_step_encode(struct ncp_lif *lif, float *J, const float *bias,
			 const float *enc, int dims, const float *x);

/* Forget all state: voltages and refractoriness to zero. */
void ncp_lif_reset(struct ncp_lif *lif);

/* The steady-state firing rate (Hz) for a constant current J. */
double ncp_lif_rate(const struct ncp_lif_params *p, double J);

/* Gain and bias that give max_rate (Hz) at x.e = 1 and start firing at
 * x.e = intercept.  Returns 0, or -EDOM when no LIF neuron can do that
 * (max_rate beyond 1/tau_ref, intercept >= 1). */
int ncp_lif_gain_bias(const struct ncp_lif_params *p, double max_rate,
		      double intercept, double *gain, double *bias);

#endif
