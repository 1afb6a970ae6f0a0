/* Kubernetes Events (events.k8s.io/v1) about an MCPServer: what the
 * controller created or updated, and why it failed. Notes are cut at the
 * API's 1 KiB limit and never carry object contents or secret values (the
 * callers pass names and apiserver messages only). Best effort: a failed
 * Event is logged at debug level and otherwise ignored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "mcp/log.h"

#define NOTE_MAX 1024

int ctl_event_post(mcp_kube_client_t *c, const char *instance, const json_t *regarding,
                   const char *type, const char *reason, const char *action, const char *note)
{
    char path[512], now[40], cut[NOTE_MAX], gen[96];
    struct timespec ts;
    const char *ns = mcp_json_str(regarding, "metadata.namespace");
    const char *name = mcp_json_str(regarding, "metadata.name");
    json_t *ev;
    char *body;
    mcp_kube_resp_t r;
    int rc;

    if (!ns || !name)
        return MCP_EINVAL;
    snprintf(cut, sizeof(cut), "%s", note ? note : "");
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(gen, sizeof(gen), "%.60s.%llx", name,
             (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
    ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
                   " s:{s:s, s:s, s:s, s:s, s:s?}}",
                   "apiVersion", "events.k8s.io/v1", "kind", "Event", "metadata", "name", gen,
                   "namespace", ns, "eventTime", ctl_time_rfc3339(now, sizeof(now), 1),
                   "reportingController", "toolhive.stacklok.dev/mcp-controller",
                   "reportingInstance", instance ? instance : "mcp-controller", "type", type,
                   "reason", reason, "action", action, "note", cut, "regarding", "apiVersion",
                   MCP_API_VERSION, "kind", MCP_KIND, "name", name, "namespace", ns, "uid",
                   mcp_json_str(regarding, "metadata.uid"));
    body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!body)
        return MCP_ENOMEM;
    snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events", ns);
    rc = mcp_kube_do(
        c,
        &(mcp_kube_req_t){
            .method = "POST", .path = path, .content_type = "application/json", .body = body},
        &r);
    if (rc == 0 && (r.status < 200 || r.status >= 300)) {
        mcp_log(MCP_LOG_DEBUG, "event not recorded", "reason", reason, "message",
                mcp_json_str(r.body, "message"), NULL);
        rc = MCP_EHTTP;
    }
    mcp_kube_resp_dispose(&r);
    free(body);
    return rc;
}
