/* Writes a co-processor network file for the daemon's tests: a new CPN
 * (weights from SEED, no training) for E stimulation and R recording
 * electrodes at the default dt and stim.max.
 *
 * usage: fixture_cpn_file OUT E R [SEED [ALPHA_MAX]]
 */
#include <stdio.h>
#include <stdlib.h>

#include "models/emu/ncp_cpn.h"

int main(int argc, char **argv)
{
	struct ncp_cpn_spec s;
	char err[512];

	if (argc < 4 || argc > 6) {
		fprintf(stderr, "usage: fixture_cpn_file OUT E R [SEED [ALPHA_MAX]]\n");
		return 2;
	}
	ncp_cpn_spec_default(&s);
	s.electrodes = atoi(argv[2]);
	s.rec = atoi(argv[3]);
	s.dt = 0.001;
	s.stim_max = 20;
	if (argc > 5)
		s.alpha_max = atof(argv[5]);
	struct ncp_cpn_model *m = ncp_cpn_model_new(&s, argc > 4 ?
						    strtoull(argv[4], NULL, 0) : 1,
						    err, sizeof(err));
	if (!m || ncp_cpn_model_save(m, argv[1], err, sizeof(err))) {
		fprintf(stderr, "fixture_cpn_file: %s\n", err);
		return 1;
	}
	ncp_cpn_model_free(m);
	return 0;
}
