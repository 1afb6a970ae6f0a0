/* What the proxy/auth suites share: a fixture case's `want` file and the
 * check that a refusal's reason is fit for a WWW-Authenticate header. Only
 * static functions: each suite includes it once. */
#ifndef TEST_PROXY_AUTH_CASES_H
#define TEST_PROXY_AUTH_CASES_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "../../proxy/auth/auth.h"

#define AUTH_FIXTURES "test/fixtures/proxy/auth"

typedef struct want {
    char code[32];  /* px_auth_err_name's spelling */
    char words[96]; /* what the reason must contain ("" for anything) */
    long count;     /* "ok <n>": a number after ok, or -1 */
} want_t;

/* Print "<dir>: <what>" and return 1 (a failed check of a case). */
__attribute__((format(printf, 2, 3))) static int case_failed(const char *dir, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s: ", dir);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return 1;
}

/* <dir>/want: "<code>[ <words>]". 0, or -1 when missing. */
static int want_read(const char *dir, want_t *w)
{
    char path[512], *text, *sp;

    tu_pathf(path, sizeof(path), "%s/want", dir);
    if (!(text = tu_read_file(path, NULL)))
        return -1;
    text[strcspn(text, "\n")] = '\0';
    sp = strchr(text, ' ');
    snprintf(w->words, sizeof(w->words), "%s", sp ? sp + 1 : "");
    if (sp)
        *sp = '\0';
    snprintf(w->code, sizeof(w->code), "%s", text);
    w->count = strcmp(w->code, "ok") == 0 && w->words[0] ? strtol(w->words, NULL, 10) : -1;
    free(text);
    return 0;
}

/* A reason fit for error_description="..." (RFC 6750 §3): printable ASCII,
 * no quote or backslash, short, and nothing of the input in it (no 10-byte
 * run of it appears in input). NULL when fine, else what is wrong. */
static const char *reason_bad(const char *why, const char *input, size_t len)
{
    size_t n = why ? strlen(why) : 0;

    if (!why || n == 0 || n > 80)
        return "reason missing or long";
    for (size_t i = 0; i < n; i++)
        if (why[i] < 0x20 || why[i] > 0x7e || why[i] == '"' || why[i] == '\\')
            return "reason has a character a quoted-string cannot carry";
    for (size_t i = 0; input && i + 10 <= n; i++)
        if (memmem(input, len, why + i, 10))
            return "reason echoes the input";
    return NULL;
}

/* Does rc/why match w? Prints the case and returns 1 when not. */
static int want_check(const char *dir, const want_t *w, int rc, const char *why, const char *input,
                      size_t len)
{
    const char *bad = rc ? reason_bad(why, input, len) : NULL;

    if (strcmp(px_auth_err_name(rc), w->code) != 0 ||
        (rc && w->words[0] && !strstr(why ? why : "", w->words)) || bad) {
        fprintf(stderr, "%s: want %s%s%s, got %s (%s)%s%s\n", dir, w->code, w->words[0] ? " " : "",
                w->words, px_auth_err_name(rc), rc && why ? why : "-", bad ? ": " : "",
                bad ? bad : "");
        return 1;
    }
    return 0;
}

#endif
