/* A set of borrowed strings for the uniqueness rules (env names, secret
 * targets, volume names and mount paths): open addressing with linear
 * probing, sized for the number of strings up front, FNV-1a hashes with a
 * per-set seed mixed in. Inserting n strings costs O(n) expected probes,
 * where the pairwise scan it replaces cost O(n^2) comparisons. The probe
 * count is kept so a test can check that bound without timing anything. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/common.h"
#include "schema_internal.h"

static uint64_t hash_of(const char *s, size_t len, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;

    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h ^ (h >> 29);
}

int mcp__strset_init(mcp__strset_t *set, size_t n)
{
    size_t cap = 16;

    while (cap < 2 * n)
        cap *= 2;
    memset(set, 0, sizeof(*set));
    set->slots = calloc(cap, sizeof(*set->slots));
    if (!set->slots)
        return MCP_ENOMEM;
    set->cap = cap;
    set->seed = (uint64_t)(uintptr_t)set->slots * 0x9e3779b97f4a7c15ULL;
    return 0;
}

void mcp__strset_dispose(mcp__strset_t *set)
{
    free(set->slots);
    set->slots = NULL;
    set->cap = set->len = 0;
}

int mcp__strset_add(mcp__strset_t *set, const char *s, size_t len)
{
    size_t mask = set->cap - 1, i = (size_t)hash_of(s, len, set->seed) & mask;

    if (set->len * 2 >= set->cap) /* sized for n at init: never more than n adds */
        return -1;
    for (;; i = (i + 1) & mask) {
        mcp__strset_slot_t *slot = &set->slots[i];

        set->probes++;
        if (!slot->s) {
            slot->s = s;
            slot->len = len;
            set->len++;
            return 1;
        }
        if (slot->len == len && memcmp(slot->s, s, len) == 0)
            return 0;
    }
}
