#include "models/nef/ncp_probe.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"

int ncp_probe_frame_init(struct ncp_probe_frame *f, const struct ncp_net *net)
{
	int n = ncp_net_objects(net);
	size_t bits = 0, vals = 0;

	memset(f, 0, sizeof(*f));
	f->n_obj = n;
	f->bit_off = calloc((size_t)n + 1, sizeof(size_t));
	f->val_off = calloc((size_t)n + 1, sizeof(size_t));
	f->val_dims = calloc((size_t)n + 1, sizeof(int));
	if (!f->bit_off || !f->val_off || !f->val_dims) {
		ncp_probe_frame_fini(f);
		return -ENOMEM;
	}
	for (int i = 0; i < n; i++) {
		struct ncp_ens *e = ncp_net_ens((struct ncp_net *)net, i);
		f->bit_off[i] = bits;
		if (e) {
			bits += (size_t)e->n;
			ncp_net_decoded(net, i, &f->val_dims[i]);
		} else {
			f->val_dims[i] = ncp_net_size_out(net, i);
		}
		f->val_off[i] = vals;
		vals += (size_t)f->val_dims[i];
	}
	f->words = (bits + 63) / 64;
	f->n_vals = vals;
	f->bytes = 8 * f->words + ((sizeof(float) * vals + 7) & ~(size_t)7);
	return 0;
}

void ncp_probe_frame_fini(struct ncp_probe_frame *f)
{
	free(f->bit_off);
	free(f->val_off);
	free(f->val_dims);
	memset(f, 0, sizeof(*f));
}

void ncp_probe_frame_fill(const struct ncp_probe_frame *f,
			  struct ncp_net *net, void *out)
{
	uint64_t *bits = out;
	float *vals = (float *)(bits + f->words);

	memset(bits, 0, 8 * f->words);
	for (int i = 0; i < f->n_obj; i++) {
		const struct ncp_ens *e = ncp_net_ens(net, i);
		const float *v;
		int dims = f->val_dims[i];
		if (e) {
			for (int s = 0; s < e->lif.n_spikes; s++) {
				size_t b = f->bit_off[i] + e->lif.spikes[s];
				bits[b / 64] |= 1ull << (b % 64);
			}
			v = dims ? ncp_net_decoded(net, i, &dims) : NULL;
		} else {
			v = ncp_net_output(net, i);
		}
		if (v && dims)
			memcpy(vals + f->val_off[i], v, sizeof(float) * (size_t)dims);
	}
}

/* "a, b, c" of the objects that have what kind asks for. */
static void list_names(const struct ncp_probe_frame *f,
		       const struct ncp_net *net, enum ncp_probe_kind kind,
		       char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (int i = 0; i < f->n_obj && n + 1 < len; i++) {
		bool ens = ncp_net_ens((struct ncp_net *)net, i) != NULL;
		if (kind == NCP_PROBE_SPIKES ? !ens : !f->val_dims[i])
			continue;
		int w = snprintf(buf + n, len - n, "%s%s", n ? ", " : "",
				 ncp_net_name(net, i));
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

int ncp_probe_parse(const char *spec, const struct ncp_probe_frame *f,
		    const struct ncp_net *net, struct ncp_probe *p, char *err,
		    size_t errlen)
{
	char buf[NCP_PROBE_SPEC_MAX + 1], names[1024];
	char *kind = NULL, *tau = NULL;

	memset(p, 0, sizeof(*p));
	if (!spec[0])
		return ncp_errf(err, errlen, "empty probe (NAME[:KIND[:TAU]])");
	if (strlen(spec) > NCP_PROBE_SPEC_MAX)
		return ncp_errf(err, errlen, "probe '%.20s...' is longer than %d "
				"characters", spec, NCP_PROBE_SPEC_MAX);
	snprintf(buf, sizeof(buf), "%s", spec);
	if ((kind = strchr(buf, ':'))) {
		*kind++ = '\0';
		if ((tau = strchr(kind, ':')))
			*tau++ = '\0';
	}
	int obj = ncp_net_find(net, buf);
	if (obj < 0) {
		list_names(f, net, NCP_PROBE_VALUE, names, sizeof(names));
		return ncp_errf(err, errlen, "probe '%s': no population or node "
				"'%s' (there are: %s)", spec, buf, names);
	}
	bool ens = ncp_net_ens((struct ncp_net *)net, obj) != NULL;
	if (!kind || !kind[0])
		p->kind = ens ? NCP_PROBE_SPIKES : NCP_PROBE_VALUE;
	else if (!strcmp(kind, "spikes"))
		p->kind = NCP_PROBE_SPIKES;
	else if (!strcmp(kind, "value") || (ens && !strcmp(kind, "decoded")))
		p->kind = NCP_PROBE_VALUE;
	else
		return ncp_errf(err, errlen, "probe '%s': unknown kind '%s' "
				"(spikes, value%s)", spec, kind,
				ens ? " or decoded" : "");
	if (p->kind == NCP_PROBE_SPIKES && !ens) {
		list_names(f, net, NCP_PROBE_SPIKES, names, sizeof(names));
		return ncp_errf(err, errlen, "probe '%s': '%s' is a node, not a "
				"population: it has no spikes (populations: %s)",
				spec, buf, names);
	}
	if (p->kind == NCP_PROBE_VALUE && !f->val_dims[obj])
		return ncp_errf(err, errlen, "probe '%s': '%s' has no value",
				spec, buf);
	if (tau) {
		char *end;
		if (p->kind == NCP_PROBE_SPIKES)
			return ncp_errf(err, errlen, "probe '%s': spikes take no "
					"synapse", spec);
		p->tau = strtod(tau, &end);
		if (end == tau || *end || !isfinite(p->tau) || p->tau < 0 ||
		    p->tau > 10)
			return ncp_errf(err, errlen, "probe '%s': synapse '%s' is "
					"not a time constant in [0, 10] s",
					spec, tau);
	}
	snprintf(p->target, sizeof(p->target), "%.47s", buf);
	if (p->kind == NCP_PROBE_SPIKES) {
		p->cols = ncp_net_ens((struct ncp_net *)net, obj)->n;
		p->off = f->bit_off[obj];
	} else {
		p->cols = f->val_dims[obj];
		p->off = f->val_off[obj];
	}
	snprintf(p->file, sizeof(p->file), "probe.%s.%s.npy", p->target,
		 p->kind == NCP_PROBE_SPIKES ? "spikes" : "value");
	return 0;
}

int ncp_probe_parse_list(const char *list, const struct ncp_probe_frame *f,
			 const struct ncp_net *net, struct ncp_probe *p, int *n,
			 char *err, size_t errlen)
{
	*n = 0;
	const char *s = list;
	while (*s) {
		char one[NCP_PROBE_SPEC_MAX + 2];
		size_t len = strcspn(s, ",");
		while (len && (*s == ' ' || *s == '\t')) {
			s++;
			len--;
		}
		size_t l = len;
		while (l && (s[l - 1] == ' ' || s[l - 1] == '\t'))
			l--;
		if (l > NCP_PROBE_SPEC_MAX)
			return ncp_errf(err, errlen, "probe '%.20s...' is longer "
					"than %d characters", s, NCP_PROBE_SPEC_MAX);
		memcpy(one, s, l);
		one[l] = '\0';
		if (*n == NCP_PROBE_MAX)
			return ncp_errf(err, errlen, "more than %d probes",
					NCP_PROBE_MAX);
		int ret = ncp_probe_parse(one, f, net, &p[*n], err, errlen);
		if (ret)
			return ret;
		for (int k = 0; k < *n; k++)
			if (!strcmp(p[k].file, p[*n].file))
				return ncp_errf(err, errlen, "probe '%s' is given "
						"twice", one);
		(*n)++;
		s += len;
		if (*s == ',') {
			s++;
			if (!*s)
				return ncp_errf(err, errlen, "empty probe after "
						"the last ','");
		}
	}
	return 0;
}

void ncp_probe_spikes(const struct ncp_probe *p, const void *frame,
		      uint8_t *row)
{
	const uint64_t *bits = frame;
	for (int i = 0; i < p->cols; i++) {
		size_t b = p->off + (size_t)i;
		row[i] = (uint8_t)((bits[b / 64] >> (b % 64)) & 1);
	}
}

void ncp_probe_values(const struct ncp_probe *p, const void *frame,
		      const struct ncp_probe_frame *f, float a, float *state,
		      float *row)
{
	const float *v = (const float *)((const uint64_t *)frame + f->words) +
			 p->off;
	for (int i = 0; i < p->cols; i++) {
		if (p->tau > 0)
			state[i] = a * state[i] + (1.0f - a) * v[i];
		else
			state[i] = v[i];
		row[i] = state[i];
	}
}
