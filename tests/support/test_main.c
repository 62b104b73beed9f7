/* tests/support/test_main.c: the shared main() of test files written as TEST_CASE(name) cases: one case per run. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/check.h"

#define MAX_CASES 256

static struct {
	const char *name;
	void (*fn)(void);
} cases[MAX_CASES];
static size_t n_cases;

void test_register(const char *name, void (*fn)(void))
{
	if (n_cases == MAX_CASES) {
		fprintf(stderr, "test_main: more than %d cases in one file\n", MAX_CASES);
		abort();
	}
	cases[n_cases].name = name;
	cases[n_cases].fn = fn;
	n_cases++;
}

/* Defaults for files that need no fixture; a file's own definitions win. */
__attribute__((weak)) int test_setup(const char *name)
{
	(void)name;
	return 0;
}

__attribute__((weak)) void test_teardown(void)
{
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n_cases; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s CASE | --list\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < n_cases; i++) {
		if (strcmp(cases[i].name, argv[1]) != 0)
			continue;
		if (test_setup(argv[1]) == 0)
			cases[i].fn();
		else
			CHECK_MSG(0, "the fixture of %s did not start", argv[1]);
		test_teardown();
		return check_done();
	}
	fprintf(stderr, "%s: no case %s (--list)\n", argv[0], argv[1]);
	return 2;
}
