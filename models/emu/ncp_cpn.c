#include "models/emu/ncp_cpn.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_emu_int.h"
#include "models/io/ncp_json_doc.h"
#include "models/io/ncp_safetensors.h"

#define MAX_LAYERS (NCP_CPN_MAX_HIDDEN + 1)

struct cpn_layer {
	int in, out;
	float *w;		/* [out][in] */
	float *b;		/* [out] */
};

struct ncp_cpn_model {
	struct ncp_cpn_spec spec;
	int nin;		/* NCP_CPN_OBS(R) */
	float *in_mean, *in_scale, *in_inv;
	int nlayers;
	struct cpn_layer layer[MAX_LAYERS];
	float *p;		/* every weight and bias, contiguous */
	size_t np;
	int max_width;
	double d;		/* alpha's decay per step */
	char *config;
};

/* alpha's decay per step: decay per 10 ms, as ncp_stim computes it. */
static double step_decay(double decay, double dt)
{
	return pow(decay, dt / 0.01);
}

void ncp_cpn_spec_default(struct ncp_cpn_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->electrodes = 16;
	s->rec = 16;
	s->dt = 0.001;
	s->decay = 0.7;
	s->stim_max = 20;
	s->alpha_max = 10;
	s->nhidden = 0;
}

int ncp_cpn_spec_check(const struct ncp_cpn_spec *s, char *err, size_t errlen)
{
	if (s->electrodes < 1 || s->electrodes > NCP_CPN_MAX_ELECTRODES)
		return ncp_errf(err, errlen, "electrodes %d out of range (1 to %d)",
				s->electrodes, NCP_CPN_MAX_ELECTRODES);
	if (s->rec < 0 || s->rec > NCP_CPN_MAX_ELECTRODES)
		return ncp_errf(err, errlen, "rec_electrodes %d out of range (0 to %d)",
				s->rec, NCP_CPN_MAX_ELECTRODES);
	if (!(s->dt > 0 && s->dt <= 1))
		return ncp_errf(err, errlen, "dt %g out of range (0, 1] s", s->dt);
	if (!(s->decay > 0 && s->decay < 1))
		return ncp_errf(err, errlen, "decay %g out of range (0, 1)", s->decay);
	if (!(s->stim_max > 0 && s->stim_max <= 1e6))
		return ncp_errf(err, errlen, "stim_max %g out of range (0, 1e6]",
				s->stim_max);
	if (!(s->alpha_max > 0 && s->alpha_max <= s->stim_max))
		return ncp_errf(err, errlen, "alpha_max %g out of range (0, stim_max %g]",
				s->alpha_max, s->stim_max);
	if (s->nhidden < 0 || s->nhidden > NCP_CPN_MAX_HIDDEN)
		return ncp_errf(err, errlen, "%d hidden layers (at most %d)",
				s->nhidden, NCP_CPN_MAX_HIDDEN);
	for (int l = 0; l < s->nhidden; l++)
		if (s->hidden[l] < 1 || s->hidden[l] > NCP_CPN_MAX_UNITS)
			return ncp_errf(err, errlen, "hidden layer %d has %d units (1 to %d)",
					l, s->hidden[l], NCP_CPN_MAX_UNITS);
	return 0;
}

void ncp_cpn_model_free(struct ncp_cpn_model *m)
{
	if (!m)
		return;
	free(m->in_mean);
	free(m->in_scale);
	free(m->in_inv);
	free(m->p);
	free(m->config);
	free(m);
}

static struct ncp_cpn_model *model_alloc(const struct ncp_cpn_spec *s,
					 char *err, size_t errlen)
{
	struct ncp_cpn_model *m;
	int sizes[MAX_LAYERS + 1];
	size_t off = 0;

	if (ncp_cpn_spec_check(s, err, errlen))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		goto oom;
	m->spec = *s;
	m->nin = NCP_CPN_OBS(s->rec);
	m->nlayers = s->nhidden + 1;
	m->d = step_decay(s->decay, s->dt);
	sizes[0] = m->nin;
	for (int l = 0; l < s->nhidden; l++)
		sizes[l + 1] = s->hidden[l];
	sizes[m->nlayers] = s->electrodes;
	m->max_width = m->nin;
	for (int l = 0; l < m->nlayers; l++) {
		m->layer[l].in = sizes[l];
		m->layer[l].out = sizes[l + 1];
		m->np += (size_t)sizes[l] * sizes[l + 1] + sizes[l + 1];
		if (sizes[l + 1] > m->max_width)
			m->max_width = sizes[l + 1];
	}
	m->in_mean = calloc((size_t)m->nin, sizeof(float));
	m->in_scale = calloc((size_t)m->nin, sizeof(float));
	m->in_inv = calloc((size_t)m->nin, sizeof(float));
	m->p = calloc(m->np, sizeof(float));
	if (!m->in_mean || !m->in_scale || !m->in_inv || !m->p)
		goto oom;
	for (int l = 0; l < m->nlayers; l++) {
		struct cpn_layer *ly = &m->layer[l];
		ly->w = m->p + off;
		off += (size_t)ly->in * ly->out;
		ly->b = m->p + off;
		off += (size_t)ly->out;
	}
	for (int i = 0; i < m->nin; i++) {
		m->in_scale[i] = 1;
		m->in_inv[i] = 1;
	}
	return m;
oom:
	ncp_cpn_model_free(m);
	ncp_errf(err, errlen, "out of memory");
	return NULL;
}

static void refresh(struct ncp_cpn_model *m)
{
	for (int i = 0; i < m->nin; i++)
		m->in_inv[i] = 1.0f / m->in_scale[i];
}

struct ncp_cpn_model *ncp_cpn_model_new(const struct ncp_cpn_spec *s,
					uint64_t seed, char *err,
					size_t errlen)
{
	struct ncp_cpn_model *m = model_alloc(s, err, errlen);
	struct ncp_rng rng;

	if (!m)
		return NULL;
	ncp_rng_seed(&rng, ncp_rng_derive(seed, 0xc9a));
	for (int l = 0; l < m->nlayers; l++) {
		struct cpn_layer *ly = &m->layer[l];
		double lim = 1.0 / sqrt((double)ly->in);
		double gain = l == m->nlayers - 1 ? 0.01 : 1.0;
		for (size_t k = 0; k < (size_t)ly->in * ly->out; k++)
			ly->w[k] = (float)(gain * ncp_rng_range(&rng, -lim, lim));
		for (int k = 0; k < ly->out; k++)
			ly->b[k] = (float)(gain * ncp_rng_range(&rng, -lim, lim));
	}
	return m;
}

float *ncp_cpn_model_params(struct ncp_cpn_model *m, size_t *n)
{
	*n = m->np;
	return m->p;
}

void ncp_cpn_model_zero_output(struct ncp_cpn_model *m)
{
	struct cpn_layer *ly = &m->layer[m->nlayers - 1];
	memset(ly->w, 0, sizeof(float) * (size_t)ly->in * ly->out);
	memset(ly->b, 0, sizeof(float) * (size_t)ly->out);
}

struct ncp_cpn_model *ncp_cpn_model_clone(const struct ncp_cpn_model *src)
{
	char err[64];
	struct ncp_cpn_model *m = model_alloc(&src->spec, err, sizeof(err));

	if (!m)
		return NULL;
	if (ncp_cpn_model_copy(m, src) ||
	    (src->config && ncp_cpn_model_set_config(m, src->config))) {
		ncp_cpn_model_free(m);
		return NULL;
	}
	return m;
}

static bool same_spec(const struct ncp_cpn_spec *a, const struct ncp_cpn_spec *b)
{
	if (a->electrodes != b->electrodes || a->rec != b->rec ||
	    a->dt != b->dt || a->decay != b->decay ||
	    a->stim_max != b->stim_max || a->alpha_max != b->alpha_max ||
	    a->nhidden != b->nhidden)
		return false;
	for (int l = 0; l < a->nhidden; l++)
		if (a->hidden[l] != b->hidden[l])
			return false;
	return true;
}

int ncp_cpn_model_copy(struct ncp_cpn_model *dst,
		       const struct ncp_cpn_model *src)
{
	if (!same_spec(&dst->spec, &src->spec))
		return -EINVAL;
	memcpy(dst->in_mean, src->in_mean, (size_t)src->nin * sizeof(float));
	memcpy(dst->in_scale, src->in_scale, (size_t)src->nin * sizeof(float));
	memcpy(dst->in_inv, src->in_inv, (size_t)src->nin * sizeof(float));
	memcpy(dst->p, src->p, src->np * sizeof(float));
	return 0;
}

const struct ncp_cpn_spec *ncp_cpn_model_spec(const struct ncp_cpn_model *m)
{
	return &m->spec;
}

bool ncp_cpn_model_equal(const struct ncp_cpn_model *a,
			 const struct ncp_cpn_model *b)
{
	return same_spec(&a->spec, &b->spec) &&
	       !memcmp(a->in_mean, b->in_mean, (size_t)a->nin * sizeof(float)) &&
	       !memcmp(a->in_scale, b->in_scale, (size_t)a->nin * sizeof(float)) &&
	       !memcmp(a->p, b->p, a->np * sizeof(float));
}

bool ncp_cpn_model_finite(const struct ncp_cpn_model *m)
{
	for (size_t k = 0; k < m->np; k++)
		if (!isfinite(m->p[k]))
			return false;
	for (int i = 0; i < m->nin; i++)
		if (!isfinite(m->in_mean[i]) || !(m->in_scale[i] > 0) ||
		    !isfinite(m->in_scale[i]))
			return false;
	return true;
}

bool ncp_cpn_model_has_norm(const struct ncp_cpn_model *m)
{
	for (int i = 0; i < m->nin; i++)
		if (m->in_mean[i] != 0.0f || m->in_scale[i] != 1.0f)
			return true;
	return false;
}

int ncp_cpn_model_set_config(struct ncp_cpn_model *m, const char *json)
{
	char *c = NULL;

	if (json) {
		char e[128];
		json_t *root = ncp_json_doc_parse(json, strlen(json), NULL, NULL,
						  e, sizeof(e));
		bool obj = root && json_is_object(root);
		json_decref(root);
		if (!obj)
			return -EINVAL;
		c = strdup(json);
		if (!c)
			return -ENOMEM;
	}
	free(m->config);
	m->config = c;
	return 0;
}

const char *ncp_cpn_model_config(const struct ncp_cpn_model *m)
{
	return m->config;
}

/* ---- Files --------------------------------------------------------------- */

static void layer_names(int l, char *w, char *b, size_t len)
{
	snprintf(w, len, "layers.%d.weight", 2 * l);
	snprintf(b, len, "layers.%d.bias", 2 * l);
}

static int write_file(const struct ncp_cpn_model *m, const char *path,
		      char *err, size_t errlen)
{
	struct ncp_safetensors_tensor t[2 + 2 * MAX_LAYERS];
	struct ncp_safetensors_meta meta[16];
	char names[2 * MAX_LAYERS][32], s_e[16], s_r[16], s_nin[16], s_dt[32],
		s_decay[32], s_smax[32], s_amax[32], s_hidden[96];
	size_t n = 0, nm = 0;
	int k, r;

	memset(t, 0, sizeof(t));
#define TENSOR(nm_, p_, nd_, d0_, d1_)                    \
	do {                                              \
		t[n].name = (nm_);                        \
		t[n].dtype = NCP_SAFETENSORS_F32;         \
		t[n].ndim = (nd_);                        \
		t[n].shape[0] = (uint64_t)(d0_);          \
		t[n].shape[1] = (uint64_t)(d1_);          \
		t[n].data = (p_);                         \
		n++;                                      \
	} while (0)
	TENSOR("in_mean", m->in_mean, 1, m->nin, 0);
	TENSOR("in_scale", m->in_scale, 1, m->nin, 0);
	for (int l = 0; l < m->nlayers; l++) {
		layer_names(l, names[2 * l], names[2 * l + 1], sizeof(names[0]));
		TENSOR(names[2 * l], m->layer[l].w, 2, m->layer[l].out, m->layer[l].in);
		TENSOR(names[2 * l + 1], m->layer[l].b, 1, m->layer[l].out, 0);
	}
#undef TENSOR
	snprintf(s_e, sizeof(s_e), "%d", m->spec.electrodes);
	snprintf(s_r, sizeof(s_r), "%d", m->spec.rec);
	snprintf(s_nin, sizeof(s_nin), "%d", m->nin);
	ncp_emu_fmt_double(s_dt, sizeof(s_dt), m->spec.dt);
	ncp_emu_fmt_double(s_decay, sizeof(s_decay), m->spec.decay);
	ncp_emu_fmt_double(s_smax, sizeof(s_smax), m->spec.stim_max);
	ncp_emu_fmt_double(s_amax, sizeof(s_amax), m->spec.alpha_max);
	k = snprintf(s_hidden, sizeof(s_hidden), "[");
	for (int l = 0; l < m->spec.nhidden; l++)
		k += snprintf(s_hidden + k, sizeof(s_hidden) - (size_t)k, "%s%d",
			      l ? ", " : "", m->spec.hidden[l]);
	snprintf(s_hidden + k, sizeof(s_hidden) - (size_t)k, "]");
#define META(k_, v_) (meta[nm].key = (k_), meta[nm].value = (v_), nm++)
	META("format", NCP_CPN_FORMAT);
	META("format_version", "1");
	META("electrodes", s_e);
	META("rec_electrodes", s_r);
	META("n_in", s_nin);
	META("inputs", "rec,arm");
	META("dt", s_dt);
	META("decay", s_decay);
	META("stim_max", s_smax);
	META("alpha_max", s_amax);
	META("hidden", s_hidden);
	if (m->config)
		META("config", m->config);
#undef META
	r = ncp_safetensors_write(path, t, n, meta, nm);
	if (r)
		ncp_errf(err, errlen, "cannot write %s: %s", path, ncp_strerror(r));
	return r;
}

int ncp_cpn_model_save(const struct ncp_cpn_model *m, const char *path,
		       char *err, size_t errlen)
{
	struct ncp_cpn_model *back;
	int r;

	if (!ncp_cpn_model_finite(m))
		return ncp_errf(err, errlen, "%s: not written: the co-processor has a non-finite weight",
				path);
	r = write_file(m, path, err, errlen);
	if (r)
		return r;
	back = ncp_cpn_model_load(path, NULL, err, errlen);
	if (!back)
		return -EIO;
	r = ncp_cpn_model_equal(m, back) ? 0 : -EIO;
	ncp_cpn_model_free(back);
	if (r)
		ncp_errf(err, errlen, "%s: read back differs from what was written", path);
	return r;
}

int ncp_cpn_model_check(const struct ncp_cpn_model *m,
			const struct ncp_cpn_expect *ex, char *err,
			size_t errlen)
{
	if (!ex)
		return 0;
	if (m->spec.electrodes != ex->electrodes)
		return ncp_errf(err, errlen,
				"made for %d stimulation electrodes, this ncpd has %d (stim.electrodes)",
				m->spec.electrodes, ex->electrodes);
	if (m->spec.rec != ex->rec)
		return ncp_errf(err, errlen,
				"made for %d recording electrodes, this ncpd has %d (ncp.rec_electrodes)",
				m->spec.rec, ex->rec);
	if (fabs(m->spec.dt - ex->dt) > 1e-12 * ex->dt)
		return ncp_errf(err, errlen, "made for dt %g s, this ncpd steps %g s",
				m->spec.dt, ex->dt);
	if (m->spec.alpha_max > ex->stim_max)
		return ncp_errf(err, errlen,
				"alpha_max %g is beyond this ncpd's stim.max %g",
				m->spec.alpha_max, ex->stim_max);
	if (m->spec.stim_max != ex->stim_max)
		return ncp_errf(err, errlen, "made for stim.max %g, this ncpd has %g",
				m->spec.stim_max, ex->stim_max);
	return 0;
}

static struct ncp_cpn_model *model_from(const struct ncp_safetensors *st,
					const char *name,
					const struct ncp_cpn_expect *ex,
					char *err, size_t errlen)
{
	struct ncp_cpn_spec s;
	struct ncp_cpn_model *m = NULL;
	const char *v;
	double hidden[NCP_CPN_MAX_HIDDEN + 1];
	int n, nin, nh;
	char e[256], q[64];

	memset(&s, 0, sizeof(s));
	v = ncp_emu_meta_str(st, name, "format", err, errlen);
	if (!v)
		return NULL;
	if (strcmp(v, NCP_CPN_FORMAT)) {
		ncp_json_quote(q, sizeof(q), v, strlen(v));
		ncp_errf(err, errlen, "%s: metadata \"format\" is %s, not \"%s\": not an ncpd co-processor model",
			 name, q, NCP_CPN_FORMAT);
		return NULL;
	}
	if (ncp_emu_meta_int(st, name, "format_version", 0, INT32_MAX, &n, err, errlen))
		return NULL;
	if (n != NCP_CPN_FORMAT_VERSION) {
		ncp_errf(err, errlen, "%s: format_version %d is not supported (this ncpd reads %d)",
			 name, n, NCP_CPN_FORMAT_VERSION);
		return NULL;
	}
	if (ncp_emu_meta_int(st, name, "electrodes", 1, NCP_CPN_MAX_ELECTRODES,
			     &s.electrodes, err, errlen) ||
	    ncp_emu_meta_int(st, name, "rec_electrodes", 0, NCP_CPN_MAX_ELECTRODES,
			     &s.rec, err, errlen) ||
	    ncp_emu_meta_int(st, name, "n_in", 0, INT32_MAX, &nin, err, errlen) ||
	    ncp_emu_meta_double(st, name, "dt", &s.dt, err, errlen) ||
	    ncp_emu_meta_double(st, name, "decay", &s.decay, err, errlen) ||
	    ncp_emu_meta_double(st, name, "stim_max", &s.stim_max, err, errlen) ||
	    ncp_emu_meta_double(st, name, "alpha_max", &s.alpha_max, err, errlen) ||
	    ncp_emu_meta_numbers(st, name, "hidden", hidden, NCP_CPN_MAX_HIDDEN,
				 &nh, err, errlen))
		return NULL;
	v = ncp_emu_meta_str(st, name, "inputs", err, errlen);
	if (!v)
		return NULL;
	if (strcmp(v, "rec,arm")) {
		ncp_json_quote(q, sizeof(q), v, strlen(v));
		ncp_errf(err, errlen, "%s: metadata \"inputs\" is %s; this ncpd knows \"rec,arm\"",
			 name, q);
		return NULL;
	}
	s.nhidden = nh;
	for (int l = 0; l < nh; l++) {
		if (hidden[l] != floor(hidden[l]) || hidden[l] < 1 ||
		    hidden[l] > NCP_CPN_MAX_UNITS) {
			ncp_errf(err, errlen, "%s: metadata \"hidden\": layer %d has %g units (1 to %d)",
				 name, l, hidden[l], NCP_CPN_MAX_UNITS);
			return NULL;
		}
		s.hidden[l] = (int)hidden[l];
	}
	if (ncp_cpn_spec_check(&s, e, sizeof(e))) {
		ncp_errf(err, errlen, "%s: %s", name, e);
		return NULL;
	}
	if (nin != NCP_CPN_OBS(s.rec)) {
		ncp_errf(err, errlen, "%s: metadata \"n_in\" is %d, rec_electrodes %d + 6 arm-state inputs make %d",
			 name, nin, s.rec, NCP_CPN_OBS(s.rec));
		return NULL;
	}
	m = model_alloc(&s, err, errlen);
	if (!m)
		return NULL;
	if (ncp_emu_get_tensor(st, name, "in_mean", 1, (uint64_t)m->nin, 0,
			       m->in_mean, false, err, errlen) ||
	    ncp_emu_get_tensor(st, name, "in_scale", 1, (uint64_t)m->nin, 0,
			       m->in_scale, true, err, errlen))
		goto fail;
	for (int l = 0; l < m->nlayers; l++) {
		char wn[32], bn[32];
		layer_names(l, wn, bn, sizeof(wn));
		if (ncp_emu_get_tensor(st, name, wn, 2, (uint64_t)m->layer[l].out,
				       (uint64_t)m->layer[l].in, m->layer[l].w,
				       false, err, errlen) ||
		    ncp_emu_get_tensor(st, name, bn, 1, (uint64_t)m->layer[l].out,
				       0, m->layer[l].b, false, err, errlen))
			goto fail;
	}
	if (ncp_safetensors_count(st) != (size_t)(2 + 2 * m->nlayers)) {
		for (size_t i = 0; i < ncp_safetensors_count(st); i++) {
			const char *tn = ncp_safetensors_at(st, i)->name;
			bool known = !strcmp(tn, "in_mean") || !strcmp(tn, "in_scale");
			for (int l = 0; l < m->nlayers && !known; l++) {
				char wn[32], bn[32];
				layer_names(l, wn, bn, sizeof(wn));
				known = !strcmp(tn, wn) || !strcmp(tn, bn);
			}
			if (!known) {
				ncp_json_quote(q, sizeof(q), tn, strlen(tn));
				ncp_errf(err, errlen, "%s: tensor %s is not part of this architecture",
					 name, q);
				goto fail;
			}
		}
	}
	refresh(m);
	v = ncp_safetensors_meta_get(st, "config");
	if (v && ncp_cpn_model_set_config(m, v)) {
		ncp_errf(err, errlen, "%s: metadata \"config\" is not a JSON object", name);
		goto fail;
	}
	if (ex && ncp_cpn_model_check(m, ex, e, sizeof(e))) {
		ncp_errf(err, errlen, "%s: %s", name, e);
		goto fail;
	}
	return m;
fail:
	ncp_cpn_model_free(m);
	return NULL;
}

struct ncp_cpn_model *ncp_cpn_model_load(const char *path,
					 const struct ncp_cpn_expect *ex,
					 char *err, size_t errlen)
{
	struct ncp_safetensors *st = ncp_safetensors_load(path, err, errlen);
	struct ncp_cpn_model *m;

	if (!st)
		return NULL;
	m = model_from(st, path, ex, err, errlen);
	ncp_safetensors_free(st);
	return m;
}

struct ncp_cpn_model *ncp_cpn_model_parse(const void *buf, size_t len,
					  const char *name,
					  const struct ncp_cpn_expect *ex,
					  char *err, size_t errlen)
{
	struct ncp_safetensors *st = ncp_safetensors_parse(buf, len, name, err,
							   errlen);
	struct ncp_cpn_model *m;

	if (!st)
		return NULL;
	m = model_from(st, name, ex, err, errlen);
	ncp_safetensors_free(st);
	return m;
}

/* ---- Forward ------------------------------------------------------------- */

/* The standardised observation (a non-finite entry as its mean). */
static void standardise(const struct ncp_cpn_model *m, const float *obs,
			float *z)
{
	for (int i = 0; i < m->nin; i++) {
		float v = (obs[i] - m->in_mean[i]) * m->in_inv[i];
		z[i] = isfinite(v) ? v : 0.0f;
	}
}

/* The layers from z; acts[l] receives layer l's output (after ReLU for
 * the hidden ones), acts[nlayers - 1] = v.  acts[l] has layer[l].out. */
static void layers_forward(const struct ncp_cpn_model *m, const float *z,
			   float *const *acts)
{
	const float *x = z;
	for (int l = 0; l < m->nlayers; l++) {
		const struct cpn_layer *ly = &m->layer[l];
		float *y = acts[l];
		for (int o = 0; o < ly->out; o++) {
			const float *w = ly->w + (size_t)o * ly->in;
			float a = ly->b[o];
			for (int i = 0; i < ly->in; i++)
				a += w[i] * x[i];
			y[o] = l < m->nlayers - 1 && a < 0 ? 0.0f : a;
		}
		x = y;
	}
}

struct ncp_cpn_state {
	const struct ncp_cpn_model *m;
	float *z;
	float *acts[MAX_LAYERS];
	float *alpha, *target;
};

struct ncp_cpn_state *ncp_cpn_state_new(const struct ncp_cpn_model *m)
{
	struct ncp_cpn_state *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->m = m;
	s->z = calloc((size_t)m->nin, sizeof(float));
	s->alpha = calloc((size_t)m->spec.electrodes, sizeof(float));
	s->target = calloc((size_t)m->spec.electrodes, sizeof(float));
	bool ok = s->z && s->alpha && s->target;
	for (int l = 0; l < MAX_LAYERS; l++) {
		s->acts[l] = calloc((size_t)m->max_width, sizeof(float));
		ok = ok && s->acts[l];
	}
	if (!ok) {
		ncp_cpn_state_free(s);
		return NULL;
	}
	return s;
}

void ncp_cpn_state_free(struct ncp_cpn_state *s)
{
	if (!s)
		return;
	free(s->z);
	free(s->alpha);
	free(s->target);
	for (int l = 0; l < MAX_LAYERS; l++)
		free(s->acts[l]);
	free(s);
}

void ncp_cpn_state_reset(struct ncp_cpn_state *s)
{
	memset(s->alpha, 0, (size_t)s->m->spec.electrodes * sizeof(float));
	memset(s->target, 0, (size_t)s->m->spec.electrodes * sizeof(float));
}

int ncp_cpn_state_set_model(struct ncp_cpn_state *s,
			    const struct ncp_cpn_model *m)
{
	if (!same_spec(&s->m->spec, &m->spec))
		return -EINVAL;
	s->m = m;
	return 0;
}

void ncp_cpn_state_set_alpha(struct ncp_cpn_state *s, const float *alpha)
{
	memcpy(s->alpha, alpha, (size_t)s->m->spec.electrodes * sizeof(float));
}

static float clampf(float x, float lim)
{
	return x > lim ? lim : x < -lim ? -lim : x;
}

void ncp_cpn_state_step(struct ncp_cpn_state *s, const float *obs,
			float *theta)
{
	const struct ncp_cpn_model *m = s->m;
	const float *v = s->acts[m->nlayers - 1];
	const float smax = (float)m->spec.stim_max, d = (float)m->d;
	const float amax = (float)m->spec.alpha_max;

	standardise(m, obs, s->z);
	layers_forward(m, s->z, s->acts);
	for (int e = 0; e < m->spec.electrodes; e++) {
		float a = amax * tanhf(v[e]);
		float th = clampf(a - d * s->alpha[e], smax);
		s->target[e] = a;
		theta[e] = th;
		s->alpha[e] = clampf(d * s->alpha[e] + th, smax);
	}
}

const float *ncp_cpn_state_target(const struct ncp_cpn_state *s)
{
	return s->target;
}

/* ---- Data ----------------------------------------------------------------- */

int ncp_cpn_data_init_feat(struct ncp_cpn_data *d, int R, int E, int F,
			   size_t cap)
{
	memset(d, 0, sizeof(*d));
	d->R = R;
	d->E = E;
	d->F = F;
	d->cap = cap;
	d->obs = calloc(cap * (size_t)NCP_CPN_OBS(R), sizeof(float));
	d->alpha = calloc(cap * (size_t)E, sizeof(float));
	d->target = calloc(cap * 2, sizeof(float));
	d->future = calloc(cap * 6, sizeof(float));
	d->src = calloc(cap, 1);
	d->feat = F > 0 ? calloc(cap * (size_t)F, sizeof(float)) : NULL;
	if (!d->obs || !d->alpha || !d->target || !d->future || !d->src ||
	    (F > 0 && !d->feat)) {
		ncp_cpn_data_fini(d);
		return -ENOMEM;
	}
	return 0;
}

int ncp_cpn_data_init(struct ncp_cpn_data *d, int R, int E, size_t cap)
{
	return ncp_cpn_data_init_feat(d, R, E, 0, cap);
}

void ncp_cpn_data_fini(struct ncp_cpn_data *d)
{
	free(d->obs);
	free(d->alpha);
	free(d->target);
	free(d->future);
	free(d->src);
	free(d->feat);
	memset(d, 0, sizeof(*d));
}

void ncp_cpn_data_add_feat(struct ncp_cpn_data *d, const float *obs,
			   const float *feat, const float *alpha,
			   const float target[2], const float future[6],
			   int src)
{
	size_t no = (size_t)NCP_CPN_OBS(d->R), E = (size_t)d->E, F = (size_t)d->F;

	if (!d->cap)
		return;
	if (d->n == d->cap) {	/* drop the oldest */
		size_t k = d->cap / 8 ? d->cap / 8 : 1;
		memmove(d->obs, d->obs + k * no, (d->n - k) * no * sizeof(float));
		memmove(d->alpha, d->alpha + k * E, (d->n - k) * E * sizeof(float));
		memmove(d->target, d->target + k * 2, (d->n - k) * 2 * sizeof(float));
		memmove(d->future, d->future + k * 6, (d->n - k) * 6 * sizeof(float));
		memmove(d->src, d->src + k, d->n - k);
		if (F)
			memmove(d->feat, d->feat + k * F, (d->n - k) * F * sizeof(float));
		d->n -= k;
	}
	memcpy(d->obs + d->n * no, obs, no * sizeof(float));
	memcpy(d->alpha + d->n * E, alpha, E * sizeof(float));
	memcpy(d->target + d->n * 2, target, 2 * sizeof(float));
	memcpy(d->future + d->n * 6, future, 6 * sizeof(float));
	d->src[d->n] = (uint8_t)src;
	if (F && feat)
		memcpy(d->feat + d->n * F, feat, F * sizeof(float));
	else if (F)
		memset(d->feat + d->n * F, 0, F * sizeof(float));
	d->n++;
	d->added++;
}

void ncp_cpn_data_add(struct ncp_cpn_data *d, const float *obs,
		      const float *alpha, const float target[2],
		      const float future[6], int src)
{
	ncp_cpn_data_add_feat(d, obs, NULL, alpha, target, future, src);
}

/* The reference's regressors of sample i (NCP_CPN_REF_X): x_des, dq,
 * x_des |x_des|, q, 1. */
#define NX NCP_CPN_REF_X
static void ref_x(const struct ncp_cpn_data *d, size_t i, double x[NX])
{
	const float *o = d->obs + i * (size_t)NCP_CPN_OBS(d->R) + d->R;
	const float *t = d->target + 2 * i;
	double e0 = t[0] - o[4], e1 = t[1] - o[5], n = hypot(e0, e1);
	x[0] = e0;
	x[1] = e1;
	x[2] = o[2];
	x[3] = o[3];
	x[4] = e0 * n;
	x[5] = e1 * n;
	x[6] = o[0];
	x[7] = o[1];
	x[8] = 1;
}

/* Solve the symmetric positive definite n x n system a x = b in place
 * (Gaussian elimination with partial pivoting); -EDOM when singular. */
static int solve(double *a, double *b, int n)
{
	for (int c = 0; c < n; c++) {
		int p = c;
		for (int r = c + 1; r < n; r++)
			if (fabs(a[r * n + c]) > fabs(a[p * n + c]))
				p = r;
		if (fabs(a[p * n + c]) < 1e-300)
			return -EDOM;
		if (p != c) {
			for (int k = 0; k < n; k++) {
				double t = a[c * n + k];
				a[c * n + k] = a[p * n + k];
				a[p * n + k] = t;
			}
			double t = b[c];
			b[c] = b[p];
			b[p] = t;
		}
		for (int r = c + 1; r < n; r++) {
			double f = a[r * n + c] / a[c * n + c];
			for (int k = c; k < n; k++)
				a[r * n + k] -= f * a[c * n + k];
			b[r] -= f * b[c];
		}
	}
	for (int c = n - 1; c >= 0; c--) {
		for (int k = c + 1; k < n; k++)
			b[c] -= a[c * n + k] * b[k];
		b[c] /= a[c * n + c];
	}
	return 0;
}

int ncp_cpn_ref_fit(struct ncp_cpn_ref *ref, const struct ncp_cpn_data *d)
{
	double xtx[NX * NX] = { 0 }, xty[2][NX] = { { 0 } }, yy[2] = { 0 }, ys[2] = { 0 };
	size_t no = (size_t)NCP_CPN_OBS(d->R);

	memset(ref, 0, sizeof(*ref));
	if (d->n < 10)
		return -EINVAL;
	for (size_t i = 0; i < d->n; i++) {
		double x[NX], y[2];
		const float *o = d->obs + i * no + d->R;
		ref_x(d, i, x);
		y[0] = d->future[6 * i + 4] - o[4];
		y[1] = d->future[6 * i + 5] - o[5];
		for (int a = 0; a < NX; a++) {
			for (int b = 0; b < NX; b++)
				xtx[a * NX + b] += x[a] * x[b];
			for (int k = 0; k < 2; k++)
				xty[k][a] += x[a] * y[k];
		}
		for (int k = 0; k < 2; k++) {
			yy[k] += y[k] * y[k];
			ys[k] += y[k];
		}
	}
	for (int k = 0; k < 2; k++) {
		double a[NX * NX];
		memcpy(a, xtx, sizeof(a));
		for (int j = 0; j < NX - 1; j++)
			a[j * NX + j] += 1e-9 * d->n;
		if (solve(a, xty[k], NX))
			return -EDOM;
		memcpy(ref->A[k], xty[k], sizeof(ref->A[k]));
	}
	double sse = 0, sst = 0;
	for (size_t i = 0; i < d->n; i++) {
		double x[NX];
		const float *o = d->obs + i * no + d->R;
		ref_x(d, i, x);
		for (int k = 0; k < 2; k++) {
			double p = 0, y = d->future[6 * i + 4 + k] - o[4 + k];
			for (int a = 0; a < NX; a++)
				p += ref->A[k][a] * x[a];
			sse += (p - y) * (p - y);
			sst += (y - ys[k] / d->n) * (y - ys[k] / d->n);
		}
	}
	ref->r2 = sst > 0 ? 1 - sse / sst : 0;
	return 0;
}

/* The reference displacement for sample i. */
static void ref_disp(const struct ncp_cpn_ref *ref,
		     const struct ncp_cpn_data *d, size_t i, double out[2])
{
	double x[NX];
	ref_x(d, i, x);
	for (int k = 0; k < 2; k++) {
		out[k] = 0;
		for (int a = 0; a < NX; a++)
			out[k] += ref->A[k][a] * x[a];
	}
}

void ncp_cpn_ref_hand(const struct ncp_cpn_ref *ref,
		      const struct ncp_cpn_data *d, size_t i, float out[2])
{
	const float *o = d->obs + i * (size_t)NCP_CPN_OBS(d->R) + d->R;
	double dd[2];
	ref_disp(ref, d, i, dd);
	out[0] = (float)(o[4] + dd[0]);
	out[1] = (float)(o[5] + dd[1]);
}

/* ---- Adam ----------------------------------------------------------------- */

struct adam {
	float *m, *v;
	size_t n;
	uint64_t t;
};

static int adam_init(struct adam *a, size_t n)
{
	a->n = n;
	a->t = 0;
	a->m = calloc(n, sizeof(float));
	a->v = calloc(n, sizeof(float));
	return a->m && a->v ? 0 : -ENOMEM;
}

static void adam_fini(struct adam *a)
{
	free(a->m);
	free(a->v);
}

/* One Adam step on w with gradient g; decay[k] says whether w[k] is a
 * weight (decayed) or a bias (NULL: all decayed). */
static void adam_step(struct adam *a, float *w, const float *g,
		      const uint8_t *decay, double lr, double wd)
{
	const double b1 = 0.9, b2 = 0.999;
	a->t++;
	const double bc1 = 1 - pow(b1, (double)a->t), bc2 = 1 - pow(b2, (double)a->t);
	const float step = (float)(lr / bc1), rbc2 = (float)(1 / sqrt(bc2));
	for (size_t k = 0; k < a->n; k++) {
		float gk = g[k] + (!decay || decay[k] ? (float)wd * w[k] : 0.0f);
		a->m[k] = 0.9f * a->m[k] + 0.1f * gk;
		a->v[k] = 0.999f * a->v[k] + 0.001f * gk * gk;
		w[k] -= step * a->m[k] / (sqrtf(a->v[k]) * rbc2 + 1e-8f);
	}
}

static bool all_finite(const float *x, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!isfinite(x[k]))
			return false;
	return true;
}

/* ---- Trainer -------------------------------------------------------------- */

void ncp_cpn_train_opts_default(struct ncp_cpn_train_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->horizon = 100;
	o->en_hidden = 64;
	o->en_lr = 2e-3;
	o->cpn_lr = 2e-3;
	o->en_weight_decay = 1e-4;
	o->cpn_weight_decay = 0;
	o->batch = 256;
	o->en_epochs = 20;
	o->en_loss_max = 1e-4;	/* m^2 */
	o->en_loss_rise = 2.0;
	o->rise_count = 15;
	o->rise_window = 30;
	o->max_cpn_epochs = 100;
	o->seed = 1;
}

#define HIST 64

struct ncp_cpn_trainer {
	struct ncp_cpn_train_opts o;
	struct ncp_cpn_model *cpn, *cpn_back, *cpn_avg;
	bool avg_started;
	struct adam cpn_adam;
	float *cpn_g;
	uint8_t *cpn_decay;
	int nin, E, F;
	/* EN: x = [z (nin), standardised features (F), alpha / stim_max (E)]
	 * -> tanh(W1 x + b1) (h) -> W2 h + b2 (2), the standardised hand
	 * displacement at H. */
	int en_in, en_h;
	float *feat_mean, *feat_inv;	/* F */
	size_t en_np;
	/* en_k ENs (an ensemble), en_np parameters each in en_all; en_p is
	 * the member the EN functions below use (en_all's first but while
	 * one is trained or run). */
	int en_k;
	float *en_all, *en_p, *en_back, *en_g;	/* W1, b1, W2, b2 */
	float *en_hk;			/* en_k x en_h: each member's h */
	struct adam *en_adams;		/* en_k */
	uint8_t *en_decay;
	float en_mean[2], en_scale[2];
	bool normed;
	struct ncp_cpn_ref ref;
	/* Expiry. */
	double hist[HIST];
	int nhist, since_en;
	double en_best;
	uint64_t cpn_epochs, en_trainings;
	struct ncp_rng rng;
	/* Scratch for one sample. */
	float *z, *x, *h, *dh, *dx, *dxk, *dz_acts[MAX_LAYERS], *acts[MAX_LAYERS];
	size_t *order;
	size_t order_cap;
};

#define EN_W1(t) ((t)->en_p)
#define EN_B1(t) ((t)->en_p + (size_t)(t)->en_h * (t)->en_in)
#define EN_W2(t) (EN_B1(t) + (t)->en_h)
#define EN_B2(t) (EN_W2(t) + 2 * (size_t)(t)->en_h)

void ncp_cpn_trainer_free(struct ncp_cpn_trainer *t)
{
	if (!t)
		return;
	ncp_cpn_model_free(t->cpn);
	ncp_cpn_model_free(t->cpn_back);
	ncp_cpn_model_free(t->cpn_avg);
	adam_fini(&t->cpn_adam);
	for (int k = 0; t->en_adams && k < t->en_k; k++)
		adam_fini(&t->en_adams[k]);
	free(t->en_adams);
	free(t->en_hk);
	free(t->cpn_g);
	free(t->cpn_decay);
	free(t->en_all);
	free(t->en_back);
	free(t->en_g);
	free(t->en_decay);
	free(t->feat_mean);
	free(t->feat_inv);
	free(t->z);
	free(t->x);
	free(t->h);
	free(t->dh);
	free(t->dx);
	free(t->dxk);
	for (int l = 0; l < MAX_LAYERS; l++) {
		free(t->acts[l]);
		free(t->dz_acts[l]);
	}
	free(t->order);
	free(t);
}

struct ncp_cpn_trainer *ncp_cpn_trainer_new(const struct ncp_cpn_model *init,
					    const struct ncp_cpn_train_opts *o,
					    char *err, size_t errlen)
{
	struct ncp_cpn_trainer *t = calloc(1, sizeof(*t));
	bool ok;

	if (!t)
		goto oom;
	if (!(o->cpn_average >= 0 && o->cpn_average < 1) ||
	    o->horizon < 1 || o->en_hidden < 1 || o->en_hidden > NCP_CPN_MAX_UNITS ||
	    o->batch < 1 || o->en_epochs < 1 || o->rise_window < 1 ||
	    o->rise_window > HIST || o->max_cpn_epochs < 1 || o->en_feat < 0 ||
	    o->en_feat > NCP_CPN_MAX_UNITS || o->en_ensemble < 0 ||
	    o->en_ensemble > NCP_CPN_MAX_ENSEMBLE || !(o->en_disagree >= 0)) {
		free(t);
		ncp_errf(err, errlen, "co-processor training options out of range");
		return NULL;
	}
	t->o = *o;
	t->cpn = ncp_cpn_model_clone(init);
	t->cpn_back = ncp_cpn_model_clone(init);
	t->cpn_avg = ncp_cpn_model_clone(init);
	if (!t->cpn || !t->cpn_back || !t->cpn_avg)
		goto oom;
	t->nin = t->cpn->nin;
	t->E = t->cpn->spec.electrodes;
	t->F = o->en_feat;
	t->en_in = t->nin + t->F + t->E;
	t->feat_mean = calloc((size_t)t->F + 1, sizeof(float));
	t->feat_inv = calloc((size_t)t->F + 1, sizeof(float));
	t->en_h = o->en_hidden;
	t->en_np = (size_t)t->en_h * t->en_in + t->en_h + 2 * (size_t)t->en_h + 2;
	t->en_k = o->en_ensemble > 1 ? o->en_ensemble : 1;
	t->en_all = calloc(t->en_np * (size_t)t->en_k, sizeof(float));
	t->en_p = t->en_all;
	t->en_back = calloc(t->en_np * (size_t)t->en_k, sizeof(float));
	t->en_hk = calloc((size_t)t->en_h * t->en_k, sizeof(float));
	t->en_adams = calloc((size_t)t->en_k, sizeof(*t->en_adams));
	t->en_g = calloc(t->en_np, sizeof(float));
	t->en_decay = calloc(t->en_np, 1);
	t->cpn_g = calloc(t->cpn->np, sizeof(float));
	t->cpn_decay = calloc(t->cpn->np, 1);
	int w = t->cpn->max_width > t->en_in ? t->cpn->max_width : t->en_in;
	if (t->en_h > w)
		w = t->en_h;
	t->z = calloc((size_t)w, sizeof(float));
	t->x = calloc((size_t)w, sizeof(float));
	t->h = calloc((size_t)w, sizeof(float));
	t->dh = calloc((size_t)w, sizeof(float));
	t->dx = calloc((size_t)w, sizeof(float));
	t->dxk = calloc((size_t)w, sizeof(float));
	ok = t->feat_mean && t->feat_inv && t->en_all && t->en_hk && t->en_adams && t->en_back && t->en_g && t->en_decay && t->cpn_g &&
	     t->cpn_decay && t->z && t->x && t->h && t->dh && t->dx && t->dxk &&
	     !adam_init(&t->cpn_adam, t->cpn->np);
	for (int k = 0; ok && k < t->en_k; k++)
		ok = !adam_init(&t->en_adams[k], t->en_np);
	for (int l = 0; l < MAX_LAYERS; l++) {
		t->acts[l] = calloc((size_t)w, sizeof(float));
		t->dz_acts[l] = calloc((size_t)w, sizeof(float));
		ok = ok && t->acts[l] && t->dz_acts[l];
	}
	if (!ok)
		goto oom;
	/* Which CPN parameters are weights (decayed). */
	for (int l = 0; l < t->cpn->nlayers; l++) {
		struct cpn_layer *ly = &t->cpn->layer[l];
		memset(t->cpn_decay + (ly->w - t->cpn->p), 1,
		       (size_t)ly->in * ly->out);
	}
	memset(t->en_decay, 1, (size_t)t->en_h * t->en_in);
	memset(t->en_decay + (EN_W2(t) - t->en_p), 1, 2 * (size_t)t->en_h);
	ncp_rng_seed(&t->rng, ncp_rng_derive(o->seed, 0xe17));
	for (int m = 0; m < t->en_k; m++) {
		double lim = 1 / sqrt((double)t->en_in);
		t->en_p = t->en_all + (size_t)m * t->en_np;
		for (size_t k = 0; k < (size_t)t->en_h * t->en_in + t->en_h; k++)
			t->en_p[k] = (float)ncp_rng_range(&t->rng, -lim, lim);
		lim = 1 / sqrt((double)t->en_h);
		for (size_t k = 0; k < 2 * (size_t)t->en_h + 2; k++)
			EN_W2(t)[k] = (float)ncp_rng_range(&t->rng, -lim, lim);
	}
	t->en_p = t->en_all;
	t->en_scale[0] = t->en_scale[1] = 1;
	for (int f = 0; f < t->F; f++)
		t->feat_inv[f] = 1;
	t->en_best = INFINITY;
	return t;
oom:
	ncp_cpn_trainer_free(t);
	ncp_errf(err, errlen, "out of memory");
	return NULL;
}

void ncp_cpn_trainer_set_ref(struct ncp_cpn_trainer *t,
			     const struct ncp_cpn_ref *ref)
{
	t->ref = *ref;
}

const struct ncp_cpn_model *ncp_cpn_trainer_model(const struct ncp_cpn_trainer *t)
{
	return t->o.cpn_average > 0 ? t->cpn_avg : t->cpn;
}

/* After a CPN step: the deployed average follows the trained weights. */
static void average_step(struct ncp_cpn_trainer *t)
{
	const float b = (float)t->o.cpn_average;
	float *a = t->cpn_avg->p;
	const float *w = t->cpn->p;

	if (!(b > 0))
		return;
	if (!t->avg_started) {
		ncp_cpn_model_copy(t->cpn_avg, t->cpn);
		t->avg_started = true;
		return;
	}
	for (size_t k = 0; k < t->cpn->np; k++)
		a[k] += (1 - b) * (w[k] - a[k]);
}

uint64_t ncp_cpn_trainer_cpn_epochs(const struct ncp_cpn_trainer *t)
{
	return t->cpn_epochs;
}

uint64_t ncp_cpn_trainer_en_trainings(const struct ncp_cpn_trainer *t)
{
	return t->en_trainings;
}

int ncp_cpn_trainer_fit_norm(struct ncp_cpn_trainer *t,
			     const struct ncp_cpn_data *d)
{
	size_t no = (size_t)t->nin;
	double s[2] = { 0 }, ss[2] = { 0 };

	if (d->n < 2 || d->R != t->cpn->spec.rec || d->E != t->E || d->F != t->F)
		return -EINVAL;
	for (int f = 0; f < t->F; f++) {
		double a = 0, b = 0;
		for (size_t k = 0; k < d->n; k++) {
			double v = d->feat[k * (size_t)t->F + f];
			a += v;
			b += v * v;
		}
		double mean = a / d->n, var = b / d->n - mean * mean;
		double sd = var > 0 ? sqrt(var) : 0;
		t->feat_mean[f] = (float)mean;
		t->feat_inv[f] = sd > 1e-6 ? (float)(1 / sd) : 1.0f;
	}
	for (size_t i = 0; i < no && !t->o.keep_cpn_norm; i++) {
		double a = 0, b = 0;
		for (size_t k = 0; k < d->n; k++) {
			double v = d->obs[k * no + i];
			a += v;
			b += v * v;
		}
		double mean = a / d->n, var = b / d->n - mean * mean;
		double sd = var > 0 ? sqrt(var) : 0;
		t->cpn->in_mean[i] = (float)mean;
		t->cpn->in_scale[i] = sd > 1e-6 ? (float)sd : 1.0f;
	}
	refresh(t->cpn);
	ncp_cpn_model_copy(t->cpn_back, t->cpn);
	ncp_cpn_model_copy(t->cpn_avg, t->cpn);
	for (size_t k = 0; k < d->n; k++)
		for (int c = 0; c < 2; c++) {
			double y = d->future[6 * k + 4 + c] - d->obs[k * no + d->R + 4 + c];
			s[c] += y;
			ss[c] += y * y;
		}
	for (int c = 0; c < 2; c++) {
		double mean = s[c] / d->n, var = ss[c] / d->n - mean * mean;
		t->en_mean[c] = (float)mean;
		t->en_scale[c] = var > 1e-12 ? (float)sqrt(var) : 1.0f;
	}
	t->normed = true;
	return 0;
}

/* EN forward for the input x (en_in): t->h, and the displacement in m. */
static void en_forward(struct ncp_cpn_trainer *t, const float *x, float y[2])
{
	const float *w1 = EN_W1(t), *b1 = EN_B1(t), *w2 = EN_W2(t), *b2 = EN_B2(t);
	for (int j = 0; j < t->en_h; j++) {
		const float *w = w1 + (size_t)j * t->en_in;
		float a = b1[j];
		for (int i = 0; i < t->en_in; i++)
			a += w[i] * x[i];
		t->h[j] = tanhf(a);
	}
	for (int c = 0; c < 2; c++) {
		const float *w = w2 + (size_t)c * t->en_h;
		float a = b2[c];
		for (int j = 0; j < t->en_h; j++)
			a += w[j] * t->h[j];
		y[c] = a;	/* standardised */
	}
}

/* Backprop dy (standardised outputs) through the EN at t->h, x: adds the
 * weight gradients to g (or none when g is NULL) and writes dL/dx into dx. */
static void en_backward(struct ncp_cpn_trainer *t, const float *x,
			const float dy[2], float *g, float *dx)
{
	const float *w1 = EN_W1(t), *w2 = EN_W2(t);
	for (int j = 0; j < t->en_h; j++) {
		float a = dy[0] * w2[j] + dy[1] * w2[t->en_h + j];
		t->dh[j] = a * (1 - t->h[j] * t->h[j]);
	}
	if (g) {
		float *gw1 = g, *gb1 = g + (size_t)t->en_h * t->en_in;
		float *gw2 = gb1 + t->en_h, *gb2 = gw2 + 2 * (size_t)t->en_h;
		for (int c = 0; c < 2; c++) {
			for (int j = 0; j < t->en_h; j++)
				gw2[(size_t)c * t->en_h + j] += dy[c] * t->h[j];
			gb2[c] += dy[c];
		}
		for (int j = 0; j < t->en_h; j++) {
			float *gw = gw1 + (size_t)j * t->en_in;
			for (int i = 0; i < t->en_in; i++)
				gw[i] += t->dh[j] * x[i];
			gb1[j] += t->dh[j];
		}
	}
	if (dx) {
		for (int i = 0; i < t->en_in; i++)
			dx[i] = 0;
		for (int j = 0; j < t->en_h; j++) {
			const float *w = w1 + (size_t)j * t->en_in;
			for (int i = 0; i < t->en_in; i++)
				dx[i] += t->dh[j] * w[i];
		}
	}
}

/* The ensemble's mean prediction (standardised) for the input x. */
static void en_forward_mean(struct ncp_cpn_trainer *t, const float *x,
			    float y[2])
{
	y[0] = y[1] = 0;
	for (int m = 0; m < t->en_k; m++) {
		float ym[2];
		t->en_p = t->en_all + (size_t)m * t->en_np;
		en_forward(t, x, ym);
		y[0] += ym[0];
		y[1] += ym[1];
	}
	t->en_p = t->en_all;
	y[0] /= (float)t->en_k;
	y[1] /= (float)t->en_k;
}

/* The EN's standardised features (F values from feat, NULL: zeros) into
 * x[nin ...]. */
static void en_feat(struct ncp_cpn_trainer *t, const float *feat, float *x)
{
	for (int f = 0; f < t->F; f++) {
		float v = feat ? (feat[f] - t->feat_mean[f]) * t->feat_inv[f] : 0.0f;
		x[t->nin + f] = isfinite(v) ? v : 0.0f;
	}
}

/* The EN's input for an observation, features and electrode currents. */
static void en_input(struct ncp_cpn_trainer *t, const float *obs,
		     const float *feat, const float *alpha, float *x)
{
	const float inv = (float)(1 / t->cpn->spec.stim_max);
	standardise(t->cpn, obs, x);
	en_feat(t, feat, x);
	for (int e = 0; e < t->E; e++)
		x[t->nin + t->F + e] = alpha[e] * inv;
}

/* Sample k's features (NULL without). */
static const float *sample_feat(const struct ncp_cpn_data *d, size_t k)
{
	return d->F ? d->feat + k * (size_t)d->F : NULL;
}

static void true_disp(const struct ncp_cpn_data *d, size_t k, float y[2])
{
	const float *o = d->obs + k * (size_t)NCP_CPN_OBS(d->R) + d->R;
	y[0] = d->future[6 * k + 4] - o[4];
	y[1] = d->future[6 * k + 5] - o[5];
}

static int shuffle(struct ncp_cpn_trainer *t, size_t n)
{
	if (n > t->order_cap) {
		size_t *o = realloc(t->order, n * sizeof(*o));
		if (!o)
			return -ENOMEM;
		t->order = o;
		t->order_cap = n;
	}
	for (size_t i = 0; i < n; i++)
		t->order[i] = i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)ncp_rng_below(&t->rng, i);
		size_t a = t->order[i - 1];
		t->order[i - 1] = t->order[j];
		t->order[j] = a;
	}
	return 0;
}

double ncp_cpn_trainer_en_loss(struct ncp_cpn_trainer *t,
			       const struct ncp_cpn_data *d, size_t from)
{
	size_t no = (size_t)NCP_CPN_OBS(d->R);
	double s = 0;

	if (from >= d->n)
		return NAN;
	for (size_t k = from; k < d->n; k++) {
		float y[2], yt[2];
		en_input(t, d->obs + k * no, sample_feat(d, k),
			 d->alpha + k * (size_t)d->E, t->x);
		en_forward_mean(t, t->x, y);
		true_disp(d, k, yt);
		for (int c = 0; c < 2; c++) {
			double e = (y[c] * t->en_scale[c] + t->en_mean[c]) - yt[c];
			s += e * e;
		}
	}
	return s / (2.0 * (double)(d->n - from));
}

int ncp_cpn_trainer_en_train(struct ncp_cpn_trainer *t,
			     const struct ncp_cpn_data *d, double *loss)
{
	size_t no = (size_t)NCP_CPN_OBS(d->R);
	int B = t->o.batch;

	if (!t->normed || d->n < 1)
		return -EINVAL;
	memcpy(t->en_back, t->en_all, t->en_np * (size_t)t->en_k * sizeof(float));
	for (int m = 0; m < t->en_k; m++) {
	/* Each member on its own shuffles of the same data. */
	struct adam *adam = &t->en_adams[m];
	t->en_p = t->en_all + (size_t)m * t->en_np;
	long left = t->o.en_batches > 0 ? t->o.en_batches : -1;
	for (int ep = 0; ep < t->o.en_epochs && left; ep++) {
		if (shuffle(t, d->n)) {
			t->en_p = t->en_all;
			return -ENOMEM;
		}
		for (size_t b0 = 0; b0 < d->n && left; b0 += (size_t)B, left--) {
			size_t nb = d->n - b0 < (size_t)B ? d->n - b0 : (size_t)B;
			memset(t->en_g, 0, t->en_np * sizeof(float));
			for (size_t i = 0; i < nb; i++) {
				size_t k = t->order[b0 + i];
				float y[2], yt[2], dy[2];
				en_input(t, d->obs + k * no, sample_feat(d, k),
					 d->alpha + k * (size_t)d->E, t->x);
				en_forward(t, t->x, y);
				true_disp(d, k, yt);
				for (int c = 0; c < 2; c++)
					dy[c] = (float)((y[c] - (yt[c] - t->en_mean[c]) / t->en_scale[c]) /
							(double)nb);
				en_backward(t, t->x, dy, t->en_g, NULL);
			}
			if (!all_finite(t->en_g, t->en_np)) {
				t->en_p = t->en_all;
				memcpy(t->en_all, t->en_back,
				       t->en_np * (size_t)t->en_k * sizeof(float));
				return -EDOM;
			}
			adam_step(adam, t->en_p, t->en_g, t->en_decay,
				  t->o.en_lr, t->o.en_weight_decay);
		}
	}
	}
	t->en_p = t->en_all;
	*loss = ncp_cpn_trainer_en_loss(t, d, 0);
	if (!isfinite(*loss)) {
		memcpy(t->en_all, t->en_back, t->en_np * (size_t)t->en_k * sizeof(float));
		return -EDOM;
	}
	t->en_best = *loss;
	t->en_trainings++;
	t->since_en = 0;
	t->nhist = 0;
	return 0;
}

void ncp_cpn_trainer_en_predict(struct ncp_cpn_trainer *t, const float *obs,
				const float *feat, const float *alpha,
				float out[2])
{
	float y[2];
	en_input(t, obs, feat, alpha, t->x);
	en_forward_mean(t, t->x, y);
	out[0] = y[0] * t->en_scale[0] + t->en_mean[0];
	out[1] = y[1] * t->en_scale[1] + t->en_mean[1];
}

int ncp_cpn_trainer_cpn_epoch(struct ncp_cpn_trainer *t,
			      const struct ncp_cpn_data *d, double *loss)
{
	struct ncp_cpn_model *m = t->cpn;
	size_t no = (size_t)NCP_CPN_OBS(d->R);
	const float amax = (float)m->spec.alpha_max;
	const float inv = (float)(1 / m->spec.stim_max);
	int B = t->o.batch, L = m->nlayers;
	double total = 0;

	if (!t->normed || d->n < 1 || d->F != t->F)
		return -EINVAL;
	size_t n = d->n;
	ncp_cpn_model_copy(t->cpn_back, m);
	if (shuffle(t, d->n))
		return -ENOMEM;
	if (t->o.cpn_batches > 0 && (size_t)t->o.cpn_batches * B < n)
		n = (size_t)t->o.cpn_batches * B;
	for (size_t b0 = 0; b0 < n; b0 += (size_t)B) {
		size_t nb = n - b0 < (size_t)B ? n - b0 : (size_t)B;
		memset(t->cpn_g, 0, m->np * sizeof(float));
		for (size_t i = 0; i < nb; i++) {
			size_t k = t->order[b0 + i];
			const float *obs = d->obs + k * no;
			const float *v = t->acts[L - 1];
			float y[2], dy[2];
			double ref[2];

			float y0[2] = { 0, 0 }, yt[2] = { 0, 0 };
			if (t->o.anchor) {
				/* The EN at the sample's own alpha, and what
				 * happened. */
				en_input(t, obs, sample_feat(d, k),
					 d->alpha + k * (size_t)d->E, t->x);
				en_forward_mean(t, t->x, y0);
				true_disp(d, k, yt);
			}
			standardise(m, obs, t->z);
			layers_forward(m, t->z, t->acts);
			memcpy(t->x, t->z, (size_t)t->nin * sizeof(float));
			en_feat(t, sample_feat(d, k), t->x);
			for (int e = 0; e < t->E; e++)
				t->x[t->nin + t->F + e] = amax * tanhf(v[e]) * inv;
			/* Every member's prediction at a*, and their mean. */
			float yk[NCP_CPN_MAX_ENSEMBLE][2];
			y[0] = y[1] = 0;
			for (int q = 0; q < t->en_k; q++) {
				t->en_p = t->en_all + (size_t)q * t->en_np;
				en_forward(t, t->x, yk[q]);
				memcpy(t->en_hk + (size_t)q * t->en_h, t->h,
				       (size_t)t->en_h * sizeof(float));
				y[0] += yk[q][0] / (float)t->en_k;
				y[1] += yk[q][1] / (float)t->en_k;
			}
			ref_disp(&t->ref, d, k, ref);
			for (int c = 0; c < 2; c++) {
				double p = t->o.anchor ?
					yt[c] + (double)(y[c] - y0[c]) * t->en_scale[c] :
					y[c] * t->en_scale[c] + t->en_mean[c];
				double e = p - ref[c];
				total += e * e / 2;
				/* d(mean over nb x 2 of e^2)/dy */
				dy[c] = (float)(e * t->en_scale[c] / (double)nb);
			}
			/* Back through each member: the mean's share, and the
			 * disagreement penalty en_disagree x the members'
			 * variance about their mean (m^2, per coordinate). */
			for (int i2 = 0; i2 < t->en_in; i2++)
				t->dx[i2] = 0;
			for (int q = 0; q < t->en_k; q++) {
				float dyq[2];
				for (int c = 0; c < 2; c++) {
					double dev = (double)(yk[q][c] - y[c]) * t->en_scale[c];
					total += t->o.en_disagree * dev * dev / (2.0 * t->en_k);
					dyq[c] = (float)(dy[c] / t->en_k +
							 t->o.en_disagree * dev * t->en_scale[c] /
							 ((double)t->en_k * (double)nb));
				}
				t->en_p = t->en_all + (size_t)q * t->en_np;
				memcpy(t->h, t->en_hk + (size_t)q * t->en_h,
				       (size_t)t->en_h * sizeof(float));
				en_backward(t, t->x, dyq, NULL, t->dxk);
				for (int i2 = 0; i2 < t->en_in; i2++)
					t->dx[i2] += t->dxk[i2];
			}
			t->en_p = t->en_all;
			/* Through a = amax tanh(v): dv. */
			float *dv = t->dz_acts[L - 1];
			const float pen = (float)(t->o.act_penalty / ((double)t->E * (double)nb));
			for (int e = 0; e < t->E; e++) {
				float th = tanhf(v[e]);
				dv[e] = (t->dx[t->nin + t->F + e] * inv * amax + 2 * pen * th) *
					(1 - th * th);
				total += t->o.act_penalty * th * th / t->E;
			}
			/* Through the CPN's layers. */
			for (int l = L - 1; l >= 0; l--) {
				struct cpn_layer *ly = &m->layer[l];
				const float *xin = l ? t->acts[l - 1] : t->z;
				float *g_act = t->dz_acts[l];
				float *gw = t->cpn_g + (ly->w - m->p);
				float *gb = t->cpn_g + (ly->b - m->p);
				for (int o = 0; o < ly->out; o++) {
					float go = g_act[o];
					if (l < L - 1 && t->acts[l][o] <= 0)
						go = 0;
					gb[o] += go;
					for (int q = 0; q < ly->in; q++)
						gw[(size_t)o * ly->in + q] += go * xin[q];
				}
				if (l) {
					float *gp = t->dz_acts[l - 1];
					for (int q = 0; q < ly->in; q++)
						gp[q] = 0;
					for (int o = 0; o < ly->out; o++) {
						float go = g_act[o];
						if (l < L - 1 && t->acts[l][o] <= 0)
							go = 0;
						for (int q = 0; q < ly->in; q++)
							gp[q] += go * ly->w[(size_t)o * ly->in + q];
					}
				}
			}
		}
		if (!all_finite(t->cpn_g, m->np) || !isfinite(total)) {
			ncp_cpn_model_copy(m, t->cpn_back);
			return -EDOM;
		}
		adam_step(&t->cpn_adam, m->p, t->cpn_g, t->cpn_decay, t->o.cpn_lr,
			  t->o.cpn_weight_decay);
		average_step(t);
	}
	*loss = total / (double)n;
	if (!isfinite(*loss) || !ncp_cpn_model_finite(m)) {
		ncp_cpn_model_copy(m, t->cpn_back);
		return -EDOM;
	}
	t->cpn_epochs++;
	t->since_en++;
	if (t->nhist == HIST) {
		memmove(t->hist, t->hist + 1, (HIST - 1) * sizeof(double));
		t->nhist--;
	}
	t->hist[t->nhist++] = *loss;
	return 0;
}

double ncp_cpn_trainer_task_loss(struct ncp_cpn_trainer *t,
				 const struct ncp_cpn_model *m,
				 const struct ncp_cpn_data *d, size_t from)
{
	size_t no = (size_t)NCP_CPN_OBS(d->R);
	const float amax = (float)m->spec.alpha_max;
	const float inv = (float)(1 / m->spec.stim_max);
	const float *v = t->acts[m->nlayers - 1];
	double total = 0;

	if (!t->normed || from >= d->n || !same_spec(&m->spec, &t->cpn->spec))
		return NAN;
	for (size_t k = from; k < d->n; k++) {
		const float *obs = d->obs + k * no;
		float y[2];
		double ref[2];
		/* m's a* from its own standardisation; the EN reads the
		 * trainer's. */
		standardise(m, obs, t->z);
		layers_forward(m, t->z, t->acts);
		standardise(t->cpn, obs, t->x);
		for (int e = 0; e < t->E; e++) {
			float th = tanhf(v[e]);
			t->x[t->nin + e] = amax * th * inv;
			total += t->o.act_penalty * th * th / t->E;
		}
		en_forward(t, t->x, y);
		ref_disp(&t->ref, d, k, ref);
		for (int c = 0; c < 2; c++) {
			double e = y[c] * t->en_scale[c] + t->en_mean[c] - ref[c];
			total += e * e / 2;
		}
	}
	return total / (double)(d->n - from);
}

bool ncp_cpn_trainer_en_expired(struct ncp_cpn_trainer *t, double en_loss)
{
	int rises = 0, w = t->o.rise_window;
	bool exp = false;

	if (!isfinite(en_loss) || en_loss > t->o.en_loss_max ||
	    en_loss > t->o.en_loss_rise * t->en_best)
		exp = true;
	if (t->nhist > w) {
		for (int i = t->nhist - w; i < t->nhist; i++)
			rises += t->hist[i] > t->hist[i - 1];
		if (rises >= t->o.rise_count)
			exp = true;
	}
	if (t->since_en >= t->o.max_cpn_epochs)
		exp = true;
	return exp;
}
