/* ncp_mon_health: the loop's health in words, from its statistics.
 *
 * A raw overrun count means little on its own: on a virtual machine the
 * host stalls a vCPU for milliseconds several times a minute, and every
 * step the loop then runs back to back to catch up counts as an
 * overrun, although every simulated step still runs.  The loop's own
 * wake-up histogram shows those stalls (wake-ups a step or more late),
 * so the overruns can be weighed against what the host did:
 *
 *   host stalls       wake-ups at least one step period late;
 *   host late steps   an upper bound of the overruns those late
 *                     wake-ups explain: for each wake-up at least half a
 *                     period late, its lateness in periods (the top of its
 *                     histogram bin) plus one;
 *   explained         overruns <= host late steps: the overruns come from
 *                     the host, not from the loop being too slow.
 *
 * The verdict, worst reason first (fractions of the step period dt):
 *
 *   poor  a step's compute time p99 >= 80% of the period (the model is
 *         too slow for real time); one slip a minute or more (simulated
 *         time falls behind the clock); overruns the host does not
 *         explain on 0.1% of the steps or more;
 *   fair  any slip; compute p99 >= 50%; overruns the host does not
 *         explain; 2% of the steps or more late even from host stalls;
 *         wake-up p99 >= 25% of the period;
 *   good  otherwise (overruns from host stalls, caught up, included).
 *
 * Free-run has no deadlines: its verdict is "free-run".  Pure
 * computation. */
#ifndef NCP_MON_HEALTH_H
#define NCP_MON_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "shm/ncp_shm.h"

enum ncp_mon_health_level {
	NCP_MON_HEALTH_GOOD = 0,
	NCP_MON_HEALTH_FAIR = 1,
	NCP_MON_HEALTH_POOR = 2,
	NCP_MON_HEALTH_FREE_RUN = 3,
};

struct ncp_mon_health {
	enum ncp_mon_health_level level;
	char reason[64];           /* the worst reason, a short phrase */
	double late_fraction;      /* overruns / steps (0 before any step) */
	uint64_t host_stalls;      /* wake-ups a period or more late */
	double host_late_steps;    /* overruns those late wake-ups explain, at most */
	bool explained;            /* overruns <= host_late_steps */
	double slips_per_minute;   /* slips / wall minutes */
	double jitter_p99_fraction; /* wake-up lateness p99 / period */
	double cost_p99_fraction;  /* compute time p99 / period */
};

/* Judge statistics of a loop whose step is dt seconds. */
void ncp_mon_health_assess(const struct ncp_shm_stats *s, double dt,
			   struct ncp_mon_health *h);

/* "good", "fair", "poor", "free-run". */
const char *ncp_mon_health_level_name(enum ncp_mon_health_level l);

#endif
