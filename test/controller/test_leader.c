/* Lease leader election against the in-memory apiserver: create when
 * absent, renew keeping acquireTime, a fresh Lease held by another is left
 * alone, an expired one (by our own observation) is taken over with
 * leaseTransitions bumped, and a released Lease is taken at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "fakeapi.h"

#define LEASE "/apis/coordination.k8s.io/v1/namespaces/ops/leases/mcp"

static void changed(void *ctx, bool leader)
{
    *(int *)ctx += leader ? 1 : 100;
}

static void test_election(void **state)
{
    fake_t api;
    int a_changes = 0;
    ctl_leader_opts_t oa = {
        .ns = "ops", .name = "mcp", .identity = "A", .lease_s = 1, .renew_s = 0.5, .retry_s = 0.1};
    ctl_leader_opts_t ob = oa;
    ctl_leader_t *a, *b;
    char acquired[64];

    (void)state;
    fake_init(&api);
    ob.identity = "B";
    a = ctl_leader_new(&api.super, &oa, changed, &a_changes);
    b = ctl_leader_new(&api.super, &ob, NULL, NULL);

    assert_true(ctl_leader_try(a));
    assert_int_equal(api.posts, 1);
    assert_string_equal(mcp_json_str(json_object_get(api.objs, LEASE), "spec.holderIdentity"), "A");
    assert_int_equal(json_integer_value(mcp_json_get(json_object_get(api.objs, LEASE),
                                                     "spec.leaseDurationSeconds")),
                     1);
    snprintf(acquired, sizeof(acquired), "%s",
             mcp_json_str(json_object_get(api.objs, LEASE), "spec.acquireTime"));
    usleep(2000);
    assert_true(ctl_leader_try(a)); /* renew */
    assert_int_equal(api.puts, 1);
    assert_string_equal(mcp_json_str(json_object_get(api.objs, LEASE), "spec.acquireTime"),
                        acquired);

    assert_false(ctl_leader_try(b)); /* fresh, held by A */
    usleep(1200000);                 /* A stops renewing for longer than the lease */
    assert_true(ctl_leader_try(b));
    assert_string_equal(mcp_json_str(json_object_get(api.objs, LEASE), "spec.holderIdentity"), "B");
    assert_int_equal(
        json_integer_value(mcp_json_get(json_object_get(api.objs, LEASE), "spec.leaseTransitions")),
        1);
    assert_false(ctl_leader_try(a)); /* B holds it now */

    /* B releases on shutdown: A takes over without waiting */
    {
        volatile int stop = 1;
        api.super.stop = &stop;
        ctl_leader_run(b); /* stop already set: one release */
        api.super.stop = NULL;
    }
    assert_false(ctl_leader_is_leader(b));
    assert_string_equal(mcp_json_str(json_object_get(api.objs, LEASE), "spec.holderIdentity"), "");
    assert_true(ctl_leader_try(a));
    ctl_leader_free(a);
    ctl_leader_free(b);
    fake_dispose(&api);
}

static void test_release_on_stop(void **state)
{
    fake_t api;
    int changes = 0;
    volatile int stop = 0;
    ctl_leader_opts_t o = {
        .ns = "ops", .name = "mcp", .identity = "A", .lease_s = 15, .renew_s = 10, .retry_s = 0.1};
    ctl_leader_t *l;

    (void)state;
    fake_init(&api);
    api.super.stop = &stop;
    l = ctl_leader_new(&api.super, &o, changed, &changes);
    assert_true(ctl_leader_try(l));
    /* simulate the run loop having taken leadership, then SIGTERM */
    stop = 1;
    ctl_leader_run(l);
    assert_int_equal(changes, 0); /* never marked leader by run (stopped first) */
    assert_string_equal(mcp_json_str(json_object_get(api.objs, LEASE), "spec.holderIdentity"), "");
    ctl_leader_free(l);
    fake_dispose(&api);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_election),
        cmocka_unit_test(test_release_on_stop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
