/* The egress proxy's request heads (proxy/egress/request.c), table-driven
 * from test/fixtures/proxy/egress/requests.txt (a new case is a new line):
 * what each head is taken as, or why it is refused, and the origin-form
 * head a forwarded request becomes; then where request bodies end
 * (Content-Length, chunked with a trailer, split anywhere). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../proxy/egress/request.h"

#define CASES     "test/fixtures/proxy/egress/requests.txt"
#define MIN_CASES 45

/* \r \n \t \\ and \xHH decoded into out; the length. */
static size_t unescape(const char *in, char *out)
{
    size_t n = 0;

    for (; *in; in++) {
        unsigned v;

        if (in[0] != '\\' || !in[1])
            out[n++] = *in;
        else if (in[1] == 'x' && sscanf(in + 2, "%2x", &v) == 1) {
            out[n++] = (char)v;
            in += 3;
        } else {
            out[n++] = in[1] == 'r' ? '\r' : in[1] == 'n' ? '\n' : in[1] == 't' ? '\t' : in[1];
            in++;
        }
    }
    out[n] = '\0';
    return n;
}

typedef struct table {
    int lineno, cases, failed;
    int forward; /* the previous case was a forward: the next line may be its fwd */
    mcp_buf_t fwd;
} table_t;

static void fail_line(table_t *t, const char *line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: %.200s\n    ", CASES, t->lineno, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t->failed++;
}

static void check_fwd(table_t *t, const char *line, const char *escaped)
{
    char want[8192];
    size_t n = unescape(escaped, want);

    if (!t->forward)
        fail_line(t, line, "no forward case before this line");
    else if (t->fwd.len != n || memcmp(t->fwd.data, want, n) != 0)
        fail_line(t, line, "got %s", t->fwd.data ? t->fwd.data : "nothing");
    t->forward = 0;
}

static void check_request(table_t *t, const char *line, const char *want, const char *escaped)
{
    char buf[8192], why[200] = "", got[400], reason[200];
    size_t n = unescape(escaped, buf);
    mcp_eg_request_t *req = calloc(1, sizeof(*req));
    int rc = mcp_eg_request_parse(buf, n, req, &t->fwd, why, sizeof(why));

    if (rc > 0)
        snprintf(got, sizeof(got), "%s:%s:%d", req->kind == MCP_EG_CONNECT ? "connect" : "forward",
                 req->host, req->port);
    else
        snprintf(got, sizeof(got), "%s", rc == 0 ? "incomplete" : "bad");
    t->forward = rc > 0 && req->kind == MCP_EG_FORWARD;
    if (strncmp(want, "bad:", 4) == 0) {
        snprintf(reason, sizeof(reason), "%s", want + 4);
        for (char *p = reason; *p; p++)
            *p = *p == '_' ? ' ' : *p;
        if (rc != -1 || !strstr(why, reason))
            fail_line(t, line, "got %s (%s), want a refusal naming \"%s\"", got, why, reason);
    } else if (strcmp(got, want) != 0)
        fail_line(t, line, "got %s (%s), want %s", got, why, want);
    else if (rc > 0 && (size_t)rc != req->head_len)
        fail_line(t, line, "head_len %zu, returned %d", req->head_len, rc);
    free(req);
}

static void test_table(void **state)
{
    FILE *f = fopen(CASES, "r");
    table_t t = {0};
    char line[8192];

    (void)state;
    assert_non_null(f);
    mcp_buf_init(&t.fwd, MCP_EG_FWD_MAX);
    while (fgets(line, sizeof(line), f)) {
        char *sp;

        t.lineno++;
        line[strcspn(line, "\n")] = '\0';
        if (!line[0] || line[0] == '#' || !(sp = strchr(line, ' ')))
            continue;
        *sp = '\0';
        t.cases++;
        if (strcmp(line, "fwd") == 0)
            check_fwd(&t, sp + 1, sp + 1);
        else
            check_request(&t, sp + 1, line, sp + 1);
    }
    fclose(f);
    mcp_buf_dispose(&t.fwd);
    fprintf(stderr, "%s: %d cases, %d failed\n", CASES, t.cases, t.failed);
    assert_int_equal(t.failed, 0);
    assert_true(t.cases >= MIN_CASES);
}

/* A head over 16 KiB is refused, not waited for. */
static void test_head_cap(void **state)
{
    size_t n = MCP_EG_HEAD_MAX + 100;
    char *big = malloc(n), why[200];
    mcp_eg_request_t *req = calloc(1, sizeof(*req));
    mcp_buf_t fwd;

    (void)state;
    mcp_buf_init(&fwd, MCP_EG_FWD_MAX);
    memcpy(big, "GET http://a.example/ HTTP/1.1\r\nX: ", 35);
    memset(big + 35, 'a', n - 35);
    assert_int_equal(mcp_eg_request_parse(big, MCP_EG_HEAD_MAX - 1, req, &fwd, why, sizeof(why)),
                     0);
    assert_int_equal(mcp_eg_request_parse(big, n, req, &fwd, why, sizeof(why)), -1);
    assert_non_null(strstr(why, "16384"));
    mcp_buf_dispose(&fwd);
    free(req);
    free(big);
}

/* Feed body bytes in pieces of `step`: how many were taken, and done. */
static size_t feed(mcp_eg_body_t *b, const char *p, size_t n, size_t step)
{
    size_t taken = 0;

    for (size_t off = 0; off < n && !b->done; off += step) {
        size_t len = n - off < step ? n - off : step;
        ssize_t t = mcp_eg_body_take(b, p + off, len);

        assert_true(t >= 0 && (size_t)t <= len);
        taken += (size_t)t;
        if ((size_t)t < len)
            assert_true(b->done);
    }
    return taken;
}

static void test_bodies(void **state)
{
    static const char chunked[] = "5\r\nhello\r\n3;ext=1\r\n, w\r\n0\r\nX-Trailer: 1\r\n\r\n"
                                  "GET http://next.example/ HTTP/1.1\r\n\r\n";
    static const char tail[] = "GET http://next.example/ HTTP/1.1\r\n\r\n";
    size_t body = sizeof(chunked) - 1 - (sizeof(tail) - 1);
    mcp_eg_body_t *b = calloc(1, sizeof(*b));

    (void)state;
    for (size_t step = 1; step <= sizeof(chunked); step++) {
        memset(b, 0, sizeof(*b));
        b->chunked = 1;
        b->dec.consume_trailer = 1;
        assert_int_equal(feed(b, chunked, sizeof(chunked) - 1, step), body);
        assert_true(b->done);
    }
    memset(b, 0, sizeof(*b));
    b->left = 3;
    assert_int_equal(feed(b, "abcdef", 6, 2), 3);
    assert_true(b->done);
    assert_int_equal(mcp_eg_body_take(b, "x", 1), 0);
    memset(b, 0, sizeof(*b));
    b->chunked = 1;
    assert_int_equal(mcp_eg_body_take(b, "zz\r\n", 4), -1); /* not a chunk size */
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_head_cap),
        cmocka_unit_test(test_bodies),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
