/* libFuzzer target over what the controller reads from the apiserver: the
 * input is a watch stream (newline-delimited events), fed to the event
 * decoder in two pieces split where its first byte says, and also read as a
 * list page (items one by one, a bad one stubbed). Beyond not crashing,
 * leaking or tripping a sanitizer: every event handed on is an object, a
 * stubbed one names its object; and the measuring pass that guards jansson
 * never rejects text jansson accepts, nor sees it shallower or smaller than
 * jansson's tree. Built and run by `make fuzz-watch FUZZ_SECONDS=60` (clang,
 * ASan+UBSan), seeded from test/fixtures/fuzz/watch. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "mcp/json.h"
#include "mcp/kube.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_event(void *ctx, json_t *ev)
{
    json_t *obj = json_object_get(ev, "object");

    (void)ctx;
    if (!json_is_object(ev))
        abort();
    if (json_object_get(ev, "error") &&
        (!json_is_string(json_object_get(ev, "error")) || !mcp_json_str(obj, "metadata.name")))
        abort();
    return 0;
}

/* jansson's tree: depth (a scalar is 0) and values (keys counted). */
static void tree_shape(const json_t *j, int level, mcp_json_shape_t *sh)
{
    const char *k;
    json_t *v;
    size_t i;

    sh->values++;
    if (!json_is_object(j) && !json_is_array(j))
        return;
    if (level + 1 > sh->depth)
        sh->depth = level + 1;
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) tree_shape(v, level + 1, sh);
        return;
    }
    json_object_foreach((json_t *)j, k, v)
    {
        sh->values++;
        tree_shape(v, level + 1, sh);
    }
}

static void check_measure(const char *p, size_t n)
{
    json_t *j = json_loadb(p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    mcp_json_shape_t ours, theirs = {0, 0};

    /* jansson's one known leniency: a raw NUL after a number or literal ends
     * its input; such text is never JSON (RFC 8259), so it is not compared */
    if (!j || memchr(p, '\0', n)) {
        json_decref(j);
        return;
    }
    if (mcp_json_measure(p, n, NULL, &ours) != 0)
        abort();
    tree_shape(j, 0, &theirs);
    if (ours.depth < theirs.depth || ours.values < theirs.values)
        abort();
    json_decref(j);
}

static void as_list(const char *p, size_t n)
{
    mcp_json_span_t items, it;
    size_t pos = 0;
    char why[128];

    if (mcp_json_member(p, n, "items", &items) != 0)
        return;
    while (mcp_json_next_element(items.p, items.n, &pos, &it) == 1) {
        json_t *j = mcp_json_load_bounded(it.p, it.n, &mcp_kube_limits, why, sizeof(why));
        if (!j)
            j = mcp_kube_object_stub(it.p, it.n);
        if (j && !json_is_object(j) && !json_is_array(j) && !json_is_string(j) &&
            !json_is_number(j) && !json_is_boolean(j) && !json_is_null(j))
            abort();
        json_decref(j);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    size_t cut = size ? data[0] % (size + 1) : 0;
    mcp_kube_evdec_t d;

    mcp_kube_evdec_init(&d, 1 << 16);
    if (mcp_kube_evdec_feed(&d, p, cut, on_event, NULL) == 0)
        mcp_kube_evdec_feed(&d, p + cut, size - cut, on_event, NULL);
    mcp_kube_evdec_dispose(&d);
    check_measure(p, size);
    as_list(p, size);
    return 0;
}
