/* Fuzz the configuration parser: YAML documents and --set assignments.
 * Beyond not crashing: an accepted configuration formats every key, dumps
 * as JSON, and reads back the same value for every key through --set. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/ncp_config.h"
#include "models/base/ncp_base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_roundtrip(const struct ncp_config *c)
{
	struct ncp_config_key_info k;
	struct ncp_config back = *c;
	char val[300], set[400], err[512];

	for (int i = 0; ncp_config_key_info(i, &k); i++) {
		if (ncp_config_get(c, k.key, val, sizeof(val)))
			abort();
		snprintf(set, sizeof(set), "%s=%s", k.key, val);
		/* A value the table formatted must parse back as itself. */
		if (ncp_config_set(&back, set, err, sizeof(err)))
			abort();
	}
	if (ncp_config_diff(c, &back, NULL, NULL) != 0)
		abort();
	struct ncp_json j;
	ncp_json_init(&j);
	ncp_config_json(c, &j);
	if (ncp_json_finish(&j))
		abort();
	ncp_json_fini(&j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ncp_config c;
	char err[512];

	if (size == 0)
		return 0;
	ncp_config_defaults(&c);
	if (data[0] & 1) {
		/* --set assignments, one per line. */
		char *text = malloc(size);
		if (!text)
			return 0;
		memcpy(text, data + 1, size - 1);
		text[size - 1] = '\0';
		char *save = NULL;
		for (char *line = strtok_r(text, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			ncp_config_set(&c, line, err, sizeof(err));
		free(text);
	} else if (ncp_config_load_string(&c, (const char *)data + 1, size - 1,
					  "fuzz", err, sizeof(err))) {
		if (!err[0])
			abort(); /* a refusal always says why */
		return 0;
	}
	ncp_config_validate(&c, err, sizeof(err));
	check_roundtrip(&c);
	return 0;
}
