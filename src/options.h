/*
 * options.h - the options of ocp_backup servers and user mappings.
 */
#ifndef OCPB_OPTIONS_H
#define OCPB_OPTIONS_H

#include "postgres.h"
#include "nodes/pg_list.h"

#define OCPB_DEFAULT_CONNECT_TIMEOUT_MS 5000
#define OCPB_DEFAULT_TIMEOUT_MS 30000
#define OCPB_DEFAULT_RETRY_BACKOFF_MS 500
#define OCPB_MAX_RETRIES 10
#define OCPB_MAX_PARALLEL 64
#define OCPB_DEFAULT_MAX_PARALLEL 8

/*
 * The options, declared once: X(name, kind, C type, default) for each.
 * These lists make the structs below, which hold the options (an endpoint
 * holds one of each, never field-by-field copies), and options.c's table,
 * by whose kinds the validator checks a value and the readers parse, store,
 * copy and wipe it.  Kinds (options.c's OPTION_<kind>): URL, PROXY and
 * HOST_LIST are checked as such; MILLISECONDS from 1 ms to a day; RETRIES
 * from 0 to OCPB_MAX_RETRIES; PARALLEL from 1 to OCPB_MAX_PARALLEL; PATH
 * absolute; TEXT not empty; SECRET as TEXT, never shown and wiped when
 * dropped.  A NULL text option is one not set: ca_file NULL is the system's
 * CA bundle, proxy NULL no proxy whatever the environment says, no_proxy
 * NULL none (it needs proxy).
 */
#define OCPB_SERVER_OPTIONS(X) \
	X(url, URL, char *, NULL) \
	X(connect_timeout_ms, MILLISECONDS, int, OCPB_DEFAULT_CONNECT_TIMEOUT_MS) \
	X(timeout_ms, MILLISECONDS, int, OCPB_DEFAULT_TIMEOUT_MS) \
	X(ca_file, PATH, char *, NULL) \
	X(verify_tls, BOOLEAN, bool, true) \
	X(retries, RETRIES, int, 0) \
	X(retry_backoff_ms, MILLISECONDS, int, OCPB_DEFAULT_RETRY_BACKOFF_MS) \
	X(proxy, PROXY, char *, NULL) \
	X(no_proxy, HOST_LIST, char *, NULL) \
	X(max_parallel, PARALLEL, int, OCPB_DEFAULT_MAX_PARALLEL)

/* A user mapping's credentials: one pair or the other, never both. */
#define OCPB_MAPPING_OPTIONS(X) \
	X(username, TEXT, char *, NULL) \
	X(password, SECRET, char *, NULL) \
	X(access_key_id, TEXT, char *, NULL) \
	X(access_key_secret, SECRET, char *, NULL)

#define OCPB_OPTION_FIELD(name, kind, type, default_value) type name;

/* A server's options, defaults applied. */
typedef struct OcpbServerOptions
{
	OCPB_SERVER_OPTIONS(OCPB_OPTION_FIELD)
} OcpbServerOptions;

/* A user mapping's options. */
typedef struct OcpbMappingOptions
{
	OCPB_MAPPING_OPTIONS(OCPB_OPTION_FIELD)
} OcpbMappingOptions;

extern void ocpb_read_server_options(List *options, OcpbServerOptions *server);
extern void ocpb_read_mapping_options(List *options, OcpbMappingOptions *mapping);

/*
 * Deep copies in the current memory context, by the table: every text
 * option's value copied, numbers and booleans as they are.
 */
extern void ocpb_copy_server_options(const OcpbServerOptions *from, OcpbServerOptions *to);
extern void ocpb_copy_mapping_options(const OcpbMappingOptions *from, OcpbMappingOptions *to);

/* Overwrites the value of every secret option (by the table) with zeros. */
extern void ocpb_wipe_mapping_secrets(OcpbMappingOptions *mapping);

/*
 * Splits a valid url option into the base URL requests are sent to
 * (scheme://host[:port] and the path prefix, no trailing slash), the Host
 * header value that goes with it, and the path prefix alone ("" or "/a/b",
 * no trailing slash), which comes before every request's /api/v2/... path
 * and is signed with it.
 */
extern void ocpb_split_url(const char *url, char **base_url, char **host_header,
						   char **path_prefix);

#endif
