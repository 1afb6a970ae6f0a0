/* Small jansson helpers shared by the daemons. */
#ifndef MCP_JSON_H
#define MCP_JSON_H

#include <jansson.h>

/* The value at a dotted path of object keys ("metadata.name"), borrowed from
 * j, or NULL when a step is missing or not an object. */
const json_t *mcp_json_get(const json_t *j, const char *path);
/* The string at a dotted path (borrowed), or NULL. */
const char *mcp_json_str(const json_t *j, const char *path);

#endif
