/* The tool filter (--tools, ToolHive's spec.tools): what the proxy changes
 * in the server's answers, without I/O, for both paths.
 *
 * The stdio bridge filters the tools/list results it routes itself. The
 * HTTP transports pass the server's bytes through h2o's reverse proxy;
 * there revproxy.c hands the answers that may need a change to this file:
 * a whole application/json body (px_tf_json) or a text/event-stream, event
 * by event (px_sse_filter_*, over the proxy's newline framing, each event
 * capped). Two changes are made to JSON-RPC responses, single or batched:
 *   - a tools/list result (the only MCP result with a `tools` array) keeps
 *     only the allowed tools;
 *   - the answer to a refused tools/call, which the proxy forwarded as a
 *     `ping` with the same id (so that the answer travels where the
 *     transport puts it, e.g. on the /sse stream), becomes the refusal.
 * Fail closed: every message is parsed (no search for "tools" in the bytes
 * first: `\u0074ools` is the same key), and a body or event the filter
 * cannot parse is replaced by a JSON-RPC error. What parses and needs no
 * change passes unchanged, byte for byte, and so does what holds nothing to
 * parse: an empty body, an event with empty data (the priming event of a
 * resumable stream, MCP 2025-11-25). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"

#define SKIP_KEEP_BYTES 65536 /* buffers above this are freed after use */

/* ---- the filter itself ------------------------------------------------------------------ */

void px_tools_filter_result(const px_config_t *cfg, json_t *result)
{
    json_t *tools = json_object_get(result, "tools");

    for (size_t i = 0; json_is_array(tools) && i < json_array_size(tools);) {
        const char *name = json_string_value(json_object_get(json_array_get(tools, i), "name"));

        if (px_tool_allowed(cfg, name))
            i++;
        else
            json_array_remove(tools, i);
    }
}

void px_tools_refusal_message(char *m, size_t n, const char *name)
{
    snprintf(m, n, "Unknown tool: %.120s (not in this server's tool filter)", name ? name : "");
}

json_t *px_tools_refusal(json_t *id, const char *name)
{
    char m[200];

    px_tools_refusal_message(m, sizeof(m), name);
    return px_error_new(id, PX_E_PARAMS, m, NULL);
}

char *px_tf_id_key(const json_t *id)
{
    return json_is_string(id) || json_is_integer(id) || json_is_real(id)
               ? json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY)
               : NULL;
}

/* One request of a client's message: refused tools/call -> ping (same id),
 * its name recorded in `refused` (id key -> name); a tools/list noted. */
static json_t *check_request(const px_config_t *cfg, json_t *msg, json_t *refused, int *lists)
{
    const char *method, *name;
    char *key;
    json_t *ping;

    if (px_msg_kind(msg) != PX_MSG_REQUEST)
        return NULL;
    method = px_msg_method(msg);
    if (strcmp(method, "tools/list") == 0)
        (*lists)++;
    if (strcmp(method, "tools/call") != 0)
        return NULL;
    name = json_string_value(json_object_get(json_object_get(msg, "params"), "name"));
    if (px_tool_allowed(cfg, name))
        return NULL;
    key = px_tf_id_key(json_object_get(msg, "id"));
    ping = json_pack("{s:s, s:O, s:s}", "jsonrpc", "2.0", "id", json_object_get(msg, "id"),
                     "method", "ping");
    if (!key || !ping || json_object_set_new(refused, key, json_string(name ? name : "")) != 0) {
        free(key);
        json_decref(ping);
        return NULL;
    }
    free(key);
    return ping;
}

int px_tf_request(const px_config_t *cfg, json_t **msg, json_t *refused, int *lists)
{
    int changed = 0;
    json_t *ping;

    *lists = 0;
    if (!json_is_array(*msg)) {
        ping = check_request(cfg, *msg, refused, lists);
        if (ping) {
            json_decref(*msg);
            *msg = ping;
            changed = 1;
        }
        return changed;
    }
    for (size_t i = 0; i < json_array_size(*msg); i++) {
        ping = check_request(cfg, json_array_get(*msg, i), refused, lists);
        if (ping) {
            json_array_set_new(*msg, i, ping);
            changed++;
        }
    }
    return changed;
}

/* One message of the server's: 1 when changed (*msg may be replaced). */
static int rewrite_one(px_tf_t *tf, const char *key, json_t **msg)
{
    json_t *result = json_object_get(*msg, "result");
    json_t *id = json_object_get(*msg, "id");
    char name[160];

    if (px_msg_kind(*msg) != PX_MSG_RESPONSE)
        return 0;
    if (tf->refused && tf->refused(tf->ctx, key, id, name, sizeof(name))) {
        json_t *e = px_tools_refusal(id, name);

        if (!e)
            return 0;
        json_decref(*msg);
        *msg = e;
        return 1;
    }
    if (json_is_array(json_object_get(result, "tools"))) {
        size_t before = json_array_size(json_object_get(result, "tools"));

        px_tools_filter_result(tf->cfg, result);
        return json_array_size(json_object_get(result, "tools")) != before;
    }
    return 0;
}

int px_tf_rewrite(px_tf_t *tf, const char *key, json_t **v)
{
    int changed = 0;

    if (!json_is_array(*v))
        return rewrite_one(tf, key, v);
    for (size_t i = 0; i < json_array_size(*v); i++) {
        json_t *m = json_incref(json_array_get(*v, i));

        if (rewrite_one(tf, key, &m)) {
            json_array_set(*v, i, m);
            changed++;
        }
        json_decref(m);
    }
    return changed;
}

/* The error that replaces an answer the filter cannot parse: a new string
 * (NULL when out of memory). */
static char *unreadable(const px_tf_t *tf, const json_error_t *e)
{
    char m[240];
    json_t *err;
    char *s;

    snprintf(m, sizeof(m),
             "the MCP server's answer is not JSON the tool filter can read (line %d, column %d: "
             "%.120s): withheld",
             e->line, e->column, e->text);
    err = px_error_new(tf->err_id, PX_E_INTERNAL, m, NULL);
    s = err ? json_dumps(err, JSON_COMPACT) : NULL;
    json_decref(err);
    return s;
}

/* A message or batch, rewritten: a new string when it changed or does not
 * parse (then the error), NULL when it goes out as it came. *rc is
 * MCP_ENOMEM when a string was due but could not be made. */
static char *filter_text(px_tf_t *tf, const char *key, const char *p, size_t n, int *rc)
{
    json_error_t e;
    json_t *v = json_loadb(p, n, JSON_DECODE_ANY, &e);
    char *s = NULL;
    int due = 1;

    if (!v)
        s = unreadable(tf, &e);
    else if (px_tf_rewrite(tf, key, &v) > 0)
        s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    else
        due = 0;
    json_decref(v);
    *rc = due && !s ? MCP_ENOMEM : 0;
    return s;
}

int px_tf_json(px_tf_t *tf, const char *body, size_t len, mcp_buf_t *out)
{
    char *s;
    int rc;

    mcp_buf_reset(out);
    if (len == 0) /* nothing to read: an empty body holds no message */
        return 0;
    s = filter_text(tf, NULL, body, len, &rc);
    if (!s && rc == 0)
        return 0;
    if (!s || mcp_buf_adds(out, s) != 0) { /* fail closed all the same */
        free(s);
        mcp_buf_reset(out);
        return px_tf_too_large(tf, out) == 0 ? 1 : MCP_ENOMEM;
    }
    free(s);
    return 1;
}

int px_tf_too_large(const px_tf_t *tf, mcp_buf_t *out)
{
    json_t *e =
        px_error_new(tf->err_id, PX_E_INTERNAL,
                     "answer larger than --max-message-bytes: dropped by the tool filter", NULL);
    int rc = e ? px_dump(e, out) : MCP_ENOMEM;

    json_decref(e);
    return rc;
}

/* ---- text/event-stream, event by event ---------------------------------------------------- */

void px_sse_filter_init(px_sse_filter_t *f, const px_config_t *cfg, size_t cap)
{
    memset(f, 0, sizeof(*f));
    f->tf.cfg = cfg;
    f->cap = cap;
    px_lines_init(&f->lines, cap);
    f->lines.flags = PX_LINES_EMPTY | PX_LINES_DROPS;
    mcp_buf_init(&f->event, cap);
    mcp_buf_init(&f->data, cap);
}

void px_sse_filter_dispose(px_sse_filter_t *f)
{
    px_lines_dispose(&f->lines);
    mcp_buf_dispose(&f->event);
    mcp_buf_dispose(&f->data);
}

static void shrink(mcp_buf_t *b)
{
    if (b->len == 0 && b->alloc > SKIP_KEEP_BYTES) {
        size_t cap = b->cap;

        mcp_buf_dispose(b);
        mcp_buf_init(b, cap);
    }
}

/* "field: value" (one optional space after the colon) -> 1 when the field is `name`. */
static int field(const char *line, size_t n, const char *name, const char **val, size_t *vlen)
{
    size_t k = strlen(name);

    if (n < k || memcmp(line, name, k) != 0 || (n > k && line[k] != ':'))
        return 0;
    *val = n > k ? line + k + 1 : line + n;
    *vlen = n > k ? n - k - 1 : 0;
    if (*vlen && **val == ' ')
        (*val)++, (*vlen)--;
    return 1;
}

static void oversized(px_sse_filter_t *f)
{
    mcp_buf_t err;

    f->oversized++;
    f->skipping = 1;
    mcp_buf_reset(&f->event);
    mcp_buf_init(&err, f->cap);
    if (px_tf_too_large(&f->tf, &err) == 0 &&
        px_sse_event(f->out, "message", err.data, err.len) != 0)
        f->out_err = MCP_ETOOBIG;
    mcp_buf_dispose(&err);
}

/* HTTP+SSE: the endpoint event's URI names the session; its path and query
 * (the scheme and host of an absolute URI left out) are the session's key,
 * as the client will POST to it. */
static void learn_key(px_sse_filter_t *f)
{
    const char *u = f->data.data ? f->data.data : "", *end = u + f->data.len;
    const char *sch = f->data.len > 3 ? memmem(u, f->data.len, "://", 3) : NULL;

    if (sch && !memchr(u, '/', (size_t)(sch - u)) && !memchr(u, '?', (size_t)(sch - u))) {
        const char *slash = memchr(sch + 3, '/', (size_t)(end - sch - 3));

        u = slash ? slash : end;
    }
    snprintf(f->key, sizeof(f->key), "%.*s", (int)(end - u), u);
}

/* A complete event (its lines in f->event, each ending in "\n"). */
static void event_done(px_sse_filter_t *f)
{
    const char *p = f->event.data ? f->event.data : "", *end = p + f->event.len;
    const char *name = "", *val;
    size_t name_len = 0, vlen;
    int n_data = 0, rc = 0;
    char *s = NULL;

    mcp_buf_reset(&f->data);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)(nl - p);

        if (field(p, n, "event", &val, &vlen)) {
            name = val;
            name_len = vlen;
        } else if (field(p, n, "data", &val, &vlen)) {
            if ((n_data++ && mcp_buf_adds(&f->data, "\n") != 0) ||
                mcp_buf_add(&f->data, val, vlen) != 0)
                rc = -1;
        }
        p = nl + 1;
    }
    if (rc == 0 && name_len == 8 && memcmp(name, "endpoint", 8) == 0) {
        learn_key(f);
    } else if (rc == 0 && f->data.len > 0 && /* (empty data: a resumption's priming event) */
               (name_len == 0 || (name_len == 7 && !memcmp(name, "message", 7)))) {
        s = filter_text(&f->tf, f->key, f->data.data ? f->data.data : "", f->data.len, &rc);
    }
    if (s) { /* the other fields as they came, then the new data */
        f->rewritten++;
        for (p = end - f->event.len; rc == 0 && p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));

            if (!field(p, (size_t)(nl - p), "data", &val, &vlen))
                rc = mcp_buf_add(f->out, p, (size_t)(nl - p) + 1);
            p = nl + 1;
        }
        if (rc == 0)
            rc = px_sse_event(f->out, NULL, s, strlen(s));
    } else if (rc == 0 && f->event.len) { /* (nothing passes unread when memory ran out) */
        rc = mcp_buf_add(f->out, f->event.data, f->event.len);
        if (rc == 0)
            rc = mcp_buf_adds(f->out, "\n");
    }
    if (rc != 0)
        f->out_err = MCP_ETOOBIG;
    free(s);
    mcp_buf_reset(&f->event);
    mcp_buf_reset(&f->data);
    shrink(&f->event);
    shrink(&f->data);
}

static void on_line(void *ctx, const char *line, size_t n)
{
    px_sse_filter_t *f = ctx;

    if (!line) { /* longer than the cap */
        if (!f->skipping)
            oversized(f);
        return;
    }
    if (n == 0) {
        if (f->skipping)
            f->skipping = 0;
        else
            event_done(f);
        return;
    }
    if (f->skipping)
        return;
    if (mcp_buf_add(&f->event, line, n) != 0 || mcp_buf_adds(&f->event, "\n") != 0)
        oversized(f);
}

int px_sse_filter_feed(px_sse_filter_t *f, const char *p, size_t n, mcp_buf_t *out)
{
    f->out = out;
    f->out_err = 0;
    px_lines_feed(&f->lines, p, n, on_line, f);
    f->out = NULL;
    return f->out_err;
}
