/* ncp_trainer: trains an emulator model on a dataset's rows.
 *
 * The trainer owns a working copy of a model and trains it in place:
 * minibatch backpropagation with Adam on a masked mean squared error (NaN
 * targets count as zero error, as NengoDL's nan_mse; the mean is over all
 * batch x 6 elements) of the standardised outputs, or, for the ridge
 * architectures, a closed-form ridge regression.  Batches go through
 * OpenBLAS sgemm; everything else is single-threaded and in a fixed order,
 * so the same dataset, rows, initial model and OpenBLAS thread count give
 * the same weights, bit for bit.
 *
 * Inputs are computed per batch from the dataset's spike lists with the
 * same code the inference path runs (ncp_feat, ncp_emu's standardisation),
 * so a trained model sees at inference exactly the features it was trained
 * on.  Running-mode features come from checkpoints of the running filters
 * every `window` steps, computed once when the trainer is created.
 *
 * ncp-train drives it over recordings; the daemon's online trainer can
 * drive it over a replay buffer: ncp_trainer_step for one minibatch,
 * ncp_trainer_loss for the validation loss, ncp_trainer_export to copy the
 * weights into an inference model.  One thread per trainer.
 */
#ifndef NCP_TRAINER_H
#define NCP_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/emu/ncp_emu.h"

struct ncp_dataset;

struct ncp_trainer_opts {
	double lr;		/* Adam step size */
	double beta1, beta2, eps;
	double weight_decay;	/* L2 on weights (not biases), added to the gradient */
	int batch;		/* largest minibatch */
	/* Called now and then during long preparations (may be NULL). */
	void (*progress)(void *ctx, const char *what, double done);
	void *progress_ctx;
};

/* lr 1e-3, betas 0.9 and 0.999, eps 1e-8, no weight decay, batch 256. */
void ncp_trainer_opts_default(struct ncp_trainer_opts *o);

struct ncp_trainer;

/* A trainer for a copy of `init` on ds (which must outlive it; its neurons
 * and stimulation channels must match the model's).  NULL with a message. */
struct ncp_trainer *ncp_trainer_new(const struct ncp_emu_model *init,
				    const struct ncp_dataset *ds,
				    const struct ncp_trainer_opts *o, char *err,
				    size_t errlen);
void ncp_trainer_free(struct ncp_trainer *t);

/* Input and output normalisation from rows (docs/model-format.md): each
 * standardised feature's mean and scale, the scale floored per group (the
 * features of one time constant, spikes and stimulation apart): a neuron
 * feature's at floor_frac times its group's median scale, a stimulation
 * feature's at the median scale of its group's channels that vary; a
 * scale that is still 0 becomes 1.  The outputs' mean and standard
 * deviation (NaN skipped).  0 or -errno. */
int ncp_trainer_fit_norm(struct ncp_trainer *t, const uint64_t *rows,
			 size_t n, double floor_frac);

/* Raise each output's scale to at least floor[o] (a model fitted on a few
 * seconds of an arm at rest would otherwise blow up every error later by
 * the small scale it saw). */
void ncp_trainer_floor_outputs(struct ncp_trainer *t,
			       const float *floor);

/* Raise each spike feature's scale to at least that of a neuron firing
 * as a Poisson process at rate_hz through its filter, sqrt(rate_hz / (2
 * tau)), so that a neuron silent in the data the normalisation saw cannot
 * later feed inputs hundreds of scales large. */
void ncp_trainer_floor_inputs(struct ncp_trainer *t, double rate_hz);

/* After steps were appended to the dataset (an online replay buffer):
 * bring the running filters' checkpoints up to its end, so its new rows
 * can be trained on.  Only the new steps are filtered.  0 or -ENOMEM. */
int ncp_trainer_sync(struct ncp_trainer *t);

/* Room for the running filters' checkpoints of a dataset of up to `rows`
 * rows (one every window steps of a segment), allocated and written now:
 * syncing within it never allocates.  0 or -ENOMEM. */
int ncp_trainer_reserve(struct ncp_trainer *t, uint64_t rows);
/* Drop at least `rows` of the oldest rows of ds (the trainer's dataset,
 * ncp_dataset_drop_front), keeping the running filters continuous: the
 * cut moves up to the next checkpoint of its segment (fewer than window
 * rows more; a segment left shorter than that goes whole) and the state
 * there becomes the new first segment's starting state, so its first rows
 * have the features they had.  Checkpoints are moved, not recomputed.
 * Returns the rows dropped. */
uint64_t ncp_trainer_drop_rows(struct ncp_trainer *t, struct ncp_dataset *ds,
			       uint64_t rows);
/* Bytes allocated for the checkpoints. */
size_t ncp_trainer_ckpt_bytes(const struct ncp_trainer *t);

/* One Adam step on the rows (n <= batch).  *loss: the batch's loss before
 * the step.  -EDOM, weights untouched, when the loss or a gradient is not
 * finite. */
int ncp_trainer_step(struct ncp_trainer *t, const uint64_t *rows, int n,
		     double *loss);
/* Set the step size for the following steps (a schedule). */
void ncp_trainer_set_lr(struct ncp_trainer *t, double lr);
/* The loss over rows (any number), without training. */
int ncp_trainer_loss(struct ncp_trainer *t, const uint64_t *rows, size_t n,
		     double *loss);
/* Predictions for rows in SI units (n x 6). */
int ncp_trainer_predict(struct ncp_trainer *t, const uint64_t *rows, size_t n,
			float *out);
/* Loss and gradients of rows (n <= batch), without a step; the gradients
 * are read with ncp_trainer_param. */
int ncp_trainer_gradient(struct ncp_trainer *t, const uint64_t *rows, int n,
			 double *loss);

/* Parameter tensors, for tests and diagnostics: the dense architecture's
 * layers.0.weight is two parameters here (spike inputs, stimulation
 * inputs). */
struct ncp_trainer_param {
	const char *name;
	float *value;
	const float *grad;
	size_t count;
};
int ncp_trainer_nparams(const struct ncp_trainer *t);
void ncp_trainer_param(struct ncp_trainer *t, int i,
		       struct ncp_trainer_param *p);

/* The model being trained, to read its weights (valid until the next
 * step).  Not for inference: run an exported copy. */
const struct ncp_emu_model *ncp_trainer_model(const struct ncp_trainer *t);
/* Copy the weights into dst (same spec; allocates nothing), ready for
 * inference. */
int ncp_trainer_export(const struct ncp_trainer *t, struct ncp_emu_model *dst);
/* Replace the weights by src's (same spec), e.g. the best so far; the Adam
 * state is kept. */
int ncp_trainer_import(struct ncp_trainer *t, const struct ncp_emu_model *src);
/* Adam steps taken. */
uint64_t ncp_trainer_updates(const struct ncp_trainer *t);
/* Carry src's optimiser over into dst (a trainer of the same
 * architecture on other data): Adam's
 * moment estimates and step count, so that training goes on where it
 * was.  -EINVAL when the parameters do not match (nothing changed). */
int ncp_trainer_take_optimizer(struct ncp_trainer *dst,
			       const struct ncp_trainer *src);

/* ---- Ridge (closed form) ----------------------------------------------- */

#define NCP_RIDGE_MAX_LAMBDAS 32

struct ncp_ridge_report {
	int nlambda;
	double lambdas[NCP_RIDGE_MAX_LAMBDAS];
	/* validation MSE (standardised) for each lambda and output */
	double val_mse[NCP_RIDGE_MAX_LAMBDAS][NCP_EMU_MAX_OUTPUTS];
	double chosen[NCP_EMU_MAX_OUTPUTS];	/* lambda per output */
	uint64_t rows;			/* training rows used */
};

/* Fit a linear model (ridge, ridge-running) in closed form on the train
 * rows: weights minimise |X w + b - y|^2 / n + lambda |w|^2 over the
 * standardised features X and outputs y, with lambda chosen per output
 * on the val rows from a grid (1e-5 to 10, half decades) or the first
 * lambda when there are no val rows.  Rows with a NaN target are
 * skipped.  0 or -errno with a message. */
int ncp_trainer_fit_ridge(struct ncp_trainer *t, const uint64_t *train,
			  size_t ntrain, const uint64_t *val, size_t nval,
			  struct ncp_ridge_report *rep, char *err,
			  size_t errlen);

#endif
