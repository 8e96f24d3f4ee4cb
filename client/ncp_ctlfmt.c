#include "client/ncp_ctlfmt.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_json.h"

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

static bool scalar_like(const char *s, size_t n)
{
	return json_number(s, n) || json_bool_word(s, n) || json_null_word(s, n);
}

/* A scalar that scalar_like accepted, as JSON: the number's own text
 * (so nothing is rounded), true/false, or null. */
static void json_scalar(struct ncp_json *j, const char *s, size_t n)
{
	char tok[64];

	if (json_null_word(s, n)) {
		ncp_json_null(j);
	} else if (json_bool_word(s, n)) {
		ncp_json_bool(j, s[0] == 't');
	} else if (n < sizeof(tok)) {
		memcpy(tok, s, n);
		tok[n] = '\0';
		/* A number past a double's range (1e999) is not finite: null,
		 * as nan and inf are. */
		if (isfinite(strtod(tok, NULL)))
			ncp_json_raw(j, tok);
		else
			ncp_json_null(j);
	} else {
		ncp_json_str_n(j, s, n); /* a number too long to be meant */
	}
}

/* A value: an array when it holds commas and every element is a scalar,
 * a scalar, or else a string. */
static void json_value(struct ncp_json *j, const char *v)
{
	bool vector = strchr(v, ',') != NULL;

	for (const char *p = v; vector;) {
		const char *c = strchr(p, ',');
		if (!scalar_like(p, c ? (size_t)(c - p) : strlen(p)))
			vector = false;
		if (!c)
			break;
		p = c + 1;
	}
	if (vector) {
		ncp_json_arr(j);
		for (const char *p = v;;) {
			const char *c = strchr(p, ',');
			json_scalar(j, p, c ? (size_t)(c - p) : strlen(p));
			if (!c)
				break;
			p = c + 1;
		}
		ncp_json_end(j);
	} else if (scalar_like(v, strlen(v))) {
		json_scalar(j, v, strlen(v));
	} else {
		ncp_json_str(j, v);
	}
}

/* Whether pair i repeats the key of an earlier pair. */
static bool repeated(const struct ncp_ctlfmt_reply *r, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcmp(r->pairs[k].key, r->pairs[i].key) == 0)
			return true;
	return false;
}

/* Whether a key without a section would repeat a name in the object: "ok",
 * or a section's name. */
static bool clashes(const struct ncp_ctlfmt_reply *r, const char *key)
{
	if (strcmp(key, "ok") == 0)
		return true;
	for (size_t k = 0; k < r->npairs; k++) {
		size_t n = section_len(r->pairs[k].key);
		if (n && strlen(key) == n && strncmp(r->pairs[k].key, key, n) == 0)
			return true;
	}
	return false;
}

/* The reply as one object into j (see the header for its shape).  A key
 * is written once (JSON readers disagree about repeated keys): a pair that
 * repeats one is left out here, though people see it. */
static void json_reply(const struct ncp_ctlfmt_reply *r, struct ncp_json *j)
{
	ncp_json_obj(j);
	ncp_json_key(j, "ok");
	ncp_json_bool(j, r->ok);
	if (!r->ok) {
		ncp_json_key(j, "code");
		ncp_json_str(j, r->code);
		ncp_json_key(j, "message");
		ncp_json_str(j, r->message);
	} else if (r->npairs == 0 && r->text[0]) {
		ncp_json_key(j, "text");
		ncp_json_str(j, r->text);
	}
	/* Keys without a section, then each section in the order it first
	 * appears, as for people. */
	for (size_t i = 0; i < r->npairs; i++) {
		if (section_len(r->pairs[i].key) != 0 || repeated(r, i) ||
		    clashes(r, r->pairs[i].key))
			continue;
		ncp_json_key(j, r->pairs[i].key);
		json_value(j, r->pairs[i].value);
	}
	for (size_t i = 0; i < r->npairs; i++) {
		const char *key = r->pairs[i].key;
		size_t n = section_len(key);
		if (n == 0 || !first_of_section(r, i) ||
		    (n == 2 && strncmp(key, "ok", 2) == 0))
			continue;
		ncp_json_key_n(j, key, n);
		ncp_json_obj(j);
		for (size_t k = i; k < r->npairs; k++) {
			if (!same_section(r->pairs[k].key, key) || repeated(r, k))
				continue;
			ncp_json_key(j, r->pairs[k].key + n + 1);
			json_value(j, r->pairs[k].value);
		}
		ncp_json_end(j);
	}
	ncp_json_end(j);
}

int ncp_ctlfmt_json(const struct ncp_ctlfmt_reply *r, FILE *out)
{
	struct ncp_json j;
	int ret;

	ncp_json_init(&j);
	json_reply(r, &j);
	ret = ncp_json_finish(&j);
	if (!ret)
		fprintf(out, "%s\n", j.buf);
	ncp_json_fini(&j);
	return ret;
}
