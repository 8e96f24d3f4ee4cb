/* ncp_config: ncpd's configuration, one table of keys (ncp_config.c) that
 * the YAML file, --set overrides, `config get` and the docs all go through.
 *
 * Each key has a type, a range, a default, where it lands in struct
 * ncp_config, and whether SIGHUP may change it.  Unknown keys, wrong types
 * and values out of range are errors naming the file, line, column and key.
 * A file need only give the keys it changes: the rest keep their defaults.
 * config/ncpd.yaml lists every key with its default and is compiled into
 * ncpd (ncp_config_default_yaml).
 */
#ifndef NCP_CONFIG_H
#define NCP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/base/ncp_json.h"
#include "models/reach/ncp_reach.h"
#include "models/reach/ncp_task.h"

#define NCP_CONFIG_PATH_MAX 256

struct ncp_config {
	struct ncp_reach_params reach;	/* seed, dt and the circuits */
	struct ncp_task_params task;
	char instance[64];
	char data_dir[NCP_CONFIG_PATH_MAX];
	struct {
		char socket[108];	/* "": the default (shm/ncp_paths.h) */
		char group[64];
		int max_clients;
		double idle_timeout;	/* s; 0: never */
	} control;
	struct {
		int priority;		/* SCHED_FIFO; 0: normal policy */
		int cpu;		/* -1: not pinned */
		bool lock_memory;
		int cpu_latency_us;	/* PM QoS; -1: leave alone */
		double catchup_ms;
	} rt;
	struct {
		char name[64];
		int window;		/* steps in the emulator's window */
	} shm;
	struct {
		char model[NCP_CONFIG_PATH_MAX]; /* "auto", "none", a path or a name */
		int priority;		/* SCHED_FIFO of its thread */
		int cpu;
		bool online;		/* train while the loop runs */
		char online_arch[32];
		double replay;		/* s of steps trained on */
		double warmup;		/* s of data before a first model */
		double online_lr;
		int online_batch;
		int online_every;	/* free-run: steps per minibatch step */
	} emulator;
	struct {
		char probes[512];	/* comma-separated (ncp_probe.h); "": none */
	} record;
	struct {
		char model[NCP_CONFIG_PATH_MAX]; /* "auto", "none", a path or a name */
		bool train;		/* train the CPN while the loop runs */
		double explore;		/* perturbation sd / alpha_max; 0: none */
		double explore_tau;	/* s */
		double explore_noise;	/* noise sd / alpha_max */
		double explore_hold;	/* s */
		double explore_block;	/* s per exploration block */
		double warmup_explore;	/* warm-up perturbation sd / alpha_max */
		uint64_t seed;
		int priority;		/* SCHED_FIFO of its thread */
		int cpu;
		double replay;		/* s of lesioned samples trained on */
		double reference;	/* s of healthy samples for the reference */
		double warmup;		/* s of lesioned samples before the EN */
		double round;		/* s of new samples per round */
		int epochs;		/* CPN epochs per round */
		int batches;		/* minibatches per EN training / epoch */
	} ncp;
	struct {
		bool enable;		/* keep solved decoders on disk */
		char dir[NCP_CONFIG_PATH_MAX]; /* "": the default place */
	} cache;
	int log_level;			/* NCP_LOG_ERR + log_level */
};

/* The text of config/ncpd.yaml, compiled in (NUL-terminated). */
extern const char ncp_config_default_yaml[];

/* Every key at its default. */
void ncp_config_defaults(struct ncp_config *c);

/* Apply a YAML document (name is used in messages, e.g. the file path).
 * On error, returns -EINVAL and writes "NAME:LINE:COL: ..." into err;
 * c may then hold some of the document's values. */
int ncp_config_load_string(struct ncp_config *c, const char *yaml, size_t len,
			   const char *name, char *err, size_t errlen);
/* Read and apply a file; -errno (with a message) if it cannot be read. */
int ncp_config_load_file(struct ncp_config *c, const char *path, char *err,
			 size_t errlen);
/* Apply one "KEY=VALUE" (as given to --set). */
int ncp_config_set(struct ncp_config *c, const char *assignment, char *err,
		   size_t errlen);
/* Checks that involve several keys (after all files and overrides). */
int ncp_config_validate(const struct ncp_config *c, char *err, size_t errlen);

/* The value of KEY formatted as YAML would write it.  -ENOENT if unknown. */
int ncp_config_get(const struct ncp_config *c, const char *key, char *buf,
		   size_t len);
/* The whole configuration as one nested JSON object. */
void ncp_config_json(const struct ncp_config *c, struct ncp_json *j);

/* For SIGHUP: call fn for every key whose value differs between a and b,
 * saying whether a reload may change it.  Returns how many differ. */
int ncp_config_diff(const struct ncp_config *a, const struct ncp_config *b,
		    void (*fn)(const char *key, const char *old_value,
			       const char *new_value, bool reloadable,
			       void *ctx),
		    void *ctx);
/* Copy the reloadable keys of src into dst. */
void ncp_config_apply_reloadable(struct ncp_config *dst,
				 const struct ncp_config *src);

/* The range [min, max] the table gives a number key ("task.period"), for
 * whoever takes that value from elsewhere (the control protocol).  0, or
 * -ENOENT for a key that is unknown or not a number. */
int ncp_config_key_range(const char *key, double *min, double *max);

/* Iterate over the table (for docs and tests): the i-th key or NULL. */
struct ncp_config_key_info {
	const char *key, *type, *help;
	char default_value[128];
	char range[96];
	bool reloadable;
};
bool ncp_config_key_info(int i, struct ncp_config_key_info *info);

#endif
