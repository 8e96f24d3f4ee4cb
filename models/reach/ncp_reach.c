#include "models/reach/ncp_reach.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/nef/ncp_simd.h"

/* A circuit's view of its input: (x - mean) / scale per dimension. */
/* The joint-space PMC's generator traces one dimension per joint. */
_Static_assert(NCP_REACH_MAX_DOF <= NCP_TRAJ_MAX_DIMS, "joints the DMP traces");

struct scaling {
	int dims;
	double mean[NCP_ARM_MAX_STATE], scale[NCP_ARM_MAX_STATE];
};

struct ncp_reach {
	struct ncp_reach_params p;
	double kv;
	bool joint;		/* M1 in joint space (NCP_REACH_JOINT) */
	int pmc_dims;		/* the PMC's output: x, y or dof joint angles */
	double target_q[NCP_REACH_MAX_DOF]; /* joint space: the PMC's target */
	struct ncp_net *net;
	struct ncp_arm arm;
	int links;		/* the arm's, N */
	double start_q[NCP_ARM_MAX_LINKS];
	double torque[NCP_ARM_MAX_LINKS];
	double target[2];
	struct scaling s1, m1, cb;
	int pmc, arm_node, m1_ens, m1_in, m1_conn;
	/* Lesion and stimulation (ncp_stim.h).  M1's run-time encoders and
	 * biases are rewritten in place; enc0 and bias0 keep them as built. */
	struct ncp_stim stim;
	float *enc0, *bias0;	/* dims x pad, n */
	float *bias_les;	/* biases under the lesion, n */
	float *theta_buf;	/* E: the oracle's theta */
	float *theta_cmd;	/* E: the newest command (ncp_reach_set_theta) */
	float *theta_out;	/* E: with the noise added */
	uint32_t *lesion_order;	/* n */
	int lesion_kind, lesion_count;
	double lesion_fraction;
	bool stim_applied;	/* M1's biases carry stimulation currents */
	double *oracle_k;	/* E x 2, or NULL */
	int error_ens;
	struct ncp_rec rec;	/* recording electrodes over error */
	/* The trajectory generator (dmp) and the force field. */
	bool dmp;
	struct ncp_traj traj;
	int pmc_goal, pmc_ramp;
	double ramp;
	struct ncp_field_params field;
};

const char *const ncp_reach_control_names[NCP_REACH_CONTROL_COUNT] = {
	[NCP_REACH_TASK] = "task",
	[NCP_REACH_JOINT] = "joint",
};

const char *const ncp_field_kind_names[NCP_FIELD_KIND_COUNT] = {
	[NCP_FIELD_JOINT] = "joint",
	[NCP_FIELD_CURL] = "curl",
};

/* REACH's field (after Shadmehr & Mussa-Ivaldi 1994), applied to the
 * joint velocities: u = strength B dq, N m. */
static const double field_b[2][2] = { { -10.1, -11.1 }, { -11.2, 11.1 } };

/* Each circuit's view of its input, (x - mean) / scale, for each arm
 * (docs/model.md, "Scaling"); the entries past a circuit's dimensions
 * are zero. */
static const struct arm_scaling {
	double m1_mean[NCP_REACH_M1_MAX], m1_scale[NCP_REACH_M1_MAX];
	double s1_mean[NCP_ARM_MAX_STATE], s1_scale[NCP_ARM_MAX_STATE];
	double cb_mean[NCP_REACH_CB_MAX], cb_scale[NCP_REACH_CB_MAX];
} scalings[2] = {
	{	/* REACH's arm */
		.m1_mean = { 0.6, 2.2, 0, 0 },
		.m1_scale = { 0.25, 0.25, 0.25, 0.25 },
		.s1_mean = { 0.6, 2.2, -0.5, 0, 0, 1.25 },
		.s1_scale = { 0.5, 0.5, 1.7, 1.5, 0.75, 0.75 },
		.cb_mean = { 0.6, 2.2, 0, 0 },
		.cb_scale = { 0.125, 0.25, 1, 1.5 },
	},
	{	/* Three links, around the workspace's postures
		 * (workspaces[1]): q0 -0.1..0.85, q1 1.4..2.4, the wrist
		 * free about 0; joint speeds of reaches of 0.1-0.25 m in
		 * 0.3-0.5 s. */
		.m1_mean = { 0.39, 1.9, 0.0, 0, 0 },
		.m1_scale = { 0.35, 0.3, 0.3, 0.12, 0.12 },
		.s1_mean = { 0.39, 1.9, 0.0, 0, 0, 0, 0.0, 0.45 },
		.s1_scale = { 0.7, 0.6, 0.8, 3, 3, 3, 0.3, 0.3 },
		.cb_mean = { 0.39, 1.9, 0.0, 0, 0, 0 },
		.cb_scale = { 0.35, 0.3, 0.3, 1.5, 1.5, 1.5 },
	},
};

/* The scaling of an arm of `links` (2 or 3) links. */
static void params_scaling(struct ncp_reach_params *p, int links)
{
	const struct arm_scaling *t = &scalings[links - 2];
	memcpy(p->m1_mean, t->m1_mean, sizeof(t->m1_mean));
	memcpy(p->m1_scale, t->m1_scale, sizeof(t->m1_scale));
	memcpy(p->s1_mean, t->s1_mean, sizeof(t->s1_mean));
	memcpy(p->s1_scale, t->s1_scale, sizeof(t->s1_scale));
	memcpy(p->cb_mean, t->cb_mean, sizeof(t->cb_mean));
	memcpy(p->cb_scale, t->cb_scale, sizeof(t->cb_scale));
}

void ncp_reach_params_default(struct ncp_reach_params *p)
{
	memset(p, 0, sizeof(*p));
	p->seed = 0;
	p->control = NCP_REACH_TASK;
	p->workspace = NCP_REACH_WS_SENSED;
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
	params_scaling(p, 2);
	p->start[0] = 0.0;
	p->start[1] = 1.25;
	p->kp_null = 10.0;
	p->arm = ncp_arm_default;
	ncp_stim_params_default(&p->stim);
	ncp_rec_params_default(&p->rec);
	p->n_ramp = 500;
	p->field.on = false;
	p->field.kind = NCP_FIELD_JOINT;
	p->field.strength = 0.4;
}

static const struct ncp_reach_workspace workspaces[2] = {
	/* REACH's, for its 2-link arm. */
	{ { 0.0, 1.25 }, 0.25, 0.3, { 0.0, 1.0, 0.0, 1.5 } },
	/* The human arm's: a hand 0.45 m in front of the shoulder, targets
	 * 0.1 m (centre-out) and up to 0.12 m (random) around it, where the
	 * shoulder sweeps -0.2..0.9 rad, the elbow 1.4..2.4 rad with a
	 * straight wrist (ncp_arm_ik). */
	{ { 0.0, 0.45 }, 0.1, 0.12, { 0.0, 0.4, 0.0, 0.5 } },
};

const struct ncp_reach_workspace *ncp_reach_workspace(int links)
{
	return &workspaces[links == 3 ? 1 : 0];
}

int ncp_reach_params_links(struct ncp_reach_params *p, int links, char *err,
			   size_t errlen)
{
	const struct ncp_arm_params *arm = ncp_arm_for_links(links, err, errlen);
	if (!arm)
		return -EINVAL;
	params_scaling(p, links);
	p->arm = *arm;
	const struct ncp_reach_workspace *w = ncp_reach_workspace(links);
	p->start[0] = w->centre[0];
	p->start[1] = w->centre[1];
	return 0;
}

/* S1's dimensions: q (N), dq (N), hand x, hand y. */
enum { S1_Q0 = 0 };
#define S1_HAND_X(n) (2 * (n))
#define S1_HAND_Y(n) (2 * (n) + 1)

int ncp_reach_target_check(const struct ncp_reach_params *p,
			   const double xy[2], char *why, size_t len)
{
	const struct ncp_arm_params *a = &p->arm;
	const int N = a->links;
	double q[NCP_ARM_MAX_LINKS];

	if (!isfinite(xy[0]) || !isfinite(xy[1])) {
		ncp_errf(why, len, "not a finite point");
		return -EDOM;
	}
	if (ncp_arm_ik(a, xy, q)) {
		double d = hypot(xy[0], xy[1]);
		double lo = fabs(a->l[0] - a->l[1]), hi = a->l[0] + a->l[1];
		if (N == 3) {
			/* Forearm and hand in line reach farthest. */
			hi += a->l[2];
			lo = fmax(0.0, a->l[0] - a->l[1] - a->l[2]);
		}
		if (d < lo || d > hi)
			ncp_errf(why, len, "%.3g m from the shoulder, the arm "
				 "reaches %.3g to %.3g m", d, lo, hi);
		else if (N == 2)
			ncp_errf(why, len, "the arm would need a joint beyond "
				 "its limits [%g, %g] rad", a->q_min[0], a->q_max[0]);
		else
			ncp_errf(why, len, "the arm would need a joint beyond "
				 "its limits (shoulder [%g, %g], elbow [%g, %g], "
				 "wrist [%g, %g] rad)", a->q_min[0], a->q_max[0],
				 a->q_min[1], a->q_max[1], a->q_min[2],
				 a->q_max[2]);
		return -EDOM;
	}
	if (p->workspace == NCP_REACH_WS_ARM)
		return 0;
	/* The hand within S1's range, less the margin. */
	static const char *const axis[2] = { "x", "y" };
	for (int i = 0; i < 2; i++) {
		int d = i ? S1_HAND_Y(N) : S1_HAND_X(N);
		double lo = p->s1_mean[d] - p->s1_scale[d] + NCP_REACH_HAND_MARGIN;
		double hi = p->s1_mean[d] + p->s1_scale[d] - NCP_REACH_HAND_MARGIN;
		if (xy[i] < lo || xy[i] > hi) {
			ncp_errf(why, len, "%s %g m is %s %g m: the circuits sense "
				 "the hand at x %g..%g m, y %g..%g m (S1's range, "
				 "less %g m)", axis[i], xy[i], xy[i] < lo ? "below" :
				 "above", xy[i] < lo ? lo : hi,
				 p->s1_mean[S1_HAND_X(N)] - p->s1_scale[S1_HAND_X(N)] +
				 NCP_REACH_HAND_MARGIN,
				 p->s1_mean[S1_HAND_X(N)] + p->s1_scale[S1_HAND_X(N)] -
				 NCP_REACH_HAND_MARGIN,
				 p->s1_mean[S1_HAND_Y(N)] - p->s1_scale[S1_HAND_Y(N)] +
				 NCP_REACH_HAND_MARGIN,
				 p->s1_mean[S1_HAND_Y(N)] + p->s1_scale[S1_HAND_Y(N)] -
				 NCP_REACH_HAND_MARGIN, NCP_REACH_HAND_MARGIN);
			return -EDOM;
		}
	}
	/* The shoulder angle within S1's range, less the margin (its lower
	 * end is the joint limit with REACH's arm; the 3-link arm's shoulder
	 * turns further). */
	double q0_hi = p->s1_mean[S1_Q0] + p->s1_scale[S1_Q0] -
		       NCP_REACH_SHOULDER_MARGIN;
	double q0_lo = p->s1_mean[S1_Q0] - p->s1_scale[S1_Q0] +
		       NCP_REACH_SHOULDER_MARGIN;
	if (q[0] > q0_hi || (a->q_min[0] < q0_lo - NCP_REACH_SHOULDER_MARGIN &&
			     q[0] < q0_lo)) {
		ncp_errf(why, len, "the shoulder would be at %.4f rad: the "
			 "circuits sense it %s %.4f rad (S1's range, less "
			 "%g rad)", q[0], q[0] > q0_hi ? "up to" : "from",
			 q[0] > q0_hi ? q0_hi : q0_lo, NCP_REACH_SHOULDER_MARGIN);
		return -EDOM;
	}
	return 0;
}

/* --- the arm as the joint-space controller sees it --------------------------
 * Everything the joint-space circuits need from the arm goes through these,
 * for any number of joints (q: dof values, M: dof x dof row-major). */

static void arm_inertia(const struct ncp_arm_params *a, const double *q,
			double *M)
{
	const int n = a->links;
	double m[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
	ncp_arm_inertia(a, q, m);
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			M[n * i + j] = m[i][j];
}

static int arm_ik(const struct ncp_arm_params *a, const double xy[2],
		  double *q)
{
	return ncp_arm_ik(a, xy, q);
}

static void arm_hand(const struct ncp_arm_params *a, const double *q,
		     double xy[2])
{
	ncp_arm_hand(a, q, xy);
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

/* The arm: filtered torque in (N), [q, dq, hand_x, hand_y] out (2 N + 2). */
static void arm_node(double t, const float *in, float *out, void *ctx)
{
	struct ncp_reach *r = ctx;
	struct ncp_arm_state s;

	for (int j = 0; j < r->links; j++)
		r->torque[j] = in[j];
	ncp_arm_step(&r->arm, r->torque, r->p.dt);
	ncp_arm_state(&r->arm, &s);
	ncp_arm_state_flat(&s, out);
}

/* --- decoded functions ----------------------------------------------------- */

/* M1: u = J^T Mx (kp x_des), from [q, x_des] scaled.  With 3 links the
 * arm is redundant and M1 adds the null-space term (operational space
 * control as REACH's three-link model): u_null = (I - J^T Jbar^T) M
 * kp_null (q_start - q) with Jbar = M^-1 J^T Mx, which is
 * y - J^T Mx J kp_null (q_start - q) for y = M kp_null (q_start - q). */
static void m1_func(const double *x, double *u, void *ctx)
{
	const struct ncp_reach *r = ctx;
	const int N = r->links;
	double v[NCP_REACH_M1_MAX] = { 0 }, J[2][NCP_ARM_MAX_LINKS], Mx[2][2], f[2];
	for (int i = 0; i < N + 2; i++)
		v[i] = x[i] * r->m1.scale[i] + r->m1.mean[i];
	ncp_arm_jacobian(&r->p.arm, v, J);
	ncp_arm_mx(&r->p.arm, v, Mx);
	for (int i = 0; i < 2; i++)
		f[i] = r->p.kp * (Mx[i][0] * v[N] + Mx[i][1] * v[N + 1]);
	for (int j = 0; j < N; j++)
		u[j] = J[0][j] * f[0] + J[1][j] * f[1];
	if (N == 2)
		return;
	double M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS], e[NCP_ARM_MAX_LINKS];
	double xe[2] = { 0, 0 }, g[2];
	ncp_arm_inertia(&r->p.arm, v, M);
	for (int j = 0; j < N; j++)
		e[j] = r->p.kp_null * (r->start_q[j] - v[j]);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < N; j++)
			xe[i] += J[i][j] * e[j];
	for (int i = 0; i < 2; i++)
		g[i] = Mx[i][0] * xe[0] + Mx[i][1] * xe[1];
	for (int j = 0; j < N; j++) {
		double y = 0.0;
		for (int k = 0; k < N; k++)
			y += M[j][k] * e[k];
		u[j] += y - (J[0][j] * g[0] + J[1][j] * g[1]);
	}
}

/* M1 in joint space (REACH's generalized coordinates): u = M(q) kp q_err,
 * from [q, q_err] scaled (2 dof values; q_err = q_des - q). */
static void m1_joint_func(const double *x, double *u, void *ctx)
{
	const struct ncp_reach *r = ctx;
	const int n = r->links;
	double v[2 * NCP_REACH_MAX_DOF] = { 0 };
	double M[NCP_REACH_MAX_DOF * NCP_REACH_MAX_DOF];
	for (int i = 0; i < 2 * n; i++)
		v[i] = x[i] * r->m1.scale[i] + r->m1.mean[i];
	arm_inertia(&r->p.arm, v, M);
	for (int i = 0; i < n; i++) {
		double acc = 0.0;
		for (int j = 0; j < n; j++)
			acc += M[n * i + j] * v[n + j];
		u[i] = r->p.kp * acc;
	}
}

/* CB: u = -M (kv dq), from [q, dq] scaled. */
static void cb_func(const double *x, double *u, void *ctx)
{
	const struct ncp_reach *r = ctx;
	const int N = r->links;
	double v[NCP_REACH_CB_MAX] = { 0 }, M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
	for (int i = 0; i < 2 * N; i++)
		v[i] = x[i] * r->cb.scale[i] + r->cb.mean[i];
	ncp_arm_inertia(&r->p.arm, v, M);
	for (int j = 0; j < N; j++) {
		double acc = M[j][0] * v[N] + M[j][1] * v[N + 1];
		if (N == 3)
			acc += M[j][2] * v[N + 2];
		u[j] = -r->kv * acc;
	}
}

static void zero_func(const double *x, double *u, void *ctx)
{
	const struct ncp_reach *r = ctx;
	for (int j = 0; j < r->links; j++)
		u[j] = 0.0;
}

/* The trajectory generator's forcing function f / (alpha beta) of the
 * ramp. */
static void force_func(const double *x, double *u, void *ctx)
{
	const struct ncp_reach *r = ctx;
	for (int d = 0; d < r->traj.dims; d++)
		u[d] = ncp_traj_force(&r->traj, d, x[0]);
}

/* The gate in front of the PMC's output: no force while the ramp waits
 * at -1 (the hand is brought back to the start). */
static void gate_node(double t, const float *in, float *out, void *ctx)
{
	const struct ncp_reach *r = ctx;
	bool open = r->ramp > -1.0;
	for (int d = 0; d < r->pmc_dims; d++)
		out[d] = open ? in[d] : 0.0f;
}

/* The force field: [q, dq] (filtered, 2 N) in, joint torques (N) out.
 * The joint field acts on shoulder and elbow (a 3-link arm's wrist gets
 * none). */
static void field_node(double t, const float *in, float *out, void *ctx)
{
	const struct ncp_reach *r = ctx;
	const int N = r->links;
	const double k = r->field.strength;
	double q[NCP_ARM_MAX_LINKS], dq[NCP_ARM_MAX_LINKS];

	for (int j = 0; j < N; j++) {
		q[j] = in[j];
		dq[j] = in[N + j];
		out[j] = 0.0f;
	}
	if (!r->field.on)
		return;
	if (r->field.kind == NCP_FIELD_JOINT) {
		out[0] = (float)(k * (field_b[0][0] * dq[0] + field_b[0][1] * dq[1]));
		out[1] = (float)(k * (field_b[1][0] * dq[0] + field_b[1][1] * dq[1]));
		return;
	}
	/* Curl: F = k (v_y, -v_x) at the hand, v = J dq; u = J^T F. */
	double J[2][NCP_ARM_MAX_LINKS], vx = 0.0, vy = 0.0;
	ncp_arm_jacobian(&r->p.arm, q, J);
	for (int j = 0; j < N; j++) {
		vx += J[0][j] * dq[j];
		vy += J[1][j] * dq[j];
	}
	double fx = k * vy, fy = -k * vx;
	for (int j = 0; j < N; j++)
		out[j] = (float)(J[0][j] * fx + J[1][j] * fy);
}

/* --- build ----------------------------------------------------------------- */

static void set_scaling(struct scaling *s, int dims, const double *mean,
			const double *scale)
{
	s->dims = dims;
	memcpy(s->mean, mean, sizeof(double) * (size_t)dims);
	memcpy(s->scale, scale, sizeof(double) * (size_t)dims);
}

/* The ensembles of M1 and CB (4-D for REACH's arm), radius sqrt(dims),
 * with area intercepts. */
static void area_spec(struct ncp_ens_spec *s, int n, int dims, uint64_t seed)
{
	ncp_ens_spec_default(s, n, dims);
	s->radius = dims == 4 ? 2.0 : sqrt((double)dims);
	s->intercepts = (struct ncp_dist){ NCP_DIST_AREA, -1.0, 0.1, 0 };
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

/* --- lesion, stimulation and the oracle ------------------------------------ */

/* Steady-state rate (Hz) and its slope dr/dJ; the slope's (J - 1) is kept
 * above 1e-3 so that a neuron at threshold does not dominate a fit. */
static double rate_slope(const struct ncp_lif_params *lp, double J,
			 double *slope)
{
	if (J <= 1.0) {
		*slope = 0.0;
		return 0.0;
	}
	double r = ncp_lif_rate(lp, J), jm = fmax(J - 1.0, 1e-3);
	*slope = r * r * lp->tau_rc / (jm * (jm + 1.0));
	return r;
}

/* M1's decoded output (N torques) for currents J, and optionally G =
 * du/dalpha (N x E) through the footprints. */
static void m1_static(const struct ncp_reach *r, const double *J, double *u,
		      double *G)
{
	const struct ncp_ens *m1 = ncp_net_ens(r->net, r->m1_ens);
	const float *D = ncp_net_decoders(r->net, r->m1_conn);
	const struct ncp_stim *s = &r->stim;
	const int N = r->links;
	for (int k = 0; k < N; k++)
		u[k] = 0.0;
	if (G)
		memset(G, 0, sizeof(double) * (size_t)N * (size_t)s->E);
	for (int i = 0; i < m1->n; i++) {
		double sl, a = rate_slope(&m1->lifp, J[i], &sl);
		for (int k = 0; k < N; k++)
			u[k] += D[N * i + k] * a;
		if (!G || sl == 0.0)
			continue;
		for (int e = 0; e < s->E; e++) {
			double c = s->C[(size_t)e * s->pad + i] * sl;
			for (int k = 0; k < N; k++)
				G[(size_t)k * s->E + e] += D[N * i + k] * c;
		}
	}
}

/* Currents J = bias + enc . x (+ C alpha) from float run-time arrays. */
static void m1_currents(const struct ncp_reach *r, const float *enc,
			const float *bias, const double *x,
			const double *alpha, double *J)
{
	const struct ncp_ens *m1 = ncp_net_ens(r->net, r->m1_ens);
	const struct ncp_stim *s = &r->stim;
	const int pad = ncp_simd_pad(m1->n);
	for (int i = 0; i < m1->n; i++) {
		double v = bias[i];
		for (int j = 0; j < m1->dims; j++)
			v += (double)enc[(size_t)j * pad + i] * x[j];
		if (alpha)
			for (int e = 0; e < s->E; e++)
				v += s->C[(size_t)e * s->pad + i] * alpha[e];
		J[i] = v;
	}
}

/* M1's run-time encoders (dims x pad) and biases (n) under a lesion,
 * from the built ones: the first round(fraction n) neurons of the lesion
 * order lose their x_des encoder rows (pmc-m1) or everything (m1-silence).
 * Returns how many neurons it hits. */
static int lesion_arrays(const struct ncp_reach *r, int kind, double fraction,
			 float *enc, float *bias)
{
	const struct ncp_ens *m1 = ncp_net_ens(r->net, r->m1_ens);
	const int n = m1->n, pad = ncp_simd_pad(n);
	int count = kind == NCP_LESION_NONE ? 0 : (int)lround(fraction * n);

	memcpy(enc, r->enc0, sizeof(float) * (size_t)pad * m1->dims);
	memcpy(bias, r->bias0, sizeof(float) * (size_t)n);
	for (int k = 0; k < count; k++) {
		uint32_t i = r->lesion_order[k];
		if (kind == NCP_LESION_PMC_M1) {
			/* The plan's rows: after the joint angles. */
			for (int j = r->links; j < m1->dims; j++)
				enc[(size_t)j * pad + i] = 0.0f;
		} else {
			/* Far below threshold whatever the input or the
			 * stimulation: the voltage sits at its floor. */
			for (int j = 0; j < m1->dims; j++)
				enc[(size_t)j * pad + i] = 0.0f;
			bias[i] = -1e9f;
		}
	}
	return count;
}

/* The oracle (docs/stimulation.md): for sample plans x_des (8 directions,
 * 0.05 to 0.25 m, arm at the start posture) find the electrode currents
 * alpha, within +-max, that bring M1's static decoded output under the
 * lesion closest to the intact one (Levenberg-Marquardt on the steady-
 * state rate map, minimum-norm steps from zero), then fit alpha = K x_des
 * to them by least squares.  Reads only what the build fixed. */
int ncp_reach_oracle_fit(const struct ncp_reach *r, int kind, double fraction,
			 double *K, char *err, size_t errlen)
{
	const struct ncp_ens *m1 = ncp_net_ens(r->net, r->m1_ens);
	const struct ncp_stim *s = &r->stim;
	const int n = m1->n, E = s->E, pad = ncp_simd_pad(n), N = r->links;

	if (kind < 0 || kind >= NCP_LESION_KIND_COUNT ||
	    !(fraction >= 0 && fraction <= 1))
		return ncp_errf(err, errlen, "bad lesion kind or fraction");
	if (r->joint && N != 2)
		return ncp_errf(err, errlen, "the oracle fits M1's plan of two "
				"dimensions; with joint-space control of the "
				"%d-link arm it has %d (the joint errors)", N, N);
	double *J = malloc(sizeof(double) * (size_t)n);
	double *G = malloc(sizeof(double) * (size_t)N * (size_t)E);
	double *alpha = malloc(sizeof(double) * (size_t)E);
	double *trial = malloc(sizeof(double) * (size_t)E);
	double *sax = calloc(2 * (size_t)E, sizeof(double));
	float *enc = malloc(sizeof(float) * (size_t)pad * m1->dims);
	float *bias = malloc(sizeof(float) * (size_t)n);
	if (!J || !G || !alpha || !trial || !sax || !enc || !bias) {
		free(J); free(G); free(alpha); free(trial); free(sax);
		free(enc); free(bias);
		return ncp_errf_code(err, errlen, ENOMEM, "out of memory for the oracle's fit");
	}
	lesion_arrays(r, kind, fraction, enc, bias);
	/* x: M1's scaled input, the joints at the start posture, then x_des
	 * at xd, xd + 1. */
	double x[2 * NCP_REACH_MAX_DOF] = { 0 }, sxx[2][2] = { { 0 } };
	const int xd = N;
	for (int j = 0; j < N; j++)
		x[j] = (r->start_q[j] - r->m1.mean[j]) / r->m1.scale[j];
	for (int dir = 0; dir < 8; dir++) {
		for (int mag = 1; mag <= 5; mag++) {
			double ang = dir * M_PI / 4, dist = 0.05 * mag;
			double u0[NCP_ARM_MAX_LINKS], u[NCP_ARM_MAX_LINKS];
			double res[NCP_ARM_MAX_LINKS], cost = 0.0;
			x[xd] = (dist * cos(ang) - r->m1.mean[xd]) / r->m1.scale[xd];
			x[xd + 1] = (dist * sin(ang) - r->m1.mean[xd + 1]) /
				    r->m1.scale[xd + 1];
			m1_currents(r, r->enc0, r->bias0, x, NULL, J);
			m1_static(r, J, u0, NULL);
			memset(alpha, 0, sizeof(double) * (size_t)E);
			m1_currents(r, enc, bias, x, alpha, J);
			m1_static(r, J, u, G);
			for (int k = 0; k < N; k++) {
				res[k] = u[k] - u0[k];
				cost += res[k] * res[k];
			}
			double mu = 1e-3;
			for (int it = 0; it < 60 && cost > 0; it++) {
				/* delta = -G^T (G G^T + mu tr I)^-1 res */
				double y[NCP_ARM_MAX_LINKS];
				if (N == 2) {
					double A[3] = { 0, 0, 0 };
					for (int e = 0; e < E; e++) {
						A[0] += G[e] * G[e];
						A[1] += G[e] * G[E + e];
						A[2] += G[E + e] * G[E + e];
					}
					double lam = mu * (A[0] + A[2]) + 1e-30;
					double a00 = A[0] + lam, a11 = A[2] + lam;
					double det = a00 * a11 - A[1] * A[1];
					y[0] = (a11 * res[0] - A[1] * res[1]) / det;
					y[1] = (a00 * res[1] - A[1] * res[0]) / det;
				} else {
					double A[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
					double tr = 0.0;
					for (int a = 0; a < N; a++)
						for (int b = 0; b < N; b++) {
							double acc = 0.0;
							for (int e = 0; e < E; e++)
								acc += G[a * E + e] * G[b * E + e];
							A[a][b] = acc;
						}
					for (int a = 0; a < N; a++)
						tr += A[a][a];
					for (int a = 0; a < N; a++)
						A[a][a] += mu * tr + 1e-30;
					ncp_arm_spd_solve(N, A, res, y);
				}
				for (int e = 0; e < E; e++) {
					double g = 0.0;
					for (int k = 0; k < N; k++)
						g += G[k * E + e] * y[k];
					double v = alpha[e] - g;
					trial[e] = fmin(fmax(v, -s->max), s->max);
				}
				double ut[NCP_ARM_MAX_LINKS], rt[NCP_ARM_MAX_LINKS];
				double Gt[NCP_ARM_MAX_LINKS * NCP_STIM_MAX_ELECTRODES];
				m1_currents(r, enc, bias, x, trial, J);
				m1_static(r, J, ut, Gt);
				double ct = 0.0;
				for (int k = 0; k < N; k++) {
					rt[k] = ut[k] - u0[k];
					ct += rt[k] * rt[k];
				}
				if (ct < cost) {
					memcpy(alpha, trial, sizeof(double) * (size_t)E);
					memcpy(G, Gt, sizeof(double) * (size_t)N * (size_t)E);
					memcpy(res, rt, sizeof(double) * (size_t)N);
					cost = ct;
					mu = fmax(mu * 0.3, 1e-9);
				} else {
					mu *= 10;
					if (mu > 1e6)
						break;
				}
			}
			for (int e = 0; e < E; e++) {
				sax[2 * e] += alpha[e] * x[xd];
				sax[2 * e + 1] += alpha[e] * x[xd + 1];
			}
			sxx[0][0] += x[xd] * x[xd];
			sxx[0][1] += x[xd] * x[xd + 1];
			sxx[1][1] += x[xd + 1] * x[xd + 1];
		}
	}
	/* K = (sum alpha x^T) (sum x x^T)^-1 */
	double det = sxx[0][0] * sxx[1][1] - sxx[0][1] * sxx[0][1];
	for (int e = 0; e < E; e++) {
		double b0 = sax[2 * e], b1 = sax[2 * e + 1];
		K[2 * e] = (b0 * sxx[1][1] - b1 * sxx[0][1]) / det;
		K[2 * e + 1] = (b1 * sxx[0][0] - b0 * sxx[0][1]) / det;
	}
	free(J); free(G); free(alpha); free(trial); free(sax);
	free(enc); free(bias);
	return 0;
}

void ncp_reach_set_oracle(struct ncp_reach *r, const double *K)
{
	if (r->oracle_k)
		memcpy(r->oracle_k, K, sizeof(double) * 2 * (size_t)r->stim.E);
}

/* After the network is built: keep M1's encoders and biases as built,
 * lay out the electrodes, draw the lesion order, apply the configured
 * lesion and fit the oracle if it is the source. */
static int m1_lesion_stim_init(struct ncp_reach *r, char *err, size_t errlen)
{
	struct ncp_ens *m1 = ncp_net_ens(r->net, r->m1_ens);
	const int n = m1->n, pad = ncp_simd_pad(n);
	int ret;

	r->enc0 = malloc(sizeof(float) * (size_t)pad * m1->dims);
	r->bias0 = malloc(sizeof(float) * (size_t)n);
	r->bias_les = malloc(sizeof(float) * (size_t)n);
	r->lesion_order = malloc(sizeof(uint32_t) * (size_t)n);
	r->theta_buf = calloc(NCP_STIM_MAX_ELECTRODES, sizeof(float));
	r->theta_cmd = calloc(NCP_STIM_MAX_ELECTRODES, sizeof(float));
	r->theta_out = calloc(NCP_STIM_MAX_ELECTRODES, sizeof(float));
	double *exd = malloc(sizeof(double) * 2 * (size_t)n);
	if (!r->enc0 || !r->bias0 || !r->bias_les || !r->lesion_order ||
	    !r->theta_buf || !r->theta_cmd || !r->theta_out || !exd) {
		free(exd);
		return ncp_errf(err, errlen, "out of memory");
	}
	memcpy(r->enc0, m1->enc, sizeof(float) * (size_t)pad * m1->dims);
	memcpy(r->bias0, m1->biasf, sizeof(float) * (size_t)n);
	memcpy(r->bias_les, m1->biasf, sizeof(float) * (size_t)n);
	for (int i = 0; i < n; i++) {
		exd[2 * i] = m1->encoders[(size_t)i * m1->dims + r->links];
		exd[2 * i + 1] = m1->encoders[(size_t)i * m1->dims + r->links + 1];
	}
	ret = ncp_stim_init(&r->stim, &r->p.stim, n, exd, r->p.dt, err, errlen);
	free(exd);
	if (ret)
		return ret;
	ncp_stim_lesion_order(r->lesion_order, n, r->p.stim.lesion_seed);
	ret = ncp_reach_set_lesion(r, r->p.stim.lesion_kind,
				   r->p.stim.lesion_fraction);
	if (ret)
		return ncp_errf(err, errlen, "bad lesion kind or fraction");
	if (r->p.stim.source != NCP_STIM_SRC_ORACLE)
		return 0;
	r->oracle_k = calloc(2 * (size_t)r->stim.E, sizeof(double));
	if (!r->oracle_k)
		return ncp_errf(err, errlen, "out of memory");
	return ncp_reach_oracle_fit(r, r->lesion_kind, r->lesion_fraction,
				    r->oracle_k, err, errlen);
}

/* The recording electrodes over the error ensemble. */
static int rec_init(struct ncp_reach *r, char *err, size_t errlen)
{
	const struct ncp_ens *e = ncp_net_ens(r->net, r->error_ens);
	double *exd = malloc(sizeof(double) * 2 * (size_t)e->n);
	if (!exd)
		return ncp_errf(err, errlen, "out of memory");
	ncp_reach_error_exd(r, exd);
	int ret = ncp_rec_init(&r->rec, &r->p.rec, e->n, exd, r->p.dt, err,
			       errlen);
	free(exd);
	return ret;
}

/* The joint-space PMC's trajectory (REACH's a03): the path's samples
 * over the ramp mapped through the inverse kinematics; the DMP traces
 * these joint angles.  The 3-link arm is redundant: each sample takes the
 * posture nearest the path's first posture (ncp_arm_ik's, the wrist
 * straight) that puts the hand on it, found from the sample before, so
 * the joint angles move continuously along the path. */
static int joint_traj(struct ncp_reach *r, char *err, size_t errlen)
{
	enum { S = NCP_TRAJ_SAMPLES };
	const int n = r->links;
	double *q = malloc(sizeof(double) * (size_t)n * S);
	if (!q)
		return ncp_errf_code(err, errlen, ENOMEM, "out of memory");
	for (int i = 0; i < S; i++) {
		double xy[2];
		ncp_traj_point(&r->traj, -1.0 + 2.0 * i / (S - 1), xy);
		double *qi = q + (size_t)n * i;
		if (arm_ik(&r->p.arm, xy, qi)) {
			free(q);
			return ncp_errf_code(err, errlen, EDOM, "trajectory point "
					     "(%.3f, %.3f) has no joint angles "
					     "within the limits", xy[0], xy[1]);
		}
		if (n == 2 || i == 0)
			continue;
		if (ncp_arm_ik_near(&r->p.arm, xy, q, qi - n, qi)) {
			double xy0[2];
			ncp_traj_point(&r->traj, -1.0, xy0);
			int c = ncp_errf_code(err, errlen, EDOM, "trajectory "
					      "point (%.3f, %.3f): no posture "
					      "within the joint limits continues "
					      "the path there (each point takes "
					      "the posture nearest the first "
					      "point's, (%.3f, %.3f) at %.3f, "
					      "%.3f, %.3f rad)", xy[0], xy[1],
					      xy0[0], xy0[1], q[0], q[1], q[2]);
			free(q);
			return c;
		}
	}
	int ret = ncp_traj_set_force(&r->traj, q, S, n);
	free(q);
	return ret ? ncp_errf_code(err, errlen, -ret, "joint trajectory: %s",
				   ncp_strerror(ret)) : 0;
}

/* The PMC's target node (the goal with the generator) holds v. */
static void set_pmc(struct ncp_reach *r, const double *v)
{
	float *out = ncp_net_output(r->net, r->dmp ? r->pmc_goal : r->pmc);
	for (int d = 0; d < r->pmc_dims; d++)
		out[d] = (float)v[d];
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
	if (!ncp_arm_for_links(p->arm.links, err, errlen)) {
		free(r);
		return NULL;
	}
	const int N = r->links = p->arm.links, S = NCP_ARM_STATE_DIMS(N);
	const int DM1 = NCP_REACH_M1_DIMS(N), DCB = NCP_REACH_CB_DIMS(N);
	if (p->control < 0 || p->control >= NCP_REACH_CONTROL_COUNT) {
		ncp_errf(err, errlen, "reach.control %d: expected task (%d) or "
			 "joint (%d)", p->control, NCP_REACH_TASK,
			 NCP_REACH_JOINT);
		free(r);
		return NULL;
	}
	r->joint = p->control == NCP_REACH_JOINT;
	r->pmc_dims = r->joint ? N : 2;
	if (ncp_arm_ik(&p->arm, p->start, r->start_q)) {
		ncp_errf(err, errlen, "start position (%g, %g) is out of the "
			 "arm's reach", p->start[0], p->start[1]);
		free(r);
		return NULL;
	}
	ncp_arm_init(&r->arm, &p->arm, r->start_q);
	r->target[0] = p->start[0];
	r->target[1] = p->start[1];
	memcpy(r->target_q, r->start_q, sizeof(double) * (size_t)N);
	set_scaling(&r->s1, S, p->s1_mean, p->s1_scale);
	if (r->joint) {
		/* [q, q_err]: the joint angles as in task space, the joint
		 * errors as the task-space error (mean 0, its scale). */
		double mean[2 * NCP_REACH_MAX_DOF], scale[2 * NCP_REACH_MAX_DOF];
		for (int i = 0; i < N; i++) {
			mean[i] = p->m1_mean[i];
			scale[i] = p->m1_scale[i];
			mean[N + i] = 0.0;
			scale[N + i] = p->m1_scale[N];
		}
		set_scaling(&r->m1, 2 * N, mean, scale);
	} else {
		set_scaling(&r->m1, DM1, p->m1_mean, p->m1_scale);
	}
	set_scaling(&r->cb, DCB, p->cb_mean, p->cb_scale);
	r->net = ncp_net_new(p->dt);
	if (!r->net) {
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	struct ncp_net *net = r->net;
	ncp_net_set_cache(net, cache);

	/* Objects in run order; every ensemble's seed from the network's. */
	/* The PMC: a target someone sets, or, with the trajectory
	 * generator, the sum of its goal and force paths (built last). */
	r->dmp = p->dmp_n >= 2 && p->dmp_xy;
	if (r->dmp && ncp_traj_init(&r->traj, p->dmp_xy, p->dmp_n)) {
		ncp_errf(err, errlen, "out of memory");
		goto fail;
	}
	if (r->dmp && r->joint)
		TRY(joint_traj(r, err, errlen));
	TRY(r->pmc = ncp_net_node(net, "pmc", r->dmp ? r->pmc_dims : 0,
				  r->pmc_dims, NULL, NULL));
	TRY(r->arm_node = ncp_net_node(net, "arm", N, S, arm_node, r));
	ncp_net_node_part(net, r->arm_node, NCP_PART_ARM);
	TRY(s1_in = ncp_net_node(net, "s1.in", S, S, scale_down, &r->s1));
	ncp_ens_spec_default(&spec, p->n_s1, 1);
	spec.seed = ncp_rng_derive(p->seed, 1);
	TRY(ncp_net_ens_array(net, "s1", S, &spec, &s1_arr_in, &s1_arr_out, err,
			      errlen));
	TRY(s1_out = ncp_net_node(net, "s1.out", S, S, scale_up, &r->s1));
	/* error: target - hand, or in joint space q_des - q. */
	ncp_ens_spec_default(&spec, p->n_error, r->pmc_dims);
	spec.seed = ncp_rng_derive(p->seed, 2);
	TRY(error = ncp_net_ensemble(net, "error", &spec, err, errlen));
	r->error_ens = error;
	const int m1_dims = r->m1.dims;
	TRY(m1_in = ncp_net_node(net, "m1.in", m1_dims, m1_dims, scale_down,
				 &r->m1));
	r->m1_in = m1_in;
	area_spec(&spec, p->n_m1, m1_dims, ncp_rng_derive(p->seed, 3));
	TRY(r->m1_ens = ncp_net_ensemble(net, "m1", &spec, err, errlen));
	TRY(cb_in = ncp_net_node(net, "cb.in", DCB, DCB, scale_down, &r->cb));
	area_spec(&spec, p->n_cb, DCB, ncp_rng_derive(p->seed, 4));
	TRY(cb = ncp_net_ensemble(net, "cb", &spec, err, errlen));
	TRY(relay = ncp_net_node(net, "relay", N, N, NULL, NULL));

	/* Wiring (docs/model.md): 5 ms synapses unless "no synapse". */
	TRY(connect(r, (struct ncp_conn_spec){ .src = r->arm_node, .dst = s1_in,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = s1_in, .dst = s1_arr_in },
		    err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = s1_arr_out, .dst = s1_out },
		    err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = r->pmc, .dst = error,
		     .tau = tau }, err, errlen));
	/* The error subtracts S1's hand (task space) or S1's joint angles
	 * (joint space) from the PMC's target. */
	TRY(connect(r, (struct ncp_conn_spec){ .src = s1_out,
		     .src_lo = r->joint ? 0 : 2 * N, .src_dims = r->pmc_dims,
		     .dst = error, .weight = -1, .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = s1_out, .src_lo = 0,
		     .src_dims = N, .dst = m1_in, .dst_lo = 0, .dst_dims = N,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = error, .dst = m1_in,
		     .dst_lo = N, .dst_dims = r->pmc_dims, .tau = tau },
		    err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = m1_in, .dst = r->m1_ens },
		    err, errlen));
	TRY(r->m1_conn = connect(r, (struct ncp_conn_spec){ .src = r->m1_ens,
		     .dst = relay, .function = r->joint ? m1_joint_func : m1_func,
		     .ctx = r, .src_dims = N, .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = r->arm_node, .src_lo = 0,
		     .src_dims = DCB, .dst = cb_in, .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = cb_in, .dst = cb,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = cb, .dst = relay,
		     .function = cb_func, .ctx = r, .src_dims = N,
		     .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = relay, .dst = r->arm_node,
		     .tau = tau }, err, errlen));

	if (p->adapt) {
		int adapt, adapt_err;
		area_spec(&spec, p->n_adapt, DCB, ncp_rng_derive(p->seed, 5));
		/* REACH's: the area transform of 2 dimensions over
		 * Uniform(-0.5, 0.2), on CB's population. */
		spec.intercepts = (struct ncp_dist){ NCP_DIST_AREA, -0.5, 0.2, 2 };
		TRY(adapt = ncp_net_ensemble(net, "cb.adapt", &spec, err, errlen));
		TRY(adapt_err = ncp_net_node(net, "cb.adapt.error", N, N, NULL,
					     NULL));
		TRY(connect(r, (struct ncp_conn_spec){ .src = cb_in, .dst = adapt,
			     .tau = tau }, err, errlen));
		TRY(connect(r, (struct ncp_conn_spec){ .src = relay,
			     .dst = adapt_err, .weight = -1,
			     .tau = p->adapt_tau }, err, errlen));
		TRY(connect(r, (struct ncp_conn_spec){ .src = adapt,
			     .dst = r->arm_node, .function = zero_func, .ctx = r,
			     .src_dims = N, .tau = tau,
			     .pes_rate = p->adapt_rate, .pes_err = adapt_err },
			    err, errlen));
	}

	/* The force field: arm [q, dq] -> field -> arm torque (5 ms each
	 * way, as REACH's perturbation node); zero while off. */
	int field;
	r->field = p->field;
	TRY(field = ncp_net_node(net, "field", DCB, N, field_node, r));
	TRY(connect(r, (struct ncp_conn_spec){ .src = r->arm_node, .src_lo = 0,
		     .src_dims = DCB, .dst = field, .tau = tau }, err, errlen));
	TRY(connect(r, (struct ncp_conn_spec){ .src = field, .dst = r->arm_node,
		     .tau = tau }, err, errlen));

	if (r->dmp) {
		/* REACH's PMC: goal -> (alpha) -> pmc; ramp -> (5 ms) ramp
		 * population -> f / (alpha beta) -> (alpha) -> gate -> (5 ms)
		 * -> pmc; the alpha synapse's tau = 1 / sqrt(alpha beta). */
		int ramp_ens, gate;
		double ta = 1.0 / sqrt(r->traj.alpha * r->traj.beta);
		r->ramp = -1.0;
		TRY(r->pmc_goal = ncp_net_node(net, "pmc.goal", 0, r->pmc_dims,
					       NULL, NULL));
		TRY(r->pmc_ramp = ncp_net_node(net, "pmc.ramp", 0, 1, NULL, NULL));
		ncp_net_output(net, r->pmc_ramp)[0] = -1.0f;
		ncp_ens_spec_default(&spec, p->n_ramp, 1);
		spec.seed = ncp_rng_derive(p->seed, 6);
		TRY(ramp_ens = ncp_net_ensemble(net, "pmc.ramp_ens", &spec, err,
						errlen));
		TRY(gate = ncp_net_node(net, "pmc.gate", r->pmc_dims,
					r->pmc_dims, gate_node, r));
		TRY(connect(r, (struct ncp_conn_spec){ .src = r->pmc_ramp,
			     .dst = ramp_ens, .tau = tau }, err, errlen));
		TRY(connect(r, (struct ncp_conn_spec){ .src = ramp_ens,
			     .dst = gate, .function = force_func, .ctx = r,
			     .src_dims = r->pmc_dims, .tau = ta, .alpha = true }, err,
			    errlen));
		TRY(connect(r, (struct ncp_conn_spec){ .src = gate,
			     .dst = r->pmc, .tau = tau }, err, errlen));
		TRY(connect(r, (struct ncp_conn_spec){ .src = r->pmc_goal,
			     .dst = r->pmc, .tau = ta, .alpha = true }, err,
			    errlen));
	}
	TRY(ncp_net_finalize(net));
	if (r->joint)
		set_pmc(r, r->target_q);
	TRY(m1_lesion_stim_init(r, err, errlen));
	TRY(rec_init(r, err, errlen));
	return r;
fail:
	if (err && !err[0])
		ncp_errf(err, errlen, "building the REACH network failed");
	ncp_reach_free(r);
	return NULL;
}

void ncp_reach_free(struct ncp_reach *r)
{
	if (!r)
		return;
	ncp_stim_fini(&r->stim);
	ncp_rec_fini(&r->rec);
	free(r->enc0);
	free(r->bias0);
	free(r->bias_les);
	free(r->theta_buf);
	free(r->theta_cmd);
	free(r->theta_out);
	free(r->lesion_order);
	free(r->oracle_k);
	ncp_traj_fini(&r->traj);
	ncp_net_free(r->net);
	free(r);
}

void ncp_reach_set_target(struct ncp_reach *r, const double xy[2])
{
	if (r->joint) {
		/* The inverse kinematics only when the target moves. */
		double q[NCP_REACH_MAX_DOF];
		if ((xy[0] != r->target[0] || xy[1] != r->target[1]) &&
		    !arm_ik(&r->p.arm, xy, q)) {
			memcpy(r->target_q, q, sizeof(double) * (size_t)r->links);
			r->target[0] = xy[0];
			r->target[1] = xy[1];
		}
		set_pmc(r, r->target_q);
		return;
	}
	r->target[0] = xy[0];
	r->target[1] = xy[1];
	set_pmc(r, xy);
}

void ncp_reach_set_ramp(struct ncp_reach *r, double ramp)
{
	if (!r->dmp)
		return;
	r->ramp = ramp;
	ncp_net_output(r->net, r->pmc_ramp)[0] = (float)ramp;
}

const struct ncp_traj *ncp_reach_traj(const struct ncp_reach *r)
{
	return r->dmp ? &r->traj : NULL;
}

int ncp_reach_set_field(struct ncp_reach *r, const struct ncp_field_params *f)
{
	if (f->kind < 0 || f->kind >= NCP_FIELD_KIND_COUNT ||
	    !isfinite(f->strength))
		return -EINVAL;
	r->field = *f;
	return 0;
}

void ncp_reach_field(const struct ncp_reach *r, struct ncp_field_params *f)
{
	*f = r->field;
}

/* The oracle's theta: alpha reaches K x_des in one step (x_des as M1 got
 * it last step), within the bounds. */
static void oracle_theta(struct ncp_reach *r, float *theta)
{
	const float *x = ncp_net_input(r->net, r->m1_ens);
	const struct ncp_stim *s = &r->stim;
	for (int e = 0; e < s->E; e++) {
		double want = r->oracle_k[2 * e] * x[r->links] +
			      r->oracle_k[2 * e + 1] * x[r->links + 1];
		want = fmin(fmax(want, -s->max), s->max);
		double th = want - s->d * s->alpha[e];
		theta[e] = (float)fmin(fmax(th, -s->max), s->max);
	}
}

void ncp_reach_step(struct ncp_reach *r)
{
	struct ncp_ens *m1 = ncp_net_ens(r->net, r->m1_ens);

	/* The source's theta, then the noise on top of it.  The noise
	 * source is no controller: the noise alone, as it always was. */
	const float *base = r->theta_cmd;
	if (r->p.stim.source == NCP_STIM_SRC_ORACLE) {
		oracle_theta(r, r->theta_buf);
		base = r->theta_buf;
	} else if (r->p.stim.source == NCP_STIM_SRC_NOISE) {
		base = NULL;
	}
	if (r->p.stim.noise > 0 || r->p.stim.source == NCP_STIM_SRC_NOISE) {
		ncp_stim_noise(&r->stim, r->p.stim.noise, base, r->theta_out);
		base = r->theta_out;
	}
	if (base)
		ncp_stim_set_theta(&r->stim, base);
	if (ncp_stim_step(&r->stim, r->bias_les, m1->biasf)) {
		r->stim_applied = true;
	} else if (r->stim_applied) {
		memcpy(m1->biasf, r->bias_les, sizeof(float) * (size_t)m1->n);
		r->stim_applied = false;
	}
	ncp_net_step(r->net);
	const struct ncp_ens *e = ncp_net_ens(r->net, r->error_ens);
	ncp_rec_step(&r->rec, e->lif.spikes, e->lif.n_spikes);
}

void ncp_reach_reset(struct ncp_reach *r)
{
	ncp_net_reset(r->net);
	ncp_arm_init(&r->arm, &r->p.arm, r->start_q);
	memset(r->torque, 0, sizeof(r->torque));
	ncp_stim_reset(&r->stim);
	memset(r->theta_cmd, 0, sizeof(float) * (size_t)r->stim.E);
	ncp_rec_reset(&r->rec);
	if (r->stim_applied) {
		struct ncp_ens *m1 = ncp_net_ens(r->net, r->m1_ens);
		memcpy(m1->biasf, r->bias_les, sizeof(float) * (size_t)m1->n);
		r->stim_applied = false;
	}
	ncp_reach_set_target(r, r->target);
}

int ncp_reach_set_lesion(struct ncp_reach *r, int kind, double fraction)
{
	struct ncp_ens *m1 = ncp_net_ens(r->net, r->m1_ens);
	const int n = m1->n;

	if (kind < 0 || kind >= NCP_LESION_KIND_COUNT ||
	    !(fraction >= 0 && fraction <= 1))
		return -EINVAL;
	int count = lesion_arrays(r, kind, fraction, m1->enc, r->bias_les);
	/* Stimulation, if any, is added back on the next step. */
	memcpy(m1->biasf, r->bias_les, sizeof(float) * (size_t)n);
	r->stim_applied = false;
	r->lesion_kind = kind;
	r->lesion_fraction = kind == NCP_LESION_NONE ? 0.0 : fraction;
	r->lesion_count = count;
	return 0;
}

void ncp_reach_lesion(const struct ncp_reach *r, int *kind, double *fraction,
		      int *count)
{
	*kind = r->lesion_kind;
	*fraction = r->lesion_fraction;
	*count = r->lesion_count;
}

void ncp_reach_set_theta(struct ncp_reach *r, const float *theta)
{
	memcpy(r->theta_cmd, theta, sizeof(float) * (size_t)r->stim.E);
}

const struct ncp_stim *ncp_reach_stim(const struct ncp_reach *r)
{
	return &r->stim;
}

const struct ncp_stim_params *ncp_reach_stim_params(const struct ncp_reach *r)
{
	return &r->p.stim;
}

const double *ncp_reach_oracle_k(const struct ncp_reach *r)
{
	return r->oracle_k;
}

const float *ncp_reach_rec(const struct ncp_reach *r, int *R)
{
	*R = r->rec.R;
	return r->rec.yf;
}

const struct ncp_rec *ncp_reach_rec_state(const struct ncp_reach *r)
{
	return &r->rec;
}

void ncp_reach_x_des(const struct ncp_reach *r, double xd[2])
{
	struct ncp_arm_state s;
	double t[2];
	ncp_arm_state(&r->arm, &s);
	ncp_reach_target(r, t);
	xd[0] = t[0] - s.hand[0];
	xd[1] = t[1] - s.hand[1];
}

const uint32_t *ncp_reach_error_spikes(const struct ncp_reach *r, int *n)
{
	const struct ncp_ens *e = ncp_net_ens(r->net, r->error_ens);
	*n = e->lif.n_spikes;
	return e->lif.spikes;
}

void ncp_reach_error_exd(const struct ncp_reach *r, double *exd)
{
	const struct ncp_ens *e = ncp_net_ens(r->net, r->error_ens);
	for (int i = 0; i < e->n; i++) {
		exd[2 * i] = e->encoders[(size_t)i * e->dims];
		exd[2 * i + 1] = e->encoders[(size_t)i * e->dims + 1];
	}
}

int ncp_reach_m1_static(const struct ncp_reach *r, const double *x, double *u,
			double *f)
{
	const struct ncp_ens *m1 = ncp_net_ens(r->net, r->m1_ens);
	const float *D = ncp_net_decoders(r->net, r->m1_conn);
	const int k = r->links, dims = r->m1.dims;
	double xs[2 * NCP_REACH_MAX_DOF];
	for (int j = 0; j < dims; j++)
		xs[j] = (x[j] - r->m1.mean[j]) / r->m1.scale[j];
	if (f)
		(r->joint ? m1_joint_func : m1_func)(xs, f, (void *)r);
	if (!u)
		return 0;
	double *rates = malloc(sizeof(double) * (size_t)m1->n);
	if (!rates)
		return -ENOMEM;
	ncp_ens_rates(m1, xs, rates);
	for (int j = 0; j < k; j++)
		u[j] = 0.0;
	for (int i = 0; i < m1->n; i++)
		for (int j = 0; j < k; j++)
			u[j] += (double)D[(size_t)k * i + j] * rates[i];
	free(rates);
	return 0;
}

int ncp_reach_m1_dims(const struct ncp_reach *r)
{
	return r->m1.dims;
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

void ncp_reach_torque(const struct ncp_reach *r, double *u)
{
	for (int j = 0; j < r->links; j++)
		u[j] = r->torque[j];
}

int ncp_reach_links(const struct ncp_reach *r)
{
	return r->links;
}

void ncp_reach_target(const struct ncp_reach *r, double xy[2])
{
	if (r->dmp && r->joint) {
		const float *o = ncp_net_output(r->net, r->pmc);
		double q[NCP_REACH_MAX_DOF];
		for (int d = 0; d < r->links; d++)
			q[d] = o[d];
		arm_hand(&r->p.arm, q, xy);
		return;
	}
	if (r->dmp) {
		const float *o = ncp_net_output(r->net, r->pmc);
		xy[0] = o[0];
		xy[1] = o[1];
		return;
	}
	xy[0] = r->target[0];
	xy[1] = r->target[1];
}

const struct ncp_arm_params *ncp_reach_arm_params(const struct ncp_reach *r)
{
	return &r->p.arm;
}

const struct ncp_reach_params *ncp_reach_get_params(const struct ncp_reach *r)
{
	return &r->p;
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
