#include "models/base/ncp_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
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
