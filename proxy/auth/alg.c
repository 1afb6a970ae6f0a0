/* The JWS algorithms this room verifies (RFC 7518 §3.1), as a table: each
 * with the key type and, for ECDSA, the one curve and the signature length
 * RFC 7518 §3.4 gives it. HMAC and `none` are not rows: with public keys
 * they can only be attacks (RFC 8725 §2.1, §3.1). */
#include <string.h>
#include <openssl/obj_mac.h>

#include "private.h"

static const px_auth_alg_t algs[] = {
    {"RS256", PX_AUTH_RS256, CJOSE_JWK_KTY_RSA, 0, 0},
    {"RS384", PX_AUTH_RS384, CJOSE_JWK_KTY_RSA, 0, 0},
    {"RS512", PX_AUTH_RS512, CJOSE_JWK_KTY_RSA, 0, 0},
    {"PS256", PX_AUTH_PS256, CJOSE_JWK_KTY_RSA, 0, 0},
    {"PS384", PX_AUTH_PS384, CJOSE_JWK_KTY_RSA, 0, 0},
    {"PS512", PX_AUTH_PS512, CJOSE_JWK_KTY_RSA, 0, 0},
    {"ES256", PX_AUTH_ES256, CJOSE_JWK_KTY_EC, NID_X9_62_prime256v1, 64},
    {"ES384", PX_AUTH_ES384, CJOSE_JWK_KTY_EC, NID_secp384r1, 96},
    {"ES512", PX_AUTH_ES512, CJOSE_JWK_KTY_EC, NID_secp521r1, 132},
};

const px_auth_alg_t *px_auth__alg_find(const char *name, unsigned mask)
{
    if (!name)
        return NULL;
    if (!mask)
        mask = PX_AUTH_ALGS_ALL;
    for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
        if (strcmp(algs[i].name, name) == 0)
            return (algs[i].bit & mask) ? &algs[i] : NULL;
    return NULL;
}

int px_auth_algs_parse(const char *csv, unsigned *mask, const char **why)
{
    char name[16];

    *mask = 0;
    for (const char *p = csv; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        size_t n = strcspn(p, ",");
        const px_auth_alg_t *a;

        if (n == 0 || n >= sizeof(name))
            return px_auth__fail(why, PX_AUTH_E_ALG, "unknown algorithm in list");
        memcpy(name, p, n);
        name[n] = '\0';
        if (!(a = px_auth__alg_find(name, 0)))
            return px_auth__fail(why, PX_AUTH_E_ALG, "unknown algorithm in list");
        *mask |= a->bit;
    }
    if (!*mask)
        return px_auth__fail(why, PX_AUTH_E_ALG, "empty algorithm list");
    return 0;
}

int px_auth__key_fits(const px_auth_key_t *k, const px_auth_alg_t *a)
{
    if (k->kty != a->kty || (a->crv && k->crv != a->crv))
        return 0;
    return k->alg[0] == '\0' || strcmp(k->alg, a->name) == 0;
}
