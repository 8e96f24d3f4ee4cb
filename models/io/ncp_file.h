/* ncp_file: files that are replaced whole or not at all, whole-file reads,
 * and client-given names resolved inside a base directory.
 *
 * Atomic replacement: the data goes to a temp file in the destination's
 * directory (a hidden name, ".NAME.tmp-PID-N"), which is fsynced, renamed
 * over the destination, and then the directory is fsynced.  Any error
 * before the rename (a full disk, a write error, a failed fsync) removes
 * the temp file and leaves the old destination untouched.  A crash leaves
 * the old file or the new one, never a torn one (a stray temp file may
 * remain after a crash).
 *
 *   struct ncp_file_atomic f;
 *   int r = ncp_file_atomic_open(&f, "data/model.safetensors", 0644);
 *   if (!r) r = ncp_file_atomic_write(&f, hdr, hdr_len);
 *   if (!r) r = ncp_file_atomic_write(&f, data, data_len);
 *   r = r ? (ncp_file_atomic_abort(&f), r) : ncp_file_atomic_commit(&f);
 */
#ifndef NCP_FILE_H
#define NCP_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ncp_file_atomic {
	int fd;		/* the temp file, open for writing; -1 once done */
	char *path;	/* destination, owned */
	char *tmp;	/* temp file beside it, owned */
	int err;	/* first write error, 0 if none */
};

/* Create the temp file for path (mode, less the umask, for the new file).
 * Returns 0 or -errno; on error nothing is left to clean up. */
int ncp_file_atomic_open(struct ncp_file_atomic *f, const char *path,
			 mode_t mode);
/* Append len bytes (retrying short writes and EINTR).  An error is kept:
 * later writes and the commit fail with it. */
int ncp_file_atomic_write(struct ncp_file_atomic *f, const void *buf,
			  size_t len);
/* fsync the temp file, rename it over the destination, fsync the
 * directory.  Always finishes f.  Returns 0, or -errno: before the rename
 * the temp file is removed and the destination untouched; an error from
 * the directory fsync (rare) means the new file is in place but its
 * rename may not be durable yet. */
int ncp_file_atomic_commit(struct ncp_file_atomic *f);
/* The same without the fsyncs, for files whose readers verify them (a
 * cache with checksums): other processes see the old file or the whole
 * new one, but after a crash of the machine the name may hold a torn or
 * empty file, which the reader must detect.  Saves the fsyncs' few ms. */
int ncp_file_atomic_publish(struct ncp_file_atomic *f);
/* Close and remove the temp file; a no-op once committed or aborted. */
void ncp_file_atomic_abort(struct ncp_file_atomic *f);

/* Replace path with len bytes of buf atomically (open, write, commit). */
int ncp_file_write_atomic(const char *path, const void *buf, size_t len,
			  mode_t mode);

/* Write all len bytes at the current offset / at off, retrying short
 * writes and EINTR.  A write that makes no progress returns -ENOSPC. */
int ncp_file_write_all(int fd, const void *buf, size_t len);
int ncp_file_pwrite_all(int fd, const void *buf, size_t len, off_t off);

/* fsync the directory that holds path ("." for a bare name). */
int ncp_file_fsync_dir(const char *path);

/* Make a written file durable under its final name: fsync fd, rename from
 * to to, fsync the directory.  fd stays open (the caller closes it). */
int ncp_file_rename_durable(int fd, const char *from, const char *to);

/* Read a whole file into a new buffer (*buf, *len; a NUL follows the data,
 * not counted in *len; free() it).  Returns 0, -EFBIG past max bytes, or
 * another -errno. */
int ncp_file_read(const char *path, size_t max, void **buf, size_t *len);

/* Resolve a name a client gave (control socket, config) inside base: the
 * name must be relative, non-empty, valid UTF-8, without control
 * characters, without empty, "." or ".." components, each component at
 * most NAME_MAX bytes.  Writes "base/name" into out (outlen bytes).
 * Returns 0; -EINVAL for a refused name, -ENAMETOOLONG when the joined path
 * does not fit out or PATH_MAX; the message says why.  The check is on the
 * text: a symbolic link already inside base is followed (base belongs to
 * the operator, not the client). */
int ncp_file_resolve(const char *base, const char *name, char *out,
		     size_t outlen, char *err, size_t errlen);

#endif
