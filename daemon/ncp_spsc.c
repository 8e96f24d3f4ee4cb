#include "daemon/ncp_spsc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"

struct ncp_spsc *ncp_spsc_new(size_t capacity, size_t rec_size)
{
	struct ncp_spsc *q;

	if (capacity < 2 || (capacity & (capacity - 1)) || rec_size == 0 ||
	    rec_size > SIZE_MAX / 2 / capacity) {
		errno = EINVAL;
		return NULL;
	}
	q = ncp_calloc_aligned(1, sizeof(*q));
	if (!q)
		goto fail;
	q->mask = capacity - 1;
	q->rec_size = rec_size;
	/* Slots 16-byte aligned, whatever the record size. */
	q->stride = (rec_size + 15) & ~(size_t)15;
	q->slots = ncp_calloc_aligned(capacity, q->stride);
	if (!q->slots)
		goto fail_slots;
	atomic_init(&q->head, 0);
	atomic_init(&q->tail, 0);
	atomic_init(&q->drops, 0);
	q->tail_seen = 0;
	q->head_seen = 0;
	return q;

fail_slots:
	free(q);
fail:
	errno = ENOMEM;
	return NULL;
}

void ncp_spsc_free(struct ncp_spsc *q)
{
	if (!q)
		return;
	free(q->slots);
	free(q);
}

bool ncp_spsc_try_push(struct ncp_spsc *q, const void *rec)
{
	/* Only the producer writes head. */
	uint64_t head = atomic_load_explicit(&q->head, memory_order_relaxed);

	if (head - q->tail_seen > q->mask) {
		/* Acquire pairs with the release store of tail in try_pop:
		 * the consumer has finished copying out of the slot we are
		 * about to overwrite. */
		q->tail_seen = atomic_load_explicit(&q->tail,
						    memory_order_acquire);
		if (head - q->tail_seen > q->mask) {
			/* Only the producer writes drops. */
			atomic_store_explicit(
				&q->drops,
				atomic_load_explicit(&q->drops,
						     memory_order_relaxed) + 1,
				memory_order_relaxed);
			return false;
		}
	}
	memcpy(q->slots + (head & q->mask) * q->stride, rec, q->rec_size);
	/* Release pairs with the acquire load of head in try_pop: the
	 * record's bytes are visible before the index that publishes them. */
	atomic_store_explicit(&q->head, head + 1, memory_order_release);
	return true;
}

bool ncp_spsc_try_pop(struct ncp_spsc *q, void *rec)
{
	/* Only the consumer writes tail. */
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);

	if (tail == q->head_seen) {
		/* Acquire pairs with the release store of head in try_push:
		 * the record is complete before we read it. */
		q->head_seen = atomic_load_explicit(&q->head,
						    memory_order_acquire);
		if (tail == q->head_seen)
			return false;
	}
	memcpy(rec, q->slots + (tail & q->mask) * q->stride, q->rec_size);
	/* Release pairs with the acquire load of tail in try_push: our copy
	 * is done before the producer may reuse the slot. */
	atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
	return true;
}

size_t ncp_spsc_capacity(const struct ncp_spsc *q)
{
	return (size_t)q->mask + 1;
}

size_t ncp_spsc_count(struct ncp_spsc *q)
{
	/* Tail first: head read afterwards is at least as new, so the
	 * difference never underflows.  Acquire pairs with the release
	 * stores in try_pop (tail) and try_push (head); a reader on a third
	 * thread only gets a recent value. */
	uint64_t tail = atomic_load_explicit(&q->tail, memory_order_acquire);
	uint64_t head = atomic_load_explicit(&q->head, memory_order_acquire);

	return (size_t)(head - tail);
}

uint64_t ncp_spsc_drops(struct ncp_spsc *q)
{
	return atomic_load_explicit(&q->drops, memory_order_relaxed);
}
