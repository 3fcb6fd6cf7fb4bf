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
 * A server's options, defaults applied.  Each field is an option of
 * options.c's table, which reads, copies and wipes them by its kinds: the
 * options are declared there once and held here once (an endpoint holds
 * this struct, never field-by-field copies).
 */
typedef struct OcpbServerOptions
{
	char	   *url;
	int			connect_timeout_ms;
	int			timeout_ms;
	char	   *ca_file;		/* NULL: the system's CA bundle */
	bool		verify_tls;
	int			retries;
	int			retry_backoff_ms;
	char	   *proxy;			/* NULL: no proxy, whatever the environment */
	char	   *no_proxy;		/* NULL: none; only with proxy */
	int			max_parallel;	/* requests in flight at once, 1 to 64 */
} OcpbServerOptions;

/* A user mapping's credentials: one pair or the other, never both. */
typedef struct OcpbMappingOptions
{
	char	   *username;
	char	   *password;
	char	   *access_key_id;
	char	   *access_key_secret;
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
