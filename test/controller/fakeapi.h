/* An in-memory stand-in for the apiserver, behind the mcp_kube_client_t
 * interface, for the reconcile and leader tests. Objects live at their REST
 * path; apply (PATCH apply-patch) creates or replaces the object keeping
 * uid/resourceVersion/status (a RoleBinding's roleRef is immutable: 422, as
 * the apiserver does; a resourceVersion in the applied object must match the
 * stored one's, else 409, and is ignored when creating); merge patch on /status replaces status;
 * PUT checks resourceVersion (409 on mismatch); POST honours generateName. Every request is counted
 * by method; `fail_status` makes the next matching requests fail. Header-only (static) because test
 * binaries link only test_*.c files. */
#ifndef FAKEAPI_H
#define FAKEAPI_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../controller/internal.h"

typedef struct fake {
    mcp_kube_client_t super;
    json_t *objs; /* path -> object */
    long rv;
    int gets, posts, puts, patches, deletes, applies, status_writes, events;
    const char *fail_prefix;  /* requests whose path starts with this fail... */
    long fail_status;         /* ...with this status */
    int fail_count;           /* ...this many times */
    const char *fail_message; /* ...with this message (NULL: "injected failure") */
    char log[8192];           /* "METHOD path\n" of writes */
} fake_t;

static inline void fake_path(char *out, size_t len, const char *path)
{
    const char *q = strchr(path, '?');
    size_t n = q ? (size_t)(q - path) : strlen(path);

    snprintf(out, len, "%.*s", (int)n, path);
}

static inline json_t *fake_status(long code, const char *msg)
{
    return json_pack("{s:s, s:s, s:s, s:i}", "kind", "Status", "status", "Failure", "message", msg,
                     "code", (int)code);
}

static inline void fake_stamp(fake_t *f, json_t *obj, const json_t *old)
{
    char rv[32], uid[64];
    json_t *meta = json_object_get(obj, "metadata");

    snprintf(rv, sizeof(rv), "%ld", ++f->rv);
    json_object_set_new(meta, "resourceVersion", json_string(rv));
    if (old && mcp_json_get(old, "metadata.uid")) {
        json_object_set(meta, "uid", (json_t *)mcp_json_get(old, "metadata.uid"));
    } else if (!json_object_get(meta, "uid")) {
        snprintf(uid, sizeof(uid), "uid-%ld", f->rv);
        json_object_set_new(meta, "uid", json_string(uid));
    }
    if (old && json_object_get(old, "status") && !json_object_get(obj, "status"))
        json_object_set(obj, "status", json_object_get((json_t *)old, "status"));
}

/* Like the real client: the body goes over the wire as text and is loaded
 * within mcp_kube_limits (a body that is not loads as NULL). */
static inline void fake_respond(mcp_kube_resp_t *resp, long status, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    char why[128];

    resp->status = status;
    resp->body =
        text ? mcp_json_load_bounded(text, strlen(text), &mcp_kube_limits, why, sizeof(why)) : NULL;
    free(text);
    json_decref(body);
}

static inline void fake_write(fake_t *f, mcp_kube_resp_t *resp, const char *p,
                              const mcp_kube_req_t *req)
{
    json_t *old = json_object_get(f->objs, p), *in = json_loads(req->body, 0, NULL), *obj;
    bool status_patch = strlen(p) > 7 && strcmp(p + strlen(p) - 7, "/status") == 0;

    if (strcmp(req->method, "PATCH") == 0 && status_patch) {
        char base[512];
        snprintf(base, sizeof(base), "%.*s", (int)(strlen(p) - 7), p);
        old = json_object_get(f->objs, base);
        if (!old) {
            json_decref(in);
            return fake_respond(resp, 404, fake_status(404, "not found"));
        }
        obj = json_deep_copy(old);
        json_object_set(obj, "status", json_object_get(in, "status"));
        {
            const char *k;
            json_t *v, *st = json_object_get(obj, "status");
            void *tmp;
            json_object_foreach_safe(st, tmp, k, v)
            {
                if (json_is_null(v)) /* merge patch: null deletes */
                    json_object_del(st, k);
            }
        }
        fake_stamp(f, obj, old);
        json_object_set_new(f->objs, base, obj);
        f->status_writes++;
    } else if (strcmp(req->method, "PATCH") == 0) {
        const char *want_rv = mcp_json_str(in, "metadata.resourceVersion");
        if (old && want_rv &&
            strcmp(want_rv, mcp_json_str(old, "metadata.resourceVersion") ?: "") != 0) {
            json_decref(in); /* a precondition, as the apiserver checks it */
            return fake_respond(resp, 409, fake_status(409, "the object has been modified"));
        }
        if (old && strcmp(mcp_json_str(in, "kind") ?: "", "RoleBinding") == 0 &&
            !json_equal(json_object_get(old, "roleRef"), json_object_get(in, "roleRef"))) {
            json_decref(in);
            return fake_respond(resp, 422, fake_status(422, "cannot change roleRef"));
        }
        obj = json_deep_copy(in);
        fake_stamp(f, obj, old);
        fake_respond(resp, old ? 200 : 201, NULL);
        json_object_set_new(f->objs, p, obj);
        f->applies++;
    } else if (strcmp(req->method, "PUT") == 0) {
        if (!old || strcmp(mcp_json_str(old, "metadata.resourceVersion"),
                           mcp_json_str(in, "metadata.resourceVersion") ?: "") != 0) {
            json_decref(in);
            return fake_respond(resp, 409, fake_status(409, "conflict"));
        }
        obj = json_deep_copy(in);
        fake_stamp(f, obj, old);
        json_object_set_new(f->objs, p, obj);
    } else { /* POST */
        char path[600];
        const char *gen = mcp_json_str(in, "metadata.generateName");
        obj = json_deep_copy(in);
        if (gen) {
            char name[128];
            snprintf(name, sizeof(name), "%s%ld", gen, f->rv + 1);
            json_object_set_new(json_object_get(obj, "metadata"), "name", json_string(name));
        }
        snprintf(path, sizeof(path), "%s/%s", p, mcp_json_str(obj, "metadata.name"));
        if (json_object_get(f->objs, path)) {
            json_decref(obj);
            json_decref(in);
            return fake_respond(resp, 409, fake_status(409, "already exists"));
        }
        fake_stamp(f, obj, NULL);
        json_object_set_new(f->objs, path, obj);
        f->events += strstr(p, "/events") != NULL;
    }
    json_decref(in);
    fake_respond(resp, resp->status ? resp->status : 200, json_deep_copy(obj));
}

static inline int fake_request(mcp_kube_client_t *c, const mcp_kube_req_t *req,
                               mcp_kube_resp_t *resp)
{
    fake_t *f = (fake_t *)c;
    char p[512];
    size_t used = strlen(f->log);

    resp->status = 0;
    resp->body = NULL;
    fake_path(p, sizeof(p), req->path);
    if (f->fail_count > 0 && f->fail_prefix &&
        strncmp(p, f->fail_prefix, strlen(f->fail_prefix)) == 0) {
        f->fail_count--;
        fake_respond(
            resp, f->fail_status,
            fake_status(f->fail_status, f->fail_message ? f->fail_message : "injected failure"));
        return 0;
    }
    if (strcmp(req->method, "GET") == 0) {
        json_t *o = json_object_get(f->objs, p);
        f->gets++;
        if (!o)
            fake_respond(resp, 404, fake_status(404, "not found"));
        else
            fake_respond(resp, 200, json_deep_copy(o));
        return 0;
    }
    snprintf(f->log + used, sizeof(f->log) - used, "%s %s\n", req->method, p);
    if (strcmp(req->method, "DELETE") == 0) {
        f->deletes++;
        fake_respond(resp, json_object_del(f->objs, p) == 0 ? 200 : 404, NULL);
        return 0;
    }
    f->posts += strcmp(req->method, "POST") == 0;
    f->puts += strcmp(req->method, "PUT") == 0;
    f->patches += strcmp(req->method, "PATCH") == 0;
    fake_write(f, resp, p, req);
    return 0;
}

static inline void fake_init(fake_t *f)
{
    memset(f, 0, sizeof(*f));
    f->super.request = fake_request;
    f->objs = json_object();
    f->rv = 100;
}

static inline void fake_dispose(fake_t *f)
{
    json_decref(f->objs);
}

/* ctrl wired to the fake apiserver f as the reconcile tests use it: a new
 * cache, queue (5-100 ms backoff) and metrics, Events on, conflicts retried
 * after 30 s and permanent errors after 60 s. */
static inline void fake_ctrl_init(fake_t *f, ctl_ctrl_t *ctrl)
{
    ctl_queue_opts_t qo = {.base_ms = 5, .cap_ms = 100};

    *ctrl = (ctl_ctrl_t){.client = &f->super,
                         .cache = ctl_cache_new(),
                         .queue = ctl_queue_new(&qo),
                         .metrics = ctl_metrics_new(),
                         .identity = "test",
                         .events = true,
                         .conflict_retry_ms = 30000,
                         .permanent_retry_ms = 60000};
}

/* Frees what fake_ctrl_init made, and f's objects. */
static inline void fake_ctrl_dispose(fake_t *f, ctl_ctrl_t *ctrl)
{
    ctl_cache_free(ctrl->cache);
    ctl_queue_free(ctrl->queue);
    ctl_metrics_free(ctrl->metrics);
    fake_dispose(f);
}

static inline int fake_writes(const fake_t *f)
{
    return f->posts + f->puts + f->patches + f->deletes;
}

static inline void fake_reset_counts(fake_t *f)
{
    f->gets = f->posts = f->puts = f->patches = f->deletes = 0;
    f->applies = f->status_writes = f->events = 0;
    f->log[0] = '\0';
}

#endif
