/* The proxy's Prometheus text: requests by client era, responses, errors,
 * notifications, server requests, cancellations, refusals (tool filter, no
 * capable client), HTTP statuses, sessions, streams, requests in flight, and
 * the state of the stream to the MCP server. Rendered on demand from the
 * counters the bridge and the HTTP layer keep (one thread: no atomics). */
#include <inttypes.h>

#include "metrics.h"

static void counter(mcp_buf_t *out, const char *name, const char *help, uint64_t v)
{
    mcp_buf_addf(out, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help, name, name,
                 v);
}

static void gauge(mcp_buf_t *out, const char *name, const char *help, uint64_t v)
{
    mcp_buf_addf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRIu64 "\n", name, help, name, name, v);
}

void px_metrics_render(mcp_buf_t *out, const px_bridge_stats_t *bs, const px_http_stats_t *hs,
                       int sessions, size_t pending, int up, uint64_t restarts,
                       const px_budget_t *budget)
{
    static const char *const classes[6] = {"2xx", "202", "4xx", "403", "5xx", "other"};

    if (bs) {
        mcp_buf_adds(out, "# HELP mcp_proxy_requests_total Client requests by client era.\n"
                          "# TYPE mcp_proxy_requests_total counter\n");
        mcp_buf_addf(out, "mcp_proxy_requests_total{era=\"handshake\"} %" PRIu64 "\n",
                     bs->requests[0]);
        mcp_buf_addf(out, "mcp_proxy_requests_total{era=\"2026-07-28\"} %" PRIu64 "\n",
                     bs->requests[1]);
        counter(out, "mcp_proxy_responses_total", "Results sent to clients.", bs->responses);
        counter(out, "mcp_proxy_errors_total", "JSON-RPC errors sent to clients.", bs->errors);
        counter(out, "mcp_proxy_notifications_total", "Notifications from the MCP server.",
                bs->notifications);
        counter(out, "mcp_proxy_server_requests_total", "Requests from the MCP server.",
                bs->server_requests);
        counter(out, "mcp_proxy_cancelled_total", "Requests cancelled upstream.", bs->cancelled);
        counter(out, "mcp_proxy_refused_total",
                "Requests refused by the tool filter or for want of a capable client.",
                bs->refused);
        counter(out, "mcp_proxy_timeouts_total",
                "Requests the MCP server did not answer within --request-timeout.", bs->timeouts);
        counter(out, "mcp_proxy_unreadable_total",
                "Messages from the MCP server the proxy could not read (answered as errors "
                "where their client was found).",
                bs->unreadable);
        counter(out, "mcp_proxy_dropped_notifications_total",
                "Server notifications not for exactly one client, dropped (not broadcast).",
                bs->dropped);
        counter(out, "mcp_proxy_sessions_evicted_total",
                "Idle sessions closed to make room (per-client or total session cap).",
                bs->evicted);
        gauge(out, "mcp_proxy_sessions", "Open handshake-era sessions.", (uint64_t)sessions);
        gauge(out, "mcp_proxy_inflight", "Requests waiting for the MCP server.", pending);
    }
    gauge(out, "mcp_proxy_upstream_up", "1 while the data path to the MCP server works.",
          (uint64_t)up);
    counter(out, "mcp_proxy_upstream_restarts_total", "Streams to the MCP server lost.", restarts);
    mcp_buf_adds(out, "# HELP mcp_proxy_http_responses_total HTTP responses by status class.\n"
                      "# TYPE mcp_proxy_http_responses_total counter\n");
    for (int i = 0; i < 6; i++)
        mcp_buf_addf(out, "mcp_proxy_http_responses_total{class=\"%s\"} %" PRIu64 "\n", classes[i],
                     hs->http[i]);
    counter(out, "mcp_proxy_sessions_opened_total", "Sessions opened.", hs->sessions_opened);
    counter(out, "mcp_proxy_streams_total", "Long-lived SSE streams opened.", hs->streams);
    gauge(out, "mcp_proxy_connections", "Client connections open.", hs->connections);
    counter(out, "mcp_proxy_connections_refused_total",
            "Client connections refused over --max-connections.", hs->conns_refused);
    if (budget) {
        gauge(out, "mcp_proxy_queued_bytes", "Bytes queued, counted in --max-queued-bytes.",
              px_budget_used(budget));
        counter(out, "mcp_proxy_queue_refused_total",
                "Work refused for want of room in --max-queued-bytes (503).",
                atomic_load(&budget->refused));
        counter(out, "mcp_proxy_queue_shed_bytes_total",
                "Bytes freed by closing the slowest clients to stay in --max-queued-bytes.",
                atomic_load(&budget->shed));
    }
}
