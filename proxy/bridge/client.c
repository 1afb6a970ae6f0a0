/* The bridge, from the clients' side: a request is answered here (the
 * proxy's own initialize, server/discover, ping, logging/setLevel), refused
 * (tool filter, caps, a 2026-07-28 request without its _meta or in a version
 * a handshake-era server cannot be bridged to), parked until the server is
 * known, or forwarded with a fresh id and the _meta its era needs;
 * cancellations and answers to the server's own requests go back; a client
 * that hangs up is detached (and, in 2026-07-28, cancelled). What one
 * handshake-era client sets on a shared handshake-era server is kept per
 * session here instead (DESIGN §5): its log level (the server is set to the
 * most verbose level any session asked for, and each session gets messages
 * at its own) and its resource subscriptions (the server subscribed once per
 * URI, unsubscribed with the last subscriber). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mcp/log.h"
#include "private.h"

/* ---- requests from clients ------------------------------------------------------------------ */

/* MCP's log levels (RFC 5424 severities), least severe first: a rank is an index. */
static const char *const log_levels[] = {"debug", "info",     "notice", "warning",
                                         "error", "critical", "alert",  "emergency"};

/* With authentication or authorization: a call is audited when its answer
 * comes (or never does), a list's result filtered for its caller. */
static void audit_or_filter(pending_t *p, px_caller_t *caller, const json_t *msg)
{
    static const char *const methods[] = {"tools/call", "prompts/get",  "resources/read",
                                          "tools/list", "prompts/list", "resources/list"};
    const char *method = px_msg_method(msg);

    for (size_t i = 0; i < sizeof(methods) / sizeof(*methods); i++)
        if (strcmp(method, methods[i]) == 0)
            p->method = methods[i];
    if (!p->method)
        return;
    p->caller = px_caller_ref(caller);
    if (px_authz_is_list(p->method)) {
        p->flags |= F_AUTHZ_LIST;
        return;
    }
    p->started = px_authz_clock_ms();
    p->audit_name = strdup(px_msg_mcp_name(msg) ?: "");
}

static void forward(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *method = px_msg_method(msg);
    json_t *params = json_object_get(msg, "params");
    json_t *meta = json_object_get(params, "_meta");
    json_t *token = json_object_get(meta, "progressToken");
    pending_t *p = px_pending_add(b, P_CLIENT);
    int rc;

    if (!p) {
        px_reply_error(b, reply, id, PX_E_INTERNAL, "out of memory", NULL, 500);
        return;
    }
    p->orig_id = json_incref(id);
    p->orig_token = token ? json_incref(token) : NULL;
    p->chan = reply;
    reply->n_pending++;
    px_pending_own(b, p, s, s ? NULL : px_peer_get(b, reply->peer));
    p->log_rank = px_log_rank(json_string_value(px_msg_meta(msg, PX_META_LOGLEVEL)));
    p->flags = (s ? 0 : F_MODERN) | (strcmp(method, "tools/list") == 0 ? F_TOOLS_LIST : 0) |
               (px_is_cacheable(method) ? F_CACHEABLE : 0);
    if (reply->caller || b->cfg.authz)
        audit_or_filter(p, reply->caller, msg);
    json_object_set_new(msg, "id", json_integer(p->upid));
    if (token)
        json_object_set_new(meta, "progressToken", json_integer(p->upid));
    if (s && b->server.era == PX_ERA_MODERN)
        px_era_add_meta(msg, b->server.version, s->caps, s->client_info,
                        s->log_rank >= 0 ? log_levels[s->log_rank] : NULL);
    else if (!s && b->server.era == PX_ERA_LEGACY)
        px_era_strip_meta(msg);
    if ((rc = px_up_send(b, msg)) != 0) {
        json_t *orig = json_incref(p->orig_id);

        px_pending_del(b, p);
        px_reply_error(b, reply, orig, PX_E_INTERNAL,
                       rc == MCP_ETOOBIG ? "the proxy's queues are full (--max-queued-bytes); retry"
                                         : "the MCP server is not accepting input",
                       NULL, 503);
        json_decref(orig);
    }
}

static int park(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    parked_t *q = b->n_parked < PX_MAX_PARKED ? calloc(1, sizeof(*q)) : NULL;

    if (!q)
        return MCP_ETOOBIG;
    q->bytes = json_dumpb(msg, NULL, 0, JSON_COMPACT);
    if (px_budget_take(b->cfg.budget, q->bytes) != 0) { /* --max-queued-bytes */
        free(q);
        return MCP_ETOOBIG;
    }
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
    px_reply_result(b, reply, json_object_get(msg, "id"), result);
}

/* ---- per-session state of a shared handshake-era server ------------------------------------ */

int px_log_rank(const char *level)
{
    for (int i = 0; level && i < (int)MCP_ARRAY_LEN(log_levels); i++)
        if (strcmp(level, log_levels[i]) == 0)
            return i;
    return -1;
}

void px_send_quiet(px_bridge_t *b, const char *method, json_t *params)
{
    pending_t *p = px_pending_add(b, P_QUIET);
    json_t *req = NULL;

    if (p)
        req = json_pack("{s:s, s:I, s:s, s:o}", "jsonrpc", "2.0", "id", (json_int_t)p->upid,
                        "method", method, "params", params);
    else
        json_decref(params);
    if (p && (!req || px_up_send(b, req) != 0))
        px_pending_del(b, p);
    json_decref(req);
}

void px_sync_log_level(px_bridge_t *b)
{
    int min = -1;

    for (px_session_t *s = b->sessions; s; s = s->next)
        if (s->log_rank >= 0 && (min < 0 || s->log_rank < min))
            min = s->log_rank;
    if (min < 0 || min == b->upstream_log_rank || b->state != PX_READY ||
        b->server.era != PX_ERA_LEGACY)
        return;
    b->upstream_log_rank = min;
    px_send_quiet(b, "logging/setLevel", json_pack("{s:s}", "level", log_levels[min]));
}

int px_session_subscribed(const px_session_t *s, const char *uri)
{
    for (const sub_t *u = s->subs; u; u = u->next)
        if (strcmp(u->uri, uri) == 0)
            return 1;
    return 0;
}

int px_subscribers(px_bridge_t *b, const char *uri, int delta)
{
    json_int_t n = json_integer_value(json_object_get(b->subscribers, uri)) + delta;

    if (n <= 0)
        json_object_del(b->subscribers, uri);
    else if (delta && json_object_set_new(b->subscribers, uri, json_integer(n)) != 0)
        return -1;
    return n > 0 ? (int)n : 0;
}

/* resources/subscribe and /unsubscribe of session s: the server hears of
 * the first subscriber and the last one; 1 when answered here. */
static int subscription(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg, int on)
{
    json_t *id = json_object_get(msg, "id");
    const char *uri = json_string_value(json_object_get(json_object_get(msg, "params"), "uri"));
    sub_t **pp = &s->subs;

    if (!uri)
        return 0; /* the server says what is wrong */
    while (*pp && strcmp((*pp)->uri, uri) != 0)
        pp = &(*pp)->next;
    if (on) {
        sub_t *u = NULL;

        if (*pp) {
            px_reply_result(b, reply, id, NULL);
            return 1;
        }
        if (s->n_subs >= PX_MAX_SUBS || !(u = calloc(1, sizeof(*u))) || !(u->uri = strdup(uri)) ||
            px_subscribers(b, uri, +1) < 0) {
            if (u)
                free(u->uri);
            free(u);
            px_reply_error(b, reply, id, PX_E_INTERNAL, "too many subscriptions", NULL, 0);
            return 1;
        }
        u->next = s->subs;
        s->subs = u;
        s->n_subs++;
        if (px_subscribers(b, uri, 0) == 1)
            return 0; /* the first subscriber: the server subscribes and answers */
        px_reply_result(b, reply, id, NULL);
        return 1;
    }
    if (*pp) {
        sub_t *u = *pp;

        *pp = u->next;
        s->n_subs--;
        free(u->uri);
        free(u);
        if (px_subscribers(b, uri, -1) == 0)
            return 0; /* the last one: the server unsubscribes and answers */
    }
    px_reply_result(b, reply, id, NULL);
    return 1;
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
        px_reply_result(b, reply, id, NULL);
        return 1;
    }
    if (s && strcmp(method, "logging/setLevel") == 0) {
        const char *level =
            json_string_value(json_object_get(json_object_get(msg, "params"), "level"));

        if (px_log_rank(level) < 0) {
            px_reply_error(b, reply, id, PX_E_PARAMS, "Invalid params: unknown log level", NULL, 0);
            return 1;
        }
        s->log_rank = px_log_rank(level);
        if (b->server.era == PX_ERA_LEGACY)
            px_sync_log_level(b);
        px_reply_result(b, reply, id, NULL);
        return 1;
    }
    if (s && b->server.era == PX_ERA_LEGACY && strncmp(method, "resources/", 10) == 0 &&
        (strcmp(method + 10, "subscribe") == 0 || strcmp(method + 10, "unsubscribe") == 0))
        return subscription(b, s, reply, msg, method[10] == 's');
    if (!s && b->server.era == PX_ERA_LEGACY && strcmp(method, "server/discover") == 0) {
        px_reply_result(b, reply, id, px_era_discover_result(&b->server));
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

            px_reply_error(b, reply, id, PX_E_UNSUPPORTED_PV, "Unsupported protocol version", data,
                           400);
            return;
        }
    }
    if (answer_locally(b, s, reply, msg))
        return;
    if (strcmp(method, "tools/call") == 0) {
        const char *name =
            json_string_value(json_object_get(json_object_get(msg, "params"), "name"));

        if (!px_tool_allowed(&b->cfg, name)) {
            char m[200];

            px_tools_refusal_message(m, sizeof(m), name);
            b->stats.refused++;
            px_reply_error(b, reply, id, PX_E_PARAMS, m, NULL, 0);
            return;
        }
    }
    if (!px_authz_allowed(&b->cfg, reply->caller, msg)) {
        px_authz_audit(reply->caller, method, px_msg_mcp_name(msg), 0, 0, "refused");
        b->stats.refused++;
        /* HTTP 403 as ToolHive answers, for a 2026-07-28 request (an HTTP status per
         * request); a handshake-era session's answer stays 200 with the JSON-RPC error,
         * which its SDKs read (mcp 1.x ends the session on an HTTP error) */
        px_reply_error(b, reply, id, PX_AUTHZ_CODE, PX_AUTHZ_MESSAGE, NULL, s ? 0 : 403);
        return;
    }
    forward(b, s, reply, msg);
}

void px_unpark(px_bridge_t *b, parked_t *q)
{
    px_budget_give(b->cfg.budget, q->bytes);
    q->chan->n_pending--;
    json_decref(q->msg);
    free(q);
    b->n_parked--;
}

void px_replay_parked(px_bridge_t *b)
{
    parked_t *q = b->parked;

    b->parked = NULL;
    b->parked_tail = &b->parked;
    while (q) {
        parked_t *next = q->next;
        json_t *msg = json_incref(q->msg);
        px_session_t *s = q->session;
        px_chan_t *c = q->chan;

        px_unpark(b, q);
        if (b->state == PX_READY)
            dispatch(b, s, c, msg);
        else if (park(b, s, c, msg) != 0)
            px_reply_error(b, c, json_object_get(msg, "id"), PX_E_INTERNAL,
                           "MCP server unavailable", NULL, 503);
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
    px_reply_error(b, reply, json_object_get(msg, "id"), PX_E_PARAMS,
                   "Invalid params: _meta needs " PX_META_VERSION " and " PX_META_CAPS, NULL, 400);
    return 0;
}

/* A request's id is held until it is answered, so it is bounded; and MCP's
 * params are always an object (JSON-RPC 2.0 also allows an array, which no
 * MCP method takes and some servers never answer). */
static int id_ok(px_bridge_t *b, px_chan_t *reply, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    json_t *params = json_object_get(msg, "params");

    if (json_is_string(id) && json_string_length(id) > PX_MAX_ID_BYTES) {
        px_reply_error(b, reply, NULL, PX_E_INVALID, "Invalid Request: the id is over 1024 bytes",
                       NULL, 400);
        return 0;
    }
    if (params && !json_is_object(params)) {
        px_reply_error(b, reply, id, PX_E_PARAMS, "Invalid params: params must be an object", NULL,
                       400);
        return 0;
    }
    return 1;
}

/* The in-flight cap in shares: a session, or one client address's
 * 2026-07-28 requests, hold at most --max-inflight of the
 * --max-inflight-total requests the server is given at once; parked
 * requests count too. */
static int share_ok(px_bridge_t *b, px_session_t *s, px_chan_t *reply)
{
    const peer_t *peer;

    if (b->n_pending + b->n_parked >= (size_t)b->cfg.max_inflight_total)
        return 0;
    if (s)
        return s->n_inflight < b->cfg.max_inflight;
    peer = px_peer_find(b, reply->peer); /* a look, not an entry made and freed */
    return !peer || peer->inflight < b->cfg.max_inflight;
}

static void client_request(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    json_t *id = json_object_get(msg, "id");
    const char *method = px_msg_method(msg);

    b->stats.requests[s ? 0 : 1]++;
    if (!id_ok(b, reply, msg))
        return;
    if (!s && !modern_meta_ok(b, reply, msg))
        return;
    if (s && !s->initialized && strcmp(method, "initialize") != 0 && strcmp(method, "ping") != 0) {
        px_reply_error(b, reply, id, PX_E_INVALID, "the session is not initialized", NULL, 400);
        return;
    }
    if (!share_ok(b, s, reply)) {
        px_reply_error(b, reply, id, PX_E_INTERNAL,
                       "too many requests in flight (--max-inflight per client, "
                       "--max-inflight-total in all)",
                       NULL, 429);
        return;
    }
    if (b->state == PX_READY) {
        dispatch(b, s, reply, msg);
    } else if (park(b, s, reply, msg) != 0) {
        px_reply_error(b, reply, id, PX_E_INTERNAL, "MCP server unavailable", NULL, 503);
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

            px_send_cancel(b, p->upid, "cancelled by the client");
            px_pending_del(b, p);
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
                px_up_send(b, msg);
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
    /* A client's progress on a server request: only a handshake-era server
     * has use for it. Other notifications are about one client's own state
     * (roots/list_changed), which a shared server cannot keep per client:
     * forwarded, it made the server ask whoever was busy for its roots and
     * show them to the client that notified. They are dropped. */
    if (strcmp(method, "notifications/progress") != 0) {
        mcp_log(MCP_LOG_DEBUG, "client notification not forwarded", "method", method, NULL);
        return;
    }
    if (b->state == PX_READY && b->server.era == PX_ERA_LEGACY) {
        px_era_strip_meta(msg);
        px_up_send(b, msg);
    }
}

int px_bridge_client(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg)
{
    if (s)
        px_session_touch(b, s);
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
        px_reply_error(b, reply, NULL, PX_E_INVALID, "Invalid Request: not a JSON-RPC 2.0 message",
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
        px_send_cancel(b, p->upid, "the client closed the stream");
        px_pending_del(b, p);
    }
}

void px_chan_gone(px_bridge_t *b, px_chan_t *c)
{
    for (px_session_t *s = b->sessions; s; s = s->next)
        if (s->stream == c)
            s->stream = NULL;
    if (c->n_pending > 0)
        px_pending_each(b, detach_chan, c);
    for (parked_t **pp = &b->parked; *pp && c->n_pending > 0;) {
        parked_t *q = *pp;

        if (q->chan != c) {
            pp = &q->next;
            continue;
        }
        *pp = q->next;
        if (b->parked_tail == &q->next)
            b->parked_tail = pp;
        px_unpark(b, q);
    }
}
