/* Log lines (mcp/log.h) stay one JSON object in valid UTF-8 of at most
 * 4 KiB whatever they carry: values cut on a character boundary, bytes that
 * are not UTF-8 replaced, pairs past the end left out whole. And the UTF-8
 * helpers underneath (mcp/utf8.h). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jansson.h>

#include "mcp/log.h"
#include "mcp/utf8.h"

/* Run one mcp_log call with stderr captured; returns the line (static). */
#define CAPTURE(call)                                                                              \
    do {                                                                                           \
        fflush(stderr);                                                                            \
        int saved = dup(2), fds[2];                                                                \
        assert_int_equal(pipe(fds), 0);                                                            \
        dup2(fds[1], 2);                                                                           \
        call;                                                                                      \
        dup2(saved, 2);                                                                            \
        close(saved);                                                                              \
        close(fds[1]);                                                                             \
        n = read(fds[0], out, sizeof(out) - 1);                                                    \
        close(fds[0]);                                                                             \
        assert_true(n > 0);                                                                        \
        out[n] = '\0';                                                                             \
    } while (0)

static char out[16384];
static ssize_t n;

/* The line is one JSON object (jansson checks UTF-8) ending in a newline. */
static json_t *parse_line(void)
{
    json_error_t err;
    json_t *j;

    assert_true(n <= 4096);
    assert_int_equal(out[n - 1], '\n');
    j = json_loadb(out, (size_t)n - 1, 0, &err);
    if (!j)
        fail_msg("not JSON: %s: %s", err.text, out);
    return j;
}

static void test_long_values_cut_on_characters(void **state)
{
    char big[6001];
    json_t *j;
    const char *v;

    (void)state;
    /* "é" is two bytes: at some offset the cap falls inside one */
    for (int shift = 0; shift < 4; shift++) {
        size_t o = 0;
        for (int i = 0; i < shift; i++)
            big[o++] = 'a';
        while (o + 2 < sizeof(big)) {
            big[o++] = (char)0xC3;
            big[o++] = (char)0xA9;
        }
        big[o] = '\0';
        CAPTURE(mcp_log(MCP_LOG_WARN, "long", "k", big, "after", "x", NULL));
        j = parse_line();
        v = json_string_value(json_object_get(j, "k"));
        assert_non_null(v);
        assert_true(strlen(v) > 3000);
        assert_memory_equal(v, big, strlen(v)); /* a prefix of what was given */
        assert_null(json_object_get(j, "after"));
        json_decref(j);
    }
    /* a four-byte character and a quote right at the end */
    memset(big, 'b', sizeof(big));
    for (size_t i = 3900; i + 4 < sizeof(big); i += 5)
        memcpy(big + i, "\xF0\x9F\x98\x80\"", 5);
    big[sizeof(big) - 1] = '\0';
    CAPTURE(mcp_log(MCP_LOG_INFO, "emoji", "k", big, NULL));
    json_decref(parse_line());
}

static void test_invalid_bytes_replaced(void **state)
{
    json_t *j;

    (void)state;
    CAPTURE(mcp_log(MCP_LOG_INFO, "bad \xff", "k", "a\xc3(b\xed\xa0\x80z\x01", NULL));
    j = parse_line();
    assert_string_equal(json_string_value(json_object_get(j, "msg")), "bad \xEF\xBF\xBD");
    assert_string_equal(json_string_value(json_object_get(j, "k")),
                        "a\xEF\xBF\xBD(b\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBDz\x01");
    json_decref(j);
}

static void test_many_pairs(void **state)
{
    char v[700];
    json_t *j;

    (void)state;
    memset(v, 'v', sizeof(v) - 1);
    v[sizeof(v) - 1] = '\0';
    CAPTURE(mcp_log(MCP_LOG_INFO, "pairs", "a", v, "b", v, "c", v, "d", v, "e", v, "f", v, "g", v,
                    "h", v, NULL));
    j = parse_line();
    assert_string_equal(json_string_value(json_object_get(j, "a")), v);
    assert_null(json_object_get(j, "h"));
    json_decref(j);
}

static void test_utf8(void **state)
{
    (void)state;
    assert_int_equal(mcp_utf8_char("a", 1), 1);
    assert_int_equal(mcp_utf8_char("\xC3\xA9", 2), 2);
    assert_int_equal(mcp_utf8_char("\xC3\xA9", 1), 0);
    assert_int_equal(mcp_utf8_char("\xC0\xAF", 2), 0);         /* overlong */
    assert_int_equal(mcp_utf8_char("\xE0\x80\xAF", 3), 0);     /* overlong */
    assert_int_equal(mcp_utf8_char("\xED\xA0\x80", 3), 0);     /* surrogate */
    assert_int_equal(mcp_utf8_char("\xF4\x90\x80\x80", 4), 0); /* > U+10FFFF */
    assert_int_equal(mcp_utf8_char("\xF0\x9F\x98\x80", 4), 4);
    assert_int_equal(mcp_utf8_char("\x80", 1), 0);
    assert_int_equal(mcp_utf8_prefix("ab\xC3\xA9", 4, 3), 2);
    assert_int_equal(mcp_utf8_prefix("ab\xC3\xA9", 4, 4), 4);
    assert_int_equal(mcp_utf8_prefix("ab\xC3\xA9"
                                     "c",
                                     5, 4),
                     4);
    assert_int_equal(mcp_utf8_prefix("\xF0\x9F\x98\x80"
                                     "x",
                                     5, 3),
                     0);
    assert_int_equal(mcp_utf8_prefix("\xF0\x9F\x98\x80"
                                     "x",
                                     5, 4),
                     4);
    assert_int_equal(mcp_utf8_prefix("abc", 3, 10), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_values_cut_on_characters),
        cmocka_unit_test(test_invalid_bytes_replaced),
        cmocka_unit_test(test_many_pairs),
        cmocka_unit_test(test_utf8),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
