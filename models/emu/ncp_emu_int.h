/* ncp_emu internals shared with the trainer (ncp_trainer), which works on
 * a model's tensors in place.  Not for clients. */
#ifndef NCP_EMU_INT_H
#define NCP_EMU_INT_H

#include "models/emu/ncp_emu.h"
#include "models/emu/ncp_feat.h"

#define NCP_EMU_MAX_LAYERS (NCP_EMU_MAX_HIDDEN + 1)

/* A fully connected layer: y = w x + b, w row-major [out][in] (PyTorch's
 * Linear layout).  For the dense arch, layer 0's w covers only the
 * standardised stimulation features; the spike inputs' weights are in
 * w0_spk. */
struct ncp_emu_layer {
	int in, out;
	float *w;
	float *b;
};

struct ncp_emu_model {
	struct ncp_emu_spec spec;
	struct ncp_feat feat;
	int nfeat;		/* filtered features: (neurons + stim) * ntau */
	/* Standardised inputs: every filtered feature (ridge, mlp), or the
	 * stimulation features only (dense: feat + neurons * ntau). */
	int n_std;
	int std_offset;		/* first standardised feature in feat */
	/* The arm-state inputs (spec.arm_input: 2 J, 2 J + 2 with
	 * spec.residual, else 0), standardised
	 * after the features: layer 0's inputs are n_x = n_std + n_arm (and
	 * the dense spike inputs). */
	int n_arm, n_x;
	/* n_x values: the features' (the file's in_mean, in_scale), then the
	 * arm inputs' (its arm_mean, arm_scale); in_inv = 1 / in_scale. */
	float *in_mean, *in_scale, *in_inv;
	float out_mean[NCP_EMU_MAX_OUTPUTS], out_scale[NCP_EMU_MAX_OUTPUTS];
	int nout;		/* ncp_emu_spec_outputs */
	int nlayers;		/* nhidden + 1 */
	struct ncp_emu_layer layer[NCP_EMU_MAX_LAYERS];
	/* dense: first-layer weights of spike input (window position p,
	 * neuron n) at row p * neurons + n, hidden[0] floats each (the
	 * transpose of the file's layout) */
	float *w0_spk;
	size_t n_spk;		/* window * neurons (dense), else 0 */
	int max_width;		/* widest layer output */
	/* Derived (ncp_emu_model_refresh), for the filtered-feature archs: the
	 * first layer folded with the standardisation, so that inference can
	 * update its pre-activations from each step's spikes alone:
	 * w0_col[j * out0 + u] = w0[u][j] / in_scale[j],
	 * bias0[u] = b0[u] - sum_j w0[u][j] in_mean[j] / in_scale[j]. */
	float *w0_col;
	double *bias0;
	char *config;		/* JSON object text or NULL */
};

/* Zeroed memory for a large array read at random (the dense first layer
 * and its training state): 2 MB aligned and marked for transparent huge
 * pages, so that a gather over it does not miss the TLB at every row.
 * Small arrays as ncp_calloc_aligned.  Free with free(). */
void *ncp_emu_calloc_big(size_t n, size_t size);

/* x = (feat[std_offset ..] - in_mean) * in_inv, n_std values. */
void ncp_emu_standardise(const struct ncp_emu_model *m, const float *feat,
			 float *x);
/* The arm inputs standardised: x[a] = (arm[a] - in_mean[n_std + a]) *
 * in_inv[n_std + a] for a < n_arm, 0 where arm[a] is not finite (or arm
 * is NULL: unknown). */
void ncp_emu_standardise_arm(const struct ncp_emu_model *m, const float *arm,
			     float *x);
/* What the outputs are added to (nout values): in the residual form the
 * arm input (its mean, arm_mean, where arm[o] is not finite or arm is
 * NULL), else 0. */
void ncp_emu_output_base(const struct ncp_emu_model *m, const float *arm,
			 float *base);
/* Recompute what derives from the tensors (in_inv, w0_col, bias0): after
 * changing weights or normalisations in place. */
void ncp_emu_model_refresh(struct ncp_emu_model *m);

/* Model-file helpers shared with the co-processor's files (ncp_cpn):
 * metadata read as a decimal integer in [lo, hi], a string, a JSON array
 * of at most max numbers, a finite number; tensor tname ([d0] or [d0, d1]
 * F32) copied into dst with every value checked finite (and positive);
 * the shortest decimal that reads back as x.  Errors name the file
 * (name) and the key or tensor. */
struct ncp_safetensors;
int ncp_emu_meta_int(const struct ncp_safetensors *st, const char *name,
		     const char *key, long lo, long hi, int *out, char *err,
		     size_t errlen);
const char *ncp_emu_meta_str(const struct ncp_safetensors *st,
			     const char *name, const char *key, char *err,
			     size_t errlen);
int ncp_emu_meta_numbers(const struct ncp_safetensors *st, const char *name,
			 const char *key, double *out, int max, int *n,
			 char *err, size_t errlen);
int ncp_emu_meta_double(const struct ncp_safetensors *st, const char *name,
			const char *key, double *out, char *err, size_t errlen);
int ncp_emu_get_tensor(const struct ncp_safetensors *st, const char *name,
		       const char *tname, int ndim, uint64_t d0, uint64_t d1,
		       float *dst, bool positive, char *err, size_t errlen);
void ncp_emu_fmt_double(char *buf, size_t len, double x);

#endif
