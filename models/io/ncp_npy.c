#include "models/io/ncp_npy.h"

#include "models/arm/ncp_arm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/io/ncp_file.h"
#include "models/io/ncp_json_doc.h"

static const char magic[6] = "\x93NUMPY";

static const struct {
	const char *descr;
	size_t size;
} dtypes[NCP_NPY_DTYPE_COUNT] = {
	[NCP_NPY_BOOL] = { "|b1", 1 }, [NCP_NPY_U8] = { "|u1", 1 },
	[NCP_NPY_I8] = { "|i1", 1 },   [NCP_NPY_U16] = { "<u2", 2 },
	[NCP_NPY_I16] = { "<i2", 2 },  [NCP_NPY_U32] = { "<u4", 4 },
	[NCP_NPY_I32] = { "<i4", 4 },  [NCP_NPY_U64] = { "<u8", 8 },
	[NCP_NPY_I64] = { "<i8", 8 },  [NCP_NPY_F32] = { "<f4", 4 },
	[NCP_NPY_F64] = { "<f8", 8 },
};

const char *ncp_npy_dtype_descr(enum ncp_npy_dtype dtype)
{
	return (unsigned)dtype < NCP_NPY_DTYPE_COUNT ? dtypes[dtype].descr
						     : NULL;
}

size_t ncp_npy_dtype_size(enum ncp_npy_dtype dtype)
{
	return (unsigned)dtype < NCP_NPY_DTYPE_COUNT ? dtypes[dtype].size : 0;
}

bool ncp_npy_shape_count(const struct ncp_npy_header *h, uint64_t *count,
			 uint64_t *bytes)
{
	uint64_t n = 1;
	size_t size = ncp_npy_dtype_size(h->dtype);

	if (h->ndim < 0 || h->ndim > NCP_NPY_MAX_DIMS || !size)
		return false;
	for (int i = 0; i < h->ndim; i++) {
		if (h->shape[i] && n > UINT64_MAX / h->shape[i])
			return false;
		n *= h->shape[i];
	}
	if (n > UINT64_MAX / size)
		return false;
	if (count)
		*count = n;
	if (bytes)
		*bytes = n * size;
	return true;
}

/* ---- Header formatting -------------------------------------------------- */

#define GROWTH_DIGITS 20	/* digits of UINT64_MAX */

int ncp_npy_header_format(const struct ncp_npy_header *h, bool growable,
			  void *buf, size_t cap, size_t *len)
{
	/* 64 dims of 20 digits and ", " each fit easily. */
	char dict[128 + NCP_NPY_MAX_DIMS * 24];
	size_t n, pad = 0, prefix, total;
	int k;

	*len = 0;
	if (!ncp_npy_shape_count(h, NULL, NULL) || (growable && h->ndim < 1))
		return -EINVAL;
	k = snprintf(dict, sizeof(dict),
		     "{'descr': '%s', 'fortran_order': False, 'shape': (",
		     dtypes[h->dtype].descr);
	n = (size_t)k;
	for (int i = 0; i < h->ndim; i++) {
		k = snprintf(dict + n, sizeof(dict) - n, "%s%" PRIu64,
			     i ? ", " : "", h->shape[i]);
		if (i == 0 && growable) {
			/* k digits now, up to GROWTH_DIGITS later. */
			pad = GROWTH_DIGITS - (size_t)k;
		}
		n += (size_t)k;
	}
	n += (size_t)snprintf(dict + n, sizeof(dict) - n, "%s), }",
			      h->ndim == 1 ? "," : "");
	/* Magic, version, length field, dict, growth room, '\n'; version 1.0
	 * has a 16-bit length field and is used when the header fits it. */
	prefix = 6 + 2 + 2;
	total = (prefix + n + pad + 1 + 63) & ~(size_t)63;
	if (total - prefix > 0xffff) {
		prefix = 6 + 2 + 4;
		total = (prefix + n + pad + 1 + 63) & ~(size_t)63;
	}
	*len = total;
	if (!buf)
		return 0;
	if (cap < total)
		return -ENOSPC;

	unsigned char *o = buf;
	size_t hlen = total - prefix;
	memcpy(o, magic, 6);
	if (prefix == 10) {
		o[6] = 1;
		o[7] = 0;
		o[8] = (unsigned char)(hlen & 0xff);
		o[9] = (unsigned char)(hlen >> 8);
	} else {
		o[6] = 2;
		o[7] = 0;
		for (int i = 0; i < 4; i++)
			o[8 + i] = (unsigned char)(hlen >> (8 * i));
	}
	memcpy(o + prefix, dict, n);
	memset(o + prefix + n, ' ', total - prefix - n - 1);
	o[total - 1] = '\n';
	return 0;
}

/* ---- Header parsing: a Python literal ----------------------------------- */

enum pyk { PY_STR, PY_INT, PY_BOOL, PY_NONE, PY_TUPLE, PY_LIST, PY_DICT };

struct pynode {
	enum pyk kind;
	size_t pos;		/* offset in the header text */
	int first, next;	/* children (dict: key, value, key, ...), sibling */
	int n;			/* children */
	bool neg, big;		/* PY_INT: sign; magnitude past 64 bits */
	uint64_t mag;		/* PY_INT */
	bool b;			/* PY_BOOL */
	size_t soff, slen;	/* PY_STR: in the decoded-string buffer */
};

#define PY_MAX_NODES 512
#define PY_MAX_DEPTH 16

struct pyparser {
	const char *s;
	size_t n, p;
	size_t file_off;	/* where the text starts in the file */
	bool allow_long;	/* Python 2's "3L" (versions 1.0 and 2.0) */
	struct pynode nodes[PY_MAX_NODES];
	int nnodes, depth;
	char *sbuf;		/* decoded strings; at most n bytes in all */
	size_t slen;
	const char *name;
	char *err;
	size_t errlen;
};

static const char *py_found(const struct pyparser *P, char *b, size_t len)
{
	if (P->p >= P->n)
		return "the end of the header";
	unsigned char c = (unsigned char)P->s[P->p];
	if (c >= 0x21 && c < 0x7f)
		snprintf(b, len, "'%c'", c);
	else
		snprintf(b, len, "byte 0x%02X", c);
	return b;
}

static int py_fail(struct pyparser *P, size_t pos, const char *fmt, ...)
	NCP_PRINTF(3, 4);
static int py_fail(struct pyparser *P, size_t pos, const char *fmt, ...)
{
	char msg[160];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ncp_errf(P->err, P->errlen,
			"%s: bad header dict at byte %zu of the file: %s",
			P->name, P->file_off + pos, msg);
}

static void py_ws(struct pyparser *P)
{
	while (P->p < P->n && strchr(" \t\n\r\f\v", P->s[P->p]) && P->s[P->p])
		P->p++;
}

static int py_new(struct pyparser *P, enum pyk kind)
{
	if (P->nnodes >= PY_MAX_NODES) {
		py_fail(P, P->p, "more than %d values", PY_MAX_NODES);
		return -1;
	}
	struct pynode *x = &P->nodes[P->nnodes];
	memset(x, 0, sizeof(*x));
	x->kind = kind;
	x->pos = P->p;
	x->first = x->next = -1;
	return P->nnodes++;
}

static int py_value(struct pyparser *P);

static int py_string(struct pyparser *P, int id)
{
	char q = P->s[P->p++];
	struct pynode *x = &P->nodes[id];

	x->soff = P->slen;
	for (;;) {
		if (P->p >= P->n)
			return py_fail(P, P->p, "unterminated string");
		char c = P->s[P->p];
		if (c == q) {
			P->p++;
			break;
		}
		if (c == '\n')
			return py_fail(P, P->p, "unterminated string");
		if (c == '\\') {
			char e = P->p + 1 < P->n ? P->s[P->p + 1] : 0;
			if (e != '\\' && e != '\'' && e != '"')
				return py_fail(P, P->p,
					       "unsupported escape in a string");
			c = e;
			P->p++;
		}
		P->sbuf[P->slen++] = c;
		P->p++;
	}
	x->slen = P->slen - x->soff;
	return 0;
}

static int py_int(struct pyparser *P, int id)
{
	struct pynode *x = &P->nodes[id];
	size_t start = P->p;
	char b[24];

	if (P->s[P->p] == '0' && P->p + 1 < P->n &&
	    ((P->s[P->p + 1] >= '1' && P->s[P->p + 1] <= '9') ||
	     strchr("xXoObB", P->s[P->p + 1])))
		return py_fail(P, P->p,
			       "only decimal integers without leading zeros are allowed");
	while (P->p < P->n) {
		char c = P->s[P->p];
		if (c >= '0' && c <= '9') {
			uint64_t d = (uint64_t)(c - '0');
			if (x->mag > (UINT64_MAX - d) / 10)
				x->big = true;
			else
				x->mag = x->mag * 10 + d;
			P->p++;
		} else if (c == '_' && P->p > start && P->p + 1 < P->n &&
			   P->s[P->p + 1] >= '0' && P->s[P->p + 1] <= '9') {
			P->p++;
		} else {
			break;
		}
	}
	if (P->p < P->n && (P->s[P->p] == 'L' || P->s[P->p] == 'l') &&
	    P->allow_long)
		P->p++;
	if (P->p < P->n && strchr(".eEjJ", P->s[P->p]))
		return py_fail(P, start, "expected an integer, found a float or complex number");
	if (P->p < P->n && ((P->s[P->p] >= 'a' && P->s[P->p] <= 'z') ||
			    (P->s[P->p] >= 'A' && P->s[P->p] <= 'Z') ||
			    P->s[P->p] == '_'))
		return py_fail(P, P->p, "unexpected %s after a number",
			       py_found(P, b, sizeof(b)));
	return 0;
}

/* Items of a tuple, list or dict up to the closing character. */
static int py_items(struct pyparser *P, int id, char close, bool dict)
{
	int last = -1;
	char b[24];

	P->p++;
	for (;;) {
		py_ws(P);
		if (P->p < P->n && P->s[P->p] == close) {
			P->p++;
			return 0;
		}
		for (int part = 0; part < (dict ? 2 : 1); part++) {
			if (part == 1) {
				py_ws(P);
				if (P->p >= P->n || P->s[P->p] != ':')
					return py_fail(P, P->p,
						       "expected ':' after a key, found %s",
						       py_found(P, b, sizeof(b)));
				P->p++;
			}
			int c = py_value(P);
			if (c < 0)
				return -EINVAL;
			if (last < 0)
				P->nodes[id].first = c;
			else
				P->nodes[last].next = c;
			last = c;
			P->nodes[id].n++;
		}
		py_ws(P);
		if (P->p < P->n && P->s[P->p] == ',') {
			P->p++;
			continue;
		}
		if (P->p < P->n && P->s[P->p] == close) {
			P->p++;
			return 0;
		}
		return py_fail(P, P->p, "expected ',' or '%c', found %s", close,
			       py_found(P, b, sizeof(b)));
	}
}

/* A value; returns its node, or -1 after writing the message. */
static int py_value(struct pyparser *P)
{
	int id;
	char b[24];

	py_ws(P);
	if (P->p >= P->n) {
		py_fail(P, P->p, "expected a value, found the end of the header");
		return -1;
	}
	if (++P->depth > PY_MAX_DEPTH) {
		py_fail(P, P->p, "nested deeper than %d levels", PY_MAX_DEPTH);
		return -1;
	}
	char c = P->s[P->p];
	if (c == '\'' || c == '"') {
		id = py_new(P, PY_STR);
		if (id < 0 || py_string(P, id))
			return -1;
	} else if (c == '-' || c == '+' || (c >= '0' && c <= '9')) {
		bool neg = false;
		size_t at = P->p;
		while (P->p < P->n && (P->s[P->p] == '-' || P->s[P->p] == '+')) {
			if (P->s[P->p] == '-')
				neg = !neg;
			P->p++;
			py_ws(P);
		}
		if (P->p >= P->n || P->s[P->p] < '0' || P->s[P->p] > '9') {
			py_fail(P, P->p, "expected a number after a sign, found %s",
				py_found(P, b, sizeof(b)));
			return -1;
		}
		id = py_new(P, PY_INT);
		if (id < 0 || py_int(P, id))
			return -1;
		P->nodes[id].neg = neg;
		P->nodes[id].pos = at;
	} else if (c == '(') {
		/* "()" and "(x,)" are tuples; "(x)" is just x. */
		size_t at = P->p;
		id = py_new(P, PY_TUPLE);
		if (id < 0 || py_items(P, id, ')', false))
			return -1;
		if (P->nodes[id].n == 1) {
			size_t q = P->p - 1;	/* the ')' */
			while (q > at && strchr(" \t\n\r\f\v", P->s[q - 1]))
				q--;
			if (P->s[q - 1] != ',')
				id = P->nodes[id].first;
		}
	} else if (c == '[') {
		id = py_new(P, PY_LIST);
		if (id < 0 || py_items(P, id, ']', false))
			return -1;
	} else if (c == '{') {
		id = py_new(P, PY_DICT);
		if (id < 0 || py_items(P, id, '}', true))
			return -1;
	} else {
		static const struct {
			const char *w;
			enum pyk k;
			bool b;
		} names[] = { { "True", PY_BOOL, true },
			      { "False", PY_BOOL, false },
			      { "None", PY_NONE, false } };
		size_t k = 0;
		while (P->p + k < P->n &&
		       ((P->s[P->p + k] >= 'a' && P->s[P->p + k] <= 'z') ||
			(P->s[P->p + k] >= 'A' && P->s[P->p + k] <= 'Z') ||
			(P->s[P->p + k] >= '0' && P->s[P->p + k] <= '9') ||
			P->s[P->p + k] == '_'))
			k++;
		for (size_t i = 0; i < NCP_ARRAY_SIZE(names); i++) {
			if (k == strlen(names[i].w) &&
			    !memcmp(P->s + P->p, names[i].w, k)) {
				id = py_new(P, names[i].k);
				if (id < 0)
					return -1;
				P->nodes[id].b = names[i].b;
				P->p += k;
				P->depth--;
				return id;
			}
		}
		if (k)
			py_fail(P, P->p, "expected a value, found the name '%.*s'",
				(int)NCP_MIN(k, (size_t)40), P->s + P->p);
		else
			py_fail(P, P->p, "expected a value, found %s",
				py_found(P, b, sizeof(b)));
		return -1;
	}
	P->depth--;
	return id;
}

static bool py_str_is(const struct pyparser *P, const struct pynode *x,
		      const char *s)
{
	return x->kind == PY_STR && x->slen == strlen(s) &&
	       !memcmp(P->sbuf + x->soff, s, x->slen);
}

static const char *kind_name(enum pyk k)
{
	static const char *names[] = { "a string", "an integer", "a bool",
				       "None", "a tuple", "a list", "a dict" };
	return names[k];
}

/* Interpret the dict at node 0. */
static int py_header(struct pyparser *P, struct ncp_npy_header *h)
{
	const struct pynode *d = &P->nodes[0];
	const struct pynode *descr = NULL, *fortran = NULL, *shape = NULL;
	char q[64];

	if (d->kind != PY_DICT)
		return ncp_errf(P->err, P->errlen,
				"%s: the header is %s, not a dict", P->name,
				kind_name(d->kind));
	for (int k = d->first; k >= 0; k = P->nodes[P->nodes[k].next].next) {
		const struct pynode *key = &P->nodes[k];
		const struct pynode *val = &P->nodes[key->next];
		const struct pynode **slot;
		if (key->kind != PY_STR)
			return py_fail(P, key->pos, "a key is %s, not a string",
				       kind_name(key->kind));
		if (py_str_is(P, key, "descr"))
			slot = &descr;
		else if (py_str_is(P, key, "fortran_order"))
			slot = &fortran;
		else if (py_str_is(P, key, "shape"))
			slot = &shape;
		else {
			ncp_json_quote(q, sizeof(q), P->sbuf + key->soff,
				       key->slen);
			return py_fail(P, key->pos,
				       "unknown key %s (expected exactly 'descr', 'fortran_order' and 'shape')",
				       q);
		}
		if (*slot)
			return py_fail(P, key->pos, "duplicate key '%.*s'",
				       (int)key->slen, P->sbuf + key->soff);
		*slot = val;
	}
	if (!descr || !fortran || !shape)
		return ncp_errf(P->err, P->errlen,
				"%s: the header dict has no '%s' key", P->name,
				!descr ? "descr" : !fortran ? "fortran_order" : "shape");

	if (fortran->kind != PY_BOOL)
		return py_fail(P, fortran->pos,
			       "fortran_order is %s, not True or False",
			       kind_name(fortran->kind));
	if (fortran->b)
		return ncp_errf(P->err, P->errlen,
				"%s: fortran_order is True: Fortran-ordered arrays are not supported (save np.ascontiguousarray(a) instead)",
				P->name);

	if (descr->kind == PY_LIST)
		return ncp_errf(P->err, P->errlen,
				"%s: structured dtypes (descr is a list) are not supported",
				P->name);
	if (descr->kind != PY_STR)
		return py_fail(P, descr->pos, "descr is %s, not a string",
			       kind_name(descr->kind));
	const char *ds = P->sbuf + descr->soff;
	size_t dl = descr->slen;
	int found = -1;
	if (dl == 3) {
		for (int i = 0; i < NCP_NPY_DTYPE_COUNT; i++) {
			const char *want = dtypes[i].descr;
			if (memcmp(ds + 1, want + 1, 2))
				continue;
			/* One-byte types have no byte order; '<' and '=' are
			 * little-endian here. */
			if (ds[0] == want[0] || (dtypes[i].size == 1 &&
						 strchr("<>=|", ds[0])) ||
			    (dtypes[i].size > 1 && ds[0] == '='))
				found = i;
			else if (dtypes[i].size > 1 && ds[0] == '>')
				return ncp_errf(P->err, P->errlen,
						"%s: big-endian dtype '%.3s' is not supported (convert with a.astype('%s'))",
						P->name, ds, want);
		}
	}
	if (found < 0) {
		ncp_json_quote(q, sizeof(q), ds, dl);
		return ncp_errf(P->err, P->errlen,
				"%s: unsupported dtype %s (supported: |b1 |u1 |i1 <u2 <i2 <u4 <i4 <u8 <i8 <f4 <f8)",
				P->name, q);
	}
	h->dtype = (enum ncp_npy_dtype)found;

	if (shape->kind != PY_TUPLE)
		return py_fail(P, shape->pos, "shape is %s, not a tuple",
			       kind_name(shape->kind));
	if (shape->n > NCP_NPY_MAX_DIMS)
		return py_fail(P, shape->pos,
			       "shape has %d dimensions, more than %d",
			       shape->n, NCP_NPY_MAX_DIMS);
	h->ndim = 0;
	for (int k = shape->first; k >= 0; k = P->nodes[k].next) {
		const struct pynode *x = &P->nodes[k];
		if (x->kind != PY_INT)
			return py_fail(P, x->pos, "shape holds %s, not an integer",
				       kind_name(x->kind));
		if (x->neg && (x->mag || x->big))
			return py_fail(P, x->pos, "shape holds a negative dimension");
		if (x->big)
			return py_fail(P, x->pos, "a dimension exceeds 64 bits");
		h->shape[h->ndim++] = x->mag;
	}
	if (!ncp_npy_shape_count(h, NULL, NULL))
		return py_fail(P, shape->pos,
			       "the shape's size overflows 64 bits");
	return 0;
}

int ncp_npy_header_parse(const void *buf, size_t len, const char *name,
			 struct ncp_npy_header *h, size_t *data_offset,
			 char *err, size_t errlen)
{
	const unsigned char *b = buf;
	size_t lenlen, hlen, start;
	struct pyparser *P;
	int r;

	if (!name)
		name = "<npy>";
	memset(h, 0, sizeof(*h));
	if (len < 10)
		return ncp_errf(err, errlen,
				"%s: %zu bytes is too short for an NPY file (the fixed part alone is 10)",
				name, len);
	if (memcmp(b, magic, 6))
		return ncp_errf(err, errlen,
				"%s: not an NPY file (it does not start with \\x93NUMPY)",
				name);
	if (b[6] == 1 && b[7] == 0)
		lenlen = 2;
	else if ((b[6] == 2 || b[6] == 3) && b[7] == 0)
		lenlen = 4;
	else
		return ncp_errf(err, errlen,
				"%s: unsupported NPY version %u.%u (1.0, 2.0 and 3.0 are supported)",
				name, b[6], b[7]);
	if (len < 8 + lenlen)
		return ncp_errf(err, errlen,
				"%s: truncated in the header length field", name);
	hlen = (size_t)b[8] | (size_t)b[9] << 8;
	if (lenlen == 4)
		hlen |= (size_t)b[10] << 16 | (size_t)b[11] << 24;
	start = 8 + lenlen;
	if (hlen > NCP_NPY_MAX_HEADER)
		return ncp_errf(err, errlen,
				"%s: header length %zu exceeds the limit of %u bytes",
				name, hlen, NCP_NPY_MAX_HEADER);
	if (hlen > len - start)
		return ncp_errf(err, errlen,
				"%s: truncated: the header needs %zu bytes, the file has %zu",
				name, start + hlen, len);
	if (hlen == 0)
		return ncp_errf(err, errlen, "%s: empty header", name);

	P = calloc(1, sizeof(*P));
	if (P)
		P->sbuf = malloc(hlen);
	if (!P || !P->sbuf) {
		free(P);
		ncp_errf(err, errlen, "%s: out of memory", name);
		return -ENOMEM;
	}
	P->s = (const char *)b + start;
	P->n = hlen;
	P->file_off = start;
	P->allow_long = b[6] < 3;
	P->name = name;
	P->err = err;
	P->errlen = errlen;
	r = -EINVAL;
	if (memchr(P->s, '\0', hlen)) {
		py_fail(P, (size_t)((const char *)memchr(P->s, '\0', hlen) - P->s),
			"NUL byte in the header");
		goto out;
	}
	if (py_value(P) < 0)
		goto out;
	py_ws(P);
	if (P->p < P->n) {
		char fb[24];
		py_fail(P, P->p, "expected the end of the header after the dict, found %s",
			py_found(P, fb, sizeof(fb)));
		goto out;
	}
	r = py_header(P, h);
	if (!r)
		*data_offset = start + hlen;
out:
	free(P->sbuf);
	free(P);
	return r;
}

/* ---- Loading ------------------------------------------------------------ */

/* Check the data that follows the header and fill in a. */
static int check_data(struct ncp_npy *a, const char *name, size_t file_len,
		      unsigned flags, char *err, size_t errlen)
{
	uint64_t count, bytes;
	size_t have = file_len - a->data_offset;

	if (!ncp_npy_shape_count(&a->h, &count, &bytes))
		return ncp_errf(err, errlen, "%s: the shape's size overflows",
				name);
	char shp[64];
	size_t o = 0;
	o += (size_t)snprintf(shp, sizeof(shp), "(");
	for (int i = 0; i < a->h.ndim && o < sizeof(shp) - 8; i++)
		o += (size_t)snprintf(shp + o, sizeof(shp) - o, "%s%" PRIu64,
				      i ? ", " : "", a->h.shape[i]);
	if (o >= sizeof(shp) - 8)
		snprintf(shp + sizeof(shp) - 8, 8, "...");
	else
		snprintf(shp + o, sizeof(shp) - o, "%s)",
			 a->h.ndim == 1 ? "," : "");
	if (bytes > have)
		return ncp_errf(err, errlen,
				"%s: truncated: shape %s of %s needs %" PRIu64
				" bytes of data, the file has %zu after the header",
				name, shp, dtypes[a->h.dtype].descr, bytes, have);
	if (bytes < have && !(flags & NCP_NPY_ALLOW_TRAILING))
		return ncp_errf(err, errlen,
				"%s: shape %s of %s needs %" PRIu64
				" bytes of data, the file has %zu after the header (%zu extra: an unfinished recording?)",
				name, shp, dtypes[a->h.dtype].descr, bytes, have,
				have - (size_t)bytes);
	a->count = count;
	a->data_bytes = (size_t)bytes;
	a->trailing = have - (size_t)bytes;
	return 0;
}

static struct ncp_npy *from_buffer(void *mem, size_t len, bool mapped,
				   const char *name, unsigned flags, char *err,
				   size_t errlen)
{
	struct ncp_npy *a = calloc(1, sizeof(*a));
	int r;

	if (!a) {
		r = -ENOMEM;
		ncp_errf(err, errlen, "%s: out of memory", name);
		goto err_mem;
	}
	a->mem = mem;
	a->mem_len = len;
	a->mapped = mapped;
	r = ncp_npy_header_parse(mem, len, name, &a->h, &a->data_offset, err,
				 errlen);
	if (r)
		goto err_a;
	a->major = ((unsigned char *)mem)[6];
	a->minor = ((unsigned char *)mem)[7];
	r = check_data(a, name, len, flags, err, errlen);
	if (r)
		goto err_a;
	size_t size = dtypes[a->h.dtype].size;
	if (a->data_offset % size == 0) {
		a->data = (char *)mem + a->data_offset;
	} else if (mapped) {
		r = ncp_errf(err, errlen,
			     "%s: the data starts at byte %zu, not aligned for %s; load the file without mmap",
			     name, a->data_offset, dtypes[a->h.dtype].descr);
		goto err_a;
	} else {
		/* Our own buffer (malloc-aligned): move the data down onto
		 * an 8-byte boundary over the parsed header. */
		size_t to = a->data_offset & ~(size_t)7;
		memmove((char *)mem + to, (char *)mem + a->data_offset,
			a->data_bytes);
		a->data = (char *)mem + to;
	}
	return a;

err_a:
	free(a);
err_mem:
	if (mapped)
		munmap(mem, len);
	else
		free(mem);
	errno = -r;
	return NULL;
}

struct ncp_npy *ncp_npy_parse(const void *buf, size_t len, const char *name,
			      unsigned flags, char *err, size_t errlen)
{
	void *mem = malloc(len ? len : 1);

	if (!name)
		name = "<npy>";
	if (!mem) {
		ncp_errf(err, errlen, "%s: out of memory", name);
		errno = ENOMEM;
		return NULL;
	}
	if (len)
		memcpy(mem, buf, len);
	return from_buffer(mem, len, false, name, flags & ~NCP_NPY_MMAP, err,
			   errlen);
}

struct ncp_npy *ncp_npy_load(const char *path, unsigned flags, char *err,
			     size_t errlen)
{
	void *mem;
	size_t len;
	int r;

	if (!(flags & NCP_NPY_MMAP)) {
		r = ncp_file_read(path, SIZE_MAX, &mem, &len);
		if (r) {
			ncp_errf(err, errlen, "%s: %s", path, ncp_strerror(r));
			errno = -r;
			return NULL;
		}
		return from_buffer(mem, len, false, path, flags, err, errlen);
	}

	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st)) {
		r = -errno;
		goto err_fd;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		ncp_errf(err, errlen, "%s: not a regular file", path);
		goto err_fd_msg;
	}
	len = (size_t)st.st_size;
	if (len < 10) {
		/* Too short to map; the parser says what is wrong. */
		char small[10];
		ssize_t k = pread(fd, small, len, 0);
		close(fd);
		return ncp_npy_parse(small, k > 0 ? (size_t)k : 0, path, flags,
				     err, errlen);
	}
	mem = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
	if (mem == MAP_FAILED) {
		r = -errno;
		goto err_fd;
	}
	close(fd);
	return from_buffer(mem, len, true, path, flags, err, errlen);

err_fd:
	ncp_errf(err, errlen, "%s: %s", path, ncp_strerror(r));
err_fd_msg:
	if (fd >= 0)
		close(fd);
	errno = -r;
	return NULL;
}

void ncp_npy_free(struct ncp_npy *a)
{
	if (!a)
		return;
	if (a->mapped)
		munmap(a->mem, a->mem_len);
	else
		free(a->mem);
	free(a);
}

/* ---- Writing ------------------------------------------------------------ */

int ncp_npy_write(const char *path, const struct ncp_npy_header *h,
		  const void *data)
{
	struct ncp_file_atomic f;
	uint64_t bytes;
	size_t hlen;
	char *hdr;
	int r;

	if (!ncp_npy_shape_count(h, NULL, &bytes) || bytes > SIZE_MAX)
		return -EINVAL;
	r = ncp_npy_header_format(h, false, NULL, 0, &hlen);
	if (r)
		return r;
	hdr = malloc(hlen);
	if (!hdr)
		return -ENOMEM;
	r = ncp_npy_header_format(h, false, hdr, hlen, &hlen);
	if (r)
		goto out_hdr;
	r = ncp_file_atomic_open(&f, path, 0644);
	if (r)
		goto out_hdr;
	r = ncp_file_atomic_write(&f, hdr, hlen);
	if (!r && bytes)
		r = ncp_file_atomic_write(&f, data, (size_t)bytes);
	if (r)
		ncp_file_atomic_abort(&f);
	else
		r = ncp_file_atomic_commit(&f);
out_hdr:
	free(hdr);
	return r;
}

/* ---- meta.json ---------------------------------------------------------- */

static void put_u64(struct ncp_json *j, const char *key, uint64_t x)
{
	char b[24];
	snprintf(b, sizeof(b), "%" PRIu64, x);
	ncp_json_key(j, key);
	ncp_json_raw(j, b);
}

int ncp_npy_meta_write(const char *path, const struct ncp_npy_meta *m)
{
	struct ncp_json j;
	int r;

	ncp_json_init(&j);
	ncp_json_obj(&j);
	ncp_json_key(&j, "format");
	ncp_json_str(&j, "ncpd-recording");
	ncp_json_key(&j, "format_version");
	ncp_json_int(&j, 1);
	ncp_json_key(&j, "ncpd_version");
	ncp_json_str(&j, NCP_VERSION);
	ncp_json_key(&j, "name");
	ncp_json_str(&j, m->name);
	ncp_json_key(&j, "complete");
	ncp_json_bool(&j, m->complete);
	if (m->complete) {
		put_u64(&j, "steps", m->steps);
		put_u64(&j, "dropped_steps", m->dropped_steps);
		if (m->stopped) {
			ncp_json_key(&j, "stopped");
			ncp_json_str(&j, m->stopped);
		}
	}
	put_u64(&j, "first_step", m->first_step);
	ncp_json_key(&j, "dt");
	ncp_json_num_exact(&j, m->dt);
	ncp_json_key(&j, "window");
	ncp_json_int(&j, m->window);
	ncp_json_key(&j, "m1_neurons");
	ncp_json_int(&j, m->m1_neurons);
	put_u64(&j, "seed", m->seed);
	put_u64(&j, "task_seed", m->task_seed);
	if (m->started) {
		ncp_json_key(&j, "started");
		ncp_json_str(&j, m->started);
	}
	ncp_json_key(&j, "files");
	ncp_json_obj(&j);
	ncp_json_key(&j, "m1");
	ncp_json_str(&j, "m1.npy");
	ncp_json_key(&j, "arm");
	ncp_json_str(&j, "arm.npy");
	ncp_json_key(&j, "target");
	ncp_json_str(&j, "target.npy");
	if (m->stim_electrodes) {
		ncp_json_key(&j, "stim");
		ncp_json_str(&j, "stim.npy");
		ncp_json_key(&j, "lesion");
		ncp_json_str(&j, "lesion.npy");
	}
	if (m->pred) {
		ncp_json_key(&j, "pred");
		ncp_json_str(&j, "pred.npy");
	}
	if (m->rec_electrodes) {
		ncp_json_key(&j, "rec");
		ncp_json_str(&j, "rec.npy");
		ncp_json_key(&j, "alpha");
		ncp_json_str(&j, "alpha.npy");
	}
	ncp_json_end(&j);
	if (m->stim_electrodes) {
		ncp_json_key(&j, "stim_electrodes");
		ncp_json_int(&j, m->stim_electrodes);
	}
	if (m->rec_electrodes) {
		ncp_json_key(&j, "rec_electrodes");
		ncp_json_int(&j, m->rec_electrodes);
	}
	if (m->probes_json) {
		ncp_json_key(&j, "probes");
		ncp_json_raw(&j, m->probes_json);
	}
	const int links = m->arm_links ? m->arm_links : 2;
	ncp_json_key(&j, "arm_links");
	ncp_json_int(&j, links);
	ncp_json_key(&j, "arm_columns");
	ncp_json_arr(&j);
	for (int i = 0; i < NCP_ARM_STATE_DIMS(links); i++)
		ncp_json_str(&j, ncp_arm_state_name(links, i));
	ncp_json_end(&j);
	ncp_json_key(&j, "config");
	if (m->config_json)
		ncp_json_raw(&j, m->config_json);
	else
		ncp_json_null(&j);
	ncp_json_end(&j);
	r = ncp_json_finish(&j);
	if (!r) {
		/* The raw config must itself be JSON: check the result. */
		json_t *doc = ncp_json_doc_parse(j.buf, j.len, NULL, NULL, NULL,
						 0);
		if (!doc)
			r = -EINVAL;
		json_decref(doc);
	}
	if (!r) {
		char *text = malloc(j.len + 2);
		if (!text) {
			r = -ENOMEM;
		} else {
			memcpy(text, j.buf, j.len);
			text[j.len] = '\n';
			r = ncp_file_write_atomic(path, text, j.len + 1, 0644);
			free(text);
		}
	}
	ncp_json_fini(&j);
	return r;
}
