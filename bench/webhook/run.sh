#!/usr/bin/env bash
# make bench-webhook: mcp-webhook against a bare h2o TLS echo server and the
# peer, a controller-runtime webhook doing the same defaulting and validation
# (bench/peers/webhook-go, built from Go modules into the cache the first
# time), same TLS settings, same load, same run (DESIGN.md section 8).
#   1. throughput: wrk -t1 -c64 keep-alive HTTP/1.1 over TLS, POSTing the
#      seed's github AdmissionReview to both endpoints, for the echo baseline
#      and for the webhook, alternately, ROUNDS times; prints requests/s,
#      p50/p99, errors and the ratio (median of the rounds).
#   2. latency: h2load --h1 at a fixed 2,000 reviews/s (CLIENTS connections x
#      RPS each), p50/p99/p99.9 computed from h2load's per-request log.
#   3. memory: the webhook's and the peer's peak RSS (VmHWM) after all that.
# Figures go to SUMMARY (default BUILD_DIR/bench/summary.json, key "webhook").
# usage: run.sh BUILD_DIR   (expects BUILD_DIR/mcp-webhook and BUILD_DIR/bench/webhook-echo)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
RATE_CLIENTS=${RATE_CLIENTS:-4}
RATE_RPS=${RATE_RPS:-500}
RATE_SECONDS=${RATE_SECONDS:-15}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
WH_PORT=${WH_PORT:-$(free_port)}
ECHO_PORT=${ECHO_PORT:-$(free_port)}
HEALTH_PORT=${HEALTH_PORT:-$(free_port)}
PEER_PORT=${PEER_PORT:-$(free_port)}
SUMMARY=${SUMMARY:-$build/bench/summary.json}
sum() { python3 "$root/bench/summary.py" "$SUMMARY" webhook "$@"; }
peer_bin=$("$root/bench/peers/build.sh" webhook-go)

bench_scratch mcp-wh-bench

"$root/test/webhook/mkcerts.sh" "$tmp" server
python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")), end="")' \
    "$root/test/fixtures/admission/seed-github-validate/review.json" >"$tmp/review.json"
export REVIEW=$tmp/review.json

"$build/bench/webhook-echo" "$tmp/server.crt" "$tmp/server.key" "$ECHO_PORT" &
pids+=($!)
"$build/mcp-webhook" --tls-cert-file="$tmp/server.crt" --tls-key-file="$tmp/server.key" \
    --port="$WH_PORT" --bind-address=127.0.0.1 --health-port="$HEALTH_PORT" \
    --health-bind-address=127.0.0.1 --drain-seconds=0 --log-level=warn 2>"$tmp/webhook.log" &
wh=$!
pids+=($wh)
"$peer_bin" "$tmp/server.crt" "$tmp/server.key" "$PEER_PORT" 2>"$tmp/peer.log" &
peer=$!
pids+=($peer)
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$HEALTH_PORT/readyz" >/dev/null &&
        (exec 3<>"/dev/tcp/127.0.0.1/$ECHO_PORT") 2>/dev/null &&
        (exec 3<>"/dev/tcp/127.0.0.1/$PEER_PORT") 2>/dev/null && break
    sleep 0.1
done

# sanity: both webhooks answer the review with HTTP 200, the same uid and allowed
for port in "$WH_PORT" "$PEER_PORT"; do
    for p in mutate validate; do
        curl -sf --cacert "$tmp/ca.crt" -H 'Content-Type: application/json' --data-binary @"$REVIEW" \
            "https://127.0.0.1:$port/$p-toolhive-stacklok-dev-v1alpha1-mcpserver" >"$tmp/answer"
        grep -q '"uid":"0c5a1d1e-0002-4a6b-9a39-000000000002"' "$tmp/answer"
        grep -q '"allowed":true' "$tmp/answer"
    done
done

wrk_run() { # port -> RESULT line
    wrk -t1 -c64 -d"${DURATION}s" --latency -s "$here/post.lua" "https://127.0.0.1:$1" | grep '^RESULT'
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }

echo "== throughput: wrk -t1 -c64 -d${DURATION}s -s bench/webhook/post.lua https://127.0.0.1:PORT"
echo "   body: $(wc -c <"$REVIEW") bytes (seed github AdmissionReview), both endpoints alternately; $(nproc) CPUs"
echo "   servers: echo = bench/webhook/echo.c ($(nproc) threads), webhook = mcp-webhook (default workers),"
echo "            peer = bench/peers/webhook-go (controller-runtime $(basename "$(dirname "$(dirname "$peer_bin")")"), GOMAXPROCS default)"
for port in "$ECHO_PORT" "$WH_PORT" "$PEER_PORT"; do # warm-up
    wrk -t1 -c64 -d2s -s "$here/post.lua" "https://127.0.0.1:$port" >/dev/null
done
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
row() { # round name line [extra]
    printf '   round %d  %-7s %7d req/s  p50 %5d us  p99 %6d us  errors %d  non-2xx %d%s\n' "$1" "$2" \
        "$(field rps <<<"$3")" "$(field p50_us <<<"$3")" "$(field p99_us <<<"$3")" "$(field errors <<<"$3")" \
        "$(field non2xx <<<"$3")" "${4:-}"
}
ratios=() pratios=() erpss=() wrpss=() prpss=()
for r in $(seq "$ROUNDS"); do
    e=$(wrk_run "$ECHO_PORT")
    w=$(wrk_run "$WH_PORT")
    g=$(wrk_run "$PEER_PORT")
    erps=$(field rps <<<"$e") wrps=$(field rps <<<"$w") prps=$(field rps <<<"$g")
    ratio=$(awk -v a="$wrps" -v b="$erps" 'BEGIN{printf "%.3f", a/b}')
    pratio=$(awk -v a="$wrps" -v b="$prps" 'BEGIN{printf "%.2f", a/b}')
    ratios+=("$ratio") pratios+=("$pratio") erpss+=("$erps") wrpss+=("$wrps") prpss+=("$prps")
    row "$r" echo "$e"
    row "$r" webhook "$w" "  /echo $ratio"
    row "$r" peer "$g" "  webhook/peer $pratio"
done
median=$(printf '%s\n' "${ratios[@]}" | median)
pmedian=$(printf '%s\n' "${pratios[@]}" | median)
echo "   webhook/echo throughput ratio (median of $ROUNDS): $median   (target >= 0.70)"
echo "   webhook/peer throughput ratio (median of $ROUNDS): $pmedian   (target >= 3)"
sum "reviews_per_s=$(printf '%s\n' "${wrpss[@]}" | median)" "echo_reviews_per_s=$(printf '%s\n' "${erpss[@]}" | median)" \
    "peer_reviews_per_s=$(printf '%s\n' "${prpss[@]}" | median)" "ratio_echo=$median" "ratio_peer=$pmedian"

total=$((RATE_CLIENTS * RATE_RPS))
n=$((total * RATE_SECONDS))
rate_run() { # name port -> one summary line from h2load's per-request log
    h2load --h1 -c "$RATE_CLIENTS" --rps "$RATE_RPS" -n "$n" -d "$REVIEW" \
        -H 'content-type: application/json' --log-file="$tmp/h2load-$1.log" \
        "https://127.0.0.1:$2/mutate-toolhive-stacklok-dev-v1alpha1-mcpserver" \
        "https://127.0.0.1:$2/validate-toolhive-stacklok-dev-v1alpha1-mcpserver" >"$tmp/h2load-$1.out"
    awk -F'\t' '{print $3, $2}' "$tmp/h2load-$1.log" | sort -n | awk -v name="$1" -v rate="$total" '
        { lat[NR] = $1; if ($2 != 200) bad++ }
        END {
            printf "   %-8s offered %d/s: %d requests, p50 %d us, p99 %d us, p99.9 %d us, max %d us, non-200 %d\n",
                name, rate, NR, lat[int(NR*0.50)], lat[int(NR*0.99)], lat[int(NR*0.999)], lat[NR], bad + 0
        }'
}
echo "== latency at a fixed rate: h2load --h1 -c $RATE_CLIENTS --rps $RATE_RPS -n $n -d REVIEW" \
     "-H 'content-type: application/json' --log-file=LOG https://127.0.0.1:PORT/{mutate,validate}-..."
echo "   (percentiles from h2load's per-request log; the echo line shows what the machine allows)"
rate_run echo "$ECHO_PORT"
rate_run webhook "$WH_PORT"
rate_run peer "$PEER_PORT"
p99of() { awk -F'\t' '{print $3}' "$tmp/h2load-$1.log" | sort -n | awk '{a[NR]=$1} END{print a[int(NR*0.99)]}'; }
p99=$(p99of webhook) pp99=$(p99of peer)
if [ "$p99" -lt 1000 ]; then echo "   webhook p99 target (< 1 ms) met"; else echo "   webhook p99 target (< 1 ms) MISSED"; fi
awk -v a="$p99" -v b="$pp99" 'BEGIN{printf "   webhook/peer p99 ratio %.2f   (target <= 0.33)\n", a/b}'
sum "p99_ms_at_2000=$(awk -v u="$p99" 'BEGIN{print u/1000}')" "peer_p99_ms_at_2000=$(awk -v u="$pp99" 'BEGIN{print u/1000}')"

hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$wh/status")
phwm=$(awk '/^VmHWM/ {print $2}' "/proc/$peer/status")
echo "== memory: peak RSS (VmHWM): mcp-webhook $(awk -v k="$hwm" 'BEGIN{printf "%.1f", k/1024}') MiB (target < 16 MiB)," \
    "peer $(awk -v k="$phwm" 'BEGIN{printf "%.1f", k/1024}') MiB; ratio $(awk -v a="$hwm" -v b="$phwm" 'BEGIN{printf "%.2f", a/b}') (target <= 0.25)"
sum "rss_mib=$(awk -v k="$hwm" 'BEGIN{printf "%.1f", k/1024}')" "peer_rss_mib=$(awk -v k="$phwm" 'BEGIN{printf "%.1f", k/1024}')"
curl -s "http://127.0.0.1:$HEALTH_PORT/metrics" | grep -E '^mcp_webhook_requests_total\{.*\} [1-9]' | sed 's/^/   /'
