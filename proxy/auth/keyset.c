/* A JWKS document (RFC 7517 §5) as a key set: the signature keys we can
 * use, in document order, each imported once so that verifying a token
 * costs no key parsing. Keys we cannot use are skipped, as §5 asks. */
#include <stdlib.h>
#include <string.h>
#include <openssl/err.h>

#include "private.h"

#define JWKS_MAX_DEPTH 8 /* {"keys":[{"x5c":[...]}]} is 3 */

/* `use` (§4.2) and `key_ops` (§4.3) allow signature verification? */
static int for_verify(const json_t *jwk)
{
    json_t *use = json_object_get(jwk, "use"), *ops = json_object_get(jwk, "key_ops"), *op;
    size_t i;

    if (use && !(json_is_string(use) && strcmp(json_string_value(use), "sig") == 0))
        return 0;
    if (!ops)
        return 1;
    json_array_foreach(ops, i, op)
    {
        if (json_is_string(op) && strcmp(json_string_value(op), "verify") == 0)
            return 1;
    }
    return 0;
}

static int add_keys(px_auth_keyset_t *ks, const json_t *keys, const char **why)
{
    json_t *jwk;
    size_t i;

    json_array_foreach(keys, i, jwk)
    {
        const char *skip = NULL;
        int rc;

        if (ks->n == PX_AUTH_MAX_KEYS)
            break;
        if (!for_verify(jwk))
            continue;
        rc = px_auth__key_import(jwk, &ks->keys[ks->n], &skip);
        if (rc == PX_AUTH_E_NOMEM)
            return px_auth__fail(why, rc, "out of memory");
        if (rc == 0)
            ks->n++;
    }
    return 0;
}

int px_auth_keyset_parse(const char *json, size_t len, px_auth_keyset_t **out, const char **why)
{
    px_auth_keyset_t *ks = NULL;
    json_t *doc = NULL, *keys;
    int rc;

    *out = NULL;
    if ((rc = px_auth__load_object(json, len, PX_AUTH_MAX_JWKS, JWKS_MAX_DEPTH, &doc, why)) != 0)
        goto out;
    if (!json_is_array(keys = json_object_get(doc, "keys"))) {
        rc = px_auth__fail(why, PX_AUTH_E_MALFORMED, "JWKS without a keys array");
        goto out;
    }
    ks = calloc(1, sizeof(*ks) + PX_AUTH_MAX_KEYS * sizeof(ks->keys[0]));
    if (!ks) {
        rc = px_auth__fail(why, PX_AUTH_E_NOMEM, "out of memory");
        goto out;
    }
    if ((rc = add_keys(ks, keys, why)) == 0 && ks->n == 0)
        rc = px_auth__fail(why, PX_AUTH_E_JWKS, "JWKS has no usable signature key");
out:
    json_decref(doc);
    ERR_clear_error(); /* what cjose left of the keys it could not import */
    if (rc)
        px_auth_keyset_free(ks);
    else
        *out = ks;
    return rc;
}

void px_auth_keyset_free(px_auth_keyset_t *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; i < ks->n; i++)
        px_auth__key_dispose(&ks->keys[i]);
    free(ks);
}

size_t px_auth_keyset_count(const px_auth_keyset_t *ks)
{
    return ks ? ks->n : 0;
}
