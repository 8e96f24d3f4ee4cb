/* ncp_seqlock: a single-writer block that readers copy consistently
 * without writing to it.
 *
 * Layout: word 0 is the sequence word (0: never written; odd: a write is
 * in progress; even, non-zero: stable), the payload follows.  Block sizes
 * and copy sizes are multiples of 8 bytes.
 *
 * Contract:
 *  - One writer (one thread at a time).  ncp_seqlock_write() never waits
 *    and never fails: make the sequence word odd, store the payload, make
 *    it even again.
 *  - Any number of readers with read-only mappings.  A reader copies the
 *    payload between two loads of the sequence word and keeps the copy
 *    only when both loads are the same even value; otherwise a write
 *    overlapped its copy and it tries again, NCP_SEQLOCK_READ_TRIES times
 *    at most (a writer stopped in the middle of a write, for instance
 *    preempted or killed, makes readers return -EAGAIN until it resumes).
 *  - Payload words are copied one by one with release stores (writer) and
 *    acquire loads (readers), never memcpy, so the racing copy is defined
 *    behaviour and ThreadSanitizer-checkable; a copy that raced is thrown
 *    away.  (Plain moves on x86-64; they stand in for the fences of the
 *    textbook seqlock, which ThreadSanitizer does not model.)
 */
#ifndef NCP_SEQLOCK_H
#define NCP_SEQLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_SEQLOCK_READ_TRIES 1000

/* Writer: copy `size` bytes of `src` (an image of the block; its word 0
 * is ignored) into the block.  About 10 ns plus 1 ns per 8 bytes. */
void ncp_seqlock_write(void *block, const void *src, size_t size);

/* Reader: copy `size` bytes of the block (word 0 included) into dst.
 * Returns 0, -ENODATA when the block was never written, or -EAGAIN when
 * every attempt overlapped a write. */
int ncp_seqlock_read(const void *block, void *dst, size_t size);

/* The steps of one read attempt (ncp_seqlock_read loops over them):
 * begin returns the sequence word (odd: a write is in progress), copy
 * takes the payload, and retry says whether a write overlapped since
 * begin (the copy must then be thrown away). */
uint64_t ncp_seqlock_read_begin(const void *block);
void ncp_seqlock_read_copy(const void *block, void *dst, size_t size);
bool ncp_seqlock_read_retry(const void *block, uint64_t seq);

#endif
