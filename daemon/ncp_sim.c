#include "daemon/ncp_sim.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ncp_service.h"
#include "models/base/ncp_base.h"
#include "models/reach/ncp_traj.h"

static void observe(struct ncp_sim *s)
{
	ncp_reach_arm_state(s->reach, &s->arm);
	ncp_reach_target(s->reach, s->target);
}

/* An absolute directory from the environment, or NULL. */
static const char *env_dir(const char *name)
{
	const char *v = getenv(name);
	return v && v[0] == '/' ? v : NULL;
}

int ncp_sim_cache_dir(const struct ncp_config *c, char *buf, size_t len)
{
	const char *v;
	int n;

	if (c->cache.dir[0])
		n = snprintf(buf, len, "%s", c->cache.dir);
	else if ((v = env_dir("CACHE_DIRECTORY")))
		n = snprintf(buf, len, "%.*s", (int)strcspn(v, ":"), v);
	else if ((v = env_dir("XDG_CACHE_HOME")))
		n = snprintf(buf, len, "%s/ncpd", v);
	else if ((v = env_dir("HOME")))
		n = snprintf(buf, len, "%s/.cache/ncpd", v);
	else
		n = snprintf(buf, len, "%s/cache", c->data_dir);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The decoder cache of c, or NULL (off, or unusable: logged). */
static struct ncp_dcache *open_cache(struct ncp_sim *s,
				     const struct ncp_config *c)
{
	char dir[sizeof(s->cache_dir)], msg[300];
	struct ncp_dcache *cache;
	int ret;

	if (!c->cache.enable)
		return NULL;
	ret = ncp_sim_cache_dir(c, dir, sizeof(dir));
	if (!ret)
		ret = ncp_service_mkdirs(dir, 0755);
	if (ret) {
		ncp_log_warn("decoder cache %s: %s; solving every decoder",
			     dir, ncp_strerror(ret));
		return NULL;
	}
	cache = ncp_dcache_new(dir, msg, sizeof(msg));
	if (!cache) {
		ncp_log_warn("decoder cache: %s; solving every decoder", msg);
		return NULL;
	}
	snprintf(s->cache_dir, sizeof(s->cache_dir), "%s", dir);
	return cache;
}

int ncp_sim_init(struct ncp_sim *s, const struct ncp_config *c,
		 size_t reach_cap, char *err, size_t errlen)
{
	struct ncp_reach_params rp = c->reach;
	struct ncp_dcache *cache;
	uint64_t t0 = ncp_now_ns();
	int ret;

	memset(s, 0, sizeof(*s));
	s->dt = c->reach.dt;
	rp.start[0] = c->task.centre[0];
	rp.start[1] = c->task.centre[1];
	if (ncp_task_is_traj(c->task.kind)) {
		ret = ncp_task_path(&c->task, &s->path_xy, NULL, &s->path_n,
				    err, errlen);
		if (ret)
			return ret;
		rp.dmp_xy = s->path_xy;
		rp.dmp_n = s->path_n;
		s->built = c->task;
	}
	cache = open_cache(s, c);
	s->reach = ncp_reach_new(&rp, cache, err, errlen);
	ncp_dcache_stats(cache, &s->cache);
	ncp_dcache_free(cache);
	s->build_seconds = (ncp_now_ns() - t0) / 1e9;
	if (!s->reach) {
		free(s->path_xy);
		s->path_xy = NULL;
		return -EINVAL;
	}
	if (s->cache.write_errors)
		ncp_log_warn("decoder cache %s: %llu entries not written (%s); "
			     "the next run solves them again", s->cache_dir,
			     (unsigned long long)s->cache.write_errors,
			     ncp_strerror(s->cache.last_write_error));
	struct ncp_task_params tp = c->task;
	tp.path_xy = s->path_xy;
	tp.path_n = s->path_n;
	ret = ncp_task_init(&s->task, &tp, s->dt, 0);
	if (ret) {
		ncp_errf(err, errlen, "bad task parameters");
		goto fail;
	}
	s->reach_cap = reach_cap ? reach_cap : 1;
	s->reaches = ncp_calloc_aligned(s->reach_cap, sizeof(*s->reaches));
	if (!s->reaches) {
		ret = -ENOMEM;
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	s->m1_n = ncp_reach_m1_neurons(s->reach);
	ret = ncp_probe_frame_init(&s->probe_frame, ncp_reach_net(s->reach));
	if (ret) {
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	s->stim_E = c->reach.stim.electrodes;
	s->stim_zero = ncp_calloc_aligned((size_t)s->stim_E, sizeof(float));
	if (!s->stim_zero) {
		ret = -ENOMEM;
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	observe(s);
	s->prev_target[0] = c->task.centre[0];
	s->prev_target[1] = c->task.centre[1];
	return 0;
fail:
	ncp_reach_free(s->reach);
	free(s->reaches);
	free(s->path_xy);
	s->reach = NULL;
	s->reaches = NULL;
	s->path_xy = NULL;
	return ret;
}

void ncp_sim_fini(struct ncp_sim *s)
{
	ncp_probe_frame_fini(&s->probe_frame);
	ncp_reach_free(s->reach);
	free(s->reaches);
	free(s->path_xy);
	free(s->stim_zero);
	memset(s, 0, sizeof(*s));
}

void ncp_sim_step(struct ncp_sim *s)
{
	double xy[2];
	uint64_t step = s->step;

	ncp_task_target(&s->task, step, xy);
	ncp_reach_set_target(s->reach, xy);
	double ramp = ncp_task_ramp(&s->task, step);
	ncp_reach_set_ramp(s->reach, ramp);
	if (s->stim_seq && step < s->stim_steps)
		ncp_reach_set_theta(s->reach,
				    s->stim_seq + step * (uint64_t)s->stim_E);
	else if (s->stim_seq && step == s->stim_steps)
		ncp_reach_set_theta(s->reach, s->stim_zero);
	ncp_reach_step(s->reach);
	s->spikes = ncp_reach_m1_spikes(s->reach, &s->n_spikes);
	s->m1_spikes += (uint64_t)s->n_spikes;
	observe(s);
	/* The path error: from the trajectory while the PMC traces it (and
	 * holds its end), else from the line the reach should follow. */
	double d = -1.0;
	if (ncp_task_is_traj(s->task.p.kind)) {
		if (ramp > -1.0)
			d = ncp_traj_distance(s->task.p.path_xy, s->task.p.path_n,
					      s->arm.hand);
	} else {
		double seg[4] = { s->prev_target[0], s->prev_target[1], xy[0],
				  xy[1] };
		d = ncp_traj_distance(seg, 2, s->arm.hand);
	}
	if (d >= 0) {
		s->path_sum += d;
		s->path_max = fmax(s->path_max, d);
		s->path_steps++;
	}
	if (ncp_task_period_ends(&s->task, step)) {
		struct ncp_sim_reach *r = &s->reaches[s->n_reaches % s->reach_cap];
		r->target[0] = xy[0];
		r->target[1] = xy[1];
		r->end_error = hypot(s->arm.hand[0] - xy[0], s->arm.hand[1] - xy[1]);
		r->t_end = (double)(step + 1) * s->dt;
		r->path_error_mean = s->path_steps ?
			s->path_sum / (double)s->path_steps : 0.0;
		r->path_error_max = s->path_max;
		s->sum_end_error += r->end_error;
		s->sum_path_error += r->path_error_mean;
		s->max_path_error = fmax(s->max_path_error, r->path_error_max);
		s->n_reaches++;
		s->path_sum = s->path_max = 0.0;
		s->path_steps = 0;
		s->prev_target[0] = xy[0];
		s->prev_target[1] = xy[1];
	}
	s->step = step + 1;
}

void ncp_sim_set_theta(struct ncp_sim *s, const float *theta)
{
	ncp_reach_set_theta(s->reach, theta);
}

void ncp_sim_stim_replay(struct ncp_sim *s, const float *seq, uint64_t steps)
{
	s->stim_seq = seq;
	s->stim_steps = steps;
}

int ncp_sim_set_lesion(struct ncp_sim *s, int kind, double fraction)
{
	return ncp_reach_set_lesion(s->reach, kind, fraction);
}

int ncp_sim_set_field(struct ncp_sim *s, const struct ncp_field_params *f)
{
	return ncp_reach_set_field(s->reach, f);
}

/* Whether p's trajectory is the one the generator was built for. */
static bool same_traj(const struct ncp_sim *s, const struct ncp_task_params *p)
{
	const struct ncp_task_params *b = &s->built;
	if (!s->path_xy || p->kind != b->kind)
		return false;
	switch (p->kind) {
	case NCP_TASK_LINE:
		return memcmp(p->line, s->path_xy, sizeof(p->line)) == 0;
	case NCP_TASK_CIRCLE:
		return p->radius == b->radius &&
		       p->centre[0] == b->centre[0] && p->centre[1] == b->centre[1];
	case NCP_TASK_PATH:
		return strcmp(p->path_file, b->path_file) == 0;
	default:
		return false;
	}
}

bool ncp_sim_task_fits(const struct ncp_sim *s, const struct ncp_task_params *p)
{
	return !ncp_task_is_traj(p->kind) || same_traj(s, p);
}

int ncp_sim_set_task(struct ncp_sim *s, const struct ncp_task_params *p_in)
{
	double keep[2] = { s->target[0], s->target[1] };
	struct ncp_task_params tp = *p_in;
	const struct ncp_task_params *p = &tp;
	if (ncp_task_is_traj(p->kind)) {
		if (!same_traj(s, p))
			return -EOPNOTSUPP;
		tp.path_xy = s->path_xy;
		tp.path_n = s->path_n;
	}
	int ret = ncp_task_init(&s->task, p, s->dt, s->step);
	if (ret)
		return ret;
	if (p->kind == NCP_TASK_MANUAL)
		ncp_task_set_target(&s->task, keep);
	return 0;
}

int ncp_sim_set_target(struct ncp_sim *s, const double xy[2])
{
	if (ncp_reach_target_check(ncp_reach_get_params(s->reach), xy, NULL, 0))
		return -EDOM;
	if (s->task.p.kind != NCP_TASK_MANUAL) {
		struct ncp_task_params p = s->task.p;
		p.kind = NCP_TASK_MANUAL;
		ncp_task_init(&s->task, &p, s->dt, s->step);
	}
	ncp_task_set_target(&s->task, xy);
	return 0;
}

void ncp_sim_reset(struct ncp_sim *s)
{
	struct ncp_task_params p = s->task.p;
	double keep[2] = { s->task.target[0], s->task.target[1] };
	ncp_reach_reset(s->reach);
	ncp_task_init(&s->task, &p, s->dt, s->step);
	if (p.kind == NCP_TASK_MANUAL)
		ncp_task_set_target(&s->task, keep);
	observe(s);
}

void ncp_sim_json(const struct ncp_sim *s, struct ncp_json *j)
{
	double sim_seconds = (double)s->step * s->dt;
	ncp_json_key(j, "sim_seconds");
	ncp_json_num(j, sim_seconds);
	ncp_json_key(j, "steps");
	ncp_json_int(j, (int64_t)s->step);
	ncp_json_key(j, "neurons");
	ncp_json_int(j, ncp_reach_neurons(s->reach));
	ncp_json_key(j, "m1_neurons");
	ncp_json_int(j, s->m1_n);
	ncp_json_key(j, "reaches");
	ncp_json_arr(j);
	uint64_t first = s->n_reaches > s->reach_cap ? s->n_reaches - s->reach_cap : 0;
	for (uint64_t i = first; i < s->n_reaches; i++) {
		const struct ncp_sim_reach *r = &s->reaches[i % s->reach_cap];
		ncp_json_obj(j);
		ncp_json_key(j, "target");
		ncp_json_arr(j);
		ncp_json_num(j, r->target[0]);
		ncp_json_num(j, r->target[1]);
		ncp_json_end(j);
		ncp_json_key(j, "end_error");
		ncp_json_num(j, r->end_error);
		ncp_json_key(j, "path_error_mean");
		ncp_json_num(j, r->path_error_mean);
		ncp_json_key(j, "path_error_max");
		ncp_json_num(j, r->path_error_max);
		ncp_json_end(j);
	}
	ncp_json_end(j);
	ncp_json_key(j, "mean_path_error");
	if (s->n_reaches)
		ncp_json_num(j, s->sum_path_error / (double)s->n_reaches);
	else
		ncp_json_null(j);
	ncp_json_key(j, "max_path_error");
	if (s->n_reaches)
		ncp_json_num(j, s->max_path_error);
	else
		ncp_json_null(j);
	struct ncp_field_params fp;
	ncp_reach_field(s->reach, &fp);
	ncp_json_key(j, "field");
	ncp_json_obj(j);
	ncp_json_key(j, "on");
	ncp_json_bool(j, fp.on);
	ncp_json_key(j, "kind");
	ncp_json_str(j, ncp_field_kind_names[fp.kind]);
	ncp_json_key(j, "strength");
	ncp_json_num(j, fp.strength);
	ncp_json_end(j);
	ncp_json_key(j, "reaches_total");
	ncp_json_int(j, (int64_t)s->n_reaches);
	ncp_json_key(j, "mean_end_error");
	if (s->n_reaches)
		ncp_json_num(j, s->sum_end_error / (double)s->n_reaches);
	else
		ncp_json_null(j);
	ncp_json_key(j, "m1_mean_rate_hz");
	if (sim_seconds > 0)
		ncp_json_num(j, (double)s->m1_spikes / (s->m1_n * sim_seconds));
	else
		ncp_json_null(j);

	int kind, count;
	double fraction;
	ncp_reach_lesion(s->reach, &kind, &fraction, &count);
	ncp_json_key(j, "lesion");
	ncp_json_obj(j);
	ncp_json_key(j, "kind");
	ncp_json_str(j, ncp_lesion_kind_names[kind]);
	ncp_json_key(j, "fraction");
	ncp_json_num(j, fraction);
	ncp_json_key(j, "neurons");
	ncp_json_int(j, count);
	ncp_json_end(j);

	const struct ncp_stim *st = ncp_reach_stim(s->reach);
	const struct ncp_stim_params *sp = ncp_reach_stim_params(s->reach);
	ncp_json_key(j, "stim");
	ncp_json_obj(j);
	ncp_json_key(j, "electrodes");
	ncp_json_int(j, st->E);
	ncp_json_key(j, "layout");
	ncp_json_str(j, ncp_stim_layout_names[sp->layout]);
	ncp_json_key(j, "spread");
	ncp_json_num(j, sp->spread);
	ncp_json_key(j, "source");
	ncp_json_str(j, s->stim_seq ? "file" : ncp_stim_source_names[sp->source]);
	ncp_json_key(j, "file_steps");
	ncp_json_int(j, (int64_t)s->stim_steps);
	ncp_json_end(j);

	ncp_json_key(j, "build");
	ncp_json_obj(j);
	ncp_json_key(j, "seconds");
	ncp_json_num(j, s->build_seconds);
	ncp_json_key(j, "cache_dir");
	if (s->cache_dir[0])
		ncp_json_str(j, s->cache_dir);
	else
		ncp_json_null(j);
	ncp_json_key(j, "cache_hits");
	ncp_json_int(j, (int64_t)s->cache.hits);
	ncp_json_key(j, "cache_misses");
	ncp_json_int(j, (int64_t)s->cache.misses);
	ncp_json_key(j, "cache_rejected");
	ncp_json_int(j, (int64_t)s->cache.rejected);
	ncp_json_key(j, "cache_stored");
	ncp_json_int(j, (int64_t)s->cache.stored);
	ncp_json_key(j, "cache_write_errors");
	ncp_json_int(j, (int64_t)s->cache.write_errors);
	ncp_json_end(j);
}
