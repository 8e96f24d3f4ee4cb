#include "shm/ncp_shm_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/base/ncp_base.h"
#include "shm/ncp_seqlock.h"
#include "shm/ncp_word_int.h"

struct ncp_shm_reader {
	const unsigned char *base;
	size_t size;     /* segment_size, validated */
	size_t map_size; /* bytes we mapped; 0 for ncp_shm_reader_from_mem */
	struct ncp_shm_header hdr;
	struct ncp_ring_reader win, arm, train;
	const uint64_t *state_blk, *pred_blk, *stats_blk;
	const uint64_t *stim_blk;	/* NULL: a writer older than 1.3 */
	const uint64_t *ncp_blk;	/* NULL: a writer older than 1.4 */
	size_t stim_size;
	size_t win_stride;
	dev_t dev;
	ino_t ino;
	char name[NAME_MAX + 1]; /* empty for ncp_shm_reader_from_mem */
};

/* Copy n bytes (a multiple of 8) of live shared words. */
static void copy_words(void *dst, const unsigned char *src, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = ncp_word_load((const uint64_t *)(src + i));
		memcpy((unsigned char *)dst + i, &v, 8);
	}
}

/* A block's table entry is sane: aligned, inside the segment after the
 * header, at least min bytes. */
static bool block_ok(const struct ncp_shm_header *h, int i, size_t min)
{
	const struct ncp_shm_block *b = &h->blocks[i];

	return b->offset % NCP_SHM_ALIGN == 0 && b->offset >= h->header_size &&
	       b->offset <= h->segment_size &&
	       b->size <= h->segment_size - b->offset && b->size >= min;
}

static const char *block_name(int i)
{
	static const char *const names[NCP_SHM_BLK_COUNT_1_4] = {
		"window", "state", "predicted", "arm", "stats", "train", "stim",
		"ncp",
	};
	return names[i];
}

/* Attach a ring reader to block i and check its geometry against the
 * header's: slot count `slots`, slots of at least min_slot bytes. */
static int ring_ok(struct ncp_ring_reader *ring, const unsigned char *base,
		   const struct ncp_shm_header *h, int i, uint32_t slots,
		   size_t min_slot)
{
	const struct ncp_shm_block *b = &h->blocks[i];

	if (ncp_ring_reader_init(ring, base + b->offset, b->size))
		return -1;
	if (ring->slot_count != slots || ring->slot_size < min_slot)
		return -1;
	return 0;
}

/* Validate the segment at base (size bytes readable) and fill r.
 * `what` names it in messages. */
static int validate(struct ncp_shm_reader *r, const unsigned char *base,
		    size_t size, const char *what, char *err, size_t errlen)
{
	struct ncp_shm_header *h = &r->hdr;
	size_t win_copy;
	uint64_t magic, want;

	if (size < 64)
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: %zu bytes, too small for an ncpd segment",
			    what, size);
	memcpy(&want, NCP_SHM_MAGIC, 8);
	/* Pairs with the release store of the magic in the writer's
	 * fill_segment(): the header and blocks below are filled. */
	magic = ncp_word_load_acquire((const uint64_t *)base);
	if (magic == 0)
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: not initialized (being created, or its "
			    "creator crashed)", what);
	if (magic != want)
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: not an ncpd segment (bad magic)", what);
	memset(h, 0, sizeof(*h));
	copy_words(h, base, 64);
	if (h->abi_major != NCP_SHM_ABI_MAJOR &&
	    h->abi_major != NCP_SHM_ABI_MAJOR_3J)
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: ABI version %u.%u, this program reads %d.x "
			    "(2-joint arm) and %d.x (3-joint arm)",
			    what, h->abi_major, h->abi_minor,
			    NCP_SHM_ABI_MAJOR, NCP_SHM_ABI_MAJOR_3J);
	if (h->header_size < sizeof(*h) || h->header_size > size ||
	    h->header_size % 8)
		return ncp_errf_code(err, errlen, EPROTO, "%s: bad header size %u",
			    what, h->header_size);
	copy_words(h, base, sizeof(*h));
	if (h->segment_size > size)
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: truncated: %zu bytes, its header says %llu",
			    what, size, (unsigned long long)h->segment_size);
	if (h->segment_size < h->header_size)
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: segment size %llu smaller than its header",
			    what, (unsigned long long)h->segment_size);
	if (h->pid <= 0)
		return ncp_errf_code(err, errlen, EPROTO, "%s: bad pid %d", what,
			    (int)h->pid);
	if (!(isfinite(h->dt) && h->dt > 0))
		return ncp_errf_code(err, errlen, EPROTO, "%s: bad dt %g", what, h->dt);
	if (h->m1_neurons < 1 || h->m1_neurons > NCP_SHM_MAX_NEURONS ||
	    h->m1_words != ncp_shm_win_words(h->m1_neurons))
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: bad M1 size: %u neurons in %u words", what,
			    h->m1_neurons, h->m1_words);
	if (ncp_shm_joints(h) != (h->abi_major == NCP_SHM_ABI_MAJOR_3J ? 3u : 2u))
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: ABI %u.%u with an arm of %u joints", what,
			    h->abi_major, h->abi_minor, ncp_shm_joints(h));
	win_copy = ncp_shm_win_copy_size(h->m1_neurons);
	/* The observation (1.4) right after the bitset; copies include it. */
	if (h->obs_offset) {
		if (h->obs_offset != win_copy || h->rec_electrodes < 1 ||
		    h->rec_electrodes > NCP_SHM_MAX_ELECTRODES ||
		    h->stim_electrodes > NCP_SHM_MAX_ELECTRODES)
			return ncp_errf_code(err, errlen, EPROTO,
				    "%s: bad window observation: at byte %u, %u "
				    "recording and %u stimulation electrodes",
				    what, h->obs_offset, h->rec_electrodes,
				    h->stim_electrodes);
		win_copy = ncp_shm_win_stride(h);
	}
	if (h->window_len < 1 || h->window_slots > (1u << 24) ||
	    h->window_slots < h->window_len + NCP_SHM_WINDOW_MARGIN ||
	    h->window_slot_size < win_copy)
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: bad window: %u steps in %u slots of %u bytes",
			    what, h->window_len, h->window_slots,
			    h->window_slot_size);
	if (h->stim_channels != NCP_SHM_STIM_CHANNELS)
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: %u stimulation channels, expected %d", what,
			    h->stim_channels, NCP_SHM_STIM_CHANNELS);
	if (h->block_count < NCP_SHM_BLK_COUNT ||
	    h->block_count > NCP_SHM_MAX_BLOCKS)
		return ncp_errf_code(err, errlen, EPROTO, "%s: %u blocks, expected %d",
			    what, h->block_count, NCP_SHM_BLK_COUNT);

	size_t mins[NCP_SHM_BLK_COUNT] = {
		[NCP_SHM_BLK_WINDOW] = NCP_RING_HDR_SIZE,
		[NCP_SHM_BLK_STATE] = sizeof(struct ncp_shm_state),
		[NCP_SHM_BLK_PREDICTED] = sizeof(struct ncp_shm_predicted),
		[NCP_SHM_BLK_ARM] = NCP_RING_HDR_SIZE,
		[NCP_SHM_BLK_STATS] = sizeof(struct ncp_shm_stats),
		[NCP_SHM_BLK_TRAIN] = NCP_RING_HDR_SIZE,
	};
	for (int i = 0; i < NCP_SHM_BLK_COUNT; i++)
		if (!block_ok(h, i, mins[i]))
			return ncp_errf_code(err, errlen, EPROTO,
				    "%s: %s block at %llu, %llu bytes: outside "
				    "the %llu-byte segment, misaligned or too "
				    "small", what, block_name(i),
				    (unsigned long long)h->blocks[i].offset,
				    (unsigned long long)h->blocks[i].size,
				    (unsigned long long)h->segment_size);
	if (ring_ok(&r->win, base, h, NCP_SHM_BLK_WINDOW, h->window_slots,
		    win_copy) ||
	    r->win.slot_size != h->window_slot_size)
		return ncp_errf_code(err, errlen, EPROTO, "%s: bad window ring", what);
	if (ring_ok(&r->arm, base, h, NCP_SHM_BLK_ARM, h->arm_slots,
		    sizeof(struct ncp_shm_arm_entry)))
		return ncp_errf_code(err, errlen, EPROTO, "%s: bad arm history ring",
			    what);
	if (ring_ok(&r->train, base, h, NCP_SHM_BLK_TRAIN, h->train_slots,
		    sizeof(struct ncp_shm_train_entry)))
		return ncp_errf_code(err, errlen, EPROTO,
			    "%s: bad training history ring", what);
	r->base = base;
	r->size = h->segment_size;
	r->win_stride = win_copy;
	r->state_blk = (const uint64_t *)(base + h->blocks[NCP_SHM_BLK_STATE].offset);
	r->pred_blk = (const uint64_t *)(base + h->blocks[NCP_SHM_BLK_PREDICTED].offset);
	r->stats_blk = (const uint64_t *)(base + h->blocks[NCP_SHM_BLK_STATS].offset);
	/* The stim block (1.3): present when the writer made it; a reader
	 * copies the part of it that holds E electrodes. */
	if (h->block_count > NCP_SHM_BLK_STIM &&
	    h->blocks[NCP_SHM_BLK_STIM].size) {
		size_t need = ncp_shm_stim_size(h->stim_electrodes);
		if (h->stim_electrodes > NCP_SHM_MAX_ELECTRODES ||
		    !block_ok(h, NCP_SHM_BLK_STIM, need))
			return ncp_errf_code(err, errlen, EPROTO,
				    "%s: stim block at %llu, %llu bytes: outside "
				    "the segment, misaligned or too small for %u "
				    "electrodes", what,
				    (unsigned long long)h->blocks[NCP_SHM_BLK_STIM].offset,
				    (unsigned long long)h->blocks[NCP_SHM_BLK_STIM].size,
				    h->stim_electrodes);
		r->stim_blk = (const uint64_t *)(base +
				h->blocks[NCP_SHM_BLK_STIM].offset);
		r->stim_size = need;
	}
	/* The co-processor block (1.4). */
	if (h->block_count > NCP_SHM_BLK_NCP && h->blocks[NCP_SHM_BLK_NCP].size) {
		if (!block_ok(h, NCP_SHM_BLK_NCP, sizeof(struct ncp_shm_ncp)))
			return ncp_errf_code(err, errlen, EPROTO,
				    "%s: ncp block at %llu, %llu bytes: outside "
				    "the segment, misaligned or too small", what,
				    (unsigned long long)h->blocks[NCP_SHM_BLK_NCP].offset,
				    (unsigned long long)h->blocks[NCP_SHM_BLK_NCP].size);
		r->ncp_blk = (const uint64_t *)(base +
				h->blocks[NCP_SHM_BLK_NCP].offset);
	}
	return 0;
}

struct ncp_shm_reader *ncp_shm_reader_open(const char *name, char *err,
					   size_t errlen)
{
	struct ncp_shm_reader *r;
	struct stat st;
	void *base;
	int fd, saved;

	if (!name)
		name = NCP_SHM_DEFAULT_NAME;
	if (name[0] != '/' || strlen(name) > NAME_MAX || strchr(name + 1, '/')) {
		ncp_errf_code(err, errlen, EINVAL,
		     "shared memory name '%s': must be '/' and a name", name);
		return NULL;
	}
	r = calloc(1, sizeof(*r));
	if (!r) {
		ncp_errf_code(err, errlen, ENOMEM, "shm: out of memory");
		return NULL;
	}
	snprintf(r->name, sizeof(r->name), "%s", name);
	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		if (errno == ENOENT)
			ncp_errf_code(err, errlen, ENOENT,
			     "shared memory segment %s: not found (is ncpd "
			     "running?)", name);
		else
			ncp_errf_code(err, errlen, errno,
			     "shared memory segment %s: %s", name,
			     strerror(errno));
		goto fail_free;
	}
	if (fstat(fd, &st) < 0) {
		ncp_errf_code(err, errlen, errno, "shared memory segment %s: %s", name,
		     strerror(errno));
		goto fail_close;
	}
	if (st.st_size < 64) {
		ncp_errf_code(err, errlen, EPROTO,
		     "shared memory segment %s: %lld bytes, too small for an "
		     "ncpd segment", name, (long long)st.st_size);
		goto fail_close;
	}
	base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		ncp_errf_code(err, errlen, errno, "shared memory segment %s: mmap: %s",
		     name, strerror(errno));
		goto fail_close;
	}
	close(fd);
	r->map_size = (size_t)st.st_size;
	r->dev = st.st_dev;
	r->ino = st.st_ino;
	{
		char what[NAME_MAX + 40];

		snprintf(what, sizeof(what), "shared memory segment %s", name);
		if (validate(r, base, r->map_size, what, err, errlen))
			goto fail_unmap;
	}
	return r;

fail_unmap:
	saved = errno;
	munmap(base, r->map_size);
	errno = saved;
	goto fail_free;
fail_close:
	saved = errno;
	close(fd);
	errno = saved;
fail_free:
	saved = errno;
	free(r);
	errno = saved;
	return NULL;
}

struct ncp_shm_reader *ncp_shm_reader_from_mem(const void *base, size_t size,
					       char *err, size_t errlen)
{
	struct ncp_shm_reader *r = calloc(1, sizeof(*r));
	int saved;

	if (!r) {
		ncp_errf_code(err, errlen, ENOMEM, "shm: out of memory");
		return NULL;
	}
	if (validate(r, base, size, "shared memory segment", err, errlen)) {
		saved = errno;
		free(r);
		errno = saved;
		return NULL;
	}
	return r;
}

void ncp_shm_reader_free(struct ncp_shm_reader *r)
{
	if (!r)
		return;
	if (r->map_size)
		munmap((void *)r->base, r->map_size);
	free(r);
}

const struct ncp_shm_header *ncp_shm_reader_header(const struct ncp_shm_reader *r)
{
	return &r->hdr;
}

const void *ncp_shm_reader_base(const struct ncp_shm_reader *r)
{
	return r->base;
}

size_t ncp_shm_reader_size(const struct ncp_shm_reader *r)
{
	return r->size;
}

/* The owner word at offset 32: pid in the low half, state in the high. */
static uint64_t owner_word(const struct ncp_shm_reader *r)
{
	/* Pairs with the release store in ncp_shm_writer_set_state(). */
	return ncp_word_load_acquire((const uint64_t *)(r->base + 32));
}

uint32_t ncp_shm_reader_state_word(const struct ncp_shm_reader *r)
{
	return (uint32_t)(owner_word(r) >> 32);
}

/* Whether the name now holds a different segment than ours. */
static bool name_replaced(const struct ncp_shm_reader *r)
{
	struct stat st;
	uint64_t gen = 0;
	bool replaced = false;
	int fd;

	if (!r->name[0])
		return false;
	fd = shm_open(r->name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return false; /* removed, not replaced (yet) */
	if (fstat(fd, &st) == 0 && (st.st_dev != r->dev || st.st_ino != r->ino))
		replaced = true;
	else if (pread(fd, &gen, sizeof(gen), 24) == (ssize_t)sizeof(gen) &&
		 gen != r->hdr.generation)
		replaced = true;
	close(fd);
	return replaced;
}

int ncp_shm_reader_liveness(const struct ncp_shm_reader *r)
{
	uint64_t owner = owner_word(r);
	pid_t pid = (pid_t)(int32_t)(uint32_t)owner;

	if (name_replaced(r))
		return NCP_SHM_REPLACED;
	if ((owner >> 32) == NCP_SHM_STATE_STOPPED)
		return NCP_SHM_STOPPED;
	if (pid > 0 && kill(pid, 0) < 0 && errno == ESRCH)
		return NCP_SHM_DEAD;
	return NCP_SHM_LIVE;
}

uint64_t ncp_shm_reader_head(const struct ncp_shm_reader *r)
{
	return ncp_ring_head(&r->win);
}

size_t ncp_shm_reader_window_stride(const struct ncp_shm_reader *r)
{
	return r->win_stride;
}

int ncp_shm_reader_window_since(const struct ncp_shm_reader *r, uint64_t since,
				uint32_t max, void *buf, size_t buflen,
				struct ncp_ring_span *span)
{
	if (max > r->hdr.window_slots - NCP_SHM_WINDOW_MARGIN ||
	    buflen / r->win_stride < max)
		return -EINVAL;
	return ncp_ring_read(&r->win, since, max, buf, r->win_stride, span);
}

int ncp_shm_reader_window(const struct ncp_shm_reader *r, uint32_t w,
			  void *buf, size_t buflen, struct ncp_ring_span *span)
{
	return ncp_shm_reader_window_since(r, 0, w, buf, buflen, span);
}

int ncp_shm_reader_state(const struct ncp_shm_reader *r,
			 struct ncp_shm_state *out)
{
	return ncp_seqlock_read(r->state_blk, out, sizeof(*out));
}

int ncp_shm_reader_predicted(const struct ncp_shm_reader *r,
			     struct ncp_shm_predicted *out)
{
	return ncp_seqlock_read(r->pred_blk, out, sizeof(*out));
}

int ncp_shm_reader_stats(const struct ncp_shm_reader *r,
			 struct ncp_shm_stats *out)
{
	return ncp_seqlock_read(r->stats_blk, out, sizeof(*out));
}

const char *ncp_shm_stim_source_name(uint32_t source)
{
	switch (source) {
	case NCP_SHM_STIM_NONE:
		return "none";
	case NCP_SHM_STIM_NOISE:
		return "noise";
	case NCP_SHM_STIM_ORACLE:
		return "oracle";
	case NCP_SHM_STIM_FILE:
		return "file";
	case NCP_SHM_STIM_CPN:
		return "cpn";
	default:
		return "unknown";
	}
}

int ncp_shm_reader_ncp(const struct ncp_shm_reader *r, struct ncp_shm_ncp *out)
{
	if (!r->ncp_blk)
		return -ENODATA;
	return ncp_seqlock_read(r->ncp_blk, out, sizeof(*out));
}

size_t ncp_shm_reader_stim_size(const struct ncp_shm_reader *r)
{
	return r->stim_blk ? r->stim_size : 0;
}

int ncp_shm_reader_stim(const struct ncp_shm_reader *r, void *buf,
			size_t buflen)
{
	if (!r->stim_blk)
		return -ENODATA;
	if (buflen < r->stim_size)
		return -EINVAL;
	return ncp_seqlock_read(r->stim_blk, buf, r->stim_size);
}

int ncp_shm_reader_arm(const struct ncp_shm_reader *r, uint64_t since,
		       uint32_t max, struct ncp_shm_arm_entry *out,
		       struct ncp_ring_span *span)
{
	return ncp_ring_read(&r->arm, since, max, out, sizeof(*out), span);
}

int ncp_shm_reader_train(const struct ncp_shm_reader *r, uint64_t since,
			 uint32_t max, struct ncp_shm_train_entry *out,
			 struct ncp_ring_span *span)
{
	return ncp_ring_read(&r->train, since, max, out, sizeof(*out), span);
}
