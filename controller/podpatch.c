/* The pod patch handed to the proxy runner (`--k8s-pod-patch`): a
 * PodTemplateSpec whose container `mcp` is the MCP server itself. It carries
 * the labels the NetworkPolicy selects on, the service account, secrets as
 * secretKeyRef references (never values: the controller never reads
 * Secrets), resources, and hostPath volumes with their mounts, all merged into
 * a copy of spec.podTemplateSpec. Merge rule: the fields we generate win,
 * list entries are matched by name, everything else the user wrote is kept. */
#include <string.h>

#include "internal.h"

/* Borrowed child object/array of `parent` under `key`, created (or replaced
 * when of the wrong type). NULL on OOM. */
static json_t *child(json_t *parent, const char *key, int want_array)
{
    json_t *c = json_object_get(parent, key);

    if (want_array ? json_is_array(c) : json_is_object(c))
        return c;
    c = want_array ? json_array() : json_object();
    if (!c || json_object_set_new(parent, key, c) != 0)
        return NULL;
    return c;
}

/* Replace the element of `arr` whose "name" equals elem's, or append.
 * Steals elem. Returns 0 or -1. */
static int upsert_named(json_t *arr, json_t *elem)
{
    const char *name = json_string_value(json_object_get(elem, "name"));
    size_t i;
    json_t *e;

    if (!elem || !name) {
        json_decref(elem);
        return -1;
    }
    json_array_foreach(arr, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0)
            return json_array_set_new(arr, i, elem);
    }
    return json_array_append_new(arr, elem);
}

static json_t *find_container(json_t *containers, const char *name)
{
    size_t i;
    json_t *c;

    json_array_foreach(containers, i, c)
    {
        const char *n = json_string_value(json_object_get(c, "name"));
        if (json_is_object(c) && n && strcmp(n, name) == 0)
            return c;
    }
    c = json_pack("{s:s}", "name", name);
    if (!c || json_array_append_new(containers, c) != 0)
        return NULL;
    return c;
}

static int set_quantity(json_t *res, const char *which, const mcp_reslist_t *rl)
{
    json_t *m;

    if (!rl->cpu && !rl->memory)
        return 0;
    m = child(res, which, 0);
    if (!m)
        return -1;
    if (rl->cpu && json_object_set_new(m, "cpu", json_string(rl->cpu)) != 0)
        return -1;
    if (rl->memory && json_object_set_new(m, "memory", json_string(rl->memory)) != 0)
        return -1;
    return 0;
}

static int add_resources(json_t *c, const mcp_server_t *s)
{
    json_t *res;

    if (!s->limits.cpu && !s->limits.memory && !s->requests.cpu && !s->requests.memory)
        return 0;
    res = child(c, "resources", 0);
    if (!res)
        return -1;
    return set_quantity(res, "limits", &s->limits) || set_quantity(res, "requests", &s->requests)
               ? -1
               : 0;
}

static int add_secrets(json_t *c, const mcp_server_t *s)
{
    json_t *env;

    if (s->n_secrets == 0)
        return 0;
    env = child(c, "env", 1);
    if (!env)
        return -1;
    for (size_t i = 0; i < s->n_secrets; i++) {
        const mcp_secret_t *sec = &s->secrets[i];
        json_t *e =
            json_pack("{s:s, s:{s:{s:s, s:s}}}", "name",
                      sec->target_env_name ? sec->target_env_name : "", "valueFrom", "secretKeyRef",
                      "name", sec->name ? sec->name : "", "key", sec->key ? sec->key : "");
        if (upsert_named(env, e) != 0)
            return -1;
    }
    return 0;
}

static int add_volumes(json_t *spec, json_t *c, const mcp_server_t *s)
{
    json_t *vols, *mounts;

    if (s->n_volumes == 0)
        return 0;
    vols = child(spec, "volumes", 1);
    mounts = child(c, "volumeMounts", 1);
    if (!vols || !mounts)
        return -1;
    for (size_t i = 0; i < s->n_volumes; i++) {
        const mcp_volume_t *v = &s->volumes[i];
        if (!v->name || !v->host_path || !v->mount_path)
            continue;
        if (upsert_named(mounts, json_pack("{s:s, s:s, s:b}", "name", v->name, "mountPath",
                                           v->mount_path, "readOnly", v->read_only)) != 0 ||
            upsert_named(vols, json_pack("{s:s, s:{s:s}}", "name", v->name, "hostPath", "path",
                                         v->host_path)) != 0)
            return -1;
    }
    return 0;
}

static int add_labels(json_t *tmpl, const char *name)
{
    json_t *meta = child(tmpl, "metadata", 0);
    json_t *labels = meta ? child(meta, "labels", 0) : NULL;

    if (!labels)
        return -1;
    if (json_object_set_new(labels, "app.kubernetes.io/component", json_string("mcp-server")) ||
        json_object_set_new(labels, "toolhive-name", json_string(name)))
        return -1;
    return 0;
}

json_t *ctl_pod_patch(const mcp_server_t *s)
{
    char sa[96];
    json_t *tmpl =
        json_is_object(s->pod_template_spec) ? json_deep_copy(s->pod_template_spec) : json_object();
    json_t *spec, *containers, *c;

    if (!tmpl || add_labels(tmpl, s->name) != 0)
        goto fail;
    spec = child(tmpl, "spec", 0);
    if (!spec)
        goto fail;
    if (json_object_set_new(spec, "serviceAccountName",
                            json_string(s->service_account
                                            ? s->service_account
                                            : ctl_child_name(sa, sizeof(sa), "%s-sa", s->name))))
        goto fail;
    containers = child(spec, "containers", 1);
    c = containers ? find_container(containers, CTL_MCP_CONTAINER) : NULL;
    if (!c || add_secrets(c, s) || add_resources(c, s) || add_volumes(spec, c, s))
        goto fail;
    return tmpl;
fail:
    json_decref(tmpl);
    return NULL;
}
