/* One memory budget for every byte the proxy queues (budget.c), besides the
 * cap each object has of its own: the answers waiting for a slow client
 * (http.c), request bodies held while their answer is owed (http.c), the
 * write queue to the MCP server (upstream.c) and the HTTP backend's lines and
 * bodies (httpup.c), requests parked while the server is down (client.c).
 * `--max-queued-bytes` sets it (DESIGN §5: every budget is global as well as
 * per object). New work that does not fit is refused (503 + Retry-After) once
 * the slowest consumers have been shed; bytes that already exist are charged
 * anyway and hold back further reads. */
#ifndef PX_BUDGET_H
#define PX_BUDGET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Free at least `need` bytes by closing the slowest consumers (http.c: client
 * connections whose answers stalled); returns the bytes given back. Runs on
 * the event loop inside px_budget_take, so it must not call into the bridge
 * (the bridge may be the one taking). */
typedef size_t (*px_shed_cb)(void *ctx, size_t need);

typedef struct px_budget {
    size_t max;
    _Atomic size_t used;
    _Atomic uint64_t refused; /* takes that failed (after shedding) */
    _Atomic uint64_t shed;    /* bytes given back by shedding consumers */
    px_shed_cb on_shed;
    void *shed_ctx;
} px_budget_t;

/* Caller-allocated; `max` bytes in all. */
void px_budget_init(px_budget_t *b, size_t max);
/* Who sheds consumers when a take does not fit (NULL: nobody). */
void px_budget_set_shed(px_budget_t *b, px_shed_cb cb, void *ctx);

/* Reserve n bytes before queueing them: 0, or MCP_ETOOBIG when the total
 * would exceed the budget even after shedding stalled consumers (the caller
 * refuses the work). Event loop only (it may shed). b NULL: always 0. */
int px_budget_take(px_budget_t *b, size_t n);
/* The same without shedding: any thread. */
int px_budget_try(px_budget_t *b, size_t n);
/* Count n bytes that exist already (read from a socket, say) even over the
 * budget; the caller stops reading while px_budget_over. Any thread. */
void px_budget_charge(px_budget_t *b, size_t n);
/* Give back n bytes taken or charged before. Any thread. */
void px_budget_give(px_budget_t *b, size_t n);

size_t px_budget_used(const px_budget_t *b);
/* Is the budget used up (used >= max)? 0 for NULL. */
int px_budget_over(const px_budget_t *b);

#endif
