/* Private interface of mcp-controller: the pure pieces (desired objects, one
 * file per kind, status computation, JSON helpers) and the runtime pieces
 * (work queue, cache, reconciler, leader election, Events, metrics). The
 * Kubernetes client (config, requests, list+watch) is common's mcp/kube.h.
 * Every cross-file symbol is prefixed ctl_; anything else stays static. */
#ifndef CTL_INTERNAL_H
#define CTL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <jansson.h>

#include "mcp/buf.h"
#include "mcp/common.h"
#include "mcp/json.h"
#include "mcp/kube.h"
#include "mcp/schema.h"

#define CTL_VERSION                    "0.1.0" /* = appVersion in charts/mcp-operator/Chart.yaml (tested) */
#define CTL_DEFAULT_PROXY_IMAGE        "ghcr.io/mcp-operator/mcp-proxy:" CTL_VERSION
#define CTL_DEFAULT_PROXY_CLUSTER_ROLE "mcp-operator-proxy"
#define CTL_FIELD_MANAGER              "mcp-controller"
#define CTL_MANAGED_BY                 "mcp-operator"
#define CTL_SERVER_COMPONENT           "mcp-server"
#define CTL_MCP_CONTAINER              "mcp"
#define CTL_PROXY_CONTAINER            "proxy"
#define CTL_SERVER_PORT_NAME           "mcp"
/* mcp-proxy's forward proxy for its MCP server (ConfigMap profiles), or the
 * next port when spec.port is this one: ctl_egress_port(). */
#define CTL_EGRESS_PORT      3128
#define CTL_EGRESS_PORT_NAME "egress"
#define CTL_RUN_AS_ID        65532 /* the proxy pod (our image's user) */
/* On every child: the hash (hex) of the object as we last applied it. */
#define CTL_APPLIED_HASH "toolhive.stacklok.dev/applied-hash"
/* ToolHive's restart trigger: an MCPServer annotation whose value (an RFC
 * 3339 time, by convention) is copied into both pod templates, so a new value
 * rolls the proxy and the MCP server pod. ToolHive's restart-strategy
 * "immediate" is taken as the same rolling restart. */
#define CTL_RESTARTED_AT "mcpserver.toolhive.stacklok.dev/restarted-at"

/* Child names (printf formats of the MCPServer's name). Names are at most 50
 * characters, so every one fits CTL_NAME_BUF. */
#define CTL_NAME_BUF         96
#define CTL_PROXY_SA_FMT     "%s-proxy-runner" /* ServiceAccount and RoleBinding */
#define CTL_SERVER_SA_FMT    "%s-sa"
#define CTL_PROXY_SVC_FMT    "mcp-%s-proxy"
#define CTL_HEADLESS_SVC_FMT "mcp-%s-headless"
#define CTL_NETPOL_FMT       "%s"              /* NetworkPolicy, like the workloads */
#define CTL_OLD_NETPOL_FMT   "%s-egress"       /* egress-only policy of the previous version */
#define CTL_OLD_ROLE_FMT     "%s-proxy-runner" /* Role of the previous version */
#define CTL_OIDC_SECRET_FMT  "%s-oidc-client"  /* Secret: the introspection client secret */
#define CTL_AUTHZ_INLINE_FMT "%s-authz-inline" /* ConfigMap: inline policies, as ToolHive's */
#define CTL_OIDC_SECRET_ENV  "MCP_PROXY_OIDC_CLIENT_SECRET"
/* The authorization configuration (ToolHive's authz.json) in the proxy pod. */
#define CTL_AUTHZ_VOLUME "authz-config"
#define CTL_AUTHZ_DIR    "/etc/mcp-proxy/authz"
#define CTL_AUTHZ_FILE   "authz.json"
/* On the proxy's pod template: a hash of the referenced authorization
 * ConfigMap's content (or of the inline policies), so a change restarts
 * the proxy with it. */
#define CTL_AUTHZ_HASH "toolhive.stacklok.dev/authz-config-hash"

/* ==== desired objects: pure, one file per kind ============================== */

/* The proxy's authentication settings, resolved from spec.oidcConfig (or
 * the ConfigMap it names). Strings borrowed; NULL = not set. */
typedef struct ctl_oidc {
    bool on, kubernetes, cluster_auth, allow_private_ip;
    const char *issuer, *audience, *namespace, *jwks_url, *introspection_url, *client_id;
    const char *client_secret; /* only ever written into the Secret */
    const char *ca_file, *jwks_token_file, *resource_url;
} ctl_oidc_t;

typedef struct ctl_options {
    const char *proxy_image;        /* NULL = CTL_DEFAULT_PROXY_IMAGE */
    const char *proxy_cluster_role; /* NULL = CTL_DEFAULT_PROXY_CLUSTER_ROLE */
    const json_t *profile;          /* parsed ConfigMap permission profile (borrowed) or NULL */
    const ctl_oidc_t *oidc;         /* oidcConfig type configMap: what the ConfigMap says */
    const char *authz_hash;         /* authzConfig type configMap: hash of its content (hex) */
} ctl_options_t;

/* desired.c: the objects of DESIGN.md section 4 for one MCPServer, in apply
 * order: proxy ServiceAccount, RoleBinding, MCP ServiceAccount (unless
 * spec.serviceAccount), NetworkPolicy (always: ingress from the proxy only), headless
 * Service, StatefulSet, Deployment, proxy Service. Pure: no I/O, no globals.
 * Returns a new reference to a JSON array, or NULL on allocation failure.
 * `s` must be a valid server. */
json_t *ctl_desired_objects(const mcp_server_t *s, const ctl_options_t *opt);

/* The MCPServer's CTL_RESTARTED_AT value (borrowed from s->root), or NULL
 * when absent, empty or over 64 bytes. */
const char *ctl_restarted_at(const mcp_server_t *s);
/* Put it into a pod template's metadata (its annotations made when absent);
 * 0, or -1 on OOM. Nothing when the MCPServer has none. */
int ctl_stamp_restart(json_t *tmpl_meta, const mcp_server_t *s);

/* meta.c. Labels every object carries / the proxy's immutable selector / the
 * MCP server pods' selector. New references. */
json_t *ctl_common_labels(const char *name);
json_t *ctl_selector_labels(const char *name);
json_t *ctl_server_selector_labels(const char *name);
/* metadata {name, namespace, labels (+ override labels underneath ours),
 * annotations (override), ownerReferences (controller)}. New reference. */
json_t *ctl_object_meta(const mcp_server_t *s, const char *name, const mcp_override_t *ov);
/* {apiVersion, kind, metadata}; steals meta (even on failure). */
json_t *ctl_typed_object(const char *api_version, const char *kind, json_t *meta);
/* o[key] = value; steals both; returns o, or NULL (both released) on failure
 * or when either is NULL. */
json_t *ctl_with(json_t *o, const char *key, json_t *value);
/* "http://mcp-<name>-proxy.<ns>.svc.cluster.local:<port>/mcp" ("/sse" for
 * the sse transport); new malloc'd string. */
char *ctl_service_url(const mcp_server_t *s);
/* An env entry {name, value}; an empty value is left out, as the apiserver
 * stores it (else the applied object is never found again in the live one,
 * and each restart re-applies it). New reference or NULL. */
json_t *ctl_env_var(const char *name, const char *value);
/* A child's name from one of the CTL_*_FMT formats into buf; returns buf. */
char *ctl_child_name(char *buf, size_t len, const char *fmt, const char *name);
/* sse or streamable-http: the MCP server listens on targetPort. */
static inline bool ctl_http_transport(const mcp_server_t *s)
{
    return s->transport && strcmp(s->transport, "stdio") != 0;
}

/* rbac.c. New references or NULL. */
json_t *ctl_service_account(const mcp_server_t *s, const char *name);
json_t *ctl_proxy_role_binding(const mcp_server_t *s, const ctl_options_t *opt);

/* service.c. New references or NULL. */
json_t *ctl_proxy_service(const mcp_server_t *s);
json_t *ctl_headless_service(const mcp_server_t *s);

/* statefulset.c. The StatefulSet, and its pod template alone (the user's
 * spec.podTemplateSpec merged with ours). New references or NULL. */
json_t *ctl_statefulset(const mcp_server_t *s);
json_t *ctl_server_pod_template(const mcp_server_t *s);

/* deployment.c. The proxy Deployment, and the proxy's arguments alone. New
 * references or NULL. */
json_t *ctl_proxy_deployment(const mcp_server_t *s, const ctl_options_t *opt);
json_t *ctl_proxy_args(const mcp_server_t *s, const ctl_options_t *opt);

/* auth.c. Pure. The settings oidcConfig gives (type configMap: opt->oidc;
 * out->on false when none). */
void ctl_oidc_resolve(const mcp_server_t *s, const ctl_options_t *opt, ctl_oidc_t *out);
/* What an OIDC ConfigMap's data (borrowed) says: the JSON document under
 * `key` when there is one (*doc: a new reference the strings point into,
 * or NULL), else ToolHive v0.2.9's keys (issuer, audience, jwksUrl, ...).
 * 0, or -1 with why. */
int ctl_oidc_from_configmap(const json_t *data, const char *key, json_t **doc, ctl_oidc_t *out,
                            char *why, size_t len);
/* Append mcp-proxy's authentication and authorization flags (the contract
 * in /work/notes/auth-contract.md) to args. 0 or -1 (OOM). */
int ctl_auth_args(const mcp_server_t *s, const ctl_options_t *opt, json_t *args);
/* The Secret "<name>-oidc-client" holding the client secret, and the proxy's
 * env entry that reads it by secretKeyRef; NULL when there is no secret. */
json_t *ctl_oidc_secret(const mcp_server_t *s, const ctl_options_t *opt);
json_t *ctl_oidc_secret_env(const mcp_server_t *s, const ctl_options_t *opt);
/* Inline policies as ToolHive's authz.json (compact), new malloc'd string;
 * the ConfigMap "<name>-authz-inline" holding it (NULL unless type inline). */
char *ctl_authz_inline_json(const mcp_server_t *s);
/* 64-bit FNV-1a of text[0..n) as 16 hex digits into hex (>= 17 bytes). */
char *ctl_text_hash(const char *text, size_t n, char *hex, size_t len);
/* One FNV-1a step: p[0..n) folded into *h (start from 14695981039346656037). */
void ctl_fnv1a(uint64_t *h, const void *p, size_t n);
/* Standard base64 (RFC 4648, padded; OpenSSL's EVP_EncodeBlock) of
 * p[0..n); new malloc'd string, NULL on OOM or n over INT_MAX / 2. */
char *ctl_base64(const void *p, size_t n);
json_t *ctl_authz_configmap(const mcp_server_t *s);
/* A referenced authz.json: ToolHive's shape (type cedarv1, cedar.policies
 * non-empty strings, cedar.entities_json a string) and Cedar parses it. 0,
 * or -1 with why. */
int ctl_authz_check(const char *text, size_t n, char *why, size_t len);

/* netpol.c. The NetworkPolicy "<name>": ingress to the MCP server pods only
 * from the proxy pods (HTTP transports, on targetPort; stdio: none), egress
 * by profile. `profile` is the parsed ConfigMap profile for type configmap
 * (NULL allows DNS and the egress proxy only). New reference; on OOM NULL and
 * *oom = 1. */
json_t *ctl_network_policy(const mcp_server_t *s, const json_t *profile, int *oom);

/* The proxy's egress (forward proxy) port when the MCP server's HTTP(S) goes
 * through it, i.e. for a ConfigMap profile whatever its content (so editing
 * the ConfigMap restarts nothing): CTL_EGRESS_PORT, or the next port when
 * spec.port is that one. 0 otherwise. */
int ctl_egress_port(const mcp_server_t *s);

/* Check a ConfigMap profile as mcp-proxy's forward proxy reads it
 * (mcp/egress_rules.h: ToolHive's format; allow_host entries are host names,
 * ".<domain>", "*.<domain>" or IP addresses; allow_port integers 1-65535).
 * Returns 0, or -1 with a message naming the member and the rule in why. */
int ctl_profile_check(const json_t *profile, char *why, size_t len);

/* What no NetworkPolicy or proxy here enforces of a ConfigMap profile
 * (read/write paths), as one line; NULL when everything is enforced. New
 * malloc'd string. */
char *ctl_profile_warning(const json_t *profile);

/* ==== jsonutil.c ============================================================ */

/* True when every field of `want` is present in `live` with the same value:
 * objects recursively, arrays of scalars exactly, arrays of objects as "each
 * wanted element is contained in some live element" (server-side apply keeps
 * other managers' list entries). Numbers compare by value. */
bool ctl_json_contains(const json_t *live, const json_t *want);

/* 64-bit FNV-1a of the compact, key-sorted serialisation (0 on OOM). */
uint64_t ctl_json_hash(const json_t *j);

/* parent[key] as an object (array) to fill in, created or replacing a value
 * of another type; borrowed, NULL on OOM. */
json_t *ctl_json_child(json_t *parent, const char *key, bool array);
/* The object of `arr` whose "name" is `name` (borrowed); appended as
 * {"name": name} when absent and `create`; NULL when absent or on OOM. */
json_t *ctl_json_find_named(json_t *arr, const char *name, bool create);
/* Replace the element of `arr` with elem's "name", or append. Steals elem
 * (even on failure). Returns 0 or -1. */
int ctl_json_upsert_named(json_t *arr, json_t *elem);

/* ==== status.c ============================================================== */

#define CTL_COND_NOT_IMPLEMENTED "FieldsNotImplemented"

typedef struct ctl_status_in {
    const char *phase;   /* Pending | Running | Failed | Terminating */
    const char *message; /* may be NULL */
    const char *url;     /* NULL = leave out */
    bool valid;
    const char *valid_message; /* the validation message when !valid */
    bool ready;
    const char *ready_reason; /* CamelCase reason for Ready */
    bool problem;             /* ready_reason names a failure: a Warning Event on change */
    /* the message of condition FieldsNotImplemented (True), or NULL/"": none */
    const char *not_implemented;
    int64_t generation;
    const char *now; /* RFC 3339 timestamp used for changed conditions */
} ctl_status_in_t;

/* The new `.status` for an MCPServer given its current status (borrowed, may
 * be NULL). Conditions keep their lastTransitionTime when their status does
 * not change. Returns NULL when the current status already says all this (no
 * write needed), else a new reference (NULL on OOM too: *oom is set). */
json_t *ctl_status_compute(const json_t *current, const ctl_status_in_t *in, int *oom);

/* The MCP server pod as the status needs it, kept in the cache. */
enum ctl_pod_state {
    CTL_POD_NONE,     /* no pod (yet) */
    CTL_POD_STARTING, /* scheduled or not, pulling, creating, running but not ready */
    CTL_POD_READY,
    CTL_POD_FAILED, /* CrashLoopBackOff, a failed container, an invalid image, phase Failed */
};

#define CTL_POD_DETAIL_MAX 320

typedef struct ctl_pod_summary {
    uint8_t state; /* enum ctl_pod_state */
    /* a failure's Ready reason and Warning Event reason (static: ImageNotFound,
     * ImagePullUnauthorized, ImagePullFailed, SecretNotFound, CrashLoopBackOff,
     * Unschedulable, ...), NULL while nothing is wrong */
    const char *problem;
    /* why, when not ready ("" = nothing to say); last: the cache keeps a
     * child's record only up to the end of this string */
    char detail[CTL_POD_DETAIL_MAX];
} ctl_pod_summary_t;

/* Summarise a Pod object (borrowed) of the MCP server. Pure. */
void ctl_pod_summarize(const json_t *pod, ctl_pod_summary_t *out);

/* Phase, message, ready and ready_reason of a valid MCPServer whose children
 * were applied, from its proxy Deployment's available replicas and its pod
 * (NULL: no pod). `msg` (>= 256 bytes) holds the message in->message points
 * to. Running only when the proxy is available (its readiness is the
 * proxy's /health: for stdio, attached) and the pod is ready. proxy_why is
 * the proxy's own reason for not being ready ("" = unknown; ctl_proxy_why):
 * the message then says it, reason ProxyNotReady. Pure. */
void ctl_workload_status(int32_t proxy_available, const ctl_pod_summary_t *pod,
                         const char *proxy_why, ctl_status_in_t *in, char *msg, size_t msglen);

/* ==== proxyprobe.c ========================================================= */

/* From the body of a proxy's 503 /health ("data path down: <why>\n"): <why>,
 * printable ASCII (others become '?'), at most 200 bytes and n - 1; its length
 * (0 and "" when the body does not say). Pure. */
size_t ctl_proxy_health_reason(const char *body, char *why, size_t n);
/* The podIP (borrowed from list) of the first Running, not terminating pod of
 * a PodList whose first ownerReference is a ReplicaSet "<name>-...": the
 * proxy Deployment's. NULL when none. Pure. */
const char *ctl_proxy_pod_ip(const json_t *list, const char *name);

/* RFC 3339 UTC "2006-01-02T15:04:05Z" (seconds) or with microseconds
 * ("...05.000000Z", micro = 1) for Lease MicroTime. buf >= 32 bytes. */
char *ctl_time_rfc3339(char *buf, size_t len, int micro);

/* ==== strmap.c ============================================================== */

typedef struct ctl_map {
    struct ctl_map_entry **buckets;
    size_t nbuckets, len;
} ctl_map_t;

#define CTL_MAP_KEEP   0
#define CTL_MAP_REMOVE 1

void ctl_map_init(ctl_map_t *m);
/* free_value (may be NULL) is called on each value. */
void ctl_map_dispose(ctl_map_t *m, void (*free_value)(void *));
void *ctl_map_get(const ctl_map_t *m, const char *key);
/* Insert or replace (the key is copied); *old gets the replaced value. */
int ctl_map_put(ctl_map_t *m, const char *key, void *value, void **old);
/* Remove; returns the value (caller frees) or NULL. */
void *ctl_map_del(ctl_map_t *m, const char *key);
/* fn returns CTL_MAP_REMOVE to drop the entry (after freeing its value). */
void ctl_map_foreach(ctl_map_t *m, int (*fn)(void *ctx, const char *key, void *value), void *ctx);

/* ==== metrics.c ============================================================= */

typedef struct ctl_metrics ctl_metrics_t;

enum ctl_result { CTL_RES_OK, CTL_RES_ERROR, CTL_RES_INVALID, CTL_RES_CONFLICT, CTL_RES_N };

ctl_metrics_t *ctl_metrics_new(void);
void ctl_metrics_free(ctl_metrics_t *m);
/* One apiserver request: method, HTTP status (0 = transport error), seconds. */
void ctl_metrics_request(ctl_metrics_t *m, const char *method, long status, double seconds);
void ctl_metrics_lease_request(ctl_metrics_t *m);
void ctl_metrics_reconcile(ctl_metrics_t *m, enum ctl_result r);
void ctl_metrics_watch_restart(ctl_metrics_t *m);
void ctl_metrics_skipped_apply(ctl_metrics_t *m);
/* Totals (for tests and the bench); Lease requests are not included. */
unsigned long long ctl_metrics_writes(const ctl_metrics_t *m);
unsigned long long ctl_metrics_requests(const ctl_metrics_t *m);
/* Prometheus text; queue_depth is sampled by the caller. */
void ctl_metrics_render(const ctl_metrics_t *m, size_t queue_depth, mcp_buf_t *out);
/* Count every request of client c in m (leader-election traffic, tagged
 * CTL_TAG_LEASE, apart from the rest). m may be NULL. */
void ctl_metrics_observe(mcp_kube_client_t *c, ctl_metrics_t *m);

/* mcp_kube_req_t.tag values */
#define CTL_TAG_LEASE 1

/* ==== queue.c =============================================================== */

typedef struct ctl_queue ctl_queue_t;

typedef struct ctl_queue_opts {
    double base_ms, cap_ms; /* per-item retry backoff: 5 ms doubling to cap */
    double qps;             /* overall limit on retries (token bucket) */
    int burst;
} ctl_queue_opts_t;

ctl_queue_t *ctl_queue_new(const ctl_queue_opts_t *o);
void ctl_queue_free(ctl_queue_t *q);
/* Add now. A key already waiting is not added twice; a key being processed
 * is re-queued when ctl_queue_done is called for it. */
void ctl_queue_add(ctl_queue_t *q, const char *key);
void ctl_queue_add_after(ctl_queue_t *q, const char *key, double ms);
/* Retry after the key's next backoff delay (and the overall limit). */
void ctl_queue_add_rate_limited(ctl_queue_t *q, const char *key);
/* Reset the key's failure count. */
void ctl_queue_forget(ctl_queue_t *q, const char *key);
unsigned ctl_queue_failures(ctl_queue_t *q, const char *key);
/* Block for the next key (new malloc'd string) or NULL after shutdown. */
char *ctl_queue_get(ctl_queue_t *q);
void ctl_queue_done(ctl_queue_t *q, const char *key);
void ctl_queue_shutdown(ctl_queue_t *q);
size_t ctl_queue_len(ctl_queue_t *q);

/* ==== cache.c: what the controller remembers about the cluster ============== */

typedef struct ctl_child {
    char rv[24];           /* resourceVersion last seen */
    char owner_uid[40];    /* uid of the controller ownerReference, "" if none */
    uint64_t match_hash;   /* hash of the desired object rv is up to date with (0: none) */
    uint64_t applied;      /* the hash in its applied-hash annotation (0: none) */
    bool unverified;       /* match_hash unknown: the desired object needs the profile ConfigMap */
    int32_t available;     /* Deployment: status.availableReplicas */
    uint32_t epoch;        /* relist sweep */
    ctl_pod_summary_t pod; /* Pod: its state */
} ctl_child_t;

typedef struct ctl_cache ctl_cache_t;

ctl_cache_t *ctl_cache_new(void);
void ctl_cache_free(ctl_cache_t *c);
/* A numeric resourceVersion (etcd revision), 0 when it is not a number. */
uint64_t ctl_rv_num(const char *rv);
/* MCPServers, keyed "ns/name"; stored compact without managedFields. A copy
 * older (by numeric resourceVersion) than the cached one is ignored. Epoch 0
 * is a write's response: it only refreshes an entry still cached (keeping
 * its epoch), so a response never brings back an object deleted meanwhile. */
int ctl_cache_put_server(ctl_cache_t *c, const char *key, const json_t *obj, uint32_t epoch);
void ctl_cache_del_server(ctl_cache_t *c, const char *key);
/* The cached copy of the MCPServer has this (numeric) resourceVersion. */
bool ctl_cache_has_server_rv(ctl_cache_t *c, const char *key, const char *rv);
json_t *ctl_cache_get_server(ctl_cache_t *c, const char *key); /* new reference or NULL */
size_t ctl_cache_servers(ctl_cache_t *c);
/* Calls fn for each server key (under the lock: fn must not call the cache). */
void ctl_cache_each_server(ctl_cache_t *c, void (*fn)(void *ctx, const char *key), void *ctx);
/* Children, keyed "Kind/ns/name". get returns true and copies when present. */
bool ctl_cache_get_child(ctl_cache_t *c, const char *key, ctl_child_t *out);
int ctl_cache_put_child(ctl_cache_t *c, const char *key, const ctl_child_t *in);
void ctl_cache_del_child(ctl_cache_t *c, const char *key);
/* After a relist of `prefix` ("Kind/ns/" or "Kind/" for all namespaces, or
 * "srv/ns/"...): drop entries under prefix with an older epoch; fn gets each
 * dropped key. */
void ctl_cache_sweep(ctl_cache_t *c, bool servers, const char *prefix, uint32_t epoch,
                     void (*fn)(void *ctx, const char *key), void *ctx);

/* ==== watch.c, apply.c, reconcile.c ========================================= */

typedef struct ctl_kind {
    const char *kind, *api_version, *base, *resource;
    const char *selector; /* watch label selector, URL-encoded; NULL = managed-by */
    bool watch_only;      /* never applied: Pods (status), Roles (upgrade clean-up) */
    /* Makes pods: applied only once every other child exists (the pods use
     * the ServiceAccounts and the RoleBinding, and must start under the
     * NetworkPolicy). The others are applied together, then these. */
    bool workload;
    /* Never listed or watched (Secrets: the controller may only create and
     * patch them): known only from our own applies' responses, applied
     * without force so that fields another manager owns are a conflict. */
    bool unwatched;
} ctl_kind_t;

/* The child kinds we watch (and apply, unless watch_only), in a fixed order. */
extern const ctl_kind_t ctl_kinds[];
extern const size_t ctl_n_kinds;
const ctl_kind_t *ctl_kind_find(const char *kind);

typedef struct ctl_ctrl {
    mcp_kube_client_t *client;
    ctl_cache_t *cache;
    ctl_queue_t *queue;
    ctl_metrics_t *metrics;
    const char *proxy_image;         /* NULL = default */
    const char *proxy_cluster_role;  /* NULL = default */
    const char *identity;            /* Event reportingInstance */
    const struct ctl_leader *leader; /* writes only while it leads; NULL = always */
    bool events;                     /* post Events */
    double proxy_probe_ms;           /* ask a not-ready proxy why, again after this (0 = never) */
    double conflict_retry_ms, permanent_retry_ms;
} ctl_ctrl_t;

/* Watch handlers: keep the cache current and queue the affected MCPServer. */
void ctl_on_server_event(ctl_ctrl_t *c, const char *type, json_t *obj, uint32_t epoch);
void ctl_on_child_event(ctl_ctrl_t *c, const char *type, json_t *obj, uint32_t epoch);
/* An MCPServer that cannot be loaded (mcp_kube_object_stub; `why` from the
 * loader): cached as its stub marked CTL_UNREADABLE, so the reconciler marks
 * it Failed and nothing else. */
void ctl_on_server_unreadable(ctl_ctrl_t *c, const char *type, json_t *stub, const char *why,
                              uint32_t epoch);
#define CTL_UNREADABLE "mcpOperatorUnreadable"

/* Queue every cached MCPServer (after a relist, on leadership, on resync). */
void ctl_enqueue_all(ctl_ctrl_t *c);

/* Reconcile one key ("ns/name"); *requeue_ms > 0 asks for a later retry. */
enum ctl_result ctl_reconcile(ctl_ctrl_t *c, const char *key, double *requeue_ms);
/* Take the next key from the queue, reconcile it, do the queue bookkeeping.
 * Returns false once the queue is shut down. */
bool ctl_process_next(ctl_ctrl_t *c);

/* ==== events.c ============================================================== */

/* Post an events.k8s.io/v1 Event about `regarding` (an MCPServer object,
 * borrowed). type "Normal"|"Warning"; the note is cut at 1 KiB on a UTF-8
 * character boundary; timeout_ms 0 = the client's default. Returns 0 or
 * negative (logged at warning); best effort. */
int ctl_event_post(mcp_kube_client_t *c, const char *instance, const json_t *regarding,
                   const char *type, const char *reason, const char *action, const char *note,
                   long timeout_ms);
/* Whether an Event of `reason` and `note` about the object `uid` was let
 * through in the last window_s seconds; when not, this call counts as one
 * (so the caller posts it). Like the kubelet's event aggregation, it keeps a
 * failure that comes and goes (a crash loop) from flooding the Events, while
 * news (another reason, or the same reason saying something new, e.g. the
 * proxy's reason once known) still gets through. Thread-safe; remembers the
 * last 1,024. */
bool ctl_event_recent(const char *uid, const char *reason, const char *note, double window_s);

/* ==== conversion.c: the CRD's conversion webhook ============================ */

#define CTL_CONVERSION_CRD    "mcpservers.toolhive.stacklok.dev"
#define CTL_CONVERSION_PATH   "/convert"
#define CTL_CONVERSION_CA_MAX ((size_t)64 << 10) /* the CA file: at most 64 KiB */

/* Where the CRD's conversion webhook points: the Service or the URL (one of
 * them, or neither: not managed), and the CA the API server must trust. */
typedef struct ctl_conversion_opts {
    char service_ns[64], service_name[64]; /* --conversion-service NS/NAME:PORT; "" = none */
    int service_port;
    const char *url;     /* --conversion-url: the base, CTL_CONVERSION_PATH appended; NULL = none */
    const char *ca_file; /* --conversion-ca-file: PEM */
    double period_s;     /* check the CRD this often (60 s) */
    double ca_poll_s;    /* read the CA file this often, for changes (2 s) */
} ctl_conversion_opts_t;

static inline bool ctl_conversion_on(const ctl_conversion_opts_t *o)
{
    return o->url || o->service_name[0];
}

/* "NAMESPACE/NAME:PORT" (DNS labels, the name a DNS-1035 one, port 1-65535)
 * into o's service fields; 0, or -1 with o untouched. Pure. */
int ctl_conversion_parse_service(const char *arg, ctl_conversion_opts_t *o);
/* A base URL the API server takes: https, a host, no user information,
 * query or fragment, at most 2,048 bytes. 0 or -1. Pure. */
int ctl_conversion_check_url(const char *url);
/* The spec.conversion wanted: {"strategy": "Webhook", "webhook":
 * {"conversionReviewVersions": ["v1"], "clientConfig": {"service":
 * {namespace, name, path: "/convert", port} or "url": "<url>/convert",
 * "caBundle": base64 of ca[0..ca_len)}}}. New reference; NULL when o names no
 * target, or on OOM. Pure. */
json_t *ctl_conversion_desired(const ctl_conversion_opts_t *o, const char *ca, size_t ca_len);
/* True when the CRD (borrowed) has no spec.conversion or another one than
 * `want` (any difference: strategy, review versions, target, caBundle). */
bool ctl_conversion_needs_patch(const json_t *crd, const json_t *want);
/* The merge patch giving a CRD `want`: {"spec": {"conversion": want}} with
 * the other target ("url" or "service") null, so a switch drops it. New
 * malloc'd string or NULL. */
char *ctl_conversion_patch(const json_t *want);
/* The CA file: a regular file of at most CTL_CONVERSION_CA_MAX bytes holding
 * a PEM certificate. 0 with *out (new malloc'd, NUL-terminated) and *len, or
 * negative with why (MCP_ENOENT: no file, MCP_ETOOBIG, MCP_EINVAL, MCP_EIO). */
int ctl_conversion_read_ca(const char *path, char **out, size_t *len, char *why, size_t whylen);
/* One check: GET the CRD and, when ctl_conversion_needs_patch, PATCH it.
 * Returns 0 (in place), 1 (patched: logged at info), or negative (logged at
 * warning: MCP_ENOENT no CRD, MCP_EHTTP another status (403: the RBAC rule
 * it needs is named), MCP_EIO no answer, MCP_ENOMEM). */
int ctl_conversion_sync(mcp_kube_client_t *c, const ctl_conversion_opts_t *o, const char *ca,
                        size_t ca_len);
/* Until *c->stop: read the CA file every ca_poll_s; check on start, every
 * period_s and as soon as the CA's contents change; after a failed check,
 * again in 5 s doubling up to period_s. Checks only while leading(ctx) says
 * so (NULL: always), as soon as it starts to: like every other write of the
 * controller, the CRD's patch is the Lease holder's. */
void ctl_conversion_run(mcp_kube_client_t *c, const ctl_conversion_opts_t *o,
                        bool (*leading)(void *ctx), void *ctx);

/* ==== manager.c: threads and wiring ========================================= */

typedef struct ctl_config {
    const char *kubeconfig;         /* NULL: $KUBECONFIG, in-cluster, ~/.kube/config */
    const char *proxy_image;        /* NULL = default */
    const char *proxy_cluster_role; /* NULL = default */
    bool leader_elect;
    const char *lease_ns, *lease_name;
    double lease_s, renew_s, retry_s;
    int health_port;
    const char *health_addr;
    int workers;
    double resync_s;
    char **namespaces;                /* NULL-terminated; NULL = all */
    ctl_conversion_opts_t conversion; /* the CRD's conversion webhook; off unless a target */
} ctl_config_t;

/* Run the controller until SIGTERM/SIGINT. Returns a process exit code. */
int ctl_run(const ctl_config_t *cfg);

/* ==== leader.c ============================================================== */

typedef struct ctl_leader_opts {
    const char *ns, *name, *identity;
    double lease_s, renew_s, retry_s; /* 15, 10, 2 */
} ctl_leader_opts_t;

typedef struct ctl_leader ctl_leader_t;

/* on_change(ctx, leader) runs on the leader thread when leadership flips. */
ctl_leader_t *ctl_leader_new(mcp_kube_client_t *c, const ctl_leader_opts_t *o,
                             void (*on_change)(void *ctx, bool leader), void *ctx);
void ctl_leader_free(ctl_leader_t *l);
/* One acquire-or-renew attempt, each request bounded by the time left
 * before our deadline; true when we hold the Lease afterwards (leader until
 * renew-deadline seconds after the attempt began). */
bool ctl_leader_try(ctl_leader_t *l);
/* Loop until *client->stop. Does not release: the caller does, after its
 * workers stopped. */
void ctl_leader_run(ctl_leader_t *l);
/* Give up leadership now and clear the Lease's holder if it is us. */
void ctl_leader_release(ctl_leader_t *l);
/* True until the renew deadline of the last successful renewal: time-based,
 * so it turns false on time even while the leader thread hangs. */
bool ctl_leader_is_leader(const ctl_leader_t *l);
/* That deadline (ctl_mono seconds), 0 when not leader. Thread-safe. */
double ctl_leader_deadline(const ctl_leader_t *l);
/* CLOCK_MONOTONIC in seconds. */
double ctl_mono(void);

#endif
