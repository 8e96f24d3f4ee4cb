#include <errno.h>
#include <math.h>

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
				ncp_rng_range(&rng, 0.1, 3.0) }, J[2][2];
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
		double J[2][2], M[2][2], Mx[2][2];
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
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
