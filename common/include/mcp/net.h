/* Small socket helpers shared by both daemons. */
#ifndef MCP_NET_H
#define MCP_NET_H

/* The local port a bound socket listens on (IPv4 or IPv6), or -1. */
int mcp_bound_port(int fd);

#endif
