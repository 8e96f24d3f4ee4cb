/* Cerebellar adaptation to the force field (docs/model.md), as the REACH
 * paper reports it: the path error of every reach of the centre-out task
 * under three conditions on the same brain,
 *   baseline  no field;
 *   field     the field on, no adaptive population;
 *   adapt     the field on and the PES-learning population (reach.adapt).
 * Adapting, the error falls from the field's level toward the baseline's.
 *
 *   build/tests/bench_adapt [REACHES] [--set KEY=VALUE ...]
 *
 * REACHES (default 40) task periods per condition; --set pairs change the
 * configuration as ncpd's do (after config/ncpd.yaml of the working
 * directory).  Prints one JSON line per condition (bench "adapt": the
 * path errors per reach, the means of the first and last 8 reaches) and
 * a final line with `recovered`, the share of the field's extra error
 * (first 8 reaches) the adaptation removed by the last 8; a table of
 * the same on standard error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"

enum { WINDOW = 8, MAX_REACHES = 10000 };

static const char *const names[3] = { "baseline", "field", "adapt" };

static double mean(const double *x, int n)
{
	double s = 0;
	for (int i = 0; i < n; i++)
		s += x[i];
	return n ? s / n : 0.0;
}

/* One condition: REACHES periods, the path error of each. */
static int run(const struct ncp_config *base, int cond, int reaches,
	       double *err_mean, double *err_max, double *end)
{
	struct ncp_config c = *base;
	struct ncp_sim sim;
	char err[512];

	c.reach.field.on = cond > 0;
	c.reach.adapt = cond == 2;
	if (ncp_sim_init(&sim, &c, (size_t)reaches, err, sizeof(err))) {
		fprintf(stderr, "bench_adapt: %s\n", err);
		return -1;
	}
	while (sim.n_reaches < (uint64_t)reaches)
		ncp_sim_step(&sim);
	for (int k = 0; k < reaches; k++) {
		err_mean[k] = sim.reaches[k].path_error_mean;
		err_max[k] = sim.reaches[k].path_error_max;
		end[k] = sim.reaches[k].end_error;
	}
	ncp_sim_fini(&sim);
	return 0;
}

static void print_arr(struct ncp_json *j, const char *key, const double *x,
		      int n)
{
	ncp_json_key(j, key);
	ncp_json_arr(j);
	for (int i = 0; i < n; i++)
		ncp_json_num(j, x[i]);
	ncp_json_end(j);
}

int main(int argc, char **argv)
{
	struct ncp_config c;
	char err[512];
	int reaches = 40, first = 1;

	openblas_set_num_threads(1);
	if (argc > 1 && strcmp(argv[1], "--set")) {
		reaches = atoi(argv[1]);
		first = 2;
		if (reaches < 2 * WINDOW || reaches > MAX_REACHES) {
			fprintf(stderr, "bench_adapt: REACHES must be %d to %d\n",
				2 * WINDOW, MAX_REACHES);
			return 2;
		}
	}
	ncp_config_defaults(&c);
	if (ncp_config_load_file(&c, "config/ncpd.yaml", err, sizeof(err))) {
		fprintf(stderr, "bench_adapt: %s\n", err);
		return 1;
	}
	for (int i = first; i < argc; i += 2) {
		if (i + 1 >= argc || strcmp(argv[i], "--set") ||
		    ncp_config_set(&c, argv[i + 1], err, sizeof(err))) {
			fprintf(stderr, "bench_adapt: bad argument %s: %s\n",
				argv[i], i + 1 < argc ? err : "missing KEY=VALUE");
			return 2;
		}
	}
	if (c.task.kind != NCP_TASK_CENTRE_OUT)
		fprintf(stderr, "bench_adapt: note: task.kind %s (the paper's "
			"is centre-out)\n", ncp_task_kind_name(c.task.kind));
	if (ncp_config_validate(&c, err, sizeof(err))) {
		fprintf(stderr, "bench_adapt: %s\n", err);
		return 1;
	}

	double *pe[3], *pm[3], *ee[3], first_w[3], last_w[3];
	for (int k = 0; k < 3; k++) {
		pe[k] = calloc((size_t)reaches, sizeof(double));
		pm[k] = calloc((size_t)reaches, sizeof(double));
		ee[k] = calloc((size_t)reaches, sizeof(double));
		if (!pe[k] || !pm[k] || !ee[k])
			return 1;
	}
	for (int k = 0; k < 3; k++) {
		uint64_t t0 = ncp_now_ns();
		if (run(&c, k, reaches, pe[k], pm[k], ee[k]))
			return 1;
		first_w[k] = mean(pe[k], WINDOW);
		last_w[k] = mean(pe[k] + reaches - WINDOW, WINDOW);
		struct ncp_json j;
		ncp_json_init(&j);
		ncp_json_obj(&j);
		ncp_json_key(&j, "bench");
		ncp_json_str(&j, "adapt");
		ncp_json_key(&j, "condition");
		ncp_json_str(&j, names[k]);
		ncp_json_key(&j, "reaches");
		ncp_json_int(&j, reaches);
		ncp_json_key(&j, "period_s");
		ncp_json_num(&j, c.task.period);
		ncp_json_key(&j, "field_kind");
		ncp_json_str(&j, ncp_field_kind_names[c.reach.field.kind]);
		ncp_json_key(&j, "field_strength");
		ncp_json_num(&j, k ? c.reach.field.strength : 0.0);
		ncp_json_key(&j, "adapt_rate");
		ncp_json_num(&j, k == 2 ? c.reach.adapt_rate : 0.0);
		ncp_json_key(&j, "path_error_first8");
		ncp_json_num(&j, first_w[k]);
		ncp_json_key(&j, "path_error_last8");
		ncp_json_num(&j, last_w[k]);
		ncp_json_key(&j, "mean_end_error");
		ncp_json_num(&j, mean(ee[k], reaches));
		print_arr(&j, "path_error_mean", pe[k], reaches);
		print_arr(&j, "path_error_max", pm[k], reaches);
		ncp_json_key(&j, "wall_seconds");
		ncp_json_num(&j, (ncp_now_ns() - t0) / 1e9);
		ncp_json_end(&j);
		if (ncp_json_finish(&j) < 0) {
			fprintf(stderr, "bench_adapt: out of memory\n");
			return 1;
		}
		printf("%s\n", j.buf);
		fflush(stdout);
		ncp_json_fini(&j);
	}
	/* The share of the field's extra error the adaptation removed. */
	double extra = first_w[1] - first_w[0];
	double recovered = extra > 0 ? (first_w[2] - last_w[2]) / extra : 0.0;
	double excess_end = last_w[1] - last_w[0];
	printf("{\"bench\":\"adapt_summary\",\"reaches\":%d,"
	       "\"baseline_path_error\":%.6g,\"field_path_error\":%.6g,"
	       "\"adapt_first8\":%.6g,\"adapt_last8\":%.6g,"
	       "\"recovered\":%.4g,\"adapt_last8_excess_over_field\":%.4g}\n",
	       reaches, mean(pe[0], reaches), mean(pe[1], reaches),
	       first_w[2], last_w[2], recovered,
	       excess_end > 0 ? (last_w[2] - last_w[0]) / excess_end : 0.0);

	fprintf(stderr, "path error per reach, mm (mean distance from the "
		"straight line between targets)\nreach  baseline  field  adapt\n");
	for (int i = 0; i < reaches; i++)
		fprintf(stderr, "%5d  %8.1f  %5.1f  %5.1f\n", i + 1,
			1e3 * pe[0][i], 1e3 * pe[1][i], 1e3 * pe[2][i]);
	fprintf(stderr, "first %d: %.1f %.1f %.1f mm; last %d: %.1f %.1f %.1f mm; "
		"adaptation removed %.0f%% of the field's extra error\n",
		WINDOW, 1e3 * first_w[0], 1e3 * first_w[1], 1e3 * first_w[2],
		WINDOW, 1e3 * last_w[0], 1e3 * last_w[1], 1e3 * last_w[2],
		100 * recovered);
	for (int k = 0; k < 3; k++) {
		free(pe[k]);
		free(pm[k]);
		free(ee[k]);
	}
	return 0;
}
