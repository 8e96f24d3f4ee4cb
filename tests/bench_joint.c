/* make bench: free-run speed of the joint-space controller
 * (reach.control joint) against the task-space default, on one thread:
 * both networks built, then rounds of 16 s of the centre-out task, one on
 * each in turn, so that both see the same minutes of a loaded machine.
 * Prints the median per-step cost of each and the median of the rounds'
 * ratios (joint / task). */
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_base.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Microseconds per step over `steps` steps of s. */
static double run(struct ncp_sim *s, int steps)
{
	uint64_t t0 = ncp_now_ns();
	for (int k = 0; k < steps; k++)
		ncp_sim_step(s);
	return (ncp_now_ns() - t0) / 1e3 / steps;
}

int main(void)
{
	enum { ROUNDS = 9, STEPS = 16000 };
	struct ncp_config c[2];
	struct ncp_sim sim[2];
	double us[2][ROUNDS], ratio[ROUNDS], med[2];
	char err[256];

	openblas_set_num_threads(1);
	for (int j = 0; j < 2; j++) {
		ncp_config_defaults(&c[j]);
		c[j].reach.control = j ? NCP_REACH_JOINT : NCP_REACH_TASK;
		if (ncp_sim_init(&sim[j], &c[j], 64, err, sizeof(err))) {
			fprintf(stderr, "bench_joint: %s\n", err);
			return 1;
		}
	}
	for (int r = 0; r < ROUNDS; r++) {
		for (int j = 0; j < 2; j++)
			us[j][r] = run(&sim[j], STEPS);
		ratio[r] = us[1][r] / us[0][r];
	}
	for (int j = 0; j < 2; j++) {
		qsort(us[j], ROUNDS, sizeof(double), cmp_double);
		med[j] = us[j][ROUNDS / 2];
	}
	qsort(ratio, ROUNDS, sizeof(double), cmp_double);
	printf("{\"bench\":\"reach_joint_free_run\",\"rounds\":%d,"
	       "\"sim_seconds_per_round\":%g,\"us_per_step_task\":%.3f,"
	       "\"us_per_step_joint\":%.3f,\"joint_over_task\":%.3f,"
	       "\"joint_over_task_min\":%.3f,\"joint_over_task_max\":%.3f,"
	       "\"realtime_factor_joint\":%.1f}\n", ROUNDS, STEPS * c[0].reach.dt,
	       med[0], med[1], ratio[ROUNDS / 2], ratio[0], ratio[ROUNDS - 1],
	       1e3 * c[1].reach.dt * 1e3 / med[1]);
	for (int j = 0; j < 2; j++)
		ncp_sim_fini(&sim[j]);
	return 0;
}
