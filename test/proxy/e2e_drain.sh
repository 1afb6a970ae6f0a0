#!/usr/bin/env bash
# mcp-proxy's drain on SIGTERM (DESIGN §5 "Graceful restart"), end to end with curl against
# server-everything (npm): a 4 s tools/call (trigger-long-running-operation) is in flight when
# the proxy gets SIGTERM; /health turns 503 at once, the call still gets its answer, and the
# proxy stops after it. Both paths: bridged (mcp-proxy --exec, a 2026-07-28 request) and
# --passthrough in front of server-everything's streamable HTTP (a handshake-era session).
# In Kubernetes the kubelet's preStop sleep comes first (controller/deployment.c), so by the
# time SIGTERM arrives no new connection is routed here. Usage: e2e_drain.sh path/to/mcp-proxy
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh" # PROXY VENV NPM WORK PIDS fail; start_proxy free_port finish
LONG='"name":"trigger-long-running-operation","arguments":{"duration":4,"steps":2}'
CALL_HDRS=(-H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream')

# sigterm_mid_call WHAT WANT CURL-ARGS...: the call starts, SIGTERM 1 s later; its answer must
# match the regex WANT, /health must be 503 meanwhile and the proxy must stop once it is done
sigterm_mid_call() {
    local what=$1 want=$2 call health t0 stopped=0
    shift 2
    rm -f "$WORK/answer"
    t0=$(date +%s%N)
    curl -s -m 30 -o "$WORK/answer" "$@" &
    call=$!
    sleep 1
    kill -TERM "$PPID_"
    sleep 0.3
    health=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health" || true)
    wait "$call" || true
    if grep -q "$want" "$WORK/answer" 2>/dev/null; then
        echo "ok   $what: the call in flight at SIGTERM answered ('$want') after $((($(date +%s%N) - t0) / 1000000)) ms"
    else
        echo "FAIL $what: the call in flight at SIGTERM got: '$(head -c 300 "$WORK/answer" 2>/dev/null)'"
        fail=1
    fi
    if [ "$health" = 503 ]; then echo "ok   $what: /health 503 while draining"; else
        echo "FAIL $what: /health $health while draining"; fail=1; fi
    for _ in $(seq 150); do kill -0 "$PPID_" 2>/dev/null || { stopped=1; break; }; sleep 0.1; done
    if [ "$stopped" = 1 ]; then echo "ok   $what: stopped after the drain"; else
        echo "FAIL $what: still running 15 s after SIGTERM"; fail=1; fi
}

echo "== bridged: mcp-proxy --exec -- server-everything (stdio), a 2026-07-28 tools/call"
start_proxy bridged --exec -- node "$NPM/server-everything/dist/index.js" stdio
V=2026-07-28
DONE='Long running operation completed'
sigterm_mid_call bridged "$DONE" "${CALL_HDRS[@]}" -H "MCP-Protocol-Version: $V" -H 'Mcp-Method: tools/call' \
    -H 'Mcp-Name: trigger-long-running-operation' --data '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{'"$LONG"',"_meta":{"io.modelcontextprotocol/protocolVersion":"'$V'","io.modelcontextprotocol/clientCapabilities":{}}}}' \
    "http://127.0.0.1:$PORT/mcp"

echo "== bridged, a call longer than --drain-seconds 2: a JSON-RPC error, not an empty reply"
start_proxy bridged-long --drain-seconds 2 --exec -- node "$NPM/server-everything/dist/index.js" stdio
sigterm_mid_call bridged-long '"id":8,"error".*shutting down' "${CALL_HDRS[@]}" -H "MCP-Protocol-Version: $V" \
    -H 'Mcp-Method: tools/call' -H 'Mcp-Name: trigger-long-running-operation' --data '{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":20,"steps":2},"_meta":{"io.modelcontextprotocol/protocolVersion":"'$V'","io.modelcontextprotocol/clientCapabilities":{}}}}' \
    "http://127.0.0.1:$PORT/mcp"

echo "== --passthrough in front of server-everything's streamable HTTP, a handshake-era session"
free=$(free_port)
PORT=$free node "$NPM/server-everything/dist/index.js" streamableHttp >"$WORK/everything.log" 2>&1 &
PIDS+=($!)
start_proxy passthrough --passthrough --transport streamable-http --target-host 127.0.0.1 --target-port "$free"
sid=$(curl -s -m 10 -D - -o /dev/null "${CALL_HDRS[@]}" --data '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"e2e-drain","version":"1"}}}' \
    "http://127.0.0.1:$PORT/mcp" | tr -d '\r' | awk 'tolower($1) == "mcp-session-id:" {print $2}')
SESSION_HDRS=(-H "Mcp-Session-Id: $sid" -H 'MCP-Protocol-Version: 2025-11-25')
curl -s -m 10 -o /dev/null "${CALL_HDRS[@]}" "${SESSION_HDRS[@]}" \
    --data '{"jsonrpc":"2.0","method":"notifications/initialized"}' "http://127.0.0.1:$PORT/mcp"
sigterm_mid_call passthrough "$DONE" "${CALL_HDRS[@]}" "${SESSION_HDRS[@]}" \
    --data '{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{'"$LONG"'}}' "http://127.0.0.1:$PORT/mcp"

finish "proxy drain e2e"
