/* The egress proxy's rules (proxy/egress/rules.c) and its client check
 * (px_egress_client_allowed), table-driven: every case is a line of
 * test/fixtures/proxy/egress/cases.txt (its head lists the verbs), so a new
 * case needs no new C. Each failing line is printed with its number; the
 * test fails when any does, or when the table is missing or too short. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "../../proxy/egress/egress.h"
#include "mcp/egress_rules.h"

#define CASES     "test/fixtures/proxy/egress/cases.txt"
#define MIN_CASES 150 /* the table as written: a truncated file fails */

typedef struct table {
    mcp_eg_rules_t rules;
    int have_rules, lineno, cases, failed;
} table_t;

static void fail_line(table_t *t, const char *line, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "%s:%d: %s\n    ", CASES, t->lineno, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    t->failed++;
}

/* Next whitespace-separated word of *p, with \xHH escapes decoded (in place). */
static char *word(char **p)
{
    char *w = *p + strspn(*p, " \t"), *end, *o;

    if (!*w)
        return NULL;
    end = w + strcspn(w, " \t");
    *p = *end ? end + 1 : end;
    *end = '\0';
    for (char *i = o = w; *i; i++) {
        unsigned v;

        if (i[0] == '\\' && i[1] == 'x' && sscanf(i + 2, "%2x", &v) == 1) {
            *o++ = (char)v;
            i += 3;
        } else
            *o++ = *i;
    }
    *o = '\0';
    return w;
}

static const char *match_name(mcp_eg_match_t m)
{
    static const char *const names[] = {"host", "port", "exact", "suffix", "all", "any"};

    return names[m];
}

static const char *class_name(mcp_eg_addr_class_t c)
{
    static const char *const names[] = {"public",      "private",   "loopback", "linklocal",
                                        "unspecified", "multicast", "broadcast"};

    return names[c];
}

static int to_sockaddr(const char *ip, struct sockaddr_storage *ss)
{
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof(*ss));
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return 0;
    }
    v6->sin6_family = AF_INET6;
    return inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1 ? 0 : -1;
}

static void do_canon(table_t *t, const char *line, char *rest)
{
    char *in = word(&rest), *want = word(&rest), out[MCP_EG_HOST_BUF], got[MCP_EG_HOST_BUF + 8];
    int is_ip;
    const char *why = mcp_eg_host_canon(in, strlen(in), out, sizeof(out), &is_ip);

    snprintf(got, sizeof(got), "%s%s", why ? "bad" : is_ip ? "ip:" : "name:", why ? "" : out);
    if (strcmp(got, want) != 0)
        fail_line(t, line, "got %s (%s), want %s", got, why ? why : "-", want);
}

static void do_profile(table_t *t, const char *line, char *json, const char *want_reason)
{
    mcp_eg_rules_t r;
    char err[300] = "";
    int rc = mcp_eg_rules_parse(json, strlen(json), &r, err, sizeof(err));

    if (want_reason) {
        if (rc == 0 || !strstr(err, want_reason))
            fail_line(t, line, "rc %d, reason \"%s\", want a failure naming \"%s\"", rc, err,
                      want_reason);
        if (rc == 0)
            mcp_eg_rules_dispose(&r);
        return;
    }
    if (rc != 0) {
        fail_line(t, line, "does not parse: %s", err);
        return;
    }
    if (t->have_rules)
        mcp_eg_rules_dispose(&t->rules);
    t->rules = r;
    t->have_rules = 1;
}

/* "bad" when the host has no canonical form, else the match's name. */
static const char *run_match(table_t *t, const char *host, int port, mcp_eg_match_t *m, int *is_ip)
{
    char canon[MCP_EG_HOST_BUF], why[400];

    if (mcp_eg_host_canon(host, strlen(host), canon, sizeof(canon), is_ip))
        return "bad";
    *m = mcp_eg_rules_match(&t->rules, canon, *is_ip, port, why, sizeof(why));
    if (*m < MCP_EG_ALLOW_EXACT &&
        (!strstr(why, "network.outbound.allow_") || !strstr(why, " not ")))
        return "no reason";
    return match_name(*m);
}

static void do_match(table_t *t, const char *line, char *rest)
{
    char *host = word(&rest), *port = word(&rest), *want = word(&rest);
    mcp_eg_match_t m;
    int is_ip;
    const char *got = run_match(t, host, atoi(port), &m, &is_ip);

    if (strcmp(got, want) != 0)
        fail_line(t, line, "got %s, want %s", got, want);
}

static void do_decide(table_t *t, const char *line, char *rest)
{
    char *host = word(&rest), *port = word(&rest), *ip = word(&rest), *want = word(&rest);
    struct sockaddr_storage ss;
    mcp_eg_match_t m = MCP_EG_DENY_HOST;
    int is_ip = 0, ok;

    run_match(t, host, atoi(port), &m, &is_ip);
    if (to_sockaddr(ip, &ss) != 0) {
        fail_line(t, line, "bad address in the table");
        return;
    }
    ok = mcp_eg_addr_allowed(mcp_eg_addr_classify((struct sockaddr *)&ss), m, is_ip);
    if (strcmp(ok ? "allow" : "refuse", want) != 0)
        fail_line(t, line, "got %s (match %s), want %s", ok ? "allow" : "refuse", match_name(m),
                  want);
}

static void do_addr(table_t *t, const char *line, char *rest)
{
    char *ip = word(&rest), *want = word(&rest);
    struct sockaddr_storage ss;
    const char *got;

    if (to_sockaddr(ip, &ss) != 0) {
        fail_line(t, line, "bad address in the table");
        return;
    }
    got = class_name(mcp_eg_addr_classify((struct sockaddr *)&ss));
    if (strcmp(got, want) != 0)
        fail_line(t, line, "got %s, want %s", got, want);
}

typedef struct pods {
    char list[256];
} pods_t;

static size_t fake_pod_ips(void *ctx, char (*ips)[PX_IP_TEXT], size_t max)
{
    pods_t *p = ctx;
    char copy[256], *save = NULL;
    size_t n = 0;

    snprintf(copy, sizeof(copy), "%s", p->list);
    for (char *ip = strtok_r(copy, ",", &save); ip && n < max; ip = strtok_r(NULL, ",", &save))
        snprintf(ips[n++], PX_IP_TEXT, "%s", ip);
    return n;
}

static void do_client(table_t *t, const char *line, char *rest)
{
    char *addr = word(&rest), *lo = word(&rest), *podips = word(&rest), *want = word(&rest);
    pods_t pods;
    px_egress_clients_t c = {.loopback = atoi(lo), .pod_ips = fake_pod_ips, .ctx = &pods};
    struct sockaddr_storage ss;
    int ok;

    snprintf(pods.list, sizeof(pods.list), "%s", strcmp(podips, "-") == 0 ? "" : podips);
    if (to_sockaddr(addr, &ss) != 0) {
        fail_line(t, line, "bad address in the table");
        return;
    }
    ok = px_egress_client_allowed(&c, (struct sockaddr *)&ss);
    if (strcmp(ok ? "allow" : "refuse", want) != 0)
        fail_line(t, line, "got %s, want %s", ok ? "allow" : "refuse", want);
}

static void run_line(table_t *t, char *line)
{
    char copy[4096], *rest = line, *verb;

    snprintf(copy, sizeof(copy), "%s", line);
    verb = word(&rest);
    if (!verb || verb[0] == '#')
        return;
    t->cases++;
    if (strcmp(verb, "profile") == 0)
        do_profile(t, copy, rest, NULL);
    else if (strcmp(verb, "badprofile") == 0) {
        char *reason = word(&rest);

        do_profile(t, copy, rest, reason);
    } else if (strcmp(verb, "canon") == 0)
        do_canon(t, copy, rest);
    else if (!t->have_rules && (strcmp(verb, "match") == 0 || strcmp(verb, "decide") == 0))
        fail_line(t, copy, "no profile line before this case");
    else if (strcmp(verb, "match") == 0)
        do_match(t, copy, rest);
    else if (strcmp(verb, "decide") == 0)
        do_decide(t, copy, rest);
    else if (strcmp(verb, "addr") == 0)
        do_addr(t, copy, rest);
    else if (strcmp(verb, "client") == 0)
        do_client(t, copy, rest);
    else
        fail_line(t, copy, "unknown verb");
}

static void test_table(void **state)
{
    FILE *f = fopen(CASES, "r");
    table_t t = {0};
    char line[4096];

    (void)state;
    assert_non_null(f);
    while (fgets(line, sizeof(line), f)) {
        t.lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        run_line(&t, line);
    }
    fclose(f);
    if (t.have_rules)
        mcp_eg_rules_dispose(&t.rules);
    fprintf(stderr, "%s: %d cases, %d failed\n", CASES, t.cases, t.failed);
    assert_int_equal(t.failed, 0);
    assert_true(t.cases >= MIN_CASES);
}

/* The rules keep their entries' kinds and ports, and the reasons name the rule. */
static void test_reasons(void **state)
{
    static const char json[] = "{\"network\":{\"outbound\":{\"allow_host\":[\".a.example\",\"*.b."
                               "example\",\"c.example\"]}}}";
    mcp_eg_rules_t r;
    char err[200], why[400];

    (void)state;
    assert_int_equal(mcp_eg_rules_parse(json, sizeof(json) - 1, &r, err, sizeof(err)), 0);
    assert_int_equal(r.n_hosts, 3);
    assert_int_equal(r.hosts[0].kind, MCP_EG_DOMAIN);
    assert_int_equal(r.hosts[1].kind, MCP_EG_SUBS);
    assert_int_equal(r.hosts[2].kind, MCP_EG_EXACT);
    assert_int_equal(mcp_eg_rules_match(&r, "x.example", 0, 443, why, sizeof(why)),
                     MCP_EG_DENY_HOST);
    assert_string_equal(why, "host \"x.example\" is not in the permission profile's "
                             "network.outbound.allow_host");
    assert_int_equal(mcp_eg_rules_match(&r, "c.example", 0, 22, why, sizeof(why)),
                     MCP_EG_DENY_PORT);
    assert_string_equal(why, "port 22 is not in network.outbound.allow_port (empty: 443 and 80)");
    mcp_eg_rules_dispose(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_reasons),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
