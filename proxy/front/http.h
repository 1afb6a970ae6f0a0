/* The client-facing HTTP layer (http.c): the MCP endpoints on h2o. Split out
 * of internal.h so that bridge.c and the unit tests need no h2o headers. */
#ifndef PX_HTTP_H
#define PX_HTTP_H

#include <h2o.h>

#include "metrics.h"

typedef struct px_http {
    const px_config_t *cfg;
    h2o_loop_t *loop;
    px_bridge_t *bridge; /* NULL for the HTTP transports (reverse proxy) */
    int (*ready)(void *ctx);
    /* Why the data path is down, for /health's 503 (may be NULL). */
    void (*why_down)(void *ctx, char *out, size_t n);
    void (*metrics)(void *ctx, mcp_buf_t *out);
    void *ready_ctx;
    h2o_timeout_t keepalive_timeout, watch_timeout;
    h2o_timeout_entry_t watch_entry;
    h2o_linklist_t watching; /* chans whose client may hang up while we wait */
    h2o_linklist_t holding;  /* chans with unsent bytes (http.c): whom to shed */
    int n_streams, draining;
    px_http_stats_t stats;
    /* --tools on the HTTP transports (revproxy.c) */
    h2o_linklist_t tracked;     /* POSTs whose answers the output filter rewrites */
    h2o_linklist_t rp_watching; /* proxied GETs (streams) whose client may hang up */
    h2o_socket_cb http1_read;   /* h2o's HTTP/1 read callback, seen on accept (revproxy.c) */
    json_t *sse_refused;        /* HTTP+SSE session key -> {id key -> tool name} */
    size_t n_sse_refused;
    struct px_authn *authn; /* bearer authentication (authn.c), NULL when off; borrowed */
    px_caller_t *caller;    /* the request being handled's caller, during on_req only */
} px_http_t;

typedef struct px_http_handler {
    h2o_handler_t super;
    px_http_t *http;
} px_http_handler_t;

/* `cfg`, `loop` and `bridge` are borrowed. Set ready/metrics after. */
void px_http_init(px_http_t *h, const px_config_t *cfg, h2o_loop_t *loop, px_bridge_t *bridge);
void px_http_dispose(px_http_t *h);
/* The handler for every path of `pathconf` ("/"); with no bridge it answers
 * only /health and /metrics and declines the rest (the next handler, the
 * reverse proxy, takes it). */
void px_http_register(px_http_t *h, h2o_pathconf_t *pathconf);
/* End a handshake-era session and its stream (DELETE /mcp). */
void px_http_close_session(px_http_t *h, px_session_t *s);
/* px_session_closed_cb for the bridge's idle timeout; ctx is the px_http_t. */
void px_http_on_session_closed(void *ctx, px_session_t *s);

/* --tools on the HTTP transports (revproxy.c): look at a request before the
 * reverse proxy takes it (1 when answered here), and the output filter that
 * rewrites the answers (registered only with --tools). */
int px_rp_request(px_http_t *h, h2o_req_t *req);
void px_rp_register_filter(px_http_t *h, h2o_pathconf_t *pathconf);
/* The watch timer: proxied streams whose client hung up are ended. */
void px_rp_watch(px_http_t *h);
/* Has the client of req closed its connection (EOF seen without reading)? */
int px_http_peer_closed(h2o_req_t *req);

#endif
