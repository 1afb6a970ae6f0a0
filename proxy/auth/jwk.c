/* One public JWK (RFC 7517 §4, RFC 7518 §6): screened, then imported by
 * cjose; and its RFC 7638 thumbprint. The screens keep from cjose what it
 * would take too kindly: private members (it imports private keys), lax
 * base64url, RSA moduli too small to trust or big enough to make every
 * verification slow, and exponents of any length. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>

#include "private.h"

#define RSA_MAX_E_CHARS 11 /* base64url of 8 bytes: OpenSSL's public exponent limit is 64 bits */

static const struct curve {
    const char *name;
    int nid;
} curves[] = {
    {"P-256", NID_X9_62_prime256v1},
    {"P-384", NID_secp384r1},
    {"P-521", NID_secp521r1},
};

int px_auth__jwk_has_private(const json_t *jwk)
{
    static const char *const priv[] = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"};

    for (size_t i = 0; i < sizeof(priv) / sizeof(priv[0]); i++)
        if (json_object_get(jwk, priv[i]))
            return 1;
    return 0;
}

/* The member name of jwk as a strict base64url string (at most max
 * letters), or NULL. */
static const char *b64_member(const json_t *jwk, const char *name, size_t max)
{
    const char *s = json_string_value(json_object_get(jwk, name));
    size_t n = s ? json_string_length(json_object_get(jwk, name)) : 0;

    return s && n > 0 && n <= max && strlen(s) == n && px_auth__b64url_ok(s, n) ? s : NULL;
}

static int curve_nid(const json_t *jwk)
{
    const char *crv = json_string_value(json_object_get(jwk, "crv"));

    for (size_t i = 0; crv && i < sizeof(curves) / sizeof(curves[0]); i++)
        if (strcmp(curves[i].name, crv) == 0)
            return curves[i].nid;
    return 0;
}

/* kty, the required members and their form (RFC 7518 §6.2.1, §6.3.1). */
static int screen(const json_t *jwk, int *kty, int *crv, const char **why)
{
    const char *t = json_string_value(json_object_get(jwk, "kty"));

    if (!json_is_object(jwk) || !t)
        return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "key without kty");
    if (px_auth__jwk_has_private(jwk))
        return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "key has private members");
    if (strcmp(t, "RSA") == 0) {
        *kty = CJOSE_JWK_KTY_RSA;
        if (!b64_member(jwk, "n", 1366) || !b64_member(jwk, "e", RSA_MAX_E_CHARS))
            return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "RSA key without a usable n or e");
        return 0;
    }
    if (strcmp(t, "EC") == 0) {
        *kty = CJOSE_JWK_KTY_EC;
        if (!(*crv = curve_nid(jwk)))
            return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "EC key on an unsupported curve");
        if (!b64_member(jwk, "x", 88) || !b64_member(jwk, "y", 88))
            return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "EC key without a usable x or y");
        return 0;
    }
    return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "key type not supported");
}

/* The JWK's own `alg` into k->alg: one of ours, or "-" (fits none). */
static int copy_alg(const json_t *jwk, px_auth_key_t *k, const char **why)
{
    json_t *alg = json_object_get(jwk, "alg");

    if (!alg)
        return 0;
    if (!json_is_string(alg))
        return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "key alg not a string");
    snprintf(k->alg, sizeof(k->alg), "%s",
             px_auth__alg_find(json_string_value(alg), 0) ? json_string_value(alg) : "-");
    return 0;
}

static int copy_kid(const json_t *jwk, px_auth_key_t *k, const char **why)
{
    json_t *kid = json_object_get(jwk, "kid");

    if (!kid)
        return 0;
    if (!json_is_string(kid) || strlen(json_string_value(kid)) != json_string_length(kid))
        return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "key kid not a string");
    if (!(k->kid = strdup(json_string_value(kid))))
        return px_auth__fail(why, PX_AUTH_E_NOMEM, "out of memory");
    return 0;
}

int px_auth__key_import(const json_t *jwk, px_auth_key_t *k, const char **why)
{
    cjose_err err;
    int rc;

    memset(k, 0, sizeof(*k));
    if ((rc = screen(jwk, &k->kty, &k->crv, why)) != 0 || (rc = copy_alg(jwk, k, why)) != 0 ||
        (rc = copy_kid(jwk, k, why)) != 0)
        goto out;
    /* cjose says "no memory" for a point off the curve too: any failure is the key's */
    k->jwk = cjose_jwk_import_json((cjose_header_t *)jwk, &err);
    if (!k->jwk) {
        rc = px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "key not importable");
        goto out;
    }
    k->bytes = cjose_jwk_get_keysize(k->jwk, NULL) / 8;
    if (k->kty == CJOSE_JWK_KTY_RSA &&
        (k->bytes < PX_AUTH_RSA_MIN_BITS / 8 || k->bytes > PX_AUTH_RSA_MAX_BITS / 8))
        rc = px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "RSA key size out of range");
out:
    if (rc)
        px_auth__key_dispose(k);
    return rc;
}

void px_auth__key_dispose(px_auth_key_t *k)
{
    if (k->jwk)
        cjose_jwk_release(k->jwk);
    free(k->kid);
    memset(k, 0, sizeof(*k));
}

int px_auth_jwk_thumbprint(const json_t *jwk, char *out, const char **why)
{
    unsigned char md[32];
    char canon[1600];
    int kty = 0, crv = 0, n, rc;

    if ((rc = screen(jwk, &kty, &crv, why)) != 0)
        return rc;
    /* RFC 7638 §3.2: the required members only, sorted, no whitespace; our
     * values are base64url or curve names, so nothing needs escaping */
    if (kty == CJOSE_JWK_KTY_RSA)
        n = snprintf(canon, sizeof(canon), "{\"e\":\"%s\",\"kty\":\"RSA\",\"n\":\"%s\"}",
                     json_string_value(json_object_get(jwk, "e")),
                     json_string_value(json_object_get(jwk, "n")));
    else
        n = snprintf(canon, sizeof(canon),
                     "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
                     json_string_value(json_object_get(jwk, "crv")),
                     json_string_value(json_object_get(jwk, "x")),
                     json_string_value(json_object_get(jwk, "y")));
    if (n < 0 || (size_t)n >= sizeof(canon) ||
        EVP_Digest(canon, (size_t)n, md, NULL, EVP_sha256(), NULL) != 1 ||
        px_auth__b64url_encode(md, sizeof(md), out, PX_AUTH_JKT_LEN + 1) != 0)
        return px_auth__fail(why, PX_AUTH_E_NOMEM, "thumbprint failed");
    return 0;
}
