#!/usr/bin/env bash
# mcp-proxy as an OAuth 2.1 resource server with Cedar authorization (DESIGN §9), end to end on
# 127.0.0.1: `mcp-proxy --exec -- server-everything` (npm, stdio) behind --oidc-issuer, with a
# stand-in provider (e2e_auth_idp.py: discovery, JWKS, introspection; it also mints the tokens no
# provider issues: alg none, HMAC over the public key, unknown keys). The cluster tests use a
# real provider (Dex).
#   e2e_auth.py   401 + resource metadata, every bad token refused with the proxy alive, Cedar
#                 lists per caller at once, refusals in both eras (and a batch), sessions owned
#                 by their principal, key rotation, introspection, DPoP
#   real clients  mcp 1.x and 2.x with a bearer token on /mcp and /sse: tools listed and called,
#                 a denied call refused
#   private IPs   without --oidc-allow-private-ip the provider on 127.0.0.1 is not fetched
#   logs          one audit line per call; no token in the log
# Usage: e2e_auth.sh path/to/mcp-proxy
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh" # PROXY HERE VENV NPM WORK PIDS fail; start_proxy free_port finish

ok() { echo "ok   $1"; }
bad() {
    echo "FAIL $1"
    fail=1
}

IDP_PORT=$(free_port)
ISSUER=http://127.0.0.1:$IDP_PORT
echo '{"jwks":["rsa1","ec256"]}' >"$WORK/idp.json"
python3 "$HERE/e2e_auth_idp.py" serve "$IDP_PORT" "$WORK/idp.json" >"$WORK/idp.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do curl -fs -o /dev/null "$ISSUER/.well-known/openid-configuration" && break; sleep 0.1; done

# five policies in ToolHive's model: per-tool permit, per-principal permit, claim-based permit,
# forbid over permit; prompts for alice, resources for admins
cat >"$WORK/authz.json" <<'EOF'
{"version": "1.0", "type": "cedarv1", "cedar": {"policies": [
  "permit(principal, action == Action::\"call_tool\", resource == Tool::\"echo\");",
  "permit(principal == Client::\"alice\", action == Action::\"call_tool\", resource);",
  "forbid(principal == Client::\"alice\", action == Action::\"call_tool\", resource == Tool::\"trigger-long-running-operation\");",
  "permit(principal, action == Action::\"call_tool\", resource == Tool::\"get-sum\") when { principal has claim_role && principal.claim_role == \"admin\" };",
  "permit(principal == Client::\"alice\", action == Action::\"get_prompt\", resource);",
  "permit(principal, action == Action::\"read_resource\", resource) when { context has claim_role && context.claim_role == \"admin\" };"
], "entities_json": "[]"}}
EOF
EVERYTHING=(node "$NPM/server-everything/dist/index.js" stdio)
OIDC=(--oidc-issuer "$ISSUER" --oidc-audience mcp --oidc-allow-private-ip
    --oidc-introspection-url "$ISSUER/introspect" --oidc-client-id mcp-proxy)
export MCP_PROXY_OIDC_CLIENT_SECRET=s3cret
start_proxy authz "${OIDC[@]}" --authz-config "$WORK/authz.json" --exec -- "${EVERYTHING[@]}"
AUTHZ=$PORT
AUTHZ_PID=$PPID_
start_proxy plain "${OIDC[@]}" --exec -- "${EVERYTHING[@]}"
PLAIN=$PORT

python3 "$HERE/e2e_auth.py" "http://127.0.0.1:$AUTHZ" "http://127.0.0.1:$PLAIN" "$ISSUER" "$WORK/idp.json" || fail=1

# real MCP clients of both eras with a bearer token, both client transports
T=$(python3 "$HERE/e2e_auth_idp.py" token iss="$ISSUER" sub=carol)
for venv in mcp1 mcp2; do
    if out=$("$VENV/$venv/bin/python" "$HERE/e2e_client.py" --url "http://127.0.0.1:$AUTHZ" --server everything \
        --runs mcp:modern,mcp:legacy,sse:legacy --bearer "$T" --tools echo --refused get-sum \
        --refused-text Unauthorized 2>&1); then
        ok "$venv: carol lists only echo, calls it, get-sum refused (Unauthorized), /mcp and /sse"
    else
        bad "$venv with a bearer token: $out"
    fi
done
if "$VENV/mcp2/bin/python" "$HERE/e2e_client.py" --url "http://127.0.0.1:$AUTHZ" --server everything \
    --runs mcp:modern >/dev/null 2>&1; then
    bad "a client without a token was served"
else
    ok "a real client without a token is refused"
fi

# the policies file edited in place of the proxy (as the kubelet updates a mounted ConfigMap):
# in force within ~2 s, same process; a file that does not parse keeps the policies in force
sum_as() { # token -> the JSON-RPC answer of tools/call get-sum (2026-07-28)
    curl -s "http://127.0.0.1:$AUTHZ/mcp" -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        -H 'Accept: application/json, text/event-stream' -H 'MCP-Protocol-Version: 2026-07-28' \
        -H 'Mcp-Method: tools/call' -H 'Mcp-Name: get-sum' \
        -d '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get-sum","arguments":{"a":2,"b":3},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}'
}
before=$(sum_as "$T")
python3 - "$WORK/authz.json" <<'PY'
import json, os, sys
p = sys.argv[1]
d = json.load(open(p))
d["cedar"]["policies"].append('permit(principal == Client::"carol", action == Action::"call_tool", resource == Tool::"get-sum");')
json.dump(d, open(p + ".new", "w"))
os.rename(p + ".new", p)
PY
after=""
for _ in $(seq 40); do
    after=$(sum_as "$T")
    [[ $after == *'"result"'* ]] && break
    sleep 0.1
done
if [[ $before == *'"code":403'* && $after == *'The sum of 2 and 3 is 5'* ]] && kill -0 "$AUTHZ_PID" &&
    grep -q '"msg":"authorization policies reloaded"' "$WORK/authz.log"; then
    ok "a policy added to --authz-config's file is in force within 4 s, same process (carol may call get-sum)"
else
    bad "authz reload: before ${before:0:200} after ${after:0:200}"
fi
echo '{"version":"1.0","type":"cedarv1","cedar":{"policies":["permit(principal, action, resource"]}}' >"$WORK/authz.json.new"
mv "$WORK/authz.json.new" "$WORK/authz.json"
for _ in $(seq 40); do grep -q 'authorization policies not reloaded' "$WORK/authz.log" && break; sleep 0.1; done
if grep -q '"msg":"authorization policies not reloaded: the ones in force stay".*cedar.policies\[0\]' "$WORK/authz.log" &&
    [[ $(sum_as "$T") == *'is 5'* ]]; then
    ok "a policies file that does not parse is refused with Cedar's message; the policies in force stay"
else
    bad "bad authz reload: $(grep 'not reloaded' "$WORK/authz.log" | head -1)"
fi

# a provider on a private address is not fetched unless allowed
PRIV_LOG=$WORK/private.log
"$PROXY" --port 0 --bind 127.0.0.1 --oidc-issuer "$ISSUER" --oidc-audience mcp \
    --exec -- "${EVERYTHING[@]}" >"$PRIV_LOG" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q "cannot load the issuer's keys" "$PRIV_LOG" && break; sleep 0.1; done
if grep -q 'refused: a loopback address' "$PRIV_LOG"; then
    ok "without --oidc-allow-private-ip the issuer on 127.0.0.1 is refused before connecting"
else
    bad "private issuer: $(tail -3 "$PRIV_LOG")"
fi

# the logs: an audit line per call, never a token
LOG=$WORK/authz.log
if grep -q '"msg":"audit","principal":"carol","method":"tools/call","name":"get-sum","decision":"deny"' "$LOG" &&
    grep -q '"msg":"audit","principal":"bob","method":"tools/call","name":"get-sum","decision":"allow","duration_ms":"[0-9]*","outcome":"success"' "$LOG"; then
    ok "audit lines: principal, method, name, decision, duration, outcome"
else
    bad "audit lines missing: $(grep audit "$LOG" | head -3)"
fi
if grep -q "${T:0:40}\|eyJ" "$LOG" "$WORK/plain.log"; then
    bad "a token appears in the proxy's log"
else
    ok "no token in the proxy's logs"
fi
if kill -0 "$AUTHZ_PID" 2>/dev/null; then ok "the proxy is alive after all of it"; else bad "the proxy died"; fi
finish "e2e_auth"
