#!/usr/bin/env bash
# Fail closed at the front door (DESIGN §5), end to end on 127.0.0.1 (the cases are in
# e2e_failclosed.py):
#   bind         without --bind, mcp-proxy listens on 127.0.0.1 only (--help says so)
#   framing      ambiguous HTTP/1.1 framing (two Content-Lengths, Content-Length with
#                Transfer-Encoding, two Transfer-Encodings, obs-fold, bare LF), alone, pipelined
#                behind a good request and on a kept-alive connection: 400 and the connection
#                closed, on mcp-proxy's port (--exec and --passthrough, where the server behind
#                must never see it) and on mcp-webhook's (TLS); then a normal keep-alive pair on
#                a new connection is served
#   requests     mcp-proxy --passthrough --tools echo,get-sum in front of server-everything over
#                streamable HTTP (npm): a body jansson refuses (a NUL, a lone surrogate, an integer
#                over 2^63, 1e999, a byte that is not UTF-8, nesting over 2048) or a gzip body is
#                refused, and the filtered tool never runs; tools/list with Accept-Encoding: gzip
#                comes back filtered
#   answers      the same in front of a stand-in server: an answer the filter cannot parse
#                becomes a JSON-RPC error, one compressed though identity was asked a 502, lists
#                written as text/plain, gzip (when asked), SSE or with a `\u0074ools` key filtered
# Usage: e2e_framing.sh path/to/mcp-proxy [path/to/mcp-webhook]
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh"
WEBHOOK=$(realpath "${2:-$(dirname "$PROXY")/mcp-webhook}")
PY="$VENV/mcp1/bin/python"
T="$HERE/e2e_failclosed.py"

echo "== the default bind: loopback only (--bind not given)"
"$PROXY" --port 0 --exec -- "$VENV/servers/bin/mcp-server-time" >"$WORK/bind.log" 2>&1 &
BIND_PID=$!
PIDS+=("$BIND_PID")
bport=$(wait_port "$WORK/bind.log" listening)
addrs=$(ss -Htln "( sport = :${bport:-0} )" | awk '{print $4}' | tr '\n' ' ')
if [ -n "$bport" ] && [ "$addrs" = "127.0.0.1:$bport " ]; then echo "ok   default bind: listening on $addrs"; else
    echo "FAIL default bind: listening on '$addrs', want 127.0.0.1:$bport only"; fail=1; fi
kill "$BIND_PID"
help=$("$PROXY" --help)
if grep -q -- '--bind=ADDR .*default 127.0.0.1' <<<"$help"; then echo "ok   --help: --bind defaults to 127.0.0.1"; else
    echo "FAIL --help does not give --bind's default 127.0.0.1"; fail=1; fi

echo "== framing: mcp-proxy --exec"
start_proxy framing-exec --exec -- "$VENV/servers/bin/mcp-server-time"
"$PY" "$T" framing "$PORT" || fail=1
kill "$PPID_"

echo "== --passthrough --tools in front of server-everything over streamable HTTP"
free=$(free_port)
PORT=$free node "$NPM/server-everything/dist/index.js" streamableHttp >"$WORK/ev.log" 2>&1 &
PIDS+=($!)
start_proxy rp-tools --passthrough --transport streamable-http --target-host 127.0.0.1 \
    --target-port "$free" --tools echo,get-sum
"$PY" "$T" bodies "http://127.0.0.1:$PORT/mcp" || fail=1
kill "$PPID_"

echo "== --passthrough --tools in front of a stand-in server"
"$PY" "$T" fake "$WORK/fake.port" >"$WORK/fake.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -s "$WORK/fake.port" ] && break; sleep 0.1; done
FAKE=$(cat "$WORK/fake.port")
start_proxy rp-fake --passthrough --transport streamable-http --target-host 127.0.0.1 \
    --target-port "$FAKE" --tools echo
"$PY" "$T" answers "http://127.0.0.1:$PORT/mcp" "http://127.0.0.1:$FAKE" || fail=1
"$PY" "$T" framing "$PORT" --path /mcp --fake "http://127.0.0.1:$FAKE" || fail=1
kill "$PPID_"

echo "== framing: mcp-webhook (TLS)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/wh-key.pem" \
    -out "$WORK/wh-cert.pem" -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
"$WEBHOOK" --tls-cert-file "$WORK/wh-cert.pem" --tls-key-file "$WORK/wh-key.pem" --port 0 \
    --bind-address 127.0.0.1 --health-port -1 --workers 1 >"$WORK/webhook.log" 2>&1 &
PIDS+=($!)
WH=$(wait_port "$WORK/webhook.log" serving)
if [ -n "$WH" ]; then
    "$PY" "$T" framing "$WH" --tls --path /validate-toolhive-stacklok-dev-v1alpha1-mcpserver \
        --review "$HERE/../fixtures/admission/invalid-missing-image-validate/review.json" || fail=1
else
    echo "FAIL mcp-webhook did not start:"; cat "$WORK/webhook.log"; fail=1
fi

finish "fail-closed e2e"
