/* mcp-controller: parse the command line and WATCH_NAMESPACE into a
 * ctl_config_t, set up logging, and run the controller (manager.c). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "mcp/log.h"
#include "mcp/net.h"
#include "mcp/opt.h"

#define PROG "mcp-controller"

static const char usage[] =
    "usage: mcp-controller [options]\n"
    "Reconciles toolhive.stacklok.dev/v1alpha1 MCPServers into proxy Deployments and Services.\n"
    "\n"
    "  --kubeconfig PATH                kubeconfig file (default: $KUBECONFIG, in-cluster,\n"
    "                                   then ~/.kube/config)\n"
    "  --proxy-image IMAGE              mcp-proxy image (default " CTL_DEFAULT_PROXY_IMAGE ")\n"
    "  --proxy-cluster-role NAME        ClusterRole bound to each proxy's ServiceAccount\n"
    "                                   (default " CTL_DEFAULT_PROXY_CLUSTER_ROLE
    "; the chart's <release>-proxy)\n"
    "  --leader-elect[=true|false]      use a Lease so only one replica reconciles (default true)\n"
    "  --leader-election-namespace NS   namespace of the Lease (default: our namespace)\n"
    "  --leader-election-id NAME        name of the Lease (default mcp-controller-leader)\n"
    "  --lease-duration SECONDS         (default 15)\n"
    "  --renew-deadline SECONDS         (default 10)\n"
    "  --retry-period SECONDS           (default 2)\n"
    "  --health-port PORT               /healthz, /readyz, /metrics (default 8081)\n"
    "  --health-bind-address ADDR       (default all interfaces)\n"
    "  --workers N                      reconcile threads (default 4)\n"
    "  --resync-period SECONDS          re-check every MCPServer this often (default 600, 0 = "
    "off)\n"
    "  --conversion-service NAMESPACE/NAME:PORT\n"
    "                                   keep the MCPServer CRD's conversion webhook on this\n"
    "                                   Service, path /convert (default: not managed)\n"
    "  --conversion-url URL             ... or on URL/convert (https; not with\n"
    "                                   --conversion-service)\n"
    "  --conversion-ca-file FILE        PEM CA bundle the API server must trust for it (needed\n"
    "                                   with either; re-read when its contents change)\n"
    "  --log-level debug|info|warn|error (default info)\n"
    "  --help\n"
    "\n"
    "WATCH_NAMESPACE=a,b limits the namespaces watched (default: all).\n";

enum {
    OPT_KUBECONFIG = 256,
    OPT_IMAGE,
    OPT_ROLE,
    OPT_ELECT,
    OPT_LEASE_NS,
    OPT_LEASE_ID,
    OPT_LEASE,
    OPT_RENEW,
    OPT_RETRY,
    OPT_HPORT,
    OPT_HADDR,
    OPT_WORKERS,
    OPT_RESYNC,
    OPT_CONV_SERVICE,
    OPT_CONV_URL,
    OPT_CONV_CA,
    OPT_LOG,
    OPT_HELP,
};

static const struct option options[] = {
    {"kubeconfig", required_argument, NULL, OPT_KUBECONFIG},
    {"proxy-image", required_argument, NULL, OPT_IMAGE},
    {"proxy-cluster-role", required_argument, NULL, OPT_ROLE},
    {"leader-elect", optional_argument, NULL, OPT_ELECT},
    {"leader-election-namespace", required_argument, NULL, OPT_LEASE_NS},
    {"leader-election-id", required_argument, NULL, OPT_LEASE_ID},
    {"lease-duration", required_argument, NULL, OPT_LEASE},
    {"renew-deadline", required_argument, NULL, OPT_RENEW},
    {"retry-period", required_argument, NULL, OPT_RETRY},
    {"health-port", required_argument, NULL, OPT_HPORT},
    {"health-bind-address", required_argument, NULL, OPT_HADDR},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"resync-period", required_argument, NULL, OPT_RESYNC},
    {"conversion-service", required_argument, NULL, OPT_CONV_SERVICE},
    {"conversion-url", required_argument, NULL, OPT_CONV_URL},
    {"conversion-ca-file", required_argument, NULL, OPT_CONV_CA},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

/* WATCH_NAMESPACE "a, b" -> {"a","b",NULL}; NULL when unset or empty. */
static char **split_namespaces(const char *env)
{
    char *copy, *tok, *save = NULL, **out;
    size_t n = 0;

    if (!env || !*env || !(copy = strdup(env)))
        return NULL;
    out = calloc(strlen(env) + 2, sizeof(char *));
    for (tok = strtok_r(copy, ", ", &save); out && tok; tok = strtok_r(NULL, ", ", &save))
        out[n++] = strdup(tok);
    free(copy);
    if (out && n == 0) {
        free(out);
        return NULL;
    }
    return out;
}

static int parse_opt(ctl_config_t *c, int opt, const char *arg)
{
    switch (opt) {
    case OPT_KUBECONFIG:
        c->kubeconfig = arg;
        return 0;
    case OPT_IMAGE:
        c->proxy_image = arg;
        return 0;
    case OPT_ROLE:
        c->proxy_cluster_role = arg;
        return 0;
    case OPT_ELECT:
        if (arg && strcmp(arg, "true") != 0 && strcmp(arg, "false") != 0)
            return -1;
        c->leader_elect = !arg || strcmp(arg, "true") == 0;
        return 0;
    case OPT_LEASE_NS:
        c->lease_ns = arg;
        return 0;
    case OPT_LEASE_ID:
        c->lease_name = arg;
        return 0;
    case OPT_LEASE:
        return mcp_opt_double(arg, 1, 3600, &c->lease_s);
    case OPT_RENEW:
        return mcp_opt_double(arg, 1, 3600, &c->renew_s);
    case OPT_RETRY:
        return mcp_opt_double(arg, 0.1, 3600, &c->retry_s);
    case OPT_HPORT:
        return mcp_opt_int(arg, 0, 65535, &c->health_port);
    case OPT_HADDR:
        c->health_addr = arg;
        return 0;
    case OPT_WORKERS:
        return mcp_opt_int(arg, 1, 64, &c->workers);
    case OPT_RESYNC:
        return mcp_opt_double(arg, 0, 86400 * 7, &c->resync_s);
    case OPT_CONV_SERVICE:
        return ctl_conversion_parse_service(arg, &c->conversion);
    case OPT_CONV_URL:
        c->conversion.url = arg;
        return ctl_conversion_check_url(arg);
    case OPT_CONV_CA:
        c->conversion.ca_file = *arg ? arg : NULL;
        return *arg ? 0 : -1;
    case OPT_LOG:
        return mcp_log_set_level_name(arg) == 0 ? 0 : -1;
    default:
        return -1;
    }
}

int main(int argc, char **argv)
{
    ctl_config_t cfg = {.leader_elect = true,
                        .lease_s = 15,
                        .renew_s = 10,
                        .retry_s = 2,
                        .health_port = 8081,
                        .workers = 4,
                        .resync_s = 600,
                        .conversion = {.period_s = 60, .ca_poll_s = 2}};
    int opt, rc;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
        if (opt == OPT_HELP || opt == 'h') {
            fputs(usage, stdout);
            return 0;
        }
        if (opt == '?' || opt == ':')
            return mcp_opt_usage_error(
                PROG, opt == '?' ? "unrecognized option '%s'" : "option '%s' needs a value",
                argv[optind - 1]);
        if (parse_opt(&cfg, opt, optarg) != 0)
            return mcp_opt_bad_value(PROG, options, opt, optarg);
    }
    if (optind < argc)
        return mcp_opt_usage_error(PROG, "unexpected argument '%s'", argv[optind]);
    if (cfg.renew_s >= cfg.lease_s || cfg.retry_s >= cfg.renew_s)
        return mcp_opt_usage_error(PROG, "%s",
                                   "need --retry-period < --renew-deadline < --lease-duration");
    if (cfg.conversion.url && cfg.conversion.service_name[0])
        return mcp_opt_usage_error(PROG, "%s",
                                   "give --conversion-service or --conversion-url, not both");
    if (ctl_conversion_on(&cfg.conversion) && !cfg.conversion.ca_file)
        return mcp_opt_usage_error(PROG, "%s needs --conversion-ca-file",
                                   cfg.conversion.url ? "--conversion-url"
                                                      : "--conversion-service");
    if (!ctl_conversion_on(&cfg.conversion) && cfg.conversion.ca_file)
        return mcp_opt_usage_error(PROG, "%s",
                                   "--conversion-ca-file needs --conversion-service or "
                                   "--conversion-url");
    cfg.namespaces = split_namespaces(getenv("WATCH_NAMESPACE"));
    mcp_raise_nofile();
    rc = ctl_run(&cfg);
    for (size_t i = 0; cfg.namespaces && cfg.namespaces[i]; i++)
        free(cfg.namespaces[i]);
    free(cfg.namespaces);
    return rc;
}
