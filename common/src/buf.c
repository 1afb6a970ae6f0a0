/* Capped growable buffers (see mcp/buf.h). Growth doubles, never past the
 * cap given at init; the data is kept NUL-terminated for convenience. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/buf.h"
#include "mcp/common.h"

void mcp_buf_init(mcp_buf_t *b, size_t cap)
{
    b->data = NULL;
    b->len = b->alloc = 0;
    b->cap = cap;
}

void mcp_buf_dispose(mcp_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->alloc = 0;
}

void mcp_buf_reset(mcp_buf_t *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

static int grow(mcp_buf_t *b, size_t need)
{
    size_t n = b->alloc ? b->alloc : 256;
    char *p;

    if (need <= b->alloc)
        return 0;
    while (n < need)
        n *= 2;
    if (n > b->cap + 1)
        n = b->cap + 1;
    p = realloc(b->data, n);
    if (!p)
        return MCP_ENOMEM;
    b->data = p;
    b->alloc = n;
    return 0;
}

int mcp_buf_add(mcp_buf_t *b, const void *p, size_t n)
{
    int rc;

    if (n > b->cap - b->len)
        return MCP_ETOOBIG;
    if ((rc = grow(b, b->len + n + 1)) != 0)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mcp_buf_adds(mcp_buf_t *b, const char *s)
{
    return mcp_buf_add(b, s, strlen(s));
}

int mcp_buf_addf(mcp_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];
    int n, rc;

    va_start(ap, fmt);
    n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return MCP_EINVAL;
    if ((size_t)n < sizeof(small))
        return mcp_buf_add(b, small, (size_t)n);
    if ((size_t)n > b->cap - b->len)
        return MCP_ETOOBIG;
    if ((rc = grow(b, b->len + (size_t)n + 1)) != 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void mcp_buf_consume(mcp_buf_t *b, size_t n)
{
    if (n >= b->len) {
        mcp_buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *mcp_buf_take(mcp_buf_t *b)
{
    char *p = b->data;

    if (!p)
        p = calloc(1, 1);
    b->data = NULL;
    b->len = b->alloc = 0;
    return p;
}

const char *mcp_strerror(int err)
{
    switch (err) {
    case MCP_OK:
        return "ok";
    case MCP_ENOMEM:
        return "out of memory";
    case MCP_EINVAL:
        return "invalid input";
    case MCP_ETOOBIG:
        return "size limit exceeded";
    case MCP_EIO:
        return "I/O error";
    case MCP_ETLS:
        return "TLS error";
    case MCP_EHTTP:
        return "unexpected HTTP status";
    case MCP_ENOENT:
        return "not found";
    case MCP_ECONFLICT:
        return "conflict";
    }
    return "unknown error";
}
