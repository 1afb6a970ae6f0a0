/* The transport-independent side of the Kubernetes client (see mcp/kube.h):
 * every request goes through mcp_kube_do, which times it, tells the
 * client's observer (the controller's metrics) and logs writes at debug. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp/kube.h"
#include "mcp/log.h"

const mcp_json_limits_t mcp_kube_limits = {MCP_KUBE_DEPTH_MAX, MCP_KUBE_VALUES_MAX};

void mcp_kube_resp_dispose(mcp_kube_resp_t *r)
{
    json_decref(r->body);
    r->body = NULL;
    free(r->raw);
    r->raw = NULL;
    r->raw_len = 0;
}

bool mcp_kube_stopped(const mcp_kube_client_t *c)
{
    return c->stop && *c->stop;
}

const char *mcp_kube_status_message(const json_t *body, const char *fallback)
{
    const char *m = json_string_value(json_object_get(body, "message"));

    return m ? m : fallback;
}

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* Log a write at debug and tell the observer. */
static void done(mcp_kube_client_t *c, const mcp_kube_req_t *req, const mcp_kube_resp_t *resp,
                 int rc, double secs)
{
    long status = rc == 0 ? resp->status : 0;

    if (strcmp(req->method, "GET") != 0 && mcp_log_enabled(MCP_LOG_DEBUG)) {
        char code[16], ms[32];
        snprintf(code, sizeof(code), "%ld", status);
        snprintf(ms, sizeof(ms), "%.0f", secs * 1000); /* sent at ts - ms */
        mcp_log(MCP_LOG_DEBUG, "write", "method", req->method, "path", req->path, "status", code,
                "ms", ms, NULL);
    }
    if (c->observe)
        c->observe(c->observe_ctx, req, rc, status, secs);
}

int mcp_kube_do(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp)
{
    struct timespec a, b;
    int rc;

    memset(resp, 0, sizeof(*resp));
    clock_gettime(CLOCK_MONOTONIC, &a);
    rc = c->request(c, req, resp);
    clock_gettime(CLOCK_MONOTONIC, &b);
    done(c, req, resp, rc, seconds_between(&a, &b));
    return rc;
}

void mcp_kube_do_many(mcp_kube_client_t *c, const mcp_kube_req_t *reqs, mcp_kube_resp_t *resps,
                      int *rcs, size_t n)
{
    double secs[MCP_KUBE_BATCH_MAX];

    memset(resps, 0, n * sizeof(*resps));
    if (!c->request_many) {
        for (size_t i = 0; i < n; i++)
            rcs[i] = mcp_kube_do(c, &reqs[i], &resps[i]);
        return;
    }
    for (size_t at = 0; at < n; at += MCP_KUBE_BATCH_MAX) {
        size_t m = n - at < MCP_KUBE_BATCH_MAX ? n - at : MCP_KUBE_BATCH_MAX;
        c->request_many(c, reqs + at, resps + at, rcs + at, secs, m);
        for (size_t i = 0; i < m; i++)
            done(c, &reqs[at + i], &resps[at + i], rcs[at + i], secs[i]);
    }
}

/* One member of text p loaded on its own, or NULL. */
static json_t *member(const char *p, size_t n, const char *key)
{
    mcp_json_span_t v;
    char why[128];

    if (mcp_json_member(p, n, key, &v) != 0)
        return NULL;
    return mcp_json_load_bounded(v.p, v.n, &mcp_kube_limits, why, sizeof(why));
}

json_t *mcp_kube_object_stub(const char *p, size_t n)
{
    static const char *const meta_keys[] = {
        "name",       "namespace",         "uid",    "resourceVersion", "generation",
        "finalizers", "deletionTimestamp", "labels", "ownerReferences", "creationTimestamp"};
    static const char *const top_keys[] = {"kind", "apiVersion", "status"};
    mcp_json_span_t m;
    json_t *stub, *meta;

    if (mcp_json_member(p, n, "metadata", &m) != 0 || !(stub = json_object()))
        return NULL;
    meta = json_object();
    json_object_set_new(stub, "metadata", meta);
    for (size_t i = 0; i < MCP_ARRAY_LEN(meta_keys); i++) {
        json_t *v = member(m.p, m.n, meta_keys[i]);
        if (v)
            json_object_set_new(meta, meta_keys[i], v);
    }
    for (size_t i = 0; i < MCP_ARRAY_LEN(top_keys); i++) {
        json_t *v = member(p, n, top_keys[i]);
        if (v)
            json_object_set_new(stub, top_keys[i], v);
    }
    if (!json_is_string(json_object_get(meta, "name"))) {
        json_decref(stub);
        return NULL;
    }
    return stub;
}
