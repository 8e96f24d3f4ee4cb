#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/ncp_recorder.h"
#include "models/base/ncp_base.h"
#include "models/io/ncp_file.h"
#include "models/io/ncp_json_doc.h"
#include "models/io/ncp_npy.h"
#include "models/io/ncp_recording.h"
#include "tests/ncp_check.h"

static char base[64];

static struct ncp_recorder *make(bool lossless)
{
	char err[256];
	struct ncp_recorder_params p = {
		.data_dir = base, .m1_neurons = 70, .dt = 0.001, .window = 100,
		.seed = 3, .task_seed = 4, .config_json = "{\"a\":1}",
		.lossless = lossless,
	};
	struct ncp_recorder *r = ncp_recorder_new(&p, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	return r;
}

static void push(struct ncp_recorder *r, uint64_t step)
{
	uint32_t spikes[3] = { (uint32_t)(step % 70), 64, 69 };
	struct ncp_arm_state a = { .links = 2, .q = { step * 1.0, 2 }, .dq = { 3, 4 }, .hand = { 5, 6 } };
	double tgt[2] = { 0.5, (double)step };
	ncp_recorder_push(r, step, spikes, step % 2 ? 3 : 1, &a, tgt);
}

static struct ncp_npy *load(const char *name, const char *file)
{
	char path[256], err[256];
	snprintf(path, sizeof(path), "%s/%s/%s", base, name, file);
	struct ncp_npy *a = ncp_npy_load(path, 0, err, sizeof(err));
	ck_assert_msg(a != NULL, "%s", err);
	return a;
}

static json_t *meta(const char *name)
{
	char path[256], err[256];
	void *buf;
	size_t len;
	snprintf(path, sizeof(path), "%s/%s/meta.json", base, name);
	ck_assert_int_eq(ncp_file_read(path, 1 << 20, &buf, &len), 0);
	json_t *d = ncp_json_doc_parse(buf, len, path, NULL, err, sizeof(err));
	ck_assert_msg(d != NULL, "%s", err);
	free(buf);
	return d;
}

static void setup(void)
{
	snprintf(base, sizeof(base), "/tmp/ncpd-test-rec-%d", (int)getpid());
	mkdir(base, 0755);
}

START_TEST(rows_line_up_and_gaps_are_marked)
{
	struct ncp_recorder *r = make(true);
	char err[256];
	ck_assert_int_eq(ncp_recorder_start(r, "gaps", 0, err, sizeof(err)), 0);
	ck_assert(ncp_recorder_active(r));
	/* Steps 10..14, then 17..19: 15 and 16 never arrive. */
	for (uint64_t s = 10; s < 15; s++)
		push(r, s);
	for (uint64_t s = 17; s < 20; s++)
		push(r, s);
	ck_assert_int_eq(ncp_recorder_stop(r), 0);
	ck_assert_int_eq(ncp_recorder_wait_idle(r, 5), 0);
	ck_assert(!ncp_recorder_active(r));

	struct ncp_npy *m1 = load("gaps", "m1.npy"), *arm = load("gaps", "arm.npy"),
		       *tgt = load("gaps", "target.npy");
	ck_assert_int_eq(m1->h.shape[0], 10);
	ck_assert_int_eq(m1->h.shape[1], 70);
	ck_assert_int_eq(arm->h.shape[1], 6);
	ck_assert_int_eq(tgt->h.shape[0], 10);
	const uint8_t *sp = m1->data;
	const float *av = arm->data, *tv = tgt->data;
	for (int row = 0; row < 10; row++) {
		uint64_t step = 10 + (uint64_t)row;
		int count = 0;
		for (int n = 0; n < 70; n++)
			count += sp[row * 70 + n];
		if (step == 15 || step == 16) {
			ck_assert_int_eq(count, 0);
			ck_assert(isnan(av[row * 6]) && isnan(tv[row * 2 + 1]));
			continue;
		}
		ck_assert_int_eq(sp[row * 70 + step % 70], 1);
		ck_assert_int_eq(count, step % 2 ? 3 : 1);
		ncp_ck_near(av[row * 6], (double)step, 0);
		ncp_ck_near(av[row * 6 + 5], 6.0, 0);
		ncp_ck_near(tv[row * 2 + 1], (double)step, 0);
	}
	json_t *root = meta("gaps");
	bool complete = false;
	int64_t steps = 0, first = 0, dropped = 0;
	ncp_json_doc_get_bool(root, "complete", &complete, NULL, 0);
	ncp_json_doc_get_int(root, "steps", &steps, NULL, 0);
	ncp_json_doc_get_int(root, "first_step", &first, NULL, 0);
	ncp_json_doc_get_int(root, "dropped_steps", &dropped, NULL, 0);
	ck_assert(complete);
	ck_assert_int_eq(steps, 10);
	ck_assert_int_eq(first, 10);
	ck_assert_int_eq(dropped, 2);
	ck_assert_ptr_nonnull(json_object_get(json_object_get(root, "config"), "a"));
	json_decref(root);
	ncp_npy_free(m1);
	ncp_npy_free(arm);
	ncp_npy_free(tgt);
	ncp_recorder_free(r);
}
END_TEST

START_TEST(duration_names_and_shutdown)
{
	struct ncp_recorder *r = make(true);
	char err[256];
	/* 5 ms at dt 1 ms: five rows, whatever else is pushed. */
	ck_assert_int_eq(ncp_recorder_start(r, "short", 0.005, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_recorder_start(r, "other", 0, err, sizeof(err)), -EBUSY);
	for (uint64_t s = 0; s < 50; s++)
		push(r, s);
	ck_assert_int_eq(ncp_recorder_wait_idle(r, 5), 0);
	struct ncp_npy *m1 = load("short", "m1.npy");
	ck_assert_int_eq(m1->h.shape[0], 5);
	ncp_npy_free(m1);
	json_t *d = meta("short");
	const char *why = NULL;
	ncp_json_doc_get_str(d, "stopped", &why, NULL, 0);
	ck_assert_str_eq(why, "duration");
	json_decref(d);

	/* Names stay inside the data directory and are not reused. */
	ck_assert_int_eq(ncp_recorder_start(r, "short", 0, err, sizeof(err)), -EEXIST);
	ck_assert(strstr(err, "exists already"));
	ck_assert_int_lt(ncp_recorder_start(r, "../escape", 0, err, sizeof(err)), 0);
	ck_assert_int_lt(ncp_recorder_start(r, "/abs", 0, err, sizeof(err)), 0);
	ck_assert_int_eq(ncp_recorder_stop(r), -ENOENT);

	/* Freed while recording: the files are completed. */
	ck_assert_int_eq(ncp_recorder_start(r, "cut", 0, err, sizeof(err)), 0);
	for (uint64_t s = 100; s < 130; s++)
		push(r, s);
	ncp_recorder_free(r);
	m1 = load("cut", "m1.npy");
	ck_assert_int_eq(m1->h.shape[0], 30);
	ncp_npy_free(m1);
	d = meta("cut");
	ncp_json_doc_get_str(d, "stopped", &why, NULL, 0);
	ck_assert_str_eq(why, "shutdown");
	json_decref(d);
	char partial[256];
	snprintf(partial, sizeof(partial), "%s/cut/m1.npy.partial", base);
	ck_assert_int_ne(access(partial, F_OK), 0);
}
END_TEST

/* The rows of an unfinished file: its header's count, or -1 when it does
 * not load. */
static int64_t partial_rows(const char *path)
{
	char err[256];
	struct ncp_npy *a = ncp_npy_load(path, NCP_NPY_ALLOW_TRAILING, err,
					 sizeof(err));
	int64_t n = a ? (int64_t)a->h.shape[0] : -1;
	ncp_npy_free(a);
	return n;
}

/* A process that dies while recording leaves NAME.npy.partial files that
 * load (numpy and ncp_npy) with every row up to the last checkpoint, and
 * nothing under the final names. */
START_TEST(crash_keeps_rows_to_the_last_checkpoint)
{
	char m1p[256], final[256];
	snprintf(m1p, sizeof(m1p), "%s/crash/m1.npy.partial", base);
	snprintf(final, sizeof(final), "%s/crash/m1.npy", base);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char err[256];
		struct ncp_recorder *r = make(true);
		if (ncp_recorder_start(r, "crash", 0, err, sizeof(err)))
			_exit(2);
		for (uint64_t s = 0; s < 300; s++)
			push(r, s);
		/* Wait (at most 10 s) for a checkpoint that holds all 300
		 * rows, then die without finishing anything. */
		for (int i = 0; i < 1000 && partial_rows(m1p) != 300; i++)
			usleep(10000);
		_exit(partial_rows(m1p) == 300 ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d", st);
	ck_assert_int_ne(access(final, F_OK), 0);
	ck_assert_int_eq(partial_rows(m1p), 300);
	char err[256];
	struct ncp_npy *a = ncp_npy_load(m1p, NCP_NPY_ALLOW_TRAILING, err,
					 sizeof(err));
	ck_assert_msg(a, "%s", err);
	const uint8_t *sp = a->data;
	for (int row = 0; row < 300; row++)
		ck_assert_int_eq(sp[row * 70 + row % 70], 1);
	ncp_npy_free(a);
}
END_TEST

static void pred(struct ncp_recorder *r, uint64_t step)
{
	float y[6];
	for (int i = 0; i < 6; i++)
		y[i] = (float)step + (float)i / 8;
	ncp_recorder_push_pred(r, step, y);
}

/* pred.npy: each prediction in the row of its step, whether it came
 * before the step's record, while the row waited to be written, or after
 * the row went to disk; NaN where none came; none from before the
 * recording. */
/* rec.npy and alpha.npy: what ncp_recorder_set_obs gave for each step,
 * NaN in a dropped step's row; meta.json names them and their columns,
 * and ncp_recording_open reads them with lesion.npy. */
START_TEST(observation_rows)
{
	char err[256];
	struct ncp_recorder_params p = {
		.data_dir = base, .m1_neurons = 70, .dt = 0.001, .window = 100,
		.lossless = true, .stim_electrodes = 3, .rec_electrodes = 4,
	};
	struct ncp_recorder *r = ncp_recorder_new(&p, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_int_eq(ncp_recorder_start(r, "obs", 0, err, sizeof(err)), 0);
	for (uint64_t s = 0; s < 8; s++) {
		float rec[4], alpha[3];
		double theta[3] = { 0, 0, 0 };
		for (int k = 0; k < 4; k++)
			rec[k] = 100.0f * (float)s + (float)k;
		for (int k = 0; k < 3; k++)
			alpha[k] = -(float)s - 0.25f * (float)k;
		ncp_recorder_set_stim(r, theta, 1, 500);
		ncp_recorder_set_obs(r, rec, alpha);
		if (s != 5)	/* step 5 never arrives */
			push(r, s);
	}
	ck_assert_int_eq(ncp_recorder_stop(r), 0);
	ck_assert_int_eq(ncp_recorder_wait_idle(r, 5), 0);
	ncp_recorder_free(r);

	struct ncp_npy *rec = load("obs", "rec.npy"), *alpha = load("obs", "alpha.npy");
	ck_assert_int_eq(rec->h.shape[0], 8);
	ck_assert_int_eq(rec->h.shape[1], 4);
	ck_assert_int_eq(alpha->h.shape[1], 3);
	const float *rv = rec->data, *av = alpha->data;
	for (int row = 0; row < 8; row++) {
		if (row == 5) {
			ck_assert(isnan(rv[row * 4 + 3]) && isnan(av[row * 3]));
			continue;
		}
		ncp_ck_near(rv[row * 4 + 3], 100.0 * row + 3, 0);
		ncp_ck_near(av[row * 3 + 2], -row - 0.5, 0);
	}
	ncp_npy_free(rec);
	ncp_npy_free(alpha);
	json_t *root = meta("obs");
	int64_t R = 0;
	ncp_json_doc_get_int(root, "rec_electrodes", &R, NULL, 0);
	ck_assert_int_eq(R, 4);
	json_t *f = json_object_get(root, "files");
	ck_assert_str_eq(json_string_value(json_object_get(f, "rec")), "rec.npy");
	ck_assert_str_eq(json_string_value(json_object_get(f, "alpha")), "alpha.npy");
	json_decref(root);

	char dir[256];
	snprintf(dir, sizeof(dir), "%s/obs", base);
	struct ncp_recording *rd = ncp_recording_open(dir, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
	ck_assert_int_eq(rd->rec_channels, 4);
	ck_assert_int_eq(rd->stim_channels, 3);
	ncp_ck_near(rd->rec[7 * 4 + 1], 701, 0);
	ncp_ck_near(rd->alpha[7 * 3 + 1], -7.25, 0);
	ck_assert_int_eq(rd->lesion[2 * 2], 1);
	ck_assert_int_eq(rd->lesion[2 * 2 + 1], 500);
	ck_assert_int_eq(rd->lesion[5 * 2], -1);
	ncp_recording_close(rd);
	/* alpha.npy of the wrong shape: refused, naming the file. */
	snprintf(dir, sizeof(dir), "%s/obs/alpha.npy", base);
	struct ncp_npy_header h = {.dtype = NCP_NPY_F32, .ndim = 2, .shape = {8, 2}};
	float zero[16] = { 0 };
	ck_assert_int_eq(ncp_npy_write(dir, &h, zero), 0);
	snprintf(dir, sizeof(dir), "%s/obs", base);
	ck_assert_ptr_null(ncp_recording_open(dir, err, sizeof(err)));
	ck_assert_msg(strstr(err, "alpha.npy") && strstr(err, "does not match"), "%s", err);
}
END_TEST

START_TEST(predictions_land_in_their_rows)
{
	struct ncp_recorder *r = make(false);
	char err[256];
	pred(r, 19);			/* no recording yet: dropped */
	ck_assert_int_eq(ncp_recorder_start(r, "pred", 0, err, sizeof(err)), 0);
	pred(r, 19);			/* before the first step: dropped */
	pred(r, 20);			/* before its record */
	for (uint64_t s = 20; s < 30; s++)
		push(r, s);
	for (uint64_t s = 21; s < 28; s++)
		pred(r, s);		/* after their records */
	/* Rows 20..29 on disk (written at least every 200 ms), then step
	 * 28's prediction; 29 gets none. */
	struct ncp_recorder_status st;
	for (int i = 0; i < 500; i++) {
		ncp_recorder_status(r, &st);
		if (st.rows == 10)
			break;
		usleep(10000);
	}
	ck_assert_int_eq(st.rows, 10);
	pred(r, 28);
	ck_assert_int_eq(ncp_recorder_stop(r), 0);
	ck_assert_int_eq(ncp_recorder_wait_idle(r, 5), 0);

	struct ncp_npy *p = load("pred", "pred.npy");
	ck_assert_int_eq(p->h.dtype, NCP_NPY_F32);
	ck_assert_int_eq(p->h.shape[0], 10);
	ck_assert_int_eq(p->h.shape[1], 6);
	const float *v = p->data;
	for (int row = 0; row < 10; row++)
		for (int i = 0; i < 6; i++) {
			if (row == 9)
				ck_assert_msg(isnan(v[row * 6 + i]), "row 9: %g", v[row * 6 + i]);
			else
				ncp_ck_near(v[row * 6 + i], 20.0 + row + i / 8.0, 0);
		}
	json_t *root = meta("pred");
	json_t *f = json_object_get(json_object_get(root, "files"), "pred");
	ck_assert_str_eq(json_string_value(f), "pred.npy");
	json_decref(root);
	ncp_npy_free(p);
	ncp_recorder_free(r);
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("recorder");
	TCase *tc = tcase_create("recorder");
	tcase_add_unchecked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, rows_line_up_and_gaps_are_marked);
	tcase_add_test(tc, duration_names_and_shutdown);
	tcase_add_test(tc, crash_keeps_rows_to_the_last_checkpoint);
	tcase_add_test(tc, predictions_land_in_their_rows);
	tcase_add_test(tc, observation_rows);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
