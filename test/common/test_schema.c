/* Schema tests, data-driven: each folder test/fixtures/schema/<case>/ holds
 * input.json (an MCPServer) and expected.json {errors, warnings, patch,
 * message}. Every case is also checked for idempotent defaulting (the patch
 * applied gives an object that needs no patch) and parse safety. A counting
 * allocator then fails jansson's N-th allocation for every N. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/schema.h"
#include "testutil.h"
#include "defaults_patch.h"
#include "../../common/src/schema_internal.h"

#define FIXTURES       "test/fixtures/schema"
#define CRD_FILE       "config/crd/bases/toolhive.stacklok.dev_mcpservers.yaml"
#define CHART_CRD_FILE "charts/mcp-operator/crds/toolhive.stacklok.dev_mcpservers.yaml"
#define REFERENCE_FILE "docs/reference/mcpserver.md"

static json_t *list_json(const mcp_errlist_t *l)
{
    json_t *a = json_array();
    for (size_t i = 0; i < l->len; i++)
        json_array_append_new(a, json_string(l->items[i].text));
    return a;
}

static json_t *run_case(const json_t *input)
{
    mcp_errlist_t errs, warns;
    json_t *got, *patch, *defaulted;
    char *msg;
    int oom;

    mcp_errlist_init(&errs);
    mcp_errlist_init(&warns);
    assert_true(mcp_validate(input, &errs, &warns) >= 0);
    patch = tu_defaults_patch(input);
    msg = mcp_validate_message(input, NULL, &oom);
    assert_int_equal(oom, 0);
    got = json_pack("{s:o, s:o, s:o, s:s?}", "errors", list_json(&errs), "warnings",
                    list_json(&warns), "patch", patch, "message", msg);
    free(msg);

    /* Defaulting is idempotent: the defaulted object needs nothing more. */
    defaulted = json_deep_copy(input);
    tu_apply_defaults_patch(defaulted, patch);
    json_t *again = tu_defaults_patch(defaulted);
    assert_int_equal(json_array_size(again), 0);
    json_decref(again);

    /* Parsing the object never fails for anything but wrong types. */
    mcp_server_t s;
    int rc = mcp_server_parse(defaulted, &s, NULL);
    assert_true(rc == 0 || rc == MCP_EINVAL);
    if (rc == 0 && errs.len == 0) {
        assert_non_null(s.image);
        assert_non_null(s.transport);
        assert_true(s.port >= 1);
    }
    mcp_server_dispose(&s);
    json_decref(defaulted);
    mcp_errlist_dispose(&errs);
    mcp_errlist_dispose(&warns);
    return got;
}

static void test_fixtures(void **state)
{
    char **cases = tu_list_dirs(FIXTURES);
    int n = 0, failed = 0;

    (void)state;
    for (char **c = cases; *c; c++, n++) {
        char in[512], exp[512];
        json_t *input, *got, *want;

        snprintf(in, sizeof(in), FIXTURES "/%s/input.json", *c);
        snprintf(exp, sizeof(exp), FIXTURES "/%s/expected.json", *c);
        input = tu_load_json(in);
        got = run_case(input);
        if (tu_update_golden()) {
            char *s = json_dumps(got, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            size_t len = strlen(s);
            s = realloc(s, len + 2);
            strcpy(s + len, "\n");
            tu_write_file(exp, s);
            free(s);
        }
        want = tu_load_json(exp);
        if (!json_equal(got, want)) {
            char *g = json_dumps(got, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            print_error("case %s: got\n%s\n", *c, g);
            free(g);
            failed++;
        }
        /* Seeds and samples must be valid as written. */
        if (strncmp(*c, "seed-", 5) == 0 || strncmp(*c, "sample-", 7) == 0 ||
            strncmp(*c, "valid-", 6) == 0)
            assert_int_equal(json_array_size(json_object_get(got, "errors")), 0);
        if (strncmp(*c, "invalid-", 8) == 0)
            assert_true(json_array_size(json_object_get(got, "errors")) > 0);
        json_decref(input);
        json_decref(got);
        json_decref(want);
    }
    tu_free_list(cases);
    assert_true(n >= 40);
    assert_int_equal(failed, 0);
}

static void test_parse_effective_values(void **state)
{
    json_t *obj = tu_load_json(FIXTURES "/defaults-secret-target/input.json");
    mcp_server_t s;

    (void)state;
    assert_int_equal(mcp_server_parse(obj, &s, NULL), 0);
    assert_string_equal(s.name, "fetch");
    assert_string_equal(s.transport, "stdio");
    assert_int_equal(s.port, 8080);
    assert_int_equal(s.target_port, 0);
    assert_int_equal(s.n_secrets, 2);
    assert_string_equal(s.secrets[0].target_env_name, "API_KEY");
    assert_string_equal(s.secrets[1].target_env_name, "TOK");
    mcp_server_dispose(&s);
    json_decref(obj);

    obj = tu_load_json(FIXTURES "/sample-all-fields/input.json");
    assert_int_equal(mcp_server_parse(obj, &s, NULL), 0);
    assert_int_equal(s.port, 9090);
    assert_int_equal(s.n_args, 1);
    assert_string_equal(s.args[0], "/projects");
    assert_int_equal(s.n_volumes, 1);
    assert_true(s.volumes[0].read_only);
    assert_string_equal(s.limits.cpu, "1");
    assert_string_equal(s.requests.memory, "128Mi");
    assert_string_equal(s.profile.type, "builtin");
    assert_string_equal(s.profile.name, "none");
    assert_non_null(s.pod_template_spec);
    assert_int_equal(s.proxy_deployment.n_env, 1);
    assert_non_null(s.proxy_service.annotations);
    assert_null(s.proxy_service.labels);
    mcp_server_dispose(&s);
    json_decref(obj);
}

static void test_parse_wrong_types(void **state)
{
    json_t *obj = tu_load_json(FIXTURES "/invalid-wrong-types/input.json");
    mcp_errlist_t errs;
    mcp_server_t s;

    (void)state;
    mcp_errlist_init(&errs);
    assert_int_equal(mcp_server_parse(obj, &s, &errs), MCP_EINVAL);
    assert_true(errs.len >= 5);
    assert_null(s.image);
    assert_int_equal(s.n_args, 1); /* the string survives, the number is skipped */
    mcp_server_dispose(&s);
    mcp_errlist_dispose(&errs);
    json_decref(obj);
    obj = json_string("x");
    assert_int_equal(mcp_server_parse(obj, &s, NULL), MCP_EINVAL);
    json_decref(obj);
}

static void test_aggregate(void **state)
{
    mcp_errlist_t l;
    json_t *v = json_integer(70000);
    char *msg;

    (void)state;
    mcp_errlist_init(&l);
    mcp_err_invalid(&l, "spec.port", v, "must be between 1 and 65535");
    msg = mcp_errlist_aggregate(&l, "MCPServer", "fetch");
    assert_string_equal(msg, "MCPServer \"fetch\" is invalid: spec.port: Invalid value: 70000: "
                             "must be between 1 and 65535");
    free(msg);
    json_decref(v);
    v = json_string("grpc");
    mcp_err_unsupported(&l, "spec.transport", v,
                        (const char *const[]){"stdio", "sse", "streamable-http", NULL});
    mcp_err_required(&l, "spec.env[10].name", NULL);
    mcp_err_required(&l, "spec.env[9].name", NULL);
    msg = mcp_errlist_aggregate(&l, "MCPServer", "fetch");
    assert_string_equal(msg,
                        "MCPServer \"fetch\" is invalid: [spec.env[9].name: Required value, "
                        "spec.env[10].name: Required value, spec.port: Invalid value: 70000: "
                        "must be between 1 and 65535, spec.transport: Unsupported value: "
                        "\"grpc\": supported values: \"stdio\", \"sse\", \"streamable-http\"]");
    free(msg);
    json_decref(v);
    mcp_errlist_dispose(&l);
}

static void test_pointer_escape(void **state)
{
    char *s = mcp_pointer_escape("a/b~c");

    (void)state;
    assert_string_equal(s, "a~1b~0c");
    free(s);
}

static void test_crd_matches_table(void **state)
{
    char *buf = NULL, *committed;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_int_equal(mcp_crd_write(f), 0);
    fclose(f);
    committed = tu_read_file(CRD_FILE, NULL);
    assert_non_null(committed);
    if (strcmp(buf, committed) != 0)
        fail_msg("%s differs from the schema table: run `make crd`", CRD_FILE);
    free(committed);
    committed = tu_read_file(CHART_CRD_FILE, NULL);
    assert_non_null(committed);
    if (strcmp(buf, committed) != 0)
        fail_msg("%s differs from the schema table: run `make crd manifests`", CHART_CRD_FILE);
    free(committed);
    free(buf);
}

/* The API reference is generated from the same table: every field with a
 * rule or a conditional default has its text, and the committed page is
 * the generator's output. */
static void test_reference_matches_table(void **state)
{
    char *buf = NULL, *committed;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_int_equal(mcp_reference_write(f), 0);
    fclose(f);
    assert_non_null(strstr(buf, "| `spec.oidcConfig.inline.issuer` |"));
    assert_non_null(strstr(buf, "| `spec.authzConfig.inline.policies` |"));
    committed = tu_read_file(REFERENCE_FILE, NULL);
    assert_non_null(committed);
    if (strcmp(buf, committed) != 0)
        fail_msg("%s differs from the schema table: run `make docs`", REFERENCE_FILE);
    free(committed);
    free(buf);
}

/* ---- allocation failure ------------------------------------------------------ */

static long alloc_budget = -1; /* allocations left before failing; -1 = unlimited */

static void *counting_malloc(size_t n)
{
    if (alloc_budget == 0)
        return NULL;
    if (alloc_budget > 0)
        alloc_budget--;
    return malloc(n);
}

static void exercise(const json_t *obj)
{
    mcp_errlist_t errs, warns;
    mcp_changes_t c;
    mcp_server_t s;
    json_t *patch;
    int oom;

    mcp_errlist_init(&errs);
    mcp_errlist_init(&warns);
    mcp_validate(obj, &errs, &warns);
    mcp_errlist_dispose(&errs);
    mcp_errlist_dispose(&warns);
    mcp_changes_init(&c);
    if (mcp_defaults(obj, &c) == 0 && (patch = mcp_changes_to_patch(&c)))
        json_decref(patch);
    mcp_changes_dispose(&c);
    if (mcp_server_parse((json_t *)obj, &s, NULL) != MCP_ENOMEM)
        mcp_server_dispose(&s);
    free(mcp_validate_message(obj, NULL, &oom));
}

static void test_alloc_failures(void **state)
{
    static const char *cases[] = {"seed-github", "sample-all-fields", "invalid-many-errors",
                                  "invalid-overrides"};
    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[512];
        json_t *obj;
        long n;

        snprintf(path, sizeof(path), FIXTURES "/%s/input.json", cases[i]);
        obj = tu_load_json(path);
        json_set_alloc_funcs(counting_malloc, free);
        for (n = 0; n < 100000; n++) {
            alloc_budget = n;
            exercise(obj);
            if (alloc_budget > 0)
                break; /* the run finished before the failure point */
        }
        alloc_budget = -1;
        json_set_alloc_funcs(malloc, free);
        assert_true(n < 100000);
        json_decref(obj);
    }
}

/* ---- cost bounds (DESIGN.md section 3), counted, not timed -------------------------- */

/* The uniqueness rules' set: probes stay linear in what is added, for
 * distinct names (the 20,000-name review that took 5 s with pairwise
 * comparisons) and for one name over and over. */
static void test_strset_linear(void **state)
{
    enum { DISTINCT = 20000, SAME = 100000 };
    char(*names)[16] = calloc(DISTINCT, sizeof(*names));
    mcp__strset_t set;
    size_t added = 0;

    (void)state;
    assert_non_null(names);
    assert_int_equal(mcp__strset_init(&set, DISTINCT + SAME), 0);
    for (int i = 0; i < DISTINCT; i++) {
        snprintf(names[i], sizeof(names[i]), "V%d", i);
        added += mcp__strset_add(&set, names[i], strlen(names[i])) == 1;
    }
    for (int i = 0; i < SAME; i++)
        added += mcp__strset_add(&set, "1", 1) == 1;
    assert_int_equal(added, DISTINCT + 1);
    assert_int_equal(mcp__strset_add(&set, "V7", 2), 0);
    if (set.probes > 3ul * (DISTINCT + SAME))
        fail_msg("%lu probes for %d adds", set.probes, DISTINCT + SAME);
    mcp__strset_dispose(&set);
    free(names);
}

/* The error list: 100,000 errors in the worst orders (each sorting before
 * all kept ones, and all on one path) cost O(log cap) comparisons each, keep
 * the cap's worth and count the rest. */
static void test_errlist_linear(void **state)
{
    enum { N = 100000 };
    unsigned long bound = 0;
    mcp_errlist_t l;
    char path[64], *msg;

    (void)state;
    for (size_t c = MCP_ERRLIST_MAX; c; c /= 2)
        bound++;
    mcp_errlist_init(&l);
    for (int i = N; i > 0; i--) {
        snprintf(path, sizeof(path), "spec.env[%d].name", i);
        mcp_err_required(&l, path, NULL);
    }
    for (int i = 0; i < N; i++)
        mcp_err_forbidden(&l, "spec.a", "x");
    assert_int_equal(l.len, MCP_ERRLIST_MAX);
    assert_int_equal(mcp_errlist_total(&l), 2 * N);
    /* at most three binary searches per error (admit, format, insert) */
    if (l.compares > 3ul * (bound + 1) * 2 * N)
        fail_msg("%lu comparisons for %d errors", l.compares, 2 * N);
    assert_string_equal(l.items[0].text, "spec.a: Forbidden: x");
    msg = mcp_errlist_aggregate(&l, "MCPServer", "x");
    assert_non_null(msg);
    assert_non_null(strstr(msg, "spec.a: Forbidden: x, ... and 199900 more errors]"));
    free(msg);
    mcp_errlist_dispose(&l);
}

static long jansson_allocs;

static void *count_malloc(size_t n)
{
    jansson_allocs++;
    return malloc(n);
}

/* Validation and defaulting of an object whose list is over its cap do no
 * per-item work: one "Too many", no patch, a handful of allocations. */
static void test_bounds_first(void **state)
{
    enum { N = 100000 };
    json_t *obj = json_pack("{s:s,s:s,s:{s:s},s:{s:s,s:[]}}", "apiVersion", MCP_API_VERSION, "kind",
                            MCP_KIND, "metadata", "name", "x", "spec", "image", "img", "env");
    json_t *env = json_object_get(json_object_get(obj, "spec"), "env");
    mcp_errlist_t errs, warns;
    mcp_changes_t ch;

    (void)state;
    for (int i = 0; i < N; i++)
        json_array_append_new(env, json_pack("{s:s}", "name", "1"));
    mcp_errlist_init(&errs);
    mcp_errlist_init(&warns);
    mcp_changes_init(&ch);
    jansson_allocs = 0;
    json_set_alloc_funcs(count_malloc, free);
    assert_int_equal(mcp_validate(obj, &errs, &warns), 1);
    assert_int_equal(mcp_defaults(obj, &ch), 0);
    json_set_alloc_funcs(malloc, free);
    assert_string_equal(errs.items[0].text,
                        "spec.env: Too many: 100000: must have at most 1024 items");
    assert_int_equal(warns.len, 0);
    assert_int_equal(ch.len, 0);
    assert_true(errs.compares < 8);
    if (jansson_allocs > 16)
        fail_msg("%ld jansson allocations", jansson_allocs);
    mcp_changes_dispose(&ch);
    mcp_errlist_dispose(&warns);
    mcp_errlist_dispose(&errs);
    json_decref(obj);
}

/* Nesting is measured without recursing past the bound. */
static void test_deeper_than(void **state)
{
    json_t *v = json_integer(1);

    (void)state;
    assert_false(mcp_json_deeper_than(v, 0));
    for (int i = 0; i < 100000; i++) {
        json_t *a = json_array();
        json_array_append_new(a, v);
        v = a;
        if (i == 31) {
            assert_false(mcp_json_deeper_than(v, 32));
            assert_true(mcp_json_deeper_than(v, 31));
        }
    }
    assert_true(mcp_json_deeper_than(v, MCP_NESTING_MAX));
    /* jansson's own recursive free would overflow the stack: unwrap first */
    while (json_is_array(v)) {
        json_t *inner = json_incref(json_array_get(v, 0));
        json_decref(v);
        v = inner;
    }
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixtures),
        cmocka_unit_test(test_parse_effective_values),
        cmocka_unit_test(test_parse_wrong_types),
        cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_pointer_escape),
        cmocka_unit_test(test_crd_matches_table),
        cmocka_unit_test(test_reference_matches_table),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_strset_linear),
        cmocka_unit_test(test_errlist_linear),
        cmocka_unit_test(test_bounds_first),
        cmocka_unit_test(test_deeper_than),
    };
    return cmocka_run_group_tests_name("schema", tests, NULL, NULL);
}
