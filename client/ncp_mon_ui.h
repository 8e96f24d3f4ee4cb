/* ncp_mon_ui: ncp-monitor's curses screen.
 *
 * Draws a snapshot (ncp_mon_snap) into the panels of ncp_mon_layout:
 * the workspace (real arm, predicted arm, target, hand traces), the
 * numbers (with a bar per stimulation electrode and the lesion), and the M1 window as a heat map with spikes per step; or,
 * when the terminal is too small, a line saying so.  The caller owns the
 * loop: it reads snapshots, tracks the daemon, and passes a status line.
 *
 * One ui per process (curses has one terminal).  ncp_mon_ui_new() takes
 * over the terminal; ncp_mon_ui_free() gives it back as it was.
 */
#ifndef NCP_MON_UI_H
#define NCP_MON_UI_H

#include <stdbool.h>
#include <stddef.h>

#include "client/ncp_mon_snap.h"

struct ncp_mon_ui;

enum ncp_mon_ui_tone {
	NCP_MON_UI_INFO = 0,
	NCP_MON_UI_WARN = 1,
	NCP_MON_UI_ERROR = 2,
};

/* What the caller knows beyond the snapshot. */
struct ncp_mon_ui_status {
	const char *shm_name;
	const char *daemon;        /* the daemon's state in a word ("running",
				    * "stopped", "gone"); NULL: the header's */
	const char *message;       /* shown in the title line; NULL: none */
	enum ncp_mon_ui_tone tone; /* of the message */
	double steps_per_s;        /* measured by the monitor; NaN: not yet */
	bool held;                 /* the display is held (space) */
};

/* Take over the terminal on standard input and output.  NULL (with a
 * message in err) when they are not a usable terminal. */
struct ncp_mon_ui *ncp_mon_ui_new(char *err, size_t errlen);

/* Restore the terminal.  NULL is a no-op. */
void ncp_mon_ui_free(struct ncp_mon_ui *ui);

/* Draw one frame.  snap may be NULL (nothing attached yet). */
void ncp_mon_ui_draw(struct ncp_mon_ui *ui, const struct ncp_mon_snap *snap,
		     const struct ncp_mon_ui_status *st);

/* Wait up to timeout_ms for a key; the key (curses code, KEY_RESIZE after
 * a resize) or -1 when none came or a signal interrupted the wait. */
int ncp_mon_ui_key(struct ncp_mon_ui *ui, int timeout_ms);

/* Switch the workspace between the reaching workspace (ncp_mon_zoom) and
 * the whole arm. */
void ncp_mon_ui_toggle_zoom(struct ncp_mon_ui *ui);

/* Zoom the reaching workspace in (d > 0) or out (d < 0) a level, or back
 * to its default (d 0). */
void ncp_mon_ui_zoom(struct ncp_mon_ui *ui, int d);

/* Switch the electrode bars between alpha (the default) and theta. */
void ncp_mon_ui_toggle_stim(struct ncp_mon_ui *ui);

/* Repaint the whole terminal at the next draw (after garbage). */
void ncp_mon_ui_repaint(struct ncp_mon_ui *ui);

#endif
