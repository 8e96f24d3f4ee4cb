/* Fuzz target: ncpctl's reading of reply lines.  Whatever the line, the
 * JSON rendering must be exactly one valid JSON object and a newline
 * (checked by jansson: RFC 8259, UTF-8 strings, no duplicate keys, every
 * number finite as a double; integers past 64 bits are valid JSON, so
 * they are read as doubles here), and the human rendering must not
 * crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/ncp_ctlfmt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ncp_ctlfmt_reply r;
	char line[NCP_CTLFMT_LINE_MAX];
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	/* What ncp_ctlclient_recv_line can return: no "\n", NUL-ended. */
	memcpy(line, data, n);
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if (ncp_ctlfmt_parse(line, &r) != 0)
		return 0;

	f = open_memstream(&buf, &len);
	if (ncp_ctlfmt_json(&r, f))
		abort();
	fclose(f);
	json_error_t je;
	json_t *root = len ? json_loadb(buf, len - 1, JSON_REJECT_DUPLICATES |
					JSON_DECODE_INT_AS_REAL, &je) : NULL;
	if (!json_is_object(root) || buf[len - 1] != '\n') {
		fprintf(stderr, "invalid JSON for '%s':\n%s\n%s\n", line, buf,
			root ? "not one object and a newline" : je.text);
		abort();
	}
	json_decref(root);
	free(buf);

	f = open_memstream(&buf, &len);
	ncp_ctlfmt_human(&r, "ncpctl", f, f);
	fclose(f);
	if (len == 0 || buf[len - 1] != '\n')
		abort();
	free(buf);
	return 0;
}
