#include "client/ncp_mon_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ncp_mon_json_init(struct ncp_mon_json *j)
{
	memset(j, 0, sizeof(*j));
}

void ncp_mon_json_fini(struct ncp_mon_json *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

int ncp_mon_json_finish(const struct ncp_mon_json *j)
{
	if (j->err)
		return j->err;
	if (j->depth != 0 || j->after_key || j->len == 0)
		return -EINVAL;
	return 0;
}

static void fail(struct ncp_mon_json *j, int err)
{
	if (!j->err)
		j->err = err;
}

/* Room for n more bytes and the NUL. */
static bool reserve(struct ncp_mon_json *j, size_t n)
{
	size_t cap;
	char *p;

	if (j->err)
		return false;
	if (j->len + n + 1 <= j->cap)
		return true;
	cap = j->cap ? j->cap : 256;
	while (cap < j->len + n + 1)
		cap *= 2;
	p = realloc(j->buf, cap);
	if (!p) {
		fail(j, -ENOMEM);
		return false;
	}
	j->buf = p;
	j->cap = cap;
	return true;
}

static void put(struct ncp_mon_json *j, const char *s, size_t n)
{
	if (!reserve(j, n))
		return;
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void putf(struct ncp_mon_json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void putf(struct ncp_mon_json *j, const char *fmt, ...)
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
static bool begin_value(struct ncp_mon_json *j)
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

static void open_level(struct ncp_mon_json *j, bool obj)
{
	if (!begin_value(j))
		return;
	if (j->depth == NCP_MON_JSON_MAX_DEPTH) {
		fail(j, -EINVAL);
		return;
	}
	put(j, obj ? "{" : "[", 1);
	j->is_obj[j->depth] = obj;
	j->has_items[j->depth] = false;
	j->depth++;
}

void ncp_mon_json_obj(struct ncp_mon_json *j)
{
	open_level(j, true);
}

void ncp_mon_json_arr(struct ncp_mon_json *j)
{
	open_level(j, false);
}

void ncp_mon_json_end(struct ncp_mon_json *j)
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

static void put_string(struct ncp_mon_json *j, const char *s)
{
	put(j, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			put(j, "\\\"", 2);
			break;
		case '\\':
			put(j, "\\\\", 2);
			break;
		case '\n':
			put(j, "\\n", 2);
			break;
		case '\t':
			put(j, "\\t", 2);
			break;
		case '\r':
			put(j, "\\r", 2);
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				putf(j, "\\u%04x", *p);
			else
				put(j, (const char *)p, 1);
		}
	}
	put(j, "\"", 1);
}

void ncp_mon_json_key(struct ncp_mon_json *j, const char *key)
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
	put_string(j, key);
	put(j, ":", 1);
	j->after_key = true;
}

void ncp_mon_json_str(struct ncp_mon_json *j, const char *s)
{
	if (!s) {
		ncp_mon_json_null(j);
		return;
	}
	if (begin_value(j))
		put_string(j, s);
}

void ncp_mon_json_num(struct ncp_mon_json *j, double x)
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

void ncp_mon_json_int(struct ncp_mon_json *j, int64_t x)
{
	if (begin_value(j))
		putf(j, "%" PRId64, x);
}

void ncp_mon_json_uint(struct ncp_mon_json *j, uint64_t x)
{
	if (begin_value(j))
		putf(j, "%" PRIu64, x);
}

void ncp_mon_json_bool(struct ncp_mon_json *j, bool b)
{
	if (begin_value(j))
		put(j, b ? "true" : "false", b ? 4 : 5);
}

void ncp_mon_json_null(struct ncp_mon_json *j)
{
	if (begin_value(j))
		put(j, "null", 4);
}

void ncp_mon_json_nums(struct ncp_mon_json *j, const double *x, size_t n)
{
	ncp_mon_json_arr(j);
	for (size_t i = 0; i < n; i++)
		ncp_mon_json_num(j, x[i]);
	ncp_mon_json_end(j);
}

void ncp_mon_json_floats(struct ncp_mon_json *j, const float *x, size_t n)
{
	ncp_mon_json_arr(j);
	for (size_t i = 0; i < n; i++)
		ncp_mon_json_num(j, (double)x[i]);
	ncp_mon_json_end(j);
}
