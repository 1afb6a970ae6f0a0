/* What the bridge's files share (bridge.c: the pending table, sending,
 * learning the server, its responses, notifications and requests;
 * client.c: what clients send; session.c: handshake-era sessions and the
 * timers). Private to them: nothing else includes it. */
#ifndef PX_BRIDGE_PRIVATE_H
#define PX_BRIDGE_PRIVATE_H

#include "bridge.h"

enum { P_CLIENT = 0, P_PROBE, P_INIT, P_LISTEN, P_QUIET };
/* P_QUIET: a request the proxy sends on its clients' behalf whose answer no
 * one waits for (logging/setLevel, resources/unsubscribe). */
#define F_TOOLS_LIST 1 /* filter the result by --tools */
#define F_MODERN     2 /* the client speaks 2026-07-28 */
#define F_CACHEABLE  4 /* a CacheableResult in 2026-07-28 (ttlMs, cacheScope required) */
#define F_AUTHZ_LIST 8 /* a tools/prompts/resources list: filter the result for p->caller */

/* A client address: its sessions and its 2026-07-28 requests in flight
 * (the per-client shares of the caps); freed when both are 0. */
typedef struct peer {
    char addr[48];
    int sessions, inflight;
    struct peer *next;
} peer_t;
#define PEER_BUCKETS 256

typedef struct pending {
    int64_t upid;
    int kind, flags;
    json_t *orig_id;    /* the client's id (owned) */
    json_t *orig_token; /* the client's progress token (owned) or NULL */
    px_chan_t *chan;    /* NULL once the client is gone */
    px_session_t *session;
    peer_t *peer;                  /* a 2026-07-28 request's client, counted in peer->inflight */
    int log_rank;                  /* a 2026-07-28 request's _meta logLevel rank, -1: none */
    uint64_t deadline;             /* ms: the client gets an error then (P_CLIENT) */
    px_caller_t *caller;           /* who asked, with authentication (a reference) */
    const char *method;            /* static: an audited call's or filtered list's method */
    char *audit_name;              /* an audited call's tool, prompt or URI (owned), or NULL */
    uint64_t started;              /* px_authz_clock_ms when forwarded (the audit's duration) */
    const char *outcome;           /* static: what the audit line says of its answer */
    struct pending *next;          /* hash chain */
    struct pending *older, *newer; /* all entries by age (deadlines come in this order) */
} pending_t;

typedef struct parked {
    px_session_t *session;
    px_chan_t *chan;
    json_t *msg;
    size_t bytes; /* its size as sent, held in the memory budget */
    uint64_t deadline;
    struct parked *next;
} parked_t;

typedef struct srvreq { /* a handshake-era server's request to a client */
    json_t *id;
    px_session_t *session;
    struct srvreq *next;
} srvreq_t;

typedef struct sub { /* a resource a handshake-era session subscribed to */
    char *uri;
    struct sub *next;
} sub_t;
#define PX_MAX_SUBS 1024 /* per session */

struct px_session {
    char id[33];
    int sse, initialized, n_inflight, n_subs;
    px_chan_t *stream;
    json_t *caps, *client_info;
    char version[32];
    int log_rank; /* the level set with logging/setLevel (RFC 5424 rank), -1: none */
    uint64_t last_active;
    uint64_t last_use; /* px_session_touch's counter: LRU order even within one tick */
    peer_t *peer;
    sub_t *subs;
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
    pending_t *oldest, *newest;
    size_t n_modern;       /* 2026-07-28 requests in flight */
    int upstream_log_rank; /* what the proxy set on a handshake-era server, -1: nothing */
    uint64_t uses;         /* counts session uses (px_session_touch) */
    json_t *subscribers;   /* resource URI -> how many sessions subscribed (handshake era) */
    peer_t *peers[PEER_BUCKETS];
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

/* bridge.c */
pending_t *px_pending_add(px_bridge_t *b, int kind);
/* The client-side owner of a pending entry: at most one of session and
 * peer (a 2026-07-28 request is its own client). Counted in the owner. */
void px_pending_own(px_bridge_t *b, pending_t *p, px_session_t *s, peer_t *peer);
pending_t *px_pending_find(px_bridge_t *b, const json_t *id);
/* Unlink and free; the channel and session counts drop with it. */
void px_pending_del(px_bridge_t *b, pending_t *p);
/* Call fn for every pending entry; fn may delete the one it gets. */
void px_pending_each(px_bridge_t *b, void (*fn)(px_bridge_t *, pending_t *, void *), void *arg);
int px_up_send(px_bridge_t *b, const json_t *msg);
void px_chan_msg(px_bridge_t *b, px_chan_t *c, const json_t *msg, int flags, int status);
void px_reply_error(px_bridge_t *b, px_chan_t *c, json_t *id, int code, const char *message,
                    json_t *data, int status);
void px_reply_result(px_bridge_t *b, px_chan_t *c, json_t *id, json_t *result);
void px_send_cancel(px_bridge_t *b, int64_t upid, const char *reason);
int px_is_cacheable(const char *method);
void px_start_handshake(px_bridge_t *b);

/* client.c */
void px_replay_parked(px_bridge_t *b);
void px_unpark(px_bridge_t *b, parked_t *q);
/* RFC 5424 rank of an MCP log level (debug 0 .. emergency 7), -1 unknown. */
int px_log_rank(const char *level);
/* A handshake-era server's log level: the most verbose any session set
 * (sent as logging/setLevel when it changes). */
void px_sync_log_level(px_bridge_t *b);
/* Is a session subscribed to uri? Is any other than `except`? */
int px_session_subscribed(const px_session_t *s, const char *uri);
/* Add delta to the count of sessions subscribed to uri (the bridge's
 * subscribers map, so the first and the last are known without a walk over
 * the sessions); the count now, or -1 when it could not be stored. */
int px_subscribers(px_bridge_t *b, const char *uri, int delta);
/* Send a request whose answer no one waits for (P_QUIET); params stolen. */
void px_send_quiet(px_bridge_t *b, const char *method, json_t *params);

/* session.c */
/* The session is in use now: idle time and LRU order start again. */
void px_session_touch(px_bridge_t *b, px_session_t *s);
peer_t *px_peer_find(px_bridge_t *b, const char *addr); /* NULL: none */
peer_t *px_peer_get(px_bridge_t *b, const char *addr);  /* NULL: out of memory */
void px_peer_put(px_bridge_t *b, peer_t *peer);         /* free when unused */
/* Free a session record (its subscriptions, caps; not its peer's count). */
void px_session_free(px_session_t *s);

#endif
