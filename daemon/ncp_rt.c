#include "daemon/ncp_rt.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "models/base/ncp_base.h"

void ncp_rt_clock_init(struct ncp_rt_clock *c, const struct ncp_rt_params *p)
{
	memset(c, 0, sizeof(*c));
	c->period_ns = (uint64_t)(p->period * 1e9 + 0.5);
	c->catchup_ns = (uint64_t)(p->catchup * 1e9 + 0.5);
	if (c->catchup_ns < c->period_ns)
		c->catchup_ns = c->period_ns;
	c->free_run = p->free_run;
	ncp_hist_reset(&c->jitter);
	ncp_hist_reset(&c->cost);
}

void ncp_rt_clock_start(struct ncp_rt_clock *c)
{
	c->start_ns = ncp_now_ns();
	c->end_ns = 0;
	c->next_ns = c->start_ns;
}

static void sleep_until(uint64_t t)
{
	struct timespec ts = {
		.tv_sec = (time_t)(t / 1000000000u),
		.tv_nsec = (long)(t % 1000000000u),
	};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

uint64_t ncp_rt_clock_wait(struct ncp_rt_clock *c)
{
	uint64_t now = ncp_now_ns();
	if (c->free_run) {
		c->wake_ns = now;
		return now;
	}
	if (now < c->next_ns) {
		sleep_until(c->next_ns);
		now = ncp_now_ns();
		uint64_t late = now > c->next_ns ? now - c->next_ns : 0;
		ncp_hist_add(&c->jitter, late);
		if (late > c->period_ns)
			c->late_wakeups++;
	} else {
		c->catchup_steps++; /* behind: run at once */
	}
	c->wake_ns = now;
	c->next_ns += c->period_ns;
	return now;
}

void ncp_rt_clock_idle(const struct ncp_rt_clock *c)
{
	if (c->free_run)
		sleep_until(ncp_now_ns() + c->period_ns);
}

void ncp_rt_clock_done(struct ncp_rt_clock *c)
{
	uint64_t end = ncp_now_ns();
	ncp_hist_add(&c->cost, end - c->wake_ns);
	c->steps++;
	if (c->free_run)
		return;
	if (end > c->next_ns) {
		uint64_t behind = end - c->next_ns;
		c->overruns++;
		if (behind > c->max_behind_ns)
			c->max_behind_ns = behind;
		if (behind > c->catchup_ns) {
			/* Too far behind to catch up: start again from now. */
			c->slips++;
			c->next_ns = end;
		}
	}
}

void ncp_rt_clock_stop(struct ncp_rt_clock *c)
{
	c->end_ns = ncp_now_ns();
}

double ncp_rt_clock_wall(const struct ncp_rt_clock *c)
{
	return ((c->end_ns ? c->end_ns : ncp_now_ns()) - c->start_ns) / 1e9;
}

bool ncp_rt_setup_thread(const struct ncp_rt_params *p, char *warn,
			 size_t warnlen)
{
	bool fifo = false;
	size_t used = 0;

	if (warn && warnlen)
		warn[0] = '\0';
#define WARN(...)                                                          \
	do {                                                               \
		if (warn && used < warnlen)                                \
			used += (size_t)snprintf(warn + used, warnlen - used, \
						 __VA_ARGS__);             \
	} while (0)

	if (p->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(p->cpu, &set);
		int e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
		if (e)
			WARN("cannot pin to CPU %d (%s); ", p->cpu, strerror(e));
	}
	if (p->priority > 0) {
		struct sched_param sp = { .sched_priority = p->priority };
		int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
		if (e)
			WARN("SCHED_FIFO priority %d refused (%s): running with "
			     "the normal policy; ", p->priority, strerror(e));
		else
			fifo = true;
	}
	/* Without FIFO the default 50 us timer slack delays every wake-up. */
	if (!fifo && prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0))
		WARN("cannot set timer slack (%s); ", strerror(errno));

	/* Touch the stack the loop will use so it never faults later. */
	volatile char stack[256 * 1024];
	memset((char *)stack, 0, sizeof(stack));
	(void)stack[0];
#undef WARN
	/* Drop the trailing "; ", or what is left of it in a warning that
	 * snprintf cut to fit the buffer. */
	if (warn && warnlen) {
		size_t n = used < warnlen ? used : warnlen - 1;
		while (n && (warn[n - 1] == ' ' || warn[n - 1] == ';'))
			warn[--n] = '\0';
	}
	return fifo;
}

int ncp_rt_keep_off_cpu(int cpu)
{
	cpu_set_t set;
	if (cpu < 0 || cpu >= CPU_SETSIZE)
		return 1;
	int e = pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
	if (e)
		return -e;
	if (!CPU_ISSET(cpu, &set) || CPU_COUNT(&set) < 2)
		return 1;
	CPU_CLR(cpu, &set);
	e = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	return e ? -e : 0;
}

void ncp_rt_setup_follower(const char *who, int priority, int cpu,
			   int loop_cpu)
{
	struct ncp_rt_params rp = { .priority = priority, .cpu = cpu };
	char warn[256];

	if (priority <= 0)
		return;
	if (!ncp_rt_setup_thread(&rp, warn, sizeof(warn)) && warn[0])
		ncp_log_warn("%s: %s", who, warn);
	if (cpu < 0) {
		int ret = ncp_rt_keep_off_cpu(loop_cpu);
		if (ret < 0)
			ncp_log_warn("%s: cannot keep off the loop's CPU %d "
				     "(%s)", who, loop_cpu, strerror(-ret));
	}
}

/* Lock on fault: a page is locked when first touched, so reserved but
 * untouched memory (OpenBLAS maps a 128 MB buffer for each thread that
 * calls it, every thread has an 8 MB stack) costs nothing.  Without
 * MCL_ONFAULT mlockall populates every mapping whole: such a daemon held
 * 650 MB, most of it pages nothing ever used.  The loop's own memory is
 * written during start-up (the shared memory and the loop's stack are
 * pre-faulted explicitly), so the loop still never waits for a fault. */
int ncp_rt_lock_memory(void)
{
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0)
		return 0;
	if (errno != EINVAL)	/* EINVAL: a kernel before 4.4 */
		return -errno;
	if (mlockall(MCL_CURRENT | MCL_FUTURE))
		return -errno;
	return 0;
}

long ncp_rt_thread_faults(void)
{
	struct rusage ru;
	if (getrusage(RUSAGE_THREAD, &ru))
		return 0;
	return ru.ru_minflt + ru.ru_majflt;
}

/* A "Vm...:  N kB" line of /proc/self/status, in kB (-1 if missing). */
static long status_kb(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

void ncp_rt_memory_json(struct ncp_json *j)
{
	char text[4096];
	size_t n = 0;
	FILE *f = fopen("/proc/self/status", "r");
	if (f) {
		n = fread(text, 1, sizeof(text) - 1, f);
		fclose(f);
	}
	text[n] = '\0';
	struct mallinfo2 mi = mallinfo2();
	const double mib = 1024.0 * 1024.0;

	ncp_json_key(j, "memory");
	ncp_json_obj(j);
	ncp_json_key(j, "rss_mb");
	ncp_json_num(j, status_kb(text, "VmRSS:") / 1024.0);
	ncp_json_key(j, "rss_peak_mb");
	ncp_json_num(j, status_kb(text, "VmHWM:") / 1024.0);
	ncp_json_key(j, "locked_mb");
	ncp_json_num(j, status_kb(text, "VmLck:") / 1024.0);
	ncp_json_key(j, "malloc_in_use_mb");
	ncp_json_num(j, (double)(mi.uordblks + mi.hblkhd) / mib);
	ncp_json_key(j, "malloc_free_mb");
	ncp_json_num(j, (double)mi.fordblks / mib);
	ncp_json_key(j, "malloc_mmapped_mb");
	ncp_json_num(j, (double)mi.hblkhd / mib);
	ncp_json_end(j);
}

int ncp_rt_cpu_latency(int us)
{
	int32_t v = us;
	int fd = open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, &v, sizeof(v)) != (ssize_t)sizeof(v)) {
		int e = -errno;
		close(fd);
		return e ? e : -EIO;
	}
	return fd;
}
