/* ncp_stim_box: the mailbox through which electrode commands (theta)
 * reach the loop without it ever waiting.
 *
 * Contract:
 *  - One writer at a time: the loop has one box per writer (the control
 *    thread's `stim` commands; the co-processor's thetas, posted by
 *    whichever of its thread and the loop's fallback holds its state).
 *    ncp_stim_box_post() never waits: it is a seqlock write
 *    (shm/ncp_seqlock.h) of one message.
 *  - One reader, the loop, at each step boundary: ncp_stim_box_take()
 *    makes one attempt to copy the newest message and never retries or
 *    spins.  A message it missed because a write overlapped is taken at
 *    the next boundary.
 *  - A message is either held (theta applies at every step until the
 *    next message) or for one step (theta applies at the next step only;
 *    if no new message comes in time, theta is 0 and alpha decays).
 *    Only the newest message counts: messages posted between two step
 *    boundaries replace each other.
 */
#ifndef NCP_STIM_BOX_H
#define NCP_STIM_BOX_H

#include <stdbool.h>
#include <stdint.h>

#include "models/reach/ncp_stim.h"

/* The seqlock block: word 0 the sequence word, then the message. */
struct ncp_stim_msg {
	uint64_t seq;		/* the seqlock's word */
	uint64_t serial;	/* counts posts: 1, 2, ... */
	uint32_t n;		/* theta values */
	uint32_t hold;		/* 1: every step until replaced; 0: one step */
	float theta[NCP_STIM_MAX_ELECTRODES];
};

struct ncp_stim_box {
	_Alignas(64) struct ncp_stim_msg block;	/* shared */
	_Alignas(64) uint64_t posted;		/* writer's own */
	_Alignas(64) uint64_t taken;		/* reader's own */
	struct ncp_stim_msg msg;		/* reader's copy */
};

void ncp_stim_box_init(struct ncp_stim_box *b);
/* Writer: post n (<= NCP_STIM_MAX_ELECTRODES) values, checked by the
 * caller (ncp_stim_check_theta). */
void ncp_stim_box_post(struct ncp_stim_box *b, const float *theta, int n,
		       bool hold);
/* Reader (the loop): the newest message if it is new since the last
 * take, in one attempt.  NULL when there is none (or a write overlapped). */
const struct ncp_stim_msg *ncp_stim_box_take(struct ncp_stim_box *b);

#endif
