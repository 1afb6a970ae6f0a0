/* The MCPServer API reference (docs/reference/mcpserver.md), generated from
 * the schema table like the CRD: one Markdown row per field with its type,
 * default, rules and description. Names, types, required flags, descriptions
 * and constant defaults come from the rows; what a rule function checks, and
 * a default that depends on other fields, is written below, keyed by the
 * field's path. The generator refuses (MCP_EINVAL, naming the field) a field
 * with a rule function or a conditional default and no text here, and a text
 * whose field no longer exists, so the page cannot silently fall behind. */
#include <stdio.h>
#include <string.h>

#include "mcp/common.h"
#include "schema_internal.h"

typedef struct doc {
    const char *path;  /* "spec.env[].name" */
    const char *deflt; /* NULL: none, or the row's constant default */
    const char *rules; /* NULL: only the type (and "required") */
} doc_t;

static const doc_t docs[] = {
    {"metadata.name", NULL,
     "a DNS-1035 label of at most 50 characters (the tightest derived name is the Service "
     "`mcp-<name>-headless`, at most 63)"},
    {"spec.image", NULL,
     "non-empty; an image reference `[registry[:port]/]path[:tag][@sha256:<64 hex>]`, "
     "lower-case path, no whitespace"},
    {"spec.transport", NULL, "one of `stdio`, `sse`, `streamable-http`"},
    {"spec.port", "8080, unless `proxyPort` is given", "1-65535"},
    {"spec.targetPort",
     "`port`, when `transport` is `sse` or `streamable-http` (8080 when the manifest names "
     "the proxy's port `proxyPort`), unless `mcpPort` is given",
     "1-65535; warning when set with `stdio` (ignored)"},
    {"spec.proxyPort", NULL, "1-65535; equal to `port` when both are given"},
    {"spec.mcpPort", NULL,
     "1-65535; equal to `targetPort` when both are given; warning when set with `stdio`"},
    {"spec.proxyMode", NULL, "one of `sse`, `streamable-http`"},
#define NOT_IMPLEMENTED_GUARD                                                                      \
    "not implemented yet: accepted with a warning; while set the MCP server is not run (status "   \
    "`Failed` naming it)"
#define NOT_IMPLEMENTED_IGNORED                                                                    \
    "not implemented yet: accepted with a warning and condition `FieldsNotImplemented`"
    {"spec.toolConfigRef", NULL, NOT_IMPLEMENTED_GUARD},
    {"spec.oidcConfigRef", NULL, NOT_IMPLEMENTED_GUARD},
    {"spec.authzConfigRef", NULL, NOT_IMPLEMENTED_GUARD},
    {"spec.externalAuthConfigRef", NULL, NOT_IMPLEMENTED_GUARD},
    {"spec.authServerRef", NULL, NOT_IMPLEMENTED_GUARD},
    {"spec.webhookConfigRef", NULL, NOT_IMPLEMENTED_GUARD},
    {"spec.rateLimiting", NULL, NOT_IMPLEMENTED_GUARD},
    {"spec.telemetryConfigRef", NULL, NOT_IMPLEMENTED_IGNORED},
    {"spec.groupRef", NULL, NOT_IMPLEMENTED_IGNORED},
    {"spec.sessionStorage", NULL, NOT_IMPLEMENTED_IGNORED},
    {"spec.audit", NULL, NOT_IMPLEMENTED_IGNORED " (unless `enabled: false`)"},
    {"spec.trustProxyHeaders", NULL, NOT_IMPLEMENTED_IGNORED " (unless `false`)"},
    {"spec.endpointPrefix", NULL, NOT_IMPLEMENTED_IGNORED},
    {"spec.replicas", NULL, NOT_IMPLEMENTED_IGNORED " (unless 1)"},
    {"spec.sessionAffinity", NULL, NOT_IMPLEMENTED_IGNORED},
    {"spec.env", NULL, "names unique (also against the secrets' `targetEnvName`)"},
    {"spec.env[].name", NULL,
     "non-empty; letters, digits, `_`, `-` and `.`, not starting with a digit"},
    {"spec.secrets", NULL,
     "no two secrets with the same target, and no target equal to an `env` name"},
    {"spec.secrets[].name", NULL, "a DNS-1123 subdomain"},
    {"spec.secrets[].key", NULL, "matches `[-._a-zA-Z0-9]+`"},
    {"spec.secrets[].targetEnvName", "the secret's `key`",
     "letters, digits, `_`, `-` and `.`, not starting with a digit"},
    {"spec.volumes", NULL, "`name` and `mountPath` unique"},
    {"spec.volumes[].name", NULL, "a DNS-1123 label"},
    {"spec.volumes[].hostPath", NULL,
     "absolute, no `..`; warning: a hostPath volume gives access to the node's files"},
    {"spec.volumes[].mountPath", NULL, "absolute, no `..`, not `/`"},
    {"spec.resources", NULL, "each request at most its limit"},
    {"spec.resources.limits.cpu", NULL, "a Kubernetes quantity, not negative"},
    {"spec.resources.limits.memory", NULL, "a Kubernetes quantity, not negative"},
    {"spec.resources.requests.cpu", NULL, "a Kubernetes quantity, not negative"},
    {"spec.resources.requests.memory", NULL, "a Kubernetes quantity, not negative"},
    {"spec.permissionProfile", NULL,
     "`builtin`: `name` is `network` or `none` (`key` ignored, with a warning); `configmap`: "
     "`name` (a DNS-1123 subdomain) and `key` required; `none` or a ConfigMap profile with "
     "`podTemplateSpec.spec.hostNetwork: true` is Forbidden; warning when not set"},
    {"spec.permissionProfile.type", "`builtin` when `name` is set",
     "one of `builtin`, `configmap`"},
    {"spec.oidcConfig", NULL,
     "`type` one of `kubernetes`, `configMap`, `inline` (`configmap` is rewritten to "
     "`configMap`); only the block named by `type` may be set, and it is required (except "
     "`kubernetes`, which has defaults)"},
    {"spec.oidcConfig.type", NULL, "one of `kubernetes`, `configMap`, `inline`"},
    {"spec.oidcConfig.resourceUrl", "the MCPServer's `status.url`", "an absolute URL"},
    {"spec.oidcConfig.kubernetes", "`{}` when `type` is `kubernetes`", NULL},
    {"spec.oidcConfig.kubernetes.serviceAccount", NULL, "warning: deprecated and ignored"},
    {"spec.oidcConfig.kubernetes.namespace", NULL, "a DNS-1123 label"},
    {"spec.oidcConfig.kubernetes.issuer", "the issuer the cluster's discovery document names",
     "`https://`, or `http://` for an in-cluster host (`*.svc`, `*.cluster.local`, `localhost`)"},
    {"spec.oidcConfig.kubernetes.jwksUrl", "the apiserver's `/openid/v1/jwks`",
     "`https://`, or `http://` for an in-cluster host"},
    {"spec.oidcConfig.kubernetes.introspectionUrl", NULL,
     "`https://`, or `http://` for an in-cluster host"},
    {"spec.oidcConfig.configMap.name", NULL, "non-empty; a DNS-1123 subdomain"},
    {"spec.oidcConfig.configMap.key", NULL, "matches `[-._a-zA-Z0-9]+`"},
    {"spec.oidcConfig.inline.issuer", NULL,
     "non-empty; `https://`, or `http://` for an in-cluster host"},
    {"spec.oidcConfig.inline.audience", "the resource URL", NULL},
    {"spec.oidcConfig.inline.jwksUrl", "OIDC discovery from the issuer",
     "`https://`, or `http://` for an in-cluster host"},
    {"spec.oidcConfig.inline.introspectionUrl", NULL,
     "`https://`, or `http://` for an in-cluster host"},
    {"spec.oidcConfig.inline.clientSecret", NULL,
     "warning: readable by all who can read the MCPServer (prefer tokens checked by JWKS)"},
    {"spec.oidcConfig.inline.thvCABundlePath", NULL, "an absolute path, no `..`"},
    {"spec.oidcConfig.inline.jwksAuthTokenPath", NULL, "an absolute path, no `..`"},
    {"spec.authzConfig", NULL,
     "`type` one of `configMap`, `inline` (`configmap` is rewritten to `configMap`); only the "
     "block named by `type` may be set, and it is required"},
    {"spec.authzConfig.type", NULL, "one of `configMap`, `inline`"},
    {"spec.authzConfig.configMap.name", NULL, "non-empty; a DNS-1123 subdomain"},
    {"spec.authzConfig.configMap.key", NULL, "matches `[-._a-zA-Z0-9]+`"},
    {"spec.authzConfig.inline", NULL,
     "`policies`: at least one, each parses as a Cedar policy (the error names its index and "
     "Cedar's message); `entitiesJson` is read by Cedar once the policies parse"},
    {"spec.authzConfig.inline.entitiesJson", NULL, "a JSON array in Cedar's entity format"},
    {"spec.tools", NULL, "each non-empty, without `,`, unique"},
    {"spec.serviceAccount", NULL, "a DNS-1123 subdomain"},
    {"spec.podTemplateSpec", NULL,
     "an object nested at most 32 levels deep; `spec.hostNetwork: true` is Forbidden with a "
     "`none` or ConfigMap permission profile"},
    {"spec.resourceOverrides.proxyDeployment.labels", NULL,
     "valid label keys and values; the operator's own labels (`app`, "
     "`app.kubernetes.io/name`, `app.kubernetes.io/instance`, `app.kubernetes.io/managed-by`, "
     "`toolhive`, `toolhive-name`) are Forbidden"},
    {"spec.resourceOverrides.proxyDeployment.annotations", NULL,
     "valid annotation keys; at most 256 KiB in all"},
    {"spec.resourceOverrides.proxyDeployment.env", NULL, "names unique"},
    {"spec.resourceOverrides.proxyDeployment.env[].name", NULL,
     "non-empty; letters, digits, `_`, `-` and `.`, not starting with a digit"},
    {"spec.resourceOverrides.proxyService.labels", NULL,
     "valid label keys and values; the operator's own labels are Forbidden"},
    {"spec.resourceOverrides.proxyService.annotations", NULL,
     "valid annotation keys; at most 256 KiB in all"},
    {NULL, NULL, NULL},
};

#define N_DOCS (sizeof(docs) / sizeof(docs[0]) - 1)

typedef struct gen {
    FILE *out;
    unsigned char used[N_DOCS];
    int bad; /* a field without its text, already reported */
} gen_t;

static const doc_t *doc_of(gen_t *g, const char *path)
{
    for (size_t i = 0; i < N_DOCS; i++)
        if (strcmp(docs[i].path, path) == 0) {
            g->used[i] = 1;
            return &docs[i];
        }
    return NULL;
}

/* Markdown table cells: `|` escaped, no line breaks. */
static void put_cell(FILE *out, const char *s)
{
    for (; s && *s; s++) {
        if (*s == '|')
            fputc('\\', out);
        fputc(*s == '\n' ? ' ' : *s, out);
    }
}

static void put_type(FILE *out, const field_t *f)
{
    static const char *const names[] = {
        [FT_STRING] = "string",     [FT_INT] = "integer (int32)", [FT_INT64] = "integer (int64)",
        [FT_BOOL] = "boolean",      [FT_OBJECT] = "object",       [FT_ARRAY] = "list",
        [FT_MAP] = "map of string", [FT_QUANTITY] = "quantity",   [FT_ANY] = "object (any)",
    };
    if (f->type == FT_ARRAY)
        fprintf(out, "list of %s", f->item == FT_OBJECT ? "object" : names[f->item]);
    else
        fputs(names[f->type], out);
}

/* The default: the text above, else the row's default asked with an empty
 * parent (constant defaults answer; conditional ones need the text). */
static int put_default(gen_t *g, const field_t *f, const doc_t *d, const char *path)
{
    json_t *empty, *v;
    char *s;

    if (d && d->deflt) {
        fputs(d->deflt, g->out);
        return 0;
    }
    if (!f->def) {
        fputs("-", g->out);
        return 0;
    }
    if (!(empty = json_object()))
        return MCP_ENOMEM;
    v = f->def(empty);
    json_decref(empty);
    if (!v) {
        fprintf(stderr,
                "schema reference: %s has a conditional default and no text in "
                "common/src/schema_doc.c\n",
                path);
        g->bad = 1;
        return 0;
    }
    s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(v);
    if (!s)
        return MCP_ENOMEM;
    fputc('`', g->out);
    put_cell(g->out, s);
    fputc('`', g->out);
    free(s);
    return 0;
}

static int put_rows(gen_t *g, const char *base, const field_t *fields);

static int put_row(gen_t *g, const char *path, const field_t *f)
{
    const doc_t *d = doc_of(g, path);
    int rc;

    if (f->check && !(d && d->rules)) {
        fprintf(stderr,
                "schema reference: %s has a rule and no text in "
                "common/src/schema_doc.c\n",
                path);
        g->bad = 1;
    }
    fprintf(g->out, "| `%s` | ", path);
    put_type(g->out, f);
    fputs(" | ", g->out);
    if ((rc = put_default(g, f, d, path)))
        return rc;
    fputs(" | ", g->out);
    if (f->flags & F_REQUIRED)
        fputs(d && d->rules ? "required; " : "required", g->out);
    put_cell(g->out, d && d->rules ? d->rules : (f->flags & F_REQUIRED) ? "" : "-");
    fputs(" | ", g->out);
    put_cell(g->out, f->description && *f->description ? f->description : "-");
    fputs(" |\n", g->out);
    /* podTemplateSpec's rows only name what a rule reads: not fields. */
    if (f->children && f->type != FT_ANY) {
        char sub[PATH_MAX_LEN];
        snprintf(sub, sizeof(sub), "%s%s", path, f->type == FT_ARRAY ? "[]" : "");
        return put_rows(g, sub, f->children);
    }
    return 0;
}

static int put_rows(gen_t *g, const char *base, const field_t *fields)
{
    for (const field_t *f = fields; f->name; f++) {
        char path[PATH_MAX_LEN];
        int rc;

        snprintf(path, sizeof(path), "%s.%s", base, f->name);
        if ((rc = put_row(g, path, f)))
            return rc;
    }
    return 0;
}

static const field_t *root_field(const char *name)
{
    for (const field_t *f = mcp__root_fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

static const char head[] =
    "<!-- Generated by `make docs` from common/src/schema_table.c, schema_auth.c and "
    "schema_doc.c. Do not edit. -->\n"
    "# MCPServer reference\n\n"
    "`toolhive.stacklok.dev/v1alpha1`, kind `MCPServer` (plural `mcpservers`, short name "
    "`mcps`), namespaced. The same table generates the CRD, so `kubectl explain "
    "mcpserver.spec` prints the descriptions below too.\n\n"
    "- **Default** is what the mutating webhook fills in when the field is absent (`-`: "
    "nothing).\n"
    "- **Rules** are checked by the validating webhook, which reports every broken rule of an "
    "object at once, and again by the controller (an object that slipped past the webhook is "
    "`Failed` with the same message). A warning does not refuse the object; `kubectl` prints "
    "it.\n"
    "- Every list and map holds at most 1,024 items. Unknown fields are refused by the API "
    "server (except inside `podTemplateSpec`).\n"
    "- `[]` in a path means every item of the list.\n\n";

static const char table_head[] =
    "| field | type | default | rules | description |\n|---|---|---|---|---|\n";

int mcp_reference_write(FILE *out)
{
    gen_t g = {.out = out};
    const field_t *meta = root_field("metadata"), *spec = root_field("spec");
    const field_t *status = root_field("status");
    int rc;

    fputs(head, out);
    fprintf(out, "%s\n\n## metadata\n\n%s", mcp__root_description, table_head);
    for (const field_t *f = meta->children; f->name; f++)
        if (strcmp(f->name, "name") == 0 && (rc = put_row(&g, "metadata.name", f)))
            return rc;
    fprintf(out, "\n## spec\n\n%s\n\n%s", spec->description, table_head);
    if ((rc = put_rows(&g, "spec", spec->children)))
        return rc;
    fprintf(out, "\n## status\n\n%s Written by the controller.\n\n%s", status->description,
            table_head);
    if ((rc = put_rows(&g, "status", status->children)))
        return rc;
    for (size_t i = 0; i < N_DOCS; i++)
        if (!g.used[i]) {
            fprintf(stderr,
                    "schema reference: common/src/schema_doc.c describes %s, which the "
                    "table does not have\n",
                    docs[i].path);
            g.bad = 1;
        }
    if (g.bad)
        return MCP_EINVAL;
    return fflush(out) == 0 && !ferror(out) ? 0 : MCP_EIO;
}
