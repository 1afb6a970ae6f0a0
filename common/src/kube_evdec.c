/* Incremental decoder for a Kubernetes watch stream: newline-delimited JSON
 * event objects ({"type":..,"object":..}) that arrive in arbitrary pieces.
 * Bytes are kept in a capped buffer until a newline completes an event, so
 * one event can never grow beyond its cap however the server misbehaves. */
#include <string.h>

#include "mcp/json.h"
#include "mcp/kube.h"

void mcp_kube_evdec_init(mcp_kube_evdec_t *d, size_t max_event)
{
    mcp_buf_init(&d->buf, max_event);
}

void mcp_kube_evdec_dispose(mcp_kube_evdec_t *d)
{
    mcp_buf_dispose(&d->buf);
}

static int emit(const char *line, size_t n, mcp_kube_event_fn fn, void *ctx)
{
    json_error_t err;
    json_t *ev;
    int rc;

    while (n && (line[n - 1] == '\r' || line[n - 1] == ' '))
        n--;
    if (n == 0)
        return 0;
    ev = json_loadb(line, n, 0, &err);
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
            rc = emit(p, take, fn, ctx);
        } else {
            if ((rc = mcp_buf_add(&d->buf, p, take)) != 0)
                return rc;
            rc = emit(d->buf.data, d->buf.len, fn, ctx);
            mcp_buf_reset(&d->buf);
        }
        if (rc != 0)
            return rc;
        p += take + 1;
        n -= take + 1;
    }
    return 0;
}
