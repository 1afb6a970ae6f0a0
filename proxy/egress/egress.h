/* The egress forward proxy (DESIGN §5 "Egress proxy"): a second HTTP/1.1
 * listener, for the MCP server this proxy fronts only, serving CONNECT
 * host:port (a tunnel) and absolute-form http:// requests (one forwarded per
 * connection) to exactly the hosts and ports of a ToolHive permission
 * profile, which it reloads when the file changes. Names are resolved by
 * the proxy (h2o's getaddrinfo thread), every address is classified and
 * private, loopback and link-local ones refused unless named (rules.h).
 *
 * The room: egress.c (listener, clients, profile reload), conn.c (one
 * connection: head, decision, resolution, connect, relay, log line),
 * request.c and rules.c (pure). It includes only the shared files of
 * proxy/ and common/; the front wires it to the pod watch through
 * px_egress_clients_t. */
#ifndef PX_EGRESS_H
#define PX_EGRESS_H

#include <h2o.h>

#include "../internal.h"

#define MCP_EG_MAX_CLIENT_IPS 4 /* pod IPs asked for (dual stack has two) */

/* Who may use the egress port. */
typedef struct px_egress_clients {
    int loopback; /* --exec: the MCP server is a child, on this machine */
    /* The MCP server pod's current IPs (text, up to max of them, into
     * ips[]); the count, 0 while none is known. May be NULL. Called on the
     * loop thread at each accept; must not block. */
    size_t (*pod_ips)(void *ctx, char (*ips)[PX_IP_TEXT], size_t max);
    void *ctx;
} px_egress_clients_t;

typedef struct px_egress px_egress_t;

/* Serve the egress proxy on listening socket fd (owned from here on, also
 * on failure) with cfg's egress_* settings (cfg borrowed for the proxy's
 * life; clients copied, its ctx borrowed). The profile is read now; one
 * that cannot be read leaves every destination refused until it can (an
 * error line says why). NULL with a message in err. */
px_egress_t *px_egress_new(h2o_loop_t *loop, const px_config_t *cfg, int fd,
                           const px_egress_clients_t *clients, char *err, size_t errlen);
/* Close the listener and every connection (each logs its line), wait up to
 * 2 s for name lookups still running on h2o's thread, free. NULL is a no-op. */
void px_egress_free(px_egress_t *eg);

/* May a connection from sa use the egress port? Its address (an
 * IPv4-mapped IPv6 one as IPv4) is loopback and c->loopback is set, or
 * is one of c->pod_ips. Pure apart from calling pod_ips. */
int px_egress_client_allowed(const px_egress_clients_t *c, const struct sockaddr *sa);

#endif
