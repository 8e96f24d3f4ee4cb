#include "daemon/ncp_control.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon/ncp_coproc.h"
#include "daemon/ncp_cpn_online.h"
#include "daemon/ncp_emulator.h"
#include "daemon/ncp_online.h"
#include "daemon/ncp_recorder.h"
#include "daemon/ncp_service.h"
#include "models/io/ncp_file.h"
#include "models/base/ncp_base.h"
#include "shm/ncp_shm_writer.h"

int ncp_control_init(struct ncp_control *c, const struct ncp_config *cfg,
		     struct ncp_loop *loop, struct ncp_shm_writer *shm,
		     struct ncp_recorder *recorder, struct ncp_emulator *emulator,
		     struct ncp_online *online, char *err, size_t errlen)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->cfg = *cfg;
	c->field = cfg->reach.field;
	c->loop = loop;
	c->recorder = recorder;
	c->emulator = emulator;
	c->online = online;
	atomic_init(&c->shutdown, false);
	c->shm = ncp_shm_reader_from_mem(ncp_shm_writer_base(shm),
					 ncp_shm_writer_size(shm), err, errlen);
	if (!c->shm)
		return -EPROTO;
	snprintf(c->shm_name, sizeof(c->shm_name), "%s", ncp_shm_writer_name(shm));
	c->generation = ncp_shm_writer_generation(shm);
	return 0;
}

void ncp_control_fini(struct ncp_control *c)
{
	ncp_shm_reader_free(c->shm);
	pthread_mutex_destroy(&c->lock);
	c->shm = NULL;
}

void ncp_control_set_config(struct ncp_control *c,
			    const struct ncp_config *cfg)
{
	pthread_mutex_lock(&c->lock);
	c->cfg = *cfg;
	pthread_mutex_unlock(&c->lock);
}

/* How long record stop waits for the recorder to complete its files. */
#define RECORD_STOP_WAIT_S 10.0

static int send_loop(struct ncp_control *c, const struct ncp_loop_cmd *lc,
		     struct ncp_reply *r)
{
	if (!ncp_loop_send(c->loop, NCP_CONTROL_QUEUE, lc))
		return ncp_reply_err(r, -EBUSY, "the loop has not taken the "
				     "previous commands yet; try again");
	return 0;
}

static int do_target(struct ncp_control *c, const struct ncp_cmd *cmd,
		     struct ncp_reply *r)
{
	struct ncp_loop_cmd lc = { .kind = NCP_LOOP_TARGET,
				   .xy = { cmd->target.x, cmd->target.y } };
	char why[320];
	pthread_mutex_lock(&c->lock);
	int bad = ncp_reach_target_check(&c->cfg.reach, lc.xy, why, sizeof(why));
	pthread_mutex_unlock(&c->lock);
	if (bad)
		return ncp_reply_err(r, -ERANGE, "target (%g, %g) is outside the "
				     "reachable workspace: %s", lc.xy[0], lc.xy[1],
				     why);
	/* A target is a manual task's: the loop switches to it.  The reply
	 * says so, and which task it replaced: the loop's, or before the loop
	 * has published its state, the configured one. */
	struct ncp_shm_state st;
	pthread_mutex_lock(&c->lock);
	enum ncp_task_kind was = c->cfg.task.kind;
	pthread_mutex_unlock(&c->lock);
	if (ncp_shm_reader_state(c->shm, &st) == 0)
		was = (enum ncp_task_kind)st.task_kind;
	int ret = send_loop(c, &lc, r);
	if (ret)
		return ret;
	ncp_reply_vec(r, "target.xy", lc.xy, 2);
	ncp_reply_str(r, "task.kind", ncp_task_kind_name(NCP_TASK_MANUAL));
	ncp_reply_str(r, "task.previous", ncp_task_kind_name(was));
	return 0;
}

static int do_task(struct ncp_control *c, const struct ncp_cmd *cmd,
		   struct ncp_reply *r)
{
	struct ncp_loop_cmd lc = { .kind = NCP_LOOP_TASK };
	struct ncp_shm_state st;

	pthread_mutex_lock(&c->lock);
	lc.task = c->cfg.task;
	pthread_mutex_unlock(&c->lock);
	lc.task.kind = cmd->task.kind;
	/* A trajectory needs the generator built for it (fixed at build:
	 * reading it here races with nothing). */
	if (!ncp_sim_task_fits(c->loop->sim, &lc.task))
		return ncp_reply_err(r, -EOPNOTSUPP, "task %s: the trajectory "
				     "generator is built at start for the "
				     "configured trajectory (%s); restart ncpd "
				     "with task.kind %s",
				     ncp_task_kind_name(lc.task.kind),
				     c->loop->sim->path_xy ?
				     ncp_task_kind_name(c->loop->sim->built.kind) :
				     "none", ncp_task_kind_name(lc.task.kind));
	/* Without a PERIOD the task keeps the period in use. */
	if (cmd->task.has_period)
		lc.task.period = cmd->task.period;
	else if (ncp_shm_reader_state(c->shm, &st) == 0 && st.task_period > 0)
		lc.task.period = st.task_period;
	return send_loop(c, &lc, r);
}

static void train_status(struct ncp_control *c, struct ncp_reply *r)
{
	struct ncp_online_status os;
	ncp_online_status(c->online, &os);
	ncp_reply_bool(r, "train.online", os.enabled);
	ncp_reply_uint(r, "train.updates", os.updates);
	ncp_reply_num(r, "train.loss", os.loss);
	ncp_reply_num(r, "train.val_loss", os.val_loss);
	ncp_reply_uint(r, "train.swaps", os.swaps);
	ncp_reply_uint(r, "train.rollbacks", os.rollbacks);
	ncp_reply_uint(r, "train.replay_steps", os.rows);
	if (os.last_rollback[0])
		ncp_reply_str(r, "train.last_rollback", os.last_rollback);
}

/* Where save NAME writes: NAME.safetensors inside data_dir (created if
 * need be).  0, or an error reply. */
static int save_path(struct ncp_control *c, const char *name, char *path,
		     size_t len, struct ncp_reply *r)
{
	char msg[600];
	int ret;

	pthread_mutex_lock(&c->lock);
	ret = ncp_file_resolve(c->cfg.data_dir, name, path, len, msg,
			       sizeof(msg));
	pthread_mutex_unlock(&c->lock);
	if (ret)
		return ncp_reply_err(r, ret, "%s", msg);
	size_t n = strlen(path);
	if (n < 12 || strcmp(path + n - 12, ".safetensors")) {
		if (n + 13 > len)
			return ncp_reply_err(r, -ENAMETOOLONG, "name too long");
		memcpy(path + n, ".safetensors", 13);
	}
	pthread_mutex_lock(&c->lock);
	ret = ncp_service_mkdirs(c->cfg.data_dir, 0755);
	pthread_mutex_unlock(&c->lock);
	if (ret)
		return ncp_reply_err(r, ret, "cannot create the data directory: %s",
				     ncp_strerror(ret));
	return 0;
}

/* save NAME: the weights in use, written atomically inside data_dir, then
 * read back and compared bit for bit. */
static int save_model(struct ncp_control *c, const char *name,
		      struct ncp_reply *r)
{
	char path[4096], msg[600], label[64];
	int ret;

	struct ncp_emu_model *m = ncp_emulator_clone_model(c->emulator, label,
							    sizeof(label));
	if (!m)
		return ncp_reply_err(r, -ENOENT, "no model in use to save");
	ret = save_path(c, name, path, sizeof(path), r);
	if (ret) {
		ncp_emu_model_free(m);
		return ret;
	}
	ret = ncp_emu_model_save(m, path, msg, sizeof(msg));
	if (ret) {
		ncp_emu_model_free(m);
		return ncp_reply_err(r, ret, "%s", msg);
	}
	struct ncp_emu_model *back = ncp_emu_model_load(path, msg, sizeof(msg));
	bool same = back && ncp_emu_model_equal(m, back);
	ncp_emu_model_free(back);
	if (!same) {
		ncp_emu_model_free(m);
		return ncp_reply_err(r, -EIO, "%s reads back different from the "
				     "weights saved", path);
	}
	ncp_reply_str(r, "save.path", path);
	ncp_reply_uint(r, "save.params", ncp_emu_model_params(m));
	snprintf(msg, sizeof(msg), "%016llx",
		 (unsigned long long)ncp_emu_model_checksum(m));
	ncp_reply_str(r, "save.checksum", msg);
	ncp_emu_model_free(m);
	return 0;
}

static void field_status(struct ncp_control *c, struct ncp_reply *r)
{
	ncp_reply_bool(r, "field.on", c->field.on);
	ncp_reply_str(r, "field.kind", ncp_field_kind_names[c->field.kind]);
	ncp_reply_num(r, "field.strength", c->field.strength);
}

/* ncp save NAME: the CPN in use, the same way (ncp_cpn_model_save writes
 * atomically, reads back and compares). */
static int save_cpn(struct ncp_control *c, const char *name,
		    struct ncp_reply *r)
{
	char path[4096], msg[600], label[64];
	struct ncp_cpn_model *m = c->coproc ?
		ncp_coproc_clone_model(c->coproc, label, sizeof(label), NULL) :
		NULL;
	if (!m)
		return ncp_reply_err(r, -ENOENT, "no co-processor model in use "
				     "to save");
	int ret = save_path(c, name, path, sizeof(path), r);
	if (!ret && (ret = ncp_cpn_model_save(m, path, msg, sizeof(msg))))
		ret = ncp_reply_err(r, ret, "%s", msg);
	if (!ret)
		ncp_reply_str(r, "ncp.saved", path);
	ncp_cpn_model_free(m);
	return ret;
}

/* The co-processor as its shared-memory block shows it. */
static void ncp_status(struct ncp_control *c, struct ncp_reply *r)
{
	struct ncp_shm_ncp b;
	if (!c->coproc)
		return;
	ncp_reply_bool(r, "ncp.loaded", ncp_coproc_loaded(c->coproc));
	ncp_reply_bool(r, "ncp.on", ncp_coproc_on(c->coproc));
	if (ncp_shm_reader_ncp(c->shm, &b) != 0)
		return;
	static const char *const phases[] = { "cpn", "perturbed", "noise" };
	if (b.model[0])
		ncp_reply_str(r, "ncp.model", b.model);
	ncp_reply_bool(r, "ncp.train", b.train);
	ncp_reply_str(r, "ncp.phase", b.phase < 3 ? phases[b.phase] : "unknown");
	ncp_reply_uint(r, "ncp.step", b.step);
	ncp_reply_uint(r, "ncp.thetas", b.thetas);
	ncp_reply_uint(r, "ncp.skipped", b.skipped);
	ncp_reply_num(r, "ncp.latency_us", b.latency_us);
	ncp_reply_num(r, "ncp.latency_p99_us", b.latency_p99_us);
	ncp_reply_uint(r, "ncp.updates", b.updates);
	ncp_reply_uint(r, "ncp.rollbacks", b.rollbacks);
	if (c->cpn_online) {
		struct ncp_cpn_online_status ts;
		ncp_cpn_online_status(c->cpn_online, &ts);
		ncp_reply_str(r, "ncp.train_state", ts.state);
		ncp_reply_uint(r, "ncp.train_samples", ts.samples);
		ncp_reply_uint(r, "ncp.train_healthy_samples", ts.healthy);
		ncp_reply_uint(r, "ncp.train_rounds", ts.rounds);
		ncp_reply_uint(r, "ncp.train_cpn_epochs", ts.cpn_epochs);
		ncp_reply_uint(r, "ncp.train_en_trainings", ts.en_trainings);
		if (ts.last_rollback[0])
			ncp_reply_str(r, "ncp.train_last_rollback",
				      ts.last_rollback);
	}
	ncp_reply_num(r, "ncp.task_loss", b.task_loss);
	ncp_reply_num(r, "ncp.en_loss", b.en_loss);
	ncp_reply_num(r, "ncp.l_healthy", b.l_healthy);
	ncp_reply_num(r, "ncp.l_lesioned", b.l_lesioned);
	ncp_reply_num(r, "ncp.l_restored", b.l_restored);
	ncp_reply_num(r, "ncp.recovery", b.recovery);
	ncp_reply_uint(r, "ncp.reaches_healthy", b.reaches[0]);
	ncp_reply_uint(r, "ncp.reaches_lesioned", b.reaches[1]);
	ncp_reply_uint(r, "ncp.reaches_restored", b.reaches[2]);
}

static int do_ncp(struct ncp_control *c, const struct ncp_cmd *cmd,
		  struct ncp_reply *r)
{
	char path[4096], msg[600], name[64];
	int ret = 0;

	if (!c->coproc)
		return ncp_reply_err(r, -ENOENT, "this daemon has no co-processor");
	switch (cmd->ncp.op) {
	case NCP_NCP_LOAD:
		if (ncp_cpn_online_enabled(c->cpn_online))
			return ncp_reply_err(r, -EBUSY, "the co-processor is being "
					     "trained: 'ncp train off' before "
					     "loading one");
		pthread_mutex_lock(&c->lock);
		ret = ncp_control_model_path(c->cfg.data_dir, cmd->ncp.name, true,
					     path, sizeof(path), msg, sizeof(msg));
		pthread_mutex_unlock(&c->lock);
		if (!ret) {
			ncp_control_model_name(path, name, sizeof(name));
			ret = ncp_coproc_load(c->coproc, path, name, msg,
					      sizeof(msg));
		}
		if (ret)
			return ncp_reply_err(r, ret, "%s", msg);
		ncp_reply_str(r, "ncp.model", name);
		ncp_reply_bool(r, "ncp.on", ncp_coproc_on(c->coproc));
		return 0;
	case NCP_NCP_ON:
	case NCP_NCP_OFF:
		ret = ncp_coproc_set_on(c->coproc, cmd->ncp.op == NCP_NCP_ON, msg,
					sizeof(msg));
		if (ret)
			return ncp_reply_err(r, ret, "%s", msg);
		ncp_reply_bool(r, "ncp.on", ncp_coproc_on(c->coproc));
		return 0;
	case NCP_NCP_TRAIN_ON:
	case NCP_NCP_TRAIN_OFF:
		if (!c->cpn_online)
			return ncp_reply_err(r, -ENOENT, "this daemon cannot "
					     "train its co-processor");
		ret = ncp_cpn_online_enable(c->cpn_online,
					    cmd->ncp.op == NCP_NCP_TRAIN_ON, msg,
					    sizeof(msg));
		if (ret)
			return ncp_reply_err(r, ret, "%s", msg);
		ncp_status(c, r);
		return 0;
	case NCP_NCP_SAVE:
		return save_cpn(c, cmd->ncp.name, r);
	case NCP_NCP_STATUS:
		ncp_status(c, r);
		return 0;
	}
	return ncp_reply_err(r, -EINVAL, "unexpected ncp sub-command");
}

static void status(struct ncp_control *c, struct ncp_reply *r)
{
	struct ncp_shm_state st;
	struct ncp_shm_stats ss;
	bool have_state = ncp_shm_reader_state(c->shm, &st) == 0;
	bool have_stats = ncp_shm_reader_stats(c->shm, &ss) == 0;
	const struct ncp_loop *l = c->loop;

	ncp_reply_uint(r, "loop.step", atomic_load(&l->pub_steps));
	ncp_reply_num(r, "loop.sim_time",
		      (double)atomic_load(&l->pub_steps) * l->sim->dt);
	ncp_reply_str(r, "loop.mode", l->clock.free_run ? "free-run" : "realtime");
	ncp_reply_str(r, "loop.sched", l->fifo ? "fifo" : "other");
	ncp_reply_uint(r, "loop.overruns", atomic_load(&l->pub_overruns));
	ncp_reply_uint(r, "loop.slips", atomic_load(&l->pub_slips));
	if (have_stats) {
		ncp_reply_num(r, "loop.jitter_p50_us", ss.jitter_p50_us);
		ncp_reply_num(r, "loop.jitter_p99_us", ss.jitter_p99_us);
		ncp_reply_num(r, "loop.jitter_max_us", ss.jitter_max_us);
		ncp_reply_num(r, "loop.cost_p99_us", ss.cost_p99_us);
		ncp_reply_num(r, "loop.rtf", ss.rtf);
	}
	if (have_state) {
		ncp_reply_bool(r, "loop.paused", st.paused);
		ncp_reply_vec(r, "arm.q", st.q, 2);
		ncp_reply_vec(r, "arm.dq", st.dq, 2);
		ncp_reply_vec(r, "arm.hand", st.hand, 2);
		ncp_reply_vec(r, "arm.u", st.u, 2);
		ncp_reply_vec(r, "target.xy", st.target, 2);
		ncp_reply_num(r, "target.distance", hypot(st.hand[0] - st.target[0],
							  st.hand[1] - st.target[1]));
		ncp_reply_str(r, "task.kind",
			      ncp_task_kind_name((enum ncp_task_kind)st.task_kind));
		ncp_reply_num(r, "task.period", st.task_period);
	}
	if (c->emulator) {
		struct ncp_emulator_status es;
		ncp_emulator_status(c->emulator, &es);
		ncp_reply_bool(r, "emulator.loaded", es.loaded);
		if (es.loaded) {
			ncp_reply_str(r, "emulator.model", es.model);
			ncp_reply_str(r, "emulator.arch", es.arch);
			ncp_reply_int(r, "emulator.horizon", es.horizon);
			ncp_reply_bool(r, "emulator.arm_input", es.arm_input);
			ncp_reply_bool(r, "emulator.residual", es.residual);
		}
		ncp_reply_uint(r, "emulator.predictions", es.predictions);
		ncp_reply_uint(r, "emulator.skipped_steps", es.skipped);
		ncp_reply_num(r, "emulator.latency_p99_us", es.latency_p99_us);
		ncp_reply_num(r, "emulator.hand_rmse_1s", es.hand_rmse_1s);
		ncp_reply_num(r, "emulator.hand_rmse", es.hand_rmse);
		ncp_reply_num(r, "emulator.q_rmse", es.q_rmse);
		ncp_reply_num(r, "emulator.dq_rmse", es.dq_rmse);
		if (es.loaded) {
			char hex[24];
			snprintf(hex, sizeof(hex), "%016llx",
				 (unsigned long long)es.checksum);
			ncp_reply_str(r, "emulator.checksum", hex);
		}
	}
	if (c->online)
		train_status(c, r);
	ncp_status(c, r);
	if (c->recorder) {
		struct ncp_recorder_status rs;
		ncp_recorder_status(c->recorder, &rs);
		ncp_reply_bool(r, "record.active", rs.active);
		if (rs.name[0])
			ncp_reply_str(r, "record.name", rs.name);
		ncp_reply_uint(r, "record.steps", rs.rows);
		ncp_reply_uint(r, "record.dropped", rs.dropped);
		if (rs.last_error[0])
			ncp_reply_str(r, "record.error", rs.last_error);
	}
	uint64_t les = atomic_load_explicit(&l->pub_lesion, memory_order_relaxed);
	ncp_reply_str(r, "lesion.kind", ncp_lesion_kind_names[les >> 32]);
	ncp_reply_uint(r, "lesion.neurons", (uint32_t)les);
	/* The stimulation as the loop last published it (the stim block). */
	_Alignas(8) unsigned char sbuf[NCP_SHM_STIM_MAX_SIZE];
	const struct ncp_shm_stim *sb = (const void *)sbuf;
	if (ncp_shm_reader_stim(c->shm, sbuf, sizeof(sbuf)) == 0) {
		ncp_reply_num(r, "lesion.fraction", sb->lesion_fraction);
		ncp_reply_str(r, "stim.source",
			      ncp_shm_stim_source_name(sb->source));
		ncp_reply_uint(r, "stim.electrodes", sb->electrodes);
		ncp_reply_num(r, "stim.max", sb->max);
		ncp_reply_num(r, "stim.theta_max_abs", sb->theta_max_abs);
		ncp_reply_num(r, "stim.alpha_max_abs", sb->alpha_max_abs);
	}
	field_status(c, r);
	ncp_reply_str(r, "shm.name", c->shm_name);
	ncp_reply_uint(r, "shm.generation", c->generation);
	ncp_reply_uint(r, "shm.window", ncp_shm_reader_header(c->shm)->window_len);
}

int ncp_control_model_path(const char *data_dir, const char *name,
			   bool inside, char *out, size_t outlen, char *err,
			   size_t errlen)
{
	char msg[512];
	int ret;

	if (!inside && strchr(name, '/')) {
		if (snprintf(out, outlen, "%s", name) >= (int)outlen) {
			ncp_errf(err, errlen, "path too long");
			return -ENAMETOOLONG;
		}
	} else {
		ret = ncp_file_resolve(data_dir, name, out, outlen, msg, sizeof(msg));
		if (ret) {
			ncp_errf(err, errlen, "%s", msg);
			return ret;
		}
	}
	if (access(out, R_OK) == 0)
		return 0;
	/* NAME without its extension. */
	size_t n = strlen(out);
	if (n + 12 < outlen && (n < 12 || strcmp(out + n - 12, ".safetensors"))) {
		memcpy(out + n, ".safetensors", 13);
		if (access(out, R_OK) == 0)
			return 0;
		out[n] = '\0';
	}
	ret = -errno;
	ncp_errf(err, errlen, "no model %s (%s)", out, ncp_strerror(ret));
	return ret;
}

void ncp_control_model_name(const char *path, char *out, size_t len)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t n = strlen(base);
	if (n > 12 && strcmp(base + n - 12, ".safetensors") == 0)
		n -= 12;
	snprintf(out, len, "%.*s", (int)n, base);
}

int ncp_control_handle(void *ctx, const struct ncp_cmd *cmd,
		       struct ncp_reply *r)
{
	struct ncp_control *c = ctx;
	struct ncp_loop_cmd lc = { 0 };
	char val[256];

	switch (cmd->kind) {
	case NCP_CMD_TARGET:
		return do_target(c, cmd, r);
	case NCP_CMD_TASK:
		return do_task(c, cmd, r);
	case NCP_CMD_PAUSE:
		lc.kind = NCP_LOOP_PAUSE;
		return send_loop(c, &lc, r);
	case NCP_CMD_RESUME:
		lc.kind = NCP_LOOP_RESUME;
		return send_loop(c, &lc, r);
	case NCP_CMD_RESET:
		lc.kind = NCP_LOOP_RESET;
		return send_loop(c, &lc, r);
	case NCP_CMD_STATUS:
		status(c, r);
		return 0;
	case NCP_CMD_CONFIG_GET: {
		pthread_mutex_lock(&c->lock);
		int ret = ncp_config_get(&c->cfg, cmd->config.key, val, sizeof(val));
		pthread_mutex_unlock(&c->lock);
		if (ret)
			return ncp_reply_err(r, -ENOENT, "no configuration key '%s' "
					     "(ncpd --help-config lists them)",
					     cmd->config.key);
		ncp_reply_str(r, cmd->config.key, val);
		return 0;
	}
	case NCP_CMD_SHUTDOWN:
		atomic_store(&c->shutdown, true);
		atomic_store(&c->loop->stop, true);
		return 0;
	case NCP_CMD_RECORD_START: {
		char msg[1024];
		struct ncp_probe probes[NCP_PROBE_MAX];
		int n = 0, ret = 0;
		/* The network's structure is fixed at build: reading it here
		 * races with nothing. */
		const struct ncp_probe_frame *pf = &c->loop->sim->probe_frame;
		struct ncp_net *net = ncp_reach_net(c->loop->sim->reach);
		if (cmd->record.has_probes) {
			for (int i = 0; i < cmd->record.n_probes && !ret; i++) {
				ret = ncp_probe_parse(cmd->record.probes[i], pf, net,
						      &probes[n], msg, sizeof(msg));
				for (int k = 0; k < n && !ret; k++)
					if (!strcmp(probes[k].file, probes[n].file))
						ret = ncp_errf(msg, sizeof(msg),
							       "probe '%s' is given "
							       "twice",
							       cmd->record.probes[i]);
				n++;
			}
		} else {
			pthread_mutex_lock(&c->lock);
			ret = ncp_probe_parse_list(c->cfg.record.probes, pf, net,
						   probes, &n, msg, sizeof(msg));
			pthread_mutex_unlock(&c->lock);
		}
		if (!ret)
			ret = ncp_recorder_start_probes(c->recorder,
							cmd->record.name,
							cmd->record.has_seconds ?
							cmd->record.seconds : 0,
							probes, n, msg,
							sizeof(msg));
		if (ret)
			return ncp_reply_err(r, ret, "%s", msg);
		ncp_reply_str(r, "record.name", cmd->record.name);
		return 0;
	}
	case NCP_CMD_RECORD_STOP: {
		struct ncp_recorder_status rs;
		if (ncp_recorder_stop(c->recorder))
			return ncp_reply_err(r, -ENOENT, "nothing is being recorded");
		/* The recorder thread still takes the steps queued before the
		 * stop and writes them: the reply counts the rows once the
		 * files are complete. */
		if (ncp_recorder_wait_idle(c->recorder, RECORD_STOP_WAIT_S))
			return ncp_reply_err(r, -ETIMEDOUT, "the recording is "
					     "stopping but its files were not "
					     "complete after %g s; status shows "
					     "record.active=false once they are",
					     RECORD_STOP_WAIT_S);
		ncp_recorder_status(c->recorder, &rs);
		ncp_reply_str(r, "record.name", rs.name);
		ncp_reply_uint(r, "record.steps", rs.rows);
		return 0;
	}
	case NCP_CMD_LOAD: {
		char path[4096], msg[600], name[64];
		if (ncp_online_enabled(c->online))
			return ncp_reply_err(r, -EBUSY, "online training is on: "
					     "'train off' before loading a model");
		pthread_mutex_lock(&c->lock);
		int ret = ncp_control_model_path(c->cfg.data_dir, cmd->file.name, true,
						 path, sizeof(path), msg, sizeof(msg));
		pthread_mutex_unlock(&c->lock);
		if (!ret) {
			ncp_control_model_name(path, name, sizeof(name));
			ret = ncp_emulator_load(c->emulator, path, name, msg,
						sizeof(msg));
		}
		if (ret)
			return ncp_reply_err(r, ret, "%s", msg);
		ncp_reply_str(r, "emulator.model", name);
		return 0;
	}
	case NCP_CMD_SAVE:
		return save_model(c, cmd->file.name, r);
	case NCP_CMD_FIELD: {
		if (cmd->field.op < 0) {
			field_status(c, r);
			return 0;
		}
		lc.kind = NCP_LOOP_FIELD;
		lc.field = c->field;
		lc.field.on = cmd->field.op == 1;
		if (cmd->field.has_strength)
			lc.field.strength = cmd->field.strength;
		int ret = send_loop(c, &lc, r);
		if (ret)
			return ret;
		c->field = lc.field;
		field_status(c, r);
		return 0;
	}
	case NCP_CMD_LESION:
		lc.kind = NCP_LOOP_LESION;
		lc.lesion_kind = cmd->lesion.kind;
		lc.lesion_fraction = cmd->lesion.fraction;
		lc.oracle_slot = -1;
		if (ncp_reach_oracle_k(c->loop->sim->reach)) {
			/* The oracle's map was fitted for the lesion the run
			 * started with: refit it here, off the loop (it reads
			 * only what the build fixed), and let the loop put both
			 * in force at one step boundary. */
			char msg[256];
			int slot = ncp_loop_oracle_slot(c->loop);
			if (slot < 0)
				return ncp_reply_err(r, -EBUSY, "the loop has not "
						     "taken the previous lesions yet; "
						     "try again");
			int ret = ncp_reach_oracle_fit(c->loop->sim->reach,
						       lc.lesion_kind,
						       lc.lesion_fraction,
						       c->loop->oracle_k[slot], msg,
						       sizeof(msg));
			if (ret) {
				ncp_loop_oracle_unsent(c->loop);
				return ncp_reply_err(r, ret, "refitting the oracle: %s",
						     msg);
			}
			lc.oracle_slot = slot;
			if (!ncp_loop_send(c->loop, NCP_CONTROL_QUEUE, &lc)) {
				ncp_loop_oracle_unsent(c->loop);
				return ncp_reply_err(r, -EBUSY, "the loop has not "
						     "taken the previous commands yet; "
						     "try again");
			}
			return 0;
		}
		return send_loop(c, &lc, r);
	case NCP_CMD_STIM_SET:
	case NCP_CMD_STIM_OFF: {
		/* E and stim.max are fixed at build: reading them here races
		 * with nothing. */
		const struct ncp_stim *st = ncp_reach_stim(c->loop->sim->reach);
		static const float zero[NCP_STIM_MAX_ELECTRODES];
		const float *theta = zero;
		char msg[256];
		if (cmd->kind == NCP_CMD_STIM_SET) {
			int ret = ncp_stim_check_theta(st, cmd->stim.theta,
						       cmd->stim.n, msg,
						       sizeof(msg));
			if (ret)
				return ncp_reply_err(r, ret == -EDOM ? -ERANGE :
						     -EINVAL, "%s", msg);
			theta = cmd->stim.theta;
		}
		/* The control thread is the mailbox's one writer. */
		ncp_stim_box_post(c->loop->stim_box, theta, st->E, true);
		ncp_reply_uint(r, "stim.electrodes", (uint64_t)st->E);
		return 0;
	}
	case NCP_CMD_NCP:
		return do_ncp(c, cmd, r);
	case NCP_CMD_TRAIN:
		if (cmd->train.op == NCP_TRAIN_ON)
			ncp_online_enable(c->online, true);
		else if (cmd->train.op == NCP_TRAIN_OFF)
			ncp_online_enable(c->online, false);
		train_status(c, r);
		return 0;
	default:
		return ncp_reply_err(r, -EINVAL, "unexpected command");
	}
}
