/* ncp_feat: the emulator's input features: M1 spike trains (and
 * stimulation channels) filtered by exponentials (docs/model-format.md).
 *
 * With a_k = exp(-dt / tau_k) and x_n(s) = 1 when neuron n spiked in step
 * s (else 0), the feature of neuron n for time constant tau_k at step t is
 *
 *   window mode:   f[n][k](t) = (1 - a_k) / dt * sum_{d=0}^{W-1} a_k^d x_n(t-d)
 *   running mode:  f[n][k](t) = (1 - a_k) / dt * sum_{d>=0}     a_k^d x_n(t-d)
 *
 * that is a first-order lowpass (Nengo's Lowpass synapse, zero-order hold)
 * of a spike train whose spikes have area 1 (height 1/dt), so a feature
 * reads as a firing rate in Hz.  Window mode starts the filter from zero at
 * the window's first step; running mode keeps it over the whole history
 * (from the first step a state or a recording saw).  Steps before the
 * first are empty.  Stimulation channel c (a float per step) is filtered
 * the same way with its value in place of x.
 *
 * Layout: features are neuron-major, then the stimulation channels:
 * index n * ntau + k for neuron n, (neurons + c) * ntau + k for channel c.
 *
 * Only spikes are visited, never a dense window: a window costs
 * (spikes in it) x ntau additions, plus the stimulation steps whose values
 * are not all zero.
 */
#ifndef NCP_FEAT_H
#define NCP_FEAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_FEAT_MAX_TAUS 8
#define NCP_FEAT_MAX_WINDOW 10000		/* 10 s at 1 kHz */
#define NCP_FEAT_MAX_NEURONS 65536
#define NCP_FEAT_MAX_STIM 1024
/* window x neurons: a state keeps that many spike slots */
#define NCP_FEAT_MAX_ENTRIES (1u << 24)

enum ncp_feat_mode {
	NCP_FEAT_WINDOW,	/* filters start from zero at the window's start */
	NCP_FEAT_RUNNING,	/* filters keep their state (a running synapse) */
};

struct ncp_feat_spec {
	int window;		/* steps the window spans */
	int neurons;
	int stim;		/* stimulation channels (0: none) */
	int ntau;
	double taus[NCP_FEAT_MAX_TAUS];	/* s, ascending not required */
	double dt;		/* s per step */
	enum ncp_feat_mode mode;
};

/* One window of steps, oldest first: spk[i] holds n[i] neuron indices
 * (ascending, < neurons) and stim[i] the channels' values, or NULL when
 * they are all zero (stim itself may be NULL: no stimulation at all). */
struct ncp_feat_win {
	int len;
	const uint32_t *const *spk;
	const int *n;
	const float *const *stim;
};

struct ncp_feat {
	struct ncp_feat_spec spec;
	int nfeat;		/* (neurons + stim) * ntau */
	/* coef[d * ntau + k] = (1 - a_k) / dt * a_k^d, d < window */
	float *coef;
	/* decay_pow[d * ntau + k] = a_k^d, d <= window */
	float *decay_pow;
	double *decay_vec;	/* [nfeat]: a_k of each feature */
	double decay[NCP_FEAT_MAX_TAUS];	/* a_k */
	double gain[NCP_FEAT_MAX_TAUS];		/* (1 - a_k) / dt */
};

/* Check a spec; 0 or -EINVAL with a message naming the field. */
int ncp_feat_spec_check(const struct ncp_feat_spec *s, char *err,
			size_t errlen);
const char *ncp_feat_mode_name(enum ncp_feat_mode mode);

/* Build the coefficient tables.  0, -EINVAL (message) or -ENOMEM. */
int ncp_feat_init(struct ncp_feat *f, const struct ncp_feat_spec *s,
		  char *err, size_t errlen);
void ncp_feat_fini(struct ncp_feat *f);

/* out[0..nfeat) = the window-mode features of a window of w->len <=
 * window steps (the last step is t; fewer steps than the window mean the
 * earlier ones were empty). */
void ncp_feat_window(const struct ncp_feat *f, const struct ncp_feat_win *w,
		     float *out);

/* Running mode from a checkpoint: out = a^len * ckpt + the window-mode sum
 * over the len (<= window) steps after it; ckpt NULL is the zero state.
 * With ckpt the running feature of step c and w the steps c+1 .. t, out
 * is the running feature of step t. */
void ncp_feat_running_from(const struct ncp_feat *f, const float *ckpt,
			   const struct ncp_feat_win *w, float *out);

/* Running mode, one step: state = a * state + (1 - a) / dt * x(t), in
 * double (nfeat values). */
void ncp_feat_running_step(const struct ncp_feat *f, double *state,
			   const uint32_t *spk, int n, const float *stim);

#endif
