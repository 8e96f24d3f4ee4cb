#include "shm/ncp_paths.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int ncp_paths_socket_for(uid_t uid, const char *xdg_runtime_dir, char *buf,
			 size_t len)
{
	int n;

	if (uid == 0)
		n = snprintf(buf, len, "%s", NCP_PATHS_SOCKET_ROOT);
	else if (xdg_runtime_dir && xdg_runtime_dir[0] == '/')
		n = snprintf(buf, len, "%s/%s/%s", xdg_runtime_dir,
			     NCP_PATHS_SOCKET_SUBDIR, NCP_PATHS_SOCKET_NAME);
	else
		n = snprintf(buf, len, "/tmp/%s-%u/%s", NCP_PATHS_SOCKET_SUBDIR,
			     (unsigned)uid, NCP_PATHS_SOCKET_NAME);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int ncp_paths_socket_default(char *buf, size_t len)
{
	return ncp_paths_socket_for(geteuid(), getenv("XDG_RUNTIME_DIR"), buf,
				    len);
}
