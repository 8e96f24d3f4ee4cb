/* The emulator thread in real time: idle while it has no model (it used to
 * poll the ring every 20 us regardless, half a core), and once offered one
 * it predicts the steps the loop publishes. */
#include <time.h>
#include <unistd.h>

#include "daemon/ncp_emulator.h"
#include "models/arm/ncp_arm.h"
#include "models/emu/ncp_emu.h"
#include "shm/ncp_shm_writer.h"
#include "tests/ncp_check.h"

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

START_TEST(idle_without_a_model_then_follows_one)
{
	char err[512], name[64];
	snprintf(name, sizeof(name), "/ncpd-test-emulator-%d", (int)getpid());
	struct ncp_shm_writer_config sc = { .name = name, .dt = 0.001,
					    .m1_neurons = 1000 };
	struct ncp_shm_writer *w = ncp_shm_writer_new(&sc, err, sizeof(err));
	ck_assert_msg(w != NULL, "%s", err);
	struct ncp_emulator_params ep = { .dt = 0.001, .m1_neurons = 1000,
					  .cpu = -1, .arm = ncp_arm_default };
	struct ncp_emulator *e = ncp_emulator_new(&ep, w, err, sizeof(err));
	ck_assert_msg(e != NULL, "%s", err);
	ck_assert_int_eq(ncp_emulator_start(e), 0);

	/* No model, no steps: a second of waiting costs next to nothing. */
	double c0 = cpu_seconds();
	usleep(1000000);
	double idle = cpu_seconds() - c0;
	printf("emulator without a model: %.1f ms of CPU in 1 s\n", idle * 1e3);
	fflush(stdout);
	ck_assert_msg(idle < 0.05, "%.3f s of CPU in 1 s without a model", idle);

	/* A model, and steps published at 1 kHz: it predicts them. */
	struct ncp_emu_spec sp;
	ncp_emu_spec_default(&sp, NCP_EMU_RIDGE);
	struct ncp_emu_model *m = ncp_emu_model_new(&sp, 1, err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_int_eq(ncp_emulator_offer(e, m, "test", err, sizeof(err)), 0);
	struct timespec next;
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (uint64_t k = 0; k < 500; k++) {
		uint32_t idx[3] = { (uint32_t)(k % 1000), 500, 999 };
		ck_assert_int_eq(ncp_shm_writer_push_spikes(w, k, idx, 3, NULL, 0), 0);
		next.tv_nsec += 1000000;
		if (next.tv_nsec >= 1000000000) {
			next.tv_sec++;
			next.tv_nsec -= 1000000000;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
	}
	usleep(20000);
	struct ncp_emulator_status st;
	ncp_emulator_status(e, &st);
	printf("then 500 steps at 1 kHz: %llu predictions, %llu skipped\n",
	       (unsigned long long)st.predictions,
	       (unsigned long long)st.skipped);
	ck_assert(st.loaded);
	ck_assert_uint_ge(st.predictions + st.skipped, 490);
	ck_assert_uint_ge(st.predictions, 400);
	ncp_emulator_free(e);
	ncp_shm_writer_free(w);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("emulator");
	TCase *tc = tcase_create("emulator");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, idle_without_a_model_then_follows_one);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
