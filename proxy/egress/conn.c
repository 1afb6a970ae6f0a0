/* One egress connection, on the event loop: the request head (request.c),
 * the decision (rules.c), the name resolved on h2o's getaddrinfo thread and
 * every address classified, a connect to the first allowed one, then a
 * relay of bytes both ways (CONNECT: untouched after "200 Connection
 * established"; absolute-form: the rewritten head, exactly the request's
 * body, and the answer until the origin closes). Each direction has at most
 * one read buffer in flight: its reader stops while the write to the other
 * side is pending, so a slow peer holds back the fast one instead of
 * growing memory (reads are bounded by SO_RCVBUF). Every phase has a
 * deadline; every end writes one log line. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "mcp/log.h"
#include "private.h"
#include "request.h"

typedef enum phase { P_HEAD, P_RESOLVE, P_CONNECT, P_RELAY, P_ANSWER } phase_t;

typedef struct conn conn_t;

/* A name lookup outlives its connection when that ends first. */
typedef struct lookup {
    conn_t *c; /* NULL once the connection is gone */
    px_egress_t *eg;
} lookup_t;

struct conn {
    px_egress_t *eg;
    h2o_linklist_t link;
    h2o_socket_t *client, *origin;
    h2o_timeout_entry_t timer;
    lookup_t *lookup;
    phase_t phase;
    mcp_eg_request_t req;
    mcp_buf_t out; /* the head for the origin, or our own answer */
    mcp_eg_match_t match;
    int status;     /* what the client was answered: ours, or the origin's */
    int refused;    /* the decision */
    int eof[2];     /* [1] client to origin, [0] origin to client: no more bytes */
    size_t busy[2]; /* bytes of the source's input being written, per direction */
    uint64_t bytes[2], started;
    char peer[PX_IP_TEXT + 8], addr[PX_IP_TEXT + 8], reason[400];
};

static void on_read(h2o_socket_t *sock, const char *err);

/* ---- the end -------------------------------------------------------------------------------- */

static const char *match_text(mcp_eg_match_t m)
{
    return m == MCP_EG_ALLOW_EXACT    ? "an exact allow_host entry"
           : m == MCP_EG_ALLOW_SUFFIX ? "a domain allow_host entry"
           : m == MCP_EG_ALLOW_ANY    ? "allow_port without allow_host"
                                      : "insecure_allow_all";
}

static void log_line(conn_t *c, const char *end)
{
    char port[8], status[8], up[24], down[24], ms[24];

    snprintf(port, sizeof(port), "%d", c->req.port);
    snprintf(status, sizeof(status), "%d", c->status);
    snprintf(up, sizeof(up), "%llu", (unsigned long long)c->bytes[1]);
    snprintf(down, sizeof(down), "%llu", (unsigned long long)c->bytes[0]);
    snprintf(ms, sizeof(ms), "%llu", (unsigned long long)(h2o_now(c->eg->loop) - c->started));
    mcp_log(MCP_LOG_INFO, "egress connection", "client", c->peer, "host", c->req.host, "port", port,
            "kind",
            c->req.kind == MCP_EG_CONNECT ? "connect"
            : c->req.kind                 ? "http"
                                          : "none",
            "decision", c->refused ? "refused" : "allowed", "reason", c->reason, "address", c->addr,
            "status", status, "bytes_up", up, "bytes_down", down, "duration_ms", ms, "end", end,
            NULL);
}

static void finish(conn_t *c, const char *end)
{
    log_line(c, end);
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    if (c->lookup)
        c->lookup->c = NULL; /* its answer is dropped when it comes */
    if (c->origin)
        h2o_socket_close(c->origin);
    h2o_socket_close(c->client);
    h2o_linklist_unlink(&c->link);
    c->eg->n_conns--;
    mcp_buf_dispose(&c->out);
    free(c);
}

static void arm(conn_t *c, h2o_timeout_t *t)
{
    if (h2o_timeout_is_linked(&c->timer))
        h2o_timeout_unlink(&c->timer);
    h2o_timeout_link(c->eg->loop, t, &c->timer);
}

/* Our answer is out: drop what the client still sends (so closing does not
 * reset the connection before it reads the answer), then close. */
static void on_answered(h2o_socket_t *sock, const char *err)
{
    conn_t *c = sock->data;
    char sink[4096];
    int fd = h2o_socket_get_fd(sock);

    if (!err) {
        while (recv(fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
            ;
        shutdown(fd, SHUT_WR);
    }
    finish(c, err ? "the client did not take the answer" : "answered");
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 400:
        return "Bad Request";
    case 403:
        return "Forbidden";
    case 408:
        return "Request Timeout";
    case 502:
        return "Bad Gateway";
    case 503:
        return "Service Unavailable";
    default:
        return "Gateway Timeout";
    }
}

/* Refuse with `status` and a one-line text body naming why (also the log's reason). */
static void answer(conn_t *c, int status, const char *why)
{
    h2o_iovec_t iov;

    c->refused = 1;
    c->status = status;
    snprintf(c->reason, sizeof(c->reason), "%s", why);
    if (c->lookup) { /* timed out: its answer, when it comes, is dropped */
        c->lookup->c = NULL;
        c->lookup = NULL;
    }
    if (c->origin) {
        h2o_socket_close(c->origin);
        c->origin = NULL;
    }
    h2o_socket_read_stop(c->client);
    mcp_buf_reset(&c->out); /* the rewritten head is not needed any more */
    if (mcp_buf_addf(&c->out,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\nmcp-proxy egress: %s\n",
                     status, reason_phrase(status), strlen(why) + 19, why) != 0) {
        finish(c, "out of memory");
        return;
    }
    c->phase = P_ANSWER;
    arm(c, &c->eg->linger_timeout);
    iov = h2o_iovec_init(c->out.data, c->out.len);
    h2o_socket_write(c->client, &iov, 1, on_answered);
}

static void answerf(conn_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void answerf(conn_t *c, int status, const char *fmt, ...)
{
    char why[sizeof(c->reason)];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    answer(c, status, why);
}

static void on_timeout(h2o_timeout_entry_t *entry)
{
    conn_t *c = H2O_STRUCT_FROM_MEMBER(conn_t, timer, entry);
    int secs = (int)c->eg->cfg->egress_connect_timeout;

    switch (c->phase) {
    case P_HEAD:
        answerf(c, 408, "no complete request head within %d s", MCP_EG_HEAD_TIMEOUT_MS / 1000);
        break;
    case P_RESOLVE:
        answerf(c, 504, "resolving \"%s\" took longer than %d s", c->req.host, secs);
        break;
    case P_CONNECT:
        answerf(c, 504, "connecting to %s took longer than %d s", c->addr, secs);
        break;
    case P_RELAY:
        finish(c, "idle timeout");
        break;
    case P_ANSWER:
        finish(c, "the client did not take the answer in time");
    }
}

/* ---- the relay
 * ------------------------------------------------------------------------------------ */

static h2o_socket_t *source(conn_t *c, int up)
{
    return up ? c->client : c->origin;
}

static h2o_socket_t *sink(conn_t *c, int up)
{
    return up ? c->origin : c->client;
}

/* Both ways are over (a tunnel), or the answer is (a forwarded request). */
static int over(conn_t *c)
{
    if (c->busy[0] || c->busy[1])
        return 0;
    return c->req.kind == MCP_EG_FORWARD ? c->eof[0] : c->eof[0] && c->eof[1];
}

/* No more bytes this way: pass the end on (a forwarded request's origin
 * keeps its side open: it answers, then closes). */
static void end_direction(conn_t *c, int up)
{
    c->eof[up] = 1;
    h2o_socket_read_stop(source(c, up));
    if (!c->busy[up] && !(up && c->req.kind == MCP_EG_FORWARD))
        shutdown(h2o_socket_get_fd(sink(c, up)), SHUT_WR);
    if (over(c))
        finish(c, "closed");
}

/* The origin's status code, from the start of its answer. */
static void note_status(conn_t *c, const char *p, size_t n)
{
    if (c->req.kind == MCP_EG_FORWARD && c->status == 0 && n >= 12 && memcmp(p, "HTTP/1.", 7) == 0)
        c->status = atoi(p + 9);
}

static void on_written(h2o_socket_t *sock, const char *err);

/* Write what the source holds to the sink, or read on. */
static void pump(conn_t *c, int up)
{
    h2o_socket_t *src = source(c, up);
    size_t n = src->input->size;
    h2o_iovec_t iov;

    if (up && c->req.kind == MCP_EG_FORWARD) {
        ssize_t t = mcp_eg_body_take(&c->req.body, src->input->bytes, n);

        if (t < 0) {
            finish(c, "bad chunked request body");
            return;
        }
        n = (size_t)t;
    }
    if (n == 0) {
        if (up && c->req.body.done && c->req.kind == MCP_EG_FORWARD)
            end_direction(c, 1); /* the one request is through: the rest is not passed */
        else
            h2o_socket_read_start(src, on_read);
        return;
    }
    if (!up)
        note_status(c, src->input->bytes, n);
    h2o_socket_read_stop(src);
    c->busy[up] = n;
    iov = h2o_iovec_init(src->input->bytes, n);
    h2o_socket_write(sink(c, up), &iov, 1, on_written);
}

static void on_written(h2o_socket_t *sock, const char *err)
{
    conn_t *c = sock->data;
    int up = sock == c->origin;

    if (err) {
        finish(c, up ? "writing to the origin failed" : "writing to the client failed");
        return;
    }
    h2o_buffer_consume(&source(c, up)->input, c->busy[up]);
    c->bytes[up] += c->busy[up];
    c->busy[up] = 0;
    if (!c->eof[up]) {
        pump(c, up); /* may end the connection: c is not touched after it */
        return;
    }
    if (!(up && c->req.kind == MCP_EG_FORWARD))
        shutdown(h2o_socket_get_fd(sock), SHUT_WR);
    if (over(c))
        finish(c, "closed");
}

static void on_read(h2o_socket_t *sock, const char *err)
{
    conn_t *c = sock->data;
    int up = sock == c->client;

    arm(c, &c->eg->idle_timeout);
    if (err) {
        if (up && c->req.kind == MCP_EG_FORWARD && !c->req.body.done) {
            finish(c, "the client closed in the middle of its request");
            return;
        }
        end_direction(c, up);
        return;
    }
    pump(c, up);
}

/* Both ways open: the client's bytes after its head first. */
static void relay(conn_t *c)
{
    c->phase = P_RELAY;
    arm(c, &c->eg->idle_timeout);
    h2o_socket_read_start(c->origin, on_read);
    pump(c, 1);
}

static void on_established(h2o_socket_t *sock, const char *err)
{
    conn_t *c = sock->data;

    if (err) {
        finish(c, "writing to the client failed");
        return;
    }
    relay(c);
}

/* The origin is connected: answer 200 (CONNECT) or send the new head. */
static void start(conn_t *c)
{
    h2o_iovec_t iov;

    c->refused = 0;
    snprintf(c->reason, sizeof(c->reason), "%s", match_text(c->match));
    h2o_buffer_consume(&c->client->input, c->req.head_len);
    c->phase = P_RELAY; /* from now on the idle timeout: the connect timeout is over */
    arm(c, &c->eg->idle_timeout);
    if (c->req.kind == MCP_EG_CONNECT) {
        c->status = 200;
        iov = h2o_iovec_init(H2O_STRLIT("HTTP/1.1 200 Connection established\r\n\r\n"));
        h2o_socket_write(c->client, &iov, 1, on_established);
        return;
    }
    h2o_socket_read_start(c->origin, on_read);
    iov = h2o_iovec_init(c->out.data, c->out.len);
    c->busy[1] = 0; /* the head is ours: nothing of the client's input to consume */
    h2o_socket_write(c->origin, &iov, 1, on_written);
}

/* ---- resolve and connect ----------------------------------------------------------------------
 */

static void on_connect(h2o_socket_t *sock, const char *err)
{
    conn_t *c = sock->data;

    if (err) {
        h2o_socket_close(sock);
        c->origin = NULL;
        answerf(c, 502, "cannot connect to %s: %s", c->addr, err);
        return;
    }
    start(c);
}

static void connect_to(conn_t *c, struct sockaddr *sa, socklen_t len)
{
    int rcvbuf = MCP_EG_RCVBUF;

    c->phase = P_CONNECT;
    c->origin = h2o_socket_connect(c->eg->loop, sa, len, on_connect);
    if (!c->origin) {
        answerf(c, 502, "cannot connect to %s: %s", c->addr, strerror(errno));
        return;
    }
    c->origin->data = c;
    setsockopt(h2o_socket_get_fd(c->origin), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    arm(c, &c->eg->connect_timeout);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t len)
{
    char ip[PX_IP_TEXT] = "?";
    const void *a = sa->sa_family == AF_INET
                        ? (const void *)&((struct sockaddr_in *)sa)->sin_addr
                        : (const void *)&((struct sockaddr_in6 *)sa)->sin6_addr;

    inet_ntop(sa->sa_family, a, ip, sizeof(ip));
    snprintf(out, len, "%s", ip);
}

/* Refused: the first address's class names the rule. */
static void refuse_address(conn_t *c, mcp_eg_addr_class_t cls, const char *ip)
{
    const char *rule = cls == MCP_EG_PRIVATE
                           ? "and no exact allow_host entry names it"
                           : "which only an allow_host entry of that very IP address allows";

    if (c->req.is_ip)
        answerf(c, 403, "%s is %s, %s", c->req.host, mcp_eg_addr_class_text(cls), rule);
    else
        answerf(c, 403, "\"%s\" resolves to %s, %s, %s", c->req.host, ip,
                mcp_eg_addr_class_text(cls), rule);
}

/* Connect to the first address the rules allow. */
static void choose(conn_t *c, struct addrinfo *res)
{
    mcp_eg_addr_class_t first = MCP_EG_PUBLIC;
    char first_ip[PX_IP_TEXT] = "";

    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        mcp_eg_addr_class_t cls;

        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        cls = mcp_eg_addr_classify(ai->ai_addr);
        addr_text(ai->ai_addr, c->addr, sizeof(c->addr));
        if (mcp_eg_addr_allowed(cls, c->match, c->req.is_ip)) {
            connect_to(c, ai->ai_addr, ai->ai_addrlen);
            return;
        }
        if (!first_ip[0]) {
            first = cls;
            snprintf(first_ip, sizeof(first_ip), "%s", c->addr);
        }
    }
    if (!first_ip[0]) {
        answerf(c, 502, "\"%s\" has no IPv4 or IPv6 address", c->req.host);
        return;
    }
    c->addr[0] = '\0';
    refuse_address(c, first, first_ip);
}

static void on_resolved(h2o_hostinfo_getaddr_req_t *req, const char *errstr, struct addrinfo *res,
                        void *data)
{
    lookup_t *lk = data;
    conn_t *c = lk->c;

    (void)req;
    lk->eg->lookups--;
    free(lk);
    if (!c)
        return;
    c->lookup = NULL;
    if (errstr)
        answerf(c, 502, "cannot resolve \"%s\": %s", c->req.host, errstr);
    else
        choose(c, res);
}

/* An IP literal is its own address; a name is resolved on h2o's thread. */
static void resolve(conn_t *c)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char port[8];

    snprintf(port, sizeof(port), "%d", c->req.port);
    if (c->req.is_ip) { /* numeric: getaddrinfo does not block */
        if (getaddrinfo(c->req.host, port, &hints, &res) != 0 || !res) {
            answerf(c, 400, "bad IP address %s", c->req.host);
            return;
        }
        choose(c, res);
        freeaddrinfo(res);
        return;
    }
    c->lookup = calloc(1, sizeof(*c->lookup));
    if (!c->lookup) {
        finish(c, "out of memory");
        return;
    }
    c->lookup->c = c;
    c->lookup->eg = c->eg;
    c->eg->lookups++;
    c->phase = P_RESOLVE;
    arm(c, &c->eg->connect_timeout);
    h2o_hostinfo_getaddr(&c->eg->resolver, h2o_iovec_init(c->req.host, strlen(c->req.host)),
                         h2o_iovec_init(port, strlen(port)), AF_UNSPEC, SOCK_STREAM, IPPROTO_TCP,
                         AI_ADDRCONFIG | AI_NUMERICSERV, on_resolved, c->lookup);
}

/* ---- the head
 * ------------------------------------------------------------------------------------ */

static void decide(conn_t *c)
{
    char why[sizeof(c->reason)];

    c->match =
        mcp_eg_rules_match(&c->eg->rules, c->req.host, c->req.is_ip, c->req.port, why, sizeof(why));
    if (c->match < MCP_EG_ALLOW_EXACT) {
        answer(c, 403, why);
        return;
    }
    resolve(c);
}

static void on_head(h2o_socket_t *sock, const char *err)
{
    conn_t *c = sock->data;
    char why[200];
    int rc;

    if (err) {
        finish(c, "the client closed before its request head was complete");
        return;
    }
    rc = mcp_eg_request_parse(sock->input->bytes, sock->input->size, &c->req, &c->out, why,
                              sizeof(why));
    if (rc == 0)
        return;
    h2o_socket_read_stop(sock);
    if (rc < 0) {
        memset(c->req.host, 0, sizeof(c->req.host));
        answer(c, 400, why);
        return;
    }
    decide(c);
}

void mcp_eg_conn_start(px_egress_t *eg, h2o_socket_t *sock, const char *peer)
{
    conn_t *c = calloc(1, sizeof(*c));
    int rcvbuf = MCP_EG_RCVBUF;

    if (!c) {
        h2o_socket_close(sock);
        return;
    }
    c->eg = eg;
    c->client = sock;
    c->started = h2o_now(eg->loop);
    c->timer.cb = on_timeout;
    snprintf(c->peer, sizeof(c->peer), "%s", peer);
    snprintf(c->reason, sizeof(c->reason), "no request yet");
    mcp_buf_init(&c->out, MCP_EG_FWD_MAX);
    sock->data = c;
    setsockopt(h2o_socket_get_fd(sock), SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    h2o_linklist_insert(&eg->conns, &c->link);
    eg->n_conns++;
    arm(c, &eg->head_timeout);
    h2o_socket_read_start(sock, on_head);
}

void mcp_eg_conn_close_all(px_egress_t *eg, const char *why)
{
    while (!h2o_linklist_is_empty(&eg->conns))
        finish(H2O_STRUCT_FROM_MEMBER(conn_t, link, eg->conns.next), why);
}
