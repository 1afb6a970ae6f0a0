/* Private interfaces of mcp-webhook, shared by its files (prefix wh_).
 *
 * admission.c turns one AdmissionReview body into one HTTP status and JSON
 * body (pure, no I/O); metrics.c keeps the counters; certs.c owns the serving
 * certificate and reloads it; server.c runs h2o on worker threads and calls
 * the others; main.c parses flags and calls wh_run. */
#ifndef WH_INTERNAL_H
#define WH_INTERNAL_H

#include <signal.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include <openssl/ssl.h>

#include "mcp/buf.h"
#include "mcp/common.h"
#include "mcp/errlist.h"
#include "mcp/schema.h"

#define WH_VERSION "0.1.0"

/* Largest request body accepted (the apiserver's own limit on a request
 * body); bigger ones get HTTP 413. */
#define WH_BODY_MAX ((size_t)3 << 20)
/* After a review this big, freed heap pages are handed back (malloc_trim):
 * its tens of thousands of small blocks would otherwise stay as a fragmented
 * heap under the next big body's buffers. Rare, and well under 1 ms. */
#define WH_TRIM_AFTER ((size_t)1 << 20)
/* Stack of each worker thread, whatever RLIMIT_STACK says: the reader
 * recurses once per nesting level (at most 2,048), which test_admission
 * shows fits in half of it (AddressSanitizer's frames are several times
 * larger, hence more under it). */
#if defined(__SANITIZE_ADDRESS__)
#define WH_WORKER_STACK ((size_t)16 << 20)
#else
#define WH_WORKER_STACK ((size_t)2 << 20)
#endif
/* Largest response body we are willing to build (messages echo values). */
#define WH_REPLY_MAX ((size_t)16 << 20)

#define WH_PATH_MUTATE   "/mutate-toolhive-stacklok-dev-v1alpha1-mcpserver"
#define WH_PATH_VALIDATE "/validate-toolhive-stacklok-dev-v1alpha1-mcpserver"
#define WH_PATH_CONVERT  "/convert"
/* A ConversionReview carries a list page of MCPServers (kubectl asks for
 * 500 at a time, a few KiB each); it gets the same cap as reviews, which
 * bounds what any client can make the webhook buffer. */
#define WH_CONVERT_BODY_MAX WH_BODY_MAX

typedef enum wh_endpoint {
    WH_EP_MUTATE = 0,
    WH_EP_VALIDATE,
    WH_EP_CONVERT, /* the CRD's conversion webhook */
    WH_EP_OTHER,   /* unknown path or method: answered by the server layer */
    WH_EP_COUNT,
} wh_endpoint_t;

typedef enum wh_verdict {
    WH_ALLOWED = 0,
    WH_PATCHED,     /* allowed with a JSON Patch (mutating only) */
    WH_DENIED,      /* allowed:false with the Invalid status */
    WH_BAD_REQUEST, /* HTTP 4xx, or a deny with code 400 */
    WH_ERROR,       /* HTTP 5xx (out of memory) */
    WH_VERDICT_COUNT,
} wh_verdict_t;

/* ---- json.c ---------------------------------------------------------------- */

/* What to build (see mcp/schema.h: mcp_shape_t), and what the reader reports
 * on the way. */
typedef struct wh_json_span {
    const char *p; /* into the input */
    size_t len;
} wh_json_span_t;

typedef struct wh_json_opts {
    const mcp_shape_t *shape; /* the whole text's shape */
    mcp_errlist_t *bounds;    /* "Too many" and too-deep errors found (may be NULL) */
    wh_json_span_t *spans;    /* where values whose shape has span > 0 lie */
    size_t n_spans;
} wh_json_opts_t;

/* Parse a whole JSON text (top level an object or array) into jansson
 * values. With opts == NULL it accepts exactly what
 * json_loadb(JSON_REJECT_DUPLICATES) accepts and builds an equal value. With
 * a shape it accepts the same texts (except that duplicate keys inside
 * values not built go unnoticed) and builds only what the shape names: see
 * json.c. Returns a new reference, or NULL with "<why> (line L, column C)"
 * in err and *oom set when the failure was an allocation. `buf` is
 * borrowed. */
json_t *wh_json_parse(const char *buf, size_t len, const wh_json_opts_t *opts, char *err,
                      size_t errlen, int *oom);

/* ---- jpool.c ------------------------------------------------------------------ */

/* Point jansson's allocator at per-thread recycling lists of small blocks
 * (once per process, before any jansson use). Blocks stay malloc blocks. */
void wh_jpool_install(void);
/* Give the calling thread's cached blocks back to malloc (at thread exit). */
void wh_jpool_release(void);

/* ---- admission.c ---------------------------------------------------------- */

/* Handle one AdmissionReview for endpoint `ep` (WH_EP_MUTATE or
 * WH_EP_VALIDATE). `body` is borrowed and need not be NUL-terminated. The JSON
 * response body is appended to `out` (which the caller resets); its HTTP
 * status is returned and its verdict stored in *verdict. Never fails: on
 * out-of-memory the body is a short static JSON text with status 500. */
int wh_admit(wh_endpoint_t ep, const char *body, size_t len, mcp_buf_t *out, wh_verdict_t *verdict);

/* ---- convert.c ------------------------------------------------------------ */

/* Handle one ConversionReview (POST /convert): like wh_admit, the response
 * body appended to `out`, its HTTP status returned, the verdict stored
 * (WH_ALLOWED: converted, WH_DENIED: result Failure, WH_BAD_REQUEST: not a
 * review, WH_ERROR: out of memory). `body` is borrowed. */
int wh_convert(const char *body, size_t len, mcp_buf_t *out, wh_verdict_t *verdict);

/* The shape wh_admit reads a review with (static, read-only; NULL on OOM). */
const mcp_shape_t *wh_review_shape(void);

/* Append a Kubernetes Status object (`{"kind":"Status",...}`) for an HTTP
 * error to `out` and return `code`. Used for 4xx answers outside reviews. */
int wh_status_body(mcp_buf_t *out, int code, const char *reason, const char *message);

/* ---- metrics.c -------------------------------------------------------------- */

typedef struct wh_metrics wh_metrics_t;
typedef struct wh_metrics_slot wh_metrics_slot_t;

/* A new metrics set with one slot per worker thread; NULL on OOM. */
wh_metrics_t *wh_metrics_new(size_t n_slots);
void wh_metrics_free(wh_metrics_t *m);
/* Slot i (0 <= i < n_slots), written only by its own worker. Borrowed. */
wh_metrics_slot_t *wh_metrics_slot(wh_metrics_t *m, size_t i);
/* Record one answered request: endpoint, verdict, HTTP status, handling time. */
void wh_metrics_observe(wh_metrics_slot_t *s, wh_endpoint_t ep, wh_verdict_t v, int status,
                        uint64_t nanos);
/* Record a certificate reload attempt; record the serving certificate's
 * notAfter (unix seconds) whenever one is loaded. */
void wh_metrics_cert_reload(wh_metrics_t *m, int ok);
void wh_metrics_cert_expiry(wh_metrics_t *m, int64_t not_after);
/* Append every metric in Prometheus text format to `out`. */
void wh_metrics_render(wh_metrics_t *m, mcp_buf_t *out);
/* Read back counters (for tests): requests for ep/verdict, reloads ok/failed. */
uint64_t wh_metrics_requests(wh_metrics_t *m, wh_endpoint_t ep, wh_verdict_t v);
uint64_t wh_metrics_reloads(wh_metrics_t *m, int ok);

/* ---- certs.c ---------------------------------------------------------------- */

typedef struct wh_certs wh_certs_t;

/* Load the pair and build the first SSL_CTX (ALPN http/1.1, plus h2 when
 * `http2`). Returns a new handle, or NULL with a message in err. `metrics`
 * is borrowed (may be NULL). */
wh_certs_t *wh_certs_new(const char *cert_file, const char *key_file, int http2,
                         wh_metrics_t *metrics, char *err, size_t errlen);
/* Stop the watcher (if any) and free the handle; connections keep their own
 * references to the contexts they use. NULL is fine. */
void wh_certs_free(wh_certs_t *c);
/* Re-read the files if their identity changed: 1 reloaded, 0 unchanged,
 * -1 the new pair was rejected (logged; the old one stays). Thread-safe. */
int wh_certs_check(wh_certs_t *c);
/* Run wh_certs_check every `interval` seconds on a thread of its own. */
int wh_certs_watch(wh_certs_t *c, double interval);
/* Bumped on every successful reload; cheap to poll. */
unsigned wh_certs_generation(wh_certs_t *c);
/* The newest SSL_CTX as a new reference (caller SSL_CTX_free's it), and
 * its generation in *gen. */
SSL_CTX *wh_certs_current(wh_certs_t *c, unsigned *gen);

/* ---- server.c --------------------------------------------------------------- */

typedef struct wh_config {
    const char *bind_address; /* NULL: all interfaces (IPv6 dual-stack if possible) */
    int port;                 /* 0: ephemeral (tests) */
    const char *health_address;
    int health_port; /* 0: ephemeral; -1: no health server */
    const char *cert_file, *key_file;
    int workers; /* <= 0: number of CPUs */
    int http2;
    double cert_check_interval; /* seconds */
    double drain_seconds;       /* keep serving after SIGTERM */
    double shutdown_timeout;    /* then wait this long for in-flight requests */
} wh_config_t;

/* Defaults for every field (port 8443, health 8081, ...). */
void wh_config_defaults(wh_config_t *cfg);

typedef struct wh_server wh_server_t;

/* Load certificates, bind the listeners, start the workers, the certificate
 * watcher and the health server. Returns a new handle, or NULL with a
 * message in err. `cfg` is copied (its strings are borrowed). */
wh_server_t *wh_server_start(const wh_config_t *cfg, char *err, size_t errlen);
int wh_server_port(const wh_server_t *s);
int wh_server_health_port(const wh_server_t *s);
wh_metrics_t *wh_server_metrics(wh_server_t *s); /* borrowed */
/* Mark the server as draining: /readyz fails, requests are still served. */
void wh_server_drain(wh_server_t *s);
/* Stop accepting, let in-flight requests finish (up to the shutdown
 * timeout), stop every thread and free the handle. Returns 0, or -1 when
 * some connections were still open at the deadline. NULL is fine. */
int wh_server_stop(wh_server_t *s);

/* The daemon: start, wait for one of `sigs` (blocked by the caller in every
 * thread), drain, stop. Returns the process exit status. */
int wh_run(const wh_config_t *cfg, const sigset_t *sigs);

/* Length of the valid multi-byte UTF-8 sequence at s (2-4 bytes, n bytes
 * available), or 0 when it is not one. */
size_t wh_utf8_len(const unsigned char *s, size_t n);

#endif
