/* The proxy/auth modes of make fuzz-proxy (fuzz_proxy.c picks them by the
 * first input byte, 10 to 13):
 *   10  bytes as a bearer token, against a key set of the fixtures' keys
 *   11  bytes as a JWKS (key set and cache) and as a discovery document
 *   12  bytes as the claims of a token signed here with a fuzz-only key, so
 *       the claim checks run behind a good signature; the next byte picks
 *       the header (kid known, unknown, absent; typ)
 *   13  bytes as a DPoP proof, or (by a byte) as the claims of a proof
 *       signed here; and as a URI for the htu normal form
 * Oracles beyond the sanitizers: every refusal has a name and a reason fit
 * for a quoted-string; no claims or result are left on a refusal; accepted
 * claims pass the checks again when re-done here independently; a key set
 * never holds more than PX_AUTH_MAX_KEYS; the htu normal form is a fixed
 * point. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjose/cjose.h>
#include <openssl/err.h>

#include "../../proxy/auth/auth.h"

#define NOW      1750000000
#define ISSUER   "https://issuer.example.com"
#define AUDIENCE "https://mcp.example.com/mcp"
#define URI      "https://mcp.example.com/mcp"

/* The fixtures' rsa1, ec256 and ec384 public keys (jwt/valid_rs256), and a
 * P-256 key made for this fuzzer only (its private half below). */
static const char jwks_json[] =
    "{\"keys\":[{\"kty\":\"RSA\",\"n\":\"rBzQXIiz_3eJpjWxa4Hs2ptC2qLJkBllHPdvwdwvqul3rWZfsBTexIAeS"
    "kZESzG1DdutW7Jol95mzJ9GK_CXO6Soql2facKn7bgWHVN91kTzGp2BbGPafBCOWhA27Zzut472rCtNcVPYQMb4GmqVB"
    "TvlLQ6fYuhFI3v0Ip-vXzHS-nECU9dol8M-0Oh-yO7u1erAMoFlqCCz31MUEvy888dagfX69IviDTZUOrKwGhmx3ZOtw"
    "2rVLazCetrt7iPhCC6IqPLrAKWtu8C2y0nb4g4O2gG1Xj6tKxF-KWFf9lBgudnAfyUji1BuPUgqQaJPGjduI7m05khPLY3"
    "TSTBFvw\",\"e\":\"AQAB\",\"kid\":\"rsa1\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"BD_Akyoe1rmeZO_-jmb8AXSyK68A_gt25Qyd-27gMK8\","
    "\"y\":\"V0gOZx62tH0HS_jtxv1m5YJJeDjNnvpCoX0AGvjsOkk\",\"kid\":\"ec256\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"Df5MLQSvLvFrvpIJ1tZmIOTgQVHjmejnRx8CWWl5B041CFRJDWak"
    "MIMW8FXEWmjg\",\"y\":\"_gMgxkM-DLMWRhIx3TRtpEHBiYtXuTaMk81itpw4Rf39DPxISIE6_kJ6RFyoLKZq\","
    "\"kid\":\"ec384\"},"
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"Hs-IjhOSxNdy6xubnQBU--9kGciHLtmqJV6HpaIW9n4\","
    "\"y\":\"L0EvJEZirNQwXqz4JXopJW8YhdV7Qemqt2Ar7FkcAAE\",\"kid\":\"fuzz\"}]}";
static const char fuzz_key_json[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"Hs-IjhOSxNdy6xubnQBU--9kGciHLtmqJV6HpaIW9n4\","
    "\"y\":\"L0EvJEZirNQwXqz4JXopJW8YhdV7Qemqt2Ar7FkcAAE\","
    "\"d\":\"x27_oT3rcwdXznLvuLwN0avip7wYaBmr2H9PnBtdXdM\"}";
static const char fuzz_pub_json[] =
    "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"Hs-IjhOSxNdy6xubnQBU--9kGciHLtmqJV6HpaIW9n4\","
    "\"y\":\"L0EvJEZirNQwXqz4JXopJW8YhdV7Qemqt2Ar7FkcAAE\"}";

static px_auth_keyset_t *keys;
static cjose_jwk_t *signer;
static px_auth_config_t cfg;

static void setup(void)
{
    const char *why = NULL;

    if (keys)
        return;
    if (px_auth_keyset_parse(jwks_json, sizeof(jwks_json) - 1, &keys, &why) != 0 ||
        px_auth_keyset_count(keys) != 4 ||
        !(signer = cjose_jwk_import(fuzz_key_json, sizeof(fuzz_key_json) - 1, NULL))) {
        fprintf(stderr, "fuzz_auth: set-up failed: %s\n", why ? why : "the signing key");
        abort();
    }
    px_auth_config_init(&cfg);
    cfg.issuer = ISSUER;
    cfg.audience = AUDIENCE;
}

static void check_refusal(int rc, const char *why)
{
    if (rc >= 0 || strcmp(px_auth_err_name(rc), "unknown") == 0 || !why || !*why)
        abort();
    for (const char *p = why; *p; p++)
        if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\')
            abort();
}

/* Accepted claims, checked again without the room's code. */
static void check_claims(const json_t *c)
{
    json_t *aud = json_object_get(c, "aud"), *a;
    int found = json_is_string(aud) && strcmp(json_string_value(aud), AUDIENCE) == 0;
    size_t i;

    json_array_foreach(aud, i, a)
    {
        found |= json_is_string(a) && strcmp(json_string_value(a), AUDIENCE) == 0;
    }
    if (!json_is_object(c) || !found || !json_is_string(json_object_get(c, "iss")) ||
        strcmp(json_string_value(json_object_get(c, "iss")), ISSUER) != 0 ||
        !json_is_number(json_object_get(c, "exp")) ||
        json_number_value(json_object_get(c, "exp")) + PX_AUTH_DEF_SKEW <= NOW)
        abort();
    if (json_object_get(c, "nbf") &&
        json_number_value(json_object_get(c, "nbf")) > NOW + PX_AUTH_DEF_SKEW)
        abort();
}

static void verify_token(const char *tok, size_t len)
{
    const char *why = NULL;
    json_t *claims = NULL;
    int rc = px_auth_jwt_verify(&cfg, keys, tok, len, NOW, &claims, &why);

    if (rc == 0)
        check_claims(claims);
    else if (claims)
        abort();
    else
        check_refusal(rc, why);
    json_decref(claims);
    if (ERR_peek_error())
        abort(); /* OpenSSL's queue left for h2o's TLS to misread */
}

/* A compact JWS of payload under header, signed with the fuzz key; NULL
 * when cjose refuses (a malloc'd copy). */
static char *sign(json_t *header, const uint8_t *payload, size_t n)
{
    cjose_jws_t *jws = cjose_jws_sign(signer, (cjose_header_t *)header, payload, n, NULL);
    const char *ser = NULL;
    char *out = NULL;

    if (jws && cjose_jws_export(jws, &ser, NULL) && ser)
        out = strdup(ser);
    cjose_jws_release(jws);
    ERR_clear_error();
    return out;
}

static void run_signed_claims(const uint8_t *data, size_t size)
{
    static const char *const kids[] = {"fuzz", "nope", NULL, "ec256"};
    json_t *h;
    char *tok;

    if (size < 1)
        return;
    h = json_pack("{s:s}", "alg", "ES256");
    if (kids[data[0] & 3])
        json_object_set_new(h, "kid", json_string(kids[data[0] & 3]));
    if (data[0] & 4)
        json_object_set_new(h, "typ", json_string(data[0] & 8 ? "dpop+jwt" : "at+jwt"));
    if ((tok = sign(h, data + 1, size - 1)))
        verify_token(tok, strlen(tok));
    free(tok);
    json_decref(h);
}

static void run_jwks(const uint8_t *data, size_t size)
{
    const char *why = NULL;
    px_auth_keyset_t *ks = (px_auth_keyset_t *)1;
    px_auth_discovery_t d;
    px_auth_jwks_cache_t c;
    int rc = px_auth_keyset_parse((const char *)data, size, &ks, &why);

    if (rc == 0 && (px_auth_keyset_count(ks) == 0 || px_auth_keyset_count(ks) > PX_AUTH_MAX_KEYS))
        abort();
    if ((rc != 0 && ks) || ERR_peek_error())
        abort();
    if (rc != 0)
        check_refusal(rc, why);
    px_auth_keyset_free(ks);
    px_auth_jwks_cache_init(&c);
    if (px_auth_jwks_cache_install(&c, (const char *)data, size, NOW, &why) != rc)
        abort();
    px_auth_jwks_cache_dispose(&c);
    rc = px_auth_discovery_parse((const char *)data, size, ISSUER, &d, &why);
    if (rc == 0 ? strcmp(d.issuer, ISSUER) != 0 || strncmp(d.jwks_uri, "https://", 8) != 0
                : (d.issuer || d.jwks_uri))
        abort();
    if (rc)
        check_refusal(rc, why);
    px_auth_discovery_dispose(&d);
    ERR_clear_error();
}

static void verify_proof(const char *proof, size_t len)
{
    px_auth_dpop_req_t req;
    px_auth_dpop_result_t out;
    const char *why = NULL;
    char want[PX_AUTH_MAX_URI];
    int rc;

    px_auth_dpop_req_init(&req);
    req.method = "POST";
    req.uri = URI;
    req.now = NOW;
    rc = px_auth_dpop_verify(&req, proof, len, &out, &why);
    if (rc == 0 &&
        (!out.jti[0] || strlen(out.jkt) != PX_AUTH_JKT_LEN ||
         out.iat < NOW - PX_AUTH_DEF_DPOP_WINDOW - PX_AUTH_DEF_SKEW ||
         out.iat > NOW + PX_AUTH_DEF_SKEW || px_auth_htu_normalize(URI, want, sizeof(want)) != 0))
        abort();
    if (rc)
        check_refusal(rc, why);
    if (rc && out.jti[0])
        abort();
    if (ERR_peek_error())
        abort();
}

static void run_htu(const uint8_t *data, size_t size)
{
    char *s = strndup((const char *)data, size), a[PX_AUTH_MAX_URI], b[PX_AUTH_MAX_URI];

    if (s && px_auth_htu_normalize(s, a, sizeof(a)) == 0 &&
        (px_auth_htu_normalize(a, b, sizeof(b)) != 0 || strcmp(a, b) != 0))
        abort(); /* not a fixed point */
    free(s);
}

static void run_dpop(const uint8_t *data, size_t size)
{
    json_t *h, *jwk;
    char *proof;

    run_htu(data, size);
    if (size < 1 || !(data[0] & 1)) {
        verify_proof((const char *)data + (size > 0), size - (size > 0));
        return;
    }
    jwk = json_loads(fuzz_pub_json, 0, NULL);
    h = json_pack("{s:s,s:s,s:o}", "alg", "ES256", "typ", "dpop+jwt", "jwk", jwk);
    if ((proof = sign(h, data + 1, size - 1)))
        verify_proof(proof, strlen(proof));
    free(proof);
    json_decref(h);
}

void fuzz_auth(unsigned mode, const uint8_t *data, size_t size)
{
    setup();
    switch (mode) {
    case 10:
        verify_token((const char *)data, size);
        break;
    case 11:
        run_jwks(data, size);
        break;
    case 12:
        run_signed_claims(data, size);
        break;
    default:
        run_dpop(data, size);
    }
}
