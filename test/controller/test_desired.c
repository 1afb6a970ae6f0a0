/* Golden tests for the pure desired-state function: every folder under
 * test/fixtures/controller/desired/<case>/ holds mcpserver.json (and
 * optionally profile.json, a ConfigMap permission profile) and the expected
 * desired.json = {objects, podPatch, warning}. MCP_UPDATE_GOLDEN=1 rewrites
 * the expected files (review them by eye before keeping them). Also checks
 * the invariants that must hold for every case: labels, ownerReferences,
 * no secret values, and that the function is deterministic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../../controller/internal.h"
#include "../testutil.h"

#define DIR "test/fixtures/controller/desired"

/* The pod patch as an object, parsed back out of the Deployment's args. */
static json_t *pod_patch_of(const json_t *objects)
{
    size_t i, j;
    json_t *o, *a;

    json_array_foreach(objects, i, o)
    {
        const json_t *args;
        if (strcmp(mcp_json_str(o, "kind"), "Deployment") != 0)
            continue;
        args = json_object_get(json_array_get(mcp_json_get(o, "spec.template.spec.containers"), 0),
                               "args");
        json_array_foreach(args, j, a)
        {
            const char *s = json_string_value(a);
            if (s && strncmp(s, "--k8s-pod-patch=", 16) == 0)
                return json_loads(s + 16, 0, NULL);
        }
    }
    return NULL;
}

static json_t *run_case(const char *dir, mcp_server_t *s, json_t **objects_out)
{
    char path[512];
    json_t *obj, *profile = NULL, *objects, *result;
    char *warn = NULL, *msg;
    int oom = 0;

    snprintf(path, sizeof(path), "%s/mcpserver.json", dir);
    obj = tu_load_json(path);
    msg = mcp_validate_message(obj, NULL, &oom);
    if (msg)
        fail_msg("%s: fixture is invalid: %s", dir, msg);
    assert_int_equal(mcp_server_parse(obj, s, NULL), 0);
    json_decref(obj);
    snprintf(path, sizeof(path), "%s/profile.json", dir);
    profile = json_load_file(path, 0, NULL);
    objects = ctl_desired_objects(s, &(ctl_options_t){.profile = profile});
    assert_non_null(objects);
    warn = ctl_profile_warning(profile);
    result = json_pack("{s:O, s:o, s:s?}", "objects", objects, "podPatch", pod_patch_of(objects),
                       "warning", warn);
    assert_non_null(result);
    free(warn);
    json_decref(profile);
    *objects_out = objects;
    return result;
}

static void check_invariants(const mcp_server_t *s, const json_t *objects)
{
    size_t i;
    json_t *o;
    char *dump = json_dumps(objects, JSON_COMPACT);

    assert_non_null(dump);
    assert_null(strstr(dump, "overridden-secret-value"));
    free(dump);
    json_array_foreach(objects, i, o)
    {
        const json_t *refs = mcp_json_get(o, "metadata.ownerReferences");
        const json_t *labels = mcp_json_get(o, "metadata.labels");
        assert_int_equal(json_array_size(refs), 1);
        assert_true(json_is_true(json_object_get(json_array_get(refs, 0), "controller")));
        assert_true(json_is_true(json_object_get(json_array_get(refs, 0), "blockOwnerDeletion")));
        assert_string_equal(mcp_json_str(json_array_get(refs, 0), "uid"), s->uid);
        assert_string_equal(mcp_json_str(labels, "toolhive-name"), s->name);
        assert_string_equal(
            json_string_value(json_object_get(labels, "app.kubernetes.io/managed-by")),
            CTL_MANAGED_BY);
        assert_string_equal(mcp_json_str(o, "metadata.namespace"), s->namespace);
    }
}

static void test_golden(void **state)
{
    char **cases = tu_list_dirs(DIR);
    int n = 0;

    (void)state;
    for (size_t i = 0; cases[i]; i++, n++) {
        char dir[512], path[600];
        mcp_server_t s;
        json_t *objects, *got, *again, *want;

        snprintf(dir, sizeof(dir), "%s/%s", DIR, cases[i]);
        got = run_case(dir, &s, &objects);
        check_invariants(&s, objects);
        again = ctl_desired_objects(&s, &(ctl_options_t){0});
        assert_non_null(again);
        json_decref(again);
        snprintf(path, sizeof(path), "%s/desired.json", dir);
        if (tu_update_golden()) {
            char *text = json_dumps(got, JSON_INDENT(2)), *nl = NULL;
            assert_true(asprintf(&nl, "%s\n", text) > 0);
            assert_int_equal(tu_write_file(path, nl), 0);
            free(nl);
            free(text);
        } else {
            want = tu_load_json(path);
            if (!json_equal(want, got)) {
                char *text = json_dumps(got, JSON_INDENT(2));
                print_error("%s differs; got:\n%s\n", dir, text);
                free(text);
                fail_msg("golden mismatch in %s", cases[i]);
            }
            json_decref(want);
        }
        json_decref(got);
        json_decref(objects);
        mcp_server_dispose(&s);
    }
    assert_true(n >= 12);
    tu_free_list(cases);
}

/* The same input gives the same bytes (the skip-unchanged logic hashes it). */
static void test_deterministic(void **state)
{
    mcp_server_t s;
    json_t *objects, *got, *b;

    (void)state;
    got = run_case(DIR "/podtemplatespec-merge", &s, &objects);
    b = ctl_desired_objects(&s, &(ctl_options_t){0});
    assert_int_equal(ctl_json_hash(objects), ctl_json_hash(b));
    assert_true(ctl_json_hash(objects) != 0);
    json_decref(b);
    json_decref(got);
    json_decref(objects);
    mcp_server_dispose(&s);
}

static void test_proxy_image_option(void **state)
{
    mcp_server_t s;
    json_t *objects, *got, *o;
    const json_t *c;

    (void)state;
    got = run_case(DIR "/transport-stdio-minimal", &s, &objects);
    o = ctl_desired_objects(&s, &(ctl_options_t){.proxy_image = "example.com/runner:dev"});
    c = json_array_get(mcp_json_get(json_array_get(o, 4), "spec.template.spec.containers"), 0);
    assert_string_equal(mcp_json_str(c, "image"), "example.com/runner:dev");
    json_decref(o);
    json_decref(got);
    json_decref(objects);
    mcp_server_dispose(&s);
}

static void test_service_url(void **state)
{
    mcp_server_t s;
    json_t *objects, *got;
    char *url;

    (void)state;
    got = run_case(DIR "/transport-sse", &s, &objects);
    url = ctl_service_url(&s);
    assert_string_equal(url, "http://mcp-ssesrv-proxy.default.svc.cluster.local:9090");
    free(url);
    json_decref(got);
    json_decref(objects);
    mcp_server_dispose(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_proxy_image_option),
        cmocka_unit_test(test_service_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
