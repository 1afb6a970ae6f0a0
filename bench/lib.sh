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
# TOOL for SECONDS (default DURATION) -> mcp.lua's RESULT line; with HIST set,
# the round's latency histogram is appended to that file
wrk_mcp() {
    wrk -t"$SESSIONS" -c"$SESSIONS" -d"${2:-$DURATION}s" --latency -s "$BENCH_LIB_DIR/proxy/mcp.lua" "$1" |
        grep '^RESULT'
}
# field NAME < RESULT lines -> its values; median < numbers
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
us_to_ms() { awk -v u="$1" 'BEGIN{print u/1000}'; }
ms1() { awk -v u="$1" 'BEGIN{printf "%.1f", u/1000}'; }

# proxy_rounds SIDE=URL...: a WARMUP-second warm-up of each side (default 5:
# the MCP server's first calls are slow), then ROUNDS rounds of wrk_mcp with
# the sides in turn; each RESULT line goes to $tmp/SIDE.r, each round's
# histogram is added to $tmp/SIDE.hist, and a summary of the round goes to
# stdout. SIDE=-FUNC runs FUNC for a round instead (it warms up on its own,
# prints a RESULT line and adds to $tmp/SIDE.hist).
proxy_rounds() {
    local s r line
    for s in "$@"; do
        [[ ${s#*=} == -* ]] || HIST= wrk_mcp "${s#*=}" "${WARMUP:-5}" >/dev/null || true
        : >"$tmp/${s%%=*}.r"
        : >"$tmp/${s%%=*}.hist"
    done
    for r in $(seq "$ROUNDS"); do
        for s in "$@"; do
            if [[ ${s#*=} == -* ]]; then # run.sh's own load (its ${s#*=} function)
                line=$("${s#*=-}") || line=
            else
                line=$(HIST=$tmp/${s%%=*}.hist wrk_mcp "${s#*=}") || line=
            fi
            [[ $line == RESULT* ]] || line="RESULT rps=0 p50_us=0 p99_us=0 calls_ok=0 calls_failed=0 errors=0 non2xx=0"
            round_line "$r" "${s%%=*}" "$line"
        done
    done
}
# round_line ROUND SIDE RESULT-LINE: keep it in $tmp/SIDE.r and print it (with
# "wrk": wrk's own p99, after its coordinated-omission correction: see mcp.lua)
round_line() {
    echo "$3" >>"$tmp/$2.r"
    local wrk99=
    [[ $3 == *wrk_p99_us=* ]] && wrk99=", wrk $(ms1 "$(field wrk_p99_us <<<"$3")")"
    printf '   round %d  %-5s %5d calls/s  p50 %5s ms  p99 %5s ms (sessions %s-%s%s)  ok %d  failed %d  errors %d  non-2xx %d\n' \
        "$1" "$2" "$(field rps <<<"$3")" "$(ms1 "$(field p50_us <<<"$3")")" \
        "$(ms1 "$(field p99_us <<<"$3")")" "$(ms1 "$(field sess_p99_min_us <<<"$3")")" \
        "$(ms1 "$(field sess_p99_max_us <<<"$3")")" "$wrk99" "$(field calls_ok <<<"$3")" \
        "$(field calls_failed <<<"$3")" "$(field errors <<<"$3")" "$(field non2xx <<<"$3")"
}
# side_median SIDE NAME -> the median of NAME over SIDE's rounds; side_total SIDE NAME -> the sum;
# side_range SIDE NAME -> "min-max" of NAME over the rounds, in ms
side_median() { field "$2" <"$tmp/$1.r" | median; }
side_total() { field "$2" <"$tmp/$1.r" | awk '{s+=$1} END{print s+0}'; }
side_range() {
    field "$2" <"$tmp/$1.r" | sort -n | awk 'NR==1{a=$1} {b=$1} END{printf "%.1f-%.1f", a/1000, b/1000}'
}
# side_pct SIDE P -> percentile P (us) of every call of every round of SIDE
# (the histograms mcp.lua and stdio-load append: "bucket count", 100 us buckets)
side_pct() {
    sort -n "$tmp/$1.hist" | awk -v p="$2" '{b[NR]=$1; c[NR]=$2; n+=$2}
        END {want=n*p/100; for (i=1; i<=NR; i++) if ((s+=c[i]) >= want) {print (b[i]+1)*100; exit} print 0}'
}
