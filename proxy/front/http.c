/* The client side: h2o handlers for the MCP endpoints.
 *
 *   POST   /mcp        one JSON-RPC message: a 2026-07-28 request (self-contained, per-request
 *                      _meta), or a handshake-era message (initialize opens a session,
 *                      Mcp-Session-Id names it afterwards)
 *   GET    /mcp        a handshake-era session's stream for server-initiated messages
 *   DELETE /mcp        end a handshake-era session
 *   GET    /sse        HTTP+SSE (2024-11-05): a session whose stream carries every answer
 *   POST   /sse        as POST /mcp (and DELETE as DELETE /mcp): status.url of an sse server
 *                      ends in /sse, and a streamable-HTTP client POSTs there first
 *   POST   /messages   its client-to-server messages (?session_id=)
 *   GET    /health     200 while the data path works, else 503
 *   GET    /metrics    Prometheus text
 *
 * Every response that carries MCP messages is an http_chan: it answers with
 * application/json when the first thing to send is the final response and
 * switches to text/event-stream otherwise; bytes are queued (capped) and
 * handed to h2o one batch per proceed, so nothing is buffered whole and a
 * slow client cannot grow memory without bound. A chan lives in the
 * request's pool; when h2o disposes the request the bridge is told.
 *
 * The bytes a chan queues and the body of every request still being
 * answered count against --max-queued-bytes (budget.h). When a client's
 * answer does not fit, the slowest consumers are shed first: the connection
 * with the most unsent bytes (those whose last write stalled STALL_MS before
 * others) is closed; a request whose body does not fit, like other new work,
 * gets 503 with Retry-After once no stalled consumer is left to shed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <h2o.h>
#include <openssl/evp.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcp/log.h"
#include "authn.h"
#include "hostcheck.h"
#include "http.h"

#define KEEPALIVE_MS 15000
#define WATCH_MS     500
#define STALL_MS     1000       /* a write pending this long: a stalled consumer, shed first */
#define SSE_SLACK    64         /* an SSE event's framing besides its data (one data line) */
#define KEEP_ALLOC   (64 << 10) /* a send buffer bigger than this is freed once sent */

typedef struct http_chan {
    px_chan_t super;
    h2o_generator_t gen;
    h2o_req_t *req; /* NULL once disposed */
    px_http_t *http;
    px_session_t *session;   /* the session whose stream this is (GET /mcp, /sse) */
    const char *session_hdr; /* Mcp-Session-Id to send with the response headers */
    const char *event;       /* SSE event name ("message" for /sse) */
    mcp_buf_t queue, sending;
    size_t held;          /* bytes of queue and sending counted in the budget */
    uint64_t progress_at; /* when the last write to the client started or completed */
    h2o_timeout_entry_t keepalive;
    h2o_linklist_t watch;   /* in px_http_t.watching while the bridge owes an answer */
    h2o_linklist_t holding; /* in px_http_t.holding while it has unsent bytes */
    int started, sse, sending_now, final, done, json_only, sse_session, shed;
    int batch_left; /* a batch's requests not answered yet (each ends with its own final) */
} http_chan_t;

static uint64_t now_ms(px_http_t *h)
{
    return h2o_now(h->loop);
}

static void count_status(px_http_t *h, int status)
{
    int i = status == 202 ? 1 : status == 403 ? 3 : status < 300 ? 0 : status < 500 ? 2 : 4;

    h->stats.http[i]++;
}

/* ---- plain answers ------------------------------------------------------------------------- */

static void send_body(h2o_req_t *req, int status, const char *ctype, const char *body, size_t len)
{
    static h2o_generator_t gen = {NULL, NULL};
    h2o_iovec_t buf = h2o_strdup(&req->pool, body, len);

    req->res.status = status;
    req->res.reason = status == 200   ? "OK"
                      : status == 202 ? "Accepted"
                      : status == 400 ? "Bad Request"
                      : status == 403 ? "Forbidden"
                      : status == 404 ? "Not Found"
                      : status == 405 ? "Method Not Allowed"
                      : status == 406 ? "Not Acceptable"
                      : status == 413 ? "Payload Too Large"
                      : status == 429 ? "Too Many Requests"
                      : status == 503 ? "Service Unavailable"
                                      : "Error";
    req->res.content_length = buf.len;
    if (ctype)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype,
                       strlen(ctype));
    h2o_start_response(req, &gen);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

/* A JSON-RPC error without id (or with `id`) as the HTTP body. */
static int send_rpc_error(px_http_t *h, h2o_req_t *req, int status, json_t *id, int code,
                          const char *message)
{
    json_t *e = px_error_new(id, code, message, NULL);
    char *s = e ? json_dumps(e, JSON_COMPACT) : NULL;

    if (status == 503)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    count_status(h, status);
    send_body(req, status, "application/json", s ? s : "", s ? strlen(s) : 0);
    free(s);
    json_decref(e);
    return 0;
}

static int send_status(px_http_t *h, h2o_req_t *req, int status, const char *text)
{
    count_status(h, status);
    send_body(req, status, "text/plain; charset=utf-8", text, strlen(text));
    return 0;
}

/* ---- the budget ----------------------------------------------------------------------------- */

/* A request's body stays in h2o's input buffer until the request is
 * disposed: counted from the handler until then (the pool's dispose). */
typedef struct body_charge {
    px_budget_t *budget;
    size_t n;
} body_charge_t;

static void body_dispose(void *p)
{
    body_charge_t *bc = p;

    px_budget_give(bc->budget, bc->n);
}

/* 0, or -1 when the body does not fit in the budget. */
static int charge_body(px_http_t *h, h2o_req_t *req)
{
    body_charge_t *bc;

    if (!h->cfg->budget || req->entity.len == 0)
        return 0;
    if (px_budget_take(h->cfg->budget, req->entity.len) != 0)
        return -1;
    bc = h2o_mem_alloc_shared(&req->pool, sizeof(*bc), body_dispose);
    bc->budget = h->cfg->budget;
    bc->n = req->entity.len;
    return 0;
}

/* New work over the budget: 503, to be retried in a second. */
static int send_busy(px_http_t *h, h2o_req_t *req)
{
    return send_rpc_error(h, req, 503, NULL, PX_E_INTERNAL,
                          "Service Unavailable: the proxy holds as many queued bytes as "
                          "--max-queued-bytes allows; retry");
}

static void uncharge(http_chan_t *c, size_t n)
{
    if (n > c->held)
        n = c->held;
    c->held -= n;
    px_budget_give(c->http->cfg->budget, n);
}

static size_t unsent(const http_chan_t *c)
{
    return c->queue.len + c->sending.len;
}

/* Keep c in px_http_t.holding exactly while it has unsent bytes: the
 * candidates for shedding. */
static void track(http_chan_t *c)
{
    int holds = c->req && !c->shed && unsent(c) > 0;

    if (holds && !h2o_linklist_is_linked(&c->holding))
        h2o_linklist_insert(&c->http->holding, &c->holding);
    else if (!holds && h2o_linklist_is_linked(&c->holding))
        h2o_linklist_unlink(&c->holding);
}

static int stalled(const http_chan_t *c, uint64_t now)
{
    return c->sending_now && now - c->progress_at >= STALL_MS;
}

/* Close a slow client's connection now: its queue is freed at once, the
 * bytes h2o is writing when h2o finds the socket shut (this loop turn), and
 * its dispose tells the bridge. Nothing here calls into the bridge. */
static size_t shed_chan(http_chan_t *c, uint64_t now)
{
    h2o_socket_t *sock = c->req && c->req->conn->callbacks->get_socket
                             ? c->req->conn->callbacks->get_socket(c->req->conn)
                             : NULL;
    size_t freed = c->held;
    char n[24], total[24], ms[24];

    snprintf(n, sizeof(n), "%zu", unsent(c));
    snprintf(total, sizeof(total), "%zu", px_budget_used(c->http->cfg->budget));
    snprintf(ms, sizeof(ms), "%llu", (unsigned long long)(now - c->progress_at));
    mcp_log(MCP_LOG_INFO, "slowest client shed: connection closed (--max-queued-bytes)",
            "unsent_bytes", n, "queued_bytes", total, "stalled_ms", ms, NULL);
    c->shed = c->done = c->final = 1;
    uncharge(c, c->held);
    mcp_buf_dispose(&c->queue);
    track(c);
    if (sock) {
        struct linger lg = {1, 0}; /* a reset: the unread answer is dropped, not lingered on */
        int fd = h2o_socket_get_fd(sock);

        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        shutdown(fd, SHUT_RDWR);
    }
    return freed;
}

/* Free at least `need` bytes by shedding consumers: the stalled ones first,
 * then those with the most unsent bytes, the longest waiting first; with
 * `stalled_only` none that still moves. When `self` (the channel that needs
 * the room) comes first, nothing more is shed: its new bytes are refused. */
static size_t shed(px_http_t *h, size_t need, int stalled_only, http_chan_t *self)
{
    uint64_t now = now_ms(h);
    size_t freed = 0;

    while (freed < need) {
        http_chan_t *v = NULL;
        size_t vn = 0;
        int vs = 0;

        for (h2o_linklist_t *l = h->holding.next; l != &h->holding; l = l->next) {
            http_chan_t *c = H2O_STRUCT_FROM_MEMBER(http_chan_t, holding, l);
            size_t n = unsent(c);
            int s = stalled(c, now);

            if (stalled_only && !s)
                continue;
            if (!v || s > vs || (s == vs && n > vn) ||
                (s == vs && n == vn && c->progress_at < v->progress_at))
                v = c, vn = n, vs = s;
        }
        if (!v || v == self)
            break; /* the caller refuses its own bytes instead */
        freed += shed_chan(v, now);
    }
    return freed;
}

/* px_shed_cb: new work (a request body, the write queue to the server, a
 * parked request) sheds only consumers that stalled. */
static size_t shed_stalled(void *ctx, size_t need)
{
    return shed(ctx, need, 1, NULL);
}

/* Count n more bytes for c's queue: 0, or -1 when they do not fit even after
 * shedding the slowest consumers (c itself may be the slowest: then -1). */
static int charge(http_chan_t *c, size_t n)
{
    px_budget_t *b = c->http->cfg->budget;
    size_t used;

    if (b && px_budget_take(b, n) != 0) {
        used = px_budget_used(b);
        shed(c->http, used + n > b->max ? used + n - b->max : 0, 0, c);
        if (px_budget_try(b, n) != 0)
            return -1;
    }
    c->held += n;
    if (c->shed) { /* it was the slowest itself */
        uncharge(c, n);
        return -1;
    }
    return 0;
}

/* Append an answer to c's queue (as an SSE event when c streams), counted
 * in the budget: 0, or -1 when it does not fit (nothing appended). */
static int enqueue(http_chan_t *c, const char *json, size_t len, int sse)
{
    size_t before = c->queue.len, est = len + SSE_SLACK + (c->event ? strlen(c->event) : 0);
    int rc;

    if (charge(c, est) != 0)
        return -1;
    rc = sse ? px_sse_event(&c->queue, c->event, json, len) : mcp_buf_add(&c->queue, json, len);
    if (rc != 0) {
        c->queue.len = before;
        if (c->queue.data)
            c->queue.data[before] = '\0';
    }
    uncharge(c, est - (c->queue.len - before));
    track(c);
    return rc ? -1 : 0;
}

/* ---- channels -------------------------------------------------------------------------------- */

static void flush(http_chan_t *c);

static void on_proceed(h2o_generator_t *gen, h2o_req_t *req)
{
    http_chan_t *c = H2O_STRUCT_FROM_MEMBER(http_chan_t, gen, gen);

    (void)req;
    c->sending_now = 0;
    c->progress_at = now_ms(c->http);
    uncharge(c, c->sending.len);
    if (c->sending.alloc > KEEP_ALLOC)
        mcp_buf_dispose(&c->sending); /* a long-lived stream keeps no big buffer */
    else
        mcp_buf_reset(&c->sending);
    track(c);
    flush(c);
}

static void on_stop(h2o_generator_t *gen, h2o_req_t *req)
{
    http_chan_t *c = H2O_STRUCT_FROM_MEMBER(http_chan_t, gen, gen);

    (void)req;
    c->done = 1; /* the client went away; the pool's dispose tells the bridge */
}

static void flush(http_chan_t *c)
{
    h2o_iovec_t iov;
    mcp_buf_t tmp;

    if (!c->req || c->sending_now || c->done || (!c->queue.len && !c->final))
        return;
    tmp = c->sending;
    c->sending = c->queue;
    c->queue = tmp;
    iov = h2o_iovec_init(c->sending.data ? c->sending.data : "", c->sending.len);
    c->sending_now = 1;
    c->progress_at = now_ms(c->http);
    if (c->final)
        c->done = 1;
    h2o_send(c->req, &iov, 1, c->final ? H2O_SEND_STATE_FINAL : H2O_SEND_STATE_IN_PROGRESS);
}

static void start(http_chan_t *c, int status, int sse, size_t content_length)
{
    h2o_req_t *req = c->req;

    req->res.status = status ? status : 200;
    req->res.reason = req->res.status == 200 ? "OK" : "Error";
    if (req->res.status == 503)
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    if (c->session_hdr)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("mcp-session-id"), 0, NULL,
                              c->session_hdr, strlen(c->session_hdr));
    if (sse) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("text/event-stream"));
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                       H2O_STRLIT("no-cache"));
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-accel-buffering"), 0,
                              NULL, H2O_STRLIT("no"));
    } else {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                       H2O_STRLIT("application/json"));
        req->res.content_length = content_length;
    }
    c->started = 1;
    c->sse = sse;
    count_status(c->http, req->res.status);
    h2o_start_response(req, &c->gen);
}

static void chan_end(http_chan_t *c)
{
    c->final = 1;
    flush(c);
}

static void on_keepalive(h2o_timeout_entry_t *entry)
{
    http_chan_t *c = H2O_STRUCT_FROM_MEMBER(http_chan_t, keepalive, entry);

    if (c->req && !c->done && c->queue.len == 0 && enqueue(c, ": ping\n\n", 8, 0) == 0)
        flush(c);
    if (c->req && !c->done)
        h2o_timeout_link(c->http->loop, &c->http->keepalive_timeout, &c->keepalive);
}

/* An answer of len bytes for c did not fit (its own cap, or the budget
 * with c the slowest consumer): before the response started, 503 (the
 * JSON-RPC error has no id: the answer it replaces is not read); else the
 * stream ends. */
static void over_budget(http_chan_t *c, size_t len)
{
    static const char busy[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
                               "\"message\":\"Service Unavailable: the answer is over the proxy's "
                               "--max-queued-bytes; retry\"}}";
    char n[24];

    if (c->shed)
        return;
    snprintf(n, sizeof(n), "%zu", len);
    mcp_log(MCP_LOG_INFO, "answer over --max-queued-bytes: dropped, the client's response ended",
            "answer_bytes", n, NULL);
    mcp_buf_dispose(&c->queue);
    uncharge(c, c->held - c->sending.len);
    track(c);
    if (!c->started) {
        c->held += sizeof(busy) - 1; /* small: counted, never refused */
        px_budget_charge(c->http->cfg->budget, sizeof(busy) - 1);
        start(c, 503, 0, mcp_buf_add(&c->queue, busy, sizeof(busy) - 1) == 0 ? c->queue.len : 0);
    }
    c->req->http1_is_persistent = 0;
    chan_end(c);
}

static void chan_send(px_chan_t *pc, const char *json, size_t len, int flags, int status)
{
    http_chan_t *c = (http_chan_t *)pc;
    int final = (flags & PX_SEND_FINAL) && !pc->streaming;

    if (!c->req || c->done || c->final)
        return;
    if (final && c->batch_left > 0) /* the last answer of a batch ends it */
        final = --c->batch_left == 0;
    if (!c->started && final && len && !c->sse) { /* the common case: one JSON answer */
        if (enqueue(c, json, len, 0) != 0) {
            over_budget(c, len);
            return;
        }
        start(c, status, 0, len);
        chan_end(c);
        return;
    }
    if (c->json_only && !final)
        return; /* the client cannot take a stream: drop progress */
    if (!c->started)
        start(c, 200, 1, 0);
    if (len && enqueue(c, json, len, 1) != 0) {
        over_budget(c, len);
        return;
    }
    if (final)
        c->final = 1;
    flush(c);
}

static void chan_dispose(void *p)
{
    http_chan_t *c = p;
    px_http_t *h = c->http;

    c->req = NULL;
    if (h2o_linklist_is_linked(&c->holding))
        h2o_linklist_unlink(&c->holding);
    uncharge(c, c->held);
    if (h2o_linklist_is_linked(&c->watch))
        h2o_linklist_unlink(&c->watch);
    if (h2o_timeout_is_linked(&c->keepalive))
        h2o_timeout_unlink(&c->keepalive);
    if (c->super.n_pending > 0 || c->session)
        px_chan_gone(h->bridge, &c->super);
    if (c->session && c->sse_session) { /* an HTTP+SSE session ends with its stream */
        px_session_close(h->bridge, c->session);
        h->stats.sessions_closed++;
    }
    if (c->super.streaming)
        h->n_streams--;
    mcp_buf_dispose(&c->queue);
    mcp_buf_dispose(&c->sending);
    px_caller_unref(c->super.caller);
    c->super.caller = NULL;
}

/* The client's address without its port ("" when unknown): the key of
 * the per-client shares of the session and in-flight caps. */
static void peer_of(h2o_req_t *req, char *out, size_t n)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);

    out[0] = '\0';
    if (len && ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, (socklen_t)n);
    else if (len && ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, (socklen_t)n);
}

/* The key of the per-client caps and of session ownership: the principal
 * with authentication, else the client's address. */
static void client_key(px_http_t *h, h2o_req_t *req, char *out, size_t n)
{
    if (h->caller)
        snprintf(out, n, "%s", h->caller->key);
    else
        peer_of(req, out, n);
}

static http_chan_t *chan_new(px_http_t *h, h2o_req_t *req, int streaming)
{
    http_chan_t *c = h2o_mem_alloc_shared(&req->pool, sizeof(*c), chan_dispose);

    memset(c, 0, sizeof(*c));
    c->super.send = chan_send;
    c->super.streaming = streaming;
    c->gen.proceed = on_proceed;
    c->gen.stop = on_stop;
    c->req = req;
    c->http = h;
    if (h->caller) { /* with authentication the per-client caps count principals */
        c->super.caller = px_caller_ref(h->caller);
        snprintf(c->super.peer, sizeof(c->super.peer), "%s", h->caller->key);
    } else {
        peer_of(req, c->super.peer, sizeof(c->super.peer));
    }
    c->keepalive.cb = on_keepalive;
    c->progress_at = now_ms(h);
    mcp_buf_init(&c->queue, PX_STREAM_QUEUE_MAX);
    mcp_buf_init(&c->sending, PX_STREAM_QUEUE_MAX);
    if (streaming) {
        h->n_streams++;
        h->stats.streams++;
        h2o_timeout_link(h->loop, &h->keepalive_timeout, &c->keepalive);
    }
    return c;
}

/* ---- request checks ------------------------------------------------------------------------- */

static h2o_iovec_t header(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);

    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

static int is_method(h2o_req_t *req, const char *m)
{
    return h2o_memis(req->method.base, req->method.len, m, strlen(m));
}

/* Host must be a name the proxy is served under and Origin, when sent, one
 * too (hostcheck.c: DNS rebinding; both eras' transports say so); NULL when
 * both are, else what to say in the 403. */
static const char *host_refused(px_http_t *h, h2o_req_t *req)
{
    h2o_iovec_t o = header(req, "origin");

    if (!px_host_allowed(h->cfg, req->input.authority.base, req->input.authority.len))
        return "Forbidden: Host not allowed";
    if (o.base && !px_origin_allowed(h->cfg, o.base, o.len))
        return "Forbidden: Origin not allowed";
    return NULL;
}

static int accepts(h2o_req_t *req, const char *type)
{
    h2o_iovec_t a = header(req, "accept");

    if (!a.base)
        return 1;
    return h2o_strstr(a.base, a.len, type, strlen(type)) != SIZE_MAX ||
           h2o_strstr(a.base, a.len, H2O_STRLIT("*/*")) != SIZE_MAX;
}

/* Mcp-Name may be "=?base64?...?=" (2026-07-28, value encoding). */
static int header_matches(h2o_iovec_t hv, const char *want)
{
    size_t wl = strlen(want);

    if (hv.len >= 12 && memcmp(hv.base, "=?base64?", 9) == 0 &&
        memcmp(hv.base + hv.len - 2, "?=", 2) == 0) {
        size_t n = hv.len - 11;
        unsigned char *out = malloc(n + 4);
        int dl = out ? EVP_DecodeBlock(out, (const unsigned char *)hv.base + 9, (int)n) : -1;
        int ok;

        if (dl < 0) {
            free(out);
            return 0;
        }
        while (n > 0 && hv.base[9 + n - 1] == '=') /* EVP_DecodeBlock counts padding */
            n--, dl--;
        ok = (size_t)dl == wl && memcmp(out, want, wl) == 0;
        free(out);
        return ok;
    }
    return hv.len == wl && memcmp(hv.base, want, wl) == 0;
}

/* The 2026-07-28 header/body checks; 0 when fine, else answered. */
static int check_modern_headers(px_http_t *h, h2o_req_t *req, json_t *msg, const char *version)
{
    const char *method = px_msg_method(msg);
    h2o_iovec_t pv = header(req, "mcp-protocol-version");
    h2o_iovec_t mh = header(req, "mcp-method");
    const char *name = px_msg_mcp_name(msg);
    json_t *id = json_object_get(msg, "id");

    if (!pv.base || !h2o_memis(pv.base, pv.len, version, strlen(version)))
        return send_rpc_error(h, req, 400, id, PX_E_HEADER,
                              "Header mismatch: MCP-Protocol-Version must match "
                              "_meta." PX_META_VERSION),
               -1;
    if (!mh.base || !header_matches(mh, method))
        return send_rpc_error(h, req, 400, id, PX_E_HEADER,
                              "Header mismatch: Mcp-Method must match the body's method"),
               -1;
    if (name && !header_matches(header(req, "mcp-name"), name))
        return send_rpc_error(h, req, 400, id, PX_E_HEADER,
                              "Header mismatch: Mcp-Name must match the body's name or uri"),
               -1;
    return 0;
}

/* The body: one JSON-RPC object, or with `batch` also an array (answered
 * with 400 here when it is not). */
static json_t *parse_body(px_http_t *h, h2o_req_t *req, int batch)
{
    const char *body = req->entity.base ? req->entity.base : "";
    int code = 0;
    json_t *msg;

    if (req->entity.len > h->cfg->max_message) {
        send_rpc_error(h, req, 413, NULL, PX_E_INVALID, "message too large");
        return NULL;
    }
    if (batch)
        msg = px_parse_batch(body, req->entity.len, &code);
    else
        msg = px_parse(body, req->entity.len, &code);
    if (!msg)
        send_rpc_error(h, req, 400, NULL, code,
                       code == PX_E_PARSE ? "Parse error" : "Invalid Request: one JSON-RPC object");
    return msg;
}

/* After the bridge took what a request carried: 202 when it owes no answer
 * (`accepted`), else watch for the client hanging up while it does. */
static int chan_settle(px_http_t *h, h2o_req_t *req, http_chan_t *c, int accepted)
{
    if (accepted && !c->started) {
        count_status(h, 202);
        send_body(req, 202, NULL, "", 0);
        c->done = 1;
    }
    if (c->super.n_pending > 0 && !c->done)
        h2o_linklist_insert(&h->watching, &c->watch);
    return 0;
}

/* Hand a message to the bridge with a fresh response channel. */
static int to_bridge(px_http_t *h, h2o_req_t *req, px_session_t *s, json_t *msg,
                     const char *session_hdr)
{
    http_chan_t *c = chan_new(h, req, 0);
    int rc;

    c->session_hdr = session_hdr;
    c->json_only = !accepts(req, "text/event-stream");
    rc = px_bridge_client(h->bridge, s, &c->super, msg);
    json_decref(msg);
    return chan_settle(h, req, c, rc == PX_ACCEPTED);
}

/* h2o stops reading a connection while its request is handled, so a client
 * that hangs up is noticed only when we write. Peek instead: EOF means the
 * client is gone (2026-07-28: that cancels its request). Ending the
 * response makes h2o find the dead socket and dispose of the request. */
int px_http_peer_closed(h2o_req_t *req)
{
    h2o_socket_t *sock =
        req->conn->callbacks->get_socket ? req->conn->callbacks->get_socket(req->conn) : NULL;
    char b;

    return sock && recv(h2o_socket_get_fd(sock), &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

static void on_watch(h2o_timeout_entry_t *entry)
{
    px_http_t *h = H2O_STRUCT_FROM_MEMBER(px_http_t, watch_entry, entry);
    h2o_linklist_t *node = h->watching.next;

    while (node != &h->watching) {
        http_chan_t *c = H2O_STRUCT_FROM_MEMBER(http_chan_t, watch, node);

        node = node->next;
        if (!c->req || c->done || (!c->super.streaming && c->super.n_pending == 0)) {
            h2o_linklist_unlink(&c->watch);
        } else if (px_http_peer_closed(c->req)) {
            h2o_linklist_unlink(&c->watch);
            px_chan_gone(h->bridge, &c->super);
            if (!c->started)
                start(c, 200, 1, 0);
            chan_end(c);
        }
    }
    px_rp_watch(h);
    h2o_timeout_link(h->loop, &h->watch_timeout, &h->watch_entry);
}

/* ---- /mcp
 * ----------------------------------------------------------------------------------------- */

/* With authentication a session is its opener's: another principal's
 * request naming it finds nothing (404, as for an unknown id). */
static px_session_t *owned(px_http_t *h, px_session_t *s)
{
    if (s && h->caller && strcmp(px_session_peer(s), h->caller->key) != 0)
        return NULL;
    return s;
}

static px_session_t *session_of(px_http_t *h, h2o_req_t *req, int *missing)
{
    h2o_iovec_t sid = header(req, "mcp-session-id");
    char id[80];

    *missing = sid.base == NULL;
    if (!sid.base || sid.len >= sizeof(id))
        return NULL;
    memcpy(id, sid.base, sid.len);
    id[sid.len] = '\0';
    return owned(h, px_session_find(h->bridge, id, now_ms(h)));
}

/* A JSON-RPC batch (MCP 2025-03-26 only; gone since 2025-06-18) of a
 * handshake-era session: every member goes to the bridge with one channel,
 * whose answers stream as SSE events until each request has its own
 * (2025-03-26, "Sending Messages to the Server": one response per request,
 * which MAY be sent one by one). At most --max-inflight members; all must be
 * messages (else 400, nothing sent); no initialize; 202 when no member is a
 * request. */
static int mcp_batch(px_http_t *h, h2o_req_t *req, px_session_t *s, int missing, json_t *batch)
{
    size_t n = json_array_size(batch), i, requests = 0;
    http_chan_t *c;
    json_t *m;

    if (missing || !s) {
        json_decref(batch);
        return missing ? send_rpc_error(h, req, 400, NULL, PX_E_INVALID,
                                        "Bad Request: a batch needs an Mcp-Session-Id (2025-03-26)")
                       : send_rpc_error(h, req, 404, NULL, PX_E_INVALID, "Session not found");
    }
    for (i = 0; i < n; i++) {
        m = json_array_get(batch, i);
        if (px_msg_kind(m) == PX_MSG_INVALID || strcmp(px_msg_method(m), "initialize") == 0)
            break;
        requests += px_msg_kind(m) == PX_MSG_REQUEST;
    }
    if (n == 0 || i < n || n > (size_t)h->cfg->max_inflight) {
        json_decref(batch);
        return send_rpc_error(h, req, 400, NULL, PX_E_INVALID,
                              n == 0  ? "Invalid Request: an empty batch"
                              : i < n ? "Invalid Request: a batch member is not a JSON-RPC message "
                                        "(or is initialize)"
                                      : "Invalid Request: a batch larger than --max-inflight");
    }
    c = chan_new(h, req, 0);
    c->batch_left = (int)requests;
    if (requests > 0)
        start(c, 200, 1, 0); /* the answers as events, one by one */
    for (i = 0; i < n; i++)
        px_bridge_client(h->bridge, s, &c->super, json_array_get(batch, i));
    json_decref(batch);
    return chan_settle(h, req, c, requests == 0);
}

static int mcp_post(px_http_t *h, h2o_req_t *req)
{
    int missing;
    px_session_t *s = session_of(h, req, &missing);
    h2o_iovec_t pv = header(req, "mcp-protocol-version");
    json_t *msg, *version;

    if (charge_body(h, req) != 0)
        return send_busy(h, req);
    if (!(msg = parse_body(h, req, 1)))
        return 0;
    if (json_is_array(msg))
        return mcp_batch(h, req, s, missing, msg);
    version = px_msg_meta(msg, PX_META_VERSION);
    if (missing && json_is_string(version) && px_msg_kind(msg) == PX_MSG_REQUEST) {
        if (check_modern_headers(h, req, msg, json_string_value(version)) != 0) {
            json_decref(msg);
            return 0;
        }
        return to_bridge(h, req, NULL, msg, NULL); /* 2026-07-28: self-contained */
    }
    if (pv.base && !h2o_memis(pv.base, pv.len, H2O_STRLIT(PX_MODERN_VERSION))) {
        char v[32];

        snprintf(v, sizeof(v), "%.*s", (int)(pv.len < 31 ? pv.len : 31), pv.base);
        if (!px_is_legacy_version(v)) {
            json_decref(msg);
            return send_rpc_error(h, req, 400, NULL, PX_E_INVALID,
                                  "Bad Request: unsupported MCP-Protocol-Version");
        }
    }
    if (!missing && !s) {
        json_decref(msg);
        return send_rpc_error(h, req, 404, NULL, PX_E_INVALID, "Session not found");
    }
    if (missing && strcmp(px_msg_method(msg), "initialize") == 0) {
        char peer[48];

        client_key(h, req, peer, sizeof(peer));
        s = px_session_open(h->bridge, 0, peer, now_ms(h));
        if (!s) {
            json_decref(msg);
            return send_rpc_error(h, req, 503, NULL, PX_E_INTERNAL, "too many sessions");
        }
        h->stats.sessions_opened++;
        return to_bridge(h, req, s, msg, px_session_id(s));
    }
    if (missing) {
        int kind = px_msg_kind(msg);

        json_decref(msg);
        if (kind == PX_MSG_NOTIFICATION && pv.base &&
            h2o_memis(pv.base, pv.len, H2O_STRLIT(PX_MODERN_VERSION)))
            return send_status(h, req, 202, ""); /* no session, nothing to do */
        return send_rpc_error(h, req, 400, NULL, PX_E_INVALID,
                              "Bad Request: a request needs _meta." PX_META_VERSION
                              " (2026-07-28) or an Mcp-Session-Id (initialize first)");
    }
    return to_bridge(h, req, s, msg, NULL);
}

static int mcp_get(px_http_t *h, h2o_req_t *req)
{
    int missing;
    px_session_t *s = session_of(h, req, &missing);
    http_chan_t *c;

    if (missing) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        return send_status(h, req, 405, "Method Not Allowed: no stream without a session");
    }
    if (!s)
        return send_rpc_error(h, req, 404, NULL, PX_E_INVALID, "Session not found");
    if (!accepts(req, "text/event-stream"))
        return send_status(h, req, 406, "Not Acceptable: text/event-stream");
    c = chan_new(h, req, 1);
    c->session = s;
    if (px_session_stream(s)) { /* a newer GET replaces the stream */
        http_chan_t *old = (http_chan_t *)px_session_stream(s);

        px_chan_gone(h->bridge, &old->super);
        old->session = NULL;
        chan_end(old);
    }
    px_session_set_stream(h->bridge, s, &c->super);
    h2o_linklist_insert(&h->watching, &c->watch);
    start(c, 200, 1, 0);
    if (mcp_buf_adds(&c->queue, ": stream open\n\n") == 0)
        flush(c);
    return 0;
}

static int mcp_delete(px_http_t *h, h2o_req_t *req)
{
    int missing;
    px_session_t *s = session_of(h, req, &missing);

    if (missing) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        return send_status(h, req, 405, "Method Not Allowed");
    }
    if (!s)
        return send_rpc_error(h, req, 404, NULL, PX_E_INVALID, "Session not found");
    px_http_close_session(h, s);
    return send_status(h, req, 200, "");
}

/* ---- /sse and /messages
 * -------------------------------------------------------------------------- */

static int sse_open(px_http_t *h, h2o_req_t *req)
{
    px_session_t *s;
    http_chan_t *c;
    char endpoint[128], peer[48];

    if (!is_method(req, "GET"))
        return send_status(h, req, 405, "Method Not Allowed");
    client_key(h, req, peer, sizeof(peer));
    s = px_session_open(h->bridge, 1, peer, now_ms(h));
    if (!s)
        return send_rpc_error(h, req, 503, NULL, PX_E_INTERNAL, "too many sessions");
    h->stats.sessions_opened++;
    c = chan_new(h, req, 1);
    c->session = s;
    c->sse_session = 1;
    c->event = "message";
    px_session_set_stream(h->bridge, s, &c->super);
    h2o_linklist_insert(&h->watching, &c->watch);
    start(c, 200, 1, 0);
    snprintf(endpoint, sizeof(endpoint), "/messages?session_id=%s", px_session_id(s));
    px_sse_event(&c->queue, "endpoint", endpoint, strlen(endpoint));
    flush(c);
    return 0;
}

static int messages_post(px_http_t *h, h2o_req_t *req)
{
    char id[80] = "";
    px_session_t *s;
    json_t *msg;

    if (!is_method(req, "POST"))
        return send_status(h, req, 405, "Method Not Allowed");
    if (req->query_at != SIZE_MAX) {
        const char *q = req->path.base + req->query_at + 1;
        size_t n = req->path.len - req->query_at - 1;
        size_t at = h2o_strstr(q, n, H2O_STRLIT("session_id="));

        if (at != SIZE_MAX) {
            size_t i = 0;

            for (q += at + 11, n -= at + 11; i < n && i + 1 < sizeof(id) && q[i] != '&'; i++)
                id[i] = q[i];
            id[i] = '\0';
        }
    }
    s = owned(h, px_session_find(h->bridge, id, now_ms(h)));
    if (!s || !px_session_stream(s))
        return send_status(h, req, 404, "Could not find session");
    if (h->caller) { /* this POST's token is the one its requests are authorized with */
        px_chan_t *stream = px_session_stream(s);

        px_caller_unref(stream->caller);
        stream->caller = px_caller_ref(h->caller);
    }
    if (charge_body(h, req) != 0)
        return send_busy(h, req);
    msg = parse_body(h, req, 0);
    if (!msg)
        return 0;
    /* a 2026-07-28 request on the deprecated transport is still self-contained */
    if (px_msg_kind(msg) == PX_MSG_REQUEST && json_is_string(px_msg_meta(msg, PX_META_VERSION)))
        px_bridge_client(h->bridge, NULL, px_session_stream(s), msg);
    else
        px_bridge_client(h->bridge, s, px_session_stream(s), msg);
    json_decref(msg);
    return send_status(h, req, 202, "Accepted");
}

/* ---- the handler
 * ------------------------------------------------------------------------------------ */

static int path_is(h2o_req_t *req, const char *p)
{
    return h2o_memis(req->path_normalized.base, req->path_normalized.len, p, strlen(p));
}

static int route(px_http_t *h, h2o_req_t *req);

/* A request that waited for the authorization server is handled again. */
static void resume_req(void *ctx, h2o_req_t *req)
{
    h2o_handler_t *self = ctx;

    if (self->on_req(self, req) != 0)
        h2o_delegate_request(req, self); /* --passthrough: the reverse proxy's */
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    px_http_t *h = ((px_http_handler_t *)self)->http;
    const char *refused;
    int rc;

    if (path_is(req, "/health") || path_is(req, "/healthz") || path_is(req, "/readyz")) {
        int ok = h->ready(h->ready_ctx);
        char why[320] = "", body[400];

        if (!ok && h->why_down)
            h->why_down(h->ready_ctx, why, sizeof(why));
        snprintf(body, sizeof(body), "data path down%s%s\n", why[0] ? ": " : "", why);
        return send_status(h, req, ok ? 200 : 503, ok ? "ok\n" : body);
    }
    /* /health stays open for probes; every other path, --passthrough's too, is checked */
    if ((refused = host_refused(h, req)) != NULL)
        return send_rpc_error(h, req, 403, NULL, PX_E_INVALID, refused);
    if (h->authn && px_authn_metadata(h->authn, req))
        return 0;
    if (path_is(req, "/metrics")) {
        mcp_buf_t out;

        mcp_buf_init(&out, (size_t)1 << 20);
        h->metrics(h->ready_ctx, &out);
        count_status(h, 200);
        send_body(req, 200, "text/plain; version=0.0.4", out.data ? out.data : "", out.len);
        mcp_buf_dispose(&out);
        return 0;
    }
    /* draining: the connection closes after this answer; a bridged session's
     * requests keep theirs, as the session lives here until its stream ends */
    if (h->draining &&
        (!h->bridge || (!path_is(req, "/messages") && !header(req, "mcp-session-id").base)))
        req->http1_is_persistent = 0;
    if (!h->authn)
        return route(h, req);
    if (px_authn_check(h->authn, req, &h->caller, resume_req, self) != PX_AUTHN_PASS)
        return 0; /* refused, or waiting for the authorization server */
    rc = route(h, req);
    px_caller_unref(h->caller);
    h->caller = NULL;
    return rc;
}

/* The MCP endpoints (and, with --passthrough, the reverse proxy). */
static int route(px_http_t *h, h2o_req_t *req)
{
    if (!h->bridge)
        return px_rp_request(h, req) ? 0 : -1; /* the reverse proxy takes the rest */
    if (path_is(req, "/mcp")) {
        if (is_method(req, "POST"))
            return mcp_post(h, req);
        if (is_method(req, "GET"))
            return mcp_get(h, req);
        if (is_method(req, "DELETE"))
            return mcp_delete(h, req);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL,
                       H2O_STRLIT("GET, POST, DELETE"));
        return send_status(h, req, 405, "Method Not Allowed");
    }
    /* status.url of an sse server ends in /sse: a streamable-HTTP client
     * POSTing there (and ending its session with DELETE) is served as on /mcp
     * (the 2025-03-26 backwards-compatibility probe: POST first, then GET) */
    if (path_is(req, "/sse") && is_method(req, "POST"))
        return mcp_post(h, req);
    if (path_is(req, "/sse") && is_method(req, "DELETE"))
        return mcp_delete(h, req);
    if (path_is(req, "/sse"))
        return sse_open(h, req);
    if (path_is(req, "/messages") || path_is(req, "/message"))
        return messages_post(h, req);
    return send_status(h, req, 404, "Not Found: the MCP endpoints are /mcp and /sse\n");
}

/* ---- set-up
 * ------------------------------------------------------------------------------------------ */

void px_http_init(px_http_t *h, const px_config_t *cfg, h2o_loop_t *loop, px_bridge_t *bridge)
{
    memset(h, 0, sizeof(*h));
    h->cfg = cfg;
    h->loop = loop;
    h->bridge = bridge;
    h2o_timeout_init(loop, &h->keepalive_timeout, KEEPALIVE_MS);
    h2o_timeout_init(loop, &h->watch_timeout, WATCH_MS);
    h2o_linklist_init_anchor(&h->watching);
    h2o_linklist_init_anchor(&h->holding);
    h2o_linklist_init_anchor(&h->tracked);
    h2o_linklist_init_anchor(&h->rp_watching);
    h->sse_refused = json_object();
    h->watch_entry.cb = on_watch;
    h2o_timeout_link(loop, &h->watch_timeout, &h->watch_entry);
    if (cfg->budget)
        px_budget_set_shed(cfg->budget, shed_stalled, h);
}

void px_http_dispose(px_http_t *h)
{
    if (h->cfg->budget)
        px_budget_set_shed(h->cfg->budget, NULL, NULL);
    if (h2o_timeout_is_linked(&h->watch_entry))
        h2o_timeout_unlink(&h->watch_entry);
    while (!h2o_linklist_is_empty(&h->keepalive_timeout._entries)) /* streams never closed */
        h2o_timeout_unlink(
            H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link, h->keepalive_timeout._entries.next));
    h2o_timeout_dispose(h->loop, &h->watch_timeout);
    h2o_timeout_dispose(h->loop, &h->keepalive_timeout);
    json_decref(h->sse_refused);
    h->sse_refused = NULL;
}

void px_http_register(px_http_t *h, h2o_pathconf_t *pathconf)
{
    px_http_handler_t *hh = (px_http_handler_t *)h2o_create_handler(pathconf, sizeof(*hh));

    hh->super.on_req = on_req;
    hh->http = h;
}

void px_http_close_session(px_http_t *h, px_session_t *s)
{
    px_chan_t *stream = px_session_stream(s);

    if (stream) { /* end the stream; its dispose finds no session any more */
        http_chan_t *c = (http_chan_t *)stream;

        px_chan_gone(h->bridge, stream);
        c->session = NULL;
        chan_end(c);
    }
    px_session_close(h->bridge, s);
    h->stats.sessions_closed++;
}

/* The bridge closed an idle session: end its stream if one is left. */
void px_http_on_session_closed(void *ctx, px_session_t *s)
{
    px_http_t *h = ctx;
    px_chan_t *stream = px_session_stream(s);

    if (stream) {
        http_chan_t *c = (http_chan_t *)stream;

        px_chan_gone(h->bridge, stream);
        c->session = NULL;
        chan_end(c);
    }
    h->stats.sessions_closed++;
}
