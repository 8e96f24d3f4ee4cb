/* ncp_proto: the control protocol's request side (docs/protocol.md).
 *
 * A request is one line of UTF-8 text ending in "\n" (a "\r" before it is
 * tolerated), at most NCP_PROTO_LINE_MAX bytes with its newline.  Words are
 * separated by spaces or tabs.  ncp_proto_parse() turns one line into a
 * struct ncp_cmd or an error: a negative errno and a one-line message for
 * the client.  It is a pure function: no I/O, no allocation, no state.
 *
 * The framer cuts a byte stream into lines in a fixed buffer the socket
 * reads straight into; a line that outgrows the buffer is reported once
 * and discarded up to its newline.
 *
 * Error codes the parser returns:
 *   -E2BIG    line longer than NCP_PROTO_LINE_MAX (the framer reports it)
 *   -EPROTO   NUL byte, invalid UTF-8, control character
 *   -EINVAL   empty line, unknown command, wrong arity, malformed number
 *             or name
 *   -ERANGE   a number outside its range (not finite, a PERIOD outside
 *             the config table's range for task.period, ...)
 *   -EACCES   a name that is a path: absolute, with '/', or '..'
 */
#ifndef NCP_PROTO_H
#define NCP_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/ncp_reply.h"
#include "models/reach/ncp_stim.h" /* lesion kinds, electrode limit */
#include "models/reach/ncp_task.h" /* enum ncp_task_kind */

#define NCP_PROTO_LINE_MAX 1024 /* bytes in a request, "\n" included */
#define NCP_PROTO_NAME_MAX 128	/* characters in a file NAME */
#define NCP_PROTO_KEY_MAX 64	/* characters in a config KEY */
#define NCP_PROTO_ERR_MAX 256	/* an error buffer this size always suffices */
#define NCP_PROTO_RECORD_MAX 86400.0 /* record SECONDS */
#define NCP_PROTO_PROBES 16	/* --probe options in record start */
#define NCP_PROTO_PROBE_LEN 64	/* characters in a probe */

enum ncp_cmd_kind {
	NCP_CMD_NONE = 0,
	NCP_CMD_TARGET,	      /* target X Y */
	NCP_CMD_TASK,	      /* task centre-out|random|line|circle|path [PERIOD] | task manual */
	NCP_CMD_PAUSE,	      /* pause */
	NCP_CMD_RESUME,	      /* resume */
	NCP_CMD_RESET,	      /* reset */
	NCP_CMD_STATUS,	      /* status */
	NCP_CMD_CONFIG_GET,   /* config get KEY */
	NCP_CMD_SHUTDOWN,     /* shutdown */
	NCP_CMD_HELP,	      /* help [COMMAND] */
	NCP_CMD_RECORD_START, /* record start NAME [SECONDS] */
	NCP_CMD_RECORD_STOP,  /* record stop */
	NCP_CMD_SAVE,	      /* save NAME */
	NCP_CMD_LOAD,	      /* load NAME */
	NCP_CMD_TRAIN,	      /* train on|off|status */
	NCP_CMD_LESION,	      /* lesion KIND FRACTION | lesion off */
	NCP_CMD_STIM_SET,     /* stim set V1 .. VE */
	NCP_CMD_STIM_OFF,     /* stim off */
	NCP_CMD_FIELD,	      /* field on [STRENGTH] | field off | field status */
	NCP_CMD_NCP,	      /* ncp load NAME|on|off|train on|off|status|save NAME */
	NCP_CMD_COUNT
};

enum ncp_ncp_op {
	NCP_NCP_LOAD,
	NCP_NCP_ON,
	NCP_NCP_OFF,
	NCP_NCP_TRAIN_ON,
	NCP_NCP_TRAIN_OFF,
	NCP_NCP_STATUS,
	NCP_NCP_SAVE,
};

enum ncp_train_op {
	NCP_TRAIN_ON,
	NCP_TRAIN_OFF,
	NCP_TRAIN_STATUS,
};

/* One parsed request: plain data, fixed size, safe to copy through a
 * queue.  Only the member that belongs to `kind` is meaningful. */
struct ncp_cmd {
	enum ncp_cmd_kind kind;
	union {
		struct {
			double x, y; /* metres, finite */
		} target;
		struct {
			enum ncp_task_kind kind;
			bool has_period;
			double period; /* seconds, in task.period's range */
		} task;
		struct {
			char key[NCP_PROTO_KEY_MAX + 1];
		} config;
		struct {
			/* NCP_CMD_NONE for the list of commands, else the
			 * command (record, train: their start/on variant) */
			enum ncp_cmd_kind topic;
		} help;
		struct {
			char name[NCP_PROTO_NAME_MAX + 1];
			bool has_seconds;
			double seconds; /* in (0, RECORD_MAX] */
			/* --probe SPEC (checked against the network by the
			 * daemon); has_probes: given, replacing the config's */
			bool has_probes;
			int n_probes;
			char probes[NCP_PROTO_PROBES][NCP_PROTO_PROBE_LEN + 1];
		} record;
		struct {
			char name[NCP_PROTO_NAME_MAX + 1];
		} file; /* save, load */
		struct {
			enum ncp_train_op op;
		} train;
		struct {
			enum ncp_lesion_kind kind; /* off: NCP_LESION_NONE */
			double fraction;	    /* in [0, 1] */
		} lesion;
		struct {
			int op;	/* 1 on, 0 off, -1 status */
			bool has_strength;
			double strength; /* in field.strength's range */
		} field;
		struct {
			enum ncp_ncp_op op;
			char name[NCP_PROTO_NAME_MAX + 1]; /* load, save */
		} ncp;
		struct {
			int n;	/* values given (the daemon checks E) */
			float theta[NCP_STIM_MAX_ELECTRODES]; /* finite */
		} stim;
	};
};

/* Parse one request line: `len` bytes at `line`, with or without its
 * "\n" (and "\r").  Returns 0 and fills *cmd, or a negative errno with a
 * message for the client in err (errlen >= NCP_PROTO_ERR_MAX never
 * truncates). */
int ncp_proto_parse(const char *line, size_t len, struct ncp_cmd *cmd,
		    char *err, size_t errlen);

/* A number argument: decimal notation only ([+-]digits[.digits][e[+-]digits]
 * or [+-].digits...), finite, within [min, max].  `what` names it in the
 * message ("X", "PERIOD").  0, -EINVAL (malformed) or -ERANGE. */
int ncp_proto_number(const char *s, const char *what, double min, double max,
		     double *out, char *err, size_t errlen);

/* A file NAME: 1-NCP_PROTO_NAME_MAX characters from [A-Za-z0-9._-], not
 * starting with '.'.  0, -EACCES for a path (absolute, '/', '..'), or
 * -EINVAL. */
int ncp_proto_name(const char *s, char *err, size_t errlen);

/* The command's name as a user types it: "target", "record start". */
const char *ncp_proto_cmd_name(enum ncp_cmd_kind kind);

/* Answer a help request into r (an "ok" text reply). */
void ncp_proto_help(const struct ncp_cmd *cmd, struct ncp_reply *r);

/* --- framing ----------------------------------------------------------- */

enum ncp_proto_frame {
	NCP_PROTO_FRAME_NONE,	  /* no complete line: read more */
	NCP_PROTO_FRAME_LINE,	  /* *line, *len: one line, "\n" stripped */
	NCP_PROTO_FRAME_TOO_LONG, /* a line passed the limit: answer E2BIG once;
				     its bytes are dropped up to its "\n" */
};

/* Cuts a byte stream into lines.  Single-threaded; embed and _init.
 *
 *   avail = 0;
 *   char *p = ncp_proto_framer_space(&f, &avail);   // read into p[0..avail)
 *   ncp_proto_framer_commit(&f, n);                 // n bytes arrived
 *   while ((ev = ncp_proto_framer_next(&f, &line, &len)) != NONE) ...
 *
 * A line returned by _next stays valid until the next _space call. */
struct ncp_proto_framer {
	size_t start;	  /* first unconsumed byte */
	size_t len;	  /* bytes held */
	size_t scanned;	  /* bytes from start known to hold no "\n" */
	bool discarding;  /* inside an over-long line */
	char buf[NCP_PROTO_LINE_MAX];
};

void ncp_proto_framer_init(struct ncp_proto_framer *f);
/* Where the next bytes go, and how many fit (always > 0). */
char *ncp_proto_framer_space(struct ncp_proto_framer *f, size_t *avail);
void ncp_proto_framer_commit(struct ncp_proto_framer *f, size_t n);
enum ncp_proto_frame ncp_proto_framer_next(struct ncp_proto_framer *f,
					   const char **line, size_t *len);

#endif
