/* ncp_paths: where the control socket lives when no path is configured.
 * Shared by the daemon's config and by clients (ncpctl), so both sides
 * agree without talking to each other.
 *
 * The rule (docs/protocol.md, "Where the socket is"):
 *   root (euid 0)                       /run/ncpd/ncpd.sock
 *   anyone else, XDG_RUNTIME_DIR set    $XDG_RUNTIME_DIR/ncpd/ncpd.sock
 *   anyone else, no XDG_RUNTIME_DIR     /tmp/ncpd-$UID/ncpd.sock
 * XDG_RUNTIME_DIR counts as set only when it is an absolute path.
 */
#ifndef NCP_PATHS_H
#define NCP_PATHS_H

#include <stddef.h>
#include <sys/types.h>

#define NCP_PATHS_SOCKET_ROOT "/run/ncpd/ncpd.sock"
#define NCP_PATHS_SOCKET_SUBDIR "ncpd"
#define NCP_PATHS_SOCKET_NAME "ncpd.sock"

/* The default socket path for a process with effective uid `uid` and the
 * given XDG_RUNTIME_DIR value (NULL when unset).  Writes a NUL-terminated
 * path into buf; 0, or -ENAMETOOLONG when it does not fit in len bytes. */
int ncp_paths_socket_for(uid_t uid, const char *xdg_runtime_dir, char *buf,
			 size_t len);

/* The same for the calling process: geteuid() and getenv(). */
int ncp_paths_socket_default(char *buf, size_t len);

#endif
