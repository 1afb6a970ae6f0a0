/* Kubernetes resource quantities (see mcp/validate.h), parsed exactly.
 *
 *   quantity ::= [+-] digits [ '.' digits ] suffix      (at least one digit)
 *   suffix   ::= Ki | Mi | Gi | Ti | Pi | Ei            (binary SI)
 *              | n | u | m | "" | k | M | G | T | P | E (decimal SI)
 *              | (e | E) [+-] digits                    (decimal exponent)
 *
 * The value is D * 10^E * 2^B in nano-units, where D is the digit string
 * read as an integer, E = exponent + 9 - (number of fraction digits) and B is
 * 10 * the binary power. When E < 0 the division rounds the magnitude up,
 * as the apiserver does (inf.RoundUp), so any non-zero amount stays
 * non-zero. Everything is done in unsigned 128-bit integers; the digits of
 * the fractional part are folded in from the right with a carry that stays
 * below 2^B, so inputs of any length are exact and nothing is allocated. */
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "mcp/validate.h"

typedef unsigned __int128 u128;

#define FORMAT_MSG                                                                                 \
    "must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
#define TOO_LARGE_MSG "quantity is too large"
/* Exponents beyond this cannot give a representable non-zero value. */
#define EXP_CLAMP 100000

/* The number, split up by parse_number(). */
typedef struct qparts {
    bool neg;
    const char *ip, *fp; /* integer and fraction digits */
    size_t ilen, flen;
    long exp10; /* from the suffix */
    int exp2;   /* from the suffix */
} qparts_t;

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* 10^18 * 10^19 = 10^37 nano-units: far beyond the apiserver's int64 range. */
static u128 limit(void)
{
    return (u128)1000000000000000000ull * 10000000000000000000ull;
}

static bool parse_suffix(const char *s, qparts_t *q)
{
    static const struct {
        const char *name;
        long exp10;
        int exp2;
    } units[] = {
        {"", 0, 0},    {"n", -9, 0},  {"u", -6, 0},  {"m", -3, 0},  {"k", 3, 0},   {"M", 6, 0},
        {"G", 9, 0},   {"T", 12, 0},  {"P", 15, 0},  {"E", 18, 0},  {"Ki", 0, 10}, {"Mi", 0, 20},
        {"Gi", 0, 30}, {"Ti", 0, 40}, {"Pi", 0, 50}, {"Ei", 0, 60},
    };
    bool neg = false;
    long e = 0;

    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (strcmp(s, units[i].name) == 0) {
            q->exp10 = units[i].exp10;
            q->exp2 = units[i].exp2;
            return true;
        }
    }
    if (*s != 'e' && *s != 'E')
        return false;
    s++;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    if (!is_digit(*s))
        return false;
    for (; is_digit(*s); s++)
        if (e < EXP_CLAMP)
            e = e * 10 + (*s - '0');
    if (*s)
        return false;
    q->exp10 = neg ? -e : e;
    q->exp2 = 0;
    return true;
}

static bool parse_number(const char *s, qparts_t *q)
{
    memset(q, 0, sizeof(*q));
    if (*s == '+' || *s == '-')
        q->neg = *s++ == '-';
    q->ip = s;
    while (is_digit(*s))
        s++;
    q->ilen = (size_t)(s - q->ip);
    if (*s == '.')
        s++;
    q->fp = s;
    while (is_digit(*s))
        s++;
    q->flen = (size_t)(s - q->fp);
    return q->ilen + q->flen > 0 && parse_suffix(s, q);
}

/* The i-th digit of D (integer digits, then fraction digits). */
static unsigned digit_at(const qparts_t *q, size_t i)
{
    return (unsigned)((i < q->ilen ? q->ip[i] : q->fp[i - q->ilen]) - '0');
}

/* acc = acc * 10 + d, failing once the value passes the limit. */
static bool push_digit(u128 *acc, unsigned d)
{
    *acc = *acc * 10 + d;
    return *acc <= limit();
}

static bool mul_checked(u128 *acc, u128 m)
{
    if (*acc != 0 && *acc > limit() / m)
        return false;
    *acc *= m;
    return true;
}

/* D * 10^e * 2^b for e >= 0. */
static bool scale_up(const qparts_t *q, size_t n, long long e, int b, u128 *out)
{
    u128 acc = 0;

    for (size_t i = 0; i < n; i++)
        if (!push_digit(&acc, digit_at(q, i)))
            return false;
    if (acc == 0)
        goto out;
    for (long long i = 0; i < e; i++)
        if (!mul_checked(&acc, 10))
            return false;
    if (!mul_checked(&acc, (u128)1 << b))
        return false;
out:
    *out = acc;
    return true;
}

/* ceil(D * 2^b / 10^k) for k > 0. The k lowest decimal places of D (padded
 * with leading zeros when D is shorter) are multiplied by 2^b from the right;
 * what carries out is the fraction's integer contribution. */
static bool scale_down(const qparts_t *q, size_t n, unsigned long long k, int b, u128 *out)
{
    u128 m = (u128)1 << b, carry = 0, acc = 0;
    size_t ilen = n > k ? n - k : 0; /* digits left of the nano point */
    bool sticky = false;

    for (unsigned long long j = 0; j < k; j++) {
        unsigned d = j < n - ilen ? digit_at(q, n - 1 - j) : 0;
        u128 t;

        if (j >= n - ilen && carry == 0)
            break; /* only zeros left, nothing more to carry */
        t = d * m + carry;
        sticky = sticky || t % 10 != 0;
        carry = t / 10;
    }
    for (size_t i = 0; i < ilen; i++)
        if (!push_digit(&acc, digit_at(q, i)))
            return false;
    if (!mul_checked(&acc, m))
        return false;
    acc += carry + (sticky ? 1 : 0);
    if (acc > limit())
        return false;
    *out = acc;
    return true;
}

const char *mcp_quantity_parse(const char *s, mcp_quantity_t *q)
{
    qparts_t p;
    size_t n;
    long long e;
    u128 mag;
    bool ok;

    if (!s || !parse_number(s, &p))
        return FORMAT_MSG;
    n = p.ilen + p.flen;
    e = p.exp10 + 9 - (long long)p.flen;
    if (e >= 0)
        ok = scale_up(&p, n, e, p.exp2, &mag);
    else
        ok = scale_down(&p, n, (unsigned long long)-e, p.exp2, &mag);
    if (!ok)
        return TOO_LARGE_MSG;
    if (q)
        q->nanos = p.neg ? -(__int128)mag : (__int128)mag;
    return NULL;
}

int mcp_quantity_cmp(const mcp_quantity_t *a, const mcp_quantity_t *b)
{
    return (a->nanos > b->nanos) - (a->nanos < b->nanos);
}

/* ---- canonical form ------------------------------------------------------------
 * What the apiserver stores for a quantity (resource.Quantity's
 * CanonicalizeBytes): decimal forms as an integer mantissa with the largest
 * exponent that is a multiple of 3 (suffix n u m "" k M G T P E, or e<N> when
 * written with an exponent); binary forms as the largest binary suffix that
 * keeps the mantissa an integer, or as decimal when the value is below 1024
 * or not a whole number. */

enum qformat { Q_DECIMAL_SI, Q_BINARY_SI, Q_DECIMAL_EXP };

static enum qformat format_of(const char *s)
{
    while (*s == '+' || *s == '-' || *s == '.' || is_digit(*s))
        s++;
    if (*s && s[strlen(s) - 1] == 'i')
        return Q_BINARY_SI;
    if ((*s == 'e' || *s == 'E') &&
        (is_digit(s[1]) || ((s[1] == '+' || s[1] == '-') && is_digit(s[2]))))
        return Q_DECIMAL_EXP;
    return Q_DECIMAL_SI;
}

/* Decimal digits of v (> 0) into buf, returning its start. */
static char *u128_text(u128 v, char *end)
{
    *--end = '\0';
    do {
        *--end = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v);
    return end;
}

const char *mcp_quantity_canonical(const char *s, char *out, size_t len)
{
    static const char *const si[] = {"n", "u", "m", "", "k", "M", "G", "T", "P", "E"};
    static const char *const bin[] = {"", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"};
    enum qformat f = format_of(s ? s : "");
    mcp_quantity_t q;
    char digits[64];
    u128 m;
    int e = -9, k = 0;

    if (!s || mcp_quantity_parse(s, &q) != NULL || len == 0)
        return NULL;
    if (q.nanos == 0) {
        snprintf(out, len, "0");
        return out;
    }
    m = q.nanos < 0 ? (u128)-q.nanos : (u128)q.nanos;
    if (f == Q_BINARY_SI && (m < (u128)1024 * 1000000000u || m % 1000000000u != 0))
        f = Q_DECIMAL_SI;
    if (f == Q_BINARY_SI) {
        for (m /= 1000000000u; m % 1024 == 0 && k < 6; k++)
            m /= 1024;
        snprintf(out, len, "%s%s%s", q.nanos < 0 ? "-" : "", u128_text(m, digits + sizeof(digits)),
                 bin[k]);
        return out;
    }
    for (; m % 10 == 0; e++)
        m /= 10;
    for (; e % 3 != 0; e--) /* down to a multiple of 3 (e > -9 here) */
        m *= 10;
    if (f == Q_DECIMAL_SI && e <= 18)
        snprintf(out, len, "%s%s%s", q.nanos < 0 ? "-" : "", u128_text(m, digits + sizeof(digits)),
                 si[(e + 9) / 3]);
    else if (e == 0)
        snprintf(out, len, "%s%s", q.nanos < 0 ? "-" : "", u128_text(m, digits + sizeof(digits)));
    else
        snprintf(out, len, "%s%se%d", q.nanos < 0 ? "-" : "", u128_text(m, digits + sizeof(digits)),
                 e);
    return out;
}
