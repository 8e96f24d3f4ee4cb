/* ncp_follow: when the loop's next step is due, for a thread that follows
 * the window ring in real time (the emulator's and the co-processor's).
 *
 * The loop publishes step k at grid + k * period at the earliest; grid is
 * estimated as the lowest t_ns - k * period over the last
 * NCP_FOLLOW_GRID_STEPS published steps (a pause or a re-anchored clock
 * moves it; a late step or a stall does not).  A follower sleeps until
 * shortly before the next step is due (so the phase never drifts and a
 * late step does not shift it) and then watches the ring without sleeping
 * for a bounded time (a wake-up costs tens of microseconds).
 *
 * One thread owns a struct ncp_follow; it allocates one slot copy at init
 * and nothing afterwards.
 */
#ifndef NCP_FOLLOW_H
#define NCP_FOLLOW_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shm/ncp_shm_reader.h"

#define NCP_FOLLOW_GRID_STEPS 128
#define NCP_FOLLOW_LEAD_NS 60000ull	/* wake this long before a step is due */
#define NCP_FOLLOW_SPIN_NS 300000ull	/* then watch for it this long past due */

struct ncp_follow {
	const struct ncp_shm_reader *reader;
	size_t stride;
	uint8_t *slot;			/* one slot copy */
	int64_t period;			/* ns */
	uint64_t seen;			/* steps looked at */
	int64_t grid;
	int64_t off[NCP_FOLLOW_GRID_STEPS];
	uint32_t n;
	bool have;
};

/* 0 or -ENOMEM. */
int ncp_follow_init(struct ncp_follow *f, const struct ncp_shm_reader *r,
		    double dt);
void ncp_follow_fini(struct ncp_follow *f);
/* Learn the schedule from the newest published step (head - 1). */
void ncp_follow_update(struct ncp_follow *f, uint64_t head);
/* With `head` steps published: true when step `head` is due within
 * NCP_FOLLOW_LEAD_NS or was due less than NCP_FOLLOW_SPIN_NS ago (watch
 * the ring); else false and *wake is when to look again (CLOCK_MONOTONIC
 * ns): shortly before it is due, or in 20 us when the schedule is not
 * known yet or the due time is far off. */
bool ncp_follow_watch(const struct ncp_follow *f, uint64_t head, uint64_t now,
		      uint64_t *wake);
/* Sleep until `wake` (CLOCK_MONOTONIC, absolute). */
void ncp_follow_sleep(uint64_t wake);

/* A follower's state shared with the loop's fallback: one word, claim =
 * next << 2 | holder, next the first step not taken yet, holder
 * NCP_FOLLOW_FREE or who holds it.  A thread takes it from
 * (next << 2 | FREE) and gives it back with the step it reached; the
 * holder is the only thread that uses the state. */
#define NCP_FOLLOW_FREE 0u
#define NCP_FOLLOW_THREAD 1u	/* the follower's own thread */
#define NCP_FOLLOW_LOOP 2u	/* the loop, covering for it */
#define NCP_FOLLOW_HOLDER 3u

/* Take the state seen as c as `who`; false when another thread holds it
 * or took it first. */
static inline bool ncp_follow_claim_take(_Atomic uint64_t *claim, uint64_t c,
					 unsigned who)
{
	if (c & NCP_FOLLOW_HOLDER)
		return false;
	/* Acquire: pairs with the release store in ncp_follow_claim_give()
	 * by the previous holder, whose writes to the state we are about to
	 * use. */
	return atomic_compare_exchange_strong_explicit(
		claim, &c, c | who, memory_order_acquire, memory_order_relaxed);
}

/* Give the state back; `next` says which step comes next. */
static inline void ncp_follow_claim_give(_Atomic uint64_t *claim,
					 uint64_t next)
{
	/* Release: publishes the state to the next holder; pairs with the
	 * acquire compare-exchange in ncp_follow_claim_take(). */
	atomic_store_explicit(claim, next << 2 | NCP_FOLLOW_FREE,
			      memory_order_release);
}

/* Models handed back by the thread that adopted a newer one, for the
 * offering thread to free: two places, emptied by every offer before it
 * publishes its model.  Between two offers' emptying the adopting thread
 * retires at most two models (the previous offer's, when it adopts it
 * after this offer emptied the places but before this offer replaced it,
 * and this offer's), so a place is always free. */
struct ncp_retired {
	_Atomic(void *) place[2];
};

/* The adopting thread: hand `old` back (NULL: nothing). */
void ncp_retired_put(struct ncp_retired *r, void *old);
/* The offering thread: take one handed-back model, or NULL. */
void *ncp_retired_take(struct ncp_retired *r);

#endif
