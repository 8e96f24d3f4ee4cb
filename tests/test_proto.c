/* The control protocol parser and framer: every command's valid forms and
 * every error path, with the code and a word of the message checked. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "daemon/ncp_proto.h"
#include "tests/ncp_check.h"

static struct ncp_cmd cmd;
static char err[NCP_PROTO_ERR_MAX];

static int parse(const char *line)
{
	return ncp_proto_parse(line, strlen(line), &cmd, err, sizeof(err));
}

/* The line parses to `kind`. */
#define ck_ok(line, k)                                                    \
	do {                                                              \
		int rc_ = parse(line);                                    \
		ck_assert_msg(rc_ == 0, "'%s': %d %s", line, rc_, err);   \
		ck_assert_int_eq(cmd.kind, k);                            \
	} while (0)

/* The line is refused with code `code` and a message holding `word`. */
#define ck_err(line, code, word)                                          \
	do {                                                              \
		int rc_ = parse(line);                                    \
		ck_assert_msg(rc_ == (code), "'%s': got %d (%s), want %d", \
			      line, rc_, err, code);                      \
		ck_assert_msg(strstr(err, word), "'%s': message '%s' lacks '%s'", \
			      line, err, word);                           \
		ck_assert(!strchr(err, '\n'));                            \
	} while (0)

START_TEST(target_forms)
{
	ck_ok("target 0.1 1.25", NCP_CMD_TARGET);
	ck_assert(cmd.target.x == 0.1 && cmd.target.y == 1.25);
	ck_ok("target -0.25 +1e-1\n", NCP_CMD_TARGET);
	ck_assert(cmd.target.x == -0.25 && cmd.target.y == 0.1);
	ck_ok("  target\t.5   2.  \r\n", NCP_CMD_TARGET);
	ck_assert(cmd.target.x == 0.5 && cmd.target.y == 2.0);
	ck_ok("target -0 0", NCP_CMD_TARGET);
	ck_assert(!signbit(cmd.target.x));
	ck_ok("target 1e-400 0", NCP_CMD_TARGET); /* underflows to 0 */

	ck_err("target", -EINVAL, "usage: target X Y");
	ck_err("target 1", -EINVAL, "got 1 argument)");
	ck_err("target 1 2 3", -EINVAL, "got 3 arguments");
	ck_err("target 1x 2", -EINVAL, "'1x' is not a number");
	ck_err("target 1 2x", -EINVAL, "Y:");
	ck_err("target 1e999 0", -ERANGE, "out of range");
	ck_err("target 0 -1e999", -ERANGE, "Y: -1e999");
	ck_err("target nan 0", -ERANGE, "finite");
	ck_err("target 0 -inf", -ERANGE, "finite");
	ck_err("target Infinity 0", -ERANGE, "finite");
	ck_err("target 0x1p3 0", -EINVAL, "not a number");
	ck_err("target 1e 0", -EINVAL, "not a number");
	ck_err("target . 0", -EINVAL, "not a number");
	ck_err("target - 0", -EINVAL, "not a number");
	ck_err("target 1,5 0", -EINVAL, "not a number");
	ck_err("target 1.2.3 0", -EINVAL, "not a number");
}
END_TEST

START_TEST(number_helper)
{
	double x = -1;
	ck_assert_int_eq(ncp_proto_number("2.5", "V", 0, 10, &x, err, sizeof(err)), 0);
	ck_assert(x == 2.5);
	ck_assert_int_eq(ncp_proto_number("", "V", 0, 10, &x, err, sizeof(err)), -EINVAL);
	ck_assert(strstr(err, "missing"));
	ck_assert_int_eq(ncp_proto_number("11", "V", 0, 10, &x, err, sizeof(err)), -ERANGE);
	ck_assert(strstr(err, "[0, 10]"));
	ck_assert_int_eq(ncp_proto_number("-1e-9", "V", 0, 10, &x, err, sizeof(err)), -ERANGE);
	ck_assert_int_eq(ncp_proto_number(" 1", "V", 0, 10, &x, err, sizeof(err)), -EINVAL);
	ck_assert_int_eq(ncp_proto_number("1 ", "V", 0, 10, &x, err, sizeof(err)), -EINVAL);
	ck_assert(x == 2.5); /* untouched on error */
}
END_TEST

START_TEST(task_forms)
{
	ck_ok("task centre-out", NCP_CMD_TASK);
	ck_assert(cmd.task.kind == NCP_TASK_CENTRE_OUT && !cmd.task.has_period);
	ck_ok("task random 2.5", NCP_CMD_TASK);
	ck_assert(cmd.task.kind == NCP_TASK_RANDOM && cmd.task.has_period);
	ck_assert(cmd.task.period == 2.5);
	ck_ok("task centre-out 3600", NCP_CMD_TASK);
	ck_ok("task random 0.01", NCP_CMD_TASK);
	ck_ok("task manual", NCP_CMD_TASK);
	ck_assert(cmd.task.kind == NCP_TASK_MANUAL);

	ck_err("task", -EINVAL, "usage: task centre-out");
	ck_err("task manual 2", -EINVAL, "no PERIOD");
	ck_err("task center-out", -EINVAL, "unknown task 'center-out' (centre-out, random, steps, manual, line, circle or path)");
	ck_ok("task circle 4.5", NCP_CMD_TASK);
	ck_assert_int_eq(cmd.task.kind, NCP_TASK_CIRCLE);
	ck_assert(cmd.task.has_period && cmd.task.period == 4.5);
	ck_ok("task path", NCP_CMD_TASK);
	ck_assert_int_eq(cmd.task.kind, NCP_TASK_PATH);
	/* PERIOD's range is task.period's in the config table. */
	ck_err("task random 0", -ERANGE, "PERIOD must be within [0.01, 3600]");
	ck_err("task random -1", -ERANGE, "within [0.01, 3600]");
	ck_err("task random 0.0001", -ERANGE, "within [0.01, 3600] (got 0.0001)");
	ck_err("task random 5000", -ERANGE, "within [0.01, 3600] (got 5000)");
	ck_err("task centre-out 86400", -ERANGE, "within [0.01, 3600]");
	ck_err("task random nan", -ERANGE, "finite");
	ck_err("task random 2s", -EINVAL, "not a number");
	ck_err("task random 1 2", -EINVAL, "got 3 arguments");
}
END_TEST

START_TEST(plain_commands)
{
	ck_ok("pause", NCP_CMD_PAUSE);
	ck_ok("resume", NCP_CMD_RESUME);
	ck_ok("reset\r\n", NCP_CMD_RESET);
	ck_ok("status", NCP_CMD_STATUS);
	ck_ok("shutdown", NCP_CMD_SHUTDOWN);
	ck_err("pause now", -EINVAL, "usage: pause (got 1 argument)");
	ck_err("status -v", -EINVAL, "usage: status");
	ck_err("shutdown 1 2", -EINVAL, "got 2 arguments");
}
END_TEST

START_TEST(config_help_train)
{
	ck_ok("config get task.period", NCP_CMD_CONFIG_GET);
	ck_assert_str_eq(cmd.config.key, "task.period");
	ck_err("config", -EINVAL, "usage: config get KEY");
	ck_err("config get", -EINVAL, "usage: config get KEY (got 0 arguments)");
	ck_err("config set seed 1", -EINVAL, "sub-command 'set'");
	ck_err("config get a b", -EINVAL, "(got 2 arguments)");
	ck_err("config get bad/key", -EINVAL, "not a config key");
	ck_err("config get "
	       "k1234567890123456789012345678901234567890123456789012345678901234",
	       -EINVAL, "at most 64");

	ck_ok("help", NCP_CMD_HELP);
	ck_assert_int_eq(cmd.help.topic, NCP_CMD_NONE);
	ck_ok("help target", NCP_CMD_HELP);
	ck_assert_int_eq(cmd.help.topic, NCP_CMD_TARGET);
	ck_ok("help record", NCP_CMD_HELP);
	ck_assert_int_eq(cmd.help.topic, NCP_CMD_RECORD_START);
	ck_err("help frob", -EINVAL, "no help for 'frob'");
	ck_err("help a b", -EINVAL, "usage: help [COMMAND]");

	ck_ok("train on", NCP_CMD_TRAIN);
	ck_assert(cmd.train.op == NCP_TRAIN_ON);
	ck_ok("train off", NCP_CMD_TRAIN);
	ck_assert(cmd.train.op == NCP_TRAIN_OFF);
	ck_ok("train status", NCP_CMD_TRAIN);
	ck_assert(cmd.train.op == NCP_TRAIN_STATUS);
	ck_err("train", -EINVAL, "usage: train on|off|status");
	ck_err("train maybe", -EINVAL, "'maybe' (on, off or status)");
}
END_TEST

START_TEST(lesion_and_stim)
{
	ck_ok("lesion pmc-m1 1", NCP_CMD_LESION);
	ck_assert_int_eq(cmd.lesion.kind, NCP_LESION_PMC_M1);
	ck_assert(cmd.lesion.fraction == 1.0);
	ck_ok("lesion m1-silence 0.25", NCP_CMD_LESION);
	ck_assert_int_eq(cmd.lesion.kind, NCP_LESION_M1_SILENCE);
	ck_assert(cmd.lesion.fraction == 0.25);
	ck_ok("lesion off", NCP_CMD_LESION);
	ck_assert_int_eq(cmd.lesion.kind, NCP_LESION_NONE);
	ck_err("lesion", -EINVAL, "usage: lesion pmc-m1 FRACTION");
	ck_err("lesion pmc-m1", -EINVAL, "got 1 argument");
	ck_err("lesion cut 0.5", -EINVAL, "unknown lesion 'cut'");
	ck_err("lesion pmc-m1 1.5", -ERANGE, "FRACTION must be within [0, 1]");
	ck_err("lesion pmc-m1 nan", -ERANGE, "FRACTION must be a finite");
	ck_err("lesion off 1", -EINVAL, "usage:");

	ck_ok("stim set 0 0.5 -1e-1", NCP_CMD_STIM_SET);
	ck_assert_int_eq(cmd.stim.n, 3);
	ck_assert(cmd.stim.theta[1] == 0.5f && cmd.stim.theta[2] == -0.1f);
	ck_ok("stim off", NCP_CMD_STIM_OFF);

	ck_ok("ncp load cpn-1", NCP_CMD_NCP);
	ck_assert_int_eq(cmd.ncp.op, NCP_NCP_LOAD);
	ck_assert_str_eq(cmd.ncp.name, "cpn-1");
	ck_ok("ncp on", NCP_CMD_NCP);
	ck_assert_int_eq(cmd.ncp.op, NCP_NCP_ON);
	ck_ok("ncp off", NCP_CMD_NCP);
	ck_assert_int_eq(cmd.ncp.op, NCP_NCP_OFF);
	ck_ok("ncp train on", NCP_CMD_NCP);
	ck_assert_int_eq(cmd.ncp.op, NCP_NCP_TRAIN_ON);
	ck_ok("ncp train off", NCP_CMD_NCP);
	ck_assert_int_eq(cmd.ncp.op, NCP_NCP_TRAIN_OFF);
	ck_ok("ncp status", NCP_CMD_NCP);
	ck_assert_int_eq(cmd.ncp.op, NCP_NCP_STATUS);
	ck_ok("ncp save out", NCP_CMD_NCP);
	ck_assert_int_eq(cmd.ncp.op, NCP_NCP_SAVE);
	ck_assert_str_eq(cmd.ncp.name, "out");
	ck_err("ncp", -EINVAL, "usage: ncp load NAME | ncp on");
	ck_err("ncp load", -EINVAL, "usage: ncp load NAME");
	ck_err("ncp load ../x", -EACCES, "");
	ck_err("ncp on now", -EINVAL, "usage: ncp on");
	ck_err("ncp train", -EINVAL, "usage: ncp train on|off");
	ck_err("ncp train maybe", -EINVAL, "unknown ncp sub-command 'train maybe'");
	ck_err("ncp fly", -EINVAL, "unknown ncp sub-command 'fly'");
	ck_err("stim", -EINVAL, "usage: stim set V1 .. VE | stim off");
	ck_err("stim set", -EINVAL, "usage: stim set V1 .. VE");
	ck_err("stim off now", -EINVAL, "usage: stim off");
	ck_err("stim set 0 inf", -ERANGE, "V2 must be a finite number");
	ck_err("stim set 0 0 x", -EINVAL, "V3: 'x' is not a number");
	/* One value per electrode, up to the limit. */
	char line[NCP_PROTO_LINE_MAX];
	int n = snprintf(line, sizeof(line), "stim set");
	for (int i = 0; i < NCP_STIM_MAX_ELECTRODES; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " 0");
	ck_ok(line, NCP_CMD_STIM_SET);
	ck_assert_int_eq(cmd.stim.n, NCP_STIM_MAX_ELECTRODES);
	snprintf(line + n, sizeof(line) - (size_t)n, " 0");
	ck_err(line, -EINVAL, "at most 256 electrodes");
}
END_TEST

START_TEST(record_probes)
{
	ck_ok("record start r1 --probe cb:spikes --probe m1:value:0.01", NCP_CMD_RECORD_START);
	ck_assert_str_eq(cmd.record.name, "r1");
	ck_assert(!cmd.record.has_seconds && cmd.record.has_probes);
	ck_assert_int_eq(cmd.record.n_probes, 2);
	ck_assert_str_eq(cmd.record.probes[1], "m1:value:0.01");
	ck_ok("record start r1 5 --probe arm", NCP_CMD_RECORD_START);
	ck_assert(cmd.record.has_seconds && cmd.record.seconds == 5);
	ck_assert_int_eq(cmd.record.n_probes, 1);
	ck_ok("record start r1 --probe none", NCP_CMD_RECORD_START);
	ck_assert(cmd.record.has_probes && cmd.record.n_probes == 0);
	ck_ok("record start r1 5", NCP_CMD_RECORD_START);
	ck_assert(!cmd.record.has_probes);
	ck_err("record start r1 --probe", -EINVAL, "--probe needs a PROBE");
	ck_err("record start r1 --probe a b", -EINVAL, "'b' after the probes");
	ck_err("record start r1 5 6 --probe a", -EINVAL, "usage: record start");
	char line[NCP_PROTO_LINE_MAX];
	int n = snprintf(line, sizeof(line), "record start r1");
	for (int i = 0; i <= NCP_PROTO_PROBES; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, " --probe p%d", i);
	ck_err(line, -EINVAL, "more than 16 probes");
	snprintf(line, sizeof(line), "record start r1 --probe %0*d", 65, 7);
	ck_err(line, -EINVAL, "longer than 64 characters");
}
END_TEST

START_TEST(field_forms)
{
	ck_ok("field on", NCP_CMD_FIELD);
	ck_assert_int_eq(cmd.field.op, 1);
	ck_assert(!cmd.field.has_strength);
	ck_ok("field on -0.75", NCP_CMD_FIELD);
	ck_assert(cmd.field.has_strength && cmd.field.strength == -0.75);
	ck_ok("field off", NCP_CMD_FIELD);
	ck_assert_int_eq(cmd.field.op, 0);
	ck_ok("field status", NCP_CMD_FIELD);
	ck_assert_int_eq(cmd.field.op, -1);
	ck_err("field", -EINVAL, "usage: field on [STRENGTH]");
	ck_err("field sideways", -EINVAL, "unknown field sub-command 'sideways'");
	ck_err("field off 1", -EINVAL, "field off takes no STRENGTH");
	ck_err("field on 1e3", -ERANGE, "STRENGTH must be within [-100, 100]");
	ck_err("field on nan", -ERANGE, "STRENGTH must be a finite");
	ck_err("field on x", -EINVAL, "STRENGTH: 'x' is not a number");
	ck_err("field on 1 2", -EINVAL, "usage:");
}
END_TEST

START_TEST(file_commands)
{
	char name[NCP_PROTO_NAME_MAX + 32];

	ck_ok("record start run-1", NCP_CMD_RECORD_START);
	ck_assert_str_eq(cmd.record.name, "run-1");
	ck_assert(!cmd.record.has_seconds);
	ck_ok("record start a.b_c 30", NCP_CMD_RECORD_START);
	ck_assert(cmd.record.has_seconds && cmd.record.seconds == 30);
	ck_ok("record stop", NCP_CMD_RECORD_STOP);
	ck_ok("save model_v2.safetensors", NCP_CMD_SAVE);
	ck_assert_str_eq(cmd.file.name, "model_v2.safetensors");
	ck_ok("load a..b", NCP_CMD_LOAD); /* no '/', so it stays inside */

	ck_err("record", -EINVAL, "usage: record start NAME");
	ck_err("record begin x", -EINVAL, "usage: record start");
	ck_err("record start", -EINVAL,
	       "usage: record start NAME [SECONDS] [--probe PROBE]... (got 0 arguments)");
	ck_err("record stop now", -EINVAL, "usage: record stop (got 1 argument)");
	ck_err("record start x 0", -ERANGE, "SECONDS must be greater than 0");
	ck_err("record start x 1e999", -ERANGE, "out of range");
	ck_err("record start x 10 11", -EINVAL, "(got 3 arguments)");
	ck_err("save", -EINVAL, "usage: save NAME");
	ck_err("load a b", -EINVAL, "usage: load NAME");

	/* Paths: refused with a message saying why. */
	ck_err("save /etc/passwd", -EACCES, "absolute paths are refused");
	ck_err("load ..", -EACCES, "'..' is refused");
	ck_err("load ../secret", -EACCES, "'..' is refused");
	ck_err("record start a/../../b", -EACCES, "'..' is refused");
	ck_err("save a/..", -EACCES, "'..' is refused");
	ck_err("save sub/model", -EACCES, "'/' is refused");
	ck_err("save .hidden", -EINVAL, "may not start with '.'");
	ck_err("save .", -EINVAL, "may not start with '.'");
	ck_err("save a*b", -EINVAL, "only letters, digits");
	ck_err("save caf\xc3\xa9", -EINVAL, "only letters, digits");

	memset(name, 0, sizeof(name));
	memcpy(name, "save ", 5);
	memset(name + 5, 'n', NCP_PROTO_NAME_MAX);
	ck_ok(name, NCP_CMD_SAVE);
	ck_assert_uint_eq(strlen(cmd.file.name), NCP_PROTO_NAME_MAX);
	name[5 + NCP_PROTO_NAME_MAX] = 'n';
	ck_err(name, -EINVAL, "longer than 128");
}
END_TEST

START_TEST(framing_errors)
{
	char line[NCP_PROTO_LINE_MAX + 8];

	ck_err("", -EINVAL, "empty line");
	ck_err("\n", -EINVAL, "empty line");
	ck_err(" \t \r\n", -EINVAL, "empty line");
	ck_err("frobnicate 1", -EINVAL, "unknown command 'frobnicate' (try 'help')");
	ck_err("STATUS", -EINVAL, "unknown command");
	ck_err("status\rx", -EPROTO, "control character 0x0d at byte 7");
	ck_err("sta\x1btus", -EPROTO, "control character 0x1b");
	ck_err("status\x7f", -EPROTO, "0x7f");
	ck_err("status\n\n", -EPROTO, "0x0a");

	/* A NUL byte (strlen would stop there: pass the length). */
	ck_assert_int_eq(ncp_proto_parse("stat\0us\n", 8, &cmd, err, sizeof(err)),
			 -EPROTO);
	ck_assert(strstr(err, "NUL byte at byte 5"));

	/* 1024 bytes with the newline is the limit. */
	memset(line, ' ', sizeof(line));
	memcpy(line, "status", 6);
	line[NCP_PROTO_LINE_MAX - 1] = '\n';
	ck_assert_int_eq(ncp_proto_parse(line, NCP_PROTO_LINE_MAX, &cmd, err,
					 sizeof(err)), 0);
	ck_assert_int_eq(ncp_proto_parse(line, NCP_PROTO_LINE_MAX - 1, &cmd, err,
					 sizeof(err)), 0);
	line[NCP_PROTO_LINE_MAX - 1] = ' ';
	line[NCP_PROTO_LINE_MAX] = '\n';
	ck_assert_int_eq(ncp_proto_parse(line, NCP_PROTO_LINE_MAX + 1, &cmd, err,
					 sizeof(err)), -E2BIG);
	ck_assert(strstr(err, "longer than 1024 bytes"));
	ck_assert_int_eq(ncp_proto_parse(line, NCP_PROTO_LINE_MAX, &cmd, err,
					 sizeof(err)), -E2BIG);

	/* Long tokens are cut in messages, which stay short. */
	memset(line, 'x', 600);
	line[600] = '\0';
	ck_err(line, -EINVAL, "xxx...' (try 'help')");
	ck_assert(strlen(err) < 100);

	/* A small error buffer truncates but never overflows. */
	char small[8];
	ck_assert_int_eq(ncp_proto_parse("bogus", 5, &cmd, small, sizeof(small)),
			 -EINVAL);
	ck_assert_uint_eq(strlen(small), 7);
	ck_assert_int_eq(ncp_proto_parse("bogus", 5, &cmd, NULL, 0), -EINVAL);
}
END_TEST

START_TEST(invalid_utf8_is_refused_with_its_offset)
{
	/* The validation itself: tests/test_utf8.c. */
	/* Through the parser: EPROTO with the byte offset. */
	ck_err("save \xc0\xae\xc0\xae", -EPROTO, "invalid UTF-8 at byte 6");
	ck_err("status \xed\xa0\x80", -EPROTO, "invalid UTF-8 at byte 8");
	ck_err("\xff", -EPROTO, "invalid UTF-8 at byte 1");
}
END_TEST

START_TEST(help_replies)
{
	struct ncp_reply r;

	ck_ok("help", NCP_CMD_HELP);
	ncp_proto_help(&cmd, &r);
	ck_assert(!r.is_err);
	ck_assert(strncmp(r.line, "ok commands: target task pause", 30) == 0);
	for (int k = NCP_CMD_TARGET; k < NCP_CMD_COUNT; k++) {
		char word[32];
		snprintf(word, sizeof(word), " %s", ncp_proto_cmd_name(k));
		*strchrnul(word + 1, ' ') = '\0';
		ck_assert_msg(strstr(r.line, word), "help lacks %s", word);
	}
	ck_ok("help record", NCP_CMD_HELP);
	ncp_proto_help(&cmd, &r);
	ck_assert(strstr(r.line, "record start NAME [SECONDS] [--probe PROBE]...: "));
	ck_assert(strstr(r.line, "; record stop: "));
	ck_assert(!strchr(r.line, '\n'));
	ck_assert_str_eq(ncp_proto_cmd_name(NCP_CMD_CONFIG_GET), "config get");
	ck_assert_str_eq(ncp_proto_cmd_name(NCP_CMD_COUNT), "none");
}
END_TEST

/* Feed a stream in pieces of `chunk` bytes; collect what the framer
 * yields as "L:<line>" and "TOO_LONG" entries joined by '|'. */
static void frame(const char *stream, size_t len, size_t chunk, char *out,
		  size_t outlen)
{
	struct ncp_proto_framer f;
	size_t pos = 0, o = 0;

	ncp_proto_framer_init(&f);
	out[0] = '\0';
	while (pos < len) {
		size_t avail, n;
		char *p = ncp_proto_framer_space(&f, &avail);
		ck_assert(avail > 0);
		n = NCP_MIN(NCP_MIN(chunk, avail), len - pos);
		memcpy(p, stream + pos, n);
		ncp_proto_framer_commit(&f, n);
		pos += n;
		for (;;) {
			const char *line;
			size_t ll;
			enum ncp_proto_frame ev = ncp_proto_framer_next(&f, &line, &ll);
			if (ev == NCP_PROTO_FRAME_NONE)
				break;
			if (ev == NCP_PROTO_FRAME_LINE)
				o += (size_t)snprintf(out + o, outlen - o, "L:%.*s|",
						      (int)NCP_MIN(ll, 20), line);
			else
				o += (size_t)snprintf(out + o, outlen - o, "TOO_LONG|");
		}
	}
}

START_TEST(framer_cuts_lines)
{
	static char stream[4 * NCP_PROTO_LINE_MAX];
	char out[512];
	size_t n = 0;
	size_t chunks[] = { 1, 3, 7, 100, 1000, 5000 };

	n += (size_t)sprintf(stream + n, "status\nhelp x\r\n\n");
	memset(stream + n, 'a', 2000); /* over-long: reported once */
	n += 2000;
	n += (size_t)sprintf(stream + n, "\npause\n");
	memset(stream + n, 'b', NCP_PROTO_LINE_MAX - 1); /* exactly the limit */
	n += NCP_PROTO_LINE_MAX - 1;
	n += (size_t)sprintf(stream + n, "\n");
	memset(stream + n, 'c', NCP_PROTO_LINE_MAX); /* one byte too many */
	n += NCP_PROTO_LINE_MAX;
	n += (size_t)sprintf(stream + n, "\nend\npartial");

	for (size_t i = 0; i < NCP_ARRAY_SIZE(chunks); i++) {
		frame(stream, n, chunks[i], out, sizeof(out));
		ck_assert_msg(strcmp(out, "L:status|L:help x\r|L:|TOO_LONG|L:pause|"
					  "L:bbbbbbbbbbbbbbbbbbbb|TOO_LONG|L:end|") == 0,
			      "chunk %zu: %s", chunks[i], out);
	}
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, target_forms);
	tcase_add_test(tc, number_helper);
	tcase_add_test(tc, task_forms);
	tcase_add_test(tc, plain_commands);
	tcase_add_test(tc, config_help_train);
	tcase_add_test(tc, file_commands);
	tcase_add_test(tc, lesion_and_stim);
	tcase_add_test(tc, field_forms);
	tcase_add_test(tc, record_probes);
	tcase_add_test(tc, framing_errors);
	tcase_add_test(tc, invalid_utf8_is_refused_with_its_offset);
	tcase_add_test(tc, help_replies);
	tcase_add_test(tc, framer_cuts_lines);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
