/* How well x_des is decoded from the recording electrodes over the
 * planning ensemble (docs/coprocessor.md): ridge fitted on random reaches
 * of task seed 1, held-out R^2 on task seed 2, for R = 8, 16, 32, two
 * spreads, topographic and random layouts, network seeds 0 and 1; the
 * 16 electrodes, spread 0.05 with lowpass tau 0.005, 0.01, 0.02, 0.05,
 * 0.1 s;
 * then
 * the default layout with the S1 arm state appended, and under a pmc-m1
 * lesion of fraction 1.  One JSON object per line.
 *
 *   build/tests/bench_rec_decode [train_s [test_s]]   (default 120 60)
 */
#include <stdio.h>
#include <stdlib.h>

#include "models/reach/ncp_stim.h"
#include "tests/rec_lib.h"

/* OpenBLAS's (its cblas.h clashes with GSL's, which rec_lib.h takes). */
void openblas_set_num_threads(int n);

int main(int argc, char **argv)
{
	static const int Rs[] = { 8, 16, 32 };
	static const double spreads[] = { 0.05, 0.15 };
	double train_s = argc > 1 ? atof(argv[1]) : 120.0;
	double test_s = argc > 2 ? atof(argv[2]) : 60.0;
	struct ncp_rec_params conf[REC_MAX_CONF];
	char err[256];
	int nconf = 0;

	if (!(train_s >= 1 && test_s >= 1)) {
		fprintf(stderr, "bench_rec_decode: train and test seconds must "
			"be numbers >= 1\n");
		return 2;
	}
	openblas_set_num_threads(1);
	for (int l = 0; l < 2; l++)
		for (size_t s = 0; s < 2; s++)
			for (size_t k = 0; k < 3; k++) {
				struct ncp_rec_params *p = &conf[nconf++];
				ncp_rec_params_default(p);
				p->electrodes = Rs[k];
				p->spread = spreads[s];
				p->layout = l ? NCP_STIM_RANDOM
					      : NCP_STIM_TOPOGRAPHIC;
			}
	/* 16 electrodes, spread 0.05, other lowpass time constants, both
	 * layouts. */
	static const double taus[] = { 0.005, 0.01, 0.02, 0.05, 0.1 };
	for (int l = 0; l < 2; l++)
		for (size_t k = 0; k < 5; k++) {
			struct ncp_rec_params *p = &conf[nconf++];
			ncp_rec_params_default(p);
			p->layout = l ? NCP_STIM_RANDOM : NCP_STIM_TOPOGRAPHIC;
			p->spread = 0.05;
			p->electrodes = 16;
			p->tau = taus[k];
		}
	/* The configured default, last: with the arm, and under a lesion. */
	ncp_rec_params_default(&conf[nconf++]);
	const int def = nconf - 1;
	for (uint64_t seed = 0; seed < 2; seed++) {
		for (int lesioned = 0; lesioned < 2; lesioned++) {
			struct rec_run tr, te;
			double les = lesioned ? 1.0 : 0.0;
			if (rec_run_collect(&tr, seed, 1, train_s, les, conf,
					    nconf, err, sizeof(err)) ||
			    rec_run_collect(&te, seed, 2, test_s, les, conf,
					    nconf, err, sizeof(err))) {
				fprintf(stderr, "bench_rec_decode: %s\n", err);
				return 1;
			}
			for (int c = 0; c < nconf; c++) {
				if (lesioned && c != def)
					continue;
				for (int arm = 0; arm < 2; arm++) {
					if (arm && c != def)
						continue;
					printf("{\"bench\":\"rec_decode\","
					       "\"net_seed\":%llu,\"layout\":"
					       "\"%s\",\"electrodes\":%d,"
					       "\"spread\":%g,\"tau\":%g,"
					       "\"arm_state\":%s,\"lesion\":"
					       "\"%s\",\"train_s\":%g,"
					       "\"test_s\":%g,\"r2\":%.4f}\n",
					       (unsigned long long)seed,
					       ncp_stim_layout_names[conf[c].layout],
					       conf[c].electrodes,
					       conf[c].spread, conf[c].tau,
					       arm ? "true" : "false",
					       lesioned ? "pmc-m1 1" : "none",
					       train_s, test_s,
					       rec_decode_r2(&tr, &te, c, arm));
					fflush(stdout);
				}
			}
			rec_run_free(&tr);
			rec_run_free(&te);
		}
	}
	return 0;
}
