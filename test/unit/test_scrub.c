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
	CHECK(masks_to("cos://b/p?accessKey=A1&secret_key=S1&token=T1#frag",
				   "cos://b/p?accessKey=********&secret_key=********&token=********#frag",
				   (const char *const[]) {"A1", "S1", "T1", NULL}));
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
	CHECK(masks_to("ftp://user@host/x", "ftp://user@host/x", none));
	CHECK(masks_to("ftp://user:@host/x", "ftp://user:@host/x", none));
	CHECK(masks_to("host:8080/a@b?region=r", "host:8080/a@b?region=r", none));
	CHECK(masks_to("oss://b/d?host=h&access_key=&x", "oss://b/d?host=h&access_key=&x", none));
	CHECK(masks_to("oss://b/d#access_key=SK", "oss://b/d#access_key=SK", none));
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
	/* A secret inside a key is masked too. */
	CHECK(scrubs_to("{\"SK-123\":1}", "SK-123", "{\"********\":1}"));
}

UNIT_TEST(number_echo)
{
	/*
	 * A longer number only holds the secret's digits (a task id may): JSON
	 * that stays JSON is left to the token pass, which masks whole tokens.
	 */
	CHECK(scrubs_to("{\"rejectedValue\":123456,\"n\":1234567,\"m\":-123456}", "123456",
					"{\"rejectedValue\":\"********\",\"n\":1234567,\"m\":\"********\"}"));
	/* Literals and digits of a valid answer stay as they are. */
	CHECK(scrubs_to("{\"successful\":true,\"data\":{\"taskIdList\":[13600]},\"hint\":\"ttl 3600\"}", "3600",
					"{\"successful\":true,\"data\":{\"taskIdList\":[13600]},\"hint\":\"ttl ********\"}"));
	CHECK(scrubs_to("{\"successful\":true,\"v\":\"true\"}", "true",
					"{\"successful\":true,\"v\":\"********\"}"));
	/* Not JSON: the raw pass masks what the token pass could not see. */
	CHECK(scrubs_to("{\"n\":1234567,", "123456", "{\"n\":********7,"));
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
	UNIT_RUN(empty_list_and_nul_bytes);
	UNIT_RUN(utf8_repair);
	UNIT_RUN(url_credentials_of_an_answer);
	UNIT_EXIT();
}
