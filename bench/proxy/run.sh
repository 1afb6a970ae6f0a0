#!/usr/bin/env bash
# mcp-proxy against the Python mcp-proxy (PyPI, the peer of DESIGN section 8),
# each bridging its own copy of the same real stdio MCP server
# (@modelcontextprotocol/server-everything) in the same run: 16 handshake-era
# sessions over streamable HTTP, one per wrk connection, calling the echo tool
# for BENCH_SECONDS (default 10). Prints throughput, p50/p99 and the proxy
# process's peak RSS (VmHWM, the MCP server excluded) and writes
# build/bench/proxy.json. Usage: bench/proxy/run.sh [BUILD]
set -euo pipefail
BUILD=${1:-build}
SECS=${BENCH_SECONDS:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MCP_CACHE:-$HOME/.cache/mcp-operator}
NPM=$CACHE/npm/node_modules/@modelcontextprotocol
PEER=$CACHE/venv/pyproxy
"$HERE/../../test/proxy/setup_servers.sh" >/dev/null
if [ ! -x "$PEER/bin/mcp-proxy" ]; then
    python3 -m venv "$PEER"
    "$PEER/bin/pip" install -q --disable-pip-version-check mcp-proxy
fi
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() { # name port cmd...
    local name=$1 port=$2 pid out
    shift 2
    "$@" >"/tmp/bench-proxy-$name.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 300); do # until an initialize is answered: the MCP server is up
        [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 -X POST "http://127.0.0.1:$port/mcp" \
            -H 'content-type: application/json' -H 'accept: application/json, text/event-stream' \
            -d '{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"b","version":"1"}}}')" = 200 ] && break
        sleep 0.2
    done
    out=$(wrk -t16 -c16 -d"${SECS}s" -s "$HERE/legacy.lua" "http://127.0.0.1:$port" | grep '^BENCH')
    # the proxy's own process: for the peer the Python interpreter, not the server it spawned
    rss=$(awk '/VmHWM/{print $2}' "/proc/$pid/status")
    echo "$name $out rss_kb=$rss"
    kill "$pid"
}

P1=$(free_port)
R1=$(run mcp-proxy "$P1" "$BUILD/mcp-proxy" --port "$P1" --bind 127.0.0.1 --exec -- \
    node "$NPM/server-everything/dist/index.js" stdio)
P2=$(free_port)
R2=$(run python-mcp-proxy "$P2" "$PEER/bin/mcp-proxy" --port "$P2" --host 127.0.0.1 -- \
    node "$NPM/server-everything/dist/index.js" stdio)
echo "$R1"
echo "$R2"
field() { sed -n "s/.*$2=\([0-9.]*\).*/\1/p" <<<"$1"; }
mkdir -p "$BUILD/bench"
python3 - "$BUILD/bench/proxy.json" "$SECS" <<EOF
import json, sys
ours = dict(rps=$(field "$R1" rps), p50_ms=$(field "$R1" p50_ms), p99_ms=$(field "$R1" p99_ms), rss_kb=$(field "$R1" rss_kb), bad=$(field "$R1" bad))
peer = dict(rps=$(field "$R2" rps), p50_ms=$(field "$R2" p50_ms), p99_ms=$(field "$R2" p99_ms), rss_kb=$(field "$R2" rss_kb), bad=$(field "$R2" bad))
s = {"command": "bench/proxy/run.sh (wrk -t16 -c16 -d${SECS}s, tools/call echo, server-everything stdio)",
     "mcp-proxy": ours, "python-mcp-proxy": peer,
     "throughput_ratio": round(ours["rps"] / max(peer["rps"], 0.001), 1),
     "p99_ratio": round(ours["p99_ms"] / max(peer["p99_ms"], 0.001), 3),
     "rss_ratio": round(ours["rss_kb"] / max(peer["rss_kb"], 1), 3)}
json.dump(s, open(sys.argv[1], "w"), indent=1)
print(json.dumps(s))
EOF
