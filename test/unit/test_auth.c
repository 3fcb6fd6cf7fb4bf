/*
 * test_auth.c - the Date header, Basic auth and the AK/SK signature.
 *
 * Expected values come from outside this code: the published examples of
 * ocp-api.md section 2b, and md5sum, base64 and `openssl dgst -sha1 -hmac`
 * run on the command line over the literal strings written below.
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "unit.h"

#define DOC_AK "cqammmxBpfGjFlto"
#define DOC_SK "2fc0c299cc94c6be266f2ceece765d4d"

/*
 * These wrappers keep the last result so checks read as one line; each call
 * frees the previous one, and a NULL argument only frees.
 */
static const char *
sts(const OcpbSignInput *in)
{
	static char *last;

	free(last);
	last = in != NULL ? ocpb_string_to_sign(in) : NULL;
	return last;
}

static const char *
aksk(const char *ak, const char *sk, const OcpbSignInput *in)
{
	static char *last;

	free(last);
	last = in != NULL ? ocpb_aksk_authorization(ak, sk, in) : NULL;
	return last;
}

static const char *
basic(const char *user, const char *password)
{
	static char *last;

	free(last);
	last = user != NULL ? ocpb_basic_authorization(user, password) : NULL;
	return last;
}

static const char *
http_date(time_t t)
{
	static char out[OCPB_HTTP_DATE_SIZE];

	ocpb_format_http_date(t, out);
	return out;
}

static OcpbSignInput
empty_input(void)
{
	OcpbSignInput in;

	memset(&in, 0, sizeof(in));
	return in;
}

UNIT_TEST(published_post_vector)
{
	static const char body[] = "{\"name\":\"test01\",\"description\":\"test\",\"regionId\":1}";
	OcpbHeader	headers[] = {{"x-ocp-data", "A,1"}};
	OcpbSignInput in = empty_input();

	in.method = "POST";
	in.body = (const unsigned char *) body;
	in.body_len = strlen(body);
	in.content_type = "application/json";
	in.date = "Tue, 17 Jan 2023 09:13:57 GMT";
	in.host = "ocp.alibaba.net:8080";
	in.ocp_headers = headers;
	in.n_ocp_headers = 1;
	in.path = "/api/v2/compute/idcs";

	CHECK_STR(sts(&in),
			  "POST\n186974DB33A090A16D3E2CA35F547B56\napplication/json\n"
			  "Tue, 17 Jan 2023 09:13:57 GMT\nocp.alibaba.net:8080\n"
			  "x-ocp-data:A,1\n/api/v2/compute/idcs");
	CHECK_STR(aksk(DOC_AK, DOC_SK, &in),
			  "OCP-ACCESS-KEY-HMACSHA1 cqammmxBpfGjFlto:XN8P+O+v3vUabB16ZCooq5wMJoY=");
}

UNIT_TEST(published_get_vector)
{
	OcpbSignInput in = empty_input();

	in.method = "GET";
	in.content_type = "application/json;charset=utf-8";
	in.date = "Tue, 17 Jan 2023 04:14:02 GMT";
	in.host = "ocp.alibaba.net:8080";
	in.path = "/api/v2/compute/idcs";
	in.query = "size=100";

	CHECK_STR(sts(&in),
			  "GET\n\napplication/json;charset=utf-8\n"
			  "Tue, 17 Jan 2023 04:14:02 GMT\nocp.alibaba.net:8080\n\n"
			  "/api/v2/compute/idcs?size=100");
	CHECK_STR(aksk(DOC_AK, DOC_SK, &in),
			  "OCP-ACCESS-KEY-HMACSHA1 cqammmxBpfGjFlto:TsQD6HDOuZuJ409m0wdnZPmijlc=");
}

/*
 * printf '%s' '{"configName":"备份-é"}' | md5sum, upper-cased; the signature
 * is openssl dgst -sha1 -hmac DOC_SK -binary | base64 of the string below.
 */
UNIT_TEST(non_ascii_body)
{
	static const char body[] = "{\"configName\":\"备份-é\"}";
	OcpbSignInput in = empty_input();

	in.method = "POST";
	in.body = (const unsigned char *) body;
	in.body_len = strlen(body);
	in.content_type = "application/json";
	in.date = "Wed, 01 Mar 2023 10:00:00 GMT";
	in.host = "ocp.example.net:8080";
	in.path = "/api/v2/ob/clusters/8/backup/config";

	CHECK_INT(in.body_len, 26);
	CHECK_STR(sts(&in),
			  "POST\n75B0BC64900083DAC1F043E7BE09B093\napplication/json\n"
			  "Wed, 01 Mar 2023 10:00:00 GMT\nocp.example.net:8080\n\n"
			  "/api/v2/ob/clusters/8/backup/config");
	CHECK_STR(aksk("AK1", DOC_SK, &in),
			  "OCP-ACCESS-KEY-HMACSHA1 AK1:3IRhH9bamepp9LT0qVg8yTRcwRo=");
}

UNIT_TEST(empty_body)
{
	static const char body[] = "ignored";
	OcpbSignInput in = empty_input();

	in.method = "DELETE";
	in.date = "D";
	in.host = "h";
	in.path = "/p";
	CHECK_STR(sts(&in), "DELETE\n\n\nD\nh\n\n/p");

	/* A body pointer with no bytes is no body either. */
	in.body = (const unsigned char *) body;
	in.body_len = 0;
	in.content_type = "";
	in.query = "";
	CHECK_STR(sts(&in), "DELETE\n\n\nD\nh\n\n/p");
}

UNIT_TEST(query_sorted_and_encoded)
{
	OcpbSignInput in = empty_input();

	in.method = "GET";
	in.date = "Wed, 01 Mar 2023 10:00:00 GMT";
	in.host = "ocp.example.net";
	in.path = "/api/v2/ob/clusters/8/backup/tasks";
	in.query = "status=RUNNING,FAILED&clusterId=8";

	CHECK_STR(sts(&in),
			  "GET\n\n\nWed, 01 Mar 2023 10:00:00 GMT\nocp.example.net\n\n"
			  "/api/v2/ob/clusters/8/backup/tasks?clusterId=8&status=RUNNING%2CFAILED");
	CHECK_STR(aksk(DOC_AK, DOC_SK, &in),
			  "OCP-ACCESS-KEY-HMACSHA1 cqammmxBpfGjFlto:qYkjz/TzElmUbAbWhC5doJgo+Kw=");

	in.date = "D";
	in.host = "h";
	in.path = "/p";
	in.query = "b=%2c&a=x%20y";
	CHECK_STR(sts(&in), "GET\n\n\nD\nh\n\n/p?a=x%20y&b=%2C");

	/* Empty pieces skipped, no '=' is an empty value, '+' is a plus. */
	in.query = "&&z&y=1+2&&x=a=b&";
	CHECK_STR(sts(&in), "GET\n\n\nD\nh\n\n/p?x=a%3Db&y=1%2B2&z=");

	/* Same key twice: ordered by value; unreserved bytes stay verbatim. */
	in.query = "k=2&k=1&k=-._~AZaz09";
	CHECK_STR(sts(&in), "GET\n\n\nD\nh\n\n/p?k=-._~AZaz09&k=1&k=2");

	/* Invalid escapes keep their '%'; UTF-8 bytes each become %XX. */
	in.query = "p=100%&q=%zz&r=%4&s=é";
	CHECK_STR(sts(&in), "GET\n\n\nD\nh\n\n/p?p=100%25&q=%25zz&r=%254&s=%C3%A9");

	/* Keys compare as decoded bytes: "A" (0x41) sorts before "a". */
	in.query = "a=1&%41=2&=3";
	CHECK_STR(sts(&in), "GET\n\n\nD\nh\n\n/p?=3&A=2&a=1");
}

UNIT_TEST(no_query)
{
	OcpbSignInput in = empty_input();

	in.method = "GET";
	in.date = "D";
	in.host = "h";
	in.path = "/api/v2/time";
	CHECK_STR(sts(&in), "GET\n\n\nD\nh\n\n/api/v2/time");
	in.query = "";
	CHECK_STR(sts(&in), "GET\n\n\nD\nh\n\n/api/v2/time");
	/* Only empty pieces: no parameter, so no '?'. */
	in.query = "&&";
	CHECK_STR(sts(&in), "GET\n\n\nD\nh\n\n/api/v2/time");
}

UNIT_TEST(ocp_headers_sorted)
{
	OcpbHeader	headers[] = {
		{"X-OCP-Zeta", "z"},
		{"x-ocp-alpha", "First, Value"},
		{"X-Ocp-Mid", ""},
		{"x-OCP-alpha", "second"},
	};
	OcpbSignInput in = empty_input();

	in.method = "PUT";
	in.date = "D";
	in.host = "h";
	in.ocp_headers = headers;
	in.n_ocp_headers = 4;
	in.path = "/p";

	CHECK_STR(sts(&in),
			  "PUT\n\n\nD\nh\n"
			  "x-ocp-alpha:First, Value\nx-ocp-alpha:second\nx-ocp-mid:\nx-ocp-zeta:z\n"
			  "/p");
	/* The caller's array is left as given. */
	CHECK_STR(headers[0].name, "X-OCP-Zeta");

	in.n_ocp_headers = 0;
	CHECK_STR(sts(&in), "PUT\n\n\nD\nh\n\n/p");
}

UNIT_TEST(http_dates)
{
	setlocale(LC_ALL, "");
	setlocale(LC_TIME, "C.UTF-8");
	CHECK_STR(http_date(1673946837), "Tue, 17 Jan 2023 09:13:57 GMT");
	CHECK_STR(http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
	CHECK_STR(http_date(951782400), "Tue, 29 Feb 2000 00:00:00 GMT");
	CHECK_STR(http_date(1709208000), "Thu, 29 Feb 2024 12:00:00 GMT");
	CHECK_STR(http_date(1677664800), "Wed, 01 Mar 2023 10:00:00 GMT");
	CHECK_STR(http_date(-1), "Wed, 31 Dec 1969 23:59:59 GMT");
	CHECK_INT(strlen(http_date(1673946837)), OCPB_HTTP_DATE_SIZE - 1);
	CHECK_STR(http_date(253402300799), "Fri, 31 Dec 9999 23:59:59 GMT");
	/* Year 10000 does not fit the format: empty rather than wrong. */
	CHECK_STR(http_date(253402300800), "");
	setlocale(LC_ALL, "C");
}

UNIT_TEST(basic_auth)
{
	CHECK_STR(basic("admin", "admin"), "Basic YWRtaW46YWRtaW4=");
	/* printf '%s' 'backup:pä:ss€' | base64 */
	CHECK_STR(basic("backup", "pä:ss€"), "Basic YmFja3VwOnDDpDpzc+KCrA==");
	CHECK_STR(basic("", ""), "Basic Og==");
}

int
main(void)
{
	UNIT_RUN(published_post_vector);
	UNIT_RUN(published_get_vector);
	UNIT_RUN(non_ascii_body);
	UNIT_RUN(empty_body);
	UNIT_RUN(query_sorted_and_encoded);
	UNIT_RUN(no_query);
	UNIT_RUN(ocp_headers_sorted);
	UNIT_RUN(http_dates);
	UNIT_RUN(basic_auth);

	/* Release the last results so valgrind reports no leak. */
	sts(NULL);
	aksk(NULL, NULL, NULL);
	basic(NULL, NULL);
	UNIT_EXIT();
}
