# Sourced by the bench scripts (bash): a free loopback port, and a scratch
# folder $tmp that is removed at exit after every pid in pids[] is killed.
#   bench_scratch NAME   sets tmp=/tmp/NAME-XXXXXX, pids=(), the EXIT trap
# For the proxy benches (bench/proxy/run.sh, bench/proxy/node.sh), with
# SESSIONS, DURATION and ROUNDS set: the MCP load (bench/proxy/mcp.lua), its
# rounds and figures.
BENCH_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bench_cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}

bench_scratch() {
    tmp=$(mktemp -d "/tmp/$1-XXXXXX")
    pids=()
    trap bench_cleanup EXIT
}

# peak RSS (VmHWM) of process PID, MiB
hwm_mib() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# wait_http URL: until URL answers at all (30 s at most)
wait_http() {
    for _ in $(seq 150); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.2
    done
    echo "no answer from $1" >&2
    return 1
}

# wrk_mcp URL [SECONDS]: SESSIONS MCP sessions, one connection each, calling
# TOOL for SECONDS (default DURATION) -> mcp.lua's RESULT line
wrk_mcp() {
    wrk -t"$SESSIONS" -c"$SESSIONS" -d"${2:-$DURATION}s" --latency -s "$BENCH_LIB_DIR/proxy/mcp.lua" "$1" |
        grep '^RESULT'
}
# field NAME < RESULT lines -> its values; median < numbers
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
us_to_ms() { awk -v u="$1" 'BEGIN{print u/1000}'; }

# proxy_rounds SIDE=URL...: a 2 s warm-up of each side, then ROUNDS rounds
# of wrk_mcp with the sides in turn; each RESULT line goes to $tmp/SIDE.r
# and a summary of it to stdout
proxy_rounds() {
    local s r line
    for s in "$@"; do
        wrk_mcp "${s#*=}" 2 >/dev/null || true
        : >"$tmp/${s%%=*}.r"
    done
    for r in $(seq "$ROUNDS"); do
        for s in "$@"; do
            line=$(wrk_mcp "${s#*=}") || line="RESULT rps=0 p50_us=0 p99_us=0 calls_ok=0 calls_failed=0 errors=0 non2xx=0"
            echo "$line" >>"$tmp/${s%%=*}.r"
            printf '   round %d  %-4s %7d calls/s  p50 %7d us  p99 %7d us  ok %d  failed %d  errors %d  non-2xx %d\n' \
                "$r" "${s%%=*}" "$(field rps <<<"$line")" "$(field p50_us <<<"$line")" \
                "$(field p99_us <<<"$line")" "$(field calls_ok <<<"$line")" \
                "$(field calls_failed <<<"$line")" "$(field errors <<<"$line")" "$(field non2xx <<<"$line")"
        done
    done
}
# side_median SIDE NAME -> the median of NAME over SIDE's rounds; side_total SIDE NAME -> the sum
side_median() { field "$2" <"$tmp/$1.r" | median; }
side_total() { field "$2" <"$tmp/$1.r" | awk '{s+=$1} END{print s+0}'; }
