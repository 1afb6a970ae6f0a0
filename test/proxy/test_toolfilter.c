/* The tool filter's rewriting for the HTTP transports (toolfilter.c):
 * requests (refused calls become pings, tools/list noticed), whole JSON
 * answers (tools/list results filtered, refusals put back, batches, an
 * answer that does not parse replaced by an error: fail closed), and event
 * streams fed in every possible split (events rewritten with their other
 * fields kept, events that do not parse or are over the cap replaced by an
 * error, a `tools` key written with escapes filtered all the same, the
 * HTTP+SSE session key learned). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/log.h"
#include "../../proxy/bridge/bridge.h"

static char *allowed[] = {"echo", "get-sum", NULL};

static void config(px_config_t *cfg)
{
    px_config_defaults(cfg);
    cfg->tools = allowed;
}

#define LIST_RESULT(id)                                                                            \
    "{\"jsonrpc\":\"2.0\",\"id\":" id ",\"result\":{\"tools\":[{\"name\":\"echo\"},"               \
    "{\"name\":\"get-env\"},{\"name\":\"get-sum\"}]}}"

/* Names of the tools in a tools/list result's JSON (NULL-free, comma-joined). */
static void names_of(const char *json, size_t len, char *out, size_t n)
{
    json_t *v = json_loadb(json, len, JSON_DECODE_ANY, NULL);
    json_t *tools = json_object_get(json_object_get(v, "result"), "tools");
    size_t off = 0;

    out[0] = '\0';
    assert_non_null(v);
    for (size_t i = 0; i < json_array_size(tools); i++)
        off +=
            (size_t)snprintf(out + off, n - off, "%s%s", i ? "," : "",
                             json_string_value(json_object_get(json_array_get(tools, i), "name")));
    json_decref(v);
}

/* ---- requests -------------------------------------------------------------------------------- */

static void test_request_single_and_batch(void **state)
{
    px_config_t cfg;
    json_t *refused = json_object(), *msg;
    int lists, changed;

    (void)state;
    config(&cfg);
    msg = json_loads("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"get-env\",\"arguments\":{}}}",
                     0, NULL);
    changed = px_tf_request(&cfg, &msg, refused, &lists);
    assert_int_equal(changed, 1);
    assert_int_equal(lists, 0);
    assert_string_equal(px_msg_method(msg), "ping");
    assert_int_equal(json_integer_value(json_object_get(msg, "id")), 7);
    assert_string_equal(json_string_value(json_object_get(refused, "7")), "get-env");
    json_decref(msg);

    msg = json_loads("[{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\"},"
                     "{\"jsonrpc\":\"2.0\",\"id\":\"b\",\"method\":\"tools/call\","
                     "\"params\":{\"name\":\"echo\"}},"
                     "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":\"tools/call\",\"params\":{}},"
                     "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}]",
                     0, NULL);
    changed = px_tf_request(&cfg, &msg, refused, &lists);
    assert_int_equal(changed, 1); /* only "c": a call without a name is not an allowed tool */
    assert_int_equal(lists, 1);
    assert_string_equal(px_msg_method(json_array_get(msg, 0)), "tools/list");
    assert_string_equal(px_msg_method(json_array_get(msg, 1)), "tools/call");
    assert_string_equal(px_msg_method(json_array_get(msg, 2)), "ping");
    assert_non_null(json_object_get(refused, "\"c\""));
    json_decref(msg);
    json_decref(refused);
}

/* ---- whole JSON answers ------------------------------------------------------------------------
 */

static int refused_cb(void *ctx, const char *key, const json_t *id, char *name, size_t n)
{
    json_t *map = ctx;
    char *k;
    json_t *v;

    (void)key;
    if (!id)
        return json_object_size(map) > 0;
    k = px_tf_id_key(id);
    v = json_object_get(map, k);
    if (v) {
        snprintf(name, n, "%s", json_string_value(v));
        json_object_del(map, k);
    }
    free(k);
    return v != NULL;
}

/* What the filter cannot parse does not pass: each becomes a JSON-RPC error
 * with the request's id (tf->err_id), whatever tools it lists. */
static void assert_json_answers_unreadable(px_tf_t *tf, mcp_buf_t *out)
{
    static const char *const bodies[] = {
        "<html>oops</html>", "{\"tools\":", " ",
        /* what other parsers take: a NUL, a lone surrogate, an integer over 2^63,
         * 1e999, a byte that is not UTF-8, nesting over jansson's 2048 */
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"get-env\","
        "\"description\":\"\\u0000\"}]}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"get-env\","
        "\"description\":\"\\ud800\"}]}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"get-env\","
        "\"n\":99999999999999999999}]}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"get-env\","
        "\"n\":1e999}]}}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"get-env\","
        "\"description\":\"\xff\"}]}}",
        NULL, /* the deep one, below */
    };
    size_t deep = 2100, n;
    char *nested = malloc(2 * deep + 200), *p = nested;
    json_t *id = json_integer(77), *v;

    p += sprintf(
        p, "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"tools\":[{\"name\":\"get-env\",\"n\":");
    memset(p, '[', deep);
    memset(p + deep, ']', deep);
    p += 2 * deep;
    p += sprintf(p, "}]}}");
    tf->err_id = id;
    for (size_t i = 0; i < MCP_ARRAY_LEN(bodies); i++) {
        const char *b = bodies[i] ? bodies[i] : nested;

        n = strlen(b);
        assert_int_equal(px_tf_json(tf, b, n, out), 1);
        v = json_loadb(out->data, out->len, 0, NULL);
        assert_non_null(v);
        assert_int_equal(json_integer_value(json_object_get(v, "id")), 77);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(v, "error"), "code")),
                         PX_E_INTERNAL);
        assert_null(strstr(out->data, "get-env"));
        json_decref(v);
    }
    tf->err_id = NULL; /* no id known: null */
    assert_int_equal(px_tf_json(tf, "x", 1, out), 1);
    assert_non_null(strstr(out->data, "\"id\":null"));
    json_decref(id);
    free(nested);
}

static void test_json_answers(void **state)
{
    px_config_t cfg;
    px_tf_t tf = {0};
    mcp_buf_t out;
    char names[256];
    const char *list = LIST_RESULT("1");
    const char *call = "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[]}}";
    json_t *map = json_pack("{s:s}", "3", "get-env"), *v;

    (void)state;
    config(&cfg);
    tf.cfg = &cfg;
    mcp_buf_init(&out, 1 << 20);
    assert_int_equal(px_tf_json(&tf, list, strlen(list), &out), 1);
    names_of(out.data, out.len, names, sizeof(names));
    assert_string_equal(names, "echo,get-sum");
    /* nothing to change, or nothing at all: the original bytes go out */
    assert_int_equal(px_tf_json(&tf, call, strlen(call), &out), 0);
    assert_int_equal(px_tf_json(&tf, "", 0, &out), 0);
    assert_json_answers_unreadable(&tf, &out);
    /* a batch: the ping's answer becomes the refusal, the list is filtered */
    tf.refused = refused_cb;
    tf.ctx = map;
    {
        const char *batch =
            "[" LIST_RESULT("1") ",{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}},"
                                 "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"content\":[]}}]";

        assert_int_equal(px_tf_json(&tf, batch, strlen(batch), &out), 1);
    }
    v = json_loadb(out.data, out.len, 0, NULL);
    assert_int_equal(json_array_size(v), 3);
    assert_int_equal(
        json_array_size(json_object_get(json_object_get(json_array_get(v, 0), "result"), "tools")),
        2);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(json_array_get(v, 1), "error"), "code")),
        PX_E_PARAMS);
    assert_non_null(strstr(json_string_value(json_object_get(
                               json_object_get(json_array_get(v, 1), "error"), "message")),
                           "get-env (not in this server's tool filter)"));
    assert_non_null(json_object_get(json_array_get(v, 2), "result"));
    assert_int_equal(json_object_size(map), 0); /* used up */
    json_decref(v);
    json_decref(map);
    mcp_buf_dispose(&out);
}

/* ---- event streams ----------------------------------------------------------------------------
 */

static void feed_split(px_config_t *cfg, const char *in, size_t split, size_t cap, mcp_buf_t *out,
                       px_tf_refused_cb cb, void *ctx, char *key, size_t keylen)
{
    px_sse_filter_t f;
    size_t n = strlen(in);

    px_sse_filter_init(&f, cfg, cap);
    f.tf.refused = cb;
    f.tf.ctx = ctx;
    mcp_buf_reset(out);
    for (size_t at = 0; at < n; at += split) {
        size_t k = n - at < split ? n - at : split;

        assert_int_equal(px_sse_filter_feed(&f, in + at, k, out), 0);
    }
    if (key)
        snprintf(key, keylen, "%s", f.key);
    px_sse_filter_dispose(&f);
}

static void test_sse_rewritten_in_any_split(void **state)
{
    px_config_t cfg;
    mcp_buf_t out;
    const char *in =
        ": stream open\n\n"
        "event: message\r\nid: 42\r\ndata: " LIST_RESULT(
            "\"x\"") "\r\n\r\n"
                     "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
                     "progress\",\"params\":{\"tools\":1}}\n\n"
                     "data: {\"jsonrpc\":\"2.0\",\"id\":9,\n"
                     "data: \"result\":{\"content\":[]}}\n\n"
                     "id: 43\ndata: not json \"tools\"\n\n"
                     "data: {\"jsonrpc\":\"2.0\",\"id\":10,\"result\":{\"\\u0074ools\":[{\"name\":"
                     "\"get-env\"},{\"name\":\"echo\"}]}}\n\n"
                     "event: other\ndata: not json\n\n"
                     "id: 44\ndata:\n\n"
                     "id: 45\ndata: \n\n";
    char want[4096];

    (void)state;
    config(&cfg);
    mcp_buf_init(&out, 1 << 20);
    snprintf(want, sizeof(want), "%s",
             ": stream open\n\n"
             "event: message\nid: 42\n"
             "data: {\"jsonrpc\":\"2.0\",\"id\":\"x\",\"result\":{\"tools\":[{\"name\":\"echo\"},"
             "{\"name\":\"get-sum\"}]}}\n\n"
             "event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/"
             "progress\",\"params\":{\"tools\":1}}\n\n"
             "data: {\"jsonrpc\":\"2.0\",\"id\":9,\n"
             "data: \"result\":{\"content\":[]}}\n\n"
             "id: 43\n"
             "data: {\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":"
             "\"the MCP server's answer is not JSON the tool filter can read (line 1, column 3: "
             "invalid token near 'not'): withheld\"}}\n\n"
             "data: {\"jsonrpc\":\"2.0\",\"id\":10,\"result\":{\"tools\":[{\"name\":\"echo\"}]}}"
             "\n\n"
             "event: other\ndata: not json\n\n"
             "id: 44\ndata:\n\n"
             "id: 45\ndata: \n\n");
    for (size_t split = 1; split <= strlen(in); split++) {
        feed_split(&cfg, in, split, 1 << 16, &out, NULL, NULL, NULL, 0);
        assert_string_equal(out.data, want);
    }
    mcp_buf_dispose(&out);
}

static void test_sse_session_refusals(void **state)
{
    px_config_t cfg;
    mcp_buf_t out;
    json_t *map = json_pack("{s:s}", "5", "get-env");
    char key[128];
    const char *in = "event: endpoint\ndata: /message?sessionId=abc-1\n\n"
                     "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}\n\n"
                     "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}\n\n";

    (void)state;
    config(&cfg);
    mcp_buf_init(&out, 1 << 20);
    feed_split(&cfg, in, 3, 1 << 16, &out, refused_cb, map, key, sizeof(key));
    assert_string_equal(key, "/message?sessionId=abc-1");
    assert_non_null(strstr(out.data, "event: endpoint\ndata: /message?sessionId=abc-1\n\n"));
    assert_non_null(strstr(out.data, "\"id\":5,\"error\":{\"code\":-32602"));
    assert_non_null(strstr(out.data, "{\"jsonrpc\":\"2.0\",\"id\":6,\"result\":{}}"));
    assert_int_equal(json_object_size(map), 0);
    json_decref(map);
    mcp_buf_dispose(&out);
}

static void test_sse_session_keys(void **state)
{
    static const struct {
        const char *endpoint, *key;
    } cases[] = {
        {"/message?sessionId=abc", "/message?sessionId=abc"},
        {"http://10.0.0.7:8080/messages/?session_id=x1", "/messages/?session_id=x1"},
        {"https://h", ""},
        {"/messages/abc", "/messages/abc"},
        {"/r?next=http://x/y", "/r?next=http://x/y"},
    };
    px_config_t cfg;
    mcp_buf_t out;
    char in[512], key[PX_SSE_KEY_MAX];

    (void)state;
    config(&cfg);
    mcp_buf_init(&out, 1 << 20);
    for (size_t i = 0; i < MCP_ARRAY_LEN(cases); i++) {
        snprintf(in, sizeof(in), "event: endpoint\ndata: %s\n\n", cases[i].endpoint);
        feed_split(&cfg, in, 5, 1 << 16, &out, NULL, NULL, key, sizeof(key));
        assert_string_equal(key, cases[i].key);
        assert_string_equal(out.data, in); /* passed on unchanged */
    }
    mcp_buf_dispose(&out);
}

static void test_sse_oversized_events(void **state)
{
    px_config_t cfg;
    mcp_buf_t out;
    size_t big = 3000;
    char *in = malloc(3 * big + 512), *p = in;

    (void)state;
    config(&cfg);
    mcp_buf_init(&out, 1 << 20);
    /* one line over the cap, then an event of many short lines over it, then a good one */
    p += sprintf(p, "event: message\ndata: ");
    memset(p, 'a', big);
    p += big;
    p += sprintf(p, "\n\n");
    for (int i = 0; i < 100; i++)
        p += sprintf(p, "data: %s\n", "0123456789012345678901234567890123456789");
    p += sprintf(p, "\n");
    p += sprintf(p, "data: " LIST_RESULT("1") "\n\n");
    for (size_t split = 1; split < 40; split += 7) {
        feed_split(&cfg, in, split, 2048, &out, NULL, NULL, NULL, 0);
        /* two errors, no byte of the dropped events, then the filtered list */
        assert_non_null(strstr(out.data, "\"message\":\"answer larger than --max-message-bytes"));
        assert_non_null(strstr(strstr(out.data, "larger than") + 1, "larger than"));
        assert_null(strstr(out.data, "aaaa"));
        assert_null(strstr(out.data, "0123456789"));
        assert_non_null(strstr(out.data, "[{\"name\":\"echo\"},{\"name\":\"get-sum\"}]"));
        assert_null(strstr(out.data, "get-env"));
    }
    free(in);
    mcp_buf_dispose(&out);
}

static void on_line(void *ctx, const char *line, size_t n)
{
    char *s = ctx;

    strcat(s, line ? "[" : "<dropped>");
    if (line) {
        strncat(s, line, n);
        strcat(s, "]");
    }
}

static void test_lines_empty_and_drops(void **state)
{
    px_lines_t l;
    char seen[256] = "";

    (void)state;
    px_lines_init(&l, 8);
    l.flags = PX_LINES_EMPTY | PX_LINES_DROPS;
    px_lines_feed(&l, "a\n\r\n0123456789\nb\n\n", 18, on_line, seen);
    assert_string_equal(seen, "[a][]<dropped>[b][]");
    px_lines_dispose(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_single_and_batch),
        cmocka_unit_test(test_json_answers),
        cmocka_unit_test(test_sse_rewritten_in_any_split),
        cmocka_unit_test(test_sse_session_refusals),
        cmocka_unit_test(test_sse_session_keys),
        cmocka_unit_test(test_sse_oversized_events),
        cmocka_unit_test(test_lines_empty_and_drops),
    };

    mcp_log_set_level(MCP_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
