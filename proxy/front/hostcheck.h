/* Host and Origin against the names the proxy is served under (DNS
 * rebinding; DESIGN §5 "Host and Origin"). Pure: no I/O, no h2o. */
#ifndef PX_HOSTCHECK_H
#define PX_HOSTCHECK_H

#include <stddef.h>

#include "../internal.h"

/* The environment variable with more names, comma-separated. */
#define PX_ALLOWED_HOSTS_ENV "MCP_PROXY_ALLOWED_HOSTS"

/* Add a name to cfg's allow-list (--allow-host, MCP_PROXY_ALLOWED_HOSTS): a
 * host name or IP address, optionally with ":port" (dropped: every port is
 * allowed), stored lower-case without a trailing dot; the copy is cfg's.
 * NULL when added, else why the name is refused (a static string; also on
 * out of memory). */
const char *px_allow_host_add(px_config_t *cfg, const char *name);
/* Each comma-separated name of `list` (spaces around names ignored, empty
 * names skipped) as px_allow_host_add; NULL, or the reason with the bad
 * name, at most 200 bytes of it, in `bad` (bad_len bytes). */
const char *px_allow_hosts_add_list(px_config_t *cfg, const char *list, char *bad, size_t bad_len);

/* May a request with this Host header value (len bytes, not NUL-terminated)
 * be served? Loopback names, IP literals and the listed names, any port. */
int px_host_allowed(const px_config_t *cfg, const char *host, size_t len);
/* May a request with this Origin header value be served? An exact
 * --allow-origin value, or a http(s) origin whose host is a loopback name or
 * listed, any port; never an arbitrary IP, never "null". The caller accepts
 * a request without Origin. */
int px_origin_allowed(const px_config_t *cfg, const char *origin, size_t len);

#endif
