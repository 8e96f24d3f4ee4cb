#include "daemon/ncp_loop.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "models/base/ncp_base.h"

/* The shared memory's task kinds are the task's own. */
_Static_assert((int)NCP_SHM_TASK_CENTRE_OUT == NCP_TASK_CENTRE_OUT &&
	       (int)NCP_SHM_TASK_MANUAL == NCP_TASK_MANUAL &&
	       (int)NCP_SHM_TASK_LINE == NCP_TASK_LINE &&
	       (int)NCP_SHM_TASK_PATH == NCP_TASK_PATH &&
	       (int)NCP_SHM_TASK_STEPS == NCP_TASK_STEPS,
	       "task kinds and their shared-memory codes differ");

static void publish_lesion(struct ncp_loop *l)
{
	int kind, count;
	double fraction;
	ncp_reach_lesion(l->sim->reach, &kind, &fraction, &count);
	atomic_store_explicit(&l->pub_lesion, (uint64_t)kind << 32 |
			      (uint32_t)count, memory_order_relaxed);
	ncp_coproc_set_lesion(l->coproc, kind);
}

int ncp_loop_init(struct ncp_loop *l, struct ncp_sim *sim,
		  struct ncp_shm_writer *shm, const struct ncp_rt_params *rtp,
		  uint64_t max_steps)
{
	memset(l, 0, sizeof(*l));
	l->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->done_fd < 0)
		return -errno;
	for (int q = 0; q < NCP_LOOP_CMD_QUEUES; q++) {
		l->cmdq[q] = ncp_spsc_new(64, sizeof(struct ncp_loop_cmd));
		if (!l->cmdq[q]) {
			ncp_loop_fini(l);
			return -ENOMEM;
		}
	}
	l->oracle_k = ncp_calloc_aligned(NCP_LOOP_ORACLE_SLOTS,
					 sizeof(*l->oracle_k));
	if (!l->oracle_k) {
		ncp_loop_fini(l);
		return -ENOMEM;
	}
	atomic_init(&l->oracle_applied, 0);
	l->stim_box = ncp_calloc_aligned(1, sizeof(*l->stim_box));
	l->ncp_box = ncp_calloc_aligned(1, sizeof(*l->ncp_box));
	l->stim_zero = ncp_calloc_aligned(NCP_STIM_MAX_ELECTRODES, sizeof(float));
	l->theta_f = ncp_calloc_aligned(NCP_STIM_MAX_ELECTRODES, sizeof(float));
	ncp_reach_rec(sim->reach, &l->obs_rec);
	l->obs = ncp_calloc_aligned((size_t)ncp_shm_obs_floats((uint32_t)l->obs_rec,
						   (uint32_t)sim->stim_E,
						   (uint32_t)sim->arm.links),
			sizeof(float));
	if (!l->stim_box || !l->ncp_box || !l->stim_zero || !l->theta_f ||
	    !l->obs) {
		ncp_loop_fini(l);
		return -ENOMEM;
	}
	ncp_stim_box_init(l->stim_box);
	ncp_stim_box_init(l->ncp_box);
	l->sim = sim;
	l->shm = shm;
	l->rtp = *rtp;
	l->max_steps = max_steps;
	atomic_init(&l->stop, false);
	atomic_init(&l->started, false);
	atomic_init(&l->finished, false);
	publish_lesion(l);
	ncp_rt_clock_init(&l->clock, rtp);
	return 0;
}

void ncp_loop_fini(struct ncp_loop *l)
{
	for (int q = 0; q < NCP_LOOP_CMD_QUEUES; q++) {
		ncp_spsc_free(l->cmdq[q]);
		l->cmdq[q] = NULL;
	}
	free(l->stim_box);
	free(l->ncp_box);
	free(l->oracle_k);
	l->oracle_k = NULL;
	free(l->stim_zero);
	free(l->theta_f);
	free(l->obs);
	l->obs = NULL;
	l->theta_f = NULL;
	l->stim_box = NULL;
	l->ncp_box = NULL;
	l->stim_zero = NULL;
	if (l->done_fd >= 0)
		close(l->done_fd);
	l->done_fd = -1;
}

bool ncp_loop_send(struct ncp_loop *l, int q, const struct ncp_loop_cmd *c)
{
	return ncp_spsc_try_push(l->cmdq[q], c);
}

int ncp_loop_oracle_slot(struct ncp_loop *l)
{
	/* Acquire: pairs with the loop's release after it copied a map, so
	 * the slot is not rewritten while the loop reads it. */
	uint64_t done = atomic_load_explicit(&l->oracle_applied,
					     memory_order_acquire);
	if (l->oracle_sent - done >= NCP_LOOP_ORACLE_SLOTS)
		return -1;
	return (int)(l->oracle_sent++ % NCP_LOOP_ORACLE_SLOTS);
}

void ncp_loop_oracle_unsent(struct ncp_loop *l)
{
	l->oracle_sent--;
}

/* Apply what other threads asked for (a bounded number per tick). */
static void apply_commands(struct ncp_loop *l)
{
	struct ncp_loop_cmd c;
	for (int q = 0; q < NCP_LOOP_CMD_QUEUES; q++) {
		for (int k = 0; k < NCP_LOOP_CMDS_PER_TICK &&
				ncp_spsc_try_pop(l->cmdq[q], &c); k++) {
			switch (c.kind) {
			case NCP_LOOP_TARGET:
				ncp_sim_set_target(l->sim, c.xy);
				break;
			case NCP_LOOP_TASK:
				ncp_sim_set_task(l->sim, &c.task);
				break;
			case NCP_LOOP_PAUSE:
				l->paused = true;
				break;
			case NCP_LOOP_RESUME:
				l->paused = false;
				break;
			case NCP_LOOP_RESET:
				ncp_sim_reset(l->sim);
				break;
			case NCP_LOOP_LESION:
				ncp_sim_set_lesion(l->sim, c.lesion_kind,
						   c.lesion_fraction);
				if (c.oracle_slot >= 0) {
					/* The slot was written before the command
					 * was queued (the queue's release/acquire
					 * orders it). */
					ncp_reach_set_oracle(l->sim->reach,
							     l->oracle_k[c.oracle_slot]);
					/* Release: pairs with the acquire in
					 * ncp_loop_oracle_slot; the slot may be
					 * reused. */
					atomic_fetch_add_explicit(&l->oracle_applied, 1,
								  memory_order_release);
				}
				publish_lesion(l);
				break;
			case NCP_LOOP_FIELD:
				ncp_sim_set_field(l->sim, &c.field);
				break;
			}
		}
	}
}

/* The newest electrode command, if one came; a one-step command that was
 * not renewed gives way to zeros (alpha decays). */
static void apply_stim(struct ncp_loop *l)
{
	bool got = false;
	for (int b = 0; b < 2; b++) {
		const struct ncp_stim_msg *m =
			ncp_stim_box_take(b ? l->ncp_box : l->stim_box);
		if (m && (int)m->n == l->sim->stim_E) {
			ncp_sim_set_theta(l->sim, m->theta);
			l->stim_once = !m->hold;
			got = true;
		}
	}
	if (!got && l->stim_once) {
		ncp_sim_set_theta(l->sim, l->stim_zero);
		l->stim_once = false;
	}
}

/* What the co-processor observes after the step (as a window slot carries
 * it, ABI 1.4): the recording electrodes, the arm, the target, alpha. */
static void observe(struct ncp_loop *l)
{
	struct ncp_sim *s = l->sim;
	const int R = l->obs_rec, E = s->stim_E;
	int r;
	float *o = l->obs;
	memcpy(o, ncp_reach_rec(s->reach, &r), sizeof(float) * (size_t)R);
	o += R;
	ncp_arm_state_flat(&s->arm, o);
	o += NCP_ARM_STATE_DIMS(s->arm.links);
	o[0] = (float)s->target[0];
	o[1] = (float)s->target[1];
	memcpy(o + 2, ncp_reach_stim(s->reach)->alpha_f, sizeof(float) * (size_t)E);
}

/* The step just simulated: its M1 spikes and arm-history entry. */
static void publish_step(struct ncp_loop *l)
{
	struct ncp_sim *s = l->sim;
	uint64_t step = s->step - 1;

	const float *o = l->obs;
	const int S = NCP_ARM_STATE_DIMS(s->arm.links);
	ncp_shm_writer_set_obs(l->shm, o, o + l->obs_rec, o + l->obs_rec + S,
			       o + l->obs_rec + S + 2);
	/* The theta applied in the step: the emulator's stimulation input. */
	ncp_shm_writer_push_spikes(l->shm, step, s->spikes,
				   (uint32_t)s->n_spikes,
				   l->theta_f,
				   (uint32_t)NCP_MIN(s->stim_E, NCP_SHM_STIM_CHANNELS));
	struct ncp_shm_arm_entry a = {
		.step = step,
		.q = { (float)s->arm.q[0], (float)s->arm.q[1] },
		.hand = { (float)s->arm.hand[0], (float)s->arm.hand[1] },
		.target = { (float)s->target[0], (float)s->target[1] },
		.pred_hand = { NAN, NAN },
		.dq = { (float)s->arm.dq[0], (float)s->arm.dq[1] },
		.q2 = (float)s->arm.q[2],	/* 0 with 2 joints */
		.dq2 = (float)s->arm.dq[2],
	};
	ncp_emulator_pred_hand(l->emulator, a.pred_hand);
	ncp_shm_writer_push_arm(l->shm, &a);
}

/* The state block, every tick (also while paused). */
static void publish_state(struct ncp_loop *l)
{
	struct ncp_sim *s = l->sim;
	struct ncp_shm_state *st = &l->state;

	st->step = s->step ? s->step - 1 : 0;
	st->t = (double)s->step * s->dt;
	for (int i = 0; i < 2; i++) {
		st->q[i] = s->arm.q[i];
		st->dq[i] = s->arm.dq[i];
		st->hand[i] = s->arm.hand[i];
		st->target[i] = s->target[i];
	}
	double u[NCP_ARM_MAX_LINKS] = { 0 };
	ncp_reach_torque(s->reach, u);
	st->u[0] = u[0];
	st->u[1] = u[1];
	st->q2 = s->arm.q[2];	/* 0 with 2 joints */
	st->dq2 = s->arm.dq[2];
	st->u2 = u[2];
	st->task_period = s->task.p.period;
	st->task_kind = (uint32_t)s->task.p.kind;
	st->paused = l->paused;
	st->m1_spikes = l->paused ? 0 : (uint32_t)s->n_spikes;
	ncp_shm_writer_put_state(l->shm, st);
}

/* What drives the electrodes, as the stim block says it. */
static uint32_t stim_source(const struct ncp_loop *l)
{
	static const uint32_t shm_source[NCP_STIM_SRC_COUNT] = {
		[NCP_STIM_SRC_NONE] = NCP_SHM_STIM_NONE,
		[NCP_STIM_SRC_NOISE] = NCP_SHM_STIM_NOISE,
		[NCP_STIM_SRC_ORACLE] = NCP_SHM_STIM_ORACLE,
		[NCP_STIM_SRC_CPN] = NCP_SHM_STIM_CPN,
	};
	if (l->sim->stim_seq)
		return NCP_SHM_STIM_FILE;
	if (ncp_coproc_on(l->coproc))
		return NCP_SHM_STIM_CPN;
	return shm_source[ncp_reach_stim_params(l->sim->reach)->source];
}

/* The stim block, every tick (also while paused): theta and alpha as the
 * step just taken used them, and the lesion. */
static void publish_stim(struct ncp_loop *l)
{
	struct ncp_sim *s = l->sim;
	const struct ncp_stim *st = ncp_reach_stim(s->reach);
	struct ncp_shm_stim *b = &l->stim_pub;
	int kind, count;
	double fraction;

	ncp_reach_lesion(s->reach, &kind, &fraction, &count);
	b->step = s->step ? s->step - 1 : 0;
	b->source = stim_source(l);
	b->lesion_kind = (uint32_t)kind;
	b->lesion_neurons = (uint32_t)count;
	b->lesion_fraction = fraction;
	b->max = st->max;
	ncp_shm_writer_put_stim(l->shm, b, st->theta, st->alpha);
}

static void publish_stats(struct ncp_loop *l)
{
	const struct ncp_rt_clock *c = &l->clock;
	struct ncp_shm_stats *ss = &l->stats;
	double wall = ncp_rt_clock_wall(c);

	static const double qs[3] = { 0.5, 0.99, 0.999 };
	double jq[3], cq[3];

	ncp_hist_quantiles_us(&c->jitter, qs, 3, jq);
	ncp_hist_quantiles_us(&c->cost, qs, 3, cq);
	ss->steps = c->steps;
	ss->overruns = c->overruns;
	ss->slips = c->slips;
	ss->jitter_p50_us = jq[0];
	ss->jitter_p99_us = jq[1];
	ss->jitter_p999_us = jq[2];
	ss->jitter_max_us = ncp_hist_max_us(&c->jitter);
	ss->cost_p50_us = cq[0];
	ss->cost_p99_us = cq[1];
	ss->cost_max_us = ncp_hist_max_us(&c->cost);
	ss->wall_s = wall;
	ss->rtf = wall > 0 ? (double)l->sim->step * l->sim->dt / wall : 0;
	ss->mode = c->free_run ? NCP_SHM_MODE_FREE_RUN : NCP_SHM_MODE_REALTIME;
	/* The shared histogram has log2 bins; fold the fine one into it. */
	memset(ss->jitter_hist, 0, sizeof(ss->jitter_hist));
	for (uint64_t b = 0; b < NCP_HIST_BINS; b++)
		if (c->jitter.bins[b])
			ss->jitter_hist[ncp_shm_jitter_bin(ncp_hist_bin_us(b))] +=
				c->jitter.bins[b];
	if (l->shm)
		ncp_shm_writer_put_stats(l->shm, ss);
}

/* The step's theta and lesion, and what the co-processor observes after
 * it (observe(): the recording electrodes, alpha), for the recording. */
static void record_stim(struct ncp_loop *l)
{
	int kind, count;
	double fraction;
	ncp_reach_lesion(l->sim->reach, &kind, &fraction, &count);
	ncp_recorder_set_stim(l->recorder, ncp_reach_stim(l->sim->reach)->theta,
			      kind, count);
	ncp_recorder_set_obs(l->recorder, l->obs, l->obs + l->obs_rec + 8);
}

void *ncp_loop_thread(void *arg)
{
	struct ncp_loop *l = arg;
	struct ncp_rt_clock *c = &l->clock;

	pthread_setname_np(pthread_self(), "ncp-loop");
	l->fifo = ncp_rt_setup_thread(&l->rtp, l->rt_warning,
				      sizeof(l->rt_warning));
	if (l->shm)
		ncp_shm_writer_set_state(l->shm, NCP_SHM_STATE_RUNNING);
	/* Publishes the set-up results above: pairs with the acquire load
	 * of `started` in the main thread. */
	atomic_store_explicit(&l->started, true, memory_order_release);

	/* Faults from here on are the loop's own (set-up pre-faulted its
	 * stack): with memory locked on fault, a page the loop touches for
	 * the first time would stall it.  Counted for the summary. */
	long faults0 = ncp_rt_thread_faults();
	ncp_rt_clock_start(c);
	while (!atomic_load_explicit(&l->stop, memory_order_relaxed)) {
		if (l->max_steps && l->sim->step >= l->max_steps)
			break;
		ncp_rt_clock_wait(c);
		apply_commands(l);
		apply_stim(l);
		if (l->pause_at && l->sim->step == l->pause_at) {
			/* --pause-at: commands sent from now act from here. */
			l->paused = true;
			l->pause_at = 0;
		}
		if (!l->paused) {
			ncp_sim_step(l->sim);
			{
				const double *th = ncp_reach_stim(l->sim->reach)->theta;
				for (int e = 0; e < l->sim->stim_E; e++)
					l->theta_f[e] = (float)th[e];
			}
			observe(l);
			if (l->coproc && l->coproc_lockstep) {
				ncp_coproc_step(l->coproc, l->sim->step - 1,
						l->obs);
				ncp_cpn_online_step(l->cpn_online);
			}
			if (l->emulator && l->emulator_lockstep)
				ncp_emulator_step(l->emulator, l->sim->step - 1,
						  l->sim->spikes, l->sim->n_spikes,
						  l->theta_f, l->sim->stim_E,
						  &l->sim->arm);
			if (l->shm)
				publish_step(l);
			/* Real time: the step's theta and prediction, when
			 * the co-processor's and the emulator's threads are
			 * not there to make them (theta first: it is due at
			 * the next boundary). */
			if (l->coproc && !l->coproc_lockstep && l->shm)
				ncp_coproc_fallback(l->coproc, l->sim->step - 1,
						    l->obs,
						    ncp_shm_writer_last_ns(l->shm));
			if (l->emulator && !l->emulator_lockstep && l->shm)
				ncp_emulator_fallback(l->emulator,
						      l->sim->step - 1);
			if (l->online)
				ncp_online_step(l->online, l->sim->step - 1,
						l->sim->spikes, l->sim->n_spikes,
						&l->sim->arm);
			if (ncp_recorder_active(l->recorder)) {
				void *frame = ncp_recorder_probe_frame(l->recorder);
				if (frame)
					ncp_probe_frame_fill(&l->sim->probe_frame,
							     ncp_reach_net(l->sim->reach),
							     frame);
				record_stim(l);
				ncp_recorder_push(l->recorder, l->sim->step - 1,
						  l->sim->spikes, l->sim->n_spikes,
						  &l->sim->arm, l->sim->target);
			}
		}
		if (l->shm) {
			publish_state(l);
			publish_stim(l);
		}
		ncp_rt_clock_done(c);
		if (l->paused)
			ncp_rt_clock_idle(c);
		if (c->steps % NCP_LOOP_STATS_EVERY == 0)
			publish_stats(l);
		atomic_store_explicit(&l->pub_steps, l->sim->step,
				      memory_order_relaxed);
		atomic_store_explicit(&l->pub_slips, c->slips,
				      memory_order_relaxed);
		atomic_store_explicit(&l->pub_overruns, c->overruns,
				      memory_order_relaxed);
		atomic_store_explicit(&l->pub_behind_ns, c->max_behind_ns,
				      memory_order_relaxed);
	}
	ncp_rt_clock_stop(c);
	publish_stats(l);
	l->page_faults = ncp_rt_thread_faults() - faults0;
	/* Everything the loop wrote is visible to whoever sees `finished`:
	 * pairs with the acquire load in the main thread. */
	atomic_store_explicit(&l->finished, true, memory_order_release);
	/* Wake whoever waits for the end (after `finished`, so a waiter that
	 * wakes finds it set).  Non-blocking; it cannot fail but by a
	 * counter overflow, which one write a run cannot reach. */
	uint64_t one = 1;
	ssize_t wr = write(l->done_fd, &one, sizeof(one));
	(void)wr;
	return NULL;
}

void ncp_loop_json(const struct ncp_loop *l, struct ncp_json *j)
{
	const struct ncp_rt_clock *c = &l->clock;

	ncp_json_key(j, "mode");
	ncp_json_str(j, c->free_run ? "free-run" : "realtime");
	ncp_json_key(j, "sched");
	ncp_json_str(j, l->fifo ? "fifo" : "other");
	ncp_json_key(j, "overruns");
	ncp_json_int(j, (int64_t)c->overruns);
	ncp_json_key(j, "slips");
	ncp_json_int(j, (int64_t)c->slips);
	ncp_json_key(j, "late_wakeups");
	ncp_json_int(j, (int64_t)c->late_wakeups);
	ncp_json_key(j, "catchup_steps");
	ncp_json_int(j, (int64_t)c->catchup_steps);
	ncp_json_key(j, "max_behind_ms");
	ncp_json_num(j, c->max_behind_ns / 1e6);
	ncp_json_key(j, "page_faults");
	ncp_json_int(j, l->page_faults);
	ncp_json_key(j, "jitter_us");
	ncp_json_obj(j);
	ncp_json_key(j, "p50");
	ncp_json_num(j, ncp_hist_quantile_us(&c->jitter, 0.5));
	ncp_json_key(j, "p99");
	ncp_json_num(j, ncp_hist_quantile_us(&c->jitter, 0.99));
	ncp_json_key(j, "p999");
	ncp_json_num(j, ncp_hist_quantile_us(&c->jitter, 0.999));
	ncp_json_key(j, "max");
	ncp_json_num(j, ncp_hist_max_us(&c->jitter));
	ncp_json_key(j, "samples");
	ncp_json_int(j, (int64_t)c->jitter.count);
	ncp_json_end(j);
	ncp_json_key(j, "cost_us");
	ncp_json_obj(j);
	ncp_json_key(j, "p50");
	ncp_json_num(j, ncp_hist_quantile_us(&c->cost, 0.5));
	ncp_json_key(j, "p99");
	ncp_json_num(j, ncp_hist_quantile_us(&c->cost, 0.99));
	ncp_json_key(j, "max");
	ncp_json_num(j, ncp_hist_max_us(&c->cost));
	ncp_json_key(j, "mean");
	ncp_json_num(j, ncp_hist_mean_us(&c->cost));
	ncp_json_end(j);
}
