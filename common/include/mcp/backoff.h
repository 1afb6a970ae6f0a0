/* Capped exponential backoff with jitter: the work queue's per-item retries
 * and the Kubernetes watches' reconnects. */
#ifndef MCP_BACKOFF_H
#define MCP_BACKOFF_H

typedef struct mcp_backoff {
    double base_ms, cap_ms;
    double jitter; /* 0..1: fraction of the delay randomised */
} mcp_backoff_t;

/* Delay for the n-th consecutive failure (n >= 1): base * 2^(n-1), capped,
 * then jittered down by up to jitter*delay using *seed (rand_r; NULL = no
 * jitter). Pure apart from the seed. */
double mcp_backoff_delay_ms(const mcp_backoff_t *b, unsigned n, unsigned *seed);

#endif
