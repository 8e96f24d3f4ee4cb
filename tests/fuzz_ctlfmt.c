/* Fuzz target: ncpctl's reading of reply lines.  Whatever the line, the
 * JSON rendering must be exactly one valid JSON object and a newline
 * (checked by a strict validator here: RFC 8259 grammar, UTF-8 strings),
 * and the human rendering must not crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ncp_ctlfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct json {
	const unsigned char *p, *end;
	int depth;
};

static int peek(struct json *j)
{
	return j->p < j->end ? *j->p : -1;
}

static bool value(struct json *j);

static bool lit(struct json *j, const char *w)
{
	size_t n = strlen(w);
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return false;
	j->p += n;
	return true;
}

static bool digits(struct json *j)
{
	const unsigned char *s = j->p;
	while (peek(j) >= '0' && peek(j) <= '9')
		j->p++;
	return j->p > s;
}

static bool number(struct json *j)
{
	if (peek(j) == '-')
		j->p++;
	if (peek(j) == '0')
		j->p++;
	else if (!(peek(j) >= '1' && peek(j) <= '9') || !digits(j))
		return false;
	if (peek(j) == '.' && (j->p++, !digits(j)))
		return false;
	if (peek(j) == 'e' || peek(j) == 'E') {
		j->p++;
		if (peek(j) == '+' || peek(j) == '-')
			j->p++;
		if (!digits(j))
			return false;
	}
	return true;
}

static bool string(struct json *j)
{
	if (peek(j) != '"')
		return false;
	j->p++;
	for (;;) {
		int c = peek(j);
		if (c < 0 || c < 0x20)
			return false;
		j->p++;
		if (c == '"')
			return true;
		if (c == '\\') {
			c = peek(j);
			j->p++;
			if (c == 'u') {
				for (int k = 0; k < 4; k++, j->p++)
					if (!strchr("0123456789abcdefABCDEF", peek(j)) ||
					    peek(j) < 0)
						return false;
			} else if (c < 0 || !strchr("\"\\/bfnrt", c)) {
				return false;
			}
		} else if (c >= 0x80) {
			/* UTF-8: lead byte and continuation bytes. */
			int n = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc2 ? 1 : -1;
			if (n < 0 || c > 0xf4)
				return false;
			unsigned lo = 0x80, hi = 0xbf;
			if (c == 0xe0) lo = 0xa0;
			if (c == 0xed) hi = 0x9f;
			if (c == 0xf0) lo = 0x90;
			if (c == 0xf4) hi = 0x8f;
			for (int k = 0; k < n; k++, j->p++) {
				int d = peek(j);
				if (d < (int)(k ? 0x80 : lo) || d > (int)(k ? 0xbf : hi))
					return false;
			}
		}
	}
}

static bool members(struct json *j, char close, bool keyed)
{
	j->p++;
	if (++j->depth > 16)
		return false;
	if (peek(j) == close) {
		j->p++;
		j->depth--;
		return true;
	}
	for (;;) {
		if (keyed && (!string(j) || peek(j) != ':' || (j->p++, false)))
			return false;
		if (!value(j))
			return false;
		if (peek(j) == ',') {
			j->p++;
			continue;
		}
		if (peek(j) != close)
			return false;
		j->p++;
		j->depth--;
		return true;
	}
}

static bool value(struct json *j)
{
	switch (peek(j)) {
	case '{': return members(j, '}', true);
	case '[': return members(j, ']', false);
	case '"': return string(j);
	case 't': return lit(j, "true");
	case 'f': return lit(j, "false");
	case 'n': return lit(j, "null");
	default: return number(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ncp_ctlfmt_reply r;
	char line[NCP_CTLFMT_LINE_MAX];
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	/* What ncp_ctlclient_recv_line can return: no "\n", NUL-ended. */
	memcpy(line, data, n);
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (ncp_ctlfmt_parse(line, &r) != 0)
		return 0;

	f = open_memstream(&buf, &len);
	if (ncp_ctlfmt_json(&r, f))
		abort();
	fclose(f);
	struct json j = { (const unsigned char *)buf, (const unsigned char *)buf + len, 0 };
	if (peek(&j) != '{' || !value(&j) || j.end - j.p != 1 || *j.p != '\n') {
		fprintf(stderr, "invalid JSON for '%s':\n%s\n", line, buf);
		abort();
	}
	free(buf);

	f = open_memstream(&buf, &len);
	ncp_ctlfmt_human(&r, "ncpctl", f, f);
	fclose(f);
	if (len == 0 || buf[len - 1] != '\n')
		abort();
	free(buf);
	return 0;
}
