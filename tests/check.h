/* tests/check.h: the tiny assertion kit every unit test uses; exit status = failures. */
#ifndef CH_CHECK_H
#define CH_CHECK_H
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* One pair of counters per test program, however many files include this (weak: the linker keeps one). */
__attribute__((weak)) int check_failures;
__attribute__((weak)) int check_count;

/* CHECK may run on a test's own threads (floods, races): the counters are updated atomically. */
#define CHECK(cond)                                                                                                    \
	do {                                                                                                           \
		__atomic_add_fetch(&check_count, 1, __ATOMIC_RELAXED);                                                 \
		if (!(cond)) {                                                                                         \
			__atomic_add_fetch(&check_failures, 1, __ATOMIC_RELAXED);                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                       \
		}                                                                                                      \
	} while (0)

#define CHECK_MSG(cond, ...)                                                                                           \
	do {                                                                                                           \
		__atomic_add_fetch(&check_count, 1, __ATOMIC_RELAXED);                                                 \
		if (!(cond)) {                                                                                         \
			__atomic_add_fetch(&check_failures, 1, __ATOMIC_RELAXED);                                      \
			fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);                       \
			fprintf(stderr, __VA_ARGS__);                                                                  \
			fputc('\n', stderr);                                                                           \
		}                                                                                                      \
	} while (0)

#define CHECK_STR(a, b) CHECK_MSG(strcmp((a), (b)) == 0, "\"%s\" != \"%s\"", (a), (b))

/* A failed precondition ends the case at once (the checks after it would only report its consequences). */
#define REQUIRE(cond)                                                                                                  \
	do {                                                                                                           \
		bool require_ok_ = (cond); /* once: cond may have side effects */                                      \
		CHECK_MSG(require_ok_, "%s", #cond);                                                                   \
		if (!require_ok_)                                                                                      \
			return;                                                                                        \
	} while (0)

/* The case cannot run here (no IPv6 loopback, a peer missing): it ends and reports skipped (exit 77, which ctest
 * shows as skipped; CI fails on any skip). */
__attribute__((weak)) const char *check_skipped;
#define SKIP(...)                                                                                                      \
	do {                                                                                                           \
		static char skip_why_[256];                                                                            \
		snprintf(skip_why_, sizeof skip_why_, __VA_ARGS__);                                                    \
		check_skipped = skip_why_;                                                                             \
		return;                                                                                                \
	} while (0)

/* At the end of main(): prints "N passed, N failed" and returns the status (77 when skipped without a failure). */
static inline int check_done(void)
{
	if (check_skipped && !check_failures) {
		printf("skipped: %s\n", check_skipped);
		return 77;
	}
	printf("%d passed, %d failed\n", check_count - check_failures, check_failures);
	return check_failures ? 1 : 0;
}

/* ---- one ctest per case ------------------------------------------------------------------------------------
 * A file that defines its cases with TEST_CASE(name) { ... } gets the shared main() of tests/support/test_main.c:
 * `prog NAME` runs one case, `prog --list` lists them; cmake/CallhookTests.cmake registers each as its own ctest
 * (label.file.name), reading the names from the source, so each name is written once. A file may define
 * test_setup() (0 to go on, or a failure) and test_teardown(), run around every case. */
void test_register(const char *name, void (*fn)(void));
#define TEST_CASE(name)                                                                                                \
	static void tc_##name(void);                                                                                   \
	__attribute__((constructor)) static void tc_reg_##name(void)                                                   \
	{                                                                                                              \
		test_register(#name, tc_##name);                                                                       \
	}                                                                                                              \
	static void tc_##name(void)
int test_setup(const char *name);
void test_teardown(void);
#endif
