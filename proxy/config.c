/* The proxy's configuration: defaults (named caps from internal.h) and
 * disposal. Filled by main.c from flags, read by everything else. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mcp/cedar.h"
#include "mcp/json.h"
#include "internal.h"

#define AUTHZ_FILE_MAX ((size_t)4 << 20)
static const mcp_json_limits_t limits = {64, 1u << 22}; /* depth, values */

void px_config_defaults(px_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->port = 8080;
    cfg->container = "mcp";
    cfg->transport = PX_T_STDIO;
    cfg->max_message = PX_DEF_MAX_MESSAGE;
    cfg->max_queued = PX_DEF_MAX_QUEUED;
    cfg->max_sessions = PX_DEF_MAX_SESSIONS;
    cfg->max_inflight = PX_DEF_MAX_INFLIGHT;
    cfg->max_inflight_total = PX_DEF_MAX_INFLIGHT_TOTAL;
    cfg->max_sessions_per_client = PX_DEF_MAX_SESSIONS / 4;
    cfg->request_timeout = PX_DEF_REQUEST_TIMEOUT;
    cfg->idle_timeout = PX_DEF_IDLE_TIMEOUT;
    cfg->drain_seconds = PX_DEF_DRAIN;
    cfg->probe_timeout = PX_DEF_PROBE_TIMEOUT;
    cfg->attach_stale = PX_DEF_ATTACH_STALE;
    cfg->egress_max_conns = PX_DEF_EGRESS_MAX_CONNS;
    cfg->egress_idle_timeout = PX_DEF_EGRESS_IDLE;
    cfg->egress_connect_timeout = PX_DEF_EGRESS_CONNECT;
}

void px_config_dispose(px_config_t *cfg)
{
    for (char **t = cfg->tools; t && *t; t++)
        free(*t);
    free(cfg->tools);
    free(cfg->origins);
    for (size_t i = 0; i < cfg->n_hosts; i++)
        free(cfg->hosts[i]);
    free(cfg->hosts);
    if (cfg->authz)
        mcp_cedar_free(cfg->authz->set);
    free(cfg->authz);
    cfg->authz = NULL;
    cfg->tools = NULL;
    cfg->origins = NULL;
    cfg->hosts = NULL;
    cfg->n_hosts = 0;
}

int px_tool_allowed(const px_config_t *cfg, const char *name)
{
    if (!cfg->tools)
        return 1;
    for (char **t = cfg->tools; name && *t; t++)
        if (strcmp(*t, name) == 0)
            return 1;
    return 0;
}

int px_same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static void stat_of(const char *path, struct stat *st)
{
    if (stat(path, st) != 0)
        memset(st, 0, sizeof(*st));
}

int px_authz_load(px_config_t *cfg, char *err, size_t errlen)
{
    const char *path = cfg->authz_config;
    struct stat st;
    mcp_cedar_t *set = NULL;
    FILE *fp;
    char *text;
    size_t n;
    json_t *doc = NULL, *cedar, *policies, *ent;
    mcp_cedar_str_t *ps = NULL;
    mcp_cedar_error_t ce;
    const char *es;
    char why[256] = "not JSON";
    size_t np, i;
    int rc = -1;

    stat_of(path, &st); /* before reading: a change after it is seen next time */
    fp = fopen(path, "re");
    text = fp ? malloc(AUTHZ_FILE_MAX + 1) : NULL;
    n = text ? fread(text, 1, AUTHZ_FILE_MAX + 1, fp) : 0;
    if (fp)
        fclose(fp);
    err[0] = '\0';
    if (!text) {
        snprintf(err, errlen, "--authz-config %s: cannot read it", path);
        return -1;
    }
    if (n > AUTHZ_FILE_MAX) {
        snprintf(err, errlen, "--authz-config %s: larger than 4 MiB", path);
        goto out;
    }
    doc = mcp_json_load_bounded(text, n, &limits, why, sizeof(why));
    cedar = json_object_get(doc, "cedar");
    policies = json_object_get(cedar, "policies");
    ent = json_object_get(cedar, "entities_json");
    np = json_array_size(policies);
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "--authz-config %s: %s", path, why);
        goto out;
    }
    if (!json_is_string(json_object_get(doc, "type")) ||
        strcmp(json_string_value(json_object_get(doc, "type")), "cedarv1") != 0) {
        snprintf(err, errlen, "--authz-config %s: type: must be \"cedarv1\"", path);
        goto out;
    }
    if (np == 0) {
        snprintf(err, errlen, "--authz-config %s: cedar.policies: must be a non-empty list", path);
        goto out;
    }
    if (ent && !json_is_string(ent)) {
        snprintf(err, errlen, "--authz-config %s: cedar.entities_json: must be a string", path);
        goto out;
    }
    if (!(ps = calloc(np, sizeof(*ps))))
        goto out;
    for (i = 0; i < np; i++) {
        json_t *p = json_array_get(policies, i);

        if (!json_is_string(p)) {
            snprintf(err, errlen, "--authz-config %s: cedar.policies[%zu]: must be a string", path,
                     i);
            goto out;
        }
        ps[i] = (mcp_cedar_str_t){json_string_value(p), json_string_length(p)};
    }
    es = ent ? json_string_value(ent) : "";
    if (mcp_cedar_new(ps, np, (mcp_cedar_str_t){es, strlen(es)}, &set, &ce) != 0) {
        if (ce.index >= 0)
            snprintf(err, errlen, "--authz-config %s: cedar.policies[%d]: %s", path, ce.index,
                     ce.text);
        else
            snprintf(err, errlen, "--authz-config %s: cedar.entities_json: %s", path, ce.text);
        goto out;
    }
    if (!cfg->authz && !(cfg->authz = calloc(1, sizeof(*cfg->authz)))) {
        mcp_cedar_free(set);
        goto out;
    }
    mcp_cedar_free(cfg->authz->set);
    cfg->authz->set = set;
    cfg->authz->gen++;
    cfg->authz->seen = st;
    rc = 0;
out:
    if (rc != 0 && !err[0])
        snprintf(err, errlen, "--authz-config %s: out of memory", path);
    free(ps);
    json_decref(doc);
    free(text);
    return rc;
}

int px_authz_reload(px_config_t *cfg, char *err, size_t errlen)
{
    struct stat st;
    px_authz_t *a = cfg->authz;

    if (!a || !cfg->authz_config)
        return 0;
    stat_of(cfg->authz_config, &st);
    if (px_same_file(&st, &a->seen))
        return 0;
    if (px_authz_load(cfg, err, errlen) == 0)
        return 1;
    /* remember this version as seen: it is refused once, not every second */
    a->seen = st;
    return -1;
}
