/* ncp_mon_canvas: the workspace picture as a grid of sub-cell dots.
 *
 * A canvas covers cols x rows terminal cells, each split into sx x sy
 * dots (2 x 4 for Unicode braille, 1 x 1 for plain ASCII).  Every dot
 * holds a layer number (0: empty); drawing keeps the highest layer, so
 * the arm stays on top of its trace whatever the drawing order.  A cell
 * reads back as the pattern of its set dots and its highest layer, which
 * the caller turns into a character and a colour.
 *
 * A view maps workspace metres onto the canvas: ncp_mon_canvas_fit()
 * scales a box of the workspace to the largest size that fits the cells
 * with the same scale along x and y on screen (a cell is `aspect` times
 * as tall as it is wide; about 2 in a terminal), centred; the part of
 * the workspace shown is then at least the box.  x grows to the right,
 * y upwards.
 *
 * Pure computation, no terminal I/O; the canvas owns its dot array.
 */
#ifndef NCP_MON_CANVAS_H
#define NCP_MON_CANVAS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ncp_mon_canvas {
	int cols, rows; /* cells */
	int sx, sy;     /* dots per cell across and down (sx * sy <= 8) */
	int w, h;       /* dots: cols * sx, rows * sy */
	uint8_t *dots;  /* h rows of w layer numbers, top row first */
};

/* A workspace box, m. */
struct ncp_mon_box {
	double x0, x1, y0, y1;
};

/* Workspace metres to canvas dots (continuous; dot (i, j) covers
 * [i, i+1) x [j, j+1)). */
struct ncp_mon_view {
	double cx, cy;       /* the workspace point at the canvas centre */
	double kx, ky;       /* dots per metre along x and y */
	double w, h;         /* canvas size, dots */
	struct ncp_mon_box shown; /* the workspace the canvas shows */
};

/* A canvas of cols x rows cells of sx x sy dots; NULL when the sizes are
 * not positive, sx * sy > 8, or out of memory. */
struct ncp_mon_canvas *ncp_mon_canvas_new(int cols, int rows, int sx, int sy);
void ncp_mon_canvas_free(struct ncp_mon_canvas *c);
void ncp_mon_canvas_clear(struct ncp_mon_canvas *c);

/* Fit `box` into the canvas (see above).  Returns -EINVAL for an empty
 * box, a canvas without dots or a non-positive aspect. */
int ncp_mon_canvas_fit(const struct ncp_mon_canvas *c,
		       const struct ncp_mon_box *box, double aspect,
		       struct ncp_mon_view *v);

/* Workspace point to continuous dot coordinates (px right, py down). */
void ncp_mon_canvas_project(const struct ncp_mon_view *v, double x, double y,
			    double *px, double *py);

/* The cell showing workspace point (x, y); false when it is off the
 * canvas (col and row are then left alone). */
bool ncp_mon_canvas_cell_of(const struct ncp_mon_canvas *c,
			    const struct ncp_mon_view *v, double x, double y,
			    int *col, int *row);

/* Set dot (i, j) to `layer` unless it holds a higher one; dots off the
 * canvas are ignored. */
void ncp_mon_canvas_dot(struct ncp_mon_canvas *c, int i, int j,
			uint8_t layer);

/* Clip the segment (x0, y0)-(x1, y1), in continuous dot coordinates, to
 * the rectangle [0, w] x [0, h] (Liang-Barsky).  False when nothing of it
 * is inside; otherwise the endpoints are moved onto the rectangle. */
bool ncp_mon_canvas_clip(double w, double h, double *x0, double *y0,
			 double *x1, double *y1);

/* A straight line between two workspace points; the part off the canvas
 * is clipped.  Non-finite endpoints draw nothing. */
void ncp_mon_canvas_line(struct ncp_mon_canvas *c, const struct ncp_mon_view *v,
			 double x0, double y0, double x1, double y1,
			 uint8_t layer);

/* The same line dashed: `on` dots drawn, then `off` dots left out, along
 * the longer axis from (x0, y0) (on < 1 draws it solid).  A line so drawn
 * stays told apart from a solid one without colour. */
void ncp_mon_canvas_dashed(struct ncp_mon_canvas *c,
			   const struct ncp_mon_view *v, double x0, double y0,
			   double x1, double y1, uint8_t layer, int on, int off);

/* A polyline through n workspace points (x[i], y[i]), decimated to the
 * canvas' resolution: a point that falls on the same dot as the last
 * point kept is skipped.  A non-finite point lifts the pen (the line
 * breaks there).  Returns the number of points kept. */
size_t ncp_mon_canvas_trace(struct ncp_mon_canvas *c,
			    const struct ncp_mon_view *v, const double *x,
			    const double *y, size_t n, uint8_t layer);

/* A circle of radius r (m) around a workspace point. */
void ncp_mon_canvas_circle(struct ncp_mon_canvas *c,
			   const struct ncp_mon_view *v, double x, double y,
			   double r, uint8_t layer);

/* Cell (col, row): the bit pattern of its set dots and, in *layer, the
 * highest layer among them (0 when none is set).  For 2 x 4 cells the
 * bits are the Unicode braille dot bits (the character is U+2800 + bits);
 * otherwise bit (j * sx + i) is dot (i, j) of the cell. */
unsigned ncp_mon_canvas_cell(const struct ncp_mon_canvas *c, int col, int row,
			     uint8_t *layer);

#endif
