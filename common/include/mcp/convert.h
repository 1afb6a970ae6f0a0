/* MCPServer conversion between the served API versions (common/src/convert.c). */
#ifndef MCP_CONVERT_H
#define MCP_CONVERT_H

#include <jansson.h>

#include "mcp/common.h"

#define MCP_VERSION_BETA     "v1beta1"
#define MCP_API_VERSION_BETA "toolhive.stacklok.dev/v1beta1"
/* On a v1beta1 object: the v1alpha1 fields it cannot hold, as they were
 * (JSON object; null = absent in v1alpha1, added by a rename). */
#define MCP_CONVERT_ANNOTATION "toolhive.stacklok.dev/v1alpha1-fields"

/* Convert MCPServer `obj` (borrowed, changed in place) to `api_version`
 * ("toolhive.stacklok.dev/v1alpha1" or "/v1beta1"): spec field names, the
 * fields only v1alpha1 has (kept in MCP_CONVERT_ANNOTATION), the status
 * phase (Running <-> Ready). Lossless both ways: converting there and back
 * gives an equal object. 0; MCP_EINVAL when obj is not an object of either
 * version or api_version is neither; MCP_ENOMEM (obj may be half
 * converted: discard it). */
int mcp_convert(json_t *obj, const char *api_version);

#endif
