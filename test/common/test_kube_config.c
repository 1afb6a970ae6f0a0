/* Kubeconfig parsing with libyaml (current context, base64 data fields,
 * file paths relative to the kubeconfig, tokens, errors) and the in-cluster
 * configuration from environment variables and service-account files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/json.h"
#include "mcp/kube.h"

#define DIR "test/fixtures/kubeconfig"

static void test_data_fields(void **state)
{
    mcp_kube_config_t c;
    char err[256] = "";

    (void)state;
    assert_int_equal(mcp_kube_config_load_file(&c, DIR "/data.yaml", err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://127.0.0.1:26443");
    assert_non_null(strstr(c.ca_data, "BEGIN CERTIFICATE"));
    assert_null(c.ca_file);
    assert_string_equal(c.cert_data, "client-cert-pem\n");
    assert_string_equal(c.key_data, "client-key-pem\n");
    assert_string_equal(c.namespace, "team-a");
    assert_null(c.token);
    assert_false(c.insecure);
    mcp_kube_config_dispose(&c);
}

static void test_files_relative(void **state)
{
    mcp_kube_config_t c;
    char err[256] = "";

    (void)state;
    assert_int_equal(mcp_kube_config_load_file(&c, DIR "/files.yaml", err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://[::1]:6443");
    assert_string_equal(c.ca_file, DIR "/pki/ca.crt");
    assert_string_equal(c.cert_file, "/abs/client.crt");
    assert_string_equal(c.key_file, DIR "/pki/client.key");
    assert_string_equal(c.token_file, DIR "/sa/token");
    assert_true(c.insecure);
    assert_null(c.namespace);
    mcp_kube_config_dispose(&c);
}

static void test_token(void **state)
{
    mcp_kube_config_t c;
    char err[256] = "";

    (void)state;
    assert_int_equal(mcp_kube_config_load_file(&c, DIR "/token.yaml", err, sizeof(err)), 0);
    assert_string_equal(c.server, "http://127.0.0.1:8080");
    assert_string_equal(c.token, "abc.def-ghi");
    mcp_kube_config_dispose(&c);
}

static void test_errors(void **state)
{
    mcp_kube_config_t c;
    char err[256] = "";

    (void)state;
    assert_int_equal(mcp_kube_config_load_file(&c, DIR "/no-context.yaml", err, sizeof(err)),
                     MCP_EINVAL);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(mcp_kube_config_load_file(&c, DIR "/broken.yaml", err, sizeof(err)),
                     MCP_EINVAL);
    assert_non_null(strstr(err, "YAML"));
    assert_int_equal(mcp_kube_config_load_file(&c, DIR "/nope.yaml", err, sizeof(err)), MCP_EIO);
    assert_int_equal(mcp_kube_config_load_mem(&c, "- a\n- b\n", 8, err, sizeof(err)), MCP_EINVAL);
    assert_int_equal(mcp_kube_config_load_mem(&c, "", 0, err, sizeof(err)), MCP_EINVAL);
}

/* A kubeconfig whose CA data is `b64`. */
static int load_ca(mcp_kube_config_t *c, const char *b64, char *err, size_t errlen)
{
    char yaml[1024];

    snprintf(yaml, sizeof(yaml),
             "clusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\n"
             "    certificate-authority-data: \"%s\"\n"
             "contexts:\n- name: x\n  context: {cluster: c, user: u}\n"
             "current-context: x\nusers:\n- name: u\n  user: {token: t}\n",
             b64);
    return mcp_kube_config_load_mem(c, yaml, strlen(yaml), err, errlen);
}

/* Padding is counted by the decoder: all-padding input once wrote before
 * the buffer (ASan). */
static void test_base64(void **state)
{
    static const char *const bad[] = {"========", "=",    "====",     "YQ=",  "YQ",
                                      "Y===",     "a!bc", "YWJj====", "=YWJj"};
    static const struct {
        const char *in, *out;
    } good[] = {{"", ""},        {"YQ==", "a"},           {"YWI=", "ab"},
                {"YWJj", "abc"}, {"YWJj\\nZA==", "abcd"}, {"YWJjZA==\\n", "abcd"}};
    mcp_kube_config_t c;
    char err[256] = "";

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(bad); i++) {
        assert_int_equal(load_ca(&c, bad[i], err, sizeof(err)), MCP_EINVAL);
        assert_non_null(strstr(err, "base64"));
    }
    for (size_t i = 0; i < MCP_ARRAY_LEN(good); i++) {
        assert_int_equal(load_ca(&c, good[i].in, err, sizeof(err)), 0);
        assert_string_equal(c.ca_data, good[i].out);
        mcp_kube_config_dispose(&c);
    }
}

static void test_in_cluster(void **state)
{
    mcp_kube_config_t c;
    char err[256] = "";

    (void)state;
    unsetenv("KUBERNETES_SERVICE_HOST");
    assert_int_equal(mcp_kube_config_in_cluster(&c, DIR "/sa", err, sizeof(err)), MCP_EINVAL);
    setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
    setenv("KUBERNETES_SERVICE_PORT", "443", 1);
    assert_int_equal(mcp_kube_config_in_cluster(&c, DIR "/sa", err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://10.96.0.1:443");
    assert_string_equal(c.token, "sa-token-value");
    assert_string_equal(c.token_file, DIR "/sa/token");
    assert_string_equal(c.ca_file, DIR "/sa/ca.crt");
    assert_string_equal(c.namespace, "controller-ns");
    mcp_kube_config_dispose(&c);
    setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
    assert_int_equal(mcp_kube_config_in_cluster(&c, DIR "/sa", err, sizeof(err)), 0);
    assert_string_equal(c.server, "https://[fd00::1]:443");
    mcp_kube_config_dispose(&c);
    assert_int_equal(mcp_kube_config_in_cluster(&c, DIR "/none", err, sizeof(err)), MCP_EIO);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_data_fields), cmocka_unit_test(test_files_relative),
        cmocka_unit_test(test_token),       cmocka_unit_test(test_errors),
        cmocka_unit_test(test_in_cluster),  cmocka_unit_test(test_base64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
