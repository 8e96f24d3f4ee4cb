#include "models/emu/ncp_emu.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_emu_int.h"
#include "models/arm/ncp_arm.h"
#include "models/io/ncp_json_doc.h"
#include "models/io/ncp_safetensors.h"

const char *ncp_emu_output_name(int joints, int o)
{
	return ncp_arm_state_name(joints, o);
}

const char *ncp_emu_output_unit(int joints, int o)
{
	return o < joints ? "rad" : o < 2 * joints ? "rad/s" : "m";
}

int ncp_emu_spec_joints(const struct ncp_emu_spec *s)
{
	return s->joints ? s->joints : 2;
}

int ncp_emu_spec_outputs(const struct ncp_emu_spec *s)
{
	return NCP_EMU_OUTPUTS_OF(ncp_emu_spec_joints(s));
}

/* The arm inputs of a model with the arm-state input, of an arm of
 * `joints` joints: q and dq (2 J), or the whole state in the residual
 * form (2 J + 2). */
static int n_arm_of(int joints, bool residual)
{
	return residual ? NCP_EMU_OUTPUTS_OF(joints) : 2 * joints;
}

static const char *const arch_names[NCP_EMU_ARCH_COUNT] = {
	[NCP_EMU_RIDGE] = "ridge",
	[NCP_EMU_RIDGE_RUNNING] = "ridge-running",
	[NCP_EMU_MLP] = "mlp",
	[NCP_EMU_MLP_RUNNING] = "mlp-running",
	[NCP_EMU_DENSE] = "dense",
};

const char *ncp_emu_arch_name(enum ncp_emu_arch arch)
{
	return (unsigned)arch < NCP_EMU_ARCH_COUNT ? arch_names[arch] : "?";
}

int ncp_emu_arch_parse(const char *name, enum ncp_emu_arch *arch)
{
	for (int a = 0; a < NCP_EMU_ARCH_COUNT; a++)
		if (!strcmp(name, arch_names[a])) {
			*arch = (enum ncp_emu_arch)a;
			return 0;
		}
	return -EINVAL;
}

enum ncp_feat_mode ncp_emu_arch_mode(enum ncp_emu_arch arch)
{
	return arch == NCP_EMU_RIDGE_RUNNING || arch == NCP_EMU_MLP_RUNNING ?
		NCP_FEAT_RUNNING : NCP_FEAT_WINDOW;
}

static bool arch_is_linear(enum ncp_emu_arch arch)
{
	return arch == NCP_EMU_RIDGE || arch == NCP_EMU_RIDGE_RUNNING;
}

void ncp_emu_spec_default(struct ncp_emu_spec *s, enum ncp_emu_arch arch)
{
	memset(s, 0, sizeof(*s));
	s->arch = arch;
	s->window = 100;
	s->neurons = 1000;
	s->stim = 32;
	s->ntau = 3;
	s->taus[0] = 0.005;
	s->taus[1] = 0.020;
	s->taus[2] = 0.050;
	s->dt = 0.001;
	if (arch == NCP_EMU_MLP || arch == NCP_EMU_MLP_RUNNING) {
		s->nhidden = 2;
		s->hidden[0] = s->hidden[1] = 256;
	} else if (arch == NCP_EMU_DENSE) {
		s->nhidden = 2;
		s->hidden[0] = s->hidden[1] = 128;
	}
}

static struct ncp_feat_spec feat_spec(const struct ncp_emu_spec *s)
{
	struct ncp_feat_spec f;

	memset(&f, 0, sizeof(f));
	f.window = s->window;
	f.neurons = s->neurons;
	f.stim = s->stim;
	f.ntau = s->ntau;
	memcpy(f.taus, s->taus, sizeof(f.taus));
	f.dt = s->dt;
	f.mode = ncp_emu_arch_mode(s->arch);
	return f;
}

int ncp_emu_spec_check(const struct ncp_emu_spec *s, char *err, size_t errlen)
{
	struct ncp_feat_spec f;
	int r;

	if ((unsigned)s->arch >= NCP_EMU_ARCH_COUNT)
		return ncp_errf(err, errlen, "unknown architecture %d", (int)s->arch);
	f = feat_spec(s);
	r = ncp_feat_spec_check(&f, err, errlen);
	if (r)
		return r;
	if (s->joints != 0 && s->joints != 2 && s->joints != 3)
		return ncp_errf(err, errlen, "an arm of %d joints: the emulator "
				"predicts arms of 2 or 3", s->joints);
	if (s->horizon < 0 || s->horizon > NCP_EMU_MAX_HORIZON)
		return ncp_errf(err, errlen, "horizon %d is out of range (0 to %d steps)",
				s->horizon, NCP_EMU_MAX_HORIZON);
	if (arch_is_linear(s->arch) && s->nhidden != 0)
		return ncp_errf(err, errlen, "%s has no hidden layers (%d given)",
				ncp_emu_arch_name(s->arch), s->nhidden);
	if (!arch_is_linear(s->arch) &&
	    (s->nhidden < 1 || s->nhidden > NCP_EMU_MAX_HIDDEN))
		return ncp_errf(err, errlen, "%s needs 1 to %d hidden layers (%d given)",
				ncp_emu_arch_name(s->arch), NCP_EMU_MAX_HIDDEN,
				s->nhidden);
	for (int l = 0; l < s->nhidden; l++)
		if (s->hidden[l] < 1 || s->hidden[l] > NCP_EMU_MAX_UNITS)
			return ncp_errf(err, errlen,
					"hidden layer %d has %d units (1 to %d)",
					l + 1, s->hidden[l], NCP_EMU_MAX_UNITS);
	if (s->arm_input && s->arch == NCP_EMU_DENSE)
		return ncp_errf(err, errlen, "the arm-state input is for the "
				"filtered-feature architectures (ridge, "
				"ridge-running, mlp, mlp-running), not dense");
	if (s->residual && !s->arm_input)
		return ncp_errf(err, errlen, "the residual form predicts the "
				"change from the arm-state input, which the "
				"model has not");
	if (s->arch == NCP_EMU_DENSE &&
	    (uint64_t)s->window * (uint64_t)s->neurons * (uint64_t)s->hidden[0] >
		    (1ull << 31))
		return ncp_errf(err, errlen,
				"dense first layer of %d x %d x %d weights is too large",
				s->window, s->neurons, s->hidden[0]);
	return 0;
}

/* ---- Allocation --------------------------------------------------------- */

void *ncp_emu_calloc_big(size_t n, size_t size)
{
	const size_t huge = (size_t)2 << 20;
	size_t bytes;
	void *p;

	if (size && n > SIZE_MAX / size)
		return NULL;
	bytes = n * size;
	if (bytes < 2 * huge)
		return ncp_calloc_aligned(n, size);
	bytes = (bytes + huge - 1) & ~(huge - 1);
	if (posix_memalign(&p, huge, bytes))
		return NULL;
	(void)madvise(p, bytes, MADV_HUGEPAGE);	/* best effort */
	memset(p, 0, bytes);
	return p;
}

void ncp_emu_model_free(struct ncp_emu_model *m)
{
	if (!m)
		return;
	ncp_feat_fini(&m->feat);
	free(m->in_mean);
	free(m->in_scale);
	free(m->in_inv);
	for (int l = 0; l < m->nlayers; l++) {
		free(m->layer[l].w);
		free(m->layer[l].b);
	}
	free(m->w0_spk);
	free(m->w0_col);
	free(m->bias0);
	free(m->config);
	free(m);
}

/* A model shaped by s, zeroed, with identity normalisations. */
static struct ncp_emu_model *model_alloc(const struct ncp_emu_spec *s,
					 char *err, size_t errlen)
{
	struct ncp_emu_model *m;
	struct ncp_feat_spec fs;
	int in;

	if (ncp_emu_spec_check(s, err, errlen))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		goto nomem;
	m->spec = *s;
	if (m->spec.joints == 2)
		m->spec.joints = 0;	/* one spelling of REACH's arm */
	fs = feat_spec(s);
	if (ncp_feat_init(&m->feat, &fs, err, errlen)) {
		free(m);
		return NULL;
	}
	m->nfeat = m->feat.nfeat;
	if (s->arch == NCP_EMU_DENSE) {
		m->std_offset = s->neurons * s->ntau;
		m->n_std = s->stim * s->ntau;
		m->n_spk = (size_t)s->window * (size_t)s->neurons;
	} else {
		m->std_offset = 0;
		m->n_std = m->nfeat;
	}
	m->n_arm = s->arm_input ? n_arm_of(ncp_emu_spec_joints(s), s->residual) : 0;
	m->n_x = m->n_std + m->n_arm;
	m->in_mean = ncp_calloc_aligned((size_t)NCP_MAX(m->n_x, 1), sizeof(float));
	m->in_scale = ncp_calloc_aligned((size_t)NCP_MAX(m->n_x, 1), sizeof(float));
	m->in_inv = ncp_calloc_aligned((size_t)NCP_MAX(m->n_x, 1), sizeof(float));
	if (!m->in_mean || !m->in_scale || !m->in_inv)
		goto nomem_free;
	for (int j = 0; j < m->n_x; j++)
		m->in_scale[j] = m->in_inv[j] = 1.0f;
	m->nout = ncp_emu_spec_outputs(s);
	for (int o = 0; o < m->nout; o++)
		m->out_scale[o] = 1.0f;
	m->nlayers = s->nhidden + 1;
	in = m->n_x;
	m->max_width = m->nout;
	for (int l = 0; l < m->nlayers; l++) {
		int out = l < s->nhidden ? s->hidden[l] : m->nout;
		m->layer[l].in = in;
		m->layer[l].out = out;
		m->layer[l].w = ncp_calloc_aligned((size_t)out * (size_t)in,
						   sizeof(float));
		m->layer[l].b = ncp_calloc_aligned((size_t)out, sizeof(float));
		if (!m->layer[l].w || !m->layer[l].b)
			goto nomem_free;
		m->max_width = NCP_MAX(m->max_width, out);
		in = out;
	}
	if (m->n_spk) {
		m->w0_spk = ncp_emu_calloc_big(m->n_spk * (size_t)s->hidden[0],
					       sizeof(float));
		if (!m->w0_spk)
			goto nomem_free;
	} else {
		m->w0_col = ncp_calloc_aligned((size_t)m->n_x * (size_t)m->layer[0].out,
					       sizeof(float));
		m->bias0 = ncp_calloc_aligned((size_t)m->layer[0].out, sizeof(double));
		if (!m->w0_col || !m->bias0)
			goto nomem_free;
	}
	ncp_emu_model_refresh(m);
	return m;

nomem_free:
	ncp_emu_model_free(m);
nomem:
	ncp_errf(err, errlen, "out of memory for the model");
	errno = ENOMEM;
	return NULL;
}

void ncp_emu_model_refresh(struct ncp_emu_model *m)
{
	const struct ncp_emu_layer *l0 = &m->layer[0];

	for (int j = 0; j < m->n_x; j++)
		m->in_inv[j] = 1.0f / m->in_scale[j];
	if (!m->w0_col)
		return;
	for (int u = 0; u < l0->out; u++) {
		const float *w = l0->w + (size_t)u * (size_t)l0->in;
		double b = l0->b[u];
		for (int j = 0; j < l0->in; j++) {
			double c = (double)w[j] / m->in_scale[j];
			m->w0_col[(size_t)j * (size_t)l0->out + u] = (float)c;
			b -= c * m->in_mean[j];
		}
		m->bias0[u] = b;
	}
}

struct ncp_emu_model *ncp_emu_model_new(const struct ncp_emu_spec *s,
					uint64_t seed, char *err,
					size_t errlen)
{
	struct ncp_emu_model *m = model_alloc(s, err, errlen);
	struct ncp_rng rng;

	if (!m)
		return NULL;
	ncp_rng_seed(&rng, seed);
	for (int l = 0; l < m->nlayers; l++) {
		struct ncp_emu_layer *ly = &m->layer[l];
		size_t fan_in = (size_t)ly->in + (l == 0 ? m->n_spk : 0);
		double bound = fan_in ? 1.0 / sqrt((double)fan_in) : 0.0;

		if (l == 0 && m->n_spk)
			for (size_t i = 0; i < m->n_spk * (size_t)ly->out; i++)
				m->w0_spk[i] = (float)ncp_rng_range(&rng, -bound, bound);
		for (size_t i = 0; i < (size_t)ly->in * (size_t)ly->out; i++)
			ly->w[i] = (float)ncp_rng_range(&rng, -bound, bound);
		for (int i = 0; i < ly->out; i++)
			ly->b[i] = (float)ncp_rng_range(&rng, -bound, bound);
	}
	ncp_emu_model_refresh(m);
	return m;
}

struct ncp_emu_model *ncp_emu_model_clone(const struct ncp_emu_model *src)
{
	struct ncp_emu_model *m = model_alloc(&src->spec, NULL, 0);

	if (!m)
		return NULL;
	if (ncp_emu_model_copy(m, src) ||
	    ncp_emu_model_set_config(m, src->config)) {
		ncp_emu_model_free(m);
		return NULL;
	}
	return m;
}

static bool same_spec(const struct ncp_emu_spec *a, const struct ncp_emu_spec *b)
{
	if (a->arch != b->arch || a->window != b->window ||
	    a->neurons != b->neurons || a->stim != b->stim ||
	    a->ntau != b->ntau || a->dt != b->dt || a->nhidden != b->nhidden ||
	    a->horizon != b->horizon || a->arm_input != b->arm_input ||
	    a->residual != b->residual)
		return false;
	for (int k = 0; k < a->ntau; k++)
		if (a->taus[k] != b->taus[k])
			return false;
	for (int l = 0; l < a->nhidden; l++)
		if (a->hidden[l] != b->hidden[l])
			return false;
	return true;
}

int ncp_emu_model_copy(struct ncp_emu_model *dst,
		       const struct ncp_emu_model *src)
{
	if (!same_spec(&dst->spec, &src->spec))
		return -EINVAL;
	if (dst == src)
		return 0;
	memcpy(dst->in_mean, src->in_mean, (size_t)src->n_x * sizeof(float));
	memcpy(dst->in_scale, src->in_scale, (size_t)src->n_x * sizeof(float));
	memcpy(dst->in_inv, src->in_inv, (size_t)src->n_x * sizeof(float));
	memcpy(dst->out_mean, src->out_mean, sizeof(dst->out_mean));
	memcpy(dst->out_scale, src->out_scale, sizeof(dst->out_scale));
	for (int l = 0; l < src->nlayers; l++) {
		const struct ncp_emu_layer *a = &src->layer[l];
		memcpy(dst->layer[l].w, a->w,
		       (size_t)a->in * (size_t)a->out * sizeof(float));
		memcpy(dst->layer[l].b, a->b, (size_t)a->out * sizeof(float));
	}
	if (src->n_spk)
		memcpy(dst->w0_spk, src->w0_spk,
		       src->n_spk * (size_t)src->spec.hidden[0] * sizeof(float));
	/* Derived data from the tensors, not copied: src may be a trainer's
	 * working model, whose derived data is not kept up to date. */
	ncp_emu_model_refresh(dst);
	return 0;
}

static bool same_floats(const float *a, const float *b, size_t n)
{
	return n == 0 || !memcmp(a, b, n * sizeof(float));
}

bool ncp_emu_model_equal(const struct ncp_emu_model *a,
			 const struct ncp_emu_model *b)
{
	if (!same_spec(&a->spec, &b->spec))
		return false;
	if (!same_floats(a->in_mean, b->in_mean, (size_t)a->n_x) ||
	    !same_floats(a->in_scale, b->in_scale, (size_t)a->n_x) ||
	    !same_floats(a->out_mean, b->out_mean, a->nout) ||
	    !same_floats(a->out_scale, b->out_scale, a->nout))
		return false;
	for (int l = 0; l < a->nlayers; l++) {
		const struct ncp_emu_layer *x = &a->layer[l], *y = &b->layer[l];
		if (!same_floats(x->w, y->w, (size_t)x->in * (size_t)x->out) ||
		    !same_floats(x->b, y->b, (size_t)x->out))
			return false;
	}
	return same_floats(a->w0_spk, b->w0_spk,
			   a->n_spk * (size_t)(a->spec.nhidden ? a->spec.hidden[0] : 0));
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ull;
	}
	return h;
}

uint64_t ncp_emu_model_checksum(const struct ncp_emu_model *m)
{
	const struct ncp_emu_spec *s = &m->spec;
	uint64_t h = 0xcbf29ce484222325ull;
	int ints[5] = { (int)s->arch, s->window, s->neurons, s->stim, s->ntau };

	h = fnv(h, ints, sizeof(ints));
	h = fnv(h, s->taus, sizeof(double) * (size_t)s->ntau);
	h = fnv(h, &s->dt, sizeof(s->dt));
	h = fnv(h, &s->nhidden, sizeof(s->nhidden));
	h = fnv(h, s->hidden, sizeof(int) * (size_t)s->nhidden);
	if (s->horizon) /* version 1 models keep their checksums */
		h = fnv(h, &s->horizon, sizeof(s->horizon));
	if (s->arm_input) { /* as do models without the arm input */
		int a = s->residual ? 2 : 1;
		h = fnv(h, &a, sizeof(a));
	}
	h = fnv(h, m->in_mean, sizeof(float) * (size_t)m->n_x);
	h = fnv(h, m->in_scale, sizeof(float) * (size_t)m->n_x);
	h = fnv(h, m->out_mean, sizeof(m->out_mean));
	h = fnv(h, m->out_scale, sizeof(m->out_scale));
	for (int l = 0; l < m->nlayers; l++) {
		const struct ncp_emu_layer *y = &m->layer[l];
		h = fnv(h, y->w, sizeof(float) * (size_t)y->in * (size_t)y->out);
		h = fnv(h, y->b, sizeof(float) * (size_t)y->out);
	}
	return fnv(h, m->w0_spk, sizeof(float) * m->n_spk *
		   (size_t)(s->nhidden ? s->hidden[0] : 0));
}

int ncp_emu_model_set_config(struct ncp_emu_model *m, const char *json)
{
	char *copy = NULL;

	if (json) {
		json_t *doc = ncp_json_doc_parse(json, strlen(json), NULL, NULL,
						 NULL, 0);
		bool obj = json_is_object(doc);
		json_decref(doc);
		if (!obj)
			return -EINVAL;
		copy = strdup(json);
		if (!copy)
			return -ENOMEM;
	}
	free(m->config);
	m->config = copy;
	return 0;
}

const char *ncp_emu_model_config(const struct ncp_emu_model *m)
{
	return m->config;
}

const struct ncp_emu_spec *ncp_emu_model_spec(const struct ncp_emu_model *m)
{
	return &m->spec;
}

enum ncp_emu_arch ncp_emu_model_arch(const struct ncp_emu_model *m)
{
	return m->spec.arch;
}

const char *ncp_emu_model_arch_name(const struct ncp_emu_model *m)
{
	return ncp_emu_arch_name(m->spec.arch);
}

int ncp_emu_model_window(const struct ncp_emu_model *m)
{
	return m->spec.window;
}

int ncp_emu_model_neurons(const struct ncp_emu_model *m)
{
	return m->spec.neurons;
}

int ncp_emu_model_stim_channels(const struct ncp_emu_model *m)
{
	return m->spec.stim;
}

int ncp_emu_model_outputs(const struct ncp_emu_model *m)
{
	return m->nout;
}

int ncp_emu_model_horizon(const struct ncp_emu_model *m)
{
	return m->spec.horizon;
}

int ncp_emu_model_arm_inputs(const struct ncp_emu_model *m)
{
	return m->n_arm;
}

bool ncp_emu_model_residual(const struct ncp_emu_model *m)
{
	return m->spec.residual;
}

size_t ncp_emu_model_params(const struct ncp_emu_model *m)
{
	size_t n = m->n_spk * (size_t)(m->spec.nhidden ? m->spec.hidden[0] : 0);
	for (int l = 0; l < m->nlayers; l++)
		n += (size_t)m->layer[l].out * ((size_t)m->layer[l].in + 1);
	return n;
}

/* ---- Files -------------------------------------------------------------- */

/* The shortest decimal that reads back as x. */
static void fmt_double(char *buf, size_t len, double x)
{
	if (!buf || len == 0)
		return;
	for (int prec = 6; prec <= 17; prec++) {
		snprintf(buf, len, "%.*g", prec, x);
		if (strtod(buf, NULL) == x)
			return;
	}
}

static void layer_names(int l, char *w, char *b, size_t len)
{
	snprintf(w, len, "layers.%d.weight", 2 * l);
	snprintf(b, len, "layers.%d.bias", 2 * l);
}

/* Layer 0's inputs in the file: the spike window (dense) then the
 * standardised features, then the arm inputs. */
static size_t file_in0(const struct ncp_emu_model *m)
{
	return m->n_spk + (size_t)m->n_x;
}

/* The metadata "arm_input" of an arm of `joints` joints: the names of the
 * arm inputs, ["q0", "q1", "dq0", "dq1"] (2 joints), and in the residual
 * form the outputs' names (["q0", "q1", "dq0", "dq1", "hand_x",
 * "hand_y"]). */
static void arm_input_names(int joints, bool residual, char *buf, size_t len)
{
	const int n = n_arm_of(joints, residual);
	int k = snprintf(buf, len, "[");
	for (int a = 0; a < n; a++)
		k += snprintf(buf + k, len - (size_t)k, "%s\"%s\"", a ? ", " : "",
			      ncp_emu_output_name(joints, a));
	snprintf(buf + k, len - (size_t)k, "]");
}

int ncp_emu_model_save(const struct ncp_emu_model *m, const char *path,
		       char *err, size_t errlen)
{
	struct ncp_safetensors_tensor t[6 + 2 * NCP_EMU_MAX_LAYERS];
	struct ncp_safetensors_meta meta[20];
	char names[2 * NCP_EMU_MAX_LAYERS][32];
	char s_window[24], s_neurons[24], s_stim[24], s_horizon[24], s_dt[32], s_nin[32],
		s_nout[8], s_taus[256], s_hidden[160], s_outputs[128],
		s_arm[128];
	float *w0 = NULL;
	size_t n = 0, nm = 0, in0 = file_in0(m);
	int r, k;
	static const float empty[1];

	memset(t, 0, sizeof(t));
	/* Layer 0 in PyTorch's layout: [out][spike inputs | standardised]. */
	if (m->n_spk) {
		int h = m->layer[0].out, ns = m->n_std;
		w0 = malloc(in0 * (size_t)h * sizeof(float));
		if (!w0) {
			ncp_errf(err, errlen, "%s: out of memory", path);
			return -ENOMEM;
		}
		for (size_t i = 0; i < m->n_spk; i++)
			for (int u = 0; u < h; u++)
				w0[(size_t)u * in0 + i] = m->w0_spk[i * (size_t)h + u];
		for (int u = 0; u < h; u++)
			memcpy(w0 + (size_t)u * in0 + m->n_spk,
			       m->layer[0].w + (size_t)u * ns, (size_t)ns * sizeof(float));
	}
#define TENSOR(nm_, p_, nd_, d0_, d1_)                                   \
	do {                                                             \
		t[n].name = (nm_);                                       \
		t[n].dtype = NCP_SAFETENSORS_F32;                        \
		t[n].ndim = (nd_);                                       \
		t[n].shape[0] = (d0_);                                   \
		t[n].shape[1] = (d1_);                                   \
		t[n].data = (d0_) && ((nd_) == 1 || (d1_)) ? (const void *)(p_) \
							   : (const void *)empty; \
		n++;                                                     \
	} while (0)
	TENSOR("in_mean", m->in_mean, 1, (uint64_t)m->n_std, 0);
	TENSOR("in_scale", m->in_scale, 1, (uint64_t)m->n_std, 0);
	TENSOR("out_mean", m->out_mean, 1, m->nout, 0);
	TENSOR("out_scale", m->out_scale, 1, m->nout, 0);
	if (m->n_arm) {
		TENSOR("arm_mean", m->in_mean + m->n_std, 1, (uint64_t)m->n_arm, 0);
		TENSOR("arm_scale", m->in_scale + m->n_std, 1, (uint64_t)m->n_arm, 0);
	}
	for (int l = 0; l < m->nlayers; l++) {
		const struct ncp_emu_layer *ly = &m->layer[l];
		layer_names(l, names[2 * l], names[2 * l + 1], sizeof(names[0]));
		TENSOR(names[2 * l], l == 0 && w0 ? w0 : ly->w, 2,
		       (uint64_t)ly->out, l == 0 ? (uint64_t)in0 : (uint64_t)ly->in);
		TENSOR(names[2 * l + 1], ly->b, 1, (uint64_t)ly->out, 0);
	}
#undef TENSOR

	snprintf(s_window, sizeof(s_window), "%d", m->spec.window);
	snprintf(s_neurons, sizeof(s_neurons), "%d", m->spec.neurons);
	snprintf(s_stim, sizeof(s_stim), "%d", m->spec.stim);
	snprintf(s_horizon, sizeof(s_horizon), "%d", m->spec.horizon);
	fmt_double(s_dt, sizeof(s_dt), m->spec.dt);
	snprintf(s_nin, sizeof(s_nin), "%zu", in0);
	snprintf(s_nout, sizeof(s_nout), "%d", m->nout);
	k = snprintf(s_taus, sizeof(s_taus), "[");
	for (int i = 0; i < m->spec.ntau; i++) {
		char d[32];
		fmt_double(d, sizeof(d), m->spec.taus[i]);
		k += snprintf(s_taus + k, sizeof(s_taus) - (size_t)k, "%s%s",
			      i ? ", " : "", d);
	}
	snprintf(s_taus + k, sizeof(s_taus) - (size_t)k, "]");
	k = snprintf(s_hidden, sizeof(s_hidden), "[");
	for (int l = 0; l < m->spec.nhidden; l++)
		k += snprintf(s_hidden + k, sizeof(s_hidden) - (size_t)k, "%s%d",
			      l ? ", " : "", m->spec.hidden[l]);
	snprintf(s_hidden + k, sizeof(s_hidden) - (size_t)k, "]");
	k = snprintf(s_outputs, sizeof(s_outputs), "[");
	for (int o = 0; o < m->nout; o++)
		k += snprintf(s_outputs + k, sizeof(s_outputs) - (size_t)k,
			      "%s\"%s\"", o ? ", " : "",
			      ncp_emu_output_name(ncp_emu_spec_joints(&m->spec), o));
	snprintf(s_outputs + k, sizeof(s_outputs) - (size_t)k, "]");

#define META(k_, v_) (meta[nm].key = (k_), meta[nm].value = (v_), nm++)
	META("format", NCP_EMU_FORMAT);
	META("format_version", m->spec.residual ? "4" : m->n_arm ? "3" :
			       m->spec.horizon ? "2" : "1");
	META("arch", ncp_emu_arch_name(m->spec.arch));
	META("window", s_window);
	META("neurons", s_neurons);
	META("stim_channels", s_stim);
	META("dt", s_dt);
	META("taus", s_taus);
	META("feature_mode", ncp_feat_mode_name(m->feat.spec.mode));
	META("hidden", s_hidden);
	META("n_in", s_nin);
	META("n_out", s_nout);
	META("outputs", s_outputs);
	if (m->spec.horizon || m->n_arm)
		META("horizon", s_horizon);
	if (m->n_arm) {
		arm_input_names(ncp_emu_spec_joints(&m->spec), m->spec.residual,
				s_arm, sizeof(s_arm));
		META("arm_input", s_arm);
	}
	if (m->spec.residual)
		META("residual", "true");
	if (m->config)
		META("config", m->config);
#undef META

	r = ncp_safetensors_write(path, t, n, meta, nm);
	free(w0);
	if (r)
		ncp_errf(err, errlen, "cannot write %s: %s", path, ncp_strerror(r));
	return r;
}

/* Metadata that must be a decimal integer in [lo, hi]. */
static int meta_int(const struct ncp_safetensors *st, const char *name,
		    const char *key, long lo, long hi, int *out, char *err,
		    size_t errlen)
{
	uint64_t v;
	char e[256];
	int r = ncp_safetensors_meta_uint(st, key, &v, e, sizeof(e));

	if (r == -ENOENT)
		return ncp_errf(err, errlen, "%s: metadata \"%s\" is missing",
				name, key);
	if (r)
		return ncp_errf(err, errlen, "%s: %s", name, e);
	if (v < (uint64_t)lo || v > (uint64_t)hi)
		return ncp_errf(err, errlen,
				"%s: metadata \"%s\" is %" PRIu64 ", out of range (%ld to %ld)",
				name, key, v, lo, hi);
	*out = (int)v;
	return 0;
}

static const char *meta_str(const struct ncp_safetensors *st, const char *name,
			    const char *key, char *err, size_t errlen)
{
	const char *v = ncp_safetensors_meta_get(st, key);
	if (!v)
		ncp_errf(err, errlen, "%s: metadata \"%s\" is missing", name, key);
	return v;
}

/* Metadata holding a JSON array of numbers; at most max items. */
static int meta_numbers(const struct ncp_safetensors *st, const char *name,
			const char *key, double *out, int max, int *n,
			char *err, size_t errlen)
{
	const char *v = meta_str(st, name, key, err, errlen);
	json_t *root;
	char e[256], q[64];
	int r = 0;

	if (!v)
		return -EINVAL;
	ncp_json_quote(q, sizeof(q), v, strlen(v));
	root = ncp_json_doc_parse(v, strlen(v), NULL, NULL, e, sizeof(e));
	if (!root)
		return ncp_errf(err, errlen, "%s: metadata \"%s\" is not JSON (%s): %s",
				name, key, q, e);
	if (!json_is_array(root) || json_array_size(root) > (size_t)max) {
		r = ncp_errf(err, errlen,
			     "%s: metadata \"%s\" must be an array of at most %d numbers, found %s",
			     name, key, max, q);
		goto out;
	}
	for (size_t i = 0; i < json_array_size(root); i++) {
		if (!json_is_number(json_array_get(root, i))) {
			r = ncp_errf(err, errlen,
				     "%s: metadata \"%s\" must hold numbers, found %s",
				     name, key, q);
			goto out;
		}
		out[i] = json_number_value(json_array_get(root, i));
	}
	*n = (int)json_array_size(root);
out:
	json_decref(root);
	return r;
}

static int meta_double(const struct ncp_safetensors *st, const char *name,
		       const char *key, double *out, char *err, size_t errlen)
{
	const char *v = meta_str(st, name, key, err, errlen);
	char *end, q[64];

	if (!v)
		return -EINVAL;
	errno = 0;
	*out = strtod(v, &end);
	if (!*v || *end || errno || !isfinite(*out)) {
		ncp_json_quote(q, sizeof(q), v, strlen(v));
		return ncp_errf(err, errlen, "%s: metadata \"%s\" is not a number: %s",
				name, key, q);
	}
	return 0;
}

/* Copy tensor `tname` ([d0] or [d0, d1] F32) into dst, checking every value
 * is finite (and positive with positive). */
static int get_tensor(const struct ncp_safetensors *st, const char *name,
		      const char *tname, int ndim, uint64_t d0, uint64_t d1,
		      float *dst, bool positive, char *err, size_t errlen)
{
	uint64_t shape[2] = {d0, d1};
	const void *data;
	char e[320];
	int r = ncp_safetensors_get(st, tname, NCP_SAFETENSORS_F32, ndim, shape,
				    &data, e, sizeof(e));
	size_t count = (size_t)d0 * (ndim == 2 ? (size_t)d1 : 1);

	if (r)
		return ncp_errf(err, errlen, "%s: %s", name, e);
	if (count)
		memcpy(dst, data, count * sizeof(float));
	for (size_t i = 0; i < count; i++)
		if (!isfinite(dst[i]) || (positive && !(dst[i] > 0)))
			return ncp_errf(err, errlen,
					"%s: tensor \"%s\" element %zu is %g (must be finite%s)",
					name, tname, i, (double)dst[i],
					positive ? " and positive" : "");
	return 0;
}

static struct ncp_emu_model *model_from(const struct ncp_safetensors *st,
					const char *name, char *err,
					size_t errlen)
{
	struct ncp_emu_spec s;
	struct ncp_emu_model *m = NULL;
	const char *v;
	double hidden[NCP_EMU_MAX_HIDDEN + 1];
	int n, window, nin, nout;
	char e[320];

	memset(&s, 0, sizeof(s));
	v = meta_str(st, name, "format", err, errlen);
	if (!v)
		return NULL;
	if (strcmp(v, NCP_EMU_FORMAT)) {
		ncp_json_quote(e, 64, v, strlen(v));
		ncp_errf(err, errlen, "%s: metadata \"format\" is %s, not \"%s\": not an ncpd emulator model",
			 name, e, NCP_EMU_FORMAT);
		return NULL;
	}
	if (meta_int(st, name, "format_version", 0, INT32_MAX, &n, err, errlen))
		return NULL;
	if (n < 1 || n > NCP_EMU_FORMAT_VERSION) {
		ncp_errf(err, errlen, "%s: format_version %d is not supported (this ncpd reads 1 to %d)",
			 name, n, NCP_EMU_FORMAT_VERSION);
		return NULL;
	}
	if (n >= 2) {
		if (meta_int(st, name, "horizon", 0, NCP_EMU_MAX_HORIZON, &s.horizon,
			     err, errlen))
			return NULL;
	} else if (ncp_safetensors_meta_get(st, "horizon")) {
		ncp_errf(err, errlen, "%s: metadata \"horizon\" needs format_version 2 (the file says 1)",
			 name);
		return NULL;
	}
	const char *arm_in = ncp_safetensors_meta_get(st, "arm_input");
	if (n >= 3 && !arm_in) {
		ncp_errf(err, errlen, "%s: format_version %d needs the metadata \"arm_input\" (the arm-state input), which is missing",
			 name, n);
		return NULL;
	}
	if (n < 3 && arm_in) {
		ncp_errf(err, errlen, "%s: metadata \"arm_input\" needs format_version 3 or 4 (the file says %d)",
			 name, n);
		return NULL;
	}
	s.arm_input = arm_in != NULL;
	const char *resid = ncp_safetensors_meta_get(st, "residual");
	if (n >= 4 && (!resid || strcmp(resid, "true"))) {
		if (resid)
			ncp_json_quote(e, 64, resid, strlen(resid));
		ncp_errf(err, errlen, "%s: format_version 4 is the residual form and needs the metadata \"residual\": \"true\"%s%s",
			 name, resid ? ", not " : ", which is missing",
			 resid ? e : "");
		return NULL;
	}
	if (n < 4 && resid) {
		ncp_errf(err, errlen, "%s: metadata \"residual\" needs format_version 4 (the file says %d)",
			 name, n);
		return NULL;
	}
	s.residual = resid != NULL;
	v = meta_str(st, name, "arch", err, errlen);
	if (!v)
		return NULL;
	if (ncp_emu_arch_parse(v, &s.arch)) {
		ncp_json_quote(e, 64, v, strlen(v));
		ncp_errf(err, errlen,
			 "%s: unknown architecture %s (known: ridge, ridge-running, mlp, mlp-running, dense)",
			 name, e);
		return NULL;
	}
	if (meta_int(st, name, "window", 1, NCP_FEAT_MAX_WINDOW, &window, err, errlen) ||
	    meta_int(st, name, "neurons", 1, NCP_FEAT_MAX_NEURONS, &s.neurons, err, errlen) ||
	    meta_int(st, name, "stim_channels", 0, NCP_FEAT_MAX_STIM, &s.stim, err, errlen) ||
	    meta_int(st, name, "n_in", 1, INT32_MAX, &nin, err, errlen) ||
	    meta_int(st, name, "n_out", 1, INT32_MAX, &nout, err, errlen) ||
	    meta_double(st, name, "dt", &s.dt, err, errlen) ||
	    meta_numbers(st, name, "taus", s.taus, NCP_FEAT_MAX_TAUS, &s.ntau, err, errlen) ||
	    meta_numbers(st, name, "hidden", hidden, NCP_EMU_MAX_HIDDEN, &s.nhidden, err, errlen))
		return NULL;
	s.window = window;
	for (int l = 0; l < s.nhidden; l++) {
		if (hidden[l] != floor(hidden[l]) || hidden[l] < 1 ||
		    hidden[l] > NCP_EMU_MAX_UNITS) {
			ncp_errf(err, errlen, "%s: metadata \"hidden\": layer %d has %g units",
				 name, l + 1, hidden[l]);
			return NULL;
		}
		s.hidden[l] = (int)hidden[l];
	}
	v = meta_str(st, name, "feature_mode", err, errlen);
	if (!v)
		return NULL;
	if (strcmp(v, ncp_feat_mode_name(ncp_emu_arch_mode(s.arch)))) {
		ncp_json_quote(e, 64, v, strlen(v));
		ncp_errf(err, errlen, "%s: feature_mode %s does not fit architecture %s (which is \"%s\")",
			 name, e, ncp_emu_arch_name(s.arch),
			 ncp_feat_mode_name(ncp_emu_arch_mode(s.arch)));
		return NULL;
	}
	if (nout != NCP_EMU_OUTPUTS_OF(2) && nout != NCP_EMU_OUTPUTS_OF(3)) {
		ncp_errf(err, errlen, "%s: n_out is %d; ncpd's emulator has %d "
			 "outputs (2-link arm) or %d (3-link arm)", name, nout,
			 NCP_EMU_OUTPUTS_OF(2), NCP_EMU_OUTPUTS_OF(3));
		return NULL;
	}
	s.joints = nout == NCP_EMU_OUTPUTS_OF(3) ? 3 : 0;
	v = meta_str(st, name, "outputs", err, errlen);
	if (!v)
		return NULL;
	{
		/* Exactly the names of the arm's n_out outputs, in order. */
		json_t *root = ncp_json_doc_parse(v, strlen(v), NULL, NULL, NULL, 0);
		bool ok = json_is_array(root) &&
			  json_array_size(root) == (size_t)nout;
		char want[160];
		int k = snprintf(want, sizeof(want), "[");
		for (int o = 0; o < nout; o++)
			k += snprintf(want + k, sizeof(want) - (size_t)k, "%s\"%s\"",
				      o ? ", " : "", ncp_emu_output_name(ncp_emu_spec_joints(&s), o));
		snprintf(want + k, sizeof(want) - (size_t)k, "]");
		for (int o = 0; ok && o < nout; o++) {
			const char *name_o = json_string_value(json_array_get(root, (size_t)o));
			ok = name_o && !strcmp(name_o, ncp_emu_output_name(ncp_emu_spec_joints(&s), o));
		}
		json_decref(root);
		if (!ok) {
			ncp_json_quote(e, 128, v, strlen(v));
			ncp_errf(err, errlen,
				 "%s: metadata \"outputs\" is %s, expected %s",
				 name, e, want);
			return NULL;
		}
	}
	if (arm_in) {
		/* Exactly the q and dq names of the arm the outputs are for
		 * (and the hand's in the residual form). */
		char want[128];
		int J = ncp_emu_spec_joints(&s);
		int na = n_arm_of(J, s.residual);
		arm_input_names(J, s.residual, want, sizeof(want));
		json_t *root = ncp_json_doc_parse(arm_in, strlen(arm_in), NULL, NULL, NULL, 0);
		bool ok = json_is_array(root) &&
			  json_array_size(root) == (size_t)na;
		for (int a = 0; ok && a < na; a++) {
			const char *name_a = json_string_value(json_array_get(root, (size_t)a));
			ok = name_a && !strcmp(name_a, ncp_emu_output_name(J, a));
		}
		json_decref(root);
		if (!ok) {
			ncp_json_quote(e, 128, arm_in, strlen(arm_in));
			ncp_errf(err, errlen,
				 "%s: metadata \"arm_input\" is %s, expected %s (the %s of the arm of %d links its %d outputs are for)",
				 name, e, want, s.residual ? "whole state" : "q and dq",
				 J, nout);
			return NULL;
		}
	}
	if (ncp_emu_spec_check(&s, e, sizeof(e))) {
		ncp_errf(err, errlen, "%s: %s", name, e);
		return NULL;
	}
	m = model_alloc(&s, err, errlen);
	if (!m)
		return NULL;
	if ((size_t)nin != file_in0(m)) {
		ncp_errf(err, errlen,
			 "%s: n_in is %d, but %s with %d neurons, %d stimulation channels, %d time constants, a window of %d and %d arm inputs has %zu inputs",
			 name, nin, ncp_emu_arch_name(s.arch), s.neurons, s.stim,
			 s.ntau, s.window, m->n_arm, file_in0(m));
		goto fail;
	}
	v = ncp_safetensors_meta_get(st, "config");
	if (v && ncp_emu_model_set_config(m, v)) {
		ncp_errf(err, errlen, "%s: metadata \"config\" is not a JSON object", name);
		goto fail;
	}

	/* Every tensor, and nothing else. */
	size_t expected = 4 + (m->n_arm ? 2 : 0) + 2 * (size_t)m->nlayers;
	if (get_tensor(st, name, "in_mean", 1, (uint64_t)m->n_std, 0, m->in_mean, false, err, errlen) ||
	    get_tensor(st, name, "in_scale", 1, (uint64_t)m->n_std, 0, m->in_scale, true, err, errlen) ||
	    get_tensor(st, name, "out_mean", 1, m->nout, 0, m->out_mean, false, err, errlen) ||
	    get_tensor(st, name, "out_scale", 1, m->nout, 0, m->out_scale, true, err, errlen))
		goto fail;
	if (m->n_arm &&
	    (get_tensor(st, name, "arm_mean", 1, (uint64_t)m->n_arm, 0, m->in_mean + m->n_std, false, err, errlen) ||
	     get_tensor(st, name, "arm_scale", 1, (uint64_t)m->n_arm, 0, m->in_scale + m->n_std, true, err, errlen)))
		goto fail;
	for (int l = 0; l < m->nlayers; l++) {
		struct ncp_emu_layer *ly = &m->layer[l];
		char wn[32], bn[32];
		layer_names(l, wn, bn, sizeof(wn));
		if (l == 0 && m->n_spk) {
			size_t in0 = file_in0(m);
			float *w0 = malloc(in0 * (size_t)ly->out * sizeof(float));
			if (!w0) {
				ncp_errf(err, errlen, "%s: out of memory", name);
				errno = ENOMEM;
				goto fail;
			}
			if (get_tensor(st, name, wn, 2, (uint64_t)ly->out, in0, w0,
				       false, err, errlen)) {
				free(w0);
				goto fail;
			}
			for (int u = 0; u < ly->out; u++) {
				const float *row = w0 + (size_t)u * in0;
				for (size_t i = 0; i < m->n_spk; i++)
					m->w0_spk[i * (size_t)ly->out + u] = row[i];
				memcpy(ly->w + (size_t)u * (size_t)ly->in, row + m->n_spk,
				       (size_t)ly->in * sizeof(float));
			}
			free(w0);
		} else if (get_tensor(st, name, wn, 2, (uint64_t)ly->out,
				      (uint64_t)ly->in, ly->w, false, err, errlen)) {
			goto fail;
		}
		if (get_tensor(st, name, bn, 1, (uint64_t)ly->out, 0, ly->b, false,
			       err, errlen))
			goto fail;
	}
	if (ncp_safetensors_count(st) != expected) {
		for (size_t i = 0; i < ncp_safetensors_count(st); i++) {
			const char *tn = ncp_safetensors_at(st, i)->name;
			bool known = !strcmp(tn, "in_mean") || !strcmp(tn, "in_scale") ||
				     !strcmp(tn, "out_mean") || !strcmp(tn, "out_scale") ||
				     (m->n_arm && (!strcmp(tn, "arm_mean") || !strcmp(tn, "arm_scale")));
			for (int l = 0; !known && l < m->nlayers; l++) {
				char wn[32], bn[32];
				layer_names(l, wn, bn, sizeof(wn));
				known = !strcmp(tn, wn) || !strcmp(tn, bn);
			}
			if (!known) {
				ncp_json_quote(e, 80, tn, strlen(tn));
				ncp_errf(err, errlen, "%s: tensor %s does not belong to a %s model with %d hidden layers%s",
					 name, e, ncp_emu_arch_name(s.arch), s.nhidden,
					 m->n_arm ? "" : " and no arm-state input (format_version 3, \"arm_input\")");
				goto fail;
			}
		}
	}
	ncp_emu_model_refresh(m);
	return m;

fail:
	ncp_emu_model_free(m);
	if (!errno || errno == ENOENT)
		errno = EINVAL;
	return NULL;
}

struct ncp_emu_model *ncp_emu_model_load(const char *path, char *err,
					 size_t errlen)
{
	struct ncp_safetensors *st = ncp_safetensors_load(path, err, errlen);
	struct ncp_emu_model *m;

	if (!st)
		return NULL;
	errno = 0;
	m = model_from(st, path, err, errlen);
	ncp_safetensors_free(st);
	return m;
}

struct ncp_emu_model *ncp_emu_model_parse(const void *buf, size_t len,
					  const char *name, char *err,
					  size_t errlen)
{
	struct ncp_safetensors *st = ncp_safetensors_parse(buf, len, name, err,
							   errlen);
	struct ncp_emu_model *m;

	if (!st)
		return NULL;
	errno = 0;
	m = model_from(st, name, err, errlen);
	ncp_safetensors_free(st);
	return m;
}

/* ---- Inference ---------------------------------------------------------- */

void ncp_emu_standardise(const struct ncp_emu_model *m, const float *feat,
			 float *x)
{
	const float *f = feat + m->std_offset;
	const float *mu = m->in_mean, *inv = m->in_inv;

	for (int j = 0; j < m->n_std; j++)
		x[j] = (f[j] - mu[j]) * inv[j];
}

void ncp_emu_standardise_arm(const struct ncp_emu_model *m, const float *arm,
			     float *x)
{
	const float *mu = m->in_mean + m->n_std, *inv = m->in_inv + m->n_std;

	for (int a = 0; a < m->n_arm; a++)
		x[a] = arm && isfinite(arm[a]) ? (arm[a] - mu[a]) * inv[a] : 0.0f;
}

void ncp_emu_output_base(const struct ncp_emu_model *m, const float *arm,
			 float *base)
{
	const float *mu = m->in_mean + m->n_std;

	for (int o = 0; o < m->nout; o++)
		base[o] = !m->spec.residual ? 0.0f :
			  arm && isfinite(arm[o]) ? arm[o] : mu[o];
}


/* A state keeps the last `window` steps (spike lists and stimulation) in a
 * ring.  For the filtered-feature archs it also keeps, per time constant
 * k, acc_k = sum over the features j of tau k of w0_col[j] * f_j: the
 * first layer's pre-activation split by time constant.  Since every
 * feature obeys
 *   running:  f(t) = a f(t-1) + g x(t)
 *   window:   f(t) = a f(t-1) + g x(t) - g a^W x(t-W)
 * so does acc_k, and a step costs (its spikes + the spikes leaving the
 * window) x ntau rows of w0_col instead of a pass over every feature.
 * acc is kept in double, so that the rounding of the recursion stays far
 * below float precision.  After a model change it is rebuilt from the
 * features once (ncp_emu_state_set_model). */
struct ncp_emu_state {
	const struct ncp_emu_model *m;
	int window, neurons, stim, ntau, h0;
	uint64_t steps;
	uint64_t bad_spikes;
	int head;		/* ring slot of the latest step */
	uint32_t *ring;		/* [window][neurons] spike indices */
	int *ring_n;		/* [window] */
	float *stim_ring;	/* [window][stim] */
	bool *stim_nz;		/* [window]: some value is not zero */
	const uint32_t **win_spk;	/* [window] scratch: the window view */
	int *win_n;
	int *zero_n;		/* [window] zeros */
	const float **win_stim;
	double *run;		/* running filters (running archs) */
	double *acc;		/* [ntau][h0] (filtered-feature archs) */
	bool acc_valid;
	double fall[NCP_FEAT_MAX_TAUS];	/* g a^W: a step leaving the window */
	float *feat;		/* [nfeat] */
	float *x;		/* [n_std] */
	float *h[2];		/* [max_width] */
	/* The arm inputs: of the latest pushed step (the arm after the step
	 * before it), and of the next one (the arm after the latest step,
	 * ncp_emu_set_arm); NaN while unknown. */
	float arm_cur[NCP_EMU_MAX_OUTPUTS];
	float arm_next[NCP_EMU_MAX_OUTPUTS];
};

void ncp_emu_state_free(struct ncp_emu_state *s)
{
	if (!s)
		return;
	free(s->ring);
	free(s->ring_n);
	free(s->stim_ring);
	free(s->stim_nz);
	free(s->win_spk);
	free(s->win_n);
	free(s->zero_n);
	free(s->win_stim);
	free(s->run);
	free(s->acc);
	free(s->feat);
	free(s->x);
	free(s->h[0]);
	free(s->h[1]);
	free(s);
}

struct ncp_emu_state *ncp_emu_state_new(const struct ncp_emu_model *m)
{
	struct ncp_emu_state *s = calloc(1, sizeof(*s));
	size_t w;

	if (!s)
		return NULL;
	s->m = m;
	s->window = m->spec.window;
	s->neurons = m->spec.neurons;
	s->stim = m->spec.stim;
	s->ntau = m->spec.ntau;
	s->h0 = m->layer[0].out;
	w = (size_t)s->window;
	for (int k = 0; k < s->ntau; k++)
		s->fall[k] = m->feat.gain[k] * pow(m->feat.decay[k], s->window);
	s->ring = ncp_calloc_aligned(w * (size_t)s->neurons, sizeof(uint32_t));
	s->ring_n = calloc(w, sizeof(int));
	s->stim_ring = ncp_calloc_aligned(w * (size_t)NCP_MAX(s->stim, 1),
					  sizeof(float));
	s->stim_nz = calloc(w, sizeof(bool));
	s->win_spk = calloc(w, sizeof(*s->win_spk));
	s->win_n = calloc(w, sizeof(int));
	s->zero_n = calloc(w, sizeof(int));
	s->win_stim = calloc(w, sizeof(*s->win_stim));
	s->run = ncp_calloc_aligned((size_t)m->nfeat, sizeof(double));
	s->acc = ncp_calloc_aligned((size_t)s->ntau * (size_t)s->h0, sizeof(double));
	s->feat = ncp_calloc_aligned((size_t)m->nfeat, sizeof(float));
	s->x = ncp_calloc_aligned((size_t)NCP_MAX(m->n_std, 1), sizeof(float));
	s->h[0] = ncp_calloc_aligned((size_t)m->max_width, sizeof(float));
	s->h[1] = ncp_calloc_aligned((size_t)m->max_width, sizeof(float));
	if (!s->ring || !s->ring_n || !s->stim_ring || !s->stim_nz ||
	    !s->win_spk || !s->win_n || !s->zero_n || !s->win_stim || !s->run ||
	    !s->acc || !s->feat || !s->x || !s->h[0] || !s->h[1]) {
		ncp_emu_state_free(s);
		errno = ENOMEM;
		return NULL;
	}
	ncp_emu_state_reset(s);
	return s;
}

void ncp_emu_state_reset(struct ncp_emu_state *s)
{
	s->steps = 0;
	s->bad_spikes = 0;
	s->head = s->window - 1;
	memset(s->ring_n, 0, (size_t)s->window * sizeof(int));
	memset(s->stim_nz, 0, (size_t)s->window * sizeof(bool));
	memset(s->run, 0, (size_t)s->m->nfeat * sizeof(double));
	memset(s->acc, 0, (size_t)s->ntau * (size_t)s->h0 * sizeof(double));
	s->acc_valid = true;
	for (int a = 0; a < NCP_EMU_MAX_OUTPUTS; a++)
		s->arm_cur[a] = s->arm_next[a] = NAN;
}

void ncp_emu_set_arm(struct ncp_emu_state *s, const float *arm)
{
	for (int a = 0; a < s->m->n_arm; a++)
		s->arm_next[a] = arm ? arm[a] : NAN;
}

int ncp_emu_state_set_model(struct ncp_emu_state *s,
			    const struct ncp_emu_model *m)
{
	if (!same_spec(&s->m->spec, &m->spec))
		return -EINVAL;
	s->m = m;
	s->acc_valid = false;	/* rebuilt by the next prediction */
	return 0;
}

uint64_t ncp_emu_state_steps(const struct ncp_emu_state *s)
{
	return s->steps;
}

uint64_t ncp_emu_state_bad_spikes(const struct ncp_emu_state *s)
{
	return s->bad_spikes;
}

/* acc_k += coef[k] * (the w0_col rows of the step's features). */
static void acc_add(struct ncp_emu_state *s, const uint32_t *spk, int n,
		    const float *stim, const double *coef)
{
	const int K = s->ntau, h = s->h0;
	const float *w = s->m->w0_col;

	for (int j = 0; j < n; j++) {
		for (int k = 0; k < K; k++) {
			const float *row = w + ((size_t)spk[j] * K + k) * (size_t)h;
			double *a = s->acc + (size_t)k * (size_t)h;
			const double c = coef[k];
			for (int u = 0; u < h; u++)
				a[u] += c * row[u];
		}
	}
	if (!stim)
		return;
	for (int ch = 0; ch < s->stim; ch++) {
		if (stim[ch] == 0.0f)
			continue;
		for (int k = 0; k < K; k++) {
			const float *row = w + ((size_t)(s->neurons + ch) * K + k) * (size_t)h;
			double *a = s->acc + (size_t)k * (size_t)h;
			const double c = coef[k] * stim[ch];
			for (int u = 0; u < h; u++)
				a[u] += c * row[u];
		}
	}
}

void ncp_emu_push(struct ncp_emu_state *s, const uint32_t *spikes, int n,
		  const float *stim, int nstim)
{
	const struct ncp_emu_model *m = s->m;
	const int slot = s->head + 1 == s->window ? 0 : s->head + 1;
	uint32_t *dst = s->ring + (size_t)slot * (size_t)s->neurons;
	float *st = s->stim_ring + (size_t)slot * (size_t)s->stim;
	const uint32_t nn = (uint32_t)s->neurons;
	const bool feat_arch = m->w0_col != NULL;
	const bool running = m->feat.spec.mode == NCP_FEAT_RUNNING;
	int k = 0;
	bool nz = false;

	if (feat_arch && s->acc_valid) {
		const int h = s->h0;
		double neg[NCP_FEAT_MAX_TAUS];
		for (int t = 0; t < s->ntau; t++) {
			double *a = s->acc + (size_t)t * (size_t)h;
			const double d = m->feat.decay[t];
			for (int u = 0; u < h; u++)
				a[u] *= d;
			neg[t] = -s->fall[t];
		}
		/* The step leaving the window (its slot is about to be reused). */
		if (!running && s->steps >= (uint64_t)s->window)
			acc_add(s, dst, s->ring_n[slot], s->stim_nz[slot] ? st : NULL, neg);
	}
	for (int j = 0; j < n; j++) {
		if (spikes[j] < nn && k < s->neurons)
			dst[k++] = spikes[j];
		else
			s->bad_spikes++;
	}
	s->ring_n[slot] = k;
	if (s->stim) {
		int c = stim ? NCP_MIN(nstim, s->stim) : 0;
		for (int ch = 0; ch < c; ch++) {
			st[ch] = stim[ch];
			nz |= stim[ch] != 0.0f;
		}
		for (int ch = c; ch < s->stim; ch++)
			st[ch] = 0.0f;
	}
	s->stim_nz[slot] = nz;
	s->head = slot;
	s->steps++;
	/* The arm input of this step: the arm after the step before it. */
	for (int a = 0; a < m->n_arm; a++) {
		s->arm_cur[a] = s->arm_next[a];
		s->arm_next[a] = NAN;
	}
	if (running)
		ncp_feat_running_step(&m->feat, s->run, dst, k, nz ? st : NULL);
	if (feat_arch && s->acc_valid)
		acc_add(s, dst, k, nz ? st : NULL, m->feat.gain);
}

/* The window as a view, oldest first. */
static void window_view(struct ncp_emu_state *s, struct ncp_feat_win *w)
{
	int len = s->steps < (uint64_t)s->window ? (int)s->steps : s->window;
	int slot = s->head - len + 1;

	if (slot < 0)
		slot += s->window;
	for (int i = 0; i < len; i++) {
		s->win_spk[i] = s->ring + (size_t)slot * (size_t)s->neurons;
		s->win_n[i] = s->ring_n[slot];
		s->win_stim[i] = s->stim_nz[slot] ?
			s->stim_ring + (size_t)slot * (size_t)s->stim : NULL;
		if (++slot == s->window)
			slot = 0;
	}
	w->len = len;
	w->spk = s->win_spk;
	w->n = s->win_n;
	w->stim = s->win_stim;
}

/* y[o] += sum_i w[o][i] x[i] for a row-major out x in matrix: eight rows
 * at a time, each with a vector accumulator over the inputs (GCC vector
 * types: AVX2 here, SSE or scalar code elsewhere).  Inference runs on
 * real-time threads, so it takes no lock and allocates nothing: OpenBLAS's
 * sgemv takes its work buffer from an allocator shared with every other
 * BLAS caller (the online trainer) and maps new buffers with mmap, which
 * with locked memory faults tens of megabytes in. */
typedef float ncp_v8f __attribute__((vector_size(32)));

static inline ncp_v8f load8(const float *p)
{
	ncp_v8f v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline float hsum8(ncp_v8f v)
{
	return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

static void matvec_add(const float *w, int out, int in, const float *x,
		       float *y)
{
	const int in8 = in & ~7;
	int o = 0;

	for (; o + 4 <= out; o += 4) {
		const float *r0 = w + (size_t)o * (size_t)in, *r1 = r0 + in,
			    *r2 = r1 + in, *r3 = r2 + in;
		ncp_v8f a0 = { 0 }, a1 = { 0 }, a2 = { 0 }, a3 = { 0 };
		for (int i = 0; i < in8; i += 8) {
			ncp_v8f xv = load8(x + i);
			a0 += load8(r0 + i) * xv;
			a1 += load8(r1 + i) * xv;
			a2 += load8(r2 + i) * xv;
			a3 += load8(r3 + i) * xv;
		}
		float s0 = hsum8(a0), s1 = hsum8(a1), s2 = hsum8(a2), s3 = hsum8(a3);
		for (int i = in8; i < in; i++) {
			s0 += r0[i] * x[i];
			s1 += r1[i] * x[i];
			s2 += r2[i] * x[i];
			s3 += r3[i] * x[i];
		}
		y[o] += s0;
		y[o + 1] += s1;
		y[o + 2] += s2;
		y[o + 3] += s3;
	}
	for (; o < out; o++) {
		const float *r = w + (size_t)o * (size_t)in;
		ncp_v8f a = { 0 };
		for (int i = 0; i < in8; i += 8)
			a += load8(r + i) * load8(x + i);
		float sum = hsum8(a);
		for (int i = in8; i < in; i++)
			sum += r[i] * x[i];
		y[o] += sum;
	}
}

/* Rebuild acc from the features (after a model change): a pass over every
 * row of w0_col, about 0.8 M multiply-adds for the default mlp. */
static void acc_rebuild(struct ncp_emu_state *s)
{
	const struct ncp_emu_model *m = s->m;
	const int K = s->ntau, h = s->h0;
	struct ncp_feat_win w;

	if (m->feat.spec.mode == NCP_FEAT_RUNNING) {
		for (int j = 0; j < m->nfeat; j++)
			s->feat[j] = (float)s->run[j];
	} else {
		window_view(s, &w);
		ncp_feat_window(&m->feat, &w, s->feat);
	}
	/* acc_k = sum over the features j of tau k of f_j w0_col[j]. */
	memset(s->acc, 0, (size_t)K * (size_t)h * sizeof(double));
	for (int j = 0; j < m->nfeat; j++) {
		const double f = s->feat[j];
		if (f == 0.0)
			continue;
		const float *row = m->w0_col + (size_t)j * (size_t)h;
		double *a = s->acc + (size_t)(j % K) * (size_t)h;
		for (int u = 0; u < h; u++)
			a[u] += f * row[u];
	}
	s->acc_valid = true;
}

bool ncp_emu_state_ready(const struct ncp_emu_state *s)
{
	return s->m->w0_col == NULL || s->acc_valid;
}

void ncp_emu_state_prepare(struct ncp_emu_state *s)
{
	if (!ncp_emu_state_ready(s))
		acc_rebuild(s);
}

void ncp_emu_predict(struct ncp_emu_state *s, float *out)
{
	const struct ncp_emu_model *m = s->m;
	const float *x;
	float *y = s->h[0];
	int cur = 1, l0 = 1;

	if (m->w0_col) {
		/* First layer from the accumulators. */
		const int h = s->h0;
		ncp_emu_state_prepare(s);
		for (int u = 0; u < h; u++) {
			double z = m->bias0[u];
			for (int k = 0; k < s->ntau; k++)
				z += s->acc[(size_t)k * (size_t)h + u];
			y[u] = (float)z;
		}
		/* The arm inputs' columns (folded with their standardisation
		 * as the features'; an unknown value enters as its mean). */
		for (int a = 0; a < m->n_arm; a++) {
			const float *mu = m->in_mean + m->n_std;
			const float v = isfinite(s->arm_cur[a]) ? s->arm_cur[a] : mu[a];
			const float *col = m->w0_col + (size_t)(m->n_std + a) * (size_t)h;
			for (int u = 0; u < h; u++)
				y[u] += col[u] * v;
		}
	} else {
		/* dense: the standardised stimulation features, then the
		 * gather-add of the weight rows of the window's spikes at
		 * their positions (the newest at window - 1). */
		const struct ncp_emu_layer *ly = &m->layer[0];
		const int h = ly->out;
		struct ncp_feat_win w;
		window_view(s, &w);
		memcpy(y, ly->b, (size_t)h * sizeof(float));
		if (m->n_std) {
			struct ncp_feat_win ws = w;
			ws.n = s->zero_n;
			ncp_feat_window(&m->feat, &ws, s->feat);
			ncp_emu_standardise(m, s->feat, s->x);
			matvec_add(ly->w, h, ly->in, s->x, y);
		}
		/* The rows are scattered over the whole matrix: fetch a few
		 * rows ahead, so that their cache misses overlap. */
		const int p0 = s->window - w.len;
		const size_t hs = (size_t)h;
		for (int i = 0; i < w.len; i++) {
			const float *base = m->w0_spk +
				(size_t)(p0 + i) * (size_t)s->neurons * hs;
			const uint32_t *spk = w.spk[i];
			const int n = w.n[i];
			for (int j = 0; j < n; j++) {
				if (j + 4 < n) {
					const char *next = (const char *)(base + (size_t)spk[j + 4] * hs);
					for (size_t b = 0; b < hs * sizeof(float); b += 64)
						__builtin_prefetch(next + b);
				}
				const float *row = base + (size_t)spk[j] * hs;
				for (int u = 0; u < h; u++)
					y[u] += row[u];
			}
		}
	}
	if (m->nlayers > 1)
		for (int u = 0; u < m->layer[0].out; u++)
			y[u] = y[u] <= 0.0f ? 0.0f : y[u]; /* NaN stays NaN */
	x = y;
	for (int l = l0; l < m->nlayers; l++) {
		const struct ncp_emu_layer *ly = &m->layer[l];
		y = s->h[cur];
		memcpy(y, ly->b, (size_t)ly->out * sizeof(float));
		matvec_add(ly->w, ly->out, ly->in, x, y);
		if (l + 1 < m->nlayers)
			for (int u = 0; u < ly->out; u++)
				y[u] = y[u] <= 0.0f ? 0.0f : y[u];
		x = y;
		cur ^= 1;
	}
	float base[NCP_EMU_MAX_OUTPUTS];
	ncp_emu_output_base(m, s->arm_cur, base);
	for (int o = 0; o < m->nout; o++)
		out[o] = base[o] + (y[o] * m->out_scale[o] + m->out_mean[o]);
}

/* ---- Shared with the co-processor's model files (ncp_emu_int.h) -------- */

int ncp_emu_meta_int(const struct ncp_safetensors *st, const char *name,
		     const char *key, long lo, long hi, int *out, char *err,
		     size_t errlen)
{
	return meta_int(st, name, key, lo, hi, out, err, errlen);
}

const char *ncp_emu_meta_str(const struct ncp_safetensors *st,
			     const char *name, const char *key, char *err,
			     size_t errlen)
{
	return meta_str(st, name, key, err, errlen);
}

int ncp_emu_meta_numbers(const struct ncp_safetensors *st, const char *name,
			 const char *key, double *out, int max, int *n,
			 char *err, size_t errlen)
{
	return meta_numbers(st, name, key, out, max, n, err, errlen);
}

int ncp_emu_meta_double(const struct ncp_safetensors *st, const char *name,
			const char *key, double *out, char *err, size_t errlen)
{
	return meta_double(st, name, key, out, err, errlen);
}

int ncp_emu_get_tensor(const struct ncp_safetensors *st, const char *name,
		       const char *tname, int ndim, uint64_t d0, uint64_t d1,
		       float *dst, bool positive, char *err, size_t errlen)
{
	return get_tensor(st, name, tname, ndim, d0, d1, dst, positive, err,
			  errlen);
}

void ncp_emu_fmt_double(char *buf, size_t len, double x)
{
	fmt_double(buf, len, x);
}
