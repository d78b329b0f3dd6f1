/* Replays a libFuzzer corpus (files or directories given as arguments) through
 * LLVMFuzzerTestOneInput, so ordinary CI runs every fuzz target's corpus under sanitizers. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		return 1;
	}
	size_t cap = 1 << 16, len = 0;
	uint8_t *p = malloc(cap);
	size_t n;
	while (p && (n = fread(p + len, 1, cap - len, f)) > 0) {
		len += n;
		if (len == cap) {
			uint8_t *q = realloc(p, cap *= 2);
			if (!q) {
				free(p);
				p = NULL;
			}
			p = q;
		}
	}
	fclose(f);
	if (!p)
		return 1;
	LLVMFuzzerTestOneInput(p, len);
	free(p);
	return 0;
}

static int replay(const char *path, int *count)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		perror(path);
		return 1;
	}
	if (!S_ISDIR(st.st_mode)) {
		(*count)++;
		return replay_file(path);
	}
	DIR *d = opendir(path);
	if (!d)
		return 1;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		char sub[4096];
		snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
		rc |= replay(sub, count);
	}
	closedir(d);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = 0, count = 0;
	for (int i = 1; i < argc; i++)
		rc |= replay(argv[i], &count);
	printf("replayed %d inputs\n", count);
	if (count == 0) {
		fprintf(stderr, "no corpus inputs found\n");
		return 1;
	}
	return rc;
}
