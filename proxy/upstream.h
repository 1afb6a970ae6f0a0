/* The stream to the MCP server (upstream.c) and the backends that provide
 * it: a child process (exec.c), a pods/attach WebSocket (attach.c) or the
 * server's own HTTP transport (httpup.c). The
 * bridge never learns which: it sees lines, "up" and "down". */
#ifndef PX_UPSTREAM_H
#define PX_UPSTREAM_H

#include <h2o.h>

#include "internal.h"

/* A backend opens a byte stream and closes it again; upstream.c does the
 * framing, the write queue, the restarts and the backoff. open() must not
 * block: it returns file descriptors at once (a backend that needs time,
 * like attach, connects on its own thread and closes its end on failure). */
typedef struct px_backend px_backend_t;
struct px_backend {
    const char *name;
    /* New stream: *rfd to read the server's stdout, *wfd to write its stdin,
     * *efd its stderr or -1 (all non-blocking, owned by the caller). 0 or an
     * mcp_err_t with a message in err. */
    int (*open)(px_backend_t *be, int *rfd, int *wfd, int *efd, char *err, size_t errlen);
    /* The stream ended or is being replaced: release what open() made (reap a
     * child, stop a thread). `final` at shutdown: wait for it, bounded. */
    void (*close)(px_backend_t *be, int final);
    /* Called every tick (reaping, watching); may be NULL. Returns non-zero
     * when the stream must be replaced now (container restarted, stale). */
    int (*tick)(px_backend_t *be, uint64_t now_ms);
    /* Bytes arrived from the server (stale detection); may be NULL. */
    void (*activity)(px_backend_t *be, uint64_t now_ms);
    void (*free)(px_backend_t *be);
};

typedef struct px_upstream px_upstream_t;

/* Start the stream at once (and again after each loss, with backoff).
 * `be` is owned by the upstream from here on; `bridge` is borrowed. */
px_upstream_t *px_upstream_new(h2o_loop_t *loop, px_backend_t *be, px_bridge_t *bridge,
                               size_t max_message);
/* Close the stream and free everything (the backend's close runs final). */
void px_upstream_free(px_upstream_t *u);
/* px_bridge_ops_t callbacks; ctx is the px_upstream_t. */
int px_upstream_write(void *ctx, const char *line, size_t len);
void px_upstream_restart(void *ctx, const char *why);
void px_upstream_tick(px_upstream_t *u, uint64_t now_ms);
int px_upstream_connected(const px_upstream_t *u);
uint64_t px_upstream_restarts(const px_upstream_t *u);

/* httpup.c: the MCP server's own HTTP transport (cfg->transport sse or
 * streamable-http, at target_host:target_port + target_path; by the IP of
 * pod cfg->pod while it is Ready when cfg->ns and cfg->pod are set and a
 * Kubernetes configuration is found). cfg is borrowed. NULL with a message
 * in err (libcurl cannot be loaded, out of memory). */
px_backend_t *px_http_backend_new(const px_config_t *cfg, char *err, size_t errlen);

/* exec.c: `argv` is borrowed (NULL-terminated). */
px_backend_t *px_exec_new(char **argv);
/* The running child's pid, or -1 (tests and logs). */
int px_exec_pid(const px_backend_t *be);

#endif
