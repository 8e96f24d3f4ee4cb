/* ncp_stim: lesions of M1's planning input and electrical stimulation of
 * M1 (docs/stimulation.md).
 *
 * Layout.  M1's neurons sit on a line, positions in [0, 1].  Topographic
 * (the default): neuron n's position is the angle of the x_des part of its
 * encoder, phi_n = atan2(e_n3, e_n2), mapped to (phi_n + pi) / (2 pi), plus
 * Gaussian jitter of sd `jitter`, clamped to [0, 1]; neighbours on the
 * line then prefer similar movement directions, as cortical columns do.
 * Random: positions uniform in [0, 1).  Both from `seed`.
 *
 * Electrodes.  E electrodes at c_e = (e + 0.5) / E.  Electrode e reaches
 * neuron n with weight C[n][e] = exp(-(p_n - c_e)^2 / (2 spread^2)), set
 * to 0 below NCP_STIM_FOOTPRINT_MIN (beyond 5.3 spreads).
 *
 * Dynamics.  Each step, with theta the newest electrode command (E values,
 * set at the step boundary before it):
 *     alpha = clamp(d alpha + theta, -max, max),   d = decay^(dt / 0.01)
 * (an |alpha| below NCP_STIM_ALPHA_FLOOR becomes 0)
 * (decay per 10 ms tick, 0.7 by default: d = 0.9650 at dt = 1 ms), and
 * neuron n's input current gains I_n = sum_e C[n][e] alpha_e, in the units
 * of the LIF input J = gain <e, x> / radius + bias.  A theta held constant
 * drives alpha to theta / (1 - d).  While theta and alpha are all zero no
 * current is added at all, so a run with zero stimulation is bit for bit
 * the run without.
 *
 * Lesions act on M1's run-time encoders and biases: pmc-m1 zeroes the x_des
 * rows of the encoders of a fraction of the neurons (they lose the
 * planning input, keep the joint-angle input); m1-silence zeroes all of
 * their encoders and their bias (their current is 0: they never fire, so
 * their spikes reach nothing).  Which neurons: the first round(fraction n)
 * of a permutation drawn at build from `lesion_seed`, so a smaller
 * fraction is a subset of a larger one.
 *
 * Everything is allocated at build; a step and a lesion change allocate
 * nothing.
 */
#ifndef NCP_STIM_H
#define NCP_STIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/base/ncp_rng.h"

enum ncp_lesion_kind {
	NCP_LESION_NONE,
	NCP_LESION_PMC_M1,	/* cut the x_des input of a fraction */
	NCP_LESION_M1_SILENCE,	/* silence a fraction */
	NCP_LESION_KIND_COUNT,
};
extern const char *const ncp_lesion_kind_names[NCP_LESION_KIND_COUNT + 1];

enum ncp_stim_layout {
	NCP_STIM_TOPOGRAPHIC,
	NCP_STIM_RANDOM,
	NCP_STIM_LAYOUT_COUNT,
};
extern const char *const ncp_stim_layout_names[NCP_STIM_LAYOUT_COUNT + 1];

/* Where theta comes from.  Exploration noise (stim.noise > 0) is added
 * on top of whichever source sets it. */
enum ncp_stim_source {
	NCP_STIM_SRC_NONE,	/* zero unless set (ncp_reach_set_theta) */
	NCP_STIM_SRC_NOISE,	/* no controller: the noise alone */
	NCP_STIM_SRC_ORACLE,	/* theta from x_des (ncp_stim_oracle_fit) */
	NCP_STIM_SRC_CPN,	/* the co-processor, through
				 * ncp_reach_set_theta (the daemon's) */
	NCP_STIM_SRC_COUNT,
};
extern const char *const ncp_stim_source_names[NCP_STIM_SRC_COUNT + 1];

/* The lesion and stimulation parameters of a build.  Every field shapes
 * what the build computes (positions, footprints, the lesion order, the
 * oracle's fit), so all of them belong to a cache key of the built model. */
struct ncp_stim_params {
	int lesion_kind;	/* enum ncp_lesion_kind, the initial lesion */
	double lesion_fraction;	/* 0..1 */
	uint64_t lesion_seed;	/* which neurons, in which order */
	int electrodes;		/* E, 1..NCP_STIM_MAX_ELECTRODES */
	double spread;		/* footprint sd on the [0, 1] line */
	double max;		/* |alpha_e| and |theta_e| bound, current units */
	double decay;		/* alpha's decay per 10 ms (0.7) */
	int layout;		/* enum ncp_stim_layout */
	double jitter;		/* topographic: position sd */
	uint64_t seed;		/* positions, and the noise */
	uint64_t noise_seed;	/* the noise's own seed (0: from seed) */
	int source;		/* enum ncp_stim_source */
	double noise;		/* stationary sd of the noise added to theta
				 * (any source; 0: none) */
	double noise_tau;	/* noise: correlation time, s */
};

/* An Ornstein-Uhlenbeck process per electrode, stationary sd 1, exact
 * over a step: x <- a x + b N(0, 1), a = exp(-dt / tau), b = sqrt(1 - a^2).
 * Exploration noise here and the co-processor's perturbation of its theta
 * (daemon/ncp_coproc.h) both draw from one. */
struct ncp_ou {
	int E;
	double *x;		/* E */
	double a, b;
	struct ncp_rng rng;
	uint64_t seed;
};
/* 0 or -ENOMEM. */
int ncp_ou_init(struct ncp_ou *o, int E, double tau, double dt, uint64_t seed);
void ncp_ou_fini(struct ncp_ou *o);
/* Back to x = 0 and the rng at its seed. */
void ncp_ou_reset(struct ncp_ou *o);
/* Advance one step; out[e] = clamp(base[e] + sd x_e, -max, max) (base
 * NULL: 0), computed in double. */
void ncp_ou_draw(struct ncp_ou *o, double sd, double max, const float *base,
		 float *out);

#define NCP_STIM_MAX_ELECTRODES 256
#define NCP_STIM_FOOTPRINT_MIN 1e-6
/* |alpha| below this is taken as 0 (current units), so that a decaying
 * alpha ends and the run goes back to adding nothing. */
#define NCP_STIM_ALPHA_FLOOR 1e-9

void ncp_stim_params_default(struct ncp_stim_params *p);
/* Checks the ranges; -EINVAL with a message naming the field. */
int ncp_stim_params_check(const struct ncp_stim_params *p, char *err,
			  size_t errlen);

struct ncp_stim {
	int n, E, pad;		/* neurons, electrodes, n padded to 16 */
	double dt, d, max;
	double *pos;		/* n positions */
	float *C;		/* E rows of pad: C[e pad + n] */
	double *alpha, *theta;	/* E each */
	float *alpha_f;		/* E: alpha as the step adds it */
	bool active;		/* alpha or theta nonzero */
	struct ncp_ou ou;	/* exploration noise */
};

/* The layout, shared by stimulation and recording (ncp_rec.h): n
 * positions on [0, 1], topographic from the x_des encoder parts
 * (exd[2 i], exd[2 i + 1]) plus jitter, or random, drawn from an rng
 * seeded with `seed` (the caller derives it). */
void ncp_stim_positions(double *pos, int n, const double *exd, int layout,
			double jitter, uint64_t seed);
/* The Gaussian footprint exp(-(pos - centre)^2 / (2 spread^2)), 0 below
 * NCP_STIM_FOOTPRINT_MIN. */
float ncp_stim_footprint(double pos, double centre, double spread);

/* Build the layout and footprints for n neurons whose x_des encoder parts
 * are (exd[2 i], exd[2 i + 1]).  Returns 0 or -errno with a message. */
int ncp_stim_init(struct ncp_stim *s, const struct ncp_stim_params *p, int n,
		  const double *exd, double dt, char *err, size_t errlen);
void ncp_stim_fini(struct ncp_stim *s);

/* The newest theta (E values, each within +-max: the caller checked). */
void ncp_stim_set_theta(struct ncp_stim *s, const float *theta);
/* The next theta with exploration noise: theta = clamp(base + sd ou, max)
 * (E values; base NULL: zeros). */
void ncp_stim_noise(struct ncp_stim *s, double sd, const float *base,
		    float *theta);
/* Advance alpha one step; if stimulation is active, write
 * out[i] = base[i] + sum_e C[i][e] alpha_e for the n neurons (in one pass)
 * and return true; else leave out alone and return false. */
bool ncp_stim_step(struct ncp_stim *s, const float *base, float *out);
/* Zero theta, alpha and the noise state; the noise restarts from its seed. */
void ncp_stim_reset(struct ncp_stim *s);

/* A check of theta: E values, finite, |v| <= max.  0 or -EINVAL/-EDOM with
 * a message saying which value is wrong. */
int ncp_stim_check_theta(const struct ncp_stim *s, const float *theta, int n,
			 char *err, size_t errlen);

/* A theta sequence for replay: a float32 .npy of shape (steps, E), every
 * value finite and within +-max.  *data (steps x E, row-major) is the
 * caller's to free.  -errno with a message naming the file and the fault. */
int ncp_stim_file_load(const char *path, int E, double max, float **data,
		       uint64_t *steps, char *err, size_t errlen);

/* Lesion order: a permutation of n from seed (allocated by the caller). */
void ncp_stim_lesion_order(uint32_t *order, int n, uint64_t seed);

#endif
