/* Sweeps manual targets over a grid in the simulation ncpd runs and
 * compares what `target` accepts (ncp_reach_target_check) with where the
 * hand gets: each target from the start posture (network reset), held for
 * SECONDS; reached means within 0.05 m at the end.  Targets no joint
 * angles within the limits put the hand on are left out (the arm cannot
 * be there).  One JSON line per target, then a summary line:
 *
 *   {"accepted":N,"accepted_reached":N,"accepted_worst_m":E,
 *    "refused":N,"refused_reached":N,"refused_reached_max_from_accepted_m":D}
 *
 * where the last is how far the farthest refused-but-reached target lies
 * from the nearest accepted one (the margin given away).
 *
 * usage: fixture_reach_sweep SECONDS STEP [--set KEY=VALUE ...]
 * (grid: x -1..1 m, y 0.3..2.2 m; configuration: config/ncpd.yaml of the
 * working directory, then the overrides, as ncpd reads them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fixture_sim.h"

#define REACHED_M 0.05

struct point {
	double xy[2];
	double error;
	int ok;		/* accepted by ncp_reach_target_check */
};

int main(int argc, char **argv)
{
	struct ncp_config c;
	struct ncp_sim sim;

	if (argc < 3 || !(atof(argv[1]) > 0) || !(atof(argv[2]) > 0)) {
		fprintf(stderr, "usage: %s SECONDS STEP [--set KEY=VALUE ...]\n",
			argv[0]);
		return 2;
	}
	double seconds = atof(argv[1]), step = atof(argv[2]);
	int ret = fixture_sim_init(&sim, &c, argc, argv, 3);
	if (ret)
		return ret;
	int nx = (int)floor(2.0 / step + 1e-9) + 1;
	int ny = (int)floor(1.9 / step + 1e-9) + 1;
	struct point *pts = calloc((size_t)nx * (size_t)ny, sizeof(*pts));
	if (!pts)
		return 1;
	uint64_t steps = (uint64_t)llround(seconds / c.reach.dt);
	size_t n = 0;
	for (int i = 0; i < nx; i++) {
		for (int j = 0; j < ny; j++) {
			struct point *p = &pts[n];
			double q[2];
			p->xy[0] = -1.0 + i * step;
			p->xy[1] = 0.3 + j * step;
			if (ncp_arm_ik(&c.reach.arm, p->xy, q))
				continue;
			p->ok = ncp_reach_target_check(&c.reach, p->xy, NULL, 0) == 0;
			/* Refused targets too: the task is made manual by hand. */
			ncp_sim_reset(&sim);
			struct ncp_task_params tp = sim.task.p;
			tp.kind = NCP_TASK_MANUAL;
			ncp_sim_set_task(&sim, &tp);
			ncp_task_set_target(&sim.task, p->xy);
			for (uint64_t s = 0; s < steps; s++)
				ncp_sim_step(&sim);
			p->error = hypot(sim.arm.hand[0] - p->xy[0],
					 sim.arm.hand[1] - p->xy[1]);
			printf("{\"target\":[%.3f,%.3f],\"accepted\":%s,"
			       "\"end_error\":%.4f}\n", p->xy[0], p->xy[1],
			       p->ok ? "true" : "false", p->error);
			fflush(stdout);
			n++;
		}
	}
	int acc = 0, acc_reached = 0, ref = 0, ref_reached = 0;
	double worst = 0, far = 0;
	for (size_t k = 0; k < n; k++) {
		const struct point *p = &pts[k];
		bool reached = p->error < REACHED_M;
		if (p->ok) {
			acc++;
			acc_reached += reached;
			worst = fmax(worst, p->error);
			continue;
		}
		ref++;
		if (!reached)
			continue;
		ref_reached++;
		double nearest = INFINITY;
		for (size_t m = 0; m < n; m++)
			if (pts[m].ok)
				nearest = fmin(nearest, hypot(pts[m].xy[0] - p->xy[0],
							      pts[m].xy[1] - p->xy[1]));
		far = fmax(far, nearest);
	}
	printf("{\"accepted\":%d,\"accepted_reached\":%d,\"accepted_worst_m\":%.4f,"
	       "\"refused\":%d,\"refused_reached\":%d,"
	       "\"refused_reached_max_from_accepted_m\":%.3f}\n",
	       acc, acc_reached, worst, ref, ref_reached, far);
	free(pts);
	ncp_sim_fini(&sim);
	return 0;
}
