/* Where jansson 2.14's json_loadb accepts more than RFC 8259, as the
 * differential oracle must know it (bench/webhook/fuzz_admission.c and
 * test/webhook/test_json.c share this model).
 *
 * jansson reads its input through a small NUL-terminated stream buffer and
 * treats a NUL in that buffer as "refill". After a number or a literal
 * (true, false, null) its lexer ungets the byte that ended the token; when
 * that byte is a raw NUL, the next read sees the buffer's terminator and
 * refills past it, so one NUL directly after such a token is skipped:
 * `[5\0,2]` and `[true\0]` parse as `[5,2]` and `[true]`. Nowhere else does
 * a raw NUL pass (inside strings, after punctuation, or a second NUL in a
 * row, it is an error), and wh_json_parse rightly rejects it everywhere.
 *
 * jansson_lenient_strip copies `in` to `out` without those skipped NULs: a
 * NUL outside a string whose previous byte is an ASCII letter or digit.
 * Returns the copied length (at most n); `out` holds n bytes. */
#ifndef MCP_BENCH_JANSSON_LENIENT_H
#define MCP_BENCH_JANSSON_LENIENT_H

#include <stddef.h>

static inline size_t jansson_lenient_strip(const char *in, size_t n, char *out)
{
    size_t o = 0;
    int in_string = 0, escaped = 0;

    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i], prev = i ? (unsigned char)in[i - 1] : 0;

        if (in_string) {
            if (escaped)
                escaped = 0;
            else if (c == '\\')
                escaped = 1;
            else if (c == '"')
                in_string = 0;
        } else if (c == '"') {
            in_string = 1;
        } else if (c == 0 && ((prev >= '0' && prev <= '9') || (prev >= 'a' && prev <= 'z') ||
                              (prev >= 'A' && prev <= 'Z'))) {
            continue;
        }
        out[o++] = (char)c;
    }
    return o;
}

#endif
