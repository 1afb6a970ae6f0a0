/* Small jansson helpers shared by the daemons, and a guard in front of
 * jansson for text from the network: jansson's loader, dump, copy and
 * equality recurse once per nesting level (its loader allows 2,048 levels,
 * far more than a 512 KiB thread stack survives in the others), and its tree
 * costs ~50 bytes per value whatever the text's size. mcp_json_load_bounded
 * measures the text first, without recursion and without building anything,
 * and loads it only within the caller's limits. The span functions find a
 * member or the elements of a text without loading it, so a batch (a list
 * page, a watch event) can be loaded piece by piece and a bad piece skipped. */
#ifndef MCP_JSON_H
#define MCP_JSON_H

#include <stddef.h>
#include <jansson.h>

/* The value at a dotted path of object keys ("metadata.name"), borrowed from
 * j, or NULL when a step is missing or not an object. */
const json_t *mcp_json_get(const json_t *j, const char *path);
/* The string at a dotted path (borrowed), or NULL. */
const char *mcp_json_str(const json_t *j, const char *path);
/* The first element of array arr whose string at dotted path key equals
 * value (Kubernetes' "list map" look-up: containers by "name", conditions by
 * "type"), borrowed; NULL when arr is not an array, value is NULL or none
 * matches. */
json_t *mcp_json_find(const json_t *arr, const char *key, const char *value);

typedef struct mcp_json_limits {
    int max_depth;     /* nesting levels of arrays and objects (1 = flat) */
    size_t max_values; /* values (scalars, containers and object keys) */
} mcp_json_limits_t;

typedef struct mcp_json_shape {
    int depth;
    size_t values;
} mcp_json_shape_t;

typedef struct mcp_json_span {
    const char *p; /* borrowed from the text */
    size_t n;
} mcp_json_span_t;

/* Measure one JSON text (surrounding whitespace allowed): O(n), constant
 * stack. Returns 0, MCP_ETOOBIG as soon as a limit (may be NULL) is passed,
 * or MCP_EINVAL when strings or brackets do not close; it does not check
 * everything jansson checks. *out (may be NULL) gets what was seen. */
int mcp_json_measure(const char *p, size_t n, const mcp_json_limits_t *lim, mcp_json_shape_t *out);

/* jansson's json_loadb with JSON_ALLOW_NUL (Kubernetes strings may hold
 * U+0000) and JSON_DECODE_ANY, after mcp_json_measure within `lim`. New reference, or NULL with
 * the reason in why (e.g. "nested more than 64 levels deep"). */
/* Why jansson refused a text, without the text: e->text up to its
 * " near '<token>'" (which quotes the input, and may quote a secret), then
 * the position. Into out[n]; returns out. For logs and error messages. */
const char *mcp_json_error_text(const json_error_t *e, char *out, size_t n);

json_t *mcp_json_load_bounded(const char *p, size_t n, const mcp_json_limits_t *lim, char *why,
                              size_t whylen);

/* The value of member `key` of the object text p, as a span of p. Keys are
 * compared as written (no unescaping). 0, MCP_ENOENT, or MCP_EINVAL. */
int mcp_json_member(const char *p, size_t n, const char *key, mcp_json_span_t *out);

/* The elements of the array text p one by one: *pos starts at 0. Returns 1
 * with the next element in *out, 0 at the end, MCP_EINVAL when malformed. */
int mcp_json_next_element(const char *p, size_t n, size_t *pos, mcp_json_span_t *out);

#endif
