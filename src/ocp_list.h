/*
 * ocp_list.h - reads OCP's paged lists (clusters, tenants, backup jobs,
 * tasks) one page at a time, and hands each page to the SQL that stores it.
 */
#ifndef OCPB_OCP_LIST_H
#define OCPB_OCP_LIST_H

#include "postgres.h"

#include "endpoint.h"

/* OCP's largest page; the fewer round trips, the shorter a sync. */
#define OCPB_LIST_PAGE_SIZE 2000

typedef struct OcpbPageRead
{
	Datum		answer;			/* the page as OCP sent it, as jsonb */
	int			n_rows;			/* rows on the page */
	bool		last;			/* no page follows */
} OcpbPageRead;

/*
 * GETs page number `page` (1-based) of the list at path (a path with a
 * query string of its own or none) through endpoint; `what` names the list
 * in error messages ("the clusters").  A failed exchange is raised,
 * classified like every call to OCP.
 */
extern void ocpb_read_list_page(const OcpbEndpoint *endpoint, const char *path,
								const char *what, long page, int page_size,
								OcpbPageRead *read);

/* Calls a privileged writer of the ocp_backup schema through fmgr. */
extern Datum ocpb_call_writer(const char *name, int nargs, const Oid *arg_types,
							  const Datum *args, const bool *nulls);

#endif
