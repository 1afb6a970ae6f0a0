/* The attach backend: the MCP server's stdio through the apiserver's
 * pods/attach WebSocket (v5.channel.k8s.io) to pod --pod, container
 * --container, with the pod's ServiceAccount token (in-cluster config, or a
 * kubeconfig for development).
 *
 * Each stream is one thread that owns a TLS connection and a wslay session
 * (wsch.c) and bridges it to one end of a socketpair; the event loop gets the
 * other end, so upstream.c treats it like a child's pipes and nothing
 * blocks the loop. The thread pings when the stream is quiet and gives up
 * on a stream that has been silent too long (a stale attach: the node or
 * the apiserver lost it without closing it); closing its socketpair end is
 * how it reports any end, and upstream.c then opens a new stream.
 *
 * A second thread watches the pod (podwatch.c). A new pod (uid) or a
 * restarted container (containerID) bumps a
 * generation: the backend then asks upstream.c to replace the stream, so a
 * stream to a dead container never lingers, and open() refuses while the
 * container is not running (the backoff retries). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "mcp/kube.h"
#include "mcp/log.h"
#include "podwatch.h"
#include "wsch.h"

#define CONNECT_TIMEOUT_MS 10000
#define HEAD_MAX           16384
#define CHUNK              65536
#define STDIN_QUEUED_MAX   (4 * CHUNK) /* stdin frames wslay holds: the loop's write queue waits */

typedef struct attach_be {
    px_backend_t super;
    const px_config_t *cfg;
    mcp_kube_t *kube;
    SSL_CTX *ssl_ctx;
    char host[256], port[8];
    volatile int stop;
    px_podwatch_t watch;
    int watching;
    uint64_t attached_generation;
    struct conn *cur;
} attach_be_t;

/* One stream; freed by whoever drops the last reference. */
typedef struct conn {
    px_sthread_t t; /* first: the thread, its socketpair end (t.fd), stop */
    attach_be_t *be;
    char path[768];
    SSL *ssl;
    int sock;
    char pre[HEAD_MAX]; /* bytes read past the handshake head */
    size_t pre_len, pre_off;
    uint64_t last_rx;
} conn_t;

static void conn_destroy(px_sthread_t *t)
{
    conn_t *c = (conn_t *)t;

    if (c->ssl)
        SSL_free(c->ssl);
    if (c->sock >= 0)
        close(c->sock);
    OPENSSL_cleanse(c->pre, sizeof(c->pre));
    free(c);
}

/* ---- TLS to the apiserver ----------------------------------------------------------------------
 */

static int add_pem_certs(SSL_CTX *ctx, const char *pem, int chain)
{
    BIO *bio = BIO_new_mem_buf(pem, -1);
    X509 *x;
    int n = 0;

    while (bio && (x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        if (chain && n == 0)
            SSL_CTX_use_certificate(ctx, x), X509_free(x);
        else if (chain)
            SSL_CTX_add_extra_chain_cert(ctx, x); /* takes x */
        else
            X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx), x), X509_free(x);
        n++;
    }
    ERR_clear_error();
    BIO_free(bio);
    return n > 0 ? 0 : MCP_ETLS;
}

static SSL_CTX *tls_ctx(const mcp_kube_config_t *kc, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int ok = ctx != NULL;

    if (ok)
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    if (ok && kc->insecure)
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    else if (ok) {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
        if (kc->ca_file)
            ok = SSL_CTX_load_verify_locations(ctx, kc->ca_file, NULL) == 1;
        else if (kc->ca_data)
            ok = add_pem_certs(ctx, kc->ca_data, 0) == 0;
        else
            ok = SSL_CTX_set_default_verify_paths(ctx) == 1;
    }
    if (ok && kc->cert_file)
        ok = SSL_CTX_use_certificate_chain_file(ctx, kc->cert_file) == 1;
    else if (ok && kc->cert_data)
        ok = add_pem_certs(ctx, kc->cert_data, 1) == 0;
    if (ok && kc->key_file)
        ok = SSL_CTX_use_PrivateKey_file(ctx, kc->key_file, SSL_FILETYPE_PEM) == 1;
    else if (ok && kc->key_data) {
        BIO *bio = BIO_new_mem_buf(kc->key_data, -1);
        EVP_PKEY *key = bio ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : NULL;

        ok = key && SSL_CTX_use_PrivateKey(ctx, key) == 1;
        EVP_PKEY_free(key);
        BIO_free(bio);
    }
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    if (!ok) {
        snprintf(err, errlen, "cannot set up TLS to the apiserver (CA or client certificate)");
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

/* "https://host:port[/...]" into host and port. */
static int split_server(const char *url, char *host, size_t hl, char *port, size_t pl)
{
    const char *p = strncmp(url, "https://", 8) == 0 ? url + 8 : NULL;
    const char *end, *colon;

    if (!p)
        return MCP_EINVAL;
    end = p + strcspn(p, "/");
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));

        if (!rb)
            return MCP_EINVAL;
        snprintf(host, hl, "%.*s", (int)(rb - p - 1), p + 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        snprintf(host, hl, "%.*s", (int)((colon ? colon : end) - p), p);
    }
    snprintf(port, pl, "%.*s", colon ? (int)(end - colon - 1) : 3, colon ? colon + 1 : "443");
    return *host ? 0 : MCP_EINVAL;
}

static int tcp_connect(const char *host, const char *port)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
    struct addrinfo *res = NULL;
    int fd = -1;

    if (getaddrinfo(host, port, &hints, &res) != 0)
        return -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        struct timeval tv = {CONNECT_TIMEOUT_MS / 1000, 0};

        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

static int is_ip(const char *host)
{
    unsigned char buf[16];

    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* Connect, TLS, the upgrade request and its 101 answer. */
static int handshake(conn_t *c, char *err, size_t errlen)
{
    attach_be_t *be = c->be;
    char key[25], *auth = NULL, *head = c->pre;
    mcp_buf_t req;
    size_t got = 0;
    char *eoh = NULL;
    int rc = MCP_EIO;

    c->sock = tcp_connect(be->host, be->port);
    if (c->sock < 0) {
        snprintf(err, errlen, "cannot connect to the apiserver %s:%s", be->host, be->port);
        return MCP_EIO;
    }
    c->ssl = SSL_new(be->ssl_ctx);
    SSL_set_fd(c->ssl, c->sock);
    if (is_ip(be->host))
        X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), be->host);
    else {
        SSL_set_tlsext_host_name(c->ssl, be->host);
        SSL_set1_host(c->ssl, be->host);
    }
    if (SSL_connect(c->ssl) != 1) {
        snprintf(err, errlen, "TLS to the apiserver failed");
        ERR_clear_error();
        return MCP_ETLS;
    }
    mcp_buf_init(&req, 8192);
    auth = mcp_kube_auth_header(be->kube);
    if (px_ws_new_key(key) == 0 && px_ws_request(&req, be->host, c->path, key, auth) == 0 &&
        SSL_write(c->ssl, req.data, (int)req.len) == (int)req.len)
        rc = 0;
    OPENSSL_cleanse(req.data, req.len);
    mcp_buf_dispose(&req);
    if (auth) {
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
    }
    if (rc != 0) {
        snprintf(err, errlen, "cannot send the attach request");
        return rc;
    }
    while (!eoh && got + 1 < sizeof(c->pre)) {
        int n = SSL_read(c->ssl, head + got, (int)(sizeof(c->pre) - 1 - got));

        if (n <= 0) {
            snprintf(err, errlen, "the apiserver closed the attach request");
            return MCP_EIO;
        }
        got += (size_t)n;
        head[got] = '\0';
        eoh = strstr(head, "\r\n\r\n");
    }
    if (!eoh) {
        snprintf(err, errlen, "attach response head too large");
        return MCP_ETOOBIG;
    }
    eoh[2] = '\0'; /* keep the head's last CRLF for the parser */
    rc = px_ws_check_response(head, key, err, errlen);
    if (rc == MCP_EHTTP) /* what the apiserver said: its Status message, from what came */
        px_ws_add_refusal(err, errlen, eoh + 4, got - (size_t)(eoh + 4 - head));
    if (rc != 0)
        return rc;
    c->pre_off = (size_t)(eoh + 4 - head);
    c->pre_len = got;
    fcntl(c->sock, F_SETFL, fcntl(c->sock, F_GETFL) | O_NONBLOCK);
    return 0;
}

/* ---- the stream thread ---------------------------------------------------------------------- */

static ssize_t io_recv(void *ctx, uint8_t *buf, size_t len)
{
    conn_t *c = ctx;
    int n;

    if (c->pre_off < c->pre_len) {
        size_t k = c->pre_len - c->pre_off < len ? c->pre_len - c->pre_off : len;

        memcpy(buf, c->pre + c->pre_off, k);
        c->pre_off += k;
        c->last_rx = px_mono_ms();
        return (ssize_t)k;
    }
    n = SSL_read(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));
    if (n > 0) {
        c->last_rx = px_mono_ms();
        return n;
    }
    switch (SSL_get_error(c->ssl, n)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    default:
        ERR_clear_error();
        errno = EIO;
        return -1;
    }
}

static ssize_t io_send(void *ctx, const uint8_t *buf, size_t len)
{
    conn_t *c = ctx;
    int n = SSL_write(c->ssl, buf, (int)(len > INT32_MAX ? INT32_MAX : len));

    if (n > 0)
        return n;
    if (SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_WRITE ||
        SSL_get_error(c->ssl, n) == SSL_ERROR_WANT_READ) {
        errno = EAGAIN;
        return -1;
    }
    ERR_clear_error();
    errno = EIO;
    return -1;
}

static int sink_stdout(void *ctx, const uint8_t *p, size_t n)
{
    conn_t *c = ctx;

    while (n) { /* the thread's end blocks: the loop reads at its pace */
        ssize_t w = write(c->t.fd, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void sink_stderr(void *ctx, const uint8_t *p, size_t n)
{
    char line[1024];

    (void)ctx;
    if (!mcp_log_enabled(MCP_LOG_DEBUG))
        return;
    snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) - 1 ? n : sizeof(line) - 1), p);
    line[strcspn(line, "\r\n")] = '\0';
    mcp_log(MCP_LOG_DEBUG, "mcp server stderr", "line", line, NULL);
}

static void sink_status(void *ctx, const char *json, size_t n)
{
    char msg[512];

    (void)ctx;
    snprintf(msg, sizeof(msg), "%.*s", (int)(n < sizeof(msg) - 1 ? n : sizeof(msg) - 1), json);
    mcp_log(MCP_LOG_INFO, "attach status", "status", msg, NULL);
}

/* Pump until either side ends, the stream goes stale, or we are stopped. */
static const char *pump(conn_t *c, px_ws_t *ws)
{
    uint8_t buf[CHUNK];
    uint64_t last_ping = 0;
    uint64_t stale_ms = (uint64_t)(c->be->cfg->attach_stale * 1000), ping_ms = stale_ms / 3;

    c->last_rx = px_mono_ms();
    while (!atomic_load(&c->t.stop)) {
        /* read the loop's end only while the apiserver takes stdin: the rest
         * waits in the loop's write queue, which counts in --max-queued-bytes */
        struct pollfd p[2] = {
            {.fd = c->sock, .events = POLLIN},
            {.fd = c->t.fd, .events = px_ws_queued(ws) < STDIN_QUEUED_MAX ? POLLIN : 0}};
        uint64_t now;

        if (px_ws_want_write(ws))
            p[0].events |= POLLOUT;
        if (poll(p, 2, SSL_pending(c->ssl) || c->pre_off < c->pre_len ? 0 : 200) < 0 &&
            errno != EINTR)
            return "poll failed";
        if (SSL_pending(c->ssl) || c->pre_off < c->pre_len || (p[0].revents & ~POLLOUT)) {
            int rc = px_ws_read(ws);

            if (rc == MCP_ENOENT)
                return "the MCP server's stream closed";
            if (rc != 0)
                return "the attach stream broke";
        }
        if (p[1].revents) {
            ssize_t n = read(c->t.fd, buf, sizeof(buf));

            if (n <= 0) { /* the loop closed its end: close stdin (v5), then leave */
                px_ws_close_stdin(ws);
                px_ws_write(ws);
                return NULL;
            }
            if (px_ws_stdin(ws, buf, (size_t)n) != 0)
                return "cannot queue stdin";
        }
        now = px_mono_ms();
        if (now - c->last_rx > stale_ms)
            return "stale attach: nothing from the apiserver, pings unanswered";
        if (now - c->last_rx > ping_ms && now - last_ping > ping_ms) {
            px_ws_ping(ws);
            last_ping = now;
        }
        if (px_ws_want_write(ws) && px_ws_write(ws) != 0)
            return "cannot write to the attach stream";
    }
    return NULL;
}

static void *conn_main(void *arg)
{
    conn_t *c = arg;
    char err[512] = "";
    px_ws_io_t io = {.recv = io_recv, .send = io_send, .ctx = c};
    px_ws_sink_t sink = {
        .stdout_data = sink_stdout, .stderr_data = sink_stderr, .status = sink_status, .ctx = c};
    px_ws_t *ws = NULL;
    const char *why = NULL;

    if (handshake(c, err, sizeof(err)) != 0) {
        mcp_log(MCP_LOG_WARN, "attach failed", "pod", c->be->cfg->pod, "error", err, NULL);
    } else if (!(ws = px_ws_new(&io, &sink, c->be->cfg->max_message + 65536))) {
        mcp_log(MCP_LOG_ERROR, "attach: out of memory", NULL);
    } else {
        mcp_log(MCP_LOG_INFO, "attached", "pod", c->be->cfg->pod, "container",
                c->be->cfg->container, NULL);
        why = pump(c, ws);
        if (why)
            mcp_log(MCP_LOG_WARN, "attach stream ended", "why", why, NULL);
    }
    px_ws_free(ws);
    px_sthread_exit(&c->t);
    return NULL;
}

/* ---- the backend
 * ------------------------------------------------------------------------------------- */

static int attach_open(px_backend_t *pb, int *rfd, int *wfd, int *efd, char *err, size_t errlen)
{
    attach_be_t *be = (attach_be_t *)pb;
    px_pod_t pod;
    conn_t *c;
    int rc;

    px_podwatch_get(&be->watch, &pod);
    if (!pod.running) {
        snprintf(err, errlen, "waiting for container %s of pod %s/%s to run", be->cfg->container,
                 be->cfg->ns, be->cfg->pod);
        return MCP_ENOENT;
    }
    c = calloc(1, sizeof(*c));
    if (!c)
        return MCP_ENOMEM;
    c->t.destroy = conn_destroy;
    c->be = be;
    c->sock = -1;
    snprintf(c->path, sizeof(c->path),
             "/api/v1/namespaces/%s/pods/%s/attach?container=%s&stdin=true&stdout=true&stderr=true",
             be->cfg->ns, be->cfg->pod, be->cfg->container);
    if ((rc = px_sthread_start(&c->t, conn_main, rfd, wfd, err, errlen)) != 0)
        return rc;
    be->cur = c;
    be->attached_generation = pod.generation;
    *efd = -1; /* stderr arrives on channel 2 and is logged by the thread */
    return 0;
}

static void attach_close(px_backend_t *pb, int final)
{
    attach_be_t *be = (attach_be_t *)pb;
    conn_t *c = be->cur;

    be->cur = NULL;
    px_sthread_stop(c ? &c->t : NULL, final);
}

static int attach_tick(px_backend_t *pb, uint64_t now_ms)
{
    attach_be_t *be = (attach_be_t *)pb;
    px_pod_t pod;

    (void)now_ms;
    px_podwatch_get(&be->watch, &pod);
    return be->cur && pod.generation != be->attached_generation; /* pod replaced or restarted */
}

static size_t attach_pod_ips(px_backend_t *pb, char (*ips)[PX_IP_TEXT], size_t max)
{
    attach_be_t *be = (attach_be_t *)pb;

    return be->watching ? px_podwatch_ips(&be->watch, ips, max) : 0;
}

static void attach_free(px_backend_t *pb)
{
    attach_be_t *be = (attach_be_t *)pb;

    be->stop = 1;
    if (be->watching)
        px_podwatch_stop(&be->watch);
    mcp_kube_free(be->kube);
    SSL_CTX_free(be->ssl_ctx);
    free(be);
}

px_backend_t *px_attach_new(const px_config_t *cfg, char *err, size_t errlen)
{
    attach_be_t *be = calloc(1, sizeof(*be));
    mcp_kube_config_t kc;

    if (!be)
        return NULL;
    be->super.name = "attach";
    be->super.open = attach_open;
    be->super.close = attach_close;
    be->super.tick = attach_tick;
    be->super.free = attach_free;
    be->super.pod_ips = attach_pod_ips;
    be->cfg = cfg;
    be->kube = px_kube_open(&be->stop, &kc, err, errlen);
    if (!be->kube)
        goto fail;
    if (split_server(kc.server, be->host, sizeof(be->host), be->port, sizeof(be->port)) != 0)
        snprintf(err, errlen, "apiserver URL %s is not https://host[:port]", kc.server);
    else
        be->ssl_ctx = tls_ctx(&kc, err, errlen);
    mcp_kube_config_dispose(&kc);
    if (!be->ssl_ctx)
        goto fail;
    if (px_podwatch_start(&be->watch, be->kube, cfg->ns, cfg->pod, cfg->container) != 0) {
        snprintf(err, errlen, "cannot start a thread");
        goto fail;
    }
    be->watching = 1;
    return &be->super;
fail:
    attach_free(&be->super);
    return NULL;
}
