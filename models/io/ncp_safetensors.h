/* ncp_safetensors: model files in the safetensors format, which PyTorch
 * (and numpy, JAX, ...) read and write.
 *
 * The format: N, a little-endian u64, then N bytes of JSON (the header),
 * then the data.  The header is one object: each tensor's name maps to
 *   {"dtype": "F32", "shape": [128, 1000], "data_offsets": [begin, end]}
 * with offsets relative to the first byte after the header, and an
 * optional "__metadata__" object maps strings to strings.  Data is
 * little-endian, C order, packed: the tensors cover the data exactly, with
 * no gap and no overlap.  Writers pad the header with spaces so the data
 * starts 8-byte aligned.
 *
 * Reading validates all of it (header size, JSON, each field, dtype, shape
 * against byte size, offsets inside the data, coverage, duplicate names,
 * names and metadata holding a NUL, which no C string can)
 * and refuses with a message naming the file, the tensor and the fault.
 * Reading never writes to the file.  The naming and metadata conventions
 * of ncpd's models are in docs/file-formats.md.
 */
#ifndef NCP_SAFETENSORS_H
#define NCP_SAFETENSORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_SAFETENSORS_MAX_DIMS 64
#define NCP_SAFETENSORS_MAX_HEADER 100000000u	/* as the reference reader */
/* In an expected shape: any size in this dimension. */
#define NCP_SAFETENSORS_ANY UINT64_MAX

enum ncp_safetensors_dtype {
	NCP_SAFETENSORS_BOOL,
	NCP_SAFETENSORS_U8,
	NCP_SAFETENSORS_I8,
	NCP_SAFETENSORS_F8_E5M2,
	NCP_SAFETENSORS_F8_E4M3,
	NCP_SAFETENSORS_F8_E8M0,
	NCP_SAFETENSORS_I16,
	NCP_SAFETENSORS_U16,
	NCP_SAFETENSORS_F16,
	NCP_SAFETENSORS_BF16,
	NCP_SAFETENSORS_I32,
	NCP_SAFETENSORS_U32,
	NCP_SAFETENSORS_F32,
	NCP_SAFETENSORS_C64,
	NCP_SAFETENSORS_F64,
	NCP_SAFETENSORS_I64,
	NCP_SAFETENSORS_U64,
	NCP_SAFETENSORS_DTYPE_COUNT
};

/* The format's name ("F32") and the element size in bytes. */
const char *ncp_safetensors_dtype_name(enum ncp_safetensors_dtype dtype);
size_t ncp_safetensors_dtype_size(enum ncp_safetensors_dtype dtype);

struct ncp_safetensors_tensor {
	const char *name;	/* UTF-8 */
	enum ncp_safetensors_dtype dtype;
	int ndim;		/* 0 for a scalar */
	uint64_t shape[NCP_SAFETENSORS_MAX_DIMS];
	uint64_t begin, end;	/* data_offsets (set by the reader) */
	const void *data;	/* end - begin bytes */
};

struct ncp_safetensors_meta {
	const char *key, *value;	/* UTF-8 */
};

/* ---- Writing ------------------------------------------------------------ */

/* Write n tensors and nmeta metadata entries to path atomically
 * (ncp_file_write_atomic, mode 0644 less the umask).  Tensors are laid out
 * largest element size first (then in the given order) so every tensor is
 * aligned for its type; the header pads the data to 8 bytes.  Returns 0;
 * -EINVAL for a bad tensor (duplicate or invalid name, "__metadata__" as a
 * name, bad dtype or shape, NULL data) or metadata (invalid UTF-8,
 * duplicate key); -ENOMEM; or the write's -errno (the old file stays). */
int ncp_safetensors_write(const char *path,
			  const struct ncp_safetensors_tensor *tensors,
			  size_t n, const struct ncp_safetensors_meta *meta,
			  size_t nmeta);

/* ---- Reading ------------------------------------------------------------ */

struct ncp_safetensors;

/* Read and validate a file.  Returns the model, or NULL with a message
 * (and errno set). */
struct ncp_safetensors *ncp_safetensors_load(const char *path, char *err,
					     size_t errlen);
/* The same from len bytes in memory (copied; name for messages). */
struct ncp_safetensors *ncp_safetensors_parse(const void *buf, size_t len,
					      const char *name, char *err,
					      size_t errlen);
void ncp_safetensors_free(struct ncp_safetensors *st);

/* Tensors in header order; pointers live as long as st. */
size_t ncp_safetensors_count(const struct ncp_safetensors *st);
const struct ncp_safetensors_tensor *
ncp_safetensors_at(const struct ncp_safetensors *st, size_t i);
/* The tensor with this name, or NULL. */
const struct ncp_safetensors_tensor *
ncp_safetensors_find(const struct ncp_safetensors *st, const char *name);

/* The data of tensor name, checked against the expected dtype and shape
 * (NCP_SAFETENSORS_ANY matches any size in a dimension).  *data is aligned
 * for the dtype.  Returns 0; -ENOENT if there is no such tensor; -EINVAL
 * for a mismatch, with a message naming expected and found. */
int ncp_safetensors_get(const struct ncp_safetensors *st, const char *name,
			enum ncp_safetensors_dtype dtype, int ndim,
			const uint64_t *shape, const void **data, char *err,
			size_t errlen);

/* Metadata in header order, and by key (NULL when absent). */
size_t ncp_safetensors_meta_count(const struct ncp_safetensors *st);
const struct ncp_safetensors_meta *
ncp_safetensors_meta_at(const struct ncp_safetensors *st, size_t i);
const char *ncp_safetensors_meta_get(const struct ncp_safetensors *st,
				     const char *key);
/* A metadata value that must be a decimal integer (sizes are stored so).
 * Returns 0, -ENOENT when missing, -EINVAL when not a decimal u64. */
int ncp_safetensors_meta_uint(const struct ncp_safetensors *st,
			      const char *key, uint64_t *out, char *err,
			      size_t errlen);

#endif
