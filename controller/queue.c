/* The work queue, after client-go's: keys ("ns/name") wait at most once
 * (`dirty`), a key being processed is never handed out again until done()
 * (`processing`); if it was re-added meanwhile it goes back in line then.
 * Retries wait a per-key exponential backoff (5 ms doubling to a cap) and an
 * overall token bucket, so a broken object cannot drive a hot loop. Delayed
 * keys sit in a sorted list; get() sleeps until the earliest is due. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define DIRTY      ((void *)1)
#define PROCESSING ((void *)2)

typedef struct item {
    struct item *next;
    double due_ms; /* delayed items only */
    char key[];
} item_t;

struct ctl_queue {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    ctl_queue_opts_t opts;
    item_t *head, *tail; /* ready FIFO */
    item_t *delayed;     /* sorted by due_ms */
    size_t len;
    ctl_map_t state;    /* key -> DIRTY | PROCESSING | both (3) */
    ctl_map_t failures; /* key -> (uintptr_t) count */
    double bucket_tokens, bucket_ms;
    unsigned seed;
    int shutdown;
};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

ctl_queue_t *ctl_queue_new(const ctl_queue_opts_t *o)
{
    ctl_queue_t *q = calloc(1, sizeof(*q));
    pthread_condattr_t ca;

    if (!q)
        return NULL;
    q->opts = *o;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &ca);
    pthread_condattr_destroy(&ca);
    ctl_map_init(&q->state);
    ctl_map_init(&q->failures);
    q->bucket_tokens = o->burst;
    q->bucket_ms = now_ms();
    q->seed = (unsigned)time(NULL);
    return q;
}

static void free_list(item_t *i)
{
    while (i) {
        item_t *n = i->next;
        free(i);
        i = n;
    }
}

void ctl_queue_free(ctl_queue_t *q)
{
    if (!q)
        return;
    free_list(q->head);
    free_list(q->delayed);
    ctl_map_dispose(&q->state, NULL);
    ctl_map_dispose(&q->failures, NULL);
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static item_t *new_item(const char *key, double due)
{
    size_t n = strlen(key) + 1;
    item_t *i = malloc(sizeof(*i) + n);

    if (i) {
        i->next = NULL;
        i->due_ms = due;
        memcpy(i->key, key, n);
    }
    return i;
}

static uintptr_t state_of(ctl_queue_t *q, const char *key)
{
    return (uintptr_t)ctl_map_get(&q->state, key);
}

static void set_state(ctl_queue_t *q, const char *key, uintptr_t st)
{
    if (st == 0)
        ctl_map_del(&q->state, key);
    else
        ctl_map_put(&q->state, key, (void *)st, NULL);
}

/* Under the lock: put key in the ready line unless already waiting. */
static void add_locked(ctl_queue_t *q, const char *key)
{
    uintptr_t st = state_of(q, key);
    item_t *i;

    if (q->shutdown || (st & (uintptr_t)DIRTY))
        return;
    set_state(q, key, st | (uintptr_t)DIRTY);
    if (st & (uintptr_t)PROCESSING)
        return; /* done() puts it back */
    if (!(i = new_item(key, 0)))
        return;
    if (q->tail)
        q->tail->next = i;
    else
        q->head = i;
    q->tail = i;
    q->len++;
    pthread_cond_signal(&q->cond);
}

void ctl_queue_add(ctl_queue_t *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    add_locked(q, key);
    pthread_mutex_unlock(&q->lock);
}

static void add_after_locked(ctl_queue_t *q, const char *key, double ms)
{
    item_t *i, **p;

    if (ms <= 0) {
        add_locked(q, key);
        return;
    }
    if (q->shutdown || !(i = new_item(key, now_ms() + ms)))
        return;
    for (p = &q->delayed; *p && (*p)->due_ms <= i->due_ms; p = &(*p)->next)
        ;
    i->next = *p;
    *p = i;
    pthread_cond_broadcast(&q->cond);
}

void ctl_queue_add_after(ctl_queue_t *q, const char *key, double ms)
{
    pthread_mutex_lock(&q->lock);
    add_after_locked(q, key, ms);
    pthread_mutex_unlock(&q->lock);
}

/* Delay imposed by the overall token bucket for one more retry. */
static double bucket_delay(ctl_queue_t *q)
{
    double now = now_ms();

    if (q->opts.qps <= 0)
        return 0;
    q->bucket_tokens += (now - q->bucket_ms) * q->opts.qps / 1e3;
    if (q->bucket_tokens > q->opts.burst)
        q->bucket_tokens = q->opts.burst;
    q->bucket_ms = now;
    q->bucket_tokens -= 1;
    return q->bucket_tokens >= 0 ? 0 : -q->bucket_tokens * 1e3 / q->opts.qps;
}

void ctl_queue_add_rate_limited(ctl_queue_t *q, const char *key)
{
    mcp_backoff_t b = {.base_ms = q->opts.base_ms, .cap_ms = q->opts.cap_ms};
    uintptr_t n;
    double d, bd;

    pthread_mutex_lock(&q->lock);
    n = (uintptr_t)ctl_map_get(&q->failures, key) + 1;
    ctl_map_put(&q->failures, key, (void *)n, NULL);
    d = mcp_backoff_delay_ms(&b, (unsigned)n, NULL);
    bd = bucket_delay(q);
    add_after_locked(q, key, d > bd ? d : bd);
    pthread_mutex_unlock(&q->lock);
}

void ctl_queue_forget(ctl_queue_t *q, const char *key)
{
    pthread_mutex_lock(&q->lock);
    ctl_map_del(&q->failures, key);
    pthread_mutex_unlock(&q->lock);
}

unsigned ctl_queue_failures(ctl_queue_t *q, const char *key)
{
    uintptr_t n;

    pthread_mutex_lock(&q->lock);
    n = (uintptr_t)ctl_map_get(&q->failures, key);
    pthread_mutex_unlock(&q->lock);
    return (unsigned)n;
}

/* Move due delayed items to the ready line; returns ms until the next. */
static double promote(ctl_queue_t *q)
{
    double now = now_ms();

    while (q->delayed && q->delayed->due_ms <= now) {
        item_t *i = q->delayed;
        q->delayed = i->next;
        add_locked(q, i->key);
        free(i);
    }
    return q->delayed ? q->delayed->due_ms - now : -1;
}

static void wait_ms(ctl_queue_t *q, double ms)
{
    struct timespec ts;
    long long ns;

    if (ms < 0) {
        pthread_cond_wait(&q->cond, &q->lock);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ns = (long long)ts.tv_nsec + (long long)(ms * 1e6) + 100000; /* round up 0.1 ms */
    ts.tv_sec += (time_t)(ns / 1000000000LL);
    ts.tv_nsec = (long)(ns % 1000000000LL);
    pthread_cond_timedwait(&q->cond, &q->lock, &ts);
}

char *ctl_queue_get(ctl_queue_t *q)
{
    item_t *i;
    char *key;

    pthread_mutex_lock(&q->lock);
    for (;;) {
        double next = promote(q);
        if (q->shutdown) {
            pthread_mutex_unlock(&q->lock);
            return NULL;
        }
        if (q->head)
            break;
        wait_ms(q, next);
    }
    i = q->head;
    q->head = i->next;
    if (!q->head)
        q->tail = NULL;
    q->len--;
    set_state(q, i->key, (uintptr_t)PROCESSING);
    key = strdup(i->key);
    free(i);
    pthread_mutex_unlock(&q->lock);
    return key;
}

void ctl_queue_done(ctl_queue_t *q, const char *key)
{
    uintptr_t st;

    pthread_mutex_lock(&q->lock);
    st = state_of(q, key);
    set_state(q, key, 0);
    if (st & (uintptr_t)DIRTY)
        add_locked(q, key);
    pthread_mutex_unlock(&q->lock);
}

void ctl_queue_shutdown(ctl_queue_t *q)
{
    pthread_mutex_lock(&q->lock);
    q->shutdown = 1;
    pthread_cond_broadcast(&q->cond);
    pthread_mutex_unlock(&q->lock);
}

size_t ctl_queue_len(ctl_queue_t *q)
{
    size_t n;

    pthread_mutex_lock(&q->lock);
    n = q->len;
    pthread_mutex_unlock(&q->lock);
    return n;
}
