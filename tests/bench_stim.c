/* make bench: what stimulating M1 does (docs/stimulation.md).  A constant
 * theta on one electrode, 300 ms from rest at the workspace centre, in a
 * counterfactual pair (the same run without it): M1's firing rates by
 * distance from the electrode, and the hand's displacement after 200 ms.
 * One JSON line per electrode amplitude. */
#include <stdio.h>

#include <cblas.h>

#include "tests/stim_lib.h"

int main(void)
{
	static const float thetas[] = { 0.1f, 0.2f, 0.4f };
	struct ncp_config c;
	char err[256];

	openblas_set_num_threads(1);
	ncp_config_defaults(&c);
	int e = c.reach.stim.electrodes / 2;
	for (size_t k = 0; k < sizeof(thetas) / sizeof(thetas[0]); k++) {
		struct stim_footprint f;
		if (stim_footprint_run(&c, e, thetas[k], 300, 200, &f, err,
				       sizeof(err))) {
			fprintf(stderr, "bench_stim: %s\n", err);
			return 1;
		}
		printf("{\"bench\":\"stim_footprint\",\"electrodes\":%d,"
		       "\"electrode\":%d,\"spread\":%g,\"layout\":\"%s\","
		       "\"theta\":%g,\"alpha_end\":%.3f,\"hand_disp_200ms_mm\":%.2f,"
		       "\"rates_by_distance\":[",
		       c.reach.stim.electrodes, e, c.reach.stim.spread,
		       ncp_stim_layout_names[c.reach.stim.layout], thetas[k],
		       f.alpha, f.hand_disp * 1e3);
		for (int b = 0; b < STIM_BINS; b++)
			printf("%s{\"spreads_from\":%g,\"neurons\":%d,"
			       "\"hz_without\":%.2f,\"hz_with\":%.2f}", b ? "," : "",
			       b ? stim_bin_edge[b - 1] : 0.0, f.count[b],
			       f.rate0[b], f.rate1[b]);
		printf("]}\n");
	}
	return 0;
}
