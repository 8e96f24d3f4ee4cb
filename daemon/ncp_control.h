/* ncp_control: what the daemon answers on its control socket.  The server
 * (ncp_ctlsrv) parses each request and calls ncp_control_handle on its
 * thread; this module turns requests into commands for the RT loop
 * (through the loop's command queue: never waits) and answers status from
 * the shared-memory segment (seqlock reads: never waits).
 *
 * The configuration it reads (config get, task parameters) may be replaced
 * by the main thread on SIGHUP: both sides hold `lock` around it, which
 * the RT loop never touches.
 */
#ifndef NCP_CONTROL_H
#define NCP_CONTROL_H

#include <pthread.h>
#include <stdatomic.h>

#include "daemon/ncp_config.h"
#include "daemon/ncp_loop.h"
#include "daemon/ncp_proto.h"
#include "daemon/ncp_reply.h"
#include "shm/ncp_shm_reader.h"

/* The loop's command queue this module produces into. */
#define NCP_CONTROL_QUEUE 0

struct ncp_control {
	pthread_mutex_t lock;		/* guards cfg */
	struct ncp_config cfg;		/* the configuration in effect */
	struct ncp_loop *loop;
	struct ncp_recorder *recorder;
	struct ncp_emulator *emulator;
	struct ncp_online *online;
	struct ncp_coproc *coproc;	/* set after init; may be NULL */
	struct ncp_cpn_online *cpn_online; /* set after init; may be NULL */
	struct ncp_shm_reader *shm;	/* the daemon's own segment */
	char shm_name[64];
	uint64_t generation;
	_Atomic bool shutdown;		/* a client asked the daemon to stop */
	/* The force field as last sent to the loop (the control thread is
	 * the only one that changes it). */
	struct ncp_field_params field;
};

int ncp_control_init(struct ncp_control *c, const struct ncp_config *cfg,
		     struct ncp_loop *loop, struct ncp_shm_writer *shm,
		     struct ncp_recorder *recorder, struct ncp_emulator *emulator,
		     struct ncp_online *online, char *err, size_t errlen);
void ncp_control_fini(struct ncp_control *c);
/* Replace the configuration (SIGHUP), under the lock. */
void ncp_control_set_config(struct ncp_control *c,
			    const struct ncp_config *cfg);
/* Where a model NAME lives: inside data_dir (inside: always, as a client
 * gives it; else a NAME with a '/' is a path as the configuration gives
 * it), with ".safetensors" added when only that exists.  0, or -errno with
 * a message. */
int ncp_control_model_path(const char *data_dir, const char *name,
			   bool inside, char *out, size_t outlen, char *err,
			   size_t errlen);
/* The name a model goes by (status, summary, the shared memory's predicted
 * block), however it was given: the file name of `path` without its
 * directory and without ".safetensors", cut to fit `len`. */
void ncp_control_model_name(const char *path, char *out, size_t len);
/* The ncp_ctlsrv handler; ctx is a struct ncp_control. */
int ncp_control_handle(void *ctx, const struct ncp_cmd *cmd,
		       struct ncp_reply *reply);

#endif
