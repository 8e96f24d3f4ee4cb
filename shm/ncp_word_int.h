/* ncp_word: 64-bit shared words of the segment, accessed only atomically.
 *
 * The ABI structs (ncp_shm.h) declare shared words as uint64_t so that any
 * language can read the layout; inside shm/ every load or store of a word
 * another thread or process may touch at the same time goes through these
 * (plain moves on x86-64, but defined behaviour and visible to
 * ThreadSanitizer).  Internal to shm/. */
#ifndef NCP_WORD_INT_H
#define NCP_WORD_INT_H

#include <stdatomic.h>
#include <stdint.h>

_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "an atomic u64 is a plain word");
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");

static inline uint64_t ncp_word_load(const uint64_t *p)
{
	return atomic_load_explicit((const _Atomic uint64_t *)p,
				    memory_order_relaxed);
}

static inline uint64_t ncp_word_load_acquire(const uint64_t *p)
{
	return atomic_load_explicit((const _Atomic uint64_t *)p,
				    memory_order_acquire);
}

static inline void ncp_word_store(uint64_t *p, uint64_t v)
{
	atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_relaxed);
}

static inline void ncp_word_store_release(uint64_t *p, uint64_t v)
{
	atomic_store_explicit((_Atomic uint64_t *)p, v, memory_order_release);
}

/* A spin-wait hint between read attempts. */
#if defined(__x86_64__) || defined(__i386__)
static inline void ncp_word_relax(void)
{
	__builtin_ia32_pause();
}
#else
static inline void ncp_word_relax(void)
{
}
#endif

#endif
