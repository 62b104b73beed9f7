/* policy/jscan.c: byte spans of the top-level members of a JSON object, and a cheap depth pre-check. */
#include "policy/policy.h"

#include <errno.h>

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *b, size_t len, size_t i)
{
	while (i < len && is_ws(b[i]))
		i++;
	return i;
}

/* b[i] is '"': index just past the closing quote, or 0 (unterminated). */
static size_t skip_string(const char *b, size_t len, size_t i)
{
	for (i++; i < len; i++) {
		if (b[i] == '\\')
			i++; /* the escaped byte; \uXXXX's hex digits need no care */
		else if (b[i] == '"')
			return i + 1;
	}
	return 0;
}

/* A value starting at b[i]: index just past it, or 0. Jansson has checked
 * the grammar; this only has to find the end safely on any bytes. */
static size_t skip_value(const char *b, size_t len, size_t i)
{
	if (i >= len)
		return 0;
	if (b[i] == '"')
		return skip_string(b, len, i);
	if (b[i] == '{' || b[i] == '[') {
		size_t depth = 0;
		while (i < len) {
			char c = b[i];
			if (c == '"') {
				i = skip_string(b, len, i);
				if (!i)
					return 0;
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if ((c == '}' || c == ']') && --depth == 0)
				return i + 1;
			i++;
		}
		return 0;
	}
	/* number, true, false, null */
	size_t start = i;
	while (i < len && ((b[i] >= '0' && b[i] <= '9') || (b[i] >= 'a' && b[i] <= 'z') || b[i] == '-' || b[i] == '+' ||
			   b[i] == '.' || b[i] == 'E'))
		i++;
	return i > start ? i : 0;
}

int pol_json_members(const char *buf, size_t len, struct pol_member *out, size_t max, size_t *n)
{
	if (!buf || !n)
		return EINVAL;
	size_t i = skip_ws(buf, len, 0), count = 0;
	if (i >= len || buf[i] != '{')
		return EINVAL;
	i = skip_ws(buf, len, i + 1);
	if (i < len && buf[i] == '}') {
		i++;
		goto end;
	}
	for (;;) {
		struct pol_member m;
		if (i >= len || buf[i] != '"')
			return EINVAL;
		size_t e = skip_string(buf, len, i);
		if (!e)
			return EINVAL;
		m.key_off = i;
		m.key_len = e - i;
		i = skip_ws(buf, len, e);
		if (i >= len || buf[i] != ':')
			return EINVAL;
		i = skip_ws(buf, len, i + 1);
		e = skip_value(buf, len, i);
		if (!e)
			return EINVAL;
		m.val_off = i;
		m.val_len = e - i;
		if (count == max)
			return E2BIG;
		out[count++] = m;
		i = skip_ws(buf, len, e);
		if (i < len && buf[i] == ',') {
			i = skip_ws(buf, len, i + 1);
			continue;
		}
		if (i < len && buf[i] == '}') {
			i++;
			break;
		}
		return EINVAL;
	}
end:
	if (skip_ws(buf, len, i) != len)
		return EINVAL;
	*n = count;
	return 0;
}

size_t pol_json_depth(const char *buf, size_t len, size_t max)
{
	size_t depth = 0, deepest = 0;
	if (!buf)
		return 0;
	for (size_t i = 0; i < len; i++) {
		char c = buf[i];
		if (c == '"') {
			size_t e = skip_string(buf, len, i);
			if (!e)
				break;
			i = e - 1;
		} else if (c == '{' || c == '[') {
			if (++depth > deepest)
				deepest = depth;
			if (deepest > max)
				return max + 1;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return deepest;
}
