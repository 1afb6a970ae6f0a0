/* Which backend carries the stdio stream: a child process (--exec) or the
 * MCP server pod's pods/attach stream (Kubernetes mode). */
#include <stdio.h>

#include "server.h"
#include "wsch.h"

px_backend_t *px_server_backend(const px_config_t *cfg, char *err, size_t errlen)
{
    px_backend_t *be;

    if (!cfg->exec_argv)
        return px_attach_new(cfg, err, errlen);
    be = px_exec_new(cfg->exec_argv);
    if (!be)
        snprintf(err, errlen, "out of memory");
    return be;
}
