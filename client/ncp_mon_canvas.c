#include "client/ncp_mon_canvas.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ncp_mon_canvas *ncp_mon_canvas_new(int cols, int rows, int sx, int sy)
{
	struct ncp_mon_canvas *c;

	if (cols < 1 || rows < 1 || sx < 1 || sy < 1 || sx * sy > 8 ||
	    cols > 4096 || rows > 4096)
		return NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->cols = cols;
	c->rows = rows;
	c->sx = sx;
	c->sy = sy;
	c->w = cols * sx;
	c->h = rows * sy;
	c->dots = calloc((size_t)c->w * (size_t)c->h, 1);
	if (!c->dots) {
		free(c);
		return NULL;
	}
	return c;
}

void ncp_mon_canvas_free(struct ncp_mon_canvas *c)
{
	if (!c)
		return;
	free(c->dots);
	free(c);
}

void ncp_mon_canvas_clear(struct ncp_mon_canvas *c)
{
	memset(c->dots, 0, (size_t)c->w * (size_t)c->h);
}

int ncp_mon_canvas_fit(const struct ncp_mon_canvas *c,
		       const struct ncp_mon_box *box, double aspect,
		       struct ncp_mon_view *v)
{
	double bw = box->x1 - box->x0, bh = box->y1 - box->y0;
	double s, half_w, half_h;

	if (!(bw > 0) || !(bh > 0) || !(aspect > 0) || c->w < 1 || c->h < 1)
		return -EINVAL;
	/* s: cell widths per metre, the same on screen along x and y (a
	 * cell is one width across and `aspect` widths tall). */
	s = fmin(c->cols / bw, c->rows * aspect / bh);
	v->kx = s * c->sx;
	v->ky = s * c->sy / aspect;
	v->cx = (box->x0 + box->x1) / 2;
	v->cy = (box->y0 + box->y1) / 2;
	v->w = c->w;
	v->h = c->h;
	half_w = v->w / 2 / v->kx;
	half_h = v->h / 2 / v->ky;
	v->shown = (struct ncp_mon_box){ v->cx - half_w, v->cx + half_w,
					 v->cy - half_h, v->cy + half_h };
	return 0;
}

void ncp_mon_canvas_project(const struct ncp_mon_view *v, double x, double y,
			    double *px, double *py)
{
	*px = v->w / 2 + (x - v->cx) * v->kx;
	*py = v->h / 2 - (y - v->cy) * v->ky;
}

bool ncp_mon_canvas_cell_of(const struct ncp_mon_canvas *c,
			    const struct ncp_mon_view *v, double x, double y,
			    int *col, int *row)
{
	double px, py;

	ncp_mon_canvas_project(v, x, y, &px, &py);
	if (!(px >= 0 && px < c->w && py >= 0 && py < c->h))
		return false;
	*col = (int)(px / c->sx);
	*row = (int)(py / c->sy);
	return true;
}

void ncp_mon_canvas_dot(struct ncp_mon_canvas *c, int i, int j, uint8_t layer)
{
	uint8_t *d;

	if (i < 0 || j < 0 || i >= c->w || j >= c->h)
		return;
	d = &c->dots[(size_t)j * (size_t)c->w + (size_t)i];
	if (layer > *d)
		*d = layer;
}

bool ncp_mon_canvas_clip(double w, double h, double *x0, double *y0,
			 double *x1, double *y1)
{
	double dx = *x1 - *x0, dy = *y1 - *y0;
	double p[4] = { -dx, dx, -dy, dy };
	double q[4] = { *x0, w - *x0, *y0, h - *y0 };
	double t0 = 0, t1 = 1;

	for (int k = 0; k < 4; k++) {
		if (p[k] == 0) {
			if (q[k] < 0)
				return false; /* parallel and outside */
			continue;
		}
		double t = q[k] / p[k];
		if (p[k] < 0) {
			if (t > t1)
				return false;
			if (t > t0)
				t0 = t;
		} else {
			if (t < t0)
				return false;
			if (t < t1)
				t1 = t;
		}
	}
	*x1 = *x0 + t1 * dx;
	*y1 = *y0 + t1 * dy;
	*x0 = *x0 + t0 * dx;
	*y0 = *y0 + t0 * dy;
	return true;
}

/* A line between continuous dot coordinates: one dot per step along the
 * longer axis; with on > 0, a dot is drawn only when the distance from the
 * line's first endpoint to its centre along that axis, in whole dots, is
 * within the first `on` of every on + off (so a dash pattern does not move
 * when the edge cuts the line). */
static void dot_pattern(struct ncp_mon_canvas *c, double x0, double y0,
			double x1, double y1, uint8_t layer, int on, int off)
{
	bool along_x = fabs(x1 - x0) >= fabs(y1 - y0);
	double origin = along_x ? x0 : y0, n;

	if (!ncp_mon_canvas_clip(c->w, c->h, &x0, &y0, &x1, &y1))
		return;
	n = ceil(fmax(fabs(x1 - x0), fabs(y1 - y0)));
	if (n < 1)
		n = 1;
	for (int k = 0; k <= (int)n; k++) {
		double t = k / n;
		int i = (int)floor(x0 + t * (x1 - x0));
		int j = (int)floor(y0 + t * (y1 - y0));

		if (on > 0 && fmod(floor(fabs((along_x ? i : j) + 0.5 - origin)),
				   on + off) >= on)
			continue;
		ncp_mon_canvas_dot(c, i, j, layer);
	}
}

static void dot_line(struct ncp_mon_canvas *c, double x0, double y0,
		     double x1, double y1, uint8_t layer)
{
	dot_pattern(c, x0, y0, x1, y1, layer, 0, 0);
}

void ncp_mon_canvas_line(struct ncp_mon_canvas *c, const struct ncp_mon_view *v,
			 double x0, double y0, double x1, double y1,
			 uint8_t layer)
{
	double a, b, d, e;

	if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
		return;
	ncp_mon_canvas_project(v, x0, y0, &a, &b);
	ncp_mon_canvas_project(v, x1, y1, &d, &e);
	dot_line(c, a, b, d, e, layer);
}

void ncp_mon_canvas_dashed(struct ncp_mon_canvas *c,
			   const struct ncp_mon_view *v, double x0, double y0,
			   double x1, double y1, uint8_t layer, int on, int off)
{
	double a, b, d, e;

	if (!isfinite(x0) || !isfinite(y0) || !isfinite(x1) || !isfinite(y1))
		return;
	if (on < 1 || off < 0)
		on = 1, off = 0;
	ncp_mon_canvas_project(v, x0, y0, &a, &b);
	ncp_mon_canvas_project(v, x1, y1, &d, &e);
	dot_pattern(c, a, b, d, e, layer, on, off);
}

size_t ncp_mon_canvas_trace(struct ncp_mon_canvas *c,
			    const struct ncp_mon_view *v, const double *x,
			    const double *y, size_t n, uint8_t layer)
{
	double lx = 0, ly = 0;
	long li = 0, lj = 0;
	bool pen = false;
	size_t kept = 0;

	for (size_t k = 0; k < n; k++) {
		double px, py;
		long i, j;

		if (!isfinite(x[k]) || !isfinite(y[k])) {
			pen = false;
			continue;
		}
		ncp_mon_canvas_project(v, x[k], y[k], &px, &py);
		if (!(fabs(px) < 1e9 && fabs(py) < 1e9)) {
			pen = false;
			continue;
		}
		i = (long)floor(px);
		j = (long)floor(py);
		if (pen && i == li && j == lj)
			continue;
		if (pen)
			dot_line(c, lx, ly, px, py, layer);
		else
			dot_line(c, px, py, px, py, layer);
		lx = px;
		ly = py;
		li = i;
		lj = j;
		pen = true;
		kept++;
	}
	return kept;
}

void ncp_mon_canvas_circle(struct ncp_mon_canvas *c,
			   const struct ncp_mon_view *v, double x, double y,
			   double r, uint8_t layer)
{
	double px, py, rx, ry;
	int n;

	if (!isfinite(x) || !isfinite(y) || !(r > 0))
		return;
	ncp_mon_canvas_project(v, x, y, &px, &py);
	rx = r * v->kx;
	ry = r * v->ky;
	n = (int)ceil(2 * M_PI * fmax(rx, ry)) + 8;
	if (n > 4096)
		n = 4096;
	for (int k = 0; k < n; k++) {
		double a0 = 2 * M_PI * k / n, a1 = 2 * M_PI * (k + 1) / n;
		dot_line(c, px + rx * cos(a0), py + ry * sin(a0),
			 px + rx * cos(a1), py + ry * sin(a1), layer);
	}
}

/* Braille dot bits for dot (i, j) of a 2 x 4 cell: dots 1-3 and 7 down
 * the left column, 4-6 and 8 down the right. */
static const unsigned braille_bit[4][2] = {
	{ 0x01, 0x08 }, { 0x02, 0x10 }, { 0x04, 0x20 }, { 0x40, 0x80 },
};

unsigned ncp_mon_canvas_cell(const struct ncp_mon_canvas *c, int col, int row,
			     uint8_t *layer)
{
	unsigned bits = 0;
	uint8_t top = 0;
	bool braille = c->sx == 2 && c->sy == 4;

	*layer = 0;
	if (col < 0 || row < 0 || col >= c->cols || row >= c->rows)
		return 0;
	for (int j = 0; j < c->sy; j++) {
		const uint8_t *line = c->dots +
				      (size_t)(row * c->sy + j) * (size_t)c->w +
				      (size_t)(col * c->sx);
		for (int i = 0; i < c->sx; i++) {
			if (!line[i])
				continue;
			bits |= braille ? braille_bit[j][i] : 1u << (j * c->sx + i);
			if (line[i] > top)
				top = line[i];
		}
	}
	*layer = top;
	return bits;
}
