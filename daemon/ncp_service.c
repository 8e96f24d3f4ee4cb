#include "daemon/ncp_service.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/base/ncp_base.h"

int ncp_service_detach(int *report)
{
	int fds[2];
	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid_t pid = fork();
	if (pid < 0) {
		int e = -errno;
		close(fds[0]);
		close(fds[1]);
		return e;
	}
	if (pid > 0) {
		/* The original process: wait for the daemon's word. */
		char msg[1024];
		size_t got = 0;
		ssize_t n;
		close(fds[1]);
		while (got < sizeof(msg) - 1 &&
		       (n = read(fds[0], msg + got, sizeof(msg) - 1 - got)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				break;
			got += (size_t)n;
		}
		msg[got] = '\0';
		waitpid(pid, NULL, 0); /* the intermediate child exits at once */
		if (!strncmp(msg, "ready", 5))
			_exit(0);
		fprintf(stderr, "ncpd: %s\n", got ? msg + (msg[0] == '!') :
			"the daemon exited during start-up");
		_exit(1);
	}
	close(fds[0]);
	if (setsid() < 0)
		_exit(1);
	pid = fork();
	if (pid < 0)
		_exit(1);
	if (pid > 0)
		_exit(0); /* the daemon is not a session leader: no tty again */
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		close(null);
	}
	*report = fds[1];
	return 0;
}

void ncp_service_ready(int report)
{
	if (report < 0)
		return;
	(void)!write(report, "ready", 5);
	close(report);
}

void ncp_service_failed(int report, const char *msg)
{
	if (report < 0)
		return;
	(void)!write(report, "!", 1);
	(void)!write(report, msg, strlen(msg));
	close(report);
}

/* Whether fd is the file at path. */
static bool same_file(int fd, const char *path)
{
	struct stat a, b;
	return fstat(fd, &a) == 0 && stat(path, &b) == 0 &&
	       a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int ncp_service_flock(const char *path, unsigned mode)
{
	/* A holder that stops unlinks then closes: a lock won on the
	 * unlinked file is worthless (a third process could create and lock
	 * a new one), so check the file is still at path, else retry. */
	for (int tries = 0; tries < 100; tries++) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
			      (mode_t)mode);
		if (fd < 0)
			return -errno;
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			int ret = -errno;
			close(fd);
			return ret;
		}
		if (same_file(fd, path))
			return fd;
		close(fd);
	}
	return -EAGAIN;
}

int ncp_service_lock(const char *path, const char *instance, char *err,
		     size_t errlen)
{
	char buf[32];
	int fd = ncp_service_flock(path, 0644);
	int ret;

	if (fd == -EWOULDBLOCK) {
		int rd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		ssize_t n = rd >= 0 ? pread(rd, buf, sizeof(buf) - 1, 0) : -1;
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		if (rd >= 0)
			close(rd);
		ncp_errf(err, errlen, "instance '%s' is already running "
			 "(pid %s, lock %s)", instance, buf[0] ? buf : "?", path);
		return -EEXIST;
	}
	if (fd < 0) {
		ncp_errf(err, errlen, "cannot take the instance lock %s: %s", path,
			 ncp_strerror(fd));
		return fd;
	}
	int len = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, buf, (size_t)len, 0) != len) {
		ret = -errno;
		ncp_errf(err, errlen, "cannot write %s: %s", path, ncp_strerror(ret));
		ncp_service_unlock(fd, path);
		return ret;
	}
	return fd;
}

void ncp_service_unlock(int fd, const char *path)
{
	if (fd < 0)
		return;
	/* Remove while still holding the lock (a starting process that
	 * opened it meanwhile sees, once it gets the lock, that the file is
	 * gone: ncp_service_flock), and only our own file. */
	if (same_file(fd, path))
		unlink(path);
	close(fd);
}

int ncp_service_mkdirs(const char *dir, unsigned mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, (mode_t)mode) && errno != EEXIST)
				return -errno;
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}
