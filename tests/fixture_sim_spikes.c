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

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"

int main(int argc, char **argv)
{
	struct ncp_config c;
	struct ncp_sim sim;
	char err[512];

	if (argc < 3) {
		fprintf(stderr, "usage: %s FIRST COUNT [--set KEY=VALUE ...]\n",
			argv[0]);
		return 2;
	}
	uint64_t first = strtoull(argv[1], NULL, 10);
	uint64_t count = strtoull(argv[2], NULL, 10);
	openblas_set_num_threads(1);
	ncp_config_defaults(&c);
	if (ncp_config_load_file(&c, "config/ncpd.yaml", err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int i = 3; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--set") ||
		    ncp_config_set(&c, argv[i + 1], err, sizeof(err))) {
			fprintf(stderr, "bad argument %s %s: %s\n", argv[i],
				argv[i + 1], err);
			return 2;
		}
	}
	if (ncp_sim_init(&sim, &c, 16, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
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
