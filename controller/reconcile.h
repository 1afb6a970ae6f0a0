/* What the pieces of one reconcile share (reconcile.c drives it, apply.c
 * writes the children, watch.c keeps the cache): the reconcile's state and
 * the helpers to record how it went. Private to the controller. */
#ifndef CTL_RECONCILE_H
#define CTL_RECONCILE_H

#include "internal.h"

#define CTL_PATH_MAX 512
#define CTL_KEY_MAX  320

typedef struct ctl_rec {
    ctl_ctrl_t *c;
    json_t *obj; /* the MCPServer */
    mcp_server_t s;
    char *fail; /* message for phase Failed (owned) */
    enum ctl_result res;
    double requeue_ms;
    mcp_buf_t written; /* "Kind/name, ..." applied this time */
    bool np_written;
    bool replacing;  /* re-applying after deleting an immutable child */
    char cause[256]; /* why a transient failure happened, for the log */
    /* the spec's fields this operator accepts but does not implement, for
     * condition FieldsNotImplemented ("" = none) */
    char not_implemented[256];
} ctl_rec_t;

/* reconcile.c. The MCPServer fails with this message (fmt takes a, b, m;
 * m NULL = ""). A later failure replaces an earlier one. */
void ctl_rec_fail(ctl_rec_t *r, enum ctl_result res, const char *fmt, const char *a, const char *b,
                  const char *m);
/* A failure worth retrying soon (counted as an error, its cause logged). */
void ctl_rec_retry_later(ctl_rec_t *r, const char *method, const char *path, int rc,
                         const mcp_kube_resp_t *resp);
/* How long one write may take: until the Lease's renew deadline (0 = the
 * client's default without leader election); -1 (and r->res set) when it
 * passed, so nothing is written by a replica that may no longer lead. */
long ctl_rec_write_timeout(ctl_rec_t *r);
/* 409, 429, 5xx, or no answer at all. */
bool ctl_transient(long status);

/* proxyprobe.c. Why the proxy Deployment of r's MCPServer is not ready, in
 * its /health's words ("" when it cannot say): one pod list, one GET of at
 * most 1 s to the first running proxy pod. `why` >= 201 bytes. */
void ctl_proxy_why(ctl_rec_t *r, char *why, size_t n);

/* watch.c. The uid of obj's controller ownerReference (borrowed) or NULL. */
const char *ctl_controller_uid(const json_t *obj);
/* "Kind/ns/name", the cache's key of a child. */
void ctl_child_key(char *buf, size_t len, const char *kind, const char *ns, const char *name);
/* The cache's record of a child object (match_hash 0). */
void ctl_child_fill(ctl_child_t *ch, const json_t *obj, uint32_t epoch);
/* The live child is what we last applied as `want` (its hash is h), and our
 * fields still hold our values. */
bool ctl_child_up_to_date(const json_t *live, const json_t *want, uint64_t h);

/* apply.c. Make every desired object (array, borrowed) true, writing only
 * what is not up to date, then delete the children no longer wanted. On a
 * failure r->res (and r->fail or r->cause) says why. */
void ctl_apply_all(ctl_rec_t *r, const json_t *desired);

#endif
