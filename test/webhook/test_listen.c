/* The webhook's HTTPS listener as a hostile peer sees it, over real TLS on
 * 127.0.0.1 (certificates from test/webhook/mkcerts.sh): it speaks HTTP/1.1
 * only unless --http2 (issue 18, item 8: h2o switched a connection to
 * HTTP/2 on the preface even after ALPN agreed http/1.1, and DESIGN §3
 * excludes HTTP/2 because Debian's h2o 2.2.5 lacks the Rapid Reset fix), and
 * out of file descriptors it neither spins nor stops serving once
 * descriptors are free again (item 9). The health port has its own test in
 * test/common/test_health.c. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <openssl/ssl.h>

#include "../testutil.h"
#include "../../webhook/internal.h"

/* h2o 2.2.5 leaks by design at thread exit: see test/webhook/lsan.supp. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:h2o_mem_alloc_recycle\nleak:h2o_multithread_create_queue\n";
}

/* The HTTP/2 connection preface and an empty SETTINGS frame (RFC 9113 §3.4). */
static const char preface[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\4\0\0\0\0\0";
static const char h2c_upgrade[] = "GET /healthz HTTP/1.1\r\nHost: x\r\n"
                                  "Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                                  "HTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n";

static char certdir[] = "/tmp/mcp-wh-listen-XXXXXX";
static char binary[512];

static wh_server_t *start(int http2)
{
    char cert[300], key[300], err[512];
    wh_config_t cfg;
    wh_server_t *s;

    tu_pathf(cert, sizeof(cert), "%s/server.crt", certdir);
    tu_pathf(key, sizeof(key), "%s/server.key", certdir);
    wh_config_defaults(&cfg);
    cfg.bind_address = "127.0.0.1";
    cfg.port = 0;
    cfg.health_port = -1;
    cfg.cert_file = cert;
    cfg.key_file = key;
    cfg.workers = 1;
    cfg.http2 = http2;
    cfg.shutdown_timeout = 5;
    s = wh_server_start(&cfg, err, sizeof(err));
    if (!s)
        fail_msg("wh_server_start: %s", err);
    return s;
}

/* A TCP connection to 127.0.0.1:port, or -1 when refused. */
static int tcp_connect(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {2, 0};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* An HTTP/2 server's first bytes are its SETTINGS frame: type 4 on stream 0. */
static int is_h2_settings(const char *p, int n)
{
    return n >= 9 && p[3] == 4 && p[5] == 0 && p[6] == 0 && p[7] == 0 && p[8] == 0;
}

/* Over TLS offering ALPN `alpn` (wire format, NULL for none): send `len`
 * bytes of req, then read what comes back within 2 s into out (at most
 * cap - 1 bytes, NUL-terminated); returns how many bytes came, or -1 when
 * the handshake fails. *selected gets the protocol the server chose ("" for
 * none). */
static int exchange(int port, const char *alpn, const char *req, size_t len, char *out, size_t cap,
                    char selected[16])
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    int fd = tcp_connect(port), n = 0, r = -1;
    const unsigned char *sel = NULL;
    unsigned sel_len = 0;
    SSL *ssl;

    assert_non_null(ctx);
    assert_true(fd >= 0);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    if (alpn)
        SSL_CTX_set_alpn_protos(ctx, (const unsigned char *)alpn, (unsigned)strlen(alpn));
    ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    if (SSL_connect(ssl) == 1) {
        SSL_get0_alpn_selected(ssl, &sel, &sel_len);
        snprintf(selected, 16, "%.*s", (int)sel_len, sel ? (const char *)sel : "");
        assert_int_equal(SSL_write(ssl, req, (int)len), (int)len);
        while ((size_t)n < cap - 1 &&
               (r = SSL_read(ssl, out + n, (int)(cap - 1 - (size_t)n))) > 0) {
            n += r;
            out[n] = '\0';
            if (strstr(out, "\r\n\r\n") || is_h2_settings(out, n))
                break; /* a response head, or HTTP/2's first frame: enough */
        }
        out[n] = '\0';
        r = n;
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
    return r;
}

/* ---- item 8: HTTP/1.1 only ---------------------------------------------------------- */

/* After ALPN agreed http/1.1, and with no ALPN at all, the preface is a bad
 * HTTP/1.1 request, not a switch to HTTP/2. */
static void test_preface_is_not_http2(void **state)
{
    static const char *const alpns[] = {"\x08http/1.1", "\x02h2\x08http/1.1", NULL};
    wh_server_t *s = start(0);
    char buf[4096], sel[16];

    (void)state;
    for (size_t i = 0; i < 3; i++) {
        int n = exchange(wh_server_port(s), alpns[i], preface, sizeof(preface) - 1, buf,
                         sizeof(buf), sel);

        assert_true(n >= 0);
        assert_string_equal(sel, alpns[i] ? "http/1.1" : "");
        if (is_h2_settings(buf, n))
            fail_msg("ALPN agreed '%s', yet the preface switched to HTTP/2", sel);
        if (strncmp(buf, "HTTP/1.1 400 ", 13) != 0)
            fail_msg("ALPN '%s': the preface got %d bytes: %.40s", sel, n, buf);
    }
    assert_int_equal(wh_server_stop(s), 0);
}

/* Upgrade: h2c is ignored; the request is answered in HTTP/1.1. */
static void test_h2c_upgrade_ignored(void **state)
{
    wh_server_t *s = start(0);
    char buf[4096], sel[16];
    int n = exchange(wh_server_port(s), "\x08http/1.1", h2c_upgrade, sizeof(h2c_upgrade) - 1, buf,
                     sizeof(buf), sel);

    (void)state;
    assert_true(n > 0);
    assert_true(strncmp(buf, "HTTP/1.1 404 ", 13) == 0);
    assert_null(strstr(buf, "101 Switching"));
    assert_int_equal(wh_server_stop(s), 0);
}

/* --http2 turns HTTP/2 on: by ALPN, and on the preface too. */
static void test_http2_flag(void **state)
{
    wh_server_t *s = start(1);
    char buf[4096], sel[16];
    int n = exchange(wh_server_port(s), "\x02h2\x08http/1.1", preface, sizeof(preface) - 1, buf,
                     sizeof(buf), sel);

    (void)state;
    assert_string_equal(sel, "h2");
    assert_true(is_h2_settings(buf, n));
    n = exchange(wh_server_port(s), "\x08http/1.1", preface, sizeof(preface) - 1, buf, sizeof(buf),
                 sel);
    assert_string_equal(sel, "http/1.1");
    assert_true(is_h2_settings(buf, n));
    assert_int_equal(wh_server_stop(s), 0);
}

/* ---- item 9: out of file descriptors -------------------------------------------------- */

/* The binary with args, its RLIMIT_NOFILE soft and hard set to nofile
 * (so its own raise to the hard limit cannot lift it); output to log. */
static pid_t spawn_limited(const char *log, rlim_t nofile, char *const *args)
{
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0) {
        /* the limit is set by prlimit(1) after exec: under valgrind (make
         * test-valgrind) this process's own setrlimit is valgrind's, which
         * keeps descriptors for itself and refused the low limit */
        char lim[32], *argv[16] = {"prlimit", lim};
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644), n = 2;

        snprintf(lim, sizeof(lim), "--nofile=%llu", (unsigned long long)nofile);
        for (int i = 0; args[i] && n < 15; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        dup2(fd, 1);
        dup2(fd, 2);
        setenv("LSAN_OPTIONS", "suppressions=test/webhook/lsan.supp", 1);
        execvp("prlimit", argv);
        _exit(127);
    }
    return pid;
}

/* CPU seconds (user + system) pid has used so far. */
static double cpu_s(pid_t pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut = 0, st = 0;
    FILE *f;

    tu_pathf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    assert_non_null(f);
    assert_non_null(fgets(buf, sizeof(buf), f));
    fclose(f);
    p = strrchr(buf, ')'); /* the command name may hold spaces */
    assert_non_null(p);
    /* after ")": state, then fields 4..13, then utime (14) and stime (15) */
    assert_int_equal(
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st), 2);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A plain request over TLS answered (404 for an unknown path). */
static int served(int port)
{
    static const char req[] = "GET /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    char buf[1024], sel[16];
    int fd = tcp_connect(port);

    if (fd < 0)
        return 0;
    close(fd);
    return exchange(port, NULL, req, sizeof(req) - 1, buf, sizeof(buf), sel) > 0 &&
           strncmp(buf, "HTTP/1.1 404 ", 13) == 0;
}

/* With 32 descriptors and 80 clients connected, the worker must not spin on
 * a listener it cannot accept from (it did: 70 % of a CPU), and once the
 * clients leave, a new one is served. */
static void test_out_of_fds(void **state)
{
    enum { CLIENTS = 80 };
    char a[4][320], log[300];
    char *args[] = {binary,
                    a[0],
                    a[1],
                    a[2],
                    "--workers=1",
                    "--health-port=-1",
                    "--drain-seconds=0",
                    "--bind-address=127.0.0.1",
                    NULL};
    int port = tu_free_port(), fds[CLIENTS], ok;
    double t0, used;
    pid_t pid;

    (void)state;
    tu_pathf(a[0], sizeof(a[0]), "--port=%d", port);
    tu_pathf(a[1], sizeof(a[1]), "--tls-cert-file=%s/server.crt", certdir);
    tu_pathf(a[2], sizeof(a[2]), "--tls-key-file=%s/server.key", certdir);
    tu_pathf(log, sizeof(log), "%s/fds.log", certdir);
    pid = spawn_limited(log, 32, args);
    for (t0 = tu_now_s(); !served(port) && tu_now_s() - t0 < 5;)
        tu_sleep_ms(20);
    assert_true(served(port));
    for (int i = 0; i < CLIENTS; i++)
        assert_true((fds[i] = tcp_connect(port)) >= 0); /* the kernel's backlog takes them all */
    tu_sleep_ms(300);
    t0 = cpu_s(pid);
    tu_sleep_ms(1000);
    used = cpu_s(pid) - t0;
    for (int i = 0; i < CLIENTS; i++)
        close(fds[i]);
    for (t0 = tu_now_s(); !served(port) && tu_now_s() - t0 < 5;)
        tu_sleep_ms(50);
    ok = served(port);
    kill(pid, SIGTERM);
    for (t0 = tu_now_s(); waitpid(pid, NULL, WNOHANG) != pid; tu_sleep_ms(20))
        if (tu_now_s() - t0 > 10) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            fail_msg("mcp-webhook did not exit on SIGTERM");
        }
    if (used > 0.3)
        fail_msg("mcp-webhook used %.2f s of CPU in 1 s out of file descriptors", used);
    if (!ok)
        fail_msg("mcp-webhook did not serve once descriptors were free again");
}

/* ---- set-up --------------------------------------------------------------------------- */

static int setup(void **state)
{
    char cmd[700];

    (void)state;
    if (tu_build_path(binary, sizeof(binary), "mcp-webhook") != 0 || !mkdtemp(certdir))
        return -1;
    tu_pathf(cmd, sizeof(cmd), "test/webhook/mkcerts.sh %s server", certdir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[300];

    (void)state;
    if (getenv("MCP_KEEP_TMP"))
        return 0;
    tu_pathf(cmd, sizeof(cmd), "rm -rf %s", certdir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preface_is_not_http2),
        cmocka_unit_test(test_h2c_upgrade_ignored),
        cmocka_unit_test(test_http2_flag),
        cmocka_unit_test(test_out_of_fds),
    };

    signal(SIGPIPE, SIG_IGN);
    return cmocka_run_group_tests(tests, setup, teardown);
}
