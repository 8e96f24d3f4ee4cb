/* ncp_sha256: SHA-256 (FIPS 180-4), for content keys and checksums of
 * files a reader must be able to trust or reject (the decoder cache).
 * Not constant-time and not meant for secrets.
 *
 *   struct ncp_sha256 h;
 *   uint8_t digest[NCP_SHA256_BYTES];
 *   ncp_sha256_init(&h);
 *   ncp_sha256_update(&h, data, len);   (any number of times)
 *   ncp_sha256_final(&h, digest);
 */
#ifndef NCP_SHA256_H
#define NCP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define NCP_SHA256_BYTES 32

struct ncp_sha256 {
	uint32_t h[8];
	uint64_t len;		/* bytes taken in so far */
	uint8_t buf[64];	/* a partial block */
	size_t fill;
};

void ncp_sha256_init(struct ncp_sha256 *s);
void ncp_sha256_update(struct ncp_sha256 *s, const void *data, size_t len);
/* The digest; s must be initialised again before reuse. */
void ncp_sha256_final(struct ncp_sha256 *s, uint8_t out[NCP_SHA256_BYTES]);
/* The digest of one buffer. */
void ncp_sha256(const void *data, size_t len, uint8_t out[NCP_SHA256_BYTES]);
/* The digest as 64 lower-case hex digits and a NUL (65 bytes). */
void ncp_sha256_hex(const uint8_t d[NCP_SHA256_BYTES], char out[65]);

#endif
