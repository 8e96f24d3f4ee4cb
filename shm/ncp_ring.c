#include "shm/ncp_ring.h"

#include <errno.h>
#include <string.h>

#include "shm/ncp_shm.h"
#include "shm/ncp_word_int.h"

_Static_assert(NCP_RING_HDR_SIZE == sizeof(struct ncp_shm_ring), "header");

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static int check_geometry(uint32_t slot_count, uint32_t slot_size,
			  size_t size)
{
	if (!is_pow2(slot_count) || slot_count < 2)
		return -EINVAL;
	if (slot_size < NCP_SHM_ALIGN || slot_size % NCP_SHM_ALIGN)
		return -EINVAL;
	if (size < NCP_RING_HDR_SIZE ||
	    slot_count > (size - NCP_RING_HDR_SIZE) / slot_size)
		return -EINVAL;
	return 0;
}

/* Slot count and size from a ring header: word 1, loaded atomically like
 * every word of a live segment (the head next to it is being written). */
static void read_geometry(const void *block, struct ncp_shm_ring *hdr)
{
	uint64_t g = ncp_word_load((const uint64_t *)block + 1);

	memcpy(&hdr->slot_count, (const char *)&g, 4);
	memcpy(&hdr->slot_size, (const char *)&g + 4, 4);
}

size_t ncp_ring_block_size(uint32_t slot_count, uint32_t slot_size)
{
	return NCP_RING_HDR_SIZE + (size_t)slot_count * slot_size;
}

int ncp_ring_format(void *block, size_t size, uint32_t slot_count,
		    uint32_t slot_size)
{
	struct ncp_shm_ring hdr = {
		.head = 0,
		.slot_count = slot_count,
		.slot_size = slot_size,
	};
	int rc = check_geometry(slot_count, slot_size, size);

	if (rc)
		return rc;
	/* Not yet visible to readers: the segment publishes it later. */
	memcpy(block, &hdr, sizeof(hdr));
	return 0;
}

int ncp_ring_writer_init(struct ncp_ring_writer *w, void *block, size_t size)
{
	struct ncp_shm_ring hdr;
	int rc;

	if (size < sizeof(hdr))
		return -EINVAL;
	read_geometry(block, &hdr);
	rc = check_geometry(hdr.slot_count, hdr.slot_size, size);
	if (rc)
		return rc;
	w->words = block;
	w->slots = (unsigned char *)block + NCP_RING_HDR_SIZE;
	w->head = ncp_word_load(&w->words[0]); /* our own word */
	w->mask = hdr.slot_count - 1;
	w->slot_count = hdr.slot_count;
	w->slot_size = hdr.slot_size;
	return 0;
}

void ncp_ring_push(struct ncp_ring_writer *w, const void *entry, size_t len)
{
	uint64_t k = w->head;
	uint64_t *slot = (uint64_t *)(w->slots + (k & w->mask) * w->slot_size);
	const unsigned char *src = entry;
	size_t n = len / 8;

	ncp_word_store(&slot[0], 2 * k + 1);
	for (size_t i = 1; i < n; i++) {
		uint64_t v;
		memcpy(&v, src + 8 * i, 8);
		/* Release: orders the odd sequence word before this word;
		 * pairs with the acquire load of this word in
		 * ncp_ring_read_copy(). */
		ncp_word_store_release(&slot[i], v);
	}
	/* Publishes the payload with the even sequence word; pairs with the
	 * acquire load of the sequence word in ncp_ring_read_copy(). */
	ncp_word_store_release(&slot[0], 2 * k + 2);
	w->head = k + 1;
	/* Publishes the entry count; pairs with the acquire load in
	 * ncp_ring_head(). */
	ncp_word_store_release(&w->words[0], k + 1);
}

int ncp_ring_reader_init(struct ncp_ring_reader *r, const void *block,
			 size_t size)
{
	struct ncp_shm_ring hdr;
	int rc;

	if (size < sizeof(hdr))
		return -EINVAL;
	read_geometry(block, &hdr);
	rc = check_geometry(hdr.slot_count, hdr.slot_size, size);
	if (rc)
		return rc;
	r->words = block;
	r->slots = (const unsigned char *)block + NCP_RING_HDR_SIZE;
	r->mask = hdr.slot_count - 1;
	r->slot_count = hdr.slot_count;
	r->slot_size = hdr.slot_size;
	return 0;
}

uint64_t ncp_ring_head(const struct ncp_ring_reader *r)
{
	/* Pairs with the release store of the head in ncp_ring_push(). */
	return ncp_word_load_acquire(&r->words[0]);
}

static inline const uint64_t *slot_of(const struct ncp_ring_reader *r,
				      uint64_t k)
{
	return (const uint64_t *)(r->slots + (k & r->mask) * r->slot_size);
}

/* Words 1 .. n-1 of a slot into out, four at a time where it can. */
static inline void copy_payload(unsigned char *out, const uint64_t *slot,
				size_t n)
{
	size_t i = 1;

	/* Each load pairs with the release store of its word in
	 * ncp_ring_push(): a word of a later entry brings that entry's odd
	 * sequence word with it, which ncp_ring_read_validate() then sees. */
	for (; i + 4 <= n; i += 4) {
		uint64_t a = ncp_word_load_acquire(&slot[i]);
		uint64_t b = ncp_word_load_acquire(&slot[i + 1]);
		uint64_t c = ncp_word_load_acquire(&slot[i + 2]);
		uint64_t d = ncp_word_load_acquire(&slot[i + 3]);

		memcpy(out + 8 * i, &a, 8);
		memcpy(out + 8 * i + 8, &b, 8);
		memcpy(out + 8 * i + 16, &c, 8);
		memcpy(out + 8 * i + 24, &d, 8);
	}
	for (; i < n; i++) {
		uint64_t v = ncp_word_load_acquire(&slot[i]);
		memcpy(out + 8 * i, &v, 8);
	}
}

struct ncp_ring_span ncp_ring_read_span(const struct ncp_ring_reader *r,
					uint64_t since, uint32_t max)
{
	uint64_t head = ncp_ring_head(r);
	uint64_t first;

	if (max > r->slot_count)
		max = r->slot_count;
	first = head > max ? head - max : 0;
	if (first < since)
		first = since;
	return (struct ncp_ring_span){
		.first = first,
		.count = first < head ? (uint32_t)(head - first) : 0,
	};
}

bool ncp_ring_read_copy(const struct ncp_ring_reader *r,
			struct ncp_ring_span span, void *dst, size_t elem_size)
{
	unsigned char *out = dst;
	size_t n = elem_size / 8;

	for (uint32_t j = 0; j < span.count; j++) {
		uint64_t k = span.first + j;
		const uint64_t *slot = slot_of(r, k);
		/* Pairs with the release store of 2k+2 in ncp_ring_push(): the
		 * payload of entry k is visible below. */
		uint64_t seq = ncp_word_load_acquire(&slot[0]);

		if (seq != 2 * k + 2)
			return false;
		memcpy(out, &seq, 8);
		copy_payload(out, slot, n);
		out += elem_size;
	}
	return true;
}

bool ncp_ring_read_validate(const struct ncp_ring_reader *r,
			    struct ncp_ring_span span)
{
	/* Relaxed reloads suffice: the acquire payload loads in
	 * ncp_ring_read_copy() already order them after the copy. */
	for (uint32_t j = 0; j < span.count; j++) {
		uint64_t k = span.first + j;

		if (ncp_word_load(&slot_of(r, k)[0]) != 2 * k + 2)
			return false;
	}
	return true;
}


int ncp_ring_read(const struct ncp_ring_reader *r, uint64_t since,
		  uint32_t max, void *dst, size_t elem_size,
		  struct ncp_ring_span *span)
{
	if (max > r->slot_count || elem_size % 8 || elem_size < 8 ||
	    elem_size > r->slot_size)
		return -EINVAL;
	for (int t = 0; t < NCP_RING_READ_TRIES; t++) {
		struct ncp_ring_span s = ncp_ring_read_span(r, since, max);

		if (ncp_ring_read_copy(r, s, dst, elem_size) &&
		    ncp_ring_read_validate(r, s)) {
			*span = s;
			return 0;
		}
		ncp_word_relax();
	}
	span->first = 0;
	span->count = 0;
	return -EAGAIN;
}
