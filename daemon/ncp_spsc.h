/* ncp_spsc: a lock-free single-producer single-consumer queue of
 * fixed-size records, for any hand-off where one side must never wait.
 * It carries commands to the RT loop (one queue each from the control
 * thread and the main thread, applied at step boundaries) and each step's
 * record from the RT loop to the recorder thread.
 *
 * Contract
 * - One producer thread calls ncp_spsc_try_push, one consumer thread calls
 *   ncp_spsc_try_pop.  Either role may move to another thread only through
 *   a happens-before hand-off (thread start or join, a mutex).
 * - Neither call blocks, allocates, or makes a system call.  try_push
 *   fails when the queue is full: the record is not queued and the drop
 *   is counted (ncp_spsc_drops); the producer is never held up by a slow
 *   consumer.  try_pop fails when the queue is empty.
 * - Records come out in the order they went in, each exactly as it was
 *   pushed (never torn); nothing is lost but the counted drops.
 * - The capacity is a power of two; head and tail are 64-bit
 *   free-running counters (2^64 records never wrap in practice), so
 *   head - tail is the fill level and the slot is index & (capacity - 1).
 * - ncp_spsc_new and ncp_spsc_free allocate and free: start-up and
 *   shut-down only.  The slots are zeroed at creation, so their pages are
 *   touched before the RT loop runs.
 * - ncp_spsc_count, ncp_spsc_drops: from any thread, a recent value.
 */
#ifndef NCP_SPSC_H
#define NCP_SPSC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ncp_spsc {
	/* The producer's cache line. */
	_Alignas(64) _Atomic uint64_t head; /* next slot to fill */
	uint64_t tail_seen;		    /* the producer's last view of tail */
	_Atomic uint64_t drops;		    /* refused pushes */
	/* The consumer's cache line. */
	_Alignas(64) _Atomic uint64_t tail; /* next slot to empty */
	uint64_t head_seen;		    /* the consumer's last view of head */
	/* Read-only after creation. */
	_Alignas(64) uint64_t mask;	    /* capacity - 1 */
	size_t rec_size, stride;
	unsigned char *slots;
};

/* A queue of `capacity` records of `rec_size` bytes each.  NULL with errno
 * EINVAL when capacity is not a power of two >= 2 or rec_size is 0, ENOMEM
 * when out of memory.  Free with ncp_spsc_free. */
struct ncp_spsc *ncp_spsc_new(size_t capacity, size_t rec_size);
void ncp_spsc_free(struct ncp_spsc *q);

/* Producer: copy rec_size bytes from rec into the queue.  false (and one
 * more drop counted) when full. */
bool ncp_spsc_try_push(struct ncp_spsc *q, const void *rec);

/* Consumer: copy the oldest record into rec.  false when empty. */
bool ncp_spsc_try_pop(struct ncp_spsc *q, void *rec);

size_t ncp_spsc_capacity(const struct ncp_spsc *q);
/* Records waiting; exact from the producer or consumer thread when the
 * other side is idle, a recent value otherwise. */
size_t ncp_spsc_count(struct ncp_spsc *q);
uint64_t ncp_spsc_drops(struct ncp_spsc *q);

#endif
