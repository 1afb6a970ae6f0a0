/* The normal form of an http(s) URI for DPoP's htu comparison (RFC 9449
 * §4.3 check 9, "ignoring any query and fragment parts", with RFC 3986
 * §6.2.2 syntax-based and §6.2.3 scheme-based normalization): lowercase
 * scheme and host, no default port, uppercase percent-encodings with the
 * unreserved ones decoded, no dot segments, "/" for an empty path. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "private.h"

typedef struct out {
    char *s;
    size_t n, cap;
} out_t;

static int put(out_t *o, const char *s, size_t n)
{
    if (o->n + n >= o->cap)
        return -1;
    memcpy(o->s + o->n, s, n);
    o->n += n;
    o->s[o->n] = '\0';
    return 0;
}

static int put_lower(out_t *o, const char *s, size_t n)
{
    size_t start = o->n;

    if (put(o, s, n) != 0)
        return -1;
    for (size_t i = start; i < o->n; i++)
        o->s[i] = (char)tolower((unsigned char)o->s[i]);
    return 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* RFC 3986 §2.3 and the characters a path may hold (§3.3, pchar and "/"). */
static int unreserved(int c)
{
    return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}
static int path_char(int c)
{
    return unreserved(c) || (c && strchr("/!$&'()*+,;=:@", c));
}

/* Percent-encodings of path p[0..n) normalized into o (§6.2.2.1-2). */
static int percent_normal(const char *p, size_t n, out_t *o)
{
    for (size_t i = 0; i < n; i++) {
        int hi, lo, c = (unsigned char)p[i];

        if (c != '%') {
            if (!path_char(c) || put(o, p + i, 1) != 0)
                return -1;
            continue;
        }
        if (i + 2 >= n || (hi = hexval(p[i + 1])) < 0 || (lo = hexval(p[i + 2])) < 0)
            return -1;
        c = hi * 16 + lo;
        if (unreserved(c)) {
            char ch = (char)c;

            if (put(o, &ch, 1) != 0)
                return -1;
        } else {
            char enc[3] = {'%', "0123456789ABCDEF"[hi], "0123456789ABCDEF"[lo]};

            if (put(o, enc, 3) != 0)
                return -1;
        }
        i += 2;
    }
    return 0;
}

/* RFC 3986 §5.2.4 on a path that starts with "/", appended to o. */
static int dot_segments(const char *p, size_t n, out_t *o)
{
    size_t base = o->n;

    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        int last;

        while (j < n && p[j] != '/')
            j++;
        last = j >= n;
        if (j - i == 2 && p[i + 1] == '.') {
            if (last && put(o, "/", 1) != 0)
                return -1;
        } else if (j - i == 3 && p[i + 1] == '.' && p[i + 2] == '.') {
            while (o->n > base && o->s[--o->n] != '/')
                ;
            o->s[o->n] = '\0';
            if (last && put(o, "/", 1) != 0)
                return -1;
        } else if (put(o, p + i, j - i) != 0) {
            return -1;
        }
        i = j;
    }
    return o->n == base ? put(o, "/", 1) : 0;
}

/* A host: a name of letters, digits and "-._~" (no userinfo, no
 * percent-encoding), or an IP literal of hex digits, ":" and "." in []. */
static int host_ok(const char *h, size_t n)
{
    int literal = n >= 2 && h[0] == '[' && h[n - 1] == ']';
    const char *allowed = literal ? "0123456789abcdefABCDEF:." : "-._~";

    if (literal)
        h++, n -= 2;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)h[i]; /* never NUL: h is inside a C string */

        if (!strchr(allowed, c) && (literal || !isalnum(c)))
            return 0;
    }
    return n > 0;
}

/* host[:port] of authority a[0..n) into o, lowercased, without the scheme's
 * default port. */
static int authority(const char *a, size_t n, int https, out_t *o)
{
    const char *colon = NULL, *end = a + n, *rb;

    if (n > 0 && a[0] == '[') {
        if (!(rb = memchr(a, ']', n)))
            return -1;
        colon = rb + 1 < end ? rb + 1 : NULL;
        if (colon && *colon != ':')
            return -1;
    } else {
        colon = memchr(a, ':', n);
    }
    if (!host_ok(a, (size_t)((colon ? colon : end) - a)) ||
        put_lower(o, a, (size_t)((colon ? colon : end) - a)) != 0)
        return -1;
    if (!colon || colon + 1 == end)
        return 0;
    for (const char *d = colon + 1; d < end; d++)
        if (!isdigit((unsigned char)*d))
            return -1;
    if ((size_t)(end - colon - 1) == (https ? 3u : 2u) &&
        memcmp(colon + 1, https ? "443" : "80", (size_t)(end - colon - 1)) == 0)
        return 0;
    return put(o, colon, (size_t)(end - colon));
}

int px_auth_htu_normalize(const char *uri, char *buf, size_t buflen)
{
    char path[PX_AUTH_MAX_URI];
    out_t o = {buf, 0, buflen}, po = {path, 0, sizeof(path)};
    size_t len = strcspn(uri, "?#"), slen;
    const char *auth, *slash;
    int https;

    if (buflen == 0 || len >= PX_AUTH_MAX_URI)
        return PX_AUTH_E_DPOP_HTU;
    buf[0] = '\0';
    slen = strcspn(uri, ":");
    https = slen == 5 && strncasecmp(uri, "https", 5) == 0;
    if (!(https || (slen == 4 && strncasecmp(uri, "http", 4) == 0)) || slen + 3 > len ||
        memcmp(uri + slen, "://", 3) != 0)
        return PX_AUTH_E_DPOP_HTU;
    auth = uri + slen + 3;
    slash = memchr(auth, '/', (size_t)(uri + len - auth));
    if (!slash)
        slash = uri + len;
    if (put_lower(&o, uri, slen + 3) != 0 ||
        authority(auth, (size_t)(slash - auth), https, &o) != 0 ||
        percent_normal(slash, (size_t)(uri + len - slash), &po) != 0 ||
        dot_segments(path, po.n, &o) != 0)
        return PX_AUTH_E_DPOP_HTU;
    return 0;
}
