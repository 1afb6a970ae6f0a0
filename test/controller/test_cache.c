/* The cache: newer copies win, older ones are ignored, and a write's
 * response (epoch 0) only refreshes an entry still cached, so a status write
 * racing a DELETED event never brings the deleted MCPServer back. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../controller/internal.h"

static json_t *server(const char *rv, const char *phase)
{
    return json_pack("{s:{s:s, s:s, s:s}, s:{s:s}}", "metadata", "name", "a", "namespace", "ns",
                     "resourceVersion", rv, "status", "phase", phase);
}

static const char *phase(ctl_cache_t *c)
{
    static char buf[32];
    json_t *o = ctl_cache_get_server(c, "ns/a");

    snprintf(buf, sizeof(buf), "%s", o ? mcp_json_str(o, "status.phase") : "(none)");
    json_decref(o);
    return buf;
}

static void put(ctl_cache_t *c, const char *rv, const char *ph, uint32_t epoch)
{
    json_t *o = server(rv, ph);

    assert_int_equal(ctl_cache_put_server(c, "ns/a", o, epoch), 0);
    json_decref(o);
}

static void test_versions(void **state)
{
    ctl_cache_t *c = ctl_cache_new();

    (void)state;
    put(c, "10", "Pending", 1);
    put(c, "9", "Old", 1);
    assert_string_equal(phase(c), "Pending");
    put(c, "11", "Running", 0); /* our write's response */
    assert_string_equal(phase(c), "Running");
    ctl_cache_free(c);
}

static void test_response_after_delete(void **state)
{
    ctl_cache_t *c = ctl_cache_new();

    (void)state;
    put(c, "10", "Pending", 1);
    ctl_cache_del_server(c, "ns/a"); /* the DELETED event */
    put(c, "12", "Failed", 0);       /* then the status write's response */
    assert_string_equal(phase(c), "(none)");
    assert_int_equal(ctl_cache_servers(c), 0);
    put(c, "13", "Pending", 2); /* created again: the watch brings it */
    assert_string_equal(phase(c), "Pending");
    ctl_cache_free(c);
}

/* Children are kept compact (the pod's detail only as long as it is) and
 * come back whole: every field, a detail of any length up to the cap. */
static void test_child_records(void **state)
{
    ctl_cache_t *c = ctl_cache_new();
    ctl_child_t in, out;

    (void)state;
    memset(&in, 0, sizeof(in));
    snprintf(in.rv, sizeof(in.rv), "123");
    snprintf(in.owner_uid, sizeof(in.owner_uid), "uid-1");
    in.match_hash = 0x1234, in.applied = 0x1234, in.unverified = true, in.available = 2;
    in.epoch = 7;
    assert_int_equal(ctl_cache_put_child(c, "Deployment/ns/a", &in), 0);
    memset(&out, 0xff, sizeof(out));
    assert_true(ctl_cache_get_child(c, "Deployment/ns/a", &out));
    assert_memory_equal(&in, &out, sizeof(in));
    in.pod.state = CTL_POD_FAILED;
    memset(in.pod.detail, 'x', sizeof(in.pod.detail) - 1);
    assert_int_equal(ctl_cache_put_child(c, "Deployment/ns/a", &in), 0); /* replaces */
    assert_true(ctl_cache_get_child(c, "Deployment/ns/a", &out));
    assert_memory_equal(&in, &out, sizeof(in));
    assert_false(ctl_cache_get_child(c, "Deployment/ns/b", &out));
    ctl_cache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_versions),
        cmocka_unit_test(test_response_after_delete),
        cmocka_unit_test(test_child_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
