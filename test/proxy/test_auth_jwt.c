/* Access tokens, key sets and discovery documents (proxy/auth/), driven by
 * the fixtures under test/fixtures/proxy/auth/ (written by its gen.py from
 * each case's recipe), so a new case needs no new C:
 *   jwt/<case>/{jwks.json, token | token.json "parts", config.json, want}
 *   jwks/<case>/{jwks.json, want}      discovery/<case>/{doc.json, config.json, want}
 * `want` is "<code>[ <words the reason contains>]" ("ok <n>" for a key set
 * of n keys). Every refusal's reason is also checked to be fit for a
 * WWW-Authenticate header and to echo nothing of the token. Then what
 * tables cannot say: the key cache's fetch rate, the algorithm list, the
 * error names, a token at exactly the size cap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth_cases.h"

#define MIN_JWT_CASES       60 /* the tables as written: a lost folder fails */
#define MIN_JWKS_CASES      20
#define MIN_DISCOVERY_CASES 12

/* token.json's "parts": [{"text": s} | {"repeat": s, "count": n}] joined. */
static char *expand_parts(const json_t *parts, size_t *len)
{
    size_t n = 0, off = 0, i;
    json_t *p;
    char *buf;

    json_array_foreach(parts, i, p)
    {
        const char *s = json_string_value(json_object_get(p, "text"));

        n += s ? strlen(s)
               : strlen(json_string_value(json_object_get(p, "repeat"))) *
                     (size_t)json_integer_value(json_object_get(p, "count"));
    }
    assert_non_null(buf = malloc(n + 1));
    json_array_foreach(parts, i, p)
    {
        const char *s = json_string_value(json_object_get(p, "text"));
        json_int_t times = s ? 1 : json_integer_value(json_object_get(p, "count"));

        if (!s)
            s = json_string_value(json_object_get(p, "repeat"));
        for (json_int_t t = 0; t < times; t++, off += strlen(s))
            memcpy(buf + off, s, strlen(s));
    }
    buf[off] = '\0';
    *len = off;
    return buf;
}

static char *read_token(const char *dir, size_t *len)
{
    char path[512], *tok;
    json_t *recipe;

    tu_pathf(path, sizeof(path), "%s/token", dir);
    if ((tok = tu_read_file(path, len)))
        return tok;
    tu_pathf(path, sizeof(path), "%s/token.json", dir);
    recipe = tu_load_json(path);
    tok = expand_parts(json_object_get(recipe, "parts"), len);
    json_decref(recipe);
    return tok;
}

static px_auth_keyset_t *load_keyset(const char *dir)
{
    char path[512], *doc;
    const char *why = NULL;
    px_auth_keyset_t *ks = NULL;
    size_t len = 0;

    tu_pathf(path, sizeof(path), "%s/jwks.json", dir);
    assert_non_null(doc = tu_read_file(path, &len));
    if (px_auth_keyset_parse(doc, len, &ks, &why) != 0)
        fail_msg("%s: %s", path, why);
    free(doc);
    return ks;
}

/* config.json: issuer, audience, now, skew, and optional algs, typ, max_token. */
static int64_t load_config(const char *dir, json_t **cfgj, px_auth_config_t *cfg)
{
    char path[512];
    const char *algs, *why;

    tu_pathf(path, sizeof(path), "%s/config.json", dir);
    *cfgj = tu_load_json(path);
    px_auth_config_init(cfg);
    cfg->issuer = json_string_value(json_object_get(*cfgj, "issuer"));
    cfg->audience = json_string_value(json_object_get(*cfgj, "audience"));
    cfg->skew = json_integer_value(json_object_get(*cfgj, "skew"));
    cfg->typ = json_string_value(json_object_get(*cfgj, "typ"));
    if (json_object_get(*cfgj, "max_token"))
        cfg->max_token = (size_t)json_integer_value(json_object_get(*cfgj, "max_token"));
    if ((algs = json_string_value(json_object_get(*cfgj, "algs"))) &&
        px_auth_algs_parse(algs, &cfg->algs, &why) != 0)
        fail_msg("%s: algs: %s", path, why);
    return json_integer_value(json_object_get(*cfgj, "now"));
}

static int run_jwt_case(const char *dir)
{
    px_auth_config_t cfg;
    px_auth_keyset_t *ks = load_keyset(dir);
    json_t *cfgj, *claims = (json_t *)1;
    const char *why = NULL;
    size_t len = 0;
    char *tok = read_token(dir, &len);
    int64_t now = load_config(dir, &cfgj, &cfg);
    want_t w;
    int rc, failed;

    assert_int_equal(want_read(dir, &w), 0);
    rc = px_auth_jwt_verify(&cfg, ks, tok, len, now, &claims, &why);
    failed = want_check(dir, &w, rc, why, tok, len);
    if (rc == 0 && !json_equal(json_object_get(claims, "iss"), json_object_get(cfgj, "issuer")))
        failed = case_failed(dir, "claims without the issuer");
    if (rc != 0 && claims != NULL)
        failed = case_failed(dir, "claims left on failure");
    json_decref(claims);
    json_decref(cfgj);
    free(tok);
    px_auth_keyset_free(ks);
    return failed;
}

static int run_jwks_case(const char *dir)
{
    char path[512], *doc;
    const char *why = NULL;
    px_auth_keyset_t *ks = (px_auth_keyset_t *)1;
    size_t len = 0;
    want_t w;
    int rc, failed;

    tu_pathf(path, sizeof(path), "%s/jwks.json", dir);
    assert_non_null(doc = tu_read_file(path, &len));
    assert_int_equal(want_read(dir, &w), 0);
    rc = px_auth_keyset_parse(doc, len, &ks, &why);
    failed = want_check(dir, &w, rc, why, NULL, 0);
    if (rc == 0 && w.count >= 0 && px_auth_keyset_count(ks) != (size_t)w.count)
        failed = case_failed(dir, "%zu keys kept, want %ld", px_auth_keyset_count(ks), w.count);
    if (rc != 0 && ks != NULL)
        failed = case_failed(dir, "key set left on failure");
    px_auth_keyset_free(ks);
    free(doc);
    return failed;
}

static int run_discovery_case(const char *dir)
{
    char path[512], *doc;
    const char *why = NULL;
    px_auth_discovery_t d;
    json_t *cfgj;
    size_t len = 0;
    want_t w;
    int rc, failed;

    tu_pathf(path, sizeof(path), "%s/doc.json", dir);
    assert_non_null(doc = tu_read_file(path, &len));
    tu_pathf(path, sizeof(path), "%s/config.json", dir);
    cfgj = tu_load_json(path);
    assert_int_equal(want_read(dir, &w), 0);
    rc = px_auth_discovery_parse(doc, len, json_string_value(json_object_get(cfgj, "issuer")), &d,
                                 &why);
    failed = want_check(dir, &w, rc, why, NULL, 0);
    if (rc == 0 &&
        (!d.jwks_uri || strcmp(d.issuer, json_string_value(json_object_get(cfgj, "issuer"))) != 0))
        failed = case_failed(dir, "issuer or jwks_uri not returned");
    px_auth_discovery_dispose(&d);
    json_decref(cfgj);
    free(doc);
    return failed;
}

static void run_table(const char *kind, int (*run)(const char *), int min)
{
    char root[256], dir[512], **cases;
    int n = 0, failed = 0;

    tu_pathf(root, sizeof(root), "%s/%s", AUTH_FIXTURES, kind);
    cases = tu_list_dirs(root);
    for (char **c = cases; *c; c++, n++) {
        tu_pathf(dir, sizeof(dir), "%s/%s", root, *c);
        failed += run(dir);
    }
    tu_free_list(cases);
    printf("%s: %d cases, %d failed\n", kind, n, failed);
    assert_true(n >= min);
    assert_int_equal(failed, 0);
}

static void test_jwt_table(void **state)
{
    (void)state;
    run_table("jwt", run_jwt_case, MIN_JWT_CASES);
}

static void test_jwks_table(void **state)
{
    (void)state;
    run_table("jwks", run_jwks_case, MIN_JWKS_CASES);
}

static void test_discovery_table(void **state)
{
    (void)state;
    run_table("discovery", run_discovery_case, MIN_DISCOVERY_CASES);
}

/* The size cap is inclusive: a token of exactly max_token bytes is parsed. */
static void test_size_cap_edge(void **state)
{
    const char *dir = AUTH_FIXTURES "/jwt/valid_rs256", *why = NULL;
    px_auth_keyset_t *ks = load_keyset(dir);
    px_auth_config_t cfg;
    json_t *cfgj, *claims = NULL;
    size_t len = 0;
    char *tok = read_token(dir, &len);
    int64_t now = load_config(dir, &cfgj, &cfg);

    (void)state;
    cfg.max_token = len;
    assert_int_equal(px_auth_jwt_verify(&cfg, ks, tok, len, now, &claims, &why), 0);
    json_decref(claims);
    cfg.max_token = len - 1;
    assert_int_equal(px_auth_jwt_verify(&cfg, ks, tok, len, now, &claims, &why), PX_AUTH_E_TOO_BIG);
    assert_null(claims);
    cfg.issuer = NULL;
    assert_int_equal(px_auth_jwt_verify(&cfg, ks, tok, len, now, &claims, &why), PX_AUTH_E_INVALID);
    json_decref(cfgj);
    free(tok);
    px_auth_keyset_free(ks);
}

/* The cache fetches when it has nothing, when its keys are old, and on an
 * unknown kid, but never twice within min_interval; a bad JWKS keeps the
 * old keys. */
static void test_jwks_cache(void **state)
{
    const char *why = NULL;
    px_auth_jwks_cache_t c;
    size_t len = 0;
    char *good = tu_read_file(AUTH_FIXTURES "/jwks/ok_every_type/jwks.json", &len);

    (void)state;
    assert_non_null(good);
    px_auth_jwks_cache_init(&c);
    assert_int_equal(px_auth_jwks_cache_should_fetch(&c, 1000, 0), 1);
    assert_int_equal(px_auth_jwks_cache_should_fetch(&c, 1001, 0), 0); /* rate */
    assert_int_equal(px_auth_jwks_cache_install(&c, good, len, 1002, &why), 0);
    assert_int_equal(px_auth_keyset_count(c.keys), 4);
    assert_int_equal(px_auth_jwks_cache_should_fetch(&c, 1003, 0), 0); /* fresh */
    assert_int_equal(px_auth_jwks_cache_should_fetch(&c, 1030, 1), 0); /* kid, too soon */
    assert_int_equal(px_auth_jwks_cache_should_fetch(&c, 1060, 1), 1); /* kid, allowed */
    for (int64_t t = 1061; t < 1120; t++)                              /* a kid per request */
        assert_int_equal(px_auth_jwks_cache_should_fetch(&c, t, 1), 0);
    assert_int_equal(px_auth_jwks_cache_install(&c, "{\"keys\":[]}", 11, 1100, &why),
                     PX_AUTH_E_JWKS);
    assert_int_equal(px_auth_keyset_count(c.keys), 4);                        /* kept */
    assert_int_equal(px_auth_jwks_cache_should_fetch(&c, 1002 + 3600, 0), 1); /* old */
    px_auth_jwks_cache_dispose(&c);
    free(good);
}

static void test_algs_parse(void **state)
{
    static const char *const bad[] = {"",       "HS256",        "none",
                                      "RS256,", "RS256,,ES256", "rs256",
                                      "EdDSA",  "RS256,HS512",  "RS2560000000000000"};
    const char *why = NULL;
    unsigned mask = 0;

    (void)state;
    assert_int_equal(px_auth_algs_parse("RS256,ES256", &mask, &why), 0);
    assert_int_equal(mask, PX_AUTH_RS256 | PX_AUTH_ES256);
    assert_int_equal(
        px_auth_algs_parse("RS256,RS384,RS512,PS256,PS384,PS512,ES256,ES384,ES512", &mask, &why),
        0);
    assert_int_equal(mask, PX_AUTH_ALGS_ALL);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(px_auth_algs_parse(bad[i], &mask, &why), PX_AUTH_E_ALG);
}

static void test_names_and_helpers(void **state)
{
    char url[128];
    json_t *claims = json_pack("{s:{s:s}}", "cnf", "jkt", "abc");

    (void)state;
    assert_string_equal(px_auth_err_name(PX_AUTH_OK), "ok");
    assert_string_equal(px_auth_err_name(PX_AUTH_E_UNKNOWN_KID), "unknown_kid");
    assert_string_equal(px_auth_err_name(PX_AUTH_E_NOMEM), "nomem");
    assert_string_equal(px_auth_err_name(-99), "unknown");
    assert_string_equal(px_auth_err_name(3), "unknown");
    assert_string_equal(px_auth_claims_jkt(claims), "abc");
    assert_null(px_auth_claims_jkt(json_object_get(claims, "cnf")));
    assert_int_equal(px_auth_discovery_url("https://issuer.example.com/", url, sizeof(url)), 0);
    assert_string_equal(url, "https://issuer.example.com/.well-known/openid-configuration");
    assert_int_equal(px_auth_discovery_url("https://h/realms/x", url, sizeof(url)), 0);
    assert_string_equal(url, "https://h/realms/x/.well-known/openid-configuration");
    assert_int_equal(px_auth_discovery_url("ftp://h", url, sizeof(url)), PX_AUTH_E_INVALID);
    assert_int_equal(px_auth_discovery_url("https://h", url, 10), PX_AUTH_E_INVALID);
    json_decref(claims);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jwt_table),         cmocka_unit_test(test_jwks_table),
        cmocka_unit_test(test_discovery_table),   cmocka_unit_test(test_size_cap_edge),
        cmocka_unit_test(test_jwks_cache),        cmocka_unit_test(test_algs_parse),
        cmocka_unit_test(test_names_and_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
