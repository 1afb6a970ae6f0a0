#!/usr/bin/env bash
# make bench-proxy-abuse: mcp-proxy's peak RSS against clients that never read (DESIGN §5: one
# memory budget for everything queued, --max-queued-bytes).
#   server: bench/proxy/big_server.py (the Python SDK's FastMCP over stdio, from the
#           test venv that test/proxy/setup_servers.sh installs), behind mcp-proxy --exec
#   load:   bench/proxy/abuse.py: CLIENTS connections each ask for a SIZE-byte answer
#           (tools/call big) and read nothing; then a fresh client calls the same tool
#   figure: the proxy's peak RSS (VmHWM) against its baseline + BUDGET + 4 messages in
#           flight (the line being read, its parse, the bridge's copy, a shed client's answer
#           until h2o closes its socket) + 4 MiB; the run fails above that, or when the
#           fresh client is not served
# usage: abuse.sh BUILD_DIR   (env: CLIENTS=64, SIZE=3500000, BUDGET=67108864 (the
#        default of --max-queued-bytes), HOLD=3, SUMMARY)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CLIENTS=${CLIENTS:-64}
SIZE=${SIZE:-3500000}
BUDGET=${BUDGET:-67108864}
HOLD=${HOLD:-3}
MAX_MSG=$((4 << 20))
SUMMARY=${SUMMARY:-$build/bench/summary.json}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
sum() { python3 "$root/bench/summary.py" "$SUMMARY" proxy "$@"; }

bench_scratch mcp-proxy-abuse
ours=$build/mcp-proxy
if [[ ! -x $ours ]]; then
    why="$ours not built"
    echo "   NOT MEASURED: $why"
    sum "abuse_peak_rss_mib=null:$why" "abuse_limit_mib=null:$why"
    exit 1
fi
"$root/test/proxy/setup_servers.sh" >/dev/null
py=${MCP_CACHE:-$HOME/.cache/mcp-operator}/venv/mcp1/bin/python
port=$(free_port)
"$ours" --port "$port" --bind 127.0.0.1 --max-queued-bytes "$BUDGET" --max-message-bytes "$MAX_MSG" \
    --exec -- "$py" "$here/big_server.py" 2>"$tmp/ours.log" &
pid=$!
pids+=($pid)
wait_http "http://127.0.0.1:$port/health"

echo "== proxy under abuse: $CLIENTS clients that never read a $SIZE-byte answer each"
echo "   ours: mcp-proxy --max-queued-bytes $BUDGET --exec -- python bench/proxy/big_server.py"
r=$(python3 "$here/abuse.py" --url "http://127.0.0.1:$port" --pid "$pid" --tool big \
    --clients "$CLIENTS" --size "$SIZE" --hold "$HOLD")
f() { sed -n "s/.*\"$1\": \([^,}]*\).*/\1/p" <<<"$r"; }
base=$(f baseline_mib) peak=$(f peak_rss_mib)
limit=$(awk -v b="$base" -v q="$BUDGET" -v m="$MAX_MSG" 'BEGIN {printf "%.1f", b + (q + 4 * m) / 1048576 + 4}')
unbounded=$(awk -v b="$base" -v c="$CLIENTS" -v s="$SIZE" 'BEGIN {printf "%.0f", b + c * s / 1048576}')
echo "   peak RSS $peak MiB; limit $limit MiB: baseline $base + budget $((BUDGET >> 20)) + 4 x $((MAX_MSG >> 20)) MiB messages + 4"
echo "   (all answers held would be ~$unbounded MiB); answered $(f answered), shed $(f shed)," \
    "503 $(f refused_503), fresh client $(f fresh_ok) in $(f fresh_ms) ms"
sum "abuse_clients=$CLIENTS" "abuse_budget_mib=$((BUDGET >> 20))" "abuse_baseline_mib=$base" \
    "abuse_peak_rss_mib=$peak" "abuse_limit_mib=$limit" "abuse_shed=$(f shed)"
awk -v p="$peak" -v l="$limit" 'BEGIN {exit !(p <= l)}' || { echo "   FAIL: peak RSS over the limit"; exit 1; }
[[ $(f fresh_ok) == true ]] || { echo "   FAIL: the fresh client was not served"; exit 1; }
