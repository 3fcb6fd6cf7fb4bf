/*
 * test_json_plain.c - the plain-JSON recognizer against PostgreSQL's own
 * JSON parser (the frontend build in libpgcommon, with de-escaping on, as
 * journal.c runs the backend's): whatever the recognizer takes, PostgreSQL
 * must take too.
 */
#include "postgres_fe.h"

#include "json_plain.h"
#include "postgres_json.h"
#include "unit.h"

/* The recognizer's verdict is want, and PostgreSQL takes what it takes. */
#define CHECK_PLAIN_LEN(text, len, want) \
	do { \
		bool plain_ = ocpb_json_is_plain((text), (len)); \
		if (plain_ != (want)) \
			UNIT_FAIL_AT("%s: plain is %d, want %d", #text, plain_, (want)); \
		if (plain_ && !postgres_takes((text), (len))) \
			UNIT_FAIL_AT("%s: plain, but PostgreSQL refuses it", #text); \
	} while (0)
#define CHECK_PLAIN(text, want) CHECK_PLAIN_LEN((text), strlen(text), (want))

UNIT_TEST(documented_answers_are_plain)
{
	CHECK_PLAIN("{\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,"
				"\"obBackupObjectList\":[{\"backupDimension\":\"CLUSTER\",\"clusterId\":1000005}],"
				"\"taskIdList\":[3000041]}],\"obBackupTaskType\":\"DATA_BACKUP_NOW\"},"
				"\"duration\":51,\"server\":\"a83ad33525\",\"status\":200,\"successful\":true,"
				"\"timestamp\":\"2021-09-07T14:51:41.135+08:00\",\"traceId\":\"5962f337662d4043\"}",
				true);
	CHECK_PLAIN("{\"successful\":false,\"status\":429,\"error\":{\"code\":60429,"
				"\"message\":\"Too many requests\"},\"data\":null}", true);
	CHECK_PLAIN(" \t\r\n{ \"a\" : [ 1 , -0 , 0.5 , 1e9 , 2E-3 , -1.25e+2 ] , \"b\" : { } , "
				"\"c\" : [ ] , \"d\" : false , \"e\" : null } \n", true);
}

UNIT_TEST(scalars_and_escapes)
{
	CHECK_PLAIN("1", true);
	CHECK_PLAIN("\"\"", true);
	CHECK_PLAIN("\"a \\\" \\\\ \\/ \\b \\f \\n \\r \\t\"", true);
	CHECK_PLAIN("\"caf\xc3\xa9 \xe5\xa4\x87\xe4\xbb\xbd \x7f\"", true);
	CHECK_PLAIN("true", true);
	CHECK_PLAIN("[true,false,null]", true);
	/* \u escapes are PostgreSQL's to judge. */
	CHECK_PLAIN("\"\\u00e9\"", false);
	CHECK_PLAIN("\"\\u0000\"", false);
	CHECK_PLAIN("\"\\ud83d\"", false);
	CHECK_PLAIN("\"\\x\"", false);
	CHECK_PLAIN("\"\\'\"", false);
}

UNIT_TEST(numbers_outside_the_grammar)
{
	CHECK_PLAIN("01", false);
	CHECK_PLAIN("-01", false);
	CHECK_PLAIN("1.", false);
	CHECK_PLAIN(".5", false);
	CHECK_PLAIN("-.5", false);
	CHECK_PLAIN("+1", false);
	CHECK_PLAIN("-", false);
	CHECK_PLAIN("1e", false);
	CHECK_PLAIN("1e+", false);
	CHECK_PLAIN("0x10", false);
	CHECK_PLAIN("1.2.3", false);
	CHECK_PLAIN("NaN", false);
	CHECK_PLAIN("Infinity", false);
	CHECK_PLAIN("[1true]", false);
	CHECK_PLAIN("{\"duration\":01}", false);
}

UNIT_TEST(text_outside_the_grammar)
{
	CHECK_PLAIN("", false);
	CHECK_PLAIN(" \n", false);
	CHECK_PLAIN("[1,]", false);
	CHECK_PLAIN("[,1]", false);
	CHECK_PLAIN("{\"a\":1,}", false);
	CHECK_PLAIN("{\"a\"}", false);
	CHECK_PLAIN("{\"a\":}", false);
	CHECK_PLAIN("{a:1}", false);
	CHECK_PLAIN("{1:1}", false);
	CHECK_PLAIN("[1 2]", false);
	CHECK_PLAIN("[1]]", false);
	CHECK_PLAIN("[[1]", false);
	CHECK_PLAIN("{\"a\":1]", false);
	CHECK_PLAIN("[1}", false);
	CHECK_PLAIN("{} {}", false);
	CHECK_PLAIN("{}x", false);
	CHECK_PLAIN("tru", false);
	CHECK_PLAIN("truex", false);
	CHECK_PLAIN("True", false);
	CHECK_PLAIN("nul", false);
	CHECK_PLAIN("\"open", false);
	CHECK_PLAIN("\"a\\", false);
	CHECK_PLAIN("'a'", false);
	/* JSON's whitespace is four characters; a form feed is not one. */
	CHECK_PLAIN("\f{}", false);
	CHECK_PLAIN("{}\v", false);
	/* Control characters must be escaped inside strings. */
	CHECK_PLAIN("\"a\tb\"", false);
	CHECK_PLAIN("\"a\nb\"", false);
	CHECK_PLAIN("\"\x01\"", false);
	CHECK_PLAIN_LEN("\"a\0b\"", 5, false);
	CHECK_PLAIN_LEN("{}\0", 3, false);
}

/* The length is the end: what lies beyond it is not read. */
UNIT_TEST(length_bounds_the_text)
{
	CHECK_PLAIN_LEN("[1]garbage", 3, true);
	CHECK_PLAIN_LEN("true", 3, false);
	CHECK_PLAIN_LEN("\"ab\"", 3, false);
	CHECK_PLAIN_LEN("12", 1, true);
	CHECK_PLAIN_LEN("[1]", 2, false);
}

UNIT_TEST(nesting_depth)
{
	char		deep[2 * OCPB_JSON_PLAIN_MAX_DEPTH + 3];
	int			depth;

	for (depth = OCPB_JSON_PLAIN_MAX_DEPTH; depth <= OCPB_JSON_PLAIN_MAX_DEPTH + 1; depth++)
	{
		memset(deep, '[', depth);
		memset(deep + depth, ']', depth);
		CHECK_PLAIN_LEN(deep, (size_t) 2 * depth, depth <= OCPB_JSON_PLAIN_MAX_DEPTH);
	}
	CHECK_PLAIN("{\"a\":{\"b\":[{\"c\":[[{}]]}]}}", true);
}

int
main(void)
{
	UNIT_RUN(documented_answers_are_plain);
	UNIT_RUN(scalars_and_escapes);
	UNIT_RUN(numbers_outside_the_grammar);
	UNIT_RUN(text_outside_the_grammar);
	UNIT_RUN(length_bounds_the_text);
	UNIT_RUN(nesting_depth);
	UNIT_EXIT();
}
