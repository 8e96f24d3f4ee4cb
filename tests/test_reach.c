#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/base/ncp_sha256.h"
#include "models/reach/ncp_traj.h"
#include "tests/ncp_check.h"

START_TEST(centre_out_reaches_every_target)
{
	struct ncp_config c;
	struct ncp_sim sim;
	char err[256];
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_sim_init(&sim, &c, 64, err, sizeof(err)), 0);
	for (int s = 0; s < 16000; s++)
		ncp_sim_step(&sim);
	ck_assert_uint_eq(sim.n_reaches, 16);
	double worst = 0;
	for (int i = 0; i < 16; i++) {
		printf("reach %2d target (%6.3f, %6.3f) end error %.4f m\n", i,
		       sim.reaches[i].target[0], sim.reaches[i].target[1],
		       sim.reaches[i].end_error);
		worst = fmax(worst, sim.reaches[i].end_error);
	}
	double mean = sim.sum_end_error / 16;
	double rate = sim.m1_spikes / (1000.0 * 16.0);
	printf("mean end error %.4f m, worst %.4f m, M1 rate %.2f Hz\n", mean,
	       worst, rate);
	ck_assert_msg(worst < 0.05, "worst end error %.4f m", worst);
	ck_assert_msg(mean <= 0.03, "mean end error %.4f m", mean);
	ck_assert_msg(rate >= 5 && rate <= 40, "M1 rate %.2f Hz", rate);
	/* Every odd period is a distinct one of the 8 targets. */
	for (int i = 1; i < 16; i += 2)
		ncp_ck_near(hypot(sim.reaches[i].target[0],
				  sim.reaches[i].target[1] - 1.25), 0.25, 1e-9);
	ncp_sim_fini(&sim);
}
END_TEST

static void run(const struct ncp_config *c, int steps, struct ncp_arm_state *st,
		uint64_t *spikes)
{
	struct ncp_sim sim;
	char err[256];
	ck_assert_int_eq(ncp_sim_init(&sim, c, 16, err, sizeof(err)), 0);
	for (int s = 0; s < steps; s++)
		ncp_sim_step(&sim);
	*st = sim.arm;
	*spikes = sim.m1_spikes;
	ncp_sim_fini(&sim);
}

START_TEST(same_config_same_run_bit_for_bit)
{
	struct ncp_config c;
	struct ncp_arm_state a, b;
	uint64_t sa, sb;
	ncp_config_defaults(&c);
	c.task.kind = NCP_TASK_RANDOM;
	run(&c, 3000, &a, &sa);
	run(&c, 3000, &b, &sb);
	ck_assert(memcmp(&a, &b, sizeof(a)) == 0);
	ck_assert_uint_eq(sa, sb);
	/* Another task seed: other movements on the same brain. */
	c.task.seed = 2;
	run(&c, 3000, &b, &sb);
	ck_assert(memcmp(&a, &b, sizeof(a)) != 0);
	/* Another network seed: another brain. */
	c.task.seed = 1;
	c.reach.seed = 5;
	run(&c, 3000, &b, &sb);
	ck_assert_uint_ne(sa, sb);
}
END_TEST

/* A digest of every step of a run: M1's spikes, the arm, the torque. */
static void run_digest(const struct ncp_config *c, int steps,
		       uint8_t digest[NCP_SHA256_BYTES], struct ncp_sim *keep)
{
	struct ncp_sim sim;
	struct ncp_sha256 h;
	char err[256];
	ck_assert_int_eq(ncp_sim_init(&sim, c, 16, err, sizeof(err)), 0);
	ncp_sha256_init(&h);
	for (int s = 0; s < steps; s++) {
		double u[2];
		ncp_sim_step(&sim);
		ncp_reach_torque(sim.reach, u);
		ncp_sha256_update(&h, &sim.n_spikes, sizeof(sim.n_spikes));
		ncp_sha256_update(&h, sim.spikes, sizeof(uint32_t) * (size_t)sim.n_spikes);
		ncp_sha256_update(&h, &sim.arm, sizeof(sim.arm));
		ncp_sha256_update(&h, u, sizeof(u));
	}
	ncp_sha256_final(&h, digest);
	*keep = sim;
	keep->reach = NULL;
	keep->reaches = NULL;
	ncp_sim_fini(&sim);
}

/* A build from the decoder cache is the same network as a fresh build:
 * the same spikes and arm at every step, cold (solving and storing),
 * warm (finding every decoder) and with the cache off. */
START_TEST(cached_build_is_the_same_network)
{
	struct ncp_config c;
	struct ncp_sim off, cold, warm;
	uint8_t d_off[NCP_SHA256_BYTES], d_cold[NCP_SHA256_BYTES],
		d_warm[NCP_SHA256_BYTES];

	ncp_ck_make_dir("reach_cache");
	ncp_config_defaults(&c);
	c.task.kind = NCP_TASK_RANDOM;
	snprintf(c.cache.dir, sizeof(c.cache.dir), "%s/cache", ncp_ck_dir);
	c.cache.enable = false;
	run_digest(&c, 3000, d_off, &off);
	c.cache.enable = true;
	run_digest(&c, 3000, d_cold, &cold);
	run_digest(&c, 3000, d_warm, &warm);
	ck_assert_str_eq(off.cache_dir, "");
	ck_assert_str_eq(cold.cache_dir, c.cache.dir);
	ck_assert_uint_eq(off.cache.hits + off.cache.misses, 0);
	ck_assert_uint_eq(cold.cache.hits, 0);
	ck_assert_uint_gt(cold.cache.misses, 0);
	ck_assert_uint_eq(cold.cache.stored, cold.cache.misses);
	ck_assert_uint_eq(warm.cache.hits, cold.cache.misses);
	ck_assert_uint_eq(warm.cache.misses, 0);
	printf("build: %.3f s without the cache, %.3f s cold, %.3f s warm "
	       "(%llu decoders)\n", off.build_seconds, cold.build_seconds,
	       warm.build_seconds, (unsigned long long)warm.cache.hits);
	ck_assert(!memcmp(d_off, d_cold, sizeof(d_off)));
	ck_assert(!memcmp(d_off, d_warm, sizeof(d_off)));
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(manual_target_and_reset)
{
	struct ncp_config c;
	struct ncp_sim sim;
	char err[256];
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_sim_init(&sim, &c, 16, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_sim_set_target(&sim, (double[2]){ 0.15, 1.4 }), 0);
	ck_assert_int_lt(ncp_sim_set_target(&sim, (double[2]){ 0, 5 }), 0);
	ck_assert_int_lt(ncp_sim_set_target(&sim, (double[2]){ NAN, 1 }), 0);
	for (int s = 0; s < 1500; s++)
		ncp_sim_step(&sim);
	double e = hypot(sim.arm.hand[0] - 0.15, sim.arm.hand[1] - 1.4);
	ck_assert_msg(e < 0.05, "hand %.3f %.3f", sim.arm.hand[0], sim.arm.hand[1]);
	ncp_sim_reset(&sim);
	ncp_ck_near(sim.arm.hand[0], 0.0, 1e-9);
	ncp_ck_near(sim.arm.hand[1], 1.25, 1e-9);
	ncp_sim_fini(&sim);
}
END_TEST

/* The hand's distance from xy after holding it as a manual target for
 * 3 s from the start posture (refused targets too: the task is set by
 * hand). */
static double hold(struct ncp_sim *sim, const double xy[2])
{
	struct ncp_task_params tp = sim->task.p;
	ncp_sim_reset(sim);
	tp.kind = NCP_TASK_MANUAL;
	ck_assert_int_eq(ncp_sim_set_task(sim, &tp), 0);
	ncp_task_set_target(&sim->task, xy);
	for (int s = 0; s < 3000; s++)
		ncp_sim_step(sim);
	return hypot(sim->arm.hand[0] - xy[0], sim->arm.hand[1] - xy[1]);
}

/* Targets on the edge of what target accepts are reached; targets it
 * refuses for lying where the circuits cannot sense the arm are not (the
 * README's old example among them: the hand stopped 0.18 m short). */
START_TEST(accepted_targets_are_reached_refused_are_not)
{
	static const double edge[][2] = {
		{ -0.2, 0.6 }, { 0.2, 0.6 }, { -0.4, 0.85 }, { 0.4, 0.9 },
		{ -0.45, 1.25 }, { 0.65, 1.25 }, { 0.65, 1.5 }, { -0.3, 1.9 },
		{ 0.0, 1.9 }, { 0.65, 1.9 },
	};
	static const double beyond[][2] = {
		{ 0.1, 0.45 }, { 0.0, 2.1 }, { -0.9, 1.25 }, { 0.85, 1.6 },
		{ -0.5, 2.05 }, { -0.85, 0.8 },
	};
	struct ncp_config c;
	struct ncp_sim sim;
	char err[320];

	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_sim_init(&sim, &c, 16, err, sizeof(err)), 0);
	for (size_t i = 0; i < NCP_ARRAY_SIZE(edge); i++) {
		ck_assert_msg(ncp_reach_target_check(&c.reach, edge[i], err,
						     sizeof(err)) == 0,
			      "(%g, %g) refused: %s", edge[i][0], edge[i][1], err);
		double e = hold(&sim, edge[i]);
		printf("accepted (%5.2f, %4.2f): end error %.4f m\n", edge[i][0],
		       edge[i][1], e);
		ck_assert_msg(e < 0.05, "accepted (%g, %g) missed by %.3f m",
			      edge[i][0], edge[i][1], e);
	}
	for (size_t i = 0; i < NCP_ARRAY_SIZE(beyond); i++) {
		ck_assert_int_eq(ncp_reach_target_check(&c.reach, beyond[i], err,
							sizeof(err)), -EDOM);
		double e = hold(&sim, beyond[i]);
		printf("refused  (%5.2f, %4.2f): end error %.4f m (%s)\n",
		       beyond[i][0], beyond[i][1], e, err);
		ck_assert_msg(e >= 0.05, "refused (%g, %g) reached (%.3f m)",
			      beyond[i][0], beyond[i][1], e);
	}
	/* ncp_sim_set_target refuses what target refuses. */
	ck_assert_int_eq(ncp_sim_set_target(&sim, beyond[0]), -EDOM);
	ck_assert_int_eq(ncp_sim_set_target(&sim, edge[0]), 0);
	ncp_sim_fini(&sim);
}
END_TEST

/* Why a target is refused, in words. */
START_TEST(refusals_say_why)
{
	struct ncp_reach_params p;
	char why[320];

	ncp_reach_params_default(&p);
	ck_assert_int_eq(ncp_reach_target_check(&p, (double[2]){ 0.1, 0.45 },
						why, sizeof(why)), -EDOM);
	ck_assert_msg(strstr(why, "y 0.45 m is below 0.6 m") &&
		      strstr(why, "x -0.65..0.65 m, y 0.6..1.9 m"), "%s", why);
	ck_assert_int_eq(ncp_reach_target_check(&p, (double[2]){ 0.0, 3.0 },
						why, sizeof(why)), -EDOM);
	ck_assert_msg(strstr(why, "3 m from the shoulder, the arm reaches 0.2 "
			      "to 2.8 m"), "%s", why);
	ck_assert_int_eq(ncp_reach_target_check(&p, (double[2]){ 1.0, 0.5 },
						why, sizeof(why)), -EDOM);
	ck_assert_msg(strstr(why, "joint beyond its limits [0.1, 3]"), "%s", why);
	ck_assert_int_eq(ncp_reach_target_check(&p, (double[2]){ -0.6, 1.25 },
						why, sizeof(why)), -EDOM);
	ck_assert_msg(strstr(why, "the shoulder would be at 1.0870 rad") &&
		      strstr(why, "up to 1.0000 rad"), "%s", why);
	ck_assert_int_eq(ncp_reach_target_check(&p, (double[2]){ NAN, 1.0 },
						why, sizeof(why)), -EDOM);
	ck_assert_int_eq(ncp_reach_target_check(&p, (double[2]){ 0.0, 1.25 },
						NULL, 0), 0);
}
END_TEST

START_TEST(adaptive_population_builds_and_runs)
{
	struct ncp_config c;
	struct ncp_sim sim;
	char err[256];
	ncp_config_defaults(&c);
	c.reach.adapt = true;
	ck_assert_int_eq(ncp_sim_init(&sim, &c, 16, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_reach_neurons(sim.reach), 3800);
	for (int s = 0; s < 4000; s++)
		ncp_sim_step(&sim);
	ck_assert_uint_eq(sim.n_reaches, 4);
	for (int i = 0; i < 4; i++)
		ck_assert(sim.reaches[i].end_error < 0.05);
	ncp_sim_fini(&sim);
}
END_TEST

/* The trajectory generator (spiking): over a circle's period the PMC's
 * point holds the start, runs round the circle (leaving it only for a
 * few steps after the gate opens, docs/model.md) and holds the end; the
 * hand follows with a small path error.  Only the trajectory built is
 * accepted as a task; target tasks run on the same network. */
START_TEST(trajectory_generator_traces_the_circle)
{
	struct ncp_config c;
	struct ncp_sim sim;
	char err[256];
	ncp_config_defaults(&c);
	c.task.kind = NCP_TASK_CIRCLE;
	c.task.period = 4.5;
	ck_assert_int_eq(ncp_sim_init(&sim, &c, 16, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_reach_neurons(sim.reach), 3300);
	const struct ncp_traj *t = ncp_reach_traj(sim.reach);
	ck_assert_ptr_nonnull(t);
	double off = 0, mid[2] = { 0, 0 }, pmc[2];
	for (int s = 0; s < 4500; s++) {
		ncp_sim_step(&sim);
		ncp_reach_target(sim.reach, pmc);
		if (s > 100 && (s < 1500 || s > 1530))
			off = fmax(off, ncp_traj_distance(t->xy, t->n, pmc));
		/* The start (exact: the force is gated off), the end (the
		 * ramp population decodes the force least well at its
		 * edge, s = 1). */
		if (s == 1499 || s == 4499) {
			ncp_ck_near(pmc[0], 0.25, s == 1499 ? 1e-3 : 0.03);
			ncp_ck_near(pmc[1], 1.25, s == 1499 ? 1e-3 : 0.03);
		}
		if (s == 2500)
			memcpy(mid, pmc, sizeof(mid));
	}
	printf("circle: PMC at most %.4f m off the circle, at (%.3f, %.3f) "
	       "half-way; end error %.4f m, path error %.4f / %.4f m\n", off,
	       mid[0], mid[1], sim.reaches[0].end_error,
	       sim.reaches[0].path_error_mean, sim.reaches[0].path_error_max);
	ck_assert_msg(off < 0.02, "PMC %.4f m off the circle", off);
	ck_assert_msg(hypot(mid[0] + 0.25, mid[1] - 1.25) < 0.03,
		      "half-way at (%.3f, %.3f)", mid[0], mid[1]);
	ck_assert_uint_eq(sim.n_reaches, 1);
	ck_assert(sim.reaches[0].end_error < 0.03);
	ck_assert(sim.reaches[0].path_error_mean < 0.02);
	ck_assert(sim.reaches[0].path_error_max < 0.05);

	struct ncp_task_params tp = c.task;
	ck_assert(ncp_sim_task_fits(&sim, &tp));
	tp.kind = NCP_TASK_LINE;
	ck_assert(!ncp_sim_task_fits(&sim, &tp));
	ck_assert_int_eq(ncp_sim_set_task(&sim, &tp), -EOPNOTSUPP);
	tp = c.task;
	tp.radius = 0.2;
	ck_assert_int_eq(ncp_sim_set_task(&sim, &tp), -EOPNOTSUPP);
	tp.kind = NCP_TASK_CENTRE_OUT;
	tp.period = 1.0;
	ck_assert(ncp_sim_task_fits(&sim, &tp));
	ck_assert_int_eq(ncp_sim_set_task(&sim, &tp), 0);
	for (int s = 0; s < 4000; s++)
		ncp_sim_step(&sim);
	for (uint64_t i = 1; i < sim.n_reaches; i++)
		ck_assert_msg(sim.reaches[i].end_error < 0.05, "reach %d: %.4f m",
			      (int)i, sim.reaches[i].end_error);
	ncp_sim_fini(&sim);

	/* A network without the generator takes no trajectory. */
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_sim_init(&sim, &c, 16, err, sizeof(err)), 0);
	ck_assert_ptr_null(ncp_reach_traj(sim.reach));
	tp = c.task;
	tp.kind = NCP_TASK_CIRCLE;
	ck_assert(!ncp_sim_task_fits(&sim, &tp));
	ncp_sim_fini(&sim);
}
END_TEST

/* The field: off adds nothing (the same run as a network without it
 * switched on at all); on, the arm is pushed off its straight reaches;
 * switched on while running it acts from the next step. */
START_TEST(force_field_on_and_off)
{
	struct ncp_config c;
	struct ncp_sim a, b;
	char err[256];
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_sim_init(&a, &c, 16, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_sim_init(&b, &c, 16, err, sizeof(err)), 0);
	struct ncp_field_params f = { .on = true, .kind = NCP_FIELD_JOINT,
				      .strength = 0.4 };
	for (int s = 0; s < 4000; s++) {
		if (s == 2000)
			ck_assert_int_eq(ncp_sim_set_field(&b, &f), 0);
		ncp_sim_step(&a);
		ncp_sim_step(&b);
		if (s < 2000)
			ck_assert(a.arm.hand[0] == b.arm.hand[0] &&
				  a.arm.hand[1] == b.arm.hand[1]);
	}
	double pa = (a.reaches[2].path_error_mean + a.reaches[3].path_error_mean) / 2;
	double pb = (b.reaches[2].path_error_mean + b.reaches[3].path_error_mean) / 2;
	printf("reaches 3-4: path error %.4f m without the field, %.4f m with it\n",
	       pa, pb);
	ck_assert_msg(pb > 2 * pa, "field: %.4f m, none: %.4f m", pb, pa);
	f.kind = 7;
	ck_assert_int_eq(ncp_sim_set_field(&b, &f), -EINVAL);
	f.kind = NCP_FIELD_CURL;
	f.strength = NAN;
	ck_assert_int_eq(ncp_sim_set_field(&b, &f), -EINVAL);
	ncp_sim_fini(&a);
	ncp_sim_fini(&b);
}
END_TEST

/* Joint space (REACH's a03): M1's decoders were solved for
 * u = kp M(q) q_err (checked against the arm's inertia here), and the
 * spiking population's steady-state decode follows it within 10% of its
 * size over M1's range; the task-space network decodes another function
 * of the same inputs.  The PMC holds the target's joint angles. */
START_TEST(joint_space_m1_decodes_m_kp_q_err)
{
	struct ncp_reach_params p;
	char err[256];
	ncp_reach_params_default(&p);
	p.control = NCP_REACH_JOINT;
	struct ncp_reach *rj = ncp_reach_new(&p, NULL, err, sizeof(err));
	ck_assert_msg(rj != NULL, "%s", err);
	p.control = NCP_REACH_TASK;
	struct ncp_reach *rt = ncp_reach_new(&p, NULL, err, sizeof(err));
	ck_assert_msg(rt != NULL, "%s", err);
	const int dof = ncp_reach_links(rj);
	ck_assert_int_eq(ncp_reach_m1_dims(rj), 2 * dof);
	ck_assert_int_eq(ncp_reach_m1_dims(rt), dof + 2);

	struct ncp_rng rng;
	ncp_rng_seed(&rng, 7);
	double se = 0, sf = 0, sd = 0;
	enum { P = 200 };
	for (int k = 0; k < P; k++) {
		/* q within M1's range, q_err (joint) or x_des (task) +-0.25. */
		double x[4], u[2], f[2], ft[2];
		double M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
		x[0] = 0.6 + 0.25 * (2 * ncp_rng_uniform(&rng) - 1);
		x[1] = 2.2 + 0.25 * (2 * ncp_rng_uniform(&rng) - 1);
		x[2] = 0.25 * (2 * ncp_rng_uniform(&rng) - 1);
		x[3] = 0.25 * (2 * ncp_rng_uniform(&rng) - 1);
		ck_assert_int_eq(ncp_reach_m1_static(rj, x, u, f), 0);
		ck_assert_int_eq(ncp_reach_m1_static(rt, x, NULL, ft), 0);
		ncp_arm_inertia(&p.arm, x, M);
		for (int i = 0; i < 2; i++) {
			double want = p.kp * (M[i][0] * x[2] + M[i][1] * x[3]);
			ncp_ck_near(f[i], want, 1e-9 * (1 + fabs(want)));
			se += (u[i] - f[i]) * (u[i] - f[i]);
			sf += f[i] * f[i];
			sd += (ft[i] - f[i]) * (ft[i] - f[i]);
		}
	}
	double rel = sqrt(se / sf), diff = sqrt(sd / sf);
	printf("joint-space M1: decode RMSE %.4f of the torque's RMS %.3f N m; "
	       "the task-space function differs by %.2f of it\n", rel,
	       sqrt(sf / (2 * P)), diff);
	ck_assert_msg(rel < 0.1, "M1 decodes kp M q_err with RMSE %.3f of it", rel);
	ck_assert_msg(diff > 0.3, "task and joint functions differ by only %.3f",
		      diff);

	/* The PMC's target: the inverse kinematics of the hand's target. */
	double xy[2] = { 0.1, 1.4 }, q[2], back[2];
	ck_assert_int_eq(ncp_arm_ik(&p.arm, xy, q), 0);
	ncp_reach_set_target(rj, xy);
	struct ncp_net *net = ncp_reach_net(rj);
	int pmc = ncp_net_find(net, "pmc");
	ck_assert_int_eq(ncp_net_size_out(net, pmc), dof);
	ck_assert(ncp_net_output(net, pmc)[0] == (float)q[0] &&
		  ncp_net_output(net, pmc)[1] == (float)q[1]);
	ck_assert_int_eq(ncp_net_size_out(net, ncp_net_find(net, "error")), dof);
	ncp_reach_target(rj, back);
	ck_assert(back[0] == xy[0] && back[1] == xy[1]);
	ncp_reach_free(rj);
	ncp_reach_free(rt);

	/* A control that is neither: refused, saying so. */
	p.control = NCP_REACH_CONTROL_COUNT;
	ck_assert_ptr_null(ncp_reach_new(&p, NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "reach.control 2: expected task (0) or joint (1)"),
		      "%s", err);
	/* Joint space with the 3-link arm: M1 represents [q, q_err] of
	 * 3 joints each and decodes kp M(q) q_err; the PMC holds the
	 * target's 3 joint angles. */
	p.control = NCP_REACH_JOINT;
	ck_assert_int_eq(ncp_reach_params_links(&p, 3, err, sizeof(err)), 0);
	struct ncp_reach *r3 = ncp_reach_new(&p, NULL, err, sizeof(err));
	ck_assert_msg(r3 != NULL, "%s", err);
	ck_assert_int_eq(ncp_reach_links(r3), 3);
	ck_assert_int_eq(ncp_reach_m1_dims(r3), 6);
	{
		double x[6] = { 0.4, 1.9, 0.1, 0.1, -0.05, 0.05 }, f[3];
		double M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
		ck_assert_int_eq(ncp_reach_m1_static(r3, x, NULL, f), 0);
		ncp_arm_inertia(&p.arm, x, M);
		for (int i = 0; i < 3; i++) {
			double want = p.kp * (M[i][0] * x[3] + M[i][1] * x[4] +
					      M[i][2] * x[5]);
			ncp_ck_near(f[i], want, 1e-9 * (1 + fabs(want)));
		}
		double t3[2] = { 0.05, 0.5 }, q3[3];
		ck_assert_int_eq(ncp_arm_ik(&p.arm, t3, q3), 0);
		ncp_reach_set_target(r3, t3);
		struct ncp_net *n3 = ncp_reach_net(r3);
		int pmc3 = ncp_net_find(n3, "pmc");
		ck_assert_int_eq(ncp_net_size_out(n3, pmc3), 3);
		for (int i = 0; i < 3; i++)
			ck_assert(ncp_net_output(n3, pmc3)[i] == (float)q3[i]);
		/* The oracle fits a 2-D plan: refused here, saying why. */
		double K[2 * NCP_STIM_MAX_ELECTRODES];
		ck_assert_int_ne(ncp_reach_oracle_fit(r3, NCP_LESION_PMC_M1, 1.0,
						      K, err, sizeof(err)), 0);
		ck_assert_msg(strstr(err, "joint-space control of the 3-link arm"),
			      "%s", err);
	}
	ncp_reach_free(r3);
}
END_TEST

/* The 3-link arm's joint trajectory: along a path the redundant wrist is
 * resolved by the posture nearest the path's first (ncp_arm_ik_near), so
 * the joint angles move continuously (no step above 0.01 rad between
 * neighbouring samples of 1000), every sample puts the hand on its point,
 * and each is the nearest such posture (the offset from the first posture
 * has no component along the null space).  A path whose continuation
 * leaves the limits is refused naming the point. */
START_TEST(joint_space_3link_path_is_smooth)
{
	const struct ncp_arm_params *a = &ncp_arm_human3;
	double q0[3], prev[3], q[3];
	const double start[2] = { 0.0, 0.4 };
	ck_assert_int_eq(ncp_arm_ik(a, start, q0), 0);
	memcpy(prev, q0, sizeof(prev));
	double worst_step = 0, worst_hand = 0, worst_orth = 0, wrist = 0;
	enum { S = 1000 };
	for (int i = 1; i < S; i++) {
		/* An S-curve: across the workspace and back. */
		double s = (double)i / (S - 1);
		double xy[2] = { 0.08 * sin(2 * M_PI * s), 0.4 + 0.1 * s }, h[2];
		ck_assert_msg(ncp_arm_ik_near(a, xy, q0, prev, q) == 0,
			      "sample %d (%.3f, %.3f)", i, xy[0], xy[1]);
		ncp_arm_hand(a, q, h);
		worst_hand = fmax(worst_hand, hypot(h[0] - xy[0], h[1] - xy[1]));
		double J[2][NCP_ARM_MAX_LINKS], nv[3];
		ncp_arm_jacobian(a, q, J);
		/* The null space of J: the cross product of its rows. */
		nv[0] = J[0][1] * J[1][2] - J[0][2] * J[1][1];
		nv[1] = J[0][2] * J[1][0] - J[0][0] * J[1][2];
		nv[2] = J[0][0] * J[1][1] - J[0][1] * J[1][0];
		double nn = sqrt(nv[0] * nv[0] + nv[1] * nv[1] + nv[2] * nv[2]);
		double dot = 0;
		for (int k = 0; k < 3; k++) {
			worst_step = fmax(worst_step, fabs(q[k] - prev[k]));
			dot += (q[k] - q0[k]) * nv[k] / nn;
			prev[k] = q[k];
		}
		worst_orth = fmax(worst_orth, fabs(dot));
		wrist = fmax(wrist, fabs(q[2]));
	}
	printf("3-link path IK: largest joint step %.5f rad, hand off its point "
	       "%.2g m, null-space component %.2g rad, wrist up to %.3f rad\n",
	       worst_step, worst_hand, worst_orth, wrist);
	ck_assert_msg(worst_step < 0.01, "joint step %g rad", worst_step);
	ck_assert_msg(worst_hand < 1e-9, "hand %g m off", worst_hand);
	ck_assert_msg(worst_orth < 1e-6, "null-space component %g", worst_orth);
	/* The wrist takes part (it is not held straight). */
	ck_assert_msg(wrist > 0.02, "wrist %g rad", wrist);

	/* From the posture nearest the first, out of reach: -EDOM. */
	const double far[2] = { 0.0, 0.8 };
	ck_assert_int_eq(ncp_arm_ik_near(a, far, q0, q0, q), -EDOM);
	const double nan_xy[2] = { NAN, 0.4 };
	ck_assert_int_eq(ncp_arm_ik_near(a, nan_xy, q0, q0, q), -EDOM);

	/* The network: a line in joint space builds and its generator's
	 * joint path ends at the line's end. */
	struct ncp_reach_params p;
	char err[320];
	ncp_reach_params_default(&p);
	ck_assert_int_eq(ncp_reach_params_links(&p, 3, err, sizeof(err)), 0);
	p.control = NCP_REACH_JOINT;
	double line[4] = { 0.0, 0.4, 0.0, 0.5 };
	p.dmp_xy = line;
	p.dmp_n = 2;
	p.start[0] = 0.0;
	p.start[1] = 0.4;
	struct ncp_reach *r = ncp_reach_new(&p, NULL, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ncp_reach_free(r);
	/* A path whose continuation leaves the limits (down past the
	 * shoulder: the posture followed runs into the shoulder's and the
	 * elbow's limits, where postures of another wrist angle reach the
	 * point but do not continue this one): refused, naming the point. */
	double near_path[4] = { 0.0, 0.4, -0.057, -0.383 };
	p.dmp_xy = near_path;
	ck_assert_ptr_null(ncp_reach_new(&p, NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "trajectory point (-0.") &&
		      strstr(err, "no posture within the joint limits continues"),
		      "%s", err);
	printf("refused: %s\n", err);
}
END_TEST

/* Joint space on the centre-out task: every target reached, the mean
 * end error within twice the task-space default's on the same brain. */
START_TEST(joint_space_reaches_centre_out)
{
	struct ncp_config c;
	struct ncp_sim sim;
	char err[256];
	double mean[2], worst[2], rate[2];
	for (int joint = 0; joint < 2; joint++) {
		ncp_config_defaults(&c);
		c.reach.control = joint ? NCP_REACH_JOINT : NCP_REACH_TASK;
		ck_assert_int_eq(ncp_sim_init(&sim, &c, 64, err, sizeof(err)), 0);
		for (int s = 0; s < 16000; s++)
			ncp_sim_step(&sim);
		ck_assert_uint_eq(sim.n_reaches, 16);
		worst[joint] = 0;
		for (int i = 0; i < 16; i++)
			worst[joint] = fmax(worst[joint], sim.reaches[i].end_error);
		mean[joint] = sim.sum_end_error / 16;
		rate[joint] = sim.m1_spikes / (1000.0 * 16.0);
		ncp_sim_fini(&sim);
	}
	printf("centre-out, mean / worst end error, M1 rate: task %.4f / %.4f m "
	       "%.2f Hz, joint %.4f / %.4f m %.2f Hz\n", mean[0], worst[0],
	       rate[0], mean[1], worst[1], rate[1]);
	ck_assert_msg(worst[1] < 0.05, "joint: worst end error %.4f m", worst[1]);
	ck_assert_msg(mean[1] < 2 * mean[0], "joint: mean end error %.4f m, "
		      "task %.4f m", mean[1], mean[0]);
	ck_assert_msg(rate[1] >= 5 && rate[1] <= 40, "joint: M1 rate %.2f Hz",
		      rate[1]);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("reach");
	TCase *tc = tcase_create("reach");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, centre_out_reaches_every_target);
	tcase_add_test(tc, same_config_same_run_bit_for_bit);
	tcase_add_test(tc, cached_build_is_the_same_network);
	tcase_add_test(tc, manual_target_and_reset);
	tcase_add_test(tc, adaptive_population_builds_and_runs);
	tcase_add_test(tc, accepted_targets_are_reached_refused_are_not);
	tcase_add_test(tc, refusals_say_why);
	tcase_add_test(tc, trajectory_generator_traces_the_circle);
	tcase_add_test(tc, force_field_on_and_off);
	tcase_add_test(tc, joint_space_m1_decodes_m_kp_q_err);
	tcase_add_test(tc, joint_space_3link_path_is_smooth);
	tcase_add_test(tc, joint_space_reaches_centre_out);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
