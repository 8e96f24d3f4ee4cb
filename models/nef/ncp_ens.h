/* ncp_ens: a spiking ensemble built the way Nengo builds one
 * (docs/model.md): encoders on the hypersphere, max rates and intercepts from
 * distributions, gain and bias from them, evaluation points, and
 * L2-regularised least-squares decoders for any function.
 *
 * Building allocates; encode, step and decode do not.
 */
#ifndef NCP_ENS_H
#define NCP_ENS_H

#include <stddef.h>
#include <stdint.h>

#include "models/nef/ncp_dist.h"
#include "models/nef/ncp_lif.h"

struct ncp_dcache;

/* A function an ensemble decodes: x (the ensemble's dims, in represented
 * space) to y (k values). */
typedef void (*ncp_func)(const double *x, double *y, void *ctx);

struct ncp_ens_spec {
	int n;			/* neurons */
	int dims;
	double radius;
	struct ncp_dist max_rates;	/* Hz */
	struct ncp_dist intercepts;
	struct ncp_lif_params lif;
	int n_eval;		/* evaluation points; 0: Nengo's rule */
	double reg;		/* L2 regularisation (sigma = reg * max(A)) */
	uint64_t seed;
};

/* Nengo's defaults: radius 1, max rates Uniform(200, 400), intercepts
 * Uniform(-1, 0.9), LIF defaults, reg 0.1. */
void ncp_ens_spec_default(struct ncp_ens_spec *s, int n, int dims);

/* Nengo's evaluation-point count: max(clamp(500 d, 750, 2500), 2 n). */
int ncp_ens_default_eval(int n, int dims);

struct ncp_ens {
	int n, dims;
	double radius, dt;
	struct ncp_lif_params lifp;
	double reg;
	double *encoders;	/* n x dims unit vectors */
	double *gain, *bias;	/* n */
	double *max_rate, *intercept; /* n, as sampled */
	int n_eval;
	double *eval;		/* n_eval x dims, scaled by the radius */
	/* Run time: J = enc^T x + bias, enc stored dims rows of gain e / r,
	 * each padded to ncp_simd_pad(n). */
	float *enc;
	float *biasf;
	float *J;
	struct ncp_lif lif;
	/* An ensemble array run as one population (ncp_ens_init_array): its
	 * ensembles as built, for their decoders; none otherwise. */
	struct ncp_ens *sub;
	int n_sub;
};

/* Build.  On error returns -errno and writes why into err. */
int ncp_ens_init(struct ncp_ens *e, const struct ncp_ens_spec *s, double dt,
		 char *err, size_t errlen);
void ncp_ens_fini(struct ncp_ens *e);

/* Nengo's EnsembleArray as one population: n_sub ensembles of spec (the
 * seed of ensemble i is ncp_rng_derive(spec->seed, i)), each built as
 * ncp_ens_init builds it, their neurons one after the other, ensemble i
 * encoding dimensions [i dims, (i + 1) dims) of the input.  Stepped as
 * one, it gives the same bits as the ensembles stepped apart (the zeros
 * of the other blocks add exact zeros), in one pass instead of n_sub.
 * It decodes its identity only: ncp_ens_solve_array. */
int ncp_ens_init_array(struct ncp_ens *e, const struct ncp_ens_spec *spec,
		       int n_sub, double dt, char *err, size_t errlen);

/* Solve decoders D (n x k, row-major) for f over the evaluation points
 * (not for an array: -EINVAL).
 * rmse (may be NULL) gets the static decode RMSE over them.  Allocates
 * scratch; for build time.  Returns 0 or -errno. */
int ncp_ens_solve(const struct ncp_ens *e, ncp_func f, void *ctx, int k,
		  float *D, double *rmse);
/* The same through a decoder cache (NULL: none): the decoders and RMSE
 * of an earlier solve with the very same inputs, bit for bit, when the
 * cache holds them; else solved and stored.  f is evaluated either way
 * (its values are part of the key). */
int ncp_ens_solve_cached(const struct ncp_ens *e, ncp_func f, void *ctx,
			 int k, struct ncp_dcache *cache, float *D,
			 double *rmse);

/* Decoders of an array (n x n_sub dims, block-diagonal): each block's
 * from its own ensemble, solved by ncp_ens_solve for f applied to that
 * block's dims alone (dims values in and out), through cache (may be
 * NULL).  rmse: over the blocks. */
int ncp_ens_solve_array(const struct ncp_ens *e, ncp_func f, void *ctx,
			struct ncp_dcache *cache, float *D, double *rmse);

/* The steady-state rate of every neuron (n) for input x (dims).  The
 * solve's cache key (ncp_ens.c, solve_key) lists what this reads; a new
 * input belongs in that list too (the key also holds some rates as
 * computed, which catches a missing one). */
void ncp_ens_rates(const struct ncp_ens *e, const double *x, double *rates);

/* Input currents for the represented value x (dims). */
void ncp_ens_encode(struct ncp_ens *e, const float *x);
/* One LIF step on the currents from ncp_ens_encode. */
static inline void ncp_ens_step(struct ncp_ens *e)
{
	ncp_lif_step(&e->lif, e->J);
}
/* ncp_ens_encode and ncp_ens_step in one pass over the neurons. */
static inline void ncp_ens_run(struct ncp_ens *e, const float *x)
{
	ncp_lif_step_encode(&e->lif, e->J, e->biasf, e->enc, e->dims, x);
}

/* y (k) += w * D^T s for this step's spikes s (amplitude 1/dt). */
void ncp_ens_decode_add(const struct ncp_ens *e, const float *D, int k,
			float w, float *y);

#endif
