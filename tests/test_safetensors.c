/* Safetensors: a round trip with metadata that Python reads from the spec,
 * files Python wrote that we read, lookups with expected dtype and shape,
 * and every refusal with its message, never touching the file. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/base/ncp_base.h"
#include "models/io/ncp_file.h"
#include "models/io/ncp_safetensors.h"
#include "tests/ncp_check.h"

static void make_dir(void)
{
	ncp_ck_make_dir("st");
}

#define PYTHON "/usr/bin/python3"
#define ST_CHECK "tests/safetensors_check.py"

static void run_python(const char *args)
{
	char line[1024];
	ck_assert_msg(access(PYTHON, X_OK) == 0,
		      PYTHON " is missing (Debian's python3 and python3-numpy are test dependencies)");
	ck_assert_msg(access(ST_CHECK, R_OK) == 0,
		      ST_CHECK " not found: run the tests from the source tree");
	snprintf(line, sizeof(line), PYTHON " " ST_CHECK " %s >&2", args);
	int st = system(line);
	ck_assert_msg(st == 0, "%s failed (status %d)", line, st);
}

/* The shared pattern (ncp_ck_fill) for a dtype: its name says how
 * ("F32": 'f'; "BOOL": 'b'). */
static void fill(enum ncp_safetensors_dtype dt, void *buf, uint64_t n)
{
	char kind = (char)(ncp_safetensors_dtype_name(dt)[0] - 'A' + 'a');
	ncp_ck_fill(buf, kind, ncp_safetensors_dtype_size(dt), n);
}

static uint64_t count(const struct ncp_safetensors_tensor *t)
{
	uint64_t n = 1;
	for (int i = 0; i < t->ndim; i++)
		n *= t->shape[i];
	return n;
}

/* Tensors of each writable type in an order that is not the layout order. */
static struct ncp_safetensors_tensor model[] = {
	{ .name = "mask", .dtype = NCP_SAFETENSORS_U8, .ndim = 2, .shape = { 3, 5 } },
	{ .name = "enc.weight", .dtype = NCP_SAFETENSORS_F32, .ndim = 2, .shape = { 128, 100 } },
	{ .name = "enc.bias", .dtype = NCP_SAFETENSORS_F32, .ndim = 1, .shape = { 128 } },
	{ .name = "readout.weight", .dtype = NCP_SAFETENSORS_F64, .ndim = 2, .shape = { 6, 128 } },
	{ .name = "steps", .dtype = NCP_SAFETENSORS_I64, .ndim = 0 },
	{ .name = "empty", .dtype = NCP_SAFETENSORS_F32, .ndim = 2, .shape = { 0, 4 } },
	{ .name = "\xc3\xa9t\xc3\xa9", .dtype = NCP_SAFETENSORS_U8, .ndim = 1, .shape = { 3 } },
};

static const struct ncp_safetensors_meta meta[] = {
	{ "format", "ncpd-emulator" },
	{ "arch", "test" },
	{ "n_in", "1000" },
	{ "config", "{\"layers\": [128, 6], \"lr\": 0.001}" },
	{ "note", "quote \" backslash \\ newline \n \xe2\x82\xac" },
};

#define META_JSON "'{\"format\": \"ncpd-emulator\", \"arch\": \"test\", \"n_in\": \"1000\", " \
	"\"config\": \"{\\\"layers\\\": [128, 6], \\\"lr\\\": 0.001}\", " \
	"\"note\": \"quote \\\" backslash \\\\ newline \\n \\u20ac\"}'"

static void fill_model(void)
{
	for (size_t i = 0; i < NCP_ARRAY_SIZE(model); i++) {
		uint64_t n = count(&model[i]);
		void *b = malloc(n * ncp_safetensors_dtype_size(model[i].dtype) + 1);
		fill(model[i].dtype, b, n);
		model[i].data = b;
	}
}

static void free_model(void)
{
	for (size_t i = 0; i < NCP_ARRAY_SIZE(model); i++) {
		free((void *)model[i].data);
		model[i].data = NULL;
	}
}

START_TEST(round_trip_with_metadata)
{
	char err[256], args[600];
	make_dir();
	fill_model();
	const char *path = ncp_ck_path("m.safetensors");
	ck_assert_int_eq(ncp_safetensors_write(path, model, NCP_ARRAY_SIZE(model),
					       meta, NCP_ARRAY_SIZE(meta)), 0);
	struct ncp_safetensors *st = ncp_safetensors_load(path, err, sizeof(err));
	ck_assert_msg(st, "%s", err);
	ck_assert_uint_eq(ncp_safetensors_count(st), NCP_ARRAY_SIZE(model));
	for (size_t i = 0; i < NCP_ARRAY_SIZE(model); i++) {
		const struct ncp_safetensors_tensor *w = &model[i];
		const struct ncp_safetensors_tensor *t = ncp_safetensors_find(st, w->name);
		ck_assert_msg(t, "%s missing", w->name);
		ck_assert_int_eq(t->dtype, w->dtype);
		ck_assert_int_eq(t->ndim, w->ndim);
		for (int d = 0; d < w->ndim; d++)
			ck_assert_uint_eq(t->shape[d], w->shape[d]);
		size_t bytes = count(w) * ncp_safetensors_dtype_size(w->dtype);
		ck_assert_uint_eq(t->end - t->begin, bytes);
		ck_assert(!memcmp(t->data, w->data, bytes));
		const void *data;
		ck_assert_int_eq(ncp_safetensors_get(st, w->name, w->dtype, w->ndim,
						     w->shape, &data, err, sizeof(err)), 0);
		ck_assert_uint_eq((uintptr_t)data % ncp_safetensors_dtype_size(w->dtype), 0);
	}
	/* Header order is layout order: 8-byte types first, 1-byte last. */
	size_t prev = 8;
	for (size_t i = 0; i < ncp_safetensors_count(st); i++) {
		size_t s = ncp_safetensors_dtype_size(ncp_safetensors_at(st, i)->dtype);
		ck_assert_uint_le(s, prev);
		prev = s;
	}
	ck_assert_ptr_null(ncp_safetensors_at(st, NCP_ARRAY_SIZE(model)));
	ck_assert_uint_eq(ncp_safetensors_meta_count(st), NCP_ARRAY_SIZE(meta));
	for (size_t i = 0; i < NCP_ARRAY_SIZE(meta); i++) {
		ck_assert_str_eq(ncp_safetensors_meta_at(st, i)->key, meta[i].key);
		ck_assert_str_eq(ncp_safetensors_meta_get(st, meta[i].key), meta[i].value);
	}
	ck_assert_ptr_null(ncp_safetensors_meta_get(st, "nope"));
	ncp_safetensors_free(st);

	/* Python, from the spec alone, reads every tensor and the metadata. */
	snprintf(args, sizeof(args), "check '%s' %s", path, META_JSON);
	run_python(args);

	/* No metadata and no tensors is still a valid file. */
	ck_assert_int_eq(ncp_safetensors_write(ncp_ck_path("e.safetensors"), NULL, 0, NULL, 0), 0);
	st = ncp_safetensors_load(ncp_ck_path("e.safetensors"), err, sizeof(err));
	ck_assert_msg(st, "%s", err);
	ck_assert_uint_eq(ncp_safetensors_count(st), 0);
	ck_assert_uint_eq(ncp_safetensors_meta_count(st), 0);
	ncp_safetensors_free(st);
	snprintf(args, sizeof(args), "check '%s' '{}'", ncp_ck_path("e.safetensors"));
	run_python(args);
	free_model();
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(reads_python_written_files)
{
	char err[256];
	const void *data;
	make_dir();
	run_python((snprintf(err, sizeof(err), "make '%s'", ncp_ck_dir), err));
	const char *files[] = { "padded.safetensors", "unpadded.safetensors" };
	for (size_t f = 0; f < 2; f++) {
		struct ncp_safetensors *st = ncp_safetensors_load(ncp_ck_path(files[f]),
								  err, sizeof(err));
		ck_assert_msg(st, "%s", err);
		ck_assert_uint_eq(ncp_safetensors_count(st), 6);
		uint64_t shape[] = { 4, 3 };
		ck_assert_int_eq(ncp_safetensors_get(st, "layer.0.weight",
						     NCP_SAFETENSORS_F32, 2, shape,
						     &data, err, sizeof(err)), 0);
		float want[12];
		fill(NCP_SAFETENSORS_F32, want, 12);
		ck_assert(!memcmp(data, want, sizeof(want)));
		ck_assert_int_eq(ncp_safetensors_get(st, "count", NCP_SAFETENSORS_I64,
						     0, NULL, &data, err, sizeof(err)), 0);
		ck_assert_int_eq(*(const int64_t *)data, -100);
		uint64_t s2[] = { 2, 2 };
		ck_assert_int_eq(ncp_safetensors_get(st, "idx", NCP_SAFETENSORS_I32,
						     2, s2, &data, err, sizeof(err)), 0);
		ck_assert_int_eq(((const int32_t *)data)[3], -97);
		uint64_t s3[] = { 3 };
		ck_assert_int_eq(ncp_safetensors_get(st, "half", NCP_SAFETENSORS_U16,
						     1, s3, &data, err, sizeof(err)), 0);
		ck_assert_uint_eq(((const uint16_t *)data)[2], 2);
		if (f == 0) {
			uint64_t n;
			ck_assert_str_eq(ncp_safetensors_meta_get(st, "format"), "ncpd-emulator");
			ck_assert_int_eq(ncp_safetensors_meta_uint(st, "n_in", &n, err,
								   sizeof(err)), 0);
			ck_assert_uint_eq(n, 3);
		}
		ncp_safetensors_free(st);
	}
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(lookup_names_expected_and_found)
{
	char err[256];
	const void *data = (void *)1;
	make_dir();
	fill_model();
	ck_assert_int_eq(ncp_safetensors_write(ncp_ck_path("m.safetensors"), model,
					       NCP_ARRAY_SIZE(model), meta,
					       NCP_ARRAY_SIZE(meta)), 0);
	struct ncp_safetensors *st = ncp_safetensors_load(ncp_ck_path("m.safetensors"),
							  err, sizeof(err));
	ck_assert_msg(st, "%s", err);
	uint64_t s[] = { 128, 1000 };
	ck_assert_int_eq(ncp_safetensors_get(st, "enc.weight", NCP_SAFETENSORS_F32,
					     2, s, &data, err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(data);
	ck_assert_str_eq(err, "tensor \"enc.weight\": expected F32 [128, 1000], found F32 [128, 100]");
	s[1] = 100;
	ck_assert_int_eq(ncp_safetensors_get(st, "enc.weight", NCP_SAFETENSORS_F64,
					     2, s, &data, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "tensor \"enc.weight\": expected F64 [128, 100], found F32 [128, 100]");
	ck_assert_int_eq(ncp_safetensors_get(st, "enc.weight", NCP_SAFETENSORS_F32,
					     1, s, &data, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "tensor \"enc.weight\": expected F32 [128], found F32 [128, 100]");
	uint64_t any[] = { NCP_SAFETENSORS_ANY, 100 };
	ck_assert_int_eq(ncp_safetensors_get(st, "enc.weight", NCP_SAFETENSORS_F32,
					     2, any, &data, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(data);
	any[1] = 7;
	ck_assert_int_eq(ncp_safetensors_get(st, "enc.weight", NCP_SAFETENSORS_F32,
					     2, any, &data, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "tensor \"enc.weight\": expected F32 [any, 7], found F32 [128, 100]");
	ck_assert_int_eq(ncp_safetensors_get(st, "dec.weight", NCP_SAFETENSORS_F32,
					     2, s, &data, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "no tensor \"dec.weight\" in the model");
	ck_assert_ptr_null(ncp_safetensors_find(st, "enc"));
	ck_assert_ptr_null(ncp_safetensors_find(st, "enc.weightx"));
	ck_assert_ptr_nonnull(ncp_safetensors_find(st, "\xc3\xa9t\xc3\xa9"));

	uint64_t n;
	ck_assert_int_eq(ncp_safetensors_meta_uint(st, "n_in", &n, err, sizeof(err)), 0);
	ck_assert_uint_eq(n, 1000);
	ck_assert_int_eq(ncp_safetensors_meta_uint(st, "n_out", &n, err, sizeof(err)), -ENOENT);
	ck_assert_str_eq(err, "metadata \"n_out\" is missing");
	ck_assert_int_eq(ncp_safetensors_meta_uint(st, "arch", &n, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "metadata \"arch\" is \"test\", not a decimal integer below 2^64");
	ncp_safetensors_free(st);
	free_model();
	ncp_ck_remove_dir();
}
END_TEST

/* A file image: the header's size, the header, data_len bytes of data. */
static size_t build(unsigned char *buf, const char *header, size_t data_len)
{
	uint64_t n = strlen(header);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(n >> (8 * i));
	memcpy(buf + 8, header, n);
	memset(buf + 8 + n, 0x41, data_len);
	return 8 + n + data_len;
}

static const struct {
	const char *header;
	size_t data_len;
	const char *msg;	/* after "x.st: " */
} bad[] = {
	{ "{\"a\":", 0, "header JSON, line 1, column 5: unexpected token near end of file (byte 5)" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},}", 4,
	  "header JSON, line 1, column 55: string or '}' expected near '}' (byte 55)" },
	{ "[]", 0, "the header is an array, not a JSON object" },
	{ "{\"a\":5}", 0, "tensor \"a\": expected an object, found a number" },
	{ "{\"a\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, "tensor \"a\": missing \"dtype\"" },
	{ "{\"a\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", 4, "tensor \"a\": missing \"shape\"" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, "tensor \"a\": missing \"data_offsets\"" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"offsets\":[0,4]}}", 4,
	  "tensor \"a\": unknown key \"offsets\" (expected dtype, shape and data_offsets)" },
	{ "{\"a\":{\"dtype\":\"F7\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
	  "tensor \"a\": unknown or unsupported dtype \"F7\"" },
	{ "{\"a\":{\"dtype\":\"float32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
	  "tensor \"a\": unknown or unsupported dtype \"float32\"" },
	{ "{\"a\":{\"dtype\":1,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
	  "tensor \"a\": dtype is a number, not a string" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":4,\"data_offsets\":[0,16]}}", 16,
	  "tensor \"a\": shape is a number, not an array" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2,-2],\"data_offsets\":[0,16]}}", 16,
	  "tensor \"a\": shape element 1 is not a non-negative integer" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
	  "tensor \"a\": shape element 0 is not a non-negative integer" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}}", 4,
	  "tensor \"a\": data_offsets must be [begin, end] with integers 0 <= begin <= end" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 4,
	  "tensor \"a\": data_offsets must be [begin, end] with integers 0 <= begin <= end" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[\"0\",4]}}", 4,
	  "tensor \"a\": data_offsets must be [begin, end] with integers 0 <= begin <= end" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,40]}}", 40,
	  "tensor \"a\": shape [3, 4] of F32 needs 48 bytes, data_offsets [0, 40] hold 40" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[3,4],\"data_offsets\":[0,48]}}", 40,
	  "tensor \"a\": data_offsets [0, 48] go past the end of the data (40 bytes)" },
	{ "{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,0]}}", 0,
	  "tensor \"a\": shape [4294967296, 4294967296] of U8 overflows 64 bits" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", 12,
	  "tensors \"a\" [0, 8] and \"b\" [4, 12] overlap" },
	{ "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
	  "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8,
	  "tensors \"b\" [0, 8] and \"a\" [0, 8] overlap" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 12,
	  "bytes [4, 8) of the data belong to no tensor" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
	  "bytes [4, 8) of the data (the end of the file) belong to no tensor" },
	{ "{}", 3, "bytes [0, 3) of the data (the end of the file) belong to no tensor" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
	  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
	  "header JSON, line 1, column 57: duplicate object key near '\"a\"' (byte 57)" },
	{ "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
	  "header JSON, line 1, column 11: NUL byte in object key not supported near '\"a\\u0000b\"' (byte 11)" },
	{ "{\"__metadata__\":[\"x\"]}", 0, "__metadata__ is an array, not an object" },
	{ "{\"__metadata__\":{\"n\":5}}", 0,
	  "__metadata__ key \"n\": the value is a number, not a string" },
	{ "{\"__metadata__\":{\"n\":\"a\\u0000b\"}}", 0,
	  "header JSON, line 1, column 31: \\u0000 (a NUL character) is not allowed in strings (byte 31)" },
	{ "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}\0\0\0", 4,
	  "header JSON, line 1, column 55: a NUL byte is not allowed in JSON (byte 55)" },
};

START_TEST(refuses_bad_headers)
{
	static unsigned char buf[4096];
	char err[512], want[512];
	size_t hl = strlen(bad[_i].header);
	/* The NUL-padding case: count its three NULs. */
	if (strstr(bad[_i].msg, "a NUL byte is not allowed"))
		hl += 3;
	uint64_t n = hl;
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(n >> (8 * i));
	memcpy(buf + 8, bad[_i].header, hl);
	memset(buf + 8 + hl, 0, bad[_i].data_len);
	struct ncp_safetensors *st = ncp_safetensors_parse(buf, 8 + hl + bad[_i].data_len,
							   "x.st", err, sizeof(err));
	ck_assert_msg(!st, "case %d loaded", _i);
	snprintf(want, sizeof(want), "x.st: %s", bad[_i].msg);
	ck_assert_msg(!strcmp(err, want), "case %d:\n got  %s\n want %s", _i,
		      err, want);
}
END_TEST

START_TEST(refuses_bad_sizes_and_truncation)
{
	static unsigned char buf[4096];
	char err[256];
	size_t len = build(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8);

	struct ncp_safetensors *st = ncp_safetensors_parse(buf, len, "x.st", err, sizeof(err));
	ck_assert_msg(st, "%s", err);
	ncp_safetensors_free(st);
	/* Every strict prefix is refused. */
	for (size_t n = 0; n < len; n++) {
		st = ncp_safetensors_parse(buf, n, "x.st", err, sizeof(err));
		ck_assert_msg(!st, "prefix %zu loaded", n);
		if (n < 8)
			ck_assert_msg(strstr(err, "bytes is too short for a safetensors file (the header size alone takes 8)"),
				      "%s", err);
		else if (n < len - 8)
			ck_assert_msg(strstr(err, "goes past the end of the file"), "%s", err);
		else
			ck_assert_msg(strstr(err, "go past the end of the data"), "%s", err);
	}
	ck_assert_ptr_null(ncp_safetensors_parse(buf, 3, "x.st", err, sizeof(err)));
	ck_assert_str_eq(err, "x.st: 3 bytes is too short for a safetensors file (the header size alone takes 8)");
	ck_assert_ptr_null(ncp_safetensors_parse(buf, 20, "x.st", err, sizeof(err)));
	ck_assert_str_eq(err, "x.st: header size 54 goes past the end of the file (12 bytes follow the size field)");
	/* A huge header size (e.g. a file that is not safetensors at all). */
	memcpy(buf, "\x00\x00\x00\x00\x01\x00\x00\x00", 8);
	ck_assert_ptr_null(ncp_safetensors_parse(buf, len, "x.st", err, sizeof(err)));
	ck_assert_str_eq(err, "x.st: header size 4294967296 exceeds the limit of 100000000 bytes (not a safetensors file?)");
	memcpy(buf, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	ck_assert_ptr_null(ncp_safetensors_parse(buf, len, "x.st", err, sizeof(err)));
	ck_assert_msg(strstr(err, "header size 18446744073709551615 exceeds the limit"), "%s", err);
	/* 65 dimensions. */
	char h[1024];
	size_t o = (size_t)sprintf(h, "{\"a\":{\"dtype\":\"U8\",\"shape\":[");
	for (int i = 0; i < 65; i++)
		o += (size_t)sprintf(h + o, "%s1", i ? "," : "");
	sprintf(h + o, "],\"data_offsets\":[0,1]}}");
	len = build(buf, h, 1);
	ck_assert_ptr_null(ncp_safetensors_parse(buf, len, "x.st", err, sizeof(err)));
	ck_assert_str_eq(err, "x.st: tensor \"a\": shape has 65 dimensions, more than 64");
}
END_TEST

START_TEST(refuses_a_huge_file_by_its_header)
{
	char err[256];
	make_dir();
	/* 8 GiB, sparse: read whole it would not fit the test's memory. */
	const char *p = ncp_ck_path("huge.safetensors");
	FILE *f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fwrite("\xff\xff\xff\xff\x00\x00\x00\x00", 1, 8, f);
	fclose(f);
	ck_assert_int_eq(truncate(p, 8ll << 30), 0);
	ck_assert_ptr_null(ncp_safetensors_load(p, err, sizeof(err)));
	ck_assert_msg(strstr(err, "huge.safetensors: header size 4294967295 exceeds the limit of 100000000 bytes"),
		      "%s", err);
	f = fopen(p, "r+");
	fwrite("\x00\x00\x00\x01\x00\x00\x00\x00", 1, 8, f);
	fclose(f);
	ck_assert_int_eq(truncate(p, 1000), 0);
	ck_assert_ptr_null(ncp_safetensors_load(p, err, sizeof(err)));
	ck_assert_msg(strstr(err, "huge.safetensors: header size 16777216 goes past the end of the file (992 bytes follow the size field)"),
		      "%s", err);
	ck_assert_int_eq(truncate(p, 5), 0);
	ck_assert_ptr_null(ncp_safetensors_load(p, err, sizeof(err)));
	ck_assert_msg(strstr(err, "huge.safetensors: 5 bytes is too short"), "%s", err);
	ncp_ck_remove_dir();
}
END_TEST

static void snapshot(const char *path, struct stat *st, void **bytes, size_t *len)
{
	ck_assert_int_eq(stat(path, st), 0);
	ck_assert_int_eq(ncp_file_read(path, 1 << 24, bytes, len), 0);
}

static int count_entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;
	ck_assert_ptr_nonnull(dp);
	while ((e = readdir(dp)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	closedir(dp);
	return n;
}

START_TEST(refusing_modifies_nothing)
{
	char err[256];
	struct stat s0, s1;
	void *b0, *b1;
	size_t l0, l1;
	static unsigned char buf[4096];
	make_dir();
	fill_model();

	/* A refused file is only read. */
	size_t len = build(buf, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
	const char *badp = ncp_ck_path("bad.safetensors");
	ck_assert_int_eq(ncp_file_write_atomic(badp, buf, len, 0644), 0);
	snapshot(badp, &s0, &b0, &l0);
	sleep(1);	/* so a write would show in the mtime */
	ck_assert_ptr_null(ncp_safetensors_load(badp, err, sizeof(err)));
	ck_assert_msg(strstr(err, "bad.safetensors: tensor \"a\": shape [2] of F32 needs 8 bytes"), "%s", err);
	snapshot(badp, &s1, &b1, &l1);
	ck_assert_uint_eq(l0, l1);
	ck_assert(!memcmp(b0, b1, l0));
	ck_assert(s0.st_mtim.tv_sec == s1.st_mtim.tv_sec && s0.st_mtim.tv_nsec == s1.st_mtim.tv_nsec);
	free(b0);
	free(b1);

	/* A refused write leaves the existing model and no temp file. */
	const char *good = ncp_ck_path("good.safetensors");
	ck_assert_int_eq(ncp_safetensors_write(good, model, 3, meta, 2), 0);
	snapshot(good, &s0, &b0, &l0);
	int entries = count_entries(ncp_ck_dir);
	struct ncp_safetensors_tensor dup[2] = { model[1], model[1] };
	ck_assert_int_eq(ncp_safetensors_write(good, dup, 2, NULL, 0), -EINVAL);
	struct ncp_safetensors_tensor t = model[1];
	t.name = "__metadata__";
	ck_assert_int_eq(ncp_safetensors_write(good, &t, 1, NULL, 0), -EINVAL);
	t.name = "bad\xff";
	ck_assert_int_eq(ncp_safetensors_write(good, &t, 1, NULL, 0), -EINVAL);
	t = model[1];
	t.data = NULL;
	ck_assert_int_eq(ncp_safetensors_write(good, &t, 1, NULL, 0), -EINVAL);
	t = model[1];
	t.dtype = NCP_SAFETENSORS_DTYPE_COUNT;
	ck_assert_int_eq(ncp_safetensors_write(good, &t, 1, NULL, 0), -EINVAL);
	struct ncp_safetensors_meta m2[2] = { { "k", "1" }, { "k", "2" } };
	ck_assert_int_eq(ncp_safetensors_write(good, model, 1, m2, 2), -EINVAL);
	/* A write into a missing directory fails and creates nothing. */
	ck_assert_int_eq(ncp_safetensors_write(ncp_ck_path("no/such.safetensors"), model, 1, NULL, 0),
			 -ENOENT);
	snapshot(good, &s1, &b1, &l1);
	ck_assert_uint_eq(l0, l1);
	ck_assert(!memcmp(b0, b1, l0));
	ck_assert_int_eq(count_entries(ncp_ck_dir), entries);
	free(b0);
	free(b1);
	free_model();
	ncp_ck_remove_dir();
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("safetensors");
	TCase *tc = tcase_create("safetensors");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, round_trip_with_metadata);
	tcase_add_test(tc, reads_python_written_files);
	tcase_add_test(tc, lookup_names_expected_and_found);
	tcase_add_loop_test(tc, refuses_bad_headers, 0, (int)NCP_ARRAY_SIZE(bad));
	tcase_add_test(tc, refuses_bad_sizes_and_truncation);
	tcase_add_test(tc, refuses_a_huge_file_by_its_header);
	tcase_add_test(tc, refusing_modifies_nothing);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
