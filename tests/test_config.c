#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ncp_config.h"
#include "models/base/ncp_base.h"
#include "tests/ncp_check.h"

/* A valid value for key i that differs from its default. */
static void other_value(const struct ncp_config_key_info *k, char *buf,
			size_t len)
{
	if (!strcmp(k->type, "boolean")) {
		snprintf(buf, len, "%s", strcmp(k->default_value, "true") ? "true" :
			 "false");
	} else if (!strcmp(k->type, "choice")) {
		char first[64], second[64];
		sscanf(k->range, "%63[^,], %63[^,]", first, second);
		snprintf(buf, len, "%s", strcmp(first, k->default_value) ? first :
			 second);
	} else if (!strcmp(k->type, "string")) {
		snprintf(buf, len, "elsewhere");
	} else if (!strcmp(k->type, "list of numbers")) {
		int n = 2;
		sscanf(k->range, "%d values", &n);
		snprintf(buf, len, "%s", n == 4 ? "[0.5, 1.0, 0.5, 1.1]" :
			 "[0.5, 1.0]");
	} else {
		double lo, hi;
		sscanf(k->range, "%lf .. %lf", &lo, &hi);
		double d = strtod(k->default_value, NULL);
		snprintf(buf, len, strcmp(k->type, "integer") ? "%.17g" : "%.0f",
			 d != lo ? lo : hi);
	}
}

START_TEST(default_file_lists_every_key_at_its_default)
{
	struct ncp_config c, def;
	struct ncp_config_key_info k;
	char err[256], val[128], set[256];

	/* Move every key away from its default; loading the shipped file
	 * must bring every one back. */
	ncp_config_defaults(&def);
	ncp_config_defaults(&c);
	for (int i = 0; ncp_config_key_info(i, &k); i++) {
		other_value(&k, val, sizeof(val));
		snprintf(set, sizeof(set), "%s=%s", k.key, val);
		ck_assert_msg(ncp_config_set(&c, set, err, sizeof(err)) == 0, "%s",
			      err);
	}
	ck_assert_int_eq(ncp_config_diff(&def, &c, NULL, NULL) > 0, 1);
	ck_assert_int_eq(ncp_config_load_string(&c, ncp_config_default_yaml,
						strlen(ncp_config_default_yaml),
						"ncpd.yaml", err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_diff(&def, &c, NULL, NULL), 0);
	ck_assert_int_eq(ncp_config_validate(&def, err, sizeof(err)), 0);
	/* The compiled-in text is config/ncpd.yaml of this tree. */
	struct ncp_config f;
	ncp_config_defaults(&f);
	ck_assert_int_eq(ncp_config_load_file(&f, "config/ncpd.yaml", err,
					      sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_diff(&def, &f, NULL, NULL), 0);
}
END_TEST

struct bad_case {
	const char *yaml;
	const char *want;	/* a substring of the message */
};

static const struct bad_case bad_cases[] = {
	{ "task:\n  knd: random\n", "t.yaml:2:3: unknown key 'task.knd' (did you mean 'task.kind'?)" },
	{ "tsk:\n  kind: random\n", "t.yaml:1:1: unknown section 'tsk'" },
	{ "seed: 1\nbogus: 2\n", "t.yaml:2:1: unknown key 'bogus'" },
	{ "task:\n  period: fast\n", "t.yaml:2:11: key 'task.period': expected a finite number, got 'fast'" },
	{ "task:\n  period: 0\n", "t.yaml:2:11: key 'task.period': 0 is out of range" },
	{ "dt: 1e999\n", "t.yaml:1:5: key 'dt': expected a finite number" },
	{ "reach:\n  m1_neurons: 12.5\n", "t.yaml:2:15: key 'reach.m1_neurons': expected an integer, got '12.5'" },
	{ "seed: -1\n", "t.yaml:1:7: key 'seed': expected a non-negative integer" },
	{ "reach:\n  adapt: maybe\n", "key 'reach.adapt': expected true or false, got 'maybe'" },
	{ "task:\n  kind: sideways\n", "key 'task.kind': expected one of centre-out, random, manual, line, circle, path, steps, got 'sideways'" },
	{ "reach:\n  control: diagonal\n", "t.yaml:2:12: key 'reach.control': expected one of task, joint, got 'diagonal'" },
	{ "task:\n  kind: random\n  kind: manual\n", "t.yaml:3:3: key 'task.kind' given twice" },
	{ "reach:\n  kp: [1, 2]\n", "t.yaml:2:7: key 'reach.kp': expected a number, got a list" },
	{ "task:\n  centre: 1.25\n", "key 'task.centre': expected a list of 2 numbers" },
	{ "task:\n  centre: [0, 1, 2]\n", "t.yaml:2:11: key 'task.centre': expected a list of 2 numbers" },
	{ "task: random\n", "t.yaml:1:1: 'task' is a section: expected a mapping" },
	{ "task:\n  kind: {a: 1}\n", "key 'task.kind': expected a choice, got a mapping" },
	{ "- a\n- b\n", "t.yaml:1:1: expected a mapping of keys at the top level" },
	{ "task:\n  kind: [random\n", "key 'task.kind': expected a choice, got a list" },
	{ "seed: 'abc\n", "t.yaml:2:1: YAML syntax: found unexpected end of stream" },
	{ "task: {kind: random\n", "t.yaml:2:1: YAML syntax: did not find expected" },
	{ "a: &x 1\nseed: *x\n", "unknown key 'a'" },
	{ "seed: &x 1\ndt: *x\n", "t.yaml:2:5: key 'dt': aliases are not supported" },
	{ "data_dir: \"a\\tb\"\n", "key 'data_dir': control character" },
};

START_TEST(bad_files_name_file_line_column_and_key)
{
	for (size_t i = 0; i < NCP_ARRAY_SIZE(bad_cases); i++) {
		struct ncp_config c;
		char err[512] = "";
		ncp_config_defaults(&c);
		int ret = ncp_config_load_string(&c, bad_cases[i].yaml,
						 strlen(bad_cases[i].yaml), "t.yaml",
						 err, sizeof(err));
		ck_assert_msg(ret < 0, "case %zu accepted: %s", i, bad_cases[i].yaml);
		ck_assert_msg(strstr(err, bad_cases[i].want), "case %zu: got '%s', "
			      "want '%s'", i, err, bad_cases[i].want);
	}
}
END_TEST

START_TEST(files_and_overrides)
{
	struct ncp_config c;
	char err[512], val[64];
	ncp_config_defaults(&c);
	/* Empty and comment-only documents change nothing. */
	ck_assert_int_eq(ncp_config_load_string(&c, "", 0, "e", err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_load_string(&c, "# only\n", 7, "e", err,
						sizeof(err)), 0);
	const char *y = "task: {kind: random, seed: 7, centre: [0.1, 1.2]}\n";
	ck_assert_int_eq(ncp_config_load_string(&c, y, strlen(y), "y", err,
						sizeof(err)), 0);
	ck_assert_int_eq(c.task.kind, NCP_TASK_RANDOM);
	ck_assert_uint_eq(c.task.seed, 7);
	ncp_ck_near(c.task.centre[0], 0.1, 0);
	ck_assert_int_eq(ncp_config_set(&c, "task.period=2.5", err, sizeof(err)), 0);
	ncp_ck_near(c.task.period, 2.5, 0);
	ck_assert_int_eq(ncp_config_set(&c, "task.centre=0,1.25", err, sizeof(err)), 0);
	ncp_ck_near(c.task.centre[1], 1.25, 0);
	ck_assert_int_eq(ncp_config_set(&c, "reach.adapt=yes", err, sizeof(err)), 0);
	ck_assert(c.reach.adapt);

	ck_assert_int_lt(ncp_config_set(&c, "task.period", err, sizeof(err)), 0);
	ck_assert(strstr(err, "expected KEY=VALUE"));
	ck_assert_int_lt(ncp_config_set(&c, "task.perid=1", err, sizeof(err)), 0);
	ck_assert(strstr(err, "did you mean 'task.period'"));
	ck_assert_int_lt(ncp_config_set(&c, "task.period=-1", err, sizeof(err)), 0);
	ck_assert(strstr(err, "--set task.period=-1: key 'task.period': -1 is out of range"));
	ck_assert_int_lt(ncp_config_set(&c, "task.centre=1", err, sizeof(err)), 0);

	ck_assert_int_eq(ncp_config_get(&c, "task.period", val, sizeof(val)), 0);
	ck_assert_str_eq(val, "2.5");
	ck_assert_int_eq(ncp_config_get(&c, "task.kind", val, sizeof(val)), 0);
	ck_assert_str_eq(val, "random");
	ck_assert_int_eq(ncp_config_get(&c, "nope", val, sizeof(val)), -ENOENT);

	ck_assert_int_lt(ncp_config_load_file(&c, "/nonexistent/x.yaml", err,
					      sizeof(err)), 0);
	ck_assert(strstr(err, "/nonexistent/x.yaml: cannot open"));
	ck_assert_int_lt(ncp_config_load_file(&c, "/tmp", err, sizeof(err)), 0);
	ck_assert(strstr(err, "not a regular file"));
}
END_TEST

START_TEST(validate_checks_the_workspace)
{
	struct ncp_config c;
	char err[512];
	ncp_config_defaults(&c);
	c.task.centre[1] = 2.9;
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert(strstr(err, "task.centre"));
	ncp_config_defaults(&c);
	c.task.random_radius = 0.9;
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert(strstr(err, "task.random_radius 0.9"));
}
END_TEST

/* A trajectory: every point reachable; a path file's faults name the
 * file and line. */
START_TEST(arm_links_picks_the_arm_and_its_workspace)
{
	struct ncp_config c;
	char err[256];

	/* The task's keys at the 2-link defaults follow to the 3-link arm's. */
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_config_set(&c, "arm.links=3", err, sizeof(err)), 0);
	ck_assert_int_eq(c.reach.arm.links, 3);
	ck_assert(c.reach.arm.l[2] > 0.18 && c.reach.arm.l[2] < 0.19);
	ck_assert(c.task.centre[0] == 0.0 && c.task.centre[1] == 0.45);
	ck_assert(c.task.radius == 0.1 && c.task.random_radius == 0.12);
	ck_assert(c.reach.start[1] == 0.45);
	ck_assert_int_eq(ncp_config_validate(&c, err, sizeof(err)), 0);
	/* A centre set before stays (and must lie in this arm's reach). */
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_config_set(&c, "task.centre=[0.05, 0.5]", err,
					sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_set(&c, "arm.links=3", err, sizeof(err)), 0);
	ck_assert(c.task.centre[0] == 0.05 && c.task.centre[1] == 0.5);
	ck_assert_int_eq(ncp_config_validate(&c, err, sizeof(err)), 0);
	/* The 2-link arm's centre is out of the 3-link arm's reach. */
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_config_set(&c, "task.centre=[0.0, 1.3]", err,
					sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_set(&c, "arm.links=3", err, sizeof(err)), 0);
	ck_assert_int_ne(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "task.centre") && strstr(err, "the arm reaches"),
		      "%s", err);
	/* And back: 3 then 2 is REACH's arm and workspace again. */
	struct ncp_config d;
	ncp_config_defaults(&d);
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_config_set(&c, "arm.links=3", err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_set(&c, "arm.links=2", err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_diff(&d, &c, NULL, NULL), 0);
	ck_assert(memcmp(&d.reach, &c.reach, sizeof(d.reach)) == 0);
	/* Joint-space control takes either arm; the oracle, which fits a
	 * plan of two dimensions, is refused with 3 links in joint space,
	 * naming the keys. */
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_config_set(&c, "reach.control=joint", err,
					sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_set(&c, "arm.links=3", err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_set(&c, "stim.source=oracle", err,
					sizeof(err)), 0);
	ck_assert_int_ne(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "stim.source oracle") &&
		      strstr(err, "reach.control joint and arm.links 3"), "%s",
		      err);
	ck_assert_int_eq(ncp_config_set(&c, "stim.source=none", err,
					sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_set(&c, "arm.links=2", err, sizeof(err)), 0);
	/* Anything else: refused, naming the arms; the arm stays. */
	for (int k = 0; k < 4; k++) {
		static const char *const bad[] = { "arm.links=4", "arm.links=1",
						   "arm.links=-2", "arm.links=2.0" };
		ck_assert_int_ne(ncp_config_set(&c, bad[k], err, sizeof(err)), 0);
		ck_assert_msg(strstr(err, k < 3 ? "ncpd has arms of 2 links" :
				     "expected an integer"), "%s", err);
		ck_assert_int_eq(c.reach.arm.links, 2);
	}
}
END_TEST

/* reach.workspace arm: targets and path points the arm reaches, in or out
 * of S1's range (REACH's a02 circle of radius 0.5, whose left side needs
 * the shoulder past S1's range); what the arm cannot reach stays refused,
 * saying why. */
START_TEST(workspace_arm_takes_what_the_arm_reaches)
{
	struct ncp_config c;
	char err[512], why[320];
	static const char *const circle[] = { "task.kind=circle",
		"task.radius=0.5", "task.centre=[0, 1.25]" };

	ncp_config_defaults(&c);
	ck_assert_int_eq(c.reach.workspace, NCP_REACH_WS_SENSED);
	for (size_t i = 0; i < NCP_ARRAY_SIZE(circle); i++)
		ck_assert_int_eq(ncp_config_set(&c, circle[i], err, sizeof(err)),
				 0);
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "task.radius 0.5 around task.centre [0, "
			      "1.25] leaves the reachable workspace") &&
		      strstr(err, "the circuits sense it up to 1.0000 rad"), "%s", err);
	ck_assert_int_eq(ncp_config_set(&c, "reach.workspace=arm", err,
					sizeof(err)), 0);
	ck_assert_int_eq(c.reach.workspace, NCP_REACH_WS_ARM);
	ck_assert_msg(ncp_config_validate(&c, err, sizeof(err)) == 0, "%s", err);
	/* The point target checks (ncpctl target's) follow the key. */
	const double left[2] = { -0.6, 1.25 };
	ck_assert_int_eq(ncp_reach_target_check(&c.reach, left, NULL, 0), 0);
	c.reach.workspace = NCP_REACH_WS_SENSED;
	ck_assert_int_eq(ncp_reach_target_check(&c.reach, left, why,
						sizeof(why)), -EDOM);
	ck_assert_msg(strstr(why, "the shoulder would be at 1.0870 rad"), "%s", why);
	c.reach.workspace = NCP_REACH_WS_ARM;
	/* Beyond the arm's length, or its joint limits: refused. */
	static const struct {
		double xy[2];
		const char *want;
	} far[] = {
		{ { 0.0, 2.9 }, "2.9 m from the shoulder, the arm reaches 0.2 to "
				"2.8 m" },
		{ { 1.0, 0.5 }, "joint beyond its limits [0.1, 3] rad" },
		{ { NAN, 1.0 }, "not a finite point" },
	};
	for (size_t i = 0; i < NCP_ARRAY_SIZE(far); i++) {
		ck_assert_int_eq(ncp_reach_target_check(&c.reach, far[i].xy, why,
							sizeof(why)), -EDOM);
		ck_assert_msg(strstr(why, far[i].want), "%zu: %s", i, why);
	}
	ck_assert_int_eq(ncp_config_set(&c, "task.kind=line", err, sizeof(err)),
			 0);
	ck_assert_int_eq(ncp_config_set(&c, "task.radius=0.25", err,
					sizeof(err)), 0);
	ck_assert_int_eq(ncp_config_set(&c, "task.line=[0, 1, 0, 2.9]", err,
					sizeof(err)), 0);
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "task.kind line: point (0.000, 2.900) is out "
			      "of reach: 2.9 m from the shoulder"), "%s", err);
	/* A line below S1's hand range (y 0.6 m), within the arm's reach. */
	ck_assert_int_eq(ncp_config_set(&c, "task.line=[0, 1, 0.1, 0.45]", err,
					sizeof(err)), 0);
	ck_assert_msg(ncp_config_validate(&c, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(ncp_config_set(&c, "reach.workspace=sensed", err,
					sizeof(err)), 0);
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "is below 0.6 m: the circuits sense the hand"),
		      "%s", err);
	/* The 3-link arm: past S1's hand range (x 0.2 m) accepted, past the
	 * arm's length refused. */
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_config_set(&c, "arm.links=3", err, sizeof(err)), 0);
	const double side[2] = { 0.3, 0.45 }, out[2] = { 0.0, 0.9 };
	ck_assert_int_eq(ncp_reach_target_check(&c.reach, side, NULL, 0), -EDOM);
	ck_assert_int_eq(ncp_config_set(&c, "reach.workspace=arm", err,
					sizeof(err)), 0);
	ck_assert_int_eq(ncp_reach_target_check(&c.reach, side, why,
						sizeof(why)), 0);
	ck_assert_int_eq(ncp_reach_target_check(&c.reach, out, why,
						sizeof(why)), -EDOM);
	ck_assert_msg(strstr(why, "0.9 m from the shoulder, the arm reaches"),
		      "%s", why);
	ck_assert_int_ne(ncp_config_set(&c, "reach.workspace=far", err,
					sizeof(err)), 0);
	ck_assert_msg(strstr(err, "expected one of sensed, arm, got 'far'"), "%s",
		      err);
}
END_TEST

START_TEST(validate_checks_trajectories)
{
	struct ncp_config c;
	char err[512], dir[] = "/tmp/ncp_cfg_XXXXXX", path[64];
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/p.txt", dir);

	ncp_config_defaults(&c);
	c.task.kind = NCP_TASK_LINE;
	ck_assert_int_eq(ncp_config_validate(&c, err, sizeof(err)), 0);
	c.task.line[3] = 2.6;
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "task.kind line: point (0.000, 2.600) is out "
			      "of reach"), "%s", err);

	/* steps (REACH's a01): both ends of the line reachable. */
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_config_set(&c, "task.kind=steps", err,
					sizeof(err)), 0);
	ck_assert_int_eq(c.task.kind, NCP_TASK_STEPS);
	ck_assert_int_eq(ncp_config_validate(&c, err, sizeof(err)), 0);
	c.task.line[0] = -2.7;
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "task.kind steps: task.line's start (-2.700, "
			      "1.000) is out of reach"), "%s", err);
	c.task.line[0] = 0.0;
	c.task.line[3] = NAN;
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "task.line's end") &&
		      strstr(err, "not a finite point"), "%s", err);

	ncp_config_defaults(&c);
	c.task.kind = NCP_TASK_PATH;
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, "needs task.path_file"), "%s", err);
	snprintf(c.task.path_file, sizeof(c.task.path_file), "%s", path);
	ck_assert_int_lt(ncp_config_validate(&c, err, sizeof(err)), 0);
	ck_assert_msg(strstr(err, path) && strstr(err, "No such file"), "%s", err);
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "0 1.0\n0.1 1.1\n", NULL },
		{ "0 1.0\n\n# far\n3 0\n", ":4: point (3, 0) is out of reach: " },
		{ "0 1.0\nNaN 1.1\n", ":2: point (nan, 1.1) is not finite" },
		{ "0 1.0\n0.1 inf\n", ":2: point (0.1, inf) is not finite" },
		{ "x y\n", ":1: expected a point" },
	};
	for (size_t i = 0; i < NCP_ARRAY_SIZE(cases); i++) {
		FILE *f = fopen(path, "w");
		fputs(cases[i].text, f);
		fclose(f);
		int ret = ncp_config_validate(&c, err, sizeof(err));
		if (!cases[i].want) {
			ck_assert_msg(ret == 0, "%s", err);
			continue;
		}
		ck_assert_int_lt(ret, 0);
		ck_assert_msg(strstr(err, path) && strstr(err, cases[i].want),
			      "case %zu: %s", i, err);
	}
	unlink(path);
	rmdir(dir);
}
END_TEST

static int changes, restart;
static void on_diff(const char *key, const char *a, const char *b, bool reload,
		    void *ctx)
{
	changes++;
	restart += !reload;
}

START_TEST(diff_json_and_reload)
{
	struct ncp_config a, b;
	char err[256];
	ncp_config_defaults(&a);
	b = a;
	ncp_config_set(&b, "task.kind=random", err, sizeof(err));
	ncp_config_set(&b, "seed=3", err, sizeof(err));
	ncp_config_set(&b, "log.level=debug", err, sizeof(err));
	changes = restart = 0;
	ck_assert_int_eq(ncp_config_diff(&a, &b, on_diff, NULL), 3);
	ck_assert_int_eq(changes, 3);
	ck_assert_int_eq(restart, 1); /* the network seed needs a restart */
	ncp_config_apply_reloadable(&a, &b);
	ck_assert_int_eq(a.task.kind, NCP_TASK_RANDOM);
	ck_assert_uint_eq(a.reach.seed, 0);
	ck_assert_int_eq(a.log_level, 4);

	struct ncp_json j;
	ncp_json_init(&j);
	ncp_config_json(&b, &j);
	ck_assert_int_eq(ncp_json_finish(&j), 0);
	ck_assert(strstr(j.buf, "\"seed\":3,"));
	ck_assert(strstr(j.buf, "\"task\":{\"kind\":\"random\","));
	ck_assert(strstr(j.buf, "\"centre\":[0,1.25]"));
	ck_assert(strstr(j.buf, "\"log\":{\"level\":\"debug\"}}"));
	ncp_json_fini(&j);
}
END_TEST

/* Other modules (the control protocol) take a key's range from here. */
START_TEST(key_range_is_the_table_row)
{
	double lo = 0, hi = 0;
	ck_assert_int_eq(ncp_config_key_range("task.period", &lo, &hi), 0);
	ck_assert(lo == 0.01 && hi == 3600);
	ck_assert_int_eq(ncp_config_key_range("rt.cpu", &lo, &hi), 0);
	ck_assert(lo == -1 && hi == 1023);
	ck_assert_int_eq(ncp_config_key_range("task.kind", &lo, &hi), -ENOENT);
	ck_assert_int_eq(ncp_config_key_range("task.nope", &lo, &hi), -ENOENT);
	ck_assert(lo == -1 && hi == 1023); /* untouched on error */
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");
	tcase_add_test(tc, default_file_lists_every_key_at_its_default);
	tcase_add_test(tc, bad_files_name_file_line_column_and_key);
	tcase_add_test(tc, files_and_overrides);
	tcase_add_test(tc, validate_checks_the_workspace);
	tcase_add_test(tc, validate_checks_trajectories);
	tcase_add_test(tc, workspace_arm_takes_what_the_arm_reaches);
	tcase_add_test(tc, arm_links_picks_the_arm_and_its_workspace);
	tcase_add_test(tc, diff_json_and_reload);
	tcase_add_test(tc, key_range_is_the_table_row);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
