/* Private interfaces of mcp-proxy, shared by its files (prefix px_).
 *
 * The proxy is one event loop (h2o evloop) on one thread:
 *   main.c     flags -> px_config_t, signals, px_run
 *   server.c   listener, loop, timers, health, drain (px_run)
 *   http.c     the h2o handlers: /mcp, /sse, /messages, /health, /metrics;
 *              each HTTP response stream is a px_chan_t for the bridge
 *   hostcheck.c Host and Origin against the names the proxy is served
 *              under (DNS rebinding; pure)
 *   bridge.c   the MCP logic, pure (no I/O): sessions, id rewriting,
 *              routing, era bridging; talks to the upstream through
 *              px_bridge_ops_t and to clients through px_chan_t
 *   era.c      the era-specific messages: the probe, the proxy's own
 *              initialize, answers to initialize / server/discover
 *   jsonrpc.c  message classification, errors, line framing, SSE framing
 *   upstream.c the newline-framed byte stream to the MCP server with restart
 *              and backoff, over a backend: exec.c (child process),
 *              attach.c (pods/attach WebSocket on its own thread) or
 *              httpup.c (the server's own sse / streamable-http transport,
 *              libcurl on its own thread)
 *   revproxy.c --tools with --passthrough (h2o's streaming reverse proxy
 *              for the HTTP transports, set up in server.c): requests
 *              checked, answers rewritten by an h2o output filter
 *   toolfilter.c the tool filter's rewriting, shared by both paths (no I/O)
 *   curl_dl.c  libcurl opened on first use (pods/attach, the pod watch and
 *              httpup.c; --exec never loads it)
 *   metrics.c  counters and the Prometheus text */
#ifndef PX_INTERNAL_H
#define PX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "mcp/buf.h"
#include "mcp/common.h"
#include "budget.h"

#define PX_VERSION "0.1.0"

/* The 2026-07-28 revision and the handshake-era revisions we accept. */
#define PX_MODERN_VERSION "2026-07-28"
#define PX_LEGACY_LATEST  "2025-11-25"
#define PX_META_VERSION   "io.modelcontextprotocol/protocolVersion"
#define PX_META_CAPS      "io.modelcontextprotocol/clientCapabilities"
#define PX_META_CLIENT    "io.modelcontextprotocol/clientInfo"
#define PX_META_SERVER    "io.modelcontextprotocol/serverInfo"
#define PX_META_LOGLEVEL  "io.modelcontextprotocol/logLevel"
#define PX_META_SUBID     "io.modelcontextprotocol/subscriptionId"

/* JSON-RPC error codes (JSON-RPC 2.0 and the MCP specification). */
#define PX_E_PARSE          (-32700)
#define PX_E_INVALID        (-32600)
#define PX_E_NO_METHOD      (-32601)
#define PX_E_PARAMS         (-32602)
#define PX_E_INTERNAL       (-32603)
#define PX_E_TIMEOUT        (-32001) /* the SDKs' RequestTimeout */
#define PX_E_HEADER         (-32020)
#define PX_E_MISSING_CAP    (-32021)
#define PX_E_UNSUPPORTED_PV (-32022)

/* Defaults of the caps (named, like curl's dynbuf limits). */
#define PX_DEF_MAX_MESSAGE        ((size_t)4 << 20)
#define PX_DEF_MAX_SESSIONS       1024
#define PX_DEF_MAX_INFLIGHT       256
#define PX_DEF_MAX_INFLIGHT_TOTAL 4096  /* requests in flight to the server, all clients */
#define PX_DEF_REQUEST_TIMEOUT    300.0 /* seconds a request may wait for its answer */
#define PX_MAX_ID_BYTES           1024 /* a client's request id, as JSON: it is held until answered */
#define PX_DEF_IDLE_TIMEOUT       1800.0
#define PX_DEF_DRAIN              10.0
#define PX_DEF_PROBE_TIMEOUT      10.0
#define PX_DEF_ATTACH_STALE       30.0
#define PX_MAX_PARKED             4096  /* requests waiting for the server to come up */
#define PX_PARK_TIMEOUT_MS        30000 /* how long they wait */
#define PX_UNINIT_IDLE_MS         60000 /* a session whose initialize failed lives this long */
#define PX_STREAM_QUEUE_MAX       ((size_t)16 << 20) /* bytes queued on one client stream */
#define PX_UPSTREAM_QUEUE         ((size_t)64 << 20) /* bytes queued towards the server */
#define PX_DEF_MAX_QUEUED         ((size_t)64 << 20) /* all queued bytes (--max-queued-bytes) */

typedef enum px_transport {
    PX_T_STDIO = 0,
    PX_T_SSE,
    PX_T_STREAMABLE,
} px_transport_t;

typedef struct px_config {
    const char *bind;
    int port, health_port;
    const char *tls_cert, *tls_key; /* serve HTTPS when both are set */
    px_transport_t transport;
    char **tools;     /* NULL-terminated, or NULL for no filter (owned) */
    char **exec_argv; /* borrowed from argv */
    const char *ns, *pod, *container;
    const char *target_host;
    int target_port;
    const char *target_path; /* the server's path for its transport (bridging) */
    int passthrough;         /* sse/streamable-http: h2o's reverse proxy, no bridging */
    size_t max_message;
    size_t max_queued;   /* --max-queued-bytes: the budget of all queued bytes */
    px_budget_t *budget; /* that budget, set up by px_run (NULL: none, as in unit tests) */
    int max_sessions, max_inflight;
    int max_connections; /* client connections served at once (0: derived from the fd limit) */
    int max_sessions_per_client; /* handshake-era sessions from one client address */
    int max_inflight_total;      /* requests in flight to the server, all clients */
    double request_timeout;      /* seconds a request waits for its answer */
    int64_t first_upid;          /* the first upstream id (0: random; tests and fuzzing: 1) */
    double idle_timeout, drain_seconds, probe_timeout;
    double attach_stale;  /* seconds without a byte from the apiserver: a stale attach */
    const char **origins; /* --allow-origin: exact Origin values also allowed (owned array) */
    size_t n_origins;
    char **hosts; /* --allow-host, MCP_PROXY_ALLOWED_HOSTS (hostcheck.c; owned) */
    size_t n_hosts;
} px_config_t;

void px_config_defaults(px_config_t *cfg);
/* Open libcurl (curl_dl.c: mcp-proxy loads it only for the Kubernetes
 * client); 0, or -1 with the reason in err. Call before other threads run. */
int px_curl_load(char *err, size_t errlen);
void px_config_dispose(px_config_t *cfg);
/* Is tool `name` allowed by --tools (always, without a filter)? */
int px_tool_allowed(const px_config_t *cfg, const char *name);

/* ---- jsonrpc.c ---------------------------------------------------------------- */

typedef enum px_kind {
    PX_MSG_INVALID = 0,
    PX_MSG_REQUEST,
    PX_MSG_NOTIFICATION,
    PX_MSG_RESPONSE,
} px_kind_t;

/* Classify a parsed message (borrowed). A response has an id and exactly one
 * of result/error; a request has a string method and a string or number id. */
px_kind_t px_msg_kind(const json_t *msg);
/* The method of a request/notification, or "" (borrowed). */
const char *px_msg_method(const json_t *msg);
/* params._meta[key] or NULL (borrowed). */
json_t *px_msg_meta(const json_t *msg, const char *key);
/* What the Mcp-Name header carries for this request (2026-07-28, "Standard
 * headers"): params.name of tools/call and prompts/get, params.uri of
 * resources/read; NULL for other methods or when it is not a string. */
const char *px_msg_mcp_name(const json_t *msg);
/* A new error response {"jsonrpc","id","error":{code,message[,data]}};
 * id NULL means "id": null. `data` is stolen (may be NULL). */
json_t *px_error_new(json_t *id, int code, const char *message, json_t *data);
/* Serialize compactly into out (reset first). 0 or MCP_ENOMEM/MCP_ETOOBIG. */
int px_dump(const json_t *msg, mcp_buf_t *out);
/* Parse one message; NULL with a JSON-RPC error code in *code. */
json_t *px_parse(const char *buf, size_t len, int *code);
/* The same, also taking an array (a JSON-RPC batch; its members unchecked). */
json_t *px_parse_batch(const char *buf, size_t len, int *code);
/* Is v one of the handshake-era revisions? */
int px_is_legacy_version(const char *v);

/* Newline framing of a byte stream with a cap per line. */
#define PX_PEEK 256 /* bytes kept of each end of a dropped line */
typedef void (*px_drop_cb)(void *ctx, const char *head, size_t hn, const char *tail, size_t tn);
typedef struct px_lines {
    mcp_buf_t buf;
    int skipping; /* dropping an over-long line up to its newline */
    int flags;    /* PX_LINES_* (0 after init) */
    uint64_t dropped;
    /* Optional: called once a dropped line has ended, with its first and
     * last (up to) PX_PEEK bytes, so the reader can tell whom it was for. */
    px_drop_cb on_drop;
    char head[PX_PEEK], tail[PX_PEEK];
    size_t head_len, tail_len;
} px_lines_t;
#define PX_LINES_EMPTY 1 /* also deliver empty lines (SSE: they end an event) */
#define PX_LINES_DROPS 2 /* call cb(ctx, NULL, 0) when an over-long line is dropped */
typedef void (*px_line_cb)(void *ctx, const char *line, size_t len);

void px_lines_init(px_lines_t *l, size_t cap);
void px_lines_dispose(px_lines_t *l);
/* Feed bytes; calls cb for each complete non-empty line (without "\n" or a
 * trailing "\r"; empty ones too with PX_LINES_EMPTY). Over-long lines are
 * dropped whole and counted (and reported with PX_LINES_DROPS). */
void px_lines_feed(px_lines_t *l, const char *p, size_t n, px_line_cb cb, void *ctx);

/* The top-level integer "id" of a JSON object that may not parse as a
 * whole (an answer with a bad number or string somewhere, or the head of a
 * line cut short): scans p[0..n) tracking strings and nesting, 1 with the
 * value in *id when a member "id" of the outermost object holds an integer
 * that fits, else 0. px_tail_id reads the end of such an object instead:
 * 1 when p ends with `"id": <integer> }` (how JavaScript servers write it). */
int px_scan_id(const char *p, size_t n, int64_t *id);
int px_tail_id(const char *p, size_t n, int64_t *id);

/* Append one SSE event ("event: <event>\n" when event != NULL, then one
 * "data: " line per line of data, then a blank line). */
int px_sse_event(mcp_buf_t *out, const char *event, const char *data, size_t len);

/* Reading a text/event-stream (HTML Living Standard, "Interpreting an event
 * stream"): cb gets each event's type ("message" when none) and its data
 * lines joined by "\n" (valid during the call); data NULL when the event
 * was over `cap` bytes (it is skipped). Events without data are not
 * dispatched; id and retry are ignored. */
typedef void (*px_sse_cb)(void *ctx, const char *event, const char *data, size_t len);
typedef struct px_sse_reader {
    px_lines_t lines;
    mcp_buf_t data;
    char event[64];
    int has_data, too_big;
    px_sse_cb cb;
    void *ctx;
} px_sse_reader_t;
void px_sse_reader_init(px_sse_reader_t *r, size_t cap, px_sse_cb cb, void *ctx);
void px_sse_reader_dispose(px_sse_reader_t *r);
void px_sse_reader_feed(px_sse_reader_t *r, const char *p, size_t n);

/* The MCP headers of a POST carrying msg to a Streamable HTTP server:
 * MCP-Protocol-Version (the message's _meta protocolVersion, 2026-07-28,
 * else `version`, the one the handshake agreed; 2025-06-18 and later
 * require it), and for requests and notifications Mcp-Method, plus
 * Mcp-Name for tools/call and prompts/get (params.name) and
 * resources/read (params.uri), base64-encoded when not plain printable
 * ASCII (2026-07-28, "Standard headers"). add gets each "Name: value"
 * (valid during the call). version may be NULL. */
typedef void (*px_header_cb)(void *ctx, const char *line);
/* Are all n bytes of p visible ASCII (0x21-0x7E, no space or control)? What
 * may go into an HTTP header or a request line as it is; 1 for n = 0. */
int px_visible_ascii(const char *p, size_t n);
void px_mcp_headers(const json_t *msg, const char *version, px_header_cb add, void *ctx);

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
    char peer[48]; /* the client's address (no port), set by the HTTP layer; "" unknown */
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

/* ---- metrics.c ---------------------------------------------------------------------- */

typedef struct px_http_stats {
    uint64_t http[6]; /* by class: 2xx 202 4xx 403 5xx other; see metrics.c */
    uint64_t sessions_opened, sessions_closed, streams;
    uint64_t conns_refused; /* over --max-connections (server.c) */
    uint64_t connections;   /* open now (server.c sets it before rendering) */
} px_http_stats_t;

/* Append the Prometheus text for everything. */
void px_metrics_render(mcp_buf_t *out, const px_bridge_stats_t *bs, const px_http_stats_t *hs,
                       int sessions, size_t pending, int up, uint64_t restarts,
                       const px_budget_t *budget);

#endif
