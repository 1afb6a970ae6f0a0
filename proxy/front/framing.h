/* Ambiguous HTTP/1.1 framing refused before any handler (framing.c). */
#ifndef PX_FRAMING_H
#define PX_FRAMING_H

#include <h2o.h>

/* Register, as the first handler of pathconf, the check that answers a
 * request with ambiguous framing (mcp/http1.h) 400 and closes its
 * connection; other requests go on to the next handler. */
void px_framing_register(h2o_pathconf_t *pathconf);

#endif
