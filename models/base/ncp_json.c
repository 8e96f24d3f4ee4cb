#include "models/base/ncp_json.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void ncp_json_init(struct ncp_json *j)
{
	memset(j, 0, sizeof(*j));
	j->first[0] = true;
}

void ncp_json_fini(struct ncp_json *j)
{
	free(j->buf);
	memset(j, 0, sizeof(*j));
}

int ncp_json_finish(struct ncp_json *j)
{
	if (!j->err && j->depth != 0)
		j->err = -EINVAL;
	if (!j->err && !j->buf)
		j->err = -EINVAL;
	return j->err;
}

static void put(struct ncp_json *j, const char *s, size_t n)
{
	if (j->err)
		return;
	if (j->len + n + 1 > j->cap) {
		size_t cap = j->cap ? j->cap : 256;
		while (j->len + n + 1 > cap)
			cap *= 2;
		char *b = realloc(j->buf, cap);
		if (!b) {
			j->err = -ENOMEM;
			return;
		}
		j->buf = b;
		j->cap = cap;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void putf(struct ncp_json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void putf(struct ncp_json *j, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(j, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Before any value: the comma that separates it from its predecessor. */
static void begin_value(struct ncp_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		put(j, ",", 1);
	j->first[j->depth] = false;
}

static void open(struct ncp_json *j, char c)
{
	begin_value(j);
	put(j, &c, 1);
	if (j->depth + 1 >= NCP_JSON_MAX_DEPTH) {
		j->err = j->err ? j->err : -EINVAL;
		return;
	}
	j->first[++j->depth] = true;
	j->close[j->depth] = c == '{' ? '}' : ']';
}

void ncp_json_obj(struct ncp_json *j) { open(j, '{'); }
void ncp_json_arr(struct ncp_json *j) { open(j, '['); }

void ncp_json_end(struct ncp_json *j)
{
	if (j->depth <= 0) {
		j->err = j->err ? j->err : -EINVAL;
		return;
	}
	put(j, &j->close[j->depth], 1);
	j->depth--;
}

static void put_string(struct ncp_json *j, const char *s)
{
	put(j, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': put(j, "\\\"", 2); break;
		case '\\': put(j, "\\\\", 2); break;
		case '\n': put(j, "\\n", 2); break;
		case '\r': put(j, "\\r", 2); break;
		case '\t': put(j, "\\t", 2); break;
		default:
			if (*p < 0x20)
				putf(j, "\\u%04x", *p);
			else
				put(j, (const char *)p, 1);
		}
	}
	put(j, "\"", 1);
}

void ncp_json_key(struct ncp_json *j, const char *key)
{
	begin_value(j);
	put_string(j, key);
	put(j, ":", 1);
	j->after_key = true;
}

void ncp_json_str(struct ncp_json *j, const char *s)
{
	begin_value(j);
	if (s)
		put_string(j, s);
	else
		put(j, "null", 4);
}

static void put_num(struct ncp_json *j, double x, int digits)
{
	begin_value(j);
	if (!isfinite(x)) {
		put(j, "null", 4);
		return;
	}
	if (x == 0.0)
		x = 0.0; /* no "-0" */
	putf(j, "%.*g", digits, x);
}

void ncp_json_num(struct ncp_json *j, double x) { put_num(j, x, 9); }
void ncp_json_num_exact(struct ncp_json *j, double x) { put_num(j, x, 17); }

void ncp_json_int(struct ncp_json *j, int64_t x)
{
	begin_value(j);
	putf(j, "%" PRId64, x);
}

void ncp_json_bool(struct ncp_json *j, bool b)
{
	begin_value(j);
	put(j, b ? "true" : "false", b ? 4 : 5);
}

void ncp_json_null(struct ncp_json *j)
{
	begin_value(j);
	put(j, "null", 4);
}

void ncp_json_raw(struct ncp_json *j, const char *json)
{
	begin_value(j);
	put(j, json, strlen(json));
}
