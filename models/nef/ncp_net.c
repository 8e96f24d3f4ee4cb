#include "models/nef/ncp_net.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"

const char *const ncp_net_part_names[NCP_PART_COUNT] = {
	[NCP_PART_ENCODE] = "encode",	  [NCP_PART_NEURONS] = "neurons",
	[NCP_PART_DECODE] = "decode",	  [NCP_PART_SYNAPSES] = "synapses",
	[NCP_PART_NODES] = "nodes",	  [NCP_PART_ARM] = "arm",
};

enum obj_kind { OBJ_NODE, OBJ_ENS };

struct net_obj {
	char name[48];
	enum obj_kind kind;
	int size_in, size_out;
	float *in, *out;
	ncp_node_fn fn;
	void *ctx;
	enum ncp_net_part part;
	struct ncp_ens ens;
	int *direct;		/* ids of direct connections into this object */
	int n_direct;
};

struct net_conn {
	int src, dst, src_lo, src_dims, dst_lo, dst_dims;
	bool from_ens;
	float *T;		/* node source: dst_dims x src_dims, or NULL */
	float weight;
	float *D;		/* ensemble source: n x dst_dims */
	float *D0;		/* decoders as solved (reset after learning) */
	double rmse;
	bool filtered;
	float a;		/* filter: y = a y + (1 - a) x */
	/* Alpha synapse: y = a1 y1 + a2 y2 + b1 x + b2 xp (y1, y2: the output
	 * one and two steps back, xp: the input one step back), in double:
	 * its double pole is sensitive to rounding; NULL st: lowpass. */
	double a1, a2, b1, b2;
	double *st;		/* dst_dims x (y1, y2, xp) */
	float *y, *val;
	/* PES */
	float pes_scale;	/* -rate * dt / n */
	int pes_err, pes_err_lo;
	float pes_a;
	float *act;		/* filtered presynaptic activity, n */
};

struct ncp_net {
	double dt, t;
	uint64_t steps;
	bool final;
	struct net_obj *obj;
	int n_obj, cap_obj;
	struct net_conn *conn;
	int n_conn, cap_conn;
	int *filtered;		/* ids of connections with a synapse */
	int n_filtered;
	int *learning;		/* ids of PES connections */
	int n_learning;
	struct ncp_dcache *cache;	/* decoder cache, not owned; may be NULL */
	bool profile;
	uint64_t prof_ns[NCP_PART_COUNT];
	uint64_t prof_steps;
};

struct ncp_net *ncp_net_new(double dt)
{
	if (!(dt > 0))
		return NULL;
	struct ncp_net *net = calloc(1, sizeof(*net));
	if (net)
		net->dt = dt;
	return net;
}

void ncp_net_set_cache(struct ncp_net *net, struct ncp_dcache *cache)
{
	net->cache = cache;
}

void ncp_net_free(struct ncp_net *net)
{
	if (!net)
		return;
	for (int i = 0; i < net->n_obj; i++) {
		struct net_obj *o = &net->obj[i];
		free(o->in);
		free(o->out);
		free(o->direct);
		if (o->kind == OBJ_ENS)
			ncp_ens_fini(&o->ens);
	}
	for (int i = 0; i < net->n_conn; i++) {
		struct net_conn *c = &net->conn[i];
		free(c->T);
		free(c->D);
		free(c->D0);
		free(c->y);
		free(c->st);
		free(c->val);
		free(c->act);
	}
	free(net->obj);
	free(net->conn);
	free(net->filtered);
	free(net->learning);
	free(net);
}

static struct net_obj *add_obj(struct ncp_net *net, const char *name)
{
	if (net->final)
		return NULL;
	if (net->n_obj == net->cap_obj) {
		int cap = net->cap_obj ? 2 * net->cap_obj : 16;
		struct net_obj *o = realloc(net->obj, sizeof(*o) * (size_t)cap);
		if (!o)
			return NULL;
		net->obj = o;
		net->cap_obj = cap;
	}
	struct net_obj *o = &net->obj[net->n_obj];
	memset(o, 0, sizeof(*o));
	snprintf(o->name, sizeof(o->name), "%s", name ? name : "");
	return o;
}

int ncp_net_node(struct ncp_net *net, const char *name, int size_in,
		 int size_out, ncp_node_fn fn, void *ctx)
{
	if (size_in < 0 || size_out < 0 || (!fn && size_in && size_in != size_out))
		return -EINVAL;
	struct net_obj *o = add_obj(net, name);
	if (!o)
		return net->final ? -EBUSY : -ENOMEM;
	o->kind = OBJ_NODE;
	o->size_in = size_in;
	o->size_out = size_out;
	o->fn = fn;
	o->ctx = ctx;
	o->part = NCP_PART_NODES;
	o->in = ncp_calloc_aligned((size_t)size_in, sizeof(float));
	o->out = ncp_calloc_aligned((size_t)size_out, sizeof(float));
	if (!o->in || !o->out) {
		free(o->in);
		free(o->out);
		return -ENOMEM;
	}
	return net->n_obj++;
}

void ncp_net_node_part(struct ncp_net *net, int node, enum ncp_net_part part)
{
	if (node >= 0 && node < net->n_obj && part < NCP_PART_COUNT)
		net->obj[node].part = part;
}

/* An ensemble object: one ensemble of spec, or (n_sub > 0) an array of
 * n_sub of them run as one population. */
static int add_ensemble(struct ncp_net *net, const char *name,
			const struct ncp_ens_spec *spec, int n_sub, char *err,
			size_t errlen)
{
	struct net_obj *o = add_obj(net, name);
	if (!o) {
		ncp_errf(err, errlen, "cannot add ensemble %s: %s", name,
			 net->final ? "network finalized" : "out of memory");
		return net->final ? -EBUSY : -ENOMEM;
	}
	int ret = n_sub ? ncp_ens_init_array(&o->ens, spec, n_sub, net->dt, err,
					     errlen) :
			  ncp_ens_init(&o->ens, spec, net->dt, err, errlen);
	if (ret)
		return ret;
	o->kind = OBJ_ENS;
	o->size_in = o->ens.dims;
	o->in = ncp_calloc_aligned((size_t)o->ens.dims, sizeof(float));
	if (!o->in) {
		ncp_ens_fini(&o->ens);
		return -ENOMEM;
	}
	return net->n_obj++;
}

int ncp_net_ensemble(struct ncp_net *net, const char *name,
		     const struct ncp_ens_spec *spec, char *err, size_t errlen)
{
	return add_ensemble(net, name, spec, 0, err, errlen);
}

struct fold_ctx {
	ncp_func f;
	void *ctx;
	int src_dims, dst_dims;
	const float *T;
	float weight;
};

/* The function an ensemble-sourced connection decodes, with its transform
 * applied, so the decoders carry the transform (as Nengo folds it). */
static void folded(const double *x, double *y, void *arg)
{
	struct fold_ctx *fc = arg;
	double v[64];
	if (fc->f)
		fc->f(x, v, fc->ctx);
	else
		memcpy(v, x, sizeof(double) * (size_t)fc->src_dims);
	for (int r = 0; r < fc->dst_dims; r++) {
		if (fc->T) {
			double acc = 0.0;
			for (int c = 0; c < fc->src_dims; c++)
				acc += fc->T[r * fc->src_dims + c] * v[c];
			y[r] = acc;
		} else {
			y[r] = fc->weight * v[r];
		}
	}
}

int ncp_net_connect(struct ncp_net *net, const struct ncp_conn_spec *cs,
		    char *err, size_t errlen)
{
	if (net->final) {
		ncp_errf(err, errlen, "network already finalized");
		return -EBUSY;
	}
	if (cs->src < 0 || cs->src >= net->n_obj || cs->dst < 0 ||
	    cs->dst >= net->n_obj)
		return ncp_errf(err, errlen, "connection between unknown objects "
				"%d -> %d", cs->src, cs->dst);
	struct net_obj *src = &net->obj[cs->src], *dst = &net->obj[cs->dst];
	bool from_ens = src->kind == OBJ_ENS;
	int src_dims = cs->src_dims;
	if (from_ens && !cs->function && src_dims == 0)
		src_dims = src->ens.dims;
	if (!from_ens && src_dims == 0)
		src_dims = src->size_out - cs->src_lo;
	int dst_dims = cs->dst_dims ? cs->dst_dims : dst->size_in - cs->dst_lo;

	if (src_dims <= 0 || src_dims > 64 || dst_dims <= 0 ||
	    cs->dst_lo < 0 || cs->dst_lo + dst_dims > dst->size_in)
		return ncp_errf(err, errlen, "%s -> %s: slice out of range",
				src->name, dst->name);
	if (!from_ens && (cs->src_lo < 0 || cs->src_lo + src_dims > src->size_out))
		return ncp_errf(err, errlen, "%s -> %s: source slice out of range",
				src->name, dst->name);
	if (from_ens && !cs->function && src_dims != src->ens.dims)
		return ncp_errf(err, errlen, "%s -> %s: identity decode needs %d "
				"dims", src->name, dst->name, src->ens.dims);
	if (!cs->transform && src_dims != dst_dims)
		return ncp_errf(err, errlen, "%s -> %s: %d values into %d without "
				"a transform", src->name, dst->name, src_dims,
				dst_dims);
	if (!(cs->tau >= 0))
		return ncp_errf(err, errlen, "%s -> %s: synapse tau must be >= 0",
				src->name, dst->name);
	if (cs->tau == 0 && cs->src >= cs->dst)
		return ncp_errf(err, errlen, "%s -> %s: a connection without "
				"synapse must go forward in the run order",
				src->name, dst->name);
	if (from_ens && src->ens.n_sub &&
	    (cs->function || cs->transform || cs->pes_rate != 0))
		return ncp_errf(err, errlen, "%s -> %s: an ensemble array decodes "
				"its identity only (no function, transform or "
				"PES)", src->name, dst->name);
	if (cs->pes_rate != 0 && (!from_ens || cs->pes_err < 0 ||
				  cs->pes_err >= net->n_obj ||
				  net->obj[cs->pes_err].kind != OBJ_NODE ||
				  cs->pes_err_lo + dst_dims >
					  net->obj[cs->pes_err].size_out))
		return ncp_errf(err, errlen, "%s -> %s: PES needs an ensemble "
				"source and a node error of %d values",
				src->name, dst->name, dst_dims);

	if (net->n_conn == net->cap_conn) {
		int cap = net->cap_conn ? 2 * net->cap_conn : 16;
		struct net_conn *nc = realloc(net->conn, sizeof(*nc) * (size_t)cap);
		if (!nc)
			return -ENOMEM;
		net->conn = nc;
		net->cap_conn = cap;
	}
	struct net_conn *c = &net->conn[net->n_conn];
	memset(c, 0, sizeof(*c));
	c->src = cs->src;
	c->dst = cs->dst;
	c->src_lo = cs->src_lo;
	c->src_dims = src_dims;
	c->dst_lo = cs->dst_lo;
	c->dst_dims = dst_dims;
	c->from_ens = from_ens;
	c->weight = cs->weight != 0 ? cs->weight : 1.0f;
	c->filtered = cs->tau > 0;
	c->a = c->filtered ? (float)exp(-net->dt / cs->tau) : 0.0f;
	c->y = ncp_calloc_aligned((size_t)dst_dims, sizeof(float));
	c->val = ncp_calloc_aligned((size_t)dst_dims, sizeof(float));
	int ret = -ENOMEM;
	if (!c->y || !c->val)
		goto fail;
	if (c->filtered && cs->alpha) {
		/* 1/(tau s + 1)^2 discretised with a zero-order hold, the
		 * leading delay dropped as for the lowpass:
		 * H(z) = (b1 + b2 z^-1) / (1 - a z^-1)^2, a = exp(-dt/tau),
		 * b1 = 1 - a - c, b2 = a^2 - a + c, c = a dt / tau. */
		double a = exp(-net->dt / cs->tau), k = a * net->dt / cs->tau;
		c->a1 = 2.0 * a;
		c->a2 = -a * a;
		c->b1 = 1.0 - a - k;
		c->b2 = a * a - a + k;
		c->st = calloc(3 * (size_t)dst_dims, sizeof(double));
		if (!c->st)
			goto fail;
	}
	if (from_ens) {
		int n = src->ens.n;
		struct fold_ctx fc = { cs->function, cs->ctx, src_dims, dst_dims,
				       cs->transform, c->weight };
		c->D = ncp_calloc_aligned((size_t)n * dst_dims, sizeof(float));
		if (!c->D)
			goto fail;
		if (src->ens.n_sub) {
			/* Each block's identity (times the weight). */
			fc.src_dims = fc.dst_dims = src->ens.sub[0].dims;
			ret = ncp_ens_solve_array(&src->ens, folded, &fc,
						  net->cache, c->D, &c->rmse);
		} else {
			ret = ncp_ens_solve_cached(&src->ens, folded, &fc,
						   dst_dims, net->cache, c->D,
						   &c->rmse);
		}
		if (ret) {
			ncp_errf(err, errlen, "%s -> %s: solving decoders: %s",
				 src->name, dst->name, ncp_strerror(ret));
			goto fail;
		}
		if (cs->pes_rate != 0) {
			c->D0 = malloc(sizeof(float) * (size_t)n * dst_dims);
			c->act = ncp_calloc_aligned((size_t)n, sizeof(float));
			ret = -ENOMEM;
			if (!c->D0 || !c->act)
				goto fail;
			memcpy(c->D0, c->D, sizeof(float) * (size_t)n * dst_dims);
			c->pes_scale = (float)(-cs->pes_rate * net->dt / n);
			c->pes_err = cs->pes_err;
			c->pes_err_lo = cs->pes_err_lo;
			double pt = cs->pes_tau > 0 ? cs->pes_tau : 0.005;
			c->pes_a = (float)exp(-net->dt / pt);
		}
	} else if (cs->transform) {
		c->T = malloc(sizeof(float) * (size_t)dst_dims * src_dims);
		if (!c->T)
			goto fail;
		memcpy(c->T, cs->transform, sizeof(float) * (size_t)dst_dims * src_dims);
	}
	return net->n_conn++;
fail:
	free(c->y);
	free(c->st);
	free(c->val);
	free(c->D);
	free(c->D0);
	free(c->act);
	free(c->T);
	if (ret == -ENOMEM)
		ncp_errf(err, errlen, "out of memory");
	return ret;
}

int ncp_net_ens_array(struct ncp_net *net, const char *name, int n_ens,
		      const struct ncp_ens_spec *spec, int *in_node,
		      int *out_node, char *err, size_t errlen)
{
	char nm[48];
	int total = n_ens * spec->dims;
	snprintf(nm, sizeof(nm), "%s.input", name);
	int in = ncp_net_node(net, nm, total, total, NULL, NULL);
	if (in < 0)
		return in;
	int ens = add_ensemble(net, name, spec, n_ens, err, errlen);
	if (ens < 0)
		return ens;
	snprintf(nm, sizeof(nm), "%s.output", name);
	int out = ncp_net_node(net, nm, total, total, NULL, NULL);
	if (out < 0)
		return out;
	int c = ncp_net_connect(net, &(struct ncp_conn_spec){
		.src = in, .dst = ens }, err, errlen);
	if (c < 0)
		return c;
	c = ncp_net_connect(net, &(struct ncp_conn_spec){
		.src = ens, .dst = out }, err, errlen);
	if (c < 0)
		return c;
	*in_node = in;
	*out_node = out;
	return 0;
}

int ncp_net_finalize(struct ncp_net *net)
{
	if (net->final)
		return 0;
	net->filtered = calloc((size_t)net->n_conn + 1, sizeof(int));
	net->learning = calloc((size_t)net->n_conn + 1, sizeof(int));
	if (!net->filtered || !net->learning)
		return -ENOMEM;
	for (int i = 0; i < net->n_obj; i++) {
		net->obj[i].direct = calloc((size_t)net->n_conn + 1, sizeof(int));
		if (!net->obj[i].direct)
			return -ENOMEM;
	}
	for (int k = 0; k < net->n_conn; k++) {
		struct net_conn *c = &net->conn[k];
		if (c->filtered)
			net->filtered[net->n_filtered++] = k;
		else {
			struct net_obj *d = &net->obj[c->dst];
			d->direct[d->n_direct++] = k;
		}
		if (c->act)
			net->learning[net->n_learning++] = k;
	}
	net->final = true;
	return 0;
}

/* A connection's value this step, into c->val. */
static void conn_value(struct ncp_net *net, struct net_conn *c)
{
	struct net_obj *s = &net->obj[c->src];
	float *v = c->val;
	if (c->from_ens) {
		memset(v, 0, sizeof(float) * (size_t)c->dst_dims);
		ncp_ens_decode_add(&s->ens, c->D, c->dst_dims, 1.0f, v);
	} else if (c->T) {
		const float *x = s->out + c->src_lo;
		for (int r = 0; r < c->dst_dims; r++) {
			float acc = 0.0f;
			for (int q = 0; q < c->src_dims; q++)
				acc += c->T[r * c->src_dims + q] * x[q];
			v[r] = acc;
		}
	} else {
		const float *x = s->out + c->src_lo;
		for (int r = 0; r < c->dst_dims; r++)
			v[r] = c->weight * x[r];
	}
}

static void pes_update(struct ncp_net *net, struct net_conn *c)
{
	const struct ncp_ens *e = &net->obj[c->src].ens;
	const float *err = net->obj[c->pes_err].out + c->pes_err_lo;
	const int n = e->n, k = c->dst_dims;
	const float a = c->pes_a, b = (1.0f - a) / (float)net->dt;
	float *restrict act = c->act;

	for (int i = 0; i < n; i++)
		act[i] *= a;
	for (int s = 0; s < e->lif.n_spikes; s++)
		act[e->lif.spikes[s]] += b;
	for (int j = 0; j < k; j++) {
		float g = c->pes_scale * err[j];
		float *restrict D = c->D;
		for (int i = 0; i < n; i++)
			D[(size_t)i * k + j] += g * act[i];
	}
}

#define PROF_START(net) uint64_t prof_t0 = (net)->profile ? ncp_now_ns() : 0
#define PROF_MARK(net, part)                                             \
	do {                                                             \
		if ((net)->profile) {                                    \
			uint64_t prof_t1 = ncp_now_ns();                 \
			(net)->prof_ns[part] += prof_t1 - prof_t0;       \
			prof_t0 = prof_t1;                               \
		}                                                        \
	} while (0)

void ncp_net_step(struct ncp_net *net)
{
	ncp_assert(net->final);
	PROF_START(net);

	for (int i = 0; i < net->n_obj; i++)
		memset(net->obj[i].in, 0, sizeof(float) * (size_t)net->obj[i].size_in);
	for (int k = 0; k < net->n_filtered; k++) {
		struct net_conn *c = &net->conn[net->filtered[k]];
		float *in = net->obj[c->dst].in + c->dst_lo;
		for (int r = 0; r < c->dst_dims; r++)
			in[r] += c->y[r];
	}
	PROF_MARK(net, NCP_PART_SYNAPSES);

	for (int i = 0; i < net->n_obj; i++) {
		struct net_obj *o = &net->obj[i];
		for (int k = 0; k < o->n_direct; k++) {
			struct net_conn *c = &net->conn[o->direct[k]];
			conn_value(net, c);
			float *in = o->in + c->dst_lo;
			for (int r = 0; r < c->dst_dims; r++)
				in[r] += c->val[r];
		}
		if (o->n_direct)
			PROF_MARK(net, NCP_PART_DECODE);
		if (o->kind == OBJ_ENS && !net->profile) {
			ncp_ens_run(&o->ens, o->in);
		} else if (o->kind == OBJ_ENS) {
			/* The same results in two passes, to time each. */
			ncp_ens_encode(&o->ens, o->in);
			PROF_MARK(net, NCP_PART_ENCODE);
			ncp_ens_step(&o->ens);
			PROF_MARK(net, NCP_PART_NEURONS);
		} else if (o->fn) {
			o->fn(net->t, o->in, o->out, o->ctx);
			PROF_MARK(net, o->part);
		} else if (o->size_in) {
			memcpy(o->out, o->in, sizeof(float) * (size_t)o->size_in);
		}
	}

	for (int k = 0; k < net->n_filtered; k++) {
		struct net_conn *c = &net->conn[net->filtered[k]];
		conn_value(net, c);
		if (c->st) {
			for (int r = 0; r < c->dst_dims; r++) {
				double *st = c->st + 3 * r;
				double y = c->a1 * st[0] + c->a2 * st[1] +
					   c->b1 * c->val[r] + c->b2 * st[2];
				st[1] = st[0];
				st[0] = y;
				st[2] = c->val[r];
				c->y[r] = (float)y;
			}
			continue;
		}
		const float a = c->a, b = 1.0f - c->a;
		for (int r = 0; r < c->dst_dims; r++)
			c->y[r] = a * c->y[r] + b * c->val[r];
	}
	PROF_MARK(net, NCP_PART_SYNAPSES);
	for (int k = 0; k < net->n_learning; k++)
		pes_update(net, &net->conn[net->learning[k]]);
	PROF_MARK(net, NCP_PART_DECODE);

	net->steps++;
	net->t = (double)net->steps * net->dt;
	if (net->profile)
		net->prof_steps++;
}

void ncp_net_reset(struct ncp_net *net)
{
	for (int i = 0; i < net->n_obj; i++) {
		struct net_obj *o = &net->obj[i];
		memset(o->in, 0, sizeof(float) * (size_t)o->size_in);
		if (o->kind == OBJ_ENS)
			ncp_lif_reset(&o->ens.lif);
		else if (!o->fn && o->size_in)
			memset(o->out, 0, sizeof(float) * (size_t)o->size_out);
	}
	for (int k = 0; k < net->n_conn; k++) {
		struct net_conn *c = &net->conn[k];
		memset(c->y, 0, sizeof(float) * (size_t)c->dst_dims);
		if (c->st)
			memset(c->st, 0, sizeof(double) * 3 * (size_t)c->dst_dims);
		if (c->act) {
			int n = net->obj[c->src].ens.n;
			memset(c->act, 0, sizeof(float) * (size_t)n);
			memcpy(c->D, c->D0, sizeof(float) * (size_t)n * c->dst_dims);
		}
	}
	net->steps = 0;
	net->t = 0.0;
}

int ncp_net_find(const struct ncp_net *net, const char *name)
{
	for (int i = 0; i < net->n_obj; i++)
		if (strcmp(net->obj[i].name, name) == 0)
			return i;
	return -ENOENT;
}

int ncp_net_objects(const struct ncp_net *net)
{
	return net->n_obj;
}

const char *ncp_net_name(const struct ncp_net *net, int obj)
{
	return obj >= 0 && obj < net->n_obj ? net->obj[obj].name : NULL;
}

int ncp_net_size_out(const struct ncp_net *net, int obj)
{
	if (obj < 0 || obj >= net->n_obj)
		return 0;
	return net->obj[obj].kind == OBJ_ENS ? net->obj[obj].ens.dims :
					       net->obj[obj].size_out;
}

const float *ncp_net_decoded(const struct ncp_net *net, int obj, int *dims)
{
	for (int k = 0; k < net->n_conn; k++) {
		const struct net_conn *c = &net->conn[k];
		if (c->src == obj && c->from_ens) {
			*dims = c->dst_dims;
			return c->val;
		}
	}
	*dims = 0;
	return NULL;
}

float *ncp_net_output(struct ncp_net *net, int node)
{
	if (node < 0 || node >= net->n_obj || net->obj[node].kind != OBJ_NODE)
		return NULL;
	return net->obj[node].out;
}

const float *ncp_net_input(const struct ncp_net *net, int obj)
{
	if (obj < 0 || obj >= net->n_obj)
		return NULL;
	return net->obj[obj].in;
}

struct ncp_ens *ncp_net_ens(struct ncp_net *net, int obj)
{
	if (obj < 0 || obj >= net->n_obj || net->obj[obj].kind != OBJ_ENS)
		return NULL;
	return &net->obj[obj].ens;
}

const float *ncp_net_decoders(const struct ncp_net *net, int conn)
{
	if (conn < 0 || conn >= net->n_conn)
		return NULL;
	return net->conn[conn].D;
}

double ncp_net_decode_rmse(const struct ncp_net *net, int conn)
{
	if (conn < 0 || conn >= net->n_conn || !net->conn[conn].from_ens)
		return NAN;
	return net->conn[conn].rmse;
}

double ncp_net_time(const struct ncp_net *net) { return net->t; }
uint64_t ncp_net_steps(const struct ncp_net *net) { return net->steps; }

int ncp_net_neurons(const struct ncp_net *net)
{
	int n = 0;
	for (int i = 0; i < net->n_obj; i++)
		if (net->obj[i].kind == OBJ_ENS)
			n += net->obj[i].ens.n;
	return n;
}

void ncp_net_profile(struct ncp_net *net, bool on)
{
	net->profile = on;
	memset(net->prof_ns, 0, sizeof(net->prof_ns));
	net->prof_steps = 0;
}

void ncp_net_profile_read(const struct ncp_net *net,
			  uint64_t ns[NCP_PART_COUNT], uint64_t *steps)
{
	memcpy(ns, net->prof_ns, sizeof(net->prof_ns));
	*steps = net->prof_steps;
}
