/* The segment: ABI, creation, attach and validation, stale and live
 * owners, read-only readers, and every block's round trip. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shm/ncp_shm.h"
#include "shm/ncp_shm_reader.h"
#include "shm/ncp_shm_writer.h"
#include "tests/ncp_check.h"

/* Every segment a test makes is named with this prefix (the suite's pid),
 * and the teardown removes whatever a failed test left. */
static char prefix[64];

static const char *tname(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "%s%s", prefix, tag);
	return buf;
}

static void remove_leftovers(void)
{
	DIR *d = opendir("/dev/shm");
	struct dirent *e;
	char name[300];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, prefix + 1, strlen(prefix + 1))) {
			snprintf(name, sizeof(name), "/%s", e->d_name);
			shm_unlink(name);
		}
	closedir(d);
}

/* The spikes of step k in these tests: k % 17 distinct neurons. */
static uint32_t pattern(uint64_t k, uint32_t *idx)
{
	uint32_t n = (uint32_t)(k % 17);

	for (uint32_t j = 0; j < n; j++)
		idx[j] = (uint32_t)((k * 37 + j * 101) % 1000);
	return n;
}

static void push_steps(struct ncp_shm_writer *w, uint64_t from, uint64_t to)
{
	uint32_t idx[32];
	float stim[3];

	for (uint64_t k = from; k < to; k++) {
		uint32_t n = pattern(k, idx), ns = (uint32_t)(k % 4);

		for (uint32_t c = 0; c < ns; c++)
			stim[c] = (float)k + 0.5f * (float)c;
		ck_assert_int_eq(ncp_shm_writer_push_spikes(w, k, idx, n,
							    ns ? stim : NULL,
							    ns), 0);
	}
}

/* The slot copy holds exactly step k's pattern and stimulation. */
static void check_slot(const struct ncp_shm_win_slot *s, uint64_t k)
{
	uint32_t idx[32], n = pattern(k, idx), ns = (uint32_t)(k % 4);
	uint64_t want[16] = { 0 };

	ck_assert_uint_eq(s->seq, 2 * k + 2);
	ck_assert_uint_eq(s->step, k);
	ck_assert_uint_eq(s->spike_count, n);
	for (uint32_t j = 0; j < n; j++) {
		want[idx[j] / 64] |= (uint64_t)1 << (idx[j] % 64);
		ck_assert(ncp_shm_win_spiked(s, idx[j]));
	}
	ck_assert_msg(!memcmp(s->bits, want, sizeof(want)),
		      "step %llu: bitset differs", (unsigned long long)k);
	ck_assert_uint_eq(s->stim_count, ns);
	for (uint32_t c = 0; c < NCP_SHM_STIM_CHANNELS; c++)
		ck_assert(s->stim[c] ==
			  (c < ns ? (float)k + 0.5f * (float)c : 0.0f));
}

static struct ncp_shm_writer *make_writer(const char *name)
{
	struct ncp_shm_writer_config cfg = { .name = name };
	char err[256] = "";
	struct ncp_shm_writer *w = ncp_shm_writer_new(&cfg, err, sizeof(err));

	ck_assert_msg(w != NULL, "create %s: %s", name, err);
	return w;
}

START_TEST(abi_helpers)
{
	ck_assert_uint_eq(ncp_shm_win_words(1000), 16);
	ck_assert_uint_eq(ncp_shm_win_words(64), 1);
	ck_assert_uint_eq(ncp_shm_win_words(65), 2);
	ck_assert_uint_eq(ncp_shm_win_copy_size(1000), 320);
	ck_assert_uint_eq(ncp_shm_win_slot_size(1000), 320);
	ck_assert_uint_eq(ncp_shm_win_slot_size(1), 256);
	ck_assert_uint_eq(ncp_shm_win_copy_size(1), 200);
	ck_assert_uint_eq(ncp_shm_jitter_bin(0.0), 0);
	ck_assert_uint_eq(ncp_shm_jitter_bin(0.99), 0);
	ck_assert_uint_eq(ncp_shm_jitter_bin(1.0), 1);
	ck_assert_uint_eq(ncp_shm_jitter_bin(1.99), 1);
	ck_assert_uint_eq(ncp_shm_jitter_bin(2.0), 2);
	ck_assert_uint_eq(ncp_shm_jitter_bin(25.0), 5);     /* [16, 32) */
	ck_assert_uint_eq(ncp_shm_jitter_bin(35000.0), 16); /* [32768, 65536) */
	ck_assert_uint_eq(ncp_shm_jitter_bin(1e12), 31);
	ck_assert_uint_eq(sizeof(struct ncp_shm_header), 512);
	ck_assert_uint_eq(offsetof(struct ncp_shm_win_slot, bits), 192);
}
END_TEST

START_TEST(create_attach_and_read_back)
{
	char name[80], path[100], err[256] = "";
	struct ncp_shm_writer *w;
	struct ncp_shm_reader *r;
	const struct ncp_shm_header *h;
	struct stat st;
	mode_t old = umask(077);

	tname(name, sizeof(name), "-basic");
	w = make_writer(name);
	umask(old);
	ck_assert(ncp_shm_writer_locked(w)); /* root or 8 MiB limit: fits */
	snprintf(path, sizeof(path), "/dev/shm%s", name);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 0777, 0640); /* whatever the umask */
	ck_assert_uint_eq((size_t)st.st_size, ncp_shm_writer_size(w));

	r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	h = ncp_shm_reader_header(r);
	ck_assert(!memcmp(h->magic, "NCPDSHM", 8));
	ck_assert_uint_eq(h->abi_major, NCP_SHM_ABI_MAJOR);
	ck_assert_uint_eq(h->abi_minor, NCP_SHM_ABI_MINOR);
	ck_assert_uint_eq(h->header_size, 512);
	ck_assert_uint_eq(h->segment_size, (uint64_t)st.st_size);
	ck_assert_uint_ne(h->generation, 0);
	ck_assert_uint_eq(h->generation, ncp_shm_writer_generation(w));
	ck_assert_int_eq(h->pid, getpid());
	ck_assert_uint_eq(h->m1_neurons, 1000);
	ck_assert_uint_eq(h->m1_words, 16);
	ck_assert_uint_eq(h->window_len, 100);
	ck_assert_uint_eq(h->window_slots, 256);
	ck_assert_uint_eq(h->window_slot_size, 320);
	ck_assert_uint_eq(h->arm_slots, 4096);
	ck_assert_uint_eq(h->train_slots, 1024);
	ck_assert(h->dt == 0.001);
	for (int i = 0; i < NCP_SHM_BLK_COUNT; i++) {
		ck_assert_uint_eq(h->blocks[i].offset % 64, 0);
		ck_assert_uint_ge(h->blocks[i].offset, 512);
		ck_assert_uint_le(h->blocks[i].offset + h->blocks[i].size,
				  h->segment_size);
		if (i)
			ck_assert_uint_ge(h->blocks[i].offset,
					  h->blocks[i - 1].offset +
						  h->blocks[i - 1].size);
	}
	ck_assert_uint_eq(ncp_shm_reader_state_word(r), NCP_SHM_STATE_STARTING);
	ncp_shm_writer_set_state(w, NCP_SHM_STATE_RUNNING);
	ck_assert_uint_eq(ncp_shm_reader_state_word(r), NCP_SHM_STATE_RUNNING);
	ck_assert_int_eq(ncp_shm_reader_liveness(r), NCP_SHM_LIVE);

	/* Window: empty, partial, full, wrapped around. */
	size_t stride = ncp_shm_reader_window_stride(r);
	unsigned char *buf = malloc(240 * stride);
	struct ncp_ring_span sp;

	ck_assert_uint_eq(stride, 320);
	ck_assert_int_eq(ncp_shm_reader_window(r, 100, buf, 100 * stride, &sp), 0);
	ck_assert_uint_eq(sp.count, 0);
	push_steps(w, 0, 40);
	ck_assert_uint_eq(ncp_shm_reader_head(r), 40);
	ck_assert_int_eq(ncp_shm_reader_window(r, 100, buf, 100 * stride, &sp), 0);
	ck_assert_uint_eq(sp.first, 0);
	ck_assert_uint_eq(sp.count, 40);
	for (uint32_t i = 0; i < sp.count; i++)
		check_slot(ncp_shm_win_at(buf, stride, i), sp.first + i);
	push_steps(w, 40, 1000);
	ck_assert_uint_eq(ncp_shm_writer_steps(w), 1000);
	ck_assert_int_eq(ncp_shm_reader_window(r, 100, buf, 100 * stride, &sp), 0);
	ck_assert_uint_eq(sp.first, 900);
	ck_assert_uint_eq(sp.count, 100);
	for (uint32_t i = 0; i < sp.count; i++)
		check_slot(ncp_shm_win_at(buf, stride, i), sp.first + i);
	/* A follower: caught up, then behind by more than it asks. */
	ck_assert_int_eq(ncp_shm_reader_window_since(r, 990, 100, buf,
						     100 * stride, &sp), 0);
	ck_assert_uint_eq(sp.first, 990);
	ck_assert_uint_eq(sp.count, 10);
	check_slot(ncp_shm_win_at(buf, stride, 9), 999);
	ck_assert_int_eq(ncp_shm_reader_window_since(r, 1000, 100, buf,
						     100 * stride, &sp), 0);
	ck_assert_uint_eq(sp.count, 0);
	ck_assert_int_eq(ncp_shm_reader_window_since(r, 10, 5, buf,
						     5 * stride, &sp), 0);
	ck_assert_uint_eq(sp.first, 995);
	/* Up to slots - margin steps; a buffer too small is refused. */
	ck_assert_int_eq(ncp_shm_reader_window(r, 240, buf, 240 * stride, &sp), 0);
	ck_assert_uint_eq(sp.first, 760);
	check_slot(ncp_shm_win_at(buf, stride, 0), 760);
	ck_assert_int_eq(ncp_shm_reader_window(r, 241, buf, 240 * stride, &sp),
			 -EINVAL);
	ck_assert_int_eq(ncp_shm_reader_window(r, 100, buf, 99 * stride, &sp),
			 -EINVAL);

	/* Out-of-order steps, bad neurons, too much stimulation: refused,
	 * nothing written. */
	uint32_t bad = 1000, ok = 3;
	float stim[33] = { 0 };
	ck_assert_int_eq(ncp_shm_writer_push_spikes(w, 999, &ok, 1, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(ncp_shm_writer_push_spikes(w, 1001, &ok, 1, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(ncp_shm_writer_push_spikes(w, 1000, &bad, 1, NULL, 0),
			 -EINVAL);
	ck_assert_int_eq(ncp_shm_writer_push_spikes(w, 1000, &ok, 1, stim, 33),
			 -EINVAL);
	ck_assert_uint_eq(ncp_shm_reader_head(r), 1000);
	ck_assert_int_eq(ncp_shm_writer_push_spikes(w, 1000, &ok, 1, stim, 32),
			 0);
	free(buf);

	ncp_shm_reader_free(r);
	ncp_shm_writer_free(w);
}
END_TEST

START_TEST(blocks_round_trip)
{
	char name[80], err[256] = "";
	struct ncp_shm_writer *w;
	struct ncp_shm_reader *r;

	tname(name, sizeof(name), "-blocks");
	w = make_writer(name);
	r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);

	struct ncp_shm_state st = { 0 }, st2;
	struct ncp_shm_predicted p = { 0 }, p2;
	struct ncp_shm_stats s = { 0 }, s2;

	ck_assert_int_eq(ncp_shm_reader_state(r, &st2), -ENODATA);
	ck_assert_int_eq(ncp_shm_reader_predicted(r, &p2), -ENODATA);
	ck_assert_int_eq(ncp_shm_reader_stats(r, &s2), -ENODATA);

	st.step = 1234;
	st.t = 1.234;
	st.q[0] = 0.5;
	st.q[1] = 1.25;
	st.dq[1] = -2;
	st.hand[0] = 0.1;
	st.hand[1] = 0.3;
	st.target[0] = -0.1;
	st.u[1] = 0.02;
	st.task_kind = NCP_SHM_TASK_RANDOM;
	st.task_period = 2;
	st.paused = 1;
	st.m1_spikes = 14;
	ncp_shm_writer_put_state(w, &st);
	ck_assert_int_eq(ncp_shm_reader_state(r, &st2), 0);
	ck_assert_uint_eq(st2.seq, 2);
	st2.seq = 0;
	ck_assert(!memcmp(&st, &st2, sizeof(st)));

	p.step = 1200;
	for (int i = 0; i < 6; i++)
		p.x[i] = i * 0.5;
	p.hand_fk[0] = 0.11;
	p.latency_us = 87.5;
	p.hand_rmse = 0.04;
	p.model_loaded = 1;
	memset(p.model, 'm', sizeof(p.model)); /* not terminated: cut */
	ncp_shm_writer_put_predicted(w, &p);
	ck_assert_int_eq(ncp_shm_reader_predicted(r, &p2), 0);
	ck_assert_uint_eq(p2.step, 1200);
	ck_assert(p2.x[5] == 2.5);
	ck_assert(p2.latency_us == 87.5);
	ck_assert_uint_eq(strlen(p2.model), NCP_SHM_MODEL_NAME_LEN - 1);

	s.steps = 10000;
	s.overruns = 3;
	s.jitter_p99_us = 24.5;
	s.jitter_hist[ncp_shm_jitter_bin(20)] = 9000;
	s.mode = NCP_SHM_MODE_FREE_RUN;
	s.rtf = 150;
	ncp_shm_writer_put_stats(w, &s);
	ck_assert_int_eq(ncp_shm_reader_stats(r, &s2), 0);
	ck_assert_uint_eq(s2.jitter_bins, NCP_SHM_JITTER_BINS);
	ck_assert_uint_eq(s2.jitter_hist[5], 9000);
	ck_assert(s2.rtf == 150 && s2.jitter_p99_us == 24.5);
	ck_assert_uint_eq(s2.mode, NCP_SHM_MODE_FREE_RUN);

	/* Arm history: more entries than slots, read the newest 4096. */
	static struct ncp_shm_arm_entry arm[4096];
	struct ncp_ring_span sp;
	for (uint64_t k = 0; k < 5000; k++) {
		struct ncp_shm_arm_entry e = {
			.step = k,
			.q = { (float)k, 1 },
			.pred_hand = { NAN, NAN },
		};
		ncp_shm_writer_push_arm(w, &e);
	}
	ck_assert_int_eq(ncp_shm_reader_arm(r, 0, 4096, arm, &sp), 0);
	ck_assert_uint_eq(sp.first, 904);
	ck_assert_uint_eq(sp.count, 4096);
	for (uint32_t i = 0; i < sp.count; i++) {
		ck_assert_uint_eq(arm[i].step, sp.first + i);
		ck_assert(arm[i].q[0] == (float)(sp.first + i));
		ck_assert(isnan(arm[i].pred_hand[1]));
	}
	ck_assert_int_eq(ncp_shm_reader_arm(r, 4990, 100, arm, &sp), 0);
	ck_assert_uint_eq(sp.count, 10);
	ck_assert_int_eq(ncp_shm_reader_arm(r, 0, 4097, arm, &sp), -EINVAL);

	struct ncp_shm_train_entry tr[8];
	for (uint64_t k = 0; k < 3; k++) {
		struct ncp_shm_train_entry e = {
			.step = 1000 * k, .loss = 1.0 / (double)(k + 1),
			.val_loss = NAN, .update = k + 1,
		};
		ncp_shm_writer_push_train(w, &e);
	}
	ck_assert_int_eq(ncp_shm_reader_train(r, 0, 8, tr, &sp), 0);
	ck_assert_uint_eq(sp.count, 3);
	ck_assert(tr[2].loss == 1.0 / 3 && tr[2].update == 3);

	ncp_shm_reader_free(r);
	ncp_shm_writer_free(w);
}
END_TEST

START_TEST(live_owner_refused)
{
	char name[80], err[256] = "", want[64];
	struct ncp_shm_writer_config cfg = { 0 };
	struct ncp_shm_writer *w, *w2;

	cfg.name = tname(name, sizeof(name), "-live");
	w = make_writer(name);
	ncp_shm_writer_set_state(w, NCP_SHM_STATE_RUNNING);
	errno = 0;
	w2 = ncp_shm_writer_new(&cfg, err, sizeof(err));
	ck_assert_ptr_null(w2);
	ck_assert_int_eq(errno, EEXIST);
	snprintf(want, sizeof(want), "pid %d", (int)getpid());
	ck_assert_msg(strstr(err, name) && strstr(err, want),
		      "message names neither segment nor pid: %s", err);
	/* The refused attempt left the live segment alone. */
	struct ncp_shm_reader *r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(ncp_shm_reader_header(r)->generation,
			  ncp_shm_writer_generation(w));
	ncp_shm_reader_free(r);
	ncp_shm_writer_free(w);
}
END_TEST

/* A daemon killed without cleaning up: its reader sees it dead, the next
 * daemon replaces the segment, and the old reader sees the replacement. */
START_TEST(stale_segment_replaced)
{
	char name[80], err[256] = "";
	int up[2], down[2];
	uint64_t gen = 0;
	char go = 1;
	pid_t pid;
	int status;

	tname(name, sizeof(name), "-stale");
	ck_assert_int_eq(pipe(up), 0);
	ck_assert_int_eq(pipe(down), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct ncp_shm_writer_config cfg = { .name = name };
		struct ncp_shm_writer *w = ncp_shm_writer_new(&cfg, NULL, 0);

		if (!w)
			_exit(2);
		ncp_shm_writer_set_state(w, NCP_SHM_STATE_RUNNING);
		push_steps(w, 0, 10);
		gen = ncp_shm_writer_generation(w);
		if (write(up[1], &gen, sizeof(gen)) != sizeof(gen))
			_exit(3);
		if (read(down[0], &go, 1) != 1)
			_exit(4);
		_exit(0); /* dies holding the segment */
	}
	ck_assert_int_eq(read(up[0], &gen, sizeof(gen)), sizeof(gen));
	struct ncp_shm_reader *old = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(old != NULL, "%s", err);
	ck_assert_uint_eq(ncp_shm_reader_header(old)->generation, gen);
	ck_assert_int_eq(ncp_shm_reader_header(old)->pid, pid);
	ck_assert_int_eq(ncp_shm_reader_liveness(old), NCP_SHM_LIVE);
	ck_assert_uint_eq(ncp_shm_reader_head(old), 10);

	ck_assert_int_eq(write(down[1], &go, 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(ncp_shm_reader_liveness(old), NCP_SHM_DEAD);
	ck_assert_uint_eq(ncp_shm_reader_state_word(old), NCP_SHM_STATE_RUNNING);

	struct ncp_shm_writer *w = make_writer(name);
	ck_assert_uint_ne(ncp_shm_writer_generation(w), gen);
	ck_assert_int_eq(ncp_shm_reader_liveness(old), NCP_SHM_REPLACED);
	/* The old mapping stays readable after its name went away. */
	ck_assert_uint_eq(ncp_shm_reader_head(old), 10);
	struct ncp_shm_reader *r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(ncp_shm_reader_header(r)->generation,
			  ncp_shm_writer_generation(w));
	ck_assert_uint_eq(ncp_shm_reader_head(r), 0);
	ncp_shm_reader_free(r);
	ncp_shm_reader_free(old);
	ncp_shm_writer_free(w);
	close(up[0]);
	close(up[1]);
	close(down[0]);
	close(down[1]);
}
END_TEST

/* A daemon that marked its segment stopped is replaced even while it still
 * exits; its own clean-up then leaves the new segment alone. */
START_TEST(stopped_segment_replaced)
{
	char name[80], err[256] = "";
	struct ncp_shm_writer *w1, *w2;
	struct ncp_shm_reader *r;

	tname(name, sizeof(name), "-stopped");
	w1 = make_writer(name);
	ncp_shm_writer_set_state(w1, NCP_SHM_STATE_STOPPED);
	w2 = make_writer(name);
	ncp_shm_writer_free(w1);
	r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(ncp_shm_reader_header(r)->generation,
			  ncp_shm_writer_generation(w2));
	ncp_shm_writer_free(w2);
	ck_assert_int_eq(ncp_shm_reader_liveness(r), NCP_SHM_STOPPED);
	ncp_shm_reader_free(r);
}
END_TEST

/* Clean exit: stopped first, then the name is gone. */
START_TEST(clean_exit_unlinks)
{
	char name[80], err[256] = "";
	struct ncp_shm_writer *w;
	struct ncp_shm_reader *r;

	tname(name, sizeof(name), "-exit");
	w = make_writer(name);
	r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ncp_shm_writer_free(w);
	ck_assert_int_eq(ncp_shm_reader_liveness(r), NCP_SHM_STOPPED);
	ck_assert_uint_eq(ncp_shm_reader_state_word(r), NCP_SHM_STATE_STOPPED);
	ncp_shm_reader_free(r);
	errno = 0;
	r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_ptr_null(r);
	ck_assert_int_eq(errno, ENOENT);
	ck_assert_msg(strstr(err, name) != NULL, "%s", err);
	ncp_shm_writer_free(NULL);
	ncp_shm_reader_free(NULL);
}
END_TEST

/* Make a shm object `name` holding `len` bytes of `data`. */
static void make_raw(const char *name, const void *data, size_t len)
{
	int fd = shm_open(name, O_RDWR | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
	if (len)
		ck_assert_int_eq(pwrite(fd, data, len, 0), (ssize_t)len);
	close(fd);
}

static void expect_refused(const char *name, const char *what)
{
	char err[256] = "";
	struct ncp_shm_reader *r;

	errno = 0;
	r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r == NULL, "%s: attached", what);
	ck_assert_msg(strstr(err, what) != NULL && strstr(err, name) != NULL,
		      "expected '%s' naming %s, got: %s", what, name, err);
}

START_TEST(bad_segments_refused)
{
	char name[80], good[80], err[256] = "";
	struct ncp_shm_writer_config cfg = { 0 };
	struct ncp_shm_writer *w;
	unsigned char *copy;
	size_t size;

	tname(good, sizeof(good), "-good");
	w = make_writer(good);
	size = ncp_shm_writer_size(w);
	copy = malloc(size);
	memcpy(copy, ncp_shm_writer_base(w), size);

	/* Truncated: the header promises more than the object holds. */
	tname(name, sizeof(name), "-bad");
	make_raw(name, copy, 4096);
	expect_refused(name, "truncated");
	make_raw(name, copy, 40);
	expect_refused(name, "too small");
	/* Wrong magic, foreign content. */
	copy[0] ^= 0xff;
	make_raw(name, copy, size);
	expect_refused(name, "bad magic");
	copy[0] ^= 0xff;
	/* Another major version. */
	((struct ncp_shm_header *)copy)->abi_major = 3;
	make_raw(name, copy, size);
	expect_refused(name, "ABI version 3.");
	/* A 3-joint segment's major with a 2-joint arm, and the reverse. */
	((struct ncp_shm_header *)copy)->abi_major = 2;
	make_raw(name, copy, size);
	expect_refused(name, "with an arm of 2 joints");
	((struct ncp_shm_header *)copy)->abi_major = 1;
	((struct ncp_shm_header *)copy)->arm_joints = 3;
	make_raw(name, copy, size);
	expect_refused(name, "with an arm of 3 joints");
	((struct ncp_shm_header *)copy)->arm_joints = 2;
	/* Not initialized: zeros. */
	unsigned char zeros[4096] = { 0 };
	make_raw(name, zeros, sizeof(zeros));
	expect_refused(name, "not initialized");

	/* The writer refuses to replace a foreign object... */
	memset(zeros, 'x', sizeof(zeros));
	make_raw(name, zeros, sizeof(zeros));
	cfg.name = name;
	errno = 0;
	ck_assert_ptr_null(ncp_shm_writer_new(&cfg, err, sizeof(err)));
	ck_assert_int_eq(errno, EEXIST);
	ck_assert_msg(strstr(err, "not an ncpd segment") && strstr(err, name),
		      "%s", err);
	/* ...and one another process is creating (locked, still empty)... */
	make_raw(name, NULL, 0);
	int fd = shm_open(name, O_RDONLY, 0);
	ck_assert_int_eq(flock(fd, LOCK_EX), 0);
	ck_assert_ptr_null(ncp_shm_writer_new(&cfg, err, sizeof(err)));
	ck_assert_msg(strstr(err, "being created"), "%s", err);
	close(fd);
	/* ...but replaces one whose creator crashed (empty, unlocked). */
	struct ncp_shm_writer *w2 = ncp_shm_writer_new(&cfg, err, sizeof(err));
	ck_assert_msg(w2 != NULL, "%s", err);
	ncp_shm_writer_free(w2);

	/* A bad name. */
	cfg.name = "no-slash";
	errno = 0;
	ck_assert_ptr_null(ncp_shm_writer_new(&cfg, err, sizeof(err)));
	ck_assert_int_eq(errno, EINVAL);
	cfg.name = good;
	cfg.window_slots = 100; /* not a power of two */
	ck_assert_ptr_null(ncp_shm_writer_new(&cfg, err, sizeof(err)));
	ck_assert_msg(strstr(err, "window slots"), "%s", err);
	cfg.window_slots = 128; /* < 120 + NCP_SHM_WINDOW_MARGIN */
	cfg.window_len = 120;
	ck_assert_ptr_null(ncp_shm_writer_new(&cfg, err, sizeof(err)));
	cfg.window_len = 0;
	cfg.window_slots = 0;
	cfg.m1_neurons = NCP_SHM_MAX_NEURONS + 1;
	ck_assert_ptr_null(ncp_shm_writer_new(&cfg, err, sizeof(err)));

	free(copy);
	ncp_shm_writer_free(w);
}
END_TEST

/* from_mem on a private copy with one field broken at a time. */
static void expect_mem_refused(const unsigned char *good, size_t size,
			       size_t off, const void *val, size_t len,
			       const char *what)
{
	unsigned char *c = malloc(size);
	char err[256] = "";
	struct ncp_shm_reader *r;

	memcpy(c, good, size);
	memcpy(c + off, val, len);
	r = ncp_shm_reader_from_mem(c, size, err, sizeof(err));
	ck_assert_msg(r == NULL, "%s: accepted", what);
	ck_assert_int_eq(errno, EPROTO);
	ck_assert_msg(strstr(err, what) != NULL, "expected '%s', got: %s",
		      what, err);
	free(c);
}

START_TEST(corrupt_headers_refused)
{
	char name[80], err[256] = "";
	struct ncp_shm_writer *w;
	struct ncp_shm_reader *r;
	unsigned char *good;
	size_t size;
	uint64_t u64;
	uint32_t u32;

	w = make_writer(tname(name, sizeof(name), "-corrupt"));
	push_steps(w, 0, 300);
	size = ncp_shm_writer_size(w);
	good = malloc(size);
	memcpy(good, ncp_shm_writer_base(w), size);
	r = ncp_shm_reader_from_mem(good, size, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ncp_shm_reader_free(r);
	/* The daemon's own threads read its mapping the same way. */
	r = ncp_shm_reader_from_mem(ncp_shm_writer_base(w),
				    ncp_shm_writer_size(w), err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(ncp_shm_reader_head(r), 300);
	ck_assert_int_eq(ncp_shm_reader_liveness(r), NCP_SHM_LIVE);
	ncp_shm_reader_free(r);

	r = ncp_shm_reader_from_mem(good, size - 4096, err, sizeof(err));
	ck_assert_ptr_null(r);
	ck_assert_msg(strstr(err, "truncated"), "%s", err);

	u32 = 100;
	expect_mem_refused(good, size, 12, &u32, 4, "header size");
	u64 = size * 2;
	expect_mem_refused(good, size, 16, &u64, 8, "truncated");
	u32 = 0;
	expect_mem_refused(good, size, 72, &u32, 4, "M1 size");
	u32 = 17;
	expect_mem_refused(good, size, 76, &u32, 4, "M1 size");
	u32 = 250;
	expect_mem_refused(good, size, 80, &u32, 4, "window");
	u32 = 200;
	expect_mem_refused(good, size, 88, &u32, 4, "window");
	u32 = 16;
	expect_mem_refused(good, size, 92, &u32, 4, "stimulation");
	u32 = 3;
	expect_mem_refused(good, size, 104, &u32, 4, "blocks");
	u64 = size - 64; /* window block runs past the end */
	expect_mem_refused(good, size, 128, &u64, 8, "window block");
	u64 = 1000; /* misaligned state block */
	expect_mem_refused(good, size, 128 + 16, &u64, 8, "state block");
	u64 = 8; /* stats block too small */
	expect_mem_refused(good, size, 128 + 4 * 16 + 8, &u64, 8, "stats block");
	/* A ring header that disagrees with the segment header. */
	const struct ncp_shm_header *h = (const void *)good;
	u32 = 128;
	expect_mem_refused(good, size, h->blocks[NCP_SHM_BLK_WINDOW].offset + 8,
			   &u32, 4, "window ring");
	u32 = 3000;
	expect_mem_refused(good, size, h->blocks[NCP_SHM_BLK_ARM].offset + 8,
			   &u32, 4, "arm history ring");
	u32 = 64 * 3;
	expect_mem_refused(good, size, h->blocks[NCP_SHM_BLK_TRAIN].offset + 12,
			   &u32, 4, "training history ring");

	free(good);
	ncp_shm_writer_free(w);
}
END_TEST

/* Random damage to the header and ring headers never makes a reader read
 * outside the segment (ASan checks the reads of the private copy). */
START_TEST(random_corruption_stays_in_bounds)
{
	char name[80];
	struct ncp_shm_writer *w;
	unsigned char *good, *c, *buf;
	size_t size;
	unsigned accepted = 0;
	uint64_t x = 88172645463325252ull;

	w = make_writer(tname(name, sizeof(name), "-fuzz"));
	push_steps(w, 0, 300);
	size = ncp_shm_writer_size(w);
	good = malloc(size);
	c = malloc(size);
	memcpy(good, ncp_shm_writer_base(w), size);
	const struct ncp_shm_header *h = (const void *)good;
	size_t rings[3] = { h->blocks[NCP_SHM_BLK_WINDOW].offset,
			    h->blocks[NCP_SHM_BLK_ARM].offset,
			    h->blocks[NCP_SHM_BLK_TRAIN].offset };
	buf = malloc(1 << 20);
	for (int it = 0; it < 3000; it++) {
		memcpy(c, good, size);
		for (int k = 0; k < 1 + it % 4; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			size_t off = (x >> 8) % 3 ? (x >> 16) % 512
						  : rings[(x >> 20) % 3] + (x >> 24) % 16;
			c[off] = (unsigned char)(x >> 32);
		}
		struct ncp_shm_reader *r = ncp_shm_reader_from_mem(c, size, NULL, 0);
		if (!r)
			continue;
		accepted++;
		struct ncp_ring_span sp;
		size_t stride = ncp_shm_reader_window_stride(r);
		uint32_t wmax = ncp_shm_reader_header(r)->window_slots -
				NCP_SHM_WINDOW_MARGIN;
		if (wmax > (1 << 20) / stride)
			wmax = (uint32_t)((1 << 20) / stride);
		ncp_shm_reader_window(r, wmax, buf, 1 << 20, &sp);
		ncp_shm_reader_arm(r, 0, 4096, (void *)buf, &sp);
		ncp_shm_reader_train(r, 0, 1024, (void *)buf, &sp);
		struct ncp_shm_stats s;
		ncp_shm_reader_stats(r, &s);
		ncp_shm_reader_free(r);
	}
	/* Most damage lands in reserved or unchecked words; some is caught. */
	ck_assert_uint_gt(accepted, 100);
	ck_assert_uint_lt(accepted, 3000);
	free(buf);
	free(c);
	free(good);
	ncp_shm_writer_free(w);
}
END_TEST

static void on_segv(int sig)
{
	_exit(42);
}

START_TEST(reader_cannot_write)
{
	char name[80], err[256] = "";
	struct ncp_shm_writer *w;
	struct ncp_shm_reader *r;
	void *base;
	pid_t pid;
	int status;

	w = make_writer(tname(name, sizeof(name), "-ro"));
	r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	base = (void *)ncp_shm_reader_base(r);
	/* Opened O_RDONLY: the mapping cannot be made writable... */
	errno = 0;
	ck_assert_int_eq(mprotect(base, 4096, PROT_READ | PROT_WRITE), -1);
	ck_assert_int_eq(errno, EACCES);
	/* ...and a store faults (in a child, which we expect to die). */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sigaction sa = { .sa_handler = on_segv };
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		((volatile unsigned char *)base)[100] = 1;
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 42,
		      "a store into the reader's mapping did not fault");
	ck_assert_uint_eq(((const unsigned char *)ncp_shm_writer_base(w))[100], 0);
	ncp_shm_reader_free(r);
	ncp_shm_writer_free(w);
}
END_TEST

/* The stim block (1.3): sized by the electrodes, written and read back
 * with theta, alpha, their maxima and the lesion; E = 0 still has one. */
START_TEST(stim_block_round_trip)
{
	char name[80], err[256] = "";
	static unsigned char buf[NCP_SHM_STIM_MAX_SIZE];
	const struct ncp_shm_stim *b = (const void *)buf;

	ck_assert_uint_eq(ncp_shm_stim_size(0), 128);
	ck_assert_uint_eq(ncp_shm_stim_size(16), 256);
	ck_assert_uint_eq(ncp_shm_stim_size(17), 320);
	ck_assert_uint_eq(ncp_shm_stim_size(NCP_SHM_MAX_ELECTRODES),
			  NCP_SHM_STIM_MAX_SIZE);
	for (uint32_t E = 0; E <= 64; E += 16) {
		struct ncp_shm_writer_config cfg = { .name = name,
						     .stim_electrodes = E };
		tname(name, sizeof(name), "-stim");
		struct ncp_shm_writer *w = ncp_shm_writer_new(&cfg, err, sizeof(err));
		ck_assert_msg(w != NULL, "%s", err);
		struct ncp_shm_reader *r = ncp_shm_reader_open(name, err, sizeof(err));
		ck_assert_msg(r != NULL, "%s", err);
		const struct ncp_shm_header *h = ncp_shm_reader_header(r);
		ck_assert_uint_eq(h->abi_minor, NCP_SHM_ABI_MINOR);
		ck_assert_uint_eq(h->block_count, 8);
		ck_assert_uint_eq(h->obs_offset, 0);	/* no observation asked */
		ck_assert_uint_eq(h->stim_electrodes, E);
		ck_assert_uint_eq(h->blocks[NCP_SHM_BLK_STIM].size,
				  ncp_shm_stim_size(E));
		ck_assert_uint_ge(h->blocks[NCP_SHM_BLK_STIM].offset,
				  h->blocks[NCP_SHM_BLK_TRAIN].offset +
					  h->blocks[NCP_SHM_BLK_TRAIN].size);
		ck_assert_uint_eq(ncp_shm_reader_stim_size(r), ncp_shm_stim_size(E));
		ck_assert_int_eq(ncp_shm_reader_stim(r, buf, sizeof(buf)), -ENODATA);
		ck_assert_int_eq(ncp_shm_reader_stim(r, buf, ncp_shm_stim_size(E) - 8),
				 -EINVAL);

		double theta[64], alpha[64];
		for (uint32_t e = 0; e < E; e++) {
			theta[e] = e == 3 ? -1.75 : 0.25 * e / (double)E;
			alpha[e] = e == 5 ? 1.5 : -0.5 * e / (double)E;
		}
		struct ncp_shm_stim in = {
			.step = 77, .electrodes = 999, .source = NCP_SHM_STIM_ORACLE,
			.lesion_kind = NCP_SHM_LESION_M1_SILENCE,
			.lesion_fraction = 0.25, .lesion_neurons = 250, .max = 2.0,
			.theta_max_abs = 99,
		};
		ncp_shm_writer_put_stim(w, &in, theta, alpha);
		ck_assert_int_eq(ncp_shm_reader_stim(r, buf, sizeof(buf)), 0);
		ck_assert_uint_eq(b->step, 77);
		ck_assert_uint_eq(b->electrodes, E); /* the writer's, not the caller's */
		ck_assert_uint_eq(b->source, NCP_SHM_STIM_ORACLE);
		ck_assert_uint_eq(b->lesion_kind, NCP_SHM_LESION_M1_SILENCE);
		ck_assert_uint_eq(b->lesion_neurons, 250);
		ck_assert(b->lesion_fraction == 0.25 && b->max == 2.0);
		ck_assert(b->theta_max_abs == (E > 3 ? 1.75 : E ? 0.25 * (E - 1) / E : 0));
		ck_assert(b->alpha_max_abs == (E > 5 ? 1.5 : E ? 0.5 * (E - 1) / E : 0));
		for (uint32_t e = 0; e < E; e++) {
			ck_assert(b->v[e] == (float)theta[e]);
			ck_assert(b->v[E + e] == (float)alpha[e]);
		}
		/* NULL arrays publish zeros. */
		ncp_shm_writer_put_stim(w, &in, NULL, NULL);
		ck_assert_int_eq(ncp_shm_reader_stim(r, buf, sizeof(buf)), 0);
		ck_assert(b->theta_max_abs == 0 && b->alpha_max_abs == 0);
		for (uint32_t e = 0; e < 2 * E; e++)
			ck_assert(b->v[e] == 0);
		ncp_shm_reader_free(r);
		ncp_shm_writer_free(w);
	}
	struct ncp_shm_writer_config big = { .name = name,
					     .stim_electrodes = NCP_SHM_MAX_ELECTRODES + 1 };
	ck_assert(ncp_shm_writer_new(&big, err, sizeof(err)) == NULL);
	ck_assert_msg(strstr(err, "257 electrodes, at most 256"), "%s", err);
}
END_TEST

/* ABI 1.4: the observation at the end of each window slot and the
 * co-processor block. */
/* A 3-joint arm's segment: ABI 2.x, 8 arm values in the observation, the
 * wrist in the arm entries and the state block. */
START_TEST(three_joint_segment)
{
	char name[80], err[256] = "";
	const uint32_t R = 4, E = 2;
	struct ncp_shm_writer_config cfg = { .name = name, .stim_electrodes = E,
					     .rec_electrodes = R, .arm_joints = 3,
					     .arm_links = { 0.33, 0.26 },
					     .arm_link_hand = 0.19 };
	tname(name, sizeof(name), "-3j");
	struct ncp_shm_writer *w = ncp_shm_writer_new(&cfg, err, sizeof(err));
	ck_assert_msg(w != NULL, "%s", err);
	struct ncp_shm_reader *r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	const struct ncp_shm_header *h = ncp_shm_reader_header(r);
	ck_assert_uint_eq(h->abi_major, NCP_SHM_ABI_MAJOR_3J);
	ck_assert_uint_eq(ncp_shm_joints(h), 3);
	ck_assert(h->arm_link_hand == 0.19);
	size_t stride = ncp_shm_reader_window_stride(r);
	ck_assert_uint_eq(stride, 320 + 4 * (R + 8 + 2 + E));
	float rec[4] = { 1, 2, 3, 4 }, arm[8], tgt[2] = { 0.1f, 0.45f };
	float alpha[2] = { -1, -2 };
	for (int i = 0; i < 8; i++)
		arm[i] = 0.5f + (float)i;
	ncp_shm_writer_set_obs(w, rec, arm, tgt, alpha);
	push_steps(w, 0, 1);
	static unsigned char buf[512];
	struct ncp_ring_span span;
	ck_assert_int_eq(ncp_shm_reader_window(r, 1, buf, sizeof(buf), &span), 0);
	const float *o = ncp_shm_win_obs(ncp_shm_win_at(buf, stride, 0), h);
	for (int i = 0; i < 8; i++)
		ck_assert(o[R + i] == 0.5f + (float)i);
	ck_assert(o[R + 8] == 0.1f && o[R + 9] == 0.45f);
	ck_assert(o[R + 10] == -1.0f && o[R + 11] == -2.0f);
	ncp_shm_reader_free(r);
	ncp_shm_writer_free(w);
	/* An arm of 4 joints has no segment. */
	cfg.arm_joints = 4;
	ck_assert_ptr_null(ncp_shm_writer_new(&cfg, err, sizeof(err)));
	ck_assert_msg(strstr(err, "4 joints"), "%s", err);
}
END_TEST

START_TEST(obs_and_ncp_round_trip)
{
	char name[80], err[256] = "";
	const uint32_t R = 16, E = 16;
	struct ncp_shm_writer_config cfg = { .name = name, .stim_electrodes = E,
					     .rec_electrodes = R };
	tname(name, sizeof(name), "-obs");
	ck_assert_uint_eq(ncp_shm_win_obs_copy_size(1000, 0, 16, 2), 320);
	ck_assert_uint_eq(ncp_shm_win_obs_copy_size(1000, 16, 16, 2), 320 + 160);
	ck_assert_uint_eq(ncp_shm_win_obs_copy_size(1000, 16, 16, 3), 320 + 168);
	ck_assert_uint_eq(ncp_shm_win_obs_slot_size(1000, 16, 16, 2), 512);
	ck_assert_uint_eq(ncp_shm_win_obs_copy_size(1000, 1, 0, 2), 320 + 40);
	struct ncp_shm_writer *w = ncp_shm_writer_new(&cfg, err, sizeof(err));
	ck_assert_msg(w != NULL, "%s", err);
	struct ncp_shm_reader *r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	const struct ncp_shm_header *h = ncp_shm_reader_header(r);
	ck_assert_uint_eq(h->obs_offset, 320);
	ck_assert_uint_eq(h->rec_electrodes, R);
	ck_assert_uint_eq(h->window_slot_size, 512);
	size_t stride = ncp_shm_reader_window_stride(r);
	ck_assert_uint_eq(stride, 480);

	float rec[16], alpha[16], arm[6], tgt[2];
	static unsigned char buf[480 * 4];
	struct ncp_ring_span span;
	for (uint64_t k = 0; k < 4; k++) {
		for (uint32_t i = 0; i < 16; i++) {
			rec[i] = (float)(k * 100 + i);
			alpha[i] = -(float)(k * 10 + i);
		}
		for (int i = 0; i < 6; i++)
			arm[i] = (float)k + 0.125f * (float)i;
		tgt[0] = (float)k;
		tgt[1] = -(float)k;
		ncp_shm_writer_set_obs(w, rec, arm, tgt, k == 3 ? NULL : alpha);
		push_steps(w, k, k + 1);
	}
	ck_assert_int_eq(ncp_shm_reader_window(r, 4, buf, sizeof(buf), &span), 0);
	ck_assert_uint_eq(span.count, 4);
	for (uint64_t k = 0; k < 4; k++) {
		const struct ncp_shm_win_slot *ws = ncp_shm_win_at(buf, stride, k);
		check_slot(ws, k);
		const float *o = ncp_shm_win_obs(ws, h);
		ck_assert_ptr_nonnull(o);
		for (uint32_t i = 0; i < R; i++)
			ck_assert(o[i] == (float)(k * 100 + i));
		for (int i = 0; i < 6; i++)
			ck_assert(o[R + i] == (float)k + 0.125f * (float)i);
		ck_assert(o[R + 6] == (float)k && o[R + 7] == -(float)k);
		for (uint32_t i = 0; i < E; i++)
			ck_assert(o[R + 8 + i] == (k == 3 ? 0.0f :
						   -(float)(k * 10 + i)));
	}

	struct ncp_shm_ncp in = { .step = 41, .loaded = 1, .on = 1,
				  .phase = NCP_SHM_NCP_PERTURBED,
				  .latency_us = 12.5, .thetas = 40,
				  .recovery = 87.5, .reaches = { 3, 4, 5 } };
	struct ncp_shm_ncp out;
	memset(in.model, 'x', sizeof(in.model));	/* cut to 31 + NUL */
	ck_assert_int_eq(ncp_shm_reader_ncp(r, &out), -ENODATA);
	ncp_shm_writer_put_ncp(w, &in);
	ck_assert_int_eq(ncp_shm_reader_ncp(r, &out), 0);
	ck_assert_uint_eq(out.step, 41);
	ck_assert_uint_eq(out.on, 1);
	ck_assert_uint_eq(out.phase, NCP_SHM_NCP_PERTURBED);
	ck_assert(out.latency_us == 12.5 && out.recovery == 87.5);
	ck_assert_uint_eq(out.reaches[2], 5);
	ck_assert_uint_eq(strlen(out.model), sizeof(out.model) - 1);
	ncp_shm_reader_free(r);
	ncp_shm_writer_free(w);

	struct ncp_shm_writer_config big = { .name = name,
					     .rec_electrodes = NCP_SHM_MAX_ELECTRODES + 1 };
	ck_assert(ncp_shm_writer_new(&big, err, sizeof(err)) == NULL);
	ck_assert_msg(strstr(err, "257 recording electrodes, at most 256"), "%s",
		      err);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("shm");
	TCase *tc = tcase_create("shm");

	snprintf(prefix, sizeof(prefix), "/ncpd-test-shm-%d", (int)getpid());
	tcase_add_unchecked_fixture(tc, NULL, remove_leftovers);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, abi_helpers);
	tcase_add_test(tc, create_attach_and_read_back);
	tcase_add_test(tc, blocks_round_trip);
	tcase_add_test(tc, stim_block_round_trip);
	tcase_add_test(tc, obs_and_ncp_round_trip);
	tcase_add_test(tc, live_owner_refused);
	tcase_add_test(tc, stale_segment_replaced);
	tcase_add_test(tc, stopped_segment_replaced);
	tcase_add_test(tc, clean_exit_unlinks);
	tcase_add_test(tc, bad_segments_refused);
	tcase_add_test(tc, corrupt_headers_refused);
	tcase_add_test(tc, random_corruption_stays_in_bounds);
	tcase_add_test(tc, reader_cannot_write);
	tcase_add_test(tc, three_joint_segment);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
