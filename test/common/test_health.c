/* Tests for the health/metrics server over real loopback sockets: routes,
 * status lines and headers, request caps, a silent client that must not
 * hold up others, and a clean stop. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "mcp/buf.h"
#include "mcp/health.h"

typedef struct fake {
    int ready;
    size_t metrics_bytes; /* 0: a short fixed text */
} fake_t;

typedef struct response {
    int status;
    long content_length; /* -1 when missing */
    char head[2048];
    char *body;
    size_t body_len;
} response_t;

static int fake_ready(void *ctx)
{
    return ((fake_t *)ctx)->ready;
}

static void fake_metrics(void *ctx, mcp_buf_t *out)
{
    fake_t *f = ctx;

    if (f->metrics_bytes == 0) {
        mcp_buf_adds(out, "# TYPE mcp_up gauge\nmcp_up 1\n");
        return;
    }
    for (size_t i = 0; i < f->metrics_bytes; i++)
        if (mcp_buf_add(out, "x", 1) != 0)
            return;
}

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_to(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    assert_true(fd >= 0);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    return fd;
}

/* Connect to `ip` (an IPv4 or IPv6 literal); -1 when that family is not
 * there at all (no IPv6 on the host). */
static int connect_ip(const char *ip, int port)
{
    struct sockaddr_storage ss = {0};
    socklen_t len;
    int fd;

    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;

        a->sin6_family = AF_INET6;
        a->sin6_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
        len = sizeof(*a);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;

        a->sin_family = AF_INET;
        a->sin_port = htons((uint16_t)port);
        assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
        len = sizeof(*a);
    }
    fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 && errno == EAFNOSUPPORT)
        return -1;
    assert_true(fd >= 0);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;

        close(fd);
        if (e == EADDRNOTAVAIL || e == ENETUNREACH || e == EAFNOSUPPORT)
            return -1;
        fail_msg("connect to %s:%d: %s", ip, port, strerror(e));
    }
    return fd;
}

/* A host with IPv6 on loopback (::1 can be bound). */
static int have_ipv6(void)
{
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

    if (fd < 0)
        return 0;
    ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

static void send_str(int fd, const char *s)
{
    size_t n = strlen(s);

    assert_int_equal(send(fd, s, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Read until EOF (or timeout_ms passes) and split the response. */
static void read_response(int fd, int timeout_ms, response_t *r)
{
    size_t len = 0, cap = 4096;
    char *all = malloc(cap), *end, *cl;
    long long deadline = now_ms() + timeout_ms;

    assert_non_null(all);
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        long long left = deadline - now_ms();
        ssize_t n;

        if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
            fail_msg("no complete response within %d ms", timeout_ms);
        if (len + 1024 > cap) {
            cap *= 2;
            all = realloc(all, cap);
            assert_non_null(all);
        }
        n = recv(fd, all + len, cap - len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    all[len] = '\0';
    memset(r, 0, sizeof(*r));
    end = strstr(all, "\r\n\r\n");
    assert_non_null(end);
    assert_true((size_t)(end - all) < sizeof(r->head));
    memcpy(r->head, all, (size_t)(end - all) + 2);
    assert_int_equal(sscanf(all, "HTTP/1.1 %d ", &r->status), 1);
    cl = strstr(r->head, "\r\nContent-Length: ");
    r->content_length = cl ? strtol(cl + 18, NULL, 10) : -1;
    r->body_len = len - (size_t)(end + 4 - all);
    r->body = malloc(r->body_len + 1);
    assert_non_null(r->body);
    memcpy(r->body, end + 4, r->body_len + 1);
    free(all);
}

static void request(int port, const char *req, response_t *r)
{
    int fd = connect_to(port);

    send_str(fd, req);
    read_response(fd, 3000, r);
    close(fd);
}

static mcp_health_t *start(fake_t *f)
{
    mcp_health_ops_t ops = {.ready = fake_ready, .metrics = fake_metrics, .ctx = f};
    char err[256] = "";
    mcp_health_t *h = mcp_health_start("127.0.0.1", 0, &ops, err, sizeof(err));

    if (!h)
        fail_msg("mcp_health_start: %s", err);
    assert_true(mcp_health_port(h) > 0);
    return h;
}

static void expect(const response_t *r, int status, const char *body)
{
    assert_int_equal(r->status, status);
    assert_non_null(strstr(r->head, "\r\nConnection: close\r\n"));
    assert_int_equal(r->content_length, (long)r->body_len);
    if (body)
        assert_string_equal(r->body, body);
}

static void test_routes(void **state)
{
    fake_t f = {.ready = 1};
    mcp_health_t *h = start(&f);
    int port = mcp_health_port(h);
    response_t r;

    (void)state;
    request(port, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect(&r, 200, "ok\n");
    free(r.body);

    request(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect(&r, 200, "ok\n");
    free(r.body);

    f.ready = 0;
    request(port, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect(&r, 503, "not ready\n");
    free(r.body);

    request(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    expect(&r, 200, "# TYPE mcp_up gauge\nmcp_up 1\n");
    assert_non_null(strstr(r.head, "\r\nContent-Type: text/plain; version=0.0.4"));
    free(r.body);

    request(port, "GET /healthz?verbose=1 HTTP/1.0\r\n\r\n", &r);
    expect(&r, 200, "ok\n");
    free(r.body);

    request(port, "GET /nope HTTP/1.1\r\n\r\n", &r);
    expect(&r, 404, NULL);
    free(r.body);

    request(port, "GET /healthzz HTTP/1.1\r\n\r\n", &r);
    expect(&r, 404, NULL);
    free(r.body);

    request(port, "POST /healthz HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r);
    expect(&r, 405, NULL);
    assert_non_null(strstr(r.head, "\r\nAllow: GET, HEAD"));
    free(r.body);

    request(port, "DELETE /metrics HTTP/1.1\r\n\r\n", &r);
    expect(&r, 405, NULL);
    free(r.body);

    request(port, "nonsense\r\n\r\n", &r);
    expect(&r, 400, NULL);
    free(r.body);

    mcp_health_stop(h);
}

static void test_head(void **state)
{
    fake_t f = {.ready = 1};
    mcp_health_t *h = start(&f);
    response_t r;

    (void)state;
    request(mcp_health_port(h), "HEAD /healthz HTTP/1.1\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.content_length, 3);
    assert_int_equal(r.body_len, 0);
    free(r.body);
    mcp_health_stop(h);
}

/* HTTP/1.1 only (DESIGN §5): the HTTP/2 preface is a bad request and
 * Upgrade: h2c is ignored, on the health port of every daemon. */
static void test_http1_only(void **state)
{
    fake_t f = {.ready = 1};
    mcp_health_t *h = start(&f);
    response_t r;

    (void)state;
    request(mcp_health_port(h), "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", &r);
    expect(&r, 400, NULL);
    free(r.body);
    request(mcp_health_port(h),
            "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: Upgrade, HTTP2-Settings\r\n"
            "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
            &r);
    expect(&r, 200, "ok\n");
    assert_null(strstr(r.head, "Upgrade"));
    free(r.body);
    mcp_health_stop(h);
}

static void test_null_ops(void **state)
{
    char err[256] = "";
    mcp_health_t *h = mcp_health_start(NULL, 0, NULL, err, sizeof(err));
    response_t r;

    (void)state;
    assert_non_null(h);
    request(mcp_health_port(h), "GET /readyz HTTP/1.1\r\n\r\n", &r);
    expect(&r, 200, "ok\n");
    free(r.body);
    request(mcp_health_port(h), "GET /metrics HTTP/1.1\r\n\r\n", &r);
    expect(&r, 200, "");
    free(r.body);
    mcp_health_stop(h);
}

static void test_large_metrics(void **state)
{
    fake_t f = {.ready = 1, .metrics_bytes = 2 * 1024 * 1024};
    mcp_health_t *h = start(&f);
    response_t r;

    (void)state;
    request(mcp_health_port(h), "GET /metrics HTTP/1.1\r\n\r\n", &r);
    expect(&r, 200, NULL);
    assert_int_equal(r.body_len, 1024 * 1024); /* capped at 1 MiB */
    free(r.body);
    mcp_health_stop(h);
}

static void test_head_too_large(void **state)
{
    fake_t f = {.ready = 1};
    mcp_health_t *h = start(&f);
    int fd = connect_to(mcp_health_port(h));
    char line[1024];
    response_t r;

    (void)state;
    send_str(fd, "GET /healthz HTTP/1.1\r\n");
    memset(line, 'a', sizeof(line) - 3);
    memcpy(line, "X: ", 3);
    line[sizeof(line) - 3] = '\r';
    line[sizeof(line) - 2] = '\n';
    line[sizeof(line) - 1] = '\0';
    /* past the 8 KiB cap; the server may answer and close before the last
     * lines arrive, so a send may fail then (EPIPE, ECONNRESET) */
    for (int i = 0; i < 12; i++)
        if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0)
            break;
    read_response(fd, 3000, &r);
    assert_int_equal(r.status, 431);
    free(r.body);
    close(fd);
    mcp_health_stop(h);
}

/* A client that connects and says nothing must not delay another one. */
static void test_silent_client(void **state)
{
    fake_t f = {.ready = 1};
    mcp_health_t *h = start(&f);
    int port = mcp_health_port(h);
    int idle = connect_to(port), partial = connect_to(port);
    long long t0;
    response_t r;
    char c;

    (void)state;
    send_str(partial, "GET /heal");
    t0 = now_ms();
    request(port, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    expect(&r, 200, "ok\n");
    free(r.body);
    assert_true(now_ms() - t0 < 1000);

    /* The silent ones are dropped after the read timeout, without an answer. */
    struct pollfd pfd = {.fd = idle, .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 3500), 1);
    assert_int_equal(recv(idle, &c, 1, 0), 0);
    pfd.fd = partial;
    assert_int_equal(poll(&pfd, 1, 3500), 1);
    assert_int_equal(recv(partial, &c, 1, 0), 0);
    close(idle);
    close(partial);
    mcp_health_stop(h);
}

/* More silent clients than connection slots: the oldest are dropped, so a
 * real request is still answered at once. */
static void test_many_silent_clients(void **state)
{
    fake_t f = {.ready = 1};
    mcp_health_t *h = start(&f);
    int port = mcp_health_port(h), idle[40];
    long long t0;
    response_t r;

    (void)state;
    for (size_t i = 0; i < 40; i++)
        idle[i] = connect_to(port);
    t0 = now_ms();
    request(port, "GET /healthz HTTP/1.1\r\n\r\n", &r);
    expect(&r, 200, "ok\n");
    free(r.body);
    assert_true(now_ms() - t0 < 1000);
    for (size_t i = 0; i < 40; i++)
        close(idle[i]);
    mcp_health_stop(h);
}

static void test_stop_with_open_connection(void **state)
{
    fake_t f = {.ready = 1};
    mcp_health_t *h = start(&f);
    int fd = connect_to(mcp_health_port(h));
    long long t0 = now_ms();

    (void)state;
    send_str(fd, "GET /he");
    usleep(50 * 1000);
    mcp_health_stop(h);
    assert_true(now_ms() - t0 < 1000);
    close(fd);
    mcp_health_stop(NULL);
}

static void test_bind_errors(void **state)
{
    fake_t f = {.ready = 1};
    mcp_health_ops_t ops = {.ready = fake_ready, .ctx = &f};
    mcp_health_t *h = start(&f), *h2;
    char err[256] = "";

    (void)state;
    h2 = mcp_health_start("127.0.0.1", mcp_health_port(h), &ops, err, sizeof(err));
    assert_null(h2);
    assert_non_null(strstr(err, "health:"));

    err[0] = '\0';
    assert_null(mcp_health_start("127.0.0.1", 70000, &ops, err, sizeof(err)));
    assert_true(err[0] != '\0');
    err[0] = '\0';
    assert_null(mcp_health_start("not an address", 0, &ops, err, sizeof(err)));
    assert_true(err[0] != '\0');
    assert_null(mcp_health_start("127.0.0.1", -1, &ops, NULL, 0));
    mcp_health_stop(h);
}

/* With no address the endpoint is dual-stack: 127.0.0.1 and ::1 both reach
 * it (before, it listened on IPv4 only and IPv6 probes failed). */
static void test_dual_stack(void **state)
{
    fake_t f = {.ready = 1};
    mcp_health_ops_t ops = {.ready = fake_ready, .metrics = fake_metrics, .ctx = &f};
    char err[256] = "";
    mcp_health_t *h = mcp_health_start(NULL, 0, &ops, err, sizeof(err));
    const char *const ips[] = {"127.0.0.1", "::1"};

    (void)state;
    if (!h)
        fail_msg("mcp_health_start: %s", err);
    for (size_t i = 0; i < 2; i++) {
        int fd = connect_ip(ips[i], mcp_health_port(h));
        response_t r;

        if (fd < 0 && i == 1 && !have_ipv6()) {
            print_message("no IPv6 on this host: ::1 not checked\n");
            continue;
        }
        if (fd < 0)
            fail_msg("%s did not reach the health endpoint", ips[i]);
        send_str(fd, "GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n");
        read_response(fd, 3000, &r);
        close(fd);
        expect(&r, 200, "ok\n");
        free(r.body);
    }
    mcp_health_stop(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_http1_only),
        cmocka_unit_test(test_null_ops),
        cmocka_unit_test(test_large_metrics),
        cmocka_unit_test(test_head_too_large),
        cmocka_unit_test(test_silent_client),
        cmocka_unit_test(test_many_silent_clients),
        cmocka_unit_test(test_stop_with_open_connection),
        cmocka_unit_test(test_bind_errors),
        cmocka_unit_test(test_dual_stack),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
