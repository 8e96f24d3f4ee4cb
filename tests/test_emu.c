/* The emulator: features against a direct dense computation, the forward
 * pass of every architecture against a reference written here in double,
 * gradients against finite differences of that reference, model files
 * (round trip, every refusal), inference without allocation, determinism,
 * block validation, recordings, and training to a known answer. */
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cblas.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_dataset.h"
#include "models/emu/ncp_emu.h"
#include "models/emu/ncp_emu_int.h"
#include "models/emu/ncp_feat.h"
#include "models/emu/ncp_score.h"
#include "models/emu/ncp_trainer.h"
#include "models/io/ncp_npy.h"
#include "models/io/ncp_recording.h"
#include "models/io/ncp_safetensors.h"
#include "tests/ncp_check.h"

static void make_dir(void)
{
	ncp_ck_make_dir("emu");
}

/* ---- Counting allocations ------------------------------------------------
 * This program's malloc family counts calls and forwards to the C
 * library's, except under AddressSanitizer and ThreadSanitizer, whose
 * runtimes own malloc (there the check is reported as skipped). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define COUNT_ALLOCS 0
#else
#define COUNT_ALLOCS 1
#endif
#if COUNT_ALLOCS
static atomic_ulong alloc_calls;
static void *(*real_malloc)(size_t);
static void *(*real_calloc)(size_t, size_t);
static void *(*real_realloc)(void *, size_t);
static int (*real_posix_memalign)(void **, size_t, size_t);
static void *(*real_aligned_alloc)(size_t, size_t);
static void (*real_free)(void *);
/* dlsym may allocate before the real functions are known: from here. */
static char boot[4096] __attribute__((aligned(64)));
static size_t boot_used;

static void *boot_alloc(size_t n)
{
	n = (n + 63) & ~(size_t)63;
	if (boot_used + n > sizeof(boot))
		return NULL;
	void *p = boot + boot_used;
	boot_used += n;
	return p;
}

static void resolve(void)
{
	static _Thread_local bool busy;
	if (real_free || busy)
		return;
	busy = true;
	real_malloc = (void *(*)(size_t))dlsym(RTLD_NEXT, "malloc");
	real_calloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "calloc");
	real_realloc = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
	real_posix_memalign = (int (*)(void **, size_t, size_t))dlsym(RTLD_NEXT, "posix_memalign");
	real_aligned_alloc = (void *(*)(size_t, size_t))dlsym(RTLD_NEXT, "aligned_alloc");
	real_free = (void (*)(void *))dlsym(RTLD_NEXT, "free");
	busy = false;
}

static bool in_boot(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

void *malloc(size_t n)
{
	resolve();
	atomic_fetch_add(&alloc_calls, 1);
	return real_malloc ? real_malloc(n) : boot_alloc(n);
}

void *calloc(size_t n, size_t size)
{
	resolve();
	atomic_fetch_add(&alloc_calls, 1);
	if (!real_calloc)
		return boot_alloc(n * size);	/* static: already zero */
	return real_calloc(n, size);
}

void *realloc(void *p, size_t n)
{
	resolve();
	atomic_fetch_add(&alloc_calls, 1);
	if (in_boot(p)) {
		void *q = real_malloc(n);
		if (q)
			memcpy(q, p, n);
		return q;
	}
	return real_realloc(p, n);
}

int posix_memalign(void **p, size_t align, size_t n)
{
	resolve();
	atomic_fetch_add(&alloc_calls, 1);
	return real_posix_memalign(p, align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	resolve();
	atomic_fetch_add(&alloc_calls, 1);
	return real_aligned_alloc(align, n);
}

void free(void *p)
{
	resolve();
	if (!p || in_boot(p))
		return;
	real_free(p);
}
#endif

/* ---- Helpers ------------------------------------------------------------ */

/* A spike history: x[s][n] in {0, 1}, stim[s][c]. */
struct hist {
	int steps, N, C;
	uint8_t *x;
	float *stim;
};

static void hist_make(struct hist *h, int steps, int N, int C, uint64_t seed,
		      double stim_share)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, seed);
	h->steps = steps;
	h->N = N;
	h->C = C;
	h->x = calloc((size_t)steps * (size_t)N, 1);
	h->stim = calloc((size_t)steps * (size_t)NCP_MAX(C, 1), sizeof(float));
	double *p = malloc((size_t)N * sizeof(double));
	for (int n = 0; n < N; n++)
		p[n] = 0.02 + 0.3 * ncp_rng_uniform(&rng);
	for (int s = 0; s < steps; s++) {
		for (int n = 0; n < N; n++)
			h->x[s * N + n] = ncp_rng_uniform(&rng) < p[n];
		if (ncp_rng_uniform(&rng) < stim_share)
			for (int c = 0; c < C; c++)
				h->stim[s * C + c] = (float)ncp_rng_range(&rng, -1, 1);
	}
	free(p);
}

static void hist_free(struct hist *h)
{
	free(h->x);
	free(h->stim);
}

static int hist_spikes(const struct hist *h, int s, uint32_t *idx)
{
	int k = 0;
	for (int n = 0; n < h->N; n++)
		if (h->x[s * h->N + n])
			idx[k++] = (uint32_t)n;
	return k;
}

static bool stim_zero(const struct hist *h, int s)
{
	for (int c = 0; c < h->C; c++)
		if (h->stim[s * h->C + c] != 0.0f)
			return false;
	return true;
}

/* The features of step t, straight from the definition, over steps
 * [from, t] (from: the window's or the segment's first step). */
static void ref_features(const struct ncp_emu_spec *sp, bool running,
			 const struct hist *h, int from, int t, double *out)
{
	const int K = sp->ntau, N = sp->neurons, C = sp->stim;
	int first = running ? from : NCP_MAX(from, t - sp->window + 1);

	memset(out, 0, (size_t)(N + C) * (size_t)K * sizeof(double));
	for (int k = 0; k < K; k++) {
		double a = exp(-sp->dt / sp->taus[k]), g = (1 - a) / sp->dt;
		for (int s = first; s <= t; s++) {
			double c = g * pow(a, t - s);
			for (int n = 0; n < N; n++)
				if (h->x[s * N + n])
					out[n * K + k] += c;
			for (int ch = 0; ch < C; ch++)
				out[(N + ch) * K + k] += c * h->stim[s * h->C + ch];
		}
	}
}

/* The model's outputs at step t of h (segment starting at from), in
 * double; *zmin: the smallest |pre-activation| of a hidden unit. */
static void ref_forward(const struct ncp_emu_model *m, const struct hist *h,
			int from, int t, double out[6], double *zmin)
{
	const struct ncp_emu_spec *sp = &m->spec;
	const bool running = ncp_emu_arch_mode(sp->arch) == NCP_FEAT_RUNNING;
	const int K = sp->ntau, N = sp->neurons;
	double *f = calloc((size_t)m->nfeat, sizeof(double));
	double *x = calloc((size_t)NCP_MAX(m->n_std, 1), sizeof(double));
	double *a = calloc((size_t)m->max_width, sizeof(double));
	double *z = calloc((size_t)m->max_width, sizeof(double));
	int in = m->n_std;

	ref_features(sp, running, h, from, t, f);
	for (int j = 0; j < m->n_std; j++)
		x[j] = (f[m->std_offset + j] - m->in_mean[j]) / m->in_scale[j];
	for (int l = 0; l < m->nlayers; l++) {
		const struct ncp_emu_layer *ly = &m->layer[l];
		const double *src = l ? a : x;
		for (int u = 0; u < ly->out; u++) {
			double s = ly->b[u];
			for (int j = 0; j < in; j++)
				s += (double)ly->w[(size_t)u * (size_t)in + j] * src[j];
			z[u] = s;
		}
		if (l == 0 && m->n_spk) {
			/* The flattened window: position p of W, neuron n. */
			for (int p = 0; p < sp->window; p++) {
				int s = t - (sp->window - 1 - p);
				if (s < from)
					continue;
				for (int n = 0; n < N; n++)
					if (h->x[s * N + n])
						for (int u = 0; u < ly->out; u++)
							z[u] += m->w0_spk[((size_t)p * N + n) * ly->out + u];
			}
		}
		if (l + 1 < m->nlayers) {
			for (int u = 0; u < ly->out; u++) {
				if (zmin && fabs(z[u]) < *zmin)
					*zmin = fabs(z[u]);
				a[u] = z[u] > 0 ? z[u] : 0;
			}
		} else {
			for (int o = 0; o < 6; o++)
				out[o] = z[o];
		}
		in = ly->out;
	}
	(void)K;
	free(f);
	free(x);
	free(a);
	free(z);
}

/* A small spec of an architecture. */
static void small_spec(struct ncp_emu_spec *s, enum ncp_emu_arch arch, int W,
		       int N, int C)
{
	ncp_emu_spec_default(s, arch);
	s->window = W;
	s->neurons = N;
	s->stim = C;
	s->ntau = 3;
	s->taus[0] = 0.002;
	s->taus[1] = 0.005;
	s->taus[2] = 0.011;
	if (arch == NCP_EMU_MLP || arch == NCP_EMU_MLP_RUNNING || arch == NCP_EMU_DENSE) {
		s->nhidden = 2;
		s->hidden[0] = 7;
		s->hidden[1] = 5;
	}
}

/* Random normalisations, so that every one of them matters. */
static void randomise_norm(struct ncp_emu_model *m, uint64_t seed)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, seed);
	for (int j = 0; j < m->n_std; j++) {
		m->in_mean[j] = (float)ncp_rng_range(&rng, 0, 50);
		m->in_scale[j] = (float)ncp_rng_range(&rng, 20, 200);
	}
	for (int o = 0; o < 6; o++) {
		m->out_mean[o] = (float)ncp_rng_range(&rng, -1, 1);
		m->out_scale[o] = (float)ncp_rng_range(&rng, 0.1, 2);
	}
	ncp_emu_model_refresh(m);
}

static struct ncp_emu_model *new_model(const struct ncp_emu_spec *s, uint64_t seed)
{
	char err[256];
	struct ncp_emu_model *m = ncp_emu_model_new(s, seed, err, sizeof(err));
	ck_assert_msg(m, "%s", err);
	return m;
}

/* ---- Features ----------------------------------------------------------- */

/* Spikes at the window's edges: neuron 3 spikes only at steps 31 and 30,
 * the first step of step 40's window of 10 and the one before it; step 20
 * is empty. */
static void edge_cases(struct hist *h, int W)
{
	memset(h->x + 20 * h->N, 0, (size_t)h->N);
	for (int s = 0; s < h->steps; s++)
		h->x[s * h->N + 3] = s == 40 - W + 1 || s == 40 - W;
}

/* Both modes against the definition. */
START_TEST(features_match_definition)
{
	enum { W = 10, N = 12, C = 2, steps = 47 };
	struct hist h;
	char err[128];
	hist_make(&h, steps, N, C, 7, 0.3);
	edge_cases(&h, W);
	for (int mode = 0; mode < 2; mode++) {
		struct ncp_emu_spec sp;
		small_spec(&sp, mode ? NCP_EMU_RIDGE_RUNNING : NCP_EMU_RIDGE, W, N, C);
		struct ncp_feat_spec fs = {.window = W, .neurons = N, .stim = C,
					   .ntau = sp.ntau, .dt = sp.dt,
					   .mode = mode ? NCP_FEAT_RUNNING : NCP_FEAT_WINDOW};
		memcpy(fs.taus, sp.taus, sizeof(fs.taus));
		struct ncp_feat f;
		ck_assert_int_eq(ncp_feat_init(&f, &fs, err, sizeof(err)), 0);
		double *ref = calloc((size_t)f.nfeat, sizeof(double));
		double *state = calloc((size_t)f.nfeat, sizeof(double));
		float *out = calloc((size_t)f.nfeat, sizeof(float));
		uint32_t spk[W][N];
		const uint32_t *ps[W];
		int ns[W];
		const float *pst[W];
		for (int t = 0; t < steps; t++) {
			if (mode) {
				int n = hist_spikes(&h, t, spk[0]);
				ncp_feat_running_step(&f, state, spk[0], n,
						      stim_zero(&h, t) ? NULL : h.stim + t * C);
				for (int j = 0; j < f.nfeat; j++)
					out[j] = (float)state[j];
			} else {
				int len = NCP_MIN(t + 1, W);
				for (int i = 0; i < len; i++) {
					int s = t - (len - 1 - i);
					ns[i] = hist_spikes(&h, s, spk[i]);
					ps[i] = spk[i];
					pst[i] = stim_zero(&h, s) ? NULL : h.stim + s * C;
				}
				struct ncp_feat_win w = {.len = len, .spk = ps, .n = ns, .stim = pst};
				ncp_feat_window(&f, &w, out);
			}
			ref_features(&sp, mode, &h, 0, t, ref);
			for (int j = 0; j < f.nfeat; j++)
				ck_assert_msg(fabs(out[j] - ref[j]) <= 1e-5 * (1 + fabs(ref[j])),
					      "%s step %d feature %d: %.7g, expected %.7g",
					      mode ? "running" : "window", t, j, (double)out[j], ref[j]);
			if (!mode && t == 40) {
				/* The edge neuron: only its spike at the window's
				 * first step counts. */
				double a0 = exp(-sp.dt / sp.taus[0]);
				ncp_ck_near(out[3 * 3 + 0], (1 - a0) / sp.dt * pow(a0, W - 1), 1e-3);
			}
		}
		free(ref);
		free(state);
		free(out);
		ncp_feat_fini(&f);
	}
	hist_free(&h);
}
END_TEST

/* Running features from a checkpoint equal the running recursion. */
START_TEST(running_from_checkpoint)
{
	const int W = 8, N = 9, C = 1, steps = 40;
	struct ncp_feat_spec fs = {.window = W, .neurons = N, .stim = C, .ntau = 2,
				   .taus = {0.003, 0.02}, .dt = 0.001,
				   .mode = NCP_FEAT_RUNNING};
	struct ncp_feat f;
	struct hist h;
	char err[128];
	ck_assert_int_eq(ncp_feat_init(&f, &fs, err, sizeof(err)), 0);
	hist_make(&h, steps, N, C, 3, 0.5);
	double *state = calloc((size_t)f.nfeat, sizeof(double));
	float *ckpt = calloc((size_t)f.nfeat, sizeof(float));
	float *out = calloc((size_t)f.nfeat, sizeof(float));
	uint32_t idx[16], spk[W][16];
	const uint32_t *ps[W];
	int ns[W];
	const float *pst[W];
	for (int t = 0; t < steps; t++) {
		int n = hist_spikes(&h, t, idx);
		ncp_feat_running_step(&f, state, idx, n, h.stim + t);
		if (t == 15)
			for (int j = 0; j < f.nfeat; j++)
				ckpt[j] = (float)state[j];
		if (t > 15 && t <= 15 + W) {
			int len = t - 15;
			for (int i = 0; i < len; i++) {
				int s = 16 + i;
				ns[i] = hist_spikes(&h, s, spk[i]);
				ps[i] = spk[i];
				pst[i] = h.stim + s;
			}
			struct ncp_feat_win w = {.len = len, .spk = ps, .n = ns, .stim = pst};
			ncp_feat_running_from(&f, ckpt, &w, out);
			for (int j = 0; j < f.nfeat; j++)
				ck_assert_msg(fabs(out[j] - state[j]) <= 1e-4 * (1 + fabs(state[j])),
					      "t %d feature %d: %g vs %g", t, j, (double)out[j], state[j]);
		}
	}
	free(state);
	free(ckpt);
	free(out);
	hist_free(&h);
	ncp_feat_fini(&f);
}
END_TEST

/* ---- Forward pass ------------------------------------------------------- */

START_TEST(forward_matches_reference)
{
	const int W = 10, N = 12, C = 3, steps = 70;
	struct hist h;
	hist_make(&h, steps, N, C, 11, 0.4);
	edge_cases(&h, W);
	for (int arch = 0; arch < NCP_EMU_ARCH_COUNT; arch++) {
		struct ncp_emu_spec sp;
		small_spec(&sp, (enum ncp_emu_arch)arch, W, N, C);
		struct ncp_emu_model *m = new_model(&sp, 100 + (uint64_t)arch);
		randomise_norm(m, 5);
		struct ncp_emu_state *st = ncp_emu_state_new(m);
		uint32_t idx[32];
		int checked = 0;
		for (int t = 0; t < steps; t++) {
			float out[6];
			double ref[6] = {0}, z = INFINITY;
			int n = hist_spikes(&h, t, idx);
			ncp_emu_push(st, idx, n, h.stim + t * C, C);
			if (t == 45) {
				/* New weights mid-run: the state rebuilds its
				 * first layer from the history it kept. */
				struct ncp_emu_model *m2 = new_model(&sp, 999);
				randomise_norm(m2, 6);
				ck_assert_int_eq(ncp_emu_model_copy(m, m2), 0);
				ncp_emu_model_free(m2);
				ck_assert_int_eq(ncp_emu_state_set_model(st, m), 0);
			}
			if (t % 3 == 1 && t < 60)
				continue;	/* pushes without a prediction */
			ncp_emu_predict(st, out);
			ref_forward(m, &h, 0, t, ref, &z);
			for (int o = 0; o < 6; o++) {
				double r = ref[o] * m->out_scale[o] + m->out_mean[o];
				ck_assert_msg(fabs(out[o] - r) <= 2e-5 * (1 + fabs(r)),
					      "%s step %d output %d: %.7g, reference %.7g",
					      ncp_emu_arch_name(sp.arch), t, o, (double)out[o], r);
			}
			checked++;
		}
		ck_assert_int_gt(checked, 40);
		/* Reset forgets the history. */
		ncp_emu_state_reset(st);
		ck_assert_uint_eq(ncp_emu_state_steps(st), 0);
		ncp_emu_state_free(st);
		ncp_emu_model_free(m);
	}
	hist_free(&h);
}
END_TEST

/* ---- Gradients ---------------------------------------------------------- */

/* Two segments of h: steps [0, cut) and [cut, steps). */
static struct ncp_dataset *make_dataset(const struct hist *h, const float *arm,
					int cut)
{
	struct ncp_dataset *ds = ncp_dataset_new(h->N, h->C);
	uint32_t idx[256];
	ck_assert_ptr_nonnull(ds);
	for (int s = 0; s < h->steps; s++) {
		if (s == 0 || s == cut)
			ck_assert_int_eq(ncp_dataset_begin(ds, s ? "second" : "first"), 0);
		int n = hist_spikes(h, s, idx);
		ck_assert_int_eq(ncp_dataset_append(ds, idx, n, h->stim + s * h->C, h->C,
						    arm + s * 6), 0);
	}
	return ds;
}

/* The loss the trainer minimises, in double, from the reference. */
static double ref_loss(const struct ncp_emu_model *m, const struct hist *h,
		       const float *arm, int cut, const uint64_t *rows, int n,
		       double *zmin)
{
	double sum = 0;
	for (int b = 0; b < n; b++) {
		int t = (int)rows[b], from = t >= cut ? cut : 0;
		double y[6] = {0};
		ref_forward(m, h, from, t, y, zmin);
		for (int o = 0; o < 6; o++) {
			double target = ((double)arm[t * 6 + o] - m->out_mean[o]) / m->out_scale[o];
			if (isnan(arm[t * 6 + o]))
				continue;
			sum += (y[o] - target) * (y[o] - target);
		}
	}
	return sum / (6.0 * n);
}

START_TEST(gradients_match_finite_differences)
{
	enum { W = 5, N = 8, C = 2, steps = 40, cut = 23, nb = 8 };
	static const enum ncp_emu_arch archs[] = {NCP_EMU_MLP, NCP_EMU_MLP_RUNNING,
						  NCP_EMU_DENSE, NCP_EMU_RIDGE};
	/* Rows of both segments, some with partial windows. */
	const uint64_t rows[nb] = {4, 9, 17, 22, 23, 25, 31, 39};

	for (size_t ai = 0; ai < NCP_ARRAY_SIZE(archs); ai++) {
		struct ncp_emu_spec sp;
		small_spec(&sp, archs[ai], W, N, C);
		bool done = false;
		/* Draw until no hidden pre-activation sits near a ReLU kink. */
		for (uint64_t seed = 1; seed < 60 && !done; seed++) {
			struct hist h;
			hist_make(&h, steps, N, C, seed, 0.5);
			float *arm = malloc((size_t)steps * 6 * sizeof(float));
			struct ncp_rng rng;
			ncp_rng_seed(&rng, seed + 1000);
			for (int i = 0; i < steps * 6; i++)
				arm[i] = i % 11 == 3 ? NAN : (float)ncp_rng_range(&rng, -1, 1);
			struct ncp_dataset *ds = make_dataset(&h, arm, cut);
			struct ncp_emu_model *m0 = new_model(&sp, seed);
			randomise_norm(m0, seed);
			for (int j = 0; j < m0->n_std; j++) {
				m0->in_mean[j] = (float)(m0->in_mean[j] * 0.2);
				m0->in_scale[j] = (float)(m0->in_scale[j] * 2);
			}
			ncp_emu_model_refresh(m0);
			if (m0->n_spk)
				for (size_t i = 0; i < m0->n_spk * 7; i++)
					m0->w0_spk[i] *= 20.0f;
			struct ncp_trainer_opts to;
			ncp_trainer_opts_default(&to);
			to.batch = nb;
			char err[256];
			struct ncp_trainer *tr = ncp_trainer_new(m0, ds, &to, err, sizeof(err));
			ck_assert_msg(tr, "%s", err);
			const struct ncp_emu_model *m = ncp_trainer_model(tr);
			double zmin = INFINITY, loss;
			ref_loss(m, &h, arm, cut, rows, nb, &zmin);
			if (zmin < 2e-3) {
				ncp_trainer_free(tr);
				ncp_emu_model_free(m0);
				ncp_dataset_free(ds);
				free(arm);
				hist_free(&h);
				continue;
			}
			ck_assert_int_eq(ncp_trainer_gradient(tr, rows, nb, &loss), 0);
			ncp_ck_near(loss, ref_loss(m, &h, arm, cut, rows, nb, NULL), 1e-5 * (1 + loss));
			for (int pi = 0; pi < ncp_trainer_nparams(tr); pi++) {
				struct ncp_trainer_param p;
				double gmax = 0;
				ncp_trainer_param(tr, pi, &p);
				for (size_t k = 0; k < p.count; k++)
					gmax = fmax(gmax, fabs(p.grad[k]));
				ck_assert_msg(gmax > 0 || p.count == 0,
					      "%s: %s has no gradient at all",
					      ncp_emu_arch_name(sp.arch), p.name);
				for (size_t k = 0; k < p.count; k++) {
					const float v = p.value[k];
					p.value[k] = v + 1e-4f;
					double vp = p.value[k];
					double lp = ref_loss(m, &h, arm, cut, rows, nb, NULL);
					p.value[k] = v - 1e-4f;
					double vm = p.value[k];
					double lm = ref_loss(m, &h, arm, cut, rows, nb, NULL);
					p.value[k] = v;
					double num = (lp - lm) / (vp - vm);
					ck_assert_msg(fabs(p.grad[k] - num) <= 2e-3 * fabs(num) + 1e-4 * gmax,
						      "%s: %s[%zu]: gradient %.7g, finite difference %.7g",
						      ncp_emu_arch_name(sp.arch), p.name, k,
						      (double)p.grad[k], num);
				}
			}
			done = true;
			ncp_trainer_free(tr);
			ncp_emu_model_free(m0);
			ncp_dataset_free(ds);
			free(arm);
			hist_free(&h);
		}
		ck_assert_msg(done, "%s: no draw without a kink", ncp_emu_arch_name(sp.arch));
	}
}
END_TEST

/* A NaN target costs nothing and moves nothing; a NaN input stops the
 * step with the weights untouched. */
START_TEST(nan_targets_and_inputs)
{
	const int W = 4, N = 6, C = 1, steps = 20;
	struct hist h;
	hist_make(&h, steps, N, C, 2, 0.5);
	float *arm = malloc((size_t)steps * 6 * sizeof(float));
	for (int i = 0; i < steps * 6; i++)
		arm[i] = NAN;
	struct ncp_dataset *ds = make_dataset(&h, arm, steps);
	struct ncp_emu_spec sp;
	small_spec(&sp, NCP_EMU_MLP, W, N, C);
	struct ncp_emu_model *m0 = new_model(&sp, 4);
	struct ncp_trainer *tr = ncp_trainer_new(m0, ds, NULL, NULL, 0);
	ck_assert_ptr_nonnull(tr);
	uint64_t rows[3] = {5, 6, 7};
	double loss;
	ck_assert_int_eq(ncp_trainer_step(tr, rows, 3, &loss), 0);
	ck_assert(loss == 0.0);
	ck_assert(ncp_emu_model_equal(ncp_trainer_model(tr), m0));
	/* A non-finite weight: the step is refused. */
	for (int i = 0; i < steps * 6; i++)
		arm[i] = 0.5f;
	ncp_dataset_free(ds);
	ncp_trainer_free(tr);
	ds = make_dataset(&h, arm, steps);
	m0->layer[0].w[0] = NAN;
	tr = ncp_trainer_new(m0, ds, NULL, NULL, 0);
	struct ncp_emu_model *before = ncp_emu_model_clone(ncp_trainer_model(tr));
	int r = ncp_trainer_step(tr, rows, 3, &loss);
	ck_assert_int_eq(r, -EDOM);
	ck_assert_uint_eq(ncp_trainer_updates(tr), 0);
	ck_assert(!memcmp(before->layer[1].w, ncp_trainer_model(tr)->layer[1].w,
			  sizeof(float) * 35));
	ncp_emu_model_free(before);
	ncp_trainer_free(tr);
	ncp_emu_model_free(m0);
	ncp_dataset_free(ds);
	free(arm);
	hist_free(&h);
}
END_TEST

/* ---- Files -------------------------------------------------------------- */

static void read_bytes(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	*len = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	*buf = malloc(*len + 1);
	ck_assert_uint_eq(fread(*buf, 1, *len, f), *len);
	fclose(f);
}

START_TEST(save_load_round_trip)
{
	char err[512];
	make_dir();
	for (int arch = 0; arch < NCP_EMU_ARCH_COUNT; arch++) {
		struct ncp_emu_spec sp;
		small_spec(&sp, (enum ncp_emu_arch)arch, 7, 11, arch == 1 ? 0 : 3);
		struct ncp_emu_model *m = new_model(&sp, 9);
		randomise_norm(m, 3);
		ck_assert_int_eq(ncp_emu_model_set_config(m, "{\"lr\": 0.001, \"note\": \"\\u00e9\"}"), 0);
		ck_assert_int_eq(ncp_emu_model_set_config(m, "[1]"), -EINVAL);
		const char *p1 = ncp_ck_path("a.safetensors"), *p2 = ncp_ck_path("b.safetensors");
		ck_assert_msg(ncp_emu_model_save(m, p1, err, sizeof(err)) == 0, "%s", err);
		struct ncp_emu_model *l = ncp_emu_model_load(p1, err, sizeof(err));
		ck_assert_msg(l, "%s", err);
		ck_assert(ncp_emu_model_equal(m, l));
		ck_assert_str_eq(ncp_emu_model_config(l), ncp_emu_model_config(m));
		ck_assert_str_eq(ncp_emu_model_arch_name(l), ncp_emu_arch_name(sp.arch));
		ck_assert_int_eq(ncp_emu_model_window(l), 7);
		ck_assert_int_eq(ncp_emu_model_neurons(l), 11);
		ck_assert_int_eq(ncp_emu_model_stim_channels(l), sp.stim);
		ck_assert_int_eq(ncp_emu_model_outputs(l), 6);
		/* Saving what was loaded gives the same bytes. */
		ck_assert_int_eq(ncp_emu_model_save(l, p2, err, sizeof(err)), 0);
		char *b1, *b2;
		size_t n1, n2;
		read_bytes(p1, &b1, &n1);
		read_bytes(p2, &b2, &n2);
		ck_assert_uint_eq(n1, n2);
		ck_assert(!memcmp(b1, b2, n1));
		/* The same predictions, to the bit. */
		struct ncp_emu_state *s1 = ncp_emu_state_new(m), *s2 = ncp_emu_state_new(l);
		uint32_t spk[3] = {1, 5, 10};
		float st[3] = {0.5f, 0, -1};
		for (int t = 0; t < 12; t++) {
			float o1[6], o2[6];
			ncp_emu_push(s1, spk, t % 4, st, 3);
			ncp_emu_push(s2, spk, t % 4, st, 3);
			ncp_emu_predict(s1, o1);
			ncp_emu_predict(s2, o2);
			ck_assert(!memcmp(o1, o2, sizeof(o1)));
		}
		/* A clone, a copy into a spare, a state moved onto it. */
		struct ncp_emu_model *c = ncp_emu_model_clone(l);
		ck_assert(ncp_emu_model_equal(c, m));
		struct ncp_emu_model *spare = new_model(&sp, 77);
		ck_assert(!ncp_emu_model_equal(spare, m));
		ck_assert_int_eq(ncp_emu_model_copy(spare, m), 0);
		ck_assert(ncp_emu_model_equal(spare, m));
		ck_assert_int_eq(ncp_emu_state_set_model(s1, spare), 0);
		free(b1);
		free(b2);
		ncp_emu_state_free(s1);
		ncp_emu_state_free(s2);
		ncp_emu_model_free(spare);
		ncp_emu_model_free(c);
		ncp_emu_model_free(l);
		ncp_emu_model_free(m);
	}
	ncp_ck_remove_dir();
}
END_TEST

/* Rewrite src into dst with metadata key set to value (NULL: removed),
 * tensor `drop` left out, tensor `reshape` given a first dimension one
 * smaller (its data cut to fit), and `extra` added. */
static void rewrite(const char *src, const char *dst, const char *key,
		    const char *value, const char *drop, const char *reshape,
		    const char *extra, const char *poison)
{
	char err[512];
	struct ncp_safetensors *st = ncp_safetensors_load(src, err, sizeof(err));
	ck_assert_msg(st, "%s", err);
	size_t n = ncp_safetensors_count(st), nm = ncp_safetensors_meta_count(st), k = 0, km = 0;
	struct ncp_safetensors_tensor *t = calloc(n + 1, sizeof(*t));
	struct ncp_safetensors_meta *meta = calloc(nm + 1, sizeof(*meta));
	float *copy = NULL;
	bool set = false;
	for (size_t i = 0; i < n; i++) {
		const struct ncp_safetensors_tensor *x = ncp_safetensors_at(st, i);
		if (drop && !strcmp(x->name, drop))
			continue;
		t[k] = *x;
		if (reshape && !strcmp(x->name, reshape))
			t[k].shape[0]--;
		if (poison && !strcmp(x->name, poison)) {
			size_t bytes = x->end - x->begin;
			copy = malloc(bytes);
			memcpy(copy, x->data, bytes);
			copy[bytes / sizeof(float) - 1] = NAN;
			t[k].data = copy;
		}
		k++;
	}
	static const float one[4] = {1, 2, 3, 4};
	if (extra)
		t[k++] = (struct ncp_safetensors_tensor){.name = extra,
			.dtype = NCP_SAFETENSORS_F32, .ndim = 1, .shape = {4}, .data = one};
	for (size_t i = 0; i < nm; i++) {
		const struct ncp_safetensors_meta *x = ncp_safetensors_meta_at(st, i);
		if (key && !strcmp(x->key, key)) {
			set = true;
			if (!value)
				continue;
			meta[km].key = x->key;
			meta[km++].value = value;
			continue;
		}
		meta[km++] = *x;
	}
	if (key && value && !set) {
		meta[km].key = key;
		meta[km++].value = value;
	}
	ck_assert_int_eq(ncp_safetensors_write(dst, t, k, meta, km), 0);
	free(copy);
	free(t);
	free(meta);
	ncp_safetensors_free(st);
}

static void refused(const char *path, const char *want1, const char *want2)
{
	char err[512] = "";
	struct ncp_emu_model *m = ncp_emu_model_load(path, err, sizeof(err));
	ck_assert_msg(!m, "%s was accepted", path);
	ck_assert_msg(strstr(err, path), "message does not name the file: %s", err);
	ck_assert_msg(strstr(err, want1), "message lacks \"%s\": %s", want1, err);
	if (want2)
		ck_assert_msg(strstr(err, want2), "message lacks \"%s\": %s", want2, err);
}

START_TEST(load_refuses_bad_files)
{
	char err[512];
	make_dir();
	struct ncp_emu_spec sp;
	small_spec(&sp, NCP_EMU_MLP, 5, 9, 2);
	struct ncp_emu_model *m = new_model(&sp, 1);
	const char *good = ncp_ck_path("good.safetensors"), *bad = ncp_ck_path("bad.safetensors");
	ck_assert_int_eq(ncp_emu_model_save(m, good, err, sizeof(err)), 0);

	/* Truncated anywhere: in the size, the header, the data. */
	char *buf;
	size_t len;
	read_bytes(good, &buf, &len);
	size_t cuts[] = {0, 5, 8, 40, len / 2, len - 1};
	for (size_t i = 0; i < NCP_ARRAY_SIZE(cuts); i++) {
		FILE *f = fopen(bad, "wb");
		fwrite(buf, 1, cuts[i], f);
		fclose(f);
		ck_assert_ptr_null(ncp_emu_model_load(bad, err, sizeof(err)));
		ck_assert_msg(strstr(err, bad), "%s", err);
	}
	free(buf);
	/* Not there at all. */
	ck_assert_ptr_null(ncp_emu_model_load(ncp_ck_path("none.safetensors"), err, sizeof(err)));

	rewrite(good, bad, "arch", "transformer", NULL, NULL, NULL, NULL);
	refused(bad, "unknown architecture", "transformer");
	rewrite(good, bad, "arch", NULL, NULL, NULL, NULL, NULL);
	refused(bad, "\"arch\" is missing", NULL);
	rewrite(good, bad, "format", "something-else", NULL, NULL, NULL, NULL);
	refused(bad, "format", "not an ncpd emulator");
	rewrite(good, bad, "format_version", "5", NULL, NULL, NULL, NULL);
	refused(bad, "format_version 5 is not supported", NULL);
	/* Version 2 says its horizon; version 1 has none. */
	rewrite(good, bad, "format_version", "2", NULL, NULL, NULL, NULL);
	refused(bad, "\"horizon\" is missing", NULL);
	rewrite(good, bad, "horizon", "5", NULL, NULL, NULL, NULL);
	refused(bad, "\"horizon\" needs format_version 2", NULL);
	rewrite(good, bad, NULL, NULL, "layers.2.bias", NULL, NULL, NULL);
	refused(bad, "layers.2.bias", NULL);
	rewrite(good, bad, NULL, NULL, NULL, "layers.2.weight", NULL, NULL);
	refused(bad, "layers.2.weight", "expected F32 [5, 7]");
	rewrite(good, bad, "hidden", "[7, 6]", NULL, NULL, NULL, NULL);
	refused(bad, "layers.2.weight", NULL);
	rewrite(good, bad, "hidden", "[7, \"x\"]", NULL, NULL, NULL, NULL);
	refused(bad, "hidden", NULL);
	rewrite(good, bad, "neurons", "10", NULL, NULL, NULL, NULL);
	refused(bad, "n_in", NULL);
	rewrite(good, bad, "n_in", "44", NULL, NULL, NULL, NULL);
	refused(bad, "n_in is 44", NULL);
	rewrite(good, bad, "window", "abc", NULL, NULL, NULL, NULL);
	refused(bad, "window", NULL);
	rewrite(good, bad, "taus", "[0.005, -1]", NULL, NULL, NULL, NULL);
	refused(bad, "time constant", NULL);
	rewrite(good, bad, "feature_mode", "running", NULL, NULL, NULL, NULL);
	refused(bad, "feature_mode", NULL);
	rewrite(good, bad, "outputs", "[\"a\", \"b\", \"c\", \"d\", \"e\", \"f\"]", NULL, NULL, NULL, NULL);
	refused(bad, "outputs", NULL);
	rewrite(good, bad, "n_out", "5", NULL, NULL, NULL, NULL);
	refused(bad, "n_out", NULL);
	rewrite(good, bad, NULL, NULL, NULL, NULL, "layers.6.weight", NULL);
	refused(bad, "layers.6.weight", "does not belong");
	rewrite(good, bad, NULL, NULL, NULL, NULL, NULL, "layers.0.weight");
	refused(bad, "layers.0.weight", "finite");
	rewrite(good, bad, NULL, NULL, NULL, NULL, NULL, "in_scale");
	refused(bad, "in_scale", NULL);
	/* The dense architecture's wide first layer too. */
	ncp_emu_model_free(m);
	small_spec(&sp, NCP_EMU_DENSE, 5, 9, 2);
	m = new_model(&sp, 1);
	ck_assert_int_eq(ncp_emu_model_save(m, good, err, sizeof(err)), 0);
	rewrite(good, bad, NULL, NULL, NULL, "layers.0.weight", NULL, NULL);
	refused(bad, "layers.0.weight", "[7, 51]");
	ncp_emu_model_free(m);
	ncp_ck_remove_dir();
}
END_TEST

/* ---- Inference allocates nothing --------------------------------------- */

START_TEST(push_predict_allocate_nothing)
{
	/* The last: mlp-running with the arm-state input. */
	static const enum ncp_emu_arch archs[] = {NCP_EMU_MLP_RUNNING, NCP_EMU_MLP,
						  NCP_EMU_DENSE, NCP_EMU_RIDGE,
						  NCP_EMU_MLP_RUNNING};
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 5);
	openblas_set_num_threads(1);
	for (size_t a = 0; a < NCP_ARRAY_SIZE(archs); a++) {
		struct ncp_emu_spec sp;
		ncp_emu_spec_default(&sp, archs[a]);
		sp.arm_input = a + 1 == NCP_ARRAY_SIZE(archs);
		struct ncp_emu_model *m = new_model(&sp, 1);
#if COUNT_ALLOCS
		unsigned long at_new = atomic_load(&alloc_calls);
#endif
		struct ncp_emu_state *st = ncp_emu_state_new(m);
#if COUNT_ALLOCS
		/* The counter works: creating a state allocates. */
		ck_assert_uint_gt(atomic_load(&alloc_calls), at_new);
#endif
		uint32_t spk[64];
		float stim[32] = {0}, out[6];
		ck_assert_ptr_nonnull(st);
		/* Warm up OpenBLAS (its buffers are set up on first use). */
		ncp_emu_predict(st, out);
#if COUNT_ALLOCS
		unsigned long before = atomic_load(&alloc_calls);
#endif
		/* (No Check assertion inside: a passing one allocates.) */
		bool finite = true;
		for (int t = 0; t < 300; t++) {
			int n = 0;
			for (uint32_t i = 0; i < 1000; i++)
				if (ncp_rng_uniform(&rng) < 0.015 && n < 64)
					spk[n++] = i;
			stim[t % 32] = t % 7 == 0 ? 0.25f : 0.0f;
			ncp_emu_push(st, spk, n, stim, 32);
			ncp_emu_predict(st, out);
			ncp_emu_set_arm(st, out);	/* an arm state of 6 values */
			for (int o = 0; o < 6; o++)
				finite &= isfinite(out[o]) != 0;
		}
		/* Bad indices are dropped and counted, never written. */
		uint32_t bad[2] = {3, 5000};
		ncp_emu_push(st, bad, 2, NULL, 0);
		uint64_t bad_count = ncp_emu_state_bad_spikes(st);
#if COUNT_ALLOCS
		ck_assert_msg(atomic_load(&alloc_calls) == before,
			      "%s: %lu allocations in push/predict",
			      ncp_emu_arch_name(sp.arch), atomic_load(&alloc_calls) - before);
#endif
		ck_assert(finite);
		ck_assert_uint_eq(bad_count, 1);
		ncp_emu_state_free(st);
		ncp_emu_model_free(m);
	}
#if !COUNT_ALLOCS
	ncp_ck_skip_note("push_predict_allocate_nothing: allocations are not "
			 "counted: the sanitizer's runtime owns malloc");
#endif
}
END_TEST

/* ---- Determinism -------------------------------------------------------- */

/* The rows of ds with a full window behind them (at most cap). */
static size_t usable_rows(const struct ncp_dataset *ds, int window,
			  uint64_t *rows, size_t cap)
{
	size_t n = 0;
	for (uint64_t r = 0; r < ncp_dataset_steps(ds) && n < cap; r++)
		if (ncp_dataset_row_ok(ds, r, window))
			rows[n++] = r;
	return n;
}

/* The training tests' data: 120 steps of 10 neurons and 2 stimulation
 * channels in segments of 60, the arm a smooth function of time. */
static struct ncp_dataset *small_dataset(struct hist *h, float **arm)
{
	const int steps = 120;
	hist_make(h, steps, 10, 2, 8, 0.2);
	*arm = malloc((size_t)steps * 6 * sizeof(float));
	for (int i = 0; i < steps * 6; i++)
		(*arm)[i] = (float)sin(i * 0.01);
	return make_dataset(h, *arm, 60);
}

static struct ncp_emu_model *train_some(const struct ncp_dataset *ds,
					const struct ncp_emu_spec *sp,
					uint64_t seed, int steps)
{
	struct ncp_emu_model *m0 = new_model(sp, seed);
	struct ncp_trainer_opts to;
	ncp_trainer_opts_default(&to);
	to.batch = 16;
	struct ncp_trainer *tr = ncp_trainer_new(m0, ds, &to, NULL, 0);
	ck_assert_ptr_nonnull(tr);
	uint64_t rows[200];
	size_t n = usable_rows(ds, sp->window, rows, NCP_ARRAY_SIZE(rows));
	ck_assert_int_eq(ncp_trainer_fit_norm(tr, rows, n, 1.0), 0);
	struct ncp_rng rng;
	ncp_rng_seed(&rng, seed);
	for (int s = 0; s < steps; s++) {
		uint64_t b[16];
		double loss;
		for (int i = 0; i < 16; i++)
			b[i] = rows[ncp_rng_below(&rng, n)];
		ck_assert_int_eq(ncp_trainer_step(tr, b, 16, &loss), 0);
	}
	struct ncp_emu_model *out = ncp_emu_model_clone(m0);
	ck_assert_int_eq(ncp_trainer_export(tr, out), 0);
	ncp_trainer_free(tr);
	ncp_emu_model_free(m0);
	return out;
}

START_TEST(training_is_deterministic)
{
	struct hist h;
	float *arm;
	struct ncp_dataset *ds = small_dataset(&h, &arm);
	for (int a = 0; a < NCP_EMU_ARCH_COUNT; a++) {
		struct ncp_emu_spec sp;
		small_spec(&sp, (enum ncp_emu_arch)a, 6, 10, 2);
		struct ncp_emu_model *x = train_some(ds, &sp, 1, 30);
		struct ncp_emu_model *y = train_some(ds, &sp, 1, 30);
		struct ncp_emu_model *z = train_some(ds, &sp, 2, 30);
		ck_assert_msg(ncp_emu_model_equal(x, y), "%s differs for one seed",
			      ncp_emu_arch_name(sp.arch));
		/* An exported model runs as the same weights loaded from a
		 * file do, and as the reference says. */
		char err[256];
		make_dir();
		ck_assert_int_eq(ncp_emu_model_save(x, ncp_ck_path("x.safetensors"), err, sizeof(err)), 0);
		struct ncp_emu_model *l = ncp_emu_model_load(ncp_ck_path("x.safetensors"), err, sizeof(err));
		ck_assert_msg(l, "%s", err);
		struct ncp_emu_state *sx = ncp_emu_state_new(x), *sl = ncp_emu_state_new(l);
		uint32_t idx[16];
		for (int t = 0; t < 40; t++) {
			float ox[6], ol[6];
			double ref[6] = {0};
			int n = hist_spikes(&h, t, idx);
			ncp_emu_push(sx, idx, n, h.stim + t * 2, 2);
			ncp_emu_push(sl, idx, n, h.stim + t * 2, 2);
			ncp_emu_predict(sx, ox);
			ncp_emu_predict(sl, ol);
			ck_assert(!memcmp(ox, ol, sizeof(ox)));
			ref_forward(x, &h, 0, t, ref, NULL);
			for (int o = 0; o < 6; o++)
				ncp_ck_near(ox[o], ref[o] * x->out_scale[o] + x->out_mean[o],
					    2e-5 * (1 + fabs(ref[o])));
		}
		ncp_emu_state_free(sx);
		ncp_emu_state_free(sl);
		ncp_emu_model_free(l);
		ncp_ck_remove_dir();
		ck_assert(!ncp_emu_model_equal(x, z));
		ncp_emu_model_free(x);
		ncp_emu_model_free(y);
		ncp_emu_model_free(z);
	}
	ncp_dataset_free(ds);
	free(arm);
	hist_free(&h);
}
END_TEST

/* Predictions of every usable row of ds (n x 6), NaN where unusable. */
static float *predict_all(struct ncp_trainer *t, const struct ncp_dataset *ds,
			  int window)
{
	uint64_t n = ncp_dataset_steps(ds);
	float *out = malloc((size_t)n * 6 * sizeof(float));
	for (uint64_t r = 0; r < n; r++) {
		if (ncp_dataset_row_ok(ds, r, window))
			ck_assert_int_eq(ncp_trainer_predict(t, &r, 1, out + r * 6), 0);
		else
			for (int o = 0; o < 6; o++)
				out[r * 6 + o] = NAN;
	}
	return out;
}

START_TEST(dropping_rows_keeps_features)
{
	/* A replay buffer drops its oldest rows in place: every row left
	 * predicts exactly what it did (the running filters carry on across
	 * the cut), steps appended afterwards too, the cut lands at most a
	 * window later than asked (or at the end of a segment too short to
	 * keep), and no memory is allocated for it. */
	const int steps = 400, W = 6;
	struct hist h;
	hist_make(&h, steps, 10, 2, 12, 0.2);
	float *arm = malloc((size_t)steps * 6 * sizeof(float));
	for (int i = 0; i < steps * 6; i++)
		arm[i] = (float)sin(i * 0.01);
	uint32_t idx[16];
	for (int a = 0; a < NCP_EMU_ARCH_COUNT; a++) {
		struct ncp_emu_spec sp;
		small_spec(&sp, (enum ncp_emu_arch)a, W, 10, 2);
		struct ncp_emu_model *m = new_model(&sp, 3);
		randomise_norm(m, 4);
		/* Segments [0, 100), [100, 104), [104, 400); the buffer
		 * holds the first 300 steps, then gets the rest. */
		struct ncp_dataset *full = ncp_dataset_new(10, 2);
		struct ncp_dataset *ds = ncp_dataset_new(10, 2);
		ck_assert_int_eq(ncp_dataset_reserve(ds, steps, 16 * (uint64_t)steps), 0);
		for (int s = 0; s < steps; s++) {
			struct ncp_dataset *d2[2] = { full, ds };
			for (int k = 0; k < (s < 300 ? 2 : 1); k++) {
				if (s == 0 || s == 100 || s == 104)
					ck_assert_int_eq(ncp_dataset_begin(d2[k], "seg"), 0);
				ck_assert_int_eq(ncp_dataset_append(d2[k], idx,
					hist_spikes(&h, s, idx), h.stim + s * 2, 2,
					arm + s * 6), 0);
			}
		}
		struct ncp_trainer *tf = ncp_trainer_new(m, full, NULL, NULL, 0);
		struct ncp_trainer *t = ncp_trainer_new(m, ds, NULL, NULL, 0);
		ck_assert(tf && t);
		ck_assert_int_eq(ncp_trainer_reserve(t, steps), 0);
		float *want = predict_all(tf, full, W);
		size_t bytes = ncp_dataset_bytes(ds) + ncp_trainer_ckpt_bytes(t);
		bool running = m->feat.spec.mode == NCP_FEAT_RUNNING;
		/* 17: inside segment 0, not on a checkpoint; 80 more: within
		 * a window of its end (it goes whole); then 50, through the
		 * second into the third. */
		static const uint64_t ask[] = { 17, 80, 50 };
		uint64_t gone = 0;
		for (size_t i = 0; i < NCP_ARRAY_SIZE(ask); i++) {
			uint64_t d = ncp_trainer_drop_rows(t, ds, ask[i]);
			ck_assert_uint_ge(d, ask[i]);
			if (i == 1 && running)
				ck_assert_uint_eq(gone + d, 100);
			else
				ck_assert_uint_lt(d, ask[i] + (uint64_t)W);
			gone += d;
			ck_assert_uint_eq(ncp_dataset_steps(ds), 300 - gone);
			ck_assert_int_eq(ncp_trainer_sync(t), 0);
			float *got = predict_all(t, ds, W);
			for (uint64_t r = 0; r < 300 - gone; r++)
				if (!isnan(got[r * 6]))
					ck_assert_msg(!memcmp(got + r * 6, want + (r + gone) * 6,
							      6 * sizeof(float)),
						      "%s: row %llu after dropping %llu",
						      ncp_emu_arch_name(sp.arch),
						      (unsigned long long)r,
						      (unsigned long long)gone);
			free(got);
		}
		for (int s = 300; s < steps; s++)
			ck_assert_int_eq(ncp_dataset_append(ds, idx, hist_spikes(&h, s, idx),
							    h.stim + s * 2, 2, arm + s * 6), 0);
		ck_assert_int_eq(ncp_trainer_sync(t), 0);
		float *got = predict_all(t, ds, W);
		int checked = 0;
		for (uint64_t r = 0; r < steps - gone; r++) {
			if (isnan(got[r * 6]))
				continue;
			ck_assert(!memcmp(got + r * 6, want + (r + gone) * 6, 6 * sizeof(float)));
			checked++;
		}
		ck_assert_int_ge(checked, steps - (int)gone - 2 * W);
		ck_assert_uint_eq(ncp_dataset_bytes(ds) + ncp_trainer_ckpt_bytes(t), bytes);
		free(got);
		free(want);
		ncp_trainer_free(t);
		ncp_trainer_free(tf);
		ncp_dataset_free(ds);
		ncp_dataset_free(full);
		ncp_emu_model_free(m);
	}
	free(arm);
	hist_free(&h);
}
END_TEST

START_TEST(optimizer_carries_over)
{
	/* A trainer rebuilt from another's weights and given its optimiser
	 * takes the same next step, bit for bit; one that starts Adam over
	 * does not.  Another architecture's optimiser is refused. */
	struct hist h;
	float *arm;
	struct ncp_dataset *ds = small_dataset(&h, &arm);
	const enum ncp_emu_arch archs[] = { NCP_EMU_MLP, NCP_EMU_MLP_RUNNING };
	for (size_t c = 0; c < NCP_ARRAY_SIZE(archs); c++) {
		struct ncp_emu_spec sp, other;
		small_spec(&sp, archs[c], 6, 10, 2);
		small_spec(&other, NCP_EMU_RIDGE, 6, 10, 2);
		struct ncp_emu_model *m0 = new_model(&sp, 3), *mo = new_model(&other, 3);
		struct ncp_trainer_opts to;
		ncp_trainer_opts_default(&to);
		to.batch = 16;
		struct ncp_trainer *a = ncp_trainer_new(m0, ds, &to, NULL, 0);
		ck_assert_ptr_nonnull(a);
		uint64_t rows[200];
		size_t n = usable_rows(ds, sp.window, rows, NCP_ARRAY_SIZE(rows));
		ck_assert_int_eq(ncp_trainer_fit_norm(a, rows, n, 1.0), 0);
		double loss;
		for (int s = 0; s < 20; s++)
			ck_assert_int_eq(ncp_trainer_step(a, rows + (s * 5) % (n - 16),
							  16, &loss), 0);
		struct ncp_emu_model *w = ncp_emu_model_clone(m0);
		ck_assert_int_eq(ncp_trainer_export(a, w), 0);
		struct ncp_trainer *b = ncp_trainer_new(w, ds, &to, NULL, 0);
		struct ncp_trainer *fresh = ncp_trainer_new(w, ds, &to, NULL, 0);
		struct ncp_trainer *o = ncp_trainer_new(mo, ds, &to, NULL, 0);
		ck_assert(b && fresh && o);
		ck_assert_int_eq(ncp_trainer_take_optimizer(o, a), -EINVAL);
		ck_assert_int_eq(ncp_trainer_take_optimizer(b, a), 0);
		ck_assert_uint_eq(ncp_trainer_updates(b), 20);
		ck_assert_int_eq(ncp_trainer_step(a, rows, 16, &loss), 0);
		ck_assert_int_eq(ncp_trainer_step(b, rows, 16, &loss), 0);
		ck_assert_int_eq(ncp_trainer_step(fresh, rows, 16, &loss), 0);
		struct ncp_emu_model *xa = ncp_emu_model_clone(m0);
		struct ncp_emu_model *xb = ncp_emu_model_clone(m0);
		struct ncp_emu_model *xf = ncp_emu_model_clone(m0);
		ck_assert_int_eq(ncp_trainer_export(a, xa), 0);
		ck_assert_int_eq(ncp_trainer_export(b, xb), 0);
		ck_assert_int_eq(ncp_trainer_export(fresh, xf), 0);
		ck_assert(ncp_emu_model_equal(xa, xb));
		ck_assert(!ncp_emu_model_equal(xa, xf));
		ncp_emu_model_free(xa);
		ncp_emu_model_free(xb);
		ncp_emu_model_free(xf);
		ncp_trainer_free(a);
		ncp_trainer_free(b);
		ncp_trainer_free(fresh);
		ncp_trainer_free(o);
		ncp_emu_model_free(w);
		ncp_emu_model_free(m0);
		ncp_emu_model_free(mo);
	}
	ncp_dataset_free(ds);
	free(arm);
	hist_free(&h);
}
END_TEST

/* ---- Validation blocks -------------------------------------------------- */

START_TEST(split_by_blocks_with_gap)
{
	const int W = 10;
	struct ncp_dataset *ds = ncp_dataset_new(4, 0);
	float arm[6] = {0};
	uint32_t none[1];
	char err[256];
	/* Two segments: 5000 and 3000 steps. */
	for (int s = 0; s < 8000; s++) {
		if (s == 0 || s == 5000)
			ncp_dataset_begin(ds, "seg");
		ck_assert_int_eq(ncp_dataset_append(ds, none, 0, NULL, 0, arm), 0);
	}
	struct ncp_dataset_split_opts o = {.window = W, .val_frac = 0.2, .block = 500, .gap = W};
	uint64_t *tr, *va;
	size_t nt, nv;
	ck_assert_int_eq(ncp_dataset_split(ds, &o, &tr, &nt, &va, &nv, err, sizeof(err)), 0);
	/* 10 + 6 blocks (the last ones short), 3 held out. */
	ck_assert_uint_gt(nv, 1000);
	ck_assert_uint_lt(nv, 2000);
	uint8_t *lab = calloc(8000, 1);
	for (size_t i = 0; i < nt; i++)
		lab[tr[i]] = 1;
	for (size_t i = 0; i < nv; i++) {
		ck_assert(!lab[va[i]]);
		lab[va[i]] = 2;
	}
	for (size_t i = 0; i < nt; i++) {
		/* Whole windows, and nothing within a window of validation. */
		ck_assert(ncp_dataset_row_ok(ds, tr[i], W));
		for (int d = -W; d <= W; d++) {
			int64_t r = (int64_t)tr[i] + d;
			/* (The other segment shares no inputs.) */
			if (r >= 0 && r < 8000 && (r < 5000) == (tr[i] < 5000))
				ck_assert_msg(lab[r] != 2, "training row %lu is %d from validation",
					      (unsigned long)tr[i], d);
		}
	}
	for (size_t i = 0; i < nv; i++)
		ck_assert(ncp_dataset_row_ok(ds, va[i], W));
	/* Spread out: validation in both segments. */
	ck_assert_uint_lt(va[0], 5000);
	ck_assert_uint_ge(va[nv - 1], 5000);
	/* Rows before a full window are used by neither. */
	ck_assert(!lab[0] && !lab[8] && !lab[5008]);
	free(lab);
	free(tr);
	free(va);
	/* Refusals: too short. */
	struct ncp_dataset *tiny = ncp_dataset_new(4, 0);
	for (int s = 0; s < 5; s++)
		ncp_dataset_append(tiny, none, 0, NULL, 0, arm);
	ck_assert_int_eq(ncp_dataset_split(tiny, &o, &tr, &nt, &va, &nv, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "window"));
	/* Out-of-range or unordered spikes are refused. */
	uint32_t badspk[2] = {2, 1};
	ck_assert_int_eq(ncp_dataset_append(tiny, badspk, 2, NULL, 0, arm), -EINVAL);
	badspk[1] = 4;
	ck_assert_int_eq(ncp_dataset_append(tiny, badspk, 2, NULL, 0, arm), -EINVAL);
	ncp_dataset_free(tiny);
	ncp_dataset_free(ds);
}
END_TEST

/* ---- Recordings --------------------------------------------------------- */

static void write_recording(const char *d, int steps, int neurons, bool complete,
			    int arm_rows, bool with_target)
{
	mkdir(d, 0755);
	uint8_t *m1 = calloc((size_t)steps * (size_t)neurons, 1);
	float *arm = calloc((size_t)NCP_MAX(arm_rows, 1) * 6, sizeof(float));
	float *tgt = calloc((size_t)steps * 2, sizeof(float));
	char p[512];
	for (int s = 0; s < steps; s++)
		m1[s * neurons + s % neurons] = 1;
	struct ncp_npy_header h = {.dtype = NCP_NPY_U8, .ndim = 2,
				   .shape = {(uint64_t)steps, (uint64_t)neurons}};
	snprintf(p, sizeof(p), "%s/m1.npy", d);
	ck_assert_int_eq(ncp_npy_write(p, &h, m1), 0);
	h = (struct ncp_npy_header){.dtype = NCP_NPY_F32, .ndim = 2,
				    .shape = {(uint64_t)arm_rows, 6}};
	snprintf(p, sizeof(p), "%s/arm.npy", d);
	ck_assert_int_eq(ncp_npy_write(p, &h, arm), 0);
	if (with_target) {
		h.shape[0] = (uint64_t)steps;
		h.shape[1] = 2;
		snprintf(p, sizeof(p), "%s/target.npy", d);
		ck_assert_int_eq(ncp_npy_write(p, &h, tgt), 0);
	}
	struct ncp_npy_meta meta = {.name = "rec", .complete = complete,
				    .steps = (uint64_t)steps, .dt = 0.001, .window = 10,
				    .m1_neurons = (uint32_t)neurons};
	snprintf(p, sizeof(p), "%s/meta.json", d);
	ck_assert_int_eq(ncp_npy_meta_write(p, &meta), 0);
	free(m1);
	free(arm);
	free(tgt);
}

START_TEST(recordings_checked)
{
	char err[512];
	make_dir();
	const char *ok = ncp_ck_path("ok");
	write_recording(ok, 50, 7, true, 50, true);
	struct ncp_recording *r = ncp_recording_open(ok, err, sizeof(err));
	ck_assert_msg(r, "%s", err);
	ck_assert_uint_eq(r->steps, 50);
	ck_assert_int_eq(r->neurons, 7);
	ck_assert_int_eq(r->window, 10);
	uint32_t idx[7];
	ck_assert_int_eq(ncp_recording_spikes(r, 9, idx), 1);
	ck_assert_uint_eq(idx[0], 2);
	struct ncp_dataset *ds = ncp_dataset_new(7, 0);
	ck_assert_int_eq(ncp_dataset_add_recording(ds, r, err, sizeof(err)), 0);
	ck_assert_uint_eq(ncp_dataset_steps(ds), 50);
	ncp_dataset_free(ds);
	ds = ncp_dataset_new(8, 0);
	ck_assert_int_eq(ncp_dataset_add_recording(ds, r, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "7 M1 neurons"));
	ncp_dataset_free(ds);
	ncp_recording_close(r);

	const char *inc = ncp_ck_path("incomplete");
	write_recording(inc, 50, 7, false, 50, true);
	ck_assert_ptr_null(ncp_recording_open(inc, err, sizeof(err)));
	ck_assert_msg(strstr(err, "incomplete") && strstr(err, inc), "%s", err);
	const char *shp = ncp_ck_path("shape");
	write_recording(shp, 50, 7, true, 49, true);
	ck_assert_ptr_null(ncp_recording_open(shp, err, sizeof(err)));
	ck_assert_msg(strstr(err, "arm.npy") && strstr(err, "does not match"), "%s", err);
	const char *mis = ncp_ck_path("missing");
	write_recording(mis, 50, 7, true, 50, false);
	ck_assert_ptr_null(ncp_recording_open(mis, err, sizeof(err)));
	ck_assert_msg(strstr(err, "target.npy is missing"), "%s", err);
	ck_assert_ptr_null(ncp_recording_open(ncp_ck_path("nothing"), err, sizeof(err)));
	ck_assert_msg(strstr(err, "meta.json"), "%s", err);
	ncp_ck_remove_dir();
}
END_TEST

/* ---- Horizon and stimulation from recordings ---------------------------- */

START_TEST(horizon_in_file_and_targets)
{
	char err[512];
	make_dir();
	struct ncp_emu_spec sp;
	small_spec(&sp, NCP_EMU_MLP_RUNNING, 5, 9, 2);
	struct ncp_emu_model *m0 = new_model(&sp, 1);
	sp.horizon = 40;
	struct ncp_emu_model *m40 = new_model(&sp, 1);
	const char *p0 = ncp_ck_path("h0.safetensors"), *p40 = ncp_ck_path("h40.safetensors");
	ck_assert_int_eq(ncp_emu_model_save(m0, p0, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_emu_model_save(m40, p40, err, sizeof(err)), 0);
	/* Horizon 0 is written as before (version 1, no key); a horizon as
	 * version 2 with the key. */
	struct ncp_safetensors *st = ncp_safetensors_load(p0, err, sizeof(err));
	ck_assert_str_eq(ncp_safetensors_meta_get(st, "format_version"), "1");
	ck_assert_ptr_null(ncp_safetensors_meta_get(st, "horizon"));
	ncp_safetensors_free(st);
	st = ncp_safetensors_load(p40, err, sizeof(err));
	ck_assert_str_eq(ncp_safetensors_meta_get(st, "format_version"), "2");
	ck_assert_str_eq(ncp_safetensors_meta_get(st, "horizon"), "40");
	ncp_safetensors_free(st);
	struct ncp_emu_model *l = ncp_emu_model_load(p40, err, sizeof(err));
	ck_assert_msg(l, "%s", err);
	ck_assert_int_eq(ncp_emu_model_horizon(l), 40);
	ck_assert(ncp_emu_model_equal(l, m40));
	ck_assert(!ncp_emu_model_equal(m0, m40));
	ck_assert_uint_ne(ncp_emu_model_checksum(m0), ncp_emu_model_checksum(m40));
	ncp_emu_model_free(l);
	const char *bad = ncp_ck_path("bad.safetensors");
	rewrite(p40, bad, "horizon", "10001", NULL, NULL, NULL, NULL);
	refused(bad, "horizon", "out of range");
	sp.horizon = -1;
	ck_assert_int_eq(ncp_emu_spec_check(&sp, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_nonnull(strstr(err, "horizon"));

	/* Targets: the arm `horizon` steps on, within the row's segment. */
	struct ncp_dataset *ds = ncp_dataset_new(4, 0);
	uint32_t none[1];
	for (int s = 0; s < 3000; s++) {
		float arm[6] = {(float)s, 0, 0, 0, 0, 0};
		if (s == 0 || s == 2000)
			ncp_dataset_begin(ds, "seg");
		ck_assert_int_eq(ncp_dataset_append(ds, none, 0, NULL, 0, arm), 0);
	}
	ck_assert_float_eq(ncp_dataset_target(ds, 100, 40)[0], 140.0f);
	ck_assert_float_eq(ncp_dataset_target(ds, 1959, 40)[0], 1999.0f);
	ck_assert_ptr_null(ncp_dataset_target(ds, 1960, 40));
	ck_assert_float_eq(ncp_dataset_target(ds, 1960, 0)[0], 1960.0f);
	ck_assert_ptr_null(ncp_dataset_target(ds, 2999, 1));
	struct ncp_dataset_split_opts o = {.window = 10, .horizon = 40, .val_frac = 0.2,
					   .block = 300, .gap = 50};
	uint64_t *tr, *va;
	size_t nt, nv;
	ck_assert_int_eq(ncp_dataset_split(ds, &o, &tr, &nt, &va, &nv, err, sizeof(err)), 0);
	ck_assert_uint_gt(nt, 1000);
	ck_assert_uint_gt(nv, 100);
	for (size_t i = 0; i < nt; i++)
		ck_assert_msg(ncp_dataset_target(ds, tr[i], 40), "training row %lu has no target",
			      (unsigned long)tr[i]);
	for (size_t i = 0; i < nv; i++)
		ck_assert_msg(ncp_dataset_target(ds, va[i], 40), "validation row %lu has no target",
			      (unsigned long)va[i]);
	free(tr);
	free(va);
	ncp_dataset_free(ds);
	ncp_emu_model_free(m0);
	ncp_emu_model_free(m40);
	ncp_ck_remove_dir();
}
END_TEST

/* ---- The arm-state input ------------------------------------------------ */

/* A model with the arm-state input of an arm of `joints` joints (in the
 * residual form or not), its normalisations random (the arm inputs' too). */
static struct ncp_emu_model *arm_model_of(enum ncp_emu_arch arch, int joints,
					  bool residual)
{
	struct ncp_emu_spec sp;
	small_spec(&sp, arch, 5, 9, 2);
	sp.joints = joints;
	sp.arm_input = true;
	sp.residual = residual;
	struct ncp_emu_model *m = new_model(&sp, 3);
	randomise_norm(m, 4);
	for (int a = 0; a < m->n_arm; a++) {
		m->in_mean[m->n_std + a] = 0.3f * (float)a;
		m->in_scale[m->n_std + a] = 0.5f + 0.1f * (float)a;
	}
	ncp_emu_model_refresh(m);
	return m;
}

static struct ncp_emu_model *arm_model(enum ncp_emu_arch arch, int joints)
{
	return arm_model_of(arch, joints, false);
}

/* m saved to p and loaded back: the file's version, arm_input and n_in as
 * given, the model loaded equal (and of equal checksum). */
static struct ncp_emu_model *round_trip(const struct ncp_emu_model *m,
					const char *p, const char *version,
					const char *arm_input, const char *n_in)
{
	char err[512];
	ck_assert_int_eq(ncp_emu_model_save(m, p, err, sizeof(err)), 0);
	struct ncp_safetensors *st = ncp_safetensors_load(p, err, sizeof(err));
	ck_assert_msg(st, "%s", err);
	ck_assert_str_eq(ncp_safetensors_meta_get(st, "format_version"), version);
	ck_assert_str_eq(ncp_safetensors_meta_get(st, "horizon"), "0");
	ck_assert_str_eq(ncp_safetensors_meta_get(st, "arm_input"), arm_input);
	ck_assert_str_eq(ncp_safetensors_meta_get(st, "n_in"), n_in);
	ncp_safetensors_free(st);
	struct ncp_emu_model *l = ncp_emu_model_load(p, err, sizeof(err));
	ck_assert_msg(l, "%s", err);
	ck_assert(ncp_emu_model_equal(l, m));
	ck_assert_uint_eq(ncp_emu_model_checksum(l), ncp_emu_model_checksum(m));
	return l;
}

/* Two states fed the same two steps, given the arms a1 and a2 between
 * them (the second step's stimulation stim2, or none): their predictions
 * after the second. */
static void two_arms(struct ncp_emu_state *s1, const float *a1,
		     struct ncp_emu_state *s2, const float *a2,
		     const float *stim2, float *y1, float *y2)
{
	uint32_t spk[2] = {1, 4};
	float stim[2] = {0.5f, -1};
	ncp_emu_push(s1, spk, 2, stim, 2);
	ncp_emu_push(s2, spk, 2, stim, 2);
	ncp_emu_set_arm(s1, a1);
	ncp_emu_set_arm(s2, a2);
	ncp_emu_push(s1, spk, 1, stim2, stim2 ? 2 : 0);
	ncp_emu_push(s2, spk, 1, stim2, stim2 ? 2 : 0);
	ncp_emu_predict(s1, y1);
	ncp_emu_predict(s2, y2);
}

START_TEST(arm_input_in_file_and_inference)
{
	char err[512];
	make_dir();
	struct ncp_emu_model *m = arm_model(NCP_EMU_MLP_RUNNING, 2);
	ck_assert_int_eq(ncp_emu_model_arm_inputs(m), 4);
	ck_assert_int_eq(m->layer[0].in, (9 + 2) * 3 + 4);
	const char *p = ncp_ck_path("arm.safetensors"), *bad = ncp_ck_path("bad.safetensors");
	struct ncp_emu_model *l = round_trip(m, p, "3", "[\"q0\", \"q1\", \"dq0\", \"dq1\"]", "37");

	/* Step t's prediction reads the arm given after step t - 1, not the
	 * one given after step t; an arm never given enters as its mean. */
	struct ncp_emu_state *a = ncp_emu_state_new(l), *b = ncp_emu_state_new(l),
			     *c = ncp_emu_state_new(l);
	uint32_t spk[2] = {1, 4};
	float stim[2] = {0.5f, -1};
	float arm1[6] = {0.6f, 2.1f, 0.3f, -0.4f, 0.1f, 1.2f};
	float arm2[6] = {0.1f, 1.0f, -2.0f, 1.5f, 0.2f, 1.1f};
	float mean[6];
	for (int k = 0; k < 4; k++)
		mean[k] = l->in_mean[l->n_std + k];
	float ya[6], yb[6], yc[6];
	for (int t = 0; t < 12; t++) {
		ncp_emu_push(a, spk, t % 3, stim, 2);
		ncp_emu_push(b, spk, t % 3, stim, 2);
		ncp_emu_push(c, spk, t % 3, stim, 2);
		ncp_emu_predict(a, ya);
		ncp_emu_predict(b, yb);
		ncp_emu_predict(c, yc);
		if (t < 10) {
			for (int o = 0; o < 6; o++)
				ck_assert_float_eq(ya[o], yb[o]);
		} else if (t == 10) {
			/* a was given arm1, b arm2, after step 9. */
			bool differ = false;
			for (int o = 0; o < 6; o++)
				differ |= ya[o] != yb[o];
			ck_assert_msg(differ, "the arm given after step 9 did not reach step 10");
		}
		if (t < 9) {
			/* c was given the mean, a and b nothing. */
			for (int o = 0; o < 6; o++)
				ck_assert_float_eq_tol(ya[o], yc[o], 1e-4f * (1 + fabsf(ya[o])));
		}
		/* (Each arm is given after the step's prediction.) */
		if (t == 9) {
			ncp_emu_set_arm(a, arm1);
			ncp_emu_set_arm(b, arm2);
		} else if (t < 9) {
			ncp_emu_set_arm(c, mean);
		} else {
			ncp_emu_set_arm(a, arm1);
			ncp_emu_set_arm(b, arm1);
		}
	}
	/* Step 11 read arm1 in both: equal again. */
	for (int o = 0; o < 6; o++)
		ck_assert_float_eq(ya[o], yb[o]);
	/* A non-finite arm value is unknown: the mean. */
	ncp_emu_state_reset(a);
	ncp_emu_state_reset(c);
	float nanarm[6] = {NAN, NAN, INFINITY, NAN, 0, 0};
	two_arms(a, nanarm, c, mean, NULL, ya, yc);
	for (int o = 0; o < 6; o++) {
		ck_assert(isfinite(ya[o]));
		ck_assert_float_eq_tol(ya[o], yc[o], 1e-4f * (1 + fabsf(ya[o])));
	}
	ncp_emu_state_free(a);
	ncp_emu_state_free(b);
	ncp_emu_state_free(c);

	/* Refused: the block for another arm, a version without it, a corrupt
	 * block, and the block's tensors in a model without it. */
	rewrite(p, bad, "arm_input", "[\"q0\", \"q1\", \"q2\", \"dq0\", \"dq1\", \"dq2\"]",
		NULL, NULL, NULL, NULL);
	refused(bad, "metadata \"arm_input\" is", "the arm of 2 links its 6 outputs are for");
	rewrite(p, bad, "arm_input", "[\"q0\", \"q1\"", NULL, NULL, NULL, NULL);
	refused(bad, "arm_input", "expected [\"q0\", \"q1\", \"dq0\", \"dq1\"]");
	rewrite(p, bad, "format_version", "2", NULL, NULL, NULL, NULL);
	refused(bad, "\"arm_input\" needs format_version 3", NULL);
	rewrite(p, bad, "arm_input", NULL, NULL, NULL, NULL, NULL);
	refused(bad, "format_version 3 needs the metadata \"arm_input\"", NULL);
	rewrite(p, bad, NULL, NULL, "arm_scale", NULL, NULL, NULL);
	refused(bad, "arm_scale", NULL);
	rewrite(p, bad, NULL, NULL, NULL, "arm_mean", NULL, NULL);
	refused(bad, "arm_mean", "[4]");
	rewrite(p, bad, NULL, NULL, NULL, NULL, NULL, "arm_scale");
	refused(bad, "arm_scale", "finite");
	rewrite(p, bad, "n_in", "33", NULL, NULL, NULL, NULL);
	refused(bad, "n_in is 33", "4 arm inputs");
	{
		struct ncp_emu_spec sp = m->spec;
		sp.arm_input = false;
		struct ncp_emu_model *plain = new_model(&sp, 3);
		const char *pp = ncp_ck_path("plain.safetensors");
		ck_assert_int_eq(ncp_emu_model_save(plain, pp, err, sizeof(err)), 0);
		rewrite(pp, bad, NULL, NULL, NULL, NULL, "arm_mean", NULL);
		refused(bad, "arm_mean", "no arm-state input");
		ck_assert(!ncp_emu_model_equal(plain, m));
		ncp_emu_model_free(plain);
		/* Not for dense. */
		small_spec(&sp, NCP_EMU_DENSE, 5, 9, 2);
		sp.arm_input = true;
		ck_assert_int_eq(ncp_emu_spec_check(&sp, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "not dense"));
	}
	/* The 3-link arm: six inputs, and a block for 2 links refused. */
	struct ncp_emu_model *m3 = arm_model(NCP_EMU_RIDGE, 3);
	ck_assert_int_eq(ncp_emu_model_arm_inputs(m3), 6);
	ck_assert_int_eq(ncp_emu_model_save(m3, p, err, sizeof(err)), 0);
	struct ncp_emu_model *l3 = ncp_emu_model_load(p, err, sizeof(err));
	ck_assert_msg(l3, "%s", err);
	ck_assert(ncp_emu_model_equal(l3, m3));
	rewrite(p, bad, "arm_input", "[\"q0\", \"q1\", \"dq0\", \"dq1\"]", NULL, NULL, NULL, NULL);
	refused(bad, "the arm of 3 links its 8 outputs are for", NULL);
	ncp_emu_model_free(l3);
	ncp_emu_model_free(m3);
	ncp_emu_model_free(l);
	ncp_emu_model_free(m);
	ncp_ck_remove_dir();
}
END_TEST

/* A ridge-running model (window W, N neurons, no stimulation) with the
 * arm-state input as asked, fitted on a split of ds (blocks of 500 steps,
 * a fifth held out): its trainer and its predictions of the validation
 * rows (nv x 6). */
struct ridge_fit {
	uint64_t *tr, *va;
	size_t nt, nv;
	struct ncp_emu_model *m0;
	struct ncp_trainer *t;
	float *pred;
};

static void ridge_fit(struct ncp_dataset *ds, int W, int N, bool arm_input,
		      bool residual, struct ridge_fit *f)
{
	char err[256];
	struct ncp_dataset_split_opts so = {.window = W, .val_frac = 0.2, .block = 500,
					    .gap = (uint64_t)W};
	ck_assert_int_eq(ncp_dataset_split(ds, &so, &f->tr, &f->nt, &f->va, &f->nv,
					   err, sizeof(err)), 0);
	struct ncp_emu_spec sp;
	small_spec(&sp, NCP_EMU_RIDGE_RUNNING, W, N, 0);
	sp.arm_input = arm_input;
	sp.residual = residual;
	f->m0 = new_model(&sp, 1);
	f->t = ncp_trainer_new(f->m0, ds, NULL, err, sizeof(err));
	ck_assert_msg(f->t, "%s", err);
	ck_assert_int_eq(ncp_trainer_fit_norm(f->t, f->tr, f->nt, 1.0), 0);
	struct ncp_ridge_report rep;
	ck_assert_msg(ncp_trainer_fit_ridge(f->t, f->tr, f->nt, f->va, f->nv, &rep,
					    err, sizeof(err)) == 0, "%s", err);
	f->pred = malloc(f->nv * 6 * sizeof(float));
	ck_assert_int_eq(ncp_trainer_predict(f->t, f->va, f->nv, f->pred), 0);
}

static void ridge_fit_free(struct ridge_fit *f)
{
	free(f->pred);
	ncp_trainer_free(f->t);
	ncp_emu_model_free(f->m0);
	free(f->tr);
	free(f->va);
}

/* Trained with the arm-state input, a model follows an arm that M1 says
 * nothing about (here a random walk, the spikes independent of it) from
 * the arm of the step before; without it, it cannot. */
START_TEST(arm_input_trains)
{
	const int W = 20, N = 30, steps = 6000;
	struct hist h;
	hist_make(&h, steps, N, 0, 21, 0);
	float *arm = malloc((size_t)steps * 6 * sizeof(float));
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 9);
	/* q and dq random walks, the hand linear in q (the input has q and
	 * dq only). */
	double walk[4] = {0.6, 2.1, 0, 0};
	for (int t = 0; t < steps; t++) {
		for (int o = 0; o < 4; o++) {
			walk[o] = 0.995 * walk[o] + 0.02 * ncp_rng_normal(&rng);
			arm[t * 6 + o] = (float)walk[o];
		}
		arm[t * 6 + 4] = (float)(0.5 * walk[0] + 0.2 * walk[1]);
		arm[t * 6 + 5] = (float)(walk[1] - 0.3 * walk[0]);
	}
	struct ncp_dataset *ds = make_dataset(&h, arm, steps);
	double r2[2];
	for (int with = 0; with < 2; with++) {
		struct ridge_fit f;
		ridge_fit(ds, W, N, with, false, &f);
		if (with) {
			/* The arm inputs' normalisation: their own mean and
			 * deviation over the rows' arm of the step before. */
			const struct ncp_emu_model *tm = ncp_trainer_model(f.t);
			double s1 = 0, s2 = 0;
			for (size_t i = 0; i < f.nt; i++) {
				double v = ncp_dataset_arm(ds, f.tr[i] - 1)[0];
				s1 += v;
				s2 += v * v;
			}
			double mu = s1 / (double)f.nt, sd = sqrt(s2 / (double)f.nt - mu * mu);
			ck_assert_float_eq_tol(tm->in_mean[tm->n_std], mu, 1e-4);
			ck_assert_float_eq_tol(tm->in_scale[tm->n_std], sd, 1e-4);
		}
		struct ncp_score sc;
		ncp_score_init(&sc, 2);
		for (size_t i = 0; i < f.nv; i++)
			ncp_score_add(&sc, f.pred + i * 6, ncp_dataset_target(ds, f.va[i], 0));
		r2[with] = ncp_score_min_r2(&sc);
		ridge_fit_free(&f);
	}
	ck_assert_msg(r2[1] >= 0.95, "with the arm input: validation R^2 %.4f", r2[1]);
	ck_assert_msg(r2[0] <= 0.5, "without it, R^2 %.4f from spikes that carry nothing", r2[0]);
	ncp_dataset_free(ds);
	free(arm);
	hist_free(&h);
}
END_TEST

/* The residual form: the file (version 4), its refusals, and the outputs
 * being the arm input plus the layers' output. */
START_TEST(residual_in_file_and_inference)
{
	char err[512];
	make_dir();
	struct ncp_emu_model *m = arm_model_of(NCP_EMU_MLP_RUNNING, 2, true);
	ck_assert(ncp_emu_model_residual(m));
	ck_assert_int_eq(ncp_emu_model_arm_inputs(m), 6);
	ck_assert_int_eq(m->layer[0].in, (9 + 2) * 3 + 6);
	const char *p = ncp_ck_path("res.safetensors"), *bad = ncp_ck_path("bad.safetensors");
	struct ncp_emu_model *l = round_trip(m, p, "4",
		"[\"q0\", \"q1\", \"dq0\", \"dq1\", \"hand_x\", \"hand_y\"]", "39");
	ck_assert(ncp_emu_model_residual(l));
	{
		char err1[256];
		struct ncp_safetensors *st = ncp_safetensors_load(p, err1, sizeof(err1));
		ck_assert_msg(st, "%s", err1);
		ck_assert_str_eq(ncp_safetensors_meta_get(st, "residual"), "true");
		ncp_safetensors_free(st);
	}

	/* With the last layer zeroed the outputs are the base plus out_mean:
	 * the arm given after the step before, exactly; arm_mean where it is
	 * unknown (before any, or a non-finite value). */
	struct ncp_emu_model *z = ncp_emu_model_clone(l);
	struct ncp_emu_layer *last = &z->layer[z->nlayers - 1];
	memset(last->w, 0, sizeof(float) * (size_t)last->in * (size_t)last->out);
	memset(last->b, 0, sizeof(float) * (size_t)last->out);
	ncp_emu_model_refresh(z);
	const float *amean = z->in_mean + z->n_std;
	struct ncp_emu_state *a = ncp_emu_state_new(z);
	uint32_t spk[2] = {1, 4};
	float stim[2] = {0.5f, -1};
	float arm1[6] = {0.6f, 2.1f, 0.3f, -0.4f, 0.1f, 1.2f};
	float half[6] = {0.6f, NAN, 0.3f, INFINITY, 0.1f, 1.2f};
	float y[6];
	ncp_emu_push(a, spk, 2, stim, 2);
	ncp_emu_predict(a, y);
	for (int o = 0; o < 6; o++)
		ck_assert_float_eq(y[o], amean[o] + z->out_mean[o]);
	ncp_emu_set_arm(a, arm1);
	ncp_emu_push(a, spk, 1, stim, 2);
	ncp_emu_predict(a, y);
	for (int o = 0; o < 6; o++)
		ck_assert_float_eq(y[o], arm1[o] + z->out_mean[o]);
	ncp_emu_set_arm(a, half);
	ncp_emu_push(a, spk, 0, NULL, 0);
	ncp_emu_predict(a, y);
	for (int o = 0; o < 6; o++)
		ck_assert_float_eq(y[o], (isfinite(half[o]) ? half[o] : amean[o]) +
					 z->out_mean[o]);
	ncp_emu_state_free(a);
	ncp_emu_model_free(z);

	/* The layers read the whole state: arms that differ only in the
	 * hand's x change the other outputs too (the base does not). */
	struct ncp_emu_state *b = ncp_emu_state_new(l), *c = ncp_emu_state_new(l);
	float arm2[6];
	memcpy(arm2, arm1, sizeof(arm2));
	arm2[4] += 0.5f;
	float yb[6], yc[6];
	two_arms(b, arm1, c, arm2, stim, yb, yc);
	ck_assert_msg(yb[0] != yc[0] && yb[5] != yc[5], "the hand input did not reach the layers");
	ncp_emu_state_free(b);
	ncp_emu_state_free(c);

	/* Refused: without "residual", another value, "residual" in an
	 * older version, the q and dq block of version 3, a short arm_mean;
	 * and the form without the arm input. */
	rewrite(p, bad, "residual", NULL, NULL, NULL, NULL, NULL);
	refused(bad, "format_version 4 is the residual form", "which is missing");
	rewrite(p, bad, "residual", "false", NULL, NULL, NULL, NULL);
	refused(bad, "\"residual\": \"true\"", "not \"false\"");
	rewrite(p, bad, "format_version", "3", NULL, NULL, NULL, NULL);
	refused(bad, "\"residual\" needs format_version 4", "the file says 3");
	rewrite(p, bad, "arm_input", "[\"q0\", \"q1\", \"dq0\", \"dq1\"]", NULL, NULL, NULL, NULL);
	refused(bad, "expected [\"q0\", \"q1\", \"dq0\", \"dq1\", \"hand_x\", \"hand_y\"]",
		"the whole state of the arm of 2 links");
	rewrite(p, bad, NULL, NULL, NULL, "arm_mean", NULL, NULL);
	refused(bad, "arm_mean", "[6]");
	{
		struct ncp_emu_spec sp = m->spec;
		sp.arm_input = false;
		ck_assert_int_eq(ncp_emu_spec_check(&sp, err, sizeof(err)), -EINVAL);
		ck_assert_ptr_nonnull(strstr(err, "residual form"));
	}
	/* A version 3 file without "residual" still loads as it did. */
	struct ncp_emu_model *v3 = arm_model(NCP_EMU_MLP_RUNNING, 2);
	ck_assert_int_eq(ncp_emu_model_save(v3, p, err, sizeof(err)), 0);
	struct ncp_emu_model *l3 = ncp_emu_model_load(p, err, sizeof(err));
	ck_assert_msg(l3, "%s", err);
	ck_assert(!ncp_emu_model_residual(l3));
	ck_assert(!ncp_emu_model_equal(l3, l));
	ncp_emu_model_free(l3);
	ncp_emu_model_free(v3);
	/* The 3-link arm: eight inputs. */
	struct ncp_emu_model *m8 = arm_model_of(NCP_EMU_RIDGE, 3, true);
	ck_assert_int_eq(ncp_emu_model_arm_inputs(m8), 8);
	ck_assert_int_eq(ncp_emu_model_save(m8, p, err, sizeof(err)), 0);
	struct ncp_emu_model *l8 = ncp_emu_model_load(p, err, sizeof(err));
	ck_assert_msg(l8, "%s", err);
	ck_assert(ncp_emu_model_equal(l8, m8));
	ncp_emu_model_free(l8);
	ncp_emu_model_free(m8);
	ncp_emu_model_free(l);
	ncp_emu_model_free(m);
	ncp_ck_remove_dir();
}
END_TEST

/* Trained in the residual form, a model passes the arm state through and
 * learns its change: the hand, a nonlinear function of q that a linear
 * model of q cannot give, follows the arm of the step before; training's
 * predictions (ncp_trainer_predict) equal inference's (ncp_emu_predict);
 * the output normalisation is that of the change. */
START_TEST(residual_trains)
{
	const int W = 20, N = 30, steps = 6000;
	struct hist h;
	hist_make(&h, steps, N, 0, 21, 0);
	float *arm = malloc((size_t)steps * 6 * sizeof(float));
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 9);
	double walk[2] = {0.6, 2.1}, hold2 = 0;
	for (int t = 0; t < steps; t++) {
		double dq[2];
		for (int o = 0; o < 2; o++) {
			dq[o] = 0.02 * ncp_rng_normal(&rng) - 0.002 * (walk[o] - 1.0);
			walk[o] += dq[o];
			arm[t * 6 + o] = (float)walk[o];
			arm[t * 6 + 2 + o] = (float)(dq[o] / 0.001);
		}
		arm[t * 6 + 4] = (float)sin(3 * walk[0]);
		arm[t * 6 + 5] = (float)cos(2 * walk[1]);
		if (t)
			for (int o = 4; o < 6; o++)
				hold2 += pow(arm[t * 6 + o] - arm[(t - 1) * 6 + o], 2);
	}
	const double hold = sqrt(hold2 / (steps - 1));	/* the hand held */
	struct ncp_dataset *ds = make_dataset(&h, arm, steps);
	double rmse[2];
	for (int res = 0; res < 2; res++) {
		struct ridge_fit f;
		ridge_fit(ds, W, N, true, res, &f);
		const struct ncp_emu_model *tm = ncp_trainer_model(f.t);
		if (res) {
			/* out_mean and out_scale: q0's change from the step
			 * before. */
			double s1 = 0, s2 = 0;
			for (size_t i = 0; i < f.nt; i++) {
				double d = (double)ncp_dataset_arm(ds, f.tr[i])[0] -
					   ncp_dataset_arm(ds, f.tr[i] - 1)[0];
				s1 += d;
				s2 += d * d;
			}
			double mu = s1 / (double)f.nt, sd = sqrt(s2 / (double)f.nt - mu * mu);
			ck_assert_float_eq_tol(tm->out_mean[0], mu, 1e-5);
			ck_assert_float_eq_tol(tm->out_scale[0], sd, 1e-4 * sd);
		}
		double e2 = 0;
		for (size_t i = 0; i < f.nv; i++) {
			const float *y = ncp_dataset_target(ds, f.va[i], 0);
			e2 += pow(f.pred[i * 6 + 4] - y[4], 2) + pow(f.pred[i * 6 + 5] - y[5], 2);
		}
		rmse[res] = sqrt(e2 / (double)f.nv / 2);
		/* Inference over the run gives training's predictions. */
		struct ncp_emu_model *fm = ncp_emu_model_clone(tm);
		struct ncp_emu_state *st = ncp_emu_state_new(fm);
		uint32_t idx[64];
		size_t k = 0;
		for (int s = 0; s < steps && k < f.nv; s++) {
			float y[6];
			ncp_emu_push(st, idx, hist_spikes(&h, s, idx), NULL, 0);
			ncp_emu_predict(st, y);
			ncp_emu_set_arm(st, arm + s * 6);
			if ((uint64_t)s != f.va[k])
				continue;
			for (int o = 0; o < 6; o++)
				ck_assert_msg(fabsf(y[o] - f.pred[k * 6 + o]) <= 1e-4f * (1 + fabsf(y[o])),
					      "residual %d step %d output %d: inference %.7g, training %.7g",
					      res, s, o, (double)y[o], (double)f.pred[k * 6 + o]);
			k++;
		}
		ck_assert_uint_eq(k, f.nv);
		ncp_emu_state_free(st);
		ncp_emu_model_free(fm);
		ridge_fit_free(&f);
	}
	fprintf(stderr, "residual_trains: hand RMSE %.4g (residual), %.4g (not), held %.4g\n", rmse[1], rmse[0], hold);
	ck_assert_msg(rmse[1] <= 1.05 * hold,
		      "residual: hand RMSE %.4g, holding the hand %.4g", rmse[1], hold);
	ck_assert_msg(rmse[0] >= 3 * rmse[1],
		      "without the residual form, hand RMSE %.4g against %.4g", rmse[0], rmse[1]);
	ncp_dataset_free(ds);
	free(arm);
	hist_free(&h);
}
END_TEST

START_TEST(recording_stimulation_reaches_the_data)
{
	char err[512], p[512];
	make_dir();
	const char *d = ncp_ck_path("stim");
	write_recording(d, 50, 7, true, 50, true);
	/* Add stim.npy (3 electrodes, a NaN row as a dropped step leaves)
	 * and say so in meta.json. */
	float th[50 * 3];
	for (int i = 0; i < 50 * 3; i++)
		th[i] = 0.01f * (float)i;
	th[20 * 3 + 1] = NAN;
	struct ncp_npy_header h = {.dtype = NCP_NPY_F32, .ndim = 2, .shape = {50, 3}};
	snprintf(p, sizeof(p), "%s/stim.npy", d);
	ck_assert_int_eq(ncp_npy_write(p, &h, th), 0);
	struct ncp_npy_meta meta = {.name = "rec", .complete = true, .steps = 50, .dt = 0.001,
				    .window = 10, .m1_neurons = 7, .stim_electrodes = 3};
	snprintf(p, sizeof(p), "%s/meta.json", d);
	ck_assert_int_eq(ncp_npy_meta_write(p, &meta), 0);
	/* lesion.npy, named by meta.json, is not read here. */
	struct ncp_recording *r = ncp_recording_open(d, err, sizeof(err));
	ck_assert_msg(r, "%s", err);
	ck_assert_int_eq(r->stim_channels, 3);
	struct ncp_dataset *ds = ncp_dataset_new(7, 4);
	ck_assert_int_eq(ncp_dataset_add_recording(ds, r, err, sizeof(err)), 0);
	const float *u = ncp_dataset_stim_at(ds, 10);
	ck_assert_ptr_nonnull(u);
	ck_assert_float_eq(u[0], th[30]);
	ck_assert_float_eq(u[2], th[32]);
	ck_assert_float_eq(u[3], 0.0f);
	u = ncp_dataset_stim_at(ds, 20);
	ck_assert_float_eq(u[1], 0.0f); /* the NaN */
	ck_assert_float_eq(u[2], th[62]);
	ncp_dataset_free(ds);
	/* Fewer channels than electrodes: refused, saying what to do. */
	ds = ncp_dataset_new(7, 2);
	ck_assert_int_eq(ncp_dataset_add_recording(ds, r, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "3 stimulation electrodes") && strstr(err, "--stim-channels 3"),
		      "%s", err);
	ncp_dataset_free(ds);
	ncp_recording_close(r);
	/* A stim.npy of the wrong shape. */
	h.shape[1] = 2;
	snprintf(p, sizeof(p), "%s/stim.npy", d);
	ck_assert_int_eq(ncp_npy_write(p, &h, th), 0);
	ck_assert_ptr_null(ncp_recording_open(d, err, sizeof(err)));
	ck_assert_msg(strstr(err, "stim.npy") && strstr(err, "does not match"), "%s", err);
	ncp_ck_remove_dir();
}
END_TEST

/* ---- Training to a known answer ---------------------------------------- */

/* Targets that are a fixed linear function of the filtered features: the
 * ridge fit must recover them almost exactly, and Adam on an MLP must get
 * close. */
static void known_answer(enum ncp_emu_arch arch, double min_r2, int steps_adam,
			 int horizon)
{
	const int W = 20, N = 30, C = 0, steps = 6000;
	struct hist h;
	struct ncp_emu_spec sp;
	char err[256];
	hist_make(&h, steps, N, C, 21, 0);
	small_spec(&sp, arch, W, N, C);
	sp.taus[0] = 0.005;
	sp.taus[1] = 0.02;
	sp.taus[2] = 0.05;
	if (sp.nhidden) {
		sp.nhidden = 1;
		sp.hidden[0] = 64;
	}
	sp.horizon = horizon;
	const bool running = ncp_emu_arch_mode(arch) == NCP_FEAT_RUNNING;
	const int F = N * 3;
	double *A = malloc((size_t)6 * F * sizeof(double)), *f = malloc((size_t)F * sizeof(double));
	float *arm = malloc((size_t)steps * 6 * sizeof(float));
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 4);
	/* With a horizon the answer of step t is the arm of step t + horizon
	 * (the first steps' arm is unknown). */
	for (int i = 0; i < horizon * 6; i++)
		arm[i] = NAN;
	for (int i = 0; i < 6 * F; i++)
		A[i] = ncp_rng_normal(&rng) * 0.01;
	double *run = calloc((size_t)F, sizeof(double));
	for (int t = 0; t < steps; t++) {
		if (running) {
			/* The running filters by their recursion. */
			for (int k = 0; k < 3; k++) {
				double a = exp(-sp.dt / sp.taus[k]), g = (1 - a) / sp.dt;
				for (int n = 0; n < N; n++)
					run[n * 3 + k] = a * run[n * 3 + k] + g * h.x[t * N + n];
			}
			memcpy(f, run, (size_t)F * sizeof(double));
		} else {
			ref_features(&sp, false, &h, 0, t, f);
		}
		for (int o = 0; o < 6 && t + horizon < steps; o++) {
			double y = o;
			for (int j = 0; j < F; j++)
				y += A[o * F + j] * f[j];
			arm[(t + horizon) * 6 + o] = (float)y;
		}
	}
	struct ncp_dataset *ds = make_dataset(&h, arm, steps);
	struct ncp_dataset_split_opts so = {.window = W, .horizon = horizon, .val_frac = 0.2,
					    .block = 500, .gap = (uint64_t)(W + horizon)};
	uint64_t *tr, *va;
	size_t nt, nv;
	ck_assert_int_eq(ncp_dataset_split(ds, &so, &tr, &nt, &va, &nv, err, sizeof(err)), 0);
	struct ncp_emu_model *m0 = new_model(&sp, 1);
	struct ncp_trainer_opts to;
	ncp_trainer_opts_default(&to);
	to.batch = 64;
	to.lr = 3e-3;
	struct ncp_trainer *t = ncp_trainer_new(m0, ds, &to, err, sizeof(err));
	ck_assert_msg(t, "%s", err);
	ck_assert_int_eq(ncp_trainer_fit_norm(t, tr, nt, 1.0), 0);
	if (arch == NCP_EMU_RIDGE || arch == NCP_EMU_RIDGE_RUNNING) {
		struct ncp_ridge_report rep;
		ck_assert_msg(ncp_trainer_fit_ridge(t, tr, nt, va, nv, &rep, err, sizeof(err)) == 0,
			      "%s", err);
	} else {
		for (int s = 0; s < steps_adam; s++) {
			uint64_t b[64];
			double loss;
			for (int i = 0; i < 64; i++)
				b[i] = tr[ncp_rng_below(&rng, nt)];
			ncp_trainer_set_lr(t, 3e-3 * (1.0 - 0.9 * s / steps_adam));
			ck_assert_int_eq(ncp_trainer_step(t, b, 64, &loss), 0);
		}
	}
	float *pred = malloc(nv * 6 * sizeof(float));
	ck_assert_int_eq(ncp_trainer_predict(t, va, nv, pred), 0);
	struct ncp_score sc;
	ncp_score_init(&sc, 2);
	for (size_t i = 0; i < nv; i++)
		ncp_score_add(&sc, pred + i * 6, ncp_dataset_target(ds, va[i], horizon));
	ck_assert_msg(ncp_score_min_r2(&sc) >= min_r2, "%s, horizon %d: validation R^2 %.6f < %.6f",
		      ncp_emu_arch_name(arch), horizon, ncp_score_min_r2(&sc), min_r2);
	free(pred);
	free(tr);
	free(va);
	ncp_trainer_free(t);
	ncp_emu_model_free(m0);
	ncp_dataset_free(ds);
	free(A);
	free(f);
	free(run);
	free(arm);
	hist_free(&h);
}

START_TEST(ridge_recovers_linear_map)
{
	known_answer(NCP_EMU_RIDGE, 0.99999, 0, 0);
	known_answer(NCP_EMU_RIDGE_RUNNING, 0.99999, 0, 0);
	/* The answer 25 steps later: trained and scored on arm[t + 25]. */
	known_answer(NCP_EMU_RIDGE_RUNNING, 0.99999, 0, 25);
}
END_TEST

START_TEST(adam_learns_linear_map)
{
	known_answer(NCP_EMU_MLP, 0.99, 3000, 0);
	known_answer(NCP_EMU_MLP_RUNNING, 0.99, 3000, 0);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("emu");
	TCase *tc = tcase_create("emu");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, features_match_definition);
	tcase_add_test(tc, running_from_checkpoint);
	tcase_add_test(tc, forward_matches_reference);
	tcase_add_test(tc, gradients_match_finite_differences);
	tcase_add_test(tc, nan_targets_and_inputs);
	tcase_add_test(tc, save_load_round_trip);
	tcase_add_test(tc, load_refuses_bad_files);
	tcase_add_test(tc, push_predict_allocate_nothing);
	tcase_add_test(tc, training_is_deterministic);
	tcase_add_test(tc, optimizer_carries_over);
	tcase_add_test(tc, dropping_rows_keeps_features);
	tcase_add_test(tc, split_by_blocks_with_gap);
	tcase_add_test(tc, recordings_checked);
	tcase_add_test(tc, horizon_in_file_and_targets);
	tcase_add_test(tc, arm_input_in_file_and_inference);
	tcase_add_test(tc, arm_input_trains);
	tcase_add_test(tc, residual_in_file_and_inference);
	tcase_add_test(tc, residual_trains);
	tcase_add_test(tc, recording_stimulation_reaches_the_data);
	tcase_add_test(tc, ridge_recovers_linear_map);
	tcase_add_test(tc, adam_learns_linear_map);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
