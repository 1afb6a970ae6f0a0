/* JSON-lines logger (see mcp/log.h). Each line is built in a local buffer
 * and written with a single write(2), so lines from threads never mix. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mcp/common.h"
#include "mcp/log.h"

#define LOG_LINE_MAX 4096

static volatile int min_level = MCP_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void mcp_log_set_level(mcp_log_level_t level)
{
    min_level = (int)level;
}

int mcp_log_set_level_name(const char *name)
{
    for (size_t i = 0; i < MCP_ARRAY_LEN(level_names); i++) {
        if (strcmp(name, level_names[i]) == 0) {
            min_level = (int)i;
            return 0;
        }
    }
    return MCP_EINVAL;
}

int mcp_log_enabled(mcp_log_level_t level)
{
    return (int)level >= min_level;
}

/* Append s as a JSON string body (without quotes), escaping as needed. */
static size_t put_escaped(char *dst, size_t pos, size_t cap, const char *s)
{
    for (; s && *s && pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            dst[pos++] = '\\';
            dst[pos++] = (char)c;
        } else if (c < 0x20) {
            pos += (size_t)snprintf(dst + pos, cap - pos, "\\u%04x", c);
        } else {
            dst[pos++] = (char)c;
        }
    }
    return pos;
}

static size_t put_raw(char *dst, size_t pos, size_t cap, const char *s)
{
    while (*s && pos + 1 < cap)
        dst[pos++] = *s++;
    return pos;
}

void mcp_log(mcp_log_level_t level, const char *msg, ...)
{
    char line[LOG_LINE_MAX];
    struct timeval tv;
    struct tm tm;
    size_t pos;
    va_list ap;
    const char *k;

    if (!mcp_log_enabled(level))
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    pos = strftime(line, sizeof(line), "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm);
    pos += (size_t)snprintf(line + pos, sizeof(line) - pos, ".%03ldZ\",\"level\":\"%s\",\"msg\":\"",
                            (long)tv.tv_usec / 1000, level_names[level]);
    pos = put_escaped(line, pos, sizeof(line), msg);
    pos = put_raw(line, pos, sizeof(line), "\"");
    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        pos = put_raw(line, pos, sizeof(line), ",\"");
        pos = put_escaped(line, pos, sizeof(line), k);
        pos = put_raw(line, pos, sizeof(line), "\":\"");
        pos = put_escaped(line, pos, sizeof(line), v ? v : "");
        pos = put_raw(line, pos, sizeof(line), "\"");
    }
    va_end(ap);
    pos = put_raw(line, pos, sizeof(line) - 2, "}");
    line[pos++] = '\n';
    if (write(STDERR_FILENO, line, pos) < 0) {
        /* nowhere left to report it */
    }
}
