/* The authentication's network, off the loop: one thread takes fetch jobs
 * (OIDC discovery, the JWKS, RFC 7662 introspection) from a capped queue,
 * performs each with libcurl (opened by curl_dl.c) and sends it back to the
 * loop as an h2o multithread message, where `done` runs. Each job has a
 * deadline, a body cap and no redirects; unless the job allows it, an
 * address that is not public (mcp_eg_addr_classify: private, loopback,
 * link-local, ...) is refused before connecting, so a token's issuer cannot
 * make the proxy probe the cluster. */
#define CURL_DISABLE_TYPECHECK 1
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <curl/curl.h>

#include "mcp/egress_rules.h"
#include "mcp/log.h"
#include "authn.h"
#include "authfetch.h"

#define FETCH_TIMEOUT_MS 10000
#define FETCH_QUEUE_MAX  64
#define TOKEN_FILE_MAX   (64 << 10)

struct px_fetcher {
    h2o_loop_t *loop;
    h2o_multithread_queue_t *queue;
    h2o_multithread_receiver_t receiver;
    px_fetch_done_cb done;
    void *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    h2o_linklist_t jobs; /* waiting for the thread */
    size_t n_jobs;
    int stop, started;
};

void px_fetch_job_free(px_fetch_job_t *j)
{
    if (!j)
        return;
    free(j->url);
    free(j->post);
    free(j->user);
    free(j->password);
    mcp_buf_dispose(&j->body);
    free(j);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    px_fetch_job_t *j = arg;

    return mcp_buf_add(&j->body, p, size * n) == 0 ? size * n : 0; /* over the cap: abort */
}

static curl_socket_t on_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
    px_fetch_job_t *j = arg;
    mcp_eg_addr_class_t c = mcp_eg_addr_classify(&addr->addr);

    (void)purpose;
    if (c != MCP_EG_PUBLIC && !j->allow_private) {
        snprintf(j->err, sizeof(j->err), "refused: %s (allow it with --oidc-allow-private-ip)",
                 mcp_eg_addr_class_text(c));
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

/* A bearer token from a file (trailing whitespace dropped; kubelet rotates
 * it, so it is read for each job); NULL when unreadable. */
static char *read_token(const char *path)
{
    FILE *fp = fopen(path, "re");
    char *t = fp ? malloc(TOKEN_FILE_MAX + 1) : NULL;
    size_t n = t ? fread(t, 1, TOKEN_FILE_MAX, fp) : 0;

    if (fp)
        fclose(fp);
    if (!t)
        return NULL;
    while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r' || t[n - 1] == ' '))
        n--;
    t[n] = '\0';
    if (n == 0) {
        free(t);
        return NULL;
    }
    return t;
}

static void perform(CURL *h, px_fetch_job_t *j)
{
    struct curl_slist *hdrs = NULL;
    char *token = NULL, *auth = NULL;
    CURLcode rc;

    curl_easy_reset(h);
    curl_easy_setopt(h, CURLOPT_URL, j->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)FETCH_TIMEOUT_MS);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "mcp-proxy/" PX_VERSION);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, on_socket);
    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, j);
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)j->body.cap);
    /* resolved for each fetch (they are rare): an issuer's Service recreated
     * with a new address is reached at once, not after libcurl's 60 s cache */
    curl_easy_setopt(h, CURLOPT_DNS_CACHE_TIMEOUT, 0L);
    if (j->ca_file)
        curl_easy_setopt(h, CURLOPT_CAINFO, j->ca_file);
    /* the kube-apiserver answers /openid/v1/jwks only as application/jwk-set+json
     * (406 to application/json alone) */
    hdrs = curl_slist_append(hdrs, "Accept: application/json, application/jwk-set+json");
    if (j->bearer_file && (token = read_token(j->bearer_file)) &&
        (auth = malloc(strlen(token) + 32))) {
        sprintf(auth, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(hdrs, auth);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (j->post) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, j->post);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(j->post));
    }
    if (j->user) {
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(h, CURLOPT_USERNAME, j->user);
        curl_easy_setopt(h, CURLOPT_PASSWORD, j->password ? j->password : "");
    }
    rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &j->status);
    } else {
        j->status = 0;
        if (!j->err[0])
            snprintf(j->err, sizeof(j->err), "%s", curl_easy_strerror(rc));
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(hdrs);
    if (auth)
        memset(auth, 0, strlen(auth));
    if (token)
        memset(token, 0, strlen(token));
    free(auth);
    free(token);
}

static void *run(void *arg)
{
    px_fetcher_t *f = arg;
    CURL *h = curl_easy_init();

    for (;;) {
        px_fetch_job_t *j;

        pthread_mutex_lock(&f->mu);
        while (!f->stop && h2o_linklist_is_empty(&f->jobs))
            pthread_cond_wait(&f->cv, &f->mu);
        if (f->stop) {
            pthread_mutex_unlock(&f->mu);
            break;
        }
        j = H2O_STRUCT_FROM_MEMBER(px_fetch_job_t, super.link, f->jobs.next);
        h2o_linklist_unlink(&j->super.link);
        f->n_jobs--;
        pthread_mutex_unlock(&f->mu);
        if (h)
            perform(h, j);
        else
            snprintf(j->err, sizeof(j->err), "libcurl: no handle");
        h2o_multithread_send_message(&f->receiver, &j->super);
    }
    if (h)
        curl_easy_cleanup(h);
    return NULL;
}

static void on_messages(h2o_multithread_receiver_t *r, h2o_linklist_t *messages)
{
    px_fetcher_t *f = H2O_STRUCT_FROM_MEMBER(px_fetcher_t, receiver, r);

    while (!h2o_linklist_is_empty(messages)) {
        px_fetch_job_t *j = H2O_STRUCT_FROM_MEMBER(px_fetch_job_t, super.link, messages->next);

        h2o_linklist_unlink(&j->super.link);
        f->done(f->ctx, j);
    }
}

px_fetcher_t *px_fetcher_new(h2o_loop_t *loop, px_fetch_done_cb done, void *ctx)
{
    px_fetcher_t *f = calloc(1, sizeof(*f));

    if (!f)
        return NULL;
    f->loop = loop;
    f->done = done;
    f->ctx = ctx;
    h2o_linklist_init_anchor(&f->jobs);
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->queue = h2o_multithread_create_queue(loop);
    h2o_multithread_register_receiver(f->queue, &f->receiver, on_messages);
    if (pthread_create(&f->thread, NULL, run, f) != 0) {
        px_fetcher_free(f);
        return NULL;
    }
    f->started = 1;
    return f;
}

int px_fetcher_submit(px_fetcher_t *f, px_fetch_job_t *j)
{
    int ok;

    pthread_mutex_lock(&f->mu);
    ok = !f->stop && f->n_jobs < FETCH_QUEUE_MAX;
    if (ok) {
        h2o_linklist_insert(&f->jobs, &j->super.link);
        f->n_jobs++;
        pthread_cond_signal(&f->cv);
    }
    pthread_mutex_unlock(&f->mu);
    if (!ok)
        px_fetch_job_free(j);
    return ok ? 0 : -1;
}

void px_fetcher_free(px_fetcher_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    f->stop = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (f->started)
        pthread_join(f->thread, NULL); /* a job in flight ends by its deadline */
    while (!h2o_linklist_is_empty(&f->jobs)) {
        px_fetch_job_t *j = H2O_STRUCT_FROM_MEMBER(px_fetch_job_t, super.link, f->jobs.next);

        h2o_linklist_unlink(&j->super.link);
        px_fetch_job_free(j);
    }
    /* messages sent but not yet received: the receiver's queue still holds them */
    h2o_multithread_unregister_receiver(f->queue, &f->receiver);
    h2o_multithread_destroy_queue(f->queue);
    h2o_evloop_run(f->loop, 0); /* the queue's socket is disposed of */
    free(f->queue);             /* h2o 2.2.5 closes the queue but does not free it */
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
