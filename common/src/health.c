/* The health/metrics HTTP server (see mcp/health.h).
 *
 * With no address it listens dual-stack (IPv6 "::" taking IPv4 too), or on
 * IPv4 alone where the host has no IPv6, so probes work on IPv4, IPv6 and
 * dual-stack clusters alike. One thread runs a poll() loop over a self-pipe (stop), the listening
 * socket and up to HEALTH_MAX_CONNS client sockets, all non-blocking. A client gets
 * HEALTH_TIMEOUT_MS to send a request head of at most HEALTH_HEAD_CAP bytes;
 * a silent client holds one slot for a while but never delays the others,
 * and when every slot is taken the longest-waiting client is dropped. Each connection carries one
 * request and is closed after the answer (Connection: close), which is written with its own
 * HEALTH_TIMEOUT_MS cap. The ops callbacks run on this thread; they must be thread-safe with
 * respect to the daemon that owns them. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <poll.h>
#include <unistd.h>

#include "mcp/net.h"
#include "mcp/buf.h"
#include "mcp/health.h"

#define HEALTH_MAX_CONNS         16
#define HEALTH_HEAD_CAP          8192
#define HEALTH_TIMEOUT_MS        2000
#define HEALTH_METRICS_CAP       (1024 * 1024)
#define HEALTH_BACKLOG           64
#define HEALTH_ACCEPT_BATCH      64
#define HEALTH_DRAIN_READS       16
#define HEALTH_ACCEPT_BACKOFF_MS 100

typedef struct conn {
    int fd; /* -1 when the slot is free */
    size_t len;
    long long deadline; /* monotonic ms */
    char head[HEALTH_HEAD_CAP];
} conn_t;

struct mcp_health {
    int lfd;
    int wake[2]; /* self-pipe: a byte on wake[1] stops the loop */
    int port;
    pthread_t thread;
    mcp_health_ops_t ops;
    conn_t conns[HEALTH_MAX_CONNS];
};

typedef struct reply {
    int status;
    const char *reason;
    const char *type;
    const char *extra; /* extra header lines, each ending in CRLF */
    const char *body;
    size_t len;
} reply_t;

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- responses ------------------------------------------------------------- */

/* Send all of p within the deadline; false when the peer is gone or slow. */
static bool send_all(int fd, const char *p, size_t n, long long deadline)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            long long left = deadline - now_ms();

            if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
                return false;
            continue;
        }
        return false;
    }
    return true;
}

static void send_reply(int fd, const reply_t *r, bool head_only)
{
    char hdr[512];
    long long deadline = now_ms() + HEALTH_TIMEOUT_MS;
    int n = snprintf(hdr, sizeof(hdr),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n",
                     r->status, r->reason, r->type, r->len, r->extra ? r->extra : "");

    if (n < 0 || (size_t)n >= sizeof(hdr))
        return;
    if (!send_all(fd, hdr, (size_t)n, deadline) || head_only)
        return;
    send_all(fd, r->body, r->len, deadline);
}

static void send_text(int fd, int status, const char *reason, const char *body, bool head_only)
{
    reply_t r = {status, reason, "text/plain; charset=utf-8", NULL, body, strlen(body)};

    if (status == 405)
        r.extra = "Allow: GET, HEAD\r\n";
    send_reply(fd, &r, head_only);
}

static void send_metrics(mcp_health_t *h, int fd, bool head_only)
{
    mcp_buf_t b;
    reply_t r = {200, "OK", "text/plain; version=0.0.4", NULL, "", 0};

    mcp_buf_init(&b, HEALTH_METRICS_CAP);
    if (h->ops.metrics)
        h->ops.metrics(h->ops.ctx, &b);
    if (b.data) {
        r.body = b.data;
        r.len = b.len;
    }
    send_reply(fd, &r, head_only);
    mcp_buf_dispose(&b);
}

/* Split "METHOD SP target SP HTTP/x.y" (the first line of head). */
static bool parse_request_line(const char *head, const char **method, size_t *mlen,
                               const char **path, size_t *plen)
{
    const char *p = head, *sp;
    size_t line = strcspn(head, "\r\n");

    sp = memchr(p, ' ', line);
    if (!sp || sp == p)
        return false;
    *method = p;
    *mlen = (size_t)(sp - p);
    p = sp + 1;
    line -= *mlen + 1;
    sp = memchr(p, ' ', line);
    if (!sp || sp == p || p[0] != '/' || line - (size_t)(sp - p) < 9 ||
        strncmp(sp + 1, "HTTP/1.", 7) != 0)
        return false;
    *path = p;
    *plen = strcspn(p, "? ");
    return true;
}

static bool path_is(const char *p, size_t n, const char *want)
{
    return strlen(want) == n && memcmp(p, want, n) == 0;
}

static void answer(mcp_health_t *h, conn_t *c)
{
    const char *method, *path;
    size_t mlen, plen;
    bool head_only;

    if (!parse_request_line(c->head, &method, &mlen, &path, &plen)) {
        send_text(c->fd, 400, "Bad Request", "bad request\n", false);
        return;
    }
    head_only = mlen == 4 && memcmp(method, "HEAD", 4) == 0;
    if (!head_only && !(mlen == 3 && memcmp(method, "GET", 3) == 0))
        send_text(c->fd, 405, "Method Not Allowed", "method not allowed\n", false);
    else if (path_is(path, plen, "/healthz"))
        send_text(c->fd, 200, "OK", "ok\n", head_only);
    else if (path_is(path, plen, "/readyz") && (!h->ops.ready || h->ops.ready(h->ops.ctx)))
        send_text(c->fd, 200, "OK", "ok\n", head_only);
    else if (path_is(path, plen, "/readyz"))
        send_text(c->fd, 503, "Service Unavailable", "not ready\n", head_only);
    else if (path_is(path, plen, "/metrics"))
        send_metrics(h, c->fd, head_only);
    else
        send_text(c->fd, 404, "Not Found", "not found\n", head_only);
}

/* ---- connections ------------------------------------------------------------ */

/* Close after a FIN; unread input already queued is discarded first, since
 * closing with unread data resets the connection and can lose the answer. */
static void conn_close(conn_t *c)
{
    char sink[4096];

    if (c->fd < 0)
        return;
    shutdown(c->fd, SHUT_WR);
    for (int i = 0; i < HEALTH_DRAIN_READS && recv(c->fd, sink, sizeof(sink), 0) > 0; i++)
        ;
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static bool head_complete(const conn_t *c)
{
    for (size_t i = 0; i + 1 < c->len; i++) {
        if (c->head[i] != '\n')
            continue;
        if (c->head[i + 1] == '\n' ||
            (i + 2 < c->len && c->head[i + 1] == '\r' && c->head[i + 2] == '\n'))
            return true;
    }
    return false;
}

/* Read what the client sent; answer once the head is complete. */
static void conn_read(mcp_health_t *h, conn_t *c)
{
    ssize_t n = recv(c->fd, c->head + c->len, sizeof(c->head) - 1 - c->len, 0);

    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        conn_close(c); /* error, or EOF before a whole head */
        return;
    }
    c->len += (size_t)n;
    c->head[c->len] = '\0';
    if (head_complete(c))
        answer(h, c);
    else if (c->len == sizeof(c->head) - 1)
        send_text(c->fd, 431, "Request Header Fields Too Large", "request too large\n", false);
    else
        return;
    conn_close(c);
}

/* A free slot; when all are taken, the client that has waited longest is
 * dropped to make room, so silent clients cannot lock out real probes. */
static conn_t *take_slot(mcp_health_t *h)
{
    conn_t *oldest = &h->conns[0];

    for (size_t i = 0; i < HEALTH_MAX_CONNS; i++) {
        conn_t *c = &h->conns[i];

        if (c->fd < 0)
            return c;
        if (c->deadline < oldest->deadline)
            oldest = c;
    }
    conn_close(oldest);
    return oldest;
}

/* Accept what is pending; returns false on a persistent error (EMFILE...). */
static bool accept_clients(mcp_health_t *h)
{
    for (int i = 0; i < HEALTH_ACCEPT_BATCH; i++) {
        int fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        conn_t *c;

        if (fd < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ||
                   errno == ECONNABORTED;
        c = take_slot(h);
        c->fd = fd;
        c->len = 0;
        c->deadline = now_ms() + HEALTH_TIMEOUT_MS;
    }
    return true;
}

/* ---- the thread --------------------------------------------------------------- */

static void *serve(void *arg)
{
    mcp_health_t *h = arg;
    struct pollfd pfd[2 + HEALTH_MAX_CONNS];
    conn_t *polled[HEALTH_MAX_CONNS];
    long long accept_after = 0;

    for (;;) {
        long long now = now_ms(), next = -1;
        size_t n = 0;
        int rc;

        for (size_t i = 0; i < HEALTH_MAX_CONNS; i++) {
            conn_t *c = &h->conns[i];

            if (c->fd < 0)
                continue;
            if (next < 0 || c->deadline < next)
                next = c->deadline;
            pfd[2 + n] = (struct pollfd){.fd = c->fd, .events = POLLIN};
            polled[n++] = c;
        }
        if (accept_after > now && (next < 0 || accept_after < next))
            next = accept_after;
        pfd[0] = (struct pollfd){.fd = h->wake[0], .events = POLLIN};
        pfd[1] = (struct pollfd){.fd = accept_after <= now ? h->lfd : -1, .events = POLLIN};
        rc = poll(pfd, 2 + n, next < 0 ? -1 : (int)(next > now ? next - now : 0));
        if (rc < 0 && errno != EINTR)
            break;
        if (rc > 0 && pfd[0].revents)
            break;
        for (size_t i = 0; rc > 0 && i < n; i++)
            if (pfd[2 + i].revents)
                conn_read(h, polled[i]);
        now = now_ms();
        for (size_t i = 0; i < HEALTH_MAX_CONNS; i++)
            if (h->conns[i].fd >= 0 && h->conns[i].deadline <= now)
                conn_close(&h->conns[i]); /* too slow: drop without an answer */
        if (rc > 0 && pfd[1].revents && !accept_clients(h))
            accept_after = now + HEALTH_ACCEPT_BACKOFF_MS; /* e.g. EMFILE */
    }
    for (size_t i = 0; i < HEALTH_MAX_CONNS; i++)
        conn_close(&h->conns[i]);
    return NULL;
}

/* ---- set-up ----------------------------------------------------------------- */

/* A listening socket for one resolved address; IPv6 sockets also take IPv4
 * (IPV6_V6ONLY off), so "::" serves both stacks. -1 with errno set. */
static int bind_one(const struct addrinfo *ai)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    int one = 1, off = 0, e;

    if (fd < 0)
        return -1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == 0 &&
        (ai->ai_family != AF_INET6 ||
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) == 0) &&
        bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, HEALTH_BACKLOG) == 0)
        return fd;
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

/* Listen on addr:port; with no address, dual-stack on "::", or on
 * "0.0.0.0" where the host has no IPv6. */
static int listen_on(const char *addr, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV | AI_NUMERICHOST};
    const char *const wildcard[] = {"::", "0.0.0.0", NULL};
    const char *const given[] = {addr, NULL};
    const char *const *try = addr ? given : wildcard;
    char service[16];
    int fd = -1, saved = 0;

    snprintf(service, sizeof(service), "%d", port);
    if (addr)
        hints.ai_flags &= ~AI_NUMERICHOST; /* a name is fine when given */
    for (; *try && fd < 0; try++) {
        struct addrinfo *res = NULL;
        int rc = getaddrinfo(*try, service, &hints, &res);

        if (rc != 0) {
            if (addr) {
                set_err(err, errlen, "health: resolve %s: %s", addr, gai_strerror(rc));
                return -1;
            }
            continue;
        }
        for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next)
            if ((fd = bind_one(ai)) < 0)
                saved = errno;
        freeaddrinfo(res);
    }
    if (fd < 0)
        set_err(err, errlen, "health: listen on %s:%d: %s", addr ? addr : "*", port,
                strerror(saved));
    return fd;
}

/* Start the thread with every signal blocked, so signals go to the daemon's
 * own threads. */
static int start_thread(mcp_health_t *h)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    rc = pthread_create(&h->thread, NULL, serve, h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

mcp_health_t *mcp_health_start(const char *addr, int port, const mcp_health_ops_t *ops, char *err,
                               size_t errlen)
{
    mcp_health_t *h;
    int rc;

    if (port < 0 || port > 65535) {
        set_err(err, errlen, "health: port %d out of range", port);
        return NULL;
    }
    h = calloc(1, sizeof(*h));
    if (!h) {
        set_err(err, errlen, "health: out of memory");
        return NULL;
    }
    h->wake[0] = h->wake[1] = -1;
    for (size_t i = 0; i < HEALTH_MAX_CONNS; i++)
        h->conns[i].fd = -1;
    if (ops)
        h->ops = *ops;
    h->lfd = listen_on(addr && *addr ? addr : NULL, port, err, errlen);
    if (h->lfd < 0)
        goto fail_listen;
    h->port = mcp_bound_port(h->lfd);
    if (pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) != 0) {
        set_err(err, errlen, "health: pipe: %s", strerror(errno));
        goto fail_pipe;
    }
    rc = start_thread(h);
    if (rc != 0) {
        set_err(err, errlen, "health: thread: %s", strerror(rc));
        goto fail_thread;
    }
    return h;

fail_thread:
    close(h->wake[0]);
    close(h->wake[1]);
fail_pipe:
    close(h->lfd);
fail_listen:
    free(h);
    return NULL;
}

int mcp_health_port(const mcp_health_t *h)
{
    return h ? h->port : -1;
}

void mcp_health_stop(mcp_health_t *h)
{
    ssize_t w;

    if (!h)
        return;
    do
        w = write(h->wake[1], "x", 1);
    while (w < 0 && errno == EINTR);
    pthread_join(h->thread, NULL);
    close(h->wake[0]);
    close(h->wake[1]);
    close(h->lfd);
    free(h);
}
