"""Exact routing and per-client state through a running mcp-proxy in front of the real
@modelcontextprotocol/server-everything, over raw HTTP (httpx), as a hostile client would try it
(issue 18; DESIGN §5 "Routing is exact"):

  sampling   an attacker keeps two slow calls in flight while a victim's tool asks the server for
             sampling: the attacker never sees the victim's prompt. Over stdio the server cannot
             say whose request it is, so with two clients busy it gets an error; alone, the victim
             gets it and its answer becomes its tool's result. With --cause (an HTTP server, whose
             answer stream names the request) the victim gets it even while the attacker is busy.
  logging    one client turns the server's simulated logging on: another client's stream gets
             none of those log lines (they cannot be attributed, so they are dropped)
  params     positional params are refused with 400 / -32602 (no MCP method takes them)
  sessions   1,100 initializes from 127.0.0.1 do not lock out a client from 127.0.0.2
With --limits, against a proxy run with --request-timeout 3 --max-message-bytes 4096 instead:
  deadline   a call the server answers after 8 s gets -32001 after ~3 s; the proxy goes on
  too-big    an answer over --max-message-bytes (get-tiny-image, 5.5 KB, its id last as
             JavaScript writes it) reaches its client as an error naming the limit, not a hang

Usage: e2e_routing.py URL [--cause] [--skip-logging] | URL --limits
"""

import json
import sys
import threading
import time

import httpx
from mcp_wire import events

URL = sys.argv[1]
CAUSE = "--cause" in sys.argv
LOGGING = "--skip-logging" not in sys.argv
LEGACY = "2025-06-18"
failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


class Session:
    """A handshake-era client over streamable HTTP that records everything it is sent."""

    def __init__(self, name, caps, local="127.0.0.1"):
        self.name = name
        self.seen = []  # every message any of its streams carried
        self.lock = threading.Lock()
        self.http = httpx.Client(transport=httpx.HTTPTransport(local_address=local), timeout=30)
        r = self.http.post(
            URL + "/mcp",
            json={"jsonrpc": "2.0", "id": 0, "method": "initialize",
                  "params": {"protocolVersion": LEGACY, "capabilities": caps,
                             "clientInfo": {"name": name, "version": "1"}}},
            headers={"accept": "application/json, text/event-stream"})
        self.status = r.status_code
        self.sid = r.headers.get("mcp-session-id")
        if not self.sid:
            return
        self.post_raw({"jsonrpc": "2.0", "method": "notifications/initialized"})
        self.answer = None  # what to answer a sampling request with

    def headers(self):
        return {"accept": "application/json, text/event-stream", "mcp-session-id": self.sid,
                "mcp-protocol-version": LEGACY}

    def post_raw(self, msg):
        return self.http.post(URL + "/mcp", json=msg, headers=self.headers())

    def record(self, msg):
        with self.lock:
            self.seen.append(msg)
        if msg.get("method") == "sampling/createMessage" and self.answer is not None:
            self.post_raw({"jsonrpc": "2.0", "id": msg["id"],
                           "result": {"role": "assistant", "model": "test",
                                      "content": {"type": "text", "text": self.answer}}})

    def call(self, tool, args, rid):
        """tools/call, reading its answer stream to the end; returns the final response."""
        body = {"jsonrpc": "2.0", "id": rid, "method": "tools/call",
                "params": {"name": tool, "arguments": args}}
        with self.http.stream("POST", URL + "/mcp", json=body, headers=self.headers()) as r:
            for m in events(r):
                self.record(m)
                if m.get("id") == rid and "method" not in m:
                    return m
        return None

    def listen(self, seconds):
        """The GET stream, for `seconds`, in a thread."""
        def run():
            try:
                with self.http.stream("GET", URL + "/mcp", headers=self.headers(),
                                      timeout=httpx.Timeout(seconds + 5, read=seconds)) as r:
                    for m in events(r):
                        self.record(m)
            except (httpx.ReadTimeout, httpx.RemoteProtocolError):
                pass
        t = threading.Thread(target=run, daemon=True)
        t.start()
        time.sleep(0.3)
        return t

    def saw(self, text):
        with self.lock:
            return any(text in json.dumps(m) for m in self.seen)


def text_of(resp):
    if not resp:
        return ""
    return json.dumps(resp.get("result") or resp.get("error"))


def sampling():
    attacker = Session("attacker", {"sampling": {}})
    victim = Session("victim", {"sampling": {}})
    attacker.answer = "ATTACKER-ANSWER"
    victim.answer = "VICTIM-ANSWER"
    attacker.listen(12)
    victim.listen(12)
    slow = [threading.Thread(target=attacker.call, daemon=True,
                             args=("trigger-long-running-operation", {"duration": 6, "steps": 3}, 100 + i))
            for i in range(2)]
    for t in slow:
        t.start()
    time.sleep(0.5)
    started = time.time()
    r = victim.call("trigger-sampling-request", {"prompt": "VICTIM-SECRET"}, 7)
    check(r is not None and time.time() - started < 10, "sampling: the victim's call ends (no hang)")
    check(not attacker.saw("VICTIM-SECRET"), "sampling: the attacker never sees the victim's prompt")
    check("ATTACKER-ANSWER" not in text_of(r), "sampling: the attacker's answer is not the victim's result")
    if CAUSE:
        check("VICTIM-ANSWER" in text_of(r),
              "sampling: the server's answer stream names the victim, who answers though another client is busy")
    for t in slow:
        t.join(15)
    # the victim alone in flight: the request is its, and so is the answer
    r = victim.call("trigger-sampling-request", {"prompt": "VICTIM-SECRET-2"}, 8)
    check("VICTIM-ANSWER" in text_of(r), "sampling: alone in flight, the victim answers its own request")
    check(not attacker.saw("VICTIM-SECRET"), "sampling: still nothing for the attacker")


def logging():
    a = Session("a", {})
    b = Session("b", {})
    b.listen(7)
    a.call("toggle-simulated-logging", {}, 1)
    time.sleep(6.5)  # the server logs every 5 s once logging is on
    check(not any(m.get("method") == "notifications/message" for m in b.seen),
          "logging: another client's log lines never reach b's stream")
    a.call("toggle-simulated-logging", {}, 2)


def params():
    c = Session("p", {})
    try:  # servers never answer some of these: a hang is a failure too
        r = c.http.post(URL + "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                                            "params": ["get-sum", 1, 2]},
                        headers=c.headers(), timeout=5)
        status = r.status_code
        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    except httpx.TimeoutException:
        status, body = "no answer in 5 s", {}
    check(status == 400 and body.get("error", {}).get("code") == -32602,
          f"params: positional params refused ({status} {body.get('error')})")


def sessions():
    flood = httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.1"), timeout=10)
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {},
                       "clientInfo": {"name": "flood", "version": "1"}}}
    codes = {}
    for _ in range(1100):
        r = flood.post(URL + "/mcp", json=init, headers={"accept": "application/json, text/event-stream"})
        codes[r.status_code] = codes.get(r.status_code, 0) + 1
    other = Session("other", {}, local="127.0.0.2")
    check(other.status == 200 and other.sid,
          f"sessions: after 1,100 initializes from 127.0.0.1 ({codes}), 127.0.0.2 still gets a session")
    if other.sid:
        r = other.call("get-sum", {"a": 2, "b": 3}, 1)
        check("5" in text_of(r), "sessions: and its call works")


def limits():
    c = Session("limits", {})
    started = time.time()
    r = c.call("trigger-long-running-operation", {"duration": 8, "steps": 2}, 1)
    took = time.time() - started
    check(r is not None and r.get("error", {}).get("code") == -32001 and 2.5 < took < 6,
          f"deadline: -32001 after {took:.1f} s ({text_of(r)[:120]})")
    r = c.call("get-sum", {"a": 2, "b": 3}, 2)
    check("5" in text_of(r), "deadline: the next call works")
    started = time.time()
    try:
        r = c.call("get-tiny-image", {}, 3)
    except httpx.TimeoutException:
        r = None
    check(r is not None and "message limit" in text_of(r) and time.time() - started < 5,
          f"too-big: the client hears why ({text_of(r)[:160]})")
    r = c.call("get-sum", {"a": 2, "b": 3}, 4)
    check("5" in text_of(r), "too-big: the next call works")


if "--limits" in sys.argv:
    limits()
else:
    sampling()
    if LOGGING:
        logging()
    params()
    sessions()
print(f"routing: {'FAIL' if failures else 'ok'} ({len(failures)} failed)")
sys.exit(1 if failures else 0)
