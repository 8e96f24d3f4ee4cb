/* ncp-monitor's pure pieces: the JSON writer, the workspace canvas
 * (fit, projection, clipping, lines, decimated traces, braille cells),
 * the M1 raster binning, sparklines, the screen layout, and snapshots
 * read from a segment written in-process. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client/ncp_mon_canvas.h"
#include "client/ncp_mon_health.h"
#include "client/ncp_mon_layout.h"
#include "client/ncp_mon_raster.h"
#include "client/ncp_mon_snap.h"
#include "client/ncp_mon_spark.h"
#include "client/ncp_mon_zoom.h"
#include "models/base/ncp_json.h"
#include "shm/ncp_shm_reader.h"
#include "shm/ncp_shm_writer.h"
#include "tests/ncp_check.h"

/* ---- canvas ------------------------------------------------------------- */

static const struct ncp_mon_box task_box = { -1.0, 1.0, 0.5, 2.0 };

START_TEST(canvas_rejects_bad_sizes)
{
	ck_assert_ptr_null(ncp_mon_canvas_new(0, 5, 2, 4));
	ck_assert_ptr_null(ncp_mon_canvas_new(5, 0, 2, 4));
	ck_assert_ptr_null(ncp_mon_canvas_new(5, 5, 3, 3));
	ck_assert_ptr_null(ncp_mon_canvas_new(5, 5, 0, 1));
	ncp_mon_canvas_free(NULL);
}
END_TEST

/* The fit keeps one scale on screen: a metre is as long across as up,
 * measured in cell widths (a cell is `aspect` widths tall). */
static void check_fit(int cols, int rows, int sx, int sy, double aspect)
{
	struct ncp_mon_canvas *c = ncp_mon_canvas_new(cols, rows, sx, sy);
	struct ncp_mon_view v;
	double px, py;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(ncp_mon_canvas_fit(c, &task_box, aspect, &v), 0);
	ncp_ck_near(v.kx / sx, v.ky / sy * aspect, 1e-9);
	/* The box is inside what is shown, touching it on one axis. */
	ck_assert(v.shown.x0 <= task_box.x0 + 1e-9);
	ck_assert(v.shown.x1 >= task_box.x1 - 1e-9);
	ck_assert(v.shown.y0 <= task_box.y0 + 1e-9);
	ck_assert(v.shown.y1 >= task_box.y1 - 1e-9);
	ck_assert(fabs(v.shown.x0 - task_box.x0) < 1e-9 ||
		  fabs(v.shown.y0 - task_box.y0) < 1e-9);
	/* Centre to centre, corners to corners, y up. */
	ncp_mon_canvas_project(&v, 0.0, 1.25, &px, &py);
	ncp_ck_near(px, c->w / 2.0, 1e-9);
	ncp_ck_near(py, c->h / 2.0, 1e-9);
	ncp_mon_canvas_project(&v, v.shown.x0, v.shown.y1, &px, &py);
	ncp_ck_near(px, 0, 1e-9);
	ncp_ck_near(py, 0, 1e-9);
	ncp_mon_canvas_project(&v, v.shown.x1, v.shown.y0, &px, &py);
	ncp_ck_near(px, c->w, 1e-9);
	ncp_ck_near(py, c->h, 1e-9);
	ncp_mon_canvas_free(c);
}

START_TEST(canvas_fit_keeps_aspect)
{
	check_fit(60, 20, 2, 4, 2.0);  /* wide panel: height fills */
	check_fit(20, 40, 2, 4, 2.0);  /* tall panel: width fills */
	check_fit(45, 15, 1, 1, 2.0);  /* ASCII cells */
	check_fit(30, 30, 2, 4, 1.0);  /* square cells */
	/* Braille dots are square in 1:2 cells. */
	{
		struct ncp_mon_canvas *c = ncp_mon_canvas_new(50, 16, 2, 4);
		struct ncp_mon_view v;
		struct ncp_mon_box empty = { 1, 1, 0, 1 };

		ck_assert_int_eq(ncp_mon_canvas_fit(c, &task_box, 2.0, &v), 0);
		ncp_ck_near(v.kx, v.ky, 1e-9);
		ck_assert_int_eq(ncp_mon_canvas_fit(c, &empty, 2.0, &v), -EINVAL);
		ck_assert_int_eq(ncp_mon_canvas_fit(c, &task_box, 0, &v), -EINVAL);
		ncp_mon_canvas_free(c);
	}
}
END_TEST

START_TEST(canvas_clip)
{
	double x0, y0, x1, y1;

	x0 = 1, y0 = 1, x1 = 5, y1 = 3; /* inside: unchanged */
	ck_assert(ncp_mon_canvas_clip(10, 10, &x0, &y0, &x1, &y1));
	ck_assert(x0 == 1 && y0 == 1 && x1 == 5 && y1 == 3);
	x0 = -10, y0 = 5, x1 = 20, y1 = 5; /* across: cut at both edges */
	ck_assert(ncp_mon_canvas_clip(10, 10, &x0, &y0, &x1, &y1));
	ncp_ck_near(x0, 0, 1e-12);
	ncp_ck_near(x1, 10, 1e-12);
	ncp_ck_near(y0, 5, 1e-12);
	x0 = 5, y0 = 5, x1 = 5, y1 = -1e12; /* into the far distance */
	ck_assert(ncp_mon_canvas_clip(10, 10, &x0, &y0, &x1, &y1));
	ncp_ck_near(y1, 0, 1e-3);
	x0 = -5, y0 = -5, x1 = -1, y1 = 20; /* beside it */
	ck_assert(!ncp_mon_canvas_clip(10, 10, &x0, &y0, &x1, &y1));
	x0 = 11, y0 = 2, x1 = 11, y1 = 8; /* parallel, outside */
	ck_assert(!ncp_mon_canvas_clip(10, 10, &x0, &y0, &x1, &y1));
	x0 = -5, y0 = 12, x1 = 12, y1 = 30; /* crosses a corner's outside */
	ck_assert(!ncp_mon_canvas_clip(10, 10, &x0, &y0, &x1, &y1));
}
END_TEST

static int dots_set(const struct ncp_mon_canvas *c)
{
	int n = 0;

	for (int k = 0; k < c->w * c->h; k++)
		n += c->dots[k] != 0;
	return n;
}

static uint8_t dot_at(const struct ncp_mon_canvas *c, int i, int j)
{
	return c->dots[j * c->w + i];
}

START_TEST(canvas_lines_and_layers)
{
	struct ncp_mon_canvas *c = ncp_mon_canvas_new(10, 5, 2, 4); /* 20x20 */
	struct ncp_mon_view v;
	struct ncp_mon_box box = { 0, 20, 0, 20 }; /* 1 m a dot */
	uint8_t layer;

	ck_assert_int_eq(ncp_mon_canvas_fit(c, &box, 2.0, &v), 0);
	ncp_ck_near(v.kx, 1, 1e-12);
	/* y = 10.5 m is dot row 9; x from 2.5 to 7.5 m are dots 2..7. */
	ncp_mon_canvas_line(c, &v, 2.5, 10.5, 7.5, 10.5, 2);
	ck_assert_int_eq(dots_set(c), 6);
	for (int i = 2; i <= 7; i++)
		ck_assert_int_eq(dot_at(c, i, 9), 2);
	/* A higher layer wins wherever it is drawn, in either order. */
	ncp_mon_canvas_line(c, &v, 4.5, 0.5, 4.5, 19.5, 5);
	ncp_mon_canvas_line(c, &v, 2.5, 10.5, 7.5, 10.5, 1);
	ck_assert_int_eq(dot_at(c, 4, 9), 5);
	ck_assert_int_eq(dot_at(c, 3, 9), 2);
	/* Far outside: nothing; non-finite: nothing; from inside to very
	 * far away: up to the edge, quickly. */
	ncp_mon_canvas_clear(c);
	ncp_mon_canvas_line(c, &v, -100, -100, -50, 300, 3);
	ncp_mon_canvas_line(c, &v, NAN, 1, 2, 3, 3);
	ck_assert_int_eq(dots_set(c), 0);
	ncp_mon_canvas_line(c, &v, 10.5, 10.5, 1e15, 10.5, 3);
	ck_assert_int_eq(dots_set(c), 10);
	ck_assert_int_eq(dot_at(c, 19, 9), 3);
	/* Cells read back as braille: dot (0,0) is bit 0x01, (1,3) 0x80. */
	ncp_mon_canvas_clear(c);
	ncp_mon_canvas_dot(c, 0, 0, 1);
	ncp_mon_canvas_dot(c, 1, 3, 4);
	ncp_mon_canvas_dot(c, 1, 0, 2);
	ncp_mon_canvas_dot(c, -1, 0, 2); /* off the canvas: ignored */
	ncp_mon_canvas_dot(c, 20, 0, 2);
	ck_assert_uint_eq(ncp_mon_canvas_cell(c, 0, 0, &layer), 0x01 | 0x08 | 0x80);
	ck_assert_int_eq(layer, 4);
	ck_assert_uint_eq(ncp_mon_canvas_cell(c, 1, 0, &layer), 0);
	ck_assert_int_eq(layer, 0);
	ncp_mon_canvas_free(c);

	/* 1 x 1 cells: bit 0 when the dot is set. */
	c = ncp_mon_canvas_new(4, 4, 1, 1);
	ncp_mon_canvas_dot(c, 2, 3, 3);
	ck_assert_uint_eq(ncp_mon_canvas_cell(c, 2, 3, &layer), 1);
	ck_assert_int_eq(layer, 3);
	ncp_mon_canvas_free(c);
}
END_TEST

START_TEST(canvas_trace_decimates)
{
	struct ncp_mon_canvas *c = ncp_mon_canvas_new(10, 5, 2, 4); /* 20x20 */
	struct ncp_mon_view v;
	struct ncp_mon_box box = { 0, 20, 0, 20 };
	enum { N = 2000 };
	double *x = malloc(N * sizeof(double)), *y = malloc(N * sizeof(double));
	size_t kept;

	ck_assert_int_eq(ncp_mon_canvas_fit(c, &box, 2.0, &v), 0);
	/* A hand that stays on one dot keeps one point. */
	for (int i = 0; i < N; i++) {
		x[i] = 5.3 + 1e-4 * (i % 7);
		y[i] = 5.6;
	}
	ck_assert_uint_eq(ncp_mon_canvas_trace(c, &v, x, y, N, 1), 1);
	ck_assert_int_eq(dots_set(c), 1);
	/* 2000 points across 10 dots keep one point per dot, and the line
	 * through them is unbroken. */
	ncp_mon_canvas_clear(c);
	for (int i = 0; i < N; i++) {
		x[i] = 5.0 + 10.0 * i / N;
		y[i] = 2.5;
	}
	kept = ncp_mon_canvas_trace(c, &v, x, y, N, 1);
	ck_assert_uint_eq(kept, 10);
	ck_assert_int_eq(dots_set(c), 10);
	/* A NaN lifts the pen: no dots between the two pieces. */
	ncp_mon_canvas_clear(c);
	x[0] = 2.5, y[0] = 2.5;
	x[1] = NAN, y[1] = NAN;
	x[2] = 12.5, y[2] = 2.5;
	x[3] = 15.5, y[3] = 2.5;
	kept = ncp_mon_canvas_trace(c, &v, x, y, 4, 1);
	ck_assert_uint_eq(kept, 3);
	ck_assert_int_eq(dot_at(c, 2, 17), 1);
	ck_assert_int_eq(dot_at(c, 7, 17), 0);
	ck_assert_int_eq(dot_at(c, 14, 17), 1);
	ck_assert_int_eq(dots_set(c), 1 + 4);
	free(x);
	free(y);
	ncp_mon_canvas_free(c);
}
END_TEST

START_TEST(canvas_cell_of_and_circle)
{
	struct ncp_mon_canvas *c = ncp_mon_canvas_new(30, 10, 2, 4);
	struct ncp_mon_view v;
	int col = -1, row = -1;

	ck_assert_int_eq(ncp_mon_canvas_fit(c, &task_box, 2.0, &v), 0);
	ck_assert(ncp_mon_canvas_cell_of(c, &v, 0.0, 1.25, &col, &row));
	ck_assert_int_eq(col, 15);
	ck_assert_int_eq(row, 5);
	ck_assert(!ncp_mon_canvas_cell_of(c, &v, 0.0, 0.0, &col, &row));
	ck_assert_int_eq(col, 15); /* left alone */
	ncp_mon_canvas_circle(c, &v, 0.0, 1.25, 0.3, 3);
	ck_assert_int_gt(dots_set(c), 20);
	/* Nothing at the centre, something on the rim. */
	{
		double px, py;
		ncp_mon_canvas_project(&v, 0.0, 1.25, &px, &py);
		ck_assert_int_eq(dot_at(c, (int)px, (int)py), 0);
		ncp_mon_canvas_project(&v, 0.3, 1.25, &px, &py);
		ck_assert_int_eq(dot_at(c, (int)px - 1, (int)py) |
				 dot_at(c, (int)px, (int)py), 3);
	}
	ncp_mon_canvas_free(c);
}
END_TEST

/* The predicted arm's dashes: on dots drawn, off dots left out, counted
 * from the first endpoint, clipped or not; the solid line has them all. */
START_TEST(canvas_dashed)
{
	struct ncp_mon_canvas *c = ncp_mon_canvas_new(10, 5, 2, 4); /* 20x20 */
	struct ncp_mon_view v;
	struct ncp_mon_box box = { 0, 20, 0, 20 }; /* 1 m a dot */

	ck_assert_int_eq(ncp_mon_canvas_fit(c, &box, 2.0, &v), 0);
	/* Dots 2..17 of row 9: 16 dots, 2 on 2 off: 2, 3, 6, 7, 10, ... */
	ncp_mon_canvas_dashed(c, &v, 2.5, 10.5, 17.5, 10.5, 4, 2, 2);
	ck_assert_int_eq(dots_set(c), 8);
	for (int i = 2; i <= 17; i++)
		ck_assert_int_eq(dot_at(c, i, 9), (i - 2) % 4 < 2 ? 4 : 0);
	/* Started off the canvas at x = -5.5: the phase counts from there
	 * (dot -6 is step 0; dot 0 is step 6, off; dot 2 step 8, on). */
	ncp_mon_canvas_clear(c);
	ncp_mon_canvas_dashed(c, &v, -5.5, 10.5, 9.5, 10.5, 4, 2, 2);
	for (int i = 0; i <= 9; i++)
		ck_assert_int_eq(dot_at(c, i, 9), (i + 6) % 4 < 2 ? 4 : 0);
	/* on < 1: solid, as ncp_mon_canvas_line. */
	ncp_mon_canvas_clear(c);
	ncp_mon_canvas_dashed(c, &v, 2.5, 10.5, 17.5, 10.5, 4, 0, 3);
	ck_assert_int_eq(dots_set(c), 16);
	/* Non-finite: nothing. */
	ncp_mon_canvas_clear(c);
	ncp_mon_canvas_dashed(c, &v, NAN, 1, 2, 3, 4, 2, 2);
	ck_assert_int_eq(dots_set(c), 0);
	ncp_mon_canvas_free(c);
}
END_TEST

/* ---- zoom ---------------------------------------------------------------- */

START_TEST(zoom_reaching_workspace)
{
	struct ncp_mon_zoom z;
	struct ncp_mon_box b;

	ncp_mon_zoom_reset(&z);
	/* Nothing seen: the task's neighbourhood. */
	ncp_mon_zoom_box(&z, &b);
	ck_assert(b.x0 == -1 && b.x1 == 1 && b.y0 == 0.5 && b.y1 == 2);
	/* One target: the minimum box around it. */
	ncp_mon_zoom_see(&z, 0, 1.25);
	ncp_mon_zoom_box(&z, &b);
	ncp_ck_near(b.x0, -NCP_MON_ZOOM_MIN / 2, 1e-12);
	ncp_ck_near(b.y1, 1.25 + NCP_MON_ZOOM_MIN / 2, 1e-12);
	/* Eight centre-out targets (radius 0.25): their box plus the margin,
	 * 0.8 m across; a NaN is ignored. */
	for (int k = 0; k < 8; k++)
		ncp_mon_zoom_see(&z, 0.25 * cos(M_PI / 4 * k),
				 1.25 + 0.25 * sin(M_PI / 4 * k));
	ncp_mon_zoom_see(&z, NAN, 3);
	ncp_mon_zoom_box(&z, &b);
	ncp_ck_near(b.x0, -0.25 - NCP_MON_ZOOM_MARGIN, 1e-12);
	ncp_ck_near(b.x1, 0.25 + NCP_MON_ZOOM_MARGIN, 1e-12);
	ncp_ck_near(b.y0, 1.0 - NCP_MON_ZOOM_MARGIN, 1e-12);
	ncp_ck_near(b.y1, 1.5 + NCP_MON_ZOOM_MARGIN, 1e-12);
	/* It only grows: a target at the centre again changes nothing. */
	ncp_mon_zoom_see(&z, 0, 1.25);
	{
		struct ncp_mon_box c;
		ncp_mon_zoom_box(&z, &c);
		ck_assert(memcmp(&b, &c, sizeof(b)) == 0);
	}
	/* In a level: 1/1.5 of it across, about its centre; out two levels:
	 * 2.25 times; the limits hold; 0 goes back. */
	ncp_mon_zoom_step(&z, 1);
	ncp_mon_zoom_box(&z, &b);
	ncp_ck_near(b.x1 - b.x0, 0.8 / 1.5, 1e-12);
	ncp_ck_near((b.y0 + b.y1) / 2, 1.25, 1e-12);
	ncp_mon_zoom_step(&z, -3);
	ncp_mon_zoom_box(&z, &b);
	ncp_ck_near(b.x1 - b.x0, 0.8 * 2.25, 1e-12);
	ncp_mon_zoom_step(&z, 100);
	ck_assert_int_eq(z.level, NCP_MON_ZOOM_IN_MAX);
	ncp_mon_zoom_step(&z, -100);
	ck_assert_int_eq(z.level, -NCP_MON_ZOOM_OUT_MAX);
	/* The whole arm, and a zoom key leaves it. */
	ncp_mon_zoom_toggle_whole(&z);
	ncp_mon_zoom_box(&z, &b);
	ck_assert(b.y0 < 0 && b.x1 - b.x0 > 3);
	ncp_mon_zoom_step(&z, 0);
	ck_assert(!z.whole && z.level == 0);
	ncp_mon_zoom_box(&z, &b);
	ncp_ck_near(b.x1 - b.x0, 0.8, 1e-12);
}
END_TEST

/* ---- health --------------------------------------------------------------- */

/* Statistics of a real-time minute at 1 kHz: 60000 steps, wake-ups
 * around 20 us, steps costing 30 us at p99. */
static struct ncp_shm_stats quiet_minute(void)
{
	struct ncp_shm_stats s = {
		.steps = 60000, .jitter_p50_us = 14, .jitter_p99_us = 25,
		.jitter_p999_us = 60, .jitter_max_us = 90, .cost_p50_us = 12,
		.cost_p99_us = 30, .cost_max_us = 80, .wall_s = 60, .rtf = 1,
		.mode = NCP_SHM_MODE_REALTIME, .jitter_bins = NCP_SHM_JITTER_BINS,
	};
	s.jitter_hist[4] = 30000;  /* [8, 16) us */
	s.jitter_hist[5] = 29990;  /* [16, 32) */
	s.jitter_hist[7] = 10;     /* [64, 128) */
	return s;
}

START_TEST(health_in_words)
{
	struct ncp_mon_health h;
	struct ncp_shm_stats s = quiet_minute();

	/* Nothing late. */
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_GOOD);
	ck_assert_str_eq(h.reason, "keeping real time");
	ck_assert(h.explained && h.late_fraction == 0 && h.host_stalls == 0);
	ncp_ck_near(h.cost_p99_fraction, 0.03, 1e-12);
	/* Ten host stalls of 8-16 ms (bin 14) and the 120 steps they made
	 * late: the host's doing, caught up; still good. */
	s.jitter_hist[14] = 10;
	s.overruns = 120;
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_GOOD);
	ck_assert_str_eq(h.reason, "late steps were host stalls");
	ck_assert_uint_eq(h.host_stalls, 10);
	ncp_ck_near(h.host_late_steps, 10 * (17 + 1), 1e-9);
	ck_assert(h.explained);
	ncp_ck_near(h.late_fraction, 0.002, 1e-12);
	/* The same overruns without the stalls: the loop itself is late on
	 * 0.2% of the steps: poor. */
	s.jitter_hist[14] = 0;
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_POOR);
	ck_assert(!h.explained);
	ck_assert_str_eq(h.reason, "0.2% steps late, not the host");
	/* A few unexplained (under 0.1%): fair. */
	s.overruns = 12;
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_FAIR);
	ck_assert_str_eq(h.reason, "12 late steps not the host's");
	/* Many host stalls: 3% of the steps late, all explained: fair. */
	s.jitter_hist[14] = 150;
	s.overruns = 1800;
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_FAIR);
	ck_assert(h.explained);
	ck_assert_str_eq(h.reason, "host stalls: 3% steps late");
	/* One slip in the minute is poor (one a minute); in ten, fair. */
	s.slips = 1;
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_POOR);
	ck_assert_str_eq(h.reason, "1 slips a minute: sim lags");
	s.wall_s = 600;
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_FAIR);
	ck_assert_str_eq(h.reason, "1 slips (long stalls)");
	/* Steps costing 85% of the period outrank everything. */
	s.cost_p99_us = 850;
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_POOR);
	ck_assert_str_eq(h.reason, "steps cost 85% of the period");
	/* Late wake-ups alone: fair. */
	s = quiet_minute();
	s.jitter_p99_us = 400;
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_FAIR);
	ck_assert_str_eq(h.reason, "wake-ups late, p99 40% of step");
	/* A 2 ms step scales every fraction. */
	ncp_mon_health_assess(&s, 0.002, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_GOOD);
	/* Free-run has no deadlines. */
	s.mode = NCP_SHM_MODE_FREE_RUN;
	s.overruns = 5000;
	ncp_mon_health_assess(&s, 0.001, &h);
	ck_assert_int_eq(h.level, NCP_MON_HEALTH_FREE_RUN);
	ck_assert_str_eq(ncp_mon_health_level_name(h.level), "free-run");
}
END_TEST

/* ---- raster ------------------------------------------------------------- */

/* nsteps window copies of `neurons` neurons; neuron i spikes at step s
 * when (i + s) % period == 0. */
static void *make_window(uint32_t nsteps, uint32_t neurons, uint32_t period,
			 size_t *stride)
{
	size_t st = ncp_shm_win_copy_size(neurons);
	unsigned char *buf = calloc(nsteps, st);

	for (uint32_t s = 0; s < nsteps; s++) {
		struct ncp_shm_win_slot *slot =
			(struct ncp_shm_win_slot *)(buf + s * st);
		slot->step = s;
		for (uint32_t i = 0; i < neurons; i++)
			if ((i + s) % period == 0) {
				slot->bits[i / 64] |= 1ull << (i % 64);
				slot->spike_count++;
			}
	}
	*stride = st;
	return buf;
}

START_TEST(raster_bins_evenly)
{
	struct ncp_mon_raster *r = ncp_mon_raster_new(10, 20);
	size_t stride;
	void *win = make_window(100, 1000, 10, &stride);

	ck_assert_int_eq(ncp_mon_raster_bin(r, win, stride, 100, 1000), 0);
	ck_assert_int_eq(r->used_rows, 10);
	ck_assert_int_eq(r->used_cols, 20);
	ck_assert_uint_eq(r->total, 100 * 100);
	ck_assert_uint_eq(r->max_step_spikes, 100);
	for (int row = 0; row < 10; row++) {
		ck_assert_uint_eq(r->row_neurons[row], 100);
		for (int col = 0; col < 20; col++) {
			/* 100 neurons x 5 steps, one in ten spiking: 50
			 * spikes, 100 Hz at 1 ms. */
			ck_assert_uint_eq(r->counts[row * 20 + col], 50);
			ncp_ck_near(ncp_mon_raster_rate(r, row, col, 0.001),
				    100, 1e-9);
		}
	}
	for (int col = 0; col < 20; col++) {
		ck_assert_uint_eq(r->col_steps[col], 5);
		ck_assert_uint_eq(r->col_spikes[col], 500);
	}
	ck_assert(ncp_mon_raster_rate(r, 10, 0, 0.001) == 0); /* outside */
	ck_assert(ncp_mon_raster_rate(r, 0, 0, 0) == 0);
	free(win);
	ncp_mon_raster_free(r);
}
END_TEST

START_TEST(raster_bins_unevenly)
{
	struct ncp_mon_raster *r = ncp_mon_raster_new(7, 30);
	size_t stride;
	void *win = make_window(100, 1000, 3, &stride);
	uint64_t sum = 0, neurons = 0, steps = 0;

	ck_assert_int_eq(ncp_mon_raster_bin(r, win, stride, 100, 1000), 0);
	for (int row = 0; row < 7; row++) {
		ck_assert(r->row_neurons[row] == 142 || r->row_neurons[row] == 143);
		neurons += r->row_neurons[row];
		for (int col = 0; col < 30; col++)
			sum += r->counts[row * 30 + col];
	}
	for (int col = 0; col < 30; col++) {
		ck_assert(r->col_steps[col] == 3 || r->col_steps[col] == 4);
		steps += r->col_steps[col];
	}
	ck_assert_uint_eq(neurons, 1000);
	ck_assert_uint_eq(steps, 100);
	ck_assert_uint_eq(sum, r->total);
	free(win);
	ncp_mon_raster_free(r);
}
END_TEST

START_TEST(raster_small_data_and_stray_bits)
{
	struct ncp_mon_raster *r = ncp_mon_raster_new(50, 200);
	size_t stride;
	void *win = make_window(30, 70, 1, &stride); /* every neuron, every step */

	/* A bit past the last neuron is not a spike. */
	((struct ncp_shm_win_slot *)win)->bits[1] |= 1ull << 40; /* neuron 104 */
	ck_assert_int_eq(ncp_mon_raster_bin(r, win, stride, 30, 70), 0);
	ck_assert_int_eq(r->used_rows, 50);
	ck_assert_int_eq(r->used_cols, 30);
	ck_assert_uint_eq(r->total, 30 * 70);
	ck_assert_int_eq(ncp_mon_raster_bin(r, win, stride, 0, 70), 0);
	ck_assert_int_eq(r->used_cols, 0);
	ck_assert_uint_eq(r->total, 0);
	ck_assert_int_eq(ncp_mon_raster_bin(r, win, stride, 30, 0), -EINVAL);
	ck_assert_int_eq(ncp_mon_raster_bin(r, win, 8, 30, 70), -EINVAL);
	free(win);
	ncp_mon_raster_free(r);

	/* Fewer neurons than rows: one row a neuron. */
	r = ncp_mon_raster_new(50, 10);
	win = make_window(10, 20, 1, &stride);
	ck_assert_int_eq(ncp_mon_raster_bin(r, win, stride, 10, 20), 0);
	ck_assert_int_eq(r->used_rows, 20);
	for (int row = 0; row < 20; row++)
		ck_assert_uint_eq(r->row_neurons[row], 1);
	free(win);
	ncp_mon_raster_free(r);
	ck_assert_ptr_null(ncp_mon_raster_new(0, 5));
	ncp_mon_raster_free(NULL);
}
END_TEST

START_TEST(raster_levels)
{
	ck_assert_int_eq(ncp_mon_raster_level(0, 7), 0);
	ck_assert_int_eq(ncp_mon_raster_level(NAN, 7), 0);
	ck_assert_int_eq(ncp_mon_raster_level(1, 7), 1);
	ck_assert_int_eq(ncp_mon_raster_level(4.99, 7), 1);
	ck_assert_int_eq(ncp_mon_raster_level(5, 7), 2);
	ck_assert_int_eq(ncp_mon_raster_level(9.99, 7), 2);
	ck_assert_int_eq(ncp_mon_raster_level(10, 7), 3);
	ck_assert_int_eq(ncp_mon_raster_level(79, 7), 5);
	ck_assert_int_eq(ncp_mon_raster_level(80, 7), 6);
	ck_assert_int_eq(ncp_mon_raster_level(1e6, 7), 6);
	ck_assert_int_eq(ncp_mon_raster_level(INFINITY, 7), 6);
	ck_assert_int_eq(ncp_mon_raster_level(3, 1), 0);
	for (int l = 2; l < 7; l++)
		ck_assert_int_eq(ncp_mon_raster_level(
					 ncp_mon_raster_level_floor(l), 7), l);
}
END_TEST

/* ---- sparklines --------------------------------------------------------- */

START_TEST(spark_resample_and_levels)
{
	double in[10] = { 1, 3, 5, 7, NAN, 2, 4, 4, NAN, NAN }, out[12];
	int lv[12];
	double lo = 0, hi = 0;

	ncp_mon_spark_resample(in, 10, out, 5);
	ncp_ck_near(out[0], 2, 1e-12);
	ncp_ck_near(out[1], 6, 1e-12);
	ncp_ck_near(out[2], 2, 1e-12); /* the NaN is left out */
	ncp_ck_near(out[3], 4, 1e-12);
	ck_assert(isnan(out[4]));      /* nothing finite */
	ncp_mon_spark_resample(in, 3, out, 12);
	ncp_ck_near(out[2], 5, 1e-12);
	ck_assert(isnan(out[3]) && isnan(out[11]));

	ck_assert(ncp_mon_spark_range(in, 10, false, &lo, &hi));
	ncp_ck_near(lo, 1, 0);
	ncp_ck_near(hi, 7, 0);
	{
		double neg[3] = { -1, 0, NAN };
		ck_assert(!ncp_mon_spark_range(neg, 3, true, &lo, &hi));
	}

	{
		double v[5] = { 0, 4, 8, 9, -1 };
		ncp_mon_spark_levels(v, 5, 0, 8, false, 9, lv);
		ck_assert(lv[0] == 0 && lv[1] == 4 && lv[2] == 8 && lv[3] == 8 &&
			  lv[4] == 0);
	}
	{
		double v[5] = { 1, 10, 100, 1000, 0 };
		ncp_mon_spark_levels(v, 5, 1, 1000, true, 4, lv);
		ck_assert(lv[0] == 0 && lv[1] == 1 && lv[2] == 2 && lv[3] == 3 &&
			  lv[4] == -1);
	}
	{
		double v[3] = { 2, 0, NAN };
		ncp_mon_spark_levels(v, 3, 2, 2, false, 9, lv);
		ck_assert(lv[0] == 8 && lv[1] == 0 && lv[2] == -1);
	}
}
END_TEST

/* ---- layout ------------------------------------------------------------- */

static bool inside(const struct ncp_mon_rect *r, int cols, int lines)
{
	return r->x >= 0 && r->y >= 0 && r->w > 0 && r->h > 0 &&
	       r->x + r->w <= cols && r->y + r->h <= lines;
}

START_TEST(layout_fits_every_size)
{
	struct ncp_mon_layout l;

	ck_assert_int_eq(ncp_mon_layout_compute(NCP_MON_LAYOUT_MIN_COLS - 1, 40,
						&l), -ERANGE);
	ck_assert_int_eq(ncp_mon_layout_compute(100, NCP_MON_LAYOUT_MIN_LINES - 1,
						&l), -ERANGE);
	ck_assert_int_eq(ncp_mon_layout_compute(0, 0, &l), -ERANGE);
	for (int cols = NCP_MON_LAYOUT_MIN_COLS; cols <= 300; cols += 7)
		for (int lines = NCP_MON_LAYOUT_MIN_LINES; lines <= 120; lines += 5) {
			ck_assert_int_eq(ncp_mon_layout_compute(cols, lines, &l), 0);
			ck_assert(inside(&l.title, cols, lines));
			ck_assert(inside(&l.work, cols, lines));
			ck_assert(inside(&l.numbers, cols, lines));
			ck_assert(inside(&l.m1, cols, lines));
			ck_assert_int_eq(l.title.h, 1);
			ck_assert_int_eq(l.work.x + l.work.w, l.sep_x);
			ck_assert_int_eq(l.sep_x + 1, l.numbers.x);
			ck_assert_int_eq(l.numbers.x + l.numbers.w, cols);
			ck_assert_int_eq(l.work.y, 1);
			ck_assert_int_eq(l.work.h, l.numbers.h);
			ck_assert_int_eq(l.work.y + l.work.h, l.m1.y);
			ck_assert_int_eq(l.m1.y + l.m1.h, lines);
			ck_assert_int_ge(l.m1.h, NCP_MON_LAYOUT_M1_MIN_H);
			ck_assert_int_ge(l.work.w, 20);
			ck_assert_int_ge(l.work.h, 10);
		}
}
END_TEST

/* ---- snapshots ---------------------------------------------------------- */

START_TEST(snap_fk)
{
	double e[2], h[2];
	double q0[2] = { 0, 0 }, q1[2] = { M_PI / 2, 0 }, q2[2] = { M_PI / 2, M_PI / 2 };

	ncp_mon_snap_fk(NULL, q0, e, h);
	ncp_ck_near(e[0], 1.5, 1e-12);
	ncp_ck_near(h[0], 2.8, 1e-12);
	ncp_ck_near(h[1], 0, 1e-12);
	ncp_mon_snap_fk(NULL, q1, NULL, h);
	ncp_ck_near(h[0], 0, 1e-12);
	ncp_ck_near(h[1], 2.8, 1e-12);
	ncp_mon_snap_fk(NULL, q2, e, NULL);
	ncp_mon_snap_fk(NULL, q2, NULL, h);
	ncp_ck_near(e[1], 1.5, 1e-12);
	ncp_ck_near(h[0], -1.3, 1e-12);
	ncp_ck_near(h[1], 1.5, 1e-12);

	/* A segment that carries its arm's links (ABI 1.2) is drawn with
	 * them. */
	static struct ncp_mon_snap s;
	s.hdr.arm_links[0] = 0.4;
	s.hdr.arm_links[1] = 0.3;
	ncp_mon_snap_fk(&s, q2, e, h);
	ncp_ck_near(e[1], 0.4, 1e-12);
	ncp_ck_near(h[0], -0.3, 1e-12);
	ncp_ck_near(h[1], 0.4, 1e-12);

	/* A 3-joint segment (ABI 2.5): three segments, the hand's last. */
	double pts[3][2], q3[3] = { M_PI / 2, -M_PI / 2, M_PI / 2 };
	s.hdr.abi_major = NCP_SHM_ABI_MAJOR_3J;
	s.hdr.arm_joints = 3;
	s.hdr.arm_link_hand = 0.2;
	ck_assert_int_eq(ncp_mon_snap_joints(&s), 3);
	ck_assert_int_eq(ncp_mon_snap_arm(&s, q3, pts), 3);
	ncp_ck_near(pts[0][1], 0.4, 1e-12);
	ncp_ck_near(pts[1][0], 0.3, 1e-12);
	ncp_ck_near(pts[2][0], 0.3, 1e-12);
	ncp_ck_near(pts[2][1], 0.6, 1e-12);
	ncp_mon_snap_fk(&s, q3, e, h);
	ncp_ck_near(h[1], 0.6, 1e-12);
}
END_TEST

static void push_fixture_step(struct ncp_shm_writer *w, uint64_t k)
{
	uint32_t idx[5];
	uint32_t n = (uint32_t)(k % 5);
	struct ncp_shm_state st = {
		.step = k,
		.t = (double)(k + 1) * 0.001,
		.q = { 0.5 + (double)k / 1000, 1.5 },
		.target = { 0.1, 1.3 },
		.task_kind = NCP_SHM_TASK_RANDOM,
		.task_period = 1.5,
		.m1_spikes = n,
	};
	struct ncp_shm_arm_entry a = { .step = k };

	for (uint32_t j = 0; j < n; j++)
		idx[j] = (uint32_t)((k * 37 + j * 101) % 1000);
	ck_assert_int_eq(ncp_shm_writer_push_spikes(w, k, idx, n, NULL, 0), 0);
	ncp_mon_snap_fk(NULL, st.q, NULL, st.hand);
	ncp_shm_writer_put_state(w, &st);
	a.hand[0] = (float)st.hand[0];
	a.hand[1] = (float)st.hand[1];
	a.pred_hand[0] = a.pred_hand[1] = NAN;
	ncp_shm_writer_push_arm(w, &a);
}

static bool has(const char *s, const char *part)
{
	return strstr(s, part) != NULL;
}

START_TEST(snap_reads_segment)
{
	char name[64], err[256];
	struct ncp_shm_writer_config cfg = { 0 };
	struct ncp_shm_writer *w;
	struct ncp_shm_reader *r;
	struct ncp_mon_snap s;
	struct ncp_json j;
	struct ncp_shm_stats stats = { .steps = 150, .overruns = 2, .rtf = 1.0,
				       .mode = NCP_SHM_MODE_FREE_RUN };
	struct ncp_shm_predicted p = { .model_loaded = 1, .latency_us = 120,
				       .x = { 0.6, 1.5, 0, 0, 0.2, 1.1 } };
	char text[4096];
	FILE *f;

	snprintf(name, sizeof(name), "/ncp-test-monitor-%d", (int)getpid());
	cfg.name = name;
	cfg.arm_links[0] = 1.25;
	cfg.arm_links[1] = 0.5;
	cfg.stim_electrodes = 4;
	cfg.rec_electrodes = 16;	/* window slots with an observation, as ncpd's */
	w = ncp_shm_writer_new(&cfg, err, sizeof(err));
	ck_assert_msg(w != NULL, "%s", err);
	r = ncp_shm_reader_open(name, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(ncp_mon_snap_init(&s, ncp_shm_reader_header(r), name,
					   300, 8), 0);
	ck_assert_uint_eq(s.win_stride, ncp_shm_reader_window_stride(r));
	ck_assert_uint_eq(s.arm_cap, 300);
	ck_assert_uint_eq(s.win_cap, 100);

	/* Nothing published yet. */
	ck_assert_int_eq(ncp_mon_snap_read(&s, r), -ENODATA);
	ck_assert(!s.have_state);

	for (uint64_t k = 0; k < 150; k++)
		push_fixture_step(w, k);
	ncp_shm_writer_put_stats(w, &stats);
	ck_assert_int_eq(ncp_mon_snap_read(&s, r), 0);
	ck_assert(s.have_state && s.have_stats && !s.have_pred);
	ck_assert_uint_eq(s.state.step, 149);
	ck_assert_uint_eq(s.win_span.first, 50);
	ck_assert_uint_eq(s.win_span.count, 100);
	ck_assert_uint_eq(ncp_shm_win_at(s.win, s.win_stride, 99)->spike_count,
			  149 % 5);
	ck_assert_uint_eq(s.arm_span.first, 0);
	ck_assert_uint_eq(s.arm_span.count, 150);
	ck_assert_ptr_null(ncp_mon_snap_train_last(&s));
	ck_assert(!ncp_mon_snap_pred_fresh(&s));

	ncp_json_init(&j);
	ncp_mon_snap_json(&s, &j);
	ck_assert_int_eq(ncp_json_finish(&j), 0);
	ck_assert(has(j.buf, "\"step\":149,"));
	ck_assert(has(j.buf, "\"mode\":\"free-run\""));
	ck_assert(has(j.buf, "\"arm_links\":[1.25,0.5]"));
	ck_assert(has(j.buf, "\"task\":{\"kind\":\"random\",\"period\":1.5}"));
	ck_assert(has(j.buf, "\"first_step\":50,\"steps\":100,"
			     "\"spikes_per_step\":[0,1,2,3,4,0,"));
	ck_assert(has(j.buf, "\"predicted\":null,\"stim\":null,"
			     "\"lesion\":null,\"ncp\":null,\"training\":null}"));
	char abi[32];
	snprintf(abi, sizeof(abi), "\"abi\":\"%d.%d\"", NCP_SHM_ABI_MAJOR,
		 NCP_SHM_ABI_MINOR);
	ck_assert(has(j.buf, abi));
	ncp_json_fini(&j);

	/* The electrodes and the lesion. */
	const double theta[4] = { 0.5, -1.0, 0, 0.25 };
	const double alpha[4] = { 1.0, -3.0, 0.125, 0 };
	struct ncp_shm_stim sb = { .step = 149, .source = NCP_SHM_STIM_NOISE,
				   .lesion_kind = NCP_SHM_LESION_PMC_M1,
				   .lesion_fraction = 0.5, .lesion_neurons = 500,
				   .max = 2.0 };
	ncp_shm_writer_put_stim(w, &sb, theta, alpha);
	ck_assert_int_eq(ncp_mon_snap_read(&s, r), 0);
	ck_assert_ptr_nonnull(ncp_mon_snap_stim(&s));
	ncp_json_init(&j);
	ncp_mon_snap_json(&s, &j);
	ck_assert_int_eq(ncp_json_finish(&j), 0);
	ck_assert_msg(has(j.buf, "\"stim\":{\"step\":149,\"source\":\"noise\","
				 "\"electrodes\":4,\"max\":2,\"theta_max_abs\":1,"
				 "\"alpha_max_abs\":3,\"theta\":[0.5,-1,0,0.25],"
				 "\"alpha\":[1,-3,0.125,0]},\"lesion\":{\"kind\":"
				 "\"pmc-m1\",\"fraction\":0.5,\"neurons\":500}"),
		      "%s", j.buf);
	ncp_json_fini(&j);
	/* Bars: over stim.max, clipped, the largest magnitude per column. */
	double bars[8];
	const struct ncp_shm_stim *b = ncp_mon_snap_stim(&s);
	ck_assert_int_eq(ncp_mon_snap_electrode_bars(b, true, 8, bars), 4);
	ck_assert(bars[0] == 0.5 && bars[1] == -1 && bars[2] == 0.0625 &&
		  bars[3] == 0);
	ck_assert_int_eq(ncp_mon_snap_electrode_bars(b, false, 2, bars), 2);
	ck_assert(bars[0] == -0.5 && bars[1] == 0.125);
	char les[96];
	ncp_mon_snap_lesion_text(b, les, sizeof(les));
	ck_assert_str_eq(les, "pmc-m1: 50% of M1, 500 neurons cut from planning");

	/* A prediction of the newest step, then training updates. */
	p.step = 149;
	snprintf(p.model, sizeof(p.model), "en-test");
	ncp_shm_writer_put_predicted(w, &p);
	for (uint64_t u = 1; u <= 3; u++) {
		struct ncp_shm_train_entry e = { .step = 100 + u, .update = u,
						 .loss = 1.0 / (double)u,
						 .val_loss = NAN };
		ncp_shm_writer_push_train(w, &e);
	}
	ck_assert_int_eq(ncp_mon_snap_read(&s, r), 0);
	ck_assert(ncp_mon_snap_pred_fresh(&s));
	ck_assert_uint_eq(ncp_mon_snap_train_last(&s)->update, 3);
	ck_assert_uint_eq(s.train_span.count, 3);
	ncp_json_init(&j);
	ncp_mon_snap_json(&s, &j);
	ck_assert_int_eq(ncp_json_finish(&j), 0);
	ck_assert(has(j.buf, "\"predicted\":{\"step\":149,\"age_steps\":0,"
			     "\"fresh\":true,\"model\":\"en-test\""));
	ck_assert(has(j.buf, "\"training\":{\"update\":3,\"step\":103,"));
	ck_assert(has(j.buf, "\"val_loss\":null"));
	ncp_json_fini(&j);

	/* The prediction goes stale as the loop runs on without it. */
	for (uint64_t k = 150; k < 150 + 251; k++)
		push_fixture_step(w, k);
	ck_assert_int_eq(ncp_mon_snap_read(&s, r), 0);
	ck_assert(!ncp_mon_snap_pred_fresh(&s));
	ck_assert_uint_eq(s.arm_span.count, 300); /* capped */
	ck_assert_uint_eq(s.arm_span.first, 401 - 300);

	/* Text output names the parts. */
	f = fmemopen(text, sizeof(text), "w");
	ncp_mon_snap_text(&s, f);
	fclose(f);
	ck_assert(has(text, "step       400"));
	ck_assert(has(text, "model en-test"));
	ck_assert(has(text, "(stale)"));
	ck_assert(has(text, "training   update 3"));
	ck_assert(has(text, "stim       source noise  4 electrodes  max|theta| 1  "
			    "max|alpha| 3  (bound 2)"));
	ck_assert(has(text, "lesion     pmc-m1: 50% of M1, 500 neurons"));

	/* The daemon's clean exit: the reader sees it stopped. */
	ncp_shm_writer_free(w);
	ck_assert_int_eq(ncp_shm_reader_liveness(r), NCP_SHM_STOPPED);
	ck_assert_int_eq(ncp_mon_snap_read(&s, r), 0); /* still readable */
	ck_assert_str_eq(ncp_mon_snap_state_name(s.state_word), "stopped");
	ncp_mon_snap_fini(&s);
	ncp_shm_reader_free(r);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("monitor");
	TCase *tc = tcase_create("monitor");

	tcase_add_test(tc, canvas_rejects_bad_sizes);
	tcase_add_test(tc, canvas_fit_keeps_aspect);
	tcase_add_test(tc, canvas_clip);
	tcase_add_test(tc, canvas_lines_and_layers);
	tcase_add_test(tc, canvas_trace_decimates);
	tcase_add_test(tc, canvas_cell_of_and_circle);
	tcase_add_test(tc, canvas_dashed);
	tcase_add_test(tc, zoom_reaching_workspace);
	tcase_add_test(tc, health_in_words);
	tcase_add_test(tc, raster_bins_evenly);
	tcase_add_test(tc, raster_bins_unevenly);
	tcase_add_test(tc, raster_small_data_and_stray_bits);
	tcase_add_test(tc, raster_levels);
	tcase_add_test(tc, spark_resample_and_levels);
	tcase_add_test(tc, layout_fits_every_size);
	tcase_add_test(tc, snap_fk);
	tcase_add_test(tc, snap_reads_segment);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
