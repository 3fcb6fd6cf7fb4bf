/*
 * test_strbuf.c - the core's growing string: growth across its first
 * capacities, bytes with NULs, the empty string, a failure that stays, and
 * lengths that would overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"
#include "unit.h"

UNIT_TEST(empty_buffer_finishes_as_empty_string)
{
	OcpbStrBuf	buf = OCPB_STRBUF_INIT;
	size_t		len = 99;
	char	   *got = ocpb_strbuf_finish(&buf, &len);

	CHECK_STR(got, "");
	CHECK_INT(len, 0);
	free(got);
}

UNIT_TEST(puts_grow_past_the_first_capacities)
{
	OcpbStrBuf	buf = OCPB_STRBUF_INIT;
	char		want[1001];
	size_t		len = 0;
	char	   *got;
	int			i;

	for (i = 0; i < 1000; i++)
	{
		want[i] = (char) ('a' + i % 26);
		ocpb_strbuf_putc(&buf, want[i]);
		if (buf.data == NULL || buf.len != (size_t) i + 1 || buf.data[buf.len] != '\0')
			UNIT_FAIL_AT("after %d puts: len %zu, not NUL-terminated", i + 1, buf.len);
	}
	want[1000] = '\0';
	CHECK(buf.cap >= 1001);
	got = ocpb_strbuf_finish(&buf, &len);
	CHECK_STR(got, want);
	CHECK_INT(len, 1000);
	CHECK(buf.data == NULL);
	free(got);
}

UNIT_TEST(bytes_strings_and_chars)
{
	OcpbStrBuf	buf = OCPB_STRBUF_INIT;
	size_t		len = 0;
	char	   *got;

	ocpb_strbuf_puts(&buf, "key");
	ocpb_strbuf_putc(&buf, ':');
	ocpb_strbuf_put(&buf, "a\0b", 3);
	ocpb_strbuf_put(&buf, NULL, 0);
	ocpb_strbuf_puts(&buf, "");
	got = ocpb_strbuf_finish(&buf, &len);
	CHECK(got != NULL && len == 7 && memcmp(got, "key:a\0b", 8) == 0);
	free(got);
	/* out_len may be NULL. */
	ocpb_strbuf_puts(&buf, "again");
	got = ocpb_strbuf_finish(&buf, NULL);
	CHECK_STR(got, "again");
	free(got);
}

UNIT_TEST(overflowing_length_fails_and_stays_failed)
{
	OcpbStrBuf	buf = OCPB_STRBUF_INIT;
	size_t		len = 99;

	ocpb_strbuf_puts(&buf, "secret");
	/* Never read: the length alone fails the put. */
	ocpb_strbuf_put(&buf, "x", SIZE_MAX);
	CHECK(buf.failed);
	CHECK_INT(buf.len, 6);
	ocpb_strbuf_put(&buf, "x", SIZE_MAX / 2 - 6);
	ocpb_strbuf_puts(&buf, "more");
	CHECK(buf.failed);
	CHECK_INT(buf.len, 6);
	CHECK(ocpb_strbuf_finish(&buf, &len) == NULL);
	CHECK_INT(len, 99);
	CHECK(buf.data == NULL);
}

UNIT_TEST(caller_marked_failure_finishes_as_null)
{
	OcpbStrBuf	buf = OCPB_STRBUF_INIT;

	ocpb_strbuf_puts(&buf, "partial");
	buf.failed = true;
	CHECK(ocpb_strbuf_finish(&buf, NULL) == NULL);
}

UNIT_TEST(free_empties_for_reuse)
{
	OcpbStrBuf	buf = OCPB_STRBUF_INIT;
	char	   *got;

	ocpb_strbuf_puts(&buf, "first");
	ocpb_strbuf_put(&buf, "x", SIZE_MAX);
	ocpb_strbuf_free(&buf);
	CHECK(buf.data == NULL && buf.len == 0 && buf.cap == 0 && !buf.failed);
	ocpb_strbuf_puts(&buf, "second");
	got = ocpb_strbuf_finish(&buf, NULL);
	CHECK_STR(got, "second");
	free(got);
	ocpb_strbuf_free(&buf);
}

int
main(void)
{
	UNIT_RUN(empty_buffer_finishes_as_empty_string);
	UNIT_RUN(puts_grow_past_the_first_capacities);
	UNIT_RUN(bytes_strings_and_chars);
	UNIT_RUN(overflowing_length_fails_and_stays_failed);
	UNIT_RUN(caller_marked_failure_finishes_as_null);
	UNIT_RUN(free_empties_for_reuse);
	UNIT_EXIT();
}
