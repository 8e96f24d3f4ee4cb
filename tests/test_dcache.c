/* The decoder cache (ncp_dcache), its key (ncp_ens_solve_cached) and the
 * SHA-256 both rest on (ncp_sha256). */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/base/ncp_sha256.h"
#include "models/io/ncp_file.h"
#include "models/nef/ncp_dcache.h"
#include "models/nef/ncp_ens.h"
#include "tests/ncp_check.h"

static void hex_of(const void *data, size_t len, char out[65])
{
	uint8_t d[NCP_SHA256_BYTES];
	ncp_sha256(data, len, d);
	ncp_sha256_hex(d, out);
}

/* FIPS 180-4 / NIST example digests. */
START_TEST(sha256_known_digests)
{
	char h[65];
	hex_of("", 0, h);
	ck_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	hex_of("abc", 3, h);
	ck_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	hex_of(two, strlen(two), h);
	ck_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	char *a = malloc(1000000);
	ck_assert_ptr_nonnull(a);
	memset(a, 'a', 1000000);
	hex_of(a, 1000000, h);
	ck_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	/* The same bytes fed in uneven pieces give the same digest. */
	struct ncp_sha256 s;
	uint8_t d[NCP_SHA256_BYTES];
	char h2[65];
	ncp_sha256_init(&s);
	for (size_t off = 0, step = 1; off < 1000000; step = step * 3 % 191 + 1) {
		size_t n = off + step > 1000000 ? 1000000 - off : step;
		ncp_sha256_update(&s, a + off, n);
		off += n;
	}
	ncp_sha256_final(&s, d);
	ncp_sha256_hex(d, h2);
	ck_assert_str_eq(h2, h);
	free(a);
}
END_TEST

/* Lengths around the padding boundary (55, 56, 63, 64 bytes), checked
 * against digests computed by Python's hashlib. */
START_TEST(sha256_padding_boundaries)
{
	static const struct {
		size_t len;
		const char *hex;
	} v[] = {
		{ 55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318" },
		{ 56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a" },
		{ 63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34" },
		{ 64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb" },
	};
	char buf[64], h[65];
	memset(buf, 'a', sizeof(buf));
	for (size_t i = 0; i < NCP_ARRAY_SIZE(v); i++) {
		hex_of(buf, v[i].len, h);
		ck_assert_msg(!strcmp(h, v[i].hex), "%zu bytes of 'a': %s", v[i].len, h);
	}
}
END_TEST

enum { N = 37, K = 3 };

static void fill(float *D, uint64_t seed)
{
	struct ncp_rng r;
	ncp_rng_seed(&r, seed);
	for (int i = 0; i < N * K; i++)
		D[i] = (float)ncp_rng_range(&r, -1, 1);
}

static void key_of(uint8_t key[NCP_DCACHE_KEY_BYTES], const char *what)
{
	ncp_sha256(what, strlen(what), key);
}

static const char *entry(const uint8_t *key)
{
	char hex[65], name[80];
	ncp_sha256_hex(key, hex);
	snprintf(name, sizeof(name), "%s.dec", hex);
	return ncp_ck_path(name);
}

static struct ncp_dcache *open_cache(void)
{
	char err[200];
	struct ncp_dcache *c = ncp_dcache_new(ncp_ck_dir, err, sizeof(err));
	ck_assert_msg(c != NULL, "%s", err);
	return c;
}

START_TEST(put_then_get_gives_the_same_bits)
{
	ncp_ck_make_dir("dcache");
	struct ncp_dcache *c = open_cache();
	struct ncp_dcache_stats st;
	uint8_t key[NCP_DCACHE_KEY_BYTES];
	float D[N * K], got[N * K];
	double rmse = 0.0123456789, r = 0;

	key_of(key, "one");
	fill(D, 1);
	ck_assert(!ncp_dcache_get(c, key, N, K, got, &r));
	ck_assert_int_eq(ncp_dcache_put(c, key, N, K, D, rmse), 0);
	memset(got, 0, sizeof(got));
	ck_assert(ncp_dcache_get(c, key, N, K, got, &r));
	ck_assert(!memcmp(got, D, sizeof(D)));
	ck_assert(!memcmp(&r, &rmse, sizeof(r)));
	/* The same key asked with another shape is not that entry. */
	ck_assert(!ncp_dcache_get(c, key, N, K - 1, got, &r));
	ck_assert(!ncp_dcache_get(c, key, N + 1, K, got, &r));
	ncp_dcache_stats(c, &st);
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.stored, 1);
	ck_assert_uint_eq(st.misses, 3);
	ck_assert_uint_eq(st.rejected, 2);
	/* The file is as documented: 64 + 4 N K + 32 bytes, no temp left. */
	size_t len;
	void *buf;
	ck_assert_int_eq(ncp_file_read(entry(key), 1 << 20, &buf, &len), 0);
	ck_assert_uint_eq(len, 64 + 4 * N * K + 32);
	ck_assert(!memcmp(buf, "NCPDCACH", 8));
	ck_assert(!memcmp((char *)buf + 16, key, 32));
	free(buf);
	DIR *dir = opendir(ncp_ck_dir);
	int files = 0;
	for (struct dirent *de; (de = readdir(dir));)
		files += de->d_name[0] != '.';
	closedir(dir);
	ck_assert_int_eq(files, 1);
	ncp_dcache_free(c);
	ncp_ck_remove_dir();
}
END_TEST

/* Every byte of an entry matters: a flipped bit anywhere, a file cut
 * short or grown, another key's entry under this name: each is rejected,
 * never returned, and a new put replaces it. */
START_TEST(damaged_entries_are_rejected)
{
	ncp_ck_make_dir("dcache");
	struct ncp_dcache *c = open_cache();
	uint8_t key[NCP_DCACHE_KEY_BYTES], other[NCP_DCACHE_KEY_BYTES];
	float D[N * K], got[N * K];
	double r;
	size_t len;
	void *good;

	key_of(key, "one");
	key_of(other, "two");
	fill(D, 2);
	ck_assert_int_eq(ncp_dcache_put(c, key, N, K, D, 0.5), 0);
	ck_assert_int_eq(ncp_file_read(entry(key), 1 << 20, &good, &len), 0);
	uint8_t *bad = malloc(len + 1);
	int tried = 0;
	for (size_t at = 0; at < len; at += at < 70 ? 1 : 37) {
		memcpy(bad, good, len);
		bad[at] ^= 0x10;
		ck_assert_int_eq(ncp_file_write_atomic(entry(key), bad, len, 0644), 0);
		ck_assert_msg(!ncp_dcache_get(c, key, N, K, got, &r),
			      "a flipped bit at byte %zu was not noticed", at);
		tried++;
	}
	size_t cuts[] = { 0, 1, 63, 64, len - 33, len - 1 };
	for (size_t i = 0; i < NCP_ARRAY_SIZE(cuts); i++) {
		ck_assert_int_eq(ncp_file_write_atomic(entry(key), good, cuts[i], 0644), 0);
		ck_assert_msg(!ncp_dcache_get(c, key, N, K, got, &r),
			      "an entry cut to %zu bytes was used", cuts[i]);
		tried++;
	}
	memcpy(bad, good, len);
	bad[len] = 0;
	ck_assert_int_eq(ncp_file_write_atomic(entry(key), bad, len + 1, 0644), 0);
	ck_assert(!ncp_dcache_get(c, key, N, K, got, &r));
	tried++;
	/* A whole valid entry of another key, under this key's name. */
	ck_assert_int_eq(ncp_dcache_put(c, other, N, K, D, 0.5), 0);
	ck_assert_int_eq(rename(entry(other), entry(key)), 0);
	ck_assert(!ncp_dcache_get(c, key, N, K, got, &r));
	tried++;
	/* A directory where the entry should be. */
	ck_assert_int_eq(unlink(entry(key)), 0);
	ck_assert_int_eq(mkdir(entry(key), 0755), 0);
	ck_assert(!ncp_dcache_get(c, key, N, K, got, &r));
	tried++;
	ck_assert_int_eq(rmdir(entry(key)), 0);

	struct ncp_dcache_stats st;
	ncp_dcache_stats(c, &st);
	ck_assert_uint_eq(st.hits, 0);
	ck_assert_uint_eq(st.rejected, (uint64_t)tried);
	/* Solved again and stored: the entry is good once more. */
	ck_assert_int_eq(ncp_dcache_put(c, key, N, K, D, 0.5), 0);
	ck_assert(ncp_dcache_get(c, key, N, K, got, &r));
	ck_assert(!memcmp(got, D, sizeof(D)));
	free(bad);
	free(good);
	ncp_dcache_free(c);
	ncp_ck_remove_dir();
}
END_TEST

/* A cache that cannot be written costs a solve, never the build. */
START_TEST(unwritable_cache_is_counted_not_fatal)
{
	char err[200];
	struct ncp_dcache *c = ncp_dcache_new("/nonexistent/ncpd-cache", err,
					      sizeof(err));
	ck_assert_ptr_nonnull(c);
	uint8_t key[NCP_DCACHE_KEY_BYTES];
	float D[N * K];
	double r;
	key_of(key, "one");
	fill(D, 3);
	ck_assert(!ncp_dcache_get(c, key, N, K, D, &r));
	ck_assert_int_eq(ncp_dcache_put(c, key, N, K, D, 0.5), -ENOENT);
	struct ncp_dcache_stats st;
	ncp_dcache_stats(c, &st);
	ck_assert_uint_eq(st.write_errors, 1);
	ck_assert_int_eq(st.last_write_error, -ENOENT);
	ck_assert_uint_eq(st.rejected, 0);
	ncp_dcache_free(c);
	/* No cache at all: nothing found, nothing counted. */
	ck_assert(!ncp_dcache_get(NULL, key, N, K, D, &r));
	ncp_dcache_free(NULL);
}
END_TEST

/* Processes writing and reading the same entries at once: every read
 * finds a whole entry with the right bits or none, never a torn one. */
START_TEST(concurrent_writers_and_readers)
{
	enum { PROCS = 4, ROUNDS = 300, KEYS = 3 };
	ncp_ck_make_dir("dcache");
	pid_t pid[PROCS];
	for (int p = 0; p < PROCS; p++) {
		pid[p] = fork();
		ck_assert_int_ge(pid[p], 0);
		if (pid[p])
			continue;
		char err[200];
		struct ncp_dcache *c = ncp_dcache_new(ncp_ck_dir, err, sizeof(err));
		int bad = !c;
		for (int i = 0; i < ROUNDS && !bad; i++) {
			char name[8];
			uint8_t key[NCP_DCACHE_KEY_BYTES];
			float D[N * K], got[N * K];
			double r;
			int k = (i + p) % KEYS;
			snprintf(name, sizeof(name), "k%d", k);
			key_of(key, name);
			fill(D, (uint64_t)k);
			if (ncp_dcache_get(c, key, N, K, got, &r))
				bad |= memcmp(got, D, sizeof(D)) || r != k;
			else if (ncp_dcache_put(c, key, N, K, D, k))
				bad = 1;
		}
		struct ncp_dcache_stats st;
		ncp_dcache_stats(c, &st);
		bad |= st.rejected != 0;
		ncp_dcache_free(c);
		_exit(bad);
	}
	for (int p = 0; p < PROCS; p++) {
		int status;
		ck_assert_int_eq(waitpid(pid[p], &status, 0), pid[p]);
		ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			      "process %d saw a torn or wrong entry", p);
	}
	ncp_ck_remove_dir();
}
END_TEST

static void scaled(const double *x, double *y, void *ctx)
{
	double s = *(const double *)ctx;
	y[0] = s * x[0];
	y[1] = x[0] * x[1];
}

/* A solve through the cache gives the uncached solve's bits, cold and
 * warm; changing any input of the solve (the function's values, the
 * regularisation, a gain) finds nothing. */
START_TEST(cached_solve_is_the_solve)
{
	ncp_ck_make_dir("dcache");
	struct ncp_dcache *c = open_cache();
	struct ncp_ens_spec s;
	struct ncp_ens e;
	char err[200];
	double scale = 1.0, r0, r1, r2;
	float D0[120 * 2], D1[120 * 2], D2[120 * 2];
	struct ncp_dcache_stats st;

	ncp_ens_spec_default(&s, 120, 2);
	s.seed = 5;
	ck_assert_int_eq(ncp_ens_init(&e, &s, 0.001, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_ens_solve(&e, scaled, &scale, 2, D0, &r0), 0);
	ck_assert_int_eq(ncp_ens_solve_cached(&e, scaled, &scale, 2, c, D1, &r1), 0);
	ck_assert_int_eq(ncp_ens_solve_cached(&e, scaled, &scale, 2, c, D2, &r2), 0);
	ck_assert(!memcmp(D0, D1, sizeof(D0)) && !memcmp(D0, D2, sizeof(D0)));
	ck_assert(r0 == r1 && r0 == r2);
	ncp_dcache_stats(c, &st);
	ck_assert_uint_eq(st.misses, 1);
	ck_assert_uint_eq(st.hits, 1);

	scale = 1.0 + 1e-15;	/* other targets */
	ck_assert_int_eq(ncp_ens_solve_cached(&e, scaled, &scale, 2, c, D1, &r1), 0);
	scale = 1.0;
	e.reg = 0.1000000001;	/* other regularisation */
	ck_assert_int_eq(ncp_ens_solve_cached(&e, scaled, &scale, 2, c, D1, &r1), 0);
	e.reg = s.reg;
	e.gain[7] = nextafter(e.gain[7], 1e9);	/* another neuron */
	ck_assert_int_eq(ncp_ens_solve_cached(&e, scaled, &scale, 2, c, D1, &r1), 0);
	ncp_dcache_stats(c, &st);
	ck_assert_uint_eq(st.misses, 4);
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.stored, 4);
	ncp_ens_fini(&e);
	ncp_dcache_free(c);
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(platform_names_what_changes_results)
{
	const char *p = ncp_dcache_platform();
	printf("decoder cache platform: %s\n", p);
	ck_assert_ptr_nonnull(strstr(p, "build-id "));
	ck_assert_ptr_null(strstr(p, "build-id none"));
	ck_assert_ptr_nonnull(strstr(p, "glibc "));
	ck_assert_ptr_nonnull(strstr(p, "core "));
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("dcache");
	TCase *tc = tcase_create("dcache");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, sha256_known_digests);
	tcase_add_test(tc, sha256_padding_boundaries);
	tcase_add_test(tc, put_then_get_gives_the_same_bits);
	tcase_add_test(tc, damaged_entries_are_rejected);
	tcase_add_test(tc, unwritable_cache_is_counted_not_fatal);
	tcase_add_test(tc, concurrent_writers_and_readers);
	tcase_add_test(tc, cached_solve_is_the_solve);
	tcase_add_test(tc, platform_names_what_changes_results);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
