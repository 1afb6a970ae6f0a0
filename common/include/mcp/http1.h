/* HTTP/1.1 request framing that two parsers may read differently. */
#ifndef MCP_HTTP1_H
#define MCP_HTTP1_H

#include <stddef.h>

/* The request head at the start of buf (len bytes, as received: the
 * daemons pass h2o's socket input, where the head of the request being
 * handled still starts), checked for framing an intermediary may read
 * otherwise than h2o (RFC 9112 §2.2, §5.2, §6.1, §6.3): a line ending in a
 * bare LF, a folded header line (obs-fold), more than one Content-Length,
 * more than one Transfer-Encoding, or both, more than one Host (§3.2).
 * Empty lines before the request
 * line are skipped, as parsers must. NULL when the framing is unambiguous,
 * else why not (a static string); a head with no end in buf is refused
 * too. */
const char *mcp_http1_framing_error(const char *buf, size_t len);

#endif
