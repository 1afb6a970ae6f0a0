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
    w->page = w->page_default = MCP_KUBE_LIST_PAGE;
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
        n += snprintf(buf + n, len - (size_t)n, "limit=%d&continue=", w->page);
        url_encode(buf + n, len - (size_t)n, cont);
    } else
        snprintf(buf + n, len - (size_t)n, "limit=%d", w->page);
    return buf;
}

/* Remember the resourceVersion of `meta` (an object's or a list's metadata). */
static void set_rv(mcp_kube_watch_t *w, const json_t *meta)
{
    const char *rv = mcp_json_str(meta, "resourceVersion");

    if (rv && strlen(rv) < sizeof(w->rv))
        snprintf(w->rv, sizeof(w->rv), "%s", rv);
}

/* Hand on an object that cannot be loaded, or log that it is skipped. */
static void bad_object(mcp_kube_watch_t *w, const char *type, json_t *stub, const char *why)
{
    const char *ns = mcp_json_str(stub, "metadata.namespace");

    mcp_log(MCP_LOG_WARN, "skipping an object that cannot be read", "kind", w->spec.kind,
            "namespace", ns ? ns : "", "name", mcp_json_str(stub, "metadata.name"), "error", why,
            NULL);
    if (w->ops.bad)
        w->ops.bad(w->ops.ctx, w, type, stub, why, w->epoch);
}

/* Load and deliver one list item (kind and apiVersion come from the list). */
static void list_item(mcp_kube_watch_t *w, const mcp_json_span_t *it, const json_t *api_version)
{
    char why[128];
    json_t *item = mcp_json_load_bounded(it->p, it->n, &mcp_kube_limits, why, sizeof(why));
    bool bad = !json_is_object(item);

    if (bad) {
        json_decref(item);
        if (!(item = mcp_kube_object_stub(it->p, it->n))) {
            mcp_log(MCP_LOG_WARN, "skipping a list item without a readable name", "kind",
                    w->spec.kind, "error", why, NULL);
            return;
        }
    }
    if (!json_object_get(item, "kind"))
        json_object_set_new(item, "kind", json_string(w->spec.kind));
    if (!json_object_get(item, "apiVersion") && json_is_string(api_version))
        json_object_set(item, "apiVersion", (json_t *)api_version);
    if (bad)
        bad_object(w, "ADDED", item, why);
    else
        w->ops.event(w->ops.ctx, w, "ADDED", item, w->epoch);
    json_decref(item);
}

/* One member of the list text, loaded (small: apiVersion, metadata). */
static json_t *list_member(const mcp_kube_resp_t *r, const char *key)
{
    mcp_json_span_t v;
    char why[128];

    if (mcp_json_member(r->raw, r->raw_len, key, &v) != 0)
        return NULL;
    return mcp_json_load_bounded(v.p, v.n, &mcp_kube_limits, why, sizeof(why));
}

static void list_failed(mcp_kube_watch_t *w, const mcp_kube_resp_t *r, int rc, const char *why)
{
    char st[16], page[16];
    json_t *status = r->raw ? list_member(r, "message") : NULL;

    snprintf(st, sizeof(st), "%ld", r->status);
    snprintf(page, sizeof(page), "%d", w->page);
    mcp_log(MCP_LOG_WARN, "list page failed", "resource", w->spec.resource, "status", st, "limit",
            page, "error", rc ? mcp_strerror(rc) : why, "message",
            json_string_value(status) ? json_string_value(status) : "", NULL);
    json_decref(status);
}

/* One page: deliver the items, return the continue token (new string, "" at
 * the end) or NULL on failure. */
static char *list_page(mcp_kube_watch_t *w, const char *cont)
{
    char path[1024];
    mcp_kube_resp_t r;
    mcp_kube_req_t req = {.method = "GET",
                          .cap = MCP_KUBE_LIST_MAX,
                          .raw = true,
                          .path = mcp_kube_watch_path(w, path, sizeof(path), false, cont, 0)};
    mcp_json_span_t items, it;
    json_t *meta = NULL, *api = NULL;
    size_t pos = 0;
    char *out = NULL;
    int rc = mcp_kube_do(w->client, &req, &r), more;

    if (rc == 0 && r.status == 200 && r.raw)
        meta = list_member(&r, "metadata"); /* not inside json_is_object: a macro */
    if (!json_is_object(meta) || mcp_json_member(r.raw, r.raw_len, "items", &items) != 0) {
        list_failed(w, &r, rc, r.status != 200 ? "error status" : "not a list");
        goto out;
    }
    api = list_member(&r, "apiVersion");
    while ((more = mcp_json_next_element(items.p, items.n, &pos, &it)) == 1)
        list_item(w, &it, api);
    if (more < 0) {
        list_failed(w, &r, 0, "items not readable");
        goto out;
    }
    set_rv(w, meta);
    out = strdup(mcp_json_str(meta, "continue") ? mcp_json_str(meta, "continue") : "");
out:
    json_decref(api);
    json_decref(meta);
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
    w->page = w->page_default;
    while (cont && !mcp_kube_stopped(w->client)) {
        char *next = list_page(w, cont);
        if (!next && w->page > 1) { /* the same page again, smaller */
            w->page /= 2;
            continue;
        }
        free(cont);
        cont = next;
        if (cont && !*cont)
            break;
    }
    if (w->list_lock)
        pthread_mutex_unlock(w->list_lock);
    if (!cont || *cont || !w->rv[0]) { /* failed, stopped half-way, or no version */
        free(cont);
        return MCP_EIO;
    }
    free(cont);
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
    set_rv(w, json_object_get(obj, "metadata"));
    if (strcmp(type, "BOOKMARK") == 0)
        return 0;
    if (json_is_string(json_object_get(ev, "error")))
        bad_object(w, type, obj, json_string_value(json_object_get(ev, "error")));
    else
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
