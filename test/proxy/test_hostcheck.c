/* Host and Origin against the allow-list (hostcheck.c, DNS rebinding): a
 * table of Host and Origin values with the answer each must get under one
 * configuration (--allow-host names as the controller passes them, an
 * Ingress host from MCP_PROXY_ALLOWED_HOSTS, an --allow-origin value), then
 * how names are taken into the list (ports and trailing dots dropped, case
 * folded, bad names refused with a reason). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/log.h"
#include "../../proxy/front/hostcheck.h"

static void config(px_config_t *cfg)
{
    char bad[256] = "";

    px_config_defaults(cfg);
    /* what the controller passes for MCPServer "time" in namespace "team-a" */
    assert_null(px_allow_host_add(cfg, "mcp-time-proxy"));
    assert_null(px_allow_host_add(cfg, "mcp-time-proxy.team-a"));
    assert_null(px_allow_host_add(cfg, "mcp-time-proxy.team-a.svc"));
    assert_null(px_allow_host_add(cfg, "mcp-time-proxy.team-a.svc.cluster.local"));
    /* MCP_PROXY_ALLOWED_HOSTS from resourceOverrides.proxyDeployment.env */
    assert_null(
        px_allow_hosts_add_list(cfg, " MCP.Example.COM:443 ,, tools.internal. ", bad, sizeof(bad)));
    cfg->origins = malloc(sizeof(*cfg->origins));
    assert_non_null(cfg->origins);
    cfg->origins[0] = "chrome-extension://abcdef";
    cfg->n_origins = 1;
}

typedef struct {
    const char *value;
    int allowed;
} hcase_t;

static const hcase_t hosts[] = {
    /* loopback names, any port (kubectl port-forward) */
    {"localhost", 1},
    {"localhost:8080", 1},
    {"LOCALHOST:1", 1},
    {"localhost.:9090", 1},
    {"127.0.0.1:34567", 1},
    {"[::1]:8080", 1},
    {"[::1]", 1},
    /* IP literals: the ClusterIP, the pod IP of probes and port-forward */
    {"10.96.0.15:8080", 1},
    {"10.244.1.7", 1},
    {"[fd00:10:96::a]:8080", 1},
    {"[FD00::1]", 1},
    /* the Service's names and the listed ones, case, port and trailing dot aside */
    {"mcp-time-proxy:8080", 1},
    {"mcp-time-proxy.team-a", 1},
    {"mcp-time-proxy.team-a.svc:8080", 1},
    {"MCP-TIME-PROXY.Team-A.SVC.cluster.local.:8080", 1},
    {"mcp.example.com", 1},
    {"mcp.example.com:8443", 1},
    {"tools.internal", 1},
    {"tools.internal.", 1},
    /* a rebinding page's Host: the attacker's name, whatever it resolves to */
    {"evil.example", 0},
    {"evil.example:8080", 0},
    {"mcp-time-proxy.evil.example", 0},
    {"mcp.example.com.evil.example", 0},
    {"localhost.evil.example", 0},
    {"127.0.0.1.nip.io:8080", 0},
    {"example.com", 0},
    {"mcp-time-proxy.team-b", 0},
    /* not an authority, or not a literal the resolver would leave alone */
    {"", 0},
    {":8080", 0},
    {"localhost:80x", 0},
    {"localhost:8080:1", 0},
    {"::1", 0},
    {"[::1", 0},
    {"[evil.example]:80", 0},
    {"[]:80", 0},
    {"mcp-time-proxy/x", 0},
    {"user@localhost", 0},
    {"mcp-time-proxy\tx", 0},
    {"2130706433", 0}, /* 127.0.0.1 as one number: a name to inet_pton, and not listed */
    {".", 0},
};

static const hcase_t origins[] = {
    {"http://localhost:3000", 1},
    {"http://localhost", 1},
    {"https://127.0.0.1:8443", 1},
    {"http://[::1]:5173", 1},
    {"HTTP://LOCALHOST:3000", 1},
    {"http://localhost.:3000", 1},
    {"https://mcp-time-proxy.team-a.svc.cluster.local", 1},
    {"https://MCP.example.com", 1},
    {"https://mcp.example.com.:443", 1},
    {"http://tools.internal:8080", 1},
    {"chrome-extension://abcdef", 1}, /* --allow-origin, exactly */
    /* a rebinding page: its Origin is its Host, the attacker's name */
    {"http://evil.example:8080", 0},
    {"https://evil.example", 0},
    {"http://mcp-time-proxy.evil.example", 0},
    /* an IP is no name the proxy is served under */
    {"http://10.96.0.15:8080", 0},
    {"http://192.168.1.10", 0},
    {"http://[fd00::1]:8080", 0},
    /* opaque and malformed origins */
    {"null", 0},
    {"", 0},
    {"localhost:3000", 0},
    {"file://", 0},
    {"ftp://localhost", 0},
    {"chrome-extension://abcdefg", 0},
    {"CHROME-EXTENSION://ABCDEF", 0},
    {"http://", 0},
    {"http://localhost:3000/", 0},
    {"http://user@localhost:3000", 0},
    {"http://localhost:3000.evil.example", 0},
};

static void check_table(const px_config_t *cfg, const hcase_t *t, size_t n, int origin)
{
    int failed = 0;

    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(t[i].value);
        int got = origin ? px_origin_allowed(cfg, t[i].value, len)
                         : px_host_allowed(cfg, t[i].value, len);

        if (got != t[i].allowed) {
            print_error("%s '%s': %s, want %s\n", origin ? "Origin" : "Host", t[i].value,
                        got ? "allowed" : "refused", t[i].allowed ? "allowed" : "refused");
            failed = 1;
        }
    }
    assert_false(failed);
}

static void test_hosts(void **state)
{
    px_config_t cfg;

    (void)state;
    config(&cfg);
    check_table(&cfg, hosts, sizeof(hosts) / sizeof(hosts[0]), 0);
    assert_false(px_host_allowed(&cfg, NULL, 0));
    /* the value is not NUL-terminated: only len bytes count */
    assert_true(px_host_allowed(&cfg, "localhost:80XYZ", 12));
    assert_false(px_host_allowed(&cfg, "localhost:80XYZ", 13));
    px_config_dispose(&cfg);
}

static void test_origins(void **state)
{
    px_config_t cfg;

    (void)state;
    config(&cfg);
    check_table(&cfg, origins, sizeof(origins) / sizeof(origins[0]), 1);
    px_config_dispose(&cfg);
}

/* The old rule accepted an Origin equal to Host: a rebinding page sends exactly that. */
static void test_rebinding_origin_equals_host(void **state)
{
    px_config_t cfg;

    (void)state;
    config(&cfg);
    assert_false(px_host_allowed(&cfg, "evil.example:8080", 17));
    assert_false(px_origin_allowed(&cfg, "http://evil.example:8080", 24));
    px_config_dispose(&cfg);
}

/* Without any listed name only loopback and IP literals pass Host. */
static void test_defaults(void **state)
{
    px_config_t cfg;

    (void)state;
    px_config_defaults(&cfg);
    assert_true(px_host_allowed(&cfg, "localhost:8080", 14));
    assert_true(px_host_allowed(&cfg, "10.0.0.1:8080", 13));
    assert_false(px_host_allowed(&cfg, "mcp-time-proxy:8080", 19));
    assert_true(px_origin_allowed(&cfg, "http://127.0.0.1:1", 18));
    assert_false(px_origin_allowed(&cfg, "http://10.0.0.1:8080", 20));
    px_config_dispose(&cfg);
}

static void test_names_taken(void **state)
{
    px_config_t cfg;
    char bad[256] = "";
    const char *why;

    (void)state;
    px_config_defaults(&cfg);
    assert_null(px_allow_host_add(&cfg, "Ingress.Example.COM.:443"));
    assert_null(px_allow_host_add(&cfg, "[FD00::A]:8080"));
    assert_null(px_allow_host_add(&cfg, "10.1.2.3"));
    assert_int_equal(cfg.n_hosts, 3);
    assert_string_equal(cfg.hosts[0], "ingress.example.com");
    assert_string_equal(cfg.hosts[1], "[fd00::a]");
    assert_string_equal(cfg.hosts[2], "10.1.2.3");
    /* a listed IP is a name the proxy is served under: its Origin passes */
    assert_true(px_origin_allowed(&cfg, "http://10.1.2.3:8080", 20));
    assert_true(px_origin_allowed(&cfg, "https://ingress.example.com", 27));

    for (const char *const *b = (const char *const[]){"", "http://x.example", "x.example/mcp",
                                                      "a b", "x:y", "[nope]", "*", NULL};
         *b; b++) {
        why = px_allow_host_add(&cfg, *b);
        if (!why)
            fail_msg("'%s' was taken", *b);
        assert_non_null(strstr(why, "host name"));
    }
    assert_int_equal(cfg.n_hosts, 3);
    why = px_allow_hosts_add_list(&cfg, "ok.example, bad/name ,later.example", bad, sizeof(bad));
    assert_non_null(why);
    assert_string_equal(bad, "bad/name");
    assert_true(px_host_allowed(&cfg, "ok.example", 10));
    assert_false(px_host_allowed(&cfg, "later.example", 13));
    px_config_dispose(&cfg);
    assert_null(cfg.hosts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts),
        cmocka_unit_test(test_origins),
        cmocka_unit_test(test_rebinding_origin_equals_host),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_names_taken),
    };

    mcp_log_set_level(MCP_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
