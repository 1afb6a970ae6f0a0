/* Table-driven tests for mcp_http1_framing_error: each row is a request
 * head as received and NULL (unambiguous) or a piece of the reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/common.h"
#include "mcp/http1.h"

#define RL "POST /mcp HTTP/1.1\r\nHost: localhost\r\n"

static const struct {
    const char *in, *want;
} cases[] = {
    {RL "\r\n", NULL},
    {"GET /health HTTP/1.1\r\n\r\n", NULL},
    {"\r\n\r\n" RL "\r\n", NULL}, /* empty lines before the request line */
    {RL "Content-Length: 5\r\n\r\nhello", NULL},
    {RL "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", NULL},
    {RL "X-Content-Length: 1\r\nContent-Length: 2\r\n\r\n", NULL},
    {RL "Content-Type: a\r\n\r\n" RL "Content-Length: 1\r\nContent-Length: 2\r\n\r\n",
     NULL}, /* only this request's head is read */
    {RL "Content-Length: 5\r\nContent-Length: 6\r\n\r\n", "more than one Content-Length"},
    {"GET / HTTP/1.1\r\nHost: evil.example\r\nHost: 127.0.0.1\r\n\r\n", "more than one Host"},
    {"GET / HTTP/1.1\r\nX-Host: a\r\nHost: 127.0.0.1\r\n\r\n", NULL},
    {RL "content-length: 5\r\nCONTENT-LENGTH: 5\r\n\r\n", "more than one Content-Length"},
    {RL "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", "both Content-Length and"},
    {RL "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n", "both Content-Length and"},
    {RL "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     "more than one Transfer-Encoding"},
    {RL "X-A: a\r\n b\r\n\r\n", "obs-fold"},
    {RL "X-A: a\r\n\tTransfer-Encoding: chunked\r\n\r\n", "obs-fold"},
    {"GET / HTTP/1.1\nHost: localhost\n\n", "bare LF"},
    {RL "X-A: a\n\r\n", "bare LF"},
    {RL "\n", "bare LF"},
    {"\nGET / HTTP/1.1\r\n\r\n", "bare LF"},
    {RL "X-A: a\r\n", "incomplete"},
    {"", "incomplete"},
};

static void test_framing_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(cases); i++) {
        const char *got = mcp_http1_framing_error(cases[i].in, strlen(cases[i].in));

        if (!cases[i].want ? got != NULL : !got || !strstr(got, cases[i].want))
            fail_msg("case %zu (%s): got %s, want %s", i, cases[i].in, got ? got : "NULL",
                     cases[i].want ? cases[i].want : "NULL");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing_cases),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
