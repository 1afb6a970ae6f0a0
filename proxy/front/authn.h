/* Bearer authentication in front of the MCP endpoints (DESIGN §9): the
 * proxy as an OAuth 2.1 resource server (MCP authorization specification,
 * 2025-11-25 and 2026-07-28, "Access Token Usage" and "Authorization Server
 * Discovery"). Tokens are verified by proxy/auth/ (cjose); this file is the
 * loop's side of it: the token and decision caches, the DPoP replay cache,
 * requests waiting for keys, the 401/403 answers and the RFC 9728 metadata.
 * The network (OIDC discovery, the JWKS, RFC 7662 introspection) is done by
 * one fetcher thread with libcurl (authfetch.c), whose answers come back to
 * the loop as h2o multithread messages: nothing here blocks the loop. */
#ifndef PX_AUTHN_H
#define PX_AUTHN_H

#include <h2o.h>

#include "../internal.h"

typedef struct px_authn px_authn_t;

/* Set up from cfg (borrowed for the proxy's life): start the fetcher thread
 * and the first key fetch. NULL with a message in err. Call on the loop's
 * thread after px_curl_load. */
px_authn_t *px_authn_new(const px_config_t *cfg, h2o_loop_t *loop, char *err, size_t errlen);
/* Stop the thread, answer waiting requests 503, free everything. */
void px_authn_free(px_authn_t *a);

/* Results of px_authn_check. */
#define PX_AUTHN_PASS     0 /* *caller set (a new reference) */
#define PX_AUTHN_ANSWERED 1 /* refused: 401 / 403 / 503 already sent */
#define PX_AUTHN_WAIT                                                                              \
    2 /* held until keys or an introspection answer come: resume is                                \
         called with (ctx, req) then, on the loop, to handle it again */
typedef void (*px_authn_resume_cb)(void *ctx, h2o_req_t *req);
/* Authenticate req: the Authorization header (`Bearer`, or `DPoP` with a
 * DPoP proof header, RFC 9449 §7.1). A missing or bad token is answered 401
 * with WWW-Authenticate naming the resource metadata (RFC 9728 §5.1; RFC
 * 6750 §3: error="invalid_token" and a short reason when a token was sent).
 * `resume` must stay valid while requests wait. */
int px_authn_check(px_authn_t *a, h2o_req_t *req, px_caller_t **caller, px_authn_resume_cb resume,
                   void *ctx);
/* GET /.well-known/oauth-protected-resource[/path] (RFC 9728 §3): 1 when
 * req was such a request and is answered, else 0. */
int px_authn_metadata(px_authn_t *a, h2o_req_t *req);
/* Timers (the loop's tick): waiting requests past their deadline get 503,
 * expired cache entries go. */
void px_authn_tick(px_authn_t *a, uint64_t now_ms);
/* Counters for /metrics. */
typedef struct px_authn_stats {
    uint64_t accepted, refused, cache_hits, key_fetches, key_fetch_errors, introspections;
} px_authn_stats_t;
const px_authn_stats_t *px_authn_stats(const px_authn_t *a);

#endif
