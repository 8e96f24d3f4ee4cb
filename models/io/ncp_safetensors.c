#include "models/io/ncp_safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/base/ncp_utf8.h"
#include "models/io/ncp_file.h"
#include "models/io/ncp_json_doc.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "safetensors data is little-endian; this reader maps it as is");

static const struct {
	const char *name;
	size_t size;
} dtypes[NCP_SAFETENSORS_DTYPE_COUNT] = {
	[NCP_SAFETENSORS_BOOL] = { "BOOL", 1 },
	[NCP_SAFETENSORS_U8] = { "U8", 1 },
	[NCP_SAFETENSORS_I8] = { "I8", 1 },
	[NCP_SAFETENSORS_F8_E5M2] = { "F8_E5M2", 1 },
	[NCP_SAFETENSORS_F8_E4M3] = { "F8_E4M3", 1 },
	[NCP_SAFETENSORS_F8_E8M0] = { "F8_E8M0", 1 },
	[NCP_SAFETENSORS_I16] = { "I16", 2 },
	[NCP_SAFETENSORS_U16] = { "U16", 2 },
	[NCP_SAFETENSORS_F16] = { "F16", 2 },
	[NCP_SAFETENSORS_BF16] = { "BF16", 2 },
	[NCP_SAFETENSORS_I32] = { "I32", 4 },
	[NCP_SAFETENSORS_U32] = { "U32", 4 },
	[NCP_SAFETENSORS_F32] = { "F32", 4 },
	[NCP_SAFETENSORS_C64] = { "C64", 8 },
	[NCP_SAFETENSORS_F64] = { "F64", 8 },
	[NCP_SAFETENSORS_I64] = { "I64", 8 },
	[NCP_SAFETENSORS_U64] = { "U64", 8 },
};

const char *ncp_safetensors_dtype_name(enum ncp_safetensors_dtype dtype)
{
	return (unsigned)dtype < NCP_SAFETENSORS_DTYPE_COUNT ? dtypes[dtype].name
							     : NULL;
}

size_t ncp_safetensors_dtype_size(enum ncp_safetensors_dtype dtype)
{
	return (unsigned)dtype < NCP_SAFETENSORS_DTYPE_COUNT ? dtypes[dtype].size
							     : 0;
}

/* Elements times element size, or false on overflow. */
static bool tensor_bytes(enum ncp_safetensors_dtype dtype, int ndim,
			 const uint64_t *shape, uint64_t *bytes)
{
	uint64_t n = 1;
	size_t size = ncp_safetensors_dtype_size(dtype);

	if (!size || ndim < 0 || ndim > NCP_SAFETENSORS_MAX_DIMS)
		return false;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] && n > UINT64_MAX / shape[i])
			return false;
		n *= shape[i];
	}
	if (n > UINT64_MAX / size)
		return false;
	*bytes = n * size;
	return true;
}

/* "[3, 4]" for messages, cut to fit. */
static const char *shape_str(char *buf, size_t len, int ndim,
			     const uint64_t *shape)
{
	size_t o = (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < ndim; i++) {
		char d[32];
		int k = snprintf(d, sizeof(d), "%s%s", i ? ", " : "",
				 shape[i] == NCP_SAFETENSORS_ANY ? "any" : "");
		if (shape[i] != NCP_SAFETENSORS_ANY)
			snprintf(d + k, sizeof(d) - (size_t)k, "%" PRIu64, shape[i]);
		if (o + strlen(d) + 5 > len) {
			snprintf(buf + o, len - o, ", ...]");
			return buf;
		}
		o += (size_t)snprintf(buf + o, len - o, "%s", d);
	}
	snprintf(buf + o, len - o, "]");
	return buf;
}

/* ---- Writing ------------------------------------------------------------ */

static bool name_ok(const char *s)
{
	size_t n;
	if (!s)
		return false;
	n = strlen(s);
	return ncp_utf8_check(s, n) == n;
}

int ncp_safetensors_write(const char *path,
			  const struct ncp_safetensors_tensor *tensors,
			  size_t n, const struct ncp_safetensors_meta *meta,
			  size_t nmeta)
{
	struct ncp_json j;
	struct ncp_file_atomic f;
	size_t *order = NULL;
	uint64_t *sizes = NULL;
	int r;

	/* Check everything before writing anything. */
	for (size_t i = 0; i < nmeta; i++) {
		if (!name_ok(meta[i].key) || !name_ok(meta[i].value))
			return -EINVAL;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(meta[i].key, meta[k].key))
				return -EINVAL;
	}
	order = malloc((n ? n : 1) * sizeof(*order));
	sizes = malloc((n ? n : 1) * sizeof(*sizes));
	if (!order || !sizes) {
		r = -ENOMEM;
		goto out_mem;
	}
	r = -EINVAL;
	for (size_t i = 0; i < n; i++) {
		const struct ncp_safetensors_tensor *t = &tensors[i];
		if (!name_ok(t->name) || !strcmp(t->name, "__metadata__") ||
		    !tensor_bytes(t->dtype, t->ndim, t->shape, &sizes[i]) ||
		    (sizes[i] && !t->data))
			goto out_mem;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(t->name, tensors[k].name))
				goto out_mem;
		order[i] = i;
	}
	/* Largest elements first keeps every offset aligned for its type
	 * (insertion sort: stable, and n is small). */
	for (size_t i = 1; i < n; i++) {
		size_t x = order[i], k = i;
		size_t sx = dtypes[tensors[x].dtype].size;
		while (k > 0 && dtypes[tensors[order[k - 1]].dtype].size < sx) {
			order[k] = order[k - 1];
			k--;
		}
		order[k] = x;
	}

	ncp_json_init(&j);
	ncp_json_obj(&j);
	if (nmeta) {
		ncp_json_key(&j, "__metadata__");
		ncp_json_obj(&j);
		for (size_t i = 0; i < nmeta; i++) {
			ncp_json_key(&j, meta[i].key);
			ncp_json_str(&j, meta[i].value);
		}
		ncp_json_end(&j);
	}
	uint64_t off = 0;
	for (size_t k = 0; k < n; k++) {
		const struct ncp_safetensors_tensor *t = &tensors[order[k]];
		ncp_json_key(&j, t->name);
		ncp_json_obj(&j);
		ncp_json_key(&j, "dtype");
		ncp_json_str(&j, dtypes[t->dtype].name);
		ncp_json_key(&j, "shape");
		ncp_json_arr(&j);
		for (int d = 0; d < t->ndim; d++) {
			char b[24];
			snprintf(b, sizeof(b), "%" PRIu64, t->shape[d]);
			ncp_json_raw(&j, b);
		}
		ncp_json_end(&j);
		ncp_json_key(&j, "data_offsets");
		ncp_json_arr(&j);
		if (off > INT64_MAX - sizes[order[k]]) {
			ncp_json_fini(&j);
			goto out_mem;
		}
		ncp_json_int(&j, (int64_t)off);
		off += sizes[order[k]];
		ncp_json_int(&j, (int64_t)off);
		ncp_json_end(&j);
		ncp_json_end(&j);
	}
	ncp_json_end(&j);
	r = ncp_json_finish(&j);
	if (r)
		goto out_json;

	/* Pad with spaces so the data starts 8-byte aligned. */
	size_t hlen = (j.len + 7) & ~(size_t)7;
	unsigned char size_le[8];
	for (int i = 0; i < 8; i++)
		size_le[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
	r = ncp_file_atomic_open(&f, path, 0644);
	if (r)
		goto out_json;
	ncp_file_atomic_write(&f, size_le, 8);
	ncp_file_atomic_write(&f, j.buf, j.len);
	ncp_file_atomic_write(&f, "        ", hlen - j.len);
	for (size_t k = 0; k < n; k++)
		if (sizes[order[k]])
			ncp_file_atomic_write(&f, tensors[order[k]].data,
					      (size_t)sizes[order[k]]);
	if (f.err) {
		r = f.err;
		ncp_file_atomic_abort(&f);
	} else {
		r = ncp_file_atomic_commit(&f);
	}
out_json:
	ncp_json_fini(&j);
out_mem:
	free(sizes);
	free(order);
	return r;
}

/* ---- Reading ------------------------------------------------------------ */

struct ncp_safetensors {
	void *mem;		/* the file, data moved onto 8-byte alignment */
	json_t *doc;		/* owns the names and metadata strings */
	struct ncp_safetensors_tensor *tensors;
	size_t *name_len;	/* per tensor */
	size_t *by_name;	/* tensor indexes sorted by name */
	size_t n;
	struct ncp_safetensors_meta *meta;
	size_t nmeta;
};

/* What a reader needs while it validates. */
struct reader {
	const char *name;	/* file, for messages */
	char *err;
	size_t errlen;
};

static int rfail(const struct reader *R, const char *fmt, ...) NCP_PRINTF(2, 3);
static int rfail(const struct reader *R, const char *fmt, ...)
{
	char msg[384];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ncp_errf(R->err, R->errlen, "%s: %s", R->name, msg);
}

/* A JSON value that must be a non-negative integer. */
static bool get_u64(const json_t *v, uint64_t *out)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

static int parse_tensor(const struct reader *R, const char *name,
			const json_t *v, struct ncp_safetensors_tensor *t,
			uint64_t data_len)
{
	const json_t *dt = NULL, *shape = NULL, *offs = NULL, *fv;
	const char *fk;
	char q[80], s1[96];

	ncp_json_quote(q, sizeof(q), name, strlen(name));
	if (!json_is_object(v))
		return rfail(R, "tensor %s: expected an object, found %s", q,
			     ncp_json_doc_type_name(v));
	json_object_foreach((json_t *)v, fk, fv) {
		if (!strcmp(fk, "dtype"))
			dt = fv;
		else if (!strcmp(fk, "shape"))
			shape = fv;
		else if (!strcmp(fk, "data_offsets"))
			offs = fv;
		else {
			char k[64];
			ncp_json_quote(k, sizeof(k), fk, strlen(fk));
			return rfail(R, "tensor %s: unknown key %s (expected dtype, shape and data_offsets)",
				     q, k);
		}
	}
	if (!dt || !shape || !offs)
		return rfail(R, "tensor %s: missing \"%s\"", q,
			     !dt ? "dtype" : !shape ? "shape" : "data_offsets");

	if (!json_is_string(dt))
		return rfail(R, "tensor %s: dtype is %s, not a string", q,
			     ncp_json_doc_type_name(dt));
	int found = -1;
	for (int i = 0; i < NCP_SAFETENSORS_DTYPE_COUNT; i++)
		if (!strcmp(json_string_value(dt), dtypes[i].name))
			found = i;
	if (found < 0) {
		char d[48];
		ncp_json_quote(d, sizeof(d), json_string_value(dt),
			       json_string_length(dt));
		return rfail(R, "tensor %s: unknown or unsupported dtype %s", q, d);
	}
	t->dtype = (enum ncp_safetensors_dtype)found;

	if (!json_is_array(shape))
		return rfail(R, "tensor %s: shape is %s, not an array", q,
			     ncp_json_doc_type_name(shape));
	if (json_array_size(shape) > NCP_SAFETENSORS_MAX_DIMS)
		return rfail(R, "tensor %s: shape has %zu dimensions, more than %d",
			     q, json_array_size(shape), NCP_SAFETENSORS_MAX_DIMS);
	t->ndim = (int)json_array_size(shape);
	for (size_t i = 0; i < json_array_size(shape); i++)
		if (!get_u64(json_array_get(shape, i), &t->shape[i]))
			return rfail(R, "tensor %s: shape element %zu is not a non-negative integer",
				     q, i);

	if (!json_is_array(offs) || json_array_size(offs) != 2 ||
	    !get_u64(json_array_get(offs, 0), &t->begin) ||
	    !get_u64(json_array_get(offs, 1), &t->end) || t->begin > t->end)
		return rfail(R, "tensor %s: data_offsets must be [begin, end] with integers 0 <= begin <= end",
			     q);

	uint64_t bytes;
	if (!tensor_bytes(t->dtype, t->ndim, t->shape, &bytes))
		return rfail(R, "tensor %s: shape %s of %s overflows 64 bits", q,
			     shape_str(s1, sizeof(s1), t->ndim, t->shape),
			     dtypes[t->dtype].name);
	if (bytes != t->end - t->begin)
		return rfail(R, "tensor %s: shape %s of %s needs %" PRIu64
			     " bytes, data_offsets [%" PRIu64 ", %" PRIu64
			     "] hold %" PRIu64,
			     q, shape_str(s1, sizeof(s1), t->ndim, t->shape),
			     dtypes[t->dtype].name, bytes, t->begin, t->end,
			     t->end - t->begin);
	if (t->end > data_len)
		return rfail(R, "tensor %s: data_offsets [%" PRIu64 ", %" PRIu64
			     "] go past the end of the data (%" PRIu64 " bytes)",
			     q, t->begin, t->end, data_len);
	return 0;
}

static int parse_meta(const struct reader *R, struct ncp_safetensors *st,
		      const json_t *v)
{
	const char *key;
	const json_t *val;
	char q[80];

	if (!json_is_object(v))
		return rfail(R, "__metadata__ is %s, not an object",
			     ncp_json_doc_type_name(v));
	st->meta = calloc(json_object_size(v) ? json_object_size(v) : 1,
			  sizeof(*st->meta));
	if (!st->meta)
		return rfail(R, "out of memory");
	/* (The parser refuses \u0000, so keys and values are C strings.) */
	json_object_foreach((json_t *)v, key, val) {
		ncp_json_quote(q, sizeof(q), key, strlen(key));
		if (!json_is_string(val))
			return rfail(R, "__metadata__ key %s: the value is %s, not a string",
				     q, ncp_json_doc_type_name(val));
		st->meta[st->nmeta].key = key;
		st->meta[st->nmeta].value = json_string_value(val);
		st->nmeta++;
	}
	return 0;
}

static int cmp_offsets(const void *a, const void *b, void *ctx)
{
	const struct ncp_safetensors_tensor *base = ctx;
	const struct ncp_safetensors_tensor *x = &base[*(const size_t *)a];
	const struct ncp_safetensors_tensor *y = &base[*(const size_t *)b];
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

static int cmp_names_n(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, NCP_MIN(an, bn));
	if (c)
		return c;
	return an < bn ? -1 : an > bn;
}

static int cmp_names(const void *a, const void *b, void *ctx)
{
	const struct ncp_safetensors *st = ctx;
	size_t i = *(const size_t *)a, k = *(const size_t *)b;
	return cmp_names_n(st->tensors[i].name, st->name_len[i],
			   st->tensors[k].name, st->name_len[k]);
}

/* The tensors must cover [0, data_len) exactly, without overlap. */
static int check_coverage(const struct reader *R, struct ncp_safetensors *st,
			  uint64_t data_len)
{
	size_t *idx = malloc((st->n ? st->n : 1) * sizeof(*idx));
	const struct ncp_safetensors_tensor *prev = NULL;
	uint64_t at = 0;
	int r = 0;
	char q1[80], q2[80];

	if (!idx)
		return rfail(R, "out of memory");
	for (size_t i = 0; i < st->n; i++)
		idx[i] = i;
	qsort_r(idx, st->n, sizeof(*idx), cmp_offsets, st->tensors);
	for (size_t k = 0; k < st->n && !r; k++) {
		const struct ncp_safetensors_tensor *t = &st->tensors[idx[k]];
		if (t->begin < at) {
			ncp_json_quote(q1, sizeof(q1), prev->name,
				       st->name_len[prev - st->tensors]);
			ncp_json_quote(q2, sizeof(q2), t->name,
				       st->name_len[idx[k]]);
			r = rfail(R, "tensors %s [%" PRIu64 ", %" PRIu64
				  "] and %s [%" PRIu64 ", %" PRIu64 "] overlap",
				  q1, prev->begin, prev->end, q2, t->begin,
				  t->end);
		} else if (t->begin > at) {
			r = rfail(R, "bytes [%" PRIu64 ", %" PRIu64
				  ") of the data belong to no tensor",
				  at, t->begin);
		}
		if (t->end > at || !prev) {
			at = t->end;
			prev = t;
		}
	}
	if (!r && at < data_len)
		r = rfail(R, "bytes [%" PRIu64 ", %" PRIu64
			  ") of the data (the end of the file) belong to no tensor",
			  at, data_len);
	free(idx);
	return r;
}

/* The size field, against the file's length (len bytes, of which the
 * first NCP_MIN(len, 8) are at b). */
static int check_size(const struct reader *R, const unsigned char *b,
		      uint64_t len, uint64_t *hlen)
{
	*hlen = 0;
	if (len < 8)
		return rfail(R, "%" PRIu64 " bytes is too short for a safetensors file (the header size alone takes 8)",
			     len);
	for (int i = 0; i < 8; i++)
		*hlen |= (uint64_t)b[i] << (8 * i);
	if (*hlen > NCP_SAFETENSORS_MAX_HEADER)
		return rfail(R, "header size %" PRIu64 " exceeds the limit of %u bytes (not a safetensors file?)",
			     *hlen, NCP_SAFETENSORS_MAX_HEADER);
	if (*hlen > len - 8)
		return rfail(R, "header size %" PRIu64 " goes past the end of the file (%" PRIu64
			     " bytes follow the size field)",
			     *hlen, len - 8);
	return 0;
}

static struct ncp_safetensors *from_buffer(void *mem, size_t len,
					   const char *name, char *err,
					   size_t errlen)
{
	struct reader R = { name, err, errlen };
	struct ncp_safetensors *st;
	const unsigned char *b = mem;
	uint64_t hlen = 0;
	int r = -EINVAL;

	st = calloc(1, sizeof(*st));
	if (!st) {
		rfail(&R, "out of memory");
		r = -ENOMEM;
		goto err_mem;
	}
	st->mem = mem;
	if (check_size(&R, b, len, &hlen))
		goto err_st;

	char jerr[256];
	struct ncp_json_doc_limits lim = { .max_bytes = (size_t)hlen + 1,
					   .max_depth = 8 };
	st->doc = ncp_json_doc_parse((const char *)b + 8, (size_t)hlen, NULL,
				     &lim, jerr, sizeof(jerr));
	if (!st->doc) {
		r = -errno;
		rfail(&R, "header JSON, %s", jerr);
		goto err_st;
	}
	const json_t *root = st->doc;
	if (!json_is_object(root)) {
		rfail(&R, "the header is %s, not a JSON object",
		      ncp_json_doc_type_name(root));
		goto err_st;
	}

	size_t data_off = 8 + (size_t)hlen;
	uint64_t data_len = len - data_off;
	size_t nkeys = json_object_size(root) ? json_object_size(root) : 1;
	st->tensors = calloc(nkeys, sizeof(*st->tensors));
	st->name_len = calloc(nkeys, sizeof(*st->name_len));
	st->by_name = calloc(nkeys, sizeof(*st->by_name));
	if (!st->tensors || !st->name_len || !st->by_name) {
		rfail(&R, "out of memory");
		r = -ENOMEM;
		goto err_st;
	}
	const char *key;
	const json_t *val;
	json_object_foreach((json_t *)root, key, val) {
		if (!strcmp(key, "__metadata__")) {
			if (parse_meta(&R, st, val))
				goto err_st;
			continue;
		}
		struct ncp_safetensors_tensor *t = &st->tensors[st->n];
		t->name = key;
		st->name_len[st->n] = strlen(key);
		if (parse_tensor(&R, key, val, t, data_len))
			goto err_st;
		st->n++;
	}
	if (check_coverage(&R, st, data_len))
		goto err_st;

	/* The names and strings live in the JSON tree, so the header bytes
	 * may now be overwritten: move the data onto an 8-byte boundary. */
	size_t to = data_off & ~(size_t)7;
	if (to != data_off)
		memmove((char *)mem + to, (char *)mem + data_off, (size_t)data_len);
	for (size_t i = 0; i < st->n; i++)
		st->tensors[i].data = (char *)mem + to + st->tensors[i].begin;

	for (size_t i = 0; i < st->n; i++)
		st->by_name[i] = i;
	qsort_r(st->by_name, st->n, sizeof(*st->by_name), cmp_names, st);
	return st;

err_st:
	ncp_safetensors_free(st);
	errno = -r;
	return NULL;
err_mem:
	free(mem);
	errno = -r;
	return NULL;
}

struct ncp_safetensors *ncp_safetensors_parse(const void *buf, size_t len,
					      const char *name, char *err,
					      size_t errlen)
{
	void *mem = malloc(len ? len : 1);

	if (!name)
		name = "<safetensors>";
	if (!mem) {
		ncp_errf(err, errlen, "%s: out of memory", name);
		errno = ENOMEM;
		return NULL;
	}
	if (len)
		memcpy(mem, buf, len);
	return from_buffer(mem, len, name, err, errlen);
}

struct ncp_safetensors *ncp_safetensors_load(const char *path, char *err,
					     size_t errlen)
{
	struct reader R = { path, err, errlen };
	unsigned char head[8];
	struct stat st;
	uint64_t hlen;
	void *mem;
	size_t len;
	int r;

	/* Look at the size field before reading what may be a huge file
	 * that is not safetensors at all. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0 && !fstat(fd, &st) && S_ISREG(st.st_mode)) {
		ssize_t k = pread(fd, head, sizeof(head), 0);
		if (k >= 0 && check_size(&R, head, k < 8 ? (uint64_t)k
							 : (uint64_t)st.st_size,
					 &hlen)) {
			close(fd);
			errno = EINVAL;
			return NULL;
		}
	}
	if (fd >= 0)
		close(fd);
	r = ncp_file_read(path, SIZE_MAX, &mem, &len);
	if (r) {
		ncp_errf(err, errlen, "%s: %s", path, ncp_strerror(r));
		errno = -r;
		return NULL;
	}
	return from_buffer(mem, len, path, err, errlen);
}

void ncp_safetensors_free(struct ncp_safetensors *st)
{
	if (!st)
		return;
	json_decref(st->doc);
	free(st->tensors);
	free(st->name_len);
	free(st->by_name);
	free(st->meta);
	free(st->mem);
	free(st);
}

size_t ncp_safetensors_count(const struct ncp_safetensors *st)
{
	return st->n;
}

const struct ncp_safetensors_tensor *
ncp_safetensors_at(const struct ncp_safetensors *st, size_t i)
{
	return i < st->n ? &st->tensors[i] : NULL;
}

const struct ncp_safetensors_tensor *
ncp_safetensors_find(const struct ncp_safetensors *st, const char *name)
{
	size_t lo = 0, hi = st->n, n = strlen(name);

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2, i = st->by_name[mid];
		int c = cmp_names_n(name, n, st->tensors[i].name, st->name_len[i]);
		if (c == 0)
			return &st->tensors[i];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

int ncp_safetensors_get(const struct ncp_safetensors *st, const char *name,
			enum ncp_safetensors_dtype dtype, int ndim,
			const uint64_t *shape, const void **data, char *err,
			size_t errlen)
{
	const struct ncp_safetensors_tensor *t = ncp_safetensors_find(st, name);
	char q[80], s1[96], s2[96];
	bool same;

	*data = NULL;
	ncp_json_quote(q, sizeof(q), name, strlen(name));
	if (!t) {
		ncp_errf(err, errlen, "no tensor %s in the model", q);
		return -ENOENT;
	}
	same = t->dtype == dtype && t->ndim == ndim;
	for (int i = 0; same && i < ndim; i++)
		if (shape[i] != NCP_SAFETENSORS_ANY && shape[i] != t->shape[i])
			same = false;
	if (!same)
		return ncp_errf(err, errlen,
				"tensor %s: expected %s %s, found %s %s", q,
				ncp_safetensors_dtype_name(dtype) ?
					ncp_safetensors_dtype_name(dtype) : "?",
				shape_str(s1, sizeof(s1), ndim, shape),
				dtypes[t->dtype].name,
				shape_str(s2, sizeof(s2), t->ndim, t->shape));
	if (t->begin % dtypes[t->dtype].size)
		return ncp_errf(err, errlen,
				"tensor %s: data offset %" PRIu64
				" is not a multiple of the %s element size",
				q, t->begin, dtypes[t->dtype].name);
	*data = t->data;
	return 0;
}

size_t ncp_safetensors_meta_count(const struct ncp_safetensors *st)
{
	return st->nmeta;
}

const struct ncp_safetensors_meta *
ncp_safetensors_meta_at(const struct ncp_safetensors *st, size_t i)
{
	return i < st->nmeta ? &st->meta[i] : NULL;
}

const char *ncp_safetensors_meta_get(const struct ncp_safetensors *st,
				     const char *key)
{
	for (size_t i = 0; i < st->nmeta; i++)
		if (!strcmp(st->meta[i].key, key))
			return st->meta[i].value;
	return NULL;
}

int ncp_safetensors_meta_uint(const struct ncp_safetensors *st,
			      const char *key, uint64_t *out, char *err,
			      size_t errlen)
{
	const char *v = ncp_safetensors_meta_get(st, key);
	char q[80], qv[80];
	uint64_t x = 0;

	ncp_json_quote(q, sizeof(q), key, strlen(key));
	if (!v) {
		ncp_errf(err, errlen, "metadata %s is missing", q);
		return -ENOENT;
	}
	ncp_json_quote(qv, sizeof(qv), v, strlen(v));
	if (!*v || (v[0] == '0' && v[1]))
		return ncp_errf(err, errlen,
				"metadata %s is %s, not a decimal integer", q, qv);
	for (const char *p = v; *p; p++) {
		if (*p < '0' || *p > '9' || x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return ncp_errf(err, errlen,
					"metadata %s is %s, not a decimal integer below 2^64",
					q, qv);
		x = x * 10 + (uint64_t)(*p - '0');
	}
	*out = x;
	return 0;
}
