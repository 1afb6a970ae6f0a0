/* The transport-independent side of the Kubernetes client (see mcp/kube.h):
 * every request goes through mcp_kube_do, which times it, tells the
 * client's observer (the controller's metrics) and logs writes at debug. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mcp/kube.h"
#include "mcp/log.h"

void mcp_kube_resp_dispose(mcp_kube_resp_t *r)
{
    json_decref(r->body);
    r->body = NULL;
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

int mcp_kube_do(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp)
{
    struct timespec a, b;
    long status;
    int rc;

    resp->status = 0;
    resp->body = NULL;
    clock_gettime(CLOCK_MONOTONIC, &a);
    rc = c->request(c, req, resp);
    clock_gettime(CLOCK_MONOTONIC, &b);
    status = rc == 0 ? resp->status : 0;
    if (strcmp(req->method, "GET") != 0 && mcp_log_enabled(MCP_LOG_DEBUG)) {
        char code[16];
        snprintf(code, sizeof(code), "%ld", status);
        mcp_log(MCP_LOG_DEBUG, "write", "method", req->method, "path", req->path, "status", code,
                NULL);
    }
    if (c->observe)
        c->observe(c->observe_ctx, req, rc, status, seconds_between(&a, &b));
    return rc;
}
