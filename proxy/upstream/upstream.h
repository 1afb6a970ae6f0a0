/* The stream to the MCP server (upstream.c) and the backends that provide
 * it: a child process (exec.c), a pods/attach WebSocket (attach.c) or the
 * server's own HTTP transport (httpup.c). The
 * bridge never learns which: it sees lines, "up" and "down". */
#ifndef PX_UPSTREAM_H
#define PX_UPSTREAM_H

#include <h2o.h>
#include <stdatomic.h>

#include "../internal.h"

/* A backend opens a byte stream and closes it again; upstream.c does the
 * framing, the write queue, the restarts and the backoff. open() must not
 * block: it returns file descriptors at once (a backend that needs time,
 * like attach, connects on its own thread and closes its end on failure). */
typedef struct px_backend px_backend_t;
struct px_backend {
    const char *name;
    /* Lines may start with "@<upid> ", the upstream id of the request whose
     * answer stream carried the message: only for a backend that writes
     * every line itself (httpup.c), never one that passes the server's. */
    int tagged;
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
    /* The MCP server pod's current IPs (px_podwatch_ips), for the egress
     * proxy's client check; may be NULL (no pod: --exec, or no watch). */
    size_t (*pod_ips)(px_backend_t *be, char (*ips)[PX_IP_TEXT], size_t max);
};

typedef struct px_upstream px_upstream_t;

/* Where the stream's events go: up (a new stream: learn the server), each
 * line (and the upstream id of the request whose answer stream carried it,
 * or 0; see px_backend_t.tagged), the ends of a line over the cap that was
 * dropped, down (the stream is lost). The front wires them to the bridge;
 * the upstream never calls the bridge itself. */
typedef struct px_upstream_sink {
    void (*up)(void *ctx, uint64_t now_ms);
    void (*line)(void *ctx, const char *line, size_t len, int64_t cause);
    void (*dropped)(void *ctx, const char *head, size_t hn, const char *tail, size_t tn);
    void (*down)(void *ctx, const char *why);
    void *ctx;
} px_upstream_sink_t;

/* Start the stream at once (and again after each loss, with backoff).
 * `be` is owned by the upstream from here on; `sink` is copied; `cfg` (its
 * max_message and budget) is borrowed. */
px_upstream_t *px_upstream_new(h2o_loop_t *loop, px_backend_t *be, const px_upstream_sink_t *sink,
                               const px_config_t *cfg);
/* Close the stream and free everything (the backend's close runs final). */
void px_upstream_free(px_upstream_t *u);
/* Write one line (no newline) / ask for a new stream (the bridge's
 * px_bridge_ops_t fits them); ctx is the px_upstream_t. */
int px_upstream_write(void *ctx, const char *line, size_t len);
void px_upstream_restart(void *ctx, const char *why);
void px_upstream_tick(px_upstream_t *u, uint64_t now_ms);
int px_upstream_connected(const px_upstream_t *u);
uint64_t px_upstream_restarts(const px_upstream_t *u);
/* Why the stream to the MCP server is not up, into out[n] ("" when it is
 * or nothing is known): the backend's last failure to open, else the HTTP
 * backend's last reason a stream ended (px_http_last_error). */
void px_upstream_why_down(const px_upstream_t *u, char *out, size_t n);
/* The backend's pod_ips (0 when it has none). */
size_t px_upstream_pod_ips(px_upstream_t *u, char (*ips)[PX_IP_TEXT], size_t max);

/* sthread.c: a stream served by a thread of its own (attach.c, httpup.c).
 * Embed it first in the stream's record; destroy frees the record (its fd
 * is closed by then) and runs once, when the last reference is dropped. */
typedef struct px_sthread {
    _Atomic int refs, stop, done;
    int fd; /* the thread's end of the socketpair */
    void (*destroy)(struct px_sthread *t);
} px_sthread_t;
/* Run main(t) on a detached thread with the thread's end in t->fd; the
 * loop's end goes to *rfd and *wfd (two descriptors of one socket). Two
 * references: the loop's and the thread's. 0, or an mcp_err_t with a
 * message in err (t is destroyed then). */
int px_sthread_start(px_sthread_t *t, void *(*main)(void *), int *rfd, int *wfd, char *err,
                     size_t errlen);
/* The thread's last call: shut its end (the loop sees EOF), mark it done
 * and drop its reference. */
void px_sthread_exit(px_sthread_t *t);
/* The loop's: ask the thread to stop (it polls t->stop), with `final`
 * wait for it up to 3 s, and drop the loop's reference. t may be NULL. */
void px_sthread_stop(px_sthread_t *t, int final);
void px_sthread_unref(px_sthread_t *t);
/* CLOCK_MONOTONIC in milliseconds (for the threads, which have no h2o loop). */
uint64_t px_mono_ms(void);

/* httpup.c: the MCP server's own HTTP transport (cfg->transport sse or
 * streamable-http, at target_host:target_port + target_path; by the IP of
 * pod cfg->pod while it is Ready when cfg->ns and cfg->pod are set and a
 * Kubernetes configuration is found). cfg is borrowed. NULL with a message
 * in err (libcurl cannot be loaded, out of memory). */
px_backend_t *px_http_backend_new(const px_config_t *cfg, char *err, size_t errlen);
/* The last reason a stream of the HTTP backend ended, e.g. "the MCP server
 * cannot be reached: connection refused to 10.244.0.7:3002" ("" when none,
 * or since a stream worked). Any thread. */
void px_http_last_error(char *out, size_t n);

/* exec.c: `argv` is borrowed (NULL-terminated). */
px_backend_t *px_exec_new(char **argv);
/* The running child's pid, or -1 (tests and logs). */
int px_exec_pid(const px_backend_t *be);

#endif
