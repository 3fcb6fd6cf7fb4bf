/*
 * ocp_list.h - reads OCP's paged lists (clusters, tenants, backup jobs,
 * tasks) one page at a time, and hands each page to the SQL that stores it.
 */
#ifndef OCPB_OCP_LIST_H
#define OCPB_OCP_LIST_H

#include "postgres.h"

#include "endpoint.h"
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
 * Calls one of the ocp_backup schema's privileged functions (SECURITY
 * DEFINER, granted to nobody) through fmgr, which checks no EXECUTE right.
 */
extern Datum ocpb_call_privileged(const char *name, int nargs, const Oid *arg_types,
								  const Datum *args, const bool *nulls);

#endif
