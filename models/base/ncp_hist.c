#include "models/base/ncp_hist.h"

#include <math.h>
#include <string.h>

void ncp_hist_reset(struct ncp_hist *h)
{
	memset(h, 0, sizeof(*h));
}

static double bin_upper_us(uint64_t b)
{
	if (b < NCP_HIST_FINE)
		return (double)(b + 1);
	if (b < NCP_HIST_BINS - 1)
		return NCP_HIST_FINE + (double)(b - NCP_HIST_FINE + 1) * 1000.0;
	return INFINITY;
}

double ncp_hist_bin_us(uint64_t b)
{
	return b < NCP_HIST_FINE ? (double)b :
		NCP_HIST_FINE + (double)(b - NCP_HIST_FINE) * 1000.0;
}

void ncp_hist_quantiles_us(const struct ncp_hist *h, const double *q, int n,
			   double *out)
{
	uint64_t seen = 0, b = 0;
	for (int k = 0; k < n; k++) {
		if (!h->count) {
			out[k] = 0.0;
			continue;
		}
		/* The rank of the quantile among count samples, from 1. */
		uint64_t rank = (uint64_t)ceil(q[k] * (double)h->count);
		if (rank < 1)
			rank = 1;
		while (b < NCP_HIST_BINS && seen + h->bins[b] < rank)
			seen += h->bins[b++];
		out[k] = b < NCP_HIST_BINS ?
			fmin(bin_upper_us(b), ncp_hist_max_us(h)) :
			ncp_hist_max_us(h);
	}
}

double ncp_hist_quantile_us(const struct ncp_hist *h, double q)
{
	double out;
	ncp_hist_quantiles_us(h, &q, 1, &out);
	return out;
}

double ncp_hist_max_us(const struct ncp_hist *h)
{
	return h->max_ns / 1e3;
}

double ncp_hist_mean_us(const struct ncp_hist *h)
{
	return h->count ? h->sum_ns / 1e3 / (double)h->count : 0.0;
}
