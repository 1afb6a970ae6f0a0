/* px_run: one h2o event loop on the calling thread serves the clients
 * (http.c) and drives the stream to the MCP server (upstream.c, for every
 * transport) and the bridge between them; a 100 ms tick runs their timers.
 * With --passthrough the HTTP transports get h2o's streaming reverse proxy
 * instead of the bridge, and a
 * small thread checks that the target accepts connections (for /health:
 * resolving the name would block the loop). Given --namespace and --pod
 * there too, the proxy watches the MCP server pod (podwatch.c) and sends
 * requests to its IP while it is Ready, and answers 503 at once while it is
 * not, instead of trusting the headless Service's cached DNS answer, which
 * names a replaced pod's dead IP for up to 30 s. SIGTERM drains: /health turns
 * 503 and answers close their connections, requests in flight get up to
 * --drain-seconds to finish (the listener still open), then streams end,
 * sessions close, the listener closes and the server is stopped.
 * The listener speaks HTTP/1.1 only (h2o's h2c upgrade and HTTP/2 prior
 * knowledge are off, DESIGN §5), serves at most --max-connections clients
 * at once, and stops accepting for a while when descriptors run out. */
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include "mcp/log.h"
#include "mcp/health.h"
#include "mcp/net.h"
#include "mcp/tls.h"
#include "authn.h"
#include "framing.h"
#include "http.h"
#include "../upstream/podwatch.h"
#include "server.h"
#include "../upstream/upstream.h"

#define TICK_MS          100
#define TARGET_CHECK_MS  2000 /* while the target is reachable */
#define TARGET_RETRY_MS  500  /* while it is not: /health turns 200 soon after it is back */
#define PROXY_IO_TIMEOUT (24ull * 3600 * 1000) /* SSE streams may idle long */
#define ACCEPT_PAUSE_MS  100   /* out of descriptors: try accepting again after this */
#define DEF_MAX_CONNS    4096  /* --max-connections when the fd limit allows it */
#define FD_RESERVE       64    /* descriptors kept for the server, the health port, logs */
#define WARN_EVERY_MS    10000 /* at most one warning this often per kind of refusal */
#define AUTHZ_CHECK_MS   1000  /* --authz-config's file: looked at this often, reloaded on change */

typedef struct px_server {
    px_config_t *cfg;
    h2o_globalconf_t globalconf;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_ctx;
    h2o_evloop_t *loop;
    h2o_socket_t *listener;
    px_http_t http;
    px_bridge_t *bridge;
    px_upstream_t *upstream;
    px_budget_t budget; /* --max-queued-bytes, for everything that queues (cfg->budget) */
    mcp_health_t *health;
    char target_url[512];
    h2o_url_t target;
    pthread_t checker;
    int checker_started;
    volatile int kube_stop;
    mcp_kube_t *kube; /* HTTP transports with --pod: the pod watch's client */
    px_podwatch_t watch;
    int watching;
    px_pod_source_t egress_src;  /* where the egress proxy learns the pod's IPs */
    px_egress_t *egress;         /* --egress-port */
    px_authn_t *authn;           /* --oidc-issuer / --oidc-kubernetes */
    uint64_t authz_checked_ms;   /* when --authz-config's file was last looked at */
    struct target_pool *pool;    /* keep-alive connections to the pod's current IP */
    struct target_pool *retired; /* to earlier IPs: freed once none of theirs is left */
    _Atomic int target_ok, stop_checker, draining;
    volatile sig_atomic_t *stop;
    int config_disposed;
    int max_conns, n_conns; /* client connections: the cap and how many h2o holds now */
    int accept_paused;      /* listener not watched until resume_at (out of descriptors) */
    uint64_t resume_at, fd_warned_at, cap_warned_at;
} px_server_t;

/* ---- readiness and metrics (the health thread calls these too) ---------------------------- */

static int ready(void *ctx)
{
    px_server_t *s = ctx;

    if (atomic_load(&s->draining))
        return 0;
    if (s->bridge)
        return px_bridge_state(s->bridge) == PX_READY;
    return atomic_load(&s->target_ok);
}

static void why_down(void *ctx, char *out, size_t n)
{
    px_server_t *s = ctx;

    if (atomic_load(&s->draining))
        snprintf(out, n, "draining");
    else if (s->upstream)
        px_upstream_why_down(s->upstream, out, n);
    else
        px_http_last_error(out, n);
}

/* The upstream's events, for the bridge (the upstream room knows no bridge). */
static void sink_up(void *ctx, uint64_t now_ms)
{
    px_bridge_upstream_up(ctx, now_ms);
}

static void sink_line(void *ctx, const char *line, size_t len, int64_t cause)
{
    px_bridge_upstream_line(ctx, line, len, cause);
}

static void sink_dropped(void *ctx, const char *head, size_t hn, const char *tail, size_t tn)
{
    px_bridge_upstream_dropped(ctx, head, hn, tail, tn);
}

static void sink_down(void *ctx, const char *why)
{
    px_bridge_upstream_down(ctx, why);
}

static void metrics(void *ctx, mcp_buf_t *out)
{
    px_server_t *s = ctx;

    s->http.stats.connections = (uint64_t)s->n_conns;
    if (s->bridge)
        px_metrics_render(out, px_bridge_stats(s->bridge), &s->http.stats,
                          px_bridge_n_sessions(s->bridge), px_bridge_n_pending(s->bridge),
                          px_bridge_state(s->bridge) == PX_READY,
                          s->upstream ? px_upstream_restarts(s->upstream) : 0, s->cfg->budget);
    else
        px_metrics_render(out, NULL, &s->http.stats, 0, 0, atomic_load(&s->target_ok), 0,
                          s->cfg->budget);
}

/* The separate health port runs on its own thread: only the atomic answer. */
static int ready_atomic(void *ctx)
{
    px_server_t *s = ctx;

    return !atomic_load(&s->draining) && atomic_load(&s->target_ok);
}

static void no_metrics(void *ctx, mcp_buf_t *out)
{
    (void)ctx;
    mcp_buf_adds(out, "# metrics are served on the proxy port at /metrics\n");
}

/* ---- HTTP transports: is the target accepting connections? ----------------------------------- */

static int can_connect(const char *host, int port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    char portstr[16];
    int ok = 0;

    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(host, portstr, &hints, &res) != 0)
        return 0;
    for (struct addrinfo *ai = res; ai && !ok; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        struct timeval tv = {2, 0};

        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        ok = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0;
        close(fd);
    }
    freeaddrinfo(res);
    return ok;
}

/* Where requests go now: 1 and the pod's IP in ip while the watched pod is
 * Ready; 0 while the watch knows it is not; -1 when there is no watch (or
 * it has not listed yet): the name given by --target-host. */
static int target_ip(px_server_t *s, char *ip, size_t len)
{
    px_pod_t pod;

    if (!s->watching || !px_podwatch_get(&s->watch, &pod))
        return -1;
    snprintf(ip, len, "%s", pod.ready ? pod.ip : "");
    return pod.ready;
}

static void *checker_main(void *arg)
{
    px_server_t *s = arg;

    while (!atomic_load(&s->stop_checker)) {
        char ip[64];
        int t = target_ip(s, ip, sizeof(ip));
        int ok = t != 0 && can_connect(t > 0 ? ip : s->cfg->target_host, s->cfg->target_port);

        if (ok != atomic_load(&s->target_ok))
            mcp_log(ok ? MCP_LOG_INFO : MCP_LOG_WARN,
                    ok ? "target reachable" : "target unreachable", "host", s->cfg->target_host,
                    "address",
                    t > 0    ? ip
                    : t == 0 ? "none (pod not ready)"
                             : "by name",
                    NULL);
        atomic_store(&s->target_ok, ok);
        for (int i = 0;
             i < (ok ? TARGET_CHECK_MS : TARGET_RETRY_MS) / 100 && !atomic_load(&s->stop_checker);
             i++)
            nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
    return NULL;
}

/* ---- listening
 * ------------------------------------------------------------------------------------ */

/* Once per WARN_EVERY_MS at most: a flood must not flood the log too. */
static int warn_due(px_server_t *s, uint64_t *last)
{
    uint64_t now = h2o_now(s->loop);

    if (*last && now - *last < WARN_EVERY_MS)
        return 0;
    *last = now;
    return 1;
}

static void log_refused(px_server_t *s, uint64_t *last, const char *msg, const char *why)
{
    char n[16];

    if (!warn_due(s, last))
        return;
    snprintf(n, sizeof(n), "%d", s->n_conns);
    mcp_log(MCP_LOG_WARN, msg, "connections", n, "error", why, NULL);
}

/* Out of descriptors (EMFILE, ENFILE) or kernel memory, accept() fails and
 * leaves the connection queued, so the listener stays readable and the loop
 * would spin on it, starving everything else: stop watching the listener;
 * tick() watches it again ACCEPT_PAUSE_MS later, by when a connection may
 * have closed. The kernel keeps new connections in the backlog meanwhile. */
static void pause_accepting(px_server_t *s, int err)
{
    h2o_socket_read_stop(s->listener);
    s->accept_paused = 1;
    s->resume_at = h2o_now(s->loop) + ACCEPT_PAUSE_MS;
    log_refused(s, &s->fd_warned_at, "cannot accept connections, pausing", strerror(err));
}

static void on_accept(h2o_socket_t *listener, const char *err);

static void resume_accepting(px_server_t *s, uint64_t now)
{
    if (!s->accept_paused || now < s->resume_at || !s->listener)
        return;
    s->accept_paused = 0;
    h2o_socket_read_start(s->listener, on_accept);
}

/* h2o calls this when it disposes of a client's socket, however it ends. */
static void conn_closed(void *data)
{
    px_server_t *s = data;

    s->n_conns--;
}

/* Over --max-connections a new connection is accepted, answered 503 with
 * Retry-After and closed, rather than left in the listen backlog until one
 * closes: the client learns at once that the proxy is busy (DESIGN §5: 503
 * and Retry-After over budget) instead of waiting with no deadline in a
 * queue that would be served long after it gave up, and the refusal keeps
 * no state and costs one short write. The request, when it is already
 * here, is read first so that closing does not reset the connection before
 * the client reads the answer. Over TLS there is nothing to answer in
 * cleartext: the connection is closed. */
static void refuse(px_server_t *s, h2o_socket_t *sock)
{
    static const char busy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
        "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";
    int fd = h2o_socket_get_fd(sock);
    char sink[4096];

    if (!s->accept_ctx.ssl_ctx) {
        while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
            ;
        if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
            shutdown(fd, SHUT_WR);
    }
    h2o_socket_close(sock);
    s->http.stats.conns_refused++;
    log_refused(s, &s->cap_warned_at, "connection refused: --max-connections reached",
                "too many connections");
}

/* A new client connection (mcp_accept_burst): refused over --max-connections. */
static void take(void *ctx, h2o_socket_t *sock)
{
    px_server_t *s = ctx;

    if (s->n_conns >= s->max_conns) {
        refuse(s, sock);
        return;
    }
    s->n_conns++;
    sock->on_close.cb = conn_closed;
    sock->on_close.data = s;
    h2o_accept(&s->accept_ctx, sock);
    /* a plain HTTP/1 connection now waits for its request in h2o's read
     * callback: keep it, to let h2o read again (px_rp_watch) */
    if (!s->accept_ctx.ssl_ctx && !s->http.http1_read && sock->_cb.read)
        s->http.http1_read = sock->_cb.read;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    px_server_t *s = listener->data;
    int exhausted;

    if (err)
        return;
    exhausted = mcp_accept_burst(listener, take, s);
    if (exhausted)
        pause_accepting(s, exhausted);
}

/* --max-connections unless given: DEF_MAX_CONNS, or fewer when the fd
 * limit is lower, counting two descriptors a client (with --passthrough
 * each may hold a connection to the server too) and keeping FD_RESERVE. */
static int max_connections(const px_config_t *cfg, long nofile)
{
    long n = (nofile - FD_RESERVE) / 2;

    if (cfg->max_connections > 0)
        return cfg->max_connections;
    if (nofile < 0 || n > DEF_MAX_CONNS)
        return DEF_MAX_CONNS;
    return n < 1 ? 1 : (int)n;
}

/* ---- set-up and tear-down ----------------------------------------------------------------------
 */

typedef struct target_handler {
    h2o_handler_t super;
    px_server_t *s;
} target_handler_t;

static void send_unavailable(h2o_req_t *req)
{
    static h2o_generator_t gen = {NULL, NULL};
    static const char body[] = "the MCP server pod is not ready\n";
    h2o_iovec_t b = h2o_iovec_init(H2O_STRLIT(body));

    req->res.status = 503;
    req->res.reason = "Service Unavailable";
    req->res.content_length = b.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("text/plain"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
    h2o_start_response(req, &gen);
    h2o_send(req, &b, 1, H2O_SEND_STATE_FINAL);
}

/* Keep-alive connections to one pod IP (h2o's socket pool, 2 s idle, as
 * h2o's own reverse proxy keeps them by name). When the IP changes the pool
 * is retired; h2o counts its sockets (borrowed, idle and connecting) in
 * _shared.count, and a retired pool is disposed once that is 0, so no
 * socket can come back to freed memory. */
typedef struct target_pool {
    h2o_socketpool_t pool;
    char ip[64];
    struct target_pool *next;
} target_pool_t;

/* Connects to the watched pod's IP give up after about 15 s instead of
 * Linux's ~127 s (tcp_syn_retries 6). h2o 2.2's reverse proxy has one
 * timeout for connecting and for reading, and ours is a day long because SSE
 * streams may idle, and it offers no hook on the socket it connects; so a
 * connect to the IP of an MCP server pod that was just replaced held the
 * client's request for minutes. h2o connects with libc's connect(), which
 * this definition interposes (the executable's symbol wins for the shared
 * h2o library too), acting only on the address pool_for gave h2o's pool:
 * TCP_SYNCNT 3 (SYNs at 0, 1, 3 and 7 s, ETIMEDOUT at ~15 s, which h2o
 * answers with a 502). Every other connect is the plain system call;
 * libcurl's (the bridged HTTP transports, the Kubernetes client) have
 * CURLOPT_CONNECTTIMEOUT of their own. One loop thread sets the address. */
static struct sockaddr_storage syn_limited;
static socklen_t syn_limited_len;

int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
    int syncnt = 3;

    if (addr && syn_limited_len && len == syn_limited_len && memcmp(addr, &syn_limited, len) == 0)
        setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &syncnt, sizeof(syncnt));
    return (int)syscall(SYS_connect, fd, addr, len);
}

static target_pool_t *pool_for(px_server_t *s, const char *ip)
{
    struct sockaddr_storage ss = {0};
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    socklen_t len;
    target_pool_t *p;

    if (s->pool && strcmp(s->pool->ip, ip) == 0)
        return s->pool;
    if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)s->cfg->target_port);
        len = sizeof(*sin);
    } else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)s->cfg->target_port);
        len = sizeof(*sin6);
    } else
        return NULL;
    memcpy(&syn_limited, &ss, len);
    syn_limited_len = len;
    p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    snprintf(p->ip, sizeof(p->ip), "%s", ip);
    h2o_socketpool_init_by_address(&p->pool, (struct sockaddr *)&ss, len, 0, SIZE_MAX);
    h2o_socketpool_set_timeout(&p->pool, s->loop, 2000);
    if (s->pool) {
        s->pool->next = s->retired;
        s->retired = s->pool;
    }
    s->pool = p;
    return p;
}

static void pools_sweep(px_server_t *s, int all)
{
    target_pool_t **pp = &s->retired;

    while (*pp) {
        target_pool_t *p = *pp;

        if (all || __sync_add_and_fetch(&p->pool._shared.count, 0) == 0) {
            *pp = p->next;
            h2o_socketpool_dispose(&p->pool);
            free(p);
        } else
            pp = &p->next;
    }
    if (all && s->pool) {
        h2o_socketpool_dispose(&s->pool->pool);
        free(s->pool);
        s->pool = NULL;
    }
}

/* Before h2o's reverse proxy (which declines to nothing else): while the
 * pod watch knows the pod, the request goes to its IP, over a kept-alive
 * connection when one is idle, with the same Host header, path and
 * response handling as h2o's handler gives it (a reprocess with the
 * upstream's authority and our socket pool, as h2o 2.2 lib/handler/proxy.c
 * on_req does with its pool by name). */
static int target_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    px_server_t *s = ((target_handler_t *)self)->s;
    h2o_req_overrides_t *ov;
    target_pool_t *p;
    char ip[64];
    int t = target_ip(s, ip, sizeof(ip));

    if (t < 0)
        return -1; /* h2o's reverse proxy, by name */
    if (t == 0) {
        send_unavailable(req);
        return 0;
    }
    ov = h2o_mem_alloc_pool(&req->pool, sizeof(*ov));
    *ov = (h2o_req_overrides_t){NULL};
    p = pool_for(s, ip);
    if (p)
        ov->socketpool = &p->pool;
    else { /* not an IP literal: one connection per request */
        ov->hostport.host = h2o_strdup(&req->pool, ip, SIZE_MAX);
        ov->hostport.port = (uint16_t)s->cfg->target_port;
    }
    ov->location_rewrite.match = &s->target;
    ov->location_rewrite.path_prefix = req->pathconf->path;
    h2o_reprocess_request(req, req->method, s->target.scheme, s->target.authority,
                          h2o_build_destination(req, s->target.path.base, s->target.path.len, 0),
                          ov, 0);
    return 0;
}

static int setup_routes(px_server_t *s, char *err, size_t errlen)
{
    h2o_hostconf_t *host =
        h2o_config_register_host(&s->globalconf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);

    px_framing_register(path); /* first: ambiguous framing never reaches a handler */
    px_http_register(&s->http, path);
    if (s->bridge)
        return 0;
    snprintf(s->target_url, sizeof(s->target_url), "http://%s:%d/", s->cfg->target_host,
             s->cfg->target_port);
    if (h2o_url_parse(s->target_url, SIZE_MAX, &s->target) != 0) {
        snprintf(err, errlen, "bad target %s", s->target_url);
        return -1;
    }
    h2o_proxy_config_vars_t pc = {.io_timeout = PROXY_IO_TIMEOUT, .keepalive_timeout = 2000};

    if (s->cfg->pod && s->cfg->ns) {
        target_handler_t *th = (target_handler_t *)h2o_create_handler(path, sizeof(*th));

        th->super.on_req = target_on_req;
        th->s = s;
    }
    h2o_proxy_register_reverse_proxy(path, &s->target, &pc);
    if (s->cfg->tools) /* only then: without it the proxy's bytes pass untouched */
        px_rp_register_filter(&s->http, path);
    return 0;
}

static int ops_write(void *ctx, const char *line, size_t len)
{
    px_server_t *s = ctx;

    return s->upstream ? px_upstream_write(s->upstream, line, len) : MCP_EIO;
}

static void ops_restart(void *ctx, const char *why)
{
    px_server_t *s = ctx;

    if (s->upstream)
        px_upstream_restart(s->upstream, why);
}

/* HTTP transports with --namespace and --pod: without a Kubernetes
 * configuration (or a thread) the proxy goes on by the target's name. */
static void start_pod_watch(px_server_t *s)
{
    char err[256] = "";

    s->kube = px_kube_open(&s->kube_stop, NULL, err, sizeof(err));
    if (s->kube &&
        px_podwatch_start(&s->watch, s->kube, s->cfg->ns, s->cfg->pod, s->cfg->container) != 0)
        snprintf(err, sizeof(err), "cannot start a thread");
    else if (s->kube) {
        s->watching = 1;
        return;
    }
    mcp_log(MCP_LOG_WARN, "no pod watch: requests go to the target by name", "host",
            s->cfg->target_host, "error", err, NULL);
}

static int setup(px_server_t *s, char *err, size_t errlen)
{
    int fd;

    s->max_conns = max_connections(s->cfg, mcp_raise_nofile());
    s->loop = h2o_evloop_create();
    px_budget_init(&s->budget, s->cfg->max_queued);
    s->cfg->budget = &s->budget;
    h2o_config_init(&s->globalconf);
    s->globalconf.http1.upgrade_to_http2 = 0; /* h2c and prior knowledge: HTTP/1.1 only */
    s->globalconf.max_request_entity_size = s->cfg->max_message;
    s->globalconf.proxy.io_timeout = PROXY_IO_TIMEOUT;
    s->globalconf.server_name = h2o_iovec_init(H2O_STRLIT("mcp-proxy"));
    if (!s->cfg->passthrough) {
        px_bridge_ops_t ops = {.write = ops_write, .restart = ops_restart, .ctx = s};

        s->bridge = px_bridge_new(s->cfg, &ops);
        if (!s->bridge) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    px_http_init(&s->http, s->cfg, s->loop, s->bridge);
    s->http.ready = ready;
    s->http.why_down = why_down;
    s->http.metrics = metrics;
    s->http.ready_ctx = s;
    if (s->bridge)
        px_bridge_on_session_closed(s->bridge, px_http_on_session_closed, &s->http);
    if (setup_routes(s, err, errlen) != 0)
        return -1;
    h2o_context_init(&s->ctx, s->loop, &s->globalconf);
    s->accept_ctx.ctx = &s->ctx;
    s->accept_ctx.hosts = s->globalconf.hosts;
    if (s->cfg->tls_cert) {
        s->accept_ctx.ssl_ctx =
            mcp_tls_server_ctx_new(s->cfg->tls_cert, s->cfg->tls_key, err, errlen);
        if (!s->accept_ctx.ssl_ctx)
            return -1;
    }
    /* libcurl is opened before any thread starts (curl_dl.c) */
    if (px_authn_on(s->cfg)) {
        if (px_curl_load(err, errlen) != 0 ||
            !(s->authn = px_authn_new(s->cfg, s->loop, err, errlen)))
            return -1;
        s->http.authn = s->authn;
    }
    fd = px_open_listener(s->cfg->bind, s->cfg->port, err, errlen);
    if (fd < 0)
        return -1;
    s->listener = h2o_evloop_socket_create(s->loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    s->listener->data = s;
    h2o_socket_read_start(s->listener, on_accept);
    {
        char port[16], conns[16];

        snprintf(port, sizeof(port), "%d", mcp_bound_port(fd));
        snprintf(conns, sizeof(conns), "%d", s->max_conns);
        mcp_log(MCP_LOG_INFO, "listening", "port", port, "transport",
                s->cfg->transport == PX_T_STDIO ? "stdio"
                : s->cfg->transport == PX_T_SSE ? "sse"
                                                : "streamable-http",
                "maxConnections", conns, NULL);
    }
    if (s->bridge) {
        px_backend_t *be = px_server_backend(s->cfg, err, errlen);

        if (!be)
            return -1;
        px_upstream_sink_t sink = {.up = sink_up,
                                   .line = sink_line,
                                   .dropped = sink_dropped,
                                   .down = sink_down,
                                   .ctx = s->bridge};

        s->upstream = px_upstream_new(s->loop, be, &sink, s->cfg);
        if (!s->upstream) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    } else {
        if (s->cfg->pod && s->cfg->ns)
            start_pod_watch(s);
        if (pthread_create(&s->checker, NULL, checker_main, s) != 0) {
            snprintf(err, errlen, "cannot start a thread");
            return -1;
        }
        s->checker_started = 1;
    }
    if (s->cfg->egress_port > 0) {
        s->egress_src = (px_pod_source_t){s->upstream, s->watching ? &s->watch : NULL};
        if (!(s->egress = px_egress_wire(s->loop, s->cfg, &s->egress_src, err, errlen)))
            return -1;
    }
    if (s->cfg->health_port > 0) {
        mcp_health_ops_t hops = {.ready = ready_atomic, .metrics = no_metrics, .ctx = s};

        s->health = mcp_health_start(NULL, s->cfg->health_port, &hops, err, errlen);
        if (!s->health)
            return -1;
    }
    return 0;
}

static void tick(px_server_t *s)
{
    uint64_t now = h2o_now(s->loop);

    resume_accepting(s, now);
    if (s->upstream)
        px_upstream_tick(s->upstream, now);
    if (s->retired)
        pools_sweep(s, 0);
    if (s->authn)
        px_authn_tick(s->authn, now);
    if (s->cfg->authz && now - s->authz_checked_ms >= AUTHZ_CHECK_MS) {
        char err[1024];
        int rc;

        s->authz_checked_ms = now;
        if ((rc = px_authz_reload(s->cfg, err, sizeof(err))) > 0)
            mcp_log(MCP_LOG_INFO, "authorization policies reloaded", "path", s->cfg->authz_config,
                    NULL);
        else if (rc < 0)
            mcp_log(MCP_LOG_ERROR, "authorization policies not reloaded: the ones in force stay",
                    "error", err, NULL);
    }
    if (s->bridge) {
        px_bridge_tick(s->bridge, now);
        atomic_store(&s->target_ok,
                     px_bridge_state(s->bridge) == PX_READY); /* for the health port */
    }
}

static void run_for(px_server_t *s, uint64_t ms, int (*until)(px_server_t *))
{
    uint64_t deadline = h2o_now(s->loop) + ms, last = 0;

    while (h2o_now(s->loop) < deadline && !(until && until(s))) {
        h2o_evloop_run(s->loop, TICK_MS);
        if (h2o_now(s->loop) - last >= TICK_MS) {
            last = h2o_now(s->loop);
            tick(s);
        }
    }
}

static int stopping(px_server_t *s)
{
    return *s->stop != 0;
}

static int nothing_in_flight(px_server_t *s)
{
    return !s->bridge || px_bridge_n_pending(s->bridge) == 0;
}

static int no_connections(px_server_t *s)
{
    return h2o_linklist_is_empty(&s->ctx.http1._conns);
}

/* The reverse proxy keeps no count of its requests: a connection still open
 * may be one in flight (answers close their connections while draining). */
static int drained(px_server_t *s)
{
    return s->bridge ? nothing_in_flight(s) : no_connections(s);
}

/* SIGTERM; in Kubernetes it comes after the kubelet's preStop sleep, once
 * the pod's endpoint has left the Service. /health turns 503 and every
 * answer closes its connection (http.c), but the listener stays open while
 * requests are in flight, up to --drain-seconds: a client that a slow node
 * still sends here is served, not refused. Calls still running then get a
 * JSON-RPC error. Then the streams end (their
 * handshake-era clients reconnect, elsewhere), the listener closes and the
 * connections get the rest of the budget, at least 2 s, to finish. */
static void drain(px_server_t *s)
{
    uint64_t budget = (uint64_t)(s->cfg->drain_seconds * 1000), start = h2o_now(s->loop), spent;

    atomic_store(&s->draining, 1);
    s->http.draining = 1;
    mcp_log(MCP_LOG_INFO, "draining", NULL);
    run_for(s, budget, drained);
    /* calls the server did not finish in time get an error, not an empty reply */
    if (s->bridge && px_bridge_n_pending(s->bridge))
        px_bridge_upstream_down(s->bridge, "the proxy is shutting down");
    run_for(s, 100, no_connections); /* those errors go out before the streams end */
    while (s->bridge && px_bridge_sessions(s->bridge))
        px_http_close_session(&s->http, px_bridge_sessions(s->bridge));
    h2o_socket_read_stop(s->listener);
    h2o_socket_close(s->listener);
    s->listener = NULL;
    h2o_context_request_shutdown(&s->ctx);
    spent = h2o_now(s->loop) - start;
    run_for(s, spent + 2000 > budget ? 2000 : budget - spent, no_connections);
}

static void teardown(px_server_t *s)
{
    px_egress_free(s->egress); /* its connections end now: a tunnel has no request to drain */
    s->egress = NULL;
    px_authn_free(s->authn); /* requests still waiting for keys get 503 */
    s->authn = s->http.authn = NULL;
    if (s->checker_started) {
        atomic_store(&s->stop_checker, 1);
        pthread_join(s->checker, NULL);
    }
    s->kube_stop = 1;
    if (s->watching)
        px_podwatch_stop(&s->watch);
    mcp_kube_free(s->kube);
    mcp_health_stop(s->health);
    px_upstream_free(s->upstream); /* stops the server: stdin closed, then signals */
    s->upstream = NULL;
    if (s->listener) {
        h2o_socket_read_stop(s->listener);
        h2o_socket_close(s->listener);
    }
    if (s->ctx.loop) {
        for (int i = 0; i < 4; i++)
            h2o_evloop_run(s->loop, 0);
        if (no_connections(s)) {
            /* h2o_context_request_shutdown arms HTTP/2's GOAWAY resend: nothing to send to */
            if (h2o_timeout_is_linked(&s->ctx.http2._graceful_shutdown_timeout))
                h2o_timeout_unlink(&s->ctx.http2._graceful_shutdown_timeout);
            h2o_context_dispose(&s->ctx);
            free(s->ctx.queue); /* h2o 2.2.5 closes the queue but never frees it (evloop) */
            px_http_dispose(&s->http);
            pools_sweep(s, 1);                  /* no connection is left */
            h2o_config_dispose(&s->globalconf); /* the reverse proxy's pool timer goes here */
            s->config_disposed = 1;
            h2o_evloop_run(s->loop, 0);
            h2o_evloop_destroy(s->loop);
        }
    }
    json_decref(s->http.sse_refused); /* ours, even when h2o's context could not be disposed */
    s->http.sse_refused = NULL;
    px_bridge_free(s->bridge);
    SSL_CTX_free(s->accept_ctx.ssl_ctx);
    if (!s->config_disposed)
        h2o_config_dispose(&s->globalconf);
}

int px_run(px_config_t *cfg, volatile sig_atomic_t *stop)
{
    px_server_t s = {.cfg = cfg, .stop = stop};
    char err[512] = "";
    int rc = 0;

    if (setup(&s, err, sizeof(err)) != 0) {
        mcp_log(MCP_LOG_ERROR, "cannot start", "error", err, NULL);
        rc = 1;
        goto out;
    }
    while (!*stop)
        run_for(&s, 1000, stopping);
    drain(&s);
out:
    teardown(&s);
    mcp_log(MCP_LOG_INFO, "stopped", NULL);
    return rc;
}
