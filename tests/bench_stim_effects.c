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
 * the same figures.  One JSON line (with the R^2 of the healthy and the
 * lesioned pairs apart); without MODEL it says SKIP and why.
 *
 * --impulse makes every pulse one step long, of the pattern's charge (the
 * same electrodes, theta times the pattern's length: 1 to 25, within
 * stim.max's clamp), and so scores at the step it is applied: what the
 * model predicts from that step's theta, before the spikes and the arm
 * can show much of its effect (the current it leaves decays over 28 ms).  Where the
 * pattern's last step asks what follows a pulse already under way, this
 * asks what a command does, as a controller needs.
 *
 *   build/tests/bench_stim_effects --en [--en-explore S] [--en-trainings N]
 *                                  [--en-lesioned-only] [PAIRS] [SEED]
 *
 * runs the same pairs on the co-processor's stimulation emulator (the EN,
 * docs/coprocessor.md), the one a CPN is trained through: it is trained
 * here first, by the library's own trainer and options (ncp-train --cpn's),
 * on S simulated seconds (600) of white-noise exploration per
 * configuration (healthy and lesioned, or lesioned only), as the
 * experiment's first phase collects them, with N trainings of at most 2000
 * minibatches (20).  At the pulse's last step te the EN predicts the hand
 * displacement over its horizon from the observation after te and the
 * electrode currents of step te + 1 (alpha decays with no command): its
 * predicted hand at te + H is hand(te) + EN(obs, alpha); the predicted
 * change is B's minus A's, scored as above against the true change at
 * te + H.  "Stimulation blind" gives B's EN alpha = 0.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_recovery.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_cpn.h"
#include "models/emu/ncp_emu.h"

#define MAX_E 256

struct pair_sums {
	int n;				/* pairs */
	double sx[2], sxx;		/* true change: sums per coordinate, sum of squares */
	double se, se_blind;		/* squared errors */
};

/* The emulator under test: an M1-spike model, or the EN (trainer). */
struct emulator {
	const struct ncp_emu_model *m;
	struct ncp_cpn_trainer *en;
	int R, horizon;
	double d;		/* alpha's decay per step */
	/* EN: the hand's Euclidean RMSE at H on held-out exploration
	 * (healthy, lesioned), m. */
	double heldout[2];
};

static void sums_add(struct pair_sums *to, const struct pair_sums *p)
{
	to->n += p->n;
	for (int c = 0; c < 2; c++)
		to->sx[c] += p->sx[c];
	to->sxx += p->sxx;
	to->se += p->se;
	to->se_blind += p->se_blind;
}

static double sums_r2(const struct pair_sums *p, double se)
{
	double sst = p->sxx - (p->sx[0] * p->sx[0] + p->sx[1] * p->sx[1]) / p->n;
	return p->n > 1 && sst > 0 ? 1 - se / sst : NAN;
}

/* The EN's predicted hand H steps on from simulation s after its step,
 * with the electrode currents of the next step (no command: d alpha), or
 * none when blind. */
static void en_hand(const struct emulator *em, const struct ncp_sim *s,
		    int E, bool blind, float out[2])
{
	float obs[NCP_CPN_OBS(MAX_E)], alpha[MAX_E], dp[2];
	const struct ncp_stim *st = ncp_reach_stim(s->reach);

	ncp_recovery_observe(s, em->R, obs);
	for (int e = 0; e < E; e++)
		alpha[e] = blind ? 0.0f : (float)(em->d * st->alpha[e]);
	ncp_cpn_trainer_en_predict(em->en, obs, NULL, alpha, dp);
	for (int c = 0; c < 2; c++)
		out[c] = (float)s->arm.hand[c] + dp[c];
}

static void step_feed(struct ncp_sim *s, struct ncp_emu_state *st,
		      struct ncp_emu_state *blind, const float *theta, int E)
{
	float arm[NCP_ARM_MAX_STATE];
	ncp_sim_set_theta(s, theta);
	ncp_sim_step(s);
	/* The arm after the step: the next step's input of a model with the
	 * arm-state input (as the daemon's loop gives it). */
	ncp_arm_state_flat(&s->arm, arm);
	if (st) {
		ncp_emu_push(st, s->spikes, s->n_spikes, theta, E);
		ncp_emu_set_arm(st, arm);
	}
	if (blind) {
		ncp_emu_push(blind, s->spikes, s->n_spikes, NULL, 0);
		ncp_emu_set_arm(blind, arm);
	}
}

/* Pairs on one configuration; 0 or -1 with a message. */
static int run_pairs(const struct ncp_config *c, const struct emulator *em,
		     int pairs, uint64_t seed, bool impulse, struct pair_sums *ps)
{
	const struct ncp_emu_model *m = em->m;
	struct ncp_sim a, b;
	struct ncp_emu_state *sa = NULL, *sb = NULL, *sblind = NULL;
	char err[512];
	float zero[MAX_E] = { 0 }, theta[MAX_E];
	int E = c->reach.stim.electrodes, h = em->horizon, ret = -1;
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
	if (m) {
		sa = ncp_emu_state_new(m);
		sb = ncp_emu_state_new(m);
		sblind = ncp_emu_state_new(m);
	}
	if (m && (!sa || !sb || !sblind)) {
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
		if (impulse) {	/* (the same draws: the same pairs otherwise) */
			for (int e = 0; e < E; e++)
				theta[e] *= (float)len;
			len = 1;
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
		if (m) {
			ncp_emu_state_reset(sa);
			ncp_emu_state_reset(sb);
			ncp_emu_state_reset(sblind);
		}
		for (int s = 0; s < settle + len; s++) {
			step_feed(&a, sa, NULL, zero, E);
			step_feed(&b, sb, sblind, s >= settle ? theta : zero, E);
		}
		if (m) {
			ncp_emu_predict(sa, pa);
			ncp_emu_predict(sb, pb);
			ncp_emu_predict(sblind, pbl);
		} else {
			en_hand(em, &a, E, false, pa + 4);
			en_hand(em, &b, E, false, pb + 4);
			en_hand(em, &b, E, true, pbl + 4);
		}
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

/* Configuration c: random task, healthy or lesioned (pmc-m1, fraction 1). */
static int make_config(struct ncp_config *c, int lesioned, char *err,
		       size_t errlen)
{
	ncp_config_defaults(c);
	if (ncp_config_set(c, "task.kind=random", err, errlen) ||
	    (lesioned &&
	     (ncp_config_set(c, "lesion.kind=pmc-m1", err, errlen) ||
	      ncp_config_set(c, "lesion.fraction=1", err, errlen))))
		return -1;
	return 0;
}

/* Train the EN as ncp-train --cpn's first phase does, on explore_s of
 * white-noise exploration per configuration, `trainings` trainings.  The
 * trainer, or NULL with a message. */
static struct ncp_cpn_trainer *en_build(double explore_s, int trainings,
					bool lesioned_only, uint64_t seed,
					struct emulator *em)
{
	struct ncp_recovery_opts o;
	struct ncp_config c;
	struct ncp_cpn_spec spec;
	struct ncp_cpn_model *cpn = NULL;
	struct ncp_cpn_trainer *tr = NULL;
	struct ncp_cpn_data data;
	char err[1024];
	double loss = NAN;

	ncp_recovery_opts_default(&o);
	if (make_config(&c, 0, err, sizeof(err)))
		goto fail_msg;
	spec = o.spec;
	spec.electrodes = c.reach.stim.electrodes;
	spec.rec = c.reach.rec.electrodes;
	spec.dt = c.reach.dt;
	spec.decay = c.reach.stim.decay;
	spec.stim_max = c.reach.stim.max;
	if (spec.alpha_max > spec.stim_max)
		spec.alpha_max = spec.stim_max;
	if (spec.electrodes > MAX_E || spec.rec > MAX_E) {
		fprintf(stderr, "bench_stim_effects: %d electrodes (at most %d)\n",
			spec.electrodes, MAX_E);
		return NULL;
	}
	size_t cap = (size_t)(fmax(2 * explore_s, 60) / c.reach.dt / o.sample_every) + 16;
	if (ncp_cpn_data_init(&data, spec.rec, spec.electrodes, cap)) {
		fprintf(stderr, "bench_stim_effects: out of memory\n");
		return NULL;
	}
	for (int lesioned = lesioned_only; lesioned < 2; lesioned++) {
		struct ncp_task_params tp;
		if (make_config(&c, lesioned, err, sizeof(err)))
			goto fail_msg;
		tp = c.task;
		/* Task and exploration seeds apart from the pairs' (derived
		 * from seed with other keys). */
		tp.seed = ncp_rng_derive(seed, 0xe1 + (uint64_t)lesioned);
		if (ncp_recovery_explore(&c, &o, &tp, explore_s,
					 ncp_rng_derive(seed, 0xe3 + (uint64_t)lesioned),
					 &data, err, sizeof(err)))
			goto fail_msg;
	}
	cpn = ncp_cpn_model_new(&spec, seed, err, sizeof(err));
	if (!cpn)
		goto fail_msg;
	tr = ncp_cpn_trainer_new(cpn, &o.train, err, sizeof(err));
	if (!tr)
		goto fail_msg;
	if (ncp_cpn_trainer_fit_norm(tr, &data)) {
		snprintf(err, sizeof(err), "the EN's standardisation could not be fitted");
		goto fail_msg;
	}
	for (int k = 0; k < trainings; k++)
		if (ncp_cpn_trainer_en_train(tr, &data, &loss) == -EDOM)
			fprintf(stderr, "bench_stim_effects: EN training %d: non-finite loss, put back\n", k);
	fprintf(stderr, "bench_stim_effects: EN trained on %zu samples, its error on them %.2f mm RMS per coordinate\n",
		data.n, 1e3 * sqrt(loss));
	/* Held out: 60 s of the same exploration per configuration, new task
	 * and noise seeds. */
	for (int lesioned = 0; lesioned < 2; lesioned++) {
		struct ncp_task_params tp;
		if (make_config(&c, lesioned, err, sizeof(err)))
			goto fail_msg;
		tp = c.task;
		tp.seed = ncp_rng_derive(seed, 0xe5 + (uint64_t)lesioned);
		data.n = 0;
		if (ncp_recovery_explore(&c, &o, &tp, 60,
					 ncp_rng_derive(seed, 0xe7 + (uint64_t)lesioned),
					 &data, err, sizeof(err)))
			goto fail_msg;
		/* The loss is the mean over both coordinates: x 2 for the
		 * Euclidean error. */
		em->heldout[lesioned] = sqrt(2 * ncp_cpn_trainer_en_loss(tr, &data, 0));
	}
	em->en = tr;
	em->R = spec.rec;
	em->horizon = o.train.horizon;
	em->d = pow(spec.decay, spec.dt / 0.01);
	ncp_cpn_model_free(cpn);
	ncp_cpn_data_fini(&data);
	return tr;
fail_msg:
	fprintf(stderr, "bench_stim_effects: %s\n", err);
	ncp_cpn_trainer_free(tr);
	ncp_cpn_model_free(cpn);
	ncp_cpn_data_fini(&data);
	return NULL;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench_stim_effects [--impulse] MODEL [PAIRS] [SEED]\n"
			"       bench_stim_effects --en [--en-explore S] [--en-trainings N] [--en-lesioned-only] [--impulse] [PAIRS] [SEED]\n");
	return 2;
}

int main(int argc, char **argv)
{
	const char *path = NULL;
	const char *pos[3] = { NULL, NULL, NULL };
	int npos = 0, trainings = 20;
	bool use_en = false, lesioned_only = false, impulse = false;
	double explore_s = 600;
	struct emulator em = { 0 };
	struct ncp_emu_model *m = NULL;
	struct pair_sums ps[2] = { { 0 }, { 0 } }, all = { 0 };
	char err[1024];

	for (int i = 1; i < argc; i++) {
		char *end;
		if (!strcmp(argv[i], "--en")) {
			use_en = true;
		} else if (!strcmp(argv[i], "--en-lesioned-only")) {
			lesioned_only = true;
		} else if (!strcmp(argv[i], "--impulse")) {
			impulse = true;
		} else if (!strcmp(argv[i], "--en-explore") && i + 1 < argc) {
			explore_s = strtod(argv[++i], &end);
			if (*end || !(explore_s >= 1 && explore_s <= 36000)) {
				fprintf(stderr, "bench_stim_effects: --en-explore must be 1 to 36000 s (got '%s')\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--en-trainings") && i + 1 < argc) {
			long v = strtol(argv[++i], &end, 10);
			if (*end || v < 1 || v > 100000) {
				fprintf(stderr, "bench_stim_effects: --en-trainings must be 1 to 100000 (got '%s')\n", argv[i]);
				return 2;
			}
			trainings = (int)v;
		} else if (argv[i][0] == '-' && argv[i][1] == '-') {
			fprintf(stderr, "bench_stim_effects: unknown option or missing value: %s\n", argv[i]);
			return usage();
		} else if (npos < 3) {
			pos[npos++] = argv[i];
		} else {
			return usage();
		}
	}
	/* Positional: MODEL PAIRS SEED, or PAIRS SEED with --en. */
	int k = 0;
	if (!use_en)
		path = npos > 0 ? pos[k++] : getenv("NCP_STIM_EFFECTS_MODEL");
	else if (npos > 2)
		return usage();
	int pairs = k < npos ? atoi(pos[k++]) : 200;
	uint64_t seed = k < npos ? strtoull(pos[k++], NULL, 10) : 1;

	if (!use_en && (!path || !*path)) {
		fprintf(stderr, "bench_stim_effects: SKIP: no emulator model given (bench_stim_effects MODEL [PAIRS] [SEED], or NCP_STIM_EFFECTS_MODEL; --en for the co-processor's EN)\n");
		return 0;
	}
	if (pairs < 2 || pairs > 100000) {
		fprintf(stderr, "bench_stim_effects: PAIRS must be 2 to 100000\n");
		return 2;
	}
	openblas_set_num_threads(1);
	if (use_en) {
		if (!en_build(explore_s, trainings, lesioned_only, seed, &em))
			return 1;
	} else {
		m = ncp_emu_model_load(path, err, sizeof(err));
		if (!m) {
			fprintf(stderr, "bench_stim_effects: %s\n", err);
			return 1;
		}
		em.m = m;
		em.horizon = ncp_emu_model_horizon(m);
	}
	int ret = 1;
	for (int lesioned = 0; lesioned < 2; lesioned++) {
		struct ncp_config c;
		if (make_config(&c, lesioned, err, sizeof(err))) {
			fprintf(stderr, "bench_stim_effects: %s\n", err);
			goto out;
		}
		if (m && (c.reach.n_m1 != ncp_emu_model_neurons(m) ||
			  c.reach.stim.electrodes > ncp_emu_model_stim_channels(m))) {
			fprintf(stderr, "bench_stim_effects: %s: %d neurons and %d stimulation channels; the configuration has %d M1 neurons and %d electrodes\n",
				path, ncp_emu_model_neurons(m),
				ncp_emu_model_stim_channels(m), c.reach.n_m1,
				c.reach.stim.electrodes);
			goto out;
		}
		int n = lesioned ? pairs - pairs / 2 : pairs / 2;
		if (run_pairs(&c, &em, n, ncp_rng_derive(seed, (uint64_t)lesioned), impulse,
			      &ps[lesioned]))
			goto out;
		sums_add(&all, &ps[lesioned]);
	}
	double cnt = 2.0 * all.n;
	char name[96];
	if (use_en)
		snprintf(name, sizeof(name), "EN (%g s exploration%s, %d trainings)",
			 explore_s, lesioned_only ? ", lesioned only" : " per configuration",
			 trainings);
	printf("{\"bench\":\"stim_effects\",\"model\":\"%s\",\"emulator\":\"%s\",\"horizon\":%d,"
	       "\"pulse\":\"%s\",\"pairs\":%d,\"seed\":%" PRIu64 ",\"r2\":%.4f,\"r2_stim_blind\":%.4f,"
	       "\"r2_healthy\":%.4f,\"r2_lesioned\":%.4f,"
	       "\"true_change_rms_mm\":%.3f,\"error_rms_mm\":%.3f,"
	       "\"error_rms_stim_blind_mm\":%.3f",
	       use_en ? name : path, use_en ? "en" : "m1", em.horizon,
	       impulse ? "impulse" : "pattern", all.n, seed,
	       sums_r2(&all, all.se), sums_r2(&all, all.se_blind),
	       sums_r2(&ps[0], ps[0].se), sums_r2(&ps[1], ps[1].se),
	       1e3 * sqrt(all.sxx / cnt), 1e3 * sqrt(all.se / cnt),
	       1e3 * sqrt(all.se_blind / cnt));
	if (use_en)
		printf(",\"heldout_hand_rmse_mm\":{\"healthy\":%.3f,\"lesioned\":%.3f}",
		       1e3 * em.heldout[0], 1e3 * em.heldout[1]);
	printf("}\n");
	ret = 0;
out:
	ncp_emu_model_free(m);
	ncp_cpn_trainer_free(em.en);
	return ret;
}
