/* Command-line values (mcp/opt.h): whole numbers in range only, and the
 * usage errors name the daemon and the option, exit status 2. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "mcp/opt.h"

static void long_whole_and_in_range(void **state)
{
    long v = 7;

    (void)state;
    assert_int_equal(mcp_opt_long("42", 0, 100, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(mcp_opt_long("-1", -1, 1, &v), 0);
    assert_int_equal(v, -1);
    v = 7;
    const char *bad[] = {"",    "x",   "4x", " 4 ", "101", "-2", "99999999999999999999999",
                         "1e3", "0x10"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(mcp_opt_long(bad[i], -1, 100, &v), -1);
        assert_int_equal(v, 7); /* untouched */
    }
}

static void int_bounds(void **state)
{
    int v = 3;

    (void)state;
    assert_int_equal(mcp_opt_int("65535", 0, 65535, &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(mcp_opt_int("65536", 0, 65535, &v), -1);
    assert_int_equal(mcp_opt_int("4294967297", 0, 65535, &v), -1); /* would wrap in an int */
    assert_int_equal(v, 65535);
}

static void double_range_nan_overflow(void **state)
{
    double v = 9;

    (void)state;
    assert_int_equal(mcp_opt_double("1.5", 0, 10, &v), 0);
    assert_true(v == 1.5);
    v = 9;
    const char *bad[] = {"", "nan", "NAN", "inf", "1e400", "-0.1", "10.5", "2s", "."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(mcp_opt_double(bad[i], 0, 10, &v), -1);
        assert_true(v == 9);
    }
}

/* Run f with stderr going to a pipe; return what it wrote. */
static char *stderr_of(int (*f)(void), int *rc)
{
    static char out[1024];
    int saved = dup(2), fds[2];
    ssize_t n;

    fflush(stderr);
    assert_int_equal(pipe(fds), 0);
    dup2(fds[1], 2);
    *rc = f();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    close(fds[1]);
    n = read(fds[0], out, sizeof(out) - 1);
    close(fds[0]);
    out[n > 0 ? n : 0] = '\0';
    return out;
}

static const struct option opts[] = {
    {"port", required_argument, NULL, 300},
    {"workers", required_argument, NULL, 301},
    {NULL, 0, NULL, 0},
};

static int call_bad_value(void)
{
    return mcp_opt_bad_value("mcp-x", opts, 301, "0");
}

static int call_usage_error(void)
{
    return mcp_opt_usage_error("mcp-x", "unrecognized option '%s'", "--nope");
}

static void errors_name_daemon_and_option(void **state)
{
    int rc;

    (void)state;
    assert_string_equal(stderr_of(call_bad_value, &rc),
                        "mcp-x: invalid value '0' for --workers\n"
                        "Try 'mcp-x --help' for more information.\n");
    assert_int_equal(rc, 2);
    assert_string_equal(stderr_of(call_usage_error, &rc),
                        "mcp-x: unrecognized option '--nope'\n"
                        "Try 'mcp-x --help' for more information.\n");
    assert_int_equal(rc, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(long_whole_and_in_range),
        cmocka_unit_test(int_bounds),
        cmocka_unit_test(double_range_nan_overflow),
        cmocka_unit_test(errors_name_daemon_and_option),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
