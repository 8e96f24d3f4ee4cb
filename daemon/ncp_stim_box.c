#include "daemon/ncp_stim_box.h"

#include <string.h>

#include "shm/ncp_seqlock.h"

_Static_assert(sizeof(struct ncp_stim_msg) % 8 == 0,
	       "a seqlock block is whole 8-byte words");

void ncp_stim_box_init(struct ncp_stim_box *b)
{
	memset(b, 0, sizeof(*b));
}

void ncp_stim_box_post(struct ncp_stim_box *b, const float *theta, int n,
		       bool hold)
{
	struct ncp_stim_msg m;
	memset(&m, 0, sizeof(m));
	m.serial = ++b->posted;
	m.n = (uint32_t)n;
	m.hold = hold;
	memcpy(m.theta, theta, sizeof(float) * (size_t)n);
	/* The seqlock's release stores publish the message; they pair with
	 * the acquire loads in ncp_stim_box_take(). */
	ncp_seqlock_write(&b->block, &m, sizeof(m));
}

const struct ncp_stim_msg *ncp_stim_box_take(struct ncp_stim_box *b)
{
	/* Acquire: pairs with the final release store of the sequence word
	 * in ncp_seqlock_write() (ncp_stim_box_post). */
	uint64_t seq = ncp_seqlock_read_begin(&b->block);
	if (seq == 0 || (seq & 1))
		return NULL;	/* never written, or a write in progress */
	/* Acquire loads of each word: pair with the writer's release stores
	 * of them; a copy that raced is thrown away below. */
	ncp_seqlock_read_copy(&b->block, &b->msg, sizeof(b->msg));
	if (ncp_seqlock_read_retry(&b->block, seq))
		return NULL;
	if (b->msg.serial == b->taken)
		return NULL;	/* nothing new */
	b->taken = b->msg.serial;
	return &b->msg;
}
