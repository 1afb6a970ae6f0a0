/* Watch-stream decoding: the same stream split at every byte boundary (and
 * fed one byte at a time) gives the same events; an event over the cap and
 * a line that is not a JSON object are errors, never a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/json.h"
#include "mcp/kube.h"

static const char stream[] =
    "{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"1\"}}}\n"
    "\n"
    "{\"type\":\"BOOKMARK\",\"object\":{\"metadata\":{\"resourceVersion\":\"7\"}}}\r\n"
    "{\"type\":\"MODIFIED\",\"object\":{\"metadata\":{\"name\":\"caf\xc3\xa9\",\"resourceVersion\":"
    "\"9\"}}}\n"
    "{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"z\",\"resourceVersion\":\"10\"}}}"
    "\n";

typedef struct seen {
    char log[1024];
    int n;
} seen_t;

static int collect(void *ctx, json_t *ev)
{
    seen_t *s = ctx;
    size_t used = strlen(s->log);

    snprintf(s->log + used, sizeof(s->log) - used, "%s:%s;",
             json_string_value(json_object_get(ev, "type")),
             mcp_json_str(json_object_get(ev, "object"), "metadata.resourceVersion"));
    s->n++;
    return 0;
}

static const char *expected = "ADDED:1;BOOKMARK:7;MODIFIED:9;DELETED:10;";

static void test_split_everywhere(void **state)
{
    size_t n = strlen(stream);

    (void)state;
    for (size_t cut = 0; cut <= n; cut++) {
        mcp_kube_evdec_t d;
        seen_t s = {0};

        mcp_kube_evdec_init(&d, 4096);
        assert_int_equal(mcp_kube_evdec_feed(&d, stream, cut, collect, &s), 0);
        assert_int_equal(mcp_kube_evdec_feed(&d, stream + cut, n - cut, collect, &s), 0);
        assert_string_equal(s.log, expected);
        mcp_kube_evdec_dispose(&d);
    }
}

static void test_two_cuts_and_bytewise(void **state)
{
    size_t n = strlen(stream);
    mcp_kube_evdec_t d;
    seen_t s = {0};

    (void)state;
    for (size_t a = 0; a <= n; a += 7) {
        for (size_t b = a; b <= n; b += 5) {
            seen_t t = {0};
            mcp_kube_evdec_init(&d, 4096);
            assert_int_equal(mcp_kube_evdec_feed(&d, stream, a, collect, &t), 0);
            assert_int_equal(mcp_kube_evdec_feed(&d, stream + a, b - a, collect, &t), 0);
            assert_int_equal(mcp_kube_evdec_feed(&d, stream + b, n - b, collect, &t), 0);
            assert_string_equal(t.log, expected);
            mcp_kube_evdec_dispose(&d);
        }
    }
    mcp_kube_evdec_init(&d, 4096);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(mcp_kube_evdec_feed(&d, stream + i, 1, collect, &s), 0);
    assert_string_equal(s.log, expected);
    mcp_kube_evdec_dispose(&d);
}

static void test_cap(void **state)
{
    char big[300];
    mcp_kube_evdec_t d;
    seen_t s = {0};

    (void)state;
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"type\":\"ADDED\"", 15);
    big[sizeof(big) - 2] = '}';
    big[sizeof(big) - 1] = '\n';
    /* whole event in one read */
    mcp_kube_evdec_init(&d, 100);
    assert_int_equal(mcp_kube_evdec_feed(&d, big, sizeof(big), collect, &s), MCP_ETOOBIG);
    mcp_kube_evdec_dispose(&d);
    /* event growing across reads */
    mcp_kube_evdec_init(&d, 100);
    assert_int_equal(mcp_kube_evdec_feed(&d, big, 60, collect, &s), 0);
    assert_int_equal(mcp_kube_evdec_feed(&d, big + 60, 60, collect, &s), MCP_ETOOBIG);
    mcp_kube_evdec_dispose(&d);
    assert_int_equal(s.n, 0);
}

static void test_garbage(void **state)
{
    mcp_kube_evdec_t d;
    seen_t s = {0};

    (void)state;
    mcp_kube_evdec_init(&d, 100);
    assert_int_equal(mcp_kube_evdec_feed(&d, "[1,2]\n", 6, collect, &s), MCP_EINVAL);
    mcp_kube_evdec_dispose(&d);
    mcp_kube_evdec_init(&d, 100);
    assert_int_equal(mcp_kube_evdec_feed(&d, "{\"a\":\n", 6, collect, &s), MCP_EINVAL);
    mcp_kube_evdec_dispose(&d);
    assert_int_equal(s.n, 0);
}

static int stop_at_second(void *ctx, json_t *ev)
{
    (void)ev;
    return ++*(int *)ctx == 2 ? 42 : 0;
}

static void test_callback_stops(void **state)
{
    mcp_kube_evdec_t d;
    int n = 0;

    (void)state;
    mcp_kube_evdec_init(&d, 4096);
    assert_int_equal(mcp_kube_evdec_feed(&d, stream, strlen(stream), stop_at_second, &n), 42);
    assert_int_equal(n, 2);
    mcp_kube_evdec_dispose(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_two_cuts_and_bytewise),
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_callback_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
