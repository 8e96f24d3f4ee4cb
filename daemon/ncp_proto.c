#include "daemon/ncp_proto.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "daemon/ncp_config.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_utf8.h"

/* The command table: usage and help text for every command.  Commands
 * with sub-commands (record start/stop) have one row per variant; `sub`
 * is then the second word. */
struct cmd_spec {
	const char *word;
	const char *sub;
	enum ncp_cmd_kind kind;
	const char *usage;
	const char *help;
};

static const struct cmd_spec specs[] = {
	{ "target", NULL, NCP_CMD_TARGET, "target X Y",
	  "move the target to (X, Y), in metres, and switch the task to "
	  "manual (a centre-out or random task stops until 'task centre-out' "
	  "or 'task random'); points outside the arm's reachable workspace "
	  "are refused" },
	{ "task", NULL, NCP_CMD_TASK,
	  "task centre-out|random|steps|line|circle|path [PERIOD] | task manual",
	  "choose the task: centre-out reaches, random targets or steps "
	  "between task.line's ends, a new target every PERIOD seconds "
	  "(default: the period in use; PERIOD takes the range of the config "
	  "key task.period), "
	  "manual (targets come only from the target command), or the "
	  "trajectory the daemon was started with (line, circle or path, "
	  "traced every PERIOD seconds)" },
	{ "pause", NULL, NCP_CMD_PAUSE, "pause",
	  "stop stepping the simulation; the loop keeps its clock" },
	{ "resume", NULL, NCP_CMD_RESUME, "resume", "continue after pause" },
	{ "reset", NULL, NCP_CMD_RESET, "reset",
	  "put the arm, the network state and the task back to their start" },
	{ "status", NULL, NCP_CMD_STATUS, "status",
	  "the daemon's state as section.key=value pairs (loop, arm, target, "
	  "task, shm)" },
	{ "config", "get", NCP_CMD_CONFIG_GET, "config get KEY",
	  "the value of a config key, as key=value" },
	{ "shutdown", NULL, NCP_CMD_SHUTDOWN, "shutdown",
	  "stop the daemon cleanly; the reply is sent first" },
	{ "help", NULL, NCP_CMD_HELP, "help [COMMAND]",
	  "list the commands, or describe one" },
	{ "record", "start", NCP_CMD_RECORD_START,
	  "record start NAME [SECONDS] [--probe PROBE]...",
	  "record the run as NAME in the data directory, for SECONDS or "
	  "until record stop; each --probe PROBE (NAME[:spikes|value[:TAU]], "
	  "a population or node) adds a file, in place of the config's "
	  "record.probes (--probe none: no probes)" },
	{ "record", "stop", NCP_CMD_RECORD_STOP, "record stop",
	  "finish the recording" },
	{ "save", NULL, NCP_CMD_SAVE, "save NAME",
	  "save the emulator model as NAME in the data directory" },
	{ "load", NULL, NCP_CMD_LOAD, "load NAME",
	  "load the emulator model NAME from the data directory" },
	{ "train", NULL, NCP_CMD_TRAIN, "train on|off|status",
	  "switch online training of the emulator on or off, or report its "
	  "state as key=value pairs" },
	{ "lesion", NULL, NCP_CMD_LESION,
	  "lesion pmc-m1 FRACTION | lesion m1-silence FRACTION | lesion off",
	  "from the next step, cut the planning input into FRACTION (0 to 1) "
	  "of M1's neurons, or silence FRACTION of them, or lift the lesion" },
	{ "stim", "set", NCP_CMD_STIM_SET, "stim set V1 .. VE",
	  "drive the E electrodes with theta = V1 .. VE (one value each, "
	  "within stim.max) from the next step until changed" },
	{ "stim", "off", NCP_CMD_STIM_OFF, "stim off",
	  "theta back to zero: the electrodes' currents decay" },
	{ "field", NULL, NCP_CMD_FIELD,
	  "field on [STRENGTH] | field off | field status",
	  "switch the external force field on the arm on (with STRENGTH, in "
	  "the range of the config key field.strength; default: the one in "
	  "use) or off from the next step, or report it (field.on, "
	  "field.kind, field.strength)" },
	{ "ncp", NULL, NCP_CMD_NCP,
	  "ncp load NAME | ncp on | ncp off | ncp train on|off | ncp status | "
	  "ncp save NAME",
	  "the co-processor: load the CPN NAME from the data directory, let it "
	  "drive the electrodes or stop it (theta then 0, the currents "
	  "decay), train it online, report it as key=value pairs, or save it "
	  "as NAME in the data directory" },
};

static const struct cmd_spec *spec_of(enum ncp_cmd_kind kind)
{
	for (size_t i = 0; i < NCP_ARRAY_SIZE(specs); i++)
		if (specs[i].kind == kind)
			return &specs[i];
	return NULL;
}

/* The first row for a command word, or NULL. */
static const struct cmd_spec *spec_find(const char *word)
{
	for (size_t i = 0; i < NCP_ARRAY_SIZE(specs); i++)
		if (strcmp(specs[i].word, word) == 0)
			return &specs[i];
	return NULL;
}

const char *ncp_proto_cmd_name(enum ncp_cmd_kind kind)
{
	static const char *names[NCP_CMD_COUNT] = {
		[NCP_CMD_TARGET] = "target",
		[NCP_CMD_TASK] = "task",
		[NCP_CMD_PAUSE] = "pause",
		[NCP_CMD_RESUME] = "resume",
		[NCP_CMD_RESET] = "reset",
		[NCP_CMD_STATUS] = "status",
		[NCP_CMD_CONFIG_GET] = "config get",
		[NCP_CMD_SHUTDOWN] = "shutdown",
		[NCP_CMD_HELP] = "help",
		[NCP_CMD_RECORD_START] = "record start",
		[NCP_CMD_RECORD_STOP] = "record stop",
		[NCP_CMD_SAVE] = "save",
		[NCP_CMD_LOAD] = "load",
		[NCP_CMD_TRAIN] = "train",
		[NCP_CMD_LESION] = "lesion",
		[NCP_CMD_STIM_SET] = "stim set",
		[NCP_CMD_STIM_OFF] = "stim off",
		[NCP_CMD_FIELD] = "field",
		[NCP_CMD_NCP] = "ncp",
	};
	if (kind <= NCP_CMD_NONE || kind >= NCP_CMD_COUNT)
		return "none";
	return names[kind];
}

/* --- checks on the raw line ---------------------------------------------- */

/* A token for an error message: at most 40 bytes of it, cut at a
 * character boundary, with "..." when cut. */
static const char *shown(const char *tok, char *buf, size_t len)
{
	size_t n = strlen(tok), keep = 40;

	if (n <= keep || len < keep + 4)
		return tok;
	while (keep > 0 && ((unsigned char)tok[keep] & 0xc0) == 0x80)
		keep--;
	memcpy(buf, tok, keep);
	memcpy(buf + keep, "...", 4);
	return buf;
}

/* --- arguments ----------------------------------------------------------- */

/* Decimal notation only: no hex floats, no inf/nan words, no spaces. */
static bool decimal_syntax(const char *s)
{
	const char *p = s;
	bool digits = false;

	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9') {
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			p++;
			digits = true;
		}
	}
	if (!digits)
		return false;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return false;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == '\0';
}

static bool nonfinite_word(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	return strcasecmp(s, "nan") == 0 || strcasecmp(s, "inf") == 0 ||
	       strcasecmp(s, "infinity") == 0;
}

/* A finite decimal number, without range checks beyond finiteness. */
static int number(const char *s, const char *what, double *out, char *err,
		  size_t errlen)
{
	char buf[48];
	double x;

	if (!*s)
		return ncp_errf(err, errlen, "%s: a number is missing", what);
	if (nonfinite_word(s)) {
		ncp_errf(err, errlen, "%s must be a finite number (got '%s')",
			 what, shown(s, buf, sizeof(buf)));
		return -ERANGE;
	}
	if (!decimal_syntax(s))
		return ncp_errf(err, errlen,
				"%s: '%s' is not a number (decimal notation, "
				"e.g. 0.25 or -1e-3)",
				what, shown(s, buf, sizeof(buf)));
	x = strtod(s, NULL);
	if (!isfinite(x)) {
		ncp_errf(err, errlen, "%s: %s is out of range", what,
			 shown(s, buf, sizeof(buf)));
		return -ERANGE;
	}
	*out = x == 0.0 ? 0.0 : x;
	return 0;
}

int ncp_proto_number(const char *s, const char *what, double min, double max,
		     double *out, char *err, size_t errlen)
{
	double x;
	int rc = number(s, what, &x, err, errlen);

	if (rc)
		return rc;
	if (x < min || x > max) {
		ncp_errf(err, errlen, "%s must be within [%g, %g] (got %g)",
			 what, min, max, x);
		return -ERANGE;
	}
	*out = x;
	return 0;
}

/* A duration: a number in (0, max]. */
static int seconds(const char *s, const char *what, double max, double *out,
		   char *err, size_t errlen)
{
	double x;
	int rc = number(s, what, &x, err, errlen);

	if (rc)
		return rc;
	if (!(x > 0.0) || x > max) {
		ncp_errf(err, errlen,
			 "%s must be greater than 0 and at most %g seconds "
			 "(got %g)",
			 what, max, x);
		return -ERANGE;
	}
	*out = x;
	return 0;
}

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

int ncp_proto_name(const char *s, char *err, size_t errlen)
{
	char buf[48];
	size_t n = strlen(s);

	if (n == 0)
		return ncp_errf(err, errlen, "NAME is missing");
	if (s[0] == '/') {
		ncp_errf(err, errlen,
			 "absolute paths are refused: NAME is a file name "
			 "inside the data directory (got '%s')",
			 shown(s, buf, sizeof(buf)));
		return -EACCES;
	}
	if (strcmp(s, "..") == 0 || strncmp(s, "../", 3) == 0 ||
	    strstr(s, "/../") || (n >= 3 && strcmp(s + n - 3, "/..") == 0)) {
		ncp_errf(err, errlen,
			 "'..' is refused: NAME stays inside the data "
			 "directory (got '%s')",
			 shown(s, buf, sizeof(buf)));
		return -EACCES;
	}
	if (strchr(s, '/')) {
		ncp_errf(err, errlen,
			 "'/' is refused: NAME is a plain file name inside the "
			 "data directory (got '%s')",
			 shown(s, buf, sizeof(buf)));
		return -EACCES;
	}
	if (s[0] == '.')
		return ncp_errf(err, errlen,
				"NAME may not start with '.' (got '%s')",
				shown(s, buf, sizeof(buf)));
	if (n > NCP_PROTO_NAME_MAX)
		return ncp_errf(err, errlen,
				"NAME is longer than %d characters",
				NCP_PROTO_NAME_MAX);
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]))
			return ncp_errf(err, errlen,
					"NAME '%s' may hold only letters, "
					"digits, '.', '_' and '-'",
					shown(s, buf, sizeof(buf)));
	return 0;
}

static int config_key(const char *s, char *err, size_t errlen)
{
	char buf[48];
	size_t n = strlen(s);
	bool ok = n > 0 && n <= NCP_PROTO_KEY_MAX;

	for (size_t i = 0; ok && i < n; i++)
		ok = name_char(s[i]) && s[i] != '-';
	if (!ok)
		return ncp_errf(err, errlen,
				"KEY '%s' is not a config key (letters, "
				"digits, '_' and '.', at most %d)",
				shown(s, buf, sizeof(buf)), NCP_PROTO_KEY_MAX);
	return 0;
}

/* --- the parser ---------------------------------------------------------- */

/* Words kept: "stim set" and one value per electrode. */
#define MAX_TOKENS (2 + NCP_STIM_MAX_ELECTRODES)

/* nargs counts the words after the command word; a sub-command word
 * ("get" of config get) is part of the command, not an argument. */
static int usage(const struct cmd_spec *sp, int nargs, char *err,
		 size_t errlen)
{
	int given = nargs - (sp->sub ? 1 : 0);

	return ncp_errf(err, errlen, "usage: %s (got %d argument%s)",
			sp->usage, given, given == 1 ? "" : "s");
}

int ncp_proto_parse(const char *line, size_t len, struct ncp_cmd *cmd,
		    char *err, size_t errlen)
{
	char copy[NCP_PROTO_LINE_MAX];
	char *tok[MAX_TOKENS];
	char shownbuf[48], shownbuf2[48];
	const struct cmd_spec *sp;
	size_t bad;
	int ntok = 0, nargs, rc;

	memset(cmd, 0, sizeof(*cmd));
	if (err && errlen)
		err[0] = '\0';

	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len + 1 > NCP_PROTO_LINE_MAX) {
		ncp_errf(err, errlen, "line longer than %d bytes",
			 NCP_PROTO_LINE_MAX);
		return -E2BIG;
	}
	if (len > 0 && line[len - 1] == '\r')
		len--;

	if (memchr(line, '\0', len)) {
		ncp_errf(err, errlen, "NUL byte at byte %zu of the line",
			 (size_t)((const char *)memchr(line, '\0', len) - line) + 1);
		return -EPROTO;
	}
	bad = ncp_utf8_check(line, len);
	if (bad < len) {
		ncp_errf(err, errlen, "invalid UTF-8 at byte %zu of the line",
			 bad + 1);
		return -EPROTO;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)line[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			ncp_errf(err, errlen,
				 "control character 0x%02x at byte %zu of the "
				 "line",
				 c, i + 1);
			return -EPROTO;
		}
	}

	/* Words: split on spaces and tabs in a NUL-terminated copy. */
	memcpy(copy, line, len);
	copy[len] = '\0';
	for (char *p = copy;;) {
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p)
			break;
		if (ntok < MAX_TOKENS)
			tok[ntok] = p;
		ntok++;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		if (*p)
			*p++ = '\0';
	}
	if (ntok == 0)
		return ncp_errf(err, errlen, "empty line (try 'help')");

	sp = spec_find(tok[0]);
	if (!sp)
		return ncp_errf(err, errlen, "unknown command '%s' (try 'help')",
				shown(tok[0], shownbuf, sizeof(shownbuf)));
	nargs = ntok - 1;
	cmd->kind = sp->kind;

	switch (sp->kind) {
	case NCP_CMD_TARGET:
		if (nargs != 2)
			return usage(sp, nargs, err, errlen);
		if ((rc = number(tok[1], "X", &cmd->target.x, err, errlen)) ||
		    (rc = number(tok[2], "Y", &cmd->target.y, err, errlen)))
			return rc;
		return 0;

	case NCP_CMD_TASK:
		if (nargs < 1 || nargs > 2)
			return usage(sp, nargs, err, errlen);
		/* The spellings the config takes, but "center-out". */
		if (strcmp(tok[1], "center-out") == 0 ||
		    ncp_task_kind_parse(tok[1], &cmd->task.kind))
			return ncp_errf(err, errlen,
					"unknown task '%s' (centre-out, random, "
					"steps, manual, line, circle or path)",
					shown(tok[1], shownbuf,
					      sizeof(shownbuf)));
		if (nargs == 2) {
			double lo, hi;
			if (cmd->task.kind == NCP_TASK_MANUAL)
				return ncp_errf(err, errlen,
						"task manual takes no PERIOD");
			/* One range for the period: the config table's. */
			rc = ncp_config_key_range("task.period", &lo, &hi);
			ncp_assert(rc == 0);
			cmd->task.has_period = true;
			return ncp_proto_number(tok[2], "PERIOD", lo, hi,
						&cmd->task.period, err, errlen);
		}
		return 0;

	case NCP_CMD_PAUSE:
	case NCP_CMD_RESUME:
	case NCP_CMD_RESET:
	case NCP_CMD_STATUS:
	case NCP_CMD_SHUTDOWN:
		if (nargs != 0)
			return usage(sp, nargs, err, errlen);
		return 0;

	case NCP_CMD_CONFIG_GET:
		if (nargs == 0)
			return ncp_errf(err, errlen, "usage: %s", sp->usage);
		if (strcmp(tok[1], "get") != 0)
			return ncp_errf(err, errlen,
					"unknown config sub-command '%s' "
					"(usage: config get KEY)",
					shown(tok[1], shownbuf,
					      sizeof(shownbuf)));
		if (nargs != 2)
			return usage(sp, nargs, err, errlen);
		if ((rc = config_key(tok[2], err, errlen)))
			return rc;
		strcpy(cmd->config.key, tok[2]);
		return 0;

	case NCP_CMD_HELP:
		if (nargs > 1)
			return usage(sp, nargs, err, errlen);
		cmd->help.topic = NCP_CMD_NONE;
		if (nargs == 1) {
			const struct cmd_spec *t = spec_find(tok[1]);
			if (!t)
				return ncp_errf(err, errlen,
						"no help for '%s': unknown "
						"command (try 'help')",
						shown(tok[1], shownbuf,
						      sizeof(shownbuf)));
			cmd->help.topic = t->kind;
		}
		return 0;

	case NCP_CMD_RECORD_START:
	case NCP_CMD_RECORD_STOP:
		if (nargs >= 1 && strcmp(tok[1], "stop") == 0) {
			cmd->kind = NCP_CMD_RECORD_STOP;
			if (nargs != 1)
				return usage(spec_of(NCP_CMD_RECORD_STOP),
					     nargs, err, errlen);
			return 0;
		}
		if (nargs < 1 || strcmp(tok[1], "start") != 0)
			return ncp_errf(err, errlen,
					"usage: record start NAME [SECONDS] | "
					"record stop");
		cmd->kind = NCP_CMD_RECORD_START;
		/* The --probe options after NAME [SECONDS]. */
		int plain = nargs;
		for (int i = 3; i <= nargs && i < MAX_TOKENS; i++)
			if (strcmp(tok[i], "--probe") == 0) {
				plain = i - 1;
				break;
			}
		for (int i = plain + 1; i <= nargs; i += 2) {
			if (i >= MAX_TOKENS || strcmp(tok[i], "--probe") != 0)
				return ncp_errf(err, errlen, "record start: '%s' "
						"after the probes (each is "
						"--probe PROBE)", i < MAX_TOKENS ?
						shown(tok[i], shownbuf,
						      sizeof(shownbuf)) : "...");
			if (i + 1 > nargs)
				return ncp_errf(err, errlen, "record start: "
						"--probe needs a PROBE");
			if (cmd->record.n_probes == NCP_PROTO_PROBES)
				return ncp_errf(err, errlen, "record start: more "
						"than %d probes", NCP_PROTO_PROBES);
			if (strlen(tok[i + 1]) > NCP_PROTO_PROBE_LEN)
				return ncp_errf(err, errlen, "record start: probe "
						"'%s' is longer than %d characters",
						shown(tok[i + 1], shownbuf,
						      sizeof(shownbuf)),
						NCP_PROTO_PROBE_LEN);
			cmd->record.has_probes = true;
			if (strcmp(tok[i + 1], "none") != 0)
				strcpy(cmd->record.probes[cmd->record.n_probes++],
				       tok[i + 1]);
		}
		if (plain < 2 || plain > 3)
			return usage(sp, plain, err, errlen);
		if ((rc = ncp_proto_name(tok[2], err, errlen)))
			return rc;
		strcpy(cmd->record.name, tok[2]);
		if (plain == 3) {
			cmd->record.has_seconds = true;
			return seconds(tok[3], "SECONDS", NCP_PROTO_RECORD_MAX,
				       &cmd->record.seconds, err, errlen);
		}
		return 0;

	case NCP_CMD_SAVE:
	case NCP_CMD_LOAD:
		if (nargs != 1)
			return usage(sp, nargs, err, errlen);
		if ((rc = ncp_proto_name(tok[1], err, errlen)))
			return rc;
		strcpy(cmd->file.name, tok[1]);
		return 0;

	case NCP_CMD_TRAIN:
		if (nargs != 1)
			return usage(sp, nargs, err, errlen);
		if (strcmp(tok[1], "on") == 0)
			cmd->train.op = NCP_TRAIN_ON;
		else if (strcmp(tok[1], "off") == 0)
			cmd->train.op = NCP_TRAIN_OFF;
		else if (strcmp(tok[1], "status") == 0)
			cmd->train.op = NCP_TRAIN_STATUS;
		else
			return ncp_errf(err, errlen,
					"unknown train sub-command '%s' (on, "
					"off or status)",
					shown(tok[1], shownbuf,
					      sizeof(shownbuf)));
		return 0;

	case NCP_CMD_LESION:
		if (nargs >= 1 && strcmp(tok[1], "off") == 0) {
			cmd->lesion.kind = NCP_LESION_NONE;
			if (nargs != 1)
				return usage(sp, nargs, err, errlen);
			return 0;
		}
		if (nargs != 2)
			return usage(sp, nargs, err, errlen);
		if (strcmp(tok[1], "pmc-m1") == 0)
			cmd->lesion.kind = NCP_LESION_PMC_M1;
		else if (strcmp(tok[1], "m1-silence") == 0)
			cmd->lesion.kind = NCP_LESION_M1_SILENCE;
		else
			return ncp_errf(err, errlen,
					"unknown lesion '%s' (pmc-m1, m1-silence "
					"or off)",
					shown(tok[1], shownbuf,
					      sizeof(shownbuf)));
		return ncp_proto_number(tok[2], "FRACTION", 0.0, 1.0,
					&cmd->lesion.fraction, err, errlen);

	case NCP_CMD_STIM_SET:
	case NCP_CMD_STIM_OFF:
		if (nargs >= 1 && strcmp(tok[1], "off") == 0) {
			cmd->kind = NCP_CMD_STIM_OFF;
			if (nargs != 1)
				return usage(spec_of(NCP_CMD_STIM_OFF), nargs,
					     err, errlen);
			return 0;
		}
		if (nargs < 1 || strcmp(tok[1], "set") != 0)
			return ncp_errf(err, errlen,
					"usage: stim set V1 .. VE | stim off");
		if (nargs < 2)
			return usage(sp, nargs, err, errlen);
		if (nargs - 1 > NCP_STIM_MAX_ELECTRODES)
			return ncp_errf(err, errlen, "stim set: %d values; at "
					"most %d electrodes", nargs - 1,
					NCP_STIM_MAX_ELECTRODES);
		cmd->stim.n = nargs - 1;
		for (int i = 0; i < cmd->stim.n; i++) {
			char what[16];
			double v;
			snprintf(what, sizeof(what), "V%d", i + 1);
			if ((rc = ncp_proto_number(tok[2 + i], what, -FLT_MAX,
						   FLT_MAX, &v, err, errlen)))
				return rc;
			cmd->stim.theta[i] = (float)v;
		}
		return 0;

	case NCP_CMD_FIELD:
		if (nargs < 1 || nargs > 2)
			return usage(sp, nargs, err, errlen);
		if (strcmp(tok[1], "on") == 0)
			cmd->field.op = 1;
		else if (strcmp(tok[1], "off") == 0)
			cmd->field.op = 0;
		else if (strcmp(tok[1], "status") == 0)
			cmd->field.op = -1;
		else
			return ncp_errf(err, errlen,
					"unknown field sub-command '%s' (on, "
					"off or status)",
					shown(tok[1], shownbuf,
					      sizeof(shownbuf)));
		if (nargs == 2) {
			double lo, hi;
			if (cmd->field.op != 1)
				return ncp_errf(err, errlen, "field %s takes no "
						"STRENGTH", tok[1]);
			rc = ncp_config_key_range("field.strength", &lo, &hi);
			ncp_assert(rc == 0);
			cmd->field.has_strength = true;
			return ncp_proto_number(tok[2], "STRENGTH", lo, hi,
						&cmd->field.strength, err,
						errlen);
		}
		return 0;
	case NCP_CMD_NCP: {
		static const struct {
			const char *words;
			enum ncp_ncp_op op;
			bool name;
		} ops[] = {
			{ "load", NCP_NCP_LOAD, true },
			{ "on", NCP_NCP_ON, false },
			{ "off", NCP_NCP_OFF, false },
			{ "train on", NCP_NCP_TRAIN_ON, false },
			{ "train off", NCP_NCP_TRAIN_OFF, false },
			{ "status", NCP_NCP_STATUS, false },
			{ "save", NCP_NCP_SAVE, true },
		};
		if (nargs < 1)
			return ncp_errf(err, errlen, "usage: %s", sp->usage);
		if (nargs == 1 && !strcmp(tok[1], "train"))
			return ncp_errf(err, errlen, "usage: ncp train on|off");
		for (size_t i = 0; i < NCP_ARRAY_SIZE(ops); i++) {
			bool two = strchr(ops[i].words, ' ') != NULL;
			int used = two ? 2 : 1;
			if (two ? nargs < 2 || strcmp(tok[1], "train") ||
				  strcmp(tok[2], ops[i].words + 6) :
				  strcmp(tok[1], ops[i].words))
				continue;
			cmd->ncp.op = ops[i].op;
			if (nargs != used + (ops[i].name ? 1 : 0))
				return ncp_errf(err, errlen, "usage: ncp %s%s",
						ops[i].words,
						ops[i].name ? " NAME" : "");
			if (!ops[i].name)
				return 0;
			if ((rc = ncp_proto_name(tok[used + 1], err, errlen)))
				return rc;
			strcpy(cmd->ncp.name, tok[used + 1]);
			return 0;
		}
		return ncp_errf(err, errlen, "unknown ncp sub-command '%s%s%s' "
				"(load, on, off, train on|off, status, save)",
				shown(tok[1], shownbuf, sizeof(shownbuf)),
				nargs > 1 && !strcmp(tok[1], "train") ? " " : "",
				nargs > 1 && !strcmp(tok[1], "train") ?
					shown(tok[2], shownbuf2,
					      sizeof(shownbuf2)) : "");
	}

	case NCP_CMD_NONE:
	case NCP_CMD_COUNT:
		break;
	}
	ncp_assert(!"command table and parser disagree");
	return -EINVAL;
}

/* --- help ---------------------------------------------------------------- */

void ncp_proto_help(const struct ncp_cmd *cmd, struct ncp_reply *r)
{
	char text[NCP_REPLY_MAX];
	size_t n = 0;
	const struct cmd_spec *topic = spec_of(cmd->help.topic);

	text[0] = '\0';
	if (!topic) {
		n += (size_t)snprintf(text + n, sizeof(text) - n, "commands:");
		for (size_t i = 0; i < NCP_ARRAY_SIZE(specs); i++) {
			if (i > 0 && strcmp(specs[i].word, specs[i - 1].word) == 0)
				continue;
			n += (size_t)snprintf(text + n, sizeof(text) - n, " %s",
					      specs[i].word);
		}
		snprintf(text + n, sizeof(text) - n,
			 "; 'help COMMAND' describes one");
	} else {
		for (size_t i = 0; i < NCP_ARRAY_SIZE(specs); i++) {
			if (strcmp(specs[i].word, topic->word) != 0)
				continue;
			n += (size_t)snprintf(text + n, sizeof(text) - n,
					      "%s%s: %s", n ? "; " : "",
					      specs[i].usage, specs[i].help);
		}
	}
	ncp_reply_init(r);
	ncp_reply_text(r, "%s", text);
}

/* --- framing ------------------------------------------------------------- */

void ncp_proto_framer_init(struct ncp_proto_framer *f)
{
	f->start = 0;
	f->len = 0;
	f->scanned = 0;
	f->discarding = false;
}

char *ncp_proto_framer_space(struct ncp_proto_framer *f, size_t *avail)
{
	if (f->start > 0) {
		memmove(f->buf, f->buf + f->start, f->len - f->start);
		f->len -= f->start;
		f->start = 0;
	}
	/* A full buffer without a newline was reported by _next and
	 * dropped, so there is always room. */
	ncp_assert(f->len < sizeof(f->buf));
	*avail = sizeof(f->buf) - f->len;
	return f->buf + f->len;
}

void ncp_proto_framer_commit(struct ncp_proto_framer *f, size_t n)
{
	ncp_assert(n <= sizeof(f->buf) - f->len);
	f->len += n;
}

enum ncp_proto_frame ncp_proto_framer_next(struct ncp_proto_framer *f,
					   const char **line, size_t *len)
{
	for (;;) {
		size_t from = f->start + f->scanned;
		char *nl = memchr(f->buf + from, '\n', f->len - from);

		if (!nl) {
			f->scanned = f->len - f->start;
			if (f->discarding) {
				f->start = f->len = f->scanned = 0;
				return NCP_PROTO_FRAME_NONE;
			}
			if (f->len - f->start >= sizeof(f->buf)) {
				f->start = f->len = f->scanned = 0;
				f->discarding = true;
				return NCP_PROTO_FRAME_TOO_LONG;
			}
			return NCP_PROTO_FRAME_NONE;
		}
		size_t end = (size_t)(nl - f->buf);
		size_t begin = f->start;
		f->start = end + 1;
		f->scanned = 0;
		if (f->discarding) {
			f->discarding = false; /* the over-long line ends */
			continue;
		}
		*line = f->buf + begin;
		*len = end - begin;
		return NCP_PROTO_FRAME_LINE;
	}
}
