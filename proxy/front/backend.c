/* Which backend carries the stream to the MCP server: its own HTTP
 * transport (sse, streamable-http), a child process (--exec) or the MCP
 * server pod's pods/attach stream (stdio in Kubernetes mode). */
#include <stdio.h>

#include "server.h"
#include "../upstream/wsch.h"

px_backend_t *px_server_backend(const px_config_t *cfg, char *err, size_t errlen)
{
    px_backend_t *be;

    if (cfg->transport != PX_T_STDIO)
        return px_http_backend_new(cfg, err, errlen);
    if (!cfg->exec_argv)
        return px_attach_new(cfg, err, errlen);
    be = px_exec_new(cfg->exec_argv);
    if (!be)
        snprintf(err, errlen, "out of memory");
    return be;
}
