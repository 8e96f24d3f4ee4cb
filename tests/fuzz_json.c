/* Fuzz the JSON parser.  Beyond not crashing: whatever it accepts, the
 * writer writes back as a document that parses to the same tree, and the
 * lookups find every member they are given. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The writer cannot nest deeper than NCP_JSON_MAX_DEPTH. */
#define DEPTH (NCP_JSON_MAX_DEPTH - 2)

static bool has_nul(const struct ncp_json_value *v)
{
	switch (v->type) {
	case NCP_JSON_STRING:
		return strlen(v->str.s) != v->str.len;
	case NCP_JSON_ARRAY:
		for (size_t i = 0; i < v->arr.n; i++)
			if (has_nul(&v->arr.items[i]))
				return true;
		return false;
	case NCP_JSON_OBJECT:
		for (size_t i = 0; i < v->obj.n; i++)
			if (strlen(v->obj.members[i].key) != v->obj.members[i].key_len ||
			    has_nul(&v->obj.members[i].value))
				return true;
		return false;
	default:
		return false;
	}
}

static void write_value(struct ncp_json *j, const struct ncp_json_value *v)
{
	switch (v->type) {
	case NCP_JSON_NULL: ncp_json_null(j); break;
	case NCP_JSON_BOOL: ncp_json_bool(j, v->boolean); break;
	case NCP_JSON_NUMBER:
		if (v->num.is_int)
			ncp_json_int(j, v->num.i);
		else
			ncp_json_num_exact(j, v->num.d);
		break;
	case NCP_JSON_STRING: ncp_json_str(j, v->str.s); break;
	case NCP_JSON_ARRAY:
		ncp_json_arr(j);
		for (size_t i = 0; i < v->arr.n; i++)
			write_value(j, &v->arr.items[i]);
		ncp_json_end(j);
		break;
	case NCP_JSON_OBJECT:
		ncp_json_obj(j);
		for (size_t i = 0; i < v->obj.n; i++) {
			ncp_json_key(j, v->obj.members[i].key);
			write_value(j, &v->obj.members[i].value);
		}
		ncp_json_end(j);
		break;
	}
}

static void same(const struct ncp_json_value *a, const struct ncp_json_value *b)
{
	ncp_assert(a->type == b->type);
	switch (a->type) {
	case NCP_JSON_BOOL: ncp_assert(a->boolean == b->boolean); break;
	case NCP_JSON_NUMBER: ncp_assert(a->num.d == b->num.d); break;
	case NCP_JSON_STRING:
		ncp_assert(a->str.len == b->str.len &&
			   !memcmp(a->str.s, b->str.s, a->str.len));
		break;
	case NCP_JSON_ARRAY:
		ncp_assert(a->arr.n == b->arr.n);
		for (size_t i = 0; i < a->arr.n; i++)
			same(&a->arr.items[i], &b->arr.items[i]);
		break;
	case NCP_JSON_OBJECT:
		ncp_assert(a->obj.n == b->obj.n);
		for (size_t i = 0; i < a->obj.n; i++) {
			ncp_assert(!strcmp(a->obj.members[i].key, b->obj.members[i].key));
			same(&a->obj.members[i].value, &b->obj.members[i].value);
			/* Keys are unique, so lookup finds this very member. */
			ncp_assert(ncp_json_member(a, a->obj.members[i].key) ==
				   &a->obj.members[i].value);
		}
		break;
	default:
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ncp_json_limits lim = { .max_bytes = 1 << 20, .max_depth = DEPTH };
	char err[256];
	struct ncp_json_doc *doc = ncp_json_parse((const char *)data, size, "f",
						  &lim, err, sizeof(err));
	if (!doc) {
		ncp_assert(err[0] == 'f' || !strncmp(err, "line ", 5));
		return 0;
	}
	const struct ncp_json_value *root = ncp_json_doc_root(doc);
	/* Typed getters on a few paths never crash, whatever they find. */
	static const char *paths[] = { "", "a", "a.b", "[0]", "[1].x[2]", "__metadata__.k" };
	for (size_t i = 0; i < NCP_ARRAY_SIZE(paths); i++) {
		int64_t x;
		const char *s;
		ncp_json_get_int(root, paths[i], &x, err, sizeof(err));
		ncp_json_get_str(root, paths[i], &s, err, sizeof(err));
	}
	if (!has_nul(root)) {
		struct ncp_json j;
		ncp_json_init(&j);
		write_value(&j, root);
		ncp_assert(ncp_json_finish(&j) == 0);
		struct ncp_json_doc *again = ncp_json_parse(j.buf, j.len, "again",
							    &lim, err, sizeof(err));
		if (!again)
			ncp_log_err("written back as %s: %s", j.buf, err);
		ncp_assert(again);
		same(root, ncp_json_doc_root(again));
		ncp_json_doc_free(again);
		ncp_json_fini(&j);
	}
	ncp_json_doc_free(doc);
	return 0;
}
