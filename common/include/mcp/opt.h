/* Command-line values for the daemons' main.c (GNU getopt_long style, as
 * coreutils print them): numbers checked whole and in range, and the two
 * usage errors every daemon prints the same way. */
#ifndef MCP_OPT_H
#define MCP_OPT_H

#include <getopt.h>

/* A decimal integer in [lo, hi]: the whole string, no sign tricks past
 * strtol's, no overflow. 0 with *out set, or -1 with *out untouched. */
int mcp_opt_long(const char *s, long lo, long hi, long *out);

/* mcp_opt_long into an int; lo and hi must lie in int's range. */
int mcp_opt_int(const char *s, int lo, int hi, int *out);

/* A decimal number (strtod syntax, e.g. "1.5") in [lo, hi]; NaN and
 * overflow are refused. 0 with *out set, or -1 with *out untouched. */
int mcp_opt_double(const char *s, double lo, double hi, double *out);

/* Print "PROG: <fmt with arg>" and "Try 'PROG --help' for more
 * information." to stderr; returns 2, the exit status of a usage error. */
int mcp_opt_usage_error(const char *prog, const char *fmt, const char *arg);

/* The usage error for a bad value of option `val` (looked up by its getopt
 * value in the NULL-terminated `options`): "invalid value 'ARG' for
 * --NAME". Returns 2. */
int mcp_opt_bad_value(const char *prog, const struct option *options, int val, const char *arg);

#endif
