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
 * A copy of a storageUrl with its credentials masked: the userinfo's
 * password (after a scheme, everything between the first ':' and the last
 * '@' before the query or fragment, so that a password holding '/' is
 * masked whole), a userinfo without ':' whole (s3://TOKEN@bucket), and the
 * value of every parameter, in the query or the fragment, separated by '&'
 * or ';', whose key is a secret key or, normalized as above, contains
 * "access" (access_id, access_key) or "signature" (X-Amz-Signature), is
 * "sig", or ends in "_sk" or "-sk" (s3_sk).  Such a value runs to the next
 * '&' or ';': an unescaped '#' or '?' in it is still the secret's.  Each
 * masked value is added to found, as written and, when it holds %XX
 * escapes, decoded too, since OCP may echo either form.  *masked says
 * whether anything was masked; if not, the copy is exact.
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
 * What a scrub looks for, built once from a list of secrets: each secret as
 * it is, lower-cased, percent-encoded (upper- or lower-case hex, or a form's
 * '+' for a space), base64-encoded (standard, unpadded, or URL-safe), and
 * each of these as JSON escaping writes it.  NULL means memory ran out.
 */
typedef struct OcpbMasker OcpbMasker;

extern OcpbMasker *ocpb_masker_new(const OcpbSecretList *secrets);
extern void ocpb_masker_free(OcpbMasker *masker);
extern bool ocpb_masker_is_empty(const OcpbMasker *masker);

/*
 * A copy of the len bytes of text, a string value already parsed, with
 * every form of every secret masked.  *out_len as below.
 */
extern char *ocpb_mask_text(const OcpbMasker *masker, const char *text, size_t len,
							size_t *out_len);

/*
 * A copy of an answer body, of any bytes, in which no secret of the list
 * occurs any more, in any form of ocpb_masker_new.  When the body is one
 * JSON value, only its string values are masked: each is decoded, and one
 * whose text holds a secret is re-encoded with each occurrence masked; its
 * keys and literals are OCP's and stay as they are, and so are its numbers
 * when it is an answer that says it succeeded ("successful": true, no
 * "error"), so a secret equal to a key ("data"), a literal or a number (a
 * task id) changes nothing in it; in another JSON value a number equal to a
 * secret becomes the string "********".  Otherwise (an HTML page, malformed
 * JSON, a NUL byte) every string token is masked so, key or not, numbers
 * too, and then any raw occurrence of a form of a secret is masked too.  All other bytes are kept as they are; with an empty list the copy
 * is exact.  *out_len, unless out_len is NULL, gets the length without the
 * NUL added at the end.
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
