/* UTF-8 helpers for cutting text to a size without splitting a character
 * (log lines, Event notes) and for telling valid sequences apart. */
#ifndef MCP_UTF8_H
#define MCP_UTF8_H

#include <stddef.h>

/* The length (1-4) of the valid, shortest-form UTF-8 sequence at s (n bytes
 * available, n >= 1), or 0 when the bytes there are not one. */
size_t mcp_utf8_char(const char *s, size_t n);

/* The longest prefix of s (n bytes) of at most max bytes that does not end
 * inside a character: n when n <= max. */
size_t mcp_utf8_prefix(const char *s, size_t n, size_t max);

#endif
