/* Table-driven tests for Kubernetes quantities (mcp_quantity_parse/_cmp):
 * exact nano-unit values for valid inputs, the apiserver's messages for the
 * rest, and ordering across suffixes. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/common.h"
#include "mcp/validate.h"

#define FORMAT    "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define TOO_LARGE "quantity is too large"

typedef struct pcase {
    const char *in;
    const char *nanos; /* decimal, when valid */
    const char *err;   /* exact message, when invalid */
} pcase_t;

static void i128_str(__int128 v, char *out, size_t n)
{
    char tmp[64];
    size_t i = 0, j = 0;
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;

    do {
        tmp[i++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    if (v < 0)
        out[j++] = '-';
    while (i > 0 && j + 1 < n)
        out[j++] = tmp[--i];
    out[j] = '\0';
}

static void test_parse(void **state)
{
    static const pcase_t t[] = {
        {"100m", "100000000", NULL},
        {"0.5", "500000000", NULL},
        {"128Mi", "134217728000000000", NULL},
        {"1G", "1000000000000000000", NULL},
        {"1e3", "1000000000000", NULL},
        {"1E3", "1000000000000", NULL},
        {"1e+3", "1000000000000", NULL},
        {"2.5e2", "250000000000", NULL},
        {"+1.5", "1500000000", NULL},
        {"-1", "-1000000000", NULL},
        {".5", "500000000", NULL},
        {"+.5", "500000000", NULL},
        {"5.", "5000000000", NULL},
        {"1n", "1", NULL},
        {"1u", "1000", NULL},
        {"1k", "1000000000000", NULL},
        {"1M", "1000000000000000", NULL},
        {"1T", "1000000000000000000000", NULL},
        {"1P", "1000000000000000000000000", NULL},
        {"1E", "1000000000000000000000000000", NULL},
        {"1Ki", "1024000000000", NULL},
        {"1.5Mi", "1572864000000000", NULL},
        {"1.5Gi", "1610612736000000000", NULL},
        {"100Gi", "107374182400000000000", NULL},
        {"1Ti", "1099511627776000000000", NULL},
        {"1Pi", "1125899906842624000000000", NULL},
        {"1Ei", "1152921504606846976000000000", NULL},
        {"0.1m", "100000", NULL},
        {"0", "0", NULL},
        {"-0", "0", NULL},
        {"0.0", "0", NULL},
        {"000123", "123000000000", NULL},
        {"0e1000", "0", NULL},
        {"1e-3", "1000000", NULL},
        {"1E-9", "1", NULL},
        /* below one nano-unit: the magnitude rounds up */
        {"1e-10", "1", NULL},
        {"0.1n", "1", NULL},
        {"1.1n", "2", NULL},
        {"1.000000001n", "2", NULL},
        {"-0.1n", "-1", NULL},
        {"1e-1000", "1", NULL},
        {"0.0000000001Ki", "103", NULL},
        {"0.000000000000000000000000000000000000000000001", "1", NULL},
        {"1.000000000000000000000000000000000000000000000000000000", "1000000000", NULL},
        {"123456789012345678.123456789", "123456789012345678123456789", NULL},
        {"0.999999999999999999999999999999999999999999999999Ki", "1024000000000", NULL},
        {"9223372036854775807", "9223372036854775807000000000", NULL},
        {"10000000000000000000000000000", "10000000000000000000000000000000000000", NULL},
        {"1e28", "10000000000000000000000000000000000000", NULL},
        {"-1e28", "-10000000000000000000000000000000000000", NULL},
        {"10000000000000000000000000001", NULL, TOO_LARGE},
        {"1e29", NULL, TOO_LARGE},
        {"-1e29", NULL, TOO_LARGE},
        {"1e1000", NULL, TOO_LARGE},
        {"1e99999999999999999999999", NULL, TOO_LARGE},
        {"10000000000000000000Ei", NULL, TOO_LARGE},
        {"12Mx", NULL, FORMAT},
        {"", NULL, FORMAT},
        {NULL, NULL, FORMAT},
        {"1.2.3", NULL, FORMAT},
        {"m", NULL, FORMAT},
        {"Ki", NULL, FORMAT},
        {"+", NULL, FORMAT},
        {"-", NULL, FORMAT},
        {".", NULL, FORMAT},
        {"-.", NULL, FORMAT},
        {"1e", NULL, FORMAT},
        {"1e+", NULL, FORMAT},
        {"1E-", NULL, FORMAT},
        {"1e1.5", NULL, FORMAT},
        {"1e3m", NULL, FORMAT},
        {"e3", NULL, FORMAT},
        {"--1", NULL, FORMAT},
        {"+-1", NULL, FORMAT},
        {" 1", NULL, FORMAT},
        {"1 ", NULL, FORMAT},
        {"1 m", NULL, FORMAT},
        {"1Ki2", NULL, FORMAT},
        {"1ki", NULL, FORMAT},
        {"1K", NULL, FORMAT},
        {"1mi", NULL, FORMAT},
        {"1i", NULL, FORMAT},
        {"1kk", NULL, FORMAT},
        {"1Mi2", NULL, FORMAT},
        {"0x10", NULL, FORMAT},
        {"1,5", NULL, FORMAT},
        {"NaN", NULL, FORMAT},
        {"Inf", NULL, FORMAT},
        {"1\xc2\xb5", NULL, FORMAT},
    };
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(t); i++) {
        mcp_quantity_t q = {.nanos = 12345};
        const char *err = mcp_quantity_parse(t[i].in, &q);
        char got[64];

        i128_str(q.nanos, got, sizeof(got));
        if (t[i].err && (!err || strcmp(err, t[i].err) != 0)) {
            print_error("parse(\"%s\"): got %s, want error \"%s\"\n", t[i].in, err ? err : got,
                        t[i].err);
            bad++;
        } else if (!t[i].err && err) {
            print_error("parse(\"%s\"): error \"%s\", want %s\n", t[i].in, err, t[i].nanos);
            bad++;
        } else if (!t[i].err && strcmp(got, t[i].nanos) != 0) {
            print_error("parse(\"%s\"): got %s nanos, want %s\n", t[i].in, got, t[i].nanos);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

static void test_parse_null_out(void **state)
{
    (void)state;
    assert_null(mcp_quantity_parse("1Gi", NULL));
    assert_string_equal(mcp_quantity_parse("x", NULL), FORMAT);
}

typedef struct ccase {
    const char *a, *b;
    int want;
} ccase_t;

static void test_compare(void **state)
{
    static const ccase_t t[] = {
        {"1Gi", "1G", 1},   {"1G", "1Gi", -1},         {"1000m", "1", 0},    {"0.5", "500m", 0},
        {"1e3", "1k", 0},   {"128Mi", "134217728", 0}, {"1Ki", "1024", 0},   {"0.1m", "100u", 0},
        {"1", "1001m", -1}, {"-1", "0", -1},           {"0", "-0", 0},       {"1E", "1P", 1},
        {"1Ei", "1E", 1},   {"2", "1999m", 1},         {"1n", "0", 1},       {"0.1n", "1n", 0},
        {"-1n", "0", -1},   {"500Mi", "1Gi", -1},      {"250m", "0.25", 0},  {"1.5", "1500m", 0},
        {"1e-3", "1m", 0},  {"100Mi", "100M", 1},      {"4Gi", "4096Mi", 0}, {"1e28", "1e27", 1},
    };
    int bad = 0;

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(t); i++) {
        mcp_quantity_t a, b;
        int got;

        assert_null(mcp_quantity_parse(t[i].a, &a));
        assert_null(mcp_quantity_parse(t[i].b, &b));
        got = mcp_quantity_cmp(&a, &b);
        if (got != t[i].want) {
            print_error("cmp(\"%s\", \"%s\"): got %d, want %d\n", t[i].a, t[i].b, got, t[i].want);
            bad++;
        }
        if (mcp_quantity_cmp(&b, &a) != -t[i].want) {
            print_error("cmp(\"%s\", \"%s\") is not antisymmetric\n", t[i].b, t[i].a);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

/* What the apiserver stores (resource.Quantity canonical form). */
static void test_canonical(void **state)
{
    static const char *const cases[][2] = {
        {"100m", "100m"},    {"0.5", "500m"},   {"1000m", "1"},     {"1.5", "1500m"},
        {"2000", "2k"},      {"0.1", "100m"},   {"1", "1"},         {"0", "0"},
        {"0.0001", "100u"},  {"1n", "1n"},      {"1000000", "1M"},  {"10G", "10G"},
        {"100M", "100M"},    {"1E", "1E"},      {"128Mi", "128Mi"}, {"1024Mi", "1Gi"},
        {"1.5Gi", "1536Mi"}, {"1.5Ki", "1536"}, {"0.5Ki", "512"},   {"1Ki", "1Ki"},
        {"512Ki", "512Ki"},  {"1e3", "1e3"},    {"12e6", "12e6"},   {"120e2", "12e3"},
        {"1e0", "1"},        {"1.5e3", "1500"}, {"+5", "5"},        {"250m", "250m"},
    };
    char out[48];

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = mcp_quantity_canonical(cases[i][0], out, sizeof(out));
        if (!got || strcmp(got, cases[i][1]) != 0)
            fail_msg("%s: got %s, want %s", cases[i][0], got ? got : "(null)", cases[i][1]);
    }
    assert_null(mcp_quantity_canonical("1x", out, sizeof(out)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_parse_null_out),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_canonical),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
