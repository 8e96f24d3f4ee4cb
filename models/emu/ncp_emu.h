/* ncp_emu: the emulator network: it predicts the arm's state
 * [q0, q1, dq0, dq1, hand_x, hand_y] at a step from the M1 spikes (and
 * stimulation) of the steps up to it.  Models are .safetensors files whose
 * architectures are defined in docs/model-format.md; this module loads,
 * validates, saves and runs them.
 *
 * Architectures:
 *   ridge, ridge-running   standardised filtered features -> linear -> 6
 *   mlp, mlp-running       standardised filtered features -> ReLU layers -> 6
 *   dense                  the flattened spike window (a sparse gather of
 *                          first-layer weight rows) -> ReLU layers -> 6
 * "-running" archs filter over the whole history (ncp_feat running mode),
 * the others over the window only.
 *
 * Inference: a model is read-only once built and may be shared by any
 * number of states; a state is used by one thread at a time (the daemon
 * hands it between its emulator thread and its loop thread).  ncp_emu_push
 * and ncp_emu_predict never allocate, lock or block.  Inference uses no
 * BLAS (a hand-written matrix-vector product): OpenBLAS's sgemv takes its
 * work buffer from an allocator shared with every other caller (the online
 * trainer) and maps new buffers with mmap.
 */
#ifndef NCP_EMU_H
#define NCP_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/emu/ncp_feat.h"

#define NCP_EMU_FORMAT "ncpd-emulator"
/* Version 1: outputs at the window's last step.  Version 2 adds the
 * metadata "horizon" (steps ahead of it); files with horizon 0 are still
 * written as version 1.  Version 3 adds the arm-state input (metadata
 * "arm_input", tensors "arm_mean" and "arm_scale"); only files with that
 * input are written as version 3.  Version 4 is the residual form: the
 * arm input is the whole arm state (q, dq, hand) and the outputs are that
 * input plus what the layers add (metadata "residual"). */
#define NCP_EMU_FORMAT_VERSION 4
#define NCP_EMU_MAX_HORIZON 10000	/* steps */
/* The outputs are the arm's state: q and dq of each of its J joints and
 * the hand's x, y: 2 J + 2 (6 for REACH's 2-link arm, 8 for 3 links). */
#define NCP_EMU_OUTPUTS_OF(joints) (2 * (joints) + 2)
#define NCP_EMU_MAX_JOINTS 3
#define NCP_EMU_MAX_OUTPUTS NCP_EMU_OUTPUTS_OF(NCP_EMU_MAX_JOINTS)
#define NCP_EMU_MAX_HIDDEN 8		/* hidden layers */
#define NCP_EMU_MAX_UNITS 65536		/* units in a hidden layer */

enum ncp_emu_arch {
	NCP_EMU_RIDGE,
	NCP_EMU_RIDGE_RUNNING,
	NCP_EMU_MLP,
	NCP_EMU_MLP_RUNNING,
	NCP_EMU_DENSE,
	NCP_EMU_ARCH_COUNT
};

/* The default architecture of ncp-train (chosen by measurement:
 * docs/model-format.md). */
#define NCP_EMU_ARCH_DEFAULT NCP_EMU_MLP_RUNNING

/* Output o's name for an arm of `joints` joints: "q0", "q1", ("q2"),
 * "dq0", "dq1", ("dq2"), "hand_x", "hand_y"; "?" out of range. */
const char *ncp_emu_output_name(int joints, int o);
/* Its unit: "rad", "rad/s" or "m". */
const char *ncp_emu_output_unit(int joints, int o);

/* "ridge", "ridge-running", "mlp", "mlp-running", "dense". */
const char *ncp_emu_arch_name(enum ncp_emu_arch arch);
/* 0, or -EINVAL for an unknown name. */
int ncp_emu_arch_parse(const char *name, enum ncp_emu_arch *arch);
/* The feature mode an architecture's filters use. */
enum ncp_feat_mode ncp_emu_arch_mode(enum ncp_emu_arch arch);

/* Everything that fixes a model's tensors. */
struct ncp_emu_spec {
	enum ncp_emu_arch arch;
	int window;		/* steps */
	int neurons;		/* M1 neurons */
	int stim;		/* stimulation channels */
	int ntau;
	double taus[NCP_FEAT_MAX_TAUS];	/* s */
	double dt;		/* s per step */
	int nhidden;		/* 0 for ridge */
	int hidden[NCP_EMU_MAX_HIDDEN];
	/* The outputs are the arm state this many steps after the window's
	 * last step (0: at it). */
	int horizon;
	/* The arm's joints J (2 or 3; 0 means 2): 2 J + 2 outputs. */
	int joints;
	/* The arm-state input (ridge* and mlp* only): the arm's q and dq
	 * (2 J values) after the step before the latest, as S1 has them,
	 * next to the features.  Off by default: the model then predicts the
	 * arm from M1 (and the stimulation) alone. */
	bool arm_input;
	/* The residual form (needs arm_input): the arm input is the whole
	 * arm state after the step before (2 J + 2 values, the outputs'
	 * names), and the outputs are that state plus the layers' output,
	 * which so predicts the change. */
	bool residual;
};
/* A spec's joints (0 read as 2) and outputs. */
int ncp_emu_spec_joints(const struct ncp_emu_spec *s);
int ncp_emu_spec_outputs(const struct ncp_emu_spec *s);

/* The defaults for an architecture: window 100, 1000 neurons, 32
 * stimulation channels, taus 5, 20, 50 ms, dt 1 ms; hidden 256-256 (mlp),
 * 128-128 (dense), none (ridge). */
void ncp_emu_spec_default(struct ncp_emu_spec *s, enum ncp_emu_arch arch);
/* 0, or -EINVAL with a message naming what is wrong. */
int ncp_emu_spec_check(const struct ncp_emu_spec *s, char *err, size_t errlen);

struct ncp_emu_model;

/* A new model with initial weights drawn from seed as PyTorch's Linear
 * draws them (uniform in +-1/sqrt(fan_in), weights and biases) and
 * identity normalisations.  NULL with a message. */
struct ncp_emu_model *ncp_emu_model_new(const struct ncp_emu_spec *s,
					uint64_t seed, char *err,
					size_t errlen);
/* Read and validate a model file.  Refuses (NULL, with a message naming the
 * file and the fault) anything that is not a complete, consistent model of
 * a known architecture. */
struct ncp_emu_model *ncp_emu_model_load(const char *path, char *err,
					 size_t errlen);
/* The same from a file's bytes in memory (name for messages). */
struct ncp_emu_model *ncp_emu_model_parse(const void *buf, size_t len,
					  const char *name, char *err,
					  size_t errlen);
/* Write atomically (temp file, fsync, rename): the old file stays whole
 * if this fails.  0 or -errno with a message. */
int ncp_emu_model_save(const struct ncp_emu_model *m, const char *path,
		       char *err, size_t errlen);
/* A deep copy, or NULL. */
struct ncp_emu_model *ncp_emu_model_clone(const struct ncp_emu_model *m);
/* Copy src's weights and normalisations into dst, which must have the
 * same spec; allocates nothing (a double buffer for swapping weights).
 * Not for the real-time thread: it also recomputes the first layer's
 * inference form (a transpose of its weights, about 1 ms for 256 x 3096).
 * dst must not be in use by a state meanwhile.  0 or -EINVAL. */
int ncp_emu_model_copy(struct ncp_emu_model *dst,
		       const struct ncp_emu_model *src);
void ncp_emu_model_free(struct ncp_emu_model *m);

/* Free-form JSON object kept in the file's "config" metadata (how the
 * model was trained); NULL clears it.  0, -EINVAL (not a JSON object) or
 * -ENOMEM. */
int ncp_emu_model_set_config(struct ncp_emu_model *m, const char *json);
const char *ncp_emu_model_config(const struct ncp_emu_model *m);

const struct ncp_emu_spec *ncp_emu_model_spec(const struct ncp_emu_model *m);
enum ncp_emu_arch ncp_emu_model_arch(const struct ncp_emu_model *m);
const char *ncp_emu_model_arch_name(const struct ncp_emu_model *m);
int ncp_emu_model_window(const struct ncp_emu_model *m);
int ncp_emu_model_neurons(const struct ncp_emu_model *m);
int ncp_emu_model_stim_channels(const struct ncp_emu_model *m);
int ncp_emu_model_outputs(const struct ncp_emu_model *m);
int ncp_emu_model_horizon(const struct ncp_emu_model *m);
/* Inputs of the arm-state block: 2 J with the arm-state input, 2 J + 2
 * in the residual form, else 0. */
int ncp_emu_model_arm_inputs(const struct ncp_emu_model *m);
bool ncp_emu_model_residual(const struct ncp_emu_model *m);
/* Trainable parameters (weights and biases). */
size_t ncp_emu_model_params(const struct ncp_emu_model *m);
/* A 64-bit hash (FNV-1a) of the spec, weights and normalisations: equal
 * models hash equal.  Reads every weight: not for a hot path. */
uint64_t ncp_emu_model_checksum(const struct ncp_emu_model *m);
/* Bitwise equality of spec, weights and normalisations. */
bool ncp_emu_model_equal(const struct ncp_emu_model *a,
			 const struct ncp_emu_model *b);

/* ---- Inference ---------------------------------------------------------- */

struct ncp_emu_state;

/* A state for running m (which must outlive it).  Allocates everything it
 * will need; NULL on ENOMEM. */
struct ncp_emu_state *ncp_emu_state_new(const struct ncp_emu_model *m);
void ncp_emu_state_free(struct ncp_emu_state *s);
/* Forget the history (as a new state). */
void ncp_emu_state_reset(struct ncp_emu_state *s);
/* Point the state at another model with the same spec (after
 * ncp_emu_model_copy into a spare, say); the history is kept.  The next
 * prediction rebuilds the first layer's state from that history once (a
 * pass over every feature: see bench_emu's emu_swap).  0 or -EINVAL. */
int ncp_emu_state_set_model(struct ncp_emu_state *s,
			    const struct ncp_emu_model *m);

/* Whether the next ncp_emu_predict costs only the layers (false after
 * ncp_emu_state_set_model until the first layer's state is rebuilt). */
bool ncp_emu_state_ready(const struct ncp_emu_state *s);
/* Rebuild the first layer's state now if it must be (see
 * ncp_emu_state_set_model): a pass over the first layer's weights. */
void ncp_emu_state_prepare(struct ncp_emu_state *s);

/* Feed one step: the indices of the M1 neurons that spiked (ascending,
 * without repeats; indices >= neurons are ignored and counted) and the
 * stimulation values of nstim channels (NULL: none; channels past the
 * model's are ignored, missing ones are zero). */
void ncp_emu_push(struct ncp_emu_state *s, const uint32_t *spikes, int n,
		  const float *stim, int nstim);
/* For a model with the arm-state input: the arm's state after the latest
 * pushed step (2 J + 2 values as a recording's arm.npy row or the window
 * slot's observation has them: q (J), dq (J), hand; the first 2 J are
 * read, all of them in the residual form), the arm input of the next
 * pushed step.  Until it is given, and
 * for a non-finite value, that input is unknown and enters as its mean
 * (a standardised 0).  Ignored by models without the input. */
void ncp_emu_set_arm(struct ncp_emu_state *s, const float *arm);
/* The prediction for the latest pushed step t, in SI units: [q (J), dq
 * (J), hand_x, hand_y] of step t + the model's horizon (2 J + 2 values,
 * ncp_emu_model_outputs). */
void ncp_emu_predict(struct ncp_emu_state *s, float *out);
/* Steps pushed since creation or reset; spike indices ignored. */
uint64_t ncp_emu_state_steps(const struct ncp_emu_state *s);
uint64_t ncp_emu_state_bad_spikes(const struct ncp_emu_state *s);

#endif
