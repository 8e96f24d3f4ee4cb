/* Fuzz the safetensors reader.  Whatever it accepts is consistent: the
 * tensors cover the data exactly, each is found by its name and returned
 * by a lookup with its own dtype and shape, the metadata is found by key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/io/ncp_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	struct ncp_safetensors *st = ncp_safetensors_parse(data, size, "f.st", err,
							   sizeof(err));
	if (!st) {
		ncp_assert(!strncmp(err, "f.st: ", 6));
		return 0;
	}
	uint64_t header = 0, covered = 0;
	for (int i = 0; i < 8; i++)
		header |= (uint64_t)data[i] << (8 * i);
	for (size_t i = 0; i < ncp_safetensors_count(st); i++) {
		const struct ncp_safetensors_tensor *t = ncp_safetensors_at(st, i);
		uint64_t n = ncp_safetensors_dtype_size(t->dtype);
		for (int d = 0; d < t->ndim; d++)
			n *= t->shape[d];
		ncp_assert(n == t->end - t->begin);
		covered += n;
		unsigned sum = 0;
		for (uint64_t k = 0; k < n; k++)
			sum += ((const uint8_t *)t->data)[k];
		(void)sum;
		/* Names are unique and NUL-free: each finds its tensor, and
		 * a lookup with its own dtype and shape succeeds unless the
		 * data is misaligned for the type. */
		ncp_assert(ncp_safetensors_find(st, t->name) == t);
		const void *p;
		int r = ncp_safetensors_get(st, t->name, t->dtype, t->ndim, t->shape,
					    &p, err, sizeof(err));
		ncp_assert(r == 0 ? p == t->data
				  : t->begin % ncp_safetensors_dtype_size(t->dtype) != 0);
	}
	ncp_assert(covered == size - 8 - header);
	for (size_t i = 0; i < ncp_safetensors_meta_count(st); i++) {
		const struct ncp_safetensors_meta *m = ncp_safetensors_meta_at(st, i);
		ncp_assert(ncp_safetensors_meta_get(st, m->key) == m->value);
		uint64_t x;
		ncp_safetensors_meta_uint(st, m->key, &x, err, sizeof(err));
	}
	ncp_safetensors_free(st);
	return 0;
}
