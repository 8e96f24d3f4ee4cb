/* Replays the simulation ncpd runs for a configuration, without the
 * daemon, and prints the M1 spikes of steps [FIRST, FIRST + COUNT) as JSON
 * lists of neuron indices: what the daemon's own window held then.
 *
 * usage: fixture_sim_spikes FIRST COUNT [--set KEY=VALUE ...]
 * (configuration: config/ncpd.yaml of the working directory, then the
 * overrides, as ncpd reads them). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fixture_sim.h"

int main(int argc, char **argv)
{
	struct ncp_config c;
	struct ncp_sim sim;

	if (argc < 3) {
		fprintf(stderr, "usage: %s FIRST COUNT [--set KEY=VALUE ...]\n",
			argv[0]);
		return 2;
	}
	uint64_t first = strtoull(argv[1], NULL, 10);
	uint64_t count = strtoull(argv[2], NULL, 10);
	int ret = fixture_sim_init(&sim, &c, argc, argv, 3);
	if (ret)
		return ret;
	printf("[");
	for (uint64_t s = 0; s < first + count; s++) {
		ncp_sim_step(&sim);
		if (s < first)
			continue;
		printf("%s[", s > first ? "," : "");
		for (int k = 0; k < sim.n_spikes; k++)
			printf("%s%u", k ? "," : "", sim.spikes[k]);
		printf("]");
	}
	printf("]\n");
	ncp_sim_fini(&sim);
	return 0;
}
