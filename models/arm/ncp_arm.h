/* ncp_arm: the 2-link arm of REACH (docs/model.md): the dynamics it is
 * simulated with (uniform rods, semi-implicit Euler, clamped joint limits)
 * and the quantities its controller uses (hand Jacobian, joint-space
 * inertia of point masses with rotational inertia, task-space inertia
 * with a singular-value cut-off, inverse kinematics).  All double. */
#ifndef NCP_ARM_H
#define NCP_ARM_H

#include <stdbool.h>

struct ncp_arm_params {
	double l[2];		/* link lengths, m */
	double m[2];		/* link masses, kg */
	double izz[2];		/* link moments of inertia, kg m^2 */
	double q_min, q_max;	/* joint limits, rad (both joints) */
};

/* REACH's arm: l (1.5, 1.3), m (1.98, 1.32), izz (0.4, 0.2), 0.1..3.0. */
extern const struct ncp_arm_params ncp_arm_default;

/* Singular values of J M^-1 J^T below this count as zero in Mx. */
#define NCP_ARM_MX_CUTOFF 0.00025

struct ncp_arm {
	struct ncp_arm_params p;
	double q[2], dq[2];
};

/* Joint angles q0, q1, velocities dq0, dq1, hand x, y. */
struct ncp_arm_state {
	double q[2], dq[2], hand[2];
};

void ncp_arm_init(struct ncp_arm *arm, const struct ncp_arm_params *p,
		  const double q[2]);
/* One step of dt with joint torques u: dq += ddq dt, q += dq dt; a joint
 * beyond its limits is clamped there with zero velocity. */
void ncp_arm_step(struct ncp_arm *arm, const double u[2], double dt);
void ncp_arm_state(const struct ncp_arm *arm, struct ncp_arm_state *s);

/* The simulated joint accelerations for state (q, dq) and torques u. */
void ncp_arm_accel(const struct ncp_arm_params *p, const double q[2],
		   const double dq[2], const double u[2], double ddq[2]);
void ncp_arm_hand(const struct ncp_arm_params *p, const double q[2],
		  double xy[2]);
/* Hand Jacobian d(x, y)/d(q0, q1), J[row][col]. */
void ncp_arm_jacobian(const struct ncp_arm_params *p, const double q[2],
		      double J[2][2]);
/* Joint-space inertia M(q) of the controller's model. */
void ncp_arm_inertia(const struct ncp_arm_params *p, const double q[2],
		     double M[2][2]);
/* Task-space inertia Mx = (J M^-1 J^T)^-1 by eigen-decomposition of the
 * symmetric J M^-1 J^T, singular values under NCP_ARM_MX_CUTOFF dropped. */
void ncp_arm_mx(const struct ncp_arm_params *p, const double q[2],
		double Mx[2][2]);
/* Joint angles within the limits whose hand is at xy (elbow-up first).
 * Returns 0, or -EDOM when xy is out of reach or only reachable outside
 * the limits. */
int ncp_arm_ik(const struct ncp_arm_params *p, const double xy[2],
	       double q[2]);

#endif
