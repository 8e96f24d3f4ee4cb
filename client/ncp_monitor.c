/* ncp-monitor: watch a running ncpd through its shared-memory segment.
 * See ncp-monitor --help and docs/monitor.md.
 *
 * It maps the segment read-only and never writes to it, so it cannot
 * disturb the loop; it follows the daemon through stops, deaths and
 * restarts (ncp_shm_reader_liveness a few times a second at most). */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/ncp_mon_snap.h"
#include "client/ncp_mon_ui.h"
#include "models/base/ncp_json.h"
#include "shm/ncp_shm.h"
#include "shm/ncp_shm_reader.h"

#define EXIT_NO_SEGMENT 1
#define EXIT_USAGE 2

#define ATTACH_EVERY_NS 500000000ull   /* retry attaching twice a second */
#define LIVENESS_EVERY_NS 250000000ull /* poll liveness 4 times a second */
#define RATE_EVERY_NS 500000000ull     /* steps/s measured over 0.5 s */
#define BANNER_NS 5000000000ull        /* how long "re-attached" shows */
#define TRACE_SECONDS 2.0              /* hand trace length, sim s */
#define TRAIN_KEEP 1024                /* training entries kept for the curve */
#define ONCE_WAIT_NS 2000000000ull     /* --once waits this long for a state */

struct options {
	const char *shm;
	bool once, json;
	double rate;
};

static volatile sig_atomic_t quit_signal;

static void on_signal(int sig)
{
	quit_signal = sig;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: ncp-monitor [--shm NAME] [--once] [--json] [--rate HZ]\n"
"Watch a running ncpd: the arm in its workspace (real and predicted), the\n"
"M1 window as a heat map, and the loop's timing, read from its shared\n"
"memory segment without disturbing it.\n"
"\n"
"  --shm NAME   the segment to attach to (default %s; ncpd's shm.name)\n"
"  --once       print one snapshot on standard output and exit\n"
"  --json       with --once (which it implies): the snapshot as one JSON\n"
"               object (keys in docs/monitor.md)\n"
"  --rate HZ    screen refreshes per second, 1 to 100 (default 25)\n"
"  --help       this text\n"
"\n"
"On the screen: q quits (so does Ctrl-C); the workspace shows the reaching\n"
"workspace (the targets so far): + zooms in, - out, 0 back, z switches to\n"
"the whole arm and back; a shows theta or alpha; space holds the picture;\n"
"Ctrl-L repaints.  Without a segment it waits for one; when the daemon\n"
"stops, dies or restarts it says so, keeps the last picture and attaches\n"
"to the next daemon.\n"
"\n"
"Exit status: 0 on success; 1 when --once finds no running segment (or\n"
"the screen cannot start); 2 for a bad flag.\n", NCP_SHM_DEFAULT_NAME);
}

static int parse_args(int argc, char **argv, struct options *o)
{
	enum { OPT_SHM = 256, OPT_ONCE, OPT_JSON, OPT_RATE, OPT_HELP };
	static const struct option longopts[] = {
		{ "shm", required_argument, NULL, OPT_SHM },
		{ "once", no_argument, NULL, OPT_ONCE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	o->shm = NCP_SHM_DEFAULT_NAME;
	o->rate = 25;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case OPT_SHM:
			if (optarg[0] != '/' || !optarg[1] ||
			    strchr(optarg + 1, '/') || strlen(optarg) > 255) {
				fprintf(stderr, "ncp-monitor: --shm %s: expected "
					"'/' and a name without '/', e.g. /ncpd\n",
					optarg);
				return -EINVAL;
			}
			o->shm = optarg;
			break;
		case OPT_ONCE:
			o->once = true;
			break;
		case OPT_JSON:
			o->json = true;
			o->once = true;
			break;
		case OPT_RATE:
			errno = 0;
			o->rate = strtod(optarg, &end);
			if (!*optarg || *end || errno || !isfinite(o->rate) ||
			    o->rate < 1 || o->rate > 100) {
				fprintf(stderr, "ncp-monitor: --rate %s: expected "
					"refreshes per second, 1 to 100\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_HELP:
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "ncp-monitor: %s needs a value (see "
				"ncp-monitor --help)\n", argv[optind - 1]);
			return -EINVAL;
		default:
			fprintf(stderr, "ncp-monitor: unknown option '%s' (see "
				"ncp-monitor --help)\n", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "ncp-monitor: unexpected argument '%s' (see "
			"ncp-monitor --help)\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

/* What a liveness verdict means for someone reading the segment. */
static const char *liveness_text(int live, const struct ncp_shm_header *h,
				 char *buf, size_t len)
{
	switch (live) {
	case NCP_SHM_STOPPED:
		snprintf(buf, len, "daemon stopped (pid %d)", (int)h->pid);
		break;
	case NCP_SHM_DEAD:
		snprintf(buf, len, "daemon gone (pid %d died)", (int)h->pid);
		break;
	case NCP_SHM_REPLACED:
		snprintf(buf, len, "daemon replaced by another one");
		break;
	default:
		snprintf(buf, len, "daemon running (pid %d)", (int)h->pid);
	}
	return buf;
}

/* --once: one snapshot of a running daemon to standard output. */
static int run_once(const struct options *o)
{
	struct ncp_shm_reader *r;
	struct ncp_mon_snap snap;
	char err[512];
	uint64_t deadline;
	int live, ret, status = EXIT_NO_SEGMENT;

	r = ncp_shm_reader_open(o->shm, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "ncp-monitor: %s\n", err);
		return EXIT_NO_SEGMENT;
	}
	live = ncp_shm_reader_liveness(r);
	if (live != NCP_SHM_LIVE) {
		fprintf(stderr, "ncp-monitor: shared memory segment %s: %s\n",
			o->shm, liveness_text(live, ncp_shm_reader_header(r),
					      err, sizeof(err)));
		goto out_reader;
	}
	if (ncp_mon_snap_init(&snap, ncp_shm_reader_header(r), o->shm, 0, 1)) {
		fprintf(stderr, "ncp-monitor: out of memory\n");
		goto out_reader;
	}
	/* A daemon that has just started publishes its state within a step
	 * and its loop statistics within a quarter of a second: wait for
	 * both, a little. */
	deadline = now_ns() + ONCE_WAIT_NS;
	for (;;) {
		ret = ncp_mon_snap_read(&snap, r);
		if ((ret == 0 && snap.have_stats) || now_ns() > deadline)
			break;
		sleep_ms(10);
	}
	if (!snap.have_state) {
		fprintf(stderr, "ncp-monitor: shared memory segment %s: no state "
			"published (%s)\n", o->shm,
			ret == -EAGAIN ? "the writer kept racing the reads"
				       : "the loop has not started");
		goto out_snap;
	}
	if (o->json) {
		struct ncp_json j;

		ncp_json_init(&j);
		ncp_mon_snap_json(&snap, &j);
		ret = ncp_json_finish(&j);
		if (ret == 0)
			printf("%s\n", j.buf);
		else
			fprintf(stderr, "ncp-monitor: cannot format the "
				"snapshot: %s\n", strerror(-ret));
		ncp_json_fini(&j);
		if (ret)
			goto out_snap;
	} else {
		ncp_mon_snap_text(&snap, stdout);
	}
	if (fflush(stdout) == 0)
		status = 0;
out_snap:
	ncp_mon_snap_fini(&snap);
out_reader:
	ncp_shm_reader_free(r);
	return status;
}

/* The screen's view of the world: the reader (NULL while detached), the
 * last snapshot (kept through detaches), the daemon's liveness. */
struct monitor {
	const struct options *opt;
	struct ncp_mon_ui *ui;
	struct ncp_shm_reader *reader;
	struct ncp_mon_snap snap;
	bool have_snap;
	int live;                 /* enum ncp_shm_liveness of the reader */
	uint64_t last_generation; /* of the last segment attached, 0: none */
	uint64_t next_attach, next_live;
	char message[300];
	enum ncp_mon_ui_tone tone;
	uint64_t message_until;   /* 0: until replaced */
	/* steps/s as the monitor sees them */
	uint64_t rate_t0, rate_step0;
	double steps_per_s;
	bool held;
};

static void say(struct monitor *m, enum ncp_mon_ui_tone tone, uint64_t for_ns,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void say(struct monitor *m, enum ncp_mon_ui_tone tone, uint64_t for_ns,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(m->message, sizeof(m->message), fmt, ap);
	va_end(ap);
	m->tone = tone;
	m->message_until = for_ns ? now_ns() + for_ns : 0;
}

static void measure_rate(struct monitor *m, uint64_t now)
{
	uint64_t step;

	if (!m->snap.have_state)
		return;
	step = m->snap.state.step;
	if (!m->rate_t0 || step < m->rate_step0) {
		m->rate_t0 = now;
		m->rate_step0 = step;
		return;
	}
	if (now - m->rate_t0 >= RATE_EVERY_NS) {
		m->steps_per_s = (double)(step - m->rate_step0) * 1e9 /
				 (double)(now - m->rate_t0);
		m->rate_t0 = now;
		m->rate_step0 = step;
	}
}

/* Try to attach; on success the snapshot is rebuilt for the new segment
 * and read once (even from a dead daemon's segment: its last state). */
static void attach(struct monitor *m)
{
	const struct ncp_shm_header *h;
	struct ncp_mon_snap fresh;
	char err[512];
	uint32_t trace;

	m->reader = ncp_shm_reader_open(m->opt->shm, err, sizeof(err));
	if (!m->reader) {
		if (m->have_snap)
			say(m, NCP_MON_UI_ERROR, 0, "%s; waiting for a new "
			    "daemon", err);
		else
			say(m, NCP_MON_UI_WARN, 0, "waiting: %s", err);
		return;
	}
	h = ncp_shm_reader_header(m->reader);
	trace = (uint32_t)fmin(TRACE_SECONDS / h->dt, (double)h->arm_slots / 2);
	if (ncp_mon_snap_init(&fresh, h, m->opt->shm, trace, TRAIN_KEEP)) {
		say(m, NCP_MON_UI_ERROR, 0, "out of memory");
		ncp_shm_reader_free(m->reader);
		m->reader = NULL;
		return;
	}
	if (m->have_snap)
		ncp_mon_snap_fini(&m->snap);
	m->snap = fresh;
	m->have_snap = true;
	ncp_mon_snap_read(&m->snap, m->reader);
	m->live = ncp_shm_reader_liveness(m->reader);
	m->next_live = now_ns() + LIVENESS_EVERY_NS;
	m->rate_t0 = 0;
	m->steps_per_s = NAN;
	if (m->live != NCP_SHM_LIVE)
		say(m, m->live == NCP_SHM_STOPPED ? NCP_MON_UI_WARN :
		    NCP_MON_UI_ERROR, 0, "%s: last picture; waiting for a "
		    "new daemon", liveness_text(m->live, h, err, sizeof(err)));
	else if (m->last_generation && m->last_generation != h->generation)
		say(m, NCP_MON_UI_INFO, BANNER_NS, "re-attached: new daemon "
		    "pid %d, generation %016" PRIx64, (int)h->pid,
		    h->generation);
	else
		say(m, NCP_MON_UI_INFO, BANNER_NS, "attached");
	m->last_generation = h->generation;
}

static void check_liveness(struct monitor *m)
{
	char buf[128];
	int live = ncp_shm_reader_liveness(m->reader);

	if (live == NCP_SHM_REPLACED) {
		ncp_shm_reader_free(m->reader);
		m->reader = NULL;
		say(m, NCP_MON_UI_WARN, 0, "daemon restarted: re-attaching");
		attach(m);
		return;
	}
	if (live != m->live && live != NCP_SHM_LIVE)
		say(m, live == NCP_SHM_STOPPED ? NCP_MON_UI_WARN :
		    NCP_MON_UI_ERROR, 0, "%s: last picture kept; waiting for a "
		    "new daemon", liveness_text(live,
						ncp_shm_reader_header(m->reader),
						buf, sizeof(buf)));
	m->live = live;
}

/* The daemon's state for the title line. */
static const char *daemon_word(const struct monitor *m)
{
	if (!m->reader)
		return m->have_snap ? "detached" : NULL;
	switch (m->live) {
	case NCP_SHM_STOPPED:
		return "stopped";
	case NCP_SHM_DEAD:
		return "gone";
	default:
		return NULL; /* the header's word: starting or running */
	}
}

static void handle_key(struct monitor *m, int ch)
{
	switch (ch) {
	case 'q':
	case 'Q':
		quit_signal = -1;
		break;
	case 'z':
	case 'Z':
		ncp_mon_ui_toggle_zoom(m->ui);
		break;
	case '+':
	case '=':
		ncp_mon_ui_zoom(m->ui, 1);
		break;
	case '-':
	case '_':
		ncp_mon_ui_zoom(m->ui, -1);
		break;
	case '0':
		ncp_mon_ui_zoom(m->ui, 0);
		break;
	case 'a':
	case 'A':
		ncp_mon_ui_toggle_stim(m->ui);
		break;
	case ' ':
		m->held = !m->held;
		break;
	case 12: /* Ctrl-L */
		ncp_mon_ui_repaint(m->ui);
		break;
	default:
		break;
	}
}

static int run_screen(const struct options *o)
{
	struct monitor m = { .opt = o, .live = -1, .steps_per_s = NAN };
	uint64_t frame = (uint64_t)(1e9 / o->rate);
	char err[256];

	setlocale(LC_CTYPE, "");
	m.ui = ncp_mon_ui_new(err, sizeof(err));
	if (!m.ui) {
		fprintf(stderr, "ncp-monitor: %s\n", err);
		return 1;
	}
	while (!quit_signal) {
		uint64_t now = now_ns(), next;
		struct ncp_mon_ui_status st;
		int ch;

		if (!m.reader && now >= m.next_attach) {
			m.next_attach = now + ATTACH_EVERY_NS;
			attach(&m);
		} else if (m.reader && now >= m.next_live) {
			m.next_live = now + LIVENESS_EVERY_NS;
			check_liveness(&m);
		}
		if (m.reader && m.live == NCP_SHM_LIVE && !m.held) {
			ncp_mon_snap_read(&m.snap, m.reader);
			measure_rate(&m, now);
		}
		if (m.message_until && now > m.message_until)
			m.message[0] = '\0';
		st = (struct ncp_mon_ui_status){
			.shm_name = o->shm,
			.daemon = daemon_word(&m),
			.message = m.message[0] ? m.message : NULL,
			.tone = m.tone,
			.steps_per_s = m.reader && m.live == NCP_SHM_LIVE ?
					       m.steps_per_s : NAN,
			.held = m.held,
		};
		ncp_mon_ui_draw(m.ui, m.have_snap ? &m.snap : NULL, &st);
		/* Wait for a key until the next frame is due; a key (or a
		 * resize) is answered with a frame at once. */
		next = now + frame;
		while (!quit_signal) {
			uint64_t t = now_ns();

			if (t >= next)
				break;
			ch = ncp_mon_ui_key(m.ui, (int)((next - t + 999999) /
							 1000000));
			if (ch >= 0) {
				handle_key(&m, ch);
				break;
			}
		}
	}
	ncp_mon_ui_free(m.ui);
	if (m.have_snap)
		ncp_mon_snap_fini(&m.snap);
	ncp_shm_reader_free(m.reader);
	return 0;
}

int main(int argc, char **argv)
{
	struct options opt = { 0 };
	struct sigaction sa;

	if (parse_args(argc, argv, &opt))
		return EXIT_USAGE;
	if (opt.once)
		return run_once(&opt);
	/* Before curses starts, so it leaves these to us (no SA_RESTART: a
	 * signal ends the wait for a key). */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	return run_screen(&opt);
}
