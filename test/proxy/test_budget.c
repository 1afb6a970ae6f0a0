/* The memory budget (proxy/budget.c): takes fit or are refused whole, a
 * refused take asks the shedder for exactly what is missing and succeeds
 * when it freed that much, charges go over the budget and mark it over,
 * gives bring it back, NULL is no budget, and two threads taking and giving
 * at once never lose a byte. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <cmocka.h>

#include "../../proxy/budget.h"
#include "mcp/common.h"

static void test_take_give(void **state)
{
    px_budget_t b;

    (void)state;
    px_budget_init(&b, 100);
    assert_int_equal(px_budget_take(&b, 60), 0);
    assert_int_equal(px_budget_take(&b, 41), MCP_ETOOBIG); /* refused whole */
    assert_int_equal(px_budget_used(&b), 60);
    assert_int_equal(px_budget_take(&b, 40), 0);
    assert_true(px_budget_over(&b));
    assert_int_equal(px_budget_try(&b, 1), MCP_ETOOBIG);
    px_budget_give(&b, 100);
    assert_int_equal(px_budget_used(&b), 0);
    assert_false(px_budget_over(&b));
    assert_int_equal(px_budget_take(&b, 101), MCP_ETOOBIG); /* more than the whole budget */
    assert_int_equal(atomic_load(&b.refused), 2);
}

static void test_charge_goes_over(void **state)
{
    px_budget_t b;

    (void)state;
    px_budget_init(&b, 100);
    px_budget_charge(&b, 150);
    assert_true(px_budget_over(&b));
    assert_int_equal(px_budget_take(&b, 1), MCP_ETOOBIG);
    px_budget_give(&b, 150);
    assert_int_equal(px_budget_take(&b, 1), 0);
}

/* A shedder that frees what it is asked for, up to what it holds. */
typedef struct shedder {
    px_budget_t *b;
    size_t holds, asked;
    int calls;
} shedder_t;

static size_t shed(void *ctx, size_t need)
{
    shedder_t *s = ctx;
    size_t n = need < s->holds ? need : s->holds;

    s->calls++;
    s->asked = need;
    s->holds -= n;
    px_budget_give(s->b, n);
    return n;
}

static void test_shed_on_take(void **state)
{
    px_budget_t b;
    shedder_t s = {.b = &b, .holds = 70};

    (void)state;
    px_budget_init(&b, 100);
    px_budget_set_shed(&b, shed, &s);
    assert_int_equal(px_budget_take(&b, 70), 0); /* the shedder's */
    assert_int_equal(px_budget_take(&b, 20), 0);
    assert_int_equal(s.calls, 0);
    assert_int_equal(px_budget_take(&b, 50), 0); /* 40 missing: 40 shed */
    assert_int_equal(s.calls, 1);
    assert_int_equal(s.asked, 40);
    assert_int_equal(px_budget_used(&b), 100);
    assert_int_equal(atomic_load(&b.shed), 40);
    /* the shedder has 30 left: 60 more cannot be made room for */
    assert_int_equal(px_budget_take(&b, 60), MCP_ETOOBIG);
    assert_int_equal(s.calls, 2);
    assert_int_equal(px_budget_try(&b, 1), 0); /* try never sheds */
    assert_int_equal(s.calls, 2);
}

static void test_null_is_unlimited(void **state)
{
    (void)state;
    assert_int_equal(px_budget_take(NULL, (size_t)1 << 40), 0);
    assert_int_equal(px_budget_try(NULL, 1), 0);
    px_budget_charge(NULL, 5);
    px_budget_give(NULL, 5);
    assert_int_equal(px_budget_used(NULL), 0);
    assert_false(px_budget_over(NULL));
}

static void *churn(void *arg)
{
    px_budget_t *b = arg;

    for (int i = 0; i < 200000; i++) {
        if (px_budget_try(b, 3) == 0)
            px_budget_give(b, 3);
        px_budget_charge(b, 7);
        px_budget_give(b, 7);
    }
    return NULL;
}

static void test_threads(void **state)
{
    px_budget_t b;
    pthread_t t[2];

    (void)state;
    px_budget_init(&b, 10);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, churn, &b), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(px_budget_used(&b), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_take_give),    cmocka_unit_test(test_charge_goes_over),
        cmocka_unit_test(test_shed_on_take), cmocka_unit_test(test_null_is_unlimited),
        cmocka_unit_test(test_threads),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
