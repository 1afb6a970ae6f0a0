/* spec.oidcConfig and spec.authzConfig, ToolHive v0.2.9's fields verbatim
 * (DESIGN.md sections 2 and 9): their rows of the schema table, their
 * defaults, and their rules. Cedar policies are checked for syntax by the
 * official engine through mcp/cedar.h, so everything that validates links
 * libcedar_mcp.a. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/cedar.h"
#include "mcp/json.h"
#include "mcp/validate.h"
#include "schema_internal.h"

#define OFF(m)      ((ssize_t)offsetof(mcp_server_t, m))
#define NO          -1, -1, 0
#define SCALAR(off) off, -1, 0
/* Policies handed to one mcp_cedar_new call: a bad one costs a call that
 * copies at most this many again, so 1,024 bad policies stay linear. */
#define CEDAR_CHUNK 64
/* Bytes of inline policies in all, and of entitiesJson: Cedar parses about
 * 10 MB/s here and 1,024 short policies take about 40 ms, so these keep a
 * review within tens of milliseconds, linear in its size (DESIGN
 * §3); a larger set belongs in a ConfigMap (authzConfig.type configMap),
 * which the controller checks instead. */
#define CEDAR_INLINE_MAX   ((size_t)128 << 10)
#define CEDAR_ENTITIES_MAX ((size_t)64 << 10)

static const char *const oidc_types[] = {"kubernetes", "configMap", "inline", NULL};
static const char *const authz_types[] = {"configMap", "inline", NULL};

/* ---- defaults and canonical spellings ------------------------------------------ */

static json_t *def_kubernetes_type(const json_t *oidc)
{
    (void)oidc;
    return json_string("kubernetes");
}

static json_t *def_configmap_type(const json_t *authz)
{
    (void)authz;
    return json_string("configMap");
}

/* type kubernetes without its block: the block, so its defaults show. */
static json_t *def_kubernetes_block(const json_t *oidc)
{
    const char *t = mcp__str(oidc, "type");
    return t && strcmp(t, "kubernetes") == 0 ? json_object() : NULL;
}

static json_t *def_audience(const json_t *k8s)
{
    (void)k8s;
    return json_string("toolhive");
}

static json_t *def_true(const json_t *parent)
{
    (void)parent;
    return json_true();
}

static json_t *def_false(const json_t *parent)
{
    (void)parent;
    return json_false();
}

static json_t *def_oidc_key(const json_t *cm)
{
    (void)cm;
    return json_string("oidc.json");
}

static json_t *def_authz_key(const json_t *cm)
{
    (void)cm;
    return json_string("authz.json");
}

static json_t *def_entities(const json_t *inl)
{
    (void)inl;
    return json_string("[]");
}

/* ToolHive's own mcpserver_with_configmap_oidc.yaml writes "configmap"
 * although its enum says "configMap": the mutating webhook rewrites it. */
static json_t *norm_configmap(const json_t *v)
{
    const char *t = json_string_value(v);
    return t && strcmp(t, "configmap") == 0 ? json_string("configMap") : NULL;
}

/* ---- value rules ----------------------------------------------------------------- */

static void check_with(vctx_t *ctx, const char *path, const json_t *v,
                       const char *(*fn)(const char *))
{
    const char *why = fn(json_string_value(v));
    if (why)
        mcp_err_invalid(ctx->errs, path, v, why);
}

static void check_secure_url(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_with(ctx, path, v, mcp_check_secure_url);
}

static void check_url(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_with(ctx, path, v, mcp_check_url);
}

static void check_issuer(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    if (json_string_length(v) == 0)
        mcp_err_required(ctx->errs, path, NULL);
    else
        check_secure_url(ctx, path, v, parent);
}

static void check_abs_path(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_with(ctx, path, v, mcp_check_abs_path);
}

static void check_namespace(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_with(ctx, path, v, mcp_check_dns1123_label);
}

static void check_cm_name(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    if (json_string_length(v) == 0)
        mcp_err_required(ctx->errs, path, NULL);
    else
        check_with(ctx, path, v, mcp_check_dns1123_subdomain);
}

static void check_cm_key(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_with(ctx, path, v, mcp_check_secret_key);
}

static void warn_service_account(vctx_t *ctx, const char *path, const json_t *v,
                                 const json_t *parent)
{
    (void)v, (void)parent;
    mcp__warn(ctx, path, "%s is deprecated and ignored", path);
}

static void warn_client_secret(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)v, (void)parent;
    mcp__warn(ctx, path,
              "%s is readable by all who can read this object; prefer JWTs checked by JWKS", path);
}

/* 1 when the string v holds a JSON array; else 0 and, with why, the reason. */
static int json_array_text(const json_t *v, char *why, size_t len)
{
    static const mcp_json_limits_t lim = {64, 1u << 20};
    char buf[256] = "";
    json_t *e =
        mcp_json_load_bounded(json_string_value(v), json_string_length(v), &lim, buf, sizeof(buf));
    int ok = json_is_array(e);

    if (why)
        snprintf(why, len, "must be a JSON array%s%s", e ? "" : ": ", e ? "" : buf);
    json_decref(e);
    return ok;
}

static void check_entities(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    char why[320];

    (void)parent;
    if (!json_array_text(v, why, sizeof(why)))
        mcp_err_invalid(ctx->errs, path, v, why);
}

/* Cedar's message on one line. */
static void cedar_invalid(vctx_t *ctx, const char *path, const json_t *v, mcp_cedar_error_t *err)
{
    for (char *p = err->text; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    mcp_err_invalid(ctx->errs, path, v, err->text[0] ? err->text : "does not parse as Cedar");
}

/* Every policy parsed by Cedar, in chunks: a failure names the first bad
 * policy of its chunk, and parsing goes on after it. Returns the number of
 * policies that do not parse (-1 when Cedar could not be asked). */
static int check_cedar_policies(vctx_t *ctx, const char *path, const json_t *arr,
                                const mcp_cedar_str_t *ps, size_t n)
{
    char elem[PATH_MAX_LEN];
    size_t start = 0;
    int bad = 0;

    while (start < n) {
        size_t len = n - start < CEDAR_CHUNK ? n - start : CEDAR_CHUNK;
        mcp_cedar_error_t err = {.index = -1};
        mcp_cedar_t *set = NULL;
        int rc = mcp_cedar_new(ps + start, len, (mcp_cedar_str_t){NULL, 0}, &set, &err);

        mcp_cedar_free(set);
        if (rc == MCP_CEDAR_OK) {
            start += len;
            continue;
        }
        if (rc != MCP_CEDAR_EPOLICY || err.index < 0 || (size_t)err.index >= len) {
            mcp_err_invalid(ctx->errs, path, arr, err.text[0] ? err.text : "Cedar failed");
            return -1;
        }
        mcp__path_index(elem, path, start + (size_t)err.index);
        cedar_invalid(ctx, elem, json_array_get(arr, start + (size_t)err.index), &err);
        start += (size_t)err.index + 1;
        bad++;
    }
    return bad;
}

/* inline: policies non-empty, each one Cedar policy; the entities in
 * Cedar's entity format (checked once the policies parse). */
static void check_authz_inline(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    const json_t *arr = json_object_get(v, "policies"), *ent = json_object_get(v, "entitiesJson");
    char sub[PATH_MAX_LEN];
    mcp_cedar_str_t *ps;
    size_t n = json_array_size(arr), total = 0;

    (void)parent;
    mcp__path_key(sub, path, "policies");
    if (json_is_array(arr) && n == 0)
        mcp_err_required(ctx->errs, sub, "at least one Cedar policy");
    if (!json_is_array(arr) || n == 0)
        return;
    for (size_t i = 0; i < n; i++)
        total += json_string_length(json_array_get(arr, i));
    if (total > CEDAR_INLINE_MAX) {
        mcp_errlist_addf(ctx->errs, sub,
                         "Too long: may not be more than %zu bytes in all (a larger policy set "
                         "belongs in a ConfigMap: authzConfig.type configMap)",
                         CEDAR_INLINE_MAX);
        return;
    }
    if (json_is_string(ent) && json_string_length(ent) > CEDAR_ENTITIES_MAX) {
        char esub[PATH_MAX_LEN];

        mcp__path_key(esub, path, "entitiesJson");
        mcp_err_toolong(ctx->errs, esub, CEDAR_ENTITIES_MAX);
        return;
    }
    if (!(ps = calloc(n, sizeof(*ps)))) {
        ctx->errs->oom = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *p = json_array_get(arr, i);
        if (!json_is_string(p))
            goto out; /* the type check reports it */
        ps[i] = (mcp_cedar_str_t){json_string_value(p), json_string_length(p)};
    }
    if (check_cedar_policies(ctx, sub, arr, ps, n) == 0 && json_is_string(ent) &&
        json_string_length(ent) > 0) {
        mcp_cedar_error_t err = {.index = -1};
        mcp_cedar_t *set = NULL;
        int rc = mcp_cedar_new(
            ps, 1, (mcp_cedar_str_t){json_string_value(ent), json_string_length(ent)}, &set, &err);
        mcp_cedar_free(set);
        mcp__path_key(sub, path, "entitiesJson");
        if (rc == MCP_CEDAR_EENTITIES && json_array_text(ent, NULL, 0))
            cedar_invalid(ctx, sub, ent, &err);
    }
out:
    free(ps);
}

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

/* type one of `types` ("configmap" read as "configMap"); only the block
 * of that type, which must be there unless it has defaults. */
static void check_typed(vctx_t *ctx, const char *path, const json_t *v, const char *const *types,
                        const char *deflt)
{
    const json_t *type = json_object_get(v, "type");
    const char *t = json_string_value(type);
    char sub[PATH_MAX_LEN];

    if (!type)
        t = deflt;
    if (!t)
        return; /* wrong type: reported by the walk */
    if (strcmp(t, "configmap") == 0)
        t = "configMap";
    if (!in_list(t, types)) {
        mcp__path_key(sub, path, "type");
        mcp_err_unsupported(ctx->errs, sub, type, types);
        return;
    }
    for (size_t i = 0; types[i]; i++) {
        const json_t *block = json_object_get(v, types[i]);
        char why[80];

        mcp__path_key(sub, path, types[i]);
        if (strcmp(types[i], t) == 0) {
            if ((!block || json_is_null(block)) && strcmp(t, "kubernetes") != 0)
                mcp_err_required(ctx->errs, sub, NULL);
        } else if (block && !json_is_null(block)) {
            snprintf(why, sizeof(why), "may only be set when type is \"%s\"", types[i]);
            mcp_err_forbidden(ctx->errs, sub, why);
        }
    }
}

void mcp__check_oidc(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_typed(ctx, path, v, oidc_types, "kubernetes");
}

void mcp__check_authz(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    (void)parent;
    check_typed(ctx, path, v, authz_types, "configMap");
}

/* ---- the rows -------------------------------------------------------------------- */

#define STR(name, check, desc, m)                                                                  \
    {                                                                                              \
        name, FT_STRING, 0, NULL, 0, NULL, check, desc, SCALAR(OFF(m))                             \
    }

static const field_t k8s_fields[] = {
    STR("serviceAccount", warn_service_account,
        "Deprecated and ignored (ToolHive v0.2.9 kept it for compatibility).",
        oidc.kubernetes.service_account),
    STR("namespace", check_namespace,
        "Namespace whose ServiceAccounts' tokens are accepted. Empty: any namespace.",
        oidc.kubernetes.namespace),
    {"audience", FT_STRING, 0, NULL, 0, def_audience, NULL,
     "Audience the token must carry (aud). Defaults to toolhive.",
     SCALAR(OFF(oidc.kubernetes.audience))},
    STR("issuer", check_secure_url,
        "Issuer the token must carry (iss). Empty: the issuer the cluster's own discovery "
        "document names.",
        oidc.kubernetes.issuer),
    STR("jwksUrl", check_secure_url,
        "URL of the signing keys (JWKS). Empty: the apiserver's /openid/v1/jwks.",
        oidc.kubernetes.jwks_url),
    STR("introspectionUrl", check_secure_url,
        "Token introspection endpoint (RFC 7662), for opaque tokens.",
        oidc.kubernetes.introspection_url),
    {"useClusterAuth", FT_BOOL, 0, NULL, 0, def_true, NULL,
     "Use the proxy pod's ServiceAccount CA and token to read the apiserver's discovery "
     "document and keys. Defaults to true.",
     SCALAR(OFF(oidc.kubernetes.use_cluster_auth))},
    FIELD_END,
};

static const field_t oidc_cm_fields[] = {
    {"name", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_cm_name,
     "Name of the ConfigMap, in the MCPServer's namespace.", SCALAR(OFF(oidc.config_map.name))},
    {"key", FT_STRING, 0, NULL, 0, def_oidc_key, check_cm_key,
     "Key holding the settings as one JSON document. Defaults to oidc.json; when the "
     "ConfigMap has no such key, its keys issuer, audience, jwksUrl, introspectionUrl, "
     "clientId, clientSecret, thvCABundlePath, jwksAuthTokenPath and jwksAllowPrivateIP are "
     "read instead.",
     SCALAR(OFF(oidc.config_map.key))},
    FIELD_END,
};

static const field_t oidc_inline_fields[] = {
    {"issuer", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_issuer,
     "Issuer URL the token must carry (iss); https, or http for an in-cluster host.",
     SCALAR(OFF(oidc.inline_.issuer))},
    STR("audience", NULL, "Audience the token must carry (aud). Empty: the resource URL.",
        oidc.inline_.audience),
    STR("jwksUrl", check_secure_url, "URL of the signing keys (JWKS). Empty: OIDC discovery.",
        oidc.inline_.jwks_url),
    STR("introspectionUrl", check_secure_url,
        "Token introspection endpoint (RFC 7662), for opaque tokens.",
        oidc.inline_.introspection_url),
    STR("clientId", NULL, "Client ID for token introspection.", oidc.inline_.client_id),
    STR("clientSecret", warn_client_secret,
        "Client secret for token introspection. Accepted for compatibility: it is kept in a "
        "Secret the operator creates, never in the proxy's arguments.",
        oidc.inline_.client_secret),
    STR("thvCABundlePath", check_abs_path,
        "CA bundle file (mounted into the proxy pod) for HTTPS to the issuer.",
        oidc.inline_.ca_bundle_path),
    STR("jwksAuthTokenPath", check_abs_path,
        "File holding a bearer token sent when fetching the discovery document and JWKS.",
        oidc.inline_.jwks_auth_token_path),
    {"jwksAllowPrivateIP", FT_BOOL, 0, NULL, 0, def_false, NULL,
     "Allow the discovery document and JWKS at private addresses. Defaults to false.",
     SCALAR(OFF(oidc.inline_.jwks_allow_private_ip))},
    FIELD_END,
};

const field_t mcp__oidc_fields[] = {
    {"type", FT_STRING, 0, NULL, 0, def_kubernetes_type, NULL,
     "Where the OIDC settings come from: kubernetes (the cluster's ServiceAccount tokens), "
     "configMap or inline. Defaults to kubernetes.",
     SCALAR(OFF(oidc.type)), norm_configmap},
    STR("resourceUrl", check_url,
        "Resource identifier (RFC 9728) the proxy announces. Defaults to the status URL.",
        oidc.resource_url),
    {"kubernetes", FT_OBJECT, 0, k8s_fields, 0, def_kubernetes_block, NULL,
     "Settings for type kubernetes.", NO},
    {"configMap", FT_OBJECT, 0, oidc_cm_fields, 0, NULL, NULL,
     "ConfigMap holding the settings, for type configMap.", NO},
    {"inline", FT_OBJECT, 0, oidc_inline_fields, 0, NULL, NULL, "Settings for type inline.", NO},
    FIELD_END,
};

static const field_t authz_cm_fields[] = {
    {"name", FT_STRING, 0, NULL, F_REQUIRED, NULL, check_cm_name,
     "Name of the ConfigMap, in the MCPServer's namespace.", SCALAR(OFF(authz.config_map.name))},
    {"key", FT_STRING, 0, NULL, 0, def_authz_key, check_cm_key,
     "Key holding ToolHive's authorization configuration (JSON, type cedarv1). Defaults to "
     "authz.json.",
     SCALAR(OFF(authz.config_map.key))},
    FIELD_END,
};

static const field_t authz_inline_fields[] = {
    {"policies", FT_ARRAY, FT_STRING, NULL, F_REQUIRED, NULL, NULL,
     "Cedar policies, one per string (at least one, at most 1024).", OFF(authz.policies),
     OFF(authz.n_policies), sizeof(char *)},
    {"entitiesJson", FT_STRING, 0, NULL, 0, def_entities, check_entities,
     "Cedar entities as a JSON array (Cedar's entity format). Defaults to [].",
     SCALAR(OFF(authz.entities_json))},
    FIELD_END,
};

const field_t mcp__authz_fields[] = {
    {"type", FT_STRING, 0, NULL, 0, def_configmap_type, NULL,
     "Where the Cedar policies come from: configMap or inline. Defaults to configMap.",
     SCALAR(OFF(authz.type)), norm_configmap},
    {"configMap", FT_OBJECT, 0, authz_cm_fields, 0, NULL, NULL,
     "ConfigMap holding the authorization configuration, for type configMap.", NO},
    {"inline", FT_OBJECT, 0, authz_inline_fields, 0, NULL, check_authz_inline,
     "Cedar policies written in the MCPServer, for type inline.", NO},
    FIELD_END,
};
