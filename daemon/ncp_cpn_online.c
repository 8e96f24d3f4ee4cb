#include "daemon/ncp_cpn_online.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "daemon/ncp_explore.h"
#include "daemon/ncp_spsc.h"
#include "models/base/ncp_base.h"
#include "shm/ncp_seqlock.h"

#define QUEUE_CAP 8192		/* samples between two drains */
#define IDLE_NS 20000000	/* between looks while there is nothing to do */
/* The guard scores the weights in use and the new ones on the newest
 * this many samples (about one capped CPN epoch's work per model). */
#define GUARD_SAMPLES 16384

enum stage {
	ST_REF,			/* waiting for healthy samples */
	ST_MODEL,		/* waiting for the co-processor's model */
	ST_WARMUP,		/* waiting for lesioned samples */
	ST_EPOCHS,		/* CPN epochs of the round */
	ST_ROUND,		/* waiting for the round's new samples */
};

static const char *const stage_text[] = {
	[ST_REF] = "waiting for healthy reaches (the reference)",
	[ST_MODEL] = "waiting for the co-processor's model",
	[ST_WARMUP] = "waiting for lesioned steps the CPN drove",
	[ST_EPOCHS] = "training the CPN",
	[ST_ROUND] = "collecting the round's data",
};

struct status_block {
	uint64_t seq;
	struct ncp_cpn_online_status st;
};
_Static_assert(sizeof(struct status_block) % 8 == 0,
	       "a seqlock block is whole words");

/* Threads: the trainer's own thread (or the loop in lockstep) owns
 * everything but `enabled` (set by the control thread, a relaxed atomic:
 * it orders nothing) and the status block (a seqlock: one writer, the
 * trainer; readers copy it). */
struct ncp_cpn_online {
	struct ncp_cpn_online_params p;
	struct ncp_coproc *co;
	struct ncp_spsc *q;
	int R, E, nrec;
	_Atomic bool enabled, stop;
	pthread_t thread;
	bool thread_ok;
	pthread_mutex_t enable_lock;	/* control thread: on/off */

	/* The trainer's. */
	float *rec;
	struct ncp_cpn_data healthy, data;
	size_t ref_n, warm_n, round_n;
	bool have_ref;
	struct ncp_cpn_ref ref;
	struct ncp_cpn_trainer *tr;
	enum stage stage;
	int epochs_left;
	uint64_t added, round_mark;	/* lesioned samples taken */
	uint64_t gen;			/* the co-processor's model trained */
	struct ncp_cpn_model *in_use;	/* the weights it runs (last offered) */
	struct ncp_cpn_online_status st;
	struct status_block status, img;
};

static void publish_status(struct ncp_cpn_online *o)
{
	o->st.enabled = atomic_load_explicit(&o->enabled, memory_order_relaxed);
	o->st.state = o->st.enabled ? stage_text[o->stage] : "off";
	o->st.samples = o->data.n;
	o->st.healthy = o->healthy.n;
	o->st.dropped = ncp_spsc_drops(o->q);
	o->img.st = o->st;
	ncp_seqlock_write(&o->status, &o->img, sizeof(o->img));
	ncp_coproc_set_losses(o->co, o->st.task_loss, o->st.en_loss,
			      o->st.offers, o->st.rollbacks);
}

struct ncp_cpn_online *ncp_cpn_online_new(const struct ncp_cpn_online_params *p,
					  struct ncp_coproc *co, bool enabled,
					  char *err, size_t errlen)
{
	struct ncp_cpn_online *o = ncp_calloc_aligned(1, sizeof(*o));
	if (!o) {
		ncp_errf(err, errlen, "out of memory");
		return NULL;
	}
	o->p = *p;
	o->co = co;
	o->R = p->spec.rec;
	o->E = p->spec.electrodes;
	o->nrec = NCP_COPROC_SAMPLE_FLOATS(o->R, o->E);
	pthread_mutex_init(&o->enable_lock, NULL);
	double per_s = 1.0 / (p->spec.dt * (p->sample_every > 0 ?
					     p->sample_every : 1));
	o->ref_n = (size_t)ceil(p->ref_s * per_s);
	o->warm_n = (size_t)ceil(p->warmup * per_s);
	o->round_n = (size_t)fmax(1.0, ceil(p->round * per_s));
	size_t cap = (size_t)ceil(p->replay * per_s) + 16;
	o->q = ncp_spsc_new(QUEUE_CAP, sizeof(float) * (size_t)o->nrec);
	o->rec = calloc((size_t)o->nrec, sizeof(float));
	if (!o->q || !o->rec ||
	    ncp_cpn_data_init(&o->healthy, o->R, o->E, o->ref_n + 16) ||
	    ncp_cpn_data_init(&o->data, o->R, o->E, cap)) {
		ncp_errf(err, errlen, "out of memory");
		ncp_cpn_online_free(o);
		return NULL;
	}
	o->st.task_loss = o->st.en_loss = NAN;
	ncp_coproc_set_sink(co, o->q, p->train.horizon, p->sample_every);
	if (enabled && ncp_cpn_online_enable(o, true, err, errlen)) {
		ncp_cpn_online_free(o);
		return NULL;
	}
	publish_status(o);
	return o;
}

void ncp_cpn_online_free(struct ncp_cpn_online *o)
{
	if (!o)
		return;
	ncp_cpn_online_stop(o);
	ncp_spsc_free(o->q);
	free(o->rec);
	ncp_cpn_data_fini(&o->healthy);
	ncp_cpn_data_fini(&o->data);
	ncp_cpn_trainer_free(o->tr);
	ncp_cpn_model_free(o->in_use);
	pthread_mutex_destroy(&o->enable_lock);
	free(o);
}

int ncp_cpn_online_enable(struct ncp_cpn_online *o, bool on, char *err,
			  size_t errlen)
{
	int ret = 0;
	pthread_mutex_lock(&o->enable_lock);
	if (on && !ncp_coproc_loaded(o->co)) {
		/* A CPN from scratch: its output layer zero, it asks for no
		 * current until trained (the lesioned arm as it is; random
		 * weights on inputs not yet standardised would drive it
		 * away). */
		struct ncp_cpn_model *m = ncp_cpn_model_new(&o->p.spec, o->p.seed,
							    err, errlen);
		if (m)
			ncp_cpn_model_zero_output(m);
		ret = m ? ncp_coproc_offer(o->co, m, "cpn-online", err, errlen) :
			  -EINVAL;
	}
	if (on && !ret)
		ret = ncp_coproc_may_drive(o->co, err, errlen);
	if (!ret) {
		ncp_coproc_set_train(o->co, on);
		atomic_store_explicit(&o->enabled, on, memory_order_relaxed);
	}
	pthread_mutex_unlock(&o->enable_lock);
	return ret;
}

bool ncp_cpn_online_enabled(const struct ncp_cpn_online *o)
{
	return o && atomic_load_explicit(&o->enabled, memory_order_relaxed);
}

/* Take the queued samples. */
static void drain(struct ncp_cpn_online *o, bool enabled)
{
	const int R = o->R, E = o->E, n = o->nrec;
	while (ncp_spsc_try_pop(o->q, o->rec)) {
		const float *s = o->rec;
		bool healthy = s[n - 1] != 0.0f;
		if (healthy) {
			if (o->healthy.n < o->healthy.cap && !o->have_ref)
				ncp_cpn_data_add(&o->healthy, s, s + R + 6,
						 s + R + 6 + E, s + R + 6 + E + 2,
						 NCP_CPN_SRC_CPN);
			continue;
		}
		if (!enabled)
			continue;
		int drive = (int)s[n - 2];
		int src = drive == NCP_EXPLORE_PERTURBED ? NCP_CPN_SRC_PERTURBED :
			  drive == NCP_EXPLORE_NOISE ? NCP_CPN_SRC_NOISE :
						       NCP_CPN_SRC_CPN;
		ncp_cpn_data_add(&o->data, s, s + R + 6, s + R + 6 + E,
				 s + R + 6 + E + 2, src);
		o->added++;
	}
}

static void rollback(struct ncp_cpn_online *o, const char *what, double v)
{
	o->st.rollbacks++;
	snprintf(o->st.last_rollback, sizeof(o->st.last_rollback), "%s (%g)",
		 what, v);
}

const char *ncp_cpn_online_guard(struct ncp_cpn_trainer *tr,
				 const struct ncp_cpn_model *in_use,
				 const struct ncp_cpn_model *next,
				 const struct ncp_cpn_data *d, double *l_in_use,
				 double *l_next)
{
	size_t from = d->n > GUARD_SAMPLES ? d->n - GUARD_SAMPLES : 0;
	*l_in_use = *l_next = NAN;
	if (!ncp_cpn_model_finite(next))
		return "weights not offered: a weight is not finite";
	*l_next = ncp_cpn_trainer_task_loss(tr, next, d, from);
	if (!isfinite(*l_next))
		return "weights not offered: task loss not finite";
	*l_in_use = in_use ? ncp_cpn_trainer_task_loss(tr, in_use, d, from) : NAN;
	if (isfinite(*l_in_use) && *l_next > *l_in_use)
		return "weights not offered: task loss above the weights' in use "
		       "on the same samples";
	return NULL;
}

/* Back to the start for a model offered since the trainer took its own
 * (`ncp load` while training was off): the reference and the replay
 * buffer stay (they do not depend on the CPN), the trainer and its
 * emulator start again from the new model. */
static void restart(struct ncp_cpn_online *o)
{
	ncp_cpn_trainer_free(o->tr);
	o->tr = NULL;
	ncp_cpn_model_free(o->in_use);
	o->in_use = NULL;
	o->stage = o->have_ref ? ST_MODEL : ST_REF;
	ncp_log_info("co-processor training: a new CPN was loaded; training "
		     "starts again from it");
}

/* One bounded piece of work; false when there was nothing to do. */
static bool work(struct ncp_cpn_online *o)
{
	bool enabled = atomic_load_explicit(&o->enabled, memory_order_relaxed);
	char err[256];
	double loss;

	drain(o, enabled);
	if (!enabled)
		return false;
	if (o->tr && ncp_coproc_generation(o->co) != o->gen)
		restart(o);
	switch (o->stage) {
	case ST_REF:
		if (o->healthy.n < o->ref_n)
			return false;
		if (ncp_cpn_ref_fit(&o->ref, &o->healthy)) {
			rollback(o, "the healthy reference could not be fitted: "
				 "samples", (double)o->healthy.n);
			o->healthy.n = 0;
			return true;
		}
		o->have_ref = true;
		o->stage = ST_MODEL;
		return true;
	case ST_MODEL: {
		char label[64];
		uint64_t gen = 0;
		struct ncp_cpn_model *m = ncp_coproc_clone_model(o->co, label,
								 sizeof(label),
								 &gen);
		if (m && gen != ncp_coproc_generation(o->co)) {
			/* Offered, not yet taken: train the new one. */
			ncp_cpn_model_free(m);
			m = NULL;
		}
		if (!m)
			return false;
		/* A loaded, trained CPN was trained on its standardisation: keep
		 * it, so that the weights offered first compute what it computed
		 * until CPN epochs change them (a new standardisation under the
		 * same weights is another function).  A CPN from scratch (or any
		 * never fitted) has the identity: fit it on the warm-up. */
		struct ncp_cpn_train_opts to = o->p.train;
		to.keep_cpn_norm = ncp_cpn_model_has_norm(m);
		o->tr = ncp_cpn_trainer_new(m, &to, err, sizeof(err));
		o->gen = gen;
		ncp_cpn_model_free(o->in_use);
		o->in_use = m;
		if (!o->tr) {
			ncp_log_err("co-processor training: %s", err);
			atomic_store(&o->enabled, false);
			return true;
		}
		ncp_cpn_trainer_set_ref(o->tr, &o->ref);
		/* Gentle exploration until the first weights are offered. */
		ncp_coproc_set_warm(o->co, true);
		o->stage = ST_WARMUP;
		return true;
	}
	case ST_WARMUP:
		/* The CPN drives the electrodes once there is a lesion to
		 * learn on (never on the healthy reaches of the reference). */
		if (!ncp_coproc_on(o->co) && ncp_coproc_lesioned(o->co) &&
		    ncp_coproc_set_on(o->co, true, err, sizeof(err)))
			ncp_log_err("co-processor training: %s", err);
		if (o->data.n < o->warm_n)
			return false;
		if (ncp_cpn_trainer_fit_norm(o->tr, &o->data) ||
		    ncp_cpn_trainer_en_train(o->tr, &o->data, &loss)) {
			rollback(o, "the emulator's first training failed", NAN);
			return true;
		}
		o->st.en_loss = loss;
		o->st.en_trainings++;
		o->stage = ST_EPOCHS;
		o->epochs_left = o->p.cpn_epochs;
		o->round_mark = o->added;
		return true;
	case ST_EPOCHS:
		if (ncp_cpn_trainer_cpn_epoch(o->tr, &o->data, &loss)) {
			/* The trainer put the CPN back. */
			rollback(o, "CPN epoch rolled back: task loss", loss);
		} else {
			o->st.cpn_epochs++;
			o->st.task_loss = loss;
		}
		if (--o->epochs_left > 0)
			return true;
		{
			const struct ncp_cpn_model *next = ncp_cpn_trainer_model(o->tr);
			double l_in_use, l_next;
			const char *why = ncp_cpn_online_guard(o->tr, o->in_use,
							       next, &o->data,
							       &l_in_use, &l_next);
			int r = why ? 0 : ncp_coproc_offer_weights(o->co, next,
								   o->gen);
			if (why) {
				rollback(o, why, l_next);
			} else if (r == 0) {
				o->st.offers++;
				ncp_cpn_model_copy(o->in_use, next);
				ncp_coproc_set_warm(o->co, false);
			} else if (r == -EINVAL) {
				rollback(o, "new weights refused", (double)r);
			}
		}
		o->st.rounds++;
		o->stage = ST_ROUND;
		return true;
	case ST_ROUND: {
		uint64_t fresh = o->added - o->round_mark;
		if (fresh < o->round_n)
			return false;
		size_t from = o->data.n > fresh ? o->data.n - (size_t)fresh : 0;
		double new_loss = ncp_cpn_trainer_en_loss(o->tr, &o->data, from);
		if (ncp_cpn_trainer_en_expired(o->tr, new_loss)) {
			if (ncp_cpn_trainer_en_train(o->tr, &o->data, &loss))
				rollback(o, "emulator training rolled back: loss", loss);
			else
				o->st.en_loss = loss;
			o->st.en_trainings++;
		} else {
			o->st.en_loss = new_loss;
		}
		o->round_mark = o->added;
		o->epochs_left = o->p.cpn_epochs;
		o->stage = ST_EPOCHS;
		return true;
	}
	}
	return false;
}

void ncp_cpn_online_step(struct ncp_cpn_online *o)
{
	if (!o || !o->p.lockstep)
		return;
	/* Deterministic: all the work due at this step, then the loop goes
	 * on (in free-run nothing waits for wall time). */
	bool did = false;
	for (int k = 0; k < 64 && work(o); k++)
		did = true;
	if (did)
		publish_status(o);
}

static void *online_thread(void *arg)
{
	struct ncp_cpn_online *o = arg;
	pthread_setname_np(pthread_self(), "ncp-cpn-train");
	while (!atomic_load(&o->stop)) {
		bool did = work(o);
		publish_status(o);
		if (!did)
			clock_nanosleep(CLOCK_MONOTONIC, 0,
					&(struct timespec){ 0, IDLE_NS }, NULL);
	}
	return NULL;
}

int ncp_cpn_online_start(struct ncp_cpn_online *o)
{
	if (o->p.lockstep || o->thread_ok)
		return 0;
	atomic_store(&o->stop, false);
	int ret = pthread_create(&o->thread, NULL, online_thread, o);
	if (ret)
		return -ret;
	o->thread_ok = true;
	return 0;
}

void ncp_cpn_online_stop(struct ncp_cpn_online *o)
{
	if (!o->thread_ok)
		return;
	atomic_store(&o->stop, true);
	pthread_join(o->thread, NULL);
	o->thread_ok = false;
}

void ncp_cpn_online_status(struct ncp_cpn_online *o,
			   struct ncp_cpn_online_status *s)
{
	struct status_block b;
	/* A write takes the trainer well under a microsecond; this is
	 * never the loop's thread. */
	for (int tries = 0; tries < 200; tries++) {
		if (ncp_seqlock_read(&o->status, &b, sizeof(b)) == 0) {
			*s = b.st;
			return;
		}
		clock_nanosleep(CLOCK_MONOTONIC, 0,
				&(struct timespec){ 0, 500000 }, NULL);
	}
	memset(s, 0, sizeof(*s));
	s->state = "unknown";
	s->task_loss = s->en_loss = NAN;
}

void ncp_cpn_online_json(struct ncp_cpn_online *o, struct ncp_json *j)
{
	publish_status(o);
	const struct ncp_cpn_online_status *s = &o->st;
	ncp_json_key(j, "ncp_training");
	ncp_json_obj(j);
	ncp_json_key(j, "enabled");
	ncp_json_bool(j, s->enabled);
	ncp_json_key(j, "state");
	ncp_json_str(j, s->state);
	ncp_json_key(j, "samples");
	ncp_json_int(j, (int64_t)s->samples);
	ncp_json_key(j, "healthy_samples");
	ncp_json_int(j, (int64_t)s->healthy);
	ncp_json_key(j, "dropped");
	ncp_json_int(j, (int64_t)s->dropped);
	ncp_json_key(j, "rounds");
	ncp_json_int(j, (int64_t)s->rounds);
	ncp_json_key(j, "cpn_epochs");
	ncp_json_int(j, (int64_t)s->cpn_epochs);
	ncp_json_key(j, "en_trainings");
	ncp_json_int(j, (int64_t)s->en_trainings);
	ncp_json_key(j, "offers");
	ncp_json_int(j, (int64_t)s->offers);
	ncp_json_key(j, "rollbacks");
	ncp_json_int(j, (int64_t)s->rollbacks);
	ncp_json_key(j, "last_rollback");
	ncp_json_str(j, s->last_rollback[0] ? s->last_rollback : NULL);
	ncp_json_key(j, "task_loss");
	if (isfinite(s->task_loss))
		ncp_json_num(j, s->task_loss);
	else
		ncp_json_null(j);
	ncp_json_key(j, "en_loss");
	if (isfinite(s->en_loss))
		ncp_json_num(j, s->en_loss);
	else
		ncp_json_null(j);
	ncp_json_end(j);
}
