/* Ambiguous HTTP/1.1 framing (two Content-Lengths, Content-Length with
 * Transfer-Encoding, obs-fold, bare LF) is refused before any handler, so a
 * proxy in front cannot be desynchronised (DESIGN §5). h2o 2.2 parses such
 * heads without complaint and keeps no trace of the duplicates in
 * req->headers, so the check reads the raw head: h2o's HTTP/1 connection
 * consumes a request's bytes from its socket input only once the response
 * is done, so while a handler runs the input still starts with this
 * request's head (pipelined and kept-alive requests included; TLS input is
 * already plaintext there). HTTP/2 frames its own requests. */
#include "mcp/http1.h"
#include "mcp/log.h"
#include "framing.h"

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    h2o_conn_t *conn = req->conn;
    h2o_socket_t *sock;
    const char *why;

    (void)self;
    if (req->version >= 0x200 || !conn->callbacks->get_socket)
        return -1;
    sock = conn->callbacks->get_socket(conn);
    if (!sock || !sock->input)
        return -1;
    why = mcp_http1_framing_error(sock->input->bytes, sock->input->size);
    if (!why)
        return -1;
    mcp_log(MCP_LOG_WARN, "request refused: ambiguous HTTP/1.1 framing", "why", why, NULL);
    req->http1_is_persistent = 0;
    h2o_send_error_400(req, "Bad Request", why, H2O_SEND_ERROR_HTTP1_CLOSE_CONNECTION);
    return 0;
}

void px_framing_register(h2o_pathconf_t *pathconf)
{
    h2o_handler_t *h = h2o_create_handler(pathconf, sizeof(*h));

    h->on_req = on_req;
}
