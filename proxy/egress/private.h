/* What egress.c and conn.c share inside the egress room. */
#ifndef PX_EGRESS_PRIVATE_H
#define PX_EGRESS_PRIVATE_H

#include <sys/stat.h>

#include "egress.h"
#include "mcp/egress_rules.h"

#define MCP_EG_HEAD_TIMEOUT_MS 10000 /* a request head arrives within this */
#define MCP_EG_LINGER_MS       5000  /* our own answer is taken within this */
#define MCP_EG_RCVBUF          65536 /* SO_RCVBUF: what one read may bring, each side */

struct px_egress {
    h2o_loop_t *loop;
    const px_config_t *cfg; /* borrowed: egress_* */
    px_egress_clients_t clients;
    h2o_socket_t *listener;
    h2o_linklist_t conns; /* conn_t.link */
    int n_conns;
    h2o_timeout_t head_timeout, connect_timeout, idle_timeout, linger_timeout, reload_timeout;
    h2o_timeout_t accept_timeout; /* out of descriptors: the listener rests */
    h2o_timeout_entry_t reload_entry, accept_entry;
    h2o_multithread_queue_t *queue; /* h2o's getaddrinfo answers arrive here */
    h2o_multithread_receiver_t resolver;
    int lookups; /* getaddrinfo calls not answered yet, their connections gone or not */
    mcp_eg_rules_t rules;
    struct stat seen; /* the profile file as last read (or tried) */
    int missing;      /* it could not be stat()ed last time */
    uint64_t warned_at, refused_since;
};

/* conn.c: serve a new client connection (sock owned from here on; peer is
 * its address as text, for the log). */
void mcp_eg_conn_start(px_egress_t *eg, h2o_socket_t *sock, const char *peer);
/* Close every connection, each with its log line (end = why). */
void mcp_eg_conn_close_all(px_egress_t *eg, const char *why);

#endif
