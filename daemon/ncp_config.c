#include "daemon/ncp_config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "models/emu/ncp_emu.h"
#include "models/io/ncp_file.h"
#include "models/base/ncp_base.h"

/* config/ncpd.yaml, compiled in.  The Makefile rebuilds this object when
 * the file changes. */
__asm__(".section .rodata\n"
	".global ncp_config_default_yaml\n"
	".type ncp_config_default_yaml, @object\n"
	".balign 8\n"
	"ncp_config_default_yaml:\n"
	".incbin \"config/ncpd.yaml\"\n"
	".byte 0\n"
	".previous\n");

enum key_type { T_INT, T_U64, T_DOUBLE, T_BOOL, T_STRING, T_ENUM, T_VEC };

static const char *const type_names[] = {
	[T_INT] = "integer", [T_U64] = "integer", [T_DOUBLE] = "number",
	[T_BOOL] = "boolean", [T_STRING] = "string", [T_ENUM] = "choice",
	[T_VEC] = "list of numbers",
};

struct key {
	const char *name;
	enum key_type type;
	size_t off;
	size_t size;		/* T_STRING: buffer size; T_VEC: count */
	double min, max;	/* numbers and vector elements */
	const char *def;	/* the default, as YAML text */
	const char *const *choices; /* T_ENUM: names, stored as their index */
	bool reload;		/* SIGHUP may change it */
	const char *help;
};

#define OFF(field) offsetof(struct ncp_config, field)
#define STR(field) OFF(field), sizeof(((struct ncp_config *)0)->field)

static const char *const task_kinds[] = { "centre-out", "random", "manual",
					  "line", "circle", "path", "steps",
					  NULL };
static const char *const field_kinds[] = { "joint", "curl", NULL };
static const char *const reach_controls[] = { "task", "joint", NULL };
static const char *const reach_workspaces[] = { "sensed", "arm", NULL };
static const char *const lesion_kinds[] = { "none", "pmc-m1", "m1-silence",
					    NULL };
static const char *const stim_layouts[] = { "topographic", "random", NULL };
static const char *const stim_sources[] = { "none", "noise", "oracle", "cpn",
					    NULL };
static const char *const log_levels[] = { "error", "warning", "notice", "info",
					  "debug", NULL };

/* The table.  Keys of one section stay together (the JSON dump nests by
 * section).  The order of task_kinds matches enum ncp_task_kind. */
static const struct key keys[] = {
	{ "seed", T_U64, OFF(reach.seed), 0, 0, 9.2e18, "0", NULL, false,
	  "seed of the network (encoders, rates, intercepts, voltages)" },
	{ "dt", T_DOUBLE, OFF(reach.dt), 0, 1e-4, 0.01, "0.001", NULL, false,
	  "simulation time step, s (the loop runs at 1/dt Hz)" },
	{ "instance", T_STRING, STR(instance), 0, 0, "ncpd", NULL, false,
	  "instance name: one daemon per name (its lock file sits next to "
	  "the control socket)" },
	{ "data_dir", T_STRING, STR(data_dir), 0, 0, "data", NULL, false,
	  "directory for recordings and models (relative: to the working "
	  "directory)" },

	{ "task.kind", T_ENUM, OFF(task.kind), 0, 0, 0, "centre-out",
	  task_kinds, true, "centre-out, random or manual targets, steps "
	  "(the target steps between task.line's end and start each period, "
	  "the end first: REACH's a01), or a trajectory the PMC traces each "
	  "period: line, circle (radius task.radius around task.centre) or "
	  "path (task.path_file); a trajectory is built at start (reload "
	  "cannot switch to another)" },
	{ "task.seed", T_U64, OFF(task.seed), 0, 0, 9.2e18, "1", NULL, true,
	  "seed of the random task's targets (separate from the network's)" },
	{ "task.period", T_DOUBLE, OFF(task.period), 0, 0.01, 3600, "1.0", NULL,
	  true, "seconds per target (a trajectory: per trace of the path)" },
	{ "task.centre", T_VEC, OFF(task.centre), 2, -3, 3, "[0.0, 1.25]",
	  NULL, false, "centre of the workspace and the hand's start, m" },
	{ "task.radius", T_DOUBLE, OFF(task.radius), 0, 0, 1, "0.25", NULL, true,
	  "centre-out: distance of the targets from the centre, m" },
	{ "task.targets", T_INT, OFF(task.n_targets), 0, 1, 360, "8", NULL,
	  true, "centre-out: number of targets around the circle" },
	{ "task.random_radius", T_DOUBLE, OFF(task.random_radius), 0, 0, 1,
	  "0.3", NULL, true, "random: radius of the disc targets are drawn "
	  "from, m" },
	{ "task.line", T_VEC, OFF(task.line), 4, -3, 3, "[0.0, 1.0, 0.0, 1.5]",
	  NULL, false, "line and steps: start x, y and end x, y, m" },
	{ "task.path_file", T_STRING, STR(task.path_file), 0, 0, "", NULL, false,
	  "path: a file of points x y, one per line (docs/file-formats.md)" },

	{ "arm.links", T_INT, OFF(reach.arm.links), 0, 2, 3, "2", NULL,
	  false, "the arm's links: 2 (REACH's arm) or 3 (a human arm: upper "
	  "arm, forearm, hand); task.centre, task.radius, task.random_radius "
	  "and task.line left at one arm's defaults follow to the other's" },
	{ "reach.control", T_ENUM, OFF(reach.control), 0, 0, 0, "task",
	  reach_controls, false, "the space M1 computes the torque in: task "
	  "(operational space, u = J^T Mx kp (target - hand)) or joint "
	  "(generalized coordinates, u = M kp (q_target - q): the PMC's "
	  "target and trajectory in joint angles, REACH's a03)" },
	{ "reach.workspace", T_ENUM, OFF(reach.workspace), 0, 0, 0, "sensed",
	  reach_workspaces, false, "the targets and path points accepted: "
	  "sensed (the arm reaches them and S1 senses the arm there, less a "
	  "margin: the hand gets there) or arm (the arm's length and joint "
	  "limits only: past S1's range the hand stops short)" },
	{ "reach.kp", T_DOUBLE, OFF(reach.kp), 0, 0, 10000, "50", NULL, false,
	  "M1 position gain" },
	{ "reach.kv", T_DOUBLE, OFF(reach.kv), 0, 0, 1000, "0", NULL, false,
	  "CB velocity gain; 0 means 1.5 sqrt(kp)" },
	{ "reach.synapse", T_DOUBLE, OFF(reach.tau), 0, 0.0005, 0.1, "0.005",
	  NULL, false, "time constant of the lowpass synapses, s" },
	{ "reach.m1_neurons", T_INT, OFF(reach.n_m1), 0, 16, 65536, "1000",
	  NULL, false, "neurons in M1 (the recorded population)" },
	{ "reach.cb_neurons", T_INT, OFF(reach.n_cb), 0, 16, 100000, "1000",
	  NULL, false, "neurons in the cerebellum" },
	{ "reach.error_neurons", T_INT, OFF(reach.n_error), 0, 16, 100000,
	  "500", NULL, false, "neurons in the error ensemble (target - hand; "
	  "in joint space q_target - q)" },
	{ "reach.s1_neurons", T_INT, OFF(reach.n_s1), 0, 4, 10000, "50", NULL,
	  false, "neurons per S1 dimension (6 dimensions)" },
	{ "reach.adapt", T_BOOL, OFF(reach.adapt), 0, 0, 0, "false", NULL,
	  false, "add the PES-learning cerebellum population" },
	{ "reach.adapt_neurons", T_INT, OFF(reach.n_adapt), 0, 16, 100000,
	  "1000", NULL, false, "neurons in the adaptive population" },
	{ "reach.adapt_rate", T_DOUBLE, OFF(reach.adapt_rate), 0, 0, 1, "0.0001",
	  NULL, false, "PES learning rate of the adaptive population" },

	{ "field.on", T_BOOL, OFF(reach.field.on), 0, 0, 0, "false", NULL, false,
	  "apply the external force field to the arm (ncpctl field switches "
	  "it while running)" },
	{ "field.kind", T_ENUM, OFF(reach.field.kind), 0, 0, 0, "joint",
	  field_kinds, false, "joint (REACH's: torque = strength B dq) or curl "
	  "(hand force = strength (v_y, -v_x))" },
	{ "field.strength", T_DOUBLE, OFF(reach.field.strength), 0, -100, 100,
	  "0.4", NULL, false, "joint: factor on B; curl: N s/m" },

	{ "record.probes", T_STRING, STR(record.probes), 0, 0, "", NULL, false,
	  "probes every recording adds unless record start gives its own: "
	  "comma-separated NAME[:KIND[:TAU]], KIND spikes or value "
	  "(docs/file-formats.md)" },

	{ "lesion.kind", T_ENUM, OFF(reach.stim.lesion_kind), 0, 0, 0, "none",
	  lesion_kinds, false, "none, pmc-m1 (cut the planning input x_des, "
	  "in joint space q_err, into a fraction of M1's neurons) or m1-silence (silence a fraction "
	  "of M1's neurons)" },
	{ "lesion.fraction", T_DOUBLE, OFF(reach.stim.lesion_fraction), 0, 0, 1,
	  "1.0", NULL, false, "fraction of M1's neurons the lesion hits" },
	{ "lesion.seed", T_U64, OFF(reach.stim.lesion_seed), 0, 0, 9.2e18, "1",
	  NULL, false, "seed of the order in which neurons are lesioned (a "
	  "smaller fraction hits a subset of a larger one)" },

	{ "stim.electrodes", T_INT, OFF(reach.stim.electrodes), 0, 1, 256, "16",
	  NULL, false, "stimulation electrodes over M1 (docs/stimulation.md)" },
	{ "stim.spread", T_DOUBLE, OFF(reach.stim.spread), 0, 0.001, 10, "0.05",
	  NULL, false, "sd of an electrode's Gaussian footprint on M1's line "
	  "of neurons (length 1)" },
	{ "stim.max", T_DOUBLE, OFF(reach.stim.max), 0, 0.001, 1000, "20", NULL,
	  false, "safety bound: theta and each electrode's current alpha stay "
	  "within +-max (LIF input-current units)" },
	{ "stim.layout", T_ENUM, OFF(reach.stim.layout), 0, 0, 0, "topographic",
	  stim_layouts, false, "M1 neuron positions: topographic (ordered by "
	  "preferred x_des direction, plus jitter) or random" },
	{ "stim.jitter", T_DOUBLE, OFF(reach.stim.jitter), 0, 0, 1, "0.01", NULL,
	  false, "topographic: sd of each neuron's position jitter" },
	{ "stim.seed", T_U64, OFF(reach.stim.seed), 0, 0, 9.2e18, "1", NULL,
	  false, "seed of the positions and of the exploration noise" },
	{ "stim.source", T_ENUM, OFF(reach.stim.source), 0, 0, 0, "none",
	  stim_sources, false, "where theta comes from each step: none (zero "
	  "unless a stim file or command sets it), noise (no controller: "
	  "exploration noise alone), oracle (x_des through a fitted map) or "
	  "cpn (the co-processor, docs/coprocessor.md)" },
	{ "stim.noise", T_DOUBLE, OFF(reach.stim.noise), 0, 0, 1000, "0", NULL,
	  false, "stationary sd of Ornstein-Uhlenbeck exploration noise added "
	  "to theta whatever its source (at most stim.max; 0: none)" },
	{ "stim.noise_tau", T_DOUBLE, OFF(reach.stim.noise_tau), 0, 0.001, 100,
	  "0.05", NULL, false, "correlation time of the exploration noise, s" },
	{ "stim.noise_seed", T_U64, OFF(reach.stim.noise_seed), 0, 0, 9.2e18, "0",
	  NULL, false, "seed of the exploration noise alone (0: stim.seed's "
	  "stream); recordings of one network with different noise" },

	{ "ncp.rec_electrodes", T_INT, OFF(reach.rec.electrodes), 0, 1, 256,
	  "16", NULL, false, "the co-processor's recording electrodes over "
	  "the planning (task-space error) ensemble (docs/coprocessor.md)" },
	{ "ncp.rec_spread", T_DOUBLE, OFF(reach.rec.spread), 0, 0.001, 10,
	  "0.05", NULL, false, "sd of a recording electrode's Gaussian "
	  "footprint on the planning ensemble's line of neurons (length 1)" },
	{ "ncp.rec_tau", T_DOUBLE, OFF(reach.rec.tau), 0, 0.001, 10, "0.01",
	  NULL, false, "time constant of the lowpass on each recording "
	  "electrode's weighted spikes, s" },
	{ "ncp.rec_layout", T_ENUM, OFF(reach.rec.layout), 0, 0, 0,
	  "topographic", stim_layouts, false, "planning neuron positions: "
	  "topographic (ordered by preferred x_des direction, plus jitter) or "
	  "random" },
	{ "ncp.rec_jitter", T_DOUBLE, OFF(reach.rec.jitter), 0, 0, 1, "0.01",
	  NULL, false, "topographic: sd of each planning neuron's position "
	  "jitter" },
	{ "ncp.rec_seed", T_U64, OFF(reach.rec.seed), 0, 0, 9.2e18, "1", NULL,
	  false, "seed of the planning neurons' positions" },

	{ "ncp.model", T_STRING, STR(ncp.model), 0, 0, "auto", NULL, false,
	  "the co-processor network (CPN): auto (data_dir/cpn.safetensors if "
	  "it exists, else none), none, a path (with a '/'), or a name in "
	  "data_dir (.safetensors may be left off); it drives the electrodes "
	  "when stim.source is cpn or after ncpctl ncp on" },
	{ "ncp.train", T_BOOL, OFF(ncp.train), 0, 0, 0, "false", NULL, true,
	  "train the CPN (and its emulator) while the loop runs (ncpctl ncp "
	  "train on|off switches it too)" },
	{ "ncp.explore", T_DOUBLE, OFF(ncp.explore), 0, 0, 1, "0.2", NULL,
	  false, "while training: sd of the Ornstein-Uhlenbeck perturbation "
	  "of the CPN's electrode target, as a fraction of its alpha_max (0: "
	  "no exploration)" },
	{ "ncp.explore_tau", T_DOUBLE, OFF(ncp.explore_tau), 0, 0.001, 100,
	  "0.1", NULL, false, "correlation time of the perturbation, s" },
	{ "ncp.explore_noise", T_DOUBLE, OFF(ncp.explore_noise), 0, 0, 1, "0.5",
	  NULL, false, "while training: sd of the white-noise electrode "
	  "targets, as a fraction of alpha_max" },
	{ "ncp.explore_hold", T_DOUBLE, OFF(ncp.explore_hold), 0, 0.001, 100,
	  "0.1", NULL, false, "seconds each white-noise target is held" },
	{ "ncp.explore_block", T_DOUBLE, OFF(ncp.explore_block), 0, 0.01, 3600,
	  "1", NULL, false, "seconds per exploration block: 10% the CPN as it "
	  "is, 60% perturbed, 30% white noise" },
	{ "ncp.warmup_explore", T_DOUBLE, OFF(ncp.warmup_explore), 0, 0, 1,
	  "0.1", NULL, false, "while training, until the first weights are "
	  "offered: every block is the CPN perturbed, with this sd (fraction "
	  "of alpha_max) in place of ncp.explore and no white noise" },
	{ "ncp.seed", T_U64, OFF(ncp.seed), 0, 0, 9.2e18, "1", NULL, false,
	  "seed of the exploration (blocks and perturbation)" },
	{ "ncp.priority", T_INT, OFF(ncp.priority), 0, 0, 99, "75", NULL, false,
	  "SCHED_FIFO priority of the co-processor thread (below the loop's, "
	  "above the emulator's); 0: the normal policy" },
	{ "ncp.cpu", T_INT, OFF(ncp.cpu), 0, -1, 1023, "-1", NULL, false,
	  "CPU to pin the co-processor thread to; -1: no pinning (with "
	  "rt.cpu set, any CPU but the loop's)" },
	{ "ncp.replay", T_DOUBLE, OFF(ncp.replay), 0, 10, 86400, "300", NULL,
	  false, "seconds of lesioned steps the CPN drove that online "
	  "training learns from" },
	{ "ncp.reference", T_DOUBLE, OFF(ncp.reference), 0, 1, 3600, "30",
	  NULL, false, "seconds of healthy steps (no lesion, CPN off) the "
	  "healthy reference is fitted on before online training starts" },
	{ "ncp.warmup", T_DOUBLE, OFF(ncp.warmup), 0, 1, 3600, "10", NULL,
	  false, "seconds of lesioned steps before the first training of the "
	  "CPN's emulator" },
	{ "ncp.round", T_DOUBLE, OFF(ncp.round), 0, 0.1, 3600, "5", NULL, false,
	  "seconds of new steps per training round (CPN epochs, new weights, "
	  "the emulator retrained when it expired)" },
	{ "ncp.epochs", T_INT, OFF(ncp.epochs), 0, 1, 10000, "5", NULL, false,
	  "CPN epochs per round" },
	{ "ncp.batches", T_INT, OFF(ncp.batches), 0, 0, 1000000, "64", NULL,
	  false, "minibatches at most in one CPN epoch or emulator training "
	  "(0: whole passes), so each piece of online work stays short" },

	{ "control.socket", T_STRING, STR(control.socket), 0, 0, "", NULL,
	  false, "control socket path; empty: /run/ncpd/ncpd.sock for root, "
	  "else $XDG_RUNTIME_DIR/ncpd/ncpd.sock or /tmp/ncpd-UID/ncpd.sock" },
	{ "control.group", T_STRING, STR(control.group), 0, 0, "", NULL, false,
	  "group (name or number) that may also use the socket; empty: none" },
	{ "control.max_clients", T_INT, OFF(control.max_clients), 0, 1, 4096,
	  "128", NULL, false, "clients connected at once; more are refused" },
	{ "control.idle_timeout", T_DOUBLE, OFF(control.idle_timeout), 0, 0,
	  86400, "0", NULL, false, "seconds a silent client may stay "
	  "connected; 0: forever" },

	{ "rt.priority", T_INT, OFF(rt.priority), 0, 0, 99, "80", NULL, false,
	  "SCHED_FIFO priority of the loop thread; 0: the normal policy" },
	{ "rt.cpu", T_INT, OFF(rt.cpu), 0, -1, 1023, "-1", NULL, false,
	  "CPU to pin the loop thread to; -1: no pinning. When set, the "
	  "emulator and co-processor threads that are not pinned themselves "
	  "keep off it" },
	{ "rt.lock_memory", T_BOOL, OFF(rt.lock_memory), 0, 0, 0, "true", NULL,
	  false, "lock all memory (mlockall) so the loop never page-faults" },
	{ "rt.cpu_latency_us", T_INT, OFF(rt.cpu_latency_us), 0, -1, 100000, "0",
	  NULL, false, "keep CPUs out of idle states slower to leave than this "
	  "(us; /dev/cpu_dma_latency, as cyclictest does); -1: leave alone" },
	{ "rt.catchup_ms", T_DOUBLE, OFF(rt.catchup_ms), 0, 1, 10000, "100",
	  NULL, false, "how far behind (ms) the loop may fall and still catch "
	  "up step by step; beyond it the clock re-anchors (a slip)" },

	{ "shm.name", T_STRING, STR(shm.name), 0, 0, "/ncpd", NULL, false,
	  "name of the shared-memory segment (docs/shm.md)" },
	{ "shm.window", T_INT, OFF(shm.window), 0, 1, 1000, "100", NULL, false,
	  "steps of M1 activity in the window readers and the emulator see" },

	{ "emulator.model", T_STRING, STR(emulator.model), 0, 0, "auto", NULL,
	  false, "the emulator's model: auto (data_dir/emulator.safetensors, "
	  "the model make run trains, if it exists, else none), none, a path "
	  "(with a '/'), or a name in data_dir (.safetensors may be left off)" },
	{ "emulator.priority", T_INT, OFF(emulator.priority), 0, 0, 99, "70",
	  NULL, false, "SCHED_FIFO priority of the emulator thread (below the "
	  "loop's); 0: the normal policy" },
	{ "emulator.cpu", T_INT, OFF(emulator.cpu), 0, -1, 1023, "-1", NULL,
	  false, "CPU to pin the emulator thread to; -1: no pinning (with "
	  "rt.cpu set, any CPU but the loop's)" },

	{ "emulator.online", T_BOOL, OFF(emulator.online), 0, 0, 0, "false",
	  NULL, true, "train the emulator while the loop runs (ncpctl train "
	  "on|off switches it too)" },
	{ "emulator.online_arch", T_STRING, STR(emulator.online_arch), 0, 0,
	  "mlp-running", NULL, false, "architecture of a model trained online "
	  "from scratch (no model at start): ridge, ridge-running, mlp, "
	  "mlp-running or dense" },
	{ "emulator.replay", T_DOUBLE, OFF(emulator.replay), 0, 10, 86400, "300",
	  NULL, false, "seconds of recent steps the online trainer learns from" },
	{ "emulator.warmup", T_DOUBLE, OFF(emulator.warmup), 0, 0.5, 600, "3",
	  NULL, false, "seconds of data before a model trained from scratch is "
	  "built (its normalisation comes from them)" },
	{ "emulator.online_lr", T_DOUBLE, OFF(emulator.online_lr), 0, 1e-6, 1,
	  "0.001", NULL, false, "Adam step size of online training" },
	{ "emulator.online_batch", T_INT, OFF(emulator.online_batch), 0, 8, 4096,
	  "128", NULL, false, "minibatch size of online training" },
	{ "emulator.online_every", T_INT, OFF(emulator.online_every), 0, 1, 10000,
	  "10", NULL, false, "free-run: one minibatch step every this many "
	  "simulation steps (real time: as fast as the CPU allows)" },

	{ "cache.enable", T_BOOL, OFF(cache.enable), 0, 0, 0, "true", NULL,
	  false, "keep the decoders a build solves on disk, so the next build "
	  "of the same ensembles skips the solve (docs/architecture.md)" },
	{ "cache.dir", T_STRING, STR(cache.dir), 0, 0, "", NULL, false,
	  "decoder cache directory; empty: $CACHE_DIRECTORY (systemd), else "
	  "$XDG_CACHE_HOME/ncpd, else $HOME/.cache/ncpd, else data_dir/cache" },

	{ "log.level", T_ENUM, OFF(log_level), 0, 0, 0, "info", log_levels, true,
	  "error, warning, notice, info or debug" },
};

#define N_KEYS ((int)NCP_ARRAY_SIZE(keys))

static const struct key *find_key(const char *name)
{
	for (int i = 0; i < N_KEYS; i++)
		if (!strcmp(keys[i].name, name))
			return &keys[i];
	return NULL;
}

/* A key's section ("task" for "task.kind") is a mapping in YAML. */
static bool is_section(const char *prefix)
{
	size_t n = strlen(prefix);
	for (int i = 0; i < N_KEYS; i++)
		if (!strncmp(keys[i].name, prefix, n) && keys[i].name[n] == '.')
			return true;
	return false;
}

static int edit_distance(const char *a, const char *b)
{
	int la = (int)strlen(a), lb = (int)strlen(b);
	int row[64];
	if (la > 62 || lb > 62)
		return 99;
	for (int j = 0; j <= lb; j++)
		row[j] = j;
	for (int i = 1; i <= la; i++) {
		int prev = row[0];
		row[0] = i;
		for (int j = 1; j <= lb; j++) {
			int cur = row[j];
			int sub = prev + (a[i - 1] != b[j - 1]);
			int del = row[j] + 1, ins = row[j - 1] + 1;
			row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
			prev = cur;
		}
	}
	return row[lb];
}

/* " (did you mean 'task.kind'?)" for a near miss, else "". */
static void suggest(const char *name, char *buf, size_t len)
{
	int best = 3;
	const char *hit = NULL;
	buf[0] = '\0';
	for (int i = 0; i < N_KEYS; i++) {
		int d = edit_distance(name, keys[i].name);
		if (d < best) {
			best = d;
			hit = keys[i].name;
		}
	}
	if (hit)
		snprintf(buf, len, " (did you mean '%s'?)", hit);
}

/* --- values ------------------------------------------------------------- */

static bool parse_double(const char *s, double *out)
{
	char *end;
	if (!*s || isspace((unsigned char)*s))
		return false;
	errno = 0;
	double x = strtod(s, &end);
	if (*end || errno == ERANGE || !isfinite(x))
		return false;
	*out = x;
	return true;
}

/* Parse text as the key's (scalar) type into the config.  On error writes
 * what was expected into msg. */
static bool same_doubles(const double *a, const double *b, int n)
{
	for (int i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* arm.links changed from `from` to c->reach.arm.links: the arm and the
 * circuits' ranges for it, and the task's workspace keys still at the
 * old arm's defaults move to the new arm's. */
static int apply_links(struct ncp_config *c, int from, char *msg, size_t len)
{
	int to = c->reach.arm.links;
	if (ncp_reach_params_links(&c->reach, to, msg, len)) {
		c->reach.arm.links = from;
		return -EINVAL;
	}
	const struct ncp_reach_workspace *a = ncp_reach_workspace(from);
	const struct ncp_reach_workspace *b = ncp_reach_workspace(to);
	struct ncp_task_params *t = &c->task;
	if (same_doubles(t->centre, a->centre, 2))
		memcpy(t->centre, b->centre, sizeof(t->centre));
	if (t->radius == a->radius)
		t->radius = b->radius;
	if (t->random_radius == a->random_radius)
		t->random_radius = b->random_radius;
	if (same_doubles(t->line, a->line, 4))
		memcpy(t->line, b->line, sizeof(t->line));
	return 0;
}

static int set_scalar(struct ncp_config *c, const struct key *k,
		      const char *text, char *msg, size_t len)
{
	char *p = (char *)c + k->off;
	char *end;

	switch (k->type) {
	case T_INT:
	case T_U64: {
		if (!*text || isspace((unsigned char)*text) ||
		    (k->type == T_U64 && *text == '-'))
			goto bad_number;
		errno = 0;
		long long v = 0;
		unsigned long long u = 0;
		if (k->type == T_INT)
			v = strtoll(text, &end, 10);
		else
			u = strtoull(text, &end, 10);
		if (*end || errno == ERANGE)
			goto bad_number;
		double x = k->type == T_INT ? (double)v : (double)u;
		if (k->off == OFF(reach.arm.links) && v >= INT_MIN && v <= INT_MAX) {
			/* Its own message: which arms there are. */
			int from = c->reach.arm.links;
			*(int *)p = (int)v;
			return apply_links(c, from, msg, len);
		}
		if (x < k->min || x > k->max) {
			snprintf(msg, len, "%s is out of range [%.17g, %.17g]",
				 text, k->min, k->max);
			return -ERANGE;
		}
		if (k->type == T_INT)
			*(int *)p = (int)v;
		else
			*(uint64_t *)p = u;
		return 0;
	}
	case T_DOUBLE: {
		double x;
		if (!parse_double(text, &x))
			goto bad_number;
		if (x < k->min || x > k->max) {
			snprintf(msg, len, "%s is out of range [%g, %g]", text,
				 k->min, k->max);
			return -ERANGE;
		}
		*(double *)p = x;
		return 0;
	}
	case T_BOOL: {
		static const char *const yes[] = { "true", "yes", "on" };
		static const char *const no[] = { "false", "no", "off" };
		for (int i = 0; i < 3; i++) {
			if (!strcasecmp(text, yes[i])) {
				*(bool *)p = true;
				return 0;
			}
			if (!strcasecmp(text, no[i])) {
				*(bool *)p = false;
				return 0;
			}
		}
		snprintf(msg, len, "expected true or false, got '%s'", text);
		return -EINVAL;
	}
	case T_STRING: {
		size_t n = strlen(text);
		if (n >= k->size) {
			snprintf(msg, len, "longer than %zu characters", k->size - 1);
			return -ERANGE;
		}
		for (size_t i = 0; i < n; i++)
			if ((unsigned char)text[i] < 0x20) {
				snprintf(msg, len, "control character in the value");
				return -EINVAL;
			}
		memcpy(p, text, n + 1);
		return 0;
	}
	case T_ENUM: {
		char all[160] = "";
		for (int i = 0; k->choices[i]; i++) {
			if (!strcmp(text, k->choices[i])) {
				*(int *)p = i;
				return 0;
			}
			snprintf(all + strlen(all), sizeof(all) - strlen(all), "%s%s",
				 i ? ", " : "", k->choices[i]);
		}
		snprintf(msg, len, "expected one of %s, got '%s'", all, text);
		return -EINVAL;
	}
	case T_VEC: {
		/* From --set: "a,b" (brackets optional). */
		double v[8];
		size_t n = 0;
		char buf[256];
		snprintf(buf, sizeof(buf), "%s", text);
		char *s = buf;
		size_t sl = strlen(s);
		if (sl && s[0] == '[' && s[sl - 1] == ']') {
			s[sl - 1] = '\0';
			s++;
		}
		char *save = NULL;
		for (char *tok = strtok_r(s, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			while (isspace((unsigned char)*tok))
				tok++;
			char *e = tok + strlen(tok);
			while (e > tok && isspace((unsigned char)e[-1]))
				*--e = '\0';
			if (n >= k->size || !parse_double(tok, &v[n]))
				goto bad_vec;
			if (v[n] < k->min || v[n] > k->max) {
				snprintf(msg, len, "element %s is out of range "
					 "[%g, %g]", tok, k->min, k->max);
				return -ERANGE;
			}
			n++;
		}
		if (n != k->size)
			goto bad_vec;
		memcpy(p, v, sizeof(double) * n);
		return 0;
	}
	}
	return -EINVAL;
bad_number:
	snprintf(msg, len, "expected %s, got '%s'",
		 k->type == T_DOUBLE ? "a finite number" :
		 k->type == T_U64 ? "a non-negative integer" : "an integer", text);
	return -EINVAL;
bad_vec:
	snprintf(msg, len, "expected a list of %zu numbers, got '%s'", k->size,
		 text);
	return -EINVAL;
}

static void format_value(const struct ncp_config *c, const struct key *k,
			 char *buf, size_t len)
{
	const char *p = (const char *)c + k->off;
	if (!buf || !len)
		return;
	switch (k->type) {
	case T_INT:
		snprintf(buf, len, "%d", *(const int *)p);
		break;
	case T_U64:
		snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p);
		break;
	case T_DOUBLE:
		/* The shortest form that reads back the same. */
		for (int prec = 6; prec <= 17; prec++) {
			snprintf(buf, len, "%.*g", prec, *(const double *)p);
			if (strtod(buf, NULL) == *(const double *)p)
				break;
		}
		break;
	case T_BOOL:
		snprintf(buf, len, "%s", *(const bool *)p ? "true" : "false");
		break;
	case T_STRING:
		snprintf(buf, len, "%s", p);
		break;
	case T_ENUM:
		snprintf(buf, len, "%s", k->choices[*(const int *)p]);
		break;
	case T_VEC: {
		size_t used = 0;
		const double *v = (const double *)p;
		used += (size_t)snprintf(buf, len, "[");
		for (size_t i = 0; i < k->size && used < len; i++)
			used += (size_t)snprintf(buf + used, len - used, "%s%.17g",
						 i ? "," : "", v[i]);
		if (used < len)
			snprintf(buf + used, len - used, "]");
		break;
	}
	}
}

void ncp_config_defaults(struct ncp_config *c)
{
	char msg[200];
	memset(c, 0, sizeof(*c));
	ncp_reach_params_default(&c->reach);
	ncp_task_params_default(&c->task);
	for (int i = 0; i < N_KEYS; i++) {
		int ret = set_scalar(c, &keys[i], keys[i].def, msg, sizeof(msg));
		ncp_assert(ret == 0);
	}
}

/* --- YAML --------------------------------------------------------------- */

struct loader {
	yaml_parser_t parser;
	struct ncp_config *c;
	const char *name;
	char *err;
	size_t errlen;
	bool seen[N_KEYS];
};

static int fail_at(struct loader *L, yaml_mark_t m, const char *fmt, ...)
	NCP_PRINTF(3, 4);
static int fail_at(struct loader *L, yaml_mark_t m, const char *fmt, ...)
{
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return ncp_errf(L->err, L->errlen, "%s:%zu:%zu: %s", L->name,
			m.line + 1, m.column + 1, msg);
}

static int next_event(struct loader *L, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&L->parser, ev)) {
		yaml_mark_t m = L->parser.problem_mark;
		return fail_at(L, m, "YAML syntax: %s%s%s",
			       L->parser.problem ? L->parser.problem : "error",
			       L->parser.context ? " " : "",
			       L->parser.context ? L->parser.context : "");
	}
	return 0;
}

static int load_mapping(struct loader *L, const char *prefix);

/* The value of key `full` (its key event at mark km). */
static int load_value(struct loader *L, const char *full, yaml_mark_t km)
{
	yaml_event_t ev;
	char msg[256], hint[96];
	int ret = next_event(L, &ev);
	if (ret)
		return ret;
	const struct key *k = find_key(full);
	int idx = k ? (int)(k - keys) : -1;

	if (ev.type == YAML_ALIAS_EVENT) {
		ret = fail_at(L, ev.start_mark, "key '%s': aliases are not "
			      "supported", full);
	} else if (ev.type == YAML_MAPPING_START_EVENT) {
		if (k)
			ret = fail_at(L, ev.start_mark, "key '%s': expected a %s, "
				      "got a mapping", full, type_names[k->type]);
		else if (!is_section(full)) {
			suggest(full, hint, sizeof(hint));
			ret = fail_at(L, km, "unknown section '%s'%s", full, hint);
		} else
			ret = load_mapping(L, full);
	} else if (!k) {
		suggest(full, hint, sizeof(hint));
		ret = fail_at(L, km, is_section(full) ?
			      "'%s' is a section: expected a mapping%s" :
			      "unknown key '%s'%s", full, hint);
	} else if (L->seen[idx]) {
		ret = fail_at(L, km, "key '%s' given twice", full);
	} else if (ev.type == YAML_SEQUENCE_START_EVENT) {
		if (k->type != T_VEC) {
			ret = fail_at(L, ev.start_mark, "key '%s': expected a %s, "
				      "got a list", full, type_names[k->type]);
		} else {
			/* Collect the elements into "a,b,..." and parse that. */
			char joined[256] = "";
			yaml_mark_t sm = ev.start_mark;
			for (;;) {
				yaml_event_t el;
				ret = next_event(L, &el);
				if (ret)
					break;
				if (el.type == YAML_SEQUENCE_END_EVENT) {
					yaml_event_delete(&el);
					break;
				}
				if (el.type != YAML_SCALAR_EVENT) {
					ret = fail_at(L, el.start_mark, "key '%s': "
						      "expected numbers in the list",
						      full);
					yaml_event_delete(&el);
					break;
				}
				size_t used = strlen(joined);
				snprintf(joined + used, sizeof(joined) - used, "%s%s",
					 used ? "," : "",
					 (const char *)el.data.scalar.value);
				yaml_event_delete(&el);
			}
			if (!ret && set_scalar(L->c, k, joined, msg, sizeof(msg)))
				ret = fail_at(L, sm, "key '%s': %s", full, msg);
		}
	} else if (ev.type == YAML_SCALAR_EVENT) {
		const char *text = (const char *)ev.data.scalar.value;
		if (k->type == T_VEC)
			ret = fail_at(L, ev.start_mark, "key '%s': expected a list "
				      "of %zu numbers like [0.0, 1.25]", full,
				      k->size);
		else if (set_scalar(L->c, k, text, msg, sizeof(msg)))
			ret = fail_at(L, ev.start_mark, "key '%s': %s", full, msg);
	} else {
		ret = fail_at(L, ev.start_mark, "key '%s': unexpected YAML", full);
	}
	if (!ret && k)
		L->seen[idx] = true;
	yaml_event_delete(&ev);
	return ret;
}

static int load_mapping(struct loader *L, const char *prefix)
{
	for (;;) {
		yaml_event_t ev;
		char full[160];
		int ret = next_event(L, &ev);
		if (ret)
			return ret;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			ret = fail_at(L, ev.start_mark, "expected a key%s%s",
				      *prefix ? " in section " : "", prefix);
			yaml_event_delete(&ev);
			return ret;
		}
		const char *name = (const char *)ev.data.scalar.value;
		size_t lp = strlen(prefix), ln = strlen(name);
		if (lp + ln + 2 > sizeof(full)) {
			ret = fail_at(L, ev.start_mark, "key too long");
			yaml_event_delete(&ev);
			return ret;
		}
		memcpy(full, prefix, lp);
		if (lp)
			full[lp++] = '.';
		memcpy(full + lp, name, ln + 1);
		yaml_mark_t km = ev.start_mark;
		yaml_event_delete(&ev);
		ret = load_value(L, full, km);
		if (ret)
			return ret;
	}
}

int ncp_config_load_string(struct ncp_config *c, const char *yaml, size_t len,
			   const char *name, char *err, size_t errlen)
{
	struct loader L = { .c = c, .name = name, .err = err, .errlen = errlen };
	yaml_event_t ev;
	int ret = 0;
	bool doc = false;

	if (!yaml_parser_initialize(&L.parser))
		return ncp_errf(err, errlen, "%s: cannot start the YAML parser",
				name);
	yaml_parser_set_input_string(&L.parser, (const unsigned char *)yaml, len);
	for (;;) {
		ret = next_event(&L, &ev);
		if (ret)
			break;
		yaml_event_type_t t = ev.type;
		yaml_mark_t m = ev.start_mark;
		bool is_null = false;
		if (t == YAML_SCALAR_EVENT) {
			const char *v = (const char *)ev.data.scalar.value;
			is_null = !*v || !strcmp(v, "~") || !strcmp(v, "null");
		}
		yaml_event_delete(&ev);
		if (t == YAML_STREAM_END_EVENT)
			break;
		if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT)
			continue;
		if (t == YAML_DOCUMENT_START_EVENT) {
			if (doc) {
				ret = fail_at(&L, m, "more than one YAML document");
				break;
			}
			doc = true;
			continue;
		}
		if (t == YAML_MAPPING_START_EVENT) {
			ret = load_mapping(&L, "");
			if (ret)
				break;
			continue;
		}
		/* A document that is only null ("", "~", "null") changes
		 * nothing. */
		if (t == YAML_SCALAR_EVENT && is_null)
			continue;
		ret = fail_at(&L, m, "expected a mapping of keys at the top level");
		break;
	}
	yaml_parser_delete(&L.parser);
	return ret;
}

/* The largest config file read: far more than every key needs. */
#define CONFIG_FILE_MAX (1024 * 1024)

int ncp_config_load_file(struct ncp_config *c, const char *path, char *err,
			 size_t errlen)
{
	void *buf;
	size_t len;
	int ret = ncp_file_read(path, CONFIG_FILE_MAX, &buf, &len);

	if (ret == -EFBIG || ret == -EISDIR) {
		ncp_errf(err, errlen, "%s: not a regular file under 1 MiB", path);
		return ret;
	}
	if (ret) {
		ncp_errf(err, errlen, "%s: cannot open: %s", path,
			 ncp_strerror(ret));
		return ret;
	}
	ret = ncp_config_load_string(c, buf, len, path, err, errlen);
	free(buf);
	return ret;
}

int ncp_config_set(struct ncp_config *c, const char *assignment, char *err,
		   size_t errlen)
{
	char name[160], msg[256], hint[96];
	const char *eq = strchr(assignment, '=');
	if (!eq || eq == assignment || (size_t)(eq - assignment) >= sizeof(name))
		return ncp_errf(err, errlen, "--set %s: expected KEY=VALUE",
				assignment);
	memcpy(name, assignment, (size_t)(eq - assignment));
	name[eq - assignment] = '\0';
	const struct key *k = find_key(name);
	if (!k) {
		suggest(name, hint, sizeof(hint));
		return ncp_errf(err, errlen, "--set %s: unknown key '%s'%s",
				assignment, name, hint);
	}
	int ret = set_scalar(c, k, eq + 1, msg, sizeof(msg));
	if (ret)
		ncp_errf(err, errlen, "--set %s: key '%s': %s", assignment, name,
			 msg);
	return ret ? -EINVAL : 0;
}

/* Every point of the trajectory reachable (the file's line with it). */
static int check_traj(const struct ncp_config *c, char *err, size_t errlen)
{
	double *xy;
	int *lines, n;
	char why[320], msg[400];
	int ret = ncp_task_path(&c->task, &xy, &lines, &n, msg, sizeof(msg));
	if (ret)
		return ncp_errf_code(err, errlen, -ret, "%s", msg);
	for (int i = 0; i < n && !ret; i++) {
		if (!ncp_reach_target_check(&c->reach, xy + 2 * i, why, sizeof(why)))
			continue;
		if (c->task.kind == NCP_TASK_PATH)
			ret = ncp_errf(err, errlen, "%s:%d: point (%g, %g) is out "
				       "of reach: %s", c->task.path_file,
				       lines[i], xy[2 * i], xy[2 * i + 1], why);
		else
			ret = ncp_errf(err, errlen, "task.kind %s: point (%.3f, "
				       "%.3f) is out of reach: %s",
				       ncp_task_kind_name(c->task.kind), xy[2 * i],
				       xy[2 * i + 1], why);
	}
	free(xy);
	free(lines);
	return ret;
}

int ncp_config_validate(const struct ncp_config *c, char *err, size_t errlen)
{
	const double *ctr = c->task.centre;
	double xy[2];
	char why[320];

	if (ncp_reach_target_check(&c->reach, ctr, why, sizeof(why)))
		return ncp_errf(err, errlen, "task.centre [%g, %g] is outside the "
				"reachable workspace: %s", ctr[0], ctr[1], why);
	/* Every target the tasks can ask for must be reachable. */
	for (int i = 0; i < 72; i++) {
		double a = 2.0 * M_PI * i / 72.0;
		double rs[2] = { c->task.radius, c->task.random_radius };
		const char *names[2] = { "task.radius", "task.random_radius" };
		for (int k = 0; k < 2; k++) {
			xy[0] = ctr[0] + rs[k] * cos(a);
			xy[1] = ctr[1] + rs[k] * sin(a);
			if (ncp_reach_target_check(&c->reach, xy, why, sizeof(why)))
				return ncp_errf(err, errlen, "%s %g around task.centre "
						"[%g, %g] leaves the reachable workspace "
						"(at [%.3f, %.3f]: %s)", names[k], rs[k],
						ctr[0], ctr[1], xy[0], xy[1], why);
		}
	}
	if (c->reach.arm.links != 2 && c->ncp.train)
		return ncp_errf(err, errlen, "ncp.train: the co-processor takes "
				"the 2-link arm's state (arm.links is %d)",
				c->reach.arm.links);
	if (c->reach.arm.links != 2 && c->reach.control == NCP_REACH_JOINT &&
	    c->reach.stim.source == NCP_STIM_SRC_ORACLE)
		return ncp_errf(err, errlen, "stim.source oracle: the oracle fits "
				"M1's plan of two dimensions; with reach.control "
				"joint and arm.links %d it has %d (the joint "
				"errors)", c->reach.arm.links, c->reach.arm.links);
	if (c->task.period < c->reach.dt)
		return ncp_errf(err, errlen, "task.period %g is shorter than dt %g",
				c->task.period, c->reach.dt);
	if (ncp_task_is_traj(c->task.kind)) {
		int ret = check_traj(c, err, errlen);
		if (ret)
			return ret;
	}
	if (c->task.kind == NCP_TASK_STEPS)
		for (int e = 0; e < 2; e++)
			if (ncp_reach_target_check(&c->reach, c->task.line + 2 * e,
						   why, sizeof(why)))
				return ncp_errf(err, errlen, "task.kind steps: "
						"task.line's %s (%.3f, %.3f) is "
						"out of reach: %s", e ? "end" :
						"start", c->task.line[2 * e],
						c->task.line[2 * e + 1], why);
	if (!c->data_dir[0])
		return ncp_errf(err, errlen, "data_dir is empty");
	if (c->reach.stim.noise > c->reach.stim.max)
		return ncp_errf(err, errlen, "stim.noise %g exceeds stim.max %g",
				c->reach.stim.noise, c->reach.stim.max);
	for (const char *p = c->instance; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_' ||
		      *p == '.') || c->instance[0] == '.')
			return ncp_errf(err, errlen, "instance '%s': use letters, "
					"digits, '-', '_' and '.' only", c->instance);
	if (!c->instance[0])
		return ncp_errf(err, errlen, "instance is empty");
	if (c->control.socket[0] && c->control.socket[0] != '/')
		return ncp_errf(err, errlen, "control.socket '%s' must be an "
				"absolute path", c->control.socket);
	enum ncp_emu_arch arch;
	if (ncp_emu_arch_parse(c->emulator.online_arch, &arch))
		return ncp_errf(err, errlen, "emulator.online_arch '%s': expected "
				"ridge, ridge-running, mlp, mlp-running or dense",
				c->emulator.online_arch);
	if (c->shm.name[0] != '/' || strchr(c->shm.name + 1, '/') ||
	    !c->shm.name[1])
		return ncp_errf(err, errlen, "shm.name '%s' must be '/' and a name "
				"without further '/'", c->shm.name);
	return 0;
}

int ncp_config_get(const struct ncp_config *c, const char *key, char *buf,
		   size_t len)
{
	const struct key *k = find_key(key);
	if (!k)
		return -ENOENT;
	format_value(c, k, buf, len);
	return 0;
}

void ncp_config_json(const struct ncp_config *c, struct ncp_json *j)
{
	char section[64] = "";
	ncp_json_obj(j);
	for (int i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];
		const char *dot = strchr(k->name, '.');
		char sec[64] = "";
		if (dot)
			snprintf(sec, sizeof(sec), "%.*s", (int)(dot - k->name),
				 k->name);
		if (strcmp(sec, section)) {
			if (section[0])
				ncp_json_end(j);
			if (sec[0]) {
				ncp_json_key(j, sec);
				ncp_json_obj(j);
			}
			snprintf(section, sizeof(section), "%s", sec);
		}
		ncp_json_key(j, dot ? dot + 1 : k->name);
		const char *p = (const char *)c + k->off;
		switch (k->type) {
		case T_INT: ncp_json_int(j, *(const int *)p); break;
		case T_U64: ncp_json_int(j, (int64_t)*(const uint64_t *)p); break;
		case T_DOUBLE: ncp_json_num_exact(j, *(const double *)p); break;
		case T_BOOL: ncp_json_bool(j, *(const bool *)p); break;
		case T_STRING: ncp_json_str(j, p); break;
		case T_ENUM: ncp_json_str(j, k->choices[*(const int *)p]); break;
		case T_VEC:
			ncp_json_arr(j);
			for (size_t e = 0; e < k->size; e++)
				ncp_json_num_exact(j, ((const double *)p)[e]);
			ncp_json_end(j);
			break;
		}
	}
	if (section[0])
		ncp_json_end(j);
	ncp_json_end(j);
}

int ncp_config_diff(const struct ncp_config *a, const struct ncp_config *b,
		    void (*fn)(const char *key, const char *old_value,
			       const char *new_value, bool reloadable,
			       void *ctx),
		    void *ctx)
{
	char va[256], vb[256];
	int n = 0;
	for (int i = 0; i < N_KEYS; i++) {
		format_value(a, &keys[i], va, sizeof(va));
		format_value(b, &keys[i], vb, sizeof(vb));
		if (strcmp(va, vb)) {
			n++;
			if (fn)
				fn(keys[i].name, va, vb, keys[i].reload, ctx);
		}
	}
	return n;
}

void ncp_config_apply_reloadable(struct ncp_config *dst,
				 const struct ncp_config *src)
{
	for (int i = 0; i < N_KEYS; i++) {
		const struct key *k = &keys[i];
		size_t size;
		if (!k->reload)
			continue;
		switch (k->type) {
		case T_INT: case T_ENUM: size = sizeof(int); break;
		case T_U64: size = sizeof(uint64_t); break;
		case T_DOUBLE: size = sizeof(double); break;
		case T_BOOL: size = sizeof(bool); break;
		case T_STRING: size = k->size; break;
		case T_VEC: size = sizeof(double) * k->size; break;
		default: continue;
		}
		memcpy((char *)dst + k->off, (const char *)src + k->off, size);
	}
}

int ncp_config_key_range(const char *key, double *min, double *max)
{
	const struct key *k = find_key(key);
	if (!k || (k->type != T_INT && k->type != T_U64 && k->type != T_DOUBLE))
		return -ENOENT;
	*min = k->min;
	*max = k->max;
	return 0;
}

bool ncp_config_key_info(int i, struct ncp_config_key_info *info)
{
	if (i < 0 || i >= N_KEYS)
		return false;
	const struct key *k = &keys[i];
	memset(info, 0, sizeof(*info));
	info->key = k->name;
	info->type = type_names[k->type];
	info->help = k->help;
	info->reloadable = k->reload;
	snprintf(info->default_value, sizeof(info->default_value), "%s", k->def);
	switch (k->type) {
	case T_INT: case T_U64: case T_DOUBLE:
		snprintf(info->range, sizeof(info->range), "%g .. %g", k->min,
			 k->max);
		break;
	case T_VEC:
		snprintf(info->range, sizeof(info->range), "%zu values, each "
			 "%g .. %g", k->size, k->min, k->max);
		break;
	case T_ENUM: {
		size_t used = 0;
		for (int c = 0; k->choices[c] && used < sizeof(info->range); c++)
			used += (size_t)snprintf(info->range + used,
						 sizeof(info->range) - used, "%s%s",
						 c ? ", " : "", k->choices[c]);
		break;
	}
	default:
		break;
	}
	return true;
}
