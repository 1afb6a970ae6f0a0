/* DPoP proofs (proxy/auth/dpop.c, RFC 9449), driven by fixtures so a new
 * case needs no new C:
 *   dpop/<case>/{proof, access_token, claims.json, config.json, want}
 * (gen.py writes them from proof.json; config.json holds the request's
 * method and URI, the clock, the window, and no_claims / no_access_token
 * to leave those out), the htu normal forms (htu.txt, one "<uri> <normal>"
 * or "<uri> !" a line) and JWK thumbprints (thumbprints.json, with the
 * RFC 7638 and RFC 9449 examples). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth_cases.h"

#define MIN_DPOP_CASES  25
#define MIN_HTU_CASES   40
#define MIN_THUMBPRINTS 10

static char *read_in(const char *dir, const char *name, size_t *len)
{
    char path[512];

    tu_pathf(path, sizeof(path), "%s/%s", dir, name);
    return tu_read_file(path, len);
}

static int run_dpop_case(const char *dir)
{
    char path[512], jti[300], *proof, *at;
    const char *why = NULL, *base = strrchr(dir, '/') + 1;
    px_auth_dpop_req_t req;
    px_auth_dpop_result_t out;
    json_t *cfg, *claims;
    size_t plen = 0, atlen = 0;
    want_t w;
    int rc, failed;

    tu_pathf(path, sizeof(path), "%s/config.json", dir);
    cfg = tu_load_json(path);
    tu_pathf(path, sizeof(path), "%s/claims.json", dir);
    claims = tu_load_json(path);
    assert_non_null(proof = read_in(dir, "proof", &plen));
    assert_non_null(at = read_in(dir, "access_token", &atlen));
    assert_int_equal(want_read(dir, &w), 0);
    px_auth_dpop_req_init(&req);
    req.method = json_string_value(json_object_get(cfg, "method"));
    req.uri = json_string_value(json_object_get(cfg, "uri"));
    req.now = json_integer_value(json_object_get(cfg, "now"));
    req.window = json_integer_value(json_object_get(cfg, "window"));
    req.skew = json_integer_value(json_object_get(cfg, "skew"));
    req.at_claims = json_is_true(json_object_get(cfg, "no_claims")) ? NULL : claims;
    if (!json_is_true(json_object_get(cfg, "no_access_token"))) {
        req.access_token = at;
        req.access_token_len = atlen;
    }
    rc = px_auth_dpop_verify(&req, proof, plen, &out, &why);
    failed = want_check(dir, &w, rc, why, proof, plen);
    tu_pathf(jti, sizeof(jti), "proof-%s", base);
    if (rc == 0 && (strcmp(out.jti, jti) != 0 || strlen(out.jkt) != PX_AUTH_JKT_LEN ||
                    out.iat != req.now - 10))
        failed =
            case_failed(dir, "result jti=%s jkt=%s iat=%lld", out.jti, out.jkt, (long long)out.iat);
    if (rc == 0 && req.at_claims && strcmp(out.jkt, px_auth_claims_jkt(claims)) != 0)
        failed = case_failed(dir, "jkt is not the bound one");
    if (rc != 0 && out.jti[0])
        failed = case_failed(dir, "jti left on failure");
    free(proof);
    free(at);
    json_decref(claims);
    json_decref(cfg);
    return failed;
}

static void test_dpop_table(void **state)
{
    char root[256], dir[512], **cases;
    int n = 0, failed = 0;

    (void)state;
    tu_pathf(root, sizeof(root), "%s/dpop", AUTH_FIXTURES);
    cases = tu_list_dirs(root);
    for (char **c = cases; *c; c++, n++) {
        tu_pathf(dir, sizeof(dir), "%s/%s", root, *c);
        failed += run_dpop_case(dir);
    }
    tu_free_list(cases);
    printf("dpop: %d cases, %d failed\n", n, failed);
    assert_true(n >= MIN_DPOP_CASES);
    assert_int_equal(failed, 0);
}

/* \xHH escapes decoded in place. */
static void unescape(char *s)
{
    char *o = s;

    for (char *i = s; *i; i++) {
        unsigned v;

        if (i[0] == '\\' && i[1] == 'x' && sscanf(i + 2, "%2x", &v) == 1) {
            *o++ = (char)v;
            i += 3;
        } else {
            *o++ = *i;
        }
    }
    *o = '\0';
}

static void test_htu_table(void **state)
{
    char *text = tu_read_file(AUTH_FIXTURES "/htu.txt", NULL), *save = NULL, out[PX_AUTH_MAX_URI];
    int n = 0, failed = 0;

    (void)state;
    assert_non_null(text);
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *sp = strrchr(line, ' ');
        int rc;

        if (line[0] == '#' || !sp)
            continue;
        *sp = '\0';
        unescape(line);
        rc = px_auth_htu_normalize(line, out, sizeof(out));
        n++;
        if (strcmp(sp + 1, "!") == 0 ? rc == 0 : (rc != 0 || strcmp(out, sp + 1) != 0)) {
            fprintf(stderr, "htu.txt: %s: want %s, got %s\n", line, sp + 1, rc ? "refusal" : out);
            failed++;
        }
    }
    free(text);
    printf("htu: %d cases, %d failed\n", n, failed);
    assert_true(n >= MIN_HTU_CASES);
    assert_int_equal(failed, 0);
}

static void test_thumbprints(void **state)
{
    json_t *cases = tu_load_json(AUTH_FIXTURES "/thumbprints.json"), *c;
    char jkt[PX_AUTH_JKT_LEN + 1];
    int failed = 0;
    size_t i;

    (void)state;
    json_array_foreach(cases, i, c)
    {
        const char *want = json_string_value(json_object_get(c, "want")), *why = NULL;
        int rc = px_auth_jwk_thumbprint(json_object_get(c, "jwk"), jkt, &why);

        if (strcmp(rc ? px_auth_err_name(rc) : jkt, want) != 0) {
            fprintf(stderr, "thumbprints.json: %s: want %s, got %s\n",
                    json_string_value(json_object_get(c, "name")), want,
                    rc ? px_auth_err_name(rc) : jkt);
            failed++;
        }
    }
    assert_true(json_array_size(cases) >= MIN_THUMBPRINTS);
    json_decref(cases);
    assert_int_equal(failed, 0);
}

/* A proof is refused when the request side is not set, and its output is
 * zeroed; the size cap holds before parsing. */
static void test_dpop_arguments(void **state)
{
    const char *dir = AUTH_FIXTURES "/dpop/valid", *why = NULL;
    px_auth_dpop_req_t req;
    px_auth_dpop_result_t out;
    size_t plen = 0;
    char *proof = read_in(dir, "proof", &plen);

    (void)state;
    assert_non_null(proof);
    px_auth_dpop_req_init(&req);
    assert_int_equal(px_auth_dpop_verify(&req, proof, plen, &out, &why), PX_AUTH_E_INVALID);
    req.method = "POST";
    req.uri = "https://mcp.example.com/mcp";
    req.now = 1750000000;
    assert_int_equal(px_auth_dpop_verify(&req, proof, plen, &out, &why), 0);
    req.uri = "/mcp"; /* the caller must give an absolute URI */
    assert_int_equal(px_auth_dpop_verify(&req, proof, plen, &out, &why), PX_AUTH_E_INVALID);
    req.uri = "https://mcp.example.com/mcp";
    req.max_proof = plen - 1;
    assert_int_equal(px_auth_dpop_verify(&req, proof, plen, &out, &why), PX_AUTH_E_TOO_BIG);
    assert_string_equal(out.jti, "");
    free(proof);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dpop_table),
        cmocka_unit_test(test_htu_table),
        cmocka_unit_test(test_thumbprints),
        cmocka_unit_test(test_dpop_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
