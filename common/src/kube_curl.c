/* The Kubernetes REST client over libcurl (see mcp/kube.h). Per thread (kept in
 * thread-local storage, so connections are reused without locking): one multi handle whose
 * easy handles carry every ordinary request, alone or several at once multiplexed on one
 * HTTP/2 connection (the apiserver speaks it over TLS), and one easy handle for watch
 * streams, which own their connections; TLS
 * material from the kubeconfig as files or in-memory blobs; the bearer token
 * re-read from its file every TOKEN_REFRESH_S (projected service-account
 * tokens rotate). Every response body is read into a capped buffer; watch
 * streams go through the incremental event decoder, one event at a time. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <openssl/crypto.h>

#include "mcp/kube.h"
#include "mcp/log.h"

#define TOKEN_REFRESH_S    60
#define REQUEST_TIMEOUT_MS 30000L
#define CONNECT_TIMEOUT_MS 10000L

struct mcp_kube {
    mcp_kube_client_t super;
    mcp_kube_config_t cfg; /* own copy */
    pthread_mutex_t lock;
    char *auth_header; /* "Authorization: Bearer ..." (under lock) */
    time_t token_read;
    pthread_key_t handle_key;
};

static char *copy(const char *s)
{
    return s ? strdup(s) : NULL;
}

/* What one thread keeps: see the file comment. */
typedef struct tstate {
    CURLM *multi;
    CURL *easy[MCP_KUBE_BATCH_MAX];
    CURL *stream;
} tstate_t;

static void free_tstate(void *p)
{
    tstate_t *t = p;

    if (!t)
        return;
    for (size_t i = 0; i < MCP_KUBE_BATCH_MAX; i++) {
        if (t->easy[i])
            curl_easy_cleanup(t->easy[i]);
    }
    if (t->multi)
        curl_multi_cleanup(t->multi);
    if (t->stream)
        curl_easy_cleanup(t->stream);
    free(t);
}

/* ---- token -------------------------------------------------------------- */

static void set_auth(mcp_kube_t *k, const char *token)
{
    char *h = NULL;

    if (token && *token && asprintf(&h, "Authorization: Bearer %s", token) < 0)
        h = NULL;
    if (k->auth_header) {
        OPENSSL_cleanse(k->auth_header, strlen(k->auth_header));
        free(k->auth_header);
    }
    k->auth_header = h;
}

/* A copy of the current Authorization header (NULL when none). */
static char *auth_header(mcp_kube_t *k)
{
    time_t now = time(NULL);
    char *h;

    pthread_mutex_lock(&k->lock);
    if (k->cfg.token_file && now - k->token_read >= TOKEN_REFRESH_S) {
        char *t = mcp_kube_read_token(k->cfg.token_file);
        if (t) {
            set_auth(k, t);
            OPENSSL_cleanse(t, strlen(t));
            free(t);
        }
        k->token_read = now;
    }
    h = copy(k->auth_header);
    pthread_mutex_unlock(&k->lock);
    return h;
}

/* ---- handles ------------------------------------------------------------- */

static tstate_t *thread_state(mcp_kube_t *k)
{
    tstate_t *t = pthread_getspecific(k->handle_key);

    if (t)
        return t;
    if (!(t = calloc(1, sizeof(*t))) || !(t->multi = curl_multi_init())) {
        free(t);
        return NULL;
    }
    curl_multi_setopt(t->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    pthread_setspecific(k->handle_key, t);
    return t;
}

/* The thread's i-th request handle, or its stream handle (i < 0), reset. */
static CURL *thread_handle(mcp_kube_t *k, int i)
{
    tstate_t *t = thread_state(k);
    CURL **slot;

    if (!t)
        return NULL;
    slot = i < 0 ? &t->stream : &t->easy[i];
    if (*slot)
        curl_easy_reset(*slot);
    else
        *slot = curl_easy_init();
    return *slot;
}

static void set_blob(CURL *h, CURLoption opt, const char *data)
{
    struct curl_blob b = {.data = (void *)data, .len = strlen(data), .flags = CURL_BLOB_COPY};
    curl_easy_setopt(h, opt, &b);
}

static void set_tls(mcp_kube_t *k, CURL *h)
{
    const mcp_kube_config_t *c = &k->cfg;

    if (c->ca_data)
        set_blob(h, CURLOPT_CAINFO_BLOB, c->ca_data);
    else if (c->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    if (c->cert_data)
        set_blob(h, CURLOPT_SSLCERT_BLOB, c->cert_data);
    else if (c->cert_file)
        curl_easy_setopt(h, CURLOPT_SSLCERT, c->cert_file);
    if (c->key_data)
        set_blob(h, CURLOPT_SSLKEY_BLOB, c->key_data);
    else if (c->key_file)
        curl_easy_setopt(h, CURLOPT_SSLKEY, c->key_file);
    if (c->insecure) {
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
    }
}

static int stop_cb(void *p, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    const mcp_kube_t *k = p;

    (void)dt, (void)dn, (void)ut, (void)un;
    return k->super.stop && *k->super.stop ? 1 : 0;
}

/* Common options; returns the header list to free after the transfer. */
static struct curl_slist *prepare(mcp_kube_t *k, CURL *h, const char *path, const char *ctype)
{
    struct curl_slist *hdrs = NULL;
    char *url = NULL, *auth = auth_header(k);
    char ct[128];

    if (asprintf(&url, "%s%s", k->cfg.server, path) < 0)
        url = NULL;
    curl_easy_setopt(h, CURLOPT_URL, url ? url : "");
    free(url); /* libcurl copies string options */
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_USERAGENT, program_invocation_short_name);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    set_tls(k, h);
    hdrs = curl_slist_append(hdrs, "Accept: application/json");
    if (ctype) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        hdrs = curl_slist_append(hdrs, ct);
    }
    if (auth) {
        hdrs = curl_slist_append(hdrs, auth);
        OPENSSL_cleanse(auth, strlen(auth));
        free(auth);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    return hdrs;
}

static void set_method(CURL *h, const char *method, const char *body)
{
    if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
    }
}

/* ---- plain requests -------------------------------------------------------- */

static size_t buf_write(char *p, size_t sz, size_t n, void *ud)
{
    return mcp_buf_add(ud, p, sz * n) == 0 ? sz * n : 0;
}

/* The body as JSON within mcp_kube_limits; a body that is not is logged
 * and left out (the caller sees the status without a body). */
static json_t *load_body(const mcp_buf_t *body, const char *path)
{
    char why[128];
    json_t *j;

    if (!body->len)
        return NULL;
    j = mcp_json_load_bounded(body->data, body->len, &mcp_kube_limits, why, sizeof(why));
    if (!j)
        mcp_log(MCP_LOG_WARN, "apiserver response not loaded", "path", path, "error", why, NULL);
    return j;
}

/* One request of a batch: its handle, headers and body buffer. */
typedef struct xfer {
    CURL *h;
    struct curl_slist *hdrs;
    mcp_buf_t body;
    CURLcode cc;
    bool added;
} xfer_t;

static int xfer_start(mcp_kube_t *k, CURLM *multi, xfer_t *x, int i, const mcp_kube_req_t *req)
{
    mcp_buf_init(&x->body, req->cap ? req->cap : MCP_KUBE_BODY_MAX);
    x->cc = CURLE_OK;
    if (!(x->h = thread_handle(k, i)))
        return MCP_ENOMEM;
    x->hdrs = prepare(k, x->h, req->path, req->content_type);
    set_method(x->h, req->method, req->body);
    curl_easy_setopt(x->h, CURLOPT_TIMEOUT_MS,
                     req->timeout_ms > 0 ? req->timeout_ms : REQUEST_TIMEOUT_MS);
    curl_easy_setopt(x->h, CURLOPT_WRITEFUNCTION, buf_write);
    curl_easy_setopt(x->h, CURLOPT_WRITEDATA, &x->body);
    /* wait for the first connection and multiplex on it rather than open more */
    curl_easy_setopt(x->h, CURLOPT_PIPEWAIT, 1L);
    curl_easy_setopt(x->h, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(multi, x->h) != CURLM_OK)
        return MCP_ENOMEM;
    x->added = true;
    return 0;
}

/* The transfer's outcome into resp; returns its rc. Releases x. */
static int xfer_finish(CURLM *multi, xfer_t *x, const mcp_kube_req_t *req, mcp_kube_resp_t *resp,
                       double *secs)
{
    int rc = 0;

    *secs = 0;
    if (x->added) {
        curl_easy_getinfo(x->h, CURLINFO_TOTAL_TIME, secs);
        curl_multi_remove_handle(multi, x->h);
    }
    curl_slist_free_all(x->hdrs);
    if (!x->added) {
        rc = MCP_ENOMEM;
    } else if (x->cc != CURLE_OK) {
        rc = x->cc == CURLE_WRITE_ERROR ? MCP_ETOOBIG : MCP_EIO;
        mcp_log(MCP_LOG_DEBUG, "apiserver request failed", "method", req->method, "path", req->path,
                "error", curl_easy_strerror(x->cc), NULL);
    } else {
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &resp->status);
        if (req->raw && x->body.len) {
            resp->raw_len = x->body.len;
            resp->raw = mcp_buf_take(&x->body);
        } else {
            resp->body = load_body(&x->body, req->path);
        }
    }
    mcp_buf_dispose(&x->body);
    return rc;
}

/* Drive the thread's multi handle until every transfer added is done (each
 * has its own timeout). */
static void run_multi(CURLM *multi)
{
    int running = 1;
    CURLMsg *m;
    int left;

    while (running) {
        if (curl_multi_perform(multi, &running) != CURLM_OK)
            break;
        while ((m = curl_multi_info_read(multi, &left))) {
            xfer_t *x = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            if (x)
                x->cc = m->data.result;
        }
        if (running && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
            break;
    }
}

static void kube_request_many(mcp_kube_client_t *c, const mcp_kube_req_t *reqs,
                              mcp_kube_resp_t *resps, int *rcs, double *secs, size_t n)
{
    mcp_kube_t *k = (mcp_kube_t *)c;
    tstate_t *t = thread_state(k);
    xfer_t x[MCP_KUBE_BATCH_MAX];

    memset(x, 0, sizeof(x));
    for (size_t i = 0; i < n; i++)
        memset(&resps[i], 0, sizeof(resps[i]));
    for (size_t i = 0; t && i < n; i++)
        xfer_start(k, t->multi, &x[i], (int)i, &reqs[i]);
    if (t)
        run_multi(t->multi);
    for (size_t i = 0; i < n; i++)
        rcs[i] = xfer_finish(t ? t->multi : NULL, &x[i], &reqs[i], &resps[i], &secs[i]);
}

static int kube_request(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp)
{
    int rc;
    double secs;

    kube_request_many(c, req, resp, &rc, &secs, 1);
    return rc;
}

/* ---- watch streams ----------------------------------------------------------- */

typedef struct stream_ctx {
    CURL *h;
    mcp_kube_evdec_t dec;
    mcp_buf_t err; /* body of a non-2xx response */
    long status;
    mcp_kube_event_fn fn;
    void *ctx;
    int rc; /* decoder / callback result that stopped the stream */
} stream_ctx_t;

static size_t stream_write(char *p, size_t sz, size_t n, void *ud)
{
    stream_ctx_t *s = ud;

    if (s->status == 0)
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &s->status);
    if (s->status < 200 || s->status >= 300)
        return mcp_buf_add(&s->err, p, sz * n) == 0 ? sz * n : 0;
    s->rc = mcp_kube_evdec_feed(&s->dec, p, sz * n, s->fn, s->ctx);
    return s->rc == 0 ? sz * n : 0;
}

static int kube_stream(mcp_kube_client_t *c, const char *path, int timeout_s, mcp_kube_event_fn fn,
                       void *ctx, long *status, json_t **err_body)
{
    mcp_kube_t *k = (mcp_kube_t *)c;
    stream_ctx_t s = {.fn = fn, .ctx = ctx};
    struct curl_slist *hdrs;
    CURLcode cc;
    int rc = 0;

    *status = 0;
    *err_body = NULL;
    if (!(s.h = thread_handle(k, -1)))
        return MCP_ENOMEM;
    mcp_kube_evdec_init(&s.dec, MCP_KUBE_EVENT_MAX);
    mcp_buf_init(&s.err, MCP_KUBE_ERROR_MAX);
    hdrs = prepare(k, s.h, path, NULL);
    /* only streams stop early: ordinary requests (the Lease release) finish */
    curl_easy_setopt(s.h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(s.h, CURLOPT_XFERINFOFUNCTION, stop_cb);
    curl_easy_setopt(s.h, CURLOPT_XFERINFODATA, k);
    curl_easy_setopt(s.h, CURLOPT_TIMEOUT_MS, (long)(timeout_s + 30) * 1000L);
    curl_easy_setopt(s.h, CURLOPT_WRITEFUNCTION, stream_write);
    curl_easy_setopt(s.h, CURLOPT_WRITEDATA, &s);
    /* A watch owns its connection: never a pooled one that the apiserver may
     * have closed while it restarted, and never pooled afterwards. */
    curl_easy_setopt(s.h, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(s.h, CURLOPT_FORBID_REUSE, 1L);
    cc = curl_easy_perform(s.h);
    curl_easy_setopt(s.h, CURLOPT_FRESH_CONNECT, 0L);
    curl_easy_setopt(s.h, CURLOPT_FORBID_REUSE, 0L);
    curl_slist_free_all(hdrs);
    if (cc != CURLE_OK && !(c->stop && *c->stop))
        mcp_log(MCP_LOG_DEBUG, "watch transport error", "path", path, "error",
                curl_easy_strerror(cc), NULL);
    if (s.status == 0)
        curl_easy_getinfo(s.h, CURLINFO_RESPONSE_CODE, &s.status);
    *status = s.status;
    if (s.rc != 0)
        rc = s.rc;
    else if (cc != CURLE_OK && !(c->stop && *c->stop))
        rc = MCP_EIO;
    *err_body = load_body(&s.err, path);
    mcp_buf_dispose(&s.err);
    mcp_kube_evdec_dispose(&s.dec);
    return rc;
}

/* ---- life cycle ---------------------------------------------------------- */

static int copy_config(mcp_kube_config_t *dst, const mcp_kube_config_t *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->server = copy(src->server);
    dst->ca_file = copy(src->ca_file);
    dst->ca_data = copy(src->ca_data);
    dst->cert_file = copy(src->cert_file);
    dst->cert_data = copy(src->cert_data);
    dst->key_file = copy(src->key_file);
    dst->key_data = copy(src->key_data);
    dst->token_file = copy(src->token_file);
    dst->namespace = copy(src->namespace);
    dst->insecure = src->insecure;
    return dst->server ? 0 : MCP_ENOMEM;
}

mcp_kube_t *mcp_kube_new(const mcp_kube_config_t *kc, volatile int *stop, char *err, size_t errlen)
{
    mcp_kube_t *k = calloc(1, sizeof(*k));

    if (!k || copy_config(&k->cfg, kc) != 0)
        goto fail;
    if (strncmp(k->cfg.server, "https://", 8) != 0 && strncmp(k->cfg.server, "http://", 7) != 0) {
        snprintf(err, errlen, "apiserver URL must start with https:// or http://");
        goto fail_cfg;
    }
    pthread_mutex_init(&k->lock, NULL);
    pthread_key_create(&k->handle_key, free_tstate);
    set_auth(k, kc->token);
    k->token_read = kc->token ? time(NULL) : 0; /* a tokenFile alone: read on first use */
    k->super.request = kube_request;
    k->super.request_many = kube_request_many;
    k->super.stream = kube_stream;
    k->super.stop = stop;
    return k;
fail_cfg:
    mcp_kube_config_dispose(&k->cfg);
    free(k);
    return NULL;
fail:
    snprintf(err, errlen, "out of memory");
    if (k)
        mcp_kube_config_dispose(&k->cfg);
    free(k);
    return NULL;
}

mcp_kube_client_t *mcp_kube_client(mcp_kube_t *k)
{
    return &k->super;
}

char *mcp_kube_auth_header(mcp_kube_t *k)
{
    return auth_header(k);
}

const mcp_kube_config_t *mcp_kube_config(const mcp_kube_t *k)
{
    return &k->cfg;
}

void mcp_kube_free(mcp_kube_t *k)
{
    if (!k)
        return;
    free_tstate(pthread_getspecific(k->handle_key));
    pthread_setspecific(k->handle_key, NULL);
    pthread_key_delete(k->handle_key);
    set_auth(k, NULL);
    pthread_mutex_destroy(&k->lock);
    mcp_kube_config_dispose(&k->cfg);
    free(k);
}
