/* MCPServer status as pure functions. The workload's state: the MCP server
 * pod summarised (ready, starting and why, failed and why) and combined with
 * the proxy Deployment's availability into phase and message, in ToolHive's
 * words ("MCP server is running", "MCP server is starting", "MCP server pod
 * failed: <reason>"). An image the registry says it does not have, or will
 * not give, is a failure until someone acts (Failed, with what to do); one
 * that cannot be pulled for another reason (a registry out of reach) may pass
 * on its own: Pending, with the reason. Every failure also has a reason of its
 * own (ImageNotFound, SecretNotFound, CrashLoopBackOff, ProxyNotReady...):
 * the Ready condition's reason, and the reason of the Warning Event the
 * controller records when the status changes to it.
 *
 * Then the status object itself: phase, url, message, observedGeneration
 * and the kstatus-style conditions Ready and Valid. The result is meant for a
 * JSON merge patch of the /status subresource, so fields that must disappear
 * are JSON null. A condition keeps its lastTransitionTime while its status
 * stays the same, and when nothing would change the function says so (NULL),
 * which is what keeps the controller out of a hot loop of status writes.
 * Messages avoid anything that changes on its own (back-off delays, pull
 * errors that alternate), for the same reason. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---- the workload ------------------------------------------------------------ */

/* A pod's condition of the given type ("Ready", "PodScheduled"), or NULL. */
static const json_t *pod_condition(const json_t *pod, const char *type)
{
    return mcp_json_find(mcp_json_get(pod, "status.conditions"), "type", type);
}

/* The entry of `list` equal to s (static, so a summary may keep it), or NULL. */
static const char *str_in(const char *s, const char *const *list)
{
    for (; s && *list; list++)
        if (strcmp(s, *list) == 0)
            return *list;
    return NULL;
}

static void set(ctl_pod_summary_t *out, uint8_t state, const char *problem, const char *a,
                const char *b)
{
    out->state = state;
    out->problem = problem;
    snprintf(out->detail, sizeof(out->detail), "%s%s%s", a ? a : "", a && b && *b ? ": " : "",
             b ? b : "");
}

/* The key of Secret `name` the `mcp` container's env reads (borrowed), or
 * "<key>" when none does. */
static const char *secret_key_of(const json_t *pod, const char *name, size_t nl)
{
    const json_t *c =
        mcp_json_find(mcp_json_get(pod, "spec.containers"), "name", CTL_MCP_CONTAINER);
    const json_t *env = json_object_get(c, "env"), *e;
    size_t i;

    json_array_foreach(env, i, e)
    {
        const char *n = mcp_json_str(e, "valueFrom.secretKeyRef.name");
        const char *k = mcp_json_str(e, "valueFrom.secretKeyRef.key");

        if (n && k && strlen(n) == nl && strncmp(n, name, nl) == 0)
            return k;
    }
    return "<key>";
}

/* A container that cannot be configured because its Secret is missing
 * (the kubelet's `secret "NAME" not found`): the command that fixes it. */
static bool missing_secret(const json_t *pod, const char *message, ctl_pod_summary_t *out)
{
    static const char pre[] = "secret \"";
    const char *name = message ? strstr(message, pre) : NULL, *end;
    const char *ns = mcp_json_str(pod, "metadata.namespace");
    char why[CTL_POD_DETAIL_MAX];
    size_t nl;

    if (!name || !(end = strchr(name + sizeof(pre) - 1, '"')) || strcmp(end, "\" not found") != 0)
        return false;
    name += sizeof(pre) - 1;
    nl = (size_t)(end - name);
    snprintf(why, sizeof(why),
             "secret \"%.*s\" not found: create it with kubectl create secret generic %.*s -n %s "
             "--from-literal=%s=...",
             (int)nl, name, (int)nl, name, ns ? ns : "<namespace>", secret_key_of(pod, name, nl));
    set(out, CTL_POD_STARTING, "SecretNotFound", why, NULL);
    return true;
}

/* An image the kubelet cannot pull, by the runtime's error, which the pod's
 * waiting.message carries in ErrImagePull and, since Kubernetes 1.33, in
 * ImagePullBackOff too ("Back-off pulling image \"X\": ErrImagePull: <it>"),
 * so the text does not alternate. containerd's words: "<ref>: not found"
 * (the registry has no such manifest), "pull access denied", "401
 * Unauthorized", "403 Forbidden", "failed to authorize". A missing or private
 * image is permanent until someone acts: Failed, with what to do. */
static void image_pull(const char *image, const char *message, ctl_pod_summary_t *out)
{
    char why[CTL_POD_DETAIL_MAX];
    const char *m = message ? message : "";

    image = image ? image : "?";
    if (strstr(m, "pull access denied") || strstr(m, "401 Unauthorized") ||
        strstr(m, "403 Forbidden") || strstr(m, "failed to authorize") ||
        strstr(m, "unauthorized:")) {
        snprintf(why, sizeof(why),
                 "image \"%s\" cannot be pulled: the registry refused access (unauthorized, or "
                 "no such repository): check spec.image, and for a private registry give the pod "
                 "a pull secret (spec.podTemplateSpec.spec.imagePullSecrets)",
                 image);
        set(out, CTL_POD_FAILED, "ImagePullUnauthorized", why, NULL);
    } else if (strstr(m, ": not found")) {
        snprintf(why, sizeof(why),
                 "image \"%s\" not found: the registry has no such name or tag; check spec.image",
                 image);
        set(out, CTL_POD_FAILED, "ImageNotFound", why, NULL);
    } else {
        /* unreachable registry, a timeout: may pass on its own */
        snprintf(why, sizeof(why), "image \"%s\" cannot be pulled (ImagePullBackOff)", image);
        set(out, CTL_POD_STARTING, "ImagePullFailed", why, NULL);
    }
}

/* The `mcp` container's state. Returns true when it decided. */
static bool container_state(const json_t *pod, ctl_pod_summary_t *out)
{
    static const char *const failed[] = {"CrashLoopBackOff", "InvalidImageName",
                                         "ErrImageNeverPull", NULL};
    static const char *const pull[] = {"ErrImagePull", "ImagePullBackOff", NULL};
    static const char *const create[] = {"CreateContainerConfigError", "CreateContainerError",
                                         "RunContainerError", NULL};
    const json_t *cs =
        mcp_json_find(mcp_json_get(pod, "status.containerStatuses"), "name", CTL_MCP_CONTAINER);
    const char *reason = mcp_json_str(cs, "state.waiting.reason");
    const json_t *term = mcp_json_get(cs, "state.terminated");
    char why[CTL_POD_DETAIL_MAX];

    if (str_in(reason, failed)) {
        json_int_t code = json_integer_value(mcp_json_get(cs, "lastState.terminated.exitCode"));
        snprintf(why, sizeof(why), "%s", reason);
        if (code)
            snprintf(why, sizeof(why), "%s (exit code %lld)", reason, (long long)code);
        set(out, CTL_POD_FAILED, str_in(reason, failed), why, NULL);
    } else if (str_in(reason, pull)) {
        image_pull(mcp_json_str(cs, "image"), mcp_json_str(cs, "state.waiting.message"), out);
    } else if (reason && strcmp(reason, "CreateContainerConfigError") == 0 &&
               missing_secret(pod, mcp_json_str(cs, "state.waiting.message"), out)) {
        ;
    } else if (reason && strcmp(reason, "ContainerCreating") != 0 &&
               strcmp(reason, "PodInitializing") != 0) {
        set(out, CTL_POD_STARTING, str_in(reason, create), reason,
            mcp_json_str(cs, "state.waiting.message"));
    } else if (term && json_integer_value(json_object_get(term, "exitCode")) != 0) {
        snprintf(why, sizeof(why), "%s (exit code %lld)",
                 mcp_json_str(term, "reason") ? mcp_json_str(term, "reason") : "Error",
                 (long long)json_integer_value(json_object_get(term, "exitCode")));
        set(out, CTL_POD_FAILED, "PodFailed", why, NULL);
    } else {
        return false;
    }
    return true;
}

void ctl_pod_summarize(const json_t *pod, ctl_pod_summary_t *out)
{
    const char *phase = mcp_json_str(pod, "status.phase");
    const json_t *sched = pod_condition(pod, "PodScheduled");
    const char *ready = mcp_json_str(pod_condition(pod, "Ready"), "status");

    memset(out, 0, sizeof(*out));
    if (!json_is_object(pod))
        return;
    if (phase && strcmp(phase, "Failed") == 0)
        set(out, CTL_POD_FAILED, "PodFailed", mcp_json_str(pod, "status.reason") ?: "Failed",
            mcp_json_str(pod, "status.message"));
    else if (mcp_json_get(pod, "metadata.deletionTimestamp"))
        set(out, CTL_POD_STARTING, NULL, "the previous pod is terminating", NULL);
    else if (container_state(pod, out))
        ;
    else if (ready && strcmp(ready, "True") == 0)
        set(out, CTL_POD_READY, NULL, NULL, NULL);
    else if (sched && strcmp(mcp_json_str(sched, "status") ?: "", "False") == 0)
        set(out, CTL_POD_STARTING, "Unschedulable",
            mcp_json_str(sched, "reason") ?: "Unschedulable", mcp_json_str(sched, "message"));
    else
        set(out, CTL_POD_STARTING, NULL, NULL, NULL);
}

void ctl_workload_status(int32_t proxy_available, const ctl_pod_summary_t *pod,
                         const char *proxy_why, ctl_status_in_t *in, char *msg, size_t msglen)
{
    uint8_t st = pod ? pod->state : CTL_POD_NONE;
    const char *detail = pod && pod->detail[0] ? pod->detail : NULL;
    const char *problem = pod ? pod->problem : NULL;

    in->ready = false;
    in->message = msg;
    if (st == CTL_POD_FAILED) {
        in->phase = "Failed", in->ready_reason = problem ? problem : "PodFailed";
        in->problem = true;
        snprintf(msg, msglen, "MCP server pod failed: %s", detail ? detail : "Failed");
    } else if (st == CTL_POD_READY && proxy_available >= 1) {
        in->phase = "Running", in->ready = true;
        snprintf(msg, msglen, "MCP server is running");
    } else if (st == CTL_POD_READY && proxy_why && proxy_why[0]) {
        in->phase = "Pending", in->ready_reason = "ProxyNotReady", in->problem = true;
        snprintf(msg, msglen, "MCP server is starting: waiting for the proxy to be ready: %s",
                 proxy_why);
    } else {
        in->phase = "Pending", in->ready_reason = problem ? problem : "Pending";
        in->problem = problem != NULL;
        if (st == CTL_POD_READY)
            detail = "waiting for the proxy to be ready";
        snprintf(msg, msglen, "MCP server is starting%s%s", detail ? ": " : "",
                 detail ? detail : "");
    }
}

/* ---- the status object --------------------------------------------------------- */

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

    json_t *st = json_pack(
        "{s:s, s:o, s:s, s:I, s:[o, o]}", "phase", in->phase, "url",
        in->url ? json_string(in->url) : json_null(), "message", in->message ? in->message : "",
        "observedGeneration", (json_int_t)in->generation, "conditions",
        condition(current, "Ready", in->ready, rreason, in->message, in),
        condition(current, "Valid", in->valid, in->valid ? "Valid" : "Invalid", vmsg, in));

    if (st && in->not_implemented && in->not_implemented[0] &&
        json_array_append_new(json_object_get(st, "conditions"),
                              condition(current, CTL_COND_NOT_IMPLEMENTED, true, "NotImplemented",
                                        in->not_implemented, in)) != 0) {
        json_decref(st);
        return NULL;
    }
    return st;
}

/* Equal when every field we set is already there and the conditions list
 * holds exactly our conditions (Ready, Valid and, with fields this operator
 * does not implement, FieldsNotImplemented). */
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
