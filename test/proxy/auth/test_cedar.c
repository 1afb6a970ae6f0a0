/* Cedar authorization through libcedar_mcp.a (common/include/mcp/cedar.h),
 * data-driven: each folder test/fixtures/cedar/<case>/ holds policies.json,
 * ToolHive's authzConfig.inline ({"policies": [...], "entitiesJson": "..."}),
 * and either requests.json, a list of requests with the decision expected
 * ({"action", "name", "claims", "arguments", "allow", "reasons", "errors",
 * "error_index", "error_contains", "code"}), or error.json, the error the set
 * must fail with ({"code", "index", "contains"}). A new case needs no new C.
 * Then the ABI's edges (NULLs, caps, bad UTF-8, nesting, threads), and with
 * --bench (make bench-cedar) the cost of one decision. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "mcp/cedar.h"
#include "testutil.h"

#define FIXTURES "test/fixtures/cedar"

static mcp_cedar_str_t str(const char *s)
{
    return (mcp_cedar_str_t){s, s ? strlen(s) : 0};
}

static const struct {
    const char *name;
    int code;
} codes[] = {
    {"ok", MCP_CEDAR_OK},
    {"invalid", MCP_CEDAR_EINVAL},
    {"policy", MCP_CEDAR_EPOLICY},
    {"entities", MCP_CEDAR_EENTITIES},
};

static int code_of(const char *name)
{
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (strcmp(codes[i].name, name) == 0)
            return codes[i].code;
    fail_msg("unknown code %s", name);
    return 1;
}

static const char *const actions[] = {"call_tool",  "get_prompt",   "read_resource",
                                      "list_tools", "list_prompts", "list_resources"};

static enum mcp_cedar_action action_of(const char *name)
{
    for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++)
        if (strcmp(actions[i], name) == 0)
            return (enum mcp_cedar_action)i;
    fail_msg("unknown action %s", name);
    return MCP_CEDAR_CALL_TOOL;
}

/* policies.json -> a set (code 0) or the failure code with *err filled */
static int make_set(const json_t *cfg, mcp_cedar_t **set, mcp_cedar_error_t *err)
{
    const json_t *pols = json_object_get(cfg, "policies");
    size_t n = json_array_size(pols);
    mcp_cedar_str_t *p = calloc(n ? n : 1, sizeof *p);
    int rc;

    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = str(json_string_value(json_array_get(pols, i)));
    rc =
        mcp_cedar_new(p, n, str(json_string_value(json_object_get(cfg, "entitiesJson"))), set, err);
    free(p);
    return rc;
}

static char *dump_or_null(const json_t *j)
{
    return j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
}

static void check_request(const char *c, size_t k, const mcp_cedar_t *set, const json_t *rq)
{
    const char *what = json_string_value(json_object_get(rq, "what"));
    const json_t *craw = json_object_get(rq, "claims_raw");
    char *claims =
        craw ? strdup(json_string_value(craw)) : dump_or_null(json_object_get(rq, "claims"));
    char *args = dump_or_null(json_object_get(rq, "arguments"));
    const json_t *code = json_object_get(rq, "code"), *reasons = json_object_get(rq, "reasons");
    const json_t *contains = json_object_get(rq, "error_contains");
    mcp_cedar_decision_t d;
    int rc;

    rc = mcp_cedar_authorize(set, action_of(json_string_value(json_object_get(rq, "action"))),
                             str(json_string_value(json_object_get(rq, "name"))), str(claims),
                             str(args), &d);
    if (rc != (code ? code_of(json_string_value(code)) : 0) ||
        d.allow != json_is_true(json_object_get(rq, "allow")))
        fail_msg("%s[%zu] %s: rc %d allow %d (error %d: %s)", c, k, what, rc, d.allow,
                 d.error.index, d.error.text);
    if (reasons) {
        assert_int_equal(d.n_reasons, json_array_size(reasons));
        for (size_t i = 0; i < d.n_reasons; i++)
            if (d.reasons[i] != json_integer_value(json_array_get(reasons, i)))
                fail_msg("%s[%zu] %s: reason %zu is policy%u", c, k, what, i, d.reasons[i]);
    }
    if (json_object_get(rq, "errors"))
        assert_int_equal(d.n_errors, json_integer_value(json_object_get(rq, "errors")));
    if (json_object_get(rq, "error_index"))
        assert_int_equal(d.error.index, json_integer_value(json_object_get(rq, "error_index")));
    if (contains && !strstr(d.error.text, json_string_value(contains)))
        fail_msg("%s[%zu] %s: error \"%s\" lacks \"%s\"", c, k, what, d.error.text,
                 json_string_value(contains));
    free(claims);
    free(args);
}

static void run_case(const char *c)
{
    char path[512];
    json_t *cfg, *reqs, *want;
    mcp_cedar_t *set = NULL;
    mcp_cedar_error_t err;
    const json_t *rq;
    size_t k;
    int rc;

    tu_pathf(path, sizeof path, "%s/%s/policies.json", FIXTURES, c);
    cfg = tu_load_json(path);
    rc = make_set(cfg, &set, &err);
    tu_pathf(path, sizeof path, "%s/%s/error.json", FIXTURES, c);
    if ((want = json_load_file(path, 0, NULL))) {
        const char *contains = json_string_value(json_object_get(want, "contains"));
        if (rc != code_of(json_string_value(json_object_get(want, "code"))) || set)
            fail_msg("%s: rc %d, want %s", c, rc, json_string_value(json_object_get(want, "code")));
        assert_int_equal(err.index, json_integer_value(json_object_get(want, "index")));
        if (contains && !strstr(err.text, contains))
            fail_msg("%s: error \"%s\" lacks \"%s\"", c, err.text, contains);
        printf("  %-28s error %d: %s\n", c, err.index, err.text);
        json_decref(want);
    } else {
        if (rc != 0)
            fail_msg("%s: mcp_cedar_new %d: policy %d: %s", c, rc, err.index, err.text);
        tu_pathf(path, sizeof path, "%s/%s/requests.json", FIXTURES, c);
        reqs = tu_load_json(path);
        json_array_foreach(reqs, k, rq)
        {
            check_request(c, k, set, rq);
        }
        printf("  %-28s %zu requests\n", c, json_array_size(reqs));
        json_decref(reqs);
    }
    mcp_cedar_free(set);
    json_decref(cfg);
}

static void test_fixtures(void **state)
{
    char **cases = tu_list_dirs(FIXTURES);
    size_t n = 0;

    (void)state;
    for (char **c = cases; *c; c++, n++)
        run_case(*c);
    assert_true(n >= 6);
    tu_free_list(cases);
}

static const char *const permit_all[] = {"permit(principal, action, resource);"};

static mcp_cedar_t *set_of(const char *policy)
{
    mcp_cedar_t *set = NULL;
    mcp_cedar_error_t err;
    mcp_cedar_str_t p = str(policy);

    if (mcp_cedar_new(&p, 1, str(""), &set, &err) != 0)
        fail_msg("policy %d: %s", err.index, err.text);
    return set;
}

static void test_bad_arguments(void **state)
{
    mcp_cedar_str_t p[2] = {str(permit_all[0]), {NULL, 3}};
    mcp_cedar_t *set = (mcp_cedar_t *)1;
    mcp_cedar_error_t err;
    mcp_cedar_decision_t d;

    (void)state;
    assert_int_equal(mcp_cedar_new(p, 1, str(""), NULL, &err), MCP_CEDAR_EINVAL);
    assert_int_equal(mcp_cedar_new(NULL, 1, str(""), &set, &err), MCP_CEDAR_EINVAL);
    assert_null(set);
    assert_int_equal(mcp_cedar_new(p, 0, str(""), &set, NULL), MCP_CEDAR_EINVAL);
    assert_int_equal(mcp_cedar_new(p, 2, str(""), &set, &err), MCP_CEDAR_EINVAL);
    assert_int_equal(err.index, 1);
    p[1] = (mcp_cedar_str_t){"permit(principal, action, resource) when { \"\xff\" };", 47};
    assert_int_equal(mcp_cedar_new(p, 2, str(""), &set, &err), MCP_CEDAR_EINVAL);
    assert_int_equal(err.index, 1);
    assert_non_null(strstr(err.text, "UTF-8"));
    assert_int_equal(mcp_cedar_new(p, 1, str("{\"not\": \"a list\"}"), &set, &err),
                     MCP_CEDAR_EENTITIES);
    assert_int_equal(err.index, -1);
    assert_null(set);

    set = set_of(permit_all[0]);
    assert_int_equal(
        mcp_cedar_authorize(NULL, MCP_CEDAR_CALL_TOOL, str("t"), str("{}"), str(""), &d),
        MCP_CEDAR_EINVAL);
    assert_int_equal(d.allow, 0);
    assert_int_equal(
        mcp_cedar_authorize(set, MCP_CEDAR_CALL_TOOL, str("t"), str("{}"), str(""), NULL),
        MCP_CEDAR_EINVAL);
    assert_int_equal(mcp_cedar_authorize(set, (enum mcp_cedar_action)99, str("t"),
                                         str("{\"sub\":\"a\"}"), str(""), &d),
                     MCP_CEDAR_EINVAL);
    assert_int_equal(d.allow, 0);
    assert_int_equal(mcp_cedar_authorize(set, MCP_CEDAR_CALL_TOOL, (mcp_cedar_str_t){NULL, 1},
                                         str("{\"sub\":\"a\"}"), str(""), &d),
                     MCP_CEDAR_EINVAL);
    assert_int_equal(mcp_cedar_authorize(set, MCP_CEDAR_CALL_TOOL, str("t"),
                                         (mcp_cedar_str_t){"{\"sub\":\"\xc3\"}", 10}, str(""), &d),
                     MCP_CEDAR_EINVAL);
    assert_int_equal(mcp_cedar_authorize(set, MCP_CEDAR_CALL_TOOL, str("t"), str("{\"sub\":\"a\"}"),
                                         str("[1]"), &d),
                     MCP_CEDAR_EINVAL);
    assert_int_equal(d.allow, 0);
    assert_non_null(strstr(d.error.text, "arguments"));
    assert_int_equal(mcp_cedar_authorize(set, MCP_CEDAR_CALL_TOOL, str("t"), str("{\"sub\":\"a\"}"),
                                         str("null"), &d),
                     0);
    assert_int_equal(d.allow, 1);
    mcp_cedar_free(set);
    mcp_cedar_free(NULL);
}

/* A message longer than the text buffer is cut on a character boundary. */
static void test_long_message(void **state)
{
    char *pol = malloc(4096), *p = pol;
    mcp_cedar_str_t s;
    mcp_cedar_t *set = NULL;
    mcp_cedar_error_t err;

    (void)state;
    /* the unexpected token, a long string of é, is in the message */
    p += sprintf(p, "permit(principal, action, resource) when { 1 \"");
    for (int i = 0; i < 700; i++)
        p += sprintf(p, "\xc3\xa9");
    sprintf(p, "\" };");
    s = str(pol);
    assert_int_equal(mcp_cedar_new(&s, 1, str(""), &set, &err), MCP_CEDAR_EPOLICY);
    assert_true(strlen(err.text) < MCP_CEDAR_TEXT_MAX);
    assert_true(strlen(err.text) > 400);
    /* no lead byte without its continuation at the end */
    assert_false((unsigned char)err.text[strlen(err.text) - 1] == 0xc3);
    free(pol);
}

/* Nesting and long chains: an error or a decision, never a crashed thread. */
static char *repeat(const char *head, const char *unit, int n, const char *mid, const char *close,
                    const char *tail)
{
    size_t len =
        strlen(head) + (strlen(unit) + strlen(close)) * (size_t)n + strlen(mid) + strlen(tail) + 1;
    char *s = malloc(len), *p = s;

    p = stpcpy(p, head);
    for (int i = 0; i < n; i++)
        p = stpcpy(p, unit);
    p = stpcpy(p, mid);
    for (int i = 0; i < n; i++)
        p = stpcpy(p, close);
    stpcpy(p, tail);
    return s;
}

static void test_hostile_policies(void **state)
{
    static const struct {
        const char *unit, *mid, *close;
        int n, code;
    } cases[] = {
        {"(", "1", ")", 10000, MCP_CEDAR_EPOLICY},
        {"[", "1", "]", 129, MCP_CEDAR_EPOLICY},
        {"(", "1", ")", 127, 0}, /* the when { } is the 128th */
        {"if true then ", "1", " else 2", 65, MCP_CEDAR_EPOLICY},
        {"if true then ", "1", " else 2", 64, 0},
        {"-", "1", "", 5, MCP_CEDAR_EPOLICY},
        /* chains as long as the 64 KiB cap lets them be */
        {"1 + ", "1", "", 16000, -1},
        {"context.a", "", "", 7000, -1},
        {"true && ", "true", "", 7900, -1},
        {"1 + ", "1", "", 17000, MCP_CEDAR_EINVAL},
    };
    mcp_cedar_t *set;
    mcp_cedar_error_t err;
    mcp_cedar_decision_t d;

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *pol = repeat("permit(principal, action, resource) when { ", cases[i].unit, cases[i].n,
                           cases[i].mid, cases[i].close, " == 1 };");
        mcp_cedar_str_t s = str(pol);
        int rc;

        set = NULL;
        printf("  %-14s x %6d: ", cases[i].unit, cases[i].n);
        fflush(stdout);
        rc = mcp_cedar_new(&s, 1, str(""), &set, &err);
        printf("%d %s\n", rc, rc ? err.text : "parsed");
        if (cases[i].code >= 0)
            assert_int_equal(rc, cases[i].code);
        if (set) {
            mcp_cedar_authorize(set, MCP_CEDAR_CALL_TOOL, str("t"), str("{\"sub\":\"a\"}"), str(""),
                                &d);
            mcp_cedar_free(set);
        }
        free(pol);
    }
}

/* One set, several threads asking at once, every answer right. */
#define THREADS 4
#define ASKS    2000

static const char *const role_policies[] = {
    "permit(principal, action == Action::\"call_tool\", resource == Tool::\"weather\");",
    "permit(principal, action == Action::\"call_tool\", resource) when { "
    "context.claim_role == \"admin\" };",
    "forbid(principal, action == Action::\"call_tool\", resource == Tool::\"delete_repo\") "
    "unless { context.claim_role == \"admin\" };",
};

static void *ask(void *arg)
{
    const mcp_cedar_t *set = arg;
    static const char *const who[] = {"{\"sub\":\"u\",\"role\":\"user\"}",
                                      "{\"sub\":\"a\",\"role\":\"admin\"}"};
    static const char *const tools[] = {"weather", "news", "delete_repo"};
    static const int want[2][3] = {{1, 0, 0}, {1, 1, 1}};
    mcp_cedar_decision_t d;

    for (int i = 0; i < ASKS; i++) {
        int w = i % 2, t = (i / 2) % 3;
        if (mcp_cedar_authorize(set, MCP_CEDAR_CALL_TOOL, str(tools[t]), str(who[w]), str(""),
                                &d) != 0 ||
            d.allow != want[w][t])
            return (void *)1;
    }
    return NULL;
}

static mcp_cedar_t *role_set(void)
{
    mcp_cedar_str_t p[3];
    mcp_cedar_t *set = NULL;
    mcp_cedar_error_t err;

    for (int i = 0; i < 3; i++)
        p[i] = str(role_policies[i]);
    assert_int_equal(mcp_cedar_new(p, 3, str("[]"), &set, &err), 0);
    return set;
}

static void test_threads(void **state)
{
    mcp_cedar_t *set = role_set();
    pthread_t th[THREADS];
    void *r;

    (void)state;
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, ask, set), 0);
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(th[i], &r), 0);
        assert_null(r);
    }
    mcp_cedar_free(set);
}

/* ---- --bench: ns per decision ------------------------------------------------ */
/* decisions are timed in this thread's CPU time (steadier on a busy
 * machine); parsing, which runs on a thread of its own, on the wall clock */
static double now_ns(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static const char *const bench_policies[] = {
    "permit(principal, action == Action::\"call_tool\", resource == Tool::\"weather\");",
    "permit(principal, action == Action::\"get_prompt\", resource == Prompt::\"greeting\");",
    "permit(principal, action == Action::\"call_tool\", resource) when { "
    "principal.claim_roles.contains(\"admin\") };",
    "permit(principal, action == Action::\"call_tool\", resource == Tool::\"calculator\") when { "
    "resource.arg_operation == \"add\" || resource.arg_operation == \"subtract\" };",
    "forbid(principal, action == Action::\"call_tool\", resource == Tool::\"delete_repo\") "
    "unless { context.claim_roles.contains(\"admin\") };",
};

/* a token's claims as an OpenID provider issues them (about 400 bytes) */
static const char bench_claims[] =
    "{\"iss\":\"https://dex.example.test\",\"sub\":\"CiQ4YjM0ZjI1Ni1hMWUyLTQ0YjYtOTk2\","
    "\"aud\":\"mcp-github\",\"exp\":1767225600,\"iat\":1767222000,\"nbf\":1767222000,"
    "\"azp\":\"mcp-cli\",\"at_hash\":\"kq8sHh0bU6Y8vN2aH1v9Nw\",\"email\":\"ada@example.test\","
    "\"email_verified\":true,\"name\":\"Ada Lovelace\",\"groups\":[\"dev\",\"ops\"],"
    "\"roles\":[\"user\",\"reader\"],\"jti\":\"4f1c2a9e-0b7d-4c1e-9e2f-6f0b8c3d2a1b\"}";

static double bench_one(const mcp_cedar_t *set, enum mcp_cedar_action a, const char *name,
                        const char *args, int iters, int want)
{
    mcp_cedar_decision_t d;
    double t0 = now_ns(CLOCK_THREAD_CPUTIME_ID);

    for (int i = 0; i < iters; i++)
        if (mcp_cedar_authorize(set, a, str(name), str(bench_claims), str(args), &d) != 0 ||
            d.allow != want) {
            fprintf(stderr, "bench: unexpected decision for %s: %s\n", name, d.error.text);
            exit(1);
        }
    return (now_ns(CLOCK_THREAD_CPUTIME_ID) - t0) / iters;
}

static int bench(int iters)
{
    mcp_cedar_str_t p[5];
    mcp_cedar_t *set = NULL, *eset = NULL;
    mcp_cedar_error_t err;
    char ents[8192], *e = ents;
    double t0, parse_us;

    for (int i = 0; i < 5; i++)
        p[i] = str(bench_policies[i]);
    t0 = now_ns(CLOCK_MONOTONIC);
    for (int i = 0; i < 100; i++) {
        mcp_cedar_free(set);
        if (mcp_cedar_new(p, 5, str(""), &set, &err) != 0)
            return fprintf(stderr, "bench: %s\n", err.text), 1;
    }
    parse_us = (now_ns(CLOCK_MONOTONIC) - t0) / 100 / 1e3;
    /* the same policies with 50 entities (Role hierarchy, tools with an owner) */
    e += sprintf(e, "[{\"uid\":{\"type\":\"Role\",\"id\":\"staff\"},\"attrs\":{},\"parents\":[]}");
    for (int i = 0; i < 49; i++)
        e += sprintf(e,
                     ",{\"uid\":{\"type\":\"Tool\",\"id\":\"t%d\"},\"attrs\":{\"owner\":\"u%d\"},"
                     "\"parents\":[{\"type\":\"Role\",\"id\":\"staff\"}]}",
                     i, i);
    strcpy(e, "]");
    if (mcp_cedar_new(p, 5, str(ents), &eset, &err) != 0)
        return fprintf(stderr, "bench: %s\n", err.text), 1;

    bench_one(set, MCP_CEDAR_CALL_TOOL, "weather", "", iters / 10, 1); /* warm up */
    printf("cedar bench: 5 policies, %zu-byte claims, %d decisions each (ns per decision)\n",
           sizeof bench_claims - 1, iters);
    printf("  parse the 5-policy set (wall)   %8.1f us\n", parse_us);
    printf("  call_tool weather (allow)       %8.0f ns\n",
           bench_one(set, MCP_CEDAR_CALL_TOOL, "weather", "", iters, 1));
    printf("  call_tool news (default deny)   %8.0f ns\n",
           bench_one(set, MCP_CEDAR_CALL_TOOL, "news", "", iters, 0));
    printf("  call_tool delete_repo (forbid)  %8.0f ns\n",
           bench_one(set, MCP_CEDAR_CALL_TOOL, "delete_repo", "", iters, 0));
    printf("  call_tool calculator + 3 args   %8.0f ns\n",
           bench_one(set, MCP_CEDAR_CALL_TOOL, "calculator",
                     "{\"operation\":\"add\",\"a\":1,\"b\":2}", iters, 1));
    printf("  get_prompt greeting             %8.0f ns\n",
           bench_one(set, MCP_CEDAR_GET_PROMPT, "greeting", "", iters, 1));
    printf("  call_tool weather, 50 entities  %8.0f ns\n",
           bench_one(eset, MCP_CEDAR_CALL_TOOL, "weather", "", iters, 1));
    mcp_cedar_free(set);
    mcp_cedar_free(eset);
    return 0;
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),     cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_long_message), cmocka_unit_test(test_hostile_policies),
        cmocka_unit_test(test_threads),
    };

    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return bench(argc > 2 ? atoi(argv[2]) : 100000);
    return cmocka_run_group_tests_name("cedar", tests, NULL, NULL);
}
