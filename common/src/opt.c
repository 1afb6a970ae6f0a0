/* Command-line values and usage errors (mcp/opt.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "mcp/opt.h"

int mcp_opt_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int mcp_opt_int(const char *s, int lo, int hi, int *out)
{
    long v;

    if (mcp_opt_long(s, lo, hi, &v) != 0)
        return -1;
    *out = (int)v;
    return 0;
}

int mcp_opt_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || isnan(v) || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int mcp_opt_usage_error(const char *prog, const char *fmt, const char *arg)
{
    fprintf(stderr, "%s: ", prog);
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry '%s --help' for more information.\n", prog);
    return 2;
}

int mcp_opt_bad_value(const char *prog, const struct option *options, int val, const char *arg)
{
    const char *name = "?";

    for (const struct option *o = options; o->name; o++)
        if (o->val == val) {
            name = o->name;
            break;
        }
    fprintf(stderr, "%s: invalid value '%s' for --%s\n", prog, arg ? arg : "", name);
    fprintf(stderr, "Try '%s --help' for more information.\n", prog);
    return 2;
}
