/* ncpctl: send one command to ncpd over its control socket and print the
 * reply (docs/protocol.md).  Exit status: 0 ok, 1 the daemon answered
 * err, 2 usage error or no answer (cannot connect, timeout, closed). */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client/ncp_ctlclient.h"
#include "client/ncp_ctlfmt.h"
#include "shm/ncp_paths.h"

#define PROG "ncpctl"
#define EXIT_ERR_REPLY 1
#define EXIT_USAGE 2

static const char usage_text[] =
	"Usage: ncpctl [--socket PATH] [--json] [--timeout S] COMMAND [ARGS...]\n"
	"  or:  ncpctl [--socket PATH] [--json] [--timeout S] --raw < requests\n"
	"\n"
	"Send a command to ncpd's control socket and print the reply.\n"
	"\n"
	"Options (before COMMAND):\n"
	"  --socket PATH  the control socket (default: see below)\n"
	"  --json         print the reply as one JSON object\n"
	"  --timeout S    seconds to wait for the connection and the reply\n"
	"                 (default 5)\n"
	"  --raw          send each line of standard input as a request and\n"
	"                 print each reply line as it comes (for scripts)\n"
	"  --help         this text\n"
	"\n"
	"Commands (units: metres, seconds):\n"
	"  target X Y                   move the target to (X, Y) and switch the\n"
	"                               task to manual; points outside the\n"
	"                               reachable workspace are refused\n"
	"  task centre-out [PERIOD]     centre-out reaches, a new target every\n"
	"                               PERIOD seconds (default: the one in use)\n"
	"  task random [PERIOD]         random targets every PERIOD seconds\n"
	"  task steps [PERIOD]          the target steps between task.line's\n"
	"                               ends every PERIOD seconds\n"
	"  task manual                  targets only from the target command\n"
	"  task line|circle|path [PERIOD]\n"
	"                               the trajectory ncpd was started with\n"
	"  pause                        stop stepping the simulation\n"
	"  resume                       continue after pause\n"
	"  reset                        arm, network state and task back to start\n"
	"  status                       the daemon's state (loop, arm, target,\n"
	"                               task, shm)\n"
	"  config get KEY               the value of a config key\n"
	"  shutdown                     stop the daemon cleanly\n"
	"  help [COMMAND]               the daemon's own list or description\n"
	"  record start NAME [SECONDS] [--probe PROBE]...\n"
	"                               record the run as NAME in the data\n"
	"                               directory, for SECONDS or until stopped\n"
	"  record stop                  finish the recording\n"
	"  save NAME                    save the emulator model as NAME\n"
	"  load NAME                    load the emulator model NAME\n"
	"  train on|off|status          online training of the emulator\n"
	"  lesion pmc-m1|m1-silence FRACTION\n"
	"                               cut M1's planning input, or silence M1,\n"
	"                               for FRACTION (0-1) of its neurons\n"
	"  lesion off                   lift the lesion\n"
	"  stim set V1 .. VE            electrode commands theta, one per\n"
	"                               electrode, held until changed\n"
	"  stim off                     theta back to zero\n"
	"  field on [STRENGTH] | field off | field status\n"
	"                               the external force field on the arm\n"
	"  ncp load NAME                load the co-processor network NAME\n"
	"  ncp on|off                   let the co-processor drive the\n"
	"                               electrodes, or stop it\n"
	"  ncp train on|off             train the co-processor online\n"
	"  ncp status                   the co-processor's state\n"
	"  ncp save NAME                save the co-processor network as NAME\n"
	"NAME: 1-128 characters from A-Z a-z 0-9 . _ -, not starting with '.';\n"
	"it names a file in the daemon's data directory, never a path.\n"
	"\n"
	"Output: for a reply of key=value pairs, one 'key: value' line per\n"
	"pair grouped by section; error messages go to standard error.  With\n"
	"--json, the pair a.b=v at .a.b: {\"ok\":true,\"loop\":{\"step\":12000,...},...}\n"
	"or {\"ok\":false,\"code\":\"EINVAL\",\"message\":\"...\"}.\n"
	"\n"
	"Default socket: /run/ncpd/ncpd.sock as root, otherwise\n"
	"$XDG_RUNTIME_DIR/ncpd/ncpd.sock, or /tmp/ncpd-$UID/ncpd.sock when\n"
	"XDG_RUNTIME_DIR is not set.\n"
	"\n"
	"Exit status: 0 ok, 1 the daemon answered with an error, 2 usage\n"
	"error or no answer (cannot connect, timeout, connection closed).\n";

struct opts {
	const char *socket;
	bool json, raw;
	int timeout_ms;
	int argc; /* the command and its arguments */
	char **argv;
};

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, PROG ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(ncpctl --help for usage)\n");
	return EXIT_USAGE;
}

/* The value of --name VALUE or --name=VALUE; advances *i. */
static const char *opt_value(int argc, char **argv, int *i, const char *name)
{
	size_t n = strlen(name);

	if (argv[*i][n] == '=')
		return argv[*i] + n + 1;
	if (*i + 1 >= argc)
		return NULL;
	return argv[++*i];
}

static bool opt_is(const char *arg, const char *name)
{
	size_t n = strlen(name);
	return strncmp(arg, name, n) == 0 && (arg[n] == '\0' || arg[n] == '=');
}

/* Options come before the command: after it, "-0.5" is an argument. */
static int parse_opts(int argc, char **argv, struct opts *o)
{
	int i;

	o->timeout_ms = 5000;
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *a = argv[i], *v;
		if (strcmp(a, "--") == 0) {
			i++;
			break;
		} else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			fputs(usage_text, stdout);
			exit(0);
		} else if (strcmp(a, "--json") == 0) {
			o->json = true;
		} else if (strcmp(a, "--raw") == 0) {
			o->raw = true;
		} else if (opt_is(a, "--socket")) {
			if (!(v = opt_value(argc, argv, &i, "--socket")) || !*v)
				return usage_error("--socket needs a PATH");
			o->socket = v;
		} else if (opt_is(a, "--timeout")) {
			char *end;
			double s;
			if (!(v = opt_value(argc, argv, &i, "--timeout")))
				return usage_error("--timeout needs seconds");
			s = strtod(v, &end);
			if (end == v || *end || !(s > 0) || s > 86400)
				return usage_error("--timeout: '%s' is not a number "
						   "of seconds in (0, 86400]", v);
			o->timeout_ms = (int)ceil(s * 1000);
		} else {
			return usage_error("unknown option '%s'", a);
		}
	}
	o->argc = argc - i;
	o->argv = argv + i;
	if (o->raw && o->argc > 0)
		return usage_error("--raw reads requests from standard input: "
				   "give no COMMAND (got '%s')", o->argv[0]);
	if (!o->raw && o->argc == 0)
		return usage_error("no COMMAND given");
	return 0;
}

/* The request line: the arguments joined by single spaces. */
static char *join_args(int argc, char **argv)
{
	size_t len = 1;
	char *line, *p;

	for (int i = 0; i < argc; i++) {
		if (strpbrk(argv[i], "\n\r")) {
			usage_error("argument '%s' holds a line break", argv[i]);
			return NULL;
		}
		len += strlen(argv[i]) + 1;
	}
	line = malloc(len);
	if (!line) {
		perror(PROG);
		return NULL;
	}
	p = line;
	for (int i = 0; i < argc; i++)
		p += sprintf(p, "%s%s", i ? " " : "", argv[i]);
	return line;
}

/* Why there is no reply, on stderr; returns EXIT_USAGE. */
static int no_reply(const char *path, int rc, int timeout_ms)
{
	if (rc == -ETIMEDOUT)
		fprintf(stderr, PROG ": no reply from %s within %g s\n", path,
			timeout_ms / 1000.0);
	else if (rc == -ECONNRESET || rc == -EPIPE)
		fprintf(stderr, PROG ": %s closed the connection without a reply\n",
			path);
	else
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(-rc));
	return EXIT_USAGE;
}

/* Print one reply line; 0 for ok, EXIT_ERR_REPLY for err, EXIT_USAGE for
 * something that is not a reply. */
static int print_reply(const struct opts *o, const char *path,
		       const char *line, struct ncp_ctlfmt_reply *r)
{
	if (o->raw && !o->json) {
		puts(line);
		return strncmp(line, "ok", 2) == 0 ? 0 : EXIT_ERR_REPLY;
	}
	if (ncp_ctlfmt_parse(line, r) != 0) {
		fprintf(stderr, PROG ": malformed reply from %s: '%.80s'\n", path,
			line);
		return EXIT_USAGE;
	}
	if (o->json) {
		if (ncp_ctlfmt_json(r, stdout)) {
			fprintf(stderr, PROG ": out of memory\n");
			return EXIT_USAGE;
		}
	} else {
		ncp_ctlfmt_human(r, PROG, stdout, stderr);
	}
	return r->ok ? 0 : EXIT_ERR_REPLY;
}

static int run_one(const struct opts *o, const char *path,
		   struct ncp_ctlclient *c, struct ncp_ctlfmt_reply *r)
{
	char line[NCP_CTLCLIENT_BUF];
	char *request = join_args(o->argc, o->argv);
	int rc;

	if (!request)
		return EXIT_USAGE;
	rc = ncp_ctlclient_call(c, request, line, sizeof(line), o->timeout_ms);
	if (rc < 0) {
		free(request);
		return no_reply(path, rc, o->timeout_ms);
	}
	rc = print_reply(o, path, line, r);
	free(request);
	return rc;
}

/* --raw: one request per input line, one reply printed per request, in
 * lockstep (so a slow reader never stalls the daemon).  The status is the
 * worst seen. */
static int run_raw(const struct opts *o, const char *path,
		   struct ncp_ctlclient *c, struct ncp_ctlfmt_reply *r)
{
	char line[NCP_CTLCLIENT_BUF];
	char *req = NULL;
	size_t cap = 0;
	ssize_t n;
	int status = 0, rc;

	while ((n = getline(&req, &cap, stdin)) > 0) {
		rc = ncp_ctlclient_send(c, req, (size_t)n, o->timeout_ms);
		if (rc == 0 && req[n - 1] != '\n')
			rc = ncp_ctlclient_send(c, "\n", 1, o->timeout_ms);
		/* Closed on us: a refusal may still be there to read. */
		if (rc == -EPIPE || rc == -ECONNRESET)
			rc = 0;
		if (rc == 0)
			rc = ncp_ctlclient_recv_line(c, line, sizeof(line),
						     o->timeout_ms);
		if (rc < 0) {
			status = no_reply(path, rc, o->timeout_ms);
			break;
		}
		rc = print_reply(o, path, line, r);
		fflush(stdout);
		if (rc > status)
			status = rc;
		if (rc == EXIT_USAGE)
			break;
	}
	free(req);
	return status;
}

int main(int argc, char **argv)
{
	static struct ncp_ctlfmt_reply reply;
	struct ncp_ctlclient c;
	struct opts o = { 0 };
	char path[4096], err[512];
	int rc;

	rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc;
	if (o.socket) {
		snprintf(path, sizeof(path), "%s", o.socket);
	} else if (ncp_paths_socket_default(path, sizeof(path)) != 0) {
		fprintf(stderr, PROG ": the default socket path is too long; "
				"give --socket PATH\n");
		return EXIT_USAGE;
	}
	if (ncp_ctlclient_init(&c, path, o.timeout_ms, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return EXIT_USAGE;
	}
	rc = o.raw ? run_raw(&o, path, &c, &reply) : run_one(&o, path, &c, &reply);
	ncp_ctlclient_fini(&c);
	if (fflush(stdout) != 0 && rc == 0)
		rc = EXIT_USAGE;
	return rc;
}
