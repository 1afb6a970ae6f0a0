/* The egress proxy's requests, pure (request.c): a client's head read with
 * picohttpparser into CONNECT host:port or an absolute-form http:// request,
 * the latter rewritten into the origin-form head the origin gets, and the
 * request body's framing followed so that exactly one request is passed. */
#ifndef PX_EGRESS_REQUEST_H
#define PX_EGRESS_REQUEST_H

#include <stdint.h>
#include <sys/types.h>

#include "mcp/buf.h"
#include "phr.h"
#include "mcp/egress_rules.h"

#define MCP_EG_HEAD_MAX    16384 /* bytes of a client's request head */
#define MCP_EG_MAX_HEADERS 100
#define MCP_EG_FWD_MAX     (2 * MCP_EG_HEAD_MAX) /* the cap of the rewritten head's buffer */
#define MCP_EG_SCRATCH     4096 /* chunked bodies are followed this much at a time */

typedef enum mcp_eg_kind {
    MCP_EG_CONNECT = 1, /* CONNECT host:port: a tunnel */
    MCP_EG_FORWARD,     /* GET http://host[:port]/path: one request forwarded */
} mcp_eg_kind_t;

/* Where a forwarded request's body ends. */
typedef struct mcp_eg_body {
    int chunked, done;
    uint64_t left; /* Content-Length bytes still to come (when not chunked) */
    struct phr_chunked_decoder dec;
    char pad[16]; /* the decoder as the library may define it is no larger than this */
    char scratch[MCP_EG_SCRATCH];
} mcp_eg_body_t;

typedef struct mcp_eg_request {
    mcp_eg_kind_t kind;
    char host[MCP_EG_HOST_BUF]; /* canonical (mcp_eg_host_canon) */
    int is_ip;
    int port;
    size_t head_len;    /* bytes of the client's head */
    mcp_eg_body_t body; /* MCP_EG_FORWARD */
} mcp_eg_request_t;

/* Read the request head at buf[0..len) (the client's bytes so far). Returns
 * the head's length when it is complete and acceptable, 0 while it is
 * incomplete (and under MCP_EG_HEAD_MAX bytes), -1 when it must be answered
 * 400, with the reason in why (never quoting the request). *req is filled
 * on success; for MCP_EG_FORWARD, fwd (reset first; its cap at least
 * MCP_EG_FWD_MAX) receives the head for the origin: the method, the
 * origin-form target, HTTP/1.1, Host from the URL, the client's headers
 * without Host, Proxy-* and hop-by-hop ones (Connection and those it names,
 * Keep-Alive, TE, Trailer, Upgrade), then "Connection: close". Refused:
 * other methods in authority form, other targets (origin-form, https://,
 * "*"), ambiguous framing (mcp_http1_framing_error), a Transfer-Encoding
 * other than chunked, a bad Content-Length, a CONNECT with a body, a host
 * mcp_eg_host_canon refuses, a port of 0 or none in CONNECT. */
int mcp_eg_request_parse(const char *buf, size_t len, mcp_eg_request_t *req, mcp_buf_t *fwd,
                         char *why, size_t whylen);

/* How many of the n bytes at p still belong to the request body (the rest
 * follow it and are not passed on): 0..n, with b->done set at its end; -1
 * when the chunked framing is bad. p is not changed. */
ssize_t mcp_eg_body_take(mcp_eg_body_t *b, const char *p, size_t n);

#endif
