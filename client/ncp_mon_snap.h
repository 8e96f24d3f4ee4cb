/* ncp_mon_snap: one consistent look at ncpd's segment, kept by the
 * monitor.
 *
 * A snapshot holds copies of everything ncp-monitor shows: the state,
 * statistics, prediction and stim blocks, the newest M1 window, the newest arm
 * history (the hand's trace) and the newest training updates.  Reading
 * is lock-free through ncp_shm_reader; a part whose read races the
 * writer keeps its previous copy (and the read reports -EAGAIN), so a
 * display always has something whole to draw, and the last picture
 * survives the daemon.
 *
 * The snapshot owns its buffers, sized from the segment header at
 * ncp_mon_snap_init(); never touches the segment itself.
 */
#ifndef NCP_MON_SNAP_H
#define NCP_MON_SNAP_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "models/base/ncp_json.h"
#include "shm/ncp_ring.h"
#include "shm/ncp_shm.h"
#include "shm/ncp_shm_reader.h"

/* A prediction older than this (simulated seconds behind the state) is
 * not shown. */
#define NCP_MON_SNAP_PRED_MAX_AGE 0.25

/* The arm's link lengths, m (upper arm, forearm), where the segment does
 * not carry them (writers before ABI 1.2): REACH's.  The shoulder is at
 * the origin. */
#define NCP_MON_SNAP_L0 1.5
#define NCP_MON_SNAP_L1 1.3

struct ncp_mon_snap {
	char name[256];              /* segment name */
	struct ncp_shm_header hdr;   /* as validated at attach */
	uint32_t state_word;         /* header state at the last read */

	bool have_state, have_stats, have_pred;
	struct ncp_shm_state state;
	struct ncp_shm_stats stats;
	struct ncp_shm_predicted pred;
	/* The stim block (ABI 1.3): theta and alpha of its electrodes and
	 * the lesion; read it through ncp_mon_snap_stim(). */
	bool have_stim;
	_Alignas(8) unsigned char stim_buf[NCP_SHM_STIM_MAX_SIZE];
	/* The co-processor block (ABI 1.4). */
	bool have_ncp;
	struct ncp_shm_ncp ncp;

	/* The newest window: win_span.count slot copies, oldest first,
	 * win_stride bytes apart (ncp_shm_win_at). */
	void *win;
	size_t win_stride;
	uint32_t win_cap;
	struct ncp_ring_span win_span;

	/* The newest arm history entries, oldest first. */
	struct ncp_shm_arm_entry *arm;
	uint32_t arm_cap;
	struct ncp_ring_span arm_span;

	/* The newest training updates, oldest first. */
	struct ncp_shm_train_entry *train;
	uint32_t train_cap;
	struct ncp_ring_span train_span;
};

/* Size a snapshot for the segment whose header is h, named `name`:
 * the whole window, up to arm_max arm history entries and up to
 * train_max training entries (each capped by its ring).  Returns 0 or
 * -ENOMEM.  The snapshot starts empty. */
int ncp_mon_snap_init(struct ncp_mon_snap *s, const struct ncp_shm_header *h,
		      const char *name, uint32_t arm_max, uint32_t train_max);
void ncp_mon_snap_fini(struct ncp_mon_snap *s);

/* Copy everything from the segment.  Returns 0 when every part was read
 * (the prediction and training parts may be absent: have_pred false,
 * train_span.count 0), -ENODATA when the loop has not published a state
 * yet, -EAGAIN when some read raced the writer (those parts keep their
 * previous copies; try again). */
int ncp_mon_snap_read(struct ncp_mon_snap *s, const struct ncp_shm_reader *r);

/* The prediction is there, a model is loaded and it is at most
 * NCP_MON_SNAP_PRED_MAX_AGE behind the state. */
bool ncp_mon_snap_pred_fresh(const struct ncp_mon_snap *s);

/* The segment's arm joints J (2, or 3 from a 3-joint writer; 2 when s
 * is NULL). */
int ncp_mon_snap_joints(const struct ncp_mon_snap *s);
/* Forward kinematics: the positions (m) of the elbow, (the wrist) and the
 * hand for the J joint angles q (rad) with the segment's links (REACH's
 * defaults above when it does not carry them, or s is NULL); returns J. */
int ncp_mon_snap_arm(const struct ncp_mon_snap *s, const double *q,
		     double pts[3][2]);
/* The same, elbow and hand only.  Either output may be NULL. */
void ncp_mon_snap_fk(const struct ncp_mon_snap *s, const double *q,
		     double elbow[2], double hand[2]);

/* The stim block (theta = v[0 .. E-1], alpha = v[E .. 2E-1]), or NULL
 * (a writer older than ABI 1.3, or not written yet). */
const struct ncp_shm_stim *ncp_mon_snap_stim(const struct ncp_mon_snap *s);

/* Bars of the electrodes for a chart `cols` columns wide: out[c] in
 * [-1, 1] is the value (alpha when `alpha`, else theta) of largest
 * magnitude among the electrodes e with floor(e * cols / E) == c, over
 * the block's bound max (clipped to +-1; 0 when max is 0).  Returns the
 * columns filled: min(E, cols). */
int ncp_mon_snap_electrode_bars(const struct ncp_shm_stim *b, bool alpha,
				int cols, double *out);

/* The newest training entry, or NULL. */
const struct ncp_shm_train_entry *
ncp_mon_snap_train_last(const struct ncp_mon_snap *s);

/* Names of the enumerations as JSON and the text output write them. */
const char *ncp_mon_snap_mode_name(uint32_t mode);
const char *ncp_mon_snap_task_name(uint32_t kind);
const char *ncp_mon_snap_state_name(uint32_t state_word);
const char *ncp_mon_snap_lesion_name(uint32_t kind);
/* The co-processor in words: "on cpn-7, theta from step 1234 in 4.1 us,
 * recovery 87.5% (11.2 / 141.7 / 27.4 mm)", or "none" without a block. */
void ncp_mon_snap_ncp_text(const struct ncp_mon_snap *s, char *out,
			   size_t len);
/* The lesion in words ("none", "pmc-m1: 50% of M1, 500 neurons"). */
void ncp_mon_snap_lesion_text(const struct ncp_shm_stim *b, char *out,
			      size_t len);

/* The snapshot as one JSON object (docs/monitor.md lists the keys). */
void ncp_mon_snap_json(const struct ncp_mon_snap *s, struct ncp_json *j);

/* The same as text for people, a field per line. */
void ncp_mon_snap_text(const struct ncp_mon_snap *s, FILE *f);

#endif
