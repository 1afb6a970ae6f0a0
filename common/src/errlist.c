/* Field-error lists in the Kubernetes style (see mcp/errlist.h). Entries are
 * inserted in field-path order, numbers inside brackets compared as numbers,
 * so the aggregate message is stable whatever order the rules ran in. The
 * list keeps at most MCP_ERRLIST_MAX entries (the first ones in that order):
 * a binary search finds the place, and an entry past the last kept one is
 * only counted, before anything is formatted or allocated. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/buf.h"
#include "mcp/common.h"
#include "mcp/errlist.h"

#define VALUE_RENDER_MAX 256 /* longer rendered values are cut */
#define MESSAGE_MAX      (1u << 20)

void mcp_errlist_init(mcp_errlist_t *l)
{
    memset(l, 0, sizeof(*l));
}

void mcp_errlist_dispose(mcp_errlist_t *l)
{
    for (size_t i = 0; i < l->len; i++) {
        free(l->items[i].path);
        free(l->items[i].text);
    }
    free(l->items);
    mcp_errlist_init(l);
}

/* strcmp, but runs of digits compare by numeric value: a[2] < a[10]. */
static int path_cmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            const char *ea = a, *eb = b;
            while (*a == '0' && isdigit((unsigned char)a[1]))
                a++;
            while (*b == '0' && isdigit((unsigned char)b[1]))
                b++;
            for (ea = a; isdigit((unsigned char)*ea); ea++)
                ;
            for (eb = b; isdigit((unsigned char)*eb); eb++)
                ;
            if (ea - a != eb - b)
                return (ea - a) < (eb - b) ? -1 : 1;
            int c = strncmp(a, b, (size_t)(ea - a));
            if (c)
                return c;
            a = ea;
            b = eb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

size_t mcp_errlist_total(const mcp_errlist_t *l)
{
    return l->len + l->dropped;
}

/* Where an entry for `path` goes: after every entry that sorts before or
 * equal to it, so equal paths keep the order they were recorded in. */
static size_t place(mcp_errlist_t *l, const char *path)
{
    size_t lo = 0, hi = l->len;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        l->compares++;
        if (path_cmp(l->items[mid].path, path) <= 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* 1 when an entry for `path` would be kept; else it is counted as dropped. */
static int admit(mcp_errlist_t *l, const char *path)
{
    if (l->len < MCP_ERRLIST_MAX || place(l, path) < l->len)
        return 1;
    l->dropped++;
    return 0;
}

static int insert(mcp_errlist_t *l, char *path, char *text)
{
    size_t pos;

    if (!path || !text)
        goto oom;
    if (l->len == MCP_ERRLIST_MAX) { /* admit() made room worth taking: drop the last */
        l->len--;
        free(l->items[l->len].path);
        free(l->items[l->len].text);
        l->dropped++;
    }
    if (l->len == l->cap) {
        size_t n = l->cap ? l->cap * 2 : 8;
        mcp_fielderr_t *p = realloc(l->items, n * sizeof(*p));
        if (!p)
            goto oom;
        l->items = p;
        l->cap = n;
    }
    pos = place(l, path);
    memmove(l->items + pos + 1, l->items + pos, (l->len - pos) * sizeof(*l->items));
    l->items[pos].path = path;
    l->items[pos].text = text;
    l->len++;
    return 0;
oom:
    free(path);
    free(text);
    l->oom = 1;
    return MCP_ENOMEM;
}

int mcp_errlist_addf(mcp_errlist_t *l, const char *path, const char *fmt, ...)
{
    va_list ap;
    char *body = NULL, *text = NULL;
    int n;

    if (!admit(l, path))
        return 0;
    va_start(ap, fmt);
    n = vasprintf(&body, fmt, ap);
    va_end(ap);
    if (n < 0) {
        l->oom = 1;
        return MCP_ENOMEM;
    }
    if (asprintf(&text, "%s: %s", path, body) < 0)
        text = NULL;
    free(body);
    return insert(l, strdup(path), text);
}

int mcp_errlist_add_text(mcp_errlist_t *l, const char *path, const char *text)
{
    if (!admit(l, path))
        return 0;
    return insert(l, strdup(path), strdup(text));
}

static int add_quoted(mcp_buf_t *b, const char *s, size_t n)
{
    int rc = mcp_buf_add(b, "\"", 1);

    for (size_t i = 0; i < n && rc == 0; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            rc = mcp_buf_addf(b, "\\%c", c);
        else if (c == '\n')
            rc = mcp_buf_adds(b, "\\n");
        else if (c == '\t')
            rc = mcp_buf_adds(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            rc = mcp_buf_addf(b, "\\x%02x", c);
        else
            rc = mcp_buf_add(b, &s[i], 1);
    }
    return rc ? rc : mcp_buf_add(b, "\"", 1);
}

/* Compact JSON of v, cut at VALUE_RENDER_MAX. Large values are dumped with
 * jansson's own allocator and released with its matching free. */
static int add_dump(mcp_buf_t *b, const json_t *v)
{
    char dump[VALUE_RENDER_MAX + 1], *big;
    size_t n = json_dumpb(v, dump, sizeof(dump), JSON_ENCODE_ANY | JSON_COMPACT);
    json_free_t jfree;
    int rc;

    if (n == 0)
        return MCP_ENOMEM;
    if (n <= VALUE_RENDER_MAX)
        return mcp_buf_add(b, dump, n);
    if (!(big = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT)))
        return MCP_ENOMEM;
    rc = mcp_buf_add(b, big, VALUE_RENDER_MAX);
    json_get_alloc_funcs(NULL, &jfree);
    jfree(big);
    return rc ? rc : mcp_buf_adds(b, "...");
}

char *mcp_render_value(const json_t *v)
{
    mcp_buf_t b;
    int rc = 0;

    mcp_buf_init(&b, VALUE_RENDER_MAX * 4 + 64);
    if (json_is_string(v)) {
        size_t n = json_string_length(v);
        rc = add_quoted(&b, json_string_value(v), n > VALUE_RENDER_MAX ? VALUE_RENDER_MAX : n);
        if (!rc && n > VALUE_RENDER_MAX)
            rc = mcp_buf_adds(&b, "...");
    } else if (json_is_integer(v)) {
        rc = mcp_buf_addf(&b, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    } else if (v) {
        rc = add_dump(&b, v);
    } else {
        rc = mcp_buf_adds(&b, "null");
    }
    if (rc) {
        mcp_buf_dispose(&b);
        return NULL;
    }
    return mcp_buf_take(&b);
}

int mcp_err_required(mcp_errlist_t *l, const char *path, const char *detail)
{
    if (detail)
        return mcp_errlist_addf(l, path, "Required value: %s", detail);
    return mcp_errlist_addf(l, path, "Required value");
}

int mcp_err_invalid(mcp_errlist_t *l, const char *path, const json_t *value, const char *why)
{
    char *v;
    int rc;

    if (!admit(l, path))
        return 0;
    if (!(v = mcp_render_value(value))) {
        l->oom = 1;
        return MCP_ENOMEM;
    }
    rc = mcp_errlist_addf(l, path, "Invalid value: %s: %s", v, why);
    free(v);
    return rc;
}

int mcp_err_unsupported(mcp_errlist_t *l, const char *path, const json_t *value,
                        const char *const *supported)
{
    char *v;
    mcp_buf_t b;
    int rc = 0;

    if (!admit(l, path))
        return 0;
    v = mcp_render_value(value);
    mcp_buf_init(&b, 4096);
    for (size_t i = 0; supported[i] && rc == 0; i++)
        rc = mcp_buf_addf(&b, "%s\"%s\"", i ? ", " : "", supported[i]);
    if (!v || rc) {
        free(v);
        mcp_buf_dispose(&b);
        l->oom = 1;
        return MCP_ENOMEM;
    }
    rc = mcp_errlist_addf(l, path, "Unsupported value: %s: supported values: %s", v, b.data);
    free(v);
    mcp_buf_dispose(&b);
    return rc;
}

int mcp_err_duplicate(mcp_errlist_t *l, const char *path, const json_t *value)
{
    char *v;
    int rc;

    if (!admit(l, path))
        return 0;
    if (!(v = mcp_render_value(value))) {
        l->oom = 1;
        return MCP_ENOMEM;
    }
    rc = mcp_errlist_addf(l, path, "Duplicate value: %s", v);
    free(v);
    return rc;
}

int mcp_err_toolong(mcp_errlist_t *l, const char *path, size_t max)
{
    return mcp_errlist_addf(l, path, "Too long: may not be more than %zu bytes", max);
}

int mcp_err_toomany(mcp_errlist_t *l, const char *path, size_t n, size_t max)
{
    return mcp_errlist_addf(l, path, "Too many: %zu: must have at most %zu items", n, max);
}

int mcp_err_forbidden(mcp_errlist_t *l, const char *path, const char *why)
{
    return mcp_errlist_addf(l, path, "Forbidden: %s", why);
}

char *mcp_errlist_join(const mcp_errlist_t *l, const char *sep)
{
    mcp_buf_t b;
    int rc = 0;

    mcp_buf_init(&b, MESSAGE_MAX);
    for (size_t i = 0; i < l->len && rc == 0; i++)
        rc = mcp_buf_addf(&b, "%s%s", i ? sep : "", l->items[i].text);
    if (rc == 0 && l->dropped)
        rc = mcp_buf_addf(&b, "%s... and %zu more error%s", l->len ? sep : "", l->dropped,
                          l->dropped == 1 ? "" : "s");
    if (rc == MCP_ENOMEM) {
        mcp_buf_dispose(&b);
        return NULL;
    }
    return mcp_buf_take(&b);
}

char *mcp_errlist_aggregate(const mcp_errlist_t *l, const char *kind, const char *name)
{
    char *joined, *msg = NULL;

    if (l->len == 0)
        return NULL;
    joined = mcp_errlist_join(l, ", ");
    if (!joined)
        return NULL;
    if (asprintf(&msg,
                 mcp_errlist_total(l) == 1 ? "%s \"%s\" is invalid: %s"
                                           : "%s \"%s\" is invalid: [%s]",
                 kind, name ? name : "", joined) < 0)
        msg = NULL;
    free(joined);
    return msg;
}
