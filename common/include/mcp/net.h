/* Small socket helpers shared by the daemons. */
#ifndef MCP_NET_H
#define MCP_NET_H

/* The local port a bound socket listens on (IPv4 or IPv6), or -1. */
int mcp_bound_port(int fd);

/* Raise this process's soft RLIMIT_NOFILE to its hard limit (call once at
 * start, before threads). Returns the soft limit now in effect (LONG_MAX for
 * unlimited), or -1 when it cannot be read. Never fatal: a failure to raise
 * is logged as a warning and the old limit stays. */
long mcp_raise_nofile(void);

#endif
