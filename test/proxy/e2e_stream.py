"""Streaming through mcp-proxy in front of an HTTP transport (bridged, or --passthrough): a
handshake-era session on streamable HTTP asks the real server-everything
for a 3-second operation with progress; the progress notifications must
reach the client as the server sends them (the first well before the end),
not buffered until the response is complete. With TOOL, the proxy runs with
--tools (echo allowed, TOOL not): a tools/call of TOOL is refused by the proxy,
echo still works, and so in a JSON-RPC batch (2025-03-26, the revision that
has them): its tools/list filtered to ALLOWED, TOOL refused, echo answered.
Usage: e2e_stream.py URL [TOOL ALLOWED,...]"""

import json
import sys
import time

import httpx

URL = sys.argv[1]
H = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


def call_json(c, h, body):
    """POST one request; its answer from JSON or the last SSE event."""
    r = c.post(URL + "/mcp", headers=h, json=body)
    if r.headers.get("content-type", "").startswith("application/json"):
        return r.json()
    data = [line[5:] for line in r.text.splitlines() if line.startswith("data:") and line[5:].strip()]
    return json.loads(data[-1]) if data else {}


def batch(c, tool, allowed):
    """A 2025-03-26 session sends [tools/list, tools/call TOOL, tools/call echo] as one batch."""
    r = c.post(URL + "/mcp", headers=H, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
    h = {**H, "mcp-session-id": r.headers["mcp-session-id"], "mcp-protocol-version": "2025-03-26"}
    c.post(URL + "/mcp", headers=h, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
    r = c.post(URL + "/mcp", headers=h, json=[
        {"jsonrpc": "2.0", "id": 10, "method": "tools/list"},
        {"jsonrpc": "2.0", "id": 11, "method": "tools/call", "params": {"name": tool, "arguments": {}}},
        {"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "b"}}}])
    if r.headers.get("content-type", "").startswith("application/json"):
        msgs = r.json()
        msgs = msgs if isinstance(msgs, list) else [msgs]
    else:
        msgs = []
        for line in r.text.splitlines():
            if line.startswith("data:") and line[5:].strip():
                m = json.loads(line[5:])
                msgs += m if isinstance(m, list) else [m]
    by_id = {m.get("id"): m for m in msgs}
    listed = {t["name"] for t in by_id.get(10, {}).get("result", {}).get("tools", [])}
    err = by_id.get(11, {}).get("error", {})
    ok = (listed == allowed and err.get("code") == -32602 and "tool filter" in err.get("message", "")
          and "Echo: b" in json.dumps(by_id.get(12)))
    print(("ok   " if ok else "FAIL ") + f"--tools, a batch: listed {sorted(listed)}, "
          f"{tool} -> {err.get('message')}, echo -> {json.dumps(by_id.get(12))[:80]}")
    return ok


def main():
    with httpx.Client(timeout=30) as c:
        r = c.post(URL + "/mcp", headers=H, json={"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}})
        sid = r.headers["mcp-session-id"]
        h = {**H, "mcp-session-id": sid, "mcp-protocol-version": "2025-11-25"}
        c.post(URL + "/mcp", headers=h, json={"jsonrpc": "2.0", "method": "notifications/initialized"})
        body = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
            "name": "trigger-long-running-operation", "arguments": {"duration": 3, "steps": 3},
            "_meta": {"progressToken": "p"}}}
        t0 = time.monotonic()
        seen = []
        with c.stream("POST", URL + "/mcp", headers=h, json=body) as resp:
            for line in resp.iter_lines():
                if line.startswith("data:") and line[5:].strip():
                    m = json.loads(line[5:])
                    seen.append((round(time.monotonic() - t0, 2), m.get("method") or "response"))
        if len(sys.argv) > 2:
            refused = call_json(c, h, {"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                                       "params": {"name": sys.argv[2], "arguments": {"a": 1, "b": 2}}})
            allowed = call_json(c, h, {"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                                       "params": {"name": "echo", "arguments": {"message": "ok"}}})
            ok = (refused.get("error", {}).get("code") == -32602 and "tool filter" in refused["error"]["message"]
                  and "Echo: ok" in json.dumps(allowed))
            print(("ok   " if ok else "FAIL ") + f"--tools: {sys.argv[2]} refused, echo allowed")
            if not ok:
                sys.exit(1)
            if len(sys.argv) > 3 and not batch(c, sys.argv[2], set(sys.argv[3].split(","))):
                sys.exit(1)
    first = next((t for t, m in seen if m == "notifications/progress"), None)
    last = seen[-1][0] if seen else None
    ok = first is not None and last is not None and first < last - 1.5 and seen[-1][1] == "response"
    print(("ok   " if ok else "FAIL ") + f"progress streamed as the server sends it: {seen}")
    sys.exit(0 if ok else 1)


main()
