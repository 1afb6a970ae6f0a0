/* What the files of proxy/auth/ share (prefix px_auth__, libuv's internal
 * style): the screens in front of cjose, the algorithm table, imported keys,
 * and an opened JWS. cjose's types stay in here, out of auth.h. */
#ifndef PX_AUTH_PRIVATE_H
#define PX_AUTH_PRIVATE_H

#include <cjose/cjose.h>

#include "auth.h"

/* Set *why (when why is non-NULL) and return err: `return px_auth__fail(why, E, "...")`. */
int px_auth__fail(const char **why, int err, const char *text);

/* ---- compact.c: the screens ----------------------------------------------------------- */

/* Is s[0..n) strict base64url (RFC 4648 §5, no padding, RFC 7515 §2): only
 * the 64 letters, n % 4 != 1, and the unused low bits of the last letter
 * zero (one encoding per value)? cjose's decoder is lax (it stops at '=',
 * asserts on some lengths), so everything it decodes passes here first. */
int px_auth__b64url_ok(const char *s, size_t n);
/* Base64url (no padding) of bin into out (outlen bytes, NUL-terminated):
 * 0, or -1 when it does not fit. */
int px_auth__b64url_encode(const uint8_t *bin, size_t n, char *out, size_t outlen);
/* Does the JSON text nest arrays and objects more than max deep? A byte
 * scan (strings skipped), run before jansson builds a tree. */
int px_auth__json_too_deep(const char *s, size_t n, int max);
/* Parse a JSON object document of at most cap bytes nested at most depth:
 * 0 and *out (new reference), else TOO_BIG / NESTING / MALFORMED. */
int px_auth__load_object(const char *s, size_t n, size_t cap, int depth, json_t **out,
                         const char **why);

/* ---- alg.c ---------------------------------------------------------------------------- */

typedef struct px_auth_alg {
    const char *name; /* "RS256" */
    unsigned bit;     /* PX_AUTH_RS256 */
    int kty;          /* CJOSE_JWK_KTY_RSA or _EC */
    int crv;          /* EC: the curve's NID (RFC 7518 §3.4); RSA: 0 */
    size_t sig_len;   /* EC: R || S bytes; RSA: 0 (the modulus size) */
} px_auth_alg_t;

/* The allowed algorithm named name (mask 0 = all), or NULL. */
const px_auth_alg_t *px_auth__alg_find(const char *name, unsigned mask);

/* ---- jwk.c: one public key ------------------------------------------------------------ */

typedef struct px_auth_key {
    cjose_jwk_t *jwk; /* owned */
    char *kid;        /* owned; NULL when the JWK has none */
    char alg[8];      /* the JWK's own `alg`, "" when none (RFC 7517 §4.4) */
    int kty;          /* CJOSE_JWK_KTY_RSA or _EC */
    int crv;          /* EC: the curve's NID */
    size_t bytes;     /* RSA: modulus bytes (the signature's length) */
} px_auth_key_t;

/* Import a public RSA or EC JWK (borrowed) after screening it: kty RSA or
 * EC, no private member, n/e/x/y strict base64url, RSA 2048..8192 bits with
 * a short exponent, a curve we know. 0 and *k (px_auth__key_dispose), or
 * nonzero with *why. */
int px_auth__key_import(const json_t *jwk, px_auth_key_t *k, const char **why);
void px_auth__key_dispose(px_auth_key_t *k);
/* May key k verify a signature made with alg a (type, curve, its own alg)? */
int px_auth__key_fits(const px_auth_key_t *k, const px_auth_alg_t *a);
/* Does the JWK have a private member (RFC 7518 §6.2.2, §6.3.2, §6.4)? */
int px_auth__jwk_has_private(const json_t *jwk);

/* ---- keyset.c ------------------------------------------------------------------------- */

struct px_auth_keyset {
    size_t n;
    px_auth_key_t keys[];
};

/* ---- jws.c: a JWS compact serialization opened by cjose ------------------------------- */

typedef struct px_auth_jws {
    cjose_jws_t *jws;         /* owned */
    json_t *hdr;              /* borrowed from jws */
    const px_auth_alg_t *alg; /* the header's, allowed */
    size_t sig_len;           /* the signature's decoded bytes */
} px_auth_jws_t;

/* Screen (size cap, three non-empty strict base64url segments) then let
 * cjose import the token; check the header's nesting, `crit` (refused) and
 * alg against algs. 0 and *j (px_auth__jws_close, also on failure). */
int px_auth__jws_open(const char *tok, size_t len, size_t max, int depth, unsigned algs,
                      px_auth_jws_t *j, const char **why);
/* The header's `typ` without "application/", case-insensitively equal to want? */
int px_auth__jws_typ_is(const px_auth_jws_t *j, const char *want);
/* Does the signature verify with k (which must fit j->alg)? 0 or SIGNATURE. */
int px_auth__jws_verify(const px_auth_jws_t *j, const px_auth_key_t *k, const char **why);
/* The payload as a JSON object (duplicates refused, nesting capped). */
int px_auth__jws_claims(const px_auth_jws_t *j, int depth, json_t **claims, const char **why);
/* Release, and empty OpenSSL's error queue. */
void px_auth__jws_close(px_auth_jws_t *j);

/* ---- claims.c ------------------------------------------------------------------------- */

/* A NumericDate claim (RFC 7519 §2): 0 and *t when present and a number,
 * 1 when absent, -1 when of another type. */
int px_auth__claim_time(const json_t *claims, const char *name, double *t);
/* iss, aud, exp, nbf, iat of verified claims against cfg at now (seconds). */
int px_auth__claims_check(const px_auth_config_t *cfg, const json_t *claims, int64_t now,
                          const char **why);

#endif
