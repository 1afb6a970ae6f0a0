/* Controller metrics in Prometheus text format: reconciles by result, queue
 * depth, apiserver requests by verb and status class with a latency
 * histogram, writes, skipped (already up to date) applies, watch restarts.
 * Counters are C11 atomics, so every thread updates them without a lock. */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OTHER"};
#define NVERBS MCP_ARRAY_LEN(verbs)
static const char *const classes[] = {"error", "2xx", "3xx", "4xx", "5xx"};
#define NCLASSES MCP_ARRAY_LEN(classes)
static const double buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS MCP_ARRAY_LEN(buckets)
static const char *const results[CTL_RES_N] = {"success", "error", "invalid", "conflict"};

struct ctl_metrics {
    atomic_ullong requests[NVERBS][NCLASSES];
    atomic_ullong latency_bucket[NBUCKETS];
    atomic_ullong latency_count, latency_us_sum;
    atomic_ullong reconciles[CTL_RES_N];
    atomic_ullong watch_restarts, skipped_applies, lease_requests;
};

ctl_metrics_t *ctl_metrics_new(void)
{
    return calloc(1, sizeof(ctl_metrics_t));
}

void ctl_metrics_free(ctl_metrics_t *m)
{
    free(m);
}

static size_t verb_index(const char *method)
{
    for (size_t i = 0; i + 1 < NVERBS; i++)
        if (strcmp(method, verbs[i]) == 0)
            return i;
    return NVERBS - 1;
}

void ctl_metrics_request(ctl_metrics_t *m, const char *method, long status, double seconds)
{
    size_t cls = status >= 200 && status < 600 ? (size_t)(status / 100) - 1 : 0;

    if (!m)
        return;
    atomic_fetch_add(&m->requests[verb_index(method)][cls], 1);
    for (size_t i = 0; i < NBUCKETS; i++)
        if (seconds <= buckets[i])
            atomic_fetch_add(&m->latency_bucket[i], 1);
    atomic_fetch_add(&m->latency_count, 1);
    atomic_fetch_add(&m->latency_us_sum, (unsigned long long)(seconds * 1e6));
}

void ctl_metrics_lease_request(ctl_metrics_t *m)
{
    if (m)
        atomic_fetch_add(&m->lease_requests, 1);
}

static void observe(void *ctx, const mcp_kube_req_t *req, int rc, long status, double seconds)
{
    (void)rc;
    if (req->tag == CTL_TAG_LEASE)
        ctl_metrics_lease_request(ctx);
    else
        ctl_metrics_request(ctx, req->method, status, seconds);
}

void ctl_metrics_observe(mcp_kube_client_t *c, ctl_metrics_t *m)
{
    c->observe = m ? observe : NULL;
    c->observe_ctx = m;
}

void ctl_metrics_reconcile(ctl_metrics_t *m, enum ctl_result r)
{
    if (m && r < CTL_RES_N)
        atomic_fetch_add(&m->reconciles[r], 1);
}

void ctl_metrics_watch_restart(ctl_metrics_t *m)
{
    if (m)
        atomic_fetch_add(&m->watch_restarts, 1);
}

void ctl_metrics_skipped_apply(ctl_metrics_t *m)
{
    if (m)
        atomic_fetch_add(&m->skipped_applies, 1);
}

/* Requests of the verbs from index `first` on (0 = GET, so 1 = the writes). */
static unsigned long long sum_requests(const ctl_metrics_t *m, size_t first)
{
    unsigned long long n = 0;

    for (size_t v = first; m && v < NVERBS; v++)
        for (size_t c = 0; c < NCLASSES; c++)
            n += atomic_load(&m->requests[v][c]);
    return n;
}

/* Successful and failed writes alike: every non-GET request. */
unsigned long long ctl_metrics_writes(const ctl_metrics_t *m)
{
    return sum_requests(m, 1);
}

unsigned long long ctl_metrics_requests(const ctl_metrics_t *m)
{
    return sum_requests(m, 0);
}

static void render_requests(const ctl_metrics_t *m, mcp_buf_t *out)
{
    mcp_buf_adds(out, "# HELP mcp_controller_apiserver_requests_total Requests to the apiserver.\n"
                      "# TYPE mcp_controller_apiserver_requests_total counter\n");
    for (size_t v = 0; v < NVERBS; v++)
        for (size_t c = 0; c < NCLASSES; c++)
            mcp_buf_addf(out,
                         "mcp_controller_apiserver_requests_total{verb=\"%s\",code=\"%s\"} %llu\n",
                         verbs[v], classes[c], atomic_load(&m->requests[v][c]));
    mcp_buf_addf(out,
                 "# HELP mcp_controller_apiserver_writes_total Non-GET requests to the apiserver.\n"
                 "# TYPE mcp_controller_apiserver_writes_total counter\n"
                 "mcp_controller_apiserver_writes_total %llu\n",
                 ctl_metrics_writes(m));
    mcp_buf_adds(out, "# HELP mcp_controller_apiserver_request_duration_seconds Request latency.\n"
                      "# TYPE mcp_controller_apiserver_request_duration_seconds histogram\n");
    for (size_t i = 0; i < NBUCKETS; i++)
        mcp_buf_addf(out,
                     "mcp_controller_apiserver_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
                     buckets[i], atomic_load(&m->latency_bucket[i]));
    mcp_buf_addf(out,
                 "mcp_controller_apiserver_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                 "mcp_controller_apiserver_request_duration_seconds_sum %.6f\n"
                 "mcp_controller_apiserver_request_duration_seconds_count %llu\n",
                 atomic_load(&m->latency_count), (double)atomic_load(&m->latency_us_sum) / 1e6,
                 atomic_load(&m->latency_count));
}

void ctl_metrics_render(const ctl_metrics_t *m, size_t queue_depth, mcp_buf_t *out)
{
    render_requests(m, out);
    mcp_buf_adds(out, "# HELP mcp_controller_reconciles_total Reconciles by result.\n"
                      "# TYPE mcp_controller_reconciles_total counter\n");
    for (size_t r = 0; r < CTL_RES_N; r++)
        mcp_buf_addf(out, "mcp_controller_reconciles_total{result=\"%s\"} %llu\n", results[r],
                     atomic_load(&m->reconciles[r]));
    mcp_buf_addf(
        out,
        "# HELP mcp_controller_skipped_applies_total Applies skipped: already up to date.\n"
        "# TYPE mcp_controller_skipped_applies_total counter\n"
        "mcp_controller_skipped_applies_total %llu\n"
        "# HELP mcp_controller_watch_restarts_total Watch reconnects and relists.\n"
        "# TYPE mcp_controller_watch_restarts_total counter\n"
        "mcp_controller_watch_restarts_total %llu\n"
        "# HELP mcp_controller_queue_depth Keys waiting in the work queue.\n"
        "# TYPE mcp_controller_queue_depth gauge\n"
        "mcp_controller_queue_depth %zu\n",
        atomic_load(&m->skipped_applies), atomic_load(&m->watch_restarts), queue_depth);
}
