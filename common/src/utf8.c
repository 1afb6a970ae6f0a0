/* UTF-8 sequence checks and character-safe cuts (see mcp/utf8.h). */
#include "mcp/utf8.h"

static int cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

size_t mcp_utf8_char(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len;
    unsigned long cp;

    if (p[0] < 0x80)
        return 1;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2, cp = p[0] & 0x1F;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF)
        len = 3, cp = p[0] & 0x0F;
    else if (p[0] >= 0xF0 && p[0] <= 0xF4)
        len = 4, cp = p[0] & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if (!cont(p[i]))
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

size_t mcp_utf8_prefix(const char *s, size_t n, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = max;

    if (n <= max)
        return n;
    /* s[max] is the first byte left out: back up to the start of the
     * character it continues (at most 3 bytes in valid text) */
    while (i > 0 && max - i < 3 && cont(p[i]))
        i--;
    return cont(p[i]) ? max : i;
}
