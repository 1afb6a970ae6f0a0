# Sourced by the proxy's end-to-end scripts (e2e_exec.sh, e2e_framing.sh) after `set -euo
# pipefail`, with the script's own arguments: $1 is the mcp-proxy to test. Installs the MCP
# servers and clients once (setup_servers.sh), makes a work directory, and on exit kills what was
# started (PIDS) and removes it. Sets PROXY HERE CACHE VENV NPM WORK PIDS fail; defines
# start_proxy, wait_health and free_port.
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

"$HERE/setup_servers.sh" >/dev/null
export LSAN_OPTIONS="suppressions=$HERE/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"

# Start a proxy on an ephemeral port; sets PORT and PPID_ (the proxy's pid).
start_proxy() { # name args...
    local name=$1 log=$WORK/$1.log
    shift
    "$PROXY" --port 0 --bind 127.0.0.1 "$@" >"$log" 2>&1 &
    PPID_=$!
    PIDS+=("$PPID_")
    PORT=""
    for _ in $(seq 400); do
        PORT=$(grep -o '"msg":"listening","port":"[0-9]*"' "$log" | grep -o '[0-9]*' | head -1 || true)
        if [ -n "$PORT" ] && curl -fsS "http://127.0.0.1:$PORT/health" >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.1
    done
    echo "FAIL $name: mcp-proxy did not become healthy in 40 s" >&2
    cat "$log" >&2
    return 1
}

wait_health() { # code seconds
    for _ in $(seq $(($2 * 10))); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/health")" = "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

free_port() { "$VENV/mcp1/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
