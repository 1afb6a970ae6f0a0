/* The pods/attach channel protocol (v5.channel.k8s.io) over WebSocket
 * frames replayed from memory: what an apiserver sends (unmasked binary
 * frames whose first byte is the channel, a ping, the v5 close of stdout, a
 * close frame), in one read or split byte by byte; what we send (masked
 * frames: stdin on channel 0, the [255, 0] close of stdin, pings, the pong
 * to a ping); the opening handshake (RFC 6455's own key/accept example);
 * and bad input (an over-long message, a refused attach). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mcp/log.h"
#include "../../proxy/upstream/wsch.h"

typedef struct wire {
    const uint8_t *in;
    size_t in_len, in_off, step; /* step > 0: at most this many bytes per recv */
    int would_block;             /* alternate EAGAIN between reads */
    int eof;                     /* 0 (EOF) instead of EAGAIN once the input is used up */
    uint8_t out[4096];
    size_t out_len;
    char stdout_got[256], stderr_got[256], status_got[256];
} wire_t;

static ssize_t w_recv(void *ctx, uint8_t *buf, size_t len)
{
    wire_t *w = ctx;
    size_t n = w->in_len - w->in_off;

    if (n == 0 && w->eof)
        return 0;
    if (n == 0 || (w->would_block ^= 1) == 0) {
        errno = EAGAIN;
        return -1;
    }
    if (w->step && n > w->step)
        n = w->step;
    if (n > len)
        n = len;
    memcpy(buf, w->in + w->in_off, n);
    w->in_off += n;
    return (ssize_t)n;
}

static ssize_t w_send(void *ctx, const uint8_t *buf, size_t len)
{
    wire_t *w = ctx;

    assert_true(w->out_len + len <= sizeof(w->out));
    memcpy(w->out + w->out_len, buf, len);
    w->out_len += len;
    return (ssize_t)len;
}

static int s_stdout(void *ctx, const uint8_t *p, size_t n)
{
    strncat(((wire_t *)ctx)->stdout_got, (const char *)p, n);
    return 0;
}

static void s_stderr(void *ctx, const uint8_t *p, size_t n)
{
    strncat(((wire_t *)ctx)->stderr_got, (const char *)p, n);
}

static void s_status(void *ctx, const char *json, size_t n)
{
    strncat(((wire_t *)ctx)->status_got, json, n);
}

static px_ws_t *session(wire_t *w, size_t max)
{
    px_ws_io_t io = {.recv = w_recv, .send = w_send, .ctx = w};
    px_ws_sink_t sink = {
        .stdout_data = s_stdout, .stderr_data = s_stderr, .status = s_status, .ctx = w};
    px_ws_t *ws = px_ws_new(&io, &sink, max);

    assert_non_null(ws);
    return ws;
}

/* An apiserver's side of an attach: the MCP server's reply on stdout in two
 * frames, a log line on stderr, a ping, the exit status on channel 3, the
 * close of stdout. */
static const uint8_t recorded[] = {
    0x82, 0x0b, 0x01, '{',  '"', 'i',  'd',  '"', ':', '1', ',', ' ', ' ', /* stdout, part 1 */
    0x82, 0x05, 0x01, '"',  'x', '}',  '\n',                               /* stdout, part 2 */
    0x82, 0x05, 0x02, 'l',  'o', 'g',  '\n',                               /* stderr */
    0x89, 0x02, 'h',  'i',                                                 /* ping */
    0x82, 0x11, 0x03, '{',  '"', 's',  't',  'a', 't', 'u', 's', '"', ':',
    '"',  'O',  'K',  '"',  '}', '\n', /* error channel: a Status */
    0x82, 0x02, 0xff, 0x01,            /* v5: stdout closed */
};

static void replay(size_t step)
{
    wire_t w = {.in = recorded, .in_len = sizeof(recorded), .step = step};
    px_ws_t *ws = session(&w, 1024);
    int rc = 0, rounds = 0;

    while (rc == 0 && rounds++ < 1000)
        rc = px_ws_read(ws);
    assert_int_equal(rc, MCP_ENOENT); /* the stream is over once stdout is closed */
    assert_string_equal(w.stdout_got, "{\"id\":1,  \"x}\n");
    assert_string_equal(w.stderr_got, "log\n");
    assert_string_equal(w.status_got, "{\"status\":\"OK\"}\n");
    /* the ping was answered with a masked pong carrying its payload */
    assert_true(px_ws_want_write(ws));
    assert_int_equal(px_ws_write(ws), 0);
    assert_true(w.out_len == 2 + 4 + 2);
    assert_int_equal(w.out[0], 0x8a);
    assert_int_equal(w.out[1], 0x80 | 2);
    assert_int_equal(w.out[6] ^ w.out[2], 'h');
    assert_int_equal(w.out[7] ^ w.out[3], 'i');
    px_ws_free(ws);
}

static void test_recorded_in_one_read(void **state)
{
    (void)state;
    replay(0);
}

static void test_recorded_byte_by_byte(void **state)
{
    (void)state;
    replay(1);
}

/* Unmask one client frame at off; returns its payload length. */
static size_t unmask(const uint8_t *f, uint8_t *payload, int *opcode)
{
    size_t n = f[1] & 0x7f;

    assert_true(f[1] & 0x80); /* clients mask */
    assert_true(n < 126);
    *opcode = f[0] & 0x0f;
    for (size_t i = 0; i < n; i++)
        payload[i] = f[6 + i] ^ f[2 + (i % 4)];
    return n;
}

static void test_what_we_send(void **state)
{
    wire_t w = {0};
    px_ws_t *ws = session(&w, 1024);
    uint8_t p[64];
    int op;
    size_t n, off = 0;

    (void)state;
    assert_int_equal(px_ws_stdin(ws, "{\"a\":1}\n", 8), 0);
    assert_int_equal(px_ws_close_stdin(ws), 0);
    assert_int_equal(px_ws_ping(ws), 0);
    assert_int_equal(px_ws_write(ws), 0);
    /* wslay sends control frames first; the data frames keep their order */
    int data = 0, pings = 0;

    while (off < w.out_len) {
        n = unmask(w.out + off, p, &op);
        if (op == 0x9) {
            pings++;
        } else if (data++ == 0) {
            assert_int_equal(op, 0x2);
            assert_int_equal(n, 9);
            assert_int_equal(p[0], PX_WS_STDIN);
            assert_memory_equal(p + 1, "{\"a\":1}\n", 8);
        } else {
            assert_int_equal(op, 0x2);
            assert_int_equal(n, 2);
            assert_int_equal(p[0], 255);
            assert_int_equal(p[1], PX_WS_STDIN);
        }
        off += 6 + n;
    }
    assert_int_equal(data, 2);
    assert_int_equal(pings, 1);
    assert_int_equal(off, w.out_len);
    px_ws_free(ws);
}

static void test_close_frame_and_limits(void **state)
{
    static const uint8_t closing[] = {0x88, 0x02, 0x03, 0xe8};
    uint8_t too_long[4 + 300] = {0x82, 0x7e, 0x04, 0x00}; /* 1024 bytes announced, 300 sent */
    wire_t w = {.in = closing, .in_len = sizeof(closing)};
    px_ws_t *ws = session(&w, 1024);
    int rc = 0;

    (void)state;
    memset(too_long + 4, 'x', 300);
    for (int i = 0; rc == 0 && i < 10; i++)
        rc = px_ws_read(ws);
    assert_int_equal(rc, MCP_ENOENT);
    px_ws_free(ws);
    w = (wire_t){.in = too_long, .in_len = sizeof(too_long)};
    ws = session(&w, 100);
    rc = 0;
    for (int i = 0; rc == 0 && i < 10; i++)
        rc = px_ws_read(ws);
    assert_int_not_equal(rc, 0); /* over the cap: the stream fails, nothing crashes */
    px_ws_free(ws);
    /* EOF from the peer ends the stream */
    w = (wire_t){.in = recorded, .in_len = 5, .eof = 1};
    ws = session(&w, 1024);
    rc = 0;
    for (int i = 0; rc == 0 && i < 20; i++)
        rc = px_ws_read(ws);
    assert_int_not_equal(rc, 0);
    px_ws_free(ws);
}

static void test_handshake(void **state)
{
    /* RFC 6455 section 1.3's example key and accept value */
    const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
    char err[256];
    mcp_buf_t req;
    char k1[25], k2[25];

    (void)state;
    mcp_buf_init(&req, 4096);
    assert_int_equal(px_ws_request(&req, "10.96.0.1", "/api/v1/namespaces/a/pods/b-0/attach?x=1",
                                   key, "Authorization: Bearer t"),
                     0);
    assert_non_null(strstr(req.data, "GET /api/v1/namespaces/a/pods/b-0/attach?x=1 HTTP/1.1\r\n"));
    assert_non_null(strstr(req.data, "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n"));
    assert_non_null(strstr(req.data, "Authorization: Bearer t\r\n\r\n"));
    mcp_buf_dispose(&req);
    assert_int_equal(
        px_ws_check_response("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                             "Connection: Upgrade\r\n"
                             "sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                             "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n",
                             key, err, sizeof(err)),
        0);
    assert_int_equal(px_ws_check_response("HTTP/1.1 101 Switching Protocols\r\n"
                                          "Sec-WebSocket-Accept: AAAA\r\n"
                                          "Sec-WebSocket-Protocol: v5.channel.k8s.io\r\n",
                                          key, err, sizeof(err)),
                     MCP_EINVAL);
    assert_int_equal(px_ws_check_response("HTTP/1.1 101 Switching Protocols\r\n"
                                          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
                                          key, err, sizeof(err)),
                     MCP_EINVAL);
    /* a refusal: the head as attach.c hands it over (the body cut off behind
     * the head's last CRLF), then what the body says, appended */
    {
        static const char status[] = "{\"kind\":\"Status\",\"status\":\"Failure\",\"message\":"
                                     "\"pods \\\"b-0\\\" is forbidden\",\"code\":403}";

        assert_int_equal(px_ws_check_response("HTTP/1.1 403 Forbidden\r\nContent-Type: "
                                              "application/json\r\n",
                                              key, err, sizeof(err)),
                         MCP_EHTTP);
        assert_string_equal(err, "attach refused: HTTP 403");
        px_ws_add_refusal(err, sizeof(err), status, sizeof(status) - 1);
        assert_string_equal(err, "attach refused: HTTP 403: pods \"b-0\" is forbidden");
        assert_int_equal(
            px_ws_check_response("HTTP/1.1 500 Internal Server Error\r\n", key, err, sizeof(err)),
            MCP_EHTTP);
        px_ws_add_refusal(err, sizeof(err), "container mcp not found\n\x01", 26);
        assert_string_equal(err, "attach refused: HTTP 500: container mcp not found");
        assert_int_equal(
            px_ws_check_response("HTTP/1.1 502 Bad Gateway\r\n", key, err, sizeof(err)), MCP_EHTTP);
        px_ws_add_refusal(err, sizeof(err), "", 0);
        assert_string_equal(err, "attach refused: HTTP 502");
    }
    assert_int_equal(px_ws_check_response("garbage", key, err, sizeof(err)), MCP_EINVAL);
    assert_int_equal(px_ws_new_key(k1), 0);
    assert_int_equal(px_ws_new_key(k2), 0);
    assert_int_equal(strlen(k1), 24);
    assert_string_not_equal(k1, k2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recorded_in_one_read),
        cmocka_unit_test(test_recorded_byte_by_byte),
        cmocka_unit_test(test_what_we_send),
        cmocka_unit_test(test_close_frame_and_limits),
        cmocka_unit_test(test_handshake),
    };

    mcp_log_set_level(MCP_LOG_ERROR);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
