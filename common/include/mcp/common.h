/* One error type for the whole project: 0 is success, a negative mcp_err_t
 * is a failure. Functions that return pointers return NULL on failure and put
 * details into an out-parameter. */
#ifndef MCP_COMMON_H
#define MCP_COMMON_H

typedef enum mcp_err {
    MCP_OK = 0,
    MCP_ENOMEM = -1,  /* allocation failed */
    MCP_EINVAL = -2,  /* bad argument or malformed input */
    MCP_ETOOBIG = -3, /* a size cap was hit */
    MCP_EIO = -4,     /* file or network I/O failed */
    MCP_ETLS = -5,    /* TLS / certificate problem */
    MCP_EHTTP = -6,   /* unexpected HTTP status from a peer */
    MCP_ENOENT = -7,  /* not found */
    MCP_ECONFLICT = -8,
} mcp_err_t;

/* A static, human-readable name for an error code. */
const char *mcp_strerror(int err);

#define MCP_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
