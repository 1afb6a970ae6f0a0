/* JSON-RPC 2.0 as MCP uses it: classifying a message, building error
 * responses, serializing, and the two framings the proxy speaks: newline
 * delimited messages towards a stdio server (with a cap per line) and SSE
 * events towards clients. Pure functions, no I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "internal.h"

static int valid_id(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id) || json_is_real(id);
}

px_kind_t px_msg_kind(const json_t *msg)
{
    json_t *v, *id, *method;

    if (!json_is_object(msg))
        return PX_MSG_INVALID;
    v = json_object_get(msg, "jsonrpc");
    if (!json_is_string(v) || strcmp(json_string_value(v), "2.0") != 0)
        return PX_MSG_INVALID;
    id = json_object_get(msg, "id");
    method = json_object_get(msg, "method");
    if (method) {
        json_t *params = json_object_get(msg, "params");

        if (!json_is_string(method) ||
            (params && !json_is_object(params) && !json_is_array(params)))
            return PX_MSG_INVALID;
        if (!id)
            return PX_MSG_NOTIFICATION;
        return valid_id(id) ? PX_MSG_REQUEST : PX_MSG_INVALID;
    }
    if (!id || (!valid_id(id) && !json_is_null(id)))
        return PX_MSG_INVALID;
    if (!json_object_get(msg, "result") == !json_object_get(msg, "error"))
        return PX_MSG_INVALID;
    return PX_MSG_RESPONSE;
}

const char *px_msg_method(const json_t *msg)
{
    const char *m = json_string_value(json_object_get(msg, "method"));

    return m ? m : "";
}

json_t *px_msg_meta(const json_t *msg, const char *key)
{
    json_t *meta = json_object_get(json_object_get(msg, "params"), "_meta");

    return json_is_object(meta) ? json_object_get(meta, key) : NULL;
}

json_t *px_error_new(json_t *id, int code, const char *message, json_t *data)
{
    json_t *err = json_pack("{s:i, s:s}", "code", code, "message", message);
    json_t *msg;

    if (err && data)
        json_object_set_new(err, "data", data);
    else
        json_decref(data);
    msg = err ? json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", id ? id : json_null(), "error",
                          err)
              : NULL;
    return msg;
}

static int dump_cb(const char *p, size_t n, void *data)
{
    return mcp_buf_add(data, p, n) == 0 ? 0 : -1;
}

int px_dump(const json_t *msg, mcp_buf_t *out)
{
    mcp_buf_reset(out);
    if (json_dump_callback(msg, dump_cb, out, JSON_COMPACT) != 0)
        return out->len + 64 > out->cap ? MCP_ETOOBIG : MCP_ENOMEM;
    if (!out->data && mcp_buf_add(out, "", 0) != 0)
        return MCP_ENOMEM;
    return 0;
}

json_t *px_parse_batch(const char *buf, size_t len, int *code)
{
    json_error_t e;
    json_t *msg = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);

    *code = msg ? 0 : PX_E_PARSE;
    if (msg && !json_is_object(msg) && !json_is_array(msg)) {
        json_decref(msg);
        *code = PX_E_INVALID;
        return NULL;
    }
    return msg;
}

json_t *px_parse(const char *buf, size_t len, int *code)
{
    json_t *msg = px_parse_batch(buf, len, code);

    if (msg && !json_is_object(msg)) { /* batches are gone since 2025-06-18 */
        json_decref(msg);
        *code = PX_E_INVALID;
        return NULL;
    }
    return msg;
}

int px_is_legacy_version(const char *v)
{
    static const char *const known[] = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};

    for (size_t i = 0; v && i < MCP_ARRAY_LEN(known); i++)
        if (strcmp(v, known[i]) == 0)
            return 1;
    return 0;
}

/* ---- newline framing ------------------------------------------------------------- */

void px_lines_init(px_lines_t *l, size_t cap)
{
    memset(l, 0, sizeof(*l));
    mcp_buf_init(&l->buf, cap);
}

void px_lines_dispose(px_lines_t *l)
{
    mcp_buf_dispose(&l->buf);
}

static void emit(const px_lines_t *l, const char *p, size_t n, px_line_cb cb, void *ctx)
{
    if (n && p[n - 1] == '\r')
        n--;
    if (n || (l->flags & PX_LINES_EMPTY))
        cb(ctx, p, n);
}

/* Keep the last PX_PEEK bytes of a line being dropped. */
static void peek_tail(px_lines_t *l, const char *p, size_t n)
{
    if (n >= PX_PEEK) {
        memcpy(l->tail, p + n - PX_PEEK, PX_PEEK);
        l->tail_len = PX_PEEK;
        return;
    }
    if (l->tail_len + n > PX_PEEK) {
        size_t keep = PX_PEEK - n;

        memmove(l->tail, l->tail + l->tail_len - keep, keep);
        l->tail_len = keep;
    }
    memcpy(l->tail + l->tail_len, p, n);
    l->tail_len += n;
}

/* A line went over the cap: keep its first bytes (held in buf, then the new chunk). */
static void peek_start(px_lines_t *l, const char *p, size_t n)
{
    size_t from_buf = l->buf.len < PX_PEEK ? l->buf.len : PX_PEEK;
    size_t from_p = PX_PEEK - from_buf < n ? PX_PEEK - from_buf : n;

    if (from_buf)
        memcpy(l->head, l->buf.data, from_buf);
    memcpy(l->head + from_buf, p, from_p);
    l->head_len = from_buf + from_p;
    l->tail_len = 0;
    if (l->buf.len)
        peek_tail(l, l->buf.data, l->buf.len);
}

void px_lines_feed(px_lines_t *l, const char *p, size_t n, px_line_cb cb, void *ctx)
{
    while (n) {
        const char *nl = memchr(p, '\n', n);
        size_t chunk = nl ? (size_t)(nl - p) : n;
        int dropping = l->skipping;

        if (l->skipping) {
            l->skipping = nl == NULL;
        } else if (l->buf.len == 0 && nl && chunk < l->buf.cap) {
            emit(l, p, chunk, cb, ctx); /* whole line in hand: no copy */
        } else if (mcp_buf_add(&l->buf, p, chunk) != 0) {
            if (l->on_drop)
                peek_start(l, p, chunk);
            mcp_buf_reset(&l->buf);
            l->dropped++;
            l->skipping = nl == NULL;
            dropping = 1;
            if (l->flags & PX_LINES_DROPS)
                cb(ctx, NULL, 0);
        } else if (nl) {
            emit(l, l->buf.data ? l->buf.data : "", l->buf.len, cb, ctx);
            mcp_buf_reset(&l->buf);
        }
        if (dropping && l->on_drop) {
            peek_tail(l, p, chunk);
            if (nl)
                l->on_drop(ctx, l->head, l->head_len, l->tail, l->tail_len);
        }
        if (!nl)
            break;
        p = nl + 1;
        n -= chunk + 1;
    }
    if (l->buf.len == 0 && l->buf.alloc > 65536) { /* do not keep a big line's memory */
        size_t cap = l->buf.cap;

        mcp_buf_dispose(&l->buf);
        mcp_buf_init(&l->buf, cap);
    }
}

/* ---- the id of a message that does not parse -------------------------------------------- */

static int parse_int(const char *p, const char *end, int64_t *id)
{
    int neg = p < end && *p == '-';
    uint64_t v = 0;
    const char *d = p + neg;

    if (d >= end || *d < '0' || *d > '9')
        return 0;
    for (; d < end && *d >= '0' && *d <= '9'; d++) {
        if (v > (uint64_t)INT64_MAX / 10)
            return 0;
        v = v * 10 + (uint64_t)(*d - '0');
    }
    /* a number cut off by the end of what we have may be longer: not known */
    if (v > (uint64_t)INT64_MAX || d == end || *d == '.' || *d == 'e' || *d == 'E')
        return 0;
    *id = neg ? -(int64_t)v : (int64_t)v;
    return 1;
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
        p++;
    return p;
}

int px_scan_id(const char *p, size_t n, int64_t *id)
{
    const char *end = p + n;
    int depth = 0;

    for (const char *q = skip_ws(p, end); q < end; q++) {
        if (*q == '"') {
            const char *s = ++q;

            while (q < end && *q != '"')
                q += *q == '\\' ? 2 : 1;
            if (q >= end)
                return 0;
            if (depth == 1 && q - s == 2 && memcmp(s, "id", 2) == 0) {
                const char *v = skip_ws(q + 1, end);

                if (v < end && *v == ':')
                    return parse_int(skip_ws(v + 1, end), end, id);
            }
        } else if (*q == '{' || *q == '[') {
            if (depth == 0 && *q != '{')
                return 0;
            depth++;
        } else if (*q == '}' || *q == ']') {
            if (--depth <= 0)
                return 0;
        }
    }
    return 0;
}

int64_t px_line_cause(const char **line, size_t *len)
{
    const char *p = *line;
    size_t n = *len, i = 1;
    int64_t cause = 0;

    if (n == 0 || p[0] != '@')
        return 0;
    for (; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
        if (cause > (INT64_MAX - 9) / 10) {
            cause = 0; /* not ours: we write ids below 2^46 */
            while (i < n && p[i] >= '0' && p[i] <= '9')
                i++;
            break;
        }
        cause = cause * 10 + (p[i] - '0');
    }
    if (i < n && p[i] == ' ')
        i++;
    *line = p + i;
    *len = n - i;
    return cause;
}

int px_tail_id(const char *p, size_t n, int64_t *id)
{
    const char *e = p + n;

    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    if (e == p || e[-1] != '}')
        return 0;
    e--;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    const char *d = e;

    while (d > p && d[-1] >= '0' && d[-1] <= '9')
        d--;
    if (d > p && d[-1] == '-')
        d--;
    const char *colon = d;

    while (colon > p && (colon[-1] == ' ' || colon[-1] == '\t'))
        colon--;
    if (colon == p || colon[-1] != ':')
        return 0;
    colon--;
    while (colon > p && (colon[-1] == ' ' || colon[-1] == '\t'))
        colon--;
    if (colon - p < 5 || memcmp(colon - 4, "\"id\"", 4) != 0 || colon[-5] == '\\')
        return 0;
    return parse_int(d, p + n, id); /* the digits end at e, inside p[0..n) */
}

/* ---- SSE ---------------------------------------------------------------------------- */

int px_sse_event(mcp_buf_t *out, const char *event, const char *data, size_t len)
{
    int rc = 0;

    if (event)
        rc = mcp_buf_addf(out, "event: %s\n", event);
    while (rc == 0) {
        const char *nl = memchr(data, '\n', len);
        size_t n = nl ? (size_t)(nl - data) : len;

        if (n && data[n - 1] == '\r')
            n--;
        rc = mcp_buf_adds(out, "data: ");
        if (rc == 0)
            rc = mcp_buf_add(out, data, n);
        if (rc == 0)
            rc = mcp_buf_adds(out, "\n");
        if (!nl)
            break;
        len -= (size_t)(nl - data) + 1;
        data = nl + 1;
    }
    return rc ? rc : mcp_buf_adds(out, "\n");
}

/* ---- reading SSE (HTML Living Standard, "Interpreting an event stream") -------------- */

static void sse_reader_line(void *ctx, const char *line, size_t len)
{
    px_sse_reader_t *r = ctx;
    const char *colon;
    size_t name_len, vlen;
    const char *v;

    if (!line) { /* a line over the cap: the event it belongs to is too large */
        r->too_big = 1;
        return;
    }
    if (len == 0) { /* dispatch */
        if (r->too_big)
            r->cb(r->ctx, r->event[0] ? r->event : "message", NULL, 0);
        else if (r->has_data)
            r->cb(r->ctx, r->event[0] ? r->event : "message", r->data.data ? r->data.data : "",
                  r->data.len);
        mcp_buf_reset(&r->data);
        r->event[0] = '\0';
        r->has_data = r->too_big = 0;
        return;
    }
    colon = memchr(line, ':', len);
    name_len = colon ? (size_t)(colon - line) : len;
    v = colon ? colon + 1 : line + len;
    vlen = colon ? len - name_len - 1 : 0;
    if (vlen && *v == ' ')
        v++, vlen--;
    if (name_len == 0) /* a comment */
        return;
    if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        if (vlen >= sizeof(r->event))
            vlen = sizeof(r->event) - 1;
        memcpy(r->event, v, vlen);
        r->event[vlen] = '\0';
    } else if (name_len == 4 && memcmp(line, "data", 4) == 0 && !r->too_big) {
        if ((r->has_data && mcp_buf_add(&r->data, "\n", 1) != 0) ||
            mcp_buf_add(&r->data, v, vlen) != 0)
            r->too_big = 1;
        r->has_data = 1;
    } /* id, retry and unknown fields: nothing the proxy uses */
}

void px_sse_reader_init(px_sse_reader_t *r, size_t cap, px_sse_cb cb, void *ctx)
{
    memset(r, 0, sizeof(*r));
    px_lines_init(&r->lines, cap + 16);
    r->lines.flags = PX_LINES_EMPTY | PX_LINES_DROPS;
    mcp_buf_init(&r->data, cap);
    r->cb = cb;
    r->ctx = ctx;
}

void px_sse_reader_dispose(px_sse_reader_t *r)
{
    px_lines_dispose(&r->lines);
    mcp_buf_dispose(&r->data);
}

void px_sse_reader_feed(px_sse_reader_t *r, const char *p, size_t n)
{
    px_lines_feed(&r->lines, p, n, sse_reader_line, r);
}

/* ---- the MCP headers of a POST to a Streamable HTTP server -------------------------------- */

/* printable ASCII without spaces goes as it is; anything else as "=?base64?...?=" (2026-07-28,
 * Streamable HTTP, header value encoding) */
static void add_name_header(const char *name, px_header_cb add, void *ctx)
{
    size_t n = strlen(name);
    char *line;

    if (px_visible_ascii(name, n)) {
        line = malloc(n + 11);
        if (line)
            snprintf(line, n + 11, "Mcp-Name: %s", name);
    } else {
        size_t cap = 4 * ((n + 2) / 3) + 23;

        line = malloc(cap);
        if (line) {
            memcpy(line, "Mcp-Name: =?base64?", 19);
            EVP_EncodeBlock((unsigned char *)line + 19, (const unsigned char *)name, (int)n);
            strcat(line, "?=");
        }
    }
    if (line)
        add(ctx, line);
    free(line);
}

int px_visible_ascii(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] < 0x21 || p[i] > 0x7e)
            return 0;
    return 1;
}

/* 1 to max bytes of visible ASCII: what may go into a header as it is (a
 * client's method or version with CR LF must not add headers). */
static int header_safe(const char *v, size_t max)
{
    size_t n = strnlen(v, max + 1);

    return n > 0 && n <= max && px_visible_ascii(v, n);
}

void px_mcp_headers(const json_t *msg, const char *version, px_header_cb add, void *ctx)
{
    const char *method = px_msg_method(msg);
    const char *pv = json_string_value(px_msg_meta(msg, PX_META_VERSION));
    const char *name;
    char line[160];

    if (!pv)
        pv = version;
    if (pv && header_safe(pv, 64)) {
        snprintf(line, sizeof(line), "MCP-Protocol-Version: %s", pv);
        add(ctx, line);
    }
    if (!header_safe(method, 120))
        return;
    snprintf(line, sizeof(line), "Mcp-Method: %s", method);
    add(ctx, line);
    name = px_msg_mcp_name(msg);
    if (name)
        add_name_header(name, add, ctx);
}

const char *px_msg_mcp_name(const json_t *msg)
{
    const char *method = px_msg_method(msg);
    json_t *params = json_object_get(msg, "params");

    if (strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0)
        return json_string_value(json_object_get(params, "name"));
    if (strcmp(method, "resources/read") == 0)
        return json_string_value(json_object_get(params, "uri"));
    return NULL;
}
