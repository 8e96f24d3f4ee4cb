/* A plain main() for the fuzz targets: feeds every file of the corpus
 * directories (or files) given on the command line to
 * LLVMFuzzerTestOneInput, so `make test` keeps every input that once
 * crashed a target fixed.  A missing or empty corpus fails: a corpus that
 * silently vanished must not pass. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run one file; its bytes sit in a buffer of exactly their size so a
 * sanitizer sees any read past the end. */
static int replay(const char *path)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t len = (size_t)st.st_size, got = 0;
	buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n <= 0) {
			fprintf(stderr, "%s: short read\n", path);
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	int total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st)) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			if (replay(argv[i]))
				return 1;
			total++;
			continue;
		}
		struct dirent **names;
		int n = scandir(argv[i], &names, NULL, alphasort), count = 0;
		if (n < 0) {
			fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		for (int k = 0; k < n; k++) {
			char path[4096];
			snprintf(path, sizeof(path), "%s/%s", argv[i], names[k]->d_name);
			if (names[k]->d_name[0] != '.' && !stat(path, &st) &&
			    S_ISREG(st.st_mode)) {
				if (replay(path))
					return 1;
				count++;
			}
			free(names[k]);
		}
		free(names);
		if (!count) {
			fprintf(stderr, "%s: no inputs\n", argv[i]);
			return 1;
		}
		printf("%s: replayed %d inputs\n", argv[i], count);
		total += count;
	}
	printf("replayed %d inputs, no crash\n", total);
	return 0;
}
