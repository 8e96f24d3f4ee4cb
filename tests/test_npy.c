/* NPY files: round trips for every dtype and several shapes, numpy
 * loading our files and us loading numpy's, and every refusal with its
 * message.  Streamed recordings are the recorder's (test_recorder,
 * it_record.sh). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/io/ncp_file.h"
#include "models/io/ncp_json_doc.h"
#include "models/io/ncp_npy.h"
#include "tests/ncp_check.h"

static void make_dir(void)
{
	ncp_ck_make_dir("npy");
}

#define PYTHON "/usr/bin/python3"
#define NPY_CHECK "tests/npy_check.py"

/* Run the numpy side; the test fails when it does. */
static void run_python(const char *cmd, const char *arg)
{
	char line[512];
	ck_assert_msg(access(PYTHON, X_OK) == 0,
		      PYTHON " is missing (Debian's python3 and python3-numpy are test dependencies)");
	ck_assert_msg(access(NPY_CHECK, R_OK) == 0,
		      NPY_CHECK " not found: run the tests from the source tree");
	snprintf(line, sizeof(line), PYTHON " " NPY_CHECK " %s '%s' >&2", cmd,
		 arg);
	int st = system(line);
	ck_assert_msg(st == 0, "%s failed (status %d)", line, st);
}

/* The shared pattern (ncp_ck_fill) for a dtype: its descr says how. */
static void fill(enum ncp_npy_dtype dt, void *buf, uint64_t n)
{
	const char *d = ncp_npy_dtype_descr(dt); /* "<f4" */
	ncp_ck_fill(buf, d[1], ncp_npy_dtype_size(dt), n);
}

static const struct {
	const char *name;
	int ndim;
	uint64_t shape[6];
} shapes[] = {
	{ "scalar", 0, { 0 } },	{ "0", 1, { 0 } },
	{ "5", 1, { 5 } },	{ "3x4", 2, { 3, 4 } },
	{ "0x6", 2, { 0, 6 } },	{ "2x3x4", 3, { 2, 3, 4 } },
	{ "1x1x1x1x1x2", 6, { 1, 1, 1, 1, 1, 2 } },
};

START_TEST(round_trip_every_dtype_and_shape)
{
	char err[256];
	make_dir();
	for (int dt = 0; dt < NCP_NPY_DTYPE_COUNT; dt++) {
		for (size_t s = 0; s < NCP_ARRAY_SIZE(shapes); s++) {
			struct ncp_npy_header h = { .dtype = (enum ncp_npy_dtype)dt,
						    .ndim = shapes[s].ndim };
			memcpy(h.shape, shapes[s].shape, sizeof(shapes[s].shape));
			uint64_t count, bytes;
			ck_assert(ncp_npy_shape_count(&h, &count, &bytes));
			void *data = malloc(bytes + 1);
			fill(h.dtype, data, count);
			char name[64];
			snprintf(name, sizeof(name), "rt_%s_%s.npy",
				 ncp_npy_dtype_descr(h.dtype) + 1, shapes[s].name);
			ck_assert_int_eq(ncp_npy_write(ncp_ck_path(name), &h, data), 0);
			for (unsigned flags = 0; flags <= NCP_NPY_MMAP; flags += NCP_NPY_MMAP) {
				struct ncp_npy *a = ncp_npy_load(ncp_ck_path(name), flags,
								 err, sizeof(err));
				ck_assert_msg(a, "%s", err);
				ck_assert_int_eq(a->h.dtype, dt);
				ck_assert_int_eq(a->h.ndim, h.ndim);
				for (int i = 0; i < h.ndim; i++)
					ck_assert_uint_eq(a->h.shape[i], h.shape[i]);
				ck_assert_uint_eq(a->count, count);
				ck_assert_uint_eq(a->data_bytes, bytes);
				ck_assert_int_eq(a->major, 1);
				ck_assert_uint_eq(a->data_offset % 64, 0);
				ck_assert(bytes == 0 || !memcmp(a->data, data, bytes));
				ncp_npy_free(a);
			}
			free(data);
		}
	}
	/* numpy reads all 77 files back with the same values. */
	run_python("check", ncp_ck_dir);
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(header_format_matches_numpy)
{
	struct ncp_npy_header h = { .dtype = NCP_NPY_F32, .ndim = 2,
				    .shape = { 3, 4 } };
	char buf[1024];
	size_t len, len2;
	const char *dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }";

	ck_assert_int_eq(ncp_npy_header_format(&h, false, buf, sizeof(buf), &len), 0);
	ck_assert_uint_eq(len, 128);
	ck_assert(!memcmp(buf, "\x93NUMPY\x01\x00", 8));
	ck_assert_uint_eq((unsigned char)buf[8] | (unsigned char)buf[9] << 8, 118);
	ck_assert(!memcmp(buf + 10, dict, strlen(dict)));
	for (size_t i = 10 + strlen(dict); i < len - 1; i++)
		ck_assert_int_eq(buf[i], ' ');
	ck_assert_int_eq(buf[len - 1], '\n');
	/* 1-d shapes keep Python's trailing comma; 0-d is (). */
	h.ndim = 1;
	ck_assert_int_eq(ncp_npy_header_format(&h, false, buf, sizeof(buf), &len), 0);
	ck_assert_ptr_nonnull(memmem(buf, len, "'shape': (3,), }", 16));
	h.ndim = 0;
	ck_assert_int_eq(ncp_npy_header_format(&h, false, buf, sizeof(buf), &len), 0);
	ck_assert_ptr_nonnull(memmem(buf, len, "'shape': (), }", 14));
	ck_assert_int_eq(ncp_npy_header_format(&h, true, buf, sizeof(buf), &len),
			 -EINVAL);	/* nothing to grow */

	/* Growable: the length does not depend on the row count. */
	h.dtype = NCP_NPY_U8;
	h.ndim = 2;
	h.shape[1] = 1;
	h.shape[0] = 0;
	ck_assert_int_eq(ncp_npy_header_format(&h, true, NULL, 0, &len), 0);
	h.shape[0] = UINT64_MAX;
	ck_assert_int_eq(ncp_npy_header_format(&h, true, buf, sizeof(buf), &len2), 0);
	ck_assert_uint_eq(len, len2);
	ck_assert_uint_eq(len % 64, 0);
	ck_assert_ptr_nonnull(memmem(buf, len2, "(18446744073709551615, 1)", 25));
	ck_assert_int_eq(ncp_npy_header_format(&h, true, buf, 64, &len2), -ENOSPC);

	/* The parser reads what the formatter writes, at the edges too. */
	struct ncp_npy_header back;
	size_t off;
	char err[256];
	ck_assert_int_eq(ncp_npy_header_parse(buf, len, "x", &back, &off, err,
					      sizeof(err)), 0);
	ck_assert_uint_eq(off, len);
	ck_assert(back.shape[0] == UINT64_MAX && back.shape[1] == 1);

	/* 64 dimensions (the most) still fit version 1.0. */
	h.ndim = NCP_NPY_MAX_DIMS;
	for (int i = 0; i < h.ndim; i++)
		h.shape[i] = 1;
	ck_assert_int_eq(ncp_npy_header_format(&h, true, buf, sizeof(buf), &len), 0);
	ck_assert_int_eq(buf[6], 1);
	ck_assert_int_eq(ncp_npy_header_parse(buf, len, "x", &back, &off, err,
					      sizeof(err)), 0);
	ck_assert_int_eq(back.ndim, NCP_NPY_MAX_DIMS);
	h.ndim = NCP_NPY_MAX_DIMS + 1;
	ck_assert_int_eq(ncp_npy_header_format(&h, false, buf, sizeof(buf), &len),
			 -EINVAL);
}
END_TEST

static struct ncp_npy *load_ref(const char *name, char *err, size_t errlen)
{
	return ncp_npy_load(ncp_ck_path(name), 0, err, errlen);
}

START_TEST(loads_numpy_files)
{
	char err[256];
	static const struct {
		const char *name;
		enum ncp_npy_dtype dt;
		int ndim, major;
		uint64_t shape[3];
	} files[] = {
		{ "v1_f4.npy", NCP_NPY_F32, 2, 1, { 3, 4 } },
		{ "v1_f8.npy", NCP_NPY_F64, 1, 1, { 5 } },
		{ "v1_u1.npy", NCP_NPY_U8, 3, 1, { 2, 3, 4 } },
		{ "v1_b1.npy", NCP_NPY_BOOL, 1, 1, { 7 } },
		{ "v1_i4.npy", NCP_NPY_I32, 2, 1, { 4, 2 } },
		{ "v1_i8.npy", NCP_NPY_I64, 1, 1, { 3 } },
		{ "v1_u2.npy", NCP_NPY_U16, 1, 1, { 6 } },
		{ "v1_u4.npy", NCP_NPY_U32, 2, 1, { 2, 2 } },
		{ "v1_scalar.npy", NCP_NPY_F64, 0, 1, { 0 } },
		{ "v1_empty.npy", NCP_NPY_F32, 2, 1, { 0, 6 } },
		{ "v2_f4.npy", NCP_NPY_F32, 2, 2, { 3, 5 } },
		{ "v3_f4.npy", NCP_NPY_F32, 2, 3, { 3, 5 } },
	};
	make_dir();
	run_python("make", ncp_ck_dir);
	for (size_t i = 0; i < NCP_ARRAY_SIZE(files); i++) {
		for (unsigned fl = 0; fl <= NCP_NPY_MMAP; fl += NCP_NPY_MMAP) {
			struct ncp_npy *a = ncp_npy_load(ncp_ck_path(files[i].name), fl,
							 err, sizeof(err));
			ck_assert_msg(a, "%s", err);
			ck_assert_int_eq(a->h.dtype, files[i].dt);
			ck_assert_int_eq(a->h.ndim, files[i].ndim);
			ck_assert_int_eq(a->major, files[i].major);
			for (int d = 0; d < files[i].ndim; d++)
				ck_assert_uint_eq(a->h.shape[d], files[i].shape[d]);
			void *want = malloc(a->data_bytes + 1);
			fill(a->h.dtype, want, a->count);
			ck_assert_msg(!memcmp(a->data, want, a->data_bytes),
				      "%s: values differ", files[i].name);
			free(want);
			ncp_npy_free(a);
		}
	}
	struct ncp_npy *a;
	ck_assert_ptr_null(a = load_ref("fortran.npy", err, sizeof(err)));
	ck_assert_msg(strstr(err, "/fortran.npy: fortran_order is True: Fortran-ordered arrays are not supported"),
		      "%s", err);
	ck_assert_ptr_null(a = load_ref("bigendian.npy", err, sizeof(err)));
	ck_assert_msg(strstr(err, "/bigendian.npy: big-endian dtype '>f4' is not supported"),
		      "%s", err);
	ck_assert_ptr_null(a = load_ref("complex.npy", err, sizeof(err)));
	ck_assert_msg(strstr(err, "/complex.npy: unsupported dtype \"<c8\" (supported: "),
		      "%s", err);
	ck_assert_ptr_null(a = load_ref("structured.npy", err, sizeof(err)));
	ck_assert_msg(strstr(err, "/structured.npy: structured dtypes (descr is a list) are not supported"),
		      "%s", err);
	ck_assert_ptr_null(a = load_ref("missing.npy", err, sizeof(err)));
	ck_assert_msg(strstr(err, "/missing.npy: No such file or directory"), "%s", err);
	ncp_ck_remove_dir();
}
END_TEST

/* An .npy image with this header dict (version 1.0, padded to 64) and
 * nbytes of data; returns its length. */
static size_t build(unsigned char *buf, const char *dict, size_t nbytes)
{
	size_t n = strlen(dict);
	size_t total = (10 + n + 1 + 63) & ~(size_t)63;
	memcpy(buf, "\x93NUMPY\x01\x00", 8);
	buf[8] = (unsigned char)((total - 10) & 0xff);
	buf[9] = (unsigned char)((total - 10) >> 8);
	memcpy(buf + 10, dict, n);
	memset(buf + 10 + n, ' ', total - 10 - n - 1);
	buf[total - 1] = '\n';
	for (size_t i = 0; i < nbytes; i++)
		buf[total + i] = (unsigned char)i;
	return total + nbytes;
}

static const struct {
	const char *dict;
	size_t nbytes;
	const char *msg;	/* expected after "x.npy: " */
} bad_dicts[] = {
	{ "{'descr': '<f4', 'fortran_order': False}", 0,
	  "the header dict has no 'shape' key" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8,
	  "bad header dict at byte 66 of the file: unknown key \"x\" (expected exactly 'descr', 'fortran_order' and 'shape')" },
	{ "{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", 8,
	  "bad header dict at byte 26 of the file: expected ',' or '}', found '''" },
	{ "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}", 8,
	  "bad header dict at byte 44 of the file: expected a value, found the name 'false'" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", 8,
	  "bad header dict at byte 60 of the file: shape is a list, not a tuple" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (3)}", 12,
	  "bad header dict at byte 61 of the file: shape is an integer, not a tuple" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -1)}", 8,
	  "bad header dict at byte 64 of the file: shape holds a negative dimension" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", 8,
	  "bad header dict at byte 61 of the file: expected an integer, found a float or complex number" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': ('2',)}", 8,
	  "bad header dict at byte 61 of the file: shape holds a string, not an integer" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (07,)}", 8,
	  "bad header dict at byte 61 of the file: only decimal integers without leading zeros are allowed" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776)}", 0,
	  "bad header dict at byte 60 of the file: the shape's size overflows 64 bits" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", 0,
	  "bad header dict at byte 61 of the file: a dimension exceeds 64 bits" },
	{ "{'descr': '<f4', 'fortran_order': 1, 'shape': (2,)}", 8,
	  "bad header dict at byte 44 of the file: fortran_order is an integer, not True or False" },
	{ "{'descr': 4, 'fortran_order': False, 'shape': (2,)}", 8,
	  "bad header dict at byte 20 of the file: descr is an integer, not a string" },
	{ "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8,
	  "bad header dict at byte 27 of the file: duplicate key 'descr'" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8,
	  "bad header dict at byte 128 of the file: expected ',' or '}', found the end of the header" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", 8,
	  "bad header dict at byte 66 of the file: expected the end of the header after the dict, found 'x'" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} # c", 8,
	  "bad header dict at byte 66 of the file: expected the end of the header after the dict, found '#'" },
	{ "{'descr: '<f4', 'fortran_order': False, 'shape': (2,)}", 8,
	  "bad header dict at byte 20 of the file: expected ':' after a key, found '<'" },
	{ "{2: '<f4', 'fortran_order': False, 'shape': (2,)}", 8,
	  "bad header dict at byte 11 of the file: a key is an integer, not a string" },
	{ "[('descr', '<f4')]", 0, "the header is a list, not a dict" },
	{ "{'descr': '<c8', 'fortran_order': False, 'shape': (2,)}", 16,
	  "unsupported dtype \"<c8\" (supported: |b1 |u1 |i1 <u2 <i2 <u4 <i4 <u8 <i8 <f4 <f8)" },
	{ "{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}", 8,
	  "unsupported dtype \"|f4\" (supported: |b1 |u1 |i1 <u2 <i2 <u4 <i4 <u8 <i8 <f4 <f8)" },
	{ "{'descr': '>i8', 'fortran_order': False, 'shape': (2,)}", 16,
	  "big-endian dtype '>i8' is not supported (convert with a.astype('<i8'))" },
	{ "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3)}", 24,
	  "fortran_order is True: Fortran-ordered arrays are not supported (save np.ascontiguousarray(a) instead)" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}", 20,
	  "truncated: shape (2, 3) of <f4 needs 24 bytes of data, the file has 20 after the header" },
	{ "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 16,
	  "shape (2,) of <f4 needs 8 bytes of data, the file has 16 after the header (8 extra: an unfinished recording?)" },
	{ "((((((((((((((((((1,),),),),),),),),),),),),),),),),),)", 0,
	  "bad header dict at byte 26 of the file: nested deeper than 16 levels" },
};

START_TEST(refuses_bad_header_dicts)
{
	static unsigned char buf[4096];
	char err[512], want[512];
	size_t len = build(buf, bad_dicts[_i].dict, bad_dicts[_i].nbytes);
	struct ncp_npy *a = ncp_npy_parse(buf, len, "x.npy", 0, err, sizeof(err));
	ck_assert_msg(!a, "case %d loaded", _i);
	snprintf(want, sizeof(want), "x.npy: %s", bad_dicts[_i].msg);
	ck_assert_msg(!strcmp(err, want), "case %d:\n got  %s\n want %s", _i,
		      err, want);
}
END_TEST

START_TEST(accepts_python_literal_variants)
{
	static unsigned char buf[4096];
	char err[256];
	const char *ok[] = {
		/* Double quotes, any order, no trailing comma, whitespace. */
		"{\"shape\": ( 2 , 3 ) ,\n 'fortran_order':False,'descr':'<f4'}",
		/* Python 2 longs in a version 1.0 file. */
		"{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L), }",
		/* Underscores, a parenthesized element, '=' byte order. */
		"{'descr': '=f4', 'fortran_order': False, 'shape': ((2), 0_3), }",
		"{'descr': '<u1', 'fortran_order': False, 'shape': (2, 3, 4), }",
	};
	static const uint64_t sizes[] = { 24, 24, 24, 24 };
	for (size_t i = 0; i < NCP_ARRAY_SIZE(ok); i++) {
		size_t len = build(buf, ok[i], sizes[i]);
		struct ncp_npy *a = ncp_npy_parse(buf, len, "x.npy", 0, err,
						  sizeof(err));
		ck_assert_msg(a, "case %zu: %s", i, err);
		ck_assert_uint_eq(a->data_bytes, sizes[i]);
		ncp_npy_free(a);
	}
	/* Trailing bytes are accepted on request, and counted. */
	size_t len = build(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 11);
	struct ncp_npy *a = ncp_npy_parse(buf, len, "x.npy", NCP_NPY_ALLOW_TRAILING,
					  err, sizeof(err));
	ck_assert_msg(a, "%s", err);
	ck_assert_uint_eq(a->trailing, 3);
	ncp_npy_free(a);
	/* A data offset that is not a multiple of the element size: copied
	 * into alignment when loaded, refused when mapped. */
	make_dir();
	memcpy(buf, "\x93NUMPY\x01\x00", 8);
	const char *d = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)}\n";
	buf[8] = (unsigned char)strlen(d);
	buf[9] = 0;
	memcpy(buf + 10, d, strlen(d));
	size_t off = 10 + strlen(d);
	double v[2] = { 1.5, -2.25 };
	memcpy(buf + off, v, 16);
	ck_assert_uint_ne(off % 8, 0);
	ck_assert_int_eq(ncp_file_write_atomic(ncp_ck_path("odd.npy"), buf, off + 16, 0644), 0);
	a = ncp_npy_load(ncp_ck_path("odd.npy"), 0, err, sizeof(err));
	ck_assert_msg(a, "%s", err);
	ck_assert_uint_eq((uintptr_t)a->data % 8, 0);
	ck_assert(((const double *)a->data)[0] == 1.5);
	ck_assert(((const double *)a->data)[1] == -2.25);
	ncp_npy_free(a);
	a = ncp_npy_load(ncp_ck_path("odd.npy"), NCP_NPY_MMAP, err, sizeof(err));
	ck_assert_ptr_null(a);
	ck_assert_msg(strstr(err, "odd.npy: the data starts at byte 66, not aligned for <f8; load the file without mmap"),
		      "%s", err);
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(refuses_truncated_and_foreign_files)
{
	static unsigned char buf[4096];
	char err[256];
	size_t len = build(buf, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 12);
	/* Every strict prefix is refused with one of three messages. */
	for (size_t n = 0; n < len; n++) {
		struct ncp_npy *a = ncp_npy_parse(buf, n, "t.npy", 0, err, sizeof(err));
		ck_assert_msg(!a, "prefix %zu loaded", n);
		if (n < 10)
			ck_assert_msg(strstr(err, "is too short for an NPY file"), "%zu: %s", n, err);
		else if (n < len - 12)
			ck_assert_msg(strstr(err, "t.npy: truncated: the header needs 128 bytes, the file has"),
				      "%zu: %s", n, err);
		else
			ck_assert_msg(strstr(err, "t.npy: truncated: shape (3,) of <f4 needs 12 bytes of data"),
				      "%zu: %s", n, err);
	}
	struct ncp_npy *a = ncp_npy_parse(buf, len, "t.npy", 0, err, sizeof(err));
	ck_assert_msg(a, "%s", err);
	ncp_npy_free(a);

	buf[0] = 'X';
	ck_assert_ptr_null(ncp_npy_parse(buf, len, "t.npy", 0, err, sizeof(err)));
	ck_assert_str_eq(err, "t.npy: not an NPY file (it does not start with \\x93NUMPY)");
	buf[0] = 0x93;
	buf[6] = 4;
	ck_assert_ptr_null(ncp_npy_parse(buf, len, "t.npy", 0, err, sizeof(err)));
	ck_assert_str_eq(err, "t.npy: unsupported NPY version 4.0 (1.0, 2.0 and 3.0 are supported)");
	buf[6] = 1;
	buf[7] = 1;
	ck_assert_ptr_null(ncp_npy_parse(buf, len, "t.npy", 0, err, sizeof(err)));
	ck_assert_str_eq(err, "t.npy: unsupported NPY version 1.1 (1.0, 2.0 and 3.0 are supported)");
	/* A version 2.0 header length past the limit. */
	memcpy(buf, "\x93NUMPY\x02\x00\xff\xff\xff\x7f", 12);
	ck_assert_ptr_null(ncp_npy_parse(buf, len, "t.npy", 0, err, sizeof(err)));
	ck_assert_str_eq(err, "t.npy: header length 2147483647 exceeds the limit of 1048576 bytes");
	memcpy(buf, "\x93NUMPY\x01\x00\x00\x00", 10);
	ck_assert_ptr_null(ncp_npy_parse(buf, len, "t.npy", 0, err, sizeof(err)));
	ck_assert_str_eq(err, "t.npy: empty header");
	/* Too short to map is reported like too short to read. */
	make_dir();
	ck_assert_int_eq(ncp_file_write_atomic(ncp_ck_path("short.npy"), "\x93NUMPY", 6, 0644), 0);
	ck_assert_ptr_null(ncp_npy_load(ncp_ck_path("short.npy"), NCP_NPY_MMAP, err, sizeof(err)));
	ck_assert_msg(strstr(err, "short.npy: 6 bytes is too short for an NPY file"), "%s", err);
	ck_assert_ptr_null(ncp_npy_load(ncp_ck_dir, 0, err, sizeof(err)));
	ck_assert_msg(strstr(err, "Is a directory"), "%s", err);
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(meta_json_round_trip)
{
	char err[256];
	make_dir();
	struct ncp_npy_meta m = {
		.name = "run1", .complete = true, .steps = 250, .first_step = 17,
		.dt = 0.001, .window = 100, .m1_neurons = 1000,
		.seed = INT64_MAX, .task_seed = 3, .started = "2026-11-27T10:00:00Z",
		.config_json = "{\"seed\": 5, \"task\": {\"kind\": \"random\"}}",
	};
	ck_assert_int_eq(ncp_npy_meta_write(ncp_ck_path("meta.json"), &m), 0);
	void *text;
	size_t len;
	ck_assert_int_eq(ncp_file_read(ncp_ck_path("meta.json"), 1 << 20, &text, &len), 0);
	ck_assert_int_eq(((char *)text)[len - 1], '\n');
	json_t *r = ncp_json_doc_parse(text, len, "meta.json", NULL, err,
				       sizeof(err));
	ck_assert_msg(r, "%s", err);
	int64_t i;
	const char *s;
	ck_assert_int_eq(ncp_json_doc_get_str(r, "format", &s, err, sizeof(err)), 0);
	ck_assert_str_eq(s, "ncpd-recording");
	ck_assert_int_eq(ncp_json_doc_get_int(r, "steps", &i, err, sizeof(err)), 0);
	ck_assert_int_eq(i, 250);
	ck_assert_int_eq(ncp_json_doc_get_int(r, "seed", &i, err, sizeof(err)), 0);
	ck_assert(i == INT64_MAX);
	ck_assert_int_eq(ncp_json_doc_get_str(json_object_get(r, "config"), "task",
					      &s, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(json_string_value(json_object_get(json_object_get(
				 json_object_get(r, "config"), "task"), "kind")),
			 "random");
	ck_assert_str_eq(json_string_value(json_array_get(json_object_get(
				 r, "arm_columns"), 4)), "hand_x");
	json_decref(r);
	free(text);
	/* Python's json reads the same (the check also wants seed 2^63-1). */
	run_python("check", ncp_ck_dir);

	/* Unfinished: no steps yet.  A config that is not JSON is refused
	 * and the old file kept. */
	m.complete = false;
	m.config_json = "{oops";
	ck_assert_int_eq(ncp_npy_meta_write(ncp_ck_path("meta.json"), &m), -EINVAL);
	ck_assert_int_eq(ncp_file_read(ncp_ck_path("meta.json"), 1 << 20, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "\"complete\":true"));
	free(text);
	m.config_json = NULL;
	ck_assert_int_eq(ncp_npy_meta_write(ncp_ck_path("meta.json"), &m), 0);
	ck_assert_int_eq(ncp_file_read(ncp_ck_path("meta.json"), 1 << 20, &text, &len), 0);
	ck_assert_ptr_nonnull(strstr(text, "\"complete\":false"));
	ck_assert_ptr_null(strstr(text, "\"steps\""));
	free(text);
	ncp_ck_remove_dir();
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("npy");
	TCase *tc = tcase_create("npy");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, round_trip_every_dtype_and_shape);
	tcase_add_test(tc, header_format_matches_numpy);
	tcase_add_test(tc, loads_numpy_files);
	tcase_add_loop_test(tc, refuses_bad_header_dicts, 0,
			    (int)NCP_ARRAY_SIZE(bad_dicts));
	tcase_add_test(tc, accepts_python_literal_variants);
	tcase_add_test(tc, refuses_truncated_and_foreign_files);
	tcase_add_test(tc, meta_json_round_trip);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
