/* The NetworkPolicy "<name>" of every MCPServer (DESIGN.md section 4), which
 * ToolHive itself does not write. It selects only the MCP server pods (the
 * StatefulSet's selector labels), never the proxy, which needs the apiserver
 * and its clients.
 * Ingress: only from this MCPServer's proxy pods, on targetPort (sse,
 * streamable-http); none at all for stdio, whose proxy attaches through the
 * apiserver, not the pod network. So the proxy, its tool filter and its
 * authentication cannot be walked around.
 * Egress by permission profile: builtin "network" (or none set) and a
 * ConfigMap profile with insecure_allow_all: unrestricted; builtin "none":
 * DNS only. A ConfigMap profile (ToolHive's JSON format,
 * network.outbound.{allow_host, allow_port, allow_transport}): DNS and the
 * proxy's egress port (ctl_egress_port), where mcp-proxy allows exactly the
 * allow_host names on the allow_port ports; only when allow_host is empty do
 * the allow_port ports go straight to any destination, as a NetworkPolicy
 * alone can say. What no policy here enforces (file paths) is reported by
 * ctl_profile_warning(). Pure functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "mcp/egress_rules.h"

#define WARN_MAX 512

static const json_t *outbound(const json_t *profile)
{
    return mcp_json_get(profile, "network.outbound");
}

static json_t *dns_rule(void)
{
    return json_pack("{s:[{s:s, s:i}, {s:s, s:i}]}", "ports", "protocol", "UDP", "port", 53,
                     "protocol", "TCP", "port", 53);
}

static int transport_allowed(const json_t *out, const char *proto)
{
    const json_t *t = json_object_get(out, "allow_transport");
    size_t i;
    json_t *v;

    if (!json_is_array(t) || json_array_size(t) == 0)
        return strcmp(proto, "tcp") == 0;
    json_array_foreach(t, i, v)
    {
        if (json_is_string(v) && strcasecmp(json_string_value(v), proto) == 0)
            return 1;
    }
    return 0;
}

/* {ports:[...]} for allow_port, or NULL (with *oom unset) when none listed. */
static json_t *port_rule(const json_t *out, int *oom)
{
    static const char *const protos[][2] = {{"tcp", "TCP"}, {"udp", "UDP"}};
    const json_t *ports = json_object_get(out, "allow_port");
    json_t *list = json_array(), *v;
    size_t i;

    if (!list)
        goto fail;
    for (size_t p = 0; p < MCP_ARRAY_LEN(protos); p++) {
        if (!transport_allowed(out, protos[p][0]))
            continue;
        json_array_foreach(ports, i, v)
        {
            json_int_t n = json_integer_value(v);
            if (!json_is_integer(v) || n < 1 || n > 65535)
                continue;
            if (json_array_append_new(
                    list, json_pack("{s:s, s:I}", "protocol", protos[p][1], "port", n)) != 0)
                goto fail;
        }
    }
    if (json_array_size(list) == 0) {
        json_decref(list);
        return NULL;
    }
    return json_pack("{s:o}", "ports", list);
fail:
    json_decref(list);
    *oom = 1;
    return NULL;
}

static bool is_configmap(const mcp_server_t *s)
{
    return s->profile.type && strcmp(s->profile.type, "configmap") == 0 && s->profile.name &&
           s->profile.key;
}

static bool is_none(const mcp_server_t *s)
{
    return s->profile.type && strcmp(s->profile.type, "builtin") == 0 && s->profile.name &&
           strcmp(s->profile.name, "none") == 0;
}

int ctl_egress_port(const mcp_server_t *s)
{
    if (!is_configmap(s))
        return 0;
    return s->port == CTL_EGRESS_PORT ? CTL_EGRESS_PORT + 1 : CTL_EGRESS_PORT;
}

/* {to: this MCPServer's proxy pods, ports: [its egress port]}. */
static json_t *proxy_rule(const mcp_server_t *s)
{
    return json_pack("{s:[{s:{s:o}}], s:[{s:s, s:i}]}", "to", "podSelector", "matchLabels",
                     ctl_selector_labels(s->name), "ports", "protocol", "TCP", "port",
                     ctl_egress_port(s));
}

static bool has_hosts(const json_t *out)
{
    return json_array_size(json_object_get(out, "allow_host")) > 0;
}

/* The egress rules, or NULL (*oom unset) when egress is not restricted. */
static json_t *egress_rules(const mcp_server_t *s, const json_t *profile, int *oom)
{
    const json_t *out = outbound(profile);
    json_t *rules, *extra = NULL;

    if (!is_none(s) && !is_configmap(s))
        return NULL;
    if (is_configmap(s) && json_is_true(json_object_get(out, "insecure_allow_all")))
        return NULL;
    if (!(rules = json_array()) || json_array_append_new(rules, dns_rule()) != 0)
        goto fail;
    if (is_configmap(s)) {
        if (json_array_append_new(rules, proxy_rule(s)) != 0)
            goto fail;
        if (!has_hosts(out))
            extra = port_rule(out, oom);
    }
    if (*oom || (extra && json_array_append_new(rules, extra) != 0))
        goto fail;
    return rules;
fail:
    json_decref(rules);
    *oom = 1;
    return NULL;
}

/* [{from: this MCPServer's proxy pods, ports: [targetPort]}] for the HTTP
 * transports; NULL for stdio (no rule: nothing may connect). */
static json_t *ingress_rules(const mcp_server_t *s)
{
    if (!ctl_http_transport(s))
        return NULL;
    return json_pack("[{s:[{s:{s:o}}], s:[{s:s, s:I}]}]", "from", "podSelector", "matchLabels",
                     ctl_selector_labels(s->name), "ports", "protocol", "TCP", "port",
                     (json_int_t)s->target_port);
}

json_t *ctl_network_policy(const mcp_server_t *s, const json_t *profile, int *oom)
{
    json_t *in = ingress_rules(s), *eg, *o;

    *oom = 0;
    eg = egress_rules(s, profile, oom);
    if (*oom || (ctl_http_transport(s) && !in)) {
        json_decref(in);
        json_decref(eg);
        *oom = 1;
        return NULL;
    }
    /* o*: a NULL rule list leaves its key out (stdio's ingress, unrestricted
     * egress); both steal their references even on failure */
    o = ctl_with(
        ctl_typed_object("networking.k8s.io/v1", "NetworkPolicy",
                         ctl_object_meta(s, s->name, NULL)),
        "spec",
        json_pack("{s:{s:o}, s:o, s:o*, s:o*}", "podSelector", "matchLabels",
                  ctl_server_selector_labels(s->name), "policyTypes",
                  eg ? json_pack("[s, s]", "Ingress", "Egress") : json_pack("[s]", "Ingress"),
                  "ingress", in, "egress", eg));
    if (!o)
        *oom = 1;
    return o;
}

/* Append "label: v1, v2" for the strings of array `a` to w. */
static void list_into(char *w, size_t len, const char *label, const json_t *a)
{
    size_t i, used = strlen(w);
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) == 0)
        return;
    used +=
        (size_t)snprintf(w + used, used < len ? len - used : 0, "%s%s", used ? "; " : "", label);
    json_array_foreach(a, i, v)
    {
        if (used >= len)
            break;
        used += (size_t)snprintf(w + used, len - used, "%s%s", i ? ", " : " ",
                                 json_is_string(v) ? json_string_value(v) : "?");
    }
}

char *ctl_profile_warning(const json_t *profile)
{
    char w[WARN_MAX] = "";

    if (!json_is_object(profile))
        return NULL;
    list_into(w, sizeof(w), "file access is not enforced: read", json_object_get(profile, "read"));
    list_into(w, sizeof(w), "file access is not enforced: write",
              json_object_get(profile, "write"));
    return w[0] ? strdup(w) : NULL;
}

int ctl_profile_check(const json_t *profile, char *why, size_t len)
{
    mcp_eg_rules_t rules;
    int rc = mcp_eg_rules_from_json(profile, &rules, why, len);

    if (rc == 0)
        mcp_eg_rules_dispose(&rules);
    return rc == 0 ? 0 : -1;
}
