/* libFuzzer target over what mcp-proxy parses from others: the bridge fed a
 * script of events (lines from the MCP server through the newline framing,
 * messages from clients of both eras, hang-ups, restarts, timers), the
 * WebSocket channel protocol fed raw frames, the attach handshake's
 * response check (and what a refusal's body adds to the log line), the
 * tool filter's rewriting of HTTP answers (event streams split anywhere,
 * whole JSON bodies), and an HTTP server's event stream as the HTTP backend
 * reads it (with the MCP headers built from each message), the request side
 * of --passthrough --tools (what the server gets is what the filter parsed,
 * with no call of a filtered tool left), HTTP/1.1 framing as the daemons
 * screen it, the upstream's tagged lines with the ids of unreadable
 * answers, and the egress proxy's request heads (CONNECT and absolute-form,
 * with what follows them as a body), and proxy/auth's tokens, key sets,
 * discovery documents and DPoP proofs (modes 10 to 13, fuzz_auth.c). The
 * first input byte picks the mode; mode 1 is the bridge with Cedar
 * authorization and two callers (bridge/authz.c).
 *
 * Oracles beyond the sanitizers: a client request channel never gets a
 * message after its final one, every message sent anywhere is valid JSON,
 * once every channel is gone no channel is still counted as owed an
 * answer, and routing is exact (DESIGN §5): a response reaches only a
 * client that sent a request with its id, and a server's own request only
 * a handshake-era session, never a 2026-07-28 client. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mcp/cedar.h"
#include "mcp/http1.h"
#include "mcp/log.h"
#include "../../proxy/bridge/bridge.h"
#include "../../proxy/upstream/wsch.h"
#include "../../proxy/egress/request.h"

#define N_CHANS 64

void fuzz_auth(unsigned mode, const uint8_t *data, size_t size); /* fuzz_auth.c */

typedef struct fchan {
    px_chan_t super;
    int finished;
    int owner; /* the client: a session's serial (>= 1), or -1 - index for a 2026-07-28 one */
} fchan_t;

static fchan_t chans[N_CHANS];
static int n_chans;

/* The ids each client sent in requests (compact JSON), for the routing oracle. */
#define N_SENT 256
static struct {
    int owner;
    char id[64];
} sent[N_SENT];
static int n_sent;

static void note_sent(int owner, const json_t *msg)
{
    char *id = json_dumps(json_object_get(msg, "id"), JSON_ENCODE_ANY | JSON_COMPACT);

    if (id && strlen(id) < sizeof(sent[0].id) && n_sent < N_SENT) {
        sent[n_sent].owner = owner;
        snprintf(sent[n_sent++].id, sizeof(sent[0].id), "%s", id);
    }
    free(id);
}

/* A response may reach only a client that sent its id (or is the proxy's
 * own error without one); a server request only a handshake-era session. */
static void check_route(const fchan_t *f, const json_t *m)
{
    json_t *id = json_object_get(m, "id");
    char *key;
    int known = 0;

    if (!id || json_is_null(id))
        return;
    if (json_object_get(m, "method")) {
        if (f->owner < 0)
            abort(); /* a server request routed to a 2026-07-28 client */
        return;
    }
    key = json_dumps(id, JSON_ENCODE_ANY | JSON_COMPACT);
    if (!key || strlen(key) >= sizeof(sent[0].id) || n_sent == N_SENT) {
        free(key);
        return; /* not tracked */
    }
    for (int i = 0; i < n_sent && !known; i++)
        known = sent[i].owner == f->owner && strcmp(sent[i].id, key) == 0;
    free(key);
    if (!known)
        abort(); /* an answer went to a client that never asked */
}

static void fc_send(px_chan_t *c, const char *json, size_t len, int flags, int status)
{
    fchan_t *f = (fchan_t *)c;
    json_error_t e;

    (void)status;
    if (f->finished && !c->streaming)
        abort(); /* a message after the final one */
    if (len) {
        json_t *m = json_loadb(json, len, 0, &e);

        if (!m)
            abort(); /* we only ever send JSON */
        check_route(f, m);
        json_decref(m);
    }
    if ((flags & PX_SEND_FINAL) && !c->streaming)
        f->finished = 1;
}

/* Mode 1: two callers and a Cedar policy set (bridge/authz.c): calls
 * refused or allowed, lists filtered, per caller. Made once, kept. */
static px_caller_t *fuzz_callers[2];
static int fuzz_callers_on;
static px_authz_t fuzz_policies_holder, *fuzz_policies;

static void authz_setup(void)
{
    static const char *const pol[] = {
        "permit(principal, action == Action::\"call_tool\", resource == Tool::\"echo\");",
        "permit(principal == Client::\"alice\", action, resource);",
        "forbid(principal, action == Action::\"call_tool\", resource) when { context has "
        "arg_x && context.arg_x == 1 };",
    };
    mcp_cedar_str_t ps[3];
    json_t *a = json_pack("{s:s, s:s, s:i}", "sub", "alice", "iss", "i", "exp", 1);
    json_t *b = json_pack("{s:s, s:s, s:i}", "sub", "bob", "iss", "i", "exp", 1);

    for (int i = 0; i < 3; i++)
        ps[i] = (mcp_cedar_str_t){pol[i], strlen(pol[i])};
    if (mcp_cedar_new(ps, 3, (mcp_cedar_str_t){"", 0}, &fuzz_policies_holder.set, NULL) != 0)
        abort();
    fuzz_policies_holder.gen = 1;
    fuzz_policies = &fuzz_policies_holder;
    fuzz_callers[0] = px_caller_new(a, 1);
    fuzz_callers[1] = px_caller_new(b, 1);
    json_decref(a);
    json_decref(b);
}

static px_chan_t *new_chan(int streaming, int owner)
{
    fchan_t *f;

    if (n_chans == N_CHANS)
        return NULL;
    f = &chans[n_chans];
    memset(f, 0, sizeof(*f));
    f->super.send = fc_send;
    f->super.streaming = streaming;
    f->owner = owner ? owner : -1 - n_chans;
    /* two client addresses, so the per-client shares are exercised */
    snprintf(f->super.peer, sizeof(f->super.peer), "10.0.0.%d", n_chans % 2);
    f->super.caller = fuzz_callers_on ? fuzz_callers[n_chans % 2] : NULL; /* mode 1 */
    n_chans++;
    return &f->super;
}

static int up_write(void *ctx, const char *line, size_t len)
{
    (void)ctx;
    if (memchr(line, '\n', len))
        abort(); /* a newline inside a stdio message breaks the framing */
    return 0;
}

static void up_restart(void *ctx, const char *why)
{
    (void)why;
    *(int *)ctx = 1;
}

static int64_t line_cause; /* the cause given with the lines being fed ('>') */

static void on_line(void *ctx, const char *line, size_t len)
{
    px_bridge_upstream_line(ctx, line, len, line_cause);
}

static void on_drop(void *ctx, const char *head, size_t hn, const char *tail, size_t tn)
{
    px_bridge_upstream_dropped(ctx, head, hn, tail, tn);
}

static px_session_t *sessions[4];
static int serials[4], n_sessions, next_serial;

static int serial_of(const px_session_t *s)
{
    for (int i = 0; i < n_sessions; i++)
        if (sessions[i] == s)
            return serials[i];
    return 0;
}

static void client_msg(px_bridge_t *b, px_session_t *s, const char *p, size_t n, int streaming)
{
    int code;
    json_t *msg = px_parse(p, n, &code);
    px_chan_t *c = streaming && s ? px_session_stream(s) : new_chan(0, s ? serial_of(s) : 0);

    if (msg && c) {
        /* a 2026-07-28 request on an SSE session's stream is its own client, but
         * its answer shares the stream: count its ids as the stream owner's */
        if (px_msg_kind(msg) == PX_MSG_REQUEST)
            note_sent(((fchan_t *)c)->owner, msg);
        px_bridge_client(b, s, c, msg);
    }
    json_decref(msg);
}

/* The bridge closed an idle session: forget it, as the HTTP layer does. */
static void on_closed(void *ctx, px_session_t *s)
{
    (void)ctx;
    for (int i = 0; i < n_sessions; i++)
        if (sessions[i] == s) {
            n_sessions--;
            sessions[i] = sessions[n_sessions];
            serials[i] = serials[n_sessions];
            return;
        }
}

/* One event per line: '<' server bytes, 'L' legacy client, 'M' modern
 * client, 'S' SSE-session message, 'O' open a session, 'G' a channel hangs up,
 * 'D' server down, 'U' server up, 'T' time passes, '>' server bytes carried
 * by the answer stream of upstream id <first byte> (an HTTP server's). */
static void run_bridge(const uint8_t *data, size_t size, int authz)
{
    px_config_t cfg;
    int restart = 0;
    px_bridge_ops_t ops = {.write = up_write, .restart = up_restart, .ctx = &restart};
    px_bridge_t *b;
    px_lines_t lines;
    uint64_t now = 0;
    static char *tools[] = {"echo", NULL};

    px_config_defaults(&cfg);
    cfg.max_sessions = 4;
    cfg.max_sessions_per_client = 3;
    cfg.max_inflight = 8;
    cfg.max_inflight_total = 24;
    cfg.first_upid = 1; /* so a script can answer the ids it knows */
    cfg.tools = size % 2 ? tools : NULL;
    if (authz && !fuzz_policies)
        authz_setup();
    cfg.authz = authz ? fuzz_policies : NULL;
    fuzz_callers_on = authz;
    b = px_bridge_new(&cfg, &ops);
    px_bridge_on_session_closed(b, on_closed, NULL);
    n_sessions = 0;
    px_lines_init(&lines, 4096);
    lines.on_drop = on_drop;
    n_chans = 0;
    n_sent = 0;
    next_serial = 0;
    px_bridge_upstream_up(b, now);
    while (size > 0) {
        const uint8_t *nl = memchr(data, '\n', size);
        size_t len = nl ? (size_t)(nl - data) : size;
        const char *p = (const char *)data + 1;
        size_t n = len ? len - 1 : 0;

        switch (len ? data[0] : 0) {
        case '<': /* raw bytes, framed like the child's stdout: ';' stands for a newline */
        case '>':
            line_cause = data[0] == '>' && n ? (uint8_t)*p++ : 0;
            n -= data[0] == '>' && n;
            for (size_t i = 0; i < n; i++)
                px_lines_feed(&lines, p[i] == ';' ? "\n" : p + i, 1, on_line, b);
            line_cause = 0;
            break;
        case 'L':
            if (n_sessions)
                client_msg(b, sessions[(n ? (uint8_t)p[0] : 0) % n_sessions], p + (n > 0),
                           n - (n > 0), 0);
            break;
        case 'S':
            if (n_sessions)
                client_msg(b, sessions[n_sessions - 1], p, n, 1);
            break;
        case 'M':
            client_msg(b, NULL, p, n, 0);
            break;
        case 'O': { /* opening may evict another (on_closed forgets it) */
            px_session_t *s =
                n_sessions < 4 ? px_session_open(b, n > 0, n > 1 ? "a" : "b", now) : NULL;

            if (s) {
                px_chan_t *c = new_chan(1, ++next_serial);

                sessions[n_sessions] = s;
                serials[n_sessions++] = next_serial;
                if (c && n > 0)
                    px_session_set_stream(b, s, c);
            }
            break;
        }
        case 'C': /* close the newest session */
            if (n_sessions) {
                px_session_t *s = sessions[--n_sessions];

                px_session_close(b, s);
            }
            break;
        case 'G':
            if (n_chans)
                px_chan_gone(b, &chans[(n ? (uint8_t)p[0] : 0) % n_chans].super);
            break;
        case 'D':
            px_bridge_upstream_down(b, "fuzz");
            break;
        case 'U':
            px_bridge_upstream_up(b, now);
            break;
        case 'T':
            now += n ? (uint64_t)(uint8_t)p[0] * 1000 : 40000;
            px_bridge_tick(b, now);
            break;
        default:
            break;
        }
        if (!nl)
            break;
        size -= len + 1;
        data = nl + 1;
    }
    for (int i = 0; i < n_chans; i++)
        px_chan_gone(b, &chans[i].super);
    for (int i = 0; i < n_chans; i++)
        if (chans[i].super.n_pending != 0)
            abort(); /* a channel still owed an answer after everything hung up */
    px_lines_dispose(&lines);
    px_bridge_free(b);
}

typedef struct mem {
    const uint8_t *p;
    size_t n, off;
} mem_t;

static ssize_t m_recv(void *ctx, uint8_t *buf, size_t len)
{
    mem_t *m = ctx;
    size_t k = m->n - m->off;

    if (!k)
        return 0;
    k = k < len ? k : len;
    k = k > 7 ? 7 : k; /* odd chunks: frames split everywhere */
    memcpy(buf, m->p + m->off, k);
    m->off += k;
    return (ssize_t)k;
}

static ssize_t m_send(void *ctx, const uint8_t *buf, size_t len)
{
    (void)ctx;
    (void)buf;
    return (ssize_t)len;
}

static int s_out(void *ctx, const uint8_t *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return 0;
}

static void run_ws(const uint8_t *data, size_t size)
{
    mem_t m = {.p = data, .n = size};
    px_ws_io_t io = {.recv = m_recv, .send = m_send, .ctx = &m};
    px_ws_sink_t sink = {.stdout_data = s_out, .ctx = NULL};
    px_ws_t *ws = px_ws_new(&io, &sink, 4096);

    for (int i = 0; ws && i < 10000 && px_ws_read(ws) == 0; i++)
        px_ws_write(ws);
    px_ws_free(ws);
}

static void run_head(const uint8_t *data, size_t size)
{
    char *head = malloc(size + 1);
    char err[256];

    memcpy(head, data, size);
    head[size] = '\0';
    if (px_ws_check_response(head, "dGhlIHNhbXBsZSBub25jZQ==", err, sizeof(err)) == MCP_EHTTP)
        px_ws_add_refusal(err, sizeof(err), (const char *)data, size);
    free(head);
}

/* An MCP server's event stream (httpup.c): each event's data within the
 * cap, and the headers built from each JSON message single-line. */
#define SSE_CAP 512

static void check_header(void *ctx, const char *line)
{
    (void)ctx;
    if (strchr(line, '\r') || strchr(line, '\n') || !strchr(line, ':'))
        abort();
}

static void on_sse(void *ctx, const char *event, const char *data, size_t len)
{
    json_t *msg;

    (void)ctx;
    if (!event || !*event || (data && len > SSE_CAP))
        abort();
    msg = data ? json_loadb(data, len, 0, NULL) : NULL;
    if (msg)
        px_mcp_headers(msg, "2025-11-25", check_header, NULL);
    json_decref(msg);
}

/* The second byte sets the chunk size (1-64); the rest is the stream. */
static void run_sse_reader(const uint8_t *data, size_t size)
{
    px_sse_reader_t r;
    size_t chunk;

    if (size < 1)
        return;
    chunk = (size_t)(data[0] % 64) + 1;
    px_sse_reader_init(&r, SSE_CAP, on_sse, NULL);
    for (size_t off = 1; off < size; off += chunk)
        px_sse_reader_feed(&r, (const char *)data + off, off + chunk > size ? size - off : chunk);
    px_sse_reader_dispose(&r);
}

/* Refusals the filter may be asked about: integer ids divisible by 3. */
static int tf_refused(void *ctx, const char *key, const json_t *id, char *name, size_t n)
{
    (void)ctx;
    (void)key;
    if (!id)
        return 1;
    if (!json_is_integer(id) || json_integer_value(id) % 3 != 0)
        return 0;
    snprintf(name, n, "%s", "get-env");
    return 1;
}

/* The second byte sets the chunk size (1-64); the rest is a server's answer. */
static void run_toolfilter(const uint8_t *data, size_t size)
{
    static char *tools[] = {"echo", NULL};
    px_config_t cfg;
    px_sse_filter_t f;
    px_tf_t tf = {0};
    mcp_buf_t out;
    size_t chunk = size ? (size_t)data[0] % 64 + 1 : 1;

    px_config_defaults(&cfg);
    cfg.tools = tools;
    data += size ? 1 : 0;
    size -= size ? 1 : 0;
    px_sse_filter_init(&f, &cfg, 512);
    f.tf.refused = tf_refused;
    mcp_buf_init(&out, (size_t)1 << 20);
    for (size_t at = 0; at < size; at += chunk) {
        if (px_sse_filter_feed(&f, (const char *)data + at, size - at < chunk ? size - at : chunk,
                               &out) != 0)
            abort(); /* far below the output cap */
        mcp_buf_reset(&out);
    }
    px_sse_filter_dispose(&f);
    tf.cfg = &cfg;
    tf.refused = tf_refused;
    if (px_tf_json(&tf, (const char *)data, size, &out)) {
        json_t *v = json_loadb(out.data, out.len, JSON_DECODE_ANY, NULL);

        if (!v)
            abort(); /* a rewritten body is JSON */
        json_decref(v);
    }
    mcp_buf_dispose(&out);
}

/* --passthrough --tools, the request side (revproxy.c): the body is parsed,
 * refused calls become pings, and the server gets that parse written out.
 * Oracle: what goes out parses again and calls no tool but "echo". */
static void run_rp_request(const uint8_t *data, size_t size)
{
    static char *tools[] = {"echo", NULL};
    px_config_t cfg;
    json_t *msg, *refused = json_object(), *again;
    int code, lists = 0;
    char *out;

    px_config_defaults(&cfg);
    cfg.tools = tools;
    msg = px_parse_batch((const char *)data, size, &code);
    if (!msg || !refused) {
        json_decref(msg);
        json_decref(refused);
        return;
    }
    px_tf_request(&cfg, &msg, refused, &lists);
    out = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    again = out ? json_loads(out, JSON_DECODE_ANY, NULL) : NULL;
    if (out && !again)
        abort(); /* what we forward must be what a parser reads back */
    for (size_t i = 0; again && i < (json_is_array(again) ? json_array_size(again) : 1); i++) {
        json_t *m = json_is_array(again) ? json_array_get(again, i) : again;

        if (json_is_object(m) && px_msg_kind(m) == PX_MSG_REQUEST &&
            strcmp(px_msg_method(m), "tools/call") == 0 &&
            !px_tool_allowed(
                &cfg, json_string_value(json_object_get(json_object_get(m, "params"), "name"))))
            abort(); /* a filtered tool would run */
    }
    json_decref(again);
    free(out);
    json_decref(msg);
    json_decref(refused);
}

/* HTTP/1.1 framing (common/src/http1.c). Oracle: a head with a bare LF
 * before its end, or two Content-Length lines, is never passed. */
static void run_http1(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *why = mcp_http1_framing_error(p, size);
    const char *end = NULL;
    size_t skip = 0;

    while (skip + 1 < size && p[skip] == '\r' && p[skip + 1] == '\n')
        skip += 2;
    for (size_t i = skip; i + 3 < size && !end; i++)
        if (memcmp(p + i, "\r\n\r\n", 4) == 0)
            end = p + i + 4;
    if (why || !end)
        return;
    int cl = 0;
    const char *fields =
        memchr(p + skip, '\n', (size_t)(end - (p + skip))); /* after the request line */

    for (const char *q = p + skip; q < end; q++) {
        if (*q == '\n' && (q == p || q[-1] != '\r'))
            abort(); /* a bare LF passed */
        if (q > fields && q[-1] == '\n' && end - q > 15 &&
            strncasecmp(q, "content-length:", 15) == 0)
            cl++;
    }
    if (cl > 1)
        abort(); /* two Content-Lengths passed */
}

/* A line from a tagged backend: the cause, then the line; and the ids of a
 * line that may not parse. Oracle: when the line is a JSON object whose
 * top-level "id" is an integer, px_scan_id finds that id or none, never
 * another (a wrong id would answer someone else's request). */
static void run_lines(const uint8_t *data, size_t size)
{
    const char *line = (const char *)data;
    size_t len = size;
    int64_t id, cause = px_line_cause(&line, &len);
    json_t *msg, *real;

    if (cause < 0 || line < (const char *)data || line + len != (const char *)data + size)
        abort();
    msg = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL); /* the scans read one "id" */
    real = json_object_get(msg, "id");
    if (px_scan_id(line, len, &id) && json_is_integer(real) && json_integer_value(real) != id)
        abort();
    if (px_tail_id(line, len, &id) && json_is_integer(real) && json_integer_value(real) != id)
        abort();
    json_decref(msg);
}

/* The forwarded head: one request, in origin-form, with one Host, no
 * Proxy-* or hop-by-hop header, ending in "Connection: close". */
static void check_forwarded(const mcp_buf_t *fwd)
{
    struct phr_header hs[MCP_EG_MAX_HEADERS + 8];
    size_t n = MCP_ARRAY_LEN(hs), ml, pl, host = 0, conn = 0;
    const char *m, *path;
    int minor,
        head = phr_parse_request(fwd->data, fwd->len, &m, &ml, &path, &pl, &minor, hs, &n, 0);

    if (head < 0 || (size_t)head != fwd->len || pl == 0 || path[0] != '/' || minor != 1 ||
        mcp_http1_framing_error(fwd->data, fwd->len))
        abort();
    for (size_t i = 0; i < n; i++) {
        host += hs[i].name_len == 4 && strncasecmp(hs[i].name, "host", 4) == 0;
        conn += hs[i].name_len == 10 && strncasecmp(hs[i].name, "connection", 10) == 0;
        if ((hs[i].name_len >= 6 && strncasecmp(hs[i].name, "proxy-", 6) == 0) ||
            (hs[i].name_len == 7 && strncasecmp(hs[i].name, "upgrade", 7) == 0) ||
            (hs[i].name_len == 10 && strncasecmp(hs[i].name, "keep-alive", 10) == 0))
            abort();
    }
    if (host != 1 || conn != 1 || n == 0 || hs[n - 1].value_len != 5 ||
        memcmp(hs[n - 1].value, "close", 5) != 0)
        abort();
}

/* The egress proxy's request heads (proxy/egress/request.c). Oracles: an
 * accepted head has a canonical host (taking it again changes nothing) and
 * a port, a forwarded one passes check_forwarded, and the bytes after the
 * head are taken as body no more than they are. */
static void run_egress(const uint8_t *data, size_t size)
{
    static mcp_eg_request_t req;
    char why[200], again[MCP_EG_HOST_BUF];
    mcp_buf_t fwd;
    int is_ip, rc;

    mcp_buf_init(&fwd, MCP_EG_FWD_MAX);
    rc = mcp_eg_request_parse((const char *)data, size, &req, &fwd, why, sizeof(why));
    if (rc > 0) {
        if ((size_t)rc > size || req.head_len != (size_t)rc || req.port < 1 || req.port > 65535 ||
            mcp_eg_host_canon(req.host, strlen(req.host), again, sizeof(again), &is_ip) ||
            strcmp(again, req.host) != 0 || is_ip != req.is_ip)
            abort();
        if (req.kind == MCP_EG_FORWARD) {
            ssize_t t = mcp_eg_body_take(&req.body, (const char *)data + rc, size - (size_t)rc);

            check_forwarded(&fwd);
            if (t < -1 || t > (ssize_t)(size - (size_t)rc))
                abort();
        }
    } else if (rc < -1 || (rc == -1 && !why[0]))
        abort();
    mcp_buf_dispose(&fwd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;

    if (!once) {
        mcp_log_set_level(MCP_LOG_ERROR);
        once = 1;
    }
    if (size == 0)
        return 0;
    switch (data[0] % 14) {
    case 0:
    case 1:
        run_bridge(data + 1, size - 1, data[0] % 14 == 1);
        break;
    case 2:
        run_ws(data + 1, size - 1);
        break;
    case 3:
        run_head(data + 1, size - 1);
        break;
    case 4:
        run_toolfilter(data + 1, size - 1);
        break;
    case 6:
        run_rp_request(data + 1, size - 1);
        break;
    case 7:
        run_http1(data + 1, size - 1);
        break;
    case 8:
        run_lines(data + 1, size - 1);
        break;
    case 9:
        run_egress(data + 1, size - 1);
        break;
    case 10:
    case 11:
    case 12:
    case 13:
        fuzz_auth(data[0] % 14, data + 1, size - 1);
        break;
    default:
        run_sse_reader(data + 1, size - 1);
    }
    return 0;
}
