/* A restarted controller meets what the real apiserver stored: for each case
 * of test/fixtures/controller/live/ (captured by its capture.sh from a real
 * control plane after mcp-controller reconciled the desired/ cases), the
 * MCPServer with its status, every child and the MCP server pod are given to
 * the cache as the initial lists would, and one reconcile must write
 * nothing (and read nothing but what a ConfigMap profile needs). The in-memory
 * apiserver of test_reconcile stores exactly what we apply; the real one
 * defaults, drops and normalises (false values, quantities, empty lists,
 * protocols), and a desired object it does not keep as we sent it was
 * re-applied on every restart: one write per MCPServer on a no-op resync. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../testutil.h"
#include "fakeapi.h"

#define LIVE_DIR "test/fixtures/controller/live"

typedef struct env {
    fake_t api;
    ctl_ctrl_t ctrl;
} env_t;

static void env_init(env_t *e)
{

    fake_init(&e->api);
    fake_ctrl_init(&e->api, &e->ctrl);
}

static void env_dispose(env_t *e)
{
    fake_ctrl_dispose(&e->api, &e->ctrl);
}

/* Store obj at its REST path in the fake apiserver. */
static void store(env_t *e, json_t *obj, const char *base, const char *resource)
{
    char path[512];

    snprintf(path, sizeof(path), "%s/namespaces/%s/%s/%s", base,
             mcp_json_str(obj, "metadata.namespace"), resource, mcp_json_str(obj, "metadata.name"));
    json_object_set(e->api.objs, path, obj);
}

static void replay(const char *dir)
{
    char path[600], key[256];
    json_t *srv, *children, *cms, *o;
    env_t e;
    double rq = 0;
    size_t i;

    env_init(&e);
    snprintf(path, sizeof(path), "%s/mcpserver.json", dir);
    srv = tu_load_json(path);
    snprintf(path, sizeof(path), "%s/children.json", dir);
    children = tu_load_json(path);
    snprintf(path, sizeof(path), "%s/configmaps.json", dir);
    cms = tu_load_json(path);
    assert_non_null(mcp_json_str(srv, "status.phase"));
    store(&e, srv, "/apis/" MCP_API_VERSION, MCP_PLURAL);
    json_array_foreach(cms, i, o) store(&e, o, "/api/v1", "configmaps");
    /* the initial lists: MCPServers first, then the children */
    ctl_on_server_event(&e.ctrl, "ADDED", srv, 1);
    json_array_foreach(children, i, o)
    {
        const ctl_kind_t *k = ctl_kind_find(mcp_json_str(o, "kind"));
        assert_non_null(k);
        store(&e, o, k->base, k->resource);
        ctl_on_child_event(&e.ctrl, "ADDED", o, 1);
    }
    snprintf(key, sizeof(key), "%s/%s", mcp_json_str(srv, "metadata.namespace"),
             mcp_json_str(srv, "metadata.name"));
    fake_reset_counts(&e.api);
    ctl_reconcile(&e.ctrl, key, &rq);
    if (fake_writes(&e.api) != 0)
        fail_msg("%s: %d writes on a no-op resync:\n%s", dir, fake_writes(&e.api), e.api.log);
    /* reads: none, but with a ConfigMap profile the ConfigMap and, once
     * after a restart, the NetworkPolicy made from it (a watch handler cannot
     * compute it: it does no I/O) */
    assert_int_equal(e.api.gets, json_array_size(cms) > 0 ? 2 : 0);
    fake_reset_counts(&e.api);
    ctl_reconcile(&e.ctrl, key, &rq);
    assert_int_equal(fake_writes(&e.api), 0);
    assert_int_equal(e.api.gets, json_array_size(cms) > 0 ? 1 : 0);
    json_decref(srv);
    json_decref(children);
    json_decref(cms);
    env_dispose(&e);
}

static void test_restart_on_live_objects(void **state)
{
    char **cases = tu_list_dirs(LIVE_DIR);
    size_t n = 0;

    (void)state;
    for (; cases[n]; n++) {
        char dir[512];
        snprintf(dir, sizeof(dir), "%s/%s", LIVE_DIR, cases[n]);
        replay(dir);
    }
    assert_true(n >= 10);
    tu_free_list(cases);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_restart_on_live_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
