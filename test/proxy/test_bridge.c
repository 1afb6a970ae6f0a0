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
#include "../../proxy/bridge/bridge.h"

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

/* A new bridge from fx->cfg (the old one, if any, freed): for tests that change the config. */
static void fx_bridge(fixture_t *fx)
{
    px_bridge_ops_t ops = {.write = up_write, .restart = up_restart, .ctx = fx};

    px_bridge_free(fx->b);
    fx->b = px_bridge_new(&fx->cfg, &ops);
    assert_non_null(fx->b);
}

static fixture_t *fx_new(const char *tools)
{
    fixture_t *fx = calloc(1, sizeof(*fx));
    static char *filter[] = {"echo", NULL};

    px_config_defaults(&fx->cfg);
    if (tools)
        fx->cfg.tools = filter;
    fx->cfg.max_sessions = 4;
    fx->cfg.max_inflight = 3;
    for (int i = 0; i < 8; i++) {
        fx->chans[i].super.send = fc_send;
    }
    fx_bridge(fx);
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
    px_bridge_upstream_line(fx->b, line, strlen(line), 0);
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
    px_session_t *s = px_session_open(fx->b, 0, "", fx->now);
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

static const char *err_message(json_t *msg)
{
    return json_string_value(json_object_get(json_object_get(msg, "error"), "message"));
}

/* DESIGN §5: a server's request goes to the client it is for, never by a
 * guess across clients (issue 18, item 1: a client keeping requests open
 * got the victim's sampling prompt, and its answer became the victim's). */
static void test_server_request_exact_routing(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *attacker, *victim;
    json_int_t victim_call;

    (void)state;
    up_legacy(fx);
    attacker = legacy_session(fx, 0, "{\"sampling\":{}}");
    victim = legacy_session(fx, 1, "{\"sampling\":{}}");
    fx->chans[5].super.streaming = 1;
    fx->chans[6].super.streaming = 1;
    px_session_set_stream(fx->b, attacker, &fx->chans[5].super);
    px_session_set_stream(fx->b, victim, &fx->chans[6].super);
    /* nobody has a request in flight: the server hears that no one can answer */
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"s0\",\"method\":\"sampling/createMessage\","
                    "\"params\":{}}");
    assert_string_equal(json_string_value(json_object_get(last_up(fx), "id")), "s0");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(last_up(fx), "error"), "code")),
        PX_E_NO_METHOD);
    /* the victim alone has a call in flight: the request goes to it, on that call's stream */
    client(fx, victim, 2, "{\"jsonrpc\":\"2.0\",\"id\":9,\"method\":\"tools/call\",\"params\":{}}");
    victim_call = up_id(last_up(fx));
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\","
                    "\"params\":{\"m\":\"secret\"}}");
    assert_int_equal(fx->chans[2].n, 1);
    assert_string_equal(px_msg_method(fx->chans[2].got[0]), "sampling/createMessage");
    assert_int_equal(fx->chans[5].n + fx->chans[6].n, 0);
    /* only the session it went to may answer it */
    int before = fx->n_up;
    client(fx, attacker, 3, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\":{}}");
    assert_int_equal(fx->n_up, before);
    assert_int_equal(client(fx, victim, 3, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"result\":{}}"),
                     PX_ACCEPTED);
    assert_string_equal(json_string_value(json_object_get(last_up(fx), "id")), "s1");
    /* the attacker keeps two slow requests open: now two clients are busy and
     * a request without a cause goes to neither */
    client(fx, attacker, 4,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{}}");
    client(fx, attacker, 4,
           "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{}}");
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"s2\",\"method\":\"sampling/createMessage\","
                    "\"params\":{\"m\":\"secret\"}}");
    assert_non_null(json_object_get(last_up(fx), "error"));
    assert_int_equal(fx->chans[4].n + fx->chans[5].n + fx->chans[6].n, 0);
    assert_int_equal(fx->chans[2].n, 1);
    /* where the transport names the request (an HTTP server's answer stream), it goes there */
    px_bridge_upstream_line(fx->b,
                            "{\"jsonrpc\":\"2.0\",\"id\":\"s3\",\"method\":\"sampling/"
                            "createMessage\",\"params\":{}}",
                            strlen("{\"jsonrpc\":\"2.0\",\"id\":\"s3\",\"method\":\"sampling/"
                                   "createMessage\",\"params\":{}}"),
                            victim_call);
    assert_int_equal(fx->chans[2].n, 2);
    assert_int_equal(fx->chans[4].n + fx->chans[5].n + fx->chans[6].n, 0);
    /* a capability the client did not declare: refused */
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"r1\",\"method\":\"roots/list\"}");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(last_up(fx), "error"), "code")),
        PX_E_NO_METHOD);
    /* and a ping is answered by the proxy */
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"p\",\"method\":\"ping\"}");
    assert_non_null(json_object_get(last_up(fx), "result"));
    fx_free(fx);
}

/* Never across eras: a 2026-07-28 client alone in flight does not make a
 * handshake-era session the target of the server's request. */
static void test_server_request_never_across_eras(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *s;

    (void)state;
    up_legacy(fx);
    s = legacy_session(fx, 0, "{\"sampling\":{}}");
    fx->chans[5].super.streaming = 1;
    px_session_set_stream(fx->b, s, &fx->chans[5].super);
    client(fx, NULL, 1,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{" MODERN_META "}}");
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":\"s1\",\"method\":\"sampling/createMessage\","
                    "\"params\":{}}");
    assert_non_null(json_object_get(last_up(fx), "error"));
    assert_int_equal(fx->chans[5].n, 0);
    assert_int_equal(fx->chans[1].n, 0);
    fx_free(fx);
}

/* Issue 18, item 2: log messages reach only the client they are for, at
 * its own level; one client's logging/setLevel and resources/subscribe do
 * not change what the others get. */
static void test_per_client_notifications(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *a, *b2;
    const char *log_debug = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
                            "\"params\":{\"level\":\"debug\",\"data\":\"a's secret\"}}";
    const char *log_error = "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\","
                            "\"params\":{\"level\":\"error\",\"data\":\"x\"}}";

    (void)state;
    up_legacy(fx);
    a = legacy_session(fx, 0, "{}");
    b2 = legacy_session(fx, 1, "{}");
    fx->chans[5].super.streaming = 1;
    fx->chans[6].super.streaming = 1;
    px_session_set_stream(fx->b, a, &fx->chans[5].super);
    px_session_set_stream(fx->b, b2, &fx->chans[6].super);
    /* a's setLevel debug: answered by the proxy, the server set to debug once */
    int before = fx->n_up;
    client(fx, a, 2,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"logging/setLevel\",\"params\":{"
           "\"level\":\"debug\"}}");
    assert_non_null(json_object_get(fx->chans[2].got[0], "result"));
    assert_int_equal(fx->n_up, before + 1);
    assert_string_equal(px_msg_method(last_up(fx)), "logging/setLevel");
    /* the answer to the proxy's own setLevel goes to no client */
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}",
                (long long)up_id(last_up(fx)));
    assert_int_equal(fx->chans[2].n, 1);
    /* no one in flight: a log line cannot be attributed, so it is dropped */
    server_says(fx, "%s", log_debug);
    assert_int_equal(fx->chans[5].n + fx->chans[6].n, 0);
    assert_int_equal(px_bridge_stats(fx->b)->dropped, 1);
    /* a client's roots/list_changed would make the server ask whoever is
     * busy for its roots: it is not forwarded (the fresh-user review's
     * finding: b's notification got a's roots) */
    before = fx->n_up;
    client(fx, b2, 7, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/roots/list_changed\"}");
    assert_int_equal(fx->n_up, before);
    /* a's call in flight: a gets it (debug), on its call's stream; b gets nothing */
    client(fx, a, 3, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/call\",\"params\":{}}");
    server_says(fx, "%s", log_debug);
    assert_int_equal(fx->chans[3].n, 1);
    assert_int_equal(fx->chans[6].n, 0);
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}",
                (long long)up_id(last_up(fx)));
    /* b's call alone in flight: b (no level set: info and up) gets error, not debug */
    client(fx, b2, 4, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"tools/call\",\"params\":{}}");
    server_says(fx, "%s", log_debug);
    server_says(fx, "%s", log_error);
    assert_int_equal(fx->chans[4].n, 1);
    assert_int_equal(fx->chans[5].n, 0);
    /* resources: the server is subscribed once, and updates reach subscribers only */
    before = fx->n_up;
    client(fx, a, 7,
           "{\"jsonrpc\":\"2.0\",\"id\":5,\"method\":\"resources/subscribe\",\"params\":{\"uri\":"
           "\"file:///x\"}}");
    assert_int_equal(fx->n_up, before + 1); /* the first subscriber: forwarded */
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{}}",
                (long long)up_id(last_up(fx)));
    server_says(fx, "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/resources/updated\","
                    "\"params\":{\"uri\":\"file:///x\"}}");
    assert_int_equal(fx->chans[5].n, 1);
    assert_int_equal(fx->chans[6].n, 0);
    /* unsubscribing the last subscriber unsubscribes the server */
    client(fx, a, 7,
           "{\"jsonrpc\":\"2.0\",\"id\":6,\"method\":\"resources/unsubscribe\",\"params\":{"
           "\"uri\":\"file:///x\"}}");
    assert_string_equal(px_msg_method(last_up(fx)), "resources/unsubscribe");
    /* two subscribers: the server hears of the first and, at its close, of the last */
    client(fx, b2, 7,
           "{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"resources/subscribe\",\"params\":{\"uri\":"
           "\"file:///y\"}}");
    assert_string_equal(px_msg_method(last_up(fx)), "resources/subscribe");
    before = fx->n_up;
    client(fx, a, 7,
           "{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"resources/subscribe\",\"params\":{\"uri\":"
           "\"file:///y\"}}");
    px_session_close(fx->b, b2); /* its calls in flight are cancelled, nothing else */
    for (int i = before; i < fx->n_up; i++)
        assert_string_equal(px_msg_method(fx->up[i]), "notifications/cancelled");
    px_session_close(fx->b, a);
    assert_string_equal(px_msg_method(last_up(fx)), "resources/unsubscribe");
    fx_free(fx);
}

/* Issue 18, item 4: every request has a deadline; the client gets an
 * error and the server a cancellation; MCP params are objects; ids are
 * bounded; the in-flight cap has per-client shares. */
static void test_request_deadline_and_shares(void **state)
{
    fixture_t *fx = fx_new(NULL);
    char big[2100];

    (void)state;
    fx->cfg.request_timeout = 5;
    fx_bridge(fx);
    up_modern(fx);
    client(fx, NULL, 0,
           "{\"jsonrpc\":\"2.0\",\"id\":\"slow\",\"method\":\"tools/call\",\"params\":{" MODERN_META
           "}}");
    json_int_t upid = up_id(last_up(fx));
    px_bridge_tick(fx->b, 4999);
    assert_int_equal(fx->chans[0].n, 0);
    px_bridge_tick(fx->b, 5000);
    assert_int_equal(fx->chans[0].n, 1);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(fx->chans[0].got[0], "error"), "code")),
        PX_E_TIMEOUT);
    assert_string_equal(json_string_value(json_object_get(fx->chans[0].got[0], "id")), "slow");
    assert_string_equal(px_msg_method(last_up(fx)), "notifications/cancelled");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(last_up(fx), "params"), "requestId")),
        upid);
    assert_int_equal(px_bridge_n_pending(fx->b), 0);
    /* positional params: refused, never sent (mcp-server-time never answers them) */
    int before = fx->n_up;
    client(fx, NULL, 1, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":[1]}");
    assert_int_equal(fx->chans[1].status, 400);
    assert_int_equal(fx->n_up, before);
    /* a 2 KB id is refused */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    char *req = NULL;
    assert_true(asprintf(&req,
                         "{\"jsonrpc\":\"2.0\",\"id\":\"%s\",\"method\":\"tools/list\","
                         "\"params\":{" MODERN_META "}}",
                         big) > 0);
    client(fx, NULL, 2, req);
    free(req);
    assert_int_equal(fx->chans[2].status, 400);
    assert_int_equal(fx->n_up, before);
    /* one client address's 2026-07-28 requests share --max-inflight (3) */
    snprintf(fx->chans[3].super.peer, sizeof(fx->chans[3].super.peer), "10.0.0.1");
    snprintf(fx->chans[4].super.peer, sizeof(fx->chans[4].super.peer), "10.0.0.2");
    for (int i = 0; i < 4; i++)
        client(fx, NULL, 3,
               "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{" MODERN_META
               "}}");
    assert_int_equal(fx->chans[3].status, 429);
    client(fx, NULL, 4,
           "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{" MODERN_META "}}");
    assert_int_equal(fx->chans[4].status, 0); /* another client is not affected */
    fx_free(fx);
}

/* Issue 18, item 5: an answer the proxy cannot read reaches its client as
 * an error naming the reason, found by the id in the unreadable line. */
static void test_unreadable_answers(void **state)
{
    fixture_t *fx = fx_new(NULL);
    static const char *const bad[] = {
        "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"n\":123456789012345678901234567890}}",
        "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"s\":\"\\ud800\"}}",
        "{\"result\":{\"s\":\"\\u0000\"},\"jsonrpc\":\"2.0\",\"id\":%lld}",
    };

    (void)state;
    up_modern(fx);
    for (int i = 0; i < (int)MCP_ARRAY_LEN(bad); i++) {
        client(
            fx, NULL, i,
            "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":\"tools/call\",\"params\":{" MODERN_META
            "}}");
        server_says(fx, bad[i], (long long)up_id(last_up(fx)));
        assert_int_equal(fx->chans[i].n, 1);
        assert_string_equal(json_string_value(json_object_get(fx->chans[i].got[0], "id")), "c");
        assert_non_null(strstr(err_message(fx->chans[i].got[0]), "could not be read"));
    }
    /* a line over the cap, id first (Python) or last (JavaScript) */
    for (int i = 3; i < 5; i++) {
        char head[64], tail[64];

        client(
            fx, NULL, i,
            "{\"jsonrpc\":\"2.0\",\"id\":\"c\",\"method\":\"tools/call\",\"params\":{" MODERN_META
            "}}");
        if (i == 3) {
            snprintf(head, sizeof(head), "{\"jsonrpc\":\"2.0\",\"id\":%lld,\"result\":{\"c",
                     (long long)up_id(last_up(fx)));
            snprintf(tail, sizeof(tail), "xxxx\"}]}}");
        } else {
            snprintf(head, sizeof(head), "{\"result\":{\"content\":[{\"text\":\"xx");
            snprintf(tail, sizeof(tail), "xx\"}]},\"jsonrpc\":\"2.0\",\"id\":%lld}",
                     (long long)up_id(last_up(fx)));
        }
        px_bridge_upstream_dropped(fx->b, head, strlen(head), tail, strlen(tail));
        assert_int_equal(fx->chans[i].n, 1);
        assert_non_null(strstr(err_message(fx->chans[i].got[0]), "message limit"));
    }
    assert_int_equal(px_bridge_n_pending(fx->b), 0);
    fx_free(fx);
}

/* Issue 18, item 7: one client address cannot take every session. */
static void test_sessions_per_client(void **state)
{
    fixture_t *fx = fx_new(NULL);
    px_session_t *mine;

    (void)state;
    fx->cfg.max_sessions = 8;
    fx->cfg.max_sessions_per_client = 2;
    fx_bridge(fx);
    up_legacy(fx);
    mine = px_session_open(fx->b, 0, "10.0.0.9", 1);
    for (int i = 0; i < 50; i++) /* an attacker's initialize flood */
        px_session_open(fx->b, 0, "10.0.0.66", 2 + (uint64_t)i);
    assert_int_equal(px_bridge_n_sessions(fx->b), 3);
    assert_int_equal(px_bridge_stats(fx->b)->evicted, 48);
    assert_ptr_equal(px_session_find(fx->b, px_session_id(mine), 100), mine);
    assert_non_null(px_session_open(fx->b, 0, "10.0.0.10", 101));
    /* opened within one tick: still the least recently used goes first */
    px_session_t *first = px_session_open(fx->b, 0, "10.0.0.11", 200);
    px_session_t *second = px_session_open(fx->b, 0, "10.0.0.11", 200);
    char gone[40];

    snprintf(gone, sizeof(gone), "%s", px_session_id(first));
    assert_non_null(px_session_open(fx->b, 0, "10.0.0.11", 200));
    assert_null(px_session_find(fx->b, gone, 200));
    assert_ptr_equal(px_session_find(fx->b, px_session_id(second), 200), second);
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
    px_session_t *idle[3];
    char first[40];

    for (int i = 0; i < 3; i++)
        assert_non_null(idle[i] = px_session_open(fx->b, 0, "", (uint64_t)i + 1));
    snprintf(first, sizeof(first), "%s", px_session_id(idle[0]));
    /* --max-sessions 4: the least recently used idle session makes room; the
     * one with requests in flight (used longest ago) is kept */
    assert_non_null(idle[0] = px_session_open(fx->b, 0, "", 10));
    assert_null(px_session_find(fx->b, first, 11));
    assert_ptr_equal(px_session_find(fx->b, px_session_id(s), 11), s);
    /* none idle (streams open): no room */
    for (int i = 0; i < 3; i++)
        px_session_set_stream(fx->b, idle[i], &fx->chans[3 + i].super);
    assert_null(px_session_open(fx->b, 0, "", 12));
    assert_int_equal(px_bridge_n_sessions(fx->b), 4);
    assert_null(px_session_find(fx->b, "nope", 0));
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
    px_session_open(fx->b, 0, "", 2000000);
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
        px_bridge_upstream_line(fx->b, bad_server[i], strlen(bad_server[i]), 0);
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
    s = px_session_open(fx->b, 0, "", 0);
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
        cmocka_unit_test(test_server_request_exact_routing),
        cmocka_unit_test(test_server_request_never_across_eras),
        cmocka_unit_test(test_per_client_notifications),
        cmocka_unit_test(test_request_deadline_and_shares),
        cmocka_unit_test(test_unreadable_answers),
        cmocka_unit_test(test_sessions_per_client),
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
