/* The server TLS context (mcp_tls_server_ctx_new): real handshakes over an
 * in-memory BIO pair, with RSA and ECDSA certificates made at test time by
 * the openssl command. TLS 1.3 and TLS 1.2 ECDHE+AEAD suites connect; every
 * TLS 1.2 suite without forward secrecy (RSA key exchange, DHE included as
 * not offered) or with CBC (SHA-1 or SHA-2) fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "mcp/tls.h"

static char dir[] = "/tmp/mcp-test-tls-XXXXXX";

static int make_certs(void **state)
{
    char cmd[1024];

    (void)state;
    if (!mkdtemp(dir))
        return -1;
    snprintf(cmd, sizeof(cmd),
             "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=rsa "
             "-keyout rsa.key -out rsa.crt 2>/dev/null && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 "
             "-subj /CN=ec -keyout ec.key -out ec.crt 2>/dev/null",
             dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int remove_certs(void **state)
{
    char cmd[256];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static SSL_CTX *server_ctx(const char *kind)
{
    char crt[256], key[256], err[256];
    SSL_CTX *ctx;

    snprintf(crt, sizeof(crt), "%s/%s.crt", dir, kind);
    snprintf(key, sizeof(key), "%s/%s.key", dir, kind);
    ctx = mcp_tls_server_ctx_new(crt, key, err, sizeof(err));
    if (!ctx)
        fail_msg("%s", err);
    return ctx;
}

/* Handshake a client limited to `version` and `ciphers` (TLS 1.2 names, or
 * TLS 1.3 suites when version is TLS1_3_VERSION) with a server on `sctx`.
 * Returns the negotiated cipher's name, or NULL when the handshake failed. */
static const char *handshake(SSL_CTX *sctx, int version, const char *ciphers)
{
    static char name[64];
    SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
    SSL *c, *s;
    BIO *cb, *sb;
    int cdone = 0, sdone = 0, ok = 0;

    assert_non_null(cctx);
    SSL_CTX_set_min_proto_version(cctx, version);
    SSL_CTX_set_max_proto_version(cctx, version);
    if (version == TLS1_3_VERSION)
        assert_int_equal(SSL_CTX_set_ciphersuites(cctx, ciphers), 1);
    else
        assert_int_equal(SSL_CTX_set_cipher_list(cctx, ciphers), 1);
    c = SSL_new(cctx);
    s = SSL_new(sctx);
    assert_int_equal(BIO_new_bio_pair(&cb, 0, &sb, 0), 1);
    SSL_set_bio(c, cb, cb);
    SSL_set_bio(s, sb, sb);
    SSL_set_connect_state(c);
    SSL_set_accept_state(s);
    for (int i = 0; i < 100 && !(cdone && sdone); i++) {
        int rc;

        if (!cdone && (rc = SSL_do_handshake(c)) <= 0 &&
            SSL_get_error(c, rc) != SSL_ERROR_WANT_READ)
            break;
        cdone = cdone || rc == 1;
        if (!sdone && (rc = SSL_do_handshake(s)) <= 0 &&
            SSL_get_error(s, rc) != SSL_ERROR_WANT_READ)
            break;
        sdone = sdone || rc == 1;
    }
    if (cdone && sdone) {
        snprintf(name, sizeof(name), "%s", SSL_get_cipher_name(c));
        ok = 1;
    }
    ERR_clear_error();
    SSL_free(c);
    SSL_free(s);
    SSL_CTX_free(cctx);
    return ok ? name : NULL;
}

static void check(SSL_CTX *sctx, int version, const char *ciphers, int want_ok)
{
    const char *got = handshake(sctx, version, ciphers);

    if (want_ok && !got)
        fail_msg("handshake with %s failed", ciphers);
    if (!want_ok && got)
        fail_msg("handshake with %s succeeded (%s)", ciphers, got);
}

static void test_tls12_suites(void **state)
{
    static const struct {
        const char *cert, *ciphers;
        int ok;
    } cases[] = {
        {"rsa", "ECDHE-RSA-AES128-GCM-SHA256", 1},
        {"rsa", "ECDHE-RSA-AES256-GCM-SHA384", 1},
        {"rsa", "ECDHE-RSA-CHACHA20-POLY1305", 1},
        {"ec", "ECDHE-ECDSA-AES128-GCM-SHA256", 1},
        {"ec", "ECDHE-ECDSA-CHACHA20-POLY1305", 1},
        /* RSA key exchange: no forward secrecy, AEAD or not */
        {"rsa", "AES128-GCM-SHA256:@SECLEVEL=0", 0},
        {"rsa", "AES256-GCM-SHA384:@SECLEVEL=0", 0},
        {"rsa", "AES128-SHA:@SECLEVEL=0", 0},
        {"rsa", "AES128-SHA256:@SECLEVEL=0", 0},
        /* CBC, even with ECDHE */
        {"rsa", "ECDHE-RSA-AES128-SHA:@SECLEVEL=0", 0},
        {"rsa", "ECDHE-RSA-AES256-SHA384:@SECLEVEL=0", 0},
        {"ec", "ECDHE-ECDSA-AES128-SHA:@SECLEVEL=0", 0},
        {"ec", "ECDHE-ECDSA-AES128-SHA256:@SECLEVEL=0", 0},
        /* finite-field DHE is not offered either */
        {"rsa", "DHE-RSA-AES128-GCM-SHA256:@SECLEVEL=0", 0},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        SSL_CTX *sctx = server_ctx(cases[i].cert);

        check(sctx, TLS1_2_VERSION, cases[i].ciphers, cases[i].ok);
        SSL_CTX_free(sctx);
    }
}

static void test_tls13_and_older(void **state)
{
    SSL_CTX *sctx = server_ctx("rsa");

    (void)state;
    check(sctx, TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256", 1);
    check(sctx, TLS1_3_VERSION, "TLS_CHACHA20_POLY1305_SHA256", 1);
    check(sctx, TLS1_1_VERSION, "ALL:@SECLEVEL=0", 0);
    SSL_CTX_free(sctx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls12_suites),
        cmocka_unit_test(test_tls13_and_older),
    };

    return cmocka_run_group_tests_name("tls", tests, make_certs, remove_certs);
}
