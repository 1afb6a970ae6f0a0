/* The newline-framed stream to the MCP server, on the event loop: read
 * lines (capped) into the sink (the bridge), queue writes (capped, and counted in
 * --max-queued-bytes) and hand them to the socket one batch at a time,
 * forward the server's stderr to the log at debug, and when the stream ends
 * tell the sink, close the backend and open it again after a backoff
 * (0.2 s doubling to 10 s; back to 0.2 s once a stream has lasted 30 s). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mcp/log.h"
#include "upstream.h"

#define BACKOFF_MIN_MS  200
#define BACKOFF_MAX_MS  10000
#define STABLE_MS       30000
#define STDERR_LINE_MAX 4096
#define SMALL_MSG       4096       /* always queued: the proxy's own handshake, cancellations */
#define KEEP_ALLOC      (64 << 10) /* a write buffer bigger than this is freed once written */

struct px_upstream {
    h2o_loop_t *loop;
    px_backend_t *be;
    px_upstream_sink_t sink;
    h2o_socket_t *rsock, *wsock, *esock;
    px_lines_t lines, elines;
    mcp_buf_t wq, wbusy;
    px_budget_t *budget; /* borrowed */
    size_t held;         /* bytes of wq and wbusy counted in it */
    int writing, open;
    uint64_t backoff_ms, reopen_at, opened_at, restarts;
    char last_err[256];
};

static void down(px_upstream_t *u, const char *why);

/* A tagged backend's line may start with "@<upid> ": the client request
 * whose answer stream carried it (px_backend_t.tagged). */
static void on_line(void *ctx, const char *line, size_t len)
{
    px_upstream_t *u = ctx;
    int64_t cause = 0;

    if (!u->open)
        return;
    if (u->be->tagged)
        cause = px_line_cause(&line, &len);
    u->sink.line(u->sink.ctx, line, len, cause);
}

static void on_dropped(void *ctx, const char *head, size_t hn, const char *tail, size_t tn)
{
    px_upstream_t *u = ctx;

    if (u->open)
        u->sink.dropped(u->sink.ctx, head, hn, tail, tn);
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    px_upstream_t *u = sock->data;

    if (err) {
        char detail[256] = "", why[320];

        /* the backend's own reason, when it has one ("connection refused to
         * IP:port"), so that every restart's log line says it */
        px_upstream_why_down(u, detail, sizeof(detail));
        snprintf(why, sizeof(why), "the stream to the MCP server ended%s%s", detail[0] ? ": " : "",
                 detail);
        down(u, why);
        return;
    }
    if (u->be->activity)
        u->be->activity(u->be, h2o_now(u->loop));
    /* take the bytes: a line may make the bridge restart the stream, which
     * closes this socket (and frees its buffer) in the middle of the feed */
    h2o_buffer_t *in = sock->input;

    h2o_buffer_init(&sock->input, &h2o_socket_buffer_prototype);
    px_lines_feed(&u->lines, in->bytes, in->size, on_line, u);
    h2o_buffer_dispose(&in);
    if (u->lines.buf.len == 0 && u->lines.buf.alloc > KEEP_ALLOC)
        mcp_buf_dispose(&u->lines.buf); /* after a big answer: no big buffer kept */
}

static void on_stderr_line(void *ctx, const char *line, size_t len)
{
    char buf[STDERR_LINE_MAX + 1];

    (void)ctx;
    if (!mcp_log_enabled(MCP_LOG_DEBUG))
        return;
    if (len > STDERR_LINE_MAX)
        len = STDERR_LINE_MAX;
    memcpy(buf, line, len);
    buf[len] = '\0';
    mcp_log(MCP_LOG_DEBUG, "mcp server stderr", "line", buf, NULL);
}

static void on_stderr(h2o_socket_t *sock, const char *err)
{
    px_upstream_t *u = sock->data;

    if (err) {
        h2o_socket_read_stop(sock);
        h2o_socket_close(sock);
        u->esock = NULL;
        return;
    }
    px_lines_feed(&u->elines, sock->input->bytes, sock->input->size, on_stderr_line, u);
    h2o_buffer_consume(&sock->input, sock->input->size);
}

static void flush(px_upstream_t *u);

/* The written (or dropped) bytes of b leave the budget; a big buffer goes. */
static void release(px_upstream_t *u, mcp_buf_t *b)
{
    size_t n = b->len < u->held ? b->len : u->held;

    u->held -= n;
    px_budget_give(u->budget, n);
    if (b->alloc > KEEP_ALLOC)
        mcp_buf_dispose(b);
    else
        mcp_buf_reset(b);
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    px_upstream_t *u = sock->data;

    u->writing = 0;
    release(u, &u->wbusy);
    if (err) {
        down(u, "cannot write to the MCP server");
        return;
    }
    flush(u);
}

static void flush(px_upstream_t *u)
{
    mcp_buf_t tmp;
    h2o_iovec_t iov;

    if (u->writing || !u->wsock || u->wq.len == 0)
        return;
    tmp = u->wbusy;
    u->wbusy = u->wq;
    u->wq = tmp;
    iov = h2o_iovec_init(u->wbusy.data, u->wbusy.len);
    u->writing = 1;
    h2o_socket_write(u->wsock, &iov, 1, on_written);
}

int px_upstream_write(void *ctx, const char *line, size_t len)
{
    px_upstream_t *u = ctx;
    size_t before;
    int rc;

    if (!u->open)
        return MCP_EIO;
    if (len < SMALL_MSG) /* bounded by the in-flight caps; never refused */
        px_budget_charge(u->budget, len + 1);
    else if (px_budget_take(u->budget, len + 1) != 0)
        return MCP_ETOOBIG;
    before = u->wq.len;
    rc = mcp_buf_add(&u->wq, line, len);
    if (rc == 0)
        rc = mcp_buf_add(&u->wq, "\n", 1);
    if (rc != 0) {
        u->wq.len = before; /* never a half message on the wire */
        if (u->wq.data)
            u->wq.data[before] = '\0';
        px_budget_give(u->budget, len + 1);
        return rc;
    }
    u->held += len + 1;
    flush(u);
    return 0;
}

static h2o_socket_t *wrap(px_upstream_t *u, int fd)
{
    h2o_socket_t *s = h2o_evloop_socket_create(u->loop, fd, 0);

    s->data = u;
    return s;
}

static void open_stream(px_upstream_t *u)
{
    int rfd = -1, wfd = -1, efd = -1;
    char err[256] = "";
    uint64_t now = h2o_now(u->loop);

    if (u->be->open(u->be, &rfd, &wfd, &efd, err, sizeof(err)) != 0) {
        if (strcmp(err, u->last_err) != 0) /* once per reason, not once per retry */
            mcp_log(MCP_LOG_WARN, "cannot start the mcp server stream", "backend", u->be->name,
                    "error", err, NULL);
        snprintf(u->last_err, sizeof(u->last_err), "%s", err);
        u->reopen_at = now + u->backoff_ms;
        u->backoff_ms = u->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : u->backoff_ms * 2;
        return;
    }
    u->rsock = wrap(u, rfd);
    u->wsock = wrap(u, wfd);
    if (efd >= 0) {
        u->esock = wrap(u, efd);
        h2o_socket_read_start(u->esock, on_stderr);
    }
    u->open = 1;
    u->opened_at = now;
    u->last_err[0] = '\0';
    release(u, &u->wq);
    mcp_buf_reset(&u->lines.buf);
    u->lines.skipping = 0;
    h2o_socket_read_start(u->rsock, on_read);
    u->sink.up(u->sink.ctx, now);
}

static void close_sock(h2o_socket_t **s)
{
    if (!*s)
        return;
    h2o_socket_read_stop(*s);
    h2o_socket_close(*s);
    *s = NULL;
}

/* Lose the stream: tell the sink, close the backend, schedule a reopen. */
static void down(px_upstream_t *u, const char *why)
{
    uint64_t now = h2o_now(u->loop);

    if (!u->open)
        return;
    u->open = 0;
    u->restarts++;
    mcp_log(MCP_LOG_WARN, "mcp server stream lost", "backend", u->be->name, "why", why, NULL);
    close_sock(&u->rsock);
    close_sock(&u->wsock);
    close_sock(&u->esock);
    u->writing = 0;
    release(u, &u->wbusy);
    release(u, &u->wq);
    u->be->close(u->be, 0);
    u->sink.down(u->sink.ctx, why);
    if (now - u->opened_at >= STABLE_MS)
        u->backoff_ms = BACKOFF_MIN_MS;
    u->reopen_at = now + u->backoff_ms;
    u->backoff_ms = u->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : u->backoff_ms * 2;
}

void px_upstream_restart(void *ctx, const char *why)
{
    down(ctx, why);
}

void px_upstream_tick(px_upstream_t *u, uint64_t now_ms)
{
    if (u->be->tick && u->be->tick(u->be, now_ms) && u->open)
        down(u, "the backend asked for a new stream");
    if (!u->open && now_ms >= u->reopen_at)
        open_stream(u);
}

int px_upstream_connected(const px_upstream_t *u)
{
    return u->open;
}

void px_upstream_why_down(const px_upstream_t *u, char *out, size_t n)
{
    if (u && u->last_err[0])
        snprintf(out, n, "%s", u->last_err);
    else
        px_http_last_error(out, n);
}

uint64_t px_upstream_restarts(const px_upstream_t *u)
{
    return u->restarts;
}

size_t px_upstream_pod_ips(px_upstream_t *u, char (*ips)[PX_IP_TEXT], size_t max)
{
    return u->be->pod_ips ? u->be->pod_ips(u->be, ips, max) : 0;
}

px_upstream_t *px_upstream_new(h2o_loop_t *loop, px_backend_t *be, const px_upstream_sink_t *sink,
                               const px_config_t *cfg)
{
    px_upstream_t *u = calloc(1, sizeof(*u));

    if (!u) {
        be->free(be);
        return NULL;
    }
    u->loop = loop;
    u->be = be;
    u->sink = *sink;
    u->backoff_ms = BACKOFF_MIN_MS;
    u->budget = cfg->budget;
    px_lines_init(&u->lines, cfg->max_message + 32); /* + a tagged backend's "@<upid> " */
    u->lines.on_drop = on_dropped;
    px_lines_init(&u->elines, STDERR_LINE_MAX);
    mcp_buf_init(&u->wq, PX_UPSTREAM_QUEUE);
    mcp_buf_init(&u->wbusy, PX_UPSTREAM_QUEUE);
    return u;
}

void px_upstream_free(px_upstream_t *u)
{
    if (!u)
        return;
    if (u->open) {
        u->open = 0;
        close_sock(&u->rsock);
        close_sock(&u->wsock);
        close_sock(&u->esock);
        u->be->close(u->be, 1);
    }
    u->be->free(u->be);
    px_lines_dispose(&u->lines);
    px_lines_dispose(&u->elines);
    px_budget_give(u->budget, u->held);
    mcp_buf_dispose(&u->wq);
    mcp_buf_dispose(&u->wbusy);
    free(u);
}
