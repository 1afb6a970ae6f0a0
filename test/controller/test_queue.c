/* Work queue and backoff: de-duplication, a key in flight is never handed
 * out twice, re-adds during processing come back after done(), per-key
 * exponential backoff 5 ms doubling to the cap, delayed adds, shutdown; and
 * the string map underneath. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "../../controller/internal.h"

static const ctl_queue_opts_t opts = {.base_ms = 5, .cap_ms = 1000, .qps = 0, .burst = 0};

static double now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void test_backoff_schedule(void **state)
{
    mcp_backoff_t b = {.base_ms = 5, .cap_ms = 1000};
    const double want[] = {5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000};
    unsigned seed = 1;

    (void)state;
    for (unsigned i = 0; i < MCP_ARRAY_LEN(want); i++)
        assert_true(mcp_backoff_delay_ms(&b, i + 1, NULL) == want[i]);
    assert_true(mcp_backoff_delay_ms(&b, 4000000000u, NULL) == 1000);
    b.jitter = 0.5;
    for (int i = 0; i < 1000; i++) {
        double d = mcp_backoff_delay_ms(&b, 3, &seed);
        assert_true(d > 10 && d <= 20);
    }
}

static void test_dedup(void **state)
{
    ctl_queue_t *q = ctl_queue_new(&opts);
    char *k;

    (void)state;
    ctl_queue_add(q, "ns/a");
    ctl_queue_add(q, "ns/b");
    ctl_queue_add(q, "ns/a");
    assert_int_equal(ctl_queue_len(q), 2);
    k = ctl_queue_get(q);
    assert_string_equal(k, "ns/a");
    /* a is in flight: adding it again does not make it available */
    ctl_queue_add(q, "ns/a");
    ctl_queue_add(q, "ns/a");
    assert_int_equal(ctl_queue_len(q), 1);
    free(ctl_queue_get(q)); /* b */
    assert_int_equal(ctl_queue_len(q), 0);
    ctl_queue_done(q, "ns/b");
    ctl_queue_done(q, k); /* a was re-added while in flight: back in line once */
    assert_int_equal(ctl_queue_len(q), 1);
    free(k);
    k = ctl_queue_get(q);
    assert_string_equal(k, "ns/a");
    ctl_queue_done(q, k);
    assert_int_equal(ctl_queue_len(q), 0);
    free(k);
    ctl_queue_free(q);
}

static void test_rate_limited(void **state)
{
    ctl_queue_t *q = ctl_queue_new(&opts);
    double t0;
    char *k;

    (void)state;
    for (int i = 1; i <= 4; i++) {
        t0 = now_ms();
        ctl_queue_add_rate_limited(q, "ns/x");
        assert_int_equal(ctl_queue_failures(q, "ns/x"), i);
        k = ctl_queue_get(q);
        assert_true(now_ms() - t0 >= 5.0 * (1 << (i - 1)) - 0.5);
        ctl_queue_done(q, k);
        free(k);
    }
    ctl_queue_forget(q, "ns/x");
    assert_int_equal(ctl_queue_failures(q, "ns/x"), 0);
    ctl_queue_free(q);
}

static void test_add_after_order(void **state)
{
    ctl_queue_t *q = ctl_queue_new(&opts);
    char *a, *b, *c;

    (void)state;
    ctl_queue_add_after(q, "late", 40);
    ctl_queue_add_after(q, "early", 10);
    ctl_queue_add(q, "now");
    a = ctl_queue_get(q);
    b = ctl_queue_get(q);
    c = ctl_queue_get(q);
    assert_string_equal(a, "now");
    assert_string_equal(b, "early");
    assert_string_equal(c, "late");
    free(a), free(b), free(c);
    ctl_queue_free(q);
}

static void test_overall_limit(void **state)
{
    ctl_queue_opts_t o = {.base_ms = 0.001, .cap_ms = 0.001, .qps = 100, .burst = 2};
    ctl_queue_t *q = ctl_queue_new(&o);
    double t0 = now_ms();
    char key[8];

    (void)state;
    for (int i = 0; i < 6; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        ctl_queue_add_rate_limited(q, key);
    }
    for (int i = 0; i < 6; i++)
        free(ctl_queue_get(q));
    /* burst 2, then 4 more at 100/s: at least ~40 ms */
    assert_true(now_ms() - t0 >= 35);
    ctl_queue_free(q);
}

static void *getter(void *arg)
{
    return ctl_queue_get(arg);
}

static void test_shutdown_wakes(void **state)
{
    ctl_queue_t *q = ctl_queue_new(&opts);
    pthread_t t;
    void *res = (void *)1;

    (void)state;
    pthread_create(&t, NULL, getter, q);
    usleep(20000);
    ctl_queue_shutdown(q);
    pthread_join(t, &res);
    assert_null(res);
    ctl_queue_free(q);
}

static void test_map(void **state)
{
    ctl_map_t m;
    char key[32];
    void *old;

    (void)state;
    ctl_map_init(&m);
    for (uintptr_t i = 1; i <= 1000; i++) {
        snprintf(key, sizeof(key), "key-%lu", (unsigned long)i);
        assert_int_equal(ctl_map_put(&m, key, (void *)i, &old), 0);
        assert_null(old);
    }
    assert_int_equal(m.len, 1000);
    assert_ptr_equal(ctl_map_get(&m, "key-777"), (void *)777);
    ctl_map_put(&m, "key-777", (void *)1, &old);
    assert_ptr_equal(old, (void *)777);
    assert_ptr_equal(ctl_map_del(&m, "key-5"), (void *)5);
    assert_null(ctl_map_get(&m, "key-5"));
    assert_null(ctl_map_get(&m, "nope"));
    assert_int_equal(m.len, 999);
    ctl_map_dispose(&m, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_schedule),
        cmocka_unit_test(test_dedup),
        cmocka_unit_test(test_rate_limited),
        cmocka_unit_test(test_add_after_order),
        cmocka_unit_test(test_overall_limit),
        cmocka_unit_test(test_shutdown_wakes),
        cmocka_unit_test(test_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
