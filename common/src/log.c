/* JSON-lines logger (see mcp/log.h). Each line is built in a local buffer
 * and written with a single write(2), so lines from threads never mix. A
 * line is at most LOG_LINE_MAX bytes: longer values are cut on a character
 * boundary, and the line stays one JSON object in valid UTF-8. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "mcp/common.h"
#include "mcp/log.h"
#include "mcp/utf8.h"

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

/* A line is built in `line` up to LINE_BODY bytes; the rest is kept for
 * what closes it (a quote, the brace, the newline), so a cut line is still
 * one valid JSON object in valid UTF-8. */
#define LINE_BODY (LOG_LINE_MAX - 8)

typedef struct line {
    char buf[LOG_LINE_MAX];
    size_t pos;
    int full; /* something did not fit: the rest is left out */
} line_t;

/* Append s as the body of a JSON string, one whole character (or escape) at
 * a time; bytes that are not UTF-8 become U+FFFD. Stops at the first that
 * does not fit and marks the line full. */
static void put_escaped(line_t *l, const char *s)
{
    size_t n = s ? strlen(s) : 0;

    while (n > 0 && !l->full) {
        unsigned char c = (unsigned char)*s;
        size_t len = mcp_utf8_char(s, n), out = len ? len : 6;
        char esc[8];
        const char *src = s;

        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, out = 2, src = esc;
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c), out = 6, src = esc;
        } else if (!len) {
            src = "\\ufffd", len = 1;
        }
        if (l->pos + out > LINE_BODY) {
            l->full = 1;
            return;
        }
        memcpy(l->buf + l->pos, src, out);
        l->pos += out;
        s += len ? len : 1;
        n -= len ? len : 1;
    }
}

/* Append raw text whole, or nothing (and mark the line full). */
static void put_raw(line_t *l, const char *s)
{
    size_t n = strlen(s);

    if (l->full || l->pos + n > LINE_BODY) {
        l->full = 1;
        return;
    }
    memcpy(l->buf + l->pos, s, n);
    l->pos += n;
}

/* ,"key":"value" - the key whole or the pair not at all; the value as far
 * as it fits, its string always closed. */
static void put_pair(line_t *l, const char *k, const char *v)
{
    size_t start = l->pos;

    put_raw(l, ",\"");
    put_escaped(l, k);
    put_raw(l, "\":\"");
    if (l->full) {
        l->pos = start;
        return;
    }
    put_escaped(l, v ? v : "");
    l->buf[l->pos++] = '"'; /* within the room kept after LINE_BODY */
}

void mcp_log(mcp_log_level_t level, const char *msg, ...)
{
    line_t l = {.pos = 0, .full = 0};
    struct timeval tv;
    struct tm tm;
    va_list ap;
    const char *k;

    if (!mcp_log_enabled(level))
        return;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    l.pos = strftime(l.buf, sizeof(l.buf), "{\"ts\":\"%Y-%m-%dT%H:%M:%S", &tm);
    l.pos += (size_t)snprintf(l.buf + l.pos, sizeof(l.buf) - l.pos,
                              ".%03ldZ\",\"level\":\"%s\",\"msg\":\"", (long)tv.tv_usec / 1000,
                              level_names[level]);
    put_escaped(&l, msg);
    l.buf[l.pos++] = '"';
    va_start(ap, msg);
    while ((k = va_arg(ap, const char *)) != NULL) {
        const char *v = va_arg(ap, const char *);
        if (!l.full)
            put_pair(&l, k, v);
    }
    va_end(ap);
    l.buf[l.pos++] = '}';
    l.buf[l.pos++] = '\n';
    if (write(STDERR_FILENO, l.buf, l.pos) < 0) {
        /* nowhere left to report it */
    }
}
