/* How well an emulator predicts what stimulation does (docs/emulator.md).
 *
 *   build/tests/bench_stim_effects MODEL [PAIRS] [SEED]
 *
 * Counterfactual pairs: two simulations of the same configuration (random
 * task) step in lockstep from the same state, A without stimulation and B
 * with a random theta pattern (1, 2 or 4 random electrodes, amplitudes
 * +-0.1 to 0.5, for 10, 20 or 50 ms) from step t0; they differ only
 * through it.  Half the pairs are healthy, half lesioned (pmc-m1, fraction
 * 1).  Each simulation feeds its own emulator state every step (spikes and
 * the theta applied), as the daemon does.  At the pulse's last step te the
 * emulator's predicted change of the hand, pred_B - pred_A (the model
 * predicts `horizon` steps ahead), is compared with the true change
 * hand_B(te + horizon) - hand_A(te + horizon):
 *
 *   R^2 = 1 - sum |pred change - true change|^2 / sum |true change - mean|^2
 *
 * over both coordinates of every pair.  Also printed: the same with B's
 * emulator fed no stimulation (what the spikes alone tell it), the RMS true
 * change, and the RMS error.  Between pairs both simulations go back to the
 * start (ncp_sim_reset) with a new task seed, then settle for 0.3 to 1 s
 * before the pulse.  Deterministic: the same model, PAIRS and SEED print
 * the same figures.  One JSON line; without MODEL it says SKIP and why.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_emu.h"

#define MAX_E 256

struct pair_sums {
	int n;				/* pairs */
	double sx[2], sxx;		/* true change: sums per coordinate, sum of squares */
	double se, se_blind;		/* squared errors */
};

static void step_feed(struct ncp_sim *s, struct ncp_emu_state *st,
		      struct ncp_emu_state *blind, const float *theta, int E)
{
	ncp_sim_set_theta(s, theta);
	ncp_sim_step(s);
	ncp_emu_push(st, s->spikes, s->n_spikes, theta, E);
	if (blind)
		ncp_emu_push(blind, s->spikes, s->n_spikes, NULL, 0);
}

/* Pairs on one configuration; 0 or -1 with a message. */
static int run_pairs(const struct ncp_config *c, const struct ncp_emu_model *m,
		     int pairs, uint64_t seed, struct pair_sums *ps)
{
	struct ncp_sim a, b;
	struct ncp_emu_state *sa = NULL, *sb = NULL, *sblind = NULL;
	char err[512];
	float zero[MAX_E] = { 0 }, theta[MAX_E];
	int E = c->reach.stim.electrodes, h = ncp_emu_model_horizon(m), ret = -1;
	struct ncp_rng rng;

	if (E > MAX_E) {
		fprintf(stderr, "bench_stim_effects: %d electrodes (at most %d)\n", E, MAX_E);
		return -1;
	}
	if (ncp_sim_init(&a, c, 64, err, sizeof(err))) {
		fprintf(stderr, "bench_stim_effects: %s\n", err);
		return -1;
	}
	if (ncp_sim_init(&b, c, 64, err, sizeof(err))) {
		fprintf(stderr, "bench_stim_effects: %s\n", err);
		ncp_sim_fini(&a);
		return -1;
	}
	sa = ncp_emu_state_new(m);
	sb = ncp_emu_state_new(m);
	sblind = ncp_emu_state_new(m);
	if (!sa || !sb || !sblind) {
		fprintf(stderr, "bench_stim_effects: out of memory\n");
		goto out;
	}
	ncp_rng_seed(&rng, seed);
	for (int i = 0; i < pairs; i++) {
		struct ncp_task_params tp = c->task;
		static const int lens[3] = { 10, 20, 50 };
		static const int counts[3] = { 1, 2, 4 };
		float pa[NCP_EMU_MAX_OUTPUTS], pb[NCP_EMU_MAX_OUTPUTS], pbl[NCP_EMU_MAX_OUTPUTS];
		int settle = 300 + (int)ncp_rng_below(&rng, 701);
		int len = lens[ncp_rng_below(&rng, 3)];
		int k = counts[ncp_rng_below(&rng, 3)];

		memset(theta, 0, sizeof(theta));
		for (int j = 0; j < k; j++) {
			int e = (int)ncp_rng_below(&rng, (uint64_t)E);
			double v = ncp_rng_range(&rng, 0.1, 0.5);
			theta[e] = (float)(ncp_rng_below(&rng, 2) ? v : -v);
		}
		tp.seed = ncp_rng_derive(seed, (uint64_t)i + 1);
		/* Both from the start posture with the same task: the two
		 * simulations are in the same state, step for step. */
		if (ncp_sim_set_task(&a, &tp) || ncp_sim_set_task(&b, &tp)) {
			fprintf(stderr, "bench_stim_effects: bad task\n");
			goto out;
		}
		ncp_sim_reset(&a);
		ncp_sim_reset(&b);
		ncp_emu_state_reset(sa);
		ncp_emu_state_reset(sb);
		ncp_emu_state_reset(sblind);
		for (int s = 0; s < settle + len; s++) {
			step_feed(&a, sa, NULL, zero, E);
			step_feed(&b, sb, sblind, s >= settle ? theta : zero, E);
		}
		ncp_emu_predict(sa, pa);
		ncp_emu_predict(sb, pb);
		ncp_emu_predict(sblind, pbl);
		for (int s = 0; s < h; s++) {
			step_feed(&a, sa, NULL, zero, E);
			step_feed(&b, sb, sblind, zero, E);
		}
		for (int d = 0; d < 2; d++) {
			double truth = b.arm.hand[d] - a.arm.hand[d];
			double pred = (double)pb[4 + d] - pa[4 + d];
			double blind = (double)pbl[4 + d] - pa[4 + d];
			ps->sx[d] += truth;
			ps->sxx += truth * truth;
			ps->se += (pred - truth) * (pred - truth);
			ps->se_blind += (blind - truth) * (blind - truth);
		}
		ps->n++;
	}
	ret = 0;
out:
	ncp_emu_state_free(sa);
	ncp_emu_state_free(sb);
	ncp_emu_state_free(sblind);
	ncp_sim_fini(&a);
	ncp_sim_fini(&b);
	return ret;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : getenv("NCP_STIM_EFFECTS_MODEL");
	int pairs = argc > 2 ? atoi(argv[2]) : 200;
	uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
	struct ncp_emu_model *m;
	struct pair_sums ps = { 0 };
	char err[1024];

	if (!path || !*path) {
		fprintf(stderr, "bench_stim_effects: SKIP: no emulator model given (bench_stim_effects MODEL [PAIRS] [SEED], or NCP_STIM_EFFECTS_MODEL)\n");
		return 0;
	}
	if (pairs < 2 || pairs > 100000) {
		fprintf(stderr, "bench_stim_effects: PAIRS must be 2 to 100000\n");
		return 2;
	}
	openblas_set_num_threads(1);
	m = ncp_emu_model_load(path, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "bench_stim_effects: %s\n", err);
		return 1;
	}
	for (int lesioned = 0; lesioned < 2; lesioned++) {
		struct ncp_config c;
		ncp_config_defaults(&c);
		if (ncp_config_set(&c, "task.kind=random", err, sizeof(err)) ||
		    (lesioned &&
		     (ncp_config_set(&c, "lesion.kind=pmc-m1", err, sizeof(err)) ||
		      ncp_config_set(&c, "lesion.fraction=1", err, sizeof(err))))) {
			fprintf(stderr, "bench_stim_effects: %s\n", err);
			ncp_emu_model_free(m);
			return 1;
		}
		if (c.reach.n_m1 != ncp_emu_model_neurons(m) ||
		    c.reach.stim.electrodes > ncp_emu_model_stim_channels(m)) {
			fprintf(stderr, "bench_stim_effects: %s: %d neurons and %d stimulation channels; the configuration has %d M1 neurons and %d electrodes\n",
				path, ncp_emu_model_neurons(m),
				ncp_emu_model_stim_channels(m), c.reach.n_m1,
				c.reach.stim.electrodes);
			ncp_emu_model_free(m);
			return 1;
		}
		int n = lesioned ? pairs - pairs / 2 : pairs / 2;
		if (run_pairs(&c, m, n, ncp_rng_derive(seed, (uint64_t)lesioned), &ps)) {
			ncp_emu_model_free(m);
			return 1;
		}
	}
	double cnt = 2.0 * ps.n;
	double sst = ps.sxx - (ps.sx[0] * ps.sx[0] + ps.sx[1] * ps.sx[1]) / ps.n;
	printf("{\"bench\":\"stim_effects\",\"model\":\"%s\",\"horizon\":%d,"
	       "\"pairs\":%d,\"seed\":%" PRIu64 ",\"r2\":%.4f,\"r2_stim_blind\":%.4f,"
	       "\"true_change_rms_mm\":%.3f,\"error_rms_mm\":%.3f,"
	       "\"error_rms_stim_blind_mm\":%.3f}\n",
	       path, ncp_emu_model_horizon(m), ps.n, seed, 1 - ps.se / sst,
	       1 - ps.se_blind / sst, 1e3 * sqrt(ps.sxx / cnt),
	       1e3 * sqrt(ps.se / cnt), 1e3 * sqrt(ps.se_blind / cnt));
	ncp_emu_model_free(m);
	return 0;
}
