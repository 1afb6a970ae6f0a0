/* What every room of mcp-proxy shares (prefix px_): the configuration and
 * its named caps, the memory budget, and the JSON-RPC wire format (message
 * classification, errors, newline and SSE framing, the MCP headers of a
 * POST), which the bridge and the upstream both speak.
 *
 * The rooms (STYLE.md, "The proxy's rooms"), each including only rooms
 * below it (front > bridge, front > upstream; bridge and upstream include
 * neither each other nor front; `make lint` checks it):
 *   main.c      flags -> px_config_t, then px_run
 *   front/      the h2o side: listener, loop, timers, drain (server.c), the
 *               MCP endpoints and their channels (http.c), Host/Origin
 *               (hostcheck.c), HTTP/1.1 framing (framing.c), --passthrough
 *               (revproxy.c), the backend choice (backend.c), /metrics
 *   auth/       token verification (JWT, JWKS, DPoP, discovery), pure, over cjose
 *   bridge/     the MCP logic, pure (no I/O): sessions, id rewriting, exact
 *               routing, era bridging (era.c), the tool filter
 *               (toolfilter.c); bridge.h is its interface
 *   upstream/   the byte stream to the MCP server with restart and backoff
 *               (upstream.c) over a backend: a child process (exec.c),
 *               pods/attach (attach.c, wsch.c), the server's own HTTP
 *               transport (httpup.c); the pod watch (podwatch.c), libcurl
 *               opened on first use (curl_dl.c). It hands lines to whoever
 *               made it through px_upstream_sink_t, never to the bridge
 *   egress/     the forward proxy for the MCP server's own traffic
 *               (--egress-port): listener and profile reload (egress.c),
 *               connections (conn.c), requests and rules (request.c,
 *               rules.c, pure); the front tells it the pod's IPs
 *   jsonrpc.c, config.c, budget.c, caller.c: this header's functions */
#ifndef PX_INTERNAL_H
#define PX_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <sys/stat.h>

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
#define PX_DEF_EGRESS_MAX_CONNS   256                /* --egress-max-connections */
#define PX_DEF_EGRESS_IDLE        300.0 /* --egress-idle-timeout: a tunnel silent both ways */
#define PX_DEF_EGRESS_CONNECT     10.0  /* --egress-connect-timeout: to resolve, then to connect */
#define PX_IP_TEXT                64    /* an IP address as text, with room to spare */

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
    int egress_port;               /* --egress-port: the forward proxy's listener (0: none) */
    const char *egress_profile;    /* --egress-profile: ToolHive's permission profile (JSON) */
    int egress_max_conns;          /* --egress-max-connections */
    double egress_idle_timeout;    /* --egress-idle-timeout, seconds */
    double egress_connect_timeout; /* --egress-connect-timeout, seconds */
    /* Bearer authentication (DESIGN §9; front/authn.c): on when oidc_issuer
     * or oidc_kubernetes is set. Strings borrowed from argv. */
    const char *oidc_issuer, *oidc_audience, *oidc_jwks_url, *oidc_introspection_url;
    const char *oidc_client_id, *oidc_client_secret; /* the secret from the environment */
    const char *oidc_ca_file, *oidc_jwks_token_file, *oidc_namespace;
    const char *resource_url; /* --resource-url: the RFC 9728 resource identifier */
    int oidc_kubernetes, oidc_cluster_auth, oidc_allow_private_ip;
    const char *authz_config; /* --authz-config: ToolHive's Cedar configuration file */
    struct px_authz *authz;   /* its policies (owned, shared by the bridge's copy of cfg;
                                 NULL: no authorization) */
} px_config_t;

/* The environment variable holding the introspection client's secret
 * (never a flag: flags show in the pod spec and in ps). */
#define PX_CLIENT_SECRET_ENV "MCP_PROXY_OIDC_CLIENT_SECRET"
/* The policies in force. A reload replaces `set` and bumps `gen`, which
 * voids the decisions callers cached under older ones. Loop thread only. */
typedef struct px_authz {
    struct mcp_cedar *set; /* owned */
    unsigned gen;
    struct stat seen; /* the file as last read (stat, following symlinks: the
                         kubelet swaps a ConfigMap's ..data link) */
} px_authz_t;
/* Read cfg->authz_config (ToolHive's pkg/authz file: {"version": "1.0",
 * "type": "cedarv1", "cedar": {"policies": [...], "entities_json": "..."}};
 * JSON, at most 4 MiB) and parse its policies into cfg->authz (created on
 * the first call; on a later one the new set replaces the old only when it
 * parses). 0, or -1 with a message naming the file, and the policy's index
 * and Cedar's message when one does not parse. */
int px_authz_load(px_config_t *cfg, char *err, size_t errlen);
/* Is a the same file, unchanged, as b (device, inode, size, mtime, ctime)?
 * How --egress-profile and --authz-config notice an edit. */
int px_same_file(const struct stat *a, const struct stat *b);
/* Read the file again when it changed since the last load (a ConfigMap
 * edit reaches the mounted file within a minute): 1 reloaded, 0 unchanged,
 * -1 changed but refused (the policies in force stay; err says why). */
int px_authz_reload(px_config_t *cfg, char *err, size_t errlen);

/* Is bearer authentication on? */
#define px_authn_on(cfg) ((cfg)->oidc_issuer || (cfg)->oidc_kubernetes)

/* ---- caller.c: who sent a request (verified token claims) -------------------- */

/* A principal: the verified claims of one access token, shared (counted
 * references) by the token cache, the channels answering its requests and
 * the bridge's pending entries. Loop thread only. */
#define PX_CALLER_DECISIONS 64 /* Cedar decisions cached per token */
typedef struct px_caller_decision {
    char *key;    /* action, name and arguments (owned) */
    unsigned gen; /* px_authz_t.gen when decided */
    int allow;
} px_caller_decision_t;
typedef struct px_caller {
    int refs;
    char *sub;    /* the `sub` claim (owned) */
    char *claims; /* the claims as compact JSON, for Cedar (owned) */
    size_t claims_len;
    int64_t exp;  /* the token's `exp`, seconds since the epoch (decisions die with it) */
    char key[48]; /* "sub:" and 40 hex digits of SHA-256(iss, sub): the per-client
                     caps' key, and the owner of the sessions it opens */
    px_caller_decision_t decisions[PX_CALLER_DECISIONS]; /* a ring (bridge/authz.c) */
    unsigned next_decision;
} px_caller_t;

/* A caller from verified claims (borrowed; `sub` must be a non-empty
 * string) and the token's exp; NULL when out of memory or no sub. */
px_caller_t *px_caller_new(const json_t *claims, int64_t exp);
px_caller_t *px_caller_ref(px_caller_t *c);
/* Drop a reference; frees at the last. NULL is a no-op. */
void px_caller_unref(px_caller_t *c);

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
/* A tagged line (upstream.h, px_backend_t.tagged) starts with "@<upid> ":
 * the upid (0 when there is none or it does not fit), with *line and *len
 * moved past the tag. */
int64_t px_line_cause(const char **line, size_t *len);

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

#endif
