"""mcp-proxy as an OAuth resource server with Cedar, end to end on 127.0.0.1 (driven by
e2e_auth.sh): raw HTTP, so every status, header and JSON-RPC error is checked as sent.

  python3 e2e_auth.py AUTHZ_URL PLAIN_URL ISSUER STATE_FILE

AUTHZ_URL: a proxy with --oidc-issuer ISSUER --oidc-audience mcp --authz-config (the policies
of e2e_auth.sh) --oidc-introspection-url in front of server-everything (stdio); PLAIN_URL: the
same without --authz-config. STATE_FILE is the stand-in provider's (e2e_auth_idp.py): this
script rotates its keys and registers opaque tokens there.
Prints one "ok"/"FAIL" line per case; exits 1 when any failed. Standard library only.
"""
import http.client
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_auth_idp as idp  # noqa: E402

failed = []
MODERN = "2026-07-28"
LEGACY = "2025-06-18"


def report(ok, what, detail=""):
    print(("ok   " if ok else "FAIL ") + what + ("" if ok else ": " + str(detail)[:600]), flush=True)
    if not ok:
        failed.append(what)


def request(url, method="POST", body=None, headers=None, path=None):
    u = urllib.parse.urlsplit(url)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
    data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    h.update(headers or {})
    c.request(method, path or (u.path or "/mcp"), body=data, headers=h)
    r = c.getresponse()
    raw = r.read()
    hdrs = r.getheaders()
    c.close()
    msgs = []
    ctype = r.getheader("content-type", "")
    if ctype.startswith("application/json") and raw:
        msgs = [json.loads(raw)]
    elif ctype.startswith("text/event-stream"):
        for ev in raw.decode().split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in ev.split("\n") if line.startswith("data:"))
            if data:
                msgs.append(json.loads(data))
    return r.status, hdrs, msgs, raw


def header_values(hdrs, name):
    return [v for k, v in hdrs if k.lower() == name]


def bearer(tok, scheme="Bearer"):
    return {"Authorization": f"{scheme} {tok}"}


def modern(url, tok, method, params=None, rid=1, extra=None):
    """A 2026-07-28 request: self-contained, its _meta and headers."""
    p = dict(params or {})
    p["_meta"] = {"io.modelcontextprotocol/protocolVersion": MODERN,
                  "io.modelcontextprotocol/clientCapabilities": {}}
    h = {"MCP-Protocol-Version": MODERN, "Mcp-Method": method}
    if "name" in p or "uri" in p:
        h["Mcp-Name"] = p.get("name", p.get("uri"))
    if tok:
        h.update(bearer(tok))
    h.update(extra or {})
    return request(url + "/mcp", body={"jsonrpc": "2.0", "id": rid, "method": method, "params": p}, headers=h)


class Legacy:
    """A handshake-era session over streamable HTTP."""

    def __init__(self, url, tok):
        self.url, self.tok, self.n = url, tok, 0
        st, hdrs, msgs, raw = request(url + "/mcp", body={
            "jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}},
            headers=bearer(tok))
        self.sid = dict((k.lower(), v) for k, v in hdrs).get("mcp-session-id")
        if st != 200 or not self.sid:
            raise AssertionError(f"initialize: {st} {raw[:200]!r}")
        request(url + "/mcp", body={"jsonrpc": "2.0", "method": "notifications/initialized"},
                headers=dict(bearer(tok), **{"Mcp-Session-Id": self.sid, "MCP-Protocol-Version": LEGACY}))

    def call(self, method, params=None, tok=None, batch=None):
        self.n += 1
        body = batch if batch is not None else {"jsonrpc": "2.0", "id": self.n, "method": method, "params": params or {}}
        return request(self.url + "/mcp", body=body, headers=dict(
            bearer(tok or self.tok), **{"Mcp-Session-Id": self.sid, "MCP-Protocol-Version": LEGACY}))


def names(msgs, member, field="name"):
    for m in msgs:
        if "result" in m:
            return sorted(x[field] for x in m["result"].get(member, []))
    return None


def error_of(msgs):
    for m in msgs:
        if "error" in m:
            return m["error"]
    return None


def main():
    authz, plain, issuer, state_path = sys.argv[1:5]
    tok = {u: idp.token({"iss": issuer, "sub": u, "claims": json.dumps(c)})
           for u, c in (("alice", {}), ("bob", {"role": "admin"}), ("carol", {}))}

    # ---- authentication: what a client without a good token gets
    st, hdrs, _, raw = request(authz + "/mcp", body={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
    chal = header_values(hdrs, "www-authenticate")
    meta_url = authz + "/.well-known/oauth-protected-resource/mcp"
    report(st == 401 and any(c == f'Bearer resource_metadata="{meta_url}"' for c in chal),
           "no token: 401 with WWW-Authenticate: Bearer resource_metadata (RFC 9728 §5.1)", (st, chal))
    st, _, msgs, raw = request(authz, method="GET", path="/.well-known/oauth-protected-resource/mcp")
    doc = json.loads(raw) if st == 200 else {}
    report(st == 200 and doc.get("resource") == authz + "/mcp" and doc.get("authorization_servers") == [issuer]
           and doc.get("bearer_methods_supported") == ["header"],
           "the protected resource metadata names the resource and its authorization server", raw[:300])
    st, _, _, raw = request(authz, method="GET", path="/health")
    report(st == 200, "/health stays open without a token", st)

    # ---- key rotation without a restart
    with open(state_path) as f:
        state = json.load(f)
    state["jwks"] = ["rsa1", "rsa2", "ec256"]  # a new key published beside the old
    with open(state_path, "w") as f:
        json.dump(state, f)
    t2 = idp.token({"iss": issuer, "sub": "alice", "key": "rsa2"})
    st, _, msgs, raw = modern(authz, t2, "tools/list")
    report(st == 200 and names(msgs, "tools"),
           "a token signed by a rotated-in key is accepted (JWKS fetched again, no restart)", (st, raw[:200]))

    bad = {
        "another audience": (idp.token({"iss": issuer, "aud": "other"}), "another audience"),
        "expired": (idp.token({"iss": issuer, "exp_in": "-120"}), "expired"),
        "another issuer": (idp.token({"iss": "http://127.0.0.1:1"}), "another issuer"),
        "an unknown key (its kid asks for the JWKS at most once a minute)": (idp.token({"iss": issuer, "key": "ec384", "alg": "ES384"}), "kid"),
        "alg none": (idp.token({"iss": issuer, "sign": "none"}), ""),
        "HS256 with the public key": (idp.token({"iss": issuer, "sign": "hs256-pubkey", "alg": "HS256"}), "algorithm"),
        "garbage base64": ("a*b.c*d.e*f", ""),
        "not a JWT (no introspection match)": ("opaque-unknown", "not active"),
        "a 1 MiB header": ("x" * (1 << 20), ""),
    }
    for what, (t, words) in bad.items():
        try:
            st, hdrs, _, raw = modern(authz, t, "tools/list")
        except Exception as e:  # noqa: BLE001 - a closed connection counts as refused
            st, hdrs, raw = 0, [], repr(e).encode()
        desc = " ".join(header_values(hdrs, "www-authenticate"))
        ok = st in (401, 431, 413, 400, 0) if what == "a 1 MiB header" else (st == 401 and words in desc and 'error="invalid_token"' in desc)
        report(ok, f"a token {what}: refused ({st})", (st, desc[:300], raw[:200]))
    st, _, msgs, raw = modern(authz, tok["alice"], "tools/list")
    report(st == 200 and names(msgs, "tools"), "after the bad tokens the proxy serves a good one", (st, raw[:200]))

    # ---- Cedar: lists per caller, refusals in both eras
    st, _, msgs, _ = modern(plain, tok["carol"], "tools/list")
    all_tools = names(msgs, "tools")
    want = {"alice": sorted(t for t in all_tools if t != "trigger-long-running-operation"),
            "bob": sorted(t for t in all_tools if t in ("echo", "get-sum")),
            "carol": ["echo"]}
    results = {}

    def lister(user):
        results[user] = [names(modern(authz, tok[user], "tools/list", rid=i)[2], "tools") for i in range(20)]

    threads = [threading.Thread(target=lister, args=(u,)) for u in want]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for u in want:
        report(all(r == want[u] for r in results[u]),
               f"tools/list for {u} (20 at once with the others): {want[u] if len(want[u]) < 4 else str(len(want[u])) + ' tools'}",
               results[u][:2])
    st, _, msgs, _ = modern(authz, tok["carol"], "tools/call", {"name": "get-sum", "arguments": {"a": 1, "b": 2}})
    e = error_of(msgs)
    report(st == 403 and e and e["code"] == 403 and e["message"] == "Unauthorized",
           "2026-07-28: a denied tools/call is HTTP 403 with JSON-RPC error 403 Unauthorized", (st, msgs))
    st, _, msgs, _ = modern(authz, tok["bob"], "tools/call", {"name": "get-sum", "arguments": {"a": 1, "b": 2}})
    report(st == 200 and not error_of(msgs) and "3" in json.dumps(msgs),
           "bob (claim role=admin) may call get-sum", msgs)
    st, _, msgs, _ = modern(authz, tok["alice"], "tools/call", {"name": "trigger-long-running-operation",
                                                             "arguments": {"duration": 1, "steps": 1}})
    report(st == 403 and error_of(msgs)["code"] == 403, "forbid overrides permit for alice", msgs)

    s_alice, s_carol = Legacy(authz, tok["alice"]), Legacy(authz, tok["carol"])
    st, _, msgs, _ = s_carol.call("tools/call", {"name": "get-sum", "arguments": {"a": 1, "b": 2}})
    e = error_of(msgs)
    report(e and e["code"] == 403, "handshake era: a denied tools/call is JSON-RPC error 403", (st, msgs))
    st, _, msgs, _ = s_alice.call("tools/list")
    report(names(msgs, "tools") == want["alice"], "handshake era: tools/list filtered for alice", names(msgs, "tools"))
    st, _, msgs, _ = s_carol.call(None, batch=[
        {"jsonrpc": "2.0", "id": 101, "method": "tools/call", "params": {"name": "echo", "arguments": {"message": "hi"}}},
        {"jsonrpc": "2.0", "id": 102, "method": "tools/call", "params": {"name": "get-sum", "arguments": {"a": 1, "b": 2}}}])
    by_id = {m.get("id"): m for m in msgs}
    report("result" in by_id.get(101, {}) and by_id.get(102, {}).get("error", {}).get("code") == 403,
           "a batch: the allowed member answered, the denied one refused", msgs)
    st, _, msgs, _ = s_alice.call("prompts/list")
    alice_prompts = names(msgs, "prompts")
    st, _, msgs, _ = s_carol.call("prompts/list")
    report(alice_prompts and names(msgs, "prompts") == [], "prompts/list: alice sees the prompts, carol none",
           (alice_prompts, names(msgs, "prompts")))
    st, _, msgs, _ = Legacy(authz, tok["bob"]).call("resources/list")
    bob_res = names(msgs, "resources", "uri")
    st, _, msgs, _ = s_alice.call("resources/list")
    report(bob_res and names(msgs, "resources", "uri") == [],
           "resources/list: bob (admin) sees resources, alice none", (len(bob_res or []), names(msgs, "resources", "uri")))
    if bob_res:
        st, _, msgs, _ = s_alice.call("resources/read", {"uri": bob_res[0]})
        report(error_of(msgs) and error_of(msgs)["code"] == 403, "resources/read refused for alice", msgs)

    # ---- sessions belong to their principal
    st, _, msgs, raw = s_alice.call("tools/list", tok=tok["carol"])
    report(st == 404, "carol's token on alice's session: 404, as an unknown session", (st, raw[:200]))
    st, _, msgs, _ = s_alice.call("tools/list")
    report(names(msgs, "tools") == want["alice"], "alice's session unaffected", st)

    # ---- introspection (RFC 7662) of an opaque token
    state["opaque"] = {"opaque-alice": {"active": True, "sub": "alice", "aud": "mcp", "iss": issuer,
                                        "exp": int(time.time()) + 300},
                       "opaque-revoked": {"active": False}}
    with open(state_path, "w") as f:
        json.dump(state, f)
    st, _, msgs, raw = modern(authz, "opaque-alice", "tools/list")
    report(st == 200 and names(msgs, "tools") == want["alice"], "an opaque token, active by introspection: served as alice",
           (st, raw[:200]))
    st, hdrs, _, _ = modern(authz, "opaque-revoked", "tools/list")
    report(st == 401, "an opaque token introspection says is not active: 401", st)

    # ---- DPoP (RFC 9449)
    bound = idp.token({"iss": issuer, "sub": "alice", "key": "rsa2", "jkt_of": "ec256"})
    htu = authz + "/mcp"
    proof = idp.dpop({"key": "ec256", "htu": htu, "token": bound})
    st, _, msgs, raw = modern(authz, bound, "tools/list", extra={"Authorization": "DPoP " + bound, "DPoP": proof})
    report(st == 200 and names(msgs, "tools") == want["alice"], "a DPoP-bound token with its proof: served", (st, raw[:300]))
    st, hdrs, _, _ = modern(authz, bound, "tools/list", extra={"Authorization": "DPoP " + bound, "DPoP": proof})
    report(st == 401 and "invalid_dpop_proof" in " ".join(header_values(hdrs, "www-authenticate")),
           "the same proof again (replay): 401 invalid_dpop_proof", st)
    st, _, _, _ = modern(authz, bound, "tools/list")
    report(st == 401, "a DPoP-bound token as a plain Bearer token: 401", st)
    other = idp.dpop({"key": "ec256b", "htu": htu, "token": bound})
    st, _, _, _ = modern(authz, bound, "tools/list", extra={"Authorization": "DPoP " + bound, "DPoP": other})
    report(st == 401, "a proof by another key: 401", st)
    wrong = idp.dpop({"key": "ec256", "htu": authz + "/other", "token": bound})
    st, _, _, _ = modern(authz, bound, "tools/list", extra={"Authorization": "DPoP " + bound, "DPoP": wrong})
    report(st == 401, "a proof for another URI: 401", st)

    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
