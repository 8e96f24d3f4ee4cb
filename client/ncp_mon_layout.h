/* ncp_mon_layout: where ncp-monitor's panels go on a terminal.
 *
 *   +-------------------------------------------------+  title (1 line)
 *   | workspace                     | numbers         |  upper part
 *   |                               |                 |
 *   +-------------------------------------------------+
 *   | M1 heat map (neuron groups x time bins)         |  about a third
 *   +-------------------------------------------------+
 *
 * The numbers panel has a fixed width; the workspace takes the rest of
 * the upper part; the M1 panel spans the width.  Pure computation.
 */
#ifndef NCP_MON_LAYOUT_H
#define NCP_MON_LAYOUT_H

#define NCP_MON_LAYOUT_MIN_COLS 60
#define NCP_MON_LAYOUT_MIN_LINES 18
#define NCP_MON_LAYOUT_NUMBERS_W 34
#define NCP_MON_LAYOUT_M1_MIN_H 7

/* A rectangle of terminal cells: column x, line y, w x h. */
struct ncp_mon_rect {
	int x, y, w, h;
};

struct ncp_mon_layout {
	struct ncp_mon_rect title;   /* line 0 */
	struct ncp_mon_rect work;    /* workspace, left of the separator */
	int sep_x;                   /* the separator column */
	struct ncp_mon_rect numbers; /* right of the separator */
	struct ncp_mon_rect m1;      /* the bottom part, full width */
};

/* Lay out a cols x lines terminal.  Returns 0, or -ERANGE when it is
 * smaller than NCP_MON_LAYOUT_MIN_COLS x NCP_MON_LAYOUT_MIN_LINES (the
 * layout is then left alone). */
int ncp_mon_layout_compute(int cols, int lines, struct ncp_mon_layout *l);

#endif
