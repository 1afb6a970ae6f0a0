/* Handshake-era sessions (initialize, Mcp-Session-Id or an HTTP+SSE
 * stream): opened and found by id, given a stream for server-initiated
 * messages, closed (their requests cancelled upstream, the server's requests
 * to them answered with an error); and the bridge's timers: the probe and
 * handshake deadlines, parked requests, idle sessions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mcp/log.h"
#include "private.h"

/* ---- sessions ----------------------------------------------------------------------------- */

/* ---- client addresses ------------------------------------------------------------------------ */

static size_t peer_slot(const char *addr)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */

    for (; *addr; addr++)
        h = (h ^ (unsigned char)*addr) * 1099511628211ull;
    return (size_t)(h % PEER_BUCKETS);
}

peer_t *px_peer_find(px_bridge_t *b, const char *addr)
{
    for (peer_t *e = b->peers[peer_slot(addr)]; e; e = e->next)
        if (strcmp(e->addr, addr) == 0)
            return e;
    return NULL;
}

peer_t *px_peer_get(px_bridge_t *b, const char *addr)
{
    peer_t **head = &b->peers[peer_slot(addr)];
    peer_t *e = px_peer_find(b, addr);

    if (e)
        return e;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->addr, sizeof(e->addr), "%s", addr);
    e->next = *head;
    *head = e;
    return e;
}

void px_peer_put(px_bridge_t *b, peer_t *peer)
{
    peer_t **pp = &b->peers[peer_slot(peer->addr)];

    if (peer->sessions > 0 || peer->inflight > 0)
        return;
    while (*pp != peer)
        pp = &(*pp)->next;
    *pp = peer->next;
    free(peer);
}

/* ---- sessions ----------------------------------------------------------------------------- */

/* The least recently used session with nothing in flight and no stream,
 * of one client address (peer) or of anyone (peer NULL). */
static px_session_t *idlest(px_bridge_t *b, const peer_t *peer)
{
    px_session_t *best = NULL;

    for (px_session_t *s = b->sessions; s; s = s->next)
        if ((!peer || s->peer == peer) && !s->n_inflight && !s->stream &&
            (!best || s->last_use < best->last_use))
            best = s;
    return best;
}

static int evict(px_bridge_t *b, const peer_t *peer)
{
    px_session_t *s = idlest(b, peer);

    if (!s)
        return -1;
    /* debug: a flood of initializes must not become a flood of log lines */
    mcp_log(MCP_LOG_DEBUG, "session evicted: too many sessions", "client",
            peer ? peer->addr : "any", NULL);
    b->stats.evicted++;
    if (b->on_closed)
        b->on_closed(b->on_closed_ctx, s);
    px_session_close(b, s);
    return 0;
}

px_session_t *px_session_open(px_bridge_t *b, int sse, const char *peer_addr, uint64_t now_ms)
{
    unsigned char raw[16];
    px_session_t *s;
    peer_t *peer = px_peer_get(b, peer_addr ? peer_addr : "");

    if (!peer)
        return NULL;
    peer->sessions++; /* held while we make room */
    if (peer->sessions > b->cfg.max_sessions_per_client && evict(b, peer) != 0)
        goto fail;
    if (b->n_sessions >= b->cfg.max_sessions && evict(b, NULL) != 0)
        goto fail;
    if (getrandom(raw, sizeof(raw), 0) != sizeof(raw) || !(s = calloc(1, sizeof(*s))))
        goto fail;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(s->id + 2 * i, 3, "%02x", raw[i]);
    s->sse = sse;
    s->last_active = now_ms;
    s->last_use = ++b->uses;
    s->log_rank = -1;
    s->peer = peer;
    s->next = b->sessions;
    b->sessions = s;
    b->n_sessions++;
    return s;
fail:
    peer->sessions--;
    px_peer_put(b, peer);
    return NULL;
}

void px_session_free(px_session_t *s)
{
    for (sub_t *u = s->subs, *next; u; u = next) {
        next = u->next;
        free(u->uri);
        free(u);
    }
    json_decref(s->caps);
    json_decref(s->client_info);
    free(s);
}

px_session_t *px_session_find(px_bridge_t *b, const char *id, uint64_t now_ms)
{
    for (px_session_t *s = b->sessions; s && id; s = s->next)
        if (strcmp(s->id, id) == 0) {
            s->last_active = now_ms;
            s->last_use = ++b->uses;
            return s;
        }
    return NULL;
}

void px_session_touch(px_bridge_t *b, px_session_t *s)
{
    s->last_active = b->now;
    s->last_use = ++b->uses;
}

const char *px_session_id(const px_session_t *s)
{
    return s->id;
}

const char *px_session_peer(const px_session_t *s)
{
    return s->peer ? s->peer->addr : "";
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
        px_send_cancel(b, p->upid, "the client session ended");
    px_pending_del(b, p);
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
    px_pending_each(b, cancel_session, s);
    if (s->log_rank >= 0)
        px_sync_log_level(b);
    for (parked_t **qq = &b->parked; *qq;) {
        parked_t *q = *qq;

        if (q->session != s) {
            qq = &q->next;
            continue;
        }
        *qq = q->next;
        if (b->parked_tail == &q->next)
            b->parked_tail = qq;
        px_unpark(b, q);
    }
    for (srvreq_t **rr = &b->srvreqs; *rr;) {
        srvreq_t *r = *rr;

        if (r->session != s) {
            rr = &r->next;
            continue;
        }
        json_t *e = px_error_new(r->id, PX_E_INTERNAL, "the client session ended", NULL);

        if (e && b->state == PX_READY)
            px_up_send(b, e);
        json_decref(e);
        *rr = r->next;
        json_decref(r->id);
        free(r);
    }
    /* what it set on the shared server: its subscriptions, its log level */
    for (sub_t *u = s->subs; u; u = u->next)
        if (px_subscribers(b, u->uri, -1) == 0 && b->state == PX_READY)
            px_send_quiet(b, "resources/unsubscribe", json_pack("{s:s}", "uri", u->uri));
    if (s->peer) {
        s->peer->sessions--;
        px_peer_put(b, s->peer);
    }
    px_session_free(s);
}

/* ---- timers --------------------------------------------------------------------------------- */

/* Requests past --request-timeout: the client gets an error, the server a
 * cancellation (the oldest come first: one timeout for all). */
static void expire_requests(px_bridge_t *b, uint64_t now_ms)
{
    while (b->oldest && b->oldest->deadline <= now_ms) {
        pending_t *p = b->oldest;
        px_chan_t *c = p->kind == P_CLIENT ? p->chan : NULL;
        json_t *id = json_incref(p->orig_id);
        char m[160];

        if (p->kind == P_CLIENT) {
            px_send_cancel(b, p->upid, "the proxy's request timeout passed");
            b->stats.timeouts++;
        }
        px_pending_del(b, p);
        snprintf(m, sizeof(m), "the MCP server did not answer within %.0f s (--request-timeout)",
                 b->cfg.request_timeout);
        if (c)
            px_reply_error(b, c, id, PX_E_TIMEOUT, m, NULL, 0);
        json_decref(id);
    }
}

void px_bridge_tick(px_bridge_t *b, uint64_t now_ms)
{
    b->now = now_ms;
    if (b->state == PX_PROBING && now_ms >= b->deadline) {
        mcp_log(MCP_LOG_INFO, "no answer to server/discover: assuming a handshake-era server",
                NULL);
        px_start_handshake(b);
    } else if (b->state == PX_HANDSHAKE && now_ms >= b->deadline) {
        b->ops.restart(b->ops.ctx, "no answer to initialize");
    }
    expire_requests(b, now_ms);
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

        px_unpark(b, q);
        px_reply_error(b, c, id, PX_E_INTERNAL, "MCP server unavailable", NULL, 503);
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
