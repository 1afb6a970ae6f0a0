/* Incremental decoder for a Kubernetes watch stream: newline-delimited JSON
 * event objects ({"type":..,"object":..}) that arrive in arbitrary pieces.
 * Bytes are kept in a capped buffer until a newline completes an event, so
 * one event can never grow beyond its cap however the server misbehaves;
 * each event is measured before it is loaded, and one that cannot be loaded
 * is passed on as a stub marked with "error". */
#include <string.h>

#include "mcp/json.h"
#include "mcp/kube.h"

void mcp_kube_evdec_init(mcp_kube_evdec_t *d, size_t max_event)
{
    mcp_buf_init(&d->buf, max_event);
    d->limits = mcp_kube_limits;
}

void mcp_kube_evdec_dispose(mcp_kube_evdec_t *d)
{
    mcp_buf_dispose(&d->buf);
}

/* {"type", "object": stub, "error": why} for an event that did not load. */
static json_t *stub_event(const char *line, size_t n, const char *why)
{
    mcp_json_span_t type, obj;
    char ignored[64];
    json_t *t, *o;

    if (mcp_json_member(line, n, "type", &type) != 0 ||
        mcp_json_member(line, n, "object", &obj) != 0)
        return NULL;
    t = mcp_json_load_bounded(type.p, type.n, &mcp_kube_limits, ignored, sizeof(ignored));
    o = json_is_string(t) ? mcp_kube_object_stub(obj.p, obj.n) : NULL;
    if (!o) {
        json_decref(t);
        return NULL;
    }
    return json_pack("{s:o, s:o, s:s}", "type", t, "object", o, "error", why);
}

static int emit(const mcp_kube_evdec_t *d, const char *line, size_t n, mcp_kube_event_fn fn,
                void *ctx)
{
    char why[128];
    json_t *ev;
    int rc;

    while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
        n--;
    if (n == 0)
        return 0;
    ev = mcp_json_load_bounded(line, n, &d->limits, why, sizeof(why));
    if (!ev)
        ev = stub_event(line, n, why);
    if (!json_is_object(ev)) {
        json_decref(ev);
        return MCP_EINVAL;
    }
    rc = fn(ctx, ev);
    json_decref(ev);
    return rc;
}

/* Decode complete lines straight from p when nothing is buffered, so the
 * common case copies nothing. */
int mcp_kube_evdec_feed(mcp_kube_evdec_t *d, const char *p, size_t n, mcp_kube_event_fn fn,
                        void *ctx)
{
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t take = nl ? (size_t)(nl - p) : n;
        int rc;

        if (!nl)
            return mcp_buf_add(&d->buf, p, take);
        if (d->buf.len == 0) {
            if (take > d->buf.cap)
                return MCP_ETOOBIG;
            rc = emit(d, p, take, fn, ctx);
        } else {
            if ((rc = mcp_buf_add(&d->buf, p, take)) != 0)
                return rc;
            rc = emit(d, d->buf.data, d->buf.len, fn, ctx);
            mcp_buf_reset(&d->buf);
        }
        if (rc != 0)
            return rc;
        p += take + 1;
        n -= take + 1;
    }
    return 0;
}
