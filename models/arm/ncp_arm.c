#include "models/arm/ncp_arm.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "models/base/ncp_base.h"

const struct ncp_arm_params ncp_arm_default = {
	.links = 2,
	.l = { 1.5, 1.3 },
	.m = { 1.98, 1.32 },
	.izz = { 0.4, 0.2 },
	.q_min = { 0.1, 0.1 },
	.q_max = { 3.0, 3.0 },
};

/* Winter, Biomechanics and Motor Control of Human Movement (4th ed.,
 * 2009), table 4.1, for body height H and mass BM: segment length (of H;
 * Drillis and Contini's proportions), mass (of BM), centre of mass from
 * the proximal joint and radius of gyration about it (of the length):
 *   upper arm  0.186  0.028  0.436  0.322
 *   forearm    0.146  0.016  0.430  0.303
 *   hand       0.108  0.006  0.506  0.297
 * Joint ranges: the American Academy of Orthopaedic Surgeons' normal
 * ranges: the shoulder in the horizontal plane from 45 deg of horizontal
 * abduction (behind the line of the shoulders, q0 = 0 pointing sideways)
 * to 135 deg of horizontal adduction, elbow flexion 0-145 deg, wrist
 * flexion 80 / extension 70 deg. */
#define H3 1.75
#define BM3 70.0
#define SEG_L(f) ((f) * H3)
#define SEG_M(f) ((f) * BM3)
#define SEG_I(fm, fl, rg) (SEG_M(fm) * (rg) * SEG_L(fl) * (rg) * SEG_L(fl))

const struct ncp_arm_params ncp_arm_human3 = {
	.links = 3,
	.l = { SEG_L(0.186), SEG_L(0.146), SEG_L(0.108) },
	.m = { SEG_M(0.028), SEG_M(0.016), SEG_M(0.006) },
	.izz = { SEG_I(0.028, 0.186, 0.322), SEG_I(0.016, 0.146, 0.303),
		 SEG_I(0.006, 0.108, 0.297) },
	.com = { 0.436 * SEG_L(0.186), 0.430 * SEG_L(0.146),
		 0.506 * SEG_L(0.108) },
	.q_min = { -0.785, 0.0, -1.22 },
	.q_max = { 2.356, 2.53, 1.40 },
};

const struct ncp_arm_params *ncp_arm_for_links(int links, char *err,
					       size_t errlen)
{
	if (links == 2)
		return &ncp_arm_default;
	if (links == 3)
		return &ncp_arm_human3;
	ncp_errf(err, errlen, "%d links: ncpd has arms of 2 links (REACH's) "
		 "and 3 links (a human arm: upper arm, forearm, hand)", links);
	return NULL;
}

void ncp_arm_init(struct ncp_arm *arm, const struct ncp_arm_params *p,
		  const double *q)
{
	memset(arm, 0, sizeof(*arm));
	arm->p = *p;
	for (int i = 0; i < p->links; i++)
		arm->q[i] = q[i];
}

/* --- the general open chain (3 links) --------------------------------------
 *
 * With absolute angles phi_a = q_0 + ... + q_a and angular velocities
 * w_a = dphi_a, link i's centre of mass is at sum_{a<i} l_a e(phi_a) +
 * com_i e(phi_i), e(phi) = (cos phi, sin phi), so the kinetic energy is
 *   T = 1/2 sum_ab C_ab cos(phi_a - phi_b) w_a w_b + 1/2 sum_a I_a w_a^2,
 *   C_ab = sum_{i >= max(a, b)} m_i r_ai r_bi,  r_ai = l_a (a < i), com_i (a = i).
 * Lagrange's equations in the absolute angles:
 *   sum_b A_ab dw_b + sum_b C_ab sin(phi_a - phi_b) w_b^2 = Q_a,
 *   A_ab = C_ab cos(phi_a - phi_b) + delta_ab I_a,
 * where the joint torques u do the work sum_j u_j dq_j, so Q_a = u_a -
 * u_{a+1} (u_links = 0).  The joint accelerations follow as ddq_j = dw_j -
 * dw_{j-1}, and M(q) = T^T A T with phi = T q (T lower triangular ones). */

static void chain_c(const struct ncp_arm_params *p,
		    double C[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS])
{
	const int n = p->links < NCP_ARM_MAX_LINKS ? p->links : NCP_ARM_MAX_LINKS;
	for (int a = 0; a < n; a++)
		for (int b = 0; b < n; b++) {
			double acc = 0.0;
			for (int i = a > b ? a : b; i < n; i++) {
				double ra = a < i ? p->l[a] : p->com[i];
				double rb = b < i ? p->l[b] : p->com[i];
				acc += p->m[i] * ra * rb;
			}
			C[a][b] = acc;
		}
}

static void absolute(int n, const double *q, double *phi)
{
	double s = 0.0;
	for (int a = 0; a < n; a++) {
		s += q[a];
		phi[a] = s;
	}
}

/* A(phi) of the absolute-angle equations. */
static void chain_a(const struct ncp_arm_params *p, const double *phi,
		    double C[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS],
		    double A[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS])
{
	const int n = p->links;
	for (int a = 0; a < n; a++)
		for (int b = 0; b < n; b++)
			A[a][b] = C[a][b] * cos(phi[a] - phi[b]) +
				  (a == b ? p->izz[a] : 0.0);
}

void ncp_arm_spd_solve(int n, double S[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS],
		       const double *b, double *x)
{
	double L[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS] = { { 0 } };
	double y[NCP_ARM_MAX_LINKS];

	for (int i = 0; i < n; i++)
		for (int j = 0; j <= i; j++) {
			double s = S[i][j];
			for (int k = 0; k < j; k++)
				s -= L[i][k] * L[j][k];
			L[i][j] = i == j ? sqrt(s) : s / L[j][j];
		}
	for (int i = 0; i < n; i++) {
		double s = b[i];
		for (int k = 0; k < i; k++)
			s -= L[i][k] * y[k];
		y[i] = s / L[i][i];
	}
	for (int i = n - 1; i >= 0; i--) {
		double s = y[i];
		for (int k = i + 1; k < n; k++)
			s -= L[k][i] * x[k];
		x[i] = s / L[i][i];
	}
}

static void chain_accel(const struct ncp_arm_params *p, const double *q,
			const double *dq, const double *u, double *ddq)
{
	const int n = p->links;
	double C[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
	double A[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
	double phi[NCP_ARM_MAX_LINKS] = { 0 }, w[NCP_ARM_MAX_LINKS] = { 0 };
	double Q[NCP_ARM_MAX_LINKS] = { 0 }, dw[NCP_ARM_MAX_LINKS] = { 0 };

	chain_c(p, C);
	absolute(n, q, phi);
	absolute(n, dq, w);
	chain_a(p, phi, C, A);
	for (int a = 0; a < n; a++) {
		double s = 0.0;
		for (int b = 0; b < n; b++)
			s += C[a][b] * sin(phi[a] - phi[b]) * w[b] * w[b];
		Q[a] = u[a] - (a + 1 < n ? u[a + 1] : 0.0) - s;
	}
	ncp_arm_spd_solve(n, A, Q, dw);
	for (int j = 0; j < n; j++)
		ddq[j] = dw[j] - (j ? dw[j - 1] : 0.0);
}

static void chain_inertia(const struct ncp_arm_params *p, const double *q,
			  double M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS])
{
	const int n = p->links;
	double C[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
	double A[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
	double phi[NCP_ARM_MAX_LINKS];

	chain_c(p, C);
	absolute(n, q, phi);
	chain_a(p, phi, C, A);
	/* (T^T A T)_jk = sum_{a >= j} sum_{b >= k} A_ab. */
	for (int j = 0; j < n; j++)
		for (int k = 0; k < n; k++) {
			double s = 0.0;
			for (int a = j; a < n; a++)
				for (int b = k; b < n; b++)
					s += A[a][b];
			M[j][k] = s;
		}
}

/* --- REACH's 2-link arm ----------------------------------------------------- */

static void reach2_accel(const struct ncp_arm_params *p, const double *q,
			 const double *dq, const double *u, double *ddq)
{
	const double l0 = p->l[0], l1 = p->l[1], m0 = p->m[0], m1 = p->m[1];
	const double K1 = (m0 / 3.0 + m1) * l0 * l0 + m1 * l1 * l1 / 3.0;
	const double K2 = m1 * l0 * l1;
	const double K3 = m1 * l1 * l1 / 3.0;
	const double K4 = m1 * l0 * l1 / 2.0;
	const double c1 = cos(q[1]), s1 = sin(q[1]);
	const double M11 = K1 + K2 * c1, M12 = K3 + K4 * c1, M21 = M12;
	const double M22 = K3;
	const double H1 = -K2 * s1 * dq[0] * dq[1] - K2 * s1 * dq[1] * dq[1] / 2.0;
	const double H2 = K2 * s1 * dq[0] * dq[0] / 2.0;

	ddq[1] = (H2 * M11 - H1 * M21 - M11 * u[1] + M21 * u[0]) /
		 (M12 * M12 - M11 * M22);
	ddq[0] = (-H2 + u[1] - M22 * ddq[1]) / M21;
}

static void reach2_inertia(const struct ncp_arm_params *p, const double *q,
			   double M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS])
{
	/* Rows (x, y, rot_z) of each link's centre-of-mass Jacobian. */
	const double l0 = p->l[0], l1 = p->l[1];
	const double s0 = sin(q[0]), c0 = cos(q[0]);
	const double s01 = sin(q[0] + q[1]), c01 = cos(q[0] + q[1]);
	double J1[3][2] = { { -l0 / 2 * s0, 0 }, { l0 / 2 * c0, 0 }, { 1, 0 } };
	double bx = -l1 / 2 * s01, by = l1 / 2 * c01;
	double J2[3][2] = { { -l0 * s0 + bx, bx }, { l0 * c0 + by, by }, { 1, 1 } };
	double w1[3] = { p->m[0], p->m[0], p->izz[0] };
	double w2[3] = { p->m[1], p->m[1], p->izz[1] };

	for (int a = 0; a < 2; a++)
		for (int b = 0; b < 2; b++) {
			double acc = 0.0;
			for (int r = 0; r < 3; r++)
				acc += J1[r][a] * w1[r] * J1[r][b] +
				       J2[r][a] * w2[r] * J2[r][b];
			M[a][b] = acc;
		}
}

/* --- both ------------------------------------------------------------------- */

void ncp_arm_accel(const struct ncp_arm_params *p, const double *q,
		   const double *dq, const double *u, double *ddq)
{
	if (p->links == 2)
		reach2_accel(p, q, dq, u, ddq);
	else
		chain_accel(p, q, dq, u, ddq);
}

double ncp_arm_energy(const struct ncp_arm_params *p, const double *q,
		      const double *dq)
{
	struct ncp_arm_params rods;
	const int n = p->links;
	double C[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
	double A[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
	double phi[NCP_ARM_MAX_LINKS], w[NCP_ARM_MAX_LINKS], e = 0.0;

	memcpy(&rods, p, sizeof(rods));
	if (n == 2)
		for (int i = 0; i < 2; i++) {
			/* REACH's simulated arm: uniform rods. */
			rods.com[i] = p->l[i] / 2.0;
			rods.izz[i] = p->m[i] * p->l[i] * p->l[i] / 12.0;
		}
	chain_c(&rods, C);
	absolute(n, q, phi);
	absolute(n, dq, w);
	chain_a(&rods, phi, C, A);
	for (int a = 0; a < n; a++)
		for (int b = 0; b < n; b++)
			e += 0.5 * A[a][b] * w[a] * w[b];
	return e;
}

void ncp_arm_step(struct ncp_arm *arm, const double *u, double dt)
{
	double ddq[NCP_ARM_MAX_LINKS];
	ncp_arm_accel(&arm->p, arm->q, arm->dq, u, ddq);
	for (int i = 0; i < arm->p.links; i++) {
		arm->dq[i] += ddq[i] * dt;
		arm->q[i] += arm->dq[i] * dt;
		if (arm->q[i] < arm->p.q_min[i]) {
			arm->q[i] = arm->p.q_min[i];
			arm->dq[i] = 0.0;
		} else if (arm->q[i] > arm->p.q_max[i]) {
			arm->q[i] = arm->p.q_max[i];
			arm->dq[i] = 0.0;
		}
	}
}

void ncp_arm_state(const struct ncp_arm *arm, struct ncp_arm_state *s)
{
	memset(s, 0, sizeof(*s));
	s->links = arm->p.links;
	for (int i = 0; i < arm->p.links; i++) {
		s->q[i] = arm->q[i];
		s->dq[i] = arm->dq[i];
	}
	ncp_arm_hand(&arm->p, arm->q, s->hand);
}

void ncp_arm_state_flat(const struct ncp_arm_state *s, float *x)
{
	const int n = s->links;
	for (int i = 0; i < n; i++) {
		x[i] = (float)s->q[i];
		x[n + i] = (float)s->dq[i];
	}
	x[2 * n] = (float)s->hand[0];
	x[2 * n + 1] = (float)s->hand[1];
}

const char *ncp_arm_state_name(int links, int i)
{
	static const char *const q[NCP_ARM_MAX_LINKS] = { "q0", "q1", "q2" };
	static const char *const dq[NCP_ARM_MAX_LINKS] = { "dq0", "dq1", "dq2" };
	if (links < NCP_ARM_MIN_LINKS || links > NCP_ARM_MAX_LINKS || i < 0 ||
	    i >= NCP_ARM_STATE_DIMS(links))
		return "?";
	if (i < links)
		return q[i];
	if (i < 2 * links)
		return dq[i - links];
	return i == 2 * links ? "hand_x" : "hand_y";
}

void ncp_arm_points(const struct ncp_arm_params *p, const double *q,
		    double pts[][2])
{
	double x = 0.0, y = 0.0, phi = 0.0;
	for (int a = 0; a < p->links; a++) {
		phi += q[a];
		x += p->l[a] * cos(phi);
		y += p->l[a] * sin(phi);
		pts[a][0] = x;
		pts[a][1] = y;
	}
}

void ncp_arm_hand(const struct ncp_arm_params *p, const double *q,
		  double xy[2])
{
	if (p->links == 2) {
		xy[0] = p->l[0] * cos(q[0]) + p->l[1] * cos(q[0] + q[1]);
		xy[1] = p->l[0] * sin(q[0]) + p->l[1] * sin(q[0] + q[1]);
		return;
	}
	double pts[NCP_ARM_MAX_LINKS][2];
	ncp_arm_points(p, q, pts);
	xy[0] = pts[p->links - 1][0];
	xy[1] = pts[p->links - 1][1];
}

void ncp_arm_jacobian(const struct ncp_arm_params *p, const double *q,
		      double J[2][NCP_ARM_MAX_LINKS])
{
	const int n = p->links;
	double phi[NCP_ARM_MAX_LINKS];

	if (n == 2) {
		J[0][1] = -p->l[1] * sin(q[0] + q[1]);
		J[1][1] = p->l[1] * cos(q[0] + q[1]);
		J[0][0] = -p->l[0] * sin(q[0]) + J[0][1];
		J[1][0] = p->l[0] * cos(q[0]) + J[1][1];
		return;
	}
	/* Column j: the links from j outwards turn about joint j. */
	absolute(n, q, phi);
	double sx = 0.0, sy = 0.0;
	for (int j = n - 1; j >= 0; j--) {
		sx -= p->l[j] * sin(phi[j]);
		sy += p->l[j] * cos(phi[j]);
		J[0][j] = sx;
		J[1][j] = sy;
	}
}

void ncp_arm_inertia(const struct ncp_arm_params *p, const double *q,
		     double M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS])
{
	if (p->links == 2)
		reach2_inertia(p, q, M);
	else
		chain_inertia(p, q, M);
}

void ncp_arm_solve_m(const struct ncp_arm_params *p, const double *q,
		     const double *b, double *x)
{
	double M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];
	ncp_arm_inertia(p, q, M);
	ncp_arm_spd_solve(p->links, M, b, x);
}

/* A = J M^-1 J^T (2 x 2, symmetric positive semi-definite). */
static void task_compliance(const struct ncp_arm_params *p, const double *q,
			    double A[2][2])
{
	double J[2][NCP_ARM_MAX_LINKS], M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS];

	ncp_arm_jacobian(p, q, J);
	ncp_arm_inertia(p, q, M);
	if (p->links == 2) {
		double Mi[2][2], T[2][2];
		double det = M[0][0] * M[1][1] - M[0][1] * M[1][0];
		Mi[0][0] = M[1][1] / det;
		Mi[1][1] = M[0][0] / det;
		Mi[0][1] = -M[0][1] / det;
		Mi[1][0] = -M[1][0] / det;
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++)
				T[i][j] = J[i][0] * Mi[0][j] + J[i][1] * Mi[1][j];
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++)
				A[i][j] = T[i][0] * J[j][0] + T[i][1] * J[j][1];
		return;
	}
	/* X = M^-1 J^T column by column, A = J X. */
	double X[2][NCP_ARM_MAX_LINKS];
	for (int r = 0; r < 2; r++)
		ncp_arm_spd_solve(p->links, M, J[r], X[r]);
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++) {
			double s = 0.0;
			for (int k = 0; k < p->links; k++)
				s += J[i][k] * X[j][k];
			A[i][j] = s;
		}
}

void ncp_arm_mx(const struct ncp_arm_params *p, const double *q,
		double Mx[2][2])
{
	double A[2][2];

	task_compliance(p, q, A);
	double a = A[0][0], b = 0.5 * (A[0][1] + A[1][0]), c = A[1][1];

	/* Eigen-decomposition of [[a b] [b c]]: for a symmetric PSD matrix
	 * the eigenvalues are its singular values. */
	double mean = 0.5 * (a + c), diff = 0.5 * (a - c);
	double rad = sqrt(diff * diff + b * b);
	double ev[2] = { mean + rad, mean - rad };
	double vx, vy;
	if (rad == 0.0) {
		vx = 1.0;
		vy = 0.0;
	} else {
		/* Eigenvector of ev[0]: angle theta with tan(2 theta) = b/diff. */
		double theta = 0.5 * atan2(b, diff);
		vx = cos(theta);
		vy = sin(theta);
	}
	double V[2][2] = { { vx, -vy }, { vy, vx } }; /* columns: eigenvectors */
	double inv[2];
	for (int k = 0; k < 2; k++)
		inv[k] = ev[k] < NCP_ARM_MX_CUTOFF ? 0.0 : 1.0 / ev[k];
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			Mx[i][j] = V[i][0] * inv[0] * V[j][0] +
				   V[i][1] * inv[1] * V[j][1];
}

static bool within(const struct ncp_arm_params *p, int j, double v)
{
	return v >= p->q_min[j] && v <= p->q_max[j];
}

/* Two links l0, l1 to xy: the shoulder angle in the limits' turn and the
 * elbow angle of the elbow-up (k 0) or elbow-down (k 1) solution, the
 * elbow's angle offset by `off` before its limits are checked.  0 or
 * -EDOM. */
static int ik2(const struct ncp_arm_params *p, double l0, double l1,
	       double off, const double xy[2], int k, double *q0o,
	       double *q1o)
{
	double r2 = xy[0] * xy[0] + xy[1] * xy[1];
	double c = (r2 - l0 * l0 - l1 * l1) / (2.0 * l0 * l1);

	if (!isfinite(c) || c < -1.0 || c > 1.0)
		return -EDOM;
	double q1 = k == 0 ? acos(c) : -acos(c);
	double q0 = atan2(xy[1], xy[0]) - atan2(l1 * sin(q1), l0 + l1 * cos(q1));
	/* Bring q0 into the limits' turn if a full turn does it. */
	while (q0 < p->q_min[0] - 1e-12)
		q0 += 2.0 * M_PI;
	while (q0 > p->q_max[0] + 1e-12 && q0 - 2.0 * M_PI >= p->q_min[0] - 1e-12)
		q0 -= 2.0 * M_PI;
	q1 -= off;
	if (!within(p, 0, q0) || !within(p, 1, q1))
		return -EDOM;
	*q0o = q0;
	*q1o = q1;
	return 0;
}

int ncp_arm_ik(const struct ncp_arm_params *p, const double xy[2],
	       double *q)
{
	const double l0 = p->l[0], l1 = p->l[1];

	if (p->links == 2) {
		for (int k = 0; k < 2; k++)
			if (!ik2(p, l0, l1, 0.0, xy, k, &q[0], &q[1]))
				return 0;
		return -EDOM;
	}
	/* The wrist at q2 fixed makes forearm and hand one rigid link from
	 * the elbow to the hand, of length le at angle off to the forearm. */
	const double l2 = p->l[2], step = 0.01;
	const double reach = fmax(fabs(p->q_min[2]), fabs(p->q_max[2]));
	for (int s = 0; step * ((s + 1) / 2) <= reach + step; s++) {
		double q2 = (s % 2 ? -1 : 1) * step * ((s + 1) / 2);
		if (!within(p, 2, q2))
			continue;
		double le = sqrt(l1 * l1 + l2 * l2 + 2.0 * l1 * l2 * cos(q2));
		double off = atan2(l2 * sin(q2), l1 + l2 * cos(q2));
		for (int k = 0; k < 2; k++)
			if (!ik2(p, l0, le, off, xy, k, &q[0], &q[1])) {
				q[2] = q2;
				return 0;
			}
	}
	return -EDOM;
}

/* The 3-link arm's elbow-up posture with the wrist at q2 whose hand is at
 * xy, and its squared distance from q_ref; HUGE_VAL where there is none
 * within the limits. */
static double near_cost(const struct ncp_arm_params *p, const double xy[2],
			const double *q_ref, double q2, double *q)
{
	const double l1 = p->l[1], l2 = p->l[2];
	if (!within(p, 2, q2))
		return HUGE_VAL;
	double le = sqrt(l1 * l1 + l2 * l2 + 2.0 * l1 * l2 * cos(q2));
	double off = atan2(l2 * sin(q2), l1 + l2 * cos(q2));
	if (ik2(p, p->l[0], le, off, xy, 0, &q[0], &q[1]))
		return HUGE_VAL;
	q[2] = q2;
	double c = 0.0;
	for (int k = 0; k < 3; k++)
		c += (q[k] - q_ref[k]) * (q[k] - q_ref[k]);
	return c;
}

int ncp_arm_ik_near(const struct ncp_arm_params *p, const double xy[2],
		    const double *q_ref, const double *q_init, double *q)
{
	enum { SCAN = 40 };
	const double half = 0.1;	/* the wrist's search, either side */
	double best = HUGE_VAL, bq2 = 0.0, t[NCP_ARM_MAX_LINKS];

	if (p->links != 3)
		return ncp_arm_ik(p, xy, q);
	if (!isfinite(xy[0]) || !isfinite(xy[1]))
		return -EDOM;
	/* The wrist angle is the one free parameter of the postures that
	 * reach xy: scan around q_init's, then refine the best by golden
	 * section (the cost is smooth and, this close, has one minimum). */
	for (int i = 0; i <= SCAN; i++) {
		double q2 = q_init[2] - half + 2.0 * half * i / SCAN;
		double c = near_cost(p, xy, q_ref, q2, t);
		if (c < best) {
			best = c;
			bq2 = q2;
		}
	}
	if (best == HUGE_VAL)
		return -EDOM;
	const double g = 0.5 * (sqrt(5.0) - 1.0), h = 2.0 * half / SCAN;
	double a = bq2 - h, b = bq2 + h;
	double x1 = b - g * (b - a), x2 = a + g * (b - a);
	double f1 = near_cost(p, xy, q_ref, x1, t);
	double f2 = near_cost(p, xy, q_ref, x2, t);
	while (b - a > 1e-12) {
		if (f1 < f2) {
			b = x2;
			x2 = x1;
			f2 = f1;
			x1 = b - g * (b - a);
			f1 = near_cost(p, xy, q_ref, x1, t);
		} else {
			a = x1;
			x1 = x2;
			f1 = f2;
			x2 = a + g * (b - a);
			f2 = near_cost(p, xy, q_ref, x2, t);
		}
	}
	double q2 = f1 < f2 ? x1 : x2;
	if (fmin(f1, f2) > best)
		q2 = bq2;	/* the scan's point: at a limit's edge */
	if (near_cost(p, xy, q_ref, q2, q) == HUGE_VAL)
		return -EDOM;
	return 0;
}
