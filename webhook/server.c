/* The HTTPS server: h2o 2.2.5 on N worker threads, each with its own
 * event loop, h2o context and listening socket (SO_REUSEPORT, so the kernel
 * spreads connections). One handler serves both review paths: it checks
 * path, method and content type, passes the body to wh_admit, and answers
 * from req->pool with Content-Length set. TLS contexts come from certs.c and
 * are picked per accepted connection, so a reload only affects new
 * connections. Stopping is two-phase: wh_server_drain fails /readyz while
 * still serving; wh_server_stop wakes every loop, which closes its listener,
 * asks h2o to shut down (idle keep-alive connections close, in-flight
 * requests finish) and waits for its connections up to the shutdown
 * timeout before tearing down on its own thread. Connections speak HTTP/1.1
 * unless --http2 (ALPN h2, and h2o's switch on the HTTP/2 preface); out of
 * file descriptors, a worker stops accepting for ACCEPT_PAUSE_MS. */
#include <errno.h>
#include <malloc.h>
#include <netdb.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <h2o.h>
#include <h2o/http1.h>

#include "mcp/http1.h"
#include "mcp/net.h"
#include "mcp/health.h"
#include "mcp/log.h"
#include "internal.h"

#define ACCEPT_PAUSE_MS 100   /* out of descriptors: try accepting again after this */
#define WARN_EVERY_MS   10000 /* at most one such warning this often per worker */

typedef struct worker {
    h2o_context_t ctx; /* first, so the handler finds the worker from req->conn->ctx */
    h2o_accept_ctx_t accept_ctx;
    h2o_evloop_t *loop;
    h2o_socket_t *listener;
    h2o_timeout_t accept_pause;        /* ACCEPT_PAUSE_MS */
    h2o_timeout_entry_t accept_resume; /* linked while the listener is not watched */
    uint64_t warned_at;
    h2o_multithread_receiver_t wake_rx;
    struct wh_server *server;
    wh_metrics_slot_t *metrics;
    SSL_CTX *ssl_ctx; /* reference used for new connections */
    unsigned ssl_gen;
    mcp_buf_t out; /* response scratch, reused across requests */
    int fd;
    pthread_t thread;
    int started;
    _Atomic int stop;
    int clean; /* every connection closed before the deadline */
} worker_t;

struct wh_server {
    wh_config_t cfg;
    h2o_globalconf_t globalconf;
    wh_certs_t *certs;
    wh_metrics_t *metrics;
    mcp_health_t *health;
    worker_t *workers;
    int n_workers;
    int port;
    sem_t ready; /* posted by each worker once its loop is set up */
    _Atomic int draining;
};

void wh_config_defaults(wh_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = 8443;
    cfg->health_port = 8081;
    cfg->workers = 0;
    cfg->cert_check_interval = 1.0;
    cfg->drain_seconds = 5.0;
    cfg->shutdown_timeout = 10.0;
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- request handling ------------------------------------------------------ */

static const char *reason_of(int status)
{
    switch (status) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 413:
        return "Request Entity Too Large";
    case 415:
        return "Unsupported Media Type";
    default:
        return "Internal Server Error";
    }
}

static void send_json(h2o_req_t *req, int status, const mcp_buf_t *body)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t buf = h2o_strdup(&req->pool, body->data ? body->data : "", body->len);

    req->res.status = status;
    req->res.reason = reason_of(status);
    req->res.content_length = buf.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_start_response(req, &generator);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

static wh_endpoint_t endpoint_of(const h2o_req_t *req)
{
    if (h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT(WH_PATH_MUTATE)))
        return WH_EP_MUTATE;
    if (h2o_memis(req->path_normalized.base, req->path_normalized.len,
                  H2O_STRLIT(WH_PATH_VALIDATE)))
        return WH_EP_VALIDATE;
    if (h2o_memis(req->path_normalized.base, req->path_normalized.len, H2O_STRLIT(WH_PATH_CONVERT)))
        return WH_EP_CONVERT;
    return WH_EP_OTHER;
}

/* Content-Type, when sent, must be application/json (parameters allowed). */
static int json_content_type(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    h2o_iovec_t v;
    static const char want[] = "application/json";

    if (i < 0)
        return 1;
    v = req->headers.entries[i].value;
    if (v.len < sizeof(want) - 1 || !h2o_lcstris(v.base, sizeof(want) - 1, H2O_STRLIT(want)))
        return 0;
    return v.len == sizeof(want) - 1 || v.base[sizeof(want) - 1] == ';' ||
           v.base[sizeof(want) - 1] == ' ';
}

/* Ambiguous HTTP/1.1 framing (mcp/http1.h), read from the raw head: h2o
 * keeps a request's bytes in its socket input until the response is done. */
static const char *framing_error(h2o_req_t *req)
{
    h2o_socket_t *sock = req->version < 0x200 && req->conn->callbacks->get_socket
                             ? req->conn->callbacks->get_socket(req->conn)
                             : NULL;

    return sock && sock->input ? mcp_http1_framing_error(sock->input->bytes, sock->input->size)
                               : NULL;
}

/* Everything but the review itself: framing, path, method, media type. */
static int screen(h2o_req_t *req, wh_endpoint_t ep, mcp_buf_t *out)
{
    const char *why = framing_error(req);

    if (why) { /* before anything else, and the connection is closed */
        req->http1_is_persistent = 0;
        return wh_status_body(out, 400, "BadRequest", why);
    }
    if (ep == WH_EP_OTHER)
        return wh_status_body(out, 404, "NotFound",
                              "no such path: POST to " WH_PATH_MUTATE ", " WH_PATH_VALIDATE
                              " or " WH_PATH_CONVERT);
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"))) {
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_ALLOW, NULL, H2O_STRLIT("POST"));
        return wh_status_body(out, 405, "MethodNotAllowed", "only POST is allowed");
    }
    if (!json_content_type(req))
        return wh_status_body(out, 415, "UnsupportedMediaType",
                              "Content-Type must be application/json");
    return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, ctx, req->conn->ctx);
    uint64_t t0 = now_ns();
    wh_endpoint_t ep = endpoint_of(req);
    wh_verdict_t verdict = WH_BAD_REQUEST;
    int status;

    (void)self;
    mcp_buf_reset(&w->out);
    status = screen(req, ep, &w->out);
    if (status == 0 && ep == WH_EP_CONVERT)
        status = wh_convert(req->entity.base ? req->entity.base : "", req->entity.len, &w->out,
                            &verdict);
    else if (status == 0)
        status = wh_admit(ep, req->entity.base ? req->entity.base : "", req->entity.len, &w->out,
                          &verdict);
    if (atomic_load_explicit(&w->server->draining, memory_order_relaxed))
        req->http1_is_persistent = 0; /* send clients to the other replicas */
    wh_metrics_observe(w->metrics, ep, verdict, status, now_ns() - t0);
    send_json(req, status, &w->out);
    if (w->out.alloc > 64 * 1024) { /* do not keep a huge scratch buffer around */
        mcp_buf_dispose(&w->out);
        mcp_buf_init(&w->out, WH_REPLY_MAX);
    }
    if (req->entity.len >= WH_TRIM_AFTER) /* give a big review's freed heap pages back */
        malloc_trim(0);
    if (mcp_log_enabled(MCP_LOG_DEBUG)) {
        static const char *const names[WH_EP_COUNT] = {"mutate", "validate", "convert", "other"};
        char st[8];

        snprintf(st, sizeof(st), "%d", status);
        mcp_log(MCP_LOG_DEBUG, "request", "endpoint", names[ep], "status", st, NULL);
    }
    return 0;
}

/* ---- accepting ------------------------------------------------------------------ */

/* Use the newest TLS context for the next connection. */
static void refresh_ssl_ctx(worker_t *w)
{
    unsigned gen = wh_certs_generation(w->server->certs);

    if (gen == w->ssl_gen)
        return;
    SSL_CTX_free(w->ssl_ctx);
    w->ssl_ctx = wh_certs_current(w->server->certs, &w->ssl_gen);
    w->accept_ctx.ssl_ctx = w->ssl_ctx;
}

static void on_accept(h2o_socket_t *listener, const char *err);

static void resume_accepting(h2o_timeout_entry_t *entry)
{
    worker_t *w = H2O_STRUCT_FROM_MEMBER(worker_t, accept_resume, entry);

    if (w->listener)
        h2o_socket_read_start(w->listener, on_accept);
}

/* Out of descriptors (EMFILE, ENFILE) or kernel memory, accept() fails and
 * leaves the connection queued, so the listener stays readable and the loop
 * would spin on it: stop watching it for ACCEPT_PAUSE_MS, by when a
 * connection may have closed. The kernel keeps new ones in the backlog. */
static void pause_accepting(worker_t *w, int err)
{
    uint64_t now = h2o_now(w->loop);

    h2o_socket_read_stop(w->listener);
    if (!h2o_timeout_is_linked(&w->accept_resume))
        h2o_timeout_link(w->loop, &w->accept_pause, &w->accept_resume);
    if (!w->warned_at || now - w->warned_at >= WARN_EVERY_MS) {
        w->warned_at = now;
        mcp_log(MCP_LOG_WARN, "cannot accept connections, pausing", "error", strerror(err), NULL);
    }
}

/* A new connection (mcp_accept_burst), with the current certificate. */
static void take(void *ctx, h2o_socket_t *sock)
{
    worker_t *w = ctx;

    refresh_ssl_ctx(w);
    h2o_accept(&w->accept_ctx, sock); /* SSL_new takes its own ctx reference */
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    worker_t *w = listener->data;
    int exhausted;

    if (err != NULL)
        return;
    exhausted = mcp_accept_burst(listener, take, w);
    if (exhausted)
        pause_accepting(w, exhausted);
}

static void on_wake(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    (void)rx;
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
}

/* ---- listening sockets ------------------------------------------------------------- */

static int bind_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int on = 1, off = 0;

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        (ai->ai_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;

        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* A listening socket on addr:port (NULL addr: "::", else "0.0.0.0"). */
static int open_listener(const char *addr, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char portstr[16];
    int fd = -1, rc;

    snprintf(portstr, sizeof(portstr), "%d", port);
    rc = getaddrinfo(addr ? addr : "::", portstr, &hints, &res);
    if (rc != 0 && !addr)
        rc = getaddrinfo("0.0.0.0", portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve bind address %s: %s", addr ? addr : "",
                 gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
        fd = bind_one(ai);
    if (fd < 0)
        snprintf(err, errlen, "cannot listen on %s:%d: %s", addr ? addr : "*", port,
                 strerror(errno));
    freeaddrinfo(res);
    return fd;
}

/* ---- workers -------------------------------------------------------------------------- */

static int busy(worker_t *w)
{
    return !h2o_linklist_is_empty(&w->ctx.http1._conns) ||
           !h2o_linklist_is_empty(&w->ctx.http2._conns) ||
           !h2o_linklist_is_empty(&w->ctx.handshake_timeout._entries);
}

static void worker_setup(worker_t *w)
{
    w->loop = h2o_evloop_create();
    h2o_context_init(&w->ctx, w->loop, &w->server->globalconf);
    h2o_multithread_register_receiver(w->ctx.queue, &w->wake_rx, on_wake);
    w->ssl_ctx = wh_certs_current(w->server->certs, &w->ssl_gen);
    w->accept_ctx.ctx = &w->ctx;
    w->accept_ctx.hosts = w->server->globalconf.hosts;
    w->accept_ctx.ssl_ctx = w->ssl_ctx;
    w->listener = h2o_evloop_socket_create(w->loop, w->fd, H2O_SOCKET_FLAG_DONT_READ);
    w->fd = -1; /* owned by the h2o socket now */
    w->listener->data = w;
    h2o_socket_read_start(w->listener, on_accept);
    h2o_timeout_init(w->loop, &w->accept_pause, ACCEPT_PAUSE_MS);
    w->accept_resume.cb = resume_accepting;
}

/* h2o 2.2.5 has no shutdown hook for HTTP/1.1, so idle keep-alive
 * connections would linger until their timeout. Shut the idle ones down (h2o
 * then sees EOF and closes them its usual way); mark the busy ones so their
 * response ends the connection. */
static int close_if_idle(h2o_req_t *req, void *unused)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket(req->conn);

    (void)unused;
    if (sock && req->_generator == NULL && req->input.method.base == NULL &&
        (sock->input == NULL || sock->input->size == 0))
        shutdown(h2o_socket_get_fd(sock), SHUT_RDWR);
    else
        req->http1_is_persistent = 0;
    return 0;
}

/* Close the listener and wait for connections, up to the shutdown timeout. */
static void worker_wind_down(worker_t *w)
{
    uint64_t deadline;

    if (h2o_timeout_is_linked(&w->accept_resume))
        h2o_timeout_unlink(&w->accept_resume);
    h2o_socket_read_stop(w->listener);
    h2o_socket_close(w->listener);
    w->listener = NULL;
    h2o_context_request_shutdown(&w->ctx);
    deadline = h2o_now(w->loop) + (uint64_t)(w->server->cfg.shutdown_timeout * 1000);
    while (busy(w) && h2o_now(w->loop) < deadline) {
        H2O_HTTP1_CALLBACKS.foreach_request(&w->ctx, close_if_idle, NULL);
        h2o_evloop_run(w->loop, 10);
    }
    w->clean = !busy(w);
}

/* Free everything the loop owns; only safe once no connection is left. */
static void worker_teardown(worker_t *w)
{
    for (int i = 0; i < 4; i++)
        h2o_evloop_run(w->loop, 0);
    /* h2o's HTTP/2 shutdown re-sends GOAWAY after a second: nothing left to send it to */
    if (h2o_timeout_is_linked(&w->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->ctx.http2._graceful_shutdown_timeout);
    h2o_multithread_unregister_receiver(w->ctx.queue, &w->wake_rx);
    h2o_timeout_dispose(w->loop, &w->accept_pause);
    h2o_context_dispose(&w->ctx);
    h2o_evloop_run(w->loop, 0);
    h2o_evloop_destroy(w->loop);
    w->loop = NULL;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;

    worker_setup(w);
    sem_post(&w->server->ready);
    while (!atomic_load(&w->stop))
        h2o_evloop_run(w->loop, INT32_MAX);
    worker_wind_down(w);
    if (w->clean)
        worker_teardown(w);
    SSL_CTX_free(w->ssl_ctx);
    w->ssl_ctx = NULL;
    mcp_buf_dispose(&w->out);
    wh_jpool_release();
    return NULL;
}

static void stop_workers(wh_server_t *s)
{
    for (int i = 0; i < s->n_workers; i++) {
        worker_t *w = &s->workers[i];

        if (!w->started)
            continue;
        atomic_store(&w->stop, 1);
        h2o_multithread_send_message(&w->wake_rx, NULL);
    }
    for (int i = 0; i < s->n_workers; i++) {
        worker_t *w = &s->workers[i];

        if (w->started)
            pthread_join(w->thread, NULL);
        else if (w->fd >= 0)
            close(w->fd);
        w->started = 0;
    }
}

/* Bind one listener per worker on the same port. */
static int open_listeners(wh_server_t *s, char *err, size_t errlen)
{
    int port = s->cfg.port;

    for (int i = 0; i < s->n_workers; i++) {
        worker_t *w = &s->workers[i];

        w->fd = open_listener(s->cfg.bind_address, port, err, errlen);
        if (w->fd < 0)
            return -1;
        if (port == 0)
            port = mcp_bound_port(w->fd);
    }
    s->port = port;
    return 0;
}

static int start_workers(wh_server_t *s, char *err, size_t errlen)
{
    pthread_attr_t attr;
    int n = 0;

    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, WH_WORKER_STACK);
    for (; n < s->n_workers; n++) {
        worker_t *w = &s->workers[n];

        w->server = s;
        w->metrics = wh_metrics_slot(s->metrics, (size_t)n);
        mcp_buf_init(&w->out, WH_REPLY_MAX);
        if (pthread_create(&w->thread, &attr, worker_main, w) != 0)
            break;
        w->started = 1;
    }
    pthread_attr_destroy(&attr);
    for (int i = 0; i < n; i++) /* wait until every started loop can be woken */
        while (sem_wait(&s->ready) != 0 && errno == EINTR)
            ;
    if (n < s->n_workers) {
        snprintf(err, errlen, "cannot start worker thread %d", n);
        return -1;
    }
    return 0;
}

/* ---- health ---------------------------------------------------------------------------- */

static int health_ready(void *ctx)
{
    wh_server_t *s = ctx;

    return !atomic_load(&s->draining);
}

static void health_metrics(void *ctx, mcp_buf_t *out)
{
    wh_server_t *s = ctx;

    wh_metrics_render(s->metrics, out);
}

static int start_health(wh_server_t *s, char *err, size_t errlen)
{
    mcp_health_ops_t ops = {health_ready, health_metrics, s};

    if (s->cfg.health_port < 0)
        return 0;
    s->health = mcp_health_start(s->cfg.health_address, s->cfg.health_port, &ops, err, errlen);
    return s->health ? 0 : -1;
}

/* ---- the server ------------------------------------------------------------------------- */

static void setup_h2o(wh_server_t *s)
{
    h2o_hostconf_t *host;
    h2o_pathconf_t *path;
    h2o_handler_t *h;

    h2o_config_init(&s->globalconf);
    s->globalconf.max_request_entity_size = WH_BODY_MAX;
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("mcp-webhook"));
    /* h2o switches an HTTP/1.1 connection to HTTP/2 on the preface (even
     * after ALPN agreed http/1.1) or on Upgrade: h2c; only with --http2 */
    s->globalconf.http1.upgrade_to_http2 = s->cfg.http2;
    host = h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    path = h2o_config_register_path(host, "/", 0);
    h = h2o_create_handler(path, sizeof(*h));
    h->on_req = on_req;
}

static int default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);

    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

wh_server_t *wh_server_start(const wh_config_t *cfg, char *err, size_t errlen)
{
    wh_server_t *s = calloc(1, sizeof(*s));

    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sem_init(&s->ready, 0, 0);
    json_object_seed(0); /* read the hash seed now, not on an event loop */
    wh_jpool_install();
    s->cfg = *cfg;
    s->n_workers = cfg->workers > 0 ? cfg->workers : default_workers();
    s->workers = calloc((size_t)s->n_workers, sizeof(worker_t));
    s->metrics = wh_metrics_new((size_t)s->n_workers);
    if (!s->workers || !s->metrics) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    for (int i = 0; i < s->n_workers; i++)
        s->workers[i].fd = -1;
    setup_h2o(s);
    s->certs = wh_certs_new(cfg->cert_file, cfg->key_file, cfg->http2, s->metrics, err, errlen);
    if (!s->certs || open_listeners(s, err, errlen) != 0 || start_workers(s, err, errlen) != 0)
        goto fail;
    if (wh_certs_watch(s->certs, cfg->cert_check_interval) != 0) {
        snprintf(err, errlen, "cannot start the certificate watcher");
        goto fail;
    }
    if (start_health(s, err, errlen) != 0)
        goto fail;
    return s;
fail:
    wh_server_stop(s);
    return NULL;
}

int wh_server_port(const wh_server_t *s)
{
    return s->port;
}

int wh_server_health_port(const wh_server_t *s)
{
    return s->health ? mcp_health_port(s->health) : -1;
}

wh_metrics_t *wh_server_metrics(wh_server_t *s)
{
    return s->metrics;
}

void wh_server_drain(wh_server_t *s)
{
    atomic_store(&s->draining, 1);
}

int wh_server_stop(wh_server_t *s)
{
    int rc = 0;

    if (!s)
        return 0;
    atomic_store(&s->draining, 1);
    if (s->workers) {
        stop_workers(s);
        for (int i = 0; i < s->n_workers; i++)
            if (s->workers[i].server && !s->workers[i].clean)
                rc = -1;
    }
    mcp_health_stop(s->health);
    wh_certs_free(s->certs);
    if (s->globalconf.hosts)
        h2o_config_dispose(&s->globalconf);
    wh_metrics_free(s->metrics);
    sem_destroy(&s->ready);
    free(s->workers);
    free(s);
    return rc;
}
