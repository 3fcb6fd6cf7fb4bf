/*
 * scrub.h - keeps the secrets of a storage object out of everything
 * ocp_backup writes: the journal, error messages and what clients see, even
 * when OCP echoes a secret back in its answer.
 *
 * Pure C: no PostgreSQL headers.  Strings returned are malloc'd and
 * NUL-terminated; NULL means memory ran out.
 */
#ifndef OCPB_SCRUB_H
#define OCPB_SCRUB_H

#include <stdbool.h>
#include <stddef.h>

/* What every masked secret becomes. */
#define OCPB_MASK "********"

/*
 * Secret values to scrub, kept longest first so that a secret containing
 * another is masked whole.  A zeroed list is empty; values are copies that
 * ocpb_secret_list_free releases.
 */
typedef struct OcpbSecretList
{
	char	  **values;
	size_t		n;
	size_t		cap;
} OcpbSecretList;

/*
 * Adds a copy of the len bytes of value, cut at its first NUL byte.  An
 * empty value or one already listed is ignored.  Returns false only when
 * memory ran out; the list is unchanged then.
 */
extern bool ocpb_secret_list_add(OcpbSecretList *list, const char *value, size_t len);
extern void ocpb_secret_list_free(OcpbSecretList *list);

/*
 * Whether a JSON key names a secret: lower-cased (ASCII only) and without
 * '_' and '-', it contains secret, password, passwd, pwd, token,
 * privatekey, apikey or credential, or it is accesskey or sk.  So
 * accessKeySecret, Private-Key, db_passwd and access_key do; accessKeyId,
 * ossAccessKey and configName do not.
 */
extern bool ocpb_is_secret_key(const char *key, size_t len);

/*
 * A copy of a storageUrl with its credentials masked: the password of a
 * user:password@ userinfo, and the value of every query parameter whose key
 * is a secret key or contains "access" once normalized as above (access_id,
 * access_key).  Each masked value is added to found, as written and, when
 * it holds %XX escapes, decoded too, since OCP may echo either form.
 * *masked says whether anything was masked; if not, the copy is exact.
 */
extern char *ocpb_mask_url_credentials(const char *url, OcpbSecretList *found,
									   bool *masked);

/*
 * Adds to found the credentials of every URL an answer holds: the string
 * values, at any depth, of keys whose name (normalized as above) ends in
 * "uri" or "url", such as a backup job's backupUri, masked as
 * ocpb_mask_url_credentials does.  Returns false when the answer cannot be
 * read (it is not JSON, or memory ran out): then nothing can be said to be
 * free of credentials.
 */
extern bool ocpb_find_url_credentials(const char *body, size_t len, OcpbSecretList *found);

/*
 * A copy of an answer body, of any bytes, in which no secret of the list
 * occurs any more.  Every JSON string token, key or value, is decoded; one
 * whose text holds a secret is re-encoded with each occurrence masked, and
 * a number token equal to a secret becomes the string "********".  Then,
 * unless the result is one JSON value (whose every string and number the
 * first pass saw, and whose literals and digits a raw pass could break),
 * any raw occurrence of a secret, or of its JSON-escaped form (with '/'
 * escaped or not), is masked too: this covers bodies that are not JSON and
 * malformed tokens, which the first pass leaves alone.  All other bytes are
 * kept as they are; with an empty list the copy is exact.  *out_len,
 * unless out_len is NULL, gets the length without the NUL added at the end.
 */
extern char *ocpb_scrub_answer(const char *body, size_t len,
							   const OcpbSecretList *secrets, size_t *out_len);

/*
 * A copy of s that is valid UTF-8 without NUL bytes, which PostgreSQL text
 * cannot hold: each NUL byte, and each maximal subpart of an invalid
 * sequence (Unicode's recommended practice: a bad lead byte, a truncated
 * sequence, an overlong form, a surrogate, a code point beyond U+10FFFF),
 * becomes U+FFFD.  *changed says whether anything was replaced; *out_len,
 * unless out_len is NULL, gets the length without the NUL added at the end.
 */
extern char *ocpb_utf8_repair(const char *s, size_t len, size_t *out_len, bool *changed);

#endif
