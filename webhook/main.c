/* mcp-webhook: the MCPServer admission webhook. This file only parses GNU
 * style flags into a wh_config_t, sets up logging, the fd limit (raised to
 * the hard one) and signals (SIGTERM and SIGINT are blocked in every thread
 * and taken synchronously by wh_run; SIGPIPE is ignored), and calls wh_run.
 * Bad flags exit with status 2. */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/log.h"
#include "mcp/net.h"
#include "mcp/opt.h"
#include "internal.h"

static const char usage_text[] =
    "Usage: mcp-webhook --tls-cert-file=FILE --tls-key-file=FILE [OPTION]...\n"
    "Serve the MCPServer mutating and validating admission webhooks over HTTPS.\n"
    "\n"
    "      --tls-cert-file=FILE       PEM certificate chain (required; reloaded on change)\n"
    "      --tls-key-file=FILE        PEM private key (required; reloaded on change)\n"
    "      --port=N                   HTTPS port (default 8443)\n"
    "      --bind-address=ADDR        address to listen on (default: all)\n"
    "      --health-port=N            plain HTTP /healthz /readyz /metrics (default 8081;\n"
    "                                 -1 disables)\n"
    "      --health-bind-address=ADDR address for the health port (default: all)\n"
    "      --workers=N                worker threads, one event loop each (default: CPUs)\n"
    "      --http2                    offer HTTP/2 by ALPN (default: HTTP/1.1 only)\n"
    "      --cert-check-interval=SEC  how often to check the certificate files (default 1)\n"
    "      --drain-seconds=SEC        keep serving this long after SIGTERM (default 5)\n"
    "      --shutdown-timeout=SEC     then wait this long for in-flight requests (default 10)\n"
    "      --log-level=LEVEL          debug, info, warn or error (default info)\n"
    "      --help                     show this help and exit\n"
    "      --version                  show the version and exit\n";

enum {
    OPT_PORT = 256,
    OPT_BIND,
    OPT_CERT,
    OPT_KEY,
    OPT_HEALTH_PORT,
    OPT_HEALTH_BIND,
    OPT_WORKERS,
    OPT_HTTP2,
    OPT_CHECK,
    OPT_DRAIN,
    OPT_SHUTDOWN,
    OPT_LOG,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option options[] = {
    {"port", required_argument, NULL, OPT_PORT},
    {"bind-address", required_argument, NULL, OPT_BIND},
    {"tls-cert-file", required_argument, NULL, OPT_CERT},
    {"tls-key-file", required_argument, NULL, OPT_KEY},
    {"health-port", required_argument, NULL, OPT_HEALTH_PORT},
    {"health-bind-address", required_argument, NULL, OPT_HEALTH_BIND},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"http2", no_argument, NULL, OPT_HTTP2},
    {"cert-check-interval", required_argument, NULL, OPT_CHECK},
    {"drain-seconds", required_argument, NULL, OPT_DRAIN},
    {"shutdown-timeout", required_argument, NULL, OPT_SHUTDOWN},
    {"log-level", required_argument, NULL, OPT_LOG},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static int bad_usage(const char *fmt, const char *arg)
{
    return mcp_opt_usage_error("mcp-webhook", fmt, arg);
}

/* One option into cfg; 0, or 2 after printing why it is bad. */
static int apply_option(int opt, const char *arg, wh_config_t *cfg)
{
    int bad = 0;

    switch (opt) {
    case OPT_PORT:
        bad = mcp_opt_int(arg, 0, 65535, &cfg->port);
        break;
    case OPT_BIND:
        cfg->bind_address = arg;
        break;
    case OPT_CERT:
        cfg->cert_file = arg;
        break;
    case OPT_KEY:
        cfg->key_file = arg;
        break;
    case OPT_HEALTH_PORT:
        bad = mcp_opt_int(arg, -1, 65535, &cfg->health_port);
        break;
    case OPT_HEALTH_BIND:
        cfg->health_address = arg;
        break;
    case OPT_WORKERS:
        bad = mcp_opt_int(arg, 1, 64, &cfg->workers);
        break;
    case OPT_HTTP2:
        cfg->http2 = 1;
        break;
    case OPT_CHECK:
        bad = mcp_opt_double(arg, 0, 86400, &cfg->cert_check_interval) ||
              cfg->cert_check_interval <= 0;
        break;
    case OPT_DRAIN:
        bad = mcp_opt_double(arg, 0, 86400, &cfg->drain_seconds);
        break;
    case OPT_SHUTDOWN:
        bad = mcp_opt_double(arg, 0, 86400, &cfg->shutdown_timeout);
        break;
    case OPT_LOG:
        bad = mcp_log_set_level_name(arg) != 0;
        break;
    }
    return bad ? mcp_opt_bad_value("mcp-webhook", options, opt, arg) : 0;
}

/* Fill cfg from argv: 0 to run, 2 for a usage error, -1 after --help/--version. */
static int parse_args(int argc, char **argv, wh_config_t *cfg)
{
    int opt, idx;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":", options, &idx)) != -1) {
        if (opt == OPT_HELP || opt == OPT_VERSION) {
            fputs(opt == OPT_HELP ? usage_text : "mcp-webhook " WH_VERSION "\n", stdout);
            return -1;
        }
        if (opt == '?' || opt == ':')
            return bad_usage(opt == '?' ? "unrecognized option '%s'" : "option '%s' needs a value",
                             argv[optind - 1]);
        if (apply_option(opt, optarg, cfg) != 0)
            return 2;
    }
    if (optind < argc)
        return bad_usage("unexpected argument '%s'", argv[optind]);
    if (!cfg->cert_file || !cfg->key_file)
        return bad_usage("%s", "--tls-cert-file and --tls-key-file are required");
    return 0;
}

/* Request bodies reach 3 MiB and h2o grows its buffers by doubling: with
 * glibc's dynamic mmap threshold those big blocks would move into the heap
 * after the first one is freed and keep the RSS up (and the peak higher, from
 * fragmentation). A fixed threshold keeps them mmap'd and returned on free. */
static void tune_malloc(void)
{
    mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

int main(int argc, char **argv)
{
    wh_config_t cfg;
    sigset_t sigs;
    int rc;

    tune_malloc();
    wh_config_defaults(&cfg);
    rc = parse_args(argc, argv, &cfg);
    if (rc != 0)
        return rc < 0 ? 0 : rc;
    mcp_raise_nofile();
    signal(SIGPIPE, SIG_IGN);
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    return wh_run(&cfg, &sigs);
}
