/* The egress proxy's listener and state (egress.h): accepting up to
 * --egress-max-connections (more get 503 and Retry-After), only from the
 * MCP server (its pod's IPs, or loopback with --exec; others are closed
 * and logged), and the permission profile, stat()ed once a second and read
 * again when it changed (the kubelet swaps a ConfigMap's `..data` symlink,
 * so the file's inode changes): a profile that does not parse keeps the
 * rules in force, with one error line. Connections: conn.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "mcp/log.h"
#include "mcp/net.h"
#include "private.h"

#define RELOAD_MS        1000
#define WARN_EVERY_MS    1000 /* refused clients: at most one line this often */
#define MIN_DNS_THREADS  4    /* h2o's getaddrinfo threads (its default is 1) */
#define LOOKUP_DRAIN_MS  2000 /* at exit, lookups still running get this long */
#define PROFILE_ERR_TEXT 300
#define ACCEPT_PAUSE_MS  100 /* out of descriptors: accept again after this */

/* ---- the profile
 * ------------------------------------------------------------------------------------ */

/* The whole file (at most MCP_EG_PROFILE_MAX bytes) into *out (malloc'd, the
 * caller frees), its stat in *st. 0 or -1 with the reason in err. */
static int read_file(const char *path, char **out, size_t *len, struct stat *st, char *err,
                     size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = 0;
    char *buf = NULL;

    if (fd < 0 || fstat(fd, st) != 0 || st->st_size > MCP_EG_PROFILE_MAX ||
        !(buf = malloc((size_t)st->st_size + 1))) {
        snprintf(err, errlen, "%s",
                 fd >= 0 && st->st_size > MCP_EG_PROFILE_MAX ? "the file is over 1 MiB"
                                                             : strerror(errno));
        goto fail;
    }
    for (size_t got = 0; got < (size_t)st->st_size; got += (size_t)n)
        if ((n = read(fd, buf + got, (size_t)st->st_size - got)) <= 0) {
            snprintf(err, errlen, "%s", n == 0 ? "the file got shorter" : strerror(errno));
            goto fail;
        }
    close(fd);
    *out = buf;
    *len = (size_t)st->st_size;
    return 0;
fail:
    free(buf);
    if (fd >= 0)
        close(fd);
    return -1;
}

static void rules_loaded(px_egress_t *eg)
{
    char hosts[16], ports[16];

    snprintf(hosts, sizeof(hosts), "%zu", eg->rules.n_hosts);
    snprintf(ports, sizeof(ports), "%zu", eg->rules.n_ports);
    mcp_log(MCP_LOG_INFO, "egress profile loaded", "path", eg->cfg->egress_profile, "allowHost",
            hosts, "allowPort", ports, "insecureAllowAll", eg->rules.allow_all ? "true" : "false",
            NULL);
}

/* Read and parse the profile; `st` is the path's stat() now (NULL: take
 * the opened file's), which the next check compares with. */
static void load(px_egress_t *eg, const struct stat *st_path)
{
    mcp_eg_rules_t fresh;
    char err[PROFILE_ERR_TEXT] = "", *text = NULL;
    size_t len = 0;
    struct stat st = {0};
    int rc = read_file(eg->cfg->egress_profile, &text, &len, &st, err, sizeof(err));

    eg->seen = st_path ? *st_path : st;
    if (rc == 0)
        rc = mcp_eg_rules_parse(text, len, &fresh, err, sizeof(err));
    free(text);
    if (rc != 0) {
        mcp_log(MCP_LOG_ERROR, "egress profile not loaded: the rules in force stay", "path",
                eg->cfg->egress_profile, "error", err[0] ? err : "out of memory", NULL);
        return;
    }
    mcp_eg_rules_dispose(&eg->rules);
    eg->rules = fresh;
    rules_loaded(eg);
}

/* Once a second: stat() only, read and parse when the file changed. */
static void on_reload(h2o_timeout_entry_t *entry)
{
    px_egress_t *eg = H2O_STRUCT_FROM_MEMBER(px_egress_t, reload_entry, entry);
    struct stat st;

    if (stat(eg->cfg->egress_profile, &st) != 0) {
        if (!eg->missing)
            mcp_log(MCP_LOG_ERROR, "egress profile unreadable: the rules in force stay", "path",
                    eg->cfg->egress_profile, "error", strerror(errno), NULL);
        eg->missing = 1;
    } else if (eg->missing || !px_same_file(&st, &eg->seen)) {
        eg->missing = 0;
        load(eg, &st);
    }
    h2o_timeout_link(eg->loop, &eg->reload_timeout, &eg->reload_entry);
}

/* ---- clients
 * ------------------------------------------------------------------------------------------ */

/* sa as an IPv4 or IPv6 address, an IPv4-mapped one as IPv4: 4 or 16 bytes into out, or 0. */
static size_t addr_bytes(const struct sockaddr *sa, uint8_t out[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

    if (sa->sa_family == AF_INET) {
        memcpy(out, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 4;
    }
    if (sa->sa_family != AF_INET6)
        return 0;
    memcpy(out, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
    if (memcmp(out, mapped, 12) != 0)
        return 16;
    memmove(out, out + 12, 4);
    return 4;
}

static int same_ip(const uint8_t *a, size_t alen, const char *text)
{
    uint8_t b[16];

    if (alen == 4 && inet_pton(AF_INET, text, b) == 1)
        return memcmp(a, b, 4) == 0;
    return alen == 16 && inet_pton(AF_INET6, text, b) == 1 && memcmp(a, b, 16) == 0;
}

int px_egress_client_allowed(const px_egress_clients_t *c, const struct sockaddr *sa)
{
    static const uint8_t lo6[16] = {[15] = 1};
    char ips[MCP_EG_MAX_CLIENT_IPS][PX_IP_TEXT];
    uint8_t a[16];
    size_t alen = addr_bytes(sa, a), n;

    if (alen == 0)
        return 0;
    if (c->loopback && ((alen == 4 && a[0] == 127) || (alen == 16 && memcmp(a, lo6, 16) == 0)))
        return 1;
    n = c->pod_ips ? c->pod_ips(c->ctx, ips, MCP_EG_MAX_CLIENT_IPS) : 0;
    for (size_t i = 0; i < n && i < MCP_EG_MAX_CLIENT_IPS; i++)
        if (same_ip(a, alen, ips[i]))
            return 1;
    return 0;
}

/* ---- accepting
 * ---------------------------------------------------------------------------------------- */

/* At most one line a second for refusals of each kind, with their count. */
static void warn_refused(px_egress_t *eg, const char *msg, const char *peer)
{
    uint64_t now = h2o_now(eg->loop);
    char n[24];

    eg->refused_since++;
    if (eg->warned_at && now - eg->warned_at < WARN_EVERY_MS)
        return;
    snprintf(n, sizeof(n), "%llu", (unsigned long long)eg->refused_since);
    mcp_log(MCP_LOG_WARN, msg, "client", peer, "refusedSinceLastLine", n, NULL);
    eg->warned_at = now;
    eg->refused_since = 0;
}

static void busy(px_egress_t *eg, h2o_socket_t *sock, const char *peer)
{
    static const char body[] =
        "mcp-proxy egress: too many connections (--egress-max-connections)\n";
    char text[256];
    int fd = h2o_socket_get_fd(sock), n;

    n = snprintf(
        text, sizeof(text),
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nRetry-After: 1\r\n"
        "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
        sizeof(body) - 1, body);
    if (send(fd, text, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) > 0)
        shutdown(fd, SHUT_WR);
    h2o_socket_close(sock);
    warn_refused(eg, "egress connection refused: --egress-max-connections reached", peer);
}

static void take(void *ctx, h2o_socket_t *sock)
{
    px_egress_t *eg = ctx;
    struct sockaddr_storage ss;
    char peer[PX_IP_TEXT] = "?";
    uint8_t a[16];
    size_t alen;

    if (h2o_socket_getpeername(sock, (struct sockaddr *)&ss) == 0) {
        h2o_socket_close(sock);
        return;
    }
    alen = addr_bytes((struct sockaddr *)&ss, a);
    inet_ntop(alen == 4 ? AF_INET : AF_INET6, a, peer, sizeof(peer));
    if (!px_egress_client_allowed(&eg->clients, (struct sockaddr *)&ss)) {
        h2o_socket_close(sock);
        warn_refused(eg, "egress connection refused: not from the MCP server", peer);
        return;
    }
    if (eg->n_conns >= eg->cfg->egress_max_conns) {
        busy(eg, sock, peer);
        return;
    }
    mcp_eg_conn_start(eg, sock, peer);
}

static void on_accept(h2o_socket_t *listener, const char *err);

static void resume_accepting(h2o_timeout_entry_t *entry)
{
    px_egress_t *eg = H2O_STRUCT_FROM_MEMBER(px_egress_t, accept_entry, entry);

    h2o_socket_read_start(eg->listener, on_accept);
}

/* Out of descriptors the connection stays queued and the listener readable:
 * not watched for ACCEPT_PAUSE_MS, so the loop does not spin on it. */
static void on_accept(h2o_socket_t *listener, const char *err)
{
    px_egress_t *eg = listener->data;
    int exhausted;

    if (err)
        return;
    exhausted = mcp_accept_burst(listener, take, eg);
    if (!exhausted)
        return;
    h2o_socket_read_stop(listener);
    h2o_timeout_link(eg->loop, &eg->accept_timeout, &eg->accept_entry);
    warn_refused(eg, "egress: cannot accept connections, pausing", strerror(exhausted));
}

/* ---- life
 * ------------------------------------------------------------------------------------------------
 */

static void init_timeouts(px_egress_t *eg)
{
    const px_config_t *cfg = eg->cfg;

    h2o_timeout_init(eg->loop, &eg->head_timeout, MCP_EG_HEAD_TIMEOUT_MS);
    h2o_timeout_init(eg->loop, &eg->connect_timeout,
                     (uint64_t)(cfg->egress_connect_timeout * 1000));
    h2o_timeout_init(eg->loop, &eg->idle_timeout, (uint64_t)(cfg->egress_idle_timeout * 1000));
    h2o_timeout_init(eg->loop, &eg->linger_timeout, MCP_EG_LINGER_MS);
    h2o_timeout_init(eg->loop, &eg->reload_timeout, RELOAD_MS);
    h2o_timeout_init(eg->loop, &eg->accept_timeout, ACCEPT_PAUSE_MS);
    eg->accept_entry.cb = resume_accepting;
    eg->reload_entry.cb = on_reload;
    h2o_timeout_link(eg->loop, &eg->reload_timeout, &eg->reload_entry);
}

px_egress_t *px_egress_new(h2o_loop_t *loop, const px_config_t *cfg, int fd,
                           const px_egress_clients_t *clients, char *err, size_t errlen)
{
    px_egress_t *eg = calloc(1, sizeof(*eg));
    char port[16], conns[16];

    if (!eg) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    eg->loop = loop;
    eg->cfg = cfg;
    eg->clients = *clients;
    h2o_linklist_init_anchor(&eg->conns);
    if (h2o_hostinfo_max_threads < MIN_DNS_THREADS)
        h2o_hostinfo_max_threads = MIN_DNS_THREADS;
    eg->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(eg->queue, &eg->resolver, h2o_hostinfo_getaddr_receiver);
    init_timeouts(eg);
    load(eg, NULL);
    eg->listener = h2o_evloop_socket_create(loop, fd, H2O_SOCKET_FLAG_DONT_READ);
    eg->listener->data = eg;
    h2o_socket_read_start(eg->listener, on_accept);
    snprintf(port, sizeof(port), "%d", mcp_bound_port(fd));
    snprintf(conns, sizeof(conns), "%d", cfg->egress_max_conns);
    mcp_log(MCP_LOG_INFO, "egress listening", "port", port, "maxConnections", conns, "clients",
            clients->loopback ? "loopback (--exec)" : "the MCP server pod's IPs", NULL);
    return eg;
}

/* Lookups still on h2o's thread answer into our queue: it may go only once
 * they have (else it is left, at exit). */
static void drain_lookups(px_egress_t *eg)
{
    uint64_t until = h2o_now(eg->loop) + LOOKUP_DRAIN_MS;

    while (eg->lookups > 0 && h2o_now(eg->loop) < until)
        h2o_evloop_run(eg->loop, 10);
    if (eg->lookups > 0) {
        mcp_log(MCP_LOG_DEBUG, "egress: name lookups still running at exit", NULL);
        return;
    }
    h2o_multithread_unregister_receiver(eg->queue, &eg->resolver);
    h2o_multithread_destroy_queue(eg->queue);
    h2o_evloop_run(eg->loop, 0); /* the queue's socket is disposed of */
    free(eg->queue);             /* h2o 2.2.5 closes the queue but does not free it */
}

void px_egress_free(px_egress_t *eg)
{
    if (!eg)
        return;
    h2o_socket_read_stop(eg->listener);
    h2o_socket_close(eg->listener);
    mcp_eg_conn_close_all(eg, "the proxy is stopping");
    if (h2o_timeout_is_linked(&eg->reload_entry))
        h2o_timeout_unlink(&eg->reload_entry);
    if (h2o_timeout_is_linked(&eg->accept_entry))
        h2o_timeout_unlink(&eg->accept_entry);
    drain_lookups(eg);
    h2o_timeout_dispose(eg->loop, &eg->head_timeout);
    h2o_timeout_dispose(eg->loop, &eg->connect_timeout);
    h2o_timeout_dispose(eg->loop, &eg->idle_timeout);
    h2o_timeout_dispose(eg->loop, &eg->linger_timeout);
    h2o_timeout_dispose(eg->loop, &eg->reload_timeout);
    h2o_timeout_dispose(eg->loop, &eg->accept_timeout);
    mcp_eg_rules_dispose(&eg->rules);
    free(eg);
}
