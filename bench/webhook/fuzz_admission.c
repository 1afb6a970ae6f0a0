/* libFuzzer target over the admission path: the input is a request body,
 * handed to wh_admit for both endpoints and to wh_convert (/convert: a 200
 * must carry a uid and a result status; with Success, as many converted
 * objects as were sent) (with the
 * recycling allocator on, as in the server). Beyond not crashing, leaking or tripping a sanitizer,
 * every answer must be valid JSON with a known HTTP status, and a 200 must
 * carry a uid and a verdict. The webhook's JSON reader is also checked
 * against jansson on every input: same accept/reject, equal values (and
 * the shaped parse wh_admit uses builds what shape_check.h says), except
 * where jansson is known to be more lenient (jansson_lenient.h): there our
 * reader must reject, and accept the input with jansson's leniency undone,
 * building jansson's value. Built
 * and run by
 * `make fuzz-webhook FUZZ_SECONDS=60` (clang, ASan+UBSan), seeded with the
 * admission fixtures. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "mcp/buf.h"
#include "../../webhook/internal.h"
#include "jansson_lenient.h"
#include "shape_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const mcp_buf_t *out, int status)
{
    json_t *j = json_loadb(out->data, out->len, 0, NULL);

    if (!j || (status != 200 && status != 400 && status != 413 && status != 500))
        abort();
    if (status == 200) {
        json_t *resp = json_object_get(j, "response");

        if (!json_string_value(json_object_get(resp, "uid")) ||
            !json_is_boolean(json_object_get(resp, "allowed")))
            abort();
    }
    json_decref(j);
}

static void check_convert(const mcp_buf_t *out, int status, const char *data, size_t size)
{
    json_t *j = json_loadb(out->data, out->len, 0, NULL), *in;
    const json_t *resp = json_object_get(j, "response");
    const char *result =
        json_string_value(json_object_get(json_object_get(resp, "result"), "status"));

    if (!j || (status != 200 && status != 400 && status != 413 && status != 500))
        abort();
    if (status == 200) {
        if (!json_string_value(json_object_get(resp, "uid")) || !result)
            abort();
        in = json_loadb(data, size, JSON_REJECT_DUPLICATES, NULL);
        if (strcmp(result, "Success") == 0 &&
            json_array_size(json_object_get(resp, "convertedObjects")) !=
                json_array_size(json_object_get(json_object_get(in, "request"), "objects")))
            abort();
        json_decref(in);
    }
    json_decref(j);
}

/* jansson accepted what we rejected: fine only when it is jansson's known
 * leniency, i.e. we accept the input without it and build the same value. */
static int lenient_only(const char *data, size_t size, const json_t *ref)
{
    char err[256], *strict = malloc(size ? size : 1);
    size_t n = strict ? jansson_lenient_strip(data, size, strict) : size;
    int oom = 0, ok = 0;
    json_t *mine = NULL;

    if (strict && n < size) {
        mine = wh_json_parse(strict, n, NULL, err, sizeof(err), &oom);
        ok = mine && json_equal(mine, ref);
    }
    json_decref(mine);
    free(strict);
    return ok;
}

/* wh_json_parse must agree with jansson; filtered, with itself. */
static void differential(const char *data, size_t size)
{
    char err[256];
    int oom = 0;
    mcp_errlist_t bounds;
    wh_json_span_t spans[4];
    wh_json_opts_t opts = {wh_review_shape(), &bounds, spans, 4};
    json_t *mine = wh_json_parse(data, size, NULL, err, sizeof(err), &oom);
    json_t *filtered, *ref = json_loadb(data, size, JSON_REJECT_DUPLICATES, NULL);
    size_t want_bounds = 0;

    mcp_errlist_init(&bounds);
    filtered = wh_json_parse(data, size, &opts, err, sizeof(err), &oom);

    if (!mine && ref && lenient_only(data, size, ref)) {
        json_decref(filtered);
        json_decref(ref);
        mcp_errlist_dispose(&bounds);
        return;
    }
    if (!mine != !ref || (mine && !json_equal(mine, ref)))
        abort();
    if (mine) {
        if (!filtered || !shape_matches(filtered, mine, opts.shape, &want_bounds) ||
            want_bounds != mcp_errlist_total(&bounds))
            abort();
    } else if (filtered) { /* only a duplicate key inside a skipped value may differ */
        json_t *lax = json_loadb(data, size, 0, NULL);

        if (!lax)
            abort();
        json_decref(lax);
    }
    json_decref(mine);
    json_decref(filtered);
    json_decref(ref);
    mcp_errlist_dispose(&bounds);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const wh_endpoint_t eps[] = {WH_EP_MUTATE, WH_EP_VALIDATE};
    static int installed;
    mcp_buf_t out;

    if (!installed) {
        wh_jpool_install();
        installed = 1;
    }
    differential((const char *)data, size);

    mcp_buf_init(&out, WH_REPLY_MAX);
    for (size_t i = 0; i < 2; i++) {
        wh_verdict_t v;
        int status;

        mcp_buf_reset(&out);
        status = wh_admit(eps[i], (const char *)data, size, &out, &v);
        check(&out, status);
    }
    {
        wh_verdict_t v;
        int status;

        mcp_buf_reset(&out);
        status = wh_convert((const char *)data, size, &out, &v);
        check_convert(&out, status, (const char *)data, size);
    }
    mcp_buf_dispose(&out);
    return 0;
}
