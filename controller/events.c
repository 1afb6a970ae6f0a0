/* Kubernetes Events (events.k8s.io/v1) about an MCPServer: what the
 * controller created or updated, and why it failed. Notes are cut at the
 * API's 1 KiB limit on a character boundary (a cut inside a UTF-8 sequence
 * would make the Event unencodable) and never carry object contents or
 * secret values (the callers pass names and apiserver messages only). Best
 * effort: a failed Event is logged at warning with its cause and otherwise
 * ignored. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"
#include "mcp/log.h"
#include "mcp/utf8.h"

#define NOTE_MAX 1024

/* Recently posted (uid, reason) pairs: a fixed ring, the oldest replaced. */
#define RECENT_MAX 1024

static struct {
    pthread_mutex_t lock;
    struct {
        uint64_t key;
        struct timespec at;
    } e[RECENT_MAX];
    size_t next;
} recent = {.lock = PTHREAD_MUTEX_INITIALIZER};

/* Fold s and a separator (so "ab"+"c" and "a"+"bc" differ) into *h. */
static void fold(uint64_t *h, const char *s)
{
    ctl_fnv1a(h, s ? s : "", s ? strlen(s) : 0);
    ctl_fnv1a(h, "\xff", 1);
}

bool ctl_event_recent(const char *uid, const char *reason, const char *note, double window_s)
{
    uint64_t key = 14695981039346656037ULL;
    struct timespec now;
    bool seen = false;

    fold(&key, uid), fold(&key, reason), fold(&key, note);
    clock_gettime(CLOCK_MONOTONIC, &now);
    pthread_mutex_lock(&recent.lock);
    for (size_t i = 0; i < RECENT_MAX && !seen; i++) {
        double age = (double)(now.tv_sec - recent.e[i].at.tv_sec) +
                     (double)(now.tv_nsec - recent.e[i].at.tv_nsec) / 1e9;

        if (recent.e[i].key == key && age < window_s) {
            seen = true;
        } else if (recent.e[i].key == key) { /* stale: refreshed below */
            recent.e[i].key = 0;
        }
    }
    if (!seen) {
        recent.e[recent.next].key = key;
        recent.e[recent.next].at = now;
        recent.next = (recent.next + 1) % RECENT_MAX;
    }
    pthread_mutex_unlock(&recent.lock);
    return seen;
}

static void not_recorded(const char *reason, const char *name, const char *why)
{
    mcp_log(MCP_LOG_WARN, "event not recorded", "reason", reason, "name", name, "error", why, NULL);
}

int ctl_event_post(mcp_kube_client_t *c, const char *instance, const json_t *regarding,
                   const char *type, const char *reason, const char *action, const char *note,
                   long timeout_ms)
{
    char path[512], now[40], cut[NOTE_MAX + 1], gen[96];
    struct timespec ts;
    const char *ns = mcp_json_str(regarding, "metadata.namespace");
    const char *name = mcp_json_str(regarding, "metadata.name");
    json_t *ev;
    char *body;
    mcp_kube_resp_t r;
    int rc;

    if (!ns || !name)
        return MCP_EINVAL;
    note = note ? note : "";
    snprintf(cut, sizeof(cut), "%.*s", (int)mcp_utf8_prefix(note, strlen(note), NOTE_MAX), note);
    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(gen, sizeof(gen), "%.60s.%llx", name,
             (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec);
    ev = json_pack("{s:s, s:s, s:{s:s, s:s}, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
                   " s:{s:s, s:s, s:s, s:s, s:s?}}",
                   "apiVersion", "events.k8s.io/v1", "kind", "Event", "metadata", "name", gen,
                   "namespace", ns, "eventTime", ctl_time_rfc3339(now, sizeof(now), 1),
                   "reportingController", "toolhive.stacklok.dev/mcp-controller",
                   "reportingInstance", instance ? instance : "mcp-controller", "type", type,
                   "reason", reason, "action", action, "note", cut, "regarding", "apiVersion",
                   MCP_API_VERSION, "kind", MCP_KIND, "name", name, "namespace", ns, "uid",
                   mcp_json_str(regarding, "metadata.uid"));
    body = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    if (!body) {
        not_recorded(reason, name, ev ? "out of memory" : "not encodable (invalid UTF-8?)");
        return MCP_ENOMEM;
    }
    snprintf(path, sizeof(path), "/apis/events.k8s.io/v1/namespaces/%s/events", ns);
    rc = mcp_kube_do(c,
                     &(mcp_kube_req_t){.method = "POST",
                                       .path = path,
                                       .content_type = "application/json",
                                       .body = body,
                                       .timeout_ms = timeout_ms},
                     &r);
    if (rc != 0) {
        not_recorded(reason, name, mcp_strerror(rc));
    } else if (r.status < 200 || r.status >= 300) {
        not_recorded(reason, name, mcp_kube_status_message(r.body, "error status"));
        rc = MCP_EHTTP;
    }
    mcp_kube_resp_dispose(&r);
    free(body);
    return rc;
}
