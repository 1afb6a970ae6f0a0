/* MCPServer conversion between toolhive.stacklok.dev/v1alpha1 (ToolHive
 * v0.2.9's fields, plus v0.44's names; the storage version) and v1beta1
 * (ToolHive v0.44's MCPServer), for the CRD's conversion webhook.
 *
 * v1alpha1 holds every v1beta1 field, so v1beta1 -> v1alpha1 keeps the spec
 * as it is. v1alpha1 -> v1beta1 renames what v1beta1 calls differently
 * (port -> proxyPort, targetPort -> mcpPort) and moves what v1beta1 cannot
 * express (tools, oidcConfig) out of the spec. Both are written, as they
 * were, into the annotation MCP_CONVERT_ANNOTATION of the v1beta1 object (a
 * JSON object; a field a rename added is recorded as null), the way
 * kubebuilder's conversions keep what the other version lacks; the way back
 * restores them, so v1alpha1 -> v1beta1 -> v1alpha1 gives the same object.
 * A renamed field comes back under its old name only while the v1beta1 value
 * is the one it was converted to: a client that changed proxyPort in
 * v1beta1 gets its change, under the new name. (An object that had both
 * names gets its old one back as it was.)
 *
 * The status phase of a working server is Running in v1alpha1 (ToolHive
 * v0.2.9) and Ready in v1beta1 (ToolHive v0.17 and later); the other phases
 * are the same words. Nothing else differs.
 *
 * A malformed annotation (not a JSON object, or over 64 KiB) is dropped:
 * conversion never fails on what a client wrote, since a failed conversion
 * makes the object unreadable. Costs are linear in the object's size. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mcp/convert.h"
#include "mcp/schema.h"

#define ANNOTATION_MAX ((size_t)64 << 10)

/* v1alpha1 name -> v1beta1 name; v1beta1 name NULL: no such field. */
static const struct {
    const char *alpha, *beta;
} moved[] = {
    {"port", "proxyPort"},
    {"targetPort", "mcpPort"},
    {"tools", NULL},
    {"oidcConfig", NULL},
};

static const struct {
    const char *alpha, *beta;
} phases[] = {{"Running", "Ready"}};

static int set_phase(json_t *obj, int to_beta)
{
    json_t *status = json_object_get(obj, "status");
    const char *phase = json_string_value(json_object_get(status, "phase"));

    for (size_t i = 0; phase && i < MCP_ARRAY_LEN(phases); i++) {
        const char *from = to_beta ? phases[i].alpha : phases[i].beta;
        const char *to = to_beta ? phases[i].beta : phases[i].alpha;

        if (strcmp(phase, from) == 0)
            return json_object_set_new(status, "phase", json_string(to)) ? MCP_ENOMEM : 0;
    }
    return 0;
}

static int to_beta(json_t *obj)
{
    json_t *spec = json_object_get(obj, "spec"), *kept = json_object(), *meta, *ann;
    char *text = NULL;
    int rc = kept ? 0 : MCP_ENOMEM;

    for (size_t i = 0; rc == 0 && json_is_object(spec) && i < MCP_ARRAY_LEN(moved); i++) {
        json_t *v = json_object_get(spec, moved[i].alpha);

        if (!v)
            continue;
        if (json_object_set(kept, moved[i].alpha, v) != 0)
            rc = MCP_ENOMEM;
        else if (moved[i].beta && !json_object_get(spec, moved[i].beta) &&
                 (json_object_set(spec, moved[i].beta, v) != 0 ||
                  json_object_set_new(kept, moved[i].beta, json_null()) != 0))
            rc = MCP_ENOMEM;
        else
            json_object_del(spec, moved[i].alpha);
    }
    if (rc == 0 && json_object_size(kept) > 0) {
        if (!json_is_object(meta = json_object_get(obj, "metadata")))
            json_object_set_new(obj, "metadata", meta = json_object());
        if (!json_is_object(ann = json_object_get(meta, "annotations")))
            json_object_set_new(meta, "annotations", ann = json_object());
        text = json_dumps(kept, JSON_COMPACT | JSON_SORT_KEYS);
        if (!meta || !ann || !text ||
            json_object_set_new(ann, MCP_CONVERT_ANNOTATION, json_string(text)) != 0)
            rc = MCP_ENOMEM;
    }
    free(text);
    json_decref(kept);
    return rc;
}

/* The annotation's object (a new reference), removed from obj; NULL when
 * there is none or it is malformed. */
static json_t *take_annotation(json_t *obj)
{
    json_t *meta = json_object_get(obj, "metadata");
    json_t *ann = json_object_get(meta, "annotations");
    const json_t *text = json_object_get(ann, MCP_CONVERT_ANNOTATION);
    json_t *kept = NULL;

    if (!text)
        return NULL;
    if (json_is_string(text) && json_string_length(text) <= ANNOTATION_MAX)
        kept = json_loadb(json_string_value(text), json_string_length(text), JSON_REJECT_DUPLICATES,
                          NULL);
    if (kept && !json_is_object(kept)) {
        json_decref(kept);
        kept = NULL;
    }
    json_object_del(ann, MCP_CONVERT_ANNOTATION);
    if (json_object_size(ann) == 0)
        json_object_del(meta, "annotations");
    return kept;
}

static int to_alpha(json_t *obj)
{
    json_t *kept = take_annotation(obj), *spec = json_object_get(obj, "spec");
    int rc = 0;

    for (size_t i = 0; kept && json_is_object(spec) && i < MCP_ARRAY_LEN(moved) && rc == 0; i++) {
        json_t *old = json_object_get(kept, moved[i].alpha);
        json_t *now = moved[i].beta ? json_object_get(spec, moved[i].beta) : NULL;

        bool renamed = moved[i].beta && json_is_null(json_object_get(kept, moved[i].beta));

        if (!old)
            continue;
        if (renamed && !json_equal(now, old))
            continue; /* changed (or removed) in v1beta1: the new value stands */
        if (json_object_set(spec, moved[i].alpha, old) != 0)
            rc = MCP_ENOMEM;
        else if (renamed)
            json_object_del(spec, moved[i].beta); /* the rename added it */
    }
    json_decref(kept);
    return rc;
}

int mcp_convert(json_t *obj, const char *api_version)
{
    const char *from = json_string_value(json_object_get(obj, "apiVersion"));
    int beta;
    int rc;

    if (!json_is_object(obj) || !from || !api_version)
        return MCP_EINVAL;
    if (strcmp(api_version, MCP_API_VERSION) == 0)
        beta = 0;
    else if (strcmp(api_version, MCP_API_VERSION_BETA) == 0)
        beta = 1;
    else
        return MCP_EINVAL;
    if (strcmp(from, MCP_API_VERSION) != 0 && strcmp(from, MCP_API_VERSION_BETA) != 0)
        return MCP_EINVAL;
    if (strcmp(from, api_version) == 0)
        return 0;
    rc = beta ? to_beta(obj) : to_alpha(obj);
    if (rc == 0)
        rc = set_phase(obj, beta);
    if (rc == 0 && json_object_set_new(obj, "apiVersion", json_string(api_version)) != 0)
        rc = MCP_ENOMEM;
    return rc;
}
