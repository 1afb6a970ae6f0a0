/* Leader election on a coordination.k8s.io/v1 Lease, after client-go's
 * leaderelection: every retry period, read the Lease; take it when it is
 * free (no holder) or its holder has not renewed for a whole lease duration
 * as observed by our own clock (no trust in other nodes' clocks); renew it
 * while we hold it, with optimistic concurrency (resourceVersion).
 *
 * Leadership is a deadline, not a flag: each successful renewal makes us
 * leader until renew-deadline seconds later (ctl_leader_deadline), whatever
 * the leader thread is doing, so the workers stop at that instant even when
 * a request hangs; every Lease request is bounded by the time left before
 * it. Another replica can take over only a whole lease duration after our
 * last renewal, which is later. On shutdown the caller releases the Lease
 * (holder cleared) once its workers have stopped, so a standby takes over
 * at once and never while we still write. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "mcp/log.h"

struct ctl_leader {
    mcp_kube_client_t *client;
    ctl_leader_opts_t o;
    char path[512];
    void (*on_change)(void *ctx, bool leader);
    void *ctx;
    char observed[256]; /* holder|renewTime|rv last seen */
    double observed_at;
    _Atomic double deadline; /* leader until then (ctl_mono); 0: not leader */
    volatile int leader;     /* what on_change was last told */
};

double ctl_mono(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double ctl_leader_deadline(const ctl_leader_t *l)
{
    return atomic_load(&((ctl_leader_t *)l)->deadline);
}

/* The timeout for one Lease request: what is left before our deadline while
 * we lead (at least 1 ms), else (no deadline to keep) the renew deadline. */
static long request_timeout_ms(const ctl_leader_t *l)
{
    double left = ctl_leader_deadline(l) - ctl_mono();

    if (left <= 0)
        left = l->o.renew_s;
    return left * 1000 < 1 ? 1 : (long)(left * 1000);
}

ctl_leader_t *ctl_leader_new(mcp_kube_client_t *c, const ctl_leader_opts_t *o,
                             void (*on_change)(void *ctx, bool leader), void *ctx)
{
    ctl_leader_t *l = calloc(1, sizeof(*l));

    if (!l)
        return NULL;
    l->client = c;
    l->o = *o;
    l->on_change = on_change;
    l->ctx = ctx;
    snprintf(l->path, sizeof(l->path), "/apis/coordination.k8s.io/v1/namespaces/%s/leases/%s",
             o->ns, o->name);
    return l;
}

void ctl_leader_free(ctl_leader_t *l)
{
    free(l);
}

bool ctl_leader_is_leader(const ctl_leader_t *l)
{
    return ctl_mono() < ctl_leader_deadline(l);
}

static json_t *lease_body(ctl_leader_t *l, const json_t *cur, const char *holder, int duration)
{
    char now[40];
    const char *prev = mcp_json_str(cur, "spec.holderIdentity");
    const char *acq = mcp_json_str(cur, "spec.acquireTime");
    json_int_t trans = json_integer_value(mcp_json_get(cur, "spec.leaseTransitions"));
    bool same = prev && strcmp(prev, holder) == 0;

    ctl_time_rfc3339(now, sizeof(now), 1);
    if (!same && *holder && prev && *prev)
        trans++;
    return json_pack("{s:s, s:s, s:{s:s, s:s, s:s?}, s:{s:s, s:i, s:s, s:s, s:I}}", "apiVersion",
                     "coordination.k8s.io/v1", "kind", "Lease", "metadata", "name", l->o.name,
                     "namespace", l->o.ns, "resourceVersion",
                     mcp_json_str(cur, "metadata.resourceVersion"), "spec", "holderIdentity",
                     holder, "leaseDurationSeconds", duration, "acquireTime",
                     same && acq ? acq : now, "renewTime", now, "leaseTransitions", trans);
}

static bool write_lease(ctl_leader_t *l, const char *method, const char *path, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    mcp_kube_req_t req;
    mcp_kube_resp_t r;
    bool ok;

    json_decref(body);
    if (!text)
        return false;
    req = (mcp_kube_req_t){.method = method,
                           .path = path,
                           .body = text,
                           .content_type = "application/json",
                           .timeout_ms = request_timeout_ms(l),
                           .tag = CTL_TAG_LEASE};
    ok = mcp_kube_do(l->client, &req, &r) == 0 && (r.status == 200 || r.status == 201);
    mcp_kube_resp_dispose(&r);
    free(text);
    return ok;
}

/* Someone else holds a Lease that is still fresh by our observation. */
static bool held_by_other(ctl_leader_t *l, const json_t *cur)
{
    const char *holder = mcp_json_str(cur, "spec.holderIdentity");
    json_int_t dur = json_integer_value(mcp_json_get(cur, "spec.leaseDurationSeconds"));
    char obs[256];

    snprintf(obs, sizeof(obs), "%s|%s|%s", holder ? holder : "",
             mcp_json_str(cur, "spec.renewTime") ?: "",
             mcp_json_str(cur, "metadata.resourceVersion") ?: "");
    if (strcmp(obs, l->observed) != 0) {
        snprintf(l->observed, sizeof(l->observed), "%s", obs);
        l->observed_at = ctl_mono();
    }
    if (!holder || !*holder || strcmp(holder, l->o.identity) == 0)
        return false;
    return ctl_mono() < l->observed_at + (double)(dur > 0 ? dur : l->o.lease_s);
}

bool ctl_leader_try(ctl_leader_t *l)
{
    char coll[512];
    mcp_kube_resp_t r;
    bool ok = false;
    double start = ctl_mono(); /* a renewal counts from before it was sent */

    if (mcp_kube_do(l->client,
                    &(mcp_kube_req_t){.method = "GET",
                                      .path = l->path,
                                      .timeout_ms = request_timeout_ms(l),
                                      .tag = CTL_TAG_LEASE},
                    &r) != 0)
        return false;
    if (r.status == 404) {
        snprintf(coll, sizeof(coll), "/apis/coordination.k8s.io/v1/namespaces/%s/leases", l->o.ns);
        ok = write_lease(l, "POST", coll, lease_body(l, NULL, l->o.identity, l->o.lease_s));
    } else if (r.status == 200 && !held_by_other(l, r.body)) {
        ok = write_lease(l, "PUT", l->path, lease_body(l, r.body, l->o.identity, l->o.lease_s));
    }
    mcp_kube_resp_dispose(&r);
    if (ok)
        atomic_store(&l->deadline, start + l->o.renew_s);
    return ok;
}

static void set_leader(ctl_leader_t *l, bool on)
{
    if ((l->leader != 0) == on)
        return;
    l->leader = on;
    mcp_log(on ? MCP_LOG_INFO : MCP_LOG_WARN, on ? "became leader" : "lost leadership", "lease",
            l->o.name, "identity", l->o.identity, NULL);
    if (l->on_change)
        l->on_change(l->ctx, on);
}

void ctl_leader_release(ctl_leader_t *l)
{
    mcp_kube_resp_t r;
    const char *holder;

    atomic_store(&l->deadline, 0);

    if (mcp_kube_do(l->client,
                    &(mcp_kube_req_t){.method = "GET",
                                      .path = l->path,
                                      .timeout_ms = request_timeout_ms(l),
                                      .tag = CTL_TAG_LEASE},
                    &r) == 0 &&
        r.status == 200 && (holder = mcp_json_str(r.body, "spec.holderIdentity")) &&
        strcmp(holder, l->o.identity) == 0 &&
        write_lease(l, "PUT", l->path, lease_body(l, r.body, "", 1)))
        mcp_log(MCP_LOG_INFO, "released the lease", "lease", l->o.name, NULL);
    mcp_kube_resp_dispose(&r);
    set_leader(l, false);
}

static void sleep_s(ctl_leader_t *l, double s)
{
    while (s > 0 && !mcp_kube_stopped(l->client)) {
        usleep(100000);
        s -= 0.1;
    }
}

void ctl_leader_run(ctl_leader_t *l)
{
    while (!mcp_kube_stopped(l->client)) {
        if (ctl_leader_try(l))
            set_leader(l, true);
        else if (l->leader && !ctl_leader_is_leader(l))
            set_leader(l, false);
        sleep_s(l, l->o.retry_s);
    }
}
