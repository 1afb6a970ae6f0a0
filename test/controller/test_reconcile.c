/* The reconciler against an in-memory apiserver (fakeapi.h): writes on the
 * first reconcile, zero writes on a no-op resync (also after a restart, from
 * the watch's view of the live objects), drift repair, invalid specs, objects
 * in the way, NetworkPolicy pruning, transient errors, status transitions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../testutil.h"
#include "fakeapi.h"

#define NS       "default"
#define SRV_PATH "/apis/toolhive.stacklok.dev/v1alpha1/namespaces/default/mcpservers/"
#define DEP_PATH "/apis/apps/v1/namespaces/default/deployments/"
#define SVC_PATH "/api/v1/namespaces/default/services/"
#define NP_PATH  "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/"

typedef struct env {
    fake_t api;
    ctl_ctrl_t ctrl;
} env_t;

static int setup(void **state)
{
    env_t *e = calloc(1, sizeof(*e));

    fake_init(&e->api);
    fake_ctrl_init(&e->api, &e->ctrl);
    ctl_metrics_observe(&e->api.super, e->ctrl.metrics);
    *state = e;
    return 0;
}

static int teardown(void **state)
{
    env_t *e = *state;

    fake_ctrl_dispose(&e->api, &e->ctrl);
    free(e);
    return 0;
}

/* Store an MCPServer in the fake apiserver and deliver it to the cache. */
static void put_server(env_t *e, const char *name, const char *spec_json, int generation)
{
    char path[256];
    json_t *spec = json_loads(spec_json, 0, NULL), *old, *obj;

    assert_non_null(spec);
    snprintf(path, sizeof(path), SRV_PATH "%s", name);
    old = json_object_get(e->api.objs, path);
    obj = json_pack("{s:s, s:s, s:{s:s, s:s, s:i}, s:o}", "apiVersion", MCP_API_VERSION, "kind",
                    MCP_KIND, "metadata", "name", name, "namespace", NS, "generation", generation,
                    "spec", spec);
    fake_stamp(&e->api, obj, old);
    json_object_set_new(e->api.objs, path, obj);
    ctl_on_server_event(&e->ctrl, old ? "MODIFIED" : "ADDED", obj, 1);
}

static json_t *get(env_t *e, const char *path)
{
    return json_object_get(e->api.objs, path);
}

/* What the watches would deliver after the writes: every child object and
 * the MCPServer itself, as MODIFIED events. */
static void echo_watch(env_t *e)
{
    const char *p;
    json_t *o;

    json_object_foreach(e->api.objs, p, o)
    {
        if (strncmp(p, SRV_PATH, strlen(SRV_PATH)) == 0)
            ctl_on_server_event(&e->ctrl, "MODIFIED", o, 1);
        else if (ctl_kind_find(mcp_json_str(o, "kind")))
            ctl_on_child_event(&e->ctrl, "MODIFIED", o, 1);
    }
}

static enum ctl_result reconcile(env_t *e, const char *name)
{
    char key[128];
    double rq;

    snprintf(key, sizeof(key), NS "/%s", name);
    fake_reset_counts(&e->api);
    return ctl_reconcile(&e->ctrl, key, &rq);
}

static const json_t *condition(const json_t *srv, const char *type)
{
    return mcp_json_find(mcp_json_get(srv, "status.conditions"), "type", type);
}

static const char *fetch_spec =
    "{\"image\":\"docker.io/mcp/fetch\",\"transport\":\"stdio\",\"port\":8080,"
    "\"permissionProfile\":{\"type\":\"builtin\",\"name\":\"network\"}}";

static void test_first_then_noop(void **state)
{
    env_t *e = *state;
    const json_t *srv;

    put_server(e, "fetch", fetch_spec, 1);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    /* 8 applies + 1 status, no Event on creation: the budget of 9; no reads
     * (the cache knows no child: each is created by a create-only apply) */
    assert_int_equal(e->api.applies, 8);
    assert_int_equal(e->api.gets, 0);
    assert_int_equal(e->api.status_writes, 1);
    assert_int_equal(e->api.events, 0);
    assert_true(fake_writes(&e->api) <= 9);
    srv = get(e, SRV_PATH "fetch");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Pending");
    assert_string_equal(mcp_json_str(srv, "status.url"),
                        "http://mcp-fetch-proxy.default.svc.cluster.local:8080/mcp");
    assert_string_equal(mcp_json_str(condition(srv, "Valid"), "status"), "True");
    assert_string_equal(mcp_json_str(condition(srv, "Ready"), "status"), "False");
    assert_non_null(get(e, DEP_PATH "fetch"));
    assert_non_null(get(e, SVC_PATH "mcp-fetch-proxy"));
    assert_non_null(get(e, "/api/v1/namespaces/default/serviceaccounts/fetch-sa"));

    /* resync without any event: nothing to do, not even a read */
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(fake_writes(&e->api), 0);
    assert_int_equal(e->api.gets, 0);
    /* the watches echo our writes: still nothing */
    echo_watch(e);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(fake_writes(&e->api), 0);
}

static void test_restart_is_noop(void **state)
{
    env_t *e = *state;

    put_server(e, "fetch", fetch_spec, 1);
    reconcile(e, "fetch");
    /* a new process: empty cache, filled by the initial lists */
    ctl_cache_free(e->ctrl.cache);
    e->ctrl.cache = ctl_cache_new();
    echo_watch(e);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(fake_writes(&e->api), 0);
    assert_int_equal(e->api.gets, 0);
}

static void test_drift_repaired(void **state)
{
    env_t *e = *state;
    json_t *dep, *svc;

    put_server(e, "fetch", fetch_spec, 1);
    reconcile(e, "fetch");
    echo_watch(e);
    /* someone edits the Deployment's image */
    dep = json_deep_copy(get(e, DEP_PATH "fetch"));
    json_object_set_new(json_array_get(mcp_json_get(dep, "spec.template.spec.containers"), 0),
                        "image", json_string("evil/image"));
    fake_stamp(&e->api, dep, get(e, DEP_PATH "fetch"));
    json_object_set_new(e->api.objs, DEP_PATH "fetch", dep);
    ctl_on_child_event(&e->ctrl, "MODIFIED", dep, 1);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 1);
    assert_int_equal(e->api.status_writes, 0);
    assert_string_equal(e->api.log, "PATCH " DEP_PATH "fetch\nPOST "
                                    "/apis/events.k8s.io/v1/namespaces/default/events\n");
    /* someone deletes the Service */
    svc = json_incref(get(e, SVC_PATH "mcp-fetch-proxy"));
    json_object_del(e->api.objs, SVC_PATH "mcp-fetch-proxy");
    ctl_on_child_event(&e->ctrl, "DELETED", svc, 1);
    json_decref(svc);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 1);
    assert_non_null(get(e, SVC_PATH "mcp-fetch-proxy"));
}

/* Apply, then a new process (empty cache, filled by the watches) meets a
 * changed spec: what it applies must drop what the spec dropped. */
static void restart_with(env_t *e, const char *spec)
{
    ctl_cache_free(e->ctrl.cache);
    e->ctrl.cache = ctl_cache_new();
    put_server(e, "fetch", spec, 2);
    echo_watch(e);
}

static const json_t *proxy_container(env_t *e)
{
    return json_array_get(mcp_json_get(get(e, DEP_PATH "fetch"), "spec.template.spec.containers"),
                          0);
}

static const char *env_value(const json_t *container, const char *name)
{
    size_t i;
    json_t *v;

    json_array_foreach(json_object_get(container, "env"), i, v)
    {
        if (strcmp(mcp_json_str(v, "name"), name) == 0)
            return mcp_json_str(v, "value");
    }
    return NULL;
}

#define OVERRIDES_SPEC(ov)                                                                         \
    "{\"image\":\"docker.io/mcp/fetch\",\"transport\":\"stdio\",\"port\":8080,"                    \
    "\"permissionProfile\":{\"type\":\"builtin\",\"name\":\"network\"},"                           \
    "\"resourceOverrides\":{\"proxyDeployment\":" ov "}}"

static void test_removed_fields_removed(void **state)
{
    env_t *e = *state;
    const json_t *dep;

    put_server(e, "fetch",
               OVERRIDES_SPEC("{\"labels\":{\"team\":\"a\",\"keep\":\"k\"},\"annotations\":{"
                              "\"note\":\"n\",\"keep\":\"k\"},\"env\":[{\"name\":\"A\",\"value\":"
                              "\"1\"},{\"name\":\"B\",\"value\":\"2\"}]}"),
               1);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    dep = get(e, DEP_PATH "fetch");
    assert_string_equal(mcp_json_str(dep, "metadata.labels.team"), "a");
    assert_string_equal(mcp_json_str(dep, "metadata.annotations.note"), "n");
    assert_string_equal(env_value(proxy_container(e), "A"), "1");
    /* a label, an annotation and one env entry (a list element) go away */
    restart_with(e, OVERRIDES_SPEC("{\"labels\":{\"keep\":\"k\"},\"annotations\":{\"keep\":\"k\"},"
                                   "\"env\":[{\"name\":\"B\",\"value\":\"2\"}]}"));
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 1);
    assert_non_null(strstr(e->api.log, "PATCH " DEP_PATH "fetch\n"));
    dep = get(e, DEP_PATH "fetch");
    assert_null(mcp_json_get(dep, "metadata.labels.team"));
    assert_string_equal(mcp_json_str(dep, "metadata.labels.keep"), "k");
    assert_null(mcp_json_get(dep, "metadata.annotations.note"));
    assert_null(env_value(proxy_container(e), "A"));
    assert_string_equal(env_value(proxy_container(e), "B"), "2");
    /* and then nothing more to do */
    echo_watch(e);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(fake_writes(&e->api), 0);
    /* the same while running (cache warm): env removed entirely */
    put_server(e, "fetch", OVERRIDES_SPEC("{\"labels\":{\"keep\":\"k\"}}"), 3);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_null(env_value(proxy_container(e), "B"));
    assert_null(mcp_json_get(get(e, DEP_PATH "fetch"), "metadata.annotations.keep"));
}

/* A child applied by an older version of the controller: a field (and a
 * Role rule) this version no longer sets, with that version's hash. */
static void test_upgrade_drops_field(void **state)
{
    env_t *e = *state;
    json_t *dep, *role;
    const char *role_path = "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles/"
                            "fetch-proxy-runner";

    put_server(e, "fetch", fetch_spec, 1);
    reconcile(e, "fetch");
    dep = json_deep_copy(get(e, DEP_PATH "fetch"));
    json_object_set_new(json_object_get(dep, "spec"), "minReadySeconds", json_integer(30));
    json_object_set_new((json_t *)mcp_json_get(dep, "metadata.annotations"), CTL_APPLIED_HASH,
                        json_string("00000000000000aa"));
    json_object_set_new(e->api.objs, DEP_PATH "fetch", dep);
    role = (json_t *)get(e, role_path);
    if (role) {
        json_array_append_new(json_object_get(role, "rules"),
                              json_pack("{s:[s], s:[s], s:[s]}", "apiGroups", "", "resources",
                                        "secrets", "verbs", "get"));
        json_object_set_new((json_t *)mcp_json_get(role, "metadata.annotations"), CTL_APPLIED_HASH,
                            json_string("00000000000000bb"));
    }
    restart_with(e, fetch_spec);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, role ? 2 : 1);
    assert_null(mcp_json_get(get(e, DEP_PATH "fetch"), "spec.minReadySeconds"));
    if (role) {
        char *text = json_dumps(get(e, role_path), 0);
        assert_null(strstr(text, "secrets"));
        free(text);
    }
    echo_watch(e);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(fake_writes(&e->api), 0);
}

/* What other managers add (a rollout restart annotation, an injected
 * sidecar, a label) never makes us write. */
static void test_other_managers_fields(void **state)
{
    env_t *e = *state;
    json_t *dep;

    put_server(e, "fetch", fetch_spec, 1);
    reconcile(e, "fetch");
    dep = json_deep_copy(get(e, DEP_PATH "fetch"));
    json_object_set_new((json_t *)mcp_json_get(dep, "spec.template.metadata"), "annotations",
                        json_pack("{s:s}", "kubectl.kubernetes.io/restartedAt", "2026-11-30"));
    json_array_append_new((json_t *)mcp_json_get(dep, "spec.template.spec.containers"),
                          json_pack("{s:s, s:s}", "name", "sidecar", "image", "istio/proxy"));
    json_object_set_new((json_t *)mcp_json_get(dep, "metadata.labels"), "other", json_string("x"));
    fake_stamp(&e->api, dep, get(e, DEP_PATH "fetch"));
    json_object_set_new(e->api.objs, DEP_PATH "fetch", dep);
    ctl_on_child_event(&e->ctrl, "MODIFIED", dep, 1);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
        assert_int_equal(fake_writes(&e->api), 0);
    }
    restart_with(e, fetch_spec);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 0);
}

/* The proxy Deployment's status, as the Deployment controller writes it:
 * n replicas available of `total`, `updated` of them running the current
 * spec, which it has `seen` (0: not yet, the generation before). */
static void proxy_rollout(env_t *e, const char *name, int n, int total, int updated, int seen)
{
    char path[256];
    json_t *dep;
    json_int_t gen;

    snprintf(path, sizeof(path), DEP_PATH "%s", name);
    dep = json_deep_copy(get(e, path));
    gen = json_integer_value(json_object_get(json_object_get(dep, "metadata"), "generation"));
    json_object_set_new(dep, "status",
                        json_pack("{s:I, s:i, s:i, s:i}", "observedGeneration",
                                  (json_int_t)(seen ? gen : gen - 1), "replicas", total,
                                  "updatedReplicas", updated, "availableReplicas", n));
    fake_stamp(&e->api, dep, NULL);
    json_object_set_new(e->api.objs, path, dep);
    ctl_on_child_event(&e->ctrl, "MODIFIED", dep, 1);
}

/* The rollout done: n replicas, all current and available. */
static void proxy_available(env_t *e, const char *name, int n)
{
    proxy_rollout(e, name, n, n, n, 1);
}

/* The MCP server pod "<name>-0" as the pod watch delivers it; `status` is
 * its status JSON, NULL for a DELETED event. */
static void pod_event(env_t *e, const char *name, const char *status)
{
    char pod_name[96];
    json_t *pod;

    snprintf(pod_name, sizeof(pod_name), "%s-0", name);
    pod = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:{s:s, s:s, s:s}}}", "apiVersion", "v1", "kind",
                    "Pod", "metadata", "name", pod_name, "namespace", NS, "resourceVersion", "1",
                    "labels", "app.kubernetes.io/managed-by", CTL_MANAGED_BY,
                    "app.kubernetes.io/component", "mcp-server", "toolhive-name", name);
    if (status)
        json_object_set_new(pod, "status", json_loads(status, 0, NULL));
    fake_stamp(&e->api, pod, NULL);
    ctl_on_child_event(&e->ctrl, status ? "MODIFIED" : "DELETED", pod, 1);
    json_decref(pod);
}

#define POD_READY                                                                                  \
    "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}],"            \
    "\"containerStatuses\":[{\"name\":\"mcp\",\"ready\":true,\"state\":{\"running\":{}}}]}"
#define POD_CRASHING                                                                               \
    "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"False\"}],"           \
    "\"containerStatuses\":[{\"name\":\"mcp\",\"state\":{\"waiting\":{\"reason\":"                 \
    "\"CrashLoopBackOff\",\"message\":\"back-off 40s restarting failed container\"}},"             \
    "\"lastState\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\"}}}]}"

static void drain(env_t *e)
{
    while (ctl_queue_len(e->ctrl.queue) > 0) {
        char *k = ctl_queue_get(e->ctrl.queue);
        ctl_queue_done(e->ctrl.queue, k);
        free(k);
    }
}

/* The watches' echo of our own writes queues nothing (no reconcile that
 * could only find nothing to do); a change does. */
static void test_echo_queues_nothing(void **state)
{
    env_t *e = *state;
    json_t *dep;

    put_server(e, "fetch", fetch_spec, 1);
    reconcile(e, "fetch");
    drain(e);
    echo_watch(e);
    assert_int_equal(ctl_queue_len(e->ctrl.queue), 0);
    /* a child changed by someone else, and a new spec, do */
    dep = json_deep_copy(get(e, DEP_PATH "fetch"));
    json_object_set_new(json_object_get(dep, "spec"), "replicas", json_integer(3));
    fake_stamp(&e->api, dep, get(e, DEP_PATH "fetch"));
    json_object_set_new(e->api.objs, DEP_PATH "fetch", dep);
    ctl_on_child_event(&e->ctrl, "MODIFIED", dep, 1);
    assert_int_equal(ctl_queue_len(e->ctrl.queue), 1);
    drain(e);
    put_server(e, "fetch", OVERRIDES_SPEC("{\"labels\":{\"x\":\"y\"}}"), 2);
    assert_int_equal(ctl_queue_len(e->ctrl.queue), 1);
}

/* Missing RBAC on a child kind: the 403 is the MCPServer's status message
 * (and a warning), not an endless silent retry. */
static void test_forbidden_child(void **state)
{
    env_t *e = *state;
    const json_t *srv;

    put_server(e, "fetch", fetch_spec, 1);
    e->api.fail_prefix = DEP_PATH;
    e->api.fail_status = 403;
    e->api.fail_count = 100;
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_ERROR);
    srv = get(e, SRV_PATH "fetch");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Failed");
    assert_string_equal(mcp_json_str(srv, "status.message"),
                        "applying Deployment \"fetch\" failed: injected failure");
    /* with the cache warm the apply is refused the same way */
    e->api.fail_count = 0;
    reconcile(e, "fetch");
    echo_watch(e);
    put_server(e, "fetch", OVERRIDES_SPEC("{\"labels\":{\"x\":\"y\"}}"), 2);
    e->api.fail_count = 100;
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_ERROR);
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.message"),
                        "applying Deployment \"fetch\" failed: injected failure");
    e->api.fail_count = 0;
}

/* An object server-side apply cannot type (a field a pod template does
 * not have): 500, but no retry helps: Failed with the apiserver's words. */
static void test_untypable_apply(void **state)
{
    env_t *e = *state;

    put_server(e, "fetch", fetch_spec, 1);
    e->api.fail_prefix = DEP_PATH;
    e->api.fail_status = 500;
    e->api.fail_message = "failed to create typed patch object (default/fetch; apps/v1, "
                          "Kind=Deployment): .spec.template.x: field not declared in schema";
    e->api.fail_count = 100;
    reconcile(e, "fetch"); /* GET 404s are not failed: the cache is cold, fetch fails first */
    e->api.fail_count = 0;
    reconcile(e, "fetch");
    echo_watch(e);
    put_server(e, "fetch", OVERRIDES_SPEC("{\"labels\":{\"x\":\"y\"}}"), 2);
    e->api.fail_count = 100;
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_ERROR);
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.phase"), "Failed");
    assert_non_null(strstr(mcp_json_str(get(e, SRV_PATH "fetch"), "status.message"),
                           "applying Deployment \"fetch\" failed: failed to create typed patch"));
    e->api.fail_count = 0;
    e->api.fail_message = NULL;
}

static void test_running_and_port_change(void **state)
{
    env_t *e = *state;
    const json_t *srv;

    put_server(e, "fetch", fetch_spec, 1);
    reconcile(e, "fetch");
    echo_watch(e);
    /* the proxy alone is not enough: the MCP server pod must be ready too */
    proxy_available(e, "fetch", 1);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 0);
    srv = get(e, SRV_PATH "fetch");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Pending");
    assert_string_equal(mcp_json_str(srv, "status.message"), "MCP server is starting");
    pod_event(e, "fetch", POD_READY);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 0);
    assert_int_equal(e->api.status_writes, 1);
    srv = get(e, SRV_PATH "fetch");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Running");
    assert_string_equal(mcp_json_str(srv, "status.message"), "MCP server is running");
    assert_string_equal(mcp_json_str(condition(srv, "Ready"), "status"), "True");

    put_server(e, "fetch",
               "{\"image\":\"docker.io/mcp/fetch\",\"port\":9000,"
               "\"permissionProfile\":{\"type\":\"builtin\",\"name\":\"network\"}}",
               2);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 2); /* Deployment and Service */
    srv = get(e, SRV_PATH "fetch");
    assert_int_equal(json_integer_value(mcp_json_get(srv, "status.observedGeneration")), 2);
    assert_string_equal(mcp_json_str(srv, "status.url"),
                        "http://mcp-fetch-proxy.default.svc.cluster.local:9000/mcp");
    assert_int_equal(
        json_integer_value(json_object_get(
            json_array_get(mcp_json_get(get(e, SVC_PATH "mcp-fetch-proxy"), "spec.ports"), 0),
            "port")),
        9000);
}

/* A Warning Event with this reason was posted (its note: the status message). */
static bool warned(env_t *e, const char *reason, const char *note)
{
    const char *k;
    json_t *v;

    json_object_foreach(e->api.objs, k, v)
    {
        if (strstr(k, "/events/") && strcmp(mcp_json_str(v, "type") ?: "", "Warning") == 0 &&
            strcmp(mcp_json_str(v, "reason") ?: "", reason) == 0 &&
            strcmp(mcp_json_str(v, "note") ?: "", note) == 0)
            return true;
    }
    return false;
}

/* A failure that comes and goes (a crash loop) is one Warning per reason and
 * window, not one per status change. */
static void test_event_window(void **state)
{
    (void)state;
    assert_false(ctl_event_recent("uid-w", "CrashLoopBackOff", "m", 600));
    assert_true(ctl_event_recent("uid-w", "CrashLoopBackOff", "m", 600));
    assert_false(ctl_event_recent("uid-w", "ProxyNotReady", "m", 600));
    assert_false(ctl_event_recent("uid-w", "ProxyNotReady", "news", 600)); /* says more */
    assert_false(ctl_event_recent("uid-other", "CrashLoopBackOff", "m", 600));
    assert_false(ctl_event_recent("uid-w", "PodFailed", "m", 0));
    assert_false(ctl_event_recent("uid-w", "PodFailed", "m", 0)); /* window over: again */
}

/* Pod states reach the status; the same state again makes no write and
 * queues nothing; the pod's deletion is noticed. */
static void test_pod_states(void **state)
{
    env_t *e = *state;
    const json_t *srv;

    put_server(e, "fetch", fetch_spec, 1);
    reconcile(e, "fetch");
    echo_watch(e);
    proxy_available(e, "fetch", 1);
    pod_event(e, "fetch", POD_CRASHING);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    srv = get(e, SRV_PATH "fetch");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Failed");
    assert_string_equal(mcp_json_str(srv, "status.message"),
                        "MCP server pod failed: CrashLoopBackOff (exit code 1)");
    assert_string_equal(mcp_json_str(condition(srv, "Ready"), "reason"), "CrashLoopBackOff");
    assert_int_equal(fake_writes(&e->api), 2); /* the status and one Warning Event */
    assert_true(
        warned(e, "CrashLoopBackOff", "MCP server pod failed: CrashLoopBackOff (exit code 1)"));
    /* the kubelet rewrites the status (a longer back-off): nothing to do */
    while (ctl_queue_len(e->ctrl.queue) > 0)
        free(ctl_queue_get(e->ctrl.queue)), ctl_queue_done(e->ctrl.queue, NS "/fetch");
    pod_event(e, "fetch", POD_CRASHING);
    assert_int_equal(ctl_queue_len(e->ctrl.queue), 0);
    /* fixed: ready again */
    pod_event(e, "fetch", POD_READY);
    assert_int_equal(ctl_queue_len(e->ctrl.queue), 1);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.phase"), "Running");
    /* the pod is deleted (the StatefulSet makes a new one) */
    pod_event(e, "fetch", NULL);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    srv = get(e, SRV_PATH "fetch");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Pending");
    assert_string_equal(mcp_json_str(condition(srv, "Ready"), "status"), "False");
}

/* A changed proxy is Running only once its rollout is done (kubectl rollout
 * status's rule): not while an old pod still answers beside the new one,
 * nor before the Deployment controller has seen the new spec. */
static void test_rollout_not_ready(void **state)
{
    env_t *e = *state;
    char path[256] = DEP_PATH "fetch";
    json_t *dep;

    put_server(e, "fetch", fetch_spec, 1);
    reconcile(e, "fetch");
    echo_watch(e);
    pod_event(e, "fetch", POD_READY);
    proxy_available(e, "fetch", 1);
    reconcile(e, "fetch");
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.phase"), "Running");
    proxy_rollout(e, "fetch", 1, 2, 1, 1); /* the old pod available, the new one starting */
    reconcile(e, "fetch");
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.phase"), "Pending");
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.message"),
                        "MCP server is starting: waiting for the proxy to be ready");
    dep = json_deep_copy(get(e, path)); /* a new spec the Deployment controller has not seen */
    json_object_set_new(json_object_get(dep, "metadata"), "generation", json_integer(3));
    json_object_set_new(e->api.objs, path, dep);
    proxy_rollout(e, "fetch", 1, 1, 1, 0);
    reconcile(e, "fetch");
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.phase"), "Pending");
    proxy_rollout(e, "fetch", 1, 1, 1, 1); /* done */
    reconcile(e, "fetch");
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.phase"), "Running");
}

/* ToolHive's newer fields: proxyPort is port; a field that guards the server
 * (oidcConfigRef) keeps it from running, naming the field; one that does not
 * (telemetryConfigRef) is named in condition FieldsNotImplemented. */
static void test_toolhive_head_fields(void **state)
{
    env_t *e = *state;
    const json_t *srv, *svc;

    put_server(e, "guarded",
               "{\"image\":\"docker.io/mcp/fetch\",\"proxyPort\":9000,"
               "\"oidcConfigRef\":{\"name\":\"idp\",\"audience\":\"a\"}}",
               1);
    assert_int_equal(reconcile(e, "guarded"), CTL_RES_INVALID);
    assert_int_equal(e->api.applies, 0);
    srv = get(e, SRV_PATH "guarded");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Failed");
    assert_string_equal(mcp_json_str(srv, "status.message"),
                        "spec.oidcConfigRef is not implemented by this operator yet: the MCP "
                        "server is not run while set, so that it never runs without the "
                        "protection asked for");
    assert_null(condition(srv, CTL_COND_NOT_IMPLEMENTED));

    put_server(e, "ignored",
               "{\"image\":\"docker.io/mcp/fetch\",\"proxyPort\":9000,\"replicas\":1,"
               "\"telemetryConfigRef\":{\"name\":\"t\"},\"audit\":{\"enabled\":true}}",
               1);
    assert_int_equal(reconcile(e, "ignored"), CTL_RES_OK);
    svc = get(e, SVC_PATH "mcp-ignored-proxy");
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(mcp_json_get(svc, "spec.ports"), 0), "port")),
                     9000);
    srv = get(e, SRV_PATH "ignored");
    assert_string_equal(mcp_json_str(condition(srv, CTL_COND_NOT_IMPLEMENTED), "message"),
                        "spec.telemetryConfigRef, spec.audit: accepted, not implemented by this "
                        "operator yet");
    assert_string_equal(mcp_json_str(condition(srv, CTL_COND_NOT_IMPLEMENTED), "status"), "True");
}

/* ToolHive's restart trigger: a new restarted-at annotation rolls the proxy
 * and the MCP server pod (both templates carry it), the same value again
 * writes nothing. */
static void test_restarted_at(void **state)
{
    env_t *e = *state;
    json_t *srv;
    const char *key = "mcpserver.toolhive.stacklok.dev/restarted-at";

    put_server(e, "fetch", fetch_spec, 1);
    reconcile(e, "fetch");
    echo_watch(e);
    srv = json_deep_copy(get(e, SRV_PATH "fetch"));
    json_object_set_new(json_object_get(srv, "metadata"), "annotations",
                        json_pack("{s:s}", key, "2026-12-08T01:00:00Z"));
    json_object_set_new(e->api.objs, SRV_PATH "fetch", srv);
    ctl_on_server_event(&e->ctrl, "MODIFIED", srv, 1);
    e->api.applies = 0;
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 2); /* the Deployment and the StatefulSet */
    assert_string_equal(
        json_string_value(json_object_get(
            mcp_json_get(get(e, DEP_PATH "fetch"), "spec.template.metadata.annotations"), key)),
        "2026-12-08T01:00:00Z");
    assert_string_equal(
        json_string_value(json_object_get(
            mcp_json_get(get(e, "/apis/apps/v1/namespaces/default/statefulsets/fetch"),
                         "spec.template.metadata.annotations"),
            key)),
        "2026-12-08T01:00:00Z");
    echo_watch(e);
    e->api.applies = 0;
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 0);
}

static void test_invalid_creates_nothing(void **state)
{
    env_t *e = *state;
    const json_t *srv;
    const char *msg;

    put_server(e, "bad",
               "{\"image\":\"docker.io/mcp/fetch\",\"port\":70000,\"transport\":\"grpc\"}", 1);
    assert_int_equal(reconcile(e, "bad"), CTL_RES_INVALID);
    assert_int_equal(e->api.applies, 0);
    assert_int_equal(e->api.status_writes, 1);
    srv = get(e, SRV_PATH "bad");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Failed");
    msg = mcp_json_str(condition(srv, "Valid"), "message");
    assert_string_equal(mcp_json_str(condition(srv, "Valid"), "status"), "False");
    assert_string_equal(msg, "MCPServer \"bad\" is invalid: [spec.port: Invalid value: 70000: must "
                             "be between 1 and 65535, spec.transport: Unsupported value: \"grpc\": "
                             "supported values: \"stdio\", \"sse\", \"streamable-http\"]");
    assert_null(json_object_get(json_object_get(srv, "status"), "url"));
    /* again: no second status write, no Event storm */
    assert_int_equal(reconcile(e, "bad"), CTL_RES_INVALID);
    assert_int_equal(fake_writes(&e->api), 0);
}

static void test_object_in_the_way(void **state)
{
    env_t *e = *state;
    json_t *svc = json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "v1", "kind", "Service",
                            "metadata", "name", "mcp-fetch-proxy", "namespace", NS);
    double rq = 0;
    const json_t *srv;
    json_t *before;

    fake_stamp(&e->api, svc, NULL);
    json_object_set_new(e->api.objs, SVC_PATH "mcp-fetch-proxy", svc);
    before = json_deep_copy(svc);
    put_server(e, "fetch", fetch_spec, 1);
    fake_reset_counts(&e->api);
    assert_int_equal(ctl_reconcile(&e->ctrl, NS "/fetch", &rq), CTL_RES_CONFLICT);
    assert_true(rq > 0);
    /* the watch cache does not show it (no labels of ours): the create-only
     * apply was refused (409), then it was read; it was not changed */
    assert_true(json_equal(before, get(e, SVC_PATH "mcp-fetch-proxy")));
    json_decref(before);
    assert_int_equal(e->api.gets, 1);
    srv = get(e, SRV_PATH "fetch");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Failed");
    assert_string_equal(mcp_json_str(srv, "status.message"),
                        "Service \"mcp-fetch-proxy\" already exists and is not controlled by this "
                        "MCPServer");
    /* the foreign Service is untouched */
    assert_null(mcp_json_get(get(e, SVC_PATH "mcp-fetch-proxy"), "metadata.ownerReferences"));
}

/* Ours but without our labels (so not in the label-selected cache) and out
 * of date: the create-only apply is refused, the read shows it ours, and it
 * is applied (labels back). */
static void test_ours_unlabelled(void **state)
{
    env_t *e = *state;
    json_t *svc;

    put_server(e, "fetch", fetch_spec, 1);
    svc = json_pack("{s:s, s:s, s:{s:s, s:s, s:[{s:s, s:s, s:s, s:O, s:b}]}}", "apiVersion", "v1",
                    "kind", "Service", "metadata", "name", "mcp-fetch-proxy", "namespace", NS,
                    "ownerReferences", "apiVersion", MCP_API_VERSION, "kind", MCP_KIND, "name",
                    "fetch", "uid", mcp_json_get(get(e, SRV_PATH "fetch"), "metadata.uid"),
                    "controller", 1);
    fake_stamp(&e->api, svc, NULL);
    json_object_set_new(e->api.objs, SVC_PATH "mcp-fetch-proxy", svc);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.gets, 1);
    assert_int_equal(e->api.applies, 8);
    assert_string_equal(json_string_value(json_object_get(
                            mcp_json_get(get(e, SVC_PATH "mcp-fetch-proxy"), "metadata.labels"),
                            "app.kubernetes.io/managed-by")),
                        CTL_MANAGED_BY);
    assert_non_null(mcp_json_get(get(e, SVC_PATH "mcp-fetch-proxy"), "spec.ports"));
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.phase"), "Pending");
}

/* A foreign object with our labels is in the cache: the MCPServer fails
 * without a single request about it. */
static void test_foreign_in_cache(void **state)
{
    env_t *e = *state;
    json_t *svc =
        json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}}", "apiVersion", "v1", "kind", "Service",
                  "metadata", "name", "mcp-fetch-proxy", "namespace", NS, "labels",
                  "app.kubernetes.io/managed-by", CTL_MANAGED_BY, "toolhive-name", "fetch");

    fake_stamp(&e->api, svc, NULL);
    json_object_set_new(e->api.objs, SVC_PATH "mcp-fetch-proxy", svc);
    put_server(e, "fetch", fetch_spec, 1);
    ctl_on_child_event(&e->ctrl, "ADDED", svc, 1);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_CONFLICT);
    assert_null(strstr(e->api.log, SVC_PATH "mcp-fetch-proxy")); /* no write */
    assert_int_equal(e->api.gets, 1);                            /* the live look */
    assert_null(mcp_json_get(get(e, SVC_PATH "mcp-fetch-proxy"), "metadata.ownerReferences"));
}

/* The cache still shows a child of a deleted MCPServer of the same name (its
 * deletion not seen yet, or missed): the live object decides, and the name
 * is free. Found by a user who deleted and re-applied an MCPServer and got
 * "ServiceAccount ... already exists and is not controlled by this
 * MCPServer" for an object that did not exist. */
static void test_stale_foreign_in_cache(void **state)
{
    env_t *e = *state;
    json_t *sa = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}, s:[{s:s, s:s, s:s, s:s, s:b}]}}",
                           "apiVersion", "v1", "kind", "ServiceAccount", "metadata", "name",
                           "fetch-proxy-runner", "namespace", NS, "labels",
                           "app.kubernetes.io/managed-by", CTL_MANAGED_BY, "toolhive-name", "fetch",
                           "ownerReferences", "apiVersion", MCP_API_VERSION, "kind", MCP_KIND,
                           "name", "fetch", "uid", "uid-of-the-deleted-one", "controller", 1);

    fake_stamp(&e->api, sa, NULL);
    put_server(e, "fetch", fetch_spec, 1);
    ctl_on_child_event(&e->ctrl, "ADDED", sa, 1); /* in the cache only */
    json_decref(sa);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "fetch"), "status.phase"), "Pending");
    assert_non_null(get(e, "/api/v1/namespaces/default/serviceaccounts/fetch-proxy-runner"));
}

/* The workloads (StatefulSet, Deployment) are applied only once the other
 * children exist: their pods use the ServiceAccounts and must start under
 * the NetworkPolicy. */
static void test_workloads_last(void **state)
{
    env_t *e = *state;

    put_server(e, "iso",
               "{\"image\":\"docker.io/mcp/time\",\"permissionProfile\":{\"type\":\"builtin\","
               "\"name\":\"none\"}}",
               1);
    e->api.fail_prefix = NP_PATH;
    e->api.fail_status = 503;
    e->api.fail_count = 1;
    assert_int_equal(reconcile(e, "iso"), CTL_RES_ERROR);
    assert_null(strstr(e->api.log, "statefulsets"));
    assert_null(strstr(e->api.log, "deployments"));
    assert_non_null(strstr(e->api.log, "serviceaccounts"));
    assert_int_equal(reconcile(e, "iso"), CTL_RES_OK);
    assert_non_null(get(e, NP_PATH "iso"));
    assert_non_null(get(e, DEP_PATH "iso"));
}

/* The profile decides the egress rules of the one NetworkPolicy, which
 * stays: switching "none" to "network" drops the Egress type, not the
 * ingress rule that keeps everyone but the proxy out. */
static void test_networkpolicy_follows_profile(void **state)
{
    env_t *e = *state;
    const json_t *np;

    put_server(e, "iso",
               "{\"image\":\"docker.io/mcp/time\",\"permissionProfile\":{\"type\":\"builtin\","
               "\"name\":\"none\"}}",
               1);
    assert_int_equal(reconcile(e, "iso"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 8);
    np = get(e, NP_PATH "iso");
    assert_int_equal(json_array_size(mcp_json_get(np, "spec.policyTypes")), 2);
    assert_int_equal(json_array_size(mcp_json_get(np, "spec.egress")), 1); /* DNS */
    echo_watch(e);
    put_server(e, "iso",
               "{\"image\":\"docker.io/mcp/time\",\"permissionProfile\":{\"type\":\"builtin\","
               "\"name\":\"network\"}}",
               2);
    assert_int_equal(reconcile(e, "iso"), CTL_RES_OK);
    assert_int_equal(e->api.deletes, 0);
    np = get(e, NP_PATH "iso");
    assert_int_equal(json_array_size(mcp_json_get(np, "spec.policyTypes")), 1);
    assert_null(mcp_json_get(np, "spec.egress"));
}

/* The previous version's egress-only policy "<name>-egress" is ours: it goes
 * once "<name>" replaces it; one of that name we do not own stays. */
static void test_old_networkpolicy_pruned(void **state)
{
    env_t *e = *state;
    json_t *old;

    put_server(e, "iso", fetch_spec, 1);
    for (int owned = 1; owned >= 0; owned--) {
        old = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}}", "apiVersion",
                        "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata", "name",
                        "iso-egress", "namespace", NS, "labels", "app.kubernetes.io/managed-by",
                        CTL_MANAGED_BY, "toolhive-name", "iso");
        if (owned)
            json_object_set_new(json_object_get(old, "metadata"), "ownerReferences",
                                json_pack("[{s:s, s:s, s:s, s:O, s:b}]", "apiVersion",
                                          MCP_API_VERSION, "kind", MCP_KIND, "name", "iso", "uid",
                                          mcp_json_get(get(e, SRV_PATH "iso"), "metadata.uid"),
                                          "controller", 1));
        fake_stamp(&e->api, old, NULL);
        json_object_set(e->api.objs, NP_PATH "iso-egress", old);
        ctl_on_child_event(&e->ctrl, "ADDED", old, 1);
        json_decref(old);
        fake_reset_counts(&e->api);
        assert_int_equal(reconcile(e, "iso"), CTL_RES_OK);
        assert_int_equal(e->api.deletes, owned);
        if (owned)
            assert_null(get(e, NP_PATH "iso-egress"));
        else
            assert_non_null(get(e, NP_PATH "iso-egress"));
        assert_non_null(get(e, NP_PATH "iso"));
    }
}

/* ---- upgrade from the previous version (ToolHive proxy runner) ------------ */

#define UPGRADE_DIR "test/fixtures/controller/upgrade"

static char *path_of(const json_t *o, char *buf, size_t len)
{
    const ctl_kind_t *k = ctl_kind_find(mcp_json_str(o, "kind"));

    assert_non_null(k);
    snprintf(buf, len, "%s/namespaces/%s/%s/%s", k->base, mcp_json_str(o, "metadata.namespace"),
             k->resource, mcp_json_str(o, "metadata.name"));
    return buf;
}

/* Load one case: the MCPServer, its ConfigMap profile if any, and the
 * objects the previous version applied, as the watches would list them at
 * start-up. The server's name goes to name[64]. */
static void load_previous(env_t *e, const char *dir, char *name)
{
    char path[600];
    json_t *srv, *prev, *o, *profile;
    size_t i;

    snprintf(path, sizeof(path), "%s/mcpserver.json", dir);
    srv = tu_load_json(path);
    snprintf(name, 64, "%s", mcp_json_str(srv, "metadata.name"));
    snprintf(path, sizeof(path), SRV_PATH "%s", name);
    json_object_set_new(e->api.objs, path, srv);
    ctl_on_server_event(&e->ctrl, "ADDED", srv, 1);
    snprintf(path, sizeof(path), "%s/profile.json", dir);
    profile = json_load_file(path, 0, NULL);
    if (profile) {
        char *text = json_dumps(profile, JSON_COMPACT), cm[256];
        snprintf(cm, sizeof(cm), "/api/v1/namespaces/%s/configmaps/%s", NS,
                 mcp_json_str(srv, "spec.permissionProfile.name"));
        json_object_set_new(e->api.objs, cm,
                            json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind",
                                      "ConfigMap", "metadata", "name", "x", "data",
                                      mcp_json_str(srv, "spec.permissionProfile.key"), text));
        free(text);
        json_decref(profile);
    }
    snprintf(path, sizeof(path), "%s/previous.json", dir);
    prev = tu_load_json(path);
    json_array_foreach(prev, i, o)
    {
        json_t *live = json_deep_copy(o);
        fake_stamp(&e->api, live, NULL);
        json_object_set_new(e->api.objs, path_of(live, path, sizeof(path)), live);
        ctl_on_child_event(&e->ctrl, "ADDED", live, 1);
    }
    json_decref(prev);
}

/* Every child in the fake apiserver is one of the desired objects, equal to
 * it (apply replaced it whole), and every desired object exists. */
static void assert_exactly_desired(env_t *e, const char *name)
{
    char key[128], path[600];
    json_t *srv, *desired, *o;
    mcp_server_t s;
    const char *p;
    size_t i, n = 0;

    snprintf(path, sizeof(path), SRV_PATH "%s", name);
    srv = get(e, path);
    assert_int_equal(mcp_server_parse(srv, &s, NULL), 0);
    desired = ctl_desired_objects(&s, &(ctl_options_t){0});
    json_array_foreach(desired, i, o)
    {
        const json_t *live = get(e, path_of(o, path, sizeof(path)));
        if (!live || !ctl_json_contains(live, o)) {
            char *text = json_dumps(live, JSON_INDENT(1));
            fail_msg("%s: %s differs or is missing: %s", name, path, text ? text : "(none)");
        }
    }
    json_object_foreach(e->api.objs, p, o)
    {
        if (!ctl_kind_find(mcp_json_str(o, "kind")) ||
            strcmp(mcp_json_str(o, "metadata.labels.toolhive-name") ?: "", name) != 0)
            continue; /* the MCPServer, ConfigMaps, Events, other cases' objects */
        n++;
        snprintf(key, sizeof(key), "%s", mcp_json_str(o, "metadata.name"));
        bool found = false;
        json_t *d;
        json_array_foreach(desired, i, d)
        {
            found |= strcmp(mcp_json_str(d, "kind"), mcp_json_str(o, "kind")) == 0 &&
                     strcmp(mcp_json_str(d, "metadata.name"), key) == 0;
        }
        if (!found)
            fail_msg("%s: left behind: %s", name, p);
    }
    assert_int_equal(n, json_array_size(desired));
    json_decref(desired);
    mcp_server_dispose(&s);
}

static void test_upgrade(void **state)
{
    env_t *e = *state;
    char **cases = tu_list_dirs(UPGRADE_DIR);
    size_t n = 0;

    for (size_t i = 0; cases[i]; i++, n++) {
        char dir[512], path[600], name[64];
        const json_t *dep;
        size_t n_vols;

        snprintf(dir, sizeof(dir), "%s/%s", UPGRADE_DIR, cases[i]);
        load_previous(e, dir, name);
        assert_int_equal(reconcile(e, name), CTL_RES_OK);
        /* the old Role is gone, the binding now names the chart's ClusterRole */
        snprintf(path, sizeof(path),
                 "/apis/rbac.authorization.k8s.io/v1/namespaces/" NS "/roles/%s-proxy-runner",
                 name);
        assert_null(get(e, path));
        snprintf(path, sizeof(path),
                 "/apis/rbac.authorization.k8s.io/v1/namespaces/" NS
                 "/rolebindings/%s-proxy-runner",
                 name);
        assert_string_equal(mcp_json_str(get(e, path), "roleRef.kind"), "ClusterRole");
        assert_string_equal(mcp_json_str(get(e, path), "roleRef.name"),
                            CTL_DEFAULT_PROXY_CLUSTER_ROLE);
        snprintf(path, sizeof(path), DEP_PATH "%s", name);
        dep = get(e, path);
        assert_int_equal(json_array_size(mcp_json_get(dep, "spec.template.spec.containers")), 1);
        assert_string_equal(mcp_json_str(json_array_get(mcp_json_get(dep, "spec.template.spec."
                                                                          "containers"),
                                                        0),
                                         "name"),
                            "proxy");
        /* none of the runner's volumes; the profile's for the egress proxy */
        n_vols = json_array_size(mcp_json_get(dep, "spec.template.spec.volumes"));
        assert_int_equal(n_vols, strcmp(cases[i], "seed-configmap-profile") == 0 ? 1 : 0);
        assert_exactly_desired(e, name);
        /* converted once: the watches echo the writes, and nothing more happens */
        echo_watch(e);
        assert_int_equal(reconcile(e, name), CTL_RES_OK);
        assert_int_equal(fake_writes(&e->api), 0);
    }
    assert_true(n >= 4);
    tu_free_list(cases);
}

/* A Role of that name we do not control stays. */
static void test_upgrade_foreign_role_kept(void **state)
{
    env_t *e = *state;
    const char *role =
        "/apis/rbac.authorization.k8s.io/v1/namespaces/" NS "/roles/fetch-proxy-runner";
    json_t *r = json_pack("{s:s, s:s, s:{s:s, s:s, s:{s:s, s:s}}}", "apiVersion",
                          "rbac.authorization.k8s.io/v1", "kind", "Role", "metadata", "name",
                          "fetch-proxy-runner", "namespace", NS, "labels",
                          "app.kubernetes.io/managed-by", CTL_MANAGED_BY, "toolhive-name", "fetch");

    fake_stamp(&e->api, r, NULL);
    json_object_set_new(e->api.objs, role, r);
    put_server(e, "fetch", fetch_spec, 1);
    ctl_on_child_event(&e->ctrl, "ADDED", r, 1);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.deletes, 0);
    assert_non_null(get(e, role));
}

static void test_configmap_profile(void **state)
{
    env_t *e = *state;
    const char *spec = "{\"image\":\"docker.io/mcp/fetch\",\"permissionProfile\":{\"type\":"
                       "\"configmap\",\"name\":\"prof\",\"key\":\"p.json\"}}";
    json_t *cm, *np;

    put_server(e, "cm", spec, 1);
    assert_int_equal(reconcile(e, "cm"), CTL_RES_ERROR);
    assert_int_equal(e->api.applies, 0);
    assert_non_null(
        strstr(mcp_json_str(get(e, SRV_PATH "cm"), "status.message"), "ConfigMap \"prof\""));
    cm = json_pack("{s:s, s:s, s:{s:s}, s:{s:s}}", "apiVersion", "v1", "kind", "ConfigMap",
                   "metadata", "name", "prof", "data", "p.json",
                   "{\"network\":{\"outbound\":{\"allow_host\":[\"example.com\"],"
                   "\"allow_port\":[443]}}}");
    json_object_set_new(e->api.objs, "/api/v1/namespaces/default/configmaps/prof", cm);
    assert_int_equal(reconcile(e, "cm"), CTL_RES_OK);
    np = get(e, NP_PATH "cm");
    assert_non_null(np);
    /* allow_host: DNS and the proxy's egress port only, no direct 443 */
    assert_int_equal(json_array_size(mcp_json_get(np, "spec.egress")), 2);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_array_get(
                json_object_get(json_array_get(mcp_json_get(np, "spec.egress"), 1), "ports"), 0),
            "port")),
        CTL_EGRESS_PORT);
    assert_int_equal(e->api.events, 1); /* Applied; nothing left unenforced */
    /* a profile that does not follow the format fails and keeps the policy */
    echo_watch(e);
    json_object_set_new(json_object_get(cm, "data"), "p.json",
                        json_string("{\"network\":{\"outbound\":{\"allow_host\":"
                                    "[\"https://example.com/\"]}}}"));
    fake_reset_counts(&e->api);
    assert_int_equal(reconcile(e, "cm"), CTL_RES_ERROR);
    assert_int_equal(e->api.applies + e->api.deletes, 0);
    assert_non_null(get(e, NP_PATH "cm"));
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "cm"), "status.message"),
                        "permission profile ConfigMap \"prof\" key \"p.json\": "
                        "network.outbound.allow_host entry \"https://example.com/\": a URL, not "
                        "a host (an entry is a host name, \".<domain>\", \"*.<domain>\" or an IP "
                        "address, without scheme, port or path)");
    assert_string_equal(mcp_json_str(get(e, SRV_PATH "cm"), "status.phase"), "Failed");
}

static void test_transient_error_retried(void **state)
{
    env_t *e = *state;
    double rq = 0;

    put_server(e, "fetch", fetch_spec, 1);
    e->api.fail_prefix = DEP_PATH;
    e->api.fail_status = 500;
    e->api.fail_count = 2; /* the first two GETs */
    fake_reset_counts(&e->api);
    assert_int_equal(ctl_reconcile(&e->ctrl, NS "/fetch", &rq), CTL_RES_ERROR);
    assert_true(rq == 0); /* rate-limited retry, not a fixed delay */
    assert_int_equal(e->api.status_writes, 0);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_ERROR);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_non_null(get(e, DEP_PATH "fetch"));
}

static void test_process_next_requeues(void **state)
{
    env_t *e = *state;

    put_server(e, "fetch", fetch_spec, 1); /* queues the key */
    e->api.fail_prefix = "/api/v1/namespaces/default/serviceaccounts/";
    e->api.fail_status = 503;
    e->api.fail_count = 1;
    assert_true(ctl_process_next(&e->ctrl));
    assert_int_equal(ctl_queue_failures(e->ctrl.queue, NS "/fetch"), 1);
    assert_true(ctl_process_next(&e->ctrl)); /* comes back after ~5 ms */
    assert_int_equal(ctl_queue_failures(e->ctrl.queue, NS "/fetch"), 0);
    assert_non_null(get(e, DEP_PATH "fetch"));
    assert_true(ctl_metrics_writes(e->ctrl.metrics) >= 8);
}

static void test_deleted_server(void **state)
{
    env_t *e = *state;
    json_t *obj;

    put_server(e, "fetch", fetch_spec, 1);
    obj = json_incref(get(e, SRV_PATH "fetch"));
    ctl_on_server_event(&e->ctrl, "DELETED", obj, 1);
    json_decref(obj);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(fake_writes(&e->api), 0);
}

/* Foreground deletion: the object stays with a deletionTimestamp while the
 * garbage collector works; the controller applies nothing and reports it. */
static void test_terminating(void **state)
{
    env_t *e = *state;
    json_t *obj;
    const json_t *srv;

    put_server(e, "fetch", fetch_spec, 1);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    echo_watch(e);
    obj = get(e, SRV_PATH "fetch");
    json_object_set_new(json_object_get(obj, "metadata"), "deletionTimestamp",
                        json_string("2026-11-23T04:50:00Z"));
    ctl_on_server_event(&e->ctrl, "MODIFIED", obj, 1);
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(e->api.applies, 0);
    assert_int_equal(e->api.status_writes, 1);
    srv = get(e, SRV_PATH "fetch");
    assert_string_equal(mcp_json_str(srv, "status.phase"), "Terminating");
    assert_string_equal(mcp_json_str(srv, "status.message"), "MCP server is being terminated");
    assert_string_equal(mcp_json_str(condition(srv, "Ready"), "reason"), "Terminating");
    assert_non_null(mcp_json_str(srv, "status.url"));
    /* settled: nothing more to write */
    assert_int_equal(reconcile(e, "fetch"), CTL_RES_OK);
    assert_int_equal(fake_writes(&e->api), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_then_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_is_noop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_echo_queues_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drift_repaired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_removed_fields_removed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_drops_field, setup, teardown),
        cmocka_unit_test_setup_teardown(test_other_managers_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forbidden_child, setup, teardown),
        cmocka_unit_test_setup_teardown(test_untypable_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_running_and_port_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pod_states, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollout_not_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_creates_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_toolhive_head_fields, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restarted_at, setup, teardown),
        cmocka_unit_test_setup_teardown(test_object_in_the_way, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ours_unlabelled, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_in_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_foreign_in_cache, setup, teardown),
        cmocka_unit_test(test_event_window),
        cmocka_unit_test_setup_teardown(test_workloads_last, setup, teardown),
        cmocka_unit_test_setup_teardown(test_networkpolicy_follows_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_old_networkpolicy_pruned, setup, teardown),
        cmocka_unit_test_setup_teardown(test_configmap_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_transient_error_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_process_next_requeues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deleted_server, setup, teardown),
        cmocka_unit_test_setup_teardown(test_terminating, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_upgrade_foreign_role_kept, setup, teardown),
    };
    if (getenv("TEST_FILTER"))
        cmocka_set_test_filter(getenv("TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
