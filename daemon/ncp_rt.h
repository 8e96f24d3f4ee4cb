/* ncp_rt: the real-time loop's clock and the thread set-up it needs.
 *
 * The clock ticks every period on CLOCK_MONOTONIC with absolute deadlines
 * (clock_nanosleep TIMER_ABSTIME), so lateness never accumulates.  Policy
 * when the loop falls behind (a host stall, a slow step):
 *   - every simulated step still runs: missed ticks are run back to back
 *     without sleeping until the loop is on time again (catch-up);
 *   - only when the loop is more than `catchup` behind does it give up on
 *     the missed wall time: the clock is re-anchored to now (a "slip",
 *     counted) and simulated time falls behind wall time by that much.
 * Counted: wake-up lateness of every sleep (jitter), the compute time of
 * every step (cost), steps that finished after their deadline (overruns),
 * sleeps that woke more than one period late (late wake-ups, what
 * cyclictest counts), and slips.
 *
 * In free-run mode the clock never sleeps and nothing is late.
 * The clock is used by one thread; it never allocates or blocks but in
 * the sleep.
 */
#ifndef NCP_RT_H
#define NCP_RT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/base/ncp_hist.h"
#include "models/base/ncp_json.h"

struct ncp_rt_params {
	double period;		/* s */
	bool free_run;
	int priority;		/* SCHED_FIFO priority 1..99; 0: normal policy */
	int cpu;		/* CPU to pin the loop to; -1: none */
	double catchup;		/* s behind before a slip */
};

struct ncp_rt_clock {
	uint64_t period_ns, catchup_ns;
	bool free_run;
	uint64_t start_ns;	/* when the clock started */
	uint64_t end_ns;	/* when it stopped; 0: running */
	uint64_t next_ns;	/* deadline of the coming tick */
	uint64_t wake_ns;	/* when the current step began */
	uint64_t steps, overruns, late_wakeups, slips, catchup_steps;
	uint64_t max_behind_ns;	/* the furthest behind the loop has been */
	struct ncp_hist jitter;	/* wake-up lateness of sleeps */
	struct ncp_hist cost;	/* step compute time */
};

void ncp_rt_clock_init(struct ncp_rt_clock *c, const struct ncp_rt_params *p);
/* Start ticking now: the first step is due immediately. */
void ncp_rt_clock_start(struct ncp_rt_clock *c);
/* Wait until the next step is due (sleeping unless the loop is behind or
 * free-running) and return when the step begins (ns). */
uint64_t ncp_rt_clock_wait(struct ncp_rt_clock *c);
/* Nothing to step (paused): in free run, sleep one period so that a
 * paused free run does not spin a CPU; in real time the next wait sleeps
 * anyway, and this returns at once. */
void ncp_rt_clock_idle(const struct ncp_rt_clock *c);
/* The step is done: account its cost, overrun, catch-up or slip. */
void ncp_rt_clock_done(struct ncp_rt_clock *c);
/* The loop is over: the wall time stops here. */
void ncp_rt_clock_stop(struct ncp_rt_clock *c);
/* Wall seconds from start to stop (to now while running). */
double ncp_rt_clock_wall(const struct ncp_rt_clock *c);

/* Make the calling thread real-time: SCHED_FIFO at priority (if asked),
 * pinned to cpu (if >= 0), timer slack of 1 ns, and its stack pre-faulted.
 * What could not be done is described in warn, NUL-terminated and cut to
 * warnlen bytes (the thread then runs with the normal policy).  Returns
 * true when SCHED_FIFO is in effect. */
bool ncp_rt_setup_thread(const struct ncp_rt_params *p, char *warn,
			 size_t warnlen);
/* Keep the calling thread off `cpu` (the loop's): its allowed CPUs less
 * that one, unless none would be left.  For the real-time threads that
 * follow the loop (the emulator's, the co-processor's) when they are not
 * pinned themselves: one of them running on the loop's CPU when the loop
 * wakes delayed the loop's wake-up (docs/tuning.md).  Returns 0, 1 when
 * there was nothing to do (cpu < 0, the thread not allowed on it, or no
 * other CPU allowed), or -errno. */
int ncp_rt_keep_off_cpu(int cpu);
/* Set up the calling thread as one that follows the loop (the emulator's,
 * the co-processor's), when priority > 0: SCHED_FIFO at priority, pinned
 * to cpu if >= 0, else kept off loop_cpu (above).  What cannot be done is
 * logged as a warning that names the thread as `who` ("emulator thread"). */
void ncp_rt_setup_follower(const char *who, int priority, int cpu,
			   int loop_cpu);
/* Lock all present and future memory (mlockall), each page as it is
 * first touched (MCL_ONFAULT where the kernel has it): memory the loop
 * uses must be written before the loop starts.  Returns 0 or -errno. */
int ncp_rt_lock_memory(void);
/* Page faults (minor and major) the calling thread has taken so far. */
long ncp_rt_thread_faults(void);
/* The process's memory for the summary, a "memory" object in MiB:
 * resident now and at its peak (VmRSS, VmHWM), locked (VmLck), and what
 * malloc holds over all its arenas (mallinfo2): in use, free inside its
 * heaps, and in chunks of their own mapping. */
void ncp_rt_memory_json(struct ncp_json *j);
/* Ask the kernel to keep CPUs out of idle states that take longer than
 * `us` microseconds to leave (PM QoS, /dev/cpu_dma_latency): deep idle
 * doubles the loop's wake-up latency here.  Holds while the returned
 * descriptor stays open (close it at exit).  -errno if refused. */
int ncp_rt_cpu_latency(int us);

#endif
