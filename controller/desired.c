/* The desired state of one MCPServer (DESIGN.md section 4), in apply order:
 * the identities first (so the pods can start with them), the NetworkPolicy
 * before the pods it confines, the MCP server (headless Service and
 * StatefulSet), then the proxy and its Service; with oidcConfig or
 * authzConfig, the proxy's Secret and ConfigMap (auth.c) before them. Each kind is built in its own
 * file (rbac.c, netpol.c, service.c, statefulset.c, deployment.c) from the
 * helpers in meta.c; this file only lists them. Pure: the same server and
 * options always give the same bytes, which the golden tests and the "skip
 * unchanged writes" logic rely on. */
#include "internal.h"

static int add(json_t *out, json_t *o)
{
    return o ? json_array_append_new(out, o) : -1;
}

json_t *ctl_desired_objects(const mcp_server_t *s, const ctl_options_t *opt)
{
    char name[CTL_NAME_BUF];
    json_t *out = json_array(), *np;
    int oom = 0;

    if (!out ||
        add(out, ctl_service_account(
                     s, ctl_child_name(name, sizeof(name), CTL_PROXY_SA_FMT, s->name))) != 0 ||
        add(out, ctl_proxy_role_binding(s, opt)) != 0)
        goto fail;
    if (!s->service_account &&
        add(out, ctl_service_account(
                     s, ctl_child_name(name, sizeof(name), CTL_SERVER_SA_FMT, s->name))) != 0)
        goto fail;
    np = ctl_network_policy(s, opt ? opt->profile : NULL, &oom);
    if (oom || (np && add(out, np) != 0))
        goto fail;
    /* the proxy's Secret and authz ConfigMap before the proxy that mounts them */
    if ((np = ctl_oidc_secret(s, opt)) && add(out, np) != 0)
        goto fail;
    if ((np = ctl_authz_configmap(s)) && add(out, np) != 0)
        goto fail;
    if (add(out, ctl_headless_service(s)) != 0 || add(out, ctl_statefulset(s)) != 0 ||
        add(out, ctl_proxy_deployment(s, opt)) != 0 || add(out, ctl_proxy_service(s)) != 0)
        goto fail;
    return out;
fail:
    json_decref(out);
    return NULL;
}
