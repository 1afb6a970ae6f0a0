/* Golden tests for the pure desired-state functions: every folder under
 * test/fixtures/controller/desired/<case>/ holds mcpserver.json (and
 * optionally profile.json, a ConfigMap permission profile) and the expected
 * desired.json = {objects, warning}: every child object, exactly.
 * MCP_UPDATE_GOLDEN=1 rewrites the expected files (review them by eye before
 * keeping them). Also checks the invariants that must hold for every case
 * (labels, ownerReferences, no secret values, the MCP server pods never
 * matching the proxy's selector, the NetworkPolicy selecting exactly the MCP
 * server pods, determinism) and each kind's contract on its own. */
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

/* The desired object of `kind` (and `name` unless NULL), borrowed. */
static const json_t *find(const json_t *objects, const char *kind, const char *name)
{
    size_t i;
    json_t *o;

    json_array_foreach(objects, i, o)
    {
        if (strcmp(mcp_json_str(o, "kind"), kind) == 0 &&
            (!name || strcmp(mcp_json_str(o, "metadata.name"), name) == 0))
            return o;
    }
    return NULL;
}

static const json_t *container(const json_t *workload, const char *name)
{
    return mcp_json_find(mcp_json_get(workload, "spec.template.spec.containers"), "name", name);
}

/* Does a pod with `labels` match the equality selector `sel`? */
static bool selects(const json_t *sel, const json_t *labels)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)sel, k, v)
    {
        const char *l = json_string_value(json_object_get(labels, k));
        if (!l || strcmp(l, json_string_value(v)) != 0)
            return false;
    }
    return true;
}

/* An OIDC client secret appears in no generated object but the Secret
 * (base64, as its data) and is named in the proxy's env by reference only. */
static void assert_no_secret_leak(const mcp_server_t *s, const ctl_oidc_t *cm,
                                  const json_t *objects)
{
    const char *secret = cm ? cm->client_secret : s->oidc.inline_.client_secret;
    json_t *o;
    size_t i;
    int secrets = 0;

    if (!secret || !*secret)
        return;
    json_array_foreach(objects, i, o)
    {
        char *text = json_dumps(o, JSON_COMPACT);
        if (strcmp(json_string_value(json_object_get(o, "kind")), "Secret") == 0) {
            secrets++;
            assert_null(json_object_get(o, "stringData"));
        } else if (strstr(text, secret)) {
            fail_msg("the client secret appears in %s", text);
        }
        free(text);
    }
    assert_int_equal(secrets, 1);
}

static json_t *run_case(const char *dir, mcp_server_t *s, json_t **objects_out)
{
    char path[512];
    json_t *obj, *profile = NULL, *objects, *result, *oidc_data, *oidc_doc = NULL, *authz_data;
    char *warn = NULL, *msg, why[512], hex[24];
    ctl_oidc_t oidc = {0};
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
    /* oidc-configmap.json / authz-configmap.json: the data of the ConfigMap
     * oidcConfig / authzConfig names, as the reconciler would read it */
    snprintf(path, sizeof(path), "%s/oidc-configmap.json", dir);
    if ((oidc_data = json_load_file(path, 0, NULL)))
        assert_int_equal(ctl_oidc_from_configmap(oidc_data, s->oidc.config_map.key, &oidc_doc,
                                                 &oidc, why, sizeof(why)),
                         0);
    snprintf(path, sizeof(path), "%s/authz-configmap.json", dir);
    if ((authz_data = json_load_file(path, 0, NULL))) {
        const json_t *t = json_object_get(authz_data, s->authz.config_map.key);
        assert_int_equal(
            ctl_authz_check(json_string_value(t), json_string_length(t), why, sizeof(why)), 0);
        ctl_text_hash(json_string_value(t), json_string_length(t), hex, sizeof(hex));
    }
    objects = ctl_desired_objects(s, &(ctl_options_t){.profile = profile,
                                                      .oidc = oidc_data ? &oidc : NULL,
                                                      .authz_hash = authz_data ? hex : NULL});
    assert_no_secret_leak(s, oidc_data ? &oidc : NULL, objects);
    json_decref(oidc_doc);
    json_decref(oidc_data);
    json_decref(authz_data);
    assert_non_null(objects);
    warn = ctl_profile_warning(profile);
    result = json_pack("{s:O, s:s?}", "objects", objects, "warning", warn);
    assert_non_null(result);
    free(warn);
    json_decref(profile);
    *objects_out = objects;
    return result;
}

/* A false the apiserver would not store (a plain bool with omitempty) makes
 * the applied object never "contained" in the live one: only the pointer
 * bools of the API may be false in what we apply. */
static void assert_no_dropped_false(const json_t *v, const char *key)
{
    static const char *const kept[] = {"allowPrivilegeEscalation", "privileged",
                                       "readOnlyRootFilesystem", "runAsNonRoot", NULL};
    const char *k;
    json_t *e;
    size_t i;
    bool ok = false;

    if (json_is_false(v)) {
        for (i = 0; kept[i]; i++)
            ok |= key && strcmp(key, kept[i]) == 0;
        if (!ok)
            fail_msg("\"%s\": false would be dropped by the apiserver", key ? key : "?");
    }
    json_object_foreach((json_t *)v, k, e) assert_no_dropped_false(e, k);
    json_array_foreach(v, i, e) assert_no_dropped_false(e, key);
}

/* The same for an empty string in a field (omitempty): an env var's empty
 * value was re-applied on every restart. Map values (labels, annotations,
 * selectors) and list elements keep theirs. */
static void assert_no_dropped_empty(const json_t *v, const char *key)
{
    static const char *const maps[] = {"labels", "annotations", "matchLabels", "nodeSelector",
                                       NULL};
    const char *k;
    json_t *e;
    size_t i;
    bool map = false;

    for (i = 0; key && maps[i]; i++)
        map |= strcmp(key, maps[i]) == 0;
    json_object_foreach((json_t *)v, k, e)
    {
        if (!map && json_is_string(e) && json_string_length(e) == 0)
            fail_msg("\"%s\": \"\" would be dropped by the apiserver", k);
        assert_no_dropped_empty(e, k);
    }
    json_array_foreach(v, i, e) assert_no_dropped_empty(e, key);
}

static void check_invariants(const mcp_server_t *s, const json_t *objects)
{
    size_t i;
    json_t *o;
    char *dump = json_dumps(objects, JSON_COMPACT), hl[128];
    const json_t *sts = find(objects, "StatefulSet", s->name);
    const json_t *dep = find(objects, "Deployment", s->name);
    const json_t *np = find(objects, "NetworkPolicy", NULL);
    const json_t *pod_labels = mcp_json_get(sts, "spec.template.metadata.labels");
    const json_t *sts_sel = mcp_json_get(sts, "spec.selector.matchLabels");

    assert_non_null(dump);
    assert_null(strstr(dump, "overridden-secret-value"));
    free(dump);
    assert_no_dropped_false(objects, NULL);
    assert_no_dropped_empty(objects, NULL);
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
    /* the MCP server pods: selected by their StatefulSet, the headless
     * Service and the NetworkPolicy, never by the proxy's selector; seen by
     * the controller's pod watch */
    assert_non_null(sts);
    assert_non_null(dep);
    assert_true(selects(sts_sel, pod_labels));
    snprintf(hl, sizeof(hl), "mcp-%s-headless", s->name);
    assert_true(json_equal(mcp_json_get(find(objects, "Service", hl), "spec.selector"), sts_sel));
    /* every MCPServer has its NetworkPolicy: ingress only from its proxy
     * pods (HTTP transports, on targetPort), none for stdio */
    assert_non_null(np);
    assert_string_equal(mcp_json_str(np, "metadata.name"), s->name);
    assert_true(json_equal(mcp_json_get(np, "spec.podSelector.matchLabels"), sts_sel));
    assert_string_equal(json_string_value(json_array_get(mcp_json_get(np, "spec.policyTypes"), 0)),
                        "Ingress");
    if (ctl_http_transport(s)) {
        const json_t *rule = json_array_get(mcp_json_get(np, "spec.ingress"), 0);
        const json_t *from = json_array_get(json_object_get(rule, "from"), 0);
        assert_int_equal(json_array_size(mcp_json_get(np, "spec.ingress")), 1);
        assert_true(json_equal(mcp_json_get(from, "podSelector.matchLabels"),
                               mcp_json_get(dep, "spec.selector.matchLabels")));
        assert_int_equal(json_integer_value(mcp_json_get(
                             json_array_get(json_object_get(rule, "ports"), 0), "port")),
                         s->target_port);
    } else {
        assert_null(mcp_json_get(np, "spec.ingress"));
    }
    assert_false(selects(mcp_json_get(dep, "spec.selector.matchLabels"), pod_labels));
    assert_false(selects(sts_sel, mcp_json_get(dep, "spec.template.metadata.labels")));
    assert_true(selects(mcp_json_get(dep, "spec.selector.matchLabels"),
                        mcp_json_get(dep, "spec.template.metadata.labels")));
    assert_string_equal(
        json_string_value(json_object_get(pod_labels, "app.kubernetes.io/managed-by")),
        CTL_MANAGED_BY);
    assert_string_equal(
        json_string_value(json_object_get(pod_labels, "app.kubernetes.io/component")),
        "mcp-server");
    assert_string_equal(mcp_json_str(sts, "spec.serviceName"), hl);
    assert_string_equal(mcp_json_str(container(sts, "mcp"), "image"), s->image);
    assert_non_null(container(dep, "proxy"));
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
    assert_true(n >= 16);
    tu_free_list(cases);
}

/* ctl_profile_check over test/fixtures/controller/profile-check.json: each
 * case's profile and the message it must give (null: accepted). */
static void test_profile_check(void **state)
{
    json_t *cases = tu_load_json("test/fixtures/controller/profile-check.json"), *c;
    size_t i, bad = 0;

    (void)state;
    assert_true(json_array_size(cases) >= 10);
    json_array_foreach(cases, i, c)
    {
        char why[512] = "";
        const char *want = json_string_value(json_object_get(c, "error"));
        int rc = ctl_profile_check(json_object_get(c, "profile"), why, sizeof(why));
        if (want ? rc == 0 || strcmp(why, want) != 0 : rc != 0) {
            print_error("%s: got %d \"%s\", want \"%s\"\n", mcp_json_str(c, "case"), rc, why,
                        want ? want : "(accepted)");
            bad++;
        }
    }
    json_decref(cases);
    assert_int_equal(bad, 0);
}

/* The same input gives the same bytes (the skip-unchanged logic hashes it). */
/* What a referenced OIDC or authorization ConfigMap may hold, and the
 * message the MCPServer fails with otherwise (test/fixtures/controller/
 * auth-configmaps.json; null: accepted). */
static void test_auth_configmaps(void **state)
{
    json_t *cases = tu_load_json("test/fixtures/controller/auth-configmaps.json"), *c;
    size_t i;

    (void)state;
    json_array_foreach(json_object_get(cases, "oidc"), i, c)
    {
        const char *want = json_string_value(json_object_get(c, "error"));
        char why[512] = "";
        json_t *doc = NULL;
        ctl_oidc_t o;
        int rc = ctl_oidc_from_configmap(json_object_get(c, "data"),
                                         json_string_value(json_object_get(c, "key")), &doc, &o,
                                         why, sizeof(why));
        if (want)
            assert_string_equal(why, want);
        assert_int_equal(rc, want ? -1 : 0);
        if (!want)
            assert_true(o.on && o.issuer);
        json_decref(doc);
    }
    json_array_foreach(json_object_get(cases, "authz"), i, c)
    {
        const char *want = json_string_value(json_object_get(c, "error"));
        const json_t *t = json_object_get(c, "text");
        char why[512] = "";
        int rc = ctl_authz_check(json_string_value(t), json_string_length(t), why, sizeof(why));
        if (want)
            assert_string_equal(why, want);
        assert_int_equal(rc, want ? -1 : 0);
    }
    json_decref(cases);
}

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
    o = ctl_desired_objects(&s, &(ctl_options_t){.proxy_image = "example.com/proxy:dev",
                                                 .proxy_cluster_role = "rel-proxy"});
    c = container(find(o, "Deployment", NULL), "proxy");
    assert_string_equal(mcp_json_str(c, "image"), "example.com/proxy:dev");
    assert_string_equal(mcp_json_str(find(o, "RoleBinding", NULL), "roleRef.name"), "rel-proxy");
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
    assert_string_equal(url, "http://mcp-ssesrv-proxy.default.svc.cluster.local:9090/sse");
    free(url);
    json_decref(got);
    json_decref(objects);
    mcp_server_dispose(&s);
}

/* An MCPServer from inline spec JSON (valid by the schema). */
static void server_from(const char *name, const char *spec_json, mcp_server_t *s)
{
    json_t *obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:s}, s:o}", "apiVersion", MCP_API_VERSION,
                            "kind", MCP_KIND, "metadata", "name", name, "namespace", "ns1", "uid",
                            "u-1", "spec", json_loads(spec_json, 0, NULL));
    char *msg;
    int oom = 0;

    assert_non_null(obj);
    msg = mcp_validate_message(obj, NULL, &oom);
    if (msg)
        fail_msg("invalid: %s", msg);
    assert_int_equal(mcp_server_parse(obj, s, NULL), 0);
    json_decref(obj);
}

static void assert_args(const mcp_server_t *s, const char *want)
{
    json_t *args = ctl_proxy_args(s, NULL);
    char *got = json_dumps(args, JSON_COMPACT);

    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
    json_decref(args);
}

/* The proxy's command line: CONTRACTS.md's flags, every address (the proxy
 * alone binds loopback), one upstream per transport, the tool filter sorted
 * (so the same set gives the same bytes). */
static void test_proxy_args(void **state)
{
    mcp_server_t s;

    (void)state;
    server_from("t", "{\"image\":\"x\",\"tools\":[\"zeta\",\"alpha\",\"mid\"]}", &s);
    assert_args(&s,
                "[\"--port=8080\",\"--bind=::\",\"--transport=stdio\",\"--tools=alpha,mid,zeta\","
                "\"--namespace=ns1\",\"--pod=t-0\",\"--container=mcp\","
                "\"--allow-host=mcp-t-proxy\",\"--allow-host=mcp-t-proxy.ns1\","
                "\"--allow-host=mcp-t-proxy.ns1.svc\","
                "\"--allow-host=mcp-t-proxy.ns1.svc.cluster.local\"]");
    mcp_server_dispose(&s);
    server_from("h",
                "{\"image\":\"x\",\"transport\":\"streamable-http\",\"port\":9000,"
                "\"targetPort\":3001}",
                &s);
    assert_args(&s, "[\"--port=9000\",\"--bind=::\",\"--transport=streamable-http\","
                    "\"--target-host=mcp-h-headless.ns1.svc\",\"--target-port=3001\","
                    "\"--namespace=ns1\",\"--pod=h-0\",\"--allow-host=mcp-h-proxy\","
                    "\"--allow-host=mcp-h-proxy.ns1\",\"--allow-host=mcp-h-proxy.ns1.svc\","
                    "\"--allow-host=mcp-h-proxy.ns1.svc.cluster.local\"]");
    mcp_server_dispose(&s);
}

/* stdio: stdin open for the attach, no TTY, no port; HTTP: the targetPort
 * on the container and the headless Service, no stdin. */
static void test_transport_shapes(void **state)
{
    mcp_server_t s;
    json_t *o;
    const json_t *c, *hl;

    (void)state;
    server_from("io", "{\"image\":\"x\"}", &s);
    o = ctl_desired_objects(&s, NULL);
    c = container(find(o, "StatefulSet", "io"), "mcp");
    assert_true(json_is_true(json_object_get(c, "stdin")));
    assert_null(json_object_get(c, "stdinOnce")); /* false: the default */
    assert_null(json_object_get(c, "tty"));
    assert_null(json_object_get(c, "ports"));
    hl = find(o, "Service", "mcp-io-headless");
    assert_string_equal(mcp_json_str(hl, "spec.clusterIP"), "None");
    assert_null(mcp_json_get(hl, "spec.ports"));
    json_decref(o);
    mcp_server_dispose(&s);

    server_from("web", "{\"image\":\"x\",\"transport\":\"sse\",\"targetPort\":3001}", &s);
    o = ctl_desired_objects(&s, NULL);
    c = container(find(o, "StatefulSet", "web"), "mcp");
    assert_null(json_object_get(c, "stdin"));
    assert_int_equal(json_integer_value(mcp_json_get(json_array_get(json_object_get(c, "ports"), 0),
                                                     "containerPort")),
                     3001);
    hl = find(o, "Service", "mcp-web-headless");
    assert_int_equal(
        json_integer_value(mcp_json_get(json_array_get(mcp_json_get(hl, "spec.ports"), 0), "port")),
        3001);
    json_decref(o);
    mcp_server_dispose(&s);
}

static void assert_url(const char *spec, const char *want)
{
    mcp_server_t s;
    char *url;

    server_from("u", spec, &s);
    url = ctl_service_url(&s);
    assert_string_equal(url, want);
    free(url);
    mcp_server_dispose(&s);
}

static void test_url_per_transport(void **state)
{
    (void)state;
    assert_url("{\"image\":\"x\"}", "http://mcp-u-proxy.ns1.svc.cluster.local:8080/mcp");
    assert_url("{\"image\":\"x\",\"transport\":\"streamable-http\",\"port\":81}",
               "http://mcp-u-proxy.ns1.svc.cluster.local:81/mcp");
    assert_url("{\"image\":\"x\",\"transport\":\"sse\"}",
               "http://mcp-u-proxy.ns1.svc.cluster.local:8080/sse");
}

/* The default proxy image is this project's mcp-proxy of the chart's
 * appVersion. */
static void test_version_matches_chart(void **state)
{
    char *chart = tu_read_file("charts/mcp-operator/Chart.yaml", NULL);
    char want[64];

    (void)state;
    assert_non_null(chart);
    snprintf(want, sizeof(want), "\nappVersion: \"%s\"\n", CTL_VERSION);
    assert_non_null(strstr(chart, want));
    assert_string_equal(CTL_DEFAULT_PROXY_IMAGE, "ghcr.io/mcp-operator/mcp-proxy:" CTL_VERSION);
    free(chart);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_auth_configmaps),
        cmocka_unit_test(test_profile_check),
        cmocka_unit_test(test_proxy_image_option),
        cmocka_unit_test(test_service_url),
        cmocka_unit_test(test_proxy_args),
        cmocka_unit_test(test_transport_shapes),
        cmocka_unit_test(test_url_per_transport),
        cmocka_unit_test(test_version_matches_chart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
