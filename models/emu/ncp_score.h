/* ncp_score: how well predictions of the arm's state match the truth:
 * per-output RMSE and R^2, and the hand's Euclidean error.
 *
 *   rmse(o)     = sqrt(mean over steps of (pred_o - true_o)^2)
 *   r2(o)       = 1 - sum (pred_o - true_o)^2 / sum (true_o - mean true_o)^2
 *   hand_rmse   = sqrt(mean over steps of (dx^2 + dy^2))   (Euclidean, m)
 *   q_rmse      = sqrt(mean over steps and the arm's joints of dq_i^2)
 *                 (likewise dq_rmse: the RMS over the joints)
 *
 * A true value that is NaN (a dropped recording step) is skipped, for
 * that output (and the hand when x or y is NaN).
 */
#ifndef NCP_SCORE_H
#define NCP_SCORE_H

#include <stdint.h>

#include "models/base/ncp_json.h"
#include "models/emu/ncp_emu.h"

struct ncp_score {
	int joints, nout;	/* the arm's J, 2 J + 2 */
	uint64_t n[NCP_EMU_MAX_OUTPUTS];
	double sse[NCP_EMU_MAX_OUTPUTS];
	double sum[NCP_EMU_MAX_OUTPUTS], sum2[NCP_EMU_MAX_OUTPUTS]; /* of the truth */
	uint64_t hand_n;
	double hand_sse;
};

/* For an arm of `joints` joints (2 J + 2 values a row). */
void ncp_score_init(struct ncp_score *s, int joints);
void ncp_score_add(struct ncp_score *s, const float *pred, const float *truth);
/* NaN when there were no samples. */
double ncp_score_rmse(const struct ncp_score *s, int o);
double ncp_score_r2(const struct ncp_score *s, int o);
double ncp_score_hand_rmse(const struct ncp_score *s);
/* RMS over the joints' angles (o 0) or velocities (o 1) together. */
double ncp_score_pair_rmse(const struct ncp_score *s, int o);
/* The least R^2 over the outputs. */
double ncp_score_min_r2(const struct ncp_score *s);
/* {"rows": n, "hand_rmse": .., "q_rmse": .., "dq_rmse": .., "min_r2": ..,
 *  "rmse": {"q0": .., ...}, "r2": {"q0": .., ...}} */
void ncp_score_json(const struct ncp_score *s, struct ncp_json *j);

#endif
