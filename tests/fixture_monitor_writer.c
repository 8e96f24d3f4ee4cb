/* A stand-in daemon with an emulator, for ncp-monitor's tests: creates a
 * segment and publishes, at 1 kHz of wall time, everything the monitor
 * shows, including the parts ncpd does not publish yet (a prediction and
 * a training history).
 *
 *   fixture_monitor_writer NAME SECONDS
 *
 * Step k (t = k ms): the arm swings, q = (0.6 + 0.3 sin(pi t),
 * 2.2 + 0.2 cos(pi t)), hand by the arm's kinematics (links 1.5 and
 * 1.3 m); the target moves every second; k % 23 M1 neurons spike.  The
 * prediction of step k is q + (0.02, -0.02) with its kinematic hand,
 * model "fixture-en", latency 150 us, hand RMSE 0.03 m; a training
 * update every 50 steps with loss 1 / (1 + update / 10).  Stimulation:
 * 8 electrodes, stim.max 2, theta_e = (e - 3.5) / 2 (from -1.75 to
 * 1.75), alpha_e = -theta_e / 2, source oracle; lesion m1-silence of
 * fraction 0.25 hitting 250 neurons.  Loop
 * statistics every 250 steps.  Prints "ready GENERATION" once the first
 * step is out, runs SECONDS, then exits cleanly (SIGTERM or SIGINT end
 * it early, also cleanly). */
#include <math.h>
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

static void fk(const double q[2], double hand[2])
{
	hand[0] = 1.5 * cos(q[0]) + 1.3 * cos(q[0] + q[1]);
	hand[1] = 1.5 * sin(q[0]) + 1.3 * sin(q[0] + q[1]);
}

static void write_step(struct ncp_shm_writer *w, uint64_t k)
{
	double t = (double)k * 0.001;
	uint32_t idx[23], n = (uint32_t)(k % 23);
	struct ncp_shm_state st = {
		.step = k,
		.t = t + 0.001,
		.q = { 0.6 + 0.3 * sin(M_PI * t), 2.2 + 0.2 * cos(M_PI * t) },
		.dq = { 0.3 * M_PI * cos(M_PI * t), -0.2 * M_PI * sin(M_PI * t) },
		.task_kind = NCP_SHM_TASK_CENTRE_OUT,
		.task_period = 1.0,
		.m1_spikes = n,
	};
	struct ncp_shm_predicted p = {
		.step = k,
		.latency_us = 150,
		.hand_rmse = 0.03,
		.q_rmse = 0.02,
		.dq_rmse = 0.1,
		.model_loaded = 1,
	};
	struct ncp_shm_arm_entry a = { .step = k };
	double pq[2];

	for (uint32_t j = 0; j < n; j++)
		idx[j] = (uint32_t)((k * 37 + j * 101) % 1000);
	ncp_shm_writer_push_spikes(w, k, idx, n, NULL, 0);
	fk(st.q, st.hand);
	st.target[0] = 0.25 * cos(M_PI / 4 * (double)(k / 1000));
	st.target[1] = 1.25 + 0.25 * sin(M_PI / 4 * (double)(k / 1000));
	ncp_shm_writer_put_state(w, &st);

	pq[0] = st.q[0] + 0.02;
	pq[1] = st.q[1] - 0.02;
	p.x[0] = pq[0];
	p.x[1] = pq[1];
	p.x[2] = st.dq[0];
	p.x[3] = st.dq[1];
	fk(pq, p.hand_fk);
	p.x[4] = p.hand_fk[0];
	p.x[5] = p.hand_fk[1];
	snprintf(p.model, sizeof(p.model), "fixture-en");
	ncp_shm_writer_put_predicted(w, &p);

	for (int i = 0; i < 2; i++) {
		a.q[i] = (float)st.q[i];
		a.hand[i] = (float)st.hand[i];
		a.target[i] = (float)st.target[i];
		a.pred_hand[i] = (float)p.hand_fk[i];
	}
	ncp_shm_writer_push_arm(w, &a);

	double theta[8], alpha[8];
	struct ncp_shm_stim sb = {
		.step = k, .source = NCP_SHM_STIM_ORACLE, .max = 2.0,
		.lesion_kind = NCP_SHM_LESION_M1_SILENCE,
		.lesion_fraction = 0.25, .lesion_neurons = 250,
	};
	for (int e = 0; e < 8; e++) {
		theta[e] = (e - 3.5) / 2;
		alpha[e] = -theta[e] / 2;
	}
	ncp_shm_writer_put_stim(w, &sb, theta, alpha);

	if (k % 50 == 49) {
		uint64_t u = k / 50 + 1;
		struct ncp_shm_train_entry e = {
			.step = k, .t = t, .update = u,
			.loss = 1.0 / (1.0 + (double)u / 10),
			.val_loss = 1.2 / (1.0 + (double)u / 10),
		};
		ncp_shm_writer_push_train(w, &e);
	}
	if (k % 250 == 249) {
		struct ncp_shm_stats s = {
			.steps = k + 1,
			.jitter_p50_us = 5, .jitter_p99_us = 20,
			.jitter_p999_us = 40, .jitter_max_us = 80,
			.cost_p50_us = 15, .cost_p99_us = 30, .cost_max_us = 60,
			.wall_s = t, .rtf = 1.0,
			.mode = NCP_SHM_MODE_REALTIME,
		};
		ncp_shm_writer_put_stats(w, &s);
	}
}

int main(int argc, char **argv)
{
	struct ncp_shm_writer_config cfg = { 0 };
	struct ncp_shm_writer *w;
	struct sigaction sa = { .sa_handler = on_signal };
	struct timespec next;
	char err[512];
	uint64_t steps;

	if (argc != 3 || atof(argv[2]) <= 0) {
		fprintf(stderr, "usage: %s NAME SECONDS\n", argv[0]);
		return 2;
	}
	cfg.name = argv[1];
	cfg.stim_electrodes = 8;
	steps = (uint64_t)(atof(argv[2]) * 1000);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	w = ncp_shm_writer_new(&cfg, err, sizeof(err));
	if (!w) {
		fprintf(stderr, "fixture_monitor_writer: %s\n", err);
		return 1;
	}
	ncp_shm_writer_set_state(w, NCP_SHM_STATE_RUNNING);
	write_step(w, 0);
	printf("ready %llu\n", (unsigned long long)ncp_shm_writer_generation(w));
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint64_t k = 1; k < steps && !stop; k++) {
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_nsec -= 1000000000;
			next.tv_sec++;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		write_step(w, k);
	}
	ncp_shm_writer_free(w);
	return 0;
}
