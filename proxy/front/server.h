/* The server loop (server.c) and the choice of backend (backend.c). */
#ifndef PX_SERVER_H
#define PX_SERVER_H

#include <signal.h>

#include "../internal.h"
#include "../upstream/upstream.h"

/* Serve until *stop is set (by a signal handler), then drain and return the
 * exit status. `cfg` is borrowed. */
int px_run(px_config_t *cfg, volatile sig_atomic_t *stop);

/* The backend: the HTTP client for sse and streamable-http, exec when
 * cfg->exec_argv is set, else pods/attach. NULL with a message in err. */
px_backend_t *px_server_backend(const px_config_t *cfg, char *err, size_t errlen);

#endif
