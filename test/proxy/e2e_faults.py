"""Faults and edge cases against a running mcp-proxy --exec in front of the
real @modelcontextprotocol/server-everything, over raw HTTP (httpx), so each
check sees exactly what goes over the wire:

  progress    two clients use the same progress token at once: each gets only its own
  disconnect  a 2026-07-28 client closes its SSE stream mid-request: the proxy cancels
              upstream and keeps serving
  crash       the MCP server is killed mid-request: the client gets a JSON-RPC error
              (not a hang), the proxy restarts it, learns it again, and calls work
  bad-input   bad JSON, missing/mismatched headers, a hostile Origin, unknown sessions,
              wrong methods, an oversized body: HTTP/JSON-RPC errors, never a crash
Usage: e2e_faults.py URL PROXY_PID
"""

import json
import os
import signal
import sys
import threading
import time

import httpx
from mcp_wire import events

URL = sys.argv[1]
PROXY_PID = int(sys.argv[2])
V = "2026-07-28"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def modern(method, params=None, rid=1, token=None):
    params = dict(params or {})
    meta = {"io.modelcontextprotocol/protocolVersion": V, "io.modelcontextprotocol/clientCapabilities": {}}
    if token is not None:
        meta["progressToken"] = token
    params["_meta"] = meta
    body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params}
    headers = {
        "accept": "application/json, text/event-stream",
        "content-type": "application/json",
        "mcp-protocol-version": V,
        "mcp-method": method,
    }
    if method == "tools/call":
        headers["mcp-name"] = params["name"]
    return body, headers


def call(client, method, params=None, rid=1, token=None, timeout=30):
    body, headers = modern(method, params, rid, token)
    with client.stream("POST", URL + "/mcp", json=body, headers=headers, timeout=timeout) as r:
        return r.status_code, list(events(r))


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except OSError:
                pass
    return out


def metric(client, name):
    for line in client.get(URL + "/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return -1


def wait_healthy(client, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if client.get(URL + "/health").status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def echo_works(client, rid=99):
    status, msgs = call(client, "tools/call", {"name": "echo", "arguments": {"message": "again"}}, rid=rid)
    return status == 200 and msgs and msgs[-1].get("result", {}).get("content", [{}])[0].get("text") == "Echo: again"


def long_op(duration=4, steps=4):
    return {"name": "trigger-long-running-operation", "arguments": {"duration": duration, "steps": steps}}


def test_progress(client):
    results = {}

    def run(i):
        with httpx.Client() as c:
            results[i] = call(c, "tools/call", long_op(2, 2), rid=f"same-{i}", token="tok")

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for i in range(2):
        status, msgs = results[i]
        prog = [m for m in msgs if m.get("method") == "notifications/progress"]
        final = msgs[-1] if msgs else {}
        check(status == 200 and final.get("id") == f"same-{i}" and "result" in final,
              f"progress: client {i} got its own final response")
        check(len(prog) == 2 and all(p["params"]["progressToken"] == "tok" for p in prog),
              f"progress: client {i} got exactly its 2 progress notifications with its own token")


def test_disconnect(client):
    before = metric(client, "mcp_proxy_cancelled_total")
    body, headers = modern("tools/call", long_op(6, 6), rid="gone", token=7)
    with httpx.Client() as c:
        with c.stream("POST", URL + "/mcp", json=body, headers=headers, timeout=30) as r:
            for m in events(r):
                break  # first progress notification, then hang up
    time.sleep(0.5)
    check(metric(client, "mcp_proxy_cancelled_total") == before + 1,
          "disconnect: closing the stream cancelled the request upstream")
    check(echo_works(client), "disconnect: the proxy keeps serving")


def test_crash(client):
    kids = children(PROXY_PID)
    check(len(kids) == 1, f"crash: one MCP server child ({kids})")
    restarts = metric(client, "mcp_proxy_upstream_restarts_total")
    body, headers = modern("tools/call", long_op(8, 8), rid="doomed", token=1)
    got = []
    t0 = time.time()
    with httpx.Client() as c:
        with c.stream("POST", URL + "/mcp", json=body, headers=headers, timeout=30) as r:
            for m in events(r):
                got.append(m)
                if m.get("method") == "notifications/progress" and len(got) == 1:
                    os.killpg(kids[0], signal.SIGKILL)
    final = got[-1] if got else {}
    check(final.get("id") == "doomed" and final.get("error", {}).get("code") == -32603,
          f"crash: the request in flight got a JSON-RPC error ({json.dumps(final)[:160]})")
    check(time.time() - t0 < 5, "crash: ... at once, not after a timeout")
    check(wait_healthy(client), "crash: /health is 200 again after the restart")
    check(metric(client, "mcp_proxy_upstream_restarts_total") == restarts + 1, "crash: one restart counted")
    check(children(PROXY_PID) != kids, "crash: a new server process")
    check(echo_works(client, rid=100), "crash: calls work after the restart")


def test_bad_input(client):
    h = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
    r = client.post(URL + "/mcp", content=b"{not json", headers=h)
    check(r.status_code == 400 and r.json()["error"]["code"] == -32700, "bad-input: parse error -> 400 -32700")
    r = client.post(URL + "/mcp", content=b"[1,2]", headers=h)
    check(r.status_code == 400 and r.json()["error"]["code"] == -32600, "bad-input: batch -> 400 -32600")
    body, headers = modern("tools/list")
    r = client.post(URL + "/mcp", json=body, headers={**headers, "mcp-method": "prompts/list"})
    check(r.status_code == 400 and r.json()["error"]["code"] == -32020, "bad-input: Mcp-Method mismatch -> 400 -32020")
    r = client.post(URL + "/mcp", json=body, headers={k: v for k, v in headers.items() if k != "mcp-protocol-version"})
    check(r.status_code == 400 and r.json()["error"]["code"] == -32020, "bad-input: no MCP-Protocol-Version -> 400 -32020")
    body, headers = modern("tools/call", {"name": "echo", "arguments": {"message": "x"}})
    r = client.post(URL + "/mcp", json=body, headers={**headers, "mcp-name": "get-sum"})
    check(r.status_code == 400 and r.json()["error"]["code"] == -32020, "bad-input: Mcp-Name mismatch -> 400 -32020")
    body, headers = modern("tools/list")
    body["params"]["_meta"]["io.modelcontextprotocol/protocolVersion"] = "1900-01-01"
    r = client.post(URL + "/mcp", json=body, headers={**headers, "mcp-protocol-version": "1900-01-01"})
    check(r.status_code == 400 and r.json()["error"]["code"] == -32022
          and r.json()["error"]["data"]["supported"] == [V], "bad-input: unknown version -> 400 -32022 with supported")
    body, headers = modern("tools/list")
    del body["params"]["_meta"]["io.modelcontextprotocol/clientCapabilities"]
    r = client.post(URL + "/mcp", json=body, headers=headers)
    check(r.status_code == 400 and r.json()["error"]["code"] == -32602, "bad-input: no clientCapabilities -> 400 -32602")
    body, headers = modern("tools/list")
    r = client.post(URL + "/mcp", json=body, headers={**headers, "origin": "http://evil.example"})
    check(r.status_code == 403, "bad-input: foreign Origin -> 403")
    r = client.post(URL + "/mcp", json=body, headers={**headers, "origin": "http://localhost:3000"})
    check(r.status_code == 200, "bad-input: loopback Origin accepted")
    r = client.post(URL + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                    headers={**h, "mcp-session-id": "nope"})
    check(r.status_code == 404, "bad-input: unknown session -> 404")
    r = client.post(URL + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=h)
    check(r.status_code == 400, "bad-input: handshake-era request without a session -> 400")
    check(client.get(URL + "/mcp", headers={"accept": "text/event-stream"}).status_code == 405,
          "bad-input: GET /mcp without a session -> 405")
    check(client.delete(URL + "/mcp").status_code == 405, "bad-input: DELETE /mcp without a session -> 405")
    check(client.post(URL + "/messages?session_id=nope", json={}).status_code == 404,
          "bad-input: /messages for an unknown session -> 404")
    r = client.post(URL + "/mcp", content=b'{"a":"' + b"x" * (5 << 20) + b'"}', headers=h)
    check(r.status_code == 413, "bad-input: a 5 MiB body -> 413")
    r = client.post(URL + "/mcp", json={"jsonrpc": "1.0", "id": 1, "method": "x",
                                        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": V}}}, headers=h)
    check(r.status_code == 400, "bad-input: not JSON-RPC 2.0 -> 400")
    # a handshake-era session: initialize, DELETE, then 404
    r = client.post(URL + "/mcp", headers=h, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    sid = r.headers.get("mcp-session-id", "")
    check(r.status_code == 200 and len(sid) == 32 and r.json()["result"]["protocolVersion"] == "2025-11-25",
          "session: initialize answered with an Mcp-Session-Id")
    # a JSON-RPC batch (2025-03-26) in the session: each request's answer as an event of its own
    hs = {**h, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
    r = client.post(URL + "/mcp", headers=hs, content=b"[1,2]")
    check(r.status_code == 400 and r.json()["error"]["code"] == -32600, "batch: members not messages -> 400 -32600")
    r = client.post(URL + "/mcp", headers=hs, json=[{"jsonrpc": "2.0", "id": 10, "method": "ping"},
                                                   {"jsonrpc": "2.0", "method": "notifications/roots/list_changed"},
                                                   {"jsonrpc": "2.0", "id": "b", "method": "tools/list"}])
    ids = sorted(str(m.get("id")) for m in events(r) if "result" in m)
    check(r.status_code == 200 and r.headers.get("content-type", "").startswith("text/event-stream")
          and ids == ["10", "b"], f"batch: two requests and a notification -> their two answers ({ids})")
    r = client.post(URL + "/mcp", headers=hs, json=[{"jsonrpc": "2.0", "method": "notifications/roots/list_changed"}])
    check(r.status_code == 202, "batch: notifications only -> 202")
    check(client.delete(URL + "/mcp", headers={"mcp-session-id": sid}).status_code == 200, "session: DELETE")
    r = client.post(URL + "/mcp", headers={**h, "mcp-session-id": sid}, json={"jsonrpc": "2.0", "id": 2, "method": "ping"})
    check(r.status_code == 404, "session: gone after DELETE -> 404")
    check(wait_healthy(client, 1), "bad-input: still healthy")


def main():
    with httpx.Client(timeout=30) as client:
        check(wait_healthy(client), "healthy at start")
        test_bad_input(client)
        test_progress(client)
        test_disconnect(client)
        test_crash(client)
    print(json.dumps({"faults": "done", "failures": failures}))
    sys.exit(1 if failures else 0)


main()
