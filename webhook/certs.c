/* The serving certificate and its hot reload. A watcher thread stats the
 * certificate and key files every interval (mcp_file_id follows symlinks, so
 * a Secret volume's ..data swap is seen); when either changed it builds a
 * whole new SSL_CTX with mcp_tls_server_ctx_new. A good pair replaces the
 * current context and bumps a generation counter; a bad one is logged and
 * the old context stays. Workers poll the generation (one atomic load per
 * accept) and take a reference to the newest context only when it moved;
 * each TLS connection holds its own reference through its SSL object, so
 * open connections are never disturbed and old contexts die with their last
 * connection. All file I/O happens here, never on an event loop. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <h2o.h>
#include <openssl/x509.h>

#include "mcp/log.h"
#include "mcp/tls.h"
#include "internal.h"

/* ALPN lists: h2o keeps a pointer, so they must be static. */
static const h2o_iovec_t alpn_http1[] = {{H2O_STRLIT("http/1.1")}, {NULL, 0}};

struct wh_certs {
    char *cert_file, *key_file;
    int http2;
    wh_metrics_t *metrics; /* borrowed */

    pthread_mutex_t lock; /* guards ctx and the file ids */
    SSL_CTX *ctx;
    mcp_file_id_t cert_id, key_id;
    _Atomic unsigned gen;

    /* the watcher */
    pthread_t thread;
    int watching;
    pthread_cond_t wake;
    int stop;
    double interval;
};

static int64_t not_after_of(SSL_CTX *ctx)
{
    X509 *x = SSL_CTX_get0_certificate(ctx);
    struct tm tm;

    if (!x || ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm) != 1)
        return 0;
    return (int64_t)timegm(&tm);
}

/* A new context for the pair, with the ALPN list set; NULL + err. */
static SSL_CTX *build_ctx(const wh_certs_t *c, char *err, size_t errlen)
{
    SSL_CTX *ctx = mcp_tls_server_ctx_new(c->cert_file, c->key_file, err, errlen);

    if (ctx)
        h2o_ssl_register_alpn_protocols(ctx, c->http2 ? h2o_alpn_protocols : alpn_http1);
    return ctx;
}

wh_certs_t *wh_certs_new(const char *cert_file, const char *key_file, int http2,
                         wh_metrics_t *metrics, char *err, size_t errlen)
{
    wh_certs_t *c = calloc(1, sizeof(*c));

    if (!c || !(c->cert_file = strdup(cert_file)) || !(c->key_file = strdup(key_file))) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    c->http2 = http2;
    c->metrics = metrics;
    mcp_file_id(cert_file, &c->cert_id);
    mcp_file_id(key_file, &c->key_id);
    c->ctx = build_ctx(c, err, errlen);
    if (!c->ctx)
        goto fail;
    pthread_mutex_init(&c->lock, NULL);
    if (metrics)
        wh_metrics_cert_expiry(metrics, not_after_of(c->ctx));
    return c;
fail:
    if (c) {
        free(c->cert_file);
        free(c->key_file);
    }
    free(c);
    return NULL;
}

static void stop_watcher(wh_certs_t *c)
{
    if (!c->watching)
        return;
    pthread_mutex_lock(&c->lock);
    c->stop = 1;
    pthread_cond_signal(&c->wake);
    pthread_mutex_unlock(&c->lock);
    pthread_join(c->thread, NULL);
    pthread_cond_destroy(&c->wake);
    c->watching = 0;
}

void wh_certs_free(wh_certs_t *c)
{
    if (!c)
        return;
    stop_watcher(c);
    SSL_CTX_free(c->ctx);
    pthread_mutex_destroy(&c->lock);
    free(c->cert_file);
    free(c->key_file);
    free(c);
}

/* Swap in `ctx` (taking it) for the pair seen as cert_id/key_id. */
static void install(wh_certs_t *c, SSL_CTX *ctx)
{
    SSL_CTX *old;

    pthread_mutex_lock(&c->lock);
    old = c->ctx;
    c->ctx = ctx;
    atomic_fetch_add(&c->gen, 1);
    pthread_mutex_unlock(&c->lock);
    SSL_CTX_free(old);
}

int wh_certs_check(wh_certs_t *c)
{
    mcp_file_id_t cid, kid;
    SSL_CTX *ctx;
    char err[512];
    int changed;

    mcp_file_id(c->cert_file, &cid);
    mcp_file_id(c->key_file, &kid);
    pthread_mutex_lock(&c->lock);
    changed = !mcp_file_id_equal(&cid, &c->cert_id) || !mcp_file_id_equal(&kid, &c->key_id);
    c->cert_id = cid; /* a rejected pair is retried only when the files move again */
    c->key_id = kid;
    pthread_mutex_unlock(&c->lock);
    if (!changed)
        return 0;
    ctx = build_ctx(c, err, sizeof(err));
    if (c->metrics)
        wh_metrics_cert_reload(c->metrics, ctx != NULL);
    if (!ctx) {
        mcp_log(MCP_LOG_ERROR, "certificate reload rejected, keeping the current one", "error", err,
                NULL);
        return -1;
    }
    if (c->metrics)
        wh_metrics_cert_expiry(c->metrics, not_after_of(ctx));
    install(c, ctx);
    mcp_log(MCP_LOG_INFO, "certificate reloaded", "cert", c->cert_file, NULL);
    return 1;
}

static void *watch_main(void *arg)
{
    wh_certs_t *c = arg;
    struct timespec ts;

    pthread_mutex_lock(&c->lock);
    while (!c->stop) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_sec += (time_t)c->interval;
        ts.tv_nsec += (long)((c->interval - (double)(time_t)c->interval) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (pthread_cond_timedwait(&c->wake, &c->lock, &ts) == ETIMEDOUT && !c->stop) {
            pthread_mutex_unlock(&c->lock);
            wh_certs_check(c);
            pthread_mutex_lock(&c->lock);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

int wh_certs_watch(wh_certs_t *c, double interval)
{
    pthread_condattr_t attr;

    if (c->watching || interval <= 0)
        return interval <= 0 ? -1 : 0;
    c->interval = interval;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&c->wake, &attr);
    pthread_condattr_destroy(&attr);
    if (pthread_create(&c->thread, NULL, watch_main, c) != 0) {
        pthread_cond_destroy(&c->wake);
        return -1;
    }
    c->watching = 1;
    return 0;
}

unsigned wh_certs_generation(wh_certs_t *c)
{
    return atomic_load_explicit(&c->gen, memory_order_acquire);
}

SSL_CTX *wh_certs_current(wh_certs_t *c, unsigned *gen)
{
    SSL_CTX *ctx;

    pthread_mutex_lock(&c->lock);
    ctx = c->ctx;
    SSL_CTX_up_ref(ctx);
    *gen = atomic_load(&c->gen);
    pthread_mutex_unlock(&c->lock);
    return ctx;
}
