/* ncp_arm: the planar arms REACH drives (docs/model.md), with 2 or 3
 * links (params.links):
 *
 *   2 links  REACH's arm: uniform rods simulated with REACH's closed-form
 *            equations; the controller's model has point masses at the
 *            links' middles with REACH's rotational inertias.
 *   3 links  a human arm (upper arm, forearm, hand) from Winter's
 *            anthropometric tables: each link a rigid body with its
 *            centre of mass at com[i] from its proximal joint and moment
 *            of inertia izz[i] about that centre; simulated with the
 *            Lagrangian equations of the open chain, and the controller
 *            uses the same model.
 *
 * Both are stepped with semi-implicit Euler with joint limits that clamp
 * the joint there at zero velocity.  Beside the dynamics: the hand's
 * kinematics, its Jacobian, the joint-space inertia M(q), the task-space
 * inertia Mx with a singular-value cut-off, and inverse kinematics.
 * Arrays are sized for NCP_ARM_MAX_LINKS; only the first `links` joints
 * (columns) are used.  All double. */
#ifndef NCP_ARM_H
#define NCP_ARM_H

#include <stdbool.h>
#include <stddef.h>

#define NCP_ARM_MAX_LINKS 3
#define NCP_ARM_MIN_LINKS 2
/* The arm's state as S1 senses it and the emulator predicts it: q, dq of
 * every joint and the hand's x, y. */
#define NCP_ARM_STATE_DIMS(links) (2 * (links) + 2)
#define NCP_ARM_MAX_STATE NCP_ARM_STATE_DIMS(NCP_ARM_MAX_LINKS)

struct ncp_arm_params {
	int links;		/* 2 or 3 */
	double l[NCP_ARM_MAX_LINKS];	/* link lengths, m */
	double m[NCP_ARM_MAX_LINKS];	/* link masses, kg */
	/* Moments of inertia, kg m^2: 2 links: the controller's rotational
	 * inertia (the simulation's rods have m l^2 / 12 about their
	 * middle); 3 links: about the link's centre of mass. */
	double izz[NCP_ARM_MAX_LINKS];
	double com[NCP_ARM_MAX_LINKS];	/* 3 links: centre of mass from the
					 * proximal joint, m */
	double q_min[NCP_ARM_MAX_LINKS], q_max[NCP_ARM_MAX_LINKS]; /* rad */
};

/* REACH's arm: l (1.5, 1.3), m (1.98, 1.32), izz (0.4, 0.2), both joints
 * 0.1..3.0 rad. */
extern const struct ncp_arm_params ncp_arm_default;
/* The human arm of a 1.75 m, 70 kg adult from Winter's segment table
 * (docs/model.md lists the fractions): l (0.3255, 0.2555, 0.189) m,
 * m (1.96, 1.12, 0.42) kg; shoulder -0.785..2.356, elbow 0..2.53, wrist
 * -1.22..1.40 rad. */
extern const struct ncp_arm_params ncp_arm_human3;
/* The arm of `links` links (ncp_arm_default or ncp_arm_human3), or NULL
 * with a message naming the values ncpd knows. */
const struct ncp_arm_params *ncp_arm_for_links(int links, char *err,
					       size_t errlen);

/* Singular values of J M^-1 J^T below this count as zero in Mx. */
#define NCP_ARM_MX_CUTOFF 0.00025

struct ncp_arm {
	struct ncp_arm_params p;
	double q[NCP_ARM_MAX_LINKS], dq[NCP_ARM_MAX_LINKS];
};

/* Joint angles, velocities (links each), hand x, y. */
struct ncp_arm_state {
	int links;
	double q[NCP_ARM_MAX_LINKS], dq[NCP_ARM_MAX_LINKS], hand[2];
};

void ncp_arm_init(struct ncp_arm *arm, const struct ncp_arm_params *p,
		  const double *q);
/* One step of dt with joint torques u: dq += ddq dt, q += dq dt; a joint
 * beyond its limits is clamped there with zero velocity. */
void ncp_arm_step(struct ncp_arm *arm, const double *u, double dt);
void ncp_arm_state(const struct ncp_arm *arm, struct ncp_arm_state *s);
/* The state as a flat vector of NCP_ARM_STATE_DIMS(links) floats:
 * q[links], dq[links], hand x, y (S1's and the emulator's order). */
void ncp_arm_state_flat(const struct ncp_arm_state *s, float *x);
/* The name of entry i of that vector for an arm of `links` links: "q0",
 * "q1", ("q2"), "dq0", "dq1", ("dq2"), "hand_x", "hand_y"; "?" out of
 * range. */
const char *ncp_arm_state_name(int links, int i);

/* The simulated joint accelerations for state (q, dq) and torques u. */
void ncp_arm_accel(const struct ncp_arm_params *p, const double *q,
		   const double *dq, const double *u, double *ddq);
/* The simulated arm's kinetic energy, J (3 links; 2 links: of the rods). */
double ncp_arm_energy(const struct ncp_arm_params *p, const double *q,
		      const double *dq);
void ncp_arm_hand(const struct ncp_arm_params *p, const double *q,
		  double xy[2]);
/* The joints' positions: elbow (links 2 and 3), wrist (3), hand; pts
 * holds links points, x then y. */
void ncp_arm_points(const struct ncp_arm_params *p, const double *q,
		    double pts[][2]);
/* Hand Jacobian d(x, y)/dq, J[row][joint]. */
void ncp_arm_jacobian(const struct ncp_arm_params *p, const double *q,
		      double J[2][NCP_ARM_MAX_LINKS]);
/* Joint-space inertia M(q) of the controller's model. */
void ncp_arm_inertia(const struct ncp_arm_params *p, const double *q,
		     double M[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS]);
/* Task-space inertia Mx = (J M^-1 J^T)^-1 by eigen-decomposition of the
 * symmetric J M^-1 J^T, singular values under NCP_ARM_MX_CUTOFF dropped. */
void ncp_arm_mx(const struct ncp_arm_params *p, const double *q,
		double Mx[2][2]);
/* Solve M x = b for the controller's M(q) (Cholesky): x = M^-1 b. */
void ncp_arm_solve_m(const struct ncp_arm_params *p, const double *q,
		     const double *b, double *x);
/* Solve S x = b for a symmetric positive definite n x n S, n at most
 * NCP_ARM_MAX_LINKS (Cholesky). */
void ncp_arm_spd_solve(int n, double S[NCP_ARM_MAX_LINKS][NCP_ARM_MAX_LINKS],
		       const double *b, double *x);
/* Joint angles within the limits whose hand is at xy.  2 links: elbow-up
 * first.  3 links: the wrist as straight as the limits allow (the wrist
 * angle nearest 0 in steps of 0.01 rad), elbow-up first.  Returns 0, or
 * -EDOM when xy is out of reach or only reachable outside the limits. */
int ncp_arm_ik(const struct ncp_arm_params *p, const double xy[2],
	       double *q);
/* The 3-link arm's joint angles within the limits whose hand is at xy,
 * the elbow up, nearest q_ref (least squares over the joints) among the
 * wrist angles within 0.1 rad of q_init's: the wrist angle is the free
 * parameter of the postures that reach xy, found by a scan and golden
 * section.  Along a path, with q_init the neighbouring point's answer, the
 * joint angles move continuously (the wrist up to 0.1 rad a step).  With
 * 2 links ncp_arm_ik.  Returns 0, or -EDOM when no such posture reaches
 * xy within the limits. */
int ncp_arm_ik_near(const struct ncp_arm_params *p, const double xy[2],
		    const double *q_ref, const double *q_init, double *q);

#endif
