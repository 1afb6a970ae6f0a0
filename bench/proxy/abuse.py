#!/usr/bin/env python3
"""Clients that never read, against mcp-proxy: its peak RSS under --max-queued-bytes.

Opens CLIENTS connections to the proxy's /mcp, each sending one 2026-07-28
tools/call whose answer is about SIZE bytes, and never reads a byte of it (a
small receive buffer, so the answer stays in the proxy, not in the kernel):
  --tool big   big(n) of bench/proxy/big_server.py: a small request, a big answer
  --tool echo  echo(message) of big_server.py or server-everything: a request
               of half the answer's size (FastMCP answers with the text twice)
It samples the proxy's VmRSS while they hold, then checks that a fresh client
is still served (the same call with a 1000-byte answer, read in full), reads
what each abuser got, and prints one JSON line:
  baseline_mib  the proxy's VmHWM before the abuse (after one warm-up call)
  peak_rss_mib  its VmHWM after it (the peak RSS, MiB)
  answered      abusers whose whole answer was waiting for them
  shed          abusers whose connection the proxy closed (reset or EOF first)
  refused_503   abusers answered 503 with Retry-After: 1 and a JSON-RPC error
  bad_503       503 without those
  stalled       abusers with nothing at the end
  fresh_ok      whether the fresh client's call worked, fresh_ms how long it took
Standard library only. usage:
  abuse.py --url http://127.0.0.1:PORT --pid PROXY_PID [--tool big|echo] [--clients N]
           [--size BYTES] [--hold SECONDS] [--gap SECONDS between clients]
"""
import argparse
import http.client
import json
import socket
import sys
import time

V = "2026-07-28"


def body(tool, size, rid=1):
    # FastMCP answers with the text twice (content and structuredContent)
    args = {"n": size // 2} if tool == "big" else {"message": "x" * (size // 2)}
    return json.dumps({
        "jsonrpc": "2.0", "id": rid, "method": "tools/call",
        "params": {"name": tool, "arguments": args,
                   "_meta": {"io.modelcontextprotocol/protocolVersion": V,
                             "io.modelcontextprotocol/clientCapabilities": {}}},
    }).encode()


def headers(tool):
    return {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
            "MCP-Protocol-Version": V, "Mcp-Method": "tools/call", "Mcp-Name": tool}


def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def abuser(host, port, tool, payload):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    s.connect((host, port))
    h = "".join(f"{k}: {v}\r\n" for k, v in headers(tool).items())
    s.sendall(f"POST /mcp HTTP/1.1\r\nHost: {host}:{port}\r\n{h}"
              f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)
    return s


def drain(s, want, timeout):
    """What the proxy left for this abuser (see the keys above)."""
    s.settimeout(timeout)
    got = b""
    try:
        while True:
            b = s.recv(1 << 20)
            if not b:
                break
            got += b
            h, sep, rest = got.partition(b"\r\n\r\n")
            if not sep:
                continue
            lines = [ln.lower() for ln in h.split(b"\r\n")]
            cl = [int(ln.split(b":")[1]) for ln in lines if ln.startswith(b"content-length:")]
            if not cl or len(rest) < cl[0]:
                continue
            if lines[0].startswith(b"http/1.1 503"):
                ok = b"retry-after: 1" in lines and b'"jsonrpc":"2.0"' in rest and b'"error"' in rest
                return "refused_503" if ok else "bad_503"
            return "answered" if len(rest) >= want else "shed"
    except (ConnectionResetError, BrokenPipeError):
        return "shed"
    except socket.timeout:
        return "stalled"
    return "shed"


def call(host, port, tool, size, timeout=30):
    """A well-behaved client: one tools/call, answer read in full; (ok, ms, status)."""
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection(host, port, timeout=timeout)
        c.request("POST", "/mcp", body(tool, size, 7), headers(tool))
        r = c.getresponse()
        data = r.read()
        c.close()
        ok = r.status == 200 and len(data) >= size and b'"result"' in data
        return ok, int((time.monotonic() - t0) * 1000), r.status
    except OSError as e:
        return False, int((time.monotonic() - t0) * 1000), str(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--tool", choices=("big", "echo"), default="big")
    ap.add_argument("--clients", type=int, default=40)
    ap.add_argument("--size", type=int, default=3500000)
    ap.add_argument("--hold", type=float, default=3.0)
    ap.add_argument("--gap", type=float, default=0.0)
    a = ap.parse_args()
    host, port = a.url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    port = int(port)

    warm_ok, _, _ = call(host, port, a.tool, 1000)
    baseline = status_kib(a.pid, "VmHWM")
    payload = body(a.tool, a.size)
    socks = []
    for _ in range(a.clients):
        try:
            socks.append(abuser(host, port, a.tool, payload))
        except OSError:
            socks.append(None)
        time.sleep(a.gap)
    time.sleep(a.hold)
    fresh_ok, fresh_ms, fresh_status = call(host, port, a.tool, 1000)
    hwm = status_kib(a.pid, "VmHWM")
    outcome = {"answered": 0, "shed": 0, "refused_503": 0, "bad_503": 0, "stalled": 0}
    for s in socks:
        outcome[drain(s, a.size, 3) if s else "shed"] += 1
        if s:
            s.close()
    print(json.dumps({
        "tool": a.tool, "clients": a.clients, "size": a.size, "warm_ok": warm_ok,
        "baseline_mib": round(baseline / 1024, 1), "peak_rss_mib": round(hwm / 1024, 1),
        **outcome, "fresh_ok": fresh_ok, "fresh_ms": fresh_ms, "fresh_status": fresh_status}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
