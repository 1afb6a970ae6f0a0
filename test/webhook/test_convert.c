/* POST /convert (webhook/convert.c): a ConversionReview answered as the API
 * server expects (uid, objects converted in order, result Success), an
 * object of another version as result Failure, anything that is not a
 * review as HTTP 400, and every byte sequence of the admission corpus
 * without a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../webhook/internal.h"
#include "../testutil.h"
#include "mcp/convert.h"
#include "mcp/json.h"

static json_t *convert(const char *body, int *status, wh_verdict_t *verdict)
{
    mcp_buf_t out;
    json_t *resp;

    mcp_buf_init(&out, WH_REPLY_MAX);
    *status = wh_convert(body, strlen(body), &out, verdict);
    resp = json_loadb(out.data ? out.data : "", out.len, 0, NULL);
    mcp_buf_dispose(&out);
    assert_non_null(resp);
    return resp;
}

static void test_review(void **state)
{
    static const char review[] =
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"ConversionReview\","
        "\"request\":{\"uid\":\"705ab4f5\",\"desiredAPIVersion\":\"toolhive.stacklok.dev/v1beta1\","
        "\"objects\":[{\"apiVersion\":\"toolhive.stacklok.dev/v1alpha1\",\"kind\":\"MCPServer\","
        "\"metadata\":{\"name\":\"a\"},\"spec\":{\"image\":\"x\",\"port\":8080},"
        "\"status\":{\"phase\":\"Running\"}},"
        "{\"apiVersion\":\"toolhive.stacklok.dev/v1beta1\",\"kind\":\"MCPServer\","
        "\"metadata\":{\"name\":\"b\"},\"spec\":{\"image\":\"y\",\"proxyPort\":9000}}]}}";
    wh_verdict_t v;
    int status;
    json_t *resp = convert(review, &status, &v);
    const json_t *objs;

    (void)state;
    assert_int_equal(status, 200);
    assert_int_equal(v, WH_ALLOWED);
    assert_string_equal(mcp_json_str(resp, "apiVersion"), "apiextensions.k8s.io/v1");
    assert_string_equal(mcp_json_str(resp, "kind"), "ConversionReview");
    assert_string_equal(mcp_json_str(resp, "response.uid"), "705ab4f5");
    assert_string_equal(mcp_json_str(resp, "response.result.status"), "Success");
    objs = mcp_json_get(resp, "response.convertedObjects");
    assert_int_equal(json_array_size(objs), 2);
    assert_string_equal(mcp_json_str(json_array_get(objs, 0), "metadata.name"), "a");
    assert_string_equal(mcp_json_str(json_array_get(objs, 0), "apiVersion"), MCP_API_VERSION_BETA);
    assert_int_equal(json_integer_value(mcp_json_get(json_array_get(objs, 0), "spec.proxyPort")),
                     8080);
    assert_string_equal(mcp_json_str(json_array_get(objs, 0), "status.phase"), "Ready");
    assert_string_equal(mcp_json_str(json_array_get(objs, 1), "metadata.name"), "b");
    assert_int_equal(json_integer_value(mcp_json_get(json_array_get(objs, 1), "spec.proxyPort")),
                     9000);
    json_decref(resp);
}

static void test_failure(void **state)
{
    static const char review[] =
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"ConversionReview\","
        "\"request\":{\"uid\":\"u\",\"desiredAPIVersion\":\"toolhive.stacklok.dev/v1beta1\","
        "\"objects\":[{\"apiVersion\":\"toolhive.stacklok.dev/v1alpha1\",\"kind\":\"MCPServer\"},"
        "{\"apiVersion\":\"toolhive.stacklok.dev/v2\",\"kind\":\"MCPServer\"}]}}";
    wh_verdict_t v;
    int status;
    json_t *resp = convert(review, &status, &v);

    (void)state;
    assert_int_equal(status, 200);
    assert_int_equal(v, WH_DENIED);
    assert_string_equal(mcp_json_str(resp, "response.uid"), "u");
    assert_string_equal(mcp_json_str(resp, "response.result.status"), "Failure");
    assert_string_equal(mcp_json_str(resp, "response.result.message"),
                        "request.objects[1]: cannot convert apiVersion toolhive.stacklok.dev/v2 "
                        "to toolhive.stacklok.dev/v1beta1: only MCPServer of "
                        "toolhive.stacklok.dev/v1alpha1 and toolhive.stacklok.dev/v1beta1 are "
                        "served");
    assert_int_equal(json_array_size(mcp_json_get(resp, "response.convertedObjects")), 0);
    json_decref(resp);
}

static void test_not_a_review(void **state)
{
    static const char *const bodies[] = {
        "",
        "nul\0",
        "[]",
        "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{}}",
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"ConversionReview\"}",
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"ConversionReview\","
        "\"request\":{\"uid\":1,\"desiredAPIVersion\":\"x\",\"objects\":[]}}",
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"ConversionReview\","
        "\"request\":{\"uid\":\"u\",\"desiredAPIVersion\":\"x\",\"objects\":{}}}",
        "{\"apiVersion\":\"apiextensions.k8s.io/v1\",\"kind\":\"ConversionReview\","
        "\"apiVersion\":\"apiextensions.k8s.io/v1\",\"request\":{}}",
    };
    wh_verdict_t v;
    int status;

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_t *resp = convert(bodies[i], &status, &v);

        assert_int_equal(status, 400);
        assert_int_equal(v, WH_BAD_REQUEST);
        assert_string_equal(mcp_json_str(resp, "kind"), "Status");
        json_decref(resp);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_review),
        cmocka_unit_test(test_failure),
        cmocka_unit_test(test_not_a_review),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
