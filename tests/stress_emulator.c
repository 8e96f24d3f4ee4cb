/* Stress: the emulator thread, the loop's fallback and status readers at
 * once, on the model state they hand over through one atomic word.
 *
 * A "loop" (this thread) publishes steps with a random pause of 0 to 1 ms
 * between them (so the emulator thread, which expects a step every
 * millisecond, is now watching, now asleep, now behind) and calls ncp_emulator_fallback after each; every few hundred
 * steps the emulator thread is held for a while (a stalled CPU), so the
 * fallback takes over and hands back.  Two reader threads copy the status
 * without pause meanwhile.  Checked:
 *   - every step is predicted or counted skipped, exactly once: two
 *     publishers of a step would make predictions + skipped exceed the
 *     steps;
 *   - every status copy is whole: the model name is the one offered, and
 *     the counters never go backwards;
 *   - the predicted block in shared memory never goes back to an older
 *     step;
 *   - every prediction reaches the recorder (recording all along), from
 *     whichever thread made it: pred.npy has exactly as many rows with a
 *     prediction as predictions were made, the rest skipped steps.
 * Also run under ThreadSanitizer by make test
 * (build/thread/tests/stress_emulator), which checks the claim's
 * acquire/release pairs, the lock-free status and the hand-over of the
 * recorder's prediction queue between the two producers.
 *
 * Usage: stress_emulator [STEPS]   (default 12000, 3000 under TSan) */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <math.h>
#include <sys/stat.h>

#include "daemon/ncp_emulator.h"
#include "daemon/ncp_recorder.h"
#include "models/io/ncp_npy.h"
#include "models/arm/ncp_arm.h"
#include "models/base/ncp_base.h"
#include "models/base/ncp_rng.h"
#include "models/emu/ncp_emu.h"
#include "shm/ncp_shm_reader.h"
#include "shm/ncp_shm_writer.h"

#if defined(__SANITIZE_THREAD__)
#define DEFAULT_STEPS 3000
#else
#define DEFAULT_STEPS 12000
#endif

struct shared {
	struct ncp_emulator *e;
	struct ncp_shm_reader *rd;
	_Atomic bool done;
	_Atomic uint64_t faults;
	_Atomic uint64_t copies;
};

static void *status_reader(void *arg)
{
	struct shared *sh = arg;
	uint64_t last_pred = 0, last_skip = 0, last_step = 0;
	struct ncp_emulator_status st;
	struct ncp_shm_predicted p;

	while (!atomic_load(&sh->done)) {
		ncp_emulator_status(sh->e, &st);
		atomic_fetch_add(&sh->copies, 1);
		if (st.loaded && strcmp(st.model, "stress") != 0) {
			fprintf(stderr, "status: model \"%.64s\"\n", st.model);
			atomic_fetch_add(&sh->faults, 1);
		}
		if (st.predictions < last_pred || st.skipped < last_skip) {
			fprintf(stderr, "status went back: %" PRIu64 " -> %" PRIu64
				" predictions\n", last_pred, st.predictions);
			atomic_fetch_add(&sh->faults, 1);
		}
		last_pred = st.predictions;
		last_skip = st.skipped;
		if (ncp_shm_reader_predicted(sh->rd, &p) == 0 && p.model_loaded) {
			if (p.step < last_step) {
				fprintf(stderr, "prediction went back: step %" PRIu64
					" after %" PRIu64 "\n", p.step, last_step);
				atomic_fetch_add(&sh->faults, 1);
			}
			last_step = p.step;
		}
		usleep(10);
	}
	return NULL;
}

static void pause_ns(uint64_t ns)
{
	uint64_t end = ncp_now_ns() + ns;
	while (ncp_now_ns() < end)
		;
}

int main(int argc, char **argv)
{
	uint64_t steps = argc > 1 ? strtoull(argv[1], NULL, 10) : DEFAULT_STEPS;
	char err[512], name[64], dir[64];
	int status = 1;
	struct ncp_recorder *rec = NULL;

	snprintf(name, sizeof(name), "/ncpd-stress-emulator-%d", (int)getpid());
	struct ncp_shm_writer_config sc = { .name = name, .dt = 0.001,
					    .m1_neurons = 1000 };
	struct ncp_shm_writer *w = ncp_shm_writer_new(&sc, err, sizeof(err));
	if (!w) {
		fprintf(stderr, "stress_emulator: %s\n", err);
		return 1;
	}
	struct ncp_emulator_params ep = { .dt = 0.001, .m1_neurons = 1000,
					  .cpu = -1, .arm = ncp_arm_default };
	struct ncp_emulator *e = ncp_emulator_new(&ep, w, err, sizeof(err));
	snprintf(dir, sizeof(dir), "/tmp/ncpd-stress-emulator-%d", (int)getpid());
	struct ncp_recorder_params rp = { .data_dir = dir, .m1_neurons = 1000,
					  .dt = 0.001, .window = 100 };
	rec = e ? ncp_recorder_new(&rp, err, sizeof(err)) : NULL;
	if (rec) {
		ncp_emulator_set_recorder(e, rec);
		if (ncp_recorder_start(rec, "stress", 0, err, sizeof(err))) {
			ncp_recorder_free(rec);
			rec = NULL;
		}
	}
	struct ncp_shm_reader *rd = ncp_shm_reader_from_mem(
		ncp_shm_writer_base(w), ncp_shm_writer_size(w), err, sizeof(err));
	struct ncp_emu_spec sp;
	ncp_emu_spec_default(&sp, NCP_EMU_RIDGE_RUNNING);
	struct ncp_emu_model *m = e ? ncp_emu_model_new(&sp, 3, err, sizeof(err)) : NULL;
	if (!e || !rec || !rd || !m || ncp_emulator_offer(e, m, "stress", err, sizeof(err)) ||
	    ncp_emulator_start(e)) {
		fprintf(stderr, "stress_emulator: %s\n", err);
		goto out;
	}
	struct shared sh = { .e = e, .rd = rd };
	pthread_t readers[2];
	for (int i = 0; i < 2; i++)
		if (pthread_create(&readers[i], NULL, status_reader, &sh)) {
			fprintf(stderr, "stress_emulator: pthread_create failed\n");
			goto out;
		}

	struct ncp_rng rng;
	ncp_rng_seed(&rng, 11);
	for (uint64_t k = 0; k < steps; k++) {
		uint32_t idx[4] = { (uint32_t)(k % 997), 300, 301 + (uint32_t)(k % 3), 999 };
		if (ncp_shm_writer_push_spikes(w, k, idx, 4, NULL, 0)) {
			fprintf(stderr, "stress_emulator: push_spikes refused step %" PRIu64 "\n", k);
			goto out_readers;
		}
		struct ncp_shm_arm_entry a = { .step = k, .q = { 0.3f, 0.4f },
					       .hand = { 0.1f, 0.2f } };
		ncp_shm_writer_push_arm(w, &a);
		ncp_emulator_fallback(e, k);
		struct ncp_arm_state as = { .links = 2, .q = { 0.3, 0.4 }, .dq = { 0, 0 }, .hand = { 0.1, 0.2 } };
		double tgt[2] = { 0, 1 };
		ncp_recorder_push(rec, k, idx, 4, &as, tgt);
		if (k % 500 == 100)
			ncp_emulator_hold(e, true);
		if (k % 500 == 300)
			ncp_emulator_hold(e, false);
		pause_ns(ncp_rng_below(&rng, 1000000));
	}
	status = 0;
out_readers:
	atomic_store(&sh.done, true);
	for (int i = 0; i < 2; i++)
		pthread_join(readers[i], NULL);
	ncp_emulator_stop(e);
	struct ncp_emulator_status st;
	ncp_emulator_status(e, &st);
	printf("stress_emulator: %" PRIu64 " steps: %" PRIu64 " predictions (%"
	       PRIu64 " by the loop), %" PRIu64 " skipped; %" PRIu64
	       " status copies, %" PRIu64 " faults\n", steps, st.predictions,
	       st.fallbacks, st.skipped, atomic_load(&sh.copies),
	       atomic_load(&sh.faults));
	if (status == 0 && st.predictions + st.skipped != steps) {
		fprintf(stderr, "stress_emulator: %" PRIu64 " predictions + %" PRIu64
			" skipped for %" PRIu64 " steps\n", st.predictions,
			st.skipped, steps);
		status = 1;
	}
	if (status == 0 && (st.fallbacks == 0 || st.fallbacks == st.predictions)) {
		fprintf(stderr, "stress_emulator: the fallback made %" PRIu64
			" of %" PRIu64 " predictions: the hand-over was not exercised\n",
			st.fallbacks, st.predictions);
		status = 1;
	}
	if (atomic_load(&sh.faults))
		status = 1;
	/* Every prediction was made before the emulator stopped, so before
	 * the recording ends: each is in its row. */
	if (status == 0 && (ncp_recorder_stop(rec) ||
			    ncp_recorder_wait_idle(rec, 60))) {
		fprintf(stderr, "stress_emulator: the recording did not end\n");
		status = 1;
	}
	if (status == 0) {
		char path[128];
		snprintf(path, sizeof(path), "%s/stress/pred.npy", dir);
		struct ncp_npy *p = ncp_npy_load(path, 0, err, sizeof(err));
		uint64_t rows = p ? p->h.shape[0] : 0, with = 0;
		for (uint64_t r = 0; r < rows; r++)
			with += isfinite(((const float *)p->data)[r * 6]);
		printf("stress_emulator: pred.npy: %" PRIu64 " rows, %" PRIu64
		       " with a prediction\n", rows, with);
		if (!p || rows != steps || with != st.predictions) {
			fprintf(stderr, "stress_emulator: pred.npy %s: %" PRIu64
				" rows, %" PRIu64 " predictions; want %" PRIu64
				" and %" PRIu64 "\n", p ? "read" : err, rows, with,
				steps, st.predictions);
			status = 1;
		}
		ncp_npy_free(p);
	}
out:
	ncp_recorder_free(rec);
	{
		static const char *files[] = { "m1.npy", "arm.npy", "target.npy",
					       "stim.npy", "lesion.npy", "pred.npy",
					       "rec.npy", "alpha.npy", "meta.json" };
		char path[128];
		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
			snprintf(path, sizeof(path), "%s/stress/%s", dir, files[i]);
			unlink(path);
		}
		snprintf(path, sizeof(path), "%s/stress", dir);
		rmdir(path);
		rmdir(dir);
	}
	ncp_emulator_free(e);
	ncp_shm_reader_free(rd);
	ncp_shm_writer_free(w);
	return status;
}
