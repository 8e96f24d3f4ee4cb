#include "models/reach/ncp_task.h"

#include <errno.h>
#include <math.h>
#include <string.h>

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
}

const char *ncp_task_kind_name(enum ncp_task_kind kind)
{
	switch (kind) {
	case NCP_TASK_CENTRE_OUT: return "centre-out";
	case NCP_TASK_RANDOM: return "random";
	case NCP_TASK_MANUAL: return "manual";
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
	else
		return -EINVAL;
	return 0;
}

/* The target of the reach that begins now (number t->reach_index). */
static void next_target(struct ncp_task *t, double xy[2])
{
	const struct ncp_task_params *p = &t->p;
	uint64_t k = t->reach_index;

	if (p->kind == NCP_TASK_MANUAL)
		return; /* keeps the target someone set */
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
	xy[0] = t->target[0];
	xy[1] = t->target[1];
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
