/* Stress: one writer at full speed, readers snapshotting 100-step windows.
 *
 * Every window slot's content derives from its step (one spike in each
 * bitset word at a hashed position, 32 stimulation values, counts), so a
 * torn slot or a window that mixes entries is detected.  The test fails
 * if any accepted window has a wrong slot.
 *
 *   stress_ring                 processes (4 readers, 10^7 snapshots; 10^6
 *                               in sanitizer builds), a reader SIGKILLed
 *                               mid-copy, then threads
 *   stress_ring --threads       threads only (writer + 4 reader threads)
 *   stress_ring --snapshots N   the total to reach
 *
 * Under ThreadSanitizer it runs the threads mode only, 3 * 10^4 snapshots
 * (TSan exits non-zero on any report). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/ncp_ring.h"
#include "shm/ncp_shm.h"
#include "shm/ncp_shm_reader.h"
#include "shm/ncp_shm_writer.h"

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#else
#define UNDER_TSAN 0
#endif
#if defined(__SANITIZE_ADDRESS__) || defined(NCP_SANITIZED)
#define UNDER_SANITIZER 1
#else
#define UNDER_SANITIZER 0
#endif

#define READERS 4
#define WINDOW 100
#define NEURONS 1000
#define WORDS 16
#define TIME_CAP_S 600.0 /* a hang guard, far above the expected ~30 s */

/* Shared between the writer and the readers (an anonymous shared mapping
 * in processes mode, plain memory in threads mode). */
struct counters {
	_Alignas(64) _Atomic uint64_t snapshots;
	_Atomic uint64_t retries; /* attempts thrown away: lapped */
	_Atomic uint64_t gave_up; /* public-API reads that returned -EAGAIN */
	_Atomic uint64_t bad;     /* accepted windows with a wrong slot */
	_Atomic int ready;
};

struct shared {
	_Alignas(64) _Atomic int stop;
	struct counters c[READERS + 1];
};

static const char *const_name;
static struct shared *sh;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Step k's body (stimulation and spikes) repeats every PERIOD steps; its
 * step and sequence words never do.  Entries that share a slot are a
 * multiple of 256 steps apart, so their bodies differ unless they are 16
 * laps apart, and even then the step words tell them apart. */
#define PERIOD 4096
#define BODY_OFF 32 /* reserved words, stimulation, bitset (not t_ns: a time) */
#define BODY_LEN (offsetof(struct ncp_shm_win_slot, bits) + 8 * WORDS - BODY_OFF)

/* The expected slot bodies, so a reader checks a slot with one memcmp. */
static unsigned char (*expected)[BODY_LEN];

/* The bit of word j that spikes at step k. */
static inline unsigned spike_bit(uint64_t k, unsigned j)
{
	uint64_t h = (k % PERIOD + 1) * 0x9E3779B97F4A7C15ull +
		     (uint64_t)(j + 1) * 0xBF58476D1CE4E5B9ull;
	unsigned b = (unsigned)(h >> 58);

	return j == WORDS - 1 ? b % (NEURONS - 64 * (WORDS - 1)) : b;
}

static inline float stim_value(uint64_t k, unsigned c)
{
	return (float)((uint32_t)(k % PERIOD) * NCP_SHM_STIM_CHANNELS + c);
}

static void make_expected(void)
{
	expected = calloc(PERIOD, BODY_LEN);
	if (!expected)
		abort();
	for (uint64_t k = 0; k < PERIOD; k++) {
		unsigned char slot[offsetof(struct ncp_shm_win_slot, bits) + 8 * WORDS]
			__attribute__((aligned(8))) = { 0 };
		struct ncp_shm_win_slot *s = (struct ncp_shm_win_slot *)slot;

		for (unsigned c = 0; c < NCP_SHM_STIM_CHANNELS; c++)
			s->stim[c] = stim_value(k, c);
		for (unsigned j = 0; j < WORDS; j++)
			s->bits[j] = (uint64_t)1 << spike_bit(k, j);
		memcpy(expected[k], slot + BODY_OFF, BODY_LEN);
	}
}

static void push_step(struct ncp_shm_writer *w, uint64_t k)
{
	uint32_t idx[WORDS];
	float stim[NCP_SHM_STIM_CHANNELS];

	for (unsigned j = 0; j < WORDS; j++)
		idx[j] = 64 * j + spike_bit(k, j);
	for (unsigned c = 0; c < NCP_SHM_STIM_CHANNELS; c++)
		stim[c] = stim_value(k, c);
	if (ncp_shm_writer_push_spikes(w, k, idx, WORDS, stim,
				       NCP_SHM_STIM_CHANNELS)) {
		fprintf(stderr, "push of step %llu refused\n",
			(unsigned long long)k);
		abort();
	}
}

/* Whether a slot copy is exactly entry k as the writer made it. */
static bool slot_ok(const struct ncp_shm_win_slot *s, uint64_t k)
{
	uint64_t diff = (s->seq ^ (2 * k + 2)) | (s->step ^ k) |
			(s->spike_count ^ WORDS) |
			(s->stim_count ^ NCP_SHM_STIM_CHANNELS);

	return diff == 0 && !memcmp((const unsigned char *)s + BODY_OFF,
				    expected[k % PERIOD], BODY_LEN);
}

/* Check a window: consecutive steps, each exactly right.  Returns the
 * number of bad slots (0 for a good window). */
static unsigned check_window(const unsigned char *buf, size_t stride,
			     struct ncp_ring_span sp)
{
	unsigned bad = 0;

	for (uint32_t i = 0; i < sp.count; i++)
		bad += !slot_ok(ncp_shm_win_at(buf, stride, i), sp.first + i);
	if (bad)
		fprintf(stderr, "BAD window [%llu, +%u): %u wrong slots\n",
			(unsigned long long)sp.first, sp.count, bad);
	return bad;
}

/* A reader: snapshot windows until told to stop or `quota` is reached.
 * Most snapshots go through the ring's steps so retries can be counted;
 * one in eight through the public ncp_shm_reader_window(). */
static void reader_loop(const struct ncp_shm_reader *r, struct counters *c,
			uint64_t quota)
{
	const struct ncp_shm_header *h = ncp_shm_reader_header(r);
	const unsigned char *base = ncp_shm_reader_base(r);
	size_t stride = ncp_shm_reader_window_stride(r);
	unsigned char *buf = malloc(WINDOW * stride);
	struct ncp_ring_reader ring;
	uint64_t n = 0, retries = 0, gave_up = 0, bad = 0;

	if (!buf || ncp_ring_reader_init(&ring,
					 base + h->blocks[NCP_SHM_BLK_WINDOW].offset,
					 h->blocks[NCP_SHM_BLK_WINDOW].size)) {
		fprintf(stderr, "reader set-up failed\n");
		exit(2);
	}
	atomic_store(&c->ready, 1);
	while (n < quota && !atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		struct ncp_ring_span sp;

		if (n % 8 == 7) {
			int rc = ncp_shm_reader_window(r, WINDOW, buf,
						       WINDOW * stride, &sp);
			if (rc == -EAGAIN) {
				gave_up++;
				continue;
			}
			if (rc) {
				fprintf(stderr, "window read: %d\n", rc);
				exit(2);
			}
		} else {
			for (;;) {
				sp = ncp_ring_read_span(&ring, 0, WINDOW);
				if (ncp_ring_read_copy(&ring, sp, buf, stride) &&
				    ncp_ring_read_validate(&ring, sp))
					break;
				retries++;
			}
		}
		if (sp.count < WINDOW)
			continue; /* the writer has not filled a window yet */
		bad += check_window(buf, stride, sp) != 0;
		n++;
		if (n % 1024 == 0) {
			atomic_store_explicit(&c->snapshots, n, memory_order_relaxed);
			atomic_store_explicit(&c->retries, retries, memory_order_relaxed);
			atomic_store_explicit(&c->gave_up, gave_up, memory_order_relaxed);
			atomic_store_explicit(&c->bad, bad, memory_order_relaxed);
		}
	}
	atomic_store(&c->snapshots, n);
	atomic_store(&c->retries, retries);
	atomic_store(&c->gave_up, gave_up);
	atomic_store(&c->bad, bad);
	free(buf);
}

static uint64_t total(size_t field_off, int n)
{
	uint64_t t = 0;

	for (int i = 0; i < n; i++)
		t += atomic_load((_Atomic uint64_t *)((char *)&sh->c[i] + field_off));
	return t;
}

static void print_counts(const char *mode, double secs, uint64_t steps)
{
	printf("%s: %llu snapshots of %d steps, %llu retries (lapped), "
	       "%llu public reads gave up, %llu bad windows accepted, "
	       "%llu steps written, %.1f s\n",
	       mode, (unsigned long long)total(offsetof(struct counters, snapshots), READERS),
	       WINDOW, (unsigned long long)total(offsetof(struct counters, retries), READERS),
	       (unsigned long long)total(offsetof(struct counters, gave_up), READERS),
	       (unsigned long long)total(offsetof(struct counters, bad), READERS),
	       (unsigned long long)steps, secs);
	fflush(stdout);
}

static struct ncp_shm_writer *make_writer(void)
{
	struct ncp_shm_writer_config cfg = { .name = const_name,
					     .m1_neurons = NEURONS,
					     .window_len = WINDOW };
	char err[256];
	struct ncp_shm_writer *w = ncp_shm_writer_new(&cfg, err, sizeof(err));

	if (!w) {
		fprintf(stderr, "%s\n", err);
		exit(2);
	}
	ncp_shm_writer_set_state(w, NCP_SHM_STATE_RUNNING);
	return w;
}

static pid_t spawn_reader(int i, uint64_t quota)
{
	pid_t pid = fork();

	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		char err[256];
		struct ncp_shm_reader *r =
			ncp_shm_reader_open(const_name, err, sizeof(err));

		if (!r) {
			fprintf(stderr, "reader %d: %s\n", i, err);
			_exit(2);
		}
		reader_loop(r, &sh->c[i], quota);
		ncp_shm_reader_free(r);
		_exit(0);
	}
	return pid;
}

/* Push steps until `done` says so (checked every 4096 steps). */
static uint64_t write_until(struct ncp_shm_writer *w, uint64_t k,
			    bool (*done)(void *), void *arg)
{
	for (;;) {
		for (int i = 0; i < 4096; i++, k++)
			push_step(w, k);
		if (done(arg))
			return k;
	}
}

struct until {
	double end;
	uint64_t target;
	bool capped;
};

static bool target_reached(void *arg)
{
	struct until *u = arg;

	if (total(offsetof(struct counters, snapshots), READERS) >= u->target)
		return true;
	if (now_s() > u->end) {
		u->capped = true;
		return true;
	}
	return false;
}

static bool time_reached(void *arg)
{
	return now_s() >= *(double *)arg;
}

/* 4 reader processes against the writer (this process). */
static int run_processes(uint64_t target)
{
	struct ncp_shm_writer *w = make_writer();
	pid_t pids[READERS];
	struct until u = { .target = target };
	double t0 = now_s();
	uint64_t k = 0;
	int failed = 0;

	/* A first window, so readers start on full windows. */
	for (; k < 4 * WINDOW; k++)
		push_step(w, k);
	for (int i = 0; i < READERS; i++)
		pids[i] = spawn_reader(i, UINT64_MAX);
	u.end = t0 + TIME_CAP_S;
	k = write_until(w, k, target_reached, &u);
	atomic_store(&sh->stop, 1);
	for (int i = 0; i < READERS; i++) {
		int st;

		while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(st) || WEXITSTATUS(st)) {
			fprintf(stderr, "reader process %d failed (status %#x)\n",
				i, st);
			failed = 1;
		}
	}
	print_counts("processes", now_s() - t0, k);
	if (total(offsetof(struct counters, bad), READERS)) {
		fprintf(stderr, "FAIL: torn or mixed windows were accepted\n");
		failed = 1;
	}
	if (total(offsetof(struct counters, snapshots), READERS) < target) {
		fprintf(stderr, "FAIL: %llu snapshots, fewer than %llu "
			"within %.0f s\n",
			(unsigned long long)total(offsetof(struct counters, snapshots), READERS),
			(unsigned long long)target, TIME_CAP_S);
		failed = 1;
	}
	ncp_shm_writer_free(w);
	return failed;
}

/* Readers SIGKILLed in the middle of their copies: a reader holds nothing
 * the writer could wait for, so right after its death the writer goes on:
 * KILL_STEPS steps (many laps of the ring) must be written well within
 * KILL_GUARD_S, a hang guard far above their time on a loaded machine
 * (under 1 s).  The rates with the reader running and after its death
 * are printed; they are not compared (a shared machine makes them noisy). */
#define KILL_STEPS 200000
#define KILL_GUARD_S 20.0
static int run_kill(void)
{
	struct ncp_shm_writer *w = make_writer();
	uint64_t k = 0;
	int failed = 0;
	double worst = 1e9;

	for (; k < 4 * WINDOW; k++)
		push_step(w, k);
	for (int round = 0; round < 5; round++) {
		struct counters *c = &sh->c[READERS];
		double t, end, before, after;
		uint64_t k0;
		pid_t pid;
		int st;

		atomic_store(&sh->stop, 0);
		atomic_store(&c->ready, 0);
		pid = spawn_reader(READERS, UINT64_MAX);
		while (!atomic_load(&c->ready)) /* attached: copying from now */
			push_step(w, k++);
		/* 200 ms with the reader copying back to back. */
		t = now_s();
		end = t + 0.2;
		k0 = k;
		k = write_until(w, k, time_reached, &end);
		before = (double)(k - k0) / (now_s() - t);
		/* Kill it (it spends nearly all its time inside a copy). */
		kill(pid, SIGKILL);
		t = now_s();
		alarm((unsigned)KILL_GUARD_S + 1); /* a blocked writer dies */
		for (uint64_t i = 0; i < KILL_STEPS; i++)
			push_step(w, k++);
		alarm(0);
		t = now_s() - t;
		after = KILL_STEPS / t;
		if (t > KILL_GUARD_S) {
			fprintf(stderr, "FAIL: the writer took %.1f s for %d steps "
				"after a reader was killed\n", t, KILL_STEPS);
			failed = 1;
		}
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
			fprintf(stderr, "victim reader did not die by SIGKILL\n");
			failed = 1;
		}
		printf("kill round %d: writer %.2f Msteps/s with the reader, "
		       "%.2f Msteps/s after SIGKILL (victim made %llu "
		       "snapshots)\n", round, before / 1e6, after / 1e6,
		       (unsigned long long)atomic_load(&c->snapshots));
		if (after / before < worst)
			worst = after / before;
	}
	printf("kill: worst rate after/before %.2f, %llu steps written\n",
	       worst, (unsigned long long)k);
	ncp_shm_writer_free(w);
	return failed;
}

struct thread_arg {
	const struct ncp_shm_reader *r;
	struct counters *c;
	uint64_t quota;
	struct ncp_shm_writer *w;
	uint64_t steps;
};

static void *reader_thread(void *p)
{
	struct thread_arg *a = p;

	reader_loop(a->r, a->c, a->quota);
	return NULL;
}

static void *writer_thread(void *p)
{
	struct thread_arg *a = p;
	uint64_t k = ncp_shm_writer_steps(a->w);

	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		for (int i = 0; i < 256; i++, k++)
			push_step(a->w, k);
	}
	a->steps = k;
	return NULL;
}

/* A writer thread and 4 reader threads on one mapping (so that
 * ThreadSanitizer sees every access). */
static int run_threads(uint64_t target)
{
	struct ncp_shm_writer *w = make_writer();
	struct ncp_shm_reader *r;
	struct thread_arg wa = { .w = w }, ra[READERS];
	pthread_t wt, rt[READERS];
	char err[256];
	double t0 = now_s();
	int failed = 0;

	for (uint64_t k = 0; k < 4 * WINDOW; k++)
		push_step(w, k);
	r = ncp_shm_reader_from_mem(ncp_shm_writer_base(w),
				    ncp_shm_writer_size(w), err, sizeof(err));
	if (!r) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	memset(sh, 0, sizeof(*sh));
	if (pthread_create(&wt, NULL, writer_thread, &wa)) {
		fprintf(stderr, "pthread_create failed\n");
		return 1;
	}
	for (int i = 0; i < READERS; i++) {
		ra[i] = (struct thread_arg){ .r = r, .c = &sh->c[i],
					     .quota = target / READERS };
		pthread_create(&rt[i], NULL, reader_thread, &ra[i]);
	}
	for (int i = 0; i < READERS; i++)
		pthread_join(rt[i], NULL);
	atomic_store(&sh->stop, 1);
	pthread_join(wt, NULL);
	print_counts("threads", now_s() - t0, ncp_shm_writer_steps(w));
	if (total(offsetof(struct counters, bad), READERS)) {
		fprintf(stderr, "FAIL: torn or mixed windows were accepted\n");
		failed = 1;
	}
	if (total(offsetof(struct counters, snapshots), READERS) < target) {
		fprintf(stderr, "FAIL: fewer snapshots than %llu\n",
			(unsigned long long)target);
		failed = 1;
	}
	ncp_shm_reader_free(r);
	ncp_shm_writer_free(w);
	return failed;
}

int main(int argc, char **argv)
{
	bool threads_only = UNDER_TSAN;
	/* Sanitizers slow the copies 3x (UBSan) to 100x (TSan): fewer there. */
	uint64_t target = UNDER_SANITIZER ? 1000000 : 10000000;
	uint64_t thread_target = UNDER_TSAN ? 30000 : UNDER_SANITIZER ? 100000 : 400000;
	static char name[64];
	int failed = 0;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--threads")) {
			threads_only = true;
		} else if (!strcmp(argv[i], "--snapshots") && i + 1 < argc) {
			target = strtoull(argv[++i], NULL, 10);
			thread_target = target;
		} else {
			fprintf(stderr, "usage: %s [--threads] [--snapshots N]\n",
				argv[0]);
			return 2;
		}
	}
	snprintf(name, sizeof(name), "/ncpd-stress-%d", (int)getpid());
	const_name = name;
	make_expected();
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	memset(sh, 0, sizeof(*sh));
	if (!threads_only) {
		failed |= run_processes(target);
		memset(sh, 0, sizeof(*sh));
		failed |= run_kill();
		memset(sh, 0, sizeof(*sh));
	}
	failed |= run_threads(thread_target);
	printf("%s\n", failed ? "FAIL" : "PASS");
	return failed;
}
