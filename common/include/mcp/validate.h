/* Validators for the Kubernetes value formats the schema uses. Each returns
 * NULL when the value is valid, or a static string saying what is wrong, in
 * the wording the apiserver uses for the same rule. None allocates. */
#ifndef MCP_VALIDATE_H
#define MCP_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

const char *mcp_check_dns1123_label(const char *s);     /* <= 63, [a-z0-9]([-a-z0-9]*[a-z0-9])? */
const char *mcp_check_dns1123_subdomain(const char *s); /* <= 253, labels joined by '.' */
const char *mcp_check_dns1035_label(const char *s);     /* <= 63, starts with a letter */
const char *mcp_check_label_key(const char *s);         /* [prefix/]name, qualified name */
const char *mcp_check_label_value(const char *s);       /* <= 63, may be empty */
const char *mcp_check_annotation_key(const char *s);    /* qualified name */
const char *mcp_check_env_name(const char *s);          /* [-._a-zA-Z][-._a-zA-Z0-9]* */
const char *mcp_check_secret_key(const char *s);        /* [-._a-zA-Z0-9]+, <= 253 */
const char *mcp_check_image_ref(const char *s);         /* docker reference grammar */
const char *mcp_check_abs_path(const char *s);          /* absolute, no ".." component */
/* An absolute http:// or https:// URL with a host, no whitespace. */
const char *mcp_check_url(const char *s);
/* As mcp_check_url, and https unless the host is in-cluster or local (*.svc,
 * *.svc.cluster.local, *.cluster.local, localhost): where tokens and keys
 * come from (OIDC issuer, JWKS, introspection). */
const char *mcp_check_secure_url(const char *s);

/* A Kubernetes resource quantity held exactly, in nano-units (1 = 1e-9).
 * Fractions below one nano-unit round away from zero, as the apiserver does. */
typedef struct mcp_quantity {
    __int128 nanos;
} mcp_quantity_t;

/* Parse "100m", "0.5", "128Mi", "1G", "1e3", "+1.5E-3". Returns NULL and fills
 * *q, or the apiserver's error text ("must match the regular expression ...")
 * or "quantity is too large". */
const char *mcp_quantity_parse(const char *s, mcp_quantity_t *q);

/* -1, 0, 1 like strcmp. */
int mcp_quantity_cmp(const mcp_quantity_t *a, const mcp_quantity_t *b);

/* The text the apiserver stores for quantity `s` ("0.5" -> "500m", "1024Mi"
 * -> "1Gi", "1000m" -> "1") into out (len >= 48 is enough). Returns out, or
 * NULL when s is not a quantity. */
const char *mcp_quantity_canonical(const char *s, char *out, size_t len);

#endif
