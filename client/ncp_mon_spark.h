/* ncp_mon_spark: one-line charts ("sparklines") of a series.
 *
 * A series of n values is resampled to the m columns of the chart (each
 * column the mean of the finite values that fall in it; NaN when none
 * do), then each column is given a level 0 .. levels-1 between a low and
 * a high bound, on a linear or a logarithmic scale.  Used for the M1
 * spikes per step and the training loss history.  Pure computation.
 */
#ifndef NCP_MON_SPARK_H
#define NCP_MON_SPARK_H

#include <stdbool.h>
#include <stddef.h>

/* out[c] = mean of the finite in[k] with floor(k * m / n) == c, NaN when
 * there is none; when m > n only the first n columns get values (the
 * rest are NaN). */
void ncp_mon_spark_resample(const double *in, size_t n, double *out, size_t m);

/* The smallest and largest finite values (positive ones only when
 * `positive`); false when there are none. */
bool ncp_mon_spark_range(const double *v, size_t n, bool positive,
			 double *lo, double *hi);

/* Level of each value: 0 at or below lo, levels-1 at or above hi,
 * linear (or logarithmic, for lo > 0) in between; -1 for a value that
 * is not finite (or not positive on a log scale).  When hi <= lo every
 * finite value gets level levels-1 if it is above 0 and 0 otherwise. */
void ncp_mon_spark_levels(const double *v, size_t n, double lo, double hi,
			  bool log_scale, int levels, int *out);

#endif
