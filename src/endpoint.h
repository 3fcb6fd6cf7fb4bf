/*
 * endpoint.h - resolves the server a call names (or the default one) and
 * the caller's user mapping into everything needed to talk to OCP.
 */
#ifndef OCPB_ENDPOINT_H
#define OCPB_ENDPOINT_H

#include "postgres.h"

#include "nodes/pg_list.h"

#include "endpoint_type.h"

/* The GUC ocp_backup.default_server. */
extern char *ocpb_default_server;

/*
 * The endpoint for server_name, or for the default server when it is NULL,
 * as the current user: raises 42704 when there is no such server, 42501
 * when the user lacks USAGE on the server.  A missing user mapping raises
 * 42704 too, unless mapping_required is false: then the endpoint has no
 * credentials and user_mapping_id is InvalidOid.
 */
extern OcpbEndpoint *ocpb_resolve_endpoint(const char *server_name,
										   bool mapping_required);

/* The names of the ocp_backup servers the current user has USAGE on, sorted. */
extern List *ocpb_usable_servers(void);

extern bool ocpb_endpoint_has_credentials(const OcpbEndpoint *endpoint);

/*
 * The OCP account the endpoint authenticates as: its username or access
 * key id (not a secret); NULL without credentials.
 */
extern const char *ocpb_endpoint_account(const OcpbEndpoint *endpoint);

#endif
