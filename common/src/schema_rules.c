/* Rules that look at more than one value: resources (request <= limit),
 * the permission profile, label and annotation maps, and the spec-wide
 * checks (one environment variable name per target, risky choices warned
 * about). Also the small path and warning helpers the rules share. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/validate.h"
#include "schema_internal.h"

#define WARNING_MAX 120

extern const char *const *mcp__profile_types;
extern const char *const *mcp__builtin_profiles;

/* Paths are built on every field, valid or not, so the common case is a
 * pair of memcpy()s; snprintf() only cuts over-long ones. */
static void path_join(char *out, const char *base, const char *sep, const char *key,
                      const char *end)
{
    size_t nb = strlen(base), ns = strlen(sep), nk = strlen(key), ne = strlen(end);

    if (nb + ns + nk + ne >= PATH_MAX_LEN) {
        snprintf(out, PATH_MAX_LEN, "%s%s%s%s", base, sep, key, end);
        return;
    }
    memmove(out, base, nb);
    memcpy(out + nb, sep, ns);
    memcpy(out + nb + ns, key, nk);
    memcpy(out + nb + ns + nk, end, ne + 1);
}

void mcp__path_key(char *out, const char *base, const char *key)
{
    path_join(out, base, *base ? "." : "", key, "");
}

void mcp__path_index(char *out, const char *base, size_t i)
{
    char num[24];

    snprintf(num, sizeof(num), "%zu", i);
    path_join(out, base, "[", num, "]");
}

void mcp__path_map(char *out, const char *base, const char *key)
{
    path_join(out, base, "[", key, "]");
}

const char *mcp__str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

void mcp__warn(vctx_t *ctx, const char *path, const char *fmt, ...)
{
    char text[WARNING_MAX + 1];
    va_list ap;

    if (!ctx->warns)
        return;
    va_start(ap, fmt);
    if (vsnprintf(text, sizeof(text), fmt, ap) > WARNING_MAX)
        memcpy(text + WARNING_MAX - 3, "...", 4);
    va_end(ap);
    mcp_errlist_add_text(ctx->warns, path, text);
}

/* ---- resources ---------------------------------------------------------------- */

static int quantity_of(const json_t *v, mcp_quantity_t *q)
{
    char num[32];
    const char *s = json_string_value(v);

    if (json_is_integer(v)) {
        snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        s = num;
    }
    return s && mcp_quantity_parse(s, q) == NULL;
}

void mcp__check_resources(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    static const char *const names[] = {"cpu", "memory"};
    const json_t *limits = json_object_get(v, "limits");
    const json_t *requests = json_object_get(v, "requests");
    char sub[PATH_MAX_LEN], req_path[PATH_MAX_LEN];

    (void)parent;
    for (size_t i = 0; i < 2; i++) {
        const json_t *lim = json_object_get(limits, names[i]);
        const json_t *req = json_object_get(requests, names[i]);
        mcp_quantity_t ql, qr;
        char why[512], *lim_text;

        if (!quantity_of(lim, &ql) || !quantity_of(req, &qr) || mcp_quantity_cmp(&qr, &ql) <= 0)
            continue;
        lim_text = mcp_render_value(lim);
        if (!lim_text) {
            ctx->errs->oom = 1;
            return;
        }
        /* Kubernetes prints the limit unquoted: "... cpu limit of 100m". */
        snprintf(why, sizeof(why), "must be less than or equal to %s limit of %s", names[i],
                 json_is_string(lim) ? json_string_value(lim) : lim_text);
        free(lim_text);
        mcp__path_key(sub, path, "requests");
        mcp__path_key(req_path, sub, names[i]);
        mcp_err_invalid(ctx->errs, req_path, req, why);
    }
}

/* ---- permission profile ------------------------------------------------------ */

static int in_list(const char *s, const char *const *list)
{
    for (size_t i = 0; s && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

void mcp__check_profile(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    const json_t *type = json_object_get(v, "type"), *name = json_object_get(v, "name");
    const json_t *key = json_object_get(v, "key");
    const char *t = json_string_value(type);
    char sub[PATH_MAX_LEN];

    (void)parent;
    if (!t && json_is_string(name))
        t = "builtin"; /* the default the mutating webhook fills in */
    mcp__path_key(sub, path, "type");
    if (!type && !t) {
        mcp_err_required(ctx->errs, sub, NULL);
        return;
    }
    if (!t)
        return; /* wrong type: reported by the walk */
    if (!in_list(t, mcp__profile_types)) {
        mcp_err_unsupported(ctx->errs, sub, type, mcp__profile_types);
        return;
    }
    mcp__path_key(sub, path, "name");
    if (!name || json_string_length(name) == 0) {
        mcp_err_required(ctx->errs, sub, NULL);
    } else if (json_is_string(name) && strcmp(t, "builtin") == 0) {
        if (!in_list(json_string_value(name), mcp__builtin_profiles))
            mcp_err_unsupported(ctx->errs, sub, name, mcp__builtin_profiles);
    } else if (json_is_string(name)) {
        const char *why = mcp_check_dns1123_subdomain(json_string_value(name));
        if (why)
            mcp_err_invalid(ctx->errs, sub, name, why);
    }
    mcp__path_key(sub, path, "key");
    if (strcmp(t, "builtin") == 0) {
        if (key)
            mcp__warn(ctx, sub, "%s is ignored with a builtin profile", sub);
    } else if (!key || json_string_length(key) == 0) {
        mcp_err_required(ctx->errs, sub, "the key of the JSON profile in the ConfigMap");
    } else if (json_is_string(key)) {
        const char *why = mcp_check_secret_key(json_string_value(key));
        if (why)
            mcp_err_invalid(ctx->errs, sub, key, why);
    }
}

/* ---- labels and annotations ---------------------------------------------- */

/* Selector and ownership labels the operator sets itself. */
static const char *const reserved_labels[] = {
    "app",
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "toolhive",
    "toolhive-name",
    NULL,
};

void mcp__check_labels(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    const char *k;
    const json_t *val;
    char sub[PATH_MAX_LEN];

    (void)parent;
    json_object_foreach((json_t *)v, k, val)
    {
        const char *why = mcp_check_label_key(k);
        json_t *kv = json_string(k);

        if (!kv) {
            ctx->errs->oom = 1;
            return;
        }
        if (why)
            mcp_err_invalid(ctx->errs, path, kv, why);
        else if (in_list(k, reserved_labels)) {
            mcp__path_map(sub, path, k);
            mcp_err_forbidden(ctx->errs, sub, "this label is set by the operator");
        }
        json_decref(kv);
        if (json_is_string(val) && (why = mcp_check_label_value(json_string_value(val)))) {
            mcp__path_map(sub, path, k);
            mcp_err_invalid(ctx->errs, sub, val, why);
        }
    }
}

/* Keys must be qualified names, and the whole map fit the apiserver's limit
 * on an object's annotations: the sum of len(key) + len(value). */
void mcp__check_annotations(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    const char *k;
    const json_t *val;
    size_t total = 0;

    (void)parent;
    json_object_foreach((json_t *)v, k, val)
    {
        const char *why = mcp_check_annotation_key(k);
        json_t *kv;

        total += strlen(k) + json_string_length(val);
        if (!why)
            continue;
        if (!(kv = json_string(k))) {
            ctx->errs->oom = 1;
            return;
        }
        mcp_err_invalid(ctx->errs, path, kv, why);
        json_decref(kv);
    }
    if (total > MCP_ANNOTATIONS_MAX)
        mcp_err_toolong(ctx->errs, path, MCP_ANNOTATIONS_MAX);
}

/* ---- the spec as a whole -------------------------------------------------------- */

/* A secret's effective target (targetEnvName, else key), or NULL. */
static const json_t *secret_target(const json_t *secret)
{
    const json_t *t = json_object_get(secret, "targetEnvName");

    return t ? t : json_object_get(secret, "key");
}

/* Each secret's effective target must not repeat an env name or an earlier
 * secret's target: one hash set holds the env names, then the targets. */
static void check_env_targets(vctx_t *ctx, const char *path, const json_t *spec)
{
    const json_t *env = json_object_get(spec, "env"), *secrets = json_object_get(spec, "secrets");
    char sub[PATH_MAX_LEN], elem[PATH_MAX_LEN];
    mcp__strset_t seen;

    if (!json_is_array(secrets))
        return;
    if (mcp__strset_init(&seen, json_array_size(env) + json_array_size(secrets)) != 0) {
        ctx->errs->oom = 1;
        return;
    }
    for (size_t j = 0; j < json_array_size(env); j++) {
        const json_t *name = json_object_get(json_array_get(env, j), "name");

        if (json_is_string(name))
            mcp__strset_add(&seen, json_string_value(name), json_string_length(name));
    }
    for (size_t i = 0; i < json_array_size(secrets); i++) {
        const json_t *s = json_array_get(secrets, i), *target = secret_target(s);
        const char *why;

        if (!json_is_string(target))
            continue;
        mcp__path_index(elem, path, i);
        mcp__path_key(sub, elem, "targetEnvName");
        if (mcp__strset_add(&seen, json_string_value(target), json_string_length(target)) == 0)
            mcp_err_duplicate(ctx->errs, sub, target);
        else if (!json_object_get(s, "targetEnvName") &&
                 (why = mcp_check_env_name(json_string_value(target))))
            mcp_err_invalid(ctx->errs, sub, target, why);
    }
    mcp__strset_dispose(&seen);
}

/* A profile that limits egress with a NetworkPolicy (builtin none, or a
 * ConfigMap's) cannot hold for a pod on the node's network: Forbidden. */
static void check_host_network(vctx_t *ctx, const char *path, const json_t *spec)
{
    const json_t *profile = json_object_get(spec, "permissionProfile");
    const json_t *pod = json_object_get(json_object_get(spec, "podTemplateSpec"), "spec");
    const char *type = mcp__str(profile, "type"), *name = mcp__str(profile, "name");
    char sub[PATH_MAX_LEN];

    if (!type && name)
        type = "builtin";
    if (!json_is_true(json_object_get(pod, "hostNetwork")) || !type ||
        (strcmp(type, "configmap") != 0 &&
         !(strcmp(type, "builtin") == 0 && name && strcmp(name, "none") == 0)))
        return;
    mcp__path_key(sub, path, "podTemplateSpec.spec.hostNetwork");
    mcp_errlist_addf(ctx->errs, sub,
                     "Forbidden: may not be true with permissionProfile %s \"%s\": its "
                     "NetworkPolicy limits the MCP server's egress, and NetworkPolicies do not "
                     "apply to pods on the host network",
                     type, name ? name : "");
}

void mcp__check_spec(vctx_t *ctx, const char *path, const json_t *v, const json_t *parent)
{
    char sub[PATH_MAX_LEN];

    (void)parent;
    mcp__path_key(sub, path, "secrets");
    check_env_targets(ctx, sub, v);
    check_host_network(ctx, path, v);
    if (!json_object_get(v, "permissionProfile"))
        mcp__warn(ctx, "spec.permissionProfile",
                  "spec.permissionProfile is not set: egress is not restricted; set "
                  "{type: builtin, name: none} (or name: network)");
}
