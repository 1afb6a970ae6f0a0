/* The server loop (server.c), the choice of backend (backend.c) and the
 * listeners (listeners.c). */
#ifndef PX_SERVER_H
#define PX_SERVER_H

#include <signal.h>

#include "../internal.h"
#include "../egress/egress.h"
#include "../upstream/podwatch.h"
#include "../upstream/upstream.h"

/* Serve until *stop is set (by a signal handler), then drain and return the
 * exit status. `cfg` is borrowed. */
int px_run(px_config_t *cfg, volatile sig_atomic_t *stop);

/* The backend: the HTTP client for sse and streamable-http, exec when
 * cfg->exec_argv is set, else pods/attach. NULL with a message in err. */
px_backend_t *px_server_backend(const px_config_t *cfg, char *err, size_t errlen);

/* listeners.c: a listening TCP socket on addr (NULL: "::", else
 * "0.0.0.0"), port (0: any; IPv6 sockets take IPv4 too), non-blocking,
 * owned by the caller. -1 with a message in err. */
int px_open_listener(const char *addr, int port, char *err, size_t errlen);

/* Where the egress proxy asks for the MCP server pod's IPs: the pod watch
 * of --passthrough when there is one, else the upstream's backend. */
typedef struct px_pod_source {
    px_upstream_t *upstream; /* borrowed; may be NULL */
    px_podwatch_t *watch;    /* borrowed; may be NULL */
} px_pod_source_t;

/* The egress proxy on cfg->bind, port cfg->egress_port, its clients
 * loopback with --exec, else the pod's IPs from src (borrowed, for the
 * proxy's life). NULL with a message in err. */
px_egress_t *px_egress_wire(h2o_loop_t *loop, const px_config_t *cfg, px_pod_source_t *src,
                            char *err, size_t errlen);

#endif
