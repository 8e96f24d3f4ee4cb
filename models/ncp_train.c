/* ncp-train: trains an emulator model on recordings, or evaluates one.
 *
 *   ncp-train --data DIR [DIR...] --out FILE.safetensors [options]
 *   ncp-train --eval MODEL --data DIR [DIR...] [--json]
 *
 * Architectures and the file format: docs/model-format.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "daemon/ncp_recovery.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_blas.h"
#include "models/base/ncp_hist.h"
#include "models/base/ncp_json.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_dataset.h"
#include "models/emu/ncp_emu.h"
#include "models/emu/ncp_score.h"
#include "models/emu/ncp_trainer.h"
#include "models/io/ncp_file.h"
#include "models/io/ncp_recording.h"

#define MAX_DATA 64

/* Per-architecture defaults (docs/model-format.md says why). */
struct arch_defaults {
	int epochs;
	int stride;
	double lr;
	double weight_decay;
};

static const struct arch_defaults defaults[NCP_EMU_ARCH_COUNT] = {
	[NCP_EMU_RIDGE] = {0, 2, 0, 0},
	[NCP_EMU_RIDGE_RUNNING] = {0, 2, 0, 0},
	[NCP_EMU_MLP] = {60, 8, 1e-3, 0},
	[NCP_EMU_MLP_RUNNING] = {60, 8, 1e-3, 0},
	[NCP_EMU_DENSE] = {10, 8, 1e-3, 0},
};

struct opts {
	const char *data[MAX_DATA];
	int ndata;
	const char *out;
	const char *eval;
	enum ncp_emu_arch arch;
	int epochs;		/* -1: the arch's default */
	double lr;		/* < 0: default */
	int batch;
	double val_split;
	double block_s;
	int stride;		/* 0: default */
	uint64_t seed;
	int threads;
	int nhidden;		/* -1: default */
	int hidden[NCP_EMU_MAX_HIDDEN];
	int stim;
	int horizon;		/* steps ahead of the window's end */
	bool arm_input;		/* the arm-state input (opt-in) */
	bool residual;		/* ... predicting the change from it */
	double floor_frac;
	double weight_decay;	/* < 0: default */
	bool json;
	bool quiet;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: ncp-train --data DIR [DIR...] --out FILE.safetensors [OPTIONS]\n"
"  or:  ncp-train --eval MODEL --data DIR [DIR...] [--json]\n"
"  or:  ncp-train --cpn [--data DIR [DIR...]] [OPTIONS]  (ncp-train --cpn --help)\n"
"Train the emulator network on recordings (DIR: a recording directory,\n"
"DATA_DIR/NAME with meta.json, m1.npy, arm.npy, target.npy), or evaluate a\n"
"model on recordings.\n"
"\n"
"  --arch NAME        ridge, ridge-running, mlp, mlp-running, dense\n"
"                     (default %s)\n"
"  --epochs N         passes over the training rows (default: mlp 60,\n"
"                     dense 10; ridge is solved in closed form)\n"
"  --lr X             Adam step size, cosine-decayed to X/20 (default 1e-3)\n"
"  --batch N          minibatch rows (default 256)\n"
"  --val-split F      share of the data held out for validation, by blocks\n"
"                     of time (default 0.1)\n"
"  --block SECONDS    length of those blocks (default 10)\n"
"  --stride N         an epoch uses every N-th step (a new phase each epoch;\n"
"                     neighbouring steps are nearly the same; default 8,\n"
"                     ridge 2)\n"
"  --hidden A,B,...   hidden layer sizes (default mlp 256,256; dense 128,128)\n"
"  --stim-channels N  stimulation channels in the model's input (default 32);\n"
"                     a recording's stim.npy (theta per electrode) feeds the\n"
"                     first ones\n"
"  --horizon N        predict the arm state N steps after the window's last\n"
"                     step (default 0)\n"
"  --arm-input        give the model the arm's q and dq after the step before\n"
"                     (S1's arm state) next to M1; off by default: the\n"
"                     predicted arm is then M1's, not the arm's own state\n"
"                     (ridge*, mlp*; docs/model-format.md)\n"
"  --residual         the residual form: the arm input is the whole arm state\n"
"                     (q, dq, hand) and the model predicts its change, the\n"
"                     outputs being that state plus the layers' output\n"
"                     (implies --arm-input)\n"
"  --floor F          input scale floor: F x the median scale of the\n"
"                     feature's group (default 8)\n"
"  --weight-decay X   L2 on the weights (default 0)\n"
"  --seed N           initial weights and batch order (default 0)\n"
"  --threads N        OpenBLAS threads (default 1)\n"
"  --json             print the final report as one JSON object\n"
"  --quiet            no progress\n"
"  --help             this text\n"
"\n"
"Training writes, next to the model, its history: MODEL.history.jsonl\n"
"(FILE without .safetensors), one JSON object per line, one per epoch\n"
"(docs/file-formats.md); ncp-plot draws it.\n"
"\n"
"The same data, options, seed and threads give the same model, bit for\n"
"bit.  Exit status: 0 on success, 1 on failure, 2 for bad arguments.\n",
		ncp_emu_arch_name(NCP_EMU_ARCH_DEFAULT));
}

static int bad_arg(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "ncp-train: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (ncp-train --help)\n");
	return 2;
}

static bool parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < lo || v > hi)
		return false;
	*out = (int)v;
	return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v >= lo && v <= hi))
		return false;
	*out = v;
	return true;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	enum { O_DATA = 256, O_OUT, O_EVAL, O_ARCH, O_EPOCHS, O_LR, O_BATCH,
	       O_VAL, O_BLOCK, O_STRIDE, O_SEED, O_THREADS, O_HIDDEN, O_STIM,
	       O_FLOOR, O_WD, O_HORIZON, O_ARM, O_RESIDUAL, O_JSON, O_QUIET, O_HELP };
	static const struct option lo[] = {
		{"data", required_argument, NULL, O_DATA},
		{"out", required_argument, NULL, O_OUT},
		{"eval", required_argument, NULL, O_EVAL},
		{"arch", required_argument, NULL, O_ARCH},
		{"epochs", required_argument, NULL, O_EPOCHS},
		{"lr", required_argument, NULL, O_LR},
		{"batch", required_argument, NULL, O_BATCH},
		{"val-split", required_argument, NULL, O_VAL},
		{"block", required_argument, NULL, O_BLOCK},
		{"stride", required_argument, NULL, O_STRIDE},
		{"seed", required_argument, NULL, O_SEED},
		{"threads", required_argument, NULL, O_THREADS},
		{"hidden", required_argument, NULL, O_HIDDEN},
		{"stim-channels", required_argument, NULL, O_STIM},
		{"floor", required_argument, NULL, O_FLOOR},
		{"weight-decay", required_argument, NULL, O_WD},
		{"horizon", required_argument, NULL, O_HORIZON},
		{"arm-input", no_argument, NULL, O_ARM},
		{"residual", no_argument, NULL, O_RESIDUAL},
		{"json", no_argument, NULL, O_JSON},
		{"quiet", no_argument, NULL, O_QUIET},
		{"help", no_argument, NULL, O_HELP},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->arch = NCP_EMU_ARCH_DEFAULT;
	o->epochs = -1;
	o->lr = -1;
	o->batch = 256;
	o->val_split = 0.1;
	o->block_s = 10;
	o->threads = 1;
	o->nhidden = -1;
	o->stim = 32;
	o->floor_frac = 8.0;
	o->weight_decay = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+", lo, NULL)) != -1) {
		switch (c) {
		case O_DATA:
			/* --data takes every following argument up to the next
			 * option. */
			optind--;
			while (optind < argc && argv[optind][0] != '-') {
				if (o->ndata == MAX_DATA)
					return bad_arg("at most %d recordings", MAX_DATA);
				o->data[o->ndata++] = argv[optind++];
			}
			break;
		case O_OUT:
			o->out = optarg;
			break;
		case O_EVAL:
			o->eval = optarg;
			break;
		case O_ARCH:
			if (ncp_emu_arch_parse(optarg, &o->arch))
				return bad_arg("unknown architecture '%s' (ridge, ridge-running, mlp, mlp-running, dense)",
					       optarg);
			break;
		case O_EPOCHS:
			if (!parse_int(optarg, 1, 100000, &o->epochs))
				return bad_arg("--epochs takes an integer from 1 to 100000");
			break;
		case O_LR:
			if (!parse_double(optarg, 1e-9, 10, &o->lr))
				return bad_arg("--lr takes a number in [1e-9, 10]");
			break;
		case O_BATCH:
			if (!parse_int(optarg, 1, 65536, &o->batch))
				return bad_arg("--batch takes an integer from 1 to 65536");
			break;
		case O_VAL:
			if (!parse_double(optarg, 0, 0.9, &o->val_split))
				return bad_arg("--val-split takes a number in [0, 0.9]");
			break;
		case O_BLOCK:
			if (!parse_double(optarg, 0.1, 1e6, &o->block_s))
				return bad_arg("--block takes seconds in [0.1, 1e6]");
			break;
		case O_STRIDE:
			if (!parse_int(optarg, 1, 100000, &o->stride))
				return bad_arg("--stride takes an integer from 1 to 100000");
			break;
		case O_SEED: {
			char *end;
			errno = 0;
			o->seed = strtoull(optarg, &end, 10);
			if (!*optarg || *end || errno || optarg[0] == '-')
				return bad_arg("--seed takes an unsigned integer");
			break;
		}
		case O_THREADS:
			if (!parse_int(optarg, 1, 256, &o->threads))
				return bad_arg("--threads takes an integer from 1 to 256");
			break;
		case O_HIDDEN: {
			char *s = optarg;
			o->nhidden = 0;
			while (*s) {
				char *end;
				long v;
				if (o->nhidden == NCP_EMU_MAX_HIDDEN)
					return bad_arg("--hidden: at most %d layers", NCP_EMU_MAX_HIDDEN);
				errno = 0;
				v = strtol(s, &end, 10);
				if (end == s || errno || v < 1 || v > NCP_EMU_MAX_UNITS ||
				    (*end && *end != ','))
					return bad_arg("--hidden takes sizes like 256,256");
				o->hidden[o->nhidden++] = (int)v;
				s = *end ? end + 1 : end;
			}
			break;
		}
		case O_STIM:
			if (!parse_int(optarg, 0, NCP_FEAT_MAX_STIM, &o->stim))
				return bad_arg("--stim-channels takes an integer from 0 to %d",
					       NCP_FEAT_MAX_STIM);
			break;
		case O_FLOOR:
			if (!parse_double(optarg, 0, 100, &o->floor_frac))
				return bad_arg("--floor takes a number in [0, 100]");
			break;
		case O_WD:
			if (!parse_double(optarg, 0, 10, &o->weight_decay))
				return bad_arg("--weight-decay takes a number in [0, 10]");
			break;
		case O_HORIZON:
			if (!parse_int(optarg, 0, NCP_EMU_MAX_HORIZON, &o->horizon))
				return bad_arg("--horizon takes steps from 0 to %d",
					       NCP_EMU_MAX_HORIZON);
			break;
		case O_ARM:
			o->arm_input = true;
			break;
		case O_RESIDUAL:
			o->arm_input = o->residual = true;
			break;
		case O_JSON:
			o->json = true;
			break;
		case O_QUIET:
			o->quiet = true;
			break;
		case O_HELP:
			usage(stdout);
			exit(0);
		default:
			return bad_arg("unknown or incomplete option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_arg("unexpected argument '%s'", argv[optind]);
	if (o->ndata == 0)
		return bad_arg("--data DIR is required");
	if (!o->eval && !o->out)
		return bad_arg("--out FILE (to train) or --eval MODEL is required");
	if (o->eval && o->out)
		return bad_arg("--eval and --out exclude each other");
	if (o->eval && o->arm_input)
		return bad_arg("%s is for training; --eval runs the model as its file says",
			       o->residual ? "--residual" : "--arm-input");
	if (o->arm_input && o->arch == NCP_EMU_DENSE)
		return bad_arg("%s is for ridge, ridge-running, mlp and mlp-running, not dense",
			       o->residual ? "--residual" : "--arm-input");
	return 0;
}

/* ---- Progress ----------------------------------------------------------- */

struct progress {
	bool tty, quiet;
	double t0;
	int last_len;
};

static double now_s(void)
{
	return (double)ncp_now_ns() * 1e-9;
}

static void fmt_dur(char *b, size_t n, double s)
{
	if (!isfinite(s) || s < 0)
		snprintf(b, n, "?");
	else if (s < 60)
		snprintf(b, n, "%.0fs", s);
	else if (s < 3600)
		snprintf(b, n, "%dm%02ds", (int)s / 60, (int)s % 60);
	else
		snprintf(b, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* A status line: redrawn in place on a terminal, else printed when final. */
static void status(struct progress *p, bool final, const char *fmt, ...)
	NCP_PRINTF(3, 4);
static void status(struct progress *p, bool final, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (p->quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (p->tty) {
		int len = (int)strlen(line);
		fprintf(stderr, "\r%s%*s", line, p->last_len > len ? p->last_len - len : 0, "");
		p->last_len = len;
		if (final) {
			fputc('\n', stderr);
			p->last_len = 0;
		}
	} else if (final) {
		fprintf(stderr, "%s\n", line);
	}
	fflush(stderr);
}

static void prep_progress(void *ctx, const char *what, double done)
{
	struct progress *p = ctx;
	static double last;
	double t = now_s();

	if (!p->tty || t - last < 0.2)
		return;
	last = t;
	status(p, false, "%s: %3.0f%%", what, 100 * done);
}

static void bar(char *b, int width, double frac)
{
	int k = (int)(frac * width + 0.5);
	for (int i = 0; i < width; i++)
		b[i] = i < k ? '#' : '.';
	b[width] = 0;
}

/* ---- Data --------------------------------------------------------------- */

struct data {
	struct ncp_recording *rec[MAX_DATA];
	int n;
	int window, neurons;
	double dt;
};

static void data_close(struct data *d)
{
	for (int i = 0; i < d->n; i++)
		ncp_recording_close(d->rec[i]);
	d->n = 0;
}

static int data_open(struct data *d, const struct opts *o)
{
	char err[1024];

	memset(d, 0, sizeof(*d));
	for (int i = 0; i < o->ndata; i++) {
		struct ncp_recording *r = ncp_recording_open(o->data[i], err, sizeof(err));
		if (!r) {
			fprintf(stderr, "ncp-train: %s\n", err);
			return -1;
		}
		d->rec[d->n++] = r;
		if (i == 0) {
			d->window = r->window;
			d->neurons = r->neurons;
			d->dt = r->dt;
			continue;
		}
		if (r->neurons != d->neurons || r->window != d->window || r->dt != d->dt) {
			fprintf(stderr,
				"ncp-train: %s: %d M1 neurons, window %d, dt %g; %s has %d, %d, %g: recordings of one model must agree\n",
				r->dir, r->neurons, r->window, r->dt, d->rec[0]->dir,
				d->neurons, d->window, d->dt);
			return -1;
		}
	}
	return 0;
}

/* ---- Evaluation --------------------------------------------------------- */

static void print_score(FILE *f, const struct ncp_score *s)
{
	fprintf(f, "  %-7s %12s %10s\n", "output", "RMSE", "R^2");
	for (int o = 0; o < s->nout; o++)
		fprintf(f, "  %-7s %9.5f %-5s %8.5f\n",
			ncp_emu_output_name(s->joints, o), ncp_score_rmse(s, o),
			ncp_emu_output_unit(s->joints, o), ncp_score_r2(s, o));
	fprintf(f, "  hand RMSE %.5f m (Euclidean), q RMSE %.5f rad, dq RMSE %.5f rad/s, min R^2 %.5f\n",
		ncp_score_hand_rmse(s), ncp_score_pair_rmse(s, 0),
		ncp_score_pair_rmse(s, 1), ncp_score_min_r2(s));
}

static int run_eval(const struct opts *o)
{
	struct ncp_emu_model *m;
	struct ncp_emu_state *st = NULL;
	struct ncp_score sc;
	struct ncp_hist *h = calloc(1, sizeof(*h));
	struct data d;
	uint32_t *idx = NULL;
	char err[1024];
	int ret = 1, hz;

	openblas_set_num_threads(1);
	m = ncp_emu_model_load(o->eval, err, sizeof(err));
	if (!m) {
		fprintf(stderr, "ncp-train: %s\n", err);
		free(h);
		return 1;
	}
	if (data_open(&d, o) || !h)
		goto out;
	if (d.neurons != ncp_emu_model_neurons(m)) {
		fprintf(stderr, "ncp-train: %s has %d M1 neurons, the model %s %d\n",
			d.rec[0]->dir, d.neurons, o->eval, ncp_emu_model_neurons(m));
		goto out;
	}
	if (d.rec[0]->joints != ncp_emu_spec_joints(ncp_emu_model_spec(m))) {
		fprintf(stderr, "ncp-train: %s is of an arm of %d links, the model "
			"%s predicts one of %d\n", d.rec[0]->dir, d.rec[0]->joints,
			o->eval, ncp_emu_spec_joints(ncp_emu_model_spec(m)));
		goto out;
	}
	if (d.dt != ncp_emu_model_spec(m)->dt) {
		fprintf(stderr, "ncp-train: %s has dt %g, the model %s %g\n",
			d.rec[0]->dir, d.dt, o->eval, ncp_emu_model_spec(m)->dt);
		goto out;
	}
	if (d.window != ncp_emu_model_window(m))
		fprintf(stderr,
			"ncp-train: note: %s was recorded with a window of %d steps, the model %s has %d (it keeps its own history; scoring starts at its first full window)\n",
			d.rec[0]->dir, d.window, o->eval, ncp_emu_model_window(m));
	hz = ncp_emu_model_horizon(m);
	for (int i = 0; i < d.n; i++)
		if (d.rec[i]->stim_channels > ncp_emu_model_stim_channels(m)) {
			fprintf(stderr, "ncp-train: %s has %d stimulation electrodes, the model %s only %d channels\n",
				d.rec[i]->dir, d.rec[i]->stim_channels, o->eval,
				ncp_emu_model_stim_channels(m));
			goto out;
		}
	st = ncp_emu_state_new(m);
	idx = malloc((size_t)d.neurons * sizeof(uint32_t));
	if (!st || !idx) {
		fprintf(stderr, "ncp-train: out of memory\n");
		goto out;
	}
	ncp_score_init(&sc, ncp_emu_spec_joints(ncp_emu_model_spec(m)));
	ncp_hist_reset(h);
	/* Every step through the inference path, as the daemon runs it,
	 * with the recording's stimulation; scored once the model's window is
	 * full, against the arm `horizon` steps later (while the recording
	 * has it). */
	for (int i = 0; i < d.n; i++) {
		const struct ncp_recording *r = d.rec[i];
		float stim[NCP_FEAT_MAX_STIM];
		int nstim = r->stim ? r->stim_channels : 0;
		ncp_emu_state_reset(st);
		for (uint64_t s = 0; s < r->steps; s++) {
			float pred[NCP_EMU_MAX_OUTPUTS];
			int n = ncp_recording_spikes(r, s, idx);
			ncp_recording_stim(r, s, stim);
			uint64_t t0 = ncp_now_ns();
			ncp_emu_push(st, idx, n, nstim ? stim : NULL, nstim);
			ncp_emu_predict(st, pred);
			ncp_hist_add(h, ncp_now_ns() - t0);
			/* The arm after step s: the arm input of step s + 1
			 * (models with that input; a dropped step's NaN row
			 * leaves it unknown). */
			ncp_emu_set_arm(st, r->arm + s * (uint64_t)ncp_emu_model_outputs(m));
			if (s + 1 >= (uint64_t)ncp_emu_model_window(m) &&
			    s + (uint64_t)hz < r->steps)
				ncp_score_add(&sc, pred, r->arm + (s + (uint64_t)hz) *
						    (uint64_t)ncp_emu_model_outputs(m));
		}
	}
	double q[3] = {0.5, 0.99, 0.999}, us[3];
	ncp_hist_quantiles_us(h, q, 3, us);
	if (o->json) {
		struct ncp_json j;
		ncp_json_init(&j);
		ncp_json_obj(&j);
		ncp_json_key(&j, "model");
		ncp_json_str(&j, o->eval);
		ncp_json_key(&j, "arch");
		ncp_json_str(&j, ncp_emu_model_arch_name(m));
		ncp_json_key(&j, "horizon");
		ncp_json_int(&j, hz);
		ncp_json_key(&j, "arm_input");
		ncp_json_bool(&j, ncp_emu_model_arm_inputs(m) > 0);
		ncp_json_key(&j, "residual");
		ncp_json_bool(&j, ncp_emu_model_residual(m));
		ncp_json_key(&j, "data");
		ncp_json_arr(&j);
		for (int i = 0; i < d.n; i++)
			ncp_json_str(&j, d.rec[i]->dir);
		ncp_json_end(&j);
		ncp_json_key(&j, "score");
		ncp_score_json(&sc, &j);
		ncp_json_key(&j, "step_us");
		ncp_json_obj(&j);
		ncp_json_key(&j, "mean");
		ncp_json_num(&j, h->count ? (double)h->sum_ns / (double)h->count / 1000.0 : 0.0);
		ncp_json_key(&j, "p50");
		ncp_json_num(&j, us[0]);
		ncp_json_key(&j, "p99");
		ncp_json_num(&j, us[1]);
		ncp_json_key(&j, "p999");
		ncp_json_num(&j, us[2]);
		ncp_json_end(&j);
		ncp_json_end(&j);
		if (ncp_json_finish(&j) == 0)
			printf("%s\n", j.buf);
		ncp_json_fini(&j);
	} else {
		printf("%s (%s, horizon %d%s) on", o->eval, ncp_emu_model_arch_name(m), hz,
		       ncp_emu_model_residual(m) ? ", residual on the arm state" :
		       ncp_emu_model_arm_inputs(m) ? ", arm-state input" : "");
		for (int i = 0; i < d.n; i++)
			printf(" %s", d.rec[i]->dir);
		printf(": %" PRIu64 " steps scored\n", sc.n[0]);
		print_score(stdout, &sc);
		printf("  push+predict per step: mean %.1f us, p50 %.0f us, p99 %.0f us\n",
		       h->count ? (double)h->sum_ns / (double)h->count / 1000.0 : 0.0,
		       us[0], us[1]);
	}
	ret = 0;
out:
	free(idx);
	free(h);
	ncp_emu_state_free(st);
	data_close(&d);
	ncp_emu_model_free(m);
	return ret;
}

/* ---- Training history ---------------------------------------------------- */

/* The history file next to the model (docs/file-formats.md): JSON lines,
 * kept in memory while training and written with the model. */
struct history {
	char *buf;
	size_t len, cap;
	int err;	/* first error, 0 if none */
};

/* Appends the finished object j as one line and releases j. */
static void history_add(struct history *h, struct ncp_json *j)
{
	int r = ncp_json_finish(j);
	if (!r && !h->err) {
		size_t need = h->len + j->len + 2;
		if (need > h->cap) {
			size_t cap = NCP_MAX(need, 2 * h->cap);
			char *b = realloc(h->buf, cap);
			if (!b)
				r = -ENOMEM;
			else {
				h->buf = b;
				h->cap = cap;
			}
		}
		if (!r) {
			memcpy(h->buf + h->len, j->buf, j->len);
			h->len += j->len;
			h->buf[h->len++] = '\n';
		}
	}
	if (r && !h->err)
		h->err = r;
	ncp_json_fini(j);
}

/* MODEL.safetensors -> MODEL.history.jsonl (any other name gets the
 * suffix appended).  NULL when out of memory. */
static char *history_path(const char *model)
{
	static const char ext[] = ".safetensors", suffix[] = ".history.jsonl";
	size_t n = strlen(model), e = sizeof(ext) - 1;
	char *p;

	if (n > e && strcmp(model + n - e, ext) == 0)
		n -= e;
	p = malloc(n + sizeof(suffix));
	if (p) {
		memcpy(p, model, n);
		memcpy(p + n, suffix, sizeof(suffix));
	}
	return p;
}

/* ---- Training ----------------------------------------------------------- */

static void shuffle(uint64_t *a, size_t n, struct ncp_rng *rng)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)ncp_rng_below(rng, i);
		uint64_t t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* Every k-th row of rows (from phase). */
static size_t subsample(const uint64_t *rows, size_t n, int k, int phase,
			uint64_t *out)
{
	size_t m = 0;
	for (size_t i = (size_t)phase; i < n; i += (size_t)k)
		out[m++] = rows[i];
	return m;
}

static int run_train(const struct opts *o)
{
	ncp_fp_flush_denormals();	/* before any thread of its own starts */
	const struct arch_defaults *ad = &defaults[o->arch];
	struct progress pg = {.tty = isatty(2), .quiet = o->quiet};
	struct ncp_emu_spec spec;
	struct ncp_emu_model *init = NULL, *best = NULL;
	struct ncp_trainer *tr = NULL;
	struct ncp_trainer_opts to;
	struct ncp_dataset *ds = NULL;
	struct ncp_dataset_split_opts so;
	struct ncp_ridge_report rr;
	struct ncp_score sc;
	struct ncp_rng rng;
	struct history hist = {0};
	struct data d;
	char *hpath = NULL;
	uint64_t *train = NULL, *val = NULL, *ep = NULL, *vsub = NULL;
	size_t ntrain = 0, nval = 0, nvsub = 0;
	float *pred = NULL;
	char err[1024];
	int ret = 1, epochs = o->epochs > 0 ? o->epochs : ad->epochs;
	int stride = o->stride ? o->stride : ad->stride, best_epoch = 0;
	double lr = o->lr > 0 ? o->lr : ad->lr;
	double wd = o->weight_decay >= 0 ? o->weight_decay : ad->weight_decay;
	double best_val = INFINITY, t_train = 0, t_start = now_s();
	uint64_t samples = 0;
	bool linear = o->arch == NCP_EMU_RIDGE || o->arch == NCP_EMU_RIDGE_RUNNING;

	openblas_set_num_threads(o->threads);
	pg.t0 = t_start;
	if (data_open(&d, o)) {
		data_close(&d);
		return 1;
	}
	ncp_emu_spec_default(&spec, o->arch);
	spec.window = d.window;
	spec.neurons = d.neurons;
	spec.dt = d.dt;
	spec.stim = o->stim;
	spec.horizon = o->horizon;
	spec.joints = d.rec[0]->joints;
	spec.arm_input = o->arm_input;
	spec.residual = o->residual;
	if (o->nhidden >= 0) {
		if (linear && o->nhidden > 0) {
			fprintf(stderr, "ncp-train: %s has no hidden layers; drop --hidden\n",
				ncp_emu_arch_name(o->arch));
			goto out;
		}
		spec.nhidden = o->nhidden;
		memcpy(spec.hidden, o->hidden, sizeof(spec.hidden));
	}
	init = ncp_emu_model_new(&spec, ncp_rng_derive(o->seed, 1), err, sizeof(err));
	if (!init) {
		fprintf(stderr, "ncp-train: %s\n", err);
		goto out;
	}

	/* The data: every recording a segment, validation by blocks. */
	ds = ncp_dataset_new(d.neurons, spec.stim);
	if (!ds) {
		fprintf(stderr, "ncp-train: out of memory\n");
		goto out;
	}
	for (int i = 0; i < d.n; i++) {
		status(&pg, false, "reading %s", d.rec[i]->dir);
		if (ncp_dataset_add_recording(ds, d.rec[i], err, sizeof(err))) {
			fprintf(stderr, "ncp-train: %s\n", err);
			goto out;
		}
	}
	so.window = spec.window;
	so.horizon = spec.horizon;
	so.val_frac = o->val_split;
	so.block = (uint64_t)llround(o->block_s / d.dt);
	so.gap = (uint64_t)spec.window + (uint64_t)spec.horizon;
	if (ncp_dataset_split(ds, &so, &train, &ntrain, &val, &nval, err, sizeof(err))) {
		fprintf(stderr, "ncp-train: %s\n", err);
		goto out;
	}
	if (ntrain == 0) {
		fprintf(stderr, "ncp-train: no training rows left (use a smaller --val-split)\n");
		goto out;
	}
	status(&pg, true, "data: %d recording%s, %" PRIu64 " steps (%.0f s), %" PRIu64
	       " spikes (%.1f a step); %zu training rows, %zu validation rows",
	       d.n, d.n > 1 ? "s" : "", ncp_dataset_steps(ds),
	       (double)ncp_dataset_steps(ds) * d.dt, ncp_dataset_spikes(ds),
	       (double)ncp_dataset_spikes(ds) / (double)ncp_dataset_steps(ds), ntrain, nval);

	ncp_trainer_opts_default(&to);
	to.lr = lr;
	to.batch = o->batch;
	to.weight_decay = wd;
	to.progress = prep_progress;
	to.progress_ctx = &pg;
	tr = ncp_trainer_new(init, ds, &to, err, sizeof(err));
	if (!tr) {
		fprintf(stderr, "ncp-train: %s\n", err);
		goto out;
	}
	/* Normalisation from every 10th training row. */
	{
		uint64_t *sub = malloc((ntrain / 10 + 1) * sizeof(uint64_t));
		size_t ns = sub ? subsample(train, ntrain, 10, 0, sub) : 0;
		if (!sub || ncp_trainer_fit_norm(tr, sub, ns, o->floor_frac)) {
			free(sub);
			fprintf(stderr, "ncp-train: cannot compute the normalisation\n");
			goto out;
		}
		free(sub);
	}
	{
		char hid[96] = "";
		for (int l = 0; l < spec.nhidden; l++)
			snprintf(hid + strlen(hid), sizeof(hid) - strlen(hid), "%s%d",
				 l ? "-" : " ", spec.hidden[l]);
		status(&pg, true, "model: %s%s, %zu parameters, %d stimulation channels, horizon %d%s, floor %g, weight decay %g; OpenBLAS kernels %s",
		       ncp_emu_arch_name(o->arch), hid, ncp_emu_model_params(init),
		       spec.stim, spec.horizon,
		       spec.residual ? ", residual on the arm state" :
		       spec.arm_input ? ", arm-state input" : "",
		       o->floor_frac, wd, ncp_blas_core());
	}
	ep = malloc((ntrain / (size_t)stride + 1) * sizeof(uint64_t));
	vsub = malloc((nval / 5 + 1) * sizeof(uint64_t));
	if (!ep || !vsub) {
		fprintf(stderr, "ncp-train: out of memory\n");
		goto out;
	}
	/* Validation during training: every 5th row. */
	nvsub = subsample(val, nval, 5, 0, vsub);
	ncp_rng_seed(&rng, ncp_rng_derive(o->seed, 2));

	/* The history's first line: what is being trained, on what. */
	{
		struct ncp_json j;
		ncp_json_init(&j);
		ncp_json_obj(&j);
		ncp_json_key(&j, "format");
		ncp_json_str(&j, "ncp-train-history");
		ncp_json_key(&j, "format_version");
		ncp_json_int(&j, 1);
		ncp_json_key(&j, "model");
		ncp_json_str(&j, o->out);
		ncp_json_key(&j, "arch");
		ncp_json_str(&j, ncp_emu_arch_name(o->arch));
		ncp_json_key(&j, "horizon");
		ncp_json_int(&j, spec.horizon);
		ncp_json_key(&j, "arm_input");
		ncp_json_bool(&j, spec.arm_input);
		ncp_json_key(&j, "residual");
		ncp_json_bool(&j, spec.residual);
		ncp_json_key(&j, "data");
		ncp_json_arr(&j);
		for (int i = 0; i < d.n; i++)
			ncp_json_str(&j, d.rec[i]->dir);
		ncp_json_end(&j);
		ncp_json_key(&j, "train_rows");
		ncp_json_int(&j, (int64_t)ntrain);
		ncp_json_key(&j, "val_rows");
		ncp_json_int(&j, (int64_t)nval);
		ncp_json_key(&j, "val_loss_rows");
		ncp_json_int(&j, (int64_t)(linear ? nval : nvsub));
		if (!linear) {
			ncp_json_key(&j, "epochs");
			ncp_json_int(&j, epochs);
			ncp_json_key(&j, "stride");
			ncp_json_int(&j, stride);
			ncp_json_key(&j, "batch");
			ncp_json_int(&j, o->batch);
			ncp_json_key(&j, "lr");
			ncp_json_num(&j, lr);
		}
		ncp_json_key(&j, "seed");
		ncp_json_uint(&j, o->seed);
		ncp_json_end(&j);
		history_add(&hist, &j);
	}

	if (linear) {
		size_t n = subsample(train, ntrain, stride, 0, ep);
		double t0 = now_s();
		if (ncp_trainer_fit_ridge(tr, ep, n, val, nval, &rr, err, sizeof(err))) {
			fprintf(stderr, "ncp-train: %s\n", err);
			goto out;
		}
		t_train = now_s() - t0;
		samples = rr.rows;
		{
			char ls[160];
			int k = 0;
			for (int oo = 0; oo < ncp_emu_spec_outputs(&spec); oo++)
				k += snprintf(ls + k, sizeof(ls) - (size_t)k, " %g",
					      rr.chosen[oo]);
			status(&pg, true, "ridge: %" PRIu64 " rows, lambda per output%s, %.1f s",
			       rr.rows, ls, t_train);
		}
		/* One history line per lambda tried. */
		for (int k = 0; k < rr.nlambda; k++) {
			struct ncp_json j;
			ncp_json_init(&j);
			ncp_json_obj(&j);
			ncp_json_key(&j, "lambda");
			ncp_json_num_exact(&j, rr.lambdas[k]);
			ncp_json_key(&j, "val_loss");
			ncp_json_nums(&j, rr.val_mse[k], ncp_emu_spec_outputs(&spec));
			ncp_json_end(&j);
			history_add(&hist, &j);
		}
	} else {
		best = ncp_emu_model_clone(ncp_trainer_model(tr));
		if (!best) {
			fprintf(stderr, "ncp-train: out of memory\n");
			goto out;
		}
		double t0 = now_s();
		size_t per_epoch = (ntrain + (size_t)stride - 1) / (size_t)stride;
		size_t total = per_epoch * (size_t)epochs;
		double lr_now = lr;
		for (int e = 0; e < epochs; e++) {
			int phase = (int)ncp_rng_below(&rng, (uint64_t)stride);
			size_t n = subsample(train, ntrain, stride, phase, ep);
			double sum = 0, vloss = NAN, last_draw = 0;
			size_t cnt = 0;
			shuffle(ep, n, &rng);
			for (size_t i = 0; i < n; i += (size_t)o->batch) {
				/* Cosine decay of the step size to lr / 20. */
				double frac = (double)(samples) / (double)NCP_MAX(total, 1);
				double cur = lr * (0.05 + 0.95 * 0.5 * (1 + cos(M_PI * frac)));
				int k = (int)NCP_MIN((size_t)o->batch, n - i);
				double loss;
				int r;
				lr_now = cur;
				ncp_trainer_set_lr(tr, cur);
				r = ncp_trainer_step(tr, ep + i, k, &loss);
				if (r == -EDOM) {
					fprintf(stderr, "ncp-train: the loss is not finite at epoch %d; keeping the best weights so far\n",
						e + 1);
					ncp_trainer_import(tr, best);
					continue;
				}
				if (r) {
					fprintf(stderr, "ncp-train: training step failed: %s\n",
						ncp_strerror(r));
					goto out;
				}
				sum += loss * k;
				cnt += (size_t)k;
				samples += (uint64_t)k;
				double tn = now_s();
				if (pg.tty && tn - last_draw > 0.25) {
					char b[32], eta[16];
					double el = tn - t0;
					last_draw = tn;
					bar(b, 20, (double)samples / (double)total);
					fmt_dur(eta, sizeof(eta),
						el / (double)samples * (double)(total - samples));
					char bv[32] = "-";
					if (isfinite(best_val))
						snprintf(bv, sizeof(bv), "%.5f", best_val);
					status(&pg, false, "epoch %d/%d [%s] loss %.5f  best val %s  ETA %s",
					       e + 1, epochs, b, sum / (double)cnt, bv, eta);
				}
			}
			if (nvsub && ncp_trainer_loss(tr, vsub, nvsub, &vloss) == 0 &&
			    vloss < best_val) {
				best_val = vloss;
				best_epoch = e + 1;
				ncp_trainer_export(tr, best);
			} else if (!nvsub) {
				best_epoch = e + 1;
				ncp_trainer_export(tr, best);
			}
			{
				char eta[16];
				double el = now_s() - t0;
				double tloss = cnt ? sum / (double)cnt : NAN;
				struct ncp_json j;
				fmt_dur(eta, sizeof(eta), el / (e + 1) * (epochs - e - 1));
				status(&pg, true, "epoch %d/%d: loss %.5f, val %.5f%s, %.0f samples/s, ETA %s",
				       e + 1, epochs, tloss, vloss,
				       best_epoch == e + 1 ? " (best)" : "",
				       (double)samples / el, eta);
				ncp_json_init(&j);
				ncp_json_obj(&j);
				ncp_json_key(&j, "epoch");
				ncp_json_int(&j, e + 1);
				ncp_json_key(&j, "train_loss");
				ncp_json_num(&j, tloss);
				ncp_json_key(&j, "val_loss");
				ncp_json_num(&j, vloss);
				ncp_json_key(&j, "best");
				ncp_json_bool(&j, best_epoch == e + 1);
				ncp_json_key(&j, "lr");
				ncp_json_num(&j, lr_now);
				ncp_json_key(&j, "samples");
				ncp_json_uint(&j, samples);
				ncp_json_key(&j, "seconds");
				ncp_json_num(&j, el);
				ncp_json_end(&j);
				history_add(&hist, &j);
			}
		}
		t_train = now_s() - t0;
		ncp_trainer_import(tr, best);
	}

	/* The final report: every validation row. */
	ncp_score_init(&sc, ncp_emu_spec_joints(&spec));
	if (nval) {
		pred = malloc(nval * (size_t)ncp_emu_spec_outputs(&spec) * sizeof(float));
		if (!pred || ncp_trainer_predict(tr, val, nval, pred)) {
			fprintf(stderr, "ncp-train: out of memory\n");
			goto out;
		}
		for (size_t i = 0; i < nval; i++)
			ncp_score_add(&sc, pred + i * (size_t)ncp_emu_spec_outputs(&spec),
				      ncp_dataset_target(ds, val[i], spec.horizon));
	}

	/* Save, with how it was made. */
	{
		struct ncp_json j;
		struct ncp_emu_model *out_m = ncp_emu_model_clone(ncp_trainer_model(tr));
		int r;
		ncp_json_init(&j);
		ncp_json_obj(&j);
		ncp_json_key(&j, "trainer");
		ncp_json_str(&j, "ncp-train " NCP_VERSION);
		ncp_json_key(&j, "data");
		ncp_json_arr(&j);
		for (int i = 0; i < d.n; i++)
			ncp_json_str(&j, d.rec[i]->name);
		ncp_json_end(&j);
		ncp_json_key(&j, "steps");
		ncp_json_int(&j, (int64_t)ncp_dataset_steps(ds));
		ncp_json_key(&j, "val_split");
		ncp_json_num(&j, o->val_split);
		ncp_json_key(&j, "block_s");
		ncp_json_num(&j, o->block_s);
		ncp_json_key(&j, "stride");
		ncp_json_int(&j, stride);
		ncp_json_key(&j, "input_floor");
		ncp_json_num(&j, o->floor_frac);
		if (spec.arm_input) {
			ncp_json_key(&j, "arm_input");
			ncp_json_bool(&j, true);
		}
		if (spec.residual) {
			ncp_json_key(&j, "residual");
			ncp_json_bool(&j, true);
		}
		ncp_json_key(&j, "seed");
		ncp_json_int(&j, (int64_t)o->seed);
		ncp_json_key(&j, "threads");
		ncp_json_int(&j, o->threads);
		if (linear) {
			ncp_json_key(&j, "ridge_lambda");
			ncp_json_arr(&j);
			for (int k = 0; k < ncp_emu_spec_outputs(&spec); k++)
				ncp_json_num(&j, rr.chosen[k]);
			ncp_json_end(&j);
		} else {
			ncp_json_key(&j, "epochs");
			ncp_json_int(&j, epochs);
			ncp_json_key(&j, "best_epoch");
			ncp_json_int(&j, best_epoch);
			ncp_json_key(&j, "lr");
			ncp_json_num(&j, lr);
			ncp_json_key(&j, "batch");
			ncp_json_int(&j, o->batch);
			ncp_json_key(&j, "weight_decay");
			ncp_json_num(&j, wd);
			ncp_json_key(&j, "updates");
			ncp_json_int(&j, (int64_t)ncp_trainer_updates(tr));
		}
		ncp_json_key(&j, "val");
		ncp_score_json(&sc, &j);
		ncp_json_end(&j);
		r = out_m && ncp_json_finish(&j) == 0 ? ncp_emu_model_set_config(out_m, j.buf) : -ENOMEM;
		ncp_json_fini(&j);
		if (r || ncp_emu_model_save(out_m, o->out, err, sizeof(err))) {
			fprintf(stderr, "ncp-train: %s\n", r ? "out of memory" : err);
			ncp_emu_model_free(out_m);
			goto out;
		}
		ncp_emu_model_free(out_m);
	}

	/* The history's last line, the model's scores; then the file, next
	 * to the model. */
	{
		struct ncp_json j;
		int r;
		ncp_json_init(&j);
		ncp_json_obj(&j);
		if (linear) {
			ncp_json_key(&j, "ridge_lambda");
			ncp_json_nums(&j, rr.chosen, ncp_emu_spec_outputs(&spec));
		} else {
			ncp_json_key(&j, "best_epoch");
			ncp_json_int(&j, best_epoch);
		}
		ncp_json_key(&j, "val");
		ncp_score_json(&sc, &j);
		ncp_json_key(&j, "train_seconds");
		ncp_json_num(&j, t_train);
		ncp_json_end(&j);
		history_add(&hist, &j);
		hpath = history_path(o->out);
		r = !hpath ? -ENOMEM : hist.err ? hist.err :
			ncp_file_write_atomic(hpath, hist.buf, hist.len, 0644);
		if (r) {
			fprintf(stderr, "ncp-train: %s: cannot write the training history: %s\n",
				hpath ? hpath : o->out, ncp_strerror(r));
			goto out;
		}
	}

	double sps = t_train > 0 ? (double)samples / t_train : 0;
	if (o->json) {
		struct ncp_json j;
		ncp_json_init(&j);
		ncp_json_obj(&j);
		ncp_json_key(&j, "model");
		ncp_json_str(&j, o->out);
		ncp_json_key(&j, "history");
		ncp_json_str(&j, hpath);
		ncp_json_key(&j, "arch");
		ncp_json_str(&j, ncp_emu_arch_name(o->arch));
		ncp_json_key(&j, "horizon");
		ncp_json_int(&j, spec.horizon);
		ncp_json_key(&j, "arm_input");
		ncp_json_bool(&j, spec.arm_input);
		ncp_json_key(&j, "residual");
		ncp_json_bool(&j, spec.residual);
		ncp_json_key(&j, "train_rows");
		ncp_json_int(&j, (int64_t)ntrain);
		ncp_json_key(&j, "val");
		ncp_score_json(&sc, &j);
		ncp_json_key(&j, "train_seconds");
		ncp_json_num(&j, t_train);
		ncp_json_key(&j, "samples");
		ncp_json_int(&j, (int64_t)samples);
		ncp_json_key(&j, "samples_per_second");
		ncp_json_num(&j, sps);
		ncp_json_key(&j, "blas_core");
		ncp_json_str(&j, ncp_blas_core());
		ncp_json_key(&j, "total_seconds");
		ncp_json_num(&j, now_s() - t_start);
		if (!linear) {
			ncp_json_key(&j, "best_epoch");
			ncp_json_int(&j, best_epoch);
		}
		ncp_json_end(&j);
		if (ncp_json_finish(&j) == 0)
			printf("%s\n", j.buf);
		ncp_json_fini(&j);
	} else {
		printf("saved %s (%s), its training history %s\n", o->out,
		       ncp_emu_arch_name(o->arch), hpath);
		if (nval) {
			printf("validation, %zu rows held out:\n", nval);
			print_score(stdout, &sc);
		}
		printf("training: %.1f s, %" PRIu64 " samples, %.0f samples/s%s (total %.1f s)\n",
		       t_train, samples, sps, linear ? " (closed form)" : "",
		       now_s() - t_start);
	}
	ret = 0;
out:
	free(hist.buf);
	free(hpath);
	free(pred);
	free(ep);
	free(vsub);
	free(train);
	free(val);
	ncp_trainer_free(tr);
	ncp_emu_model_free(best);
	ncp_emu_model_free(init);
	ncp_dataset_free(ds);
	data_close(&d);
	return ret;
}

int main(int argc, char **argv)
{
	struct opts o;
	int r;

	ncp_blas_pick_core(argv);
	ncp_log_init("ncp-train", NCP_LOG_INFO);
	if (argc > 1 && !strcmp(argv[1], "--cpn"))
		return ncp_recovery_main(argc - 1, argv + 1);
	r = parse_args(argc, argv, &o);
	if (r)
		return r;
	return o.eval ? run_eval(&o) : run_train(&o);
}
