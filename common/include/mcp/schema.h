/* The MCPServer schema (toolhive.stacklok.dev/v1alpha1), defined once as a
 * table in schema_table.c and read by parsing, defaulting, validation and CRD
 * generation. Every function here is pure: no I/O, no global state. */
#ifndef MCP_SCHEMA_H
#define MCP_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#include "mcp/common.h"
#include "mcp/errlist.h"

#define MCP_GROUP       "toolhive.stacklok.dev"
#define MCP_VERSION     "v1alpha1"
#define MCP_API_VERSION "toolhive.stacklok.dev/v1alpha1"
#define MCP_KIND        "MCPServer"
#define MCP_PLURAL      "mcpservers"

/* metadata.name: a DNS-1035 label this long at most, so that every name
 * derived from it is valid (the tightest: "mcp-<name>-headless" <= 63, and the
 * StatefulSet's pod "<name>-0" with its controller-revision-hash label). */
#define MCP_NAME_MAX     50
#define MCP_DEFAULT_PORT 8080
/* Every list and map of the spec holds at most this many items. */
#define MCP_LIST_MAX 1024
/* spec.podTemplateSpec is nested at most this many levels deep (the object
 * itself is level 1; each object or array inside it adds one). */
#define MCP_NESTING_MAX 32
/* resourceOverrides.*.annotations: sum of len(key) + len(value), as the
 * apiserver counts an object's annotations. */
#define MCP_ANNOTATIONS_MAX (256 * 1024)

/* ---- the parsed object ----------------------------------------------------
 * Strings are borrowed from `root`, which the struct holds a reference to, so
 * they live until mcp_server_dispose(). Absent strings are NULL; absent
 * integers are 0 (0 is never a valid port). */
typedef struct mcp_env {
    const char *name, *value;
} mcp_env_t;

typedef struct mcp_secret {
    const char *name, *key;
    const char *target_env_name; /* the effective name: targetEnvName, else key */
} mcp_secret_t;

typedef struct mcp_volume {
    const char *name, *host_path, *mount_path;
    bool read_only;
} mcp_volume_t;

typedef struct mcp_reslist {
    const char *cpu, *memory; /* quantity text as written (numbers rendered) */
} mcp_reslist_t;

typedef struct mcp_override {
    const json_t *labels;      /* object of strings or NULL (borrowed) */
    const json_t *annotations; /* object of strings or NULL (borrowed) */
    mcp_env_t *env;            /* proxyDeployment only */
    size_t n_env;
} mcp_override_t;

/* spec.oidcConfig (ToolHive v0.2.9). type NULL: authentication off. */
typedef struct mcp_oidc {
    const char *type; /* kubernetes | configMap | inline (effective: "configmap" reads as
                         configMap, absent as kubernetes) */
    const char *resource_url;
    struct {
        const char *service_account; /* deprecated, ignored */
        const char *namespace, *audience, *issuer, *jwks_url, *introspection_url;
        bool use_cluster_auth;
    } kubernetes;
    struct {
        const char *name, *key;
    } config_map;
    struct {
        const char *issuer, *audience, *jwks_url, *introspection_url, *client_id;
        const char *client_secret; /* never copied anywhere but a Secret */
        const char *ca_bundle_path, *jwks_auth_token_path;
        bool jwks_allow_private_ip;
    } inline_;
} mcp_oidc_t;

/* spec.authzConfig (ToolHive v0.2.9). type NULL: no authorization. */
typedef struct mcp_authz {
    const char *type; /* configMap | inline (effective) */
    struct {
        const char *name, *key;
    } config_map;
    const char **policies; /* inline */
    size_t n_policies;
    const char *entities_json; /* inline; NULL when absent */
} mcp_authz_t;

typedef struct mcp_server {
    json_t *root; /* owned: the defaulted copy of the whole object */
    const char *name, *namespace, *uid;
    int64_t generation;

    const char *image;
    const char *transport; /* effective: "stdio" when absent */
    int64_t port;          /* effective: 8080 when absent */
    int64_t target_port;   /* effective: = port for HTTP transports when absent */
    const char **args;
    size_t n_args;
    mcp_env_t *env;
    size_t n_env;
    mcp_secret_t *secrets;
    size_t n_secrets;
    mcp_volume_t *volumes;
    size_t n_volumes;
    mcp_reslist_t limits, requests;
    const char **tools; /* spec.tools: the only tools the proxy exposes */
    size_t n_tools;
    struct {
        const char *type; /* effective: "builtin" when only name is set */
        const char *name, *key;
    } profile; /* all NULL when absent */
    mcp_oidc_t oidc;
    mcp_authz_t authz;
    const char *service_account;
    const json_t *pod_template_spec; /* borrowed, NULL when absent */
    mcp_override_t proxy_deployment, proxy_service;
    char *strs[8]; /* rendered numbers for quantities (owned) */
} mcp_server_t;

/* Parse a whole MCPServer object. `obj` is borrowed: the struct keeps its own
 * defaulted deep copy in `root`, so every field holds its effective value.
 * Wrongly typed fields are skipped and reported in `errs` (may be NULL).
 * Returns 0, MCP_EINVAL when `obj` is not an object or a field has the wrong
 * type (the struct is still usable and must be disposed), or MCP_ENOMEM (the
 * struct is already disposed). */
int mcp_server_parse(json_t *obj, mcp_server_t *out, mcp_errlist_t *errs);
void mcp_server_dispose(mcp_server_t *s);

/* ---- bounds ----------------------------------------------------------------- */
/* 1 when `v` is nested more than `max` levels deep (a scalar is 0 levels, an
 * object or array 1 + its deepest member). Looks at no value deeper than
 * max + 1 and never recurses further, so any tree is safe to ask about. */
int mcp_json_deeper_than(const json_t *v, int max);

/* What the rules read of an MCPServer, as a tree derived from the table, for
 * readers that build only that (the webhook's JSON reader). A node is one
 * value: a scalar; an object whose `members` are the only ones to build
 * (members NULL: a map, every member a scalar); or an array whose `items`
 * shape each element (NULL: scalars). */
typedef enum mcp_shape_kind {
    MCP_SHAPE_SCALAR = 0,
    MCP_SHAPE_OBJECT,
    MCP_SHAPE_ARRAY,
} mcp_shape_kind_t;

typedef struct mcp_shape mcp_shape_t;
struct mcp_shape {
    const char *name; /* member name; NULL ends a member list */
    mcp_shape_kind_t kind;
    const char *path;           /* field path for errors ("spec.env"), NULL for none */
    const mcp_shape_t *members; /* objects: the members to build (NULL-name-terminated) */
    const mcp_shape_t *items;   /* arrays: the shape of each element */
    size_t max_items;           /* arrays and maps: more is "Too many" (0: no cap) */
    int max_depth;              /* nested at most this deep (0: no limit) */
    int span;                   /* > 0: a reader records where the value lies (slot span-1) */
    int type_only;              /* scalars: only the type is read (a stand-in of it will do) */
};

/* The shape of a whole MCPServer object (status left out). Built once from
 * the table, static and read-only afterwards: thread-safe. NULL on OOM. */
const mcp_shape_t *mcp_schema_shape(void);

/* The errors for a list or map over its cap and a value nested too deep,
 * with the same text mcp_validate uses, so a reader that finds them first
 * reports exactly what the validator would. */
int mcp_err_too_deep(mcp_errlist_t *l, const char *path, int max);

/* ---- defaulting ------------------------------------------------------------ */
typedef struct mcp_change {
    const char *op; /* "add", or "replace" for a value rewritten to its canonical spelling */
    char *pointer;  /* RFC 6901 JSON pointer, escaped (owned) */
    json_t *value;  /* owned reference */
} mcp_change_t;

typedef struct mcp_changes {
    mcp_change_t *items;
    size_t len, cap;
} mcp_changes_t;

void mcp_changes_init(mcp_changes_t *c);
void mcp_changes_dispose(mcp_changes_t *c);

/* The "add" operations that fill the missing defaults of `obj` (borrowed,
 * and the "replace" of a value written in a legacy spelling, e.g. ToolHive's
 * own example's oidcConfig type "configmap" for "configMap";
 * not modified, not copied: an object that gets a default is viewed through
 * a shallow copy of its own members only). Empty when nothing is missing;
 * never adds under a missing parent (the parent is added whole); wrongly
 * typed fields are left alone, and an object whose bounds are broken (see
 * mcp_validate) gets nothing. Returns 0 or MCP_ENOMEM. */
int mcp_defaults(const json_t *obj, mcp_changes_t *out);

/* The changes as an RFC 6902 JSON Patch array. Returns a new reference,
 * or NULL on OOM. */
json_t *mcp_changes_to_patch(const mcp_changes_t *c);

/* ---- validation ------------------------------------------------------------ */
/* Check every rule of DESIGN.md section 2 on a whole MCPServer object
 * (borrowed). First the bounds: a list or map over MCP_LIST_MAX ("Too
 * many") or a podTemplateSpec nested deeper than MCP_NESTING_MAX; when one
 * is broken, those are the only errors and no rule runs, so the cost stays
 * linear in the input. All errors go to `errs`, warnings (each <= 120
 * chars) to `warns` (may be NULL). Returns the number of errors, or
 * MCP_ENOMEM. */
int mcp_validate(const json_t *obj, mcp_errlist_t *errs, mcp_errlist_t *warns);

/* Convenience: validate and build the aggregate message
 * `MCPServer "<name>" is invalid: [...]`. Returns NULL when valid; a new
 * malloc'd message otherwise ("out of memory" text on OOM is not possible:
 * OOM returns NULL and sets *oom). `warns` may be NULL. */
char *mcp_validate_message(const json_t *obj, mcp_errlist_t *warns, int *oom);

/* ---- CRD ------------------------------------------------------------------- */
/* Write the CustomResourceDefinition YAML generated from the table.
 * Returns 0 or MCP_EIO. Output is deterministic. */
int mcp_crd_write(FILE *out);
/* The same CRD serving v1beta1 too (converted by the webhook's /convert):
 * built and tested (e2e/tests/25_versions.sh), not the chart's yet. */
int mcp_crd_write_with_beta(FILE *out);

/* Fields of ToolHive's newer MCPServer (v0.44) accepted but not implemented
 * yet. `guards`: it protects the server (authentication, authorization, tool
 * filtering, limits), so the controller does not run the server while it is
 * set rather than run it unprotected. */
typedef struct mcp_unimplemented {
    const char *name; /* spec.<name> */
    bool guards;
} mcp_unimplemented_t;

/* The row of spec.<name>, or NULL. */
const mcp_unimplemented_t *mcp_unimplemented_find(const char *name);
/* How many such fields `spec` (borrowed) sets (false and replicas 1 do
 * not count: they are what this operator does); their paths, ", "-separated,
 * in list (cut at n); *guards: one of them guards the server. */
size_t mcp_unimplemented_in(const json_t *spec, char *list, size_t n, bool *guards);

/* Write the Markdown API reference (docs/reference/mcpserver.md) generated
 * from the table and its texts in schema_doc.c. Returns 0, MCP_EIO,
 * MCP_ENOMEM, or MCP_EINVAL when a field lacks its text or a text names no
 * field (each named on stderr). Output is deterministic. */
int mcp_reference_write(FILE *out);

/* Escape one reference token per RFC 6901 ("~" -> "~0", "/" -> "~1").
 * Returns a new malloc'd string or NULL. */
char *mcp_pointer_escape(const char *token);

#endif
