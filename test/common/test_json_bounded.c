/* Measuring and slicing JSON text before loading it (mcp/json.h): depth and
 * value counts without recursion (200,000 levels on the test's stack), the
 * limits, malformed text, members and array elements as spans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/common.h"
#include "mcp/json.h"

static void test_measure(void **state)
{
    static const struct {
        const char *text;
        int rc, depth;
        size_t values;
    } cases[] = {
        {"1", 0, 0, 1},
        {" \"a\\\"]\" ", 0, 0, 1},
        {"[]", 0, 1, 1},
        {"{\"a\":[1,{\"b\":null}],\"c\":\"}\"}", 0, 3, 9},
        {"[[[]]]", 0, 3, 3},
        {"[1,2", MCP_EINVAL, 1, 3},
        {"[1]]", MCP_EINVAL, 1, 2},
        {"\"abc", MCP_EINVAL, 0, 0},
        {"1 2", MCP_EINVAL, 0, 1},
        {"", MCP_EINVAL, 0, 0},
        {",", MCP_EINVAL, 0, 0},
    };
    mcp_json_shape_t sh;

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(cases); i++) {
        assert_int_equal(mcp_json_measure(cases[i].text, strlen(cases[i].text), NULL, &sh),
                         cases[i].rc);
        if (cases[i].rc == 0) {
            assert_int_equal(sh.depth, cases[i].depth);
            assert_int_equal(sh.values, cases[i].values);
        }
    }
}

static void test_limits(void **state)
{
    size_t n = 200000;
    char *deep = malloc(n * 2 + 1), why[128];
    mcp_json_limits_t lim = {.max_depth = 64, .max_values = 1000};
    mcp_json_shape_t sh;
    json_t *j;

    (void)state;
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    deep[2 * n] = '\0';
    assert_int_equal(mcp_json_measure(deep, 2 * n, NULL, &sh), 0);
    assert_int_equal(sh.depth, (int)n);
    assert_null(mcp_json_load_bounded(deep, 2 * n, &lim, why, sizeof(why)));
    assert_string_equal(why, "nested more than 64 levels deep");
    j = mcp_json_load_bounded(deep + n - 64, 128, &lim, why, sizeof(why));
    assert_true(json_is_array(j));
    json_decref(j);
    assert_null(mcp_json_load_bounded(deep + n - 65, 130, &lim, why, sizeof(why)));
    lim.max_depth = 0;
    memset(deep, '0', n);
    for (size_t i = 2; i < 2000; i += 2)
        deep[i] = ',';
    deep[0] = '[', deep[2000] = ']';
    assert_null(mcp_json_load_bounded(deep, 2001, &lim, why, sizeof(why)));
    assert_string_equal(why, "more than 1000 JSON values");
    /* U+0000 in a string is legal (Kubernetes keeps it); in a key jansson
     * cannot hold it */
    j = mcp_json_load_bounded("{\"a\":\"x\\u0000y\"}", 16, NULL, why, sizeof(why));
    assert_int_equal(json_string_length(json_object_get(j, "a")), 3);
    json_decref(j);
    assert_null(mcp_json_load_bounded("{\"\\u0000\":1}", 12, NULL, why, sizeof(why)));
    assert_non_null(strstr(why, "not valid JSON"));
    free(deep);
}

static void test_spans(void **state)
{
    const char *obj = " { \"items\" : [ {\"a\":\"],\"} , 2,[3] ] , \"metadata\":{\"x\":1} } ";
    const char *want[] = {"{\"a\":\"],\"}", "2", "[3]"};
    mcp_json_span_t v, it;
    size_t pos = 0, k = 0;
    int rc;

    (void)state;
    assert_int_equal(mcp_json_member(obj, strlen(obj), "metadata", &v), 0);
    assert_int_equal(v.n, 7);
    assert_memory_equal(v.p, "{\"x\":1}", 7);
    assert_int_equal(mcp_json_member(obj, strlen(obj), "nope", &v), MCP_ENOENT);
    assert_int_equal(mcp_json_member("[1]", 3, "a", &v), MCP_EINVAL);
    assert_int_equal(mcp_json_member("{\"a\" 1}", 7, "b", &v), MCP_EINVAL);
    assert_int_equal(mcp_json_member(obj, strlen(obj), "items", &v), 0);
    while ((rc = mcp_json_next_element(v.p, v.n, &pos, &it)) == 1) {
        assert_true(k < 3);
        assert_int_equal(it.n, strlen(want[k]));
        assert_memory_equal(it.p, want[k], it.n);
        k++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(k, 3);
    pos = 0;
    assert_int_equal(mcp_json_next_element("[]", 2, &pos, &it), 0);
    pos = 0;
    assert_int_equal(mcp_json_next_element("[1 2]", 5, &pos, &it), 1);
    assert_int_equal(mcp_json_next_element("[1 2]", 5, &pos, &it), MCP_EINVAL);
}

/* mcp_json_find: the first element whose string at the path equals the
 * value; elements that are not objects, or lack the key, or hold a
 * non-string there are passed over; anything but an array finds nothing. */
static void test_find(void **state)
{
    json_t *arr = json_loads("[7, {\"name\": 1}, {\"meta\": {\"name\": \"b\"}, \"n\": 1},"
                             " {\"name\": \"a\", \"n\": 2}, {\"name\": \"a\", \"n\": 3}]",
                             0, NULL);
    json_t *obj = json_loads("{\"name\": \"a\"}", 0, NULL);

    (void)state;
    assert_non_null(arr);
    assert_int_equal(json_integer_value(json_object_get(mcp_json_find(arr, "name", "a"), "n")), 2);
    assert_int_equal(json_integer_value(json_object_get(mcp_json_find(arr, "meta.name", "b"), "n")),
                     1);
    assert_null(mcp_json_find(arr, "name", "c"));
    assert_null(mcp_json_find(arr, "name", NULL));
    assert_null(mcp_json_find(obj, "name", "a"));
    assert_null(mcp_json_find(NULL, "name", "a"));
    json_decref(arr);
    json_decref(obj);
}

/* jansson quotes the offending token; the text we log or send must not. */
static void test_error_text_quotes_no_input(void **state)
{
    json_error_t e;
    char out[JSON_ERROR_TEXT_LENGTH + 40];

    (void)state;
    assert_null(json_loads("{\"token\": \"SECRETvalue\\ud800\"}", 0, &e));
    assert_non_null(strstr(e.text, "SECRET")); /* what jansson says */
    mcp_json_error_text(&e, out, sizeof(out));
    assert_null(strstr(out, "SECRET"));
    assert_non_null(strstr(out, "(line 1, column "));
    assert_null(json_loads("[1, 2", 0, &e));
    assert_non_null(strstr(mcp_json_error_text(&e, out, sizeof(out)), "(line 1, column "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_measure),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_spans),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_error_text_quotes_no_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
