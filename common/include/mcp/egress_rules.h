/* The egress proxy's rules, pure (no I/O, no h2o): ToolHive's permission
 * profile read into host and port rules (egress_rules.c), shared by mcp-proxy's
 * forward proxy and the controller (which refuses a profile it cannot read), host names made
 * canonical, a destination matched against the rules, and each resolved
 * address classified (loopback, private, ...) and allowed or refused.
 *
 * Host entries, as ToolHive v0.2.9 writes them (pkg/permissions and the
 * registry; its Docker runtime hands them to Squid's dstdomain ACL): an
 * exact name ("api.github.com"), ".github.com" (Squid's spelling: the
 * domain itself and every name under it), or an IP literal ("10.1.2.3",
 * "::1" or "[::1]"). Also accepted: "*.github.com", every name under
 * github.com but not github.com itself. */
#ifndef MCP_EGRESS_RULES_H
#define MCP_EGRESS_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <jansson.h>

#define MCP_EG_HOST_MAX    253       /* a DNS name's most characters (RFC 1035) */
#define MCP_EG_HOST_BUF    256       /* room for any canonical host, IPv6 text included */
#define MCP_EG_PROFILE_MAX (1 << 20) /* bytes read of a profile file */
#define MCP_EG_MAX_ENTRIES 4096      /* allow_host or allow_port entries in one profile */

typedef enum mcp_eg_entry_kind {
    MCP_EG_EXACT = 0, /* the name or IP literal itself */
    MCP_EG_DOMAIN,    /* ".example.com": example.com and every name under it */
    MCP_EG_SUBS,      /* "*.example.com": every name under example.com */
} mcp_eg_entry_kind_t;

typedef struct mcp_eg_entry {
    char *name; /* canonical (mcp_eg_host_canon), without the "." or "*." (owned) */
    mcp_eg_entry_kind_t kind;
} mcp_eg_entry_t;

typedef struct mcp_eg_rules {
    int allow_all; /* network.outbound.insecure_allow_all */
    mcp_eg_entry_t *hosts;
    size_t n_hosts;
    uint16_t *ports; /* allow_port; none: 443 and 80 */
    size_t n_ports;
} mcp_eg_rules_t;

/* Read a permission profile (len bytes of JSON, ToolHive's shape:
 * {"network":{"outbound":{"insecure_allow_all":bool,"allow_host":[str],
 * "allow_port":[int],"allow_transport":[str]}}, ...}; other members are
 * ignored, "network" or "outbound" missing means nothing is allowed; ports
 * without hosts, as a NetworkPolicy reads them, allow any host on those
 * ports) into *out (caller-allocated; owned by it after success:
 * mcp_eg_rules_dispose). 0, or MCP_EINVAL with the first reason in err,
 * naming the member (a member of the wrong type, a bad host entry, a port
 * outside 1-65535, too many entries; *out is then left empty), or
 * MCP_ENOMEM. */
int mcp_eg_rules_parse(const char *json, size_t len, mcp_eg_rules_t *out, char *err, size_t errlen);
/* The same from a parsed profile (borrowed). */
int mcp_eg_rules_from_json(const json_t *profile, mcp_eg_rules_t *out, char *err, size_t errlen);
void mcp_eg_rules_dispose(mcp_eg_rules_t *r);

/* A host as a request names it (len bytes, not NUL-terminated; an IPv6
 * literal with or without its brackets) made canonical into out (outlen >=
 * MCP_EG_HOST_BUF): lower case, one trailing dot removed, IP literals in
 * inet_ntop's form (IPv6 without brackets). *is_ip tells whether it is an IP
 * literal. NULL when done, else why the host is refused (a static string):
 * empty, too long, a character outside [a-z0-9._-], an empty or over-long
 * label, an IPv6 zone, or a number that is not a canonical dotted-quad IPv4
 * address ("2130706433", "0177.0.0.1", "0x7f.1", "127.1": a resolver would
 * take them as addresses). */
const char *mcp_eg_host_canon(const char *host, size_t len, char *out, size_t outlen, int *is_ip);

/* How a destination matched the rules. */
typedef enum mcp_eg_match {
    MCP_EG_DENY_HOST = 0, /* no allow_host entry names the host */
    MCP_EG_DENY_PORT,     /* the host is allowed, the port is not */
    MCP_EG_ALLOW_EXACT,   /* an exact entry names it */
    MCP_EG_ALLOW_SUFFIX,  /* a "." or "*." entry covers it */
    MCP_EG_ALLOW_ALL,     /* insecure_allow_all, no exact entry */
    MCP_EG_ALLOW_ANY,     /* no allow_host but an allow_port: any host on those ports */
} mcp_eg_match_t;

/* Match a canonical host (mcp_eg_host_canon) and a port against r. why, when
 * the answer is a denial, gets the sentence naming the refusing rule, e.g.
 * `host "x.example" is not in the permission profile's
 * network.outbound.allow_host`. */
mcp_eg_match_t mcp_eg_rules_match(const mcp_eg_rules_t *r, const char *host, int is_ip, int port,
                                  char *why, size_t whylen);

typedef enum mcp_eg_addr_class {
    MCP_EG_PUBLIC = 0,
    MCP_EG_PRIVATE,     /* 10/8, 172.16/12, 192.168/16, 100.64/10 (shared), fc00::/7, fec0::/10 */
    MCP_EG_LOOPBACK,    /* 127/8, ::1 */
    MCP_EG_LINKLOCAL,   /* 169.254/16, fe80::/10 */
    MCP_EG_UNSPECIFIED, /* 0/8, :: */
    MCP_EG_MULTICAST,   /* 224/4, ff00::/8 */
    MCP_EG_BROADCAST,   /* 255.255.255.255 and the rest of 240/4 (reserved) */
} mcp_eg_addr_class_t;

/* The class of an IPv4 or IPv6 address; an IPv6 address that carries an
 * IPv4 one (IPv4-mapped ::ffff:0:0/96, IPv4-compatible ::/96, NAT64
 * 64:ff9b::/96, 6to4 2002::/16) has the class of that IPv4 address.
 * Another family: MCP_EG_UNSPECIFIED. */
mcp_eg_addr_class_t mcp_eg_addr_classify(const struct sockaddr *sa);
/* "a loopback address", "a private address", ... (static). */
const char *mcp_eg_addr_class_text(mcp_eg_addr_class_t c);

/* May the proxy connect to an address of class c, for a destination that
 * matched as m? Public addresses always; private ones only when an exact
 * entry names the host, or under insecure_allow_all (whose NetworkPolicy
 * lets the pod reach them directly anyway); loopback (the proxy's own pod), link-local,
 * unspecified, multicast and broadcast ones only when the host is an IP literal an exact entry
 * names. */
int mcp_eg_addr_allowed(mcp_eg_addr_class_t c, mcp_eg_match_t m, int host_is_ip);

#endif
