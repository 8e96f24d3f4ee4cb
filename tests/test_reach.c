#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_sha256.h"
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
	ck_assert_msg(strstr(why, "the shoulder would be at 1.09 rad") &&
		      strstr(why, "up to 1 rad"), "%s", why);
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
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
