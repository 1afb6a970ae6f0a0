/* The bridge's interface (bridge/): the tool filter's rewriting, shared by
 * the bridged path and --passthrough; the bridge itself (clients of both eras
 * in front of one MCP server process: sessions, channels, routing); what it
 * learns of the server (era.c). Pure: no I/O. */
#ifndef PX_BRIDGE_H
#define PX_BRIDGE_H

#include "../internal.h"

/* ---- toolfilter.c: --tools ------------------------------------------------------ */

/* Keep only the tools --tools allows in a tools/list result (in place). */
void px_tools_filter_result(const px_config_t *cfg, json_t *result);
/* The refusal of a tools/call of `name`: its message (into m[n]), and the
 * whole error response (JSON-RPC -32602; new reference). */
void px_tools_refusal_message(char *m, size_t n, const char *name);
json_t *px_tools_refusal(json_t *id, const char *name);
/* A request id as a map key (its compact JSON, malloc'd); NULL for a bad id. */
char *px_tf_id_key(const json_t *id);
/* A client's message or batch on its way to an HTTP server: each refused
 * tools/call becomes a `ping` with its id (*msg may be replaced), its tool
 * name recorded in `refused` (id key -> name); *lists counts tools/list
 * requests. Returns how many requests were changed. */
int px_tf_request(const px_config_t *cfg, json_t **msg, json_t *refused, int *lists);

/* Is the answer with `id` the ping of a refused call (for the session with
 * `key`, "" when none)? Then 1 with the tool's name in name[] and the entry
 * is used up. With id NULL: 1 when any refusal is outstanding (nothing used). */
typedef int (*px_tf_refused_cb)(void *ctx, const char *key, const json_t *id, char *name,
                                size_t namelen);
typedef struct px_tf {
    const px_config_t *cfg;
    px_tf_refused_cb refused; /* may be NULL */
    void *ctx;
    json_t *err_id; /* id for the too-large error (NULL: null); borrowed */
} px_tf_t;

/* Rewrite a server's message or batch in place (*v may be replaced): the
 * number of messages changed. `key` as for px_tf_refused_cb. */
int px_tf_rewrite(px_tf_t *tf, const char *key, json_t **v);
/* A whole answer body: 1 with the body to send in out (rewritten, or a
 * JSON-RPC error with tf->err_id when it does not parse: fail closed), 0
 * when it goes out unchanged (nothing to change, or empty), MCP_ENOMEM with
 * out empty (send nothing). */
int px_tf_json(px_tf_t *tf, const char *body, size_t len, mcp_buf_t *out);
/* The error sent instead of an answer over the cap (JSON into out). */
int px_tf_too_large(const px_tf_t *tf, mcp_buf_t *out);

#define PX_SSE_KEY_MAX 256 /* an HTTP+SSE session's key: its POST path and query */

/* A text/event-stream filtered event by event: complete events go out as
 * they came unless they carry something to change; a message event whose
 * data does not parse, or an event over `cap` bytes, is replaced by a
 * JSON-RPC error (tf.err_id) (the latter skipped to its end);
 * the session key of HTTP+SSE (the path and query of the URI its
 * `endpoint` event gives, as the client will POST to it) is learned. */
typedef struct px_sse_filter {
    px_tf_t tf;
    px_lines_t lines;
    mcp_buf_t event, data; /* the event being read, its joined data */
    mcp_buf_t *out;        /* during feed */
    size_t cap;
    char key[PX_SSE_KEY_MAX];
    int skipping, out_err;
    uint64_t oversized, rewritten;
} px_sse_filter_t;

void px_sse_filter_init(px_sse_filter_t *f, const px_config_t *cfg, size_t cap);
void px_sse_filter_dispose(px_sse_filter_t *f);
/* Feed bytes; finished events are appended to out. 0, or MCP_ETOOBIG when
 * out could not take them. */
int px_sse_filter_feed(px_sse_filter_t *f, const char *p, size_t n, mcp_buf_t *out);

/* ---- bridge.c ------------------------------------------------------------------- */

typedef struct px_bridge px_bridge_t;
typedef struct px_session px_session_t;
typedef struct px_chan px_chan_t;

/* Flags of px_chan_t.send. */
#define PX_SEND_FINAL 1 /* the last message for this request */

/* A way to one client, implemented by the HTTP layer: a POST's response
 * (JSON, or SSE once a second message comes) or a long-lived SSE stream.
 * The bridge never frees a channel; the HTTP layer calls px_chan_gone before
 * it disappears. `status` is the HTTP status to use if the response has not
 * started yet (0: 200). `json` is only valid during the call. */
struct px_chan {
    void (*send)(px_chan_t *c, const char *json, size_t len, int flags, int status);
    int streaming; /* long-lived stream (GET /mcp, /sse): never final */
    int n_pending; /* requests whose answer goes here (bridge-owned) */
    char peer[48]; /* the client's address (no port), or with authentication its
                      principal's key (px_caller_t.key); set by the HTTP layer; "" unknown */
    /* Who sends through this channel: the verified token of the request it
     * answers (for a session's stream, of the request that opened it); the
     * HTTP layer holds a reference while the channel lives. NULL without
     * authentication. */
    px_caller_t *caller;
};

typedef enum px_era {
    PX_ERA_UNKNOWN = 0,
    PX_ERA_LEGACY, /* initialize handshake (2025-11-25 and earlier) */
    PX_ERA_MODERN, /* per-request _meta (2026-07-28) */
} px_era_t;

typedef enum px_state {
    PX_DOWN = 0,  /* no stream to the server */
    PX_PROBING,   /* server/discover sent */
    PX_HANDSHAKE, /* initialize sent */
    PX_READY,
} px_state_t;

typedef struct px_bridge_ops {
    /* Write one message (no newline) to the server; 0 or an mcp_err_t. */
    int (*write)(void *ctx, const char *line, size_t len);
    /* The server misbehaved in a way only a restart fixes (failed handshake). */
    void (*restart)(void *ctx, const char *why);
    void *ctx;
} px_bridge_ops_t;

typedef struct px_bridge_stats {
    uint64_t requests[2]; /* by client era: [0] legacy, [1] modern */
    uint64_t responses, errors, notifications, server_requests, cancelled, refused;
    uint64_t restarts_seen;
    uint64_t timeouts, unreadable, dropped, evicted;
} px_bridge_stats_t;

/* `cfg` and ops are copied (cfg's strings are borrowed for the bridge's life). */
px_bridge_t *px_bridge_new(const px_config_t *cfg, const px_bridge_ops_t *ops);
void px_bridge_free(px_bridge_t *b);

/* The upstream stream: up (start learning the server's era), one line from
 * the server, down (fail everything in flight). `cause` is the upstream id
 * of the client request whose answer stream carried the line, where the
 * transport says so (an HTTP server's answer to a POST), else 0: it routes
 * the server's own requests and notifications (DESIGN §5, exact routing). */
void px_bridge_upstream_up(px_bridge_t *b, uint64_t now_ms);
void px_bridge_upstream_line(px_bridge_t *b, const char *line, size_t len, int64_t cause);
/* A line from the server that was over the message cap and dropped: its
 * first and last bytes (px_lines_t.on_drop); the request it answered, when
 * its id can be read there, gets a JSON-RPC error. */
void px_bridge_upstream_dropped(px_bridge_t *b, const char *head, size_t hn, const char *tail,
                                size_t tn);
void px_bridge_upstream_down(px_bridge_t *b, const char *why);
/* Timers: the probe timeout, parked requests, idle sessions. */
void px_bridge_tick(px_bridge_t *b, uint64_t now_ms);

px_state_t px_bridge_state(const px_bridge_t *b);
px_era_t px_bridge_server_era(const px_bridge_t *b);
const px_bridge_stats_t *px_bridge_stats(const px_bridge_t *b);
int px_bridge_n_sessions(const px_bridge_t *b);
size_t px_bridge_n_pending(const px_bridge_t *b);

/* Results of px_bridge_client. */
#define PX_ACCEPTED 0 /* notification or response taken: HTTP 202, chan unused */
#define PX_REPLY    1 /* an answer will come (maybe already came) through chan */

/* One message from a client. `s` is the client's handshake-era session or
 * NULL for a 2026-07-28 request; answers go to `reply` (for an SSE-transport
 * session: its stream). `msg` is borrowed. Returns PX_ACCEPTED or PX_REPLY;
 * bad input is answered through reply, never fatal. */
int px_bridge_client(px_bridge_t *b, px_session_t *s, px_chan_t *reply, json_t *msg);
/* A channel is going away: nothing more is sent to it. Requests of a
 * 2026-07-28 client are cancelled upstream (closing the stream is the
 * cancellation); a handshake-era client's are not (2025-11-25). */
void px_chan_gone(px_bridge_t *b, px_chan_t *c);

/* Sessions of handshake-era clients. `sse` marks the HTTP+SSE transport
 * (the session ends with its stream); `peer` is the client's address
 * (copied; "" when unknown). When the client has --max-sessions-per-client
 * sessions, its least recently used idle one (nothing in flight, no stream)
 * is closed to make room, and when all clients together have
 * --max-sessions, the least recently used idle one of anyone; NULL when
 * none is idle. Closed sessions are reported through the closed callback. */
px_session_t *px_session_open(px_bridge_t *b, int sse, const char *peer, uint64_t now_ms);
px_session_t *px_session_find(px_bridge_t *b, const char *id, uint64_t now_ms);
const char *px_session_id(const px_session_t *s);
/* The stream for server-initiated messages (GET /mcp or the /sse stream);
 * NULL detaches. The previous one is detached first. */
void px_session_set_stream(px_bridge_t *b, px_session_t *s, px_chan_t *c);
px_chan_t *px_session_stream(const px_session_t *s);
int px_session_initialized(const px_session_t *s);
/* Walk the sessions (for shutdown): first, then next; NULL at the end. */
px_session_t *px_bridge_sessions(px_bridge_t *b);
px_session_t *px_session_next(px_session_t *s);
/* End a session: its requests are cancelled upstream. */
void px_session_close(px_bridge_t *b, px_session_t *s);
/* Called by the bridge when it closes a session on its own (idle timeout). */
typedef void (*px_session_closed_cb)(void *ctx, px_session_t *s);
void px_bridge_on_session_closed(px_bridge_t *b, px_session_closed_cb cb, void *ctx);

/* The key of the client that opened s (px_chan_t.peer at px_session_open):
 * with authentication, its principal, so a session is used by its owner only. */
const char *px_session_peer(const px_session_t *s);

/* ---- authz.c: Cedar (DESIGN §9, ToolHive's model) -------------------------------- */

/* The refusal ToolHive gives a denied call (pkg/authz: HTTP 403, JSON-RPC
 * error code 403, message "Unauthorized"). */
#define PX_AUTHZ_CODE    403
#define PX_AUTHZ_MESSAGE "Unauthorized"
/* Is `caller` (NULL: nobody) allowed `method` (tools/call, prompts/get,
 * resources/read) on msg's name or uri with its arguments, by cfg->authz?
 * 1 allowed (and always without cfg->authz or for other methods), 0 denied
 * (a failed evaluation or a request without a caller denies: fail closed).
 * Decisions are cached on the caller (its token's lifetime). */
int px_authz_allowed(const px_config_t *cfg, px_caller_t *caller, const json_t *msg);
/* Keep in a tools/list, prompts/list or resources/list result (in place)
 * the items whose call_tool / get_prompt / read_resource the caller is
 * allowed without arguments (ToolHive's list filtering). */
void px_authz_filter_result(const px_config_t *cfg, px_caller_t *caller, const char *method,
                            json_t *result);
/* The monotonic clock in ms (an audited call's start). */
uint64_t px_authz_clock_ms(void);
/* One audit line (DESIGN §9): principal (the caller's sub, "" when none),
 * method, name, decision ("allow"/"deny"), duration in ms since started_ms
 * (px_authz_clock_ms; 0: none), outcome
 * ("success", "error", "refused", or why no answer came). Never a token or
 * an argument value. */
void px_authz_audit(const px_caller_t *caller, const char *method, const char *name, int allowed,
                    uint64_t started_ms, const char *outcome);
/* Is method one whose calls are authorized and audited? */
int px_authz_is_call(const char *method);
/* Is method a list whose result is filtered per caller? */
int px_authz_is_list(const char *method);

/* ---- era.c ------------------------------------------------------------------------- */

/* What the proxy learned about the server process. */
typedef struct px_server_info {
    px_era_t era;
    json_t *capabilities; /* object */
    json_t *server_info;  /* Implementation object or NULL */
    json_t *instructions; /* string or NULL */
    char version[32];     /* legacy: negotiated; modern: the version we send */
} px_server_info_t;

void px_server_info_clear(px_server_info_t *si);
/* The probe and the proxy's own initialize/initialized (new references). */
json_t *px_era_discover_request(int64_t id);
json_t *px_era_initialize_request(int64_t id);
json_t *px_era_initialized_notification(void);
/* Learn from a discover result / initialize result (borrowed); 0 or MCP_EINVAL. */
int px_era_learn_discover(px_server_info_t *si, const json_t *result);
int px_era_learn_initialize(px_server_info_t *si, const json_t *result);
/* Answers the proxy gives itself (new references, result objects only). */
json_t *px_era_initialize_result(const px_server_info_t *si, const char *client_version);
json_t *px_era_discover_result(const px_server_info_t *si);
/* Add the 2026-07-28 request _meta for a handshake-era client (msg modified). */
int px_era_add_meta(json_t *msg, const char *version, json_t *caps, json_t *client_info,
                    const char *log_level);
/* Remove the io.modelcontextprotocol/ keys of params._meta (for a legacy server). */
void px_era_strip_meta(json_t *msg);

#endif
