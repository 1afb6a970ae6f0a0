/* A tiny plain-HTTP server on its own thread for /healthz, /readyz and
 * /metrics. It serves one short request per connection, with a read cap
 * and timeouts, so it can never stall the daemon that runs it. */
#ifndef MCP_HEALTH_H
#define MCP_HEALTH_H

#include "mcp/buf.h"

typedef struct mcp_health mcp_health_t;

/* Both callbacks run on the health thread, so they must be thread-safe.
 * Metrics output past the 1 MiB cap is cut short. */
typedef struct mcp_health_ops {
    int (*ready)(void *ctx);                    /* non-zero when ready */
    void (*metrics)(void *ctx, mcp_buf_t *out); /* append Prometheus text */
    void *ctx;
} mcp_health_ops_t;

/* Listen on addr:port (addr NULL = all interfaces, dual-stack: IPv6 "::"
 * with IPV6_V6ONLY off, or IPv4 "0.0.0.0" where IPv6 is unavailable; port 0
 * = ephemeral) and
 * serve on a new thread. Returns a new handle or NULL with a message in err.
 * `ops` is copied. */
mcp_health_t *mcp_health_start(const char *addr, int port, const mcp_health_ops_t *ops, char *err,
                               size_t errlen);
int mcp_health_port(const mcp_health_t *h);
/* Stop the thread, close the socket, free the handle. NULL is fine. */
void mcp_health_stop(mcp_health_t *h);

#endif
