/* The daemon's life cycle around wh_server: start, log where it listens,
 * wait for SIGTERM/SIGINT, drain (keep serving while /readyz fails, so the
 * endpoint leaves the Service before we stop), then stop accepting and let
 * in-flight requests finish. A second signal during the drain cuts it short.
 * Signals are taken synchronously with sigtimedwait on the calling thread;
 * the caller blocks them in every thread before wh_run. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "mcp/log.h"
#include "internal.h"

/* The next signal of `sigs`, or 0 after `seconds` (< 0: wait for ever). */
static int wait_signal(const sigset_t *sigs, double seconds)
{
    struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
    int sig;

    for (;;) {
        sig = seconds < 0 ? sigwaitinfo(sigs, NULL) : sigtimedwait(sigs, NULL, &ts);
        if (sig >= 0)
            return sig;
        if (errno == EAGAIN)
            return 0;
        /* EINTR: an unrelated signal; keep waiting (the timeout restarts, which is fine) */
    }
}

static void log_started(const wh_config_t *cfg, wh_server_t *s)
{
    char port[16], health[16], workers[16];

    snprintf(port, sizeof(port), "%d", wh_server_port(s));
    snprintf(health, sizeof(health), "%d", wh_server_health_port(s));
    snprintf(workers, sizeof(workers), "%d", cfg->workers);
    mcp_log(MCP_LOG_INFO, "serving", "port", port, "healthPort", health, "workers",
            cfg->workers > 0 ? workers : "auto", "http2", cfg->http2 ? "true" : "false", "version",
            WH_VERSION, NULL);
}

int wh_run(const wh_config_t *cfg, const sigset_t *sigs)
{
    char err[512], secs[32];
    wh_server_t *s = wh_server_start(cfg, err, sizeof(err));
    int sig;

    if (!s) {
        mcp_log(MCP_LOG_ERROR, "cannot start", "error", err, NULL);
        return 1;
    }
    log_started(cfg, s);
    sig = wait_signal(sigs, -1);
    snprintf(secs, sizeof(secs), "%g", cfg->drain_seconds);
    mcp_log(MCP_LOG_INFO, "draining", "signal", strsignal(sig), "seconds", secs, NULL);
    wh_server_drain(s);
    if (cfg->drain_seconds > 0 && wait_signal(sigs, cfg->drain_seconds) != 0)
        mcp_log(MCP_LOG_INFO, "second signal, drain cut short", NULL);
    mcp_log(MCP_LOG_INFO, "stopping: no new connections, finishing in-flight requests", NULL);
    if (wh_server_stop(s) != 0) {
        mcp_log(MCP_LOG_WARN, "shutdown timeout reached with connections still open", NULL);
        return 1;
    }
    mcp_log(MCP_LOG_INFO, "stopped", NULL);
    return 0;
}
