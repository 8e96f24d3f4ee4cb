/* ncp_mon_zoom: which part of the workspace ncp-monitor shows.
 *
 * By default the reaching workspace: the box around every target and
 * hand position the run has shown (each one seen is added; the box only
 * grows, so the picture does not jump at each new target), widened by a margin of
 * NCP_MON_ZOOM_MARGIN on every side and to at least NCP_MON_ZOOM_MIN
 * across and up, centred.  Before any target is seen it is the task's
 * neighbourhood (x -1..1, y 0.5..2 m).
 *
 * Zoom levels scale that box about its centre by NCP_MON_ZOOM_FACTOR per
 * level: level 1 shows 1/1.5 of it across (zoomed in), level -1 1.5
 * times as much (zoomed out); levels NCP_MON_ZOOM_IN_MAX to
 * -NCP_MON_ZOOM_OUT_MAX.  The whole-arm view (shoulder included) is a
 * separate switch.  Pure computation. */
#ifndef NCP_MON_ZOOM_H
#define NCP_MON_ZOOM_H

#include <stdbool.h>

#include "client/ncp_mon_canvas.h"

#define NCP_MON_ZOOM_MARGIN 0.15 /* m */
#define NCP_MON_ZOOM_MIN 0.6     /* m */
#define NCP_MON_ZOOM_FACTOR 1.5
#define NCP_MON_ZOOM_IN_MAX 4
#define NCP_MON_ZOOM_OUT_MAX 4

struct ncp_mon_zoom {
	bool seen_any;          /* a point was seen */
	struct ncp_mon_box seen; /* the points' bounding box */
	int level;              /* > 0 in, < 0 out */
	bool whole;             /* the whole-arm view */
};

/* Forget the targets and go back to level 0, reaching view. */
void ncp_mon_zoom_reset(struct ncp_mon_zoom *z);

/* Add a target or hand position (non-finite points are ignored). */
void ncp_mon_zoom_see(struct ncp_mon_zoom *z, double x, double y);

/* Zoom in (d > 0) or out (d < 0) by |d| levels, within the limits; d 0
 * goes back to level 0.  Either leaves the whole-arm view. */
void ncp_mon_zoom_step(struct ncp_mon_zoom *z, int d);

/* Switch the whole-arm view on or off. */
void ncp_mon_zoom_toggle_whole(struct ncp_mon_zoom *z);

/* The box to show. */
void ncp_mon_zoom_box(const struct ncp_mon_zoom *z, struct ncp_mon_box *b);

#endif
