#include "daemon/ncp_reply.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void ncp_reply_init(struct ncp_reply *r)
{
	r->is_err = false;
	r->has_text = false;
	memcpy(r->line, "ok", 3);
	r->len = 2;
}

const char *ncp_reply_errname(int err)
{
	const char *name;

	if (err < 0)
		err = -err;
	name = err ? strerrorname_np(err) : NULL;
	return name ? name : "EIO";
}

/* Keep a message or value on one line: control characters (and, for
 * values, spaces) become `repl`. */
static void sanitize(char *s, size_t n, bool spaces, char repl)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || (spaces && c == ' '))
			s[i] = repl;
	}
}

static void overflow(struct ncp_reply *r)
{
	ncp_reply_err(r, -E2BIG, "reply longer than %d bytes", NCP_REPLY_MAX);
}

static bool key_valid(const char *key)
{
	if (!key[0])
		return false;
	for (const char *p = key; *p; p++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

/* Append " key=" and then the formatted value, sanitised. */
static void pair(struct ncp_reply *r, const char *key, const char *fmt, ...)
	NCP_PRINTF(3, 4);
static void pair(struct ncp_reply *r, const char *key, const char *fmt, ...)
{
	size_t room, start;
	va_list ap;
	int n;

	ncp_assert(key_valid(key));
	ncp_assert(!r->has_text);
	if (r->is_err)
		return;
	room = sizeof(r->line) - r->len;
	n = snprintf(r->line + r->len, room, " %s=", key);
	if (n < 0 || (size_t)n >= room) {
		overflow(r);
		return;
	}
	start = r->len + (size_t)n;
	room -= (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(r->line + start, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		overflow(r);
		return;
	}
	sanitize(r->line + start, (size_t)n, true, '_');
	r->len = start + (size_t)n;
}

void ncp_reply_str(struct ncp_reply *r, const char *key, const char *value)
{
	pair(r, key, "%s", value);
}

void ncp_reply_int(struct ncp_reply *r, const char *key, int64_t value)
{
	pair(r, key, "%" PRId64, value);
}

void ncp_reply_uint(struct ncp_reply *r, const char *key, uint64_t value)
{
	pair(r, key, "%" PRIu64, value);
}

/* One number as the protocol writes it, into buf (32 bytes suffice). */
static void format_num(char *buf, size_t len, double x)
{
	if (isnan(x))
		snprintf(buf, len, "nan");
	else if (isinf(x))
		snprintf(buf, len, x > 0 ? "inf" : "-inf");
	else
		snprintf(buf, len, "%.9g", x == 0.0 ? 0.0 : x);
}

void ncp_reply_num(struct ncp_reply *r, const char *key, double value)
{
	char buf[32];

	format_num(buf, sizeof(buf), value);
	pair(r, key, "%s", buf);
}

void ncp_reply_vec(struct ncp_reply *r, const char *key, const double *v,
		   size_t n)
{
	char buf[32];

	pair(r, key, "%s", "");
	for (size_t i = 0; i < n && !r->is_err; i++) {
		size_t room = sizeof(r->line) - r->len;
		format_num(buf, sizeof(buf), v[i]);
		int w = snprintf(r->line + r->len, room, "%s%s", i ? "," : "",
				 buf);
		if (w < 0 || (size_t)w >= room) {
			overflow(r);
			return;
		}
		r->len += (size_t)w;
	}
}

void ncp_reply_bool(struct ncp_reply *r, const char *key, bool value)
{
	pair(r, key, "%s", value ? "true" : "false");
}

void ncp_reply_text(struct ncp_reply *r, const char *fmt, ...)
{
	size_t room;
	va_list ap;
	int n;

	if (r->is_err)
		return;
	ncp_assert(r->len == 2 && !r->has_text);
	room = sizeof(r->line) - 3;
	va_start(ap, fmt);
	n = vsnprintf(r->line + 3, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		overflow(r);
		return;
	}
	if (n == 0) {
		r->line[2] = '\0';
		return;
	}
	r->line[2] = ' ';
	sanitize(r->line + 3, (size_t)n, false, ' ');
	r->len = 3 + (size_t)n;
	r->has_text = true;
}

int ncp_reply_err(struct ncp_reply *r, int err, const char *fmt, ...)
{
	size_t room;
	va_list ap;
	int n;

	if (err > 0)
		err = -err;
	if (err == 0)
		err = -EIO;
	n = snprintf(r->line, sizeof(r->line), "err %s ",
		     ncp_reply_errname(err));
	room = sizeof(r->line) - (size_t)n;
	va_start(ap, fmt);
	int m = vsnprintf(r->line + n, room, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	if ((size_t)m >= room)
		m = (int)room - 1; /* truncated message: still one line */
	sanitize(r->line + n, (size_t)m, false, ' ');
	r->len = (size_t)n + (size_t)m;
	/* No trailing space when the message is empty. */
	while (r->len > 0 && r->line[r->len - 1] == ' ')
		r->line[--r->len] = '\0';
	r->is_err = true;
	r->has_text = false;
	return err;
}
