/* The egress NetworkPolicy that enforces a permission profile, which
 * ToolHive itself does not do in Kubernetes. It selects only the MCP server
 * pods (the StatefulSet's selector labels), never the proxy, which needs the
 * apiserver. Profile "none": all egress denied except DNS. A ConfigMap
 * profile (ToolHive's JSON format, network.outbound.{insecure_allow_all,
 * allow_port, allow_transport, allow_host}): DNS plus the listed ports to any
 * destination; what a NetworkPolicy cannot express (host names, file paths)
 * is reported by ctl_profile_warning(). Pure functions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

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

static json_t *egress_rules(const mcp_server_t *s, const json_t *profile, int *oom)
{
    const json_t *out = outbound(profile);
    json_t *rules = json_array(), *extra = NULL;

    if (!rules)
        goto fail;
    if (strcmp(s->profile.type, "configmap") == 0 &&
        json_is_true(json_object_get(out, "insecure_allow_all"))) {
        if (json_array_append_new(rules, json_object()) != 0)
            goto fail;
        return rules;
    }
    if (json_array_append_new(rules, dns_rule()) != 0)
        goto fail;
    if (strcmp(s->profile.type, "configmap") == 0)
        extra = port_rule(out, oom);
    if (*oom || (extra && json_array_append_new(rules, extra) != 0))
        goto fail;
    return rules;
fail:
    json_decref(rules);
    *oom = 1;
    return NULL;
}

static bool wants_policy(const mcp_server_t *s)
{
    const char *t = s->profile.type, *n = s->profile.name;

    if (!t || !n)
        return false;
    return (strcmp(t, "builtin") == 0 && strcmp(n, "none") == 0) ||
           (strcmp(t, "configmap") == 0 && s->profile.key);
}

json_t *ctl_network_policy(const mcp_server_t *s, const json_t *profile, int *oom)
{
    char name[CTL_NAME_BUF];
    json_t *o;

    *oom = 0;
    if (!wants_policy(s))
        return NULL;
    ctl_child_name(name, sizeof(name), CTL_NETPOL_FMT, s->name);
    o = ctl_with(
        ctl_typed_object("networking.k8s.io/v1", "NetworkPolicy", ctl_object_meta(s, name, NULL)),
        "spec",
        json_pack("{s:{s:o}, s:[s], s:o}", "podSelector", "matchLabels",
                  ctl_server_selector_labels(s->name), "policyTypes", "Egress", "egress",
                  egress_rules(s, profile, oom)));
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
    const json_t *out = outbound(profile);

    if (!json_is_object(profile))
        return NULL;
    if (!json_is_true(json_object_get(out, "insecure_allow_all")))
        list_into(w, sizeof(w),
                  "egress to host names is not enforced (NetworkPolicy has no host"
                  " names); only ports are: allow_host",
                  json_object_get(out, "allow_host"));
    list_into(w, sizeof(w), "file access is not enforced: read", json_object_get(profile, "read"));
    list_into(w, sizeof(w), "file access is not enforced: write",
              json_object_get(profile, "write"));
    return w[0] ? strdup(w) : NULL;
}
