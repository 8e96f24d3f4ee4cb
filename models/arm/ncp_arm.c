#include "models/arm/ncp_arm.h"

#include <errno.h>
#include <math.h>
#include <string.h>

const struct ncp_arm_params ncp_arm_default = {
	.l = { 1.5, 1.3 },
	.m = { 1.98, 1.32 },
	.izz = { 0.4, 0.2 },
	.q_min = 0.1,
	.q_max = 3.0,
};

void ncp_arm_init(struct ncp_arm *arm, const struct ncp_arm_params *p,
		  const double q[2])
{
	arm->p = *p;
	arm->q[0] = q[0];
	arm->q[1] = q[1];
	arm->dq[0] = arm->dq[1] = 0.0;
}

void ncp_arm_accel(const struct ncp_arm_params *p, const double q[2],
		   const double dq[2], const double u[2], double ddq[2])
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

void ncp_arm_step(struct ncp_arm *arm, const double u[2], double dt)
{
	double ddq[2];
	ncp_arm_accel(&arm->p, arm->q, arm->dq, u, ddq);
	for (int i = 0; i < 2; i++) {
		arm->dq[i] += ddq[i] * dt;
		arm->q[i] += arm->dq[i] * dt;
		if (arm->q[i] < arm->p.q_min) {
			arm->q[i] = arm->p.q_min;
			arm->dq[i] = 0.0;
		} else if (arm->q[i] > arm->p.q_max) {
			arm->q[i] = arm->p.q_max;
			arm->dq[i] = 0.0;
		}
	}
}

void ncp_arm_state(const struct ncp_arm *arm, struct ncp_arm_state *s)
{
	s->q[0] = arm->q[0];
	s->q[1] = arm->q[1];
	s->dq[0] = arm->dq[0];
	s->dq[1] = arm->dq[1];
	ncp_arm_hand(&arm->p, arm->q, s->hand);
}

void ncp_arm_hand(const struct ncp_arm_params *p, const double q[2],
		  double xy[2])
{
	xy[0] = p->l[0] * cos(q[0]) + p->l[1] * cos(q[0] + q[1]);
	xy[1] = p->l[0] * sin(q[0]) + p->l[1] * sin(q[0] + q[1]);
}

void ncp_arm_jacobian(const struct ncp_arm_params *p, const double q[2],
		      double J[2][2])
{
	J[0][1] = -p->l[1] * sin(q[0] + q[1]);
	J[1][1] = p->l[1] * cos(q[0] + q[1]);
	J[0][0] = -p->l[0] * sin(q[0]) + J[0][1];
	J[1][0] = p->l[0] * cos(q[0]) + J[1][1];
}

void ncp_arm_inertia(const struct ncp_arm_params *p, const double q[2],
		     double M[2][2])
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

void ncp_arm_mx(const struct ncp_arm_params *p, const double q[2],
		double Mx[2][2])
{
	double J[2][2], M[2][2], Mi[2][2], T[2][2], A[2][2];

	ncp_arm_jacobian(p, q, J);
	ncp_arm_inertia(p, q, M);
	double det = M[0][0] * M[1][1] - M[0][1] * M[1][0];
	Mi[0][0] = M[1][1] / det;
	Mi[1][1] = M[0][0] / det;
	Mi[0][1] = -M[0][1] / det;
	Mi[1][0] = -M[1][0] / det;
	/* A = J Mi J^T, symmetric positive semi-definite. */
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			T[i][j] = J[i][0] * Mi[0][j] + J[i][1] * Mi[1][j];
	for (int i = 0; i < 2; i++)
		for (int j = 0; j < 2; j++)
			A[i][j] = T[i][0] * J[j][0] + T[i][1] * J[j][1];
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

int ncp_arm_ik(const struct ncp_arm_params *p, const double xy[2],
	       double q[2])
{
	const double l0 = p->l[0], l1 = p->l[1];
	double r2 = xy[0] * xy[0] + xy[1] * xy[1];
	double c = (r2 - l0 * l0 - l1 * l1) / (2.0 * l0 * l1);

	if (!isfinite(c) || c < -1.0 || c > 1.0)
		return -EDOM;
	for (int elbow = 0; elbow < 2; elbow++) {
		double q1 = elbow == 0 ? acos(c) : -acos(c);
		double q0 = atan2(xy[1], xy[0]) -
			    atan2(l1 * sin(q1), l0 + l1 * cos(q1));
		/* Bring q0 into the limits' turn if a full turn does it. */
		while (q0 < p->q_min - 1e-12)
			q0 += 2.0 * M_PI;
		while (q0 > p->q_max + 1e-12 && q0 - 2.0 * M_PI >= p->q_min - 1e-12)
			q0 -= 2.0 * M_PI;
		if (q0 >= p->q_min && q0 <= p->q_max && q1 >= p->q_min &&
		    q1 <= p->q_max) {
			q[0] = q0;
			q[1] = q1;
			return 0;
		}
	}
	return -EDOM;
}
