/* Callers: the verified claims of an access token, counted references
 * (internal.h). The key names the principal (issuer and subject) without
 * holding either in the clear, so caps and session ownership can be keyed
 * on it and logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "internal.h"

px_caller_t *px_caller_new(const json_t *claims, int64_t exp)
{
    const char *sub = json_string_value(json_object_get(claims, "sub"));
    const char *iss = json_string_value(json_object_get(claims, "iss"));
    unsigned char md[EVP_MAX_MD_SIZE];
    size_t il = iss ? strlen(iss) : 0, sl = sub ? strlen(sub) : 0;
    char *both;
    px_caller_t *c;

    if (!sub || !*sub || !(c = calloc(1, sizeof(*c))))
        return NULL;
    c->refs = 1;
    c->exp = exp;
    c->sub = strdup(sub);
    c->claims = json_dumps(claims, JSON_COMPACT);
    if (!c->sub || !c->claims) {
        px_caller_unref(c);
        return NULL;
    }
    c->claims_len = strlen(c->claims);
    if (!(both = malloc(il + 1 + sl))) { /* iss NUL sub: the NUL separates */
        px_caller_unref(c);
        return NULL;
    }
    memcpy(both, iss ? iss : "", il);
    both[il] = '\0';
    memcpy(both + il + 1, sub, sl);
    if (!EVP_Digest(both, il + 1 + sl, md, NULL, EVP_sha256(), NULL)) {
        free(both);
        px_caller_unref(c);
        return NULL;
    }
    free(both);
    memcpy(c->key, "sub:", 4);
    for (int i = 0; i < 20; i++)
        snprintf(c->key + 4 + 2 * i, 3, "%02x", md[i]);
    return c;
}

px_caller_t *px_caller_ref(px_caller_t *c)
{
    if (c)
        c->refs++;
    return c;
}

void px_caller_unref(px_caller_t *c)
{
    if (!c || --c->refs > 0)
        return;
    for (int i = 0; i < PX_CALLER_DECISIONS; i++)
        free(c->decisions[i].key);
    free(c->sub);
    free(c->claims);
    free(c);
}
