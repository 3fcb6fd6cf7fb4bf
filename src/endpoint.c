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

static void
read_user_mapping(ForeignServer *server, OcpbEndpoint *endpoint,
				  bool mapping_required)
{
	Oid			user_id = GetUserId();
	HeapTuple	tuple = find_user_mapping(user_id, server->serverid);
	OcpbMappingOptions mapping;
	Datum		options;
	bool		isnull;

	if (!HeapTupleIsValid(tuple) && !mapping_required)
		return;
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("no user mapping for role \"%s\" on server \"%s\"",
						GetUserNameFromId(user_id, false), server->servername),
				 errhint("CREATE USER MAPPING FOR CURRENT_USER SERVER %s "
						 "OPTIONS (username '...', password '...');",
						 quote_identifier(server->servername))));
	endpoint->user_mapping_id = ((Form_pg_user_mapping) GETSTRUCT(tuple))->oid;
	options = SysCacheGetAttr(USERMAPPINGUSERSERVER, tuple,
							  Anum_pg_user_mapping_umoptions, &isnull);
	ocpb_read_mapping_options(isnull ? NIL : untransformRelOptions(options), &mapping);
	ReleaseSysCache(tuple);
	endpoint->username = mapping.username;
	endpoint->password = mapping.password;
	endpoint->access_key_id = mapping.access_key_id;
	endpoint->access_key_secret = mapping.access_key_secret;
}

bool
ocpb_endpoint_has_credentials(const OcpbEndpoint *endpoint)
{
	return OidIsValid(endpoint->user_mapping_id);
}

const char *
ocpb_endpoint_account(const OcpbEndpoint *endpoint)
{
	return endpoint->username ? endpoint->username : endpoint->access_key_id;
}

static OcpbEndpoint *
build_endpoint(ForeignServer *server, bool mapping_required)
{
	OcpbEndpoint *endpoint = palloc0(sizeof(OcpbEndpoint));
	OcpbServerOptions options;

	ocpb_read_server_options(server->options, &options);
	endpoint->server_id = server->serverid;
	endpoint->server_name = server->servername;
	endpoint->connect_timeout_ms = options.connect_timeout_ms;
	endpoint->timeout_ms = options.timeout_ms;
	endpoint->ca_file = options.ca_file;
	endpoint->verify_tls = options.verify_tls;
	endpoint->retries = options.retries;
	endpoint->retry_backoff_ms = options.retry_backoff_ms;
	endpoint->proxy = options.proxy;
	endpoint->no_proxy = options.no_proxy;
	endpoint->https = pg_strncasecmp(options.url, "https:", 6) == 0;
	ocpb_split_url(options.url, &endpoint->base_url, &endpoint->host_header,
				   &endpoint->path_prefix);
	read_user_mapping(server, endpoint, mapping_required);
	return endpoint;
}

/*
 * Resolved endpoints, kept for the next calls: resolving reads the catalogs
 * (a scan of pg_foreign_server for the default server), options and the
 * URL.  Any change to a wrapper, server or user mapping forgets them all;
 * USAGE on the server is still checked on every call.
 */
typedef struct CachedEndpoint
{
	char	   *requested;		/* the server named; NULL for the only one */
	Oid			user_id;
	bool		mapping_required;
	OcpbEndpoint *endpoint;
} CachedEndpoint;

static MemoryContext endpoint_cache_context = NULL;
static List *endpoint_cache = NIL;
static bool endpoint_cache_stale = false;

static void
mark_endpoint_cache_stale(Datum arg, int cacheid, uint32 hashvalue)
{
	endpoint_cache_stale = true;
}

static char *
copy_or_null(const char *s)
{
	return s == NULL ? NULL : pstrdup(s);
}

static void
wipe(char *secret)
{
	if (secret != NULL)
		explicit_bzero(secret, strlen(secret));
}

/* Forgets every cached endpoint, wiping the credentials first. */
static void
forget_endpoints(void)
{
	ListCell   *cell;

	foreach(cell, endpoint_cache)
	{
		OcpbEndpoint *endpoint = ((CachedEndpoint *) lfirst(cell))->endpoint;

		wipe(endpoint->password);
		wipe(endpoint->access_key_secret);
	}
	endpoint_cache = NIL;
	MemoryContextReset(endpoint_cache_context);
}

static void
prepare_endpoint_cache(void)
{
	if (endpoint_cache_context == NULL)
	{
		endpoint_cache_context = AllocSetContextCreate(CacheMemoryContext,
													   "ocp_backup endpoints",
													   ALLOCSET_SMALL_SIZES);
		CacheRegisterSyscacheCallback(FOREIGNDATAWRAPPEROID, mark_endpoint_cache_stale, (Datum) 0);
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, mark_endpoint_cache_stale, (Datum) 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID, mark_endpoint_cache_stale, (Datum) 0);
	}
	if (endpoint_cache_stale)
	{
		endpoint_cache_stale = false;
		forget_endpoints();
	}
}

static OcpbEndpoint *
cached_endpoint(const char *requested, Oid user_id, bool mapping_required)
{
	ListCell   *cell;

	foreach(cell, endpoint_cache)
	{
		CachedEndpoint *entry = lfirst(cell);

		if (entry->user_id == user_id && entry->mapping_required == mapping_required &&
			((entry->requested == NULL && requested == NULL) ||
			 (entry->requested != NULL && requested != NULL &&
			  strcmp(entry->requested, requested) == 0)))
			return entry->endpoint;
	}
	return NULL;
}

/* A deep copy in the current memory context. */
static OcpbEndpoint *
copy_endpoint(const OcpbEndpoint *endpoint)
{
	OcpbEndpoint *copy = palloc(sizeof(OcpbEndpoint));

	*copy = *endpoint;
	copy->server_name = pstrdup(endpoint->server_name);
	copy->base_url = pstrdup(endpoint->base_url);
	copy->host_header = pstrdup(endpoint->host_header);
	copy->path_prefix = pstrdup(endpoint->path_prefix);
	copy->proxy = copy_or_null(endpoint->proxy);
	copy->no_proxy = copy_or_null(endpoint->no_proxy);
	copy->ca_file = copy_or_null(endpoint->ca_file);
	copy->username = copy_or_null(endpoint->username);
	copy->password = copy_or_null(endpoint->password);
	copy->access_key_id = copy_or_null(endpoint->access_key_id);
	copy->access_key_secret = copy_or_null(endpoint->access_key_secret);
	return copy;
}

static void
remember_endpoint(const char *requested, Oid user_id, bool mapping_required,
				  const OcpbEndpoint *endpoint)
{
	MemoryContext old = MemoryContextSwitchTo(endpoint_cache_context);
	CachedEndpoint *entry = palloc(sizeof(CachedEndpoint));

	entry->requested = copy_or_null(requested);
	entry->user_id = user_id;
	entry->mapping_required = mapping_required;
	entry->endpoint = copy_endpoint(endpoint);
	endpoint_cache = lappend(endpoint_cache, entry);
	MemoryContextSwitchTo(old);
}

/* The server a call names, else the default_server setting, else NULL. */
static const char *
requested_server(const char *server_name)
{
	if (server_name != NULL)
		return server_name;
	if (ocpb_default_server != NULL && ocpb_default_server[0] != '\0')
		return ocpb_default_server;
	return NULL;
}

OcpbEndpoint *
ocpb_resolve_endpoint(const char *server_name, bool mapping_required)
{
	const char *requested = requested_server(server_name);
	Oid			user_id = GetUserId();
	OcpbEndpoint *endpoint;
	ForeignServer *server;

	prepare_endpoint_cache();
	endpoint = cached_endpoint(requested, user_id, mapping_required);
	if (endpoint != NULL)
	{
		check_usage(endpoint->server_id, endpoint->server_name);
		/* A copy: the cache may be reset before the caller is done. */
		return copy_endpoint(endpoint);
	}
	server = choose_server(server_name);
	check_usage(server->serverid, server->servername);
	endpoint = build_endpoint(server, mapping_required);
	remember_endpoint(requested, user_id, mapping_required, endpoint);
	return endpoint;
}
