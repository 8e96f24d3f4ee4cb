#include <errno.h>
#include <math.h>
#include <string.h>

#include "models/arm/ncp_arm.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "tests/ncp_check.h"

static const struct ncp_arm_params *P = &ncp_arm_default;

START_TEST(jacobian_matches_finite_differences)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 1);
	for (int t = 0; t < 200; t++) {
		double q[2] = { ncp_rng_range(&rng, 0.1, 3.0),
				ncp_rng_range(&rng, 0.1, 3.0) }, J[2][NCP_ARM_MAX_LINKS];
		ncp_arm_jacobian(P, q, J);
		for (int c = 0; c < 2; c++) {
			double h = 1e-6, qp[2] = { q[0], q[1] }, qm[2] = { q[0], q[1] };
			double xp[2], xm[2];
			qp[c] += h;
			qm[c] -= h;
			ncp_arm_hand(P, qp, xp);
			ncp_arm_hand(P, qm, xm);
			for (int r = 0; r < 2; r++)
				ncp_ck_near(J[r][c], (xp[r] - xm[r]) / (2 * h), 1e-7);
		}
	}
}
END_TEST

START_TEST(hand_position_known_postures)
{
	double xy[2];
	ncp_arm_hand(P, (double[2]){ M_PI / 2, M_PI / 2 }, xy);
	ncp_ck_near(xy[0], -1.3, 1e-12);
	ncp_ck_near(xy[1], 1.5, 1e-12);
	ncp_arm_hand(P, (double[2]){ 0.0, 0.0 }, xy);
	ncp_ck_near(xy[0], 2.8, 1e-12);
	ncp_ck_near(xy[1], 0.0, 1e-12);
}
END_TEST

START_TEST(mx_is_task_space_inertia)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 2);
	for (int t = 0; t < 200; t++) {
		/* Away from singular postures (q1 near 0 or pi). */
		double q[2] = { ncp_rng_range(&rng, 0.1, 3.0),
				ncp_rng_range(&rng, 0.4, 2.7) };
		double J[2][NCP_ARM_MAX_LINKS], M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS], Mx[2][2];
		ncp_arm_jacobian(P, q, J);
		ncp_arm_inertia(P, q, M);
		ncp_arm_mx(P, q, Mx);
		/* (J M^-1 J^T)^-1 directly: Mx = J^-T M J^-1. */
		double dj = J[0][0] * J[1][1] - J[0][1] * J[1][0];
		double Ji[2][2] = { { J[1][1] / dj, -J[0][1] / dj },
				    { -J[1][0] / dj, J[0][0] / dj } };
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++) {
				double acc = 0;
				for (int a = 0; a < 2; a++)
					for (int b = 0; b < 2; b++)
						acc += Ji[a][i] * M[a][b] * Ji[b][j];
				ncp_ck_near(Mx[i][j], acc, 1e-9 * (1 + fabs(acc)));
			}
		/* M is symmetric positive definite. */
		ncp_ck_near(M[0][1], M[1][0], 1e-12);
		ck_assert(M[0][0] > 0 && M[0][0] * M[1][1] - M[0][1] * M[1][0] > 0);
	}
	/* At a singular posture Mx stays finite. */
	double Mx[2][2];
	ncp_arm_mx(P, (double[2]){ 1.0, 1e-9 }, Mx);
	for (int i = 0; i < 4; i++)
		ck_assert(isfinite(Mx[i / 2][i % 2]));
}
END_TEST

START_TEST(ik_round_trips)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 3);
	int n = 0;
	for (int t = 0; t < 500; t++) {
		double q[2] = { ncp_rng_range(&rng, 0.1, 3.0),
				ncp_rng_range(&rng, 0.1, 3.0) }, xy[2], q2[2], xy2[2];
		ncp_arm_hand(P, q, xy);
		ck_assert_int_eq(ncp_arm_ik(P, xy, q2), 0);
		ck_assert(q2[0] >= 0.1 && q2[0] <= 3.0 && q2[1] >= 0.1 && q2[1] <= 3.0);
		ncp_arm_hand(P, q2, xy2);
		ncp_ck_near(xy2[0], xy[0], 1e-9);
		ncp_ck_near(xy2[1], xy[1], 1e-9);
		n++;
	}
	ck_assert_int_eq(n, 500);
	/* The centre's posture is REACH's (0.6, 2.2) neighbourhood. */
	double q[2];
	ck_assert_int_eq(ncp_arm_ik(P, (double[2]){ 0.0, 1.25 }, q), 0);
	ncp_ck_near(q[0], 0.6018, 1e-3);
	ncp_ck_near(q[1], 2.2264, 1e-3);
	/* Out of reach. */
	ck_assert_int_eq(ncp_arm_ik(P, (double[2]){ 0.0, 3.0 }, q), -EDOM);
	ck_assert_int_eq(ncp_arm_ik(P, (double[2]){ 0.0, 0.1 }, q), -EDOM);
	ck_assert_int_eq(ncp_arm_ik(P, (double[2]){ NAN, 1.0 }, q), -EDOM);
}
END_TEST

START_TEST(joint_limits_clamp)
{
	struct ncp_arm arm;
	ncp_arm_init(&arm, P, (double[2]){ 0.15, 2.9 });
	for (int s = 0; s < 1000; s++)
		ncp_arm_step(&arm, (double[2]){ -50, 50 }, 0.001);
	ck_assert(arm.q[0] >= 0.1 && arm.q[1] <= 3.0);
	ncp_ck_near(arm.q[0], 0.1, 1e-12);
	ncp_ck_near(arm.q[1], 3.0, 1e-12);
	ck_assert(arm.dq[0] == 0.0 && arm.dq[1] == 0.0);
}
END_TEST

START_TEST(dynamics_conserve_energy_without_torque)
{
	/* With no torque and away from the limits, semi-implicit Euler keeps
	 * the rods' kinetic energy 1/2 dq^T M_sim dq nearly constant. */
	struct ncp_arm arm;
	ncp_arm_init(&arm, P, (double[2]){ 1.0, 1.5 });
	arm.dq[0] = 0.3;
	arm.dq[1] = -0.2;
	const double l0 = 1.5, l1 = 1.3, m0 = 1.98, m1 = 1.32;
	double K1 = (m0 / 3 + m1) * l0 * l0 + m1 * l1 * l1 / 3, K2 = m1 * l0 * l1;
	double K3 = m1 * l1 * l1 / 3, K4 = m1 * l0 * l1 / 2;
	double e0 = 0, e;
	for (int s = 0; s <= 500; s++) {
		double c = cos(arm.q[1]);
		double M11 = K1 + K2 * c, M12 = K3 + K4 * c, M22 = K3;
		e = 0.5 * (M11 * arm.dq[0] * arm.dq[0] + 2 * M12 * arm.dq[0] * arm.dq[1] +
			   M22 * arm.dq[1] * arm.dq[1]);
		if (s == 0)
			e0 = e;
		ncp_arm_step(&arm, (double[2]){ 0, 0 }, 0.001);
	}
	ncp_ck_near(e, e0, 0.01 * e0);
}
END_TEST


/* --- the 3-link arm ------------------------------------------------------ */

static const struct ncp_arm_params *P3 = &ncp_arm_human3;

static void random_q3(struct ncp_rng *rng, double q[3])
{
	for (int j = 0; j < 3; j++)
		q[j] = ncp_rng_range(rng, P3->q_min[j], P3->q_max[j]);
}

START_TEST(human3_parameters_follow_winter)
{
	/* 1.75 m, 70 kg: segment lengths 0.186, 0.146, 0.108 of the height,
	 * masses 0.028, 0.016, 0.006 of the body mass. */
	ck_assert_int_eq(P3->links, 3);
	ncp_ck_near(P3->l[0], 0.3255, 1e-9);
	ncp_ck_near(P3->l[1], 0.2555, 1e-9);
	ncp_ck_near(P3->l[2], 0.189, 1e-9);
	ncp_ck_near(P3->m[0], 1.96, 1e-9);
	ncp_ck_near(P3->m[1], 1.12, 1e-9);
	ncp_ck_near(P3->m[2], 0.42, 1e-9);
	/* Upper arm: 1.96 (0.322 * 0.3255)^2 about its centre of mass. */
	ncp_ck_near(P3->izz[0], 0.021531, 1e-5);
	ncp_ck_near(P3->com[2], 0.506 * 0.189, 1e-9);
	char err[200] = "";
	ck_assert_ptr_eq(ncp_arm_for_links(2, err, sizeof(err)), &ncp_arm_default);
	ck_assert_ptr_eq(ncp_arm_for_links(3, err, sizeof(err)), &ncp_arm_human3);
	ck_assert_ptr_null(ncp_arm_for_links(4, err, sizeof(err)));
	ck_assert_msg(strstr(err, "4 links") && strstr(err, "2 links") &&
		      strstr(err, "3 links"), "%s", err);
	ck_assert_ptr_null(ncp_arm_for_links(1, err, sizeof(err)));
}
END_TEST

START_TEST(human3_jacobian_matches_finite_differences)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 11);
	for (int t = 0; t < 200; t++) {
		double q[3], J[2][NCP_ARM_MAX_LINKS];
		random_q3(&rng, q);
		ncp_arm_jacobian(P3, q, J);
		for (int c = 0; c < 3; c++) {
			double h = 1e-6, qp[3], qm[3], xp[2], xm[2];
			memcpy(qp, q, sizeof(qp));
			memcpy(qm, q, sizeof(qm));
			qp[c] += h;
			qm[c] -= h;
			ncp_arm_hand(P3, qp, xp);
			ncp_arm_hand(P3, qm, xm);
			for (int r = 0; r < 2; r++)
				ncp_ck_near(J[r][c], (xp[r] - xm[r]) / (2 * h), 1e-8);
		}
	}
	/* Straight arm along x: the hand at the arm's full length. */
	double xy[2], pts[3][2];
	ncp_arm_hand(P3, (double[3]){ 0, 0, 0 }, xy);
	ncp_ck_near(xy[0], 0.3255 + 0.2555 + 0.189, 1e-12);
	ncp_arm_points(P3, (double[3]){ M_PI / 2, -M_PI / 2, M_PI / 2 }, pts);
	ncp_ck_near(pts[0][0], 0.0, 1e-12);
	ncp_ck_near(pts[0][1], 0.3255, 1e-12);
	ncp_ck_near(pts[1][0], 0.2555, 1e-12);
	ncp_ck_near(pts[2][1], 0.3255 + 0.189, 1e-12);
}
END_TEST

/* M from the definition: sum_i m_i Jc_i^T Jc_i + I_i w_i^T w_i, the
 * centre-of-mass Jacobians Jc_i by finite differences of the positions. */
static void inertia_by_definition(const double q[3], double M[3][3])
{
	memset(M, 0, sizeof(double) * 9);
	for (int i = 0; i < 3; i++) {
		double Jc[2][3];
		for (int j = 0; j < 3; j++) {
			double h = 1e-6, pos[2][2];
			for (int sgn = 0; sgn < 2; sgn++) {
				double qq[3] = { q[0], q[1], q[2] }, x = 0, y = 0, phi = 0;
				qq[j] += sgn ? -h : h;
				for (int a = 0; a <= i; a++) {
					phi += qq[a];
					double r = a < i ? P3->l[a] : P3->com[i];
					x += r * cos(phi);
					y += r * sin(phi);
				}
				pos[sgn][0] = x;
				pos[sgn][1] = y;
			}
			Jc[0][j] = (pos[0][0] - pos[1][0]) / (2 * h);
			Jc[1][j] = (pos[0][1] - pos[1][1]) / (2 * h);
		}
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 3; k++)
				M[j][k] += P3->m[i] * (Jc[0][j] * Jc[0][k] + Jc[1][j] * Jc[1][k]) +
					   (j <= i && k <= i ? P3->izz[i] : 0.0);
	}
}

START_TEST(human3_inertia_symmetric_positive_definite)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 12);
	for (int t = 0; t < 200; t++) {
		double q[3], M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS], R[3][3];
		random_q3(&rng, q);
		ncp_arm_inertia(P3, q, M);
		inertia_by_definition(q, R);
		for (int j = 0; j < 3; j++)
			for (int k = 0; k < 3; k++) {
				ncp_ck_near(M[j][k], M[k][j], 1e-14);
				ncp_ck_near(M[j][k], R[j][k], 1e-8);
			}
		/* Leading principal minors all positive (Sylvester). */
		double d1 = M[0][0], d2 = M[0][0] * M[1][1] - M[0][1] * M[1][0];
		double d3 = M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) -
			    M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) +
			    M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0]);
		ck_assert(d1 > 0 && d2 > 0 && d3 > 0);
		/* The simulated dynamics at rest: M ddq = u. */
		double u[3] = { ncp_rng_range(&rng, -2, 2), ncp_rng_range(&rng, -2, 2),
				ncp_rng_range(&rng, -2, 2) }, ddq[3], back[3];
		ncp_arm_accel(P3, q, (double[3]){ 0, 0, 0 }, u, ddq);
		for (int j = 0; j < 3; j++)
			back[j] = M[j][0] * ddq[0] + M[j][1] * ddq[1] + M[j][2] * ddq[2];
		for (int j = 0; j < 3; j++)
			ncp_ck_near(back[j], u[j], 1e-9);
		/* Solving with M is its inverse. */
		double x[3];
		ncp_arm_solve_m(P3, q, u, x);
		for (int j = 0; j < 3; j++)
			ncp_ck_near(x[j], ddq[j], 1e-9);
	}
}
END_TEST

START_TEST(chain_equations_match_reach_closed_form)
{
	/* The general chain with 2 links as uniform rods is REACH's 2-link
	 * arm: the same accelerations at any state and torque. */
	struct ncp_arm_params rods = ncp_arm_default;
	rods.links = 3;
	rods.l[2] = 1e-3;
	rods.m[2] = 0.0;
	rods.izz[2] = 0.0;
	for (int i = 0; i < 2; i++) {
		rods.com[i] = rods.l[i] / 2;
		rods.izz[i] = rods.m[i] * rods.l[i] * rods.l[i] / 12;
	}
	rods.com[2] = 0.0;
	rods.izz[2] = 1e-9;	/* keep M invertible: a tiny free hand */
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 13);
	for (int t = 0; t < 200; t++) {
		double q[3] = { ncp_rng_range(&rng, 0.1, 3.0),
				ncp_rng_range(&rng, 0.1, 3.0), 0 };
		double dq[3] = { ncp_rng_range(&rng, -3, 3),
				 ncp_rng_range(&rng, -3, 3), 0 };
		double u[3] = { ncp_rng_range(&rng, -5, 5),
				ncp_rng_range(&rng, -5, 5), 0 };
		double a2[2], a3[3];
		ncp_arm_accel(P, q, dq, u, a2);
		ncp_arm_accel(&rods, q, dq, u, a3);
		ncp_ck_near(a3[0], a2[0], 1e-6 * (1 + fabs(a2[0])));
		ncp_ck_near(a3[1], a2[1], 1e-6 * (1 + fabs(a2[1])));
	}
}
END_TEST

START_TEST(human3_conserves_energy_and_balances_power)
{
	/* No torque, limits out of the way: semi-implicit Euler at 10 us
	 * keeps the kinetic energy within 1e-4 over 2 s of fast motion. */
	struct ncp_arm_params p = ncp_arm_human3;
	for (int j = 0; j < 3; j++) {
		p.q_min[j] = -1e9;
		p.q_max[j] = 1e9;
	}
	struct ncp_arm arm;
	ncp_arm_init(&arm, &p, (double[3]){ 0.5, 1.2, -0.3 });
	arm.dq[0] = 2.0;
	arm.dq[1] = -3.0;
	arm.dq[2] = 5.0;
	double e0 = ncp_arm_energy(&p, arm.q, arm.dq), emax = e0, emin = e0;
	for (int s = 0; s < 200000; s++) {
		ncp_arm_step(&arm, (double[3]){ 0, 0, 0 }, 1e-5);
		double e = ncp_arm_energy(&p, arm.q, arm.dq);
		emax = fmax(emax, e);
		emin = fmin(emin, e);
	}
	ck_assert_msg(emax - emin < 1e-4 * e0, "energy %g..%g of %g", emin, emax, e0);
	/* The hand's joint turned many times: the motion was not trivial. */
	ck_assert(fabs(arm.q[2] + 0.3) > 1.0);
	/* With torque: the energy gained is the work done, sum u dq dt. */
	ncp_arm_init(&arm, &p, (double[3]){ 0.5, 1.2, -0.3 });
	const double u[3] = { 0.8, -0.4, 0.05 };
	double work = 0.0;
	for (int s = 0; s < 50000; s++) {
		double dq0[3] = { arm.dq[0], arm.dq[1], arm.dq[2] };
		ncp_arm_step(&arm, u, 1e-5);
		for (int j = 0; j < 3; j++)
			work += u[j] * 0.5 * (dq0[j] + arm.dq[j]) * 1e-5;
	}
	double e1 = ncp_arm_energy(&p, arm.q, arm.dq);
	ck_assert(e1 > 0.1);
	ncp_ck_near(e1, work, 1e-3 * e1);
}
END_TEST

START_TEST(human3_mx_and_ik)
{
	struct ncp_rng rng;
	ncp_rng_seed(&rng, 14);
	for (int t = 0; t < 200; t++) {
		double q[3], J[2][NCP_ARM_MAX_LINKS], Mx[2][2], A[2][2];
		q[0] = ncp_rng_range(&rng, 0.1, 3.0);
		q[1] = ncp_rng_range(&rng, 0.4, 2.5);
		q[2] = ncp_rng_range(&rng, -1.0, 1.0);
		ncp_arm_jacobian(P3, q, J);
		ncp_arm_mx(P3, q, Mx);
		/* A = J M^-1 J^T through the solver; Mx A = I. */
		double X[2][3];
		for (int r = 0; r < 2; r++)
			ncp_arm_solve_m(P3, q, J[r], X[r]);
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++)
				A[i][j] = J[i][0] * X[j][0] + J[i][1] * X[j][1] +
					  J[i][2] * X[j][2];
		for (int i = 0; i < 2; i++)
			for (int j = 0; j < 2; j++)
				ncp_ck_near(Mx[i][0] * A[0][j] + Mx[i][1] * A[1][j],
					    i == j, 1e-9);
		/* IK: back to the same hand, within the limits. */
		double xy[2], qi[3], xy2[2];
		ncp_arm_hand(P3, q, xy);
		if (ncp_arm_ik(P3, xy, qi))
			continue;
		for (int j = 0; j < 3; j++)
			ck_assert(qi[j] >= P3->q_min[j] && qi[j] <= P3->q_max[j]);
		ncp_arm_hand(P3, qi, xy2);
		ncp_ck_near(xy2[0], xy[0], 1e-9);
		ncp_ck_near(xy2[1], xy[1], 1e-9);
	}
	/* In the middle of the workspace the wrist stays straight. */
	double q[3];
	ck_assert_int_eq(ncp_arm_ik(P3, (double[2]){ 0.0, 0.45 }, q), 0);
	ncp_ck_near(q[2], 0.0, 1e-12);
	ck_assert(q[1] > 0);
	ck_assert_int_eq(ncp_arm_ik(P3, (double[2]){ 0.0, 0.8 }, q), -EDOM);
	ck_assert_int_eq(ncp_arm_ik(P3, (double[2]){ NAN, 0.3 }, q), -EDOM);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("arm");
	TCase *tc = tcase_create("arm");
	tcase_add_test(tc, jacobian_matches_finite_differences);
	tcase_add_test(tc, hand_position_known_postures);
	tcase_add_test(tc, mx_is_task_space_inertia);
	tcase_add_test(tc, ik_round_trips);
	tcase_add_test(tc, joint_limits_clamp);
	tcase_add_test(tc, dynamics_conserve_energy_without_torque);
	tcase_add_test(tc, human3_parameters_follow_winter);
	tcase_add_test(tc, human3_jacobian_matches_finite_differences);
	tcase_add_test(tc, human3_inertia_symmetric_positive_definite);
	tcase_add_test(tc, chain_equations_match_reach_closed_form);
	tcase_add_test(tc, human3_conserves_energy_and_balances_power);
	tcase_add_test(tc, human3_mx_and_ik);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
