#include "models/reach/ncp_task.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/reach/ncp_traj.h"

void ncp_task_params_default(struct ncp_task_params *p)
{
	memset(p, 0, sizeof(*p));
	p->kind = NCP_TASK_CENTRE_OUT;
	p->seed = 1;
	p->period = 1.0;
	p->centre[0] = 0.0;
	p->centre[1] = 1.25;
	p->radius = 0.25;
	p->n_targets = 8;
	p->random_radius = 0.3;
	p->line[0] = 0.0;
	p->line[1] = 1.0;
	p->line[2] = 0.0;
	p->line[3] = 1.5;
}

const char *ncp_task_kind_name(enum ncp_task_kind kind)
{
	switch (kind) {
	case NCP_TASK_CENTRE_OUT: return "centre-out";
	case NCP_TASK_RANDOM: return "random";
	case NCP_TASK_MANUAL: return "manual";
	case NCP_TASK_LINE: return "line";
	case NCP_TASK_CIRCLE: return "circle";
	case NCP_TASK_PATH: return "path";
	case NCP_TASK_STEPS: return "steps";
	}
	return "?";
}

int ncp_task_kind_parse(const char *s, enum ncp_task_kind *kind)
{
	if (!strcmp(s, "centre-out") || !strcmp(s, "center-out"))
		*kind = NCP_TASK_CENTRE_OUT;
	else if (!strcmp(s, "random"))
		*kind = NCP_TASK_RANDOM;
	else if (!strcmp(s, "manual"))
		*kind = NCP_TASK_MANUAL;
	else if (!strcmp(s, "line"))
		*kind = NCP_TASK_LINE;
	else if (!strcmp(s, "circle"))
		*kind = NCP_TASK_CIRCLE;
	else if (!strcmp(s, "path"))
		*kind = NCP_TASK_PATH;
	else if (!strcmp(s, "steps"))
		*kind = NCP_TASK_STEPS;
	else
		return -EINVAL;
	return 0;
}

bool ncp_task_is_traj(enum ncp_task_kind kind)
{
	return kind == NCP_TASK_LINE || kind == NCP_TASK_CIRCLE ||
	       kind == NCP_TASK_PATH;
}

int ncp_task_path(const struct ncp_task_params *p, double **xy, int **lines,
		  int *n, char *err, size_t errlen)
{
	int m = 0;

	*xy = NULL;
	if (lines)
		*lines = NULL;
	*n = 0;
	switch (p->kind) {
	case NCP_TASK_PATH:
		if (!p->path_file[0])
			return ncp_errf(err, errlen, "task.kind path needs "
					"task.path_file");
		return ncp_traj_load(p->path_file, xy, lines, n, err, errlen);
	case NCP_TASK_LINE:
		m = 2;
		break;
	case NCP_TASK_CIRCLE:
		m = NCP_TRAJ_CIRCLE_POINTS;
		break;
	default:
		return ncp_errf(err, errlen, "task.kind %s is not a trajectory",
				ncp_task_kind_name(p->kind));
	}
	*xy = malloc(sizeof(double) * 2 * (size_t)m);
	if (lines)
		*lines = calloc((size_t)m, sizeof(int));
	if (!*xy || (lines && !*lines)) {
		free(*xy);
		*xy = NULL;
		if (lines) {
			free(*lines);
			*lines = NULL;
		}
		return ncp_errf_code(err, errlen, ENOMEM, "out of memory");
	}
	if (p->kind == NCP_TASK_LINE) {
		memcpy(*xy, p->line, sizeof(double) * 4);
	} else {
		/* As REACH's circle: angles evenly from 0 to 2 pi inclusive. */
		for (int k = 0; k < m; k++) {
			double a = 2.0 * M_PI * k / (m - 1);
			(*xy)[2 * k] = p->centre[0] + p->radius * cos(a);
			(*xy)[2 * k + 1] = p->centre[1] + p->radius * sin(a);
		}
	}
	*n = m;
	return 0;
}

/* The target of the reach that begins now (number t->reach_index). */
static void next_target(struct ncp_task *t, double xy[2])
{
	const struct ncp_task_params *p = &t->p;
	uint64_t k = t->reach_index;

	if (p->kind == NCP_TASK_MANUAL)
		return; /* keeps the target someone set */
	if (ncp_task_is_traj(p->kind)) {
		/* The start until the ramp runs (ncp_task_target). */
		xy[0] = p->path_xy[0];
		xy[1] = p->path_xy[1];
		return;
	}
	if (p->kind == NCP_TASK_STEPS) {
		/* REACH's a01: the line's end, then its start, and so on. */
		const double *g = p->line + (k % 2 == 0 ? 2 : 0);
		xy[0] = g[0];
		xy[1] = g[1];
		return;
	}
	xy[0] = p->centre[0];
	xy[1] = p->centre[1];
	if (p->kind == NCP_TASK_CENTRE_OUT) {
		if (k % 2 == 1) {
			int i = (int)((k / 2) % (uint64_t)p->n_targets);
			double a = 2.0 * M_PI * i / p->n_targets;
			xy[0] += p->radius * cos(a);
			xy[1] += p->radius * sin(a);
		}
	} else if (p->kind == NCP_TASK_RANDOM) {
		/* Uniform in the disc: sqrt of a uniform radius. */
		double r = p->random_radius * sqrt(ncp_rng_uniform(&t->rng));
		double a = 2.0 * M_PI * ncp_rng_uniform(&t->rng);
		xy[0] += r * cos(a);
		xy[1] += r * sin(a);
	}
}

int ncp_task_init(struct ncp_task *t, const struct ncp_task_params *p,
		  double dt, uint64_t step)
{
	if (!(p->period > 0) || !(dt > 0) || p->n_targets < 1 ||
	    !(p->radius >= 0) || !(p->random_radius >= 0))
		return -EINVAL;
	if (ncp_task_is_traj(p->kind) && (!p->path_xy || p->path_n < 2))
		return -EINVAL;
	memset(t, 0, sizeof(*t));
	t->p = *p;
	ncp_rng_seed(&t->rng, p->seed);
	t->period_steps = (uint64_t)llround(p->period / dt);
	if (t->period_steps == 0)
		t->period_steps = 1;
	t->start_step = step;
	t->target[0] = p->centre[0];
	t->target[1] = p->centre[1];
	next_target(t, t->target);
	return 0;
}

void ncp_task_target(struct ncp_task *t, uint64_t step, double xy[2])
{
	while (step >= t->start_step + t->period_steps) {
		t->start_step += t->period_steps;
		t->reach_index++;
		next_target(t, t->target);
	}
	if (ncp_task_is_traj(t->p.kind)) {
		/* REACH's goal: the start while the ramp waits, then the end. */
		const double *g = t->p.path_xy;
		if (ncp_task_ramp(t, step) > -1.0)
			g += 2 * (t->p.path_n - 1);
		t->target[0] = g[0];
		t->target[1] = g[1];
	}
	xy[0] = t->target[0];
	xy[1] = t->target[1];
}

double ncp_task_ramp(const struct ncp_task *t, uint64_t step)
{
	if (!ncp_task_is_traj(t->p.kind))
		return -1.0;
	uint64_t k = step >= t->start_step ? step - t->start_step : 0;
	k %= t->period_steps;
	return ncp_traj_ramp((double)k / (double)t->period_steps, 1.0);
}

bool ncp_task_period_ends(const struct ncp_task *t, uint64_t step)
{
	return step + 1 == t->start_step + t->period_steps;
}

void ncp_task_set_target(struct ncp_task *t, const double xy[2])
{
	t->target[0] = xy[0];
	t->target[1] = xy[1];
}
