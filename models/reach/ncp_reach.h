/* ncp_reach: the REACH circuits (docs/model.md) wired into a closed
 * loop with the arm: PMC target -> error -> M1 -> torque -> arm -> S1 ->
 * back, with the cerebellum (CB) adding -M kv dq, and optionally an
 * adaptive CB population learning an extra torque with PES.  M1 works in
 * task space (operational space: the error is target - hand) or in joint
 * space (generalized coordinates: the PMC's target is joint angles, the
 * error q_des - q).
 *
 * Built once (this solves every decoder); a step allocates nothing.
 */
#ifndef NCP_REACH_H
#define NCP_REACH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/arm/ncp_arm.h"
#include "models/nef/ncp_net.h"
#include "models/reach/ncp_rec.h"
#include "models/reach/ncp_stim.h"
#include "models/reach/ncp_traj.h"

/* The external force field on the arm (docs/model.md). */
enum ncp_field_kind {
	NCP_FIELD_JOINT,	/* REACH's: u = strength B dq (joint space) */
	NCP_FIELD_CURL,		/* a curl in hand space: F = strength R90 v */
	NCP_FIELD_KIND_COUNT,
};
extern const char *const ncp_field_kind_names[NCP_FIELD_KIND_COUNT];

struct ncp_field_params {
	bool on;
	int kind;		/* enum ncp_field_kind */
	double strength;	/* joint: times B; curl: N s/m */
};

/* M1's and CB's dimensions for an arm of `links` links. */
#define NCP_REACH_M1_DIMS(links) ((links) + 2)
#define NCP_REACH_CB_DIMS(links) (2 * (links))
#define NCP_REACH_M1_MAX NCP_REACH_M1_DIMS(NCP_ARM_MAX_LINKS)
#define NCP_REACH_CB_MAX NCP_REACH_CB_DIMS(NCP_ARM_MAX_LINKS)

/* The space M1's controller works in (docs/model.md). */
enum ncp_reach_control {
	NCP_REACH_TASK,		/* operational space: u = J^T Mx kp (x_t - x) */
	NCP_REACH_JOINT,	/* generalized coordinates: u = M kp (q_t - q) */
	NCP_REACH_CONTROL_COUNT,
};
extern const char *const ncp_reach_control_names[NCP_REACH_CONTROL_COUNT];

/* The targets and path points accepted (ncp_reach_target_check). */
enum ncp_reach_ws {
	NCP_REACH_WS_SENSED,	/* where the arm reaches and S1 senses it */
	NCP_REACH_WS_ARM,	/* where the arm reaches (length, joint limits) */
	NCP_REACH_WS_COUNT,
};

/* Joints a joint-space controller handles at most. */
#define NCP_REACH_MAX_DOF NCP_ARM_MAX_LINKS

struct ncp_reach_params {
	uint64_t seed;		/* the network: encoders, rates, voltages */
	int control;		/* enum ncp_reach_control */
	int workspace;		/* enum ncp_reach_ws */
	double dt;		/* s */
	double kp;		/* position gain */
	double kv;		/* velocity gain; 0: 1.5 sqrt(kp) */
	double tau;		/* synapse time constant, s */
	int n_m1, n_cb, n_error, n_s1; /* n_s1: per S1 dimension */
	bool adapt;		/* the PES-learning CB population */
	int n_adapt;
	double adapt_rate;	/* PES learning rate */
	double adapt_tau;	/* error filter, s */
	/* Each circuit's view of its input, (x - mean) / scale: M1 sees
	 * [q, x_des] (links + 2), S1 [q, dq, hand] (2 links + 2), CB [q, dq]
	 * (2 links).  ncp_reach_params_links sets them with the arm. */
	double m1_mean[NCP_REACH_M1_MAX], m1_scale[NCP_REACH_M1_MAX];
	double s1_mean[NCP_ARM_MAX_STATE], s1_scale[NCP_ARM_MAX_STATE];
	double cb_mean[NCP_REACH_CB_MAX], cb_scale[NCP_REACH_CB_MAX];
	/* M1's null-space gain (3 links): the posture at the start is held
	 * with kp_null (q_start - q) in the null space of the hand's task. */
	double kp_null;
	double start[2];	/* the hand's start position, m */
	struct ncp_arm_params arm;
	/* Lesion and stimulation of M1 (ncp_stim.h): build inputs too. */
	struct ncp_stim_params stim;
	/* Recording electrodes over the error ensemble (ncp_rec.h). */
	struct ncp_rec_params rec;
	/* The PMC's trajectory generator, built when dmp_n >= 2: a DMP
	 * tracing the dmp_n points dmp_xy (read during ncp_reach_new only),
	 * its ramp population of n_ramp neurons. */
	const double *dmp_xy;
	int dmp_n;
	int n_ramp;
	/* The force field at start (ncp_reach_set_field changes it). */
	struct ncp_field_params field;
};

/* REACH's defaults, with the 2-link arm. */
void ncp_reach_params_default(struct ncp_reach_params *p);
/* The arm of `links` links (ncp_arm_for_links) and the circuits' ranges
 * for it (docs/model.md); the rest of p stays.  0, or -EINVAL with a
 * message naming the values ncpd knows. */
int ncp_reach_params_links(struct ncp_reach_params *p, int links, char *err,
			   size_t errlen);
/* The task's workspace for an arm of `links` links (2 or 3): its centre
 * (the hand's start), centre-out radius, random radius and line. */
struct ncp_reach_workspace {
	double centre[2], radius, random_radius, line[4];
};
const struct ncp_reach_workspace *ncp_reach_workspace(int links);

/* The targets the controller brings the hand to.  The arm's inverse
 * kinematics must put both joints within their limits, and the circuits
 * must sense the arm there: S1 represents the hand position and the
 * shoulder angle over s1_mean +- s1_scale, and where they leave that
 * range the error M1 acts on stays wrong, so the hand stops short (M1
 * saturates, the elbow runs into its limit).  Measured by sweeping
 * targets in free runs (network seeds 0-2, from the start posture and
 * from the workspace's corners): with these margins inside S1's range
 * every target is reached within 0.05 m in 3 s (worst 0.043 m). */
#define NCP_REACH_HAND_MARGIN 0.1	/* m, inside S1's hand range */
#define NCP_REACH_SHOULDER_MARGIN 0.1	/* rad, inside S1's shoulder range */

/* Whether xy is accepted as a target: the arm reaches it, and with
 * workspace NCP_REACH_WS_SENSED also the controller (above; with
 * NCP_REACH_WS_ARM past S1's range the hand stops short).  0, or -EDOM
 * with why not in `why` ("y 0.45 m is below ..."; why may be NULL). */
int ncp_reach_target_check(const struct ncp_reach_params *p,
			   const double xy[2], char *why, size_t len);

struct ncp_reach;

/* Build; decoders through cache (not owned, used during the call only;
 * NULL: solve them all).  A build from the cache gives the same network,
 * bit for bit. */
struct ncp_reach *ncp_reach_new(const struct ncp_reach_params *p,
				struct ncp_dcache *cache, char *err,
				size_t errlen);
void ncp_reach_free(struct ncp_reach *r);

/* The PMC's target for the coming steps (with the trajectory generator:
 * its goal, reached through the alpha synapse).  In joint space the PMC
 * holds the joint angles the inverse kinematics gives for xy (an xy out
 * of reach leaves the previous ones: check targets first). */
void ncp_reach_set_target(struct ncp_reach *r, const double xy[2]);
/* With the trajectory generator: its ramp for the coming steps, in
 * [-1, 1] (-1: the forcing function is gated off). */
void ncp_reach_set_ramp(struct ncp_reach *r, double ramp);
/* Whether the network has the trajectory generator, and its path. */
const struct ncp_traj *ncp_reach_traj(const struct ncp_reach *r);
/* The force field from the next step on: -EINVAL for a bad kind or a
 * strength that is not finite. */
int ncp_reach_set_field(struct ncp_reach *r, const struct ncp_field_params *f);
void ncp_reach_field(const struct ncp_reach *r, struct ncp_field_params *f);
/* One step of the whole loop. */
void ncp_reach_step(struct ncp_reach *r);
/* Back to the start posture at rest with every filter and neuron cleared. */
void ncp_reach_reset(struct ncp_reach *r);

/* Lesion M1 from the next step on (ncp_stim.h): kind and fraction of
 * the neurons, in the order drawn at build.  Allocates nothing; call it
 * between steps.  -EINVAL for a kind or fraction out of range. */
int ncp_reach_set_lesion(struct ncp_reach *r, int kind, double fraction);
/* The lesion in force: kind, fraction and how many neurons it hits. */
void ncp_reach_lesion(const struct ncp_reach *r, int *kind, double *fraction,
		      int *count);
/* The newest electrode command for the coming steps (E values, already
 * checked with ncp_stim_check_theta); it holds until the next.  Each step
 * theta is the source's: this command (stim.source none or cpn), the
 * oracle's (oracle; the command is ignored) or zero (noise), plus
 * exploration noise of sd stim.noise when that is above 0 (or the source
 * is noise), within +-stim.max. */
void ncp_reach_set_theta(struct ncp_reach *r, const float *theta);
/* The stimulation state: layout, footprints, alpha, theta. */
const struct ncp_stim *ncp_reach_stim(const struct ncp_reach *r);
const struct ncp_stim_params *ncp_reach_stim_params(const struct ncp_reach *r);
/* The oracle's map alpha = K x_des (E x 2, x_des scaled as M1 sees it),
 * or NULL when the build's stim.source is not the oracle. */
const double *ncp_reach_oracle_k(const struct ncp_reach *r);
/* Fit the oracle's map K (2 E values) for M1 under a lesion (kind,
 * fraction), as the build fits it for the configured lesion.  It reads
 * only what the build fixed (built encoders and biases, lesion order,
 * footprints, decoders), never the state a step changes, so another
 * thread may call it while r steps.  Allocates; tens of milliseconds.
 * 0, or -errno with a message. */
int ncp_reach_oracle_fit(const struct ncp_reach *r, int kind, double fraction,
			 double *K, char *err, size_t errlen);
/* Use K (2 E values, from ncp_reach_oracle_fit) as the oracle's map from
 * the next step on; nothing when the source is not the oracle.  Allocates
 * nothing; call it between steps. */
void ncp_reach_set_oracle(struct ncp_reach *r, const double *K);

/* The recording electrodes' signal after the last step (R values, Hz;
 * ncp_rec.h), the co-processor's view of the planning area. */
const float *ncp_reach_rec(const struct ncp_reach *r, int *R);
const struct ncp_rec *ncp_reach_rec_state(const struct ncp_reach *r);
/* The task-space error target - hand (m); in task space it is the
 * planning signal the error ensemble carries. */
void ncp_reach_x_des(const struct ncp_reach *r, double xd[2]);
/* The error ensemble's neurons that spiked in the last step (ascending),
 * and its encoders' x_des parts (2 n values, n = n_error). */
const uint32_t *ncp_reach_error_spikes(const struct ncp_reach *r, int *n);
void ncp_reach_error_exd(const struct ncp_reach *r, double *exd);

/* M1's torque in steady state for the input x it represents (unscaled:
 * [q, x_des] in task space, [q, q_err] in joint space; the network as
 * built, without lesion or stimulation): u, the neurons' rates times the
 * decoders, and f, the function the decoders were solved for (either may
 * be NULL; dof values each).  Allocates; for analysis and tests.  0 or
 * -ENOMEM. */
int ncp_reach_m1_static(const struct ncp_reach *r, const double *x, double *u,
			double *f);
/* The dimensions M1 represents: the arm's joints (ncp_reach_links) plus
 * the plan's, 2 in task space, one per joint in joint space. */
int ncp_reach_m1_dims(const struct ncp_reach *r);

/* The M1 neurons that spiked in the last step (ascending indices). */
const uint32_t *ncp_reach_m1_spikes(const struct ncp_reach *r, int *n);
void ncp_reach_arm_state(const struct ncp_reach *r, struct ncp_arm_state *s);
/* The torque the arm got in the last step (one per joint). */
void ncp_reach_torque(const struct ncp_reach *r, double *u);
/* The arm's number of links. */
int ncp_reach_links(const struct ncp_reach *r);
/* The PMC's output: the target, or the trajectory generator's point (in
 * joint space: the hand position of the generator's joint angles). */
void ncp_reach_target(const struct ncp_reach *r, double xy[2]);
const struct ncp_arm_params *ncp_reach_arm_params(const struct ncp_reach *r);
const struct ncp_reach_params *ncp_reach_get_params(const struct ncp_reach *r);
int ncp_reach_neurons(const struct ncp_reach *r);
int ncp_reach_m1_neurons(const struct ncp_reach *r);
uint64_t ncp_reach_steps(const struct ncp_reach *r);
struct ncp_net *ncp_reach_net(struct ncp_reach *r);

#endif
