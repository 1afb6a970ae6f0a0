/* Access-token verification (RFC 7519 §7.2 with RFC 8725's hardening):
 * open the JWS, check its typ, find the key by kid (kid-less keys in JWKS
 * order otherwise), verify, then check the claims. The claims are read
 * only after the signature holds. */
#include <string.h>

#include "private.h"

void px_auth_config_init(px_auth_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->algs = PX_AUTH_ALGS_ALL;
    cfg->skew = PX_AUTH_DEF_SKEW;
    cfg->max_token = PX_AUTH_DEF_MAX_TOKEN;
    cfg->max_depth = PX_AUTH_DEF_MAX_DEPTH;
}

/* Explicit typing (RFC 8725 §3.11): the configured typ, and never a DPoP
 * proof (RFC 9449 §4.2) taken for an access token. */
static int typ_ok(const px_auth_config_t *cfg, const px_auth_jws_t *j, const char **why)
{
    if (cfg->typ ? !px_auth__jws_typ_is(j, cfg->typ) : px_auth__jws_typ_is(j, "dpop+jwt"))
        return px_auth__fail(why, PX_AUTH_E_TYP, "wrong token type");
    return 0;
}

/* Try the keys that pass match() and fit the alg; *seen counts those that
 * passed match() whether they fit or not. 0 on the first that verifies. */
static int try_keys(const px_auth_keyset_t *ks, const px_auth_jws_t *j, const char *kid, int *seen,
                    int *tried, const char **why)
{
    int rc = PX_AUTH_E_SIGNATURE;

    for (size_t i = 0; i < ks->n; i++) {
        const px_auth_key_t *k = &ks->keys[i];

        if (kid ? !k->kid || strcmp(k->kid, kid) != 0 : k->kid != NULL)
            continue;
        (*seen)++;
        if (!px_auth__key_fits(k, j->alg))
            continue;
        (*tried)++;
        if ((rc = px_auth__jws_verify(j, k, why)) == 0 || rc == PX_AUTH_E_NOMEM)
            return rc;
    }
    return rc;
}

static int verify_signature(const px_auth_keyset_t *ks, const px_auth_jws_t *j, const char **why)
{
    json_t *kidv = json_object_get(j->hdr, "kid");
    const char *kid = json_string_value(kidv);
    int seen = 0, tried = 0, rc;

    if (kidv && (!kid || strlen(kid) != json_string_length(kidv)))
        return px_auth__fail(why, PX_AUTH_E_MALFORMED, "kid not a string");
    if (kid) {
        rc = try_keys(ks, j, kid, &seen, &tried, why);
        if (rc == 0 || rc == PX_AUTH_E_NOMEM || tried)
            return rc; /* with the last key's reason */
        if (seen)
            return px_auth__fail(why, PX_AUTH_E_ALG, "algorithm does not fit the key");
    }
    seen = 0;
    rc = try_keys(ks, j, NULL, &seen, &tried, why);
    if (rc == 0 || rc == PX_AUTH_E_NOMEM)
        return rc;
    if (kid) /* even when kid-less keys were tried: the set may be old */
        return px_auth__fail(why, PX_AUTH_E_UNKNOWN_KID, "no key with this kid");
    if (tried)
        return rc;
    return px_auth__fail(why, PX_AUTH_E_NO_KEY, "no key for this token");
}

int px_auth_jwt_verify(const px_auth_config_t *cfg, const px_auth_keyset_t *ks, const char *token,
                       size_t len, int64_t now, json_t **claims, const char **why)
{
    int depth = cfg && cfg->max_depth > 0 ? cfg->max_depth : PX_AUTH_DEF_MAX_DEPTH;
    px_auth_jws_t j;
    int rc;

    *claims = NULL;
    if (!cfg || !cfg->issuer || !cfg->audience || !ks || !token)
        return px_auth__fail(why, PX_AUTH_E_INVALID, "verifier not configured");
    rc = px_auth__jws_open(token, len, cfg->max_token ? cfg->max_token : PX_AUTH_DEF_MAX_TOKEN,
                           depth, cfg->algs, &j, why);
    if (rc == 0)
        rc = typ_ok(cfg, &j, why);
    if (rc == 0)
        rc = verify_signature(ks, &j, why);
    if (rc == 0)
        rc = px_auth__jws_claims(&j, depth, claims, why);
    if (rc == 0)
        rc = px_auth__claims_check(cfg, *claims, now, why);
    px_auth__jws_close(&j);
    if (rc) {
        json_decref(*claims);
        *claims = NULL;
    }
    return rc;
}
