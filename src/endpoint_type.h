/*
 * endpoint_type.h - an endpoint: a server and the caller's user mapping
 * resolved into everything needed to talk to OCP.  The type alone, beneath
 * both the connection layer (connection.c), which caches endpoints, and
 * their resolution (endpoint.c), which uses that cache.
 */
#ifndef OCPB_ENDPOINT_TYPE_H
#define OCPB_ENDPOINT_TYPE_H

#include "postgres.h"

#include "options.h"

typedef struct OcpbEndpoint
{
	Oid			server_id;
	Oid			user_mapping_id;
	char	   *server_name;
	/* What the url option says, split once. */
	char	   *base_url;		/* scheme://host[:port] and the path prefix,
								 * no trailing slash */
	char	   *host_header;	/* the Host header value sent and signed */
	char	   *path_prefix;	/* "" or "/a/b": before every request's
								 * path, sent and signed */
	bool		https;
	uint64		resolved_at;	/* ocpb_connection_invalidations() then */
	/* The server's options, as options.c's table reads them. */
	OcpbServerOptions options;
	/*
	 * The user mapping's: either username and password, or the access key
	 * pair; all NULL without a mapping.
	 */
	OcpbMappingOptions credentials;
} OcpbEndpoint;

#endif
