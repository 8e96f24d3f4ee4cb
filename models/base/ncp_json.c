#include "models/base/ncp_json.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_utf8.h"

void ncp_json_init(struct ncp_json *j)
{
	memset(j, 0, sizeof(*j));
}

void ncp_json_fini(struct ncp_json *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

int ncp_json_finish(const struct ncp_json *j)
{
	if (j->err)
		return j->err;
	if (j->depth != 0 || j->after_key || j->len == 0)
		return -EINVAL;
	return 0;
}

static void fail(struct ncp_json *j, int err)
{
	if (!j->err)
		j->err = err;
}

static void put(struct ncp_json *j, const char *s, size_t n)
{
	if (j->err)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		while (cap < j->len + n + 1)
			cap *= 2;
		char *b = realloc(j->buf, cap);
		if (!b) {
			fail(j, -ENOMEM);
			return;
		}
		j->buf = b;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void putf(struct ncp_json *j, const char *fmt, ...) NCP_PRINTF(2, 3);
static void putf(struct ncp_json *j, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		fail(j, -EINVAL);
		return;
	}
	put(j, tmp, (size_t)n);
}

/* Before any value: the comma, and the nesting rules. */
static bool begin_value(struct ncp_json *j)
{
	if (j->err)
		return false;
	if (j->depth == 0) {
		if (j->len) { /* a second top-level value */
			fail(j, -EINVAL);
			return false;
		}
		return true;
	}
	if (j->is_obj[j->depth - 1]) {
		if (!j->after_key) {
			fail(j, -EINVAL);
			return false;
		}
		j->after_key = false;
		return true;
	}
	if (j->has_items[j->depth - 1])
		put(j, ",", 1);
	j->has_items[j->depth - 1] = true;
	return true;
}

static void open_level(struct ncp_json *j, bool obj)
{
	if (!begin_value(j))
		return;
	if (j->depth == NCP_JSON_MAX_DEPTH) {
		fail(j, -EINVAL);
		return;
	}
	put(j, obj ? "{" : "[", 1);
	j->is_obj[j->depth] = obj;
	j->has_items[j->depth] = false;
	j->depth++;
}

void ncp_json_obj(struct ncp_json *j) { open_level(j, true); }
void ncp_json_arr(struct ncp_json *j) { open_level(j, false); }

void ncp_json_end(struct ncp_json *j)
{
	if (j->err)
		return;
	if (j->depth == 0 || j->after_key) {
		fail(j, -EINVAL);
		return;
	}
	j->depth--;
	put(j, j->is_obj[j->depth] ? "}" : "]", 1);
}

static void put_string(struct ncp_json *j, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	put(j, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		switch (c) {
		case '"': put(j, "\\\"", 2); break;
		case '\\': put(j, "\\\\", 2); break;
		case '\n': put(j, "\\n", 2); break;
		case '\r': put(j, "\\r", 2); break;
		case '\t': put(j, "\\t", 2); break;
		default:
			if (c < 0x20 || c == 0x7f) {
				putf(j, "\\u%04x", c);
			} else if (c < 0x80) {
				put(j, (const char *)s + i, 1);
			} else {
				size_t k = ncp_utf8_len(str + i, n - i);
				if (!k) {
					put(j, "\\ufffd", 6);
					continue;
				}
				put(j, str + i, k);
				i += k - 1;
			}
		}
	}
	put(j, "\"", 1);
}

void ncp_json_key_n(struct ncp_json *j, const char *key, size_t n)
{
	if (j->err)
		return;
	if (j->depth == 0 || !j->is_obj[j->depth - 1] || j->after_key ||
	    !key) {
		fail(j, -EINVAL);
		return;
	}
	if (j->has_items[j->depth - 1])
		put(j, ",", 1);
	j->has_items[j->depth - 1] = true;
	put_string(j, key, n);
	put(j, ":", 1);
	j->after_key = true;
}

void ncp_json_key(struct ncp_json *j, const char *key)
{
	ncp_json_key_n(j, key, key ? strlen(key) : 0);
}

void ncp_json_str_n(struct ncp_json *j, const char *s, size_t n)
{
	if (!s) {
		ncp_json_null(j);
		return;
	}
	if (begin_value(j))
		put_string(j, s, n);
}

void ncp_json_str(struct ncp_json *j, const char *s)
{
	ncp_json_str_n(j, s, s ? strlen(s) : 0);
}

void ncp_json_num(struct ncp_json *j, double x)
{
	if (!begin_value(j))
		return;
	if (!isfinite(x)) {
		put(j, "null", 4);
		return;
	}
	if (x == 0.0)
		x = 0.0; /* no "-0" */
	putf(j, "%.9g", x);
}

void ncp_json_num_exact(struct ncp_json *j, double x)
{
	char tmp[40];

	if (!begin_value(j))
		return;
	if (!isfinite(x)) {
		put(j, "null", 4);
		return;
	}
	/* The shortest of 15, 16, 17 digits that reads back exactly. */
	for (int digits = 15; digits <= 17; digits++) {
		snprintf(tmp, sizeof(tmp), "%.*g", digits, x);
		if (strtod(tmp, NULL) == x)
			break;
	}
	put(j, tmp, strlen(tmp));
}

void ncp_json_int(struct ncp_json *j, int64_t x)
{
	if (begin_value(j))
		putf(j, "%" PRId64, x);
}

void ncp_json_uint(struct ncp_json *j, uint64_t x)
{
	if (begin_value(j))
		putf(j, "%" PRIu64, x);
}

void ncp_json_bool(struct ncp_json *j, bool b)
{
	if (begin_value(j))
		put(j, b ? "true" : "false", b ? 4 : 5);
}

void ncp_json_null(struct ncp_json *j)
{
	if (begin_value(j))
		put(j, "null", 4);
}

void ncp_json_raw(struct ncp_json *j, const char *json)
{
	if (begin_value(j))
		put(j, json, strlen(json));
}

void ncp_json_nums(struct ncp_json *j, const double *x, size_t n)
{
	ncp_json_arr(j);
	for (size_t i = 0; i < n; i++)
		ncp_json_num_exact(j, x[i]);
	ncp_json_end(j);
}

void ncp_json_floats(struct ncp_json *j, const float *x, size_t n)
{
	ncp_json_arr(j);
	for (size_t i = 0; i < n; i++)
		ncp_json_num_exact(j, (double)x[i]);
	ncp_json_end(j);
}

/* ---- Parser ------------------------------------------------------------- */

/* The tree lives in an arena of blocks freed together. */
struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	max_align_t data[];
};

struct ncp_json_doc {
	struct ncp_json_value root;
	struct arena_block *blocks;
};

static void *arena_alloc(struct ncp_json_doc *doc, size_t size)
{
	struct arena_block *b = doc->blocks;
	const size_t align = sizeof(max_align_t);

	size = (size + align - 1) & ~(align - 1);
	if (!b || b->cap - b->used < size) {
		size_t cap = NCP_MAX(size, (size_t)16384);
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->cap = cap;
		b->used = 0;
		b->next = doc->blocks;
		doc->blocks = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += size;
	return p;
}

struct parser {
	const unsigned char *start, *p, *end;
	const char *name;
	size_t line;		/* current line, from 1 */
	const unsigned char *line_start;
	size_t line_cont;	/* UTF-8 continuation bytes in [line_start, p) */
	int depth, max_depth;
	struct ncp_json_doc *doc;
	/* Scratch stacks: the elements of the arrays and objects being parsed,
	 * copied into the arena when each one closes. */
	struct ncp_json_value *vals;
	size_t nvals, capvals;
	struct ncp_json_member *mems;
	size_t nmems, capmems;
	char *sbuf;		/* a string being decoded */
	size_t slen, scap;
	char *err;
	size_t errlen;
	int status;		/* 0 or the first error */
};

static uint32_t sat32(size_t x)
{
	return x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
}

/* Line and column of position q, which must not lie before the continuation
 * bytes counted so far on the current line (it is p, or a position noted
 * when it was p). */
static void where(const struct parser *P, const unsigned char *q,
		  uint32_t *line, uint32_t *col)
{
	*line = sat32(P->line);
	*col = sat32((size_t)(q - P->line_start) - P->line_cont + 1);
}

static int fail_at(struct parser *P, uint32_t line, uint32_t col, int code,
		   const char *fmt, ...) NCP_PRINTF(5, 6);
static int fail_at(struct parser *P, uint32_t line, uint32_t col, int code,
		   const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	if (P->status)
		return P->status;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (P->name)
		ncp_errf(P->err, P->errlen, "%s:%" PRIu32 ":%" PRIu32 ": %s",
			 P->name, line, col, msg);
	else
		ncp_errf(P->err, P->errlen,
			 "line %" PRIu32 ", column %" PRIu32 ": %s", line, col,
			 msg);
	P->status = code;
	return code;
}

/* Describe the byte at q for "found ..." in messages. */
static const char *found(const struct parser *P, const unsigned char *q,
			 char *buf, size_t len)
{
	if (q >= P->end)
		return "end of input";
	if (*q >= 0x21 && *q < 0x7f)
		snprintf(buf, len, "'%c'", *q);
	else
		snprintf(buf, len, "byte 0x%02X", *q);
	return buf;
}

#define FAIL(P, ...)                                                     \
	do {                                                             \
		uint32_t l_, c_;                                         \
		where((P), (P)->p, &l_, &c_);                            \
		return fail_at((P), l_, c_, -EINVAL, __VA_ARGS__);       \
	} while (0)

static int nomem(struct parser *P)
{
	if (!P->status) {
		ncp_errf(P->err, P->errlen, "%s%sout of memory",
			 P->name ? P->name : "", P->name ? ": " : "");
		P->status = -ENOMEM;
	}
	return P->status;
}

static void skip_ws(struct parser *P)
{
	while (P->p < P->end) {
		unsigned char c = *P->p;
		if (c == '\n') {
			P->p++;
			P->line++;
			P->line_start = P->p;
			P->line_cont = 0;
		} else if (c == ' ' || c == '\t' || c == '\r') {
			P->p++;
		} else {
			break;
		}
	}
}

static int parse_value(struct parser *P, struct ncp_json_value *v);

static int sbuf_put(struct parser *P, const void *s, size_t n)
{
	if (P->slen + n + 1 > P->scap) {
		size_t cap = P->scap ? P->scap : 256;
		while (P->slen + n + 1 > cap)
			cap *= 2;
		char *b = realloc(P->sbuf, cap);
		if (!b)
			return nomem(P);
		P->sbuf = b;
		P->scap = cap;
	}
	memcpy(P->sbuf + P->slen, s, n);
	P->slen += n;
	return 0;
}

static int put_utf8(struct parser *P, uint32_t cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xF0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return sbuf_put(P, b, n);
}

static int hex4(struct parser *P, uint32_t *out)
{
	uint32_t v = 0;

	/* P->p is at the 'u' of "\u". */
	for (int i = 1; i <= 4; i++) {
		const unsigned char *q = P->p + i;
		int d;
		if (q >= P->end) {
			P->p = q;
			FAIL(P, "unterminated \\u escape: expected 4 hex digits");
		}
		if (*q >= '0' && *q <= '9')
			d = *q - '0';
		else if (*q >= 'a' && *q <= 'f')
			d = *q - 'a' + 10;
		else if (*q >= 'A' && *q <= 'F')
			d = *q - 'A' + 10;
		else {
			char b[16];
			P->p = q;
			FAIL(P, "expected a hex digit in a \\u escape, found %s",
			     found(P, q, b, sizeof(b)));
		}
		v = v * 16 + (uint32_t)d;
	}
	P->p += 5;
	*out = v;
	return 0;
}

/* A string at P->p (the opening quote), decoded into P->sbuf (NUL-terminated,
 * P->slen bytes). */
static int parse_string_raw(struct parser *P)
{
	char b[16];

	P->slen = 0;
	P->p++;
	for (;;) {
		/* Copy the run of plain ASCII in one go. */
		const unsigned char *run = P->p;
		while (P->p < P->end && *P->p >= 0x20 && *P->p < 0x80 &&
		       *P->p != '"' && *P->p != '\\')
			P->p++;
		if (P->p > run && sbuf_put(P, run, (size_t)(P->p - run)))
			return P->status;
		if (P->p >= P->end)
			FAIL(P, "unterminated string: expected '\"' before the end of input");
		unsigned char c = *P->p;
		if (c == '"') {
			P->p++;
			break;
		}
		if (c < 0x20)
			FAIL(P, "control character 0x%02X in a string (write it as a \\u escape)",
			     c);
		if (c >= 0x80) {
			size_t n = ncp_utf8_len((const char *)P->p,
						 (size_t)(P->end - P->p));
			if (!n)
				FAIL(P, "invalid UTF-8 (byte 0x%02X) in a string", c);
			if (sbuf_put(P, P->p, n))
				return P->status;
			P->p += n;
			P->line_cont += n - 1;
			continue;
		}
		/* An escape. */
		const unsigned char *esc = P->p;
		if (P->p + 1 >= P->end) {
			P->p++;
			FAIL(P, "unterminated escape at the end of input");
		}
		P->p++;
		char out;
		switch (*P->p) {
		case '"': out = '"'; break;
		case '\\': out = '\\'; break;
		case '/': out = '/'; break;
		case 'b': out = '\b'; break;
		case 'f': out = '\f'; break;
		case 'n': out = '\n'; break;
		case 'r': out = '\r'; break;
		case 't': out = '\t'; break;
		case 'u': {
			uint32_t cp, lo;
			if (hex4(P, &cp))
				return P->status;
			if (cp >= 0xDC00 && cp <= 0xDFFF) {
				P->p = esc;
				FAIL(P, "unpaired low surrogate \\u%04X", cp);
			}
			if (cp >= 0xD800 && cp <= 0xDBFF) {
				if (P->end - P->p < 2 || P->p[0] != '\\' ||
				    P->p[1] != 'u') {
					P->p = esc;
					FAIL(P, "unpaired high surrogate \\u%04X: expected a \\uDC00-\\uDFFF escape after it",
					     cp);
				}
				P->p++;
				const unsigned char *esc2 = P->p - 1;
				if (hex4(P, &lo))
					return P->status;
				if (lo < 0xDC00 || lo > 0xDFFF) {
					P->p = esc2;
					FAIL(P, "high surrogate \\u%04X followed by \\u%04X: expected \\uDC00-\\uDFFF",
					     cp, lo);
				}
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				     (lo - 0xDC00);
			}
			if (put_utf8(P, cp))
				return P->status;
			continue;
		}
		default:
			FAIL(P, "invalid escape '\\%s' in a string (expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u)",
			     *P->p >= 0x21 && *P->p < 0x7f ? (char[]){(char)*P->p, 0}
							    : found(P, P->p, b, sizeof(b)));
		}
		if (sbuf_put(P, &out, 1))
			return P->status;
		P->p++;
	}
	if (sbuf_put(P, "", 1))
		return P->status;
	P->slen--;
	return 0;
}

static const char *string_to_arena(struct parser *P)
{
	char *s = arena_alloc(P->doc, P->slen + 1);
	if (!s) {
		nomem(P);
		return NULL;
	}
	memcpy(s, P->sbuf, P->slen + 1);
	return s;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
	c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static int parse_number(struct parser *P, struct ncp_json_value *v)
{
	const unsigned char *s = P->p;
	bool integer = true, neg = false;
	char b[16];

	if (*P->p == '-') {
		neg = true;
		P->p++;
	}
	if (P->p >= P->end || *P->p < '0' || *P->p > '9')
		FAIL(P, "expected a digit after '-', found %s",
		     found(P, P->p, b, sizeof(b)));
	if (*P->p == '0') {
		P->p++;
		if (P->p < P->end && *P->p >= '0' && *P->p <= '9')
			FAIL(P, "leading zeros are not allowed in numbers");
	} else {
		while (P->p < P->end && *P->p >= '0' && *P->p <= '9')
			P->p++;
	}
	if (P->p < P->end && *P->p == '.') {
		integer = false;
		P->p++;
		if (P->p >= P->end || *P->p < '0' || *P->p > '9')
			FAIL(P, "expected a digit after '.', found %s",
			     found(P, P->p, b, sizeof(b)));
		while (P->p < P->end && *P->p >= '0' && *P->p <= '9')
			P->p++;
	}
	if (P->p < P->end && (*P->p == 'e' || *P->p == 'E')) {
		integer = false;
		P->p++;
		if (P->p < P->end && (*P->p == '+' || *P->p == '-'))
			P->p++;
		if (P->p >= P->end || *P->p < '0' || *P->p > '9')
			FAIL(P, "expected a digit in the exponent, found %s",
			     found(P, P->p, b, sizeof(b)));
		while (P->p < P->end && *P->p >= '0' && *P->p <= '9')
			P->p++;
	}

	/* The token is well formed; convert it. */
	size_t n = (size_t)(P->p - s);
	char small[64], *tok = small;
	if (n >= sizeof(small)) {
		tok = malloc(n + 1);
		if (!tok)
			return nomem(P);
	}
	memcpy(tok, s, n);
	tok[n] = '\0';
	pthread_once(&c_locale_once, c_locale_init);
	double d = c_locale ? strtod_l(tok, NULL, c_locale) : strtod(tok, NULL);
	if (tok != small)
		free(tok);
	if (isinf(d)) {
		uint32_t l, c;
		where(P, s, &l, &c);
		return fail_at(P, l, c, -EINVAL,
			       "number %.*s%s is out of range for a double",
			       n > 24 ? 24 : (int)n, (const char *)s,
			       n > 24 ? "..." : "");
	}
	v->type = NCP_JSON_NUMBER;
	v->num.d = d;
	v->num.i = 0;
	v->num.is_int = false;
	if (integer) {
		/* Accumulate negatively so INT64_MIN fits. */
		int64_t acc = 0;
		bool fits = true;
		for (const unsigned char *q = s + neg; q < P->p; q++) {
			int dg = *q - '0';
			if (acc < (INT64_MIN + dg) / 10) {
				fits = false;
				break;
			}
			acc = acc * 10 - dg;
		}
		if (fits && !neg && acc == INT64_MIN)
			fits = false;
		if (fits) {
			v->num.i = neg ? acc : -acc;
			v->num.is_int = true;
		}
	}
	return 0;
}

static int push_val(struct parser *P, const struct ncp_json_value *v)
{
	if (P->nvals == P->capvals) {
		size_t cap = P->capvals ? P->capvals * 2 : 64;
		struct ncp_json_value *a = realloc(P->vals, cap * sizeof(*a));
		if (!a)
			return nomem(P);
		P->vals = a;
		P->capvals = cap;
	}
	P->vals[P->nvals++] = *v;
	return 0;
}

static int push_mem(struct parser *P, const struct ncp_json_member *m)
{
	if (P->nmems == P->capmems) {
		size_t cap = P->capmems ? P->capmems * 2 : 64;
		struct ncp_json_member *a = realloc(P->mems, cap * sizeof(*a));
		if (!a)
			return nomem(P);
		P->mems = a;
		P->capmems = cap;
	}
	P->mems[P->nmems++] = *m;
	return 0;
}

static int enter(struct parser *P)
{
	if (P->depth >= P->max_depth)
		FAIL(P, "nesting deeper than %d levels", P->max_depth);
	P->depth++;
	return 0;
}

static int parse_array(struct parser *P, struct ncp_json_value *v)
{
	size_t base = P->nvals;
	char b[16];

	if (enter(P))
		return P->status;
	P->p++;
	skip_ws(P);
	if (P->p < P->end && *P->p == ']') {
		P->p++;
	} else {
		for (;;) {
			struct ncp_json_value item;
			if (parse_value(P, &item) || push_val(P, &item))
				return P->status;
			skip_ws(P);
			if (P->p < P->end && *P->p == ',') {
				P->p++;
				continue;
			}
			if (P->p < P->end && *P->p == ']') {
				P->p++;
				break;
			}
			FAIL(P, "expected ',' or ']' after an array element, found %s",
			     found(P, P->p, b, sizeof(b)));
		}
	}
	P->depth--;
	size_t n = P->nvals - base;
	struct ncp_json_value *items = NULL;
	if (n) {
		items = arena_alloc(P->doc, n * sizeof(*items));
		if (!items)
			return nomem(P);
		memcpy(items, P->vals + base, n * sizeof(*items));
	}
	P->nvals = base;
	v->type = NCP_JSON_ARRAY;
	v->arr.items = items;
	v->arr.n = n;
	return 0;
}

static int cmp_member_key(const void *a, const void *b)
{
	const struct ncp_json_member *x = *(const struct ncp_json_member *const *)a;
	const struct ncp_json_member *y = *(const struct ncp_json_member *const *)b;
	size_t n = NCP_MIN(x->key_len, y->key_len);
	int c = memcmp(x->key, y->key, n);
	if (c)
		return c;
	if (x->key_len != y->key_len)
		return x->key_len < y->key_len ? -1 : 1;
	/* Equal keys: document order, so the later one is reported. */
	return x < y ? -1 : x > y;
}

static bool same_key(const struct ncp_json_member *a,
		     const struct ncp_json_member *b)
{
	return a->key_len == b->key_len && !memcmp(a->key, b->key, a->key_len);
}

static int dup_error(struct parser *P, const struct ncp_json_member *m,
		     const struct ncp_json_member *first)
{
	char q[80];
	ncp_json_quote(q, sizeof(q), m->key, m->key_len);
	return fail_at(P, m->line, m->column, -EINVAL,
		       "duplicate key %s (first at line %" PRIu32
		       ", column %" PRIu32 ")",
		       q, first->line, first->column);
}

/* Refuse duplicate keys among the n members at m. */
static int check_duplicates(struct parser *P, const struct ncp_json_member *m,
			    size_t n)
{
	if (n <= 16) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (same_key(&m[i], &m[j]))
					return dup_error(P, &m[i], &m[j]);
		return 0;
	}
	const struct ncp_json_member **idx = malloc(n * sizeof(*idx));
	if (!idx)
		return nomem(P);
	for (size_t i = 0; i < n; i++)
		idx[i] = &m[i];
	qsort(idx, n, sizeof(*idx), cmp_member_key);
	/* Of all duplicates, report the earliest second occurrence. */
	const struct ncp_json_member *dup = NULL, *first = NULL;
	for (size_t i = 1; i < n; i++) {
		if (same_key(idx[i], idx[i - 1]) && (!dup || idx[i] < dup)) {
			size_t j = i - 1;
			while (j > 0 && same_key(idx[j - 1], idx[i]))
				j--;
			dup = idx[i];
			first = idx[j];
		}
	}
	free(idx);
	return dup ? dup_error(P, dup, first) : 0;
}

static int parse_object(struct parser *P, struct ncp_json_value *v)
{
	size_t base = P->nmems;
	char b[16];

	if (enter(P))
		return P->status;
	P->p++;
	skip_ws(P);
	if (P->p < P->end && *P->p == '}') {
		P->p++;
	} else {
		for (;;) {
			struct ncp_json_member m;
			skip_ws(P);
			if (P->p >= P->end || *P->p != '"')
				FAIL(P, "expected a string key%s, found %s",
				     P->nmems == base ? " or '}'" : "",
				     found(P, P->p, b, sizeof(b)));
			where(P, P->p, &m.line, &m.column);
			if (parse_string_raw(P))
				return P->status;
			m.key = string_to_arena(P);
			if (!m.key)
				return P->status;
			m.key_len = P->slen;
			skip_ws(P);
			if (P->p >= P->end || *P->p != ':') {
				char q[80];
				ncp_json_quote(q, sizeof(q), m.key, m.key_len);
				FAIL(P, "expected ':' after the key %s, found %s",
				     q, found(P, P->p, b, sizeof(b)));
			}
			P->p++;
			if (parse_value(P, &m.value) || push_mem(P, &m))
				return P->status;
			skip_ws(P);
			if (P->p < P->end && *P->p == ',') {
				P->p++;
				continue;
			}
			if (P->p < P->end && *P->p == '}') {
				P->p++;
				break;
			}
			FAIL(P, "expected ',' or '}' after an object member, found %s",
			     found(P, P->p, b, sizeof(b)));
		}
	}
	P->depth--;
	size_t n = P->nmems - base;
	/* (With no members P->mems may still be NULL: no arithmetic on it.) */
	if (n >= 2 && check_duplicates(P, P->mems + base, n))
		return P->status;
	struct ncp_json_member *mems = NULL;
	if (n) {
		mems = arena_alloc(P->doc, n * sizeof(*mems));
		if (!mems)
			return nomem(P);
		memcpy(mems, P->mems + base, n * sizeof(*mems));
	}
	P->nmems = base;
	v->type = NCP_JSON_OBJECT;
	v->obj.members = mems;
	v->obj.n = n;
	return 0;
}

static int parse_literal(struct parser *P, struct ncp_json_value *v)
{
	static const struct {
		const char *word;
		enum ncp_json_type type;
		bool b;
	} lits[] = {
		{ "true", NCP_JSON_BOOL, true },
		{ "false", NCP_JSON_BOOL, false },
		{ "null", NCP_JSON_NULL, false },
	};
	for (size_t i = 0; i < NCP_ARRAY_SIZE(lits); i++) {
		size_t n = strlen(lits[i].word);
		if ((size_t)(P->end - P->p) >= n &&
		    !memcmp(P->p, lits[i].word, n)) {
			P->p += n;
			v->type = lits[i].type;
			v->boolean = lits[i].b;
			return 0;
		}
	}
	FAIL(P, "invalid literal: expected true, false or null");
}

static int parse_value(struct parser *P, struct ncp_json_value *v)
{
	char b[16];

	memset(v, 0, sizeof(*v));
	skip_ws(P);
	where(P, P->p, &v->line, &v->column);
	if (P->p >= P->end)
		FAIL(P, "expected a value, found end of input");
	switch (*P->p) {
	case '{':
		return parse_object(P, v);
	case '[':
		return parse_array(P, v);
	case '"':
		if (parse_string_raw(P))
			return P->status;
		v->type = NCP_JSON_STRING;
		v->str.s = string_to_arena(P);
		v->str.len = P->slen;
		return v->str.s ? 0 : P->status;
	case 't':
	case 'f':
	case 'n':
		return parse_literal(P, v);
	case '-':
	case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return parse_number(P, v);
	default:
		if (P->p == P->start && P->end - P->p >= 3 &&
		    !memcmp(P->p, "\xEF\xBB\xBF", 3))
			FAIL(P, "a byte order mark is not allowed in JSON");
		FAIL(P, "expected a value, found %s",
		     found(P, P->p, b, sizeof(b)));
	}
}

struct ncp_json_doc *ncp_json_parse(const char *text, size_t len,
				    const char *name,
				    const struct ncp_json_limits *lim,
				    char *err, size_t errlen)
{
	size_t max_bytes = lim && lim->max_bytes ? lim->max_bytes
						 : NCP_JSON_PARSE_MAX_BYTES;
	int max_depth = lim && lim->max_depth > 0 ? lim->max_depth
						  : NCP_JSON_PARSE_MAX_DEPTH;
	if (max_depth > 1024)
		max_depth = 1024;
	struct parser P = {
		.start = (const unsigned char *)text,
		.p = (const unsigned char *)text,
		.end = (const unsigned char *)text + len,
		.name = name,
		.line = 1,
		.line_start = (const unsigned char *)text,
		.max_depth = max_depth,
		.err = err,
		.errlen = errlen,
	};
	char b[16];

	if (len > max_bytes) {
		ncp_errf(err, errlen,
			 "%s%s%zu bytes of JSON exceed the limit of %zu bytes",
			 name ? name : "", name ? ": " : "", len, max_bytes);
		errno = E2BIG;
		return NULL;
	}
	if (!text && len) {
		ncp_errf(err, errlen, "no input");
		errno = EINVAL;
		return NULL;
	}
	P.doc = calloc(1, sizeof(*P.doc));
	if (!P.doc) {
		nomem(&P);
		errno = ENOMEM;
		return NULL;
	}
	if (!parse_value(&P, &P.doc->root)) {
		skip_ws(&P);
		if (P.p < P.end) {
			uint32_t l, c;
			where(&P, P.p, &l, &c);
			fail_at(&P, l, c, -EINVAL,
				"expected the end of input after the value, found %s",
				found(&P, P.p, b, sizeof(b)));
		}
	}
	free(P.vals);
	free(P.mems);
	free(P.sbuf);
	if (P.status) {
		ncp_json_doc_free(P.doc);
		errno = -P.status;
		return NULL;
	}
	return P.doc;
}

void ncp_json_doc_free(struct ncp_json_doc *doc)
{
	if (!doc)
		return;
	struct arena_block *b = doc->blocks;
	while (b) {
		struct arena_block *next = b->next;
		free(b);
		b = next;
	}
	free(doc);
}

const struct ncp_json_value *ncp_json_doc_root(const struct ncp_json_doc *doc)
{
	return doc ? &doc->root : NULL;
}

/* ---- Lookup ------------------------------------------------------------- */

const char *ncp_json_type_name(enum ncp_json_type type)
{
	switch (type) {
	case NCP_JSON_NULL: return "null";
	case NCP_JSON_BOOL: return "a boolean";
	case NCP_JSON_NUMBER: return "a number";
	case NCP_JSON_STRING: return "a string";
	case NCP_JSON_ARRAY: return "an array";
	case NCP_JSON_OBJECT: return "an object";
	}
	return "an unknown value";
}

static const struct ncp_json_value *member_n(const struct ncp_json_value *obj,
					     const char *key, size_t n)
{
	if (!obj || obj->type != NCP_JSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < obj->obj.n; i++) {
		const struct ncp_json_member *m = &obj->obj.members[i];
		if (m->key_len == n && !memcmp(m->key, key, n))
			return &m->value;
	}
	return NULL;
}

const struct ncp_json_value *ncp_json_member(const struct ncp_json_value *obj,
					     const char *key)
{
	return member_n(obj, key, strlen(key));
}

const struct ncp_json_value *ncp_json_index(const struct ncp_json_value *arr,
					    size_t i)
{
	if (!arr || arr->type != NCP_JSON_ARRAY || i >= arr->arr.n)
		return NULL;
	return &arr->arr.items[i];
}

/* The first n bytes of path for a message; "the value" for the root. */
#define LABEL(path, n) (int)((n) ? (n) : 9), ((n) ? (path) : "the value")

/* A key path: keys separated by '.', "[N]" after a key or another index,
 * no empty key. */
static bool path_ok(const char *p)
{
	bool need_key = false;	/* after a '.' */

	while (*p) {
		if (*p == '[') {
			if (need_key || p[1] < '0' || p[1] > '9')
				return false;
			p++;
			while (*p >= '0' && *p <= '9')
				p++;
			if (*p++ != ']')
				return false;
		} else {
			size_t n = strcspn(p, ".[]");
			if (n == 0)
				return false;
			p += n;
			need_key = false;
			if (*p == ']')
				return false;
		}
		if (*p == '.') {
			p++;
			need_key = true;
		} else if (*p && *p != '[') {
			return false;
		}
	}
	return !need_key;
}

/* Follow path from v.  Returns 0 with *out set; -ENOENT or -EINVAL with a
 * message naming the path. */
static int walk(const struct ncp_json_value *v, const char *path,
		const struct ncp_json_value **out, char *err, size_t errlen)
{
	const char *p = path;

	*out = NULL;
	if (!path_ok(path))
		return ncp_errf(err, errlen, "bad key path \"%s\"", path);
	if (!v)
		return ncp_errf(err, errlen, "%s: no document", path);
	while (*p) {
		/* Where the path so far ends, for messages. */
		size_t here = (size_t)(p - path);
		if (here && path[here - 1] == '.')
			here--;
		if (*p == '[') {
			char *end;
			if (p[1] < '0' || p[1] > '9')
				return ncp_errf(err, errlen, "bad key path \"%s\"",
						path);
			unsigned long long i = strtoull(p + 1, &end, 10);
			if (*end != ']' || (end[1] && end[1] != '.' &&
					    end[1] != '['))
				return ncp_errf(err, errlen, "bad key path \"%s\"",
						path);
			if (v->type != NCP_JSON_ARRAY) {
				ncp_errf(err, errlen,
					 "%.*s (line %" PRIu32 ", column %" PRIu32
					 "): expected an array, found %s",
					 LABEL(path, here), v->line, v->column,
					 ncp_json_type_name(v->type));
				return -EINVAL;
			}
			if (i >= v->arr.n) {
				ncp_errf(err, errlen,
					 "%.*s: missing (the array at line %" PRIu32
					 ", column %" PRIu32 " has %zu elements)",
					 (int)(end + 1 - path), path, v->line,
					 v->column, v->arr.n);
				return -ENOENT;
			}
			v = &v->arr.items[i];
			p = end + 1;
			if (*p == '.')
				p++;
			continue;
		}
		size_t n = strcspn(p, ".[");
		if (n == 0 || (p[n] == '.' && (p[n + 1] == '\0' || p[n + 1] == '.')))
			return ncp_errf(err, errlen, "bad key path \"%s\"", path);
		if (v->type != NCP_JSON_OBJECT) {
			ncp_errf(err, errlen,
				 "%.*s (line %" PRIu32 ", column %" PRIu32
				 "): expected an object, found %s",
				 LABEL(path, here), v->line, v->column,
				 ncp_json_type_name(v->type));
			return -EINVAL;
		}
		const struct ncp_json_value *m = member_n(v, p, n);
		if (!m) {
			ncp_errf(err, errlen, "%.*s: missing", (int)(p + n - path),
				 path);
			return -ENOENT;
		}
		v = m;
		p += n;
		if (*p == '.')
			p++;
	}
	*out = v;
	return 0;
}

const struct ncp_json_value *ncp_json_lookup(const struct ncp_json_value *v,
					     const char *path)
{
	const struct ncp_json_value *out;
	return walk(v, path, &out, NULL, 0) ? NULL : out;
}

static int typed(const struct ncp_json_value *v, const char *path,
		 enum ncp_json_type type, const char *want,
		 const struct ncp_json_value **out, char *err, size_t errlen)
{
	int r = walk(v, path, out, err, errlen);
	if (r)
		return r;
	if ((*out)->type != type) {
		ncp_errf(err, errlen,
			 "%.*s (line %" PRIu32 ", column %" PRIu32
			 "): expected %s, found %s",
			 LABEL(path, strlen(path)), (*out)->line, (*out)->column,
			 want, ncp_json_type_name((*out)->type));
		return -EINVAL;
	}
	return 0;
}

int ncp_json_get_bool(const struct ncp_json_value *v, const char *path,
		      bool *out, char *err, size_t errlen)
{
	const struct ncp_json_value *x;
	int r = typed(v, path, NCP_JSON_BOOL, "true or false", &x, err, errlen);
	if (!r)
		*out = x->boolean;
	return r;
}

int ncp_json_get_int(const struct ncp_json_value *v, const char *path,
		     int64_t *out, char *err, size_t errlen)
{
	const struct ncp_json_value *x;
	int r = typed(v, path, NCP_JSON_NUMBER, "an integer", &x, err, errlen);
	if (r)
		return r;
	if (!x->num.is_int) {
		ncp_errf(err, errlen,
			 "%.*s (line %" PRIu32 ", column %" PRIu32
			 "): expected an integer, found %.17g%s",
			 LABEL(path, strlen(path)), x->line, x->column, x->num.d,
			 x->num.d == trunc(x->num.d)
				 ? " (out of the 64-bit range or written with a fraction or exponent)"
				 : "");
		return -EINVAL;
	}
	*out = x->num.i;
	return 0;
}

int ncp_json_get_double(const struct ncp_json_value *v, const char *path,
			double *out, char *err, size_t errlen)
{
	const struct ncp_json_value *x;
	int r = typed(v, path, NCP_JSON_NUMBER, "a number", &x, err, errlen);
	if (!r)
		*out = x->num.d;
	return r;
}

int ncp_json_get_str(const struct ncp_json_value *v, const char *path,
		     const char **out, char *err, size_t errlen)
{
	const struct ncp_json_value *x;
	int r = typed(v, path, NCP_JSON_STRING, "a string", &x, err, errlen);
	if (r)
		return r;
	if (strlen(x->str.s) != x->str.len) {
		ncp_errf(err, errlen,
			 "%.*s (line %" PRIu32 ", column %" PRIu32
			 "): the string contains a NUL character",
			 LABEL(path, strlen(path)), x->line, x->column);
		return -EINVAL;
	}
	*out = x->str.s;
	return 0;
}

int ncp_json_get_obj(const struct ncp_json_value *v, const char *path,
		     const struct ncp_json_value **out, char *err,
		     size_t errlen)
{
	return typed(v, path, NCP_JSON_OBJECT, "an object", out, err, errlen);
}

int ncp_json_get_arr(const struct ncp_json_value *v, const char *path,
		     const struct ncp_json_value **out, char *err,
		     size_t errlen)
{
	return typed(v, path, NCP_JSON_ARRAY, "an array", out, err, errlen);
}

void ncp_json_quote(char *buf, size_t len, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (!len)
		return;
	if (len < 8) {
		buf[0] = '\0';
		return;
	}
	buf[o++] = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[8];
		size_t k = 0;
		if (c == '"' || c == '\\') {
			e[k++] = '\\';
			e[k++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			memcpy(e, "\\u00", 4);
			k = 4;
			e[k++] = hex[c >> 4];
			e[k++] = hex[c & 15];
		} else {
			/* A whole UTF-8 sequence at once, so a cut never
			 * splits one. */
			size_t m = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
			m = NCP_MIN(m, n - i);
			memcpy(e, s + i, m);
			k = m;
			i += m - 1;
		}
		/* Room for this, and for '..."' and NUL after it. */
		if (o + k + 5 > len) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, e, k);
		o += k;
	}
	buf[o++] = '"';
	buf[o] = '\0';
}
