/* What the controller keeps of the cluster, sized for thousands of objects:
 * each MCPServer as one compact JSON string (managedFields and the kubectl
 * last-applied annotation dropped; parsed again on use), and each child as
 * a small record (resourceVersion, controller owner uid, the hash of a
 * desired object known to be contained in it, available replicas, a pod's
 * state; the pod's detail only as long as it is). No whole child object is
 * ever kept. One mutex guards both maps. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct server_ent {
    uint64_t rv; /* numeric resourceVersion, 0 when not numeric */
    uint32_t epoch;
    char json[];
} server_ent_t;

struct ctl_cache {
    pthread_mutex_t lock;
    ctl_map_t servers, children;
};

ctl_cache_t *ctl_cache_new(void)
{
    ctl_cache_t *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    ctl_map_init(&c->servers);
    ctl_map_init(&c->children);
    return c;
}

void ctl_cache_free(ctl_cache_t *c)
{
    if (!c)
        return;
    ctl_map_dispose(&c->servers, free);
    ctl_map_dispose(&c->children, free);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

/* The object without the fields we never need (new reference). */
static json_t *slim(const json_t *obj)
{
    json_t *o = json_deep_copy(obj), *meta;

    if (!o)
        return NULL;
    meta = json_object_get(o, "metadata");
    json_object_del(meta, "managedFields");
    json_object_del(json_object_get(meta, "annotations"),
                    "kubectl.kubernetes.io/last-applied-configuration");
    return o;
}

uint64_t ctl_rv_num(const char *rv)
{
    char *end;
    unsigned long long v;

    if (!rv || !*rv)
        return 0;
    v = strtoull(rv, &end, 10);
    return *end ? 0 : (uint64_t)v;
}

int ctl_cache_put_server(ctl_cache_t *c, const char *key, const json_t *obj, uint32_t epoch)
{
    json_t *o = slim(obj);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    size_t n = s ? strlen(s) + 1 : 0;
    server_ent_t *e = s ? malloc(sizeof(*e) + n) : NULL, *cur;
    void *old = NULL;
    int rc = MCP_ENOMEM;

    json_decref(o);
    if (!e)
        goto out;
    e->epoch = epoch;
    e->rv = ctl_rv_num(mcp_json_str(obj, "metadata.resourceVersion"));
    memcpy(e->json, s, n);
    pthread_mutex_lock(&c->lock);
    cur = ctl_map_get(&c->servers, key);
    if (epoch == 0 && !cur) { /* a write's response for an object deleted meanwhile */
        old = e;
        rc = 0;
    } else if (cur && cur->rv && e->rv && e->rv < cur->rv) { /* an older copy: keep ours */
        cur->epoch = epoch ? epoch : cur->epoch;
        old = e;
        rc = 0;
    } else {
        if (epoch == 0)
            e->epoch = cur->epoch;
        rc = ctl_map_put(&c->servers, key, e, &old);
    }
    pthread_mutex_unlock(&c->lock);
    if (rc != 0)
        free(e);
    free(old);
out:
    free(s);
    return rc;
}

bool ctl_cache_has_server_rv(ctl_cache_t *c, const char *key, const char *rv)
{
    uint64_t v = ctl_rv_num(rv);
    server_ent_t *e;
    bool has;

    pthread_mutex_lock(&c->lock);
    e = ctl_map_get(&c->servers, key);
    has = e && v && e->rv == v;
    pthread_mutex_unlock(&c->lock);
    return has;
}

void ctl_cache_del_server(ctl_cache_t *c, const char *key)
{
    pthread_mutex_lock(&c->lock);
    free(ctl_map_del(&c->servers, key));
    pthread_mutex_unlock(&c->lock);
}

json_t *ctl_cache_get_server(ctl_cache_t *c, const char *key)
{
    server_ent_t *e;
    json_t *o = NULL;

    pthread_mutex_lock(&c->lock);
    e = ctl_map_get(&c->servers, key);
    if (e)
        o = json_loads(e->json, JSON_ALLOW_NUL, NULL); /* stored by us: bounded */
    pthread_mutex_unlock(&c->lock);
    return o;
}

size_t ctl_cache_servers(ctl_cache_t *c)
{
    size_t n;

    pthread_mutex_lock(&c->lock);
    n = c->servers.len;
    pthread_mutex_unlock(&c->lock);
    return n;
}

typedef struct each_ctx {
    void (*fn)(void *ctx, const char *key);
    void *ctx;
    const char *prefix;
    size_t plen;
    uint32_t epoch;
} each_ctx_t;

static int each_cb(void *ctx, const char *key, void *value)
{
    each_ctx_t *e = ctx;

    (void)value;
    e->fn(e->ctx, key);
    return CTL_MAP_KEEP;
}

void ctl_cache_each_server(ctl_cache_t *c, void (*fn)(void *ctx, const char *key), void *ctx)
{
    each_ctx_t e = {.fn = fn, .ctx = ctx};

    pthread_mutex_lock(&c->lock);
    ctl_map_foreach(&c->servers, each_cb, &e);
    pthread_mutex_unlock(&c->lock);
}

/* A child is kept as its record up to the pod's detail, and the detail only
 * as long as it is: most children are not pods and have none. */
static size_t record_size(const ctl_child_t *ch)
{
    return offsetof(ctl_child_t, pod.detail) + strnlen(ch->pod.detail, CTL_POD_DETAIL_MAX - 1) + 1;
}

bool ctl_cache_get_child(ctl_cache_t *c, const char *key, ctl_child_t *out)
{
    ctl_child_t *e;

    pthread_mutex_lock(&c->lock);
    e = ctl_map_get(&c->children, key);
    if (e && out) {
        memset(out, 0, sizeof(*out));
        memcpy(out, e, record_size(e));
    }
    pthread_mutex_unlock(&c->lock);
    return e != NULL;
}

int ctl_cache_put_child(ctl_cache_t *c, const char *key, const ctl_child_t *in)
{
    size_t n = record_size(in);
    ctl_child_t *e = malloc(n);
    void *old = NULL;
    int rc = MCP_ENOMEM;

    if (!e)
        return rc;
    memcpy(e, in, n);
    ((char *)e)[n - 1] = '\0'; /* the detail, cut at CTL_POD_DETAIL_MAX - 1 */
    pthread_mutex_lock(&c->lock);
    rc = ctl_map_put(&c->children, key, e, &old);
    pthread_mutex_unlock(&c->lock);
    if (rc != 0)
        free(e);
    free(old);
    return rc;
}

void ctl_cache_del_child(ctl_cache_t *c, const char *key)
{
    pthread_mutex_lock(&c->lock);
    free(ctl_map_del(&c->children, key));
    pthread_mutex_unlock(&c->lock);
}

static int sweep_server_cb(void *ctx, const char *key, void *value)
{
    each_ctx_t *e = ctx;
    server_ent_t *s = value;

    if (strncmp(key, e->prefix, e->plen) != 0 || s->epoch == e->epoch)
        return CTL_MAP_KEEP;
    if (e->fn)
        e->fn(e->ctx, key);
    free(s);
    return CTL_MAP_REMOVE;
}

static int sweep_child_cb(void *ctx, const char *key, void *value)
{
    each_ctx_t *e = ctx;
    ctl_child_t *ch = value;

    if (strncmp(key, e->prefix, e->plen) != 0 || ch->epoch == e->epoch)
        return CTL_MAP_KEEP;
    if (e->fn)
        e->fn(e->ctx, key);
    free(ch);
    return CTL_MAP_REMOVE;
}

void ctl_cache_sweep(ctl_cache_t *c, bool servers, const char *prefix, uint32_t epoch,
                     void (*fn)(void *ctx, const char *key), void *ctx)
{
    each_ctx_t e = {.fn = fn, .ctx = ctx, .prefix = prefix, .plen = strlen(prefix), .epoch = epoch};

    pthread_mutex_lock(&c->lock);
    ctl_map_foreach(servers ? &c->servers : &c->children,
                    servers ? sweep_server_cb : sweep_child_cb, &e);
    pthread_mutex_unlock(&c->lock);
}
