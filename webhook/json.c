/* A fast, strict JSON reader that builds jansson values. jansson's own
 * loader reads through a per-character stream and spent three quarters of
 * the webhook's CPU per review; this one scans the buffer directly and
 * creates strings straight from the input when they hold no escapes. It
 * accepts exactly what json_loadb(JSON_REJECT_DUPLICATES) accepts (RFC 8259
 * text whose top level is an object or array, UTF-8 only, no \u0000, no
 * duplicate keys, integers within long long, no real overflow, depth at
 * most 2048) and builds an equal value; the fuzzer checks both claims
 * against jansson on every input.
 *
 * A shape (mcp_shape_t, wh_json_opts_t) makes it build only what a caller
 * reads, so memory follows what the rules need, not what the input holds:
 * members the shape does not name are checked and left out; a list or map
 * is built up to its cap, the rest checked and counted, and one over its cap
 * is reported as "Too many" into opts->bounds; a value nested deeper than its
 * shape allows is reported too; where the shape expects a scalar (or the
 * other kind of container) a container is built only when its text is
 * small, else it stands as an empty one of its type; a string whose text no
 * rule reads (shape type_only) is checked and stands as a shared "". */
#include <errno.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "mcp/schema.h"
#include "internal.h"

#define MAX_DEPTH 2048 /* jansson's JSON_PARSER_MAX_DEPTH */
/* A container where the shape expects something else is built when its text
 * is at most this long (so a wrongly typed field is reported with its
 * value), else stands as an empty container. */
#define SMALL_TEXT 4096

/* The innermost value being read whose shape limits its depth. */
typedef struct deep {
    const mcp_shape_t *shape;
    int base; /* its reader depth */
    int reported;
} deep_t;

typedef struct reader {
    const char *p, *start, *end;
    int depth;
    char *scratch; /* decoded strings with escapes, number text */
    size_t scap;
    int skip;        /* > 0 inside a value that is checked but not built */
    const char *why; /* first error, static text */
    const char *at;
    int oom;
    const wh_json_opts_t *opts; /* NULL: build everything */
    json_t *blank;              /* "", shared by every string whose text is not read */
    deep_t deep;
} reader_t;

static json_t *read_value(reader_t *r, const mcp_shape_t *shape);
static json_t *read_scalar(reader_t *r);

static json_t *fail(reader_t *r, const char *why)
{
    if (!r->why) {
        r->why = why;
        r->at = r->p;
    }
    return NULL;
}

static json_t *oom(reader_t *r)
{
    r->oom = 1;
    return fail(r, "out of memory");
}

static void skip_ws(reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        r->p++;
}

static int is_digit(const reader_t *r, const char *p)
{
    return p < r->end && *p >= '0' && *p <= '9';
}

static int reserve(reader_t *r, size_t n)
{
    char *s;
    size_t cap = r->scap ? r->scap : 256;

    if (n <= r->scap)
        return 0;
    while (cap < n)
        cap *= 2;
    s = realloc(r->scratch, cap);
    if (!s)
        return -1;
    r->scratch = s;
    r->scap = cap;
    return 0;
}

size_t wh_utf8_len(const unsigned char *s, size_t n)
{
    size_t len;
    unsigned cp;

    if (s[0] < 0xc2 || s[0] > 0xf4)
        return 0;
    len = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
    if (n < len)
        return 0;
    cp = s[0] & (0x7f >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;

    for (int i = 0; i < 4; i++) {
        char c = p[i];

        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* One \uXXXX escape (or surrogate pair) at r->p (on the 'u'); appends the
 * UTF-8 to scratch at *n. */
static int read_unicode(reader_t *r, size_t *n)
{
    unsigned cp, lo;

    if (r->end - r->p < 5 || hex4(r->p + 1, &cp) != 0)
        return fail(r, "invalid \\u escape"), -1;
    r->p += 5;
    if (cp >= 0xdc00 && cp <= 0xdfff)
        return fail(r, "invalid Unicode escape (lone low surrogate)"), -1;
    if (cp >= 0xd800 && cp <= 0xdbff) {
        if (r->end - r->p < 6 || r->p[0] != '\\' || r->p[1] != 'u' || hex4(r->p + 2, &lo) != 0 ||
            lo < 0xdc00 || lo > 0xdfff)
            return fail(r, "invalid Unicode escape (lone high surrogate)"), -1;
        r->p += 6;
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
    }
    if (cp == 0)
        return fail(r, "\\u0000 is not allowed"), -1;
    *n += put_utf8(r->scratch + *n, cp);
    return 0;
}

/* The rest of a string with escapes, from r->p; the bytes before it are
 * already in scratch[0..n). */
static int read_escaped(reader_t *r, size_t n, const char **s, size_t *len)
{
    static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";

    for (;;) {
        unsigned char c;

        if (reserve(r, n + 4) != 0)
            return oom(r), -1;
        if (r->p >= r->end)
            return fail(r, "premature end of input in a string"), -1;
        c = (unsigned char)*r->p;
        if (c == '"')
            break;
        if (c == '\\') {
            const char *e = r->p + 1 < r->end ? strchr(from, r->p[1]) : NULL;

            if (r->p + 1 < r->end && r->p[1] == 'u') {
                r->p++;
                if (read_unicode(r, &n) != 0)
                    return -1;
                continue;
            }
            if (!e || !*e)
                return fail(r, "invalid escape in a string"), -1;
            r->scratch[n++] = to[e - from];
            r->p += 2;
            continue;
        }
        if (c < 0x20)
            return fail(r, "control character in a string"), -1;
        if (c < 0x80) {
            r->scratch[n++] = (char)c;
            r->p++;
            continue;
        }
        size_t u = wh_utf8_len((const unsigned char *)r->p, (size_t)(r->end - r->p));

        if (!u)
            return fail(r, "invalid UTF-8 in a string"), -1;
        memcpy(r->scratch + n, r->p, u);
        n += u, r->p += u;
    }
    r->p++;
    *s = r->scratch;
    *len = n;
    return 0;
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Non-zero when some byte of w is < 0x20, >= 0x80, '"' or '\\'. */
static uint64_t special8(uint64_t w)
{
    uint64_t q = w ^ (ONES * '"'), b = w ^ (ONES * '\\');

    return ((w - ONES * 0x20) | (q - ONES) | (b - ONES) | w) & HIGHS;
}

/* The first byte at or after p that needs a closer look in a string. */
static const unsigned char *skip_plain(const unsigned char *p, const unsigned char *end)
{
    uint64_t w;

    while (end - p >= 8) {
        memcpy(&w, p, 8);
        if (special8(w))
            break;
        p += 8;
    }
    while (p < end && *p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* A string at r->p (the opening quote). *s points into the input when the
 * string has no escapes, else into scratch (valid until the next string). */
static int read_string(reader_t *r, const char **s, size_t *len)
{
    const char *start = ++r->p;
    const unsigned char *p = (const unsigned char *)r->p, *end = (const unsigned char *)r->end;

    for (;;) {
        p = skip_plain(p, end);
        r->p = (const char *)p;
        if (p >= end)
            break;
        if (*p == '"') {
            *s = start;
            *len = (size_t)(r->p++ - start);
            return 0;
        }
        if (*p == '\\') {
            size_t n = (size_t)(r->p - start);

            if (reserve(r, n + 4) != 0)
                return oom(r), -1;
            memcpy(r->scratch, start, n);
            return read_escaped(r, n, s, len);
        }
        if (*p < 0x20)
            return fail(r, "control character in a string"), -1;
        size_t u = wh_utf8_len(p, (size_t)(end - p));

        if (!u)
            return fail(r, "invalid UTF-8 in a string"), -1;
        p += u;
    }
    return fail(r, "premature end of input in a string"), -1;
}

/* A real that cannot overflow a double: its integer part has few digits
 * and its exponent is small (then strtod is not needed to check it). */
static int real_is_small(const char *int_start, const char *int_end, const char *exp,
                         const char *end)
{
    long e = 0;
    int neg = 0;

    if (int_end - int_start > 300)
        return 0;
    if (!exp)
        return 1;
    if (*exp == '+' || *exp == '-')
        neg = *exp++ == '-';
    if (neg)
        return 1; /* underflow is no error */
    for (; exp < end; exp++)
        if ((e = e * 10 + (*exp - '0')) > 1000)
            return 0;
    return (int_end - int_start) + e < 300;
}

static json_t *read_number(reader_t *r)
{
    const char *start = r->p, *p = r->p, *digits, *int_end, *exp = NULL;
    int real = 0;
    size_t n;
    json_t *v;

    if (*p == '-')
        p++;
    digits = p;
    if (p < r->end && *p == '0')
        p++;
    else if (is_digit(r, p))
        while (is_digit(r, p))
            p++;
    else
        return fail(r, "invalid number");
    int_end = p;
    if (p < r->end && *p == '.') {
        if (!is_digit(r, ++p))
            return r->p = p, fail(r, "invalid number");
        while (is_digit(r, p))
            p++;
        real = 1;
    }
    if (p < r->end && (*p == 'e' || *p == 'E')) {
        exp = ++p;
        if (p < r->end && (*p == '+' || *p == '-'))
            p++;
        if (!is_digit(r, p))
            return r->p = p, fail(r, "invalid number");
        while (is_digit(r, p))
            p++;
        real = 1;
    }
    if (!real && int_end - digits <= 18) { /* fits: no strtoll needed */
        long long i = 0;

        for (const char *q = digits; q < int_end; q++)
            i = i * 10 + (*q - '0');
        r->p = p;
        if (r->skip)
            return json_null();
        v = json_integer(digits > start ? -i : i);
        return v ? v : oom(r);
    }
    if (real && r->skip && real_is_small(digits, int_end, exp, p)) {
        r->p = p; /* cannot overflow, and the value is not built */
        return json_null();
    }
    n = (size_t)(p - r->p);
    if (reserve(r, n + 1) != 0)
        return oom(r);
    memcpy(r->scratch, r->p, n);
    r->scratch[n] = '\0';
    errno = 0;
    if (!real) {
        long long i = strtoll(r->scratch, NULL, 10);

        if (errno == ERANGE)
            return fail(r, "integer out of range");
        v = r->skip ? json_null() : json_integer(i);
    } else {
        double d = strtod(r->scratch, NULL);

        if (errno == ERANGE && (d == HUGE_VAL || d == -HUGE_VAL))
            return fail(r, "real number overflow");
        v = r->skip ? json_null() : json_real(d);
    }
    r->p = p;
    return v ? v : oom(r);
}

static json_t *read_literal(reader_t *r, const char *word, size_t n, json_t *v)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
        return fail(r, "invalid token");
    r->p += n;
    return v;
}

/* The shape of member k of an object of shape `obj`, in *m; 1 to build it,
 * 0 to check and leave it out. `count` is the member's 1-based position. */
static int member_shape(const reader_t *r, const mcp_shape_t *obj, const char *k, size_t klen,
                        size_t count, const mcp_shape_t **m)
{
    *m = NULL;
    if (!r->opts || r->skip || !obj)
        return 1;
    if (!obj->members) /* a map: scalars, up to its cap */
        return !obj->max_items || count <= obj->max_items;
    for (const mcp_shape_t *s = obj->members; s->name; s++) {
        if (strlen(s->name) == klen && memcmp(s->name, k, klen) == 0) {
            *m = s;
            return 1;
        }
    }
    return 0;
}

/* Read a value that is checked but not built. 0 or -1. */
static int skip_value(reader_t *r)
{
    json_t *v;

    r->skip++;
    v = read_value(r, NULL);
    r->skip--;
    return v ? 0 : -1;
}

/* "key": value into obj (NULL while skipping); 0 or -1. */
static int read_member(reader_t *r, json_t *obj, const mcp_shape_t *shape, size_t count)
{
    const char *k, *key_at = r->p;
    const mcp_shape_t *m;
    char small[128], *key = small;
    size_t klen;
    json_t *v;
    int rc = -1;

    if (r->p >= r->end || *r->p != '"')
        return fail(r, "string or '}' expected"), -1;
    if (read_string(r, &k, &klen) != 0)
        return -1;
    if (k == r->scratch) { /* the value would overwrite it */
        key = klen < sizeof(small) ? small : malloc(klen);
        if (!key)
            return oom(r), -1;
        memcpy(key, k, klen);
        k = key;
    }
    skip_ws(r);
    if (r->p >= r->end || *r->p != ':') {
        fail(r, "':' expected");
        goto out;
    }
    r->p++;
    skip_ws(r);
    if (!member_shape(r, shape, k, klen, count, &m)) {
        rc = skip_value(r);
        goto out;
    }
    v = read_value(r, m);
    if (v && !obj) {
        rc = 0;
    } else if (v) {
        size_t before = json_object_size(obj);

        if (json_object_setn_new_nocheck(obj, k, klen, v) != 0)
            oom(r);
        else if (json_object_size(obj) == before) /* replaced: the key was there */
            r->p = key_at, fail(r, "duplicate object key");
        else
            rc = 0;
    }
out:
    if (key != small)
        free(key);
    return rc;
}

/* The value read when skipping: a stand-in, never NULL. */
static json_t *built(reader_t *r, json_t *v)
{
    return r->skip ? json_null() : v;
}

/* After an object member or array element: 1 when ',' says another follows,
 * 0 at the closing bracket, -1 (reader failed) otherwise. */
static int after_element(reader_t *r, char close)
{
    skip_ws(r);
    if (r->p < r->end && *r->p == ',') {
        r->p++;
        skip_ws(r);
        return 1;
    }
    if (r->p < r->end && *r->p == close) {
        r->p++;
        return 0;
    }
    fail(r, close == '}' ? "',' or '}' expected" : "',' or ']' expected");
    return -1;
}

/* A list or map of `count` items over its shape's cap: "Too many". */
static json_t *counted(reader_t *r, const mcp_shape_t *shape, size_t count, json_t *v)
{
    if (v && r->opts && !r->skip && shape && shape->max_items && count > shape->max_items &&
        r->opts->bounds && shape->path &&
        mcp_err_toomany(r->opts->bounds, shape->path, count, shape->max_items) != 0) {
        json_decref(v);
        return oom(r);
    }
    return v;
}

static json_t *read_object(reader_t *r, const mcp_shape_t *shape)
{
    json_t *obj = r->skip ? NULL : json_object();
    size_t count = 0;
    int more;

    if (!obj && !r->skip)
        return oom(r);
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        r->p++;
        return built(r, obj);
    }
    for (;;) {
        if (read_member(r, obj, shape, ++count) != 0)
            break;
        more = after_element(r, '}');
        if (more == 0)
            return counted(r, shape, count, built(r, obj));
        if (more < 0)
            break;
    }
    json_decref(obj);
    return NULL;
}

static json_t *read_array(reader_t *r, const mcp_shape_t *shape)
{
    json_t *arr = r->skip ? NULL : json_array(), *v;
    const mcp_shape_t *items = r->opts && shape ? shape->items : NULL;
    size_t count = 0;
    int more;

    if (!arr && !r->skip)
        return oom(r);
    r->p++;
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        r->p++;
        return built(r, arr);
    }
    for (;;) {
        count++;
        if (!arr && r->depth < MAX_DEPTH && r->p < r->end && *r->p != '{' && *r->p != '[') {
            if (!read_scalar(r)) /* skipping: no bookkeeping a scalar needs */
                break;
        } else if (arr && r->opts && shape && shape->max_items && count > shape->max_items) {
            if (skip_value(r) != 0)
                break;
        } else if (!(v = read_value(r, items))) {
            break;
        } else if (arr && json_array_append_new(arr, v) != 0) {
            oom(r);
            break;
        }
        more = after_element(r, ']');
        if (more == 0)
            return counted(r, shape, count, built(r, arr));
        if (more < 0)
            break;
    }
    json_decref(arr);
    return NULL;
}

static json_t *read_scalar(reader_t *r)
{
    switch (*r->p) {
    case '"': {
        const char *s;
        size_t len;
        json_t *v;

        if (read_string(r, &s, &len) != 0)
            return NULL;
        if (r->skip)
            return json_null();
        v = json_stringn_nocheck(s, len);
        return v ? v : oom(r);
    }
    case 't':
        return read_literal(r, "true", 4, json_true());
    case 'f':
        return read_literal(r, "false", 5, json_false());
    case 'n':
        return read_literal(r, "null", 4, json_null());
    default:
        if (*r->p == '-' || (*r->p >= '0' && *r->p <= '9'))
            return read_number(r);
        return fail(r, "invalid token");
    }
}

/* 1 when the shape expects the container that starts at r->p. */
static int fits(const mcp_shape_t *shape, char open)
{
    return shape && shape->kind == (open == '{' ? MCP_SHAPE_OBJECT : MCP_SHAPE_ARRAY);
}

/* A container where the shape expects something else: checked, then built
 * from its text when that is small, else an empty container of its type. */
static json_t *read_unexpected(reader_t *r)
{
    const char *start = r->p, *end;
    const wh_json_opts_t *opts = r->opts;
    json_t *v = NULL;

    r->depth--; /* read_value counts this value again */
    if (skip_value(r) != 0)
        goto out;
    if (r->p - start > SMALL_TEXT) {
        if (!(v = *start == '{' ? json_object() : json_array()))
            oom(r);
        goto out;
    }
    end = r->p;
    r->p = start;
    r->opts = NULL; /* built whole, as it is small */
    v = read_value(r, NULL);
    r->opts = opts;
    r->p = end;
out:
    r->depth++;
    return v;
}

/* A container deeper than the innermost depth-limited shape allows is
 * reported once per such value. */
static int check_deep(reader_t *r)
{
    const mcp_shape_t *s = r->deep.shape;

    if (!s || r->deep.reported || r->depth - r->deep.base + 1 <= s->max_depth)
        return 0;
    r->deep.reported = 1;
    if (r->opts->bounds && mcp_err_too_deep(r->opts->bounds, s->path, s->max_depth) != 0)
        return oom(r), -1;
    return 0;
}

static json_t *read_container(reader_t *r, const mcp_shape_t *shape)
{
    char open = *r->p;

    if (r->opts && check_deep(r) != 0)
        return NULL;
    if (r->opts && !r->skip && !fits(shape, open))
        return read_unexpected(r);
    return open == '{' ? read_object(r, shape) : read_array(r, shape);
}

/* A string only its type is read of: checked, and one shared "" stands in. */
static json_t *read_type_only(reader_t *r)
{
    const char *s;
    size_t len;

    if (read_string(r, &s, &len) != 0)
        return NULL;
    if (!r->blank && !(r->blank = json_string("")))
        return oom(r);
    return json_incref(r->blank);
}

/* Every value counts towards the depth limit, as in jansson. */
static json_t *read_value(reader_t *r, const mcp_shape_t *shape)
{
    const char *start = r->p;
    json_t *v;

    if (r->p >= r->end)
        return fail(r, "premature end of input");
    if (++r->depth > MAX_DEPTH)
        return fail(r, "maximum nesting depth reached");
    if (*r->p == '{' || *r->p == '[') {
        if (r->opts && shape && shape->max_depth && !r->skip && fits(shape, *r->p)) {
            deep_t outer = r->deep;

            r->deep.shape = shape;
            r->deep.base = r->depth;
            r->deep.reported = 0;
            v = read_container(r, shape);
            r->deep = outer;
        } else {
            v = read_container(r, shape);
        }
    } else if (r->opts && shape && shape->type_only && !r->skip && *r->p == '"') {
        v = read_type_only(r);
    } else {
        v = read_scalar(r);
    }
    if (v && r->opts && shape && shape->span > 0 && (size_t)shape->span <= r->opts->n_spans) {
        r->opts->spans[shape->span - 1].p = start;
        r->opts->spans[shape->span - 1].len = (size_t)(r->p - start);
    }
    r->depth--;
    return v;
}

/* "<why> (line L, column C)" for the error position. */
static void describe(const reader_t *r, char *err, size_t errlen)
{
    int line = 1, col = 1;

    for (const char *q = r->start; q < r->at && q < r->end; q++) {
        if (*q == '\n')
            line++, col = 1;
        else
            col++;
    }
    snprintf(err, errlen, "%s (line %d, column %d)", r->why, line, col);
}

json_t *wh_json_parse(const char *buf, size_t len, const wh_json_opts_t *opts, char *err,
                      size_t errlen, int *is_oom)
{
    reader_t r = {.p = buf, .start = buf, .end = buf + len, .opts = opts};
    json_t *v = NULL;

    skip_ws(&r);
    if (r.p < r.end && *r.p != '{' && *r.p != '[')
        fail(&r, "'[' or '{' expected");
    else
        v = read_value(&r, opts ? opts->shape : NULL);
    skip_ws(&r);
    if (v && r.p != r.end) {
        fail(&r, "end of input expected");
        json_decref(v);
        v = NULL;
    }
    if (!v)
        describe(&r, err, errlen);
    *is_oom = r.oom;
    free(r.scratch);
    json_decref(r.blank);
    return v;
}
