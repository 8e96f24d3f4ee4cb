/* ncp_service: what running as a service needs: detaching from the
 * terminal with a readiness report to the parent, and the instance lock
 * that keeps one daemon per instance name. */
#ifndef NCP_SERVICE_H
#define NCP_SERVICE_H

#include <stddef.h>

/* Fork into the background (fork, setsid, fork).  The original process
 * waits until the daemon calls ncp_service_ready (it exits 0) or
 * ncp_service_failed (it prints the message and exits 1), or dies (exit
 * 1).  Returns in the daemon with the report descriptor in *report, or
 * -errno in the original process if forking failed. */
int ncp_service_detach(int *report);
void ncp_service_ready(int report);
void ncp_service_failed(int report, const char *msg);

/* A lock file: PATH (created with mode, never through a symlink) held
 * with flock(LOCK_EX | LOCK_NB).  A holder removes the file before it
 * lets go (ncp_service_unlock), so a lock taken on a file that is no
 * longer at PATH is dropped and taken again on the new one.  Returns the
 * descriptor, -EWOULDBLOCK while another process holds it, or -errno. */
int ncp_service_flock(const char *path, unsigned mode);
/* Take the instance lock: PATH (created 0644, holding the pid) locked
 * with ncp_service_flock.  Returns the descriptor, or -EEXIST with
 * "instance ... already running (pid N)" in err, or -errno. */
int ncp_service_lock(const char *path, const char *instance, char *err,
		     size_t errlen);
/* Remove a lock file taken with ncp_service_flock, while still holding
 * it (only if PATH is still that file), then release it. */
void ncp_service_unlock(int fd, const char *path);

/* mkdir -p with mode for the missing components.  0 or -errno. */
int ncp_service_mkdirs(const char *dir, unsigned mode);

#endif
