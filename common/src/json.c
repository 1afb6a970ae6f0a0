/* Dotted-path lookups over jansson values (see mcp/json.h). */
#include <string.h>

#include "mcp/json.h"

const json_t *mcp_json_get(const json_t *j, const char *path)
{
    char key[128];

    while (j && *path) {
        const char *dot = strchr(path, '.');
        size_t n = dot ? (size_t)(dot - path) : strlen(path);

        if (n >= sizeof(key) || !json_is_object(j))
            return NULL;
        memcpy(key, path, n);
        key[n] = '\0';
        j = json_object_get(j, key);
        path += n + (dot ? 1 : 0);
    }
    return j;
}

const char *mcp_json_str(const json_t *j, const char *path)
{
    return json_string_value(mcp_json_get(j, path));
}
