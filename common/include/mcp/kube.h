/* A small Kubernetes REST client, shared by the daemons that talk to the
 * apiserver (controller, proxy). It knows Kubernetes conventions (kubeconfig,
 * in-cluster service accounts, Status bodies, list pages, watch streams,
 * resourceVersions, 410 Gone) but nothing of any particular resource.
 *
 *   config  (kube_config.c): where the apiserver is and how to authenticate;
 *   client  (kube.c, kube_curl.c): requests with capped bodies and streaming
 *           watches behind a small interface (mcp_kube_client_t), so tests
 *           drive the logic with an in-memory fake;
 *   evdec   (kube_evdec.c): the incremental newline-delimited event decoder;
 *   watch   (kube_watch.c): list-then-watch for one resource.
 *
 * Errors are negative mcp_err_t codes (mcp/common.h). JSON values follow
 * jansson's conventions: "new reference" means the caller decrefs,
 * "borrowed" means valid only as long as its owner. */
#ifndef MCP_KUBE_H
#define MCP_KUBE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "mcp/backoff.h"
#include "mcp/buf.h"
#include "mcp/common.h"
#include "mcp/json.h"

/* ==== caps ================================================================ */

#define MCP_KUBE_BODY_MAX  ((size_t)1 << 20)  /* an ordinary response */
#define MCP_KUBE_LIST_MAX  ((size_t)8 << 20)  /* one page of a list */
#define MCP_KUBE_ERROR_MAX ((size_t)64 << 10) /* a Status body of a failed watch */
#define MCP_KUBE_EVENT_MAX ((size_t)4 << 20)  /* one watch event */

/* What one object (a response body, a list item, a watch event) may hold
 * before it is loaded: Kubernetes objects nest ~15 levels, an MCPServer's
 * podTemplateSpec at most 32 more; 100,000 values are ~6 MiB as a tree. */
#define MCP_KUBE_DEPTH_MAX  64
#define MCP_KUBE_VALUES_MAX 100000
extern const mcp_json_limits_t mcp_kube_limits;

/* ==== config: kube_config.c =============================================== */

typedef struct mcp_kube_config {
    char *server;                /* "https://host:port" */
    char *ca_file;               /* path, or NULL */
    char *ca_data;               /* PEM (decoded), or NULL */
    char *cert_file, *cert_data; /* client certificate */
    char *key_file, *key_data;   /* client key */
    char *token;                 /* bearer token, or NULL */
    char *token_file;            /* re-read periodically when set */
    char *namespace;             /* context / in-cluster namespace, or NULL */
    bool insecure;               /* insecure-skip-tls-verify */
} mcp_kube_config_t;

/* All functions fill a caller-allocated config (zeroed first) and return 0 or
 * a negative mcp_err_t with a message in err; on failure nothing is held. */

/* A kubeconfig file's current context; relative paths are relative to the
 * file's folder, as kubectl does. */
int mcp_kube_config_load_file(mcp_kube_config_t *c, const char *path, char *err, size_t errlen);
/* Same, from memory (no folder: relative paths stay relative). */
int mcp_kube_config_load_mem(mcp_kube_config_t *c, const char *yaml, size_t len, char *err,
                             size_t errlen);
/* In-cluster: KUBERNETES_SERVICE_HOST/PORT and the files under `sa_dir`
 * (NULL = /var/run/secrets/kubernetes.io/serviceaccount). */
int mcp_kube_config_in_cluster(mcp_kube_config_t *c, const char *sa_dir, char *err, size_t errlen);
/* What kubectl would use: `path` when given, else $KUBECONFIG, else the
 * in-cluster configuration, else ~/.kube/config. */
int mcp_kube_config_load(mcp_kube_config_t *c, const char *path, char *err, size_t errlen);
/* Frees every field (secrets wiped first); the struct may be reused. */
void mcp_kube_config_dispose(mcp_kube_config_t *c);
/* A token file's content without trailing whitespace: new string, or NULL. */
char *mcp_kube_read_token(const char *path);

/* ==== client interface: kube.c ============================================ */

typedef struct mcp_kube_req {
    const char *method;       /* GET POST PUT PATCH DELETE */
    const char *path;         /* "/api/v1/namespaces/x/services/y?..." */
    const char *content_type; /* of body; NULL when there is none */
    const char *body;         /* NUL-terminated, or NULL (borrowed) */
    size_t cap;               /* response body cap, 0 = MCP_KUBE_BODY_MAX */
    long timeout_ms;          /* whole request, 0 = the client's default (30 s) */
    int tag;                  /* the caller's label for its observer; opaque here */
    bool raw;                 /* leave the body unloaded, in resp->raw (list pages) */
} mcp_kube_req_t;

typedef struct mcp_kube_resp {
    long status;  /* HTTP status */
    json_t *body; /* the body loaded within mcp_kube_limits, or NULL: a new reference */
    char *raw;    /* req.raw: the body's bytes (NUL-terminated, owned), or NULL */
    size_t raw_len;
} mcp_kube_resp_t;

/* Called once per complete watch event (a JSON object, borrowed). A non-zero
 * return stops the stream and is passed back to the caller. */
typedef int (*mcp_kube_event_fn)(void *ctx, json_t *event);

typedef struct mcp_kube_client mcp_kube_client_t;
struct mcp_kube_client {
    /* 0 when a response came back (any status; resp filled), negative on
     * transport errors (resp->status 0, body NULL). */
    int (*request)(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp);
    /* Optional: n (<= MCP_KUBE_BATCH_MAX) requests at once, concurrently;
     * rcs[i] and resps[i] as request() would give them, secs[i] each one's
     * time. Without it mcp_kube_do_many sends them one after the other. */
    void (*request_many)(mcp_kube_client_t *c, const mcp_kube_req_t *reqs, mcp_kube_resp_t *resps,
                         int *rcs, double *secs, size_t n);
    /* Stream a watch: fn per event until the server ends it, *stop is set, or
     * an error. *status gets the HTTP status; for a non-2xx status the Status
     * body is in *err_body (new reference, may be NULL). Returns 0 when the
     * stream ended normally, the callback's non-zero value, or a negative
     * error. */
    int (*stream)(mcp_kube_client_t *c, const char *path, int timeout_s, mcp_kube_event_fn fn,
                  void *ctx, long *status, json_t **err_body);
    /* Optional: told about every request made through mcp_kube_do (rc is the
     * transport result, status the HTTP status or 0). */
    void (*observe)(void *ctx, const mcp_kube_req_t *req, int rc, long status, double seconds);
    void *observe_ctx;
    volatile int *stop; /* non-zero stops streams and loops; may be NULL */
};

/* The request through c->request, timed and reported to c->observe; writes
 * are logged at debug. resp is always initialised. */
int mcp_kube_do(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp);
void mcp_kube_resp_dispose(mcp_kube_resp_t *r);
/* n independent requests at once (c->request_many when the client has it:
 * multiplexed on the calling thread's connection), each timed, observed and
 * logged like mcp_kube_do; rcs[i] is its result. resps are all initialised.
 * n <= MCP_KUBE_BATCH_MAX (more are sent in several rounds). */
#define MCP_KUBE_BATCH_MAX 8
void mcp_kube_do_many(mcp_kube_client_t *c, const mcp_kube_req_t *reqs, mcp_kube_resp_t *resps,
                      int *rcs, size_t n);
/* True once *c->stop is set. */
bool mcp_kube_stopped(const mcp_kube_client_t *c);
/* The "message" of a Status body (borrowed) or fallback. */
const char *mcp_kube_status_message(const json_t *body, const char *fallback);

/* What can still be read of an object that cannot be loaded whole (too deep,
 * too large, not valid JSON): kind, apiVersion, the identifying metadata
 * (name, namespace, uid, resourceVersion, generation, labels,
 * ownerReferences, timestamps; never managedFields) and status, each loaded
 * on its own within mcp_kube_limits. New reference, or NULL when not even
 * metadata.name can be read. */
json_t *mcp_kube_object_stub(const char *p, size_t n);

/* ==== libcurl implementation: kube_curl.c ================================= */

typedef struct mcp_kube mcp_kube_t;

/* A client for the apiserver in `kc` (copied). One easy handle per thread,
 * reused; the token file re-read every minute. `stop` (may be NULL) aborts
 * streams within a second. Call curl_global_init first. Returns NULL with a
 * message in err on failure. */
mcp_kube_t *mcp_kube_new(const mcp_kube_config_t *kc, volatile int *stop, char *err, size_t errlen);
mcp_kube_client_t *mcp_kube_client(mcp_kube_t *k); /* borrowed, lives as long as k */
/* The current "Authorization: Bearer ..." header line (token re-read when
 * due), for callers that open their own connections (pods/attach); new
 * string to wipe and free, or NULL when there is no token. */
char *mcp_kube_auth_header(mcp_kube_t *k);
const mcp_kube_config_t *mcp_kube_config(const mcp_kube_t *k); /* borrowed */
void mcp_kube_free(mcp_kube_t *k);

/* ==== watch-event decoder: kube_evdec.c =================================== */

typedef struct mcp_kube_evdec {
    mcp_buf_t buf;
    mcp_json_limits_t limits; /* per event; init sets mcp_kube_limits */
} mcp_kube_evdec_t;

void mcp_kube_evdec_init(mcp_kube_evdec_t *d, size_t max_event);
void mcp_kube_evdec_dispose(mcp_kube_evdec_t *d);
/* Feed bytes; calls fn for each complete line. An event whose object cannot
 * be loaded within the limits is passed on as {"type": ..., "object": stub
 * (mcp_kube_object_stub), "error": "<why>"}, so one bad object never stops
 * a stream. Returns 0, the callback's non-zero value, MCP_ETOOBIG (an event
 * over the byte cap), or MCP_EINVAL (a line that is not an event at all). */
int mcp_kube_evdec_feed(mcp_kube_evdec_t *d, const char *p, size_t n, mcp_kube_event_fn fn,
                        void *ctx);

/* ==== list + watch: kube_watch.c ========================================== */

typedef struct mcp_kube_watch mcp_kube_watch_t;

typedef struct mcp_kube_watch_ops {
    /* type is ADDED, MODIFIED or DELETED (BOOKMARKs are handled inside); obj
     * is borrowed. epoch identifies the current (re)list. */
    void (*event)(void *ctx, const mcp_kube_watch_t *w, const char *type, json_t *obj,
                  uint32_t epoch);
    /* A (re)list finished: entries not seen in `epoch` are gone. */
    void (*synced)(void *ctx, const mcp_kube_watch_t *w, uint32_t epoch);
    /* Optional: the watch restarts (after a failure or a 410 Gone). */
    void (*restarted)(void *ctx, const mcp_kube_watch_t *w);
    /* Optional: an object that cannot be loaded (see mcp_kube_object_stub):
     * it is skipped after this call, which gets its stub (borrowed) and why.
     * Without it, the skip is only logged. */
    void (*bad)(void *ctx, const mcp_kube_watch_t *w, const char *type, json_t *stub,
                const char *why, uint32_t epoch);
    void *ctx;
} mcp_kube_watch_ops_t;

typedef struct mcp_kube_watch_spec {
    const char *kind;           /* "Pod", "Deployment", ... (set on list items) */
    const char *base;           /* "/api/v1", "/apis/apps/v1" */
    const char *resource;       /* "pods" */
    const char *namespace;      /* NULL = all namespaces */
    const char *label_selector; /* NULL = none (URL-encoded already) */
    const char *field_selector; /* NULL = none (URL-encoded already) */
} mcp_kube_watch_spec_t;

struct mcp_kube_watch {
    mcp_kube_watch_spec_t spec; /* strings borrowed for the watch's life */
    mcp_kube_client_t *client;
    mcp_kube_watch_ops_t ops;
    char rv[32];
    uint32_t epoch;
    unsigned failures;
    unsigned seed;
    int synced; /* first list done */
    int min_timeout_s, max_timeout_s;
    int page;         /* list page size now: halved after a failed page, down to 1 */
    int page_default; /* restored at each new list (MCP_KUBE_LIST_PAGE) */
    mcp_backoff_t backoff;
    pthread_mutex_t *list_lock; /* optional: one list at a time (memory peak) */
};

void mcp_kube_watch_init(mcp_kube_watch_t *w, const mcp_kube_watch_spec_t *spec,
                         mcp_kube_client_t *client, const mcp_kube_watch_ops_t *ops);
#define MCP_KUBE_LIST_PAGE 50

/* One list (all pages). Items are loaded one at a time, so one that cannot
 * be loaded is skipped (ops.bad) and the peak is one item's tree; a page
 * that fails (over MCP_KUBE_LIST_MAX, unreadable, an error status) is asked
 * again at half the size, down to one item, before the list fails. Returns 0
 * or negative. */
int mcp_kube_watch_list(mcp_kube_watch_t *w);
/* One watch connection from w->rv. Returns 0 when it ended normally,
 * MCP_ECONFLICT on 410 Gone (w->rv cleared: relist), negative otherwise. */
int mcp_kube_watch_once(mcp_kube_watch_t *w);
/* list + watch with backoff until *client->stop. */
void mcp_kube_watch_run(mcp_kube_watch_t *w);
/* The collection path for a list page or a watch into buf; returns buf. */
char *mcp_kube_watch_path(const mcp_kube_watch_t *w, char *buf, size_t len, bool watch,
                          const char *cont, int timeout_s);

#endif
