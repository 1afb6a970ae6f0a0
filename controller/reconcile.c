/* The reconciler: for one MCPServer, validate it again with common/ (an
 * invalid spec that slipped past the webhook gets phase Failed, Valid=False
 * and nothing else), compute the desired objects, apply each by server-side
 * apply unless the live object is what we last applied (the hash of the
 * applied object, kept in an annotation on it, equals the desired one's)
 * and still holds our fields' values, delete
 * the children no longer wanted (the MCP ServiceAccount, the NetworkPolicy),
 * and write the status only when it changes. A child of the same name that
 * is not controlled by this MCPServer is never touched: the MCPServer fails
 * with a message naming it. The watch handlers here keep the cache's
 * "already contains" hashes current, so a no-op resync makes no writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mcp/log.h"

#define PATH_MAX_LEN 512
#define KEY_MAX      320

const ctl_kind_t ctl_kinds[] = {
    {"ServiceAccount", "v1", "/api/v1", "serviceaccounts", NULL, false},
    {"RoleBinding", "rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1",
     "rolebindings", NULL, false},
    {"NetworkPolicy", "networking.k8s.io/v1", "/apis/networking.k8s.io/v1", "networkpolicies", NULL,
     false},
    {"Service", "v1", "/api/v1", "services", NULL, false},
    {"StatefulSet", "apps/v1", "/apis/apps/v1", "statefulsets", NULL, false},
    {"Deployment", "apps/v1", "/apis/apps/v1", "deployments", NULL, false},
    /* the previous version's Role "<name>-proxy-runner", deleted on upgrade */
    {"Role", "rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1", "roles", NULL,
     true},
    /* the MCP server pods, read for the status (never the proxy's pods) */
    {"Pod", "v1", "/api/v1", "pods",
     "app.kubernetes.io%2Fmanaged-by%3D" CTL_MANAGED_BY
     "%2Capp.kubernetes.io%2Fcomponent%3D" CTL_SERVER_COMPONENT,
     true},
};
const size_t ctl_n_kinds = MCP_ARRAY_LEN(ctl_kinds);

const ctl_kind_t *ctl_kind_find(const char *kind)
{
    for (size_t i = 0; kind && i < ctl_n_kinds; i++)
        if (strcmp(ctl_kinds[i].kind, kind) == 0)
            return &ctl_kinds[i];
    return NULL;
}

/* ---- watch handlers --------------------------------------------------------- */

static const char *controller_uid(const json_t *obj)
{
    size_t i;
    json_t *r;

    json_array_foreach(mcp_json_get(obj, "metadata.ownerReferences"), i, r)
    {
        if (json_is_true(json_object_get(r, "controller")))
            return json_string_value(json_object_get(r, "uid"));
    }
    return NULL;
}

static void child_key(char *buf, size_t len, const char *kind, const char *ns, const char *name)
{
    snprintf(buf, len, "%s/%s/%s", kind, ns, name);
}

void ctl_on_server_event(ctl_ctrl_t *c, const char *type, json_t *obj, uint32_t epoch)
{
    const char *ns = mcp_json_str(obj, "metadata.namespace");
    const char *name = mcp_json_str(obj, "metadata.name");
    char key[KEY_MAX];

    if (!ns || !name)
        return;
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    if (strcmp(type, "DELETED") == 0)
        ctl_cache_del_server(c->cache, key);
    else
        ctl_cache_put_server(c->cache, key, obj, epoch);
    ctl_queue_add(c->queue, key);
}

void ctl_on_server_unreadable(ctl_ctrl_t *c, const char *type, json_t *stub, const char *why,
                              uint32_t epoch)
{
    json_object_set_new(stub, CTL_UNREADABLE, json_string(why));
    ctl_on_server_event(c, type, stub, epoch);
}

/* What we applied last, from the child's annotation (0 when absent). */
static uint64_t applied_hash(const json_t *live)
{
    const json_t *ann = mcp_json_get(live, "metadata.annotations");
    const char *v = json_string_value(json_object_get(ann, CTL_APPLIED_HASH));
    char *end;
    unsigned long long h;

    if (!v)
        return 0;
    h = strtoull(v, &end, 16);
    return *end ? 0 : (uint64_t)h;
}

/* The live child is what we last applied as `want` (its hash is h), and our
 * fields still hold our values. Fields of other managers are not looked at;
 * a field we dropped (from the spec, or by an upgrade) changes h. */
static bool up_to_date(const json_t *live, const json_t *want, uint64_t h)
{
    return applied_hash(live) == h && ctl_json_contains(live, want);
}

/* Hash of the desired `kind`/`name` of server `skey` when the live object is
 * up to date with it, else 0. */
static uint64_t live_match(ctl_ctrl_t *c, const char *skey, const char *owner_uid,
                           const json_t *live)
{
    json_t *obj = ctl_cache_get_server(c->cache, skey), *desired = NULL, *o;
    const char *kind = mcp_json_str(live, "kind"), *name = mcp_json_str(live, "metadata.name");
    mcp_server_t s;
    uint64_t h = 0;
    size_t i;

    if (!obj || !owner_uid || strcmp(owner_uid, mcp_json_str(obj, "metadata.uid") ?: "") != 0 ||
        mcp_server_parse(obj, &s, NULL) == MCP_ENOMEM) {
        json_decref(obj);
        return 0;
    }
    if (s.name && s.namespace && s.image && s.transport)
        desired =
            ctl_desired_objects(&s, &(ctl_options_t){.proxy_image = c->proxy_image,
                                                     .proxy_cluster_role = c->proxy_cluster_role});
    json_array_foreach(desired, i, o)
    {
        if (kind && strcmp(mcp_json_str(o, "kind"), kind) == 0 &&
            strcmp(mcp_json_str(o, "metadata.name"), name) == 0) {
            uint64_t want = ctl_json_hash(o);
            h = up_to_date(live, o, want) ? want : 0;
            break;
        }
    }
    json_decref(desired);
    mcp_server_dispose(&s);
    json_decref(obj);
    return h;
}

static void fill_child(ctl_child_t *ch, const json_t *obj, uint32_t epoch)
{
    const char *rv = mcp_json_str(obj, "metadata.resourceVersion");
    const char *uid = controller_uid(obj);

    memset(ch, 0, sizeof(*ch));
    snprintf(ch->rv, sizeof(ch->rv), "%s", rv ? rv : "");
    snprintf(ch->owner_uid, sizeof(ch->owner_uid), "%s", uid ? uid : "");
    ch->available = (int32_t)json_integer_value(mcp_json_get(obj, "status.availableReplicas"));
    ch->epoch = epoch;
    if (strcmp(mcp_json_str(obj, "kind") ?: "", "Pod") == 0)
        ctl_pod_summarize(obj, &ch->pod);
}

/* Whether a watch event of a child changes what the reconciler would do. */
static bool worth_queueing(const ctl_kind_t *k, bool had, const ctl_child_t *prev,
                           const ctl_child_t *ch)
{
    if (!had)
        return true;
    if (k && k->watch_only) /* a Pod's state; a Role only matters when it appears */
        return prev->pod.state != ch->pod.state || strcmp(prev->pod.detail, ch->pod.detail) != 0;
    return ch->match_hash == 0 || prev->available != ch->available;
}

void ctl_on_child_event(ctl_ctrl_t *c, const char *type, json_t *obj, uint32_t epoch)
{
    const char *kind = mcp_json_str(obj, "kind"), *ns = mcp_json_str(obj, "metadata.namespace");
    const char *name = mcp_json_str(obj, "metadata.name");
    const char *owner = mcp_json_str(obj, "metadata.labels.toolhive-name");
    const ctl_kind_t *k = ctl_kind_find(kind);
    char key[KEY_MAX], skey[KEY_MAX];
    ctl_child_t prev, ch;
    bool had;

    if (!kind || !ns || !name || !owner)
        return;
    child_key(key, sizeof(key), kind, ns, name);
    snprintf(skey, sizeof(skey), "%s/%s", ns, owner);
    if (strcmp(type, "DELETED") == 0) {
        ctl_cache_del_child(c->cache, key);
        ctl_queue_add(c->queue, skey);
        return;
    }
    fill_child(&ch, obj, epoch);
    had = ctl_cache_get_child(c->cache, key, &prev);
    if (had && ctl_rv_num(ch.rv) && ctl_rv_num(ch.rv) < ctl_rv_num(prev.rv))
        return; /* older than what our own write returned */
    if (had && strcmp(prev.rv, ch.rv) == 0)
        ch.match_hash = prev.match_hash;
    else if (!k || !k->watch_only)
        ch.match_hash = live_match(c, skey, ch.owner_uid, obj);
    ctl_cache_put_child(c->cache, key, &ch);
    if (worth_queueing(k, had, &prev, &ch))
        ctl_queue_add(c->queue, skey);
}

static void enqueue_cb(void *ctx, const char *key)
{
    ctl_queue_add(((ctl_ctrl_t *)ctx)->queue, key);
}

void ctl_enqueue_all(ctl_ctrl_t *c)
{
    ctl_cache_each_server(c->cache, enqueue_cb, c);
}

/* ---- one reconcile ------------------------------------------------------------ */

typedef struct rec {
    ctl_ctrl_t *c;
    json_t *obj; /* the MCPServer */
    mcp_server_t s;
    char *fail; /* message for phase Failed (owned) */
    enum ctl_result res;
    double requeue_ms;
    int available;
    mcp_buf_t written; /* "Kind/name, ..." applied this time */
    bool np_written;
    bool replacing;  /* re-applying after deleting an immutable child */
    char cause[256]; /* why a transient failure happened, for the log */
} rec_t;

static void failf(rec_t *r, enum ctl_result res, const char *fmt, const char *a, const char *b,
                  const char *m)
{
    free(r->fail);
    if (asprintf(&r->fail, fmt, a, b, m ? m : "") < 0)
        r->fail = NULL;
    r->res = res;
}

static char *object_path(char *buf, size_t len, const ctl_kind_t *k, const char *ns,
                         const char *name)
{
    snprintf(buf, len, "%s/namespaces/%s/%s/%s", k->base, ns, k->resource, name);
    return buf;
}

static bool transient(long status)
{
    return status == 409 || status == 429 || status >= 500 || status == 0;
}

/* Server-side apply answers 500 when our object does not fit the kind's
 * schema (a field podTemplateSpec carried that a pod template does not
 * have): no retry will help, so it is the MCPServer's status message. */
static bool refused_apply(const mcp_kube_resp_t *resp)
{
    const char *m = mcp_kube_status_message(resp->body, "");

    return resp->status == 500 && strstr(m, "failed to create typed patch object") != NULL;
}

/* A failure worth retrying soon: counted as an error, its cause logged. */
static void retry_later(rec_t *r, const char *method, const char *path, int rc,
                        const mcp_kube_resp_t *resp)
{
    r->res = CTL_RES_ERROR;
    if (rc)
        snprintf(r->cause, sizeof(r->cause), "%s %s: %s", method, path, mcp_strerror(rc));
    else
        snprintf(r->cause, sizeof(r->cause), "%s %s: HTTP %ld: %s", method, path, resp->status,
                 mcp_kube_status_message(resp->body, "no message"));
}

/* How long one write may take: until the Lease's renew deadline (0 = the
 * client's default without leader election); -1 when it passed, so nothing
 * is written by a replica that may no longer lead. */
static long write_timeout_ms(rec_t *r)
{
    double left;

    if (!r->c->leader)
        return 0;
    left = ctl_leader_deadline(r->c->leader) - ctl_mono();
    if (left < 0.001) {
        r->res = CTL_RES_ERROR;
        snprintf(r->cause, sizeof(r->cause), "not the leader: the renew deadline passed");
        return -1;
    }
    return (long)(left * 1000);
}

/* Record what the apiserver returned for a child. */
static void remember(rec_t *r, const char *key, const json_t *live, uint64_t h)
{
    ctl_child_t ch, prev;

    fill_child(&ch, live, 0);
    if (ctl_cache_get_child(r->c->cache, key, &prev))
        ch.epoch = prev.epoch;
    ch.match_hash = h;
    ctl_cache_put_child(r->c->cache, key, &ch);
}

/* The live object when we know nothing about it: 1 found (*out set), 0 not
 * found, -1 error (r->res set; a refusal such as 403 Forbidden, missing
 * RBAC, fails the MCPServer with the apiserver's message). */
static int fetch(rec_t *r, const char *path, const char *kind, const char *name, json_t **out)
{
    mcp_kube_resp_t resp;
    int rc = mcp_kube_do(r->c->client, &(mcp_kube_req_t){.method = "GET", .path = path}, &resp);

    if (rc != 0 || (resp.status != 200 && resp.status != 404)) {
        if (rc != 0 || transient(resp.status)) {
            retry_later(r, "GET", path, rc, &resp);
        } else {
            failf(r, CTL_RES_ERROR, "reading %s \"%s\" failed: %s", kind, name,
                  mcp_kube_status_message(resp.body, "no message"));
            r->requeue_ms = r->c->permanent_retry_ms;
        }
        mcp_kube_resp_dispose(&resp);
        return -1;
    }
    if (resp.status == 404) {
        mcp_kube_resp_dispose(&resp);
        return 0;
    }
    *out = resp.body;
    return 1;
}

/* `want` with the annotation recording its hash h (shallow copies: want is
 * not changed). New reference or NULL. */
static json_t *stamped(const json_t *want, uint64_t h)
{
    json_t *o = json_copy((json_t *)want), *meta, *ann;
    char hex[24];

    meta = json_copy(json_object_get(o, "metadata"));
    ann = json_is_object(json_object_get(meta, "annotations"))
              ? json_copy(json_object_get(meta, "annotations"))
              : json_object();
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)h);
    if (!o || !meta || !ann || json_object_set_new(ann, CTL_APPLIED_HASH, json_string(hex)) ||
        json_object_set_new(meta, "annotations", ann) || json_object_set_new(o, "metadata", meta)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* DELETE a child (background propagation); true when it is gone (else
 * r->res is set, with the cause). */
static bool delete_child(rec_t *r, const char *path, const char *key)
{
    mcp_kube_resp_t resp;
    long timeout = write_timeout_ms(r);
    int rc;
    bool gone;

    if (timeout < 0)
        return false;
    rc = mcp_kube_do(r->c->client,
                     &(mcp_kube_req_t){.method = "DELETE", .path = path, .timeout_ms = timeout},
                     &resp);
    gone = rc == 0 && (resp.status == 200 || resp.status == 202 || resp.status == 404);
    if (gone)
        ctl_cache_del_child(r->c->cache, key);
    else
        retry_later(r, "DELETE", path, rc, &resp);
    mcp_kube_resp_dispose(&resp);
    return gone;
}

/* A RoleBinding's roleRef cannot change (the previous version bound a Role,
 * this one the chart's ClusterRole; or --proxy-cluster-role changed): the
 * apiserver answers 422, and the binding is replaced. Only called for an
 * object already known to be ours. */
static bool immutable_conflict(const json_t *want, long status)
{
    return status == 422 && strcmp(mcp_json_str(want, "kind"), "RoleBinding") == 0;
}

static int apply(rec_t *r, const char *path, const char *key, const json_t *want, uint64_t h)
{
    char url[PATH_MAX_LEN + 64];
    json_t *obj = stamped(want, h);
    char *body = obj ? json_dumps(obj, JSON_COMPACT) : NULL;
    const char *kind = mcp_json_str(want, "kind"), *name = mcp_json_str(want, "metadata.name");
    mcp_kube_resp_t resp;
    long timeout = write_timeout_ms(r);
    int rc;

    json_decref(obj);
    if (!body || timeout < 0) {
        free(body);
        return r->res = CTL_RES_ERROR, -1;
    }
    snprintf(url, sizeof(url), "%s?fieldManager=%s&force=true", path, CTL_FIELD_MANAGER);
    rc = mcp_kube_do(r->c->client,
                     &(mcp_kube_req_t){.method = "PATCH",
                                       .path = url,
                                       .content_type = "application/apply-patch+yaml",
                                       .body = body,
                                       .timeout_ms = timeout},
                     &resp);
    free(body);
    if (rc == 0 && (resp.status == 200 || resp.status == 201)) {
        remember(r, key, resp.body, h);
        mcp_buf_addf(&r->written, "%s%s/%s", r->written.len ? ", " : "", kind, name);
        r->np_written |= strcmp(kind, "NetworkPolicy") == 0;
    } else if (rc != 0 || (transient(resp.status) && !refused_apply(&resp))) {
        retry_later(r, "PATCH", path, rc, &resp);
        rc = -1;
    } else if (immutable_conflict(want, resp.status) && !r->replacing) {
        mcp_kube_resp_dispose(&resp);
        r->replacing = true;
        rc = delete_child(r, path, key) ? apply(r, path, key, want, h)
                                        : (r->res = CTL_RES_ERROR, -1);
        r->replacing = false;
        return rc;
    } else {
        failf(r, CTL_RES_ERROR, "applying %s \"%s\" failed: %s", kind, name,
              mcp_kube_status_message(resp.body, "no message"));
        r->requeue_ms = r->c->permanent_retry_ms;
        rc = -1;
    }
    mcp_kube_resp_dispose(&resp);
    return rc;
}

static bool owned_by_us(rec_t *r, const char *owner_uid)
{
    return owner_uid && r->s.uid && strcmp(owner_uid, r->s.uid) == 0;
}

static int conflict(rec_t *r, const char *kind, const char *name)
{
    failf(r, CTL_RES_CONFLICT, "%s \"%s\" already exists and is not controlled by this MCPServer%s",
          kind, name, NULL);
    r->requeue_ms = r->c->conflict_retry_ms;
    return -1;
}

/* Make one desired object true, writing only when needed. */
static int ensure(rec_t *r, const json_t *want)
{
    const char *kind = mcp_json_str(want, "kind"), *name = mcp_json_str(want, "metadata.name");
    const ctl_kind_t *k = ctl_kind_find(kind);
    char key[KEY_MAX], path[PATH_MAX_LEN];
    uint64_t h = ctl_json_hash(want);
    ctl_child_t ch;
    json_t *live = NULL;
    int found;

    child_key(key, sizeof(key), kind, r->s.namespace, name);
    object_path(path, sizeof(path), k, r->s.namespace, name);
    if (ctl_cache_get_child(r->c->cache, key, &ch)) {
        if (!owned_by_us(r, ch.owner_uid))
            return conflict(r, kind, name);
        if (ch.match_hash == h)
            return ctl_metrics_skipped_apply(r->c->metrics), 0;
        return apply(r, path, key, want, h);
    }
    if ((found = fetch(r, path, kind, name, &live)) < 0)
        return -1;
    if (found && !owned_by_us(r, controller_uid(live))) {
        json_decref(live);
        return conflict(r, kind, name);
    }
    if (found && up_to_date(live, want, h)) {
        remember(r, key, live, h);
        json_decref(live);
        return ctl_metrics_skipped_apply(r->c->metrics), 0;
    }
    json_decref(live);
    return apply(r, path, key, want, h);
}

/* Delete a child we own that is no longer desired (e.g. the NetworkPolicy
 * after the profile changed). Only what the cache shows as ours. */
static void prune(rec_t *r, const json_t *desired, const char *kind, const char *fmt)
{
    char name[128], key[KEY_MAX], path[PATH_MAX_LEN];
    ctl_child_t ch;
    size_t i;
    json_t *o;

    snprintf(name, sizeof(name), fmt, r->s.name);
    json_array_foreach(desired, i, o)
    {
        if (strcmp(mcp_json_str(o, "kind"), kind) == 0 &&
            strcmp(mcp_json_str(o, "metadata.name"), name) == 0)
            return;
    }
    child_key(key, sizeof(key), kind, r->s.namespace, name);
    if (!ctl_cache_get_child(r->c->cache, key, &ch) || !owned_by_us(r, ch.owner_uid))
        return;
    object_path(path, sizeof(path), ctl_kind_find(kind), r->s.namespace, name);
    delete_child(r, path, key);
}

/* The ConfigMap permission profile (new reference) or NULL with r->fail. */
static json_t *load_profile(rec_t *r)
{
    char path[PATH_MAX_LEN];
    const char *name = r->s.profile.name, *key = r->s.profile.key, *text;
    mcp_kube_resp_t resp;
    json_t *p = NULL;
    int rc;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", r->s.namespace, name);
    rc = mcp_kube_do(r->c->client, &(mcp_kube_req_t){.method = "GET", .path = path}, &resp);
    if (rc != 0 || transient(resp.status)) {
        retry_later(r, "GET", path, rc, &resp);
    } else if (resp.status != 200) {
        failf(r, CTL_RES_ERROR, "permission profile ConfigMap \"%s\": %s%s", name, "",
              mcp_kube_status_message(resp.body, "no message"));
    } else if (!(text =
                     json_string_value(json_object_get(json_object_get(resp.body, "data"), key)))) {
        failf(r, CTL_RES_ERROR, "permission profile ConfigMap \"%s\" has no key \"%s\"%s", name,
              key, NULL);
    } else {
        char why[128] = "not a JSON object";
        p = mcp_json_load_bounded(
            text, json_string_length(json_object_get(json_object_get(resp.body, "data"), key)),
            &mcp_kube_limits, why, sizeof(why));
        if (!json_is_object(p)) {
            json_decref(p);
            p = NULL;
            failf(r, CTL_RES_ERROR, "permission profile ConfigMap \"%s\" key \"%s\": %s", name, key,
                  why);
        }
    }
    if (!p && r->fail)
        r->requeue_ms = r->c->conflict_retry_ms;
    mcp_kube_resp_dispose(&resp);
    return p;
}

/* PATCH the status when it changes; returns true when it was written. */
static bool write_status(rec_t *r, const ctl_status_in_t *in)
{
    const char *ns = mcp_json_str(r->obj, "metadata.namespace");
    const char *name = mcp_json_str(r->obj, "metadata.name");
    char path[PATH_MAX_LEN], key[KEY_MAX];
    int oom = 0;
    json_t *next = ctl_status_compute(json_object_get(r->obj, "status"), in, &oom), *wrap;
    char *body = NULL;
    mcp_kube_resp_t resp = {0};
    bool ok = false;
    long timeout;
    int rc = MCP_ENOMEM;

    if (!next) {
        if (oom)
            r->res = CTL_RES_ERROR;
        return false;
    }
    if ((timeout = write_timeout_ms(r)) < 0) {
        json_decref(next);
        return false;
    }
    wrap = json_pack("{s:o}", "status", next);
    body = wrap ? json_dumps(wrap, JSON_COMPACT) : NULL;
    snprintf(path, sizeof(path), "/apis/%s/namespaces/%s/%s/%s/status", MCP_API_VERSION, ns,
             MCP_PLURAL, name);
    if (body)
        rc = mcp_kube_do(r->c->client,
                         &(mcp_kube_req_t){.method = "PATCH",
                                           .path = path,
                                           .body = body,
                                           .content_type = "application/merge-patch+json",
                                           .timeout_ms = timeout},
                         &resp);
    if (rc == 0 && resp.status == 200) {
        snprintf(key, sizeof(key), "%s/%s", ns, name);
        if (json_object_get(r->obj, CTL_UNREADABLE)) { /* the response is as unreadable */
            json_object_set(r->obj, "status", json_object_get(wrap, "status"));
            ctl_cache_put_server(r->c->cache, key, r->obj, 0);
        } else {
            ctl_cache_put_server(r->c->cache, key, resp.body, 0);
        }
        ok = true;
    } else if (rc != 0 || resp.status != 404) { /* 404: deleted meanwhile */
        retry_later(r, "PATCH", path, rc, &resp);
    }
    mcp_kube_resp_dispose(&resp);
    json_decref(wrap);
    free(body);
    return ok;
}

static void event(rec_t *r, const char *type, const char *reason, const char *note)
{
    long timeout;

    if (r->c->events && (timeout = write_timeout_ms(r)) >= 0)
        ctl_event_post(r->c->client, r->c->identity, r->obj, type, reason, "Reconcile", note,
                       timeout);
}

static void invalid(rec_t *r, const char *msg, int64_t gen, const char *now)
{
    ctl_status_in_t in = {.phase = "Failed",
                          .message = msg,
                          .valid = false,
                          .valid_message = msg,
                          .ready_reason = "Invalid",
                          .generation = gen,
                          .now = now};

    r->res = CTL_RES_INVALID;
    if (write_status(r, &in))
        event(r, "Warning", "Invalid", msg);
}

/* Deleted with finalizers pending (e.g. foreground deletion): apply nothing,
 * so the garbage collector is not fought, and say so in the status. */
static void terminating(rec_t *r, const char *invalid_msg, const char *now)
{
    ctl_status_in_t in = {.phase = "Terminating",
                          .message = "MCP server is being terminated",
                          .url = mcp_json_str(r->obj, "status.url"),
                          .valid = invalid_msg == NULL,
                          .valid_message = invalid_msg,
                          .ready_reason = "Terminating",
                          .generation =
                              json_integer_value(mcp_json_get(r->obj, "metadata.generation")),
                          .now = now};

    write_status(r, &in);
}

static void apply_all(rec_t *r, const json_t *desired)
{
    size_t i;
    json_t *o;

    json_array_foreach(desired, i, o)
    {
        if (ensure(r, o) != 0)
            return;
    }
    prune(r, desired, "NetworkPolicy", CTL_NETPOL_FMT);
    prune(r, desired, "ServiceAccount", CTL_SERVER_SA_FMT);
    prune(r, desired, "Role", CTL_OLD_ROLE_FMT); /* upgrade from the proxy runner */
}

/* The proxy Deployment's and the MCP server pod's state, from the cache. */
static void workload(rec_t *r, ctl_status_in_t *in, char *msg, size_t msglen)
{
    char key[KEY_MAX], pod_name[CTL_NAME_BUF];
    ctl_child_t dep = {0}, pod = {0};
    bool have_pod;

    child_key(key, sizeof(key), "Deployment", r->s.namespace, r->s.name);
    ctl_cache_get_child(r->c->cache, key, &dep);
    child_key(key, sizeof(key), "Pod", r->s.namespace,
              ctl_child_name(pod_name, sizeof(pod_name), "%s-0", r->s.name));
    have_pod = ctl_cache_get_child(r->c->cache, key, &pod);
    ctl_workload_status(dep.available, have_pod ? &pod.pod : NULL, in, msg, msglen);
}

static void report(rec_t *r, const json_t *profile, const char *now)
{
    char *url = ctl_service_url(&r->s), msg[CTL_POD_DETAIL_MAX + 64];
    ctl_status_in_t in = {.url = url, .valid = true, .generation = r->s.generation, .now = now};

    if (r->fail)
        in.phase = "Failed", in.message = r->fail, in.ready_reason = "Failed";
    else
        workload(r, &in, msg, sizeof(msg));
    /* Changes to existing children are worth an Event; the first creation
     * is told by the status alone, which keeps the first reconcile within
     * the budget of 8 writes (7 children + status). */
    if (r->written.len && json_object_get(r->obj, "status"))
        event(r, "Normal", "Applied", r->written.data);
    if (r->np_written) {
        char *w = ctl_profile_warning(profile);
        if (w)
            event(r, "Warning", "ProfileNotEnforced", w);
        free(w);
    }
    if (r->res == CTL_RES_ERROR && !r->fail) {
        free(url);
        return; /* transient: retry before saying anything */
    }
    if (write_status(r, &in) && r->fail)
        event(r, "Warning", r->res == CTL_RES_CONFLICT ? "Conflict" : "Failed", r->fail);
    free(url);
}

static void run(rec_t *r, const char *now)
{
    json_t *profile = NULL, *desired = NULL;
    int rc = mcp_server_parse(r->obj, &r->s, NULL);

    if (rc == MCP_ENOMEM) {
        r->res = CTL_RES_ERROR;
        return;
    }
    if (r->s.profile.type && strcmp(r->s.profile.type, "configmap") == 0)
        profile = load_profile(r);
    if (r->res == CTL_RES_OK) {
        desired = ctl_desired_objects(
            &r->s, &(ctl_options_t){.proxy_image = r->c->proxy_image,
                                    .proxy_cluster_role = r->c->proxy_cluster_role,
                                    .profile = profile});
        if (!desired)
            r->res = CTL_RES_ERROR;
        else
            apply_all(r, desired);
    }
    report(r, profile, now);
    json_decref(desired);
    json_decref(profile);
    mcp_server_dispose(&r->s);
}

/* For a stub (ctl_on_server_unreadable): the message for phase Failed, in
 * the validation's style. The spec is the only part the apiserver does not
 * bound by a schema (podTemplateSpec keeps unknown fields). */
static char *unreadable_message(const json_t *obj, int *oom)
{
    const char *why = json_string_value(json_object_get(obj, CTL_UNREADABLE));
    char *msg = NULL;

    if (why && asprintf(&msg, "%s \"%s\" is invalid: spec: Invalid value: \"object\": %s", MCP_KIND,
                        mcp_json_str(obj, "metadata.name"), why) < 0) {
        *oom = 1;
        return NULL;
    }
    return msg;
}

enum ctl_result ctl_reconcile(ctl_ctrl_t *c, const char *key, double *requeue_ms)
{
    rec_t r = {.c = c, .res = CTL_RES_OK};
    char now[40], *msg;
    int oom = 0;

    *requeue_ms = 0;
    r.obj = ctl_cache_get_server(c->cache, key);
    if (!r.obj)
        return CTL_RES_OK;
    ctl_time_rfc3339(now, sizeof(now), 0);
    mcp_buf_init(&r.written, 4096);
    msg = unreadable_message(r.obj, &oom);
    if (!msg && !oom)
        msg = mcp_validate_message(r.obj, NULL, &oom);
    if (oom)
        r.res = CTL_RES_ERROR;
    else if (mcp_json_get(r.obj, "metadata.deletionTimestamp"))
        terminating(&r, msg, now);
    else if (msg)
        invalid(&r, msg, json_integer_value(mcp_json_get(r.obj, "metadata.generation")), now);
    else
        run(&r, now);
    if (r.fail) /* a refusal (RBAC, a conflict, a rejected object): in the status too */
        mcp_log(MCP_LOG_WARN, "reconcile failed", "key", key, "message", r.fail, NULL);
    else if (r.res == CTL_RES_ERROR)
        mcp_log(MCP_LOG_INFO, "reconcile failed, will retry", "key", key, "message",
                r.cause[0] ? r.cause
                : oom      ? "out of memory"
                           : "error",
                NULL);
    else if (r.res != CTL_RES_OK)
        mcp_log(MCP_LOG_INFO, "reconcile failed", "key", key, "message", msg ? msg : "", NULL);
    free(msg);
    free(r.fail);
    mcp_buf_dispose(&r.written);
    json_decref(r.obj);
    *requeue_ms = r.requeue_ms;
    return r.res;
}

bool ctl_process_next(ctl_ctrl_t *c)
{
    char *key = ctl_queue_get(c->queue);
    double requeue = 0;
    enum ctl_result res;

    if (!key)
        return false;
    res = ctl_reconcile(c, key, &requeue);
    ctl_metrics_reconcile(c->metrics, res);
    if (res == CTL_RES_ERROR && requeue <= 0) {
        ctl_queue_add_rate_limited(c->queue, key);
    } else {
        ctl_queue_forget(c->queue, key);
        if (requeue > 0)
            ctl_queue_add_after(c->queue, key, requeue);
    }
    ctl_queue_done(c->queue, key);
    free(key);
    return true;
}
