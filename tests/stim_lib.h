/* Measurements of M1 stimulation shared by test_stim and bench_stim
 * (docs/stimulation.md): counterfactual pairs of simulations that differ
 * only by a constant theta on one electrode. */
#ifndef STIM_LIB_H
#define STIM_LIB_H

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"

/* Distance bins, in units of stim.spread: [0,1) [1,2) [2,4) [4,inf). */
#define STIM_BINS 4
static const double stim_bin_edge[STIM_BINS] = { 1, 2, 4, INFINITY };

struct stim_footprint {
	int count[STIM_BINS];		/* neurons per bin */
	double rate0[STIM_BINS];	/* mean rate without stimulation, Hz */
	double rate1[STIM_BINS];	/* with, Hz */
	double hand_disp;		/* m, |hand(with) - hand(without)| */
	double alpha;			/* the electrode's current at the end */
};

/* Two runs of `steps` from the same configuration, the second with theta
 * constant on `electrode` from step 0; rates over all steps, hand
 * displacement after disp_steps.  0, or -1 with a message. */
static inline int stim_footprint_run(const struct ncp_config *c,
				     int electrode, float theta, int steps,
				     int disp_steps, struct stim_footprint *f,
				     char *err, size_t errlen)
{
	struct ncp_sim sim[2];
	int E = c->reach.stim.electrodes, n = c->reach.n_m1;
	unsigned *spk[2] = { calloc((size_t)n, sizeof(unsigned)),
			     calloc((size_t)n, sizeof(unsigned)) };
	float *th = calloc((size_t)E, sizeof(float));
	double hand[2][2] = { { 0 } };
	int ret = -1;

	memset(f, 0, sizeof(*f));
	if (!spk[0] || !spk[1] || !th)
		goto out;
	th[electrode] = theta;
	for (int k = 0; k < 2; k++) {
		if (ncp_sim_init(&sim[k], c, 64, err, errlen)) {
			if (k)
				ncp_sim_fini(&sim[0]);
			goto out;
		}
	}
	for (int s = 0; s < steps; s++) {
		for (int k = 0; k < 2; k++) {
			if (k == 1)
				ncp_sim_set_theta(&sim[k], th);
			ncp_sim_step(&sim[k]);
			for (int i = 0; i < sim[k].n_spikes; i++)
				spk[k][sim[k].spikes[i]]++;
			if (s + 1 == disp_steps) {
				hand[k][0] = sim[k].arm.hand[0];
				hand[k][1] = sim[k].arm.hand[1];
			}
		}
	}
	const struct ncp_stim *st = ncp_reach_stim(sim[1].reach);
	double c_e = (electrode + 0.5) / E, T = steps * c->reach.dt;
	for (int i = 0; i < n; i++) {
		double dist = fabs(st->pos[i] - c_e) / c->reach.stim.spread;
		int b = 0;
		while (dist >= stim_bin_edge[b])
			b++;
		f->count[b]++;
		f->rate0[b] += spk[0][i] / T;
		f->rate1[b] += spk[1][i] / T;
	}
	for (int b = 0; b < STIM_BINS; b++) {
		if (f->count[b]) {
			f->rate0[b] /= f->count[b];
			f->rate1[b] /= f->count[b];
		}
	}
	f->hand_disp = hypot(hand[1][0] - hand[0][0], hand[1][1] - hand[0][1]);
	f->alpha = st->alpha[electrode];
	ncp_sim_fini(&sim[0]);
	ncp_sim_fini(&sim[1]);
	ret = 0;
out:
	free(spk[0]);
	free(spk[1]);
	free(th);
	return ret;
}

#endif
