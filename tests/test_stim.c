/* Lesions and stimulation of M1 (docs/stimulation.md). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_sim.h"
#include "daemon/ncp_stim_box.h"
#include "models/base/ncp_base.h"
#include "models/io/ncp_npy.h"
#include "models/nef/ncp_simd.h"
#include "tests/ncp_check.h"
#include "tests/stim_lib.h"

/* Mean end error of a 16 s centre-out run of c. */
static double run16(const struct ncp_config *c)
{
	struct ncp_sim sim;
	char err[256];
	ck_assert_msg(ncp_sim_init(&sim, c, 64, err, sizeof(err)) == 0, "%s",
		      err);
	for (int s = 0; s < 16000; s++)
		ncp_sim_step(&sim);
	ck_assert_uint_eq(sim.n_reaches, 16);
	double L = sim.sum_end_error / (double)sim.n_reaches;
	ncp_sim_fini(&sim);
	return L;
}

START_TEST(lesion_deficit_and_oracle_recovery)
{
	struct ncp_config c;
	ncp_config_defaults(&c);
	double healthy = run16(&c);
	c.reach.stim.lesion_kind = NCP_LESION_PMC_M1;
	c.reach.stim.lesion_fraction = 1.0;
	double cut = run16(&c);
	c.reach.stim.lesion_fraction = 0.5;
	double half = run16(&c);
	c.reach.stim.lesion_kind = NCP_LESION_M1_SILENCE;
	double silent = run16(&c);
	c.reach.stim.lesion_kind = NCP_LESION_PMC_M1;
	c.reach.stim.lesion_fraction = 1.0;
	c.reach.stim.source = NCP_STIM_SRC_ORACLE;
	double oracle = run16(&c);
	double recovery = (1 - (oracle - healthy) / (cut - healthy)) * 100;
	fprintf(stderr, "test_stim: mean end error healthy %.1f mm, pmc-m1 1: "
		"%.1f, pmc-m1 0.5: %.1f, m1-silence 0.5: %.1f, oracle: %.1f "
		"(recovery %.1f%%)\n", healthy * 1e3, cut * 1e3, half * 1e3,
		silent * 1e3, oracle * 1e3, recovery);
	ck_assert_msg(cut >= 5 * healthy, "pmc-m1 1: %g vs healthy %g", cut,
		      healthy);
	ck_assert_msg(half >= 1.2 * healthy, "pmc-m1 0.5: %g vs %g", half,
		      healthy);
	ck_assert_msg(silent >= 1.2 * healthy, "m1-silence 0.5: %g vs %g",
		      silent, healthy);
	ck_assert_msg(recovery >= 90, "oracle recovery %.1f%%", recovery);
}
END_TEST

/* A lesion set between steps acts as the same lesion configured at build,
 * and lifting it restores M1's encoders and biases bit for bit. */
START_TEST(lesion_at_run_time)
{
	struct ncp_config c;
	struct ncp_sim a, b;
	char err[256];
	ncp_config_defaults(&c);
	ck_assert_int_eq(ncp_sim_init(&a, &c, 64, err, sizeof(err)), 0);
	c.reach.stim.lesion_kind = NCP_LESION_M1_SILENCE;
	c.reach.stim.lesion_fraction = 0.3;
	ck_assert_int_eq(ncp_sim_init(&b, &c, 64, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_sim_set_lesion(&a, NCP_LESION_M1_SILENCE, 0.3), 0);
	for (int s = 0; s < 1500; s++) {
		ncp_sim_step(&a);
		ncp_sim_step(&b);
		ck_assert_int_eq(a.n_spikes, b.n_spikes);
	}
	ck_assert(memcmp(&a.arm, &b.arm, sizeof(a.arm)) == 0);
	int kind, count;
	double fraction;
	ncp_reach_lesion(a.reach, &kind, &fraction, &count);
	ck_assert_int_eq(kind, NCP_LESION_M1_SILENCE);
	ck_assert_int_eq(count, 300);
	/* Silenced neurons never fire. */
	struct ncp_ens *m1 = ncp_net_ens(ncp_reach_net(a.reach),
					 ncp_net_find(ncp_reach_net(a.reach),
						      "m1"));
	ck_assert_ptr_nonnull(m1);
	int silent = 0;
	for (int i = 0; i < m1->n; i++)
		silent += m1->biasf[i] < -1e6f;
	ck_assert_int_eq(silent, 300);

	ck_assert_int_eq(ncp_sim_set_lesion(&a, NCP_LESION_PMC_M1, 2.0), -EINVAL);
	ck_assert_int_eq(ncp_sim_set_lesion(&a, 7, 0.5), -EINVAL);
	ck_assert_int_eq(ncp_sim_set_lesion(&a, NCP_LESION_NONE, 0), 0);
	struct ncp_sim h;
	c.reach.stim.lesion_kind = NCP_LESION_NONE;
	ck_assert_int_eq(ncp_sim_init(&h, &c, 64, err, sizeof(err)), 0);
	struct ncp_ens *m0 = ncp_net_ens(ncp_reach_net(h.reach),
					 ncp_net_find(ncp_reach_net(h.reach),
						      "m1"));
	size_t pad = (size_t)ncp_simd_pad(m1->n);
	ck_assert(memcmp(m1->enc, m0->enc, sizeof(float) * pad * 4) == 0);
	ck_assert(memcmp(m1->biasf, m0->biasf, sizeof(float) * m1->n) == 0);
	ncp_sim_fini(&a);
	ncp_sim_fini(&b);
	ncp_sim_fini(&h);
}
END_TEST

/* The oracle refitted for a lesion made at run time (as the daemon does
 * it: ncp_reach_oracle_fit, then the lesion and the map at one step
 * boundary) is the oracle built for that lesion: the same map, bit for
 * bit, and the same run.  Started healthy, its map is zero. */
START_TEST(oracle_refit_at_run_time)
{
	struct ncp_config c;
	struct ncp_sim a, b;
	char err[256];
	ncp_config_defaults(&c);
	c.reach.stim.source = NCP_STIM_SRC_ORACLE;
	ck_assert_int_eq(ncp_sim_init(&a, &c, 64, err, sizeof(err)), 0);
	c.reach.stim.lesion_kind = NCP_LESION_PMC_M1;
	c.reach.stim.lesion_fraction = 0.75;
	ck_assert_int_eq(ncp_sim_init(&b, &c, 64, err, sizeof(err)), 0);
	const int E = ncp_reach_stim(a.reach)->E;
	const double *ka = ncp_reach_oracle_k(a.reach);
	const double *kb = ncp_reach_oracle_k(b.reach);
	double big = 0;
	for (int e = 0; e < 2 * E; e++) {
		ck_assert(ka[e] == 0.0);
		big = fmax(big, fabs(kb[e]));
	}
	ck_assert_msg(big > 0.1, "the lesioned oracle's map is %g at most", big);

	double K[2 * NCP_STIM_MAX_ELECTRODES];
	ck_assert_int_eq(ncp_reach_oracle_fit(a.reach, NCP_LESION_PMC_M1, 0.75,
					      K, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_sim_set_lesion(&a, NCP_LESION_PMC_M1, 0.75), 0);
	ncp_reach_set_oracle(a.reach, K);
	ck_assert(memcmp(ka, kb, sizeof(double) * 2 * (size_t)E) == 0);
	for (int s = 0; s < 1500; s++) {
		ncp_sim_step(&a);
		ncp_sim_step(&b);
		ck_assert_int_eq(a.n_spikes, b.n_spikes);
	}
	ck_assert(memcmp(&a.arm, &b.arm, sizeof(a.arm)) == 0);
	ck_assert_int_eq(ncp_reach_oracle_fit(a.reach, 9, 0.5, K, err,
					      sizeof(err)), -EINVAL);
	ncp_sim_fini(&a);
	ncp_sim_fini(&b);
}
END_TEST

/* Replaying zeros gives the run without stimulation, bit for bit; a pulse
 * on one electrode does not. */
START_TEST(zero_stimulation_is_bit_identical)
{
	struct ncp_config c;
	struct ncp_sim s[3];
	char err[256];
	enum { STEPS = 3000 };
	ncp_config_defaults(&c);
	int E = c.reach.stim.electrodes;
	float *zero = calloc((size_t)STEPS * E, sizeof(float));
	float *pulse = calloc(100 * (size_t)E, sizeof(float));
	ck_assert_ptr_nonnull(zero);
	ck_assert_ptr_nonnull(pulse);
	for (int k = 50; k < 100; k++)
		pulse[k * E + 3] = 0.2f;
	for (int k = 0; k < 3; k++)
		ck_assert_int_eq(ncp_sim_init(&s[k], &c, 64, err, sizeof(err)), 0);
	ncp_sim_stim_replay(&s[1], zero, STEPS);
	ncp_sim_stim_replay(&s[2], pulse, 100);	/* zeros after row 100 */
	bool differ = false;
	for (int t = 0; t < STEPS; t++) {
		for (int k = 0; k < 3; k++)
			ncp_sim_step(&s[k]);
		ck_assert_int_eq(s[0].n_spikes, s[1].n_spikes);
		ck_assert(memcmp(s[0].spikes, s[1].spikes,
				 sizeof(uint32_t) * s[0].n_spikes) == 0);
		ck_assert(memcmp(&s[0].arm, &s[1].arm, sizeof(s[0].arm)) == 0);
		differ |= memcmp(&s[0].arm, &s[2].arm, sizeof(s[0].arm)) != 0;
	}
	ck_assert(differ);
	/* After the pulse alpha decayed to exact zeros. */
	const struct ncp_stim *st = ncp_reach_stim(s[2].reach);
	ck_assert(!st->active);
	for (int k = 0; k < 3; k++)
		ncp_sim_fini(&s[k]);
	free(zero);
	free(pulse);
}
END_TEST

/* A constant theta on one electrode raises the rates of the neurons under
 * it, not of the far ones, and moves the hand. */
START_TEST(footprint_is_local)
{
	struct ncp_config c;
	struct stim_footprint f;
	char err[256];
	ncp_config_defaults(&c);
	ck_assert_int_eq(stim_footprint_run(&c, c.reach.stim.electrodes / 2,
					    0.2f, 300, 200, &f, err,
					    sizeof(err)), 0);
	double near = f.rate1[0] - f.rate0[0], far = f.rate1[3] - f.rate0[3];
	fprintf(stderr, "test_stim: footprint: +%.1f Hz within 1 spread (%d "
		"neurons), %+.2f Hz beyond 4 (%d); hand moved %.1f mm in 200 "
		"ms\n", near, f.count[0], far, f.count[3], f.hand_disp * 1e3);
	ck_assert_msg(near > 20, "near: %g Hz", near);
	ck_assert_msg(fabs(far) < 0.1 * near, "far: %g Hz, near %g", far, near);
	ck_assert_msg(f.hand_disp > 0.005, "hand moved %g m", f.hand_disp);
	/* Decay: a constant theta drives alpha to theta / (1 - d). */
	double d = pow(0.7, c.reach.dt / 0.01);
	ncp_ck_near(f.alpha, 0.2 / (1 - d), 0.01);
}
END_TEST

static void save(const char *name, enum ncp_npy_dtype t, int ndim,
		 uint64_t r, uint64_t k, const void *data)
{
	struct ncp_npy_header h = { .dtype = t, .ndim = ndim,
				    .shape = { r, k, 1 } };
	ck_assert_int_eq(ncp_npy_write(ncp_ck_path(name), &h, data), 0);
}

static void expect_bad(const char *name, const char *what)
{
	char err[512];
	float *data = (float *)1;
	uint64_t steps = 7;
	ck_assert_int_ne(ncp_stim_file_load(ncp_ck_path(name), 16, 20.0, &data,
					    &steps, err, sizeof(err)), 0);
	ck_assert_ptr_null(data);
	ck_assert_msg(strstr(err, what) && strstr(err, name), "%s: '%s'", name,
		      err);
}

START_TEST(bad_stim_files)
{
	float v[10 * 16] = { 0 };
	double w[10 * 16] = { 0 };
	char err[512];
	ncp_ck_make_dir("stim");
	save("good.npy", NCP_NPY_F32, 2, 10, 16, v);
	save("narrow.npy", NCP_NPY_F32, 2, 10, 8, v);
	save("f64.npy", NCP_NPY_F64, 2, 10, 16, w);
	save("three.npy", NCP_NPY_F32, 3, 10, 16, v);
	v[5 * 16 + 2] = NAN;
	save("nan.npy", NCP_NPY_F32, 2, 10, 16, v);
	v[5 * 16 + 2] = 20.5f;
	save("big.npy", NCP_NPY_F32, 2, 10, 16, v);
	v[5 * 16 + 2] = -20.0f;	/* the bound itself is allowed */
	save("edge.npy", NCP_NPY_F32, 2, 10, 16, v);

	float *data;
	uint64_t steps;
	ck_assert_int_eq(ncp_stim_file_load(ncp_ck_path("good.npy"), 16, 20.0,
					    &data, &steps, err, sizeof(err)), 0);
	ck_assert_uint_eq(steps, 10);
	free(data);
	ck_assert_int_eq(ncp_stim_file_load(ncp_ck_path("edge.npy"), 16, 20.0,
					    &data, &steps, err, sizeof(err)), 0);
	ck_assert_float_eq(data[5 * 16 + 2], -20.0f);
	free(data);
	expect_bad("narrow.npy", "shape (10, 8)");
	expect_bad("f64.npy", "<f8");
	expect_bad("three.npy", "shape (10, 16, 1)");
	expect_bad("nan.npy", "row 5, electrode 2: not a finite number");
	expect_bad("big.npy", "row 5, electrode 2: 20.5 is beyond stim.max 20");
	expect_bad("missing.npy", "missing.npy");
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(bad_theta_vectors)
{
	struct ncp_config c;
	struct ncp_sim s;
	char err[256];
	float th[17] = { 0 };
	ncp_config_defaults(&c);
	c.reach.n_m1 = c.reach.n_cb = 64;
	ck_assert_int_eq(ncp_sim_init(&s, &c, 64, err, sizeof(err)), 0);
	const struct ncp_stim *st = ncp_reach_stim(s.reach);
	ck_assert_int_eq(ncp_stim_check_theta(st, th, 16, err, sizeof(err)), 0);
	ck_assert_int_ne(ncp_stim_check_theta(st, th, 17, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "17 values"));
	th[4] = NAN;
	ck_assert_int_ne(ncp_stim_check_theta(st, th, 16, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "theta[4]"));
	th[4] = -21;
	ck_assert_int_eq(ncp_stim_check_theta(st, th, 16, err, sizeof(err)),
			 -EDOM);
	ck_assert_ptr_nonnull(strstr(err, "beyond stim.max"));
	ncp_sim_fini(&s);
	/* Parameters out of range fail the build with the field's name. */
	c.reach.stim.spread = 0;
	ck_assert_int_ne(ncp_sim_init(&s, &c, 64, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(strstr(err, "stim.spread"));
}
END_TEST

START_TEST(mailbox_takes_the_newest_once)
{
	struct ncp_stim_box *b = ncp_calloc_aligned(1, sizeof(*b));
	float a[4] = { 1, 2, 3, 4 }, c[4] = { -1, -2, -3, -4 };
	ck_assert_ptr_nonnull(b);
	ncp_stim_box_init(b);
	ck_assert_ptr_null(ncp_stim_box_take(b));
	ncp_stim_box_post(b, a, 4, true);
	const struct ncp_stim_msg *m = ncp_stim_box_take(b);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n, 4);
	ck_assert_uint_eq(m->hold, 1);
	ck_assert(memcmp(m->theta, a, sizeof(a)) == 0);
	ck_assert_ptr_null(ncp_stim_box_take(b));	/* taken once */
	ncp_stim_box_post(b, a, 4, true);
	ncp_stim_box_post(b, c, 3, false);		/* replaces it */
	m = ncp_stim_box_take(b);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(m->n, 3);
	ck_assert_uint_eq(m->hold, 0);
	ck_assert(memcmp(m->theta, c, 3 * sizeof(float)) == 0);
	free(b);
}
END_TEST
/* Exploration noise layers on whatever sets theta: a held command plus
 * the noise is the command plus the same noise the noise source alone
 * draws, and the oracle with noise is not the oracle alone. */
START_TEST(noise_layers_on_a_source)
{
	struct ncp_config c;
	struct ncp_sim alone, layered, oracle, oracle_noise;
	char err[256];
	ncp_config_defaults(&c);
	c.reach.stim.noise = 0.05;
	c.reach.stim.source = NCP_STIM_SRC_NOISE;
	ck_assert_int_eq(ncp_sim_init(&alone, &c, 64, err, sizeof(err)), 0);
	c.reach.stim.source = NCP_STIM_SRC_NONE;
	ck_assert_int_eq(ncp_sim_init(&layered, &c, 64, err, sizeof(err)), 0);
	c.reach.stim.lesion_kind = NCP_LESION_PMC_M1;
	c.reach.stim.source = NCP_STIM_SRC_ORACLE;
	ck_assert_int_eq(ncp_sim_init(&oracle_noise, &c, 64, err, sizeof(err)), 0);
	c.reach.stim.noise = 0;
	ck_assert_int_eq(ncp_sim_init(&oracle, &c, 64, err, sizeof(err)), 0);
	int E = c.reach.stim.electrodes;
	float cmd[NCP_STIM_MAX_ELECTRODES];
	for (int e = 0; e < E; e++)
		cmd[e] = 0.01f * (float)(e - E / 2);
	ncp_sim_set_theta(&layered, cmd);
	double worst = 0, noise_seen = 0, oracle_diff = 0;
	for (int t = 0; t < 300; t++) {
		ncp_sim_step(&alone);
		ncp_sim_step(&layered);
		ncp_sim_step(&oracle);
		ncp_sim_step(&oracle_noise);
		const double *ta = ncp_reach_stim(alone.reach)->theta;
		const double *tl = ncp_reach_stim(layered.reach)->theta;
		const double *to = ncp_reach_stim(oracle.reach)->theta;
		const double *tn = ncp_reach_stim(oracle_noise.reach)->theta;
		for (int e = 0; e < E; e++) {
			worst = fmax(worst, fabs(tl[e] - cmd[e] - ta[e]));
			noise_seen = fmax(noise_seen, fabs(ta[e]));
			oracle_diff = fmax(oracle_diff, fabs(tn[e] - to[e]));
		}
	}
	fprintf(stderr, "test_stim: noise layered: |command + noise - theta| "
		"<= %.2g, noise up to %.3f, oracle with noise differs by up to "
		"%.3f\n", worst, noise_seen, oracle_diff);
	ck_assert_msg(noise_seen > 0.05, "the noise source drew %g", noise_seen);
	ck_assert_msg(worst < 1e-6, "command + noise is off by %g", worst);
	ck_assert_msg(oracle_diff > 0.01, "the oracle's theta with noise "
		      "differs by only %g", oracle_diff);
	ncp_sim_fini(&alone);
	ncp_sim_fini(&layered);
	ncp_sim_fini(&oracle);
	ncp_sim_fini(&oracle_noise);
}
END_TEST

struct box_race {
	struct ncp_stim_box *b;
	atomic_bool stop;
	long posts;
};

static void *box_writer(void *arg)
{
	struct box_race *r = arg;
	float th[NCP_STIM_MAX_ELECTRODES];
	while (!atomic_load(&r->stop)) {
		float v = (float)(r->posts % 1000);
		for (int e = 0; e < NCP_STIM_MAX_ELECTRODES; e++)
			th[e] = v;
		ncp_stim_box_post(r->b, th, NCP_STIM_MAX_ELECTRODES, true);
		r->posts++;
		/* A source posts about once a step. */
		nanosleep(&(struct timespec){ 0, 20000 }, NULL);
	}
	return NULL;
}

/* A writer posting every few tens of microseconds: every message the reader takes is
 * whole (all values from one post), and the reader never waits. */
START_TEST(mailbox_never_tears)
{
	struct box_race r = { .b = ncp_calloc_aligned(1, sizeof(*r.b)) };
	pthread_t t;
	long taken = 0;
	ck_assert_ptr_nonnull(r.b);
	ncp_stim_box_init(r.b);
	atomic_init(&r.stop, false);
	ck_assert_int_eq(pthread_create(&t, NULL, box_writer, &r), 0);
	uint64_t t0 = ncp_now_ns();
	while (ncp_now_ns() - t0 < 300000000ull) {
		const struct ncp_stim_msg *m = ncp_stim_box_take(r.b);
		if (!m)
			continue;
		taken++;
		for (int e = 1; e < NCP_STIM_MAX_ELECTRODES; e++)
			ck_assert_msg(m->theta[e] == m->theta[0], "torn message: "
				      "%g vs %g", m->theta[e], m->theta[0]);
	}
	atomic_store(&r.stop, true);
	pthread_join(t, NULL);
	fprintf(stderr, "test_stim: mailbox: %ld posts, %ld taken whole\n",
		r.posts, taken);
	ck_assert_int_gt(taken, 20);
	free(r.b);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("stim");
	TCase *tc = tcase_create("stim");
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, lesion_deficit_and_oracle_recovery);
	tcase_add_test(tc, lesion_at_run_time);
	tcase_add_test(tc, oracle_refit_at_run_time);
	tcase_add_test(tc, zero_stimulation_is_bit_identical);
	tcase_add_test(tc, footprint_is_local);
	tcase_add_test(tc, noise_layers_on_a_source);
	tcase_add_test(tc, bad_stim_files);
	tcase_add_test(tc, bad_theta_vectors);
	tcase_add_test(tc, mailbox_takes_the_newest_once);
	tcase_add_test(tc, mailbox_never_tears);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
