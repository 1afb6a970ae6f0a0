/* The reconciler: for one MCPServer, validate it again with common/ (an
 * invalid spec that slipped past the webhook gets phase Failed, Valid=False
 * and nothing else), compute the desired objects, have apply.c make them
 * true (and delete the children no longer wanted), and write the status
 * only when it changes. Then the queue's bookkeeping (ctl_process_next). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mcp/log.h"
#include "reconcile.h"

/* A workload failure of the same reason is recorded (Event, log) at most once
 * in this many seconds per MCPServer. */
#define CTL_EVENT_WINDOW_S 600.0

void ctl_rec_fail(ctl_rec_t *r, enum ctl_result res, const char *fmt, const char *a, const char *b,
                  const char *m)
{
    free(r->fail);
    if (asprintf(&r->fail, fmt, a, b, m ? m : "") < 0)
        r->fail = NULL;
    r->res = res;
}

bool ctl_transient(long status)
{
    return status == 409 || status == 429 || status >= 500 || status == 0;
}

/* A failure worth retrying soon: counted as an error, its cause logged. */
void ctl_rec_retry_later(ctl_rec_t *r, const char *method, const char *path, int rc,
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
long ctl_rec_write_timeout(ctl_rec_t *r)
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

/* The data of ConfigMap `name` (new reference; {} when it has none), or
 * NULL with r->fail naming it as `what` (and a retry soon, so the MCPServer
 * is Ready again once the ConfigMap is fixed). */
static json_t *configmap_data(ctl_rec_t *r, const char *what, const char *name)
{
    char path[CTL_PATH_MAX];
    mcp_kube_resp_t resp;
    json_t *data = NULL;
    int rc;

    snprintf(path, sizeof(path), "/api/v1/namespaces/%s/configmaps/%s", r->s.namespace, name);
    rc = mcp_kube_do(r->c->client, &(mcp_kube_req_t){.method = "GET", .path = path}, &resp);
    if (rc != 0 || ctl_transient(resp.status)) {
        ctl_rec_retry_later(r, "GET", path, rc, &resp);
    } else if (resp.status != 200) {
        ctl_rec_fail(r, CTL_RES_ERROR, "%s ConfigMap \"%s\": %s", what, name,
                     mcp_kube_status_message(resp.body, "no message"));
        r->requeue_ms = r->c->conflict_retry_ms;
    } else {
        data = json_object_get(resp.body, "data");
        data = json_is_object(data) ? json_incref(data) : json_object();
    }
    mcp_kube_resp_dispose(&resp);
    return data;
}

/* The ConfigMap permission profile (new reference) or NULL with r->fail. */
static json_t *load_profile(ctl_rec_t *r)
{
    const char *name = r->s.profile.name, *key = r->s.profile.key;
    json_t *data = configmap_data(r, "permission profile", name), *text, *p = NULL;
    char why[384] = "not a JSON object";

    if (!data)
        return NULL;
    if (!json_is_string(text = json_object_get(data, key))) {
        ctl_rec_fail(r, CTL_RES_ERROR, "permission profile ConfigMap \"%s\" has no key \"%s\"%s",
                     name, key, NULL);
    } else {
        p = mcp_json_load_bounded(json_string_value(text), json_string_length(text),
                                  &mcp_kube_limits, why, sizeof(why));
        if (!json_is_object(p) || ctl_profile_check(p, why, sizeof(why)) != 0) {
            json_decref(p);
            p = NULL;
            ctl_rec_fail(r, CTL_RES_ERROR, "permission profile ConfigMap \"%s\" key \"%s\": %s",
                         name, key, why);
        }
    }
    if (!p && r->fail)
        r->requeue_ms = r->c->conflict_retry_ms;
    json_decref(data);
    return p;
}

static void fail_configmap(ctl_rec_t *r, const char *what, const char *name, const char *why)
{
    char *m = NULL;

    if (asprintf(&m, "%s ConfigMap \"%s\": %s", what, name, why) < 0)
        m = NULL;
    ctl_rec_fail(r, CTL_RES_ERROR, "%s%s%s", m ? m : what, "", NULL);
    free(m);
    r->requeue_ms = r->c->conflict_retry_ms;
}

/* oidcConfig type configMap: what the ConfigMap says, in *out (its strings
 * borrowed from *data and *doc, which the caller releases). */
static int load_oidc(ctl_rec_t *r, json_t **data, json_t **doc, ctl_oidc_t *out)
{
    const char *name = r->s.oidc.config_map.name;
    const char *key = r->s.oidc.config_map.key ? r->s.oidc.config_map.key : "oidc.json";
    char why[384];

    *doc = NULL;
    if (!(*data = configmap_data(r, "OIDC", name)))
        return -1;
    if (ctl_oidc_from_configmap(*data, key, doc, out, why, sizeof(why)) != 0) {
        fail_configmap(r, "OIDC", name, why);
        return -1;
    }
    return 0;
}

/* authzConfig type configMap: its key checked (ToolHive's shape, Cedar),
 * and the hash of its text into hex (>= 17 bytes). */
static int load_authz(ctl_rec_t *r, char *hex, size_t len)
{
    const char *name = r->s.authz.config_map.name;
    const char *key = r->s.authz.config_map.key ? r->s.authz.config_map.key : "authz.json";
    json_t *data = configmap_data(r, "authorization", name), *text;
    char why[640], msg[720];
    int rc = -1;

    if (!data)
        return -1;
    text = json_object_get(data, key);
    if (!json_is_string(text)) {
        snprintf(why, sizeof(why), "has no key \"%s\"", key);
        fail_configmap(r, "authorization", name, why);
    } else if (ctl_authz_check(json_string_value(text), json_string_length(text), why,
                               sizeof(why)) != 0) {
        snprintf(msg, sizeof(msg), "key \"%s\": %s", key, why);
        fail_configmap(r, "authorization", name, msg);
    } else {
        ctl_text_hash(json_string_value(text), json_string_length(text), hex, len);
        rc = 0;
    }
    json_decref(data);
    return rc;
}

/* PATCH the status when it changes; returns true when it was written. */
static bool write_status(ctl_rec_t *r, const ctl_status_in_t *in)
{
    const char *ns = mcp_json_str(r->obj, "metadata.namespace");
    const char *name = mcp_json_str(r->obj, "metadata.name");
    char path[CTL_PATH_MAX], key[CTL_KEY_MAX];
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
    if ((timeout = ctl_rec_write_timeout(r)) < 0) {
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
        ctl_rec_retry_later(r, "PATCH", path, rc, &resp);
    }
    mcp_kube_resp_dispose(&resp);
    json_decref(wrap);
    free(body);
    return ok;
}

static void event(ctl_rec_t *r, const char *type, const char *reason, const char *note)
{
    long timeout;

    if (r->c->events && (timeout = ctl_rec_write_timeout(r)) >= 0)
        ctl_event_post(r->c->client, r->c->identity, r->obj, type, reason, "Reconcile", note,
                       timeout);
}

static void invalid(ctl_rec_t *r, const char *msg, int64_t gen, const char *now)
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
static void terminating(ctl_rec_t *r, const char *invalid_msg, const char *now)
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

/* The proxy Deployment's and the MCP server pod's state, from the cache. */
static void workload(ctl_rec_t *r, ctl_status_in_t *in, char *msg, size_t msglen)
{
    char key[CTL_KEY_MAX], pod_name[CTL_NAME_BUF], why[224] = "";
    ctl_child_t dep = {0}, pod = {0};
    bool have_pod;

    ctl_child_key(key, sizeof(key), "Deployment", r->s.namespace, r->s.name);
    ctl_cache_get_child(r->c->cache, key, &dep);
    ctl_child_key(key, sizeof(key), "Pod", r->s.namespace,
                  ctl_child_name(pod_name, sizeof(pod_name), "%s-0", r->s.name));
    have_pod = ctl_cache_get_child(r->c->cache, key, &pod);
    /* the pod is ready, the proxy is not: ask the proxy why, and again later,
     * as nothing the controller watches changes while it stays so */
    if (have_pod && pod.pod.state == CTL_POD_READY && dep.available < 1 && dep.rv[0] &&
        r->c->proxy_probe_ms > 0 && r->res == CTL_RES_OK) {
        ctl_proxy_why(r, why, sizeof(why));
        r->requeue_ms = r->c->proxy_probe_ms;
    }
    ctl_workload_status(dep.available, have_pod ? &pod.pod : NULL, why, in, msg, msglen);
}

static void report(ctl_rec_t *r, const json_t *profile, const char *now)
{
    char *url = ctl_service_url(&r->s), msg[CTL_POD_DETAIL_MAX + 64];
    ctl_status_in_t in = {.url = url, .valid = true, .generation = r->s.generation, .now = now};
    char ni[sizeof(r->not_implemented) + 64];

    if (r->not_implemented[0] && !r->fail) {
        snprintf(ni, sizeof(ni), "%s: accepted, not implemented by this operator yet",
                 r->not_implemented);
        in.not_implemented = ni;
    }

    if (r->fail)
        in.phase = "Failed", in.message = r->fail, in.ready_reason = "Failed";
    else
        workload(r, &in, msg, sizeof(msg));
    /* Changes to existing children are worth an Event; the first creation
     * is told by the status alone, which keeps the first reconcile within
     * the budget of 9 writes (8 children + status). */
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
    if (!write_status(r, &in)) {
        free(url);
        return;
    }
    if (r->fail) {
        event(r, "Warning", r->res == CTL_RES_CONFLICT ? "Conflict" : "Failed", r->fail);
    } else if (in.problem &&
               !ctl_event_recent(r->s.uid, in.ready_reason, in.message, CTL_EVENT_WINDOW_S)) {
        /* a new failure of the workload: said once (per reason and window) */
        mcp_log(MCP_LOG_WARN, "MCP server not running", "namespace", r->s.namespace, "name",
                r->s.name, "reason", in.ready_reason, "message", in.message, NULL);
        event(r, "Warning", in.ready_reason, in.message);
    }
    free(url);
}

static void run(ctl_rec_t *r, const char *now)
{
    json_t *profile = NULL, *desired = NULL, *oidc_data = NULL, *oidc_doc = NULL;
    ctl_oidc_t oidc = {0};
    char authz_hash[24] = "";
    int rc = mcp_server_parse(r->obj, &r->s, NULL);

    bool guards;

    if (rc == MCP_ENOMEM) {
        r->res = CTL_RES_ERROR;
        return;
    }
    /* ToolHive's newer fields that protect the server: not run without them */
    if (mcp_unimplemented_in(json_object_get(r->obj, "spec"), r->not_implemented,
                             sizeof(r->not_implemented), &guards) &&
        guards)
        ctl_rec_fail(r, CTL_RES_INVALID,
                     "%s%s not implemented by this operator yet: the MCP server is not run while "
                     "set, so that it never runs without the protection asked for",
                     r->not_implemented, strchr(r->not_implemented, ',') ? " are" : " is", NULL);
    if (r->res == CTL_RES_OK && r->s.profile.type && strcmp(r->s.profile.type, "configmap") == 0)
        profile = load_profile(r);
    if (r->res == CTL_RES_OK && r->s.oidc.type && strcmp(r->s.oidc.type, "configMap") == 0)
        load_oidc(r, &oidc_data, &oidc_doc, &oidc);
    if (r->res == CTL_RES_OK && r->s.authz.type && strcmp(r->s.authz.type, "configMap") == 0)
        load_authz(r, authz_hash, sizeof(authz_hash));
    if (r->res == CTL_RES_OK) {
        desired = ctl_desired_objects(
            &r->s, &(ctl_options_t){.proxy_image = r->c->proxy_image,
                                    .proxy_cluster_role = r->c->proxy_cluster_role,
                                    .profile = profile,
                                    .oidc = oidc.on ? &oidc : NULL,
                                    .authz_hash = authz_hash[0] ? authz_hash : NULL});
        if (!desired)
            r->res = CTL_RES_ERROR;
        else
            ctl_apply_all(r, desired);
    }
    report(r, profile, now);
    json_decref(desired);
    json_decref(profile);
    json_decref(oidc_doc);
    json_decref(oidc_data);
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
    ctl_rec_t r = {.c = c, .res = CTL_RES_OK};
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
