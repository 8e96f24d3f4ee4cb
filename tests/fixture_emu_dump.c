/* Writes what the numpy cross-check of the emulator needs (tests/
 * it_emu_numpy.sh): a model of an architecture, a spike history with
 * stimulation, and ncpd's predictions for every step of it.
 *
 * usage: fixture_emu_dump ARCH[+arm] OUTDIR [STEPS [SEED]]
 *        fixture_emu_dump --run MODEL RECORDING OUTDIR
 *
 * ARCH+arm: the model has the arm-state input (fed, after each step, the
 * made-up arm state of that step: the next step's input).
 *
 * OUTDIR/model.safetensors  a default-sized model of ARCH, its
 *                           normalisation fitted on the history and its
 *                           weights moved by a few Adam steps
 * OUTDIR/spikes.npy         STEPS x neurons uint8
 * OUTDIR/stim.npy           STEPS x stim_channels float32
 * OUTDIR/pred.npy           STEPS x 6 float32: ncp_emu_predict after each
 *                           step, from the saved file loaded back
 * OUTDIR/arm.npy            STEPS x 6 float32: the arm state after each
 *                           step (made up)
 *
 * With --run: the same .npy files for MODEL run over a recording
 * with the recording's stimulation (its stim.npy in the model's first
 * channels; none in a recording without it) and, for a model with the
 * arm-state input, its arm states (arm.npy is the recording's).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_dataset.h"
#include "models/emu/ncp_emu.h"
#include "models/emu/ncp_trainer.h"
#include "models/io/ncp_npy.h"
#include "models/io/ncp_recording.h"

static int fail(const char *what, const char *err)
{
	fprintf(stderr, "fixture_emu_dump: %s: %s\n", what, err);
	return 1;
}

static int write_npys(const char *dir, const void *x, const float *u,
		      const float *pred, const float *arm, uint64_t steps,
		      int N, int C)
{
	char path[4096];
	struct ncp_npy_header h = {.dtype = NCP_NPY_U8, .ndim = 2,
				   .shape = {steps, (uint64_t)N}};
	snprintf(path, sizeof(path), "%s/spikes.npy", dir);
	if (ncp_npy_write(path, &h, x))
		return fail(path, "write failed");
	h.dtype = NCP_NPY_F32;
	h.shape[1] = (uint64_t)C;
	snprintf(path, sizeof(path), "%s/stim.npy", dir);
	if (ncp_npy_write(path, &h, u))
		return fail(path, "write failed");
	h.shape[1] = 6;
	snprintf(path, sizeof(path), "%s/pred.npy", dir);
	if (ncp_npy_write(path, &h, pred))
		return fail(path, "write failed");
	snprintf(path, sizeof(path), "%s/arm.npy", dir);
	if (ncp_npy_write(path, &h, arm))
		return fail(path, "write failed");
	return 0;
}

/* A trained model over a recording. */
static int run_recording(const char *model, const char *recdir, const char *out)
{
	char err[1024];
	struct ncp_emu_model *m = ncp_emu_model_load(model, err, sizeof(err));
	if (!m)
		return fail("load", err);
	struct ncp_recording *r = ncp_recording_open(recdir, err, sizeof(err));
	if (!r)
		return fail("recording", err);
	const int N = r->neurons, C = ncp_emu_model_stim_channels(m);
	uint8_t *x = calloc(r->steps * (uint64_t)N, 1);
	float *u = calloc(r->steps * (uint64_t)NCP_MAX(C, 1), sizeof(float));
	float *pred = calloc(r->steps * 6, sizeof(float));
	uint32_t *idx = calloc((size_t)N, sizeof(uint32_t));
	float *th = calloc((size_t)NCP_MAX(r->stim_channels, 1), sizeof(float));
	struct ncp_emu_state *st = ncp_emu_state_new(m);
	if (!x || !u || !pred || !idx || !th || !st)
		return fail("memory", "out of memory");
	if (r->stim_channels > C)
		return fail(recdir, "more stimulation electrodes than the model has channels");
	for (uint64_t s = 0; s < r->steps; s++) {
		int n = ncp_recording_spikes(r, s, idx);
		int ns = ncp_recording_stim(r, s, th);
		for (int i = 0; i < n; i++)
			x[s * (uint64_t)N + idx[i]] = 1;
		for (int c = 0; c < ns; c++)
			u[s * (uint64_t)C + (uint64_t)c] = th[c];
		ncp_emu_push(st, idx, n, ns ? th : NULL, ns);
		ncp_emu_predict(st, pred + s * 6);
		ncp_emu_set_arm(st, r->arm + s * 6);	/* the next step's input */
	}
	int ret = write_npys(out, x, u, pred, r->arm, r->steps, N, C);
	ncp_emu_state_free(st);
	ncp_recording_close(r);
	ncp_emu_model_free(m);
	free(x);
	free(u);
	free(pred);
	free(idx);
	free(th);
	return ret;
}

int main(int argc, char **argv)
{
	struct ncp_emu_spec sp;
	enum ncp_emu_arch arch;
	struct ncp_rng rng;
	char err[1024], path[4096];
	int steps = argc > 3 ? atoi(argv[3]) : 1500;
	uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 10) : 1;

	if (argc == 5 && !strcmp(argv[1], "--run")) {
		openblas_set_num_threads(1);
		return run_recording(argv[2], argv[3], argv[4]);
	}
	char aname[64] = "";
	bool with_arm = false, residual = false;
	if (argc >= 3) {
		snprintf(aname, sizeof(aname), "%s", argv[1]);
		char *plus = strstr(aname, "+arm");
		char *res = strstr(aname, "+res");
		if (plus && !plus[4]) {
			*plus = 0;
			with_arm = true;
		} else if (res && !res[4]) {
			*res = 0;
			with_arm = residual = true;
		}
	}
	if (argc < 3 || ncp_emu_arch_parse(aname, &arch) || steps < 200) {
		fprintf(stderr, "usage: %s ARCH[+arm|+res] OUTDIR [STEPS [SEED]]\n", argv[0]);
		return 2;
	}
	openblas_set_num_threads(1);
	ncp_emu_spec_default(&sp, arch);
	sp.arm_input = with_arm;
	sp.residual = residual;
	const int N = sp.neurons, C = sp.stim;
	uint8_t *x = calloc((size_t)steps * (size_t)N, 1);
	float *u = calloc((size_t)steps * (size_t)C, sizeof(float));
	float *arm = calloc((size_t)steps * 6, sizeof(float));
	float *pred = calloc((size_t)steps * 6, sizeof(float));
	double *rate = calloc((size_t)N, sizeof(double));
	uint32_t *idx = calloc((size_t)N, sizeof(uint32_t));
	uint64_t *rows = calloc((size_t)steps, sizeof(uint64_t));
	if (!x || !u || !arm || !pred || !rate || !idx || !rows)
		return fail("memory", "out of memory");

	/* M1-like activity: rates spread from silent to 80 Hz (about 15
	 * spikes a step), some neurons almost silent; stimulation in bursts
	 * on a few channels; a made-up arm state to fit normalisations to. */
	ncp_rng_seed(&rng, seed);
	for (int n = 0; n < N; n++) {
		double r = ncp_rng_uniform(&rng);
		rate[n] = n % 25 == 0 ? 0.0002 : 0.03 * r * r;
	}
	for (int s = 0; s < steps; s++) {
		for (int n = 0; n < N; n++)
			x[(size_t)s * N + n] = ncp_rng_uniform(&rng) < rate[n];
		if (C && (s / 50) % 3 == 1)
			for (int c = 0; c < C; c += 5)
				u[(size_t)s * C + c] = (float)ncp_rng_range(&rng, -2, 2);
		/* (Faster with the arm-state input: a step's arm then
		 * differs from the one before by more than the check's
		 * tolerance, so that reading the wrong step shows.) */
		for (int o = 0; o < 6; o++)
			arm[s * 6 + o] = (float)(o + sin(s * (with_arm ? 0.05 : 0.003) * (o + 1)));
	}

	/* The model: normalisation from the history, a few Adam steps. */
	struct ncp_dataset *ds = ncp_dataset_new(N, C);
	for (int s = 0; s < steps; s++) {
		int n = 0;
		for (int i = 0; i < N; i++)
			if (x[(size_t)s * N + i])
				idx[n++] = (uint32_t)i;
		if (ncp_dataset_append(ds, idx, n, u + (size_t)s * C, C, arm + s * 6))
			return fail("dataset", "append failed");
	}
	size_t nrows = 0;
	for (int s = sp.window - 1; s < steps; s++)
		rows[nrows++] = (uint64_t)s;
	struct ncp_emu_model *m0 = ncp_emu_model_new(&sp, seed, err, sizeof(err));
	if (!m0)
		return fail("model", err);
	struct ncp_trainer_opts to;
	ncp_trainer_opts_default(&to);
	to.batch = 32;
	to.lr = 1e-3;
	struct ncp_trainer *tr = ncp_trainer_new(m0, ds, &to, err, sizeof(err));
	if (!tr)
		return fail("trainer", err);
	if (ncp_trainer_fit_norm(tr, rows, nrows, 1.0))
		return fail("trainer", "normalisation failed");
	for (int k = 0; k < 5; k++) {
		uint64_t b[32];
		double loss;
		for (int i = 0; i < 32; i++)
			b[i] = rows[ncp_rng_below(&rng, nrows)];
		if (ncp_trainer_step(tr, b, 32, &loss))
			return fail("trainer", "step failed");
	}
	if (ncp_trainer_export(tr, m0))
		return fail("trainer", "export failed");
	snprintf(path, sizeof(path), "%s/model.safetensors", argv[2]);
	if (ncp_emu_model_save(m0, path, err, sizeof(err)))
		return fail("save", err);

	/* Predictions from the file, step by step. */
	struct ncp_emu_model *m = ncp_emu_model_load(path, err, sizeof(err));
	if (!m)
		return fail("load", err);
	struct ncp_emu_state *st = ncp_emu_state_new(m);
	if (!st)
		return fail("state", "out of memory");
	for (int s = 0; s < steps; s++) {
		int n = 0;
		for (int i = 0; i < N; i++)
			if (x[(size_t)s * N + i])
				idx[n++] = (uint32_t)i;
		ncp_emu_push(st, idx, n, u + (size_t)s * C, C);
		ncp_emu_predict(st, pred + s * 6);
		ncp_emu_set_arm(st, arm + s * 6);	/* the next step's input */
	}

	if (write_npys(argv[2], x, u, pred, arm, (uint64_t)steps, N, C))
		return 1;
	ncp_emu_state_free(st);
	ncp_emu_model_free(m);
	ncp_trainer_free(tr);
	ncp_emu_model_free(m0);
	ncp_dataset_free(ds);
	free(x);
	free(u);
	free(arm);
	free(pred);
	free(rate);
	free(idx);
	free(rows);
	return 0;
}
