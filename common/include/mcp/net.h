/* Small socket helpers shared by the daemons. */
#ifndef MCP_NET_H
#define MCP_NET_H

struct st_h2o_socket_t; /* h2o_socket_t, for the daemons' h2o listeners */

/* The local port a bound socket listens on (IPv4 or IPv6), or -1. */
int mcp_bound_port(int fd);

/* Raise this process's soft RLIMIT_NOFILE to its hard limit (call once at
 * start, before threads). Returns the soft limit now in effect (LONG_MAX for
 * unlimited), or -1 when it cannot be read. Never fatal: a failure to raise
 * is logged as a warning and the old limit stays. */
long mcp_raise_nofile(void);

/* Accept the connections waiting on an h2o listener, at most 16 a call (so
 * one busy listener cannot starve the rest of the loop), handing each new
 * socket to take(ctx, sock), which owns it from then on. Returns 0 once none
 * is waiting or the burst is done. Returns the errno when accept() failed
 * for want of descriptors (EMFILE, ENFILE) or kernel memory (ENOBUFS,
 * ENOMEM): the connection then stays queued and the listener readable, so a
 * loop that kept watching it would spin; the caller stops watching it for a
 * while (the kernel keeps new connections in the backlog meanwhile). */
int mcp_accept_burst(struct st_h2o_socket_t *listener,
                     void (*take)(void *ctx, struct st_h2o_socket_t *sock), void *ctx);

#endif
