#include "models/nef/ncp_dcache.h"

#include <errno.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <gnu/libc-version.h>

#include "models/base/ncp_base.h"
#include "models/io/ncp_file.h"

#define HEADER_BYTES 64
static const char magic[8] = { 'N', 'C', 'P', 'D', 'C', 'A', 'C', 'H' };

struct ncp_dcache {
	char *dir;
	struct ncp_dcache_stats st;
};

/* --- the platform ---------------------------------------------------------- */

struct find_id {
	uintptr_t addr;		/* an address inside the object we want */
	char hex[2 * 64 + 1];	/* its GNU build id, or "" */
};

/* dl_iterate_phdr callback: the build id (NT_GNU_BUILD_ID note) of the
 * loaded object whose segments hold fi->addr. */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct find_id *fi = arg;
	bool mine = false;

	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && fi->addr >= lo &&
		    fi->addr < lo + ph->p_memsz)
			mine = true;
	}
	if (!mine)
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		const uint8_t *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*nh);
			const uint8_t *desc = name + ((nh->n_namesz + 3) & ~3u);
			const uint8_t *next = desc + ((nh->n_descsz + 3) & ~3u);
			if (next > end)
				break;
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && nh->n_descsz > 0 &&
			    nh->n_descsz <= 64) {
				for (unsigned b = 0; b < nh->n_descsz; b++)
					snprintf(fi->hex + 2 * b, 3, "%02x", desc[b]);
				return 1;
			}
			p = next;
		}
	}
	return 1;	/* our object, without a build id */
}

static char platform[512];
static bool platform_has_id;
static pthread_once_t platform_once = PTHREAD_ONCE_INIT;

static void platform_init(void)
{
	struct find_id fi = { .addr = (uintptr_t)&platform_init };

	dl_iterate_phdr(find_build_id, &fi);
	platform_has_id = fi.hex[0] != '\0';
	__builtin_cpu_init();
	snprintf(platform, sizeof(platform),
		 "ncp_dcache %d; build-id %s; glibc %s; %s; core %s; "
		 "blas threads %d; cpu%s%s%s%s",
		 NCP_DCACHE_VERSION, fi.hex[0] ? fi.hex : "none",
		 gnu_get_libc_version(), openblas_get_config(),
		 openblas_get_corename(), openblas_get_num_threads(),
		 __builtin_cpu_supports("fma") ? " fma" : "",
		 __builtin_cpu_supports("avx2") ? " avx2" : "",
		 __builtin_cpu_supports("avx512f") ? " avx512f" : "",
		 __builtin_cpu_supports("sse4.2") ? " sse4.2" : "");
}

const char *ncp_dcache_platform(void)
{
	pthread_once(&platform_once, platform_init);
	return platform;
}

/* --- the cache --------------------------------------------------------------- */

struct ncp_dcache *ncp_dcache_new(const char *dir, char *err, size_t errlen)
{
	ncp_dcache_platform();
	if (!platform_has_id) {
		ncp_errf(err, errlen, "this program has no build id to key "
			 "cached decoders by (link it with -Wl,--build-id)");
		return NULL;
	}
	struct ncp_dcache *c = calloc(1, sizeof(*c));
	if (c)
		c->dir = strdup(dir);
	if (!c || !c->dir) {
		free(c);
		ncp_errf(err, errlen, "out of memory");
		return NULL;
	}
	return c;
}

void ncp_dcache_free(struct ncp_dcache *c)
{
	if (!c)
		return;
	free(c->dir);
	free(c);
}

static int entry_path(const struct ncp_dcache *c, const uint8_t *key,
		      char *path, size_t len)
{
	char hex[65];
	ncp_sha256_hex(key, hex);
	int n = snprintf(path, len, "%s/%s.dec", c->dir, hex);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static size_t entry_bytes(int n, int k)
{
	return HEADER_BYTES + sizeof(float) * (size_t)n * (size_t)k +
	       NCP_SHA256_BYTES;
}

static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

/* The header for key and an n x k entry. */
static void fill_header(uint8_t h[HEADER_BYTES], const uint8_t *key, int n,
			int k, double rmse)
{
	memset(h, 0, HEADER_BYTES);
	memcpy(h, magic, sizeof(magic));
	put_u32(h + 8, NCP_DCACHE_VERSION);
	put_u32(h + 12, HEADER_BYTES);
	memcpy(h + 16, key, NCP_DCACHE_KEY_BYTES);
	put_u32(h + 48, (uint32_t)n);
	put_u32(h + 52, (uint32_t)k);
	memcpy(h + 56, &rmse, sizeof(rmse));
}

bool ncp_dcache_get(struct ncp_dcache *c, const uint8_t key[NCP_DCACHE_KEY_BYTES],
		    int n, int k, float *D, double *rmse)
{
	char path[PATH_MAX];
	void *buf = NULL;
	size_t len = 0, want = entry_bytes(n, k);
	uint8_t sum[NCP_SHA256_BYTES];

	if (!c)
		return false;
	int r = entry_path(c, key, path, sizeof(path));
	if (!r)
		r = ncp_file_read(path, want, &buf, &len);
	if (r) {
		c->st.misses++;
		if (r != -ENOENT)
			c->st.rejected++;	/* too big, unreadable */
		return false;
	}
	const uint8_t *b = buf;
	bool ok = len == want && !memcmp(b, magic, sizeof(magic)) &&
		  get_u32(b + 8) == NCP_DCACHE_VERSION &&
		  get_u32(b + 12) == HEADER_BYTES &&
		  !memcmp(b + 16, key, NCP_DCACHE_KEY_BYTES) &&
		  get_u32(b + 48) == (uint32_t)n && get_u32(b + 52) == (uint32_t)k;
	if (ok) {
		ncp_sha256(b, len - NCP_SHA256_BYTES, sum);
		ok = !memcmp(sum, b + len - NCP_SHA256_BYTES, NCP_SHA256_BYTES);
	}
	if (ok) {
		memcpy(rmse, b + 56, sizeof(*rmse));
		memcpy(D, b + HEADER_BYTES, sizeof(float) * (size_t)n * k);
		c->st.hits++;
	} else {
		c->st.rejected++;
		c->st.misses++;
	}
	free(buf);
	return ok;
}

int ncp_dcache_put(struct ncp_dcache *c, const uint8_t key[NCP_DCACHE_KEY_BYTES],
		   int n, int k, const float *D, double rmse)
{
	char path[PATH_MAX];
	uint8_t h[HEADER_BYTES], sum[NCP_SHA256_BYTES];
	struct ncp_sha256 s;
	struct ncp_file_atomic f;
	size_t dbytes = sizeof(float) * (size_t)n * k;
	int r;

	if (!c)
		return -EINVAL;
	fill_header(h, key, n, k, rmse);
	ncp_sha256_init(&s);
	ncp_sha256_update(&s, h, sizeof(h));
	ncp_sha256_update(&s, D, dbytes);
	ncp_sha256_final(&s, sum);
	r = entry_path(c, key, path, sizeof(path));
	if (!r)
		r = ncp_file_atomic_open(&f, path, 0644);
	if (!r) {
		ncp_file_atomic_write(&f, h, sizeof(h));
		ncp_file_atomic_write(&f, D, dbytes);
		r = ncp_file_atomic_write(&f, sum, sizeof(sum));
		if (r)
			ncp_file_atomic_abort(&f);
		else
			r = ncp_file_atomic_publish(&f);
	}
	if (r) {
		c->st.write_errors++;
		c->st.last_write_error = r;
	} else {
		c->st.stored++;
	}
	return r;
}

void ncp_dcache_stats(const struct ncp_dcache *c, struct ncp_dcache_stats *s)
{
	if (c)
		*s = c->st;
	else
		memset(s, 0, sizeof(*s));
}

const char *ncp_dcache_dir(const struct ncp_dcache *c)
{
	return c ? c->dir : NULL;
}
