/* The proxy's configuration: defaults (named caps from internal.h) and
 * disposal. Filled by main.c from flags, read by everything else. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void px_config_defaults(px_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = 8080;
    cfg->container = "mcp";
    cfg->transport = PX_T_STDIO;
    cfg->max_message = PX_DEF_MAX_MESSAGE;
    cfg->max_queued = PX_DEF_MAX_QUEUED;
    cfg->max_sessions = PX_DEF_MAX_SESSIONS;
    cfg->max_inflight = PX_DEF_MAX_INFLIGHT;
    cfg->max_inflight_total = PX_DEF_MAX_INFLIGHT_TOTAL;
    cfg->max_sessions_per_client = PX_DEF_MAX_SESSIONS / 4;
    cfg->request_timeout = PX_DEF_REQUEST_TIMEOUT;
    cfg->idle_timeout = PX_DEF_IDLE_TIMEOUT;
    cfg->drain_seconds = PX_DEF_DRAIN;
    cfg->probe_timeout = PX_DEF_PROBE_TIMEOUT;
    cfg->attach_stale = PX_DEF_ATTACH_STALE;
    cfg->egress_max_conns = PX_DEF_EGRESS_MAX_CONNS;
    cfg->egress_idle_timeout = PX_DEF_EGRESS_IDLE;
    cfg->egress_connect_timeout = PX_DEF_EGRESS_CONNECT;
}

void px_config_dispose(px_config_t *cfg)
{
    for (char **t = cfg->tools; t && *t; t++)
        free(*t);
    free(cfg->tools);
    free(cfg->origins);
    for (size_t i = 0; i < cfg->n_hosts; i++)
        free(cfg->hosts[i]);
    free(cfg->hosts);
    cfg->tools = NULL;
    cfg->origins = NULL;
    cfg->hosts = NULL;
    cfg->n_hosts = 0;
}

int px_tool_allowed(const px_config_t *cfg, const char *name)
{
    if (!cfg->tools)
        return 1;
    for (char **t = cfg->tools; name && *t; t++)
        if (strcmp(*t, name) == 0)
            return 1;
    return 0;
}
