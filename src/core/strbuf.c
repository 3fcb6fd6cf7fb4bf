/*
 * strbuf.c - the pure core's growing string (see strbuf.h).
 */
#include "strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Room for extra more bytes and the NUL.  Capacities double from 128 and
 * stay at most SIZE_MAX / 2 + 1, so that doubling never wraps around.
 */
static bool
reserve(OcpbStrBuf *buf, size_t extra)
{
	size_t		need;
	size_t		cap;
	char	   *data;

	if (buf->failed)
		return false;
	if (extra >= SIZE_MAX / 2 - buf->len)
	{
		buf->failed = true;
		return false;
	}
	need = buf->len + extra + 1;
	if (need <= buf->cap)
		return true;
	cap = buf->cap > 0 ? buf->cap : 128;
	while (cap < need)
		cap *= 2;
	data = realloc(buf->data, cap);
	if (data == NULL)
	{
		buf->failed = true;
		return false;
	}
	buf->data = data;
	buf->cap = cap;
	return true;
}

void
ocpb_strbuf_put(OcpbStrBuf *buf, const void *bytes, size_t len)
{
	if (!reserve(buf, len))
		return;
	if (len > 0)
		memcpy(buf->data + buf->len, bytes, len);
	buf->len += len;
	buf->data[buf->len] = '\0';
}

void
ocpb_strbuf_puts(OcpbStrBuf *buf, const char *str)
{
	ocpb_strbuf_put(buf, str, strlen(str));
}

void
ocpb_strbuf_putc(OcpbStrBuf *buf, char c)
{
	ocpb_strbuf_put(buf, &c, 1);
}

char *
ocpb_strbuf_finish(OcpbStrBuf *buf, size_t *out_len)
{
	char	   *data;

	if (!reserve(buf, 0))
	{
		free(buf->data);
		buf->data = NULL;
		buf->len = buf->cap = 0;
		return NULL;
	}
	buf->data[buf->len] = '\0';
	if (out_len != NULL)
		*out_len = buf->len;
	data = buf->data;
	buf->data = NULL;
	buf->len = buf->cap = 0;
	return data;
}

void
ocpb_strbuf_free(OcpbStrBuf *buf)
{
	free(buf->data);
	buf->data = NULL;
	buf->len = buf->cap = 0;
	buf->failed = false;
}
