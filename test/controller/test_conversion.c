/* The CRD's conversion webhook (controller/conversion.c): the flags' parse,
 * the wanted spec.conversion for a Service and for a URL, no write when the
 * live CRD has it already, a merge patch when the caBundle changed or the
 * target switched (the other target set to null), a missing CRD (404) and a
 * refusal (403, naming the RBAC rule) logged and survived, the CA file read
 * within its cap, and the loop patching again as soon as the CA file's
 * contents change. The CA's bytes never reach the log. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <cmocka.h>

#include "fakeapi.h"
#include "mcp/log.h"
#include "testutil.h"

#define CRD                                                                                        \
    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/mcpservers.toolhive.stacklok.dev"
#define CA_A "-----BEGIN CERTIFICATE-----\nQUFBQQ==\n-----END CERTIFICATE-----\n"
#define CA_B "-----BEGIN CERTIFICATE-----\nQkJCQg==\n-----END CERTIFICATE-----\n"
#define B64_OF                                                                                     \
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tClFVRkJRUT09Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K"

/* The fake apiserver with merge-patch semantics (RFC 7386) for the CRD, as
 * the real one applies them, a record of the last PATCH, an optional
 * refusal of PATCHes alone, and a lock so a test thread can watch a loop. */
typedef struct rec {
    mcp_kube_client_t super;
    fake_t api;
    pthread_mutex_t mu;
    char content_type[64];
    char *last_patch;
    long fail_patch_status; /* PATCHes answer this (0: none) */
} rec_t;

static json_t *merge_patch(json_t *target, const json_t *patch)
{
    const char *k;
    json_t *v;

    if (!json_is_object(patch)) {
        json_decref(target);
        return json_deep_copy(patch);
    }
    if (!json_is_object(target)) {
        json_decref(target);
        target = json_object();
    }
    json_object_foreach((json_t *)patch, k, v)
    {
        if (json_is_null(v))
            json_object_del(target, k);
        else
            json_object_set_new(target, k, merge_patch(json_incref(json_object_get(target, k)), v));
    }
    return target;
}

static int rec_request(mcp_kube_client_t *c, const mcp_kube_req_t *req, mcp_kube_resp_t *resp)
{
    rec_t *r = (rec_t *)c;
    int rc = 0;

    pthread_mutex_lock(&r->mu);
    if (strcmp(req->method, "PATCH") == 0) {
        json_t *old = json_object_get(r->api.objs, req->path), *in = json_loads(req->body, 0, NULL);

        r->api.patches++;
        snprintf(r->content_type, sizeof(r->content_type), "%s", req->content_type);
        free(r->last_patch);
        r->last_patch = strdup(req->body);
        if (r->fail_patch_status) {
            fake_respond(resp, r->fail_patch_status,
                         fake_status(r->fail_patch_status, "patch refused here"));
        } else if (!old) {
            fake_respond(resp, 404, fake_status(404, "not found"));
        } else {
            json_t *obj = merge_patch(json_deep_copy(old), in);
            json_object_set_new(r->api.objs, req->path, obj);
            fake_respond(resp, 200, json_deep_copy(obj));
        }
        json_decref(in);
    } else {
        rc = fake_request(&r->api.super, req, resp);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

static void rec_init(rec_t *r)
{
    memset(r, 0, sizeof(*r));
    fake_init(&r->api);
    r->super.request = rec_request;
    pthread_mutex_init(&r->mu, NULL);
}

static void rec_dispose(rec_t *r)
{
    free(r->last_patch);
    pthread_mutex_destroy(&r->mu);
    fake_dispose(&r->api);
}

/* The CRD as stored, with `conversion` (stolen; NULL: the default None). */
static void put_crd(rec_t *r, json_t *conversion)
{
    json_t *crd = json_pack(
        "{s:s, s:s, s:{s:s, s:s}, s:{s:s, s:o}}", "apiVersion", "apiextensions.k8s.io/v1", "kind",
        "CustomResourceDefinition", "metadata", "name", "mcpservers.toolhive.stacklok.dev",
        "resourceVersion", "7", "spec", "group", "toolhive.stacklok.dev", "conversion",
        conversion ? conversion : json_pack("{s:s}", "strategy", "None"));
    json_object_set_new(r->api.objs, CRD, crd);
}

static const json_t *live_conversion(rec_t *r)
{
    return mcp_json_get(json_object_get(r->api.objs, CRD), "spec.conversion");
}

static ctl_conversion_opts_t service_opts(void)
{
    ctl_conversion_opts_t o = {.ca_file = "unused", .period_s = 60, .ca_poll_s = 2};

    assert_int_equal(ctl_conversion_parse_service("mcp-system/mcp-operator-webhook:443", &o), 0);
    return o;
}

/* Log capture: stderr into a pipe around `call`. */
static char logbuf[32768];
#define CAPTURE(call)                                                                              \
    do {                                                                                           \
        int saved_, fds_[2];                                                                       \
        ssize_t n_;                                                                                \
        fflush(stderr);                                                                            \
        saved_ = dup(2);                                                                           \
        assert_int_equal(pipe(fds_), 0);                                                           \
        dup2(fds_[1], 2);                                                                          \
        call;                                                                                      \
        fflush(stderr);                                                                            \
        dup2(saved_, 2);                                                                           \
        close(saved_);                                                                             \
        close(fds_[1]);                                                                            \
        n_ = read(fds_[0], logbuf, sizeof(logbuf) - 1);                                            \
        close(fds_[0]);                                                                            \
        logbuf[n_ > 0 ? n_ : 0] = '\0';                                                            \
    } while (0)

static void assert_no_ca_in_log(void)
{
    assert_null(strstr(logbuf, "BEGIN CERTIFICATE"));
    assert_null(strstr(logbuf, "QUFBQQ"));
    assert_null(strstr(logbuf, "LS0tLS1CRUdJTi"));
}

/* ---- flags ------------------------------------------------------------------ */

static void test_flags(void **state)
{
    ctl_conversion_opts_t o = {0};
    const char *bad_services[] = {
        "",
        "svc:443",
        "ns/svc",
        "ns/svc:",
        "ns/svc:0",
        "ns/svc:65536",
        "ns/svc:44x",
        "/svc:443",
        "ns/:443",
        "Ns/svc:443",
        "ns/9svc:443",
        "ns-/svc:443",
        "ns/svc-:443",
        "ns/s_c:443",
        "a/b/c:443",
        "ns/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1"};
    const char *bad_urls[] = {"",
                              "http://127.0.0.1:9443",
                              "https://",
                              "https:///convert",
                              "https://h/x?y=1",
                              "https://h/x#f",
                              "https://user@h/",
                              "https://h /"};

    (void)state;
    assert_int_equal(ctl_conversion_parse_service("mcp-system/mcp-operator-webhook:443", &o), 0);
    assert_string_equal(o.service_ns, "mcp-system");
    assert_string_equal(o.service_name, "mcp-operator-webhook");
    assert_int_equal(o.service_port, 443);
    assert_true(ctl_conversion_on(&o));
    for (size_t i = 0; i < sizeof(bad_services) / sizeof(*bad_services); i++) {
        ctl_conversion_opts_t b = {0};
        if (ctl_conversion_parse_service(bad_services[i], &b) == 0)
            fail_msg("accepted --conversion-service=%s", bad_services[i]);
        assert_false(ctl_conversion_on(&b));
    }
    assert_int_equal(ctl_conversion_check_url("https://127.0.0.1:9443"), 0);
    assert_int_equal(ctl_conversion_check_url("https://webhook.example.com/base/"), 0);
    for (size_t i = 0; i < sizeof(bad_urls) / sizeof(*bad_urls); i++)
        if (ctl_conversion_check_url(bad_urls[i]) == 0)
            fail_msg("accepted --conversion-url=%s", bad_urls[i]);
}

/* ---- the wanted object --------------------------------------------------- */

static void test_desired_service(void **state)
{
    ctl_conversion_opts_t o = service_opts();
    json_t *got = ctl_conversion_desired(&o, CA_A, strlen(CA_A));
    json_t *want = json_pack("{s:s, s:{s:[s], s:{s:{s:s, s:s, s:s, s:i}, s:s}}}", "strategy",
                             "Webhook", "webhook", "conversionReviewVersions", "v1", "clientConfig",
                             "service", "namespace", "mcp-system", "name", "mcp-operator-webhook",
                             "path", "/convert", "port", 443, "caBundle", B64_OF);
    unsigned char raw[256];
    int n;

    (void)state;
    assert_non_null(got);
    if (!json_equal(got, want))
        fail_msg("got %s", json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS));
    /* the caBundle is the file's bytes, base64 */
    n = EVP_DecodeBlock(raw, (const unsigned char *)B64_OF, (int)strlen(B64_OF));
    assert_true(n >= (int)strlen(CA_A));
    assert_memory_equal(raw, CA_A, strlen(CA_A));
    json_decref(got);
    json_decref(want);
}

static void test_desired_url(void **state)
{
    ctl_conversion_opts_t o = {.url = "https://127.0.0.1:9443//", .ca_file = "x"};
    json_t *got = ctl_conversion_desired(&o, CA_A, strlen(CA_A));
    json_t *want = json_pack("{s:s, s:{s:[s], s:{s:s, s:s}}}", "strategy", "Webhook", "webhook",
                             "conversionReviewVersions", "v1", "clientConfig", "url",
                             "https://127.0.0.1:9443/convert", "caBundle", B64_OF);
    ctl_conversion_opts_t none = {.ca_file = "x"};

    (void)state;
    if (!json_equal(got, want))
        fail_msg("got %s", json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS));
    json_decref(got);
    json_decref(want);
    assert_null(ctl_conversion_desired(&none, CA_A, strlen(CA_A))); /* no target: off */
}

/* ---- patch or not ----------------------------------------------------------- */

static void test_no_patch_when_equal(void **state)
{
    rec_t r;
    ctl_conversion_opts_t o = service_opts();
    int rc;

    (void)state;
    rec_init(&r);
    put_crd(&r, ctl_conversion_desired(&o, CA_A, strlen(CA_A)));
    assert_false(ctl_conversion_needs_patch(json_object_get(r.api.objs, CRD), live_conversion(&r)));
    CAPTURE(rc = ctl_conversion_sync(&r.super, &o, CA_A, strlen(CA_A)));
    assert_int_equal(rc, 0);
    assert_int_equal(r.api.gets, 1);
    assert_int_equal(r.api.patches, 0);
    assert_string_equal(logbuf, ""); /* nothing to say at info */
    rec_dispose(&r);
}

static void test_patch_when_ca_changed(void **state)
{
    rec_t r;
    ctl_conversion_opts_t o = service_opts();
    json_t *want_b = ctl_conversion_desired(&o, CA_B, strlen(CA_B)), *patch;
    int rc;

    (void)state;
    rec_init(&r);
    put_crd(&r, ctl_conversion_desired(&o, CA_A, strlen(CA_A)));
    assert_true(ctl_conversion_needs_patch(json_object_get(r.api.objs, CRD), want_b));
    CAPTURE(rc = ctl_conversion_sync(&r.super, &o, CA_B, strlen(CA_B)));
    assert_int_equal(rc, 1);
    assert_int_equal(r.api.patches, 1);
    assert_string_equal(r.content_type, "application/merge-patch+json");
    /* the patch names spec.conversion alone, and drops a url */
    patch = json_loads(r.last_patch, 0, NULL);
    assert_non_null(patch);
    assert_int_equal(json_object_size(patch), 1);
    assert_int_equal(json_object_size(json_object_get(patch, "spec")), 1);
    assert_true(json_is_null(mcp_json_get(patch, "spec.conversion.webhook.clientConfig.url")));
    json_decref(patch);
    assert_true(json_equal((json_t *)live_conversion(&r), want_b));
    assert_string_equal(mcp_json_str(json_object_get(r.api.objs, CRD), "spec.group"),
                        "toolhive.stacklok.dev"); /* the rest of the CRD is untouched */
    assert_non_null(strstr(logbuf, "conversion webhook configured"));
    assert_non_null(strstr(logbuf, "mcp-system/mcp-operator-webhook:443"));
    assert_null(strstr(logbuf, "QkJCQg")); /* CA_B's bytes... */
    assert_null(strstr(logbuf, "LS0tLS1CRUdJTi"));
    /* in place now: the next check writes nothing */
    CAPTURE(rc = ctl_conversion_sync(&r.super, &o, CA_B, strlen(CA_B)));
    assert_int_equal(rc, 0);
    assert_int_equal(r.api.patches, 1);
    json_decref(want_b);
    rec_dispose(&r);
}

/* From strategy None, and from the Service to a URL: the Service goes. */
static void test_patch_switches_target(void **state)
{
    rec_t r;
    ctl_conversion_opts_t svc = service_opts();
    ctl_conversion_opts_t url = {.url = "https://127.0.0.1:9443", .ca_file = "x"};
    const json_t *cc;
    int rc;

    (void)state;
    rec_init(&r);
    put_crd(&r, NULL); /* as the chart ships it */
    CAPTURE(rc = ctl_conversion_sync(&r.super, &svc, CA_A, strlen(CA_A)));
    assert_int_equal(rc, 1);
    assert_string_equal(mcp_json_str(live_conversion(&r), "strategy"), "Webhook");
    CAPTURE(rc = ctl_conversion_sync(&r.super, &url, CA_A, strlen(CA_A)));
    assert_int_equal(rc, 1);
    assert_int_equal(r.api.patches, 2);
    assert_non_null(strstr(r.last_patch, "\"service\":null"));
    cc = mcp_json_get(live_conversion(&r), "webhook.clientConfig");
    assert_string_equal(mcp_json_str(cc, "url"), "https://127.0.0.1:9443/convert");
    assert_null(json_object_get(cc, "service"));
    assert_non_null(strstr(logbuf, "https://127.0.0.1:9443"));
    assert_no_ca_in_log();
    CAPTURE(rc = ctl_conversion_sync(&r.super, &url, CA_A, strlen(CA_A)));
    assert_int_equal(rc, 0);
    assert_int_equal(r.api.patches, 2);
    rec_dispose(&r);
}

/* ---- refusals ---------------------------------------------------------------- */

static void test_missing_crd(void **state)
{
    rec_t r;
    ctl_conversion_opts_t o = service_opts();
    int rc;

    (void)state;
    rec_init(&r); /* no CRD */
    CAPTURE(rc = ctl_conversion_sync(&r.super, &o, CA_A, strlen(CA_A)));
    assert_int_equal(rc, MCP_ENOENT);
    assert_int_equal(r.api.patches, 0);
    assert_non_null(strstr(logbuf, "\"level\":\"warn\""));
    assert_non_null(strstr(logbuf, "does not exist"));
    assert_no_ca_in_log();
    /* retried: once it exists, it is patched */
    put_crd(&r, NULL);
    CAPTURE(rc = ctl_conversion_sync(&r.super, &o, CA_A, strlen(CA_A)));
    assert_int_equal(rc, 1);
    rec_dispose(&r);
}

static void test_forbidden(void **state)
{
    rec_t r;
    ctl_conversion_opts_t o = service_opts();
    int rc;

    (void)state;
    rec_init(&r);
    put_crd(&r, NULL);
    r.api.fail_prefix = CRD;
    r.api.fail_status = 403;
    r.api.fail_count = 1;
    r.api.fail_message = "customresourcedefinitions.apiextensions.k8s.io "
                         "\"mcpservers.toolhive.stacklok.dev\" is forbidden: User "
                         "\"system:serviceaccount:mcp-system:mcp-operator-controller\" cannot get "
                         "resource";
    CAPTURE(rc = ctl_conversion_sync(&r.super, &o, CA_A, strlen(CA_A)));
    assert_int_equal(rc, MCP_EHTTP);
    assert_int_equal(r.api.patches, 0);
    assert_non_null(strstr(logbuf, "\"level\":\"warn\""));
    assert_non_null(strstr(logbuf, "cannot get resource")); /* the API's message */
    assert_non_null(strstr(logbuf, "resources [customresourcedefinitions]")); /* the rule */
    assert_non_null(strstr(logbuf, "verbs [get, patch]"));
    /* readable but not patchable */
    r.fail_patch_status = 403;
    CAPTURE(rc = ctl_conversion_sync(&r.super, &o, CA_A, strlen(CA_A)));
    assert_int_equal(rc, MCP_EHTTP);
    assert_int_equal(r.api.patches, 1);
    assert_non_null(strstr(logbuf, "\"step\":\"patch\""));
    assert_non_null(strstr(logbuf, "resourceNames [mcpservers.toolhive.stacklok.dev]"));
    assert_no_ca_in_log();
    /* another refusal: its status and message */
    r.fail_patch_status = 422;
    CAPTURE(rc = ctl_conversion_sync(&r.super, &o, CA_A, strlen(CA_A)));
    assert_int_equal(rc, MCP_EHTTP);
    assert_non_null(strstr(logbuf, "\"status\":\"422\""));
    assert_non_null(strstr(logbuf, "patch refused here"));
    assert_string_equal(mcp_json_str(live_conversion(&r), "strategy"), "None");
    rec_dispose(&r);
}

/* ---- the CA file --------------------------------------------------------------- */

static void test_read_ca(void **state)
{
    char dir[] = "/tmp/test-conversion-XXXXXX", path[256], why[128], *ca, *big;
    size_t len;

    (void)state;
    assert_non_null(mkdtemp(dir));
    tu_pathf(path, sizeof(path), "%s/ca.crt", dir);
    assert_int_equal(ctl_conversion_read_ca(path, &ca, &len, why, sizeof(why)), MCP_ENOENT);
    assert_null(ca);
    assert_int_equal(ctl_conversion_read_ca(dir, &ca, &len, why, sizeof(why)), MCP_EIO);
    assert_int_equal(mkfifo(path, 0600), 0); /* refused, without waiting for a writer */
    assert_int_equal(ctl_conversion_read_ca(path, &ca, &len, why, sizeof(why)), MCP_EIO);
    assert_string_equal(why, "not a regular file");
    unlink(path);
    assert_int_equal(tu_write_file(path, "not a certificate\n"), 0);
    assert_int_equal(ctl_conversion_read_ca(path, &ca, &len, why, sizeof(why)), MCP_EINVAL);
    assert_int_equal(tu_write_file(path, CA_A), 0);
    assert_int_equal(ctl_conversion_read_ca(path, &ca, &len, why, sizeof(why)), 0);
    assert_int_equal(len, strlen(CA_A));
    assert_string_equal(ca, CA_A);
    free(ca);
    /* exactly the cap is read; one byte more is refused */
    big = malloc(CTL_CONVERSION_CA_MAX + 2);
    memset(big, '\n', CTL_CONVERSION_CA_MAX + 1);
    memcpy(big, CA_A, strlen(CA_A));
    big[CTL_CONVERSION_CA_MAX] = '\0';
    assert_int_equal(tu_write_file(path, big), 0);
    assert_int_equal(ctl_conversion_read_ca(path, &ca, &len, why, sizeof(why)), 0);
    assert_int_equal(len, CTL_CONVERSION_CA_MAX);
    free(ca);
    big[CTL_CONVERSION_CA_MAX] = '\n';
    big[CTL_CONVERSION_CA_MAX + 1] = '\0';
    assert_int_equal(tu_write_file(path, big), 0);
    assert_int_equal(ctl_conversion_read_ca(path, &ca, &len, why, sizeof(why)), MCP_ETOOBIG);
    assert_non_null(strstr(why, "64 KiB"));
    free(big);
    unlink(path);
    rmdir(dir);
}

/* ---- the loop ------------------------------------------------------------------ */

typedef struct loop {
    rec_t *r;
    ctl_conversion_opts_t *o;
    volatile int *leading; /* NULL: no leader election */
} loop_t;

static bool loop_leading(void *ctx)
{
    return *((loop_t *)ctx)->leading != 0;
}

static void *loop_main(void *arg)
{
    loop_t *l = arg;

    ctl_conversion_run(&l->r->super, l->o, l->leading ? loop_leading : NULL, l);
    return NULL;
}

static int patches(rec_t *r)
{
    int n;

    pthread_mutex_lock(&r->mu);
    n = r->api.patches;
    pthread_mutex_unlock(&r->mu);
    return n;
}

static bool wait_patches(rec_t *r, int want)
{
    for (int i = 0; i < 500 && patches(r) < want; i++)
        tu_sleep_ms(10);
    return patches(r) == want;
}

/* Patched on start; a new CA in the file is patched in at once, not at the
 * next period (an hour here); nothing more while nothing changes. */
static void test_run_follows_ca(void **state)
{
    char dir[] = "/tmp/test-conversion-XXXXXX", path[256], tmp[256];
    volatile int stop = 0;
    rec_t r;
    ctl_conversion_opts_t o = service_opts();
    loop_t l = {&r, &o, NULL};
    pthread_t t;
    json_t *want;

    (void)state;
    assert_non_null(mkdtemp(dir));
    tu_pathf(path, sizeof(path), "%s/ca.crt", dir);
    tu_pathf(tmp, sizeof(tmp), "%s/ca.tmp", dir);
    assert_int_equal(tu_write_file(path, CA_A), 0);
    rec_init(&r);
    put_crd(&r, NULL);
    r.super.stop = &stop;
    o.ca_file = path;
    o.period_s = 3600;
    o.ca_poll_s = 0.02;
    assert_int_equal(pthread_create(&t, NULL, loop_main, &l), 0);
    assert_true(wait_patches(&r, 1));
    tu_sleep_ms(100);
    assert_int_equal(patches(&r), 1);
    /* the kubelet swaps a Secret volume's files: a rename */
    assert_int_equal(tu_write_file(tmp, CA_B), 0);
    assert_int_equal(rename(tmp, path), 0);
    assert_true(wait_patches(&r, 2));
    want = ctl_conversion_desired(&o, CA_B, strlen(CA_B));
    pthread_mutex_lock(&r.mu);
    assert_true(json_equal((json_t *)live_conversion(&r), want));
    pthread_mutex_unlock(&r.mu);
    json_decref(want);
    /* an unreadable CA keeps the last one: nothing is patched away */
    unlink(path);
    tu_sleep_ms(100);
    assert_int_equal(patches(&r), 2);
    stop = 1;
    assert_int_equal(pthread_join(t, NULL), 0);
    rmdir(dir);
    rec_dispose(&r);
}

/* A standby writes nothing; it patches as soon as it leads. */
static void test_run_only_leading(void **state)
{
    char dir[] = "/tmp/test-conversion-XXXXXX", path[256];
    volatile int stop = 0, leading = 0;
    rec_t r;
    ctl_conversion_opts_t o = service_opts();
    loop_t l = {&r, &o, &leading};
    pthread_t t;

    (void)state;
    assert_non_null(mkdtemp(dir));
    tu_pathf(path, sizeof(path), "%s/ca.crt", dir);
    assert_int_equal(tu_write_file(path, CA_A), 0);
    rec_init(&r);
    put_crd(&r, NULL);
    r.super.stop = &stop;
    o.ca_file = path;
    o.period_s = 3600;
    o.ca_poll_s = 0.02;
    assert_int_equal(pthread_create(&t, NULL, loop_main, &l), 0);
    tu_sleep_ms(300);
    assert_int_equal(patches(&r), 0);
    leading = 1;
    assert_true(wait_patches(&r, 1));
    stop = 1;
    assert_int_equal(pthread_join(t, NULL), 0);
    unlink(path);
    rmdir(dir);
    rec_dispose(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_desired_service),
        cmocka_unit_test(test_desired_url),
        cmocka_unit_test(test_no_patch_when_equal),
        cmocka_unit_test(test_patch_when_ca_changed),
        cmocka_unit_test(test_patch_switches_target),
        cmocka_unit_test(test_missing_crd),
        cmocka_unit_test(test_forbidden),
        cmocka_unit_test(test_read_ca),
        cmocka_unit_test(test_run_follows_ca),
        cmocka_unit_test(test_run_only_leading),
    };

    mcp_log_set_level(MCP_LOG_INFO);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
