/*
 * ocp_list.c - reads OCP's paged lists one page at a time.
 *
 * What a page's rows hold is read by the SQL writer that stores them, from
 * the page as OCP sent it; the C side needs only the envelope, to classify
 * failures like every other call, and the paging, to go on.
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#include "http.h"
#include "catalog.h"
#include "json_accept.h"
#include "ocp_list.h"
#include "report.h"
#include "response.h"
#include "scrub.h"

/*
 * The page without the credentials of the URLs it holds (a backup job's
 * backupUri may carry an object store's access key): the mirror tables
 * must not keep them.
 */
static char *
without_url_credentials(char *body, size_t len)
{
	OcpbSecretList found;
	char	   *scrubbed;
	char	   *copy;
	size_t		scrubbed_len;

	memset(&found, 0, sizeof(found));
	/* The answer parsed as JSON already: failing to read it is memory. */
	if (!ocpb_find_url_credentials(body, len, &found))
	{
		ocpb_secret_list_free(&found);
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	}
	if (found.n == 0)
		return body;
	scrubbed = ocpb_scrub_answer(body, len, &found, &scrubbed_len);
	ocpb_secret_list_free(&found);
	copy = scrubbed ? palloc_extended(scrubbed_len + 1, MCXT_ALLOC_NO_OOM) : NULL;
	if (copy != NULL)
		memcpy(copy, scrubbed, scrubbed_len + 1);
	free(scrubbed);
	if (copy == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	return copy;
}

char *
ocpb_page_path(const char *path, long page, int page_size)
{
	return psprintf("%s%cpage=%ld&size=%d", path, strchr(path, '?') ? '&' : '?', page, page_size);
}

static bool answer_as_jsonb(const OcpbEndpoint *endpoint, const char *page_path,
							const OcpbHttpResult *http, OcpbPageRead *read,
							OcpbFailure *failure);

bool
ocpb_page_answered(const OcpbEndpoint *endpoint, const OcpbCallSubject *subject,
				   const char *page_path, long page, const OcpbHttpResult *http,
				   OcpbPageRead *read, OcpbFailure *failure)
{
	OcpbListPage list;
	volatile bool failed = false;

	if (!ocpb_parse_list_page(http->body, http->body_len, &list))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		failed = ocpb_exchange_failed(endpoint, subject, http, &list.envelope, failure);
		read->n_rows = list.n_contents;
		read->last = page >= list.total_pages || list.n_contents == 0;
		read->total_pages = list.total_pages;
	}
	PG_FINALLY();
	{
		ocpb_list_page_free(&list);
	}
	PG_END_TRY();
	if (failed)
		return false;
	return answer_as_jsonb(endpoint, page_path, http, read, failure);
}

/*
 * An answer that passed OCP's envelope, as jsonb without the credentials
 * of its URLs; false with the failure when jsonb cannot hold it.
 */
static bool
answer_as_jsonb(const OcpbEndpoint *endpoint, const char *page_path,
				const OcpbHttpResult *http, OcpbPageRead *read, OcpbFailure *failure)
{
	if (!ocpb_jsonb_takes(http->body, http->body_len))
	{
		failure->sqlerrcode = ERRCODE_EXTERNAL_ROUTINE_EXCEPTION;
		failure->message = psprintf("OCP server \"%s\" sent a page ocp_backup cannot store",
									endpoint->server_name);
		failure->detail = psprintf("The answer to %s holds a number PostgreSQL's numeric cannot hold, or text jsonb refuses.",
								   page_path);
		failure->hint = NULL;
		return false;
	}
	read->answer = DirectFunctionCall1(jsonb_in,
									   CStringGetDatum(without_url_credentials(http->body,
																			   http->body_len)));
	return true;
}

/*
 * The same for one object read with the lists (OcpbList.single): its
 * envelope checked as every call's, its data stored as it came.
 */
static bool
object_answered(const OcpbEndpoint *endpoint, const OcpbCallSubject *subject,
				const char *path, const OcpbHttpResult *http, OcpbPageRead *read,
				OcpbFailure *failure)
{
	OcpbAnswer	answer;
	volatile bool failed = false;

	if (!ocpb_parse_answer(http->body, http->body_len, &answer))
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	PG_TRY();
	{
		failed = ocpb_exchange_failed(endpoint, subject, http, &answer.envelope, failure);
		read->n_rows = 1;
		read->last = true;
		read->total_pages = 1;
	}
	PG_FINALLY();
	{
		ocpb_answer_free(&answer);
	}
	PG_END_TRY();
	if (failed)
		return false;
	return answer_as_jsonb(endpoint, path, http, read, failure);
}

/* GETs one page: its rows as jsonb, for the SQL that stores them. */
static void
read_page(const OcpbEndpoint *endpoint, const char *path, const OcpbCallSubject *subject,
		  long page, int page_size, OcpbPageRead *read)
{
	OcpbHttpRequest request;
	OcpbHttpResult http;
	OcpbFailure failure;

	memset(&request, 0, sizeof(request));
	request.method = "GET";
	request.path = ocpb_page_path(path, page, page_size);
	ocpb_http_exchange(endpoint, &request, &http);
	if (!ocpb_page_answered(endpoint, subject, request.path, page, &http, read, &failure))
		ocpb_raise_failure(&failure);
}

void
ocpb_read_pages(const OcpbEndpoint *endpoint, const char *path,
				const OcpbCallSubject *subject, int page_size,
				OcpbPageWriter write, void *arg)
{
	MemoryContext page_context = AllocSetContextCreate(CurrentMemoryContext,
													   "ocp_backup list page",
													   ALLOCSET_DEFAULT_SIZES);
	MemoryContext caller_context = MemoryContextSwitchTo(page_context);
	OcpbPageRead read;
	long		page;
	bool		go_on = true;

	/* OCP pages are 1-based; a page count is bounded by OCP's answer. */
	PG_TRY();
	{
		for (page = 1; go_on; page++)
		{
			if (page > OCPB_MAX_PAGES)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("OCP server \"%s\" lists more than %d pages", endpoint->server_name,
								OCPB_MAX_PAGES),
						 errdetail("The list is the answer to %s.", path)));
			read_page(endpoint, path, subject, page, page_size, &read);
			go_on = write(&read, arg) && !read.last;
			MemoryContextReset(page_context);
		}
	}
	PG_FINALLY();
	{
		MemoryContextSwitchTo(caller_context);
		MemoryContextDelete(page_context);
	}
	PG_END_TRY();
}

void
ocpb_list_page(const OcpbEndpoint *endpoint, OcpbList *list, OcpbPageRead *read)
{
	OcpbFailure failure;

	if (list->throttled)
		ereport(ERROR,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("OCP server \"%s\" is throttling requests", endpoint->server_name),
				 errdetail("The request to %s was not sent: the server answered 429 and its RateLimit-Reset has not passed.",
						   list->subject.action)));
	Assert(list->answered);
	if (list->single ?
		!object_answered(endpoint, &list->subject, list->path, list->http, read, &failure) :
		!ocpb_page_answered(endpoint, &list->subject, list->path, list->page, list->http, read,
							&failure))
		ocpb_raise_failure(&failure);
	list->last = read->last;
}

/* One round of ocpb_read_lists: the lists with a page to read. */
typedef struct ListRound
{
	OcpbList   *lists;
	int			n_lists;
	int		   *pending;		/* per list index of its group's first: requests out */
	OcpbListGroupDone done;
	void	   *arg;
} ListRound;

/* The group of list i: its first list and how many it has. */
static int
group_bounds(const ListRound *round, int i, int *n)
{
	int			first = i;
	int			last = i;

	while (first > 0 && round->lists[first - 1].group == round->lists[i].group)
		first--;
	while (last + 1 < round->n_lists && round->lists[last + 1].group == round->lists[i].group)
		last++;
	*n = last - first + 1;
	return first;
}

static void
hand_over_group(ListRound *round, int first, int n)
{
	int			i;

	for (i = first; i < first + n; i++)
		round->lists[i].go_on = false;
	round->done(&round->lists[first], n, round->arg);
	for (i = first; i < first + n; i++)
	{
		OcpbList   *list = &round->lists[i];

		if (list->answered || list->throttled)
			list->done = !list->go_on || list->last || list->throttled;
		if (list->http != NULL && list->http->body != NULL)
		{
			pfree(list->http->body);
			list->http->body = NULL;
		}
		list->answered = list->throttled = false;
		list->http = NULL;
	}
}

static void
list_answered(OcpbExchange *exchange, void *arg)
{
	ListRound  *round = arg;
	int			i = (int) (intptr_t) exchange->arg;
	int			first;
	int			n;

	round->lists[i].answered = true;
	round->lists[i].http = &exchange->result;
	first = group_bounds(round, i, &n);
	if (--round->pending[first] == 0)
		hand_over_group(round, first, n);
}

void
ocpb_read_lists(const OcpbEndpoint *endpoint, OcpbList *lists, int n_lists,
				OcpbListGroupDone done, void *arg)
{
	OcpbExchange *exchanges = palloc0(sizeof(OcpbExchange) * Max(n_lists, 1));
	OcpbExchangeHooks hooks;
	ListRound	round;
	int			n_exchanges;
	int			i;
	int			n;

	round.lists = lists;
	round.n_lists = n_lists;
	round.pending = palloc0(sizeof(int) * Max(n_lists, 1));
	round.done = done;
	round.arg = arg;
	memset(&hooks, 0, sizeof(hooks));
	hooks.answered = list_answered;
	hooks.arg = &round;
	hooks.pause_on_rate_limit = true;
	for (i = 0; i < n_lists; i++)
	{
		lists[i].page = 0;
		lists[i].done = lists[i].answered = lists[i].throttled = lists[i].last = false;
		lists[i].http = NULL;
	}
	for (;;)
	{
		n_exchanges = 0;
		for (i = 0; i < n_lists; i++)
		{
			OcpbList   *list = &lists[i];
			OcpbExchange *exchange;

			if (list->done)
				continue;
			if (++list->page > OCPB_MAX_PAGES)
				ereport(ERROR,
						(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
						 errmsg("OCP server \"%s\" lists more than %d pages", endpoint->server_name,
								OCPB_MAX_PAGES),
						 errdetail("The list is the answer to %s.", list->path)));
			exchange = &exchanges[n_exchanges++];
			memset(exchange, 0, sizeof(*exchange));
			exchange->endpoint = endpoint;
			exchange->request.method = "GET";
			exchange->request.path = list->single ? pstrdup(list->path) :
				ocpb_page_path(list->path, list->page, list->page_size);
			exchange->arg = (void *) (intptr_t) i;
			round.pending[group_bounds(&round, i, &n)]++;
		}
		if (n_exchanges == 0)
			break;
		ocpb_http_exchange_all(exchanges, n_exchanges, &hooks);
		/* The groups that had a request throttled were not handed over yet. */
		for (i = 0; i < n_exchanges; i++)
			if (exchanges[i].skipped)
				lists[(intptr_t) exchanges[i].arg].throttled = true;
		for (i = 0; i < n_exchanges; i++)
		{
			int			first = group_bounds(&round, (int) (intptr_t) exchanges[i].arg, &n);

			if (round.pending[first] > 0)
			{
				round.pending[first] = 0;
				hand_over_group(&round, first, n);
			}
		}
		for (i = 0; i < n_exchanges; i++)
			pfree((char *) exchanges[i].request.path);
	}
	pfree(round.pending);
	pfree(exchanges);
}

Datum
ocpb_call_privileged(const char *name, int nargs, const Oid *arg_types,
					 const Datum *args, const bool *nulls)
{
	LOCAL_FCINFO(fcinfo, FUNC_MAX_ARGS);
	FmgrInfo	function;
	Datum		result;
	int			i;

	fmgr_info(ocpb_extension_function(name, nargs, arg_types), &function);
	InitFunctionCallInfoData(*fcinfo, &function, nargs, InvalidOid, NULL, NULL);
	for (i = 0; i < nargs; i++)
	{
		fcinfo->args[i].value = args[i];
		fcinfo->args[i].isnull = nulls[i];
	}
	result = FunctionCallInvoke(fcinfo);
	if (fcinfo->isnull)
		return (Datum) 0;
	return result;
}
