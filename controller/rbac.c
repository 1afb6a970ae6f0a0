/* The identities of one MCPServer: ServiceAccount "<name>-proxy-runner" for
 * the proxy pod, bound by RoleBinding "<name>-proxy-runner" (in the
 * MCPServer's namespace only) to the chart's ClusterRole "<release>-proxy"
 * (pods get/list/watch, pods/attach create/get), and ServiceAccount
 * "<name>-sa" for the MCP server pod unless spec.serviceAccount names one.
 * The controller itself holds no pods/attach right: it may only bind that
 * one ClusterRole (RBAC `bind` restricted by resourceNames). Pure. */
#include "internal.h"

json_t *ctl_service_account(const mcp_server_t *s, const char *name)
{
    return ctl_typed_object("v1", "ServiceAccount", ctl_object_meta(s, name, NULL));
}

json_t *ctl_proxy_role_binding(const mcp_server_t *s, const ctl_options_t *opt)
{
    char name[CTL_NAME_BUF];
    const char *role =
        opt && opt->proxy_cluster_role ? opt->proxy_cluster_role : CTL_DEFAULT_PROXY_CLUSTER_ROLE;
    json_t *o;

    ctl_child_name(name, sizeof(name), CTL_PROXY_SA_FMT, s->name);
    o = ctl_typed_object("rbac.authorization.k8s.io/v1", "RoleBinding",
                         ctl_object_meta(s, name, NULL));
    o = ctl_with(o, "roleRef",
                 json_pack("{s:s, s:s, s:s}", "apiGroup", "rbac.authorization.k8s.io", "kind",
                           "ClusterRole", "name", role));
    return ctl_with(o, "subjects",
                    json_pack("[{s:s, s:s, s:s}]", "kind", "ServiceAccount", "name", name,
                              "namespace", s->namespace));
}
