/* Fuzz the NPY reader.  Whatever it accepts is consistent (sizes add up to
 * the input, the data is readable and aligned) and its header formats back
 * to one that parses to the same thing. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/io/ncp_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];

	for (unsigned flags = 0; flags <= NCP_NPY_ALLOW_TRAILING;
	     flags += NCP_NPY_ALLOW_TRAILING) {
		struct ncp_npy *a = ncp_npy_parse(data, size, "f.npy", flags, err,
						  sizeof(err));
		if (!a) {
			ncp_assert(!strncmp(err, "f.npy: ", 7));
			continue;
		}
		size_t isz = ncp_npy_dtype_size(a->h.dtype);
		ncp_assert(a->data_offset + a->data_bytes + a->trailing == size);
		ncp_assert(a->count * isz == a->data_bytes);
		ncp_assert((uintptr_t)a->data % isz == 0);
		ncp_assert(flags || a->trailing == 0);
		unsigned sum = 0;
		for (size_t i = 0; i < a->data_bytes; i++)
			sum += ((const uint8_t *)a->data)[i];
		(void)sum;

		/* Format the header back (fixed and growable) and re-read it. */
		for (int growable = 0; growable <= (a->h.ndim > 0); growable++) {
			size_t len, off;
			struct ncp_npy_header back;
			ncp_assert(!ncp_npy_header_format(&a->h, growable, NULL, 0, &len));
			char *buf = malloc(len);
			ncp_assert(buf);
			ncp_assert(!ncp_npy_header_format(&a->h, growable, buf, len, &len));
			ncp_assert(len % 64 == 0);
			ncp_assert(!ncp_npy_header_parse(buf, len, "back", &back, &off,
							 err, sizeof(err)));
			ncp_assert(off == len && back.dtype == a->h.dtype &&
				   back.ndim == a->h.ndim);
			for (int d = 0; d < back.ndim; d++)
				ncp_assert(back.shape[d] == a->h.shape[d]);
			free(buf);
		}
		ncp_npy_free(a);
	}
	return 0;
}
