/* TLS helpers shared by both daemons (see mcp/tls.h): build a server
 * SSL_CTX from a PEM chain and key (TLS >= 1.2, key checked against the
 * certificate; TLS 1.2 offers only ECDHE key exchange with AEAD ciphers, so
 * every session is forward-secret and nothing is CBC or SHA-1), and
 * fingerprint files cheaply so a caller can poll for a
 * changed pair. Loading is split into small steps so each failure names the
 * file and the OpenSSL reason once. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "mcp/tls.h"

/* "<what> <file>: <reason>" into err, from the first (root-cause) entry of
 * OpenSSL's error queue; a system error is shown as strerror text. */
static void tls_error(char *err, size_t errlen, const char *what, const char *file)
{
    char reason[256] = "unknown error";
    unsigned long e = ERR_peek_error();

    if (e && ERR_SYSTEM_ERROR(e))
        snprintf(reason, sizeof(reason), "%s", strerror(ERR_GET_REASON(e)));
    else if (e)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    if (err && errlen)
        snprintf(err, errlen, "%s%s%s: %s", what, file ? " " : "", file ? file : "", reason);
}

/* TLS 1.2 suites (TLS 1.3's are all ECDHE/DHE and AEAD already): ECDHE
 * with AES-GCM or ChaCha20-Poly1305, for ECDSA and RSA certificates. */
#define TLS12_CIPHERS                                                                              \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"                                   \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

static int ctx_configure(SSL_CTX *ctx)
{
    static const unsigned char sid_ctx[] = "mcp-operator";

    if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS))
        return -1;
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (!SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1))
        return -1;
    return 0;
}

SSL_CTX *mcp_tls_server_ctx_new(const char *cert_file, const char *key_file, char *err,
                                size_t errlen)
{
    SSL_CTX *ctx;

    ERR_clear_error();
    ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_error(err, errlen, "cannot create a TLS context", NULL);
        return NULL;
    }
    if (ctx_configure(ctx) != 0) {
        tls_error(err, errlen, "cannot configure the TLS context", NULL);
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
        tls_error(err, errlen, "cannot load the certificate chain from", cert_file);
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
        tls_error(err, errlen, "cannot load the private key from", key_file);
        goto fail;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        tls_error(err, errlen, "the private key does not match the certificate in", cert_file);
        goto fail;
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

void mcp_file_id(const char *path, mcp_file_id_t *out)
{
    struct stat st;

    memset(out, 0, sizeof(*out));
    if (!path || stat(path, &st) != 0)
        return;
    out->dev = (unsigned long long)st.st_dev;
    out->ino = (unsigned long long)st.st_ino;
    out->size = (unsigned long long)st.st_size;
    out->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
}

int mcp_file_id_equal(const mcp_file_id_t *a, const mcp_file_id_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns;
}
