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

static json_t *def_port(const json_t *spec)
{
    (void)spec;
    return json_integer(MCP_DEFAULT_PORT);
}

static json_t *def_target_port(const json_t *spec)
{
    const json_t *port = json_object_get(spec, "port");

    if (!is_http_transport(mcp__str(spec, "transport")) || !json_is_integer(port))
        return NULL;
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

static void check_transport(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    for (size_t i = 0; transports[i]; i++)
        if (strcmp(json_string_value(v), transports[i]) == 0)
            return;
    mcp_err_unsupported(ctx->errs, path, v, transports);
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
    {"port", FT_INT, 0, NULL, 0, def_port, check_port,
     "Port the proxy listens on and the Service exposes (1-65535). Defaults to 8080.",
     SCALAR(OFF(port))},
    {"targetPort", FT_INT, 0, NULL, 0, def_target_port, check_target_port,
     "Port the MCP server listens on, for sse and streamable-http. Defaults to port.",
     SCALAR(OFF(target_port))},
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
    {"oidcConfig", FT_OBJECT, 0, mcp__oidc_fields, 0, NULL, mcp__check_oidc,
     "OIDCConfig turns on bearer-token authentication in the proxy (ToolHive v0.2.9): "
     "ServiceAccount tokens of the cluster (type kubernetes), or an OIDC issuer's tokens "
     "(configMap, inline).",
     NO},
    {"authzConfig", FT_OBJECT, 0, mcp__authz_fields, 0, NULL, mcp__check_authz,
     "AuthzConfig authorizes each tool call, prompt and resource read with Cedar policies "
     "(ToolHive v0.2.9's model); list results are filtered to what the caller may use.",
     NO},
    {"tools", FT_ARRAY, FT_STRING, NULL, 0, NULL, check_tools,
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
    FIELD_END,
};

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
    {"phase", FT_STRING, 0, NULL, 0, NULL, NULL, "Pending, Running, Failed or Terminating.", NO},
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
