/* ncp_cpn: the co-processor network (CPN) and its training through a
 * stimulation emulator (docs/coprocessor.md; the file format is in
 * docs/model-format.md, "Co-processor models").
 *
 * What the CPN computes, every step (k = 1):
 *
 *   obs      R recording electrodes (Hz, ncp_reach_rec) then the S1 arm
 *            state q0, q1, dq0, dq1, hand_x, hand_y (rad, rad/s, m):
 *            NCP_CPN_OBS(R) = R + 6 floats, in that order.
 *   z        (obs - in_mean) / in_scale
 *   v        layers(z): hidden ReLU layers (possibly none), then linear to E
 *   a*       alpha_max tanh(v): the electrode current it asks for (E)
 *   theta    clamp(a* - d alpha, -stim_max, stim_max): the command that
 *            brings each electrode's current alpha to a* in one step
 *            (alpha = d alpha + theta, docs/stimulation.md)
 *
 * The state keeps alpha as the stimulation dynamics make it from the
 * thetas the CPN returned (clamped to stim_max, as the loop clamps it);
 * ncp_cpn_state_set_alpha resynchronises it with the loop's alpha when
 * another source drove the electrodes meanwhile.
 *
 * Training (ncp_cpn_trainer): a stimulation emulator (the EN) predicts
 * the hand's displacement H steps ahead from the observation and the
 * electrode currents alpha; the CPN is trained through the frozen EN so
 * that the predicted hand lands where a healthy arm would be (a linear
 * reference fitted on healthy reaches, ncp_cpn_ref); the EN is retrained
 * when it expires (docs/coprocessor.md, "Training").  Data: samples in an
 * ncp_cpn_data buffer, filled by the caller from simulations or the
 * daemon's replay of the loop.
 *
 * Inference (ncp_cpn_state_step) never allocates, locks or blocks.  A
 * model is read-only once loaded and may be shared by many states.
 */
#ifndef NCP_CPN_H
#define NCP_CPN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NCP_CPN_FORMAT "ncpd-cpn"
#define NCP_CPN_FORMAT_VERSION 1
#define NCP_CPN_ARM 6			/* arm-state entries of obs */
#define NCP_CPN_OBS(R) ((R) + NCP_CPN_ARM)
#define NCP_CPN_MAX_ELECTRODES 256	/* E and R */
#define NCP_CPN_MAX_HIDDEN 4
#define NCP_CPN_MAX_UNITS 4096
#define NCP_CPN_MAX_ENSEMBLE 16	/* ENs in the trainer's ensemble */

/* Everything that fixes a CPN's tensors and its use. */
struct ncp_cpn_spec {
	int electrodes;		/* E: outputs (stim.electrodes) */
	int rec;		/* R: recording electrodes (ncp.rec_electrodes) */
	double dt;		/* s per step */
	double decay;		/* alpha's decay per 10 ms (stim.decay, 0.7) */
	double stim_max;	/* the loop's bound on theta and alpha */
	double alpha_max;	/* a*'s bound, 0 < alpha_max <= stim_max */
	int nhidden;
	int hidden[NCP_CPN_MAX_HIDDEN];
};

/* What a loader checks a file against (the daemon's configuration). */
struct ncp_cpn_expect {
	int electrodes, rec;
	double dt, stim_max;
};

void ncp_cpn_spec_default(struct ncp_cpn_spec *s);
int ncp_cpn_spec_check(const struct ncp_cpn_spec *s, char *err, size_t errlen);

struct ncp_cpn_model;

/* New model: weights from seed (PyTorch Linear's uniform +-1/sqrt(fan_in)),
 * the last layer scaled by 0.01 so a new CPN stimulates little; identity
 * standardisation.  NULL with a message. */
struct ncp_cpn_model *ncp_cpn_model_new(const struct ncp_cpn_spec *s,
					uint64_t seed, char *err,
					size_t errlen);
/* Read and validate a CPN file; with ex (may be NULL) also check its E, R,
 * dt and stim_max against the daemon's (alpha_max must be within
 * ex->stim_max).  NULL with a message naming the file and the fault. */
struct ncp_cpn_model *ncp_cpn_model_load(const char *path,
					 const struct ncp_cpn_expect *ex,
					 char *err, size_t errlen);
struct ncp_cpn_model *ncp_cpn_model_parse(const void *buf, size_t len,
					  const char *name,
					  const struct ncp_cpn_expect *ex,
					  char *err, size_t errlen);
/* Check a model against ex: 0 or -EINVAL with a message. */
int ncp_cpn_model_check(const struct ncp_cpn_model *m,
			const struct ncp_cpn_expect *ex, char *err,
			size_t errlen);
/* Write atomically, read back and compare bit for bit.  0 or -errno with
 * a message. */
int ncp_cpn_model_save(const struct ncp_cpn_model *m, const char *path,
		       char *err, size_t errlen);
struct ncp_cpn_model *ncp_cpn_model_clone(const struct ncp_cpn_model *m);
/* Copy src's weights into dst (same spec; allocates nothing).  0/-EINVAL. */
int ncp_cpn_model_copy(struct ncp_cpn_model *dst,
		       const struct ncp_cpn_model *src);
/* The weights and biases of every layer, one vector (*n floats), to
 * read or change in place (tests). */
float *ncp_cpn_model_params(struct ncp_cpn_model *m, size_t *n);
/* Zero the output layer: the CPN asks for no current (a* = 0, the
 * electrodes decay) whatever it observes, until trained. */
void ncp_cpn_model_zero_output(struct ncp_cpn_model *m);
void ncp_cpn_model_free(struct ncp_cpn_model *m);
const struct ncp_cpn_spec *ncp_cpn_model_spec(const struct ncp_cpn_model *m);
bool ncp_cpn_model_equal(const struct ncp_cpn_model *a,
			 const struct ncp_cpn_model *b);
/* Whether its input standardisation was fitted (is not the identity of
 * a new model). */
bool ncp_cpn_model_has_norm(const struct ncp_cpn_model *m);
/* Whether every weight is finite. */
bool ncp_cpn_model_finite(const struct ncp_cpn_model *m);
/* Free-form JSON object kept in the file's "config" metadata. */
int ncp_cpn_model_set_config(struct ncp_cpn_model *m, const char *json);
const char *ncp_cpn_model_config(const struct ncp_cpn_model *m);

/* ---- Inference ---------------------------------------------------------- */

struct ncp_cpn_state;

/* Allocates everything a step needs; NULL on ENOMEM. */
struct ncp_cpn_state *ncp_cpn_state_new(const struct ncp_cpn_model *m);
void ncp_cpn_state_free(struct ncp_cpn_state *s);
/* alpha back to 0. */
void ncp_cpn_state_reset(struct ncp_cpn_state *s);
/* Another model of the same spec (a swap at a step boundary); alpha kept.
 * 0 or -EINVAL. */
int ncp_cpn_state_set_model(struct ncp_cpn_state *s,
			    const struct ncp_cpn_model *m);
/* The electrode currents as the loop has them (E values). */
void ncp_cpn_state_set_alpha(struct ncp_cpn_state *s, const float *alpha);
/* One step: obs (NCP_CPN_OBS(R) floats, above) in, theta (E) out, each
 * within +-stim_max; alpha advances by it.  A non-finite obs entry is
 * taken as its mean (standardised 0).  Never allocates. */
void ncp_cpn_state_step(struct ncp_cpn_state *s, const float *obs,
			float *theta);
/* The current a* asked for at the last step (E values). */
const float *ncp_cpn_state_target(const struct ncp_cpn_state *s);

/* ---- Training data ------------------------------------------------------ */

/* Where a sample's stimulation came from (the EN's data mix). */
enum ncp_cpn_src {
	NCP_CPN_SRC_CPN,	/* the current CPN */
	NCP_CPN_SRC_PERTURBED,	/* the CPN plus exploration noise */
	NCP_CPN_SRC_NOISE,	/* white-noise stimulation */
	NCP_CPN_SRC_COUNT,
};

/* Samples, one per sampled step t: what the CPN observed, the electrode
 * currents after step t, the target, and the arm state at t + H; and F
 * features of step t that the EN may read besides the CPN's observation
 * (F = 0 unless the data were made by ncp_cpn_data_init_feat). */
struct ncp_cpn_data {
	int R, E, F;
	size_t n, cap;
	uint64_t added;		/* samples ever added (the oldest drop when full) */
	float *obs;		/* n x NCP_CPN_OBS(R) */
	float *alpha;		/* n x E */
	float *target;		/* n x 2: the PMC's target at t (m) */
	float *future;		/* n x 6: the arm state after step t + H */
	uint8_t *src;		/* n: enum ncp_cpn_src */
	float *feat;		/* n x F (NULL when F = 0) */
};

/* Allocate room for cap samples.  0 or -ENOMEM. */
int ncp_cpn_data_init(struct ncp_cpn_data *d, int R, int E, size_t cap);
/* The same with F features per sample (ncp_cpn_data_add_feat). */
int ncp_cpn_data_init_feat(struct ncp_cpn_data *d, int R, int E, int F,
			   size_t cap);
void ncp_cpn_data_fini(struct ncp_cpn_data *d);
/* Append one sample (dropping the oldest when full). */
void ncp_cpn_data_add(struct ncp_cpn_data *d, const float *obs,
		      const float *alpha, const float target[2],
		      const float future[6], int src);
/* The same with the sample's F features (NULL: zeros). */
void ncp_cpn_data_add_feat(struct ncp_cpn_data *d, const float *obs,
			   const float *feat, const float *alpha,
			   const float target[2], const float future[6],
			   int src);

/* The healthy reference: where a healthy arm's hand is H steps after a
 * step, hand + A [x_des, dq, x_des |x_des|, q, 1] (x_des = target -
 * hand), fitted by least squares on healthy samples (future = the arm at
 * t + H). */
#define NCP_CPN_REF_X 9
struct ncp_cpn_ref {
	double A[2][NCP_CPN_REF_X];
	double r2;		/* of the displacement, on the fitted samples */
};
int ncp_cpn_ref_fit(struct ncp_cpn_ref *ref, const struct ncp_cpn_data *d);
/* The reference hand for sample i. */
void ncp_cpn_ref_hand(const struct ncp_cpn_ref *ref,
		      const struct ncp_cpn_data *d, size_t i, float out[2]);

/* ---- Training ----------------------------------------------------------- */

struct ncp_cpn_train_opts {
	int horizon;		/* H, steps */
	int en_hidden;		/* EN hidden units (one tanh layer) */
	double en_lr, cpn_lr;	/* Adam step sizes */
	double en_weight_decay, cpn_weight_decay;
	int batch;
	int en_epochs;		/* passes over the data when the EN is retrained */
	/* Caps on the work of one call, in minibatches (0: none): an EN
	 * training takes at most en_batches minibatches, a CPN epoch at most
	 * cpn_batches (drawn without repeats from the whole data). */
	int en_batches, cpn_batches;
	/* The CPN to deploy is a running average of the trained weights,
	 * avg += (1 - cpn_average) (w - avg) after every step (0: the trained
	 * weights themselves). */
	double cpn_average;
	/* Added to the task loss: act_penalty x mean over electrodes of
	 * (a* / alpha_max)^2 (m^2 per unit), a price on stimulating. */
	double act_penalty;
	/* Expiry (docs/coprocessor.md): the EN is retrained when its loss on
	 * the newest data exceeds en_loss_max (or its best loss x en_loss_rise),
	 * the task loss rose in rise_count of the last rise_window CPN epochs,
	 * or after max_cpn_epochs CPN epochs. */
	double en_loss_max, en_loss_rise;
	int rise_count, rise_window, max_cpn_epochs;
	/* Continue a trained CPN: ncp_cpn_trainer_fit_norm keeps the CPN's
	 * input standardisation (the EN reads the CPN's z through it) and fits
	 * the EN's output standardisation only, so that the trainer's CPN
	 * computes what the one it started from computed until a CPN epoch
	 * changes it. */
	bool keep_cpn_norm;
	/* The EN reads en_feat features of the data (ncp_cpn_data.F must
	 * match) between the CPN's observation and alpha; the CPN does not. */
	int en_feat;
	/* Anchor the task loss on what happened: the predicted hand is the
	 * sample's true displacement plus the EN's change from the sample's
	 * alpha to the CPN's a*, EN(a*) - EN(alpha), so that the EN's error
	 * at the sample cancels and only its predicted effect of the change
	 * counts. */
	bool anchor;
	/* An ensemble of en_ensemble ENs (0 or 1: one), each trained on the
	 * data from its own initial weights and shuffles; the CPN is trained
	 * against their mean prediction, plus en_disagree x the variance of
	 * their predictions about it (m^2 per m^2), so that it is not pulled
	 * where they disagree. */
	int en_ensemble;
	double en_disagree;
	uint64_t seed;
};
void ncp_cpn_train_opts_default(struct ncp_cpn_train_opts *o);

struct ncp_cpn_trainer;

/* A trainer for a copy of init.  NULL with a message.  One thread per
 * trainer; its calls allocate only when the data outgrow what an earlier
 * call saw (the shuffle order). */
struct ncp_cpn_trainer *ncp_cpn_trainer_new(const struct ncp_cpn_model *init,
					    const struct ncp_cpn_train_opts *o,
					    char *err, size_t errlen);
void ncp_cpn_trainer_free(struct ncp_cpn_trainer *t);
/* The healthy reference the task loss aims at (before any CPN step). */
void ncp_cpn_trainer_set_ref(struct ncp_cpn_trainer *t,
			     const struct ncp_cpn_ref *ref);
/* Standardisation from d (first call): the CPN's inputs (unless
 * keep_cpn_norm) and the EN's output. */
int ncp_cpn_trainer_fit_norm(struct ncp_cpn_trainer *t,
			     const struct ncp_cpn_data *d);
/* Retrain the EN on d (en_epochs passes).  *loss: its prediction loss
 * (standardised MSE) after.  -EDOM (EN put back) on a non-finite loss. */
int ncp_cpn_trainer_en_train(struct ncp_cpn_trainer *t,
			     const struct ncp_cpn_data *d, double *loss);
/* The EN's prediction loss on d's samples [from, n). */
double ncp_cpn_trainer_en_loss(struct ncp_cpn_trainer *t,
			       const struct ncp_cpn_data *d, size_t from);
/* One CPN epoch through the frozen EN on d (one pass in minibatches).
 * *loss: the task loss (m^2, mean over samples and both coordinates).
 * -EDOM (CPN put back) on a non-finite loss or gradient. */
int ncp_cpn_trainer_cpn_epoch(struct ncp_cpn_trainer *t,
			      const struct ncp_cpn_data *d, double *loss);
/* The task loss (as ncp_cpn_trainer_cpn_epoch's, without training) of
 * the CPN m (any of the trainer's spec, with its own standardisation) on
 * d's samples [from, n), through the trainer's EN and reference: to
 * compare two CPNs on the same samples.  NaN before the EN's
 * standardisation, for an empty range or another spec. */
double ncp_cpn_trainer_task_loss(struct ncp_cpn_trainer *t,
				 const struct ncp_cpn_model *m,
				 const struct ncp_cpn_data *d, size_t from);
/* Whether the EN has expired by the rule above, given its loss on the
 * newest data (ncp_cpn_trainer_en_loss); resets the counters when true. */
bool ncp_cpn_trainer_en_expired(struct ncp_cpn_trainer *t, double en_loss);
/* The CPN to deploy, to copy out (ncp_cpn_model_copy) or save: the
 * running average of the trained weights when cpn_average > 0, else the
 * trained weights.  The pointer stays valid as long as the trainer. */
const struct ncp_cpn_model *ncp_cpn_trainer_model(const struct ncp_cpn_trainer *t);
uint64_t ncp_cpn_trainer_cpn_epochs(const struct ncp_cpn_trainer *t);
uint64_t ncp_cpn_trainer_en_trainings(const struct ncp_cpn_trainer *t);
/* The EN's predicted hand displacement at H for one sample with the given
 * features (en_feat values; NULL: zeros) and alpha (E), for diagnostics. */
void ncp_cpn_trainer_en_predict(struct ncp_cpn_trainer *t, const float *obs,
				const float *feat, const float *alpha,
				float out[2]);

#endif
