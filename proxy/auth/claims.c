/* The registered claims of an access token once its signature holds
 * (RFC 7519 §4.1, §7.2 step 10): `iss` equal to the configured issuer,
 * `aud` naming the configured audience (RFC 8707's resource), `exp`
 * required, `nbf` and `iat` not in the future, all with a skew. */
#include <string.h>

#include "private.h"

int px_auth__claim_time(const json_t *claims, const char *name, double *t)
{
    json_t *v = json_object_get(claims, name);

    if (!v)
        return 1;
    if (!json_is_number(v))
        return -1;
    *t = json_number_value(v);
    return 0;
}

/* A JSON string equal, byte for byte, to want (embedded NULs never match). */
static int string_is(const json_t *v, const char *want)
{
    return json_is_string(v) && json_string_length(v) == strlen(want) &&
           memcmp(json_string_value(v), want, strlen(want)) == 0;
}

/* RFC 7519 §4.1.3: a string, or an array of strings one of which is ours. */
static int audience_ok(const json_t *aud, const char *want)
{
    json_t *item;
    size_t i;

    if (json_is_string(aud))
        return string_is(aud, want);
    json_array_foreach(aud, i, item)
    {
        if (string_is(item, want))
            return 1;
    }
    return 0;
}

/* exp (required; now < exp + skew, §4.1.4), nbf (now + skew >= nbf, §4.1.5),
 * iat (not after now + skew, §4.1.6). */
static int times_ok(const json_t *claims, int64_t now, int64_t skew, const char **why)
{
    double exp = 0, nbf = 0, iat = 0;
    int rc;

    if ((rc = px_auth__claim_time(claims, "exp", &exp)) != 0)
        return px_auth__fail(why, PX_AUTH_E_CLAIMS, rc > 0 ? "exp missing" : "exp not a number");
    if ((double)now >= exp + (double)skew)
        return px_auth__fail(why, PX_AUTH_E_EXPIRED, "token expired");
    if ((rc = px_auth__claim_time(claims, "nbf", &nbf)) < 0)
        return px_auth__fail(why, PX_AUTH_E_CLAIMS, "nbf not a number");
    if (rc == 0 && (double)now + (double)skew < nbf)
        return px_auth__fail(why, PX_AUTH_E_NOT_YET, "token not valid yet");
    if ((rc = px_auth__claim_time(claims, "iat", &iat)) < 0)
        return px_auth__fail(why, PX_AUTH_E_CLAIMS, "iat not a number");
    if (rc == 0 && iat > (double)now + (double)skew)
        return px_auth__fail(why, PX_AUTH_E_NOT_YET, "token issued in the future");
    return 0;
}

int px_auth__claims_check(const px_auth_config_t *cfg, const json_t *claims, int64_t now,
                          const char **why)
{
    if (!string_is(json_object_get(claims, "iss"), cfg->issuer))
        return px_auth__fail(why, PX_AUTH_E_ISSUER, "token from another issuer");
    if (!audience_ok(json_object_get(claims, "aud"), cfg->audience))
        return px_auth__fail(why, PX_AUTH_E_AUDIENCE, "token for another audience");
    return times_ok(claims, now, cfg->skew, why);
}

const char *px_auth_claims_jkt(const json_t *claims)
{
    return json_string_value(json_object_get(json_object_get(claims, "cnf"), "jkt"));
}
