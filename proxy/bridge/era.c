/* The two eras of MCP on the wire, as the proxy needs them: the probe it
 * sends to learn a server's era (`server/discover`, 2026-07-28), the
 * handshake it performs itself with a handshake-era server (`initialize` +
 * `notifications/initialized`, 2025-11-25), and the answers it gives
 * clients of the other era from what it learned: `initialize` for a
 * handshake-era client in front of a 2026-07-28 server and `server/discover`
 * for a 2026-07-28 client in front of a handshake-era server. Also the
 * per-request `_meta` a 2026-07-28 server requires and that a handshake-era
 * server has no use for. */
#include <string.h>

#include "bridge.h"

#define PREFIX "io.modelcontextprotocol/"

void px_server_info_clear(px_server_info_t *si)
{
    json_decref(si->capabilities);
    json_decref(si->server_info);
    json_decref(si->instructions);
    memset(si, 0, sizeof(*si));
}

static json_t *proxy_info(void)
{
    return json_pack("{s:s, s:s}", "name", "mcp-proxy", "version", PX_VERSION);
}

json_t *px_era_discover_request(int64_t id)
{
    return json_pack("{s:s, s:I, s:s, s:{s:{s:s, s:{}, s:o}}}", "jsonrpc", "2.0", "id",
                     (json_int_t)id, "method", "server/discover", "params", "_meta",
                     PX_META_VERSION, PX_MODERN_VERSION, PX_META_CAPS, PX_META_CLIENT,
                     proxy_info());
}

/* The proxy declares the client capabilities any of its clients may have:
 * a server request needing one goes to a session that declared it, or gets
 * an error (bridge.c). */
json_t *px_era_initialize_request(int64_t id)
{
    return json_pack("{s:s, s:I, s:s, s:{s:s, s:{s:{}, s:{}, s:{}}, s:o}}", "jsonrpc", "2.0", "id",
                     (json_int_t)id, "method", "initialize", "params", "protocolVersion",
                     PX_LEGACY_LATEST, "capabilities", "roots", "sampling", "elicitation",
                     "clientInfo", proxy_info());
}

json_t *px_era_initialized_notification(void)
{
    return json_pack("{s:s, s:s}", "jsonrpc", "2.0", "method", "notifications/initialized");
}

static void keep(json_t **slot, json_t *v)
{
    json_decref(*slot);
    *slot = v ? json_incref(v) : NULL;
}

int px_era_learn_discover(px_server_info_t *si, const json_t *result)
{
    json_t *versions = json_object_get(result, "supportedVersions");
    json_t *meta = json_object_get(result, "_meta");
    size_t i;
    json_t *v;
    const char *pick = NULL;

    if (!json_is_array(versions) || json_array_size(versions) == 0)
        return MCP_EINVAL;
    json_array_foreach(versions, i, v)
    {
        const char *s = json_string_value(v);

        if (s && strcmp(s, PX_MODERN_VERSION) == 0)
            pick = s;
        else if (s && !pick && !px_is_legacy_version(s))
            pick = s; /* a newer modern revision: speak it, our messages are the same shape */
    }
    if (!pick)
        return MCP_EINVAL; /* advertises only handshake-era versions: treat as legacy */
    px_server_info_clear(si);
    si->era = PX_ERA_MODERN;
    snprintf(si->version, sizeof(si->version), "%s", pick);
    keep(&si->capabilities, json_object_get(result, "capabilities"));
    if (!json_is_object(si->capabilities)) {
        json_decref(si->capabilities);
        si->capabilities = json_object();
    }
    keep(&si->server_info, json_object_get(meta, PX_META_SERVER));
    keep(&si->instructions, json_object_get(result, "instructions"));
    return 0;
}

int px_era_learn_initialize(px_server_info_t *si, const json_t *result)
{
    const char *pv = json_string_value(json_object_get(result, "protocolVersion"));

    if (!pv || !json_is_object(json_object_get(result, "capabilities")))
        return MCP_EINVAL;
    px_server_info_clear(si);
    si->era = PX_ERA_LEGACY;
    snprintf(si->version, sizeof(si->version), "%s", pv);
    keep(&si->capabilities, json_object_get(result, "capabilities"));
    keep(&si->server_info, json_object_get(result, "serverInfo"));
    keep(&si->instructions, json_object_get(result, "instructions"));
    return 0;
}

static json_t *server_info_or_default(const px_server_info_t *si)
{
    if (json_is_object(si->server_info))
        return json_incref(si->server_info);
    return proxy_info();
}

/* Only the capability names the handshake era defines pass to its clients;
 * the rest (a 2026-07-28 `extensions` map, say) would confuse strict ones. */
json_t *px_era_initialize_result(const px_server_info_t *si, const char *client_version)
{
    const char *v = px_is_legacy_version(client_version) ? client_version : PX_LEGACY_LATEST;
    json_t *caps = json_deep_copy(si->capabilities ? si->capabilities : json_object());
    json_t *r;

    if (si->era == PX_ERA_MODERN && caps)
        json_object_del(caps, "extensions");
    r = json_pack("{s:s, s:o, s:o}", "protocolVersion", v, "capabilities",
                  caps ? caps : json_object(), "serverInfo", server_info_or_default(si));
    if (r && json_is_string(si->instructions))
        json_object_set(r, "instructions", si->instructions);
    return r;
}

json_t *px_era_discover_result(const px_server_info_t *si)
{
    json_t *r =
        json_pack("{s:s, s:[s], s:O, s:{s:o}, s:I, s:s}", "resultType", "complete",
                  "supportedVersions", PX_MODERN_VERSION, "capabilities",
                  si->capabilities ? si->capabilities : json_object(), "_meta", PX_META_SERVER,
                  server_info_or_default(si), "ttlMs", (json_int_t)0, "cacheScope", "private");

    if (r && json_is_string(si->instructions))
        json_object_set(r, "instructions", si->instructions);
    return r;
}

static json_t *params_meta(json_t *msg)
{
    json_t *params = json_object_get(msg, "params");
    json_t *meta;

    if (!params) {
        params = json_object();
        if (!params || json_object_set_new(msg, "params", params) != 0)
            return NULL;
    }
    if (!json_is_object(params))
        return NULL;
    meta = json_object_get(params, "_meta");
    if (!meta) {
        meta = json_object();
        if (!meta || json_object_set_new(params, "_meta", meta) != 0)
            return NULL;
    }
    return json_is_object(meta) ? meta : NULL;
}

int px_era_add_meta(json_t *msg, const char *version, json_t *caps, json_t *client_info,
                    const char *log_level)
{
    json_t *meta = params_meta(msg);

    if (!meta)
        return MCP_EINVAL;
    if (json_object_set_new(meta, PX_META_VERSION, json_string(version)) != 0 ||
        json_object_set_new(meta, PX_META_CAPS, caps ? json_incref(caps) : json_object()) != 0)
        return MCP_ENOMEM;
    if (client_info && json_object_set(meta, PX_META_CLIENT, client_info) != 0)
        return MCP_ENOMEM;
    if (log_level && json_object_set_new(meta, PX_META_LOGLEVEL, json_string(log_level)) != 0)
        return MCP_ENOMEM;
    return 0;
}

void px_era_strip_meta(json_t *msg)
{
    json_t *params = json_object_get(msg, "params");
    json_t *meta = json_object_get(params, "_meta");
    const char *key;
    json_t *v;
    void *tmp;

    if (!json_is_object(meta))
        return;
    json_object_foreach_safe(meta, tmp, key, v)
    {
        if (strncmp(key, PREFIX, sizeof(PREFIX) - 1) == 0)
            json_object_del(meta, key);
    }
    if (json_object_size(meta) == 0)
        json_object_del(params, "_meta");
}
