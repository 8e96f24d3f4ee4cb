/* Fuzz target: the request parser, the framer and the reply builder.
 *
 * Checks, beyond "no crash": a parsed command satisfies its contract
 * (finite numbers, names that stay inside the data directory), an error
 * has a known code and a one-line message, and the framer cuts the input
 * exactly as a plain split on '\n' would, whatever the read sizes. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_proto.h"
#include "daemon/ncp_reply.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *msg)
{
	size_t n = strnlen(msg, NCP_PROTO_ERR_MAX);
	ncp_assert(n > 0 && n < NCP_PROTO_ERR_MAX);
	for (size_t i = 0; i < n; i++)
		ncp_assert((unsigned char)msg[i] >= 0x20 && msg[i] != 0x7f);
}

static void check_name(const char *name)
{
	ncp_assert(ncp_proto_name(name, NULL, 0) == 0);
	ncp_assert(name[0] != '.' && !strchr(name, '/'));
	ncp_assert(strlen(name) <= NCP_PROTO_NAME_MAX);
}

static void check_parse(const char *line, size_t len)
{
	struct ncp_cmd cmd;
	struct ncp_reply r;
	char err[NCP_PROTO_ERR_MAX];
	int rc = ncp_proto_parse(line, len, &cmd, err, sizeof(err));

	ncp_reply_init(&r);
	if (rc) {
		ncp_assert(rc == -EINVAL || rc == -ERANGE || rc == -EPROTO ||
			   rc == -EACCES || rc == -E2BIG);
		check_message(err);
		ncp_reply_err(&r, rc, "%s", err);
		ncp_assert(r.is_err && strlen(r.line) == r.len);
		ncp_assert(!memchr(r.line, '\n', r.len));
		return;
	}
	ncp_assert(cmd.kind > NCP_CMD_NONE && cmd.kind < NCP_CMD_COUNT);
	/* Only valid UTF-8 without NUL or control characters gets here. */
	ncp_assert(ncp_utf8_check(line, len) == len);
	switch (cmd.kind) {
	case NCP_CMD_TARGET:
		ncp_assert(isfinite(cmd.target.x) && isfinite(cmd.target.y));
		break;
	case NCP_CMD_TASK:
		if (cmd.task.has_period) {
			double lo, hi;
			ncp_assert(ncp_config_key_range("task.period", &lo,
							&hi) == 0);
			ncp_assert(cmd.task.period >= lo && cmd.task.period <= hi);
		}
		ncp_assert(!(cmd.task.has_period &&
			     cmd.task.kind == NCP_TASK_MANUAL));
		break;
	case NCP_CMD_RECORD_START:
		check_name(cmd.record.name);
		if (cmd.record.has_seconds)
			ncp_assert(cmd.record.seconds > 0 &&
				   cmd.record.seconds <= NCP_PROTO_RECORD_MAX);
		break;
	case NCP_CMD_SAVE:
	case NCP_CMD_LOAD:
		check_name(cmd.file.name);
		break;
	case NCP_CMD_CONFIG_GET:
		ncp_assert(cmd.config.key[0] &&
			   strlen(cmd.config.key) <= NCP_PROTO_KEY_MAX);
		break;
	case NCP_CMD_HELP:
		ncp_proto_help(&cmd, &r);
		ncp_assert(!r.is_err && strlen(r.line) == r.len);
		break;
	default:
		break;
	}
}

/* The framer against a plain split of the whole input. */
static void check_framing(const uint8_t *data, size_t size)
{
	struct ncp_proto_framer f;
	size_t pos = 0, ref = 0; /* ref: where the next expected line starts */
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	ncp_proto_framer_init(&f);
	while (pos < size) {
		size_t avail, n;
		char *p = ncp_proto_framer_space(&f, &avail);

		ncp_assert(avail > 0);
		h = h * 1103515245u + 12345u;
		n = 1 + (h >> 16) % 300;
		n = NCP_MIN(NCP_MIN(n, avail), size - pos);
		memcpy(p, data + pos, n);
		ncp_proto_framer_commit(&f, n);
		pos += n;
		for (;;) {
			const char *line;
			size_t len;
			enum ncp_proto_frame ev = ncp_proto_framer_next(&f, &line, &len);
			if (ev == NCP_PROTO_FRAME_NONE)
				break;
			/* The expected next line in the whole input. */
			const uint8_t *nl = memchr(data + ref, '\n', size - ref);
			size_t reflen = nl ? (size_t)(nl - data) - ref : size - ref;
			if (ev == NCP_PROTO_FRAME_LINE) {
				ncp_assert(nl && reflen == len);
				ncp_assert(len < NCP_PROTO_LINE_MAX);
				ncp_assert(memcmp(line, data + ref, len) == 0);
				check_parse(line, len);
			} else {
				ncp_assert(reflen >= NCP_PROTO_LINE_MAX);
			}
			ref = nl ? (size_t)(nl - data) + 1 : size;
		}
	}
	/* Nothing left unreported but a short partial line. */
	const uint8_t *nl = ref < size ? memchr(data + ref, '\n', size - ref) : NULL;
	ncp_assert(!nl || f.discarding);
	if (!f.discarding)
		ncp_assert(size - ref < NCP_PROTO_LINE_MAX);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_parse((const char *)data, size);
	check_framing(data, size);
	return 0;
}
