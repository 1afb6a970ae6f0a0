/* The MCP server pod, watched (podwatch.c): what the attach backend needs to
 * know when to replace its stream, and what the HTTP transports need to
 * reach the pod by its IP instead of the headless Service's DNS name. */
#ifndef PX_PODWATCH_H
#define PX_PODWATCH_H

#include <pthread.h>
#include <stdint.h>

#include "mcp/kube.h"
#include "../internal.h"

#define PX_POD_MAX_IPS 2 /* status.podIPs: one per family */

/* One pod as the watch last saw it; all zero while it does not exist. */
typedef struct px_pod {
    char uid[64], container_id[160], ip[64];
    char ips[PX_POD_MAX_IPS][PX_IP_TEXT]; /* status.podIPs (else podIP), while the pod exists */
    size_t n_ips;
    int running;         /* the watched container is running */
    int ready;           /* condition Ready is True, podIP is set and the pod is not being deleted:
                            what puts it into its Services' endpoints (and the headless DNS answer) */
    uint64_t generation; /* bumped when uid, container_id or running change */
} px_pod_t;

typedef struct px_podwatch {
    const char *ns, *name, *container; /* borrowed for the watch's life */
    mcp_kube_t *kube;                  /* borrowed */
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    px_pod_t pod; /* under lock */
    uint32_t seen_epoch;
    int synced; /* under lock: a list has completed, so pod is what the apiserver has */
} px_podwatch_t;

/* The Kubernetes client for the proxy's own identity: libcurl opened
 * (curl_dl.c), the configuration loaded like kubectl ($KUBECONFIG, else the
 * in-cluster ServiceAccount). kc, when not NULL, receives the configuration
 * (the caller disposes it). The client's calls end once *stop is set. NULL
 * with a message in err. */
mcp_kube_t *px_kube_open(volatile int *stop, mcp_kube_config_t *kc, char *err, size_t errlen);

/* Start watching pod `name` in `ns` (list+watch by field selector
 * metadata.name, on a thread of its own, until kube's stop flag is set);
 * container names the container whose state px_pod_t.running and
 * container_id follow. 0, or MCP_EIO when no thread can be started. */
int px_podwatch_start(px_podwatch_t *pw, mcp_kube_t *kube, const char *ns, const char *name,
                      const char *container);
/* A copy of the pod as last seen; returns whether a list has completed
 * (before that *out is all zero and means "not known yet", not "gone"). */
int px_podwatch_get(px_podwatch_t *pw, px_pod_t *out);
/* The pod's IPs as last seen (status.podIPs, else status.podIP), up to max
 * of them into ips[], while it exists (Ready or not: the server may need
 * the egress proxy while it starts); the count, 0 while none is known. */
size_t px_podwatch_ips(px_podwatch_t *pw, char (*ips)[PX_IP_TEXT], size_t max);
/* Waits for the thread (set kube's stop flag first) and frees the lock. */
void px_podwatch_stop(px_podwatch_t *pw);

/* Reads one pod object (borrowed) into *out, keeping *prev's generation
 * unless uid, container_id or running changed (then generation + 1).
 * obj NULL means the pod is gone. Pure; exposed for tests. */
void px_pod_from_json(const json_t *obj, const char *container, const px_pod_t *prev,
                      px_pod_t *out);

#endif
