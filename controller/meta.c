/* What every desired object shares: child names, the label sets (common,
 * the proxy's immutable selector, the MCP server pods' selector), object
 * metadata with the controller ownerReference, the typed object skeleton and
 * the proxy Service's URL. Pure functions; the per-kind files call these and
 * nothing here calls back into them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

char *ctl_child_name(char *buf, size_t len, const char *fmt, const char *name)
{
    snprintf(buf, len, fmt, name);
    return buf;
}

json_t *ctl_common_labels(const char *name)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "app.kubernetes.io/name", "mcpserver",
                     "app.kubernetes.io/instance", name, "app.kubernetes.io/managed-by",
                     CTL_MANAGED_BY, "toolhive", "true", "toolhive-name", name);
}

json_t *ctl_selector_labels(const char *name)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "app", "mcpserver", "app.kubernetes.io/name",
                     "mcpserver", "app.kubernetes.io/instance", name, "toolhive", "true",
                     "toolhive-name", name);
}

json_t *ctl_server_selector_labels(const char *name)
{
    return json_pack("{s:s, s:s, s:s}", "app.kubernetes.io/component", CTL_SERVER_COMPONENT,
                     "app.kubernetes.io/instance", name, "toolhive-name", name);
}

char *ctl_service_url(const mcp_server_t *s)
{
    const char *path = s->transport && strcmp(s->transport, "sse") == 0 ? "/sse" : "/mcp";
    char *url = NULL;

    if (asprintf(&url, "http://mcp-%s-proxy.%s.svc.cluster.local:%lld%s", s->name, s->namespace,
                 (long long)s->port, path) < 0)
        return NULL;
    return url;
}

/* Our labels, with the override labels added underneath (ours win, since the
 * selector and the watch's label selector depend on them). */
static json_t *labels_with(const char *name, const json_t *extra)
{
    json_t *l = ctl_common_labels(name);

    if (l && json_is_object(extra) && json_object_update_missing(l, (json_t *)extra) != 0) {
        json_decref(l);
        return NULL;
    }
    return l;
}

static json_t *owner_refs(const mcp_server_t *s)
{
    return json_pack("[{s:s, s:s, s:s, s:s, s:b, s:b}]", "apiVersion", MCP_API_VERSION, "kind",
                     MCP_KIND, "name", s->name, "uid", s->uid ? s->uid : "", "controller", 1,
                     "blockOwnerDeletion", 1);
}

const char *ctl_restarted_at(const mcp_server_t *s)
{
    const json_t *v = json_object_get(
        json_object_get(json_object_get(s->root, "metadata"), "annotations"), CTL_RESTARTED_AT);
    size_t n = json_string_length(v);

    return json_is_string(v) && n > 0 && n <= 64 ? json_string_value(v) : NULL;
}

int ctl_stamp_restart(json_t *tmpl_meta, const mcp_server_t *s)
{
    const char *at = ctl_restarted_at(s);
    json_t *ann;

    if (!at)
        return 0;
    ann = tmpl_meta ? ctl_json_child(tmpl_meta, "annotations", false) : NULL;
    return ann && json_object_set_new(ann, CTL_RESTARTED_AT, json_string(at)) == 0 ? 0 : -1;
}

json_t *ctl_object_meta(const mcp_server_t *s, const char *name, const mcp_override_t *ov)
{
    const json_t *ann = ov && json_is_object(ov->annotations) && json_object_size(ov->annotations)
                            ? ov->annotations
                            : NULL;

    return json_pack("{s:s, s:s, s:o, s:O*, s:o}", "name", name, "namespace", s->namespace,
                     "labels", labels_with(s->name, ov ? ov->labels : NULL), "annotations", ann,
                     "ownerReferences", owner_refs(s));
}

json_t *ctl_typed_object(const char *api_version, const char *kind, json_t *meta)
{
    return json_pack("{s:s, s:s, s:o}", "apiVersion", api_version, "kind", kind, "metadata", meta);
}

json_t *ctl_with(json_t *o, const char *key, json_t *value)
{
    if (!o || !value || json_object_set_new(o, key, value) != 0) {
        if (o && value)
            value = NULL; /* json_object_set_new() already released it */
        json_decref(o);
        json_decref(value);
        return NULL;
    }
    return o;
}

json_t *ctl_env_var(const char *name, const char *value)
{
    json_t *e = json_pack("{s:s}", "name", name ? name : "");

    if (e && value && *value && json_object_set_new(e, "value", json_string(value)) != 0) {
        json_decref(e);
        return NULL;
    }
    return e;
}
