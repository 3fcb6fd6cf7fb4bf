/*
 * json_plain.c - JSON that PostgreSQL's parser certainly takes, recognized
 * in one pass.
 *
 * The journal keeps OCP's answer in its json column only if PostgreSQL's
 * parser takes it (journal.c), and that parse cost a call more than a tenth
 * of its own work.  Nearly every answer is plain: JSON by RFC 8259's
 * grammar, nested a few levels, without \u escapes (the escapes PostgreSQL
 * checks further: no \u0000, no lone surrogate, none its encoding cannot
 * hold).  For a plain answer this pass is the whole check; any other goes
 * to PostgreSQL's parser, which decides.  So this may refuse what
 * PostgreSQL takes, never the reverse: every rule here is as strict as
 * PostgreSQL's or stricter.
 */
#include "json_plain.h"

typedef struct Cursor
{
	const unsigned char *at;
	const unsigned char *end;
} Cursor;

/* JSON's four whitespace characters; \f or \v is not one. */
static void
skip_space(Cursor *c)
{
	while (c->at < c->end &&
		   (*c->at == ' ' || *c->at == '\t' || *c->at == '\n' || *c->at == '\r'))
		c->at++;
}

static bool
at_digit(const Cursor *c)
{
	return c->at < c->end && *c->at >= '0' && *c->at <= '9';
}

/* One digit or more. */
static bool
skip_digits(Cursor *c)
{
	if (!at_digit(c))
		return false;
	while (at_digit(c))
		c->at++;
	return true;
}

/* The cursor on the opening quote; no control character, no \u. */
static bool
plain_string(Cursor *c)
{
	c->at++;
	while (c->at < c->end)
	{
		unsigned char ch = *c->at++;

		if (ch == '"')
			return true;
		if (ch < 0x20)
			return false;
		if (ch == '\\')
		{
			if (c->at == c->end)
				return false;
			ch = *c->at++;
			if (ch != '"' && ch != '\\' && ch != '/' && ch != 'b' && ch != 'f' &&
				ch != 'n' && ch != 'r' && ch != 't')
				return false;
		}
	}
	return false;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
plain_number(Cursor *c)
{
	if (c->at < c->end && *c->at == '-')
		c->at++;
	if (!at_digit(c))
		return false;
	if (*c->at == '0')
		c->at++;
	else
		skip_digits(c);
	if (c->at < c->end && *c->at == '.')
	{
		c->at++;
		if (!skip_digits(c))
			return false;
	}
	if (c->at < c->end && (*c->at == 'e' || *c->at == 'E'))
	{
		c->at++;
		if (c->at < c->end && (*c->at == '+' || *c->at == '-'))
			c->at++;
		if (!skip_digits(c))
			return false;
	}
	return true;
}

static bool
skip_word(Cursor *c, const char *word, size_t len)
{
	size_t		i;

	if ((size_t) (c->end - c->at) < len)
		return false;
	for (i = 0; i < len; i++)
		if (c->at[i] != (unsigned char) word[i])
			return false;
	c->at += len;
	return true;
}

/* A scalar at the cursor: a string, a number, true, false or null. */
static bool
plain_scalar(Cursor *c)
{
	switch (*c->at)
	{
		case '"':
			return plain_string(c);
		case 't':
			return skip_word(c, "true", 4);
		case 'f':
			return skip_word(c, "false", 5);
		case 'n':
			return skip_word(c, "null", 4);
		default:
			return plain_number(c);
	}
}

/* In an object, before a value: its name and the colon. */
static bool
plain_member_name(Cursor *c)
{
	skip_space(c);
	if (c->at == c->end || *c->at != '"' || !plain_string(c))
		return false;
	skip_space(c);
	if (c->at == c->end || *c->at != ':')
		return false;
	c->at++;
	return true;
}

/*
 * Values are read in a loop, the open objects and arrays kept on a stack,
 * so that no input makes it recurse.  After each value (or an empty
 * container), the closing brackets and the comma that leads to the next
 * value are read.
 */
bool
ocpb_json_is_plain(const char *text, size_t len)
{
	Cursor		c = {(const unsigned char *) text, (const unsigned char *) text + len};
	unsigned char open[OCPB_JSON_PLAIN_MAX_DEPTH];
	int			depth = 0;

	for (;;)
	{
		bool		next_value = false;

		skip_space(&c);
		if (c.at == c.end)
			return false;
		if (*c.at == '{' || *c.at == '[')
		{
			if (depth == OCPB_JSON_PLAIN_MAX_DEPTH)
				return false;
			open[depth++] = *c.at++;
			skip_space(&c);
			if (c.at < c.end && *c.at != (open[depth - 1] == '{' ? '}' : ']'))
			{
				if (open[depth - 1] == '{' && !plain_member_name(&c))
					return false;
				continue;
			}
		}
		else if (!plain_scalar(&c))
			return false;

		while (!next_value)
		{
			skip_space(&c);
			if (depth == 0)
				return c.at == c.end;
			if (c.at == c.end)
				return false;
			if (*c.at == (open[depth - 1] == '{' ? '}' : ']'))
			{
				c.at++;
				depth--;
			}
			else if (*c.at == ',')
			{
				c.at++;
				if (open[depth - 1] == '{' && !plain_member_name(&c))
					return false;
				next_value = true;
			}
			else
				return false;
		}
	}
}
