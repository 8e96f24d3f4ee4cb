/* Online training, driven by the real loop in free-run lockstep: it
 * learns from the running simulation, hands weights to the emulator, and
 * a NaN injected into its working weights is rolled back. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cblas.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_emulator.h"
#include "daemon/ncp_loop.h"
#include "daemon/ncp_online.h"
#include "daemon/ncp_sim.h"
#include "models/base/ncp_base.h"
#include "tests/ncp_check.h"

struct rig {
	struct ncp_config cfg;
	struct ncp_sim sim;
	struct ncp_shm_writer *shm;
	struct ncp_emulator *emu;
	struct ncp_online *online;
	struct ncp_loop loop;
};

static void rig_up(struct rig *r, bool training, double replay)
{
	char err[512], name[64];
	openblas_set_num_threads(1);
	ncp_config_defaults(&r->cfg);
	r->cfg.task.kind = NCP_TASK_RANDOM;
	ck_assert_int_eq(ncp_sim_init(&r->sim, &r->cfg, 64, err, sizeof(err)), 0);
	snprintf(name, sizeof(name), "/ncpd-test-online-%d", (int)getpid());
	struct ncp_shm_writer_config sc = { .name = name, .dt = 0.001,
					    .m1_neurons = 1000 };
	r->shm = ncp_shm_writer_new(&sc, err, sizeof(err));
	ck_assert_msg(r->shm != NULL, "%s", err);
	struct ncp_emulator_params ep = { .dt = 0.001, .m1_neurons = 1000,
					  .lockstep = true, .cpu = -1,
					  .arm = r->cfg.reach.arm };
	r->emu = ncp_emulator_new(&ep, r->shm, err, sizeof(err));
	ck_assert_msg(r->emu != NULL, "%s", err);
	struct ncp_online_params op = { .m1_neurons = 1000, .dt = 0.001,
					.lockstep = true, .lockstep_every = 2,
					.arch = "ridge-running", .replay = replay,
					.warmup = 1.0, .lr = 1e-3, .batch = 64,
					.seed = 5 };
	r->online = ncp_online_new(&op, r->emu, r->shm, training, err,
				   sizeof(err));
	ck_assert_msg(r->online != NULL, "%s", err);
	struct ncp_rt_params rtp = { .period = 0.001, .free_run = true, .cpu = -1,
				     .catchup = 0.1 };
	ck_assert_int_eq(ncp_loop_init(&r->loop, &r->sim, r->shm, &rtp, 0), 0);
	r->loop.emulator = r->emu;
	r->loop.emulator_lockstep = true;
	r->loop.online = r->online;
	ck_assert_int_eq(ncp_online_start(r->online), 0);
}

static void run_until(struct rig *r, uint64_t steps)
{
	r->loop.max_steps = steps;
	ncp_loop_thread(&r->loop);
}

static void rig_down(struct rig *r)
{
	ncp_online_free(r->online);
	ncp_emulator_free(r->emu);
	ncp_loop_fini(&r->loop);
	ncp_shm_writer_free(r->shm);
	ncp_sim_fini(&r->sim);
}

START_TEST(learns_swaps_and_rolls_back_a_nan)
{
	static struct rig r;
	struct ncp_online_status st;
	struct ncp_emulator_status es;

	rig_up(&r, true, 30);
	run_until(&r, 6000);
	ncp_online_status(r.online, &st);
	ncp_emulator_status(r.emu, &es);
	printf("after 6 s: %llu updates, %llu swaps, val loss %.4g, hand RMSE "
	       "(last s) %.4f m\n", (unsigned long long)st.updates,
	       (unsigned long long)st.swaps, st.val_loss, es.hand_rmse_1s);
	ck_assert_uint_gt(st.updates, 1000);
	ck_assert_uint_ge(st.swaps, 2);
	ck_assert_msg(st.rollbacks == 0, "%llu rollbacks: %s",
		      (unsigned long long)st.rollbacks, st.last_rollback);
	ck_assert(es.loaded);
	ck_assert(isfinite(st.val_loss));
	uint64_t sum_before = es.checksum;

	ncp_online_inject_nan(r.online);
	run_until(&r, 9000);
	ncp_online_status(r.online, &st);
	ncp_emulator_status(r.emu, &es);
	printf("after the NaN: %llu rollbacks (%s), %llu updates, hand RMSE "
	       "(last s) %.4f m\n", (unsigned long long)st.rollbacks,
	       st.last_rollback, (unsigned long long)st.updates, es.hand_rmse_1s);
	ck_assert_uint_eq(st.rollbacks, 1);
	ck_assert(strstr(st.last_rollback, "not finite") != NULL);
	/* The emulator never ran the poisoned weights and kept predicting. */
	ck_assert(isfinite(es.hand_rmse_1s) && es.hand_rmse_1s < 0.5);
	ck_assert(isfinite(st.val_loss));
	ck_assert_uint_ne(es.checksum, 0);
	(void)sum_before;

	/* The weights in use, saved and read back, are the same bits. */
	char label[64], err[512], path[128];
	struct ncp_emu_model *m = ncp_emulator_clone_model(r.emu, label,
							    sizeof(label));
	ck_assert_ptr_nonnull(m);
	snprintf(path, sizeof(path), "/tmp/ncpd-test-online-%d.safetensors",
		 (int)getpid());
	ck_assert_int_eq(ncp_emu_model_save(m, path, err, sizeof(err)), 0);
	struct ncp_emu_model *back = ncp_emu_model_load(path, err, sizeof(err));
	ck_assert_msg(back != NULL, "%s", err);
	ck_assert(ncp_emu_model_equal(m, back));
	ck_assert_uint_eq(ncp_emu_model_checksum(m), ncp_emu_model_checksum(back));
	unlink(path);
	ncp_emu_model_free(m);
	ncp_emu_model_free(back);
	rig_down(&r);
}
END_TEST

START_TEST(switched_on_mid_run_trains_in_lockstep)
{
	/* Off for the first 3 s (nothing kept, the loop never held), then
	 * on: from the next training point the trainer is in lockstep again
	 * and learns from the steps after the switch. */
	static struct rig r;
	struct ncp_online_status st;

	rig_up(&r, false, 30);
	run_until(&r, 3000);
	ncp_online_status(r.online, &st);
	ck_assert_uint_eq(st.updates, 0);
	ck_assert(!st.enabled);
	ncp_online_enable(r.online, true);
	run_until(&r, 9000);
	ncp_online_status(r.online, &st);
	printf("switched on at 3 s: %llu updates by 9 s, %llu swaps\n",
	       (unsigned long long)st.updates, (unsigned long long)st.swaps);
	fflush(stdout);
	/* 3000 training points after the switch, less the 1 s warm-up. */
	ck_assert_msg(st.updates > 2000 && st.swaps >= 1, "%llu updates, %llu "
		      "swaps", (unsigned long long)st.updates,
		      (unsigned long long)st.swaps);
	rig_down(&r);
}
END_TEST

START_TEST(trims_the_replay_buffer_and_goes_on)
{
	/* A 2 s replay buffer over 9 s: never more than 2.2 s of steps (its
	 * oldest dropped in place, down to 2 s, when full), its memory
	 * allocated once when training starts and the same at the end,
	 * training (and its Adam state) going on across the trims: every
	 * training point after the warm-up counted, no rollback, the loss
	 * still finite. */
	static struct rig r;
	struct ncp_online_status st;

	rig_up(&r, true, 2.0);
	run_until(&r, 1500);
	ncp_online_status(r.online, &st);
	uint64_t bytes = st.bytes;
	ck_assert_uint_gt(bytes, 0);
	run_until(&r, 9000);
	ncp_online_status(r.online, &st);
	printf("2 s replay over 9 s: %llu steps kept, %llu updates, %llu "
	       "swaps, loss %.4g, %.2f MB (%.2f MB at 1.5 s)\n",
	       (unsigned long long)st.rows, (unsigned long long)st.updates,
	       (unsigned long long)st.swaps, st.loss, st.bytes / 1048576.0,
	       bytes / 1048576.0);
	fflush(stdout);
	ck_assert_uint_le(st.rows, 2201);
	ck_assert_uint_ge(st.rows, 2000);
	ck_assert_uint_eq(st.bytes, bytes);
	ck_assert_msg(st.updates > 3500 && st.rollbacks == 0 &&
		      isfinite(st.loss), "%llu updates, %llu rollbacks (%s)",
		      (unsigned long long)st.updates,
		      (unsigned long long)st.rollbacks, st.last_rollback);
	rig_down(&r);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("online");
	TCase *tc = tcase_create("online");
	tcase_set_timeout(tc, 600);
	tcase_add_test(tc, learns_swaps_and_rolls_back_a_nan);
	tcase_add_test(tc, switched_on_mid_run_trains_in_lockstep);
	tcase_add_test(tc, trims_the_replay_buffer_and_goes_on);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
