/* TLS helpers shared by both daemons: load a PEM certificate chain and key
 * into a new server SSL_CTX (TLS >= 1.2), and watch files for changes. */
#ifndef MCP_TLS_H
#define MCP_TLS_H

#include <stddef.h>
#include <time.h>
#include <openssl/ssl.h>

/* Returns a new SSL_CTX (caller owns: SSL_CTX_free) with the chain and key
 * loaded and checked to match, min protocol TLS 1.2, whose TLS 1.2 suites
 * are ECDHE with AEAD ciphers only; or NULL with a message in err[errlen]. */
SSL_CTX *mcp_tls_server_ctx_new(const char *cert_file, const char *key_file, char *err,
                                size_t errlen);

/* A cheap fingerprint of a file's current identity (follows symlinks, so a
 * Kubernetes Secret volume's ..data swap changes it). 0 when missing. */
typedef struct mcp_file_id {
    unsigned long long dev, ino, size;
    long long mtime_ns;
} mcp_file_id_t;
void mcp_file_id(const char *path, mcp_file_id_t *out);
int mcp_file_id_equal(const mcp_file_id_t *a, const mcp_file_id_t *b);

#endif
