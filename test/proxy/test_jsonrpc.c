/* JSON-RPC classification, the newline framing towards a stdio server
 * (split reads, CRLF, over-long lines dropped whole), SSE framing towards
 * clients (decoded back by a small reader that follows the SSE rules), the
 * era helpers (_meta added and stripped, answers built from what was
 * learned). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/log.h"
#include "../../proxy/bridge/bridge.h"

static void test_kinds(void **state)
{
    static const struct {
        const char *json;
        px_kind_t kind;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\"}", PX_MSG_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"id\":\"x\",\"method\":\"a\",\"params\":{}}", PX_MSG_REQUEST},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"a\"}", PX_MSG_NOTIFICATION},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}", PX_MSG_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{}}", PX_MSG_RESPONSE},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}", PX_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1}", PX_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"a\"}", PX_MSG_INVALID},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"a\",\"params\":3}", PX_MSG_INVALID},
        {"{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"a\"}", PX_MSG_INVALID},
        {"{\"id\":1,\"method\":\"a\"}", PX_MSG_INVALID},
        {"[]", PX_MSG_INVALID},
    };

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(cases); i++) {
        json_t *m = json_loads(cases[i].json, JSON_DECODE_ANY, NULL);

        assert_non_null(m);
        assert_int_equal(px_msg_kind(m), cases[i].kind);
        json_decref(m);
    }
}

static void test_parse_errors(void **state)
{
    int code;

    (void)state;
    assert_null(px_parse("{", 1, &code));
    assert_int_equal(code, PX_E_PARSE);
    assert_null(px_parse("[{}]", 4, &code));
    assert_int_equal(code, PX_E_INVALID);
    assert_null(px_parse("{\"a\":1,\"a\":2}", 13, &code)); /* duplicate keys */
    json_t *ok = px_parse("{\"a\":1}", 7, &code);
    assert_non_null(ok);
    json_decref(ok);
}

typedef struct lines {
    char got[8][64];
    int n;
} lines_t;

static void on_line(void *ctx, const char *line, size_t len)
{
    lines_t *l = ctx;

    assert_true(l->n < 8 && len < 64);
    memcpy(l->got[l->n], line, len);
    l->got[l->n++][len] = '\0';
}

static void test_lines(void **state)
{
    px_lines_t lf;
    lines_t got = {0};
    const char *in = "{\"a\":1}\n{\"b\"\r\n\n:2}\n0123456789abcdefghij\nlast";

    (void)state;
    px_lines_init(&lf, 16);
    for (const char *p = in; *p; p++) /* one byte at a time */
        px_lines_feed(&lf, p, 1, on_line, &got);
    assert_int_equal(got.n, 3);
    assert_string_equal(got.got[0], "{\"a\":1}");
    assert_string_equal(got.got[1], "{\"b\"");
    assert_string_equal(got.got[2], ":2}");
    assert_int_equal(lf.dropped, 1); /* 20 bytes > cap 16 */
    px_lines_feed(&lf, "\n", 1, on_line, &got);
    assert_int_equal(got.n, 4);
    assert_string_equal(got.got[3], "last");
    /* a whole over-long line in one read is dropped too */
    px_lines_feed(&lf, "01234567890123456789\nok\n", 24, on_line, &got);
    assert_int_equal(got.n, 5);
    assert_string_equal(got.got[4], "ok");
    assert_int_equal(lf.dropped, 2);
    px_lines_dispose(&lf);
}

/* Events as px_sse_reader delivers them (NULL data: "<too big>"). */
typedef struct sse_got {
    char events[8][128], names[8][32];
    int n;
} sse_got_t;

static void on_event(void *ctx, const char *event, const char *data, size_t len)
{
    sse_got_t *g = ctx;

    assert_true(g->n < 8);
    snprintf(g->names[g->n], sizeof(g->names[0]), "%s", event);
    snprintf(g->events[g->n++], sizeof(g->events[0]), "%.*s", data ? (int)len : 10,
             data ? data : "<too big>");
}

/* Decode SSE the way a client does, fed byte by byte (splits anywhere). */
static int sse_decode(const char *s, char events[][128], char names[][32], int max)
{
    px_sse_reader_t r;
    sse_got_t g = {.n = 0};

    px_sse_reader_init(&r, 100, on_event, &g);
    for (; *s; s++)
        px_sse_reader_feed(&r, s, 1);
    px_sse_reader_dispose(&r);
    for (int i = 0; i < g.n && i < max; i++) {
        strcpy(events[i], g.events[i]);
        strcpy(names[i], g.names[i]);
    }
    return g.n;
}

/* What a server's text/event-stream may hold (HTML, "Interpreting an event
 * stream"): comments, a priming event with an id and empty data (MCP
 * 2025-11-25), "data:" without the space, CRLF, fields we ignore, an event
 * without data, and one over the cap, after which reading goes on. */
/* The id of an answer that does not parse (issue 18, item 5): only a
 * member "id" of the outermost object, never one nested or inside a string. */
static void test_scan_id(void **state)
{
    static const struct {
        const char *in;
        int found;
        long long id;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":42,\"result\":{\"n\":1e999}}", 1, 42},
        {"{\"result\":{\"id\":7,\"s\":\"\\ud800\"},\"id\":8}", 1, 8},
        {"{\"result\":{\"s\":\"\\\"id\\\":9\"},\"id\" : -3 }", 1, -3},
        {"{\"result\":{\"s\":\"\\\"id\\\":9\"}", 0, 0},
        {"[{\"id\":1}]", 0, 0},
        {"{\"id\":\"str\"}", 0, 0},
        {"{\"id\":1.5}", 0, 0},
        {"{\"id\":99999999999999999999}", 0, 0},
        {"{\"id\":12", 0, 0}, /* cut off: maybe 123 */
        {"{\"id\":12,", 1, 12},
        {"", 0, 0},
        {"{\"a\":\"\\", 0, 0},
    };
    int64_t id;

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(cases); i++) {
        id = 0;
        assert_int_equal(px_scan_id(cases[i].in, strlen(cases[i].in), &id), cases[i].found);
        if (cases[i].found)
            assert_int_equal(id, cases[i].id);
    }
    assert_int_equal(px_tail_id("xx\"}]},\"jsonrpc\":\"2.0\",\"id\":31}\r\n", 33, &id), 1);
    assert_int_equal(id, 31);
    assert_int_equal(px_tail_id("xx\",\"id\": 5 }", 13, &id), 1);
    assert_int_equal(px_tail_id("xx\\\"id\":5}", 10, &id), 0); /* an escaped quote */
    assert_int_equal(px_tail_id("\"id\":5]", 7, &id), 0);
    assert_int_equal(px_tail_id("}", 1, &id), 0);
}

static void on_drop(void *ctx, const char *head, size_t hn, const char *tail, size_t tn)
{
    char *out = ctx;

    snprintf(out, 1024, "%.*s|%.*s", (int)hn, head, (int)tn, tail);
}

static void no_line(void *ctx, const char *line, size_t len)
{
    (void)ctx, (void)line, (void)len;
}

/* A dropped line's first and last bytes, whether it came in one piece or many. */
static void test_lines_peek(void **state)
{
    char got[1024], line[2000];
    px_lines_t l;

    (void)state;
    memset(line, 'x', sizeof(line));
    memcpy(line, "HEAD", 4);
    memcpy(line + sizeof(line) - 5, "TAIL\n", 5);
    for (size_t piece = 1; piece <= sizeof(line); piece = piece * 3 + 1) {
        px_lines_init(&l, 600);
        l.on_drop = on_drop;
        got[0] = '\0';
        for (size_t i = 0; i < sizeof(line); i += piece)
            px_lines_feed(&l, line + i, i + piece < sizeof(line) ? piece : sizeof(line) - i,
                          no_line, got);
        assert_int_equal(strncmp(got, "HEAD", 4), 0);
        assert_int_equal(strlen(got), 2 * PX_PEEK + 1);
        assert_string_equal(got + strlen(got) - 4, "TAIL");
        assert_int_equal(l.dropped, 1);
        px_lines_dispose(&l);
    }
}

static void test_sse_reader(void **state)
{
    char ev[8][128], names[8][32];
    char big[400];
    mcp_buf_t in;

    (void)state;
    assert_int_equal(sse_decode(": keep-alive\n\nid: 7\ndata:\n\n"
                                "retry: 100\nevent: endpoint\r\ndata:/messages?s=1\r\n\r\n"
                                "event: nothing\n\n"
                                "data: {\"a\":\n"
                                "data: 1}\nfoo: bar\n\n",
                                ev, names, 8),
                     3);
    assert_string_equal(names[0], "message");
    assert_string_equal(ev[0], ""); /* the priming event: dispatched, empty */
    assert_string_equal(names[1], "endpoint");
    assert_string_equal(ev[1], "/messages?s=1");
    assert_string_equal(names[2], "message");
    assert_string_equal(ev[2], "{\"a\":\n1}");
    /* over the cap (100): one long line, then many short ones; each reported once */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    mcp_buf_init(&in, 4096);
    mcp_buf_addf(&in, "data: %s\n\n", big);
    for (int i = 0; i < 30; i++)
        mcp_buf_adds(&in, "data: 0123456789\n");
    mcp_buf_adds(&in, "\nevent: after\ndata: ok\n\n");
    assert_int_equal(sse_decode(in.data, ev, names, 8), 3);
    assert_string_equal(ev[0], "<too big>");
    assert_string_equal(ev[1], "<too big>");
    assert_string_equal(names[2], "after");
    assert_string_equal(ev[2], "ok");
    mcp_buf_dispose(&in);
}

static void add_line(void *ctx, const char *line)
{
    mcp_buf_t *b = ctx;

    mcp_buf_addf(b, "%s|", line);
}

static char *headers_of(const char *json, const char *version)
{
    json_t *m = json_loads(json, 0, NULL);
    mcp_buf_t b;

    assert_non_null(m);
    mcp_buf_init(&b, 4096);
    mcp_buf_adds(&b, "");
    px_mcp_headers(m, version, add_line, &b);
    json_decref(m);
    return mcp_buf_take(&b);
}

/* The headers a Streamable HTTP server of either era checks (2026-07-28
 * "Standard headers"; MCP-Protocol-Version since 2025-06-18). */
static void test_mcp_headers(void **state)
{
    static const struct {
        const char *json, *version, *want;
    } cases[] = {
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"get-sum\","
         "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\"}}}",
         "2025-11-25",
         "MCP-Protocol-Version: 2026-07-28|Mcp-Method: tools/call|Mcp-Name: get-sum|"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"resources/read\",\"params\":{\"uri\":\"file://"
         "/a\"}}",
         "2025-11-25",
         "MCP-Protocol-Version: 2025-11-25|Mcp-Method: resources/read|Mcp-Name: file:///a|"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"prompts/"
         "get\",\"params\":{\"name\":\"caf\u00e9 au lait\"}}",
         NULL, "Mcp-Method: prompts/get|Mcp-Name: =?base64?Y2Fmw6kgYXUgbGFpdA==?=|"},
        {"{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", "2025-06-18",
         "MCP-Protocol-Version: 2025-06-18|Mcp-Method: notifications/initialized|"},
        {"{\"jsonrpc\":\"2.0\",\"id\":3,\"result\":{}}", "2025-11-25",
         "MCP-Protocol-Version: 2025-11-25|"},
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":7}}", NULL,
         "Mcp-Method: tools/call|"},
        /* a client's method or version that would add a header goes nowhere */
        {"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\\r\\nX-Evil: 1\",\"params\":{\"_meta\":{"
         "\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\\r\\nX-Evil: 1\"}}}",
         "2025-11-25", ""},
    };

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(cases); i++) {
        char *got = headers_of(cases[i].json, cases[i].version);

        assert_string_equal(got, cases[i].want);
        free(got);
    }
}

static void test_sse(void **state)
{
    mcp_buf_t b;
    char ev[4][128], names[4][32];

    (void)state;
    mcp_buf_init(&b, 1024);
    assert_int_equal(px_sse_event(&b, NULL, "{\"a\":1}", 7), 0);
    assert_int_equal(px_sse_event(&b, "endpoint", "/messages?session_id=x", 22), 0);
    assert_int_equal(px_sse_event(&b, "message", "line1\r\nline2\nline3", 18), 0);
    assert_string_equal(b.data,
                        "data: {\"a\":1}\n\nevent: endpoint\ndata: /messages?session_id=x\n\n"
                        "event: message\ndata: line1\ndata: line2\ndata: line3\n\n");
    assert_int_equal(sse_decode(b.data, ev, names, 4), 3);
    assert_string_equal(ev[0], "{\"a\":1}");
    assert_string_equal(names[0], "message");
    assert_string_equal(names[1], "endpoint");
    assert_string_equal(ev[2], "line1\nline2\nline3");
    mcp_buf_dispose(&b);
    /* the cap holds */
    mcp_buf_init(&b, 10);
    assert_int_equal(px_sse_event(&b, NULL, "0123456789", 10), MCP_ETOOBIG);
    mcp_buf_dispose(&b);
}

static void test_meta_added_and_stripped(void **state)
{
    json_t *m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\"}", 0, NULL);
    json_t *caps = json_pack("{s:{}}", "sampling");
    json_t *info = json_pack("{s:s}", "name", "c");

    (void)state;
    assert_int_equal(px_era_add_meta(m, "2026-07-28", caps, info, "info"), 0);
    assert_string_equal(json_string_value(px_msg_meta(m, PX_META_VERSION)), "2026-07-28");
    assert_true(json_equal(px_msg_meta(m, PX_META_CAPS), caps));
    assert_string_equal(json_string_value(px_msg_meta(m, PX_META_LOGLEVEL)), "info");
    json_object_set_new(json_object_get(json_object_get(m, "params"), "_meta"), "progressToken",
                        json_integer(4));
    px_era_strip_meta(m);
    assert_null(px_msg_meta(m, PX_META_VERSION));
    assert_null(px_msg_meta(m, PX_META_CLIENT));
    assert_int_equal(json_integer_value(px_msg_meta(m, "progressToken")), 4);
    json_object_del(json_object_get(json_object_get(m, "params"), "_meta"), "progressToken");
    px_era_strip_meta(m); /* an empty _meta goes away */
    assert_null(json_object_get(json_object_get(m, "params"), "_meta"));
    json_decref(m);
    json_decref(caps);
    json_decref(info);
    /* params that are not an object: refused, not crashed */
    m = json_loads("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"x\",\"params\":[1]}", 0, NULL);
    assert_int_not_equal(px_era_add_meta(m, "2026-07-28", NULL, NULL, NULL), 0);
    json_decref(m);
}

static void test_answers_from_learned_info(void **state)
{
    px_server_info_t si = {0};
    json_t *init = json_loads("{\"protocolVersion\":\"2024-11-05\",\"capabilities\":{\"tools\":{}},"
                              "\"serverInfo\":{\"name\":\"s\",\"version\":\"1\"},"
                              "\"instructions\":\"hi\"}",
                              0, NULL);
    json_t *disc =
        json_loads("{\"supportedVersions\":[\"2026-07-28\",\"2025-11-25\"],"
                   "\"capabilities\":{\"tools\":{},\"extensions\":{\"x/y\":{}}},"
                   "\"_meta\":{\"io.modelcontextprotocol/serverInfo\":{\"name\":\"m\"}}}",
                   0, NULL);
    json_t *r;

    (void)state;
    assert_int_equal(px_era_learn_initialize(&si, init), 0);
    assert_string_equal(si.version, "2024-11-05");
    r = px_era_discover_result(&si);
    assert_string_equal(json_string_value(json_object_get(r, "instructions")), "hi");
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "complete");
    json_decref(r);
    assert_int_equal(px_era_learn_discover(&si, disc), 0);
    assert_int_equal(si.era, PX_ERA_MODERN);
    r = px_era_initialize_result(&si, "2025-03-26");
    assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), "2025-03-26");
    assert_null(json_object_get(json_object_get(r, "capabilities"), "extensions"));
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")), "m");
    json_decref(r);
    r = px_era_initialize_result(&si, "1999-01-01"); /* unknown: the latest handshake version */
    assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), PX_LEGACY_LATEST);
    json_decref(r);
    px_server_info_clear(&si);
    json_decref(init);
    json_decref(disc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_scan_id),
        cmocka_unit_test(test_lines_peek),
        cmocka_unit_test(test_sse),
        cmocka_unit_test(test_sse_reader),
        cmocka_unit_test(test_mcp_headers),
        cmocka_unit_test(test_meta_added_and_stripped),
        cmocka_unit_test(test_answers_from_learned_info),
    };

    mcp_log_set_level(MCP_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
