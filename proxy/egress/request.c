/* The egress proxy's request heads (request.h): picohttpparser (h2o's, as
 * libh2o-evloop exports it) reads the head, h2o's URL functions the target;
 * ambiguous framing is refused as the daemons' listeners refuse it
 * (common/src/http1.c). Pure; fuzzed by `make fuzz-proxy` (mode 9). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <h2o.h>

#include "mcp/common.h"
#include "mcp/http1.h"
#include "request.h"

#define CL_MAX ((uint64_t)1 << 53) /* a Content-Length beyond this is refused */

static int bad(char *why, size_t whylen, const char *what)
{
    snprintf(why, whylen, "%s", what);
    return -1;
}

static int name_is(const struct phr_header *h, const char *name)
{
    return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

/* Is `name` one of the comma-separated tokens of a Connection header? */
static int named_by_connection(const struct phr_header *hs, size_t n, const struct phr_header *h)
{
    for (size_t i = 0; i < n; i++) {
        const char *p = hs[i].value, *end = p + hs[i].value_len;

        if (!name_is(&hs[i], "connection"))
            continue;
        while (p < end) {
            const char *tok, *comma = memchr(p, ',', (size_t)(end - p));
            const char *stop = comma ? comma : end;

            while (p < stop && (*p == ' ' || *p == '\t'))
                p++;
            tok = p;
            while (stop > tok && (stop[-1] == ' ' || stop[-1] == '\t'))
                stop--;
            if ((size_t)(stop - tok) == h->name_len && strncasecmp(tok, h->name, h->name_len) == 0)
                return 1;
            p = comma ? comma + 1 : end;
        }
    }
    return 0;
}

/* Not passed to the origin: Host (it comes from the URL), Proxy-*, and the
 * hop-by-hop headers (RFC 9110 §7.6.1). Transfer-Encoding is passed: the
 * body goes through unchanged, in its framing. */
static int dropped(const struct phr_header *hs, size_t n, const struct phr_header *h)
{
    static const char *const hop[] = {"host", "connection", "keep-alive",
                                      "te",   "trailer",    "upgrade"};

    if (h->name_len >= 6 && strncasecmp(h->name, "proxy-", 6) == 0)
        return 1;
    for (size_t i = 0; i < MCP_ARRAY_LEN(hop); i++)
        if (name_is(h, hop[i]))
            return 1;
    return named_by_connection(hs, n, h);
}

/* Content-Length and Transfer-Encoding into the body's framing. */
static int body_framing(const struct phr_header *hs, size_t n, mcp_eg_body_t *b, char *why,
                        size_t whylen)
{
    memset(b, 0, sizeof(*b));
    b->done = 1;
    for (size_t i = 0; i < n; i++) {
        const char *v = hs[i].value;
        size_t vl = hs[i].value_len;

        if (name_is(&hs[i], "transfer-encoding")) {
            if (vl != 7 || strncasecmp(v, "chunked", 7) != 0)
                return bad(why, whylen, "a Transfer-Encoding other than chunked");
            b->chunked = 1;
            b->done = 0;
            b->dec.consume_trailer = 1;
        } else if (name_is(&hs[i], "content-length")) {
            uint64_t l = 0;

            if (vl == 0 || vl > 16 || strspn(v, "0123456789") < vl)
                return bad(why, whylen, "a bad Content-Length");
            for (size_t k = 0; k < vl; k++)
                l = l * 10 + (uint64_t)(v[k] - '0');
            if (l > CL_MAX)
                return bad(why, whylen, "a bad Content-Length");
            b->left = l;
            b->done = l == 0;
        }
    }
    return 0;
}

static int take_host(mcp_eg_request_t *req, h2o_iovec_t host, char *why, size_t whylen)
{
    const char *w =
        mcp_eg_host_canon(host.base, host.len, req->host, sizeof(req->host), &req->is_ip);

    if (w)
        snprintf(why, whylen, "bad host: %s", w);
    return w ? -1 : 0;
}

static int parse_connect(const char *path, size_t path_len, const struct phr_header *hs, size_t n,
                         mcp_eg_request_t *req, char *why, size_t whylen)
{
    h2o_iovec_t host;
    uint16_t port;
    const char *end = h2o_url_parse_hostport(path, path_len, &host, &port);

    if (!end || end != path + path_len || port == 65535 || port == 0)
        return bad(why, whylen, "CONNECT needs a target host:port (a port from 1 to 65534)");
    if (body_framing(hs, n, &req->body, why, whylen) != 0)
        return -1;
    if (!req->body.done || req->body.left)
        return bad(why, whylen, "a CONNECT request has no body");
    req->kind = MCP_EG_CONNECT;
    req->port = port;
    return take_host(req, host, why, whylen);
}

/* The head the origin gets (see request.h). */
static int rewrite(const char *method, size_t method_len, const h2o_url_t *url,
                   const struct phr_header *hs, size_t n, mcp_buf_t *fwd)
{
    int rc;

    mcp_buf_reset(fwd);
    rc = mcp_buf_addf(fwd, "%.*s %.*s HTTP/1.1\r\nHost: %.*s\r\n", (int)method_len, method,
                      (int)url->path.len, url->path.base, (int)url->authority.len,
                      url->authority.base);
    for (size_t i = 0; i < n && rc == 0; i++)
        if (!dropped(hs, n, &hs[i]))
            rc = mcp_buf_addf(fwd, "%.*s: %.*s\r\n", (int)hs[i].name_len, hs[i].name,
                              (int)hs[i].value_len, hs[i].value);
    return rc ? rc : mcp_buf_adds(fwd, "Connection: close\r\n\r\n");
}

static int parse_forward(const char *method, size_t method_len, const char *path, size_t path_len,
                         const struct phr_header *hs, size_t n, mcp_eg_request_t *req,
                         mcp_buf_t *fwd, char *why, size_t whylen)
{
    h2o_url_t url;

    if (path_len >= 8 && memcmp(path, "https://", 8) == 0)
        return bad(why, whylen, "an https:// URL goes through CONNECT");
    if (path_len < 7 || memcmp(path, "http://", 7) != 0)
        return bad(why, whylen,
                   "only CONNECT host:port and absolute-form http:// requests are served");
    if (h2o_url_parse(path, path_len, &url) != 0 || url.path.base[0] != '/')
        return bad(why, whylen, "a bad http:// URL");
    if (memchr(path, '#', path_len))
        return bad(why, whylen, "a URL with a fragment");
    if (h2o_url_get_port(&url) == 0)
        return bad(why, whylen, "port 0");
    if (body_framing(hs, n, &req->body, why, whylen) != 0 ||
        take_host(req, url.host, why, whylen) != 0)
        return -1;
    req->kind = MCP_EG_FORWARD;
    req->port = h2o_url_get_port(&url);
    if (rewrite(method, method_len, &url, hs, n, fwd) != 0)
        return bad(why, whylen, "the request head is too large");
    return 0;
}

int mcp_eg_request_parse(const char *buf, size_t len, mcp_eg_request_t *req, mcp_buf_t *fwd,
                         char *why, size_t whylen)
{
    struct phr_header hs[MCP_EG_MAX_HEADERS];
    size_t n = MCP_EG_MAX_HEADERS, method_len, path_len;
    const char *method, *path, *framing;
    int minor, head, rc;

    memset(req, 0, sizeof(*req));
    head = phr_parse_request(buf, len, &method, &method_len, &path, &path_len, &minor, hs, &n, 0);
    if (head == -2 && len < MCP_EG_HEAD_MAX)
        return 0;
    if (head == -2 || head > MCP_EG_HEAD_MAX)
        return bad(why, whylen, "the request head is over 16384 bytes");
    if (head < 0)
        return bad(why, whylen, "not an HTTP/1.x request (or over 100 header fields)");
    if ((framing = mcp_http1_framing_error(buf, (size_t)head)) != NULL) {
        snprintf(why, whylen, "ambiguous framing: %s", framing);
        return -1;
    }
    if (method_len == 7 && memcmp(method, "CONNECT", 7) == 0)
        rc = parse_connect(path, path_len, hs, n, req, why, whylen);
    else
        rc = parse_forward(method, method_len, path, path_len, hs, n, req, fwd, why, whylen);
    if (rc != 0)
        return -1;
    req->head_len = (size_t)head;
    return head;
}

ssize_t mcp_eg_body_take(mcp_eg_body_t *b, const char *p, size_t n)
{
    size_t off = 0;

    if (b->done)
        return 0;
    if (!b->chunked) {
        size_t take = b->left < n ? (size_t)b->left : n;

        b->left -= take;
        b->done = b->left == 0;
        return (ssize_t)take;
    }
    while (off < n) { /* the decoder rewrites what it reads: it reads a copy */
        size_t piece = n - off < sizeof(b->scratch) ? n - off : sizeof(b->scratch), size = piece;
        ssize_t rest;

        memcpy(b->scratch, p + off, piece);
        rest = phr_decode_chunked(&b->dec, b->scratch, &size);
        if (rest == -1)
            return -1;
        if (rest >= 0) {
            b->done = 1;
            return (ssize_t)(off + piece - (size_t)rest);
        }
        off += piece;
    }
    return (ssize_t)n;
}
