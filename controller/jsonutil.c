/* Small JSON helpers: "does the live object already contain what we would
 * apply" (so a no-op resync writes nothing), a stable hash of a desired
 * object, timestamps, and the building blocks of a
 * strategic-merge-like merge (child containers, lists keyed by name). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#include <openssl/evp.h>

static bool contains_array(const json_t *live, const json_t *want)
{
    size_t i, j;
    json_t *w, *l;

    if (!json_is_array(live))
        return false;
    json_array_foreach(want, i, w)
    {
        if (!json_is_object(w))
            goto scalars;
        bool found = false;
        json_array_foreach(live, j, l)
        {
            if (ctl_json_contains(l, w)) {
                found = true;
                break;
            }
        }
        if (!found)
            return false;
    }
    return true;
scalars:
    /* atomic lists (args, verbs, ...) must match exactly */
    if (json_array_size(live) != json_array_size(want))
        return false;
    json_array_foreach(want, i, w)
    {
        if (!ctl_json_contains(json_array_get(live, i), w))
            return false;
    }
    return true;
}

bool ctl_json_contains(const json_t *live, const json_t *want)
{
    const char *k;
    json_t *w;

    if (json_is_null(want)) /* "must be absent" (merge-patch deletion) */
        return !live || json_is_null(live);
    if (!live || !want)
        return live == want;
    switch (json_typeof(want)) {
    case JSON_OBJECT:
        if (!json_is_object(live))
            return false;
        json_object_foreach((json_t *)want, k, w)
        {
            if (!ctl_json_contains(json_object_get(live, k), w))
                return false;
        }
        return true;
    case JSON_ARRAY:
        return contains_array(live, want);
    case JSON_INTEGER:
    case JSON_REAL:
        return json_is_number(live) && json_number_value(live) == json_number_value(want);
    default:
        return json_equal((json_t *)live, (json_t *)want);
    }
}

void ctl_fnv1a(uint64_t *h, const void *p, size_t n)
{
    const unsigned char *b = p;

    for (size_t i = 0; i < n; i++) {
        *h ^= b[i];
        *h *= 1099511628211ULL;
    }
}

static int hash_cb(const char *buf, size_t size, void *data)
{
    ctl_fnv1a(data, buf, size);
    return 0;
}

uint64_t ctl_json_hash(const json_t *j)
{
    uint64_t h = 14695981039346656037ULL;

    if (json_dump_callback(j, hash_cb, &h, JSON_COMPACT | JSON_SORT_KEYS) != 0)
        return 0;
    return h ? h : 1;
}

char *ctl_text_hash(const char *text, size_t n, char *hex, size_t len)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a, as ctl_json_hash */

    hash_cb(text, n, &h);
    snprintf(hex, len, "%016llx", (unsigned long long)h);
    return hex;
}

char *ctl_base64(const void *p, size_t n)
{
    char *out = n <= INT_MAX / 2 ? malloc((n + 2) / 3 * 4 + 1) : NULL;

    if (out)
        EVP_EncodeBlock((unsigned char *)out, p, (int)n);
    return out;
}

char *ctl_time_rfc3339(char *buf, size_t len, int micro)
{
    struct timespec ts;
    struct tm tm;
    char base[32];

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    if (micro)
        snprintf(buf, len, "%s.%06ldZ", base, ts.tv_nsec / 1000);
    else
        snprintf(buf, len, "%sZ", base);
    return buf;
}

json_t *ctl_json_child(json_t *parent, const char *key, bool array)
{
    json_t *c = json_object_get(parent, key);

    if (array ? json_is_array(c) : json_is_object(c))
        return c;
    c = array ? json_array() : json_object();
    if (!c || json_object_set_new(parent, key, c) != 0)
        return NULL;
    return c;
}

json_t *ctl_json_find_named(json_t *arr, const char *name, bool create)
{
    json_t *e = mcp_json_find(arr, "name", name);

    if (e || !create)
        return e;
    e = json_pack("{s:s}", "name", name);
    if (!e || json_array_append_new(arr, e) != 0)
        return NULL;
    return e;
}

int ctl_json_upsert_named(json_t *arr, json_t *elem)
{
    const char *name = json_string_value(json_object_get(elem, "name"));
    size_t i;
    json_t *e;

    if (!elem || !name) {
        json_decref(elem);
        return -1;
    }
    json_array_foreach(arr, i, e)
    {
        const char *n = json_string_value(json_object_get(e, "name"));
        if (n && strcmp(n, name) == 0)
            return json_array_set_new(arr, i, elem);
    }
    return json_array_append_new(arr, elem);
}
