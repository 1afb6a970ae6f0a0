/* MCPServer status as a pure function: phase, url, message,
 * observedGeneration and the kstatus-style conditions Ready and Valid. The
 * result is meant for a JSON merge patch of the /status subresource, so
 * fields that must disappear are JSON null. A condition keeps its
 * lastTransitionTime while its status stays the same, and when nothing would
 * change the function says so (NULL), which is what keeps the controller out
 * of a hot loop of status writes. */
#include <string.h>

#include "internal.h"

/* lastTransitionTime of `type` in `current` when its status is unchanged. */
static const char *kept_time(const json_t *current, const char *type, const char *status)
{
    const json_t *conds = json_object_get(current, "conditions");
    size_t i;
    json_t *c;

    json_array_foreach(conds, i, c)
    {
        const char *t = json_string_value(json_object_get(c, "type"));
        const char *st = json_string_value(json_object_get(c, "status"));
        const char *ltt = json_string_value(json_object_get(c, "lastTransitionTime"));
        if (t && st && ltt && strcmp(t, type) == 0 && strcmp(st, status) == 0)
            return ltt;
    }
    return NULL;
}

static json_t *condition(const json_t *current, const char *type, bool ok, const char *reason,
                         const char *message, const ctl_status_in_t *in)
{
    const char *status = ok ? "True" : "False";
    const char *ltt = kept_time(current, type, status);

    return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "type", type, "status", status,
                     "observedGeneration", (json_int_t)in->generation, "lastTransitionTime",
                     ltt ? ltt : in->now, "reason", reason, "message", message ? message : "");
}

static json_t *build(const json_t *current, const ctl_status_in_t *in)
{
    const char *vmsg = in->valid ? "spec is valid" : in->valid_message;
    const char *rreason =
        in->ready ? "Available" : (in->ready_reason ? in->ready_reason : "Pending");

    return json_pack(
        "{s:s, s:o, s:s, s:I, s:[o, o]}", "phase", in->phase, "url",
        in->url ? json_string(in->url) : json_null(), "message", in->message ? in->message : "",
        "observedGeneration", (json_int_t)in->generation, "conditions",
        condition(current, "Ready", in->ready, rreason, in->message, in),
        condition(current, "Valid", in->valid, in->valid ? "Valid" : "Invalid", vmsg, in));
}

/* Equal when every field we set is already there and the conditions list
 * holds exactly our two conditions. */
static bool same(const json_t *current, const json_t *next)
{
    const json_t *conds = json_object_get(current, "conditions");

    return json_is_object(current) && ctl_json_contains(current, next) &&
           json_array_size(conds) == json_array_size(json_object_get(next, "conditions"));
}

json_t *ctl_status_compute(const json_t *current, const ctl_status_in_t *in, int *oom)
{
    json_t *next = build(current, in);

    *oom = next == NULL;
    if (next && same(current, next)) {
        json_decref(next);
        return NULL;
    }
    return next;
}
