#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/ncp_recorder.h"
#include "models/base/ncp_base.h"
#include "models/io/ncp_file.h"
#include "models/io/ncp_json_doc.h"
#include "models/io/ncp_npy.h"
#include "models/nef/ncp_net.h"
#include "models/nef/ncp_probe.h"
#include "tests/ncp_check.h"

static void sine(double t, const float *in, float *out, void *ctx)
{
	out[0] = (float)(0.8 * sin(2 * M_PI * t));
	out[1] = (float)(0.5 * cos(2 * M_PI * t));
}

static void square(const double *x, double *y, void *ctx)
{
	y[0] = x[0] * x[0];
}

/* src (node, 2) -> a (ensemble 2-D, 60) -> x^2 -> out (node 1);
 * src -> b (ensemble 1-D, 40), decoding nothing. */
static struct ncp_net *small_net(int *a, int *b)
{
	char err[200];
	struct ncp_ens_spec s;
	struct ncp_net *net = ncp_net_new(0.001);
	int src = ncp_net_node(net, "src", 0, 2, sine, NULL);
	ncp_ens_spec_default(&s, 60, 2);
	s.seed = 1;
	*a = ncp_net_ensemble(net, "a", &s, err, sizeof(err));
	ncp_ens_spec_default(&s, 40, 1);
	s.seed = 2;
	*b = ncp_net_ensemble(net, "b", &s, err, sizeof(err));
	int out = ncp_net_node(net, "out", 1, 1, NULL, NULL);
	ck_assert_int_ge(ncp_net_connect(net, &(struct ncp_conn_spec){
		.src = src, .dst = *a, .tau = 0.005 }, err, sizeof(err)), 0);
	ck_assert_int_ge(ncp_net_connect(net, &(struct ncp_conn_spec){
		.src = src, .src_lo = 1, .src_dims = 1, .dst = *b, .tau = 0.005 },
		err, sizeof(err)), 0);
	ck_assert_int_ge(ncp_net_connect(net, &(struct ncp_conn_spec){
		.src = *a, .dst = out, .function = square, .src_dims = 1,
		.tau = 0.01 }, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_net_finalize(net), 0);
	return net;
}

/* The frame holds every ensemble's spikes and every value: what a
 * probe picks out of it is the step's spikes, the decoded value before
 * the connection's synapse, a node's output. */
START_TEST(frame_holds_spikes_and_values)
{
	int a, b;
	struct ncp_net *net = small_net(&a, &b);
	struct ncp_probe_frame f;
	struct ncp_probe pa, pb, pv, pn, pf;
	char err[512];
	ck_assert_int_eq(ncp_probe_frame_init(&f, net), 0);
	ck_assert_int_eq(f.words, 2);		/* 100 neurons */
	ck_assert_int_eq(f.n_vals, 2 + 1 + 0 + 1); /* src, a's x^2, b none, out */
	ck_assert_int_eq(ncp_probe_parse("a", &f, net, &pa, err, sizeof(err)), 0);
	ck_assert_int_eq(pa.kind, NCP_PROBE_SPIKES);
	ck_assert_int_eq(pa.cols, 60);
	ck_assert_str_eq(pa.file, "probe.a.spikes.npy");
	ck_assert_int_eq(ncp_probe_parse("b:spikes", &f, net, &pb, err, sizeof(err)), 0);
	ck_assert_int_eq(pb.cols, 40);
	ck_assert_int_eq(ncp_probe_parse("a:decoded", &f, net, &pv, err, sizeof(err)), 0);
	ck_assert_int_eq(pv.kind, NCP_PROBE_VALUE);
	ck_assert_int_eq(pv.cols, 1);
	ck_assert_str_eq(pv.file, "probe.a.value.npy");
	ck_assert_int_eq(ncp_probe_parse("src", &f, net, &pn, err, sizeof(err)), 0);
	ck_assert_int_eq(pn.cols, 2);
	ck_assert_int_eq(ncp_probe_parse("out:value:0.02", &f, net, &pf, err, sizeof(err)), 0);
	ncp_ck_near(pf.tau, 0.02, 0);

	uint64_t *frame = calloc(1, f.bytes);
	uint8_t row[64];
	float vrow[2], st_v[1] = { 0 }, st_n[2] = { 0 }, st_f[1] = { 0 }, y = 0;
	const float af = (float)exp(-0.001 / 0.02);
	int spikes_a = 0, spikes_b = 0;
	for (int s = 0; s < 600; s++) {
		ncp_net_step(net);
		ncp_probe_frame_fill(&f, net, frame);
		const struct ncp_ens *ea = ncp_net_ens(net, a), *eb = ncp_net_ens(net, b);
		ncp_probe_spikes(&pa, frame, row);
		int count = 0;
		for (int i = 0; i < 60; i++)
			count += row[i];
		ck_assert_int_eq(count, ea->lif.n_spikes);
		for (int k = 0; k < ea->lif.n_spikes; k++)
			ck_assert_int_eq(row[ea->lif.spikes[k]], 1);
		spikes_a += count;
		ncp_probe_spikes(&pb, frame, row);
		count = 0;
		for (int i = 0; i < 40; i++)
			count += row[i];
		ck_assert_int_eq(count, eb->lif.n_spikes);
		spikes_b += count;
		/* The decoded value: the spikes through a's decoders / dt. */
		ncp_probe_values(&pv, frame, &f, 0, st_v, vrow);
		int dims;
		const float *dec = ncp_net_decoded(net, a, &dims);
		ck_assert_int_eq(dims, 1);
		ck_assert(vrow[0] == dec[0]);
		ncp_probe_values(&pn, frame, &f, 0, st_n, vrow);
		ck_assert(vrow[0] == ncp_net_output(net, 0)[0] &&
			  vrow[1] == ncp_net_output(net, 0)[1]);
		/* The probe's own synapse: a lowpass of the node's output. */
		ncp_probe_values(&pf, frame, &f, af, st_f, vrow);
		y = af * y + (1 - af) * ncp_net_output(net, 3)[0];
		ncp_ck_near(vrow[0], y, 1e-6);
	}
	ck_assert_int_gt(spikes_a, 100);
	ck_assert_int_gt(spikes_b, 100);
	free(frame);
	ncp_probe_frame_fini(&f);
	ncp_net_free(net);
}
END_TEST

/* Every bad probe is refused with what is wrong; a name that is not
 * there lists the names that are. */
START_TEST(bad_probes_are_refused)
{
	static const struct {
		const char *spec, *want;
	} cases[] = {
		{ "", "empty probe" },
		{ "cb", "no population or node 'cb' (there are: src, a, out)" },
		{ "A", "no population or node 'A'" },
		{ "src:spikes", "'src' is a node, not a population: it has no "
				"spikes (populations: a, b)" },
		{ "b:value", "'b' has no value" },
		{ "a:volts", "unknown kind 'volts' (spikes, value or decoded)" },
		{ "src:decoded", "unknown kind 'decoded' (spikes, value)" },
		{ "a:spikes:0.01", "spikes take no synapse" },
		{ "a:value:x", "synapse 'x' is not a time constant" },
		{ "a:value:-1", "synapse '-1' is not a time constant" },
		{ "a:value:nan", "synapse 'nan' is not a time constant" },
		{ "a:value:0.01s", "synapse '0.01s' is not a time constant" },
		{ "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		  "longer than 64 characters" },
	};
	int a, b, n;
	struct ncp_net *net = small_net(&a, &b);
	struct ncp_probe_frame f;
	struct ncp_probe p[NCP_PROBE_MAX];
	char err[512];
	ck_assert_int_eq(ncp_probe_frame_init(&f, net), 0);
	for (size_t i = 0; i < NCP_ARRAY_SIZE(cases); i++) {
		ck_assert_int_eq(ncp_probe_parse(cases[i].spec, &f, net, p, err,
						 sizeof(err)), -EINVAL);
		ck_assert_msg(strstr(err, cases[i].want), "'%s': %s",
			      cases[i].spec, err);
	}
	ck_assert_int_eq(ncp_probe_parse_list("", &f, net, p, &n, err,
					      sizeof(err)), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(ncp_probe_parse_list(" a , out:value:0.1,b", &f, net, p,
					      &n, err, sizeof(err)), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_str_eq(p[1].target, "out");
	ck_assert_int_lt(ncp_probe_parse_list("a,a:spikes", &f, net, p, &n, err,
					      sizeof(err)), 0);
	ck_assert_msg(strstr(err, "probe 'a:spikes' is given twice"), "%s", err);
	ck_assert_int_lt(ncp_probe_parse_list("a,", &f, net, p, &n, err,
					      sizeof(err)), 0);
	ck_assert_msg(strstr(err, "empty probe"), "%s", err);
	ck_assert_int_lt(ncp_probe_parse_list("a,,b", &f, net, p, &n, err,
					      sizeof(err)), 0);
	ck_assert_int_lt(ncp_probe_parse_list("a,b,out,src,a:value,out:value:1,"
					      "src:value:1,a:value:1,b:spikes:0",
					      &f, net, p, &n, err, sizeof(err)), 0);
	ncp_probe_frame_fini(&f);
	ncp_net_free(net);
}
END_TEST

/* A recording with probes: one file each, rows lined up with the
 * recording's, the probes in meta.json; a recording without probes
 * after it has no probe files. */
START_TEST(recorder_writes_probe_files)
{
	char base[64], err[512], path[256];
	int a, b;
	snprintf(base, sizeof(base), "/tmp/ncpd-test-probe-%d", (int)getpid());
	mkdir(base, 0755);
	struct ncp_net *net = small_net(&a, &b);
	struct ncp_probe_frame f;
	ck_assert_int_eq(ncp_probe_frame_init(&f, net), 0);
	struct ncp_recorder_params rp = {
		.data_dir = base, .m1_neurons = 60, .dt = 0.001, .window = 100,
		.lossless = true, .probe_frame = &f,
	};
	struct ncp_recorder *r = ncp_recorder_new(&rp, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	struct ncp_probe p[NCP_PROBE_MAX];
	int n;
	ck_assert_int_eq(ncp_probe_parse_list("b, a:value:0.01, src", &f, net, p,
					      &n, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_recorder_start_probes(r, "pr", 0, p, n, err,
						   sizeof(err)), 0);
	enum { STEPS = 300 };
	static uint8_t want_b[STEPS][40];
	static float want_src[STEPS][2];
	struct ncp_arm_state arm = { .links = 2, .q = { 1, 2 }, .dq = { 0, 0 }, .hand = { 0, 1 } };
	double tgt[2] = { 0, 1 };
	for (int s = 0; s < STEPS; s++) {
		ncp_net_step(net);
		ncp_probe_frame_fill(&f, net, ncp_recorder_probe_frame(r));
		const struct ncp_ens *ea = ncp_net_ens(net, a), *eb = ncp_net_ens(net, b);
		memset(want_b[s], 0, 40);
		for (int k = 0; k < eb->lif.n_spikes; k++)
			want_b[s][eb->lif.spikes[k]] = 1;
		memcpy(want_src[s], ncp_net_output(net, 0), sizeof(want_src[s]));
		ncp_recorder_push(r, (uint64_t)s, ea->lif.spikes, ea->lif.n_spikes,
				  &arm, tgt);
	}
	ck_assert_int_eq(ncp_recorder_stop(r), 0);
	ck_assert_int_eq(ncp_recorder_wait_idle(r, 10), 0);

	snprintf(path, sizeof(path), "%s/pr/probe.b.spikes.npy", base);
	struct ncp_npy *sb = ncp_npy_load(path, 0, err, sizeof(err));
	ck_assert_msg(sb != NULL, "%s", err);
	ck_assert_int_eq(sb->h.shape[0], STEPS);
	ck_assert_int_eq(sb->h.shape[1], 40);
	ck_assert(memcmp(sb->data, want_b, sizeof(want_b)) == 0);
	snprintf(path, sizeof(path), "%s/pr/probe.src.value.npy", base);
	struct ncp_npy *vs = ncp_npy_load(path, 0, err, sizeof(err));
	ck_assert_msg(vs != NULL, "%s", err);
	ck_assert_int_eq(vs->h.dtype, NCP_NPY_F32);
	ck_assert(memcmp(vs->data, want_src, sizeof(want_src)) == 0);
	snprintf(path, sizeof(path), "%s/pr/probe.a.value.npy", base);
	struct ncp_npy *va = ncp_npy_load(path, 0, err, sizeof(err));
	ck_assert_msg(va != NULL, "%s", err);
	/* a decodes x0^2 of 0.8 sin: after 10 ms filtering, near it. */
	const float *av = va->data;
	double worst = 0;
	for (int s = 100; s < STEPS; s++) {
		double x = 0.8 * sin(2 * M_PI * (s - 10) * 0.001);
		worst = fmax(worst, fabs(av[s] - x * x));
	}
	ck_assert_msg(worst < 0.15, "a's filtered value off by %g", worst);

	void *buf;
	size_t len;
	snprintf(path, sizeof(path), "%s/pr/meta.json", base);
	ck_assert_int_eq(ncp_file_read(path, 1 << 20, &buf, &len), 0);
	ck_assert(strstr(buf, "\"probes\":[{\"target\":\"b\",\"kind\":\"spikes\","
			 "\"file\":\"probe.b.spikes.npy\",\"columns\":40,"
			 "\"synapse\":0}") != NULL);
	free(buf);

	/* The next recording without probes. */
	ck_assert_int_eq(ncp_recorder_start(r, "plain", 0, err, sizeof(err)), 0);
	ncp_recorder_push(r, 0, NULL, 0, &arm, tgt);
	ck_assert_int_eq(ncp_recorder_stop(r), 0);
	ck_assert_int_eq(ncp_recorder_wait_idle(r, 10), 0);
	snprintf(path, sizeof(path), "%s/plain/probe.b.spikes.npy", base);
	ck_assert_int_ne(access(path, F_OK), 0);
	snprintf(path, sizeof(path), "%s/plain/m1.npy", base);
	ck_assert_int_eq(access(path, F_OK), 0);

	ncp_npy_free(sb);
	ncp_npy_free(vs);
	ncp_npy_free(va);
	ncp_recorder_free(r);
	ncp_probe_frame_fini(&f);
	ncp_net_free(net);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", base);
	ck_assert_int_eq(system(cmd), 0);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("probe");
	TCase *tc = tcase_create("probe");
	tcase_add_test(tc, frame_holds_spikes_and_values);
	tcase_add_test(tc, bad_probes_are_refused);
	tcase_add_test(tc, recorder_writes_probe_files);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
