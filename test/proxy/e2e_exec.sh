#!/usr/bin/env bash
# mcp-proxy --exec end to end, with real MCP servers and real MCP clients:
#   servers  mcp-server-time, mcp-server-fetch (PyPI), @modelcontextprotocol/server-everything,
#            @modelcontextprotocol/server-github (npm), each behind its own mcp-proxy --exec
#   clients  the `mcp` Python SDK 2.x pinned to 2026-07-28, the same forced to the handshake,
#            and `mcp` 1.x (handshake era); over streamable HTTP (/mcp) and HTTP+SSE (/sse);
#            16 concurrent sessions per run
# then the tool filter (--tools), the HTTP transports (server-everything over streamable HTTP and
# over SSE, and mcp-server-time over 2026-07-28 streamable HTTP: bridged, every client era and
# transport, the server going away and coming back; and behind the reverse proxy with
# --passthrough: plain and with --tools, lists filtered, other calls refused, batches,
# streaming kept), and faults (test/proxy/e2e_faults.py: progress routing,
# a client hanging up mid-stream, the server killed mid-request, bad input); last, through a
# stand-in apiserver (test/proxy/fake_apiserver.py), stdio over pods/attach and streamable HTTP
# to the IP of a watched pod (bridged: /health 503 while it is not Ready or gone; --passthrough:
# requests 503 at once too).
# Prints which era each server speaks. Usage: e2e_exec.sh path/to/mcp-proxy
set -euo pipefail
. "$(dirname "$0")/e2e_lib.sh" # PROXY HERE VENV NPM WORK PIDS fail; start_proxy wait_health free_port finish

# 16 sessions of server-everything's client per run, each SDK (venv) a Python process: every
# run must pass, and each venv must have run.
clients() { # what venvs runs [client args...]
    local what=$1 venvs=$2 runs=$3 out
    shift 3
    for venv in $venvs; do
        out=$WORK/clients-${what//[^a-zA-Z0-9]/_}-$venv.json
        "$VENV/$venv/bin/python" "$HERE/e2e_client.py" --url "http://127.0.0.1:$PORT" --server everything \
            --clients 16 --runs "$runs" "$@" >"$out" 2>&1 || true
        while read -r line; do
            if [[ $line == *'"ok": 16'* && $line == *'"errors": []'* ]]; then echo "ok   $what: $line"; else
                echo "FAIL $what: $line"; fail=1; fi
        done <"$out"
        if ! grep -q '"ok": 16' "$out"; then echo "FAIL $what/$venv: no run"; fail=1; fi
    done
}

era_of() { # log
    grep -o '"msg":"mcp server ready","era":"[^"]*","version":"[^"]*"' "$1" | head -1 |
        sed 's/.*"era":"\([^"]*\)","version":"\([^"]*\)"/\1 (speaks \2)/'
}

# Every client kind over both transports, 16 sessions at once per run; one
# Python process per SDK (its start-up is most of the time).
run_matrix() { # server port [extra client args]
    local server=$1 port=$2 out
    shift 2
    for venv in mcp2 mcp1; do
        out=$WORK/$server-$venv.json
        timeout 180 "$VENV/$venv/bin/python" "$HERE/e2e_client.py" --url "http://127.0.0.1:$port" \
            --server "$server" --clients 16 "$@" \
            --runs mcp:modern,sse:modern,mcp:legacy,sse:legacy >"$out" 2>&1 || true
        while read -r line; do
            if [[ $line == *'"ok": 16'* && $line == *'"errors": []'* ]]; then
                echo "ok   $line"
            else
                echo "FAIL $line"
                fail=1
            fi
        done <"$out"
        if [ "$(grep -c '"ok": 16' "$out")" -ne "$([ $venv = mcp2 ] && echo 4 || echo 2)" ]; then
            echo "FAIL $server/$venv: runs missing"
            fail=1
        fi
    done
}

# A local page for the fetch server (loopback only).
mkdir -p "$WORK/www"
echo "<html><body>mcp-proxy-fetch-marker</body></html>" >"$WORK/www/page.html"
"$VENV/mcp1/bin/python" -m http.server 0 --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/www.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do
    WWW=$(grep -o 'port [0-9]*' "$WORK/www.log" | grep -o '[0-9]*' || true)
    [ -n "$WWW" ] && break
    sleep 0.1
done

declare -A CMD=(
    [time]="$VENV/servers/bin/mcp-server-time"
    [fetch]="$VENV/servers/bin/mcp-server-fetch --ignore-robots-txt --allow-private-ips"
    [everything]="node $NPM/server-everything/dist/index.js stdio"
    [github]="node $NPM/server-github/dist/index.js"
)
declare -A ERA
for server in time fetch everything github; do
    # shellcheck disable=SC2086
    start_proxy "$server" --exec -- ${CMD[$server]}
    ERA[$server]=$(era_of "$WORK/$server.log")
    echo "== $server: ${ERA[$server]}"
    run_matrix "$server" "$PORT" --fetch-url "http://127.0.0.1:$WWW/page.html"
    kill "$PPID_"
done

echo "== tool filter: time with --tools get_current_time"
start_proxy filter --tools get_current_time --exec -- "$VENV/servers/bin/mcp-server-time"
run_matrix time "$PORT" --tools get_current_time --refused convert_time --calls 1

# an HTTP MCP server the proxy cannot reach: /health and the log name the address and port
echo "== unreachable target"
CLOSED=$(free_port)
"$PROXY" --port 0 --bind 127.0.0.1 --transport streamable-http --target-host 127.0.0.1 \
    --target-port "$CLOSED" >"$WORK/unreachable.log" 2>&1 &
PIDS+=($!)
UP=$(wait_port "$WORK/unreachable.log" listening)
body=""
for _ in $(seq 50); do
    body=$(curl -s "http://127.0.0.1:$UP/health")
    [[ $body == *refused* ]] && break
    sleep 0.1
done
if [[ $body == "data path down: the MCP server cannot be reached: connection refused to 127.0.0.1:$CLOSED" ]] &&
    grep -q "connection refused to 127.0.0.1:$CLOSED" "$WORK/unreachable.log"; then
    echo "ok   unreachable target: /health says '$body', and the log too"
else
    echo "FAIL unreachable target: /health '$body'"
    fail=1
fi

# status.url of an sse MCPServer ends in /sse: a streamable-HTTP client given that URL POSTs there
echo "== streamable HTTP on /sse (the sse status URL)"
if out=$("$VENV/mcp2/bin/python" - "http://127.0.0.1:$PORT/sse" <<'PY' 2>&1
import asyncio, sys
from mcp.client import Client
async def main():
    async with Client(sys.argv[1], mode="2026-07-28") as c:
        print(sorted(t.name for t in (await c.list_tools()).tools))
    async with Client(sys.argv[1], mode="legacy") as c:
        print(sorted(t.name for t in (await c.list_tools()).tools))
asyncio.run(main())
PY
); then
    if [ "$(grep -c "\['get_current_time'\]" <<<"$out")" = 2 ]; then
        echo "ok   mcp 2.x with the /sse URL as a streamable-HTTP endpoint (2026-07-28 and handshake era)"
    else
        echo "FAIL POST /sse: $out"
        fail=1
    fi
else
    echo "FAIL POST /sse: $out"
    fail=1
fi

echo "== faults: everything"
start_proxy faults --exec -- node "$NPM/server-everything/dist/index.js" stdio
"$VENV/mcp1/bin/python" "$HERE/e2e_faults.py" "http://127.0.0.1:$PORT" "$PPID_" || fail=1
"$VENV/mcp1/bin/python" "$HERE/e2e_routing.py" "http://127.0.0.1:$PORT" || fail=1
FAULTS_PID=$PPID_
start_proxy limits --request-timeout 3 --max-message-bytes 4096 --exec -- node "$NPM/server-everything/dist/index.js" stdio
"$VENV/mcp1/bin/python" "$HERE/e2e_routing.py" "http://127.0.0.1:$PORT" --limits || fail=1
kill "$PPID_"
PPID_=$FAULTS_PID
kill -TERM "$PPID_"
for _ in $(seq 100); do kill -0 "$PPID_" 2>/dev/null || break; sleep 0.1; done
if grep -q '"msg":"stopped"' "$WORK/faults.log"; then echo "ok   SIGTERM: drained and stopped"; else
    echo "FAIL SIGTERM"; fail=1; fi

echo "== HTTP transports bridged: server-everything over streamable HTTP and over SSE, every client"
# mcp-proxy speaks the server's own transport (one session for all clients) and serves both
# eras on /mcp and HTTP+SSE on /sse, like for stdio servers
for mode in streamableHttp sse; do
    free=$(free_port)
    PORT=$free node "$NPM/server-everything/dist/index.js" "$mode" >"$WORK/ev-$mode.log" 2>&1 &
    EV_PID=$!
    PIDS+=("$EV_PID")
    if [ "$mode" = sse ]; then t=sse; else t=streamable-http; fi
    start_proxy "bridge-$mode" --transport "$t" --target-host localhost --target-port "$free"
    echo "   everything ($mode): $(era_of "$WORK/bridge-$mode.log")"
    run_matrix everything "$PORT"
    "$VENV/mcp1/bin/python" "$HERE/e2e_stream.py" "http://127.0.0.1:$PORT" || fail=1
    # exact routing: a streamable HTTP server's answer stream names the request (--cause)
    "$VENV/mcp1/bin/python" "$HERE/e2e_routing.py" "http://127.0.0.1:$PORT" \
        $([ "$mode" = streamableHttp ] && echo --cause) || fail=1
    # the server goes away: /health 503, then it is back on the same port and clients work again
    kill "$EV_PID"
    if wait_health 503 10; then echo "ok   $mode: server gone, /health 503"; else
        echo "FAIL $mode: /health not 503 once the server is gone"; fail=1; fi
    PORT_=$PORT
    PORT=$free node "$NPM/server-everything/dist/index.js" "$mode" >>"$WORK/ev-$mode.log" 2>&1 &
    PIDS+=($!)
    PORT=$PORT_
    if wait_health 200 20; then clients "$mode: server back" "mcp2 mcp1" mcp:legacy,sse:legacy; else
        echo "FAIL $mode: /health not 200 once the server is back"; fail=1; fi
    kill "$PPID_"
    start_proxy "bridge-$mode-tools" --transport "$t" --target-host localhost --target-port "$free" \
        --tools echo,get-sum,trigger-long-running-operation
    clients "$mode bridged --tools" "mcp2 mcp1" mcp:legacy,sse:legacy --tools echo,get-sum,trigger-long-running-operation \
        --refused get-env --calls 1
    # and a 2025-03-26 batch: its tools/list filtered, get-env refused, echo answered
    "$VENV/mcp1/bin/python" "$HERE/e2e_stream.py" "http://127.0.0.1:$PORT" get-env \
        echo,get-sum,trigger-long-running-operation || fail=1
    kill "$PPID_"
done

echo "== HTTP transports bridged: a Python SDK server over streamable HTTP and over SSE (PyPI mcp-proxy serving"
echo "   mcp-server-fetch, the stand-in of ToolHive's tool-filter example), --tools fetch"
# the Python SDK names a new session on any request that has none (a 400 to server/discover
# with an Mcp-Session-Id): only initialize's answer makes ours
free=$(free_port)
"$VENV/pyproxy/bin/mcp-proxy" --host=127.0.0.1 --port="$free" -- "$VENV/servers/bin/mcp-server-fetch" \
    --ignore-robots-txt --allow-private-ips >"$WORK/pyfetch.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$free/" && break; sleep 0.1; done
for t in streamable-http sse; do # the same server serves both, at /mcp and at /sse
    start_proxy "bridge-pyfetch-$t" --transport "$t" --target-host 127.0.0.1 --target-port "$free" --tools fetch
    echo "   fetch over $t: $(era_of "$WORK/bridge-pyfetch-$t.log")"
    run_matrix fetch "$PORT" --tools fetch --refused get-env --calls 1 --fetch-url "http://127.0.0.1:$WWW/page.html"
    kill "$PPID_"
done

echo "== HTTP transports, --passthrough: server-everything over streamable HTTP and SSE behind the reverse proxy"
# each server twice: plain (h2o's reverse proxy, bytes untouched) and with the tool filter
# (--tools: tools/list filtered in JSON and SSE answers, other tools/calls refused)
FILTER=echo,get-sum,trigger-long-running-operation
for mode in streamableHttp sse; do
    free=$(free_port)
    PORT=$free node "$NPM/server-everything/dist/index.js" "$mode" >"$WORK/ev-rp-$mode.log" 2>&1 &
    PIDS+=($!)
    if [ "$mode" = sse ]; then t=sse; runs=sse:legacy; else t=streamable-http; runs=mcp:legacy,mcp:auto; fi
    start_proxy "rp-$mode" --passthrough --transport "$t" --target-host localhost --target-port "$free"
    clients "$mode" "mcp1 mcp2" "$runs"
    # the clients are gone: so are the proxy's streams to the server (h2o alone would keep a
    # GET stream open until the server next writes to it)
    for _ in $(seq 50); do
        n=$(ss -Htn state established "( dport = :$free )" | wc -l)
        [ "$n" = 0 ] && break
        sleep 0.1
    done
    if [ "$n" = 0 ]; then echo "ok   $mode: no stream left to the server once its clients left"; else
        echo "FAIL $mode: $n connections to the server left after the clients left"; fail=1; fi
    if [ "$mode" = streamableHttp ]; then
        "$VENV/mcp1/bin/python" "$HERE/e2e_stream.py" "http://127.0.0.1:$PORT" || fail=1
    fi
    kill "$PPID_"
    start_proxy "rp-$mode-tools" --passthrough --transport "$t" --target-host localhost --target-port "$free" --tools "$FILTER"
    clients "$mode --tools $FILTER" "mcp1 mcp2" "$runs" --tools "$FILTER" --refused get-env --calls 1
    if [ "$mode" = streamableHttp ]; then
        "$VENV/mcp1/bin/python" "$HERE/e2e_stream.py" "http://127.0.0.1:$PORT" get-env "$FILTER" || fail=1
    fi
    kill "$PPID_"
done

echo "== HTTP transports, 2026-07-28: mcp-server-time behind mcp-proxy --exec (which serves both eras on /mcp)"
echo "   behind mcp-proxy --transport streamable-http --tools get_current_time, bridged and --passthrough"
start_proxy rp-modern-backend --exec -- "$VENV/servers/bin/mcp-server-time"
BACKEND=$PORT BACKEND_PID=$PPID_
start_proxy bridge-modern --transport streamable-http --target-host 127.0.0.1 --target-port "$BACKEND" \
    --tools get_current_time
echo "   time over streamable HTTP: $(era_of "$WORK/bridge-modern.log")"
run_matrix time "$PORT" --tools get_current_time --refused convert_time --calls 1
kill "$PPID_"
start_proxy rp-modern --passthrough --transport streamable-http --target-host 127.0.0.1 --target-port "$BACKEND" \
    --tools get_current_time
for venv in mcp2 mcp1; do
    "$VENV/$venv/bin/python" "$HERE/e2e_client.py" --url "http://127.0.0.1:$PORT" --server time --clients 16 \
        --runs mcp:modern,mcp:legacy --tools get_current_time --refused convert_time --calls 1 \
        >"$WORK/rp-modern-$venv.json" 2>&1 || true
    while read -r line; do
        if [[ $line == *'"ok": 16'* && $line == *'"errors": []'* ]]; then echo "ok   $line"; else
            echo "FAIL $line"; fail=1; fi
    done <"$WORK/rp-modern-$venv.json"
done
if ! grep -q '"versions": \["2026-07-28"\]' "$WORK/rp-modern-mcp2.json"; then
    echo "FAIL no 2026-07-28 run through the reverse proxy"; fail=1; fi
kill "$PPID_" "$BACKEND_PID"

echo "== Kubernetes names: a bad --namespace, --pod or --container exits 2 naming the option and the rule"
# they go into the apiserver's URL paths and field selectors, unescaped
for bad in --namespace=Foo/bar '--pod=srv-0&watch=0' --container=x.y; do
    rc=0
    out=$("$PROXY" --transport stdio --namespace ns --pod srv-0 "$bad" 2>&1) || rc=$?
    if [ "$rc" = 2 ] && [[ $out == *"invalid value '${bad#*=}' for ${bad%%=*}: "*[a-z]* ]]; then
        echo "ok   $bad: ${out%%$'\n'*}"
    else
        echo "FAIL $bad: exit $rc: $out"; fail=1
    fi
done

echo "== bad flags of the HTTP transports: exit 2 naming the option (and the rule)"
for args in "--transport sse --target-host h --target-port 1 --target-path nope" \
    "--transport stdio --passthrough --exec -- true"; do
    rc=0
    # shellcheck disable=SC2086
    out=$("$PROXY" $args 2>&1) || rc=$?
    case $args in
    *target-path*) want="invalid value 'nope' for --target-path: must start with '/'" ;;
    *) want="--passthrough is for sse and streamable-http" ;;
    esac
    if [ "$rc" = 2 ] && [[ $out == *"$want"* ]]; then echo "ok   $args: ${out%%$'\n'*}"; else
        echo "FAIL $args: exit $rc: $out"; fail=1; fi
done

echo "== stdio over pods/attach (v5.channel.k8s.io) through a stand-in apiserver (test/proxy/fake_apiserver.py)"
fake_apiserver 127.0.0.1 node "$NPM/server-everything/dist/index.js" stdio
KUBECONFIG=$WORK/k8s/kubeconfig start_proxy attach --transport stdio --namespace ns --pod srv-0 --attach-stale 3
ATTACH_RUNS=mcp:modern,sse:legacy,mcp:legacy
clients attached "mcp2 mcp1" "$ATTACH_RUNS"
kill "$(cat "$WORK/k8s/pid")" # the container restarts
if wait_health 200 30 && sleep 1 && wait_health 200 30; then clients "after a container restart" mcp2 "$ATTACH_RUNS"; else
    echo "FAIL attach: not healthy after the container restart"; fail=1; fi
kill -STOP "$FAKE" # the apiserver goes silent without closing anything: a stale stream
if wait_health 503 15; then echo "ok   attach: stale stream noticed, /health 503"; else
    echo "FAIL attach: stale stream not noticed"; fail=1; fi
kill -CONT "$FAKE"
if wait_health 200 40; then clients "after a stale stream" mcp2 "$ATTACH_RUNS"; else
    echo "FAIL attach: not healthy after the apiserver came back"; fail=1; fi
kill "$PPID_"

echo "== streamable HTTP to the pod's IP (status.podIP of the watched pod, through the stand-in apiserver)"
# The target's name is no DNS name (a label over 63 octets: the resolver fails it without a
# query), so requests reach server-everything only by the pod's IP, 127.0.0.1.
NOWHERE=mcp-x-headless-$(printf '%064d' 0).ns.svc.invalid
free=$(free_port)
PORT=$free node "$NPM/server-everything/dist/index.js" streamableHttp >"$WORK/ev-pod.log" 2>&1 &
PIDS+=($!)
fake_pod() { # ready|unready|delete|create
    curl -fsS -o /dev/null --cacert "$WORK/k8s/cert.pem" -H "Authorization: Bearer t0ken" -X POST \
        "https://127.0.0.1:$(cat "$WORK/k8s/port")/fake/pod?$1" || { echo "FAIL fake_apiserver: $1"; fail=1; }
}
ms() { echo $(($(date +%s%N) / 1000000)); }
post_503() { # what: within 1 s a POST /mcp is refused at once, to be retried in 1 s
    local t0 code h=$WORK/pod-503.h
    t0=$(ms)
    for _ in $(seq 10); do
        code=$(curl -s -m 2 -o "$WORK/pod-503.b" -D "$h" -w '%{http_code}' -H 'Content-Type: application/json' \
            -H 'Accept: application/json, text/event-stream' --data '{"jsonrpc":"2.0","id":1,"method":"ping"}' \
            "http://127.0.0.1:$PORT/mcp")
        [ "$code" = 503 ] && break
        sleep 0.1
    done
    if [ "$code" = 503 ] && grep -qix 'retry-after: 1'$'\r' "$h" &&
        grep -q 'the MCP server pod is not ready' "$WORK/pod-503.b"; then
        echo "ok   pod $1: POST /mcp 503 with Retry-After: 1 after $(($(ms) - t0)) ms"
    else
        echo "FAIL pod $1: POST /mcp answered $code within 1 s:"; cat "$h" "$WORK/pod-503.b"; echo; fail=1
    fi
}
health_within() { # code seconds what
    local t0
    t0=$(ms)
    if wait_health "$1" "$2"; then echo "ok   pod $3: /health $1 after $(($(ms) - t0)) ms"; else
        echo "FAIL pod $3: /health not $1 within $2 s"; fail=1; fi
}
echo "   --passthrough: requests answered 503 at once while the pod is not Ready"
KUBECONFIG=$WORK/k8s/kubeconfig start_proxy pod-ip --passthrough --transport streamable-http \
    --target-host "$NOWHERE" --target-port "$free" --namespace ns --pod srv-0
health_within 200 1 ready
clients "pod ready" mcp2 mcp:auto
fake_pod unready
post_503 "not ready"
health_within 503 5 "not ready"
fake_pod ready
health_within 200 5 "ready again"
clients "pod ready again" mcp2 mcp:auto
fake_pod delete
post_503 deleted
fake_pod create
clients "pod replaced" mcp2 mcp:auto
kill "$PPID_"
echo "   bridged: the stream follows the pod (requests wait while it is not Ready)"
KUBECONFIG=$WORK/k8s/kubeconfig start_proxy pod-ip-bridge --transport streamable-http \
    --target-host "$NOWHERE" --target-port "$free" --namespace ns --pod srv-0
clients "bridged, pod ready" "mcp2 mcp1" mcp:legacy,sse:legacy
fake_pod unready
health_within 503 5 "bridged, not ready"
fake_pod ready
health_within 200 5 "bridged, ready again"
clients "bridged, pod ready again" mcp2 mcp:modern,sse:legacy
fake_pod delete
health_within 503 5 "bridged, deleted"
fake_pod create
health_within 200 5 "bridged, replaced"
clients "bridged, pod replaced" mcp2 mcp:modern,sse:legacy
kill "$PPID_"

echo "== eras: time=${ERA[time]}; fetch=${ERA[fetch]}; everything=${ERA[everything]}; github=${ERA[github]}"
finish "proxy e2e"
