/* The egress proxy's rules (rules.h): the permission profile read with
 * jansson, host names made canonical, destinations matched, addresses
 * classified. Pure: the tests drive it from a fixture table
 * (test/fixtures/proxy/egress/cases.txt). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <jansson.h>

#include "mcp/common.h"
#include "mcp/json.h"
#include "mcp/egress_rules.h"

#define LABEL_MAX 63

/* ---- host names ------------------------------------------------------------------------------ */

/* WHATWG URL's "ends in a number": all digits, or 0x followed by hex digits. */
static int numeric_label(const char *p, size_t n)
{
    size_t i = 0;

    if (n >= 2 && p[0] == '0' && p[1] == 'x') {
        for (i = 2; i < n; i++)
            if (!strchr("0123456789abcdef", p[i]))
                return 0;
        return 1;
    }
    for (; i < n; i++)
        if (p[i] < '0' || p[i] > '9')
            return 0;
    return n > 0;
}

/* Four decimal labels 0-255 without leading zeros: the only IPv4 text taken. */
static int canonical_ipv4(const char *s)
{
    int labels = 0;

    for (const char *p = s;; p++) {
        size_t n = strspn(p, "0123456789");

        if (n == 0 || n > 3 || (n > 1 && p[0] == '0') || atoi(p) > 255)
            return 0;
        labels++;
        p += n;
        if (*p == '\0')
            return labels == 4;
        if (*p != '.')
            return 0;
    }
}

static const char *canon_ipv6(const char *s, char *out, size_t outlen)
{
    struct in6_addr a;

    if (strchr(s, '%'))
        return "an IPv6 zone is not allowed";
    if (inet_pton(AF_INET6, s, &a) != 1 || !inet_ntop(AF_INET6, &a, out, (socklen_t)outlen))
        return strstr(s, "://") ? "a URL, not a host"
                                : "has a ':' but is no IPv6 address (a port?)";
    return NULL;
}

/* Labels of a lower-case name without its trailing dot: characters, sizes,
 * and a numeric last label only as a canonical IPv4 address. */
static const char *check_name(const char *s, int *is_ip)
{
    const char *last = s;
    size_t n = strlen(s);

    if (n > MCP_EG_HOST_MAX)
        return "the host name is longer than 253 characters";
    if (strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789.-_") != n)
        return "the host name has a character other than a-z, 0-9, '.', '-' and '_'";
    for (const char *p = s;; p++) {
        size_t len = strcspn(p, ".");

        if (len == 0)
            return "the host name has an empty label";
        if (len > LABEL_MAX)
            return "the host name has a label longer than 63 characters";
        last = p;
        p += len;
        if (*p == '\0')
            break;
    }
    *is_ip = numeric_label(last, strlen(last));
    if (*is_ip && !canonical_ipv4(s))
        return "a numeric host must be a dotted-quad IPv4 address (no decimal, octal, hex or short "
               "forms)";
    return NULL;
}

const char *mcp_eg_host_canon(const char *host, size_t len, char *out, size_t outlen, int *is_ip)
{
    char tmp[MCP_EG_HOST_BUF];
    const char *why;

    *is_ip = 0;
    if (len >= 2 && host[0] == '[' && host[len - 1] == ']') {
        host++;
        len -= 2;
        if (!memchr(host, ':', len))
            return "only an IPv6 address goes in brackets";
    }
    if (len == 0)
        return "the host is empty";
    if (len >= sizeof(tmp) || outlen < MCP_EG_HOST_BUF)
        return "the host name is longer than 253 characters";
    for (size_t i = 0; i < len; i++)
        tmp[i] = host[i] >= 'A' && host[i] <= 'Z' ? (char)(host[i] - 'A' + 'a') : host[i];
    tmp[len] = '\0';
    if (memchr(tmp, '\0', len))
        return "the host has a NUL byte";
    if (strchr(tmp, ':')) {
        *is_ip = 1;
        return canon_ipv6(tmp, out, outlen);
    }
    if (len > 1 && tmp[len - 1] == '.')
        tmp[--len] = '\0';
    if ((why = check_name(tmp, is_ip)) != NULL)
        return why;
    memcpy(out, tmp, len + 1);
    return NULL;
}

/* ---- the profile
 * --------------------------------------------------------------------------------- */

static int add_host(mcp_eg_rules_t *r, const char *entry, char *err, size_t errlen)
{
    mcp_eg_entry_kind_t kind = MCP_EG_EXACT;
    const char *name = entry, *why;
    char canon[MCP_EG_HOST_BUF];
    int is_ip;

    if (strncmp(entry, "*.", 2) == 0) {
        kind = MCP_EG_SUBS;
        name += 2;
    } else if (entry[0] == '.') {
        kind = MCP_EG_DOMAIN;
        name += 1;
    }
    why = mcp_eg_host_canon(name, strlen(name), canon, sizeof(canon), &is_ip);
    if (!why && is_ip && kind != MCP_EG_EXACT)
        why = "a \".\" or \"*.\" entry must name a domain, not an IP address";
    if (why) {
        snprintf(err, errlen,
                 "network.outbound.allow_host entry \"%.100s\": %s (an entry is a host name,"
                 " \".<domain>\", \"*.<domain>\" or an IP address, without scheme, port or path)",
                 entry, why);
        return MCP_EINVAL;
    }
    r->hosts[r->n_hosts].name = strdup(canon);
    r->hosts[r->n_hosts].kind = kind;
    if (!r->hosts[r->n_hosts].name)
        return MCP_ENOMEM;
    r->n_hosts++;
    return 0;
}

static int bad(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s", what);
    return MCP_EINVAL;
}

static int entry_bad(char *err, size_t errlen, const char *list, size_t i, const char *what)
{
    snprintf(err, errlen, "network.outbound.%s[%zu] %s", list, i, what);
    return MCP_EINVAL;
}

/* A member that must be an array when present (null counts as absent). */
static int get_array(const json_t *obj, const char *key, const json_t **out, char *err,
                     size_t errlen)
{
    const json_t *v = json_object_get(obj, key);

    *out = v && !json_is_null(v) ? v : NULL;
    if (*out && !json_is_array(*out)) {
        snprintf(err, errlen, "network.outbound.%s is not an array", key);
        return MCP_EINVAL;
    }
    if (*out && json_array_size(*out) > MCP_EG_MAX_ENTRIES) {
        snprintf(err, errlen, "network.outbound.%s has more than %d entries", key,
                 MCP_EG_MAX_ENTRIES);
        return MCP_EINVAL;
    }
    return 0;
}

static int read_outbound(const json_t *out, mcp_eg_rules_t *r, char *err, size_t errlen)
{
    const json_t *hosts, *ports, *transports, *all = json_object_get(out, "insecure_allow_all"), *v;
    size_t i;
    int rc;

    if (all && !json_is_boolean(all) && !json_is_null(all))
        return bad(err, errlen, "network.outbound.insecure_allow_all is not a boolean");
    r->allow_all = json_is_true(all);
    if ((rc = get_array(out, "allow_host", &hosts, err, errlen)) != 0 ||
        (rc = get_array(out, "allow_port", &ports, err, errlen)) != 0 ||
        (rc = get_array(out, "allow_transport", &transports, err, errlen)) != 0)
        return rc;
    r->hosts = calloc(json_array_size(hosts) + 1, sizeof(*r->hosts));
    r->ports = calloc(json_array_size(ports) + 1, sizeof(*r->ports));
    if (!r->hosts || !r->ports)
        return MCP_ENOMEM;
    json_array_foreach(hosts, i, v)
    {
        if (!json_is_string(v))
            return entry_bad(err, errlen, "allow_host", i, "is not a string");
        if ((rc = add_host(r, json_string_value(v), err, errlen)) != 0)
            return rc;
    }
    json_array_foreach(ports, i, v)
    {
        json_int_t p = json_is_integer(v) ? json_integer_value(v) : 0;

        if (p < 1 || p > 65535)
            return entry_bad(err, errlen, "allow_port", i, "is not a port from 1 to 65535");
        r->ports[r->n_ports++] = (uint16_t)p;
    }
    json_array_foreach(transports, i, v)
    {
        if (!json_is_string(v)) /* ToolHive's later field; only TCP is proxied anyway */
            return entry_bad(err, errlen, "allow_transport", i, "is not a string");
    }
    return 0;
}

/* An object member that must be an object when present (null: absent). */
static const json_t *get_object(const json_t *obj, const char *key, int *bad_type)
{
    const json_t *v = json_object_get(obj, key);

    if (v && !json_is_null(v) && !json_is_object(v))
        *bad_type = 1;
    return json_is_object(v) ? v : NULL;
}

int mcp_eg_rules_from_json(const json_t *root, mcp_eg_rules_t *out, char *err, size_t errlen)
{
    const json_t *net, *outbound = NULL;
    int rc = 0, bad_type = 0;

    memset(out, 0, sizeof(*out));
    if (!json_is_object(root))
        return bad(err, errlen, "the profile is not a JSON object");
    net = get_object(root, "network", &bad_type);
    if (net)
        outbound = get_object(net, "outbound", &bad_type);
    if (bad_type)
        rc = bad(err, errlen,
                 net ? "network.outbound is not an object" : "network is not an object");
    else if (outbound)
        rc = read_outbound(outbound, out, err, errlen);
    if (rc != 0)
        mcp_eg_rules_dispose(out);
    return rc;
}

int mcp_eg_rules_parse(const char *json, size_t len, mcp_eg_rules_t *out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    char text[160];
    int rc;

    memset(out, 0, sizeof(*out));
    if (!root) {
        snprintf(err, errlen, "not JSON: %s", mcp_json_error_text(&jerr, text, sizeof(text)));
        return MCP_EINVAL;
    }
    rc = mcp_eg_rules_from_json(root, out, err, errlen);
    json_decref(root);
    return rc;
}

void mcp_eg_rules_dispose(mcp_eg_rules_t *r)
{
    for (size_t i = 0; i < r->n_hosts; i++)
        free(r->hosts[i].name);
    free(r->hosts);
    free(r->ports);
    memset(r, 0, sizeof(*r));
}

/* ---- matching
 * ------------------------------------------------------------------------------------ */

/* Is host a name under `name` (host ends in "." + name)? */
static int under(const char *host, const char *name)
{
    size_t h = strlen(host), n = strlen(name);

    return h > n + 1 && host[h - n - 1] == '.' && strcmp(host + h - n, name) == 0;
}

static mcp_eg_match_t match_host(const mcp_eg_rules_t *r, const char *host, int is_ip)
{
    mcp_eg_match_t best = MCP_EG_DENY_HOST;

    for (size_t i = 0; i < r->n_hosts; i++) {
        const mcp_eg_entry_t *e = &r->hosts[i];

        if (strcmp(e->name, host) == 0 && e->kind == MCP_EG_EXACT)
            return MCP_EG_ALLOW_EXACT;
        if (is_ip || e->kind == MCP_EG_EXACT)
            continue;
        if (under(host, e->name) || (e->kind == MCP_EG_DOMAIN && strcmp(e->name, host) == 0))
            best = MCP_EG_ALLOW_SUFFIX;
    }
    if (best == MCP_EG_DENY_HOST && r->allow_all)
        best = MCP_EG_ALLOW_ALL;
    else if (best == MCP_EG_DENY_HOST && r->n_hosts == 0 && r->n_ports > 0)
        best = MCP_EG_ALLOW_ANY;
    return best;
}

static int port_allowed(const mcp_eg_rules_t *r, int port)
{
    if (r->allow_all)
        return 1;
    if (r->n_ports == 0)
        return port == 443 || port == 80;
    for (size_t i = 0; i < r->n_ports; i++)
        if (r->ports[i] == port)
            return 1;
    return 0;
}

mcp_eg_match_t mcp_eg_rules_match(const mcp_eg_rules_t *r, const char *host, int is_ip, int port,
                                  char *why, size_t whylen)
{
    mcp_eg_match_t m = match_host(r, host, is_ip);

    if (m == MCP_EG_DENY_HOST) {
        snprintf(why, whylen,
                 "host \"%s\" is not in the permission profile's network.outbound.allow_host",
                 host);
        return m;
    }
    if (!port_allowed(r, port)) {
        snprintf(why, whylen, "port %d is not in network.outbound.allow_port%s", port,
                 r->n_ports ? "" : " (empty: 443 and 80)");
        return MCP_EG_DENY_PORT;
    }
    return m;
}

/* ---- addresses
 * ----------------------------------------------------------------------------------- */

static mcp_eg_addr_class_t classify4(uint32_t a)
{
    if ((a >> 24) == 0)
        return MCP_EG_UNSPECIFIED;
    if ((a >> 24) == 127)
        return MCP_EG_LOOPBACK;
    if ((a >> 24) == 10 || (a & 0xfff00000u) == 0xac100000u || (a & 0xffff0000u) == 0xc0a80000u ||
        (a & 0xffc00000u) == 0x64400000u)
        return MCP_EG_PRIVATE;
    if ((a & 0xffff0000u) == 0xa9fe0000u)
        return MCP_EG_LINKLOCAL;
    if ((a & 0xf0000000u) == 0xe0000000u)
        return MCP_EG_MULTICAST;
    if ((a & 0xf0000000u) == 0xf0000000u)
        return MCP_EG_BROADCAST;
    return MCP_EG_PUBLIC;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return 0;
    return 1;
}

static mcp_eg_addr_class_t classify6(const uint8_t *b)
{
    static const uint8_t nat64[4] = {0x00, 0x64, 0xff, 0x9b};

    if (zero(b, 15) && b[15] <= 1)
        return b[15] ? MCP_EG_LOOPBACK : MCP_EG_UNSPECIFIED;
    if (zero(b, 10) && b[10] == 0xff && b[11] == 0xff)
        return classify4(be32(b + 12)); /* IPv4-mapped */
    if (zero(b, 12))
        return classify4(be32(b + 12)); /* IPv4-compatible */
    if (memcmp(b, nat64, 4) == 0 && zero(b + 4, 8))
        return classify4(be32(b + 12));
    if (b[0] == 0x20 && b[1] == 0x02)
        return classify4(be32(b + 2)); /* 6to4 */
    if (b[0] == 0xff)
        return MCP_EG_MULTICAST;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80)
        return MCP_EG_LINKLOCAL;
    if ((b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) || (b[0] & 0xfe) == 0xfc)
        return MCP_EG_PRIVATE; /* site-local (deprecated), unique local */
    return MCP_EG_PUBLIC;
}

mcp_eg_addr_class_t mcp_eg_addr_classify(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return classify4(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return classify6(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return MCP_EG_UNSPECIFIED;
}

const char *mcp_eg_addr_class_text(mcp_eg_addr_class_t c)
{
    static const char *const text[] = {
        [MCP_EG_PUBLIC] = "a public address",
        [MCP_EG_PRIVATE] = "a private address",
        [MCP_EG_LOOPBACK] = "a loopback address",
        [MCP_EG_LINKLOCAL] = "a link-local address",
        [MCP_EG_UNSPECIFIED] = "an unspecified address",
        [MCP_EG_MULTICAST] = "a multicast address",
        [MCP_EG_BROADCAST] = "a broadcast or reserved address",
    };

    return (unsigned)c < MCP_ARRAY_LEN(text) ? text[c] : "an unknown address";
}

int mcp_eg_addr_allowed(mcp_eg_addr_class_t c, mcp_eg_match_t m, int host_is_ip)
{
    if (m < MCP_EG_ALLOW_EXACT)
        return 0;
    if (c == MCP_EG_PUBLIC)
        return 1;
    if (c == MCP_EG_PRIVATE) /* insecure_allow_all: as its NetworkPolicy lets all out */
        return m == MCP_EG_ALLOW_EXACT || m == MCP_EG_ALLOW_ALL;
    return m == MCP_EG_ALLOW_EXACT && host_is_ip;
}
