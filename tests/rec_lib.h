/* How well the planning signal x_des is decoded from the recording
 * electrodes (docs/coprocessor.md), shared by test_rec and
 * bench_rec_decode: free runs on random reaches feed several electrode
 * layouts at once (recording does not act on the network), a ridge
 * regression x_des ~ electrodes (+ S1 arm state) (+ bias) is fitted on one
 * task seed and scored (R^2) on another. */
#ifndef REC_LIB_H
#define REC_LIB_H

#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/reach/ncp_reach.h"
#include "models/reach/ncp_rec.h"
#include "models/reach/ncp_task.h"

#define REC_MAX_CONF 24
#define REC_STRIDE 10		/* steps between samples (10 ms) */
#define REC_ARM 6		/* q0, q1, dq0, dq1, hand x, hand y */

/* One free run's samples: for each layout, samples x R values; the arm
 * state and x_des per sample. */
struct rec_run {
	int nconf, samples;
	int R[REC_MAX_CONF];
	float *y[REC_MAX_CONF];
	double *arm, *xdes;
};

static inline void rec_run_free(struct rec_run *run)
{
	for (int k = 0; k < run->nconf; k++)
		free(run->y[k]);
	free(run->arm);
	free(run->xdes);
	memset(run, 0, sizeof(*run));
}

/* Run `seconds` of random reaches (task seed task_seed) with network
 * seed net_seed, a pmc-m1 lesion of `lesion` (0: none), recording through
 * the nconf layouts conf[].  0, or -1 with a message. */
static inline int rec_run_collect(struct rec_run *run, uint64_t net_seed,
				  uint64_t task_seed, double seconds,
				  double lesion,
				  const struct ncp_rec_params *conf, int nconf,
				  char *err, size_t errlen)
{
	struct ncp_reach_params p;
	struct ncp_task_params tp;
	struct ncp_task task;
	struct ncp_rec rec[REC_MAX_CONF];
	int ret = -1;

	memset(run, 0, sizeof(*run));
	ncp_reach_params_default(&p);
	p.seed = net_seed;
	struct ncp_reach *r = ncp_reach_new(&p, NULL, err, errlen);
	if (!r)
		return -1;
	if (lesion > 0)
		ncp_reach_set_lesion(r, NCP_LESION_PMC_M1, lesion);
	ncp_task_params_default(&tp);
	tp.kind = NCP_TASK_RANDOM;
	tp.seed = task_seed;
	ncp_task_init(&task, &tp, p.dt, 0);
	const int n = p.n_error;
	double *exd = malloc(sizeof(double) * 2 * (size_t)n);
	long steps = lround(seconds / p.dt);
	run->samples = (int)(steps / REC_STRIDE);
	run->nconf = nconf;
	run->arm = malloc(sizeof(double) * REC_ARM * (size_t)run->samples);
	run->xdes = malloc(sizeof(double) * 2 * (size_t)run->samples);
	if (!exd || !run->arm || !run->xdes)
		goto out;
	ncp_reach_error_exd(r, exd);
	int built = 0;
	for (; built < nconf; built++) {
		if (ncp_rec_init(&rec[built], &conf[built], n, exd, p.dt, err,
				 errlen))
			goto out_rec;
		run->R[built] = conf[built].electrodes;
		run->y[built] = malloc(sizeof(float) * (size_t)run->R[built] *
				       (size_t)run->samples);
		if (!run->y[built]) {
			built++;
			goto out_rec;
		}
	}
	for (long s = 0, k = 0; s < steps; s++) {
		double xy[2];
		ncp_task_target(&task, (uint64_t)s, xy);
		ncp_reach_set_target(r, xy);
		ncp_reach_step(r);
		int ns;
		const uint32_t *sp = ncp_reach_error_spikes(r, &ns);
		for (int c = 0; c < nconf; c++)
			ncp_rec_step(&rec[c], sp, ns);
		if ((s + 1) % REC_STRIDE || k >= run->samples)
			continue;
		for (int c = 0; c < nconf; c++)
			memcpy(run->y[c] + (size_t)k * run->R[c], rec[c].yf,
			       sizeof(float) * (size_t)run->R[c]);
		struct ncp_arm_state a;
		ncp_reach_arm_state(r, &a);
		double *arm = run->arm + (size_t)k * REC_ARM;
		arm[0] = a.q[0];
		arm[1] = a.q[1];
		arm[2] = a.dq[0];
		arm[3] = a.dq[1];
		arm[4] = a.hand[0];
		arm[5] = a.hand[1];
		ncp_reach_x_des(r, run->xdes + 2 * k);
		k++;
	}
	ret = 0;
out_rec:
	for (int c = 0; c < built; c++)
		ncp_rec_fini(&rec[c]);
out:
	free(exd);
	ncp_reach_free(r);
	if (ret)
		rec_run_free(run);
	return ret;
}

/* Features of sample k: layout c's electrodes, then (with_arm) the arm. */
static inline int rec_features(const struct rec_run *run, int c, int with_arm,
			       int k, double *f)
{
	int m = 0;
	for (int i = 0; i < run->R[c]; i++)
		f[m++] = run->y[c][(size_t)k * run->R[c] + i];
	if (with_arm)
		for (int i = 0; i < REC_ARM; i++)
			f[m++] = run->arm[(size_t)k * REC_ARM + i];
	return m;
}

/* Ridge regression x_des ~ standardised features + bias on `train`
 * (lambda = 1e-3 per sample on the standardised scale), R^2 on `test`:
 * 1 - sum of squared errors / sum of squares about the test mean, both
 * x_des components pooled.  NaN if the fit fails. */
static inline double rec_decode_r2(const struct rec_run *train,
				   const struct rec_run *test, int c,
				   int with_arm)
{
	enum { MAXF = NCP_REC_MAX_ELECTRODES + REC_ARM };
	double f[MAXF], mean[MAXF] = { 0 }, sd[MAXF] = { 0 };
	int m = rec_features(train, c, with_arm, 0, f), M = m + 1;
	double *A = calloc((size_t)M * M, sizeof(double));
	double *B = calloc((size_t)M * 2, sizeof(double));
	double r2 = NAN;
	if (!A || !B)
		goto out;
	for (int k = 0; k < train->samples; k++) {
		rec_features(train, c, with_arm, k, f);
		for (int i = 0; i < m; i++) {
			mean[i] += f[i];
			sd[i] += f[i] * f[i];
		}
	}
	for (int i = 0; i < m; i++) {
		mean[i] /= train->samples;
		double v = sd[i] / train->samples - mean[i] * mean[i];
		sd[i] = v > 1e-12 ? sqrt(v) : 1.0;
	}
	for (int k = 0; k < train->samples; k++) {
		rec_features(train, c, with_arm, k, f);
		for (int i = 0; i < m; i++)
			f[i] = (f[i] - mean[i]) / sd[i];
		f[m] = 1.0;
		for (int i = 0; i < M; i++) {
			for (int j = 0; j <= i; j++)
				A[i * M + j] += f[i] * f[j];
			B[i * 2] += f[i] * train->xdes[2 * k];
			B[i * 2 + 1] += f[i] * train->xdes[2 * k + 1];
		}
	}
	for (int i = 0; i < M; i++) {
		for (int j = 0; j < i; j++)
			A[j * M + i] = A[i * M + j];
		if (i < m)
			A[i * M + i] += 1e-3 * train->samples;
	}
	gsl_matrix_view Av = gsl_matrix_view_array(A, M, M);
	gsl_set_error_handler_off();
	if (gsl_linalg_cholesky_decomp1(&Av.matrix))
		goto out;
	double w[2][MAXF + 1];
	for (int d = 0; d < 2; d++) {
		gsl_vector_view b = gsl_vector_view_array_with_stride(B + d, 2,
								      M);
		gsl_vector_view x = gsl_vector_view_array(w[d], M);
		if (gsl_linalg_cholesky_solve(&Av.matrix, &b.vector,
					      &x.vector))
			goto out;
	}
	double tm[2] = { 0, 0 }, sse = 0, sst = 0;
	for (int k = 0; k < test->samples; k++)
		for (int d = 0; d < 2; d++)
			tm[d] += test->xdes[2 * k + d] / test->samples;
	for (int k = 0; k < test->samples; k++) {
		rec_features(test, c, with_arm, k, f);
		for (int i = 0; i < m; i++)
			f[i] = (f[i] - mean[i]) / sd[i];
		f[m] = 1.0;
		for (int d = 0; d < 2; d++) {
			double yh = 0;
			for (int i = 0; i < M; i++)
				yh += w[d][i] * f[i];
			double y = test->xdes[2 * k + d];
			sse += (y - yh) * (y - yh);
			sst += (y - tm[d]) * (y - tm[d]);
		}
	}
	r2 = 1.0 - sse / sst;
out:
	free(A);
	free(B);
	return r2;
}

#endif
