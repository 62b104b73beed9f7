/* tests/fuzz/replay.c: main() that feeds every file of a corpus folder to the fuzz target. */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	DIR *d = opendir(argv[1]);
	if (!d) {
		perror(argv[1]);
		return 2;
	}
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", argv[1], e->d_name);
		FILE *f = fopen(path, "rb");
		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		long sz = ftell(f);
		fseek(f, 0, SEEK_SET);
		uint8_t *buf = malloc(sz > 0 ? (size_t)sz : 1);
		size_t got = sz > 0 ? fread(buf, 1, (size_t)sz, f) : 0;
		fclose(f);
		LLVMFuzzerTestOneInput(buf, got);
		free(buf);
		n++;
	}
	closedir(d);
	if (n == 0) {
		fprintf(stderr, "no corpus files in %s\n", argv[1]);
		return 1;
	}
	printf("%d passed, 0 failed\n", n);
	return 0;
}
