/* Every name derived from an MCPServer's name can exist (DESIGN.md sections
 * 2 and 4), checked from the longest name the schema allows (MCP_NAME_MAX):
 *   1. the children DESIGN.md section 4 lists, with the names Kubernetes
 *      derives from them in turn (the StatefulSet's pod "<name>-0", its
 *      hostname and its controller-revision-hash label "<name>-<10>", the
 *      Deployment's ReplicaSet "<name>-<10>" and pods "<name>-<10>-<5>"),
 *      each against its own Kubernetes rule; one character more breaks one;
 *   2. every object the controller actually builds (ctl_desired_objects),
 *      whatever its kind: its name against that kind's rule, and every label
 *      value it carries (template and selector labels included). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/validate.h"
#include "../../controller/internal.h"

/* What Kubernetes appends: a ControllerRevision or pod-template hash is a
 * 32-bit FNV hash in "safe" base-36-ish letters, at most 10 characters; a
 * ReplicaSet's pod gets a 5-character suffix. */
#define HASH "bcdfghjklm"
#define POD5 "x7k2q"

typedef enum rule { DNS1123_SUBDOMAIN, DNS1123_LABEL, DNS1035_LABEL, LABEL_VALUE } rule_t;

static const char *check(rule_t r, const char *s)
{
    switch (r) {
    case DNS1123_SUBDOMAIN:
        return mcp_check_dns1123_subdomain(s);
    case DNS1123_LABEL:
        return mcp_check_dns1123_label(s);
    case DNS1035_LABEL:
        return mcp_check_dns1035_label(s);
    default:
        return mcp_check_label_value(s);
    }
}

static const struct derived {
    const char *what, *fmt; /* fmt: one %s for the MCPServer's name */
    rule_t rule;
} derived[] = {
    {"ServiceAccount, Role, RoleBinding", "%s-proxy-runner", DNS1123_SUBDOMAIN},
    {"ServiceAccount of the MCP server", "%s-sa", DNS1123_SUBDOMAIN},
    {"StatefulSet", "%s", DNS1123_SUBDOMAIN},
    {"StatefulSet pod", "%s-0", DNS1123_SUBDOMAIN},
    {"StatefulSet pod hostname", "%s-0", DNS1123_LABEL},
    {"label statefulset.kubernetes.io/pod-name", "%s-0", LABEL_VALUE},
    {"ControllerRevision", "%s-" HASH, DNS1123_SUBDOMAIN},
    {"label controller-revision-hash", "%s-" HASH, LABEL_VALUE},
    {"Service (headless)", "mcp-%s-headless", DNS1035_LABEL},
    {"Service (proxy)", "mcp-%s-proxy", DNS1035_LABEL},
    {"NetworkPolicy", "%s", DNS1123_SUBDOMAIN},
    {"Deployment", "%s", DNS1123_SUBDOMAIN},
    {"ReplicaSet", "%s-" HASH, DNS1123_SUBDOMAIN},
    {"Deployment pod", "%s-" HASH "-" POD5, DNS1123_SUBDOMAIN},
    {"labels app.kubernetes.io/instance, toolhive-name", "%s", LABEL_VALUE},
};

static char *name_of_length(size_t n)
{
    char *s = malloc(n + 1);

    assert_non_null(s);
    memset(s, 'a', n);
    s[n - 1] = 'z';
    s[n] = '\0';
    return s;
}

/* Returns how many derived names break their rule. */
static int broken_for(const char *name, int report)
{
    int broken = 0;

    for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++) {
        char buf[512];
        const char *why;

        snprintf(buf, sizeof(buf), derived[i].fmt, name);
        if ((why = check(derived[i].rule, buf)) != NULL) {
            broken++;
            if (report)
                print_error("%s %s: %s\n", derived[i].what, buf, why);
        }
    }
    return broken;
}

static json_t *mcpserver(const char *name)
{
    return json_pack("{s:s,s:s,s:{s:s,s:s,s:s,s:I},s:{s:s,s:s,s:{s:s}}}", "apiVersion",
                     MCP_API_VERSION, "kind", MCP_KIND, "metadata", "name", name, "namespace",
                     "default", "uid", "0c5a1d1e-0000-4a6b-9a39-000000000001", "generation",
                     (json_int_t)1, "spec", "image", "docker.io/mcp/fetch", "transport", "stdio",
                     "permissionProfile", "name", "none");
}

static void test_design_names(void **state)
{
    char *longest = name_of_length(MCP_NAME_MAX), *over = name_of_length(MCP_NAME_MAX + 1);
    json_t *obj = mcpserver(longest);
    char *msg;
    int oom;

    (void)state;
    msg = mcp_validate_message(obj, NULL, &oom);
    if (msg)
        fail_msg("the longest name is refused: %s", msg);
    assert_int_equal(broken_for(longest, 1), 0);
    /* the bound is tight: one more character breaks a derived name */
    assert_true(broken_for(over, 0) > 0);
    json_decref(obj);
    obj = mcpserver(over);
    msg = mcp_validate_message(obj, NULL, &oom);
    assert_non_null(msg);
    assert_non_null(strstr(msg, "metadata.name: Too long"));
    free(msg);
    json_decref(obj);
    free(over);
    free(longest);
}

static void check_labels(const char *kind, const json_t *labels)
{
    const char *k;
    json_t *v;

    json_object_foreach((json_t *)labels, k, v)
    {
        const char *why = mcp_check_label_value(json_string_value(v));

        if (why)
            fail_msg("%s label %s=%s: %s", kind, k, json_string_value(v), why);
    }
}

static void test_controller_objects(void **state)
{
    char *longest = name_of_length(MCP_NAME_MAX);
    json_t *obj = mcpserver(longest), *objects, *o;
    mcp_server_t s;
    size_t i, n = 0;

    (void)state;
    assert_int_equal(mcp_server_parse(obj, &s, NULL), 0);
    objects = ctl_desired_objects(&s, &(ctl_options_t){0});
    assert_non_null(objects);
    json_array_foreach(objects, i, o)
    {
        const char *kind = mcp_json_str(o, "kind"), *name = mcp_json_str(o, "metadata.name");
        rule_t rule = strcmp(kind, "Service") == 0 ? DNS1035_LABEL : DNS1123_SUBDOMAIN;
        const char *why = check(rule, name);
        char derived_name[512];

        if (why)
            fail_msg("%s %s: %s", kind, name, why);
        check_labels(kind, mcp_json_get(o, "metadata.labels"));
        check_labels(kind, mcp_json_get(o, "spec.template.metadata.labels"));
        check_labels(kind, mcp_json_get(o, "spec.selector.matchLabels"));
        check_labels(kind, mcp_json_get(o, "spec.selector"));
        if (strcmp(kind, "StatefulSet") == 0) {
            snprintf(derived_name, sizeof(derived_name), "%s-0", name);
            assert_null(check(DNS1123_LABEL, derived_name));
            snprintf(derived_name, sizeof(derived_name), "%s-" HASH, name);
            assert_null(check(LABEL_VALUE, derived_name));
        }
        if (strcmp(kind, "Deployment") == 0) {
            snprintf(derived_name, sizeof(derived_name), "%s-" HASH "-" POD5, name);
            assert_null(check(DNS1123_SUBDOMAIN, derived_name));
        }
        n++;
    }
    assert_true(n >= 5);
    json_decref(objects);
    mcp_server_dispose(&s);
    json_decref(obj);
    free(longest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_design_names),
        cmocka_unit_test(test_controller_objects),
    };

    return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
