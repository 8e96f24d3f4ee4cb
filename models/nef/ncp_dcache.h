/* ncp_dcache: solved decoders kept on disk, so the next build of the same
 * ensembles skips the solve (Nengo's decoder cache does the same).
 *
 * An entry is found by a key the caller derives from every input of the
 * solve (ncp_ens.c: the neurons' encoders, gains, biases and LIF
 * parameters, the evaluation points, the target values, the
 * regularisation) and from ncp_dcache_platform(): what else changes the
 * bits a solve gives for the same inputs (this program's build id, the
 * C library, the BLAS kernel and thread count, the CPU features the math
 * library picks its code by).  Any change gives a new key: an entry is
 * never stale, only unused.
 *
 * One file per entry, DIR/<64 hex digits of the key>.dec:
 *   0  char[8]  magic "NCPDCACH"
 *   8  u32      format version (NCP_DCACHE_VERSION)
 *   12 u32      header bytes (64)
 *   16 u8[32]   the key
 *   48 u32 n    rows (neurons)
 *   52 u32 k    columns (decoded values)
 *   56 f64      the solve's static RMSE
 *   64 f32[n k] the decoders, row-major
 *   .. u8[32]   SHA-256 of every byte before it
 * in the machine's byte order (the platform is in the key).  A file of
 * the wrong size, magic, version, key or shape, or whose checksum does
 * not match, is rejected (counted) and solved again, and the new entry
 * replaces it.  Entries are written to a temp file and renamed into
 * place (ncp_file_atomic_publish, no fsync): concurrent processes see a
 * whole entry or none, and a file torn by a machine crash fails its
 * checksum.
 *
 * A cache is used by one thread at a time.
 */
#ifndef NCP_DCACHE_H
#define NCP_DCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/base/ncp_sha256.h"

#define NCP_DCACHE_VERSION 1
#define NCP_DCACHE_KEY_BYTES NCP_SHA256_BYTES

struct ncp_dcache;

struct ncp_dcache_stats {
	uint64_t hits;		/* entries used */
	uint64_t misses;	/* no entry: solved (and stored) */
	uint64_t rejected;	/* entries found but not valid (also misses) */
	uint64_t stored;	/* entries written */
	uint64_t write_errors;	/* entries that could not be written */
	int last_write_error;	/* -errno of the last one */
};

/* A cache in dir, which must exist.  NULL (with a message) when this
 * program has no build id to key entries by, or out of memory. */
struct ncp_dcache *ncp_dcache_new(const char *dir, char *err, size_t errlen);
void ncp_dcache_free(struct ncp_dcache *c);

/* The platform text every key includes (see above); computed once. */
const char *ncp_dcache_platform(void);

/* The n x k decoders and RMSE stored under key, into D and *rmse: true
 * when a valid entry was there.  A NULL cache finds nothing. */
bool ncp_dcache_get(struct ncp_dcache *c, const uint8_t key[NCP_DCACHE_KEY_BYTES],
		    int n, int k, float *D, double *rmse);
/* Store n x k decoders and their RMSE under key.  0 or -errno (also
 * counted in the stats: a cache that cannot be written only costs the
 * next run a solve). */
int ncp_dcache_put(struct ncp_dcache *c, const uint8_t key[NCP_DCACHE_KEY_BYTES],
		   int n, int k, const float *D, double rmse);
/* What the cache did so far; the directory it uses. */
void ncp_dcache_stats(const struct ncp_dcache *c, struct ncp_dcache_stats *s);
const char *ncp_dcache_dir(const struct ncp_dcache *c);

#endif
