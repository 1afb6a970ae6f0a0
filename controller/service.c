/* The two Services of one MCPServer. "mcp-<name>-proxy" (ClusterIP, port
 * <port> named http) is what MCP clients call; it selects the proxy pods
 * only, with the selector labels ToolHive used (immutable, kept exactly);
 * with a ConfigMap profile also the proxy's egress port (named egress), the
 * MCP server's HTTP(S)_PROXY. "mcp-<name>-headless" (clusterIP None) selects the MCP server pods:
 * it is the StatefulSet's governing Service and, for the HTTP transports, the proxy's upstream on
 * <targetPort>. Pure. */
#include "internal.h"

json_t *ctl_proxy_service(const mcp_server_t *s)
{
    char name[CTL_NAME_BUF];
    json_t *meta = ctl_object_meta(
        s, ctl_child_name(name, sizeof(name), CTL_PROXY_SVC_FMT, s->name), &s->proxy_service);

    json_t *spec =
        json_pack("{s:s, s:o, s:[{s:s, s:I, s:I, s:s}]}", "type", "ClusterIP", "selector",
                  ctl_selector_labels(s->name), "ports", "name", "http", "port",
                  (json_int_t)s->port, "targetPort", (json_int_t)s->port, "protocol", "TCP");
    int egress = ctl_egress_port(s);

    if (spec && egress &&
        json_array_append_new(json_object_get(spec, "ports"),
                              json_pack("{s:s, s:i, s:i, s:s}", "name", CTL_EGRESS_PORT_NAME,
                                        "port", egress, "targetPort", egress, "protocol", "TCP")) !=
            0)
        spec = (json_decref(spec), NULL);
    return ctl_with(ctl_typed_object("v1", "Service", meta), "spec", spec);
}

json_t *ctl_headless_service(const mcp_server_t *s)
{
    char name[CTL_NAME_BUF];
    json_t *meta =
        ctl_object_meta(s, ctl_child_name(name, sizeof(name), CTL_HEADLESS_SVC_FMT, s->name), NULL);
    json_t *spec = json_pack("{s:s, s:o}", "clusterIP", "None", "selector",
                             ctl_server_selector_labels(s->name));

    if (spec && ctl_http_transport(s))
        spec = ctl_with(spec, "ports",
                        json_pack("[{s:s, s:I, s:I, s:s}]", "name", CTL_SERVER_PORT_NAME, "port",
                                  (json_int_t)s->target_port, "targetPort",
                                  (json_int_t)s->target_port, "protocol", "TCP"));
    return ctl_with(ctl_typed_object("v1", "Service", meta), "spec", spec);
}
