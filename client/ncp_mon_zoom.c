#include "client/ncp_mon_zoom.h"

#include <math.h>

/* The task's neighbourhood, and the whole arm with the shoulder, m. */
static const struct ncp_mon_box task_box = { -1.0, 1.0, 0.5, 2.0 };
static const struct ncp_mon_box whole_box = { -1.6, 1.6, -0.15, 2.2 };

void ncp_mon_zoom_reset(struct ncp_mon_zoom *z)
{
	*z = (struct ncp_mon_zoom){ 0 };
}

void ncp_mon_zoom_see(struct ncp_mon_zoom *z, double x, double y)
{
	if (!isfinite(x) || !isfinite(y))
		return;
	if (!z->seen_any) {
		z->seen = (struct ncp_mon_box){ x, x, y, y };
		z->seen_any = true;
		return;
	}
	z->seen.x0 = fmin(z->seen.x0, x);
	z->seen.x1 = fmax(z->seen.x1, x);
	z->seen.y0 = fmin(z->seen.y0, y);
	z->seen.y1 = fmax(z->seen.y1, y);
}

void ncp_mon_zoom_step(struct ncp_mon_zoom *z, int d)
{
	z->whole = false;
	if (d == 0) {
		z->level = 0;
		return;
	}
	z->level += d;
	if (z->level > NCP_MON_ZOOM_IN_MAX)
		z->level = NCP_MON_ZOOM_IN_MAX;
	if (z->level < -NCP_MON_ZOOM_OUT_MAX)
		z->level = -NCP_MON_ZOOM_OUT_MAX;
}

void ncp_mon_zoom_toggle_whole(struct ncp_mon_zoom *z)
{
	z->whole = !z->whole;
}

/* Half of a side: half the seen extent plus the margin, at least half
 * the minimum. */
static double half_side(double lo, double hi)
{
	return fmax((hi - lo) / 2 + NCP_MON_ZOOM_MARGIN, NCP_MON_ZOOM_MIN / 2);
}

void ncp_mon_zoom_box(const struct ncp_mon_zoom *z, struct ncp_mon_box *b)
{
	double cx, cy, hx, hy, s;

	if (z->whole) {
		*b = whole_box;
		return;
	}
	if (z->seen_any) {
		cx = (z->seen.x0 + z->seen.x1) / 2;
		cy = (z->seen.y0 + z->seen.y1) / 2;
		hx = half_side(z->seen.x0, z->seen.x1);
		hy = half_side(z->seen.y0, z->seen.y1);
	} else {
		cx = (task_box.x0 + task_box.x1) / 2;
		cy = (task_box.y0 + task_box.y1) / 2;
		hx = (task_box.x1 - task_box.x0) / 2;
		hy = (task_box.y1 - task_box.y0) / 2;
	}
	s = pow(NCP_MON_ZOOM_FACTOR, -z->level);
	*b = (struct ncp_mon_box){ cx - hx * s, cx + hx * s, cy - hy * s,
				   cy + hy * s };
}
