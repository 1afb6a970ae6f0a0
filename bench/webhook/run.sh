#!/usr/bin/env bash
# make bench-webhook: mcp-webhook against a bare h2o TLS echo server, same
# load, same run (DESIGN.md section 7).
#   1. throughput: wrk -t1 -c64 keep-alive HTTP/1.1 over TLS, POSTing the
#      seed's github AdmissionReview to both endpoints, for the echo baseline
#      and for the webhook, alternately, ROUNDS times; prints requests/s,
#      p50/p99, errors and the ratio (median of the rounds).
#   2. latency: h2load --h1 at a fixed 2,000 reviews/s (CLIENTS connections x
#      RPS each), p50/p99/p99.9 computed from h2load's per-request log.
#   3. memory: the webhook's peak RSS (VmHWM) after both.
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
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
WH_PORT=${WH_PORT:-$(free_port)}
ECHO_PORT=${ECHO_PORT:-$(free_port)}
HEALTH_PORT=${HEALTH_PORT:-$(free_port)}

tmp=$(mktemp -d /tmp/mcp-wh-bench-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT

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
for _ in $(seq 50); do
    curl -sf "http://127.0.0.1:$HEALTH_PORT/readyz" >/dev/null &&
        (exec 3<>"/dev/tcp/127.0.0.1/$ECHO_PORT") 2>/dev/null && break
    sleep 0.1
done

# sanity: both endpoints answer the review with HTTP 200 and the same uid
for p in mutate validate; do
    curl -sf --cacert "$tmp/ca.crt" -H 'Content-Type: application/json' --data-binary @"$REVIEW" \
        "https://127.0.0.1:$WH_PORT/$p-toolhive-stacklok-dev-v1alpha1-mcpserver" | grep -q '"uid"'
done

wrk_run() { # port -> RESULT line
    wrk -t1 -c64 -d"${DURATION}s" --latency -s "$here/post.lua" "https://127.0.0.1:$1" | grep '^RESULT'
}
field() { sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }

echo "== throughput: wrk -t1 -c64 -d${DURATION}s -s bench/webhook/post.lua https://127.0.0.1:PORT"
echo "   body: $(wc -c <"$REVIEW") bytes (seed github AdmissionReview), both endpoints alternately; $(nproc) CPUs"
echo "   servers: echo = bench/webhook/echo.c ($(nproc) threads), webhook = mcp-webhook (default workers)"
wrk -t1 -c64 -d2s -s "$here/post.lua" "https://127.0.0.1:$ECHO_PORT" >/dev/null # warm-up
wrk -t1 -c64 -d2s -s "$here/post.lua" "https://127.0.0.1:$WH_PORT" >/dev/null
ratios=()
for r in $(seq "$ROUNDS"); do
    e=$(wrk_run "$ECHO_PORT")
    w=$(wrk_run "$WH_PORT")
    erps=$(field rps <<<"$e") wrps=$(field rps <<<"$w")
    ratio=$(awk -v a="$wrps" -v b="$erps" 'BEGIN{printf "%.3f", a/b}')
    ratios+=("$ratio")
    printf '   round %d  echo    %7d req/s  p50 %5d us  p99 %6d us  errors %d  non-2xx %d\n' "$r" \
        "$erps" "$(field p50_us <<<"$e")" "$(field p99_us <<<"$e")" "$(field errors <<<"$e")" "$(field non2xx <<<"$e")"
    printf '   round %d  webhook %7d req/s  p50 %5d us  p99 %6d us  errors %d  non-2xx %d  ratio %s\n' "$r" \
        "$wrps" "$(field p50_us <<<"$w")" "$(field p99_us <<<"$w")" "$(field errors <<<"$w")" "$(field non2xx <<<"$w")" "$ratio"
done
median=$(printf '%s\n' "${ratios[@]}" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}')
echo "   webhook/echo throughput ratio (median of $ROUNDS): $median   (target >= 0.70)"

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
p99=$(awk -F'\t' '{print $3}' "$tmp/h2load-webhook.log" | sort -n | awk '{a[NR]=$1} END{print a[int(NR*0.99)]}')
if [ "$p99" -lt 1000 ]; then echo "   webhook p99 target (< 1 ms) met"; else echo "   webhook p99 target (< 1 ms) MISSED"; fi

hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$wh/status")
echo "== memory: mcp-webhook peak RSS (VmHWM) $((hwm / 1024)) MiB ($hwm kB)   (target < 16 MiB)"
curl -s "http://127.0.0.1:$HEALTH_PORT/metrics" | grep -E '^mcp_webhook_requests_total\{.*\} [1-9]' | sed 's/^/   /'
