/*
 * ocp_list.h - reads OCP's paged lists (clusters, tenants, backup jobs,
 * tasks) one page at a time, and hands each page to the SQL that stores it.
 */
#ifndef OCPB_OCP_LIST_H
#define OCPB_OCP_LIST_H

#include "postgres.h"

#include "endpoint.h"
#include "http.h"
#include "report.h"

/* OCP's largest page; the fewer round trips, the shorter a sync. */
#define OCPB_LIST_PAGE_SIZE 2000

/* More pages than this is no list OCP keeps: a broken or hostile answer. */
#define OCPB_MAX_PAGES 1000

typedef struct OcpbPageRead
{
	Datum		answer;			/* the page as OCP sent it, as jsonb */
	int			n_rows;			/* rows on the page */
	bool		last;			/* no page follows */
	long long	total_pages;	/* as OCP said; 1 when it did not */
} OcpbPageRead;

/*
 * Stores one page; returns whether to read the next one (when there is
 * one).  It runs in a memory context reset after each page.
 */
typedef bool (*OcpbPageWriter) (const OcpbPageRead *read, void *arg);

/*
 * GETs the pages of the list at path (a path with or without a query
 * string of its own) through endpoint, `page_size` rows each, from the
 * first, handing each to write until it says stop or the last is read.
 * A failed exchange is raised, classified like every call to OCP, in the
 * words of subject.
 */
extern void ocpb_read_pages(const OcpbEndpoint *endpoint, const char *path,
							const OcpbCallSubject *subject, int page_size,
							OcpbPageWriter write, void *arg);

/* The path of one page of the list at path, `page_size` rows a page. */
extern char *ocpb_page_path(const char *path, long page, int page_size);

/*
 * Reads OCP's answer to the GET of one page (page_path, page number page):
 * true with read filled, or false with the failure worded in the words of
 * subject, not raised, so that one list of many can fail alone.
 */
extern bool ocpb_page_answered(const OcpbEndpoint *endpoint, const OcpbCallSubject *subject,
							   const char *page_path, long page, const OcpbHttpResult *http,
							   OcpbPageRead *read, OcpbFailure *failure);

/*
 * One paged list of those ocpb_read_lists reads together.  The caller
 * fills path, subject, page_size and group (or single, for one object read
 * with the lists: its path sent as it is, its one page the last); the
 * runner the rest.
 */
typedef struct OcpbList
{
	const char *path;			/* with or without a query string of its own */
	OcpbCallSubject subject;	/* whose words a failure takes */
	int			page_size;
	int			group;			/* lists of a group are adjacent, handed over together */
	bool		single;			/* no paged list: one GET of path, its data an object */
	/* For the group hook, of this round: */
	long		page;			/* the page requested (1-based) */
	bool		answered;		/* its exchange has a result */
	bool		throttled;		/* never sent: its server paused after a 429 */
	OcpbHttpResult *http;		/* the exchange's result, read by ocpb_list_page */
	bool		last;			/* set by ocpb_list_page: no page follows */
	/* Set by the group hook: read the next page (when there is one). */
	bool		go_on;
	bool		done;			/* no page of it is read any more */
} OcpbList;

/*
 * A group whose requests of this round all have their result (or were
 * never sent, throttled).  It turns each answered list's result into a
 * page with ocpb_list_page, stores it, and sets go_on on the lists whose
 * next page it wants.  It runs while other groups' requests are in flight;
 * an error it raises ends the whole read.
 */
typedef void (*OcpbListGroupDone) (OcpbList *lists, int n_lists, void *arg);

/*
 * Reads the lists through endpoint concurrently, round by round: page 1 of
 * each, then the next page of those that go on, at most the server's
 * max_parallel requests in flight; a 429 pauses the server as refresh's
 * reads do (the lists not yet sent are handed over throttled).  Each
 * group's hook runs as soon as its pages of the round are in.
 */
extern void ocpb_read_lists(const OcpbEndpoint *endpoint, OcpbList *lists, int n_lists,
							OcpbListGroupDone done, void *arg);

/*
 * The page a list's exchange brought, as jsonb, with its row count and
 * whether it is the last; raises the exchange's failure, classified and
 * worded like every call to OCP, or that it was throttled.
 */
extern void ocpb_list_page(const OcpbEndpoint *endpoint, OcpbList *list, OcpbPageRead *read);

/*
 * Calls one of the ocp_backup schema's privileged functions (SECURITY
 * DEFINER, granted to nobody) through fmgr, which checks no EXECUTE right.
 */
extern Datum ocpb_call_privileged(const char *name, int nargs, const Oid *arg_types,
								  const Datum *args, const bool *nulls);

#endif
