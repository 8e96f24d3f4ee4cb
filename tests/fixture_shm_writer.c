/* A stand-in daemon for reader tests: creates a segment and writes known
 * spike patterns into it, then holds it until SIGTERM/SIGINT (or --hold
 * seconds) and removes it.
 *
 *   fixture_shm_writer NAME STEPS [--live] [--hold SECONDS]
 *
 * Step k: spikes at neurons (37 k + 101 j) mod 1000 for j < k mod 17;
 * stimulation values k + 0.5 c for c < k mod 4; the state block says step
 * k, t = k dt, q = (k/1000, -k/1000), hand (0.1, 0.2), target (0.3, 0.4),
 * task centre-out with period 2 s, and the step's spike count; the stim
 * block (5 electrodes) says step k, theta_e = (k mod 64) / 64 (e + 1),
 * alpha_e = -(k mod 32) / 32 (e + 1), source noise, stim.max 2, lesion
 * pmc-m1 of fraction 0.5 hitting 500 neurons.
 * It writes STEPS steps, prints "ready GENERATION" on stdout, then holds
 * still, or with --live goes on writing a step every 100 us. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shm/ncp_shm_writer.h"

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	stop = 1;
}

static int write_step(struct ncp_shm_writer *w, uint64_t k)
{
	uint32_t idx[17];
	float stim[4];
	uint32_t n = (uint32_t)(k % 17), ns = (uint32_t)(k % 4);
	struct ncp_shm_state st = {
		.step = k,
		.t = (double)k * 0.001,
		.q = { (double)k / 1000, -(double)k / 1000 },
		.hand = { 0.1, 0.2 },
		.target = { 0.3, 0.4 },
		.task_kind = NCP_SHM_TASK_CENTRE_OUT,
		.task_period = 2.0,
	};

	for (uint32_t j = 0; j < n; j++)
		idx[j] = (uint32_t)((k * 37 + j * 101) % 1000);
	for (uint32_t c = 0; c < ns; c++)
		stim[c] = (float)k + 0.5f * (float)c;
	st.m1_spikes = n;
	if (ncp_shm_writer_push_spikes(w, k, idx, n, stim, ns))
		return -1;
	ncp_shm_writer_put_state(w, &st);

	double theta[5], alpha[5];
	struct ncp_shm_stim sb = {
		.step = k,
		.source = NCP_SHM_STIM_NOISE,
		.lesion_kind = NCP_SHM_LESION_PMC_M1,
		.lesion_neurons = 500,
		.lesion_fraction = 0.5,
		.max = 2.0,
	};
	for (int e = 0; e < 5; e++) {
		theta[e] = (double)(k % 64) / 64 * (e + 1);
		alpha[e] = -(double)(k % 32) / 32 * (e + 1);
	}
	ncp_shm_writer_put_stim(w, &sb, theta, alpha);
	return 0;
}

int main(int argc, char **argv)
{
	struct ncp_shm_writer_config cfg = { 0 };
	struct ncp_shm_writer *w;
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec start, now, tick = { 0, 100000 };
	double hold = 60;
	bool live = false;
	uint64_t steps, k;
	char err[256];

	if (argc < 3) {
		fprintf(stderr, "usage: %s NAME STEPS [--live] [--hold SECONDS]\n",
			argv[0]);
		return 2;
	}
	cfg.name = argv[1];
	cfg.stim_electrodes = 5;
	steps = strtoull(argv[2], NULL, 10);
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--live"))
			live = true;
		else if (!strcmp(argv[i], "--hold") && i + 1 < argc)
			hold = atof(argv[++i]);
	}
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	w = ncp_shm_writer_new(&cfg, err, sizeof(err));
	if (!w) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	ncp_shm_writer_set_state(w, NCP_SHM_STATE_RUNNING);
	for (k = 0; k < steps; k++)
		if (write_step(w, k))
			return 1;
	printf("ready %llu\n",
	       (unsigned long long)ncp_shm_writer_generation(w));
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (!stop) {
		if (live && write_step(w, k++))
			return 1;
		nanosleep(live ? &tick : &(struct timespec){ 0, 10000000 }, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((double)(now.tv_sec - start.tv_sec) +
			    1e-9 * (double)(now.tv_nsec - start.tv_nsec) > hold)
			break;
	}
	ncp_shm_writer_free(w);
	return 0;
}
