#include "daemon/ncp_emulator.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/ncp_rt.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_hist.h"
#include "models/emu/ncp_emu.h"
#include "shm/ncp_shm_reader.h"

#define STATS_EVERY 250		/* predictions between status updates */
#define SECONDS_KEPT 32		/* per-second error buckets */
#define MAX_CATCHUP 224		/* steps read from the ring at once */
#define PREDICT_BACKLOG 64	/* newest steps of a backlog still predicted */
#define SPIN_LEAD_NS 60000ull	/* wake this long before a step is due */
#define SPIN_NS 300000ull	/* then watch for it this long past due */
#define IDLE_NS 5000000		/* between looks while no model is loaded */
/* Steps over which the loop's schedule is estimated (a pause or a
 * re-anchored clock moves it; a late step or a stall does not). */
#define GRID_STEPS 128

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

struct ncp_emulator {
	struct ncp_emulator_params p;
	struct ncp_shm_writer *shm;
	struct ncp_shm_reader *reader;	/* the daemon's own segment */
	size_t stride;

	/* Models in flight: offered by the controller, adopted by the
	 * emulator, handed back to be freed by the controller. */
	_Atomic(struct emu_slot *) pending;
	_Atomic(struct emu_slot *) retired;
	pthread_mutex_t load_lock;	/* serialises ncp_emulator_load */
	struct emu_slot *active;	/* the emulator's own */
	/* The slot in use, for the threads that offer weights or copy them
	 * (they hold weights_lock while they touch its models). */
	_Atomic(struct emu_slot *) current;
	pthread_mutex_t weights_lock;

	pthread_t thread;
	bool thread_ok;
	_Atomic bool stop;
	uint64_t next;			/* the next step to feed */

	/* Scratch (allocated at creation). */
	uint8_t *win;			/* window slot copies */
	struct ncp_shm_arm_entry *arms;
	uint32_t *spikes;

	/* Scores, the emulator's own (read by others after it stopped). */
	uint64_t predictions, skipped;
	struct ncp_hist latency;
	double se_hand, se_q, se_dq;	/* over the run */
	uint64_t scored;
	double *ring;			/* last second: 3 squared errors a step */
	int ring_len, ring_pos, ring_n;
	double ring_sum[3];
	double sec_se[SECONDS_KEPT];	/* per simulated second: hand */
	uint64_t sec_n[SECONDS_KEPT];
	int64_t sec_cur;
	double first_under;		/* s; NAN until it happens */
	double t_last;
	/* The loop's schedule: step k is published at grid + k * period at
	 * the earliest, grid the lowest t_ns - k period of the last
	 * GRID_STEPS steps (ring grid_off). */
	int64_t grid;
	int64_t grid_off[GRID_STEPS];
	uint32_t grid_n;
	bool have_grid;

	/* For other threads. */
	_Atomic uint64_t pub_pred_hand;	/* two floats */
	_Atomic bool pub_have_hand;
	pthread_mutex_t status_lock;
	struct ncp_emulator_status status;
	struct ncp_shm_predicted pred;
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

struct ncp_emulator *ncp_emulator_new(const struct ncp_emulator_params *p,
				      struct ncp_shm_writer *shm, char *err,
				      size_t errlen)
{
	struct ncp_emulator *e = calloc(1, sizeof(*e));
	if (!e) {
		ncp_errf(err, errlen, "out of memory");
		return NULL;
	}
	e->p = *p;
	e->shm = shm;
	pthread_mutex_init(&e->load_lock, NULL);
	pthread_mutex_init(&e->status_lock, NULL);
	pthread_mutex_init(&e->weights_lock, NULL);
	e->reader = ncp_shm_reader_from_mem(ncp_shm_writer_base(shm),
					    ncp_shm_writer_size(shm), err, errlen);
	if (!e->reader)
		goto fail;
	e->stride = ncp_shm_reader_window_stride(e->reader);
	e->ring_len = (int)lround(1.0 / p->dt);
	e->win = malloc(e->stride * MAX_CATCHUP);
	e->arms = calloc(MAX_CATCHUP, sizeof(*e->arms));
	e->spikes = calloc((size_t)p->m1_neurons + 1, sizeof(uint32_t));
	e->ring = calloc((size_t)e->ring_len * 3, sizeof(double));
	if (!e->win || !e->arms || !e->spikes || !e->ring) {
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	ncp_hist_reset(&e->latency);
	e->first_under = NAN;
	e->sec_cur = -1;
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
	slot_free(atomic_exchange(&e->retired, NULL));
	slot_free(e->active);
	ncp_shm_reader_free(e->reader);
	free(e->win);
	free(e->arms);
	free(e->spikes);
	free(e->ring);
	pthread_mutex_destroy(&e->load_lock);
	pthread_mutex_destroy(&e->status_lock);
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
	slot_free(atomic_exchange(&e->retired, NULL));
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
	struct emu_slot *s = atomic_load_explicit(&e->current,
						  memory_order_acquire);
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
 * history, the old model becomes the spare. */
static void take_weights(struct ncp_emulator *e)
{
	struct emu_slot *s = e->active;
	if (!s || !atomic_load_explicit(&s->spare_ready, memory_order_acquire))
		return;
	if (ncp_emu_state_set_model(s->state, s->spare) == 0) {
		struct ncp_emu_model *old = s->model;
		atomic_store(&s->model, atomic_load(&s->spare));
		atomic_store(&s->spare, old);
		atomic_store(&s->sum, atomic_load(&s->spare_sum));
	}
	/* The spare may be written again: pairs with the acquire load in
	 * ncp_emulator_offer_weights. */
	atomic_store_explicit(&s->spare_ready, false, memory_order_release);
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

/* Take a newly offered model and feed it the recent history, up to (not
 * including) step `upto`. */
static void adopt(struct ncp_emulator *e, uint64_t upto)
{
	/* Pairs with the release in ncp_emulator_load. */
	struct emu_slot *s = atomic_exchange_explicit(&e->pending, NULL,
						      memory_order_acq_rel);
	if (!s)
		return;
	struct emu_slot *old = e->active;
	e->active = s;
	/* Pairs with the acquire loads in offer_weights and clone_model. */
	atomic_store_explicit(&e->current, s, memory_order_release);
	/* The controller frees it on its next load or at exit (it empties
	 * `retired` before every offer, so nothing is there now). */
	struct emu_slot *prev = atomic_exchange(&e->retired, old);
	ncp_assert(prev == NULL);
	uint64_t w = (uint64_t)ncp_emu_model_window(s->model);
	if (w > MAX_CATCHUP)
		w = MAX_CATCHUP;
	uint64_t from = upto > w ? upto - w : 0;
	struct ncp_ring_span span = { 0 };
	if (upto > from &&
	    ncp_shm_reader_window_since(e->reader, from, (uint32_t)(upto - from),
					e->win, e->stride * MAX_CATCHUP, &span) == 0) {
		for (uint32_t i = 0; i < span.count; i++) {
			const struct ncp_shm_win_slot *ws =
				ncp_shm_win_at(e->win, e->stride, i);
			if (ws->step >= upto)
				break;
			int n = slot_spikes(e, ws, e->spikes);
			ncp_emu_push(s->state, e->spikes, n, ws->stim,
				     (int)ws->stim_count);
		}
	}
	pthread_mutex_lock(&e->status_lock);
	e->status.loaded = true;
	snprintf(e->status.model, sizeof(e->status.model), "%s", s->label);
	snprintf(e->status.arch, sizeof(e->status.arch), "%s",
		 ncp_emu_model_arch_name(s->model));
	e->status.checksum = atomic_load(&s->sum);
	pthread_mutex_unlock(&e->status_lock);
}

static void publish_status(struct ncp_emulator *e)
{
	double n = e->scored ? (double)e->scored : 1.0;
	pthread_mutex_lock(&e->status_lock);
	e->status.predictions = e->predictions;
	e->status.skipped = e->skipped;
	e->status.latency_p99_us = ncp_hist_quantile_us(&e->latency, 0.99);
	e->status.hand_rmse_1s = e->pred.hand_rmse;
	e->status.hand_rmse = sqrt(e->se_hand / n);
	e->status.q_rmse = sqrt(e->se_q / n);
	e->status.dq_rmse = sqrt(e->se_dq / n);
	if (e->active)
		e->status.checksum = atomic_load(&e->active->sum);
	pthread_mutex_unlock(&e->status_lock);
}

/* Score a prediction against the real arm and fold it into the run's and
 * the last second's errors. */
static void score(struct ncp_emulator *e, uint64_t step, const float *x,
		  const double q[2], const double dq[2], const double hand[2])
{
	double se[3] = {
		(x[4] - hand[0]) * (x[4] - hand[0]) +
			(x[5] - hand[1]) * (x[5] - hand[1]),
		((x[0] - q[0]) * (x[0] - q[0]) + (x[1] - q[1]) * (x[1] - q[1])) / 2,
		((x[2] - dq[0]) * (x[2] - dq[0]) +
		 (x[3] - dq[1]) * (x[3] - dq[1])) / 2,
	};
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

/* Predict for `step` (already pushed) and publish. */
static void predict(struct ncp_emulator *e, uint64_t step, uint64_t t_ns,
		    const double *q, const double *dq, const double *hand)
{
	struct emu_slot *s = e->active;
	float x[NCP_EMU_OUTPUTS];
	double hq[2], fk[2];

	ncp_emu_predict(s->state, x);
	hq[0] = x[0];
	hq[1] = x[1];
	ncp_arm_hand(&e->p.arm, hq, fk);
	/* Scored once the model has a full window behind it (as ncp-train
	 * evaluates): before that its input is not what it was trained on. */
	if (q && ncp_emu_state_steps(s->state) >=
		     (uint64_t)ncp_emu_model_window(s->model))
		score(e, step, x, q, dq, hand);
	struct ncp_shm_predicted *p = &e->pred;
	p->step = step;
	for (int k = 0; k < NCP_EMU_OUTPUTS; k++)
		p->x[k] = x[k];
	p->hand_fk[0] = fk[0];
	p->hand_fk[1] = fk[1];
	p->skipped_steps = e->skipped;
	p->model_loaded = 1;
	snprintf(p->model, sizeof(p->model), "%.31s", s->label);
	uint64_t now = ncp_now_ns();
	p->latency_us = t_ns && now > t_ns ? (now - t_ns) / 1e3 : 0.0;
	ncp_shm_writer_put_predicted(e->shm, p);
	if (t_ns && now > t_ns)
		ncp_hist_add(&e->latency, now - t_ns);
	e->predictions++;
	float xy[2] = { (float)fk[0], (float)fk[1] };
	uint64_t packed;
	memcpy(&packed, xy, sizeof(packed));
	atomic_store_explicit(&e->pub_pred_hand, packed, memory_order_relaxed);
	atomic_store_explicit(&e->pub_have_hand, true, memory_order_relaxed);
	if (e->predictions % STATS_EVERY == 0)
		publish_status(e);
}

void ncp_emulator_step(struct ncp_emulator *e, uint64_t step,
		       const uint32_t *spikes, int n, const float *theta,
		       int nstim, const struct ncp_arm_state *arm)
{
	adopt(e, step);
	take_weights(e);
	if (!e->active)
		return;
	ncp_emu_push(e->active->state, spikes, n, theta, nstim);
	predict(e, step, 0, arm->q, arm->dq, arm->hand);
	e->next = step + 1;
}

/* Real time: feed every step the loop published since the last call,
 * predict the newest.  Returns how many steps were read. */
static uint32_t follow(struct ncp_emulator *e)
{
	struct ncp_ring_span span = { 0 }, aspan = { 0 };
	uint64_t head = ncp_shm_reader_head(e->reader);
	if (head <= e->next) {
		if (atomic_load_explicit(&e->pending, memory_order_relaxed))
			adopt(e, head);
		return 0;
	}
	int ret = ncp_shm_reader_window_since(e->reader, e->next, MAX_CATCHUP,
					      e->win, e->stride * MAX_CATCHUP,
					      &span);
	if (ret || span.count == 0)
		return 0;
	if (span.first > e->next)
		e->skipped += span.first - e->next; /* gone from the ring */
	adopt(e, span.first);
	take_weights(e);
	uint64_t last = span.first + span.count - 1;
	e->next = last + 1;
	if (!e->active)
		return span.count;
	/* The arm states of these steps, for scoring. */
	uint32_t narm = 0;
	if (ncp_shm_reader_arm(e->reader, span.first, span.count, e->arms,
			       &aspan) == 0 && aspan.first == span.first)
		narm = aspan.count;
	/* A short backlog (the loop catching up after a stall) is predicted
	 * step by step, a prediction costing far less than a step; only the
	 * older steps of a long one are fed without a prediction. */
	for (uint32_t i = 0; i < span.count; i++) {
		const struct ncp_shm_win_slot *ws = ncp_shm_win_at(e->win, e->stride, i);
		int n = slot_spikes(e, ws, e->spikes);
		ncp_emu_push(e->active->state, e->spikes, n, ws->stim,
			     (int)ws->stim_count);
		if (span.count - i > PREDICT_BACKLOG) {
			e->skipped++;
			continue;
		}
		if (i < narm) {
			const struct ncp_shm_arm_entry *a = &e->arms[i];
			double q[2] = { a->q[0], a->q[1] };
			double dq[2] = { a->dq[0], a->dq[1] };
			double hand[2] = { a->hand[0], a->hand[1] };
			predict(e, ws->step, ws->t_ns, q, dq, hand);
		} else {
			predict(e, ws->step, ws->t_ns, NULL, NULL, NULL);
		}
	}
	/* A late step must not make the next one look late too. */
	const int64_t period = (int64_t)(e->p.dt * 1e9);
	for (uint32_t i = 0; i < span.count; i++) {
		const struct ncp_shm_win_slot *ws = ncp_shm_win_at(e->win, e->stride, i);
		if (!ws->t_ns)
			continue;
		e->grid_off[e->grid_n++ % GRID_STEPS] =
			(int64_t)ws->t_ns - (int64_t)ws->step * period;
	}
	uint32_t n = e->grid_n < GRID_STEPS ? e->grid_n : GRID_STEPS;
	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || e->grid_off[i] < e->grid)
			e->grid = e->grid_off[i];
	e->have_grid = n > 0;
	return span.count;
}

static void *emulator_thread(void *arg)
{
	struct ncp_emulator *e = arg;
	struct ncp_rt_params rp = { .priority = e->p.priority, .cpu = e->p.cpu };
	char warn[256];
	const uint64_t period = (uint64_t)(e->p.dt * 1e9);

	if (e->p.priority > 0 && !ncp_rt_setup_thread(&rp, warn, sizeof(warn)) &&
	    warn[0])
		ncp_log_warn("emulator thread: %s", warn);
	e->next = ncp_shm_reader_head(e->reader);
	while (!atomic_load(&e->stop)) {
		if (follow(e) && e->active)
			continue;
		if (!e->active) {
			/* No model: nothing to be on time for.  A model loaded
			 * meanwhile is taken at the next look. */
			clock_nanosleep(CLOCK_MONOTONIC, 0,
					&(struct timespec){ 0, IDLE_NS }, NULL);
			continue;
		}
		/* Nothing new.  The loop publishes once a period: sleep until
		 * shortly before the next step is due on its schedule (as
		 * published steps show it, so the phase never drifts and a
		 * late step does not shift it); around the due time watch the
		 * ring without sleeping (a wake-up costs tens of microseconds
		 * here), for at most SPIN_NS. */
		uint64_t now = ncp_now_ns();
		uint64_t due = (uint64_t)(e->grid + (int64_t)(e->next * period));
		if (e->have_grid && now + SPIN_LEAD_NS >= due && now < due + SPIN_NS) {
			__builtin_ia32_pause();
			continue;
		}
		uint64_t wake = due - SPIN_LEAD_NS;
		if (!e->have_grid || wake <= now || wake > now + 2 * period)
			wake = now + 20000;
		struct timespec ts = { (time_t)(wake / 1000000000u),
				       (long)(wake % 1000000000u) };
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
	}
	return NULL;
}

int ncp_emulator_start(struct ncp_emulator *e)
{
	if (e->p.lockstep || e->thread_ok)
		return 0;
	atomic_store(&e->stop, false);
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
	publish_status(e);
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
	pthread_mutex_lock(&e->status_lock);
	*s = e->status;
	pthread_mutex_unlock(&e->status_lock);
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
	ncp_json_key(j, "mode");
	ncp_json_str(j, e->p.lockstep ? "lockstep" : "realtime");
	ncp_json_key(j, "predictions");
	ncp_json_int(j, (int64_t)e->predictions);
	ncp_json_key(j, "skipped_steps");
	ncp_json_int(j, (int64_t)e->skipped);
	ncp_json_key(j, "latency_us");
	ncp_json_obj(j);
	ncp_json_key(j, "p50");
	ncp_json_num(j, ncp_hist_quantile_us(&e->latency, 0.5));
	ncp_json_key(j, "p99");
	ncp_json_num(j, ncp_hist_quantile_us(&e->latency, 0.99));
	ncp_json_key(j, "max");
	ncp_json_num(j, ncp_hist_max_us(&e->latency));
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
