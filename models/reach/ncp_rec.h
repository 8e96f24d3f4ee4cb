/* ncp_rec: virtual recording electrodes over the planning area, the
 * task-space error ensemble that carries x_des (docs/coprocessor.md).
 *
 * Layout.  The ensemble's neurons sit on a line in [0, 1], placed as
 * ncp_stim places M1's (ncp_stim_positions): topographic by the angle of
 * their 2-D encoders (the x_des direction they prefer) plus Gaussian
 * jitter, or random; from `seed` (its own stream, not stim.seed's).
 *
 * Electrodes.  R electrodes at c_r = (r + 0.5) / R; neuron n reaches
 * electrode r with W[n][r] = exp(-(p_n - c_r)^2 / (2 spread^2))
 * (ncp_stim_footprint: 0 beyond 5.3 spreads).
 *
 * Signal.  Each step, with S the neurons that spiked in it,
 *     y_r = d y_r + (1 - d) / dt  sum_{n in S} W[n][r],  d = exp(-dt / tau)
 * a first-order lowpass of the footprint-weighted spike trains (spikes as
 * 1/dt impulses): a neuron firing steadily at f Hz under an electrode's
 * centre contributes f to it.  Units: Hz.  The step is a sparse pass over
 * the spike list (R multiply-adds per spike) plus R decays; it allocates
 * nothing and is deterministic.
 */
#ifndef NCP_REC_H
#define NCP_REC_H

#include <stddef.h>
#include <stdint.h>

#define NCP_REC_MAX_ELECTRODES 256

struct ncp_rec_params {
	int electrodes;		/* R, 1..NCP_REC_MAX_ELECTRODES */
	double spread;		/* footprint sd on the [0, 1] line */
	double tau;		/* lowpass time constant, s */
	int layout;		/* enum ncp_stim_layout */
	double jitter;		/* topographic: position sd */
	uint64_t seed;		/* positions */
};

void ncp_rec_params_default(struct ncp_rec_params *p);
/* Checks the ranges; -EINVAL with a message naming the key. */
int ncp_rec_params_check(const struct ncp_rec_params *p, char *err,
			 size_t errlen);

struct ncp_rec {
	int n, R;
	double d, gain;		/* decay per step, (1 - d) / dt */
	double *pos;		/* n positions */
	float *W;		/* n rows of R: W[n R + r] */
	double *y;		/* R: the signal */
	float *yf;		/* R: the signal as the co-processor reads it */
	float *acc;		/* R: a step's weighted spike count */
};

/* Lay out n neurons whose encoders' x_des parts are (exd[2 i],
 * exd[2 i + 1]).  0 or -errno with a message. */
int ncp_rec_init(struct ncp_rec *rec, const struct ncp_rec_params *p, int n,
		 const double *exd, double dt, char *err, size_t errlen);
void ncp_rec_fini(struct ncp_rec *rec);
/* One step: the neurons in spikes[0..count) spiked (indices < n). */
void ncp_rec_step(struct ncp_rec *rec, const uint32_t *spikes, int count);
/* Zero the signal. */
void ncp_rec_reset(struct ncp_rec *rec);

#endif
