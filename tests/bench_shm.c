/* Benchmarks of the shared-memory segment: what publishing a step costs
 * the loop, with 0, 1 and 4 reader processes copying 100 x 1000 windows
 * (and reading the state block) back to back, and what a window snapshot
 * costs a reader.  One JSON object per line on stdout.
 *
 * The writer runs as the loop does: one step per millisecond (absolute
 * clock_nanosleep), each publication timed on its own; also back to back
 * (steady state, cache lines bouncing as fast as they can).  Costs have
 * the clock's own overhead (timer_ns, measured) subtracted. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shm/ncp_shm.h"
#include "shm/ncp_shm_reader.h"
#include "shm/ncp_shm_writer.h"

#define NEURONS 1000
#define WINDOW 100
#define ELECTRODES 16 /* stim.electrodes, the default */
#define RATE_HZ 13.6      /* M1's mean rate: 13.6 spikes per 1 ms step */
#define PACED_STEPS 1500  /* 1.5 s at 1 kHz per configuration */
#define FAST_STEPS 200000
#define MAX_READERS 4
#define SNAP_SAMPLES 20000

struct reader_report {
	_Alignas(64) _Atomic int ready;
	_Atomic uint64_t snapshots;
	double snap_median_us, snap_p99_us;
};

static struct {
	_Alignas(64) _Atomic int stop;
	struct reader_report r[MAX_READERS];
} *sh;

static char seg_name[64];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* The q-quantile of n samples (sorts them). */
static uint64_t quantile(uint64_t *v, size_t n, double q)
{
	size_t i;

	qsort(v, n, sizeof(*v), cmp_u64);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static double uniform(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double)(rng_state >> 11) * (1.0 / 9007199254740992.0);
}

/* A Poisson(RATE_HZ) number of distinct random neurons. */
static uint32_t draw_spikes(uint32_t *idx)
{
	double l = exp(-RATE_HZ), p = uniform();
	uint32_t n = 0;

	while (p > l && n < 64) {
		p *= uniform();
		n++;
	}
	for (uint32_t i = 0; i < n; i++)
		idx[i] = (uint32_t)(uniform() * NEURONS);
	return n;
}

/* A reader process: window snapshots and state reads back to back; the
 * first SNAP_SAMPLES snapshots are timed. */
static void reader_main(int i)
{
	char err[256];
	struct ncp_shm_reader *r = ncp_shm_reader_open(seg_name, err, sizeof(err));
	struct reader_report *rep = &sh->r[i];
	uint64_t *t = calloc(SNAP_SAMPLES, sizeof(*t));
	unsigned char *buf;
	size_t stride, n = 0, timed = 0;
	struct ncp_shm_state st;

	if (!r || !t) {
		fprintf(stderr, "bench reader: %s\n", r ? "out of memory" : err);
		_exit(2);
	}
	stride = ncp_shm_reader_window_stride(r);
	buf = malloc(WINDOW * stride);
	atomic_store(&rep->ready, 1);
	while (!atomic_load_explicit(&sh->stop, memory_order_relaxed)) {
		struct ncp_ring_span sp;
		uint64_t t0 = now_ns();

		ncp_shm_reader_window(r, WINDOW, buf, WINDOW * stride, &sp);
		if (timed < SNAP_SAMPLES && sp.count == WINDOW)
			t[timed++] = now_ns() - t0;
		ncp_shm_reader_state(r, &st);
		n++;
	}
	if (timed) {
		rep->snap_median_us = (double)quantile(t, timed, 0.5) / 1e3;
		rep->snap_p99_us = (double)quantile(t, timed, 0.99) / 1e3;
	}
	atomic_store(&rep->snapshots, n);
	ncp_shm_reader_free(r);
	_exit(0);
}

/* Median cost of an empty timed region. */
static uint64_t timer_overhead(void)
{
	uint64_t v[10001];

	for (int i = 0; i < 10001; i++) {
		uint64_t t0 = now_ns();
		v[i] = now_ns() - t0;
	}
	return quantile(v, 10001, 0.5);
}

static uint64_t sub(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

struct step_costs {
	uint64_t *window, *state, *arm, *stim, *all;
};

/* One loop step's publications, each timed. */
static void publish_step(struct ncp_shm_writer *w, uint64_t k,
			 struct step_costs *c, size_t i, uint64_t timer)
{
	uint32_t idx[64];
	uint32_t n = draw_spikes(idx);
	struct ncp_shm_state st = { .step = k, .t = (double)k * 1e-3,
				    .m1_spikes = n };
	struct ncp_shm_arm_entry arm = { .step = k, .pred_hand = { NAN, NAN } };
	struct ncp_shm_stim sb = { .step = k, .max = 20 };
	double theta[ELECTRODES], alpha[ELECTRODES];
	uint64_t t0, t1, t2, t3, t4;

	for (int e = 0; e < ELECTRODES; e++) {
		theta[e] = 0.01 * (double)((k + (uint64_t)e) % 7);
		alpha[e] = 0.3 * theta[e];
	}

	t0 = now_ns();
	if (ncp_shm_writer_push_spikes(w, k, idx, n, NULL, 0))
		abort();
	t1 = now_ns();
	ncp_shm_writer_put_state(w, &st);
	t2 = now_ns();
	ncp_shm_writer_push_arm(w, &arm);
	t3 = now_ns();
	ncp_shm_writer_put_stim(w, &sb, theta, alpha);
	t4 = now_ns();
	c->window[i] = sub(t1 - t0, timer);
	c->state[i] = sub(t2 - t1, timer);
	c->arm[i] = sub(t3 - t2, timer);
	c->stim[i] = sub(t4 - t3, timer);
	c->all[i] = sub(t4 - t0, timer);
}

static void print_costs(const char *bench, const char *mode, int readers,
			uint64_t *v, size_t n, uint64_t timer)
{
	uint64_t max = quantile(v, n, 1.0);

	printf("{\"bench\":\"%s\",\"mode\":\"%s\",\"readers\":%d,"
	       "\"neurons\":%d,\"spikes_per_step\":%.1f,\"steps\":%zu,"
	       "\"median_ns\":%llu,\"p99_ns\":%llu,\"max_ns\":%llu,"
	       "\"timer_ns\":%llu}\n",
	       bench, mode, readers, NEURONS, RATE_HZ, n,
	       (unsigned long long)quantile(v, n, 0.5),
	       (unsigned long long)quantile(v, n, 0.99),
	       (unsigned long long)max, (unsigned long long)timer);
}

static int run_config(int readers, uint64_t timer)
{
	struct ncp_shm_writer_config cfg = { .name = seg_name,
					     .m1_neurons = NEURONS,
					     .window_len = WINDOW,
					     .stim_electrodes = ELECTRODES };
	char err[256];
	struct ncp_shm_writer *w = ncp_shm_writer_new(&cfg, err, sizeof(err));
	pid_t pids[MAX_READERS];
	struct step_costs c;
	size_t cap = FAST_STEPS;
	struct timespec next;
	uint64_t k = 0;

	if (!w) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	c.window = calloc(cap, sizeof(uint64_t));
	c.state = calloc(cap, sizeof(uint64_t));
	c.arm = calloc(cap, sizeof(uint64_t));
	c.stim = calloc(cap, sizeof(uint64_t));
	c.all = calloc(cap, sizeof(uint64_t));
	memset(sh, 0, sizeof(*sh));
	for (; k < 2 * WINDOW; k++)
		publish_step(w, k, &c, 0, timer);
	for (int i = 0; i < readers; i++) {
		pids[i] = fork();
		if (pids[i] == 0)
			reader_main(i);
	}
	for (int i = 0; i < readers; i++)
		while (!atomic_load(&sh->r[i].ready))
			usleep(1000);

	/* As the loop runs: one step per millisecond. */
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (size_t i = 0; i < PACED_STEPS; i++, k++) {
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next,
				       NULL) == EINTR)
			;
		publish_step(w, k, &c, i, timer);
	}
	print_costs("shm_window_push", "paced_1khz", readers, c.window,
		    PACED_STEPS, timer);
	print_costs("shm_state_write", "paced_1khz", readers, c.state,
		    PACED_STEPS, timer);
	print_costs("shm_arm_push", "paced_1khz", readers, c.arm,
		    PACED_STEPS, timer);
	print_costs("shm_stim_write", "paced_1khz", readers, c.stim,
		    PACED_STEPS, timer);
	print_costs("shm_step_publish", "paced_1khz", readers, c.all,
		    PACED_STEPS, timer);

	/* Back to back. */
	for (size_t i = 0; i < FAST_STEPS; i++, k++)
		publish_step(w, k, &c, i, timer);
	print_costs("shm_window_push", "back_to_back", readers, c.window,
		    FAST_STEPS, timer);
	print_costs("shm_state_write", "back_to_back", readers, c.state,
		    FAST_STEPS, timer);

	atomic_store(&sh->stop, 1);
	for (int i = 0; i < readers; i++) {
		int st;

		waitpid(pids[i], &st, 0);
		if (!WIFEXITED(st) || WEXITSTATUS(st))
			fprintf(stderr, "bench reader %d failed\n", i);
	}
	if (readers) {
		double med = 0, p99 = 0;
		uint64_t snaps = 0;

		for (int i = 0; i < readers; i++) {
			med += sh->r[i].snap_median_us / readers;
			p99 = fmax(p99, sh->r[i].snap_p99_us);
			snaps += atomic_load(&sh->r[i].snapshots);
		}
		printf("{\"bench\":\"shm_snapshot\",\"readers\":%d,"
		       "\"window\":%d,\"neurons\":%d,\"snapshots\":%llu,"
		       "\"median_us\":%.2f,\"p99_us\":%.2f}\n",
		       readers, WINDOW, NEURONS, (unsigned long long)snaps,
		       med, p99);
	}
	fflush(stdout);
	free(c.window);
	free(c.state);
	free(c.arm);
	free(c.stim);
	free(c.all);
	ncp_shm_writer_free(w);
	return 0;
}

int main(void)
{
	static const int configs[] = { 0, 1, 4 };
	uint64_t timer;
	int failed = 0;

	snprintf(seg_name, sizeof(seg_name), "/ncpd-bench-%d", (int)getpid());
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		perror("mmap");
		return 1;
	}
	timer = timer_overhead();
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
		failed |= run_config(configs[i], timer);
	return failed;
}
