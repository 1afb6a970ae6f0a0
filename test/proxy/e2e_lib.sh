# Sourced by the proxy's end-to-end scripts (e2e_exec.sh, e2e_framing.sh, e2e_drain.sh,
# e2e_hosts.sh, e2e_listeners.sh) after `set -euo pipefail`, with the script's own arguments: $1
# is the mcp-proxy to test. Installs the MCP servers and clients once (setup_servers.sh; a script
# that needs none sets NO_SERVERS=1 before sourcing), makes a work directory, and on exit kills
# what was started (PIDS) and removes it. Sets PROXY HERE CACHE VENV NPM WORK PIDS fail; defines
# start_proxy, wait_health, log_port, wait_port, free_port and finish.
PROXY=$(realpath "${1:-build/mcp-proxy}")
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${MCP_CACHE:-$HOME/.cache/mcp-operator}
VENV=$CACHE/venv
NPM=$CACHE/npm/node_modules/@modelcontextprotocol
WORK=$(mktemp -d)
PIDS=()
fail=0

cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ -z "${NO_SERVERS:-}" ]; then "$HERE/setup_servers.sh" >/dev/null; fi
export LSAN_OPTIONS="suppressions=$HERE/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# Start a proxy on an ephemeral port, its output in $WORK/<name>.log. Optional, as variables
# (NAME=value start_proxy ...): LIMIT, a command to run it under (prlimit --nofile=64); TLS=1,
# ask its /health over https; START_SECONDS, how long it has to become healthy (40). Sets PORT
# and PPID_ (the proxy's pid). Not healthy in time: says so with its log, sets fail and returns 1
# (which set -e makes fatal unless the call is a condition).
start_proxy() { # name args...
    local name=$1 log=$WORK/$1.log secs=${START_SECONDS:-40}
    shift
    # shellcheck disable=SC2086 # LIMIT is a command and its arguments
    ${LIMIT:-} "$PROXY" --port 0 --bind 127.0.0.1 "$@" >"$log" 2>&1 &
    PPID_=$!
    PIDS+=("$PPID_")
    PORT=""
    for _ in $(seq $((secs * 10))); do
        PORT=$(log_port "$log" listening)
        if [ -n "$PORT" ] && curl -fsSk "http${TLS:+s}://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "FAIL $name: mcp-proxy did not become healthy in $secs s"
    cat "$log"
    fail=1
    return 1
}

wait_health() { # code seconds
    for _ in $(seq $(($2 * 10))); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# The port of a daemon's first '"msg":"<msg>","port":"N"' log line (mcp-proxy's "listening",
# mcp-webhook's "serving"), "" while there is none; wait_port waits up to 10 s for it.
log_port() { # log msg
    grep -ao "\"msg\":\"$2\",\"port\":\"[0-9]*\"" "$1" 2>/dev/null | grep -o '[0-9]*' | head -1 || true
}
wait_port() { # log msg
    local port=""
    for _ in $(seq 100); do
        port=$(log_port "$1" "$2")
        [ -n "$port" ] && break
        sleep 0.1
    done
    echo "$port"
}

# A stand-in apiserver (fake_apiserver.py) in $WORK/k8s serving pod srv-0 at POD_IP, whose
# attach runs CMD; writes $WORK/k8s/kubeconfig and sets FAKE to its pid (also in PIDS).
fake_apiserver() { # pod-ip cmd...
    local ip=$1
    shift
    mkdir -p "$WORK/k8s"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/k8s/key.pem" \
        -out "$WORK/k8s/cert.pem" -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
    python3 "$HERE/fake_apiserver.py" --cert "$WORK/k8s/cert.pem" --key "$WORK/k8s/key.pem" --token t0ken \
        --port-file "$WORK/k8s/port" --pid-file "$WORK/k8s/pid" --pod-ip "$ip" -- "$@" >"$WORK/k8s/fake.log" 2>&1 &
    FAKE=$!
    PIDS+=("$FAKE")
    for _ in $(seq 100); do [ -s "$WORK/k8s/port" ] && break; sleep 0.1; done
    cat >"$WORK/k8s/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:$(cat "$WORK/k8s/port")", certificate-authority: "$WORK/k8s/cert.pem"}}]
users: [{name: u, user: {token: t0ken}}]
contexts: [{name: x, context: {cluster: c, user: u, namespace: ns}}]
current-context: x
EOF
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The end of a script: stop what was started and give it up to 15 s to go (a sanitizer build,
# PX_E2E_BIN=build/asan/mcp-proxy, reports as it exits), fail on any sanitizer report in the
# logs, print the verdict and exit with it.
finish() { # what
    local alive
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for _ in $(seq 150); do
        alive=0
        for p in "${PIDS[@]}"; do if kill -0 "$p" 2>/dev/null; then alive=1; fi; done
        if [ "$alive" = 0 ]; then break; fi
        sleep 0.1
    done
    if grep -l 'Sanitizer' "$WORK"/*.log 2>/dev/null; then
        grep -h -A30 'ERROR: .*Sanitizer' "$WORK"/*.log | head -80
        echo "FAIL sanitizer reports above"
        fail=1
    fi
    if [ "$fail" = 0 ]; then echo "$1: all passed"; else echo "$1: FAILED"; fi
    exit "$fail"
}
