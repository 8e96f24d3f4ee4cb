/* ncp_sim: the simulated world one loop step advances: the REACH circuits
 * and arm, the task that sets their target, and the statistics of the run
 * (reaches and their end errors, M1 spikes).  The free-run loop and the
 * real-time loop both drive it with ncp_sim_step(), which allocates
 * nothing and never blocks.
 */
#ifndef NCP_SIM_H
#define NCP_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/ncp_config.h"
#include "models/arm/ncp_arm.h"
#include "models/base/ncp_json.h"
#include "models/nef/ncp_dcache.h"
#include "models/nef/ncp_probe.h"
#include "models/reach/ncp_reach.h"
#include "models/reach/ncp_task.h"

/* One task period: where the target was and how far the hand ended up. */
struct ncp_sim_reach {
	double target[2];
	double end_error;	/* m, at the period's last step */
	double t_end;		/* sim time of that step, s */
	/* Distance from the hand to the planned path (the line from the
	 * previous target, or the trajectory while the PMC traces it), m. */
	double path_error_mean, path_error_max;
};

struct ncp_sim {
	double dt;
	struct ncp_reach *reach;
	struct ncp_task task;
	uint64_t step;		/* steps simulated */
	uint64_t m1_spikes;	/* M1 spikes so far */
	int m1_n;		/* M1 neurons */
	/* The latest reaches, a ring of reach_cap; n_reaches counts all. */
	struct ncp_sim_reach *reaches;
	size_t reach_cap;
	uint64_t n_reaches;
	double sum_end_error;
	/* The planned path: the trajectory's points (path_n x 2, owned) for
	 * trajectory kinds; the current reach's sums. */
	double *path_xy;
	int path_n;
	struct ncp_task_params built;	/* the trajectory's task, as built */
	double prev_target[2];	/* where the current reach started */
	double path_sum, path_max;
	uint64_t path_steps;
	double sum_path_error, max_path_error;
	/* After the last step. */
	struct ncp_arm_state arm;
	double target[2];
	const uint32_t *spikes;	/* M1 spikes of the last step */
	int n_spikes;
	/* A theta sequence replayed from step 0 (ncp_sim_stim_replay). */
	const float *stim_seq;
	uint64_t stim_steps;
	float *stim_zero;	/* E zeros, for after its end */
	int stim_E;
	/* What a recording can probe (ncp_probe.h). */
	struct ncp_probe_frame probe_frame;
	/* How the network was built. */
	double build_seconds;
	char cache_dir[NCP_CONFIG_PATH_MAX + 16]; /* "": no decoder cache */
	struct ncp_dcache_stats cache;
};

/* Build from a configuration; keeps the last reach_cap reaches.  The
 * decoders go through the cache of cache.enable and cache.dir
 * (ncp_sim_cache_dir); a cache that cannot be used is logged as a warning
 * and the build solves them all.  On error returns -errno with a
 * message. */
int ncp_sim_init(struct ncp_sim *s, const struct ncp_config *c,
		 size_t reach_cap, char *err, size_t errlen);
void ncp_sim_fini(struct ncp_sim *s);

/* The decoder cache's directory for c: cache.dir, else the first of
 * $CACHE_DIRECTORY (systemd), $XDG_CACHE_HOME/ncpd, $HOME/.cache/ncpd,
 * data_dir/cache.  0 or -ENAMETOOLONG. */
int ncp_sim_cache_dir(const struct ncp_config *c, char *buf, size_t len);

void ncp_sim_step(struct ncp_sim *s);

/* Change the task from the next step on; a manual task keeps the current
 * target until ncp_sim_set_target.  A trajectory kind (line, circle,
 * path) needs the trajectory generator built for that very trajectory:
 * -EOPNOTSUPP otherwise (a restart builds it). */
int ncp_sim_set_task(struct ncp_sim *s, const struct ncp_task_params *p);
/* Whether ncp_sim_set_task would take p (its trajectory, if any, is the
 * one built).  Reads only what the build fixed: any thread may call it. */
bool ncp_sim_task_fits(const struct ncp_sim *s, const struct ncp_task_params *p);
/* Manual target (the task becomes manual).  -EDOM if out of reach. */
int ncp_sim_set_target(struct ncp_sim *s, const double xy[2]);
/* The newest electrode command (stim.electrodes values, checked with
 * ncp_stim_check_theta) from the next step on; the loop calls it at a step
 * boundary with whatever its source (a mailbox, a command) holds. */
void ncp_sim_set_theta(struct ncp_sim *s, const float *theta);
/* Replay seq (steps x E, checked by ncp_stim_file_load; the caller keeps
 * it alive): row k is the theta of step k, zeros after the last row. */
void ncp_sim_stim_replay(struct ncp_sim *s, const float *seq, uint64_t steps);
/* The force field from the next step on (ncp_reach_set_field). */
int ncp_sim_set_field(struct ncp_sim *s, const struct ncp_field_params *f);
/* Lesion from the next step on (ncp_reach_set_lesion). */
int ncp_sim_set_lesion(struct ncp_sim *s, int kind, double fraction);

/* Back to the start posture, task restarted, statistics kept. */
void ncp_sim_reset(struct ncp_sim *s);

/* The summary fields of the simulation: steps, sim_seconds, neurons,
 * m1_neurons, reaches, mean_end_error, m1_mean_rate_hz, lesion, stim,
 * and build (seconds, cache_dir, cache_hits, cache_misses, cache_rejected,
 * cache_stored, cache_write_errors). */
void ncp_sim_json(const struct ncp_sim *s, struct ncp_json *j);

#endif
