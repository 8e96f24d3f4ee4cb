/* make bench: free-run speed of the full REACH model (no emulator), the
 * median of several 16 s runs on one thread, with a per-part breakdown
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

int main(void)
{
	struct ncp_config c;
	struct ncp_sim sim;
	char err[256];
	enum { RUNS = 7, STEPS = 16000 };
	double us[RUNS];

	openblas_set_num_threads(1);
	ncp_config_defaults(&c);
	if (ncp_sim_init(&sim, &c, 64, err, sizeof(err))) {
		fprintf(stderr, "bench_reach: %s\n", err);
		return 1;
	}
	for (int r = 0; r < RUNS; r++) {
		uint64_t t0 = ncp_now_ns();
		for (int s = 0; s < STEPS; s++)
			ncp_sim_step(&sim);
		us[r] = (ncp_now_ns() - t0) / 1e3 / STEPS;
	}
	qsort(us, RUNS, sizeof(double), cmp_double);

	struct ncp_net *net = ncp_reach_net(sim.reach);
	uint64_t ns[NCP_PART_COUNT], steps;
	ncp_net_profile(net, true);
	for (int s = 0; s < STEPS; s++)
		ncp_sim_step(&sim);
	ncp_net_profile_read(net, ns, &steps);
	ncp_net_profile(net, false);

	printf("{\"bench\":\"reach_free_run\",\"realtime_factor\":%.1f,"
	       "\"us_per_step\":%.3f,\"us_per_step_min\":%.3f,"
	       "\"us_per_step_max\":%.3f,\"runs\":%d,\"sim_seconds_per_run\":%g,"
	       "\"neurons\":%d,\"simd\":\"%s\",\"breakdown_us\":{",
	       1e3 * c.reach.dt * 1e3 / us[RUNS / 2], us[RUNS / 2], us[0],
	       us[RUNS - 1], RUNS, STEPS * c.reach.dt,
	       ncp_reach_neurons(sim.reach), ncp_simd_name());
	double total = 0;
	for (int p = 0; p < NCP_PART_COUNT; p++) {
		double v = ns[p] / 1e3 / (double)steps;
		total += v;
		printf("%s\"%s\":%.3f", p ? "," : "", ncp_net_part_names[p], v);
	}
	printf("},\"breakdown_total_us\":%.3f}\n", total);
	ncp_sim_fini(&sim);
	return 0;
}
