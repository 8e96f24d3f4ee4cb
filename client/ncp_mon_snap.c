#include "client/ncp_mon_snap.h"

#include "client/ncp_mon_health.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int ncp_mon_snap_init(struct ncp_mon_snap *s, const struct ncp_shm_header *h,
		      const char *name, uint32_t arm_max, uint32_t train_max)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name ? name : "");
	s->hdr = *h;
	s->state_word = h->state;
	s->win_stride = ncp_shm_win_stride(h);
	s->win_cap = h->window_len;
	s->arm_cap = arm_max < h->arm_slots ? arm_max : h->arm_slots;
	s->train_cap = train_max < h->train_slots ? train_max : h->train_slots;
	s->win = calloc(s->win_cap, s->win_stride);
	if (s->arm_cap)
		s->arm = calloc(s->arm_cap, sizeof(*s->arm));
	if (s->train_cap)
		s->train = calloc(s->train_cap, sizeof(*s->train));
	if (!s->win || (s->arm_cap && !s->arm) ||
	    (s->train_cap && !s->train)) {
		ncp_mon_snap_fini(s);
		return -ENOMEM;
	}
	return 0;
}

void ncp_mon_snap_fini(struct ncp_mon_snap *s)
{
	free(s->win);
	free(s->arm);
	free(s->train);
	memset(s, 0, sizeof(*s));
}

/* Keep the first error, preferring -ENODATA for the state. */
static void note(int *ret, int err)
{
	if (err && !*ret)
		*ret = err;
}

int ncp_mon_snap_read(struct ncp_mon_snap *s, const struct ncp_shm_reader *r)
{
	struct ncp_shm_state st;
	struct ncp_shm_stats ss;
	struct ncp_shm_predicted pr;
	struct ncp_ring_span span;
	int ret = 0, err;

	s->state_word = ncp_shm_reader_state_word(r);
	/* The state first, then the window: the window then reaches at
	 * least the state's step. */
	err = ncp_shm_reader_state(r, &st);
	if (err == 0) {
		s->state = st;
		s->have_state = true;
	}
	note(&ret, err);
	err = ncp_shm_reader_window(r, s->win_cap, s->win,
				    (size_t)s->win_cap * s->win_stride, &span);
	if (err == 0)
		s->win_span = span;
	note(&ret, err);
	if (s->arm_cap) {
		err = ncp_shm_reader_arm(r, 0, s->arm_cap, s->arm, &span);
		if (err == 0)
			s->arm_span = span;
		else
			s->arm_span.count = 0; /* the copy may be torn */
		note(&ret, err);
	}
	err = ncp_shm_reader_stats(r, &ss);
	if (err == 0) {
		s->stats = ss;
		s->have_stats = true;
	}
	if (err != -ENODATA)
		note(&ret, err);
	err = ncp_shm_reader_predicted(r, &pr);
	if (err == 0) {
		pr.model[sizeof(pr.model) - 1] = '\0';
		s->pred = pr;
		s->have_pred = true;
	}
	if (err != -ENODATA)
		note(&ret, err);
	/* Into a copy first: a read that raced the writer leaves its
	 * buffer torn, and the previous block must survive it. */
	_Alignas(8) unsigned char sbuf[NCP_SHM_STIM_MAX_SIZE];
	err = ncp_shm_reader_stim(r, sbuf, sizeof(sbuf));
	if (err == 0) {
		memcpy(s->stim_buf, sbuf, ncp_shm_reader_stim_size(r));
		s->have_stim = true;
	}
	if (err != -ENODATA)
		note(&ret, err);
	struct ncp_shm_ncp nb;
	err = ncp_shm_reader_ncp(r, &nb);
	if (err == 0) {
		nb.model[sizeof(nb.model) - 1] = '\0';
		s->ncp = nb;
		s->have_ncp = true;
	}
	if (err != -ENODATA)
		note(&ret, err);
	if (s->train_cap) {
		err = ncp_shm_reader_train(r, 0, s->train_cap, s->train, &span);
		if (err == 0)
			s->train_span = span;
		else
			s->train_span.count = 0;
		note(&ret, err);
	}
	return ret;
}

bool ncp_mon_snap_pred_fresh(const struct ncp_mon_snap *s)
{
	double age;

	if (!s->have_pred || !s->pred.model_loaded || !s->have_state)
		return false;
	if (s->pred.step >= s->state.step)
		return true;
	age = (double)(s->state.step - s->pred.step) * s->hdr.dt;
	return age <= NCP_MON_SNAP_PRED_MAX_AGE;
}

int ncp_mon_snap_joints(const struct ncp_mon_snap *s)
{
	return s && ncp_shm_joints(&s->hdr) == 3 ? 3 : 2;
}

int ncp_mon_snap_arm(const struct ncp_mon_snap *s, const double *q,
		     double pts[3][2])
{
	const int J = ncp_mon_snap_joints(s);
	double l[3] = { NCP_MON_SNAP_L0, NCP_MON_SNAP_L1, 0.0 };
	if (s && s->hdr.arm_links[0] > 0 && s->hdr.arm_links[1] > 0) {
		l[0] = s->hdr.arm_links[0];
		l[1] = s->hdr.arm_links[1];
		l[2] = s->hdr.arm_link_hand;
	}
	double x = 0.0, y = 0.0, phi = 0.0;
	for (int j = 0; j < J; j++) {
		phi += q[j];
		x += l[j] * cos(phi);
		y += l[j] * sin(phi);
		pts[j][0] = x;
		pts[j][1] = y;
	}
	return J;
}

void ncp_mon_snap_fk(const struct ncp_mon_snap *s, const double *q,
		     double elbow[2], double hand[2])
{
	double pts[3][2];
	int J = ncp_mon_snap_arm(s, q, pts);

	if (elbow) {
		elbow[0] = pts[0][0];
		elbow[1] = pts[0][1];
	}
	if (hand) {
		hand[0] = pts[J - 1][0];
		hand[1] = pts[J - 1][1];
	}
}

const struct ncp_shm_train_entry *
ncp_mon_snap_train_last(const struct ncp_mon_snap *s)
{
	if (!s->train_span.count)
		return NULL;
	return &s->train[s->train_span.count - 1];
}

const char *ncp_mon_snap_mode_name(uint32_t mode)
{
	switch (mode) {
	case NCP_SHM_MODE_REALTIME:
		return "realtime";
	case NCP_SHM_MODE_FREE_RUN:
		return "free-run";
	default:
		return "unknown";
	}
}

const char *ncp_mon_snap_task_name(uint32_t kind)
{
	switch (kind) {
	case NCP_SHM_TASK_CENTRE_OUT:
		return "centre-out";
	case NCP_SHM_TASK_RANDOM:
		return "random";
	case NCP_SHM_TASK_MANUAL:
		return "manual";
	case NCP_SHM_TASK_LINE:
		return "line";
	case NCP_SHM_TASK_CIRCLE:
		return "circle";
	case NCP_SHM_TASK_PATH:
		return "path";
	case NCP_SHM_TASK_STEPS:
		return "steps";
	default:
		return "unknown";
	}
}

const char *ncp_mon_snap_state_name(uint32_t state_word)
{
	switch (state_word) {
	case NCP_SHM_STATE_NONE:
		return "none";
	case NCP_SHM_STATE_STARTING:
		return "starting";
	case NCP_SHM_STATE_RUNNING:
		return "running";
	case NCP_SHM_STATE_STOPPED:
		return "stopped";
	default:
		return "unknown";
	}
}

const char *ncp_mon_snap_lesion_name(uint32_t kind)
{
	switch (kind) {
	case NCP_SHM_LESION_NONE:
		return "none";
	case NCP_SHM_LESION_PMC_M1:
		return "pmc-m1";
	case NCP_SHM_LESION_M1_SILENCE:
		return "m1-silence";
	default:
		return "unknown";
	}
}

void ncp_mon_snap_lesion_text(const struct ncp_shm_stim *b, char *out,
			      size_t len)
{
	if (!b) {
		snprintf(out, len, "unknown");
		return;
	}
	if (b->lesion_kind == NCP_SHM_LESION_NONE) {
		snprintf(out, len, "none");
		return;
	}
	snprintf(out, len, "%s: %.0f%% of M1, %u neurons %s",
		 ncp_mon_snap_lesion_name(b->lesion_kind),
		 100 * b->lesion_fraction, b->lesion_neurons,
		 b->lesion_kind == NCP_SHM_LESION_PMC_M1 ? "cut from planning"
							: "silenced");
}

int ncp_mon_snap_electrode_bars(const struct ncp_shm_stim *b, bool alpha,
				int cols, double *out)
{
	int E = (int)b->electrodes, n = E < cols ? E : cols;
	const float *v = b->v + (alpha ? E : 0);

	if (n <= 0)
		return 0;
	for (int c = 0; c < n; c++)
		out[c] = 0;
	for (int e = 0; e < E; e++) {
		int c = (int)((int64_t)e * n / E);
		double x = b->max > 0 ? v[e] / b->max : 0;
		if (!(x == x))
			x = 0;
		x = x > 1 ? 1 : x < -1 ? -1 : x;
		if (fabs(x) > fabs(out[c]))
			out[c] = x;
	}
	return n;
}

const struct ncp_shm_stim *ncp_mon_snap_stim(const struct ncp_mon_snap *s)
{
	return s->have_stim ? (const struct ncp_shm_stim *)s->stim_buf : NULL;
}

static void key_num(struct ncp_json *j, const char *k, double x)
{
	ncp_json_key(j, k);
	ncp_json_num_exact(j, x);
}

static void key_uint(struct ncp_json *j, const char *k, uint64_t x)
{
	ncp_json_key(j, k);
	ncp_json_uint(j, x);
}

static void key_str(struct ncp_json *j, const char *k, const char *v)
{
	ncp_json_key(j, k);
	ncp_json_str(j, v);
}

static void key_nums(struct ncp_json *j, const char *k, const double *x,
		     size_t n)
{
	ncp_json_key(j, k);
	ncp_json_nums(j, x, n);
}

static void json_shm(const struct ncp_mon_snap *s, struct ncp_json *j)
{
	char abi[16], gen[24];

	snprintf(abi, sizeof(abi), "%u.%u", s->hdr.abi_major, s->hdr.abi_minor);
	snprintf(gen, sizeof(gen), "%016" PRIx64, s->hdr.generation);
	ncp_json_key(j, "shm");
	ncp_json_obj(j);
	key_str(j, "name", s->name);
	key_uint(j, "generation", s->hdr.generation);
	/* The same as text: not every JSON reader keeps 64-bit integers. */
	key_str(j, "generation_hex", gen);
	key_str(j, "abi", abi);
	ncp_json_key(j, "pid");
	ncp_json_int(j, s->hdr.pid);
	key_str(j, "state", ncp_mon_snap_state_name(s->state_word));
	key_num(j, "dt", s->hdr.dt);
	key_uint(j, "m1_neurons", s->hdr.m1_neurons);
	if (s->hdr.arm_links[0] > 0 && s->hdr.arm_links[1] > 0) {
		double l[3] = { s->hdr.arm_links[0], s->hdr.arm_links[1],
				s->hdr.arm_link_hand };
		key_nums(j, "arm_links", l, (size_t)ncp_mon_snap_joints(s));
	} else {
		ncp_json_key(j, "arm_links");
		ncp_json_null(j);
	}
	ncp_json_end(j);
}

static void json_stats(const struct ncp_mon_snap *s, struct ncp_json *j)
{
	const struct ncp_shm_stats *st = &s->stats;
	uint32_t bins = st->jitter_bins < NCP_SHM_JITTER_BINS ?
				st->jitter_bins : NCP_SHM_JITTER_BINS;

	ncp_json_key(j, "stats");
	if (!s->have_stats) {
		ncp_json_null(j);
		return;
	}
	ncp_json_obj(j);
	key_uint(j, "steps", st->steps);
	key_uint(j, "overruns", st->overruns);
	key_uint(j, "slips", st->slips);
	ncp_json_key(j, "jitter_us");
	ncp_json_obj(j);
	key_num(j, "p50", st->jitter_p50_us);
	key_num(j, "p99", st->jitter_p99_us);
	key_num(j, "p999", st->jitter_p999_us);
	key_num(j, "max", st->jitter_max_us);
	ncp_json_end(j);
	ncp_json_key(j, "cost_us");
	ncp_json_obj(j);
	key_num(j, "p50", st->cost_p50_us);
	key_num(j, "p99", st->cost_p99_us);
	key_num(j, "max", st->cost_max_us);
	ncp_json_end(j);
	key_num(j, "rtf", st->rtf);
	key_num(j, "wall_s", st->wall_s);
	ncp_json_key(j, "jitter_hist");
	ncp_json_arr(j);
	for (uint32_t b = 0; b < bins; b++)
		ncp_json_uint(j, st->jitter_hist[b]);
	ncp_json_end(j);
	ncp_json_end(j);
}

static void json_health(const struct ncp_mon_snap *s, struct ncp_json *j)
{
	struct ncp_mon_health h;

	ncp_json_key(j, "health");
	if (!s->have_stats) {
		ncp_json_null(j);
		return;
	}
	ncp_mon_health_assess(&s->stats, s->hdr.dt, &h);
	ncp_json_obj(j);
	key_str(j, "level", ncp_mon_health_level_name(h.level));
	key_str(j, "reason", h.reason);
	key_num(j, "late_fraction", h.late_fraction);
	key_uint(j, "host_stalls", h.host_stalls);
	key_num(j, "host_late_steps", h.host_late_steps);
	ncp_json_key(j, "explained_by_host");
	ncp_json_bool(j, h.explained);
	key_num(j, "slips_per_minute", h.slips_per_minute);
	key_num(j, "jitter_p99_fraction", h.jitter_p99_fraction);
	key_num(j, "cost_p99_fraction", h.cost_p99_fraction);
	ncp_json_end(j);
}

static void json_window(const struct ncp_mon_snap *s, struct ncp_json *j)
{
	ncp_json_key(j, "window");
	ncp_json_obj(j);
	key_uint(j, "len", s->hdr.window_len);
	key_uint(j, "first_step", s->win_span.first);
	key_uint(j, "steps", s->win_span.count);
	ncp_json_key(j, "spikes_per_step");
	ncp_json_arr(j);
	for (uint32_t i = 0; i < s->win_span.count; i++)
		ncp_json_uint(j, ncp_shm_win_at(s->win, s->win_stride, i)
					     ->spike_count);
	ncp_json_end(j);
	ncp_json_end(j);
}

static void json_predicted(const struct ncp_mon_snap *s,
			   struct ncp_json *j)
{
	const struct ncp_shm_predicted *p = &s->pred;

	ncp_json_key(j, "predicted");
	if (!s->have_pred || !p->model_loaded) {
		ncp_json_null(j);
		return;
	}
	ncp_json_obj(j);
	key_uint(j, "step", p->step);
	ncp_json_key(j, "age_steps");
	ncp_json_int(j, (int64_t)(s->state.step - p->step));
	ncp_json_key(j, "fresh");
	ncp_json_bool(j, ncp_mon_snap_pred_fresh(s));
	key_str(j, "model", p->model);
	key_nums(j, "q", &p->x[0], 2);
	key_nums(j, "dq", &p->x[2], 2);
	key_nums(j, "hand", &p->x[4], 2);
	key_nums(j, "hand_fk", p->hand_fk, 2);
	key_num(j, "latency_us", p->latency_us);
	key_num(j, "hand_rmse", p->hand_rmse);
	key_num(j, "q_rmse", p->q_rmse);
	key_num(j, "dq_rmse", p->dq_rmse);
	key_uint(j, "skipped_steps", p->skipped_steps);
	ncp_json_end(j);
}

void ncp_mon_snap_ncp_text(const struct ncp_mon_snap *s, char *out,
			   size_t len)
{
	const struct ncp_shm_ncp *n = &s->ncp;
	static const char *const phases[] = { "", ", perturbed", ", noise" };
	if (!s->have_ncp) {
		snprintf(out, len, "none");
		return;
	}
	int k = snprintf(out, len, "%s %s%s", n->on ? "on" : "off",
			 n->model[0] ? n->model : "(no model)",
			 n->train ? " training" : "");
	if (k >= 0 && (size_t)k < len && n->thetas)
		k += snprintf(out + k, len - (size_t)k, ", theta from step %" PRIu64
			      " in %.1f us%s", n->step, n->latency_us,
			      n->phase < 3 ? phases[n->phase] : "");
	if (k >= 0 && (size_t)k < len && isfinite(n->recovery))
		snprintf(out + k, len - (size_t)k, ", recovery %.1f%% (%.1f / "
			 "%.1f / %.1f mm)", n->recovery, n->l_healthy * 1e3,
			 n->l_lesioned * 1e3, n->l_restored * 1e3);
}

static void json_ncp(const struct ncp_mon_snap *s, struct ncp_json *j)
{
	const struct ncp_shm_ncp *n = &s->ncp;
	ncp_json_key(j, "ncp");
	if (!s->have_ncp) {
		ncp_json_null(j);
		return;
	}
	ncp_json_obj(j);
	key_uint(j, "step", n->step);
	ncp_json_key(j, "loaded");
	ncp_json_bool(j, n->loaded);
	ncp_json_key(j, "on");
	ncp_json_bool(j, n->on);
	ncp_json_key(j, "train");
	ncp_json_bool(j, n->train);
	key_uint(j, "phase", n->phase);
	key_str(j, "model", n->model);
	key_num(j, "latency_us", n->latency_us);
	key_num(j, "latency_p99_us", n->latency_p99_us);
	key_uint(j, "thetas", n->thetas);
	key_uint(j, "skipped", n->skipped);
	key_uint(j, "updates", n->updates);
	key_uint(j, "rollbacks", n->rollbacks);
	key_num(j, "l_healthy", n->l_healthy);
	key_num(j, "l_lesioned", n->l_lesioned);
	key_num(j, "l_restored", n->l_restored);
	key_num(j, "recovery", n->recovery);
	ncp_json_key(j, "reaches");
	ncp_json_arr(j);
	for (int i = 0; i < 3; i++)
		ncp_json_int(j, n->reaches[i]);
	ncp_json_end(j);
	ncp_json_end(j);
}

static void json_stim(const struct ncp_mon_snap *s, struct ncp_json *j)
{
	const struct ncp_shm_stim *b = ncp_mon_snap_stim(s);

	ncp_json_key(j, "stim");
	if (!b) {
		ncp_json_null(j);
		ncp_json_key(j, "lesion");
		ncp_json_null(j);
		return;
	}
	ncp_json_obj(j);
	key_uint(j, "step", b->step);
	key_str(j, "source", ncp_shm_stim_source_name(b->source));
	key_uint(j, "electrodes", b->electrodes);
	key_num(j, "max", b->max);
	key_num(j, "theta_max_abs", b->theta_max_abs);
	key_num(j, "alpha_max_abs", b->alpha_max_abs);
	ncp_json_key(j, "theta");
	ncp_json_floats(j, b->v, b->electrodes);
	ncp_json_key(j, "alpha");
	ncp_json_floats(j, b->v + b->electrodes, b->electrodes);
	ncp_json_end(j);
	ncp_json_key(j, "lesion");
	ncp_json_obj(j);
	key_str(j, "kind", ncp_mon_snap_lesion_name(b->lesion_kind));
	key_num(j, "fraction", b->lesion_fraction);
	key_uint(j, "neurons", b->lesion_neurons);
	ncp_json_end(j);
}

static void json_training(const struct ncp_mon_snap *s,
			  struct ncp_json *j)
{
	const struct ncp_shm_train_entry *e = ncp_mon_snap_train_last(s);

	ncp_json_key(j, "training");
	if (!e) {
		ncp_json_null(j);
		return;
	}
	ncp_json_obj(j);
	key_uint(j, "update", e->update);
	key_uint(j, "step", e->step);
	key_num(j, "t", e->t);
	key_num(j, "loss", e->loss);
	key_num(j, "val_loss", e->val_loss);
	ncp_json_end(j);
}

void ncp_mon_snap_json(const struct ncp_mon_snap *s, struct ncp_json *j)
{
	const struct ncp_shm_state *st = &s->state;

	ncp_json_obj(j);
	json_shm(s, j);
	if (s->have_state) {
		key_uint(j, "step", st->step);
		key_num(j, "t", st->t);
	} else {
		ncp_json_key(j, "step");
		ncp_json_null(j);
		ncp_json_key(j, "t");
		ncp_json_null(j);
	}
	ncp_json_key(j, "mode");
	if (s->have_stats)
		ncp_json_str(j, ncp_mon_snap_mode_name(s->stats.mode));
	else
		ncp_json_null(j);
	ncp_json_key(j, "paused");
	ncp_json_bool(j, s->have_state && st->paused);
	ncp_json_key(j, "arm");
	if (s->have_state) {
		ncp_json_obj(j);
		key_nums(j, "q", st->q, 2);
		key_nums(j, "dq", st->dq, 2);
		key_nums(j, "hand", st->hand, 2);
		key_nums(j, "u", st->u, 2);
		ncp_json_end(j);
		key_nums(j, "target", st->target, 2);
		ncp_json_key(j, "task");
		ncp_json_obj(j);
		key_str(j, "kind", ncp_mon_snap_task_name(st->task_kind));
		key_num(j, "period", st->task_period);
		ncp_json_end(j);
		ncp_json_key(j, "m1");
		ncp_json_obj(j);
		key_uint(j, "neurons", s->hdr.m1_neurons);
		key_uint(j, "spikes", st->m1_spikes);
		ncp_json_end(j);
	} else {
		ncp_json_null(j);
		ncp_json_key(j, "target");
		ncp_json_null(j);
		ncp_json_key(j, "task");
		ncp_json_null(j);
		ncp_json_key(j, "m1");
		ncp_json_null(j);
	}
	json_stats(s, j);
	json_health(s, j);
	json_window(s, j);
	json_predicted(s, j);
	json_stim(s, j);
	json_ncp(s, j);
	json_training(s, j);
	ncp_json_end(j);
}

void ncp_mon_snap_text(const struct ncp_mon_snap *s, FILE *f)
{
	const struct ncp_shm_state *st = &s->state;
	const struct ncp_shm_stats *ss = &s->stats;
	const struct ncp_shm_predicted *p = &s->pred;
	const struct ncp_shm_train_entry *e = ncp_mon_snap_train_last(s);
	struct ncp_mon_health h;
	uint64_t spikes = 0;
	uint32_t most = 0;

	fprintf(f, "segment    %s  generation %" PRIu64 "  abi %u.%u  pid %d  %s\n",
		s->name, s->hdr.generation, s->hdr.abi_major, s->hdr.abi_minor,
		(int)s->hdr.pid, ncp_mon_snap_state_name(s->state_word));
	if (s->have_state) {
		fprintf(f, "step       %" PRIu64 "  t %.3f s  mode %s  paused %s\n",
			st->step, st->t,
			s->have_stats ? ncp_mon_snap_mode_name(ss->mode) : "?",
			st->paused ? "yes" : "no");
		fprintf(f, "task       %s, period %.3f s\n",
			ncp_mon_snap_task_name(st->task_kind), st->task_period);
		if (ncp_mon_snap_joints(s) == 3)
			fprintf(f, "arm        q (%.4f, %.4f, %.4f) rad  dq (%.4f, "
				"%.4f, %.4f) rad/s  hand (%.4f, %.4f) m\n", st->q[0],
				st->q[1], st->q2, st->dq[0], st->dq[1], st->dq2,
				st->hand[0], st->hand[1]);
		else
			fprintf(f, "arm        q (%.4f, %.4f) rad  dq (%.4f, %.4f) "
				"rad/s  hand (%.4f, %.4f) m\n", st->q[0], st->q[1],
				st->dq[0], st->dq[1], st->hand[0], st->hand[1]);
		fprintf(f, "target     (%.4f, %.4f) m  distance %.4f m\n",
			st->target[0], st->target[1],
			hypot(st->target[0] - st->hand[0],
			      st->target[1] - st->hand[1]));
	} else {
		fprintf(f, "step       (no state published yet)\n");
	}
	if (s->have_stats) {
		fprintf(f, "loop       steps %" PRIu64 "  overruns %" PRIu64
			"  slips %" PRIu64 "  rtf %.3f  wall %.1f s\n", ss->steps,
			ss->overruns, ss->slips, ss->rtf, ss->wall_s);
		fprintf(f, "jitter     p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f us\n",
			ss->jitter_p50_us, ss->jitter_p99_us,
			ss->jitter_p999_us, ss->jitter_max_us);
		fprintf(f, "step cost  p50 %.1f  p99 %.1f  max %.1f us\n",
			ss->cost_p50_us, ss->cost_p99_us, ss->cost_max_us);
		ncp_mon_health_assess(ss, s->hdr.dt, &h);
		fprintf(f, "health     %s: %s; %.2g%% of steps late, %" PRIu64
			" host stalls explain up to %.0f (%s)\n",
			ncp_mon_health_level_name(h.level), h.reason,
			100 * h.late_fraction, h.host_stalls, h.host_late_steps,
			h.explained ? "all of them" : "not all");
	}
	for (uint32_t i = 0; i < s->win_span.count; i++) {
		uint32_t n = ncp_shm_win_at(s->win, s->win_stride, i)->spike_count;
		spikes += n;
		if (n > most)
			most = n;
	}
	if (s->win_span.count)
		fprintf(f, "window     steps %" PRIu64 "..%" PRIu64 " (%u)  M1 "
			"spikes/step mean %.2f max %u\n", s->win_span.first,
			s->win_span.first + s->win_span.count - 1,
			s->win_span.count,
			(double)spikes / s->win_span.count, most);
	else
		fprintf(f, "window     empty\n");
	if (s->have_pred && p->model_loaded)
		fprintf(f, "predicted  model %s  step %" PRIu64 "%s  hand "
			"(%.4f, %.4f) m  latency %.1f us  hand RMSE %.4f m  "
			"skipped %" PRIu64 "\n", p->model, p->step,
			ncp_mon_snap_pred_fresh(s) ? "" : " (stale)", p->x[4],
			p->x[5], p->latency_us, p->hand_rmse, p->skipped_steps);
	else
		fprintf(f, "predicted  none (no emulator prediction)\n");
	const struct ncp_shm_stim *b = ncp_mon_snap_stim(s);
	char les[96];
	ncp_mon_snap_lesion_text(b, les, sizeof(les));
	if (b)
		fprintf(f, "stim       source %s  %u electrodes  max|theta| %.4g  "
			"max|alpha| %.4g  (bound %.4g)\n",
			ncp_shm_stim_source_name(b->source), b->electrodes,
			b->theta_max_abs, b->alpha_max_abs, b->max);
	else
		fprintf(f, "stim       none (a segment before ABI 1.3, or not "
			"published yet)\n");
	fprintf(f, "lesion     %s\n", les);
	char ncp[200];
	ncp_mon_snap_ncp_text(s, ncp, sizeof(ncp));
	fprintf(f, "cpn        %s\n", ncp);
	if (e)
		fprintf(f, "training   update %" PRIu64 "  loss %.6g  val_loss "
			"%.6g  at t %.3f s\n", e->update, e->loss, e->val_loss,
			e->t);
	else
		fprintf(f, "training   none\n");
}
