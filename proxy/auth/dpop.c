/* DPoP proof verification (RFC 9449 §4.3), pure: the proof is a JWS whose
 * header carries its own public key; it must be signed by that key, name
 * this request (htm, htu), be fresh (iat), carry a jti for the caller's
 * replay cache, hash the access token it comes with (ath), and the access
 * token must be bound to that key (cnf.jkt, §6.1). */
#include <string.h>
#include <openssl/evp.h>

#include "private.h"

void px_auth_dpop_req_init(px_auth_dpop_req_t *req)
{
    memset(req, 0, sizeof(*req));
    req->window = PX_AUTH_DEF_DPOP_WINDOW;
    req->skew = PX_AUTH_DEF_SKEW;
    req->algs = PX_AUTH_ALGS_ALL;
    req->max_proof = PX_AUTH_DEF_MAX_TOKEN;
}

/* The header's jwk (§4.2: a public key, never a private one), imported,
 * and its thumbprint. */
static int proof_key(const px_auth_jws_t *j, px_auth_key_t *k, char *jkt, const char **why)
{
    json_t *jwk = json_object_get(j->hdr, "jwk");
    int rc;

    if (!json_is_object(jwk))
        return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "proof without a jwk");
    if (px_auth__jwk_has_private(jwk))
        return px_auth__fail(why, PX_AUTH_E_DPOP_KEY, "proof key has private members");
    if ((rc = px_auth__key_import(jwk, k, why)) != 0)
        return rc; /* DPOP_KEY or NOMEM */
    return px_auth_jwk_thumbprint(jwk, jkt, why);
}

static int check_jti(const json_t *claims, px_auth_dpop_result_t *out, const char **why)
{
    json_t *jti = json_object_get(claims, "jti");
    size_t n = json_string_length(jti);

    if (!json_is_string(jti) || n == 0 || n > PX_AUTH_MAX_JTI ||
        strlen(json_string_value(jti)) != n)
        return px_auth__fail(why, PX_AUTH_E_DPOP_JTI, "proof without a usable jti");
    memcpy(out->jti, json_string_value(jti), n + 1);
    return 0;
}

/* htm (§4.3 check 8, case-sensitive as methods are) and htu (check 9). */
static int check_request(const px_auth_dpop_req_t *req, const json_t *claims, const char **why)
{
    const char *htm = json_string_value(json_object_get(claims, "htm"));
    const char *htu = json_string_value(json_object_get(claims, "htu"));
    char want[PX_AUTH_MAX_URI], got[PX_AUTH_MAX_URI];

    if (!htm || strcmp(htm, req->method) != 0)
        return px_auth__fail(why, PX_AUTH_E_DPOP_HTM, "proof for another method");
    if (px_auth_htu_normalize(req->uri, want, sizeof(want)) != 0)
        return px_auth__fail(why, PX_AUTH_E_INVALID, "request URI not absolute http(s)");
    if (!htu || px_auth_htu_normalize(htu, got, sizeof(got)) != 0 || strcmp(want, got) != 0)
        return px_auth__fail(why, PX_AUTH_E_DPOP_HTU, "proof for another URI");
    return 0;
}

/* iat (§4.3 check 11, §11.1): within the window, not ahead beyond the skew. */
static int check_iat(const px_auth_dpop_req_t *req, const json_t *claims,
                     px_auth_dpop_result_t *out, const char **why)
{
    double iat = 0;

    if (px_auth__claim_time(claims, "iat", &iat) != 0)
        return px_auth__fail(why, PX_AUTH_E_DPOP_IAT, "proof without iat");
    if (iat < (double)(req->now - req->window - req->skew) || iat > (double)(req->now + req->skew))
        return px_auth__fail(why, PX_AUTH_E_DPOP_IAT, "proof iat outside the window");
    out->iat = (int64_t)iat;
    return 0;
}

/* ath (§4.2, §7.1): base64url(SHA-256(the access token's ASCII)). */
static int check_ath(const px_auth_dpop_req_t *req, const json_t *claims, const char **why)
{
    const char *ath = json_string_value(json_object_get(claims, "ath"));
    unsigned char md[32];
    char want[PX_AUTH_JKT_LEN + 1];

    if (!req->access_token)
        return 0;
    if (EVP_Digest(req->access_token, req->access_token_len, md, NULL, EVP_sha256(), NULL) != 1 ||
        px_auth__b64url_encode(md, sizeof(md), want, sizeof(want)) != 0)
        return px_auth__fail(why, PX_AUTH_E_NOMEM, "hash failed");
    if (!ath || strcmp(ath, want) != 0)
        return px_auth__fail(why, PX_AUTH_E_DPOP_ATH, "proof not for this access token");
    return 0;
}

/* cnf.jkt of the access token (§6.1) is the proof key's thumbprint. */
static int check_binding(const px_auth_dpop_req_t *req, const char *jkt, const char **why)
{
    const char *bound;

    if (!req->at_claims)
        return 0;
    if (!(bound = px_auth_claims_jkt(req->at_claims)))
        return px_auth__fail(why, PX_AUTH_E_DPOP_BINDING, "access token not DPoP-bound");
    if (strcmp(bound, jkt) != 0)
        return px_auth__fail(why, PX_AUTH_E_DPOP_BINDING, "proof key is not the token's");
    return 0;
}

static int check_claims(const px_auth_dpop_req_t *req, const json_t *claims,
                        px_auth_dpop_result_t *out, const char **why)
{
    int rc;

    if ((rc = check_jti(claims, out, why)) == 0 && (rc = check_request(req, claims, why)) == 0 &&
        (rc = check_iat(req, claims, out, why)) == 0 && (rc = check_ath(req, claims, why)) == 0)
        rc = check_binding(req, out->jkt, why);
    return rc;
}

int px_auth_dpop_verify(const px_auth_dpop_req_t *req, const char *proof, size_t len,
                        px_auth_dpop_result_t *out, const char **why)
{
    px_auth_key_t key = {0};
    px_auth_jws_t j;
    json_t *claims = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!req || !req->method || !req->uri || !proof)
        return px_auth__fail(why, PX_AUTH_E_INVALID, "DPoP check not configured");
    rc = px_auth__jws_open(proof, len, req->max_proof ? req->max_proof : PX_AUTH_DEF_MAX_TOKEN,
                           PX_AUTH_DEF_MAX_DEPTH, req->algs, &j, why);
    if (rc == 0 && !px_auth__jws_typ_is(&j, "dpop+jwt"))
        rc = px_auth__fail(why, PX_AUTH_E_TYP, "proof typ is not dpop+jwt");
    if (rc == 0)
        rc = proof_key(&j, &key, out->jkt, why);
    if (rc == 0)
        rc = px_auth__jws_verify(&j, &key, why);
    if (rc == 0)
        rc = px_auth__jws_claims(&j, PX_AUTH_DEF_MAX_DEPTH, &claims, why);
    if (rc == 0)
        rc = check_claims(req, claims, out, why);
    json_decref(claims);
    px_auth__key_dispose(&key);
    px_auth__jws_close(&j);
    if (rc)
        memset(out, 0, sizeof(*out));
    return rc;
}
