/* The desired state of one MCPServer as plain JSON objects (DESIGN.md
 * section 4): ServiceAccounts, Role, RoleBinding, Deployment running the
 * ToolHive proxy runner, Service, and the egress NetworkPolicy. Everything
 * here is pure: the same server and options always give the same bytes, which
 * is what the golden tests and the "skip unchanged writes" logic rely on.
 * The pod patch and NetworkPolicy live in podpatch.c and netpol.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define NAME_BUF 96 /* names are <= 53 chars plus a short prefix/suffix */

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

char *ctl_service_url(const mcp_server_t *s)
{
    char *url = NULL;

    if (asprintf(&url, "http://mcp-%s-proxy.%s.svc.cluster.local:%lld", s->name, s->namespace,
                 (long long)s->port) < 0)
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

/* metadata {name, namespace, labels, annotations?, ownerReferences} */
json_t *ctl_object_meta(const mcp_server_t *s, const char *name, const mcp_override_t *ov)
{
    const json_t *ann = ov && json_is_object(ov->annotations) && json_object_size(ov->annotations)
                            ? ov->annotations
                            : NULL;

    return json_pack("{s:s, s:s, s:o, s:O*, s:o}", "name", name, "namespace", s->namespace,
                     "labels", labels_with(s->name, ov ? ov->labels : NULL), "annotations", ann,
                     "ownerReferences", owner_refs(s));
}

static json_t *typed(const char *api_version, const char *kind, json_t *meta)
{
    return json_pack("{s:s, s:s, s:o}", "apiVersion", api_version, "kind", kind, "metadata", meta);
}

static json_t *service_account(const mcp_server_t *s, const char *name)
{
    return typed("v1", "ServiceAccount", ctl_object_meta(s, name, NULL));
}

static json_t *role(const mcp_server_t *s, const char *name)
{
    json_t *o = typed("rbac.authorization.k8s.io/v1", "Role", ctl_object_meta(s, name, NULL));
    json_t *rules =
        json_pack("[{s:[s], s:[s], s:[s,s,s,s,s,s,s]}, {s:[s], s:[s], s:[s,s,s,s,s,s,s]},"
                  " {s:[s], s:[s,s], s:[s,s,s]}, {s:[s], s:[s], s:[s]}, {s:[s], s:[s], s:[s,s]}]",
                  "apiGroups", "apps", "resources", "statefulsets", "verbs", "get", "list", "watch",
                  "create", "update", "patch", "delete", "apiGroups", "", "resources", "services",
                  "verbs", "get", "list", "watch", "create", "update", "patch", "delete",
                  "apiGroups", "", "resources", "pods", "configmaps", "verbs", "get", "list",
                  "watch", "apiGroups", "", "resources", "pods/log", "verbs", "get", "apiGroups",
                  "", "resources", "pods/attach", "verbs", "create", "get");

    if (!o || !rules || json_object_set_new(o, "rules", rules) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *role_binding(const mcp_server_t *s, const char *name)
{
    json_t *o =
        typed("rbac.authorization.k8s.io/v1", "RoleBinding", ctl_object_meta(s, name, NULL));

    if (!o)
        return NULL;
    if (json_object_set_new(o, "roleRef",
                            json_pack("{s:s, s:s, s:s}", "apiGroup", "rbac.authorization.k8s.io",
                                      "kind", "Role", "name", name)) != 0 ||
        json_object_set_new(o, "subjects",
                            json_pack("[{s:s, s:s, s:s}]", "kind", "ServiceAccount", "name", name,
                                      "namespace", s->namespace)) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int add_strf(json_t *arr, const char *fmt, const char *a, const char *b)
{
    char *str = NULL;

    if (asprintf(&str, fmt, a, b) < 0)
        return -1;
    return json_array_append_new(arr, json_string(str)) == 0 ? (free(str), 0) : (free(str), -1);
}

static int add_int_arg(json_t *arr, const char *flag, long long v)
{
    char buf[64];

    snprintf(buf, sizeof(buf), "%s=%lld", flag, v);
    return json_array_append_new(arr, json_string(buf));
}

/* The permission-profile flag, if any. */
static int add_profile_arg(json_t *args, const mcp_server_t *s)
{
    const char *t = s->profile.type;

    if (!t || !s->profile.name)
        return 0;
    if (strcmp(t, "builtin") == 0)
        return add_strf(args, "--permission-profile=%s%s", s->profile.name, "");
    if (strcmp(t, "configmap") == 0 && s->profile.key)
        return add_strf(args, "--permission-profile-path=%s/%s", CTL_PROFILE_DIR, s->profile.key);
    return 0;
}

/* run --foreground=true --proxy-port=<port> --name=<name> --transport=<t>
 * --host=0.0.0.0 [--target-port] [--k8s-pod-patch] [--permission-profile...]
 * [--env=K=V ...] <image> [-- <args>...] */
static json_t *proxy_args(const mcp_server_t *s)
{
    json_t *args = json_pack("[s,s]", "run", "--foreground=true");
    json_t *patch = ctl_pod_patch(s);
    char *pj = patch ? json_dumps(patch, JSON_COMPACT) : NULL;
    int rc = !args || !pj;

    rc = rc || add_int_arg(args, "--proxy-port", (long long)s->port);
    rc = rc || add_strf(args, "--name=%s%s", s->name, "");
    rc = rc || add_strf(args, "--transport=%s%s", s->transport, "");
    rc = rc || json_array_append_new(args, json_string("--host=0.0.0.0"));
    if (s->target_port > 0)
        rc = rc || add_int_arg(args, "--target-port", (long long)s->target_port);
    rc = rc || add_strf(args, "--k8s-pod-patch=%s%s", pj, "");
    rc = rc || add_profile_arg(args, s);
    for (size_t i = 0; i < s->n_env; i++)
        rc = rc ||
             add_strf(args, "--env=%s=%s", s->env[i].name, s->env[i].value ? s->env[i].value : "");
    rc = rc || json_array_append_new(args, json_string(s->image));
    if (s->n_args > 0)
        rc = rc || json_array_append_new(args, json_string("--"));
    for (size_t i = 0; i < s->n_args; i++)
        rc = rc || json_array_append_new(args, json_string(s->args[i] ? s->args[i] : ""));
    free(pj);
    json_decref(patch);
    if (rc) {
        json_decref(args);
        return NULL;
    }
    return args;
}

/* XDG_CONFIG_HOME and HOME, then the override env (an override of the same
 * name replaces ours in place: env is a list keyed by name). */
static json_t *proxy_env(const mcp_server_t *s)
{
    json_t *env = json_pack("[{s:s, s:s}, {s:s, s:s}]", "name", "XDG_CONFIG_HOME", "value", "/tmp",
                            "name", "HOME", "value", "/tmp");
    const mcp_override_t *ov = &s->proxy_deployment;

    for (size_t i = 0; env && i < ov->n_env; i++) {
        json_t *e = json_pack("{s:s, s:s}", "name", ov->env[i].name ? ov->env[i].name : "", "value",
                              ov->env[i].value ? ov->env[i].value : "");
        size_t j, n = json_array_size(env);

        for (j = 0; j < n; j++)
            if (e && strcmp(mcp_json_str(json_array_get(env, j), "name"),
                            ov->env[i].name ? ov->env[i].name : "") == 0)
                break;
        if (!e || (j < n ? json_array_set_new(env, j, e) : json_array_append_new(env, e)) != 0) {
            json_decref(env);
            return NULL;
        }
    }
    return env;
}

static json_t *probe(int delay, int period, int timeout)
{
    return json_pack("{s:{s:s, s:s}, s:i, s:i, s:i, s:i}", "httpGet", "path", "/health", "port",
                     "http", "initialDelaySeconds", delay, "periodSeconds", period,
                     "timeoutSeconds", timeout, "failureThreshold", 3);
}

static bool configmap_profile(const mcp_server_t *s)
{
    return s->profile.type && strcmp(s->profile.type, "configmap") == 0 && s->profile.name &&
           s->profile.key;
}

static json_t *proxy_container(const mcp_server_t *s, const ctl_options_t *opt)
{
    json_t *c = json_pack(
        "{s:s, s:s, s:o, s:o, s:[{s:s, s:I, s:s}], s:o, s:o,"
        " s:{s:b, s:i, s:i, s:b, s:b, s:{s:[s]}, s:{s:s}}}",
        "name", CTL_PROXY_CONTAINER, "image",
        opt && opt->proxy_image ? opt->proxy_image : CTL_DEFAULT_PROXY_IMAGE, "args", proxy_args(s),
        "env", proxy_env(s), "ports", "name", "http", "containerPort", (json_int_t)s->port,
        "protocol", "TCP", "livenessProbe", probe(30, 10, 5), "readinessProbe", probe(5, 5, 3),
        "securityContext", "runAsNonRoot", 1, "runAsUser", CTL_RUN_AS_ID, "runAsGroup",
        CTL_RUN_AS_ID, "allowPrivilegeEscalation", 0, "privileged", 0, "capabilities", "drop",
        "ALL", "seccompProfile", "type", "RuntimeDefault");

    if (c && configmap_profile(s) &&
        json_object_set_new(c, "volumeMounts",
                            json_pack("[{s:s, s:s, s:b}]", "name", CTL_PROFILE_VOLUME, "mountPath",
                                      CTL_PROFILE_DIR, "readOnly", 1)) != 0) {
        json_decref(c);
        return NULL;
    }
    return c;
}

static json_t *pod_spec(const mcp_server_t *s, const ctl_options_t *opt, const char *sa)
{
    json_t *p = json_pack("{s:s, s:{s:b, s:i, s:i, s:i, s:{s:s}}, s:[o]}", "serviceAccountName", sa,
                          "securityContext", "runAsNonRoot", 1, "runAsUser", CTL_RUN_AS_ID,
                          "runAsGroup", CTL_RUN_AS_ID, "fsGroup", CTL_RUN_AS_ID, "seccompProfile",
                          "type", "RuntimeDefault", "containers", proxy_container(s, opt));

    if (p && configmap_profile(s) &&
        json_object_set_new(p, "volumes",
                            json_pack("[{s:s, s:{s:s}}]", "name", CTL_PROFILE_VOLUME, "configMap",
                                      "name", s->profile.name)) != 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}

static json_t *deployment(const mcp_server_t *s, const ctl_options_t *opt, const char *sa)
{
    json_t *o = typed("apps/v1", "Deployment", ctl_object_meta(s, s->name, &s->proxy_deployment));
    json_t *tmpl_labels = ctl_selector_labels(s->name);
    json_t *spec;

    if (tmpl_labels && json_object_set_new(tmpl_labels, "app.kubernetes.io/managed-by",
                                           json_string(CTL_MANAGED_BY)) != 0) {
        json_decref(tmpl_labels);
        tmpl_labels = NULL;
    }
    spec = json_pack("{s:i, s:{s:o}, s:{s:{s:o}, s:o}}", "replicas", 1, "selector", "matchLabels",
                     ctl_selector_labels(s->name), "template", "metadata", "labels", tmpl_labels,
                     "spec", pod_spec(s, opt, sa));
    if (!o || !spec || json_object_set_new(o, "spec", spec) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *service(const mcp_server_t *s)
{
    char name[NAME_BUF];
    json_t *o =
        typed("v1", "Service",
              ctl_object_meta(s, ctl_child_name(name, sizeof(name), "mcp-%s-proxy", s->name),
                              &s->proxy_service));
    json_t *spec =
        json_pack("{s:s, s:o, s:[{s:s, s:I, s:I, s:s}]}", "type", "ClusterIP", "selector",
                  ctl_selector_labels(s->name), "ports", "name", "http", "port",
                  (json_int_t)s->port, "targetPort", (json_int_t)s->port, "protocol", "TCP");

    if (!o || !spec || json_object_set_new(o, "spec", spec) != 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *ctl_desired_objects(const mcp_server_t *s, const ctl_options_t *opt)
{
    char runner[NAME_BUF], mcp_sa[NAME_BUF];
    json_t *out = json_array();
    json_t *np;
    int oom = 0;

    ctl_child_name(runner, sizeof(runner), "%s-proxy-runner", s->name);
    ctl_child_name(mcp_sa, sizeof(mcp_sa), "%s-sa", s->name);
    if (!out || json_array_append_new(out, service_account(s, runner)) != 0 ||
        json_array_append_new(out, role(s, runner)) != 0 ||
        json_array_append_new(out, role_binding(s, runner)) != 0)
        goto fail;
    if (!s->service_account && json_array_append_new(out, service_account(s, mcp_sa)) != 0)
        goto fail;
    np = ctl_network_policy(s, opt ? opt->profile : NULL, &oom);
    if (oom || (np && json_array_append_new(out, np) != 0))
        goto fail;
    if (json_array_append_new(out, deployment(s, opt, runner)) != 0 ||
        json_array_append_new(out, service(s)) != 0)
        goto fail;
    return out;
fail:
    json_decref(out);
    return NULL;
}
