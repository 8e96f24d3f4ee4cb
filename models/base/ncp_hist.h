/* ncp_hist: a histogram of durations for percentiles: 1 us bins up to
 * 10 ms, 1 ms bins up to 1 s, one bin beyond; the exact maximum is kept.
 * Recording is a few instructions and never allocates (the bins live in
 * the struct).  One writer; read it from the same thread. */
#ifndef NCP_HIST_H
#define NCP_HIST_H

#include <stdint.h>

#define NCP_HIST_FINE 10000	/* 1 us bins: [0, 10 ms) */
#define NCP_HIST_COARSE 990	/* 1 ms bins: [10 ms, 1 s) */
#define NCP_HIST_BINS (NCP_HIST_FINE + NCP_HIST_COARSE + 1)

struct ncp_hist {
	uint64_t count;
	uint64_t max_ns;
	uint64_t sum_ns;
	uint64_t bins[NCP_HIST_BINS];
};

void ncp_hist_reset(struct ncp_hist *h);

static inline void ncp_hist_add(struct ncp_hist *h, uint64_t ns)
{
	uint64_t us = ns / 1000;
	uint64_t b = us < NCP_HIST_FINE ? us :
		us < 1000000 ? NCP_HIST_FINE + (us - NCP_HIST_FINE) / 1000 :
		NCP_HIST_BINS - 1;
	h->bins[b]++;
	h->count++;
	h->sum_ns += ns;
	if (ns > h->max_ns)
		h->max_ns = ns;
}

/* The q-quantile (0..1) in microseconds: the upper edge of the bin that
 * holds it, capped at the maximum.  0 for an empty histogram. */
double ncp_hist_quantile_us(const struct ncp_hist *h, double q);
/* Several quantiles (ascending q[]) in one pass over the bins. */
void ncp_hist_quantiles_us(const struct ncp_hist *h, const double *q, int n,
			   double *out);
/* The lower edge of bin b in microseconds. */
double ncp_hist_bin_us(uint64_t b);
double ncp_hist_max_us(const struct ncp_hist *h);
double ncp_hist_mean_us(const struct ncp_hist *h);

#endif
