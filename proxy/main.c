/* mcp-proxy: the MCP data plane. This file only parses GNU style flags into
 * a px_config_t, sets up logging and signals (SIGTERM/SIGINT set a flag the
 * loop checks; SIGPIPE is ignored), and calls px_run. Bad flags exit 2. */
#include <getopt.h>
#include <malloc.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "mcp/log.h"
#include "mcp/opt.h"
#include "mcp/validate.h"
#include "front/hostcheck.h"
#include "front/server.h"

/* Loopback unless told otherwise: `--exec` on a laptop serves no one else. */
#define DEFAULT_BIND "127.0.0.1"

static const char usage_text[] =
    "Usage: mcp-proxy [OPTION]... --transport stdio --exec -- CMD [ARG]...\n"
    "  or:  mcp-proxy [OPTION]... --transport stdio --namespace NS --pod NAME-0 [--container C]\n"
    "  or:  mcp-proxy [OPTION]... --transport sse|streamable-http --target-host H --target-port N\n"
    "                             [--namespace NS --pod NAME-0]\n"
    "Serve one MCP server to many MCP clients of either protocol era: streamable HTTP at /mcp\n"
    "(2026-07-28 and the handshake era), HTTP+SSE at /sse and /messages, /health, /metrics.\n"
    "\n"
    "      --transport=T            how the MCP server speaks: stdio, sse or streamable-http\n"
    "      --exec -- CMD [ARG]...   run the MCP server as a child process (stdio; restarted\n"
    "                               when it exits); no Kubernetes needed\n"
    "      --namespace=NS           Kubernetes mode: the MCP server pod's namespace\n"
    "      --pod=NAME               the pod to attach to (stdio), e.g. <name>-0; sse and\n"
    "                               streamable-http: requests go to its IP while it is Ready\n"
    "                               (503 while not), not by --target-host's cached DNS answer\n"
    "      --container=C            its container (default mcp)\n"
    "      --target-host=HOST       sse/streamable-http: the MCP server's host\n"
    "      --target-port=N          and port\n"
    "      --target-path=PATH       where the MCP server serves its transport (default /mcp\n"
    "                               for streamable-http, /sse for sse)\n"
    "      --passthrough            sse/streamable-http: reverse-proxy requests unchanged\n"
    "                               (clients must speak the server's era and transport;\n"
    "                               each keeps its own session) instead of bridging\n"
    "      --tools=a,b,...          only these tools: tools/list filtered, other calls refused\n"
    "      --port=N                 port to listen on (default 8080)\n"
    "      --bind=ADDR              address to listen on (default 127.0.0.1: this machine\n"
    "                               only; :: for every address, IPv6 and IPv4, as the\n"
    "                               operator runs it)\n"
    "      --tls-cert-file=FILE     serve HTTPS with this PEM chain (and --tls-key-file)\n"
    "      --tls-key-file=FILE      its PEM private key\n"
    "      --health-port=N          also serve /healthz /readyz on N (default 0: off)\n"
    "      --allow-host=NAME        a name the proxy is served under (repeatable; any port):\n"
    "                               Host must be one of them, localhost, 127.0.0.1, [::1] or\n"
    "                               an IP address, and Origin, when sent, must name one of\n"
    "                               them or a loopback host, else 403 (DNS rebinding); more\n"
    "                               names, comma-separated, in $MCP_PROXY_ALLOWED_HOSTS\n"
    "      --allow-origin=ORIGIN    accept this exact Origin header too (repeatable)\n"
    "      --max-message-bytes=N    largest JSON-RPC message (default 4194304)\n"
    "      --max-queued-bytes=N     most bytes queued in all (answers for slow clients,\n"
    "                               request bodies, writes to the server, parked requests;\n"
    "                               default 67108864, at least twice --max-message-bytes):\n"
    "                               the slowest clients are shed, new work gets 503\n"
    "      --max-sessions=N         most open handshake-era sessions (default 1024)\n"
    "      --max-sessions-per-client=N  most sessions from one client address (default 256;\n"
    "                               its least recently used idle one makes room)\n"
    "      --max-inflight=N         most requests in flight per session, or per client\n"
    "                               address for 2026-07-28 requests (default 256)\n"
    "      --max-inflight-total=N   most requests in flight to the server (default 4096)\n"
    "      --max-connections=N      most client connections at once; more are answered 503\n"
    "                               and closed (default 4096, less under a low fd limit)\n"
    "      --request-timeout=SEC    a request the server has not answered by then gets an\n"
    "                               error, and the server a cancellation (default 300)\n"
    "      --idle-timeout=SEC       close a session idle this long (default 1800)\n"
    "      --drain-seconds=SEC      on SIGTERM, wait this long for requests (default 10)\n"
    "      --probe-timeout=SEC      wait this long for server/discover and initialize\n"
    "                               (default 10)\n"
    "      --attach-stale=SEC       replace an attach stream silent this long (pinged at a\n"
    "                               third of it; default 30)\n"
    "      --egress-port=N          also serve a forward proxy for the MCP server's own\n"
    "                               traffic on N (same --bind; default 0: off): CONNECT\n"
    "                               host:port and absolute-form http:// requests, only from\n"
    "                               the MCP server (its pod's IPs; loopback with --exec),\n"
    "                               only to the hosts and ports of --egress-profile; names\n"
    "                               resolved by the proxy, private, loopback and link-local\n"
    "                               addresses refused unless an exact entry names them\n"
    "      --egress-profile=FILE    ToolHive's permission profile (JSON; network.outbound:\n"
    "                               allow_host \"api.example.com\", \".example.com\" (it and\n"
    "                               every name under it), \"*.example.com\" (names under\n"
    "                               it), allow_port (none: 443 and 80), insecure_allow_all);\n"
    "                               read again within a second of a change, a bad file keeps\n"
    "                               the rules in force\n"
    "      --egress-max-connections=N  most egress connections at once; more get 503\n"
    "                               (default 256)\n"
    "      --egress-idle-timeout=SEC  close a tunnel silent both ways this long (default 300)\n"
    "      --egress-connect-timeout=SEC  to resolve a name, and then to connect (default 10;\n"
    "                               504 when it runs out)\n"
    "      --oidc-issuer=URL        require a bearer token (OAuth 2.1 resource server, MCP\n"
    "                               authorization): a JWT whose iss is URL, signed by a key\n"
    "                               of its JWKS (found by OIDC discovery), for --oidc-audience;\n"
    "                               401 with WWW-Authenticate and the RFC 9728 metadata at\n"
    "                               /.well-known/oauth-protected-resource otherwise\n"
    "      --oidc-kubernetes        the cluster's own ServiceAccount tokens: issuer and keys\n"
    "                               from the apiserver (https://kubernetes.default.svc) over\n"
    "                               the pod's ServiceAccount CA\n"
    "      --oidc-cluster-auth      send the pod's ServiceAccount token to the apiserver\n"
    "                               when fetching its discovery document and keys\n"
    "      --oidc-namespace=NS      accept only ServiceAccounts of namespace NS\n"
    "      --oidc-audience=AUD      the audience tokens must name (required with the above)\n"
    "      --oidc-jwks-url=URL      the keys' URL (default: discovery's jwks_uri)\n"
    "      --oidc-introspection-url=URL  check tokens that are not JWTs by RFC 7662\n"
    "                               introspection (client: --oidc-client-id and\n"
    "                               $MCP_PROXY_OIDC_CLIENT_SECRET)\n"
    "      --oidc-client-id=ID      the introspection client's id\n"
    "      --oidc-ca-file=FILE      CA bundle for the issuer's URLs (default: the system's)\n"
    "      --oidc-jwks-token-file=FILE  send this file's token when fetching the keys\n"
    "      --oidc-allow-private-ip  let the issuer's URLs resolve to private addresses\n"
    "      --resource-url=URL       this resource's identifier (RFC 9728, RFC 8707; default\n"
    "                               the request's own http://<Host>/mcp)\n"
    "      --authz-config=FILE      ToolHive's Cedar configuration (JSON: version, type\n"
    "                               cedarv1, cedar.policies, cedar.entities_json): tools/call,\n"
    "                               prompts/get and resources/read denied unless a policy\n"
    "                               permits them, lists filtered per caller; needs\n"
    "                               authentication\n"
    "      --log-level=LEVEL        debug, info, warn or error (default info)\n"
    "      --help                   show this help and exit\n"
    "      --version                show the version and exit\n";

enum {
    OPT_TRANSPORT = 256,
    OPT_EXEC,
    OPT_NS,
    OPT_POD,
    OPT_CONTAINER,
    OPT_THOST,
    OPT_TPORT,
    OPT_TPATH,
    OPT_PASSTHROUGH,
    OPT_TOOLS,
    OPT_PORT,
    OPT_BIND,
    OPT_CERT,
    OPT_KEY,
    OPT_HEALTH_PORT,
    OPT_ORIGIN,
    OPT_ALLOW_HOST,
    OPT_MAX_MSG,
    OPT_MAX_QUEUED,
    OPT_MAX_SESS,
    OPT_MAX_INFL,
    OPT_MAX_INFL_TOTAL,
    OPT_MAX_CONN,
    OPT_MAX_SESS_CLIENT,
    OPT_REQ_TIMEOUT,
    OPT_IDLE,
    OPT_DRAIN,
    OPT_PROBE,
    OPT_STALE,
    OPT_EGRESS_PORT,
    OPT_EGRESS_PROFILE,
    OPT_EGRESS_MAX_CONN,
    OPT_EGRESS_IDLE,
    OPT_EGRESS_CONNECT,
    OPT_OIDC_ISSUER,
    OPT_OIDC_KUBERNETES,
    OPT_OIDC_CLUSTER_AUTH,
    OPT_OIDC_NAMESPACE,
    OPT_OIDC_AUDIENCE,
    OPT_OIDC_JWKS_URL,
    OPT_OIDC_INTROSPECTION_URL,
    OPT_OIDC_CLIENT_ID,
    OPT_OIDC_CA_FILE,
    OPT_OIDC_JWKS_TOKEN_FILE,
    OPT_OIDC_ALLOW_PRIVATE_IP,
    OPT_RESOURCE_URL,
    OPT_AUTHZ_CONFIG,
    OPT_LOG,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option options[] = {
    {"transport", required_argument, NULL, OPT_TRANSPORT},
    {"exec", no_argument, NULL, OPT_EXEC},
    {"namespace", required_argument, NULL, OPT_NS},
    {"pod", required_argument, NULL, OPT_POD},
    {"container", required_argument, NULL, OPT_CONTAINER},
    {"target-host", required_argument, NULL, OPT_THOST},
    {"target-port", required_argument, NULL, OPT_TPORT},
    {"target-path", required_argument, NULL, OPT_TPATH},
    {"passthrough", no_argument, NULL, OPT_PASSTHROUGH},
    {"tools", required_argument, NULL, OPT_TOOLS},
    {"port", required_argument, NULL, OPT_PORT},
    {"bind", required_argument, NULL, OPT_BIND},
    {"tls-cert-file", required_argument, NULL, OPT_CERT},
    {"tls-key-file", required_argument, NULL, OPT_KEY},
    {"health-port", required_argument, NULL, OPT_HEALTH_PORT},
    {"allow-origin", required_argument, NULL, OPT_ORIGIN},
    {"allow-host", required_argument, NULL, OPT_ALLOW_HOST},
    {"max-message-bytes", required_argument, NULL, OPT_MAX_MSG},
    {"max-queued-bytes", required_argument, NULL, OPT_MAX_QUEUED},
    {"max-sessions", required_argument, NULL, OPT_MAX_SESS},
    {"max-inflight", required_argument, NULL, OPT_MAX_INFL},
    {"max-inflight-total", required_argument, NULL, OPT_MAX_INFL_TOTAL},
    {"max-connections", required_argument, NULL, OPT_MAX_CONN},
    {"max-sessions-per-client", required_argument, NULL, OPT_MAX_SESS_CLIENT},
    {"request-timeout", required_argument, NULL, OPT_REQ_TIMEOUT},
    {"idle-timeout", required_argument, NULL, OPT_IDLE},
    {"drain-seconds", required_argument, NULL, OPT_DRAIN},
    {"probe-timeout", required_argument, NULL, OPT_PROBE},
    {"attach-stale", required_argument, NULL, OPT_STALE},
    {"egress-port", required_argument, NULL, OPT_EGRESS_PORT},
    {"egress-profile", required_argument, NULL, OPT_EGRESS_PROFILE},
    {"egress-max-connections", required_argument, NULL, OPT_EGRESS_MAX_CONN},
    {"egress-idle-timeout", required_argument, NULL, OPT_EGRESS_IDLE},
    {"egress-connect-timeout", required_argument, NULL, OPT_EGRESS_CONNECT},
    {"oidc-issuer", required_argument, NULL, OPT_OIDC_ISSUER},
    {"oidc-kubernetes", no_argument, NULL, OPT_OIDC_KUBERNETES},
    {"oidc-cluster-auth", no_argument, NULL, OPT_OIDC_CLUSTER_AUTH},
    {"oidc-namespace", required_argument, NULL, OPT_OIDC_NAMESPACE},
    {"oidc-audience", required_argument, NULL, OPT_OIDC_AUDIENCE},
    {"oidc-jwks-url", required_argument, NULL, OPT_OIDC_JWKS_URL},
    {"oidc-introspection-url", required_argument, NULL, OPT_OIDC_INTROSPECTION_URL},
    {"oidc-client-id", required_argument, NULL, OPT_OIDC_CLIENT_ID},
    {"oidc-ca-file", required_argument, NULL, OPT_OIDC_CA_FILE},
    {"oidc-jwks-token-file", required_argument, NULL, OPT_OIDC_JWKS_TOKEN_FILE},
    {"oidc-allow-private-ip", no_argument, NULL, OPT_OIDC_ALLOW_PRIVATE_IP},
    {"resource-url", required_argument, NULL, OPT_RESOURCE_URL},
    {"authz-config", required_argument, NULL, OPT_AUTHZ_CONFIG},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static volatile sig_atomic_t stop_flag;

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int bad_usage(const char *fmt, const char *arg)
{
    return mcp_opt_usage_error("mcp-proxy", fmt, arg);
}

/* Seconds in (0, 7 days]. */
static int parse_seconds(const char *s, double *out)
{
    double v;

    if (mcp_opt_double(s, 0, 86400 * 7, &v) != 0 || v <= 0)
        return -1;
    *out = v;
    return 0;
}

/* "a,b,c" into a NULL-terminated array (the names are copied). */
static int parse_tools(const char *arg, px_config_t *cfg)
{
    size_t n = 1, i = 0;
    char *copy, *save = NULL;

    for (const char *p = arg; *p; p++)
        n += *p == ',';
    free(cfg->tools);
    cfg->tools = calloc(n + 1, sizeof(char *) + 0);
    copy = strdup(arg);
    if (!cfg->tools || !copy) {
        free(copy);
        return -1;
    }
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (*t)
            cfg->tools[i++] = strdup(t);
    free(copy);
    return 0;
}

/* A value of --NAME that breaks its rule (why: for Kubernetes names from
 * common/src/validate.c in the apiserver's wording; NULL when valid): exit 2
 * naming the option, the value and the rule. */
static int bad_name(const char *name, const char *arg, const char *why)
{
    char msg[512];

    if (!why)
        return 0;
    snprintf(msg, sizeof(msg), "invalid value '%.200s' for --%s: %s", arg, name, why);
    return bad_usage("%s", msg);
}

/* An absolute http(s) URL of visible ASCII, at most 2,048 bytes (NULL when it is). */
static const char *url_rule(const char *arg)
{
    size_t n = strlen(arg);

    if (n > 2048 || !px_visible_ascii(arg, n))
        return "must be visible ASCII and at most 2048 characters";
    if (strncmp(arg, "https://", 8) != 0 && strncmp(arg, "http://", 7) != 0)
        return "must be an absolute http:// or https:// URL";
    if (!arg[strncmp(arg, "https://", 8) == 0 ? 8 : 7] || strchr(arg, '#'))
        return "must name a host and have no fragment";
    return NULL;
}

static int apply_option(int opt, const char *arg, px_config_t *cfg)
{
    long l;
    int bad = 0;

    switch (opt) {
    case OPT_TRANSPORT:
        if (strcmp(arg, "stdio") == 0)
            cfg->transport = PX_T_STDIO;
        else if (strcmp(arg, "sse") == 0)
            cfg->transport = PX_T_SSE;
        else if (strcmp(arg, "streamable-http") == 0)
            cfg->transport = PX_T_STREAMABLE;
        else
            bad = 1;
        break;
    case OPT_NS: /* names go into the apiserver's URL paths and field selectors */
        cfg->ns = arg;
        return bad_name("namespace", arg, mcp_check_dns1123_label(arg));
    case OPT_POD:
        cfg->pod = arg;
        return bad_name("pod", arg, mcp_check_dns1123_subdomain(arg));
    case OPT_CONTAINER:
        cfg->container = arg;
        return bad_name("container", arg, mcp_check_dns1123_label(arg));
    case OPT_THOST:
        cfg->target_host = arg;
        break;
    case OPT_TPORT:
        bad = mcp_opt_int(arg, 1, 65535, &cfg->target_port);
        break;
    case OPT_TPATH: /* as it goes on the request line */
        cfg->target_path = arg;
        bad = arg[0] != '/' || strlen(arg) > 256 || !px_visible_ascii(arg, strlen(arg));
        return bad_name("target-path", arg,
                        bad ? "must start with '/', be visible ASCII and at most 256 characters"
                            : NULL);
    case OPT_PASSTHROUGH:
        cfg->passthrough = 1;
        break;
    case OPT_TOOLS:
        bad = parse_tools(arg, cfg);
        break;
    case OPT_PORT:
        bad = mcp_opt_int(arg, 0, 65535, &cfg->port);
        break;
    case OPT_BIND:
        cfg->bind = arg;
        break;
    case OPT_CERT:
        cfg->tls_cert = arg;
        break;
    case OPT_KEY:
        cfg->tls_key = arg;
        break;
    case OPT_HEALTH_PORT:
        bad = mcp_opt_int(arg, 0, 65535, &cfg->health_port);
        break;
    case OPT_ORIGIN: {
        const char **o = realloc(cfg->origins, (cfg->n_origins + 1) * sizeof(*o));

        bad = !o;
        if (o) {
            cfg->origins = o;
            o[cfg->n_origins++] = arg;
        }
        break;
    }
    case OPT_ALLOW_HOST:
        return bad_name("allow-host", arg, px_allow_host_add(cfg, arg));
    case OPT_MAX_MSG:
        bad = mcp_opt_long(arg, 1024, 1L << 30, &l);
        cfg->max_message = (size_t)l;
        break;
    case OPT_MAX_QUEUED:
        bad = mcp_opt_long(arg, 2048, 1L << 40, &l);
        cfg->max_queued = (size_t)l;
        break;
    case OPT_MAX_SESS:
        bad = mcp_opt_int(arg, 1, 1000000, &cfg->max_sessions);
        break;
    case OPT_MAX_INFL:
        bad = mcp_opt_int(arg, 1, 1000000, &cfg->max_inflight);
        break;
    case OPT_MAX_INFL_TOTAL:
        bad = mcp_opt_int(arg, 1, 1000000, &cfg->max_inflight_total);
        break;
    case OPT_MAX_CONN:
        bad = mcp_opt_int(arg, 1, 1000000, &cfg->max_connections);
        break;
    case OPT_MAX_SESS_CLIENT:
        bad = mcp_opt_int(arg, 1, 1000000, &cfg->max_sessions_per_client);
        break;
    case OPT_REQ_TIMEOUT:
        bad = parse_seconds(arg, &cfg->request_timeout);
        break;
    case OPT_IDLE:
        bad = parse_seconds(arg, &cfg->idle_timeout);
        break;
    case OPT_DRAIN:
        bad = parse_seconds(arg, &cfg->drain_seconds);
        break;
    case OPT_PROBE:
        bad = parse_seconds(arg, &cfg->probe_timeout);
        break;
    case OPT_STALE:
        bad = parse_seconds(arg, &cfg->attach_stale);
        break;
    case OPT_EGRESS_PORT:
        bad = mcp_opt_int(arg, 0, 65535, &cfg->egress_port);
        break;
    case OPT_EGRESS_PROFILE:
        cfg->egress_profile = arg;
        break;
    case OPT_EGRESS_MAX_CONN:
        bad = mcp_opt_int(arg, 1, 1000000, &cfg->egress_max_conns);
        break;
    case OPT_EGRESS_IDLE:
        bad = parse_seconds(arg, &cfg->egress_idle_timeout);
        break;
    case OPT_EGRESS_CONNECT:
        bad = parse_seconds(arg, &cfg->egress_connect_timeout);
        break;
    case OPT_OIDC_ISSUER:
        cfg->oidc_issuer = arg;
        return bad_name("oidc-issuer", arg, url_rule(arg));
    case OPT_OIDC_KUBERNETES:
        cfg->oidc_kubernetes = 1;
        break;
    case OPT_OIDC_CLUSTER_AUTH:
        cfg->oidc_cluster_auth = 1;
        break;
    case OPT_OIDC_NAMESPACE:
        cfg->oidc_namespace = arg;
        return bad_name("oidc-namespace", arg, mcp_check_dns1123_label(arg));
    case OPT_OIDC_AUDIENCE:
        cfg->oidc_audience = arg;
        bad = !*arg;
        break;
    case OPT_OIDC_JWKS_URL:
        cfg->oidc_jwks_url = arg;
        return bad_name("oidc-jwks-url", arg, url_rule(arg));
    case OPT_OIDC_INTROSPECTION_URL:
        cfg->oidc_introspection_url = arg;
        return bad_name("oidc-introspection-url", arg, url_rule(arg));
    case OPT_OIDC_CLIENT_ID:
        cfg->oidc_client_id = arg;
        break;
    case OPT_OIDC_CA_FILE:
        cfg->oidc_ca_file = arg;
        break;
    case OPT_OIDC_JWKS_TOKEN_FILE:
        cfg->oidc_jwks_token_file = arg;
        break;
    case OPT_OIDC_ALLOW_PRIVATE_IP:
        cfg->oidc_allow_private_ip = 1;
        break;
    case OPT_RESOURCE_URL:
        cfg->resource_url = arg;
        return bad_name("resource-url", arg, url_rule(arg));
    case OPT_AUTHZ_CONFIG:
        cfg->authz_config = arg;
        break;
    case OPT_LOG:
        bad = mcp_log_set_level_name(arg) != 0;
        break;
    default:
        bad = 1;
    }
    return bad ? mcp_opt_bad_value("mcp-proxy", options, opt, arg) : 0;
}

/* More names the proxy is served under, from the environment (set with an
 * MCPServer's resourceOverrides.proxyDeployment.env, e.g. an Ingress host). */
static int env_hosts(px_config_t *cfg)
{
    const char *list = getenv(PX_ALLOWED_HOSTS_ENV), *why;
    char bad[256], msg[600];

    if (!list || !(why = px_allow_hosts_add_list(cfg, list, bad, sizeof(bad))))
        return 0;
    snprintf(msg, sizeof(msg), "invalid name '%s' in %s: %s", bad, PX_ALLOWED_HOSTS_ENV, why);
    return bad_usage("%s", msg);
}

/* The mode flags must name exactly one way to reach the MCP server. */
static int check(px_config_t *cfg)
{
    int k8s = cfg->ns || cfg->pod;

    if (!cfg->tls_cert != !cfg->tls_key)
        return bad_usage("%s", "--tls-cert-file and --tls-key-file go together");
    if (cfg->max_queued / 2 < cfg->max_message)
        return bad_usage("%s", "--max-queued-bytes must be at least twice --max-message-bytes");
    if (!cfg->egress_port != !cfg->egress_profile)
        return bad_usage("%s", "--egress-port and --egress-profile go together");
    if (cfg->egress_port && cfg->egress_port == cfg->port)
        return bad_usage("%s", "--egress-port must differ from --port");
    if (px_authn_on(cfg) && !cfg->oidc_audience)
        return bad_usage("%s", "--oidc-issuer and --oidc-kubernetes need --oidc-audience");
    if (!px_authn_on(cfg) &&
        (cfg->oidc_audience || cfg->oidc_jwks_url || cfg->oidc_introspection_url ||
         cfg->oidc_namespace || cfg->oidc_cluster_auth || cfg->resource_url))
        return bad_usage("%s", "the --oidc-* options and --resource-url need --oidc-issuer or "
                               "--oidc-kubernetes");
    if (cfg->oidc_namespace && !cfg->oidc_kubernetes)
        return bad_usage("%s", "--oidc-namespace is for --oidc-kubernetes");
    if (cfg->authz_config && !px_authn_on(cfg))
        return bad_usage("%s", "--authz-config needs authentication (--oidc-issuer or "
                               "--oidc-kubernetes): Cedar decides by the token's claims");
    if (cfg->authz_config && cfg->passthrough)
        return bad_usage("%s", "--authz-config is not supported with --passthrough (the "
                               "reverse proxy does not filter lists per caller)");

    if (cfg->transport == PX_T_STDIO) {
        if (cfg->target_path || cfg->passthrough)
            return bad_usage("%s is for sse and streamable-http",
                             cfg->passthrough ? "--passthrough" : "--target-path");
        if (cfg->exec_argv && (k8s || cfg->target_host))
            return bad_usage("%s", "--exec excludes --namespace/--pod/--target-host");
        if (!cfg->exec_argv && !(cfg->ns && cfg->pod))
            return bad_usage("%s", "stdio needs --exec -- CMD..., or --namespace and --pod");
        return 0;
    }
    if (cfg->exec_argv || !cfg->target_host || !cfg->target_port)
        return bad_usage("%s", "sse and streamable-http need --target-host and --target-port");
    if (k8s && !(cfg->ns && cfg->pod))
        return bad_usage("%s", "--namespace and --pod go together");
    if (!cfg->target_path)
        cfg->target_path = cfg->transport == PX_T_SSE ? "/sse" : "/mcp";
    return 0;
}

int main(int argc, char **argv)
{
    px_config_t cfg;
    int opt, rc, transport_set = 0;

    px_config_defaults(&cfg);
    cfg.bind = DEFAULT_BIND;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:", options, NULL)) != -1) {
        switch (opt) {
        case '?':
        case ':':
            px_config_dispose(&cfg);
            return bad_usage(opt == '?' ? "unrecognized option '%s'" : "option '%s' needs a value",
                             argv[optind - 1]);
        case OPT_HELP:
            fputs(usage_text, stdout);
            px_config_dispose(&cfg);
            return 0;
        case OPT_VERSION:
            puts("mcp-proxy " PX_VERSION);
            px_config_dispose(&cfg);
            return 0;
        case OPT_EXEC:
            cfg.exec_argv = (char **)1; /* the command follows the options */
            break;
        default:
            transport_set |= opt == OPT_TRANSPORT;
            if ((rc = apply_option(opt, optarg, &cfg)) != 0) {
                px_config_dispose(&cfg);
                return rc;
            }
        }
    }
    if (cfg.exec_argv) {
        cfg.exec_argv = optind < argc ? argv + optind : NULL;
        if (!cfg.exec_argv) {
            px_config_dispose(&cfg);
            return bad_usage("%s", "--exec needs a command: --exec -- CMD [ARG]...");
        }
    } else if (optind < argc) {
        px_config_dispose(&cfg);
        return bad_usage("unexpected argument '%s'", argv[optind]);
    }
    if (!transport_set && !cfg.exec_argv) {
        px_config_dispose(&cfg);
        return bad_usage("%s", "--transport is required");
    }
    if ((rc = check(&cfg)) != 0 || (rc = env_hosts(&cfg)) != 0) {
        px_config_dispose(&cfg);
        return rc;
    }
    cfg.oidc_client_secret = getenv(PX_CLIENT_SECRET_ENV);
    if (cfg.authz_config) {
        char err[1024];

        if (px_authz_load(&cfg, err, sizeof(err)) != 0) {
            px_config_dispose(&cfg);
            return bad_usage("%s", err);
        }
    }
    /* --max-queued-bytes bounds the RSS only if freed buffers leave it: with
     * glibc's dynamic mmap threshold, multi-MiB answers would move into the
     * heap after the first one is freed and stay there (as in webhook/main.c) */
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    rc = px_run(&cfg, &stop_flag);
    px_config_dispose(&cfg);
    return rc;
}
