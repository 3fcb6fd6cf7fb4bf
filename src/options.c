/*
 * options.c - validates and reads the options of ocp_backup servers and
 * user mappings.
 *
 * The validator runs at CREATE and ALTER time, so a typo in a pg_cron job's
 * server is found when the DBA types it rather than at 2 a.m.  Secrets are
 * only accepted on user mappings, which pg_user_mappings hides from other
 * roles; a server's options are readable by anyone with access to the
 * catalog.
 */
#include "options.h"

#include <limits.h>
#include <unistd.h>

#include <curl/curl.h>

#include "access/reloptions.h"
#include "catalog/pg_foreign_data_wrapper.h"
#include "catalog/pg_foreign_server.h"
#include "catalog/pg_type.h"
#include "catalog/pg_user_mapping.h"
#include "commands/defrem.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/builtins.h"

PG_FUNCTION_INFO_V1(ocp_backup_fdw_validator);

#define MAX_TIMEOUT_MS (24 * 3600 * 1000)

typedef enum OptionKind
{
	OPTION_URL,
	OPTION_PROXY,
	OPTION_HOST_LIST,
	OPTION_MILLISECONDS,
	OPTION_RETRIES,
	OPTION_PARALLEL,
	OPTION_BOOLEAN,
	OPTION_PATH,
	OPTION_TEXT,
	OPTION_SECRET				/* text that no message may ever show */
} OptionKind;

/*
 * The one table of options, made from options.h's lists: the validator
 * checks a value by its kind, and the readers store it, parsed by the same
 * kind, at its offset in OcpbServerOptions or OcpbMappingOptions (by its
 * context).  Text kinds are char * fields, numbers int, booleans bool.
 */
typedef struct KnownOption
{
	const char *name;
	Oid			context;		/* the catalog whose objects take it */
	OptionKind	kind;
	size_t		offset;			/* of its field in the context's struct */
} KnownOption;

#define SERVER_OPTION(name, kind, type, default_value) \
	{#name, ForeignServerRelationId, OPTION_##kind, offsetof(OcpbServerOptions, name)},
#define MAPPING_OPTION(name, kind, type, default_value) \
	{#name, UserMappingRelationId, OPTION_##kind, offsetof(OcpbMappingOptions, name)},

/* Made from options.h's lists, where the options are declared. */
static const KnownOption known_options[] = {
	OCPB_SERVER_OPTIONS(SERVER_OPTION)
	OCPB_MAPPING_OPTIONS(MAPPING_OPTION)
	{NULL, InvalidOid, OPTION_TEXT, 0}
};

static const char *
context_name(Oid context)
{
	switch (context)
	{
		case ForeignServerRelationId:
			return "server";
		case UserMappingRelationId:
			return "user mapping";
		case ForeignDataWrapperRelationId:
			return "foreign-data wrapper";
		default:
			return "object";
	}
}

static const KnownOption *
find_option(const char *name)
{
	const KnownOption *option;

	for (option = known_options; option->name != NULL; option++)
	{
		if (strcmp(option->name, name) == 0)
			return option;
	}
	return NULL;
}

static char *
options_of_context(Oid context)
{
	StringInfoData names;
	const KnownOption *option;

	initStringInfo(&names);
	for (option = known_options; option->name != NULL; option++)
	{
		if (option->context != context)
			continue;
		appendStringInfo(&names, "%s%s", names.len > 0 ? ", " : "", option->name);
	}
	return names.data;
}

static void
reject_unknown_option(const char *name, Oid context)
{
	const KnownOption *option = find_option(name);
	char	   *valid = options_of_context(context);

	if (option != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("option \"%s\" belongs on an ocp_backup %s, not on a %s",
						name, context_name(option->context), context_name(context)),
				 option->context == UserMappingRelationId ?
				 errhint("Credentials go in a user mapping, which hides them from other roles: "
						 "CREATE USER MAPPING FOR CURRENT_USER SERVER ... OPTIONS (%s '...').",
						 name) : 0));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
			 errmsg("invalid option \"%s\" for an ocp_backup %s", name, context_name(context)),
			 valid[0] != '\0' ?
			 errhint("Valid options for an ocp_backup %s are: %s.", context_name(context), valid) :
			 errhint("An ocp_backup %s takes no options.", context_name(context))));
}

/*
 * Refuses a value holding a control character: a byte below 0x20 or 0x7F.
 * Values end up in HTTP headers (access_key_id, a Basic username), in the
 * URL libcurl connects to and in file names, where a CR LF would add a header
 * of its own.  The value itself is never shown, since it may be a secret:
 * only the option, the character and its position (in characters, from 1,
 * as SQL's position() counts).  length is the value's length as stored, so
 * that a NUL, which text cannot hold today, would be caught as well: the
 * scan stops at the first control character, the terminating NUL included.
 * Every server encoding leaves bytes below 0x80 to ASCII, so a byte scan
 * cannot mistake part of a multibyte character for a control character.
 */
static void
check_printable(const char *name, const char *value, size_t length)
{
	size_t		i;

	for (i = 0; i < length; i++)
	{
		unsigned char c = (unsigned char) value[i];

		if (c < 0x20 || c == 0x7F)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("invalid value for option \"%s\"", name),
					 errdetail("The value holds a control character (0x%02X) at position %d; option values must be printable.",
							   c, pg_mbstrlen_with_len(value, (int) i) + 1)));
	}
}

/* Whether name[0 .. length) is a URL scheme: a letter, then letters, digits, "+-.". */
static bool
is_scheme(const char *name, size_t length)
{
	size_t		i;

	if (length == 0)
		return false;
	for (i = 0; i < length; i++)
	{
		char		c = name[i];
		bool		letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');

		if (!letter && (i == 0 || !((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.')))
			return false;
	}
	return true;
}

/*
 * The url option as an error message may show it: any userinfo
 * ("user:password@") is replaced by ********, whether or not libcurl can
 * parse the URL, so that no password reaches the client or the server log.
 * What is masked runs from the start of the authority (after "scheme:" and
 * its slashes, else from the very start) to the last '@': a '@' further on,
 * in a path say, masks more than needed, never less.  A URL without '@' has
 * no userinfo and is shown as it is.
 */
static char *
shown_url(const char *url)
{
	const char *at = strrchr(url, '@');
	const char *colon = strchr(url, ':');
	const char *authority = url;

	if (at == NULL)
		return pstrdup(url);
	if (colon != NULL && colon[1] == '/' && is_scheme(url, colon - url))
	{
		authority = colon + 1;
		while (*authority == '/')
			authority++;
		if (authority > at)
			authority = url;
	}
	return psprintf("%.*s********%s", (int) (authority - url), url, at);
}

/* Whether the parsed URL has that part; libcurl's copy is released at once. */
static bool
url_has_part(CURLU *parsed, CURLUPart what)
{
	char	   *part = NULL;
	bool		present = curl_url_get(parsed, what, &part, 0) == CURLUE_OK;

	curl_free(part);
	return present;
}

/* Whether the parsed URL has that part and it equals value. */
static bool
url_part_is(CURLU *parsed, CURLUPart what, const char *value)
{
	char	   *part = NULL;
	bool		equal = curl_url_get(parsed, what, &part, 0) == CURLUE_OK &&
		strcmp(part, value) == 0;

	curl_free(part);
	return equal;
}

/* Whether c may appear in a path prefix as it is: RFC 3986's unreserved. */
static bool
is_unreserved(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '-' || c == '.' || c == '_' || c == '~';
}

static bool
is_hex_digit(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * Why path, the raw path of a url (libcurl's, dot segments kept), cannot be
 * the prefix of every request's path; NULL when it can.  One trailing slash
 * is allowed and dropped.  What remains must be sent, and signed, exactly as
 * written: segments of RFC 3986 unreserved characters and %XX escapes, which
 * libcurl passes through untouched, none empty and none "." or "..", which
 * libcurl (or a gateway) would resolve away from the path that was signed.
 * A prefix ending in /api/v2 is the classic mistake of pasting a whole API
 * path: every request adds /api/v2 itself.
 */
static const char *
prefix_problem(const char *path)
{
	size_t		length = strlen(path);
	size_t		i = 0;

	if (length > 0 && path[length - 1] == '/')
		length--;
	if (length > 0 && path[0] != '/')
		return "The URL's path must start with \"/\"";
	while (i < length)
	{
		size_t		start = ++i;	/* past the '/' */

		while (i < length && path[i] != '/')
		{
			if (path[i] == '%')
			{
				if (i + 2 >= length || !is_hex_digit(path[i + 1]) || !is_hex_digit(path[i + 2]))
					return "A \"%\" in the URL's path must start a %XX escape";
				i += 3;
				continue;
			}
			if (!is_unreserved(path[i]))
				return "The URL's path may hold only letters, digits, \"-._~\", \"/\" and %XX escapes";
			i++;
		}
		if (i == start)
			return "The URL's path must not have an empty segment (\"//\")";
		if ((i - start == 1 && path[start] == '.') ||
			(i - start == 2 && path[start] == '.' && path[start + 1] == '.'))
			return "The URL's path must not have \".\" or \"..\" segments";
	}
	if (length >= 7 && strncmp(path + length - 7, "/api/v2", 7) == 0)
		return "The URL must not end in /api/v2: every request adds /api/v2/... after the URL's path";
	return NULL;
}

/* Whether this libcurl can talk TLS to an https:// proxy. */
static bool
https_proxy_supported(void)
{
	return (curl_version_info(CURLVERSION_NOW)->features & CURL_VERSION_HTTPS_PROXY) != 0;
}

/*
 * Parses a url or proxy option with libcurl's own parser, so that what is
 * accepted here is exactly what libcurl will connect to.  Returns NULL when
 * the URL is fine, else why it is not.  A url may have a path prefix; a
 * proxy names only the proxy, and may hold no credentials either: a server's
 * options are readable by every role.  libcurl's memory is released before
 * returning, so the caller may ereport freely.  The path is taken as written
 * (CURLU_PATH_AS_IS), dot segments included, so that prefix_problem sees
 * them.
 */
static const char *
url_problem(const char *url, bool proxy)
{
	const char *slashes = strstr(url, "://");
	CURLU	   *parsed;
	const char *problem = NULL;
	char	   *path = NULL;

	/* libcurl's URL parser knows no socks5:// and the like: say so first. */
	if (proxy && slashes != NULL && is_scheme(url, slashes - url) &&
		!(slashes - url == 4 && pg_strncasecmp(url, "http", 4) == 0) &&
		!(slashes - url == 5 && pg_strncasecmp(url, "https", 5) == 0))
		return "Only http and https proxies are supported";
	parsed = curl_url();
	if (parsed == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	if (curl_url_set(parsed, CURLUPART_URL, url, CURLU_PATH_AS_IS) != CURLUE_OK)
		problem = proxy ?
			"It is not an absolute URL such as http://proxy.example.net:3128" :
			"It is not an absolute URL such as https://ocp.example.net:8080";
	else if (!url_part_is(parsed, CURLUPART_SCHEME, "http") &&
			 !url_part_is(parsed, CURLUPART_SCHEME, "https"))
		problem = proxy ? "Only http and https proxies are supported" :
			"Only http and https URLs are supported";
	else if (url_has_part(parsed, CURLUPART_USER) ||
			 url_has_part(parsed, CURLUPART_PASSWORD) ||
			 url_has_part(parsed, CURLUPART_OPTIONS))
		problem = proxy ?
			"A proxy that needs credentials is not supported: a server's options are readable by every role" :
			"Credentials belong in a user mapping, not in the URL";
	else if (url_has_part(parsed, CURLUPART_QUERY) ||
			 url_has_part(parsed, CURLUPART_FRAGMENT))
		problem = "The URL must not have a query or a fragment";
	else if (proxy)
	{
		if (url_has_part(parsed, CURLUPART_PATH) &&
			!url_part_is(parsed, CURLUPART_PATH, "/"))
			problem = "The proxy URL must name only the proxy, with no path";
		else if (url_part_is(parsed, CURLUPART_SCHEME, "https") && !https_proxy_supported())
			problem = "This build of libcurl cannot reach a proxy over https: use an http:// proxy URL";
	}
	else if (curl_url_get(parsed, CURLUPART_PATH, &path, 0) == CURLUE_OK)
		problem = prefix_problem(path);
	curl_free(path);
	curl_url_cleanup(parsed);
	return problem;
}

/*
 * Every message about a url or proxy option shows it through shown_url(),
 * userinfo masked.
 */
static void
check_url(const char *name, const char *url, bool proxy)
{
	const char *problem = url_problem(url, proxy);

	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, shown_url(url)),
				 errdetail("%s.", problem)));
}

/* Whether c may appear in an entry of a no_proxy list other than "*". */
static bool
is_host_list_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		c == '.' || c == '-' || c == '_' || c == ':' || c == '/' || c == '[' || c == ']';
}

/*
 * A no_proxy value as libcurl's CURLOPT_NOPROXY takes it: host names, IP
 * addresses (IPv6 ones too, and ranges such as 10.0.0.0/8), a leading dot
 * for a domain's hosts, separated by commas and spaces; or "*" alone, for
 * every host.  libcurl honours "*" only as the whole value, so elsewhere it
 * is refused rather than silently matching nothing.  The value is never a
 * secret and may be shown.
 */
static void
check_host_list(const char *name, const char *value)
{
	const char *p;
	bool		has_entry = false;
	const char *problem = NULL;

	if (strcmp(value, "*") == 0)
		return;
	for (p = value; *p != '\0' && problem == NULL; p++)
	{
		if (*p == ',' || *p == ' ')
			continue;
		if (*p == '*')
			problem = "\"*\" (every host) must be the whole value";
		else if (!is_host_list_char(*p))
			problem = "It must be host names or IP addresses separated by commas, or \"*\"";
		else
			has_entry = true;
	}
	if (problem == NULL && !has_entry)
		problem = "It names no host";
	if (problem != NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("%s.", problem)));
}

/*
 * A whole number from min to max; unit ("milliseconds") names what it counts.
 * Only for numeric options, never secret, so the value may be shown.
 */
static int
parse_whole_number(const char *name, const char *value, long min, long max,
				   const char *unit)
{
	char	   *end;
	long		number;

	errno = 0;
	number = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || number < min || number > max)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 unit != NULL ?
				 errdetail("It must be a whole number of %s from %ld to %ld.", unit, min, max) :
				 errdetail("It must be a whole number from %ld to %ld.", min, max)));
	return (int) number;
}

static int
parse_milliseconds(const char *name, const char *value)
{
	return parse_whole_number(name, value, 1, MAX_TIMEOUT_MS, "milliseconds");
}

static int
parse_retries(const char *name, const char *value)
{
	return parse_whole_number(name, value, 0, OCPB_MAX_RETRIES, NULL);
}

static int
parse_parallel(const char *name, const char *value)
{
	return parse_whole_number(name, value, 1, OCPB_MAX_PARALLEL, NULL);
}

static bool
parse_boolean(const char *name, const char *value)
{
	bool		result;

	if (!parse_bool(value, &result))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"%s\": \"%s\"", name, value),
				 errdetail("It must be true or false.")));
	return result;
}

static void
check_value(const KnownOption *option, const char *value)
{
	switch (option->kind)
	{
		case OPTION_URL:
			check_url(option->name, value, false);
			break;
		case OPTION_PROXY:
			check_url(option->name, value, true);
			break;
		case OPTION_HOST_LIST:
			check_host_list(option->name, value);
			break;
		case OPTION_MILLISECONDS:
			(void) parse_milliseconds(option->name, value);
			break;
		case OPTION_RETRIES:
			(void) parse_retries(option->name, value);
			break;
		case OPTION_PARALLEL:
			(void) parse_parallel(option->name, value);
			break;
		case OPTION_BOOLEAN:
			(void) parse_boolean(option->name, value);
			break;
		case OPTION_PATH:
			/* Relative paths would depend on the backend's working directory. */
			if (!is_absolute_path(value))
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("invalid value for option \"%s\": \"%s\"", option->name, value),
						 errdetail("It must be an absolute path.")));
			/*
			 * A file that cannot be read now may be put there later (a dump
			 * restored before its files), so this warns rather than refuses.
			 */
			if (access(value, R_OK) != 0)
				ereport(WARNING,
						(errcode_for_file_access(),
						 errmsg("option \"%s\" names a file the database server cannot read", option->name),
						 errdetail("Could not access \"%s\": %m.", value),
						 errhint("Calls through this server fail with SQLSTATE 08001 until the server's operating system user can read a PEM file there.")));
			break;
		case OPTION_TEXT:
		case OPTION_SECRET:
			/* No message about a text option shows its value. */
			if (value[0] == '\0')
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
						 errmsg("option \"%s\" must not be empty", option->name)));
			break;
	}
}

static bool
has_option(List *options, const char *name)
{
	ListCell   *cell;

	foreach(cell, options)
	{
		if (strcmp(((DefElem *) lfirst(cell))->defname, name) == 0)
			return true;
	}
	return false;
}

/*
 * A user mapping holds exactly one complete kind of credentials: a half
 * pair would fail at the first call, and two kinds would leave it unclear
 * which one is used.
 */
static void
check_credentials(List *options)
{
	bool		basic = has_option(options, "username") || has_option(options, "password");
	bool		access_key = has_option(options, "access_key_id") ||
		has_option(options, "access_key_secret");

	if (basic && access_key)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("an ocp_backup user mapping takes username and password, or access_key_id and access_key_secret, not both")));
	if (access_key &&
		(!has_option(options, "access_key_id") || !has_option(options, "access_key_secret")))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("an ocp_backup user mapping needs both \"access_key_id\" and \"access_key_secret\"")));
	if (!access_key &&
		(!has_option(options, "username") || !has_option(options, "password")))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("an ocp_backup user mapping needs both \"username\" and \"password\", or both \"access_key_id\" and \"access_key_secret\""),
				 errhint("CREATE USER MAPPING FOR CURRENT_USER SERVER ... "
						 "OPTIONS (access_key_id '...', access_key_secret '...');")));
}

/* Checks the options that must come together. */
static void
check_complete(List *options, Oid context)
{
	if (context == ForeignServerRelationId && !has_option(options, "url"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("an ocp_backup server needs the \"url\" option"),
				 errhint("For example: CREATE SERVER ocp FOREIGN DATA WRAPPER ocp_backup "
						 "OPTIONS (url 'https://ocp.example.net:8080').")));
	if (context == ForeignServerRelationId && has_option(options, "no_proxy") &&
		!has_option(options, "proxy"))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("option \"no_proxy\" of an ocp_backup server needs the \"proxy\" option"),
				 errdetail("Without proxy, requests use no proxy at all, whatever the environment says.")));
	if (context == UserMappingRelationId)
		check_credentials(options);
}

/*
 * The text of a failing CREATE or ALTER statement holds every option value,
 * credentials included, and log_min_error_statement (ERROR by default) would
 * copy it into the server log next to the validator's error: leave it out.
 * The message names the option, which is enough to find the mistake.
 */
static void
hide_statement(void *arg)
{
	errhidestmt(true);
}

/*
 * The length in bytes of the value of the index'th "name=value" element of
 * the options array, as stored.  defGetString()'s copy would end at a NUL
 * inside the value: scanned up to the stored length, the copy then shows
 * that NUL, its terminator, to check_printable(), which refuses it there.
 */
static size_t
stored_value_length(Datum *elements, int count, int index, const char *value)
{
	text	   *element;
	const char *bytes;
	const char *equals;
	size_t		length;

	if (index >= count)
		return strlen(value);
	element = DatumGetTextPP(elements[index]);
	bytes = VARDATA_ANY(element);
	length = VARSIZE_ANY_EXHDR(element);
	equals = memchr(bytes, '=', length);
	if (equals == NULL)
		return strlen(value);
	/* Never less than the copy's length, so that all of the copy is scanned. */
	return Max(length - (equals + 1 - bytes), strlen(value));
}

Datum
ocp_backup_fdw_validator(PG_FUNCTION_ARGS)
{
	Datum		array = PG_GETARG_DATUM(0);
	List	   *options = untransformRelOptions(array);
	Oid			context = PG_GETARG_OID(1);
	Datum	   *elements = NULL;
	int			count = 0;
	ErrorContextCallback callback;
	ListCell   *cell;

	if (PointerIsValid(DatumGetPointer(array)))
		deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT,
						  &elements, NULL, &count);
	callback.callback = hide_statement;
	callback.arg = NULL;
	callback.previous = error_context_stack;
	error_context_stack = &callback;
	foreach(cell, options)
	{
		DefElem    *def = (DefElem *) lfirst(cell);
		const KnownOption *option = find_option(def->defname);
		const char *value;

		if (option == NULL || option->context != context)
			reject_unknown_option(def->defname, context);
		value = defGetString(def);
		/* First, whatever the kind: the kinds' messages may show the value. */
		check_printable(option->name, value,
						stored_value_length(elements, count,
											foreach_current_index(cell), value));
		check_value(option, value);
	}
	check_complete(options, context);
	error_context_stack = callback.previous;
	PG_RETURN_VOID();
}

/*
 * The readers refuse control characters again, for options stored by a
 * version that did not.
 */
static void
check_stored_value(DefElem *def)
{
	const char *value = defGetString(def);

	check_printable(def->defname, value, strlen(value));
}

/* Stores a stored option of context into fields, parsed by its kind. */
static void
read_option(DefElem *def, Oid context, char *fields)
{
	const KnownOption *option = find_option(def->defname);
	const char *value = defGetString(def);
	char	   *field;

	check_stored_value(def);
	/* Options the validator never let in are ignored, as ever. */
	if (option == NULL || option->context != context)
		return;
	field = fields + option->offset;
	switch (option->kind)
	{
		case OPTION_MILLISECONDS:
			*(int *) field = parse_milliseconds(def->defname, value);
			break;
		case OPTION_RETRIES:
			*(int *) field = parse_retries(def->defname, value);
			break;
		case OPTION_PARALLEL:
			*(int *) field = parse_parallel(def->defname, value);
			break;
		case OPTION_BOOLEAN:
			*(bool *) field = parse_boolean(def->defname, value);
			break;
		case OPTION_URL:
		case OPTION_PROXY:
		case OPTION_HOST_LIST:
		case OPTION_PATH:
		case OPTION_TEXT:
		case OPTION_SECRET:
			*(const char **) field = value;
			break;
	}
}

void
ocpb_read_server_options(List *options, OcpbServerOptions *server)
{
	ListCell   *cell;

#define SERVER_DEFAULT(name, kind, type, default_value) server->name = (type) (default_value);
	OCPB_SERVER_OPTIONS(SERVER_DEFAULT)
#undef SERVER_DEFAULT
	foreach(cell, options)
		read_option(lfirst(cell), ForeignServerRelationId, (char *) server);
}

void
ocpb_read_mapping_options(List *options, OcpbMappingOptions *mapping)
{
	ListCell   *cell;

#define MAPPING_DEFAULT(name, kind, type, default_value) mapping->name = (type) (default_value);
	OCPB_MAPPING_OPTIONS(MAPPING_DEFAULT)
#undef MAPPING_DEFAULT
	foreach(cell, options)
		read_option(lfirst(cell), UserMappingRelationId, (char *) mapping);
}

/* Whether an option of that kind is a char * field. */
static bool
is_text_kind(OptionKind kind)
{
	switch (kind)
	{
		case OPTION_URL:
		case OPTION_PROXY:
		case OPTION_HOST_LIST:
		case OPTION_PATH:
		case OPTION_TEXT:
		case OPTION_SECRET:
			return true;
		case OPTION_MILLISECONDS:
		case OPTION_RETRIES:
		case OPTION_PARALLEL:
		case OPTION_BOOLEAN:
			return false;
	}
	return false;
}

/* Copies a struct of context's options, then each text value it points at. */
static void
copy_options(Oid context, const char *from, char *to, size_t size)
{
	const KnownOption *option;

	memcpy(to, from, size);
	for (option = known_options; option->name != NULL; option++)
	{
		const char *value;

		if (option->context != context || !is_text_kind(option->kind))
			continue;
		value = *(const char *const *) (from + option->offset);
		*(char **) (to + option->offset) = value != NULL ? pstrdup(value) : NULL;
	}
}

void
ocpb_copy_server_options(const OcpbServerOptions *from, OcpbServerOptions *to)
{
	copy_options(ForeignServerRelationId, (const char *) from, (char *) to, sizeof(*to));
}

void
ocpb_copy_mapping_options(const OcpbMappingOptions *from, OcpbMappingOptions *to)
{
	copy_options(UserMappingRelationId, (const char *) from, (char *) to, sizeof(*to));
}

void
ocpb_wipe_mapping_secrets(OcpbMappingOptions *mapping)
{
	const KnownOption *option;

	for (option = known_options; option->name != NULL; option++)
	{
		char	   *value;

		if (option->context != UserMappingRelationId || option->kind != OPTION_SECRET)
			continue;
		value = *(char **) ((char *) mapping + option->offset);
		if (value != NULL)
			explicit_bzero(value, strlen(value));
	}
}

void
ocpb_split_url(const char *url, char **base_url, char **host_header, char **path_prefix)
{
	CURLU	   *parsed = curl_url();
	char	   *scheme = NULL;
	char	   *host = NULL;
	char	   *port = NULL;
	char	   *path = NULL;
	bool		ok;

	if (parsed == NULL)
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory")));
	/* As the validator parsed it: the path exactly as written. */
	ok = curl_url_set(parsed, CURLUPART_URL, url, CURLU_PATH_AS_IS) == CURLUE_OK &&
		curl_url_get(parsed, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
		curl_url_get(parsed, CURLUPART_HOST, &host, 0) == CURLUE_OK;
	/* Before PG_TRY: what the handler frees is not written inside it. */
	if (ok)
	{
		/* Without an explicit port, libcurl omits it from Host too. */
		(void) curl_url_get(parsed, CURLUPART_PORT, &port, 0);
		(void) curl_url_get(parsed, CURLUPART_PATH, &path, 0);
	}
	PG_TRY();
	{
		if (ok)
		{
			size_t		path_len;

			path_len = path != NULL ? strlen(path) : 0;
			/* "/" is no prefix; "/ocp/" is "/ocp". */
			if (path_len > 0 && path[path_len - 1] == '/')
				path_len--;
			*host_header = port != NULL ? psprintf("%s:%s", host, port) : pstrdup(host);
			*path_prefix = pnstrdup(path != NULL ? path : "", path_len);
			*base_url = psprintf("%s://%s%s", scheme, *host_header, *path_prefix);
		}
	}
	PG_FINALLY();
	{
		curl_free(scheme);
		curl_free(host);
		curl_free(port);
		curl_free(path);
		curl_url_cleanup(parsed);
	}
	PG_END_TRY();
	if (!ok)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid value for option \"url\": \"%s\"", shown_url(url))));
}
