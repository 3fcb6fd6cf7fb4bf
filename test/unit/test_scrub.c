/*
 * test_scrub.c - secret keys, URL credentials, scrubbed answers and UTF-8
 * repair.
 */
#include <stdlib.h>
#include <string.h>

#include "scrub.h"
#include "unit.h"

static bool
is_secret_key(const char *key)
{
	return ocpb_is_secret_key(key, strlen(key));
}

/* Scrubs body of the secrets given, NULL-terminated; the caller frees. */
static char *
scrub_len(const char *body, size_t len, size_t *out_len, const char *const *secrets)
{
	OcpbSecretList list = {0};
	char	   *scrubbed;

	for (; *secrets != NULL; secrets++)
		if (!ocpb_secret_list_add(&list, *secrets, strlen(*secrets)))
			return NULL;
	scrubbed = ocpb_scrub_answer(body, len, &list, out_len);
	ocpb_secret_list_free(&list);
	return scrubbed;
}

/* Whether body scrubbed of secret is want, exactly. */
static bool
scrubs_to(const char *body, const char *secret, const char *want)
{
	const char *const secrets[] = {secret, NULL};
	size_t		len;
	char	   *got = scrub_len(body, strlen(body), &len, secrets);
	bool		same = got != NULL && len == strlen(want) && strcmp(got, want) == 0;

	if (!same)
		printf("# scrubbed: %s\n", got != NULL ? got : "(null)");
	free(got);
	return same;
}

/* Whether url masks to want, finding exactly the secrets given in order. */
static bool
masks_to(const char *url, const char *want, const char *const *secrets)
{
	OcpbSecretList found = {0};
	bool		masked = false;
	char	   *got = ocpb_mask_url_credentials(url, &found, &masked);
	bool		same = got != NULL && strcmp(got, want) == 0 &&
		masked == (strcmp(url, want) != 0);
	size_t		i;

	for (i = 0; same && secrets[i] != NULL; i++)
		same = i < found.n && strcmp(found.values[i], secrets[i]) == 0;
	same = same && i == found.n;
	if (!same)
		printf("# masked: %s (%zu found)\n", got != NULL ? got : "(null)", found.n);
	free(got);
	ocpb_secret_list_free(&found);
	return same;
}

/* Whether repairing the len bytes of s gives want, and changed says so. */
static bool
repairs_to(const char *s, size_t len, const char *want)
{
	size_t		got_len = 0;
	bool		changed = true;
	char	   *got = ocpb_utf8_repair(s, len, &got_len, &changed);
	bool		same = got != NULL && got_len == strlen(want) && strcmp(got, want) == 0 &&
		changed == (len != strlen(want) || memcmp(s, want, len) != 0);

	free(got);
	return same;
}

#define FFFD "\xEF\xBF\xBD"

UNIT_TEST(secret_keys)
{
	CHECK(is_secret_key("accessKeySecret"));
	CHECK(is_secret_key("access_key_secret"));
	CHECK(is_secret_key("SECRET"));
	CHECK(is_secret_key("password"));
	CHECK(is_secret_key("Pass_Word"));
	CHECK(is_secret_key("db_passwd"));
	CHECK(is_secret_key("PWD"));
	CHECK(is_secret_key("sessionToken"));
	CHECK(is_secret_key("TOKEN"));
	CHECK(is_secret_key("privateKey"));
	CHECK(is_secret_key("Private-Key"));
	CHECK(is_secret_key("private_key_file"));
	CHECK(is_secret_key("apiKey"));
	CHECK(is_secret_key("API-KEY"));
	CHECK(is_secret_key("x_credentials"));
	CHECK(is_secret_key("Credential"));
	CHECK(is_secret_key("access_key"));
	CHECK(is_secret_key("AccessKey"));
	CHECK(is_secret_key("sk"));
	CHECK(is_secret_key("S-K"));
	CHECK(!is_secret_key("accessKeyId"));
	CHECK(!is_secret_key("access_id"));
	CHECK(!is_secret_key("ossAccessKey"));
	CHECK(!is_secret_key("ask"));
	CHECK(!is_secret_key("skip"));
	CHECK(!is_secret_key("endpoint"));
	CHECK(!is_secret_key("configName"));
	CHECK(!is_secret_key("storageUrl"));
	CHECK(!is_secret_key("privateNetwork"));
	CHECK(!is_secret_key(""));
	/* Only the len bytes given are looked at. */
	CHECK(!ocpb_is_secret_key("tokenizer", 4));
	CHECK(ocpb_is_secret_key("tokenizer", 5));
}

UNIT_TEST(secret_list)
{
	OcpbSecretList list = {0};

	CHECK(ocpb_secret_list_add(&list, "abc", 3));
	CHECK(ocpb_secret_list_add(&list, "abcdef", 6));
	CHECK(ocpb_secret_list_add(&list, "abc", 3));
	CHECK(ocpb_secret_list_add(&list, "", 0));
	CHECK(ocpb_secret_list_add(&list, "xyz-tail", 3));
	CHECK(ocpb_secret_list_add(&list, "ab\0cd", 5));
	CHECK_INT(list.n, 4);
	CHECK_STR(list.values[0], "abcdef");
	CHECK_STR(list.values[1], "abc");
	CHECK_STR(list.values[2], "xyz");
	CHECK_STR(list.values[3], "ab");
	ocpb_secret_list_free(&list);
	CHECK_INT(list.n, 0);
	CHECK(list.values == NULL);
}

UNIT_TEST(url_credentials)
{
	const char *const none[] = {NULL};

	CHECK(masks_to("oss://bucket/dir?host=h&access_id=AK&access_key=SK",
				   "oss://bucket/dir?host=h&access_id=********&access_key=********",
				   (const char *const[]) {"AK", "SK", NULL}));
	CHECK(masks_to("s3://b?host=h&access_key=SK&region=r",
				   "s3://b?host=h&access_key=********&region=r",
				   (const char *const[]) {"SK", NULL}));
	/*
	 * A secret's value runs to '&' or ';': a '#' in it is the secret's, and
	 * the pieces it parts are found too, as a URL parser would read them.
	 */
	CHECK(masks_to("cos://b/p?accessKey=A1&secret_key=S1&token=T1#frag",
				   "cos://b/p?accessKey=********&secret_key=********&token=********",
				   (const char *const[]) {"T1#frag", "frag", "A1", "S1", "T1", NULL}));
	CHECK(masks_to("ftp://user:pass@host/x", "ftp://user:********@host/x",
				   (const char *const[]) {"pass", NULL}));
	CHECK(masks_to("user:pw@host/p", "user:********@host/p",
				   (const char *const[]) {"pw", NULL}));
	CHECK(masks_to("ftp://u:p@ss@host/x?password=p2", "ftp://u:********@host/x?password=********",
				   (const char *const[]) {"p@ss", "p2", NULL}));
	/* The decoded form is found too: OCP may echo either. */
	CHECK(masks_to("s3://b?access_key=a%2Fb%2bc", "s3://b?access_key=********",
				   (const char *const[]) {"a%2Fb%2bc", "a/b+c", NULL}));
	/* Nothing to mask. */
	CHECK(masks_to("/obbackup/", "/obbackup/", none));
	CHECK(masks_to("", "", none));
	CHECK(masks_to("ftp://user:@host/x", "ftp://user:@host/x", none));
	CHECK(masks_to("host:8080/a@b?region=r", "host:8080/a@b?region=r", none));
	CHECK(masks_to("oss://b/d?host=h&access_key=&x", "oss://b/d?host=h&access_key=&x", none));
	CHECK(masks_to("file:///ob@x/p", "file:///ob@x/p", none));
	CHECK(masks_to("oss://b/d?region=r#frag", "oss://b/d?region=r#frag", none));
	CHECK(masks_to("oss://b/d?host=a?access_key", "oss://b/d?host=a?access_key", none));
}

UNIT_TEST(url_secrets_scrub_an_echo)
{
	OcpbSecretList found = {0};
	bool		masked = false;
	char	   *url = ocpb_mask_url_credentials("oss://b?access_key=k%2B1", &found, &masked);
	const char *body = "{\"message\":\"bad key k+1 in oss://b?access_key=k%2B1\"}";
	char	   *scrubbed = ocpb_scrub_answer(body, strlen(body), &found, NULL);

	CHECK(masked);
	CHECK_STR(url, "oss://b?access_key=********");
	CHECK_STR(scrubbed, "{\"message\":\"bad key ******** in oss://b?access_key=********\"}");
	free(url);
	free(scrubbed);
	ocpb_secret_list_free(&found);
}

UNIT_TEST(ocp_validation_answer)
{
	CHECK(scrubs_to("{\"error\":{\"code\":\"VALIDATION\",\"message\":\"bad value SK-123 for accessKeySecret\","
					"\"subErrors\":[{\"field\":\"accessKeySecret\",\"rejectedValue\":\"SK-123\",\"message\":\"x\"}]},"
					"\"successful\":false,\"status\":400}",
					"SK-123",
					"{\"error\":{\"code\":\"VALIDATION\",\"message\":\"bad value ******** for accessKeySecret\","
					"\"subErrors\":[{\"field\":\"accessKeySecret\",\"rejectedValue\":\"********\",\"message\":\"x\"}]},"
					"\"successful\":false,\"status\":400}"));
}

UNIT_TEST(escaped_echoes)
{
	CHECK(scrubs_to("{\"v\":\"S\\u004b-123\",\"w\":\"\\u5907\\/\"}", "SK-123",
					"{\"v\":\"********\",\"w\":\"\\u5907\\/\"}"));
	CHECK(scrubs_to("{\"v\":\"p\\/w\"}", "p/w", "{\"v\":\"********\"}"));
	/* The rest of a token that is re-encoded keeps only the escapes it needs. */
	CHECK(scrubs_to("{\"v\":\"\\u00e9 p\\/w \\\"q\\\"\\n\\u0001\\ud83d\\ude00\"}", "p/w",
					"{\"v\":\"\xC3\xA9 ******** \\\"q\\\"\\n\\u0001\xF0\x9F\x98\x80\"}"));
	/* A key is OCP's: in JSON only values are masked. */
	CHECK(scrubs_to("{\"SK-123\":1}", "SK-123", "{\"SK-123\":1}"));
	/* Not JSON: keys are masked too. */
	CHECK(scrubs_to("{\"SK-123\":1", "SK-123", "{\"********\":1"));
}

UNIT_TEST(number_echo)
{
	/*
	 * A longer number only holds the secret's digits (a task id may): JSON
	 * that stays JSON is left to the token pass, which masks whole tokens.
	 */
	CHECK(scrubs_to("{\"rejectedValue\":123456,\"n\":1234567,\"m\":-123456}", "123456",
					"{\"rejectedValue\":\"********\",\"n\":1234567,\"m\":\"********\"}"));
	/*
	 * In an answer that says it succeeded a number is OCP's, like a key or a
	 * literal: a secret equal to a task id or a cluster id changes nothing.
	 */
	CHECK(scrubs_to("{\"successful\":true,\"data\":{\"taskIdList\":[123456]}}", "123456",
					"{\"successful\":true,\"data\":{\"taskIdList\":[123456]}}"));
	CHECK(scrubs_to("{\"successful\":true,\"error\":{\"v\":123456}}", "123456",
					"{\"successful\":true,\"error\":{\"v\":\"********\"}}"));
	/* Literals and digits of a valid answer stay as they are. */
	CHECK(scrubs_to("{\"successful\":true,\"data\":{\"taskIdList\":[13600]},\"hint\":\"ttl 3600\"}", "3600",
					"{\"successful\":true,\"data\":{\"taskIdList\":[13600]},\"hint\":\"ttl ********\"}"));
	CHECK(scrubs_to("{\"successful\":true,\"v\":\"true\"}", "true",
					"{\"successful\":true,\"v\":\"********\"}"));
	/* Not JSON: the raw pass masks what the token pass could not see. */
	CHECK(scrubs_to("{\"n\":1234567,", "123456", "{\"n\":********7,"));
	CHECK(scrubs_to("[-5, 5e3", "-5", "[\"********\", 5e3"));
	CHECK(scrubs_to("[-5, 5e3]", "-5", "[\"********\", 5e3]"));
}

UNIT_TEST(html_answer)
{
	CHECK(scrubs_to("<html><body><a href=\"/x\">bad key SK-123</a> (SK-123)</body></html>", "SK-123",
					"<html><body><a href=\"/x\">bad key ********</a> (********)</body></html>"));
	/* Read as JSON, a bare number equal to a secret becomes a string. */
	CHECK(scrubs_to("<p class=\"e\">key=\"SK-123\" at line 123, x123</p>", "123",
					"<p class=\"e\">key=\"SK-********\" at line \"********\", x********</p>"));
}

UNIT_TEST(secret_with_a_quote)
{
	CHECK(scrubs_to("{\"v\":\"a\\\"b\",\"w\":\"xa\\u0022by\"}", "a\"b",
					"{\"v\":\"********\",\"w\":\"x********y\"}"));
	CHECK(scrubs_to("text a\"b and a\\\"b", "a\"b", "text ******** and ********"));
	CHECK(scrubs_to("raw p\\/w and p/w", "p/w", "raw ******** and ********"));
}

UNIT_TEST(overlapping_secrets)
{
	const char *const secrets[] = {"abc", "abcdef", NULL};
	const char *const body = "{\"v\":\"abcdef abc abcde\"} abcdef abc";
	char	   *got = scrub_len(body, strlen(body), NULL, secrets);

	CHECK_STR(got, "{\"v\":\"******** ******** ********de\"} ******** ********");
	free(got);
}

UNIT_TEST(malformed_and_truncated)
{
	const char *const secrets[] = {"SK-123", NULL};
	static const char *const bodies[] = {
		"{\"v\":\"SK-1", "{\"v\":\"SK-123", "{\"v\":\"SK-123\\", "\"\\", "\"", "\\",
		"{\"v\":\"\\u00", "{\"v\":\"\\ud800\"", "{\"v\":\"\\ud800\\u00", "{\"v\":\"\\uZZZZ",
		"-", "1", "{\"v\":\"\\x SK-123\"}", "\"\\ud83d\\u0041SK-123\""
	};
	static const char *const want[] = {
		"{\"v\":\"SK-1", "{\"v\":\"********", "{\"v\":\"********\\", "\"\\", "\"", "\\",
		"{\"v\":\"\\u00", "{\"v\":\"\\ud800\"", "{\"v\":\"\\ud800\\u00", "{\"v\":\"\\uZZZZ",
		"-", "1", "{\"v\":\"\\x ********\"}", "\"\\ud83d\\u0041********\""
	};
	size_t		i;

	/* Exact-size copies, so that valgrind sees any read past the end. */
	for (i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
	{
		size_t		len = strlen(bodies[i]);
		char	   *body = malloc(len);
		char	   *got;

		memcpy(body, bodies[i], len);
		got = scrub_len(body, len, NULL, secrets);
		CHECK_STR(got, want[i]);
		free(got);
		free(body);
	}
}

/*
 * A string cJSON reads and the decoder does not (\uZZZZ) is masked whole
 * when its text holds a secret: a mask inside would cut the escape "\t".
 * Found by test/fuzz/run.
 */
UNIT_TEST(undecodable_string_of_json)
{
	CHECK(scrubs_to("{\"v\":\"\\t\\t\\uZZZZ\",\"k\":1}", "t\\t",
					"{\"v\":\"********\",\"k\":1}"));
	CHECK(scrubs_to("{\"v\":\"\\uZZZZ\",\"k\":\"SK-1\"}", "SK-1",
					"{\"v\":\"\\uZZZZ\",\"k\":\"********\"}"));
}

UNIT_TEST(empty_list_and_nul_bytes)
{
	const char *const none[] = {NULL};
	const char *const secrets[] = {"k", NULL};
	static const char body[] = "{\"a\":\"\\u00e9\",\"b\":1e5}\0<html>\"";
	size_t		len = 0;
	char	   *got = scrub_len(body, sizeof(body) - 1, &len, none);

	CHECK_INT(len, sizeof(body) - 1);
	CHECK(got != NULL && memcmp(got, body, len) == 0 && got[len] == '\0');
	free(got);
	got = scrub_len("x\0k\"k\0\"", 7, &len, secrets);
	CHECK_INT(len, 26);
	CHECK(got != NULL && memcmp(got, "x\0********\"********\\u0000\"", 26) == 0);
	free(got);
	got = scrub_len("", 0, &len, secrets);
	CHECK_STR(got, "");
	CHECK_INT(len, 0);
	free(got);
}

UNIT_TEST(utf8_repair)
{
	CHECK(repairs_to("\xc3\x28", 2, FFFD "("));
	CHECK(repairs_to("a\xff" "b", 3, "a" FFFD "b"));
	CHECK(repairs_to("\x80", 1, FFFD));
	CHECK(repairs_to("\xc0\xaf", 2, FFFD FFFD));
	CHECK(repairs_to("\xe0\x80\xaf", 3, FFFD FFFD FFFD));
	CHECK(repairs_to("\xed\xa0\x80", 3, FFFD FFFD FFFD));
	CHECK(repairs_to("\xf4\x90\x80\x80", 4, FFFD FFFD FFFD FFFD));
	CHECK(repairs_to("\xf5\x80", 2, FFFD FFFD));
	/* A truncated sequence is one maximal subpart. */
	CHECK(repairs_to("\xe2\x82", 2, FFFD));
	CHECK(repairs_to("\xf0\x9f\x98" "x", 4, FFFD "x"));
	CHECK(repairs_to("a\0b", 3, "a" FFFD "b"));
	CHECK(repairs_to("", 0, ""));
	CHECK(repairs_to("plain ascii", 11, "plain ascii"));
	CHECK(repairs_to("\xc3\xa9\xe2\x82\xac\xed\x9f\xbf\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf", 16,
					 "\xc3\xa9\xe2\x82\xac\xed\x9f\xbf\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf"));
}

UNIT_TEST(url_credentials_of_an_answer)
{
	OcpbSecretList found = {0};
	const char *page = "{\"data\":{\"contents\":[{\"taskId\":1,\"backupUri\":"
		"\"oss://b/p?host=h&access_id=AK-h&access_key=SK-h\",\"status\":\"DONE\"},"
		"{\"taskId\":2,\"backup_url\":\"ftp://u:pw-h@host/x\",\"note\":\"access_key=not-a-url-key\"}]}}";
	char	   *scrubbed;

	CHECK(ocpb_find_url_credentials(page, strlen(page), &found));
	CHECK_INT(found.n, 3);
	scrubbed = ocpb_scrub_answer(page, strlen(page), &found, NULL);
	CHECK(strstr(scrubbed, "SK-h") == NULL && strstr(scrubbed, "AK-h") == NULL &&
		  strstr(scrubbed, "pw-h") == NULL);
	CHECK(strstr(scrubbed, "oss://b/p?host=h&access_id=********&access_key=********") != NULL);
	/* Only URL-named keys are read as URLs. */
	CHECK(strstr(scrubbed, "not-a-url-key") != NULL);
	free(scrubbed);
	ocpb_secret_list_free(&found);
	/* Not JSON: refused, nothing found. */
	CHECK(!ocpb_find_url_credentials("<html>", 6, &found));
	CHECK_INT(found.n, 0);
}

/* Every URL shape that leaked a storage secret in 1.1, with its masked form. */
UNIT_TEST(url_shapes)
{
	static const struct
	{
		const char *url;
		const char *masked;
		const char *secret;		/* the first value found */
	}			shapes[] = {
		/* A password holding '/', as AWS secrets often do. */
		{"s3://AKID:abc/defSECRET@bucket/p", "s3://AKID:********@bucket/p", "abc/defSECRET"},
		{"s3://AKID:a/b/c@bucket/p?region=r", "s3://AKID:********@bucket/p?region=r", "a/b/c"},
		/* A fragment: the value holds the '#', or the query follows it. */
		{"s3://bucket/p?access_key=A#SECRET", "s3://bucket/p?access_key=********", "A#SECRET"},
		{"s3://bucket/p?access_key=A%23B#C?D", "s3://bucket/p?access_key=********", "A%23B#C?D"},
		{"s3://bucket/p#frag?access_key=SECRET", "s3://bucket/p#frag?access_key=********", "SECRET"},
		{"s3://bucket/p#access_key=SECRET&x=1", "s3://bucket/p#access_key=********&x=1", "SECRET"},
		/* ';' as a separator. */
		{"s3://bucket/p?host=h;access_key=SECRET", "s3://bucket/p?host=h;access_key=********", "SECRET"},
		{"s3://bucket/p?access_key=SECRET;host=h", "s3://bucket/p?access_key=********;host=h", "SECRET"},
		/* A token as userinfo, without ':'. */
		{"s3://TOKEN@bucket/p", "s3://********@bucket/p", "TOKEN"},
		{"s3://TOKEN@bucket:9000/p", "s3://********@bucket:9000/p", "TOKEN"},
		/* Query keys. */
		{"s3://bucket/p?host=h&s3_sk=SECRET", "s3://bucket/p?host=h&s3_sk=********", "SECRET"},
		{"s3://bucket/p?oss-sk=SECRET", "s3://bucket/p?oss-sk=********", "SECRET"},
		{"s3://bucket/p?X-Amz-Signature=SECRET&x=1", "s3://bucket/p?X-Amz-Signature=********&x=1", "SECRET"},
		{"s3://bucket/p?x-amz-signature=SECRET", "s3://bucket/p?x-amz-signature=********", "SECRET"},
		{"https://h/p?se=2030&sig=SECRET", "https://h/p?se=2030&sig=********", "SECRET"},
		{"https://h/p?SIG=SECRET", "https://h/p?SIG=********", "SECRET"},
		/* Shapes that hold nothing to mask stay as they are. */
		{"s3://bucket/p?host=h;region=r#top", "s3://bucket/p?host=h;region=r#top", NULL},
		{"s3://bucket/p?disk=1&signal=x&ask=y", "s3://bucket/p?disk=1&signal=x&ask=y", NULL},
	};
	size_t		i;

	for (i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++)
	{
		OcpbSecretList found = {0};
		bool		masked = false;
		char	   *got = ocpb_mask_url_credentials(shapes[i].url, &found, &masked);

		CHECK_STR(got, shapes[i].masked);
		CHECK(masked == (shapes[i].secret != NULL));
		CHECK(shapes[i].secret == NULL ? found.n == 0 :
			  found.n >= 1 && strcmp(found.values[0], shapes[i].secret) == 0);
		free(got);
		ocpb_secret_list_free(&found);
	}
}

/* A secret equal to a token of a backupNow answer changes nothing in it. */
UNIT_TEST(token_secrets_leave_the_answer_alone)
{
	static const char answer[] =
		"{\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,"
		"\"obBackupObjectList\":[{\"backupDimension\":\"CLUSTER\",\"clusterId\":622}],"
		"\"taskIdList\":[3000041]}],\"obBackupTaskType\":\"DATA_BACKUP_NOW\"},"
		"\"status\":200,\"successful\":true,\"traceId\":\"5962f33700000001\"}";
	static const char *const tokens[] = {
		"data", "taskId", "taskIdList", "622", "3000041", "true", "200", "successful",
		"backupObjectOpsResultList", "status", ":", "{", "\"", "[", ",", "e"
	};
	size_t		i;

	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		CHECK(scrubs_to(answer, tokens[i], answer));
	/* A value holding it is masked, and the answer stays JSON. */
	CHECK(scrubs_to("{\"data\":{\"hint\":\"no data here\"},\"successful\":true}", "data",
					"{\"data\":{\"hint\":\"no ******** here\"},\"successful\":true}"));
}

/* The pieces of a value a '#' parts are masked in an echo too. */
UNIT_TEST(fragment_pieces_echoed)
{
	OcpbSecretList found = {0};
	bool		masked = false;
	char	   *url = ocpb_mask_url_credentials("s3://b/p?access_key=AK-1#FRAG-SECRET", &found, &masked);
	const char *body = "{\"message\":\"key AK-1, fragment FRAG-SECRET\",\"successful\":false}";
	char	   *scrubbed = ocpb_scrub_answer(body, strlen(body), &found, NULL);

	CHECK_STR(url, "s3://b/p?access_key=********");
	CHECK_STR(scrubbed, "{\"message\":\"key ********, fragment ********\",\"successful\":false}");
	free(url);
	free(scrubbed);
	ocpb_secret_list_free(&found);
}

/* The forms an echo may give a secret: each is masked, in JSON and in text. */
UNIT_TEST(encoded_forms)
{
	static const struct
	{
		const char *echo;
		const char *why;
	}			echoes[] = {
		{"Enc/Sec+ret=9 Z", "as it is"},
		{"enc/sec+ret=9 z", "lower-cased"},
		{"Enc%2FSec%2Bret%3D9%20Z", "percent-encoded"},
		{"Enc%2fSec%2bret%3d9%20Z", "percent-encoded, lower-case hex"},
		{"Enc%2FSec%2Bret%3D9+Z", "form-encoded"},
		{"RW5jL1NlYytyZXQ9OSBa", "base64"},
	};
	size_t		i;

	for (i = 0; i < sizeof(echoes) / sizeof(echoes[0]); i++)
	{
		char	   *json = malloc(strlen(echoes[i].echo) + 64);
		char	   *text = malloc(strlen(echoes[i].echo) + 64);

		sprintf(json, "{\"message\":\"bad [%s]\",\"successful\":false}", echoes[i].echo);
		sprintf(text, "<p>bad [%s]</p>", echoes[i].echo);
		printf("# %s\n", echoes[i].why);
		CHECK(scrubs_to(json, "Enc/Sec+ret=9 Z", "{\"message\":\"bad [********]\",\"successful\":false}"));
		CHECK(scrubs_to(text, "Enc/Sec+ret=9 Z", "<p>bad [********]</p>"));
		free(json);
		free(text);
	}
	/* Padding stays, the digits that hold the secret do not. */
	CHECK(scrubs_to("Basic b3BlcmF0b3I6b3Atc2VjcmV0 and b3A=", "operator:op-secret",
					"Basic ******** and b3A="));
	/* Standard and URL-safe, of "o??>>" (split: no trigraph). */
	CHECK(scrubs_to("x bz8_Pj4 y", "o?" "?>>", "x ******** y"));
	CHECK(scrubs_to("x bz8/Pj4= y", "o?" "?>>", "x ********= y"));
}

UNIT_TEST(mask_text)
{
	OcpbSecretList list = {0};
	OcpbMasker *masker;
	size_t		len = 0;
	char	   *got;

	CHECK(ocpb_secret_list_add(&list, "op-secret", 9));
	masker = ocpb_masker_new(&list);
	CHECK(masker != NULL && !ocpb_masker_is_empty(masker));
	got = ocpb_mask_text(masker, "user op-secret, b3Atc2VjcmV0, op%2Dsecret", 41, &len);
	/* '-' is unreserved: its percent-encoding is the secret itself. */
	CHECK_STR(got, "user ********, ********, op%2Dsecret");
	CHECK_INT(len, strlen(got));
	free(got);
	ocpb_masker_free(masker);
	ocpb_secret_list_free(&list);
	masker = ocpb_masker_new(&list);
	CHECK(ocpb_masker_is_empty(masker));
	got = ocpb_mask_text(masker, "a\0b", 3, &len);
	CHECK(got != NULL && len == 3 && memcmp(got, "a\0b", 3) == 0);
	free(got);
	ocpb_masker_free(masker);
	ocpb_masker_free(NULL);
}

int
main(void)
{
	UNIT_RUN(secret_keys);
	UNIT_RUN(secret_list);
	UNIT_RUN(url_credentials);
	UNIT_RUN(url_secrets_scrub_an_echo);
	UNIT_RUN(ocp_validation_answer);
	UNIT_RUN(escaped_echoes);
	UNIT_RUN(number_echo);
	UNIT_RUN(html_answer);
	UNIT_RUN(secret_with_a_quote);
	UNIT_RUN(overlapping_secrets);
	UNIT_RUN(malformed_and_truncated);
	UNIT_RUN(undecodable_string_of_json);
	UNIT_RUN(empty_list_and_nul_bytes);
	UNIT_RUN(utf8_repair);
	UNIT_RUN(url_credentials_of_an_answer);
	UNIT_RUN(url_shapes);
	UNIT_RUN(fragment_pieces_echoed);
	UNIT_RUN(token_secrets_leave_the_answer_alone);
	UNIT_RUN(encoded_forms);
	UNIT_RUN(mask_text);
	UNIT_EXIT();
}
