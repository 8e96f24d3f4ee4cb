/* Benchmarks of the emulator, one JSON object per line on stdout:
 *
 *   emu_step   what a step costs the emulator thread: ncp_emu_push then
 *              ncp_emu_predict on M1-like activity (1000 neurons, about 15
 *              spikes a step), each step timed on its own, for every
 *              architecture at its default size (the default one first);
 *   emu_swap   the first prediction after ncp_emu_state_set_model (new
 *              weights: the state rebuilds its first layer from the history
 *              it kept), median of 50;
 *   emu_train  training throughput: ncp_trainer_step on minibatches of 256
 *              rows of the same kind of data, samples per second.
 *
 * One OpenBLAS thread (the daemon's setting; ncp-train --threads 1). */
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

#define N 1000
#define C 32
#define STEPS 20000		/* timed steps per architecture */
#define WARMUP 1000
#define DATA_STEPS 20000	/* training data */
#define TRAIN_SECONDS 3.0

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

/* Spike lists of `steps` steps: rates spread up to 60 Hz around 15 Hz on
 * average, so about 15 spikes a step and 1500 in a window. */
static uint32_t *make_spikes(int steps, uint64_t seed, uint64_t *ptr)
{
	struct ncp_rng rng;
	double rate[N];
	uint32_t *idx = malloc((size_t)steps * 64 * sizeof(uint32_t));
	uint64_t k = 0;

	ncp_rng_seed(&rng, seed);
	for (int n = 0; n < N; n++) {
		double r = ncp_rng_uniform(&rng);
		rate[n] = 0.045 * r * r;
	}
	for (int s = 0; s < steps; s++) {
		ptr[s] = k;
		for (int n = 0; n < N; n++)
			if (ncp_rng_uniform(&rng) < rate[n] && k - ptr[s] < 64)
				idx[k++] = (uint32_t)n;
	}
	ptr[steps] = k;
	return idx;
}

static void bench_step(enum ncp_emu_arch arch, const uint32_t *idx,
		       const uint64_t *ptr)
{
	struct ncp_emu_spec sp;
	char err[256];
	uint64_t *ns = malloc(STEPS * sizeof(uint64_t));
	float out[6], stim[C] = {0};
	double sum = 0;

	ncp_emu_spec_default(&sp, arch);
	struct ncp_emu_model *m = ncp_emu_model_new(&sp, 1, err, sizeof(err));
	struct ncp_emu_state *st = m ? ncp_emu_state_new(m) : NULL;
	if (!st) {
		fprintf(stderr, "bench_emu: %s\n", m ? "out of memory" : err);
		exit(1);
	}
	for (int s = 0; s < WARMUP + STEPS; s++) {
		uint64_t t0 = ncp_now_ns();
		ncp_emu_push(st, idx + ptr[s], (int)(ptr[s + 1] - ptr[s]), stim, C);
		ncp_emu_predict(st, out);
		uint64_t dt = ncp_now_ns() - t0;
		if (s >= WARMUP) {
			ns[s - WARMUP] = dt;
			sum += (double)dt;
		}
	}
	qsort(ns, STEPS, sizeof(uint64_t), cmp_u64);
	/* Swapping in new weights (a copy, as an online trainer publishes). */
	struct ncp_emu_model *spare = ncp_emu_model_clone(m);
	uint64_t sw[50];
	for (int i = 0; i < 50; i++) {
		ncp_emu_push(st, idx + ptr[i], (int)(ptr[i + 1] - ptr[i]), stim, C);
		ncp_emu_state_set_model(st, i % 2 ? m : spare);
		uint64_t t0 = ncp_now_ns();
		ncp_emu_predict(st, out);
		sw[i] = ncp_now_ns() - t0;
	}
	qsort(sw, 50, sizeof(uint64_t), cmp_u64);
	ncp_emu_model_free(spare);
	printf("{\"bench\":\"emu_step\",\"arch\":\"%s\",\"default\":%s,"
	       "\"hidden\":[%d,%d],\"steps\":%d,\"spikes_per_step\":%.1f,"
	       "\"mean_us\":%.2f,\"p50_us\":%.2f,\"p99_us\":%.2f,\"p999_us\":%.2f,"
	       "\"max_us\":%.2f}\n",
	       ncp_emu_arch_name(arch), arch == NCP_EMU_ARCH_DEFAULT ? "true" : "false",
	       sp.nhidden > 0 ? sp.hidden[0] : 0, sp.nhidden > 1 ? sp.hidden[1] : 0,
	       STEPS, (double)(ptr[WARMUP + STEPS] - ptr[WARMUP]) / STEPS,
	       sum / STEPS / 1e3, (double)ns[STEPS / 2] / 1e3,
	       (double)ns[STEPS * 99 / 100] / 1e3, (double)ns[STEPS * 999 / 1000] / 1e3,
	       (double)ns[STEPS - 1] / 1e3);
	printf("{\"bench\":\"emu_swap\",\"arch\":\"%s\",\"first_predict_us\":%.1f}\n",
	       ncp_emu_arch_name(arch), (double)sw[25] / 1e3);
	fflush(stdout);
	ncp_emu_state_free(st);
	ncp_emu_model_free(m);
	free(ns);
}

static void bench_train(enum ncp_emu_arch arch, const uint32_t *idx,
			const uint64_t *ptr)
{
	struct ncp_emu_spec sp;
	struct ncp_trainer_opts to;
	struct ncp_rng rng;
	char err[256];
	float arm[6] = {0};
	uint64_t rows[256], done = 0;

	ncp_emu_spec_default(&sp, arch);
	struct ncp_dataset *ds = ncp_dataset_new(N, C);
	for (int s = 0; s < DATA_STEPS; s++) {
		for (int o = 0; o < 6; o++)
			arm[o] = (float)sin(0.001 * s * (o + 1));
		ncp_dataset_append(ds, idx + ptr[s], (int)(ptr[s + 1] - ptr[s]), NULL, 0, arm);
	}
	struct ncp_emu_model *m = ncp_emu_model_new(&sp, 1, err, sizeof(err));
	ncp_trainer_opts_default(&to);
	struct ncp_trainer *t = m ? ncp_trainer_new(m, ds, &to, err, sizeof(err)) : NULL;
	if (!t) {
		fprintf(stderr, "bench_emu: %s\n", err);
		exit(1);
	}
	ncp_rng_seed(&rng, 3);
	for (int i = 0; i < 256; i++)
		rows[i] = 99 + ncp_rng_below(&rng, DATA_STEPS - 99);
	ncp_trainer_fit_norm(t, rows, 256, 1.0);
	double t0 = (double)ncp_now_ns() * 1e-9, el = 0;
	while (el < TRAIN_SECONDS) {
		double loss;
		for (int i = 0; i < 256; i++)
			rows[i] = 99 + ncp_rng_below(&rng, DATA_STEPS - 99);
		ncp_trainer_step(t, rows, 256, &loss);
		done += 256;
		el = (double)ncp_now_ns() * 1e-9 - t0;
	}
	printf("{\"bench\":\"emu_train\",\"arch\":\"%s\",\"batch\":256,\"threads\":1,"
	       "\"samples_per_s\":%.0f}\n", ncp_emu_arch_name(arch), (double)done / el);
	fflush(stdout);
	ncp_trainer_free(t);
	ncp_emu_model_free(m);
	ncp_dataset_free(ds);
}

int main(void)
{
	uint64_t *ptr = malloc((DATA_STEPS + WARMUP + STEPS + 1) * sizeof(uint64_t));
	uint32_t *idx = make_spikes(DATA_STEPS + WARMUP + STEPS, 7, ptr);
	enum ncp_emu_arch order[NCP_EMU_ARCH_COUNT];
	int k = 0;

	openblas_set_num_threads(1);
	order[k++] = NCP_EMU_ARCH_DEFAULT;
	for (int a = 0; a < NCP_EMU_ARCH_COUNT; a++)
		if (a != NCP_EMU_ARCH_DEFAULT)
			order[k++] = (enum ncp_emu_arch)a;
	for (int i = 0; i < k; i++)
		bench_step(order[i], idx, ptr);
	bench_train(NCP_EMU_ARCH_DEFAULT, idx, ptr);
	bench_train(NCP_EMU_DENSE, idx, ptr);
	free(idx);
	free(ptr);
	return 0;
}
