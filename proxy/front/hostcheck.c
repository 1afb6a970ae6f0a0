/* Host and Origin checks against DNS rebinding (DESIGN §5 "Host and
 * Origin"; the MCP transport specification's security warning).
 *
 * A rebinding page is served from the attacker's DNS name, which then
 * resolves to the proxy's address: the browser sends Host and Origin with
 * that name. So neither is ever compared with the other -- both are the
 * attacker's -- but each with the names the proxy is served under:
 *   - loopback names, localhost, 127.0.0.1 and [::1], any port (kubectl
 *     port-forward, a laptop);
 *   - the listed names: --allow-host (the controller passes the Service's
 *     names) and MCP_PROXY_ALLOWED_HOSTS (an Ingress host, say);
 *   - for Host only, any IP literal (IPv4 or bracketed IPv6), any port. A
 *     browser sends the name it resolved in Host, never the address, so a
 *     rebinding page's Host is always a DNS name; and an IP literal covers
 *     the Service's ClusterIP, the pod IP kubelet probes and port-forward
 *     use, without the controller having to know them.
 * Origin must name a loopback or listed host: an IP origin is a page served
 * from that address, which this proxy does not serve. Names compare
 * case-insensitively, without the port and one trailing dot. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hostcheck.h"

#define HOST_MAX 255 /* a DNS name is at most 253; brackets of an IPv6 literal */

static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]"};

static int name_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.' || c == '_';
}

static int all_digits(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isdigit((unsigned char)p[i]))
            return 0;
    return 1;
}

/* The host of an authority "host[:port]" into out (NUL-terminated, lower
 * case, brackets kept for IPv6, one trailing dot dropped): its length, or 0
 * when `s` is no authority (empty host, a port that is not digits, an
 * unbalanced bracket, a character no host name has). */
static size_t host_of(const char *s, size_t len, char out[HOST_MAX + 1])
{
    size_t hl;
    const char *end;

    if (len > 0 && s[0] == '[') {
        end = memchr(s, ']', len);
        if (!end)
            return 0;
        hl = (size_t)(end - s) + 1;
    } else {
        end = memchr(s, ':', len);
        hl = end ? (size_t)(end - s) : len;
    }
    if (hl < len && (s[hl] != ':' || !all_digits(s + hl + 1, len - hl - 1)))
        return 0;
    if (hl > 1 && s[0] != '[' && s[hl - 1] == '.')
        hl--;
    if (hl == 0 || hl > HOST_MAX)
        return 0;
    for (size_t i = 0; i < hl; i++) {
        if (s[0] != '[' && !name_char(s[i]))
            return 0;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[hl] = '\0';
    if (s[0] == '[') { /* what is inside must be an IPv6 address */
        struct in6_addr a6;
        char inner[HOST_MAX];

        snprintf(inner, sizeof(inner), "%.*s", (int)(hl - 2), out + 1);
        if (inet_pton(AF_INET6, inner, &a6) != 1)
            return 0;
    }
    return hl;
}

static int is_ip_literal(const char *h)
{
    struct in_addr a4;

    return h[0] == '[' || inet_pton(AF_INET, h, &a4) == 1; /* host_of checked a bracket */
}

static int listed(const px_config_t *cfg, const char *h)
{
    for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
        if (strcmp(h, loopback[i]) == 0)
            return 1;
    for (size_t i = 0; i < cfg->n_hosts; i++)
        if (strcmp(h, cfg->hosts[i]) == 0)
            return 1;
    return 0;
}

const char *px_allow_host_add(px_config_t *cfg, const char *name)
{
    char h[HOST_MAX + 1];
    char **hosts;

    if (!host_of(name, strlen(name), h))
        return "must be a host name or an IP address (IPv6 in brackets), optionally with :port";
    hosts = realloc(cfg->hosts, (cfg->n_hosts + 1) * sizeof(*hosts));
    if (!hosts)
        return "out of memory";
    cfg->hosts = hosts;
    hosts[cfg->n_hosts] = strdup(h);
    if (!hosts[cfg->n_hosts])
        return "out of memory";
    cfg->n_hosts++;
    return NULL;
}

const char *px_allow_hosts_add_list(px_config_t *cfg, const char *list, char *bad, size_t bad_len)
{
    const char *p = list;

    while (*p) {
        size_t n = strcspn(p, ",");
        const char *b = p, *e = p + n, *why;
        char name[HOST_MAX + 16];

        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        p += n + (p[n] == ',');
        if (b == e)
            continue;
        if ((size_t)(e - b) >= sizeof(name))
            why = "too long for a host name";
        else {
            snprintf(name, sizeof(name), "%.*s", (int)(e - b), b);
            why = px_allow_host_add(cfg, name);
        }
        if (why) {
            snprintf(bad, bad_len, "%.*s", (int)((e - b) > 200 ? 200 : e - b), b);
            return why;
        }
    }
    return NULL;
}

int px_host_allowed(const px_config_t *cfg, const char *host, size_t len)
{
    char h[HOST_MAX + 1];

    if (!host || !host_of(host, len, h))
        return 0;
    return is_ip_literal(h) || listed(cfg, h);
}

int px_origin_allowed(const px_config_t *cfg, const char *origin, size_t len)
{
    char h[HOST_MAX + 1];
    size_t skip;

    for (size_t i = 0; i < cfg->n_origins; i++)
        if (strlen(cfg->origins[i]) == len && memcmp(origin, cfg->origins[i], len) == 0)
            return 1;
    if (len > 7 && strncasecmp(origin, "http://", 7) == 0)
        skip = 7;
    else if (len > 8 && strncasecmp(origin, "https://", 8) == 0)
        skip = 8;
    else
        return 0; /* "null", another scheme, or no origin at all */
    return host_of(origin + skip, len - skip, h) && listed(cfg, h);
}
