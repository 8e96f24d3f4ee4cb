#include "daemon/ncp_recovery_rec.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/io/ncp_recording.h"

/* An electrode current at most this large (current units; stim.max is
 * 20 by default) counts as no stimulation for the healthy reference. */
#define UNSTIMULATED 1e-3f

/* Settings that make the network the CPN runs on: every recording's
 * configuration, and the evaluation's, must agree on them. */
static const char *const network_keys[] = {
	"seed", "dt", "reach.kp", "reach.kv", "reach.synapse",
	"reach.m1_neurons", "reach.cb_neurons", "reach.error_neurons",
	"reach.s1_neurons", "reach.adapt", "stim.electrodes", "stim.spread",
	"stim.max", "stim.layout", "stim.jitter", "stim.seed",
	"ncp.rec_electrodes", "ncp.rec_spread", "ncp.rec_tau", "ncp.rec_layout",
	"ncp.rec_jitter", "ncp.rec_seed",
};

struct recs {
	struct ncp_recording *r[NCP_RECOVERY_MAX_DATA];
	int n;
};

static void recs_close(struct recs *rs)
{
	for (int i = 0; i < rs->n; i++)
		ncp_recording_close(rs->r[i]);
	rs->n = 0;
}

/* Open every recording and check it holds what the co-processor reads, the
 * same R, E and dt in all. */
static int open_all(const struct ncp_recovery_opts *o, struct recs *rs,
		    char *err, size_t errlen)
{
	char e[900];
	for (int i = 0; i < o->ndata; i++) {
		struct ncp_recording *r = ncp_recording_open(o->data[i], e, sizeof(e));
		if (!r)
			return ncp_errf(err, errlen, "%s", e);
		rs->r[rs->n++] = r;
		if (!r->rec)
			return ncp_errf(err, errlen,
					"%s: no rec.npy and alpha.npy (meta.json has no rec_electrodes): the recording was made before ncpd recorded what the co-processor observes; record it again",
					o->data[i]);
		if (r->joints != 2)
			return ncp_errf(err, errlen,
					"%s: an arm of %d links; the co-processor takes the 2-link arm's state",
					o->data[i], r->joints);
		const struct ncp_recording *r0 = rs->r[0];
		if (r->rec_channels != r0->rec_channels)
			return ncp_errf(err, errlen,
					"%s: %d recording electrodes (rec.npy), %s has %d",
					o->data[i], r->rec_channels, o->data[0], r0->rec_channels);
		if (r->stim_channels != r0->stim_channels)
			return ncp_errf(err, errlen,
					"%s: %d stimulation electrodes (stim.npy, alpha.npy), %s has %d",
					o->data[i], r->stim_channels, o->data[0], r0->stim_channels);
		if (r->dt != r0->dt)
			return ncp_errf(err, errlen, "%s: dt %g s, %s has %g s",
					o->data[i], r->dt, o->data[0], r0->dt);
		if (r->rec_channels > NCP_CPN_MAX_ELECTRODES ||
		    r->stim_channels > NCP_CPN_MAX_ELECTRODES)
			return ncp_errf(err, errlen, "%s: more than %d electrodes",
					o->data[i], NCP_CPN_MAX_ELECTRODES);
	}
	return 0;
}

/* A recording's own configuration (defaults under its meta.json's
 * "config"); *has is false when it has none. */
static int rec_config(const struct ncp_recording *r, struct ncp_config *c,
		      bool *has, char *err, size_t errlen)
{
	char e[900];
	ncp_config_defaults(c);
	*has = r->config_json != NULL;
	if (*has && ncp_config_load_string(c, r->config_json, strlen(r->config_json),
					   "config", e, sizeof(e)))
		return ncp_errf(err, errlen, "%s/meta.json: %s", r->dir, e);
	return 0;
}

/* The configuration of the run: the first lesioned recording's (the first
 * recording's when none says it is lesioned), then --config and --set;
 * every recording's network settings must agree with it, and its
 * electrodes and dt with the recordings'. */
static int run_config(const struct ncp_recovery_opts *o, const struct recs *rs,
		      struct ncp_config *c, char *err, size_t errlen)
{
	struct ncp_config rc;
	bool has, any = false;
	int base = 0;

	for (int i = 0; i < rs->n; i++) {
		if (rec_config(rs->r[i], &rc, &has, err, errlen))
			return -EINVAL;
		if (has && rc.reach.stim.lesion_kind != NCP_LESION_NONE) {
			base = i;
			break;
		}
	}
	if (rec_config(rs->r[base], c, &has, err, errlen) ||
	    ncp_recovery_config(c, o, err, errlen))
		return -EINVAL;
	for (int i = 0; i < rs->n; i++) {
		if (rec_config(rs->r[i], &rc, &has, err, errlen))
			return -EINVAL;
		if (!has)
			continue;
		any = true;
		for (size_t k = 0; k < NCP_ARRAY_SIZE(network_keys); k++) {
			char a[128], b[128];
			if (ncp_config_get(c, network_keys[k], a, sizeof(a)) ||
			    ncp_config_get(&rc, network_keys[k], b, sizeof(b)))
				return ncp_errf(err, errlen, "no setting %s", network_keys[k]);
			if (strcmp(a, b))
				return ncp_errf(err, errlen,
						"%s was recorded with %s %s, the run has %s %s: one network for all",
						o->data[i], network_keys[k], b, network_keys[k], a);
		}
	}
	if (!any)
		fprintf(stderr, "ncp-train: the recordings hold no configuration: the network is the one of the defaults and --set\n");
	if (ncp_config_validate(c, err, errlen))
		return -EINVAL;
	const struct ncp_recording *r0 = rs->r[0];
	if (c->reach.rec.electrodes != r0->rec_channels)
		return ncp_errf(err, errlen,
				"ncp.rec_electrodes is %d, the recordings have %d recording electrodes",
				c->reach.rec.electrodes, r0->rec_channels);
	if (c->reach.stim.electrodes != r0->stim_channels)
		return ncp_errf(err, errlen,
				"stim.electrodes is %d, the recordings have %d stimulation electrodes",
				c->reach.stim.electrodes, r0->stim_channels);
	if (c->reach.dt != r0->dt)
		return ncp_errf(err, errlen, "reach.dt is %g s, the recordings' dt %g s",
				c->reach.dt, r0->dt);
	return 0;
}

/* A value that must be finite in a recorded (not dropped) row. */
static int check_row(const struct ncp_recording *r, const char *file,
		     const float *v, int cols, uint64_t row, char *err,
		     size_t errlen)
{
	for (int k = 0; k < cols; k++)
		if (!isfinite(v[k]))
			return ncp_errf(err, errlen,
					"%s/%s: row %" PRIu64 " column %d is %g in a step that was recorded (lesion.npy does not mark it dropped)",
					r->dir, file, row, k, (double)v[k]);
	return 0;
}

struct counts {
	size_t healthy, lesioned, val;
	uint64_t dropped_rows;
	size_t healthy_stimulated;	/* healthy samples left out */
	size_t cut;			/* samples across a drop or a lesion change */
};

/* The samples of one recording into healthy, train and val; *block counts
 * the validation blocks over all recordings. */
static int add_samples(const struct ncp_recovery_opts *o,
		       const struct ncp_recording *r, struct ncp_cpn_data *healthy,
		       struct ncp_cpn_data *train, struct ncp_cpn_data *val,
		       uint64_t *block, struct counts *n, char *err,
		       size_t errlen)
{
	const int R = r->rec_channels, E = r->stim_channels, H = o->train.horizon;
	const uint64_t T = r->steps;
	uint64_t blk_steps = (uint64_t)llround(o->block_s / r->dt);
	uint32_t *bad = calloc(T + 1, sizeof(uint32_t));	/* prefix counts */
	uint32_t *chg = calloc(T + 1, sizeof(uint32_t));
	uint32_t *stim = calloc(T + 1, sizeof(uint32_t));
	float obs[NCP_CPN_OBS(NCP_CPN_MAX_ELECTRODES)];
	int ret = 0;

	if (!bad || !chg || !stim) {
		ret = ncp_errf(err, errlen, "out of memory");
		goto out;
	}
	if (blk_steps < 1)
		blk_steps = 1;
	for (uint64_t t = 0; t < T; t++) {
		const int32_t *les = r->lesion + 2 * t;
		bool dropped = les[0] == -1;
		if (!dropped && (les[0] < 0 || les[0] >= NCP_LESION_KIND_COUNT || les[1] < 0)) {
			ret = ncp_errf(err, errlen,
				       "%s/lesion.npy: row %" PRIu64 " is (%d, %d): no such lesion",
				       r->dir, t, les[0], les[1]);
			goto out;
		}
		if (!dropped &&
		    ((ret = check_row(r, "arm.npy", r->arm + 6 * t, 6, t, err, errlen)) ||
		     (ret = check_row(r, "target.npy", r->target + 2 * t, 2, t, err, errlen)) ||
		     (ret = check_row(r, "rec.npy", r->rec + (uint64_t)R * t, R, t, err, errlen)) ||
		     (ret = check_row(r, "alpha.npy", r->alpha + (uint64_t)E * t, E, t, err,
				      errlen))))
			goto out;
		bool stimulated = false;
		for (int e = 0; e < E && !dropped; e++)
			stimulated |= fabsf(r->alpha[(uint64_t)E * t + (uint64_t)e]) > UNSTIMULATED;
		bool changed = t > 0 && (les[0] != les[-2] || les[1] != les[-1]);
		n->dropped_rows += dropped;
		bad[t + 1] = bad[t] + dropped;
		chg[t + 1] = chg[t] + changed;
		stim[t + 1] = stim[t] + stimulated;
	}
	/* Lesioned data: blocks of time, a share of them held out. */
	uint64_t first_blk = *block;
	for (uint64_t t = 1; t + (uint64_t)H - 1 < T; t++) {
		if ((r->first_step + t) % (uint64_t)o->sample_every)
			continue;
		uint64_t a = t - 1, b = t + (uint64_t)H - 1;	/* the rows it reads */
		if (bad[b + 1] != bad[a] || chg[b + 1] != chg[a + 1]) {
			n->cut++;
			continue;
		}
		const int32_t *les = r->lesion + 2 * t;
		memcpy(obs, r->rec + (uint64_t)R * a, (size_t)R * sizeof(float));
		memcpy(obs + R, r->arm + 6 * a, 6 * sizeof(float));
		const float *alpha = r->alpha + (uint64_t)E * t;
		const float *target = r->target + 2 * t;
		const float *future = r->arm + 6 * b;
		if (les[0] == NCP_LESION_NONE) {
			if (stim[b + 1] != stim[a]) {
				n->healthy_stimulated++;
				continue;
			}
			ncp_cpn_data_add(healthy, obs, alpha, target, future, NCP_CPN_SRC_NOISE);
			n->healthy++;
			continue;
		}
		uint64_t ba = first_blk + a / blk_steps, bb = first_blk + b / blk_steps;
		if (ba != bb) {		/* across blocks: neither side's */
			n->cut++;
			continue;
		}
		*block = ba + 1 > *block ? ba + 1 : *block;
		/* Block k is held out when the share's running count steps up
		 * in it: evenly spread, the first one mid-way. */
		bool held = floor((double)(ba + 1) * o->val_frac + 0.5) >
			    floor((double)ba * o->val_frac + 0.5);
		ncp_cpn_data_add(held ? val : train, obs, alpha, target, future,
				 NCP_CPN_SRC_NOISE);
		if (held)
			n->val++;
		else
			n->lesioned++;
	}
out:
	free(bad);
	free(chg);
	free(stim);
	return ret;
}

/* The mean predictor's loss (m^2 per coordinate) on d: what the EN's loss
 * is compared with. */
static double mean_loss(const struct ncp_cpn_data *d)
{
	double s[2] = { 0 }, ss[2] = { 0 };
	size_t no = (size_t)NCP_CPN_OBS(d->R);
	if (!d->n)
		return NAN;
	for (size_t k = 0; k < d->n; k++)
		for (int c = 0; c < 2; c++) {
			double y = d->future[6 * k + 4 + c] - d->obs[k * no + d->R + 4 + c];
			s[c] += y;
			ss[c] += y * y;
		}
	double v = 0;
	for (int c = 0; c < 2; c++)
		v += ss[c] / d->n - (s[c] / d->n) * (s[c] / d->n);
	return v / 2;
}

int ncp_recovery_rec_run(const struct ncp_recovery_opts *o, char *err,
			 size_t errlen)
{
	struct recs rs = { .n = 0 };
	struct ncp_config c;
	struct ncp_cpn_data healthy, train, val;
	struct ncp_cpn_spec spec = o->spec;
	struct ncp_cpn_model *cpn = NULL;
	struct ncp_cpn_trainer *tr = NULL;
	struct ncp_cpn_ref ref;
	struct counts n = { 0 };
	struct ncp_recovery_eval ev;
	bool evaluated = false;
	uint64_t t0 = ncp_now_ns(), rows = 0, block = 0;
	int ret = -EINVAL, rollbacks = 0;
	struct ncp_json j;

	memset(&healthy, 0, sizeof(healthy));
	memset(&train, 0, sizeof(train));
	memset(&val, 0, sizeof(val));
	if (open_all(o, &rs, err, errlen) || run_config(o, &rs, &c, err, errlen))
		goto out;
	const struct ncp_stim_params *sp = &c.reach.stim;
	spec.electrodes = sp->electrodes;
	spec.rec = c.reach.rec.electrodes;
	spec.dt = c.reach.dt;
	spec.decay = sp->decay;
	spec.stim_max = sp->max;
	if (spec.alpha_max > spec.stim_max)
		spec.alpha_max = spec.stim_max;
	for (int i = 0; i < rs.n; i++)
		rows += rs.r[i]->steps;
	size_t cap = (size_t)(rows / (uint64_t)o->sample_every) + 16;
	if (ncp_cpn_data_init(&healthy, spec.rec, spec.electrodes, cap) ||
	    ncp_cpn_data_init(&train, spec.rec, spec.electrodes, cap) ||
	    ncp_cpn_data_init(&val, spec.rec, spec.electrodes, cap)) {
		ret = ncp_errf(err, errlen, "out of memory for %zu samples", cap);
		goto out;
	}
	for (int i = 0; i < rs.n; i++)
		if (add_samples(o, rs.r[i], &healthy, &train, &val, &block, &n, err,
				errlen))
			goto out;
	if (ncp_cpn_ref_fit(&ref, &healthy)) {
		ret = ncp_errf(err, errlen,
			       "%zu healthy samples without stimulation: the healthy reference needs a recording of healthy reaches (no lesion, no stimulation)%s",
			       healthy.n, n.healthy_stimulated ?
			       " (the healthy rows of these recordings are stimulated)" : "");
		goto out;
	}
	if (train.n < 2 * (size_t)o->train.batch) {
		ret = ncp_errf(err, errlen,
			       "%zu lesioned training samples: the EN and the CPN need a recording of lesioned reaches with exploration (at least %d samples, %.0f s)",
			       train.n, 2 * o->train.batch,
			       2.0 * o->train.batch * o->sample_every * c.reach.dt);
		goto out;
	}
	/* The simulated protocol's training, on the fixed data: the EN is
	 * checked against the held-out samples where the simulation checks
	 * it against a round's fresh ones. */
	cpn = ncp_cpn_model_new(&spec, c.reach.seed, err, errlen);
	if (!cpn)
		goto out;
	tr = ncp_cpn_trainer_new(cpn, &o->train, err, errlen);
	if (!tr)
		goto out;
	ncp_cpn_trainer_set_ref(tr, &ref);
	double en_loss = NAN, task_loss = NAN, new_loss = NAN;
	if (ncp_recovery_en_start(tr, &train, &en_loss, err, errlen))
		goto out;
	const struct ncp_cpn_data *check = val.n ? &val : &train;
	double en_val0 = ncp_cpn_trainer_en_loss(tr, check, 0);
	for (int k = 0; k < o->rounds; k++) {
		rollbacks += ncp_recovery_cpn_epochs(tr, &train, o->cpn_epochs, &task_loss);
		rollbacks += ncp_recovery_en_check(tr, &train, check, 0, &new_loss, &en_loss);
		if (o->verbose)
			fprintf(stderr, "round %d: task loss %.3g m^2, EN loss held out %.3g (training %.3g), EN trainings %llu\n",
				k + 1, task_loss, new_loss, en_loss,
				(unsigned long long)ncp_cpn_trainer_en_trainings(tr));
	}
	double en_val = val.n ? ncp_cpn_trainer_en_loss(tr, &val, 0) : NAN;
	double base_val = mean_loss(&val);
	const struct ncp_cpn_model *m = ncp_cpn_trainer_model(tr);
	if (!ncp_cpn_model_finite(m)) {
		ret = ncp_errf(err, errlen, "the trained CPN has a non-finite weight: not saved");
		goto out;
	}
	double wall_train = (ncp_now_ns() - t0) / 1e9;

	if (o->out) {
		struct ncp_json cj;
		ncp_json_init(&cj);
		ncp_json_obj(&cj);
		ncp_json_key(&cj, "data");
		ncp_json_arr(&cj);
		for (int i = 0; i < rs.n; i++)
			ncp_json_str(&cj, rs.r[i]->name);
		ncp_json_end(&cj);
		ncp_json_key(&cj, "horizon");
		ncp_json_int(&cj, o->train.horizon);
		ncp_json_key(&cj, "rounds");
		ncp_json_int(&cj, o->rounds);
		ncp_json_end(&cj);
		struct ncp_cpn_model *out = ncp_cpn_model_clone(m);
		int r = !out || ncp_json_finish(&cj) ? -ENOMEM :
			ncp_cpn_model_set_config(out, cj.buf);
		ncp_json_fini(&cj);
		if (r || ncp_cpn_model_save(out, o->out, err, errlen)) {
			if (r)
				ncp_errf(err, errlen, "out of memory");
			ncp_cpn_model_free(out);
			goto out;
		}
		ncp_cpn_model_free(out);
	}
	if (!o->no_eval) {
		if (ncp_recovery_evaluate(&c, o, m, &ev, err, errlen))
			goto out;
		evaluated = true;
	}

	ncp_json_init(&j);
	ncp_json_obj(&j);
	ncp_json_key(&j, "data");
	ncp_json_arr(&j);
	for (int i = 0; i < rs.n; i++)
		ncp_json_str(&j, rs.r[i]->dir);
	ncp_json_end(&j);
	ncp_json_key(&j, "rows");
	ncp_json_uint(&j, rows);
	ncp_json_key(&j, "dropped_rows");
	ncp_json_uint(&j, n.dropped_rows);
	ncp_json_key(&j, "samples");
	ncp_json_obj(&j);
	ncp_json_key(&j, "healthy");
	ncp_json_uint(&j, healthy.n);
	ncp_json_key(&j, "train");
	ncp_json_uint(&j, train.n);
	ncp_json_key(&j, "held_out");
	ncp_json_uint(&j, val.n);
	ncp_json_key(&j, "healthy_stimulated");
	ncp_json_uint(&j, n.healthy_stimulated);
	ncp_json_key(&j, "cut");
	ncp_json_uint(&j, n.cut);
	ncp_json_end(&j);
	ncp_json_key(&j, "lesion");
	ncp_json_obj(&j);
	ncp_json_key(&j, "kind");
	ncp_json_str(&j, ncp_lesion_kind_names[sp->lesion_kind]);
	ncp_json_key(&j, "fraction");
	ncp_json_num(&j, sp->lesion_fraction);
	ncp_json_end(&j);
	ncp_json_key(&j, "electrodes");
	ncp_json_int(&j, spec.electrodes);
	ncp_json_key(&j, "rec_electrodes");
	ncp_json_int(&j, spec.rec);
	ncp_recovery_json_training(&j, o->train.horizon, ref.r2, o->rounds, tr,
				   rollbacks, task_loss, en_loss);
	ncp_json_key(&j, "en_held_out");
	ncp_json_obj(&j);
	ncp_json_key(&j, "loss_first");
	ncp_json_num(&j, val.n ? en_val0 : NAN);
	ncp_json_key(&j, "loss");
	ncp_json_num(&j, en_val);
	ncp_json_key(&j, "mean_predictor_loss");
	ncp_json_num(&j, base_val);
	ncp_json_key(&j, "r2");
	ncp_json_num(&j, base_val > 0 ? 1 - en_val / base_val : NAN);
	ncp_json_end(&j);
	if (evaluated) {
		const double held[4] = { ev.L_healthy, ev.L_lesioned,
					 ev.L_restored, NAN };
		const double co[4] = { ev.co_healthy, ev.co_lesioned,
				       ev.co_restored, NAN };
		ncp_recovery_json_losses(&j, ev.task_seed, o->eval_s, held, co);
	}
	ncp_json_key(&j, "wall_seconds_training");
	ncp_json_num(&j, wall_train);
	ncp_json_key(&j, "wall_seconds");
	ncp_json_num(&j, (ncp_now_ns() - t0) / 1e9);
	ncp_json_end(&j);
	if (ncp_json_finish(&j) == 0)
		puts(j.buf);
	ncp_json_fini(&j);
	ret = 0;
out:
	ncp_cpn_trainer_free(tr);
	ncp_cpn_model_free(cpn);
	ncp_cpn_data_fini(&healthy);
	ncp_cpn_data_fini(&train);
	ncp_cpn_data_fini(&val);
	recs_close(&rs);
	return ret;
}
