/* List-then-watch logic over a scripted fake transport: paged lists with
 * continue tokens, bookmarks moving the resourceVersion, 410 Gone both as an
 * HTTP status and as an ERROR event (relist), other failures, the bounded
 * random timeout, and the run loop's relist/restart accounting. And one bad
 * object never stops the others: items too deep, too large or unparseable
 * are skipped and reported, a page over the cap is asked again smaller, a
 * bad watch event is skipped without ending the stream. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/json.h"
#include "mcp/kube.h"
#include "testutil.h"

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
    char bad[4096]; /* what ops.bad saw: "TYPE name: why;" */
    /* optional list responder: the body for a path, or NULL for a transport
     * error rc */
    char *(*list)(struct script *s, const char *path, int *rc);
    char limits[256]; /* the limit= of each list request */
} script_t;

static void respond_raw(mcp_kube_resp_t *resp, const char *text)
{
    resp->raw = strdup(text);
    resp->raw_len = strlen(text);
}

static int s_request(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp)
{
    script_t *s = (script_t *)c;

    assert_true(req->raw);
    snprintf(s->last_path, sizeof(s->last_path), "%s", req->path);
    resp->status = 200;
    if (s->list) {
        int rc = 0;
        const char *l = strstr(req->path, "limit=");
        size_t used = strlen(s->limits);
        snprintf(s->limits + used, sizeof(s->limits) - used, "%d,", l ? atoi(l + 6) : 0);
        resp->raw = s->list(s, req->path, &rc);
        resp->raw_len = resp->raw ? strlen(resp->raw) : 0;
        if (rc)
            resp->status = 0;
        return rc;
    }
    if (strstr(req->path, "continue=") == NULL) {
        s->lists++;
        respond_raw(resp, "{\"metadata\":{\"resourceVersion\":\"10\",\"continue\":\"t/=\"},"
                          "\"items\":[{\"metadata\":{\"name\":\"a\"}},"
                          "{\"metadata\":{\"name\":\"b\"}}]}");
    } else {
        assert_non_null(strstr(req->path, "continue=t%2F%3D"));
        respond_raw(resp, "{\"metadata\":{\"resourceVersion\":\"50\"},"
                          "\"items\":[{\"metadata\":{\"name\":\"c\"}}]}");
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
    mcp_kube_evdec_init(&d, MCP_KUBE_EVENT_MAX);
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

static void on_bad(void *ctx, const mcp_kube_watch_t *w, const char *type, json_t *stub,
                   const char *why, uint32_t epoch)
{
    script_t *s = ctx;
    size_t used = strlen(s->bad);

    snprintf(s->bad + used, sizeof(s->bad) - used, "%s %s:%s@%u: %s;", type,
             mcp_json_str(stub, "kind") ? mcp_json_str(stub, "kind") : "-",
             mcp_json_str(stub, "metadata.name"), epoch, why);
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
    mcp_kube_watch_ops_t ops = {
        .event = on_event, .synced = on_synced, .restarted = on_restarted, .bad = on_bad, .ctx = s};

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

/* {"metadata":{"name":<name>,...},"spec":{"podTemplateSpec":{"x":<inner>}}} */
static char *object(const char *name, const char *rv, const char *inner)
{
    char *o = NULL;

    assert_true(asprintf(&o,
                         "{\"metadata\":{\"name\":\"%s\",\"namespace\":\"ns\",\"resourceVersion\":"
                         "\"%s\",\"managedFields\":[{\"fieldsV1\":{\"f:spec\":%s}}]},"
                         "\"spec\":{\"podTemplateSpec\":{\"x\":%s}},\"status\":{\"phase\":\"Ok\"}}",
                         name, rv, inner, inner) > 0);
    return o;
}

/* A custom resource list as the apiserver writes it (keys sorted: items
 * before metadata) holding every kind of bad item between good ones. */
static char *poisoned_page(script_t *s, const char *path, int *rc)
{
    char *deep = tu_json_nested(1800, ""), *many = tu_json_zeros(150000), *page = NULL;
    char *a = object("a", "1", "1"), *d = object("deep", "2", deep), *m = object("many", "3", many);
    char *nul = object("nul", "4", "\"a\\u0000b\""), *k = object("nulkey", "5", "{\"a\\u0000\":1}");
    char *z = object("z", "6", "[[[[1]]]]");

    (void)s, (void)path, (void)rc;
    assert_true(
        asprintf(&page,
                 "{\"apiVersion\":\"toolhive.stacklok.dev/v1alpha1\",\"items\":[%s,%s,%s,"
                 "%s,%s,{\"metadata\":{},\"spec\":%s},%s],\"kind\":\"MCPServerList\",\"metadata\":"
                 "{\"resourceVersion\":\"9\",\"continue\":\"\"}}",
                 a, d, m, nul, k, deep, z) > 0);
    free(deep), free(many), free(a), free(d), free(m), free(nul), free(k), free(z);
    return page;
}

static void test_list_skips_bad_items(void **state)
{
    script_t s;
    mcp_kube_watch_t w;

    (void)state;
    init(&s, &w);
    s.list = poisoned_page;
    assert_int_equal(mcp_kube_watch_list(&w), 0);
    assert_string_equal(s.events,
                        "ADDED Deployment:a@1;ADDED Deployment:nul@1;ADDED Deployment:z@1;");
    assert_non_null(strstr(s.bad, "ADDED Deployment:deep@1: nested more than 64 levels deep;"
                                  "ADDED Deployment:many@1: more than 100000 JSON values;"
                                  "ADDED Deployment:nulkey@1: not valid JSON: NUL byte in object "
                                  "key not supported"));
    assert_string_equal(w.rv, "9");
    assert_int_equal(s.synced, 1);
}

/* Pages of `limit` items out of 5; more than 4 items is "too big". */
static char *small_pages(script_t *s, const char *path, int *rc)
{
    int limit = atoi(strstr(path, "limit=") + 6), from = 0;
    const char *c = strstr(path, "continue=");
    char *page = NULL, items[512] = "", next[32] = "";

    (void)s;
    if (limit > 4) {
        *rc = MCP_ETOOBIG;
        return NULL;
    }
    if (c)
        from = atoi(c + 9);
    for (int i = from; i < from + limit && i < 5; i++) {
        size_t used = strlen(items);
        snprintf(items + used, sizeof(items) - used, "%s{\"metadata\":{\"name\":\"i%d\"}}",
                 i > from ? "," : "", i);
    }
    if (from + limit < 5)
        snprintf(next, sizeof(next), "%d", from + limit);
    assert_true(asprintf(&page,
                         "{\"metadata\":{\"resourceVersion\":\"7\",\"continue\":\"%s\"},"
                         "\"items\":[%s]}",
                         next, items) > 0);
    return page;
}

static char *never(script_t *s, const char *path, int *rc)
{
    (void)s, (void)path;
    *rc = MCP_ETOOBIG;
    return NULL;
}

static void test_list_halves_pages(void **state)
{
    script_t s;
    mcp_kube_watch_t w;

    (void)state;
    init(&s, &w);
    s.list = small_pages;
    assert_int_equal(mcp_kube_watch_list(&w), 0);
    assert_string_equal(s.limits, "50,25,12,6,3,3,");
    assert_string_equal(s.events, "ADDED Deployment:i0@1;ADDED Deployment:i1@1;ADDED "
                                  "Deployment:i2@1;ADDED Deployment:i3@1;ADDED Deployment:i4@1;");
    /* the next list starts at the full page size again */
    s.limits[0] = '\0';
    assert_int_equal(mcp_kube_watch_list(&w), 0);
    assert_string_equal(s.limits, "50,25,12,6,3,3,");
    /* down to one item, then the list fails (and is retried later) */
    init(&s, &w);
    s.list = never;
    assert_int_equal(mcp_kube_watch_list(&w), MCP_EIO);
    assert_string_equal(s.limits, "50,25,12,6,3,1,");
    assert_int_equal(s.synced, 0);
}

static void test_watch_skips_bad_events(void **state)
{
    script_t s;
    mcp_kube_watch_t w;
    char *deep = tu_json_nested(3000, ""), *many = tu_json_zeros(200000), *body = NULL;
    char *d = object("deep", "52", deep), *m = object("many", "53", many);
    char *k = object("nulkey", "54", "{\"a\\u0000\":1}");

    (void)state;
    init(&s, &w);
    assert_true(asprintf(&body,
                         "{\"type\":\"ADDED\",\"object\":{\"kind\":\"Deployment\",\"metadata\":{"
                         "\"name\":\"x\",\"resourceVersion\":\"51\"}}}\n"
                         "{\"type\":\"MODIFIED\",\"object\":%s}\n"
                         "{\"type\":\"ADDED\",\"object\":%s}\n"
                         "{\"type\":\"ADDED\",\"object\":%s}\n"
                         "{\"type\":\"DELETED\",\"object\":{\"kind\":\"Deployment\",\"metadata\":{"
                         "\"name\":\"y\",\"resourceVersion\":\"55\",\"annotations\":{\"n\":"
                         "\"a\\u0000b\"}}}}\n",
                         d, m, k) > 0);
    s.plan[0].status = 200;
    s.plan[0].body = body;
    s.nplan = 1;
    snprintf(w.rv, sizeof(w.rv), "50");
    w.epoch = 3;
    assert_int_equal(mcp_kube_watch_once(&w), 0);
    assert_string_equal(s.events, "ADDED Deployment:x@3;DELETED Deployment:y@3;");
    assert_non_null(strstr(s.bad, "MODIFIED -:deep@3: nested more than 64 levels deep;"
                                  "ADDED -:many@3: more than 100000 JSON values;"
                                  "ADDED -:nulkey@3: not valid JSON: NUL byte in object key not "
                                  "supported"));
    assert_string_equal(w.rv, "55");
    free(deep), free(many), free(d), free(m), free(k), free(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_list_pages),
        cmocka_unit_test(test_events_and_bookmarks),
        cmocka_unit_test(test_gone),
        cmocka_unit_test(test_run_relists_on_gone),
        cmocka_unit_test(test_list_skips_bad_items),
        cmocka_unit_test(test_list_halves_pages),
        cmocka_unit_test(test_watch_skips_bad_events),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
