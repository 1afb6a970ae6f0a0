/* The listening sockets (the main port's and the egress port's, on one
 * bind address) and the egress proxy wired into the front: its clients are
 * loopback with --exec, else the MCP server pod's IPs as whichever pod watch
 * runs sees them (the attach or HTTP backend's, or --passthrough's own). */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "mcp/log.h"
#include "server.h"

int px_open_listener(const char *addr, int port, char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char portstr[16];
    int fd = -1, on = 1, off = 0;

    snprintf(portstr, sizeof(portstr), "%d", port);
    if (getaddrinfo(addr ? addr : "::", portstr, &hints, &res) != 0 &&
        (addr || getaddrinfo("0.0.0.0", portstr, &hints, &res) != 0)) {
        snprintf(err, errlen, "cannot resolve bind address %s", addr ? addr : "::");
        return -1;
    }
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
            (ai->ai_family == AF_INET6 &&
             setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off)) != 0) ||
            bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
            close(fd);
            fd = -1;
        }
    }
    if (fd < 0)
        snprintf(err, errlen, "cannot listen on %s:%d: %s", addr ? addr : "*", port,
                 strerror(errno));
    freeaddrinfo(res);
    return fd;
}

static size_t pod_ips(void *ctx, char (*ips)[PX_IP_TEXT], size_t max)
{
    px_pod_source_t *src = ctx;

    if (src->watch)
        return px_podwatch_ips(src->watch, ips, max);
    return src->upstream ? px_upstream_pod_ips(src->upstream, ips, max) : 0;
}

px_egress_t *px_egress_wire(h2o_loop_t *loop, const px_config_t *cfg, px_pod_source_t *src,
                            char *err, size_t errlen)
{
    px_egress_clients_t clients = {.loopback = cfg->exec_argv != NULL, .ctx = src};
    int fd = px_open_listener(cfg->bind, cfg->egress_port, err, errlen);

    if (fd < 0)
        return NULL;
    if (!cfg->exec_argv)
        clients.pod_ips = pod_ips;
    if (!cfg->exec_argv && !(cfg->ns && cfg->pod))
        mcp_log(MCP_LOG_WARN,
                "egress: no pod is watched (--namespace, --pod): no client can use it", NULL);
    return px_egress_new(loop, cfg, fd, &clients, err, errlen);
}
