/* One poisoned MCPServer never stops the controller (issue 11, items 1 and
 * 4): a list page holding an MCPServer nested 1,800 levels deep, one of
 * 150,000 values, one with a NUL in a key and one 40 levels deep (loaded,
 * but over the schema's 32), next to good ones, is listed,
 * cached and reconciled on a thread with the controller's 512 KiB stack; the
 * poisoned ones get phase Failed through /status with a validation-style
 * message and nothing else, the good ones (one holding U+0000 in a string)
 * get their children. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fakeapi.h"
#include "testutil.h"

#define NS       "default"
#define SRV_PATH "/apis/toolhive.stacklok.dev/v1alpha1/namespaces/default/mcpservers/"
#define DEP_PATH "/apis/apps/v1/namespaces/default/deployments/"
#define STACK    ((size_t)512 << 10)

static const char *spec_fmt =
    "{\"image\":\"docker.io/mcp/fetch\",\"transport\":\"stdio\",\"port\":8080,"
    "\"permissionProfile\":{\"type\":\"builtin\",\"name\":\"network\"},"
    "\"podTemplateSpec\":{\"metadata\":{\"annotations\":{\"a\":\"x\\u0000y\"}},\"x\":%s}}";

typedef struct env {
    fake_t api;
    ctl_ctrl_t ctrl;
    char *page; /* the raw list the fake client answers */
    const char *why[8];
} env_t;

/* The fake, plus list requests answered from env.page (raw, as the real
 * client does for list pages). */
static int list_request(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp)
{
    env_t *e = (env_t *)c;

    if (!req->raw)
        return fake_request(c, req, resp);
    resp->status = 200;
    resp->raw = strdup(e->page);
    resp->raw_len = strlen(e->page);
    return 0;
}

/* An MCPServer as the apiserver sends it in a list: the text, and the same
 * object with a harmless x in the fake (which only needs it for /status). */
static char *server(env_t *e, const char *name, const char *x)
{
    char *spec = NULL, *text = NULL, path[256], why[128];
    json_t *obj, *small;

    assert_true(asprintf(&spec, spec_fmt, x) > 0);
    assert_true(asprintf(&text,
                         "{\"apiVersion\":\"" MCP_API_VERSION "\",\"kind\":\"" MCP_KIND "\","
                         "\"metadata\":{\"name\":\"%s\",\"namespace\":\"" NS "\",\"uid\":\"u-%s\","
                         "\"generation\":2,\"resourceVersion\":\"7\",\"managedFields\":[{"
                         "\"fieldsV1\":{\"f:spec\":{\"f:x\":%s}}}]},\"spec\":%s}",
                         name, name, x, spec) > 0);
    small = mcp_json_load_bounded(text, strlen(text), &mcp_kube_limits, why, sizeof(why));
    if (!small) { /* the poisoned ones: keep the fake's copy small */
        char *sp = NULL;
        assert_true(asprintf(&sp, spec_fmt, "1") > 0);
        small = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:i, s:s}, s:o}", "apiVersion",
                          MCP_API_VERSION, "kind", MCP_KIND, "metadata", "name", name, "namespace",
                          NS, "uid", "u-poison", "generation", 2, "resourceVersion", "7", "spec",
                          json_loads(sp, JSON_ALLOW_NUL, NULL));
        free(sp);
    }
    obj = json_deep_copy(small);
    json_object_del(json_object_get(obj, "metadata"), "managedFields");
    snprintf(path, sizeof(path), SRV_PATH "%s", name);
    json_object_set_new(e->api.objs, path, obj);
    json_decref(small);
    free(spec);
    return text;
}

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof(*e));
    char *deep = tu_json_nested(1800, "1"), *many = tu_json_zeros(150000),
         *deep40 = tu_json_nested(40, "1"), *s[6];

    fake_init(&e->api);
    e->api.super.request = list_request;
    fake_ctrl_init(&e->api, &e->ctrl);
    s[0] = server(e, "good", "{\"k\":\"v\\u0000w\"}");
    s[1] = server(e, "deep", deep);
    s[2] = server(e, "many", many);
    s[3] = server(e, "nulkey", "{\"a\\u0000\":1}");
    s[4] = server(e, "good2", "[[[[1]]]]");
    s[5] = server(e, "deep40", deep40);
    assert_true(asprintf(&e->page,
                         "{\"apiVersion\":\"" MCP_API_VERSION "\",\"items\":[%s,%s,%s,%s,%s,%s],"
                         "\"kind\":\"MCPServerList\",\"metadata\":{\"resourceVersion\":\"9\"}}",
                         s[0], s[1], s[2], s[3], s[4], s[5]) > 0);
    for (int i = 0; i < 6; i++)
        free(s[i]);
    free(deep);
    free(deep40);
    free(many);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env_t *e = *state;

    fake_ctrl_dispose(&e->api, &e->ctrl);
    free(e->page);
    free(e);
    return 0;
}

/* The manager's glue, as in manager.c. */
static void on_event(void *ctx, const mcp_kube_watch_t *w, const char *type, json_t *obj,
                     uint32_t epoch)
{
    (void)w;
    ctl_on_server_event(ctx, type, obj, epoch);
}

static void on_bad(void *ctx, const mcp_kube_watch_t *w, const char *type, json_t *stub,
                   const char *why, uint32_t epoch)
{
    (void)w;
    ctl_on_server_unreadable(ctx, type, stub, why, epoch);
}

static void *list_and_reconcile(void *arg)
{
    env_t *e = arg;
    mcp_kube_watch_spec_t spec = {.kind = MCP_KIND,
                                  .base = "/apis/" MCP_API_VERSION,
                                  .resource = MCP_PLURAL,
                                  .namespace = NS};
    mcp_kube_watch_ops_t ops = {.event = on_event, .bad = on_bad, .ctx = &e->ctrl};
    mcp_kube_watch_t w;
    static const char *const names[] = {"good", "deep", "many", "nulkey", "good2", "deep40"};
    static enum ctl_result res[6];
    char key[64];
    double rq;

    mcp_kube_watch_init(&w, &spec, &e->api.super, &ops);
    if (mcp_kube_watch_list(&w) != 0)
        return NULL;
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), NS "/%s", names[i]);
        res[i] = ctl_reconcile(&e->ctrl, key, &rq);
    }
    return res;
}

static const char *status_of(env_t *e, const char *name, const char *field)
{
    char path[256];

    snprintf(path, sizeof(path), SRV_PATH "%s", name);
    return mcp_json_str(json_object_get(e->api.objs, path), field);
}

static void test_poisoned_list(void **state)
{
    env_t *e = *state;
    pthread_attr_t a;
    pthread_t t;
    enum ctl_result *res = NULL;

    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, STACK);
    assert_int_equal(pthread_create(&t, &a, list_and_reconcile, e), 0);
    pthread_join(t, (void **)&res);
    pthread_attr_destroy(&a);
    assert_non_null(res);
    assert_int_equal(ctl_cache_servers(e->ctrl.cache), 6);
    assert_int_equal(res[0], CTL_RES_OK);
    assert_int_equal(res[4], CTL_RES_OK);
    assert_non_null(json_object_get(e->api.objs, DEP_PATH "good"));
    assert_non_null(json_object_get(e->api.objs, DEP_PATH "good2"));
    assert_string_equal(status_of(e, "good", "status.phase"), "Pending");
    for (int i = 1; i <= 3; i++)
        assert_int_equal(res[i], CTL_RES_INVALID);
    assert_null(json_object_get(e->api.objs, DEP_PATH "deep"));
    assert_null(json_object_get(e->api.objs, DEP_PATH "many"));
    assert_null(json_object_get(e->api.objs, DEP_PATH "nulkey"));
    assert_string_equal(status_of(e, "deep", "status.phase"), "Failed");
    assert_string_equal(status_of(e, "deep", "status.message"),
                        "MCPServer \"deep\" is invalid: spec: Invalid value: \"object\": nested "
                        "more than 64 levels deep");
    assert_string_equal(status_of(e, "many", "status.message"),
                        "MCPServer \"many\" is invalid: spec: Invalid value: \"object\": more "
                        "than 100000 JSON values");
    /* within what the controller loads, but over the schema's bound */
    assert_int_equal(res[5], CTL_RES_INVALID);
    assert_null(json_object_get(e->api.objs, DEP_PATH "deep40"));
    assert_non_null(strstr(status_of(e, "deep40", "status.message"),
                           "spec.podTemplateSpec: Invalid value: \"object\": must be nested at "
                           "most 32 levels deep"));
    assert_non_null(strstr(status_of(e, "nulkey", "status.message"),
                           "MCPServer \"nulkey\" is invalid: spec: Invalid value: \"object\": not "
                           "valid JSON: NUL byte in object key not supported"));
    assert_int_equal(json_integer_value(mcp_json_get(json_object_get(e->api.objs, SRV_PATH "deep"),
                                                     "status.observedGeneration")),
                     2);
}

/* Once Failed, a resync writes nothing more for the poisoned ones. */
static void test_poisoned_resync_is_quiet(void **state)
{
    env_t *e = *state;
    double rq;

    assert_non_null(list_and_reconcile(e));
    fake_reset_counts(&e->api);
    assert_int_equal(ctl_reconcile(&e->ctrl, NS "/deep", &rq), CTL_RES_INVALID);
    assert_int_equal(ctl_reconcile(&e->ctrl, NS "/many", &rq), CTL_RES_INVALID);
    assert_int_equal(fake_writes(&e->api), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_poisoned_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_poisoned_resync_is_quiet, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
