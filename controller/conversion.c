/* The MCPServer CRD's conversion webhook, kept pointing at mcp-webhook.
 *
 * The CRD ships in the chart's crds/ directory, which Helm never templates,
 * so its spec.conversion cannot carry the webhook Service's namespace or the
 * CA the API server must trust. The controller fills them in: on start, then
 * every period (60 s) and whenever the CA file's contents change, it reads
 * the CRD and, only when its spec.conversion is not the one wanted,
 * merge-patches it. Only the Lease holder does, as it alone writes (the
 * e2e's two-controller test checks that a standby writes nothing); a
 * replica that finds the CRD as wanted writes nothing either.
 *
 *   pure:    the service flag's parse, the URL check, the wanted
 *            spec.conversion, whether a live CRD needs a patch, the patch;
 *   I/O:     the CA file's bounded read, one check (GET, maybe PATCH), and
 *            the loop on its own thread (manager.c starts and joins it).
 *
 * The CA's bytes are never logged: only the target (Service or URL) is. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "mcp/log.h"
#include "mcp/opt.h"
#include "mcp/validate.h"

#define CRD_PATH       "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" CTL_CONVERSION_CRD
#define REQ_TIMEOUT_MS 10000
#define RETRY_FIRST_S  5.0 /* after a failed check: 5 s, doubling up to the period */
#define URL_MAX        2048
#define RBAC_RULE                                                                                  \
    "apiGroups [apiextensions.k8s.io], resources [customresourcedefinitions], resourceNames "      \
    "[" CTL_CONVERSION_CRD "], verbs [get, patch]"
#define PEM_CERT_MARKER "-----BEGIN CERTIFICATE-----"

/* ---- pure ------------------------------------------------------------------ */

int ctl_conversion_parse_service(const char *arg, ctl_conversion_opts_t *o)
{
    const char *slash = arg ? strchr(arg, '/') : NULL;
    const char *colon = slash ? strrchr(slash, ':') : NULL;
    size_t nl = slash ? (size_t)(slash - arg) : 0, ml = colon ? (size_t)(colon - slash - 1) : 0;
    char ns[sizeof(o->service_ns)], name[sizeof(o->service_name)];
    int port;

    if (!slash || !colon || nl >= sizeof(ns) || ml >= sizeof(name))
        return -1;
    snprintf(ns, sizeof(ns), "%.*s", (int)nl, arg);
    snprintf(name, sizeof(name), "%.*s", (int)ml, slash + 1);
    /* the namespace a DNS-1123 label, the Service name a DNS-1035 one */
    if (mcp_check_dns1123_label(ns) || mcp_check_dns1035_label(name) ||
        mcp_opt_int(colon + 1, 1, 65535, &port) != 0)
        return -1;
    memcpy(o->service_ns, ns, sizeof(ns));
    memcpy(o->service_name, name, sizeof(name));
    o->service_port = port;
    return 0;
}

int ctl_conversion_check_url(const char *url)
{
    const char *host;
    size_t hostlen;

    if (!url || strncmp(url, "https://", 8) != 0 || strlen(url) > URL_MAX)
        return -1;
    host = url + 8;
    hostlen = strcspn(host, "/");
    /* the API server refuses a query, a fragment and user information */
    if (hostlen == 0 || strpbrk(url, "?# \t\r\n") || memchr(host, '@', hostlen))
        return -1;
    return 0;
}

/* "<url without trailing slashes>/convert"; new malloc'd string or NULL. */
static char *convert_url(const char *base)
{
    size_t n = strlen(base);
    char *out;

    while (n > 0 && base[n - 1] == '/')
        n--;
    if (!(out = malloc(n + sizeof(CTL_CONVERSION_PATH))))
        return NULL;
    memcpy(out, base, n);
    memcpy(out + n, CTL_CONVERSION_PATH, sizeof(CTL_CONVERSION_PATH));
    return out;
}

json_t *ctl_conversion_desired(const ctl_conversion_opts_t *o, const char *ca, size_t ca_len)
{
    char *b64 = NULL, *url = NULL;
    json_t *target = NULL, *out = NULL;

    if (!ctl_conversion_on(o) || !ca || !(b64 = ctl_base64(ca, ca_len)))
        return NULL;
    if (o->url)
        target = (url = convert_url(o->url)) ? json_string(url) : NULL;
    else
        target = json_pack("{s:s, s:s, s:s, s:i}", "namespace", o->service_ns, "name",
                           o->service_name, "path", CTL_CONVERSION_PATH, "port", o->service_port);
    if (target)
        out = json_pack("{s:s, s:{s:[s], s:{s:o, s:s}}}", "strategy", "Webhook", "webhook",
                        "conversionReviewVersions", "v1", "clientConfig",
                        o->url ? "url" : "service", target, "caBundle", b64);
    free(url);
    free(b64);
    return out;
}

bool ctl_conversion_needs_patch(const json_t *crd, const json_t *want)
{
    const json_t *live = mcp_json_get(crd, "spec.conversion");

    return !live || !json_equal((json_t *)live, (json_t *)want);
}

char *ctl_conversion_patch(const json_t *want)
{
    json_t *conv = json_deep_copy(want), *patch;
    json_t *cc = (json_t *)mcp_json_get(conv, "webhook.clientConfig");
    char *text = NULL;

    /* a merge patch keeps what it does not name: drop the other target */
    if (!cc ||
        json_object_set_new(cc, json_object_get(cc, "url") ? "service" : "url", json_null()) != 0) {
        json_decref(conv);
        return NULL;
    }
    if ((patch = json_pack("{s:{s:o}}", "spec", "conversion", conv)))
        text = json_dumps(patch, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(patch);
    return text;
}

/* "NS/NAME:PORT/convert" or the URL, for the log; into buf. */
static const char *target_text(const ctl_conversion_opts_t *o, char *buf, size_t len)
{
    if (o->url)
        snprintf(buf, len, "%s", o->url);
    else
        snprintf(buf, len, "%s/%s:%d", o->service_ns, o->service_name, o->service_port);
    return buf;
}

/* ---- I/O ------------------------------------------------------------------- */

int ctl_conversion_read_ca(const char *path, char **out, size_t *len, char *why, size_t whylen)
{
    char *buf = malloc(CTL_CONVERSION_CA_MAX + 2); /* the cap, one byte over it, the NUL */
    size_t n = 0;
    ssize_t r = 0;
    int fd = -1, err = 0;
    struct stat st;

    *out = NULL;
    *len = 0;
    if (!buf) {
        snprintf(why, whylen, "out of memory");
        return MCP_ENOMEM;
    }
    if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0 ||
        fstat(fd, &st) != 0) {
        err = errno;
    } else if (!S_ISREG(st.st_mode)) { /* O_NONBLOCK: a FIFO never blocks the open */
        err = EINVAL;
    } else {
        /* one byte over the cap tells a file that is too large */
        while (n <= CTL_CONVERSION_CA_MAX &&
               ((r = read(fd, buf + n, CTL_CONVERSION_CA_MAX + 1 - n)) > 0 ||
                (r < 0 && errno == EINTR)))
            n += r > 0 ? (size_t)r : 0;
        err = r < 0 ? errno : 0;
    }
    if (fd >= 0)
        close(fd);
    if (err) {
        snprintf(why, whylen, "%s", err == EINVAL ? "not a regular file" : strerror(err));
        free(buf);
        return err == ENOENT ? MCP_ENOENT : MCP_EIO;
    }
    buf[n] = '\0';
    if (n > CTL_CONVERSION_CA_MAX || !strstr(buf, PEM_CERT_MARKER)) {
        snprintf(why, whylen, "%s",
                 n > CTL_CONVERSION_CA_MAX ? "larger than 64 KiB" : "no PEM certificate in it");
        free(buf);
        return n > CTL_CONVERSION_CA_MAX ? MCP_ETOOBIG : MCP_EINVAL;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* A refused GET or PATCH, at warning: 404 (no CRD: retried), 403 (with
 * the RBAC rule it needs) or anything else with the API's message. */
static int refused(const char *what, const mcp_kube_resp_t *r, int rc)
{
    char status[16];
    const char *msg = mcp_kube_status_message(r->body, "no message");

    snprintf(status, sizeof(status), "%ld", r->status);
    if (rc != 0) {
        mcp_log(MCP_LOG_WARN, "conversion webhook not configured: cannot reach the API server",
                "crd", CTL_CONVERSION_CRD, "step", what, "error", mcp_strerror(rc), NULL);
        return MCP_EIO;
    }
    if (r->status == 404) {
        mcp_log(MCP_LOG_WARN, "conversion webhook not configured: the CRD does not exist (yet)",
                "crd", CTL_CONVERSION_CRD, "step", what, "error", msg, NULL);
        return MCP_ENOENT;
    }
    if (r->status == 403) {
        mcp_log(MCP_LOG_WARN, "conversion webhook not configured: forbidden", "crd",
                CTL_CONVERSION_CRD, "step", what, "error", msg, "missing_rbac_rule", RBAC_RULE,
                NULL);
        return MCP_EHTTP;
    }
    mcp_log(MCP_LOG_WARN, "conversion webhook not configured", "crd", CTL_CONVERSION_CRD, "step",
            what, "status", status, "error", msg, NULL);
    return MCP_EHTTP;
}

int ctl_conversion_sync(mcp_kube_client_t *c, const ctl_conversion_opts_t *o, const char *ca,
                        size_t ca_len)
{
    json_t *want = ctl_conversion_desired(o, ca, ca_len);
    mcp_kube_req_t req = {.method = "GET", .path = CRD_PATH, .timeout_ms = REQ_TIMEOUT_MS};
    mcp_kube_resp_t r;
    char target[URL_MAX + 64], *patch = NULL;
    int rc;

    if (!want) {
        mcp_log(MCP_LOG_ERROR, "out of memory for the conversion webhook", NULL);
        return MCP_ENOMEM;
    }
    rc = mcp_kube_do(c, &req, &r);
    if (rc != 0 || r.status != 200) {
        rc = refused("get", &r, rc);
        goto out;
    }
    if (!ctl_conversion_needs_patch(r.body, want)) {
        rc = 0;
        goto out;
    }
    mcp_kube_resp_dispose(&r);
    if (!(patch = ctl_conversion_patch(want))) {
        mcp_log(MCP_LOG_ERROR, "out of memory for the conversion webhook", NULL);
        json_decref(want);
        return MCP_ENOMEM;
    }
    req = (mcp_kube_req_t){.method = "PATCH",
                           .path = CRD_PATH,
                           .content_type = "application/merge-patch+json",
                           .body = patch,
                           .timeout_ms = REQ_TIMEOUT_MS};
    rc = mcp_kube_do(c, &req, &r);
    if (rc != 0 || r.status != 200) {
        rc = refused("patch", &r, rc);
        goto out;
    }
    target_text(o, target, sizeof(target));
    mcp_log(MCP_LOG_INFO, "conversion webhook configured", "crd", CTL_CONVERSION_CRD,
            o->url ? "url" : "service", target, "path", CTL_CONVERSION_PATH, NULL);
    if (r.body && ctl_conversion_needs_patch(r.body, want)) /* would patch again each period */
        mcp_log(MCP_LOG_WARN, "the API server keeps another spec.conversion than the one patched",
                "crd", CTL_CONVERSION_CRD, NULL);
    rc = 1;
out:
    mcp_kube_resp_dispose(&r);
    json_decref(want);
    free(patch);
    return rc;
}

/* The wait after the n-th failed check in a row: 5 s doubling, at most the
 * period. */
static double retry_delay(unsigned failures, double period_s)
{
    double d = RETRY_FIRST_S;

    for (unsigned i = 1; i < failures && d < period_s; i++)
        d *= 2;
    return d < period_s ? d : period_s;
}

static void wipe_free(char *p, size_t n)
{
    if (p)
        memset(p, 0, n);
    free(p);
}

void ctl_conversion_run(mcp_kube_client_t *c, const ctl_conversion_opts_t *o,
                        bool (*leading)(void *ctx), void *ctx)
{
    bool led = false;

    char *ca = NULL, *fresh, why[128], last_why[128] = "", target[URL_MAX + 64];
    size_t ca_len = 0, fresh_len;
    unsigned failures = 0;
    double next = 0, next_ca = 0, tick = 0.2;

    if (o->ca_poll_s < tick)
        tick = o->ca_poll_s;
    if (o->period_s < tick)
        tick = o->period_s;
    mcp_log(MCP_LOG_INFO, "keeping the CRD's conversion webhook", "crd", CTL_CONVERSION_CRD,
            o->url ? "url" : "service", target_text(o, target, sizeof(target)), "path",
            CTL_CONVERSION_PATH, "ca_file", o->ca_file, NULL);
    while (!mcp_kube_stopped(c)) {
        double now = ctl_mono();

        if (now >= next_ca) {
            next_ca = now + o->ca_poll_s;
            if (ctl_conversion_read_ca(o->ca_file, &fresh, &fresh_len, why, sizeof(why)) != 0) {
                if (strcmp(why, last_why) != 0) /* once per cause, not once per poll */
                    mcp_log(MCP_LOG_WARN,
                            ca ? "cannot read the conversion CA file: keeping the last one read"
                               : "conversion webhook not configured: cannot read the CA file",
                            "file", o->ca_file, "error", why, NULL);
                snprintf(last_why, sizeof(last_why), "%s", why);
            } else if (ca && fresh_len == ca_len && memcmp(fresh, ca, ca_len) == 0) {
                wipe_free(fresh, fresh_len);
                last_why[0] = '\0';
            } else {
                if (ca)
                    mcp_log(MCP_LOG_INFO, "conversion CA file changed", "file", o->ca_file, NULL);
                wipe_free(ca, ca_len);
                ca = fresh;
                ca_len = fresh_len;
                next = now; /* check the CRD now */
                last_why[0] = '\0';
            }
        }
        bool lead = !leading || leading(ctx);

        if (lead && !led)
            next = now; /* leading now: check at once */
        led = lead;
        if (ca && lead && now >= next) {
            int rc = ctl_conversion_sync(c, o, ca, ca_len);

            failures = rc < 0 ? failures + 1 : 0;
            next = ctl_mono() + (rc < 0 ? retry_delay(failures, o->period_s) : o->period_s);
        }
        usleep((useconds_t)(tick * 1e6));
    }
    wipe_free(ca, ca_len);
}
