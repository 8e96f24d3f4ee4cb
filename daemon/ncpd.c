/* ncpd: the neural co-processor daemon.  See ncpd --help and docs/. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_loop.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "shm/ncp_shm_writer.h"

#define EXIT_USAGE 2

struct options {
	const char *config_path;
	const char **sets;
	int n_sets;
	bool free_run;
	double duration;	/* simulated seconds; 0: until stopped */
	bool summary_json;
	bool check_config;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: ncpd [OPTIONS]\n"
"Simulate the REACH spiking model of motor cortex driving an arm.\n"
"\n"
"  --config FILE      configuration file (default: config/ncpd.yaml of the\n"
"                     source tree ncpd was built in, else the compiled-in\n"
"                     defaults, which are the same file)\n"
"  --set KEY=VALUE    override one configuration key (repeatable), e.g.\n"
"                     --set task.kind=random --set task.seed=2\n"
"  --free-run         do not sleep: run as fast as the CPU goes\n"
"  --duration SECONDS simulate this many seconds, then exit cleanly\n"
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

/* config/ncpd.yaml of the tree this binary was built in (build/ncpd or
 * build/<sanitizer>/ncpd), if it is there. */
static const char *tree_config(char *buf, size_t len)
{
	static const char tail[] = "/config/ncpd.yaml";
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n <= 0)
		return NULL;
	exe[n] = '\0';
	if ((slash = strrchr(exe, '/')))
		*slash = '\0'; /* drop "/ncpd" */
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
	enum { OPT_CONFIG = 256, OPT_SET, OPT_FREE, OPT_DURATION, OPT_SUMMARY,
	       OPT_CHECK, OPT_VERSION, OPT_HELP, OPT_HELP_CONFIG };
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, OPT_CONFIG },
		{ "set", required_argument, NULL, OPT_SET },
		{ "free-run", no_argument, NULL, OPT_FREE },
		{ "duration", required_argument, NULL, OPT_DURATION },
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
		case OPT_FREE:
			o->free_run = true;
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

static int load_config(const struct options *o, struct ncp_config *cfg)
{
	char err[512], path[PATH_MAX];
	const char *file = o->config_path;
	int ret;

	ncp_config_defaults(cfg);
	if (!file)
		file = tree_config(path, sizeof(path));
	if (file) {
		ret = ncp_config_load_file(cfg, file, err, sizeof(err));
	} else {
		ret = ncp_config_load_string(cfg, ncp_config_default_yaml,
					     strlen(ncp_config_default_yaml),
					     "<compiled-in ncpd.yaml>", err,
					     sizeof(err));
	}
	for (int i = 0; !ret && i < o->n_sets; i++)
		ret = ncp_config_set(cfg, o->sets[i], err, sizeof(err));
	if (!ret)
		ret = ncp_config_validate(cfg, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "ncpd: %s\n", err);
		return ret;
	}
	ncp_log_info("configuration: %s", file ? file : "compiled-in defaults");
	return 0;
}

static void print_summary(const struct ncp_sim *sim,
			  const struct ncp_loop *loop)
{
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
	ncp_json_end(&j);
	int ret = ncp_json_finish(&j);
	if (ret == 0)
		printf("%s\n", j.buf);
	else
		ncp_log_err("cannot format the summary: %s", ncp_strerror(ret));
	fflush(stdout);
	ncp_json_fini(&j);
}

/* The main thread after start-up: wait for the loop to finish or a signal
 * to stop it, and report what the loop cannot print itself. */
static void supervise(struct ncp_loop *loop, const sigset_t *sigs)
{
	const struct timespec tick = { 0, 100 * 1000 * 1000 };
	uint64_t slips_seen = 0;

	while (!atomic_load_explicit(&loop->finished, memory_order_acquire)) {
		int sig = sigtimedwait(sigs, NULL, &tick);
		if (sig == SIGINT || sig == SIGTERM) {
			ncp_log_notice("%s: stopping", strsignal(sig));
			atomic_store(&loop->stop, true);
		} else if (sig == SIGHUP) {
			ncp_log_notice("SIGHUP: nothing to reload yet");
		}
		uint64_t slips = atomic_load_explicit(&loop->pub_slips,
						      memory_order_relaxed);
		if (slips != slips_seen) {
			ncp_log_warn("the loop fell more than the catch-up bound "
				     "behind and re-anchored its clock (%llu slips; "
				     "furthest behind %.1f ms)",
				     (unsigned long long)slips,
				     atomic_load(&loop->pub_behind_ns) / 1e6);
			slips_seen = slips;
		}
	}
}

int main(int argc, char **argv)
{
	struct options opt = { 0 };
	struct ncp_config cfg;
	struct ncp_sim sim;
	struct ncp_loop loop;
	struct ncp_shm_writer *shm = NULL;
	pthread_t thread;
	sigset_t sigs;
	char err[512];
	int ret, status = 1;

	ncp_log_init("ncpd", NCP_LOG_INFO);
	ret = parse_args(argc, argv, &opt);
	if (ret)
		return EXIT_USAGE;
	if (load_config(&opt, &cfg))
		return EXIT_USAGE;
	ncp_log_init("ncpd", NCP_LOG_ERR + cfg.log_level);
	if (opt.check_config) {
		printf("configuration ok\n");
		return 0;
	}
	/* One BLAS thread: the hot paths are small and a second vCPU is
	 * not ours to take; it also keeps decoders identical run to run. */
	openblas_set_num_threads(1);

	/* Signals go to the main thread only (sigtimedwait in supervise). */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!opt.free_run && cfg.rt.lock_memory) {
		ret = ncp_rt_lock_memory();
		if (ret)
			ncp_log_warn("cannot lock memory (%s): page faults may "
				     "delay the loop", ncp_strerror(ret));
	}

	uint64_t steps = opt.duration > 0 ?
		(uint64_t)llround(opt.duration / cfg.reach.dt) : 0;
	size_t reach_cap = 4096;
	if (opt.duration > 0)
		reach_cap = (size_t)(opt.duration / cfg.task.period) + 2;

	uint64_t t0 = ncp_now_ns();
	ret = ncp_sim_init(&sim, &cfg, reach_cap, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "ncpd: building the model: %s\n", err);
		goto out_opts;
	}
	ncp_log_info("model built in %.2f s: %d neurons (%d in M1)",
		     (ncp_now_ns() - t0) / 1e9, ncp_reach_neurons(sim.reach),
		     sim.m1_n);

	struct ncp_shm_writer_config sc = {
		.name = cfg.shm.name,
		.dt = cfg.reach.dt,
		.m1_neurons = (uint32_t)sim.m1_n,
		.window_len = (uint32_t)cfg.shm.window,
	};
	shm = ncp_shm_writer_new(&sc, err, sizeof(err));
	if (!shm) {
		fprintf(stderr, "ncpd: shared memory: %s\n", err);
		goto out_sim;
	}

	struct ncp_rt_params rtp = {
		.period = cfg.reach.dt,
		.free_run = opt.free_run,
		.priority = opt.free_run ? 0 : cfg.rt.priority,
		.cpu = cfg.rt.cpu,
		.catchup = cfg.rt.catchup_ms / 1e3,
	};
	ncp_loop_init(&loop, &sim, shm, &rtp, steps);
	ret = pthread_create(&thread, NULL, ncp_loop_thread, &loop);
	if (ret) {
		fprintf(stderr, "ncpd: cannot start the loop thread: %s\n",
			strerror(ret));
		goto out_shm;
	}
	while (!atomic_load_explicit(&loop.started, memory_order_acquire))
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	if (loop.rt_warning[0])
		ncp_log_warn("real-time set-up: %s", loop.rt_warning);
	ncp_log_info("running %s at %g Hz%s, shared memory %s",
		     opt.free_run ? "free" : "in real time", 1.0 / cfg.reach.dt,
		     loop.fifo ? " (SCHED_FIFO)" : "", cfg.shm.name);

	supervise(&loop, &sigs);
	pthread_join(thread, NULL);
	if (opt.summary_json)
		print_summary(&sim, &loop);
	status = 0;
out_shm:
	ncp_shm_writer_free(shm);
out_sim:
	ncp_sim_fini(&sim);
out_opts:
	free(opt.sets);
	return status;
}
