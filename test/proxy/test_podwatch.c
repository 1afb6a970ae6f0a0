/* What the pod watch makes of a Pod object (podwatch.c px_pod_from_json):
 * Ready only with condition Ready True, a podIP and no deletionTimestamp
 * (what puts a pod into its Services' endpoints); the generation moves when
 * the pod is replaced or its container restarts, not when only readiness
 * or the IP change; a pod that is gone is all zero. Its IPs (status.podIPs,
 * else podIP), which the egress proxy lets in, are known whether it is Ready
 * or not. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../proxy/upstream/podwatch.h"

#define POD(meta, status)                                                                          \
    "{\"metadata\":{\"name\":\"everything-0\",\"uid\":\"u1\"" meta "},\"status\":{" status "}}"
#define RUNNING(id)                                                                                \
    "\"containerStatuses\":[{\"name\":\"sidecar\",\"containerID\":\"containerd://side\","          \
    "\"state\":{\"running\":{}}},{\"name\":\"mcp\",\"containerID\":\"containerd://" id "\","       \
    "\"state\":{\"running\":{}}}]"
#define READY(v)                                                                                   \
    "\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\"},"                             \
    "{\"type\":\"Ready\",\"status\":\"" v "\"}]"

static void from(const char *text, const px_pod_t *prev, px_pod_t *out)
{
    json_t *obj = text ? json_loads(text, 0, NULL) : NULL;

    assert_true(!text || obj);
    px_pod_from_json(obj, "mcp", prev, out);
    json_decref(obj);
}

static void test_ready_pod(void **state)
{
    px_pod_t zero = {0}, p;

    (void)state;
    from(POD("", "\"podIP\":\"10.244.0.7\"," RUNNING("c1") "," READY("True")), &zero, &p);
    assert_true(p.ready);
    assert_true(p.running);
    assert_string_equal(p.ip, "10.244.0.7");
    assert_string_equal(p.uid, "u1");
    assert_string_equal(p.container_id, "containerd://c1"); /* the named container's */
    assert_int_equal(p.generation, 1);
}

static void test_not_ready(void **state)
{
    px_pod_t zero = {0}, p;

    (void)state;
    /* condition False */
    from(POD("", "\"podIP\":\"10.244.0.7\"," RUNNING("c1") "," READY("False")), &zero, &p);
    assert_false(p.ready);
    assert_true(p.running);
    /* no podIP yet */
    from(POD("", RUNNING("c1") "," READY("True")), &zero, &p);
    assert_false(p.ready);
    /* no conditions at all (just created) */
    from(POD("", "\"phase\":\"Pending\""), &zero, &p);
    assert_false(p.ready);
    assert_false(p.running);
    /* being deleted: out of the endpoints although still Ready */
    from(POD(",\"deletionTimestamp\":\"2026-11-30T13:48:11Z\"",
             "\"podIP\":\"10.244.0.7\"," RUNNING("c1") "," READY("True")),
         &zero, &p);
    assert_false(p.ready);
    assert_string_equal(p.ip, "10.244.0.7");
}

static void test_generation(void **state)
{
    px_pod_t zero = {0}, a, b, c, d, gone;

    (void)state;
    from(POD("", RUNNING("c1") "," READY("False")), &zero, &a);
    /* the IP and readiness arrive: same pod, same container */
    from(POD("", "\"podIP\":\"10.244.0.7\"," RUNNING("c1") "," READY("True")), &a, &b);
    assert_int_equal(b.generation, a.generation);
    assert_true(b.ready);
    /* the container restarted in place */
    from(POD("", "\"podIP\":\"10.244.0.7\"," RUNNING("c2") "," READY("True")), &b, &c);
    assert_int_equal(c.generation, b.generation + 1);
    /* gone */
    from(NULL, &c, &gone);
    assert_int_equal(gone.generation, c.generation + 1);
    assert_false(gone.ready);
    assert_string_equal(gone.ip, "");
    assert_string_equal(gone.uid, "");
    /* a new pod of the same name */
    from("{\"metadata\":{\"uid\":\"u2\"},\"status\":{\"podIP\":\"10.244.0.9\"," RUNNING(
             "c3") "," READY("True") "}}",
         &gone, &d);
    assert_int_equal(d.generation, gone.generation + 1);
    assert_string_equal(d.ip, "10.244.0.9");
    assert_true(d.ready);
}

static void test_pod_ips(void **state)
{
    px_pod_t zero = {0}, p;

    (void)state;
    from(POD("", "\"podIP\":\"10.244.0.7\",\"podIPs\":[{\"ip\":\"10.244.0.7\"},"
                 "{\"ip\":\"fd00:10:244::7\"},{\"ip\":\"10.0.0.9\"}]," RUNNING("c1") "," READY(
                     "False")),
         &zero, &p);
    assert_false(p.ready);
    assert_int_equal(p.n_ips, PX_POD_MAX_IPS); /* one per family; more are not kept */
    assert_string_equal(p.ips[0], "10.244.0.7");
    assert_string_equal(p.ips[1], "fd00:10:244::7");
    from(POD("", "\"podIP\":\"10.244.0.8\"," RUNNING("c1")), &zero, &p); /* no podIPs */
    assert_int_equal(p.n_ips, 1);
    assert_string_equal(p.ips[0], "10.244.0.8");
    from(POD("", RUNNING("c1")), &zero, &p); /* scheduled, no IP yet */
    assert_int_equal(p.n_ips, 0);
    from(NULL, &zero, &p); /* gone */
    assert_int_equal(p.n_ips, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ready_pod),
        cmocka_unit_test(test_not_ready),
        cmocka_unit_test(test_generation),
        cmocka_unit_test(test_pod_ips),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
