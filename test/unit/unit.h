/*
 * unit.h - the smallest harness that serves the pure core's tests.
 *
 * Each test binary prints one line per check group, "PASS name" or
 * "FAIL name: why", and exits with the number of failures, so the suite
 * runner can count results from every binary the same way.
 */
#ifndef OCPB_UNIT_H
#define OCPB_UNIT_H

#include <stdio.h>
#include <string.h>

static int unit_failures;
static int unit_failed_current;

#define UNIT_TEST(name) static void name(void)

#define UNIT_RUN(name) \
	do { \
		unit_failed_current = 0; \
		name(); \
		if (unit_failed_current) \
			unit_failures++; \
		else \
			printf("PASS %s\n", #name); \
	} while (0)

#define UNIT_FAIL_AT(fmt, ...) \
	do { \
		printf("FAIL %s:%d: " fmt "\n", __func__, __LINE__, __VA_ARGS__); \
		unit_failed_current = 1; \
	} while (0)

#define CHECK(cond) \
	do { \
		if (!(cond)) \
			UNIT_FAIL_AT("%s", #cond); \
	} while (0)

#define CHECK_STR(got, want) \
	do { \
		const char *g_ = (got), *w_ = (want); \
		if (g_ == NULL || w_ == NULL ? g_ != w_ : strcmp(g_, w_) != 0) \
			UNIT_FAIL_AT("%s: got \"%s\", want \"%s\"", #got, \
						 g_ ? g_ : "(null)", w_ ? w_ : "(null)"); \
	} while (0)

#define CHECK_INT(got, want) \
	do { \
		long long g_ = (long long) (got), w_ = (long long) (want); \
		if (g_ != w_) \
			UNIT_FAIL_AT("%s: got %lld, want %lld", #got, g_, w_); \
	} while (0)

#define UNIT_EXIT() return unit_failures > 255 ? 255 : unit_failures

#endif
