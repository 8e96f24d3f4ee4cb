#include "models/reach/ncp_reach.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"

/* A circuit's view of its input: (x - mean) / scale per dimension. */
struct scaling {
	int dims;
	double mean[6], scale[6];
};

struct ncp_reach {
	struct ncp_reach_params p;
	double kv;
	struct ncp_net *net;
	struct ncp_arm arm;
	double start_q[2];
	double torque[2];
	double target[2];
	struct scaling s1, m1, cb;
	int pmc, arm_node, m1_ens;
};

void ncp_reach_params_default(struct ncp_reach_params *p)
{
	static const double m1_mean[4] = { 0.6, 2.2, 0, 0 };
	static const double m1_scale[4] = { 0.25, 0.25, 0.25, 0.25 };
	static const double s1_mean[6] = { 0.6, 2.2, -0.5, 0, 0, 1.25 };
	static const double s1_scale[6] = { 0.5, 0.5, 1.7, 1.5, 0.75, 0.75 };
	static const double cb_mean[4] = { 0.6, 2.2, 0, 0 };
	static const double cb_scale[4] = { 0.125, 0.25, 1, 1.5 };

	memset(p, 0, sizeof(*p));
	p->seed = 0;
	p->dt = 0.001;
	p->kp = 50.0;
	p->kv = 0.0;
	p->tau = 0.005;
	p->n_m1 = 1000;
	p->n_cb = 1000;
	p->n_error = 500;
	p->n_s1 = 50;
	p->adapt = false;
	p->n_adapt = 1000;
	p->adapt_rate = 1e-4;
	p->adapt_tau = 0.01;
	memcpy(p->m1_mean, m1_mean, sizeof(m1_mean));
	memcpy(p->m1_scale, m1_scale, sizeof(m1_scale));
	memcpy(p->s1_mean, s1_mean, sizeof(s1_mean));
	memcpy(p->s1_scale, s1_scale, sizeof(s1_scale));
	memcpy(p->cb_mean, cb_mean, sizeof(cb_mean));
	memcpy(p->cb_scale, cb_scale, sizeof(cb_scale));
	p->start[0] = 0.0;
	p->start[1] = 1.25;
	p->arm = ncp_arm_default;
}

/* --- node functions ------------------------------------------------------ */

static void scale_down(double t, const float *in, float *out, void *ctx)
{
	const struct scaling *s = ctx;
	for (int i = 0; i < s->dims; i++)
		out[i] = (float)((in[i] - s->mean[i]) / s->scale[i]);
}

static void scale_up(double t, const float *in, float *out, void *ctx)
{
	const struct scaling *s = ctx;
	for (int i = 0; i < s->dims; i++)
		out[i] = (float)(in[i] * s->scale[i] + s->mean[i]);
}

/* The arm: filtered torque in, [q0, q1, dq0, dq1, hand_x, hand_y] out. */
static void arm_node(double t, const float *in, float *out, void *ctx)
{
	struct ncp_reach *r = ctx;
	struct ncp_arm_state s;

	r->torque[0] = in[0];
	r->torque[1] = in[1];
	ncp_arm_step(&r->arm, r->torque, r->p.dt);
	ncp_arm_state(&r->arm, &s);
	out[0] = (float)s.q[0];
	out[1] = (float)s.q[1];
	out[2] = (float)s.dq[0];
	out[3] = (float)s.dq[1];
	out[4] = (float)s.hand[0];
	out[5] = (float)s.hand[1];
}

/* --- decoded functions ----------------------------------------------------- */

/* M1: u = J^T Mx (kp x_des), from [q0, q1, x_des0, x_des1] scaled. */
static void m1_func(const double *x, double *u, void *ctx)
{
	const struct ncp_reach *r = ctx;
	double v[4], J[2][2], Mx[2][2], f[2];
	for (int i = 0; i < 4; i++)
		v[i] = x[i] * r->m1.scale[i] + r->m1.mean[i];
	ncp_arm_jacobian(&r->p.arm, v, J);
	ncp_arm_mx(&r->p.arm, v, Mx);
	for (int i = 0; i < 2; i++)
		f[i] = r->p.kp * (Mx[i][0] * v[2] + Mx[i][1] * v[3]);
	u[0] = J[0][0] * f[0] + J[1][0] * f[1];
	u[1] = J[0][1] * f[0] + J[1][1] * f[1];
}

/* CB: u = -M (kv dq), from [q0, q1, dq0, dq1] scaled. */
static void cb_func(const double *x, double *u, void *ctx)
{
	const struct ncp_reach *r = ctx;
	double v[4], M[2][2];
	for (int i = 0; i < 4; i++)
		v[i] = x[i] * r->cb.scale[i] + r->cb.mean[i];
	ncp_arm_inertia(&r->p.arm, v, M);
	u[0] = -r->kv * (M[0][0] * v[2] + M[0][1] * v[3]);
	u[1] = -r->kv * (M[1][0] * v[2] + M[1][1] * v[3]);
}

static void zero_func(const double *x, double *u, void *ctx)
{
	u[0] = u[1] = 0.0;
}

/* --- build ----------------------------------------------------------------- */

static void set_scaling(struct scaling *s, int dims, const double *mean,
			const double *scale)
{
	s->dims = dims;
	memcpy(s->mean, mean, sizeof(double) * (size_t)dims);
	memcpy(s->scale, scale, sizeof(double) * (size_t)dims);
}

/* The 4-D, radius-2 ensembles of M1 and CB with area intercepts. */
static void area_spec(struct ncp_ens_spec *s, int n, uint64_t seed)
{
	ncp_ens_spec_default(s, n, 4);
	s->radius = 2.0; /* sqrt(dims) */
	s->intercepts = (struct ncp_dist){ NCP_DIST_AREA, -1.0, 0.1 };
	s->seed = seed;
}

#define TRY(expr)                      \
	do {                           \
		int ret_ = (expr);     \
		if (ret_ < 0)          \
			goto fail;     \
	} while (0)

static int connect(struct ncp_reach *r, struct ncp_conn_spec c, char *err,
		   size_t errlen)
{
	return ncp_net_connect(r->net, &c, err, errlen);
}

struct ncp_reach *ncp_reach_new(const struct ncp_reach_params *p,
				struct ncp_dcache *cache, char *err,
				size_t errlen)
{
	struct ncp_reach *r = calloc(1, sizeof(*r));
	struct ncp_ens_spec spec;
	double tau = p->tau;
	int s1_in, s1_arr_in, s1_arr_out, s1_out, error, m1_in, cb_in, cb,
		relay;

	if (!r) {
		ncp_errf(err, errlen, "out of memory");
		return NULL;
	}
	r->p = *p;
	r->kv = p->kv > 0 ? p->kv : 1.5 * sqrt(p->kp);
	if (ncp_arm_ik(&p->arm, p->start, r->start_q)) {
		ncp_errf(err, errlen, "start position (%g, %g) is out of the "
			 "arm's reach", p->start[0], p->start[1]);
		free(r);
		return NULL;
	}
	ncp_arm_init(&r->arm, &p->arm, r->start_q);
	r->target[0] = p->start[0];
	r->target[1] = p->start[1];
	set_scaling(&r->s1, 6, p->s1_mean, p->s1_scale);
	set_scaling(&r->m1, 4, p->m1_mean, p->m1_scale);
	set_scaling(&r->cb, 4, p->cb_mean, p->cb_scale);
	r->net = ncp_net_new(p->dt);
	if (!r->net) {
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	struct ncp_net *net = r->net;
	ncp_net_set_cache(net, cache);

	/* Objects in run order; every ensemble's seed from the network's. */
	TRY(r->pmc = ncp_net_node(net, "pmc", 0, 2, NULL, NULL));
	TRY(r->arm_node = ncp_net_node(net, "arm", 2, 6, arm_node, r));
	ncp_net_node_part(net, r->arm_node, NCP_PART_ARM);
	TRY(s1_in = ncp_net_node(net, "s1.in", 6, 6, scale_down, &r->s1));
	ncp_ens_spec_default(&spec, p->n_s1, 1);
	spec.seed = ncp_rng_derive(p->seed, 1);
	TRY(ncp_net_ens_array(net, "s1", 6, &spec, &s1_arr_in, &s1_arr_out, err,
			      errlen));
	TRY(s1_out = ncp_net_node(net, "s1.out", 6, 6, scale_up, &r->s1));
	ncp_ens_spec_default(&spec, p->n_error, 2);
	spec.seed = ncp_rng_derive(p->seed, 2);
	TRY(error = ncp_net_ensemble(net, "error", &spec, err, errlen));
	TRY(m1_in = ncp_net_node(net, "m1.in", 4, 4, scale_down, &r->m1));
	area_spec(&spec, p->n_m1, ncp_rng_derive(p->seed, 3));
	TRY(r->m1_ens = ncp_net_ensemble(net, "m1", &spec, err, errlen));
	TRY(cb_in = ncp_net_node(net, "cb.in", 4, 4, scale_down, &r->cb));
	area_spec(&spec, p->n_cb, ncp_rng_derive(p->seed, 4));
	TRY(cb = ncp_net_ensemble(net, "cb", &spec, err, errlen));
	TRY(relay = ncp_net_node(net, "relay", 2, 2, NULL, NULL));

	/* Wiring (reach.md): 5 ms synapses unless "no synapse". */
	TRY(connect(r, (struct ncp_conn_spec){ .src = r->arm_node, .dst = s1_in,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = s1_in, .dst = s1_arr_in },
		    err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = s1_arr_out, .dst = s1_out },
		    err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = r->pmc, .dst = error,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = s1_out, .src_lo = 4,
		     .src_dims = 2, .dst = error, .weight = -1, .tau = tau },
		    err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = s1_out, .src_lo = 0,
		     .src_dims = 2, .dst = m1_in, .dst_lo = 0, .dst_dims = 2,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = error, .dst = m1_in,
		     .dst_lo = 2, .dst_dims = 2, .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = m1_in, .dst = r->m1_ens },
		    err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = r->m1_ens, .dst = relay,
		     .function = m1_func, .ctx = r, .src_dims = 2,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = r->arm_node, .src_lo = 0,
		     .src_dims = 4, .dst = cb_in, .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = cb_in, .dst = cb,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = cb, .dst = relay,
		     .function = cb_func, .ctx = r, .src_dims = 2,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = relay, .dst = r->arm_node,
		     .tau = tau }, err, errlen));

	if (p->adapt) {
		int adapt, adapt_err;
		area_spec(&spec, p->n_adapt, ncp_rng_derive(p->seed, 5));
		TRY(adapt = ncp_net_ensemble(net, "cb.adapt", &spec, err, errlen));
		TRY(adapt_err = ncp_net_node(net, "cb.adapt.error", 2, 2, NULL,
					     NULL));
		TRY(connect(r, (struct ncp_conn_spec){ .src = cb_in, .dst = adapt,
			     .tau = tau }, err, errlen));
		TRY(connect(r, (struct ncp_conn_spec){ .src = relay,
			     .dst = adapt_err, .weight = -1,
			     .tau = p->adapt_tau }, err, errlen));
		TRY(connect(r, (struct ncp_conn_spec){ .src = adapt,
			     .dst = r->arm_node, .function = zero_func,
			     .src_dims = 2, .tau = tau,
			     .pes_rate = p->adapt_rate, .pes_err = adapt_err },
			    err, errlen));
	}
	TRY(ncp_net_finalize(net));
	return r;
fail:
	if (err && !err[0])
		ncp_errf(err, errlen, "building the REACH network failed");
	ncp_net_free(r->net);
	free(r);
	return NULL;
}

void ncp_reach_free(struct ncp_reach *r)
{
	if (!r)
		return;
	ncp_net_free(r->net);
	free(r);
}

void ncp_reach_set_target(struct ncp_reach *r, const double xy[2])
{
	float *out = ncp_net_output(r->net, r->pmc);
	r->target[0] = xy[0];
	r->target[1] = xy[1];
	out[0] = (float)xy[0];
	out[1] = (float)xy[1];
}

void ncp_reach_step(struct ncp_reach *r)
{
	ncp_net_step(r->net);
}

void ncp_reach_reset(struct ncp_reach *r)
{
	ncp_net_reset(r->net);
	ncp_arm_init(&r->arm, &r->p.arm, r->start_q);
	r->torque[0] = r->torque[1] = 0.0;
	ncp_reach_set_target(r, r->target);
}

const uint32_t *ncp_reach_m1_spikes(const struct ncp_reach *r, int *n)
{
	const struct ncp_ens *e = ncp_net_ens(r->net, r->m1_ens);
	*n = e->lif.n_spikes;
	return e->lif.spikes;
}

void ncp_reach_arm_state(const struct ncp_reach *r, struct ncp_arm_state *s)
{
	ncp_arm_state(&r->arm, s);
}

void ncp_reach_torque(const struct ncp_reach *r, double u[2])
{
	u[0] = r->torque[0];
	u[1] = r->torque[1];
}

void ncp_reach_target(const struct ncp_reach *r, double xy[2])
{
	xy[0] = r->target[0];
	xy[1] = r->target[1];
}

const struct ncp_arm_params *ncp_reach_arm_params(const struct ncp_reach *r)
{
	return &r->p.arm;
}

int ncp_reach_neurons(const struct ncp_reach *r)
{
	return ncp_net_neurons(r->net);
}

int ncp_reach_m1_neurons(const struct ncp_reach *r)
{
	return r->p.n_m1;
}

uint64_t ncp_reach_steps(const struct ncp_reach *r)
{
	return ncp_net_steps(r->net);
}

struct ncp_net *ncp_reach_net(struct ncp_reach *r)
{
	return r->net;
}
