/*
 * strbuf.h - the pure core's growing string, one for every file of the
 * core that builds text (auth.c's string to sign, scrub.c's scrubbed
 * answers).
 *
 * Pure C: no PostgreSQL headers.  The buffer grows with malloc; after its
 * first failed allocation (or a length that would overflow) it stays
 * failed, every later put does nothing, and ocpb_strbuf_finish returns
 * NULL, so a caller appends without checking and checks once at the end.
 * Its data is NUL-terminated after every successful put.
 */
#ifndef OCPB_STRBUF_H
#define OCPB_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

typedef struct OcpbStrBuf
{
	char	   *data;			/* NULL until the first put */
	size_t		len;			/* bytes held, not counting the NUL */
	size_t		cap;			/* bytes allocated */
	bool		failed;			/* an allocation failed: stays set */
} OcpbStrBuf;

/* An empty buffer; nothing is allocated until the first put. */
#define OCPB_STRBUF_INIT {NULL, 0, 0, false}

/* Appends len bytes (which may hold NULs). */
extern void ocpb_strbuf_put(OcpbStrBuf *buf, const void *bytes, size_t len);

/* Appends a NUL-terminated string. */
extern void ocpb_strbuf_puts(OcpbStrBuf *buf, const char *str);

/* Appends one byte. */
extern void ocpb_strbuf_putc(OcpbStrBuf *buf, char c);

/*
 * Hands the string over to the caller, who frees it: NUL-terminated, never
 * NULL for an empty buffer that never failed, its length in *out_len if
 * out_len is not NULL.  NULL (the memory freed) if any put failed.  The
 * buffer is not used again afterwards.
 */
extern char *ocpb_strbuf_finish(OcpbStrBuf *buf, size_t *out_len);

/* Frees what the buffer holds and makes it empty (and not failed) again. */
extern void ocpb_strbuf_free(OcpbStrBuf *buf);

#endif
