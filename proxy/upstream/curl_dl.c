/* libcurl, loaded only when the proxy needs it: the Kubernetes client
 * (common/src/kube_curl.c) that stdio over pods/attach and the pod watch of
 * the HTTP transports (--pod) use, and the HTTP client of the sse and
 * streamable-http backend (httpup.c). mcp-proxy is not linked with -lcurl;
 * these definitions of the libcurl calls it makes forward to libcurl.so.4
 * opened on first use. Debian's libcurl4 brings about 4 MiB of resident
 * shared libraries (GnuTLS via librtmp and libldap, Kerberos, LDAP,
 * libssh2, ...) into every process that links it, so --exec, which never
 * uses it, no longer carries them
 * (DESIGN §8: RSS < 8 MiB). GnuTLS is loaded with GNUTLS_NO_IMPLICIT_INIT:
 * nothing here uses it (curl uses OpenSSL), so its global initialisation
 * (PKCS#11 modules, system config) is skipped.
 *
 * px_curl_load is called on the main thread before any other thread starts
 * (px_kube_open from px_attach_new, px_http_backend_new, or the server's
 * set-up before its checker thread), so setting the environment around
 * dlopen is safe. */
#define CURL_DISABLE_TYPECHECK 1
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "../internal.h"

#define LIBCURL "libcurl.so.4"

static struct {
    CURLcode (*global_init)(long);
    CURL *(*easy_init)(void);
    void (*easy_cleanup)(CURL *);
    void (*easy_reset)(CURL *);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    const char *(*easy_strerror)(CURLcode);
    CURLM *(*multi_init)(void);
    CURLMcode (*multi_cleanup)(CURLM *);
    CURLMcode (*multi_add_handle)(CURLM *, CURL *);
    CURLMcode (*multi_remove_handle)(CURLM *, CURL *);
    CURLMcode (*multi_perform)(CURLM *, int *);
    CURLMcode (*multi_poll)(CURLM *, struct curl_waitfd[], unsigned int, int, int *);
    CURLMsg *(*multi_info_read)(CURLM *, int *);
    CURLMcode (*multi_setopt)(CURLM *, CURLMoption, ...);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
} f;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char load_error[256];

static void load(void)
{
    static const struct {
        const char *name;
        size_t off;
    } syms[] = {
#define S(field, sym) {#sym, offsetof(__typeof__(f), field)}
        S(global_init, curl_global_init),
        S(easy_init, curl_easy_init),
        S(easy_cleanup, curl_easy_cleanup),
        S(easy_reset, curl_easy_reset),
        S(easy_perform, curl_easy_perform),
        S(easy_setopt, curl_easy_setopt),
        S(easy_getinfo, curl_easy_getinfo),
        S(easy_strerror, curl_easy_strerror),
        S(multi_init, curl_multi_init),
        S(multi_cleanup, curl_multi_cleanup),
        S(multi_add_handle, curl_multi_add_handle),
        S(multi_remove_handle, curl_multi_remove_handle),
        S(multi_perform, curl_multi_perform),
        S(multi_poll, curl_multi_poll),
        S(multi_info_read, curl_multi_info_read),
        S(multi_setopt, curl_multi_setopt),
        S(slist_append, curl_slist_append),
        S(slist_free_all, curl_slist_free_all),
#undef S
    };
    int had = getenv("GNUTLS_NO_IMPLICIT_INIT") != NULL;
    void *lib, *sym;

    if (!had)
        setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 1);
    lib = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
    if (!had)
        unsetenv("GNUTLS_NO_IMPLICIT_INIT");
    if (!lib) {
        snprintf(load_error, sizeof(load_error), "cannot load %s: %s", LIBCURL, dlerror());
        return;
    }
    for (size_t i = 0; i < MCP_ARRAY_LEN(syms); i++) {
        sym = dlsym(lib, syms[i].name);
        if (!sym) {
            snprintf(load_error, sizeof(load_error), "%s lacks %s", LIBCURL, syms[i].name);
            memset(&f, 0, sizeof(f));
            return; /* the library stays loaded: nothing else may use it half-way */
        }
        memcpy((char *)&f + syms[i].off, &sym, sizeof(sym));
    }
}

int px_curl_load(char *err, size_t errlen)
{
    pthread_once(&once, load);
    if (f.global_init)
        return 0;
    snprintf(err, errlen, "%s", load_error);
    return -1;
}

static int loaded(void)
{
    pthread_once(&once, load);
    return f.global_init != NULL;
}

CURLcode curl_global_init(long flags)
{
    return loaded() ? f.global_init(flags) : CURLE_FAILED_INIT;
}

CURL *curl_easy_init(void)
{
    return loaded() ? f.easy_init() : NULL;
}

void curl_easy_cleanup(CURL *h)
{
    if (loaded())
        f.easy_cleanup(h);
}

void curl_easy_reset(CURL *h)
{
    if (loaded())
        f.easy_reset(h);
}

CURLcode curl_easy_perform(CURL *h)
{
    return loaded() ? f.easy_perform(h) : CURLE_FAILED_INIT;
}

enum { EASY, MULTI };

/* f.easy_setopt or f.multi_setopt (api EASY or MULTI) with the one argument
 * of ap, read as libcurl reads it: of the type its option number tells
 * (CURLOPTTYPE_*; no multi option is a blob). */
static int setopt(int api, void *h, int opt, va_list ap)
{
    if (opt < CURLOPTTYPE_OBJECTPOINT) {
        long v = va_arg(ap, long);

        return api == MULTI ? (int)f.multi_setopt(h, opt, v) : (int)f.easy_setopt(h, opt, v);
    }
    if (opt < CURLOPTTYPE_OFF_T || opt >= CURLOPTTYPE_BLOB) {
        void *v = va_arg(ap, void *);

        return api == MULTI ? (int)f.multi_setopt(h, opt, v) : (int)f.easy_setopt(h, opt, v);
    }
    curl_off_t v = va_arg(ap, curl_off_t);

    return api == MULTI ? (int)f.multi_setopt(h, opt, v) : (int)f.easy_setopt(h, opt, v);
}

CURLcode curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
    va_list ap;
    CURLcode rc;

    if (!loaded())
        return CURLE_FAILED_INIT;
    va_start(ap, opt);
    rc = (CURLcode)setopt(EASY, h, (int)opt, ap);
    va_end(ap);
    return rc;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
    va_list ap;
    CURLcode rc;

    if (!loaded())
        return CURLE_FAILED_INIT;
    va_start(ap, info);
    rc = f.easy_getinfo(h, info, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

const char *curl_easy_strerror(CURLcode code)
{
    return loaded() ? f.easy_strerror(code) : load_error;
}

CURLM *curl_multi_init(void)
{
    return loaded() ? f.multi_init() : NULL;
}

CURLMcode curl_multi_cleanup(CURLM *m)
{
    return loaded() ? f.multi_cleanup(m) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_add_handle(CURLM *m, CURL *h)
{
    return loaded() ? f.multi_add_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_remove_handle(CURLM *m, CURL *h)
{
    return loaded() ? f.multi_remove_handle(m, h) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_perform(CURLM *m, int *running)
{
    return loaded() ? f.multi_perform(m, running) : CURLM_INTERNAL_ERROR;
}

CURLMcode curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned int n, int timeout_ms,
                          int *numfds)
{
    return loaded() ? f.multi_poll(m, extra, n, timeout_ms, numfds) : CURLM_INTERNAL_ERROR;
}

CURLMsg *curl_multi_info_read(CURLM *m, int *left)
{
    return loaded() ? f.multi_info_read(m, left) : NULL;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
    va_list ap;
    CURLMcode rc;

    if (!loaded())
        return CURLM_INTERNAL_ERROR;
    va_start(ap, opt);
    rc = (CURLMcode)setopt(MULTI, m, (int)opt, ap);
    va_end(ap);
    return rc;
}

struct curl_slist *curl_slist_append(struct curl_slist *l, const char *s)
{
    return loaded() ? f.slist_append(l, s) : NULL;
}

void curl_slist_free_all(struct curl_slist *l)
{
    if (loaded())
        f.slist_free_all(l);
}
