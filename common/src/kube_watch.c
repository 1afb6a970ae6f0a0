/* List-then-watch for one resource (in one namespace or all), the informer
 * pattern without the object store: a paged list (limit/continue) delivers
 * every item as ADDED under a new epoch, then a watch from the list's
 * resourceVersion with bookmarks and a random bounded timeout. A 410 Gone
 * (HTTP status, or an ERROR event with code 410) clears the version and
 * relists; other failures reconnect after a capped exponential backoff with
 * jitter. The transport is an mcp_kube_client_t, so tests drive this with a
 * fake. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mcp/json.h"
#include "mcp/kube.h"
#include "mcp/log.h"

#define LIST_PAGE       50 /* small pages keep the parse peak small */
#define WATCH_GONE      1
#define WATCH_BAD_EVENT 2
#define MIN_WATCH_S     2 /* a watch shorter than this that ends "normally" counts as a failure */

void mcp_kube_watch_init(mcp_kube_watch_t *w, const mcp_kube_watch_spec_t *spec,
                         mcp_kube_client_t *client, const mcp_kube_watch_ops_t *ops)
{
    memset(w, 0, sizeof(*w));
    w->spec = *spec;
    w->client = client;
    w->ops = *ops;
    w->min_timeout_s = 300;
    w->max_timeout_s = 600;
    w->backoff = (mcp_backoff_t){.base_ms = 250, .cap_ms = 30000, .jitter = 0.5};
    w->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)w;
}

/* Percent-encode everything but unreserved characters. */
static void url_encode(char *out, size_t len, const char *in)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;

    for (; *in && o + 4 < len; in++) {
        unsigned char ch = (unsigned char)*in;
        if (isalnum(ch) || strchr("-._~", ch)) {
            out[o++] = (char)ch;
        } else {
            out[o++] = '%';
            out[o++] = hex[ch >> 4];
            out[o++] = hex[ch & 15];
        }
    }
    out[o] = '\0';
}

char *mcp_kube_watch_path(const mcp_kube_watch_t *w, char *buf, size_t len, bool watch,
                          const char *cont, int timeout_s)
{
    const mcp_kube_watch_spec_t *s = &w->spec;
    int n;

    if (s->namespace)
        n = snprintf(buf, len, "%s/namespaces/%s/%s?", s->base, s->namespace, s->resource);
    else
        n = snprintf(buf, len, "%s/%s?", s->base, s->resource);
    if (s->label_selector)
        n += snprintf(buf + n, len - (size_t)n, "labelSelector=%s&", s->label_selector);
    if (s->field_selector)
        n += snprintf(buf + n, len - (size_t)n, "fieldSelector=%s&", s->field_selector);
    if (watch)
        snprintf(buf + n, len - (size_t)n,
                 "watch=1&allowWatchBookmarks=true&resourceVersion=%s&timeoutSeconds=%d", w->rv,
                 timeout_s);
    else if (cont && *cont) {
        n += snprintf(buf + n, len - (size_t)n, "limit=%d&continue=", LIST_PAGE);
        url_encode(buf + n, len - (size_t)n, cont);
    } else
        snprintf(buf + n, len - (size_t)n, "limit=%d", LIST_PAGE);
    return buf;
}

static void set_rv(mcp_kube_watch_t *w, const json_t *obj)
{
    const char *rv = mcp_json_str(obj, "metadata.resourceVersion");

    if (rv && strlen(rv) < sizeof(w->rv))
        snprintf(w->rv, sizeof(w->rv), "%s", rv);
}

/* One page: deliver the items, return the continue token (new string, "" at
 * the end) or NULL on failure. */
static char *list_page(mcp_kube_watch_t *w, const char *cont)
{
    char path[1024];
    mcp_kube_resp_t r;
    mcp_kube_req_t req = {.method = "GET",
                          .cap = MCP_KUBE_LIST_MAX,
                          .path = mcp_kube_watch_path(w, path, sizeof(path), false, cont, 0)};
    const char *next;
    size_t i;
    json_t *item;
    char *out = NULL;

    if (mcp_kube_do(w->client, &req, &r) != 0)
        return NULL;
    if (r.status != 200 || !json_is_array(json_object_get(r.body, "items"))) {
        mcp_log(MCP_LOG_WARN, "list failed", "resource", w->spec.resource, "message",
                r.body ? mcp_json_str(r.body, "message") : "no body", NULL);
        mcp_kube_resp_dispose(&r);
        return NULL;
    }
    json_array_foreach(json_object_get(r.body, "items"), i, item)
    {
        /* list items carry no kind/apiVersion: the list has them */
        if (!json_object_get(item, "kind"))
            json_object_set_new(item, "kind", json_string(w->spec.kind));
        if (!json_object_get(item, "apiVersion") && json_object_get(r.body, "apiVersion"))
            json_object_set(item, "apiVersion", json_object_get(r.body, "apiVersion"));
        w->ops.event(w->ops.ctx, w, "ADDED", item, w->epoch);
    }
    set_rv(w, r.body);
    next = mcp_json_str(r.body, "metadata.continue");
    out = strdup(next ? next : "");
    mcp_kube_resp_dispose(&r);
    return out;
}

int mcp_kube_watch_list(mcp_kube_watch_t *w)
{
    char *cont = strdup("");

    if (w->list_lock)
        pthread_mutex_lock(w->list_lock);
    w->epoch++;
    w->rv[0] = '\0';
    while (cont) {
        char *next = list_page(w, cont);
        free(cont);
        cont = next;
        if (cont && !*cont)
            break;
    }
    if (w->list_lock)
        pthread_mutex_unlock(w->list_lock);
    if (!cont)
        return MCP_EIO;
    free(cont);
    if (!w->rv[0])
        return MCP_EIO;
    if (w->ops.synced)
        w->ops.synced(w->ops.ctx, w, w->epoch);
    w->synced = 1;
    return 0;
}

static int on_event(void *ctx, json_t *ev)
{
    mcp_kube_watch_t *w = ctx;
    const char *type = json_string_value(json_object_get(ev, "type"));
    json_t *obj = json_object_get(ev, "object");

    if (!type || !json_is_object(obj))
        return WATCH_BAD_EVENT;
    if (strcmp(type, "ERROR") == 0) {
        json_int_t code = json_integer_value(json_object_get(obj, "code"));
        mcp_log(MCP_LOG_INFO, "watch error event", "resource", w->spec.resource, "message",
                mcp_json_str(obj, "message"), NULL);
        return code == 410 ? WATCH_GONE : WATCH_BAD_EVENT;
    }
    set_rv(w, obj);
    if (strcmp(type, "BOOKMARK") == 0)
        return 0;
    w->ops.event(w->ops.ctx, w, type, obj, w->epoch);
    return 0;
}

int mcp_kube_watch_once(mcp_kube_watch_t *w)
{
    char path[1024];
    int span = w->max_timeout_s - w->min_timeout_s;
    int timeout = w->min_timeout_s + (span > 0 ? rand_r(&w->seed) % (span + 1) : 0);
    long status = 0;
    json_t *err = NULL;
    int rc;

    rc = w->client->stream(w->client,
                           mcp_kube_watch_path(w, path, sizeof(path), true, NULL, timeout), timeout,
                           on_event, w, &status, &err);
    if (status == 410 || rc == WATCH_GONE ||
        (err && json_integer_value(json_object_get(err, "code")) == 410)) {
        w->rv[0] = '\0';
        rc = MCP_ECONFLICT;
    } else if (rc == 0 && (status < 200 || status >= 300)) {
        rc = MCP_EHTTP;
    } else if (rc > 0) {
        rc = MCP_EINVAL;
    }
    if (rc != 0 && mcp_log_enabled(MCP_LOG_DEBUG)) {
        char st[16], code[16];
        snprintf(st, sizeof(st), "%ld", status);
        snprintf(code, sizeof(code), "%d", rc);
        mcp_log(MCP_LOG_DEBUG, "watch ended", "resource", w->spec.resource, "status", st, "rc",
                code, "message", err ? mcp_json_str(err, "message") : "", NULL);
    }
    json_decref(err);
    return rc;
}

static void pause_ms(mcp_kube_watch_t *w, double ms)
{
    while (ms > 0 && !mcp_kube_stopped(w->client)) {
        double step = ms > 100 ? 100 : ms;
        usleep((useconds_t)(step * 1000));
        ms -= step;
    }
}

static int stopped(const mcp_kube_watch_t *w)
{
    return mcp_kube_stopped(w->client);
}

static void restarted(mcp_kube_watch_t *w)
{
    if (w->ops.restarted)
        w->ops.restarted(w->ops.ctx, w);
}

void mcp_kube_watch_run(mcp_kube_watch_t *w)
{
    while (!stopped(w)) {
        time_t start = time(NULL);
        int listing = !w->rv[0];
        int rc = listing ? mcp_kube_watch_list(w) : mcp_kube_watch_once(w);

        if (stopped(w))
            break;
        if (rc == 0 && (listing || time(NULL) - start >= MIN_WATCH_S)) {
            w->failures = 0;
            continue;
        }
        if (rc == MCP_ECONFLICT) { /* 410: relist at once */
            restarted(w);
            continue;
        }
        if (rc != 0 || !listing) {
            w->failures++;
            restarted(w);
            pause_ms(w, mcp_backoff_delay_ms(&w->backoff, w->failures, &w->seed));
        }
    }
}
