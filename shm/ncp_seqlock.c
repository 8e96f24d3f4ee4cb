#include "shm/ncp_seqlock.h"

#include <errno.h>
#include <string.h>

#include "shm/ncp_word_int.h"

void ncp_seqlock_write(void *block, const void *src, size_t size)
{
	uint64_t *w = block;
	const unsigned char *in = src;
	uint64_t seq = ncp_word_load(&w[0]); /* only this writer changes it */

	ncp_word_store(&w[0], seq + 1);
	for (size_t i = 1; i < size / 8; i++) {
		uint64_t v;
		memcpy(&v, in + 8 * i, 8);
		/* Release: orders the odd sequence word before this word;
		 * pairs with the acquire load of this word in
		 * ncp_seqlock_read_copy(). */
		ncp_word_store_release(&w[i], v);
	}
	/* Publishes the payload with the even sequence word; pairs with the
	 * acquire load in ncp_seqlock_read_begin(). */
	ncp_word_store_release(&w[0], seq + 2);
}

uint64_t ncp_seqlock_read_begin(const void *block)
{
	/* Pairs with the final release store in ncp_seqlock_write(): the
	 * payload of that write is visible to the copy that follows. */
	return ncp_word_load_acquire(block);
}

void ncp_seqlock_read_copy(const void *block, void *dst, size_t size)
{
	const uint64_t *w = block;
	unsigned char *out = dst;

	for (size_t i = 1; i < size / 8; i++) {
		/* Pairs with the release store of this word in
		 * ncp_seqlock_write(): a word of a later write brings that
		 * write's odd sequence word with it, which
		 * ncp_seqlock_read_retry() then sees. */
		uint64_t v = ncp_word_load_acquire(&w[i]);
		memcpy(out + 8 * i, &v, 8);
	}
}

bool ncp_seqlock_read_retry(const void *block, uint64_t seq)
{
	/* A relaxed reload suffices: the acquire payload loads in
	 * ncp_seqlock_read_copy() already order it after the copy. */
	return (seq & 1) || ncp_word_load(block) != seq;
}

int ncp_seqlock_read(const void *block, void *dst, size_t size)
{
	for (int t = 0; t < NCP_SEQLOCK_READ_TRIES; t++) {
		uint64_t seq = ncp_seqlock_read_begin(block);

		if (seq == 0)
			return -ENODATA;
		if (!(seq & 1)) {
			ncp_seqlock_read_copy(block, dst, size);
			if (!ncp_seqlock_read_retry(block, seq)) {
				memcpy(dst, &seq, 8);
				return 0;
			}
		}
		ncp_word_relax();
	}
	return -EAGAIN;
}
