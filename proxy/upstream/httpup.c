/* The HTTP client backend: the MCP server's own HTTP transport made into the
 * newline-framed stream the bridge speaks, so that sse and streamable-http
 * servers get the same bridging as stdio ones (either era and either client
 * transport in front, one upstream session for all clients).
 *
 * Each stream is one thread running a libcurl multi handle, bridged to the
 * event loop by a socketpair (sthread.c, as with attach.c):
 *   streamable-http (MCP 2025-03-26 and later, "Streamable HTTP"): every
 *     line from the bridge is one POST to --target-path with the session's
 *     Mcp-Session-Id and the MCP headers (px_mcp_headers); the answer is
 *     application/json (one message or a batch) or text/event-stream (the
 *     messages as they come); 202 for notifications and responses. Once a
 *     handshake-era session exists, a GET stream carries the server's own
 *     messages (none when the server answers 405). A 404 to a request that
 *     carried the session id means the session is gone: the stream ends,
 *     and the bridge initializes a new one.
 *   sse (MCP 2024-11-05, "HTTP with SSE"): a GET of --target-path whose first
 *     event, `endpoint`, names where to POST; every server message arrives
 *     on that stream; the POSTs are answered 202.
 * A request the server refuses with an HTTP error is answered on the bridge
 * with a JSON-RPC error carrying its id (so server/discover against a
 * handshake-era server fails at once rather than after --probe-timeout). A
 * failed connection or a lost stream ends the whole stream: upstream.c tells
 * the bridge (in-flight requests get an error, /health is 503) and opens a new
 * one after its backoff.
 *
 * With --namespace and --pod a pod watch (podwatch.c) points every
 * connection at the pod's IP while it is Ready (curl's CURLOPT_RESOLVE, the
 * Host header unchanged), open() refuses while it is not, and a new pod, a
 * restarted container or a new IP replaces the stream; without them the
 * target is reached by --target-host. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <sys/socket.h>

#include "mcp/json.h"
#include "mcp/log.h"
#include "podwatch.h"
#include "upstream.h"

#define MAX_ACTIVE         256               /* POSTs at once; more wait in the queue */
#define MAX_QUEUED         1024              /* lines waiting; the socketpair is not read beyond */
#define MAX_HELD           PX_UPSTREAM_QUEUE /* bytes queued or being POSTed, likewise */
#define CONNECT_TIMEOUT_MS 5000
#define ENDPOINT_WAIT_MS   10000 /* sse: the `endpoint` event must come this soon */
#define GET_RETRY_MS       1000  /* streamable-http: reopen the GET stream after this */
#define POLL_MS            200
#define READ_CHUNK         65536

enum { X_POST, X_SSE_MAIN, X_GET };

typedef struct http_be http_be_t;
typedef struct hconn hconn_t;

typedef struct xfer {
    hconn_t *c;
    int kind;
    CURL *easy;
    struct curl_slist *headers;
    char *body;     /* the message POSTed (owned) */
    json_t *req_id; /* the id of the request POSTed, or NULL (owned) */
    int is_initialize, answered, ctype_known, is_sse;
    char unreadable[160]; /* why the last part of its answer could not be read, or "" */
    int with_session;     /* the request carried Mcp-Session-Id */
    long status;
    mcp_buf_t json; /* an application/json answer */
    px_sse_reader_t sse;
    struct xfer *next;
} xfer_t;

typedef struct qline {
    char *line;
    struct qline *next;
} qline_t;

struct hconn {
    px_sthread_t t; /* first: the thread, its socketpair end (t.fd), stop */
    int transport;  /* PX_T_SSE or PX_T_STREAMABLE */
    size_t max_message;
    char base[600]; /* http://host:port */
    char url[1400]; /* where to POST (sse: from the endpoint event) */
    char path[512]; /* --target-path */
    char resolve[400];
    struct curl_slist *resolve_list;
    CURLM *multi;
    xfer_t *xfers;
    int n_active;
    qline_t *queue, **queue_tail;
    int n_queued;
    size_t held;         /* bytes of the queued lines and of the bodies being POSTed */
    px_budget_t *budget; /* held counts in it too (--max-queued-bytes; borrowed) */
    px_lines_t in;
    char session_id[256], version[64];
    int initialized; /* notifications/initialized went out: time for the GET stream */
    int get_state;   /* 0 none yet, 1 open, 2 server has none (405) */
    uint64_t get_retry_at, endpoint_deadline;
    char down[256]; /* why the stream ends; "" while it goes on */
    int worked;     /* the server answered a request with a 2xx */
};

struct http_be {
    px_backend_t super;
    const px_config_t *cfg;
    volatile int kube_stop;
    mcp_kube_t *kube;
    px_podwatch_t watch;
    int watching;
    uint64_t generation;
    char ip[64];
    hconn_t *cur;
};

static void conn_destroy(px_sthread_t *t)
{
    free(t);
}

/* The stream ends (the first reason is kept): "why[: detail]". */
static void end_stream(hconn_t *c, const char *why, const char *detail)
{
    if (c->down[0])
        return;
    snprintf(c->down, sizeof(c->down), "%s%s%s", why, detail ? ": " : "", detail ? detail : "");
}

/* ---- towards the bridge -----------------------------------------------------------------------
 */

/* Write all of p to the socketpair (the loop reads it; wait for room, not
 * for ever: a stop ends the wait). */
static int write_all(hconn_t *c, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(c->t.fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

        if (w > 0) {
            p += w;
            n -= (size_t)w;
        } else if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
            struct pollfd pfd = {.fd = c->t.fd, .events = POLLOUT};

            if (atomic_load(&c->t.stop))
                return -1;
            poll(&pfd, 1, POLL_MS);
        } else {
            return -1;
        }
    }
    return 0;
}

/* One message from the server to the bridge (a batch goes as its members). */
static void emit_msg(xfer_t *x, json_t *msg)
{
    hconn_t *c = x->c;
    json_t *id;
    char *line;

    if (json_is_array(msg)) {
        for (size_t i = 0; i < json_array_size(msg); i++)
            emit_msg(x, json_array_get(msg, i));
        return;
    }
    id = json_object_get(msg, "id");
    if (id && x->req_id && json_equal(id, x->req_id) && !json_object_get(msg, "method")) {
        const char *v =
            json_string_value(json_object_get(json_object_get(msg, "result"), "protocolVersion"));

        x->answered = 1;
        if (x->is_initialize && v && strlen(v) < sizeof(c->version)) /* what the session speaks */
            snprintf(c->version, sizeof(c->version), "%s", v);
    }
    line = json_dumps(msg, JSON_COMPACT);
    if (!line)
        return;
    /* the server's own request or notification on a POST's answer stream is
     * for the client of that request: say so (upstream.h, tagged) */
    if (x->kind == X_POST && json_is_integer(x->req_id) && json_object_get(msg, "method")) {
        char tag[32];

        snprintf(tag, sizeof(tag), "@%" JSON_INTEGER_FORMAT " ", json_integer_value(x->req_id));
        if (write_all(c, tag, strlen(tag)) != 0)
            end_stream(c, "the proxy closed the stream", NULL);
    }
    if (write_all(c, line, strlen(line)) != 0 || write_all(c, "\n", 1) != 0)
        end_stream(c, "the proxy closed the stream", NULL);
    free(line);
}

static void answer_error(xfer_t *x, int code, const char *message);

static void emit_text(xfer_t *x, const char *p, size_t n)
{
    json_error_t e;
    json_t *msg = json_loadb(p, n, JSON_DECODE_ANY, &e);

    if (msg) {
        emit_msg(x, msg);
    } else {
        int64_t id;
        char m[300];

        mcp_json_error_text(&e, x->unreadable, sizeof(x->unreadable));
        mcp_log(MCP_LOG_WARN, "mcp server sent invalid JSON", "error", x->unreadable, NULL);
        /* the answer to the request POSTed, if it is this: its client must hear */
        if (x->kind == X_POST && px_scan_id(p, n, &id) && json_is_integer(x->req_id) &&
            json_integer_value(x->req_id) == id) {
            snprintf(m, sizeof(m), "the MCP server's answer could not be read: %s", x->unreadable);
            answer_error(x, PX_E_INTERNAL, m);
        }
    }
    json_decref(msg);
}

/* An answer the server did not give, for a request it refused or dropped. */
static void answer_error(xfer_t *x, int code, const char *message)
{
    json_t *err;

    if (!x->req_id || x->answered)
        return;
    err = px_error_new(x->req_id, code, message, NULL);
    if (err)
        emit_msg(x, err);
    json_decref(err);
    x->answered = 1;
}

/* ---- transfers
 * ----------------------------------------------------------------------------------- */

static void on_sse_event(void *ctx, const char *event, const char *data, size_t len)
{
    xfer_t *x = ctx;
    hconn_t *c = x->c;

    if (!data) {
        mcp_log(MCP_LOG_WARN, "mcp server message over --max-message-bytes dropped", NULL);
        if (x->kind == X_POST)
            answer_error(x, PX_E_INTERNAL,
                         "the MCP server's answer is over the proxy's message limit");
        return;
    }
    if (strcmp(event, "endpoint") == 0 && x->kind == X_SSE_MAIN) {
        if (len == 0 || len >= sizeof(c->url) - sizeof(c->base) || memchr(data, '\n', len)) {
            end_stream(c, "the MCP server's endpoint event is not a URL", NULL);
            return;
        }
        if (data[0] == '/') {
            snprintf(c->url, sizeof(c->url), "%s%.*s", c->base, (int)len, data);
        } else { /* absolute: keep its path and query, the host is ours (the pod's IP) */
            const char *p = memchr(data, ':', len);
            const char *slash = p && len - (size_t)(p - data) > 3
                                    ? memchr(p + 3, '/', len - (size_t)(p - data) - 3)
                                    : NULL;

            if (!slash) {
                end_stream(c, "the MCP server's endpoint event is not a URL", NULL);
                return;
            }
            snprintf(c->url, sizeof(c->url), "%s%.*s", c->base, (int)(len - (size_t)(slash - data)),
                     slash);
        }
        return;
    }
    if (strcmp(event, "message") == 0 && len) /* empty: a priming event (2025-11-25) */
        emit_text(x, data, len);
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
    xfer_t *x = ctx;
    size_t len = size * n;

    if (!x->ctype_known) {
        char *ct = NULL;

        curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
        curl_easy_getinfo(x->easy, CURLINFO_CONTENT_TYPE, &ct);
        x->is_sse = ct && strncasecmp(ct, "text/event-stream", 17) == 0;
        x->ctype_known = 1;
        if (x->is_sse)
            px_sse_reader_init(&x->sse, x->c->max_message, on_sse_event, x);
    }
    if (x->status >= 200 && x->status < 300 && x->is_sse) {
        px_sse_reader_feed(&x->sse, p, len);
    } else if (mcp_buf_add(&x->json, p, len) != 0) {
        x->json.len = 0;
        return 0; /* over the cap: the transfer fails (CURLE_WRITE_ERROR) */
    }
    return x->c->down[0] ? 0 : len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
    xfer_t *x = ctx;
    size_t len = size * n, v;

    /* only the answer to initialize makes a session: a server may name a new
     * session on any request without one (the Python SDK does so on a 400
     * to server/discover), which is not ours */
    if (x->is_initialize && len > 15 && strncasecmp(p, "mcp-session-id:", 15) == 0) {
        for (v = 15; v < len && (p[v] == ' ' || p[v] == '\t'); v++)
            ;
        while (len > v && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
            len--;
        /* visible ASCII only (Streamable HTTP, "Session Management"): it goes
         * back into our request headers */
        if (len - v > 0 && len - v < sizeof(x->c->session_id) && px_visible_ascii(p + v, len - v))
            snprintf(x->c->session_id, sizeof(x->c->session_id), "%.*s", (int)(len - v), p + v);
    }
    return size * n;
}

static void add_header(void *ctx, const char *line)
{
    xfer_t *x = ctx;
    struct curl_slist *l = curl_slist_append(x->headers, line);

    if (l)
        x->headers = l;
}

/* The "Mcp-Session-Id: <id>" line into line[n]; 0 while there is no session. */
static int session_line(const hconn_t *c, char *line, size_t n)
{
    return c->session_id[0] && snprintf(line, n, "Mcp-Session-Id: %s", c->session_id) > 0;
}

/* The session's id on a request of x, when there is one. */
static void add_session(xfer_t *x)
{
    char line[300];

    if (session_line(x->c, line, sizeof(line))) {
        add_header(x, line);
        x->with_session = 1;
    }
}

static void xfer_free(xfer_t *x)
{
    if (x->body) {
        x->c->held -= strlen(x->body);
        px_budget_give(x->c->budget, strlen(x->body));
    }
    if (x->easy) {
        curl_multi_remove_handle(x->c->multi, x->easy);
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->headers);
    free(x->body);
    json_decref(x->req_id);
    mcp_buf_dispose(&x->json);
    if (x->is_sse)
        px_sse_reader_dispose(&x->sse);
    free(x);
}

static xfer_t *xfer_new(hconn_t *c, int kind, const char *url)
{
    xfer_t *x = calloc(1, sizeof(*x));

    if (!x)
        return NULL;
    x->c = c;
    x->kind = kind;
    mcp_buf_init(&x->json, c->max_message);
    x->easy = curl_easy_init();
    if (!x->easy) {
        free(x);
        return NULL;
    }
    curl_easy_setopt(x->easy, CURLOPT_URL, url);
    curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
    curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)CONNECT_TIMEOUT_MS);
    curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPIDLE, 30L);
    curl_easy_setopt(x->easy, CURLOPT_TCP_KEEPINTVL, 10L);
    curl_easy_setopt(x->easy, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(x->easy, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
    if (c->resolve_list)
        curl_easy_setopt(x->easy, CURLOPT_RESOLVE, c->resolve_list);
    if (kind != X_POST)
        add_header(x, "Accept: text/event-stream");
    if (kind == X_GET) {
        char h[100];

        add_session(x);
        if (c->version[0]) {
            snprintf(h, sizeof(h), "MCP-Protocol-Version: %s", c->version);
            add_header(x, h);
        }
    }
    return x;
}

static int xfer_start(hconn_t *c, xfer_t *x)
{
    curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
    if (curl_multi_add_handle(c->multi, x->easy) != CURLM_OK) {
        xfer_free(x);
        return -1;
    }
    x->next = c->xfers;
    c->xfers = x;
    if (x->kind == X_POST)
        c->n_active++;
    return 0;
}

/* POST one message from the bridge (line is taken). */
static void post_line(hconn_t *c, char *line)
{
    json_t *msg = json_loads(line, 0, NULL);
    const char *method = px_msg_method(msg);
    xfer_t *x = xfer_new(c, X_POST, c->url);

    if (!x || !msg) {
        c->held -= strlen(line);
        px_budget_give(c->budget, strlen(line));
        mcp_log(MCP_LOG_WARN, "cannot send a message to the mcp server", "error",
                x ? "not JSON" : "out of memory", NULL);
        if (x)
            xfer_free(x);
        json_decref(msg);
        free(line);
        return;
    }
    x->body = line;
    if (px_msg_kind(msg) == PX_MSG_REQUEST) {
        x->req_id = json_incref(json_object_get(msg, "id"));
        if (strcmp(method, "initialize") == 0) {
            x->is_initialize = 1;
            c->session_id[0] = '\0'; /* a new session */
        }
    } else if (strcmp(method, "notifications/initialized") == 0) {
        c->initialized = 1;
    }
    add_header(x, "Content-Type: application/json");
    if (c->transport == PX_T_STREAMABLE) {
        add_header(x, "Accept: application/json, text/event-stream");
        px_mcp_headers(msg, c->version[0] ? c->version : NULL, add_header, x);
        add_session(x);
    }
    json_decref(msg);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDS, x->body);
    curl_easy_setopt(x->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(x->body));
    if (xfer_start(c, x) != 0)
        end_stream(c, "out of memory", NULL);
}

/* Did the server answer that our session is gone? 404 to a request with
 * its Mcp-Session-Id (Streamable HTTP, "Session Management"); the
 * TypeScript SDK 1.x (server-everything) answers 400 "No valid session ID
 * provided" instead, e.g. after a restart, so a 400 whose error names the
 * session counts too. Then the stream ends and the bridge initializes a
 * new session. */
static int session_lost(const xfer_t *x)
{
    if (!x->with_session || (x->status != 404 && x->status != 400))
        return 0;
    if (x->status == 404)
        return 1;
    for (size_t i = 0; i + 7 <= x->json.len; i++)
        if (strncasecmp(x->json.data + i, "session", 7) == 0)
            return 1;
    return 0;
}

/* libcurl's reason, naming the address for a failed connect ("connection
 * refused to 10.244.0.7:3002": the targetPort a user got wrong shows): the
 * pod's IP when the proxy watches it (c->resolve "host:port:ip"), else the
 * host of c->base. */
static const char *curl_why(hconn_t *c, CURL *e, CURLcode rc, char *out, size_t n)
{
    long err = 0;
    const char *addr = c->base + 7, *how; /* past "http://" */
    char buf[420];

    if (rc != CURLE_COULDNT_CONNECT && rc != CURLE_OPERATION_TIMEDOUT)
        return curl_easy_strerror(rc);
    curl_easy_getinfo(e, CURLINFO_OS_ERRNO, &err);
    if (c->resolve[0]) { /* host:port:ip -> ip:port */
        const char *ip = strchr(c->resolve, ':') ? strchr(strchr(c->resolve, ':') + 1, ':') : NULL;
        const char *port = strchr(c->resolve, ':');

        if (ip && port) {
            snprintf(buf, sizeof(buf), "%s:%.*s", ip + 1, (int)(ip - port - 1), port + 1);
            addr = buf;
        }
    }
    how = err == ECONNREFUSED              ? "connection refused"
          : rc == CURLE_OPERATION_TIMEDOUT ? "timed out connecting"
          : err                            ? strerror((int)err)
                                           : "cannot connect";
    snprintf(out, n, "%s to %s", how, addr);
    return out;
}

/* A transfer ended: what it means for its request, and for the stream. */
static void xfer_done(hconn_t *c, xfer_t *x, CURLcode rc)
{
    char msg[200];

    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
    if (x->kind == X_SSE_MAIN) {
        if (rc != CURLE_OK)
            end_stream(c, "the MCP server's SSE stream ended",
                       curl_why(c, x->easy, rc, msg, sizeof(msg)));
        else
            end_stream(c,
                       x->status >= 300 ? "the MCP server refused the SSE stream"
                                        : "the MCP server ended its SSE stream",
                       NULL);
        return;
    }
    if (x->kind == X_GET) { /* a clean end or a refusal: open it again (405: the server has none) */
        c->get_state = x->status == 405 ? 2 : 0;
        c->get_retry_at = px_mono_ms() + GET_RETRY_MS;
        if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR)
            end_stream(c, "the MCP server's GET stream failed", curl_easy_strerror(rc));
        else if (session_lost(x))
            end_stream(c, "the MCP server no longer knows the session", NULL);
        return;
    }
    if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR) { /* the bridge fails what is in flight */
        end_stream(
            c, x->status ? "the MCP server's answer broke off" : "the MCP server cannot be reached",
            curl_why(c, x->easy, rc, msg, sizeof(msg)));
        return;
    }
    if (session_lost(x)) {
        end_stream(c, "the MCP server no longer knows the session", NULL);
        return;
    }
    if (x->status >= 400 || rc != CURLE_OK) {
        json_t *body = x->json.len ? json_loadb(x->json.data, x->json.len, 0, NULL) : NULL;
        json_t *e = json_object_get(body, "error");
        const char *m = json_string_value(json_object_get(e, "message"));

        if (rc == CURLE_WRITE_ERROR)
            snprintf(msg, sizeof(msg), "the MCP server's answer is over the proxy's message limit");
        else
            snprintf(msg, sizeof(msg), "the MCP server answered HTTP %ld%s%.120s", x->status,
                     m ? ": " : "", m ? m : "");
        answer_error(x,
                     json_is_integer(json_object_get(e, "code"))
                         ? (int)json_integer_value(json_object_get(e, "code"))
                         : PX_E_INTERNAL,
                     msg);
        json_decref(body);
        return;
    }
    c->worked = 1;
    if (c->transport != PX_T_STREAMABLE) /* HTTP+SSE: answers come on the SSE stream */
        return;
    if (!x->is_sse && x->json.len)
        emit_text(x, x->json.data, x->json.len);
    if (x->unreadable[0]) { /* what it sent was not JSON: say so, not that nothing came */
        char m[300];

        snprintf(m, sizeof(m), "the MCP server's answer could not be read: %s", x->unreadable);
        answer_error(x, PX_E_INTERNAL, m);
    }
    answer_error(x, PX_E_INTERNAL, "the MCP server ended its answer without a response");
}

/* ---- the thread
 * ---------------------------------------------------------------------------------- */

static void on_bridge_line(void *ctx, const char *line, size_t len)
{
    hconn_t *c = ctx;
    qline_t *q;

    if (!line) {
        mcp_log(MCP_LOG_WARN, "message over --max-message-bytes not sent to the mcp server", NULL);
        return;
    }
    q = malloc(sizeof(*q));
    if (!q || !(q->line = strndup(line, len))) {
        free(q);
        end_stream(c, "out of memory", NULL);
        return;
    }
    q->next = NULL;
    c->held += strlen(q->line);
    px_budget_charge(c->budget, strlen(q->line)); /* read already: counted, reading pauses */
    *c->queue_tail = q;
    c->queue_tail = &q->next;
    c->n_queued++;
}

static void pump_queue(hconn_t *c)
{
    while (c->queue && c->url[0] && c->n_active < MAX_ACTIVE && !c->down[0]) {
        qline_t *q = c->queue;

        c->queue = q->next;
        if (!c->queue)
            c->queue_tail = &c->queue;
        c->n_queued--;
        post_line(c, q->line);
        free(q);
    }
}

static void read_bridge(hconn_t *c)
{
    char buf[READ_CHUNK];
    ssize_t n = recv(c->t.fd, buf, sizeof(buf), MSG_DONTWAIT);

    if (n > 0)
        px_lines_feed(&c->in, buf, (size_t)n, on_bridge_line, c);
    else if (n == 0 || (errno != EAGAIN && errno != EINTR))
        end_stream(c, "the proxy closed the stream", NULL);
}

static void finish_transfers(hconn_t *c)
{
    CURLMsg *m;
    int left;

    while ((m = curl_multi_info_read(c->multi, &left))) {
        xfer_t *x = NULL, **pp;

        if (m->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        xfer_done(c, x, m->data.result);
        for (pp = &c->xfers; *pp; pp = &(*pp)->next)
            if (*pp == x) {
                *pp = x->next;
                break;
            }
        if (x->kind == X_POST)
            c->n_active--;
        xfer_free(x); /* m is invalid from here */
    }
}

/* streamable-http: end the session we made (DELETE, best effort, 1 s). */
static void delete_session(hconn_t *c)
{
    CURL *e;
    struct curl_slist *h = NULL;
    char line[300];

    if (c->transport != PX_T_STREAMABLE || !session_line(c, line, sizeof(line)) ||
        !(e = curl_easy_init()))
        return;
    h = curl_slist_append(h, line);
    curl_easy_setopt(e, CURLOPT_URL, c->url);
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    if (c->resolve_list)
        curl_easy_setopt(e, CURLOPT_RESOLVE, c->resolve_list);
    curl_easy_perform(e);
    curl_easy_cleanup(e);
    curl_slist_free_all(h);
}

/* Why a stream ended: at warn once per reason (a server that is down fails
 * every reconnect the same way), at debug after that until a stream has
 * worked (`worked`: the server answered it with a 2xx). */
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_why[256]; /* the last reason a stream ended, "" once one worked */

static void log_end(const char *why, int worked)
{
    int again;

    pthread_mutex_lock(&last_lock);
    again = !worked && strcmp(last_why, why) == 0;
    snprintf(last_why, sizeof(last_why), "%s", worked ? "" : why);
    pthread_mutex_unlock(&last_lock);
    mcp_log(again ? MCP_LOG_DEBUG : MCP_LOG_WARN, "mcp server http stream ended", "why", why, NULL);
}

void px_http_last_error(char *out, size_t n)
{
    pthread_mutex_lock(&last_lock);
    snprintf(out, n, "%s", last_why);
    pthread_mutex_unlock(&last_lock);
}

static void *conn_main(void *arg)
{
    hconn_t *c = arg;
    int running = 0;

    px_lines_init(&c->in, c->max_message);
    c->in.flags = PX_LINES_DROPS;
    c->queue_tail = &c->queue;
    c->multi = curl_multi_init();
    if (c->resolve[0])
        c->resolve_list = curl_slist_append(NULL, c->resolve);
    if (!c->multi || (c->resolve[0] && !c->resolve_list))
        end_stream(c, "out of memory", NULL);
    if (c->transport == PX_T_SSE && !c->down[0]) {
        xfer_t *x;
        char url[1200];

        snprintf(url, sizeof(url), "%s%s", c->base, c->path);
        x = xfer_new(c, X_SSE_MAIN, url);
        if (!x || xfer_start(c, x) != 0)
            end_stream(c, "out of memory", NULL);
        c->endpoint_deadline = px_mono_ms() + ENDPOINT_WAIT_MS;
    } else {
        snprintf(c->url, sizeof(c->url), "%s%s", c->base, c->path);
    }
    while (!c->down[0] && !atomic_load(&c->t.stop)) {
        struct curl_waitfd wfd = {.fd = c->t.fd,
                                  .events = c->n_queued < MAX_QUEUED && c->held < MAX_HELD &&
                                                    !px_budget_over(c->budget)
                                                ? CURL_WAIT_POLLIN
                                                : 0};
        uint64_t now;

        curl_multi_poll(c->multi, &wfd, 1, POLL_MS, NULL);
        if (wfd.revents & (CURL_WAIT_POLLIN | POLLHUP | POLLERR))
            read_bridge(c);
        pump_queue(c);
        curl_multi_perform(c->multi, &running);
        finish_transfers(c);
        now = px_mono_ms();
        if (c->transport == PX_T_SSE && !c->url[0] && now > c->endpoint_deadline)
            end_stream(c, "the MCP server sent no endpoint event within 10 s", NULL);
        if (c->transport == PX_T_STREAMABLE && c->initialized && c->session_id[0] &&
            c->get_state == 0 && now >= c->get_retry_at) {
            xfer_t *x = xfer_new(c, X_GET, c->url);

            if (x && xfer_start(c, x) == 0)
                c->get_state = 1;
        }
    }
    if (c->down[0] && !atomic_load(&c->t.stop))
        log_end(c->down, c->worked);
    shutdown(c->t.fd, SHUT_RDWR); /* the loop sees EOF at once; the clean-up may take 1 s */
    while (c->xfers) {
        xfer_t *x = c->xfers;

        c->xfers = x->next;
        xfer_free(x);
    }
    delete_session(c);
    while (c->queue) {
        qline_t *q = c->queue;

        c->queue = q->next;
        free(q->line);
        free(q);
    }
    px_budget_give(c->budget, c->held);
    c->held = 0;
    if (c->multi)
        curl_multi_cleanup(c->multi);
    curl_slist_free_all(c->resolve_list);
    px_lines_dispose(&c->in);
    px_sthread_exit(&c->t);
    return NULL;
}

/* ---- the backend
 * --------------------------------------------------------------------------------- */

static int http_open(px_backend_t *pb, int *rfd, int *wfd, int *efd, char *err, size_t errlen)
{
    http_be_t *be = (http_be_t *)pb;
    const px_config_t *cfg = be->cfg;
    px_pod_t pod = {0};
    hconn_t *c;
    int rc;

    if (be->watching) {
        if (!px_podwatch_get(&be->watch, &pod)) {
            snprintf(err, errlen, "waiting for the pod watch of %s/%s", cfg->ns, cfg->pod);
            return MCP_ENOENT;
        }
        if (!pod.ready) {
            snprintf(err, errlen, "waiting for pod %s/%s to be ready", cfg->ns, cfg->pod);
            return MCP_ENOENT;
        }
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return MCP_ENOMEM;
    c->t.destroy = conn_destroy;
    c->transport = cfg->transport;
    c->max_message = cfg->max_message;
    c->budget = cfg->budget;
    snprintf(c->base, sizeof(c->base),
             strchr(cfg->target_host, ':') ? "http://[%s]:%d" : "http://%s:%d", cfg->target_host,
             cfg->target_port);
    snprintf(c->path, sizeof(c->path), "%s", cfg->target_path);
    if (be->watching)
        snprintf(c->resolve, sizeof(c->resolve), strchr(pod.ip, ':') ? "%s:%d:[%s]" : "%s:%d:%s",
                 cfg->target_host, cfg->target_port, pod.ip);
    if ((rc = px_sthread_start(&c->t, conn_main, rfd, wfd, err, errlen)) != 0)
        return rc;
    be->cur = c;
    be->generation = pod.generation;
    snprintf(be->ip, sizeof(be->ip), "%s", pod.ip);
    *efd = -1;
    {
        char port[16];

        snprintf(port, sizeof(port), "%d", cfg->target_port);
        mcp_log(MCP_LOG_DEBUG, "mcp server http stream", "host", cfg->target_host, "port", port,
                "address", be->watching ? pod.ip : "by name", NULL);
    }
    return 0;
}

static void http_close(px_backend_t *pb, int final)
{
    http_be_t *be = (http_be_t *)pb;
    hconn_t *c = be->cur;

    be->cur = NULL;
    px_sthread_stop(c ? &c->t : NULL, final);
}

/* A new pod, a restarted container, a new IP or a pod no longer Ready:
 * this stream's server is gone. */
static int http_tick(px_backend_t *pb, uint64_t now_ms)
{
    http_be_t *be = (http_be_t *)pb;
    px_pod_t pod;

    (void)now_ms;
    if (!be->watching || !be->cur || !px_podwatch_get(&be->watch, &pod))
        return 0;
    return pod.generation != be->generation || !pod.ready || strcmp(pod.ip, be->ip) != 0;
}

static size_t http_pod_ips(px_backend_t *pb, char (*ips)[PX_IP_TEXT], size_t max)
{
    http_be_t *be = (http_be_t *)pb;

    return be->watching ? px_podwatch_ips(&be->watch, ips, max) : 0;
}

static void http_free(px_backend_t *pb)
{
    http_be_t *be = (http_be_t *)pb;

    be->kube_stop = 1;
    if (be->watching)
        px_podwatch_stop(&be->watch);
    mcp_kube_free(be->kube);
    free(be);
}

px_backend_t *px_http_backend_new(const px_config_t *cfg, char *err, size_t errlen)
{
    http_be_t *be = calloc(1, sizeof(*be));
    char why[256] = "";

    if (!be) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    be->super.name = cfg->transport == PX_T_SSE ? "sse" : "streamable-http";
    be->super.tagged = 1;
    be->super.open = http_open;
    be->super.close = http_close;
    be->super.tick = http_tick;
    be->super.free = http_free;
    be->super.pod_ips = http_pod_ips;
    be->cfg = cfg;
    if (px_curl_load(err, errlen) != 0) {
        free(be);
        return NULL;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (cfg->ns && cfg->pod) { /* without a Kubernetes configuration: by name */
        be->kube = px_kube_open(&be->kube_stop, NULL, why, sizeof(why));
        if (be->kube &&
            px_podwatch_start(&be->watch, be->kube, cfg->ns, cfg->pod, cfg->container) == 0)
            be->watching = 1;
        else
            mcp_log(MCP_LOG_WARN, "no pod watch: the MCP server is reached by name", "host",
                    cfg->target_host, "error", be->kube ? "cannot start a thread" : why, NULL);
    }
    return &be->super;
}
