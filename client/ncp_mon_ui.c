#include "client/ncp_mon_ui.h"

#include <curses.h>
#include <inttypes.h>
#include <langinfo.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/ncp_mon_canvas.h"
#include "client/ncp_mon_health.h"
#include "client/ncp_mon_layout.h"
#include "client/ncp_mon_raster.h"
#include "client/ncp_mon_spark.h"
#include "client/ncp_mon_zoom.h"

/* Canvas layers, lowest first: what is drawn later never hides a higher
 * layer. */
enum layer {
	LAYER_PATH_HEALTHY = 1,	/* the last reach of each kind (paths_update) */
	LAYER_PATH_LESIONED,
	LAYER_PATH_RESTORED,
	LAYER_PRED_TRACE,
	LAYER_TRACE,
	LAYER_TARGET,
	LAYER_PRED_ARM,
	LAYER_ARM,
	LAYER_COUNT,
};

enum pair {
	PAIR_ARM = 1,
	PAIR_PRED,
	PAIR_TARGET,
	PAIR_TRACE,
	PAIR_WARN,
	PAIR_ERROR,
	PAIR_OK,
	PAIR_HEAT, /* PAIR_HEAT + level - 1 for levels 1 .. HEAT_LEVELS - 1 */
};

#define HEAT_LEVELS 7
#define SPARK_LEVELS 9
#define GUTTER 6 /* columns left of the heat map */
#define LEGEND_W 11 /* columns right of it for the shade legend */
#define LOSS_MAX 1024

/* The predicted arm's dashes, in canvas dots: drawn, left out.  With the
 * real arm solid, the two differ without colour; so do their hands and
 * elbows (@ and o against * and +). */
#define PRED_DASH_ON 2
#define PRED_DASH_OFF 2
#define PRED_TRACE_EVERY 20 /* the predicted trace: a dot per 20 steps */

static const char *const heat_utf8[HEAT_LEVELS] = {
	" ", "\u00b7", ":", "\u2591", "\u2592", "\u2593", "\u2588",
};
static const char heat_ascii[HEAT_LEVELS + 1] = " .:-=*#";
static const char *const spark_utf8[SPARK_LEVELS] = {
	" ", "\u2581", "\u2582", "\u2583", "\u2584",
	"\u2585", "\u2586", "\u2587", "\u2588",
};
static const char spark_ascii[SPARK_LEVELS + 1] = " _.,-=+*#";
/* ASCII stand-ins for canvas cells, by layer. */
static const char layer_ascii[LAYER_COUNT] = { ' ', 'h', 'l', 'r', ',', '.',
					       'o', '*', '#' };

/* Hand paths of whole reaches, one point every PATH_EVERY steps. */
#define PATH_PTS 1024
#define PATH_EVERY 5
struct hand_path {
	double x[PATH_PTS], y[PATH_PTS];
	size_t n;
};

struct ncp_mon_ui {
	SCREEN *screen;
	bool utf8, colour;
	struct ncp_mon_zoom zoom;
	uint64_t zoom_generation; /* the segment whose targets it saw */
	bool stim_theta;	/* electrode bars show theta, not alpha */
	double bars[LOSS_MAX];
	struct ncp_mon_canvas *canvas;
	struct ncp_mon_raster *raster;
	double *hx, *hy, *px, *py; /* hand traces, workspace m */
	size_t trace_cap;
	double loss[LOSS_MAX], loss_cols[LOSS_MAX];
	int spark[LOSS_MAX];
	/* The last whole reach that was healthy, lesioned (CPN off) and
	 * restored (a lesion, CPN on), and the reach in progress: its
	 * target, its kind so far (-1 none yet, -2 mixed). */
	struct hand_path paths[3], cur;
	float cur_target[2];
	int cur_kind;
	uint64_t path_step;	/* arm entries up to this step are taken */
	bool path_started;
};

struct ncp_mon_ui *ncp_mon_ui_new(char *err, size_t errlen)
{
	struct ncp_mon_ui *ui;
	const char *term = getenv("TERM");

	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		snprintf(err, errlen, "standard input and output must be a "
			 "terminal (or use --once)");
		return NULL;
	}
	ui = calloc(1, sizeof(*ui));
	if (!ui) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	ui->utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0;
	ui->screen = newterm(term, stdout, stdin);
	if (!ui->screen) {
		snprintf(err, errlen, "cannot use terminal type '%s'",
			 term ? term : "(TERM unset)");
		free(ui);
		return NULL;
	}
	set_term(ui->screen);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	curs_set(0);
	leaveok(stdscr, TRUE);
	if (has_colors() && start_color() == OK) {
		static const short heat[HEAT_LEVELS - 1] = {
			COLOR_BLUE, COLOR_BLUE, COLOR_CYAN,
			COLOR_GREEN, COLOR_YELLOW, COLOR_RED,
		};
		short bg = COLOR_BLACK;

		ui->colour = true;
		if (use_default_colors() == OK)
			bg = -1;
		init_pair(PAIR_ARM, COLOR_GREEN, bg);
		init_pair(PAIR_PRED, COLOR_MAGENTA, bg);
		init_pair(PAIR_TARGET, COLOR_RED, bg);
		init_pair(PAIR_TRACE, COLOR_CYAN, bg);
		init_pair(PAIR_WARN, COLOR_YELLOW, bg);
		init_pair(PAIR_ERROR, COLOR_RED, bg);
		init_pair(PAIR_OK, COLOR_GREEN, bg);
		for (int i = 0; i < HEAT_LEVELS - 1; i++)
			init_pair((short)(PAIR_HEAT + i), heat[i], bg);
	}
	return ui;
}

void ncp_mon_ui_free(struct ncp_mon_ui *ui)
{
	if (!ui)
		return;
	curs_set(1);
	endwin();
	delscreen(ui->screen);
	ncp_mon_canvas_free(ui->canvas);
	ncp_mon_raster_free(ui->raster);
	free(ui->hx);
	free(ui->hy);
	free(ui->px);
	free(ui->py);
	free(ui);
}

int ncp_mon_ui_key(struct ncp_mon_ui *ui, int timeout_ms)
{
	int ch;

	timeout(timeout_ms < 0 ? 0 : timeout_ms);
	ch = getch();
	return ch == ERR ? -1 : ch;
}

void ncp_mon_ui_toggle_zoom(struct ncp_mon_ui *ui)
{
	ncp_mon_zoom_toggle_whole(&ui->zoom);
}

void ncp_mon_ui_zoom(struct ncp_mon_ui *ui, int d)
{
	ncp_mon_zoom_step(&ui->zoom, d);
}

void ncp_mon_ui_toggle_stim(struct ncp_mon_ui *ui)
{
	ui->stim_theta = !ui->stim_theta;
}

void ncp_mon_ui_repaint(struct ncp_mon_ui *ui)
{
	clearok(curscr, TRUE);
}

static attr_t pair_attr(const struct ncp_mon_ui *ui, int pair)
{
	return ui->colour ? COLOR_PAIR(pair) : A_NORMAL;
}

/* Formatted ASCII text at (y, x), at most w columns. */
static void text(int y, int x, int w, attr_t attr, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void text(int y, int x, int w, attr_t attr, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (w <= 0)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	attrset(attr);
	mvaddnstr(y, x, buf, w);
	attrset(A_NORMAL);
}

/* One glyph (a UTF-8 string or an ASCII character) at (y, x). */
static void glyph(int y, int x, attr_t attr, const char *s)
{
	attrset(attr);
	mvaddstr(y, x, s);
	attrset(A_NORMAL);
}

/* A microsecond figure in at most 6 characters. */
static const char *us(char *buf, size_t len, double v)
{
	if (!isfinite(v))
		snprintf(buf, len, "-");
	else if (v < 100)
		snprintf(buf, len, "%.1f", v);
	else if (v < 100000)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.0fk", v / 1000);
	return buf;
}

static attr_t tone_attr(const struct ncp_mon_ui *ui, enum ncp_mon_ui_tone t)
{
	switch (t) {
	case NCP_MON_UI_WARN:
		return pair_attr(ui, PAIR_WARN) | A_BOLD;
	case NCP_MON_UI_ERROR:
		return pair_attr(ui, PAIR_ERROR) | A_BOLD;
	default:
		return pair_attr(ui, PAIR_OK) | A_BOLD;
	}
}

static void draw_title(struct ncp_mon_ui *ui, const struct ncp_mon_rect *r,
		       const struct ncp_mon_snap *snap,
		       const struct ncp_mon_ui_status *st)
{
	static const char keys[] = "q quit  +/- zoom  z arm  space hold ";
	char head[200];
	int n, room;

	attrset(A_REVERSE);
	mvhline(r->y, r->x, ' ', r->w);
	if (snap)
		n = snprintf(head, sizeof(head), " ncp-monitor  %s  gen %016" PRIx64
			     "  pid %d  %s ", snap->name, snap->hdr.generation,
			     (int)snap->hdr.pid, st->daemon ? st->daemon :
			     ncp_mon_snap_state_name(snap->state_word));
	else
		n = snprintf(head, sizeof(head), " ncp-monitor  %s ",
			     st->shm_name);
	mvaddnstr(r->y, r->x, head, r->w);
	attrset(A_NORMAL);
	room = r->w - n;
	if (st->message && room > 2) {
		int len = (int)strlen(st->message);
		text(r->y, r->x + n + 1, room - 2, tone_attr(ui, st->tone) |
		     A_REVERSE, " %s ", st->message);
		room -= len + 3;
		n += len + 3;
	}
	if (st->held && room > 8) {
		text(r->y, r->x + n + 1, room - 1, A_REVERSE | A_BOLD, "[held]");
		room -= 8;
	}
	if (room > (int)sizeof(keys))
		text(r->y, r->x + r->w - (int)sizeof(keys) + 1,
		     (int)sizeof(keys), A_REVERSE, "%s", keys);
}

/* Make the canvas and trace buffers fit the panel and the snapshot. */
static bool fit_buffers(struct ncp_mon_ui *ui, int cols, int rows,
			size_t trace)
{
	int sx = ui->utf8 ? 2 : 1, sy = ui->utf8 ? 4 : 1;

	if (!ui->canvas || ui->canvas->cols != cols ||
	    ui->canvas->rows != rows || ui->canvas->sx != sx) {
		ncp_mon_canvas_free(ui->canvas);
		ui->canvas = ncp_mon_canvas_new(cols, rows, sx, sy);
		if (!ui->canvas)
			return false;
	}
	if (trace > ui->trace_cap) {
		double *b[4];

		for (int i = 0; i < 4; i++)
			b[i] = malloc(trace * sizeof(double));
		if (!b[0] || !b[1] || !b[2] || !b[3]) {
			for (int i = 0; i < 4; i++)
				free(b[i]);
			return false;
		}
		free(ui->hx);
		free(ui->hy);
		free(ui->px);
		free(ui->py);
		ui->hx = b[0];
		ui->hy = b[1];
		ui->px = b[2];
		ui->py = b[3];
		ui->trace_cap = trace;
	}
	return true;
}

/* A marker character on the workspace, if the point is on it. */
static void marker(struct ncp_mon_ui *ui, const struct ncp_mon_rect *r,
		   const struct ncp_mon_view *v, double x, double y,
		   attr_t attr, const char *ch)
{
	int col, row;

	if (ncp_mon_canvas_cell_of(ui->canvas, v, x, y, &col, &row))
		glyph(r->y + 1 + row, r->x + col, attr, ch);
}

/* Take the arm entries not seen yet into the reach in progress; a new
 * target ends it, and it becomes the path of its kind when the kind held
 * all along.  The kind is read from the blocks as this frame sees them
 * (a few tens of milliseconds of a reach may be counted under the
 * previous kind around a change). */
static void paths_update(struct ncp_mon_ui *ui, const struct ncp_mon_snap *snap)
{
	const struct ncp_shm_stim *sb = ncp_mon_snap_stim(snap);
	bool lesion = sb && sb->lesion_kind, on = snap->have_ncp && snap->ncp.on;
	int kind = !lesion ? (on ? -2 : 0) : on ? 2 : 1;

	for (uint32_t i = 0; i < snap->arm_span.count; i++) {
		const struct ncp_shm_arm_entry *a = &snap->arm[i];
		if (ui->path_started && a->step <= ui->path_step)
			continue;
		ui->path_started = true;
		ui->path_step = a->step;
		if (a->target[0] != ui->cur_target[0] ||
		    a->target[1] != ui->cur_target[1]) {
			if (ui->cur_kind >= 0 && ui->cur.n > 1)
				ui->paths[ui->cur_kind] = ui->cur;
			ui->cur.n = 0;
			ui->cur_kind = kind;
			ui->cur_target[0] = a->target[0];
			ui->cur_target[1] = a->target[1];
		} else if (kind != ui->cur_kind) {
			ui->cur_kind = -2;
		}
		if (a->step % PATH_EVERY == 0 && ui->cur.n < PATH_PTS) {
			ui->cur.x[ui->cur.n] = a->hand[0];
			ui->cur.y[ui->cur.n] = a->hand[1];
			ui->cur.n++;
		}
	}
}

static void draw_workspace(struct ncp_mon_ui *ui, const struct ncp_mon_rect *r,
			   const struct ncp_mon_snap *snap)
{
	static const attr_t none = 0;
	const struct ncp_shm_state *st = &snap->state;
	const struct ncp_shm_predicted *p = &snap->pred;
	struct ncp_mon_view v;
	struct ncp_mon_box box;
	char view[24];
	bool pred = ncp_mon_snap_pred_fresh(snap);
	double pts[3][2], ppts[3][2];
	int aJ = 0, pJ = 0;
	uint32_t n = snap->arm_span.count;
	int legend_h = pred ? 2 : 1, rows = r->h - 1 - legend_h;
	attr_t layer_attr[LAYER_COUNT];

	if (rows < 2 || !fit_buffers(ui, r->w, rows, n ? n : 1))
		return;
	layer_attr[0] = none;
	layer_attr[LAYER_PATH_HEALTHY] = pair_attr(ui, PAIR_OK) | A_DIM;
	layer_attr[LAYER_PATH_LESIONED] = pair_attr(ui, PAIR_ERROR) | A_DIM;
	layer_attr[LAYER_PATH_RESTORED] = pair_attr(ui, PAIR_WARN);
	layer_attr[LAYER_PRED_TRACE] = pair_attr(ui, PAIR_PRED) | A_DIM;
	layer_attr[LAYER_TRACE] = pair_attr(ui, PAIR_TRACE);
	layer_attr[LAYER_TARGET] = pair_attr(ui, PAIR_TARGET);
	layer_attr[LAYER_PRED_ARM] = pair_attr(ui, PAIR_PRED) | A_BOLD;
	layer_attr[LAYER_ARM] = pair_attr(ui, PAIR_ARM) | A_BOLD;

	/* The reaching workspace: every target and hand this segment has
	 * shown. */
	if (ui->zoom_generation != snap->hdr.generation) {
		struct ncp_mon_zoom keep = ui->zoom;

		ncp_mon_zoom_reset(&ui->zoom);
		ui->zoom.level = keep.level;
		ui->zoom.whole = keep.whole;
		ui->zoom_generation = snap->hdr.generation;
	}
	for (uint32_t i = 0; i < n; i++) {
		ncp_mon_zoom_see(&ui->zoom, snap->arm[i].target[0],
				 snap->arm[i].target[1]);
		ncp_mon_zoom_see(&ui->zoom, snap->arm[i].hand[0],
				 snap->arm[i].hand[1]);
	}
	if (snap->have_state) {
		ncp_mon_zoom_see(&ui->zoom, st->target[0], st->target[1]);
		ncp_mon_zoom_see(&ui->zoom, st->hand[0], st->hand[1]);
	}
	ncp_mon_zoom_box(&ui->zoom, &box);

	ncp_mon_canvas_clear(ui->canvas);
	if (ncp_mon_canvas_fit(ui->canvas, &box, 2.0, &v))
		return;
	if (ui->zoom.whole)
		snprintf(view, sizeof(view), "whole arm");
	else if (ui->zoom.level)
		snprintf(view, sizeof(view), "reach %+d", ui->zoom.level);
	else
		snprintf(view, sizeof(view), "reach");
	text(r->y, r->x, r->w, A_BOLD, "workspace");
	text(r->y, r->x + 10, r->w - 10, A_NORMAL,
	     "[%s] x %.2f..%.2f  y %.2f..%.2f m", view, v.shown.x0, v.shown.x1,
	     v.shown.y0, v.shown.y1);

	/* The last healthy, lesioned and restored reaches. */
	paths_update(ui, snap);
	for (int k = 0; k < 3; k++)
		ncp_mon_canvas_trace(ui->canvas, &v, ui->paths[k].x,
				     ui->paths[k].y, ui->paths[k].n,
				     (uint8_t)(LAYER_PATH_HEALTHY + k));
	/* Traces: the newest arm history, decimated by the canvas. */
	for (uint32_t i = 0; i < n; i++) {
		ui->hx[i] = snap->arm[i].hand[0];
		ui->hy[i] = snap->arm[i].hand[1];
		/* The predicted trace dotted: lone points (NaN lifts the
		 * pen) at a fixed step phase, so they do not crawl. */
		if (snap->arm[i].step % PRED_TRACE_EVERY == 0) {
			ui->px[i] = snap->arm[i].pred_hand[0];
			ui->py[i] = snap->arm[i].pred_hand[1];
		} else {
			ui->px[i] = ui->py[i] = NAN;
		}
	}
	ncp_mon_canvas_trace(ui->canvas, &v, ui->px, ui->py, n,
			     LAYER_PRED_TRACE);
	ncp_mon_canvas_trace(ui->canvas, &v, ui->hx, ui->hy, n, LAYER_TRACE);
	if (snap->have_state) {
		ncp_mon_canvas_circle(ui->canvas, &v, st->target[0],
				      st->target[1], 0.05, LAYER_TARGET);
		/* Every segment: shoulder, elbow, (wrist,) the hand as
		 * published. */
		double q[3] = { st->q[0], st->q[1], st->q2 };
		int J = aJ = ncp_mon_snap_arm(snap, q, pts);
		pts[J - 1][0] = st->hand[0];
		pts[J - 1][1] = st->hand[1];
		double x0 = 0, y0 = 0;
		for (int j = 0; j < J; j++) {
			ncp_mon_canvas_line(ui->canvas, &v, x0, y0, pts[j][0],
					    pts[j][1], LAYER_ARM);
			x0 = pts[j][0];
			y0 = pts[j][1];
		}
	}
	if (pred) {
		/* x[] keeps the 2-joint order; a wrist's angle in x_wrist. */
		double q[3] = { p->x[0], p->x[1], p->x_wrist[0] };
		int J = pJ = ncp_mon_snap_arm(snap, q, ppts);
		double x0 = 0, y0 = 0;
		for (int j = 0; j < J; j++) {
			ncp_mon_canvas_dashed(ui->canvas, &v, x0, y0, ppts[j][0],
					      ppts[j][1], LAYER_PRED_ARM,
					      PRED_DASH_ON, PRED_DASH_OFF);
			x0 = ppts[j][0];
			y0 = ppts[j][1];
		}
	}

	for (int row = 0; row < rows; row++)
		for (int col = 0; col < r->w; col++) {
			uint8_t layer;
			unsigned bits = ncp_mon_canvas_cell(ui->canvas, col, row,
							    &layer);
			char s[4];

			if (!bits)
				continue;
			if (ui->utf8) {
				unsigned cp = 0x2800 + bits;
				s[0] = (char)(0xe0 | (cp >> 12));
				s[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
				s[2] = (char)(0x80 | (cp & 0x3f));
				s[3] = '\0';
			} else {
				s[0] = layer_ascii[layer];
				s[1] = '\0';
			}
			glyph(r->y + 1 + row, r->x + col, layer_attr[layer], s);
		}

	/* Markers over the lines. */
	if (snap->have_state) {
		marker(ui, r, &v, 0, 0, A_BOLD, "O");
		for (int j = 0; j + 1 < aJ; j++)	/* elbow, wrist */
			marker(ui, r, &v, pts[j][0], pts[j][1],
			       layer_attr[LAYER_ARM], "o");
		marker(ui, r, &v, st->target[0], st->target[1],
		       layer_attr[LAYER_TARGET] | A_BOLD, "X");
	}
	if (pred) {
		for (int j = 0; j + 1 < pJ; j++)
			marker(ui, r, &v, ppts[j][0], ppts[j][1],
			       layer_attr[LAYER_PRED_ARM], "+");
		marker(ui, r, &v, p->x[4], p->x[5], layer_attr[LAYER_PRED_ARM],
		       "*");
	}
	if (snap->have_state)
		marker(ui, r, &v, st->hand[0], st->hand[1],
		       layer_attr[LAYER_ARM], "@");

	/* Legend: each line style as drawn, so it reads without colour. */
	{
		int y = r->y + 1 + rows, x = r->x;
		const char *solid = ui->utf8 ? "\u2812\u2812\u2812" : "##";
		const char *dashed = ui->utf8 ? "\u2812\u2800\u2812" : " * ";

		text(y, x, r->w, layer_attr[LAYER_ARM], "@%s arm (o elbow)", solid);
		text(y, x + 20, r->w - 20, layer_attr[LAYER_TARGET] | A_BOLD,
		     "X target");
		text(y, x + 30, r->w - 30, layer_attr[LAYER_TRACE], "trace");
		if (pred) {
			double off = hypot(p->x[4] - st->hand[0],
					   p->x[5] - st->hand[1]);

			text(y + 1, x, r->w, layer_attr[LAYER_PRED_ARM],
			     "*%s predicted %s (+ elbow), hand %.1f cm off",
			     dashed, p->model, 100 * off);
		} else {
			text(y, x + 36, r->w - 36, tone_attr(ui, NCP_MON_UI_WARN),
			     "no emulator prediction");
		}
	}
}

/* The newest training losses into ui->loss, oldest first; their count. */
static size_t gather_loss(struct ncp_mon_ui *ui, const struct ncp_mon_snap *s)
{
	size_t n = s->train_span.count;

	if (n > LOSS_MAX)
		n = LOSS_MAX;
	for (size_t i = 0; i < n; i++)
		ui->loss[i] = s->train[s->train_span.count - n + i].loss;
	return n;
}

static void spark_line(struct ncp_mon_ui *ui, int y, int x, int w,
		       const int *levels, attr_t attr)
{
	for (int i = 0; i < w; i++) {
		int l = levels[i];
		char s[2] = { 0, 0 };

		if (l < 0)
			continue;
		if (ui->utf8) {
			glyph(y, x + i, attr, spark_utf8[l]);
		} else {
			s[0] = spark_ascii[l];
			glyph(y, x + i, attr, s);
		}
	}
}

static void draw_numbers(struct ncp_mon_ui *ui, const struct ncp_mon_rect *r,
			 const struct ncp_mon_snap *snap,
			 const struct ncp_mon_ui_status *status)
{
	const struct ncp_shm_state *st = &snap->state;
	const struct ncp_shm_stats *ss = &snap->stats;
	const struct ncp_shm_predicted *p = &snap->pred;
	const struct ncp_shm_train_entry *e = ncp_mon_snap_train_last(snap);
	char a[16], b[16], c[16], d[16];
	int x = r->x + 1, w = r->w - 1, y = r->y, end = r->y + r->h;
	attr_t warn = tone_attr(ui, NCP_MON_UI_WARN);

#define LINE(attr, ...)                                          \
	do {                                                     \
		if (y < end)                                     \
			text(y++, x, w, (attr), __VA_ARGS__);   \
	} while (0)

	if (snap->have_state) {
		LINE(A_BOLD, "t %10.3f s   step %" PRIu64, st->t, st->step);
		LINE(st->paused ? warn : A_NORMAL, "mode %-9s  paused %s",
		     snap->have_stats ? ncp_mon_snap_mode_name(ss->mode) : "?",
		     st->paused ? "YES" : "no");
	} else {
		LINE(warn, "no state published yet");
	}
	if (isfinite(status->steps_per_s))
		snprintf(a, sizeof(a), "%.0f", status->steps_per_s);
	else
		snprintf(a, sizeof(a), "-");
	if (snap->have_stats) {
		struct ncp_mon_health h;
		char word[12];
		attr_t tone;

		ncp_mon_health_assess(ss, snap->hdr.dt, &h);
		tone = h.level == NCP_MON_HEALTH_POOR ?
			       tone_attr(ui, NCP_MON_UI_ERROR) :
		       h.level == NCP_MON_HEALTH_FAIR ? warn : A_BOLD;
		/* The verdict in capitals: it reads without colour. */
		snprintf(word, sizeof(word), "%s",
			 ncp_mon_health_level_name(h.level));
		for (char *q = word; *q; q++)
			if (*q >= 'a' && *q <= 'z')
				*q = (char)(*q - 'a' + 'A');
		LINE(tone, "health %s", word);
		LINE(tone, "  %s", h.reason);
		LINE(A_NORMAL, "steps/s %-7s rtf %.3f", a, ss->rtf);
		LINE(h.explained ? A_NORMAL : warn,
		     "overruns %" PRIu64 " (%.2g%%) slips %" PRIu64,
		     ss->overruns, 100 * h.late_fraction, ss->slips);
		if (ss->overruns && h.explained)
			LINE(A_NORMAL, "  from %" PRIu64 " host stalls, caught up",
			     h.host_stalls);
		else if (ss->overruns)
			LINE(warn, "  host stalls explain <=%.0f",
			     h.host_late_steps);
		LINE(A_NORMAL, "jitter p50 %s p99 %s us",
		     us(a, sizeof(a), ss->jitter_p50_us),
		     us(b, sizeof(b), ss->jitter_p99_us));
		LINE(A_NORMAL, "   p99.9 %s max %s us",
		     us(c, sizeof(c), ss->jitter_p999_us),
		     us(d, sizeof(d), ss->jitter_max_us));
		LINE(A_NORMAL, "cost p50 %s p99 %s max %s",
		     us(a, sizeof(a), ss->cost_p50_us),
		     us(b, sizeof(b), ss->cost_p99_us),
		     us(c, sizeof(c), ss->cost_max_us));
	} else {
		LINE(A_NORMAL, "steps/s %-7s (no loop stats yet)", a);
	}
	if (snap->have_state) {
		LINE(A_NORMAL, "task %s, %.2f s/target",
		     ncp_mon_snap_task_name(st->task_kind), st->task_period);
		LINE(pair_attr(ui, PAIR_ARM), "hand   (%6.3f, %6.3f) m",
		     st->hand[0], st->hand[1]);
		LINE(pair_attr(ui, PAIR_TARGET), "target (%6.3f, %6.3f) m",
		     st->target[0], st->target[1]);
		LINE(A_NORMAL, "error %.3f m  M1 %u spikes",
		     hypot(st->target[0] - st->hand[0],
			   st->target[1] - st->hand[1]), st->m1_spikes);
	}
	const struct ncp_shm_stim *sb = ncp_mon_snap_stim(snap);
	if (sb) {
		char les[96];
		ncp_mon_snap_lesion_text(sb, les, sizeof(les));
		LINE(sb->lesion_kind ? warn : A_NORMAL, "lesion %s", les);
		if (snap->have_ncp) {
			char cpn[200];
			ncp_mon_snap_ncp_text(snap, cpn, sizeof(cpn));
			LINE(snap->ncp.on ? pair_attr(ui, PAIR_ARM) : A_NORMAL,
			     "cpn %s", cpn);
		}
		if (ui->paths[0].n || ui->paths[1].n || ui->paths[2].n)
			LINE(A_NORMAL, "paths %s%s%s",
			     ui->paths[0].n ? " healthy" : "",
			     ui->paths[1].n ? " lesioned" : "",
			     ui->paths[2].n ? " restored" : "");
		LINE(A_NORMAL, "stim %s E%u %s max %.3g",
		     ncp_shm_stim_source_name(sb->source), sb->electrodes,
		     ui->stim_theta ? "|theta|" : "|alpha|",
		     ui->stim_theta ? sb->theta_max_abs : sb->alpha_max_abs);
		if (y < end && w > 8 && sb->electrodes) {
			/* A bar per electrode (or per group when they do not
			 * fit): height |value| / stim.max; negative values in
			 * the target's colour. */
			int cw = w - 6 < LOSS_MAX ? w - 6 : LOSS_MAX;
			int n = ncp_mon_snap_electrode_bars(sb, !ui->stim_theta,
							    cw, ui->bars);
			text(y, x, 6, A_NORMAL, ui->stim_theta ? "theta" : "alpha");
			for (int k = 0; k < n; k++) {
				double m = fabs(ui->bars[k]);
				int l = (int)ceil(m * (SPARK_LEVELS - 1));
				attr_t at = pair_attr(ui, ui->bars[k] < 0 ?
						      PAIR_TARGET : PAIR_ARM);
				char s1[2] = { spark_ascii[l], 0 };
				glyph(y, x + 6 + k, at,
				      ui->utf8 ? spark_utf8[l] : s1);
			}
			y++;
		}
	}
	if (ncp_mon_snap_pred_fresh(snap)) {
		LINE(pair_attr(ui, PAIR_PRED) | A_BOLD, "emulator %s", p->model);
		LINE(A_NORMAL, "latency %s us  skipped %" PRIu64,
		     us(a, sizeof(a), p->latency_us), p->skipped_steps);
		LINE(A_NORMAL, "hand RMSE %.4f m (1 s)", p->hand_rmse);
	} else if (snap->have_pred && p->model_loaded) {
		LINE(warn, "emulator %s: stale", p->model);
	} else {
		LINE(warn, "no emulator prediction");
	}
	if (e) {
		LINE(A_NORMAL, "loss %.4g  update %" PRIu64, e->loss, e->update);
		if (isfinite(e->val_loss))
			LINE(A_NORMAL, "val loss %.4g", e->val_loss);
		if (y < end && w > 8) {
			size_t n = gather_loss(ui, snap);
			int cw = w - 5;
			double lo = 0, hi = 0;

			if (cw > LOSS_MAX)
				cw = LOSS_MAX;
			ncp_mon_spark_resample(ui->loss, n, ui->loss_cols,
					       (size_t)cw);
			if (ncp_mon_spark_range(ui->loss_cols, (size_t)cw, true,
						&lo, &hi)) {
				ncp_mon_spark_levels(ui->loss_cols, (size_t)cw,
						     lo, hi, true, SPARK_LEVELS,
						     ui->spark);
				text(y, x, 5, A_NORMAL, "loss");
				spark_line(ui, y, x + 5, cw, ui->spark,
					   pair_attr(ui, PAIR_PRED));
				y++;
			}
		}
	} else {
		LINE(A_NORMAL, "training: none");
	}
#undef LINE
}

static void draw_m1(struct ncp_mon_ui *ui, const struct ncp_mon_rect *r,
		    const struct ncp_mon_snap *snap)
{
	uint32_t nsteps = snap->win_span.count;
	uint32_t neurons = snap->hdr.m1_neurons;
	int rows = r->h - 2, avail = r->w - GUTTER, cols, legend;
	double mean, now;

	text(r->y, r->x, r->w, A_BOLD, "M1");
	if (!nsteps) {
		text(r->y, r->x + 3, r->w - 3, A_NORMAL, "window empty");
		return;
	}
	/* One column per step while they fit, else as many columns as fit
	 * (each a run of 1 or 2 or more steps); a shade legend takes the
	 * right end when the panel is wide enough to spare it. */
	legend = avail >= 60 && rows >= HEAT_LEVELS - 1 ? LEGEND_W : 0;
	cols = avail - legend;
	if ((uint32_t)cols > nsteps)
		cols = (int)nsteps;
	if (cols < 1 || rows < 1)
		return;
	if (!ui->raster || ui->raster->rows != rows || ui->raster->cols != cols) {
		ncp_mon_raster_free(ui->raster);
		ui->raster = ncp_mon_raster_new(rows, cols);
		if (!ui->raster)
			return;
	}
	if (ncp_mon_raster_bin(ui->raster, snap->win, snap->win_stride, nsteps,
			       neurons))
		return;
	rows = ui->raster->used_rows;
	cols = ui->raster->used_cols;
	mean = (double)ui->raster->total / nsteps;
	now = ncp_shm_win_at(snap->win, snap->win_stride, nsteps - 1)->spike_count;
	text(r->y, r->x + 3, r->w - 3, A_NORMAL,
	     "%u neurons x %u steps (%.0f neurons/row, %.2g steps/col)  "
	     "spikes/step now %.0f mean %.1f max %u", neurons, nsteps,
	     (double)neurons / rows, (double)nsteps / cols, now, mean,
	     ui->raster->max_step_spikes);

	for (int row = 0; row < rows; row++) {
		int y = r->y + 1 + row;

		/* The row's first neuron: the least i with i * rows /
		 * neurons >= row (ncp_mon_raster's grouping). */
		if (row == 0 || row == rows - 1 || row == rows / 2)
			text(y, r->x, GUTTER - 1, A_DIM, "%5u",
			     (unsigned)(((uint64_t)row * neurons + (uint32_t)rows - 1) /
					(uint32_t)rows));
		for (int col = 0; col < cols; col++) {
			double hz = ncp_mon_raster_rate(ui->raster, row, col,
							snap->hdr.dt);
			int l = ncp_mon_raster_level(hz, HEAT_LEVELS);
			attr_t a = l ? pair_attr(ui, PAIR_HEAT + l - 1) : A_NORMAL;
			char s[2] = { heat_ascii[l], 0 };

			if (!l)
				continue;
			if (l == HEAT_LEVELS - 1)
				a |= A_BOLD;
			glyph(y, r->x + GUTTER + col, a,
			      ui->utf8 ? heat_utf8[l] : s);
		}
	}
	/* Shade legend right of the map when there is room. */
	if (legend && rows >= HEAT_LEVELS - 1) {
		int x = r->x + GUTTER + cols + 2;

		for (int l = HEAT_LEVELS - 1; l >= 1; l--) {
			int y = r->y + 1 + (HEAT_LEVELS - 1 - l);
			char s[2] = { heat_ascii[l], 0 };
			attr_t a = pair_attr(ui, PAIR_HEAT + l - 1) |
				   (l == HEAT_LEVELS - 1 ? A_BOLD : A_NORMAL);

			glyph(y, x, a, ui->utf8 ? heat_utf8[l] : s);
			if (l == HEAT_LEVELS - 1)
				text(y, x + 2, r->w - (x + 2 - r->x), A_NORMAL,
				     ">=%.0f Hz", ncp_mon_raster_level_floor(l));
			else
				text(y, x + 2, r->w - (x + 2 - r->x), A_NORMAL,
				     "<%.0f Hz", ncp_mon_raster_level_floor(l + 1));
		}
	}
	/* Spikes per step, one column per time bin. */
	{
		int y = r->y + r->h - 1;
		double vals[cols];
		int levels[cols];
		double hi = ui->raster->max_step_spikes;

		for (int col = 0; col < cols; col++)
			vals[col] = ui->raster->col_steps[col] ?
					    (double)ui->raster->col_spikes[col] /
						    ui->raster->col_steps[col] : NAN;
		ncp_mon_spark_levels(vals, (size_t)cols, 0, hi > 0 ? hi : 1, false,
				     SPARK_LEVELS, levels);
		text(y, r->x, GUTTER, A_DIM, "sp/st");
		spark_line(ui, y, r->x + GUTTER, cols, levels, A_BOLD);
		if (legend)
			text(y, r->x + GUTTER + cols + 1,
			     r->w - GUTTER - cols - 1, A_DIM, "<- now");
	}
}

void ncp_mon_ui_draw(struct ncp_mon_ui *ui, const struct ncp_mon_snap *snap,
		     const struct ncp_mon_ui_status *st)
{
	struct ncp_mon_layout l;
	int lines, cols;

	getmaxyx(stdscr, lines, cols);
	erase();
	if (ncp_mon_layout_compute(cols, lines, &l)) {
		text(0, 0, cols, A_BOLD, "terminal too small: %dx%d", cols,
		     lines);
		text(1, 0, cols, A_NORMAL, "ncp-monitor needs %dx%d; q quits",
		     NCP_MON_LAYOUT_MIN_COLS, NCP_MON_LAYOUT_MIN_LINES);
		refresh();
		return;
	}
	draw_title(ui, &l.title, snap, st);
	if (!snap) {
		text(lines / 2, 2, cols - 4, A_BOLD, "%s",
		     st->message ? st->message : "waiting for ncpd");
		refresh();
		return;
	}
	for (int y = l.work.y; y < l.work.y + l.work.h; y++)
		glyph(y, l.sep_x, A_NORMAL, ui->utf8 ? "\u2502" : "|");
	draw_workspace(ui, &l.work, snap);
	draw_numbers(ui, &l.numbers, snap, st);
	for (int x = 0; x < cols; x++)
		glyph(l.m1.y, x, A_NORMAL, ui->utf8 ? "\u2500" : "-");
	{
		struct ncp_mon_rect m1 = l.m1;

		m1.y++;
		m1.h--;
		draw_m1(ui, &m1, snap);
	}
	refresh();
}
