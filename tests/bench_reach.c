/* make bench: free-run speed of the full REACH model (no emulator) with
 * each arm, the median of several 16 s runs on one thread, with a per-part
 * breakdown
 * from a separate profiled run (profiling costs time of its own, and it
 * encodes and steps each population in two passes, to time each, where
 * the unprofiled step fuses them). */
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_base.h"
#include "models/nef/ncp_simd.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* One free run's per-part breakdown (a separate profiled run). */
static void breakdown(struct ncp_sim *sim, int steps_n)
{
	struct ncp_net *net = ncp_reach_net(sim->reach);
	uint64_t ns[NCP_PART_COUNT], steps;
	ncp_net_profile(net, true);
	for (int s = 0; s < steps_n; s++)
		ncp_sim_step(sim);
	ncp_net_profile_read(net, ns, &steps);
	ncp_net_profile(net, false);
	double total = 0;
	for (int p = 0; p < NCP_PART_COUNT; p++) {
		double v = ns[p] / 1e3 / (double)steps;
		total += v;
		printf("%s\"%s\":%.3f", p ? "," : "", ncp_net_part_names[p], v);
	}
	printf("},\"breakdown_total_us\":%.3f}\n", total);
}

/* REACH's 2-link arm and the 3-link arm (arm.links), their runs
 * interleaved so that both see the same machine; a line each, then the
 * 3-link arm's cost against the 2-link arm's (the median of the runs'
 * ratios, each run paired with the 2-link run before it). */
int main(void)
{
	enum { RUNS = 7, STEPS = 16000, ARMS = 2 };
	struct ncp_config c[ARMS];
	struct ncp_sim sim[ARMS];
	char err[256];
	double us[ARMS][RUNS], ratio[RUNS];

	openblas_set_num_threads(1);
	for (int a = 0; a < ARMS; a++) {
		ncp_config_defaults(&c[a]);
		if (ncp_config_set(&c[a], a ? "arm.links=3" : "arm.links=2", err,
				   sizeof(err)) ||
		    ncp_sim_init(&sim[a], &c[a], 64, err, sizeof(err))) {
			fprintf(stderr, "bench_reach: %s\n", err);
			return 1;
		}
	}
	for (int r = 0; r < RUNS; r++) {
		for (int a = 0; a < ARMS; a++) {
			uint64_t t0 = ncp_now_ns();
			for (int s = 0; s < STEPS; s++)
				ncp_sim_step(&sim[a]);
			us[a][r] = (ncp_now_ns() - t0) / 1e3 / STEPS;
		}
		ratio[r] = us[1][r] / us[0][r];
	}
	for (int a = 0; a < ARMS; a++) {
		qsort(us[a], RUNS, sizeof(double), cmp_double);
		printf("{\"bench\":\"reach_free_run\",\"links\":%d,"
		       "\"realtime_factor\":%.1f,"
		       "\"us_per_step\":%.3f,\"us_per_step_min\":%.3f,"
		       "\"us_per_step_max\":%.3f,\"runs\":%d,\"sim_seconds_per_run\":%g,"
		       "\"neurons\":%d,\"simd\":\"%s\",\"breakdown_us\":{",
		       c[a].reach.arm.links,
		       1e3 * c[a].reach.dt * 1e3 / us[a][RUNS / 2], us[a][RUNS / 2],
		       us[a][0], us[a][RUNS - 1], RUNS, STEPS * c[a].reach.dt,
		       ncp_reach_neurons(sim[a].reach), ncp_simd_name());
		breakdown(&sim[a], STEPS);
	}
	qsort(ratio, RUNS, sizeof(double), cmp_double);
	printf("{\"bench\":\"reach_free_run_links\",\"cost_3_over_2\":%.3f,"
	       "\"cost_3_over_2_min\":%.3f,\"cost_3_over_2_max\":%.3f,"
	       "\"runs\":%d}\n", ratio[RUNS / 2], ratio[0], ratio[RUNS - 1], RUNS);
	for (int a = 0; a < ARMS; a++)
		ncp_sim_fini(&sim[a]);
	return 0;
}
