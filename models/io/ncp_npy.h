/* ncp_npy: NumPy .npy files (recordings), and the meta.json beside them.
 *
 * The format (numpy.lib.format): the magic "\x93NUMPY", a major and minor
 * version byte, the header length (little-endian u16 for 1.0, u32 for 2.0
 * and 3.0), then the header: a Python dict literal such as
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (1000, 6), }
 * padded with spaces and ending in '\n' so the data starts 64-byte
 * aligned, then the data in C order.
 *
 * Reading: versions 1.0, 2.0, 3.0; dtypes |b1 |u1 |i1 <u2 <i2 <u4 <i4 <u8
 * <i8 <f4 <f8; C order only; any number of dimensions up to
 * NCP_NPY_MAX_DIMS.  The header dict is parsed as a Python literal (it
 * must hold exactly the keys descr, fortran_order and shape) and the data
 * size must match the shape.  Every refusal names the file and the fault.
 *
 * Writing: any of those dtypes; version 1.0 when the header fits, else
 * 2.0.  Whole arrays atomically (ncp_npy_write).  Rows streamed into a
 * file whose row count is unknown in advance are the recorder's
 * (daemon/ncp_recorder.h): it writes a growable header
 * (ncp_npy_header_format) and rewrites its row count in place at each
 * checkpoint, so an unfinished NAME.npy.partial is a valid .npy file up
 * to its last checkpoint, possibly followed by rows written since
 * (numpy's np.load ignores them; ncp_npy_load needs
 * NCP_NPY_ALLOW_TRAILING).
 */
#ifndef NCP_NPY_H
#define NCP_NPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NCP_NPY_MAX_DIMS 64		/* numpy 2's limit (1.x: 32) */
#define NCP_NPY_MAX_HEADER (1u << 20)	/* longest header dict read */

enum ncp_npy_dtype {
	NCP_NPY_BOOL,	/* |b1 */
	NCP_NPY_U8,	/* |u1 */
	NCP_NPY_I8,	/* |i1 */
	NCP_NPY_U16,	/* <u2 */
	NCP_NPY_I16,	/* <i2 */
	NCP_NPY_U32,	/* <u4 */
	NCP_NPY_I32,	/* <i4 */
	NCP_NPY_U64,	/* <u8 */
	NCP_NPY_I64,	/* <i8 */
	NCP_NPY_F32,	/* <f4 */
	NCP_NPY_F64,	/* <f8 */
	NCP_NPY_DTYPE_COUNT
};

/* numpy's descr ("<f4"), and the element size in bytes. */
const char *ncp_npy_dtype_descr(enum ncp_npy_dtype dtype);
size_t ncp_npy_dtype_size(enum ncp_npy_dtype dtype);

struct ncp_npy_header {
	enum ncp_npy_dtype dtype;
	int ndim;			/* 0 for a scalar */
	uint64_t shape[NCP_NPY_MAX_DIMS];
};

/* Format the complete header (magic, version, length, padded dict) for h
 * into buf (cap bytes) and set *len to its length, which is a multiple of
 * 64.  With buf NULL only *len is set.  growable reserves room for a first
 * dimension of up to 20 digits, so that the header's length does not
 * depend on shape[0]: a file's row count can then be rewritten in place.
 * Returns 0, -ENOSPC when cap is too small, -EINVAL for a bad header. */
int ncp_npy_header_format(const struct ncp_npy_header *h, bool growable,
			  void *buf, size_t cap, size_t *len);

/* Parse a header from the first len bytes of a file (name for messages).
 * Sets *h and *data_offset (where the data starts).  Returns 0 or -EINVAL
 * with a message. */
int ncp_npy_header_parse(const void *buf, size_t len, const char *name,
			 struct ncp_npy_header *h, size_t *data_offset,
			 char *err, size_t errlen);

/* Elements in a shape, or false if the count or its byte size (with
 * elements of size bytes) overflows. */
bool ncp_npy_shape_count(const struct ncp_npy_header *h, uint64_t *count,
			 uint64_t *bytes);

/* ---- Reading ------------------------------------------------------------ */

#define NCP_NPY_MMAP 1u			/* map the file instead of reading it */
#define NCP_NPY_ALLOW_TRAILING 2u	/* accept bytes after the data */

struct ncp_npy {
	struct ncp_npy_header h;
	int major, minor;	/* format version of the file */
	uint64_t count;		/* elements */
	size_t data_bytes;
	size_t data_offset;	/* in the file */
	size_t trailing;	/* bytes after the data (see ALLOW_TRAILING) */
	const void *data;	/* aligned for the dtype; owned by the array */
	void *mem;		/* private: the read or mapped file */
	size_t mem_len;
	bool mapped;
};

/* Load an .npy file whole (or map it read-only with NCP_NPY_MMAP, the
 * way to open long recordings; the data offset must then be a multiple of
 * the element size, as numpy always writes it, and the file must not be
 * truncated while mapped).  Returns the array, or NULL with a message
 * (errno set). */
struct ncp_npy *ncp_npy_load(const char *path, unsigned flags, char *err,
			     size_t errlen);
/* The same from len bytes in memory (copied; name for messages). */
struct ncp_npy *ncp_npy_parse(const void *buf, size_t len, const char *name,
			      unsigned flags, char *err, size_t errlen);
void ncp_npy_free(struct ncp_npy *a);

/* ---- Writing ------------------------------------------------------------ */

/* Write a whole array atomically (ncp_file_write_atomic; mode 0644 less the
 * umask).  data holds the elements in C order. */
int ncp_npy_write(const char *path, const struct ncp_npy_header *h,
		  const void *data);

/* ---- meta.json ---------------------------------------------------------- */

/* What a recording's meta.json holds (docs/file-formats.md). */
struct ncp_npy_meta {
	const char *name;	/* recording name */
	bool complete;		/* false while recording, true once finished */
	uint64_t steps;		/* rows in each .npy file (when complete) */
	uint64_t first_step;	/* loop step of the first row */
	double dt;		/* seconds per step */
	uint32_t window;	/* the ring window's length, in steps */
	uint32_t m1_neurons;
	uint64_t seed;		/* network seed */
	uint64_t task_seed;
	const char *started;	/* UTC ISO 8601, or NULL */
	const char *config_json; /* the effective config as a JSON object, or NULL */
	/* When complete: */
	uint64_t dropped_steps;	/* steps the recorder could not keep */
	const char *stopped;	/* why it ended ("stop", "duration", an error) */
	/* Electrodes: stim.npy and lesion.npy are part of the recording
	 * (0: they are not). */
	uint32_t stim_electrodes;
	/* The recording electrodes: rec.npy (this many columns) and
	 * alpha.npy (stim_electrodes columns) are part of the recording
	 * (0: they are not). */
	uint32_t rec_electrodes;
	bool pred;		/* pred.npy is part of the recording */
	/* The recording's probes as a JSON array, or NULL (none). */
	const char *probes_json;
	/* The arm's links (0: 2): arm.npy has 2 links + 2 columns; meta.json
	 * says "arm_links". */
	int arm_links;
};

/* Write meta.json at path atomically: one JSON object and a newline. */
int ncp_npy_meta_write(const char *path, const struct ncp_npy_meta *m);

#endif
