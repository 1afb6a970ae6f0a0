/* A JWS compact serialization (RFC 7515 §7.1) opened for verification:
 * screened (size, three non-empty strict base64url segments), imported by
 * cjose, its protected header checked (nesting, `crit`, `alg` allowed), its
 * signature verified with one key, its payload read as a claims object.
 * Shared by access tokens (jwt.c) and DPoP proofs (dpop.c). */
#include <string.h>
#include <strings.h>
#include <openssl/err.h>

#include "mcp/schema.h"
#include "private.h"

/* Three non-empty strict base64url segments; the signature's decoded size. */
static int screen(const char *tok, size_t len, size_t *sig_len, const char **why)
{
    const char *dot1 = memchr(tok, '.', len), *dot2, *end = tok + len;

    if (!dot1 || !(dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1))) ||
        memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
        return px_auth__fail(why, PX_AUTH_E_MALFORMED, "not three dot-separated segments");
    if (dot1 == tok || dot2 == dot1 + 1 || dot2 + 1 == end)
        return px_auth__fail(why, PX_AUTH_E_MALFORMED, "empty segment");
    if (!px_auth__b64url_ok(tok, (size_t)(dot1 - tok)) ||
        !px_auth__b64url_ok(dot1 + 1, (size_t)(dot2 - dot1 - 1)) ||
        !px_auth__b64url_ok(dot2 + 1, (size_t)(end - dot2 - 1)))
        return px_auth__fail(why, PX_AUTH_E_MALFORMED, "segment not base64url");
    *sig_len = (size_t)(end - dot2 - 1) * 3 / 4;
    return 0;
}

/* cjose refused a screened token: say why from the header alone. */
static int diagnose(const char *tok, size_t len, const char **why)
{
    size_t hlen = (size_t)((const char *)memchr(tok, '.', len) - tok), n = 0;
    uint8_t *bytes = NULL;
    json_t *hdr = NULL;
    int rc = px_auth__fail(why, PX_AUTH_E_MALFORMED, "header not a JSON object");

    if (!cjose_base64url_decode(tok, hlen, &bytes, &n, NULL))
        return px_auth__fail(why, PX_AUTH_E_NOMEM, "out of memory");
    hdr = json_loadb((const char *)bytes, n, 0, NULL);
    if (json_is_object(hdr)) {
        if (!json_is_string(json_object_get(hdr, "alg")))
            rc = px_auth__fail(why, PX_AUTH_E_MALFORMED, "header without alg");
        else
            rc = px_auth__fail(why, PX_AUTH_E_ALG, "algorithm not allowed");
    }
    json_decref(hdr);
    cjose_get_dealloc()(bytes);
    return rc;
}

static int check_header(px_auth_jws_t *j, int depth, unsigned algs, const char **why)
{
    if (mcp_json_deeper_than(j->hdr, depth))
        return px_auth__fail(why, PX_AUTH_E_NESTING, "header nested too deep");
    if (json_object_get(j->hdr, "crit"))
        return px_auth__fail(why, PX_AUTH_E_MALFORMED, "crit header not understood");
    j->alg = px_auth__alg_find(json_string_value(json_object_get(j->hdr, "alg")), algs);
    if (!j->alg)
        return px_auth__fail(why, PX_AUTH_E_ALG, "algorithm not allowed");
    return 0;
}

int px_auth__jws_open(const char *tok, size_t len, size_t max, int depth, unsigned algs,
                      px_auth_jws_t *j, const char **why)
{
    cjose_err err;
    int rc;

    memset(j, 0, sizeof(*j));
    if (len > max || len > PX_AUTH_MAX_TOKEN_HARD)
        return px_auth__fail(why, PX_AUTH_E_TOO_BIG, "token too large");
    if ((rc = screen(tok, len, &j->sig_len, why)) != 0)
        return rc;
    if (!(j->jws = cjose_jws_import(tok, len, &err)))
        return err.code == CJOSE_ERR_NO_MEMORY
                   ? px_auth__fail(why, PX_AUTH_E_NOMEM, "out of memory")
                   : diagnose(tok, len, why);
    j->hdr = (json_t *)cjose_jws_get_protected(j->jws);
    return check_header(j, depth, algs, why);
}

int px_auth__jws_typ_is(const px_auth_jws_t *j, const char *want)
{
    const char *typ = json_string_value(json_object_get(j->hdr, "typ"));

    if (!typ)
        return 0;
    if (strncasecmp(typ, "application/", 12) == 0)
        typ += 12;
    return strcasecmp(typ, want) == 0;
}

int px_auth__jws_verify(const px_auth_jws_t *j, const px_auth_key_t *k, const char **why)
{
    cjose_err err;
    size_t want = k->kty == CJOSE_JWK_KTY_EC ? j->alg->sig_len : k->bytes;

    if (!px_auth__key_fits(k, j->alg))
        return px_auth__fail(why, PX_AUTH_E_ALG, "algorithm does not fit the key");
    if (j->sig_len != want)
        return px_auth__fail(why, PX_AUTH_E_SIGNATURE, "signature has the wrong length");
    if (!cjose_jws_verify(j->jws, k->jwk, &err))
        return err.code == CJOSE_ERR_NO_MEMORY
                   ? px_auth__fail(why, PX_AUTH_E_NOMEM, "out of memory")
                   : px_auth__fail(why, PX_AUTH_E_SIGNATURE, "signature does not verify");
    return 0;
}

int px_auth__jws_claims(const px_auth_jws_t *j, int depth, json_t **claims, const char **why)
{
    uint8_t *p = NULL;
    size_t n = 0;

    *claims = NULL;
    if (!cjose_jws_get_plaintext(j->jws, &p, &n, NULL))
        return px_auth__fail(why, PX_AUTH_E_MALFORMED, "no payload");
    return px_auth__load_object((const char *)p, n, n, depth, claims, why);
}

void px_auth__jws_close(px_auth_jws_t *j)
{
    cjose_jws_release(j->jws);
    memset(j, 0, sizeof(*j));
    ERR_clear_error();
}
