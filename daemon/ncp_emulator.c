#include "daemon/ncp_emulator.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/ncp_recorder.h"
#include "daemon/ncp_follow.h"
#include "daemon/ncp_rt.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_hist.h"
#include "models/emu/ncp_emu.h"
#include "shm/ncp_seqlock.h"
#include "shm/ncp_shm_reader.h"
#include "shm/ncp_word_int.h"

#define STATS_EVERY 250		/* predictions between status updates */
#define SECONDS_KEPT 32		/* per-second error buckets */
#define MAX_CATCHUP 224		/* steps read from the ring at once */
#define PREDICT_BACKLOG 64	/* newest steps of a backlog still predicted */
#define IDLE_NS 5000000		/* between looks while no model is loaded */
#define HOLD_NS 200000		/* between looks while held (tests) */
/* The loop predicts a step itself when the emulator thread is not
 * watching for it: its heartbeat is older than this (asleep, woken late,
 * or its CPU stalled). */
#define FALLBACK_STALE_NS 30000ull
/* Most steps the loop feeds in one fallback (a longer backlog is the
 * emulator thread's: it means the thread has not run for a while and the
 * loop has not been covering for it, a model was just adopted, say). */
#define FALLBACK_MAX_STEPS 4
/* Predictions waiting for the arm entry of the step they predict (their
 * step plus the model's horizon, at most 10000), to be scored. */
#define PENDING 16384

/* Who holds the model state: the low bits of `claim`. */
#define HOLD_NONE NCP_FOLLOW_FREE
#define HOLD_EMU NCP_FOLLOW_THREAD
#define HOLD_LOOP NCP_FOLLOW_LOOP
#define HOLD_MASK NCP_FOLLOW_HOLDER

/* A model ready to run: the model and a state for it, and a spare model
 * of the same sizes that new weights are copied into before a swap. */
struct emu_slot {
	struct ncp_emu_model *_Atomic model;
	struct ncp_emu_state *state;
	/* Swapped by the emulator when new weights arrive; read by the
	 * threads holding weights_lock. */
	struct ncp_emu_model *_Atomic spare;
	_Atomic bool spare_ready;	/* spare holds weights to swap in */
	/* ncp_emu_model_checksum of model and spare, computed by whoever
	 * wrote the weights (never on the step's path). */
	_Atomic uint64_t sum, spare_sum;
	char label[64];
};

/* A prediction whose step's arm entry was not in the ring yet. */
struct pending {
	uint64_t step;
	float x[NCP_EMU_MAX_OUTPUTS];
};

/* The status as a seqlock block (ncp_seqlock.h): word 0 the sequence. */
struct status_block {
	uint64_t seq;
	struct ncp_emulator_status st;
};
_Static_assert(sizeof(struct status_block) % 8 == 0,
	       "a seqlock block is whole words");

/* Threads and what they own.
 *
 * The model state (the slot in use, its inference state, the step counter
 * `next`, the scratch buffers, the scores, the prediction block and its
 * latency histogram: everything under "the holder's" below) is used by
 * one thread at a time: the one holding `claim`.  claim = next << 2 |
 * holder; next is the first step not fed to the model yet, holder is
 * HOLD_NONE, HOLD_EMU (the emulator thread) or HOLD_LOOP (the loop's
 * fallback).  A thread takes the state with a compare-exchange from
 * (next << 2 | HOLD_NONE), with acquire ordering, and gives it back with a
 * release store of (new next << 2 | HOLD_NONE); the acquire pairs with the
 * release of the previous holder, so each holder sees everything the
 * previous one wrote.  Steps are fed and predicted in order under the
 * claim, so no step is ever published twice.
 *
 * The loop never waits for the claim: when the emulator thread holds it,
 * the emulator is at work and publishes the step; when it is free and the
 * emulator thread is not watching for the step (its heartbeat is stale),
 * the loop takes it and predicts the step itself (ncp_emulator_fallback).
 * The emulator thread, when the loop holds it, looks again (the loop holds
 * it for one prediction, about 10 us). */
struct ncp_emulator {
	struct ncp_emulator_params p;
	struct ncp_shm_writer *shm;
	struct ncp_recorder *recorder;	/* may be NULL; set before start */
	struct ncp_shm_reader *reader;	/* the daemon's own segment */
	size_t stride;

	/* Models in flight: offered by the controller, adopted by the
	 * emulator, handed back to be freed by the controller. */
	_Atomic(struct emu_slot *) pending;
	struct ncp_retired retired;	/* freed by the next offer */
	pthread_mutex_t load_lock;	/* serialises ncp_emulator_load */
	/* The slot in use, for the threads that offer weights or copy them
	 * (they hold weights_lock while they touch its models). */
	_Atomic(struct emu_slot *) current;
	pthread_mutex_t weights_lock;

	pthread_t thread;
	bool thread_ok;
	_Atomic bool stop;
	_Atomic bool hold;		/* tests: the thread takes no steps */

	_Atomic uint64_t claim;		/* next << 2 | holder (above) */
	/* The emulator thread's heartbeat while it watches the ring for
	 * new steps (ns, CLOCK_MONOTONIC; 0 while it sleeps). */
	_Atomic uint64_t beat_ns;

	/* ---- The holder's. ---- */
	struct emu_slot *active;	/* written by the emulator thread only */
	uint64_t next;			/* the next step to feed */
	uint8_t *win;			/* window slot copies */
	struct ncp_shm_arm_entry *arms;
	uint32_t *spikes;
	uint64_t predictions, skipped;
	uint64_t fallbacks;		/* predictions the loop made */
	struct ncp_hist latency;
	struct ncp_hist fallback_cost;	/* the loop's time in a fallback */
	double se_hand, se_q, se_dq;	/* over the run */
	uint64_t scored, unscored;
	double *ring;			/* last second: 3 squared errors a step */
	int ring_len, ring_pos, ring_n;
	double ring_sum[3];
	double sec_se[SECONDS_KEPT];	/* per simulated second: hand */
	uint64_t sec_n[SECONDS_KEPT];
	int64_t sec_cur;
	double first_under;		/* s; NAN until it happens */
	double t_last;
	struct pending *pend;		/* [PENDING] */
	uint64_t pend_head, pend_tail;
	struct ncp_shm_predicted pred;

	/* ---- The emulator thread's. ---- */
	uint64_t status_at;		/* predictions at the last status */
	struct ncp_follow follow;	/* the loop's schedule */

	/* For other threads. */
	_Atomic uint64_t pub_pred_hand;	/* two floats */
	_Atomic bool pub_have_hand;
	/* Written by the emulator thread (holding the claim) or after it
	 * stopped; read by any thread without a lock (ncp_seqlock). */
	alignas(64) struct status_block status;
	struct status_block status_img;	/* the writer's image of it */
};

static void slot_free(struct emu_slot *s)
{
	if (!s)
		return;
	ncp_emu_state_free(s->state);
	ncp_emu_model_free(s->model);
	ncp_emu_model_free(s->spare);
	free(s);
}

/* Publish status_img (the emulator thread, holding the claim, or any
 * thread once it has stopped: one writer at a time). */
static void write_status(struct ncp_emulator *e)
{
	ncp_seqlock_write(&e->status, &e->status_img, sizeof(e->status_img));
}

struct ncp_emulator *ncp_emulator_new(const struct ncp_emulator_params *p,
				      struct ncp_shm_writer *shm, char *err,
				      size_t errlen)
{
	struct ncp_emulator *e = ncp_calloc_aligned(1, sizeof(*e));
	if (!e) {
		ncp_errf(err, errlen, "out of memory");
		return NULL;
	}
	e->p = *p;
	e->shm = shm;
	pthread_mutex_init(&e->load_lock, NULL);
	pthread_mutex_init(&e->weights_lock, NULL);
	atomic_init(&e->claim, 0);
	e->reader = ncp_shm_reader_from_mem(ncp_shm_writer_base(shm),
					    ncp_shm_writer_size(shm), err, errlen);
	if (!e->reader)
		goto fail;
	e->stride = ncp_shm_reader_window_stride(e->reader);
	e->ring_len = (int)lround(1.0 / p->dt);
	e->win = ncp_calloc_aligned(MAX_CATCHUP, e->stride);
	e->arms = ncp_calloc_aligned(MAX_CATCHUP, sizeof(*e->arms));
	e->spikes = ncp_calloc_aligned((size_t)p->m1_neurons + 1, sizeof(uint32_t));
	e->ring = ncp_calloc_aligned((size_t)e->ring_len * 3, sizeof(double));
	e->pend = ncp_calloc_aligned(PENDING, sizeof(*e->pend));
	if (!e->win || ncp_follow_init(&e->follow, e->reader, p->dt) ||
	    !e->arms || !e->spikes || !e->ring || !e->pend) {
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	ncp_hist_reset(&e->latency);
	ncp_hist_reset(&e->fallback_cost);
	e->first_under = NAN;
	e->sec_cur = -1;
	e->status_img.st.latency_p99_us = NAN;
	write_status(e);
	return e;
fail:
	ncp_emulator_free(e);
	return NULL;
}

void ncp_emulator_free(struct ncp_emulator *e)
{
	if (!e)
		return;
	ncp_emulator_stop(e);
	slot_free(atomic_exchange(&e->pending, NULL));
	for (struct emu_slot *r; (r = ncp_retired_take(&e->retired));)
		slot_free(r);
	slot_free(e->active);
	ncp_shm_reader_free(e->reader);
	free(e->win);
	ncp_follow_fini(&e->follow);
	free(e->arms);
	free(e->spikes);
	free(e->ring);
	free(e->pend);
	pthread_mutex_destroy(&e->load_lock);
	pthread_mutex_destroy(&e->weights_lock);
	free(e);
}

int ncp_emulator_offer(struct ncp_emulator *e, struct ncp_emu_model *m,
		       const char *label, char *err, size_t errlen)
{
	const struct ncp_emu_spec *spec = ncp_emu_model_spec(m);
	if (spec->neurons != e->p.m1_neurons || fabs(spec->dt - e->p.dt) > 1e-12) {
		ncp_errf(err, errlen, "%s: the model reads %d M1 neurons at dt %g s; "
			 "this daemon has %d at dt %g s", label, spec->neurons,
			 spec->dt, e->p.m1_neurons, e->p.dt);
		ncp_emu_model_free(m);
		return -EINVAL;
	}
	if (ncp_emu_spec_joints(spec) != e->p.arm.links) {
		ncp_errf(err, errlen, "%s: the model predicts an arm of %d links "
			 "(%d outputs); this daemon's arm has %d (arm.links): "
			 "train one on recordings of this arm", label,
			 ncp_emu_spec_joints(spec), ncp_emu_model_outputs(m),
			 e->p.arm.links);
		ncp_emu_model_free(m);
		return -EINVAL;
	}
	struct emu_slot *s = calloc(1, sizeof(*s));
	if (s) {
		s->model = m;
		s->state = ncp_emu_state_new(m);
		s->spare = ncp_emu_model_clone(m);
		atomic_init(&s->sum, ncp_emu_model_checksum(m));
	}
	if (!s || !s->state || !s->spare) {
		ncp_errf(err, errlen, "out of memory");
		if (s)
			slot_free(s);
		else
			ncp_emu_model_free(m);
		return -ENOMEM;
	}
	snprintf(s->label, sizeof(s->label), "%s", label);
	pthread_mutex_lock(&e->load_lock);
	/* Free what the emulator handed back (not while weights are being
	 * copied into it), and any offer it never took. */
	pthread_mutex_lock(&e->weights_lock);
	for (struct emu_slot *r; (r = ncp_retired_take(&e->retired));)
		slot_free(r);
	pthread_mutex_unlock(&e->weights_lock);
	/* Publishes the slot: pairs with the acquire exchange in adopt(). */
	slot_free(atomic_exchange_explicit(&e->pending, s, memory_order_acq_rel));
	pthread_mutex_unlock(&e->load_lock);
	ncp_log_info("emulator: %s (%s, window %d, %zu parameters)", label,
		     ncp_emu_model_arch_name(m), spec->window,
		     ncp_emu_model_params(m));
	return 0;
}

int ncp_emulator_load(struct ncp_emulator *e, const char *path,
		      const char *label, char *err, size_t errlen)
{
	char msg[512];
	struct ncp_emu_model *m = ncp_emu_model_load(path, msg, sizeof(msg));
	if (!m) {
		ncp_errf(err, errlen, "%s", msg);
		return -EINVAL;
	}
	return ncp_emulator_offer(e, m, label, err, errlen);
}

int ncp_emulator_offer_weights(struct ncp_emulator *e,
			       const struct ncp_emu_model *src)
{
	int ret = -EINVAL;
	pthread_mutex_lock(&e->weights_lock);
	/* Pairs with the release store of `current` in adopt(). */
	struct emu_slot *s = atomic_load_explicit(&e->current,
						  memory_order_acquire);
	/* Pairs with the release store of false in take_weights(): the
	 * emulator no longer reads the spare. */
	if (s && atomic_load_explicit(&s->spare_ready, memory_order_acquire)) {
		ret = -EBUSY;
	} else if (s && ncp_emu_model_copy(s->spare, src) == 0) {
		atomic_store(&s->spare_sum, ncp_emu_model_checksum(src));
		/* The spare's weights are complete: pairs with the acquire
		 * load in take_weights(). */
		atomic_store_explicit(&s->spare_ready, true, memory_order_release);
		ret = 0;
	}
	pthread_mutex_unlock(&e->weights_lock);
	return ret;
}

struct ncp_emu_model *ncp_emulator_clone_model(struct ncp_emulator *e,
					       char *label, size_t len)
{
	struct ncp_emu_model *m = NULL;
	pthread_mutex_lock(&e->weights_lock);
	/* Pairs with the release store of `current` in adopt(). */
	struct emu_slot *s = atomic_load_explicit(&e->current,
						  memory_order_acquire);
	if (s) {
		/* s->model changes only by a swap, after which offers go to
		 * the old model: not while we hold the lock. */
		m = ncp_emu_model_clone(s->model);
		snprintf(label, len, "%s", s->label);
	}
	pthread_mutex_unlock(&e->weights_lock);
	return m;
}

/* Swap in weights the online trainer offered: the state keeps its
 * history, the old model becomes the spare.  The first layer's state is
 * rebuilt here, by the emulator thread, so that a fallback prediction by
 * the loop never has to. */
static void take_weights(struct ncp_emulator *e)
{
	struct emu_slot *s = e->active;
	/* Pairs with the release store of true in
	 * ncp_emulator_offer_weights(): the spare's weights are complete. */
	if (!s || !atomic_load_explicit(&s->spare_ready, memory_order_acquire))
		return;
	if (ncp_emu_state_set_model(s->state, s->spare) == 0) {
		struct ncp_emu_model *old = s->model;
		atomic_store(&s->model, atomic_load(&s->spare));
		atomic_store(&s->spare, old);
		atomic_store(&s->sum, atomic_load(&s->spare_sum));
		ncp_emu_state_prepare(s->state);
	}
	/* The spare may be written again: pairs with the acquire load in
	 * ncp_emulator_offer_weights. */
	atomic_store_explicit(&s->spare_ready, false, memory_order_release);
}

/* The arm state after a window slot's step, as its observation carries it
 * (q, dq, hand after the recording electrodes), or NULL when the writer
 * publishes none: the arm-state input of the next step (ncp_emu_set_arm). */
static const float *slot_arm(const struct ncp_emulator *e,
			     const struct ncp_shm_win_slot *w)
{
	const struct ncp_shm_header *h = ncp_shm_reader_header(e->reader);
	const float *obs = ncp_shm_win_obs(w, h);
	return obs ? obs + h->rec_electrodes : NULL;
}

/* Spike indices of a window slot copy. */
static int slot_spikes(const struct ncp_emulator *e,
		       const struct ncp_shm_win_slot *w, uint32_t *out)
{
	int n = 0;
	int words = (e->p.m1_neurons + 63) / 64;
	for (int k = 0; k < words; k++) {
		uint64_t b = w->bits[k];
		while (b) {
			out[n++] = (uint32_t)(k * 64 + __builtin_ctzll(b));
			b &= b - 1;
		}
	}
	return n;
}

static void label_copy(char *dst, size_t len, const char *src)
{
	size_t n = strnlen(src, len - 1);
	memcpy(dst, src, n);
	memset(dst + n, 0, len - n);
}

/* Take a newly offered model and feed it the recent history, up to (not
 * including) step `upto`.  The emulator thread, holding the claim (or the
 * loop in lockstep). */
static void adopt(struct ncp_emulator *e, uint64_t upto)
{
	/* Pairs with the release in ncp_emulator_offer. */
	struct emu_slot *s = atomic_exchange_explicit(&e->pending, NULL,
						      memory_order_acq_rel);
	if (!s)
		return;
	struct emu_slot *old = e->active;
	e->active = s;
	/* Pairs with the acquire loads in offer_weights and clone_model. */
	atomic_store_explicit(&e->current, s, memory_order_release);
	/* The controller frees it on its next load or at exit. */
	ncp_retired_put(&e->retired, old);
	uint64_t w = (uint64_t)ncp_emu_model_window(s->model);
	if (w > MAX_CATCHUP)
		w = MAX_CATCHUP;
	uint64_t from = upto > w ? upto - w : 0;
	struct ncp_ring_span span = { 0 };
	if (upto > from &&
	    ncp_shm_reader_window_since(e->reader, from, MAX_CATCHUP, e->win,
					e->stride * MAX_CATCHUP, &span) == 0) {
		/* (The newest steps since `from`: all of them up to `upto`
		 * unless the ring moved on by more than MAX_CATCHUP - w.) */
		for (uint32_t i = 0; i < span.count; i++) {
			const struct ncp_shm_win_slot *ws =
				ncp_shm_win_at(e->win, e->stride, i);
			if (ws->step >= upto)
				break;
			int n = slot_spikes(e, ws, e->spikes);
			ncp_emu_push(s->state, e->spikes, n, ws->stim,
				     (int)ws->stim_count);
			ncp_emu_set_arm(s->state, slot_arm(e, ws));
		}
	}
	struct ncp_emulator_status *st = &e->status_img.st;
	st->loaded = true;
	snprintf(st->model, sizeof(st->model), "%s", s->label);
	snprintf(st->arch, sizeof(st->arch), "%s",
		 ncp_emu_model_arch_name(s->model));
	st->horizon = ncp_emu_model_horizon(s->model);
	st->arm_input = ncp_emu_model_arm_inputs(s->model) > 0;
	st->residual = ncp_emu_model_residual(s->model);
	st->checksum = atomic_load(&s->sum);
	write_status(e);
}

/* The emulator thread (holding the claim) or after it stopped. */
static void publish_status(struct ncp_emulator *e)
{
	double n = e->scored ? (double)e->scored : 1.0;
	struct ncp_emulator_status *st = &e->status_img.st;
	st->predictions = e->predictions;
	st->skipped = e->skipped;
	st->fallbacks = e->fallbacks;
	st->scored = e->scored;
	st->latency_p99_us = ncp_hist_quantile_us(&e->latency, 0.99);
	st->hand_rmse_1s = e->pred.hand_rmse;
	st->hand_rmse = sqrt(e->se_hand / n);
	st->q_rmse = sqrt(e->se_q / n);
	st->dq_rmse = sqrt(e->se_dq / n);
	if (e->active)
		st->checksum = atomic_load(&e->active->sum);
	write_status(e);
	e->status_at = e->predictions;
}

/* Score a prediction against the real arm and fold it into the run's and
 * the last second's errors. */
static void score(struct ncp_emulator *e, uint64_t step, const float *x,
		  const double *q, const double *dq, const double hand[2])
{
	/* x: q (J), dq (J), hand x, y; q and dq as the mean over joints. */
	const int J = e->p.arm.links;
	const float *xh = x + 2 * J;
	double se[3] = {
		(xh[0] - hand[0]) * (xh[0] - hand[0]) +
			(xh[1] - hand[1]) * (xh[1] - hand[1]), 0.0, 0.0 };
	for (int j = 0; j < J; j++) {
		se[1] += (x[j] - q[j]) * (x[j] - q[j]);
		se[2] += (x[J + j] - dq[j]) * (x[J + j] - dq[j]);
	}
	se[1] /= J;
	se[2] /= J;
	if (!isfinite(se[0] + se[1] + se[2]))
		return;
	e->se_hand += se[0];
	e->se_q += se[1];
	e->se_dq += se[2];
	e->scored++;
	double *slot = &e->ring[3 * e->ring_pos];
	for (int k = 0; k < 3; k++) {
		if (e->ring_n == e->ring_len)
			e->ring_sum[k] -= slot[k];
		slot[k] = se[k];
		e->ring_sum[k] += se[k];
	}
	e->ring_pos = (e->ring_pos + 1) % e->ring_len;
	if (e->ring_n < e->ring_len)
		e->ring_n++;
	double t = (double)(step + 1) * e->p.dt;
	e->t_last = t;
	double rmse1 = sqrt(fmax(0.0, e->ring_sum[0]) / e->ring_n);
	if (isnan(e->first_under) && e->ring_n == e->ring_len && rmse1 < 0.05)
		e->first_under = t;
	int64_t sec = (int64_t)floor(t - 1e-9);
	if (sec != e->sec_cur) {
		for (int64_t s = e->sec_cur + 1; s <= sec; s++) {
			e->sec_se[s % SECONDS_KEPT] = 0;
			e->sec_n[s % SECONDS_KEPT] = 0;
		}
		e->sec_cur = sec;
	}
	e->sec_se[sec % SECONDS_KEPT] += se[0];
	e->sec_n[sec % SECONDS_KEPT]++;
	e->pred.hand_rmse = rmse1;
	e->pred.q_rmse = sqrt(fmax(0.0, e->ring_sum[1]) / e->ring_n);
	e->pred.dq_rmse = sqrt(fmax(0.0, e->ring_sum[2]) / e->ring_n);
}

/* Score the pending predictions whose steps' arm entries are in the ring
 * now (the loop writes a step's arm entry just after its spikes, so the
 * emulator usually sees a step before its arm entry).  In step order. */
static void score_pending(struct ncp_emulator *e)
{
	while (e->pend_tail < e->pend_head) {
		uint64_t first = e->pend[e->pend_tail % PENDING].step;
		struct ncp_ring_span span = { 0 };
		/* The entries from `first` (the newest MAX_CATCHUP of them,
		 * when more were written since). */
		if (ncp_shm_reader_arm(e->reader, first, MAX_CATCHUP, e->arms,
				       &span) || span.count == 0)
			return;
		uint64_t end = span.first + span.count;
		bool progress = false;
		while (e->pend_tail < e->pend_head) {
			const struct pending *pp = &e->pend[e->pend_tail % PENDING];
			if (pp->step >= end)
				break;
			if (pp->step >= span.first) {
				const struct ncp_shm_arm_entry *a =
					&e->arms[pp->step - span.first];
				double q[3] = { a->q[0], a->q[1], a->q2 };
				double dq[3] = { a->dq[0], a->dq[1], a->dq2 };
				double hand[2] = { a->hand[0], a->hand[1] };
				score(e, pp->step, pp->x, q, dq, hand);
			} else {
				e->unscored++;	/* gone from the ring */
			}
			e->pend_tail++;
			progress = true;
		}
		if (!progress || span.count < MAX_CATCHUP)
			return;
	}
}

/* Predict the latest fed step (`step`) and publish it; x gets the
 * prediction.  Returns whether it is to be scored: once the model has a
 * full window behind it (as ncp-train evaluates), that is every step from
 * step window - 1 on when the model was there from the first step.  The
 * holder of the claim. */
static bool predict(struct ncp_emulator *e, uint64_t step, uint64_t t_ns,
		    float *x)
{
	struct emu_slot *s = e->active;
	const int J = e->p.arm.links;
	double hq[NCP_ARM_MAX_LINKS], fk[2];

	ncp_emu_predict(s->state, x);
	for (int j = 0; j < J; j++)
		hq[j] = x[j];
	ncp_arm_hand(&e->p.arm, hq, fk);
	struct ncp_shm_predicted *p = &e->pred;
	p->step = step;
	/* x[] in the 2-joint order, a third joint's in x_wrist. */
	for (int k = 0; k < 2; k++) {
		p->x[k] = x[k];
		p->x[2 + k] = x[J + k];
		p->x[4 + k] = x[2 * J + k];
	}
	p->x_wrist[0] = J == 3 ? x[2] : 0.0;
	p->x_wrist[1] = J == 3 ? x[5] : 0.0;
	p->hand_fk[0] = fk[0];
	p->hand_fk[1] = fk[1];
	p->skipped_steps = e->skipped;
	p->model_loaded = 1;
	label_copy(p->model, sizeof(p->model), s->label);
	uint64_t now = ncp_now_ns();
	p->latency_us = t_ns && now > t_ns ? (double)(now - t_ns) / 1e3 : 0.0;
	ncp_shm_writer_put_predicted(e->shm, p);
	if (e->recorder)
		ncp_recorder_push_pred(e->recorder, step, x);
	if (t_ns && now > t_ns)
		ncp_hist_add(&e->latency, now - t_ns);
	e->predictions++;
	float xy[2] = { (float)fk[0], (float)fk[1] };
	uint64_t packed;
	memcpy(&packed, xy, sizeof(packed));
	atomic_store_explicit(&e->pub_pred_hand, packed, memory_order_relaxed);
	atomic_store_explicit(&e->pub_have_hand, true, memory_order_relaxed);
	return ncp_emu_state_steps(s->state) >=
	       (uint64_t)ncp_emu_model_window(s->model);
}

/* Keep a prediction to score once the arm entry of the step it predicts
 * is there (real time; lockstep with a horizon). */
static void pend_push(struct ncp_emulator *e, uint64_t step,
		      const float *x)
{
	if (e->pend_head - e->pend_tail == PENDING) {
		e->pend_tail++;		/* never, at one arm entry a step */
		e->unscored++;
	}
	struct pending *pp = &e->pend[e->pend_head++ % PENDING];
	pp->step = step;
	memcpy(pp->x, x, sizeof(pp->x));
}

void ncp_emulator_step(struct ncp_emulator *e, uint64_t step,
		       const uint32_t *spikes, int n, const float *theta,
		       int nstim, const struct ncp_arm_state *arm)
{
	float x[NCP_EMU_MAX_OUTPUTS];

	adopt(e, step);
	take_weights(e);
	if (!e->active)
		return;
	ncp_emu_push(e->active->state, spikes, n, theta, nstim);
	bool full = predict(e, step, 0, x);
	{
		/* The arm after this step: the next step's arm input. */
		float a[NCP_ARM_MAX_STATE];
		ncp_arm_state_flat(arm, a);
		ncp_emu_set_arm(e->active->state, a);
	}
	int h = ncp_emu_model_horizon(e->active->model);
	if (h == 0) {
		if (full)
			score(e, step, x, arm->q, arm->dq, arm->hand);
	} else {
		/* A prediction of step + h waits for that step's arm; steps
		 * come in order, so the oldest waiting one is due first. */
		if (full)
			pend_push(e, step + (uint64_t)h, x);
		while (e->pend_tail < e->pend_head) {
			const struct pending *pp = &e->pend[e->pend_tail % PENDING];
			if (pp->step > step)
				break;
			if (pp->step == step)
				score(e, step, pp->x, arm->q, arm->dq, arm->hand);
			else
				e->unscored++;
			e->pend_tail++;
		}
	}
	e->next = step + 1;
	if (e->predictions - e->status_at >= STATS_EVERY)
		publish_status(e);
}

/* Feed the window slot copies win[from .. count) and predict the newest
 * `predict_last` of them; the holder of the claim, with e->active set. */
static void feed(struct ncp_emulator *e, uint32_t from, uint32_t count,
		 uint32_t predict_last)
{
	float x[NCP_EMU_MAX_OUTPUTS];

	for (uint32_t i = from; i < count; i++) {
		const struct ncp_shm_win_slot *ws = ncp_shm_win_at(e->win, e->stride, i);
		int n = slot_spikes(e, ws, e->spikes);
		ncp_emu_push(e->active->state, e->spikes, n, ws->stim,
			     (int)ws->stim_count);
		/* The slot's arm (after its step) is the next step's input;
		 * the prediction below reads the one before it. */
		ncp_emu_set_arm(e->active->state, slot_arm(e, ws));
		if (count - i > predict_last) {
			e->skipped++;
			continue;
		}
		if (predict(e, ws->step, ws->t_ns, x))
			pend_push(e, ws->step + (uint64_t)ncp_emu_model_horizon(
						   e->active->model), x);
	}
	score_pending(e);
}

/* Real time, the emulator thread holding the claim: feed every step the
 * loop published since `next`, predict the newest.  Returns how many
 * steps were read. */
static uint32_t follow(struct ncp_emulator *e)
{
	struct ncp_ring_span span = { 0 };
	uint64_t head = ncp_shm_reader_head(e->reader);
	if (head <= e->next) {
		if (atomic_load_explicit(&e->pending, memory_order_relaxed))
			adopt(e, head);
		take_weights(e);
		score_pending(e);
		return 0;
	}
	/* A new model first (it reads its history into e->win), then the
	 * new steps. */
	adopt(e, e->next);
	take_weights(e);
	int ret = ncp_shm_reader_window_since(e->reader, e->next, MAX_CATCHUP,
					      e->win, e->stride * MAX_CATCHUP,
					      &span);
	if (ret || span.count == 0)
		return 0;
	if (span.first > e->next)
		e->skipped += span.first - e->next; /* gone from the ring */
	e->next = span.first + span.count;
	if (!e->active)
		return span.count;
	/* A short backlog (the loop catching up after a stall) is predicted
	 * step by step, a prediction costing far less than a step; only the
	 * older steps of a long one are fed without a prediction. */
	feed(e, 0, span.count, PREDICT_BACKLOG);
	return span.count;
}

/* Take the model state from (next << 2 | HOLD_NONE) as `who`; false when
 * another thread holds it or took it first (ncp_follow.h). */
static bool claim_take(struct ncp_emulator *e, uint64_t c, unsigned who)
{
	return ncp_follow_claim_take(&e->claim, c, who);
}

/* Give the state back; the holder's `next` says which step comes next. */
static void claim_give(struct ncp_emulator *e)
{
	ncp_follow_claim_give(&e->claim, e->next);
}

void ncp_emulator_fallback(struct ncp_emulator *e, uint64_t step)
{
	if (!e || e->p.lockstep)
		return;
	/* Acquire: pairs with claim_give(); only the step counter is read
	 * before the state is taken. */
	uint64_t c = atomic_load_explicit(&e->claim, memory_order_acquire);
	uint64_t next = c >> 2;
	if ((c & HOLD_MASK) || next > step || step - next >= FALLBACK_MAX_STEPS)
		return;	/* being predicted, done, or a backlog for the thread */
	uint64_t t0 = ncp_now_ns();
	/* Orders the step's publication (the ring head) before the look at
	 * the heartbeat; pairs with the fence in emulator_thread() between
	 * clearing the heartbeat and its last look at the head, so that a
	 * step is either seen by the emulator thread or falls back here. */
	atomic_thread_fence(memory_order_seq_cst);
	/* Relaxed: a heartbeat is a hint; the claim decides who predicts. */
	uint64_t beat = atomic_load_explicit(&e->beat_ns, memory_order_relaxed);
	if (beat && t0 < beat + FALLBACK_STALE_NS)
		return;	/* the emulator thread is watching: it takes the step */
	if (!claim_take(e, c, HOLD_LOOP))
		return;
	e->next = next;
	struct ncp_ring_span span = { 0 };
	uint32_t want = (uint32_t)(step + 1 - next);
	if (e->active && ncp_emu_state_ready(e->active->state) &&
	    ncp_shm_reader_window_since(e->reader, next, want, e->win,
					e->stride * MAX_CATCHUP, &span) == 0 &&
	    span.first == next && span.count == want) {
		feed(e, 0, span.count, span.count);
		e->next = step + 1;
		e->fallbacks++;
		ncp_hist_add(&e->fallback_cost, ncp_now_ns() - t0);
	}
	claim_give(e);
}

/* One look at the ring by the emulator thread: take the state if there is
 * work and nobody holds it.  Returns the steps read. */
static uint32_t look(struct ncp_emulator *e, bool drain)
{
	/* Acquire: pairs with claim_give(). */
	uint64_t c = atomic_load_explicit(&e->claim, memory_order_acquire);
	uint64_t head = ncp_shm_reader_head(e->reader);
	bool work = head > (c >> 2) || drain ||
		    atomic_load_explicit(&e->pending, memory_order_relaxed) ||
		    (e->active && atomic_load_explicit(&e->active->spare_ready,
						       memory_order_relaxed));
	if (!work || !claim_take(e, c, HOLD_EMU))
		return 0;
	e->next = c >> 2;
	uint32_t n = 0, got;
	do {
		got = follow(e);
		n += got;
	} while (drain && got);
	if (e->predictions - e->status_at >= STATS_EVERY || drain)
		publish_status(e);
	claim_give(e);
	return n;
}

static void *emulator_thread(void *arg)
{
	struct ncp_emulator *e = arg;
	pthread_setname_np(pthread_self(), "ncp-emu");
	ncp_rt_setup_follower("emulator thread", e->p.priority, e->p.cpu,
			      e->p.loop_cpu);
	while (!atomic_load(&e->stop)) {
		if (atomic_load_explicit(&e->hold, memory_order_relaxed)) {
			atomic_store_explicit(&e->beat_ns, 0, memory_order_relaxed);
			clock_nanosleep(CLOCK_MONOTONIC, 0,
					&(struct timespec){ 0, HOLD_NS }, NULL);
			continue;
		}
		uint64_t now = ncp_now_ns();
		/* Relaxed: read by the loop as a hint (ncp_emulator_fallback). */
		atomic_store_explicit(&e->beat_ns, now, memory_order_relaxed);
		if (look(e, false) && e->active)
			continue;
		uint64_t head = ncp_shm_reader_head(e->reader);
		ncp_follow_update(&e->follow, head);
		if (!e->active) {
			/* No model: nothing to be on time for.  A model loaded
			 * meanwhile is taken at the next look. */
			atomic_store_explicit(&e->beat_ns, 0, memory_order_relaxed);
			clock_nanosleep(CLOCK_MONOTONIC, 0,
					&(struct timespec){ 0, IDLE_NS }, NULL);
			continue;
		}
		/* Nothing new.  The loop publishes once a period: sleep until
		 * shortly before the next step is due on its schedule (as
		 * published steps show it, so the phase never drifts and a
		 * late step does not shift it); around the due time watch the
		 * ring without sleeping (a wake-up costs tens of microseconds
		 * here), for at most NCP_FOLLOW_SPIN_NS.  While it sleeps its heartbeat
		 * is stale and the loop predicts the steps itself. */
		uint64_t wake;
		if (ncp_follow_watch(&e->follow, head, now, &wake)) {
			ncp_word_relax();
			continue;
		}
		/* No heartbeat while asleep; then look at the ring once more:
		 * a step the loop published meanwhile is either seen here or
		 * the loop sees the stale heartbeat and predicts it.  The
		 * fence pairs with the one in ncp_emulator_fallback (between
		 * the loop's publication and its look at the heartbeat). */
		atomic_store_explicit(&e->beat_ns, 0, memory_order_relaxed);
		atomic_thread_fence(memory_order_seq_cst);
		if (ncp_shm_reader_head(e->reader) >
		    atomic_load_explicit(&e->claim, memory_order_relaxed) >> 2)
			continue;
		ncp_follow_sleep(wake);
	}
	atomic_store_explicit(&e->beat_ns, 0, memory_order_relaxed);
	/* The steps published since the last look (at exit the loop has
	 * stopped), and the scores of the last predictions. */
	while (!look(e, true) && ncp_shm_reader_head(e->reader) >
	       (atomic_load(&e->claim) >> 2) && e->active)
		ncp_word_relax();	/* the loop holds the state */
	return NULL;
}

void ncp_emulator_set_recorder(struct ncp_emulator *e, struct ncp_recorder *r)
{
	e->recorder = r;
}

int ncp_emulator_start(struct ncp_emulator *e)
{
	if (e->p.lockstep || e->thread_ok)
		return 0;
	atomic_store(&e->stop, false);
	/* The thread follows from the steps published from now on. */
	atomic_store(&e->claim, ncp_shm_reader_head(e->reader) << 2 | HOLD_NONE);
	int ret = pthread_create(&e->thread, NULL, emulator_thread, e);
	if (ret)
		return -ret;
	e->thread_ok = true;
	return 0;
}

void ncp_emulator_stop(struct ncp_emulator *e)
{
	if (!e->thread_ok)
		return;
	atomic_store(&e->stop, true);
	pthread_join(e->thread, NULL);
	e->thread_ok = false;
}

void ncp_emulator_hold(struct ncp_emulator *e, bool hold)
{
	atomic_store(&e->hold, hold);
}

bool ncp_emulator_pred_hand(const struct ncp_emulator *e, float xy[2])
{
	if (!e || !atomic_load_explicit(&e->pub_have_hand, memory_order_relaxed))
		return false;
	uint64_t packed = atomic_load_explicit(&e->pub_pred_hand,
					       memory_order_relaxed);
	memcpy(xy, &packed, sizeof(packed));
	return true;
}

void ncp_emulator_status(struct ncp_emulator *e, struct ncp_emulator_status *s)
{
	struct status_block b;

	/* A write takes the emulator thread well under a microsecond; one
	 * that stays in progress means its CPU stalled in the middle: look
	 * again a little later (this is never the loop's thread). */
	for (int tries = 0; tries < 200; tries++) {
		if (ncp_seqlock_read(&e->status, &b, sizeof(b)) == 0) {
			*s = b.st;
			return;
		}
		clock_nanosleep(CLOCK_MONOTONIC, 0,
				&(struct timespec){ 0, 500000 }, NULL);
	}
	memset(s, 0, sizeof(*s));	/* 100 ms without a whole copy */
	s->latency_p99_us = NAN;
}

void ncp_emulator_json(const struct ncp_emulator *e, struct ncp_json *j)
{
	double n = e->scored ? (double)e->scored : NAN;
	ncp_json_key(j, "emulator");
	ncp_json_obj(j);
	ncp_json_key(j, "model");
	ncp_json_str(j, e->active ? e->active->label : NULL);
	ncp_json_key(j, "arch");
	ncp_json_str(j, e->active ? ncp_emu_model_arch_name(e->active->model) :
		     NULL);
	ncp_json_key(j, "arm_input");
	ncp_json_bool(j, e->active && ncp_emu_model_arm_inputs(e->active->model) > 0);
	ncp_json_key(j, "residual");
	ncp_json_bool(j, e->active && ncp_emu_model_residual(e->active->model));
	ncp_json_key(j, "mode");
	ncp_json_str(j, e->p.lockstep ? "lockstep" : "realtime");
	ncp_json_key(j, "predictions");
	ncp_json_int(j, (int64_t)e->predictions);
	ncp_json_key(j, "skipped_steps");
	ncp_json_int(j, (int64_t)e->skipped);
	ncp_json_key(j, "scored_steps");
	ncp_json_int(j, (int64_t)e->scored);
	ncp_json_key(j, "latency_us");
	ncp_json_obj(j);
	ncp_json_key(j, "p50");
	ncp_json_num(j, ncp_hist_quantile_us(&e->latency, 0.5));
	ncp_json_key(j, "p99");
	ncp_json_num(j, ncp_hist_quantile_us(&e->latency, 0.99));
	ncp_json_key(j, "max");
	ncp_json_num(j, ncp_hist_max_us(&e->latency));
	ncp_json_end(j);
	/* Steps the loop predicted itself, and what that cost the loop. */
	ncp_json_key(j, "fallback");
	ncp_json_obj(j);
	ncp_json_key(j, "predictions");
	ncp_json_int(j, (int64_t)e->fallbacks);
	ncp_json_key(j, "cost_us");
	ncp_json_obj(j);
	ncp_json_key(j, "p50");
	ncp_json_num(j, ncp_hist_quantile_us(&e->fallback_cost, 0.5));
	ncp_json_key(j, "p99");
	ncp_json_num(j, ncp_hist_quantile_us(&e->fallback_cost, 0.99));
	ncp_json_key(j, "max");
	ncp_json_num(j, ncp_hist_max_us(&e->fallback_cost));
	ncp_json_end(j);
	ncp_json_end(j);
	ncp_json_key(j, "hand_rmse");
	ncp_json_num(j, sqrt(e->se_hand / n));
	ncp_json_key(j, "q_rmse");
	ncp_json_num(j, sqrt(e->se_q / n));
	ncp_json_key(j, "dq_rmse");
	ncp_json_num(j, sqrt(e->se_dq / n));
	/* The last 20 simulated seconds (whole seconds before the last). */
	double se = 0;
	uint64_t cnt = 0;
	for (int64_t s = e->sec_cur; s >= 0 && s > e->sec_cur - 20; s--) {
		se += e->sec_se[s % SECONDS_KEPT];
		cnt += e->sec_n[s % SECONDS_KEPT];
	}
	ncp_json_key(j, "hand_rmse_last_20s");
	ncp_json_num(j, cnt ? sqrt(se / (double)cnt) : NAN);
	ncp_json_key(j, "first_under_0_05_s");
	ncp_json_num(j, e->first_under);
	ncp_json_end(j);
}
