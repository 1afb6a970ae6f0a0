/* Table-driven parse of an MCPServer into mcp_server_t. The object is first
 * copied and defaulted with the same rows the webhook uses, so the struct
 * holds effective values; strings are borrowed from that copy. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/common.h"
#include "schema_internal.h"

#define AT(base, off, type) ((type *)((char *)(base) + (off)))

static int store_quantity(mcp_server_t *s, const json_t *v, const char **dst)
{
    size_t i = 0;

    if (json_is_string(v)) {
        *dst = json_string_value(v);
        return 0;
    }
    while (i < MCP_ARRAY_LEN(s->strs) && s->strs[i])
        i++;
    if (i == MCP_ARRAY_LEN(s->strs) ||
        asprintf(&s->strs[i], "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0) {
        if (i < MCP_ARRAY_LEN(s->strs))
            s->strs[i] = NULL;
        return MCP_ENOMEM;
    }
    *dst = s->strs[i];
    return 0;
}

static int parse_object(mcp_server_t *s, const field_t *fields, const json_t *obj, void *base,
                        const char *path, mcp_errlist_t *errs);

static int parse_array(mcp_server_t *s, const field_t *f, const json_t *v, void *base,
                       const char *path, mcp_errlist_t *errs)
{
    size_t n = 0, total = json_array_size(v);
    char *items = total ? calloc(total, f->elem_size) : NULL;
    char sub[PATH_MAX_LEN];
    int rc = 0;

    if (total && !items)
        return MCP_ENOMEM;
    *AT(base, f->off, void *) = items;
    for (size_t i = 0; i < total && rc == 0; i++) {
        const json_t *item = json_array_get(v, i);
        mcp__path_index(sub, path, i);
        if (!mcp__type_ok(f->item, item)) {
            if (errs)
                mcp_err_invalid(errs, sub, item, "wrong type");
            continue;
        }
        if (f->item == FT_STRING)
            ((const char **)items)[n] = json_string_value(item);
        else
            rc = parse_object(s, f->children, item, items + n * f->elem_size, sub, errs);
        n++;
    }
    *AT(base, f->count_off, size_t) = n;
    return rc;
}

static int parse_field(mcp_server_t *s, const field_t *f, const json_t *v, void *base,
                       const char *path, mcp_errlist_t *errs)
{
    if (f->type == FT_OBJECT)
        return parse_object(s, f->children, v, base, path, errs);
    if (f->off < 0)
        return 0;
    switch (f->type) {
    case FT_STRING:
        *AT(base, f->off, const char *) = json_string_value(v);
        return 0;
    case FT_INT:
    case FT_INT64:
        *AT(base, f->off, int64_t) = json_integer_value(v);
        return 0;
    case FT_BOOL:
        *AT(base, f->off, bool) = json_is_true(v);
        return 0;
    case FT_QUANTITY:
        return store_quantity(s, v, AT(base, f->off, const char *));
    case FT_ARRAY:
        return parse_array(s, f, v, base, path, errs);
    default: /* FT_MAP, FT_ANY */
        *AT(base, f->off, const json_t *) = v;
        return 0;
    }
}

static int parse_object(mcp_server_t *s, const field_t *fields, const json_t *obj, void *base,
                        const char *path, mcp_errlist_t *errs)
{
    char sub[PATH_MAX_LEN];
    int rc = 0;

    for (const field_t *f = fields; f->name && rc == 0; f++) {
        const json_t *v = json_object_get(obj, f->name);

        if (!v || json_is_null(v) || (f->flags & F_NO_VALIDATE))
            continue;
        mcp__path_key(sub, path, f->name);
        if (!mcp__type_ok(f->type, v)) {
            if (errs)
                mcp_err_invalid(errs, sub, v, "wrong type");
            continue;
        }
        rc = parse_field(s, f, v, base, sub, errs);
    }
    return rc;
}

static void free_arrays(const field_t *fields, void *base)
{
    for (const field_t *f = fields; f->name; f++) {
        if (f->type == FT_OBJECT) {
            free_arrays(f->children, base);
        } else if (f->type == FT_ARRAY && f->off >= 0) {
            char *items = *AT(base, f->off, char *);
            size_t n = *AT(base, f->count_off, size_t);
            for (size_t i = 0; f->children && items && i < n; i++)
                free_arrays(f->children, items + i * f->elem_size);
            free(items);
        }
    }
}

void mcp_server_dispose(mcp_server_t *s)
{
    free_arrays(mcp__root_fields, s);
    for (size_t i = 0; i < MCP_ARRAY_LEN(s->strs); i++)
        free(s->strs[i]);
    json_decref(s->root);
    memset(s, 0, sizeof(*s));
}

int mcp_server_parse(json_t *obj, mcp_server_t *out, mcp_errlist_t *errs)
{
    size_t before = errs ? errs->len : 0;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj)) {
        if (errs)
            mcp_err_invalid(errs, "<object>", obj, "must be of type object");
        return MCP_EINVAL;
    }
    if (!(out->root = json_deep_copy(obj)))
        return MCP_ENOMEM;
    if ((rc = mcp__defaults_apply(out->root, NULL)) == 0)
        rc = parse_object(out, mcp__root_fields, out->root, out, "", errs);
    if (rc == 0 && errs && errs->oom)
        rc = MCP_ENOMEM;
    if (rc) {
        mcp_server_dispose(out);
        return rc;
    }
    return errs && errs->len > before ? MCP_EINVAL : 0;
}
