/* The bridge: one MCP server process, many clients of either era.
 *
 * Every client request gets a fresh upstream id (a counter) and, when it
 * asks for progress, the same number as its progress token; the pending
 * table maps the upstream id back to the client's id, token and channel, so
 * responses, progress and subscription notifications find their client and
 * a cancellation finds the server's request. The server's era is learned
 * once per server process (era.c); until then requests are parked. What one
 * era's client needs from the other era's server is made here: the proxy
 * answers `initialize` and `server/discover` itself, adds or removes the
 * per-request `_meta`, and sends a handshake-era server's own requests to a
 * session that declared the capability. No I/O: the upstream is a write
 * callback, clients are px_chan_t. Single-threaded (the event loop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mcp/log.h"
#include "internal.h"

enum { P_CLIENT = 0, P_PROBE, P_INIT, P_LISTEN };
#define F_TOOLS_LIST 1 /* filter the result by --tools */
#define F_MODERN     2 /* the client speaks 2026-07-28 */
#define F_CACHEABLE  4 /* a CacheableResult in 2026-07-28 (ttlMs, cacheScope required) */

typedef struct pending {
    int64_t upid;
    int kind, flags;
    json_t *orig_id;    /* the client's id (owned) */
    json_t *orig_token; /* the client's progress token (owned) or NULL */
    px_chan_t *chan;    /* NULL once the client is gone */
    px_session_t *session;
    struct pending *next; /* hash chain */
} pending_t;

typedef struct parked {
    px_session_t *session;
    px_chan_t *chan;
    json_t *msg;
    uint64_t deadline;
    struct parked *next;
} parked_t;

typedef struct srvreq { /* a handshake-era server's request to a client */
    json_t *id;
    px_session_t *session;
    struct srvreq *next;
} srvreq_t;

struct px_session {
    char id[33];
    int sse, initialized, n_inflight;
    px_chan_t *stream;
    json_t *caps, *client_info;
    char version[32], log_level[16];
    uint64_t last_active;
    struct px_session *next;
};

struct px_bridge {
    px_config_t cfg;
    px_bridge_ops_t ops;
    px_state_t state;
    px_server_info_t server;
    int64_t next_id;
    uint64_t now, deadline; /* deadline of the probe or handshake */
    int64_t listen_id;      /* our subscriptions/listen for handshake-era sessions, or 0 */
    pending_t **table;
    size_t n_buckets, n_pending;
    parked_t *parked, **parked_tail;
    size_t n_parked;
    srvreq_t *srvreqs;
    px_session_t *sessions;
    int n_sessions;
    px_session_closed_cb on_closed;
    void *on_closed_ctx;
    px_bridge_stats_t stats;
    mcp_buf_t out;
};

/* ---- the pending table --------------------------------------------------------------- */

static size_t slot_of(const px_bridge_t *b, int64_t id)
{
    return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 20) & (b->n_buckets - 1);
}

static int table_grow(px_bridge_t *b)
{
    size_t n = b->n_buckets ? b->n_buckets * 2 : 256;
    pending_t **t = calloc(n, sizeof(*t));
    pending_t **old = b->table;
    size_t old_n = b->n_buckets;

    if (!t)
        return MCP_ENOMEM;
    b->table = t;
    b->n_buckets = n;
    for (size_t i = 0; i < old_n; i++) {
        for (pending_t *p = old[i], *next; p; p = next) {
            size_t s = slot_of(b, p->upid);

            next = p->next;
            p->next = t[s];
            t[s] = p;
        }
    }
    free(old);
    return 0;
}

static pending_t *pending_add(px_bridge_t *b, int kind)
{
    pending_t *p;
    size_t s;

    if (b->n_pending + 1 > b->n_buckets && table_grow(b) != 0)
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->upid = b->next_id++;
    p->kind = kind;
    s = slot_of(b, p->upid);
    p->next = b->table[s];
    b->table[s] = p;
    b->n_pending++;
    return p;
}

static pending_t *pending_find(px_bridge_t *b, const json_t *id)
{
    int64_t v;

    if (!json_is_integer(id) || !b->n_buckets)
        return NULL;
    v = json_integer_value(id);
    for (pending_t *p = b->table[slot_of(b, v)]; p; p = p->next)
        if (p->upid == v)
            return p;
    return NULL;
}

/* Unlink and free; the channel and session counts drop with it. */
static void pending_del(px_bridge_t *b, pending_t *p)
{
    pending_t **pp = &b->table[slot_of(b, p->upid)];

    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    b->n_pending--;
    if (p->chan)
        p->chan->n_pending--;
    if (p->session)
        p->session->n_inflight--;
    json_decref(p->orig_id);
    json_decref(p->orig_token);
    free(p);
}

/* Call fn for every pending entry; fn may delete the one it gets. */
static void pending_each(px_bridge_t *b, void (*fn)(px_bridge_t *, pending_t *, void *), void *arg)
{
    for (size_t i = 0; i < b->n_buckets; i++)
        for (pending_t *p = b->table[i], *next; p; p = next) {
            next = p->next;
            fn(b, p, arg);
        }
}

/* ---- sending ---------------------------------------------------------------------------- */

static int up_send(px_bridge_t *b, const json_t *msg)
{
    int rc = px_dump(msg, &b->out);

    if (rc == 0)
        rc = b->ops.write(b->ops.ctx, b->out.data, b->out.len);
    return rc;
}

static void chan_send(px_bridge_t *b, px_chan_t *c, const json_t *msg, int flags, int status)
{
    if (!c)
        return;
    if (px_dump(msg, &b->out) != 0) {
        static const char oom[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
                                  "\"message\":\"out of memory\"}}";
        c->send(c, oom, sizeof(oom) - 1, flags, 500);
        return;
    }
    c->send(c, b->out.data, b->out.len, flags, status);
}

static void reply_error(px_bridge_t *b, px_chan_t *c, json_t *id, int code, const char *message,
                        json_t *data, int status)
{
    json_t *e = px_error_new(id, code, message, data);

    b->stats.errors++;
    chan_send(b, c, e, PX_SEND_FINAL, status);
    json_decref(e);
}

static void reply_result(px_bridge_t *b, px_chan_t *c, json_t *id, json_t *result)
{
    json_t *r = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result",
                          result ? result : json_object());

    b->stats.responses++;
    chan_send(b, c, r, PX_SEND_FINAL, 0);
    json_decref(r);
}

static void send_cancel(px_bridge_t *b, int64_t upid, const char *reason)
{
    json_t *n =
        json_pack("{s:s, s:s, s:{s:I, s:s}}", "jsonrpc", "2.0", "method", "notifications/cancelled",
                  "params", "requestId", (json_int_t)upid, "reason", reason);

    if (n && b->state != PX_DOWN)
        up_send(b, n);
    json_decref(n);
    b->stats.cancelled++;
}

/* ---- life cycle ------------------------------------------------------------------------- */

px_bridge_t *px_bridge_new(const px_config_t *cfg, const px_bridge_ops_t *ops)
{
    px_bridge_t *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    b->cfg = *cfg;
    b->ops = *ops;
    b->next_id = 1;
    b->parked_tail = &b->parked;
    mcp_buf_init(&b->out, cfg->max_message + 4096);
    if (table_grow(b) != 0) {
        px_bridge_free(b);
        return NULL;
    }
    return b;
}

/* At free: channels and sessions may be gone already, so touch neither. */
static void drop_pending(px_bridge_t *b, pending_t *p, void *arg)
{
    (void)arg;
    p->chan = NULL;
    p->session = NULL;
    pending_del(b, p);
}

void px_bridge_free(px_bridge_t *b)
{
    if (!b)
        return;
    pending_each(b, drop_pending, NULL);
    while (b->sessions) {
        px_session_t *s = b->sessions;

        b->sessions = s->next;
        json_decref(s->caps);
        json_decref(s->client_info);
        free(s);
    }
    for (parked_t *q = b->parked, *next; q; q = next) {
        next = q->next;
        json_decref(q->msg);
        free(q);
    }
    for (srvreq_t *r = b->srvreqs, *next; r; r = next) {
        next = r->next;
        json_decref(r->id);
        free(r);
    }
    px_server_info_clear(&b->server);
    free(b->table);
    mcp_buf_dispose(&b->out);
    free(b);
}

px_state_t px_bridge_state(const px_bridge_t *b)
{
    return b->state;
}

px_era_t px_bridge_server_era(const px_bridge_t *b)
{
    return b->state == PX_READY ? b->server.era : PX_ERA_UNKNOWN;
}

const px_bridge_stats_t *px_bridge_stats(const px_bridge_t *b)
{
    return &b->stats;
}

int px_bridge_n_sessions(const px_bridge_t *b)
{
    return b->n_sessions;
}

size_t px_bridge_n_pending(const px_bridge_t *b)
{
    return b->n_pending;
}

void px_bridge_on_session_closed(px_bridge_t *b, px_session_closed_cb cb, void *ctx)
{
    b->on_closed = cb;
    b->on_closed_ctx = ctx;
}

/* ---- learning the server ---------------------------------------------------------------- */

static void replay_parked(px_bridge_t *b);

static void send_internal(px_bridge_t *b, int kind, json_t *(*make)(int64_t))
{
    pending_t *p = pending_add(b, kind);
    json_t *msg = p ? make(p->upid) : NULL;

    if (!msg || up_send(b, msg) != 0) {
        if (p)
            pending_del(b, p);
        b->ops.restart(b->ops.ctx, "cannot write to the MCP server");
    }
    json_decref(msg);
}

void px_bridge_upstream_up(px_bridge_t *b, uint64_t now_ms)
{
    b->now = now_ms;
    b->state = PX_PROBING;
    b->deadline = now_ms + (uint64_t)(b->cfg.probe_timeout * 1000);
    send_internal(b, P_PROBE, px_era_discover_request);
}

static void start_handshake(px_bridge_t *b)
{
    b->state = PX_HANDSHAKE;
    b->deadline = b->now + (uint64_t)(b->cfg.probe_timeout * 1000);
    send_internal(b, P_INIT, px_era_initialize_request);
}

/* Handshake-era sessions expect list-changed notifications without asking;
 * a 2026-07-28 server sends them only on a subscriptions/listen stream: the
 * proxy opens one for all of them, for the lists the server says change. */
static void listen_for_sessions(px_bridge_t *b)
{
    static const char *const lists[][2] = {{"tools", "toolsListChanged"},
                                           {"prompts", "promptsListChanged"},
                                           {"resources", "resourcesListChanged"}};
    json_t *filter = json_object();
    pending_t *p;
    json_t *req;

    for (size_t i = 0; filter && i < MCP_ARRAY_LEN(lists); i++)
        if (json_is_true(json_object_get(json_object_get(b->server.capabilities, lists[i][0]),
                                         "listChanged")))
            json_object_set_new(filter, lists[i][1], json_true());
    if (!filter || json_object_size(filter) == 0 || !(p = pending_add(b, P_LISTEN))) {
        json_decref(filter);
        return;
    }
    req = json_pack("{s:s, s:I, s:s, s:{s:o}}", "jsonrpc", "2.0", "id", (json_int_t)p->upid,
                    "method", "subscriptions/listen", "params", "notifications", filter);
    if (req && px_era_add_meta(req, b->server.version, NULL, NULL, NULL) == 0 &&
        up_send(b, req) == 0)
        b->listen_id = p->upid;
    else
        pending_del(b, p);
    json_decref(req);
}

static void became_ready(px_bridge_t *b)
{
    b->state = PX_READY;
    b->listen_id = 0;
    if (b->server.era == PX_ERA_MODERN)
        listen_for_sessions(b);
    mcp_log(MCP_LOG_INFO, "mcp server ready", "era",
            b->server.era == PX_ERA_MODERN ? "2026-07-28" : "handshake", "version",
            b->server.version, NULL);
    replay_parked(b);
}

static void on_internal_response(px_bridge_t *b, pending_t *p, json_t *msg)
{
    json_t *result = json_object_get(msg, "result");
    int kind = p->kind;

    if (kind == P_LISTEN) { /* the server ended our subscription */
        b->listen_id = 0;
        pending_del(b, p);
        return;
    }
    pending_del(b, p);
    if (kind == P_PROBE) {
        /* a slow server may answer the probe after we gave up on it and sent
         * initialize: it is modern all the same (the initialize answer is
         * then ignored) */
        if (b->state != PX_PROBING && b->state != PX_HANDSHAKE)
            return;
        if (json_is_object(result) && px_era_learn_discover(&b->server, result) == 0)
            became_ready(b);
        else if (b->state == PX_PROBING)
            start_handshake(b);
        return;
    }
    if (b->state != PX_HANDSHAKE)
        return;
    if (!json_is_object(result) || px_era_learn_initialize(&b->server, result) != 0) {
        json_int_t code =
            json_integer_value(json_object_get(json_object_get(msg, "error"), "code"));

        if (code == PX_E_UNSUPPORTED_PV) { /* a modern server after all: ask it again */
            px_bridge_upstream_up(b, b->now);
            return;
        }
        b->ops.restart(b->ops.ctx, "the MCP server refused initialize");
        return;
    }
    json_t *n = px_era_initialized_notification();

    if (!n || up_send(b, n) != 0)
        b->ops.restart(b->ops.ctx, "cannot write to the MCP server");
    else
        became_ready(b);
    json_decref(n);
}

/* ---- responses from the server ---------------------------------------------------------- */

static int tool_allowed(const px_bridge_t *b, const char *name)
{
    return px_tool_allowed(&b->cfg, name);
}

static void filter_tools(const px_bridge_t *b, json_t *result)
{
    json_t *tools = json_object_get(result, "tools");

    for (size_t i = 0; json_is_array(tools) && i < json_array_size(tools);) {
        const char *name = json_string_value(json_object_get(json_array_get(tools, i), "name"));

        if (tool_allowed(b, name))
            i++;
        else
            json_array_remove(tools, i);
    }
}

/* A handshake-era result as a 2026-07-28 client must see it: `resultType`
 * on every result, and `ttlMs` + `cacheScope` on the cacheable ones (no
 * caching promised: 0 and private). */
static void complete_for_modern(json_t *result, int flags)
{
    if (!json_object_get(result, "resultType"))
        json_object_set_new(result, "resultType", json_string("complete"));
    if (!(flags & F_CACHEABLE))
        return;
    if (!json_object_get(result, "ttlMs"))
        json_object_set_new(result, "ttlMs", json_integer(0));
    if (!json_object_get(result, "cacheScope"))
        json_object_set_new(result, "cacheScope", json_string("private"));
}

static int is_cacheable(const char *method)
{
    static const char *const m[] = {"tools/list",
                                    "prompts/list",
                                    "resources/list",
                                    "resources/read",
                                    "resources/templates/list",
                                    "server/discover"};

    for (size_t i = 0; i < MCP_ARRAY_LEN(m); i++)
        if (strcmp(method, m[i]) == 0)
            return 1;
    return 0;
}

/* The HTTP status a 2026-07-28 client must see with an error (streamable HTTP). */
static int status_of_error(const json_t *msg)
{
    json_int_t code = json_integer_value(json_object_get(json_object_get(msg, "error"), "code"));

    if (code == PX_E_UNSUPPORTED_PV || code == PX_E_MISSING_CAP || code == PX_E_HEADER)
        return 400;
    return code == PX_E_NO_METHOD ? 404 : 0;
}

static void on_response(px_bridge_t *b, json_t *msg)
{
    pending_t *p = pending_find(b, json_object_get(msg, "id"));
    json_t *result = json_object_get(msg, "result");
    px_chan_t *c;
    int status = 0, flags;

    if (!p) {
        mcp_log(MCP_LOG_DEBUG, "response to no pending request", NULL);
        return;
    }
    if (p->kind != P_CLIENT) {
        on_internal_response(b, p, msg);
        return;
    }
    /* the entry goes first: a channel may go away once it has its final answer */
    c = p->chan;
    flags = p->flags;
    if (p->session)
        p->session->last_active = b->now;
    json_object_set(msg, "id", p->orig_id);
    pending_del(b, p);
    if (json_is_object(result)) {
        const char *rt = json_string_value(json_object_get(result, "resultType"));

        if ((flags & F_MODERN) && b->server.era == PX_ERA_LEGACY)
            complete_for_modern(result, flags);
        if ((flags & F_TOOLS_LIST))
            filter_tools(b, result);
        if (!(flags & F_MODERN) && rt && strcmp(rt, "input_required") == 0) {
            reply_error(b, c, json_object_get(msg, "id"), PX_E_INTERNAL,
                        "the MCP server asked for more input (a 2026-07-28 multi round-trip "
                        "request), which a handshake-era client cannot give",
                        NULL, 0);
            return;
        }
        b->stats.responses++;
    } else {
        b->stats.errors++;
        if (flags & F_MODERN)
            status = status_of_error(msg);
    }
    chan_send(b, c, msg, PX_SEND_FINAL, status);
}

/* ---- notifications and requests from the server ------------------------------------------ */

static void broadcast(px_bridge_t *b, const json_t *msg)
{
    for (px_session_t *s = b->sessions; s; s = s->next)
        if (s->initialized && s->stream)
            chan_send(b, s->stream, msg, 0, 0);
}

/* Progress and subscription notifications carry our upstream id. */
static int route_by_id(px_bridge_t *b, json_t *msg, json_t *holder, const char *key)
{
    pending_t *p = pending_find(b, json_object_get(holder, key));
    json_t *orig;

    if (!p || p->kind != P_CLIENT)
        return 0;
    orig = strcmp(key, "progressToken") == 0 ? p->orig_token : p->orig_id;
    if (!orig)
        return 1; /* the client did not ask for it */
    json_object_set(holder, key, orig);
    chan_send(b, p->chan, msg, 0, 0);
    return 1;
}

static void on_notification(px_bridge_t *b, json_t *msg)
{
    const char *method = px_msg_method(msg);
    json_t *params = json_object_get(msg, "params");
    json_t *meta = json_object_get(params, "_meta");

    b->stats.notifications++;
    if (strcmp(method, "notifications/progress") == 0) {
        route_by_id(b, msg, params, "progressToken");
        return;
    }
    if (json_object_get(meta, PX_META_SUBID)) {
        json_t *sub = json_object_get(meta, PX_META_SUBID);

        if (!b->listen_id || !json_is_integer(sub) || json_integer_value(sub) != b->listen_id) {
            route_by_id(b, msg, meta, PX_META_SUBID);
            return;
        }
        if (strcmp(method, "notifications/subscriptions/acknowledged") == 0)
            return;
        json_object_del(meta, PX_META_SUBID); /* as a handshake-era server would send it */
        if (json_object_size(meta) == 0)
            json_object_del(params, "_meta");
        broadcast(b, msg);
        return;
    }
    if (strcmp(method, "notifications/cancelled") == 0) { /* the server gave up on its request */
        json_t *id = json_object_get(params, "requestId");

        for (srvreq_t **pp = &b->srvreqs; *pp; pp = &(*pp)->next) {
            srvreq_t *r = *pp;

            if (json_equal(r->id, id)) {
                if (r->session->stream)
                    chan_send(b, r->session->stream, msg, 0, 0);
                *pp = r->next;
                json_decref(r->id);
                free(r);
                break;
            }
        }
        return;
    }
    broadcast(b, msg); /* list changes, resource updates, log messages */
}

static const char *capability_for(const char *method)
{
    if (strncmp(method, "sampling/", 9) == 0)
        return "sampling";
    if (strncmp(method, "roots/", 6) == 0)
        return "roots";
    if (strncmp(method, "elicitation/", 12) == 0)
        return "elicitation";
    return NULL;
}

/* Where a server request for session s can go: its stream, or the response
 * stream of one of its requests in flight (2025-11-25 allows both). */
static px_chan_t *server_request_chan(px_bridge_t *b, px_session_t *s)
{
    if (s->stream)
        return s->stream;
    for (size_t i = 0; i < b->n_buckets; i++)
        for (pending_t *p = b->table[i]; p; p = p->next)
            if (p->session == s && p->chan && !p->chan->streaming)
                return p->chan;
    return NULL;
}

static void on_server_request(px_bridge_t *b, json_t *msg)
{
    const char *method = px_msg_method(msg);
    const char *cap = capability_for(method);
    json_t *id = json_object_get(msg, "id");
    px_session_t *best = NULL;
    px_chan_t *c = NULL;

    b->stats.server_requests++;
    if (strcmp(method, "ping") == 0) {
        json_t *r = json_pack("{s:s, s:O, s:{}}", "jsonrpc", "2.0", "id", id, "result");

        if (r)
            up_send(b, r);
        json_decref(r);
        return;
    }
    for (px_session_t *s = b->sessions; s && cap; s = s->next) {
        px_chan_t *sc;

        if (!s->initialized || !json_object_get(s->caps, cap) || !(sc = server_request_chan(b, s)))
            continue;
        if (!best || s->n_inflight > best->n_inflight) /* likely the one that caused it */
            best = s, c = sc;
    }
    srvreq_t *r = best ? calloc(1, sizeof(*r)) : NULL;

    if (!r) {
        char m[160];
        json_t *e;

        snprintf(m, sizeof(m), "no connected client of this proxy can answer %s", method);
        e = px_error_new(id, PX_E_NO_METHOD, m, NULL);
        if (e)
            up_send(b, e);
        json_decref(e);
        b->stats.refused++;
        return;
    }
    r->id = json_incref(id);
    r->session = best;
    r->next = b->srvreqs;
    b->srvreqs = r;
    chan_send(b, c, msg, 0, 0);
}

void px_bridge_upstream_line(px_bridge_t *b, const char *line, size_t len)
{
    int code;
    json_t *msg = px_parse(line, len, &code);

    switch (msg ? px_msg_kind(msg) : PX_MSG_INVALID) {
    case PX_MSG_RESPONSE:
        on_response(b, msg);
        break;
    case PX_MSG_NOTIFICATION:
        on_notification(b, msg);
        break;
    case PX_MSG_REQUEST:
        on_server_request(b, msg);
        break;
    default:
        mcp_log(MCP_LOG_WARN, "the mcp server wrote a line that is not a JSON-RPC message", NULL);
    }
    json_decref(msg);
}

static void fail_client(px_bridge_t *b, pending_t *p, void *why)
{
    px_chan_t *c = p->kind == P_CLIENT ? p->chan : NULL;
    json_t *id = json_incref(p->orig_id);
    char m[200];

    pending_del(b, p); /* first: the channel may go away with its final answer */
    snprintf(m, sizeof(m), "the MCP server stopped (%s); the request was lost, retry it",
             (const char *)why);
    if (c)
        reply_error(b, c, id, PX_E_INTERNAL, m, NULL, 0);
    json_decref(id);
}

void px_bridge_upstream_down(px_bridge_t *b, const char *why)
{
    pending_each(b, fail_client, (void *)why);
    while (b->srvreqs) {
        srvreq_t *r = b->srvreqs;

        b->srvreqs = r->next;
        json_decref(r->id);
        free(r);
    }
    if (b->state != PX_DOWN)
        b->stats.restarts_seen++;
    b->state = PX_DOWN;
    b->listen_id = 0;
    px_server_info_clear(&b->server);
}

/* ---- requests from clients ------------------------------------------------------------------ */

static void forward(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *method = px_msg_method(msg);
    json_t *params = json_object_get(msg, "params");
    json_t *meta = json_object_get(params, "_meta");
    json_t *token = json_object_get(meta, "progressToken");
    pending_t *p = pending_add(b, P_CLIENT);

    if (!p) {
        reply_error(b, reply, id, PX_E_INTERNAL, "out of memory", NULL, 500);
        return;
    }
    p->orig_id = json_incref(id);
    p->orig_token = token ? json_incref(token) : NULL;
    p->chan = reply;
    reply->n_pending++;
    p->session = s;
    if (s)
        s->n_inflight++;
    p->flags = (s ? 0 : F_MODERN) | (strcmp(method, "tools/list") == 0 ? F_TOOLS_LIST : 0) |
               (is_cacheable(method) ? F_CACHEABLE : 0);
    json_object_set_new(msg, "id", json_integer(p->upid));
    if (token)
        json_object_set_new(meta, "progressToken", json_integer(p->upid));
    if (s && b->server.era == PX_ERA_MODERN)
        px_era_add_meta(msg, b->server.version, s->caps, s->client_info,
                        s->log_level[0] ? s->log_level : NULL);
    else if (!s && b->server.era == PX_ERA_LEGACY)
        px_era_strip_meta(msg);
    if (up_send(b, msg) != 0) {
        json_t *orig = json_incref(p->orig_id);

        pending_del(b, p);
        reply_error(b, reply, orig, PX_E_INTERNAL, "the MCP server is not accepting input", NULL,
                    503);
        json_decref(orig);
    }
}

static int park(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    parked_t *q = b->n_parked < PX_MAX_PARKED ? calloc(1, sizeof(*q)) : NULL;

    if (!q)
        return MCP_ETOOBIG;
    q->session = s;
    q->chan = reply;
    q->msg = json_incref(msg);
    q->deadline = b->now + PX_PARK_TIMEOUT_MS;
    reply->n_pending++;
    *b->parked_tail = q;
    b->parked_tail = &q->next;
    b->n_parked++;
    return 0;
}

static void answer_initialize(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    json_t *params = json_object_get(msg, "params");
    const char *v = json_string_value(json_object_get(params, "protocolVersion"));
    json_t *caps = json_object_get(params, "capabilities");
    json_t *result = px_era_initialize_result(&b->server, v);

    json_decref(s->caps);
    json_decref(s->client_info);
    s->caps = json_is_object(caps) ? json_incref(caps) : json_object();
    s->client_info = json_incref(json_object_get(params, "clientInfo"));
    snprintf(s->version, sizeof(s->version), "%s",
             json_string_value(json_object_get(result, "protocolVersion")));
    s->initialized = 1;
    reply_result(b, reply, json_object_get(msg, "id"), result);
}

/* Answer locally what the proxy answers itself; 1 when answered. */
static int answer_locally(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    const char *method = px_msg_method(msg);
    json_t *id = json_object_get(msg, "id");

    if (s && strcmp(method, "initialize") == 0) {
        answer_initialize(b, s, reply, msg);
        return 1;
    }
    if (s && strcmp(method, "ping") == 0) {
        reply_result(b, reply, id, NULL);
        return 1;
    }
    if (s && b->server.era == PX_ERA_MODERN && strcmp(method, "logging/setLevel") == 0) {
        const char *level =
            json_string_value(json_object_get(json_object_get(msg, "params"), "level"));

        snprintf(s->log_level, sizeof(s->log_level), "%s", level ? level : "");
        reply_result(b, reply, id, NULL);
        return 1;
    }
    if (!s && b->server.era == PX_ERA_LEGACY && strcmp(method, "server/discover") == 0) {
        reply_result(b, reply, id, px_era_discover_result(&b->server));
        return 1;
    }
    return 0;
}

/* A request the server can take now (state READY). */
static void dispatch(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *method = px_msg_method(msg);

    if (!s && b->server.era == PX_ERA_LEGACY) {
        const char *v = json_string_value(px_msg_meta(msg, PX_META_VERSION));

        if (strcmp(v, PX_MODERN_VERSION) != 0) {
            json_t *data =
                json_pack("{s:[s], s:s}", "supported", PX_MODERN_VERSION, "requested", v);

            reply_error(b, reply, id, PX_E_UNSUPPORTED_PV, "Unsupported protocol version", data,
                        400);
            return;
        }
    }
    if (answer_locally(b, s, reply, msg))
        return;
    if (strcmp(method, "tools/call") == 0) {
        const char *name =
            json_string_value(json_object_get(json_object_get(msg, "params"), "name"));

        if (!tool_allowed(b, name)) {
            char m[200];

            snprintf(m, sizeof(m), "Unknown tool: %.120s (not in this server's tool filter)",
                     name ? name : "");
            b->stats.refused++;
            reply_error(b, reply, id, PX_E_PARAMS, m, NULL, 0);
            return;
        }
    }
    forward(b, s, reply, msg);
}

static void unpark(px_bridge_t *b, parked_t *q)
{
    q->chan->n_pending--;
    json_decref(q->msg);
    free(q);
    b->n_parked--;
}

static void replay_parked(px_bridge_t *b)
{
    parked_t *q = b->parked;

    b->parked = NULL;
    b->parked_tail = &b->parked;
    while (q) {
        parked_t *next = q->next;
        json_t *msg = json_incref(q->msg);
        px_session_t *s = q->session;
        px_chan_t *c = q->chan;

        unpark(b, q);
        if (b->state == PX_READY)
            dispatch(b, s, c, msg);
        else if (park(b, s, c, msg) != 0)
            reply_error(b, c, json_object_get(msg, "id"), PX_E_INTERNAL, "MCP server unavailable",
                        NULL, 503);
        json_decref(msg);
        q = next;
    }
}

/* Validate the per-request _meta of a 2026-07-28 request. */
static int modern_meta_ok(px_bridge_t *b, px_chan_t *reply, json_t *msg)
{
    if (json_is_string(px_msg_meta(msg, PX_META_VERSION)) &&
        json_is_object(px_msg_meta(msg, PX_META_CAPS)))
        return 1;
    reply_error(b, reply, json_object_get(msg, "id"), PX_E_PARAMS,
                "Invalid params: _meta needs " PX_META_VERSION " and " PX_META_CAPS, NULL, 400);
    return 0;
}

static void client_request(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *method = px_msg_method(msg);

    b->stats.requests[s ? 0 : 1]++;
    if (!s && !modern_meta_ok(b, reply, msg))
        return;
    if (s && !s->initialized && strcmp(method, "initialize") != 0 && strcmp(method, "ping") != 0) {
        reply_error(b, reply, id, PX_E_INVALID, "the session is not initialized", NULL, 400);
        return;
    }
    if ((s && s->n_inflight >= b->cfg.max_inflight) ||
        b->n_pending >= (size_t)b->cfg.max_inflight * (size_t)b->cfg.max_sessions) {
        reply_error(b, reply, id, PX_E_INTERNAL, "too many requests in flight", NULL, 429);
        return;
    }
    if (b->state == PX_READY) {
        dispatch(b, s, reply, msg);
    } else if (park(b, s, reply, msg) != 0) {
        reply_error(b, reply, id, PX_E_INTERNAL, "MCP server unavailable", NULL, 503);
    }
}

static void client_cancel(px_bridge_t *b, px_session_t *s, json_t *msg)
{
    json_t *rid = json_object_get(json_object_get(msg, "params"), "requestId");

    for (size_t i = 0; s && i < b->n_buckets; i++)
        for (pending_t *p = b->table[i]; p; p = p->next) {
            if (p->session != s || p->kind != P_CLIENT || !json_equal(p->orig_id, rid))
                continue;
            px_chan_t *c = p->chan;

            send_cancel(b, p->upid, "cancelled by the client");
            pending_del(b, p);
            if (c && !c->streaming && c->n_pending == 0)
                c->send(c, NULL, 0, PX_SEND_FINAL, 0); /* end that POST's stream */
            return;
        }
}

static void client_response(px_bridge_t *b, px_session_t *s, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");

    for (srvreq_t **pp = &b->srvreqs; *pp; pp = &(*pp)->next) {
        srvreq_t *r = *pp;

        if (r->session == s && json_equal(r->id, id)) {
            *pp = r->next;
            json_decref(r->id);
            free(r);
            if (b->state == PX_READY)
                up_send(b, msg);
            return;
        }
    }
}

static void client_notification(px_bridge_t *b, px_session_t *s, json_t *msg)
{
    const char *method = px_msg_method(msg);

    if (strcmp(method, "notifications/initialized") == 0)
        return; /* the proxy did its own handshake */
    if (strcmp(method, "notifications/cancelled") == 0) {
        client_cancel(b, s, msg);
        return;
    }
    /* roots/list_changed, a client's progress on a server request, ...: only a
     * handshake-era server has use for them */
    if (b->state == PX_READY && b->server.era == PX_ERA_LEGACY) {
        px_era_strip_meta(msg);
        up_send(b, msg);
    }
}

int px_bridge_client(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    if (s)
        s->last_active = b->now;
    switch (px_msg_kind(msg)) {
    case PX_MSG_REQUEST:
        client_request(b, s, reply, msg);
        return PX_REPLY;
    case PX_MSG_NOTIFICATION:
        client_notification(b, s, msg);
        return PX_ACCEPTED;
    case PX_MSG_RESPONSE:
        if (s)
            client_response(b, s, msg);
        return PX_ACCEPTED;
    default:
        reply_error(b, reply, NULL, PX_E_INVALID, "Invalid Request: not a JSON-RPC 2.0 message",
                    NULL, 400);
        return PX_REPLY;
    }
}

static void detach_chan(px_bridge_t *b, pending_t *p, void *arg)
{
    if (p->chan != arg)
        return;
    p->chan->n_pending--;
    p->chan = NULL;
    if (p->kind == P_CLIENT &&
        (p->flags & F_MODERN)) { /* closing the stream cancels (2026-07-28) */
        send_cancel(b, p->upid, "the client closed the stream");
        pending_del(b, p);
    }
}

void px_chan_gone(px_bridge_t *b, px_chan_t *c)
{
    for (px_session_t *s = b->sessions; s; s = s->next)
        if (s->stream == c)
            s->stream = NULL;
    if (c->n_pending > 0)
        pending_each(b, detach_chan, c);
    for (parked_t **pp = &b->parked; *pp && c->n_pending > 0;) {
        parked_t *q = *pp;

        if (q->chan != c) {
            pp = &q->next;
            continue;
        }
        *pp = q->next;
        if (b->parked_tail == &q->next)
            b->parked_tail = pp;
        unpark(b, q);
    }
}

/* ---- sessions ----------------------------------------------------------------------------- */

px_session_t *px_session_open(px_bridge_t *b, int sse, uint64_t now_ms)
{
    unsigned char raw[16];
    px_session_t *s;

    if (b->n_sessions >= b->cfg.max_sessions || getrandom(raw, sizeof(raw), 0) != sizeof(raw))
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
    s->sse = sse;
    s->last_active = now_ms;
    s->next = b->sessions;
    b->sessions = s;
    b->n_sessions++;
    return s;
}

px_session_t *px_session_find(px_bridge_t *b, const char *id, uint64_t now_ms)
{
    for (px_session_t *s = b->sessions; s && id; s = s->next)
        if (strcmp(s->id, id) == 0) {
            s->last_active = now_ms;
            return s;
        }
    return NULL;
}

const char *px_session_id(const px_session_t *s)
{
    return s->id;
}

void px_session_set_stream(px_bridge_t *b, px_session_t *s, px_chan_t *c)
{
    (void)b;
    s->stream = c;
}

px_session_t *px_bridge_sessions(px_bridge_t *b)
{
    return b->sessions;
}

px_session_t *px_session_next(px_session_t *s)
{
    return s->next;
}

px_chan_t *px_session_stream(const px_session_t *s)
{
    return s->stream;
}

int px_session_initialized(const px_session_t *s)
{
    return s->initialized;
}

static void cancel_session(px_bridge_t *b, pending_t *p, void *s)
{
    if (p->session != s)
        return;
    if (p->kind == P_CLIENT)
        send_cancel(b, p->upid, "the client session ended");
    pending_del(b, p);
}

void px_session_close(px_bridge_t *b, px_session_t *s)
{
    px_session_t **pp = &b->sessions;

    while (*pp && *pp != s)
        pp = &(*pp)->next;
    if (!*pp)
        return;
    *pp = s->next;
    b->n_sessions--;
    pending_each(b, cancel_session, s);
    for (parked_t **qq = &b->parked; *qq;) {
        parked_t *q = *qq;

        if (q->session != s) {
            qq = &q->next;
            continue;
        }
        *qq = q->next;
        if (b->parked_tail == &q->next)
            b->parked_tail = qq;
        unpark(b, q);
    }
    for (srvreq_t **rr = &b->srvreqs; *rr;) {
        srvreq_t *r = *rr;

        if (r->session != s) {
            rr = &r->next;
            continue;
        }
        json_t *e = px_error_new(r->id, PX_E_INTERNAL, "the client session ended", NULL);

        if (e && b->state == PX_READY)
            up_send(b, e);
        json_decref(e);
        *rr = r->next;
        json_decref(r->id);
        free(r);
    }
    json_decref(s->caps);
    json_decref(s->client_info);
    free(s);
}

/* ---- timers --------------------------------------------------------------------------------- */

void px_bridge_tick(px_bridge_t *b, uint64_t now_ms)
{
    b->now = now_ms;
    if (b->state == PX_PROBING && now_ms >= b->deadline) {
        mcp_log(MCP_LOG_INFO, "no answer to server/discover: assuming a handshake-era server",
                NULL);
        start_handshake(b);
    } else if (b->state == PX_HANDSHAKE && now_ms >= b->deadline) {
        b->ops.restart(b->ops.ctx, "no answer to initialize");
    }
    for (parked_t **pp = &b->parked; *pp;) {
        parked_t *q = *pp;

        if (q->deadline > now_ms) {
            pp = &q->next;
            continue;
        }
        *pp = q->next;
        if (b->parked_tail == &q->next)
            b->parked_tail = pp;
        px_chan_t *c = q->chan;
        json_t *id = json_incref(json_object_get(q->msg, "id"));

        unpark(b, q);
        reply_error(b, c, id, PX_E_INTERNAL, "MCP server unavailable", NULL, 503);
        json_decref(id);
    }
    for (px_session_t *s = b->sessions, *next; s; s = next) {
        next = s->next;
        uint64_t idle = (uint64_t)(b->cfg.idle_timeout * 1000);

        if (!s->initialized && idle > PX_UNINIT_IDLE_MS) /* initialize failed or never came */
            idle = PX_UNINIT_IDLE_MS;
        if (s->stream || s->n_inflight || now_ms - s->last_active < idle)
            continue;
        mcp_log(MCP_LOG_INFO, "session idle: closed", NULL);
        if (b->on_closed)
            b->on_closed(b->on_closed_ctx, s);
        px_session_close(b, s);
    }
}
