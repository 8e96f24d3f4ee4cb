/* A reader that follows ncpd's window as an emulator would: every
 * millisecond it snapshots the newest window (100 steps) and checks the
 * steps are consecutive.  Stops when the daemon stops; prints how many
 * snapshots it took.
 *
 * usage: fixture_shm_follow NAME */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shm/ncp_shm_reader.h"

int main(int argc, char **argv)
{
	char err[256];
	struct ncp_shm_reader *r = NULL;
	const char *name = argc > 1 ? argv[1] : "/ncpd";
	struct timespec ts = { 0, 1000000 };

	for (int i = 0; i < 200 && !r; i++) {
		r = ncp_shm_reader_open(name, err, sizeof(err));
		if (!r)
			nanosleep(&(struct timespec){ 0, 50000000 }, NULL);
	}
	if (!r) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	size_t stride = ncp_shm_reader_window_stride(r);
	void *buf = malloc(stride * 100);
	uint64_t snaps = 0, bad = 0, again = 0;
	int tick = 0;
	for (;;) {
		struct ncp_ring_span span;
		int ret = ncp_shm_reader_window(r, 100, buf, stride * 100, &span);
		if (ret == 0) {
			snaps++;
			for (uint32_t i = 0; i < span.count; i++)
				if (ncp_shm_win_at(buf, stride, i)->step != span.first + i)
					bad++;
		} else if (ret == -EAGAIN) {
			again++;
		}
		if (++tick % 200 == 0 &&
		    ncp_shm_reader_liveness(r) != NCP_SHM_LIVE)
			break;
		nanosleep(&ts, NULL);
	}
	printf("{\"snapshots\":%llu,\"lapped\":%llu,\"bad\":%llu}\n",
	       (unsigned long long)snaps, (unsigned long long)again,
	       (unsigned long long)bad);
	free(buf);
	ncp_shm_reader_free(r);
	return bad ? 1 : 0;
}
