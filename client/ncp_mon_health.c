#include "client/ncp_mon_health.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

const char *ncp_mon_health_level_name(enum ncp_mon_health_level l)
{
	switch (l) {
	case NCP_MON_HEALTH_GOOD:
		return "good";
	case NCP_MON_HEALTH_FAIR:
		return "fair";
	case NCP_MON_HEALTH_POOR:
		return "poor";
	case NCP_MON_HEALTH_FREE_RUN:
		return "free-run";
	}
	return "?";
}

/* Lower and upper edges of jitter histogram bin b, us (ncp_shm_jitter_bin:
 * bin 0 is [0, 1), bin b is [2^(b-1), 2^b), the last is open). */
static double bin_lo(unsigned b)
{
	return b ? ldexp(1, (int)b - 1) : 0;
}

static double bin_hi(unsigned b)
{
	return ldexp(1, (int)b);
}

/* Set the verdict (level l, reason printed from the rest) unless a worse
 * or equally bad one, found earlier, is set. */
#define JUDGE(l, ...)                                                   \
	do {                                                            \
		if (!set || (l) > h->level) {                           \
			h->level = (l);                                 \
			snprintf(h->reason, sizeof(h->reason), __VA_ARGS__); \
			set = true;                                     \
		}                                                       \
	} while (0)

void ncp_mon_health_assess(const struct ncp_shm_stats *s, double dt,
			   struct ncp_mon_health *h)
{
	double period_us = dt * 1e6;
	unsigned bins = s->jitter_bins < NCP_SHM_JITTER_BINS ?
				s->jitter_bins : NCP_SHM_JITTER_BINS;
	bool set = false;

	memset(h, 0, sizeof(*h));
	if (!(period_us > 0))
		period_us = 1000;
	h->late_fraction = s->steps ? (double)s->overruns / (double)s->steps : 0;
	for (unsigned b = 0; b < bins; b++) {
		uint64_t n = s->jitter_hist[b];

		if (!n)
			continue;
		if (bin_lo(b) >= period_us)
			h->host_stalls += n;
		if (bin_hi(b) >= period_us / 2)
			h->host_late_steps += (double)n *
					      (ceil(bin_hi(b) / period_us) + 1);
	}
	h->explained = (double)s->overruns <= h->host_late_steps;
	h->slips_per_minute = s->wall_s > 0 ? s->slips / (s->wall_s / 60) : 0;
	h->jitter_p99_fraction = s->jitter_p99_us / period_us;
	h->cost_p99_fraction = s->cost_p99_us / period_us;

	if (s->mode == NCP_SHM_MODE_FREE_RUN) {
		h->level = NCP_MON_HEALTH_FREE_RUN;
		snprintf(h->reason, sizeof(h->reason), "no deadlines");
		return;
	}
	/* Worst first; JUDGE keeps the first reason of the worst level. */
	if (h->cost_p99_fraction >= 0.8)
		JUDGE(NCP_MON_HEALTH_POOR,
		      "steps cost %.0f%% of the period", 100 * h->cost_p99_fraction);
	if (s->slips && h->slips_per_minute >= 1)
		JUDGE(NCP_MON_HEALTH_POOR,
		      "%.0f slips a minute: sim lags", h->slips_per_minute);
	if (!h->explained && h->late_fraction >= 1e-3)
		JUDGE(NCP_MON_HEALTH_POOR,
		      "%.2g%% steps late, not the host", 100 * h->late_fraction);
	if (s->slips)
		JUDGE(NCP_MON_HEALTH_FAIR,
		      "%.0f slips (long stalls)", (double)s->slips);
	if (h->cost_p99_fraction >= 0.5)
		JUDGE(NCP_MON_HEALTH_FAIR,
		      "steps cost %.0f%% of the period", 100 * h->cost_p99_fraction);
	if (!h->explained)
		JUDGE(NCP_MON_HEALTH_FAIR,
		      "%.0f late steps not the host's",
		      (double)s->overruns - h->host_late_steps);
	if (h->late_fraction >= 0.02)
		JUDGE(NCP_MON_HEALTH_FAIR,
		      "host stalls: %.2g%% steps late", 100 * h->late_fraction);
	if (h->jitter_p99_fraction >= 0.25)
		JUDGE(NCP_MON_HEALTH_FAIR,
		      "wake-ups late, p99 %.0f%% of step",
		      100 * h->jitter_p99_fraction);
	if (!set) {
		h->level = NCP_MON_HEALTH_GOOD;
		snprintf(h->reason, sizeof(h->reason), "%s", s->overruns ?
			 "late steps were host stalls" : "keeping real time");
	}
}
