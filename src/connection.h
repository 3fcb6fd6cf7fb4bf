/*
 * connection.h - the connection layer's cache: one entry per (server, user
 * mapping) holding the resolved endpoint and libcurl's handles, dropped
 * precisely when that server or mapping changes.
 */
#ifndef OCPB_CONNECTION_H
#define OCPB_CONNECTION_H

#include "postgres.h"

#include <curl/curl.h>

#include "datatype/timestamp.h"
#include "storage/latch.h"

#include "endpoint_type.h"
#include "options.h"

/* A transfer waits on a socket or two (a connection, a proxy's). */
#define OCPB_MAX_WATCHED_SOCKETS (2 * OCPB_MAX_PARALLEL + 8)

/* The sockets libcurl waits on and its timer, as its callbacks tell them. */
typedef struct OcpbSocketWatch
{
	curl_socket_t fds[OCPB_MAX_WATCHED_SOCKETS];
	int			what[OCPB_MAX_WATCHED_SOCKETS]; /* CURL_POLL_IN, _OUT, _INOUT */
	int			n;
	bool		overflow;
	bool		changed;		/* the wait set must be built again */
	bool		has_deadline;
	TimestampTz deadline;		/* when libcurl's timer runs out */
} OcpbSocketWatch;

typedef struct OcpbConnection
{
	Oid			server_id;		/* the key: server and user mapping */
	Oid			user_mapping_id;	/* InvalidOid: none (anonymous calls) */
	uint32		server_hash;	/* syscache hash values, to match */
	uint32		mapping_hash;	/* invalidations precisely */
	MemoryContext context;		/* holds endpoint; NULL until resolved */
	OcpbEndpoint *endpoint;		/* NULL: to resolve again */

	/* libcurl's part, used by http.c: NULL until the first request. */
	CURLM	   *multi;			/* owns the kept-alive connections */
	CURL	   *idle[OCPB_MAX_PARALLEL];	/* easy handles ready for a transfer */
	int			n_idle;
	int			n_easy;			/* created, idle or transferring */
	int			in_flight;		/* transfers running now */
	int			pins;			/* exchanges running on it now */
	bool		closing;		/* changed while pinned: close when unpinned */
	OcpbSocketWatch watch;
	TimestampTz paused_until;	/* after a 429: no request before then */
	uint64		dropped_at;		/* ocpb_connection_invalidations() when its
								 * contents were last dropped */
} OcpbConnection;

/*
 * The entry for a server and user mapping, made if there is none; its
 * endpoint is NULL when it must be resolved (again).
 */
extern OcpbConnection *ocpb_connection(Oid server_id, Oid user_mapping_id);

/* Keeps a copy of endpoint, the resolved options, in the entry. */
extern void ocpb_connection_remember(OcpbConnection *connection,
									 const OcpbEndpoint *endpoint);

/* A deep copy of an endpoint in the current memory context. */
extern OcpbEndpoint *ocpb_copy_endpoint(const OcpbEndpoint *endpoint);

/*
 * A pinned entry keeps its libcurl handles while a transfer uses them,
 * even if its server or mapping changes meanwhile: they are closed at
 * the unpin.
 */
extern void ocpb_connection_pin(OcpbConnection *connection);
extern void ocpb_connection_unpin(OcpbConnection *connection);

/*
 * How many server, mapping or wrapper invalidations this backend has
 * processed: an endpoint resolved while the count moved may be stale.
 */
extern uint64 ocpb_connection_invalidations(void);

/* Registers the invalidation callbacks, from _PG_init. */
extern void ocpb_connection_init(void);

#endif
