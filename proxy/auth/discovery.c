/* The pure half of getting keys: the discovery document's URL and its
 * checks (OpenID Connect Discovery 1.0 §4), and the key-set cache that says
 * when to fetch (rarely, and never per request for a made-up kid) and
 * keeps the old keys when a fetched JWKS is bad. The fetching itself is the
 * proxy's, through px_auth_jwks_source_t. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "private.h"

#define DISCOVERY_MAX_DEPTH 8
#define JWKS_MIN_INTERVAL   60   /* seconds */
#define JWKS_MAX_AGE        3600 /* seconds */

/* 2 for https://, 1 for http://, else 0. */
static int http_scheme(const char *u)
{
    if (strncasecmp(u, "https://", 8) == 0)
        return 2;
    return strncasecmp(u, "http://", 7) == 0 ? 1 : 0;
}

int px_auth_discovery_url(const char *issuer, char *out, size_t outlen)
{
    size_t n = issuer ? strlen(issuer) : 0;
    static const char wk[] = "/.well-known/openid-configuration";

    if (!issuer || !http_scheme(issuer) || strpbrk(issuer, "?#"))
        return PX_AUTH_E_INVALID;
    if (n > 0 && issuer[n - 1] == '/')
        n--;
    if (n + sizeof(wk) > outlen)
        return PX_AUTH_E_INVALID;
    memcpy(out, issuer, n);
    memcpy(out + n, wk, sizeof(wk));
    return 0;
}

/* jwks_uri: https (http only beside an http issuer), a host, no userinfo,
 * no fragment, nothing a URL cannot hold. */
static int jwks_uri_ok(const char *uri, size_t len, const char *issuer)
{
    int s = http_scheme(uri);
    const char *host;
    size_t hlen;

    if (s == 0 || (s == 1 && http_scheme(issuer) != 1) || strlen(uri) != len)
        return 0;
    host = uri + (s == 2 ? 8 : 7);
    hlen = strcspn(host, "/?");
    if (hlen == 0 || memchr(host, '@', hlen) || strchr(uri, '#'))
        return 0;
    for (const char *p = uri; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
            return 0;
    return 1;
}

int px_auth_discovery_parse(const char *doc, size_t len, const char *want_issuer,
                            px_auth_discovery_t *out, const char **why)
{
    json_t *j = NULL, *iss, *uri;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!want_issuer)
        return px_auth__fail(why, PX_AUTH_E_INVALID, "no issuer configured");
    if ((rc = px_auth__load_object(doc, len, PX_AUTH_MAX_DISCOVERY, DISCOVERY_MAX_DEPTH, &j,
                                   why)) != 0)
        return rc;
    iss = json_object_get(j, "issuer");
    uri = json_object_get(j, "jwks_uri");
    if (!json_is_string(iss) || json_string_length(iss) != strlen(want_issuer) ||
        memcmp(json_string_value(iss), want_issuer, strlen(want_issuer)) != 0)
        rc = px_auth__fail(why, PX_AUTH_E_DISCOVERY, "discovery names another issuer");
    else if (!json_is_string(uri) ||
             !jwks_uri_ok(json_string_value(uri), json_string_length(uri), want_issuer))
        rc = px_auth__fail(why, PX_AUTH_E_DISCOVERY, "discovery has no usable jwks_uri");
    else if (!(out->issuer = strdup(json_string_value(iss))) ||
             !(out->jwks_uri = strdup(json_string_value(uri))))
        rc = px_auth__fail(why, PX_AUTH_E_NOMEM, "out of memory");
    json_decref(j);
    if (rc)
        px_auth_discovery_dispose(out);
    return rc;
}

void px_auth_discovery_dispose(px_auth_discovery_t *d)
{
    free(d->issuer);
    free(d->jwks_uri);
    memset(d, 0, sizeof(*d));
}

void px_auth_jwks_cache_init(px_auth_jwks_cache_t *c)
{
    memset(c, 0, sizeof(*c));
    c->attempted_at = INT64_MIN;
    c->min_interval = JWKS_MIN_INTERVAL;
    c->max_age = JWKS_MAX_AGE;
}

void px_auth_jwks_cache_dispose(px_auth_jwks_cache_t *c)
{
    px_auth_keyset_free(c->keys);
    c->keys = NULL;
}

int px_auth_jwks_cache_should_fetch(px_auth_jwks_cache_t *c, int64_t now, int unknown_kid)
{
    int need = !c->keys || now - c->installed_at >= c->max_age || unknown_kid;

    if (!need || (c->attempted_at != INT64_MIN && now - c->attempted_at < c->min_interval))
        return 0;
    c->attempted_at = now;
    return 1;
}

int px_auth_jwks_cache_install(px_auth_jwks_cache_t *c, const char *doc, size_t len, int64_t now,
                               const char **why)
{
    px_auth_keyset_t *ks = NULL;
    int rc = px_auth_keyset_parse(doc, len, &ks, why);

    if (rc)
        return rc;
    px_auth_keyset_free(c->keys);
    c->keys = ks;
    c->installed_at = now;
    return 0;
}
