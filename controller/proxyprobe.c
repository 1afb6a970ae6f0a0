/* Why an MCPServer's proxy is not ready, in the proxy's own words. The
 * kubelet's readiness probe reads the proxy's /health but never passes its
 * body on (its Event says "HTTP probe failed with statuscode: 503" only), so
 * while the MCP server pod is ready and the proxy is not, the controller asks
 * the proxy itself: it lists the proxy's pods (the Deployment's selector
 * labels, owned by one of its ReplicaSets), GETs http://<podIP>:<port>/health
 * of the first one running, and keeps what follows "data path down: " in the
 * 503 answer ("the MCP server cannot be reached: connection refused to
 * 10.244.0.7:3002"). Bounded: one list (4 pods at most), one GET of 1 s and
 * 512 bytes; the text kept is printable ASCII, at most 200 bytes. Best
 * effort: any failure leaves `why` empty. Runs on a reconcile worker thread
 * (never in an event loop). */
#include <curl/curl.h>
#include <stdio.h>
#include <string.h>

#include "reconcile.h"

#define HEALTH_BODY_MAX 512
#define WHY_MAX         200
#define DOWN_PREFIX     "data path down: "

typedef struct body {
    char data[HEALTH_BODY_MAX + 1];
    size_t len;
} body_t;

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    body_t *b = ctx;
    size_t len = size * n, room = HEALTH_BODY_MAX - b->len;

    if (len > room)
        return 0; /* over the cap: the transfer fails */
    memcpy(b->data + b->len, p, len);
    b->len += len;
    b->data[b->len] = '\0';
    return len;
}

size_t ctl_proxy_health_reason(const char *body, char *why, size_t n)
{
    const char *p = body ? strstr(body, DOWN_PREFIX) : NULL;
    size_t len = 0;

    if (n)
        why[0] = '\0';
    if (!p || !n)
        return 0;
    for (p += sizeof(DOWN_PREFIX) - 1; *p && *p != '\n' && len + 1 < n && len < WHY_MAX; p++)
        why[len++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
    why[len] = '\0';
    return len;
}

const char *ctl_proxy_pod_ip(const json_t *list, const char *name)
{
    size_t i, nl = strlen(name);
    const json_t *pod;

    json_array_foreach(json_object_get(list, "items"), i, pod)
    {
        const json_t *owner = json_array_get(mcp_json_get(pod, "metadata.ownerReferences"), 0);
        const char *kind = mcp_json_str(owner, "kind"), *oname = mcp_json_str(owner, "name");
        const char *ip = mcp_json_str(pod, "status.podIP");

        if (!kind || strcmp(kind, "ReplicaSet") != 0 || !oname || strncmp(oname, name, nl) != 0 ||
            oname[nl] != '-' || mcp_json_get(pod, "metadata.deletionTimestamp") || !ip ||
            strcmp(mcp_json_str(pod, "status.phase") ?: "", "Running") != 0)
            continue;
        if (strspn(ip, "0123456789abcdefABCDEF.:") == strlen(ip))
            return ip;
    }
    return NULL;
}

/* GET http://ip:port/health into b; the HTTP status, or 0. */
static long get_health(const char *ip, int port, body_t *b)
{
    CURL *h = curl_easy_init();
    char url[96];
    long status = 0;

    if (!h)
        return 0;
    snprintf(url, sizeof(url), strchr(ip, ':') ? "http://[%s]:%d/health" : "http://%s:%d/health",
             ip, port);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(h, CURLOPT_PROXY, "");
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 1000L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    return status;
}

void ctl_proxy_why(ctl_rec_t *r, char *why, size_t n)
{
    char path[CTL_PATH_MAX];
    mcp_kube_resp_t resp = {0};
    const char *ip;
    body_t b = {.len = 0};

    why[0] = '\0';
    snprintf(path, sizeof(path),
             "/api/v1/namespaces/%s/pods?labelSelector=app%%3Dmcpserver%%2Ctoolhive-name%%3D%s"
             "&limit=4",
             r->s.namespace, r->s.name);
    if (mcp_kube_do(r->c->client,
                    &(mcp_kube_req_t){.method = "GET", .path = path, .timeout_ms = 2000},
                    &resp) == 0 &&
        resp.status == 200 && (ip = ctl_proxy_pod_ip(resp.body, r->s.name)) != NULL &&
        get_health(ip, r->s.port, &b) == 503)
        ctl_proxy_health_reason(b.data, why, n);
    mcp_kube_resp_dispose(&resp);
}
