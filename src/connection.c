/*
 * connection.c - the connection layer's cache: one entry per (server, user
 * mapping) holding the resolved endpoint and libcurl's handles.
 *
 * Resolving an endpoint reads a server's and a mapping's options and
 * splits the URL; libcurl's handles hold the kept-alive TCP (and TLS)
 * connections.  Both are kept for the next calls, and both are dropped,
 * for the changed entries only, when a server or user mapping changes: the
 * syscache invalidation names the tuple by its hash value.  Dropping the
 * multi handle closes the entry's connections at once, so a dropped or
 * re-pointed server keeps nothing open; an entry in use by a running
 * exchange is closed when that exchange ends.  Entries stay in the table
 * (their pointers stay valid); only what they hold is dropped.
 */
#include "connection.h"

#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

typedef struct ConnectionKey
{
	Oid			server_id;
	Oid			user_mapping_id;
} ConnectionKey;

static HTAB *connections = NULL;
static uint64 invalidations = 0;

uint64
ocpb_connection_invalidations(void)
{
	return invalidations;
}

OcpbEndpoint *
ocpb_copy_endpoint(const OcpbEndpoint *endpoint)
{
	OcpbEndpoint *copy = palloc(sizeof(OcpbEndpoint));

	*copy = *endpoint;
	copy->server_name = pstrdup(endpoint->server_name);
	copy->base_url = pstrdup(endpoint->base_url);
	copy->host_header = pstrdup(endpoint->host_header);
	copy->path_prefix = pstrdup(endpoint->path_prefix);
	ocpb_copy_server_options(&endpoint->options, &copy->options);
	ocpb_copy_mapping_options(&endpoint->credentials, &copy->credentials);
	return copy;
}

/* The resolved options go, credentials wiped first. */
static void
forget_endpoint(OcpbConnection *connection)
{
	if (connection->endpoint != NULL)
		ocpb_wipe_mapping_secrets(&connection->endpoint->credentials);
	connection->endpoint = NULL;
	if (connection->context != NULL)
		MemoryContextDelete(connection->context);
	connection->context = NULL;
}

/* Closes the entry's connections: its easy handles, then the multi one. */
static void
close_curl(OcpbConnection *connection)
{
	int			i;

	Assert(connection->in_flight == 0);
	for (i = 0; i < connection->n_idle; i++)
		curl_easy_cleanup(connection->idle[i]);
	if (connection->multi != NULL)
		curl_multi_cleanup(connection->multi);
	connection->multi = NULL;
	connection->n_idle = 0;
	connection->n_easy = 0;
	memset(&connection->watch, 0, sizeof(connection->watch));
	connection->closing = false;
}

static void
drop_entry_contents(OcpbConnection *connection)
{
	forget_endpoint(connection);
	if (connection->pins > 0)
		connection->closing = true;
	else
		close_curl(connection);
	/* A changed server may no longer be the one that sent the 429. */
	connection->paused_until = 0;
	connection->dropped_at = invalidations;
}

/*
 * A change to a server drops the entries of that server, a change to a
 * user mapping the entries of that mapping; a hash value of 0 (a cache
 * reset) or a change to a foreign-data wrapper drops them all.
 */
static void
invalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	OcpbConnection *connection;

	invalidations++;
	if (connections == NULL)
		return;
	hash_seq_init(&scan, connections);
	while ((connection = hash_seq_search(&scan)) != NULL)
	{
		if (hashvalue == 0 || cacheid == FOREIGNDATAWRAPPEROID ||
			(cacheid == FOREIGNSERVEROID && connection->server_hash == hashvalue) ||
			(cacheid == USERMAPPINGOID && OidIsValid(connection->user_mapping_id) &&
			 connection->mapping_hash == hashvalue))
			drop_entry_contents(connection);
	}
}

void
ocpb_connection_init(void)
{
	CacheRegisterSyscacheCallback(FOREIGNDATAWRAPPEROID, invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, invalidate, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, invalidate, (Datum) 0);
}

OcpbConnection *
ocpb_connection(Oid server_id, Oid user_mapping_id)
{
	ConnectionKey key;
	OcpbConnection *connection;
	bool		found;

	if (connections == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(ConnectionKey);
		ctl.entrysize = sizeof(OcpbConnection);
		ctl.hcxt = CacheMemoryContext;
		connections = hash_create("ocp_backup connections", 8, &ctl,
								  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	}
	memset(&key, 0, sizeof(key));
	key.server_id = server_id;
	key.user_mapping_id = user_mapping_id;
	connection = hash_search(connections, &key, HASH_ENTER, &found);
	if (!found)
	{
		memset(((char *) connection) + sizeof(ConnectionKey), 0,
			   sizeof(OcpbConnection) - sizeof(ConnectionKey));
		connection->server_hash = GetSysCacheHashValue1(FOREIGNSERVEROID,
														ObjectIdGetDatum(server_id));
		connection->mapping_hash = GetSysCacheHashValue1(USERMAPPINGOID,
														 ObjectIdGetDatum(user_mapping_id));
	}
	return connection;
}

void
ocpb_connection_remember(OcpbConnection *connection, const OcpbEndpoint *endpoint)
{
	MemoryContext old;

	forget_endpoint(connection);
	connection->context = AllocSetContextCreate(CacheMemoryContext,
												"ocp_backup endpoint",
												ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(connection->context);
	connection->endpoint = ocpb_copy_endpoint(endpoint);
	MemoryContextSwitchTo(old);
}

void
ocpb_connection_pin(OcpbConnection *connection)
{
	connection->pins++;
}

void
ocpb_connection_unpin(OcpbConnection *connection)
{
	Assert(connection->pins > 0);
	if (--connection->pins == 0 && connection->closing)
		close_curl(connection);
}
