#!/usr/bin/env bash
# mcp-proxy's Host and Origin checks against DNS rebinding (DESIGN §5 "Host and Origin"), end
# to end with curl against real servers, on both paths a request can take:
#   bridged      mcp-proxy --exec -- mcp-server-time (PyPI), a 2026-07-28 tools/call
#   passthrough  mcp-proxy --passthrough in front of server-everything's streamable HTTP (npm),
#                an initialize
# each proxy started with --allow-host (as the controller passes the Service's names) and
# MCP_PROXY_ALLOWED_HOSTS (an Ingress host and a web UI's origin, as a user sets it through
# resourceOverrides.proxyDeployment.env). Served: loopback Hosts with any port (kubectl
# port-forward), IP Hosts, the listed names (port and trailing dot aside), loopback and listed
# Origins. 403: a Host that is not listed (a rebinding page's), an Origin equal to such a Host
# (what a rebinding page sends), Origin "null". /health answers any Host (probes). Also a real
# MCP client through http://localhost:<port>, a bad MCP_PROXY_ALLOWED_HOSTS exits 2, and
# --help documents the variable. Usage: e2e_hosts.sh path/to/mcp-proxy
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh" # PROXY HERE VENV NPM WORK PIDS fail; start_proxy free_port finish
INGRESS=mcp.ingress.example # the Ingress host a user lists
APP=app.example             # a web UI calling the proxy from its own origin
SVC=mcp-time-proxy.team-a.svc

# (a proxy without --allow-host, as before it existed, still runs every case, to fail them)
"$PROXY" --help >"$WORK/help"
ALLOW=()
if grep -q -- --allow-host "$WORK/help"; then ALLOW=(--allow-host "$SVC"); fi
# start_proxy with the names the controller (--allow-host) and a user (the variable) allow
start_allowed() { MCP_PROXY_ALLOWED_HOSTS=" $INGRESS, $APP" start_proxy "$1" "${ALLOW[@]}" "${@:2}"; }

# expect WANT HOST ORIGIN WHAT [PATH]: POST $BODY (GET for /health) with these Host and Origin
# ("" for none); a 200 must carry $MARK, a 403 the JSON-RPC error naming what was refused
expect() {
    local want=$1 host=$2 origin=$3 what=$4 path=${5:-/mcp} code
    local args=(-s -m 20 -o "$WORK/body" -w '%{http_code}' -H "Host: $host")
    [ -n "$origin" ] && args+=(-H "Origin: $origin")
    [ "$path" = /mcp ] && args+=("${HDRS[@]}" --data "$BODY")
    code=$(curl "${args[@]}" "http://127.0.0.1:$PORT$path" || true)
    if [ "$code" = "$want" ] && { [ "$want" != 200 ] || [ "$path" != /mcp ] || grep -q "$MARK" "$WORK/body"; } &&
        { [ "$want" != 403 ] || grep -q '"Forbidden: \(Host\|Origin\) not allowed"' "$WORK/body"; }; then
        echo "ok   $MODE: $what -> $code"
    else
        echo "FAIL $MODE: $what -> $code, want $want: $(head -c 200 "$WORK/body" | tr -s "\n" " ")"
        fail=1
    fi
}

cases() {
    expect 200 "127.0.0.1:$PORT" "" "Host 127.0.0.1 (an IP: ClusterIP, pod IP)"
    expect 200 "localhost:$PORT" "http://localhost:5173" "Host localhost, a loopback Origin with another port"
    expect 200 "localhost:38211" "" "Host localhost with another port (kubectl port-forward's local port)"
    expect 200 "[::1]:$PORT" "http://[::1]:3000" "Host and Origin [::1]"
    expect 200 "LOCALHOST.:$PORT" "HTTP://LocalHost:8080" "upper case and a trailing dot"
    expect 200 "$SVC:8080" "" "Host $SVC (--allow-host, as the controller passes it)"
    expect 200 "$INGRESS" "https://$INGRESS" "Host and Origin $INGRESS (MCP_PROXY_ALLOWED_HOSTS)"
    expect 200 "$INGRESS.:443" "https://$APP" "Host $INGRESS., Origin https://$APP (both listed)"
    expect 403 "evil.example:$PORT" "" "Host evil.example (a rebinding page's)"
    expect 403 "evil.example:$PORT" "http://evil.example:$PORT" "rebinding: Origin equal to Host evil.example"
    expect 403 "$INGRESS.evil.example" "https://$INGRESS.evil.example" "Host and Origin under evil.example"
    expect 403 "localhost:$PORT" "http://evil.example" "Host localhost, Origin evil.example"
    expect 403 "127.0.0.1:$PORT" "null" "Origin null"
    expect 403 "127.0.0.1:$PORT" "http://10.1.2.3:$PORT" "an IP Origin (no name the proxy is served under)"
    expect 200 "evil.example:$PORT" "http://evil.example" "/health answers any Host (probes)" /health
}

echo "== bridged: mcp-proxy --exec -- mcp-server-time, a 2026-07-28 tools/call"
V=2026-07-28
MODE=bridged
BODY='{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"get_current_time","arguments":{"timezone":"UTC"},"_meta":{"io.modelcontextprotocol/protocolVersion":"'$V'","io.modelcontextprotocol/clientCapabilities":{}}}}'
HDRS=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
    -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: get_current_time')
MARK='datetime'
start_allowed bridged --exec -- "$VENV/servers/bin/mcp-server-time"
cases
# a real MCP client through a loopback name (as through kubectl port-forward)
if timeout 60 "$VENV/mcp2/bin/python" "$HERE/e2e_client.py" --url "http://localhost:$PORT" --server time \
    --runs mcp:modern,mcp:legacy,sse:legacy --calls 1 >"$WORK/client.json" 2>&1 &&
    [ "$(grep -c '"errors": \[\]' "$WORK/client.json")" = 3 ]; then
    echo "ok   bridged: the mcp SDK through http://localhost:$PORT (/mcp both eras, /sse)"
else
    echo "FAIL bridged: the mcp SDK through http://localhost:$PORT: $(tail -c 600 "$WORK/client.json")"
    fail=1
fi

echo "== --passthrough in front of server-everything's streamable HTTP, an initialize"
free=$(free_port)
PORT=$free node "$NPM/server-everything/dist/index.js" streamableHttp >"$WORK/everything.log" 2>&1 &
PIDS+=($!)
MODE=passthrough
BODY='{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e-hosts","version":"1"}}}'
HDRS=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')
MARK='serverInfo'
start_allowed passthrough --passthrough --transport streamable-http --target-host 127.0.0.1 --target-port "$free"
cases

echo "== the allow-list's configuration"
rc=0
out=$(MCP_PROXY_ALLOWED_HOSTS="ok.example,https://bad.example/" timeout 10 "$PROXY" --port 0 --exec -- true 2>&1) || rc=$?
if [ "$rc" = 2 ] && [[ $out == *"invalid name 'https://bad.example/' in MCP_PROXY_ALLOWED_HOSTS"* ]]; then
    echo "ok   a bad MCP_PROXY_ALLOWED_HOSTS exits 2: ${out%%$'\n'*}"
else
    echo "FAIL a bad MCP_PROXY_ALLOWED_HOSTS: exit $rc: ${out:0:300}"
    fail=1
fi
rc=0
out=$(timeout 10 "$PROXY" --port 0 --allow-host 'a b' --exec -- true 2>&1) || rc=$?
if [ "$rc" = 2 ] && [[ $out == *"invalid value 'a b' for --allow-host"* ]]; then
    echo "ok   a bad --allow-host exits 2: ${out%%$'\n'*}"
else
    echo "FAIL a bad --allow-host: exit $rc: $out"
    fail=1
fi
if grep -q MCP_PROXY_ALLOWED_HOSTS "$WORK/help"; then echo "ok   --help names MCP_PROXY_ALLOWED_HOSTS"; else
    echo "FAIL --help does not name MCP_PROXY_ALLOWED_HOSTS"; fail=1; fi

finish "proxy hosts e2e"
