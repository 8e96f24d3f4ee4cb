/* Writes what the numpy cross-check of the co-processor needs
 * (tests/it_cpn.sh, tests/cpn_forward.py): a CPN whose normalisation and
 * weights were fitted and trained on made-up data, observations, and the
 * theta ncpd's step computes for each.
 *
 * usage: fixture_cpn_dump OUTDIR HIDDEN [STEPS [SEED]]
 *
 * OUTDIR/cpn.safetensors  E = 16, R = 16, hidden layers HIDDEN ("none",
 *                         "8" or "8,8")
 * OUTDIR/obs.npy          STEPS x 22 float32
 * OUTDIR/theta.npy        STEPS x 16 float32: ncp_cpn_state_step's theta,
 *                         from the saved file loaded back, one state from
 *                         step 0
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_rng.h"
#include "models/emu/ncp_cpn.h"
#include "models/io/ncp_npy.h"

static int fail(const char *what, const char *err)
{
	fprintf(stderr, "fixture_cpn_dump: %s: %s\n", what, err);
	return 1;
}

int main(int argc, char **argv)
{
	const int E = 16, R = 16, NO = NCP_CPN_OBS(16);
	struct ncp_cpn_spec s;
	struct ncp_cpn_train_opts o;
	struct ncp_cpn_data d;
	struct ncp_cpn_ref ref = { { { 0.5 }, { 0, 0.5 } }, 1 };
	struct ncp_rng rng;
	char err[512], path[4096];
	int steps = argc > 3 ? atoi(argv[3]) : 500;
	uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;
	double loss;

	if (argc < 3 || steps < 1)
		return fail("usage", "fixture_cpn_dump OUTDIR HIDDEN [STEPS [SEED]]");
	ncp_cpn_spec_default(&s);
	s.electrodes = E;
	s.rec = R;
	if (strcmp(argv[2], "none"))
		s.nhidden = sscanf(argv[2], "%d,%d", &s.hidden[0], &s.hidden[1]);
	struct ncp_cpn_model *m = ncp_cpn_model_new(&s, seed, err, sizeof(err));
	if (!m)
		return fail("model", err);
	if (ncp_cpn_data_init(&d, R, E, 2000))
		return fail("data", "out of memory");
	ncp_rng_seed(&rng, seed);
	float *obs = calloc((size_t)steps * NO, sizeof(float));
	float *theta = calloc((size_t)steps * E, sizeof(float));
	for (int k = 0; k < 2000; k++) {
		float ob[NCP_CPN_OBS(16)], al[16], tg[2], fut[6] = { 0 };
		for (int i = 0; i < NO; i++)
			ob[i] = (float)(i < R ? 30 + 20 * ncp_rng_normal(&rng)
					      : 0.3 * ncp_rng_normal(&rng));
		for (int e = 0; e < E; e++)
			al[e] = (float)(3 * ncp_rng_normal(&rng));
		tg[0] = (float)ncp_rng_normal(&rng) * 0.1f;
		tg[1] = (float)ncp_rng_normal(&rng) * 0.1f;
		fut[4] = ob[R + 4] + 0.01f * al[0];
		fut[5] = ob[R + 5] + 0.01f * al[1];
		ncp_cpn_data_add(&d, ob, al, tg, fut, NCP_CPN_SRC_NOISE);
	}
	ncp_cpn_train_opts_default(&o);
	o.en_epochs = 3;
	o.cpn_lr = 0.05;	/* large steps: weights far from the start */
	struct ncp_cpn_trainer *t = ncp_cpn_trainer_new(m, &o, err, sizeof(err));
	if (!t)
		return fail("trainer", err);
	ncp_cpn_trainer_set_ref(t, &ref);
	if (ncp_cpn_trainer_fit_norm(t, &d) || ncp_cpn_trainer_en_train(t, &d, &loss))
		return fail("trainer", "EN training failed");
	for (int ep = 0; ep < 3; ep++)
		if (ncp_cpn_trainer_cpn_epoch(t, &d, &loss))
			return fail("trainer", "CPN epoch failed");
	snprintf(path, sizeof(path), "%s/cpn.safetensors", argv[1]);
	if (ncp_cpn_model_save(ncp_cpn_trainer_model(t), path, err, sizeof(err)))
		return fail(path, err);
	struct ncp_cpn_model *back = ncp_cpn_model_load(path, NULL, err, sizeof(err));
	if (!back)
		return fail(path, err);
	struct ncp_cpn_state *st = ncp_cpn_state_new(back);
	for (int k = 0; k < steps; k++) {
		float *ob = obs + (size_t)k * NO;
		for (int i = 0; i < NO; i++)
			ob[i] = (float)(i < R ? 30 + 40 * ncp_rng_normal(&rng)
					      : 0.6 * ncp_rng_normal(&rng));
		ncp_cpn_state_step(st, ob, theta + (size_t)k * E);
	}
	struct ncp_npy_header h = { .dtype = NCP_NPY_F32, .ndim = 2,
				    .shape = { (uint64_t)steps, (uint64_t)NO } };
	snprintf(path, sizeof(path), "%s/obs.npy", argv[1]);
	if (ncp_npy_write(path, &h, obs))
		return fail(path, "write failed");
	h.shape[1] = (uint64_t)E;
	snprintf(path, sizeof(path), "%s/theta.npy", argv[1]);
	if (ncp_npy_write(path, &h, theta))
		return fail(path, "write failed");
	ncp_cpn_state_free(st);
	ncp_cpn_model_free(back);
	ncp_cpn_trainer_free(t);
	ncp_cpn_model_free(m);
	ncp_cpn_data_fini(&d);
	free(obs);
	free(theta);
	return 0;
}
