/* Lease leader election against the in-memory apiserver: create when
 * absent, renew keeping acquireTime, a fresh Lease held by another is left
 * alone, an expired one (by our own observation) is taken over with
 * leaseTransitions bumped, and a released Lease is taken at once. Leading
 * ends at the renew deadline by the clock even while a request hangs, every
 * Lease request is bounded by the time left, the reconciler writes nothing
 * after the deadline, and the run loop never releases (the caller does,
 * after its workers stopped). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
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
        ctl_leader_run(b); /* stop already set: returns, holding the Lease */
        api.super.stop = NULL;
    }
    assert_string_equal(mcp_json_str(json_object_get(api.objs, LEASE), "spec.holderIdentity"), "B");
    ctl_leader_release(b);
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
    assert_int_equal(changes, 0);         /* never marked leader by run (stopped first) */
    assert_true(ctl_leader_is_leader(l)); /* until released: the workers may still run */
    assert_string_equal(mcp_json_str(json_object_get(api.objs, LEASE), "spec.holderIdentity"), "A");
    ctl_leader_release(l); /* after the workers stopped */
    assert_false(ctl_leader_is_leader(l));
    assert_string_equal(mcp_json_str(json_object_get(api.objs, LEASE), "spec.holderIdentity"), "");
    ctl_leader_free(l);
    fake_dispose(&api);
}

/* The fake apiserver behind a network that can hang: a request then takes
 * hang_ms (or its own timeout when honour_timeout) and fails. */
typedef struct hanging {
    fake_t api;
    volatile int hang_ms, honour_timeout;
    volatile long last_timeout_ms;
    volatile int in_request;
} hanging_t;

static int hanging_request(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp)
{
    hanging_t *h = (hanging_t *)c;
    long ms = h->hang_ms;

    h->last_timeout_ms = req->timeout_ms;
    if (ms <= 0)
        return fake_request(c, req, resp);
    if (h->honour_timeout && req->timeout_ms > 0 && req->timeout_ms < ms)
        ms = req->timeout_ms;
    h->in_request = 1;
    usleep((useconds_t)ms * 1000);
    h->in_request = 0;
    return MCP_EIO;
}

static void *try_once(void *arg)
{
    ctl_leader_try(arg);
    return NULL;
}

static void test_deadline_while_hanging(void **state)
{
    hanging_t h;
    ctl_leader_opts_t o = {
        .ns = "ops", .name = "mcp", .identity = "A", .lease_s = 3, .renew_s = 1, .retry_s = 0.2};
    ctl_leader_t *l;
    pthread_t t;
    double t0;

    (void)state;
    memset(&h, 0, sizeof(h));
    fake_init(&h.api);
    h.api.super.request = hanging_request;
    l = ctl_leader_new(&h.api.super, &o, NULL, NULL);
    assert_true(ctl_leader_try(l));
    t0 = ctl_mono();
    assert_true(ctl_leader_is_leader(l));
    assert_true(ctl_leader_deadline(l) <= t0 + 1.0);
    /* the network hangs for 3 s, longer than the renew deadline */
    h.hang_ms = 3000;
    assert_int_equal(pthread_create(&t, NULL, try_once, l), 0);
    while (ctl_leader_is_leader(l))
        usleep(10000);
    assert_true(ctl_mono() - t0 <= 1.5); /* the deadline is 1 s; the hang 3 s */
    assert_true(h.in_request);           /* stepped down while the renewal still hangs */
    assert_true(h.last_timeout_ms > 0 && h.last_timeout_ms <= 1000);
    pthread_join(t, NULL);
    /* no longer leading, a request gets the whole renew deadline again (not
     * what was left of a deadline long past): the Lease is taken back */
    h.hang_ms = 0;
    assert_true(ctl_leader_try(l));
    assert_true(h.last_timeout_ms >= 900 && h.last_timeout_ms <= 1000);
    /* a client that honours the timeout comes back by the deadline */
    t0 = ctl_mono();
    h.hang_ms = 3000;
    h.honour_timeout = 1;
    usleep(300000);
    assert_false(ctl_leader_try(l));
    assert_true(ctl_mono() - t0 <= 1.5);
    assert_true(h.last_timeout_ms > 0 && h.last_timeout_ms <= 700);
    usleep(2000); /* the request ended at the deadline, to the millisecond */
    assert_false(ctl_leader_is_leader(l));
    ctl_leader_free(l);
    fake_dispose(&h.api);
}

/* After the deadline the reconciler writes nothing, even mid-way. */
static void test_no_writes_after_deadline(void **state)
{
    fake_t api;
    ctl_leader_opts_t o = {
        .ns = "ops", .name = "mcp", .identity = "A", .lease_s = 5, .renew_s = 1, .retry_s = 0.1};
    ctl_queue_opts_t qo = {.base_ms = 5, .cap_ms = 100};
    ctl_ctrl_t c = {.cache = ctl_cache_new(), .queue = ctl_queue_new(&qo), .events = true};
    json_t *srv = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s}, s:{s:s, s:s}}", "apiVersion",
                            MCP_API_VERSION, "kind", MCP_KIND, "metadata", "name", "fetch",
                            "namespace", "default", "uid", "u1", "resourceVersion", "5", "spec",
                            "image", "docker.io/mcp/fetch", "transport", "stdio");
    double rq;
    ctl_leader_t *l;

    (void)state;
    fake_init(&api);
    c.client = &api.super;
    c.leader = l = ctl_leader_new(&api.super, &o, NULL, NULL);
    assert_true(ctl_leader_try(l));
    ctl_on_server_event(&c, "ADDED", srv, 1);
    usleep(1100000);
    fake_reset_counts(&api);
    assert_int_equal(ctl_reconcile(&c, "default/fetch", &rq), CTL_RES_ERROR);
    assert_int_equal(fake_writes(&api), 0);
    /* leading again: it writes */
    assert_true(ctl_leader_try(l));
    fake_reset_counts(&api);
    assert_int_equal(ctl_reconcile(&c, "default/fetch", &rq), CTL_RES_OK);
    assert_true(api.applies > 0);
    json_decref(srv);
    ctl_leader_free(l);
    ctl_cache_free(c.cache);
    ctl_queue_free(c.queue);
    fake_dispose(&api);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_election),
        cmocka_unit_test(test_release_on_stop),
        cmocka_unit_test(test_deadline_while_hanging),
        cmocka_unit_test(test_no_writes_after_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
