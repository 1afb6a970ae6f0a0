/* A per-thread recycling allocator for jansson. Handling one review builds
 * and frees some 150 small jansson values; glibc's per-thread cache keeps
 * only 7 blocks per size, so most of those went through malloc's slow paths
 * and cost a quarter of the handler's instructions. Here each thread keeps
 * its freed small blocks in a few size-class lists and hands them out again.
 * Every block is a plain malloc block (its class comes from
 * malloc_usable_size), so code that frees jansson memory with free() stays
 * correct, and blocks may move between threads. */
#include <malloc.h>
#include <stdlib.h>
#include <jansson.h>

#include "internal.h"

/* glibc's usable sizes for 32..272-byte chunks */
static const size_t class_size[] = {24, 40, 56, 72, 104, 136, 200, 264};
#define N_CLASSES MCP_ARRAY_LEN(class_size)
#define CLASS_CAP 1024 /* blocks kept per class and thread */

typedef struct bin {
    void *head; /* singly linked through each block's first word */
    unsigned count;
} bin_t;

static __thread bin_t bins[N_CLASSES];

#define MAX_USABLE 328 /* bigger freed blocks go back to malloc */

/* Smallest class that fits n bytes, by (n + 7) / 8; -1 when none does. */
static signed char class_of[(264 + 7) / 8 + 1];
/* Largest class a freed block of usable size u serves, by u / 8; -1: none. */
static signed char class_floor[MAX_USABLE / 8 + 1];

static void init_classes(void)
{
    for (size_t i = 0, c = 0; i < MCP_ARRAY_LEN(class_of); i++) {
        while (c < N_CLASSES && class_size[c] < i * 8)
            c++;
        class_of[i] = c < N_CLASSES ? (signed char)c : -1;
    }
    for (size_t i = 0; i < MCP_ARRAY_LEN(class_floor); i++) {
        int c = -1;

        while (c + 1 < (int)N_CLASSES && class_size[c + 1] <= i * 8)
            c++;
        class_floor[i] = (signed char)c;
    }
}

static void *pool_malloc(size_t n)
{
    size_t i = (n + 7) / 8;
    int c = i < MCP_ARRAY_LEN(class_of) ? class_of[i] : -1;
    bin_t *b;
    void *p;

    if (c < 0)
        return malloc(n);
    b = &bins[c];
    p = b->head;
    if (!p)
        return malloc(class_size[c]);
    b->head = *(void **)p;
    b->count--;
    return p;
}

static void pool_free(void *p)
{
    size_t u;
    int c;

    if (!p)
        return;
    u = malloc_usable_size(p);
    c = u <= MAX_USABLE ? class_floor[u / 8] : -1;
    if (c < 0 || bins[c].count >= CLASS_CAP) {
        free(p);
        return;
    }
    *(void **)p = bins[c].head;
    bins[c].head = p;
    bins[c].count++;
}

void wh_jpool_install(void)
{
    init_classes();
    json_set_alloc_funcs(pool_malloc, pool_free);
}

void wh_jpool_release(void)
{
    for (size_t c = 0; c < N_CLASSES; c++) {
        while (bins[c].head) {
            void *p = bins[c].head;

            bins[c].head = *(void **)p;
            free(p);
        }
        bins[c].count = 0;
    }
}
