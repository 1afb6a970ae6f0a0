/* The watch side of the controller: the child kinds it watches (and
 * applies), and the handlers that keep the cache current from the watch
 * events and queue the MCPServers they affect. For each child the cache
 * keeps the hash of the desired object its live state is up to date with
 * (the applied-hash annotation equal and our fields still holding our
 * values), so a no-op resync, a restart included, makes no writes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "reconcile.h"

const ctl_kind_t ctl_kinds[] = {
    {"ServiceAccount", "v1", "/api/v1", "serviceaccounts", NULL, false, false},
    {"RoleBinding", "rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1",
     "rolebindings", NULL, false, false},
    {"NetworkPolicy", "networking.k8s.io/v1", "/apis/networking.k8s.io/v1", "networkpolicies", NULL,
     false, false},
    {"Service", "v1", "/api/v1", "services", NULL, false, false},
    /* the proxy's inline authorization policies ("<name>-authz-inline") */
    {"ConfigMap", "v1", "/api/v1", "configmaps", NULL, false, false},
    /* the introspection client secret ("<name>-oidc-client"): written only */
    {"Secret", "v1", "/api/v1", "secrets", NULL, false, false, true},
    {"StatefulSet", "apps/v1", "/apis/apps/v1", "statefulsets", NULL, false, true},
    {"Deployment", "apps/v1", "/apis/apps/v1", "deployments", NULL, false, true},
    /* the previous version's Role "<name>-proxy-runner", deleted on upgrade */
    {"Role", "rbac.authorization.k8s.io/v1", "/apis/rbac.authorization.k8s.io/v1", "roles", NULL,
     true, false},
    /* the MCP server pods, read for the status (never the proxy's pods) */
    {"Pod", "v1", "/api/v1", "pods",
     "app.kubernetes.io%2Fmanaged-by%3D" CTL_MANAGED_BY
     "%2Capp.kubernetes.io%2Fcomponent%3D" CTL_SERVER_COMPONENT,
     true, false},
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

const char *ctl_controller_uid(const json_t *obj)
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

void ctl_child_key(char *buf, size_t len, const char *kind, const char *ns, const char *name)
{
    snprintf(buf, len, "%s/%s/%s", kind, ns, name);
}

void ctl_on_server_event(ctl_ctrl_t *c, const char *type, json_t *obj, uint32_t epoch)
{
    const char *ns = mcp_json_str(obj, "metadata.namespace");
    const char *name = mcp_json_str(obj, "metadata.name");
    char key[CTL_KEY_MAX];

    if (!ns || !name)
        return;
    snprintf(key, sizeof(key), "%s/%s", ns, name);
    if (strcmp(type, "DELETED") == 0) {
        ctl_cache_del_server(c->cache, key);
    } else {
        /* the echo of our own status write (the cache has its response), or
         * a relist's copy of what we have: nothing new to reconcile */
        bool known =
            !json_object_get(obj, CTL_UNREADABLE) &&
            ctl_cache_has_server_rv(c->cache, key, mcp_json_str(obj, "metadata.resourceVersion"));
        ctl_cache_put_server(c->cache, key, obj, epoch);
        if (known)
            return;
    }
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
bool ctl_child_up_to_date(const json_t *live, const json_t *want, uint64_t h)
{
    return applied_hash(live) == h && ctl_json_contains(live, want);
}

/* Hash of the desired `kind`/`name` of server `skey` when the live object is
 * up to date with it, else 0. A watch handler does no I/O, so the
 * NetworkPolicy of a ConfigMap profile cannot be computed here: *unverified
 * says so, and the reconciler, which has the profile, reads the live object
 * once instead of applying it again. */
static uint64_t live_match(ctl_ctrl_t *c, const char *skey, const char *owner_uid,
                           const json_t *live, bool *unverified)
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
            if (strcmp(kind, "NetworkPolicy") == 0 && s.profile.type &&
                strcmp(s.profile.type, "configmap") == 0) {
                *unverified = true;
                break;
            }
            h = ctl_child_up_to_date(live, o, want) ? want : 0;
            break;
        }
    }
    json_decref(desired);
    mcp_server_dispose(&s);
    json_decref(obj);
    return h;
}

/* A Deployment's available replicas, counted only once its rollout is done:
 * the Deployment controller has seen the current spec (observedGeneration)
 * and every replica runs it (status.replicas == updatedReplicas), so a
 * changed proxy (new flags, policies) is Ready only when the new pods serve,
 * not while the old ones still answer (kubectl rollout status's rule). */
static int32_t current_available(const json_t *obj)
{
    json_int_t avail = json_integer_value(mcp_json_get(obj, "status.availableReplicas"));
    const json_t *gen = mcp_json_get(obj, "metadata.generation");
    const json_t *seen = mcp_json_get(obj, "status.observedGeneration");
    json_int_t updated = json_integer_value(mcp_json_get(obj, "status.updatedReplicas"));
    json_int_t total = json_integer_value(mcp_json_get(obj, "status.replicas"));

    if (strcmp(mcp_json_str(obj, "kind") ?: "", "Deployment") != 0)
        return (int32_t)avail;
    if ((gen && json_integer_value(seen) < json_integer_value(gen)) || total > updated)
        return 0;
    return (int32_t)(avail < updated ? avail : updated);
}

void ctl_child_fill(ctl_child_t *ch, const json_t *obj, uint32_t epoch)
{
    const char *rv = mcp_json_str(obj, "metadata.resourceVersion");
    const char *uid = ctl_controller_uid(obj);

    memset(ch, 0, sizeof(*ch));
    snprintf(ch->rv, sizeof(ch->rv), "%s", rv ? rv : "");
    snprintf(ch->owner_uid, sizeof(ch->owner_uid), "%s", uid ? uid : "");
    ch->available = current_available(obj);
    ch->applied = applied_hash(obj);
    ch->epoch = epoch;
    if (strcmp(mcp_json_str(obj, "kind") ?: "", "Pod") == 0)
        ctl_pod_summarize(obj, &ch->pod);
}

/* Whether a watch event of a child changes what the reconciler would do. */
static bool worth_queueing(const ctl_kind_t *k, bool had, const ctl_child_t *prev,
                           const ctl_child_t *ch)
{
    if (!had) /* new to us: unless it is already what we apply (our own write's
               * echo that came before its response), with nothing for the status */
        return !k || k->watch_only || ch->match_hash == 0 || ch->available != 0;
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
    char key[CTL_KEY_MAX], skey[CTL_KEY_MAX];
    ctl_child_t prev, ch;
    bool had;

    if (!kind || !ns || !name || !owner)
        return;
    ctl_child_key(key, sizeof(key), kind, ns, name);
    snprintf(skey, sizeof(skey), "%s/%s", ns, owner);
    if (strcmp(type, "DELETED") == 0) {
        ctl_cache_del_child(c->cache, key);
        ctl_queue_add(c->queue, skey);
        return;
    }
    ctl_child_fill(&ch, obj, epoch);
    had = ctl_cache_get_child(c->cache, key, &prev);
    if (had && ctl_rv_num(ch.rv) && ctl_rv_num(ch.rv) < ctl_rv_num(prev.rv))
        return; /* older than what our own write returned */
    if (had && strcmp(prev.rv, ch.rv) == 0) {
        ch.match_hash = prev.match_hash;
        ch.unverified = prev.unverified;
    } else if (!k || !k->watch_only) {
        ch.match_hash = live_match(c, skey, ch.owner_uid, obj, &ch.unverified);
    }
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
