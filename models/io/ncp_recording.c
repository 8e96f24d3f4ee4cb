#include "models/io/ncp_recording.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/io/ncp_file.h"
#include "models/io/ncp_json_doc.h"
#include "models/io/ncp_npy.h"

#define META_MAX (16u << 20)

void ncp_recording_close(struct ncp_recording *r)
{
	if (!r)
		return;
	ncp_npy_free(r->m1_npy);
	ncp_npy_free(r->arm_npy);
	ncp_npy_free(r->target_npy);
	ncp_npy_free(r->stim_npy);
	ncp_npy_free(r->lesion_npy);
	ncp_npy_free(r->rec_npy);
	ncp_npy_free(r->alpha_npy);
	free(r->dir);
	free(r->name);
	free(r->config_json);
	free(r);
}

/* A non-negative integer member. */
static int get_u64(const json_t *root, const char *file, const char *key,
		   bool required, uint64_t *out, char *err, size_t errlen)
{
	const json_t *v = json_object_get(root, key);

	if (!v) {
		if (!required)
			return 0;
		return ncp_errf(err, errlen, "%s: \"%s\" is missing", file, key);
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return ncp_errf(err, errlen,
				"%s: \"%s\" must be a non-negative integer, found %s",
				file, key, json_is_integer(v) ? "a negative one" :
				ncp_json_doc_type_name(v));
	*out = (uint64_t)json_integer_value(v);
	return 0;
}

/* What an array holds: M1 spikes (uint8, bool or float32), float32 or
 * int32 values. */
enum { A_F32, A_M1, A_I32 };

/* Load dir/<files.key or default> and check its dtype and shape. */
static struct ncp_npy *load_array(const struct ncp_recording *r,
				  const json_t *root,
				  const char *key, const char *dflt,
				  uint64_t cols, int kind, char *err,
				  size_t errlen)
{
	const char *f = json_string_value(json_object_get(json_object_get(root, "files"), key));
	const char *fname = dflt;
	char path[4096], e[512];
	struct ncp_npy *a;

	if (f && !strchr(f, '/') && strcmp(f, "..") && f[0])
		fname = f;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", r->dir, fname) >= sizeof(path)) {
		ncp_errf(err, errlen, "%s: path too long", r->dir);
		errno = ENAMETOOLONG;
		return NULL;
	}
	a = ncp_npy_load(path, NCP_NPY_MMAP, e, sizeof(e));
	if (!a) {
		int saved = errno;
		if (saved == ENOENT)
			ncp_errf(err, errlen, "%s: %s is missing: not a complete recording",
				 r->dir, fname);
		else
			ncp_errf(err, errlen, "%s", e);
		errno = saved;
		return NULL;
	}
	bool m1 = kind == A_M1;
	bool dtype_ok = m1 ? (a->h.dtype == NCP_NPY_U8 || a->h.dtype == NCP_NPY_BOOL ||
			      a->h.dtype == NCP_NPY_F32)
			: kind == A_I32 ? a->h.dtype == NCP_NPY_I32
			: a->h.dtype == NCP_NPY_F32;
	if (!dtype_ok) {
		ncp_errf(err, errlen, "%s: dtype %s: expected %s", path,
			 ncp_npy_dtype_descr(a->h.dtype),
			 m1 ? "|u1 (or |b1, <f4)" : kind == A_I32 ? "<i4" : "<f4");
		goto fail;
	}
	if (a->h.ndim != 2 || a->h.shape[0] != r->steps || a->h.shape[1] != cols) {
		char shape[96] = "(";
		for (int d = 0; d < a->h.ndim && d < 4; d++)
			snprintf(shape + strlen(shape), sizeof(shape) - strlen(shape),
				 "%s%" PRIu64, d ? ", " : "", a->h.shape[d]);
		strcat(shape, a->h.ndim > 4 ? ", ...)" : ")");
		ncp_errf(err, errlen,
			 "%s: shape %s does not match meta.json (%" PRIu64 " steps x %" PRIu64 ")",
			 path, shape, r->steps, cols);
		goto fail;
	}
	return a;
fail:
	ncp_npy_free(a);
	errno = EINVAL;
	return NULL;
}

struct ncp_recording *ncp_recording_open(const char *dir, char *err,
					 size_t errlen)
{
	struct ncp_recording *r = calloc(1, sizeof(*r));
	json_t *root = NULL;
	const json_t *v;
	char path[4096], e[512];
	void *text = NULL;
	size_t len;
	uint64_t x;
	int ret;

	if (!r) {
		ncp_errf(err, errlen, "%s: out of memory", dir);
		errno = ENOMEM;
		return NULL;
	}
	r->dir = strdup(dir);
	if (!r->dir)
		goto nomem;
	if ((size_t)snprintf(path, sizeof(path), "%s/meta.json", dir) >= sizeof(path)) {
		ncp_errf(err, errlen, "%s: path too long", dir);
		goto invalid;
	}
	ret = ncp_file_read(path, META_MAX, &text, &len);
	if (ret) {
		if (ret == -ENOENT)
			ncp_errf(err, errlen, "%s: no meta.json: not a recording directory", dir);
		else
			ncp_errf(err, errlen, "%s: %s", path, ncp_strerror(ret));
		errno = -ret;
		goto fail;
	}
	root = ncp_json_doc_parse(text, len, path, NULL, err, errlen);
	if (!root)
		goto fail;
	if (!json_is_object(root)) {
		ncp_errf(err, errlen, "%s: not a JSON object", path);
		goto invalid;
	}
	v = json_object_get(root, "format");
	if (!json_is_string(v) || strcmp(json_string_value(v), "ncpd-recording")) {
		ncp_errf(err, errlen, "%s: \"format\" is not \"ncpd-recording\"", path);
		goto invalid;
	}
	if (get_u64(root, path, "format_version", true, &x, err, errlen))
		goto invalid;
	if (x != 1) {
		ncp_errf(err, errlen, "%s: format_version %" PRIu64 " is not supported (1 is)",
			 path, x);
		goto invalid;
	}
	v = json_object_get(root, "complete");
	if (!json_is_boolean(v)) {
		ncp_errf(err, errlen, "%s: \"complete\" is missing or not a boolean", path);
		goto invalid;
	}
	if (!json_is_true(v)) {
		ncp_errf(err, errlen,
			 "%s: the recording is incomplete (\"complete\": false: still recording, or interrupted; its *.npy.partial files hold the rows saved)",
			 dir);
		goto invalid;
	}
	if (get_u64(root, path, "steps", true, &r->steps, err, errlen) ||
	    get_u64(root, path, "first_step", false, &r->first_step, err, errlen) ||
	    get_u64(root, path, "dropped_steps", false, &r->dropped_steps, err, errlen) ||
	    get_u64(root, path, "seed", false, &r->seed, err, errlen) ||
	    get_u64(root, path, "task_seed", false, &r->task_seed, err, errlen))
		goto invalid;
	if (get_u64(root, path, "window", true, &x, err, errlen))
		goto invalid;
	if (x < 1 || x > 1000000) {
		ncp_errf(err, errlen, "%s: window %" PRIu64 " is out of range", path, x);
		goto invalid;
	}
	r->window = (int)x;
	if (get_u64(root, path, "m1_neurons", true, &x, err, errlen))
		goto invalid;
	if (x < 1 || x > 65536) {
		ncp_errf(err, errlen, "%s: m1_neurons %" PRIu64 " is out of range", path, x);
		goto invalid;
	}
	r->neurons = (int)x;
	if (ncp_json_doc_get_double(root, "dt", &r->dt, e, sizeof(e))) {
		ncp_errf(err, errlen, "%s: %s", path, e);
		goto invalid;
	}
	if (!(r->dt > 0 && r->dt <= 1)) {
		ncp_errf(err, errlen, "%s: dt %g is not in (0, 1] s", path, r->dt);
		goto invalid;
	}
	{
		const char *base = strrchr(dir, '/');
		const char *nm = json_string_value(json_object_get(root, "name"));
		if (!nm)
			nm = base && base[1] ? base + 1 : dir;
		r->name = strdup(nm);
		if (!r->name)
			goto nomem;
	}
	v = json_object_get(root, "config");
	if (json_is_object(v)) {
		r->config_json = json_dumps(v, JSON_COMPACT);
		if (!r->config_json)
			goto nomem;
	}
	r->m1_npy = load_array(r, root, "m1", "m1.npy", (uint64_t)r->neurons, A_M1,
			       err, errlen);
	if (!r->m1_npy)
		goto fail;
	/* "arm_links" (2 or 3): absent in recordings of REACH's arm. */
	r->joints = 2;
	if (json_object_get(root, "arm_links")) {
		if (get_u64(root, path, "arm_links", true, &x, err, errlen))
			goto invalid;
		if (x != 2 && x != 3) {
			ncp_errf(err, errlen, "%s: arm_links %" PRIu64 ": ncpd "
				 "records arms of 2 or 3 links", path, x);
			goto invalid;
		}
		r->joints = (int)x;
	}
	r->arm_npy = load_array(r, root, "arm", "arm.npy",
				(uint64_t)(2 * r->joints + 2), A_F32, err, errlen);
	if (!r->arm_npy)
		goto fail;
	r->target_npy = load_array(r, root, "target", "target.npy", 2, A_F32, err,
				   errlen);
	if (!r->target_npy)
		goto fail;
	r->arm = r->arm_npy->data;
	r->target = r->target_npy->data;
	if (json_object_get(root, "stim_electrodes")) {
		if (get_u64(root, path, "stim_electrodes", true, &x, err, errlen))
			goto invalid;
		if (x < 1 || x > 1024) {
			ncp_errf(err, errlen, "%s: stim_electrodes %" PRIu64 " is out of range",
				 path, x);
			goto invalid;
		}
		r->stim_npy = load_array(r, root, "stim", "stim.npy", x, A_F32,
					 err, errlen);
		if (!r->stim_npy)
			goto fail;
		r->stim = r->stim_npy->data;
		r->stim_channels = (int)x;
	}
	if (json_object_get(root, "rec_electrodes")) {
		if (get_u64(root, path, "rec_electrodes", true, &x, err, errlen))
			goto invalid;
		if (x < 1 || x > 1024) {
			ncp_errf(err, errlen, "%s: rec_electrodes %" PRIu64 " is out of range",
				 path, x);
			goto invalid;
		}
		if (!r->stim) {
			ncp_errf(err, errlen,
				 "%s: rec_electrodes without stim_electrodes (alpha.npy has a column per stimulation electrode)",
				 path);
			goto invalid;
		}
		r->rec_npy = load_array(r, root, "rec", "rec.npy", x, A_F32, err,
					errlen);
		if (!r->rec_npy)
			goto fail;
		r->rec = r->rec_npy->data;
		r->rec_channels = (int)x;
		r->alpha_npy = load_array(r, root, "alpha", "alpha.npy",
					  (uint64_t)r->stim_channels, A_F32, err,
					  errlen);
		if (!r->alpha_npy)
			goto fail;
		r->alpha = r->alpha_npy->data;
		r->lesion_npy = load_array(r, root, "lesion", "lesion.npy", 2, A_I32,
					   err, errlen);
		if (!r->lesion_npy)
			goto fail;
		r->lesion = r->lesion_npy->data;
	}
	json_decref(root);
	free(text);
	return r;

nomem:
	ncp_errf(err, errlen, "%s: out of memory", dir);
	errno = ENOMEM;
	goto fail;
invalid:
	errno = EINVAL;
fail:
	{
		int saved = errno ? errno : EINVAL;
		json_decref(root);
		free(text);
		ncp_recording_close(r);
		errno = saved;
	}
	return NULL;
}

int ncp_recording_spikes(const struct ncp_recording *r, uint64_t step,
			 uint32_t *idx)
{
	const size_t n = (size_t)r->neurons;
	int k = 0;

	if (r->m1_npy->h.dtype == NCP_NPY_F32) {
		const float *row = (const float *)r->m1_npy->data + step * n;
		for (size_t i = 0; i < n; i++)
			if (row[i] != 0.0f)
				idx[k++] = (uint32_t)i;
	} else {
		const uint8_t *row = (const uint8_t *)r->m1_npy->data + step * n;
		for (size_t i = 0; i < n; i++)
			if (row[i])
				idx[k++] = (uint32_t)i;
	}
	return k;
}

int ncp_recording_stim(const struct ncp_recording *r, uint64_t step,
		       float *stim)
{
	int n = r->stim ? r->stim_channels : 0;

	for (int c = 0; c < n; c++) {
		/* A dropped step's NaN: nothing known was applied. */
		float v = r->stim[step * (uint64_t)n + (uint64_t)c];
		stim[c] = isfinite(v) ? v : 0.0f;
	}
	return n;
}
