#include "models/reach/ncp_traj.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"

/* One number at *s (strtod's syntax, inf and nan included so that they
 * are reported as such; no hex), or NULL. */
static const char *number(const char *s, double *v)
{
	char *end;
	while (*s == ' ' || *s == '\t')
		s++;
	if (!((*s >= '0' && *s <= '9') || *s == '-' || *s == '+' || *s == '.' ||
	      *s == 'i' || *s == 'I' || *s == 'n' || *s == 'N'))
		return NULL;
	if ((s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ||
	    ((s[0] == '-' || s[0] == '+') && s[1] == '0' &&
	     (s[2] == 'x' || s[2] == 'X')))
		return NULL;
	*v = strtod(s, &end);
	return end == s ? NULL : end;
}

int ncp_traj_load(const char *path, double **xy_out, int **lines_out,
		  int *n_out, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	double *xy = NULL;
	int *lines = NULL, n = 0, cap = 0, lineno = 0, ret = 0;
	char buf[512];

	*xy_out = NULL;
	if (lines_out)
		*lines_out = NULL;
	*n_out = 0;
	if (!f)
		return ncp_errf_code(err, errlen, errno, "path file %s: %s",
				     path, strerror(errno));
	while (fgets(buf, sizeof(buf), f)) {
		lineno++;
		size_t len = strlen(buf);
		if (len == sizeof(buf) - 1 && buf[len - 1] != '\n' && !feof(f)) {
			ret = ncp_errf(err, errlen, "%s:%d: line longer than %zu "
				       "bytes", path, lineno, sizeof(buf) - 2);
			goto fail;
		}
		char *hash = strchr(buf, '#');
		if (hash)
			*hash = '\0';
		const char *s = buf;
		while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
			s++;
		if (!*s)
			continue;
		double v[2];
		const char *p = number(s, &v[0]);
		if (p) {
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p == ',')
				p++;
			else if (p == s || !(p[-1] == ' ' || p[-1] == '\t'))
				p = NULL;
		}
		if (p)
			p = number(p, &v[1]);
		if (p)
			while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
				p++;
		if (!p || *p) {
			buf[strcspn(buf, "\r\n")] = '\0';
			ret = ncp_errf(err, errlen, "%s:%d: expected a point 'x y' "
				       "(two numbers, metres), got '%.60s'", path,
				       lineno, s);
			goto fail;
		}
		if (!isfinite(v[0]) || !isfinite(v[1])) {
			ret = ncp_errf(err, errlen, "%s:%d: point (%g, %g) is not "
				       "finite", path, lineno, v[0], v[1]);
			goto fail;
		}
		if (n == NCP_TRAJ_MAX_POINTS) {
			ret = ncp_errf(err, errlen, "%s:%d: more than %d points",
				       path, lineno, NCP_TRAJ_MAX_POINTS);
			goto fail;
		}
		if (n == cap) {
			cap = cap ? 2 * cap : 64;
			double *nx = realloc(xy, sizeof(double) * 2 * (size_t)cap);
			int *nl = realloc(lines, sizeof(int) * (size_t)cap);
			if (nx)
				xy = nx;
			if (nl)
				lines = nl;
			if (!nx || !nl) {
				ret = ncp_errf_code(err, errlen, ENOMEM,
						    "out of memory");
				goto fail;
			}
		}
		xy[2 * n] = v[0];
		xy[2 * n + 1] = v[1];
		lines[n] = lineno;
		n++;
	}
	if (ferror(f)) {
		ret = ncp_errf_code(err, errlen, EIO, "path file %s: read error",
				    path);
		goto fail;
	}
	if (n < 2) {
		ret = ncp_errf(err, errlen, "path file %s: %d point%s; a path "
			       "needs at least 2", path, n, n == 1 ? "" : "s");
		goto fail;
	}
	fclose(f);
	*xy_out = xy;
	if (lines_out)
		*lines_out = lines;
	else
		free(lines);
	*n_out = n;
	return 0;
fail:
	fclose(f);
	free(xy);
	free(lines);
	return ret;
}

/* Linear interpolation of ys (m samples over [-1, 1]) at s in [-1, 1]. */
static double interp(const double *ys, int m, double s)
{
	double u = (s + 1.0) * 0.5 * (m - 1);
	if (u <= 0)
		return ys[0];
	if (u >= m - 1)
		return ys[m - 1];
	int i = (int)u;
	double w = u - i;
	return ys[i] + w * (ys[i + 1] - ys[i]);
}

/* The forcing function of n points y (n x dims) into t->f. */
static void force_of(struct ncp_traj *t, const double *y_pts, int n, int dims,
		     double *col)
{
	enum { S = NCP_TRAJ_SAMPLES };
	/* As REACH: the path resampled at S points of the ramp; velocity and
	 * acceleration by differences over a movement of S steps of 1 ms
	 * (1 s), each starting at 0; the force is what the point attractor
	 * lacks to follow the path: f = ddy - alpha (beta (g - y) - dy). */
	for (int d = 0; d < dims; d++) {
		double y[S], dy[S], ddy;
		for (int k = 0; k < n; k++)
			col[k] = y_pts[(size_t)dims * k + d];
		for (int i = 0; i < S; i++)
			y[i] = interp(col, n, -1.0 + 2.0 * i / (S - 1));
		double g = y_pts[(size_t)dims * (n - 1) + d], step = 0.001 * S;
		dy[0] = 0.0;
		for (int i = 1; i < S; i++)
			dy[i] = (y[i] - y[i - 1]) / step;
		for (int i = 0; i < S; i++) {
			ddy = i ? (dy[i] - dy[i - 1]) / step : 0.0;
			double pa = t->alpha * (t->beta * (g - y[i]) - dy[i]);
			t->f[d][i] = (ddy - pa) / (t->alpha * t->beta);
		}
	}
	t->dims = dims;
}

int ncp_traj_init(struct ncp_traj *t, const double *xy, int n)
{
	memset(t, 0, sizeof(*t));
	t->xy = malloc(sizeof(double) * 2 * (size_t)n);
	double *col = malloc(sizeof(double) * (size_t)n);
	if (!t->xy || !col) {
		free(t->xy);
		free(col);
		t->xy = NULL;
		return -ENOMEM;
	}
	memcpy(t->xy, xy, sizeof(double) * 2 * (size_t)n);
	t->n = n;
	t->alpha = NCP_TRAJ_ALPHA;
	t->beta = t->alpha / 4.0;
	force_of(t, xy, n, 2, col);
	free(col);
	return 0;
}

void ncp_traj_point(const struct ncp_traj *t, double s, double xy[2])
{
	double u = (fmin(fmax(s, -1.0), 1.0) + 1.0) * 0.5 * (t->n - 1);
	int i = (int)u;
	if (i >= t->n - 1)
		i = t->n - 2;
	double w = u - i;
	for (int d = 0; d < 2; d++)
		xy[d] = t->xy[2 * i + d] +
			w * (t->xy[2 * (i + 1) + d] - t->xy[2 * i + d]);
}

int ncp_traj_set_force(struct ncp_traj *t, const double *y, int n, int dims)
{
	if (n < 2 || dims < 1 || dims > NCP_TRAJ_MAX_DIMS)
		return -EINVAL;
	double *col = malloc(sizeof(double) * (size_t)n);
	if (!col)
		return -ENOMEM;
	force_of(t, y, n, dims, col);
	free(col);
	return 0;
}

void ncp_traj_fini(struct ncp_traj *t)
{
	free(t->xy);
	memset(t, 0, sizeof(*t));
}

double ncp_traj_force(const struct ncp_traj *t, int d, double s)
{
	return interp(t->f[d], NCP_TRAJ_SAMPLES, fmin(fmax(s, -1.0), 1.0));
}

double ncp_traj_ramp(double tc, double period)
{
	double u = fmod(4.5 * tc / period, 4.5);
	return fmin(fmax(u - 2.5, -1.0), 1.0);
}

double ncp_traj_distance(const double *xy, int n, const double p[2])
{
	double best = hypot(p[0] - xy[0], p[1] - xy[1]);
	for (int k = 0; k + 1 < n; k++) {
		double ax = xy[2 * k], ay = xy[2 * k + 1];
		double dx = xy[2 * k + 2] - ax, dy = xy[2 * k + 3] - ay;
		double l2 = dx * dx + dy * dy, u = 0.0;
		if (l2 > 0)
			u = fmin(fmax(((p[0] - ax) * dx + (p[1] - ay) * dy) / l2,
				      0.0), 1.0);
		double d = hypot(p[0] - ax - u * dx, p[1] - ay - u * dy);
		if (d < best)
			best = d;
	}
	return best;
}
