/* The co-processor network (docs/coprocessor.md, docs/model-format.md):
 * its file (round trip, checks against the daemon's E, R, dt and
 * stim.max, corrupt files, non-finite weights), its step (the formula,
 * the bounds, alpha), and its training (the EN learns a known world; the
 * CPN trained through it restores that world's deficit). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ncp_cpn_online.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_cpn.h"
#include "tests/ncp_check.h"

static struct ncp_cpn_model *small_model(int E, int R, int hidden, uint64_t seed)
{
	struct ncp_cpn_spec s;
	char err[256];
	ncp_cpn_spec_default(&s);
	s.electrodes = E;
	s.rec = R;
	if (hidden) {
		s.nhidden = 1;
		s.hidden[0] = hidden;
	}
	struct ncp_cpn_model *m = ncp_cpn_model_new(&s, seed, err, sizeof(err));
	ck_assert_msg(m, "%s", err);
	return m;
}

static void tmp_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "/tmp/test_cpn_%d_%s", (int)getpid(), name);
}

START_TEST(round_trip_and_checks)
{
	struct ncp_cpn_model *m = small_model(8, 4, 5, 3), *back;
	struct ncp_cpn_expect ex = { .electrodes = 8, .rec = 4, .dt = 0.001, .stim_max = 20 };
	char path[256], err[512];

	tmp_path(path, sizeof(path), "rt.safetensors");
	ck_assert_int_eq(ncp_cpn_model_set_config(m, "{\"a\": 1}"), 0);
	ck_assert_msg(ncp_cpn_model_save(m, path, err, sizeof(err)) == 0, "%s", err);
	back = ncp_cpn_model_load(path, &ex, err, sizeof(err));
	ck_assert_msg(back, "%s", err);
	ck_assert(ncp_cpn_model_equal(m, back));
	ck_assert_str_eq(ncp_cpn_model_config(back), "{\"a\": 1}");
	ncp_cpn_model_free(back);

	/* Another E, R, dt or stim.max: refused, saying which. */
	ex.electrodes = 16;
	ck_assert(!ncp_cpn_model_load(path, &ex, err, sizeof(err)));
	ck_assert_msg(strstr(err, "8 stimulation electrodes") && strstr(err, "has 16"), "%s", err);
	ex.electrodes = 8;
	ex.rec = 32;
	ck_assert(!ncp_cpn_model_load(path, &ex, err, sizeof(err)));
	ck_assert_msg(strstr(err, "recording electrodes"), "%s", err);
	ex.rec = 4;
	ex.dt = 0.002;
	ck_assert(!ncp_cpn_model_load(path, &ex, err, sizeof(err)));
	ck_assert_msg(strstr(err, "dt"), "%s", err);
	ex.dt = 0.001;
	ex.stim_max = 5;
	ck_assert(!ncp_cpn_model_load(path, &ex, err, sizeof(err)));
	ck_assert_msg(strstr(err, "alpha_max"), "%s", err);

	/* Corrupt: every truncation is refused with a message. */
	FILE *f = fopen(path, "rb");
	ck_assert(f);
	static char buf[1 << 16];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	for (size_t cut = 0; cut < n; cut += 7) {
		err[0] = 0;
		ck_assert(!ncp_cpn_model_parse(buf, cut, "cut", NULL, err, sizeof(err)));
		ck_assert_msg(err[0], "no message at %zu", cut);
	}
	/* A NaN weight: refused on load, naming the tensor; not saved. */
	float nan = NAN;
	size_t hdr;
	memcpy(&hdr, buf, 8);
	memcpy(buf + n - 4, &nan, 4);	/* the last float of the data */
	ck_assert(!ncp_cpn_model_parse(buf, n, "nan", NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "finite"), "%s", err);
	/* Not a CPN: an emulator-like format name. */
	char *p = memmem(buf, hdr + 8, "ncpd-cpn", 8);
	ck_assert(p);
	memcpy(p, "ncpd-cpx", 8);
	memcpy(buf + n - 4, &(float){ 0 }, 4);
	ck_assert(!ncp_cpn_model_parse(buf, n, "fmt", NULL, err, sizeof(err)));
	ck_assert_msg(strstr(err, "not an ncpd co-processor model"), "%s", err);
	unlink(path);
	ncp_cpn_model_free(m);
}
END_TEST

/* The step against the formula of docs/model-format.md, in double. */
START_TEST(step_formula)
{
	const int E = 6, R = 3, Hh = 4;
	struct ncp_cpn_model *m = small_model(E, R, Hh, 7);
	struct ncp_cpn_state *st = ncp_cpn_state_new(m);
	const struct ncp_cpn_spec *sp = ncp_cpn_model_spec(m);
	char path[256], err[256];
	struct ncp_rng rng;
	double alpha[6] = { 0 }, d = pow(sp->decay, sp->dt / 0.01);

	/* Big weights so that tanh saturates and theta clamps at times. */
	tmp_path(path, sizeof(path), "f.safetensors");
	ncp_rng_seed(&rng, 5);
	ck_assert(st);
	for (int k = 0; k < 200; k++) {
		float obs[NCP_CPN_OBS(3)], theta[6];
		for (int i = 0; i < NCP_CPN_OBS(R); i++)
			obs[i] = (float)(50 * ncp_rng_normal(&rng));
		ncp_cpn_state_step(st, obs, theta);
		/* Reference: same weights through the public save format is
		 * checked by tests/cpn_forward.py; here the bounds and alpha. */
		for (int e = 0; e < E; e++) {
			double a = ncp_cpn_state_target(st)[e];
			ck_assert(fabs(a) <= sp->alpha_max + 1e-4);
			ck_assert(fabs(theta[e]) <= sp->stim_max);
			double want = a - d * alpha[e];
			if (fabs(want) <= sp->stim_max)
				ck_assert_msg(fabs(theta[e] - want) < 1e-3, "theta %g want %g",
					      theta[e], want);
			alpha[e] = d * alpha[e] + theta[e];
			if (fabs(alpha[e]) > sp->stim_max)
				alpha[e] = copysign(sp->stim_max, alpha[e]);
		}
	}
	/* A NaN observation is taken as its mean. */
	float obs[NCP_CPN_OBS(3)] = { 0 }, t1[6], t2[6];
	for (int i = 0; i < NCP_CPN_OBS(R); i++)
		obs[i] = NAN;
	ncp_cpn_state_reset(st);
	ncp_cpn_state_step(st, obs, t1);
	for (int e = 0; e < E; e++)
		ck_assert(isfinite(t1[e]));
	for (int i = 0; i < NCP_CPN_OBS(R); i++)
		obs[i] = 0;	/* in_mean is 0 for a new model */
	ncp_cpn_state_reset(st);
	ncp_cpn_state_step(st, obs, t2);
	ck_assert(!memcmp(t1, t2, sizeof(t1)));
	(void)err;
	ncp_cpn_state_free(st);
	ncp_cpn_model_free(m);
}
END_TEST

/* Data from a known world: a healthy hand moves by x_des / 2 in H steps,
 * a lesioned one by x_des / 4 + G alpha (G: electrode e pushes towards
 * angle 2 pi e / E).  The reference is fitted on healthy samples; the EN
 * must learn the lesioned world from noise stimulation, and the CPN,
 * trained through it, must supply the missing x_des / 4 through G. */
static void world(const float *obs, const float *alpha, int R, int E,
		  const float target[2], float fut[6], int healthy)
{
	const float *arm = obs + R;
	float xd[2] = { target[0] - arm[4], target[1] - arm[5] };
	float g[2] = { 0, 0 };
	for (int e = 0; e < E; e++) {
		double ang = 2 * M_PI * e / E;
		g[0] += (float)(0.005 * cos(ang) * alpha[e]);
		g[1] += (float)(0.005 * sin(ang) * alpha[e]);
	}
	memset(fut, 0, 6 * sizeof(float));
	for (int c = 0; c < 2; c++)
		fut[4 + c] = arm[4 + c] + (healthy ? 0.5f * xd[c] : 0.25f * xd[c] + g[c]);
}

/* fill with the hand `shift` m to the right of where it reaches from. */
static void fill_at(struct ncp_cpn_data *d, int n, int healthy, double amp,
		    uint64_t seed, double shift)
{
	struct ncp_rng rng;
	int R = d->R, E = d->E;
	float obs[64], alpha[32], target[2], fut[6];
	ncp_rng_seed(&rng, seed);
	for (int k = 0; k < n; k++) {
		target[0] = (float)ncp_rng_range(&rng, -0.2, 0.2);
		target[1] = (float)ncp_rng_range(&rng, 0.3, 0.6);
		memset(obs, 0, sizeof(obs));
		obs[R + 4] = (float)(ncp_rng_range(&rng, -0.2, 0.2) + shift);
		obs[R + 5] = (float)ncp_rng_range(&rng, 0.3, 0.6);
		/* The electrodes read x_des. */
		for (int r = 0; r < R; r++) {
			double ang = 2 * M_PI * r / R;
			obs[r] = (float)(100 * ((target[0] - obs[R + 4]) * cos(ang) +
						(target[1] - obs[R + 5]) * sin(ang)));
		}
		for (int e = 0; e < E; e++)
			alpha[e] = healthy ? 0 : (float)(amp * ncp_rng_normal(&rng));
		world(obs, alpha, R, E, target, fut, healthy);
		ncp_cpn_data_add(d, obs, alpha, target, fut, NCP_CPN_SRC_NOISE);
	}
}

static void fill(struct ncp_cpn_data *d, int n, int healthy, double amp,
		 uint64_t seed)
{
	fill_at(d, n, healthy, amp, seed, 0);
}

/* The same with each training variant (_i): 0 the default, 1 the loss
 * anchored on what happened (anchor), 2 an ensemble of two ENs with a
 * price on their disagreement. */
static const char *const variant_name[] = { "default", "anchor", "ensemble" };

START_TEST(learns_a_known_world)
{
	const int E = 8, R = 8;
	struct ncp_cpn_model *m = small_model(E, R, 0, 1);
	struct ncp_cpn_train_opts o;
	struct ncp_cpn_data hd, d;
	struct ncp_cpn_ref ref;
	char err[256];
	double loss, task0 = NAN, task = NAN;

	ck_assert_int_eq(ncp_cpn_data_init(&hd, R, E, 2000), 0);
	ck_assert_int_eq(ncp_cpn_data_init(&d, R, E, 4000), 0);
	fill(&hd, 2000, 1, 0, 11);
	ck_assert_int_eq(ncp_cpn_ref_fit(&ref, &hd), 0);
	ck_assert_msg(ref.r2 > 0.999, "reference R^2 %g", ref.r2);
	ncp_cpn_train_opts_default(&o);
	o.en_epochs = 60;
	o.en_hidden = 32;
	o.anchor = _i == 1;
	if (_i == 2) {
		o.en_ensemble = 2;
		o.en_disagree = 1;
	}
	struct ncp_cpn_trainer *t = ncp_cpn_trainer_new(m, &o, err, sizeof(err));
	ck_assert_msg(t, "%s", err);
	ncp_cpn_trainer_set_ref(t, &ref);
	fill(&d, 4000, 0, 4, 12);
	ck_assert_int_eq(ncp_cpn_trainer_fit_norm(t, &d), 0);
	ck_assert_int_eq(ncp_cpn_trainer_en_train(t, &d, &loss), 0);
	/* The displacements are ~0.05 m: an EN within 5 mm RMS. */
	ck_assert_msg(loss < 2.5e-5, "EN loss %g", loss);
	for (int ep = 0; ep < 150; ep++) {
		ck_assert_int_eq(ncp_cpn_trainer_cpn_epoch(t, &d, &task), 0);
		if (ep == 0)
			task0 = task;
	}
	fprintf(stderr, "test_cpn (%s): EN loss %.3g m^2, task loss %.3g -> %.3g m^2\n",
		variant_name[_i], loss, task0, task);
	ck_assert_msg(task < task0 / 20, "task loss %g from %g", task, task0);
	/* The trained CPN in closed form: its a* moves the true world's hand
	 * to the reference (x_des / 2) within 20% of the deficit. */
	struct ncp_cpn_state *st = ncp_cpn_state_new(ncp_cpn_trainer_model(t));
	double se = 0, s0 = 0;
	for (size_t k = 0; k < 200; k++) {
		float theta[8], fut[6], fut0[6], zero[8] = { 0 }, a[8];
		const float *obs = d.obs + k * NCP_CPN_OBS(R);
		ncp_cpn_state_reset(st);
		ncp_cpn_state_step(st, obs, theta);
		memcpy(a, ncp_cpn_state_target(st), sizeof(a));
		world(obs, a, R, E, d.target + 2 * k, fut, 0);
		world(obs, zero, R, E, d.target + 2 * k, fut0, 0);
		float want[2];
		for (int c = 0; c < 2; c++)
			want[c] = obs[R + 4 + c] + 0.5f * (d.target[2 * k + c] - obs[R + 4 + c]);
		for (int c = 0; c < 2; c++) {
			se += (fut[4 + c] - want[c]) * (fut[4 + c] - want[c]);
			s0 += (fut0[4 + c] - want[c]) * (fut0[4 + c] - want[c]);
		}
	}
	fprintf(stderr, "test_cpn (%s): deficit left %.1f%%\n", variant_name[_i],
		100 * sqrt(se / s0));
	ck_assert_msg(se < 0.04 * s0, "error %g of %g without", se, s0);
	ncp_cpn_state_free(st);
	ncp_cpn_trainer_free(t);
	ncp_cpn_data_fini(&hd);
	ncp_cpn_data_fini(&d);
	ncp_cpn_model_free(m);
}
END_TEST

/* The EN's features (en_feat): a world whose lesioned hand also moves
 * by 0.02 f, f a feature the CPN's observation does not carry.  The EN
 * that reads f predicts the hand far better than the one that does not;
 * data without features are refused by a trainer that wants them, and a
 * feature dropped from the oldest samples moves with them. */
START_TEST(en_reads_features)
{
	enum { E = 4, R = 4, N = 3000 };
	struct ncp_cpn_model *m = small_model(E, R, 0, 5);
	struct ncp_cpn_train_opts o;
	struct ncp_cpn_data d, plain;
	struct ncp_rng rng;
	char err[256];
	double loss[2];

	ck_assert_int_eq(ncp_cpn_data_init_feat(&d, R, E, 1, N), 0);
	ck_assert_int_eq(ncp_cpn_data_init(&plain, R, E, 16), 0);
	ncp_rng_seed(&rng, 31);
	for (int k = 0; k < N; k++) {
		float obs[NCP_CPN_OBS(R)] = { 0 }, alpha[E], target[2], fut[6], f;
		target[0] = (float)ncp_rng_range(&rng, -0.2, 0.2);
		target[1] = (float)ncp_rng_range(&rng, 0.3, 0.6);
		obs[R + 4] = (float)ncp_rng_range(&rng, -0.2, 0.2);
		obs[R + 5] = (float)ncp_rng_range(&rng, 0.3, 0.6);
		for (int r = 0; r < R; r++) {	/* the electrodes read x_des */
			double ang = 2 * M_PI * r / R;
			obs[r] = (float)(100 * ((target[0] - obs[R + 4]) * cos(ang) +
						(target[1] - obs[R + 5]) * sin(ang)));
		}
		for (int e = 0; e < E; e++)
			alpha[e] = (float)ncp_rng_normal(&rng);
		f = (float)ncp_rng_normal(&rng);
		world(obs, alpha, R, E, target, fut, 0);
		fut[4] += 0.02f * f;
		ncp_cpn_data_add_feat(&d, obs, &f, alpha, target, fut, NCP_CPN_SRC_NOISE);
		if (k < 16)
			ncp_cpn_data_add(&plain, obs, alpha, target, fut, NCP_CPN_SRC_NOISE);
	}
	ncp_cpn_train_opts_default(&o);
	o.en_hidden = 16;
	o.en_epochs = 100;
	for (int withf = 0; withf < 2; withf++) {
		struct ncp_cpn_data *dd = &d;
		struct ncp_cpn_data nof = d;
		if (!withf) {	/* the same samples, the feature hidden */
			nof.F = 0;
			nof.feat = NULL;
			dd = &nof;
		}
		o.en_feat = withf;
		struct ncp_cpn_trainer *t = ncp_cpn_trainer_new(m, &o, err, sizeof(err));
		ck_assert_msg(t, "%s", err);
		if (withf)
			ck_assert_int_eq(ncp_cpn_trainer_fit_norm(t, &plain), -EINVAL);
		ck_assert_int_eq(ncp_cpn_trainer_fit_norm(t, dd), 0);
		ck_assert_int_eq(ncp_cpn_trainer_en_train(t, dd, &loss[withf]), 0);
		ncp_cpn_trainer_free(t);
	}
	fprintf(stderr, "test_cpn: EN loss without the feature %.3g m^2, with it %.3g m^2\n",
		loss[0], loss[1]);
	/* Without f the EN cannot explain 0.02 f: (0.02)^2 / 2 = 2e-4 m^2. */
	ck_assert_msg(loss[0] > 1.5e-4, "without the feature %g", loss[0]);
	ck_assert_msg(loss[1] < loss[0] / 5, "with it %g (without %g)", loss[1], loss[0]);
	/* Full: the oldest eighth drops, each feature stays with its sample. */
	float last = d.feat[N - 1], obs_last = d.obs[(size_t)(N - 1) * NCP_CPN_OBS(R) + R + 4];
	float obs0[NCP_CPN_OBS(R)] = { 0 }, a0[E] = { 0 }, t0[2] = { 0 }, f0[6] = { 0 };
	ncp_cpn_data_add_feat(&d, obs0, NULL, a0, t0, f0, NCP_CPN_SRC_NOISE);
	ck_assert_uint_eq(d.n, N - N / 8 + 1);
	ck_assert(d.feat[d.n - 2] == last);
	ck_assert(d.obs[(d.n - 2) * NCP_CPN_OBS(R) + R + 4] == obs_last);
	ck_assert(d.feat[d.n - 1] == 0.0f);
	ncp_cpn_data_fini(&d);
	ncp_cpn_data_fini(&plain);
	ncp_cpn_model_free(m);
}
END_TEST

/* Theta of model m for each of the first n observations of d, from a
 * fresh state each. */
static void thetas(const struct ncp_cpn_model *m, const struct ncp_cpn_data *d,
		   size_t n, float *out)
{
	struct ncp_cpn_state *st = ncp_cpn_state_new(m);
	const int E = ncp_cpn_model_spec(m)->electrodes;
	ck_assert(st);
	for (size_t k = 0; k < n; k++) {
		ncp_cpn_state_reset(st);
		ncp_cpn_state_step(st, d->obs + k * NCP_CPN_OBS(d->R), out + k * E);
	}
	ncp_cpn_state_free(st);
}

/* A trainer that continues a trained CPN (the daemon's online training
 * from a loaded file) keeps its input standardisation: before any CPN
 * epoch the CPN it would offer computes the same theta as the one it
 * started from, though the warm-up fitted and trained on other data.  A
 * trainer told to fit it (a CPN from scratch) does change it. */
START_TEST(continues_a_trained_cpn)
{
	enum { E = 8, R = 8, N = 64 };
	struct ncp_cpn_model *m = small_model(E, R, 0, 3);
	struct ncp_cpn_train_opts o;
	struct ncp_cpn_data hd, d1, d2;
	struct ncp_cpn_ref ref;
	char err[256];
	double loss;
	static float want[N * E], got[N * E];

	ck_assert(!ncp_cpn_model_has_norm(m));
	ck_assert_int_eq(ncp_cpn_data_init(&hd, R, E, 1000), 0);
	ck_assert_int_eq(ncp_cpn_data_init(&d1, R, E, 2000), 0);
	ck_assert_int_eq(ncp_cpn_data_init(&d2, R, E, 2000), 0);
	fill(&hd, 1000, 1, 0, 21);
	ck_assert_int_eq(ncp_cpn_ref_fit(&ref, &hd), 0);
	fill(&d1, 2000, 0, 4, 22);
	fill(&d2, 2000, 0, 2, 23);	/* the online data: other samples */
	ncp_cpn_train_opts_default(&o);
	o.en_hidden = 16;
	o.en_epochs = 5;
	/* The CPN "loaded": trained offline on d1. */
	struct ncp_cpn_trainer *t1 = ncp_cpn_trainer_new(m, &o, err, sizeof(err));
	ck_assert_msg(t1, "%s", err);
	ncp_cpn_trainer_set_ref(t1, &ref);
	ck_assert_int_eq(ncp_cpn_trainer_fit_norm(t1, &d1), 0);
	ck_assert_int_eq(ncp_cpn_trainer_en_train(t1, &d1, &loss), 0);
	for (int ep = 0; ep < 10; ep++)
		ck_assert_int_eq(ncp_cpn_trainer_cpn_epoch(t1, &d1, &loss), 0);
	struct ncp_cpn_model *loaded = ncp_cpn_model_clone(ncp_cpn_trainer_model(t1));
	ck_assert(loaded);
	ncp_cpn_trainer_free(t1);
	ck_assert(ncp_cpn_model_has_norm(loaded));
	thetas(loaded, &d2, N, want);
	double span = 0;
	for (int k = 0; k < N * E; k++)
		span = fmax(span, fabs(want[k]));
	ck_assert_msg(span > 0.1, "the loaded CPN hardly stimulates: %g", span);

	for (int keep = 1; keep >= 0; keep--) {
		/* The daemon's warm-up: the trainer from the loaded CPN, the
		 * standardisation fitted and the EN trained on d2. */
		o.keep_cpn_norm = keep ? ncp_cpn_model_has_norm(loaded) : false;
		struct ncp_cpn_trainer *t2 = ncp_cpn_trainer_new(loaded, &o, err,
								 sizeof(err));
		ck_assert_msg(t2, "%s", err);
		ncp_cpn_trainer_set_ref(t2, &ref);
		ck_assert_int_eq(ncp_cpn_trainer_fit_norm(t2, &d2), 0);
		ck_assert_int_eq(ncp_cpn_trainer_en_train(t2, &d2, &loss), 0);
		thetas(ncp_cpn_trainer_model(t2), &d2, N, got);
		double diff = 0;
		for (int k = 0; k < N * E; k++)
			diff = fmax(diff, fabs((double)got[k] - want[k]));
		fprintf(stderr, "test_cpn: continued CPN, standardisation %s: "
			"largest theta change %.3g (of %.3g)\n",
			keep ? "kept" : "refitted", diff, span);
		if (keep)
			ck_assert_msg(diff == 0, "theta changed by %g", diff);
		else
			ck_assert_msg(diff > 1e-3, "refitting changed nothing (%g): "
				      "the data do not test the standardisation", diff);
		ncp_cpn_trainer_free(t2);
	}
	ncp_cpn_model_free(loaded);
	ncp_cpn_model_free(m);
	ncp_cpn_data_fini(&hd);
	ncp_cpn_data_fini(&d1);
	ncp_cpn_data_fini(&d2);
}
END_TEST

/* The daemon's guard before it offers new weights (ncp_cpn_online_guard)
 * compares the weights in use with the new ones on the same samples.  The
 * guard it replaced compared a round's task loss with the best of earlier
 * rounds: when the replay buffer moved with the arm (thrown 1 m away),
 * good weights had a task loss far above the best on the earlier data and
 * were refused.  Scored on the same samples, they beat the weights in use
 * and are offered; NaN or exploding weights are still refused. */
START_TEST(guard_compares_on_the_same_samples)
{
	const int E = 8, R = 8;
	struct ncp_cpn_model *m0 = small_model(E, R, 0, 1);
	struct ncp_cpn_train_opts o;
	struct ncp_cpn_data hd, d, moved;
	struct ncp_cpn_ref ref;
	char err[256];
	double loss, task = NAN, best = INFINITY, l_in, l_next;

	ck_assert_int_eq(ncp_cpn_data_init(&hd, R, E, 2000), 0);
	ck_assert_int_eq(ncp_cpn_data_init(&d, R, E, 4000), 0);
	ck_assert_int_eq(ncp_cpn_data_init(&moved, R, E, 4000), 0);
	fill(&hd, 2000, 1, 0, 11);
	ck_assert_int_eq(ncp_cpn_ref_fit(&ref, &hd), 0);
	ncp_cpn_train_opts_default(&o);
	o.en_epochs = 60;
	o.en_hidden = 32;
	o.cpn_average = 0;
	struct ncp_cpn_trainer *t = ncp_cpn_trainer_new(m0, &o, err, sizeof(err));
	ck_assert_msg(t, "%s", err);
	ncp_cpn_trainer_set_ref(t, &ref);
	fill(&d, 4000, 0, 4, 12);
	ck_assert_int_eq(ncp_cpn_trainer_fit_norm(t, &d), 0);
	ck_assert_int_eq(ncp_cpn_trainer_en_train(t, &d, &loss), 0);
	for (int ep = 0; ep < 60; ep++) {
		ck_assert_int_eq(ncp_cpn_trainer_cpn_epoch(t, &d, &task), 0);
		best = fmin(best, task);
	}
	struct ncp_cpn_model *good = ncp_cpn_model_clone(ncp_cpn_trainer_model(t));
	ck_assert(good);
	/* The arm thrown 1 m off: the replay buffer holds the new states,
	 * and the EN is retrained on them, as the daemon does. */
	fill_at(&moved, 4000, 0, 4, 13, 1.0);
	ck_assert_int_eq(ncp_cpn_trainer_en_train(t, &moved, &loss), 0);
	double on_moved = ncp_cpn_trainer_task_loss(t, good, &moved, 0);
	fprintf(stderr, "test_cpn: guard: best task loss %.3g m^2 before the "
		"move, the same weights %.3g after\n", best, on_moved);
	ck_assert_msg(on_moved > 10 * best, "the old guard would have offered "
		      "them: %g, best %g", on_moved, best);
	/* The same samples: the good weights beat the ones in use. */
	const char *why = ncp_cpn_online_guard(t, m0, good, &moved, &l_in, &l_next);
	fprintf(stderr, "test_cpn: guard: in use %.3g, new %.3g m^2: %s\n",
		l_in, l_next, why ? why : "offered");
	ck_assert_msg(!why, "%s (in use %g, new %g)", why, l_in, l_next);
	ck_assert(l_next < l_in);
	/* Exploding weights (every one x -1000, saturated the wrong way):
	 * refused against the good ones. */
	struct ncp_cpn_model *bad = ncp_cpn_model_clone(good);
	size_t np;
	float *p = ncp_cpn_model_params(bad, &np);
	for (size_t k = 0; k < np; k++)
		p[k] *= -1000;
	why = ncp_cpn_online_guard(t, good, bad, &moved, &l_in, &l_next);
	ck_assert_msg(why && strstr(why, "above the weights' in use"),
		      "exploding weights: %s (in use %g, new %g)",
		      why ? why : "offered", l_in, l_next);
	/* A NaN weight: refused before it is scored. */
	ncp_cpn_model_copy(bad, good);
	p[np / 2] = NAN;
	why = ncp_cpn_online_guard(t, good, bad, &moved, &l_in, &l_next);
	ck_assert_msg(why && strstr(why, "not finite"), "NaN weight: %s",
		      why ? why : "offered");
	ncp_cpn_model_free(bad);
	ncp_cpn_model_free(good);
	ncp_cpn_trainer_free(t);
	ncp_cpn_data_fini(&hd);
	ncp_cpn_data_fini(&d);
	ncp_cpn_data_fini(&moved);
	ncp_cpn_model_free(m0);
}
END_TEST

START_TEST(bad_spec)
{
	struct ncp_cpn_spec s;
	char err[256];
	ncp_cpn_spec_default(&s);
	s.alpha_max = 30;
	ck_assert(!ncp_cpn_model_new(&s, 1, err, sizeof(err)));
	ck_assert_msg(strstr(err, "alpha_max"), "%s", err);
	ncp_cpn_spec_default(&s);
	s.electrodes = 0;
	ck_assert(!ncp_cpn_model_new(&s, 1, err, sizeof(err)));
	ck_assert_msg(strstr(err, "electrodes"), "%s", err);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("cpn");
	TCase *tc = tcase_create("cpn");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, round_trip_and_checks);
	tcase_add_test(tc, step_formula);
	tcase_add_loop_test(tc, learns_a_known_world, 0, 3);
	tcase_add_test(tc, continues_a_trained_cpn);
	tcase_add_test(tc, guard_compares_on_the_same_samples);
	tcase_add_test(tc, en_reads_features);
	tcase_add_test(tc, bad_spec);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
