/* The running controller: builds the client from the kubeconfig, starts the
 * thread that keeps the CRD's conversion webhook in place (when configured;
 * every replica runs it, leader or not) and one watch thread per (resource,
 * namespace) - MCPServers first, then the children by the managed-by
 * label - waits until every cache has synced
 * (then /readyz says ready), runs leader election, and while leader runs
 * the worker threads that drain the queue. A periodic resync re-queues every
 * MCPServer (a no-op when nothing drifted). SIGTERM/SIGINT stop everything:
 * streams abort within a second, the Lease is released. */
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>

#include "internal.h"
#include "mcp/health.h"
#include "mcp/log.h"

#define THREAD_STACK  ((size_t)512 << 10)
#define CHILD_LABELS  "app.kubernetes.io%2Fmanaged-by%3D" CTL_MANAGED_BY
#define DEFAULT_LEASE "mcp-controller-leader"

static volatile int g_stop; /* set by the signal handler only */

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

typedef struct mgr {
    const ctl_config_t *cfg;
    ctl_ctrl_t ctrl;
    mcp_kube_t *kube;
    ctl_leader_t *leader;
    mcp_kube_watch_t *watches; /* one per (resource, namespace): any number */
    pthread_t *threads;
    size_t nwatches, max_watches;
    atomic_int synced_count, ready, is_leader;
    pthread_t conversion_thread; /* conversion.c's loop, when cfg->conversion names a target */
    bool has_conversion;
    pthread_mutex_t list_lock;
    char identity[128];
} mgr_t;

/* ---- watch glue ------------------------------------------------------------ */

static void watch_event(void *ctx, const mcp_kube_watch_t *w, const char *type, json_t *obj,
                        uint32_t epoch)
{
    mgr_t *m = ctx;

    if (strcmp(w->spec.kind, MCP_KIND) == 0)
        ctl_on_server_event(&m->ctrl, type, obj, epoch);
    else
        ctl_on_child_event(&m->ctrl, type, obj, epoch);
}

/* An object that cannot be read: an MCPServer is marked Failed; a child is
 * skipped (logged by the watch). */
static void watch_bad(void *ctx, const mcp_kube_watch_t *w, const char *type, json_t *stub,
                      const char *why, uint32_t epoch)
{
    mgr_t *m = ctx;

    if (strcmp(w->spec.kind, MCP_KIND) == 0)
        ctl_on_server_unreadable(&m->ctrl, type, stub, why, epoch);
}

static void watch_restarted(void *ctx, const mcp_kube_watch_t *w)
{
    (void)w;
    ctl_metrics_watch_restart(((mgr_t *)ctx)->ctrl.metrics);
}

static void watch_synced(void *ctx, const mcp_kube_watch_t *w, uint32_t epoch)
{
    mgr_t *m = ctx;
    char prefix[300];
    bool servers = strcmp(w->spec.kind, MCP_KIND) == 0;

    if (servers)
        snprintf(prefix, sizeof(prefix), "%s%s", w->spec.namespace ? w->spec.namespace : "",
                 w->spec.namespace ? "/" : "");
    else
        snprintf(prefix, sizeof(prefix), "%s/%s%s", w->spec.kind,
                 w->spec.namespace ? w->spec.namespace : "", w->spec.namespace ? "/" : "");
    ctl_cache_sweep(m->ctrl.cache, servers, prefix, epoch, NULL, NULL);
    if (!w->synced)
        atomic_fetch_add(&m->synced_count, 1);
    else if (!servers)
        ctl_enqueue_all(&m->ctrl); /* a relist may have dropped children */
}

static void *watch_main(void *arg)
{
    mcp_kube_watch_run(arg);
    return NULL;
}

static int spawn(pthread_t *t, void *(*fn)(void *), void *arg)
{
    pthread_attr_t a;
    int rc;

    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, THREAD_STACK);
    rc = pthread_create(t, &a, fn, arg);
    pthread_attr_destroy(&a);
    return rc;
}

static int add_watch(mgr_t *m, const char *kind, const char *base, const char *res, const char *ns,
                     const char *selector)
{
    mcp_kube_watch_spec_t spec = {kind, base, res, ns, selector, NULL};
    mcp_kube_watch_ops_t ops = {.event = watch_event,
                                .synced = watch_synced,
                                .restarted = watch_restarted,
                                .bad = watch_bad,
                                .ctx = m};
    mcp_kube_watch_t *w;
    int rc;

    if (m->nwatches == m->max_watches) {
        mcp_log(MCP_LOG_ERROR, "more watches than planned", "resource", res, NULL);
        return MCP_ETOOBIG;
    }
    w = &m->watches[m->nwatches];
    mcp_kube_watch_init(w, &spec, mcp_kube_client(m->kube), &ops);
    w->list_lock = &m->list_lock;
    if ((rc = spawn(&m->threads[m->nwatches], watch_main, w)) != 0) {
        mcp_log(MCP_LOG_ERROR, "cannot start a watch thread", "resource", res, "namespace",
                ns ? ns : "", "error", strerror(rc), NULL);
        return MCP_ENOMEM;
    }
    m->nwatches++;
    return 0;
}

/* Room for every watch: MCPServers and each child kind, per namespace. */
static int plan_watches(mgr_t *m)
{
    size_t nns = 1;

    for (size_t i = 0; m->cfg->namespaces && m->cfg->namespaces[i]; i++)
        nns = i + 1;
    m->max_watches = nns * (1 + ctl_n_kinds);
    m->watches = calloc(m->max_watches, sizeof(*m->watches));
    m->threads = calloc(m->max_watches, sizeof(*m->threads));
    if (!m->watches || !m->threads) {
        mcp_log(MCP_LOG_ERROR, "out of memory for the watches", NULL);
        return MCP_ENOMEM;
    }
    return 0;
}

/* Start watches of one phase and wait for them to sync (or stop). */
static int start_watches(mgr_t *m, bool servers)
{
    char *const all[] = {NULL, NULL};
    char *const *ns = m->cfg->namespaces ? m->cfg->namespaces : all;
    size_t want = m->nwatches;

    for (size_t i = 0; i == 0 || ns[i]; i++) {
        if (servers) {
            /* the watch keeps this pointer for its whole life: static storage */
            static const char base[] = "/apis/" MCP_API_VERSION;
            if (add_watch(m, MCP_KIND, base, MCP_PLURAL, ns[i], NULL) != 0)
                return -1;
            want++;
            continue;
        }
        for (size_t k = 0; k < ctl_n_kinds; k++) {
            if (ctl_kinds[k].unwatched)
                continue;
            if (add_watch(m, ctl_kinds[k].kind, ctl_kinds[k].base, ctl_kinds[k].resource, ns[i],
                          ctl_kinds[k].selector ? ctl_kinds[k].selector : CHILD_LABELS) != 0)
                return -1;
            want++;
        }
        if (!ns[i])
            break;
    }
    while (!g_stop && (size_t)atomic_load(&m->synced_count) < want)
        usleep(20000);
    return g_stop ? -1 : 0;
}

/* ---- conversion webhook ------------------------------------------------------ */

static bool conversion_leading(void *ctx)
{
    return atomic_load(&((mgr_t *)ctx)->is_leader);
}

static void *conversion_main(void *arg)
{
    mgr_t *m = arg;

    ctl_conversion_run(mcp_kube_client(m->kube), &m->cfg->conversion, conversion_leading, m);
    return NULL;
}

/* The Lease holder keeps it (leader_changed sets is_leader). */
static int start_conversion(mgr_t *m)
{
    int e;

    if (!ctl_conversion_on(&m->cfg->conversion))
        return 0;
    if ((e = spawn(&m->conversion_thread, conversion_main, m)) != 0) {
        mcp_log(MCP_LOG_ERROR, "cannot start the conversion webhook thread", "error", strerror(e),
                NULL);
        return -1;
    }
    m->has_conversion = true;
    return 0;
}

/* ---- leader and workers --------------------------------------------------------- */

static void leader_changed(void *ctx, bool leader)
{
    mgr_t *m = ctx;

    atomic_store(&m->is_leader, leader);
    if (leader)
        ctl_enqueue_all(&m->ctrl);
}

static void *leader_main(void *arg)
{
    ctl_leader_run(((mgr_t *)arg)->leader);
    return NULL;
}

/* Leading now: with election, until the Lease's renew deadline by the
 * clock (even while the leader thread hangs in a request). */
static bool leading(mgr_t *m)
{
    return m->leader ? ctl_leader_is_leader(m->leader) : atomic_load(&m->is_leader);
}

static void *worker_main(void *arg)
{
    mgr_t *m = arg;

    while (!g_stop) {
        if (!leading(m)) {
            usleep(50000);
            continue;
        }
        if (!ctl_process_next(&m->ctrl))
            break;
    }
    return NULL;
}

/* ---- health ------------------------------------------------------------------ */

static int health_ready(void *ctx)
{
    return atomic_load(&((mgr_t *)ctx)->ready);
}

static void health_metrics(void *ctx, mcp_buf_t *out)
{
    mgr_t *m = ctx;

    ctl_metrics_render(m->ctrl.metrics, ctl_queue_len(m->ctrl.queue), out);
    mcp_buf_addf(out,
                 "# HELP mcp_controller_leader 1 when this replica holds the Lease.\n"
                 "# TYPE mcp_controller_leader gauge\nmcp_controller_leader %d\n"
                 "# HELP mcp_controller_cached_mcpservers MCPServers in the cache.\n"
                 "# TYPE mcp_controller_cached_mcpservers gauge\n"
                 "mcp_controller_cached_mcpservers %zu\n",
                 atomic_load(&m->is_leader), ctl_cache_servers(m->ctrl.cache));
}

/* ---- set-up ------------------------------------------------------------------- */

static int load_config(const ctl_config_t *cfg, mcp_kube_config_t *kc)
{
    char err[512] = "";
    int rc = mcp_kube_config_load(kc, cfg->kubeconfig, err, sizeof(err));

    if (rc)
        mcp_log(MCP_LOG_ERROR, "cannot load Kubernetes client configuration", "error", err, NULL);
    return rc;
}

static void make_identity(mgr_t *m)
{
    char host[64] = "mcp-controller";
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();

    gethostname(host, sizeof(host) - 1);
    snprintf(m->identity, sizeof(m->identity), "%s_%08x", host, (unsigned)rand_r(&seed));
}

static int setup(mgr_t *m, mcp_kube_config_t *kc)
{
    char err[256] = "";
    ctl_queue_opts_t qo = {.base_ms = 5, .cap_ms = 300000, .qps = 10, .burst = 100};

    m->ctrl.metrics = ctl_metrics_new();
    m->ctrl.cache = ctl_cache_new();
    m->ctrl.queue = ctl_queue_new(&qo);
    m->kube = mcp_kube_new(kc, &g_stop, err, sizeof(err));
    if (!m->ctrl.metrics || !m->ctrl.cache || !m->ctrl.queue || !m->kube) {
        mcp_log(MCP_LOG_ERROR, "set-up failed", "error", err[0] ? err : "out of memory", NULL);
        return -1;
    }
    make_identity(m);
    m->ctrl.client = mcp_kube_client(m->kube);
    ctl_metrics_observe(m->ctrl.client, m->ctrl.metrics);
    m->ctrl.proxy_image = m->cfg->proxy_image;
    m->ctrl.proxy_cluster_role = m->cfg->proxy_cluster_role;
    m->ctrl.identity = m->identity;
    m->ctrl.events = true;
    m->ctrl.proxy_probe_ms = 10000;
    m->ctrl.conflict_retry_ms = 30000;
    m->ctrl.permanent_retry_ms = 60000;
    return 0;
}

static void teardown(mgr_t *m)
{
    ctl_leader_free(m->leader);
    mcp_kube_free(m->kube);
    ctl_queue_free(m->ctrl.queue);
    ctl_cache_free(m->ctrl.cache);
    ctl_metrics_free(m->ctrl.metrics);
}

static int start_leader(mgr_t *m, const mcp_kube_config_t *kc, pthread_t *t)
{
    const ctl_config_t *cfg = m->cfg;
    ctl_leader_opts_t lo = {.ns = cfg->lease_ns ? cfg->lease_ns
                                                : (kc->namespace ? kc->namespace : "default"),
                            .name = cfg->lease_name ? cfg->lease_name : DEFAULT_LEASE,
                            .identity = m->identity,
                            .lease_s = cfg->lease_s,
                            .renew_s = cfg->renew_s,
                            .retry_s = cfg->retry_s};

    if (!cfg->leader_elect) {
        leader_changed(m, true);
        return 0;
    }
    m->leader = ctl_leader_new(m->ctrl.client, &lo, leader_changed, m);
    m->ctrl.leader = m->leader;
    if (!m->leader || spawn(t, leader_main, m) != 0) {
        mcp_log(MCP_LOG_ERROR, "cannot start leader election", NULL);
        return -1;
    }
    mcp_log(MCP_LOG_INFO, "leader election", "lease", lo.name, "namespace", lo.ns, "identity",
            m->identity, NULL);
    return 0;
}

static void wait_for_stop(mgr_t *m)
{
    double resync = m->cfg->resync_s > 0 ? m->cfg->resync_s : 0, left = resync;
    bool led = false;

    while (!g_stop) {
        usleep(200000);
        if (led && !leading(m)) /* the step-down timer: said even if the leader thread hangs */
            mcp_log(MCP_LOG_WARN, "renew deadline passed: stopped reconciling", NULL);
        led = leading(m);
        if (resync <= 0 || (left -= 0.2) > 0)
            continue;
        left = resync;
        if (atomic_load(&m->is_leader))
            ctl_enqueue_all(&m->ctrl);
    }
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int ctl_run(const ctl_config_t *cfg)
{
    mgr_t *m = calloc(1, sizeof(*m));
    mcp_kube_config_t kc = {0};
    mcp_health_ops_t hops = {health_ready, health_metrics, m};
    mcp_health_t *health = NULL;
    pthread_t leader_thread, workers[64];
    int nworkers = 0, has_leader = 0, rc = 1;
    char err[256] = "";

    if (!m)
        return 1;
    m->cfg = cfg;
    pthread_mutex_init(&m->list_lock, NULL);
    mallopt(M_ARENA_MAX, 2); /* many threads, little memory: few malloc arenas */
    install_signals();
    curl_global_init(CURL_GLOBAL_DEFAULT);
    if (load_config(cfg, &kc) != 0 || setup(m, &kc) != 0 || plan_watches(m) != 0)
        goto out;
    health = mcp_health_start(cfg->health_addr, cfg->health_port, &hops, err, sizeof(err));
    if (!health) {
        mcp_log(MCP_LOG_ERROR, "health endpoint failed", "error", err, NULL);
        goto out;
    }
    mcp_log(MCP_LOG_INFO, "starting", "apiserver", kc.server, "identity", m->identity, NULL);
    if (start_conversion(m) != 0)
        goto stop;
    if (start_watches(m, true) != 0 || start_watches(m, false) != 0) {
        rc = g_stop ? 0 : 1; /* a signal during the initial lists is a normal stop */
        goto stop;
    }
    atomic_store(&m->ready, 1);
    malloc_trim(0); /* give back what the initial lists used */
    mcp_log(MCP_LOG_INFO, "caches synced", NULL);
    if (start_leader(m, &kc, &leader_thread) != 0)
        goto stop;
    has_leader = m->leader != NULL;
    for (; nworkers < cfg->workers && nworkers < 64; nworkers++) {
        int e = spawn(&workers[nworkers], worker_main, m);
        if (e != 0) {
            mcp_log(MCP_LOG_ERROR, "cannot start a worker thread", "error", strerror(e), NULL);
            goto stop;
        }
    }
    wait_for_stop(m);
    rc = 0;
stop:
    g_stop = 1;
    mcp_log(MCP_LOG_INFO, "shutting down", "exit", rc ? "1" : "0", NULL);
    ctl_queue_shutdown(m->ctrl.queue);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    if (has_leader) { /* only now: no worker writes any more */
        pthread_join(leader_thread, NULL);
        ctl_leader_release(m->leader);
    }
    for (size_t i = 0; i < m->nwatches; i++)
        pthread_join(m->threads[i], NULL);
    if (m->has_conversion)
        pthread_join(m->conversion_thread, NULL);
out:
    mcp_health_stop(health);
    teardown(m);
    mcp_kube_config_dispose(&kc);
    curl_global_cleanup();
    pthread_mutex_destroy(&m->list_lock);
    free(m->watches);
    free(m->threads);
    free(m);
    return rc;
}
