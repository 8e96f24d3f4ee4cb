#include "daemon/ncp_explore.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int ncp_explore_init(struct ncp_explore *x, const struct ncp_explore_params *p,
		     int E, double dt)
{
	memset(x, 0, sizeof(*x));
	x->p = *p;
	x->E = E;
	x->dt = dt;
	x->block_steps = (uint64_t)fmax(1.0, round(p->block / dt));
	x->hold_steps = (uint64_t)fmax(1.0, round(p->noise_hold / dt));
	x->noise = calloc((size_t)E, sizeof(float));
	if (!x->noise || ncp_ou_init(&x->ou, E, p->perturb_tau, dt,
				     ncp_rng_derive(p->seed, 0x0e7b)) < 0) {
		ncp_explore_fini(x);
		return -ENOMEM;
	}
	ncp_rng_seed(&x->rng, ncp_rng_derive(p->seed, 0x0015));
	return 0;
}

void ncp_explore_fini(struct ncp_explore *x)
{
	free(x->noise);
	ncp_ou_fini(&x->ou);
	memset(x, 0, sizeof(*x));
}

int ncp_explore_drive(const struct ncp_explore *x, uint64_t step)
{
	uint64_t h = ncp_rng_derive(x->p.seed, step / x->block_steps);
	double u = (double)(h >> 11) * 0x1p-53;
	if (u < x->p.mix[0])
		return NCP_EXPLORE_CPN;
	return u < x->p.mix[0] + x->p.mix[1] ? NCP_EXPLORE_PERTURBED :
					       NCP_EXPLORE_NOISE;
}

void ncp_explore_apply(struct ncp_explore *x, int drive, uint64_t step,
		       float *astar, double amax, const float *alpha, double d,
		       double smax, float *theta)
{
	if (drive == NCP_EXPLORE_PERTURBED) {
		ncp_ou_draw(&x->ou, x->p.perturb_sd * amax, amax, astar, astar);
	} else if (drive == NCP_EXPLORE_NOISE) {
		if (step % x->hold_steps == 0)
			for (int e = 0; e < x->E; e++) {
				double v = x->p.noise_sd * amax * ncp_rng_normal(&x->rng);
				x->noise[e] = (float)fmin(fmax(v, -amax), amax);
			}
		memcpy(astar, x->noise, sizeof(float) * (size_t)x->E);
	}
	for (int e = 0; e < x->E; e++) {
		double th = (double)astar[e] - d * alpha[e];
		theta[e] = (float)fmin(fmax(th, -smax), smax);
	}
}
