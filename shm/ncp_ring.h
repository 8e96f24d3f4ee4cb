/* ncp_ring: a single-writer, many-reader ring of fixed-size slots in
 * shared memory, where readers never write.
 *
 * Layout (ncp_shm.h, struct ncp_shm_ring): a 64-byte ring header {head,
 * slot_count, slot_size}, then slot_count slots of slot_size bytes.
 * slot_count is a power of two; head is a free-running 64-bit count of
 * entries written; entry k lives in slot k & (slot_count - 1).  Word 0 of
 * each slot is its sequence word: 0 never written, 2k+1 while entry k is
 * being written, 2k+2 once entry k is complete.
 *
 * Contract:
 *  - One writer (one thread).  It never waits, never fails, and does not
 *    know whether anybody reads.  Pushing entry k overwrites entry
 *    k - slot_count.
 *  - Any number of readers, in any process, with a read-only mapping: they
 *    only load.  A reader copies a run of consecutive entries (the newest
 *    W, or the newest ones from a given entry on) and learns exactly which
 *    entries it holds (first, count).
 *  - A reader that the writer laps during its copy (the writer began
 *    entry first + slot_count or later, so a slot changed under the copy)
 *    sees a sequence word that is not 2k+2 before or after copying entry
 *    k; ncp_ring_read() then retries with the newest head, up to
 *    NCP_RING_READ_TRIES attempts, then returns -EAGAIN.  An accepted copy
 *    never mixes two entries.  Copying W entries is safe from lapping
 *    while the writer pushes fewer than slot_count - W entries during it,
 *    so choose slot_count well above the W readers ask for.
 *  - A reader killed at any point leaves nothing behind.
 *
 * Every shared word is a 64-bit atomic.  Payloads are copied word by
 * word, never with memcpy: release stores in the writer, acquire loads in
 * readers (plain moves on x86-64).  That makes the racing copy defined
 * behaviour, and the per-word acquire/release replaces the fences of the
 * textbook seqlock (a reader that saw any word of a newer entry also sees
 * that entry's odd sequence word), which ThreadSanitizer can check: it
 * does not model atomic_thread_fence.  Slot sizes and copy sizes are
 * multiples of 8 bytes.
 */
#ifndef NCP_RING_H
#define NCP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_RING_HDR_SIZE 64
#define NCP_RING_READ_TRIES 16

/* Writer side: process-local, owned by the writing thread. */
struct ncp_ring_writer {
	uint64_t *words;      /* the ring block (header then slots) */
	unsigned char *slots;
	uint64_t head;        /* entries written (the writer's own copy) */
	uint64_t mask;
	uint32_t slot_count;
	uint32_t slot_size;
};

/* Reader side: process-local, validated description of one ring. */
struct ncp_ring_reader {
	const uint64_t *words;
	const unsigned char *slots;
	uint64_t mask;
	uint32_t slot_count;
	uint32_t slot_size;
};

/* A run of consecutive entries [first, first + count). */
struct ncp_ring_span {
	uint64_t first;
	uint32_t count;
};

/* Bytes of a ring block with these slots. */
size_t ncp_ring_block_size(uint32_t slot_count, uint32_t slot_size);

/* Format a zeroed block of `size` bytes as an empty ring (before any
 * reader can see it).  slot_count: a power of two >= 2; slot_size: a
 * multiple of 64.  Returns 0 or -EINVAL. */
int ncp_ring_format(void *block, size_t size, uint32_t slot_count,
		    uint32_t slot_size);

/* Take the writer role on a formatted ring, resuming at its head.
 * Returns 0 or -EINVAL (block not a valid ring of at most `size` bytes). */
int ncp_ring_writer_init(struct ncp_ring_writer *w, void *block, size_t size);

/* Push one entry: `len` bytes of `entry` (a slot image: its word 0, the
 * sequence word, is ignored) go into the next slot; words of the slot
 * past `len` keep their content.  len: multiple of 8, <= slot_size.
 * A 320-byte window entry takes 30-70 ns; no syscalls, no waiting. */
void ncp_ring_push(struct ncp_ring_writer *w, const void *entry, size_t len);

/* Describe a ring block of `size` bytes for reading, checking its header
 * (power-of-two count, slot size, fits in size).  Returns 0 or -EINVAL. */
int ncp_ring_reader_init(struct ncp_ring_reader *r, const void *block,
			 size_t size);

/* Entries written so far (acquire: entries below it are complete unless
 * lapped since). */
uint64_t ncp_ring_head(const struct ncp_ring_reader *r);

/* Copy the newest entries: at most `max` of them (max <= slot_count), and
 * only entries >= `since` (0 for "the newest max").  Each entry's first
 * `elem_size` bytes (multiple of 8, <= slot_size, includes the sequence
 * word) go to dst, elem_size bytes apart.  On success returns 0 and the
 * span it copied (count 0 when there is nothing newer than `since`); a
 * reader lapped NCP_RING_READ_TRIES times returns -EAGAIN; bad arguments
 * -EINVAL. */
int ncp_ring_read(const struct ncp_ring_reader *r, uint64_t since,
		  uint32_t max, void *dst, size_t elem_size,
		  struct ncp_ring_span *span);

/* The three steps of one ncp_ring_read attempt, for callers that
 * interleave other work (and for tests): pick the span from the head,
 * copy it (false if an entry was already overwritten or being written),
 * then validate (false if the writer lapped the copy).  The copy is good
 * only when both return true. */
struct ncp_ring_span ncp_ring_read_span(const struct ncp_ring_reader *r,
					uint64_t since, uint32_t max);
bool ncp_ring_read_copy(const struct ncp_ring_reader *r,
			struct ncp_ring_span span, void *dst, size_t elem_size);
bool ncp_ring_read_validate(const struct ncp_ring_reader *r,
			    struct ncp_ring_span span);

#endif
