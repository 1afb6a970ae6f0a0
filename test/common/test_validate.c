/* Table-driven tests for the string validators in mcp/validate.h: each row is
 * an input and either NULL (valid) or a piece of the expected message. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/common.h"
#include "mcp/validate.h"

typedef struct vcase {
    const char *in;
    const char *want; /* NULL: valid; else a substring of the message */
} vcase_t;

typedef const char *(*check_fn)(const char *);

#define A10 "aaaaaaaaaa"
#define A60 A10 A10 A10 A10 A10 A10
#define A63 A60 "aaa"
#define A64 A63 "a"
#define A250                                                                                       \
    A60 A60 A60 A60 "aaaaaaaaa"                                                                    \
                    "a"
/* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 characters of valid subdomain */
#define SUB253 A63 "." A63 "." A63 "." A60 "a"
#define SUB254 SUB253 "a"
#define HEX64  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define TAG128 "v" A60 A60 "aaaaaaa"

#define LABEL_RX "a lowercase RFC 1123 label must consist of"
#define SUB_RX   "a lowercase RFC 1123 subdomain must consist of"
#define D1035_RX "a DNS-1035 label must consist of"
#define LEN63    "must be no more than 63 characters"
#define LEN253   "must be no more than 253 characters"
#define NAME_RX  "name part must consist of alphanumeric characters"
#define VALUE_RX "a valid label must be an empty string or consist of"
#define ENV_RX   "a valid environment variable name must consist of"
#define KEY_RX   "a valid config key must consist of"
#define IMG      "must be a valid image reference"

static void run_table(const char *name, check_fn fn, const vcase_t *t, size_t n)
{
    int bad = 0;

    for (size_t i = 0; i < n; i++) {
        const char *got = fn(t[i].in);

        if (!t[i].want && got) {
            print_error("%s(\"%s\"): got \"%s\", want valid\n", name, t[i].in, got);
            bad++;
        } else if (t[i].want && (!got || !strstr(got, t[i].want))) {
            print_error("%s(\"%s\"): got %s%s%s, want \"...%s...\"\n", name, t[i].in,
                        got ? "\"" : "", got ? got : "valid", got ? "\"" : "", t[i].want);
            bad++;
        }
    }
    assert_int_equal(bad, 0);
}

#define RUN(fn, table) run_table(#fn, fn, table, MCP_ARRAY_LEN(table))

static void test_dns1123_label(void **state)
{
    static const vcase_t t[] = {
        {"a", NULL},
        {"0", NULL},
        {"my-name", NULL},
        {"123-abc", NULL},
        {"a--b", NULL},
        {"abc123", NULL},
        {A63, NULL},
        {A64, LEN63},
        {"", LABEL_RX},
        {"-a", LABEL_RX},
        {"a-", LABEL_RX},
        {"-", LABEL_RX},
        {"My-name", LABEL_RX},
        {"myName", LABEL_RX},
        {"my_name", LABEL_RX},
        {"a b", LABEL_RX},
        {"a.b", "must not contain dots"},
        {"a..b", LABEL_RX},
        {".a", LABEL_RX},
        {"caf\xc3\xa9", LABEL_RX},
        {"a/b", LABEL_RX},
        {"a\n", LABEL_RX},
        {NULL, LABEL_RX},
    };

    (void)state;
    RUN(mcp_check_dns1123_label, t);
}

static void test_dns1123_subdomain(void **state)
{
    static const vcase_t t[] = {
        {"a", NULL},
        {"example.com", NULL},
        {"my-secret", NULL},
        {"a.b.c.d", NULL},
        {"1.2.3.4", NULL},
        {"a-1.b-2", NULL},
        {A64, NULL}, /* the rule has no per-label limit */
        {SUB253, NULL},
        {SUB254, LEN253},
        {"", SUB_RX},
        {".", SUB_RX},
        {"a.", SUB_RX},
        {".a", SUB_RX},
        {"a..b", SUB_RX},
        {"a.-b", SUB_RX},
        {"a-.b", SUB_RX},
        {"-a", SUB_RX},
        {"Example.com", SUB_RX},
        {"my_secret", SUB_RX},
        {"a b", SUB_RX},
        {"\xe2\x98\x83.com", SUB_RX},
        {NULL, SUB_RX},
    };

    (void)state;
    RUN(mcp_check_dns1123_subdomain, t);
}

static void test_dns1035_label(void **state)
{
    static const vcase_t t[] = {
        {"a", NULL},
        {"my-name", NULL},
        {"abc-123", NULL},
        {"fetch", NULL},
        {"a" A60 "a9", NULL}, /* 63 */
        {"a" A60 "a9z", LEN63},
        {"", D1035_RX},
        {"1abc", D1035_RX},
        {"123-abc", D1035_RX},
        {"-abc", D1035_RX},
        {"abc-", D1035_RX},
        {"Abc", D1035_RX},
        {"a.b", D1035_RX},
        {"a_b", D1035_RX},
        {"\xc3\xa9t\xc3\xa9", D1035_RX},
        {NULL, D1035_RX},
    };

    (void)state;
    RUN(mcp_check_dns1035_label, t);
}

static void test_label_key(void **state)
{
    static const vcase_t t[] = {
        {"app", NULL},
        {"MyName", NULL},
        {"my.name", NULL},
        {"123-abc", NULL},
        {"a_b-c.d", NULL},
        {"example.com/MyName", NULL},
        {"app.kubernetes.io/name", NULL},
        {"k8s.io/a", NULL},
        {A63, NULL},
        {"example.com/" A63, NULL},
        {SUB253 "/a", NULL},
        {A64, "name part " LEN63},
        {"example.com/" A64, "name part " LEN63},
        {SUB254 "/a", "prefix part " LEN253},
        {"", "name part must be non-empty"},
        {"example.com/", "name part must be non-empty"},
        {"/name", "prefix part must be non-empty"},
        {"Example.com/name", "prefix part " SUB_RX},
        {"exa_mple.com/name", "prefix part " SUB_RX},
        {"-example.com/name", "prefix part " SUB_RX},
        {"a/b/c", "a qualified name must consist of"},
        {"-app", NAME_RX},
        {"app-", NAME_RX},
        {"_app", NAME_RX},
        {"app.", NAME_RX},
        {"a b", NAME_RX},
        {"a:b", NAME_RX},
        {"na\xc3\xafve", NAME_RX},
        {NULL, "name part must be non-empty"},
    };

    (void)state;
    RUN(mcp_check_label_key, t);
}

static void test_annotation_key(void **state)
{
    static const vcase_t t[] = {
        {"description", NULL},
        {"example.com/Note", NULL},
        {"Example.COM/note", NULL}, /* the apiserver lower-cases keys first */
        {"kubectl.kubernetes.io/last-applied-configuration", NULL},
        {"example.com/", "name part must be non-empty"},
        {"/x", "prefix part must be non-empty"},
        {"exa_mple.com/x", "prefix part " SUB_RX},
        {"a/b/c", "a qualified name must consist of"},
        {A64, "name part " LEN63},
        {"-x", NAME_RX},
        {"", "name part must be non-empty"},
    };

    (void)state;
    RUN(mcp_check_annotation_key, t);
}

static void test_label_value(void **state)
{
    static const vcase_t t[] = {
        {"", NULL},         {NULL, NULL},      {"MyValue", NULL},
        {"my_value", NULL}, {"12345", NULL},   {"a.b-c_d", NULL},
        {"x", NULL},        {A63, NULL},       {A64, LEN63},
        {"-a", VALUE_RX},   {"a-", VALUE_RX},  {"_a", VALUE_RX},
        {"a.", VALUE_RX},   {".", VALUE_RX},   {"a b", VALUE_RX},
        {"a/b", VALUE_RX},  {"a:b", VALUE_RX}, {"\xf0\x9f\x98\x80", VALUE_RX},
    };

    (void)state;
    RUN(mcp_check_label_value, t);
}

static void test_env_name(void **state)
{
    static const vcase_t t[] = {
        {"A", NULL},
        {"PATH", NULL},
        {"my.env-name", NULL},
        {"MY_ENV.NAME", NULL},
        {"MyEnvName1", NULL},
        {"_", NULL},
        {"-x", NULL},
        {".x", NULL},
        {"A" A250 "AAAAAAAA", NULL}, /* no length limit */
        {"", ENV_RX},
        {NULL, ENV_RX},
        {"1A", ENV_RX},
        {"9", ENV_RX},
        {"A B", ENV_RX},
        {"A=B", ENV_RX},
        {"A$", ENV_RX},
        {"\xc3\x84", ENV_RX},
        {".", "must not be '.'"},
        {"..", "must not be '..'"},
        {"..x", "must not start with '..'"},
    };

    (void)state;
    RUN(mcp_check_env_name, t);
}

static void test_secret_key(void **state)
{
    static const vcase_t t[] = {
        {"key.name", NULL},
        {"KEY_NAME", NULL},
        {"key-name", NULL},
        {"1", NULL},
        {"token", NULL},
        {".dockerconfigjson", NULL},
        {"a..b", NULL},
        {"abc" A250, NULL}, /* 253 */
        {"abcd" A250, LEN253},
        {"", KEY_RX},
        {NULL, KEY_RX},
        {"a/b", KEY_RX},
        {"a b", KEY_RX},
        {"a:b", KEY_RX},
        {"cl\xc3\xa9", KEY_RX},
        {".", "must not be '.'"},
        {"..", "must not be '..'"},
        {"..data", "must not start with '..'"},
    };

    (void)state;
    RUN(mcp_check_secret_key, t);
}

static void test_image_ref(void **state)
{
    static const vcase_t t[] = {
        {"nginx", NULL},
        {"a", NULL},
        {"nginx:1.25", NULL},
        {"nginx:latest", NULL},
        {"library/nginx", NULL},
        {"docker.io/mcp/fetch", NULL},
        {"docker.io/library/nginx:1.25.3-alpine", NULL},
        {"ghcr.io/stackloklabs/mcp-fetch:0.1.0", NULL},
        {"localhost/foo", NULL},
        {"localhost:5000/foo/bar:tag", NULL},
        {"localhost:5000", NULL}, /* "localhost" with tag "5000" */
        {"registry.example.com:5000/team/app@sha256:" HEX64, NULL},
        {"app:v1@sha256:" HEX64, NULL},
        {"app@sha256:" HEX64, NULL},
        {"127.0.0.1:5000/foo", NULL},
        {"[::1]:5000/foo", NULL},
        {"Registry.Example.COM/foo", NULL},
        {"my_repo/app__x/y-z--w.v", NULL},
        {"foo:_tag", NULL},
        {"foo:V1.0-RC_2", NULL},
        {"foo:" TAG128, NULL},
        {"a/" A60 A60 A60 A60 A10 "aaa", NULL}, /* 255 */
        {"", IMG ": must not be empty"},
        {NULL, IMG},
        {"a/" A60 A60 A60 A60 A10 "aaaa", IMG ": repository name must not be more than 255"},
        {"Nginx", IMG ": repository path must be lower-case"},
        {"docker.io/MCP/fetch", IMG ": repository path must be lower-case"},
        {"MyOrg/app", IMG ": repository path must be lower-case"},
        {"nginx latest", IMG ": must not contain whitespace"},
        {" nginx", IMG ": must not contain whitespace"},
        {"nginx\t", IMG ": must not contain whitespace"},
        {"nginx\n", IMG ": must not contain whitespace"},
        {"ng\x01inx", IMG ": must not contain control characters"},
        {"nginx:", IMG ": invalid tag"},
        {"nginx:-x", IMG ": invalid tag"},
        {"nginx:.x", IMG ": invalid tag"},
        {"nginx:a+b", IMG ": invalid tag"},
        {"nginx:" TAG128 "x", IMG ": invalid tag"},
        {"nginx@sha256:abc", IMG ": invalid digest (want sha256:<64 hex>)"},
        {"nginx@", IMG ": invalid digest"},
        {"nginx@sha512:" HEX64, IMG ": invalid digest"},
        {"nginx@sha256:" HEX64 "0", IMG ": invalid digest"},
        {"nginx@sha256:0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
         IMG ": invalid digest"},
        {"nginx@sha256:" HEX64 "@sha256:" HEX64, IMG ": invalid digest"},
        {"-registry.io/foo", IMG ": invalid registry host"},
        {"registry-.io/foo", IMG ": invalid registry host"},
        {"reg..io/foo", IMG ": invalid registry host"},
        {"registry.io:/foo", IMG ": invalid registry host"},
        {"registry.io:50a0/foo", IMG ": invalid registry host"},
        {"reg_istry.io/foo", IMG ": invalid registry host"},
        {"[zz]:5000/foo", IMG ": invalid registry host"},
        {"registry.io/", IMG ": invalid repository path"},
        {"foo//bar", IMG ": invalid repository path"},
        {"/foo", IMG ": invalid repository path"},
        {"foo/", IMG ": invalid repository path"},
        {"-foo", IMG ": invalid repository path"},
        {"foo-", IMG ": invalid repository path"},
        {"foo___bar", IMG ": invalid repository path"},
        {"foo..bar", IMG ": invalid repository path"},
        {"foo._bar", IMG ": invalid repository path"},
        {"foo:bar:baz", IMG ": invalid repository path"},
        {"caf\xc3\xa9", IMG ": invalid repository path"},
        {"uvx://mcp-server-fetch", IMG},
        {":tag", IMG ": missing repository name"},
        {"@sha256:" HEX64, IMG ": missing repository name"},
    };

    (void)state;
    RUN(mcp_check_image_ref, t);
}

static void test_abs_path(void **state)
{
    static const vcase_t t[] = {
        {"/", NULL},
        {"/data", NULL},
        {"/var/lib/data/", NULL},
        {"//double//slash", NULL},
        {"/a/.../b", NULL},
        {"/a/..b/c", NULL},
        {"/a/b..", NULL},
        {"/./a", NULL},
        {"/with space/\xc3\xa9", NULL},
        {"", "must be an absolute path"},
        {NULL, "must be an absolute path"},
        {"data", "must be an absolute path"},
        {"./data", "must be an absolute path"},
        {"~/data", "must be an absolute path"},
        {"../etc", "must be an absolute path"},
        {"/..", "must not contain '..'"},
        {"/../etc", "must not contain '..'"},
        {"/a/../b", "must not contain '..'"},
        {"/a/..", "must not contain '..'"},
        {"/a/../", "must not contain '..'"},
        {"/a//..//b", "must not contain '..'"},
    };

    (void)state;
    RUN(mcp_check_abs_path, t);
}

/* The whole messages, byte for byte as the apiserver prints them. */
static void test_exact_wording(void **state)
{
    (void)state;
    assert_string_equal(mcp_check_dns1123_label("A"),
                        "a lowercase RFC 1123 label must consist of lower case alphanumeric "
                        "characters or '-', and must start and end with an alphanumeric character "
                        "(e.g. 'my-name',  or '123-abc', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')");
    assert_string_equal(mcp_check_dns1123_subdomain("A"),
                        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                        "characters, '-' or '.', and must start and end with an alphanumeric "
                        "character (e.g. 'example.com', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    assert_string_equal(mcp_check_dns1035_label("1"),
                        "a DNS-1035 label must consist of lower case alphanumeric characters or "
                        "'-', start with an alphabetic character, and end with an alphanumeric "
                        "character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
                        "'[a-z]([-a-z0-9]*[a-z0-9])?')");
    assert_string_equal(mcp_check_label_key("-"),
                        "name part must consist of alphanumeric characters, '-', '_' or '.', and "
                        "must start and end with an alphanumeric character (e.g. 'MyName',  or "
                        "'my.name',  or '123-abc', regex used for validation is "
                        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')");
    assert_string_equal(mcp_check_label_key("a/b/c"),
                        "a qualified name must consist of alphanumeric characters, '-', '_' or "
                        "'.', and must start and end with an alphanumeric character (e.g. "
                        "'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                        "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
                        "subdomain prefix and '/' (e.g. 'example.com/MyName')");
    assert_string_equal(mcp_check_label_key("A/b"),
                        "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
                        "alphanumeric characters, '-' or '.', and must start and end with an "
                        "alphanumeric character (e.g. 'example.com', regex used for validation is "
                        "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')");
    assert_string_equal(mcp_check_label_value("-"),
                        "a valid label must be an empty string or consist of alphanumeric "
                        "characters, '-', '_' or '.', and must start and end with an alphanumeric "
                        "character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
                        "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')");
    assert_string_equal(mcp_check_env_name("1"),
                        "a valid environment variable name must consist of alphabetic characters, "
                        "digits, '_', '-', or '.', and must not start with a digit (e.g. "
                        "'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for "
                        "validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')");
    assert_string_equal(mcp_check_secret_key("a/b"),
                        "a valid config key must consist of alphanumeric characters, '-', '_' or "
                        "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
                        "validation is '[-._a-zA-Z0-9]+')");
    assert_string_equal(mcp_check_dns1123_label(A64), "must be no more than 63 characters");
    assert_string_equal(mcp_check_dns1123_subdomain(SUB254), "must be no more than 253 characters");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns1123_label),  cmocka_unit_test(test_dns1123_subdomain),
        cmocka_unit_test(test_dns1035_label),  cmocka_unit_test(test_label_key),
        cmocka_unit_test(test_annotation_key), cmocka_unit_test(test_label_value),
        cmocka_unit_test(test_env_name),       cmocka_unit_test(test_secret_key),
        cmocka_unit_test(test_image_ref),      cmocka_unit_test(test_abs_path),
        cmocka_unit_test(test_exact_wording),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
