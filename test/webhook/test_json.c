/* Differential tests of the webhook's JSON reader (wh_json_parse) against
 * jansson's json_loadb(JSON_REJECT_DUPLICATES): for every input both must
 * accept or both reject, and accepted values must be equal. The inputs are
 * the corner cases of RFC 8259 and of jansson's own limits; the fuzzer
 * (bench/webhook/fuzz_admission.c) runs the same check on random inputs,
 * and every input it ever stopped on is kept in test/fixtures/fuzz/admission/
 * and replayed here. Where jansson is known to be more lenient
 * (bench/webhook/jansson_lenient.h), our reader must reject and agree with
 * jansson once the leniency is undone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../testutil.h"
#include "mcp/common.h"
#include "../../webhook/internal.h"
#include "../../bench/webhook/jansson_lenient.h"
#include "../../bench/webhook/shape_check.h"

#define FUZZ_DIR "test/fixtures/fuzz/admission"

static void same_as_jansson(const char *text, size_t len)
{
    char err[256];
    int oom = 0;
    json_t *mine = wh_json_parse(text, len, NULL, err, sizeof(err), &oom);
    json_t *ref = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);

    assert_int_equal(oom, 0);
    if (!mine != !ref)
        fail_msg("%.*s: wh_json_parse %s, jansson %s", (int)(len > 80 ? 80 : len), text,
                 mine ? "accepts" : err, ref ? "accepts" : "rejects");
    if (mine && !json_equal(mine, ref))
        fail_msg("%.*s: values differ", (int)(len > 80 ? 80 : len), text);
    if (!mine)
        assert_non_null(strstr(err, "(line "));
    json_decref(mine);
    json_decref(ref);
}

static void test_corner_cases(void **state)
{
    static const char *const cases[] = {
        "{}",
        "[]",
        " \t\r\n{ } \n",
        "{\"a\":1}",
        "[1,2,3]",
        "[-0]",
        "[-0.0]",
        "[0]",
        "[01]",
        "[1.]",
        "[.5]",
        "[1e5]",
        "[1E+5]",
        "[1e-5]",
        "[1e]",
        "[-]",
        "[+1]",
        "[1.5e+]",
        "[9223372036854775807]",
        "[9223372036854775808]",
        "[-9223372036854775808]",
        "[-9223372036854775809]",
        "[1e308]",
        "[1e309]",
        "[-1e309]",
        "[1e-400]",
        "[123456789012345678901234567890.5]",
        "[true,false,null]",
        "[tru]",
        "[truex]",
        "[nul]",
        "\"str\"",
        "1",
        "null",
        "",
        " ",
        "{",
        "[",
        "}",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\" 1}",
        "{\"a\":}",
        "{a:1}",
        "{\"a\":1 \"b\":2}",
        "[1 2]",
        "{}{}",
        "[]x",
        "{} ",
        "{\"a\":1,\"a\":2}",
        "{\"a\":1,\"b\":{\"a\":2}}",
        "{\"a\":{\"x\":1,\"x\":1}}",
        "[\"\\u0041\\u00e9\\u4e2d\\ud83d\\ude00\"]",
        "[\"\\ud83d\"]",
        "[\"\\ude00\"]",
        "[\"\\ud83d\\u0041\"]",
        "[\"\\u0000\"]",
        "[\"\\u00\"]",
        "[\"\\uZZZZ\"]",
        "[\"\\x\"]",
        "[\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"]",
        "[\"a\tb\"]",
        "[\"a\x01\"]",
        "[\"\x7f\"]",
        "[\"\xc3\xa9\"]",
        "[\"\xc3\"]",
        "[\"\xc3(\"]",
        "[\"\xe2\x82\xac\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf0\x9f\x98\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xc0\xaf\"]",
        "[\"\xff\"]",
        "[\xc3\xa9]",
        "{\"\\u00e9\":1,\"\xc3\xa9\":2}",
        "{\"k\\\"ey\":[{\"k\\\"ey\":true}]}",
        "[\"unterminated",
        "[\"a\\",
        "{\"a\":\"b\"",
        "[1,[2,[3,[4]]]]",
        "\xef\xbb\xbf{}",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        same_as_jansson(cases[i], strlen(cases[i]));
    same_as_jansson("[\"a\0b\"]", 7);
    same_as_jansson("[1]\0", 4);
}

/* Nesting at, just below and just above jansson's depth limit (2048 values). */
static void test_depth(void **state)
{
    (void)state;
    for (int depth = 2046; depth <= 2050; depth++) {
        for (int scalar = 0; scalar < 2; scalar++) {
            size_t n = (size_t)depth * 2 + 2;
            char *s = malloc(n), *p = s;

            assert_non_null(s);
            for (int i = 0; i < depth; i++)
                *p++ = '[';
            if (scalar)
                *p++ = '1';
            for (int i = 0; i < depth; i++)
                *p++ = ']';
            same_as_jansson(s, (size_t)(p - s));
            free(s);
        }
    }
}

/* Long strings with escapes spread out, so the scratch buffer grows. */
static void test_long_strings(void **state)
{
    size_t n = 200000;
    char *s = malloc(n + 16), *p = s;

    (void)state;
    assert_non_null(s);
    p += sprintf(p, "{\"k\":\"");
    for (size_t i = 0; (size_t)(p - s) < n; i++)
        p += sprintf(p, i % 97 == 0 ? "\\n" : i % 89 == 0 ? "\\u00e9" : "x");
    p += sprintf(p, "\"}");
    same_as_jansson(s, (size_t)(p - s));
    free(s);
}

/* A shape like the review's: top-level kind and request; in request, uid and
 * object; object.spec.list capped at 3 items, object.spec.map at 2 members,
 * object.spec.deep nested at most 3 levels (only its member keep built),
 * object.spec.name a scalar. */
static const mcp_shape_t deep_members[] = {{.name = "keep"}, {0}};
static const mcp_shape_t spec_members[] = {
    {.name = "list", .kind = MCP_SHAPE_ARRAY, .path = "spec.list", .max_items = 3},
    {.name = "map", .kind = MCP_SHAPE_OBJECT, .path = "spec.map", .max_items = 2},
    {.name = "deep",
     .kind = MCP_SHAPE_OBJECT,
     .path = "spec.deep",
     .max_depth = 3,
     .members = deep_members},
    {.name = "name", .path = "spec.name"},
    {0},
};
static const mcp_shape_t object_members[] = {
    {.name = "spec", .kind = MCP_SHAPE_OBJECT, .members = spec_members, .span = 1},
    {0},
};
static const mcp_shape_t inner_members[] = {
    {.name = "uid"},
    {.name = "object", .kind = MCP_SHAPE_OBJECT, .members = object_members},
    {0},
};
static const mcp_shape_t top_members[] = {
    {.name = "kind"},
    {.name = "request", .kind = MCP_SHAPE_OBJECT, .members = inner_members},
    {0},
};
static const mcp_shape_t top_shape = {.kind = MCP_SHAPE_OBJECT, .members = top_members};

/* The shaped parse of text; bounds errors joined by "; " into *errors. */
static json_t *filtered_errs(const char *text, char **errors)
{
    char err[256];
    int oom = 0;
    mcp_errlist_t bounds;
    wh_json_span_t spans[1] = {{NULL, 0}};
    wh_json_opts_t opts = {&top_shape, &bounds, spans, 1};
    json_t *v;

    mcp_errlist_init(&bounds);
    v = wh_json_parse(text, strlen(text), &opts, err, sizeof(err), &oom);
    if (errors)
        *errors = mcp_errlist_join(&bounds, "; ");
    /* the model agrees, and the spec's span is its text */
    if (v) {
        json_t *full = json_loads(text, 0, NULL);
        size_t want = 0;

        if (full && !shape_matches(v, full, &top_shape, &want))
            fail_msg("shaped parse of %s differs from the model", text);
        if (full)
            assert_int_equal(want, mcp_errlist_total(&bounds));
        if (spans[0].p) {
            json_t *spec = json_loadb(spans[0].p, spans[0].len, 0, NULL);

            assert_non_null(spec);
            assert_true(json_equal(
                spec, json_object_get(json_object_get(json_object_get(full, "request"), "object"),
                                      "spec")));
            json_decref(spec);
        }
        json_decref(full);
    }
    mcp_errlist_dispose(&bounds);
    return v;
}

static json_t *filtered(const char *text)
{
    return filtered_errs(text, NULL);
}

static void assert_filtered(const char *text, const char *want_json, const char *want_errors)
{
    char *errors = NULL;
    json_t *got = filtered_errs(text, &errors), *want = json_loads(want_json, 0, NULL);

    assert_non_null(got);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_COMPACT);

        fail_msg("%s: got %s, want %s", text, g, want_json);
    }
    assert_string_equal(errors, want_errors);
    free(errors);
    json_decref(got);
    json_decref(want);
}

/* With a shape, members it does not name are left out (still checked as
 * JSON), lists and maps stop at their cap and report "Too many", depth is
 * reported, unexpected containers are built only when small. */
static void test_filter(void **state)
{
    static const char *const rejected[] = {
        "{\"x\":[1,\"\xff\"]}",
        "{\"x\":{\"a\":1e999}}",
        "{\"x\":99999999999999999999}",
        "{\"x\":[1,]}",
        "{\"x\":{\"a\" 1}}",
        "{\"x\":\"\\u0000\"}",
        "{\"x\":tru}",
        "{\"request\":{\"uid\":1,\"uid\":3}}",
        "{\"request\":{\"object\":{\"spec\":{\"list\":[1,2,3,4,[}}}}",
    };
    json_t *got;

    (void)state;
    assert_filtered("{\"kind\":\"K\",\"x\":{\"deep\":[1,2,{\"y\":null}]},\"request\":"
                    "{\"uid\":\"u\",\"userInfo\":{\"a\":[\"b\"]},\"object\":{\"spec\":{\"x\":1}}}}",
                    "{\"kind\":\"K\",\"request\":{\"uid\":\"u\",\"object\":{\"spec\":{}}}}", "");
    /* caps: the first items are built, the rest checked and counted */
    assert_filtered("{\"request\":{\"object\":{\"spec\":{\"list\":[1,2,3,4,5],"
                    "\"map\":{\"a\":\"1\",\"b\":\"2\",\"c\":\"3\"},\"name\":\"n\"}}}}",
                    "{\"request\":{\"object\":{\"spec\":{\"list\":[1,2,3],"
                    "\"map\":{\"a\":\"1\",\"b\":\"2\"},\"name\":\"n\"}}}}",
                    "spec.list: Too many: 5: must have at most 3 items; "
                    "spec.map: Too many: 3: must have at most 2 items");
    assert_filtered("{\"request\":{\"object\":{\"spec\":{\"list\":[1,2,3]}}}}",
                    "{\"request\":{\"object\":{\"spec\":{\"list\":[1,2,3]}}}}", "");
    /* depth: the value itself is level 1 */
    assert_filtered("{\"request\":{\"object\":{\"spec\":{\"deep\":{\"a\":[[1]]}}}}}",
                    "{\"request\":{\"object\":{\"spec\":{\"deep\":{}}}}}", "");
    assert_filtered("{\"request\":{\"object\":{\"spec\":{\"deep\":{\"a\":[[[1]]],\"b\":[[[]]]}}}}}",
                    "{\"request\":{\"object\":{\"spec\":{\"deep\":{}}}}}",
                    "spec.deep: Invalid value: \"object\": must be nested at most 3 levels deep");
    /* a container where a scalar belongs: kept when small, to be reported */
    assert_filtered(
        "{\"request\":{\"object\":{\"spec\":{\"name\":{\"x\":[1]},\"list\":{\"a\":1}}}}}",
        "{\"request\":{\"object\":{\"spec\":{\"name\":{\"x\":[1]},\"list\":{\"a\":1}}}}}", "");
    {
        size_t n = 20000;
        char *big = malloc(n + 128), *p = big;

        assert_non_null(big);
        p += sprintf(p, "{\"request\":{\"object\":{\"spec\":{\"name\":[");
        while ((size_t)(p - big) < n)
            p += sprintf(p, "0,");
        sprintf(p, "0]}}}}");
        assert_filtered(big, "{\"request\":{\"object\":{\"spec\":{\"name\":[]}}}}", "");
        free(big);
    }
    /* numbers in values not built are checked like jansson checks them */
    {
        static const char *const numbers[] = {
            "0",
            "-0",
            "123456789012345678",
            "-123456789012345678",
            "1234567890123456789",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775809",
            "1.5",
            "1e308",
            "1e309",
            "-1e309",
            "1e-400",
            "1.5e299",
            "9.9e307",
            "99e307",
            "1E+308",
            "1e0000000000000000308",
            "1e0000000000000000309",
            "123e306",
            "1234e305",
            "0.000001e310",
            "1e1000000",
            "-1e-1000000",
        };

        for (size_t i = 0; i < sizeof(numbers) / sizeof(numbers[0]); i++) {
            char text[128], arr[64];
            json_t *ref;

            snprintf(text, sizeof(text), "{\"skipped\":[%s],\"kind\":%s}", numbers[i], numbers[i]);
            snprintf(arr, sizeof(arr), "[%s]", numbers[i]);
            ref = json_loads(arr, 0, NULL);
            got = filtered(text);
            if (!got != !ref)
                fail_msg("%s: shaped parse %s, jansson %s", numbers[i], got ? "accepts" : "rejects",
                         ref ? "accepts" : "rejects");
            if (got)
                assert_true(json_equal(json_object_get(got, "kind"), json_array_get(ref, 0)));
            same_as_jansson(arr, strlen(arr));
            json_decref(got);
            json_decref(ref);
        }
    }
    /* a duplicate among members not built is not looked for */
    got = filtered("{\"x\":{\"a\":1,\"a\":2},\"kind\":1,\"y\":1,\"y\":2}");
    assert_non_null(got);
    json_decref(got);
    /* a member named like a shaped one, where the shape does not apply */
    assert_filtered("[{\"request\":\"s\",\"z\":{\"q\":1}}]",
                    "[{\"request\":\"s\",\"z\":{\"q\":1}}]", "");
    assert_filtered("{\"request\":[{\"q\":1}],\"kind\":{\"q\":2}}",
                    "{\"request\":[{\"q\":1}],\"kind\":{\"q\":2}}", "");
    for (size_t i = 0; i < sizeof(rejected) / sizeof(rejected[0]); i++) {
        got = filtered(rejected[i]);
        if (got)
            fail_msg("accepted %s", rejected[i]);
    }
}

/* jansson skips one raw NUL after a number or literal; we reject it, and
 * agree with jansson on the input without it. Nowhere else does a NUL pass. */
static void test_jansson_nul_leniency(void **state)
{
    static const struct {
        const char *text;
        size_t len;
        int jansson_accepts;
    } cases[] = {
#define NUL_CASE(text, accepts) {text, sizeof(text) - 1, accepts}
        NUL_CASE("[5\0,2, 3]\n", 1),    NUL_CASE("[5\0]", 1),
        NUL_CASE("[true\0]", 1),        NUL_CASE("[null\0,false\0]", 1),
        NUL_CASE("{\"a\":1.5e3\0}", 1), NUL_CASE("[-0\0]", 1),
        NUL_CASE("[5\0\0]", 0),         NUL_CASE("[1,\0 2]", 0),
        NUL_CASE("[\"a\"\0]", 0),       NUL_CASE("[1]\0", 0),
        NUL_CASE("[1e\0]", 0),          NUL_CASE("[tr\0ue]", 0),
#undef NUL_CASE
    };

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(cases); i++) {
        char err[256], strict[32];
        int oom = 0;
        json_t *mine = wh_json_parse(cases[i].text, cases[i].len, NULL, err, sizeof(err), &oom);
        json_t *ref = json_loadb(cases[i].text, cases[i].len, JSON_REJECT_DUPLICATES, NULL);
        size_t n = jansson_lenient_strip(cases[i].text, cases[i].len, strict);

        assert_null(mine); /* RFC 8259: a NUL is never whitespace */
        assert_int_equal(!!ref, cases[i].jansson_accepts);
        if (ref) {
            assert_true(n < cases[i].len);
            mine = wh_json_parse(strict, n, NULL, err, sizeof(err), &oom);
            assert_non_null(mine);
            assert_true(json_equal(mine, ref));
            json_decref(mine);
        }
        json_decref(ref);
    }
}

/* Inputs the fuzzer stopped on, replayed: the oracle holds, and the
 * admission handler answers them with valid JSON and a known status. */
static void test_fuzz_regressions(void **state)
{
    char **names = tu_list_files(FUZZ_DIR);
    size_t n = 0;

    (void)state;
    for (char **name = names; *name; name++, n++) {
        char path[512], err[256], *text, *strict;
        size_t len = 0, slen;
        int oom = 0;
        json_t *mine, *ref;

        snprintf(path, sizeof(path), FUZZ_DIR "/%s", *name);
        text = tu_read_file(path, &len);
        assert_non_null(text);
        mine = wh_json_parse(text, len, NULL, err, sizeof(err), &oom);
        ref = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
        strict = malloc(len + 1);
        assert_non_null(strict);
        slen = jansson_lenient_strip(text, len, strict);
        if (!mine && ref && slen < len) /* jansson's leniency undone */
            mine = wh_json_parse(strict, slen, NULL, err, sizeof(err), &oom);
        if (!mine != !ref || (mine && !json_equal(mine, ref)))
            fail_msg("%s: wh_json_parse and jansson disagree", *name);
        for (int ep = WH_EP_MUTATE; ep <= WH_EP_VALIDATE; ep++) {
            mcp_buf_t out;
            wh_verdict_t v;
            int status;
            json_t *body;

            mcp_buf_init(&out, WH_REPLY_MAX);
            status = wh_admit((wh_endpoint_t)ep, text, len, &out, &v);
            body = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
            assert_non_null(body);
            assert_true(status == 200 || status == 400 || status == 413);
            json_decref(body);
            mcp_buf_dispose(&out);
        }
        json_decref(mine);
        json_decref(ref);
        free(strict);
        free(text);
    }
    tu_free_list(names);
    assert_true(n >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jansson_nul_leniency), cmocka_unit_test(test_fuzz_regressions),
        cmocka_unit_test(test_corner_cases),         cmocka_unit_test(test_depth),
        cmocka_unit_test(test_long_strings),         cmocka_unit_test(test_filter),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
