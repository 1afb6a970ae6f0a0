/* A small string-keyed hash map (separate chaining, power-of-two buckets,
 * grows at load 1) used by the cache and the work queue. Keys are copied;
 * values are opaque pointers owned by the caller. Not thread-safe: callers
 * hold their own lock. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct ctl_map_entry {
    struct ctl_map_entry *next;
    uint64_t hash;
    void *value;
    char key[]; /* NUL-terminated */
};

static uint64_t hash_str(const char *s)
{
    uint64_t h = 14695981039346656037ULL;

    while (*s) {
        h ^= (unsigned char)*s++;
        h *= 1099511628211ULL;
    }
    return h;
}

void ctl_map_init(ctl_map_t *m)
{
    memset(m, 0, sizeof(*m));
}

void ctl_map_dispose(ctl_map_t *m, void (*free_value)(void *))
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct ctl_map_entry *e = m->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            if (free_value)
                free_value(e->value);
            free(e);
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}

static struct ctl_map_entry **slot(const ctl_map_t *m, const char *key, uint64_t h)
{
    struct ctl_map_entry **p = &m->buckets[h & (m->nbuckets - 1)];

    while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
        p = &(*p)->next;
    return p;
}

void *ctl_map_get(const ctl_map_t *m, const char *key)
{
    struct ctl_map_entry **p;

    if (m->len == 0)
        return NULL;
    p = slot(m, key, hash_str(key));
    return *p ? (*p)->value : NULL;
}

static int grow(ctl_map_t *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
    struct ctl_map_entry **b = calloc(n, sizeof(*b));

    if (!b)
        return MCP_ENOMEM;
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct ctl_map_entry *e = m->buckets[i], *next;
        for (; e; e = next) {
            next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
        }
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

int ctl_map_put(ctl_map_t *m, const char *key, void *value, void **old)
{
    uint64_t h = hash_str(key);
    struct ctl_map_entry **p, *e;
    size_t klen = strlen(key);

    if (old)
        *old = NULL;
    if (m->len >= m->nbuckets && grow(m) != 0)
        return MCP_ENOMEM;
    p = slot(m, key, h);
    if (*p) {
        if (old)
            *old = (*p)->value;
        (*p)->value = value;
        return 0;
    }
    e = malloc(sizeof(*e) + klen + 1);
    if (!e)
        return MCP_ENOMEM;
    e->next = NULL;
    e->hash = h;
    e->value = value;
    memcpy(e->key, key, klen + 1);
    *p = e;
    m->len++;
    return 0;
}

void *ctl_map_del(ctl_map_t *m, const char *key)
{
    struct ctl_map_entry **p, *e;
    void *v;

    if (m->len == 0)
        return NULL;
    p = slot(m, key, hash_str(key));
    if (!*p)
        return NULL;
    e = *p;
    *p = e->next;
    v = e->value;
    free(e);
    m->len--;
    return v;
}

void ctl_map_foreach(ctl_map_t *m, int (*fn)(void *ctx, const char *key, void *value), void *ctx)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        struct ctl_map_entry **p = &m->buckets[i];
        while (*p) {
            struct ctl_map_entry *e = *p;
            if (fn(ctx, e->key, e->value) == CTL_MAP_REMOVE) {
                *p = e->next;
                free(e);
                m->len--;
            } else {
                p = &e->next;
            }
        }
    }
}
