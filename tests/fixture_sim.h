/* The simulation ncpd runs for a configuration, without the daemon: the
 * fixtures' shared set-up.  config/ncpd.yaml of the working directory,
 * then `--set KEY=VALUE` pairs from argv[first] on, as ncpd reads them;
 * one BLAS thread.  Returns 0, or the exit status for main (1: bad
 * configuration or build, 2: bad argument) after printing why. */
#ifndef NCP_FIXTURE_SIM_H
#define NCP_FIXTURE_SIM_H

#include <stdio.h>
#include <string.h>

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_blas.h"

static inline int fixture_sim_init(struct ncp_sim *sim, struct ncp_config *c,
				   int argc, char **argv, int first)
{
	char err[512];

	ncp_blas_pick_core(argv);	/* OpenBLAS's kernels as ncpd's */
	openblas_set_num_threads(1);
	ncp_config_defaults(c);
	if (ncp_config_load_file(c, "config/ncpd.yaml", err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	for (int i = first; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--set") ||
		    ncp_config_set(c, argv[i + 1], err, sizeof(err))) {
			fprintf(stderr, "bad argument %s %s: %s\n", argv[i],
				argv[i + 1], err);
			return 2;
		}
	}
	if (ncp_sim_init(sim, c, 16, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	return 0;
}

#endif
