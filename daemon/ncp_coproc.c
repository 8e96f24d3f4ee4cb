#include "daemon/ncp_coproc.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/ncp_follow.h"
#include "daemon/ncp_rt.h"
#include "daemon/ncp_spsc.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_hist.h"
#include "models/base/ncp_rng.h"
#include "models/reach/ncp_stim.h"
#include "shm/ncp_shm_reader.h"
#include "shm/ncp_word_int.h"

#define MAX_CATCHUP 64		/* steps read from the ring at once */
#define IDLE_NS 2000000		/* between looks while off or without a model */
#define HOLD_NS 200000		/* between looks while held (tests) */
#define PUBLISH_IDLE_NS 10000000ull /* the block while no theta is computed */
#define RECENT_CAP 1024		/* restored reaches kept (60 s of them) */
#define PEND_CAP 512		/* samples waiting for their future */
/* The loop computes a step's theta itself when the co-processor thread
 * is not watching for it: its heartbeat is older than this. */
#define FALLBACK_STALE_NS 30000ull

/* Reach conditions (bits of a reach's flags). */
#define COND_HEALTHY 1u		/* no lesion, CPN off */
#define COND_LESIONED 2u	/* a lesion, CPN off */
#define COND_RESTORED 4u	/* a lesion, CPN on, no exploration */
#define COND_OTHER 8u

/* A model ready to run and a spare of the same spec for new weights. */
struct cpn_slot {
	struct ncp_cpn_model *_Atomic model;
	struct ncp_cpn_state *state;
	double amax, d;			/* the spec's alpha_max, decay a step */
	struct ncp_cpn_model *_Atomic spare;
	_Atomic bool spare_ready;	/* spare holds weights to swap in */
	uint64_t gen;			/* ncp_coproc_generation when offered */
	char label[64];
};

/* Threads and what they own.
 *
 * The computing thread (the co-processor's own in real time, the loop in
 * lockstep: never both) owns everything under "computing" below.  Models
 * reach it through `pending` (an atomic pointer: the offering thread's
 * release exchange pairs with the computing thread's acquire exchange in
 * adopt()) and go back through `retired`, freed by the next offer.  New
 * weights go through the slot's spare: the trainer writes it only while
 * spare_ready is false and sets it with a release store; the computing
 * thread swaps it in after an acquire load of true and clears it with a
 * release store, which the trainer's acquire load pairs with.  Other
 * threads read on, train, lesion and the trainer's figures as relaxed
 * atomics (each is one word, and nothing else is ordered by them). */
struct ncp_coproc {
	struct ncp_coproc_params p;
	struct ncp_shm_writer *shm;
	struct ncp_stim_box *box;	/* written by the computing thread only */
	struct ncp_shm_reader *reader;
	const struct ncp_shm_header *hdr;
	size_t stride;

	_Atomic(struct cpn_slot *) pending;
	struct ncp_retired retired;	/* freed by the next offer */
	_Atomic(struct cpn_slot *) current;
	pthread_mutex_t load_lock;	/* serialises offers and on/off */
	pthread_mutex_t weights_lock;	/* offer_weights, clone_model */
	_Atomic bool loaded, on, train, warm, stop, hold;
	_Atomic int lesion;
	_Atomic uint64_t task_loss, en_loss;	/* double bits */
	_Atomic uint64_t updates, rollbacks;
	_Atomic uint64_t gen;		/* models offered (under load_lock) */

	pthread_t thread;
	bool thread_ok;
	/* Who computes (ncp_follow.h): next << 2 | holder, the thread or the
	 * loop's fallback; the holder owns everything under "computing". */
	_Atomic uint64_t claim;
	/* The thread's heartbeat while it watches the ring (ns; 0 asleep). */
	_Atomic uint64_t beat_ns;

	/* ---- computing ---- */
	struct cpn_slot *active;
	uint64_t next;			/* real time: the next step to read */
	uint8_t *win;			/* MAX_CATCHUP slot copies */
	struct ncp_follow follow;
	struct ncp_explore x;
	float *theta, *astar;		/* E */
	struct ncp_hist latency;
	double latency_last_us;
	uint64_t thetas, skipped, nonfinite;
	uint64_t fallbacks;		/* thetas the loop computed */
	struct ncp_hist fallback_cost;	/* the loop's time in a fallback */
	uint64_t theta_step;
	int phase;
	/* Reaches. */
	bool have_prev;
	float prev_target[2], prev_hand[2];
	uint64_t prev_step;
	unsigned flags;
	double sum_h, sum_l;
	uint64_t n_h, n_l;
	struct { double t, err; } recent[RECENT_CAP];
	uint64_t recent_n;		/* written so far */
	double t_now;
	struct ncp_shm_ncp blk;
	uint64_t published_ns;
	/* Training samples (ncp_coproc_set_sink). */
	struct ncp_spsc *sink;
	int horizon, every, nsample;
	float *prev_obs;		/* R + 6: the previous step's */
	bool have_prev_obs;
	int prev_drive;
	bool prev_on;
	float *pend;			/* PEND_CAP samples */
	uint64_t *pend_due;
	uint64_t pend_head, pend_tail;
	uint64_t sample_drops;
};

static void slot_free(struct cpn_slot *s)
{
	if (!s)
		return;
	ncp_cpn_state_free(s->state);
	ncp_cpn_model_free(s->model);
	ncp_cpn_model_free(s->spare);
	free(s);
}

static double load_double(const _Atomic uint64_t *w)
{
	uint64_t v = atomic_load_explicit(w, memory_order_relaxed);
	double d;
	memcpy(&d, &v, sizeof(d));
	return d;
}

static void store_double(_Atomic uint64_t *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof(v));
	atomic_store_explicit(w, v, memory_order_relaxed);
}

struct ncp_coproc *ncp_coproc_new(const struct ncp_coproc_params *p,
				  struct ncp_shm_writer *shm,
				  struct ncp_stim_box *box, char *err,
				  size_t errlen)
{
	struct ncp_coproc *c = ncp_calloc_aligned(1, sizeof(*c));
	if (!c) {
		ncp_errf(err, errlen, "out of memory");
		return NULL;
	}
	c->p = *p;
	c->shm = shm;
	c->box = box;
	pthread_mutex_init(&c->load_lock, NULL);
	pthread_mutex_init(&c->weights_lock, NULL);
	atomic_init(&c->on, false);
	store_double(&c->task_loss, NAN);
	store_double(&c->en_loss, NAN);
	c->reader = ncp_shm_reader_from_mem(ncp_shm_writer_base(shm),
					    ncp_shm_writer_size(shm), err, errlen);
	if (!c->reader)
		goto fail;
	c->hdr = ncp_shm_reader_header(c->reader);
	if (!c->hdr->obs_offset || (int)c->hdr->rec_electrodes != p->rec ||
	    (int)c->hdr->stim_electrodes != p->electrodes) {
		ncp_errf(err, errlen, "the shared memory's window carries no "
			 "observation of %d recording and %d stimulation "
			 "electrodes", p->rec, p->electrodes);
		goto fail;
	}
	c->stride = ncp_shm_reader_window_stride(c->reader);
	c->win = malloc(c->stride * MAX_CATCHUP);
	c->theta = calloc(NCP_STIM_MAX_ELECTRODES, sizeof(float));
	c->astar = calloc(NCP_STIM_MAX_ELECTRODES, sizeof(float));
	if (!c->win || !c->theta || !c->astar ||
	    ncp_follow_init(&c->follow, c->reader, p->dt) ||
	    ncp_explore_init(&c->x, &p->xp, p->electrodes, p->dt) < 0) {
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	ncp_hist_reset(&c->latency);
	ncp_hist_reset(&c->fallback_cost);
	c->blk.l_healthy = c->blk.l_lesioned = c->blk.l_restored = NAN;
	c->blk.recovery = c->blk.task_loss = c->blk.en_loss = NAN;
	return c;
fail:
	ncp_coproc_free(c);
	return NULL;
}

void ncp_coproc_free(struct ncp_coproc *c)
{
	if (!c)
		return;
	ncp_coproc_stop(c);
	slot_free(atomic_exchange(&c->pending, NULL));
	for (struct cpn_slot *r; (r = ncp_retired_take(&c->retired));)
		slot_free(r);
	slot_free(c->active);
	ncp_shm_reader_free(c->reader);
	ncp_follow_fini(&c->follow);
	ncp_explore_fini(&c->x);
	free(c->win);
	free(c->theta);
	free(c->astar);
	free(c->prev_obs);
	free(c->pend);
	free(c->pend_due);
	pthread_mutex_destroy(&c->load_lock);
	pthread_mutex_destroy(&c->weights_lock);
	free(c);
}

/* ---- models ------------------------------------------------------------ */

int ncp_coproc_offer(struct ncp_coproc *c, struct ncp_cpn_model *m,
		     const char *label, char *err, size_t errlen)
{
	struct ncp_cpn_expect ex = { .electrodes = c->p.electrodes,
				     .rec = c->p.rec, .dt = c->p.dt,
				     .stim_max = c->p.stim_max };
	char msg[256];
	if (ncp_cpn_model_check(m, &ex, msg, sizeof(msg))) {
		ncp_errf(err, errlen, "%s: %s", label, msg);
		ncp_cpn_model_free(m);
		return -EINVAL;
	}
	if (!ncp_cpn_model_finite(m)) {
		ncp_errf(err, errlen, "%s: a weight is not a finite number", label);
		ncp_cpn_model_free(m);
		return -EINVAL;
	}
	struct cpn_slot *s = calloc(1, sizeof(*s));
	if (s) {
		const struct ncp_cpn_spec *sp = ncp_cpn_model_spec(m);
		s->model = m;
		s->state = ncp_cpn_state_new(m);
		s->spare = ncp_cpn_model_clone(m);
		s->amax = sp->alpha_max;
		s->d = pow(sp->decay, sp->dt / 0.01);
	}
	if (!s || !s->state || !s->spare) {
		ncp_errf(err, errlen, "out of memory");
		if (s)
			slot_free(s);
		else
			ncp_cpn_model_free(m);
		return -ENOMEM;
	}
	snprintf(s->label, sizeof(s->label), "%s", label);
	pthread_mutex_lock(&c->load_lock);
	/* Relaxed: a count written under load_lock; the slot carrying it is
	 * published by the exchange below. */
	s->gen = atomic_load_explicit(&c->gen, memory_order_relaxed) + 1;
	atomic_store_explicit(&c->gen, s->gen, memory_order_relaxed);
	/* Free what the computing thread handed back (not while weights are
	 * copied into it), and an offer it never took. */
	pthread_mutex_lock(&c->weights_lock);
	/* Sequentially consistent (acquire and release): pairs with the
	 * exchange that put the slot there in adopt(). */
	for (struct cpn_slot *r; (r = ncp_retired_take(&c->retired));)
		slot_free(r);
	pthread_mutex_unlock(&c->weights_lock);
	/* Publishes the slot: pairs with the acquire exchange in adopt(). */
	slot_free(atomic_exchange_explicit(&c->pending, s, memory_order_acq_rel));
	/* A flag read by ncp_coproc_set_on (under the same lock) and the
	 * status; it publishes nothing else. */
	atomic_store(&c->loaded, true);
	pthread_mutex_unlock(&c->load_lock);
	ncp_log_info("co-processor: %s (%d recording, %d stimulation "
		     "electrodes)", label, c->p.rec, c->p.electrodes);
	return 0;
}

int ncp_coproc_load(struct ncp_coproc *c, const char *path, const char *label,
		    char *err, size_t errlen)
{
	struct ncp_cpn_expect ex = { .electrodes = c->p.electrodes,
				     .rec = c->p.rec, .dt = c->p.dt,
				     .stim_max = c->p.stim_max };
	char msg[512];
	struct ncp_cpn_model *m = ncp_cpn_model_load(path, &ex, msg, sizeof(msg));
	if (!m) {
		ncp_errf(err, errlen, "%s", msg);
		return -EINVAL;
	}
	return ncp_coproc_offer(c, m, label, err, errlen);
}

uint64_t ncp_coproc_generation(const struct ncp_coproc *c)
{
	/* Relaxed: compared with a slot's gen, read under weights_lock after
	 * the acquire of `current`. */
	return atomic_load_explicit(&c->gen, memory_order_relaxed);
}

int ncp_coproc_offer_weights(struct ncp_coproc *c,
			     const struct ncp_cpn_model *src, uint64_t gen)
{
	int ret = -ENOENT;
	if (!ncp_cpn_model_finite(src))
		return -EINVAL;
	pthread_mutex_lock(&c->weights_lock);
	/* Pairs with the release store of `current` in adopt(). */
	struct cpn_slot *s = atomic_load_explicit(&c->current,
						  memory_order_acquire);
	/* Pairs with the release store of false in take_weights(): the
	 * computing thread no longer reads the spare. */
	if (s && s->gen != gen) {
		ret = -ESTALE;	/* weights for a model no longer in use */
	} else if (s && atomic_load_explicit(&s->spare_ready,
					     memory_order_acquire)) {
		ret = -EBUSY;
	} else if (s) {
		ret = ncp_cpn_model_copy(s->spare, src) ? -EINVAL : 0;
		/* The spare's weights are complete: pairs with the acquire
		 * load in take_weights(). */
		if (!ret)
			atomic_store_explicit(&s->spare_ready, true,
					      memory_order_release);
	}
	pthread_mutex_unlock(&c->weights_lock);
	return ret;
}

struct ncp_cpn_model *ncp_coproc_clone_model(struct ncp_coproc *c,
					     char *label, size_t len,
					     uint64_t *gen)
{
	struct ncp_cpn_model *m = NULL;
	pthread_mutex_lock(&c->weights_lock);
	/* Pairs with the release store of `current` in adopt(). */
	struct cpn_slot *s = atomic_load_explicit(&c->current,
						  memory_order_acquire);
	if (s) {
		/* s->model changes only by a swap of weights offered under
		 * this lock; the model it replaces is not written until the
		 * next offer, which waits for the lock. */
		m = ncp_cpn_model_clone(atomic_load(&s->model));
		snprintf(label, len, "%s", s->label);
		if (gen)
			*gen = s->gen;
	}
	pthread_mutex_unlock(&c->weights_lock);
	return m;
}

/* The computing thread: take a newly offered model. */
static void adopt(struct ncp_coproc *c)
{
	/* Pairs with the release in ncp_coproc_offer. */
	struct cpn_slot *s = atomic_exchange_explicit(&c->pending, NULL,
						      memory_order_acq_rel);
	if (!s)
		return;
	struct cpn_slot *old = c->active;
	c->active = s;
	/* Pairs with the acquire loads in offer_weights and clone_model. */
	atomic_store_explicit(&c->current, s, memory_order_release);
	/* Freed by the next offer or at exit. */
	ncp_retired_put(&c->retired, old);
}

/* The computing thread: swap in weights the trainer offered. */
static void take_weights(struct ncp_coproc *c)
{
	struct cpn_slot *s = c->active;
	/* Pairs with the release store of true in offer_weights. */
	if (!s || !atomic_load_explicit(&s->spare_ready, memory_order_acquire))
		return;
	/* The swap's pointers are read by clone_model and offer_weights only
	 * under weights_lock and after the acquire of spare_ready above
	 * and below: the loads and stores here need no order of their own. */
	if (ncp_cpn_state_set_model(s->state, atomic_load(&s->spare)) == 0) {
		struct ncp_cpn_model *m = atomic_load(&s->model);
		atomic_store(&s->model, atomic_load(&s->spare));
		atomic_store(&s->spare, m);
	}
	/* The spare may be written again: pairs with the acquire load in
	 * offer_weights. */
	atomic_store_explicit(&s->spare_ready, false, memory_order_release);
}

int ncp_coproc_set_on(struct ncp_coproc *c, bool on, char *err, size_t errlen)
{
	int ret = 0;
	pthread_mutex_lock(&c->load_lock);
	if (on && c->p.refuse_on[0])
		ret = ncp_errf_code(err, errlen, EPERM, "%s", c->p.refuse_on);
	else if (on && !atomic_load(&c->loaded))
		ret = ncp_errf_code(err, errlen, ENOENT, "no co-processor model "
				    "is loaded: 'ncp load NAME' first");
	else
		atomic_store_explicit(&c->on, on, memory_order_relaxed);
	pthread_mutex_unlock(&c->load_lock);
	return ret;
}

bool ncp_coproc_on(const struct ncp_coproc *c)
{
	return c && atomic_load_explicit(&c->on, memory_order_relaxed);
}

int ncp_coproc_may_drive(const struct ncp_coproc *c, char *err, size_t errlen)
{
	if (c->p.refuse_on[0])
		return ncp_errf_code(err, errlen, EPERM, "%s", c->p.refuse_on);
	return 0;
}

bool ncp_coproc_lesioned(const struct ncp_coproc *c)
{
	return atomic_load_explicit(&c->lesion, memory_order_relaxed) !=
	       NCP_LESION_NONE;
}

bool ncp_coproc_loaded(const struct ncp_coproc *c)
{
	return atomic_load(&c->loaded);
}

void ncp_coproc_set_train(struct ncp_coproc *c, bool on)
{
	atomic_store_explicit(&c->train, on, memory_order_relaxed);
}

void ncp_coproc_set_warm(struct ncp_coproc *c, bool warm)
{
	/* Relaxed: a flag the computing thread reads each step (phase_of);
	 * it orders nothing else. */
	atomic_store_explicit(&c->warm, warm, memory_order_relaxed);
}

void ncp_coproc_set_losses(struct ncp_coproc *c, double task_loss,
			   double en_loss, uint64_t updates,
			   uint64_t rollbacks)
{
	store_double(&c->task_loss, task_loss);
	store_double(&c->en_loss, en_loss);
	atomic_store_explicit(&c->updates, updates, memory_order_relaxed);
	atomic_store_explicit(&c->rollbacks, rollbacks, memory_order_relaxed);
}

void ncp_coproc_set_lesion(struct ncp_coproc *c, int kind)
{
	if (c)
		atomic_store_explicit(&c->lesion, kind, memory_order_relaxed);
}

void ncp_coproc_hold(struct ncp_coproc *c, bool hold)
{
	atomic_store(&c->hold, hold);
}

void ncp_coproc_set_sink(struct ncp_coproc *c, struct ncp_spsc *q,
			 int horizon, int every)
{
	c->nsample = NCP_COPROC_SAMPLE_FLOATS(c->p.rec, c->p.electrodes);
	c->prev_obs = calloc((size_t)c->p.rec + 6, sizeof(float));
	c->pend = calloc((size_t)PEND_CAP * (size_t)c->nsample, sizeof(float));
	c->pend_due = calloc(PEND_CAP, sizeof(uint64_t));
	if (!c->prev_obs || !c->pend || !c->pend_due)
		return;		/* no samples (the trainer reports none) */
	c->horizon = horizon > 0 ? horizon : 1;
	c->every = every > 0 ? every : 1;
	c->sink = q;
}

/* ---- computing ----------------------------------------------------------- */

/* Training samples from the step just read (its observation obs): start
 * one every `every` steps, complete those whose future this step is.
 * `drive` is the drive of this step's own theta computation (for the
 * sample of the next step). */
static void sample(struct ncp_coproc *c, uint64_t step, const float *obs,
		   bool gap, int drive)
{
	const int R = c->p.rec, E = c->p.electrodes, n = c->nsample;
	if (!c->sink)
		return;
	if (gap) {	/* steps were missed: their samples cannot complete */
		c->pend_tail = c->pend_head;
		c->have_prev_obs = false;
	}
	bool lesion = atomic_load_explicit(&c->lesion, memory_order_relaxed) !=
		      NCP_LESION_NONE;
	bool healthy = !lesion && !c->prev_on;
	if (c->have_prev_obs && step % (uint64_t)c->every == 0 &&
	    (healthy || (lesion && c->prev_on)) &&
	    c->pend_head - c->pend_tail < PEND_CAP) {
		float *sm = c->pend + (c->pend_head % PEND_CAP) * (size_t)n;
		memcpy(sm, c->prev_obs, sizeof(float) * (size_t)(R + 6));
		memcpy(sm + R + 6, obs + R + 8, sizeof(float) * (size_t)E);
		memcpy(sm + R + 6 + E, obs + R + 6, 2 * sizeof(float));
		sm[n - 2] = (float)c->prev_drive;
		sm[n - 1] = healthy ? 1.0f : 0.0f;
		c->pend_due[c->pend_head % PEND_CAP] = step + (uint64_t)c->horizon - 1;
		c->pend_head++;
	}
	while (c->pend_tail < c->pend_head &&
	       c->pend_due[c->pend_tail % PEND_CAP] <= step) {
		float *sm = c->pend + (c->pend_tail % PEND_CAP) * (size_t)n;
		if (c->pend_due[c->pend_tail % PEND_CAP] == step) {
			memcpy(sm + R + 6 + E + 2, obs + R, 6 * sizeof(float));
			if (!ncp_spsc_try_push(c->sink, sm))
				c->sample_drops++;
		}
		c->pend_tail++;
	}
	memcpy(c->prev_obs, obs, sizeof(float) * (size_t)(R + 6));
	c->have_prev_obs = true;
	c->prev_drive = drive;
	c->prev_on = atomic_load_explicit(&c->on, memory_order_relaxed) &&
		     c->active;
}

/* The exploration drive of a step (NCP_EXPLORE_CPN: none); sets the
 * perturbation's sd for it (the warm-up's or the configured one). */
static int phase_of(struct ncp_coproc *c, uint64_t step)
{
	if (!c->p.explore ||
	    !atomic_load_explicit(&c->train, memory_order_relaxed))
		return NCP_EXPLORE_CPN;
	if (atomic_load_explicit(&c->warm, memory_order_relaxed)) {
		c->x.p.perturb_sd = c->p.warm_sd;
		return c->p.warm_sd > 0 ? NCP_EXPLORE_PERTURBED : NCP_EXPLORE_CPN;
	}
	c->x.p.perturb_sd = c->p.xp.perturb_sd;
	return ncp_explore_drive(&c->x, step);
}

/* Mean end errors and the recovery, into the block. */
static void reach_figures(struct ncp_coproc *c)
{
	struct ncp_shm_ncp *b = &c->blk;
	double se = 0;
	uint32_t n = 0;
	uint64_t from = c->recent_n > RECENT_CAP ? c->recent_n - RECENT_CAP : 0;
	for (uint64_t i = from; i < c->recent_n; i++) {
		const double *r = &c->recent[i % RECENT_CAP].t;
		if (r[0] > c->t_now - NCP_COPROC_RECENT_S) {
			se += r[1];
			n++;
		}
	}
	b->l_healthy = c->n_h ? c->sum_h / (double)c->n_h : NAN;
	b->l_lesioned = c->n_l ? c->sum_l / (double)c->n_l : NAN;
	b->l_restored = n ? se / n : NAN;
	b->reaches[0] = (uint32_t)c->n_h;
	b->reaches[1] = (uint32_t)c->n_l;
	b->reaches[2] = n;
	double gap = b->l_lesioned - b->l_healthy;
	b->recovery = isfinite(b->l_restored) && gap > 0 ?
		(1.0 - (b->l_restored - b->l_healthy) / gap) * 100.0 : NAN;
}

/* A step's target and hand, for the reach statistics. */
static void track(struct ncp_coproc *c, uint64_t step, const float *obs,
		  int phase)
{
	/* obs: rec[R], q[J], dq[J], hand[2], target[2], alpha[E]. */
	const int J = c->p.joints ? c->p.joints : 2;
	const float *hand = obs + c->p.rec + 2 * J, *target = hand + 2;
	if (c->have_prev && (target[0] != c->prev_target[0] ||
			     target[1] != c->prev_target[1])) {
		/* The previous reach ended at the previous step. */
		double err = hypot((double)c->prev_hand[0] - c->prev_target[0],
				   (double)c->prev_hand[1] - c->prev_target[1]);
		double t = (double)(c->prev_step + 1) * c->p.dt;
		if (c->flags == COND_HEALTHY) {
			c->sum_h += err;
			c->n_h++;
		} else if (c->flags == COND_LESIONED) {
			c->sum_l += err;
			c->n_l++;
		} else if (c->flags == COND_RESTORED) {
			c->recent[c->recent_n % RECENT_CAP].t = t;
			c->recent[c->recent_n % RECENT_CAP].err = err;
			c->recent_n++;
		}
		c->flags = 0;
		c->t_now = t;
		reach_figures(c);
	}
	bool lesion = atomic_load_explicit(&c->lesion, memory_order_relaxed) !=
		      NCP_LESION_NONE;
	bool on = atomic_load_explicit(&c->on, memory_order_relaxed) && c->active;
	if (!on)
		c->flags |= lesion ? COND_LESIONED : COND_HEALTHY;
	else if (lesion && phase == NCP_EXPLORE_CPN)
		c->flags |= COND_RESTORED;
	else
		c->flags |= COND_OTHER;
	c->prev_target[0] = target[0];
	c->prev_target[1] = target[1];
	c->prev_hand[0] = hand[0];
	c->prev_hand[1] = hand[1];
	c->prev_step = step;
	c->have_prev = true;
	c->t_now = (double)(step + 1) * c->p.dt;
}

/* Theta from step's observation, posted for the next step.  false when
 * there is nothing to compute (off, no model). */
static bool compute(struct ncp_coproc *c, uint64_t step, const float *obs,
		    uint64_t t_ns, int phase)
{
	struct cpn_slot *s = c->active;
	const int E = c->p.electrodes;
	if (!s || !atomic_load_explicit(&c->on, memory_order_relaxed))
		return false;
	const float *alpha = obs + c->p.rec +
			     NCP_SHM_OBS_ARM(c->p.joints ? c->p.joints : 2) + 2;
	ncp_cpn_state_set_alpha(s->state, alpha);
	ncp_cpn_state_step(s->state, obs, c->theta);
	if (phase != NCP_EXPLORE_CPN) {
		memcpy(c->astar, ncp_cpn_state_target(s->state),
		       sizeof(float) * (size_t)E);
		ncp_explore_apply(&c->x, phase, step, c->astar, s->amax, alpha,
				  s->d, c->p.stim_max, c->theta);
	}
	bool finite = true;
	for (int e = 0; e < E; e++)
		finite &= isfinite(c->theta[e]) != 0;
	if (!finite) {
		c->nonfinite++;	/* nothing posted: alpha decays */
		return false;
	}
	/* The computing thread is this mailbox's one writer. */
	ncp_stim_box_post(c->box, c->theta, E, false);
	uint64_t now = ncp_now_ns();
	c->latency_last_us = t_ns && now > t_ns ? (double)(now - t_ns) / 1e3 : 0;
	if (t_ns && now > t_ns)
		ncp_hist_add(&c->latency, now - t_ns);
	c->thetas++;
	c->theta_step = step;
	c->phase = phase;
	return true;
}

static void publish(struct ncp_coproc *c)
{
	struct ncp_shm_ncp *b = &c->blk;
	b->step = c->theta_step;
	b->loaded = atomic_load(&c->loaded);
	b->on = atomic_load_explicit(&c->on, memory_order_relaxed);
	b->train = atomic_load_explicit(&c->train, memory_order_relaxed);
	b->phase = (uint32_t)c->phase;
	b->latency_us = c->latency_last_us;
	b->latency_p99_us = ncp_hist_quantile_us(&c->latency, 0.99);
	b->thetas = c->thetas;
	b->skipped = c->skipped;
	b->updates = atomic_load_explicit(&c->updates, memory_order_relaxed);
	b->rollbacks = atomic_load_explicit(&c->rollbacks, memory_order_relaxed);
	b->task_loss = load_double(&c->task_loss);
	b->en_loss = load_double(&c->en_loss);
	memset(b->model, 0, sizeof(b->model));
	if (c->active)
		snprintf(b->model, sizeof(b->model), "%.*s",
			 (int)sizeof(b->model) - 1, c->active->label);
	ncp_shm_writer_put_ncp(c->shm, b);
	c->published_ns = ncp_now_ns();
}

void ncp_coproc_step(struct ncp_coproc *c, uint64_t step, const float *obs)
{
	adopt(c);
	take_weights(c);
	int phase = phase_of(c, step);
	track(c, step, obs, phase);
	bool done = compute(c, step, obs, 0, phase);
	sample(c, step, obs, false, phase);
	if (done || step % (uint64_t)fmax(1.0, round(0.01 / c->p.dt)) == 0)
		publish(c);
}

/* Real time: read the steps published since `next`; a theta for the
 * newest.  Returns the steps read. */
static uint32_t follow(struct ncp_coproc *c)
{
	struct ncp_ring_span span = { 0 };
	uint64_t head = ncp_shm_reader_head(c->reader);
	if (head <= c->next)
		return 0;
	if (ncp_shm_reader_window_since(c->reader, c->next, MAX_CATCHUP, c->win,
					c->stride * MAX_CATCHUP, &span) ||
	    span.count == 0)
		return 0;
	bool on = atomic_load_explicit(&c->on, memory_order_relaxed) && c->active;
	bool gap = span.first > c->next;
	if (on && gap)
		c->skipped += span.first - c->next;	/* gone from the ring */
	for (uint32_t i = 0; i < span.count; i++) {
		const struct ncp_shm_win_slot *ws = ncp_shm_win_at(c->win,
								   c->stride, i);
		const float *obs = ncp_shm_win_obs(ws, c->hdr);
		int phase = phase_of(c, ws->step);
		track(c, ws->step, obs, phase);
		if (i + 1 < span.count) {
			/* No theta for it: the loop let alpha decay. */
			c->skipped += on;
			sample(c, ws->step, obs, gap && i == 0, NCP_EXPLORE_CPN);
			continue;
		}
		bool done = compute(c, ws->step, obs, ws->t_ns, phase);
		sample(c, ws->step, obs, gap && i == 0, phase);
		if (done || ncp_now_ns() > c->published_ns + PUBLISH_IDLE_NS)
			publish(c);
	}
	c->next = span.first + span.count;
	return span.count;
}

/* One look by the thread: take the state if there is work.  Returns the
 * steps read. */
static uint32_t look(struct ncp_coproc *c)
{
	/* Acquire: pairs with ncp_follow_claim_give() by the last holder. */
	uint64_t cl = atomic_load_explicit(&c->claim, memory_order_acquire);
	uint64_t head = ncp_shm_reader_head(c->reader);
	/* Pairs with the release store of `current` in adopt(). */
	struct cpn_slot *cur = atomic_load_explicit(&c->current,
						    memory_order_acquire);
	bool work = head > (cl >> 2) ||
		    atomic_load_explicit(&c->pending, memory_order_relaxed) ||
		    (cur && atomic_load_explicit(&cur->spare_ready,
						 memory_order_relaxed));
	if (!work || !ncp_follow_claim_take(&c->claim, cl, NCP_FOLLOW_THREAD))
		return 0;
	c->next = cl >> 2;
	adopt(c);
	take_weights(c);
	uint32_t n = follow(c);
	ncp_follow_claim_give(&c->claim, c->next);
	return n;
}

void ncp_coproc_fallback(struct ncp_coproc *c, uint64_t step, const float *obs,
			 uint64_t t_ns)
{
	if (!c || c->p.lockstep ||
	    !atomic_load_explicit(&c->on, memory_order_relaxed))
		return;
	/* Acquire: pairs with ncp_follow_claim_give(); only the step counter
	 * is read before the state is taken. */
	uint64_t cl = atomic_load_explicit(&c->claim, memory_order_acquire);
	if ((cl & NCP_FOLLOW_HOLDER) || (cl >> 2) != step)
		return;	/* being computed, or a backlog for the thread */
	uint64_t t0 = ncp_now_ns();
	/* Orders the step's publication (the ring head) before the look at
	 * the heartbeat; pairs with the fence in coproc_thread() between
	 * clearing the heartbeat and its last look at the head, so that a
	 * step is either seen by the thread or computed here. */
	atomic_thread_fence(memory_order_seq_cst);
	/* Relaxed: a heartbeat is a hint; the claim decides who computes. */
	uint64_t beat = atomic_load_explicit(&c->beat_ns, memory_order_relaxed);
	if (beat && t0 < beat + FALLBACK_STALE_NS)
		return;	/* the thread is watching: it takes the step */
	if (!ncp_follow_claim_take(&c->claim, cl, NCP_FOLLOW_LOOP))
		return;
	adopt(c);
	take_weights(c);
	int phase = phase_of(c, step);
	track(c, step, obs, phase);
	bool done = compute(c, step, obs, t_ns, phase);
	sample(c, step, obs, false, phase);
	if (done)
		publish(c);
	c->fallbacks += done;
	ncp_hist_add(&c->fallback_cost, ncp_now_ns() - t0);
	ncp_follow_claim_give(&c->claim, step + 1);
}

static void *coproc_thread(void *arg)
{
	struct ncp_coproc *c = arg;
	pthread_setname_np(pthread_self(), "ncp-cpn");
	ncp_rt_setup_follower("co-processor thread", c->p.priority, c->p.cpu,
			      c->p.loop_cpu);
	while (!atomic_load(&c->stop)) {
		if (atomic_load_explicit(&c->hold, memory_order_relaxed)) {
			atomic_store_explicit(&c->beat_ns, 0, memory_order_relaxed);
			clock_nanosleep(CLOCK_MONOTONIC, 0,
					&(struct timespec){ 0, HOLD_NS }, NULL);
			continue;
		}
		uint64_t now = ncp_now_ns();
		/* Relaxed: read by the loop as a hint (ncp_coproc_fallback). */
		atomic_store_explicit(&c->beat_ns, now, memory_order_relaxed);
		if (look(c))
			continue;
		uint64_t head = ncp_shm_reader_head(c->reader);
		ncp_follow_update(&c->follow, head);
		if (!atomic_load(&c->current) ||
		    !atomic_load_explicit(&c->on, memory_order_relaxed)) {
			/* Nothing to be on time for: the reaches are
			 * counted from the ring a few steps at a time. */
			atomic_store_explicit(&c->beat_ns, 0, memory_order_relaxed);
			clock_nanosleep(CLOCK_MONOTONIC, 0,
					&(struct timespec){ 0, IDLE_NS }, NULL);
			continue;
		}
		uint64_t wake;
		if (ncp_follow_watch(&c->follow, head, now, &wake)) {
			ncp_word_relax();
			continue;
		}
		/* No heartbeat while asleep; then one more look at the ring:
		 * a step the loop published meanwhile is either seen here or
		 * the loop sees the stale heartbeat and computes it.  The
		 * fence pairs with the one in ncp_coproc_fallback. */
		atomic_store_explicit(&c->beat_ns, 0, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (ncp_shm_reader_head(c->reader) >
		    atomic_load_explicit(&c->claim, memory_order_relaxed) >> 2)
			continue;
		ncp_follow_sleep(wake);
	}
	atomic_store_explicit(&c->beat_ns, 0, memory_order_relaxed);
	return NULL;
}

int ncp_coproc_start(struct ncp_coproc *c)
{
	if (c->p.lockstep || c->thread_ok)
		return 0;
	atomic_store(&c->stop, false);
	/* The thread follows from the steps published from now on. */
	atomic_store(&c->claim, ncp_shm_reader_head(c->reader) << 2 |
		     NCP_FOLLOW_FREE);
	int ret = pthread_create(&c->thread, NULL, coproc_thread, c);
	if (ret)
		return -ret;
	c->thread_ok = true;
	return 0;
}

void ncp_coproc_stop(struct ncp_coproc *c)
{
	if (!c->thread_ok)
		return;
	atomic_store(&c->stop, true);
	pthread_join(c->thread, NULL);
	c->thread_ok = false;
}

static void json_num_or_null(struct ncp_json *j, double v)
{
	if (isfinite(v))
		ncp_json_num(j, v);
	else
		ncp_json_null(j);
}

void ncp_coproc_json(const struct ncp_coproc *c, struct ncp_json *j)
{
	struct ncp_coproc *m = (struct ncp_coproc *)c;
	reach_figures(m);
	const struct ncp_shm_ncp *b = &c->blk;
	ncp_json_key(j, "ncp");
	ncp_json_obj(j);
	ncp_json_key(j, "model");
	ncp_json_str(j, c->active ? c->active->label : NULL);
	ncp_json_key(j, "mode");
	ncp_json_str(j, c->p.lockstep ? "lockstep" : "realtime");
	ncp_json_key(j, "on");
	ncp_json_bool(j, atomic_load(&m->on));
	ncp_json_key(j, "thetas");
	ncp_json_int(j, (int64_t)c->thetas);
	ncp_json_key(j, "skipped_steps");
	ncp_json_int(j, (int64_t)c->skipped);
	ncp_json_key(j, "nonfinite");
	ncp_json_int(j, (int64_t)c->nonfinite);
	/* Thetas the loop computed itself, and what that cost it. */
	ncp_json_key(j, "fallback");
	ncp_json_obj(j);
	ncp_json_key(j, "thetas");
	ncp_json_int(j, (int64_t)c->fallbacks);
	ncp_json_key(j, "cost_us");
	ncp_json_obj(j);
	ncp_json_key(j, "p50");
	ncp_json_num(j, ncp_hist_quantile_us(&c->fallback_cost, 0.5));
	ncp_json_key(j, "p99");
	ncp_json_num(j, ncp_hist_quantile_us(&c->fallback_cost, 0.99));
	ncp_json_key(j, "max");
	ncp_json_num(j, ncp_hist_max_us(&c->fallback_cost));
	ncp_json_end(j);
	ncp_json_end(j);
	ncp_json_key(j, "latency_us");
	ncp_json_obj(j);
	ncp_json_key(j, "p50");
	ncp_json_num(j, ncp_hist_quantile_us(&c->latency, 0.5));
	ncp_json_key(j, "p99");
	ncp_json_num(j, ncp_hist_quantile_us(&c->latency, 0.99));
	ncp_json_key(j, "max");
	ncp_json_num(j, ncp_hist_max_us(&c->latency));
	ncp_json_end(j);
	ncp_json_key(j, "reaches");
	ncp_json_obj(j);
	ncp_json_key(j, "healthy");
	ncp_json_int(j, b->reaches[0]);
	ncp_json_key(j, "lesioned");
	ncp_json_int(j, b->reaches[1]);
	ncp_json_key(j, "restored_last_60s");
	ncp_json_int(j, b->reaches[2]);
	ncp_json_end(j);
	ncp_json_key(j, "l_healthy");
	json_num_or_null(j, b->l_healthy);
	ncp_json_key(j, "l_lesioned");
	json_num_or_null(j, b->l_lesioned);
	ncp_json_key(j, "l_restored");
	json_num_or_null(j, b->l_restored);
	ncp_json_key(j, "recovery");
	json_num_or_null(j, b->recovery);
	ncp_json_end(j);
}
