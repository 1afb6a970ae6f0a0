/* Socket helpers shared by both daemons (see mcp/net.h). */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <h2o.h>

#include "mcp/net.h"

int mcp_bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

#define ACCEPT_BURST 16

/* accept() failed for want of descriptors or kernel memory (see mcp/net.h) */
static int exhausted(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

int mcp_accept_burst(h2o_socket_t *listener, void (*take)(void *ctx, h2o_socket_t *sock), void *ctx)
{
    for (int i = 0; i < ACCEPT_BURST; i++) {
        h2o_socket_t *sock;

        errno = 0;
        sock = h2o_evloop_socket_accept(listener);
        if (!sock)
            return exhausted(errno) ? errno : 0;
        take(ctx, sock);
    }
    return 0;
}
