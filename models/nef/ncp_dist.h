/* ncp_dist: the distributions Nengo builds ensembles from: uniform ranges,
 * REACH's "area intercepts", and points scattered on or in the unit
 * hypersphere (encoders and evaluation points). */
#ifndef NCP_DIST_H
#define NCP_DIST_H

#include <stdbool.h>

struct ncp_rng;

enum ncp_dist_kind {
	NCP_DIST_UNIFORM,	/* Uniform(lo, hi) */
	NCP_DIST_AREA,		/* area intercepts with base Uniform(lo, hi) */
};

struct ncp_dist {
	enum ncp_dist_kind kind;
	double lo, hi;
	int dims;		/* NCP_DIST_AREA: the dimensions of the area
				 * transform; 0: the ensemble's */
};

/* n samples into out.  dims is the ensemble's dimensionality (used by
 * NCP_DIST_AREA only).  Returns 0 or -EINVAL for a malformed distribution. */
int ncp_dist_sample(const struct ncp_dist *d, int dims, int n,
		    struct ncp_rng *rng, double *out);

/* The area-intercept transform of one base sample s (docs/model.md):
 * s > 0 flips to -s with sign -1, then
 * sign * sqrt(1 - I^-1((dims + 1) / 2, 1/2; s + 1)). */
double ncp_dist_area_transform(double s, int dims);

/* n points (n x dims, row-major) scattered quasi-uniformly over the unit
 * hypersphere's surface (surface = true) or inside the unit ball.  A
 * low-discrepancy sequence mapped onto the sphere, then a random rotation:
 * more even than independent draws, which lowers decode error. */
int ncp_dist_hypersphere(int n, int dims, bool surface, struct ncp_rng *rng,
			 double *out);

#endif
