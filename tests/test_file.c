/* ncp_file: atomic replacement keeps the old file on every failure we can
 * provoke (full disk, file size limit, no write permission, missing
 * directory, a directory in the way) and leaves no temp file; the name
 * resolver's accept/reject table; whole-file reads. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/base/ncp_base.h"
#include "models/io/ncp_file.h"
#include "tests/ncp_check.h"

static void make_dir(void)
{
	ncp_ck_make_dir("file");
}

/* Entries in d other than . and .. (a leftover temp file shows here). */
static int entries(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;
	ck_assert_ptr_nonnull(dp);
	while ((e = readdir(dp)))
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(dp);
	return n;
}

static void assert_content(const char *path, const char *want)
{
	void *b;
	size_t len;
	ck_assert_int_eq(ncp_file_read(path, 1 << 20, &b, &len), 0);
	ck_assert_uint_eq(len, strlen(want));
	ck_assert(!memcmp(b, want, len));
	free(b);
}

START_TEST(atomic_write_replaces)
{
	make_dir();
	const char *p = ncp_ck_path("f");
	ck_assert_int_eq(ncp_file_write_atomic(p, "old", 3, 0644), 0);
	assert_content(p, "old");
	ck_assert_int_eq(ncp_file_write_atomic(p, "new!", 4, 0600), 0);
	assert_content(p, "new!");
	ck_assert_int_eq(entries(ncp_ck_dir), 1);
	struct stat st;
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0077, 0);	/* the new file's mode */

	/* Piecewise, then abandoned: nothing changes, nothing is left. */
	struct ncp_file_atomic f;
	ck_assert_int_eq(ncp_file_atomic_open(&f, p, 0644), 0);
	ck_assert_int_eq(ncp_file_atomic_write(&f, "par", 3), 0);
	ck_assert_int_eq(entries(ncp_ck_dir), 2);
	ncp_file_atomic_abort(&f);
	ncp_file_atomic_abort(&f);	/* a no-op the second time */
	assert_content(p, "new!");
	ck_assert_int_eq(entries(ncp_ck_dir), 1);
	ck_assert_int_eq(ncp_file_atomic_write(&f, "x", 1), -EBADF);
	ck_assert_int_eq(ncp_file_atomic_commit(&f), -EBADF);

	/* A bare name lands in the working directory. */
	char cwd[PATH_MAX];
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(ncp_ck_dir), 0);
	ck_assert_int_eq(ncp_file_write_atomic("bare", "b", 1, 0644), 0);
	ck_assert_int_eq(chdir(cwd), 0);
	assert_content(ncp_ck_path("bare"), "b");
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(failures_keep_the_old_file)
{
	char p[256];
	make_dir();
	snprintf(p, sizeof(p), "%s/f", ncp_ck_dir);
	ck_assert_int_eq(ncp_file_write_atomic(p, "old", 3, 0644), 0);

	/* A missing directory. */
	ck_assert_int_eq(ncp_file_write_atomic(ncp_ck_path("none/f"), "x", 1, 0644), -ENOENT);
	/* A directory where the file should go: the rename fails, the temp
	 * file goes. */
	ck_assert_int_eq(mkdir(ncp_ck_path("d"), 0755), 0);
	ck_assert_int_eq(ncp_file_write_atomic(ncp_ck_path("d"), "x", 1, 0644), -EISDIR);
	ck_assert_int_eq(ncp_file_write_atomic(ncp_ck_path("d/"), "x", 1, 0644), -EISDIR);
	ck_assert_int_eq(entries(ncp_ck_dir), 2);
	ck_assert_int_eq(entries(ncp_ck_path("d")), 0);

	/* A file size limit: the write fails midway (EFBIG). */
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct rlimit rl = { 4096, 4096 };
		static char big[100000];
		signal(SIGXFSZ, SIG_IGN);
		if (setrlimit(RLIMIT_FSIZE, &rl))
			_exit(2);
		_exit(ncp_file_write_atomic(p, big, sizeof(big), 0644) == -EFBIG ? 0 : 1);
	}
	int st;
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	assert_content(p, "old");
	ck_assert_int_eq(entries(ncp_ck_dir), 2);

	/* A directory the writer may not write to.  Root passes permission
	 * checks, so a child drops to nobody first. */
	ck_assert_int_eq(chmod(ncp_ck_dir, geteuid() == 0 ? 0755 : 0555), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		if (geteuid() == 0 && (setgid(65534) || setuid(65534)))
			_exit(2);
		_exit(ncp_file_write_atomic(p, "new", 3, 0644) == -EACCES ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	ck_assert_int_eq(chmod(ncp_ck_dir, 0755), 0);
	assert_content(p, "old");
	ck_assert_int_eq(entries(ncp_ck_dir), 2);
	ncp_ck_remove_dir();
}
END_TEST

START_TEST(full_disk_keeps_the_old_file)
{
	if (geteuid() != 0)
		ncp_ck_skip("full_disk_keeps_the_old_file: mounting a small tmpfs "
			    "needs root (running as uid %u)", (unsigned)geteuid());
	make_dir();
	/* A private mount namespace: the tmpfs disappears with this test's
	 * process whatever happens. */
	ck_assert_msg(unshare(CLONE_NEWNS) == 0, "unshare: %s", strerror(errno));
	ck_assert_int_eq(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	ck_assert_msg(mount("tmpfs", ncp_ck_dir, "tmpfs", 0, "size=64k") == 0,
		      "mount tmpfs: %s", strerror(errno));
	const char *p = ncp_ck_path("model");
	static char old[20000], big[100000];
	memset(old, 'o', sizeof(old));
	memset(big, 'n', sizeof(big));
	ck_assert_int_eq(ncp_file_write_atomic(p, old, sizeof(old), 0644), 0);
	ck_assert_int_eq(ncp_file_write_atomic(p, big, sizeof(big), 0644), -ENOSPC);
	void *b;
	size_t len;
	ck_assert_int_eq(ncp_file_read(p, 1 << 20, &b, &len), 0);
	ck_assert_uint_eq(len, sizeof(old));
	ck_assert(!memcmp(b, old, len));
	free(b);
	ck_assert_int_eq(entries(ncp_ck_dir), 1);
	/* The space came back: a file that fits replaces it. */
	ck_assert_int_eq(ncp_file_write_atomic(p, big, 30000, 0644), 0);
	ck_assert_int_eq(umount(ncp_ck_dir), 0);
	ncp_ck_remove_dir();
}
END_TEST

static const struct {
	const char *name;
	int result;
	const char *msg;	/* a part of the message, for refusals */
} names[] = {
	{ "run1", 0, NULL },
	{ "run1/m1.npy", 0, NULL },
	{ "a/b/c", 0, NULL },
	{ ".hidden", 0, NULL },
	{ "a..b", 0, NULL },
	{ "...", 0, NULL },
	{ "with space", 0, NULL },
	{ "\xc3\xa9t\xc3\xa9.npy", 0, NULL },
	{ "", -EINVAL, "empty file name" },
	{ "/etc/passwd", -EINVAL, "file name \"/etc/passwd\" is absolute" },
	{ "/", -EINVAL, "is absolute" },
	{ "..", -EINVAL, "has a '..' component" },
	{ "../x", -EINVAL, "has a '..' component" },
	{ "a/../b", -EINVAL, "file name \"a/../b\" has a '..' component" },
	{ "a/..", -EINVAL, "has a '..' component" },
	{ ".", -EINVAL, "has a '.' component" },
	{ "./a", -EINVAL, "has a '.' component" },
	{ "a/./b", -EINVAL, "has a '.' component" },
	{ "a//b", -EINVAL, "has an empty component" },
	{ "a/", -EINVAL, "has an empty component" },
	{ "a\nb", -EINVAL, "file name \"a\\u000ab\" contains a control character (byte 0x0A at offset 1)" },
	{ "a\tb", -EINVAL, "control character (byte 0x09" },
	{ "a\x7f", -EINVAL, "control character (byte 0x7F" },
	{ "\x1b[2J", -EINVAL, "control character (byte 0x1B at offset 0)" },
	{ "a\xff", -EINVAL, "is not valid UTF-8 (byte 0xFF at offset 1)" },
	{ "\xc0\xae\xc0\xae/x", -EINVAL, "is not valid UTF-8 (byte 0xC0 at offset 0)" },
};

START_TEST(resolver_table)
{
	char out[PATH_MAX], err[256], want[PATH_MAX];
	err[0] = 0;
	int r = ncp_file_resolve("/data", names[_i].name, out, sizeof(out), err,
				 sizeof(err));
	ck_assert_msg(r == names[_i].result, "case %d (%s): %d, %s", _i,
		      names[_i].name, r, err);
	if (r == 0) {
		snprintf(want, sizeof(want), "/data/%s", names[_i].name);
		ck_assert_str_eq(out, want);
	} else {
		ck_assert_msg(strstr(err, names[_i].msg), "case %d: %s", _i, err);
	}
}
END_TEST

START_TEST(resolver_joins_and_limits)
{
	char out[PATH_MAX], err[256];
	ck_assert_int_eq(ncp_file_resolve("/data/", "x", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/data/x");
	ck_assert_int_eq(ncp_file_resolve("/data//", "x", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/data/x");
	ck_assert_int_eq(ncp_file_resolve("/", "x", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/x");
	ck_assert_int_eq(ncp_file_resolve("", "x", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "x");
	ck_assert_int_eq(ncp_file_resolve("rel", "x/y", out, sizeof(out), err, sizeof(err)), 0);
	ck_assert_str_eq(out, "rel/x/y");
	/* Exactly fits, one byte short. */
	ck_assert_int_eq(ncp_file_resolve("/d", "xy", out, 6, err, sizeof(err)), 0);
	ck_assert_str_eq(out, "/d/xy");
	ck_assert_int_eq(ncp_file_resolve("/d", "xyz", out, 6, err, sizeof(err)), -ENAMETOOLONG);
	ck_assert_str_eq(err, "file name \"xyz\" is too long (6 bytes joined)");
	/* A 256-byte component; a path past PATH_MAX. */
	static char name[PATH_MAX + 16];
	memset(name, 'a', 256);
	name[256] = 0;
	ck_assert_int_eq(ncp_file_resolve("/d", name, out, sizeof(out), err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "has a component longer than 255 bytes"), "%s", err);
	for (int i = 0; i < PATH_MAX; i += 100) {
		memset(name + i, 'b', 99);
		name[i + 99] = '/';
	}
	name[PATH_MAX] = 0;
	name[PATH_MAX - 1] = 'c';
	ck_assert_int_eq(ncp_file_resolve("/d", name, out, sizeof(out), err, sizeof(err)),
			 -ENAMETOOLONG);
	/* A message never carries the raw bytes of a hostile name. */
	ck_assert_int_eq(ncp_file_resolve("/d", "../\x1b]0;pwned\x07", out, sizeof(out),
					  err, sizeof(err)), -EINVAL);
	ck_assert_ptr_null(strchr(err, '\x1b'));
	ck_assert_ptr_null(strchr(err, '\x07'));
}
END_TEST

START_TEST(read_whole_files)
{
	void *b;
	size_t len;
	make_dir();
	ck_assert_int_eq(ncp_file_write_atomic(ncp_ck_path("f"), "hello", 5, 0644), 0);
	ck_assert_int_eq(ncp_file_read(ncp_ck_path("f"), 5, &b, &len), 0);
	ck_assert_uint_eq(len, 5);
	ck_assert_str_eq(b, "hello");	/* NUL-terminated */
	free(b);
	ck_assert_int_eq(ncp_file_read(ncp_ck_path("f"), 4, &b, &len), -EFBIG);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(ncp_file_write_atomic(ncp_ck_path("e"), "", 0, 0644), 0);
	ck_assert_int_eq(ncp_file_read(ncp_ck_path("e"), 0, &b, &len), 0);
	ck_assert_uint_eq(len, 0);
	free(b);
	ck_assert_int_eq(ncp_file_read(ncp_ck_path("nope"), 10, &b, &len), -ENOENT);
	ck_assert_int_eq(ncp_file_read(ncp_ck_dir, 10, &b, &len), -EISDIR);
	/* Files whose size stat cannot tell are read to their end. */
	ck_assert_int_eq(ncp_file_read("/proc/self/status", 1 << 20, &b, &len), 0);
	ck_assert_uint_gt(len, 100);
	ck_assert_ptr_nonnull(strstr(b, "Pid:"));
	free(b);
	ck_assert_int_eq(ncp_file_read("/proc/self/status", 10, &b, &len), -EFBIG);
	ncp_ck_remove_dir();
}
END_TEST

static Suite *make_suite(void)
{
	Suite *s = suite_create("file");
	TCase *tc = tcase_create("file");
	tcase_add_test(tc, atomic_write_replaces);
	tcase_add_test(tc, failures_keep_the_old_file);
	tcase_add_test(tc, full_disk_keeps_the_old_file);
	tcase_add_loop_test(tc, resolver_table, 0, (int)NCP_ARRAY_SIZE(names));
	tcase_add_test(tc, resolver_joins_and_limits);
	tcase_add_test(tc, read_whole_files);
	suite_add_tcase(s, tc);
	return s;
}

NCP_CHECK_MAIN(make_suite)
