/* The tool filter (--tools) on the HTTP transports, around h2o's streaming
 * reverse proxy. Without --tools none of this is registered: requests and
 * answers pass through h2o's proxy untouched.
 *
 * Fail closed (DESIGN §5): the server gets only what the filter read.
 *
 * Requests (px_rp_request, before the proxy sees them): a POST's message or
 * batch is parsed, and what goes to the server is that parse written out
 * again, never the client's bytes: a body jansson refuses (a NUL or a lone
 * surrogate in a string, an integer over 2^63, 1e999, bad UTF-8, nesting
 * over 2048, duplicate keys) is answered 400 with a JSON-RPC parse error, as
 * is a compressed one; another method carrying a body is refused. Every
 * request asks the server for uncompressed answers (Accept-Encoding:
 * identity). A refused tools/call is answered by the proxy when it is a
 * single message on streamable HTTP (its answer is the POST's response);
 * otherwise (a batch, or HTTP+SSE where answers travel on the GET /sse
 * stream) it is forwarded as a `ping` with the same id, and the ping's
 * answer is turned into the refusal on its way back. The server never sees
 * the refused call.
 *
 * Answers (an h2o output filter, between the proxy's generator and the
 * client): the POST responses that may hold a tools/list result or a
 * refusal (whatever their type), and the event streams and JSON bodies of
 * GETs (GET /mcp, GET /sse), go through toolfilter.c: bodies whole (capped
 * at --max-message-bytes; one that does not parse becomes a JSON-RPC
 * error), event streams event by event (each event capped), so streams keep
 * streaming. An answer compressed all the same is refused: 502 and a
 * JSON-RPC error. Everything runs on the event loop; nothing blocks.
 *
 * With or without --tools: h2o reads nothing from a client while its
 * request is answered, so a client that leaves a proxied stream (GET /sse,
 * GET /mcp) is noticed only when the server next writes to it, and the
 * stream to the server stays open until then. The watch timer peeks at
 * those connections; on EOF, h2o is let read again (with its HTTP/1 read
 * callback, taken from a fresh connection in server.c's accept: h2o 2.2
 * has no call that ends a response from outside), sees the end and closes
 * the connection, which cancels the request upstream. */
#include <stdlib.h>
#include <string.h>

#include "mcp/log.h"
#include "http.h"

#define MAX_REFUSALS 4096  /* refused HTTP+SSE calls whose ping answer is still due */
#define EVENT_SLACK  65536 /* an event's field names and line breaks beyond its data */

typedef struct rp_filter {
    h2o_filter_t super;
    px_http_t *http;
} rp_filter_t;

/* A POST whose answer the output filter must see (in px_http_t.tracked). */
typedef struct rp_track {
    h2o_linklist_t link;
    h2o_req_t *req;
    json_t *refused; /* id key -> tool name */
    json_t *err_id;  /* the request's id when it is one request, else NULL */
} rp_track_t;

/* The output filter's state for one response (in the request's pool). */
typedef struct rp_state {
    px_http_t *http;
    h2o_req_t *req; /* NULL once disposed */
    int sse, overflow, stream, broken;
    int refuse, refused_sent; /* a compressed answer: 502 and an error instead */
    px_sse_filter_t sf;
    px_tf_t tf;               /* application/json */
    json_t *refused, *err_id; /* from the POST's track (owned) */
    mcp_buf_t body, out, sending;
    h2o_timeout_entry_t defer;
} rp_state_t;

typedef struct rp_ostream {
    h2o_ostream_t super;
    rp_state_t *st;
} rp_ostream_t;

/* ---- headers --------------------------------------------------------------------------------- */

static void drop_headers(h2o_headers_t *headers, const h2o_token_t *token)
{
    ssize_t i;

    while ((i = h2o_find_header(headers, token, -1)) != -1)
        h2o_delete_header(headers, i);
}

/* No Content-Encoding, or only identity. */
static int uncompressed(const h2o_headers_t *headers)
{
    for (ssize_t i = -1; (i = h2o_find_header(headers, H2O_TOKEN_CONTENT_ENCODING, i)) != -1;)
        if (!h2o_lcstris(headers->entries[i].value.base, headers->entries[i].value.len,
                         H2O_STRLIT("identity")))
            return 0;
    return 1;
}

/* The response's Content-Type starts with `type`. */
static int content_type_is(h2o_req_t *req, const char *type)
{
    ssize_t i = h2o_find_header(&req->res.headers, H2O_TOKEN_CONTENT_TYPE, -1);
    size_t n = strlen(type);

    return i >= 0 && req->res.headers.entries[i].value.len >= n &&
           h2o_lcstris(req->res.headers.entries[i].value.base, n, type, n);
}

/* ---- refusals ------------------------------------------------------------------------------- */

/* Use up the entry for `id` in map (id NULL: is there any?). */
static int take(json_t *map, const json_t *id, char *name, size_t n)
{
    char *key;
    json_t *v;

    if (!id)
        return json_object_size(map) > 0;
    key = px_tf_id_key(id);
    v = key ? json_object_get(map, key) : NULL;
    if (v) {
        snprintf(name, n, "%s", json_string_value(v));
        json_object_del(map, key);
    }
    free(key);
    return v != NULL;
}

static int post_refused(void *ctx, const char *key, const json_t *id, char *name, size_t n)
{
    rp_state_t *st = ctx;

    (void)key;
    return st->refused ? take(st->refused, id, name, n) : 0;
}

static int stream_refused(void *ctx, const char *key, const json_t *id, char *name, size_t n)
{
    rp_state_t *st = ctx;
    px_http_t *h = st->http;
    json_t *map = key && *key ? json_object_get(h->sse_refused, key) : NULL;
    int r = map ? take(map, id, name, n) : 0;

    if (r && id) {
        h->n_sse_refused--;
        if (json_object_size(map) == 0)
            json_object_del(h->sse_refused, key);
    }
    return r;
}

/* ---- the output filter ----------------------------------------------------------------------- */

/* The error sent, with 502, instead of a compressed answer. */
static void refusal_body(rp_state_t *st, mcp_buf_t *out)
{
    json_t *e = px_error_new(st->err_id, PX_E_INTERNAL,
                             "the MCP server's answer is compressed (Content-Encoding): the tool "
                             "filter cannot read it",
                             NULL);

    if (!e || px_dump(e, out) != 0)
        mcp_buf_reset(out);
    json_decref(e);
}

static void on_defer(h2o_timeout_entry_t *entry)
{
    rp_state_t *st = H2O_STRUCT_FROM_MEMBER(rp_state_t, defer, entry);

    if (st->req)
        h2o_proceed_response(st->req);
}

static void do_send(h2o_ostream_t *self, h2o_req_t *req, h2o_iovec_t *bufs, size_t bufcnt,
                    h2o_send_state_t state)
{
    rp_state_t *st = ((rp_ostream_t *)self)->st;
    h2o_iovec_t iov;
    mcp_buf_t tmp;
    int r;

    if (st->refuse) {
        /* the error ends the response at the first send; the server's stream
         * is closed with the connection (h2o stops the proxy's generator) */
        if (!st->refused_sent) {
            st->refused_sent = 1;
            refusal_body(st, &st->sending);
            iov = h2o_iovec_init(st->sending.data ? st->sending.data : "", st->sending.len);
            h2o_ostream_send_next(self, req, &iov, 1, H2O_SEND_STATE_FINAL);
        }
        return;
    }
    mcp_buf_reset(&st->sending); /* the previous send is complete: we were called again */
    for (size_t i = 0; i < bufcnt && !st->broken; i++) {
        if (st->sse) {
            if (px_sse_filter_feed(&st->sf, bufs[i].base, bufs[i].len, &st->out) != 0) {
                /* out of memory: the rest of the stream is dropped (the state
                 * must follow the proxy's, so the response ends with it) */
                mcp_log(MCP_LOG_WARN, "tool filter: out of memory, stream dropped", NULL);
                st->broken = 1;
                mcp_buf_reset(&st->out);
            }
        } else if (!st->overflow && mcp_buf_add(&st->body, bufs[i].base, bufs[i].len) != 0) {
            st->overflow = 1;
            mcp_buf_dispose(&st->body);
        }
    }
    if (!st->sse && state == H2O_SEND_STATE_FINAL) {
        if (st->overflow) {
            mcp_log(MCP_LOG_WARN, "answer over --max-message-bytes: replaced by an error", NULL);
            px_tf_too_large(&st->tf, &st->out);
        } else if ((r = px_tf_json(&st->tf, st->body.data ? st->body.data : "", st->body.len,
                                   &st->out)) == 0) {
            tmp = st->out; /* unchanged: the server's bytes */
            st->out = st->body;
            st->body = tmp;
        } else if (r > 0 && !content_type_is(req, "application/json")) {
            /* not sent yet: the body was held until now */
            h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                           H2O_STRLIT("application/json"), 1);
        }
    }
    if (state == H2O_SEND_STATE_IN_PROGRESS && st->out.len == 0) {
        /* nothing to pass on yet: ask the proxy for more on the next turn of
         * the loop (an empty send would end an HTTP/1 response in h2o 2.2) */
        h2o_timeout_link(st->http->loop, &req->conn->ctx->zero_timeout, &st->defer);
        return;
    }
    tmp = st->sending;
    st->sending = st->out;
    st->out = tmp;
    iov = h2o_iovec_init(st->sending.data ? st->sending.data : "", st->sending.len);
    h2o_ostream_send_next(self, req, &iov, iov.len ? 1 : 0, state);
}

static void state_dispose(void *p)
{
    rp_state_t *st = p;

    st->req = NULL;
    if (h2o_timeout_is_linked(&st->defer))
        h2o_timeout_unlink(&st->defer);
    if (st->sse) {
        if (st->stream && st->sf.key[0]) { /* the HTTP+SSE session ended: forget its refusals */
            json_t *map = json_object_get(st->http->sse_refused, st->sf.key);

            if (map) {
                st->http->n_sse_refused -= json_object_size(map);
                json_object_del(st->http->sse_refused, st->sf.key);
            }
        }
        px_sse_filter_dispose(&st->sf);
    }
    json_decref(st->refused);
    json_decref(st->err_id);
    mcp_buf_dispose(&st->body);
    mcp_buf_dispose(&st->out);
    mcp_buf_dispose(&st->sending);
}

static rp_track_t *find_track(px_http_t *h, h2o_req_t *req)
{
    for (h2o_linklist_t *n = h->tracked.next; n != &h->tracked; n = n->next) {
        rp_track_t *t = H2O_STRUCT_FROM_MEMBER(rp_track_t, link, n);

        if (t->req == req)
            return t;
    }
    return NULL;
}

static void on_setup_ostream(h2o_filter_t *self, h2o_req_t *req, h2o_ostream_t **slot)
{
    px_http_t *h = ((rp_filter_t *)self)->http;
    rp_track_t *t = find_track(h, req);
    int sse = content_type_is(req, "text/event-stream");
    int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
    size_t cap = h->cfg->max_message;
    rp_state_t *st;
    rp_ostream_t *os;

    /* what a client reads as messages: a tracked POST's answer, whatever its
     * type (one that does not parse becomes an error), a GET's stream or JSON */
    if (!t && !(get && (sse || content_type_is(req, "application/json"))))
        goto next;
    st = h2o_mem_alloc_shared(&req->pool, sizeof(*st), state_dispose);
    memset(st, 0, sizeof(*st));
    st->http = h;
    st->req = req;
    st->refuse = !uncompressed(&req->res.headers);
    st->sse = sse && !st->refuse;
    st->stream = get;
    st->defer.cb = on_defer;
    if (t) {
        st->refused = json_incref(t->refused);
        st->err_id = json_incref(t->err_id);
    }
    st->tf = (px_tf_t){.cfg = h->cfg, .refused = post_refused, .ctx = st, .err_id = st->err_id};
    mcp_buf_init(&st->body, cap);
    /* one send's worth: the bytes handed in plus an event held back (over: the stream ends) */
    mcp_buf_init(&st->out, 4 * (cap + EVENT_SLACK));
    mcp_buf_init(&st->sending, 4 * (cap + EVENT_SLACK));
    if (st->refuse) {
        mcp_log(MCP_LOG_WARN, "tool filter: the MCP server's answer is compressed: 502", NULL);
        req->res.status = 502;
        req->res.reason = "Bad Gateway";
        drop_headers(&req->res.headers, H2O_TOKEN_CONTENT_ENCODING);
        h2o_set_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE,
                       H2O_STRLIT("application/json"), 1);
        req->http1_is_persistent = 0;
    }
    if (st->sse) {
        px_sse_filter_init(&st->sf, h->cfg, cap + EVENT_SLACK);
        st->sf.tf = st->tf;
        if (get)
            st->sf.tf.refused = stream_refused;
    }
    req->res.content_length = SIZE_MAX; /* the length may change */
    os = (rp_ostream_t *)h2o_add_ostream(req, sizeof(*os), slot);
    os->super.do_send = do_send;
    os->st = st;
    slot = &os->super.next;
next:
    h2o_setup_next_ostream(req, slot);
}

void px_rp_register_filter(px_http_t *h, h2o_pathconf_t *pathconf)
{
    rp_filter_t *f = (rp_filter_t *)h2o_create_filter(pathconf, sizeof(*f));

    f->super.on_setup_ostream = on_setup_ostream;
    f->http = h;
}

/* ---- clients that leave a proxied stream ---------------------------------------------------- */

typedef struct rp_watch {
    h2o_linklist_t link; /* in px_http_t.rp_watching */
    h2o_req_t *req;
} rp_watch_t;

static void watch_dispose(void *p)
{
    rp_watch_t *w = p;

    if (h2o_linklist_is_linked(&w->link))
        h2o_linklist_unlink(&w->link);
}

static void watch_request(px_http_t *h, h2o_req_t *req)
{
    rp_watch_t *w;

    if (req->version >= 0x200) /* HTTP/2 reads all the time: h2o sees the end itself */
        return;
    w = h2o_mem_alloc_shared(&req->pool, sizeof(*w), watch_dispose);
    memset(w, 0, sizeof(*w));
    w->req = req;
    h2o_linklist_insert(&h->rp_watching, &w->link);
}

void px_rp_watch(px_http_t *h)
{
    h2o_linklist_t *node = h->rp_watching.next;

    while (node != &h->rp_watching) {
        rp_watch_t *w = H2O_STRUCT_FROM_MEMBER(rp_watch_t, link, node);
        h2o_conn_t *conn = w->req->conn;
        h2o_socket_t *sock = conn->callbacks->get_socket ? conn->callbacks->get_socket(conn) : NULL;

        node = node->next;
        /* a write in flight fails by itself; TLS ends with an alert, not a bare EOF */
        if (!sock || sock->ssl || !h->http1_read || h2o_socket_is_writing(sock) ||
            h2o_socket_is_reading(sock) || !px_http_peer_closed(w->req))
            continue;
        h2o_linklist_unlink(&w->link);
        mcp_log(MCP_LOG_DEBUG, "client left a proxied stream: closing it", NULL);
        h2o_socket_read_start(sock, h->http1_read); /* it reads the EOF and closes */
    }
}

/* ---- requests ---------------------------------------------------------------------------------
 */

static void track_dispose(void *p)
{
    rp_track_t *t = p;

    if (h2o_linklist_is_linked(&t->link))
        h2o_linklist_unlink(&t->link);
    json_decref(t->refused);
    json_decref(t->err_id);
}

static void answer_json(h2o_req_t *req, int status, json_t *msg)
{
    static h2o_generator_t gen = {NULL, NULL};
    char *s = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    h2o_iovec_t body = h2o_strdup(&req->pool, s ? s : "", s ? strlen(s) : 0);

    free(s);
    req->res.status = status;
    req->res.reason = status == 200   ? "OK"
                      : status == 400 ? "Bad Request"
                      : status == 413 ? "Payload Too Large"
                      : status == 415 ? "Unsupported Media Type"
                                      : "Error";
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_start_response(req, &gen);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
}

/* Answer req here with a JSON-RPC error (id null): 1. */
static int refuse(h2o_req_t *req, int status, int code, const char *message)
{
    json_t *e = px_error_new(NULL, code, message, NULL);

    answer_json(req, status, e);
    json_decref(e);
    return 1;
}

static int remember_sse_refusals(px_http_t *h, h2o_req_t *req, json_t *refused)
{
    char key[PX_SSE_KEY_MAX];
    json_t *map;
    const char *k;
    json_t *v;

    if (h->n_sse_refused + json_object_size(refused) > MAX_REFUSALS)
        return -1;
    /* the HTTP+SSE session's key: the path and query the client POSTs to (as the stream's
     * endpoint event gave them) */
    snprintf(key, sizeof(key), "%.*s", (int)req->path.len, req->path.base);
    map = json_object_get(h->sse_refused, key);
    if (!map) {
        map = json_object();
        if (!map || json_object_set_new(h->sse_refused, key, map) != 0)
            return -1;
    }
    json_object_foreach(refused, k, v)
    {
        if (!json_object_get(map, k))
            h->n_sse_refused++;
        json_object_set(map, k, v);
    }
    return 0;
}

/* The body the server gets: what was parsed, written out again (1 when
 * answered here instead). */
static int forward_parsed(px_http_t *h, h2o_req_t *req, const json_t *msg)
{
    char *s = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = s ? strlen(s) : 0;

    if (!s || n > h->cfg->max_message) { /* numbers can grow when written out again */
        free(s);
        return s ? refuse(req, 413, PX_E_INVALID, "message too large")
                 : refuse(req, 503, PX_E_INTERNAL, "out of memory");
    }
    req->entity = h2o_strdup(&req->pool, s, n);
    free(s);
    return 0;
}

int px_rp_request(px_http_t *h, h2o_req_t *req)
{
    json_t *msg, *refused, *e;
    int lists = 0, changed, code;
    rp_track_t *t;

    if (h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")))
        watch_request(h, req);
    if (!h->cfg->tools)
        return 0;
    /* any answer may need reading: ask for it uncompressed */
    drop_headers(&req->headers, H2O_TOKEN_ACCEPT_ENCODING);
    h2o_add_header(&req->pool, &req->headers, H2O_TOKEN_ACCEPT_ENCODING, NULL,
                   H2O_STRLIT("identity"));
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST")))
        return req->entity.len ? refuse(req, 400, PX_E_INVALID,
                                        "with the tool filter only a POST may carry a body")
                               : 0;
    if (!uncompressed(&req->headers))
        return refuse(req, 415, PX_E_INVALID,
                      "Content-Encoding: the tool filter reads only uncompressed messages");
    if (req->entity.len > h->cfg->max_message)
        return refuse(req, 413, PX_E_INVALID, "message too large");
    msg = px_parse_batch(req->entity.base ? req->entity.base : "", req->entity.len, &code);
    if (!msg)
        return refuse(req, 400, code,
                      code == PX_E_PARSE
                          ? "Parse error: the tool filter forwards only JSON it reads"
                          : "Invalid Request: a JSON-RPC message or batch");
    refused = json_object();
    changed = refused ? px_tf_request(h->cfg, &msg, refused, &lists) : 0;
    if (!refused) {
        refuse(req, 503, PX_E_INTERNAL, "out of memory");
        goto done;
    }
    if (changed && !json_is_array(msg) && h->cfg->transport == PX_T_STREAMABLE) {
        /* one refused call on streamable HTTP: its answer is this response */
        const char *name = json_string_value(json_object_iter_value(json_object_iter(refused)));

        e = px_tools_refusal(json_object_get(msg, "id"), name);
        answer_json(req, 200, e);
        json_decref(e);
        goto done;
    }
    if (forward_parsed(h, req, msg) != 0)
        goto done;
    if (changed) {
        if (h->cfg->transport == PX_T_SSE && remember_sse_refusals(h, req, refused) != 0) {
            refuse(req, 503, PX_E_INTERNAL, "too many refused tool calls outstanding");
            goto done;
        }
        mcp_log(MCP_LOG_DEBUG, "tool call refused: forwarded as a ping", NULL);
    }
    if (h->cfg->transport == PX_T_STREAMABLE && (lists || changed)) {
        t = h2o_mem_alloc_shared(&req->pool, sizeof(*t), track_dispose);
        memset(t, 0, sizeof(*t));
        t->req = req;
        t->refused = json_incref(refused);
        t->err_id = json_is_array(msg) ? NULL : json_incref(json_object_get(msg, "id"));
        h2o_linklist_insert(&h->tracked, &t->link);
    }
    json_decref(refused);
    json_decref(msg);
    return 0;
done:
    json_decref(refused);
    json_decref(msg);
    return 1;
}
