#include "models/nef/ncp_dist.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"

double ncp_dist_area_transform(double s, int dims)
{
	double sign = 1.0;
	if (s > 0) {
		s = -s;
		sign = -1.0;
	}
	double p = s + 1.0;
	if (p <= 0.0)
		return sign; /* I^-1(.; 0) = 0 */
	if (p >= 1.0)
		return 0.0;
	double ib = gsl_cdf_beta_Pinv(p, (dims + 1) / 2.0, 0.5);
	return sign * sqrt(fmax(0.0, 1.0 - ib));
}

int ncp_dist_sample(const struct ncp_dist *d, int dims, int n,
		    struct ncp_rng *rng, double *out)
{
	if (!(d->lo <= d->hi))
		return -EINVAL;
	for (int i = 0; i < n; i++)
		out[i] = ncp_rng_range(rng, d->lo, d->hi);
	if (d->kind == NCP_DIST_AREA) {
		if (d->dims > 0)
			dims = d->dims;
		if (dims < 1 || d->lo < -1.0 || d->hi > 1.0)
			return -EINVAL;
		for (int i = 0; i < n; i++)
			out[i] = ncp_dist_area_transform(out[i], dims);
	} else if (d->kind != NCP_DIST_UNIFORM) {
		return -EINVAL;
	}
	return 0;
}

/* The R_d low-discrepancy sequence: alpha_j = phi^-(j+1) where phi is the
 * positive root of x^(d+1) = x + 1. */
static void rd_alpha(int d, double *alpha)
{
	double phi = 2.0;
	for (int it = 0; it < 64; it++)
		phi = pow(1.0 + phi, 1.0 / (d + 1));
	double a = 1.0;
	for (int j = 0; j < d; j++) {
		a /= phi;
		alpha[j] = a;
	}
}

/* A random d x d rotation: Gram-Schmidt on Gaussian columns. */
static void random_rotation(int d, struct ncp_rng *rng, double *R)
{
	for (;;) {
		bool ok = true;
		for (int i = 0; i < d * d; i++)
			R[i] = ncp_rng_normal(rng);
		for (int c = 0; c < d && ok; c++) {
			for (int p = 0; p < c; p++) {
				double dot = 0;
				for (int r = 0; r < d; r++)
					dot += R[r * d + c] * R[r * d + p];
				for (int r = 0; r < d; r++)
					R[r * d + c] -= dot * R[r * d + p];
			}
			double norm = 0;
			for (int r = 0; r < d; r++)
				norm += R[r * d + c] * R[r * d + c];
			norm = sqrt(norm);
			if (norm < 1e-9)
				ok = false;
			else
				for (int r = 0; r < d; r++)
					R[r * d + c] /= norm;
		}
		if (ok)
			return;
	}
}

int ncp_dist_hypersphere(int n, int dims, bool surface, struct ncp_rng *rng,
			 double *out)
{
	if (n < 0 || dims < 1)
		return -EINVAL;
	if (n == 0)
		return 0;

	/* Shuffle the order so that taking the first k points of a set is
	 * not biased towards one part of the sequence. */
	double offset = ncp_rng_uniform(rng);
	if (dims == 1) {
		for (int i = 0; i < n; i++) {
			double u = fmod(offset + (i + 0.5) / n, 1.0);
			out[i] = surface ? (u < 0.5 ? -1.0 : 1.0) : 2.0 * u - 1.0;
		}
		for (int i = n - 1; i > 0; i--) {
			int j = (int)ncp_rng_below(rng, (uint64_t)i + 1);
			double t = out[i];
			out[i] = out[j];
			out[j] = t;
		}
		return 0;
	}

	int seqd = surface ? dims : dims + 1;
	double *alpha = malloc(sizeof(double) * (size_t)(seqd + dims * dims + dims));
	if (!alpha)
		return -ENOMEM;
	double *R = alpha + seqd;
	double *p = R + dims * dims;
	rd_alpha(seqd, alpha);
	random_rotation(dims, rng, R);

	for (int i = 0; i < n; i++) {
		double norm = 0.0, radius = 1.0;
		for (int j = 0; j < dims; j++) {
			double u = fmod(offset + (i + 1) * alpha[j], 1.0);
			/* Keep away from 0 and 1, where the inverse CDF diverges. */
			u = fmin(fmax(u, 1e-12), 1.0 - 1e-12);
			p[j] = gsl_cdf_ugaussian_Pinv(u);
			norm += p[j] * p[j];
		}
		if (!surface)
			radius = pow(fmod(offset + (i + 1) * alpha[dims], 1.0),
				     1.0 / dims);
		norm = sqrt(norm);
		if (norm == 0.0) {
			p[0] = 1.0;
			norm = 1.0;
		}
		for (int r = 0; r < dims; r++) {
			double acc = 0.0;
			for (int c = 0; c < dims; c++)
				acc += R[r * dims + c] * p[c];
			out[i * dims + r] = acc / norm * radius;
		}
	}
	free(alpha);
	return 0;
}
