#include "models/emu/ncp_trainer.h"

#include "models/arm/ncp_arm.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "models/base/ncp_base.h"
#include "models/emu/ncp_dataset.h"
#include "models/emu/ncp_emu_int.h"

/* LAPACK (OpenBLAS ships it): Cholesky factorisation and solve. */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda,
		    int *info);
extern void dpotrs_(const char *uplo, const int *n, const int *nrhs,
		    const double *a, const int *lda, double *b, const int *ldb,
		    int *info);

#define NOUT (t->m->nout)	/* the model's outputs, 2 J + 2 */
#define MAX_PARAMS (2 * NCP_EMU_MAX_LAYERS + 1)

struct param {
	char name[64];
	float *w, *g, *m, *v;
	size_t n;
	bool decay;		/* a weight (weight decay applies) */
};

struct ncp_trainer {
	struct ncp_emu_model *m;	/* working copy */
	const struct ncp_dataset *ds;
	struct ncp_trainer_opts o;
	int B;				/* batch capacity */
	int W, N, K;
	/* batch */
	float *X;			/* [B][n_x] standardised inputs */
	float *Z[NCP_EMU_MAX_LAYERS];	/* [B][out_l] pre-activations */
	float *A[NCP_EMU_MAX_LAYERS];	/* [B][out_l] ReLU outputs (hidden) */
	float *dZ, *dA;			/* [B][max_width] */
	float *T;			/* [B][NOUT] standardised targets */
	/* dense: active window entries (p * neurons + n) of each sample */
	uint32_t *ent;
	size_t ent_cap;
	size_t *ent_ptr;		/* [B + 1] */
	/* per-sample scratch */
	float *feat;			/* [nfeat] */
	const uint32_t **vspk;
	int *vn, *zero_n;
	const float **vstim;
	/* running mode: filter state every W steps of each segment */
	float *ckpt;			/* [ckpt_cap][nfeat] */
	uint64_t *ckpt_base;		/* per segment: first checkpoint */
	uint64_t ckpt_n, ckpt_cap;
	int base_cap;			/* segments ckpt_base has room for */
	/* Where the checkpoints stand: segment, steps of it filtered, and
	 * the filters' state there (ncp_trainer_sync continues from it). */
	int ck_seg;
	uint64_t ck_pos;
	double *ck_state;
	/* Segment 0's filter state before its first row, when older rows
	 * were dropped from its start (ncp_trainer_drop_rows); else zero. */
	float *head;
	bool head_ok;
	/* parameters */
	struct param p[MAX_PARAMS];
	int np;
	uint64_t updates;
};

void ncp_trainer_opts_default(struct ncp_trainer_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->lr = 1e-3;
	o->beta1 = 0.9;
	o->beta2 = 0.999;
	o->eps = 1e-8;
	o->weight_decay = 0.0;
	o->batch = 256;
}

/* A row's target: the arm state `horizon` steps after it, all NaN
 * (masked) when that is past its segment. */
static const float *target_of(const struct ncp_dataset *ds, uint64_t row,
			      int horizon)
{
	static const float none[NCP_EMU_MAX_OUTPUTS] = { NAN, NAN, NAN, NAN,
							 NAN, NAN, NAN, NAN };
	const float *a = ncp_dataset_target(ds, row, horizon);
	return a ? a : none;
}

/* A row's arm input (models with the arm-state input): the arm state after
 * the step before it, NULL (unknown) at its segment's first step. */
static const float *arm_input_of(const struct ncp_dataset *ds, uint64_t row)
{
	uint64_t s0, len;
	ncp_dataset_segment(ds, ncp_dataset_segment_of(ds, row), &s0, &len);
	return row > s0 ? ncp_dataset_arm(ds, row - 1) : NULL;
}

static void progress(struct ncp_trainer *t, const char *what, double done)
{
	if (t->o.progress)
		t->o.progress(t->o.progress_ctx, what, done);
}

void ncp_trainer_free(struct ncp_trainer *t)
{
	if (!t)
		return;
	ncp_emu_model_free(t->m);
	free(t->X);
	for (int l = 0; l < NCP_EMU_MAX_LAYERS; l++) {
		free(t->Z[l]);
		free(t->A[l]);
	}
	free(t->dZ);
	free(t->dA);
	free(t->T);
	free(t->ent);
	free(t->ent_ptr);
	free(t->feat);
	free(t->vspk);
	free(t->vn);
	free(t->zero_n);
	free(t->vstim);
	free(t->ckpt);
	free(t->ckpt_base);
	free(t->ck_state);
	free(t->head);
	for (int i = 0; i < t->np; i++) {
		free(t->p[i].g);
		free(t->p[i].m);
		free(t->p[i].v);
	}
	free(t);
}

static int add_param(struct ncp_trainer *t, const char *name, float *w,
		     size_t n, bool decay)
{
	struct param *p = &t->p[t->np++];

	snprintf(p->name, sizeof(p->name), "%s", name);
	p->w = w;
	p->n = n;
	p->decay = decay;
	p->g = ncp_emu_calloc_big(NCP_MAX(n, 1), sizeof(float));
	p->m = ncp_emu_calloc_big(NCP_MAX(n, 1), sizeof(float));
	p->v = ncp_emu_calloc_big(NCP_MAX(n, 1), sizeof(float));
	return p->g && p->m && p->v ? 0 : -ENOMEM;
}

/* The running filters' state at every W-th step of each segment, for the
 * steps the dataset holds; called again after steps were appended, it
 * carries on from where it stopped (the last segment may have grown, new
 * segments may follow). */
static int make_checkpoints(struct ncp_trainer *t)
{
	const struct ncp_dataset *ds = t->ds;
	const struct ncp_feat *f = &t->m->feat;
	int nseg = ncp_dataset_segments(ds);
	uint64_t done = 0, steps = ncp_dataset_steps(ds);

	if (!t->ck_state) {
		t->ck_state = ncp_calloc_aligned((size_t)f->nfeat, sizeof(double));
		t->head = ncp_calloc_aligned((size_t)f->nfeat, sizeof(float));
		if (!t->ck_state || !t->head)
			return -ENOMEM;
		t->ck_seg = -1;
	}
	if (nseg > t->base_cap) {
		int cap = NCP_MAX(nseg, 2 * t->base_cap);
		uint64_t *b = realloc(t->ckpt_base, sizeof(uint64_t) * (size_t)cap);
		if (!b)
			return -ENOMEM;
		t->ckpt_base = b;
		t->base_cap = cap;
	}
	for (int i = NCP_MAX(t->ck_seg, 0); i < nseg; i++) {
		uint64_t s0, len;
		ncp_dataset_segment(ds, i, &s0, &len);
		if (i != t->ck_seg) {
			t->ck_seg = i;
			t->ck_pos = 0;
			t->ckpt_base[i] = t->ckpt_n;
			for (int j = 0; j < f->nfeat; j++)
				t->ck_state[j] = i == 0 && t->head_ok ? t->head[j] : 0.0;
		}
		uint64_t need = t->ckpt_base[i] + len / (uint64_t)t->W;
		if (need > t->ckpt_cap) {
			uint64_t cap = NCP_MAX(need, 2 * t->ckpt_cap);
			float *c = realloc(t->ckpt, sizeof(float) * (size_t)cap *
							    (size_t)f->nfeat);
			if (!c)
				return -ENOMEM;
			t->ckpt = c;
			t->ckpt_cap = cap;
		}
		for (uint64_t s = t->ck_pos; s < len; s++) {
			const uint32_t *spk;
			int n = ncp_dataset_spikes_at(ds, s0 + s, &spk);
			ncp_feat_running_step(f, t->ck_state, spk, n,
					      ncp_dataset_stim_at(ds, s0 + s));
			if ((s + 1) % (uint64_t)t->W == 0) {
				float *c = t->ckpt + t->ckpt_n++ * (uint64_t)f->nfeat;
				for (int j = 0; j < f->nfeat; j++)
					c[j] = (float)t->ck_state[j];
			}
			if (++done % 65536 == 0)
				progress(t, "running filters", (double)done / (double)steps);
		}
		t->ck_pos = len;
	}
	return 0;
}

int ncp_trainer_reserve(struct ncp_trainer *t, uint64_t rows)
{
	const struct ncp_feat *f = &t->m->feat;
	uint64_t cap = rows / (uint64_t)t->W;

	if (f->spec.mode != NCP_FEAT_RUNNING || cap <= t->ckpt_cap)
		return 0;
	float *c = realloc(t->ckpt, sizeof(float) * (size_t)cap * (size_t)f->nfeat);
	if (!c)
		return -ENOMEM;
	/* Written now: resident from the start under locked memory. */
	memset(c + t->ckpt_n * (uint64_t)f->nfeat, 0,
	       sizeof(float) * (size_t)(cap - t->ckpt_n) * (size_t)f->nfeat);
	t->ckpt = c;
	t->ckpt_cap = cap;
	return 0;
}

/* Checkpoints start over from the dataset's start (zero state). */
static void drop_checkpoints(struct ncp_trainer *t)
{
	t->ckpt_n = 0;
	t->ck_seg = -1;
	t->head_ok = false;
}

uint64_t ncp_trainer_drop_rows(struct ncp_trainer *t, struct ncp_dataset *ds,
			       uint64_t rows)
{
	const int nfeat = t->m->feat.nfeat;
	const uint64_t W = (uint64_t)t->W;
	uint64_t steps = ncp_dataset_steps(ds);

	ncp_assert(ds == t->ds);
	rows = NCP_MIN(rows, steps);
	if (!rows)
		return 0;
	if (t->m->feat.spec.mode != NCP_FEAT_RUNNING || rows == steps ||
	    make_checkpoints(t)) {
		ncp_dataset_drop_front(ds, rows);
		drop_checkpoints(t);
		return rows;
	}
	/* Cut at the first checkpoint at or after `rows` in its segment, so
	 * the filters' state there (the checkpoint before it) carries on. */
	int seg = ncp_dataset_segment_of(ds, rows);
	uint64_t s0, len;
	ncp_dataset_segment(ds, seg, &s0, &len);
	uint64_t m = (rows - s0 + W - 1) / W, first;
	if (m * W >= len) {
		if (seg + 1 >= ncp_dataset_segments(ds)) {
			/* The last segment, too short: cut where asked. */
			ncp_dataset_drop_front(ds, rows);
			drop_checkpoints(t);
			return rows;
		}
		seg++;		/* the segment goes whole */
		ncp_dataset_segment(ds, seg, &s0, &len);
		m = 0;
	}
	if (m > 0) {
		const float *c = t->ckpt + (t->ckpt_base[seg] + m - 1) * (uint64_t)nfeat;
		memcpy(t->head, c, (size_t)nfeat * sizeof(float));
	}
	t->head_ok = m > 0 || (seg == 0 && t->head_ok);
	rows = s0 + m * W;
	first = t->ckpt_base[seg] + m;
	memmove(t->ckpt, t->ckpt + first * (uint64_t)nfeat,
		(size_t)(t->ckpt_n - first) * (size_t)nfeat * sizeof(float));
	t->ckpt_n -= first;
	int nseg = ncp_dataset_segments(ds);
	/* Segment seg's checkpoints now start at its new first row. */
	t->ckpt_base[0] = 0;
	for (int i = seg + 1; i < nseg; i++)
		t->ckpt_base[i - seg] = t->ckpt_base[i] - first;
	/* make_checkpoints above went to the end: ck_seg is the last. */
	if (t->ck_seg == seg)
		t->ck_pos -= m * W;
	t->ck_seg -= seg;
	ncp_dataset_drop_front(ds, rows);
	return rows;
}

size_t ncp_trainer_ckpt_bytes(const struct ncp_trainer *t)
{
	return sizeof(float) * (size_t)t->ckpt_cap * (size_t)t->m->feat.nfeat +
	       sizeof(uint64_t) * (size_t)t->base_cap;
}

void ncp_trainer_floor_outputs(struct ncp_trainer *t,
			       const float *floor)
{
	for (int o = 0; o < t->m->nout; o++)
		if (!(t->m->out_scale[o] >= floor[o]))
			t->m->out_scale[o] = floor[o];
	ncp_emu_model_refresh(t->m);
}

void ncp_trainer_floor_inputs(struct ncp_trainer *t, double rate_hz)
{
	struct ncp_emu_model *m = t->m;
	if (m->n_spk) /* dense: its standardised inputs are stimulation only */
		return;
	for (int i = 0; i < t->N; i++)
		for (int k = 0; k < t->K; k++) {
			int j = i * t->K + k;
			float fl = (float)sqrt(rate_hz / (2.0 * m->spec.taus[k]));
			if (j < m->n_std && !(m->in_scale[j] >= fl))
				m->in_scale[j] = fl;
		}
	ncp_emu_model_refresh(m);
}

int ncp_trainer_sync(struct ncp_trainer *t)
{
	if (t->m->feat.spec.mode != NCP_FEAT_RUNNING)
		return 0;
	return make_checkpoints(t);
}

struct ncp_trainer *ncp_trainer_new(const struct ncp_emu_model *init,
				    const struct ncp_dataset *ds,
				    const struct ncp_trainer_opts *o, char *err,
				    size_t errlen)
{
	struct ncp_trainer *t;
	struct ncp_trainer_opts def;
	struct ncp_emu_model *m;
	size_t B;
	char name[64];

	if (!o) {
		ncp_trainer_opts_default(&def);
		o = &def;
	}
	if (o->batch < 1 || o->batch > 1 << 20) {
		ncp_errf(err, errlen, "batch %d is out of range (1 to %d)", o->batch, 1 << 20);
		return NULL;
	}
	if (ncp_dataset_neurons(ds) != init->spec.neurons ||
	    ncp_dataset_stim(ds) != init->spec.stim) {
		ncp_errf(err, errlen,
			 "the data has %d neurons and %d stimulation channels, the model %d and %d",
			 ncp_dataset_neurons(ds), ncp_dataset_stim(ds),
			 init->spec.neurons, init->spec.stim);
		return NULL;
	}
	if (ncp_dataset_joints(ds) != ncp_emu_spec_joints(&init->spec)) {
		ncp_errf(err, errlen, "the data is of an arm of %d links, the "
			 "model predicts one of %d (%d outputs)",
			 ncp_dataset_joints(ds), ncp_emu_spec_joints(&init->spec),
			 ncp_emu_spec_outputs(&init->spec));
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (!t)
		goto nomem;
	t->o = *o;
	t->ds = ds;
	t->m = m = ncp_emu_model_clone(init);
	if (!m)
		goto nomem_free;
	t->B = o->batch;
	B = (size_t)t->B;
	t->W = m->spec.window;
	t->N = m->spec.neurons;
	t->K = m->spec.ntau;
	t->X = ncp_calloc_aligned(B * (size_t)NCP_MAX(m->n_x, 1), sizeof(float));
	for (int l = 0; l < m->nlayers; l++) {
		t->Z[l] = ncp_calloc_aligned(B * (size_t)m->layer[l].out, sizeof(float));
		t->A[l] = ncp_calloc_aligned(B * (size_t)m->layer[l].out, sizeof(float));
		if (!t->Z[l] || !t->A[l])
			goto nomem_free;
	}
	t->dZ = ncp_calloc_aligned(B * (size_t)m->max_width, sizeof(float));
	t->dA = ncp_calloc_aligned(B * (size_t)m->max_width, sizeof(float));
	t->T = ncp_calloc_aligned(B * NOUT, sizeof(float));
	t->feat = ncp_calloc_aligned((size_t)m->nfeat, sizeof(float));
	t->vspk = calloc((size_t)t->W, sizeof(*t->vspk));
	t->vn = calloc((size_t)t->W, sizeof(int));
	t->zero_n = calloc((size_t)t->W, sizeof(int));
	t->vstim = calloc((size_t)t->W, sizeof(*t->vstim));
	t->ent_ptr = calloc(B + 1, sizeof(size_t));
	if (!t->X || !t->dZ || !t->dA || !t->T || !t->feat || !t->vspk ||
	    !t->vn || !t->zero_n || !t->vstim || !t->ent_ptr)
		goto nomem_free;
	if (m->n_spk) {
		t->ent_cap = B * (size_t)t->W * 32;
		t->ent = malloc(t->ent_cap * sizeof(uint32_t));
		if (!t->ent)
			goto nomem_free;
	}
	/* Parameters, in file order. */
	for (int l = 0; l < m->nlayers; l++) {
		struct ncp_emu_layer *ly = &m->layer[l];
		if (l == 0 && m->n_spk) {
			if (add_param(t, "layers.0.weight (spike inputs)", m->w0_spk,
				      m->n_spk * (size_t)ly->out, true) ||
			    add_param(t, "layers.0.weight (stimulation inputs)", ly->w,
				      (size_t)ly->in * (size_t)ly->out, true))
				goto nomem_free;
		} else {
			snprintf(name, sizeof(name), "layers.%d.weight", 2 * l);
			if (add_param(t, name, ly->w, (size_t)ly->in * (size_t)ly->out, true))
				goto nomem_free;
		}
		snprintf(name, sizeof(name), "layers.%d.bias", 2 * l);
		if (add_param(t, name, ly->b, (size_t)ly->out, false))
			goto nomem_free;
	}
	if (m->feat.spec.mode == NCP_FEAT_RUNNING && make_checkpoints(t))
		goto nomem_free;
	return t;

nomem_free:
	ncp_trainer_free(t);
nomem:
	ncp_errf(err, errlen, "out of memory for the trainer");
	errno = ENOMEM;
	return NULL;
}

/* ---- Inputs ------------------------------------------------------------- */

/* The filtered features of a row into t->feat (dense: only the
 * stimulation features are meaningful). */
static void row_features(struct ncp_trainer *t, uint64_t row)
{
	const struct ncp_emu_model *m = t->m;
	struct ncp_feat_win w;

	if (m->feat.spec.mode == NCP_FEAT_RUNNING) {
		int seg = ncp_dataset_segment_of(t->ds, row);
		uint64_t s0, len, local;
		ncp_dataset_segment(t->ds, seg, &s0, &len);
		local = row - s0;
		uint64_t j = (local + 1) / (uint64_t)t->W; /* checkpoints at or before */
		const float *c = seg == 0 && t->head_ok ? t->head : NULL;
		int n = (int)(local + 1);
		if (j > 0) {
			c = t->ckpt + (t->ckpt_base[seg] + j - 1) * (uint64_t)m->nfeat;
			n = (int)(local - (j * (uint64_t)t->W - 1));
		}
		ncp_dataset_view(t->ds, row, n, t->vspk, t->vn, t->vstim, &w);
		ncp_feat_running_from(&m->feat, c, &w, t->feat);
		return;
	}
	ncp_dataset_view(t->ds, row, t->W, t->vspk, t->vn, t->vstim, &w);
	if (m->n_spk) {
		if (!m->n_std)
			return;
		w.n = t->zero_n;
	}
	ncp_feat_window(&m->feat, &w, t->feat);
}

/* Fill X (and the dense entries) and T for rows[0..n). */
static int prepare(struct ncp_trainer *t, const uint64_t *rows, int n)
{
	const struct ncp_emu_model *m = t->m;
	size_t ne = 0;

	for (int b = 0; b < n; b++) {
		const uint64_t row = rows[b];
		const float *arm = target_of(t->ds, row, m->spec.horizon);
		const float *ain = m->n_arm ? arm_input_of(t->ds, row) : NULL;
		float base[NCP_EMU_MAX_OUTPUTS];

		float *x = t->X + (size_t)b * (size_t)m->n_x;
		row_features(t, row);
		ncp_emu_standardise(m, t->feat, x);
		if (m->n_arm)
			ncp_emu_standardise_arm(m, ain, x + m->n_std);
		ncp_emu_output_base(m, ain, base);
		for (int o = 0; o < NOUT; o++)
			t->T[b * NOUT + o] = (arm[o] - base[o] - m->out_mean[o]) /
					     m->out_scale[o];
		if (!m->n_spk)
			continue;
		t->ent_ptr[b] = ne;
		uint64_t s0, len;
		ncp_dataset_segment(t->ds, ncp_dataset_segment_of(t->ds, row), &s0, &len);
		for (int i = 0; i < t->W; i++) {
			const uint64_t back = (uint64_t)(t->W - 1 - i);
			const uint32_t *spk;
			int k;
			if (row - s0 < back)
				continue;	/* before the segment's start */
			k = ncp_dataset_spikes_at(t->ds, row - back, &spk);
			if (ne + (size_t)k > t->ent_cap) {
				size_t cap = 2 * t->ent_cap + (size_t)k;
				uint32_t *e = realloc(t->ent, cap * sizeof(uint32_t));
				if (!e)
					return -ENOMEM;
				t->ent = e;
				t->ent_cap = cap;
			}
			for (int j = 0; j < k; j++)
				t->ent[ne++] = (uint32_t)i * (uint32_t)t->N + spk[j];
		}
	}
	if (m->n_spk)
		t->ent_ptr[n] = ne;
	return 0;
}

/* ---- Forward and backward ---------------------------------------------- */

static void forward(struct ncp_trainer *t, int n)
{
	const struct ncp_emu_model *m = t->m;
	const float *in = t->X;

	for (int l = 0; l < m->nlayers; l++) {
		const struct ncp_emu_layer *ly = &m->layer[l];
		float *Z = t->Z[l];
		for (int b = 0; b < n; b++)
			memcpy(Z + (size_t)b * (size_t)ly->out, ly->b,
			       (size_t)ly->out * sizeof(float));
		if (ly->in)
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, ly->out,
				    ly->in, 1.0f, in, ly->in, ly->w, ly->in, 1.0f, Z,
				    ly->out);
		if (l == 0 && m->n_spk) {
			const int h = ly->out;
			for (int b = 0; b < n; b++) {
				float *z = Z + (size_t)b * (size_t)h;
				for (size_t e = t->ent_ptr[b]; e < t->ent_ptr[b + 1]; e++) {
					const float *row = m->w0_spk + (size_t)t->ent[e] * (size_t)h;
					for (int u = 0; u < h; u++)
						z[u] += row[u];
				}
			}
		}
		if (l + 1 < m->nlayers) {
			float *A = t->A[l];
			size_t cnt = (size_t)n * (size_t)ly->out;
			/* ReLU that keeps a NaN (so that the loss shows it). */
			for (size_t i = 0; i < cnt; i++)
				A[i] = Z[i] <= 0.0f ? 0.0f : Z[i];
			in = A;
		}
	}
}

/* The masked MSE of the output layer against T; with grad, its gradient
 * into t->dZ. */
static double masked_loss(struct ncp_trainer *t, int n, bool grad)
{
	const float *Y = t->Z[t->m->nlayers - 1];
	const double scale = 1.0 / ((double)n * NOUT);
	double sum = 0.0;

	for (int i = 0; i < n * NOUT; i++) {
		float d = isnan(t->T[i]) ? 0.0f : Y[i] - t->T[i];
		sum += (double)d * (double)d;
		if (grad)
			t->dZ[i] = (float)(2.0 * scale) * d;
	}
	return sum * scale;
}

static void backward(struct ncp_trainer *t, int n)
{
	const struct ncp_emu_model *m = t->m;
	int pi = t->np - 1;		/* parameters from the last */

	for (int l = m->nlayers - 1; l >= 0; l--) {
		const struct ncp_emu_layer *ly = &m->layer[l];
		const float *in = l ? t->A[l - 1] : t->X;
		struct param *pb = &t->p[pi--];
		struct param *pw = &t->p[pi--];
		float *dZ = t->dZ;

		/* bias: column sums */
		memset(pb->g, 0, (size_t)ly->out * sizeof(float));
		for (int b = 0; b < n; b++)
			for (int u = 0; u < ly->out; u++)
				pb->g[u] += dZ[(size_t)b * (size_t)ly->out + u];
		if (ly->in)
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ly->out,
				    ly->in, n, 1.0f, dZ, ly->out, in, ly->in, 0.0f, pw->g,
				    ly->in);
		if (l == 0 && m->n_spk) {
			struct param *ps = &t->p[pi--];
			const int h = ly->out;
			memset(ps->g, 0, ps->n * sizeof(float));
			for (int b = 0; b < n; b++) {
				const float *d = dZ + (size_t)b * (size_t)h;
				for (size_t e = t->ent_ptr[b]; e < t->ent_ptr[b + 1]; e++) {
					float *g = ps->g + (size_t)t->ent[e] * (size_t)h;
					for (int u = 0; u < h; u++)
						g[u] += d[u];
				}
			}
		}
		if (l == 0)
			break;
		/* dA = dZ W, then through the previous layer's ReLU. */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, ly->in,
			    ly->out, 1.0f, dZ, ly->out, ly->w, ly->in, 0.0f, t->dA,
			    ly->in);
		const float *Zp = t->Z[l - 1];
		size_t cnt = (size_t)n * (size_t)ly->in;
		for (size_t i = 0; i < cnt; i++)
			t->dZ[i] = Zp[i] > 0.0f ? t->dA[i] : 0.0f;
	}
}

static bool grads_finite(const struct ncp_trainer *t)
{
	for (int i = 0; i < t->np; i++) {
		float acc = 0.0f;
		const float *g = t->p[i].g;
		/* A NaN or infinity anywhere makes the sum non-finite. */
		for (size_t k = 0; k < t->p[i].n; k++)
			acc += g[k] * 0.0f;
		if (acc != 0.0f)
			return false;
	}
	return true;
}

int ncp_trainer_gradient(struct ncp_trainer *t, const uint64_t *rows, int n,
			 double *loss)
{
	int r;

	if (n < 1 || n > t->B)
		return -EINVAL;
	r = prepare(t, rows, n);
	if (r)
		return r;
	forward(t, n);
	*loss = masked_loss(t, n, true);
	backward(t, n);
	return 0;
}

static void adam(struct ncp_trainer *t)
{
	const double b1 = t->o.beta1, b2 = t->o.beta2;
	const double bc1 = 1.0 - pow(b1, (double)t->updates);
	const double bc2 = 1.0 - pow(b2, (double)t->updates);
	const float step = (float)(t->o.lr / bc1);
	const float rbc2 = (float)(1.0 / sqrt(bc2));
	const float eps = (float)t->o.eps, wd = (float)t->o.weight_decay;
	const float fb1 = (float)b1, fb2 = (float)b2;
	const float cb1 = (float)(1.0 - b1), cb2 = (float)(1.0 - b2);

	for (int i = 0; i < t->np; i++) {
		struct param *p = &t->p[i];
		const float dec = p->decay ? wd : 0.0f;
		for (size_t k = 0; k < p->n; k++) {
			float g = p->g[k] + dec * p->w[k];
			p->m[k] = fb1 * p->m[k] + cb1 * g;
			p->v[k] = fb2 * p->v[k] + cb2 * g * g;
			p->w[k] -= step * p->m[k] / (sqrtf(p->v[k]) * rbc2 + eps);
		}
	}
}

int ncp_trainer_step(struct ncp_trainer *t, const uint64_t *rows, int n,
		     double *loss)
{
	int r = ncp_trainer_gradient(t, rows, n, loss);

	if (r)
		return r;
	if (!isfinite(*loss) || !grads_finite(t))
		return -EDOM;
	t->updates++;
	adam(t);
	return 0;
}

void ncp_trainer_set_lr(struct ncp_trainer *t, double lr)
{
	t->o.lr = lr;
}

int ncp_trainer_loss(struct ncp_trainer *t, const uint64_t *rows, size_t n,
		     double *loss)
{
	double sum = 0.0;

	for (size_t i = 0; i < n; i += (size_t)t->B) {
		int k = (int)NCP_MIN((size_t)t->B, n - i);
		int r = prepare(t, rows + i, k);
		if (r)
			return r;
		forward(t, k);
		sum += masked_loss(t, k, false) * k;
	}
	*loss = n ? sum / (double)n : 0.0;
	return 0;
}

int ncp_trainer_predict(struct ncp_trainer *t, const uint64_t *rows, size_t n,
			float *out)
{
	const struct ncp_emu_model *m = t->m;

	for (size_t i = 0; i < n; i += (size_t)t->B) {
		int k = (int)NCP_MIN((size_t)t->B, n - i);
		int r = prepare(t, rows + i, k);
		if (r)
			return r;
		forward(t, k);
		const float *Y = t->Z[m->nlayers - 1];
		for (int b = 0; b < k; b++) {
			float base[NCP_EMU_MAX_OUTPUTS];
			ncp_emu_output_base(m, m->n_arm ? arm_input_of(t->ds, rows[i + (size_t)b]) : NULL, base);
			for (int o = 0; o < NOUT; o++)
				out[(i + (size_t)b) * NOUT + o] = base[o] +
					(Y[b * NOUT + o] * m->out_scale[o] + m->out_mean[o]);
		}
	}
	return 0;
}

int ncp_trainer_nparams(const struct ncp_trainer *t)
{
	return t->np;
}

void ncp_trainer_param(struct ncp_trainer *t, int i, struct ncp_trainer_param *p)
{
	p->name = t->p[i].name;
	p->value = t->p[i].w;
	p->grad = t->p[i].g;
	p->count = t->p[i].n;
}

const struct ncp_emu_model *ncp_trainer_model(const struct ncp_trainer *t)
{
	return t->m;
}

int ncp_trainer_export(const struct ncp_trainer *t, struct ncp_emu_model *dst)
{
	return ncp_emu_model_copy(dst, t->m);
}

int ncp_trainer_import(struct ncp_trainer *t, const struct ncp_emu_model *src)
{
	return ncp_emu_model_copy(t->m, src);
}

int ncp_trainer_take_optimizer(struct ncp_trainer *dst,
			       const struct ncp_trainer *src)
{
	if (dst->np != src->np)
		return -EINVAL;
	for (int i = 0; i < dst->np; i++)
		if (dst->p[i].n != src->p[i].n ||
		    strcmp(dst->p[i].name, src->p[i].name))
			return -EINVAL;
	for (int i = 0; i < dst->np; i++) {
		memcpy(dst->p[i].m, src->p[i].m, sizeof(float) * src->p[i].n);
		memcpy(dst->p[i].v, src->p[i].v, sizeof(float) * src->p[i].n);
	}
	dst->updates = src->updates;
	return 0;
}

uint64_t ncp_trainer_updates(const struct ncp_trainer *t)
{
	return t->updates;
}

/* ---- Normalisation ------------------------------------------------------ */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int ncp_trainer_fit_norm(struct ncp_trainer *t, const uint64_t *rows,
			 size_t n, double floor_frac)
{
	struct ncp_emu_model *m = t->m;
	const int ns = m->n_std, K = t->K, na = m->n_arm;
	double *s1 = calloc((size_t)NCP_MAX(ns, 1), sizeof(double));
	double *s2 = calloc((size_t)NCP_MAX(ns, 1), sizeof(double));
	double a1[NCP_EMU_MAX_OUTPUTS] = {0}, a2[NCP_EMU_MAX_OUTPUTS] = {0};
	uint64_t an[NCP_EMU_MAX_OUTPUTS] = {0};
	double *sd = calloc((size_t)NCP_MAX(ns, 1), sizeof(double));
	double *tmp = calloc((size_t)NCP_MAX(ns, 1), sizeof(double));
	double o1[NCP_EMU_MAX_OUTPUTS] = {0}, o2[NCP_EMU_MAX_OUTPUTS] = {0};
	uint64_t on[NCP_EMU_MAX_OUTPUTS] = {0};
	int r = 0;

	if (!s1 || !s2 || !sd || !tmp) {
		r = -ENOMEM;
		goto out;
	}
	if (n == 0) {
		r = -EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const float *arm = target_of(t->ds, rows[i], m->spec.horizon);
		if (ns) {
			row_features(t, rows[i]);
			const float *f = t->feat + m->std_offset;
			for (int j = 0; j < ns; j++) {
				s1[j] += f[j];
				s2[j] += (double)f[j] * f[j];
			}
		}
		const float *ain = na ? arm_input_of(t->ds, rows[i]) : NULL;
		/* The outputs' targets: the arm state, or in the residual
		 * form its change from the arm input (rows whose input is
		 * unknown left out). */
		for (int o = 0; o < NOUT; o++) {
			const double d = !m->spec.residual ? arm[o] :
					 ain ? (double)arm[o] - ain[o] : NAN;
			if (isfinite(d)) {
				o1[o] += d;
				o2[o] += d * d;
				on[o]++;
			}
		}
		for (int a = 0; ain && a < na; a++)
			if (isfinite(ain[a])) {
				a1[a] += ain[a];
				a2[a] += (double)ain[a] * ain[a];
				an[a]++;
			}
		if (i % 8192 == 0)
			progress(t, "normalisation", (double)i / (double)n);
	}
	for (int j = 0; j < ns; j++) {
		double mu = s1[j] / (double)n;
		double var = s2[j] / (double)n - mu * mu;
		m->in_mean[j] = (float)mu;
		sd[j] = var > 0 ? sqrt(var) : 0.0;
	}
	/* Floors: per group of features sharing a source (spikes or
	 * stimulation) and a time constant. */
	{
		int groups = m->n_spk ? 1 : 2;	/* dense: stimulation only */
		int neurons = m->n_spk ? 0 : t->N;
		int stim = m->spec.stim;
		for (int g = 0; g < groups; g++) {
			int first = g == 0 && !m->n_spk ? 0 : neurons;
			int count = g == 0 && !m->n_spk ? neurons : stim;
			if (count == 0)
				continue;
			/* Stimulation: the median deviation of the channels
			 * that vary, not inflated (see below). */
			const bool is_stim = first == neurons;
			for (int k = 0; k < K; k++) {
				double floor_v;
				int c = 0;
				for (int i = 0; i < count; i++) {
					double v = sd[(first + i) * K + k];
					if (!is_stim || v > 0)
						tmp[c++] = v;
				}
				qsort(tmp, (size_t)c, sizeof(double), cmp_double);
				floor_v = c == 0 ? 0.0 : c % 2 ? tmp[c / 2] :
					  0.5 * (tmp[c / 2 - 1] + tmp[c / 2]);
				if (!is_stim)
					floor_v *= floor_frac;
				for (int i = 0; i < count; i++) {
					int j = (first + i) * K + k;
					double s = NCP_MAX(sd[j], floor_v);
					m->in_scale[j] = s > 0 ? (float)s : 1.0f;
				}
			}
		}
	}
	for (int o = 0; o < NOUT; o++) {
		double mu = on[o] ? o1[o] / (double)on[o] : 0.0;
		double var = on[o] ? o2[o] / (double)on[o] - mu * mu : 0.0;
		m->out_mean[o] = (float)mu;
		m->out_scale[o] = var > 0 ? (float)sqrt(var) : 1.0f;
	}
	/* The arm inputs: their own mean and deviation, no floor (a few
	 * values of a state that varies everywhere). */
	for (int a = 0; a < na; a++) {
		double mu = an[a] ? a1[a] / (double)an[a] : 0.0;
		double var = an[a] ? a2[a] / (double)an[a] - mu * mu : 0.0;
		m->in_mean[ns + a] = (float)mu;
		m->in_scale[ns + a] = var > 0 ? (float)sqrt(var) : 1.0f;
	}
	ncp_emu_model_refresh(m);
out:
	free(s1);
	free(s2);
	free(sd);
	free(tmp);
	return r;
}

/* ---- Ridge -------------------------------------------------------------- */

#define RIDGE_CHUNK 256

static bool row_has_nan(const struct ncp_dataset *ds, uint64_t row,
			int horizon)
{
	const float *a = target_of(ds, row, horizon);
	for (int o = 0; o < NCP_ARM_STATE_DIMS(ncp_dataset_joints(ds)); o++)
		if (isnan(a[o]))
			return true;
	return false;
}

int ncp_trainer_fit_ridge(struct ncp_trainer *t, const uint64_t *train,
			  size_t ntrain, const uint64_t *val, size_t nval,
			  struct ncp_ridge_report *rep, char *err,
			  size_t errlen)
{
	struct ncp_emu_model *m = t->m;
	const int F = m->n_x;
	const size_t FF = (size_t)F * (size_t)F;
	double *G = NULL, *Gl = NULL, *C = NULL, *Wl = NULL;
	float *Gf = NULL, *Wall = NULL, *P = NULL;
	double *xm = NULL, tm[NCP_EMU_MAX_OUTPUTS] = {0};
	uint64_t *chunk = NULL;
	uint64_t used = 0;
	int nl = 0, r = 0;

	if (m->nlayers != 1 || m->n_spk)
		return ncp_errf(err, errlen, "closed-form training needs a ridge architecture, not %s",
				ncp_emu_arch_name(m->spec.arch));
	memset(rep, 0, sizeof(*rep));
	for (double e = -5.0; e <= 1.0001; e += 0.5)
		rep->lambdas[nl++] = pow(10.0, e);
	rep->nlambda = nl;
	G = calloc(FF, sizeof(double));
	Gl = malloc(FF * sizeof(double));
	Gf = malloc(FF * sizeof(float));
	C = calloc((size_t)F * NOUT, sizeof(double));
	Wl = malloc((size_t)F * NOUT * sizeof(double));
	xm = calloc((size_t)F, sizeof(double));
	Wall = malloc((size_t)nl * NOUT * (size_t)F * sizeof(float));
	P = malloc((size_t)t->B * (size_t)nl * NOUT * sizeof(float));
	chunk = malloc((size_t)t->B * sizeof(uint64_t));
	if (!G || !Gl || !Gf || !C || !Wl || !xm || !Wall || !P || !chunk) {
		r = -ENOMEM;
		ncp_errf(err, errlen, "out of memory for the ridge regression (%d features)", F);
		goto out;
	}

	/* Sums over the training rows: X^T X (upper triangle), X^T y, and the
	 * means, in double; each chunk's X^T X in float (ssyrk). */
	for (size_t i = 0; i < ntrain;) {
		int k = 0;
		while (i < ntrain && k < t->B) {
			if (!row_has_nan(t->ds, train[i], t->m->spec.horizon))
				chunk[k++] = train[i];
			i++;
		}
		if (!k)
			continue;
		if ((r = prepare(t, chunk, k)))
			goto out;
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, F, k, 1.0f, t->X,
			    F, 0.0f, Gf, F);
		for (int a = 0; a < F; a++) {
			double *g = G + (size_t)a * (size_t)F;
			const float *gf = Gf + (size_t)a * (size_t)F;
			for (int b = a; b < F; b++)
				g[b] += gf[b];
		}
		for (int b = 0; b < k; b++) {
			const float *x = t->X + (size_t)b * (size_t)F;
			const float *y = t->T + (size_t)b * NOUT;
			for (int j = 0; j < F; j++) {
				xm[j] += x[j];
				for (int o = 0; o < NOUT; o++)
					C[(size_t)j * NOUT + o] += (double)x[j] * y[o];
			}
			for (int o = 0; o < NOUT; o++)
				tm[o] += y[o];
		}
		used += (uint64_t)k;
		progress(t, "ridge: sums", (double)i / (double)ntrain);
	}
	if (used < 2) {
		r = ncp_errf(err, errlen, "ridge regression: no training rows with known targets");
		goto out;
	}
	rep->rows = used;
	/* Centre: covariance and cross-covariance per row. */
	for (int j = 0; j < F; j++)
		xm[j] /= (double)used;
	for (int o = 0; o < NOUT; o++)
		tm[o] /= (double)used;
	for (int a = 0; a < F; a++)
		for (int b = a; b < F; b++)
			G[(size_t)a * F + b] = G[(size_t)a * F + b] / (double)used - xm[a] * xm[b];
	for (int j = 0; j < F; j++)
		for (int o = 0; o < NOUT; o++)
			C[(size_t)j * NOUT + o] = C[(size_t)j * NOUT + o] / (double)used -
						  xm[j] * tm[o];

	/* One Cholesky solve per lambda.  In column-major terms G's upper
	 * triangle (row-major) is the lower one: solve with "L". */
	for (int li = 0; li < nl; li++) {
		int n = F, nrhs = NOUT, info = 0;
		memcpy(Gl, G, FF * sizeof(double));
		for (int j = 0; j < F; j++)
			Gl[(size_t)j * F + j] += rep->lambdas[li];
		/* Wl as column-major F x 6: column o is output o. */
		for (int j = 0; j < F; j++)
			for (int o = 0; o < NOUT; o++)
				Wl[(size_t)o * F + j] = C[(size_t)j * NOUT + o];
		dpotrf_("L", &n, Gl, &n, &info);
		if (info == 0)
			dpotrs_("L", &n, &nrhs, Gl, &n, Wl, &n, &info);
		if (info != 0) {
			/* Not positive definite at this lambda: never chosen. */
			for (int o = 0; o < NOUT; o++)
				rep->val_mse[li][o] = INFINITY;
			memset(Wall + (size_t)li * NOUT * F, 0, (size_t)NOUT * F * sizeof(float));
			continue;
		}
		for (int o = 0; o < NOUT; o++)
			for (int j = 0; j < F; j++)
				Wall[((size_t)li * NOUT + o) * F + j] = (float)Wl[(size_t)o * F + j];
		progress(t, "ridge: solves", (double)(li + 1) / nl);
	}

	/* Validation error of every lambda (intercepts from the means). */
	if (nval) {
		uint64_t nv = 0;
		double bias[NCP_RIDGE_MAX_LAMBDAS][NCP_EMU_MAX_OUTPUTS];
		for (int li = 0; li < nl; li++)
			for (int o = 0; o < NOUT; o++) {
				double b = tm[o];
				const float *w = Wall + ((size_t)li * NOUT + o) * F;
				for (int j = 0; j < F; j++)
					b -= (double)w[j] * xm[j];
				bias[li][o] = b;
				if (isfinite(rep->val_mse[li][o]))
					rep->val_mse[li][o] = 0.0;
			}
		for (size_t i = 0; i < nval;) {
			int k = 0;
			while (i < nval && k < t->B) {
				if (!row_has_nan(t->ds, val[i], t->m->spec.horizon))
					chunk[k++] = val[i];
				i++;
			}
			if (!k)
				continue;
			if ((r = prepare(t, chunk, k)))
				goto out;
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, k, nl * NOUT,
				    F, 1.0f, t->X, F, Wall, F, 0.0f, P, nl * NOUT);
			for (int b = 0; b < k; b++)
				for (int li = 0; li < nl; li++)
					for (int o = 0; o < NOUT; o++) {
						double d = P[(size_t)b * nl * NOUT + li * NOUT + o] +
							   bias[li][o] - t->T[b * NOUT + o];
						rep->val_mse[li][o] += d * d;
					}
			nv += (uint64_t)k;
		}
		for (int li = 0; li < nl; li++)
			for (int o = 0; o < NOUT; o++)
				rep->val_mse[li][o] /= (double)NCP_MAX(nv, 1);
	}
	/* Per output, the lambda with the least validation error. */
	for (int o = 0; o < NOUT; o++) {
		int best = -1;
		for (int li = 0; li < nl; li++) {
			if (!isfinite(rep->val_mse[li][o]))
				continue;
			if (best < 0 || (nval && rep->val_mse[li][o] < rep->val_mse[best][o]))
				best = li;
		}
		if (best < 0) {
			r = ncp_errf(err, errlen, "ridge regression failed for every lambda");
			goto out;
		}
		rep->chosen[o] = rep->lambdas[best];
		const float *w = Wall + ((size_t)best * NOUT + o) * F;
		double b = tm[o];
		for (int j = 0; j < F; j++)
			b -= (double)w[j] * xm[j];
		memcpy(m->layer[0].w + (size_t)o * F, w, (size_t)F * sizeof(float));
		m->layer[0].b[o] = (float)b;
	}
out:
	free(G);
	free(Gl);
	free(Gf);
	free(C);
	free(Wl);
	free(xm);
	free(Wall);
	free(P);
	free(chunk);
	return r;
}
