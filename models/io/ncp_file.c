#include "models/io/ncp_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "models/base/ncp_base.h"
#include "models/base/ncp_json.h"
#include "models/base/ncp_utf8.h"

int ncp_file_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENOSPC;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int ncp_file_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ENOSPC;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The directory part of path, as a new string ("." for a bare name). */
static char *dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

int ncp_file_fsync_dir(const char *path)
{
	char *dir = dir_of(path);
	int fd, r = 0;

	if (!dir)
		return -ENOMEM;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		goto out_dir;
	}
	/* Some file systems cannot sync a directory; that is not a failure
	 * of the write. */
	if (fsync(fd) && errno != EINVAL && errno != EROFS)
		r = -errno;
	close(fd);
out_dir:
	free(dir);
	return r;
}

int ncp_file_rename_durable(int fd, const char *from, const char *to)
{
	if (fsync(fd))
		return -errno;
	if (rename(from, to))
		return -errno;
	return ncp_file_fsync_dir(to);
}

int ncp_file_atomic_open(struct ncp_file_atomic *f, const char *path,
			 mode_t mode)
{
	static atomic_uint counter;
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;
	int dlen = slash ? (int)(slash + 1 - path) : 0;
	int r;

	memset(f, 0, sizeof(*f));
	f->fd = -1;
	if (!*base)
		return -EISDIR;
	f->path = strdup(path);
	if (!f->path)
		return -ENOMEM;
	for (int tries = 0; tries < 100; tries++) {
		unsigned n = atomic_fetch_add_explicit(&counter, 1,
						       memory_order_relaxed);
		free(f->tmp);
		/* A long base name is cut so the temp name stays valid. */
		if (asprintf(&f->tmp, "%.*s.%.200s.tmp-%ld-%u", dlen, path, base,
			     (long)getpid(), n) < 0) {
			f->tmp = NULL;
			r = -ENOMEM;
			goto err_path;
		}
		f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			     mode);
		if (f->fd >= 0)
			return 0;
		if (errno != EEXIST)
			break;
	}
	r = -errno;
	free(f->tmp);
	f->tmp = NULL;
err_path:
	free(f->path);
	f->path = NULL;
	return r;
}

int ncp_file_atomic_write(struct ncp_file_atomic *f, const void *buf,
			  size_t len)
{
	if (f->fd < 0)
		return -EBADF;
	if (!f->err)
		f->err = ncp_file_write_all(f->fd, buf, len);
	return f->err;
}

static void finish(struct ncp_file_atomic *f)
{
	free(f->path);
	free(f->tmp);
	f->path = f->tmp = NULL;
	f->fd = -1;
}

void ncp_file_atomic_abort(struct ncp_file_atomic *f)
{
	if (f->fd < 0)
		return;
	close(f->fd);
	unlink(f->tmp);
	finish(f);
}

/* Close the temp file and rename it over the destination, with the
 * fsyncs when durable. */
static int finish_commit(struct ncp_file_atomic *f, bool durable)
{
	int r;

	if (f->fd < 0)
		return -EBADF;
	r = f->err;
	if (!r && durable && fsync(f->fd))
		r = -errno;
	/* close() can report a delayed write error on some file systems. */
	if (close(f->fd) && !r)
		r = -errno;
	f->fd = -1;
	if (!r && rename(f->tmp, f->path))
		r = -errno;
	if (r) {
		unlink(f->tmp);
		finish(f);
		return r;
	}
	r = durable ? ncp_file_fsync_dir(f->path) : 0;
	finish(f);
	return r;
}

int ncp_file_atomic_commit(struct ncp_file_atomic *f)
{
	return finish_commit(f, true);
}

int ncp_file_atomic_publish(struct ncp_file_atomic *f)
{
	return finish_commit(f, false);
}

int ncp_file_write_atomic(const char *path, const void *buf, size_t len,
			  mode_t mode)
{
	struct ncp_file_atomic f;
	int r = ncp_file_atomic_open(&f, path, mode);

	if (r)
		return r;
	r = ncp_file_atomic_write(&f, buf, len);
	if (r) {
		ncp_file_atomic_abort(&f);
		return r;
	}
	return ncp_file_atomic_commit(&f);
}

int ncp_file_read(const char *path, size_t max, void **buf, size_t *len)
{
	struct stat st;
	char *b = NULL;
	size_t n = 0, cap;
	int fd, r = 0;

	*buf = NULL;
	*len = 0;
	if (max > SIZE_MAX - 2)
		max = SIZE_MAX - 2;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		r = -errno;
		goto out_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out_fd;
	}
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size > max) {
		r = -EFBIG;
		goto out_fd;
	}
	/* The size is a hint (0 for /proc files): read to the end whatever
	 * it is, always asking for at least one byte so only EOF ends it. */
	cap = NCP_MAX((size_t)st.st_size + 1, (size_t)4096);
	if (cap > max + 2)
		cap = max + 2;
	for (;;) {
		if (n + 1 >= cap || !b) {
			size_t c = b ? cap * 2 : cap;
			char *nb;
			if (c > max + 1)
				c = max + 2;
			nb = realloc(b, c);
			if (!nb) {
				r = -ENOMEM;
				goto out_buf;
			}
			b = nb;
			cap = c;
		}
		ssize_t k = read(fd, b + n, cap - 1 - n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			goto out_buf;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n > max) {
			r = -EFBIG;
			goto out_buf;
		}
	}
	b[n] = '\0';
	*buf = b;
	*len = n;
	close(fd);
	return 0;

out_buf:
	free(b);
out_fd:
	close(fd);
	return r;
}

int ncp_file_resolve(const char *base, const char *name, char *out,
		     size_t outlen, char *err, size_t errlen)
{
	char q[96];
	size_t n, blen;

	if (!name || !*name)
		return ncp_errf(err, errlen, "empty file name");
	n = strlen(name);
	ncp_json_quote(q, sizeof(q), name, n);
	if (name[0] == '/')
		return ncp_errf(err, errlen,
				"file name %s is absolute; give a name inside the data directory",
				q);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c < 0x20 || c == 0x7f)
			return ncp_errf(err, errlen,
					"file name %s contains a control character (byte 0x%02X at offset %zu)",
					q, c, i);
	}
	size_t bad = ncp_utf8_check(name, n);
	if (bad < n)
		return ncp_errf(err, errlen,
				"file name %s is not valid UTF-8 (byte 0x%02X at offset %zu)",
				q, (unsigned char)name[bad], bad);
	for (const char *c = name; c <= name + n;) {
		size_t k = strcspn(c, "/");
		if (k == 0)
			return ncp_errf(err, errlen,
					"file name %s has an empty component (a doubled or trailing '/')",
					q);
		if (k == 1 && c[0] == '.')
			return ncp_errf(err, errlen,
					"file name %s has a '.' component", q);
		if (k == 2 && c[0] == '.' && c[1] == '.')
			return ncp_errf(err, errlen,
					"file name %s has a '..' component; names must stay inside the data directory",
					q);
		if (k > NAME_MAX)
			return ncp_errf(err, errlen,
					"file name %s has a component longer than %d bytes",
					q, NAME_MAX);
		c += k + 1;
	}
	blen = base ? strlen(base) : 0;
	while (blen > 1 && base[blen - 1] == '/')
		blen--;
	bool sep = blen > 0 && base[blen - 1] != '/';
	size_t total = blen + sep + n;
	if (total + 1 > outlen || total + 1 > PATH_MAX) {
		ncp_errf(err, errlen, "file name %s is too long (%zu bytes joined)",
			 q, total);
		return -ENAMETOOLONG;
	}
	if (blen)
		memcpy(out, base, blen);
	if (sep)
		out[blen] = '/';
	memcpy(out + blen + sep, name, n + 1);
	return 0;
}
