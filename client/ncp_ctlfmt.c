#include "client/ncp_ctlfmt.h"

#include <errno.h>
#include <string.h>

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

/* Whether the payload is "k=v k=v ...": keys of key characters, single
 * spaces between pairs. */
static bool all_pairs(const char *p)
{
	size_t n = 0;

	while (*p) {
		const char *k = p;
		while (key_char(*p))
			p++;
		if (p == k || *p != '=' || ++n > NCP_CTLFMT_PAIRS_MAX)
			return false;
		p += strcspn(p, " ");
		if (*p == ' ' && (p[1] == ' ' || p[1] == '\0'))
			return false;
		if (*p)
			p++;
	}
	return n > 0;
}

/* Cut a payload that all_pairs accepted into r->pairs, in place. */
static void split_pairs(char *p, struct ncp_ctlfmt_reply *r)
{
	r->npairs = 0;
	while (*p) {
		char *eq = strchr(p, '=');
		r->pairs[r->npairs].key = p;
		r->pairs[r->npairs].value = eq + 1;
		r->npairs++;
		*eq = '\0';
		p = eq + 1 + strcspn(eq + 1, " ");
		if (*p)
			*p++ = '\0';
	}
}

int ncp_ctlfmt_parse(const char *line, struct ncp_ctlfmt_reply *r)
{
	size_t n = strlen(line);

	r->ok = false;
	r->code = r->message = r->text = "";
	r->npairs = 0;
	if (n >= sizeof(r->buf))
		return -EBADMSG;
	memcpy(r->buf, line, n + 1);

	if (strcmp(r->buf, "ok") == 0) {
		r->ok = true;
		return 0;
	}
	if (strncmp(r->buf, "ok ", 3) == 0) {
		r->ok = true;
		if (all_pairs(r->buf + 3))
			split_pairs(r->buf + 3, r);
		else
			r->text = r->buf + 3;
		return 0;
	}
	if (strncmp(r->buf, "err ", 4) == 0) {
		char *code = r->buf + 4, *p = code;
		if (*p != 'E')
			return -EBADMSG;
		while ((*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9'))
			p++;
		if (*p != '\0' && *p != ' ')
			return -EBADMSG;
		r->message = *p ? p + 1 : "";
		*p = '\0';
		r->code = code;
		return 0;
	}
	return -EBADMSG;
}

/* The section of a key: its part before the first '.', or "". */
static size_t section_len(const char *key)
{
	const char *dot = strchr(key, '.');
	return dot ? (size_t)(dot - key) : 0;
}

static bool same_section(const char *a, const char *b)
{
	size_t n = section_len(a);
	return n == section_len(b) && strncmp(a, b, n) == 0;
}

/* Whether pair i is the first of its section. */
static bool first_of_section(const struct ncp_ctlfmt_reply *r, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (same_section(r->pairs[k].key, r->pairs[i].key))
			return false;
	return true;
}

void ncp_ctlfmt_human(const struct ncp_ctlfmt_reply *r, const char *prog,
		      FILE *out, FILE *errout)
{
	if (!r->ok) {
		if (r->message[0])
			fprintf(errout, "%s: %s (%s)\n", prog, r->message, r->code);
		else
			fprintf(errout, "%s: %s\n", prog, r->code);
		return;
	}
	if (r->npairs == 0) {
		fprintf(out, "%s\n", r->text[0] ? r->text : "ok");
		return;
	}
	/* Keys without a section first, then each section in the order it
	 * first appears, its keys in theirs. */
	for (size_t i = 0; i < r->npairs; i++)
		if (section_len(r->pairs[i].key) == 0)
			fprintf(out, "%s: %s\n", r->pairs[i].key, r->pairs[i].value);
	for (size_t i = 0; i < r->npairs; i++) {
		const char *key = r->pairs[i].key;
		size_t n = section_len(key);
		if (n == 0 || !first_of_section(r, i))
			continue;
		fprintf(out, "%.*s:\n", (int)n, key);
		for (size_t k = i; k < r->npairs; k++)
			if (same_section(r->pairs[k].key, key))
				fprintf(out, "  %s: %s\n", r->pairs[k].key + n + 1,
					r->pairs[k].value);
	}
}

/* --- JSON ------------------------------------------------------------- */

/* The length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		if (c == 0xf4)
			hi = 0x8f; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if (s[k] < 0x80 || s[k] > 0xbf)
			return 0;
	return len;
}

/* A JSON string; bytes that are not UTF-8 become U+FFFD, so the output
 * is valid JSON whatever the reply held. */
static void json_str(FILE *out, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', out);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (c == '"' || c == '\\') {
			fprintf(out, "\\%c", c);
		} else if (c < 0x20 || c == 0x7f) {
			fprintf(out, "\\u%04x", c);
		} else if (c < 0x80) {
			fputc(c, out);
		} else {
			size_t len = utf8_len(s + i, n - i);
			if (len == 0) {
				fputs("\\ufffd", out);
				continue;
			}
			fwrite(s + i, 1, len, out);
			i += len - 1;
		}
	}
	fputc('"', out);
}

/* JSON's number grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool json_number(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (i < n && s[i] >= '1' && s[i] <= '9')
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
	else
		return false;
	if (i < n && s[i] == '.') {
		size_t d = ++i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		size_t d = i;
		while (i < n && s[i] >= '0' && s[i] <= '9')
			i++;
		if (i == d)
			return false;
	}
	return i == n;
}

static bool is_word(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && strncmp(s, w, n) == 0;
}

static bool json_null_word(const char *s, size_t n)
{
	return is_word(s, n, "nan") || is_word(s, n, "inf") ||
	       is_word(s, n, "-inf") || is_word(s, n, "+inf");
}

static bool json_bool_word(const char *s, size_t n)
{
	return is_word(s, n, "true") || is_word(s, n, "false");
}

/* A scalar as JSON, or false when it is none of number, bool, null. */
static bool json_scalar(FILE *out, const char *s, size_t n)
{
	if (json_number(s, n) || json_bool_word(s, n)) {
		fwrite(s, 1, n, out);
		return true;
	}
	if (json_null_word(s, n)) {
		fputs("null", out);
		return true;
	}
	return false;
}

static bool scalar_like(const char *s, size_t n)
{
	return json_number(s, n) || json_bool_word(s, n) || json_null_word(s, n);
}

static void json_value(FILE *out, const char *v)
{
	size_t n = strlen(v);
	bool vector = strchr(v, ',') != NULL;

	if (vector) {
		/* An array only when every element is a scalar. */
		for (const char *p = v;;) {
			const char *c = strchr(p, ',');
			size_t len = c ? (size_t)(c - p) : strlen(p);
			if (!scalar_like(p, len)) {
				vector = false;
				break;
			}
			if (!c)
				break;
			p = c + 1;
		}
	}
	if (vector) {
		fputc('[', out);
		for (const char *p = v;;) {
			const char *c = strchr(p, ',');
			json_scalar(out, p, c ? (size_t)(c - p) : strlen(p));
			if (!c)
				break;
			fputc(',', out);
			p = c + 1;
		}
		fputc(']', out);
	} else if (!json_scalar(out, v, n)) {
		json_str(out, v, n);
	}
}

void ncp_ctlfmt_json(const struct ncp_ctlfmt_reply *r, const char *topic,
		     FILE *out)
{
	bool first = true;

	if (!r->ok) {
		fputs("{\"ok\":false,\"code\":", out);
		json_str(out, r->code, strlen(r->code));
		fputs(",\"message\":", out);
		json_str(out, r->message, strlen(r->message));
		fputs("}\n", out);
		return;
	}
	fputs("{\"ok\":true", out);
	if (r->npairs == 0) {
		if (r->text[0]) {
			fputc(',', out);
			json_str(out, topic, strlen(topic));
			fputc(':', out);
			json_str(out, r->text, strlen(r->text));
		}
		fputs("}\n", out);
		return;
	}
	fputc(',', out);
	json_str(out, topic, strlen(topic));
	fputs(":{", out);
	for (size_t i = 0; i < r->npairs; i++) {
		const char *key = r->pairs[i].key;
		if (section_len(key) != 0)
			continue;
		if (!first)
			fputc(',', out);
		first = false;
		json_str(out, key, strlen(key));
		fputc(':', out);
		json_value(out, r->pairs[i].value);
	}
	for (size_t i = 0; i < r->npairs; i++) {
		const char *key = r->pairs[i].key;
		size_t n = section_len(key);
		bool first_key = true;
		if (n == 0 || !first_of_section(r, i))
			continue;
		if (!first)
			fputc(',', out);
		first = false;
		json_str(out, key, n);
		fputs(":{", out);
		for (size_t k = i; k < r->npairs; k++) {
			if (!same_section(r->pairs[k].key, key))
				continue;
			if (!first_key)
				fputc(',', out);
			first_key = false;
			const char *sub = r->pairs[k].key + n + 1;
			json_str(out, sub, strlen(sub));
			fputc(':', out);
			json_value(out, r->pairs[k].value);
		}
		fputc('}', out);
	}
	fputs("}}\n", out);
}

void ncp_ctlfmt_topic(const char *request, char *topic, size_t len)
{
	const char *p = request;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strcspn(p, " \t\r\n");
	for (size_t i = 0; i < n; i++)
		if (!key_char(p[i]))
			n = 0;
	if (n == 0 || n >= len)
		snprintf(topic, len, "reply");
	else
		snprintf(topic, len, "%.*s", (int)n, p);
}
