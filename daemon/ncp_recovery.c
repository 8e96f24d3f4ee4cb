#include "daemon/ncp_recovery.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ncp_explore.h"
#include "daemon/ncp_recovery_rec.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/base/ncp_rng.h"

void ncp_recovery_opts_default(struct ncp_recovery_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->healthy_s = 60;
	o->explore_s = 60;
	o->round_s = 10;
	o->train_s = 600;
	o->eval_s = 64;
	o->cpn_epochs = 5;
	o->sample_every = 5;
	o->noise_sd = 0.5;
	o->noise_hold = 0.1;
	o->perturb_sd = 0.2;
	o->perturb_tau = 0.1;
	o->mix[0] = 0.1;
	o->mix[1] = 0.6;
	o->mix[2] = 0.3;
	o->seg_s = 1;
	o->curve_every = 5;
	o->effect_pairs = 100;
	o->eval_seed = 0;	/* 0: task.seed + 1000 */
	ncp_cpn_spec_default(&o->spec);
	ncp_cpn_train_opts_default(&o->train);
	o->train.cpn_batches = 50;
	o->train.en_batches = 2000;
	o->train.cpn_average = 0.998;
	/* An ensemble of three ENs, the CPN trained against their mean with
	 * a price on their disagreement (docs/coprocessor.md, "What was
	 * measured": it lifted pmc-m1 0.5 over 85% on both network seeds). */
	o->train.en_ensemble = 3;
	o->train.en_disagree = 1;
	/* The CPN deployed is the curve point's best on a validation task
	 * seed (docs/coprocessor.md: with three ENs it kept every lesion
	 * of both network seeds over 85%, where the last CPN missed one). */
	o->select = 1;
	o->rounds = 54;		/* the simulated default's rounds */
	o->val_frac = 0.1;
	o->block_s = 10;
}

int ncp_recovery_config(struct ncp_config *c,
			const struct ncp_recovery_opts *o, char *err,
			size_t errlen)
{
	char e[900];
	for (int k = 0; k < o->ncfg; k++) {
		if (o->cfg_file[k] ? ncp_config_load_file(c, o->cfg[k], e, sizeof(e)) :
		    ncp_config_set(c, o->cfg[k], e, sizeof(e)))
			return o->cfg_file[k] ? ncp_errf(err, errlen, "%s", e) :
			       ncp_errf(err, errlen, "--set %s: %s", o->cfg[k], e);
	}
	return 0;
}

/* What drives the electrodes while a phase runs. */
enum drive { DRIVE_NONE, DRIVE_CPN, DRIVE_PERTURBED, DRIVE_NOISE, DRIVE_FIXED };

#define MAX_PENDING 4096
#define PATH_EVERY 10		/* steps between recorded path points */

struct pending {
	uint64_t due;		/* the step whose arm is the future */
	int src;
};

struct runner {
	const struct ncp_recovery_opts *o;
	struct ncp_sim *s;
	int R, E, H;
	double d, smax, amax;
	float *obs, *theta, *astar, *alpha;
	float *fixed;		/* E: a* of DRIVE_FIXED */
	struct ncp_cpn_state *st;	/* NULL: no CPN yet */
	/* Exploration, as the daemon explores (ncp_explore.h); its steps
	 * count the exploring steps only, so that the blocks go on across
	 * the evaluations' resets. */
	struct ncp_explore x;
	uint64_t xstep;
	/* Samples waiting for their future (a ring). */
	struct pending pend[MAX_PENDING];
	float *pobs, *palpha, *ptarget;
	int phead, pcount;
	struct ncp_cpn_data *data;	/* NULL: not collecting */
	/* M1 as the stimulation electrodes record it (the EN's features with
	 * en_m1): F = E lowpassed footprint-weighted spike trains, as the
	 * recording electrodes filter the planning area (ncp_rec.h). */
	int F;
	float *m1f, *pfeat;
	double m1_decay;
	/* Path recording. */
	float *path;
	size_t npath, path_cap;
};

void ncp_recovery_observe(const struct ncp_sim *s, int R, float *obs)
{
	int have;
	const float *rec = ncp_reach_rec(s->reach, &have);
	/* Electrodes the reach object does not have read 0. */
	for (int k = 0; k < R; k++)
		obs[k] = k < have ? rec[k] : 0.0f;
	for (int k = 0; k < 2; k++) {
		obs[R + k] = (float)s->arm.q[k];
		obs[R + 2 + k] = (float)s->arm.dq[k];
		obs[R + 4 + k] = (float)s->arm.hand[k];
	}
}

static void observe(struct runner *r)
{
	ncp_recovery_observe(r->s, r->R, r->obs);
}

/* After a step: M1's spikes of the step into the M1 features. */
static void m1_record(struct runner *r)
{
	const struct ncp_stim *st = ncp_reach_stim(r->s->reach);
	const float g = (float)((1 - r->m1_decay) / r->s->dt), dd = (float)r->m1_decay;
	int n;
	const uint32_t *sp = ncp_reach_m1_spikes(r->s->reach, &n);

	for (int e = 0; e < r->F; e++) {
		const float *c = st->C + (size_t)e * st->pad;
		float a = 0;
		for (int k = 0; k < n; k++)
			a += c[sp[k]];
		r->m1f[e] = dd * r->m1f[e] + g * a;
	}
}

static void sim_alpha(struct runner *r)
{
	const struct ncp_stim *st = ncp_reach_stim(r->s->reach);
	for (int e = 0; e < r->E; e++)
		r->alpha[e] = (float)st->alpha[e];
}

static float clampf(float x, float lim)
{
	return x > lim ? lim : x < -lim ? -lim : x;
}

/* Forget the samples waiting for their future; with a reset of the
 * simulation, the M1 features start again from 0 as its filters do. */
static void pending_clear(struct runner *r)
{
	r->phead = 0;
	r->pcount = 0;
	if (r->F)
		memset(r->m1f, 0, (size_t)r->F * sizeof(float));
}

/* One step driven by `drive`; samples into r->data when set. */
static void run_step(struct runner *r, enum drive drive)
{
	struct ncp_sim *s = r->s;
	uint64_t t = s->step;
	bool active = drive != DRIVE_NONE;

	observe(r);
	sim_alpha(r);
	if (drive == DRIVE_FIXED) {
		for (int e = 0; e < r->E; e++)
			r->theta[e] = clampf(r->fixed[e] - (float)r->d * r->alpha[e],
					     (float)r->smax);
	} else if (active) {
		int xd = drive == DRIVE_PERTURBED ? NCP_EXPLORE_PERTURBED :
			 drive == DRIVE_NOISE ? NCP_EXPLORE_NOISE : NCP_EXPLORE_CPN;
		if (xd != NCP_EXPLORE_NOISE) {
			ncp_cpn_state_set_alpha(r->st, r->alpha);
			ncp_cpn_state_step(r->st, r->obs, r->theta);
			memcpy(r->astar, ncp_cpn_state_target(r->st),
			       (size_t)r->E * sizeof(float));
		}
		ncp_explore_apply(&r->x, xd, r->xstep, r->astar, r->amax, r->alpha,
				  r->d, r->smax, r->theta);
	}
	if (active)
		ncp_sim_set_theta(s, r->theta);
	/* The sample of this step: its observation now, alpha and the target
	 * after the step. */
	bool sample = r->data && t % (uint64_t)r->o->sample_every == 0 &&
		      r->pcount < MAX_PENDING;
	int slot = (r->phead + r->pcount) % MAX_PENDING;
	if (sample) {
		memcpy(r->pobs + (size_t)slot * NCP_CPN_OBS(r->R), r->obs,
		       (size_t)NCP_CPN_OBS(r->R) * sizeof(float));
		if (r->F)
			memcpy(r->pfeat + (size_t)slot * r->F, r->m1f,
			       (size_t)r->F * sizeof(float));
	}
	ncp_sim_step(s);
	if (r->F)
		m1_record(r);
	if (sample) {
		sim_alpha(r);
		memcpy(r->palpha + (size_t)slot * r->E, r->alpha, (size_t)r->E * sizeof(float));
		r->ptarget[2 * slot] = (float)s->target[0];
		r->ptarget[2 * slot + 1] = (float)s->target[1];
		r->pend[slot].due = t + (uint64_t)r->H - 1;
		r->pend[slot].src = drive == DRIVE_CPN ? NCP_CPN_SRC_CPN :
				    drive == DRIVE_PERTURBED ? NCP_CPN_SRC_PERTURBED :
							       NCP_CPN_SRC_NOISE;
		r->pcount++;
	}
	while (r->data && r->pcount && r->pend[r->phead].due <= t) {
		int k = r->phead;
		float fut[6];
		for (int c = 0; c < 2; c++) {
			fut[c] = (float)s->arm.q[c];
			fut[2 + c] = (float)s->arm.dq[c];
			fut[4 + c] = (float)s->arm.hand[c];
		}
		ncp_cpn_data_add_feat(r->data, r->pobs + (size_t)k * NCP_CPN_OBS(r->R),
				      r->F ? r->pfeat + (size_t)k * r->F : NULL,
				      r->palpha + (size_t)k * r->E, r->ptarget + 2 * k,
				      fut, r->pend[k].src);
		r->phead = (r->phead + 1) % MAX_PENDING;
		r->pcount--;
	}
	if (r->path && t % PATH_EVERY == 0 && r->npath < r->path_cap) {
		r->path[2 * r->npath] = (float)s->arm.hand[0];
		r->path[2 * r->npath + 1] = (float)s->arm.hand[1];
		r->npath++;
	}
}

/* Reset to the start posture on task p; mean end error of the reaches of
 * `seconds` driven by `drive` (NONE or CPN). */
static double evaluate(struct runner *r, const struct ncp_task_params *p,
		       double seconds, enum drive drive)
{
	struct ncp_sim *s = r->s;
	uint64_t n0, steps = (uint64_t)llround(seconds / s->dt);
	double e0;

	struct ncp_cpn_data *keep = r->data;

	ncp_sim_reset(s);
	ncp_sim_set_task(s, p);
	if (r->st)
		ncp_cpn_state_reset(r->st);
	pending_clear(r);
	r->data = NULL;		/* evaluation is never training data */
	n0 = s->n_reaches;
	e0 = s->sum_end_error;
	for (uint64_t k = 0; k < steps; k++)
		run_step(r, drive);
	r->data = keep;
	return s->n_reaches > n0 ? (s->sum_end_error - e0) / (double)(s->n_reaches - n0)
				 : NAN;
}

static double recovery(double L, double Lh, double Ll)
{
	return (1 - (L - Lh) / (Ll - Lh)) * 100;
}

/* L_healthy, L_lesioned, L_restored, L_oracle (unless NaN), recovery_pct
 * and oracle_recovery_pct (likewise) of L = { healthy, lesioned,
 * restored, oracle }. */
static void json_losses(struct ncp_json *j, const double L[4])
{
	static const char *const keys[4] = { "L_healthy", "L_lesioned",
					     "L_restored", "L_oracle" };
	for (int i = 0; i < 4; i++) {
		if (i == 3 && isnan(L[3]))
			break;
		ncp_json_key(j, keys[i]);
		ncp_json_num(j, L[i]);
	}
	ncp_json_key(j, "recovery_pct");
	ncp_json_num(j, recovery(L[2], L[0], L[1]));
	if (!isnan(L[3])) {
		ncp_json_key(j, "oracle_recovery_pct");
		ncp_json_num(j, recovery(L[3], L[0], L[1]));
	}
}

void ncp_recovery_json_training(struct ncp_json *j, int horizon,
				double reference_r2, int rounds,
				const struct ncp_cpn_trainer *tr, int rollbacks,
				double task_loss, double en_loss)
{
	ncp_json_key(j, "horizon");
	ncp_json_int(j, horizon);
	ncp_json_key(j, "reference_r2");
	ncp_json_num(j, reference_r2);
	ncp_json_key(j, "rounds");
	ncp_json_int(j, rounds);
	ncp_json_key(j, "cpn_epochs");
	ncp_json_uint(j, ncp_cpn_trainer_cpn_epochs(tr));
	ncp_json_key(j, "en_trainings");
	ncp_json_uint(j, ncp_cpn_trainer_en_trainings(tr));
	ncp_json_key(j, "rollbacks");
	ncp_json_int(j, rollbacks);
	ncp_json_key(j, "task_loss");
	ncp_json_num(j, task_loss);
	ncp_json_key(j, "en_loss");
	ncp_json_num(j, en_loss);
}

void ncp_recovery_json_losses(struct ncp_json *j, uint64_t task_seed,
			      double eval_s, const double held[4],
			      const double co[4])
{
	ncp_json_key(j, "held_out");
	ncp_json_obj(j);
	ncp_json_key(j, "task");
	ncp_json_str(j, "random");
	ncp_json_key(j, "task_seed");
	ncp_json_uint(j, task_seed);
	ncp_json_key(j, "seconds");
	ncp_json_num(j, eval_s);
	ncp_json_end(j);
	json_losses(j, held);
	ncp_json_key(j, "centre_out");
	ncp_json_obj(j);
	json_losses(j, co);
	ncp_json_end(j);
}

/* Run `seconds` of data collection with the 10/60/30 mix (or one drive). */
static void collect(struct runner *r, double seconds, int fixed)
{
	struct ncp_sim *s = r->s;
	uint64_t steps = (uint64_t)llround(seconds / s->dt);

	for (uint64_t k = 0; k < steps; k++) {
		enum drive drive = (enum drive)fixed;
		if (fixed < 0) {
			int xd = ncp_explore_drive(&r->x, r->xstep);
			drive = xd == NCP_EXPLORE_CPN ? DRIVE_CPN :
				xd == NCP_EXPLORE_PERTURBED ? DRIVE_PERTURBED :
							      DRIVE_NOISE;
		}
		run_step(r, drive);
		if (drive != DRIVE_NONE)
			r->xstep++;
	}
}

struct curve_pt {
	double sim_min, task_loss, en_loss, rec_co;
	uint64_t epochs;
	int en_trainings;
};

static void svg_path(FILE *f, const float *p, size_t n, const char *colour,
		     double x0, double y0, double sc)
{
	if (!n)
		return;
	fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\" points=\"", colour);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%.1f,%.1f ", x0 + sc * p[2 * i], y0 - sc * p[2 * i + 1]);
	fprintf(f, "\"/>\n");
}

static int write_svg(const char *path, const float *const paths[3],
		     const size_t npaths[3], const struct ncp_task_params *co,
		     const struct curve_pt *cv, int ncv, double rec_final,
		     char *err, size_t errlen)
{
	FILE *f = fopen(path, "w");
	static const char *const colour[3] = { "#2a2", "#d22", "#22d" };
	static const char *const label[3] = { "healthy", "lesioned", "restored (CPN)" };
	const double sc = 700, x0 = 240 - sc * co->centre[0], y0 = 250 + sc * co->centre[1];

	if (!f)
		return ncp_errf(err, errlen, "cannot write %s: %s", path, ncp_strerror(-errno));
	fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"960\" height=\"480\" font-family=\"sans-serif\" font-size=\"12\">\n"
		   "<rect width=\"960\" height=\"480\" fill=\"white\"/>\n"
		   "<text x=\"10\" y=\"18\">Hand paths, centre-out (held-out CPN); target circle r = %.2f m</text>\n",
		co->radius);
	for (int k = 0; k < co->n_targets; k++) {
		double a = 2 * M_PI * k / co->n_targets;
		fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"none\" stroke=\"black\"/>\n",
			x0 + sc * (co->centre[0] + co->radius * cos(a)),
			y0 - sc * (co->centre[1] + co->radius * sin(a)));
	}
	for (int c = 0; c < 3; c++) {
		svg_path(f, paths[c], npaths[c], colour[c], x0, y0, sc);
		fprintf(f, "<text x=\"20\" y=\"%d\" fill=\"%s\">%s</text>\n", 440 + 14 * c,
			colour[c], label[c]);
	}
	/* Learning curve: centre-out recovery against simulated minutes. */
	double tmax = ncv ? cv[ncv - 1].sim_min : 1;
	const double px = 520, py = 420, pw = 400, ph = 360;
	fprintf(f, "<text x=\"%g\" y=\"18\">Recovery (centre-out, %%) vs simulated minutes of training; final held-out %.1f%%</text>\n",
		px - 40, rec_final);
	fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", px, py, px + pw, py);
	fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", px, py, px, py - ph);
	for (int v = -50; v <= 100; v += 25) {
		double y = py - ph * (v + 50) / 150.0;
		fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%d</text>\n", px - 4, y + 4, v);
		fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"#ddd\"/>\n", px, y, px + pw, y);
	}
	fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.1f min</text>\n", px + pw, py + 16, tmax);
	fprintf(f, "<polyline fill=\"none\" stroke=\"#22d\" stroke-width=\"1.5\" points=\"");
	for (int i = 0; i < ncv; i++) {
		double v = cv[i].rec_co < -50 ? -50 : cv[i].rec_co > 100 ? 100 : cv[i].rec_co;
		fprintf(f, "%.1f,%.1f ", px + pw * cv[i].sim_min / (tmax > 0 ? tmax : 1),
			py - ph * (v + 50) / 150.0);
	}
	fprintf(f, "\"/>\n</svg>\n");
	if (fclose(f))
		return ncp_errf(err, errlen, "cannot write %s", path);
	return 0;
}

static int alloc_runner(struct runner *r, const struct ncp_recovery_opts *o,
			struct ncp_sim *s, int R, int E, double d, double smax,
			double amax, uint64_t seed)
{
	memset(r, 0, sizeof(*r));
	r->o = o;
	r->s = s;
	r->R = R;
	r->E = E;
	r->H = o->train.horizon;
	r->d = d;
	r->smax = smax;
	r->amax = amax;
	struct ncp_explore_params xp = {
		.block = o->seg_s,
		.mix = { o->mix[0], o->mix[1], o->mix[2] },
		.perturb_sd = o->perturb_sd,
		.perturb_tau = o->perturb_tau,
		.noise_sd = o->noise_sd,
		.noise_hold = o->noise_hold,
		.seed = ncp_rng_derive(seed, 0x4ec),
	};
	if (ncp_explore_init(&r->x, &xp, E, s->dt))
		return -ENOMEM;
	r->obs = calloc((size_t)NCP_CPN_OBS(R), sizeof(float));
	r->theta = calloc((size_t)E, sizeof(float));
	r->astar = calloc((size_t)E, sizeof(float));
	r->alpha = calloc((size_t)E, sizeof(float));
	r->fixed = calloc((size_t)E, sizeof(float));
	r->pobs = calloc((size_t)MAX_PENDING * NCP_CPN_OBS(R), sizeof(float));
	r->palpha = calloc((size_t)MAX_PENDING * E, sizeof(float));
	r->ptarget = calloc((size_t)MAX_PENDING * 2, sizeof(float));
	r->F = o->train.en_feat;
	r->m1_decay = exp(-s->dt / ncp_reach_get_params(s->reach)->rec.tau);
	r->m1f = calloc((size_t)r->F + 1, sizeof(float));
	r->pfeat = calloc((size_t)MAX_PENDING * (r->F + 1), sizeof(float));
	return r->obs && r->theta && r->astar && r->alpha && r->fixed &&
	       r->pobs && r->palpha && r->ptarget && r->m1f && r->pfeat ? 0 : -ENOMEM;
}

static void free_runner(struct runner *r)
{
	free(r->obs);
	free(r->theta);
	free(r->astar);
	free(r->alpha);
	free(r->fixed);
	ncp_explore_fini(&r->x);
	free(r->pobs);
	free(r->palpha);
	free(r->ptarget);
	free(r->m1f);
	free(r->pfeat);
}

/* Centre-out evaluation with the hand path kept in *path (allocated). */
static double eval_path(struct runner *r, const struct ncp_task_params *co,
			double seconds, enum drive drive, float **path,
			size_t *n)
{
	size_t cap = (size_t)(seconds / r->s->dt) / PATH_EVERY + 2;
	double L;
	r->path = calloc(cap * 2, sizeof(float));
	r->path_cap = r->path ? cap : 0;
	r->npath = 0;
	L = evaluate(r, co, seconds, drive);
	*path = r->path;
	*n = r->npath;
	r->path = NULL;
	r->path_cap = 0;
	return L;
}

/* How well the EN predicts what stimulation does, on counterfactual
 * pairs: simulations A and B (the same lesioned network) reset to the
 * same task (a new random seed per pair) and run unstimulated for 0.3 to
 * 1 s; then B holds a random electrode current a* (each electrode normal
 * with sd noise_sd x alpha_max, as the exploration draws it) for H steps
 * and A nothing.  The true change is hand_B - hand_A after those H steps;
 * the EN's predicted change is EN(obs, a*) - EN(obs, 0) from the
 * observation at the pair's start.  R^2 over both coordinates of every
 * pair (1 - SSE / SS about the mean); also the RMS true change. */
static int effect_r2(const struct ncp_config *cm, struct ncp_cpn_trainer *tr,
		     struct runner *ra, int pairs, uint64_t seed, double *r2,
		     double *rms, char *err, size_t errlen)
{
	struct ncp_sim sb;
	struct runner rb;
	struct ncp_task_params p = cm->task;
	struct ncp_rng rng;
	const struct ncp_stim_params *sp = &cm->reach.stim;
	double sx[2] = { 0 }, sxx = 0, se = 0;
	int n = 0;
	float *zero = calloc((size_t)ra->E, sizeof(float));
	float *obs = calloc((size_t)NCP_CPN_OBS(ra->R), sizeof(float));
	float *feat = calloc((size_t)ra->F + 1, sizeof(float));

	if (!zero || !obs || !feat || ncp_sim_init(&sb, cm, 64, err, errlen)) {
		free(zero);
		free(obs);
		free(feat);
		return -EINVAL;
	}
	if (alloc_runner(&rb, ra->o, &sb, ra->R, ra->E, ra->d, ra->smax, ra->amax, seed)) {
		free_runner(&rb);
		ncp_sim_fini(&sb);
		free(zero);
		free(obs);
		free(feat);
		return ncp_errf(err, errlen, "out of memory");
	}
	ncp_sim_set_lesion(&sb, sp->lesion_kind, sp->lesion_fraction);
	ncp_rng_seed(&rng, ncp_rng_derive(seed, 0xeff));
	p.kind = NCP_TASK_RANDOM;
	for (int k = 0; k < pairs; k++) {
		struct runner *both[2] = { ra, &rb };
		p.seed = ncp_rng_derive(seed, 0x1000 + (uint64_t)k);
		uint64_t settle = (uint64_t)llround(ncp_rng_range(&rng, 0.3, 1.0) / ra->s->dt);
		for (int i = 0; i < 2; i++) {
			ncp_sim_reset(both[i]->s);
			ncp_sim_set_task(both[i]->s, &p);
			pending_clear(both[i]);
		}
		for (uint64_t t = 0; t < settle; t++)
			for (int i = 0; i < 2; i++)
				run_step(both[i], DRIVE_NONE);
		observe(ra);
		memcpy(obs, ra->obs, (size_t)NCP_CPN_OBS(ra->R) * sizeof(float));
		memcpy(feat, ra->m1f, (size_t)ra->F * sizeof(float));
		for (int e = 0; e < ra->E; e++)
			rb.fixed[e] = clampf((float)(ra->o->noise_sd * ra->amax *
						     ncp_rng_normal(&rng)), (float)ra->amax);
		for (int t = 0; t < ra->H; t++) {
			run_step(ra, DRIVE_NONE);
			run_step(&rb, DRIVE_FIXED);
		}
		float pa[2], pb[2];
		ncp_cpn_trainer_en_predict(tr, obs, feat, rb.fixed, pb);
		ncp_cpn_trainer_en_predict(tr, obs, feat, zero, pa);
		for (int c = 0; c < 2; c++) {
			double truth = sb.arm.hand[c] - ra->s->arm.hand[c];
			double pred = (double)pb[c] - pa[c];
			sx[c] += truth;
			sxx += truth * truth;
			se += (pred - truth) * (pred - truth);
		}
		n++;
	}
	double sst = sxx - (sx[0] * sx[0] + sx[1] * sx[1]) / n;
	*r2 = sst > 0 ? 1 - se / sst : NAN;
	*rms = sqrt(sxx / (2.0 * n));
	free_runner(&rb);
	ncp_sim_fini(&sb);
	free(zero);
	free(obs);
	free(feat);
	return 0;
}

int ncp_recovery_en_start(struct ncp_cpn_trainer *tr,
			  const struct ncp_cpn_data *d, double *en_loss,
			  char *err, size_t errlen)
{
	if (ncp_cpn_trainer_fit_norm(tr, d) || ncp_cpn_trainer_en_train(tr, d, en_loss))
		return ncp_errf(err, errlen, "the emulator could not be trained on the exploration data");
	return 0;
}

int ncp_recovery_cpn_epochs(struct ncp_cpn_trainer *tr,
			    const struct ncp_cpn_data *d, int epochs,
			    double *task_loss)
{
	int rollbacks = 0;
	for (int k = 0; k < epochs; k++)
		if (ncp_cpn_trainer_cpn_epoch(tr, d, task_loss))
			rollbacks++;
	return rollbacks;
}

int ncp_recovery_en_check(struct ncp_cpn_trainer *tr,
			  const struct ncp_cpn_data *d,
			  const struct ncp_cpn_data *fresh, size_t from,
			  double *new_loss, double *en_loss)
{
	*new_loss = ncp_cpn_trainer_en_loss(tr, fresh, from);
	return ncp_cpn_trainer_en_expired(tr, *new_loss) &&
	       ncp_cpn_trainer_en_train(tr, d, en_loss) ? 1 : 0;
}

int ncp_recovery_explore(const struct ncp_config *c,
			 const struct ncp_recovery_opts *o,
			 const struct ncp_task_params *task, double seconds,
			 uint64_t seed, struct ncp_cpn_data *data, char *err,
			 size_t errlen)
{
	struct ncp_config cm = *c;
	const struct ncp_stim_params *sp = &c->reach.stim;
	struct ncp_sim sim;
	struct runner r;
	double amax = o->spec.alpha_max < sp->max ? o->spec.alpha_max : sp->max;
	int ret = 0;

	if (data->R != c->reach.rec.electrodes || data->E != sp->electrodes)
		return ncp_errf(err, errlen, "exploration data for %d recording and %d stimulation electrodes; the configuration has %d and %d",
				data->R, data->E, c->reach.rec.electrodes, sp->electrodes);
	cm.reach.stim.source = NCP_STIM_SRC_NONE;
	if (ncp_sim_init(&sim, &cm, 64, err, errlen))
		return -EINVAL;
	if (alloc_runner(&r, o, &sim, data->R, data->E,
			 pow(sp->decay, c->reach.dt / 0.01), sp->max, amax, seed)) {
		ret = ncp_errf(err, errlen, "out of memory");
		goto out;
	}
	ncp_sim_set_lesion(&sim, sp->lesion_kind, sp->lesion_fraction);
	ncp_sim_reset(&sim);
	ncp_sim_set_task(&sim, task);
	r.data = data;
	collect(&r, seconds, DRIVE_NOISE);
out:
	free_runner(&r);
	ncp_sim_fini(&sim);
	return ret;
}

int ncp_recovery_run(const struct ncp_config *c,
		     const struct ncp_recovery_opts *o, char *err,
		     size_t errlen)
{
	struct ncp_config cm = *c, co_cfg = *c;
	struct ncp_sim sim, osim;
	struct runner r, ro;
	struct ncp_cpn_spec spec = o->spec;
	struct ncp_cpn_model *cpn = NULL;
	struct ncp_cpn_trainer *tr = NULL;
	struct ncp_cpn_data data;
	struct ncp_cpn_ref ref;
	struct ncp_task_params rnd = c->task, eval_rnd = c->task, co = c->task;
	const struct ncp_stim_params *sp = &c->reach.stim;
	float *paths[3] = { NULL, NULL, NULL };
	size_t npaths[3] = { 0, 0, 0 };
	struct curve_pt *cv = NULL;
	struct ncp_cpn_model *best = NULL;
	double best_L = INFINITY, best_min = NAN;
	int ncv = 0, ret = -EINVAL, lk = sp->lesion_kind;
	double lf = sp->lesion_fraction;
	uint64_t t0 = ncp_now_ns();
	bool have_sim = false, have_data = false;
	struct ncp_json j;

	if (c->reach.arm.links != 2)
		return ncp_errf(err, errlen, "the co-processor takes the 2-link "
				"arm's state (arm.links is %d)", c->reach.arm.links);

	memset(&r, 0, sizeof(r));
	if (lk == NCP_LESION_NONE || !(lf > 0))
		return ncp_errf(err, errlen, "the experiment needs a lesion: set lesion.kind (pmc-m1 or m1-silence) and lesion.fraction > 0");
	if (sp->source != NCP_STIM_SRC_NONE)
		return ncp_errf(err, errlen, "the experiment drives the electrodes itself: stim.source must be none (it is %s)",
				ncp_stim_source_names[sp->source]);
	cm.reach.stim.source = NCP_STIM_SRC_NONE;
	co_cfg.reach.stim.source = NCP_STIM_SRC_ORACLE;
	spec.electrodes = sp->electrodes;
	spec.rec = c->reach.rec.electrodes;
	spec.dt = c->reach.dt;
	spec.decay = sp->decay;
	spec.stim_max = sp->max;
	if (spec.alpha_max > spec.stim_max)
		spec.alpha_max = spec.stim_max;
	rnd.kind = NCP_TASK_RANDOM;
	eval_rnd.kind = NCP_TASK_RANDOM;
	eval_rnd.seed = o->eval_seed ? o->eval_seed : c->task.seed + 1000;
	co.kind = NCP_TASK_CENTRE_OUT;
	struct ncp_task_params val_rnd = eval_rnd;
	val_rnd.seed = c->task.seed + 500;
	const double co_s = co.n_targets * 2 * co.period;

	cpn = ncp_cpn_model_new(&spec, c->reach.seed, err, errlen);
	if (!cpn)
		return -EINVAL;
	if (ncp_sim_init(&sim, &cm, 64, err, errlen))
		goto out;
	have_sim = true;
	double d = pow(sp->decay, c->reach.dt / 0.01);
	if (alloc_runner(&r, o, &sim, spec.rec, spec.electrodes, d, spec.stim_max,
			 spec.alpha_max, c->reach.seed ^ c->task.seed)) {
		ret = ncp_errf(err, errlen, "out of memory");
		goto out;
	}
	size_t cap = (size_t)((o->train_s + o->healthy_s) / c->reach.dt / o->sample_every) + 16;
	if (ncp_cpn_data_init_feat(&data, spec.rec, spec.electrodes, o->train.en_feat, cap)) {
		ret = ncp_errf(err, errlen, "out of memory");
		goto out;
	}
	have_data = true;

	/* Healthy baseline. */
	ncp_sim_set_lesion(&sim, NCP_LESION_NONE, 0);
	double Lh = evaluate(&r, &eval_rnd, o->eval_s, DRIVE_NONE);
	double Lh_co = eval_path(&r, &co, co_s, DRIVE_NONE, &paths[0], &npaths[0]);
	/* The healthy reference, on the training task. */
	ncp_sim_reset(&sim);
	ncp_sim_set_task(&sim, &rnd);
	pending_clear(&r);
	r.data = &data;
	collect(&r, o->healthy_s, DRIVE_NONE);
	r.data = NULL;
	if (ncp_cpn_ref_fit(&ref, &data)) {
		ret = ncp_errf(err, errlen, "the healthy reference could not be fitted");
		goto out;
	}
	data.n = 0;
	/* Lesion. */
	ncp_sim_set_lesion(&sim, lk, lf);
	double Ll = evaluate(&r, &eval_rnd, o->eval_s, DRIVE_NONE);
	double Ll_co = eval_path(&r, &co, co_s, DRIVE_NONE, &paths[1], &npaths[1]);
	/* The oracle on the same layout and lesion. */
	if (ncp_sim_init(&osim, &co_cfg, 64, err, errlen))
		goto out;
	if (alloc_runner(&ro, o, &osim, spec.rec, spec.electrodes, d, spec.stim_max,
			 spec.alpha_max, 1)) {
		ncp_sim_fini(&osim);
		free_runner(&ro);
		ret = ncp_errf(err, errlen, "out of memory");
		goto out;
	}
	double Lo = evaluate(&ro, &eval_rnd, o->eval_s, DRIVE_NONE);
	double Lo_co = evaluate(&ro, &co, co_s, DRIVE_NONE);
	ncp_sim_fini(&osim);
	free_runner(&ro);

	/* Exploration. */
	uint64_t wall_train0 = ncp_now_ns();
	tr = ncp_cpn_trainer_new(cpn, &o->train, err, errlen);
	if (!tr)
		goto out;
	ncp_cpn_trainer_set_ref(tr, &ref);
	r.st = ncp_cpn_state_new(ncp_cpn_trainer_model(tr));
	if (!r.st) {
		ret = ncp_errf(err, errlen, "out of memory");
		goto out;
	}
	ncp_sim_reset(&sim);
	ncp_sim_set_task(&sim, &rnd);
	pending_clear(&r);
	r.data = &data;
	collect(&r, o->explore_s, DRIVE_NOISE);
	double sim_used = o->explore_s, en_loss = NAN, task_loss = NAN;
	if (ncp_recovery_en_start(tr, &data, &en_loss, err, errlen))
		goto out;
	int rounds = 0, rollbacks = 0, maxcv = (int)(o->train_s / o->round_s) + 4;
	cv = calloc((size_t)maxcv, sizeof(*cv));
	if (!cv) {
		ret = ncp_errf(err, errlen, "out of memory");
		goto out;
	}
	while (sim_used + 1e-9 < o->train_s) {
		rollbacks += ncp_recovery_cpn_epochs(tr, &data, o->cpn_epochs, &task_loss);
		uint64_t added0 = data.added;
		double chunk = fmin(o->round_s, o->train_s - sim_used);
		collect(&r, chunk, -1);
		sim_used += chunk;
		rounds++;
		uint64_t fresh = data.added - added0;
		size_t from = fresh < data.n ? data.n - (size_t)fresh : 0;
		double new_loss;
		rollbacks += ncp_recovery_en_check(tr, &data, &data, from, &new_loss, &en_loss);
		if (o->verbose)
			fprintf(stderr, "round %d sim %.0f s: task loss %.3g m^2, EN loss new %.3g (after %.3g), EN trainings %llu\n",
				rounds, sim_used, task_loss, new_loss, en_loss,
				(unsigned long long)ncp_cpn_trainer_en_trainings(tr));
		if (o->curve_every > 0 && (rounds % o->curve_every == 0 ||
					   sim_used + 1e-9 >= o->train_s) && ncv < maxcv) {
			/* The training simulation continues where it was: the
			 * curve runs on a copy of nothing; its reset costs the
			 * training stream a restart of the task (same seed
			 * stream, so the run stays deterministic). */
			struct curve_pt *p = &cv[ncv++];
			p->sim_min = sim_used / 60;
			p->task_loss = task_loss;
			p->en_loss = new_loss;
			p->epochs = ncp_cpn_trainer_cpn_epochs(tr);
			p->en_trainings = (int)ncp_cpn_trainer_en_trainings(tr);
			p->rec_co = recovery(evaluate(&r, &co, co_s, DRIVE_CPN), Lh_co, Ll_co);
			if (o->select) {
				/* Keep the CPN with the least mean end error on a
				 * validation task seed (neither training nor held out). */
				double Lv = evaluate(&r, &val_rnd, o->eval_s / 4, DRIVE_CPN);
				if (!best)
					best = ncp_cpn_model_clone(ncp_cpn_trainer_model(tr));
				else if (Lv < best_L)
					ncp_cpn_model_copy(best, ncp_cpn_trainer_model(tr));
				if (!best) {
					ret = ncp_errf(err, errlen, "out of memory");
					goto out;
				}
				if (Lv < best_L) {
					best_L = Lv;
					best_min = sim_used / 60;
				}
			}
			if (o->verbose)
				fprintf(stderr, "  centre-out recovery %.1f%%\n", p->rec_co);
			ncp_sim_reset(&sim);
			rnd.seed = ncp_rng_derive(c->task.seed, (uint64_t)rounds);
			ncp_sim_set_task(&sim, &rnd);
			pending_clear(&r);
		}
	}
	double wall_train = (ncp_now_ns() - wall_train0) / 1e9;
	r.data = NULL;

	/* Held-out evaluation. */
	if (best)
		ncp_cpn_state_set_model(r.st, best);
	double Lr = evaluate(&r, &eval_rnd, o->eval_s, DRIVE_CPN);
	double Lr_co = eval_path(&r, &co, co_s, DRIVE_CPN, &paths[2], &npaths[2]);
	double wall = (ncp_now_ns() - t0) / 1e9;
	double eff_r2 = NAN, eff_rms = NAN;
	if (o->effect_pairs > 0 &&
	    effect_r2(&cm, tr, &r, o->effect_pairs, c->task.seed + 2000, &eff_r2,
		      &eff_rms, err, errlen))
		goto out;

	if (o->out) {
		char cfgjson[512];
		snprintf(cfgjson, sizeof(cfgjson),
			 "{\"lesion\": \"%s\", \"fraction\": %g, \"horizon\": %d, \"train_s\": %g, \"recovery\": %.3f}",
			 ncp_lesion_kind_names[lk], lf, o->train.horizon, o->train_s,
			 recovery(Lr, Lh, Ll));
		struct ncp_cpn_model *out =
			ncp_cpn_model_clone(best ? best : ncp_cpn_trainer_model(tr));
		if (!out || ncp_cpn_model_set_config(out, cfgjson) ||
		    ncp_cpn_model_save(out, o->out, err, errlen)) {
			if (!out)
				ncp_errf(err, errlen, "out of memory");
			ncp_cpn_model_free(out);
			goto out;
		}
		ncp_cpn_model_free(out);
	}
	if (o->svg && write_svg(o->svg, (const float *const *)paths, npaths, &co,
				cv, ncv, recovery(Lr, Lh, Ll), err, errlen))
		goto out;

	ncp_json_init(&j);
	ncp_json_obj(&j);
	ncp_json_key(&j, "lesion");
	ncp_json_obj(&j);
	ncp_json_key(&j, "kind");
	ncp_json_str(&j, ncp_lesion_kind_names[lk]);
	ncp_json_key(&j, "fraction");
	ncp_json_num(&j, lf);
	ncp_json_end(&j);
	ncp_json_key(&j, "electrodes");
	ncp_json_int(&j, spec.electrodes);
	ncp_json_key(&j, "rec_electrodes");
	ncp_json_int(&j, spec.rec);
	ncp_json_key(&j, "layout");
	ncp_json_str(&j, ncp_stim_layout_names[sp->layout]);
	ncp_json_key(&j, "spread");
	ncp_json_num(&j, sp->spread);
	{
		const double held[4] = { Lh, Ll, Lr, Lo };
		const double cent[4] = { Lh_co, Ll_co, Lr_co, Lo_co };
		ncp_recovery_json_losses(&j, eval_rnd.seed, o->eval_s, held,
					 cent);
	}
	ncp_json_key(&j, "sim_minutes_training");
	ncp_json_num(&j, sim_used / 60);
	ncp_json_key(&j, "sim_minutes_healthy");
	ncp_json_num(&j, o->healthy_s / 60);
	ncp_recovery_json_training(&j, o->train.horizon, ref.r2, rounds, tr,
				   rollbacks, task_loss, en_loss);
	ncp_json_key(&j, "selected");
	if (best) {
		ncp_json_obj(&j);
		ncp_json_key(&j, "task_seed");
		ncp_json_uint(&j, val_rnd.seed);
		ncp_json_key(&j, "L_validation");
		ncp_json_num(&j, best_L);
		ncp_json_key(&j, "sim_minutes");
		ncp_json_num(&j, best_min);
		ncp_json_end(&j);
	} else {
		ncp_json_null(&j);
	}
	ncp_json_key(&j, "en_effect");
	ncp_json_obj(&j);
	ncp_json_key(&j, "pairs");
	ncp_json_int(&j, o->effect_pairs);
	ncp_json_key(&j, "r2");
	ncp_json_num(&j, eff_r2);
	ncp_json_key(&j, "true_change_rms");
	ncp_json_num(&j, eff_rms);
	ncp_json_end(&j);
	ncp_json_key(&j, "samples");
	ncp_json_uint(&j, data.n);
	ncp_json_key(&j, "curve");
	ncp_json_arr(&j);
	for (int i = 0; i < ncv; i++) {
		ncp_json_obj(&j);
		ncp_json_key(&j, "sim_minutes");
		ncp_json_num(&j, cv[i].sim_min);
		ncp_json_key(&j, "cpn_epochs");
		ncp_json_uint(&j, cv[i].epochs);
		ncp_json_key(&j, "en_trainings");
		ncp_json_int(&j, cv[i].en_trainings);
		ncp_json_key(&j, "task_loss");
		ncp_json_num(&j, cv[i].task_loss);
		ncp_json_key(&j, "en_loss_new");
		ncp_json_num(&j, cv[i].en_loss);
		ncp_json_key(&j, "centre_out_recovery_pct");
		ncp_json_num(&j, cv[i].rec_co);
		ncp_json_end(&j);
	}
	ncp_json_end(&j);
	ncp_json_key(&j, "wall_seconds");
	ncp_json_num(&j, wall);
	ncp_json_key(&j, "wall_seconds_training");
	ncp_json_num(&j, wall_train);
	ncp_json_end(&j);
	if (ncp_json_finish(&j) == 0)
		puts(j.buf);
	ncp_json_fini(&j);
	ret = 0;
out:
	for (int k = 0; k < 3; k++)
		free(paths[k]);
	free(cv);
	ncp_cpn_state_free(r.st);
	ncp_cpn_model_free(best);
	ncp_cpn_trainer_free(tr);
	ncp_cpn_model_free(cpn);
	if (have_data)
		ncp_cpn_data_fini(&data);
	free_runner(&r);
	if (have_sim)
		ncp_sim_fini(&sim);
	return ret;
}

int ncp_recovery_evaluate(const struct ncp_config *c,
			  const struct ncp_recovery_opts *o,
			  const struct ncp_cpn_model *m,
			  struct ncp_recovery_eval *ev, char *err,
			  size_t errlen)
{
	struct ncp_config cm = *c;
	const struct ncp_stim_params *sp = &c->reach.stim;
	const struct ncp_cpn_spec *spec = ncp_cpn_model_spec(m);
	struct ncp_task_params rnd = c->task, co = c->task;
	struct ncp_cpn_expect ex = {
		.electrodes = sp->electrodes, .rec = c->reach.rec.electrodes,
		.dt = c->reach.dt, .stim_max = sp->max,
	};
	struct ncp_sim sim;
	struct runner r;
	int ret;

	if (sp->lesion_kind == NCP_LESION_NONE || !(sp->lesion_fraction > 0))
		return ncp_errf(err, errlen, "the evaluation needs a lesion: set lesion.kind (pmc-m1 or m1-silence) and lesion.fraction > 0");
	if (ncp_cpn_model_check(m, &ex, err, errlen))
		return -EINVAL;
	cm.reach.stim.source = NCP_STIM_SRC_NONE;
	cm.reach.stim.noise = 0;
	rnd.kind = NCP_TASK_RANDOM;
	rnd.seed = o->eval_seed ? o->eval_seed : c->task.seed + 1000;
	co.kind = NCP_TASK_CENTRE_OUT;
	const double co_s = co.n_targets * 2 * co.period;
	if (ncp_sim_init(&sim, &cm, 64, err, errlen))
		return -EINVAL;
	double d = pow(sp->decay, c->reach.dt / 0.01);
	ret = alloc_runner(&r, o, &sim, spec->rec, spec->electrodes, d,
			   spec->stim_max, spec->alpha_max,
			   c->reach.seed ^ c->task.seed);
	if (!ret)
		r.st = ncp_cpn_state_new(m);
	if (ret || !r.st) {
		ret = ncp_errf(err, errlen, "out of memory");
		goto out;
	}
	memset(ev, 0, sizeof(*ev));
	ev->task_seed = rnd.seed;
	ncp_sim_set_lesion(&sim, NCP_LESION_NONE, 0);
	ev->L_healthy = evaluate(&r, &rnd, o->eval_s, DRIVE_NONE);
	ev->co_healthy = evaluate(&r, &co, co_s, DRIVE_NONE);
	ncp_sim_set_lesion(&sim, sp->lesion_kind, sp->lesion_fraction);
	ev->L_lesioned = evaluate(&r, &rnd, o->eval_s, DRIVE_NONE);
	ev->co_lesioned = evaluate(&r, &co, co_s, DRIVE_NONE);
	ev->L_restored = evaluate(&r, &rnd, o->eval_s, DRIVE_CPN);
	ev->co_restored = evaluate(&r, &co, co_s, DRIVE_CPN);
	ev->recovery_pct = recovery(ev->L_restored, ev->L_healthy, ev->L_lesioned);
	ev->co_recovery_pct = recovery(ev->co_restored, ev->co_healthy,
				       ev->co_lesioned);
	ret = 0;
out:
	ncp_cpn_state_free(r.st);
	free_runner(&r);
	ncp_sim_fini(&sim);
	return ret;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: ncp-train --cpn [--out FILE.safetensors] [--svg FILE.svg] [--set KEY=VALUE]...\n"
		"                 [--config FILE] [--train-s S] [--explore-s S] [--round-s S] [--healthy-s S]\n"
		"                 [--eval-s S] [--eval-seed N] [--horizon H] [--cpn-epochs N] [--en-epochs N]\n"
		"                 [--en-batches N] [--cpn-batches N] [--cpn-average B] [--act-penalty X]\n"
		"                 [--en-hidden N] [--en-ensemble K] [--en-disagree X]\n"
		"                 [--hidden A,B] [--alpha-max X] [--noise-sd F] [--perturb-sd F]\n"
		"                 [--mix C,P,N] [--sample-every N] [--cpn-lr X] [--en-lr X] [--seed N]\n"
		"                 [--effect-pairs N] [--curve-every N] [--[no-]select] [--[no-]anchor]\n"
		"                 [--[no-]en-m1] [--verbose]\n"
		"   or: ncp-train --cpn --data REC [REC...] [--out FILE.safetensors] [--rounds N]\n"
		"                 [--val-split F] [--block S] [--no-eval] [the training options above]\n"
		"Runs the co-processor experiment (docs/coprocessor.md) and prints one JSON object;\n"
		"with --data, trains the EN and the CPN from recordings (healthy ones without\n"
		"stimulation, lesioned ones with exploration) and evaluates the CPN in the closed\n"
		"loop on the recordings' network.\n");
}

static int num_arg(const char *opt, const char *v, double lo, double hi,
		   double *out)
{
	char *end;
	double x;
	if (!v) {
		fprintf(stderr, "ncp-train: %s needs a value\n", opt);
		return -1;
	}
	x = strtod(v, &end);
	if (!*v || *end || !(x >= lo && x <= hi)) {
		fprintf(stderr, "ncp-train: %s %s: expected a number in [%g, %g]\n", opt, v, lo, hi);
		return -1;
	}
	*out = x;
	return 0;
}

/* Options of one mode only: the simulation's, and training from
 * recordings'. */
static const char *const sim_only[] = {
	"--svg", "--select", "--no-select", "--train-s", "--explore-s", "--round-s",
	"--healthy-s", "--curve-every", "--effect-pairs", "--noise-sd",
	"--noise-hold", "--perturb-sd", "--mix",
	/* M1 features for the EN are made by the simulation only. */
	"--en-m1",
};
static const char *const data_only[] = {
	"--rounds", "--val-split", "--block", "--no-eval",
};

static const char *one_of(const char *a, const char *const *list, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!strcmp(a, list[k]))
			return list[k];
	return NULL;
}

int ncp_recovery_main(int argc, char **argv)
{
	const char *sim_opt = NULL, *data_opt = NULL;
	struct ncp_config c;
	struct ncp_recovery_opts o;
	char err[1024];
	double x;

	ncp_config_defaults(&c);
	ncp_recovery_opts_default(&o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (one_of(a, sim_only, NCP_ARRAY_SIZE(sim_only)))
			sim_opt = a;
		if (one_of(a, data_only, NCP_ARRAY_SIZE(data_only)))
			data_opt = a;
#define NUM(name, lo, hi, dst)                                   \
	else if (!strcmp(a, name)) {                             \
		if (num_arg(a, v, lo, hi, &x))                   \
			return 2;                                \
		dst;                                             \
		i++;                                             \
	}
		if (!strcmp(a, "--cpn")) {
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else if (!strcmp(a, "--select")) {
			o.select = 1;
		} else if (!strcmp(a, "--no-select")) {
			o.select = 0;
		} else if (!strcmp(a, "--verbose")) {
			o.verbose = 1;
		} else if (!strcmp(a, "--no-eval")) {
			o.no_eval = true;
		} else if (!strcmp(a, "--data")) {
			/* Every following argument up to the next option. */
			while (i + 1 < argc && argv[i + 1][0] != '-') {
				if (o.ndata == NCP_RECOVERY_MAX_DATA) {
					fprintf(stderr, "ncp-train: at most %d recordings\n",
						NCP_RECOVERY_MAX_DATA);
					return 2;
				}
				o.data[o.ndata++] = argv[++i];
			}
			if (!o.ndata) {
				fprintf(stderr, "ncp-train: --data needs recordings\n");
				return 2;
			}
		} else if (!strcmp(a, "--anchor")) {
			o.train.anchor = true;
		} else if (!strcmp(a, "--no-anchor")) {
			o.train.anchor = false;
		} else if (!strcmp(a, "--en-m1")) {
			o.en_m1 = 1;
		} else if (!strcmp(a, "--no-en-m1")) {
			o.en_m1 = 0;
		} else if (!strcmp(a, "--out") || !strcmp(a, "--svg") || !strcmp(a, "--set") ||
			   !strcmp(a, "--config") || !strcmp(a, "--hidden") || !strcmp(a, "--mix")) {
			if (!v) {
				fprintf(stderr, "ncp-train: %s needs a value\n", a);
				return 2;
			}
			i++;
			if (!strcmp(a, "--out")) {
				o.out = v;
			} else if (!strcmp(a, "--svg")) {
				o.svg = v;
			} else if (!strcmp(a, "--set") || !strcmp(a, "--config")) {
				if (o.ncfg == NCP_RECOVERY_MAX_CFG) {
					fprintf(stderr, "ncp-train: at most %d --set and --config\n",
						NCP_RECOVERY_MAX_CFG);
					return 2;
				}
				o.cfg_file[o.ncfg] = !strcmp(a, "--config");
				o.cfg[o.ncfg++] = v;
			} else if (!strcmp(a, "--mix")) {
				if (sscanf(v, "%lf,%lf,%lf", &o.mix[0], &o.mix[1], &o.mix[2]) != 3 ||
				    !(o.mix[0] >= 0 && o.mix[1] >= 0 && o.mix[2] >= 0) ||
				    fabs(o.mix[0] + o.mix[1] + o.mix[2] - 1) > 1e-6) {
					fprintf(stderr, "ncp-train: --mix %s: expected three shares summing to 1\n", v);
					return 2;
				}
			} else {
				const char *p = strcmp(v, "none") ? v : "";
				o.spec.nhidden = 0;
				while (*p && o.spec.nhidden < NCP_CPN_MAX_HIDDEN) {
					char *end;
					long h = strtol(p, &end, 10);
					if (end == p || h < 1 || h > NCP_CPN_MAX_UNITS) {
						fprintf(stderr, "ncp-train: --hidden %s: expected sizes like 32,32 (or none)\n", v);
						return 2;
					}
					o.spec.hidden[o.spec.nhidden++] = (int)h;
					p = *end == ',' ? end + 1 : end;
					if (*end && *end != ',')
						break;
				}
			}
		}
		NUM("--train-s", 1, 1e6, o.train_s = x)
		NUM("--explore-s", 1, 1e6, o.explore_s = x)
		NUM("--round-s", 0.1, 1e6, o.round_s = x)
		NUM("--healthy-s", 1, 1e6, o.healthy_s = x)
		NUM("--eval-s", 1, 1e6, o.eval_s = x)
		NUM("--eval-seed", 1, 1e15, o.eval_seed = (uint64_t)x)
		NUM("--horizon", 1, 10000, o.train.horizon = (int)x)
		NUM("--cpn-epochs", 0, 1e6, o.cpn_epochs = (int)x)
		NUM("--en-epochs", 1, 1e6, o.train.en_epochs = (int)x)
		NUM("--effect-pairs", 0, 1e6, o.effect_pairs = (int)x)
		NUM("--act-penalty", 0, 1e6, o.train.act_penalty = x)
		NUM("--cpn-average", 0, 0.999999, o.train.cpn_average = x)
		NUM("--en-batches", 0, 1e9, o.train.en_batches = (int)x)
		NUM("--cpn-batches", 0, 1e9, o.train.cpn_batches = (int)x)
		NUM("--en-hidden", 1, NCP_CPN_MAX_UNITS, o.train.en_hidden = (int)x)
		NUM("--en-ensemble", 1, NCP_CPN_MAX_ENSEMBLE, o.train.en_ensemble = (int)x)
		NUM("--en-disagree", 0, 1e6, o.train.en_disagree = x)
		NUM("--alpha-max", 1e-3, 1e6, o.spec.alpha_max = x)
		NUM("--noise-sd", 0, 10, o.noise_sd = x)
		NUM("--noise-hold", 0, 10, o.noise_hold = x)
		NUM("--perturb-sd", 0, 10, o.perturb_sd = x)
		NUM("--sample-every", 1, 1e6, o.sample_every = (int)x)
		NUM("--cpn-lr", 0, 1, o.train.cpn_lr = x)
		NUM("--en-lr", 0, 1, o.train.en_lr = x)
		NUM("--seed", 0, 1e15, o.train.seed = (uint64_t)x)
		NUM("--curve-every", 0, 1e6, o.curve_every = (int)x)
		NUM("--rounds", 0, 1e6, o.rounds = (int)x)
		NUM("--val-split", 0, 0.9, o.val_frac = x)
		NUM("--block", 0.1, 1e6, o.block_s = x)
		else {
			fprintf(stderr, "ncp-train: unknown option %s\n", a);
			usage(stderr);
			return 2;
		}
#undef NUM
	}
	if (o.ndata && sim_opt) {
		fprintf(stderr, "ncp-train: %s is for the simulated experiment, not for training from recordings (--data)\n",
			sim_opt);
		return 2;
	}
	if (!o.ndata && data_opt) {
		fprintf(stderr, "ncp-train: %s is for training from recordings: give them with --data\n",
			data_opt);
		return 2;
	}
	if (o.ndata) {
		if (ncp_recovery_rec_run(&o, err, sizeof(err))) {
			fprintf(stderr, "ncp-train: %s\n", err);
			return 1;
		}
		return 0;
	}
	if (ncp_recovery_config(&c, &o, err, sizeof(err))) {
		fprintf(stderr, "ncp-train: %s\n", err);
		return 2;
	}
	if (ncp_config_validate(&c, err, sizeof(err))) {
		fprintf(stderr, "ncp-train: %s\n", err);
		return 2;
	}
	o.train.en_feat = o.en_m1 ? c.reach.stim.electrodes : 0;
	if (o.train.horizon * 2 > MAX_PENDING * o.sample_every) {
		fprintf(stderr, "ncp-train: --horizon %d is too long for --sample-every %d\n",
			o.train.horizon, o.sample_every);
		return 2;
	}
	if (ncp_recovery_run(&c, &o, err, sizeof(err))) {
		fprintf(stderr, "ncp-train: %s\n", err);
		return 1;
	}
	return 0;
}
