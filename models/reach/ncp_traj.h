/* ncp_traj: the pre-motor cortex's trajectories (docs/model.md): a path
 * of points the hand is to trace, the forcing function of the dynamic
 * movement primitive (DMP) that makes REACH's PMC trace it, the ramp that
 * drives it, and the distance from a point to the path.
 *
 * A DMP is a point attractor
 *     y'' = alpha (beta (g - y) - y') + f(s)
 * pulled from the path's start to its goal g while a ramp s runs from -1
 * to 1; the forcing function f (sampled at NCP_TRAJ_SAMPLES ramp values)
 * makes y follow the path.  REACH builds it from spiking neurons: a ramp
 * population decodes f / (alpha beta), and an alpha synapse with
 * tau = 1 / sqrt(alpha beta) is the attractor (ncp_reach.c).
 *
 * Path files: text, one point per line, "x y" in metres (separated by
 * spaces, tabs or one comma); '#' starts a comment; blank lines are
 * skipped (docs/file-formats.md).
 */
#ifndef NCP_TRAJ_H
#define NCP_TRAJ_H

#include <stddef.h>

#define NCP_TRAJ_SAMPLES 1000	  /* the forcing function's samples */
#define NCP_TRAJ_MAX_POINTS 1000  /* points in a path (the samples keep no more) */
#define NCP_TRAJ_CIRCLE_POINTS 100
#define NCP_TRAJ_ALPHA 1000.0	  /* REACH's attractor gain; beta = alpha / 4 */
#define NCP_TRAJ_MAX_DIMS 8	  /* coordinates the DMP traces (x, y or joints) */

struct ncp_traj {
	int n;			/* path points */
	double *xy;		/* n x 2, owned: the hand's path */
	double alpha, beta;
	/* The coordinates the DMP traces: the path's x, y (dims 2), or
	 * others set by ncp_traj_set_force (joint angles). */
	int dims;
	/* f / (alpha beta) per dimension at ramp -1 + 2 i / (SAMPLES - 1) */
	double f[NCP_TRAJ_MAX_DIMS][NCP_TRAJ_SAMPLES];
};

/* Read a path file into *xy (n x 2, malloc'ed, the caller frees it) and
 * the line number of each point into *lines (may be NULL; malloc'ed).
 * Errors name the file and line: a line that is not two numbers, a
 * number that is not finite, fewer than 2 or more than MAX points. */
int ncp_traj_load(const char *path, double **xy, int **lines, int *n,
		  char *err, size_t errlen);

/* The forcing function of the path (xy copied); 0 or -ENOMEM. */
int ncp_traj_init(struct ncp_traj *t, const double *xy, int n);
/* The path's point at ramp value s in [-1, 1]: the n points spread evenly
 * over the ramp, linearly interpolated (the samples the forcing function
 * is built from). */
void ncp_traj_point(const struct ncp_traj *t, double s, double xy[2]);
/* Trace other coordinates instead of the path's x, y: the forcing
 * function of the n points y (n x dims, row-major; dims <= MAX_DIMS),
 * spread over the ramp as the path's are, e.g. the joint angles of the
 * path's samples.  The path (xy) stays what distances are measured to.
 * 0, -EINVAL or -ENOMEM. */
int ncp_traj_set_force(struct ncp_traj *t, const double *y, int n, int dims);
void ncp_traj_fini(struct ncp_traj *t);
/* f / (alpha beta) of dimension d (< dims) at ramp value s (clamped to [-1, 1]),
 * linearly interpolated between the samples. */
double ncp_traj_force(const struct ncp_traj *t, int d, double s);

/* REACH's ramp at time tc (s) since the period began, period P:
 * u = 4.5 tc / P, s = clamp(u - 2.5, -1, 1): -1 for the first third (the
 * hand held at the start), rising over the next 4/9, then 1. */
double ncp_traj_ramp(double tc, double period);

/* Distance (m) from p to the polyline of n points (n >= 1). */
double ncp_traj_distance(const double *xy, int n, const double p[2]);

#endif
