#include "client/ncp_mon_spark.h"

#include <math.h>

void ncp_mon_spark_resample(const double *in, size_t n, double *out, size_t m)
{
	size_t k = 0;

	for (size_t c = 0; c < m; c++) {
		double sum = 0;
		size_t cnt = 0;

		while (k < n && (m >= n ? k == c : k * m / n == c)) {
			if (isfinite(in[k])) {
				sum += in[k];
				cnt++;
			}
			k++;
		}
		out[c] = cnt ? sum / (double)cnt : NAN;
	}
}

bool ncp_mon_spark_range(const double *v, size_t n, bool positive,
			 double *lo, double *hi)
{
	bool any = false;

	for (size_t k = 0; k < n; k++) {
		if (!isfinite(v[k]) || (positive && !(v[k] > 0)))
			continue;
		if (!any || v[k] < *lo)
			*lo = v[k];
		if (!any || v[k] > *hi)
			*hi = v[k];
		any = true;
	}
	return any;
}

void ncp_mon_spark_levels(const double *v, size_t n, double lo, double hi,
			  bool log_scale, int levels, int *out)
{
	bool use_log = log_scale && lo > 0 && hi > 0;

	for (size_t k = 0; k < n; k++) {
		double x = v[k], f;

		if (!isfinite(x) || (use_log && !(x > 0)) || levels < 1) {
			out[k] = -1;
			continue;
		}
		if (!(hi > lo)) {
			out[k] = x > 0 ? levels - 1 : 0;
			continue;
		}
		f = use_log ? (log(x) - log(lo)) / (log(hi) - log(lo))
			    : (x - lo) / (hi - lo);
		if (f <= 0)
			out[k] = 0;
		else if (f >= 1)
			out[k] = levels - 1;
		else
			out[k] = (int)lround(f * (levels - 1));
	}
}
