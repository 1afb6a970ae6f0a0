#!/usr/bin/env bash
# make bench-proxy: mcp-proxy --exec against the Python mcp-proxy (PyPI),
# both bridging the same real stdio MCP server (mcp-server-time, PyPI), same
# load, same run (DESIGN.md section 8).
#   load: wrk -tS -cS (S = SESSIONS = 16 MCP sessions, one connection each)
#         over streamable HTTP /mcp: initialize, initialized, then tools/call
#         get_current_time in a loop (bench/proxy/mcp.lua); ours and the peer
#         alternately, ROUNDS times; calls/s (answers with a result and
#         "isError":false only), p50/p99; medians of the rounds.
#   memory: each proxy's own peak RSS (VmHWM), not the MCP server's.
# usage: run.sh BUILD_DIR   (env: SESSIONS, DURATION, ROUNDS, SUMMARY)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
SESSIONS=${SESSIONS:-16}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SUMMARY=${SUMMARY:-$build/bench/summary.json}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
OURS_PORT=$(free_port)
PEER_PORT=$(free_port)
sum() { python3 "$root/bench/summary.py" "$SUMMARY" proxy "$@"; }

bench_scratch mcp-proxy-bench

server=$("$root/bench/peers/build.sh" mcp-server-time)
peer=$("$root/bench/peers/build.sh" mcp-proxy-py)
ours=$build/mcp-proxy
export TOOL=get_current_time ARGS='{"timezone":"UTC"}'

have_ours=1
if [[ ! -x $ours ]]; then
    have_ours=0
    why="$ours not built (mcp-proxy not in this tree yet)"
    echo "   ours: NOT MEASURED: $why"
    sum "calls_per_s=null:$why" "p99_ms=null:$why" "rss_mib=null:$why"
fi

"$peer" --port "$PEER_PORT" --host 127.0.0.1 --log-level WARNING "$server" 2>"$tmp/peer.log" &
peer_pid=$!
pids+=($peer_pid)
wait_http "http://127.0.0.1:$PEER_PORT/mcp"
if ((have_ours)); then
    "$ours" --port "$OURS_PORT" --bind 127.0.0.1 --transport stdio --log-level warn \
        --exec -- "$server" 2>"$tmp/ours.log" &
    ours_pid=$!
    pids+=($ours_pid)
    wait_http "http://127.0.0.1:$OURS_PORT/health"
fi

echo "== proxy: wrk -t$SESSIONS -c$SESSIONS -d${DURATION}s --latency -s bench/proxy/mcp.lua http://127.0.0.1:PORT"
echo "   $SESSIONS MCP sessions (streamable HTTP /mcp), tools/call $TOOL $ARGS; $(nproc) CPUs"
echo "   server: $server (stdio)"
echo "   ours:   mcp-proxy --transport stdio --exec -- mcp-server-time"
echo "   peer:   mcp-proxy (PyPI $(basename "$(dirname "$(dirname "$peer")")")) SERVER  (stdio -> streamable HTTP)"
sides=("peer=http://127.0.0.1:$PEER_PORT")
((have_ours)) && sides+=("ours=http://127.0.0.1:$OURS_PORT")
proxy_rounds "${sides[@]}"

peer_rps=$(side_median peer rps)
peer_p99=$(side_median peer p99_us)
peer_rss=$(hwm_mib "$peer_pid")
failed=$(side_total peer calls_failed)
echo "   peer (Python mcp-proxy): $peer_rps calls/s, p99 $((peer_p99 / 1000)) ms (medians), peak RSS $peer_rss MiB, failed calls $failed"
sum "peer_python_calls_per_s=$peer_rps" "peer_python_p99_ms=$(us_to_ms "$peer_p99")" \
    "peer_python_rss_mib=$peer_rss"
if ((have_ours)); then
    rps=$(side_median ours rps)
    p99=$(side_median ours p99_us)
    rss=$(hwm_mib "$ours_pid")
    failed=$(side_total ours calls_failed)
    echo "   ours (mcp-proxy --exec):  $rps calls/s, p99 $(awk -v u="$p99" 'BEGIN{printf "%.1f", u/1000}') ms (medians), peak RSS $rss MiB, failed calls $failed"
    awk -v a="$rps" -v b="$peer_rps" -v p="$p99" -v q="$peer_p99" -v m="$rss" 'BEGIN {
        printf "   ours/peer throughput %.2fx (target >= 2), p99 ratio %.2f (target <= 0.5), RSS %.1f MiB (target < 8)\n",
            a / b, p / q, m }'
    sum "calls_per_s=$rps" "p99_ms=$(us_to_ms "$p99")" "rss_mib=$rss"
fi
# a side that crashed or answered no call fails the bench (and the smoke run)
rc=0
for side in peer ours; do
    [[ $side == ours && $have_ours == 0 ]] && continue
    pid=$peer_pid
    [[ $side == ours ]] && pid=$ours_pid
    if ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null && st=0 || st=$?
        echo "   $side: the proxy DIED during the run (exit status $st); its log:"
        tail -5 "$tmp/$side.log" | sed 's/^/     /'
        rc=1
    elif [[ $(side_total "$side" calls_ok) == 0 ]]; then
        echo "   $side: no tools/call answered"
        rc=1
    fi
done
if grep -qi 'error\|traceback' "$tmp/peer.log"; then
    echo "   peer log (last lines):"
    tail -3 "$tmp/peer.log" | sed 's/^/     /'
fi
exit $rc
