/* The screens in front of cjose and jansson: strict base64url (cjose's own
 * decoder stops at '=' and asserts on some lengths, so it only ever sees
 * strings that pass here), JSON nesting before a tree is built, capped JSON
 * documents, and the names of the room's error codes. */
#include <string.h>

#include "private.h"

int px_auth__fail(const char **why, int err, const char *text)
{
    if (why)
        *why = text;
    return err;
}

static const char *const err_names[] = {
    "ok",        "too_big",   "malformed", "nesting",  "alg",      "unknown_kid",  "no_key",
    "signature", "typ",       "issuer",    "audience", "expired",  "not_yet",      "claims",
    "dpop_key",  "dpop_htm",  "dpop_htu",  "dpop_iat", "dpop_jti", "dpop_binding", "dpop_ath",
    "jwks",      "discovery", "invalid",   "nomem",
};

const char *px_auth_err_name(int err)
{
    size_t i = err <= 0 ? (size_t) - (long)err : sizeof(err_names);

    return i < sizeof(err_names) / sizeof(err_names[0]) ? err_names[i] : "unknown";
}

/* The 6-bit value of base64url letter c, or -1. */
static int b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    return c == '_' ? 63 : -1;
}

int px_auth__b64url_ok(const char *s, size_t n)
{
    int last = 0;

    if (n % 4 == 1)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((last = b64url_value((unsigned char)s[i])) < 0)
            return 0;
    /* 2 letters carry 8 bits (4 unused), 3 letters 16 (2 unused) */
    if (n % 4 == 2)
        return (last & 0x0f) == 0;
    if (n % 4 == 3)
        return (last & 0x03) == 0;
    return 1;
}

int px_auth__b64url_encode(const uint8_t *bin, size_t n, char *out, size_t outlen)
{
    char *enc = NULL;
    size_t len = 0;
    int rc = -1;

    if (cjose_base64url_encode(bin, n, &enc, &len, NULL) && len < outlen) {
        memcpy(out, enc, len);
        out[len] = '\0';
        rc = 0;
    }
    cjose_get_dealloc()(enc);
    return rc;
}

int px_auth__json_too_deep(const char *s, size_t n, int max)
{
    int depth = 0, in_string = 0;

    for (size_t i = 0; i < n; i++) {
        char c = s[i];

        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return 1;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return 0;
}

int px_auth__load_object(const char *s, size_t n, size_t cap, int depth, json_t **out,
                         const char **why)
{
    json_error_t e;

    *out = NULL;
    if (n > cap)
        return px_auth__fail(why, PX_AUTH_E_TOO_BIG, "document too large");
    if (px_auth__json_too_deep(s, n, depth))
        return px_auth__fail(why, PX_AUTH_E_NESTING, "JSON nested too deep");
    *out = json_loadb(s, n, JSON_REJECT_DUPLICATES, &e);
    if (!*out && json_error_code(&e) == json_error_out_of_memory)
        return px_auth__fail(why, PX_AUTH_E_NOMEM, "out of memory");
    if (!*out)
        return px_auth__fail(why, PX_AUTH_E_MALFORMED, "not JSON");
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        return px_auth__fail(why, PX_AUTH_E_MALFORMED, "not a JSON object");
    }
    return 0;
}
