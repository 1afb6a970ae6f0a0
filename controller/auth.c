/* Authentication and authorization of the proxy (DESIGN.md section 9,
 * /work/notes/auth-contract.md): spec.oidcConfig and spec.authzConfig turned
 * into mcp-proxy's flags, the Secret "<name>-oidc-client" that holds an
 * introspection client secret (the only object it ever appears in: the
 * proxy gets it by secretKeyRef), and the ConfigMap "<name>-authz-inline"
 * holding ToolHive's authz.json for inline policies (as ToolHive v0.2.9's
 * operator writes it). Also the checks of what a referenced ConfigMap holds.
 * Pure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mcp/cedar.h"
#include "mcp/validate.h"

#define SECRET_KEY "clientSecret"

/* The ConfigMap keys ToolHive v0.2.9's operator reads (data keys, or the
 * members of the JSON document under oidcConfig.configMap.key). */
static const struct {
    const char *key;
    size_t off;
    bool url;
} cm_keys[] = {
    {"issuer", offsetof(ctl_oidc_t, issuer), true},
    {"audience", offsetof(ctl_oidc_t, audience), false},
    {"jwksUrl", offsetof(ctl_oidc_t, jwks_url), true},
    {"introspectionUrl", offsetof(ctl_oidc_t, introspection_url), true},
    {"clientId", offsetof(ctl_oidc_t, client_id), false},
    {"clientSecret", offsetof(ctl_oidc_t, client_secret), false},
    {"thvCABundlePath", offsetof(ctl_oidc_t, ca_file), false},
    {"jwksAuthTokenPath", offsetof(ctl_oidc_t, jwks_token_file), false},
};

static const char *nonempty(const char *s)
{
    return s && *s ? s : NULL;
}

int ctl_oidc_from_configmap(const json_t *data, const char *key, json_t **doc, ctl_oidc_t *out,
                            char *why, size_t len)
{
    static const mcp_json_limits_t lim = {8, 4096};
    const json_t *src = data, *text = json_object_get(data, key), *v;
    bool any = false;

    memset(out, 0, sizeof(*out));
    *doc = NULL;
    if (json_is_string(text)) {
        char buf[256] = "";
        *doc = mcp_json_load_bounded(json_string_value(text), json_string_length(text), &lim, buf,
                                     sizeof(buf));
        if (!json_is_object(*doc)) {
            snprintf(why, len, "key \"%s\" is not a JSON object%s%s", key, buf[0] ? ": " : "", buf);
            return -1;
        }
        src = *doc;
    }
    for (size_t i = 0; i < MCP_ARRAY_LEN(cm_keys); i++) {
        const char *s, *bad;
        if (!(v = json_object_get(src, cm_keys[i].key)))
            continue;
        any = true;
        if (!(s = json_string_value(v))) {
            snprintf(why, len, "%s must be a string", cm_keys[i].key);
            return -1;
        }
        if (cm_keys[i].url && *s && (bad = mcp_check_secure_url(s))) {
            snprintf(why, len, "%s: %s", cm_keys[i].key, bad);
            return -1;
        }
        *(const char **)((char *)out + cm_keys[i].off) = nonempty(s);
    }
    v = json_object_get(src, "jwksAllowPrivateIP");
    out->allow_private_ip =
        json_is_true(v) || (json_is_string(v) && !strcmp(json_string_value(v), "true"));
    if (!any && src == data) {
        snprintf(why, len, "has no key \"%s\" and none of issuer, audience, jwksUrl, ...", key);
        return -1;
    }
    if (!out->issuer) {
        if (src == data)
            snprintf(why, len, "issuer is required");
        else
            snprintf(why, len, "key \"%s\": issuer is required", key);
        return -1;
    }
    out->on = true;
    return 0;
}

void ctl_oidc_resolve(const mcp_server_t *s, const ctl_options_t *opt, ctl_oidc_t *out)
{
    const mcp_oidc_t *o = &s->oidc;

    memset(out, 0, sizeof(*out));
    if (!o->type)
        return;
    if (strcmp(o->type, "configMap") == 0) {
        if (opt && opt->oidc)
            *out = *opt->oidc;
    } else if (strcmp(o->type, "inline") == 0) {
        out->on = true;
        out->issuer = nonempty(o->inline_.issuer);
        out->audience = nonempty(o->inline_.audience);
        out->jwks_url = nonempty(o->inline_.jwks_url);
        out->introspection_url = nonempty(o->inline_.introspection_url);
        out->client_id = nonempty(o->inline_.client_id);
        out->client_secret = nonempty(o->inline_.client_secret);
        out->ca_file = nonempty(o->inline_.ca_bundle_path);
        out->jwks_token_file = nonempty(o->inline_.jwks_auth_token_path);
        out->allow_private_ip = o->inline_.jwks_allow_private_ip;
    } else {
        out->on = out->kubernetes = true;
        out->cluster_auth = o->kubernetes.use_cluster_auth;
        out->issuer = nonempty(o->kubernetes.issuer);
        out->audience = nonempty(o->kubernetes.audience);
        out->namespace = nonempty(o->kubernetes.namespace);
        out->jwks_url = nonempty(o->kubernetes.jwks_url);
        out->introspection_url = nonempty(o->kubernetes.introspection_url);
        if (!out->audience)
            out->audience = "toolhive";
    }
    out->resource_url = nonempty(o->resource_url);
}

static int flag(json_t *args, const char *name, const char *value)
{
    char *a = NULL;
    int rc;

    if (!value)
        return 0;
    if (asprintf(&a, "--%s%s%s", name, *value ? "=" : "", value) < 0)
        return -1;
    rc = json_array_append_new(args, json_string(a));
    free(a);
    return rc;
}

int ctl_auth_args(const mcp_server_t *s, const ctl_options_t *opt, json_t *args)
{
    ctl_oidc_t o;
    char *url = NULL;
    int rc = 0;

    ctl_oidc_resolve(s, opt, &o);
    if (o.on) {
        if (!o.resource_url && !(o.resource_url = url = ctl_service_url(s)))
            return -1;
        rc = rc || flag(args, "oidc-kubernetes", o.kubernetes ? "" : NULL);
        rc = rc || flag(args, "oidc-cluster-auth", o.cluster_auth ? "" : NULL);
        rc = rc || flag(args, "oidc-issuer", o.issuer);
        rc = rc || flag(args, "oidc-namespace", o.namespace);
        /* the contract needs an audience: without one, the RFC 8707 resource */
        rc = rc || flag(args, "oidc-audience", o.audience ? o.audience : o.resource_url);
        rc = rc || flag(args, "oidc-jwks-url", o.jwks_url);
        rc = rc || flag(args, "oidc-introspection-url", o.introspection_url);
        rc = rc || flag(args, "oidc-client-id", o.client_id);
        rc = rc || flag(args, "oidc-ca-file", o.ca_file);
        rc = rc || flag(args, "oidc-jwks-token-file", o.jwks_token_file);
        rc = rc || flag(args, "oidc-allow-private-ip", o.allow_private_ip ? "" : NULL);
        rc = rc || flag(args, "resource-url", o.resource_url);
        free(url);
    }
    if (!rc && s->authz.type)
        rc = flag(args, "authz-config", CTL_AUTHZ_DIR "/" CTL_AUTHZ_FILE);
    return rc;
}

json_t *ctl_oidc_secret(const mcp_server_t *s, const ctl_options_t *opt)
{
    char name[CTL_NAME_BUF], *b64;
    json_t *secret;
    ctl_oidc_t o;

    ctl_oidc_resolve(s, opt, &o);
    /* data, not stringData: the apiserver turns stringData into data, so what
     * server-side apply records as ours would not be what we sent */
    if (!o.client_secret || !(b64 = ctl_base64(o.client_secret, strlen(o.client_secret))))
        return NULL;
    secret = ctl_with(
        ctl_with(
            ctl_typed_object(
                "v1", "Secret",
                ctl_object_meta(s, ctl_child_name(name, sizeof(name), CTL_OIDC_SECRET_FMT, s->name),
                                NULL)),
            "type", json_string("Opaque")),
        "data", json_pack("{s:s}", SECRET_KEY, b64));
    memset(b64, 0, strlen(b64));
    free(b64);
    return secret;
}

json_t *ctl_oidc_secret_env(const mcp_server_t *s, const ctl_options_t *opt)
{
    char name[CTL_NAME_BUF];
    ctl_oidc_t o;

    ctl_oidc_resolve(s, opt, &o);
    if (!o.client_secret)
        return NULL;
    return json_pack(
        "{s:s, s:{s:{s:s, s:s}}}", "name", CTL_OIDC_SECRET_ENV, "valueFrom", "secretKeyRef", "name",
        ctl_child_name(name, sizeof(name), CTL_OIDC_SECRET_FMT, s->name), "key", SECRET_KEY);
}

char *ctl_authz_inline_json(const mcp_server_t *s)
{
    json_t *pol = json_array(), *doc;
    char *out;

    for (size_t i = 0; pol && i < s->authz.n_policies; i++)
        if (json_array_append_new(pol, json_string(s->authz.policies[i])) != 0)
            pol = (json_decref(pol), NULL);
    doc = pol ? json_pack("{s:s, s:s, s:{s:o, s:s}}", "version", "1.0", "type", "cedarv1", "cedar",
                          "policies", pol, "entities_json",
                          s->authz.entities_json && *s->authz.entities_json ? s->authz.entities_json
                                                                            : "[]")
              : NULL;
    out = doc ? json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(doc);
    return out;
}

json_t *ctl_authz_configmap(const mcp_server_t *s)
{
    char name[CTL_NAME_BUF], *text;
    json_t *cm;

    if (!s->authz.type || strcmp(s->authz.type, "inline") != 0)
        return NULL;
    if (!(text = ctl_authz_inline_json(s)))
        return NULL;
    cm = ctl_with(
        ctl_typed_object(
            "v1", "ConfigMap",
            ctl_object_meta(s, ctl_child_name(name, sizeof(name), CTL_AUTHZ_INLINE_FMT, s->name),
                            NULL)),
        "data", json_pack("{s:s}", CTL_AUTHZ_FILE, text));
    free(text);
    return cm;
}

int ctl_authz_check(const char *text, size_t n, char *why, size_t len)
{
    static const mcp_json_limits_t lim = {64, 1u << 20};
    const json_t *cedar, *pol, *ent;
    mcp_cedar_str_t *ps = NULL;
    mcp_cedar_error_t err = {.index = -1};
    mcp_cedar_t *set = NULL;
    char buf[256] = "";
    json_t *doc = mcp_json_load_bounded(text, n, &lim, buf, sizeof(buf));
    int rc = -1;
    size_t np;

    cedar = json_object_get(doc, "cedar");
    pol = json_object_get(cedar, "policies");
    ent = json_object_get(cedar, "entities_json");
    np = json_array_size(pol);
    if (!json_is_object(doc))
        snprintf(why, len, "not a JSON object%s%s", buf[0] ? ": " : "", buf);
    else if (!json_is_string(json_object_get(doc, "type")) ||
             strcmp(json_string_value(json_object_get(doc, "type")), "cedarv1") != 0)
        snprintf(why, len, "type must be \"cedarv1\"");
    else if (np == 0)
        snprintf(why, len, "cedar.policies must be a non-empty array of strings");
    else if (ent && !json_is_string(ent))
        snprintf(why, len, "cedar.entities_json must be a string");
    else if (!(ps = calloc(np, sizeof(*ps))))
        snprintf(why, len, "out of memory");
    else {
        for (size_t i = 0; i < np; i++) {
            const json_t *p = json_array_get(pol, i);
            if (!json_is_string(p)) {
                snprintf(why, len, "cedar.policies[%zu] must be a string", i);
                goto out;
            }
            ps[i] = (mcp_cedar_str_t){json_string_value(p), json_string_length(p)};
        }
        if (mcp_cedar_new(ps, np,
                          (mcp_cedar_str_t){json_string_value(ent), json_string_length(ent)}, &set,
                          &err) == MCP_CEDAR_OK)
            rc = 0;
        else if (err.index >= 0)
            snprintf(why, len, "cedar.policies[%d]: %s", err.index, err.text);
        else
            snprintf(why, len, "cedar.entities_json: %s", err.text);
    }
out:
    mcp_cedar_free(set);
    free(ps);
    json_decref(doc);
    return rc;
}
