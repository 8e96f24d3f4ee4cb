/* Fuzz the JSON reader (ncp_json_doc over jansson) and the writer.
 * Beyond not crashing: a refusal names the document; whatever is accepted
 * is no deeper than the limit, and the writer writes it back as a
 * document that reads as the same values in the same order. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/io/ncp_json_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The writer cannot nest deeper than NCP_JSON_MAX_DEPTH. */
#define DEPTH (NCP_JSON_MAX_DEPTH - 2)

static int depth(const json_t *v)
{
	const char *key;
	json_t *m;
	int d = 0;

	if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++)
			d = NCP_MAX(d, depth(json_array_get(v, i)));
		return d + 1;
	}
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, m)
			d = NCP_MAX(d, depth(m));
		return d + 1;
	}
	return 0;
}

static void write_value(struct ncp_json *j, const json_t *v)
{
	const char *key;
	json_t *m;

	switch (json_typeof(v)) {
	case JSON_NULL: ncp_json_null(j); break;
	case JSON_TRUE: ncp_json_bool(j, true); break;
	case JSON_FALSE: ncp_json_bool(j, false); break;
	case JSON_INTEGER: ncp_json_int(j, json_integer_value(v)); break;
	case JSON_REAL: ncp_json_num_exact(j, json_real_value(v)); break;
	case JSON_STRING:
		ncp_json_str_n(j, json_string_value(v), json_string_length(v));
		break;
	case JSON_ARRAY:
		ncp_json_arr(j);
		for (size_t i = 0; i < json_array_size(v); i++)
			write_value(j, json_array_get(v, i));
		ncp_json_end(j);
		break;
	case JSON_OBJECT:
		ncp_json_obj(j);
		json_object_foreach((json_t *)v, key, m) {
			ncp_json_key(j, key);
			write_value(j, m);
		}
		ncp_json_end(j);
		break;
	}
}

/* The same values; a real written without a fraction reads back as an
 * integer, so numbers compare by value. */
static void same(const json_t *a, const json_t *b)
{
	if (json_is_number(a)) {
		ncp_assert(json_is_number(b));
		ncp_assert(json_number_value(a) == json_number_value(b));
		return;
	}
	ncp_assert(json_typeof(a) == json_typeof(b));
	if (json_is_string(a)) {
		ncp_assert(json_string_length(a) == json_string_length(b) &&
			   !memcmp(json_string_value(a), json_string_value(b),
				   json_string_length(a)));
	} else if (json_is_array(a)) {
		ncp_assert(json_array_size(a) == json_array_size(b));
		for (size_t i = 0; i < json_array_size(a); i++)
			same(json_array_get(a, i), json_array_get(b, i));
	} else if (json_is_object(a)) {
		/* Same keys in the same order. */
		void *ia = json_object_iter((json_t *)a);
		void *ib = json_object_iter((json_t *)b);
		ncp_assert(json_object_size(a) == json_object_size(b));
		for (; ia && ib; ia = json_object_iter_next((json_t *)a, ia),
				 ib = json_object_iter_next((json_t *)b, ib)) {
			ncp_assert(!strcmp(json_object_iter_key(ia),
					   json_object_iter_key(ib)));
			same(json_object_iter_value(ia), json_object_iter_value(ib));
		}
		ncp_assert(!ia && !ib);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ncp_json_doc_limits lim = { .max_bytes = 1 << 20, .max_depth = DEPTH };
	char err[256];
	json_t *root = ncp_json_doc_parse((const char *)data, size, "f", &lim,
					  err, sizeof(err));
	if (!root) {
		ncp_assert(!strncmp(err, "f:", 2) || !strncmp(err, "f: ", 3));
		return 0;
	}
	ncp_assert(depth(root) <= DEPTH);
	/* Typed getters never crash, whatever they find. */
	static const char *keys[] = { "", "a", "dtype", "__metadata__" };
	for (size_t i = 0; i < NCP_ARRAY_SIZE(keys); i++) {
		int64_t x;
		double d;
		bool b;
		const char *s;
		ncp_json_doc_get_int(root, keys[i], &x, err, sizeof(err));
		ncp_json_doc_get_double(root, keys[i], &d, err, sizeof(err));
		ncp_json_doc_get_bool(root, keys[i], &b, err, sizeof(err));
		ncp_json_doc_get_str(root, keys[i], &s, err, sizeof(err));
	}
	struct ncp_json j;
	ncp_json_init(&j);
	write_value(&j, root);
	ncp_assert(ncp_json_finish(&j) == 0);
	json_t *again = ncp_json_doc_parse(j.buf, j.len, "again", &lim, err,
					   sizeof(err));
	if (!again)
		ncp_log_err("written back as %s: %s", j.buf, err);
	ncp_assert(again);
	same(root, again);
	json_decref(again);
	ncp_json_fini(&j);
	json_decref(root);
	return 0;
}
