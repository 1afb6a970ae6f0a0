/* The bridge in-process, with a fake upstream (the lines it writes are
 * captured) and fake client channels (the messages they get are captured):
 * learning the server's era, session multiplexing, id and progress-token
 * rewriting, routing of responses and notifications, cancellation both
 * ways, a handshake-era server's own requests, the tool filter, both era
 * translations, server restarts, caps and bad input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/log.h"
#include "../../proxy/internal.h"

#define MAXMSG 64

typedef struct fake_chan {
    px_chan_t super;
    json_t *got[MAXMSG];
    int n, finals, status;
} fake_chan_t;

typedef struct fixture {
    px_bridge_t *b;
    px_config_t cfg;
    json_t *up[MAXMSG]; /* lines written to the server */
    int n_up, restarts;
    fake_chan_t chans[8];
    uint64_t now;
} fixture_t;

static void fc_send(px_chan_t *c, const char *json, size_t len, int flags, int status)
{
    fake_chan_t *f = (fake_chan_t *)c;

    if (flags & PX_SEND_FINAL)
        f->finals++;
    if (!f->status && status)
        f->status = status;
    if (len) {
        assert_true(f->n < MAXMSG);
        f->got[f->n++] = json_loadb(json, len, 0, NULL);
        assert_non_null(f->got[f->n - 1]);
    }
}

static int up_write(void *ctx, const char *line, size_t len)
{
    fixture_t *fx = ctx;

    assert_null(memchr(line, '\n', len));
    assert_true(fx->n_up < MAXMSG);
    fx->up[fx->n_up++] = json_loadb(line, len, 0, NULL);
    assert_non_null(fx->up[fx->n_up - 1]);
    return 0;
}

static void up_restart(void *ctx, const char *why)
{
    fixture_t *fx = ctx;

    (void)why;
    fx->restarts++;
}

static fixture_t *fx_new(const char *tools)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    px_bridge_ops_t ops = {.write = up_write, .restart = up_restart, .ctx = fx};
    static char *filter[] = {"echo", NULL};

    px_config_defaults(&fx->cfg);
    if (tools)
        fx->cfg.tools = filter;
    fx->cfg.max_sessions = 4;
    fx->cfg.max_inflight = 3;
    for (int i = 0; i < 8; i++) {
        fx->chans[i].super.send = fc_send;
    }
    fx->b = px_bridge_new(&fx->cfg, &ops);
    assert_non_null(fx->b);
    return fx;
}

static void fx_free(fixture_t *fx)
{
    px_bridge_free(fx->b);
    for (int i = 0; i < fx->n_up; i++)
        json_decref(fx->up[i]);
    for (int c = 0; c < 8; c++)
        for (int i = 0; i < fx->chans[c].n; i++)
            json_decref(fx->chans[c].got[i]);
    free(fx);
}

static json_t *last_up(fixture_t *fx)
{
    assert_true(fx->n_up > 0);
    return fx->up[fx->n_up - 1];
}

static void server_says(fixture_t *fx, const char *fmt, ...)
{
    char line[4096];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    px_bridge_upstream_line(fx->b, line, strlen(line));
}

static int client(fixture_t *fx, px_session_t *s, int chan, const char *json)
{
    json_t *msg = json_loads(json, 0, NULL);
    int rc;

    assert_non_null(msg);
    rc = px_bridge_client(fx->b, s, &fx->chans[chan].super, msg);
    json_decref(msg);
    return rc;
}

static json_int_t up_id(json_t *msg)
{
    assert_true(json_is_integer(json_object_get(msg, "id")));
    return json_integer_value(json_object_get(msg, "id"));
}

#define MODERN_META                                                                                \
    "\"_meta\":{\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","                       \
    "\"io.modelcontextprotocol/clientCapabilities\":{}}"

/* Bring the bridge up against a 2026-07-28 server. */
static void up_modern(fixture_t *fx)
{
    px_bridge_upstream_up(fx->b, fx->now);
    assert_string_equal(px_msg_method(last_up(fx)), "server/discover");
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"resultType\":\"complete\","
                "\"supportedVersions\":[\"2026-07-28\"],\"capabilities\":{\"tools\":{}},"
                "\"_meta\":{\"io.modelcontextprotocol/serverInfo\":{\"name\":\"srv\",\"version\":"
                "\"9\"}}}}",
                (long long)up_id(last_up(fx)));
    assert_int_equal(px_bridge_state(fx->b), PX_READY);
    assert_int_equal(px_bridge_server_era(fx->b), PX_ERA_MODERN);
}

/* ... or a handshake-era server (discover refused, then initialize). */
static void up_legacy(fixture_t *fx)
{
    px_bridge_upstream_up(fx->b, fx->now);
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32601,\"message\":\"no\"}}",
                (long long)up_id(last_up(fx)));
    assert_int_equal(px_bridge_state(fx->b), PX_HANDSHAKE);
    assert_string_equal(px_msg_method(last_up(fx)), "initialize");
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"protocolVersion\":\"2024-11-05\","
                "\"capabilities\":{\"tools\":{\"listChanged\":true}},\"serverInfo\":{\"name\":"
                "\"old\",\"version\":\"1\"}}}",
                (long long)up_id(last_up(fx)));
    assert_string_equal(px_msg_method(last_up(fx)), "notifications/initialized");
    assert_int_equal(px_bridge_state(fx->b), PX_READY);
    assert_int_equal(px_bridge_server_era(fx->b), PX_ERA_LEGACY);
}

static px_session_t *legacy_session(fixture_t *fx, int chan, const char *caps)
{
    px_session_t *s = px_session_open(fx->b, 0, fx->now);
    char init[512];

    assert_non_null(s);
    snprintf(init, sizeof(init),
             "{\"jsonrpc\":\"2.0\",\"id\":0,\"method\":\"initialize\",\"params\":{"
             "\"protocolVersion\":\"2025-06-18\",\"capabilities\":%s,\"clientInfo\":{\"name\":"
             "\"c\",\"version\":\"1\"}}}",
             caps);
    assert_int_equal(client(fx, s, chan, init), PX_REPLY);
    return s;
}

/* ---- era learning ------------------------------------------------------------------------------
 */

static void test_learn_modern_and_replay_parked(void **state)
{
    fixture_t *fx = fx_new(NULL);

    (void)state;
    /* a request before the server is known waits */
    client(fx, NULL, 0,
           "{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"method\":\"tools/list\",\"params\":{" MODERN_META
           "}}");
    assert_int_equal(fx->chans[0].n, 0);
    up_modern(fx);
    /* replayed with a rewritten id, _meta kept */
    json_t *fwd = last_up(fx);
    assert_string_equal(px_msg_method(fwd), "tools/list");
    assert_string_equal(json_string_value(px_msg_meta(fwd, PX_META_VERSION)), "2026-07-28");
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[]}}",
                (long long)up_id(fwd));
    assert_int_equal(fx->chans[0].n, 1);
    assert_string_equal(json_string_value(json_object_get(fx->chans[0].got[0], "id")), "a");
    assert_int_equal(fx->chans[0].finals, 1);
    fx_free(fx);
}

static void test_learn_legacy_by_timeout(void **state)
{
    fixture_t *fx = fx_new(NULL);

    (void)state;
    px_bridge_upstream_up(fx->b, 1000);
    px_bridge_tick(fx->b, 1000 + 9000);
    assert_int_equal(px_bridge_state(fx->b), PX_PROBING);
    px_bridge_tick(fx->b, 1000 + 10000); /* no answer to server/discover: handshake */
    assert_int_equal(px_bridge_state(fx->b), PX_HANDSHAKE);
    assert_string_equal(px_msg_method(last_up(fx)), "initialize");
    px_bridge_tick(fx->b, 1000 + 20001); /* no answer to initialize either: restart */
    assert_int_equal(fx->restarts, 1);
    fx_free(fx);
}

static void test_late_probe_answer_wins(void **state)
{
    fixture_t *fx = fx_new(NULL);
    json_int_t probe;

    (void)state;
    px_bridge_upstream_up(fx->b, 0);
    probe = up_id(last_up(fx));
    px_bridge_tick(fx->b, 10000); /* a slow start: we give up and send initialize */
    assert_int_equal(px_bridge_state(fx->b), PX_HANDSHAKE);
    json_int_t init = up_id(last_up(fx));
    server_says(
        fx,
        "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"supportedVersions\":[\"2026-07-28\"],"
        "\"capabilities\":{}}}",
        (long long)probe);
    assert_int_equal(px_bridge_state(fx->b), PX_READY);
    assert_int_equal(px_bridge_server_era(fx->b), PX_ERA_MODERN);
    /* the server, now modern, refuses initialize: ignored */
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32022,\"message\":\"x\"}}",
                (long long)init);
    assert_int_equal(px_bridge_state(fx->b), PX_READY);
    assert_int_equal(fx->restarts, 0);
    fx_free(fx);
}

static void test_initialize_refused_as_modern_reprobes(void **state)
{
    fixture_t *fx = fx_new(NULL);

    (void)state;
    px_bridge_upstream_up(fx->b, 0);
    px_bridge_tick(fx->b, 10000);
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"error\":{\"code\":-32022,\"message\":\"x\"}}",
                (long long)up_id(last_up(fx)));
    assert_int_equal(px_bridge_state(fx->b), PX_PROBING);
    assert_string_equal(px_msg_method(last_up(fx)), "server/discover");
    assert_int_equal(fx->restarts, 0);
    fx_free(fx);
}

static void test_discover_listing_only_legacy_versions_is_legacy(void **state)
{
    fixture_t *fx = fx_new(NULL);

    (void)state;
    px_bridge_upstream_up(fx->b, 0);
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"supportedVersions\":"
                "[\"2025-06-18\"],\"capabilities\":{}}}",
                (long long)up_id(last_up(fx)));
    assert_int_equal(px_bridge_state(fx->b), PX_HANDSHAKE);
    fx_free(fx);
}

/* ---- multiplexing and routing
 * -------------------------------------------------------------------- */

static void test_same_ids_from_two_clients(void **state)
{
    fixture_t *fx = fx_new(NULL);
    json_int_t a, b;

    (void)state;
    up_modern(fx);
    client(fx, NULL, 0,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/"
           "call\",\"params\":{\"name\":\"x\"," MODERN_META "}}");
    a = up_id(last_up(fx));
    client(fx, NULL, 1,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/"
           "call\",\"params\":{\"name\":\"y\"," MODERN_META "}}");
    b = up_id(last_up(fx));
    assert_true(a != b);
    /* answers in the other order reach the right client with its own id */
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"v\":\"B\"}}", (long long)b);
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"v\":\"A\"}}", (long long)a);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(fx->chans[0].got[0], "result"), "v")),
        "A");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(fx->chans[1].got[0], "result"), "v")),
        "B");
    assert_int_equal(json_integer_value(json_object_get(fx->chans[1].got[0], "id")), 1);
    assert_int_equal(px_bridge_n_pending(fx->b), 0);
    /* a stale or unknown response is dropped */
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", (long long)a);
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"zz\",\"result\":{}}");
    assert_int_equal(fx->chans[0].n, 1);
    fx_free(fx);
}

static void test_progress_tokens_rewritten(void **state)
{
    fixture_t *fx = fx_new(NULL);
    json_int_t a, b;

    (void)state;
    up_modern(fx);
    client(fx, NULL, 0,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
           "\"_meta\":{\"progressToken\":\"t\",\"io.modelcontextprotocol/protocolVersion\":"
           "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    a = up_id(last_up(fx));
    assert_int_equal(json_integer_value(px_msg_meta(last_up(fx), "progressToken")), a);
    client(fx, NULL, 1,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"x\","
           "\"_meta\":{\"progressToken\":\"t\",\"io.modelcontextprotocol/protocolVersion\":"
           "\"2026-07-28\",\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    b = up_id(last_up(fx));
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{"
                "\"progressToken\":%lld,\"progress\":1}}",
                (long long)b);
    assert_int_equal(fx->chans[0].n, 0);
    assert_int_equal(fx->chans[1].n, 1);
    assert_int_equal(fx->chans[1].finals, 0);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(fx->chans[1].got[0], "params"), "progressToken")),
                        "t");
    (void)a;
    fx_free(fx);
}

static void test_subscription_notifications_routed(void **state)
{
    fixture_t *fx = fx_new(NULL);
    json_int_t a;

    (void)state;
    up_modern(fx);
    client(fx, NULL, 2,
           "{\"jsonrpc\":\"2.0\",\"id\":\"sub\",\"method\":\"subscriptions/listen\",\"params\":{"
           "\"notifications\":{\"toolsListChanged\":true}," MODERN_META "}}");
    a = up_id(last_up(fx));
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":{"
                "\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":%lld}}}",
                (long long)a);
    assert_int_equal(fx->chans[2].n, 1);
    assert_string_equal(
        json_string_value(json_object_get(
            json_object_get(json_object_get(fx->chans[2].got[0], "params"), "_meta"),
            PX_META_SUBID)),
        "sub");
    fx_free(fx);
}

/* ---- cancellation
 * ------------------------------------------------------------------------------------ */

static void test_modern_stream_closed_cancels(void **state)
{
    fixture_t *fx = fx_new(NULL);
    json_int_t a;

    (void)state;
    up_modern(fx);
    client(fx, NULL, 0,
           "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/"
           "call\",\"params\":{\"name\":\"x\"," MODERN_META "}}");
    a = up_id(last_up(fx));
    px_chan_gone(fx->b, &fx->chans[0].super);
    assert_string_equal(px_msg_method(last_up(fx)), "notifications/cancelled");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(last_up(fx), "params"), "requestId")),
        a);
    assert_int_equal(px_bridge_n_pending(fx->b), 0);
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", (long long)a);
    assert_int_equal(fx->chans[0].n, 0);
    fx_free(fx);
}

static void test_legacy_cancel_and_disconnect(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *s;
    json_int_t a;
    int before;

    (void)state;
    up_legacy(fx);
    s = legacy_session(fx, 0, "{}");
    client(fx, s, 1,
           "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}");
    a = up_id(last_up(fx));
    assert_int_equal(
        client(fx, s, 2,
               "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{"
               "\"requestId\":7}}"),
        PX_ACCEPTED);
    assert_string_equal(px_msg_method(last_up(fx)), "notifications/cancelled");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(last_up(fx), "params"), "requestId")),
        a);
    assert_int_equal(fx->chans[1].finals, 1); /* its POST stream ends */
    /* 2025-11-25: a handshake-era client's disconnect is not a cancellation */
    client(fx, s, 3,
           "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}");
    a = up_id(last_up(fx));
    before = fx->n_up;
    px_chan_gone(fx->b, &fx->chans[3].super);
    assert_int_equal(fx->n_up, before);
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}", (long long)a);
    assert_int_equal(fx->chans[3].n, 0);
    /* ending the session cancels what it has in flight */
    client(fx, s, 4,
           "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{\"name\":\"x\"}}");
    px_session_close(fx->b, s);
    assert_string_equal(px_msg_method(last_up(fx)), "notifications/cancelled");
    assert_int_equal(px_bridge_n_pending(fx->b), 0);
    assert_int_equal(px_bridge_n_sessions(fx->b), 0);
    fx_free(fx);
}

/* ---- notifications and server requests
 * ------------------------------------------------------------- */

static void test_list_changed_to_every_session_with_a_stream(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *s1, *s2;

    (void)state;
    up_legacy(fx);
    s1 = legacy_session(fx, 0, "{}");
    s2 = legacy_session(fx, 1, "{}");
    legacy_session(fx, 2, "{}"); /* no stream: nothing to deliver on */
    fx->chans[5].super.streaming = 1;
    fx->chans[6].super.streaming = 1;
    px_session_set_stream(fx->b, s1, &fx->chans[5].super);
    px_session_set_stream(fx->b, s2, &fx->chans[6].super);
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\"}");
    assert_int_equal(fx->chans[5].n, 1);
    assert_int_equal(fx->chans[6].n, 1);
    assert_int_equal(fx->chans[2].n, 1); /* only its initialize answer */
    fx_free(fx);
}

static void test_list_changed_from_a_modern_server(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *s;
    json_int_t listen;

    (void)state;
    px_bridge_upstream_up(fx->b, 0);
    server_says(
        fx,
        "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"supportedVersions\":[\"2026-07-28\"],"
        "\"capabilities\":{\"tools\":{\"listChanged\":true},\"prompts\":{}}}}",
        (long long)up_id(last_up(fx)));
    /* the proxy subscribes once, for the lists that change, on behalf of handshake-era sessions */
    assert_string_equal(px_msg_method(last_up(fx)), "subscriptions/listen");
    json_t *filter = json_object_get(json_object_get(last_up(fx), "params"), "notifications");
    assert_true(json_is_true(json_object_get(filter, "toolsListChanged")));
    assert_null(json_object_get(filter, "promptsListChanged"));
    assert_string_equal(json_string_value(px_msg_meta(last_up(fx), PX_META_VERSION)), "2026-07-28");
    listen = up_id(last_up(fx));
    s = legacy_session(fx, 0, "{}");
    fx->chans[5].super.streaming = 1;
    px_session_set_stream(fx->b, s, &fx->chans[5].super);
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/subscriptions/acknowledged\","
                "\"params\":{\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":%lld}}}",
                (long long)listen);
    assert_int_equal(fx->chans[5].n, 0);
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/tools/list_changed\",\"params\":{"
                "\"_meta\":{\"io.modelcontextprotocol/subscriptionId\":%lld}}}",
                (long long)listen);
    assert_int_equal(fx->chans[5].n, 1);
    assert_string_equal(px_msg_method(fx->chans[5].got[0]), "notifications/tools/list_changed");
    assert_null(json_object_get(json_object_get(fx->chans[5].got[0], "params"), "_meta"));
    fx_free(fx);
}

static void test_server_request_to_capable_session(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *plain, *sampler;

    (void)state;
    up_legacy(fx);
    plain = legacy_session(fx, 0, "{}");
    sampler = legacy_session(fx, 1, "{\"sampling\":{}}");
    fx->chans[5].super.streaming = 1;
    fx->chans[6].super.streaming = 1;
    px_session_set_stream(fx->b, plain, &fx->chans[5].super);
    px_session_set_stream(fx->b, sampler, &fx->chans[6].super);
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\","
                    "\"params\":{}}");
    assert_int_equal(fx->chans[5].n, 0);
    assert_int_equal(fx->chans[6].n, 1);
    assert_string_equal(px_msg_method(fx->chans[6].got[0]), "sampling/createMessage");
    /* only the session it went to may answer it */
    int before = fx->n_up;
    client(fx, plain, 3, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\":{}}");
    assert_int_equal(fx->n_up, before);
    assert_int_equal(
        client(fx, sampler, 3, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\":{\"x\":1}}"),
        PX_ACCEPTED);
    assert_string_equal(json_string_value(json_object_get(last_up(fx), "id")), "s1");
    /* no session declared roots: a JSON-RPC error goes back to the server */
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"method\":\"roots/list\"}");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(last_up(fx), "error"), "code")),
        PX_E_NO_METHOD);
    /* and a ping is answered by the proxy */
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    assert_non_null(json_object_get(last_up(fx), "result"));
    fx_free(fx);
}

/* ---- era translation
 * -------------------------------------------------------------------------------- */

static void test_legacy_client_modern_server(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *s;
    json_t *r, *fwd;

    (void)state;
    up_modern(fx);
    s = legacy_session(fx, 0, "{\"roots\":{}}");
    r = json_object_get(fx->chans[0].got[0], "result");
    assert_string_equal(json_string_value(json_object_get(r, "protocolVersion")), "2025-06-18");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(r, "serverInfo"), "name")), "srv");
    assert_non_null(json_object_get(json_object_get(r, "capabilities"), "tools"));
    assert_true(px_session_initialized(s));
    /* its requests get the per-request _meta a 2026-07-28 server requires */
    client(fx, s, 1, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}");
    fwd = last_up(fx);
    assert_string_equal(json_string_value(px_msg_meta(fwd, PX_META_VERSION)), "2026-07-28");
    assert_non_null(json_object_get(px_msg_meta(fwd, PX_META_CAPS), "roots"));
    assert_string_equal(
        json_string_value(json_object_get(px_msg_meta(fwd, PX_META_CLIENT), "name")), "c");
    /* ping and logging/setLevel are answered here (gone in 2026-07-28) */
    int before = fx->n_up;
    client(fx, s, 2, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"ping\"}");
    client(fx, s, 3,
           "{\"jsonrpc\":\"2.0\",\"id\":4,\"method\":\"logging/setLevel\",\"params\":{\"level\":"
           "\"debug\"}}");
    assert_int_equal(fx->n_up, before);
    client(fx, s, 4, "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"tools/list\"}");
    assert_string_equal(json_string_value(px_msg_meta(last_up(fx), PX_META_LOGLEVEL)), "debug");
    /* an input_required result cannot go to a handshake-era client */
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"resultType\":\"input_required\"}}",
                (long long)up_id(last_up(fx)));
    assert_non_null(json_object_get(fx->chans[4].got[0], "error"));
    fx_free(fx);
}

static void test_modern_client_legacy_server(void **state)
{
    fixture_t *fx = fx_new(NULL);
    json_t *r, *fwd;

    (void)state;
    up_legacy(fx);
    int before = fx->n_up;
    client(fx, NULL, 0,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"server/discover\",\"params\":{" MODERN_META
           "}}");
    assert_int_equal(fx->n_up, before); /* answered from the initialize result */
    r = json_object_get(fx->chans[0].got[0], "result");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(r, "supportedVersions"), 0)),
        "2026-07-28");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(r, "_meta"), PX_META_SERVER), "name")),
                        "old");
    client(fx, NULL, 1,
           "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
           "\"progressToken\":3,\"io.modelcontextprotocol/protocolVersion\":\"2026-07-28\","
           "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    fwd = last_up(fx);
    assert_null(px_msg_meta(fwd, PX_META_VERSION)); /* stripped for the old server */
    assert_non_null(px_msg_meta(fwd, "progressToken"));
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[]}}",
                (long long)up_id(fwd));
    r = json_object_get(fx->chans[1].got[0], "result");
    assert_string_equal(json_string_value(json_object_get(r, "resultType")), "complete");
    assert_string_equal(json_string_value(json_object_get(r, "cacheScope")), "private");
    assert_int_equal(json_integer_value(json_object_get(r, "ttlMs")), 0);
    /* a modern client asking another version gets UnsupportedProtocolVersion, HTTP 400 */
    client(fx, NULL, 2,
           "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/list\",\"params\":{\"_meta\":{"
           "\"io.modelcontextprotocol/protocolVersion\":\"2099-01-01\","
           "\"io.modelcontextprotocol/clientCapabilities\":{}}}}");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(fx->chans[2].got[0], "error"), "code")),
        PX_E_UNSUPPORTED_PV);
    assert_int_equal(fx->chans[2].status, 400);
    fx_free(fx);
}

/* ---- tool filter
 * ---------------------------------------------------------------------------------------- */

static void test_tool_filter(void **state)
{
    fixture_t *fx = fx_new("echo");
    json_t *tools;
    int before;

    (void)state;
    up_modern(fx);
    client(fx, NULL, 0,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{" MODERN_META "}}");
    server_says(fx,
                "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"tools\":[{\"name\":\"rm\"},"
                "{\"name\":\"echo\"},{\"name\":\"sum\"}]}}",
                (long long)up_id(last_up(fx)));
    tools = json_object_get(json_object_get(fx->chans[0].got[0], "result"), "tools");
    assert_int_equal(json_array_size(tools), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(tools, 0), "name")),
                        "echo");
    before = fx->n_up;
    client(fx, NULL, 1,
           "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/"
           "call\",\"params\":{\"name\":\"rm\"," MODERN_META "}}");
    assert_int_equal(fx->n_up, before);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(fx->chans[1].got[0], "error"), "code")),
        PX_E_PARAMS);
    client(fx, NULL, 2,
           "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/"
           "call\",\"params\":{\"name\":\"echo\"," MODERN_META "}}");
    assert_int_equal(fx->n_up, before + 1);
    fx_free(fx);
}

/* ---- restarts, caps, bad input
 * ----------------------------------------------------------------------------- */

static void test_restart_fails_inflight_and_relearns(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *s;

    (void)state;
    up_legacy(fx);
    s = legacy_session(fx, 0, "{}");
    client(fx, s, 1, "{\"jsonrpc\":\"2.0\",\"id\":\"q\",\"method\":\"tools/call\",\"params\":{}}");
    px_bridge_upstream_down(fx->b, "killed");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(fx->chans[1].got[0], "error"), "code")),
        PX_E_INTERNAL);
    assert_string_equal(json_string_value(json_object_get(fx->chans[1].got[0], "id")), "q");
    assert_int_equal(px_bridge_state(fx->b), PX_DOWN);
    assert_int_equal(px_bridge_n_pending(fx->b), 0);
    /* the session survives; its next request waits for the new process, which may be modern */
    client(fx, s, 2, "{\"jsonrpc\":\"2.0\",\"id\":\"r\",\"method\":\"tools/list\"}");
    assert_int_equal(fx->chans[2].n, 0);
    up_modern(fx);
    assert_string_equal(json_string_value(px_msg_meta(last_up(fx), PX_META_VERSION)), "2026-07-28");
    /* parked too long: an error, not a hang */
    px_bridge_upstream_down(fx->b, "again");
    client(fx, s, 3, "{\"jsonrpc\":\"2.0\",\"id\":\"t\",\"method\":\"tools/list\"}");
    px_bridge_tick(fx->b, fx->now + PX_PARK_TIMEOUT_MS + 1);
    assert_int_equal(fx->chans[3].n, 1);
    assert_non_null(json_object_get(fx->chans[3].got[0], "error"));
    fx_free(fx);
}

static void test_caps(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *s;

    (void)state;
    up_legacy(fx);
    s = legacy_session(fx, 0, "{}");
    for (int i = 0; i < 3; i++)
        client(fx, s, 1, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{}}");
    client(fx, s, 2, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{}}");
    assert_int_equal(fx->chans[2].status, 429); /* --max-inflight 3 */
    for (int i = 0; i < 3; i++)
        assert_non_null(px_session_open(fx->b, 0, 0));
    assert_null(px_session_open(fx->b, 0, 0)); /* --max-sessions 4 */
    assert_null(px_session_find(fx->b, "nope", 0));
    assert_ptr_equal(px_session_find(fx->b, px_session_id(s), 0), s);
    fx_free(fx);
}

static void test_idle_sessions_close(void **state)
{
    fixture_t *fx = fx_new(NULL);

    (void)state;
    up_legacy(fx);
    legacy_session(fx, 0, "{}");
    px_bridge_tick(fx->b, (uint64_t)(PX_DEF_IDLE_TIMEOUT * 1000) - 1);
    assert_int_equal(px_bridge_n_sessions(fx->b), 1);
    px_bridge_tick(fx->b, (uint64_t)(PX_DEF_IDLE_TIMEOUT * 1000) + 1);
    assert_int_equal(px_bridge_n_sessions(fx->b), 0);
    /* a session that never got initialized goes after a minute */
    px_session_open(fx->b, 0, 2000000);
    px_bridge_tick(fx->b, 2000000 + PX_UNINIT_IDLE_MS - 1);
    assert_int_equal(px_bridge_n_sessions(fx->b), 1);
    px_bridge_tick(fx->b, 2000000 + PX_UNINIT_IDLE_MS + 1);
    assert_int_equal(px_bridge_n_sessions(fx->b), 0);
    fx_free(fx);
}

static void test_bad_input(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *s;
    static const char *const bad_server[] = {
        "garbage",
        "[]",
        "{}",
        "{\"jsonrpc\":\"2.0\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":{},\"result\":1}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":1,\"error\":{}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"progressToken\":"
        "99999}}",
        "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":7}",
        "{\"jsonrpc\":\"2.0\",\"method\":7}",
        "\"\\u0000\""};

    (void)state;
    up_modern(fx);
    for (size_t i = 0; i < MCP_ARRAY_LEN(bad_server); i++)
        px_bridge_upstream_line(fx->b, bad_server[i], strlen(bad_server[i]));
    /* not JSON-RPC 2.0 */
    client(fx, NULL, 0, "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"x\"}");
    assert_int_equal(fx->chans[0].status, 400);
    /* a 2026-07-28 request without its required _meta: -32602, HTTP 400 */
    client(fx, NULL, 1, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\",\"params\":{}}");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(fx->chans[1].got[0], "error"), "code")),
        PX_E_PARAMS);
    assert_int_equal(fx->chans[1].status, 400);
    /* a handshake-era request before initialize */
    s = px_session_open(fx->b, 0, 0);
    client(fx, s, 2, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/list\"}");
    assert_non_null(json_object_get(fx->chans[2].got[0], "error"));
    assert_int_equal(px_bridge_state(fx->b), PX_READY);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learn_modern_and_replay_parked),
        cmocka_unit_test(test_learn_legacy_by_timeout),
        cmocka_unit_test(test_late_probe_answer_wins),
        cmocka_unit_test(test_initialize_refused_as_modern_reprobes),
        cmocka_unit_test(test_discover_listing_only_legacy_versions_is_legacy),
        cmocka_unit_test(test_same_ids_from_two_clients),
        cmocka_unit_test(test_progress_tokens_rewritten),
        cmocka_unit_test(test_subscription_notifications_routed),
        cmocka_unit_test(test_modern_stream_closed_cancels),
        cmocka_unit_test(test_legacy_cancel_and_disconnect),
        cmocka_unit_test(test_list_changed_to_every_session_with_a_stream),
        cmocka_unit_test(test_list_changed_from_a_modern_server),
        cmocka_unit_test(test_server_request_to_capable_session),
        cmocka_unit_test(test_legacy_client_modern_server),
        cmocka_unit_test(test_modern_client_legacy_server),
        cmocka_unit_test(test_tool_filter),
        cmocka_unit_test(test_restart_fails_inflight_and_relearns),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_idle_sessions_close),
        cmocka_unit_test(test_bad_input),
    };

    mcp_log_set_level(MCP_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
