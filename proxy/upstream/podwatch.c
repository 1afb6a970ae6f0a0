/* The MCP server pod, watched: list+watch of one pod by name (common/'s
 * Kubernetes client, kube_watch.c) on a thread of its own, the state kept
 * under a lock for the event loop and the checker thread to copy.
 *
 * Why the HTTP transports need it: the headless Service's DNS answer is
 * cached (CoreDNS `cache 30` and kubeadm's `ttl 30`), so after the MCP
 * server pod is replaced the name keeps naming the old, dead IP for up to
 * 30 s. The watch learns the new IP the moment the pod turns Ready. */
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>

#include "mcp/json.h"
#include "mcp/log.h"
#include "../internal.h"
#include "podwatch.h"

mcp_kube_t *px_kube_open(volatile int *stop, mcp_kube_config_t *kc, char *err, size_t errlen)
{
    mcp_kube_config_t own = {0};
    mcp_kube_config_t *c = kc ? kc : &own;
    mcp_kube_t *k;

    if (px_curl_load(err, errlen) != 0)
        return NULL;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (mcp_kube_config_load(c, NULL, err, errlen) != 0)
        return NULL;
    k = mcp_kube_new(c, stop, err, errlen);
    if (!kc || !k)
        mcp_kube_config_dispose(c);
    return k;
}

/* Condition Ready of a pod's status (Kubernetes API: PodCondition). */
static int condition_ready(const json_t *obj)
{
    const json_t *c = mcp_json_find(mcp_json_get(obj, "status.conditions"), "type", "Ready");
    const char *st = c ? mcp_json_str(c, "status") : NULL;

    return st && strcmp(st, "True") == 0;
}

/* status.podIPs[].ip, else status.podIP. */
static void pod_ips(const json_t *obj, px_pod_t *out)
{
    const json_t *list = mcp_json_get(obj, "status.podIPs"), *v;
    size_t i;

    json_array_foreach(list, i, v)
    {
        const char *ip = mcp_json_str(v, "ip");

        if (ip && *ip && out->n_ips < PX_POD_MAX_IPS)
            snprintf(out->ips[out->n_ips++], sizeof(out->ips[0]), "%s", ip);
    }
    if (out->n_ips == 0 && out->ip[0])
        snprintf(out->ips[out->n_ips++], sizeof(out->ips[0]), "%s", out->ip);
}

void px_pod_from_json(const json_t *obj, const char *container, const px_pod_t *prev, px_pod_t *out)
{
    const json_t *st =
        obj ? mcp_json_find(mcp_json_get(obj, "status.containerStatuses"), "name", container)
            : NULL;
    const char *ip = obj ? mcp_json_str(obj, "status.podIP") : NULL;

    memset(out, 0, sizeof(*out));
    if (obj) {
        snprintf(out->uid, sizeof(out->uid), "%s", mcp_json_str(obj, "metadata.uid") ?: "");
        snprintf(out->ip, sizeof(out->ip), "%s", ip ?: "");
        if (st) {
            snprintf(out->container_id, sizeof(out->container_id), "%s",
                     mcp_json_str(st, "containerID") ?: "");
            out->running = mcp_json_get(st, "state.running") != NULL;
        }
        out->ready =
            out->ip[0] && condition_ready(obj) && !mcp_json_get(obj, "metadata.deletionTimestamp");
        pod_ips(obj, out);
    }
    out->generation = prev->generation;
    if (strcmp(out->uid, prev->uid) != 0 || strcmp(out->container_id, prev->container_id) != 0 ||
        out->running != prev->running)
        out->generation++;
}

static void set_pod(px_podwatch_t *pw, const json_t *obj, uint32_t epoch)
{
    px_pod_t now;

    pthread_mutex_lock(&pw->lock);
    px_pod_from_json(obj, pw->container, &pw->pod, &now);
    if (now.generation != pw->pod.generation || now.ready != pw->pod.ready ||
        strcmp(now.ip, pw->pod.ip) != 0)
        mcp_log(MCP_LOG_INFO, now.uid[0] ? "mcp server pod changed" : "mcp server pod gone", "pod",
                pw->name, "uid", now.uid[0] ? now.uid : "none", "running",
                now.running ? "true" : "false", "ready", now.ready ? "true" : "false", "ip",
                now.ip[0] ? now.ip : "none", NULL);
    pw->pod = now;
    if (obj)
        pw->seen_epoch = epoch;
    pthread_mutex_unlock(&pw->lock);
}

static void on_pod(void *ctx, const mcp_kube_watch_t *w, const char *type, json_t *obj,
                   uint32_t epoch)
{
    (void)w;
    set_pod(ctx, strcmp(type, "DELETED") == 0 ? NULL : obj, epoch);
}

/* A (re)list finished: a pod it did not name is gone. */
static void on_synced(void *ctx, const mcp_kube_watch_t *w, uint32_t epoch)
{
    px_podwatch_t *pw = ctx;
    int gone;

    (void)w;
    pthread_mutex_lock(&pw->lock);
    gone = pw->seen_epoch != epoch;
    pw->synced = 1;
    pthread_mutex_unlock(&pw->lock);
    if (gone)
        set_pod(pw, NULL, epoch);
}

static void *watch_main(void *arg)
{
    px_podwatch_t *pw = arg;
    char selector[320];
    mcp_kube_watch_spec_t spec = {.kind = "Pod",
                                  .base = "/api/v1",
                                  .resource = "pods",
                                  .namespace = pw->ns,
                                  .field_selector = selector};
    mcp_kube_watch_ops_t ops = {.event = on_pod, .synced = on_synced, .ctx = pw};
    mcp_kube_watch_t w;

    snprintf(selector, sizeof(selector), "metadata.name%%3D%s", pw->name);
    mcp_kube_watch_init(&w, &spec, mcp_kube_client(pw->kube), &ops);
    mcp_kube_watch_run(&w);
    return NULL;
}

int px_podwatch_start(px_podwatch_t *pw, mcp_kube_t *kube, const char *ns, const char *name,
                      const char *container)
{
    memset(pw, 0, sizeof(*pw));
    pw->kube = kube;
    pw->ns = ns;
    pw->name = name;
    pw->container = container;
    pthread_mutex_init(&pw->lock, NULL);
    pw->seen_epoch = UINT32_MAX;
    if (pthread_create(&pw->thread, NULL, watch_main, pw) != 0)
        return MCP_EIO;
    pw->started = 1;
    return 0;
}

int px_podwatch_get(px_podwatch_t *pw, px_pod_t *out)
{
    int synced;

    pthread_mutex_lock(&pw->lock);
    *out = pw->pod;
    synced = pw->synced;
    pthread_mutex_unlock(&pw->lock);
    return synced;
}

size_t px_podwatch_ips(px_podwatch_t *pw, char (*ips)[PX_IP_TEXT], size_t max)
{
    size_t n = 0;

    pthread_mutex_lock(&pw->lock);
    for (; n < pw->pod.n_ips && n < max; n++)
        memcpy(ips[n], pw->pod.ips[n], PX_IP_TEXT);
    pthread_mutex_unlock(&pw->lock);
    return n;
}

void px_podwatch_stop(px_podwatch_t *pw)
{
    if (pw->started)
        pthread_join(pw->thread, NULL);
    pw->started = 0;
    pthread_mutex_destroy(&pw->lock);
}
