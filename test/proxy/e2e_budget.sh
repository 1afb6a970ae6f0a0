#!/usr/bin/env bash
# mcp-proxy's one memory budget (--max-queued-bytes, DESIGN §5) against clients that never read,
# with a real MCP server: bench/proxy/big_server.py (the Python SDK's FastMCP, stdio) behind
# mcp-proxy --exec with an 8 MiB budget; the clients are bench/proxy/abuse.py.
#   answers  20 clients each ask for a 3.5 MB answer and read nothing: the proxy's peak RSS
#            stays under its baseline + the budget + 4 messages in flight + 4 MiB, the slowest
#            are shed
#            (logged at info, no body), and a fresh client's tools/call still works
#   bodies   20 clients each send a 1.5 MB request at once: what does not fit gets 503 with
#            Retry-After: 1 and a JSON-RPC error, and a fresh client still works (the RSS is
#            not checked: h2o 2.2 reads each body whole before any handler sees it, so bodies
#            being read count only from then on; each is capped by --max-message-bytes)
#   caps     a body over --max-message-bytes is refused (413) before it is read; a budget
#            smaller than two messages is a usage error (exit 2)
# Usage: e2e_budget.sh path/to/mcp-proxy
set -euo pipefail
PROXY=$(realpath "${1:-build/mcp-proxy}")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${MCP_CACHE:-$HOME/.cache/mcp-operator}/venv/mcp1/bin/python
WORK=$(mktemp -d)
BUDGET=$((8 << 20)) MAX_MSG=$((4 << 20))
PID=""
fail=0

cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$HERE/setup_servers.sh" >/dev/null
ok() { echo "ok   budget: $*"; }
bad() { echo "FAIL budget: $*"; fail=1; }

# Start the proxy on an ephemeral port; sets PORT and PID.
start_proxy() { # args...
    "$PROXY" --port 0 --bind 127.0.0.1 "$@" --exec -- "$PY" "$ROOT/bench/proxy/big_server.py" \
        >"$WORK/proxy.log" 2>&1 &
    PID=$!
    for _ in $(seq 300); do
        PORT=$(grep -o '"msg":"listening","port":"[0-9]*"' "$WORK/proxy.log" | grep -o '[0-9]*' | head -1 || true)
        [ -n "$PORT" ] && curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && return 0
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}

if ! start_proxy --max-queued-bytes "$BUDGET" --max-message-bytes "$MAX_MSG"; then
    bad "mcp-proxy --max-queued-bytes $BUDGET did not start: $(head -c 300 "$WORK/proxy.log")"
    echo "     (going on without the flag, to show what this binary does)"
    start_proxy --max-message-bytes "$MAX_MSG" || { cat "$WORK/proxy.log"; exit 1; }
fi
# sanitizers multiply the RSS: the bounds hold for a plain build only
sanitized=0
if ldd "$PROXY" | grep 'libasan\|libtsan' >/dev/null; then sanitized=1; fi

field() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" <<<"$2"; }
within() { # what result: peak RSS <= baseline + budget + 4 messages + 4 MiB
    local base peak limit
    base=$(field baseline_mib "$2") peak=$(field peak_rss_mib "$2")
    limit=$(awk -v b="$base" -v q="$BUDGET" -v m="$MAX_MSG" 'BEGIN {print b + (q + 4 * m) / 1048576 + 4}')
    if ((sanitized)); then
        echo "     $1: peak RSS $peak MiB (sanitizer build: not checked)"
    elif awk -v p="$peak" -v l="$limit" 'BEGIN {exit !(p <= l)}'; then
        ok "$1: peak RSS $peak MiB <= $limit MiB (baseline $base + budget 8 + 4 x 4 MiB messages + 4)"
    else
        bad "$1: peak RSS $peak MiB > $limit MiB (baseline $base + budget 8 + 4 x 4 MiB messages + 4)"
    fi
}

echo "== budget: 20 clients that never read 3.5 MB answers, --max-queued-bytes 8 MiB"
r=$(python3 "$ROOT/bench/proxy/abuse.py" --url "http://127.0.0.1:$PORT" --pid "$PID" --tool big \
    --clients 20 --size 3500000 --hold 2)
echo "     $r"
within answers "$r"
shed=$(field shed "$r")
logged=$(grep -c '"level":"info","msg":"slowest client shed' "$WORK/proxy.log" || true)
if [ "$shed" -ge 1 ] && [ "$logged" -ge 1 ]; then ok "answers: $shed slowest clients shed, $logged logged at info"; else
    bad "answers: $shed clients shed, $logged shed lines logged"; fi
if grep -q xxxxxxxx "$WORK/proxy.log"; then bad "a body reached the log"; else ok "no body in the log"; fi
if [ "$(field fresh_ok "$r")" = true ]; then ok "answers: a fresh client's tools/call works ($(field fresh_ms "$r") ms)"; else
    bad "answers: a fresh client's tools/call failed: $(field fresh_status "$r")"; fi

echo "== budget: 20 clients each sending a 1.5 MB request at once"
r=$(python3 "$ROOT/bench/proxy/abuse.py" --url "http://127.0.0.1:$PORT" --pid "$PID" --tool echo \
    --clients 20 --size 3000000 --hold 1)
echo "     $r"
echo "     bodies: peak RSS $(field peak_rss_mib "$r") MiB"
if [ "$(field refused_503 "$r")" -ge 1 ] && [ "$(field bad_503 "$r")" = 0 ]; then
    ok "bodies: $(field refused_503 "$r") got 503 with Retry-After: 1 and a JSON-RPC error"
else
    bad "bodies: $(field refused_503 "$r") refused with 503 + Retry-After, $(field bad_503 "$r") without"
fi
if [ "$(field fresh_ok "$r")" = true ]; then ok "bodies: a fresh client's tools/call works"; else
    bad "bodies: a fresh client's tools/call failed: $(field fresh_status "$r")"; fi

echo "== budget: caps"
# h2o reads a whole body before the handler runs: it must refuse one over the cap from its header
code=$(python3 - "$PORT" $((MAX_MSG + 1)) <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
          b"Content-Length: " + sys.argv[2].encode() + b"\r\n\r\n{")
print(s.recv(100).split(b" ")[1].decode())
EOF
)
if [ "$code" = 413 ]; then ok "a body of --max-message-bytes + 1 is refused before it is read (413)"; else
    bad "a body of --max-message-bytes + 1: HTTP $code, not 413"; fi
rc=0
out=$("$PROXY" --max-queued-bytes 4194304 --exec -- true 2>&1) || rc=$?
if [ "$rc" = 2 ] && [[ $out == *"--max-queued-bytes must be at least twice --max-message-bytes"* ]]; then
    ok "--max-queued-bytes under two messages: exit 2 naming the rule"
else
    bad "--max-queued-bytes 4194304: exit $rc: $out"
fi

kill "$PID"
wait "$PID" 2>/dev/null || true
PID=""
if grep -q 'Sanitizer' "$WORK/proxy.log"; then
    grep -A30 'ERROR: .*Sanitizer' "$WORK/proxy.log" | head -60
    bad "sanitizer reports above"
fi
if [ "$fail" = 0 ]; then echo "budget e2e: all passed"; else echo "budget e2e: FAILED"; fi
exit "$fail"
