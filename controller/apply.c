/* Writing the children of one MCPServer (DESIGN.md section 4). Each desired
 * object is applied by server-side apply (our field manager, force) unless
 * the cache shows it up to date; the applied object carries the hash of
 * what we applied in an annotation. A child the cache shows controlled by
 * someone else is never touched: the MCPServer fails with a message naming
 * it.
 *
 * The cache is filled by label-selected watches, so a child it does not know
 * may still exist without our labels. Such a child is written by a
 * create-only apply: the applied object carries a resourceVersion no object
 * ever has (CREATE_ONLY_RV), which the apiserver checks atomically against
 * the stored one: absent, the object is created as ours; present (someone
 * else's, or ours without our labels, or created between our look at the
 * cache and the apply), the answer is 409 Conflict and nothing is written.
 * Only then is it read, and handled as before: applied when ours, the
 * MCPServer failed when not. So a new MCPServer costs no reads.
 *
 * The children that do not make pods are applied together (multiplexed on
 * the worker's connection), then the workloads (StatefulSet, Deployment),
 * which need the others to exist first. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mcp/log.h"
#include "reconcile.h"

/* No store issues it (etcd revisions, and so resourceVersions, are far
 * below 2^64 - 1), so an apply carrying it can only create. */
#define CREATE_ONLY_RV "18446744073709551615"
#define STEPS_MAX      10 /* desired objects of one MCPServer (desired.c) */

/* One child to write. */
typedef struct step {
    const json_t *want;
    const ctl_kind_t *k;
    const char *kind, *name;
    uint64_t h;
    bool create; /* not in the cache: create-only apply */
    char key[CTL_KEY_MAX], path[CTL_PATH_MAX], url[CTL_PATH_MAX + 64];
    char *body;
} step_t;

static void apply_steps(ctl_rec_t *r, step_t *steps, size_t n);

static char *object_path(char *buf, size_t len, const ctl_kind_t *k, const char *ns,
                         const char *name)
{
    snprintf(buf, len, "%s/namespaces/%s/%s/%s", k->base, ns, k->resource, name);
    return buf;
}

/* Server-side apply answers 500 when our object does not fit the kind's
 * schema (a field podTemplateSpec carried that a pod template does not
 * have): no retry will help, so it is the MCPServer's status message. */
static bool refused_apply(const mcp_kube_resp_t *resp)
{
    const char *m = mcp_kube_status_message(resp->body, "");

    return resp->status == 500 && strstr(m, "failed to create typed patch object") != NULL;
}

/* A RoleBinding's roleRef cannot change (the previous version bound a Role,
 * this one the chart's ClusterRole; or --proxy-cluster-role changed): the
 * apiserver answers 422, and the binding is replaced. Only for an object
 * known to be ours. */
static bool immutable_conflict(const step_t *s, long status)
{
    return status == 422 && !s->create && strcmp(s->kind, "RoleBinding") == 0;
}

static bool owned_by_us(ctl_rec_t *r, const char *owner_uid)
{
    return owner_uid && r->s.uid && strcmp(owner_uid, r->s.uid) == 0;
}

static int conflict(ctl_rec_t *r, const char *kind, const char *name)
{
    ctl_rec_fail(r, CTL_RES_CONFLICT,
                 "%s \"%s\" already exists and is not controlled by this MCPServer%s", kind, name,
                 NULL);
    r->requeue_ms = r->c->conflict_retry_ms;
    return -1;
}

/* Record what the apiserver returned for a child. */
static void remember(ctl_rec_t *r, const char *key, const json_t *live, uint64_t h)
{
    ctl_child_t ch, prev;

    ctl_child_fill(&ch, live, 0);
    if (ctl_cache_get_child(r->c->cache, key, &prev))
        ch.epoch = prev.epoch;
    ch.match_hash = h;
    ctl_cache_put_child(r->c->cache, key, &ch);
}

/* The live object: 1 found (*out set), 0 not found, -1 error (r->res set; a
 * refusal such as 403 Forbidden, missing RBAC, fails the MCPServer with the
 * apiserver's message). */
static int fetch(ctl_rec_t *r, const step_t *s, json_t **out)
{
    mcp_kube_resp_t resp;
    int rc = mcp_kube_do(r->c->client, &(mcp_kube_req_t){.method = "GET", .path = s->path}, &resp);

    if (rc != 0 || (resp.status != 200 && resp.status != 404)) {
        if (rc != 0 || ctl_transient(resp.status)) {
            ctl_rec_retry_later(r, "GET", s->path, rc, &resp);
        } else {
            ctl_rec_fail(r, CTL_RES_ERROR, "reading %s \"%s\" failed: %s", s->kind, s->name,
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

/* The body to apply: `want` with the annotation recording its hash, and
 * for a create-only apply the impossible resourceVersion. New string or
 * NULL. */
static char *apply_body(const step_t *s)
{
    json_t *o = json_copy((json_t *)s->want), *meta, *ann;
    char hex[24], *body = NULL;

    if (!o)
        return NULL;
    snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)s->h);
    /* shallow copies down to the annotations: want stays as it is. Each
     * json_object_set_new steals its value, even when it fails. */
    meta = json_copy(json_object_get(o, "metadata"));
    if (json_object_set_new(o, "metadata", meta) != 0)
        goto out;
    ann = json_object_get(meta, "annotations");
    ann = json_is_object(ann) ? json_copy(ann) : json_object();
    if (json_object_set_new(meta, "annotations", ann) != 0 ||
        json_object_set_new(ann, CTL_APPLIED_HASH, json_string(hex)) != 0)
        goto out;
    if (s->create && json_object_set_new(meta, "resourceVersion", json_string(CREATE_ONLY_RV)) != 0)
        goto out;
    body = json_dumps(o, JSON_COMPACT);
out:
    json_decref(o);
    return body;
}

/* DELETE a child (background propagation); true when it is gone (else
 * r->res is set, with the cause). */
static bool delete_child(ctl_rec_t *r, const char *path, const char *key)
{
    mcp_kube_resp_t resp;
    long timeout = ctl_rec_write_timeout(r);
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
        ctl_rec_retry_later(r, "DELETE", path, rc, &resp);
    mcp_kube_resp_dispose(&resp);
    return gone;
}

/* A create-only apply found the name taken: read it, then as for any child
 * the cache did not know: ours is applied, anything else is left alone. */
static void taken(ctl_rec_t *r, step_t *s)
{
    json_t *live = NULL;
    int found = fetch(r, s, &live);

    if (found < 0)
        return;
    if (found == 0) { /* deleted meanwhile: the next attempt creates it */
        r->res = CTL_RES_ERROR;
        snprintf(r->cause, sizeof(r->cause), "%s \"%s\" was deleted while being created", s->kind,
                 s->name);
    } else if (!owned_by_us(r, ctl_controller_uid(live))) {
        conflict(r, s->kind, s->name);
    } else if (ctl_child_up_to_date(live, s->want, s->h)) {
        remember(r, s->key, live, s->h);
        ctl_metrics_skipped_apply(r->c->metrics);
    } else {
        s->create = false;
        apply_steps(r, s, 1);
    }
    json_decref(live);
}

/* The outcome of one apply. After a first failure the others' successes
 * are still recorded, but only the first failure is reported. */
static void outcome(ctl_rec_t *r, step_t *s, int rc, const mcp_kube_resp_t *resp)
{
    if (rc == 0 && (resp->status == 200 || resp->status == 201)) {
        remember(r, s->key, resp->body, s->h);
        mcp_buf_addf(&r->written, "%s%s/%s", r->written.len ? ", " : "", s->kind, s->name);
        r->np_written |= strcmp(s->kind, "NetworkPolicy") == 0;
        return;
    }
    if (r->res != CTL_RES_OK)
        return;
    if (rc == 0 && resp->status == 409 && s->k->unwatched) {
        conflict(r, s->kind, s->name); /* another manager's fields: not ours */
    } else if (rc == 0 && resp->status == 409 && s->create) {
        taken(r, s);
    } else if (rc != 0 || (ctl_transient(resp->status) && !refused_apply(resp))) {
        ctl_rec_retry_later(r, "PATCH", s->path, rc, resp);
    } else if (immutable_conflict(s, resp->status) && !r->replacing) {
        r->replacing = true;
        if (delete_child(r, s->path, s->key)) {
            s->create = true; /* someone else may take the name meanwhile */
            apply_steps(r, s, 1);
        }
        r->replacing = false;
    } else {
        ctl_rec_fail(r, CTL_RES_ERROR, "applying %s \"%s\" failed: %s", s->kind, s->name,
                     mcp_kube_status_message(resp->body, "no message"));
        r->requeue_ms = r->c->permanent_retry_ms;
    }
}

/* Apply steps[0..n) at once. */
static void apply_steps(ctl_rec_t *r, step_t *steps, size_t n)
{
    mcp_kube_req_t reqs[STEPS_MAX];
    mcp_kube_resp_t resps[STEPS_MAX];
    int rcs[STEPS_MAX];
    long timeout = ctl_rec_write_timeout(r);
    size_t i;

    if (n == 0 || timeout < 0)
        return;
    for (i = 0; i < n; i++) {
        step_t *s = &steps[i];
        free(s->body);
        if (!(s->body = apply_body(s))) {
            r->res = CTL_RES_ERROR;
            goto out;
        }
        snprintf(s->url, sizeof(s->url), "%s?fieldManager=%s%s", s->path, CTL_FIELD_MANAGER,
                 s->k->unwatched ? "" : "&force=true");
        reqs[i] = (mcp_kube_req_t){.method = "PATCH",
                                   .path = s->url,
                                   .content_type = "application/apply-patch+yaml",
                                   .body = s->body,
                                   .timeout_ms = timeout};
    }
    mcp_kube_do_many(r->c->client, reqs, resps, rcs, n);
    for (i = 0; i < n; i++) {
        outcome(r, &steps[i], rcs[i], &resps[i]);
        mcp_kube_resp_dispose(&resps[i]);
    }
out:
    for (i = 0; i < n; i++) {
        free(steps[i].body);
        steps[i].body = NULL;
    }
}

/* Read the child once rather than trust the cache: when the watch could not
 * tell whether it is up to date (live_match in watch.c) but it carries the
 * hash of what we would apply, and before refusing a name the cache says is
 * someone else's (the cache may still hold a child of a deleted MCPServer
 * of the same name, or miss a deletion: the live answer decides). Same
 * results as plan. */
static int verify(ctl_rec_t *r, step_t *s)
{
    json_t *live = NULL;
    int found = fetch(r, s, &live), rc = 1;

    if (found < 0)
        return -1;
    if (found == 0) {
        ctl_cache_del_child(r->c->cache, s->key); /* whatever the cache held is gone */
        s->create = true;
    } else if (!owned_by_us(r, ctl_controller_uid(live))) {
        rc = conflict(r, s->kind, s->name);
    } else if (ctl_child_up_to_date(live, s->want, s->h)) {
        remember(r, s->key, live, s->h);
        ctl_metrics_skipped_apply(r->c->metrics);
        rc = 0;
    }
    json_decref(live);
    return rc;
}

/* What one desired object needs: 0 nothing (up to date), 1 a write (s
 * filled), -1 the MCPServer fails (the name is someone else's). */
static int plan(ctl_rec_t *r, step_t *s, const json_t *want)
{
    ctl_child_t ch;

    memset(s, 0, sizeof(*s));
    s->want = want;
    s->kind = mcp_json_str(want, "kind");
    s->name = mcp_json_str(want, "metadata.name");
    s->k = ctl_kind_find(s->kind);
    s->h = ctl_json_hash(want);
    ctl_child_key(s->key, sizeof(s->key), s->kind, r->s.namespace, s->name);
    object_path(s->path, sizeof(s->path), s->k, r->s.namespace, s->name);
    if (!ctl_cache_get_child(r->c->cache, s->key, &ch)) {
        s->create = !s->k->unwatched; /* unwatched: no look possible, apply without force */
        return 1;
    }
    if (!owned_by_us(r, ch.owner_uid))
        return verify(r, s);
    if (ch.match_hash == s->h) {
        ctl_metrics_skipped_apply(r->c->metrics);
        return 0;
    }
    if (ch.unverified && ch.applied == s->h)
        return verify(r, s);
    return 1;
}

/* Delete a child we own that is no longer desired (the MCP server's
 * ServiceAccount once spec.serviceAccount is set, a previous version's
 * objects). Only what the cache shows as ours. */
static void prune(ctl_rec_t *r, const json_t *desired, const char *kind, const char *fmt)
{
    char name[128], key[CTL_KEY_MAX], path[CTL_PATH_MAX];
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
    ctl_child_key(key, sizeof(key), kind, r->s.namespace, name);
    if (!ctl_cache_get_child(r->c->cache, key, &ch) || !owned_by_us(r, ch.owner_uid))
        return;
    object_path(path, sizeof(path), ctl_kind_find(kind), r->s.namespace, name);
    delete_child(r, path, key);
}

void ctl_apply_all(ctl_rec_t *r, const json_t *desired)
{
    step_t steps[STEPS_MAX];
    size_t i, n;
    json_t *o;

    for (int workloads = 0; workloads < 2 && r->res == CTL_RES_OK; workloads++) {
        n = 0;
        json_array_foreach(desired, i, o)
        {
            const ctl_kind_t *k = ctl_kind_find(mcp_json_str(o, "kind"));
            int p;
            if (!k || k->workload != workloads)
                continue;
            if (n == STEPS_MAX || (p = plan(r, &steps[n], o)) < 0) {
                if (n == STEPS_MAX)
                    r->res = CTL_RES_ERROR;
                return;
            }
            n += (size_t)p;
        }
        apply_steps(r, steps, n);
    }
    if (r->res != CTL_RES_OK)
        return;
    prune(r, desired, "NetworkPolicy", CTL_OLD_NETPOL_FMT); /* upgrade */
    prune(r, desired, "ServiceAccount", CTL_SERVER_SA_FMT);
    prune(r, desired, "Role", CTL_OLD_ROLE_FMT); /* upgrade from the proxy runner */
    prune(r, desired, "ConfigMap", CTL_AUTHZ_INLINE_FMT);
    /* known only once this process applied it (Secrets are not watched):
     * one left by an earlier run stays until the MCPServer's deletion */
    prune(r, desired, "Secret", CTL_OIDC_SECRET_FMT);
}
