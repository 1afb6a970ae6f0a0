/* Bearer-token verification for mcp-proxy (DESIGN §9): the pure core the
 * request path will call. A JWKS (RFC 7517) becomes a key set; an access
 * token (a JWS compact JWT, RFC 7515/7519) is checked against the key set,
 * an algorithm allow-list, `iss`, `aud` (RFC 8707's resource), `exp`, `nbf`
 * and `iat` with a skew; a DPoP proof (RFC 9449) against the request and the
 * token it comes with; an OpenID discovery document (OIDC Discovery 1.0 §4)
 * for its `issuer` and `jwks_uri`. JOSE itself is cjose's (signature, JWK
 * import, base64url); this room only screens what cjose is handed (sizes,
 * the compact form, strict base64url, nesting, private key members, which
 * algorithm fits which key) and checks the claims.
 *
 * No I/O here: the proxy fetches the discovery document and the JWKS through
 * px_auth_jwks_source_t and hands the bytes to px_auth_jwks_cache_install.
 * Nothing touches global state but OpenSSL's per-thread error queue, which
 * every function leaves empty (h2o's TLS reads it).
 *
 * Errors: a function returns PX_AUTH_OK (0) or a negative px_auth_err_t, and
 * sets *why (when why is non-NULL) to a short static English phrase that
 * never contains anything from the input, fit for
 *   WWW-Authenticate: Bearer error="invalid_token", error_description="<why>"
 * (RFC 6750 §3): no quote, backslash or control character.
 *
 * The room (STYLE.md, "The proxy's rooms"): auth.h (this API), private.h
 * (what its files share, prefix px_auth__), compact.c (the screens and the
 * error names), alg.c, jwk.c, keyset.c, claims.c, jwt.c, htu.c, dpop.c,
 * discovery.c. It includes common/ at most, never another room. */
#ifndef PX_AUTH_H
#define PX_AUTH_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

/* Named caps and defaults. */
#define PX_AUTH_DEF_MAX_TOKEN   ((size_t)16 << 10)  /* bytes of a token or proof */
#define PX_AUTH_MAX_TOKEN_HARD  ((size_t)1 << 20)   /* above any max_token: cjose counts in int */
#define PX_AUTH_DEF_MAX_DEPTH   16                  /* JSON nesting of header and claims */
#define PX_AUTH_DEF_SKEW        60                  /* seconds of clock skew, exp/nbf/iat */
#define PX_AUTH_DEF_DPOP_WINDOW 300                 /* seconds a DPoP proof's iat stays good */
#define PX_AUTH_MAX_JWKS        ((size_t)256 << 10) /* bytes of a JWKS document */
#define PX_AUTH_MAX_DISCOVERY   ((size_t)64 << 10)  /* bytes of a discovery document */
#define PX_AUTH_MAX_KEYS        64                  /* usable keys kept from one JWKS */
#define PX_AUTH_MAX_JTI         256                 /* bytes of a DPoP jti */
#define PX_AUTH_MAX_URI         2048                /* bytes of an htu, either side */
#define PX_AUTH_JKT_LEN         43 /* base64url of a SHA-256, no padding (RFC 7638 §3) */
#define PX_AUTH_RSA_MIN_BITS    2048
#define PX_AUTH_RSA_MAX_BITS    8192

typedef enum px_auth_err {
    PX_AUTH_OK = 0,
    PX_AUTH_E_TOO_BIG = -1,       /* over a size cap, refused before parsing */
    PX_AUTH_E_MALFORMED = -2,     /* not three non-empty strict base64url segments, not JSON */
    PX_AUTH_E_NESTING = -3,       /* JSON nested deeper than the cap */
    PX_AUTH_E_ALG = -4,           /* alg not allowed (none, HMAC, unknown) or not the key's */
    PX_AUTH_E_UNKNOWN_KID = -5,   /* no key with this kid: refresh the JWKS, bounded */
    PX_AUTH_E_NO_KEY = -6,        /* no kid, and no kid-less key fits the alg */
    PX_AUTH_E_SIGNATURE = -7,     /* the signature does not verify */
    PX_AUTH_E_TYP = -8,           /* typ header wrong (explicit typing, RFC 8725 §3.11) */
    PX_AUTH_E_ISSUER = -9,        /* iss missing or not the configured issuer */
    PX_AUTH_E_AUDIENCE = -10,     /* aud missing or without the configured audience */
    PX_AUTH_E_EXPIRED = -11,      /* exp passed (beyond the skew) */
    PX_AUTH_E_NOT_YET = -12,      /* nbf or iat in the future (beyond the skew) */
    PX_AUTH_E_CLAIMS = -13,       /* a claim missing or of the wrong type (exp, ...) */
    PX_AUTH_E_DPOP_KEY = -14,     /* the proof's jwk missing, private, or unusable */
    PX_AUTH_E_DPOP_HTM = -15,     /* htm is not the request's method */
    PX_AUTH_E_DPOP_HTU = -16,     /* htu is not the request's URI */
    PX_AUTH_E_DPOP_IAT = -17,     /* iat missing or outside the window */
    PX_AUTH_E_DPOP_JTI = -18,     /* jti missing, not a string, or too long */
    PX_AUTH_E_DPOP_BINDING = -19, /* cnf.jkt missing or not the proof key's thumbprint */
    PX_AUTH_E_DPOP_ATH = -20,     /* ath missing or not the access token's hash */
    PX_AUTH_E_JWKS = -21,         /* a JWKS document unusable (no key left) */
    PX_AUTH_E_DISCOVERY = -22,    /* a discovery document unusable, or another issuer's */
    PX_AUTH_E_INVALID = -23,      /* a bad argument or configuration (caller's error) */
    PX_AUTH_E_NOMEM = -24,
} px_auth_err_t;

/* The error's short name, as the fixtures' `want` files write it
 * ("ok", "too_big", "unknown_kid", "dpop_htu", ...); static, never NULL. */
const char *px_auth_err_name(int err);

/* ---- algorithms (RFC 7518 §3.1) ------------------------------------------------------- */

/* One bit per JWS algorithm this room verifies; EdDSA is absent because
 * cjose 0.6.2.1 has no OKP keys. HMAC (HS*) and `none` have no bit at all:
 * every key here is public, so they can never be allowed. */
enum {
    PX_AUTH_RS256 = 1u << 0,
    PX_AUTH_RS384 = 1u << 1,
    PX_AUTH_RS512 = 1u << 2,
    PX_AUTH_PS256 = 1u << 3,
    PX_AUTH_PS384 = 1u << 4,
    PX_AUTH_PS512 = 1u << 5,
    PX_AUTH_ES256 = 1u << 6,
    PX_AUTH_ES384 = 1u << 7,
    PX_AUTH_ES512 = 1u << 8,
};
#define PX_AUTH_ALGS_ALL 0x1ffu

/* Parse a comma-separated list of algorithm names ("RS256,ES256") into a
 * mask. Unknown names, HS*, none and an empty list give PX_AUTH_E_ALG. */
int px_auth_algs_parse(const char *csv, unsigned *mask, const char **why);

/* ---- key sets (RFC 7517 §5) ----------------------------------------------------------- */

typedef struct px_auth_keyset px_auth_keyset_t;

/* Parse a JWKS document (json, len bytes, no NUL needed) into a new key set.
 * Kept: RSA (2048..8192 bits) and EC P-256/384/521 public keys whose `use`,
 * if any, is "sig" and whose `key_ops`, if any, has "verify". Ignored, as
 * RFC 7517 §5 asks: unknown kty (oct and OKP included), keys with private
 * members (d, p, q, dp, dq, qi, oth, k), keys cjose cannot import, and
 * keys beyond PX_AUTH_MAX_KEYS. Over PX_AUTH_MAX_JWKS bytes: TOO_BIG; not
 * JSON, nested over 16, no `keys` array: MALFORMED / NESTING; no usable key
 * left: PX_AUTH_E_JWKS. Returns 0 and *out (free with px_auth_keyset_free). */
int px_auth_keyset_parse(const char *json, size_t len, px_auth_keyset_t **out, const char **why);
/* Free ks and its keys; NULL is a no-op. */
void px_auth_keyset_free(px_auth_keyset_t *ks);
/* Number of keys kept (0 for NULL). */
size_t px_auth_keyset_count(const px_auth_keyset_t *ks);

/* ---- access tokens (RFC 7519 §7.2, RFC 8725, RFC 9068) -------------------------------- */

typedef struct px_auth_config {
    const char *issuer;   /* required; `iss` must equal it byte for byte (RFC 7519 §4.1.1) */
    const char *audience; /* required; `aud` (string or array) must contain it (§4.1.3) */
    unsigned algs;        /* PX_AUTH_* mask; 0 means PX_AUTH_ALGS_ALL */
    int64_t skew;         /* seconds allowed on exp, nbf, iat; default PX_AUTH_DEF_SKEW */
    size_t max_token;     /* bytes; default PX_AUTH_DEF_MAX_TOKEN */
    int max_depth;        /* JSON nesting; default PX_AUTH_DEF_MAX_DEPTH */
    /* NULL: any `typ` but a DPoP proof's; else the header's typ must be
     * this, with or without "application/" (e.g. "at+jwt", RFC 9068 §2.1). */
    const char *typ;
} px_auth_config_t;

/* Set cfg's defaults (issuer and audience NULL: the caller sets them). */
void px_auth_config_init(px_auth_config_t *cfg);

/* Verify token (len bytes, no NUL needed) at time now (seconds since the
 * epoch) against cfg (borrowed) and ks (borrowed, never changed). In order:
 * size (TOO_BIG before any parsing), compact form and strict base64url
 * (RFC 7515 §7.1, RFC 4648 §5: MALFORMED), header JSON and nesting, `crit`
 * refused (RFC 7515 §4.1.11), `typ`, `alg` in cfg->algs (never none or HS*,
 * RFC 8725 §3.1-3.2), the key: by `kid` (none with it: UNKNOWN_KID), else
 * the kid-less keys in JWKS order (none: NO_KEY), and only keys whose type,
 * curve and own `alg` fit the token's alg (RFC 7518 §3.4: ES256 only with
 * P-256); the signature (SIGNATURE); then the claims, parsed with
 * duplicates refused: `iss`, `aud`, `exp` required and now < exp + skew
 * (EXPIRED), `nbf` <= now + skew and `iat` <= now + skew (NOT_YET).
 * Returns 0 and *claims (a new reference to the payload object), or an
 * error with *claims NULL. */
int px_auth_jwt_verify(const px_auth_config_t *cfg, const px_auth_keyset_t *ks, const char *token,
                       size_t len, int64_t now, json_t **claims, const char **why);

/* The claims' `cnf.jkt` (RFC 9449 §6.1), borrowed from claims, or NULL when
 * the token is not DPoP-bound. A bound token presented without a proof must
 * be refused by the caller. */
const char *px_auth_claims_jkt(const json_t *claims);

/* ---- DPoP proofs (RFC 9449 §4) -------------------------------------------------------- */

typedef struct px_auth_dpop_req {
    const char *method;       /* the request's method, e.g. "POST" (§4.3 check 8) */
    const char *uri;          /* the request's absolute URI, scheme://host[:port]/path[?query] */
    const char *access_token; /* the token it came with, or NULL (proof alone, no ath) */
    size_t access_token_len;
    /* The access token's verified claims (borrowed), or NULL: then no
     * binding check. Non-NULL: cnf.jkt must be there and be the proof
     * key's thumbprint (§6.1, §7.1). */
    const json_t *at_claims;
    int64_t now;      /* seconds since the epoch */
    int64_t window;   /* iat may be this many seconds old; default PX_AUTH_DEF_DPOP_WINDOW */
    int64_t skew;     /* and this many ahead; default PX_AUTH_DEF_SKEW */
    unsigned algs;    /* PX_AUTH_* mask; 0 means all */
    size_t max_proof; /* bytes; default PX_AUTH_DEF_MAX_TOKEN */
} px_auth_dpop_req_t;

/* Set req's defaults (all pointers NULL, now 0: the caller sets them). */
void px_auth_dpop_req_init(px_auth_dpop_req_t *req);

typedef struct px_auth_dpop_result {
    char jti[PX_AUTH_MAX_JTI + 1]; /* for the caller's replay cache (§11.1) */
    int64_t iat;                   /* the proof's iat: the cache may drop it after the window */
    char jkt[PX_AUTH_JKT_LEN + 1]; /* the proof key's RFC 7638 thumbprint */
} px_auth_dpop_result_t;

/* Verify a DPoP proof (the DPoP header's value, len bytes) for req, RFC 9449
 * §4.3: the compact screens as for tokens; header `typ` "dpop+jwt" (TYP),
 * `alg` asymmetric and allowed (ALG), `jwk` a public RSA or EC key with no
 * private member (DPOP_KEY) that fits alg, the signature with that key;
 * claims `jti` (DPOP_JTI), `htm` equal to req->method (DPOP_HTM), `htu`
 * equal to req->uri once both are normalized (RFC 3986 §6.2.2-6.2.3, query
 * and fragment dropped; DPOP_HTU), `iat` in [now - window - skew, now +
 * skew] (DPOP_IAT); `ath` required and equal to base64url(SHA-256(access
 * token)) when access_token is given (§4.2, §7.1; DPOP_ATH); cnf.jkt when
 * at_claims is given (DPOP_BINDING). Server nonces (§8-9) are not checked.
 * Returns 0 and fills *out; the caller must still refuse a jti it has seen
 * within the window. */
int px_auth_dpop_verify(const px_auth_dpop_req_t *req, const char *proof, size_t len,
                        px_auth_dpop_result_t *out, const char **why);

/* The RFC 7638 thumbprint of a public RSA or EC JWK (jwk borrowed): the
 * base64url SHA-256 of its required members in lexicographic order, into
 * out (PX_AUTH_JKT_LEN + 1 bytes, NUL-terminated). DPOP_KEY when jwk is
 * not a well-formed RSA or EC key. */
int px_auth_jwk_thumbprint(const json_t *jwk, char *out, const char **why);

/* Normalize an http(s) URI for the htu comparison (RFC 9449 §4.3 check 9):
 * scheme and host lowercased, default port dropped, percent-encodings
 * uppercased and unreserved ones decoded, dot segments removed, empty path
 * "/", query and fragment dropped; userinfo refused. Writes a NUL-terminated
 * string of at most outlen - 1 bytes. 0 or PX_AUTH_E_DPOP_HTU. */
int px_auth_htu_normalize(const char *uri, char *out, size_t outlen);

/* ---- discovery and the JWKS behind one small interface -------------------------------- */

/* The I/O the proxy supplies later: fetch url (https, or http only when the
 * issuer is http; url borrowed for the call) reading at most max_bytes;
 * return 0 and call done exactly once, on the caller's loop, with the HTTP
 * status (0 when no answer: refused, timed out, over max_bytes) and the
 * body (borrowed for the call), or return nonzero and never call done. No
 * redirects to other hosts; a deadline of the caller's choosing. The
 * discovery document first (px_auth_discovery_url, PX_AUTH_MAX_DISCOVERY
 * bytes) unless a jwks_uri is configured, then the JWKS (PX_AUTH_MAX_JWKS). */
typedef void (*px_auth_fetch_done_cb)(void *done_ctx, int status, const char *body, size_t len);
typedef struct px_auth_jwks_source {
    int (*fetch)(void *ctx, const char *url, size_t max_bytes, px_auth_fetch_done_cb done,
                 void *done_ctx);
    void *ctx;
} px_auth_jwks_source_t;

/* The discovery document's URL for issuer: issuer without a trailing "/"
 * then "/.well-known/openid-configuration" (OIDC Discovery §4). Into out
 * (outlen bytes); 0 or PX_AUTH_E_INVALID when it does not fit or issuer
 * is not http(s). */
int px_auth_discovery_url(const char *issuer, char *out, size_t outlen);

typedef struct px_auth_discovery {
    char *issuer;   /* owned */
    char *jwks_uri; /* owned */
} px_auth_discovery_t;

/* Parse an OpenID Provider Configuration (doc, len bytes) and check it:
 * `issuer` equal to want_issuer (OIDC Discovery §4.3, byte for byte),
 * `jwks_uri` a string, https (http only when the issuer is http), no
 * userinfo or fragment. Returns 0 and fills *out (free its strings with
 * px_auth_discovery_dispose), or TOO_BIG / MALFORMED / NESTING /
 * DISCOVERY with *out zeroed. */
int px_auth_discovery_parse(const char *doc, size_t len, const char *want_issuer,
                            px_auth_discovery_t *out, const char **why);
/* Free d's strings and zero it (a zeroed d is fine). */
void px_auth_discovery_dispose(px_auth_discovery_t *d);

/* The key set the proxy holds and when to fetch it again: caller-allocated,
 * px_auth_jwks_cache_init / _dispose. Times in seconds since the epoch. */
typedef struct px_auth_jwks_cache {
    px_auth_keyset_t *keys; /* owned; NULL until a JWKS was installed */
    int64_t installed_at;   /* when keys came */
    int64_t attempted_at;   /* the last fetch started (INT64_MIN: never) */
    int64_t min_interval;   /* seconds between fetches caused by unknown kids (60) */
    int64_t max_age;        /* seconds after which keys are fetched again anyway (3600) */
} px_auth_jwks_cache_t;

/* No keys, never attempted, min_interval 60 s, max_age 3600 s. */
void px_auth_jwks_cache_init(px_auth_jwks_cache_t *c);
/* Free the keys (c stays usable, empty). */
void px_auth_jwks_cache_dispose(px_auth_jwks_cache_t *c);
/* Should a fetch start now? Yes when there are no keys, when they are older
 * than max_age, or when unknown_kid is set; but never twice within
 * min_interval (a token with a made-up kid cannot make us fetch per
 * request). Records the attempt when it says yes. 1 or 0. */
int px_auth_jwks_cache_should_fetch(px_auth_jwks_cache_t *c, int64_t now, int unknown_kid);
/* Install a fetched JWKS (doc, len bytes): on success the old keys are
 * freed and the new ones used from now on; on failure (px_auth_keyset_parse's
 * errors) the old keys stay. */
int px_auth_jwks_cache_install(px_auth_jwks_cache_t *c, const char *doc, size_t len, int64_t now,
                               const char **why);

#endif
