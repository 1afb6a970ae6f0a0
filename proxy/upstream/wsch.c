/* The Kubernetes streaming channel protocol over a WebSocket, as
 * pods/attach speaks it with subprotocol v5.channel.k8s.io: every binary
 * message starts with a channel byte (0 stdin, 1 stdout, 2 stderr, 3 error
 * status, 255 close: [255, channel] half-closes that channel). Framing is
 * wslay's; this file adds the channels, the opening handshake (request
 * bytes and the check of the 101 answer), pings and the stale clock. It
 * does no I/O of its own: bytes come and go through px_ws_io_t, so the unit
 * tests replay recorded frames from memory and the attach thread plugs in
 * a TLS connection. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <wslay/wslay.h>

#include "wsch.h"

struct px_ws {
    wslay_event_context_ptr ctx;
    px_ws_io_t io;
    px_ws_sink_t sink;
    int closed, failed;
};

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *user)
{
    px_ws_t *w = user;
    ssize_t n = w->io.recv(w->io.ctx, buf, len);

    (void)flags;
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE); /* EOF or error */
    return -1;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                       void *user)
{
    px_ws_t *w = user;
    ssize_t n = w->io.send(w->io.ctx, data, len);

    (void)flags;
    if (n >= 0)
        return n;
    wslay_event_set_error(ctx, (errno == EAGAIN || errno == EWOULDBLOCK)
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static int genmask_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, void *user)
{
    (void)ctx;
    (void)user;
    return RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static void on_msg(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                   void *user)
{
    px_ws_t *w = user;

    (void)ctx;
    if (arg->opcode == WSLAY_CONNECTION_CLOSE) {
        w->closed = 1;
        return;
    }
    if (arg->opcode != WSLAY_BINARY_FRAME || arg->msg_length == 0)
        return; /* pongs (wslay answers pings itself), text: not part of v5 */
    const uint8_t *p = arg->msg + 1;
    size_t n = arg->msg_length - 1;

    switch (arg->msg[0]) {
    case PX_WS_STDOUT:
        if (n && w->sink.stdout_data(w->sink.ctx, p, n) != 0)
            w->failed = 1;
        break;
    case PX_WS_STDERR:
        if (n && w->sink.stderr_data)
            w->sink.stderr_data(w->sink.ctx, p, n);
        break;
    case PX_WS_ERROR:
        if (n && w->sink.status)
            w->sink.status(w->sink.ctx, (const char *)p, n);
        break;
    case PX_WS_CLOSE: /* [255, channel]: the server closed that channel */
        if (n && p[0] == PX_WS_STDOUT)
            w->closed = 1;
        break;
    default:
        break;
    }
}

px_ws_t *px_ws_new(const px_ws_io_t *io, const px_ws_sink_t *sink, size_t max_msg)
{
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = recv_cb,
        .send_callback = send_cb,
        .genmask_callback = genmask_cb,
        .on_msg_recv_callback = on_msg,
    };
    px_ws_t *w = calloc(1, sizeof(*w));

    if (!w)
        return NULL;
    w->io = *io;
    w->sink = *sink;
    if (wslay_event_context_client_init(&w->ctx, &cbs, w) != 0) {
        free(w);
        return NULL;
    }
    wslay_event_config_set_max_recv_msg_length(w->ctx, max_msg + 1);
    return w;
}

void px_ws_free(px_ws_t *w)
{
    if (!w)
        return;
    wslay_event_context_free(w->ctx);
    free(w);
}

static int queue(px_ws_t *w, uint8_t opcode, const uint8_t *p, size_t n)
{
    struct wslay_event_msg m = {.opcode = opcode, .msg = p, .msg_length = n};

    return wslay_event_queue_msg(w->ctx, &m) == 0 ? 0 : MCP_EIO;
}

int px_ws_stdin(px_ws_t *w, const void *p, size_t n)
{
    uint8_t *frame = malloc(n + 1);
    int rc;

    if (!frame)
        return MCP_ENOMEM;
    frame[0] = PX_WS_STDIN;
    memcpy(frame + 1, p, n);
    rc = queue(w, WSLAY_BINARY_FRAME, frame, n + 1); /* wslay copies the message */
    free(frame);
    return rc;
}

int px_ws_close_stdin(px_ws_t *w)
{
    static const uint8_t msg[2] = {PX_WS_CLOSE, PX_WS_STDIN};

    return queue(w, WSLAY_BINARY_FRAME, msg, sizeof(msg));
}

int px_ws_ping(px_ws_t *w)
{
    return queue(w, WSLAY_PING, (const uint8_t *)"mcp", 3);
}

int px_ws_read(px_ws_t *w)
{
    if (wslay_event_recv(w->ctx) != 0 || w->failed)
        return MCP_EIO;
    if (w->closed)
        return MCP_ENOENT;
    /* wslay stops reading after a protocol error or an over-long message
     * (it queues a close frame itself): the stream is over */
    return wslay_event_get_read_enabled(w->ctx) ? 0 : MCP_EIO;
}

int px_ws_write(px_ws_t *w)
{
    return wslay_event_send(w->ctx) == 0 ? 0 : MCP_EIO;
}

int px_ws_want_write(const px_ws_t *w)
{
    return wslay_event_want_write(w->ctx);
}

size_t px_ws_queued(const px_ws_t *w)
{
    return wslay_event_get_queued_msg_length(w->ctx);
}

/* ---- the opening handshake ---------------------------------------------------------------- */

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int px_ws_new_key(char key[25])
{
    unsigned char raw[16];

    if (RAND_bytes(raw, sizeof(raw)) != 1)
        return MCP_EIO;
    EVP_EncodeBlock((unsigned char *)key, raw, sizeof(raw));
    return 0;
}

int px_ws_request(mcp_buf_t *out, const char *host, const char *path, const char *key,
                  const char *auth_header)
{
    return mcp_buf_addf(out,
                        "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
                        "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " PX_WS_PROTOCOL
                        "\r\nUser-Agent: mcp-proxy/" PX_VERSION "\r\n%s%s\r\n",
                        path, host, key, auth_header ? auth_header : "", auth_header ? "\r\n" : "");
}

/* The value of header `name` in the head (case-insensitive), copied. */
static int header_value(const char *head, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);

    for (const char *p = strstr(head, "\r\n"); p && p[2]; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2, *end = strstr(line, "\r\n");

        if (!end || end == line)
            break;
        if ((size_t)(end - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            size_t n;

            while (*v == ' ' || *v == '\t')
                v++;
            n = (size_t)(end - v);
            while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
                n--;
            if (n >= outlen)
                return MCP_ETOOBIG;
            memcpy(out, v, n);
            out[n] = '\0';
            return 0;
        }
    }
    return MCP_ENOENT;
}

int px_ws_check_response(const char *head, const char *key, char *err, size_t errlen)
{
    unsigned char sha[SHA_DIGEST_LENGTH];
    char want[64], v[128], cat[96];
    int status = 0;

    if (sscanf(head, "HTTP/1.%*d %d", &status) != 1) {
        snprintf(err, errlen, "not an HTTP response");
        return MCP_EINVAL;
    }
    if (status != 101) {
        snprintf(err, errlen, "attach refused: HTTP %d", status);
        return MCP_EHTTP;
    }
    snprintf(cat, sizeof(cat), "%s" WS_GUID, key);
    SHA1((const unsigned char *)cat, strlen(cat), sha);
    EVP_EncodeBlock((unsigned char *)want, sha, sizeof(sha));
    if (header_value(head, "Sec-WebSocket-Accept", v, sizeof(v)) != 0 || strcmp(v, want) != 0) {
        snprintf(err, errlen, "bad Sec-WebSocket-Accept");
        return MCP_EINVAL;
    }
    if (header_value(head, "Sec-WebSocket-Protocol", v, sizeof(v)) != 0 ||
        strcmp(v, PX_WS_PROTOCOL) != 0) {
        snprintf(err, errlen, "the apiserver did not agree to " PX_WS_PROTOCOL);
        return MCP_EINVAL;
    }
    return 0;
}

/* Append ": <message>" of a refusal's body to err: the apiserver's Status
 * object (metav1.Status .message) when the body is one, else its first
 * printable characters; nothing for an empty body. */
void px_ws_add_refusal(char *err, size_t errlen, const char *body, size_t len)
{
    json_t *st = json_loadb(body, len, 0, NULL);
    const char *m = json_string_value(json_object_get(st, "message"));
    size_t n = strlen(err), i;

    if (m)
        snprintf(err + n, errlen - n, ": %.200s", m);
    else if (len) {
        for (i = 0; i < len && i < 200 && body[i] >= 0x20 && body[i] < 0x7f; i++)
            ;
        if (i)
            snprintf(err + n, errlen - n, ": %.*s", (int)i, body);
    }
    json_decref(st);
}
