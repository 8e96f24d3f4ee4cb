#include "shm/ncp_shm_writer.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "models/base/ncp_base.h"
#include "shm/ncp_ring.h"
#include "shm/ncp_seqlock.h"
#include "shm/ncp_word_int.h"

#define CACHE_LINE 64

struct ncp_shm_writer {
	/* Loop thread. */
	_Alignas(CACHE_LINE) struct ncp_ring_writer win;
	struct ncp_ring_writer arm;
	uint64_t *state_blk;
	uint64_t *stats_blk;
	uint64_t *stim_blk;
	struct ncp_shm_win_slot *scratch; /* the window slot being built */
	struct ncp_shm_stim *stim_scratch; /* the stim block being built */
	size_t stim_size;                 /* bytes of the stim block */
	uint32_t electrodes;
	size_t win_copy;                  /* bytes of a window slot pushed */
	uint32_t neurons;
	uint32_t words;
	uint32_t rec;                     /* R of the observation; 0: none */
	uint32_t joints;                  /* the arm's, J */
	uint32_t slot_size;
	/* Emulator thread. */
	_Alignas(CACHE_LINE) uint64_t *pred_blk;
	/* Co-processor. */
	_Alignas(CACHE_LINE) uint64_t *ncp_blk;
	/* Training thread. */
	_Alignas(CACHE_LINE) struct ncp_ring_writer train;
	/* Set-up, read-only afterwards. */
	_Alignas(CACHE_LINE) unsigned char *base;
	size_t size;
	int fd;
	bool locked;
	uint64_t generation;
	int32_t pid;
	dev_t dev;
	ino_t ino;
	char name[NAME_MAX + 1];
};

static size_t align_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

static uint32_t next_pow2(uint32_t x)
{
	uint32_t p = 1;

	while (p < x)
		p <<= 1;
	return p;
}

/* The header word at offset 32: pid (low half) and state (high half), so
 * that both change together in one atomic store. */
static uint64_t owner_word(int32_t pid, uint32_t state)
{
	return (uint64_t)(uint32_t)pid | (uint64_t)state << 32;
}

static uint64_t new_generation(void)
{
	uint64_t g = 0;
	struct timespec ts;

	if (getrandom(&g, sizeof(g), GRND_NONBLOCK) != (ssize_t)sizeof(g)) {
		clock_gettime(CLOCK_REALTIME, &ts);
		g = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
		    ((uint64_t)getpid() << 40);
	}
	return g ? g : 1;
}

static int check_name(const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);

	if (len < 2 || name[0] != '/' || strchr(name + 1, '/') || len > NAME_MAX)
		return ncp_errf_code(err, errlen, EINVAL,
			    "shared memory name '%s': must be '/' followed by "
			    "1 to %d characters other than '/'",
			    name, NAME_MAX - 1);
	return 0;
}

/* The configuration with defaults filled in, checked. */
static int resolve_config(const struct ncp_shm_writer_config *in,
			  struct ncp_shm_writer_config *c, char *err,
			  size_t errlen)
{
	*c = *in;
	if (!c->name)
		c->name = NCP_SHM_DEFAULT_NAME;
	if (c->dt == 0)
		c->dt = 0.001;
	if (!c->m1_neurons)
		c->m1_neurons = 1000;
	if (!c->window_len)
		c->window_len = NCP_SHM_DEFAULT_WINDOW_LEN;
	if (!c->arm_slots)
		c->arm_slots = NCP_SHM_DEFAULT_ARM_SLOTS;
	if (!c->train_slots)
		c->train_slots = NCP_SHM_DEFAULT_TRAIN_SLOTS;
	if (!c->arm_joints)
		c->arm_joints = 2;
	if (c->arm_joints != 2 && c->arm_joints != 3)
		return ncp_errf_code(err, errlen, EINVAL, "shm: an arm of %u "
			    "joints: the segment holds 2 or 3", c->arm_joints);
	if (!(c->dt > 0 && c->dt < 1))
		return ncp_errf_code(err, errlen, EINVAL, "shm: dt %g s out of (0, 1)",
			    c->dt);
	if (c->m1_neurons > NCP_SHM_MAX_NEURONS)
		return ncp_errf_code(err, errlen, EINVAL,
			    "shm: %u M1 neurons, at most %d", c->m1_neurons,
			    NCP_SHM_MAX_NEURONS);
	if (c->window_len > (1u << 20))
		return ncp_errf_code(err, errlen, EINVAL,
			    "shm: window length %u steps, at most %u",
			    c->window_len, 1u << 20);
	if (!c->window_slots)
		c->window_slots = next_pow2(c->window_len + 128);
	if (!is_pow2(c->window_slots) ||
	    c->window_slots < c->window_len + NCP_SHM_WINDOW_MARGIN ||
	    c->window_slots > (1u << 24))
		return ncp_errf_code(err, errlen, EINVAL,
			    "shm: window slots %u: must be a power of two, at "
			    "least window length + %d (%u), at most 2^24",
			    c->window_slots, NCP_SHM_WINDOW_MARGIN,
			    c->window_len + NCP_SHM_WINDOW_MARGIN);
	if (c->stim_electrodes > NCP_SHM_MAX_ELECTRODES)
		return ncp_errf_code(err, errlen, EINVAL,
			    "shm: %u electrodes, at most %d", c->stim_electrodes,
			    NCP_SHM_MAX_ELECTRODES);
	if (c->rec_electrodes > NCP_SHM_MAX_ELECTRODES)
		return ncp_errf_code(err, errlen, EINVAL,
			    "shm: %u recording electrodes, at most %d",
			    c->rec_electrodes, NCP_SHM_MAX_ELECTRODES);
	if (!is_pow2(c->arm_slots) || c->arm_slots < 2 ||
	    c->arm_slots > (1u << 24))
		return ncp_errf_code(err, errlen, EINVAL,
			    "shm: arm history slots %u: must be a power of two "
			    "in [2, 2^24]", c->arm_slots);
	if (!is_pow2(c->train_slots) || c->train_slots < 2 ||
	    c->train_slots > (1u << 24))
		return ncp_errf_code(err, errlen, EINVAL,
			    "shm: training history slots %u: must be a power "
			    "of two in [2, 2^24]", c->train_slots);
	return check_name(c->name, err, errlen);
}

/* Block offsets and sizes, and the segment size (whole pages). */
static size_t plan_layout(const struct ncp_shm_writer_config *c,
			  struct ncp_shm_block *b)
{
	size_t sizes[NCP_SHM_BLK_COUNT_1_4] = {
		[NCP_SHM_BLK_WINDOW] = ncp_ring_block_size(
			c->window_slots, ncp_shm_win_obs_slot_size(c->m1_neurons,
				c->rec_electrodes, c->stim_electrodes,
				c->arm_joints)),
		[NCP_SHM_BLK_STATE] = sizeof(struct ncp_shm_state),
		[NCP_SHM_BLK_PREDICTED] = sizeof(struct ncp_shm_predicted),
		[NCP_SHM_BLK_ARM] = ncp_ring_block_size(
			c->arm_slots, sizeof(struct ncp_shm_arm_entry)),
		[NCP_SHM_BLK_STATS] = sizeof(struct ncp_shm_stats),
		[NCP_SHM_BLK_TRAIN] = ncp_ring_block_size(
			c->train_slots, sizeof(struct ncp_shm_train_entry)),
		[NCP_SHM_BLK_STIM] = ncp_shm_stim_size(c->stim_electrodes),
		[NCP_SHM_BLK_NCP] = sizeof(struct ncp_shm_ncp),
	};
	size_t off = align_up(sizeof(struct ncp_shm_header), NCP_SHM_ALIGN);
	long page = sysconf(_SC_PAGESIZE);

	for (int i = 0; i < NCP_SHM_BLK_COUNT_1_4; i++) {
		b[i].offset = off;
		b[i].size = sizes[i];
		off = align_up(off + sizes[i], NCP_SHM_ALIGN);
	}
	return align_up(off, page > 0 ? (size_t)page : 4096);
}

/* The name exists.  Remove it if it is stale (returns 0: create again);
 * refuse it otherwise (returns -EEXIST or another -errno with a message). */
static int replace_stale(const char *name, char *err, size_t errlen)
{
	struct ncp_shm_header h;
	struct stat st;
	bool lock_free, ours, empty;
	uint32_t state;
	ssize_t got;
	int fd, rc = 0;

	fd = shm_open(name, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		if (errno == ENOENT)
			return 0; /* gone meanwhile: try again */
		return ncp_errf_code(err, errlen, errno,
			    "shared memory segment %s exists and cannot be "
			    "opened: %s", name, strerror(errno));
	}
	if (fstat(fd, &st) < 0) {
		rc = ncp_errf_code(err, errlen, errno, "shared memory segment %s: %s",
			  name, strerror(errno));
		goto out_close;
	}
	memset(&h, 0, sizeof(h));
	got = st.st_size > 0 ? pread(fd, &h, sizeof(h), 0) : 0;
	if (got < 0)
		got = 0;
	/* Holding the lock means no live daemon holds it. */
	lock_free = flock(fd, LOCK_EX | LOCK_NB) == 0;
	ours = got >= 64 && !memcmp(h.magic, NCP_SHM_MAGIC, 8);
	empty = got < 8 || !memcmp(h.magic, "\0\0\0\0\0\0\0\0", 8);
	state = got >= 64 ? h.state : NCP_SHM_STATE_NONE;
	if (!ours && !empty) {
		rc = ncp_errf_code(err, errlen, EEXIST,
			  "shared memory segment %s exists and is not an ncpd "
			  "segment; not replacing it (remove /dev/shm%s if it "
			  "is yours)", name, name);
		goto out_close;
	}
	if (!lock_free && !(ours && state == NCP_SHM_STATE_STOPPED)) {
		if (ours)
			rc = ncp_errf_code(err, errlen, EEXIST,
				  "shared memory segment %s is in use by a "
				  "running ncpd (pid %d); stop it or choose "
				  "another name", name, (int)h.pid);
		else
			rc = ncp_errf_code(err, errlen, EEXIST,
				  "shared memory segment %s is being created "
				  "by another process", name);
		goto out_close;
	}
	/* Stale: its daemon died, stopped, or crashed while creating it. */
	if (shm_unlink(name) < 0 && errno != ENOENT)
		rc = ncp_errf_code(err, errlen, errno,
			  "cannot remove stale shared memory segment %s "
			  "(pid %d): %s", name, ours ? (int)h.pid : 0,
			  strerror(errno));
out_close:
	close(fd);
	return rc;
}

/* Fill the header and format the blocks; the magic goes last. */
static int fill_segment(struct ncp_shm_writer *w,
			const struct ncp_shm_writer_config *c,
			const struct ncp_shm_block *b)
{
	struct ncp_shm_header *h = (struct ncp_shm_header *)w->base;
	uint64_t magic;
	struct timespec ts;
	int rc;

	clock_gettime(CLOCK_REALTIME, &ts);
	h->abi_major = c->arm_joints == 3 ? NCP_SHM_ABI_MAJOR_3J : NCP_SHM_ABI_MAJOR;
	h->abi_minor = NCP_SHM_ABI_MINOR;
	h->header_size = sizeof(*h);
	h->segment_size = w->size;
	h->generation = w->generation;
	h->created_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	h->dt = c->dt;
	h->m1_neurons = c->m1_neurons;
	h->m1_words = ncp_shm_win_words(c->m1_neurons);
	h->window_len = c->window_len;
	h->window_slots = c->window_slots;
	h->window_slot_size = ncp_shm_win_obs_slot_size(c->m1_neurons,
				c->rec_electrodes, c->stim_electrodes,
				c->arm_joints);
	h->stim_channels = NCP_SHM_STIM_CHANNELS;
	h->arm_slots = c->arm_slots;
	h->train_slots = c->train_slots;
	h->block_count = NCP_SHM_BLK_COUNT_1_4;
	h->stim_electrodes = c->stim_electrodes;
	h->obs_offset = c->rec_electrodes ?
		(uint32_t)ncp_shm_win_copy_size(c->m1_neurons) : 0;
	h->rec_electrodes = c->rec_electrodes;
	h->arm_links[0] = c->arm_links[0];
	h->arm_links[1] = c->arm_links[1];
	h->arm_joints = c->arm_joints;
	h->arm_link_hand = c->arm_joints == 3 ? c->arm_link_hand : 0.0;
	memcpy(h->blocks, b, NCP_SHM_BLK_COUNT_1_4 * sizeof(*b));

	rc = ncp_ring_format(w->base + b[NCP_SHM_BLK_WINDOW].offset,
			     b[NCP_SHM_BLK_WINDOW].size, c->window_slots,
			     h->window_slot_size);
	if (!rc)
		rc = ncp_ring_format(w->base + b[NCP_SHM_BLK_ARM].offset,
				     b[NCP_SHM_BLK_ARM].size, c->arm_slots,
				     sizeof(struct ncp_shm_arm_entry));
	if (!rc)
		rc = ncp_ring_format(w->base + b[NCP_SHM_BLK_TRAIN].offset,
				     b[NCP_SHM_BLK_TRAIN].size, c->train_slots,
				     sizeof(struct ncp_shm_train_entry));
	if (rc)
		return rc;
	ncp_word_store((uint64_t *)(w->base + 32),
		       owner_word(w->pid, NCP_SHM_STATE_STARTING));
	memcpy(&magic, NCP_SHM_MAGIC, 8);
	/* Publishes the filled header; pairs with the acquire load of the
	 * magic in ncp_shm_reader's validation. */
	ncp_word_store_release((uint64_t *)w->base, magic);
	return 0;
}

static int init_writers(struct ncp_shm_writer *w, const struct ncp_shm_block *b)
{
	int rc;

	rc = ncp_ring_writer_init(&w->win, w->base + b[NCP_SHM_BLK_WINDOW].offset,
				  b[NCP_SHM_BLK_WINDOW].size);
	if (!rc)
		rc = ncp_ring_writer_init(&w->arm,
					  w->base + b[NCP_SHM_BLK_ARM].offset,
					  b[NCP_SHM_BLK_ARM].size);
	if (!rc)
		rc = ncp_ring_writer_init(&w->train,
					  w->base + b[NCP_SHM_BLK_TRAIN].offset,
					  b[NCP_SHM_BLK_TRAIN].size);
	w->state_blk = (uint64_t *)(w->base + b[NCP_SHM_BLK_STATE].offset);
	w->pred_blk = (uint64_t *)(w->base + b[NCP_SHM_BLK_PREDICTED].offset);
	w->stats_blk = (uint64_t *)(w->base + b[NCP_SHM_BLK_STATS].offset);
	w->stim_blk = (uint64_t *)(w->base + b[NCP_SHM_BLK_STIM].offset);
	w->ncp_blk = (uint64_t *)(w->base + b[NCP_SHM_BLK_NCP].offset);
	return rc;
}

struct ncp_shm_writer *ncp_shm_writer_new(const struct ncp_shm_writer_config *cfg,
					  char *err, size_t errlen)
{
	struct ncp_shm_writer_config c;
	struct ncp_shm_block blocks[NCP_SHM_BLK_COUNT_1_4];
	struct ncp_shm_writer *w;
	struct stat st;
	void *base;
	int rc, saved;

	if (resolve_config(cfg, &c, err, errlen))
		return NULL;
	w = aligned_alloc(CACHE_LINE, align_up(sizeof(*w), CACHE_LINE));
	if (!w) {
		ncp_errf_code(err, errlen, ENOMEM, "shm: out of memory");
		return NULL;
	}
	memset(w, 0, sizeof(*w));
	w->fd = -1;
	w->neurons = c.m1_neurons;
	w->words = ncp_shm_win_words(c.m1_neurons);
	w->rec = c.rec_electrodes;
	w->joints = c.arm_joints;
	w->win_copy = ncp_shm_win_obs_copy_size(c.m1_neurons, c.rec_electrodes,
						c.stim_electrodes, c.arm_joints);
	w->slot_size = ncp_shm_win_obs_slot_size(c.m1_neurons, c.rec_electrodes,
						 c.stim_electrodes, c.arm_joints);
	w->pid = (int32_t)getpid();
	w->generation = new_generation();
	snprintf(w->name, sizeof(w->name), "%s", c.name);
	w->size = plan_layout(&c, blocks);
	w->scratch = aligned_alloc(CACHE_LINE, w->slot_size);
	if (!w->scratch) {
		ncp_errf_code(err, errlen, ENOMEM, "shm: out of memory");
		goto fail_free;
	}
	memset(w->scratch, 0, w->slot_size);
	w->electrodes = c.stim_electrodes;
	w->stim_size = ncp_shm_stim_size(c.stim_electrodes);
	w->stim_scratch = aligned_alloc(CACHE_LINE, w->stim_size);
	if (!w->stim_scratch) {
		ncp_errf_code(err, errlen, ENOMEM, "shm: out of memory");
		goto fail_free;
	}
	memset(w->stim_scratch, 0, w->stim_size);

	for (int attempt = 0; attempt < 3 && w->fd < 0; attempt++) {
		w->fd = shm_open(w->name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
				 0640);
		if (w->fd >= 0)
			break;
		if (errno != EEXIST) {
			ncp_errf_code(err, errlen, errno,
			     "cannot create shared memory segment %s: %s",
			     w->name, strerror(errno));
			goto fail_free;
		}
		if (replace_stale(w->name, err, errlen))
			goto fail_free;
	}
	if (w->fd < 0) {
		ncp_errf_code(err, errlen, EEXIST,
		     "shared memory segment %s keeps reappearing; another "
		     "daemon is starting", w->name);
		goto fail_free;
	}
	/* Taken at once: a daemon starting meanwhile sees a live owner. */
	if (flock(w->fd, LOCK_EX | LOCK_NB) < 0) {
		ncp_errf_code(err, errlen, errno, "shared memory segment %s: lock: %s",
		     w->name, strerror(errno));
		goto fail_unlink;
	}
	/* The mode given to shm_open was filtered by the umask. */
	if (fchmod(w->fd, 0640) < 0 || ftruncate(w->fd, (off_t)w->size) < 0 ||
	    fstat(w->fd, &st) < 0) {
		ncp_errf_code(err, errlen, errno, "shared memory segment %s: %s",
		     w->name, strerror(errno));
		goto fail_unlink;
	}
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	base = mmap(NULL, w->size, PROT_READ | PROT_WRITE, MAP_SHARED, w->fd, 0);
	if (base == MAP_FAILED) {
		ncp_errf_code(err, errlen, errno, "shared memory segment %s: mmap %zu "
		     "bytes: %s", w->name, w->size, strerror(errno));
		goto fail_unlink;
	}
	w->base = base;
	/* Pre-fault: every page is allocated now, not in the loop. */
	memset(w->base, 0, w->size);
	w->locked = mlock(w->base, w->size) == 0;
	if (!w->locked && c.require_lock) {
		ncp_errf_code(err, errlen, errno, "shared memory segment %s: mlock %zu "
		     "bytes: %s (raise RLIMIT_MEMLOCK)", w->name, w->size,
		     strerror(errno));
		goto fail_unmap;
	}
	rc = fill_segment(w, &c, blocks);
	if (!rc)
		rc = init_writers(w, blocks);
	if (rc) {
		ncp_errf_code(err, errlen, -rc, "shared memory segment %s: bad layout",
		     w->name);
		goto fail_unmap;
	}
	return w;

fail_unmap:
	munmap(w->base, w->size);
fail_unlink:
	saved = errno;
	shm_unlink(w->name);
	close(w->fd);
	errno = saved;
fail_free:
	saved = errno;
	free(w->scratch);
	free(w->stim_scratch);
	free(w);
	errno = saved;
	return NULL;
}

/* Unlink the name only if it still names our segment. */
static void unlink_if_ours(const struct ncp_shm_writer *w)
{
	struct stat st;
	int fd = shm_open(w->name, O_RDONLY | O_CLOEXEC, 0);

	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino)
		shm_unlink(w->name);
	close(fd);
}

void ncp_shm_writer_free(struct ncp_shm_writer *w)
{
	if (!w)
		return;
	ncp_shm_writer_set_state(w, NCP_SHM_STATE_STOPPED);
	unlink_if_ours(w);
	munmap(w->base, w->size);
	close(w->fd);
	free(w->scratch);
	free(w->stim_scratch);
	free(w);
}

void ncp_shm_writer_set_state(struct ncp_shm_writer *w,
			      enum ncp_shm_state_word state)
{
	/* Pairs with the acquire load of the owner word in
	 * ncp_shm_reader_status(). */
	ncp_word_store_release((uint64_t *)(w->base + 32),
			       owner_word(w->pid, state));
}

int ncp_shm_writer_push_spikes(struct ncp_shm_writer *w, uint64_t step,
			       const uint32_t *idx, uint32_t n,
			       const float *stim, uint32_t nstim)
{
	struct ncp_shm_win_slot *s = w->scratch;
	uint32_t bad = 0;

	if (step != w->win.head || nstim > NCP_SHM_STIM_CHANNELS ||
	    (nstim && !stim) || (n && !idx))
		return -EINVAL;
	for (uint32_t i = 0; i < n; i++)
		bad |= idx[i] >= w->neurons;
	if (bad)
		return -EINVAL;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts); /* vDSO: no system call */
	s->step = step;
	s->t_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	s->spike_count = n;
	s->stim_count = nstim;
	memset(s->stim, 0, sizeof(s->stim));
	if (nstim)
		memcpy(s->stim, stim, nstim * sizeof(float));
	memset(s->bits, 0, w->words * sizeof(uint64_t));
	for (uint32_t i = 0; i < n; i++)
		s->bits[idx[i] / 64] |= (uint64_t)1 << (idx[i] % 64);
	ncp_ring_push(&w->win, s, w->win_copy);
	return 0;
}

void ncp_shm_writer_set_obs(struct ncp_shm_writer *w, const float *rec,
			    const float *arm, const float target[2],
			    const float *alpha)
{
	if (!w->rec)
		return;
	float *o = (float *)((unsigned char *)w->scratch +
			     ncp_shm_win_copy_size(w->neurons));
	uint32_t R = w->rec, E = w->electrodes;
	if (rec)
		memcpy(o, rec, sizeof(float) * R);
	else
		memset(o, 0, sizeof(float) * R);
	o += R;
	if (arm)
		memcpy(o, arm, sizeof(float) * NCP_SHM_OBS_ARM(w->joints));
	else
		memset(o, 0, sizeof(float) * NCP_SHM_OBS_ARM(w->joints));
	o += NCP_SHM_OBS_ARM(w->joints);
	if (target)
		memcpy(o, target, sizeof(float) * 2);
	else
		memset(o, 0, sizeof(float) * 2);
	o += 2;
	if (alpha)
		memcpy(o, alpha, sizeof(float) * E);
	else
		memset(o, 0, sizeof(float) * E);
}

void ncp_shm_writer_put_ncp(struct ncp_shm_writer *w,
			    const struct ncp_shm_ncp *n)
{
	struct ncp_shm_ncp c = *n;
	c.model[sizeof(c.model) - 1] = 0;
	ncp_seqlock_write(w->ncp_blk, &c, sizeof(c));
}

void ncp_shm_writer_put_state(struct ncp_shm_writer *w,
			      const struct ncp_shm_state *s)
{
	ncp_seqlock_write(w->state_blk, s, sizeof(*s));
}

void ncp_shm_writer_put_stim(struct ncp_shm_writer *w,
			     const struct ncp_shm_stim *s, const double *theta,
			     const double *alpha)
{
	struct ncp_shm_stim *c = w->stim_scratch;
	uint32_t E = w->electrodes;
	double tmax = 0, amax = 0;

	memcpy(c, s, sizeof(*c));
	c->electrodes = E;
	for (uint32_t e = 0; e < E; e++) {
		double t = theta ? theta[e] : 0, a = alpha ? alpha[e] : 0;
		c->v[e] = (float)t;
		c->v[E + e] = (float)a;
		t = t < 0 ? -t : t;
		a = a < 0 ? -a : a;
		tmax = t > tmax ? t : tmax;
		amax = a > amax ? a : amax;
	}
	c->theta_max_abs = tmax;
	c->alpha_max_abs = amax;
	ncp_seqlock_write(w->stim_blk, c, w->stim_size);
}

void ncp_shm_writer_push_arm(struct ncp_shm_writer *w,
			     const struct ncp_shm_arm_entry *e)
{
	ncp_ring_push(&w->arm, e, sizeof(*e));
}

void ncp_shm_writer_put_stats(struct ncp_shm_writer *w,
			      const struct ncp_shm_stats *s)
{
	struct ncp_shm_stats c = *s;

	c.jitter_bins = NCP_SHM_JITTER_BINS;
	ncp_seqlock_write(w->stats_blk, &c, sizeof(c));
}

void ncp_shm_writer_put_predicted(struct ncp_shm_writer *w,
				  const struct ncp_shm_predicted *p)
{
	struct ncp_shm_predicted c = *p;

	c.model[NCP_SHM_MODEL_NAME_LEN - 1] = '\0';
	ncp_seqlock_write(w->pred_blk, &c, sizeof(c));
}

void ncp_shm_writer_push_train(struct ncp_shm_writer *w,
			       const struct ncp_shm_train_entry *e)
{
	ncp_ring_push(&w->train, e, sizeof(*e));
}

const void *ncp_shm_writer_base(const struct ncp_shm_writer *w)
{
	return w->base;
}

size_t ncp_shm_writer_size(const struct ncp_shm_writer *w)
{
	return w->size;
}

uint64_t ncp_shm_writer_generation(const struct ncp_shm_writer *w)
{
	return w->generation;
}

const char *ncp_shm_writer_name(const struct ncp_shm_writer *w)
{
	return w->name;
}

bool ncp_shm_writer_locked(const struct ncp_shm_writer *w)
{
	return w->locked;
}

uint64_t ncp_shm_writer_last_ns(const struct ncp_shm_writer *w)
{
	return w->scratch->t_ns;
}

uint64_t ncp_shm_writer_steps(const struct ncp_shm_writer *w)
{
	return w->win.head;
}
