/* The bench baseline: a bare h2o 2.2.5 HTTPS server that answers every
 * request with its own body (HTTP/1.1 only, Content-Length set), built the
 * same way as mcp-webhook (one event loop and SO_REUSEPORT listener per
 * thread, same TLS settings) so the ratio between the two measures the
 * webhook's own per-request work.
 *   usage: echo CERT KEY PORT [THREADS]   (runs until killed) */
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <h2o.h>

#include "mcp/tls.h"

static const h2o_iovec_t alpn_http1[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};
static h2o_globalconf_t config;
static SSL_CTX *ssl_ctx;
static int port;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    static h2o_generator_t generator = {NULL, NULL};
    h2o_iovec_t body =
        h2o_strdup(&req->pool, req->entity.base ? req->entity.base : "", req->entity.len);

    (void)self;
    req->res.status = 200;
    req->res.reason = "OK";
    req->res.content_length = body.len;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_start_response(req, &generator);
    h2o_send(req, &body, 1, H2O_SEND_STATE_FINAL);
    return 0;
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    h2o_accept_ctx_t *actx = listener->data;
    h2o_socket_t *sock;

    if (err)
        return;
    for (int i = 0; i < 16 && (sock = h2o_evloop_socket_accept(listener)) != NULL; i++)
        h2o_accept(actx, sock);
}

static int listen_fd(void)
{
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;

    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 || listen(fd, SOMAXCONN) != 0) {
        perror("listen");
        exit(1);
    }
    return fd;
}

static void *thread_main(void *arg)
{
    h2o_context_t ctx;
    h2o_accept_ctx_t actx = {0};
    h2o_evloop_t *loop = h2o_evloop_create();
    h2o_socket_t *listener;

    (void)arg;
    h2o_context_init(&ctx, loop, &config);
    actx.ctx = &ctx;
    actx.hosts = config.hosts;
    actx.ssl_ctx = ssl_ctx;
    listener = h2o_evloop_socket_create(loop, listen_fd(), H2O_SOCKET_FLAG_DONT_READ);
    listener->data = &actx;
    h2o_socket_read_start(listener, on_accept);
    for (;;)
        h2o_evloop_run(loop, INT32_MAX);
    return NULL;
}

int main(int argc, char **argv)
{
    char err[512];
    int threads = argc > 4 ? atoi(argv[4]) : (int)sysconf(_SC_NPROCESSORS_ONLN);
    h2o_hostconf_t *host;
    h2o_handler_t *h;
    pthread_t tid;

    if (argc < 4) {
        fprintf(stderr, "usage: echo CERT KEY PORT [THREADS]\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    port = atoi(argv[3]);
    ssl_ctx = mcp_tls_server_ctx_new(argv[1], argv[2], err, sizeof(err));
    if (!ssl_ctx) {
        fprintf(stderr, "echo: %s\n", err);
        return 1;
    }
    h2o_ssl_register_alpn_protocols(ssl_ctx, alpn_http1);
    h2o_config_init(&config);
    host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h = h2o_create_handler(h2o_config_register_path(host, "/", 0), sizeof(*h));
    h->on_req = on_req;
    for (int i = 1; i < threads; i++)
        pthread_create(&tid, NULL, thread_main, NULL);
    thread_main(NULL);
    return 0;
}
