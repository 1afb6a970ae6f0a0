/* Validators for the Kubernetes string formats (see mcp/validate.h).
 *
 * Each rule is a hand-written scanner over the bytes of the value (no regex
 * library, no allocation, no locale: bytes >= 0x80 never match a class). The
 * messages are the apiserver's own (k8s.io/apimachinery/pkg/util/validation),
 * so a user sees the same text whether the webhook or the apiserver rejects a
 * value. Where the apiserver would report several errors, the first one it
 * lists is returned. A NULL input is treated as the empty string. */
#include <stdbool.h>
#include <stddef.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "mcp/validate.h"

#define LABEL_MAX      63
#define SUBDOMAIN_MAX  253
#define IMAGE_NAME_MAX 255
#define TAG_MAX        128

/* RegexError(msg, fmt, examples...) renders as
 * "<msg> (e.g. 'a',  or 'b', regex used for validation is '<fmt>')". */
#define DNS1123_LABEL_MSG                                                                          \
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "   \
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "     \
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS1123_SUBDOMAIN_MSG                                                                      \
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "   \
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "  \
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
#define DNS1035_LABEL_MSG                                                                          \
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "   \
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "           \
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define QNAME_BODY                                                                                 \
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "    \
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "         \
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
#define LABEL_VALUE_MSG                                                                            \
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "    \
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "             \
    "'my_value',  or '12345', regex used for validation is "                                       \
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
#define ENV_NAME_MSG                                                                               \
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', "  \
    "or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or "         \
    "'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
#define CONFIG_KEY_MSG                                                                             \
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "           \
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "                    \
    "'[-._a-zA-Z0-9]+')"
#define TOO_LONG_63  "must be no more than 63 characters"
#define TOO_LONG_253 "must be no more than 253 characters"
#define IMAGE        "must be a valid image reference"

/* ---- character classes (ASCII only) ---------------------------------------- */

static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static bool is_lower(unsigned char c)
{
    return c >= 'a' && c <= 'z';
}

static bool is_upper(unsigned char c)
{
    return c >= 'A' && c <= 'Z';
}

static bool is_alpha(unsigned char c)
{
    return is_lower(c) || is_upper(c);
}

static bool is_alnum(unsigned char c)
{
    return is_alpha(c) || is_digit(c);
}

/* [a-z0-9], or [a-zA-Z0-9] when fold is set (annotation keys are lower-cased
 * by the apiserver before the check). */
static bool is_dns_alnum(unsigned char c, bool fold)
{
    return is_lower(c) || is_digit(c) || (fold && is_upper(c));
}

static size_t len_of(const char *s)
{
    return s ? strlen(s) : 0;
}

/* ---- DNS names -------------------------------------------------------------- */

/* [a-z0-9]([-a-z0-9]*[a-z0-9])? over p[0..n). */
static bool dns_label_ok(const char *p, size_t n, bool fold)
{
    const unsigned char *u = (const unsigned char *)p;

    if (n == 0 || !is_dns_alnum(u[0], fold) || !is_dns_alnum(u[n - 1], fold))
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!is_dns_alnum(u[i], fold) && u[i] != '-')
            return false;
    return true;
}

/* DNS-1123 labels joined by '.'; no length limit of its own. */
static bool dns_subdomain_ok(const char *p, size_t n, bool fold)
{
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i == n || p[i] == '.') {
            if (!dns_label_ok(p + start, i - start, fold))
                return false;
            start = i + 1;
        }
    }
    return true;
}

const char *mcp_check_dns1123_label(const char *s)
{
    size_t n = len_of(s);

    if (n > LABEL_MAX)
        return TOO_LONG_63;
    if (dns_label_ok(s, n, false))
        return NULL;
    /* The apiserver's wording when only the dots are wrong. */
    if (dns_subdomain_ok(s, n, false))
        return "must not contain dots";
    return DNS1123_LABEL_MSG;
}

static const char *subdomain_why(const char *s, size_t n, bool fold)
{
    if (n > SUBDOMAIN_MAX)
        return TOO_LONG_253;
    return dns_subdomain_ok(s, n, fold) ? NULL : DNS1123_SUBDOMAIN_MSG;
}

const char *mcp_check_dns1123_subdomain(const char *s)
{
    return subdomain_why(s, len_of(s), false);
}

const char *mcp_check_dns1035_label(const char *s)
{
    size_t n = len_of(s);

    if (n > LABEL_MAX)
        return TOO_LONG_63;
    if (n == 0 || !is_lower((unsigned char)s[0]) || !dns_label_ok(s, n, false))
        return DNS1035_LABEL_MSG;
    return NULL;
}

/* ---- qualified names and label values ----------------------------------------- */

/* ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9] over p[0..n). */
static bool qname_ok(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;

    if (n == 0 || !is_alnum(u[0]) || !is_alnum(u[n - 1]))
        return false;
    for (size_t i = 1; i + 1 < n; i++)
        if (!is_alnum(u[i]) && u[i] != '-' && u[i] != '_' && u[i] != '.')
            return false;
    return true;
}

static const char *qualified_name_why(const char *s, bool fold)
{
    size_t n = len_of(s);
    const char *slash = n ? memchr(s, '/', n) : NULL;
    const char *name = s;
    size_t name_len = n;

    if (slash) {
        size_t plen = (size_t)(slash - s);

        if (memchr(slash + 1, '/', n - plen - 1))
            return "a qualified name " QNAME_BODY
                   " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
        if (plen == 0)
            return "prefix part must be non-empty";
        if (plen > SUBDOMAIN_MAX)
            return "prefix part " TOO_LONG_253;
        if (!dns_subdomain_ok(s, plen, fold))
            return "prefix part " DNS1123_SUBDOMAIN_MSG;
        name = slash + 1;
        name_len = n - plen - 1;
    }
    if (name_len == 0)
        return "name part must be non-empty";
    if (name_len > LABEL_MAX)
        return "name part " TOO_LONG_63;
    if (!qname_ok(name, name_len))
        return "name part " QNAME_BODY;
    return NULL;
}

const char *mcp_check_label_key(const char *s)
{
    return qualified_name_why(s, false);
}

const char *mcp_check_annotation_key(const char *s)
{
    /* ValidateAnnotations checks IsQualifiedName(strings.ToLower(key)). */
    return qualified_name_why(s, true);
}

const char *mcp_check_label_value(const char *s)
{
    size_t n = len_of(s);

    if (n > LABEL_MAX)
        return TOO_LONG_63;
    if (n != 0 && !qname_ok(s, n))
        return LABEL_VALUE_MSG;
    return NULL;
}

/* ---- environment variable names and config keys --------------------------------- */

static bool is_key_char(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_';
}

/* hasChDirPrefix: both env names and config keys end up as file names. */
static const char *chdir_why(const char *s)
{
    if (strcmp(s, ".") == 0)
        return "must not be '.'";
    if (strcmp(s, "..") == 0)
        return "must not be '..'";
    if (strncmp(s, "..", 2) == 0)
        return "must not start with '..'";
    return NULL;
}

const char *mcp_check_env_name(const char *s)
{
    size_t n = len_of(s);

    if (n == 0 || is_digit((unsigned char)s[0]))
        return ENV_NAME_MSG;
    for (size_t i = 0; i < n; i++)
        if (!is_key_char((unsigned char)s[i]))
            return ENV_NAME_MSG;
    return chdir_why(s);
}

const char *mcp_check_secret_key(const char *s)
{
    size_t n = len_of(s);

    if (n > SUBDOMAIN_MAX)
        return TOO_LONG_253;
    if (n == 0)
        return CONFIG_KEY_MSG;
    for (size_t i = 0; i < n; i++)
        if (!is_key_char((unsigned char)s[i]))
            return CONFIG_KEY_MSG;
    return chdir_why(s);
}

/* ---- image references ------------------------------------------------------------ */

/* Last occurrence of c in p[0..n), or NULL. */
static const char *find_last(const char *p, size_t n, char c)
{
    while (n-- > 0)
        if (p[n] == c)
            return p + n;
    return NULL;
}

/* sha256:<64 lowercase hex> */
static bool digest_ok(const char *p, size_t n)
{
    static const char algo[] = "sha256:";
    const size_t alen = sizeof(algo) - 1;

    if (n != alen + 64 || memcmp(p, algo, alen) != 0)
        return false;
    for (size_t i = alen; i < n; i++)
        if (!is_digit((unsigned char)p[i]) && !(p[i] >= 'a' && p[i] <= 'f'))
            return false;
    return true;
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static bool tag_ok(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;

    if (n == 0 || n > TAG_MAX || !(is_alnum(u[0]) || u[0] == '_'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!is_key_char(u[i]))
            return false;
    return true;
}

/* [a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9], joined by '.' */
static bool host_ok(const char *p, size_t n)
{
    size_t start = 0;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '.')
            continue;
        const unsigned char *c = (const unsigned char *)p + start;
        size_t len = i - start;

        if (len == 0 || !is_alnum(c[0]) || !is_alnum(c[len - 1]))
            return false;
        for (size_t j = 1; j + 1 < len; j++)
            if (!is_alnum(c[j]) && c[j] != '-')
                return false;
        start = i + 1;
    }
    return true;
}

/* host[:port], or [ipv6][:port]. */
static bool domain_ok(const char *p, size_t n)
{
    size_t host_len;

    if (n > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', n);

        if (!close || close == p + 1)
            return false;
        for (const char *q = p + 1; q < close; q++)
            if (!is_digit((unsigned char)*q) && !strchr("abcdefABCDEF:.", *q))
                return false;
        host_len = (size_t)(close - p) + 1;
    } else {
        const char *colon = memchr(p, ':', n);

        host_len = colon ? (size_t)(colon - p) : n;
        if (!host_ok(p, host_len))
            return false;
    }
    if (host_len == n)
        return true;
    if (p[host_len] != ':' || host_len + 1 == n)
        return false;
    for (size_t i = host_len + 1; i < n; i++)
        if (!is_digit((unsigned char)p[i]))
            return false;
    return true;
}

/* One path component, [a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*; upper case is
 * accepted here and reported separately. */
static bool path_component_ok(const char *p, size_t n)
{
    const unsigned char *u = (const unsigned char *)p;
    size_t i = 0;

    for (;;) {
        size_t run = i;

        while (i < n && is_dns_alnum(u[i], true))
            i++;
        if (i == run)
            return false;
        if (i == n)
            return true;
        if (u[i] == '.')
            i++;
        else if (u[i] == '_')
            i += (i + 1 < n && u[i + 1] == '_') ? 2 : 1;
        else if (u[i] == '-')
            while (i < n && u[i] == '-')
                i++;
        else
            return false;
    }
}

static const char *image_path_why(const char *p, size_t n)
{
    size_t start = 0;
    bool upper = false;

    for (size_t i = 0; i <= n; i++) {
        if (i < n && p[i] != '/') {
            upper = upper || is_upper((unsigned char)p[i]);
            continue;
        }
        if (!path_component_ok(p + start, i - start))
            return IMAGE ": invalid repository path";
        start = i + 1;
    }
    return upper ? IMAGE ": repository path must be lower-case" : NULL;
}

/* The first component names a registry only when it looks like a host. */
static bool looks_like_domain(const char *p, size_t n)
{
    return memchr(p, '.', n) || memchr(p, ':', n) || (n == 9 && memcmp(p, "localhost", 9) == 0);
}

const char *mcp_check_image_ref(const char *s)
{
    size_t n = len_of(s), end, name_len, path_off = 0;
    const char *at, *slash, *colon, *first;

    if (n == 0)
        return IMAGE ": must not be empty";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];

        if (c == ' ' || (c >= '\t' && c <= '\r'))
            return IMAGE ": must not contain whitespace";
        if (c < 0x20 || c == 0x7f)
            return IMAGE ": must not contain control characters";
    }
    at = memchr(s, '@', n);
    end = at ? (size_t)(at - s) : n;
    if (at && !digest_ok(at + 1, n - end - 1))
        return IMAGE ": invalid digest (want sha256:<64 hex>)";

    slash = find_last(s, end, '/');
    first = slash ? slash + 1 : s;
    colon = find_last(first, end - (size_t)(first - s), ':');
    name_len = colon ? (size_t)(colon - s) : end;
    if (colon && !tag_ok(colon + 1, end - name_len - 1))
        return IMAGE ": invalid tag";
    if (name_len == 0)
        return IMAGE ": missing repository name";
    if (name_len > IMAGE_NAME_MAX)
        return IMAGE ": repository name must not be more than 255 characters";

    slash = memchr(s, '/', name_len);
    if (slash && looks_like_domain(s, (size_t)(slash - s))) {
        if (!domain_ok(s, (size_t)(slash - s)))
            return IMAGE ": invalid registry host";
        path_off = (size_t)(slash - s) + 1;
    }
    return image_path_why(s + path_off, name_len - path_off);
}

/* ---- paths --------------------------------------------------------------------------- */

const char *mcp_check_abs_path(const char *s)
{
    const char *p;

    if (!s || s[0] != '/')
        return "must be an absolute path";
    for (p = s; *p;) {
        size_t len = strcspn(p, "/");

        if (len == 2 && p[0] == '.' && p[1] == '.')
            return "must not contain '..'";
        p += len;
        if (*p == '/')
            p++;
    }
    return NULL;
}

/* ---- URLs ------------------------------------------------------------------ */

/* The host of an http(s) URL (lower-cased into buf, without the port), or
 * NULL with *why set. *https says which scheme. */
static const char *url_host(const char *s, char *buf, size_t len, int *https, const char **why)
{
    const char *h, *end;
    size_t n;

    *why = "must be an absolute URL (http:// or https://) with a host";
    if (strncasecmp(s, "https://", 8) == 0)
        *https = 1, h = s + 8;
    else if (strncasecmp(s, "http://", 7) == 0)
        *https = 0, h = s + 7;
    else
        return NULL;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f) {
            *why = "must not contain whitespace or control characters";
            return NULL;
        }
    end = h + strcspn(h, "/?#");
    if (memchr(h, '@', (size_t)(end - h))) {
        *why = "must not contain user information";
        return NULL;
    }
    if (*h == '[') { /* IPv6 literal */
        const char *close = memchr(h, ']', (size_t)(end - h));
        n = close ? (size_t)(close - h) + 1 : 0;
    } else {
        const char *colon = memchr(h, ':', (size_t)(end - h));
        n = (size_t)((colon ? colon : end) - h);
    }
    if (n == 0 || n >= len)
        return NULL;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)tolower((unsigned char)h[i]);
    buf[n] = '\0';
    return buf;
}

const char *mcp_check_url(const char *s)
{
    char host[256];
    const char *why;
    int https;

    return url_host(s, host, sizeof(host), &https, &why) ? NULL : why;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n > m && strcmp(s + n - m, suffix) == 0;
}

const char *mcp_check_secure_url(const char *s)
{
    char host[256];
    const char *why;
    int https;

    if (!url_host(s, host, sizeof(host), &https, &why))
        return why;
    if (https || strcmp(host, "localhost") == 0 || has_suffix(host, ".svc") ||
        has_suffix(host, ".svc.cluster.local") || has_suffix(host, ".cluster.local"))
        return NULL;
    return "must use https (http only for in-cluster hosts: *.svc, *.cluster.local, localhost)";
}
