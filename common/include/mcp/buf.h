/* Growable byte buffers with a hard size cap given at init (like curl's
 * dynbuf). Every buffer filled from the network is one of these. */
#ifndef MCP_BUF_H
#define MCP_BUF_H

#include <stddef.h>

typedef struct mcp_buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len, alloc, cap;
} mcp_buf_t;

/* Caller-allocated; `cap` is the most bytes the buffer may ever hold. */
void mcp_buf_init(mcp_buf_t *b, size_t cap);
void mcp_buf_dispose(mcp_buf_t *b);
void mcp_buf_reset(mcp_buf_t *b); /* len = 0, keeps memory */

/* Append; MCP_ETOOBIG when the cap would be exceeded (buffer unchanged),
 * MCP_ENOMEM on allocation failure. */
int mcp_buf_add(mcp_buf_t *b, const void *p, size_t n);
int mcp_buf_adds(mcp_buf_t *b, const char *s);
int mcp_buf_addf(mcp_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Drop the first n bytes (used by stream decoders). */
void mcp_buf_consume(mcp_buf_t *b, size_t n);

/* Hand the memory to the caller (free() it); the buffer is left empty. */
char *mcp_buf_take(mcp_buf_t *b);

#endif
