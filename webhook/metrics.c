/* Webhook metrics: request counts by endpoint and verdict, error responses
 * by HTTP status, a handling-latency histogram per endpoint, and
 * certificate reloads. Each worker thread owns one cache-line-aligned slot
 * and updates it with relaxed atomics (no sharing on the hot path); the
 * health thread sums the slots when /metrics is scraped and renders the
 * Prometheus text format. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Upper bounds of the latency buckets, in nanoseconds (+Inf is implied). */
static const uint64_t bucket_ns[] = {50000,   100000,  250000,   500000,   1000000,
                                     2500000, 5000000, 10000000, 25000000, 100000000};
#define N_BUCKETS (sizeof(bucket_ns) / sizeof(bucket_ns[0]))

static const int error_codes[] = {400, 404, 405, 413, 415, 500};
#define N_CODES (sizeof(error_codes) / sizeof(error_codes[0]))

static const char *const ep_names[WH_EP_COUNT] = {"mutate", "validate", "convert", "other"};
static const char *const verdict_names[WH_VERDICT_COUNT] = {"allowed", "patched", "denied",
                                                            "bad_request", "error"};

struct wh_metrics_slot {
    _Atomic uint64_t requests[WH_EP_COUNT][WH_VERDICT_COUNT];
    _Atomic uint64_t errors[N_CODES];
    _Atomic uint64_t buckets[WH_EP_COUNT][N_BUCKETS + 1];
    _Atomic uint64_t sum_ns[WH_EP_COUNT];
} __attribute__((aligned(64)));

struct wh_metrics {
    size_t n_slots;
    wh_metrics_slot_t *slots;
    _Atomic uint64_t reloads[2]; /* [0] failed, [1] succeeded */
    _Atomic int64_t not_after;   /* unix seconds, 0 when unknown */
};

#define ADD(x, n) atomic_fetch_add_explicit(&(x), (n), memory_order_relaxed)
#define GET(x)    atomic_load_explicit(&(x), memory_order_relaxed)

wh_metrics_t *wh_metrics_new(size_t n_slots)
{
    wh_metrics_t *m = calloc(1, sizeof(*m));

    if (!m)
        return NULL;
    m->slots = aligned_alloc(64, n_slots * sizeof(wh_metrics_slot_t));
    if (!m->slots) {
        free(m);
        return NULL;
    }
    memset(m->slots, 0, n_slots * sizeof(wh_metrics_slot_t));
    m->n_slots = n_slots;
    return m;
}

void wh_metrics_free(wh_metrics_t *m)
{
    if (!m)
        return;
    free(m->slots);
    free(m);
}

wh_metrics_slot_t *wh_metrics_slot(wh_metrics_t *m, size_t i)
{
    return &m->slots[i];
}

void wh_metrics_observe(wh_metrics_slot_t *s, wh_endpoint_t ep, wh_verdict_t v, int status,
                        uint64_t nanos)
{
    size_t b = 0;

    ADD(s->requests[ep][v], 1);
    for (size_t i = 0; i < N_CODES; i++)
        if (error_codes[i] == status)
            ADD(s->errors[i], 1);
    while (b < N_BUCKETS && nanos > bucket_ns[b])
        b++;
    ADD(s->buckets[ep][b], 1);
    ADD(s->sum_ns[ep], nanos);
}

void wh_metrics_cert_reload(wh_metrics_t *m, int ok)
{
    ADD(m->reloads[ok ? 1 : 0], 1);
}

void wh_metrics_cert_expiry(wh_metrics_t *m, int64_t not_after)
{
    atomic_store_explicit(&m->not_after, not_after, memory_order_relaxed);
}

uint64_t wh_metrics_requests(wh_metrics_t *m, wh_endpoint_t ep, wh_verdict_t v)
{
    uint64_t n = 0;

    for (size_t i = 0; i < m->n_slots; i++)
        n += GET(m->slots[i].requests[ep][v]);
    return n;
}

uint64_t wh_metrics_reloads(wh_metrics_t *m, int ok)
{
    return GET(m->reloads[ok ? 1 : 0]);
}

static void render_requests(wh_metrics_t *m, mcp_buf_t *out)
{
    mcp_buf_adds(out, "# HELP mcp_webhook_requests_total Admission requests answered, by "
                      "endpoint and verdict.\n# TYPE mcp_webhook_requests_total counter\n");
    for (int e = 0; e < WH_EP_COUNT; e++)
        for (int v = 0; v < WH_VERDICT_COUNT; v++)
            mcp_buf_addf(out,
                         "mcp_webhook_requests_total{endpoint=\"%s\",verdict=\"%s\"} %" PRIu64 "\n",
                         ep_names[e], verdict_names[v],
                         wh_metrics_requests(m, (wh_endpoint_t)e, (wh_verdict_t)v));
    mcp_buf_adds(out, "# HELP mcp_webhook_errors_total Error responses sent by the handler, by "
                      "HTTP status.\n# TYPE mcp_webhook_errors_total counter\n");
    for (size_t c = 0; c < N_CODES; c++) {
        uint64_t n = 0;

        for (size_t i = 0; i < m->n_slots; i++)
            n += GET(m->slots[i].errors[c]);
        mcp_buf_addf(out, "mcp_webhook_errors_total{code=\"%d\"} %" PRIu64 "\n", error_codes[c], n);
    }
}

static void render_histogram(wh_metrics_t *m, mcp_buf_t *out)
{
    mcp_buf_adds(out, "# HELP mcp_webhook_request_duration_seconds Time spent handling a "
                      "request (body received to response queued).\n"
                      "# TYPE mcp_webhook_request_duration_seconds histogram\n");
    for (int e = 0; e < WH_EP_COUNT; e++) {
        uint64_t cum = 0, sum = 0;

        for (size_t b = 0; b <= N_BUCKETS; b++) {
            for (size_t i = 0; i < m->n_slots; i++)
                cum += GET(m->slots[i].buckets[e][b]);
            if (b < N_BUCKETS)
                mcp_buf_addf(out,
                             "mcp_webhook_request_duration_seconds_bucket{endpoint=\"%s\","
                             "le=\"%g\"} %" PRIu64 "\n",
                             ep_names[e], (double)bucket_ns[b] / 1e9, cum);
            else
                mcp_buf_addf(out,
                             "mcp_webhook_request_duration_seconds_bucket{endpoint=\"%s\","
                             "le=\"+Inf\"} %" PRIu64 "\n",
                             ep_names[e], cum);
        }
        for (size_t i = 0; i < m->n_slots; i++)
            sum += GET(m->slots[i].sum_ns[e]);
        mcp_buf_addf(out,
                     "mcp_webhook_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n"
                     "mcp_webhook_request_duration_seconds_count{endpoint=\"%s\"} %" PRIu64 "\n",
                     ep_names[e], (double)sum / 1e9, ep_names[e], cum);
    }
}

void wh_metrics_render(wh_metrics_t *m, mcp_buf_t *out)
{
    render_requests(m, out);
    render_histogram(m, out);
    mcp_buf_addf(out,
                 "# HELP mcp_webhook_cert_reloads_total Serving certificate reloads, by result.\n"
                 "# TYPE mcp_webhook_cert_reloads_total counter\n"
                 "mcp_webhook_cert_reloads_total{result=\"success\"} %" PRIu64 "\n"
                 "mcp_webhook_cert_reloads_total{result=\"failure\"} %" PRIu64 "\n"
                 "# HELP mcp_webhook_cert_not_after_seconds Expiry of the serving certificate "
                 "(unix time).\n# TYPE mcp_webhook_cert_not_after_seconds gauge\n"
                 "mcp_webhook_cert_not_after_seconds %" PRId64 "\n",
                 GET(m->reloads[1]), GET(m->reloads[0]), GET(m->not_after));
}
