/*
 * reference_client.c - the floor for one ocp_backup_now call: a libcurl
 * POST of the same body and headers over a kept-alive connection, and a
 * cJSON parse of the answer, N times.  Prints microseconds per call.
 *
 * usage: reference_client URL CALLS BODY
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

typedef struct Answer
{
	char	   *data;
	size_t		len;
} Answer;

static size_t
collect(char *data, size_t size, size_t count, void *userdata)
{
	Answer	   *answer = userdata;
	size_t		len = size * count;
	char	   *grown = realloc(answer->data, answer->len + len + 1);

	if (grown == NULL)
		return 0;
	memcpy(grown + answer->len, data, len);
	answer->data = grown;
	answer->len += len;
	answer->data[answer->len] = '\0';
	return len;
}

static double
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

int
main(int argc, char **argv)
{
	CURL	   *curl;
	struct curl_slist *headers = NULL;
	long		calls;
	long		i;
	double		start;
	int			failures = 0;

	if (argc != 4)
	{
		fprintf(stderr, "usage: %s URL CALLS BODY\n", argv[0]);
		return 2;
	}
	calls = atol(argv[2]);
	curl_global_init(CURL_GLOBAL_ALL);
	curl = curl_easy_init();
	headers = curl_slist_append(headers, "Content-Type: application/json");
	headers = curl_slist_append(headers, "Accept: application/json");
	headers = curl_slist_append(headers, "Authorization: Basic YWRtaW46YWRtaW4=");
	headers = curl_slist_append(headers, "Expect:");
	curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, argv[3]);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "reference_client");
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect);

	start = now_us();
	for (i = 0; i < calls; i++)
	{
		Answer		answer = {NULL, 0};
		cJSON	   *json;

		curl_easy_setopt(curl, CURLOPT_WRITEDATA, &answer);
		if (curl_easy_perform(curl) != CURLE_OK)
			failures++;
		json = answer.data ? cJSON_Parse(answer.data) : NULL;
		if (json == NULL || !cJSON_IsTrue(cJSON_GetObjectItem(json, "successful")))
			failures++;
		cJSON_Delete(json);
		free(answer.data);
	}
	printf("%.1f\n", (now_us() - start) / calls);
	curl_slist_free_all(headers);
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	if (failures > 0)
		fprintf(stderr, "%d failed calls\n", failures);
	return failures > 0;
}
