/* Field-error lists in the Kubernetes style.
 *
 * Each entry is one formatted line such as
 *   spec.port: Invalid value: 70000: must be between 1 and 65535
 * and the list can be rendered as the apiserver's aggregate message
 *   MCPServer "fetch" is invalid: [e1, e2]   (no brackets for a single error).
 * Entries are kept sorted by field path (indexes compared as numbers), so the
 * order is stable whatever order the rules ran in. Like the apiserver's, the
 * list is capped: it keeps the MCP_ERRLIST_MAX first entries in that order
 * and only counts the others, which the aggregate message ends with as
 * "... and N more errors". Recording is O(log MCP_ERRLIST_MAX) comparisons
 * plus a move of at most MCP_ERRLIST_MAX pointers, and an entry that would
 * be dropped is not even formatted. Warnings use the same list type with
 * free-form text. */
#ifndef MCP_ERRLIST_H
#define MCP_ERRLIST_H

#include <stddef.h>
#include <jansson.h>

typedef struct mcp_fielderr {
    char *path; /* e.g. "spec.secrets[1].targetEnvName" (owned) */
    char *text; /* the whole formatted line, path included (owned) */
} mcp_fielderr_t;

/* Most entries a list keeps (the rest are counted in `dropped`). */
#define MCP_ERRLIST_MAX 100

typedef struct mcp_errlist {
    mcp_fielderr_t *items; /* sorted by path, at most MCP_ERRLIST_MAX */
    size_t len, cap;
    size_t dropped;         /* entries recorded beyond the cap (counted, not kept) */
    unsigned long compares; /* path comparisons made (tests check the cost bound) */
    int oom;                /* set when an entry could not be recorded */
} mcp_errlist_t;

/* Entries recorded in all: len + dropped. */
size_t mcp_errlist_total(const mcp_errlist_t *l);

/* Caller-allocated list: init before use, dispose to free every entry. */
void mcp_errlist_init(mcp_errlist_t *l);
void mcp_errlist_dispose(mcp_errlist_t *l);

/* Record "<path>: <printf text>". Returns 0 or MCP_ENOMEM (and sets l->oom). */
int mcp_errlist_addf(mcp_errlist_t *l, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record `text` as it is; `path` only decides its place in the order.
 * Used for warnings, which are free text. Returns 0 or MCP_ENOMEM. */
int mcp_errlist_add_text(mcp_errlist_t *l, const char *path, const char *text);

/* The Kubernetes kinds of field error. `value` is borrowed and rendered like
 * the apiserver does: strings quoted, numbers bare, other JSON compact. */
int mcp_err_required(mcp_errlist_t *l, const char *path, const char *detail);
int mcp_err_invalid(mcp_errlist_t *l, const char *path, const json_t *value, const char *why);
int mcp_err_unsupported(mcp_errlist_t *l, const char *path, const json_t *value,
                        const char *const *supported);
int mcp_err_duplicate(mcp_errlist_t *l, const char *path, const json_t *value);
int mcp_err_toolong(mcp_errlist_t *l, const char *path, size_t max);
/* "Too many: <n>: must have at most <max> items". */
int mcp_err_toomany(mcp_errlist_t *l, const char *path, size_t n, size_t max);
int mcp_err_forbidden(mcp_errlist_t *l, const char *path, const char *why);

/* Render a JSON value the way Kubernetes prints it in field errors.
 * Returns a new malloc'd string, or NULL on allocation failure. */
char *mcp_render_value(const json_t *value);

/* "<kind> \"<name>\" is invalid: [e1, e2]" (a single error has no brackets),
 * ending in ", ... and N more errors" when entries were dropped.
 * Returns a new malloc'd string, or NULL when the list is empty or on OOM. */
char *mcp_errlist_aggregate(const mcp_errlist_t *l, const char *kind, const char *name);

/* All entries joined by `sep` (for messages that are not Invalid statuses),
 * plus "... and N more errors" when entries were dropped.
 * Returns a new malloc'd string ("" for an empty list), or NULL on OOM. */
char *mcp_errlist_join(const mcp_errlist_t *l, const char *sep);

#endif
