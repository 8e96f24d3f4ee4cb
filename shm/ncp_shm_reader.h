/* ncp_shm_reader: attach to ncpd's shared-memory segment and read it.
 *
 * For ncp-monitor, the tests, any client, and the daemon's own emulator
 * thread (ncp_shm_reader_from_mem on the writer's mapping).  A reader
 * never writes to the segment: it maps it read-only (O_RDONLY, PROT_READ),
 * so it cannot disturb the loop, and it can be killed at any moment.
 *
 * Attaching validates everything a read relies on (magic, ABI major
 * version, sizes, block offsets and ring geometry against the segment
 * size) once, and keeps a private copy of the header; a foreign,
 * truncated or corrupt segment is refused with a message, never read out
 * of bounds.  (A segment truncated by someone else after attaching would
 * still raise SIGBUS: ncpd never does that.)
 *
 * Reads are lock-free copies: the rings with the ring rule (ncp_ring.h),
 * the state, predicted and stats blocks with the seqlock rule
 * (ncp_seqlock.h).  A read that keeps racing the writer returns -EAGAIN:
 * try again later.  Functions taking a reader are safe to call from
 * several threads at once.
 */
#ifndef NCP_SHM_READER_H
#define NCP_SHM_READER_H

#include <stddef.h>
#include <stdint.h>

#include "shm/ncp_ring.h"
#include "shm/ncp_shm.h"

struct ncp_shm_reader;

/* What became of the daemon that made an attached segment. */
enum ncp_shm_liveness {
	NCP_SHM_LIVE = 0,     /* running (or starting) */
	NCP_SHM_STOPPED = 1,  /* it marked the segment stopped (clean exit) */
	NCP_SHM_DEAD = 2,     /* its process is gone without stopping */
	NCP_SHM_REPLACED = 3, /* the name now holds another segment (another
			       * generation): a new daemon, re-attach */
};

/* Attach read-only to the segment `name` (NULL: NCP_SHM_DEFAULT_NAME).
 * Returns NULL with a message in err and errno set (ENOENT: no such
 * segment; EPROTO: not a valid ncpd segment of our ABI major version). */
struct ncp_shm_reader *ncp_shm_reader_open(const char *name, char *err,
					   size_t errlen);

/* Read a segment already mapped in this process (size bytes at base), for
 * the daemon's own threads and for tests.  The mapping must outlive the
 * reader.  Same validation and errors as ncp_shm_reader_open. */
struct ncp_shm_reader *ncp_shm_reader_from_mem(const void *base, size_t size,
					       char *err, size_t errlen);

/* Detach (unmaps what ncp_shm_reader_open mapped).  NULL is a no-op. */
void ncp_shm_reader_free(struct ncp_shm_reader *r);

/* The validated header as it was at attach time (the state word in it is
 * not kept up to date: see ncp_shm_reader_liveness). */
const struct ncp_shm_header *ncp_shm_reader_header(const struct ncp_shm_reader *r);

/* The read-only mapping and its size. */
const void *ncp_shm_reader_base(const struct ncp_shm_reader *r);
size_t ncp_shm_reader_size(const struct ncp_shm_reader *r);

/* Current header state word (enum ncp_shm_state_word). */
uint32_t ncp_shm_reader_state_word(const struct ncp_shm_reader *r);

/* Check whether the daemon still runs and the name still points here.
 * Does a few syscalls (kill(pid, 0), shm_open, fstat, pread): call it at
 * most a few times a second.  Returns enum ncp_shm_liveness. */
int ncp_shm_reader_liveness(const struct ncp_shm_reader *r);

/* Steps written to the window so far (step numbers run 0 .. head-1). */
uint64_t ncp_shm_reader_head(const struct ncp_shm_reader *r);

/* Bytes between window slot copies in a caller's buffer: the slot header,
 * stimulation and m1_words bitset words, and from ABI 1.4 the step's
 * observation (ncp_shm_win_obs_copy_size; read it with ncp_shm_win_obs). */
size_t ncp_shm_reader_window_stride(const struct ncp_shm_reader *r);

/* Snapshot the newest `w` steps (at most window_slots -
 * NCP_SHM_WINDOW_MARGIN) into
 * buf (buflen >= w * stride bytes): slot copies, oldest first, read with
 * ncp_shm_win_at().  The span says which steps it holds: first and count
 * (count < w only while fewer than w steps exist).  Returns 0, -EAGAIN
 * (lapped every try), -EINVAL (bad w or buffer too small). */
int ncp_shm_reader_window(const struct ncp_shm_reader *r, uint32_t w,
			  void *buf, size_t buflen, struct ncp_ring_span *span);

/* The newest steps >= since, at most max of them: for a follower that
 * remembers the next step it wants.  span.first > since means steps were
 * missed (span.first - since of them); count 0 means nothing new. */
int ncp_shm_reader_window_since(const struct ncp_shm_reader *r, uint64_t since,
				uint32_t max, void *buf, size_t buflen,
				struct ncp_ring_span *span);

/* Consistent copies of the seqlock blocks.  Return 0, -ENODATA (never
 * written yet) or -EAGAIN (a write stayed in progress: try later). */
int ncp_shm_reader_state(const struct ncp_shm_reader *r,
			 struct ncp_shm_state *out);
int ncp_shm_reader_predicted(const struct ncp_shm_reader *r,
			     struct ncp_shm_predicted *out);
int ncp_shm_reader_stats(const struct ncp_shm_reader *r,
			 struct ncp_shm_stats *out);

/* The stim block (ABI 1.3): its bytes (ncp_shm_stim_size of the header's
 * stim_electrodes), 0 when the writer is older than 1.3.  _stim copies it
 * into buf (buflen >= that, NCP_SHM_STIM_MAX_SIZE always is; read it as
 * struct ncp_shm_stim: theta = v[0 .. E-1], alpha = v[E .. 2E-1]).
 * Returns 0, -ENODATA (never written, or no such block), -EAGAIN, or
 * -EINVAL (buffer too small). */
size_t ncp_shm_reader_stim_size(const struct ncp_shm_reader *r);
int ncp_shm_reader_stim(const struct ncp_shm_reader *r, void *buf,
			size_t buflen);

/* The co-processor block (ABI 1.4).  Returns 0, -ENODATA (never written,
 * or a writer older than 1.4) or -EAGAIN. */
int ncp_shm_reader_ncp(const struct ncp_shm_reader *r, struct ncp_shm_ncp *out);
/* The name of a stim.source value (enum ncp_shm_stim_source). */
const char *ncp_shm_stim_source_name(uint32_t source);
/* The arm and training histories: the newest entries with index >= since
 * (entry index = order of writing, from 0), at most max (<= the ring's
 * slots) into out[].  Same returns as ncp_shm_reader_window_since. */
int ncp_shm_reader_arm(const struct ncp_shm_reader *r, uint64_t since,
		       uint32_t max, struct ncp_shm_arm_entry *out,
		       struct ncp_ring_span *span);
int ncp_shm_reader_train(const struct ncp_shm_reader *r, uint64_t since,
			 uint32_t max, struct ncp_shm_train_entry *out,
			 struct ncp_ring_span *span);

#endif
