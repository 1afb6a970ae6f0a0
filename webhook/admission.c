/* The admission handler: one AdmissionReview body in, one HTTP status and
 * JSON body out. It is pure (no I/O, no globals), so the h2o server, the
 * in-process tests and the fuzzer all call the same code. Every MCPServer
 * rule comes from common/: mcp_defaults for the mutating endpoint's JSON
 * Patch, mcp_validate for warnings, mcp_validate_message for the Invalid
 * deny. A review that does not parse, or lacks request/uid, gets HTTP 400
 * with a Kubernetes Status body; one that parses but asks about the wrong
 * object gets a deny with code 400, so the user sees why. The review is read
 * with wh_json_parse, building only what the rules read (the schema's shape:
 * lists up to their cap, podTemplateSpec only where a rule looks), so memory
 * and time follow the rules, not the input; lists over their cap and too deep
 * a podTemplateSpec are found while reading and denied before any rule runs.
 * The mutating endpoint only computes defaults; the validating one ratchets
 * UPDATEs (an object being deleted, or whose spec is byte for byte the old
 * one's, is allowed). The response is written by hand (no jansson tree). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <jansson.h>

#include "mcp/buf.h"
#include "mcp/errlist.h"
#include "mcp/schema.h"
#include "internal.h"

#define REVIEW_API_VERSION "admission.k8s.io/v1"
#define REVIEW_KIND        "AdmissionReview"
#define OOM_BODY                                                                                   \
    "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},\"status\":\"Failure\","           \
    "\"message\":\"out of memory\",\"reason\":\"InternalError\",\"code\":500}"

/* A JSON writer over a capped buffer with a sticky error. */
typedef struct jw {
    mcp_buf_t *b;
    int err;
} jw_t;

/* Where the reader records the two specs an UPDATE compares. */
enum { SPAN_SPEC = 1, SPAN_OLD_SPEC, SPAN_COUNT = SPAN_OLD_SPEC };

/* The parts of a review the handler needs, borrowed from `root`. */
typedef struct review {
    json_t *root; /* owned */
    const char *uid;
    const char *op;
    const json_t *object;
    mcp_errlist_t bounds; /* lists over their cap, too deep: found while reading */
    wh_json_span_t spans[SPAN_COUNT];
} review_t;

static void jw_raw(jw_t *w, const char *s, size_t n)
{
    if (!w->err && n)
        w->err = mcp_buf_add(w->b, s, n);
}

#define JW_LIT(w, s) jw_raw((w), (s), sizeof(s) - 1)

/* A JSON string literal; invalid UTF-8 becomes U+FFFD so the output always
 * parses, whatever bytes a message echoes. */
static void jw_str(jw_t *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)(str ? str : "");
    size_t n = strlen((const char *)s), run = 0;

    JW_LIT(w, "\"");
    for (size_t i = 0; i < n;) {
        char esc[8];
        size_t u = s[i] < 0x80 ? 1 : wh_utf8_len(s + i, n - i);

        if (u == 1 && s[i] >= 0x20 && s[i] != '"' && s[i] != '\\') {
            i++, run++;
            continue;
        }
        if (u > 1) {
            i += u, run += u;
            continue;
        }
        jw_raw(w, (const char *)s + i - run, run);
        run = 0;
        if (u == 0)
            JW_LIT(w, "\\ufffd");
        else if (s[i] == '"' || s[i] == '\\')
            jw_raw(w, s[i] == '"' ? "\\\"" : "\\\\", 2);
        else
            jw_raw(w, esc, (size_t)snprintf(esc, sizeof(esc), "\\u%04x", s[i]));
        i++;
    }
    jw_raw(w, (const char *)s + n - run, run);
    JW_LIT(w, "\"");
}

/* Base64 (no line breaks) of n bytes, in chunks to avoid a big temporary. */
static void jw_base64(jw_t *w, const unsigned char *p, size_t n)
{
    unsigned char out[1025];

    while (n > 0) {
        size_t chunk = n > 768 ? 768 : n;
        int len = EVP_EncodeBlock(out, p, (int)chunk);

        jw_raw(w, (const char *)out, (size_t)len);
        p += chunk, n -= chunk;
    }
}

static int status_body(jw_t *w, int code, const char *reason, const char *message)
{
    char num[16];

    JW_LIT(w, "{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"metadata\":{},"
              "\"status\":\"Failure\",\"message\":");
    jw_str(w, message);
    JW_LIT(w, ",\"reason\":");
    jw_str(w, reason);
    JW_LIT(w, ",\"code\":");
    jw_raw(w, num, (size_t)snprintf(num, sizeof(num), "%d", code));
    JW_LIT(w, "}");
    return code;
}

int wh_status_body(mcp_buf_t *out, int code, const char *reason, const char *message)
{
    jw_t w = {out, 0};

    return status_body(&w, code, reason, message);
}

/* ---- reading the review ---------------------------------------------------- */

static const char *str_at(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static int str_is(const json_t *obj, const char *key, const char *want)
{
    const char *v = str_at(obj, key);

    return v && strcmp(v, want) == 0;
}

/* The shape of a review: of the request, only uid, operation, kind, the
 * object (as the schema's shape, with its spec's text recorded) and the old
 * object's spec text (for ratcheting, not built); userInfo, options and the
 * rest are checked as JSON and left out. Built once, then read-only. */
static struct {
    mcp_shape_t object_members[8];
    mcp_shape_t old_spec[2], old_members[2];
    mcp_shape_t request[6], review[4];
    mcp_shape_t root;
    int ok;
} shapes;
static pthread_once_t shapes_once = PTHREAD_ONCE_INIT;

static void build_shapes(void)
{
    const mcp_shape_t *schema = mcp_schema_shape();
    size_t n = 0;

    if (!schema)
        return;
    for (const mcp_shape_t *m = schema->members; m->name; m++) {
        if (n + 1 >= MCP_ARRAY_LEN(shapes.object_members))
            return;
        shapes.object_members[n] = *m;
        if (strcmp(m->name, "spec") == 0)
            shapes.object_members[n].span = SPAN_SPEC;
        n++;
    }
    shapes.old_spec[0] = (mcp_shape_t){.name = "spec",
                                       .kind = MCP_SHAPE_OBJECT,
                                       .members = shapes.old_spec + 1,
                                       .span = SPAN_OLD_SPEC};
    shapes.old_members[0] = shapes.old_spec[0];
    shapes.request[0] = (mcp_shape_t){.name = "uid"};
    shapes.request[1] = (mcp_shape_t){.name = "operation"};
    shapes.request[2] = (mcp_shape_t){.name = "kind", .kind = MCP_SHAPE_OBJECT};
    shapes.request[3] =
        (mcp_shape_t){.name = "object", .kind = MCP_SHAPE_OBJECT, .members = shapes.object_members};
    shapes.request[4] =
        (mcp_shape_t){.name = "oldObject", .kind = MCP_SHAPE_OBJECT, .members = shapes.old_members};
    shapes.review[0] = (mcp_shape_t){.name = "apiVersion"};
    shapes.review[1] = (mcp_shape_t){.name = "kind"};
    shapes.review[2] =
        (mcp_shape_t){.name = "request", .kind = MCP_SHAPE_OBJECT, .members = shapes.request};
    shapes.root = (mcp_shape_t){.kind = MCP_SHAPE_OBJECT, .members = shapes.review};
    shapes.ok = 1;
}

const mcp_shape_t *wh_review_shape(void)
{
    pthread_once(&shapes_once, build_shapes);
    return shapes.ok ? &shapes.root : NULL;
}

/* Parse and check the envelope. NULL when usable, else why it is a 400
 * (*oom set when it is really a 500). */
static const char *decode(const char *body, size_t len, review_t *rv, char *why, size_t whylen,
                          int *oom)
{
    wh_json_opts_t opts = {wh_review_shape(), &rv->bounds, rv->spans, SPAN_COUNT};
    char jerr[160];
    json_t *req;

    if (len == 0)
        return "request body is empty";
    if (!opts.shape)
        return *oom = 1, "out of memory";
    rv->root = wh_json_parse(body, len, &opts, jerr, sizeof(jerr), oom);
    if (!rv->root) {
        snprintf(why, whylen, "request body is not valid JSON: %s", jerr);
        return why;
    }
    if (!json_is_object(rv->root))
        return "request body must be a JSON object (an AdmissionReview)";
    if (!str_is(rv->root, "apiVersion", REVIEW_API_VERSION))
        return "apiVersion must be \"" REVIEW_API_VERSION "\"";
    if (!str_is(rv->root, "kind", REVIEW_KIND))
        return "kind must be \"" REVIEW_KIND "\"";
    req = json_object_get(rv->root, "request");
    if (!json_is_object(req))
        return "request is missing or not an object";
    rv->uid = str_at(req, "uid");
    if (!rv->uid || !*rv->uid)
        return "request.uid is missing or empty";
    rv->op = str_at(req, "operation");
    rv->object = json_object_get(req, "object");
    return NULL;
}

static int op_is(const review_t *rv, const char *op)
{
    return rv->op && strcmp(rv->op, op) == 0;
}

/* Checks on a review that parsed: NULL when the object is an MCPServer to
 * judge (or the operation needs no judging), else why it is denied. */
static const char *check_request(const review_t *rv)
{
    const json_t *kind = json_object_get(json_object_get(rv->root, "request"), "kind");

    if (!op_is(rv, "CREATE") && !op_is(rv, "UPDATE") && !op_is(rv, "DELETE") &&
        !op_is(rv, "CONNECT"))
        return "request.operation must be one of CREATE, UPDATE, DELETE, CONNECT";
    if (op_is(rv, "DELETE") || op_is(rv, "CONNECT"))
        return NULL;
    if (kind && (!str_is(kind, "group", MCP_GROUP) || !str_is(kind, "version", MCP_VERSION) ||
                 !str_is(kind, "kind", MCP_KIND)))
        return "request.kind must be " MCP_GROUP "/" MCP_VERSION ", Kind=" MCP_KIND;
    if (!json_is_object(rv->object))
        return "request.object is missing or not an object";
    if (!str_is(rv->object, "apiVersion", MCP_API_VERSION) || !str_is(rv->object, "kind", MCP_KIND))
        return "request.object must be an " MCP_KIND " of apiVersion " MCP_API_VERSION;
    return NULL;
}

/* ---- writing the review ------------------------------------------------------ */

static void reply_open(jw_t *w, const review_t *rv, int allowed)
{
    JW_LIT(w, "{\"apiVersion\":\"" REVIEW_API_VERSION "\",\"kind\":\"" REVIEW_KIND
              "\",\"response\":{\"uid\":");
    jw_str(w, rv->uid);
    if (allowed)
        JW_LIT(w, ",\"allowed\":true");
    else
        JW_LIT(w, ",\"allowed\":false");
}

static void reply_close(jw_t *w, const mcp_errlist_t *warns)
{
    if (warns && warns->len > 0) {
        JW_LIT(w, ",\"warnings\":[");
        for (size_t i = 0; i < warns->len; i++) {
            if (i)
                JW_LIT(w, ",");
            jw_str(w, warns->items[i].text);
        }
        if (warns->dropped) {
            char more[64];

            snprintf(more, sizeof(more), "... and %zu more warnings", warns->dropped);
            JW_LIT(w, ",");
            jw_str(w, more);
        }
        JW_LIT(w, "]");
    }
    JW_LIT(w, "}}");
}

static void reply_deny(jw_t *w, const review_t *rv, int code, const char *reason,
                       const char *message, const mcp_errlist_t *warns)
{
    char num[16];

    reply_open(w, rv, 0);
    JW_LIT(w, ",\"status\":{\"code\":");
    jw_raw(w, num, (size_t)snprintf(num, sizeof(num), "%d", code));
    JW_LIT(w, ",\"reason\":");
    jw_str(w, reason);
    JW_LIT(w, ",\"message\":");
    jw_str(w, message);
    JW_LIT(w, "}");
    reply_close(w, warns);
}

/* The JSON Patch as base64, or a writer error on OOM. */
static void write_patch(jw_t *w, const mcp_changes_t *ch)
{
    char small[4096], *text = small;
    json_t *patch = mcp_changes_to_patch(ch);
    size_t n;

    if (!patch) {
        w->err = MCP_ENOMEM;
        return;
    }
    n = json_dumpb(patch, small, sizeof(small), JSON_COMPACT);
    if (n > sizeof(small)) {
        text = malloc(n);
        n = text ? json_dumpb(patch, text, n, JSON_COMPACT) : 0;
    }
    if (n == 0)
        w->err = MCP_ENOMEM;
    JW_LIT(w, ",\"patchType\":\"JSONPatch\",\"patch\":\"");
    jw_base64(w, (const unsigned char *)text, n);
    JW_LIT(w, "\"");
    if (text != small)
        free(text);
    json_decref(patch);
}

/* Defaults only: the rules (and their warnings) are the validating
 * endpoint's. An object with a list over its cap gets no patch; the
 * validating endpoint denies it. */
static wh_verdict_t mutate(jw_t *w, const review_t *rv)
{
    mcp_changes_t ch;
    wh_verdict_t v = WH_ALLOWED;

    mcp_changes_init(&ch);
    if (mcp_errlist_total(&rv->bounds) == 0 && mcp_defaults(rv->object, &ch) < 0) {
        w->err = MCP_ENOMEM;
        goto out;
    }
    reply_open(w, rv, 1);
    if (ch.len > 0) {
        write_patch(w, &ch);
        v = WH_PATCHED;
    }
    reply_close(w, NULL);
out:
    mcp_changes_dispose(&ch);
    return v;
}

/* DESIGN.md section 3: an UPDATE of an object being deleted, or one that
 * leaves the spec as it was (the same bytes, as the apiserver serializes
 * both the same way), is allowed whatever today's rules say of the spec. */
static int ratchets(const review_t *rv)
{
    const json_t *meta = json_object_get(rv->object, "metadata");
    const wh_json_span_t *now = &rv->spans[SPAN_SPEC - 1], *old = &rv->spans[SPAN_OLD_SPEC - 1];
    const json_t *deleting = json_object_get(meta, "deletionTimestamp");

    if (!op_is(rv, "UPDATE"))
        return 0;
    if (deleting && !json_is_null(deleting))
        return 1;
    return now->len == old->len && (now->len == 0 || memcmp(now->p, old->p, now->len) == 0);
}

/* The deny message for bounds broken while reading: those errors alone, as
 * mcp_validate would report them. */
static char *bounds_message(const review_t *rv, int *oom)
{
    const char *name =
        json_string_value(json_object_get(json_object_get(rv->object, "metadata"), "name"));
    char *msg = mcp_errlist_aggregate(&rv->bounds, MCP_KIND, name);

    *oom = !msg || rv->bounds.oom;
    return msg;
}

static wh_verdict_t validate(jw_t *w, const review_t *rv)
{
    mcp_errlist_t warns;
    int oom = 0;
    char *msg;
    wh_verdict_t v = WH_ALLOWED;

    mcp_errlist_init(&warns);
    if (ratchets(rv))
        msg = NULL;
    else if (mcp_errlist_total(&rv->bounds) > 0)
        msg = bounds_message(rv, &oom);
    else
        msg = mcp_validate_message(rv->object, &warns, &oom);
    if (oom || warns.oom) {
        w->err = MCP_ENOMEM;
    } else if (msg) {
        /* a refused request gets no warnings: its error says what to fix */
        reply_deny(w, rv, 422, "Invalid", msg, NULL);
        v = WH_DENIED;
    } else {
        reply_open(w, rv, 1);
        reply_close(w, &warns);
    }
    free(msg);
    mcp_errlist_dispose(&warns);
    return v;
}

static wh_verdict_t judge(jw_t *w, wh_endpoint_t ep, const review_t *rv)
{
    const char *why = check_request(rv);

    if (why) {
        reply_deny(w, rv, 400, "BadRequest", why, NULL);
        return WH_BAD_REQUEST;
    }
    if (op_is(rv, "DELETE") || op_is(rv, "CONNECT")) {
        reply_open(w, rv, 1);
        reply_close(w, NULL);
        return WH_ALLOWED;
    }
    return ep == WH_EP_MUTATE ? mutate(w, rv) : validate(w, rv);
}

int wh_admit(wh_endpoint_t ep, const char *body, size_t len, mcp_buf_t *out, wh_verdict_t *verdict)
{
    jw_t w = {out, 0};
    review_t rv = {0};
    char buf[256];
    const char *why;
    int status = 200, oom = 0;

    if (len > WH_BODY_MAX) {
        *verdict = WH_BAD_REQUEST;
        status = status_body(&w, 413, "RequestEntityTooLarge",
                             "request body is larger than the 3 MiB limit");
    } else if ((why = decode(body, len, &rv, buf, sizeof(buf), &oom)) != NULL || rv.bounds.oom) {
        oom |= rv.bounds.oom;
        why = why ? why : "out of memory";
        *verdict = WH_BAD_REQUEST;
        status = status_body(&w, 400, "BadRequest", why);
        w.err = oom ? MCP_ENOMEM : w.err;
    } else {
        *verdict = judge(&w, ep, &rv);
    }
    json_decref(rv.root);
    mcp_errlist_dispose(&rv.bounds);
    if (w.err) {
        mcp_buf_reset(out);
        mcp_buf_adds(out, OOM_BODY);
        *verdict = WH_ERROR;
        status = 500;
    }
    return status;
}
