/* The MCPServer schema as data: one row per field with its JSON type,
 * children, default, value rule, CRD description and parse target. Parsing,
 * defaulting, validation and the CRD generator all walk these rows; adding a
 * field means adding a row (and, if it has rules, a rule function here). */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mcp/validate.h"
#include "schema_internal.h"

#define OFF(m)      ((ssize_t)offsetof(mcp_server_t, m))
#define EOFF(t, m)  ((ssize_t)offsetof(t, m))
#define NO          -1, -1, 0
#define SCALAR(off) off, -1, 0

static const char *const transports[] = {"stdio", "sse", "streamable-http", NULL};
static const char *const profile_types[] = {"builtin", "configmap", NULL};
static const char *const builtin_profiles[] = {"network", "none", NULL};

static int is_http_transport(const char *t)
{
    return t && (strcmp(t, "sse") == 0 || strcmp(t, "streamable-http") == 0);
}

/* ---- defaults -------------------------------------------------------------- */

static json_t *def_transport(const json_t *spec)
{
    (void)spec;
    return json_string("stdio");
}

/* port and proxyPort (ToolHive's newer name) are one setting: the default
 * only when neither is given. */
static json_t *def_port(const json_t *spec)
{
    return json_object_get(spec, "proxyPort") ? NULL : json_integer(MCP_DEFAULT_PORT);
}

/* targetPort and mcpPort are one setting too. Absent, it follows the name the
 * manifest uses for the proxy's port: `port` (ToolHive v0.2.9: targetPort
 * defaults to port) or `proxyPort` (ToolHive v0.44: mcpPort defaults to
 * 8080, GetMCPPort). */
static json_t *def_target_port(const json_t *spec)
{
    const json_t *port = json_object_get(spec, "port");

    if (!is_http_transport(mcp__str(spec, "transport")) || json_object_get(spec, "mcpPort"))
        return NULL;
    if (!json_is_integer(port))
        return json_object_get(spec, "proxyPort") ? json_integer(MCP_DEFAULT_PORT) : NULL;
    return json_integer(json_integer_value(port));
}

static json_t *def_target_env(const json_t *secret)
{
    const char *key = mcp__str(secret, "key");
    return key ? json_string(key) : NULL;
}

static json_t *def_profile_type(const json_t *profile)
{
    return mcp__str(profile, "name") ? json_string("builtin") : NULL;
}

static json_t *def_false(const json_t *parent)
{
    (void)parent;
    return json_false();
}

static json_t *def_spec(const json_t *root)
{
    (void)root;
    return json_object();
}

/* ---- value rules ----------------------------------------------------------- */

static void check_with(vctx_t *ctx, const char *path, const json_t *v,
                       const char *(*fn)(const char *))
{
    const char *why = fn(json_string_value(v));
    if (why)
        mcp_err_invalid(ctx->errs, path, v, why);
}

/* Every name derived from it must be valid (DESIGN.md section 4); the
 * tightest is the Service "mcp-<name>-headless", a DNS-1035 label. */
static void check_name(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    if (json_string_length(v) > MCP_NAME_MAX)
        mcp_errlist_addf(ctx->errs, path,
                         "Too long: may not be more than %d bytes (the Service "
                         "\"mcp-<name>-headless\" must stay within 63)",
                         MCP_NAME_MAX);
    else
        check_with(ctx, path, v, mcp_check_dns1035_label);
}

static void check_image(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    if (json_string_length(v) == 0)
        mcp_err_required(ctx->errs, path, NULL);
    else
        check_with(ctx, path, v, mcp_check_image_ref);
}

/* A string that must be one of `allowed` (NULL-terminated). */
static void check_enum(vctx_t *ctx, const char *path, const json_t *v, const char *const *allowed)
{
    for (size_t i = 0; allowed[i]; i++)
        if (strcmp(json_string_value(v), allowed[i]) == 0)
            return;
    mcp_err_unsupported(ctx->errs, path, v, allowed);
}

static void check_transport(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_enum(ctx, path, v, transports);
}

static void check_port(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    json_int_t p = json_integer_value(v);

    (void)parent;
    if (p < 1 || p > 65535)
        mcp_err_invalid(ctx->errs, path, v, "must be between 1 and 65535");
}

static void check_target_port(vctx_t *ctx, const char *path, const json_t *v, const json_t *spec)
{
    const char *t = mcp__str(spec, "transport");

    check_port(ctx, path, v, spec);
    if (!t || strcmp(t, "stdio") == 0)
        mcp__warn(ctx, path, "%s is ignored with transport stdio", path);
}

/* proxyPort / mcpPort: a port, and equal to port / targetPort when both are
 * given (the same setting under ToolHive's two names). */
static void check_same_as(vctx_t *ctx, const char *path, const json_t *v, const json_t *spec,
                          const char *other)
{
    const json_t *o = json_object_get(spec, other);
    char why[160];

    if (json_is_integer(o) && json_integer_value(o) != json_integer_value(v)) {
        snprintf(why, sizeof(why),
                 "must equal spec.%s (%lld) when both are given: they name the same port", other,
                 (long long)json_integer_value(o));
        mcp_err_invalid(ctx->errs, path, v, why);
    }
}

static void check_proxy_port(vctx_t *ctx, const char *path, const json_t *v, const json_t *spec)
{
    check_port(ctx, path, v, spec);
    check_same_as(ctx, path, v, spec, "port");
}

static void check_mcp_port(vctx_t *ctx, const char *path, const json_t *v, const json_t *spec)
{
    check_target_port(ctx, path, v, spec);
    check_same_as(ctx, path, v, spec, "targetPort");
}

static const char *const proxy_modes[] = {"sse", "streamable-http", NULL};

static void check_proxy_mode(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_enum(ctx, path, v, proxy_modes);
}

/* Whether a value of an unimplemented field asks for something: false,
 * replicas 1 and {enabled: false} are what this operator does anyway. */
static bool asks_for_something(const mcp_unimplemented_t *u, const json_t *v)
{
    if (!v || json_is_null(v) || (json_is_integer(v) && json_integer_value(v) == 1))
        return false;
    return u->guards || !(json_is_false(v) || json_is_false(json_object_get(v, "enabled")));
}

/* A field of ToolHive's newer MCPServer this operator accepts but does not
 * implement yet: a warning (the controller also names it in the status). */
static void check_not_implemented(vctx_t *ctx, const char *path, const json_t *v,
                                  const json_t *parent)
{
    const mcp_unimplemented_t *u = mcp_unimplemented_find(strrchr(path, '.') + 1);

    (void)parent;
    if (u && asks_for_something(u, v))
        mcp__warn(ctx, path, "%s is not implemented by this operator yet: %s", path,
                  u->guards ? "the MCP server is not run while it is set" : "accepted and ignored");
}

static void check_env_name(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    if (json_string_length(v) == 0)
        mcp_err_required(ctx->errs, path, NULL);
    else
        check_with(ctx, path, v, mcp_check_env_name);
}

static void check_subdomain(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_with(ctx, path, v, mcp_check_dns1123_subdomain);
}

static void check_label(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_with(ctx, path, v, mcp_check_dns1123_label);
}

static void check_secret_key(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_with(ctx, path, v, mcp_check_secret_key);
}

static void check_host_path(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_with(ctx, path, v, mcp_check_abs_path);
    mcp__warn(ctx, path, "%s: hostPath volumes give the MCP server access to the node's files",
              path);
}

static void check_mount_path(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    if (strcmp(json_string_value(v), "/") == 0)
        mcp_err_invalid(ctx->errs, path, v, "must not be '/'");
    else
        check_with(ctx, path, v, mcp_check_abs_path);
}

/* Reports each element of `arr` whose member `key` (a string) repeats an
 * earlier element's, in O(n) with a hash set. */
static void check_unique(vctx_t *ctx, const char *path, const json_t *arr, const char *key)
{
    char sub[PATH_MAX_LEN], elem[PATH_MAX_LEN];
    mcp__strset_t seen;

    if (mcp__strset_init(&seen, json_array_size(arr)) != 0) {
        ctx->errs->oom = 1;
        return;
    }
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_object_get(json_array_get(arr, i), key);

        if (!json_is_string(v) ||
            mcp__strset_add(&seen, json_string_value(v), json_string_length(v)) != 0)
            continue;
        mcp__path_index(elem, path, i);
        mcp__path_key(sub, elem, key);
        mcp_err_duplicate(ctx->errs, sub, v);
    }
    mcp__strset_dispose(&seen);
}

static void check_env_list(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_unique(ctx, path, v, "name");
}

static void check_volume_list(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_unique(ctx, path, v, "name");
    check_unique(ctx, path, v, "mountPath");
}

/* spec.tools: each a non-empty tool name without ',' (the proxy gets them
 * joined by commas, as ToolHive's --tools), no name twice (a hash set). */
static void check_tools(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    char elem[PATH_MAX_LEN];
    mcp__strset_t seen;
    json_t *t;
    size_t i;

    (void)parent;
    if (mcp__strset_init(&seen, json_array_size(v)) != 0) {
        ctx->errs->oom = 1;
        return;
    }
    json_array_foreach(v, i, t)
    {
        const char *name = json_string_value(t);
        if (!name)
            continue; /* the type check reports it */
        mcp__path_index(elem, path, i);
        if (!*name)
            mcp_err_required(ctx->errs, elem, NULL);
        else if (strchr(name, ','))
            mcp_err_invalid(ctx->errs, elem, t, "must not contain ','");
        else if (mcp__strset_add(&seen, name, json_string_length(t)) == 0)
            mcp_err_duplicate(ctx->errs, elem, t);
    }
    mcp__strset_dispose(&seen);
}

static void check_quantity(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    char num[32];
    const char *s = json_string_value(v), *why;
    mcp_quantity_t q;

    (void)parent;
    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
    }
    why = mcp_quantity_parse(s, &q);
    if (!why && q.nanos < 0)
        why = "must be greater than or equal to 0";
    if (why)
        mcp_err_invalid(ctx->errs, path, v, why);
}

extern void mcp__check_resources(vctx_t *ctx, const char *path, const json_t *v,
                                 const json_t *parent);
extern void mcp__check_profile(vctx_t *ctx, const char *path, const json_t *v,
                               const json_t *parent);
extern void mcp__check_labels(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent);
extern void mcp__check_annotations(vctx_t *ctx, const char *path, const json_t *v,
                                   const json_t *parent);
extern void mcp__check_spec(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent);

/* ---- the table --------------------------------------------------------------- */

static const field_t env_fields[] = {
    {"name", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_env_name,
     "Name of the environment variable.", SCALAR(EOFF(mcp_env_t, name))},
    {"value", FT_STRING, 0, NULL, F_TYPE_ONLY, NULL, NULL, "Value of the environment variable.",
     SCALAR(EOFF(mcp_env_t, value))},
    FIELD_END,
};

static const field_t secret_fields[] = {
    {"name", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_subdomain,
     "Name of the Kubernetes Secret, in the MCPServer's namespace.",
     SCALAR(EOFF(mcp_secret_t, name))},
    {"key", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_secret_key, "Key within the Secret.",
     SCALAR(EOFF(mcp_secret_t, key))},
    {"targetEnvName", FT_STRING, 0, NULL, 0, def_target_env, check_env_name,
     "Environment variable that receives the secret in the MCP server container. "
     "Defaults to the key.",
     SCALAR(EOFF(mcp_secret_t, target_env_name))},
    FIELD_END,
};

static const field_t volume_fields[] = {
    {"name", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_label,
     "Name of the volume (a DNS-1123 label, unique).", SCALAR(EOFF(mcp_volume_t, name))},
    {"hostPath", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_host_path,
     "Absolute path on the node to mount.", SCALAR(EOFF(mcp_volume_t, host_path))},
    {"mountPath", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_mount_path,
     "Absolute path in the MCP server container where the volume is mounted.",
     SCALAR(EOFF(mcp_volume_t, mount_path))},
    {"readOnly", FT_BOOL, 0, NULL, 0, def_false, NULL,
     "Mount the volume read-only. Defaults to false.", SCALAR(EOFF(mcp_volume_t, read_only))},
    FIELD_END,
};

#define RESLIST_FIELDS(m)                                                                          \
    {                                                                                              \
        {"cpu",                                                                                    \
         FT_QUANTITY,                                                                              \
         0,                                                                                        \
         NULL,                                                                                     \
         0,                                                                                        \
         NULL,                                                                                     \
         check_quantity,                                                                           \
         "CPU quantity, e.g. 100m or 0.5.",                                                        \
         SCALAR(OFF(m.cpu))},                                                                      \
            {"memory",                                                                             \
             FT_QUANTITY,                                                                          \
             0,                                                                                    \
             NULL,                                                                                 \
             0,                                                                                    \
             NULL,                                                                                 \
             check_quantity,                                                                       \
             "Memory quantity, e.g. 128Mi or 1G.",                                                 \
             SCALAR(OFF(m.memory))},                                                               \
            FIELD_END,                                                                             \
    }

static const field_t limits_fields[] = RESLIST_FIELDS(limits);
static const field_t requests_fields[] = RESLIST_FIELDS(requests);

static const field_t resources_fields[] = {
    {"limits", FT_OBJECT, 0, limits_fields, 0, NULL, NULL,
     "Most CPU and memory the MCP server container may use.", NO},
    {"requests", FT_OBJECT, 0, requests_fields, 0, NULL, NULL,
     "CPU and memory reserved for the MCP server container; each at most its limit.", NO},
    FIELD_END,
};

static const field_t profile_fields[] = {
    {"type", FT_STRING, 0, NULL, 0, def_profile_type, NULL,
     "Where the profile comes from: builtin or configmap. Defaults to builtin when a name is "
     "given.",
     SCALAR(OFF(profile.type))},
    {"name", FT_STRING, 0, NULL, 0, NULL, NULL,
     "Built-in profile name (network or none), or the ConfigMap's name.",
     SCALAR(OFF(profile.name))},
    {"key", FT_STRING, 0, NULL, 0, NULL, NULL,
     "Key of the JSON profile in the ConfigMap (type configmap only).", SCALAR(OFF(profile.key))},
    FIELD_END,
};

#define OVERRIDE_META(m)                                                                           \
    {"labels",                                                                                     \
     FT_MAP,                                                                                       \
     FT_STRING,                                                                                    \
     NULL,                                                                                         \
     0,                                                                                            \
     NULL,                                                                                         \
     mcp__check_labels,                                                                            \
     "Labels added to the object.",                                                                \
     SCALAR(OFF(m.labels))},                                                                       \
    {                                                                                              \
        "annotations", FT_MAP, FT_STRING, NULL, 0, NULL, mcp__check_annotations,                   \
            "Annotations added to the object.", SCALAR(OFF(m.annotations))                         \
    }

static const field_t override_deploy_fields[] = {
    OVERRIDE_META(proxy_deployment),
    {"env", FT_ARRAY, FT_OBJECT, env_fields, 0, NULL, check_env_list,
     "Extra environment variables for the proxy container.", OFF(proxy_deployment.env),
     OFF(proxy_deployment.n_env), sizeof(mcp_env_t)},
    FIELD_END,
};

static const field_t override_svc_fields[] = {
    OVERRIDE_META(proxy_service),
    FIELD_END,
};

static const field_t override_fields[] = {
    {"proxyDeployment", FT_OBJECT, 0, override_deploy_fields, 0, NULL, NULL,
     "Overrides for the proxy Deployment.", NO},
    {"proxyService", FT_OBJECT, 0, override_svc_fields, 0, NULL, NULL,
     "Overrides for the proxy Service.", NO},
    FIELD_END,
};

/* The parts of podTemplateSpec (kept whole, any content) a rule reads. */
static const field_t pod_spec_fields[] = {
    {"hostNetwork", FT_BOOL, 0, NULL, 0, NULL, NULL, "", NO},
    FIELD_END,
};

static const field_t pod_template_fields[] = {
    {"spec", FT_OBJECT, 0, pod_spec_fields, 0, NULL, NULL, "", NO},
    FIELD_END,
};

static const field_t spec_fields[] = {
    {"image", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_image,
     "Container image of the MCP server.", SCALAR(OFF(image))},
    {"transport", FT_STRING, 0, NULL, 0, def_transport, check_transport,
     "Transport of the MCP server: stdio, sse or streamable-http. Defaults to stdio.",
     SCALAR(OFF(transport))},
    {"port", FT_INT, 0, NULL, F_V1ALPHA1_ONLY, def_port, check_port,
     "Port the proxy listens on and the Service exposes (1-65535). Defaults to 8080.",
     SCALAR(OFF(port))},
    {"targetPort", FT_INT, 0, NULL, F_V1ALPHA1_ONLY, def_target_port, check_target_port,
     "Port the MCP server listens on, for sse and streamable-http. Defaults to port.",
     SCALAR(OFF(target_port))},
    {"proxyPort", FT_INT, 0, NULL, 0, NULL, check_proxy_port,
     "Port the proxy listens on and the Service exposes (1-65535). Defaults to 8080. v1alpha1 "
     "also calls it port (the same setting: both given, they must be equal).",
     SCALAR(OFF(port))},
    {"mcpPort", FT_INT, 0, NULL, 0, NULL, check_mcp_port,
     "Port the MCP server listens on, for sse and streamable-http. Defaults to 8080 (in "
     "v1alpha1, to port when the manifest says port). v1alpha1 also calls it targetPort (the "
     "same setting: both given, they must be equal).",
     SCALAR(OFF(target_port))},
    {"proxyMode", FT_STRING, 0, NULL, 0, NULL, check_proxy_mode,
     "Transport ToolHive's proxy offers for a stdio server: sse or streamable-http. This "
     "operator's proxy always offers both (/mcp and /sse), so either value works.",
     NO},
    {"args", FT_ARRAY, FT_STRING, NULL, F_TYPE_ONLY, NULL, NULL,
     "Additional arguments passed to the MCP server.", OFF(args), OFF(n_args), sizeof(char *)},
    {"env", FT_ARRAY, FT_OBJECT, env_fields, 0, NULL, check_env_list,
     "Environment variables set in the MCP server container.", OFF(env), OFF(n_env),
     sizeof(mcp_env_t)},
    {"secrets", FT_ARRAY, FT_OBJECT, secret_fields, 0, NULL, NULL,
     "Secrets passed to the MCP server as environment variables (by reference).", OFF(secrets),
     OFF(n_secrets), sizeof(mcp_secret_t)},
    {"volumes", FT_ARRAY, FT_OBJECT, volume_fields, 0, NULL, check_volume_list,
     "Host paths mounted into the MCP server container.", OFF(volumes), OFF(n_volumes),
     sizeof(mcp_volume_t)},
    {"resources", FT_OBJECT, 0, resources_fields, 0, NULL, mcp__check_resources,
     "Resource limits and requests of the MCP server container.", NO},
    {"permissionProfile", FT_OBJECT, 0, profile_fields, 0, NULL, mcp__check_profile,
     "Permission profile of the MCP server: builtin (network or none) or a ConfigMap.", NO},
    {"oidcConfig", FT_OBJECT, 0, mcp__oidc_fields, F_V1ALPHA1_ONLY, NULL, mcp__check_oidc,
     "OIDCConfig turns on bearer-token authentication in the proxy (ToolHive v0.2.9): "
     "ServiceAccount tokens of the cluster (type kubernetes), or an OIDC issuer's tokens "
     "(configMap, inline).",
     NO},
    {"authzConfig", FT_OBJECT, 0, mcp__authz_fields, 0, NULL, mcp__check_authz,
     "AuthzConfig authorizes each tool call, prompt and resource read with Cedar policies "
     "(ToolHive v0.2.9's model); list results are filtered to what the caller may use.",
     NO},
    {"tools", FT_ARRAY, FT_STRING, NULL, F_V1ALPHA1_ONLY, NULL, check_tools,
     "Names of the only tools the proxy exposes (tools/list is filtered, other tools/call "
     "requests are refused). Empty: every tool.",
     OFF(tools), OFF(n_tools), sizeof(char *)},
    {"serviceAccount", FT_STRING, 0, NULL, 0, NULL, check_subdomain,
     "Existing ServiceAccount for the MCP server pod; when empty one is created.",
     SCALAR(OFF(service_account))},
    {"podTemplateSpec", FT_ANY, 0, pod_template_fields, 0, NULL, NULL,
     "Pod template merged into the MCP server pod; its container named mcp is merged into the "
     "MCP server container. Nested at most 32 levels deep.",
     SCALAR(OFF(pod_template_spec))},
    {"resourceOverrides", FT_OBJECT, 0, override_fields, 0, NULL, NULL,
     "Labels, annotations and environment added to the objects the operator creates.", NO},
#define NOT_IMPLEMENTED(name, type, desc)                                                          \
    {                                                                                              \
        name, type, 0, NULL, 0, NULL, check_not_implemented, desc, NO                              \
    }
    NOT_IMPLEMENTED("toolConfigRef", FT_ANY,
                    "ToolHive's reference to an MCPToolConfig. Not implemented yet: while set, "
                    "the MCP server is not run (use tools)."),
    NOT_IMPLEMENTED("oidcConfigRef", FT_ANY,
                    "ToolHive's reference to an MCPOIDCConfig. Not implemented yet: while set, "
                    "the MCP server is not run (use oidcConfig)."),
    NOT_IMPLEMENTED("authzConfigRef", FT_ANY,
                    "ToolHive's reference to an MCPAuthzConfig. Not implemented yet: while set, "
                    "the MCP server is not run (use authzConfig)."),
    NOT_IMPLEMENTED("externalAuthConfigRef", FT_ANY,
                    "ToolHive's token exchange configuration. Not implemented yet: while set, "
                    "the MCP server is not run."),
    NOT_IMPLEMENTED("authServerRef", FT_ANY,
                    "ToolHive's embedded authorization server. Not implemented yet: while set, "
                    "the MCP server is not run."),
    NOT_IMPLEMENTED("webhookConfigRef", FT_ANY,
                    "ToolHive's request webhooks. Not implemented yet: while set, the MCP server "
                    "is not run."),
    NOT_IMPLEMENTED("rateLimiting", FT_ANY,
                    "ToolHive's rate limits. Not implemented yet: while set, the MCP server is "
                    "not run."),
    NOT_IMPLEMENTED("telemetryConfigRef", FT_ANY,
                    "ToolHive's reference to an MCPTelemetryConfig. Not implemented yet: accepted "
                    "and ignored (the proxy's Prometheus metrics are always on, at /metrics)."),
    NOT_IMPLEMENTED("groupRef", FT_ANY,
                    "ToolHive's MCPGroup membership. Not implemented yet: accepted and ignored."),
    NOT_IMPLEMENTED("sessionStorage", FT_ANY,
                    "ToolHive's shared session storage. Not implemented yet: accepted and "
                    "ignored (sessions live in the proxy)."),
    NOT_IMPLEMENTED("audit", FT_ANY,
                    "ToolHive's audit log. Not implemented yet: accepted and ignored (with "
                    "authzConfig the proxy writes an audit line per call)."),
    NOT_IMPLEMENTED("trustProxyHeaders", FT_BOOL,
                    "ToolHive's X-Forwarded-* trust. Not implemented yet: accepted and ignored."),
    NOT_IMPLEMENTED("endpointPrefix", FT_STRING,
                    "ToolHive's path prefix. Not implemented yet: accepted and ignored."),
    NOT_IMPLEMENTED("replicas", FT_INT,
                    "ToolHive's proxy replica count. Not implemented yet: more than 1 is "
                    "accepted and ignored (one proxy)."),
    NOT_IMPLEMENTED("sessionAffinity", FT_STRING,
                    "ToolHive's Service session affinity. Not implemented yet: accepted and "
                    "ignored."),
#undef NOT_IMPLEMENTED
    FIELD_END,
};

/* The rows above checked by check_not_implemented, and which of them guard
 * the server (authentication, authorization, filtering, limits): with one of
 * those set, running the server without it would expose more than asked. */
static const mcp_unimplemented_t unimplemented[] = {
    {"toolConfigRef", true},    {"oidcConfigRef", true},
    {"authzConfigRef", true},   {"externalAuthConfigRef", true},
    {"authServerRef", true},    {"webhookConfigRef", true},
    {"rateLimiting", true},     {"telemetryConfigRef", false},
    {"groupRef", false},        {"sessionStorage", false},
    {"audit", false},           {"trustProxyHeaders", false},
    {"endpointPrefix", false},  {"replicas", false},
    {"sessionAffinity", false}, {NULL, false},
};

const mcp_unimplemented_t *mcp_unimplemented_find(const char *name)
{
    for (const mcp_unimplemented_t *u = unimplemented; name && u->name; u++)
        if (strcmp(u->name, name) == 0)
            return u;
    return NULL;
}

size_t mcp_unimplemented_in(const json_t *spec, char *list, size_t n, bool *guards)
{
    size_t count = 0, used = 0;

    *guards = false;
    if (n)
        list[0] = '\0';
    for (const mcp_unimplemented_t *u = unimplemented; u->name; u++) {
        if (!asks_for_something(u, json_object_get(spec, u->name)))
            continue;
        *guards = *guards || u->guards;
        if (used < n)
            used +=
                (size_t)snprintf(list + used, n - used, "%sspec.%s", count ? ", " : "", u->name);
        count++;
    }
    return count;
}

static const field_t condition_fields[] = {
    {"type", FT_STRING, 0, NULL, F_REQUIRED, NULL, NULL, "Ready or Valid.", NO},
    {"status", FT_STRING, 0, NULL, F_REQUIRED, NULL, NULL, "True, False or Unknown.", NO},
    {"observedGeneration", FT_INT64, 0, NULL, 0, NULL, NULL,
     "Generation the condition was computed for.", NO},
    {"lastTransitionTime", FT_STRING, 0, NULL, 0, NULL, NULL,
     "When the status last changed (RFC 3339).", NO},
    {"reason", FT_STRING, 0, NULL, 0, NULL, NULL, "One-word reason in CamelCase.", NO},
    {"message", FT_STRING, 0, NULL, 0, NULL, NULL, "Human-readable details.", NO},
    FIELD_END,
};

static const field_t status_fields[] = {
    {"phase", FT_STRING, 0, NULL, 0, NULL, NULL,
     "Pending, Running (v1alpha1) or Ready (v1beta1), Failed or Terminating.", NO},
    {"url", FT_STRING, 0, NULL, 0, NULL, NULL, "In-cluster URL of the MCP server's proxy.", NO},
    {"message", FT_STRING, 0, NULL, 0, NULL, NULL, "Details about the phase.", NO},
    {"observedGeneration", FT_INT64, 0, NULL, 0, NULL, NULL,
     "Generation of the spec the status describes.", NO},
    {"conditions", FT_ARRAY, FT_OBJECT, condition_fields, 0, NULL, NULL,
     "Ready and Valid conditions (kstatus conventions).", NO},
    FIELD_END,
};

static const field_t metadata_fields[] = {
    {"name", FT_STRING, 0, NULL, 0, NULL, check_name, "", SCALAR(OFF(name))},
    {"namespace", FT_STRING, 0, NULL, 0, NULL, NULL, "", SCALAR(OFF(namespace))},
    {"uid", FT_STRING, 0, NULL, 0, NULL, NULL, "", SCALAR(OFF(uid))},
    {"generation", FT_INT64, 0, NULL, 0, NULL, NULL, "", SCALAR(OFF(generation))},
    {"deletionTimestamp", FT_STRING, 0, NULL, 0, NULL, NULL, "", NO},
    FIELD_END,
};

const char mcp__root_description[] =
    "MCPServer runs a Model Context Protocol server in the cluster, behind a proxy. Its name "
    "must be a DNS-1035 label of at most 50 characters, so that every object derived from it "
    "can exist.";

const field_t mcp__root_fields[] = {
    {"apiVersion", FT_STRING, 0, NULL, 0, NULL, NULL,
     "APIVersion defines the versioned schema of this representation of an object.", NO},
    {"kind", FT_STRING, 0, NULL, 0, NULL, NULL,
     "Kind is a string value representing the REST resource this object represents.", NO},
    {"metadata", FT_OBJECT, 0, metadata_fields, F_NO_CRD_PROPS, NULL, NULL, "", NO},
    {"spec", FT_OBJECT, 0, spec_fields, F_REQUIRED, def_spec, mcp__check_spec,
     "MCPServerSpec is the desired state of an MCP server.", NO},
    {"status", FT_OBJECT, 0, status_fields, F_NO_VALIDATE, NULL, NULL,
     "MCPServerStatus is the observed state of an MCP server.", NO},
    FIELD_END,
};

/* Exposed for the rules in schema_rules.c. */
const char *const *mcp__profile_types = profile_types;
const char *const *mcp__builtin_profiles = builtin_profiles;
