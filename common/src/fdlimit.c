/* The file descriptor limit (see mcp/net.h). A daemon that serves many
 * connections should not stop at the distribution's default soft limit
 * (often 1024) when the hard limit, which the container runtime or the
 * administrator set on purpose, allows more: raising the soft limit up to
 * the hard one needs no privilege. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "mcp/log.h"
#include "mcp/net.h"

long mcp_raise_nofile(void)
{
    struct rlimit rl;
    char from[24], to[24];

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        mcp_log(MCP_LOG_WARN, "cannot read the file descriptor limit", "error", strerror(errno),
                NULL);
        return -1;
    }
    snprintf(from, sizeof(from), "%llu", (unsigned long long)rl.rlim_cur);
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = {rl.rlim_max, rl.rlim_max};

        /* an unlimited hard limit is refused (Linux caps it at fs.nr_open): keep the soft one */
        if (setrlimit(RLIMIT_NOFILE, &want) == 0)
            rl.rlim_cur = rl.rlim_max;
        else
            mcp_log(MCP_LOG_WARN, "cannot raise the file descriptor limit", "soft", from, "error",
                    strerror(errno), NULL);
    }
    snprintf(to, sizeof(to), "%llu", (unsigned long long)rl.rlim_cur);
    mcp_log(MCP_LOG_DEBUG, "file descriptor limit", "was", from, "now", to, NULL);
    return rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > (rlim_t)LONG_MAX ? LONG_MAX
                                                                          : (long)rl.rlim_cur;
}
