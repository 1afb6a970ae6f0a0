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

#define MCP_NAME_MAX     53 /* so that "mcp-<name>-proxy" is a DNS-1035 label */
#define MCP_DEFAULT_PORT 8080

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
    struct {
        const char *type; /* effective: "builtin" when only name is set */
        const char *name, *key;
    } profile; /* all NULL when absent */
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

/* ---- defaulting ------------------------------------------------------------ */
typedef struct mcp_change {
    char *pointer; /* RFC 6901 JSON pointer, escaped (owned) */
    json_t *value; /* owned reference */
} mcp_change_t;

typedef struct mcp_changes {
    mcp_change_t *items;
    size_t len, cap;
} mcp_changes_t;

void mcp_changes_init(mcp_changes_t *c);
void mcp_changes_dispose(mcp_changes_t *c);

/* The "add" operations that fill the missing defaults of `obj` (borrowed,
 * not modified). Empty when nothing is missing; never adds under a missing
 * parent (the parent is added whole); wrongly typed fields are left alone.
 * Returns 0 or MCP_ENOMEM. */
int mcp_defaults(const json_t *obj, mcp_changes_t *out);

/* The changes as an RFC 6902 JSON Patch array. Returns a new reference,
 * or NULL on OOM. */
json_t *mcp_changes_to_patch(const mcp_changes_t *c);

/* ---- validation ------------------------------------------------------------ */
/* Check every rule of DESIGN.md section 2 on a whole MCPServer object
 * (borrowed). All errors go to `errs`, warnings (each <= 120 chars) to
 * `warns` (may be NULL). Returns the number of errors, or MCP_ENOMEM. */
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

/* Escape one reference token per RFC 6901 ("~" -> "~0", "/" -> "~1").
 * Returns a new malloc'd string or NULL. */
char *mcp_pointer_escape(const char *token);

#endif
