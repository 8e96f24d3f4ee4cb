#include <errno.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "models/arm/ncp_arm.h"
#include "models/base/ncp_base.h"
#include "models/reach/ncp_task.h"
#include "models/reach/ncp_traj.h"
#include "tests/ncp_check.h"

/* A path file with `text` in a fresh temporary directory. */
static void write_file(char *path, size_t len, const char *text)
{
	char dir[] = "/tmp/ncp_traj_XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, len, "%s/path.txt", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static void remove_file(const char *path)
{
	char dir[256];
	unlink(path);
	snprintf(dir, sizeof(dir), "%s", path);
	*strrchr(dir, '/') = '\0';
	rmdir(dir);
}

START_TEST(load_points_comments_and_separators)
{
	char path[256], err[300];
	double *xy;
	int *lines, n;
	write_file(path, sizeof(path), "# a path\n\n0 1.0\n0.1,1.1  # comment\n"
		   "\t-0.2e-1 \t 1.25\r\n");
	ck_assert_int_eq(ncp_traj_load(path, &xy, &lines, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 3);
	ncp_ck_near(xy[0], 0.0, 0);
	ncp_ck_near(xy[3], 1.1, 1e-15);
	ncp_ck_near(xy[4], -0.02, 1e-15);
	ck_assert_int_eq(lines[0], 3);
	ck_assert_int_eq(lines[2], 5);
	free(xy);
	free(lines);
	remove_file(path);
}
END_TEST

/* Every bad file is refused with its name, line and what is wrong. */
START_TEST(load_refuses_bad_files)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "0 1\nnan 1.2\n", ":2: point (nan, 1.2) is not finite" },
		{ "0 1\n0.1 -Infinity\n", ":2: point (0.1, -inf) is not finite" },
		{ "0 1\n0.1 1e999\n", ":2: point (0.1, inf) is not finite" },
		{ "0 1\n0.1\n", ":2: expected a point" },
		{ "0 1\n0.1 1.2 3\n", ":2: expected a point" },
		{ "0 1\n0x1 1.2\n", ":2: expected a point" },
		{ "0 1\n0.1 , , 1.2\n", ":2: expected a point" },
		{ "0 1\n", "1 point; a path needs at least 2" },
		{ "# nothing\n", "0 points; a path needs at least 2" },
	};
	char path[256], err[300];
	double *xy;
	int n;
	for (size_t i = 0; i < NCP_ARRAY_SIZE(cases); i++) {
		write_file(path, sizeof(path), cases[i].text);
		ck_assert_int_lt(ncp_traj_load(path, &xy, NULL, &n, err,
					       sizeof(err)), 0);
		ck_assert_msg(strstr(err, cases[i].want) && strstr(err, path),
			      "case %zu: %s", i, err);
		ck_assert_ptr_null(xy);
		remove_file(path);
	}
	ck_assert_int_eq(ncp_traj_load("/nonexistent/p.txt", &xy, NULL, &n, err,
				       sizeof(err)), -ENOENT);
	ck_assert(strstr(err, "/nonexistent/p.txt") != NULL);
}
END_TEST

/* The attractor's dynamics, y'' = ab (g + u - y) - a y', with u the
 * forcing function (or 0) over a 2 s ramp; the farthest the point gets
 * from the path. */
static double worst_distance(const struct ncp_traj *t, bool force)
{
	const double *xy = t->xy;
	const int n = t->n;
	double y[2] = { xy[0], xy[1] }, v[2] = { 0, 0 }, worst = 0;
	const double dt = 1e-4, T = 2.0;
	for (int s = 0; s < (int)(T / dt); s++) {
		double ramp = -1.0 + 2.0 * s * dt / T;
		for (int d = 0; d < 2; d++) {
			double f = force ? ncp_traj_force(t, d, ramp) : 0;
			double g = xy[2 * (n - 1) + d];
			double acc = t->alpha * t->beta * (g + f - y[d]) -
				     t->alpha * v[d];
			v[d] += acc * dt;
			y[d] += v[d] * dt;
		}
		worst = fmax(worst, ncp_traj_distance(xy, n, y));
	}
	return worst;
}

/* The DMP: the point attractor plus the forcing function, integrated
 * while the ramp runs, follows the path (what the spiking PMC
 * approximates); without the force it cuts straight to the goal. */
START_TEST(forcing_function_traces_the_path)
{
	enum { N = 100 };
	double circle[2 * N], ell[6] = { 0, 1.0, 0, 1.3, 0.2, 1.3 };
	for (int k = 0; k < N; k++) {
		double a = 2 * M_PI * k / (N - 1);
		circle[2 * k] = 0.25 * cos(a);
		circle[2 * k + 1] = 1.25 + 0.25 * sin(a);
	}
	struct ncp_traj t;
	ck_assert_int_eq(ncp_traj_init(&t, circle, N), 0);
	double w = worst_distance(&t, true);
	ck_assert_msg(w < 0.002, "circle: %g m off", w);
	ncp_traj_fini(&t);
	ck_assert_int_eq(ncp_traj_init(&t, ell, 3), 0);
	w = worst_distance(&t, true);
	ck_assert_msg(w < 0.002, "L: %g m off", w);
	w = worst_distance(&t, false);
	ck_assert_msg(w > 0.05, "L without the force: only %g m off", w);
	ncp_traj_fini(&t);
}
END_TEST

/* A joint-space DMP (REACH's a03): the path's samples over the ramp
 * through the inverse kinematics, the forcing function of those joint
 * angles; integrated in joint space, its hand follows the path.  The
 * samples are the path's: ncp_traj_point at the ends and half-way. */
START_TEST(joint_forcing_function_traces_the_path)
{
	enum { S = NCP_TRAJ_SAMPLES, N = 100 };
	const struct ncp_arm_params *a = &ncp_arm_default;
	double circle[2 * N], xy[2];
	for (int k = 0; k < N; k++) {
		double ang = 2 * M_PI * k / (N - 1);
		circle[2 * k] = 0.25 * cos(ang);
		circle[2 * k + 1] = 1.25 + 0.25 * sin(ang);
	}
	struct ncp_traj t;
	ck_assert_int_eq(ncp_traj_init(&t, circle, N), 0);
	ck_assert_int_eq(t.dims, 2);
	ncp_traj_point(&t, -1.0, xy);
	ck_assert(xy[0] == circle[0] && xy[1] == circle[1]);
	ncp_traj_point(&t, 1.0, xy);
	ck_assert(xy[0] == circle[2 * N - 2] && xy[1] == circle[2 * N - 1]);
	ncp_traj_point(&t, 0.0, xy);	/* half-way between points 49 and 50 */
	ncp_ck_near(xy[0], (circle[98] + circle[100]) / 2, 1e-15);

	static double q[S * 2];
	for (int i = 0; i < S; i++) {
		ncp_traj_point(&t, -1.0 + 2.0 * i / (S - 1), xy);
		ck_assert_int_eq(ncp_arm_ik(a, xy, q + 2 * i), 0);
	}
	ck_assert_int_eq(ncp_traj_set_force(&t, q, S, 2), 0);
	ck_assert_int_eq(t.dims, 2);
	/* y'' = ab (g + f - y) - a y' per joint, g the last sample. */
	double y[2] = { q[0], q[1] }, v[2] = { 0, 0 }, worst = 0, hand[2];
	const double dt = 1e-4, T = 2.0;
	for (int s = 0; s < (int)(T / dt); s++) {
		double ramp = -1.0 + 2.0 * s * dt / T;
		for (int d = 0; d < 2; d++) {
			double f = ncp_traj_force(&t, d, ramp);
			double acc = t.alpha * t.beta * (q[2 * (S - 1) + d] + f - y[d]) -
				     t.alpha * v[d];
			v[d] += acc * dt;
			y[d] += v[d] * dt;
		}
		ncp_arm_hand(a, y, hand);
		worst = fmax(worst, ncp_traj_distance(t.xy, t.n, hand));
	}
	printf("joint-space DMP of the circle: hand at most %.5f m off\n", worst);
	ck_assert_msg(worst < 0.003, "joint DMP: hand %g m off the circle", worst);
	/* Near the end: the force at s = 1 still carries the path's last
	 * velocity (dy / beta), as REACH's does. */
	ncp_arm_hand(a, y, hand);
	ck_assert_msg(hypot(hand[0] - 0.25, hand[1] - 1.25) < 0.01,
		      "ends at (%g, %g)", hand[0], hand[1]);
	/* Dimensions it cannot hold, or too few points: refused, t kept. */
	ck_assert_int_eq(ncp_traj_set_force(&t, q, S, 0), -EINVAL);
	ck_assert_int_eq(ncp_traj_set_force(&t, q, S, NCP_TRAJ_MAX_DIMS + 1),
			 -EINVAL);
	ck_assert_int_eq(ncp_traj_set_force(&t, q, 1, 2), -EINVAL);
	ck_assert_int_eq(t.dims, 2);
	ncp_traj_fini(&t);
}
END_TEST

START_TEST(ramp_and_distance)
{
	ncp_ck_near(ncp_traj_ramp(0.0, 4.5), -1.0, 0);
	ncp_ck_near(ncp_traj_ramp(1.5, 4.5), -1.0, 1e-12);
	ncp_ck_near(ncp_traj_ramp(2.5, 4.5), 0.0, 1e-12);
	ncp_ck_near(ncp_traj_ramp(3.5, 4.5), 1.0, 1e-12);
	ncp_ck_near(ncp_traj_ramp(4.4, 4.5), 1.0, 0);
	ncp_ck_near(ncp_traj_ramp(1.25, 2.25), 0.0, 1e-12); /* speed 2 */
	double seg[6] = { 0, 0, 1, 0, 1, 1 };
	ncp_ck_near(ncp_traj_distance(seg, 3, (double[2]){ 0.5, 0.3 }), 0.3, 1e-15);
	ncp_ck_near(ncp_traj_distance(seg, 3, (double[2]){ 1.2, 0.5 }), 0.2, 1e-15);
	ncp_ck_near(ncp_traj_distance(seg, 3, (double[2]){ -3, 4 }), 5.0, 1e-15);
	ncp_ck_near(ncp_traj_distance(seg, 1, (double[2]){ 3, 4 }), 5.0, 1e-15);
}
END_TEST

/* The trajectory task: the start while the ramp waits (the first third
 * of each period), then the end; a line's two points, a circle's. */
START_TEST(task_line_and_circle)
{
	struct ncp_task_params p;
	struct ncp_task t;
	double *xy, g[2];
	int n;
	char err[200];
	ncp_task_params_default(&p);
	p.kind = NCP_TASK_LINE;
	p.period = 4.5;
	ck_assert_int_eq(ncp_task_init(&t, &p, 0.001, 0), -EINVAL); /* no points */
	ck_assert_int_eq(ncp_task_path(&p, &xy, NULL, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 2);
	p.path_xy = xy;
	p.path_n = n;
	ck_assert_int_eq(ncp_task_init(&t, &p, 0.001, 100), 0);
	int ends = 0;
	for (uint64_t s = 100; s < 100 + 9000; s++) {
		ncp_task_target(&t, s, g);
		double ramp = ncp_task_ramp(&t, s);
		uint64_t k = (s - 100) % 4500;
		ck_assert(k <= 1500 ? ramp == -1.0 : ramp > -1.0);
		ncp_ck_near(g[1], k <= 1500 ? 1.0 : 1.5, 0);
		ends += ncp_task_period_ends(&t, s);
	}
	ck_assert_int_eq(ends, 2);
	free(xy);
	p.kind = NCP_TASK_CIRCLE;
	ck_assert_int_eq(ncp_task_path(&p, &xy, NULL, &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n, NCP_TRAJ_CIRCLE_POINTS);
	ncp_ck_near(xy[0], 0.25, 1e-15);
	ncp_ck_near(xy[2 * (n - 1)], 0.25, 1e-15);
	ncp_ck_near(xy[2 * (n / 4) + 1], 1.25 + 0.25 * sin(2 * M_PI * (n / 4) / (n - 1)), 1e-15);
	free(xy);
	p.kind = NCP_TASK_PATH;
	ck_assert_int_lt(ncp_task_path(&p, &xy, NULL, &n, err, sizeof(err)), 0);
	ck_assert(strstr(err, "task.path_file") != NULL);
	p.kind = NCP_TASK_RANDOM;
	ncp_task_init(&t, &p, 0.001, 0);
	ncp_ck_near(ncp_task_ramp(&t, 2000), -1.0, 0);
	enum ncp_task_kind k;
	ck_assert_int_eq(ncp_task_kind_parse("circle", &k), 0);
	ck_assert_int_eq(k, NCP_TASK_CIRCLE);
	ck_assert(ncp_task_is_traj(k));
	ck_assert(!ncp_task_is_traj(NCP_TASK_MANUAL));
}
END_TEST

/* REACH's a01 (task.kind steps): the target is task.line's end for the
 * first period, its start for the second, and so on; no ramp, not a
 * trajectory; the name parses and prints. */
START_TEST(task_steps_between_the_line_ends)
{
	struct ncp_task_params p;
	struct ncp_task t;
	double g[2];
	enum ncp_task_kind k;
	ck_assert_int_eq(ncp_task_kind_parse("steps", &k), 0);
	ck_assert_int_eq(k, NCP_TASK_STEPS);
	ck_assert_str_eq(ncp_task_kind_name(k), "steps");
	ck_assert(!ncp_task_is_traj(k));
	ncp_task_params_default(&p);
	p.kind = NCP_TASK_STEPS;
	p.line[0] = 0.1;
	p.line[1] = 1.0;
	p.line[2] = -0.1;
	p.line[3] = 1.5;
	p.centre[0] = 0.1;
	p.centre[1] = 1.0;
	ck_assert_int_eq(ncp_task_init(&t, &p, 0.001, 50), 0);
	int ends = 0;
	for (uint64_t s = 50; s < 50 + 4000; s++) {
		ncp_task_target(&t, s, g);
		int even = ((s - 50) / 1000) % 2 == 0;
		ck_assert_msg(g[0] == (even ? -0.1 : 0.1) &&
			      g[1] == (even ? 1.5 : 1.0), "step %d: (%g, %g)",
			      (int)s, g[0], g[1]);
		ck_assert(ncp_task_ramp(&t, s) == -1.0);
		ends += ncp_task_period_ends(&t, s);
	}
	ck_assert_int_eq(ends, 4);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("traj");
	TCase *tc = tcase_create("traj");
	tcase_add_test(tc, load_points_comments_and_separators);
	tcase_add_test(tc, load_refuses_bad_files);
	tcase_add_test(tc, forcing_function_traces_the_path);
	tcase_add_test(tc, joint_forcing_function_traces_the_path);
	tcase_add_test(tc, ramp_and_distance);
	tcase_add_test(tc, task_line_and_circle);
	tcase_add_test(tc, task_steps_between_the_line_ends);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
