/*
 * test_response.c - the backupNow answer parser, on real and broken bodies.
 */
#include <string.h>

#include "response.h"
#include "unit.h"

static bool
parse(const char *body, OcpbBackupNowResponse *response)
{
	return ocpb_parse_backup_now_response(body, strlen(body), NULL, NULL, response);
}

/* The sample answer of OCP's documentation. */
UNIT_TEST(documented_sample)
{
	OcpbBackupNowResponse r;

	CHECK(parse("{\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,"
				"\"obBackupObjectList\":[{\"backupDimension\":\"CLUSTER\",\"clusterId\":1000005}],"
				"\"taskIdList\":[3000041]}],\"obBackupTaskType\":\"DATA_BACKUP_NOW\"},"
				"\"duration\":51,\"server\":\"a83ad33525\",\"status\":200,\"successful\":true,"
				"\"timestamp\":\"2021-09-07T14:51:41.135+08:00\",\"traceId\":\"5962f337662d4043\"}", &r));
	CHECK_STR(r.envelope.problem, "");
	CHECK(r.envelope.is_envelope);
	CHECK(r.envelope.successful);
	CHECK_STR(r.envelope.trace_id, "5962f337662d4043");
	CHECK_STR(r.task_type, "DATA_BACKUP_NOW");
	CHECK_INT(r.n_results, 1);
	CHECK(r.results[0].successful);
	CHECK_INT(r.results[0].n_objects, 1);
	CHECK(r.results[0].objects[0].has_cluster_id);
	CHECK_INT(r.results[0].objects[0].cluster_id, 1000005);
	CHECK(!r.results[0].objects[0].has_tenant_id);
	CHECK_STR(r.results[0].objects[0].dimension, "CLUSTER");
	CHECK_INT(r.results[0].n_task_ids, 1);
	CHECK_INT(r.results[0].task_ids[0], 3000041);
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(ids_as_strings_beyond_2_pow_53)
{
	OcpbBackupNowResponse r;

	CHECK(parse("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,"
				"\"obBackupObjectList\":[{\"clusterId\":\"9007199254740993\",\"tenantId\":\"1002\"}],"
				"\"taskIdList\":[\"9223372036854775807\",42]}]}}", &r));
	CHECK_STR(r.envelope.problem, "");
	CHECK_INT(r.results[0].objects[0].cluster_id, 9007199254740993LL);
	CHECK_INT(r.results[0].objects[0].tenant_id, 1002);
	CHECK_INT(r.results[0].n_task_ids, 2);
	CHECK_INT(r.results[0].task_ids[0], 9223372036854775807LL);
	CHECK_INT(r.results[0].task_ids[1], 42);
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(echoed_ids_beyond_2_pow_53_as_numbers)
{
	OcpbBackupNowResponse r;
	OcpbBackupObject asked = {0};
	const char *body = "{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,"
		"\"obBackupObjectList\":[{\"clusterId\":9223372036854775807,\"tenantId\":9007199254740993,"
		"\"backupDimension\":\"TENANT\"}],\"taskIdList\":[3000041]}]}}";

	/* Asked for: the rounded echo is the id asked for, exactly. */
	asked.has_cluster_id = true;
	asked.cluster_id = 9223372036854775807LL;
	asked.has_tenant_id = true;
	asked.tenant_id = 9007199254740993LL;
	CHECK(ocpb_parse_backup_now_response(body, strlen(body), &asked, NULL, &r));
	CHECK_STR(r.envelope.problem, "");
	CHECK_INT(r.results[0].objects[0].cluster_id, 9223372036854775807LL);
	CHECK_INT(r.results[0].objects[0].tenant_id, 9007199254740993LL);
	ocpb_backup_now_response_free(&r);
	/* Another id, or none asked: a rounded number is no id. */
	asked.cluster_id = 42;
	CHECK(ocpb_parse_backup_now_response(body, strlen(body), &asked, NULL, &r));
	CHECK_STR(r.envelope.problem, "an obBackupObjectList entry has an invalid clusterId");
	ocpb_backup_now_response_free(&r);
	CHECK(ocpb_parse_backup_now_response(body, strlen(body), NULL, NULL, &r));
	CHECK_STR(r.envelope.problem, "an obBackupObjectList entry has an invalid clusterId");
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(refused_object)
{
	OcpbBackupNowResponse r;

	CHECK(parse("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":false,"
				"\"errorCode\":\"BAK31005\",\"hint\":\"already exists\","
				"\"obBackupObjectList\":[{\"clusterId\":8}]}]}}", &r));
	CHECK_STR(r.envelope.problem, "");
	CHECK(!r.results[0].successful);
	CHECK_STR(r.results[0].error_code, "BAK31005");
	CHECK_STR(r.results[0].hint, "already exists");
	CHECK_INT(r.results[0].n_task_ids, 0);
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(error_envelope_with_numeric_code)
{
	OcpbBackupNowResponse r;

	CHECK(parse("{\"duration\":1,\"error\":{\"code\":0,\"message\":\"The current user has not logged on.\","
				"\"debugMessage\":\"bad signature\"},\"server\":\"10.0.0.5\",\"status\":401,"
				"\"successful\":false,\"traceId\":\"3f9c1a2b4d5e6f70\"}", &r));
	CHECK_STR(r.envelope.problem, "");
	CHECK(r.envelope.is_envelope);
	CHECK(!r.envelope.successful);
	CHECK_STR(r.envelope.error_code, "0");
	CHECK_STR(r.envelope.error_message, "The current user has not logged on.");
	CHECK_STR(r.envelope.debug_message, "bad signature");
	CHECK_STR(r.envelope.trace_id, "3f9c1a2b4d5e6f70");
	CHECK_INT(r.n_results, 0);
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(error_object_wins_over_successful_true)
{
	OcpbBackupNowResponse r;

	CHECK(parse("{\"successful\":true,\"error\":{\"code\":\"BAK31001\",\"message\":\"m\"}}", &r));
	CHECK(r.envelope.is_envelope);
	CHECK(!r.envelope.successful);
	CHECK_STR(r.envelope.error_code, "BAK31001");
	ocpb_backup_now_response_free(&r);
}

/* Each body must be refused with this problem and no results. */
static void
check_problem(const char *body, const char *problem)
{
	OcpbBackupNowResponse r;

	CHECK(parse(body, &r));
	CHECK_STR(r.envelope.problem, problem);
	CHECK_INT(r.n_results, 0);
	CHECK(r.results == NULL);
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(unusable_bodies)
{
	check_problem("", "the body is empty");
	check_problem("<html><body>502 Bad Gateway</body></html>", "the body is not JSON");
	check_problem("{\"successful\":true,\"data\":{\"backupObj", "the body is not JSON");
	check_problem("{\"a\":1} trailing", "the body is not JSON");
	check_problem("[1,2]", "the body is JSON but not an object");
	check_problem("{\"status\":200}",
				  "the body is JSON but not an OCP envelope (no \"successful\" field)");
	check_problem("{\"successful\":\"yes\"}",
				  "the body is JSON but not an OCP envelope (no \"successful\" field)");
	check_problem("{\"successful\":true}", "the envelope has no data object");
	check_problem("{\"successful\":true,\"data\":[]}", "the envelope has no data object");
	check_problem("{\"successful\":true,\"data\":{}}", "data has no backupObjectOpsResultList array");
	check_problem("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":[]}}",
				  "backupObjectOpsResultList is empty");
	check_problem("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":[7]}}",
				  "a backupObjectOpsResultList entry is not an object");
	check_problem("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":[{}]}}",
				  "a backupObjectOpsResultList entry has no boolean beSuccessful");
	check_problem("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":"
				  "[{\"beSuccessful\":true,\"taskIdList\":\"1\"}]}}",
				  "taskIdList is not an array");
	check_problem("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":"
				  "[{\"beSuccessful\":true,\"taskIdList\":[\"soon\"]}]}}",
				  "taskIdList holds a value that is not a task id");
	check_problem("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":"
				  "[{\"beSuccessful\":true,\"taskIdList\":[1.5]}]}}",
				  "taskIdList holds a value that is not a task id");
	/* Beyond 2^53 as a number, the id may already be rounded: refuse it. */
	check_problem("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":"
				  "[{\"beSuccessful\":true,\"taskIdList\":[9007199254740993]}]}}",
				  "taskIdList holds a value that is not a task id");
	check_problem("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":"
				  "[{\"beSuccessful\":true,\"obBackupObjectList\":[{\"clusterId\":-1}]}]}}",
				  "an obBackupObjectList entry has an invalid clusterId");
	check_problem("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":"
				  "[{\"beSuccessful\":true,\"obBackupObjectList\":[3]}]}}",
				  "an obBackupObjectList entry is not an object");
}

UNIT_TEST(nulls_and_absent_lists_read_as_empty)
{
	OcpbBackupNowResponse r;

	CHECK(parse("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":"
				"[{\"beSuccessful\":true,\"taskIdList\":null,\"obBackupObjectList\":"
				"[{\"clusterId\":null,\"backupDimension\":7}]}]}}", &r));
	CHECK_STR(r.envelope.problem, "");
	CHECK_INT(r.results[0].n_task_ids, 0);
	CHECK_INT(r.results[0].n_objects, 1);
	CHECK(!r.results[0].objects[0].has_cluster_id);
	CHECK(r.results[0].objects[0].dimension == NULL);
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(body_with_embedded_nul_is_not_json)
{
	OcpbBackupNowResponse r;
	const char	body[] = "{\"successful\":true}\0garbage";

	CHECK(ocpb_parse_backup_now_response(body, sizeof(body) - 1, NULL, NULL, &r));
	CHECK_STR(r.envelope.problem, "the body is not JSON");
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(escaped_nul_in_a_string_is_refused)
{
	OcpbBackupNowResponse r;
	OcpbTaskInfo t;
	const char *task_body = "{\"successful\":true,\"data\":{\"id\":5,"
		"\"status\":\"SUCCESSFUL\\u0000no\"}}";

	/* cJSON would read the task id as 123 and the status as SUCCESSFUL. */
	CHECK(parse("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":"
				"[{\"beSuccessful\":true,\"taskIdList\":[\"123\\u0000x\"]}]}}", &r));
	CHECK_STR(r.envelope.problem, "the body holds a NUL character (\\u0000) in a string");
	CHECK(r.n_results == 0);
	ocpb_backup_now_response_free(&r);
	CHECK(ocpb_parse_task_response(task_body, strlen(task_body), &t));
	CHECK_STR(t.envelope.problem, "the body holds a NUL character (\\u0000) in a string");
	ocpb_task_info_free(&t);
	/* An escaped backslash before u0000 is text, not the escape. */
	CHECK(parse("{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":"
				"[{\"beSuccessful\":false,\"hint\":\"a\\\\u0000\",\"taskIdList\":[]}]}}", &r));
	CHECK_STR(r.envelope.problem, "");
	CHECK_STR(r.results[0].hint, "a\\u0000");
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(many_results_fill_several_arena_chunks)
{
	OcpbBackupNowResponse r;
	char		body[200000];
	size_t		len;
	int			i;

	len = (size_t) snprintf(body, sizeof(body),
							"{\"successful\":true,\"data\":{\"backupObjectOpsResultList\":[");
	for (i = 0; i < 2000; i++)
		len += (size_t) snprintf(body + len, sizeof(body) - len,
								 "%s{\"beSuccessful\":true,\"hint\":\"h%d\",\"taskIdList\":[%d]}",
								 i ? "," : "", i, i + 1);
	snprintf(body + len, sizeof(body) - len, "]}}");
	CHECK(parse(body, &r));
	CHECK_STR(r.envelope.problem, "");
	CHECK_INT(r.n_results, 2000);
	CHECK_INT(r.results[1999].task_ids[0], 2000);
	CHECK_STR(r.results[1234].hint, "h1234");
	ocpb_backup_now_response_free(&r);
}

UNIT_TEST(id_text)
{
	long long	id = 0;

	CHECK(ocpb_parse_id_text("0", &id));
	CHECK_INT(id, 0);
	CHECK(ocpb_parse_id_text("9223372036854775807", &id));
	CHECK_INT(id, 9223372036854775807LL);
	CHECK(!ocpb_parse_id_text("9223372036854775808", &id));
	CHECK(!ocpb_parse_id_text("", &id));
	CHECK(!ocpb_parse_id_text("-1", &id));
	CHECK(!ocpb_parse_id_text(" 1", &id));
	CHECK(!ocpb_parse_id_text("1e3", &id));
}

UNIT_TEST(ocp_times)
{
	long long	us = 0;

	CHECK(ocpb_parse_ocp_time("2021-08-25T15:09:31.74+08:00", &us));
	CHECK_INT(us, 1629875371740000LL);
	CHECK(ocpb_parse_ocp_time("2021-09-16T17:25:02.993+0800", &us));
	CHECK_INT(us, 1631784302993000LL);
	CHECK(ocpb_parse_ocp_time("2020-11-11T15:46:27.316+08:00", &us));
	CHECK_INT(us, 1605080787316000LL);
	CHECK(ocpb_parse_ocp_time("1970-01-01T00:00:00Z", &us));
	CHECK_INT(us, 0);
	CHECK(ocpb_parse_ocp_time("2024-02-29T23:59:59.123456789-05:30", &us));
	CHECK_INT(us, 1709270999123456LL);
	CHECK(ocpb_parse_ocp_time("2023-01-17T09:13:57+00", &us));
	CHECK_INT(us, 1673946837000000LL);
	CHECK(!ocpb_parse_ocp_time("2023-01-17 09:13:57+08:00", &us));
	CHECK(!ocpb_parse_ocp_time("2023-01-17T09:13:57", &us));
	CHECK(!ocpb_parse_ocp_time("2023-01-17T09:13:57.+08:00", &us));
	CHECK(!ocpb_parse_ocp_time("2023-13-17T09:13:57Z", &us));
	CHECK(!ocpb_parse_ocp_time("2023-01-17T09:13:57.1234567890Z", &us));
	CHECK(!ocpb_parse_ocp_time("2023-01-17T09:13:57Zjunk", &us));
	CHECK(!ocpb_parse_ocp_time("", &us));
	/* Days a month does not have, and leap years. */
	CHECK(!ocpb_parse_ocp_time("2023-02-29T00:00:00Z", &us));
	CHECK(!ocpb_parse_ocp_time("2023-04-31T00:00:00Z", &us));
	CHECK(!ocpb_parse_ocp_time("2100-02-29T00:00:00Z", &us));
	CHECK(ocpb_parse_ocp_time("2000-02-29T00:00:00Z", &us));
	CHECK(!ocpb_parse_ocp_time("2023-01-17T09:13:60Z", &us));
}

UNIT_TEST(task_instance)
{
	OcpbTaskInfo t;
	const char *body =
		"{\"data\":{\"id\":3000041,\"name\":\"Backup cluster\",\"status\":\"FAILED\","
		"\"type\":\"MANUAL\",\"operation\":\"EXECUTE\",\"creator\":{\"id\":1,\"name\":\"admin\"},"
		"\"cluster\":{\"id\":8,\"name\":\"c8\",\"obClusterId\":8,\"type\":\"PRIMARY\"},"
		"\"tenant\":{\"id\":\"1002\"},"
		"\"createTime\":\"2021-08-25T15:09:31.74+08:00\",\"startTime\":\"2021-08-25T15:09:32+08:00\","
		"\"finishTime\":\"2021-09-16T17:25:02.993+0800\",\"prohibitRollback\":false,"
		"\"subtasks\":[{\"id\":1,\"name\":\"Check\",\"status\":\"SUCCESSFUL\"},"
		"{\"id\":2,\"name\":\"Start data backup\",\"status\":\"FAILED\"},"
		"{\"id\":3,\"name\":\"Wait\",\"status\":\"PENDING\"}]},"
		"\"status\":200,\"successful\":true,\"traceId\":\"5962f33700000002\"}";

	CHECK(ocpb_parse_task_response(body, strlen(body), &t));
	CHECK_STR(t.envelope.problem, "");
	CHECK_INT(t.task_id, 3000041);
	CHECK_STR(t.name, "Backup cluster");
	CHECK_STR(t.status, "FAILED");
	CHECK_STR(t.type, "MANUAL");
	CHECK_STR(t.creator, "admin");
	CHECK(t.has_cluster_id);
	CHECK_INT(t.cluster_id, 8);
	CHECK_STR(t.cluster_name, "c8");
	CHECK(t.has_tenant_id);
	CHECK_INT(t.tenant_id, 1002);
	CHECK(t.has_create_time);
	CHECK_INT(t.create_time_us, 1629875371740000LL);
	CHECK(t.has_finish_time);
	CHECK_INT(t.finish_time_us, 1631784302993000LL);
	CHECK_INT(t.subtasks_total, 3);
	CHECK_INT(t.subtasks_done, 1);
	CHECK_STR(t.failed_subtask, "Start data backup");
	ocpb_task_info_free(&t);
}

UNIT_TEST(task_instance_problems)
{
	OcpbTaskInfo t;
	const char *no_status = "{\"successful\":true,\"data\":{\"id\":1}}";
	const char *bad_time = "{\"successful\":true,\"data\":{\"id\":1,\"status\":\"RUNNING\","
		"\"createTime\":\"yesterday\"}}";
	const char *unknown = "{\"successful\":false,\"status\":404,\"error\":{\"code\":\"TSK10001\","
		"\"message\":\"The 5 task does not exist.\"}}";

	CHECK(ocpb_parse_task_response(no_status, strlen(no_status), &t));
	CHECK_STR(t.envelope.problem, "the task has no id or no status");
	ocpb_task_info_free(&t);
	CHECK(ocpb_parse_task_response(bad_time, strlen(bad_time), &t));
	CHECK_STR(t.envelope.problem, "task field createTime is not an OCP date-time");
	ocpb_task_info_free(&t);
	CHECK(ocpb_parse_task_response(unknown, strlen(unknown), &t));
	CHECK_STR(t.envelope.problem, "");
	CHECK(!t.envelope.successful);
	CHECK_STR(t.envelope.error_code, "TSK10001");
	ocpb_task_info_free(&t);
}

UNIT_TEST(list_pages)
{
	OcpbListPage page;
	const char *second_of_three = "{\"successful\":true,\"data\":{\"contents\":[{\"id\":1},{\"id\":2}],"
		"\"page\":{\"number\":2,\"size\":2,\"totalElements\":5,\"totalPages\":3}}}";
	const char *unpaged = "{\"successful\":true,\"data\":{\"contents\":[]}}";
	const char *no_list = "{\"successful\":true,\"data\":{\"items\":[]}}";
	const char *bad_count = "{\"successful\":true,\"data\":{\"contents\":[],\"page\":{\"totalPages\":1.5}}}";
	const char *refused = "{\"successful\":false,\"status\":404,\"error\":{\"code\":\"OBE11001\","
		"\"message\":\"The specified cluster with the ID of 9 does not exist.\"}}";

	CHECK(ocpb_parse_list_page(second_of_three, strlen(second_of_three), &page));
	CHECK_STR(page.envelope.problem, "");
	CHECK_INT(page.n_contents, 2);
	CHECK_INT(page.total_pages, 3);
	ocpb_list_page_free(&page);
	CHECK(ocpb_parse_list_page(unpaged, strlen(unpaged), &page));
	CHECK_STR(page.envelope.problem, "");
	CHECK_INT(page.n_contents, 0);
	CHECK_INT(page.total_pages, 1);
	ocpb_list_page_free(&page);
	CHECK(ocpb_parse_list_page(no_list, strlen(no_list), &page));
	CHECK_STR(page.envelope.problem, "the answer has no list (data.contents)");
	ocpb_list_page_free(&page);
	CHECK(ocpb_parse_list_page(bad_count, strlen(bad_count), &page));
	CHECK_STR(page.envelope.problem, "data.page.totalPages is not a page count");
	ocpb_list_page_free(&page);
	CHECK(ocpb_parse_list_page(refused, strlen(refused), &page));
	CHECK_STR(page.envelope.problem, "");
	CHECK(!page.envelope.successful);
	CHECK_STR(page.envelope.error_code, "OBE11001");
	CHECK_INT(page.n_contents, 0);
	ocpb_list_page_free(&page);
}

/* Parsed as OCP sent it, the strings read masked after (issue 23, item 5). */
UNIT_TEST(masked_after_parsing)
{
	static const char *const secrets[] = {"data", "taskIdList", "1000005", "3000041", "true", "hint-secret"};
	const char *body = "{\"data\":{\"backupObjectOpsResultList\":[{\"beSuccessful\":true,"
		"\"obBackupObjectList\":[{\"backupDimension\":\"CLUSTER\",\"clusterId\":1000005}],"
		"\"taskIdList\":[\"3000041\"]},{\"beSuccessful\":false,\"errorCode\":\"BAK31001\","
		"\"hint\":\"no data for hint-secret\",\"obBackupObjectList\":[]}],"
		"\"obBackupTaskType\":\"DATA_BACKUP_NOW\"},\"successful\":true,\"traceId\":\"t-data-1\"}";
	size_t		i;

	for (i = 0; i < sizeof(secrets) / sizeof(secrets[0]); i++)
	{
		OcpbSecretList list = {0};
		OcpbMasker *masker;
		OcpbBackupNowResponse r;

		CHECK(ocpb_secret_list_add(&list, secrets[i], strlen(secrets[i])));
		masker = ocpb_masker_new(&list);
		CHECK(ocpb_parse_backup_now_response(body, strlen(body), NULL, masker, &r));
		CHECK_STR(r.envelope.problem, "");
		CHECK(r.envelope.successful);
		CHECK_INT(r.n_results, 2);
		CHECK(r.results[0].successful && !r.results[1].successful);
		CHECK_INT(r.results[0].n_task_ids, 1);
		CHECK(r.results[0].task_ids[0] == 3000041);
		CHECK(r.results[0].objects[0].cluster_id == 1000005);
		CHECK(strstr(r.results[1].hint, secrets[i]) == NULL);
		CHECK(strstr(r.envelope.trace_id, secrets[i]) == NULL);
		ocpb_backup_now_response_free(&r);
		ocpb_masker_free(masker);
		ocpb_secret_list_free(&list);
	}
}

int
main(void)
{
	UNIT_RUN(documented_sample);
	UNIT_RUN(ids_as_strings_beyond_2_pow_53);
	UNIT_RUN(echoed_ids_beyond_2_pow_53_as_numbers);
	UNIT_RUN(refused_object);
	UNIT_RUN(error_envelope_with_numeric_code);
	UNIT_RUN(error_object_wins_over_successful_true);
	UNIT_RUN(unusable_bodies);
	UNIT_RUN(nulls_and_absent_lists_read_as_empty);
	UNIT_RUN(body_with_embedded_nul_is_not_json);
	UNIT_RUN(escaped_nul_in_a_string_is_refused);
	UNIT_RUN(many_results_fill_several_arena_chunks);
	UNIT_RUN(id_text);
	UNIT_RUN(ocp_times);
	UNIT_RUN(task_instance);
	UNIT_RUN(task_instance_problems);
	UNIT_RUN(list_pages);
	UNIT_RUN(masked_after_parsing);
	UNIT_EXIT();
}
