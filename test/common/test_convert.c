/* MCPServer conversion (common/src/convert.c): the fixture pairs of
 * test/fixtures/convert/ both ways, round trips of random objects of each
 * version (as Kubernetes' own API round-trip tests do), a change made in
 * v1beta1 surviving the way back, and malformed input. */
#include <dirent.h>
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../testutil.h"
#include "mcp/convert.h"
#include "mcp/json.h"
#include "mcp/schema.h"

#define FIXTURES "test/fixtures/convert"

static void expect_equal(const char *what, const json_t *want, const json_t *got)
{
    if (!json_equal(want, got)) {
        char *w = json_dumps(want, JSON_INDENT(2) | JSON_SORT_KEYS);
        char *g = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);

        print_error("%s\n--- want\n%s\n--- got\n%s\n", what, w, g);
        free(w);
        free(g);
        fail();
    }
}

/* from's copy converted to `to`'s version equals `to`. */
static void check_way(const char *name, const json_t *from, const json_t *to)
{
    json_t *obj = json_deep_copy(from);
    char what[256];

    assert_int_equal(mcp_convert(obj, json_string_value(json_object_get(to, "apiVersion"))), 0);
    snprintf(what, sizeof(what), "%s: to %s", name,
             json_string_value(json_object_get(to, "apiVersion")));
    expect_equal(what, to, obj);
    json_decref(obj);
}

static void test_fixtures(void **state)
{
    DIR *d = opendir(FIXTURES);
    struct dirent *e;
    int n = 0;

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        char path[512];
        json_t *pair;

        if (!strstr(e->d_name, ".json"))
            continue;
        snprintf(path, sizeof(path), FIXTURES "/%s", e->d_name);
        pair = tu_load_json(path);
        check_way(e->d_name, json_object_get(pair, "v1alpha1"), json_object_get(pair, "v1beta1"));
        check_way(e->d_name, json_object_get(pair, "v1beta1"), json_object_get(pair, "v1alpha1"));
        json_decref(pair);
        n++;
    }
    closedir(d);
    assert_true(n >= 4);
}

/* ---- random objects ---------------------------------------------------------- */

static unsigned long rng = 88172645463325252UL;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static json_t *rnd_port(void)
{
    return json_integer(1 + rnd(65535));
}

/* A random MCPServer of `version`: any of the fields that version has, the
 * two names of a port equal or not (the apiserver stores what a client
 * without the webhook wrote), annotations or none, any phase it writes. */
static json_t *random_object(int beta)
{
    static const char *const alpha_phases[] = {"Pending", "Running", "Failed", "Terminating"};
    static const char *const beta_phases[] = {"Pending", "Ready", "Failed", "Terminating",
                                              "Stopped"};
    json_t *spec = json_pack("{s:s}", "image", "docker.io/mcp/time");
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}, s:o}", "apiVersion",
                            beta ? MCP_API_VERSION_BETA : MCP_API_VERSION, "kind", "MCPServer",
                            "metadata", "name", "s", "spec", spec);

    if (rnd(2))
        json_object_set_new(spec, "proxyPort", rnd_port());
    if (rnd(2))
        json_object_set_new(spec, "mcpPort", rnd_port());
    if (rnd(2))
        json_object_set_new(spec, "transport", json_string(rnd(2) ? "sse" : "streamable-http"));
    if (rnd(2))
        json_object_set_new(spec, "oidcConfigRef",
                            json_pack("{s:s, s:s}", "name", "idp", "audience", "a"));
    if (rnd(2))
        json_object_set_new(spec, "args", json_pack("[s, s]", "--x", "y"));
    if (!beta) {
        if (rnd(2))
            json_object_set_new(spec, "port",
                                rnd(2) && json_object_get(spec, "proxyPort")
                                    ? json_incref(json_object_get(spec, "proxyPort"))
                                    : rnd_port());
        if (rnd(2))
            json_object_set_new(spec, "targetPort", rnd_port());
        if (rnd(2))
            json_object_set_new(spec, "tools", json_pack("[s]", "fetch"));
        if (rnd(2))
            json_object_set_new(spec, "oidcConfig",
                                json_pack("{s:s, s:{s:s}}", "type", "kubernetes", "kubernetes",
                                          "namespace", "default"));
    }
    if (rnd(2))
        json_object_set_new(json_object_get(obj, "metadata"), "annotations",
                            json_pack("{s:s}", "team", rnd(2) ? "a" : "b"));
    if (rnd(2))
        json_object_set_new(obj, "status",
                            json_pack("{s:s}", "phase",
                                      beta ? beta_phases[rnd(MCP_ARRAY_LEN(beta_phases))]
                                           : alpha_phases[rnd(MCP_ARRAY_LEN(alpha_phases))]));
    return obj;
}

static void round_trips(int beta)
{
    const char *there = beta ? MCP_API_VERSION : MCP_API_VERSION_BETA;
    const char *back = beta ? MCP_API_VERSION_BETA : MCP_API_VERSION;

    for (int i = 0; i < 2000; i++) {
        json_t *want = random_object(beta), *obj = json_deep_copy(want);

        assert_int_equal(mcp_convert(obj, there), 0);
        assert_null(json_object_get(json_object_get(obj, "spec"), beta ? "" : "port"));
        assert_int_equal(mcp_convert(obj, back), 0);
        expect_equal("round trip", want, obj);
        json_decref(obj);
        json_decref(want);
    }
}

static void test_round_trip_v1alpha1(void **state)
{
    (void)state;
    round_trips(0);
}

static void test_round_trip_v1beta1(void **state)
{
    (void)state;
    round_trips(1);
}

/* A port changed in v1beta1 is the new value, under the new name; the
 * v1alpha1-only fields come back. */
static void test_change_in_v1beta1(void **state)
{
    json_t *obj = json_pack("{s:s, s:s, s:{s:s}, s:{s:s, s:i, s:[s]}}", "apiVersion",
                            MCP_API_VERSION, "kind", "MCPServer", "metadata", "name", "s", "spec",
                            "image", "docker.io/mcp/time", "port", 8080, "tools", "fetch");
    json_t *spec;

    (void)state;
    assert_int_equal(mcp_convert(obj, MCP_API_VERSION_BETA), 0);
    spec = json_object_get(obj, "spec");
    assert_int_equal(json_integer_value(json_object_get(spec, "proxyPort")), 8080);
    json_object_set_new(spec, "proxyPort", json_integer(9000));
    assert_int_equal(mcp_convert(obj, MCP_API_VERSION), 0);
    assert_null(json_object_get(spec, "port"));
    assert_int_equal(json_integer_value(json_object_get(spec, "proxyPort")), 9000);
    assert_string_equal(json_string_value(json_array_get(json_object_get(spec, "tools"), 0)),
                        "fetch");
    assert_null(json_object_get(json_object_get(obj, "metadata"), "annotations"));
    json_decref(obj);
}

/* What a client may write cannot make conversion fail: a malformed
 * annotation is dropped; a wrong version is refused. */
static void test_malformed(void **state)
{
    static const char *const bad[] = {"not json", "[1]", "{\"port\":", "\"x\"",
                                      "{\"a\":1,\"a\":2}"};
    json_t *obj;

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(bad); i++) {
        obj = json_pack("{s:s, s:s, s:{s:s, s:{s:s}}, s:{s:s, s:i}}", "apiVersion",
                        MCP_API_VERSION_BETA, "kind", "MCPServer", "metadata", "name", "s",
                        "annotations", MCP_CONVERT_ANNOTATION, bad[i], "spec", "image", "x",
                        "proxyPort", 1);
        assert_int_equal(mcp_convert(obj, MCP_API_VERSION), 0);
        assert_null(json_object_get(json_object_get(obj, "metadata"), "annotations"));
        assert_int_equal(json_integer_value(mcp_json_get(obj, "spec.proxyPort")), 1);
        json_decref(obj);
    }
    obj = json_pack("{s:s, s:s, s:i}", "apiVersion", "toolhive.stacklok.dev/v2", "kind",
                    "MCPServer", "spec", 1);
    assert_int_equal(mcp_convert(obj, MCP_API_VERSION), MCP_EINVAL);
    json_object_set_new(obj, "apiVersion", json_string(MCP_API_VERSION));
    assert_int_equal(mcp_convert(obj, "v1"), MCP_EINVAL);
    /* a spec that is not an object converts as far as it goes */
    assert_int_equal(mcp_convert(obj, MCP_API_VERSION_BETA), 0);
    assert_int_equal(mcp_convert(NULL, MCP_API_VERSION), MCP_EINVAL);
    json_decref(obj);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),           cmocka_unit_test(test_round_trip_v1alpha1),
        cmocka_unit_test(test_round_trip_v1beta1), cmocka_unit_test(test_change_in_v1beta1),
        cmocka_unit_test(test_malformed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
