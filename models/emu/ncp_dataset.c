#include "models/emu/ncp_dataset.h"

#include "models/arm/ncp_arm.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/io/ncp_recording.h"

struct segment {
	uint64_t start, len;
	char *name;
};

struct ncp_dataset {
	int neurons, stim;
	uint64_t steps, cap_steps;
	uint64_t *ptr;		/* [steps + 1]: spikes of step s are idx[ptr[s] .. ptr[s+1]) */
	uint32_t *idx;
	uint64_t nidx, cap_idx;
	float *arm;		/* [steps][adims] */
	int joints, adims;	/* the arm's J, 2 J + 2 */
	float *stim_vals;	/* [steps][stim], NULL until a step has stimulation */
	uint8_t *stim_nz;	/* [steps], with stim_vals */
	struct segment *seg;
	int nseg, cap_seg;
};

struct ncp_dataset *ncp_dataset_new(int neurons, int stim)
{
	struct ncp_dataset *ds;

	if (neurons < 1 || stim < 0)
		return NULL;
	ds = calloc(1, sizeof(*ds));
	if (!ds)
		return NULL;
	ds->neurons = neurons;
	ds->stim = stim;
	ds->joints = 2;
	ds->adims = NCP_ARM_STATE_DIMS(2);
	ds->ptr = calloc(1, sizeof(uint64_t));
	if (!ds->ptr) {
		free(ds);
		return NULL;
	}
	return ds;
}

int ncp_dataset_set_joints(struct ncp_dataset *ds, int joints)
{
	if (joints < NCP_ARM_MIN_LINKS || joints > NCP_ARM_MAX_LINKS ||
	    ds->steps > 0)
		return -EINVAL;
	if (ds->cap_steps) {
		size_t n = (size_t)ds->cap_steps *
			   (size_t)NCP_ARM_STATE_DIMS(joints);
		float *a = realloc(ds->arm, n * sizeof(float));
		if (!a)
			return -ENOMEM;
		memset(a, 0, n * sizeof(float));
		ds->arm = a;
	}
	ds->joints = joints;
	ds->adims = NCP_ARM_STATE_DIMS(joints);
	return 0;
}

int ncp_dataset_joints(const struct ncp_dataset *ds)
{
	return ds->joints;
}

void ncp_dataset_free(struct ncp_dataset *ds)
{
	if (!ds)
		return;
	for (int i = 0; i < ds->nseg; i++)
		free(ds->seg[i].name);
	free(ds->seg);
	free(ds->ptr);
	free(ds->idx);
	free(ds->arm);
	free(ds->stim_vals);
	free(ds->stim_nz);
	free(ds);
}

int ncp_dataset_begin(struct ncp_dataset *ds, const char *name)
{
	if (ds->nseg == ds->cap_seg) {
		int cap = ds->cap_seg ? 2 * ds->cap_seg : 8;
		struct segment *s = realloc(ds->seg, (size_t)cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		ds->seg = s;
		ds->cap_seg = cap;
	}
	char *copy = strdup(name ? name : "");
	if (!copy)
		return -ENOMEM;
	ds->seg[ds->nseg].start = ds->steps;
	ds->seg[ds->nseg].len = 0;
	ds->seg[ds->nseg].name = copy;
	ds->nseg++;
	return 0;
}

/* Capacity for cap steps (cap >= steps). */
static int resize_steps(struct ncp_dataset *ds, uint64_t cap)
{
	uint64_t *p = realloc(ds->ptr, (size_t)(cap + 1) * sizeof(uint64_t));
	if (!p)
		return -ENOMEM;
	ds->ptr = p;
	float *a = realloc(ds->arm, (size_t)cap * (size_t)ds->adims * sizeof(float));
	if (!a)
		return -ENOMEM;
	ds->arm = a;
	if (ds->stim_vals) {
		float *s = realloc(ds->stim_vals, (size_t)cap * (size_t)ds->stim * sizeof(float));
		if (!s)
			return -ENOMEM;
		ds->stim_vals = s;
		uint8_t *z = realloc(ds->stim_nz, (size_t)cap);
		if (!z)
			return -ENOMEM;
		ds->stim_nz = z;
	}
	ds->cap_steps = cap;
	return 0;
}

static int grow_steps(struct ncp_dataset *ds, uint64_t need)
{
	uint64_t cap = ds->cap_steps ? ds->cap_steps : 4096;
	while (cap < need)
		cap *= 2;
	return cap == ds->cap_steps ? 0 : resize_steps(ds, cap);
}

static int resize_idx(struct ncp_dataset *ds, uint64_t cap)
{
	uint32_t *p = realloc(ds->idx, (size_t)cap * sizeof(uint32_t));
	if (!p)
		return -ENOMEM;
	ds->idx = p;
	ds->cap_idx = cap;
	return 0;
}

static int grow_idx(struct ncp_dataset *ds, uint64_t need)
{
	uint64_t cap = ds->cap_idx ? ds->cap_idx : 65536;
	while (cap < need)
		cap *= 2;
	return cap == ds->cap_idx ? 0 : resize_idx(ds, cap);
}

int ncp_dataset_reserve(struct ncp_dataset *ds, uint64_t steps, uint64_t spikes)
{
	int r;

	if (steps > ds->cap_steps && (r = resize_steps(ds, steps)))
		return r;
	if (spikes > ds->cap_idx && (r = resize_idx(ds, spikes)))
		return r;
	/* Write the room: under mlockall(MCL_ONFAULT) it is resident from
	 * now on, not a page at a time as the data comes. */
	memset(ds->ptr + ds->steps + 1, 0,
	       (size_t)(ds->cap_steps - ds->steps) * sizeof(uint64_t));
	memset(ds->arm + ds->steps * (uint64_t)ds->adims, 0,
	       (size_t)(ds->cap_steps - ds->steps) * (size_t)ds->adims * sizeof(float));
	if (ds->cap_idx > ds->nidx)
		memset(ds->idx + ds->nidx, 0,
		       (size_t)(ds->cap_idx - ds->nidx) * sizeof(uint32_t));
	return 0;
}

uint64_t ncp_dataset_spikes_before(const struct ncp_dataset *ds, uint64_t row)
{
	return ds->ptr[NCP_MIN(row, ds->steps)];
}

void ncp_dataset_drop_front(struct ncp_dataset *ds, uint64_t rows)
{
	rows = NCP_MIN(rows, ds->steps);
	if (!rows)
		return;
	uint64_t k = ds->ptr[rows], left = ds->steps - rows;
	memmove(ds->idx, ds->idx + k, (size_t)(ds->nidx - k) * sizeof(uint32_t));
	ds->nidx -= k;
	for (uint64_t s = 0; s <= left; s++)
		ds->ptr[s] = ds->ptr[s + rows] - k;
	memmove(ds->arm, ds->arm + rows * (uint64_t)ds->adims,
		(size_t)left * (size_t)ds->adims * sizeof(float));
	if (ds->stim_vals) {
		memmove(ds->stim_vals, ds->stim_vals + rows * (uint64_t)ds->stim,
			(size_t)(left * (uint64_t)ds->stim) * sizeof(float));
		memmove(ds->stim_nz, ds->stim_nz + rows, (size_t)left);
	}
	ds->steps = left;
	/* Segments wholly dropped go; the first kept one starts at row 0. */
	int first = 0;
	while (first < ds->nseg && ds->seg[first].start + ds->seg[first].len <= rows)
		free(ds->seg[first++].name);
	memmove(ds->seg, ds->seg + first, (size_t)(ds->nseg - first) * sizeof(*ds->seg));
	ds->nseg -= first;
	for (int i = 0; i < ds->nseg; i++) {
		if (ds->seg[i].start < rows) {
			ds->seg[i].len -= rows - ds->seg[i].start;
			ds->seg[i].start = 0;
		} else {
			ds->seg[i].start -= rows;
		}
	}
}

size_t ncp_dataset_bytes(const struct ncp_dataset *ds)
{
	size_t b = sizeof(*ds) + (size_t)(ds->cap_steps + 1) * sizeof(uint64_t) +
		   (size_t)ds->cap_steps * (size_t)ds->adims * sizeof(float) +
		   (size_t)ds->cap_idx * sizeof(uint32_t) +
		   (size_t)ds->cap_seg * sizeof(*ds->seg);
	if (ds->stim_vals)
		b += (size_t)ds->cap_steps * ((size_t)ds->stim * sizeof(float) + 1);
	return b;
}

/* The first stimulated step: make room for every step's values. */
static int start_stim(struct ncp_dataset *ds)
{
	size_t cap = (size_t)NCP_MAX(ds->cap_steps, 1);
	ds->stim_vals = calloc(cap * (size_t)ds->stim, sizeof(float));
	ds->stim_nz = calloc(cap, 1);
	if (!ds->stim_vals || !ds->stim_nz) {
		free(ds->stim_vals);
		free(ds->stim_nz);
		ds->stim_vals = NULL;
		ds->stim_nz = NULL;
		return -ENOMEM;
	}
	return 0;
}

int ncp_dataset_append(struct ncp_dataset *ds, const uint32_t *spikes, int n,
		       const float *stim, int nstim, const float *arm)
{
	bool nz = false;
	int r;

	if (ds->nseg == 0 && (r = ncp_dataset_begin(ds, "data")))
		return r;
	if (n < 0 || n > ds->neurons)
		return -EINVAL;
	for (int j = 0; j < n; j++)
		if (spikes[j] >= (uint32_t)ds->neurons || (j && spikes[j] <= spikes[j - 1]))
			return -EINVAL;
	for (int c = 0; stim && c < NCP_MIN(nstim, ds->stim); c++)
		nz |= stim[c] != 0.0f;
	if ((r = grow_steps(ds, ds->steps + 1)) ||
	    (r = grow_idx(ds, ds->nidx + (uint64_t)n)))
		return r;
	if (nz && !ds->stim_vals && (r = start_stim(ds)))
		return r;
	memcpy(ds->idx + ds->nidx, spikes, (size_t)n * sizeof(uint32_t));
	ds->nidx += (uint64_t)n;
	ds->ptr[ds->steps + 1] = ds->nidx;
	memcpy(ds->arm + ds->steps * (uint64_t)ds->adims, arm,
	       (size_t)ds->adims * sizeof(float));
	if (ds->stim_vals) {
		float *dst = ds->stim_vals + ds->steps * (uint64_t)ds->stim;
		int c = stim ? NCP_MIN(nstim, ds->stim) : 0;
		for (int i = 0; i < ds->stim; i++)
			dst[i] = i < c ? stim[i] : 0.0f;
		ds->stim_nz[ds->steps] = nz;
	}
	ds->steps++;
	ds->seg[ds->nseg - 1].len++;
	return 0;
}

int ncp_dataset_add_recording(struct ncp_dataset *ds,
			      const struct ncp_recording *rec, char *err,
			      size_t errlen)
{
	uint32_t *idx;
	int r;

	float stim[NCP_FEAT_MAX_STIM];
	int nstim = rec->stim ? rec->stim_channels : 0;

	if (rec->neurons != ds->neurons)
		return ncp_errf(err, errlen, "%s: %d M1 neurons, but the data so far has %d",
				rec->dir, rec->neurons, ds->neurons);
	if (rec->joints != ds->joints &&
	    ncp_dataset_set_joints(ds, rec->joints))
		return ncp_errf(err, errlen, "%s: an arm of %d joints, but the "
				"data so far has %d", rec->dir, rec->joints,
				ds->joints);
	if (nstim > ds->stim)
		return ncp_errf(err, errlen,
				"%s: %d stimulation electrodes, but the model has %d stimulation channels: give --stim-channels %d or more",
				rec->dir, nstim, ds->stim, nstim);
	idx = malloc((size_t)rec->neurons * sizeof(uint32_t));
	if (!idx)
		goto nomem;
	if ((r = ncp_dataset_begin(ds, rec->name)) ||
	    (r = grow_steps(ds, ds->steps + rec->steps)))
		goto fail;
	for (uint64_t s = 0; s < rec->steps; s++) {
		int n = ncp_recording_spikes(rec, s, idx);
		ncp_recording_stim(rec, s, stim);
		r = ncp_dataset_append(ds, idx, n, nstim ? stim : NULL, nstim,
				       rec->arm + s * (uint64_t)ds->adims);
		if (r)
			goto fail;
	}
	free(idx);
	return 0;
fail:
	free(idx);
	if (r != -ENOMEM)
		return ncp_errf(err, errlen, "%s: cannot add: %s", rec->dir, ncp_strerror(r));
nomem:
	ncp_errf(err, errlen, "%s: out of memory", rec->dir);
	return -ENOMEM;
}

int ncp_dataset_neurons(const struct ncp_dataset *ds)
{
	return ds->neurons;
}

int ncp_dataset_stim(const struct ncp_dataset *ds)
{
	return ds->stim;
}

uint64_t ncp_dataset_steps(const struct ncp_dataset *ds)
{
	return ds->steps;
}

uint64_t ncp_dataset_spikes(const struct ncp_dataset *ds)
{
	return ds->nidx;
}

int ncp_dataset_segments(const struct ncp_dataset *ds)
{
	return ds->nseg;
}

void ncp_dataset_segment(const struct ncp_dataset *ds, int i, uint64_t *start,
			 uint64_t *len)
{
	*start = ds->seg[i].start;
	*len = ds->seg[i].len;
}

int ncp_dataset_segment_of(const struct ncp_dataset *ds, uint64_t row)
{
	int lo = 0, hi = ds->nseg - 1;

	while (lo < hi) {
		int mid = (lo + hi + 1) / 2;
		if (ds->seg[mid].start <= row)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

bool ncp_dataset_row_ok(const struct ncp_dataset *ds, uint64_t row, int window)
{
	if (row >= ds->steps)
		return false;
	return row - ds->seg[ncp_dataset_segment_of(ds, row)].start + 1 >=
	       (uint64_t)window;
}

const float *ncp_dataset_arm(const struct ncp_dataset *ds, uint64_t row)
{
	return ds->arm + row * (uint64_t)ds->adims;
}

const float *ncp_dataset_target(const struct ncp_dataset *ds, uint64_t row,
				int horizon)
{
	const struct segment *g = &ds->seg[ncp_dataset_segment_of(ds, row)];

	if (horizon < 0 || row + (uint64_t)horizon >= g->start + g->len)
		return NULL;
	return ds->arm + (row + (uint64_t)horizon) * (uint64_t)ds->adims;
}

const float *ncp_dataset_stim_at(const struct ncp_dataset *ds, uint64_t row)
{
	if (!ds->stim_vals || !ds->stim_nz[row])
		return NULL;
	return ds->stim_vals + row * (uint64_t)ds->stim;
}

int ncp_dataset_spikes_at(const struct ncp_dataset *ds, uint64_t row,
			  const uint32_t **spk)
{
	*spk = ds->idx + ds->ptr[row];
	return (int)(ds->ptr[row + 1] - ds->ptr[row]);
}

void ncp_dataset_view(const struct ncp_dataset *ds, uint64_t row, int len,
		      const uint32_t **spk, int *n, const float **stim,
		      struct ncp_feat_win *w)
{
	uint64_t start = ds->seg[ncp_dataset_segment_of(ds, row)].start;
	static const uint32_t none[1];

	for (int i = 0; i < len; i++) {
		uint64_t back = (uint64_t)(len - 1 - i);
		if (row - start < back) {
			spk[i] = none;
			n[i] = 0;
			stim[i] = NULL;
			continue;
		}
		uint64_t s = row - back;
		spk[i] = ds->idx + ds->ptr[s];
		n[i] = (int)(ds->ptr[s + 1] - ds->ptr[s]);
		stim[i] = ncp_dataset_stim_at(ds, s);
	}
	w->len = len;
	w->spk = spk;
	w->n = n;
	w->stim = stim;
}

int ncp_dataset_split(const struct ncp_dataset *ds,
		      const struct ncp_dataset_split_opts *o, uint64_t **train,
		      size_t *ntrain, uint64_t **val, size_t *nval, char *err,
		      size_t errlen)
{
	/* label: 0 unusable, 1 train, 2 validation */
	uint8_t *label = calloc((size_t)NCP_MAX(ds->steps, 1), 1);
	uint64_t nblocks = 0, block = NCP_MAX(o->block, 1), bi = 0, nv_blocks;
	size_t nt = 0, nvr = 0;

	*train = *val = NULL;
	*ntrain = *nval = 0;
	if (!label) {
		ncp_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < ds->nseg; i++) {
		uint64_t first = (uint64_t)(o->window - 1);
		uint64_t len = ds->seg[i].len > (uint64_t)o->horizon ?
			       ds->seg[i].len - (uint64_t)o->horizon : 0;
		if (len > first)
			nblocks += (len - first + block - 1) / block;
	}
	if (nblocks == 0) {
		free(label);
		return ncp_errf(err, errlen,
				"no usable rows: every segment is shorter than the window (%d steps) plus the horizon (%d)",
				o->window, o->horizon);
	}
	nv_blocks = (uint64_t)llround(o->val_frac * (double)nblocks);
	if (o->val_frac > 0 && nv_blocks == 0)
		nv_blocks = 1;
	if (nv_blocks >= nblocks && nblocks > 1)
		nv_blocks = nblocks - 1;
	if (o->val_frac > 0 && nblocks == 1) {
		free(label);
		return ncp_errf(err, errlen,
				"too little data to hold out validation blocks of %" PRIu64
				" steps: record longer, or give a smaller block",
				block);
	}
	for (int i = 0; i < ds->nseg; i++) {
		uint64_t a = ds->seg[i].start + (uint64_t)(o->window - 1);
		uint64_t end = ds->seg[i].start + ds->seg[i].len -
			       NCP_MIN(ds->seg[i].len, (uint64_t)o->horizon);
		if (end <= a)
			continue;
		for (uint64_t b0 = a; b0 < end; b0 += block, bi++) {
			uint64_t b1 = NCP_MIN(b0 + block, end);
			/* Evenly spread: block bi is held out when it crosses
			 * a multiple of nblocks / nv_blocks. */
			bool is_val = nv_blocks &&
				      (bi + 1) * nv_blocks / nblocks > bi * nv_blocks / nblocks;
			memset(label + b0, is_val ? 2 : 1, (size_t)(b1 - b0));
		}
		/* The gap around validation blocks. */
		for (uint64_t r = a; r < end; r++) {
			if (label[r] != 2)
				continue;
			uint64_t lo = r >= a + o->gap ? r - o->gap : a;
			uint64_t hi = NCP_MIN(r + o->gap + 1, end);
			for (uint64_t k = lo; k < hi; k++)
				if (label[k] == 1)
					label[k] = 0;
			/* Skip to the block's end: only its edges matter. */
			while (r + 1 < end && label[r + 1] == 2)
				r++;
			lo = r + 1;
			hi = NCP_MIN(r + o->gap + 1, end);
			for (uint64_t k = lo; k < hi; k++)
				if (label[k] == 1)
					label[k] = 0;
		}
	}
	for (uint64_t r = 0; r < ds->steps; r++) {
		nt += label[r] == 1;
		nvr += label[r] == 2;
	}
	*train = malloc(NCP_MAX(nt, 1) * sizeof(uint64_t));
	*val = malloc(NCP_MAX(nvr, 1) * sizeof(uint64_t));
	if (!*train || !*val) {
		free(*train);
		free(*val);
		*train = *val = NULL;
		free(label);
		ncp_errf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint64_t r = 0; r < ds->steps; r++) {
		if (label[r] == 1)
			(*train)[(*ntrain)++] = r;
		else if (label[r] == 2)
			(*val)[(*nval)++] = r;
	}
	free(label);
	return 0;
}
