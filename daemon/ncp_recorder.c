#include "daemon/ncp_recorder.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <liburing.h>

#include "daemon/ncp_service.h"
#include "daemon/ncp_spsc.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/io/ncp_file.h"
#include "models/io/ncp_npy.h"

#define QUEUE_RECORDS 16384	/* 16 s of steps in real time */
#define BATCH_ROWS 4096		/* rows written per io_uring round */
#define FLUSH_NS 200000000ull	/* write at least every 200 ms */
#define CHECKPOINT_NS 1000000000ull /* headers rewritten + fdatasync */
#define IDLE_SLEEP_NS 5000000L	/* when the queue is empty */
/* Space held back from the start of a recording so that meta.json can
 * still be written when the disk fills up. */
#define RESERVE_BYTES (64 * 1024)
/* Predictions waiting for their step's row (they may come before the
 * recorder has taken the step's record), indexed by step. */
#define PRED_PENDING 16384
#define PRED_QUEUE 16384
/* How long the end of a recording waits for the newest step's prediction
 * (the emulator predicts a step tens of microseconds after the loop). */
#define PRED_GRACE_NS 2000000L

enum { F_M1, F_ARM, F_TARGET, F_STIM, F_LESION, F_PRED, F_REC, F_ALPHA,
       N_FILES, N_ALL = N_FILES + NCP_PROBE_MAX };
static const char *const file_names[N_FILES] = { "m1.npy", "arm.npy",
						  "target.npy", "stim.npy",
						  "lesion.npy", "pred.npy",
						  "rec.npy", "alpha.npy" };

/* One prediction as the emulator hands it over. */
struct pred_rec {
	uint64_t session;
	uint64_t step;
	float y[NCP_ARM_MAX_STATE];
};

/* A prediction waiting for its row: step + 1 (0: empty) and the values. */
struct pred_slot {
	uint64_t step1;
	float y[NCP_ARM_MAX_STATE];
};

/* One step as the loop hands it over. */
struct rec_head {
	uint64_t session;
	uint64_t step;
	float arm[NCP_ARM_MAX_STATE];	/* 2 J + 2 used */
	float target[2];
	int32_t lesion[2];	/* kind, neurons hit */
	uint64_t bits[];	/* M1 spikes, one bit per neuron; then theta,
				 * alpha (E each) and the recording
				 * electrodes (R) */
};

struct rec_file {
	int fd;
	char path[PATH_MAX + 32];
	char partial[PATH_MAX + 48];
	struct ncp_npy_header h;
	size_t row_bytes;
	size_t data_offset;	/* the (growable) header's length */
	uint8_t *batch;		/* BATCH_ROWS rows */
};

struct ncp_recorder {
	struct ncp_recorder_params p;
	char data_dir[PATH_MAX];
	char *config_json;
	int words;
	size_t rec_size;
	struct ncp_spsc *q;
	struct ncp_spsc *pq;		/* predictions (ncp_recorder_push_pred) */
	struct io_uring ring;
	bool ring_ok;
	pthread_t thread;
	bool thread_ok;
	_Atomic bool quit;

	/* The session the loop pushes for (0: none); set by start, cleared
	 * by the recorder thread when the recording ends. */
	_Atomic uint64_t session;
	_Atomic bool stop_req;
	_Atomic bool busy;		/* from start until the files are done */
	_Atomic uint64_t dropped;	/* pushes the queue refused */
	uint64_t sessions;		/* ids handed out */

	/* Under lock: what start sets up and status reads. */
	pthread_mutex_t lock;
	char name[160];
	char dir[PATH_MAX];
	char started[32];
	double seconds;
	uint64_t max_rows;		/* 0: unlimited */
	_Atomic uint64_t rows;		/* rows written this session */
	uint64_t gap_rows;		/* rows filled in for dropped steps */
	char last_error[320];
	char last_path[PATH_MAX];

	/* The recorder thread's: the files (N_FILES, then the probes'), the
	 * probes and their synapses' state (set by start while idle). */
	struct rec_file f[N_ALL];
	int nfiles;
	struct ncp_probe probes[NCP_PROBE_MAX];
	int n_probes;
	float *pstate[NCP_PROBE_MAX];
	float pa[NCP_PROBE_MAX];
	char *probes_json;
	size_t frame_off;		/* the probe frame's offset in a record */
	uint64_t cur;			/* session being written (0: none) */
	bool have_first;
	uint64_t first_step, next_step;
	size_t batch_rows;
	uint64_t rows_on_disk;		/* rows written through io_uring */
	uint64_t last_flush_ns, last_checkpoint_ns;
	bool meta_written;
	int links, adims;		/* the arm's, 2 links + 2 */
	struct pred_slot *pending;	/* [PRED_PENDING] */
	uint8_t *rec;			/* one record (recorder thread) */
	uint8_t *rec_loop;		/* one record (loop thread) */
};

/* The record's theta (stim_electrodes floats after the spike bits). */
static float *rec_theta(const struct ncp_recorder *r, const struct rec_head *h)
{
	return (float *)((uint8_t *)h + sizeof(*h) + 8 * (size_t)r->words);
}

/* The record's electrode currents alpha (after theta) and recording
 * electrodes (after alpha). */
static float *rec_alpha(const struct ncp_recorder *r, const struct rec_head *h)
{
	return rec_theta(r, h) + r->p.stim_electrodes;
}

static float *rec_rec(const struct ncp_recorder *r, const struct rec_head *h)
{
	return rec_alpha(r, h) + r->p.stim_electrodes;
}

/* The record's probe frame (after theta, alpha and rec, 8-aligned). */
static uint8_t *rec_frame(const struct ncp_recorder *r, const struct rec_head *h)
{
	return (uint8_t *)h + r->frame_off;
}

/* --- io_uring ------------------------------------------------------------ */

/* Write n buffers at their offsets, all of each; resubmit short writes.
 * Returns 0 or the first error. */
static int uring_write(struct ncp_recorder *r, const int *fds,
		       const uint8_t *const *bufs, const size_t *lens,
		       const uint64_t *offs, int n)
{
	size_t done[N_ALL + 1] = { 0 };
	int pending = 0, ret = 0;

	for (;;) {
		for (int i = 0; i < n; i++) {
			if (done[i] >= lens[i] || done[i] == SIZE_MAX)
				continue;
			struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
			if (!sqe)
				return -EBUSY;
			io_uring_prep_write(sqe, fds[i], bufs[i] + done[i],
					    (unsigned)(lens[i] - done[i]),
					    offs[i] + done[i]);
			io_uring_sqe_set_data64(sqe, (uint64_t)i);
			pending++;
		}
		if (!pending)
			return ret;
		int sub = io_uring_submit(&r->ring);
		if (sub < 0)
			return sub;
		while (pending) {
			struct io_uring_cqe *cqe;
			int w = io_uring_wait_cqe(&r->ring, &cqe);
			if (w == -EINTR)
				continue;
			if (w < 0)
				return w;
			int i = (int)io_uring_cqe_get_data64(cqe);
			int res = cqe->res;
			io_uring_cqe_seen(&r->ring, cqe);
			pending--;
			if (res < 0) {
				if (!ret)
					ret = res;
				done[i] = SIZE_MAX; /* give up on this one */
			} else if (res == 0) {
				if (!ret)
					ret = -EIO;
				done[i] = SIZE_MAX;
			} else {
				done[i] += (size_t)res;
			}
		}
		if (ret)
			return ret;
	}
}

static int uring_fsync(struct ncp_recorder *r, const int *fds, int n)
{
	int ret = 0;
	for (int i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&r->ring);
		if (!sqe)
			return -EBUSY;
		io_uring_prep_fsync(sqe, fds[i], IORING_FSYNC_DATASYNC);
	}
	int sub = io_uring_submit(&r->ring);
	if (sub < 0)
		return sub;
	for (int k = 0; k < n; k++) {
		struct io_uring_cqe *cqe;
		int w;
		while ((w = io_uring_wait_cqe(&r->ring, &cqe)) == -EINTR)
			;
		if (w < 0)
			return w;
		if (cqe->res < 0 && !ret)
			ret = cqe->res;
		io_uring_cqe_seen(&r->ring, cqe);
	}
	return ret;
}

/* --- files ----------------------------------------------------------------- */

static int header_bytes(struct rec_file *f, uint64_t rows, uint8_t *buf,
			size_t cap, size_t *len)
{
	f->h.shape[0] = rows;
	return ncp_npy_header_format(&f->h, true, buf, cap, len);
}

/* Rewrite the three headers with `rows` rows, then fdatasync. */
static int checkpoint(struct ncp_recorder *r, uint64_t rows)
{
	uint8_t hdr[N_ALL][512];
	const uint8_t *bufs[N_ALL];
	size_t lens[N_ALL];
	uint64_t offs[N_ALL] = { 0 };
	int fds[N_ALL];

	for (int i = 0; i < r->nfiles; i++) {
		int ret = header_bytes(&r->f[i], rows, hdr[i], sizeof(hdr[i]),
				       &lens[i]);
		if (ret)
			return ret;
		bufs[i] = hdr[i];
		fds[i] = r->f[i].fd;
	}
	int ret = uring_write(r, fds, bufs, lens, offs, r->nfiles);
	if (!ret)
		ret = uring_fsync(r, fds, r->nfiles);
	return ret;
}

static void close_files(struct ncp_recorder *r)
{
	for (int i = 0; i < N_ALL; i++) {
		if (r->f[i].fd >= 0)
			close(r->f[i].fd);
		r->f[i].fd = -1;
	}
}

static void iso_now(char *buf, size_t len)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_meta(struct ncp_recorder *r, bool complete, const char *why)
{
	char path[PATH_MAX + 16];
	struct ncp_npy_meta m = {
		.name = r->name,
		.complete = complete,
		.steps = r->rows_on_disk,
		.first_step = r->first_step,
		.dt = r->p.dt,
		.window = r->p.window,
		.m1_neurons = (uint32_t)r->p.m1_neurons,
		.seed = r->p.seed,
		.task_seed = r->p.task_seed,
		.started = r->started,
		.config_json = r->config_json,
		.dropped_steps = r->gap_rows,
		.stopped = why,
		.stim_electrodes = (uint32_t)r->p.stim_electrodes,
		.rec_electrodes = (uint32_t)r->p.rec_electrodes,
		.pred = true,
		.probes_json = r->probes_json,
		.arm_links = r->links,
	};
	snprintf(path, sizeof(path), "%s/meta.json", r->dir);
	return ncp_npy_meta_write(path, &m);
}

/* --- the recorder thread ---------------------------------------------------- */

/* Write the buffered rows at the end of each file. */
static int flush_batch(struct ncp_recorder *r)
{
	const uint8_t *bufs[N_ALL];
	size_t lens[N_ALL];
	uint64_t offs[N_ALL];
	int fds[N_ALL];

	if (!r->batch_rows)
		return 0;
	for (int i = 0; i < r->nfiles; i++) {
		struct rec_file *f = &r->f[i];
		bufs[i] = f->batch;
		lens[i] = r->batch_rows * f->row_bytes;
		offs[i] = f->data_offset + r->rows_on_disk * f->row_bytes;
		fds[i] = f->fd;
	}
	int ret = uring_write(r, fds, bufs, lens, offs, r->nfiles);
	if (ret)
		return ret;
	r->rows_on_disk += r->batch_rows;
	r->batch_rows = 0;
	atomic_store_explicit(&r->rows, r->rows_on_disk, memory_order_relaxed);
	return 0;
}

/* Append one row; `h` NULL for a step that was dropped. */
static void add_row(struct ncp_recorder *r, const struct rec_head *h)
{
	size_t k = r->batch_rows++;
	uint8_t *m1 = r->f[F_M1].batch + k * r->f[F_M1].row_bytes;
	float *arm = (float *)(r->f[F_ARM].batch + k * r->f[F_ARM].row_bytes);
	float *tgt = (float *)(r->f[F_TARGET].batch + k * r->f[F_TARGET].row_bytes);
	float *stim = (float *)(r->f[F_STIM].batch + k * r->f[F_STIM].row_bytes);
	int32_t *les = (int32_t *)(r->f[F_LESION].batch +
				   k * r->f[F_LESION].row_bytes);
	float *pred = (float *)(r->f[F_PRED].batch + k * r->f[F_PRED].row_bytes);
	float *alpha = (float *)(r->f[F_ALPHA].batch + k * r->f[F_ALPHA].row_bytes);
	float *rec = (float *)(r->f[F_REC].batch + k * r->f[F_REC].row_bytes);

	memset(m1, 0, r->f[F_M1].row_bytes);
	const struct pred_slot *ps = h ? &r->pending[h->step % PRED_PENDING] : NULL;
	if (ps && ps->step1 == h->step + 1)
		memcpy(pred, ps->y, r->f[F_PRED].row_bytes);
	else
		for (int i = 0; i < r->adims; i++)
			pred[i] = NAN;	/* none (yet: place_pred may fill it in) */
	for (int p = 0; p < r->n_probes; p++) {
		struct rec_file *f = &r->f[N_FILES + p];
		uint8_t *row = f->batch + k * f->row_bytes;
		if (!h && r->probes[p].kind == NCP_PROBE_SPIKES)
			memset(row, 0, f->row_bytes);
		else if (!h)
			for (int c = 0; c < r->probes[p].cols; c++)
				((float *)row)[c] = NAN;
		else if (r->probes[p].kind == NCP_PROBE_SPIKES)
			ncp_probe_spikes(&r->probes[p], rec_frame(r, h), row);
		else
			ncp_probe_values(&r->probes[p], rec_frame(r, h),
					 r->p.probe_frame, r->pa[p], r->pstate[p],
					 (float *)row);
	}
	if (!h) {
		for (int i = 0; i < r->adims; i++)
			arm[i] = NAN;
		tgt[0] = tgt[1] = NAN;
		for (int e = 0; e < r->p.stim_electrodes; e++)
			stim[e] = alpha[e] = NAN;
		for (int e = 0; e < r->p.rec_electrodes; e++)
			rec[e] = NAN;
		les[0] = les[1] = -1;
		return;
	}
	memcpy(stim, rec_theta(r, h), r->f[F_STIM].row_bytes);
	memcpy(alpha, rec_alpha(r, h), r->f[F_ALPHA].row_bytes);
	memcpy(rec, rec_rec(r, h), r->f[F_REC].row_bytes);
	memcpy(les, h->lesion, sizeof(h->lesion));
	for (int w = 0; w < r->words; w++) {
		uint64_t bits = h->bits[w];
		while (bits) {
			int b = __builtin_ctzll(bits);
			m1[w * 64 + b] = 1;
			bits &= bits - 1;
		}
	}
	memcpy(arm, h->arm, r->f[F_ARM].row_bytes);
	memcpy(tgt, h->target, sizeof(h->target));
}

static uint64_t rows_total(const struct ncp_recorder *r)
{
	return r->rows_on_disk + r->batch_rows;
}

/* A prediction into the row of its step: kept for the row when the step
 * was not taken yet, written into the batch when the row is there, or
 * into the file when the row was written already (a prediction that came
 * after its row went to disk, rare: one small write). */
static void place_pred(struct ncp_recorder *r, const struct pred_rec *p)
{
	if (!r->have_first || p->step >= r->next_step) {
		struct pred_slot *ps = &r->pending[p->step % PRED_PENDING];
		ps->step1 = p->step + 1;
		memcpy(ps->y, p->y, sizeof(ps->y));
		return;
	}
	if (p->step < r->first_step)
		return;			/* before the recording */
	uint64_t row = p->step - r->first_step;
	struct rec_file *f = &r->f[F_PRED];
	if (row >= rows_total(r))
		return;			/* past a duration's end */
	if (row >= r->rows_on_disk) {
		memcpy(f->batch + (row - r->rows_on_disk) * f->row_bytes, p->y,
		       f->row_bytes);
		return;
	}
	ssize_t w = pwrite(f->fd, p->y, f->row_bytes,
			   (off_t)(f->data_offset + row * f->row_bytes));
	if (w != (ssize_t)f->row_bytes)
		ncp_log_warn("recording %s: prediction of step %llu: %s", r->name,
			     (unsigned long long)p->step,
			     w < 0 ? strerror(errno) : "short write");
}

/* Take every queued prediction of the current recording. */
static void drain_preds(struct ncp_recorder *r)
{
	struct pred_rec p;
	while (ncp_spsc_try_pop(r->pq, &p))
		if (r->cur && p.session == r->cur)
			place_pred(r, &p);
}

/* End the current recording: complete files whatever happened. */
static void finish(struct ncp_recorder *r, const char *why)
{
	char reason[300];
	int ret;

	snprintf(reason, sizeof(reason), "%s", why);
	bool failed = strncmp(why, "error", 5) == 0;
	/* No more pushes for this session; rows still queued are taken
	 * unless the duration ended it.  Pairs with the acquire load in
	 * ncp_recorder_push. */
	atomic_store_explicit(&r->session, 0, memory_order_release);
	if (!failed) {
		/* The newest steps' predictions, which may trail them. */
		nanosleep(&(struct timespec){ 0, PRED_GRACE_NS }, NULL);
		drain_preds(r);
	}
	ret = failed ? -EIO : flush_batch(r);
	if (!ret)
		ret = checkpoint(r, r->rows_on_disk);
	if (ret) {
		if (!failed)
			snprintf(reason, sizeof(reason), "error: %s",
				 ncp_strerror(ret));
		/* A write failed (a full disk): keep the rows all the files
		 * hold and make the files say exactly that. */
		r->batch_rows = 0;
		for (int i = 0; i < r->nfiles; i++) {
			struct rec_file *f = &r->f[i];
			if (ftruncate(f->fd, (off_t)(f->data_offset +
						     r->rows_on_disk * f->row_bytes)))
				ncp_log_warn("recording %s: truncate %s: %s", r->name,
					     f->partial, strerror(errno));
		}
		checkpoint(r, r->rows_on_disk); /* the header needs no space */
	}
	for (int i = 0; i < r->nfiles; i++) {
		struct rec_file *f = &r->f[i];
		if (fsync(f->fd) || rename(f->partial, f->path)) {
			ncp_log_err("recording %s: cannot finish %s: %s", r->name,
				    f->path, strerror(errno));
			if (!ret)
				snprintf(reason, sizeof(reason), "error: finishing %s: %s",
					 i < N_FILES ? file_names[i] :
					 r->probes[i - N_FILES].file, strerror(errno));
		}
	}
	close_files(r);
	ncp_file_fsync_dir(r->f[F_M1].path);
	char reserve[PATH_MAX + 16];
	snprintf(reserve, sizeof(reserve), "%s/.reserve", r->dir);
	unlink(reserve);
	int mret = write_meta(r, true, reason);
	if (mret)
		ncp_log_err("recording %s: cannot write meta.json: %s", r->name,
			    ncp_strerror(mret));
	pthread_mutex_lock(&r->lock);
	if (strncmp(reason, "error: ", 7) == 0)
		snprintf(r->last_error, sizeof(r->last_error), "%s", reason + 7);
	snprintf(r->last_path, sizeof(r->last_path), "%s", r->dir);
	pthread_mutex_unlock(&r->lock);
	if (!strncmp(reason, "error", 5))
		ncp_log_err("recording %s stopped after %llu steps: %s", r->name,
			    (unsigned long long)r->rows_on_disk, reason + 7);
	else
		ncp_log_info("recording %s finished: %llu steps (%llu dropped), "
			     "%s", r->name, (unsigned long long)r->rows_on_disk,
			     (unsigned long long)r->gap_rows, r->dir);
	r->cur = 0;
	atomic_store(&r->stop_req, false);
	/* The files are complete: pairs with the acquire load in status. */
	atomic_store_explicit(&r->busy, false, memory_order_release);
}

/* Append a row, writing the batch out when it is full.  0 or -errno. */
static int append(struct ncp_recorder *r, const struct rec_head *h)
{
	if (r->batch_rows == BATCH_ROWS) {
		int ret = flush_batch(r);
		if (ret)
			return ret;
		r->last_flush_ns = ncp_now_ns();
	}
	add_row(r, h);
	return 0;
}

/* Take one record off the queue.  1 when one was taken, 0 when the queue
 * is empty, -errno when writing failed. */
static int take(struct ncp_recorder *r)
{
	struct rec_head *h = (struct rec_head *)r->rec;
	if (!ncp_spsc_try_pop(r->q, h))
		return 0;
	if (h->session != r->cur)
		return 1; /* a straggler of an ended recording */
	if (!r->have_first) {
		r->have_first = true;
		r->first_step = r->next_step = h->step;
	}
	/* Steps the queue refused leave a gap: fill it, then the step. */
	while (r->next_step <= h->step) {
		if (r->max_rows && rows_total(r) >= r->max_rows)
			return 1;
		bool gap = r->next_step < h->step;
		int ret = append(r, gap ? NULL : h);
		if (ret)
			return ret;
		r->gap_rows += gap;
		r->next_step++;
	}
	return 1;
}

static void *recorder_thread(void *arg)
{
	struct ncp_recorder *r = arg;

	for (;;) {
		bool quitting = atomic_load(&r->quit);
		/* Pairs with the release store in ncp_recorder_start: the new
		 * recording's files and fields are visible. */
		uint64_t s = atomic_load_explicit(&r->session, memory_order_acquire);
		if (!r->cur && s) {
			/* A new recording (its files were opened by start). */
			r->cur = s;
			r->have_first = false;
			r->batch_rows = 0;
			r->rows_on_disk = 0;
			r->gap_rows = 0;
			r->last_flush_ns = r->last_checkpoint_ns = ncp_now_ns();
			memset(r->pending, 0, PRED_PENDING * sizeof(*r->pending));
			int ret = write_meta(r, false, NULL);
			if (ret)
				ncp_log_warn("recording %s: meta.json: %s", r->name,
					     ncp_strerror(ret));
		}
		int got = 0, ret = 0;
		drain_preds(r);
		for (int k = 0; k < BATCH_ROWS && (ret = take(r)) > 0; k++)
			got++;
		drain_preds(r);
		if (!r->cur) {
			if (quitting)
				break;
			if (!got)
				nanosleep(&(struct timespec){ 0, IDLE_SLEEP_NS }, NULL);
			continue;
		}
		uint64_t now = ncp_now_ns();
		bool full = r->max_rows && rows_total(r) >= r->max_rows;
		bool ending = full || quitting || atomic_load(&r->stop_req);
		if (ret >= 0 && ending && !full) {
			/* Close the gate, then take what is still queued (pairs
			 * with the acquire load in ncp_recorder_push). */
			atomic_store_explicit(&r->session, 0, memory_order_release);
			while ((ret = take(r)) > 0)
				;
			drain_preds(r);
		}
		if (ret >= 0 && r->batch_rows &&
		    (ending || now - r->last_flush_ns > FLUSH_NS)) {
			ret = flush_batch(r);
			r->last_flush_ns = now;
		}
		if (ret >= 0 && !ending && now - r->last_checkpoint_ns > CHECKPOINT_NS) {
			ret = checkpoint(r, r->rows_on_disk);
			r->last_checkpoint_ns = now;
		}
		if (ret < 0) {
			char why[300];
			snprintf(why, sizeof(why), "error: %s", ncp_strerror(ret));
			finish(r, why);
		} else if (ending) {
			finish(r, full ? "duration" : quitting ? "shutdown" : "stop");
		} else if (!got) {
			nanosleep(&(struct timespec){ 0, IDLE_SLEEP_NS }, NULL);
		}
	}
	return NULL;
}

/* --- public ------------------------------------------------------------------ */

struct ncp_recorder *ncp_recorder_new(const struct ncp_recorder_params *p,
				      char *err, size_t errlen)
{
	struct ncp_recorder *r = calloc(1, sizeof(*r));
	int ret;

	if (!r) {
		ncp_errf(err, errlen, "out of memory");
		return NULL;
	}
	r->p = *p;
	if (r->p.stim_electrodes < 1)
		r->p.stim_electrodes = 1;
	if (r->p.rec_electrodes < 1)
		r->p.rec_electrodes = 1;
	pthread_mutex_init(&r->lock, NULL);
	for (int i = 0; i < N_ALL; i++)
		r->f[i].fd = -1;
	r->nfiles = N_FILES;
	snprintf(r->data_dir, sizeof(r->data_dir), "%s", p->data_dir);
	r->config_json = p->config_json ? strdup(p->config_json) : NULL;
	r->words = (p->m1_neurons + 63) / 64;
	r->frame_off = sizeof(struct rec_head) + 8 * (size_t)r->words +
		       ((sizeof(float) * (2 * (size_t)r->p.stim_electrodes +
					  (size_t)r->p.rec_electrodes) + 7) &
			~(size_t)7);
	r->rec_size = r->frame_off +
		      (p->probe_frame ? p->probe_frame->bytes : 0);
	r->q = ncp_spsc_new(QUEUE_RECORDS, r->rec_size);
	r->pq = ncp_spsc_new(PRED_QUEUE, sizeof(struct pred_rec));
	r->pending = calloc(PRED_PENDING, sizeof(*r->pending));
	r->rec = ncp_calloc_aligned(1, r->rec_size);
	r->rec_loop = ncp_calloc_aligned(1, r->rec_size);
	r->links = p->arm_links ? p->arm_links : 2;
	r->adims = NCP_ARM_STATE_DIMS(r->links);
	uint64_t cols[N_FILES] = { (uint64_t)p->m1_neurons, (uint64_t)r->adims,
				   2, (uint64_t)r->p.stim_electrodes, 2,
				   (uint64_t)r->adims,
				   (uint64_t)r->p.rec_electrodes,
				   (uint64_t)r->p.stim_electrodes };
	enum ncp_npy_dtype dt[N_FILES] = { NCP_NPY_U8, NCP_NPY_F32, NCP_NPY_F32,
					   NCP_NPY_F32, NCP_NPY_I32, NCP_NPY_F32,
					   NCP_NPY_F32, NCP_NPY_F32 };
	for (int i = 0; i < N_FILES; i++) {
		struct rec_file *f = &r->f[i];
		f->h.dtype = dt[i];
		f->h.ndim = 2;
		f->h.shape[1] = cols[i];
		f->row_bytes = cols[i] * ncp_npy_dtype_size(dt[i]);
		f->batch = malloc(BATCH_ROWS * f->row_bytes);
		if (!f->batch)
			goto nomem;
	}
	if (!r->q || !r->pq || !r->pending || !r->rec || !r->rec_loop ||
	    (p->config_json && !r->config_json))
		goto nomem;
	ret = io_uring_queue_init(32, &r->ring, 0);
	if (ret) {
		ncp_errf(err, errlen, "io_uring: %s", ncp_strerror(ret));
		goto fail;
	}
	r->ring_ok = true;
	ret = pthread_create(&r->thread, NULL, recorder_thread, r);
	if (ret) {
		ncp_errf(err, errlen, "cannot start the recorder thread: %s",
			 strerror(ret));
		goto fail;
	}
	r->thread_ok = true;
	return r;
nomem:
	ncp_errf(err, errlen, "out of memory");
fail:
	ncp_recorder_free(r);
	return NULL;
}

void ncp_recorder_free(struct ncp_recorder *r)
{
	if (!r)
		return;
	if (r->thread_ok) {
		atomic_store(&r->quit, true);
		pthread_join(r->thread, NULL);
	}
	close_files(r);
	if (r->ring_ok)
		io_uring_queue_exit(&r->ring);
	for (int i = 0; i < N_ALL; i++)
		free(r->f[i].batch);
	for (int p = 0; p < NCP_PROBE_MAX; p++)
		free(r->pstate[p]);
	free(r->probes_json);
	ncp_spsc_free(r->q);
	ncp_spsc_free(r->pq);
	free(r->pending);
	free(r->rec);
	free(r->rec_loop);
	free(r->config_json);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

int ncp_recorder_start(struct ncp_recorder *r, const char *name,
		       double seconds, char *err, size_t errlen)
{
	return ncp_recorder_start_probes(r, name, seconds, NULL, 0, err, errlen);
}

/* While idle: the probes' files, batches and synapse states. */
static int set_probes(struct ncp_recorder *r, const struct ncp_probe *probes,
		      int n, char *err, size_t errlen)
{
	struct ncp_json j;

	for (int p = 0; p < NCP_PROBE_MAX; p++) {
		struct rec_file *f = &r->f[N_FILES + p];
		free(f->batch);
		f->batch = NULL;
		free(r->pstate[p]);
		r->pstate[p] = NULL;
	}
	free(r->probes_json);
	r->probes_json = NULL;
	r->n_probes = 0;
	r->nfiles = N_FILES;
	if (n > 0 && !r->p.probe_frame)
		return ncp_errf(err, errlen, "this recorder takes no probes");
	if (n > NCP_PROBE_MAX)
		return ncp_errf(err, errlen, "more than %d probes", NCP_PROBE_MAX);
	ncp_json_init(&j);
	ncp_json_arr(&j);
	for (int p = 0; p < n; p++) {
		struct rec_file *f = &r->f[N_FILES + p];
		bool spikes = probes[p].kind == NCP_PROBE_SPIKES;
		r->probes[p] = probes[p];
		memset(&f->h, 0, sizeof(f->h));
		f->h.dtype = spikes ? NCP_NPY_U8 : NCP_NPY_F32;
		f->h.ndim = 2;
		f->h.shape[1] = (uint64_t)probes[p].cols;
		f->row_bytes = (size_t)probes[p].cols * (spikes ? 1 : 4);
		f->batch = malloc(BATCH_ROWS * f->row_bytes);
		r->pstate[p] = calloc((size_t)probes[p].cols, sizeof(float));
		if (!f->batch || !r->pstate[p]) {
			ncp_json_fini(&j);
			return ncp_errf_code(err, errlen, ENOMEM, "out of memory");
		}
		r->pa[p] = probes[p].tau > 0 ?
			(float)exp(-r->p.dt / probes[p].tau) : 0.0f;
		ncp_json_obj(&j);
		ncp_json_key(&j, "target");
		ncp_json_str(&j, probes[p].target);
		ncp_json_key(&j, "kind");
		ncp_json_str(&j, spikes ? "spikes" : "value");
		ncp_json_key(&j, "file");
		ncp_json_str(&j, probes[p].file);
		ncp_json_key(&j, "columns");
		ncp_json_int(&j, probes[p].cols);
		ncp_json_key(&j, "synapse");
		ncp_json_num(&j, probes[p].tau);
		ncp_json_end(&j);
	}
	ncp_json_end(&j);
	if (n > 0) {
		if (ncp_json_finish(&j) || !(r->probes_json = strdup(j.buf))) {
			ncp_json_fini(&j);
			return ncp_errf_code(err, errlen, ENOMEM, "out of memory");
		}
	}
	ncp_json_fini(&j);
	r->n_probes = n;
	r->nfiles = N_FILES + n;
	return 0;
}

int ncp_recorder_start_probes(struct ncp_recorder *r, const char *name,
			      double seconds, const struct ncp_probe *probes,
			      int n, char *err, size_t errlen)
{
	char dir[PATH_MAX], msg[256];
	int ret;

	pthread_mutex_lock(&r->lock);
	/* Pairs with the release store in finish(): the last recording's
	 * files are closed before new ones are opened. */
	if (atomic_load_explicit(&r->busy, memory_order_acquire)) {
		ncp_errf(err, errlen, "already recording %s (record stop first)",
			 r->name);
		ret = -EBUSY;
		goto out;
	}
	ret = set_probes(r, probes, n, err, errlen);
	if (ret)
		goto out;
	ret = ncp_service_mkdirs(r->data_dir, 0755);
	if (ret) {
		ncp_errf(err, errlen, "cannot create the data directory %s: %s",
			 r->data_dir, ncp_strerror(ret));
		goto out;
	}
	ret = ncp_file_resolve(r->data_dir, name, dir, sizeof(dir), msg,
			       sizeof(msg));
	if (ret) {
		ncp_errf(err, errlen, "%s", msg);
		goto out;
	}
	if (mkdir(dir, 0755)) {
		ret = -errno;
		ncp_errf(err, errlen, ret == -EEXIST ? "recording %s exists already "
			 "(%s): choose another name" : "cannot create %s: %s",
			 ret == -EEXIST ? name : dir, ret == -EEXIST ? dir :
			 ncp_strerror(ret));
		goto out;
	}
	for (int i = 0; i < r->nfiles; i++) {
		struct rec_file *f = &r->f[i];
		uint8_t hdr[512];
		snprintf(f->path, sizeof(f->path), "%s/%s", dir, i < N_FILES ?
			 file_names[i] : r->probes[i - N_FILES].file);
		snprintf(f->partial, sizeof(f->partial), "%s.partial", f->path);
		f->fd = open(f->partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			     0644);
		if (f->fd < 0) {
			ret = -errno;
			ncp_errf(err, errlen, "cannot create %s: %s", f->partial,
				 ncp_strerror(ret));
			goto undo;
		}
		ret = header_bytes(f, 0, hdr, sizeof(hdr), &f->data_offset);
		if (!ret)
			ret = ncp_file_write_all(f->fd, hdr, f->data_offset);
		if (ret) {
			ncp_errf(err, errlen, "cannot write %s: %s", f->partial,
				 ncp_strerror(ret));
			goto undo;
		}
	}
	/* Hold some space for meta.json (freed when the recording ends). */
	{
		char reserve[PATH_MAX + 16];
		snprintf(reserve, sizeof(reserve), "%s/.reserve", dir);
		int fd = open(reserve, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd < 0 || posix_fallocate(fd, 0, RESERVE_BYTES)) {
			ret = -ENOSPC;
			ncp_errf(err, errlen, "no space in %s for a recording", dir);
			if (fd >= 0) {
				close(fd);
				unlink(reserve);
			}
			goto undo;
		}
		close(fd);
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	iso_now(r->started, sizeof(r->started));
	r->seconds = seconds;
	r->max_rows = seconds > 0 ? (uint64_t)llround(seconds / r->p.dt) : 0;
	r->last_error[0] = '\0';
	atomic_store(&r->rows, 0);
	atomic_store(&r->stop_req, false);
	atomic_store(&r->busy, true);
	/* Publishes the files and fields above to the recorder thread and
	 * opens the gate for the loop: pairs with their acquire loads. */
	atomic_store_explicit(&r->session, ++r->sessions, memory_order_release);
	ncp_log_info("recording %s into %s%s", name, dir,
		     seconds > 0 ? " (for a set duration)" : "");
	ret = 0;
	goto out;
undo:
	for (int i = 0; i < r->nfiles; i++) {
		if (r->f[i].fd >= 0) {
			close(r->f[i].fd);
			unlink(r->f[i].partial);
		}
		r->f[i].fd = -1;
	}
	rmdir(dir);
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

int ncp_recorder_stop(struct ncp_recorder *r)
{
	if (!atomic_load(&r->session) || atomic_load(&r->stop_req))
		return -ENOENT;
	atomic_store(&r->stop_req, true);
	return 0;
}

int ncp_recorder_wait_idle(struct ncp_recorder *r, double timeout)
{
	uint64_t end = ncp_now_ns() + (uint64_t)(timeout * 1e9);
	for (;;) {
		struct ncp_recorder_status st;
		ncp_recorder_status(r, &st);
		if (!st.active)
			return 0;
		if (ncp_now_ns() > end)
			return -ETIMEDOUT;
		nanosleep(&(struct timespec){ 0, 2000000 }, NULL);
	}
}

void ncp_recorder_status(struct ncp_recorder *r, struct ncp_recorder_status *s)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_lock(&r->lock);
	/* Pairs with the release store in finish(). */
	s->active = atomic_load_explicit(&r->busy, memory_order_acquire);
	snprintf(s->name, sizeof(s->name), "%s", r->name);
	s->rows = atomic_load(&r->rows);
	s->dropped = atomic_load(&r->dropped);
	s->seconds = r->seconds;
	snprintf(s->last_error, sizeof(s->last_error), "%s", r->last_error);
	snprintf(s->last_path, sizeof(s->last_path), "%s", r->last_path);
	pthread_mutex_unlock(&r->lock);
}

bool ncp_recorder_active(const struct ncp_recorder *r)
{
	return r && atomic_load_explicit(&r->session, memory_order_relaxed) != 0;
}

void ncp_recorder_set_stim(struct ncp_recorder *r, const double *theta,
			   int lesion_kind, int lesion_neurons)
{
	struct rec_head *h = (struct rec_head *)r->rec_loop;
	float *th = rec_theta(r, h);
	for (int e = 0; e < r->p.stim_electrodes; e++)
		th[e] = (float)theta[e];
	h->lesion[0] = lesion_kind;
	h->lesion[1] = lesion_neurons;
}

void ncp_recorder_set_obs(struct ncp_recorder *r, const float *rec,
			  const float *alpha)
{
	struct rec_head *h = (struct rec_head *)r->rec_loop;
	memcpy(rec_rec(r, h), rec, sizeof(float) * (size_t)r->p.rec_electrodes);
	memcpy(rec_alpha(r, h), alpha,
	       sizeof(float) * (size_t)r->p.stim_electrodes);
}

void *ncp_recorder_probe_frame(struct ncp_recorder *r)
{
	return r->p.probe_frame ? rec_frame(r, (struct rec_head *)r->rec_loop) :
				  NULL;
}

void ncp_recorder_push(struct ncp_recorder *r, uint64_t step,
		       const uint32_t *spikes, int n,
		       const struct ncp_arm_state *arm, const double target[2])
{
	/* Pairs with the release store in ncp_recorder_start (and those of
	 * 0 that end a recording). */
	uint64_t s = atomic_load_explicit(&r->session, memory_order_acquire);
	if (!s)
		return;
	struct rec_head *h = (struct rec_head *)r->rec_loop;
	h->session = s;
	h->step = step;
	ncp_arm_state_flat(arm, h->arm);
	h->target[0] = (float)target[0];
	h->target[1] = (float)target[1];
	memset(h->bits, 0, 8 * (size_t)r->words);
	for (int k = 0; k < n; k++)
		h->bits[spikes[k] / 64] |= 1ull << (spikes[k] % 64);
	while (!ncp_spsc_try_push(r->q, h)) {
		if (!r->p.lossless) {
			atomic_fetch_add_explicit(&r->dropped, 1,
						  memory_order_relaxed);
			return;
		}
		/* Free-run: wait for the disk rather than lose a step. */
		nanosleep(&(struct timespec){ 0, 50000 }, NULL);
		if (!atomic_load_explicit(&r->session, memory_order_relaxed))
			return;
	}
}

void ncp_recorder_push_pred(struct ncp_recorder *r, uint64_t step,
			    const float *y)
{
	/* Pairs with the release store in ncp_recorder_start (and those of
	 * 0 that end a recording). */
	uint64_t s = atomic_load_explicit(&r->session, memory_order_acquire);
	if (!s)
		return;
	struct pred_rec p = { .session = s, .step = step };
	memcpy(p.y, y, sizeof(float) * (size_t)r->adims);
	while (!ncp_spsc_try_push(r->pq, &p)) {
		if (!r->p.lossless)
			return;		/* the row keeps NaN */
		/* Free-run (the loop predicts): wait for the recorder. */
		nanosleep(&(struct timespec){ 0, 50000 }, NULL);
		if (!atomic_load_explicit(&r->session, memory_order_relaxed))
			return;
	}
}
