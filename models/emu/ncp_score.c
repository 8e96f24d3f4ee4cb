#include "models/emu/ncp_score.h"

#include <math.h>
#include <string.h>

void ncp_score_init(struct ncp_score *s, int joints)
{
	memset(s, 0, sizeof(*s));
	s->joints = joints;
	s->nout = NCP_EMU_OUTPUTS_OF(joints);
}

void ncp_score_add(struct ncp_score *s, const float *pred, const float *truth)
{
	const int hx = 2 * s->joints, hy = hx + 1;
	for (int o = 0; o < s->nout; o++) {
		if (isnan(truth[o]))
			continue;
		double d = (double)pred[o] - truth[o];
		s->n[o]++;
		s->sse[o] += d * d;
		s->sum[o] += truth[o];
		s->sum2[o] += (double)truth[o] * truth[o];
	}
	if (!isnan(truth[hx]) && !isnan(truth[hy])) {
		double dx = (double)pred[hx] - truth[hx];
		double dy = (double)pred[hy] - truth[hy];
		s->hand_n++;
		s->hand_sse += dx * dx + dy * dy;
	}
}

double ncp_score_rmse(const struct ncp_score *s, int o)
{
	return s->n[o] ? sqrt(s->sse[o] / (double)s->n[o]) : NAN;
}

double ncp_score_r2(const struct ncp_score *s, int o)
{
	if (!s->n[o])
		return NAN;
	double n = (double)s->n[o], mean = s->sum[o] / n;
	double sst = s->sum2[o] - n * mean * mean;
	return sst > 0 ? 1.0 - s->sse[o] / sst : NAN;
}

double ncp_score_hand_rmse(const struct ncp_score *s)
{
	return s->hand_n ? sqrt(s->hand_sse / (double)s->hand_n) : NAN;
}

double ncp_score_pair_rmse(const struct ncp_score *s, int o)
{
	uint64_t n = 0;
	double sse = 0.0;
	for (int k = 0; k < s->joints; k++) {
		n += s->n[o * s->joints + k];
		sse += s->sse[o * s->joints + k];
	}
	return n ? sqrt(sse / (double)n) : NAN;
}

double ncp_score_min_r2(const struct ncp_score *s)
{
	double m = INFINITY;
	for (int o = 0; o < s->nout; o++) {
		double r = ncp_score_r2(s, o);
		if (isnan(r))
			return NAN;
		m = r < m ? r : m;
	}
	return m;
}

void ncp_score_json(const struct ncp_score *s, struct ncp_json *j)
{
	ncp_json_obj(j);
	ncp_json_key(j, "rows");
	ncp_json_int(j, (int64_t)s->n[0]);
	ncp_json_key(j, "hand_rmse");
	ncp_json_num(j, ncp_score_hand_rmse(s));
	ncp_json_key(j, "q_rmse");
	ncp_json_num(j, ncp_score_pair_rmse(s, 0));
	ncp_json_key(j, "dq_rmse");
	ncp_json_num(j, ncp_score_pair_rmse(s, 1));
	ncp_json_key(j, "min_r2");
	ncp_json_num(j, ncp_score_min_r2(s));
	ncp_json_key(j, "rmse");
	ncp_json_obj(j);
	for (int o = 0; o < s->nout; o++) {
		ncp_json_key(j, ncp_emu_output_name(s->joints, o));
		ncp_json_num(j, ncp_score_rmse(s, o));
	}
	ncp_json_end(j);
	ncp_json_key(j, "r2");
	ncp_json_obj(j);
	for (int o = 0; o < s->nout; o++) {
		ncp_json_key(j, ncp_emu_output_name(s->joints, o));
		ncp_json_num(j, ncp_score_r2(s, o));
	}
	ncp_json_end(j);
	ncp_json_end(j);
}
