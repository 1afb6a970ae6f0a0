/* The proxy's counters as Prometheus text (metrics.c). */
#ifndef PX_METRICS_H
#define PX_METRICS_H

#include "../bridge/bridge.h"

/* ---- metrics.c ---------------------------------------------------------------------- */

typedef struct px_http_stats {
    uint64_t http[6]; /* by class: 2xx 202 4xx 403 5xx other; see metrics.c */
    uint64_t sessions_opened, sessions_closed, streams;
    uint64_t conns_refused; /* over --max-connections (server.c) */
    uint64_t connections;   /* open now (server.c sets it before rendering) */
} px_http_stats_t;

/* Append the Prometheus text for everything. */
void px_metrics_render(mcp_buf_t *out, const px_bridge_stats_t *bs, const px_http_stats_t *hs,
                       int sessions, size_t pending, int up, uint64_t restarts,
                       const px_budget_t *budget);

#endif
