/* ncp_task: what the pre-motor cortex (PMC) asks for: a target each step.
 *
 *   centre-out  centre, target 1, centre, target 2, ... (8 targets on a
 *               circle around the centre), one per period;
 *   random      a new target each period, uniform in a disc around the
 *               centre, from the task's own seed;
 *   manual      the target someone set (ncp_task_set_target);
 *   line, circle, path
 *               a trajectory the PMC traces each period (ncp_traj.h):
 *               a straight line, a circle around the centre, or the
 *               points of a file; the target is the path's start while
 *               the ramp waits (ncp_task_ramp -1), then its end.
 * A "reach" is one period; it ends at the period's last step.
 */
#ifndef NCP_TASK_H
#define NCP_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/base/ncp_rng.h"

enum ncp_task_kind {
	NCP_TASK_CENTRE_OUT,
	NCP_TASK_RANDOM,
	NCP_TASK_MANUAL,
	NCP_TASK_LINE,
	NCP_TASK_CIRCLE,
	NCP_TASK_PATH,
	NCP_TASK_STEPS,		/* target steps between task.line's ends */
};

#define NCP_TASK_PATH_MAX 256

struct ncp_task_params {
	enum ncp_task_kind kind;
	uint64_t seed;
	double period;		/* s */
	double centre[2];	/* m */
	double radius;		/* centre-out circle, m */
	int n_targets;		/* centre-out */
	double random_radius;	/* random disc, m */
	double line[4];		/* line: start x, y, end x, y (m) */
	char path_file[NCP_TASK_PATH_MAX]; /* path: the file of points */
	/* Trajectory kinds: the path's points (n x 2, not owned; from
	 * ncp_task_path), which ncp_task_init needs. */
	const double *path_xy;
	int path_n;
};

void ncp_task_params_default(struct ncp_task_params *p);
const char *ncp_task_kind_name(enum ncp_task_kind kind);
/* Parse "centre-out" (or "center-out"), "random", "manual", "line",
 * "circle", "path"; -EINVAL else. */
int ncp_task_kind_parse(const char *s, enum ncp_task_kind *kind);
/* Whether the kind is a trajectory the PMC generates (line, circle, path). */
bool ncp_task_is_traj(enum ncp_task_kind kind);
/* The points of a trajectory kind: line (its 2 points), circle
 * (NCP_TRAJ_CIRCLE_POINTS points of radius `radius` around the centre,
 * from angle 0 round to 2 pi), path (read from path_file).  *xy and
 * *lines (may be NULL; line numbers in the file, else 0) are malloc'ed.
 * 0 or -errno with a message. */
int ncp_task_path(const struct ncp_task_params *p, double **xy, int **lines,
		  int *n, char *err, size_t errlen);

struct ncp_task {
	struct ncp_task_params p;
	struct ncp_rng rng;
	uint64_t period_steps;
	uint64_t start_step;	/* where the current period began */
	uint64_t reach_index;	/* periods begun so far */
	double target[2];
};

/* Start at step `step` with time step dt (a manual task starts at the
 * centre).  Returns 0 or -EINVAL. */
int ncp_task_init(struct ncp_task *t, const struct ncp_task_params *p,
		  double dt, uint64_t step);
/* The target for step `step` (steps are given in increasing order). */
void ncp_task_target(struct ncp_task *t, uint64_t step, double xy[2]);
/* True when `step` is the last step of the current period. */
bool ncp_task_period_ends(const struct ncp_task *t, uint64_t step);
/* Trajectory kinds: the PMC's ramp for step `step` (ncp_traj_ramp); -1
 * (no trajectory) for the other kinds. */
double ncp_task_ramp(const struct ncp_task *t, uint64_t step);
/* Manual mode: the target from now on. */
void ncp_task_set_target(struct ncp_task *t, const double xy[2]);

#endif
