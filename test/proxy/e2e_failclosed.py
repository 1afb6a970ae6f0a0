"""mcp-proxy fails closed, end to end on 127.0.0.1 (driven by e2e_framing.sh).

  framing PORT [--path P] [--fake URL] [--tls --review FILE]
                                   ambiguous HTTP/1.1 framing (requests for P, default /health) is
                                   answered 400 and the connection closed (alone, pipelined behind
                                   a good request, on a kept-alive connection); then a normal
                                   keep-alive pair on a new connection is served. --fake: the
                                   stand-in behind the proxy must see none of them. --tls: the
                                   webhook's port (the good request POSTs FILE to P).
  bodies URL                       --passthrough --tools in front of server-everything: a body
                                   jansson refuses is 400 (JSON-RPC parse error) and the refused
                                   tool never runs; so is a compressed body
  answers URL FAKE                 --passthrough --tools in front of the stand-in server below:
                                   answers the filter cannot read become JSON-RPC errors, a
                                   compressed answer a 502, lists come back filtered however the
                                   server wrote them; FAKE is the stand-in's base URL
  fake PORT_FILE                   the stand-in MCP server (streamable HTTP, no sessions): each
                                   request header X-Fake picks how it answers

Prints one "ok"/"FAIL" line per case; exits 1 when any failed. Standard library only.
"""
import gzip
import http.client
import http.server
import json
import os
import socket
import ssl
import sys
import threading
import time
import zlib

ALLOWED = "echo"
failed = []


def report(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else ": " + detail), flush=True)
    if not ok:
        failed.append(what)


# ---- framing -----------------------------------------------------------------------------------

def connect(port, tls):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    if tls:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s)
    return s


def parse_responses(data):
    """The statuses of the complete HTTP/1.1 responses at the start of data."""
    out = []
    while True:
        end = data.find(b"\r\n\r\n")
        if end < 0 or not data.startswith(b"HTTP/1.1 "):
            return out
        head = data[:end].decode("latin-1").split("\r\n")
        fields = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in head[1:] if ":" in l)}
        body = data[end + 4:]
        if "content-length" in fields:
            n = int(fields["content-length"])
            if len(body) < n:
                return out
            data = body[n:]
        elif fields.get("transfer-encoding", "").lower() == "chunked":
            while True:
                nl = body.find(b"\r\n")
                if nl < 0:
                    return out
                n = int(body[:nl].split(b";")[0], 16)
                if len(body) < nl + 2 + n + 2:
                    return out
                body = body[nl + 2 + n + 2:]
                if n == 0:
                    break
            data = body
        else:  # until the connection closes
            data = b""
        out.append(head[0].split(" ")[1])


def read_responses(s, want, quiet=1.5):
    """Read until `want` complete responses arrived and then until EOF or `quiet` seconds of
    silence (at most 10 s in all): (statuses, closed, raw bytes)."""
    data, closed = b"", False
    s.settimeout(quiet)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            chunk = s.recv(65536)
        except (socket.timeout, ssl.SSLError, TimeoutError):
            if len(parse_responses(data)) >= want:
                break
            continue
        except ConnectionResetError:
            closed = True
            break
        if not chunk:
            closed = True
            break
        data += chunk
    return parse_responses(data), closed, data


def seen_by(fake):
    c = http.client.HTTPConnection(fake.split("//", 1)[1], timeout=5)
    c.request("GET", "/ran")
    return json.loads(c.getresponse().read())["requests"]


def framing(port, tls, path, review, fake):
    host = b"Host: localhost\r\n"
    if tls:
        review = open(review, "rb").read()
        good = (b"POST " + path.encode() + b" HTTP/1.1\r\n" + host +
                b"Content-Type: application/json\r\nContent-Length: " + str(len(review)).encode() +
                b"\r\n\r\n" + review)
    else:
        good = b"GET /health HTTP/1.1\r\n" + host + b"\r\n"
    bad_target = b"GET " + path.encode() + b" HTTP/1.1\r\n"
    bad_post = b"POST " + path.encode() + b" HTTP/1.1\r\n"
    before = seen_by(fake) if fake else 0
    cases = {
        "two Content-Lengths": bad_target + host + b"Content-Length: 0\r\nContent-Length: 5\r\n\r\nhello",
        "Content-Length and Transfer-Encoding": bad_post + host +
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "Transfer-Encoding and Content-Length": bad_post + host +
        b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
        "two Transfer-Encodings": bad_post + host +
        b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "obs-fold": bad_target + host + b"X-Folded: a\r\n b\r\n\r\n",
        "obs-fold (tab) hiding a Transfer-Encoding": bad_post + host +
        b"X-Folded: a\r\n\tTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
        "bare LF line ends": bad_target.replace(b"\r\n", b"\n") + b"Host: localhost\n\n",
        "one bare LF": bad_target + host + b"X-A: b\n\r\n",
        # RFC 9112 3.2; h2o keeps the last Host, a proxy in front may route by the first
        "two Hosts": bad_target + b"Host: evil.example\r\n" + host + b"\r\n",
    }
    for what, raw in cases.items():
        # alone
        s = connect(port, tls)
        s.sendall(raw)
        st, closed, data = read_responses(s, 1)
        s.close()
        report(st == ["400"] and closed, f"framing: {what}: 400 and closed",
               f"statuses {st}, closed {closed}: {data[:200]!r}")
        # pipelined behind a good request: that one is served, this one refused
        s = connect(port, tls)
        s.sendall(good + raw)
        st, closed, _ = read_responses(s, 2)
        s.close()
        report(len(st) == 2 and st[0] != "400" and st[1] == "400" and closed,
               f"framing: {what}, pipelined: served then 400 and closed",
               f"statuses {st}, closed {closed}")
        # on a kept-alive connection, after a good exchange
        s = connect(port, tls)
        s.sendall(good)
        first, _, _ = read_responses(s, 1, quiet=0.5)
        s.sendall(raw)
        st, closed, _ = read_responses(s, 1)
        s.close()
        st = first + st
        report(len(st) == 2 and st[0] != "400" and st[1] == "400" and closed,
               f"framing: {what}, kept alive: 400 and closed", f"statuses {st}, closed {closed}")
    # and a normal keep-alive pair on a new connection still works
    s = connect(port, tls)
    s.sendall(good)
    first, _, _ = read_responses(s, 1, quiet=0.5)
    s.sendall(good)
    second, closed, _ = read_responses(s, 1, quiet=0.5)
    s.close()
    st = first + second
    report(len(st) == 2 and "400" not in st and not closed, "framing: a normal keep-alive pair is served",
           f"statuses {st}, closed {closed}")
    if fake:
        after = seen_by(fake)
        report(after == before, "framing: no ambiguous request reached the server behind the proxy",
               f"{after - before} did")


# ---- requests through --passthrough --tools ------------------------------------------------------

def post(base, body, headers=None, session=None, timeout=30):
    u = base.split("//", 1)[1]
    hostport, path = (u.split("/", 1) + [""])[:2]
    c = http.client.HTTPConnection(hostport, timeout=timeout)
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    if session:  # 2025-11-25: answer streams open with a priming event (empty data)
        h["Mcp-Session-Id"] = session
        h["MCP-Protocol-Version"] = "2025-11-25"
    h.update(headers or {})
    try:
        c.request("POST", "/" + path, body=body, headers=h)
        r = c.getresponse()
        raw = r.read()
    except OSError as e:  # a timeout, a reset: the case fails, the next one runs
        return 0, None, str(e).encode()
    finally:
        c.close()
    if r.getheader("Content-Encoding", "identity") == "gzip":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError):
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw)
    return r.status, r, raw


def messages(raw):
    """The JSON-RPC messages of a JSON or SSE body (undecodable data kept as text)."""
    text = raw.decode("utf-8", "replace")
    out = []
    if text.lstrip().startswith(("{", "[")):
        chunks = [text]
    else:
        chunks = ["\n".join(l[5:].lstrip() for l in ev.split("\n") if l.startswith("data:"))
                  for ev in text.replace("\r\n", "\n").split("\n\n")]
    for c in chunks:
        if not c.strip():
            continue
        try:
            v = json.loads(c)
        except ValueError:
            out.append(c)
            continue
        out.extend(v if isinstance(v, list) else [v])
    return out


def initialize(base):
    st, r, raw = post(base, json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "e2e", "version": "1"}}}))
    sid = r.getheader("Mcp-Session-Id")
    if st != 200:
        raise SystemExit(f"initialize: HTTP {st}: {raw[:300]!r}")
    post(base, b'{"jsonrpc":"2.0","method":"notifications/initialized"}', session=sid)
    return sid


HOSTILE = {
    "a NUL in a string": b'"\\u0000"',
    "a lone surrogate": b'"\\ud800"',
    "an integer over 2^63": b"99999999999999999999",
    "1e999": b"1e999",
    "a byte that is not UTF-8": b'"\xff"',
    "nesting over 2048": b"[" * 2100 + b"]" * 2100,
}


def bodies(base):
    sid = initialize(base)
    for what, value in HOSTILE.items():
        body = (b'{"jsonrpc":"2.0","id":11,"method":"tools/call","params":{"name":"get-env",'
                b'"arguments":{},"x":' + value + b"}}")
        st, _, raw = post(base, body, session=sid)
        msgs = messages(raw)
        err = msgs[0].get("error", {}) if msgs and isinstance(msgs[0], dict) else {}
        report(st == 400 and err.get("code") == -32700 and b"PATH" not in raw,
               f"request with {what}: tools/call of a filtered tool refused 400, parse error",
               f"HTTP {st}: {raw[:200]!r}")
        body = b'{"jsonrpc":"2.0","id":12,"method":"tools/list","params":{"x":' + value + b"}}"
        st, _, raw = post(base, body, session=sid)
        report(st == 400 and b"get-env" not in raw, f"request with {what}: tools/list refused 400",
               f"HTTP {st}: {raw[:200]!r}")
    body = gzip.compress(b'{"jsonrpc":"2.0","id":13,"method":"tools/call","params":{"name":"get-env",'
                         b'"arguments":{}}}')
    st, _, raw = post(base, body, headers={"Content-Encoding": "gzip"}, session=sid)
    report(st == 415 and b"PATH" not in raw, "a gzip-compressed tools/call refused 415",
           f"HTTP {st}: {raw[:200]!r}")
    # what the filter reads goes through: the allowed tool runs, the list is filtered
    st, _, raw = post(base, b'{"jsonrpc":"2.0","id":14,"method":"tools/call","params":{"name":"echo",'
                      b'"arguments":{"message":"still \\u00e9 here"}}}', session=sid)
    report(st == 200 and "still \u00e9 here" in raw.decode("utf-8", "replace") and not errors(raw),
           "the allowed tool still runs (its answer stream passes, priming event and all)",
           f"HTTP {st}: {raw[:300]!r}")
    st, _, raw = post(base, b'{"jsonrpc":"2.0","id":15,"method":"tools/list"}',
                      headers={"Accept-Encoding": "gzip"}, session=sid)
    names = tool_names(raw)
    report(st == 200 and names == {"echo", "get-sum"} and not errors(raw),
           "tools/list with Accept-Encoding: gzip filtered", f"HTTP {st}: {names} {raw[:300]!r}")
    raw = stream_start(base, sid)
    report(not errors(raw), "the session's GET stream passes (its priming event with empty data too)",
           f"{raw[:300]!r}")


def stream_start(base, sid, seconds=2.0):
    """What the session's GET stream carries in its first seconds."""
    u = base.split("//", 1)[1]
    hostport, path = (u.split("/", 1) + [""])[:2]
    c = http.client.HTTPConnection(hostport, timeout=seconds)
    raw = b""
    try:
        c.request("GET", "/" + path, headers={"Accept": "text/event-stream", "Mcp-Session-Id": sid,
                                              "MCP-Protocol-Version": "2025-11-25"})
        r = c.getresponse()
        deadline = time.time() + seconds
        while time.time() < deadline:
            chunk = r.read1(65536)
            if not chunk:
                break
            raw += chunk
    except OSError:
        pass
    finally:
        c.close()
    return raw


def errors(raw):
    """The messages of a body that are errors, or not JSON at all."""
    return [m for m in messages(raw) if not isinstance(m, dict) or "error" in m]


def tool_names(raw):
    names = set()
    for m in messages(raw):
        if isinstance(m, dict) and isinstance(m.get("result"), dict):
            names |= {t.get("name") for t in m["result"].get("tools", [])}
    return names


# ---- answers through --passthrough --tools ------------------------------------------------------

def get_stream(base, mode, timeout=10):
    u = base.split("//", 1)[1]
    hostport, path = (u.split("/", 1) + [""])[:2]
    c = http.client.HTTPConnection(hostport, timeout=timeout)
    c.request("GET", "/" + path, headers={"Accept": "text/event-stream", "X-Fake": mode})
    r = c.getresponse()
    raw = r.read()
    c.close()
    return r.status, raw


def answers(base, fake):
    lst = b'{"jsonrpc":"2.0","id":21,"method":"tools/list"}'
    for mode, accept in (("json", "gzip"), ("sse", "gzip"), ("escaped-sse", None), ("text", None)):
        h = {"X-Fake": mode}
        if accept:
            h["Accept-Encoding"] = accept
        st, r, raw = post(base, lst, headers=h)
        names = tool_names(raw)
        report(st == 200 and names == {"echo"},
               f"answer ({mode}{', client accepts ' + accept if accept else ''}): tools/list filtered",
               f"HTTP {st} {r and r.getheader('Content-Encoding')}: {names} {raw[:200]!r}")
    for mode in ("surrogate", "bigint", "nul"):
        st, r, raw = post(base, lst, headers={"X-Fake": mode})
        msgs = messages(raw)
        err = msgs[0].get("error", {}) if msgs and isinstance(msgs[0], dict) else {}
        report(b"get-env" not in raw and msgs and msgs[0].get("id") == 21 and err.get("code") == -32603,
               f"answer the filter cannot parse ({mode}): a JSON-RPC error instead",
               f"HTTP {st}: {raw[:300]!r}")
    for mode in ("gzip-always", "gzip-always-sse"):
        t0 = time.time()
        st, r, raw = post(base, lst, headers={"X-Fake": mode}, timeout=20)
        msgs = messages(raw)
        report(st == 502 and b"get-env" not in raw and msgs and isinstance(msgs[0], dict) and
               msgs[0].get("error", {}).get("code") == -32603 and time.time() - t0 < 5,
               f"answer compressed though identity was asked ({mode}): 502 and a JSON-RPC error",
               f"HTTP {st} after {time.time() - t0:.1f} s: {raw[:200]!r}")
    st, raw = get_stream(base, "escaped-sse")
    names = tool_names(raw)
    report(st == 200 and names == {"echo"}, "GET stream with a \\u0074ools key: filtered", f"HTTP {st}: {names}")
    # the server never saw an identity it was not asked for, and still serves
    st, _, raw = post(base, b'{"jsonrpc":"2.0","id":22,"method":"tools/call","params":{"name":"echo"}}')
    report(st == 200 and b"ran echo" in raw, "the stand-in still answers through the proxy", f"HTTP {st}: {raw[:200]!r}")
    c = http.client.HTTPConnection(fake.split("//", 1)[1], timeout=5)
    c.request("GET", "/ran")
    ran = json.loads(c.getresponse().read())
    c.close()
    report(all(n == ALLOWED for n in ran["tools"]), "the stand-in ran only the allowed tool", str(ran))
    report(not [e for e in ran["accept_encoding"] if e != "identity"],
           "every request reached the stand-in with Accept-Encoding: identity", str(ran["accept_encoding"]))


# ---- the stand-in server ------------------------------------------------------------------------

TOOLS = [{"name": n, "description": f"the {n} tool", "inputSchema": {"type": "object"}}
         for n in ("echo", "get-env", "secret-admin")]
RAN = {"tools": [], "accept_encoding": [], "requests": 0}


def list_text(mode, rid):
    body = json.dumps({"jsonrpc": "2.0", "id": rid, "result": {"tools": TOOLS}})
    if mode == "surrogate":
        return body.replace('"the get-env tool"', '"\\ud800"')
    if mode == "bigint":
        return body.replace('"the get-env tool"', "99999999999999999999")
    if mode == "nul":
        return body.replace('"the get-env tool"', '"\\u0000"')
    if mode == "escaped-sse":
        return body.replace('"tools"', '"\\u0074ools"')
    return body


class Fake(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, status, ctype, body, gz=False, close=False, linger=0):
        if gz:
            body = gzip.compress(body)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        if gz:
            self.send_header("Content-Encoding", "gzip")
        if linger:  # a stream that stays open: no length, the first bytes flushed now
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()
            time.sleep(linger)
            self.close_connection = True
            return
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if self.path == "/ran":
            return self.send(200, "application/json", json.dumps(RAN).encode())
        RAN["requests"] += 1
        mode = self.headers.get("X-Fake", "")
        ev = "event: message\ndata: " + list_text(mode, 99) + "\n\n"
        self.send(200, "text/event-stream", ev.encode(), close=True)

    def do_POST(self):
        RAN["requests"] += 1
        n = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(n)
        RAN["accept_encoding"].append(self.headers.get("Accept-Encoding", ""))
        mode = self.headers.get("X-Fake", "json")
        gz = "gzip" in self.headers.get("Accept-Encoding", "") or mode.startswith("gzip-always")
        try:
            msg = json.loads(raw)
        except ValueError:
            return self.send(400, "text/plain", b"not JSON")
        if "id" not in msg:
            return self.send(202, "text/plain", b"")
        if msg["method"] == "tools/list":
            text = list_text(mode, msg["id"])
        elif msg["method"] == "tools/call":
            RAN["tools"].append(msg["params"]["name"])
            text = json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {
                "content": [{"type": "text", "text": "ran " + msg["params"]["name"]}]}})
        else:
            text = json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": {}})
        if mode == "text":
            return self.send(200, "text/plain", text.encode())
        if mode in ("sse", "escaped-sse", "gzip-always-sse"):
            ev = ("event: message\ndata: " + text + "\n\n").encode()
            return self.send(200, "text/event-stream", ev, gz=gz, linger=30 if mode == "gzip-always-sse" else 0)
        self.send(200, "application/json", text.encode(), gz=gz)


def fake(port_file):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Fake)
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "fake":
        fake(args[0])
    elif cmd == "framing":
        def opt(name, default=None):
            return args[args.index(name) + 1] if name in args else default
        framing(int(args[0]), "--tls" in args, opt("--path", "/health"), opt("--review"), opt("--fake"))
    elif cmd == "bodies":
        bodies(args[0])
    elif cmd == "answers":
        answers(args[0], args[1])
    sys.exit(1 if failed else 0)
