#include "daemon/ncp_follow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "models/base/ncp_base.h"

int ncp_follow_init(struct ncp_follow *f, const struct ncp_shm_reader *r,
		    double dt)
{
	memset(f, 0, sizeof(*f));
	f->reader = r;
	f->stride = ncp_shm_reader_window_stride(r);
	f->period = (int64_t)(dt * 1e9);
	f->slot = malloc(f->stride);
	return f->slot ? 0 : -ENOMEM;
}

void ncp_follow_fini(struct ncp_follow *f)
{
	free(f->slot);
	f->slot = NULL;
}

void ncp_follow_update(struct ncp_follow *f, uint64_t head)
{
	struct ncp_ring_span span = { 0 };

	if (head == 0 || head <= f->seen)
		return;
	f->seen = head;
	if (ncp_shm_reader_window_since(f->reader, head - 1, 1, f->slot,
					f->stride, &span) || span.count != 1)
		return;
	const struct ncp_shm_win_slot *ws = ncp_shm_win_at(f->slot, f->stride, 0);
	if (!ws->t_ns)
		return;
	f->off[f->n++ % NCP_FOLLOW_GRID_STEPS] =
		(int64_t)ws->t_ns - (int64_t)ws->step * f->period;
	uint32_t n = f->n < NCP_FOLLOW_GRID_STEPS ? f->n : NCP_FOLLOW_GRID_STEPS;
	for (uint32_t i = 0; i < n; i++)
		if (i == 0 || f->off[i] < f->grid)
			f->grid = f->off[i];
	f->have = true;
}

bool ncp_follow_watch(const struct ncp_follow *f, uint64_t head, uint64_t now,
		      uint64_t *wake)
{
	uint64_t due = (uint64_t)(f->grid + (int64_t)head * f->period);
	if (f->have && now + NCP_FOLLOW_LEAD_NS >= due &&
	    now < due + NCP_FOLLOW_SPIN_NS)
		return true;
	*wake = due - NCP_FOLLOW_LEAD_NS;
	if (!f->have || *wake <= now || *wake > now + 2 * (uint64_t)f->period)
		*wake = now + 20000;
	return false;
}

void ncp_follow_sleep(uint64_t wake)
{
	struct timespec ts = { (time_t)(wake / 1000000000u),
			       (long)(wake % 1000000000u) };
	clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

void ncp_retired_put(struct ncp_retired *r, void *old)
{
	if (!old)
		return;
	for (int i = 0; i < 2; i++) {
		void *none = NULL;
		/* Sequentially consistent: pairs with the exchange in
		 * ncp_retired_take that empties the place. */
		if (atomic_compare_exchange_strong(&r->place[i], &none, old))
			return;
	}
	ncp_assert(!"a third model retired between two offers");
}

void *ncp_retired_take(struct ncp_retired *r)
{
	for (int i = 0; i < 2; i++) {
		/* Pairs with the compare-exchange in ncp_retired_put. */
		void *m = atomic_exchange(&r->place[i], NULL);
		if (m)
			return m;
	}
	return NULL;
}
