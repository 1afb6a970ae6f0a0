/* Status computation (pure): the MCP server pod's states to phase and message
 * (a table in test/fixtures/controller/status/pods.json: a new case needs no
 * new C), the status object and its conditions, and the JSON "contains" rule
 * behind the skip-unchanged-writes logic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../controller/internal.h"
#include "../testutil.h"

static ctl_status_in_t pending(const char *now)
{
    return (ctl_status_in_t){.phase = "Pending",
                             .message = "waiting",
                             .url = "http://mcp-a-proxy.ns.svc.cluster.local:8080",
                             .valid = true,
                             .ready_reason = "Pending",
                             .generation = 3,
                             .now = now};
}

static const json_t *cond(const json_t *st, const char *type)
{
    return mcp_json_find(json_object_get(st, "conditions"), "type", type);
}

static void test_first_status(void **state)
{
    ctl_status_in_t in = pending("2026-01-01T00:00:00Z");
    int oom = 1;
    json_t *st = ctl_status_compute(NULL, &in, &oom);

    (void)state;
    assert_non_null(st);
    assert_int_equal(oom, 0);
    assert_string_equal(mcp_json_str(st, "phase"), "Pending");
    assert_string_equal(mcp_json_str(st, "url"), in.url);
    assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 3);
    assert_string_equal(mcp_json_str(cond(st, "Ready"), "status"), "False");
    assert_string_equal(mcp_json_str(cond(st, "Ready"), "reason"), "Pending");
    assert_int_equal(json_integer_value(json_object_get(cond(st, "Ready"), "observedGeneration")),
                     3);
    assert_string_equal(mcp_json_str(cond(st, "Valid"), "status"), "True");
    assert_string_equal(mcp_json_str(cond(st, "Valid"), "lastTransitionTime"),
                        "2026-01-01T00:00:00Z");
    json_decref(st);
}

static void test_no_change_is_null(void **state)
{
    ctl_status_in_t in = pending("2026-01-01T00:00:00Z");
    int oom;
    json_t *st = ctl_status_compute(NULL, &in, &oom), *again;

    (void)state;
    in.now = "2026-01-01T01:00:00Z"; /* time moves on; nothing else */
    again = ctl_status_compute(st, &in, &oom);
    assert_null(again);
    assert_int_equal(oom, 0);
    json_decref(st);
}

static void test_transition_times(void **state)
{
    ctl_status_in_t in = pending("T1");
    int oom;
    json_t *st = ctl_status_compute(NULL, &in, &oom), *next;

    (void)state;
    in.phase = "Running", in.ready = true, in.message = "ok", in.now = "T2";
    next = ctl_status_compute(st, &in, &oom);
    assert_non_null(next);
    assert_string_equal(mcp_json_str(cond(next, "Ready"), "status"), "True");
    assert_string_equal(mcp_json_str(cond(next, "Ready"), "lastTransitionTime"), "T2");
    /* Valid did not change: its time is kept */
    assert_string_equal(mcp_json_str(cond(next, "Valid"), "lastTransitionTime"), "T1");
    json_decref(st);
    /* a generation bump alone is a change (observedGeneration) */
    in.generation = 4, in.now = "T3";
    st = ctl_status_compute(next, &in, &oom);
    assert_non_null(st);
    assert_string_equal(mcp_json_str(cond(st, "Ready"), "lastTransitionTime"), "T2");
    assert_int_equal(json_integer_value(json_object_get(st, "observedGeneration")), 4);
    json_decref(st);
    json_decref(next);
}

static void test_invalid_clears_url(void **state)
{
    ctl_status_in_t in = pending("T1");
    int oom;
    json_t *st = ctl_status_compute(NULL, &in, &oom), *bad;
    const char *msg = "MCPServer \"a\" is invalid: spec.port: Invalid value: 0: must be between 1 "
                      "and 65535";

    (void)state;
    in = (ctl_status_in_t){.phase = "Failed",
                           .message = msg,
                           .valid = false,
                           .valid_message = msg,
                           .ready_reason = "Invalid",
                           .generation = 4,
                           .now = "T2"};
    bad = ctl_status_compute(st, &in, &oom);
    assert_non_null(bad);
    assert_true(json_is_null(json_object_get(bad, "url"))); /* merge patch: delete */
    assert_string_equal(mcp_json_str(cond(bad, "Valid"), "status"), "False");
    assert_string_equal(mcp_json_str(cond(bad, "Valid"), "message"), msg);
    assert_string_equal(mcp_json_str(bad, "phase"), "Failed");
    /* the server's view after the merge patch: no url key at all */
    json_object_del(bad, "url");
    assert_null(ctl_status_compute(bad, &in, &oom));
    json_decref(bad);
    json_decref(st);
}

static void test_extra_conditions_rewritten(void **state)
{
    ctl_status_in_t in = pending("T1");
    int oom;
    json_t *st = ctl_status_compute(NULL, &in, &oom), *next;

    (void)state;
    json_array_append_new(json_object_get(st, "conditions"),
                          json_pack("{s:s, s:s}", "type", "Other", "status", "True"));
    next = ctl_status_compute(st, &in, &oom);
    assert_non_null(next);
    assert_int_equal(json_array_size(json_object_get(next, "conditions")), 2);
    json_decref(next);
    json_decref(st);
}

static void test_contains(void **state)
{
    json_t *live = json_loads(
        "{\"a\":1,\"b\":{\"c\":\"x\",\"d\":[1,2]},\"e\":[{\"name\":\"p\",\"v\":1,\"extra\":true},"
        "{\"name\":\"q\",\"v\":2}],\"f\":2.0}",
        0, NULL);
    const char *yes[] = {"{}",
                         "{\"a\":1}",
                         "{\"b\":{\"d\":[1,2]}}",
                         "{\"e\":[{\"name\":\"q\"}]}",
                         "{\"e\":[{\"name\":\"q\",\"v\":2},{\"name\":\"p\",\"v\":1}]}",
                         "{\"f\":2}",
                         "{\"zz\":null}"};
    const char *no[] = {"{\"a\":2}",
                        "{\"b\":{\"d\":[1]}}",
                        "{\"b\":{\"d\":[2,1]}}",
                        "{\"e\":[{\"name\":\"r\"}]}",
                        "{\"missing\":1}",
                        "{\"a\":null}",
                        "{\"b\":[1]}"};

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(yes); i++) {
        json_t *w = json_loads(yes[i], 0, NULL);
        assert_true(ctl_json_contains(live, w));
        json_decref(w);
    }
    for (size_t i = 0; i < MCP_ARRAY_LEN(no); i++) {
        json_t *w = json_loads(no[i], 0, NULL);
        if (ctl_json_contains(live, w))
            fail_msg("should not contain %s", no[i]);
        json_decref(w);
    }
    json_decref(live);
}

static void test_hash_order_independent(void **state)
{
    json_t *a = json_loads("{\"x\":1,\"y\":[1,2]}", 0, NULL);
    json_t *b = json_loads("{\"y\":[1,2],\"x\":1}", 0, NULL);
    json_t *c = json_loads("{\"y\":[2,1],\"x\":1}", 0, NULL);

    (void)state;
    assert_true(ctl_json_hash(a) == ctl_json_hash(b));
    assert_true(ctl_json_hash(a) != ctl_json_hash(c));
    json_decref(a), json_decref(b), json_decref(c);
}

static void test_pod_table(void **state)
{
    json_t *cases = tu_load_json("test/fixtures/controller/status/pods.json"), *c;
    size_t i;

    (void)state;
    assert_true(json_array_size(cases) >= 15);
    json_array_foreach(cases, i, c)
    {
        const json_t *pod = json_object_get(c, "pod");
        ctl_pod_summary_t sum;
        ctl_status_in_t in = {0};
        char msg[CTL_POD_DETAIL_MAX + 64];

        ctl_pod_summarize(pod, &sum);
        ctl_workload_status((int32_t)json_integer_value(json_object_get(c, "proxyAvailable")),
                            json_is_null(pod) ? NULL : &sum, "", &in, msg, sizeof(msg));
        if (strcmp(in.phase, mcp_json_str(c, "phase")) != 0 ||
            strcmp(in.message, mcp_json_str(c, "message")) != 0 ||
            in.ready != json_is_true(json_object_get(c, "ready")))
            fail_msg("case \"%s\": got %s \"%s\" ready=%d", mcp_json_str(c, "case"), in.phase,
                     in.message, in.ready);
        assert_true(in.ready || in.ready_reason);
        if (mcp_json_str(c, "reason") && strcmp(in.ready_reason, mcp_json_str(c, "reason")) != 0)
            fail_msg("case \"%s\": reason %s, want %s", mcp_json_str(c, "case"), in.ready_reason,
                     mcp_json_str(c, "reason"));
        /* a Warning Event for every failure, none for plain progress */
        assert_int_equal(in.problem, !in.ready && strcmp(in.ready_reason, "Pending") != 0);
    }
    json_decref(cases);
}

/* A kubelet message longer than the cache keeps is cut, not overflowed. */
static void test_pod_detail_capped(void **state)
{
    char big[4096];
    json_t *pod;
    ctl_pod_summary_t sum;
    ctl_status_in_t in = {0};
    char msg[CTL_POD_DETAIL_MAX + 64];

    (void)state;
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    pod = json_pack("{s:{s:s, s:[{s:s, s:{s:{s:s, s:s}}}]}}", "status", "phase", "Pending",
                    "containerStatuses", "name", "mcp", "state", "waiting", "reason",
                    "CreateContainerError", "message", big);
    ctl_pod_summarize(pod, &sum);
    assert_int_equal(strlen(sum.detail), CTL_POD_DETAIL_MAX - 1);
    ctl_workload_status(1, &sum, "", &in, msg, sizeof(msg));
    assert_string_equal(in.phase, "Pending");
    assert_int_equal(strncmp(in.message, "MCP server is starting: CreateContainerError: xxx", 49),
                     0);
    json_decref(pod);
}

/* The proxy's own reason, from its /health body; only the proxy's pods. */
static void test_proxy_why(void **state)
{
    char why[224], big[1024];
    json_t *list;
    size_t n;

    (void)state;
    n = ctl_proxy_health_reason("data path down: the MCP server cannot be reached: "
                                "connection refused to 10.244.0.7:3002\n",
                                why, sizeof(why));
    assert_int_equal(n, strlen(why));
    assert_string_equal(why,
                        "the MCP server cannot be reached: connection refused to 10.244.0.7:3002");
    assert_int_equal(ctl_proxy_health_reason("data path down\n", why, sizeof(why)), 0);
    assert_string_equal(why, "");
    assert_int_equal(ctl_proxy_health_reason(NULL, why, sizeof(why)), 0);
    ctl_proxy_health_reason("data path down: a\x1b[31mb\xc3\xa9", why, sizeof(why));
    assert_string_equal(why, "a?[31mb??"); /* no terminal escapes, no bytes above ASCII */
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "data path down: ", 16);
    assert_int_equal(ctl_proxy_health_reason(big, why, sizeof(why)), 200);
    assert_int_equal(ctl_proxy_health_reason(big, why, 8), 7);

    list = json_loads(
        "{\"items\":["
        /* a pod with the labels but not the Deployment's: skipped */
        "{\"metadata\":{\"ownerReferences\":[{\"kind\":\"StatefulSet\",\"name\":\"fetch\"}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.1\"}},"
        /* another server's ReplicaSet, named with this one as a prefix: skipped */
        "{\"metadata\":{\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"fetchx-1\"}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.2\"}},"
        /* terminating: skipped */
        "{\"metadata\":{\"deletionTimestamp\":\"x\",\"ownerReferences\":[{\"kind\":"
        "\"ReplicaSet\",\"name\":\"fetch-5d9\"}]},\"status\":{\"phase\":\"Running\","
        "\"podIP\":\"10.0.0.3\"}},"
        /* not an address: skipped */
        "{\"metadata\":{\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"fetch-5d9\"}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"evil.example/x?\"}},"
        "{\"metadata\":{\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"fetch-5d9\"}]},"
        "\"status\":{\"phase\":\"Running\",\"podIP\":\"fd00::7\"}}]}",
        0, NULL);
    assert_string_equal(ctl_proxy_pod_ip(list, "fetch"), "fd00::7");
    assert_null(ctl_proxy_pod_ip(list, "fetc"));
    json_decref(list);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_status),
        cmocka_unit_test(test_pod_table),
        cmocka_unit_test(test_proxy_why),
        cmocka_unit_test(test_pod_detail_capped),
        cmocka_unit_test(test_no_change_is_null),
        cmocka_unit_test(test_transition_times),
        cmocka_unit_test(test_invalid_clears_url),
        cmocka_unit_test(test_extra_conditions_rewritten),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_hash_order_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
