/* Fuzz the emulator model loader.  Whatever it accepts is a consistent
 * model: its spec passes the checks, a clone equals it, and a state runs
 * it over a few steps. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "models/base/ncp_base.h"
#include "models/emu/ncp_emu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	struct ncp_emu_model *m = ncp_emu_model_parse(data, size, "f.st", err,
						      sizeof(err));
	if (!m) {
		ncp_assert(!strncmp(err, "f.st", 4));
		return 0;
	}
	const struct ncp_emu_spec *sp = ncp_emu_model_spec(m);
	ncp_assert(ncp_emu_spec_check(sp, NULL, 0) == 0);
	ncp_assert(ncp_emu_model_outputs(m) == 6 || ncp_emu_model_outputs(m) == 8);
	/* The arm input: none, q and dq (2 J), or in the residual form the
	 * whole state (2 J + 2). */
	ncp_assert(ncp_emu_model_arm_inputs(m) == 0 ||
		   ncp_emu_model_arm_inputs(m) == ncp_emu_model_outputs(m) -
			   (ncp_emu_model_residual(m) ? 0 : 2));
	ncp_assert(!ncp_emu_model_residual(m) || ncp_emu_model_arm_inputs(m));
	struct ncp_emu_model *c = ncp_emu_model_clone(m);
	ncp_assert(c && ncp_emu_model_equal(c, m));
	struct ncp_emu_state *st = ncp_emu_state_new(m);
	ncp_assert(st);
	uint32_t spk[4];
	float stim[2] = {0.5f, -1.0f}, out[NCP_EMU_MAX_OUTPUTS];
	const float arm[NCP_EMU_MAX_OUTPUTS] = {0.6f, 2.1f, 0.1f, -0.2f, 0.3f, 0.1f, 1.2f, 0};
	for (int t = 0; t < 5; t++) {
		int n = 0;
		for (uint32_t i = (uint32_t)t; i < (uint32_t)sp->neurons && n < 4; i += 7)
			spk[n++] = i;
		ncp_emu_push(st, spk, n, t % 2 ? stim : NULL, 2);
		ncp_emu_predict(st, out);
		ncp_emu_set_arm(st, t == 2 ? NULL : arm);
	}
	ncp_assert(ncp_emu_state_set_model(st, c) == 0);
	ncp_emu_predict(st, out);
	ncp_emu_state_free(st);
	ncp_emu_model_free(c);
	ncp_emu_model_free(m);
	return 0;
}
