/* Bearer authentication, the loop's side (authn.h). In order, for a request
 * to an MCP endpoint:
 *   1. the Authorization header: `Bearer <token>` or `DPoP <token>` (RFC
 *      6750 §2.1, RFC 9449 §7.1); none: 401 naming the resource metadata;
 *   2. the token cache (SHA-256 of the token -> its caller, until `exp`):
 *      a token verified once costs a hash afterwards;
 *   3. a JWT is verified by proxy/auth/ against the key set; an unknown
 *      `kid` fetches the JWKS again (at most once a minute), the request
 *      waiting for it; no keys yet (start-up, the provider down): it waits
 *      up to WAIT_MS while they are fetched, then 503;
 *   4. anything else goes to RFC 7662 introspection when configured;
 *   5. --oidc-namespace: only that namespace's ServiceAccounts;
 *   6. a DPoP-bound token (cnf.jkt) needs the DPoP scheme and a proof whose
 *      key has that thumbprint, for this method and URI, fresh and never
 *      seen before (the jti replay table); a proof with an unbound token is
 *      refused too.
 * The resource metadata (RFC 9728) names --resource-url (else this request's
 * own /mcp URL) and the issuer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>

#include "mcp/log.h"
#include "../auth/auth.h"
#include "authfetch.h"
#include "authn.h"

#define WAIT_MS        10000 /* a request waits this long for keys or an introspection */
#define WAIT_MAX       1024  /* requests waiting at once; more get 503 */
#define KEY_RETRY_MS   2000  /* without keys: fetch again this often while requests come */
#define TOKENS_MAX     4096  /* verified tokens cached */
#define TOKEN_BUCKETS  1024
#define INTROSPECT_TTL 60    /* seconds an introspection answer without exp is kept */
#define JTI_MAX        65536 /* DPoP proofs remembered within their window */
#define JTI_BUCKETS    4096
#define SA_DIR         "/var/run/secrets/kubernetes.io/serviceaccount"
#define WELL_KNOWN     "/.well-known/oauth-protected-resource"

enum { JOB_DISCOVERY = 1, JOB_JWKS, JOB_INTROSPECT };

typedef struct token_entry {
    unsigned char digest[32];
    px_caller_t *caller;
    int64_t until;                 /* seconds: exp, or the introspection answer's lifetime */
    char jkt[PX_AUTH_JKT_LEN + 1]; /* "" when not DPoP-bound */
    int inactive;                  /* an introspection said active: false */
    struct token_entry *next;      /* bucket chain */
    h2o_linklist_t age;            /* oldest first */
} token_entry_t;

typedef struct jti_entry {
    unsigned char digest[32]; /* SHA-256 of the jti: its key, and its bucket */
    int64_t until;
    struct jti_entry *next;
    h2o_linklist_t age;
} jti_entry_t;

typedef struct waiter {
    h2o_linklist_t link;
    h2o_req_t *req;
    px_authn_resume_cb resume;
    void *ctx;
    uint64_t deadline;
} waiter_t;

struct px_authn {
    const px_config_t *cfg;
    h2o_loop_t *loop;
    px_fetcher_t *fetcher;
    px_auth_config_t verify;
    char *issuer; /* configured, or named by the cluster's discovery (kubernetes) */
    char *discovery_url, *jwks_url;
    const char *ca_file, *bearer_file;
    int allow_private;
    px_auth_jwks_cache_t keys;
    int fetching, introspecting;
    uint64_t key_attempt_ms;
    token_entry_t *tokens[TOKEN_BUCKETS];
    h2o_linklist_t token_age;
    size_t n_tokens;
    jti_entry_t *jtis[JTI_BUCKETS];
    h2o_linklist_t jti_age;
    size_t n_jtis;
    h2o_linklist_t waiting;
    size_t n_waiting;
    px_authn_stats_t stats;
};

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static uint64_t loop_ms(px_authn_t *a)
{
    return h2o_now(a->loop);
}

static size_t bucket_of(const unsigned char *d, size_t n)
{
    size_t v;

    memcpy(&v, d, sizeof(v));
    return v % n;
}

static h2o_iovec_t header(h2o_req_t *req, const char *name)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, name, strlen(name), -1);

    return i < 0 ? h2o_iovec_init(NULL, 0) : req->headers.entries[i].value;
}

/* ---- the resource and its metadata (RFC 9728) ------------------------------------------- */

/* The resource identifier for req: --resource-url, else this request's /mcp. */
static void resource_of(px_authn_t *a, h2o_req_t *req, char *out, size_t n)
{
    if (a->cfg->resource_url)
        snprintf(out, n, "%s", a->cfg->resource_url);
    else
        snprintf(out, n, "%s://%.*s/mcp", req->scheme->name.base, (int)req->input.authority.len,
                 req->input.authority.base);
}

/* The metadata URL of a resource: the well-known path inserted between its
 * authority and its path (RFC 9728 §3.1). */
static void metadata_url(const char *resource, char *out, size_t n)
{
    const char *auth = strstr(resource, "://");
    const char *path = auth ? strchr(auth + 3, '/') : NULL;
    size_t head = path ? (size_t)(path - resource) : strlen(resource);

    snprintf(out, n, "%.*s" WELL_KNOWN "%s", (int)head, resource,
             path && strcmp(path, "/") != 0 ? path : "");
}

static void add_header(h2o_req_t *req, const char *name, const char *value)
{
    size_t vl = strlen(value);
    char *v = h2o_mem_alloc_pool(&req->pool, vl);

    memcpy(v, value, vl);
    h2o_add_header_by_str(&req->pool, &req->res.headers, name, strlen(name), 0, NULL, v, vl);
}

static void send_json(h2o_req_t *req, int status, const char *reason, json_t *body)
{
    static h2o_generator_t gen = {NULL, NULL};
    char *text = json_dumps(body, JSON_COMPACT);
    size_t len = text ? strlen(text) : 0;
    h2o_iovec_t buf = h2o_strdup(&req->pool, text ? text : "", len);

    free(text);
    req->res.status = status;
    req->res.reason = reason;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL,
                   H2O_STRLIT("application/json"));
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL,
                   H2O_STRLIT("no-store"));
    req->res.content_length = len;
    h2o_start_response(req, &gen);
    h2o_send(req, &buf, 1, H2O_SEND_STATE_FINAL);
}

/* The DPoP algorithms offered ("ES256 RS256 ..."), for WWW-Authenticate
 * and the metadata. */
static const char *const dpop_algs[] = {"ES256", "ES384", "ES512", "PS256", "PS384",
                                        "PS512", "RS256", "RS384", "RS512"};

/* 401 (or 403, 503) with the challenges: `Bearer resource_metadata=...`
 * always, with error and error_description when a token was sent (RFC 6750
 * §3; `why` is one of proxy/auth's static phrases: no quote, no input), and
 * `DPoP algs=...` (RFC 9449 §7.1; error="invalid_dpop_proof" when the proof
 * failed). */
static int refuse(px_authn_t *a, h2o_req_t *req, int status, const char *error, const char *why,
                  int dpop_error)
{
    char resource[1024], meta[1200], chal[1600], algs[128] = "";
    json_t *body;

    resource_of(a, req, resource, sizeof(resource));
    metadata_url(resource, meta, sizeof(meta));
    if (error && !dpop_error)
        snprintf(chal, sizeof(chal),
                 "Bearer resource_metadata=\"%s\", error=\"%s\", error_description=\"%s\"", meta,
                 error, why);
    else
        snprintf(chal, sizeof(chal), "Bearer resource_metadata=\"%s\"", meta);
    add_header(req, "www-authenticate", chal);
    for (size_t i = 0; i < sizeof(dpop_algs) / sizeof(*dpop_algs); i++)
        snprintf(algs + strlen(algs), sizeof(algs) - strlen(algs), "%s%s", i ? " " : "",
                 dpop_algs[i]);
    if (dpop_error)
        snprintf(chal, sizeof(chal), "DPoP algs=\"%s\", error=\"%s\", error_description=\"%s\"",
                 algs, error, why);
    else
        snprintf(chal, sizeof(chal), "DPoP algs=\"%s\"", algs);
    add_header(req, "www-authenticate", chal);
    a->stats.refused++;
    body = json_pack("{s:s, s:s}", "error", error ? error : "invalid_request", "error_description",
                     why ? why : "an access token is required (Authorization: Bearer)");
    send_json(req, status, status == 401 ? "Unauthorized" : "Forbidden", body);
    json_decref(body);
    return PX_AUTHN_ANSWERED;
}

static int unavailable(px_authn_t *a, h2o_req_t *req, const char *why)
{
    json_t *body =
        json_pack("{s:s, s:s}", "error", "temporarily_unavailable", "error_description", why);

    a->stats.refused++;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("2"));
    send_json(req, 503, "Service Unavailable", body);
    json_decref(body);
    return PX_AUTHN_ANSWERED;
}

int px_authn_metadata(px_authn_t *a, h2o_req_t *req)
{
    h2o_iovec_t p = req->path_normalized;
    size_t wl = strlen(WELL_KNOWN);
    char resource[1024];
    json_t *doc, *algs;

    if (p.len < wl || memcmp(p.base, WELL_KNOWN, wl) != 0 || (p.len > wl && p.base[wl] != '/'))
        return 0;
    if (!a->issuer) {
        unavailable(a, req, "the authorization server is not known yet");
        return 1;
    }
    resource_of(a, req, resource, sizeof(resource));
    algs = json_array();
    for (size_t i = 0; i < sizeof(dpop_algs) / sizeof(*dpop_algs); i++)
        json_array_append_new(algs, json_string(dpop_algs[i]));
    doc = json_pack("{s:s, s:[s], s:[s], s:o, s:b}", "resource", resource, "authorization_servers",
                    a->issuer, "bearer_methods_supported", "header",
                    "dpop_signing_alg_values_supported", algs, "dpop_bound_access_tokens_required",
                    0);
    send_json(req, 200, "OK", doc);
    json_decref(doc);
    return 1;
}

/* ---- keys: discovery and the JWKS, through the fetcher ---------------------------------- */

static px_fetch_job_t *job_new(px_authn_t *a, int kind, const char *url, size_t cap)
{
    px_fetch_job_t *j = calloc(1, sizeof(*j));

    if (!j || !(j->url = strdup(url))) {
        free(j);
        return NULL;
    }
    j->kind = kind;
    j->ca_file = a->ca_file;
    j->allow_private = a->allow_private;
    mcp_buf_init(&j->body, cap);
    return j;
}

static void fetch_keys(px_authn_t *a)
{
    int discover = !a->jwks_url || (a->cfg->oidc_kubernetes && !a->issuer);
    px_fetch_job_t *j;

    if (a->fetching)
        return;
    j = discover ? job_new(a, JOB_DISCOVERY, a->discovery_url, PX_AUTH_MAX_DISCOVERY)
                 : job_new(a, JOB_JWKS, a->jwks_url, PX_AUTH_MAX_JWKS);
    if (!j)
        return;
    if (discover ? a->cfg->oidc_kubernetes : 1)
        j->bearer_file = a->bearer_file;
    a->key_attempt_ms = loop_ms(a);
    a->stats.key_fetches++;
    if (px_fetcher_submit(a->fetcher, j) == 0)
        a->fetching = 1;
}

static void resume_all(px_authn_t *a)
{
    h2o_linklist_t list;

    /* moved first: a resumed request may wait again (another unknown kid) */
    h2o_linklist_init_anchor(&list);
    h2o_linklist_insert_list(&list, &a->waiting);
    a->n_waiting = 0;
    while (!h2o_linklist_is_empty(&list)) {
        waiter_t *w = H2O_STRUCT_FROM_MEMBER(waiter_t, link, list.next);

        h2o_linklist_unlink(&w->link);
        w->resume(w->ctx, w->req);
    }
}

static void fail_all(px_authn_t *a, const char *why)
{
    while (!h2o_linklist_is_empty(&a->waiting)) {
        waiter_t *w = H2O_STRUCT_FROM_MEMBER(waiter_t, link, a->waiting.next);

        h2o_linklist_unlink(&w->link);
        unavailable(a, w->req, why);
    }
    a->n_waiting = 0;
}

static void key_job_failed(px_authn_t *a, px_fetch_job_t *j, const char *what)
{
    char st[16];

    snprintf(st, sizeof(st), "%ld", j->status);
    a->stats.key_fetch_errors++;
    mcp_log(MCP_LOG_ERROR, "authentication: cannot load the issuer's keys", "what", what, "url",
            j->url, "status", st, "error", j->err[0] ? j->err : "", NULL);
    if (!a->keys.keys) /* with keys, the waiters (unknown kids) are refused by the old ones */
        fail_all(a, "the authorization server's keys could not be loaded");
    else
        resume_all(a);
}

static void on_discovery(px_authn_t *a, px_fetch_job_t *j)
{
    px_auth_discovery_t d = {0};
    const char *why = "no answer";
    json_t *doc = NULL;
    char *want = a->issuer;

    if (j->status == 200 && !want) { /* kubernetes without an issuer: the cluster names it */
        doc = json_loadb(j->body.data ? j->body.data : "", j->body.len, 0, NULL);
        want = (char *)json_string_value(json_object_get(doc, "issuer"));
    }
    if (j->status != 200 || !want ||
        px_auth_discovery_parse(j->body.data ? j->body.data : "", j->body.len, want, &d, &why) !=
            0) {
        json_decref(doc);
        key_job_failed(a, j, why);
        return;
    }
    if (!a->issuer) {
        a->issuer = strdup(d.issuer);
        a->verify.issuer = a->issuer;
        mcp_log(MCP_LOG_INFO, "authentication: the cluster's issuer", "issuer", a->issuer, NULL);
    }
    if (!a->jwks_url)
        a->jwks_url = strdup(d.jwks_uri);
    json_decref(doc);
    px_auth_discovery_dispose(&d);
    a->fetching = 0;
    if (a->jwks_url && a->issuer)
        fetch_keys(a);
}

static void on_jwks(px_authn_t *a, px_fetch_job_t *j)
{
    const char *why = "no answer";
    char n[16];

    if (j->status != 200 || px_auth_jwks_cache_install(&a->keys, j->body.data ? j->body.data : "",
                                                       j->body.len, now_s(), &why) != 0) {
        key_job_failed(a, j, why);
        return;
    }
    snprintf(n, sizeof(n), "%zu", px_auth_keyset_count(a->keys.keys));
    mcp_log(MCP_LOG_INFO, "authentication: keys loaded", "url", j->url, "keys", n, NULL);
    resume_all(a);
}

/* ---- the token cache -------------------------------------------------------------------- */

static void token_drop(px_authn_t *a, token_entry_t *e)
{
    token_entry_t **pp = &a->tokens[bucket_of(e->digest, TOKEN_BUCKETS)];

    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    h2o_linklist_unlink(&e->age);
    px_caller_unref(e->caller);
    free(e);
    a->n_tokens--;
}

static token_entry_t *token_find(px_authn_t *a, const unsigned char *d)
{
    for (token_entry_t *e = a->tokens[bucket_of(d, TOKEN_BUCKETS)]; e; e = e->next)
        if (memcmp(e->digest, d, 32) == 0)
            return e;
    return NULL;
}

static token_entry_t *token_put(px_authn_t *a, const unsigned char *d, px_caller_t *c,
                                int64_t until, const char *jkt)
{
    token_entry_t *e, **head;

    if ((e = token_find(a, d)))
        token_drop(a, e);
    if (a->n_tokens >= TOKENS_MAX)
        token_drop(a, H2O_STRUCT_FROM_MEMBER(token_entry_t, age, a->token_age.next));
    if (!(e = calloc(1, sizeof(*e))))
        return NULL;
    memcpy(e->digest, d, 32);
    e->caller = c; /* the reference is the cache's now */
    e->until = until;
    snprintf(e->jkt, sizeof(e->jkt), "%s", jkt ? jkt : "");
    head = &a->tokens[bucket_of(d, TOKEN_BUCKETS)];
    e->next = *head;
    *head = e;
    h2o_linklist_insert(&a->token_age, &e->age);
    a->n_tokens++;
    return e;
}

/* ---- DPoP replay (RFC 9449 §11.1) ------------------------------------------------------- */

static void jti_drop_oldest(px_authn_t *a)
{
    jti_entry_t *e = H2O_STRUCT_FROM_MEMBER(jti_entry_t, age, a->jti_age.next), **pp;

    pp = &a->jtis[bucket_of(e->digest, JTI_BUCKETS)];
    while (*pp != e)
        pp = &(*pp)->next;
    *pp = e->next;
    h2o_linklist_unlink(&e->age);
    free(e);
    a->n_jtis--;
}

/* 0 when jti is new (and now remembered until `until`), 1 when seen, -1
 * when the table is full of live proofs. */
static int jti_seen(px_authn_t *a, const char *jti, int64_t until, int64_t now)
{
    unsigned char d[32];
    jti_entry_t *e, **head;

    while (!h2o_linklist_is_empty(&a->jti_age) &&
           H2O_STRUCT_FROM_MEMBER(jti_entry_t, age, a->jti_age.next)->until < now)
        jti_drop_oldest(a);
    EVP_Digest(jti, strlen(jti), d, NULL, EVP_sha256(), NULL);
    head = &a->jtis[bucket_of(d, JTI_BUCKETS)];
    for (e = *head; e; e = e->next)
        if (memcmp(e->digest, d, sizeof(d)) == 0)
            return 1;
    if (a->n_jtis >= JTI_MAX || !(e = calloc(1, sizeof(*e))))
        return -1;
    memcpy(e->digest, d, sizeof(d));
    e->until = until;
    e->next = *head;
    *head = e;
    h2o_linklist_insert(&a->jti_age, &e->age); /* until grows with time: the list stays sorted */
    a->n_jtis++;
    return 0;
}

/* ---- introspection (RFC 7662) ----------------------------------------------------------- */

/* application/x-www-form-urlencoded (RFC 7662 §2.1's request body). */
static int form_add(mcp_buf_t *b, const char *name, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    int rc = mcp_buf_addf(b, "%s%s=", b->len ? "&" : "", name);

    for (; rc == 0 && *v; v++) {
        unsigned char c = (unsigned char)*v;

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~')
            rc = mcp_buf_add(b, v, 1);
        else
            rc = mcp_buf_addf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
    }
    return rc;
}

static int introspect(px_authn_t *a, const char *token, size_t len, const unsigned char *digest)
{
    px_fetch_job_t *j = job_new(a, JOB_INTROSPECT, a->cfg->oidc_introspection_url, 64 << 10);
    mcp_buf_t form;
    char *t = strndup(token, len);

    if (!j || !t) {
        px_fetch_job_free(j);
        free(t);
        return -1;
    }
    mcp_buf_init(&form, 64 << 10);
    if (form_add(&form, "token", t) != 0 || form_add(&form, "token_type_hint", "access_token") ||
        mcp_buf_add(&form, "", 1) != 0) {
        mcp_buf_dispose(&form);
        px_fetch_job_free(j);
        free(t);
        return -1;
    }
    free(t);
    j->post = form.data; /* taken over */
    memcpy(j->digest, digest, 32);
    j->allow_private = a->cfg->oidc_allow_private_ip;
    if (a->cfg->oidc_client_id) {
        j->user = strdup(a->cfg->oidc_client_id);
        j->password = strdup(a->cfg->oidc_client_secret ? a->cfg->oidc_client_secret : "");
    }
    a->stats.introspections++;
    return px_fetcher_submit(a->fetcher, j);
}

/* The answer: active tokens go into the cache with their claims; inactive
 * ones too, marked, for a while, so a flood of one bad token costs one call. */
static void on_introspection(px_authn_t *a, px_fetch_job_t *j)
{
    json_t *doc = j->status == 200 ? json_loadb(j->body.data ? j->body.data : "", j->body.len,
                                                JSON_REJECT_DUPLICATES, NULL)
                                   : NULL;
    json_t *aud = json_object_get(doc, "aud"), *exp = json_object_get(doc, "exp");
    const char *iss = json_string_value(json_object_get(doc, "iss"));
    int64_t now = now_s(), until = now + INTROSPECT_TTL;
    int ok = json_is_true(json_object_get(doc, "active"));
    px_caller_t *c = NULL;

    if (!doc)
        mcp_log(MCP_LOG_ERROR, "authentication: introspection failed", "url", j->url, "error",
                j->err[0] ? j->err : "not a JSON answer", NULL);
    if (ok && json_is_integer(exp)) {
        ok = json_integer_value(exp) > now;
        if (json_integer_value(exp) < until)
            until = json_integer_value(exp);
    }
    if (ok && iss && a->issuer && strcmp(iss, a->issuer) != 0)
        ok = 0;
    if (ok && aud && a->verify.audience) { /* RFC 7662 §2.2: aud as in JWT, string or array */
        int found = json_is_string(aud) && strcmp(json_string_value(aud), a->verify.audience) == 0;
        size_t i;
        json_t *v;

        json_array_foreach(aud, i, v) found |=
            json_is_string(v) && strcmp(json_string_value(v), a->verify.audience) == 0;
        ok = found;
    }
    if (ok && !(c = px_caller_new(doc, until)))
        ok = 0;
    if (doc) {
        token_entry_t *e = token_put(a, j->digest, c, until, NULL);

        if (e)
            e->inactive = !ok;
        else
            px_caller_unref(c);
    }
    json_decref(doc);
    a->introspecting--;
    resume_all(a);
}

static void on_job(void *ctx, px_fetch_job_t *j)
{
    px_authn_t *a = ctx;

    switch (j->kind) {
    case JOB_DISCOVERY:
        a->fetching = 0;
        on_discovery(a, j);
        break;
    case JOB_JWKS:
        a->fetching = 0;
        on_jwks(a, j);
        break;
    default:
        on_introspection(a, j);
    }
    px_fetch_job_free(j);
}

/* ---- the check -------------------------------------------------------------------------- */

static int wait_for(px_authn_t *a, h2o_req_t *req, px_authn_resume_cb resume, void *ctx)
{
    waiter_t *w;

    if (a->n_waiting >= WAIT_MAX)
        return unavailable(a, req, "too many requests waiting for the authorization server");
    w = h2o_mem_alloc_pool(&req->pool, sizeof(*w));
    memset(w, 0, sizeof(*w));
    w->req = req;
    w->resume = resume;
    w->ctx = ctx;
    w->deadline = loop_ms(a) + WAIT_MS;
    h2o_linklist_insert(&a->waiting, &w->link);
    a->n_waiting++;
    return PX_AUTHN_WAIT;
}

static int scheme_is(h2o_iovec_t v, const char *s)
{
    size_t n = strlen(s);

    return v.len > n && h2o_lcstris(v.base, n, s, n) && v.base[n] == ' ';
}

/* The DPoP proof of req for the token (RFC 9449 §4.3, §7.1). */
static int check_proof(px_authn_t *a, h2o_req_t *req, const char *token, size_t len,
                       const char *jkt)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("dpop"), -1);
    px_auth_dpop_req_t dr;
    px_auth_dpop_result_t res;
    const char *why = NULL;
    char uri[PX_AUTH_MAX_URI + 1];
    int64_t now = now_s();
    int seen;

    if (i < 0 || h2o_find_header_by_str(&req->headers, H2O_STRLIT("dpop"), i) >= 0)
        return refuse(a, req, 401, "invalid_dpop_proof", "exactly one DPoP header is required", 1);
    snprintf(uri, sizeof(uri), "%s://%.*s%.*s", req->scheme->name.base,
             (int)req->input.authority.len, req->input.authority.base, (int)req->input.path.len,
             req->input.path.base);
    px_auth_dpop_req_init(&dr);
    dr.method = h2o_strdup(&req->pool, req->method.base, req->method.len).base;
    dr.uri = uri;
    dr.access_token = token;
    dr.access_token_len = len;
    dr.now = now;
    if (px_auth_dpop_verify(&dr, req->headers.entries[i].value.base,
                            req->headers.entries[i].value.len, &res, &why) != 0)
        return refuse(a, req, 401, "invalid_dpop_proof", why, 1);
    if (strcmp(res.jkt, jkt) != 0)
        return refuse(a, req, 401, "invalid_token",
                      "the DPoP proof's key is not the one the token is bound to", 0);
    seen = jti_seen(a, res.jti, res.iat + dr.window + dr.skew + 1, now);
    if (seen == 1)
        return refuse(a, req, 401, "invalid_dpop_proof", "the DPoP proof was used before", 1);
    if (seen < 0)
        return unavailable(a, req, "too many DPoP proofs in their window");
    return PX_AUTHN_PASS;
}

static int check_namespace(px_authn_t *a, const px_caller_t *c)
{
    const char *ns = a->cfg->oidc_namespace;
    size_t pl = strlen("system:serviceaccount:"), nl = ns ? strlen(ns) : 0;

    if (!ns)
        return 1;
    return strncmp(c->sub, "system:serviceaccount:", pl) == 0 &&
           strncmp(c->sub + pl, ns, nl) == 0 && c->sub[pl + nl] == ':' && c->sub[pl + nl + 1];
}

static int is_jwt(const char *t, size_t n)
{
    size_t dots = 0;

    for (size_t i = 0; i < n; i++)
        dots += t[i] == '.';
    return dots == 2;
}

int px_authn_check(px_authn_t *a, h2o_req_t *req, px_caller_t **caller, px_authn_resume_cb resume,
                   void *ctx)
{
    h2o_iovec_t az = header(req, "authorization");
    int dpop_scheme = scheme_is(az, "dpop"), rc;
    const char *token, *why = NULL;
    unsigned char digest[32];
    token_entry_t *e;
    size_t len;
    int64_t now = now_s();
    json_t *claims = NULL;

    *caller = NULL;
    if (!az.base || !(dpop_scheme || scheme_is(az, "bearer")))
        return refuse(a, req, 401, NULL, NULL, 0);
    token = az.base + (dpop_scheme ? 5 : 7);
    len = az.len - (dpop_scheme ? 5 : 7);
    while (len > 0 && *token == ' ')
        token++, len--;
    if (len == 0 || len > a->verify.max_token)
        return refuse(a, req, 401, "invalid_token", len ? "token too large" : "empty token", 0);
    EVP_Digest(token, len, digest, NULL, EVP_sha256(), NULL);
    e = token_find(a, digest);
    if (e && e->until <= now) {
        token_drop(a, e);
        e = NULL;
    }
    if (!e && !is_jwt(token, len)) {
        if (!a->cfg->oidc_introspection_url)
            return refuse(a, req, 401, "invalid_token", "not a JWT", 0);
        if (introspect(a, token, len, digest) != 0)
            return unavailable(a, req, "too many introspections at once");
        a->introspecting++;
        return wait_for(a, req, resume, ctx);
    }
    if (!e) {
        if (!a->keys.keys) {
            if (!a->fetching && loop_ms(a) - a->key_attempt_ms >= KEY_RETRY_MS)
                fetch_keys(a);
            return a->fetching ? wait_for(a, req, resume, ctx)
                               : unavailable(a, req,
                                             "the authorization server's keys are not "
                                             "loaded yet");
        }
        rc = px_auth_jwt_verify(&a->verify, a->keys.keys, token, len, now, &claims, &why);
        if (rc == PX_AUTH_E_UNKNOWN_KID && !a->fetching &&
            px_auth_jwks_cache_should_fetch(&a->keys, now, 1)) {
            fetch_keys(a);
            if (a->fetching)
                return wait_for(a, req, resume, ctx);
        }
        if (rc != PX_AUTH_OK)
            return refuse(a, req, 401, "invalid_token", why, 0);
        {
            px_caller_t *c =
                px_caller_new(claims, (int64_t)json_integer_value(json_object_get(claims, "exp")));
            const char *jkt = px_auth_claims_jkt(claims);

            if (!c) {
                json_decref(claims);
                return refuse(a, req, 401, "invalid_token", "the token has no sub", 0);
            }
            e = token_put(a, digest, c, c->exp, jkt);
            json_decref(claims);
            if (!e) {
                px_caller_unref(c);
                return unavailable(a, req, "out of memory");
            }
        }
    } else {
        a->stats.cache_hits++;
    }
    if (e->inactive)
        return refuse(a, req, 401, "invalid_token", "the token is not active", 0);
    if (!check_namespace(a, e->caller))
        return refuse(a, req, 401, "invalid_token",
                      "not a ServiceAccount of the accepted namespace", 0);
    if (e->jkt[0]) {
        if (!dpop_scheme)
            return refuse(a, req, 401, "invalid_token",
                          "a DPoP-bound token needs the DPoP scheme and a proof", 0);
        if ((rc = check_proof(a, req, token, len, e->jkt)) != PX_AUTHN_PASS)
            return rc;
    } else if (dpop_scheme) {
        return refuse(a, req, 401, "invalid_token", "the token is not bound to a DPoP key", 0);
    }
    a->stats.accepted++;
    *caller = px_caller_ref(e->caller);
    return PX_AUTHN_PASS;
}

void px_authn_tick(px_authn_t *a, uint64_t now_ms)
{
    int64_t now = now_s();
    h2o_linklist_t *n = a->waiting.next;

    while (n != &a->waiting) {
        waiter_t *w = H2O_STRUCT_FROM_MEMBER(waiter_t, link, n);

        n = n->next;
        if (w->deadline <= now_ms) {
            h2o_linklist_unlink(&w->link);
            a->n_waiting--;
            unavailable(a, w->req, "the authorization server did not answer in time");
        }
    }
    /* the oldest entries first; stop at the first live one (a bounded sweep) */
    for (int i = 0; i < 64 && !h2o_linklist_is_empty(&a->token_age); i++) {
        token_entry_t *e = H2O_STRUCT_FROM_MEMBER(token_entry_t, age, a->token_age.next);

        if (e->until > now)
            break;
        token_drop(a, e);
    }
    if (!a->keys.keys && !a->fetching && now_ms - a->key_attempt_ms >= KEY_RETRY_MS * 2)
        fetch_keys(a); /* without keys nothing is served: keep trying, every 4 s */
    else if (a->keys.keys && !a->fetching && px_auth_jwks_cache_should_fetch(&a->keys, now, 0))
        fetch_keys(a); /* max_age: rotation without a restart */
}

const px_authn_stats_t *px_authn_stats(const px_authn_t *a)
{
    return &a->stats;
}

/* ---- set-up ----------------------------------------------------------------------------- */

static char *kube_base(void)
{
    const char *h = getenv("KUBERNETES_SERVICE_HOST"), *p = getenv("KUBERNETES_SERVICE_PORT");
    char buf[300];

    if (!h || !*h)
        return strdup("https://kubernetes.default.svc");
    snprintf(buf, sizeof(buf), strchr(h, ':') ? "https://[%s]:%s" : "https://%s:%s", h,
             p && *p ? p : "443");
    return strdup(buf);
}

px_authn_t *px_authn_new(const px_config_t *cfg, h2o_loop_t *loop, char *err, size_t errlen)
{
    px_authn_t *a = calloc(1, sizeof(*a));
    char url[2048];

    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->cfg = cfg;
    a->loop = loop;
    px_auth_config_init(&a->verify);
    a->verify.audience = cfg->oidc_audience;
    px_auth_jwks_cache_init(&a->keys);
    h2o_linklist_init_anchor(&a->token_age);
    h2o_linklist_init_anchor(&a->jti_age);
    h2o_linklist_init_anchor(&a->waiting);
    a->ca_file = cfg->oidc_ca_file;
    a->bearer_file = cfg->oidc_jwks_token_file;
    a->allow_private = cfg->oidc_allow_private_ip;
    if (cfg->oidc_issuer && !(a->issuer = strdup(cfg->oidc_issuer)))
        goto oom;
    a->verify.issuer = a->issuer;
    if (cfg->oidc_jwks_url && !(a->jwks_url = strdup(cfg->oidc_jwks_url)))
        goto oom;
    if (cfg->oidc_kubernetes) { /* the apiserver, over the cluster CA, with our token */
        char *base = kube_base();

        if (!base)
            goto oom;
        snprintf(url, sizeof(url), "%s/.well-known/openid-configuration", base);
        a->discovery_url = strdup(url);
        if (!a->jwks_url) {
            snprintf(url, sizeof(url), "%s/openid/v1/jwks", base);
            a->jwks_url = strdup(url);
        }
        free(base);
        if (!a->ca_file)
            a->ca_file = SA_DIR "/ca.crt";
        if (!a->bearer_file && cfg->oidc_cluster_auth)
            a->bearer_file = SA_DIR "/token";
        a->allow_private = 1;
    } else if (px_auth_discovery_url(cfg->oidc_issuer, url, sizeof(url)) != 0) {
        snprintf(err, errlen, "--oidc-issuer: not an http(s) URL");
        px_authn_free(a);
        return NULL;
    } else {
        a->discovery_url = strdup(url);
    }
    if (!a->discovery_url || !a->jwks_url) {
        if (!a->discovery_url)
            goto oom;
    }
    if (!(a->fetcher = px_fetcher_new(loop, on_job, a))) {
        snprintf(err, errlen, "cannot start the authentication fetcher thread");
        px_authn_free(a);
        return NULL;
    }
    fetch_keys(a);
    return a;
oom:
    snprintf(err, errlen, "out of memory");
    px_authn_free(a);
    return NULL;
}

void px_authn_free(px_authn_t *a)
{
    if (!a)
        return;
    px_fetcher_free(a->fetcher);
    fail_all(a, "the proxy is stopping");
    while (!h2o_linklist_is_empty(&a->token_age))
        token_drop(a, H2O_STRUCT_FROM_MEMBER(token_entry_t, age, a->token_age.next));
    while (!h2o_linklist_is_empty(&a->jti_age))
        jti_drop_oldest(a);
    px_auth_jwks_cache_dispose(&a->keys);
    free(a->issuer);
    free(a->discovery_url);
    free(a->jwks_url);
    free(a);
}
