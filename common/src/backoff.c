/* Capped exponential backoff with jitter (see mcp/backoff.h). */
#include <stdlib.h>

#include "mcp/backoff.h"

double mcp_backoff_delay_ms(const mcp_backoff_t *b, unsigned n, unsigned *seed)
{
    double d = b->base_ms;

    for (unsigned i = 1; i < n && d < b->cap_ms; i++)
        d *= 2;
    if (d > b->cap_ms)
        d = b->cap_ms;
    if (b->jitter > 0 && seed)
        d -= d * b->jitter * ((double)rand_r(seed) / ((double)RAND_MAX + 1.0));
    return d;
}
