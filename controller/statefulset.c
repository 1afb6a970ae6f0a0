/* The MCP server itself: StatefulSet "<name>" (one replica, governed by the
 * headless Service), container "mcp" running spec.image with spec.args,
 * spec.env, the secrets as secretKeyRef references (never values: the
 * controller never reads Secrets), resources, hostPath volumes and mounts,
 * stdin kept open for the stdio transport (the proxy attaches to it) or the
 * targetPort for the HTTP transports.
 *
 * Merge with spec.podTemplateSpec: the template (metadata included) is the
 * base; the fields generated here win, list entries (containers, env,
 * volumes, mounts, ports) are matched by name, everything else the user
 * wrote is kept. The security defaults are only defaults: seccomp
 * RuntimeDefault for the pod, no privilege escalation and every capability
 * dropped for the container, each set only where the template says nothing.
 * runAsNonRoot is left to the template: published MCP server images run as
 * whatever user they were built with (often root, or a user name the kubelet
 * cannot check), and the pod would never start. The pods carry the MCP
 * server selector labels and the managed-by label (the controller's pod
 * watch), never the proxy's selector. Pure. */
#include <string.h>

#include "internal.h"
#include "mcp/validate.h"

/* A quantity as the apiserver will store it ("0.5" -> "500m"), so that what
 * we apply is found again in the live object. */
static json_t *quantity(const char *text)
{
    char buf[64];
    const char *c = mcp_quantity_canonical(text, buf, sizeof(buf));

    return json_string(c ? c : text);
}

static int set_quantity(json_t *res, const char *which, const mcp_reslist_t *rl)
{
    json_t *m;

    if (!rl->cpu && !rl->memory)
        return 0;
    m = ctl_json_child(res, which, false);
    if (!m)
        return -1;
    if (rl->cpu && json_object_set_new(m, "cpu", quantity(rl->cpu)) != 0)
        return -1;
    if (rl->memory && json_object_set_new(m, "memory", quantity(rl->memory)) != 0)
        return -1;
    return 0;
}

static int add_resources(json_t *c, const mcp_server_t *s)
{
    json_t *res;

    if (!s->limits.cpu && !s->limits.memory && !s->requests.cpu && !s->requests.memory)
        return 0;
    res = ctl_json_child(c, "resources", false);
    if (!res)
        return -1;
    return set_quantity(res, "limits", &s->limits) || set_quantity(res, "requests", &s->requests)
               ? -1
               : 0;
}

/* With a ConfigMap profile the MCP server reaches the network through its
 * proxy's forward proxy, by the variables HTTP clients read (both cases:
 * curl reads only http_proxy in lower case, Go and Python both), set over
 * the user's own: its NetworkPolicy lets nothing else out, so a program
 * that ignores them fails closed. NO_PROXY names loopback only, so even an
 * in-cluster name goes through the proxy and its allow_host. */
static int add_proxy_env(json_t *env, const mcp_server_t *s)
{
    static const char *const names[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy"};
    char url[CTL_NAME_BUF * 2 + 64];
    int rc = 0;

    snprintf(url, sizeof(url), "http://" CTL_PROXY_SVC_FMT ".%s.svc:%d", s->name, s->namespace,
             ctl_egress_port(s));
    for (size_t i = 0; !rc && i < MCP_ARRAY_LEN(names); i++)
        rc = ctl_json_upsert_named(env, ctl_env_var(names[i], url));
    rc = rc || ctl_json_upsert_named(env, ctl_env_var("NO_PROXY", "localhost,127.0.0.1,::1"));
    rc = rc || ctl_json_upsert_named(env, ctl_env_var("no_proxy", "localhost,127.0.0.1,::1"));
    return rc;
}

/* spec.env (values), the secrets (references), then the egress proxy's
 * variables, each replacing an entry of the same name from before. */
static int add_env(json_t *c, const mcp_server_t *s)
{
    json_t *env;

    if (s->n_env == 0 && s->n_secrets == 0 && !ctl_egress_port(s))
        return 0;
    env = ctl_json_child(c, "env", true);
    if (!env)
        return -1;
    for (size_t i = 0; i < s->n_env; i++) {
        const mcp_env_t *e = &s->env[i];
        if (ctl_json_upsert_named(env, ctl_env_var(e->name, e->value)) != 0)
            return -1;
    }
    for (size_t i = 0; i < s->n_secrets; i++) {
        const mcp_secret_t *sec = &s->secrets[i];
        json_t *e =
            json_pack("{s:s, s:{s:{s:s, s:s}}}", "name",
                      sec->target_env_name ? sec->target_env_name : "", "valueFrom", "secretKeyRef",
                      "name", sec->name ? sec->name : "", "key", sec->key ? sec->key : "");
        if (ctl_json_upsert_named(env, e) != 0)
            return -1;
    }
    return ctl_egress_port(s) ? add_proxy_env(env, s) : 0;
}

static int add_volumes(json_t *spec, json_t *c, const mcp_server_t *s)
{
    json_t *vols, *mounts;

    if (s->n_volumes == 0)
        return 0;
    vols = ctl_json_child(spec, "volumes", true);
    mounts = ctl_json_child(c, "volumeMounts", true);
    if (!vols || !mounts)
        return -1;
    for (size_t i = 0; i < s->n_volumes; i++) {
        const mcp_volume_t *v = &s->volumes[i];
        json_t *m;
        if (!v->name || !v->host_path || !v->mount_path)
            continue;
        /* readOnly only when true: the apiserver does not store a false */
        m = json_pack("{s:s, s:s}", "name", v->name, "mountPath", v->mount_path);
        if (m && v->read_only && json_object_set_new(m, "readOnly", json_true()) != 0)
            m = (json_decref(m), NULL);
        if (ctl_json_upsert_named(mounts, m) != 0 ||
            ctl_json_upsert_named(vols, json_pack("{s:s, s:{s:s}}", "name", v->name, "hostPath",
                                                  "path", v->host_path)) != 0)
            return -1;
    }
    return 0;
}

/* stdio: stdin stays open for the proxy's attach, and survives attaches
 * coming and going (stdinOnce false); no TTY, which would mangle JSON-RPC.
 * Both falses are the defaults, which the apiserver leaves out of what it
 * stores: they are removed (a template may set them), not written, so the
 * applied object stays contained in the live one. HTTP transports: the port
 * the headless Service targets. */
static int add_transport(json_t *c, const mcp_server_t *s)
{
    json_t *ports;

    if (!ctl_http_transport(s)) {
        json_object_del(c, "stdinOnce");
        json_object_del(c, "tty");
        return json_object_set_new(c, "stdin", json_true());
    }
    ports = ctl_json_child(c, "ports", true);
    return ports ? ctl_json_upsert_named(ports,
                                         json_pack("{s:s, s:I, s:s}", "name", CTL_SERVER_PORT_NAME,
                                                   "containerPort", (json_int_t)s->target_port,
                                                   "protocol", "TCP"))
                 : -1;
}

/* The `mcp` container of the template (created when absent), completed. */
static int server_container(json_t *spec, const mcp_server_t *s)
{
    json_t *containers = ctl_json_child(spec, "containers", true);
    json_t *c = containers ? ctl_json_find_named(containers, CTL_MCP_CONTAINER, true) : NULL;
    json_t *args = NULL, *sc, *caps;

    if (!c || json_object_set_new(c, "image", json_string(s->image)) != 0)
        return -1;
    if (s->n_args > 0) {
        args = json_array();
        for (size_t i = 0; args && i < s->n_args; i++)
            if (json_array_append_new(args, json_string(s->args[i] ? s->args[i] : "")) != 0)
                return json_decref(args), -1;
        if (!args || json_object_set_new(c, "args", args) != 0)
            return -1;
    }
    if (add_env(c, s) || add_resources(c, s) || add_volumes(spec, c, s) || add_transport(c, s))
        return -1;
    sc = ctl_json_child(c, "securityContext", false);
    caps = sc ? ctl_json_child(sc, "capabilities", false) : NULL;
    return caps &&
                   json_object_update_missing_new(
                       sc, json_pack("{s:b}", "allowPrivilegeEscalation", 0)) == 0 &&
                   json_object_update_missing_new(caps, json_pack("{s:[s]}", "drop", "ALL")) == 0
               ? 0
               : -1;
}

/* Template labels: the user's, then ours on top; a user label app=mcpserver
 * is dropped, since with it the pod could match the proxy's selector. */
static int server_labels(json_t *tmpl, const char *name)
{
    json_t *meta = ctl_json_child(tmpl, "metadata", false);
    json_t *labels = meta ? ctl_json_child(meta, "labels", false) : NULL;
    json_t *ours = ctl_server_selector_labels(name);
    const char *app = labels ? json_string_value(json_object_get(labels, "app")) : NULL;

    if (app && strcmp(app, "mcpserver") == 0)
        json_object_del(labels, "app");
    if (!labels || !ours || json_object_update(labels, ours) != 0 ||
        json_object_set_new(labels, "app.kubernetes.io/managed-by", json_string(CTL_MANAGED_BY))) {
        json_decref(ours);
        return -1;
    }
    json_decref(ours);
    return 0;
}

/* spec.podTemplateSpec merged with what we generate. New reference or NULL. */
json_t *ctl_server_pod_template(const mcp_server_t *s)
{
    char sa[CTL_NAME_BUF];
    json_t *tmpl =
        json_is_object(s->pod_template_spec) ? json_deep_copy(s->pod_template_spec) : json_object();
    json_t *spec, *psc;

    if (!tmpl || server_labels(tmpl, s->name) != 0 ||
        ctl_stamp_restart(ctl_json_child(tmpl, "metadata", false), s) != 0)
        goto fail;
    spec = ctl_json_child(tmpl, "spec", false);
    if (!spec || json_object_set_new(
                     spec, "serviceAccountName",
                     json_string(s->service_account
                                     ? s->service_account
                                     : ctl_child_name(sa, sizeof(sa), CTL_SERVER_SA_FMT, s->name))))
        goto fail;
    /* The pause container is PID 1: an MCP server that installs no SIGTERM
     * handler (most plain python or node servers) then stops at once when
     * its pod is deleted, instead of ignoring SIGTERM as PID 1 and holding
     * the pod (and its replacement) for the whole grace period. */
    if (json_object_update_missing_new(spec, json_pack("{s:b}", "shareProcessNamespace", 1)) != 0)
        goto fail;
    psc = ctl_json_child(spec, "securityContext", false);
    if (!psc ||
        json_object_update_missing_new(
            psc, json_pack("{s:{s:s}}", "seccompProfile", "type", "RuntimeDefault")) != 0 ||
        server_container(spec, s) != 0)
        goto fail;
    return tmpl;
fail:
    json_decref(tmpl);
    return NULL;
}

json_t *ctl_statefulset(const mcp_server_t *s)
{
    char headless[CTL_NAME_BUF];

    /* Parallel: a pod that never became ready (bad image, crash loop) is
     * still replaced when the spec is fixed; OrderedReady would wait for it
     * forever. */
    return ctl_with(
        ctl_typed_object("apps/v1", "StatefulSet", ctl_object_meta(s, s->name, NULL)), "spec",
        json_pack("{s:i, s:s, s:s, s:{s:o}, s:o}", "replicas", 1, "serviceName",
                  ctl_child_name(headless, sizeof(headless), CTL_HEADLESS_SVC_FMT, s->name),
                  "podManagementPolicy", "Parallel", "selector", "matchLabels",
                  ctl_server_selector_labels(s->name), "template", ctl_server_pod_template(s)));
}
