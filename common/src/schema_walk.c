/* The walks over the schema table: the bounds (list and map sizes, nesting
 * depth), checked before anything else; validation (type checks, required
 * fields, then each row's value rule); and defaulting (each row's default,
 * in table order, recorded as JSON Patch "add"s or applied in place). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/common.h"
#include "schema_internal.h"

const char *mcp__type_name(ftype_t t)
{
    switch (t) {
    case FT_STRING:
        return "string";
    case FT_INT:
    case FT_INT64:
        return "integer";
    case FT_BOOL:
        return "boolean";
    case FT_ARRAY:
        return "array";
    case FT_QUANTITY:
        return "integer or string";
    default:
        return "object";
    }
}

int mcp__type_ok(ftype_t t, const json_t *v)
{
    switch (t) {
    case FT_STRING:
        return json_is_string(v);
    case FT_INT: /* ranges are the rows' rules (ports: 1-65535) */
    case FT_INT64:
        return json_is_integer(v);
    case FT_BOOL:
        return json_is_boolean(v);
    case FT_ARRAY:
        return json_is_array(v);
    case FT_QUANTITY:
        return json_is_string(v) || json_is_integer(v);
    default:
        return json_is_object(v);
    }
}

static int check_type(vctx_t *ctx, const char *path, ftype_t t, const json_t *v)
{
    char why[64];

    if (mcp__type_ok(t, v))
        return 1;
    snprintf(why, sizeof(why), "must be of type %s", mcp__type_name(t));
    mcp_err_invalid(ctx->errs, path, v, why);
    return 0;
}

static void walk_object(vctx_t *ctx, const field_t *fields, const json_t *obj, const char *path);

static void walk_value(vctx_t *ctx, const field_t *f, const json_t *v, const json_t *parent,
                       const char *path)
{
    char sub[PATH_MAX_LEN];

    if (!check_type(ctx, path, f->type, v))
        return;
    if (f->type == FT_OBJECT)
        walk_object(ctx, f->children, v, path);
    if (f->type == FT_ARRAY) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            const json_t *item = json_array_get(v, i);
            mcp__path_index(sub, path, i);
            if (check_type(ctx, sub, f->item, item) && f->children)
                walk_object(ctx, f->children, item, sub);
        }
    }
    if (f->type == FT_MAP) {
        const char *k;
        const json_t *mv;
        json_object_foreach((json_t *)v, k, mv)
        {
            mcp__path_map(sub, path, k);
            check_type(ctx, sub, FT_STRING, mv);
        }
    }
    if (f->check)
        f->check(ctx, path, v, parent);
}

static void walk_object(vctx_t *ctx, const field_t *fields, const json_t *obj, const char *path)
{
    char sub[PATH_MAX_LEN];

    for (const field_t *f = fields; f->name; f++) {
        const json_t *v = json_object_get(obj, f->name);

        if (f->flags & F_NO_VALIDATE)
            continue;
        mcp__path_key(sub, path, f->name);
        if (!v || json_is_null(v)) {
            if (f->flags & F_REQUIRED)
                mcp_err_required(ctx->errs, sub, NULL);
            continue;
        }
        walk_value(ctx, f, v, obj, sub);
    }
}

/* ---- bounds ---------------------------------------------------------------- */

int mcp_json_deeper_than(const json_t *v, int max)
{
    const char *k;
    json_t *m;
    size_t i;

    if (!json_is_object(v) && !json_is_array(v))
        return 0;
    if (max <= 0)
        return 1;
    if (json_is_array(v)) {
        json_array_foreach(v, i, m) if (mcp_json_deeper_than(m, max - 1)) return 1;
        return 0;
    }
    json_object_foreach((json_t *)v, k, m) if (mcp_json_deeper_than(m, max - 1)) return 1;
    return 0;
}

int mcp_err_too_deep(mcp_errlist_t *l, const char *path, int max)
{
    return mcp_errlist_addf(
        l, path, "Invalid value: \"object\": must be nested at most %d levels deep", max);
}

/* Lists and maps over MCP_LIST_MAX, podTemplateSpec too deep: what must
 * hold before any rule may look at a value. Returns the errors added. */
static size_t check_bounds(mcp_errlist_t *errs, const field_t *fields, const json_t *obj,
                           const char *path)
{
    char sub[PATH_MAX_LEN], elem[PATH_MAX_LEN];
    size_t before = mcp_errlist_total(errs);

    for (const field_t *f = fields; f->name; f++) {
        const json_t *v = json_object_get(obj, f->name);
        size_t n;

        if (!v || (f->flags & F_NO_VALIDATE) || !mcp__type_ok(f->type, v))
            continue;
        mcp__path_key(sub, path, f->name);
        n = json_is_array(v) ? json_array_size(v) : json_object_size(v);
        if ((f->type == FT_ARRAY || f->type == FT_MAP) && n > MCP_LIST_MAX) {
            mcp_err_toomany(errs, sub, n, MCP_LIST_MAX);
        } else if (f->type == FT_OBJECT) {
            check_bounds(errs, f->children, v, sub);
        } else if (f->type == FT_ARRAY && f->children) {
            for (size_t i = 0; i < n; i++) {
                mcp__path_index(elem, sub, i);
                check_bounds(errs, f->children, json_array_get(v, i), elem);
            }
        } else if (f->type == FT_ANY && mcp_json_deeper_than(v, MCP_NESTING_MAX)) {
            mcp_err_too_deep(errs, sub, MCP_NESTING_MAX);
        }
    }
    return mcp_errlist_total(errs) - before;
}

int mcp_validate(const json_t *obj, mcp_errlist_t *errs, mcp_errlist_t *warns)
{
    vctx_t ctx = {errs, warns, obj};

    if (!json_is_object(obj)) {
        mcp_err_invalid(errs, "<object>", obj, "must be of type object");
    } else if (check_bounds(errs, mcp__root_fields, obj, "") == 0) {
        walk_object(&ctx, mcp__root_fields, obj, "");
    }
    if (errs->oom || (warns && warns->oom))
        return MCP_ENOMEM;
    return (int)mcp_errlist_total(errs);
}

char *mcp_validate_message(const json_t *obj, mcp_errlist_t *warns, int *oom)
{
    mcp_errlist_t errs;
    char *msg = NULL;
    int n;

    *oom = 0;
    mcp_errlist_init(&errs);
    n = mcp_validate(obj, &errs, warns);
    if (n > 0) {
        const char *name =
            json_string_value(json_object_get(json_object_get(obj, "metadata"), "name"));
        msg = mcp_errlist_aggregate(&errs, MCP_KIND, name);
        if (!msg)
            *oom = 1;
    } else if (n < 0) {
        *oom = 1;
    }
    mcp_errlist_dispose(&errs);
    return msg;
}

/* ---- defaulting ----------------------------------------------------------- */

void mcp_changes_init(mcp_changes_t *c)
{
    memset(c, 0, sizeof(*c));
}

void mcp_changes_dispose(mcp_changes_t *c)
{
    for (size_t i = 0; i < c->len; i++) {
        free(c->items[i].pointer);
        json_decref(c->items[i].value);
    }
    free(c->items);
    mcp_changes_init(c);
}

char *mcp_pointer_escape(const char *token)
{
    size_t n = 0;
    char *out, *p;

    for (const char *s = token; *s; s++)
        n += (*s == '~' || *s == '/') ? 2 : 1;
    if (!(out = malloc(n + 1)))
        return NULL;
    for (p = out; *token; token++) {
        if (*token == '~' || *token == '/') {
            *p++ = '~';
            *p++ = *token == '~' ? '0' : '1';
        } else {
            *p++ = *token;
        }
    }
    *p = '\0';
    return out;
}

static int record(mcp_changes_t *c, const char *op, const char *base, const char *token,
                  json_t *value)
{
    char *esc = mcp_pointer_escape(token), *ptr = NULL;

    if (!esc || asprintf(&ptr, "%s/%s", base, esc) < 0)
        ptr = NULL;
    free(esc);
    if (!ptr)
        return MCP_ENOMEM;
    if (c->len == c->cap) {
        size_t n = c->cap ? c->cap * 2 : 8;
        mcp_change_t *items = realloc(c->items, n * sizeof(*items));
        if (!items) {
            free(ptr);
            return MCP_ENOMEM;
        }
        c->items = items;
        c->cap = n;
    }
    c->items[c->len].op = op;
    c->items[c->len].pointer = ptr;
    c->items[c->len].value = json_incref(value);
    c->len++;
    return 0;
}

static int default_object(json_t *obj, const field_t *fields, const char *ptr, mcp_changes_t *out);

/* Descend into one present value. With `out`, nothing is modified and each
 * default is recorded; without, defaults are set in place (below a freshly
 * added parent, whose own "add" already carries everything inside it, and
 * when parsing). Lists over their cap are left to the bounds check. */
static int default_value(json_t *v, const field_t *f, const char *ptr, mcp_changes_t *out)
{
    char sub[PATH_MAX_LEN];
    int rc = 0;

    if (f->type == FT_OBJECT && json_is_object(v))
        return default_object(v, f->children, ptr, out);
    if (f->type != FT_ARRAY || f->item != FT_OBJECT || !f->children || !json_is_array(v) ||
        json_array_size(v) > MCP_LIST_MAX)
        return 0;
    for (size_t i = 0; i < json_array_size(v) && rc == 0; i++) {
        json_t *item = json_array_get(v, i);
        snprintf(sub, sizeof(sub), "%s/%zu", ptr, i);
        if (json_is_object(item))
            rc = default_object(item, f->children, sub, out);
    }
    return rc;
}

/* The defaults of one object. When recording, later rows' defaults must see
 * earlier ones (targetPort follows port), so they read `view`: the object
 * itself until a default is due, then a shallow copy of its members. */
static int default_object(json_t *obj, const field_t *fields, const char *ptr, mcp_changes_t *out)
{
    char sub[PATH_MAX_LEN];
    json_t *view = obj;
    int rc = 0;

    for (const field_t *f = fields; f->name && rc == 0; f++) {
        json_t *v = json_object_get(obj, f->name);
        mcp_changes_t *rec = out;

        json_t *nv = NULL;
        const char *op = "add";

        if (!v && f->def)
            nv = f->def(view);
        else if (v && f->norm && (nv = f->norm(v)))
            op = "replace";
        if (nv) {
            if (out && view == obj && !(view = json_copy(obj))) {
                json_decref(nv);
                return MCP_ENOMEM;
            }
            v = nv;
            if (json_object_set_new(view, f->name, v) != 0)
                rc = MCP_ENOMEM;
            else if (out)
                rc = record(out, op, ptr, f->name, v);
            rec = op[0] == 'a' ? NULL : out;
        }
        if (!v || rc)
            continue;
        snprintf(sub, sizeof(sub), "%s/%s", ptr, f->name);
        rc = default_value(v, f, sub, rec);
    }
    if (view != obj)
        json_decref(view);
    return rc;
}

int mcp__defaults_apply(json_t *obj, mcp_changes_t *out)
{
    if (!json_is_object(obj))
        return 0;
    return default_object(obj, mcp__root_fields, "", out);
}

int mcp_defaults(const json_t *obj, mcp_changes_t *out)
{
    mcp_errlist_t bounds;
    size_t broken;
    int rc;

    if (!json_is_object(obj))
        return 0;
    mcp_errlist_init(&bounds);
    broken = check_bounds(&bounds, mcp__root_fields, obj, "");
    rc = bounds.oom ? MCP_ENOMEM : 0;
    mcp_errlist_dispose(&bounds);
    if (broken || rc)
        return rc; /* validation denies it: nothing to fill in */
    rc = default_object((json_t *)obj, mcp__root_fields, "", out); /* records, never writes */
    if (rc)
        mcp_changes_dispose(out);
    return rc;
}

/* ---- shape ---------------------------------------------------------------------- */

static mcp_shape_t *shape_members(const field_t *fields, const char *path);

static int shape_node(mcp_shape_t *n, const field_t *f, const char *path)
{
    n->name = f->name;
    if (!(n->path = strdup(path)))
        return -1;
    n->kind = f->type == FT_ARRAY                                              ? MCP_SHAPE_ARRAY
              : f->type == FT_OBJECT || f->type == FT_MAP || f->type == FT_ANY ? MCP_SHAPE_OBJECT
                                                                               : MCP_SHAPE_SCALAR;
    if (f->type == FT_ARRAY || f->type == FT_MAP)
        n->max_items = MCP_LIST_MAX;
    if (f->type == FT_ANY)
        n->max_depth = MCP_NESTING_MAX;
    n->type_only = (f->flags & F_TYPE_ONLY) && n->kind == MCP_SHAPE_SCALAR;
    if ((f->flags & F_TYPE_ONLY) && f->type == FT_ARRAY && !f->children) {
        mcp_shape_t *item = calloc(1, sizeof(*item));

        if (!item)
            return -1;
        item->type_only = 1;
        n->items = item;
    }
    if (f->children && f->type == FT_ARRAY) {
        mcp_shape_t *item = calloc(1, sizeof(*item));

        if (!item || !(item->members = shape_members(f->children, path)))
            return -1;
        item->kind = MCP_SHAPE_OBJECT;
        n->items = item;
    } else if (f->children && !(n->members = shape_members(f->children, path))) {
        return -1;
    }
    return 0;
}

/* The members of an object, from its rows; never freed (built once). */
static mcp_shape_t *shape_members(const field_t *fields, const char *path)
{
    size_t n = 0, i = 0;
    mcp_shape_t *m;
    char sub[PATH_MAX_LEN];

    while (fields[n].name)
        n++;
    if (!(m = calloc(n + 1, sizeof(*m))))
        return NULL;
    for (const field_t *f = fields; f->name; f++) {
        if (f->flags & F_NO_VALIDATE)
            continue;
        mcp__path_key(sub, path, f->name);
        if (shape_node(&m[i++], f, sub) != 0)
            return NULL;
    }
    return m;
}

static mcp_shape_t root_shape;
static pthread_once_t shape_once = PTHREAD_ONCE_INIT;

static void build_shape(void)
{
    root_shape.kind = MCP_SHAPE_OBJECT;
    root_shape.members = shape_members(mcp__root_fields, "");
}

const mcp_shape_t *mcp_schema_shape(void)
{
    pthread_once(&shape_once, build_shape);
    return root_shape.members ? &root_shape : NULL;
}

json_t *mcp_changes_to_patch(const mcp_changes_t *c)
{
    json_t *patch = json_array();

    for (size_t i = 0; patch && i < c->len; i++) {
        json_t *op = json_pack("{s:s, s:s, s:O}", "op", c->items[i].op ? c->items[i].op : "add",
                               "path", c->items[i].pointer, "value", c->items[i].value);
        if (!op || json_array_append_new(patch, op) != 0) {
            json_decref(patch);
            return NULL;
        }
    }
    return patch;
}
