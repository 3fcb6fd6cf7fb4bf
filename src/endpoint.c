/*
 * endpoint.c - resolves the server a call names (or the default one) and
 * the caller's user mapping into everything needed to talk to OCP.
 */
#include "endpoint.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/reloptions.h"
#include "access/table.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_user_mapping.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "connection.h"
#include "options.h"
#include "pg_compat.h"

#define OCPB_FDW_NAME "ocp_backup"

char	   *ocpb_default_server = NULL;

static Oid
ocp_backup_fdw_id(void)
{
	return GetForeignDataWrapperByName(OCPB_FDW_NAME, false)->fdwid;
}

/* The server named, which must belong to this wrapper. */
static ForeignServer *
named_server(const char *name, const char *named_by)
{
	ForeignServer *server = GetForeignServerByName(name, true);

	if (server == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("server \"%s\" does not exist", name),
				 errdetail("The server was named by %s.", named_by)));
	if (server->fdwid != ocp_backup_fdw_id())
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("server \"%s\" is not an ocp_backup server", name),
				 errdetail("The server was named by %s.", named_by)));
	return server;
}

static int
compare_names(const ListCell *a, const ListCell *b)
{
	return strcmp(lfirst(a), lfirst(b));
}

/* The one server of this wrapper, when there is exactly one. */
static ForeignServer *
only_server(void)
{
	Oid			fdw_id = ocp_backup_fdw_id();
	Relation	catalog;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			found = InvalidOid;
	int			count = 0;

	catalog = table_open(ForeignServerRelationId, AccessShareLock);
	scan = systable_beginscan(catalog, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_foreign_server form = (Form_pg_foreign_server) GETSTRUCT(tuple);

		if (form->srvfdw == fdw_id)
		{
			found = form->oid;
			count++;
		}
	}
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);

	if (count == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no ocp_backup server exists"),
				 errhint("Create one: CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup "
						 "OPTIONS (url 'https://ocp.example.net:8080').")));
	if (count > 1)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("more than one ocp_backup server exists, and none was chosen"),
				 errhint("Pass the server argument, or set ocp_backup.default_server.")));
	return GetForeignServer(found);
}

List *
ocpb_usable_servers(void)
{
	Oid			fdw_id = ocp_backup_fdw_id();
	Relation	catalog;
	SysScanDesc scan;
	HeapTuple	tuple;
	List	   *names = NIL;

	catalog = table_open(ForeignServerRelationId, AccessShareLock);
	scan = systable_beginscan(catalog, InvalidOid, false, NULL, 0, NULL);
	while (HeapTupleIsValid(tuple = systable_getnext(scan)))
	{
		Form_pg_foreign_server form = (Form_pg_foreign_server) GETSTRUCT(tuple);

		if (form->srvfdw == fdw_id &&
			pg_foreign_server_aclcheck(form->oid, GetUserId(), ACL_USAGE) == ACLCHECK_OK)
			names = lappend(names, pstrdup(NameStr(form->srvname)));
	}
	systable_endscan(scan);
	table_close(catalog, AccessShareLock);
	list_sort(names, compare_names);
	return names;
}

static ForeignServer *
choose_server(const char *server_name)
{
	if (server_name != NULL)
		return named_server(server_name, "the server argument");
	if (ocpb_default_server != NULL && ocpb_default_server[0] != '\0')
		return named_server(ocpb_default_server, "ocp_backup.default_server");
	return only_server();
}

static void
check_usage(Oid server_id, const char *server_name)
{
	AclResult	result = pg_foreign_server_aclcheck(server_id, GetUserId(), ACL_USAGE);

	if (result != ACLCHECK_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied for foreign server %s", server_name),
				 errhint("A superuser or the server's owner can run: GRANT USAGE ON FOREIGN SERVER %s TO %s;",
						 quote_identifier(server_name),
						 quote_identifier(GetUserNameFromId(GetUserId(), false)))));
}

/* The user's own mapping, else the PUBLIC one, else InvalidOid. */
static HeapTuple
find_user_mapping(Oid user_id, Oid server_id)
{
	HeapTuple	tuple;

	tuple = SearchSysCache2(USERMAPPINGUSERSERVER,
							ObjectIdGetDatum(user_id), ObjectIdGetDatum(server_id));
	if (!HeapTupleIsValid(tuple))
		tuple = SearchSysCache2(USERMAPPINGUSERSERVER,
								ObjectIdGetDatum(InvalidOid),
								ObjectIdGetDatum(server_id));
	return tuple;
}

/* The credentials of the user mapping found for the call. */
static void
read_user_mapping(Oid user_mapping_id, OcpbEndpoint *endpoint)
{
	HeapTuple	tuple = SearchSysCache1(USERMAPPINGOID, ObjectIdGetDatum(user_mapping_id));
	Datum		options;
	bool		isnull;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for user mapping %u", user_mapping_id);
	endpoint->user_mapping_id = user_mapping_id;
	options = SysCacheGetAttr(USERMAPPINGOID, tuple,
							  Anum_pg_user_mapping_umoptions, &isnull);
	ocpb_read_mapping_options(isnull ? NIL : untransformRelOptions(options),
							  &endpoint->credentials);
	ReleaseSysCache(tuple);
}

bool
ocpb_endpoint_has_credentials(const OcpbEndpoint *endpoint)
{
	return OidIsValid(endpoint->user_mapping_id);
}

const char *
ocpb_endpoint_account(const OcpbEndpoint *endpoint)
{
	return endpoint->credentials.username ? endpoint->credentials.username :
		endpoint->credentials.access_key_id;
}

static OcpbEndpoint *
build_endpoint(ForeignServer *server, Oid user_mapping_id)
{
	OcpbEndpoint *endpoint = palloc0(sizeof(OcpbEndpoint));

	ocpb_read_server_options(server->options, &endpoint->options);
	endpoint->server_id = server->serverid;
	endpoint->server_name = server->servername;
	endpoint->https = pg_strncasecmp(endpoint->options.url, "https:", 6) == 0;
	ocpb_split_url(endpoint->options.url, &endpoint->base_url, &endpoint->host_header,
				   &endpoint->path_prefix);
	if (OidIsValid(user_mapping_id))
		read_user_mapping(user_mapping_id, endpoint);
	return endpoint;
}

/*
 * The server chosen when a call names none and the default_server setting
 * is empty: finding it scans pg_foreign_server, so the answer is kept
 * until any server changes (one created makes the choice ambiguous).
 */
static Oid	only_server_id = InvalidOid;

static void
forget_only_server(Datum arg, int cacheid, uint32 hashvalue)
{
	only_server_id = InvalidOid;
}

static ForeignServer *
chosen_server(const char *server_name)
{
	static bool callback_registered = false;
	ForeignServer *server;

	if (server_name != NULL || (ocpb_default_server != NULL && ocpb_default_server[0] != '\0'))
		return choose_server(server_name);
	if (!callback_registered)
	{
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, forget_only_server, (Datum) 0);
		callback_registered = true;
	}
	if (OidIsValid(only_server_id))
	{
		server = GetForeignServerExtended(only_server_id, FSV_MISSING_OK);
		if (server != NULL)
			return server;
	}
	server = only_server();
	only_server_id = server->serverid;
	return server;
}

static OcpbEndpoint *
resolve_once(const char *server_name, bool mapping_required, uint64 resolved_at)
{
	ForeignServer *server = chosen_server(server_name);
	OcpbConnection *connection;
	OcpbEndpoint *endpoint;
	HeapTuple	mapping;
	Oid			user_mapping_id = InvalidOid;

	check_usage(server->serverid, server->servername);
	mapping = find_user_mapping(GetUserId(), server->serverid);
	if (HeapTupleIsValid(mapping))
	{
		user_mapping_id = ((Form_pg_user_mapping) GETSTRUCT(mapping))->oid;
		ReleaseSysCache(mapping);
	}
	else if (mapping_required)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no user mapping for role \"%s\" on server \"%s\"",
						GetUserNameFromId(GetUserId(), false), server->servername),
				 errhint("CREATE USER MAPPING FOR CURRENT_USER SERVER %s "
						 "OPTIONS (username '...', password '...');",
						 quote_identifier(server->servername))));
	connection = ocpb_connection(server->serverid, user_mapping_id);
	if (connection->endpoint != NULL)
		return ocpb_copy_endpoint(connection->endpoint);
	endpoint = build_endpoint(server, user_mapping_id);
	endpoint->resolved_at = resolved_at;
	/* Kept only if no invalidation came while the catalogs were read. */
	if (ocpb_connection_invalidations() == resolved_at)
		ocpb_connection_remember(connection, endpoint);
	return endpoint;
}

/*
 * The endpoint comes from the connection layer's entry for the server and
 * mapping, resolved again only after either changed; USAGE on the server
 * is checked on every call.  The caller gets a copy: the entry may be
 * dropped by an invalidation before the caller is done.  Reading the
 * catalogs may process invalidations: an endpoint resolved meanwhile is
 * resolved again, so that none is built from options already changed.
 */
OcpbEndpoint *
ocpb_resolve_endpoint(const char *server_name, bool mapping_required)
{
	OcpbEndpoint *endpoint;
	uint64		resolved_at;

	do
	{
		resolved_at = ocpb_connection_invalidations();
		endpoint = resolve_once(server_name, mapping_required, resolved_at);
	} while (ocpb_connection_invalidations() != resolved_at);
	return endpoint;
}
