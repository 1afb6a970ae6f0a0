/* The data plane: Deployment "<name>" running mcp-proxy (container "proxy")
 * with the ServiceAccount "<name>-proxy-runner". Its arguments name the
 * transport, the port and the upstream: for stdio the MCP server pod
 * "<name>-0", container "mcp", which the proxy attaches to; for sse and
 * streamable-http the headless Service on <targetPort>. spec.tools becomes
 * --tools (sorted, so the same set always gives the same bytes). Readiness
 * is the proxy's /health, which fails while the data path is down; liveness
 * asks /metrics, answered by the same event loop whatever the upstream does,
 * so a down MCP server does not get the proxy restarted. The proxy answers
 * only Hosts (and Origins) it is served under: --allow-host names its
 * Service. A rolling restart fails no call: a preStop sleep keeps the old
 * pod serving while its endpoint leaves the Service, then SIGTERM drains it
 * (PROXY_PRESTOP_SECONDS). Hardened: non-root,
 * read-only root filesystem, no privilege escalation, no capabilities,
 * seccomp RuntimeDefault. The selector labels are ToolHive's (immutable).
 * Pure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* On deletion the pod leaves the Service's endpoints at once, but every
 * node's kube-proxy takes a moment to stop sending it new connections: the
 * kubelet sleeps this long (its own preStop sleep action: no binary needed
 * in the image) before it sends SIGTERM. Then the proxy turns
 * unready, stops accepting and drains, up to its --drain-seconds (10) and a
 * last 2 s for connections to close: within the grace period. */
#define PROXY_PRESTOP_SECONDS 5
#define PROXY_GRACE_SECONDS   30
/* A ConfigMap profile, mounted for the forward proxy (--egress-profile); the
 * kubelet updates the file when the ConfigMap changes and the proxy reloads
 * it, so an edited allow_host restarts nothing. */
#define PROFILE_VOLUME "permission-profile"
#define PROFILE_DIR    "/etc/mcp-proxy/profile"
#define PROFILE_FILE   "profile.json"

static int add_arg(json_t *args, const char *flag, const char *value)
{
    char *a = NULL;
    int rc;

    if (asprintf(&a, "--%s=%s", flag, value) < 0)
        return -1;
    rc = json_array_append_new(args, json_string(a));
    free(a);
    return rc;
}

static int add_int_arg(json_t *args, const char *flag, long long v)
{
    char num[24];

    snprintf(num, sizeof(num), "%lld", v);
    return add_arg(args, flag, num);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* "a,b,c" of spec.tools, sorted; new malloc'd string, NULL on OOM. */
static char *tools_list(const mcp_server_t *s)
{
    const char **sorted = calloc(s->n_tools, sizeof(*sorted));
    size_t len = 1;
    char *out = NULL;

    if (!sorted)
        return NULL;
    for (size_t i = 0; i < s->n_tools; i++) {
        sorted[i] = s->tools[i] ? s->tools[i] : "";
        len += strlen(sorted[i]) + 1;
    }
    qsort(sorted, s->n_tools, sizeof(*sorted), cmp_str);
    out = malloc(len);
    if (out) {
        out[0] = '\0';
        for (size_t i = 0; i < s->n_tools; i++) {
            if (i)
                strcat(out, ",");
            strcat(out, sorted[i]);
        }
    }
    free(sorted);
    return out;
}

static int add_service_names(json_t *args, const mcp_server_t *s)
{
    static const char *const suffix[] = {"", ".svc", ".svc.cluster.local"};
    char svc[CTL_NAME_BUF + 16], name[sizeof(svc) + CTL_NAME_BUF + 32];
    int rc;

    snprintf(svc, sizeof(svc), CTL_PROXY_SVC_FMT, s->name);
    rc = add_arg(args, "allow-host", svc);
    for (size_t i = 0; !rc && i < sizeof(suffix) / sizeof(suffix[0]); i++) {
        snprintf(name, sizeof(name), "%s.%s%s", svc, s->namespace, suffix[i]);
        rc = add_arg(args, "allow-host", name);
    }
    return rc;
}

/* --port=<port> --bind=:: (every address: the proxy's default is loopback)
 * --transport=<t> [--tools=a,b] then the upstream:
 * --namespace=<ns> --pod=<name>-0 --container=mcp (stdio) or
 * --target-host=mcp-<name>-headless.<ns>.svc --target-port=<targetPort>
 * --namespace=<ns> --pod=<name>-0 (HTTP transports: the proxy speaks the
 * server's transport at its default path, /mcp or /sse, and watches the pod
 * to reach it by its IP, as the headless name's DNS answer is cached); last
 * the names of the proxy's Service as --allow-host, mcp-<name>-proxy and
 * that with .<ns>, .<ns>.svc and .<ns>.svc.cluster.local (the proxy allows
 * loopback names and IP Hosts itself, so the ClusterIP needs no flag; other
 * names come from MCP_PROXY_ALLOWED_HOSTS in the env overrides). */
json_t *ctl_proxy_args(const mcp_server_t *s, const ctl_options_t *opt)
{
    char buf[CTL_NAME_BUF + 128];
    json_t *args = json_array();
    char *tools = NULL;
    int rc = !args;

    rc = rc || add_int_arg(args, "port", (long long)s->port);
    rc = rc || add_arg(args, "bind", "::");
    rc = rc || add_arg(args, "transport", s->transport);
    if (!rc && s->n_tools > 0) {
        tools = tools_list(s);
        rc = !tools || add_arg(args, "tools", tools);
        free(tools);
    }
    if (ctl_http_transport(s)) {
        snprintf(buf, sizeof(buf), CTL_HEADLESS_SVC_FMT ".%s.svc", s->name, s->namespace);
        rc = rc || add_arg(args, "target-host", buf);
        rc = rc || add_int_arg(args, "target-port", (long long)s->target_port);
    }
    snprintf(buf, sizeof(buf), "%s-0", s->name);
    rc = rc || add_arg(args, "namespace", s->namespace);
    rc = rc || add_arg(args, "pod", buf);
    if (!ctl_http_transport(s))
        rc = rc || add_arg(args, "container", CTL_MCP_CONTAINER);
    rc = rc || add_service_names(args, s);
    if (ctl_egress_port(s)) {
        rc = rc || add_int_arg(args, "egress-port", ctl_egress_port(s));
        rc = rc || add_arg(args, "egress-profile", PROFILE_DIR "/" PROFILE_FILE);
    }
    rc = rc || ctl_auth_args(s, opt, args);
    if (rc) {
        json_decref(args);
        return NULL;
    }
    return args;
}

/* resourceOverrides.proxyDeployment.env, in order; then the OIDC client
 * secret by reference (which an override of the same name cannot replace). */
static json_t *proxy_env(const mcp_server_t *s, const ctl_options_t *opt)
{
    const mcp_override_t *ov = &s->proxy_deployment;
    json_t *env = json_array(), *secret = ctl_oidc_secret_env(s, opt);

    for (size_t i = 0; env && i < ov->n_env; i++)
        if (ctl_json_upsert_named(env, ctl_env_var(ov->env[i].name, ov->env[i].value)) != 0)
            env = (json_decref(env), NULL);
    if (secret && env && ctl_json_upsert_named(env, secret) != 0)
        env = (json_decref(env), NULL);
    else if (secret && !env)
        json_decref(secret);
    return env;
}

/* The ConfigMap holding authz.json: the referenced one, or ours. */
static const char *authz_configmap(const mcp_server_t *s, char *buf, size_t len)
{
    if (!s->authz.type)
        return NULL;
    if (strcmp(s->authz.type, "inline") == 0)
        return ctl_child_name(buf, len, CTL_AUTHZ_INLINE_FMT, s->name);
    return s->authz.config_map.name;
}

static json_t *probe(const char *path, int delay, int period, int timeout, int failures)
{
    return json_pack("{s:{s:s, s:s}, s:i, s:i, s:i, s:i}", "httpGet", "path", path, "port", "http",
                     "initialDelaySeconds", delay, "periodSeconds", period, "timeoutSeconds",
                     timeout, "failureThreshold", failures);
}

static json_t *proxy_container(const mcp_server_t *s, const ctl_options_t *opt)
{
    char cm[CTL_NAME_BUF];
    json_t *mounts = json_array();
    json_t *c = json_pack(
        "{s:s, s:s, s:o, s:[{s:s, s:I, s:s}], s:o, s:o, s:{s:{s:{s:i}}},"
        " s:{s:b, s:b, s:b, s:b, s:{s:[s]}, s:{s:s}}}",
        "name", CTL_PROXY_CONTAINER, "image",
        opt && opt->proxy_image ? opt->proxy_image : CTL_DEFAULT_PROXY_IMAGE, "args",
        ctl_proxy_args(s, opt), "ports", "name", "http", "containerPort", (json_int_t)s->port,
        "protocol", "TCP", "readinessProbe", probe("/health", 1, 2, 2, 1), "livenessProbe",
        probe("/metrics", 10, 10, 5, 3), "lifecycle", "preStop", "sleep", "seconds",
        PROXY_PRESTOP_SECONDS, "securityContext", "runAsNonRoot", 1, "readOnlyRootFilesystem", 1,
        "allowPrivilegeEscalation", 0, "privileged", 0, "capabilities", "drop", "ALL",
        "seccompProfile", "type", "RuntimeDefault");
    json_t *env = proxy_env(s, opt);

    if (c && ctl_egress_port(s) &&
        (json_array_append_new(json_object_get(c, "ports"),
                               json_pack("{s:s, s:i, s:s}", "name", CTL_EGRESS_PORT_NAME,
                                         "containerPort", ctl_egress_port(s), "protocol", "TCP")) !=
             0 ||
         json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "name", PROFILE_VOLUME,
                                                 "mountPath", PROFILE_DIR, "readOnly", 1)) != 0))
        c = (json_decref(c), NULL);
    if (c && authz_configmap(s, cm, sizeof(cm)) &&
        json_array_append_new(mounts, json_pack("{s:s, s:s, s:b}", "name", CTL_AUTHZ_VOLUME,
                                                "mountPath", CTL_AUTHZ_DIR, "readOnly", 1)) != 0)
        c = (json_decref(c), NULL);
    if (!mounts || json_array_size(mounts) == 0)
        json_decref(mounts);
    else
        c = ctl_with(c, "volumeMounts", mounts);
    if (c && env && json_array_size(env) == 0) {
        json_decref(env);
        return c;
    }
    return ctl_with(c, "env", env);
}

/* The ConfigMap profile's key as PROFILE_FILE, the authorization
 * configuration as CTL_AUTHZ_FILE; NULL (no volume) when neither. */
static json_t *proxy_volumes(const mcp_server_t *s)
{
    char cm[CTL_NAME_BUF];
    const char *authz = authz_configmap(s, cm, sizeof(cm));
    json_t *v = json_array();

    if (v && ctl_egress_port(s) &&
        json_array_append_new(v, json_pack("{s:s, s:{s:s, s:[{s:s, s:s}]}}", "name", PROFILE_VOLUME,
                                           "configMap", "name", s->profile.name, "items", "key",
                                           s->profile.key, "path", PROFILE_FILE)) != 0)
        v = (json_decref(v), NULL);
    if (v && authz &&
        json_array_append_new(
            v, json_pack("{s:s, s:{s:s, s:[{s:s, s:s}]}}", "name", CTL_AUTHZ_VOLUME, "configMap",
                         "name", authz, "items", "key",
                         strcmp(s->authz.type, "inline") == 0 ? CTL_AUTHZ_FILE
                                                              : s->authz.config_map.key,
                         "path", CTL_AUTHZ_FILE)) != 0)
        v = (json_decref(v), NULL);
    if (v && json_array_size(v) == 0)
        v = (json_decref(v), NULL);
    return v;
}

/* The hash that restarts the proxy when its authorization changes: of the
 * referenced ConfigMap's content (opt->authz_hash), or of the inline
 * policies. NULL when there is no authorization. */
static json_t *authz_annotations(const mcp_server_t *s, const ctl_options_t *opt)
{
    char hex[24], *text;

    if (!s->authz.type)
        return NULL;
    if (strcmp(s->authz.type, "inline") != 0)
        return json_pack("{s:s}", CTL_AUTHZ_HASH,
                         opt && opt->authz_hash ? opt->authz_hash : "unknown");
    if (!(text = ctl_authz_inline_json(s)))
        return NULL;
    ctl_text_hash(text, strlen(text), hex, sizeof(hex));
    free(text);
    return json_pack("{s:s}", CTL_AUTHZ_HASH, hex);
}

static json_t *proxy_pod_labels(const char *name)
{
    json_t *l = ctl_selector_labels(name);

    return ctl_with(l, "app.kubernetes.io/managed-by", json_string(CTL_MANAGED_BY));
}

json_t *ctl_proxy_deployment(const mcp_server_t *s, const ctl_options_t *opt)
{
    char sa[CTL_NAME_BUF];
    json_t *pod =
        json_pack("{s:s, s:{s:b, s:i, s:i, s:{s:s}}, s:i, s:[o]}", "serviceAccountName",
                  ctl_child_name(sa, sizeof(sa), CTL_PROXY_SA_FMT, s->name), "securityContext",
                  "runAsNonRoot", 1, "runAsUser", CTL_RUN_AS_ID, "runAsGroup", CTL_RUN_AS_ID,
                  "seccompProfile", "type", "RuntimeDefault", "terminationGracePeriodSeconds",
                  PROXY_GRACE_SECONDS, "containers", proxy_container(s, opt));
    json_t *vols = proxy_volumes(s), *ann = authz_annotations(s, opt), *meta;

    if (vols)
        pod = ctl_with(pod, "volumes", vols);
    meta = json_pack("{s:o}", "labels", proxy_pod_labels(s->name));
    if (ann)
        meta = ctl_with(meta, "annotations", ann);
    else if (s->authz.type)
        meta = (json_decref(meta), NULL);
    if (meta && ctl_stamp_restart(meta, s) != 0)
        meta = (json_decref(meta), NULL);

    return ctl_with(ctl_typed_object("apps/v1", "Deployment",
                                     ctl_object_meta(s, s->name, &s->proxy_deployment)),
                    "spec",
                    json_pack("{s:i, s:{s:o}, s:{s:o, s:o}}", "replicas", 1, "selector",
                              "matchLabels", ctl_selector_labels(s->name), "template", "metadata",
                              meta, "spec", pod));
}
