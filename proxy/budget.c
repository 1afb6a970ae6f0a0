/* The memory budget of queued bytes (budget.h): one atomic counter against
 * one maximum, so that the stream threads (httpup.c) count what they hold
 * too; shedding is left to whoever registered for it (http.c). */
#include "mcp/common.h"
#include "budget.h"

void px_budget_init(px_budget_t *b, size_t max)
{
    b->max = max;
    atomic_init(&b->used, 0);
    atomic_init(&b->refused, 0);
    atomic_init(&b->shed, 0);
    b->on_shed = NULL;
    b->shed_ctx = NULL;
}

void px_budget_set_shed(px_budget_t *b, px_shed_cb cb, void *ctx)
{
    b->on_shed = cb;
    b->shed_ctx = ctx;
}

int px_budget_try(px_budget_t *b, size_t n)
{
    size_t used;

    if (!b)
        return 0;
    used = atomic_load(&b->used);
    do {
        if (used > b->max || n > b->max - used)
            return MCP_ETOOBIG;
    } while (!atomic_compare_exchange_weak(&b->used, &used, used + n));
    return 0;
}

int px_budget_take(px_budget_t *b, size_t n)
{
    size_t used, over;

    if (px_budget_try(b, n) == 0)
        return 0;
    if (b->on_shed && n <= b->max) {
        used = atomic_load(&b->used);
        over = used + n - b->max; /* > 0: the try failed */
        atomic_fetch_add(&b->shed, b->on_shed(b->shed_ctx, over));
        if (px_budget_try(b, n) == 0)
            return 0;
    }
    atomic_fetch_add(&b->refused, 1);
    return MCP_ETOOBIG;
}

void px_budget_charge(px_budget_t *b, size_t n)
{
    if (b)
        atomic_fetch_add(&b->used, n);
}

void px_budget_give(px_budget_t *b, size_t n)
{
    if (b)
        atomic_fetch_sub(&b->used, n);
}

size_t px_budget_used(const px_budget_t *b)
{
    return b ? atomic_load(&b->used) : 0;
}

int px_budget_over(const px_budget_t *b)
{
    return b && atomic_load(&b->used) >= b->max;
}
