/* Stress: the SPSC queue between two threads, sequence-numbered records.
 *
 * Two phases on a small queue (so it is often full and often empty):
 *   lossy     the producer never waits: a full queue drops the record; the
 *             consumer must see strictly increasing sequence numbers whose
 *             gaps add up to exactly the drops the queue counted;
 *   lossless  the producer retries until a push succeeds; the consumer
 *             must see every sequence number once, in order.
 * Every record carries a payload derived from its number, checked on pop,
 * so a torn or stale slot is caught.  Also run under ThreadSanitizer by
 * make test (build/thread/tests/stress_spsc).
 *
 * Usage: stress_spsc [RECORDS]   (default 2000000, 200000 in sanitizer
 *                                 builds) */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ncp_spsc.h"
#include "models/base/ncp_base.h"

#if defined(__SANITIZE_THREAD__) || defined(NCP_SANITIZED)
#define DEFAULT_RECORDS 200000
#else
#define DEFAULT_RECORDS 2000000
#endif

struct rec {
	uint64_t seq;
	uint64_t words[7]; /* seq * (k + 1) ^ a constant: checked on pop */
};

struct run {
	struct ncp_spsc *q;
	uint64_t records;
	bool lossless;
	_Atomic bool done;	   /* the producer has finished */
	uint64_t producer_drops;   /* pushes that failed (lossy) */
	uint64_t producer_retries; /* pushes that failed (lossless) */
	uint64_t received, gaps, errors;
};

static void fill(struct rec *r, uint64_t seq)
{
	r->seq = seq;
	for (int k = 0; k < 7; k++)
		r->words[k] = seq * (uint64_t)(k + 1) ^ 0x9e3779b97f4a7c15u;
}

static void *producer(void *arg)
{
	struct run *run = arg;
	struct rec r;

	for (uint64_t seq = 0; seq < run->records; seq++) {
		fill(&r, seq);
		while (!ncp_spsc_try_push(run->q, &r)) {
			if (!run->lossless) {
				/* Yield after runs of drops, so the
				 * consumer runs even on a busy core. */
				if (++run->producer_drops % 16 == 0)
					sched_yield();
				break;
			}
			run->producer_retries++;
			if (run->producer_retries % 64 == 0)
				sched_yield();
		}
		/* Now and then a pause, so the consumer finds it empty. */
		if (seq % 50000 == 0)
			sched_yield();
	}
	/* Release pairs with the consumer's acquire load of done: every
	 * push happened before it. */
	atomic_store_explicit(&run->done, true, memory_order_release);
	return NULL;
}

/* Check one popped record against the sequence so far. */
static void check(struct run *run, const struct rec *r, uint64_t *expect)
{
	struct rec want;

	fill(&want, r->seq);
	if (memcmp(r, &want, sizeof(*r)) != 0 || r->seq < *expect ||
	    r->seq >= run->records) {
		if (run->errors++ < 5)
			fprintf(stderr,
				"bad record: seq %" PRIu64
				" (expected >= %" PRIu64 ")\n",
				r->seq, *expect);
		return;
	}
	run->gaps += r->seq - *expect;
	*expect = r->seq + 1;
	run->received++;
	/* Now and then a pause, so the producer finds it full. */
	if (r->seq % 40000 == 0)
		sched_yield();
}

static void consume(struct run *run)
{
	struct rec r;
	uint64_t expect = 0;

	for (;;) {
		if (ncp_spsc_try_pop(run->q, &r)) {
			check(run, &r, &expect);
			continue;
		}
		/* Acquire pairs with the producer's release store of done:
		 * after it, every push is visible, so draining is complete. */
		if (atomic_load_explicit(&run->done, memory_order_acquire)) {
			while (ncp_spsc_try_pop(run->q, &r))
				check(run, &r, &expect);
			break;
		}
	}
	run->gaps += run->records - expect; /* dropped at the very end */
}

static int phase(bool lossless, uint64_t records)
{
	struct run run = { .records = records, .lossless = lossless };
	pthread_t th;
	uint64_t t0, t1;
	int bad = 0;

	run.q = ncp_spsc_new(64, sizeof(struct rec));
	if (!run.q) {
		perror("ncp_spsc_new");
		return 1;
	}
	atomic_init(&run.done, false);
	t0 = ncp_now_ns();
	if (pthread_create(&th, NULL, producer, &run) != 0) {
		perror("pthread_create");
		return 1;
	}
	consume(&run);
	pthread_join(th, NULL);
	t1 = ncp_now_ns();

	printf("%s: %" PRIu64 " records, %" PRIu64 " received, %" PRIu64
	       " dropped (queue counted %" PRIu64 "), %" PRIu64
	       " full retries, %.1f M records/s\n",
	       lossless ? "lossless" : "lossy", records, run.received,
	       run.producer_drops, ncp_spsc_drops(run.q),
	       run.producer_retries, run.received * 1e3 / (double)(t1 - t0));
	if (run.errors) {
		fprintf(stderr, "FAIL: %" PRIu64 " torn, reordered or repeated records\n",
			run.errors);
		bad = 1;
	}
	if (run.received + run.producer_drops != records ||
	    run.gaps != run.producer_drops) {
		fprintf(stderr, "FAIL: received + dropped != sent, or gaps %" PRIu64
			" != drops\n", run.gaps);
		bad = 1;
	}
	if (ncp_spsc_drops(run.q) != run.producer_drops + run.producer_retries) {
		fprintf(stderr, "FAIL: the queue's drop count disagrees\n");
		bad = 1;
	}
	if (lossless && run.received != records) {
		fprintf(stderr, "FAIL: lossless phase lost records\n");
		bad = 1;
	}
	if (!lossless && run.producer_drops == 0)
		printf("note: the queue was never full in the lossy phase\n");
	ncp_spsc_free(run.q);
	return bad;
}

int main(int argc, char **argv)
{
	uint64_t records = argc > 1 ? strtoull(argv[1], NULL, 10) : DEFAULT_RECORDS;
	int bad = 0;

	if (records == 0) {
		fprintf(stderr, "usage: stress_spsc [RECORDS > 0]\n");
		return 2;
	}
	bad |= phase(false, records);
	bad |= phase(true, records);
	printf("%s\n", bad ? "FAIL" : "ok");
	return bad;
}
