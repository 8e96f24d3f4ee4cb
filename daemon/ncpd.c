/* ncpd: the neural co-processor daemon.  See ncpd --help and docs/. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_control.h"
#include "daemon/ncp_ctlsrv.h"
#include "daemon/ncp_coproc.h"
#include "daemon/ncp_emulator.h"
#include "daemon/ncp_loop.h"
#include "daemon/ncp_service.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_blas.h"
#include "models/base/ncp_json.h"
#include "models/io/ncp_file.h"
#include "shm/ncp_paths.h"
#include "shm/ncp_shm_writer.h"

#define EXIT_USAGE 2

struct options {
	const char *config_path;
	const char *record;
	bool foreground;
	const char **sets;
	int n_sets;
	bool free_run;
	double duration;	/* simulated seconds; 0: until stopped */
	double pause_at;	/* simulated seconds; 0: never */
	bool summary_json;
	bool check_config;
	const char *stim_file;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: ncpd [OPTIONS]\n"
"Simulate the REACH spiking model of motor cortex driving an arm.\n"
"\n"
"  --config FILE      configuration file (default: config/ncpd.yaml of the\n"
"                     source tree when run from its build/,\n"
"                     "NCP_SYSCONFDIR"/ncpd/ncpd.yaml when installed, else the\n"
"                     compiled-in defaults, which are config/ncpd.yaml)\n"
"  --set KEY=VALUE    override one configuration key (repeatable), e.g.\n"
"                     --set task.kind=random --set task.seed=2\n"
"  --foreground       stay in the foreground (default: detach into the\n"
"                     background once running; a run with --duration\n"
"                     always stays in the foreground)\n"
"  --free-run         do not sleep: run as fast as the CPU goes\n"
"  --duration SECONDS\n"
"                     simulate this many seconds, then exit cleanly\n"
"  --pause-at SECONDS\n"
"                     pause the simulation when it reaches this time (as\n"
"                     'ncpctl pause' would, on that exact step), so that\n"
"                     commands sent then act from it; 'ncpctl resume' goes on\n"
"  --stim-file FILE   replay a stimulation: a float32 .npy of shape (steps,\n"
"                     stim.electrodes), row k the theta of step k, zero\n"
"                     after the last row (docs/stimulation.md)\n"
"  --record NAME      record the run into DATA_DIR/NAME/ (m1.npy, arm.npy,\n"
"                     target.npy, meta.json; docs/file-formats.md)\n"
"  --summary json     print one JSON object with the run's figures on\n"
"                     standard output at exit\n"
"  --check-config     validate the configuration and exit\n"
"  --help-config      list every configuration key (a Markdown table)\n"
"  --version          print the version\n"
"  --help             this text\n"
"\n"
"Configuration keys: docs/config.md.  Exit status: 0 on success, 1 when\n"
"the run fails, 2 for a bad flag or configuration.\n");
}

/* Where an installed ncpd lives and finds its configuration (the
 * Makefile passes make install's BINDIR and SYSCONFDIR). */
#ifndef NCP_BINDIR
#define NCP_BINDIR "/usr/local/bin"
#endif
#ifndef NCP_SYSCONFDIR
#define NCP_SYSCONFDIR "/etc"
#endif

/* The directory this binary is in, into buf.  False if unknown. */
static bool self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n <= 0)
		return false;
	buf[n] = '\0';
	if (!(slash = strrchr(buf, '/')))
		return false;
	*slash = '\0'; /* drop "/ncpd" */
	return true;
}

/* config/ncpd.yaml of the tree this binary was built in (build/ncpd or
 * build/<sanitizer>/ncpd), if it is there. */
static const char *tree_config(char *buf, size_t len)
{
	static const char tail[] = "/config/ncpd.yaml";
	char exe[PATH_MAX];
	char *slash;

	if (!self_dir(exe, sizeof(exe)))
		return NULL;
	for (int up = 0; up < 2 && (slash = strrchr(exe, '/')); up++) {
		bool is_build = strcmp(slash + 1, "build") == 0;
		*slash = '\0';
		if (!is_build)
			continue;
		size_t root = strlen(exe);
		if (root + sizeof(tail) > len)
			return NULL;
		memcpy(buf, exe, root);
		memcpy(buf + root, tail, sizeof(tail));
		return access(buf, R_OK) == 0 ? buf : NULL;
	}
	return NULL;
}

/* SYSCONFDIR/ncpd/ncpd.yaml of the installation this binary is part of:
 * when it sits in BINDIR, below the same root (/, or DESTDIR for a staged
 * install).  NULL when the binary is not in BINDIR. */
static const char *installed_config(char *buf, size_t len)
{
	static const char bindir[] = NCP_BINDIR;
	char exe[PATH_MAX];
	size_t n, b = strlen(bindir);

	while (b > 1 && bindir[b - 1] == '/')
		b--;
	if (!self_dir(exe, sizeof(exe)) || (n = strlen(exe)) < b ||
	    strncmp(exe + n - b, bindir, b) != 0)
		return NULL;
	int w = snprintf(buf, len, "%.*s%s/ncpd/ncpd.yaml", (int)(n - b), exe,
			 NCP_SYSCONFDIR);
	return w > 0 && (size_t)w < len ? buf : NULL;
}

/* The key table as Markdown (docs/config.md holds this table). */
static void print_keys(void)
{
	struct ncp_config_key_info k;
	printf("| key | type | default | range | reload | meaning |\n");
	printf("| --- | --- | --- | --- | --- | --- |\n");
	for (int i = 0; ncp_config_key_info(i, &k); i++)
		printf("| `%s` | %s | `%s` | %s | %s | %s |\n", k.key, k.type,
		       k.default_value, k.range[0] ? k.range : "", k.reloadable ?
		       "yes" : "no", k.help);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_CONFIG = 256, OPT_FOREGROUND, OPT_RECORD, OPT_SET, OPT_FREE, OPT_DURATION, OPT_PAUSE_AT, OPT_SUMMARY,
	       OPT_CHECK, OPT_VERSION, OPT_HELP, OPT_HELP_CONFIG, OPT_STIM_FILE };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "foreground", no_argument, NULL, OPT_FOREGROUND },
		{ "record", required_argument, NULL, OPT_RECORD },
		{ "set", required_argument, NULL, OPT_SET },
		{ "free-run", no_argument, NULL, OPT_FREE },
		{ "stim-file", required_argument, NULL, OPT_STIM_FILE },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "pause-at", required_argument, NULL, OPT_PAUSE_AT },
		{ "summary", required_argument, NULL, OPT_SUMMARY },
		{ "check-config", no_argument, NULL, OPT_CHECK },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "help-config", no_argument, NULL, OPT_HELP_CONFIG },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->sets = calloc((size_t)argc, sizeof(char *));
	if (!o->sets)
		return -ENOMEM;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;
		switch (c) {
		case OPT_CONFIG:
			o->config_path = optarg;
			break;
		case OPT_SET:
			o->sets[o->n_sets++] = optarg;
			break;
		case OPT_FOREGROUND:
			o->foreground = true;
			break;
		case OPT_RECORD:
			o->record = optarg;
			break;
		case OPT_FREE:
			o->free_run = true;
			break;
		case OPT_STIM_FILE:
			o->stim_file = optarg;
			break;
		case OPT_DURATION:
			errno = 0;
			o->duration = strtod(optarg, &end);
			if (!*optarg || *end || errno || !isfinite(o->duration) ||
			    o->duration <= 0 || o->duration > 1e7) {
				fprintf(stderr, "ncpd: --duration %s: expected "
					"seconds, a number > 0 and <= 1e7\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_PAUSE_AT:
			errno = 0;
			o->pause_at = strtod(optarg, &end);
			if (!*optarg || *end || errno || !isfinite(o->pause_at) ||
			    o->pause_at <= 0 || o->pause_at > 1e7) {
				fprintf(stderr, "ncpd: --pause-at %s: expected "
					"seconds, a number > 0 and <= 1e7\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_SUMMARY:
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "ncpd: --summary %s: the only "
					"format is json\n", optarg);
				return -EINVAL;
			}
			o->summary_json = true;
			break;
		case OPT_CHECK:
			o->check_config = true;
			break;
		case OPT_VERSION:
			printf("ncpd %s\n", NCP_VERSION);
			exit(0);
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case OPT_HELP_CONFIG:
			print_keys();
			exit(0);
		case ':':
			fprintf(stderr, "ncpd: %s needs a value (see ncpd --help)\n",
				argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "ncpd: unknown option '%s' (see ncpd "
				"--help)\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ncpd: unexpected argument '%s' (see ncpd --help)\n",
			argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* The configuration from its file (or the compiled-in one) and the --set
 * overrides, validated.  *source says which file was read.  On error the
 * message is in err.  The file: --config, else the tree's when run from
 * the tree, else the installed one when installed, else none. */
static int read_config(const struct options *o, struct ncp_config *cfg,
		       const char **source, char *err, size_t errlen)
{
	static char path[PATH_MAX], missing[PATH_MAX + 64];
	const char *file = o->config_path;
	int ret;

	ncp_config_defaults(cfg);
	if (!file)
		file = tree_config(path, sizeof(path));
	if (!file && (file = installed_config(path, sizeof(path))) &&
	    access(file, F_OK) != 0) {
		snprintf(missing, sizeof(missing), "compiled-in defaults (no %s)",
			 file);
		file = NULL;
	}
	if (file)
		ret = ncp_config_load_file(cfg, file, err, errlen);
	else
		ret = ncp_config_load_string(cfg, ncp_config_default_yaml,
					     strlen(ncp_config_default_yaml),
					     "<compiled-in ncpd.yaml>", err, errlen);
	for (int i = 0; !ret && i < o->n_sets; i++)
		ret = ncp_config_set(cfg, o->sets[i], err, errlen);
	if (!ret)
		ret = ncp_config_validate(cfg, err, errlen);
	*source = file ? file : missing[0] ? missing : "compiled-in defaults";
	return ret;
}

struct daemon {
	struct options opt;
	struct ncp_config cfg;
	const char *cfg_source;
	char socket_path[108];
	char lock_path[PATH_MAX];
	int lock_fd;
	int qos_fd;			/* held open: the PM QoS request */
	int report;			/* to the waiting parent; -1: none */
	struct ncp_sim sim;
	bool sim_ok;
	struct ncp_shm_writer *shm;
	struct ncp_recorder *recorder;
	struct ncp_emulator *emulator;
	struct ncp_online *online;
	struct ncp_coproc *coproc;
	struct ncp_cpn_online *cpn_online;
	struct ncp_loop loop;
	bool loop_ok;
	struct ncp_control control;
	bool control_ok;
	struct ncp_ctlsrv *ctlsrv;
	pthread_t thread;
	bool thread_ok;
	float *stim_seq;		/* --stim-file, steps x E */
	uint64_t stim_steps;
};

/* The queue the main thread feeds the loop through (SIGHUP changes). */
#define MAIN_QUEUE 1

struct reload_ctx {
	bool task_changed;
	bool log_changed;
};

static void on_change(const char *key, const char *old_value,
		      const char *new_value, bool reloadable, void *arg)
{
	struct reload_ctx *rc = arg;
	if (!reloadable) {
		ncp_log_warn("reload: %s changed (%s -> %s) but needs a restart; "
			     "keeping %s", key, old_value, new_value, old_value);
		return;
	}
	ncp_log_notice("reload: %s: %s -> %s", key, old_value, new_value);
	if (!strncmp(key, "task.", 5))
		rc->task_changed = true;
	if (!strcmp(key, "log.level"))
		rc->log_changed = true;
}

/* SIGHUP: read the configuration again and apply what may change. */
static void reload(struct daemon *d)
{
	struct ncp_config fresh;
	struct reload_ctx rc = { 0 };
	const char *source;
	char err[512];

	if (read_config(&d->opt, &fresh, &source, err, sizeof(err))) {
		ncp_log_err("reload failed, keeping the configuration in use: %s",
			    err);
		return;
	}
	if (!ncp_config_diff(&d->cfg, &fresh, on_change, &rc)) {
		ncp_log_notice("reload: %s: nothing changed", source);
		return;
	}
	if (rc.task_changed && !ncp_sim_task_fits(&d->sim, &fresh.task)) {
		ncp_log_warn("reload: task.kind %s needs the trajectory generator "
			     "built for it at start; the task is not changed "
			     "(restart ncpd)", ncp_task_kind_name(fresh.task.kind));
		fresh.task = d->cfg.task;
		rc.task_changed = false;
	}
	ncp_config_apply_reloadable(&d->cfg, &fresh);
	ncp_control_set_config(&d->control, &d->cfg);
	if (rc.log_changed)
		ncp_log_init("ncpd", NCP_LOG_ERR + d->cfg.log_level);
	if (d->online && ncp_online_enabled(d->online) != d->cfg.emulator.online)
		ncp_online_enable(d->online, d->cfg.emulator.online);
	if (rc.task_changed) {
		struct ncp_loop_cmd c = { .kind = NCP_LOOP_TASK, .task = d->cfg.task };
		if (!ncp_loop_send(&d->loop, MAIN_QUEUE, &c))
			ncp_log_err("reload: the loop's command queue is full; "
				    "the task change was not applied");
	}
}

/* SIGINT, SIGTERM and SIGHUP: the handler notes the signal and wakes the
 * main thread through an eventfd.  It may run in any thread that does not
 * block them: the main thread once running, or a thread a library
 * started before main() (OpenBLAS's workers), which a signalfd or
 * sigwait in the main thread would leave to the default action (exit). */
static _Atomic unsigned pending_signals;	/* bit (1 << signo) */
static int signal_fd = -1;			/* eventfd */

static void on_signal(int sig)
{
	int saved = errno;
	uint64_t one = 1;
	/* Lock-free (an atomic OR), so async-signal-safe; read by
	 * atomic_exchange in supervise. */
	atomic_fetch_or(&pending_signals, 1u << sig);
	ssize_t n = write(signal_fd, &one, sizeof(one));
	(void)n;
	errno = saved;
}

/* The main thread once running: signals, shutdown requests, and reports of
 * what the loop cannot print itself, until the loop finishes.  It sleeps
 * in poll() on the signals' eventfd and the loop's done_fd, so it wakes at
 * once when the loop ends or a signal comes, and every 100 ms for the
 * reports. */
static void supervise(struct daemon *d)
{
	struct ncp_loop *loop = &d->loop;
	uint64_t slips_seen = 0, rollbacks_seen = 0;
	struct pollfd pf[2] = {
		{ .fd = signal_fd, .events = POLLIN },
		{ .fd = loop->done_fd, .events = POLLIN },
	};

	/* Pairs with the release store of `finished` at the end of
	 * ncp_loop_thread: the loop's results are visible after it. */
	while (!atomic_load_explicit(&loop->finished, memory_order_acquire)) {
		uint64_t n;
		if (poll(pf, 2, 100) > 0 && (pf[0].revents & POLLIN) &&
		    read(signal_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
			ncp_log_err("reading signals: %s", strerror(errno));
		unsigned sigs = atomic_exchange(&pending_signals, 0);
		if (sigs & (1u << SIGINT | 1u << SIGTERM)) {
			int sig = sigs & 1u << SIGTERM ? SIGTERM : SIGINT;
			ncp_log_notice("%s: stopping", strsignal(sig));
			atomic_store(&loop->stop, true);
		}
		if (sigs & 1u << SIGHUP)
			reload(d);
		if (d->control_ok && atomic_load(&d->control.shutdown)) {
			ncp_log_notice("shutdown requested over the control socket");
			atomic_store(&d->control.shutdown, false);
		}
		uint64_t slips = atomic_load_explicit(&loop->pub_slips,
						      memory_order_relaxed);
		if (slips != slips_seen) {
			ncp_log_warn("the loop fell more than rt.catchup_ms behind "
				     "and re-anchored its clock (%llu slips so far; "
				     "furthest behind %.1f ms)",
				     (unsigned long long)slips,
				     atomic_load(&loop->pub_behind_ns) / 1e6);
			slips_seen = slips;
		}
		if (d->online) {
			struct ncp_online_status os;
			ncp_online_status(d->online, &os);
			if (os.rollbacks != rollbacks_seen) {
				ncp_log_warn("online training rolled back to the weights "
					     "in use (%llu so far): %s",
					     (unsigned long long)os.rollbacks,
					     os.last_rollback);
				rollbacks_seen = os.rollbacks;
			}
		}
	}
}

static void print_summary(const struct daemon *d)
{
	const struct ncp_loop *loop = &d->loop;
	const struct ncp_sim *sim = &d->sim;
	struct ncp_json j;
	double wall = ncp_rt_clock_wall(&loop->clock);

	ncp_json_init(&j);
	ncp_json_obj(&j);
	ncp_sim_json(sim, &j);
	ncp_json_key(&j, "wall_seconds");
	ncp_json_num(&j, wall);
	ncp_json_key(&j, "realtime_factor");
	ncp_json_num(&j, wall > 0 ? (double)sim->step * sim->dt / wall : 0);
	ncp_loop_json(loop, &j);
	if (d->emulator)
		ncp_emulator_json(d->emulator, &j);
	if (d->online)
		ncp_online_json(d->online, &j);
	if (d->coproc)
		ncp_coproc_json(d->coproc, &j);
	if (d->cpn_online)
		ncp_cpn_online_json(d->cpn_online, &j);
	ncp_rt_memory_json(&j);
	ncp_json_end(&j);
	int ret = ncp_json_finish(&j);
	if (ret == 0)
		printf("%s\n", j.buf);
	else
		ncp_log_err("cannot format the summary: %s", ncp_strerror(ret));
	fflush(stdout);
	ncp_json_fini(&j);
}

/* Where the control socket and the instance lock go. */
static int resolve_paths(struct daemon *d, char *err, size_t errlen)
{
	if (d->cfg.control.socket[0])
		snprintf(d->socket_path, sizeof(d->socket_path), "%s",
			 d->cfg.control.socket);
	else if (ncp_paths_socket_default(d->socket_path, sizeof(d->socket_path)))
		return ncp_errf(err, errlen, "the default control socket path is "
				"too long; set control.socket");
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", d->socket_path);
	char *slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	int n = snprintf(d->lock_path, sizeof(d->lock_path), "%s/%s.pid", dir,
			 d->cfg.instance);
	if (n < 0 || (size_t)n >= sizeof(d->lock_path))
		return ncp_errf(err, errlen, "lock path too long");
	int ret = ncp_service_mkdirs(dir, 0750);
	if (ret)
		return ncp_errf(err, errlen, "cannot create %s: %s", dir,
				ncp_strerror(ret));
	return 0;
}

/* A model named by the configuration (emulator.model, ncp.model): none;
 * auto, DATA_DIR/AUTO.safetensors (what ncp-train writes by default) if
 * it is there, else none; or a path or a name in data_dir.  Logs which
 * (`what` names it, `key` is its configuration key).  0 with path[0] = 0 for none; -errno with a message. */
static int model_path(const struct ncp_config *cfg, const char *name,
		      const char *auto_name, const char *what, const char *key,
		      char *path, size_t len, char *err, size_t errlen)
{
	char file[128];
	int ret;

	path[0] = '\0';
	if (!strcmp(name, "none")) {
		ncp_log_info("%s: no model (%s none)", what, key);
		return 0;
	}
	if (!strcmp(name, "auto")) {
		snprintf(file, sizeof(file), "%s.safetensors", auto_name);
		ret = ncp_file_resolve(cfg->data_dir, file, path, len, err, errlen);
		if (ret)
			return ret;
		if (access(path, F_OK) != 0) {
			ncp_log_info("%s: no model (%s auto: no %s)", what, key,
				     path);
			path[0] = '\0';
			return 0;
		}
		ncp_log_info("%s: model %s (%s auto)", what, path, key);
		return 0;
	}
	ret = ncp_control_model_path(cfg->data_dir, name, false, path, len, err,
				     errlen);
	if (!ret)
		ncp_log_info("%s: model %s", what, path);
	return ret;
}

/* The emulator's and the co-processor's models at start. */
static int load_models(struct daemon *d, char *err, size_t errlen)
{
	const struct ncp_config *cfg = &d->cfg;
	char path[PATH_MAX], shown[64], msg[600];
	int ret;

	ret = model_path(cfg, cfg->emulator.model, NCP_EMULATOR_AUTO_NAME,
			 "emulator", "emulator.model", path, sizeof(path), msg,
			 sizeof(msg));
	if (!ret && path[0]) {
		ncp_control_model_name(path, shown, sizeof(shown));
		ret = ncp_emulator_load(d->emulator, path, shown, msg, sizeof(msg));
	}
	if (ret)
		return ncp_errf(err, errlen, "emulator.model: %s", msg);
	ret = model_path(cfg, cfg->ncp.model, NCP_COPROC_AUTO_NAME,
			 "co-processor", "ncp.model", path, sizeof(path), msg,
			 sizeof(msg));
	if (!ret && path[0]) {
		ncp_control_model_name(path, shown, sizeof(shown));
		ret = ncp_coproc_load(d->coproc, path, shown, msg, sizeof(msg));
	}
	if (ret)
		return ncp_errf(err, errlen, "ncp.model: %s", msg);
	if (cfg->reach.stim.source == NCP_STIM_SRC_CPN) {
		if (ncp_coproc_set_on(d->coproc, true, msg, sizeof(msg)))
			ncp_log_warn("stim.source cpn: %s", msg);
	}
	return 0;
}

/* Everything up to a running loop.  On error the message is in err. */
static int start(struct daemon *d, char *err, size_t errlen)
{
	const struct ncp_config *cfg = &d->cfg;
	int ret;

	d->lock_fd = ncp_service_lock(d->lock_path, cfg->instance, err, errlen);
	if (d->lock_fd < 0)
		return d->lock_fd;
	if (!d->opt.free_run && cfg->rt.lock_memory) {
		ret = ncp_rt_lock_memory();
		if (ret)
			ncp_log_warn("cannot lock memory (%s): page faults may "
				     "delay the loop", ncp_strerror(ret));
	}
	if (!d->opt.free_run && cfg->rt.cpu_latency_us >= 0) {
		d->qos_fd = ncp_rt_cpu_latency(cfg->rt.cpu_latency_us);
		if (d->qos_fd < 0)
			ncp_log_warn("cannot limit CPU idle latency (%s): "
				     "wake-ups may be late by tens of us",
				     ncp_strerror(d->qos_fd));
	}

	uint64_t steps = d->opt.duration > 0 ?
		(uint64_t)llround(d->opt.duration / cfg->reach.dt) : 0;
	size_t reach_cap = 4096;
	if (d->opt.duration > 0)
		reach_cap = (size_t)(d->opt.duration / cfg->task.period) + 2;
	char msg[400];
	ret = ncp_sim_init(&d->sim, cfg, reach_cap, msg, sizeof(msg));
	if (ret)
		return ncp_errf(err, errlen, "building the model: %s", msg);
	d->sim_ok = true;
	if (d->stim_seq)
		ncp_sim_stim_replay(&d->sim, d->stim_seq, d->stim_steps);
	ncp_log_info("model built in %.3f s: %d neurons (%d in M1); decoder "
		     "cache %s: %llu of %llu solves found", d->sim.build_seconds,
		     ncp_reach_neurons(d->sim.reach), d->sim.m1_n,
		     d->sim.cache_dir[0] ? d->sim.cache_dir : "off",
		     (unsigned long long)d->sim.cache.hits,
		     (unsigned long long)(d->sim.cache.hits + d->sim.cache.misses));

	struct ncp_shm_writer_config sc = {
		.name = cfg->shm.name,
		.dt = cfg->reach.dt,
		.m1_neurons = (uint32_t)d->sim.m1_n,
		.window_len = (uint32_t)cfg->shm.window,
		.arm_links = { cfg->reach.arm.l[0], cfg->reach.arm.l[1] },
		.arm_joints = (uint32_t)cfg->reach.arm.links,
		.arm_link_hand = cfg->reach.arm.links == 3 ? cfg->reach.arm.l[2] : 0.0,
		.stim_electrodes = (uint32_t)d->sim.stim_E,
		.rec_electrodes = (uint32_t)cfg->reach.rec.electrodes,
	};
	d->shm = ncp_shm_writer_new(&sc, msg, sizeof(msg));
	if (!d->shm)
		return ncp_errf(err, errlen, "shared memory: %s", msg);

	struct ncp_rt_params rtp = {
		.period = cfg->reach.dt,
		.free_run = d->opt.free_run,
		.priority = d->opt.free_run ? 0 : cfg->rt.priority,
		.cpu = cfg->rt.cpu,
		.catchup = cfg->rt.catchup_ms / 1e3,
	};
	struct ncp_json cj;
	ncp_json_init(&cj);
	ncp_config_json(cfg, &cj);
	struct ncp_recorder_params recp = {
		.data_dir = cfg->data_dir,
		.m1_neurons = d->sim.m1_n,
		.dt = cfg->reach.dt,
		.window = (uint32_t)cfg->shm.window,
		.seed = cfg->reach.seed,
		.task_seed = cfg->task.seed,
		.config_json = ncp_json_finish(&cj) == 0 ? cj.buf : NULL,
		.lossless = d->opt.free_run,
		.stim_electrodes = cfg->reach.stim.electrodes,
		.rec_electrodes = cfg->reach.rec.electrodes,
		.probe_frame = &d->sim.probe_frame,
		.arm_links = cfg->reach.arm.links,
	};
	struct ncp_probe probes[NCP_PROBE_MAX];
	int n_probes;
	ret = ncp_probe_parse_list(cfg->record.probes, &d->sim.probe_frame,
				   ncp_reach_net(d->sim.reach), probes,
				   &n_probes, msg, sizeof(msg));
	if (ret) {
		ncp_json_fini(&cj);
		return ncp_errf(err, errlen, "record.probes: %s", msg);
	}
	d->recorder = ncp_recorder_new(&recp, msg, sizeof(msg));
	ncp_json_fini(&cj);
	if (!d->recorder)
		return ncp_errf(err, errlen, "recorder: %s", msg);
	if (d->opt.record) {
		ret = ncp_recorder_start_probes(d->recorder, d->opt.record,
						d->opt.duration, probes, n_probes,
						msg, sizeof(msg));
		if (ret)
			return ncp_errf(err, errlen, "--record %s: %s",
					d->opt.record, msg);
	}

	struct ncp_emulator_params ep = {
		.dt = cfg->reach.dt,
		.m1_neurons = d->sim.m1_n,
		.lockstep = d->opt.free_run,
		.priority = d->opt.free_run ? 0 : cfg->emulator.priority,
		.cpu = cfg->emulator.cpu,
		.loop_cpu = cfg->rt.cpu,
		.arm = cfg->reach.arm,
	};
	d->emulator = ncp_emulator_new(&ep, d->shm, msg, sizeof(msg));
	if (!d->emulator)
		return ncp_errf(err, errlen, "emulator: %s", msg);

	struct ncp_online_params op = {
		.m1_neurons = d->sim.m1_n,
		.dt = cfg->reach.dt,
		.lockstep = d->opt.free_run,
		.lockstep_every = cfg->emulator.online_every,
		.replay = cfg->emulator.replay,
		.warmup = cfg->emulator.warmup,
		.lr = cfg->emulator.online_lr,
		.batch = cfg->emulator.online_batch,
		.seed = cfg->reach.seed,
		.joints = cfg->reach.arm.links,
	};
	snprintf(op.arch, sizeof(op.arch), "%s", cfg->emulator.online_arch);
	d->online = ncp_online_new(&op, d->emulator, d->shm, cfg->emulator.online,
				   msg, sizeof(msg));
	if (!d->online)
		return ncp_errf(err, errlen, "online training: %s", msg);

	if (ncp_loop_init(&d->loop, &d->sim, d->shm, &rtp, steps))
		return ncp_errf(err, errlen, "out of memory");
	d->loop_ok = true;
	if (d->opt.pause_at > 0)
		d->loop.pause_at = (uint64_t)llround(d->opt.pause_at / cfg->reach.dt);
	ncp_emulator_set_recorder(d->emulator, d->recorder);
	d->loop.recorder = d->recorder;
	d->loop.emulator = d->emulator;
	d->loop.emulator_lockstep = d->opt.free_run;
	d->loop.online = d->online;
	struct ncp_coproc_params cp = {
		.dt = cfg->reach.dt,
		.electrodes = cfg->reach.stim.electrodes,
		.rec = cfg->reach.rec.electrodes,
		.joints = cfg->reach.arm.links,
		.stim_max = cfg->reach.stim.max,
		.lockstep = d->opt.free_run,
		.priority = d->opt.free_run ? 0 : cfg->ncp.priority,
		.cpu = cfg->ncp.cpu,
		.loop_cpu = cfg->rt.cpu,
		.explore = cfg->ncp.explore > 0,
		.warm_sd = cfg->ncp.warmup_explore,
		.xp = {
			.block = cfg->ncp.explore_block,
			.mix = { 0.1, 0.6, 0.3 },
			.perturb_sd = cfg->ncp.explore,
			.perturb_tau = cfg->ncp.explore_tau,
			.noise_sd = cfg->ncp.explore_noise,
			.noise_hold = cfg->ncp.explore_hold,
			.seed = cfg->ncp.seed,
		},
	};
	if (cfg->reach.stim.source == NCP_STIM_SRC_ORACLE)
		snprintf(cp.refuse_on, sizeof(cp.refuse_on), "stim.source is "
			 "oracle: the oracle sets theta");
	else if (d->stim_seq)
		snprintf(cp.refuse_on, sizeof(cp.refuse_on), "a stim file "
			 "sets theta (--stim-file)");
	else if (cfg->reach.arm.links != 2)
		snprintf(cp.refuse_on, sizeof(cp.refuse_on), "the co-processor "
			 "takes the 2-link arm's state (arm.links is %d)",
			 cfg->reach.arm.links);
	d->coproc = ncp_coproc_new(&cp, d->shm, d->loop.ncp_box, msg,
				   sizeof(msg));
	if (!d->coproc)
		return ncp_errf(err, errlen, "co-processor: %s", msg);
	ncp_coproc_set_lesion(d->coproc, cfg->reach.stim.lesion_kind);
	ret = load_models(d, err, errlen);
	if (ret)
		return ret;
	struct ncp_cpn_online_params np = {
		.lockstep = d->opt.free_run,
		.replay = cfg->ncp.replay,
		.ref_s = cfg->ncp.reference,
		.warmup = cfg->ncp.warmup,
		.round = cfg->ncp.round,
		.cpn_epochs = cfg->ncp.epochs,
		.sample_every = 5,
		.seed = cfg->ncp.seed,
	};
	ncp_cpn_spec_default(&np.spec);
	np.spec.electrodes = cfg->reach.stim.electrodes;
	np.spec.rec = cfg->reach.rec.electrodes;
	np.spec.dt = cfg->reach.dt;
	np.spec.decay = cfg->reach.stim.decay;
	np.spec.stim_max = cfg->reach.stim.max;
	if (np.spec.alpha_max > np.spec.stim_max)
		np.spec.alpha_max = np.spec.stim_max;
	ncp_cpn_train_opts_default(&np.train);
	np.train.en_batches = np.train.cpn_batches = cfg->ncp.batches;
	np.train.seed = cfg->ncp.seed;
	d->cpn_online = ncp_cpn_online_new(&np, d->coproc, cfg->ncp.train, msg,
					   sizeof(msg));
	if (!d->cpn_online)
		return ncp_errf(err, errlen, "co-processor training: %s", msg);
	d->loop.coproc = d->coproc;
	d->loop.coproc_lockstep = d->opt.free_run;
	d->loop.cpn_online = d->cpn_online;
	ret = ncp_emulator_start(d->emulator);
	if (ret)
		return ncp_errf(err, errlen, "emulator thread: %s", ncp_strerror(ret));
	ret = ncp_online_start(d->online);
	if (ret)
		return ncp_errf(err, errlen, "online training thread: %s",
				ncp_strerror(ret));
	ret = ncp_coproc_start(d->coproc);
	if (ret)
		return ncp_errf(err, errlen, "co-processor thread: %s",
				ncp_strerror(ret));
	ret = ncp_cpn_online_start(d->cpn_online);
	if (ret)
		return ncp_errf(err, errlen, "co-processor training thread: %s",
				ncp_strerror(ret));
	ret = ncp_control_init(&d->control, cfg, &d->loop, d->shm, d->recorder,
			       d->emulator, d->online, msg, sizeof(msg));
	if (ret)
		return ncp_errf(err, errlen, "control: %s", msg);
	d->control_ok = true;
	d->control.coproc = d->coproc;
	d->control.cpn_online = d->cpn_online;

	struct ncp_ctlsrv_config cc = {
		.path = d->socket_path,
		.group = cfg->control.group,
		.max_clients = (unsigned)cfg->control.max_clients,
		.idle_timeout_ms = (unsigned)(cfg->control.idle_timeout * 1e3),
		.handler = ncp_control_handle,
		.ctx = &d->control,
	};
	d->ctlsrv = ncp_ctlsrv_new(&cc, msg, sizeof(msg));
	if (!d->ctlsrv)
		return ncp_errf(err, errlen, "control socket: %s", msg);
	ret = ncp_ctlsrv_start(d->ctlsrv);
	if (ret)
		return ncp_errf(err, errlen, "control thread: %s", ncp_strerror(ret));

	ret = pthread_create(&d->thread, NULL, ncp_loop_thread, &d->loop);
	if (ret)
		return ncp_errf(err, errlen, "cannot start the loop thread: %s",
				strerror(ret));
	d->thread_ok = true;
	/* Pairs with the release store of `started` in ncp_loop_thread:
	 * its rt_warning is written. */
	while (!atomic_load_explicit(&d->loop.started, memory_order_acquire))
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	if (d->loop.rt_warning[0])
		ncp_log_warn("real-time set-up: %s", d->loop.rt_warning);
	ncp_log_info("running %s at %g Hz%s; shared memory %s, control socket "
		     "%s", d->opt.free_run ? "free" : "in real time",
		     1.0 / cfg->reach.dt, d->loop.fifo ? " (SCHED_FIFO)" : "",
		     cfg->shm.name, d->socket_path);
	return 0;
}

/* Undo start(), in reverse: stop the control server first (its handler
 * uses the loop and the segment), then the loop, then the segment. */
static void stop(struct daemon *d)
{
	if (d->ctlsrv)
		ncp_ctlsrv_stop(d->ctlsrv);
	if (d->thread_ok) {
		atomic_store(&d->loop.stop, true);
		pthread_join(d->thread, NULL);
	}
	ncp_ctlsrv_free(d->ctlsrv);
	if (d->control_ok)
		ncp_control_fini(&d->control);
	/* The loop has stopped: the recorder writes what is queued and
	 * completes its files. */
	ncp_recorder_free(d->recorder);
	ncp_online_free(d->online);
	ncp_cpn_online_free(d->cpn_online);
	ncp_coproc_free(d->coproc);
	ncp_emulator_free(d->emulator);
	if (d->loop_ok)
		ncp_loop_fini(&d->loop);
	ncp_shm_writer_free(d->shm);
	if (d->sim_ok)
		ncp_sim_fini(&d->sim);
	if (d->qos_fd >= 0)
		close(d->qos_fd);
	ncp_service_unlock(d->lock_fd, d->lock_path);
}

int main(int argc, char **argv)
{
	static struct daemon d = { .lock_fd = -1, .qos_fd = -1, .report = -1 };
	sigset_t sigs;
	char err[600];
	int status = 1;

	ncp_blas_pick_core(argv);
	ncp_log_init("ncpd", NCP_LOG_INFO);
	if (parse_args(argc, argv, &d.opt))
		return EXIT_USAGE;
	if (read_config(&d.opt, &d.cfg, &d.cfg_source, err, sizeof(err))) {
		fprintf(stderr, "ncpd: %s\n", err);
		return EXIT_USAGE;
	}
	ncp_log_init("ncpd", NCP_LOG_ERR + d.cfg.log_level);
	if (d.opt.stim_file) {
		if (d.cfg.reach.stim.source != NCP_STIM_SRC_NONE) {
			fprintf(stderr, "ncpd: --stim-file needs stim.source none "
				"(it is %s)\n",
				ncp_stim_source_names[d.cfg.reach.stim.source]);
			return EXIT_USAGE;
		}
		if (ncp_stim_file_load(d.opt.stim_file, d.cfg.reach.stim.electrodes,
				       d.cfg.reach.stim.max, &d.stim_seq,
				       &d.stim_steps, err, sizeof(err))) {
			fprintf(stderr, "ncpd: --stim-file %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (d.opt.check_config) {
		printf("%s: configuration ok\n", d.cfg_source);
		return 0;
	}
	if (resolve_paths(&d, err, sizeof(err))) {
		fprintf(stderr, "ncpd: %s\n", err);
		return 1;
	}
	if (!d.opt.foreground && d.opt.duration <= 0) {
		bool tty = isatty(STDERR_FILENO);
		int ret = ncp_service_detach(&d.report);
		if (ret) {
			fprintf(stderr, "ncpd: cannot detach: %s\n", ncp_strerror(ret));
			return 1;
		}
		if (tty) {
			ncp_log_to_syslog();
			int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
			if (null >= 0) {
				dup2(null, STDERR_FILENO);
				close(null);
			}
		}
	}
	ncp_log_info("configuration: %s", d.cfg_source);
	ncp_log_info("OpenBLAS kernels: %s", ncp_blas_core());
	/* One BLAS thread: the hot paths are small and a second vCPU is
	 * not ours to take; it also keeps decoders identical run to run. */
	openblas_set_num_threads(1);

	/* Signals are caught (on_signal) and blocked in every thread ncpd
	 * starts; the main thread takes them again once they are running. */
	signal_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (signal_fd < 0) {
		ncp_log_err("cannot set up signals (eventfd): %s", strerror(errno));
		goto out;
	}
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	sigfillset(&sa.sa_mask);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (start(&d, err, sizeof(err))) {
		if (d.report < 0)
			ncp_log_err("%s", err);
		ncp_service_failed(d.report, err);
		d.report = -1;
		goto out;
	}
	ncp_service_ready(d.report);
	d.report = -1;
	pthread_sigmask(SIG_UNBLOCK, &sigs, NULL);
	supervise(&d);
	if (d.opt.summary_json) {
		ncp_ctlsrv_stop(d.ctlsrv);
		pthread_join(d.thread, NULL);
		d.thread_ok = false;
		ncp_online_stop(d.online);
		ncp_emulator_stop(d.emulator);
		print_summary(&d);
	}
	status = 0;
out:
	stop(&d);
	if (signal_fd >= 0)
		close(signal_fd);
	ncp_log_info("stopped");
	free(d.opt.sets);
	free(d.stim_seq);
	return status;
}
