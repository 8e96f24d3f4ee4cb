#include "daemon/ncp_online.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_blas.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_dataset.h"
#include "models/emu/ncp_trainer.h"
#include "shm/ncp_shm_reader.h"

#define MAX_INGEST 224		/* steps read from the rings at once */
#define VAL_MAX 2048		/* validation rows per validation */
#define VAL_EVERY 100		/* minibatch steps between validations */
#define BLOCK_SECONDS 1.0	/* validation: every 5th block of 1 s */
#define VAL_PERIOD 5
#define EXPLODE 100.0		/* loss this many times its average: roll back */
/* The replay buffer's bounds: `replay` seconds of steps plus a tenth more
 * before its oldest rows are dropped (each drop rebuilds the trainer's
 * running-filter checkpoints), and room for 32 spikes a step on average
 * (M1 fires about 14): denser data leaves it fewer seconds. */
#define SLACK_DIV 10
#define SPIKES_PER_STEP 32

struct ncp_online {
	struct ncp_online_params p;
	struct ncp_emulator *emu;
	struct ncp_shm_writer *shm;
	struct ncp_shm_reader *reader;
	size_t stride;

	pthread_t thread;
	bool thread_ok;
	_Atomic bool stop;
	_Atomic bool enabled;
	/* Set by the thread for the span of one training round (ingest and
	 * a minibatch step), which it begins only if `enabled` still holds
	 * after setting it; `train off` waits until it is clear.  Both are
	 * sequentially consistent: one side always sees the other's store. */
	_Atomic bool busy;
	_Atomic bool inject_nan;
	/* Lockstep: the loop waits until `done` reaches the step it needs. */
	_Atomic uint64_t done;		/* steps ingested (and trained for) */

	/* The online thread's. */
	struct ncp_dataset *ds;
	uint64_t next;			/* next step to ingest */
	bool open_segment;
	struct ncp_trainer *t;
	struct ncp_emu_model *init;	/* the weights training started from */
	struct ncp_emu_model *pub;	/* the weights the emulator runs */
	struct ncp_emu_model *cand;	/* scratch: the working copy's weights */
	int window;
	struct ncp_rng rng;
	uint64_t *batch_rows, *val_rows;
	double loss_sum, loss_avg;
	int high_run;			/* minibatches in a row far above average */
	uint64_t loss_n, since_val;
	uint64_t block_rows;
	uint64_t row_base;		/* rows dropped so far */
	uint64_t keep;			/* steps of `replay` */
	uint64_t cap_steps, cap_spikes;	/* the buffer's bounds */
	bool reserved;			/* their memory is allocated */
	uint8_t *win;
	struct ncp_shm_arm_entry *arms;
	uint32_t *spikes;

	pthread_mutex_t lock;		/* guards st */
	struct ncp_online_status st;
};

/* --- data ------------------------------------------------------------------ */

/* Blocks count from the first step ever buffered (row_base: rows dropped
 * by pruning), so pruning never moves a row between the sets. */
static bool is_val_row(const struct ncp_online *o, uint64_t row)
{
	return ((row + o->row_base) / o->block_rows) % VAL_PERIOD == VAL_PERIOD - 1;
}

/* A row to train on: a full window behind it, not in a validation block
 * nor within a window after one (its inputs would overlap). */
static bool is_train_row(const struct ncp_online *o, uint64_t row)
{
	if (!ncp_dataset_row_ok(o->ds, row, o->window) || is_val_row(o, row))
		return false;
	uint64_t in_block = (row + o->row_base) % o->block_rows;
	return !(in_block < (uint64_t)o->window && row >= o->block_rows &&
		 is_val_row(o, row - o->block_rows));
}

static uint64_t replay_first(const struct ncp_online *o)
{
	uint64_t n = ncp_dataset_steps(o->ds);
	return n > o->keep ? n - o->keep : 0;
}

/* Keep memory bounded: before a step of n spikes that would not fit the
 * buffer's bounds, drop its oldest rows in place, down to the replay
 * length and further while the spikes left would take more than their
 * share of the room (replay length x SPIKES_PER_STEP).  The trainer
 * moves the cut to one of its checkpoints (up to a window of steps more)
 * so its running filters carry on across it. */
static void trim(struct ncp_online *o, int n)
{
	uint64_t steps = ncp_dataset_steps(o->ds);
	uint64_t spikes = ncp_dataset_spikes(o->ds);
	if (steps < o->cap_steps && spikes + (uint64_t)n <= o->cap_spikes)
		return;
	uint64_t lo = steps > o->keep ? steps - o->keep : 0, hi = steps;
	uint64_t room = o->keep * SPIKES_PER_STEP;
	/* The fewest rows to drop (>= lo) that leave at most `room` spikes:
	 * spikes before a row grow with it. */
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		if (spikes - ncp_dataset_spikes_before(o->ds, mid) <= room)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (o->t)
		lo = ncp_trainer_drop_rows(o->t, o->ds, lo);
	else
		ncp_dataset_drop_front(o->ds, lo);
	o->row_base += lo;
	if (!ncp_dataset_steps(o->ds))
		o->open_segment = false;
	ncp_log_debug("online training: %llu oldest steps dropped from the replay buffer",
		      (unsigned long long)lo);
}

static int append_step(struct ncp_online *o, const uint32_t *spikes, int n,
		       const float *stim, int nstim,
		       const float *arm)
{
	trim(o, n);
	if (!o->open_segment) {
		char name[48];
		snprintf(name, sizeof(name), "from step %llu",
			 (unsigned long long)o->next);
		int ret = ncp_dataset_begin(o->ds, name);
		if (ret)
			return ret;
		o->open_segment = true;
	}
	return ncp_dataset_append(o->ds, spikes, n, stim, nstim, arm);
}

/* Read the steps the loop published since the last call into the replay
 * buffer.  Returns how many. */
static uint32_t ingest(struct ncp_online *o, uint64_t upto)
{
	struct ncp_ring_span span = { 0 }, aspan = { 0 };
	uint64_t head = ncp_shm_reader_head(o->reader);
	if (head <= o->next || (upto && o->next >= upto))
		return 0;
	/* Everything since `next` the ring still holds (its newest steps,
	 * when more are waiting: the older ones are lost). */
	if (ncp_shm_reader_window_since(o->reader, o->next, MAX_INGEST, o->win,
					o->stride * MAX_INGEST, &span) || !span.count)
		return 0;
	if (ncp_shm_reader_arm(o->reader, span.first, span.count, o->arms,
			       &aspan) || aspan.first != span.first)
		return 0;
	uint32_t count = NCP_MIN(span.count, aspan.count);
	if (upto && span.first + count > upto)
		count = span.first < upto ? (uint32_t)(upto - span.first) : 0;
	if (span.first > o->next) {
		/* Lapped: those steps are gone; the buffer starts a new
		 * segment so no window spans the gap. */
		pthread_mutex_lock(&o->lock);
		o->st.missed += span.first - o->next;
		pthread_mutex_unlock(&o->lock);
		o->open_segment = false;
	}
	o->next = span.first;
	int words = (o->p.m1_neurons + 63) / 64;
	for (uint32_t i = 0; i < count; i++) {
		const struct ncp_shm_win_slot *ws = ncp_shm_win_at(o->win, o->stride, i);
		const struct ncp_shm_arm_entry *a = &o->arms[i];
		int n = 0;
		for (int k = 0; k < words; k++) {
			uint64_t b = ws->bits[k];
			while (b) {
				o->spikes[n++] = (uint32_t)(k * 64 + __builtin_ctzll(b));
				b &= b - 1;
			}
		}
		/* q, dq of each joint, hand (ncp_arm_state_flat's order). */
		const int J = ncp_dataset_joints(o->ds);
		float arm[NCP_ARM_MAX_STATE] = { a->q[0], a->q[1], a->q2 };
		arm[J] = a->dq[0];
		arm[J + 1] = a->dq[1];
		if (J == 3)
			arm[5] = a->dq2;
		arm[2 * J] = a->hand[0];
		arm[2 * J + 1] = a->hand[1];
		if (append_step(o, o->spikes, n, ws->stim,
				NCP_MIN((int)ws->stim_count, NCP_SHM_STIM_CHANNELS), arm))
			break;
		o->next++;
	}
	return count;
}

/* --- training ---------------------------------------------------------------- */

static size_t pick_rows(struct ncp_online *o, uint64_t *rows, size_t want,
			bool val)
{
	uint64_t lo = replay_first(o), n = ncp_dataset_steps(o->ds);
	size_t got = 0;
	if (n <= lo)
		return 0;
	if (val) {
		/* Every validation row of the replay window, thinned evenly. */
		uint64_t total = 0;
		for (uint64_t r = lo; r < n; r++)
			total += is_val_row(o, r) && ncp_dataset_row_ok(o->ds, r, o->window);
		uint64_t step = total > want ? (total + want - 1) / want : 1, k = 0;
		for (uint64_t r = lo; r < n && got < want; r++)
			if (is_val_row(o, r) && ncp_dataset_row_ok(o->ds, r, o->window) &&
			    k++ % step == 0)
				rows[got++] = r;
		return got;
	}
	for (int tries = 0; got < want && tries < (int)want * 20; tries++) {
		uint64_t r = lo + ncp_rng_below(&o->rng, n - lo);
		if (is_train_row(o, r))
			rows[got++] = r;
	}
	return got;
}

static void set_status(struct ncp_online *o)
{
	pthread_mutex_lock(&o->lock);
	o->st.updates = o->t ? ncp_trainer_updates(o->t) : 0;
	o->st.rows = ncp_dataset_steps(o->ds);
	o->st.bytes = ncp_dataset_bytes(o->ds) +
		      (o->t ? ncp_trainer_ckpt_bytes(o->t) : 0);
	pthread_mutex_unlock(&o->lock);
}

/* The first model: from the emulator's (when it has one), else new from
 * the seed with normalisation from the data in.  0, or -EAGAIN when there
 * is not enough data yet. */
static int make_trainer(struct ncp_online *o)
{
	char err[512], label[64];
	struct ncp_trainer_opts opts;
	bool fresh = false;

	if (!o->init) {
		o->init = ncp_emulator_clone_model(o->emu, label, sizeof(label));
		if (!o->init) {
			uint64_t have = ncp_dataset_steps(o->ds);
			if ((double)have * o->p.dt < o->p.warmup)
				return -EAGAIN;
			enum ncp_emu_arch arch;
			struct ncp_emu_spec spec;
			if (ncp_emu_arch_parse(o->p.arch, &arch))
				arch = NCP_EMU_ARCH_DEFAULT;
			ncp_emu_spec_default(&spec, arch);
			spec.neurons = o->p.m1_neurons;
			spec.dt = o->p.dt;
			spec.joints = ncp_dataset_joints(o->ds);
			o->init = ncp_emu_model_new(&spec, o->p.seed, err, sizeof(err));
			if (!o->init) {
				ncp_log_err("online training: %s", err);
				return -EINVAL;
			}
			fresh = true;
		} else {
			o->pub = ncp_emu_model_clone(o->init);
		}
	}
	o->window = ncp_emu_model_window(o->init);
	ncp_trainer_opts_default(&opts);
	opts.lr = o->p.lr;
	opts.batch = o->p.batch;
	o->t = ncp_trainer_new(o->init, o->ds, &opts, err, sizeof(err));
	if (!o->t) {
		ncp_log_err("online training: %s", err);
		return -EINVAL;
	}
	if (ncp_trainer_reserve(o->t, o->cap_steps))
		ncp_log_warn("online training: no memory for the checkpoints of %llu "
			     "steps ahead of time; they grow as needed",
			     (unsigned long long)o->cap_steps);
	o->cand = ncp_emu_model_clone(o->init);
	if (fresh) {
		size_t n = pick_rows(o, o->val_rows, VAL_MAX, false);
		int ret = ncp_trainer_fit_norm(o->t, o->val_rows, n, 8.0);
		if (ret)
			return ret;
		/* The arm may hardly have moved yet: scales no smaller than
		 * a fraction of its working range. */
		const int J = ncp_dataset_joints(o->ds);
		float out_floor[NCP_ARM_MAX_STATE];
		for (int k = 0; k < NCP_ARM_STATE_DIMS(J); k++)
			out_floor[k] = k >= J && k < 2 * J ? 0.3f : 0.1f;
		ncp_trainer_floor_outputs(o->t, out_floor);
		ncp_trainer_floor_inputs(o->t, 10.0);
		ncp_trainer_export(o->t, o->init);
	}
	return 0;
}

static void rollback(struct ncp_online *o, const char *why)
{
	ncp_trainer_import(o->t, o->pub ? o->pub : o->init);
	pthread_mutex_lock(&o->lock);
	o->st.rollbacks++;
	snprintf(o->st.last_rollback, sizeof(o->st.last_rollback), "%s", why);
	pthread_mutex_unlock(&o->lock);
	o->loss_n = 0;
}

/* Validate the working copy against the weights in use on the recent
 * validation rows; hand it to the emulator when it is no worse. */
static void validate(struct ncp_online *o)
{
	size_t nv = pick_rows(o, o->val_rows, VAL_MAX, true);
	double cand_loss = NAN, pub_loss = INFINITY;

	if (!nv)
		return;
	ncp_trainer_export(o->t, o->cand);
	if (ncp_trainer_loss(o->t, o->val_rows, nv, &cand_loss) || !isfinite(cand_loss)) {
		rollback(o, "validation loss not finite");
		return;
	}
	if (o->pub) {
		ncp_trainer_import(o->t, o->pub);
		if (ncp_trainer_loss(o->t, o->val_rows, nv, &pub_loss))
			pub_loss = INFINITY;
		ncp_trainer_import(o->t, o->cand);
	}
	bool swapped = false;
	if (cand_loss <= pub_loss) {
		if (!o->pub) {
			char err[256];
			struct ncp_emu_model *m = ncp_emu_model_clone(o->cand);
			o->pub = ncp_emu_model_clone(o->cand);
			if (m && o->pub &&
			    ncp_emulator_offer(o->emu, m, "online", err, sizeof(err)) == 0)
				swapped = true;
			else
				ncp_log_err("online training: %s", err);
		} else if (ncp_emulator_offer_weights(o->emu, o->cand) == 0) {
			ncp_emu_model_copy(o->pub, o->cand);
			swapped = true;
		}
	}
	double train_loss = o->loss_n ? o->loss_sum / (double)o->loss_n : NAN;
	pthread_mutex_lock(&o->lock);
	o->st.loss = train_loss;
	o->st.val_loss = cand_loss;
	o->st.swaps += swapped;
	pthread_mutex_unlock(&o->lock);
	o->loss_sum = 0;
	o->loss_n = 0;
	uint64_t step = o->next ? o->next - 1 : 0;
	struct ncp_shm_train_entry te = {
		.step = step,
		.t = (double)(step + 1) * o->p.dt,
		.loss = train_loss,
		.val_loss = cand_loss,
		.update = ncp_trainer_updates(o->t),
	};
	ncp_shm_writer_push_train(o->shm, &te);
}

/* One minibatch step (and a validation every VAL_EVERY of them). */
static void train_once(struct ncp_online *o)
{
	double loss;
	if (!o->t && make_trainer(o))
		return;
	ncp_trainer_sync(o->t);
	if (atomic_exchange(&o->inject_nan, false)) {
		struct ncp_trainer_param tp;
		ncp_trainer_param(o->t, 0, &tp);
		tp.value[0] = NAN;
	}
	size_t n = pick_rows(o, o->batch_rows, (size_t)o->p.batch, false);
	if (n < 8)
		return;
	int ret = ncp_trainer_step(o->t, o->batch_rows, (int)n, &loss);
	if (ret == -EDOM || !isfinite(loss)) {
		rollback(o, "loss or gradient not finite");
	} else if (ret == 0) {
		/* One odd minibatch is not an explosion; three in a row are. */
		bool high = o->loss_avg > 0 && ncp_trainer_updates(o->t) > 50 &&
			    loss > EXPLODE * o->loss_avg;
		o->high_run = high ? o->high_run + 1 : 0;
		if (o->high_run >= 3) {
			char why[128];
			snprintf(why, sizeof(why), "loss exploded (%.3g, average %.3g)",
				 loss, o->loss_avg);
			o->high_run = 0;
			rollback(o, why);
		} else if (!high) {
			o->loss_avg = o->loss_avg > 0 ? 0.98 * o->loss_avg + 0.02 * loss :
							loss;
			o->loss_sum += loss;
			o->loss_n++;
		}
	}
	if (++o->since_val >= VAL_EVERY) {
		o->since_val = 0;
		validate(o);
	}
	set_status(o);
}

static void *online_thread(void *arg)
{
	struct ncp_online *o = arg;

	ncp_fp_flush_denormals();

	/* Lockstep takes every step from the first (a deterministic run);
	 * real time starts from now. */
	o->next = o->p.lockstep ? 0 : ncp_shm_reader_head(o->reader);
	atomic_store(&o->done, o->next);
	while (!atomic_load(&o->stop)) {
		/* seq_cst store then load: pairs with the store of `enabled`
		 * then load of `busy` in ncp_online_enable. */
		atomic_store(&o->busy, true);
		if (!atomic_load(&o->enabled)) {
			atomic_store(&o->busy, false);
			/* Off: keep nothing, and follow the loop (which does
			 * not wait for us meanwhile) without spinning; the
			 * buffer resumes with a new segment, and lockstep with
			 * the next training point, once training is on. */
			o->next = ncp_shm_reader_head(o->reader);
			o->open_segment = false;
			set_status(o);
			/* Pairs with the acquire load in ncp_online_step. */
			atomic_store_explicit(&o->done, o->next, memory_order_release);
			nanosleep(&(struct timespec){ 0, o->p.lockstep ? 1000000
							      : 20000000 }, NULL);
			continue;
		}
		if (!o->reserved) {
			/* The buffer's whole room, once, when training first
			 * starts (not for a daemon that never trains). */
			o->reserved = true;
			if (ncp_dataset_reserve(o->ds, o->cap_steps, o->cap_spikes))
				ncp_log_warn("online training: no memory for a replay "
					     "buffer of %llu steps ahead of time; it "
					     "grows as needed",
					     (unsigned long long)o->cap_steps);
		}
		if (o->p.lockstep) {
			/* Ingest up to the next training point, train once, and
			 * let the loop go on.  Switched off meanwhile (the loop
			 * may be paused), the round ends without training. */
			uint64_t target = (o->next / (uint64_t)o->p.lockstep_every + 1) *
					  (uint64_t)o->p.lockstep_every;
			while (o->next < target && !atomic_load(&o->stop) &&
			       atomic_load(&o->enabled)) {
				if (!ingest(o, target))
					nanosleep(&(struct timespec){ 0, 20000 }, NULL);
			}
			if (o->next >= target)
				train_once(o);
			set_status(o);
			/* Pairs with the acquire load in ncp_online_step. */
			atomic_store_explicit(&o->done, o->next, memory_order_release);
			/* Pairs with the load of `busy` in ncp_online_enable. */
			atomic_store(&o->busy, false);
			continue;
		}
		ingest(o, 0);
		train_once(o);
		set_status(o);
		/* Pairs with the load of `busy` in ncp_online_enable. */
		atomic_store(&o->busy, false);
	}
	atomic_store(&o->busy, false);
	return NULL;
}

/* --- public -------------------------------------------------------------------- */

struct ncp_online *ncp_online_new(const struct ncp_online_params *p,
				  struct ncp_emulator *emu,
				  struct ncp_shm_writer *shm, bool enabled,
				  char *err, size_t errlen)
{
	struct ncp_online *o = calloc(1, sizeof(*o));
	if (!o) {
		ncp_errf(err, errlen, "out of memory");
		return NULL;
	}
	o->p = *p;
	if (o->p.lockstep_every < 1)
		o->p.lockstep_every = 1;
	o->emu = emu;
	o->shm = shm;
	pthread_mutex_init(&o->lock, NULL);
	atomic_init(&o->enabled, enabled);
	o->st.loss = o->st.val_loss = NAN;
	ncp_rng_seed(&o->rng, ncp_rng_derive(p->seed, 77));
	o->block_rows = (uint64_t)llround(BLOCK_SECONDS / p->dt);
	o->keep = (uint64_t)llround(p->replay / p->dt);
	o->cap_steps = o->keep + o->keep / SLACK_DIV + 1;
	o->cap_spikes = o->cap_steps * SPIKES_PER_STEP;
	o->window = 100;
	o->reader = ncp_shm_reader_from_mem(ncp_shm_writer_base(shm),
					    ncp_shm_writer_size(shm), err, errlen);
	if (!o->reader)
		goto fail;
	o->stride = ncp_shm_reader_window_stride(o->reader);
	o->ds = ncp_dataset_new(p->m1_neurons, NCP_SHM_STIM_CHANNELS);
	if (o->ds && p->joints && ncp_dataset_set_joints(o->ds, p->joints)) {
		ncp_errf(err, errlen, "an arm of %d links", p->joints);
		goto fail;
	}
	o->win = malloc(o->stride * MAX_INGEST);
	o->arms = calloc(MAX_INGEST, sizeof(*o->arms));
	o->spikes = calloc((size_t)p->m1_neurons + 1, sizeof(uint32_t));
	o->batch_rows = calloc((size_t)NCP_MAX(p->batch, 1), sizeof(uint64_t));
	o->val_rows = calloc(VAL_MAX, sizeof(uint64_t));
	if (!o->ds || !o->win || !o->arms || !o->spikes || !o->batch_rows ||
	    !o->val_rows) {
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	return o;
fail:
	ncp_online_free(o);
	return NULL;
}

void ncp_online_free(struct ncp_online *o)
{
	if (!o)
		return;
	ncp_online_stop(o);
	ncp_trainer_free(o->t);
	ncp_emu_model_free(o->init);
	ncp_emu_model_free(o->pub);
	ncp_emu_model_free(o->cand);
	ncp_dataset_free(o->ds);
	ncp_shm_reader_free(o->reader);
	free(o->win);
	free(o->arms);
	free(o->spikes);
	free(o->batch_rows);
	free(o->val_rows);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

int ncp_online_start(struct ncp_online *o)
{
	if (o->thread_ok)
		return 0;
	atomic_store(&o->stop, false);
	int ret = pthread_create(&o->thread, NULL, online_thread, o);
	if (ret)
		return -ret;
	o->thread_ok = true;
	return 0;
}

void ncp_online_stop(struct ncp_online *o)
{
	if (!o->thread_ok)
		return;
	atomic_store(&o->stop, true);
	pthread_join(o->thread, NULL);
	o->thread_ok = false;
	set_status(o);
}

void ncp_online_enable(struct ncp_online *o, bool on)
{
	/* seq_cst store then load: pairs with the thread's store of `busy`
	 * then load of `enabled`.  Either the thread sees training off
	 * before its next round, or we see the round and wait for its end:
	 * once off returns, no update and no step enters the buffer. */
	atomic_store(&o->enabled, on);
	while (!on && o->thread_ok && atomic_load(&o->busy))
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	pthread_mutex_lock(&o->lock);
	o->st.enabled = on;
	pthread_mutex_unlock(&o->lock);
}

bool ncp_online_enabled(const struct ncp_online *o)
{
	return o && atomic_load(&o->enabled);
}

void ncp_online_step(struct ncp_online *o, uint64_t step,
		     const uint32_t *spikes, int n, const struct ncp_arm_state *arm)
{
	/* Lockstep: at each training point, wait until the trainer has
	 * taken every step up to it and trained once (free-run only: the
	 * loop has no deadline to keep). */
	uint64_t every = (uint64_t)o->p.lockstep_every;
	if (!o->p.lockstep || (step + 1) % every ||
	    !atomic_load_explicit(&o->enabled, memory_order_relaxed))
		return;
	/* Pairs with the release stores of `done` in the trainer thread:
	 * what it trained up to that step is visible from here. */
	while (atomic_load_explicit(&o->done, memory_order_acquire) < step + 1 &&
	       !atomic_load(&o->stop))
		nanosleep(&(struct timespec){ 0, 10000 }, NULL);
}

void ncp_online_inject_nan(struct ncp_online *o)
{
	atomic_store(&o->inject_nan, true);
}

void ncp_online_status(struct ncp_online *o, struct ncp_online_status *s)
{
	pthread_mutex_lock(&o->lock);
	*s = o->st;
	s->enabled = atomic_load(&o->enabled);
	pthread_mutex_unlock(&o->lock);
}

void ncp_online_json(struct ncp_online *o, struct ncp_json *j)
{
	struct ncp_online_status s;
	ncp_online_status(o, &s);
	ncp_json_key(j, "training");
	ncp_json_obj(j);
	ncp_json_key(j, "online");
	ncp_json_bool(j, s.enabled);
	ncp_json_key(j, "updates");
	ncp_json_int(j, (int64_t)s.updates);
	ncp_json_key(j, "loss");
	ncp_json_num(j, s.loss);
	ncp_json_key(j, "val_loss");
	ncp_json_num(j, s.val_loss);
	ncp_json_key(j, "swaps");
	ncp_json_int(j, (int64_t)s.swaps);
	ncp_json_key(j, "rollbacks");
	ncp_json_int(j, (int64_t)s.rollbacks);
	ncp_json_key(j, "replay_steps");
	ncp_json_int(j, (int64_t)s.rows);
	ncp_json_key(j, "missed_steps");
	ncp_json_int(j, (int64_t)s.missed);
	ncp_json_key(j, "replay_mb");
	ncp_json_num(j, (double)s.bytes / (1 << 20));
	ncp_json_end(j);
}
