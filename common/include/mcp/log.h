/* Structured logging: one JSON object per line on stderr:
 *   {"ts":"2026-11-23T03:00:00.123Z","level":"info","msg":"...","k":"v",...}
 * Key/value pairs are given as a NULL-terminated list of const char* pairs.
 * Never pass secret values or object contents. Thread-safe. */
#ifndef MCP_LOG_H
#define MCP_LOG_H

typedef enum mcp_log_level {
    MCP_LOG_DEBUG = 0,
    MCP_LOG_INFO,
    MCP_LOG_WARN,
    MCP_LOG_ERROR,
} mcp_log_level_t;

/* Set the minimum level (default info). Parses "debug|info|warn|error";
 * returns 0 or MCP_EINVAL. */
int mcp_log_set_level_name(const char *name);
void mcp_log_set_level(mcp_log_level_t level);
int mcp_log_enabled(mcp_log_level_t level);

/* mcp_log(MCP_LOG_INFO, "reconciled", "name", n, "ns", ns, NULL) */
void mcp_log(mcp_log_level_t level, const char *msg, ...) __attribute__((sentinel));

#endif
