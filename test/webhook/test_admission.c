/* In-process tests of the admission handler (wh_admit), no sockets.
 *
 * Data-driven: each folder test/fixtures/admission/<case>-{mutate,validate}/
 * holds review.json (the request body, sent as is) and expected.json
 * ({"status": <HTTP status>, "body": <response JSON>}, with response.patch
 * decoded from base64 into JSON so it reads as a patch). Every schema case
 * of test/fixtures/schema/ is also wrapped in a review and must give
 * exactly the patch, warnings and message that the schema tests expect.
 * MCP_UPDATE_GOLDEN=1 rewrites the expected files. Further cases: the body
 * cap, every prefix of a review, bytes that are not UTF-8, and allocation
 * failures injected into jansson at every call. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <openssl/evp.h>

#include "mcp/buf.h"
#include "mcp/common.h"
#include "../testutil.h"
#include "../../webhook/internal.h"

#define ADMISSION_DIR "test/fixtures/admission"
#define SCHEMA_DIR    "test/fixtures/schema"

/* Run the handler; returns the parsed body (new reference), status in *status. */
static json_t *admit(wh_endpoint_t ep, const char *body, size_t len, int *status,
                     wh_verdict_t *verdict)
{
    mcp_buf_t out;
    json_error_t err;
    wh_verdict_t v;
    json_t *j;

    mcp_buf_init(&out, WH_REPLY_MAX);
    *status = wh_admit(ep, body, len, &out, verdict ? verdict : &v);
    j = json_loadb(out.data ? out.data : "", out.len, 0, &err);
    if (!j)
        fail_msg("response is not JSON (%s): %.*s", err.text, (int)out.len, out.data);
    mcp_buf_dispose(&out);
    return j;
}

/* Replace response.patch (base64) by the JSON it encodes. */
static void decode_patch(json_t *body)
{
    json_t *resp = json_object_get(body, "response");
    const char *b64 = json_string_value(json_object_get(resp, "patch"));
    size_t n, pad = 0;
    unsigned char *raw;
    json_error_t err;
    json_t *patch;
    int len;

    if (!b64)
        return;
    n = strlen(b64);
    raw = malloc(n + 1);
    assert_non_null(raw);
    len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    assert_true(len >= 0);
    while (pad < n && pad < 2 && b64[n - 1 - pad] == '=')
        pad++;
    patch = json_loadb((const char *)raw, (size_t)len - pad, 0, &err);
    if (!patch)
        fail_msg("patch is not JSON: %s", err.text);
    json_object_set_new(resp, "patch", patch);
    free(raw);
}

static void assert_json_equal(const char *what, json_t *want, json_t *got)
{
    if (!json_equal(want, got)) {
        char *w = json_dumps(want, JSON_INDENT(2)), *g = json_dumps(got, JSON_INDENT(2));

        print_error("%s\n--- expected\n%s\n--- got\n%s\n", what, w, g);
        free(w);
        free(g);
        fail();
    }
}

static wh_endpoint_t endpoint_of(const char *name)
{
    size_t n = strlen(name);

    if (n > 7 && strcmp(name + n - 7, "-mutate") == 0)
        return WH_EP_MUTATE;
    if (n > 9 && strcmp(name + n - 9, "-validate") == 0)
        return WH_EP_VALIDATE;
    fail_msg("fixture %s must end in -mutate or -validate", name);
    return WH_EP_OTHER;
}

static void run_fixture(const char *name)
{
    char path[512];
    size_t len = 0;
    char *review;
    json_t *body, *got;
    int status;

    snprintf(path, sizeof(path), ADMISSION_DIR "/%s/review.json", name);
    review = tu_read_file(path, &len);
    assert_non_null(review);
    body = admit(endpoint_of(name), review, len, &status, NULL);
    decode_patch(body);
    got = json_pack("{s:i,s:o}", "status", status, "body", body);
    snprintf(path, sizeof(path), ADMISSION_DIR "/%s/expected.json", name);
    if (tu_update_golden()) {
        char *text = json_dumps(got, JSON_INDENT(2)), *line = NULL;

        assert_true(asprintf(&line, "%s\n", text) > 0);
        assert_int_equal(tu_write_file(path, line), 0);
        free(line);
        free(text);
    } else {
        json_t *want = tu_load_json(path);

        assert_json_equal(name, want, got);
        json_decref(want);
    }
    json_decref(got);
    free(review);
}

static void test_fixture(void **state)
{
    run_fixture(*state);
}

/* ---- the schema fixtures, wrapped in reviews ------------------------------------- */

static char *wrap_review(json_t *object, const char *uid)
{
    json_t *rv = json_pack("{s:s,s:s,s:{s:s,s:{s:s,s:s,s:s},s:s,s:O}}", "apiVersion",
                           "admission.k8s.io/v1", "kind", "AdmissionReview", "request", "uid", uid,
                           "kind", "group", "toolhive.stacklok.dev", "version", "v1alpha1", "kind",
                           "MCPServer", "operation", "CREATE", "object", object);
    char *text;

    assert_non_null(rv);
    text = json_dumps(rv, JSON_COMPACT);
    json_decref(rv);
    return text;
}

static void check_mutate(const char *name, const char *review, json_t *want)
{
    json_t *want_patch = json_object_get(want, "patch"), *resp;
    json_t *body;
    int status;

    body = admit(WH_EP_MUTATE, review, strlen(review), &status, NULL);
    decode_patch(body);
    resp = json_object_get(body, "response");
    assert_int_equal(status, 200);
    assert_true(json_is_true(json_object_get(resp, "allowed")));
    if (json_array_size(want_patch) == 0) {
        assert_null(json_object_get(resp, "patch"));
        assert_null(json_object_get(resp, "patchType"));
    } else {
        assert_string_equal(json_string_value(json_object_get(resp, "patchType")), "JSONPatch");
        assert_json_equal(name, want_patch, json_object_get(resp, "patch"));
    }
    json_decref(body);
}

static void check_validate(const char *name, const char *review, json_t *want)
{
    const char *msg = json_string_value(json_object_get(want, "message"));
    json_t *warns = json_object_get(want, "warnings"), *resp, *body;
    int status;

    body = admit(WH_EP_VALIDATE, review, strlen(review), &status, NULL);
    resp = json_object_get(body, "response");
    assert_int_equal(status, 200);
    assert_string_equal(json_string_value(json_object_get(resp, "uid")), name);
    if (!msg) {
        assert_true(json_is_true(json_object_get(resp, "allowed")));
        assert_null(json_object_get(resp, "status"));
    } else {
        json_t *st = json_object_get(resp, "status");

        assert_true(json_is_false(json_object_get(resp, "allowed")));
        assert_int_equal(json_integer_value(json_object_get(st, "code")), 422);
        assert_string_equal(json_string_value(json_object_get(st, "reason")), "Invalid");
        assert_string_equal(json_string_value(json_object_get(st, "message")), msg);
    }
    /* a refused request carries no warnings: its error is what to fix */
    if (json_array_size(warns) == 0 || msg)
        assert_null(json_object_get(resp, "warnings"));
    else
        assert_json_equal(name, warns, json_object_get(resp, "warnings"));
    json_decref(body);
}

static void test_schema_case(void **state)
{
    const char *name = *state;
    char path[512];
    json_t *input, *want;
    char *review;

    snprintf(path, sizeof(path), SCHEMA_DIR "/%s/input.json", name);
    input = tu_load_json(path);
    snprintf(path, sizeof(path), SCHEMA_DIR "/%s/expected.json", name);
    want = tu_load_json(path);
    review = wrap_review(input, name);
    check_mutate(name, review, want);
    check_validate(name, review, want);
    free(review);
    json_decref(want);
    json_decref(input);
}

/* ---- edges ------------------------------------------------------------------------------ */

static char *seed_review(size_t *len)
{
    char *text = tu_read_file(ADMISSION_DIR "/seed-github-validate/review.json", len);

    assert_non_null(text);
    return text;
}

static void test_body_cap(void **state)
{
    size_t len;
    char *seed = seed_review(&len), *big = malloc(WH_BODY_MAX + 1);
    json_t *body;
    int status;

    (void)state;
    assert_int_equal(WH_BODY_MAX, 3 << 20); /* the apiserver's own limit (DESIGN.md section 3) */
    assert_non_null(big);
    memset(big, ' ', WH_BODY_MAX + 1);
    memcpy(big, seed, len);
    body = admit(WH_EP_VALIDATE, big, WH_BODY_MAX, &status, NULL); /* exactly at the cap */
    assert_int_equal(status, 200);
    json_decref(body);
    body = admit(WH_EP_VALIDATE, big, WH_BODY_MAX + 1, &status, NULL);
    assert_int_equal(status, 413);
    assert_int_equal(json_integer_value(json_object_get(body, "code")), 413);
    json_decref(body);
    free(big);
    free(seed);
}

static void test_every_prefix(void **state)
{
    size_t len;
    char *seed = seed_review(&len);
    wh_verdict_t v;
    int status;

    (void)state;
    for (size_t n = 0; n < len; n++) {
        json_t *body = admit(n % 2 ? WH_EP_MUTATE : WH_EP_VALIDATE, seed, n, &status, &v);

        if (status != 400) /* only whitespace may be missing */
            assert_true(status == 200 && n >= len - 1);
        else
            assert_int_equal(v, WH_BAD_REQUEST);
        json_decref(body);
    }
    free(seed);
}

static void test_not_utf8(void **state)
{
    static const char *const bodies[] = {"\xff\xfe\xfd", "{\"a\":\"\xc3\x28\"}", "\"\xed\xa0\x80\"",
                                         "{\"apiVersion\x01\":1}", "\x00\x01\x02"};
    int status;

    (void)state;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        json_t *body =
            admit(WH_EP_VALIDATE, bodies[i], i == 4 ? 3 : strlen(bodies[i]), &status, NULL);

        assert_int_equal(status, 400);
        assert_non_null(json_string_value(json_object_get(body, "message")));
        json_decref(body);
    }
}

static void test_verdicts(void **state)
{
    static const struct {
        const char *name;
        wh_endpoint_t ep;
        wh_verdict_t v;
    } cases[] = {
        {"seed-github-validate", WH_EP_VALIDATE, WH_ALLOWED},
        {"seed-profile-builtin-mutate", WH_EP_MUTATE, WH_PATCHED},
        {"seed-github-mutate", WH_EP_MUTATE, WH_ALLOWED},
        {"invalid-port-and-transport-validate", WH_EP_VALIDATE, WH_DENIED},
        {"bad-object-not-mcpserver-validate", WH_EP_VALIDATE, WH_BAD_REQUEST},
        {"bad-not-json-validate", WH_EP_VALIDATE, WH_BAD_REQUEST},
    };

    (void)state;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char path[256], *text;
        size_t len;
        wh_verdict_t v;
        int status;
        json_t *body;

        snprintf(path, sizeof(path), ADMISSION_DIR "/%s/review.json", cases[i].name);
        text = tu_read_file(path, &len);
        assert_non_null(text);
        body = admit(cases[i].ep, text, len, &status, &v);
        assert_int_equal(v, cases[i].v);
        json_decref(body);
        free(text);
    }
}

static void test_status_body(void **state)
{
    mcp_buf_t out;
    json_t *j;

    (void)state;
    mcp_buf_init(&out, 4096);
    assert_int_equal(wh_status_body(&out, 404, "NotFound", "no \"such\" path\n"), 404);
    j = json_loads(out.data, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "kind")), "Status");
    assert_string_equal(json_string_value(json_object_get(j, "message")), "no \"such\" path\n");
    assert_int_equal(json_integer_value(json_object_get(j, "code")), 404);
    json_decref(j);
    mcp_buf_dispose(&out);
}

/* ---- allocation failures ---------------------------------------------------------------- */

static long alloc_countdown = -1; /* fail when it reaches 0; -1: never */

static void *failing_malloc(size_t n)
{
    if (alloc_countdown == 0)
        return NULL;
    if (alloc_countdown > 0)
        alloc_countdown--;
    return malloc(n);
}

/* Fail the n-th jansson allocation for n = 0, 1, ... until a run needs no
 * failure: every run must answer 500 or the same as without failures. */
static void test_alloc_failures(void **state)
{
    static const char *const names[] = {"invalid-many-errors-validate",
                                        "defaults-sse-secrets-volumes-mutate"};

    (void)state;
    json_set_alloc_funcs(failing_malloc, free);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char path[256], *text;
        size_t len;
        int done = 0;

        snprintf(path, sizeof(path), ADMISSION_DIR "/%s/review.json", names[i]);
        text = tu_read_file(path, &len);
        assert_non_null(text);
        for (long n = 0; !done && n < 100000; n++) {
            mcp_buf_t out;
            wh_verdict_t v;
            int status;

            mcp_buf_init(&out, WH_REPLY_MAX);
            alloc_countdown = n;
            status = wh_admit(endpoint_of(names[i]), text, len, &out, &v);
            done = alloc_countdown > 0;
            alloc_countdown = -1;
            assert_true(status == 200 || status == 500 || status == 400);
            if (status == 500)
                assert_int_equal(v, WH_ERROR);
            mcp_buf_dispose(&out);
        }
        assert_true(done);
        free(text);
    }
    json_set_alloc_funcs(malloc, free);
}

/* ---- cost: hostile and largest legal reviews, counted, not timed ------------------------ */

/* jansson's allocations and its peak live bytes during one call. */
static struct {
    long count;
    size_t live, peak;
} jmem;

static void *sized_malloc(size_t n)
{
    size_t *p = malloc(n + sizeof(size_t) * 2);

    if (!p)
        return NULL;
    p[0] = n;
    jmem.count++;
    jmem.live += n;
    if (jmem.live > jmem.peak)
        jmem.peak = jmem.live;
    return p + 2;
}

static void sized_free(void *q)
{
    size_t *p = q;

    if (!p)
        return;
    jmem.live -= p[-2];
    free(p - 2);
}

/* A review whose spec is `spec_head`, then `items` times the printf format
 * `item` (given a separator "%s" and the index "%zu"), then `spec_tail`. */
static char *review_with(const char *op, const char *spec_head, const char *item,
                         const char *spec_tail, size_t items, size_t *len)
{
    mcp_buf_t b;
    int rc;

    mcp_buf_init(&b, (size_t)8 << 20);
    rc =
        mcp_buf_addf(&b,
                     "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                     "\"request\":{\"uid\":\"u\",\"operation\":\"%s\",\"object\":{\"apiVersion\":"
                     "\"" MCP_API_VERSION "\",\"kind\":\"MCPServer\",\"metadata\":{\"name\":\"x\"},"
                     "\"spec\":{%s",
                     op, spec_head);
    for (size_t i = 0; i < items && rc == 0; i++)
        rc = mcp_buf_addf(&b, item, i ? "," : "", i);
    rc = rc ? rc : mcp_buf_addf(&b, "%s}}}}", spec_tail);
    assert_int_equal(rc, 0);
    *len = b.len;
    return mcp_buf_take(&b);
}

/* Both endpoints answer with a status; jansson's peak is under `max_bytes`. */
static void admit_within(const char *what, const char *body, size_t len, int want_status,
                         size_t max_bytes, const char *want_message_part)
{
    for (int ep = WH_EP_MUTATE; ep <= WH_EP_VALIDATE; ep++) {
        mcp_buf_t out;
        wh_verdict_t v;
        int status;

        mcp_buf_init(&out, WH_REPLY_MAX);
        memset(&jmem, 0, sizeof(jmem));
        json_set_alloc_funcs(sized_malloc, sized_free);
        status = wh_admit((wh_endpoint_t)ep, body, len, &out, &v);
        json_set_alloc_funcs(malloc, free);
        assert_int_equal(jmem.live, 0);
        if (status != want_status || jmem.peak > max_bytes)
            fail_msg("%s (%s): status %d, %zu bytes of jansson values at the peak (%ld "
                     "allocations) for a %zu-byte review",
                     what, ep == WH_EP_MUTATE ? "mutate" : "validate", status, jmem.peak,
                     jmem.count, len);
        if (ep == WH_EP_VALIDATE && want_message_part &&
            !strstr(out.data ? out.data : "", want_message_part))
            fail_msg("%s: %.300s", what, out.data);
        mcp_buf_dispose(&out);
    }
}

/* DESIGN.md section 3: what one review may cost follows what the rules read
 * (lists capped at 1,024, podTemplateSpec read only where a rule looks), not
 * what the review holds. Before, 100,000 env entries built 100,000 objects
 * and 200,000 errors, and a 3 MiB podTemplateSpec of zeros ~70 MiB of
 * values; now each stays within half a MiB of jansson values. */
static void test_hostile_reviews(void **state)
{
    static const size_t kib = 1024;
    size_t len, zeros = (WH_BODY_MAX - 4096) / 2;
    char *body;

    (void)state;
    body = review_with("CREATE", "\"image\":\"img\",\"env\":[", "%s{\"name\":\"V%zu\"}", "]", 20000,
                       &len);
    admit_within("20,000 distinct env names", body, len, 200, 512 * kib,
                 "spec.env: Too many: 20000: must have at most 1024 items");
    free(body);
    body = review_with("CREATE", "\"image\":\"img\",\"env\":[", "%s{\"name\":\"1\"}", "]", 100000,
                       &len);
    admit_within("100,000 env entries named 1", body, len, 200, 512 * kib,
                 "spec.env: Too many: 100000: must have at most 1024 items");
    free(body);
    body = review_with("CREATE", "\"image\":\"img\",\"podTemplateSpec\":{\"spec\":{\"x\":[", "%s0",
                       "]}}", zeros, &len);
    assert_true(len <= WH_BODY_MAX);
    admit_within("a 3 MiB podTemplateSpec of zeros", body, len, 200, 64 * kib, "\"allowed\":true");
    free(body);
    body = review_with("UPDATE", "\"image\":\"img\",\"args\":[", "%s[0,{\"a\":[]}]", "]", 200000,
                       &len);
    assert_true(len <= WH_BODY_MAX);
    admit_within("args of 200,000 containers", body, len, 200, 512 * kib,
                 "spec.args: Too many: 200000: must have at most 1024 items");
    free(body);
}

/* The largest legal review: every list at its cap, the annotations at
 * 256 KiB, an UPDATE (object and oldObject), all under 3 MiB. */
static void test_largest_legal_review(void **state)
{
    mcp_buf_t b;
    size_t len;
    char *spec, *body;
    int rc = 0;

    (void)state;
    mcp_buf_init(&b, (size_t)4 << 20);
    rc |= mcp_buf_adds(&b, "\"image\":\"docker.io/mcp/fetch\",\"permissionProfile\":{\"name\":"
                           "\"network\"},\"args\":[");
    for (int i = 0; i < MCP_LIST_MAX; i++)
        rc |= mcp_buf_addf(&b, "%s\"--arg-%d\"", i ? "," : "", i);
    rc |= mcp_buf_adds(&b, "],\"env\":[");
    for (int i = 0; i < MCP_LIST_MAX; i++)
        rc |= mcp_buf_addf(&b, "%s{\"name\":\"E%d\",\"value\":\"v\"}", i ? "," : "", i);
    rc |= mcp_buf_adds(&b, "],\"secrets\":[");
    for (int i = 0; i < MCP_LIST_MAX; i++)
        rc |= mcp_buf_addf(&b, "%s{\"name\":\"s\",\"key\":\"k%d\"}", i ? "," : "", i);
    rc |= mcp_buf_adds(&b, "],\"volumes\":[");
    for (int i = 0; i < MCP_LIST_MAX; i++)
        rc |= mcp_buf_addf(&b, "%s{\"name\":\"v%d\",\"hostPath\":\"/h\",\"mountPath\":\"/m%d\"}",
                           i ? "," : "", i, i);
    rc |= mcp_buf_adds(&b, "],\"resourceOverrides\":{\"proxyDeployment\":{\"labels\":{");
    for (int i = 0; i < MCP_LIST_MAX; i++)
        rc |= mcp_buf_addf(&b, "%s\"l%d\":\"v\"", i ? "," : "", i);
    rc |= mcp_buf_adds(&b, "},\"annotations\":{\"a\":\"");
    for (int i = 0; i < 200 * 1024; i++)
        rc |= mcp_buf_add(&b, "x", 1);
    rc |= mcp_buf_adds(&b, "\"}}}");
    assert_int_equal(rc, 0);
    spec = mcp_buf_take(&b);
    assert_true(
        asprintf(&body,
                 "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\","
                 "\"request\":{\"uid\":\"u\",\"operation\":\"UPDATE\",\"object\":{"
                 "\"apiVersion\":\"" MCP_API_VERSION "\",\"kind\":\"MCPServer\",\"metadata\":"
                 "{\"name\":\"x\"},\"spec\":{%s,\"port\":8080}},\"oldObject\":{\"apiVersion\":"
                 "\"" MCP_API_VERSION "\",\"kind\":\"MCPServer\",\"metadata\":{\"name\":\"x\"},"
                 "\"spec\":{%s}}}}",
                 spec, spec) > 0);
    len = strlen(body);
    assert_true(len <= WH_BODY_MAX);
    /* every value of the object is read: about 14k values, 1.3 MiB of text */
    admit_within("the largest legal review", body, len, 200, (size_t)6 << 20, "\"allowed\":true");
    free(body);
    free(spec);
}

/* ---- depth: no recursion past what a worker's stack holds ------------------------------ */

typedef struct deep_case {
    const char *what, *head, *tail; /* the review around 2,040 levels of [ ] */
} deep_case_t;

static void *admit_deep(void *arg)
{
    const deep_case_t *c = arg;
    enum { LEVELS = 2040 };
    size_t hl = strlen(c->head), tl = strlen(c->tail), len = hl + 2 * LEVELS + tl;
    char *body = malloc(len);

    assert_non_null(body);
    memcpy(body, c->head, hl);
    memset(body + hl, '[', LEVELS);
    memset(body + hl + LEVELS, ']', LEVELS);
    memcpy(body + hl + 2 * LEVELS, c->tail, tl);
    for (int ep = WH_EP_MUTATE; ep <= WH_EP_VALIDATE; ep++) {
        mcp_buf_t out;
        wh_verdict_t v;

        mcp_buf_init(&out, WH_REPLY_MAX);
        assert_int_equal(wh_admit((wh_endpoint_t)ep, body, len, &out, &v), 200);
        mcp_buf_dispose(&out);
    }
    free(body);
    return NULL;
}

/* Reviews nested just under the reader's limit (2,048, jansson's) where the
 * reader skips them, where it builds them whole (a small wrongly typed
 * value, rendered in the error), and in podTemplateSpec, each answered on a
 * thread with half the stack the workers get (WH_WORKER_STACK). */
static void test_deep_reviews_small_stack(void **state)
{
#define REVIEW_HEAD                                                                                \
    "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{\"uid\":"   \
    "\"u\",\"operation\":\"CREATE\",\"object\":{\"apiVersion\":\"" MCP_API_VERSION                 \
    "\",\"kind\":\"MCPServer\",\"metadata\":{\"name\":\"x\""
    static const deep_case_t cases[] = {
        {"podTemplateSpec",
         REVIEW_HEAD "},\"spec\":{\"image\":\"i\",\"podTemplateSpec\":{\"x\":", "}}}}}"},
        {"image (built, rendered)", REVIEW_HEAD "},\"spec\":{\"image\":", "}}}}"},
        {"annotations (skipped)",
         REVIEW_HEAD ",\"annotations\":", "},\"spec\":{\"image\":\"i\"}}}}"},
        {"userInfo (skipped)",
         "{\"apiVersion\":\"admission.k8s.io/v1\",\"kind\":\"AdmissionReview\",\"request\":{"
         "\"uid\":\"u\",\"operation\":\"DELETE\",\"userInfo\":",
         "}}"},
    };
#undef REVIEW_HEAD

    (void)state;
    for (size_t i = 0; i < MCP_ARRAY_LEN(cases); i++) {
        pthread_attr_t attr;
        pthread_t t;

        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, WH_WORKER_STACK / 2);
        assert_int_equal(pthread_create(&t, &attr, admit_deep, (void *)&cases[i]), 0);
        pthread_join(t, NULL);
        pthread_attr_destroy(&attr);
    }
}

/* One test per fixture folder and per schema case, then the edge cases. */
int main(void)
{
    char **admission = tu_list_dirs(ADMISSION_DIR), **schema = tu_list_dirs(SCHEMA_DIR);
    size_t na = 0, ns = 0, n = 0;
    struct CMUnitTest *tests;
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_every_prefix),
        cmocka_unit_test(test_not_utf8),
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_status_body),
        cmocka_unit_test(test_alloc_failures),
        cmocka_unit_test(test_hostile_reviews),
        cmocka_unit_test(test_largest_legal_review),
        cmocka_unit_test(test_deep_reviews_small_stack),
    };
    int rc;

    while (admission[na])
        na++;
    while (schema[ns])
        ns++;
    tests = calloc(na + ns + MCP_ARRAY_LEN(fixed), sizeof(*tests));
    assert_non_null(tests);
    for (size_t i = 0; i < na; i++)
        tests[n++] = (struct CMUnitTest){admission[i], test_fixture, NULL, NULL, admission[i]};
    for (size_t i = 0; i < ns; i++)
        tests[n++] = (struct CMUnitTest){schema[i], test_schema_case, NULL, NULL, schema[i]};
    for (size_t i = 0; i < MCP_ARRAY_LEN(fixed); i++)
        tests[n++] = fixed[i];
    rc = _cmocka_run_group_tests("admission", tests, n, NULL, NULL);
    free(tests);
    tu_free_list(admission);
    tu_free_list(schema);
    return rc;
}
