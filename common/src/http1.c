/* Ambiguous HTTP/1.1 request framing (see mcp/http1.h). h2o 2.2 takes the
 * first of two Content-Lengths, chunked over Content-Length, and
 * picohttpparser accepts bare LF line ends and folded lines: a proxy in
 * front that reads any of these otherwise sees a different request
 * boundary than we do (request smuggling), so the daemons refuse them
 * before any handler. Pure; reads only the head. */
#include <string.h>
#include <strings.h>

#include "mcp/http1.h"

/* The header line p (n bytes, no line end) is a `name` field. */
static int is_field(const char *p, size_t n, const char *name)
{
    size_t k = strlen(name);

    return n > k && p[k] == ':' && strncasecmp(p, name, k) == 0;
}

const char *mcp_http1_framing_error(const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    int first = 1, cl = 0, te = 0, host = 0;

    while (end - p >= 2 && p[0] == '\r' && p[1] == '\n')
        p += 2;
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n;

        if (!nl)
            return "incomplete request head";
        if (nl == p || nl[-1] != '\r')
            return "a line ends in a bare LF";
        n = (size_t)(nl - 1 - p);
        if (n == 0)
            break;
        if (!first && (*p == ' ' || *p == '\t'))
            return "a folded header line (obs-fold)";
        if (!first && is_field(p, n, "content-length") && cl++)
            return "more than one Content-Length";
        if (!first && is_field(p, n, "transfer-encoding") && te++)
            return "more than one Transfer-Encoding";
        /* RFC 9112 §3.2: 400 for more than one Host; h2o keeps the last,
         * a proxy in front may route by the first */
        if (!first && is_field(p, n, "host") && host++)
            return "more than one Host";
        first = 0;
        p = nl + 1;
    }
    return cl && te ? "both Content-Length and Transfer-Encoding" : NULL;
}
