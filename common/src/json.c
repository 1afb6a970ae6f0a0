/* Dotted-path lookups over jansson values, and measuring and slicing JSON
 * text before (or instead of) loading it (see mcp/json.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "mcp/common.h"
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

json_t *mcp_json_find(const json_t *arr, const char *key, const char *value)
{
    size_t i;
    json_t *e;

    if (!value)
        return NULL;
    json_array_foreach(arr, i, e)
    {
        const char *v = mcp_json_str(e, key);
        if (v && strcmp(v, value) == 0)
            return e;
    }
    return NULL;
}

/* ---- measuring and slicing JSON text without loading it ---------------- */

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

/* i at an opening quote: the index after the closing one, or n+1. */
static size_t skip_string(const char *p, size_t n, size_t i)
{
    for (i++; i < n; i++) {
        if (p[i] == '\\')
            i++;
        else if (p[i] == '"')
            return i + 1;
    }
    return n + 1;
}

static bool scalar_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
           c == '+' || c == '.';
}

/* Skip one value starting at *i (after whitespace): a counter, not a stack,
 * follows the nesting. 0, MCP_ETOOBIG or MCP_EINVAL. */
static int skip_value(const char *p, size_t n, size_t *i, const mcp_json_limits_t *lim,
                      mcp_json_shape_t *sh)
{
    int depth = 0;
    size_t j = *i;

    do {
        j = skip_ws(p, n, j);
        if (j >= n)
            return MCP_EINVAL;
        if (p[j] == '"') {
            if ((j = skip_string(p, n, j)) > n)
                return MCP_EINVAL;
            sh->values++;
        } else if (p[j] == '{' || p[j] == '[') {
            j++;
            sh->values++;
            if (++depth > sh->depth)
                sh->depth = depth;
        } else if (p[j] == '}' || p[j] == ']') {
            if (--depth < 0)
                return MCP_EINVAL;
            j++;
        } else if ((p[j] == ',' || p[j] == ':') && depth > 0) {
            j++;
            continue;
        } else {
            size_t start = j;
            while (j < n && scalar_char(p[j]))
                j++;
            if (j == start)
                return MCP_EINVAL;
            sh->values++;
        }
        if (lim && ((lim->max_depth > 0 && sh->depth > lim->max_depth) ||
                    (lim->max_values > 0 && sh->values > lim->max_values)))
            return MCP_ETOOBIG;
    } while (depth > 0);
    *i = j;
    return 0;
}

int mcp_json_measure(const char *p, size_t n, const mcp_json_limits_t *lim, mcp_json_shape_t *out)
{
    mcp_json_shape_t sh = {0, 0};
    size_t i = 0;
    int rc = skip_value(p, n, &i, lim, &sh);

    if (rc == 0 && skip_ws(p, n, i) != n)
        rc = MCP_EINVAL;
    if (out)
        *out = sh;
    return rc;
}

const char *mcp_json_error_text(const json_error_t *e, char *out, size_t n)
{
    const char *near = strstr(e->text, " near '");
    int len = near ? (int)(near - e->text) : (int)strlen(e->text);

    snprintf(out, n, "%.*s (line %d, column %d)", len, e->text, e->line, e->column);
    return out;
}

json_t *mcp_json_load_bounded(const char *p, size_t n, const mcp_json_limits_t *lim, char *why,
                              size_t whylen)
{
    mcp_json_shape_t sh;
    json_error_t err;
    json_t *j;
    int rc = mcp_json_measure(p, n, lim, &sh);

    if (rc == MCP_ETOOBIG && lim && lim->max_depth > 0 && sh.depth > lim->max_depth) {
        snprintf(why, whylen, "nested more than %d levels deep", lim->max_depth);
        return NULL;
    }
    if (rc == MCP_ETOOBIG) {
        snprintf(why, whylen, "more than %zu JSON values", lim->max_values);
        return NULL;
    }
    if (rc != 0) {
        snprintf(why, whylen, "not valid JSON");
        return NULL;
    }
    j = json_loadb(p, n, JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
    if (!j) {
        char text[JSON_ERROR_TEXT_LENGTH + 40];

        snprintf(why, whylen, "not valid JSON: %s", mcp_json_error_text(&err, text, sizeof(text)));
    }
    return j;
}

int mcp_json_member(const char *p, size_t n, const char *key, mcp_json_span_t *out)
{
    size_t klen = strlen(key), i = skip_ws(p, n, 0);
    mcp_json_shape_t sh = {0, 0};

    if (i >= n || p[i] != '{')
        return MCP_EINVAL;
    for (i = skip_ws(p, n, i + 1); i < n && p[i] != '}';) {
        size_t k = i, end;
        if (p[i] != '"' || (end = skip_string(p, n, i)) > n)
            return MCP_EINVAL;
        i = skip_ws(p, n, end);
        if (i >= n || p[i] != ':')
            return MCP_EINVAL;
        i = skip_ws(p, n, i + 1);
        out->p = p + i;
        if (skip_value(p, n, &i, NULL, &sh) != 0)
            return MCP_EINVAL;
        out->n = (size_t)(p + i - out->p);
        if (end - k - 2 == klen && memcmp(p + k + 1, key, klen) == 0)
            return 0;
        i = skip_ws(p, n, i);
        if (i < n && p[i] == ',')
            i = skip_ws(p, n, i + 1);
    }
    return i < n ? MCP_ENOENT : MCP_EINVAL;
}

int mcp_json_next_element(const char *p, size_t n, size_t *pos, mcp_json_span_t *out)
{
    mcp_json_shape_t sh = {0, 0};
    size_t i = skip_ws(p, n, *pos);

    if (*pos == 0) {
        if (i >= n || p[i] != '[')
            return MCP_EINVAL;
        i = skip_ws(p, n, i + 1);
    } else if (i < n && p[i] == ',') {
        i = skip_ws(p, n, i + 1);
    } else if (i >= n || p[i] != ']') {
        return MCP_EINVAL;
    }
    if (i < n && p[i] == ']')
        return 0;
    out->p = p + i;
    if (skip_value(p, n, &i, NULL, &sh) != 0)
        return MCP_EINVAL;
    out->n = (size_t)(p + i - out->p);
    *pos = i;
    return 1;
}
