/* Which backend carries the stdio stream: a child process (--exec) or the
 * MCP server pod's pods/attach stream (Kubernetes mode). */
#include <stdio.h>

#include "server.h"

px_backend_t *px_server_backend(const px_config_t *cfg, char *err, size_t errlen)
{
    px_backend_t *be = NULL;

    if (cfg->exec_argv)
        be = px_exec_new(cfg->exec_argv);
    else
        snprintf(err, errlen, "pods/attach is not built yet");
    if (!be && cfg->exec_argv)
        snprintf(err, errlen, "out of memory");
    return be;
}
