/* Cedar authorization of what clients ask (DESIGN §9), in ToolHive v0.2.9's
 * model: tools/call, prompts/get and resources/read are asked of the policy
 * set (common/include/mcp/cedar.h, the official engine) with the caller's
 * verified claims and, for a tool, its arguments; list results keep the
 * items the caller could use. Fail closed: no caller, a name that is not a
 * string, arguments that cannot be serialized, or an engine error deny.
 * Decisions are cached on the caller, so within one token's lifetime only,
 * keyed by the action, the name and the arguments' compact JSON (Cedar's
 * answer is a function of exactly these and the claims) and voided when the
 * policies are reloaded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mcp/cedar.h"
#include "mcp/log.h"
#include "private.h"

#define AUDIT_NAME_MAX 256 /* bytes of a tool name or URI written to the audit line */

int px_authz_is_call(const char *method)
{
    return strcmp(method, "tools/call") == 0 || strcmp(method, "prompts/get") == 0 ||
           strcmp(method, "resources/read") == 0;
}

int px_authz_is_list(const char *method)
{
    return strcmp(method, "tools/list") == 0 || strcmp(method, "prompts/list") == 0 ||
           strcmp(method, "resources/list") == 0;
}

static int action_of(const char *method)
{
    if (strcmp(method, "tools/call") == 0 || strcmp(method, "tools/list") == 0)
        return MCP_CEDAR_CALL_TOOL;
    if (strcmp(method, "prompts/get") == 0 || strcmp(method, "prompts/list") == 0)
        return MCP_CEDAR_GET_PROMPT;
    return MCP_CEDAR_READ_RESOURCE;
}

/* Ask Cedar, through the caller's cache. args: compact JSON or NULL. */
static int decide(const px_config_t *cfg, px_caller_t *c, int action, const char *name,
                  const char *args)
{
    size_t nl = strlen(name), al = args ? strlen(args) : 0;
    char *key = malloc(nl + al + 4);
    mcp_cedar_decision_t d;
    px_caller_decision_t *slot;
    int rc;

    if (key) { /* action, NUL, name, NUL, args: unambiguous */
        key[0] = (char)('0' + action);
        memcpy(key + 1, name, nl + 1);
        memcpy(key + 2 + nl, args ? args : "", al + 1);
        for (int i = 0; i < PX_CALLER_DECISIONS; i++) {
            px_caller_decision_t *e = &c->decisions[i];

            if (e->key && e->gen == cfg->authz->gen && e->key[0] == key[0] &&
                strcmp(e->key + 1, name) == 0 &&
                strcmp(e->key + 2 + strlen(e->key + 1), key + 2 + nl) == 0) {
                free(key);
                return e->allow;
            }
        }
    }
    rc = mcp_cedar_authorize(
        cfg->authz->set, (enum mcp_cedar_action)action, (mcp_cedar_str_t){name, nl},
        (mcp_cedar_str_t){c->claims, c->claims_len}, (mcp_cedar_str_t){args, al}, &d);
    if (rc != 0 || d.n_errors > 0)
        mcp_log(MCP_LOG_WARN, "authorization: a policy failed to evaluate; denied", "principal",
                c->sub, "error", d.error.text, NULL);
    if (rc != 0)
        d.allow = 0;
    if (!key)
        return d.allow;
    slot = &c->decisions[c->next_decision++ % PX_CALLER_DECISIONS];
    free(slot->key);
    slot->key = key;
    slot->gen = cfg->authz->gen;
    slot->allow = d.allow;
    return d.allow;
}

int px_authz_allowed(const px_config_t *cfg, px_caller_t *caller, const json_t *msg)
{
    const char *method = px_msg_method(msg), *name;
    json_t *params = json_object_get(msg, "params"), *args;
    char *text = NULL;
    int allow;

    if (!cfg->authz || !px_authz_is_call(method))
        return 1;
    if (!caller)
        return 0;
    if (!(name = px_msg_mcp_name(msg)))
        return 0;
    args = strcmp(method, "tools/call") == 0 ? json_object_get(params, "arguments") : NULL;
    if (args && !json_is_null(args) && !(text = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS)))
        return 0;
    allow = decide(cfg, caller, action_of(method), name, text);
    free(text);
    return allow;
}

void px_authz_filter_result(const px_config_t *cfg, px_caller_t *caller, const char *method,
                            json_t *result)
{
    const char *member = strcmp(method, "tools/list") == 0     ? "tools"
                         : strcmp(method, "prompts/list") == 0 ? "prompts"
                                                               : "resources";
    const char *field = strcmp(member, "resources") == 0 ? "uri" : "name";
    json_t *items = json_object_get(result, member);
    size_t i = 0;

    if (!cfg->authz || !json_is_array(items))
        return;
    while (i < json_array_size(items)) {
        const char *name = json_string_value(json_object_get(json_array_get(items, i), field));

        if (caller && name && decide(cfg, caller, action_of(method), name, NULL))
            i++;
        else
            json_array_remove(items, i);
    }
}

uint64_t px_authz_clock_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void px_authz_audit(const px_caller_t *caller, const char *method, const char *name, int allowed,
                    uint64_t started_ms, const char *outcome)
{
    char ms[24], cut[AUDIT_NAME_MAX + 4];

    snprintf(ms, sizeof(ms), "%llu",
             (unsigned long long)(started_ms ? px_authz_clock_ms() - started_ms : 0));
    snprintf(cut, sizeof(cut), "%.*s%s", AUDIT_NAME_MAX, name ? name : "",
             name && strlen(name) > AUDIT_NAME_MAX ? "..." : "");
    mcp_log(MCP_LOG_INFO, "audit", "principal", caller ? caller->sub : "", "method", method, "name",
            cut, "decision", allowed ? "allow" : "deny", "duration_ms", ms, "outcome", outcome,
            NULL);
}
