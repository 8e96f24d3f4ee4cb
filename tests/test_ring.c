/* The ring and the seqlock, single-threaded: semantics, wrap-around, and
 * lapping simulated by interleaving the writer inside a reader's copy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shm/ncp_ring.h"
#include "shm/ncp_seqlock.h"
#include "shm/ncp_shm.h"
#include "tests/ncp_check.h"

/* A 64-byte test entry whose every word derives from its index. */
struct entry {
	uint64_t seq;
	uint64_t w[7];
};

static struct entry make_entry(uint64_t k)
{
	struct entry e = { 0 };

	for (int i = 0; i < 7; i++)
		e.w[i] = k * 1000003u + (uint64_t)i * 7919u + 1;
	return e;
}

static void check_entry(const struct entry *e, uint64_t k)
{
	struct entry want = make_entry(k);

	ck_assert_uint_eq(e->seq, 2 * k + 2);
	ck_assert_msg(!memcmp(e->w, want.w, sizeof(want.w)),
		      "entry %llu has another entry's payload",
		      (unsigned long long)k);
}

/* A ring of `slots` 64-byte slots on the heap. */
static void *new_ring(uint32_t slots, struct ncp_ring_writer *w,
		      struct ncp_ring_reader *r)
{
	size_t size = ncp_ring_block_size(slots, 64);
	void *block = aligned_alloc(64, size);

	ck_assert_ptr_nonnull(block);
	memset(block, 0, size);
	ck_assert_int_eq(ncp_ring_format(block, size, slots, 64), 0);
	ck_assert_int_eq(ncp_ring_writer_init(w, block, size), 0);
	ck_assert_int_eq(ncp_ring_reader_init(r, block, size), 0);
	return block;
}

static void push_n(struct ncp_ring_writer *w, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		struct entry e = make_entry(w->head);
		ncp_ring_push(w, &e, sizeof(e));
	}
}

START_TEST(ring_geometry_is_checked)
{
	char block[64 + 8 * 64] __attribute__((aligned(64))) = { 0 };
	struct ncp_ring_reader r;
	struct ncp_ring_writer w;

	ck_assert_uint_eq(ncp_ring_block_size(8, 64), sizeof(block));
	ck_assert_int_eq(ncp_ring_format(block, sizeof(block), 6, 64), -EINVAL);
	ck_assert_int_eq(ncp_ring_format(block, sizeof(block), 8, 48), -EINVAL);
	ck_assert_int_eq(ncp_ring_format(block, sizeof(block), 16, 64), -EINVAL);
	ck_assert_int_eq(ncp_ring_format(block, sizeof(block), 1, 64), -EINVAL);
	ck_assert_int_eq(ncp_ring_format(block, sizeof(block), 8, 64), 0);
	/* A reader given fewer bytes than the ring claims refuses it. */
	ck_assert_int_eq(ncp_ring_reader_init(&r, block, sizeof(block) - 64),
			 -EINVAL);
	ck_assert_int_eq(ncp_ring_reader_init(&r, block, 32), -EINVAL);
	ck_assert_int_eq(ncp_ring_writer_init(&w, block, sizeof(block) - 1),
			 -EINVAL);
	ck_assert_int_eq(ncp_ring_reader_init(&r, block, sizeof(block)), 0);
	ck_assert_uint_eq(r.slot_count, 8);
	ck_assert_uint_eq(r.slot_size, 64);
}
END_TEST

START_TEST(ring_empty_and_partial)
{
	struct ncp_ring_writer w;
	struct ncp_ring_reader r;
	struct entry out[8];
	struct ncp_ring_span s = { 99, 99 };
	void *block = new_ring(8, &w, &r);

	ck_assert_uint_eq(ncp_ring_head(&r), 0);
	ck_assert_int_eq(ncp_ring_read(&r, 0, 5, out, sizeof(out[0]), &s), 0);
	ck_assert_uint_eq(s.count, 0);
	ck_assert_uint_eq(s.first, 0);

	push_n(&w, 3);
	ck_assert_uint_eq(ncp_ring_head(&r), 3);
	ck_assert_int_eq(ncp_ring_read(&r, 0, 5, out, sizeof(out[0]), &s), 0);
	ck_assert_uint_eq(s.first, 0);
	ck_assert_uint_eq(s.count, 3);
	for (uint32_t i = 0; i < s.count; i++)
		check_entry(&out[i], s.first + i);
	/* Only the newest: max smaller than what exists. */
	ck_assert_int_eq(ncp_ring_read(&r, 0, 2, out, sizeof(out[0]), &s), 0);
	ck_assert_uint_eq(s.first, 1);
	ck_assert_uint_eq(s.count, 2);
	check_entry(&out[0], 1);
	check_entry(&out[1], 2);
	/* A shorter copy: only the first 16 bytes of each entry. */
	memset(out, 0, sizeof(out));
	ck_assert_int_eq(ncp_ring_read(&r, 0, 3, out, 16, &s), 0);
	ck_assert_uint_eq(s.count, 3);
	ck_assert_uint_eq(((uint64_t *)out)[2], 2 * 1 + 2);
	ck_assert_uint_eq(((uint64_t *)out)[3], make_entry(1).w[0]);
	free(block);
}
END_TEST

START_TEST(ring_wraps_around)
{
	struct ncp_ring_writer w;
	struct ncp_ring_reader r;
	struct entry out[8];
	struct ncp_ring_span s;
	void *block = new_ring(8, &w, &r);

	for (uint64_t total = 1; total <= 1000; total++) {
		push_n(&w, 1);
		for (uint32_t max = 1; max <= 8; max++) {
			ck_assert_int_eq(ncp_ring_read(&r, 0, max, out,
						       sizeof(out[0]), &s), 0);
			uint32_t want = total < max ? (uint32_t)total : max;
			ck_assert_uint_eq(s.count, want);
			ck_assert_uint_eq(s.first + s.count, total);
			for (uint32_t i = 0; i < s.count; i++)
				check_entry(&out[i], s.first + i);
		}
	}
	ck_assert_uint_eq(ncp_ring_head(&r), 1000);
	/* More than the ring holds is refused, not silently clamped. */
	ck_assert_int_eq(ncp_ring_read(&r, 0, 9, out, sizeof(out[0]), &s),
			 -EINVAL);
	ck_assert_int_eq(ncp_ring_read(&r, 0, 4, out, 72, &s), -EINVAL);
	ck_assert_int_eq(ncp_ring_read(&r, 0, 4, out, 12, &s), -EINVAL);
	free(block);
}
END_TEST

START_TEST(ring_reads_since)
{
	struct ncp_ring_writer w;
	struct ncp_ring_reader r;
	struct entry out[8];
	struct ncp_ring_span s;
	void *block = new_ring(8, &w, &r);

	push_n(&w, 20);
	/* Caught up but for three entries. */
	ck_assert_int_eq(ncp_ring_read(&r, 17, 6, out, sizeof(out[0]), &s), 0);
	ck_assert_uint_eq(s.first, 17);
	ck_assert_uint_eq(s.count, 3);
	check_entry(&out[2], 19);
	/* Nothing new; and a position beyond the head (e.g. a restart). */
	ck_assert_int_eq(ncp_ring_read(&r, 20, 6, out, sizeof(out[0]), &s), 0);
	ck_assert_uint_eq(s.count, 0);
	ck_assert_int_eq(ncp_ring_read(&r, 25, 6, out, sizeof(out[0]), &s), 0);
	ck_assert_uint_eq(s.count, 0);
	/* Far behind: the newest 6; the caller sees it missed 14 - 2. */
	ck_assert_int_eq(ncp_ring_read(&r, 2, 6, out, sizeof(out[0]), &s), 0);
	ck_assert_uint_eq(s.first, 14);
	ck_assert_uint_eq(s.count, 6);
	check_entry(&out[0], 14);
	free(block);
}
END_TEST

/* The writer moves during a copy: up to slots - W entries leave the copy
 * intact, one more laps it, and the reader notices. */
START_TEST(ring_detects_lapping)
{
	const uint32_t slots = 16, W = 6;
	struct ncp_ring_writer w;
	struct ncp_ring_reader r;
	struct entry out[16];
	struct ncp_ring_span s;
	void *block = new_ring(slots, &w, &r);

	push_n(&w, 20);
	s = ncp_ring_read_span(&r, 0, W);
	ck_assert_uint_eq(s.first, 14);
	ck_assert_uint_eq(s.count, W);
	ck_assert(ncp_ring_read_copy(&r, s, out, sizeof(out[0])));
	/* Entries 20 .. 29 land in slots of entries 4 .. 13: not ours. */
	push_n(&w, s.first + slots - 20);
	ck_assert(ncp_ring_read_validate(&r, s));
	for (uint32_t i = 0; i < W; i++)
		check_entry(&out[i], s.first + i);
	/* Entry 30 overwrites entry 14, the oldest of the copy. */
	push_n(&w, 1);
	ck_assert(!ncp_ring_read_validate(&r, s));

	/* Lapped before the copy started: the copy itself refuses. */
	s.first = 14;
	ck_assert(!ncp_ring_read_copy(&r, s, out, sizeof(out[0])));

	/* Lapped after the copy: it holds entries 25 and 26, whose slots
	 * entries 41 and 42 have taken since; validation refuses it. */
	s = ncp_ring_read_span(&r, 0, W); /* 25 .. 30 */
	ck_assert_uint_eq(s.first, 25);
	ck_assert(ncp_ring_read_copy(&r, s, out, sizeof(out[0])));
	push_n(&w, 12); /* entries 31 .. 42: 41 and 42 overwrite 25, 26 */
	ck_assert(!ncp_ring_read_validate(&r, s));

	/* ncp_ring_read retries with a fresh head and succeeds. */
	ck_assert_int_eq(ncp_ring_read(&r, 0, W, out, sizeof(out[0]), &s), 0);
	ck_assert_uint_eq(s.first, 43 - W);
	for (uint32_t i = 0; i < W; i++)
		check_entry(&out[i], s.first + i);
	free(block);
}
END_TEST

/* A writer stopped in the middle of entry h: readers of fewer than
 * `slots` entries never touch its slot; a reader of the whole ring cannot
 * get a clean copy and gives up with -EAGAIN after bounded retries. */
START_TEST(ring_writer_stopped_mid_write)
{
	const uint32_t slots = 8;
	struct ncp_ring_writer w;
	struct ncp_ring_reader r;
	struct entry out[8];
	struct ncp_ring_span s;
	void *block = new_ring(slots, &w, &r);
	uint64_t *slot;

	push_n(&w, 21);
	/* What ncp_ring_push does first for entry 21: mark its slot busy. */
	slot = (uint64_t *)((char *)block + 64 + (21 % slots) * 64);
	slot[0] = 2 * 21 + 1;
	ck_assert_int_eq(ncp_ring_read(&r, 0, slots - 1, out, sizeof(out[0]),
				       &s), 0);
	ck_assert_uint_eq(s.first, 14);
	check_entry(&out[slots - 2], 20);
	ck_assert_int_eq(ncp_ring_read(&r, 0, slots, out, sizeof(out[0]), &s),
			 -EAGAIN);
	ck_assert_uint_eq(s.count, 0);
	free(block);
}
END_TEST

struct block3 {
	uint64_t seq;
	uint64_t a, b, c;
};

START_TEST(seqlock_round_trip)
{
	struct block3 blk __attribute__((aligned(64))) = { 0 };
	struct block3 in = { 77, 1, 2, 3 }, out = { 0 };

	ck_assert_int_eq(ncp_seqlock_read(&blk, &out, sizeof(out)), -ENODATA);
	ncp_seqlock_write(&blk, &in, sizeof(in));
	ck_assert_uint_eq(blk.seq, 2); /* the seq field of `in` is ignored */
	ck_assert_int_eq(ncp_seqlock_read(&blk, &out, sizeof(out)), 0);
	ck_assert_uint_eq(out.seq, 2);
	ck_assert_uint_eq(out.a, 1);
	ck_assert_uint_eq(out.c, 3);
	in.c = 30;
	ncp_seqlock_write(&blk, &in, sizeof(in));
	ck_assert_int_eq(ncp_seqlock_read(&blk, &out, sizeof(out)), 0);
	ck_assert_uint_eq(out.seq, 4);
	ck_assert_uint_eq(out.c, 30);
	/* A shorter read copies only what it asks for. */
	memset(&out, 0, sizeof(out));
	ck_assert_int_eq(ncp_seqlock_read(&blk, &out, 16), 0);
	ck_assert_uint_eq(out.a, 1);
	ck_assert_uint_eq(out.b, 0);
}
END_TEST

START_TEST(seqlock_detects_overlap)
{
	struct block3 blk __attribute__((aligned(64))) = { 0 };
	struct block3 in = { 0, 1, 2, 3 }, out;
	uint64_t seq;

	ncp_seqlock_write(&blk, &in, sizeof(in));
	/* A write between begin and the end of the copy. */
	seq = ncp_seqlock_read_begin(&blk);
	ck_assert_uint_eq(seq, 2);
	in.a = 10;
	ncp_seqlock_write(&blk, &in, sizeof(in));
	ncp_seqlock_read_copy(&blk, &out, sizeof(out));
	ck_assert(ncp_seqlock_read_retry(&blk, seq));
	/* No write: no retry. */
	seq = ncp_seqlock_read_begin(&blk);
	ncp_seqlock_read_copy(&blk, &out, sizeof(out));
	ck_assert(!ncp_seqlock_read_retry(&blk, seq));
	ck_assert_uint_eq(out.a, 10);
	/* A writer stuck mid-write (odd seq): bounded retries, -EAGAIN. */
	blk.seq = 5;
	ck_assert(ncp_seqlock_read_retry(&blk, 5));
	ck_assert_int_eq(ncp_seqlock_read(&blk, &out, sizeof(out)), -EAGAIN);
	/* It resumes: the next write makes it even again. */
	blk.seq = 4;
	ncp_seqlock_write(&blk, &in, sizeof(in));
	ck_assert_int_eq(ncp_seqlock_read(&blk, &out, sizeof(out)), 0);
	ck_assert_uint_eq(out.seq, 6);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tcase_create("ring");

	tcase_add_test(tc, ring_geometry_is_checked);
	tcase_add_test(tc, ring_empty_and_partial);
	tcase_add_test(tc, ring_wraps_around);
	tcase_add_test(tc, ring_reads_since);
	tcase_add_test(tc, ring_detects_lapping);
	tcase_add_test(tc, ring_writer_stopped_mid_write);
	tcase_add_test(tc, seqlock_round_trip);
	tcase_add_test(tc, seqlock_detects_overlap);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
