/* List-then-watch logic over a scripted fake transport: paged lists with
 * continue tokens, bookmarks moving the resourceVersion, 410 Gone both as an
 * HTTP status and as an ERROR event (relist), other failures, the bounded
 * random timeout, and the run loop's relist/restart accounting. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/json.h"
#include "mcp/kube.h"

typedef struct script {
    mcp_kube_client_t super;
    int lists, streams;
    char last_path[1024];
    char events[4096]; /* what the handler saw: "TYPE name@epoch;" */
    int synced, restarts;
    /* per stream call: HTTP status, body (NDJSON or Status), stop after */
    struct {
        long status;
        const char *body;
    } plan[8];
    int nplan;
    int stop_after_streams;
    volatile int stop;
} script_t;

static int s_request(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp)
{
    script_t *s = (script_t *)c;

    snprintf(s->last_path, sizeof(s->last_path), "%s", req->path);
    resp->status = 200;
    if (strstr(req->path, "continue=") == NULL) {
        s->lists++;
        resp->body = json_loads("{\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"t/=\"},"
                                "\"items\":[{\"metadata\":{\"name\":\"a\"}},"
                                "{\"metadata\":{\"name\":\"b\"}}]}",
                                0, NULL);
    } else {
        assert_non_null(strstr(req->path, "continue=t%2F%3D"));
        resp->body = json_loads("{\"metadata\":{\"resourceVersion\":\"50\"},"
                                "\"items\":[{\"metadata\":{\"name\":\"c\"}}]}",
                                0, NULL);
    }
    return 0;
}

static int s_stream(mcp_kube_client_t *c, const char *path, int timeout_s, mcp_kube_event_fn fn,
                    void *ctx, long *status, json_t **err_body)
{
    script_t *s = (script_t *)c;
    int i = s->streams++, rc = 0;
    mcp_kube_evdec_t d;

    snprintf(s->last_path, sizeof(s->last_path), "%s", path);
    assert_true(timeout_s >= 300 && timeout_s <= 600);
    *err_body = NULL;
    if (s->stop_after_streams && s->streams >= s->stop_after_streams)
        s->stop = 1;
    if (i >= s->nplan) {
        *status = 500;
        return 0;
    }
    *status = s->plan[i].status;
    if (*status != 200) {
        *err_body = json_loads(s->plan[i].body, 0, NULL);
        return 0;
    }
    /* deliver in 3-byte pieces, as a network would */
    mcp_kube_evdec_init(&d, 4096);
    for (size_t off = 0, n = strlen(s->plan[i].body); off < n && rc == 0; off += 3)
        rc = mcp_kube_evdec_feed(&d, s->plan[i].body + off, n - off < 3 ? n - off : 3, fn, ctx);
    mcp_kube_evdec_dispose(&d);
    return rc;
}

static void on_event(void *ctx, const mcp_kube_watch_t *w, const char *type, json_t *obj,
                     uint32_t epoch)
{
    script_t *s = ctx;
    size_t used = strlen(s->events);

    snprintf(s->events + used, sizeof(s->events) - used, "%s %s:%s@%u;", type,
             mcp_json_str(obj, "kind") ? mcp_json_str(obj, "kind") : "-",
             mcp_json_str(obj, "metadata.name"), epoch);
    (void)w;
}

static void on_synced(void *ctx, const mcp_kube_watch_t *w, uint32_t epoch)
{
    (void)w, (void)epoch;
    ((script_t *)ctx)->synced++;
}

static void on_restarted(void *ctx, const mcp_kube_watch_t *w)
{
    (void)w;
    ((script_t *)ctx)->restarts++;
}

static const mcp_kube_watch_spec_t spec = {"Deployment",
                                           "/apis/apps/v1",
                                           "deployments",
                                           "team-a",
                                           "app.kubernetes.io%2Fmanaged-by%3Dmcp-operator",
                                           NULL};

static void init(script_t *s, mcp_kube_watch_t *w)
{
    mcp_kube_watch_ops_t ops = {on_event, on_synced, on_restarted, s};

    memset(s, 0, sizeof(*s));
    s->super.request = s_request;
    s->super.stream = s_stream;
    s->super.stop = &s->stop;
    mcp_kube_watch_init(w, &spec, &s->super, &ops);
}

static void test_paths(void **state)
{
    script_t s;
    mcp_kube_watch_t w;
    char buf[1024];

    (void)state;
    init(&s, &w);
    assert_string_equal(mcp_kube_watch_path(&w, buf, sizeof(buf), false, NULL, 0),
                        "/apis/apps/v1/namespaces/team-a/deployments?labelSelector="
                        "app.kubernetes.io%2Fmanaged-by%3Dmcp-operator&limit=50");
    snprintf(w.rv, sizeof(w.rv), "77");
    assert_string_equal(mcp_kube_watch_path(&w, buf, sizeof(buf), true, NULL, 321),
                        "/apis/apps/v1/namespaces/team-a/deployments?labelSelector="
                        "app.kubernetes.io%2Fmanaged-by%3Dmcp-operator&watch=1&"
                        "allowWatchBookmarks=true&resourceVersion=77&timeoutSeconds=321");
    w.spec.namespace = NULL;
    w.spec.label_selector = NULL;
    assert_string_equal(mcp_kube_watch_path(&w, buf, sizeof(buf), false, NULL, 0),
                        "/apis/apps/v1/deployments?limit=50");
}

static void test_list_pages(void **state)
{
    script_t s;
    mcp_kube_watch_t w;

    (void)state;
    init(&s, &w);
    assert_int_equal(mcp_kube_watch_list(&w), 0);
    assert_string_equal(s.events,
                        "ADDED Deployment:a@1;ADDED Deployment:b@1;ADDED Deployment:c@1;");
    assert_string_equal(w.rv, "50");
    assert_int_equal(s.synced, 1);
    assert_int_equal(w.synced, 1);
}

static void test_events_and_bookmarks(void **state)
{
    script_t s;
    mcp_kube_watch_t w;

    (void)state;
    init(&s, &w);
    s.plan[0].status = 200;
    s.plan[0].body = "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Deployment\",\"metadata\":{"
                     "\"name\":\"x\",\"resourceVersion\":\"51\"}}}\n"
                     "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Deployment\",\"metadata\":{"
                     "\"resourceVersion\":\"60\"}}}\n"
                     "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Deployment\",\"metadata\":{"
                     "\"name\":\"x\",\"resourceVersion\":\"61\"}}}\n"
                     "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Deployment\",\"metadata\":{"
                     "\"resourceVersion\":\"70\"}}}\n";
    s.nplan = 1;
    snprintf(w.rv, sizeof(w.rv), "50");
    w.epoch = 1;
    assert_int_equal(mcp_kube_watch_once(&w), 0);
    assert_string_equal(s.events, "ADDED Deployment:x@1;DELETED Deployment:x@1;");
    assert_string_equal(w.rv, "70");
    assert_non_null(strstr(s.last_path, "resourceVersion=50"));
}

static void test_gone(void **state)
{
    script_t s;
    mcp_kube_watch_t w;

    (void)state;
    init(&s, &w);
    s.plan[0].status = 200;
    s.plan[0].body = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":410,"
                     "\"reason\":\"Expired\",\"message\":\"too old resource version\"}}\n";
    s.plan[1].status = 410;
    s.plan[1].body = "{\"kind\":\"Status\",\"code\":410}";
    s.plan[2].status = 500;
    s.plan[2].body = "{\"kind\":\"Status\",\"code\":500}";
    s.plan[3].status = 200;
    s.plan[3].body = "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\",\"code\":500}}\n";
    s.plan[4].status = 200;
    s.plan[4].body = "not json\n";
    s.nplan = 5;
    snprintf(w.rv, sizeof(w.rv), "5");
    assert_int_equal(mcp_kube_watch_once(&w), MCP_ECONFLICT);
    assert_string_equal(w.rv, "");
    snprintf(w.rv, sizeof(w.rv), "5");
    assert_int_equal(mcp_kube_watch_once(&w), MCP_ECONFLICT);
    assert_string_equal(w.rv, "");
    snprintf(w.rv, sizeof(w.rv), "5");
    assert_int_equal(mcp_kube_watch_once(&w), MCP_EHTTP);
    assert_string_equal(w.rv, "5");
    assert_int_equal(mcp_kube_watch_once(&w), MCP_EINVAL);
    assert_int_equal(mcp_kube_watch_once(&w), MCP_EINVAL);
}

static void test_run_relists_on_gone(void **state)
{
    script_t s;
    mcp_kube_watch_t w;

    (void)state;
    init(&s, &w);
    s.plan[0].status = 200;
    s.plan[0].body = "{\"type\":\"ERROR\",\"object\":{\"code\":410}}\n";
    s.plan[1].status = 200;
    s.plan[1].body = "";
    s.nplan = 2;
    s.stop_after_streams = 2;
    mcp_kube_watch_run(&w);
    assert_int_equal(s.lists, 2); /* initial list, relist after 410 */
    assert_int_equal(s.synced, 2);
    assert_int_equal(w.epoch, 2);
    assert_int_equal(s.restarts, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_events_and_bookmarks),
        cmocka_unit_test(test_gone),
        cmocka_unit_test(test_run_relists_on_gone),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
