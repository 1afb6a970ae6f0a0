/* The pods/attach channel protocol over a WebSocket (wsch.c) and the
 * attach backend built on it (attach.c). */
#ifndef PX_WSCH_H
#define PX_WSCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../internal.h"
#include "upstream.h"

#define PX_WS_PROTOCOL "v5.channel.k8s.io"

enum { PX_WS_STDIN = 0, PX_WS_STDOUT = 1, PX_WS_STDERR = 2, PX_WS_ERROR = 3, PX_WS_CLOSE = 255 };

/* Bytes to and from the peer. recv: > 0 bytes, 0 at EOF, -1 with errno
 * (EAGAIN: nothing now). send: bytes taken, or -1 with errno. */
typedef struct px_ws_io {
    ssize_t (*recv)(void *ctx, uint8_t *buf, size_t len);
    ssize_t (*send)(void *ctx, const uint8_t *buf, size_t len);
    void *ctx;
} px_ws_io_t;

/* Where the channels go. stdout_data returns non-zero to fail the stream. */
typedef struct px_ws_sink {
    int (*stdout_data)(void *ctx, const uint8_t *p, size_t n);
    void (*stderr_data)(void *ctx, const uint8_t *p, size_t n); /* may be NULL */
    void (*status)(void *ctx, const char *json, size_t n);      /* channel 3; may be NULL */
    void *ctx;
} px_ws_sink_t;

typedef struct px_ws px_ws_t;

/* A client-side session (after the opening handshake). io and sink are
 * copied; max_msg caps one received message. NULL on allocation failure. */
px_ws_t *px_ws_new(const px_ws_io_t *io, const px_ws_sink_t *sink, size_t max_msg);
void px_ws_free(px_ws_t *w);
/* Queue a stdin message / the v5 close of stdin / a ping (sent by px_ws_write). */
int px_ws_stdin(px_ws_t *w, const void *p, size_t n);
int px_ws_close_stdin(px_ws_t *w);
int px_ws_ping(px_ws_t *w);
/* Read what the peer sent (until it would block): 0, MCP_ENOENT once the
 * stream is closed (close frame, or stdout closed), MCP_EIO on errors. */
int px_ws_read(px_ws_t *w);
/* Send what is queued (until it would block): 0 or MCP_EIO. */
int px_ws_write(px_ws_t *w);
int px_ws_want_write(const px_ws_t *w);
/* Bytes of the messages queued and not sent yet. */
size_t px_ws_queued(const px_ws_t *w);

/* The opening handshake: a random Sec-WebSocket-Key, the GET request bytes
 * (auth_header is a whole "Authorization: ..." line or NULL), and the check
 * of the response head (up to and including the blank line): 101, the
 * accept hash, the v5 subprotocol. 0 or an mcp_err_t with a message. */
int px_ws_new_key(char key[25]);
int px_ws_request(mcp_buf_t *out, const char *host, const char *path, const char *key,
                  const char *auth_header);
int px_ws_check_response(const char *head, const char *key, char *err, size_t errlen);

/* attach.c: the backend for `--namespace NS --pod P --container C`. NULL
 * with a message in err (no Kubernetes configuration, say). */
px_backend_t *px_attach_new(const px_config_t *cfg, char *err, size_t errlen);

/* After a refusal (px_ws_check_response gave MCP_EHTTP), append ": <message>"
 * from its body (len bytes, not NUL-terminated) to err: the apiserver's
 * Status .message (metav1.Status) when the body is one, else its first
 * printable characters (at most 200); nothing for an empty body. */
void px_ws_add_refusal(char *err, size_t errlen, const char *body, size_t len);

#endif
