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
 * per-request `_meta`. A handshake-era server's own requests and the
 * notifications not tied to an id go only to the client they are for: the
 * one whose request's answer stream carried them (`cause`), else the only
 * client with requests in flight; otherwise requests get an error and
 * notifications are dropped (DESIGN §5, exact routing). No I/O: the upstream is a write
 * callback, clients are px_chan_t. Single-threaded (the event loop). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mcp/json.h"
#include "mcp/log.h"
#include "private.h"

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

pending_t *px_pending_add(px_bridge_t *b, int kind)
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
    if (kind == P_CLIENT || kind == P_QUIET) { /* these expire, oldest first */
        p->deadline = b->now + (uint64_t)(b->cfg.request_timeout * 1000);
        p->older = b->newest;
        if (b->newest)
            b->newest->newer = p;
        else
            b->oldest = p;
        b->newest = p;
    }
    return p;
}

void px_pending_own(px_bridge_t *b, pending_t *p, px_session_t *s, peer_t *peer)
{
    p->session = s;
    if (s)
        s->n_inflight++;
    p->peer = s ? NULL : peer;
    if (p->peer)
        p->peer->inflight++;
    if (!s && p->kind == P_CLIENT)
        b->n_modern++;
}

static pending_t *find_upid(px_bridge_t *b, int64_t v)
{
    for (pending_t *p = b->n_buckets ? b->table[slot_of(b, v)] : NULL; p; p = p->next)
        if (p->upid == v)
            return p;
    return NULL;
}

pending_t *px_pending_find(px_bridge_t *b, const json_t *id)
{
    return json_is_integer(id) ? find_upid(b, json_integer_value(id)) : NULL;
}

/* Unlink and free; the channel and session counts drop with it. */
void px_pending_del(px_bridge_t *b, pending_t *p)
{
    pending_t **pp = &b->table[slot_of(b, p->upid)];

    while (*pp != p)
        pp = &(*pp)->next;
    *pp = p->next;
    b->n_pending--;
    if (p->kind == P_CLIENT || p->kind == P_QUIET) {
        *(p->older ? &p->older->newer : &b->oldest) = p->newer;
        *(p->newer ? &p->newer->older : &b->newest) = p->older;
    }
    if (p->chan)
        p->chan->n_pending--;
    if (p->session)
        p->session->n_inflight--;
    else if (p->kind == P_CLIENT)
        b->n_modern--;
    if (p->peer) {
        p->peer->inflight--;
        px_peer_put(b, p->peer);
    }
    if (p->audit_name)
        px_authz_audit(p->caller, p->method, p->audit_name, 1, p->started,
                       p->outcome ? p->outcome : "no answer");
    free(p->audit_name);
    px_caller_unref(p->caller);
    json_decref(p->orig_id);
    json_decref(p->orig_token);
    free(p);
}

/* Call fn for every pending entry; fn may delete the one it gets. */
void px_pending_each(px_bridge_t *b, void (*fn)(px_bridge_t *, pending_t *, void *), void *arg)
{
    for (size_t i = 0; i < b->n_buckets; i++)
        for (pending_t *p = b->table[i], *next; p; p = next) {
            next = p->next;
            fn(b, p, arg);
        }
}

/* ---- sending ---------------------------------------------------------------------------- */

int px_up_send(px_bridge_t *b, const json_t *msg)
{
    int rc = px_dump(msg, &b->out);

    if (rc == 0)
        rc = b->ops.write(b->ops.ctx, b->out.data, b->out.len);
    return rc;
}

void px_chan_msg(px_bridge_t *b, px_chan_t *c, const json_t *msg, int flags, int status)
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

void px_reply_error(px_bridge_t *b, px_chan_t *c, json_t *id, int code, const char *message,
                    json_t *data, int status)
{
    json_t *e = px_error_new(id, code, message, data);

    b->stats.errors++;
    px_chan_msg(b, c, e, PX_SEND_FINAL, status);
    json_decref(e);
}

void px_reply_result(px_bridge_t *b, px_chan_t *c, json_t *id, json_t *result)
{
    json_t *r = json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id, "result",
                          result ? result : json_object());

    b->stats.responses++;
    px_chan_msg(b, c, r, PX_SEND_FINAL, 0);
    json_decref(r);
}

void px_send_cancel(px_bridge_t *b, int64_t upid, const char *reason)
{
    json_t *n =
        json_pack("{s:s, s:s, s:{s:I, s:s}}", "jsonrpc", "2.0", "method", "notifications/cancelled",
                  "params", "requestId", (json_int_t)upid, "reason", reason);

    if (n && b->state != PX_DOWN)
        px_up_send(b, n);
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
    /* ids start at a random point: two proxies attached to one stdio server
     * (a rolling restart) must not take each other's answers for their own */
    b->next_id = cfg->first_upid;
    if (!b->next_id && getrandom(&b->next_id, sizeof(b->next_id), 0) != sizeof(b->next_id))
        b->next_id = 1;
    if (!cfg->first_upid)
        b->next_id = (int64_t)((uint64_t)b->next_id >> 18) + 1; /* < 2^46: exact in a double */
    b->upstream_log_rank = -1;
    b->parked_tail = &b->parked;
    b->subscribers = json_object();
    mcp_buf_init(&b->out, cfg->max_message + 4096);
    if (!b->subscribers || table_grow(b) != 0) {
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
    p->peer = NULL;
    px_pending_del(b, p);
}

void px_bridge_free(px_bridge_t *b)
{
    if (!b)
        return;
    px_pending_each(b, drop_pending, NULL);
    while (b->sessions) {
        px_session_t *s = b->sessions;

        b->sessions = s->next;
        s->peer = NULL; /* the peers go below */
        px_session_free(s);
    }
    for (size_t i = 0; i < PEER_BUCKETS; i++)
        for (peer_t *e = b->peers[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    for (parked_t *q = b->parked, *next; q; q = next) {
        next = q->next;
        px_budget_give(b->cfg.budget, q->bytes);
        json_decref(q->msg);
        free(q);
    }
    for (srvreq_t *r = b->srvreqs, *next; r; r = next) {
        next = r->next;
        json_decref(r->id);
        free(r);
    }
    px_server_info_clear(&b->server);
    json_decref(b->subscribers);
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

static void send_internal(px_bridge_t *b, int kind, json_t *(*make)(int64_t))
{
    pending_t *p = px_pending_add(b, kind);
    json_t *msg = p ? make(p->upid) : NULL;

    if (!msg || px_up_send(b, msg) != 0) {
        if (p)
            px_pending_del(b, p);
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

void px_start_handshake(px_bridge_t *b)
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
    if (!filter || json_object_size(filter) == 0 || !(p = px_pending_add(b, P_LISTEN))) {
        json_decref(filter);
        return;
    }
    req = json_pack("{s:s, s:I, s:s, s:{s:o}}", "jsonrpc", "2.0", "id", (json_int_t)p->upid,
                    "method", "subscriptions/listen", "params", "notifications", filter);
    if (req && px_era_add_meta(req, b->server.version, NULL, NULL, NULL) == 0 &&
        px_up_send(b, req) == 0)
        b->listen_id = p->upid;
    else
        px_pending_del(b, p);
    json_decref(req);
}

/* A new handshake-era server process: what the sessions set on the last one. */
static void restore_session_state(px_bridge_t *b)
{
    b->upstream_log_rank = -1;
    px_sync_log_level(b);
    const char *uri;
    json_t *n;

    json_object_foreach(b->subscribers, uri, n)
    {
        px_send_quiet(b, "resources/subscribe", json_pack("{s:s}", "uri", uri));
    }
}

static void became_ready(px_bridge_t *b)
{
    b->state = PX_READY;
    b->listen_id = 0;
    if (b->server.era == PX_ERA_MODERN)
        listen_for_sessions(b);
    else
        restore_session_state(b);
    mcp_log(MCP_LOG_INFO, "mcp server ready", "era",
            b->server.era == PX_ERA_MODERN ? "2026-07-28" : "handshake", "version",
            b->server.version, NULL);
    px_replay_parked(b);
}

static void on_internal_response(px_bridge_t *b, pending_t *p, json_t *msg)
{
    json_t *result = json_object_get(msg, "result");
    int kind = p->kind;

    if (kind == P_LISTEN) { /* the server ended our subscription */
        b->listen_id = 0;
        px_pending_del(b, p);
        return;
    }
    if (kind == P_QUIET) {
        px_pending_del(b, p);
        return;
    }
    px_pending_del(b, p);
    if (kind == P_PROBE) {
        /* a slow server may answer the probe after we gave up on it and sent
         * initialize: it is modern all the same (the initialize answer is
         * then ignored) */
        if (b->state != PX_PROBING && b->state != PX_HANDSHAKE)
            return;
        if (json_is_object(result) && px_era_learn_discover(&b->server, result) == 0)
            became_ready(b);
        else if (b->state == PX_PROBING)
            px_start_handshake(b);
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
        {
            const char *m =
                json_string_value(json_object_get(json_object_get(msg, "error"), "message"));
            char why[256];

            snprintf(why, sizeof(why), "the MCP server refused initialize%s%.200s", m ? ": " : "",
                     m ? m : "");
            b->ops.restart(b->ops.ctx, why);
        }
        return;
    }
    json_t *n = px_era_initialized_notification();

    if (!n || px_up_send(b, n) != 0)
        b->ops.restart(b->ops.ctx, "cannot write to the MCP server");
    else
        became_ready(b);
    json_decref(n);
}

/* ---- responses from the server ---------------------------------------------------------- */

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

int px_is_cacheable(const char *method)
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
    pending_t *p = px_pending_find(b, json_object_get(msg, "id"));
    json_t *result = json_object_get(msg, "result");
    px_chan_t *c;
    px_caller_t *caller;
    const char *method;
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
    method = p->method;
    caller = px_caller_ref(p->caller);
    if (p->session)
        p->session->last_active = b->now;
    json_object_set(msg, "id", p->orig_id);
    p->outcome = !json_is_object(result)                            ? "error"
                 : json_is_true(json_object_get(result, "isError")) ? "tool error"
                                                                    : "success";
    px_pending_del(b, p);
    if (json_is_object(result)) {
        const char *rt = json_string_value(json_object_get(result, "resultType"));

        if ((flags & F_MODERN) && b->server.era == PX_ERA_LEGACY)
            complete_for_modern(result, flags);
        if ((flags & F_TOOLS_LIST))
            px_tools_filter_result(&b->cfg, result);
        if ((flags & F_AUTHZ_LIST))
            px_authz_filter_result(&b->cfg, caller, method, result);
        px_caller_unref(caller);
        caller = NULL;
        if (!(flags & F_MODERN) && rt && strcmp(rt, "input_required") == 0) {
            px_reply_error(b, c, json_object_get(msg, "id"), PX_E_INTERNAL,
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
    px_caller_unref(caller);
    px_chan_msg(b, c, msg, PX_SEND_FINAL, status);
}

/* ---- notifications and requests from the server ------------------------------------------ */

static void broadcast(px_bridge_t *b, const json_t *msg)
{
    for (px_session_t *s = b->sessions; s; s = s->next)
        if (s->initialized && s->stream)
            px_chan_msg(b, s->stream, msg, 0, 0);
}

/* Progress and subscription notifications carry our upstream id. */
static int route_by_id(px_bridge_t *b, json_t *msg, json_t *holder, const char *key)
{
    pending_t *p = px_pending_find(b, json_object_get(holder, key));
    json_t *orig;

    if (!p || p->kind != P_CLIENT)
        return 0;
    orig = strcmp(key, "progressToken") == 0 ? p->orig_token : p->orig_id;
    if (!orig)
        return 1; /* the client did not ask for it */
    json_object_set(holder, key, orig);
    px_chan_msg(b, p->chan, msg, 0, 0);
    return 1;
}

/* The client a server message without an id of ours is for (DESIGN §5):
 * the one whose request's answer stream carried it (`cause`), else the only
 * client with requests in flight (a session, or one 2026-07-28 request);
 * NULL when that is not exactly one. Returns one of its pending requests. */
static pending_t *attribute(px_bridge_t *b, int64_t cause)
{
    px_session_t *busy = NULL;
    size_t clients = b->n_modern;

    if (cause) {
        pending_t *p = find_upid(b, cause);

        return p && p->kind == P_CLIENT ? p : NULL;
    }
    for (px_session_t *s = b->sessions; s && clients <= 1; s = s->next)
        if (s->n_inflight > 0) {
            busy = s;
            clients++;
        }
    if (clients != 1)
        return NULL;
    for (pending_t *p = b->oldest; p; p = p->newer) /* its oldest request */
        if (p->kind == P_CLIENT && p->session == busy)
            return p;
    return NULL;
}

/* Where a message for p's client goes: the answer stream of p while it is
 * open (2025-11-25 allows messages related to a request there), else the
 * session's stream. */
static px_chan_t *chan_for(const pending_t *p)
{
    if (p->chan && !p->chan->streaming)
        return p->chan;
    return p->session ? p->session->stream : p->chan;
}

/* notifications/message at the client's level: a session's logging/setLevel,
 * a 2026-07-28 request's _meta logLevel, else info and above. */
static int log_wanted(const pending_t *p, const json_t *msg)
{
    int rank =
        px_log_rank(json_string_value(json_object_get(json_object_get(msg, "params"), "level")));
    int want = p->session ? p->session->log_rank : p->log_rank;

    return rank >= (want >= 0 ? want : 1);
}

static void resource_updated(px_bridge_t *b, const json_t *msg)
{
    const char *uri = json_string_value(json_object_get(json_object_get(msg, "params"), "uri"));

    if (!uri || !px_subscribers(b, uri, 0))
        return; /* nobody asked: no walk over the sessions */
    for (px_session_t *s = b->sessions; s; s = s->next)
        if (s->stream && px_session_subscribed(s, uri))
            px_chan_msg(b, s->stream, msg, 0, 0);
}

static void server_cancelled(px_bridge_t *b, const json_t *msg)
{
    json_t *id = json_object_get(json_object_get(msg, "params"), "requestId");

    for (srvreq_t **pp = &b->srvreqs; *pp; pp = &(*pp)->next) {
        srvreq_t *r = *pp;

        if (json_equal(r->id, id)) {
            if (r->session->stream)
                px_chan_msg(b, r->session->stream, msg, 0, 0);
            *pp = r->next;
            json_decref(r->id);
            free(r);
            return;
        }
    }
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static void on_notification(px_bridge_t *b, json_t *msg, int64_t cause)
{
    const char *method = px_msg_method(msg);
    json_t *params = json_object_get(msg, "params");
    json_t *meta = json_object_get(params, "_meta");
    pending_t *p;

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
        server_cancelled(b, msg);
        return;
    }
    if (ends_with(method, "/list_changed")) { /* about the server itself: for everyone */
        broadcast(b, msg);
        return;
    }
    if (strcmp(method, "notifications/resources/updated") == 0) {
        resource_updated(b, msg);
        return;
    }
    /* log messages and the rest concern one client's request */
    p = attribute(b, cause);
    if (!p) {
        mcp_log(MCP_LOG_DEBUG, "server notification for no one client: dropped", "method", method,
                NULL);
        b->stats.dropped++;
        return;
    }
    if (strcmp(method, "notifications/message") == 0 && !log_wanted(p, msg))
        return;
    px_chan_msg(b, chan_for(p), msg, 0, 0);
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

static void refuse_server_request(px_bridge_t *b, json_t *id, const char *method, const char *why)
{
    char m[200];
    json_t *e;

    snprintf(m, sizeof(m), "%s cannot be sent to a client: %s", method, why);
    e = px_error_new(id, PX_E_NO_METHOD, m, NULL);
    if (e)
        px_up_send(b, e);
    json_decref(e);
    b->stats.refused++;
}

static void on_server_request(px_bridge_t *b, json_t *msg, int64_t cause)
{
    const char *method = px_msg_method(msg);
    const char *cap = capability_for(method);
    json_t *id = json_object_get(msg, "id");
    pending_t *p;
    px_session_t *s;
    px_chan_t *c;
    srvreq_t *r;

    b->stats.server_requests++;
    if (strcmp(method, "ping") == 0) {
        json_t *res = json_pack("{s:s, s:O, s:{}}", "jsonrpc", "2.0", "id", id, "result");

        if (res)
            px_up_send(b, res);
        json_decref(res);
        return;
    }
    p = attribute(b, cause);
    s = p ? p->session : NULL;
    if (!p) {
        refuse_server_request(b, id, method,
                              cause ? "the request it belongs to is over"
                                    : "it is not known which client it is for (not exactly one "
                                      "client has requests in flight)");
        return;
    }
    if (!s) { /* never across eras: 2026-07-28 has no server-to-client requests */
        refuse_server_request(b, id, method, "the client speaks 2026-07-28");
        return;
    }
    if (!cap || !s->initialized || !json_object_get(s->caps, cap)) {
        refuse_server_request(b, id, method, "the client did not declare the capability");
        return;
    }
    c = chan_for(p);
    r = c ? calloc(1, sizeof(*r)) : NULL;
    if (!r) {
        refuse_server_request(b, id, method, c ? "out of memory" : "the client has no stream open");
        return;
    }
    r->id = json_incref(id);
    r->session = s;
    r->next = b->srvreqs;
    b->srvreqs = r;
    px_chan_msg(b, c, msg, 0, 0);
}

/* An answer the proxy cannot read goes to its client as an error instead
 * of being lost (the client would wait for ever). */
static void unreadable_answer(px_bridge_t *b, int64_t upid, const char *why)
{
    pending_t *p = find_upid(b, upid);
    char m[300];

    mcp_log(MCP_LOG_WARN, "unreadable message from the mcp server", "error", why, NULL);
    b->stats.unreadable++;
    if (!p || p->kind != P_CLIENT)
        return;
    px_chan_t *c = p->chan;
    json_t *orig = json_incref(p->orig_id);

    px_pending_del(b, p);
    snprintf(m, sizeof(m), "the MCP server's answer could not be read: %s", why);
    if (c)
        px_reply_error(b, c, orig, PX_E_INTERNAL, m, NULL, 0);
    json_decref(orig);
}

void px_bridge_upstream_line(px_bridge_t *b, const char *line, size_t len, int64_t cause)
{
    char why[JSON_ERROR_TEXT_LENGTH + 40];
    json_error_t err;
    json_t *msg = json_loadb(line, len, 0, &err);
    int64_t id;

    switch (msg ? px_msg_kind(msg) : PX_MSG_INVALID) {
    case PX_MSG_RESPONSE:
        on_response(b, msg);
        break;
    case PX_MSG_NOTIFICATION:
        on_notification(b, msg, cause);
        break;
    case PX_MSG_REQUEST:
        on_server_request(b, msg, cause);
        break;
    default:
        if (px_scan_id(line, len, &id))
            unreadable_answer(b, id,
                              msg ? "not a JSON-RPC 2.0 message"
                                  : mcp_json_error_text(&err, why, sizeof(why)));
        else
            mcp_log(MCP_LOG_WARN, "the mcp server wrote a line that is not a JSON-RPC message",
                    NULL);
    }
    json_decref(msg);
}

void px_bridge_upstream_dropped(px_bridge_t *b, const char *head, size_t hn, const char *tail,
                                size_t tn)
{
    int64_t id;

    if (px_scan_id(head, hn, &id) || px_tail_id(tail, tn, &id))
        unreadable_answer(b, id, "it is over the proxy's message limit (--max-message-bytes)");
    else
        mcp_log(MCP_LOG_WARN, "a message from the mcp server over --max-message-bytes dropped",
                NULL);
}

static void fail_client(px_bridge_t *b, pending_t *p, void *why)
{
    px_chan_t *c = p->kind == P_CLIENT ? p->chan : NULL;
    json_t *id = json_incref(p->orig_id);
    char m[200];

    px_pending_del(b, p); /* first: the channel may go away with its final answer */
    snprintf(m, sizeof(m), "the MCP server stopped (%s); the request was lost, retry it",
             (const char *)why);
    if (c)
        px_reply_error(b, c, id, PX_E_INTERNAL, m, NULL, 0);
    json_decref(id);
}

void px_bridge_upstream_down(px_bridge_t *b, const char *why)
{
    px_pending_each(b, fail_client, (void *)why);
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
