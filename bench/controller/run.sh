#!/usr/bin/env bash
# make bench-controller: mcp-controller against ToolHive's operator (the peer,
# github.com/stacklok/toolhive cmd/thv-operator built from its Go module, with
# the CRDs of the same module version) and against the apiserver's raw write
# rate, measured the same way, in the same run (DESIGN.md section 8).
#
# For each size in SIZES (default "100 300 1000") and each operator, on a
# fresh local control plane of the same build (e2e/local/cluster.sh, no node;
# each side its own, the two CRDs clash):
#   - create N MCPServers (each operator's field names for the same server:
#     image docker.io/mcp/fetch, stdio, port 8080, builtin profile network)
#     with 4 parallel `kubectl create`;
#   - time from the first create until every one has its Deployment <name>
#     and its Service mcp-<name>-proxy (two `kubectl get -w -o name` watches);
#   - apiserver writes and reads per MCPServer until the operator settled,
#     from the apiserver's own apiserver_request_total (bench/controller/apicount.py
#     says which requests are left out as someone else's), with the mean
#     request latency the apiserver measured;
#     (window: from the first create until all exist, every MCPServer was
#     reconciled once, and TAIL more seconds);
#   - writes in the TAIL seconds after that (steady state, nothing changes);
#   - a no-op resync: the operator restarted, so that it reconciles every
#     MCPServer again with nothing to change; the writes that causes (until
#     N reconciles + TAIL s);
#   - the operator's peak RSS (VmHWM, first run and restart).
# Then the raw limit: bench/peers/rawwrite creates N small ConfigMaps by
# server-side apply (as DESIGN section 8 words it, and as the controller
# writes) with as many workers (keep-alive connections) as mcp-controller
# has, writes/s; and the same by plain POST, for reference.
# Figures for the largest size go to SUMMARY (key "controller"); a plot of
# the time to all-created vs N for both to PLOT (PNG, when gnuplot is there).
#
# SCALE=1 (make bench-controller-scale) is the scale check instead, ours
# only: for each size in SIZES (default "1000 10000") and each layout in
# LAYOUTS (namespaces: default "1 100", the MCPServers spread evenly, the
# controller watching all namespaces when more than one): time to
# all-created, writes per MCPServer, the no-op resync's writes, peak RSS, and
# the growth of time and memory per MCPServer between the sizes; figures to
# SUMMARY as controller.scale_* keys.
#
# usage: bench/controller/run.sh [BUILD_DIR]
#   env: SIZES, PEER=0 (ours only), WORKERS (default: mcp-controller's), TAIL,
#        SUMMARY, PLOT, CLUSTER_SH, KEEP=1 (leave the clusters up), SCALE=1, LAYOUTS
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$ROOT/build}
SCALE=${SCALE:-0}
if [[ $SCALE == 1 ]]; then
    SIZES=${SIZES:-${N:-1000 10000}}
    PEER=0
else
    SIZES=${SIZES:-${N:-100 300 1000}}
    PEER=${PEER:-1}
fi
LAYOUTS=${LAYOUTS:-1 100}
NSCOUNT=1 # namespaces the MCPServers of the current measurement are spread over
TAIL=${TAIL:-10}
TIMEOUT=${TIMEOUT:-1800} # seconds to all-created before a side is given up (reported, not fatal)
CLUSTER_SH=${CLUSTER_SH:-$ROOT/e2e/local/cluster.sh}
CTL=$BUILD/mcp-controller
SUMMARY=${SUMMARY:-$BUILD/bench/summary.json}
PLOT=${PLOT-$BUILD/bench/controller-time.png}
OUT=$(mktemp -d /tmp/bench-controller.XXXXXX)
NS=bench-ctl
export MCP_CLUSTER_NODE=0 # control plane only: the bench counts objects, it runs no pods
BASE_DIR=${MCP_CLUSTER_DIR_BASE:-/tmp/mcp-operator-bench}
OP_PID=
WATCH_PIDS=()
UP_DIR=

log() { printf '[bench-controller %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }
sum() { python3 "$ROOT/bench/summary.py" "$SUMMARY" controller "$@"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

stop_op() {
    if [[ -n $OP_PID ]]; then
        kill "$OP_PID" 2>/dev/null || true
        wait "$OP_PID" 2>/dev/null || true
        OP_PID=
    fi
}
stop_watches() {
    for p in "${WATCH_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${WATCH_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    WATCH_PIDS=()
}
cluster_down() {
    [[ -n $UP_DIR ]] || return 0
    if [[ ${KEEP:-0} != 1 ]]; then MCP_CLUSTER_DIR=$UP_DIR "$CLUSTER_SH" down >/dev/null 2>&1 || true; fi
    UP_DIR=
}
cleanup() {
    stop_op
    stop_watches
    cluster_down
    [[ ${KEEP:-0} == 1 ]] || rm -rf "$OUT"
    return 0
}
trap cleanup EXIT

cluster_up() { # DIR: a fresh control plane there, its env loaded
    export MCP_CLUSTER_DIR=$1
    local try
    # up to 3 tries: under load cluster.sh can take a process that has not
    # exec'd yet for one that exited (its pid_alive reads /proc/PID/cmdline)
    for try in 1 2 3; do
        "$CLUSTER_SH" down >/dev/null 2>&1 || true
        "$CLUSTER_SH" up >"$OUT/cluster-up.log" 2>&1 && break
        log "cluster up failed (try $try):"
        tail -5 "$OUT/cluster-up.log" >&2
        ((try < 3)) || return 1
    done
    UP_DIR=$1
    eval "$("$CLUSTER_SH" env)"
}

snapshot() { kubectl get --raw /metrics | grep -E '^apiserver_request_(total|duration_seconds_(sum|count))\{' >"$1"; }

ns_of() { # i -> namespace of MCPServer i
    if ((NSCOUNT == 1)); then echo "$NS"; else echo "$NS-$(($1 % NSCOUNT))"; fi
}
manifests() { # side n -> OUT/part{0..3}.yaml (names unique across namespaces)
    local side=$1 n=$2 part i
    for part in 0 1 2 3; do
        for ((i = part; i < n; i += 4)); do
            if [[ $side == ours ]]; then
                printf 'apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata:\n  name: srv-%05d\n  namespace: %s\nspec:\n  image: docker.io/mcp/fetch\n  transport: stdio\n  port: 8080\n  permissionProfile: {type: builtin, name: network}\n---\n' "$i" "$(ns_of "$i")"
            else
                printf 'apiVersion: toolhive.stacklok.dev/v1beta1\nkind: MCPServer\nmetadata:\n  name: srv-%05d\n  namespace: %s\nspec:\n  image: docker.io/mcp/fetch\n  transport: stdio\n  proxyPort: 8080\n  permissionProfile: {type: builtin, name: network}\n---\n' "$i" "$(ns_of "$i")"
            fi
        done >"$OUT/part$part.yaml"
    done
}

# how many srv-* have both their Deployment and their proxy Service (from the watches)
count_done() {
    comm -12 <(sed -n 's|^deployment.apps/\(srv-[0-9]*\)$|\1|p' "$OUT/dep.w" | sort -u) \
        <(sed -n 's|^service/mcp-\(srv-[0-9]*\)-proxy$|\1|p' "$OUT/svc.w" | sort -u) | wc -l
}

# operator-specific: start, reconcile count
start_op() { # side log
    local side=$1
    if [[ $side == ours ]]; then
        OP_PORT=$(free_port)
        local wns=$NS
        ((NSCOUNT == 1)) || wns= # spread: all namespaces
        WATCH_NAMESPACE=$wns "$CTL" --leader-elect=false --workers "$WORKERS" --health-port "$OP_PORT" --log-level warn >"$2" 2>&1 &
        OP_PID=$!
        OP_READY=http://127.0.0.1:$OP_PORT/readyz
    else
        OP_PORT=$(free_port)
        local hp
        hp=$(free_port)
        WATCH_NAMESPACE=$NS POD_NAMESPACE=$NS TOOLHIVE_SKIP_UPDATE_CHECK=true \
            "$THV" --leader-elect=false --metrics-bind-address "127.0.0.1:$OP_PORT" \
            --health-probe-bind-address "127.0.0.1:$hp" >"$2" 2>&1 &
        OP_PID=$!
        OP_READY=http://127.0.0.1:$hp/readyz
    fi
    # ready once its initial lists are done: at 10,000 MCPServers (90,000 objects) on a busy
    # apiserver that takes longer than the 30 s that is plenty at 1,000
    local t0=$SECONDS limit=$((30 + ${3:-0} / 50))
    while ((SECONDS - t0 < limit)); do
        if curl -sf "$OP_READY" >/dev/null 2>&1; then
            echo "$((SECONDS - t0))" >"$2.ready_s"
            return 0
        fi
        kill -0 "$OP_PID" 2>/dev/null || { tail -20 "$2" >&2; return 1; }
        sleep 0.1
    done
    log "$side operator not ready within $limit s"; tail -20 "$2" >&2
    return 1
}
reconciles() { # side -> reconciles done so far (the operator's own metric)
    if [[ $1 == ours ]]; then
        curl -s "http://127.0.0.1:$OP_PORT/metrics" | awk 'index($1, "mcp_controller_reconciles_total") == 1 {s += $2} END {print s + 0}'
    else
        curl -s "http://127.0.0.1:$OP_PORT/metrics" |
            awk 'index($1, "controller_runtime_reconcile_total{controller=\"mcpserver\"") == 1 {s += $2} END {print s + 0}'
    fi
}
# settle SIDE N: wait until the operator has done N reconciles (its own
# metric: every MCPServer at least once, for the peer requeues count too),
# then TAIL (10) s more; at most 600 s. The same for both operators: ToolHive's
# keeps requeueing MCPServers whose proxy runner has not made the StatefulSet
# (no node here), so "until it stops writing" would never come.
settle() {
    local side=$1 want=$2 t0=$SECONDS limit=$((600 + $2 / 10))
    while (($(reconciles "$side") < want)); do
        ((SECONDS - t0 > limit)) && { log "$side: fewer than $want reconciles after $limit s"; break; }
        sleep 0.5
    done
    sleep "$TAIL"
}
# quiesce: wait until the fresh control plane's own controllers stopped
# writing (3 s without a write, at most QUIESCE (30) s), so their start-up is not counted
quiesce() {
    local last=-1 same=0 w t0=$SECONDS
    while ((SECONDS - t0 < ${QUIESCE:-30})); do
        w=$(kubectl get --raw /metrics | awk '/^apiserver_request_total\{/ && /verb="(POST|PUT|PATCH|DELETE|APPLY)"/ && !/resource="leases"/ {s += $NF} END {print s + 0}')
        if [[ $w == "$last" ]]; then ((++same >= 3)) && return 0; else same=0; fi
        last=$w
        sleep 1
    done
}
hwm_mib() { awk '/^VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

# measure SIDE N [TAG] -> OUT/result-SIDE-N[TAG] (key=value lines)
measure() {
    local side=$1 n=$2 r=$OUT/result-$1-$2${3:-} t0 t1 d rss1 rss2 line i load=()
    log "$side, N=$n: fresh control plane"
    cluster_up "$BASE_DIR-$side"
    if [[ $side == ours ]]; then
        kubectl apply -f "$ROOT/config/crd/bases/toolhive.stacklok.dev_mcpservers.yaml" >/dev/null
    else
        kubectl apply --server-side -f "$THV_CRDS" >/dev/null
    fi
    kubectl wait --for condition=established crd --all --timeout=60s >/dev/null
    local where=(-n "$NS")
    if ((NSCOUNT == 1)); then
        kubectl create namespace "$NS" >/dev/null
    else
        for ((i = 0; i < NSCOUNT; i++)); do echo "apiVersion: v1
kind: Namespace
metadata: {name: $NS-$i}
---"; done | kubectl create -f - >/dev/null
        where=(-A)
    fi
    quiesce
    manifests "$side" "$n"
    kubectl get deployments "${where[@]}" -o name --watch >"$OUT/dep.w" 2>/dev/null &
    WATCH_PIDS+=($!)
    kubectl get services "${where[@]}" -o name --watch >"$OUT/svc.w" 2>/dev/null &
    WATCH_PIDS+=($!)
    start_op "$side" "$OUT/$side-$n.log" "$n"
    sleep 2 # informers synced, watches open
    snapshot "$OUT/m0"
    t0=$(now)
    local cpids=()
    for part in 0 1 2 3; do
        [[ -s $OUT/part$part.yaml ]] || continue # N < 4
        kubectl create -f "$OUT/part$part.yaml" >/dev/null &
        cpids+=($!)
    done
    while :; do
        load+=("$(cut -d' ' -f1 /proc/loadavg)")
        d=$(count_done)
        ((d >= n)) && break
        if (($(echo "$(now) - $t0 > $TIMEOUT" | bc))); then
            log "$side: timeout, $d of $n done after $TIMEOUT s"
            echo "timeout_done=$d" >"$r.timeout"
            break
        fi
        sleep 0.25
    done
    t1=$(now)
    wait "${cpids[@]}" || { log "$side: kubectl create failed"; return 1; }
    snapshot "$OUT/m1"
    settle "$side" "$n"
    snapshot "$OUT/m2"
    sleep "$TAIL"
    snapshot "$OUT/m2b"
    rss1=$(hwm_mib "$OP_PID")
    local own_gets=
    # our own GETs by our own count (list pages included): the apiserver's
    # GET mcpservers are the controller-manager's garbage collector looking up owners
    [[ $side == ours ]] && own_gets=$(curl -s "http://127.0.0.1:$OP_PORT/metrics" |
        awk 'index($1, "mcp_controller_apiserver_requests_total{verb=\"GET\"") == 1 {s += $2} END {print s + 0}')
    stop_op
    # no-op resync: a restarted operator reconciles every MCPServer again
    snapshot "$OUT/m3"
    start_op "$side" "$OUT/$side-$n-restart.log" "$n"
    settle "$side" "$n"
    snapshot "$OUT/m4"
    rss2=$(hwm_mib "$OP_PID")
    stop_op
    stop_watches
    if [[ $side == ours && $n == "$largest" && $SCALE != 1 ]]; then
        log "raw write limit: $n ConfigMaps, $WORKERS workers, same control plane"
        kubectl create namespace bench-raw >/dev/null
        for mode in apply post; do
            "$RAW" -server "$MCP_CLUSTER_API_URL" -ca "$MCP_CLUSTER_CA" -cert "$MCP_CLUSTER_ADMIN_CERT" \
                -key "$MCP_CLUSTER_ADMIN_KEY" -namespace bench-raw -n "$n" -workers "$WORKERS" \
                -mode "$mode" -prefix "$mode" >"$OUT/raw-$mode"
        done
    fi
    {
        echo "seconds=$(echo "$t1 - $t0" | bc)"
        line=$(python3 "$ROOT/bench/controller/apicount.py" "$OUT/m0" "$OUT/m1")
        echo "window_writes=$(sed 's/^writes=\([0-9]*\) .*/\1/' <<<"$line")"
        python3 "$ROOT/bench/controller/apicount.py" "$OUT/m0" "$OUT/m2" | head -1 | tr ' ' '\n'
        echo "noop_writes=$(python3 "$ROOT/bench/controller/apicount.py" "$OUT/m3" "$OUT/m4" | sed 's/^writes=\([0-9]*\) .*/\1/')"
        echo "noop_reads=$(python3 "$ROOT/bench/controller/apicount.py" "$OUT/m3" "$OUT/m4" | sed 's/.* reads=\([0-9]*\) .*/\1/')"
        echo "steady_writes=$(python3 "$ROOT/bench/controller/apicount.py" "$OUT/m2" "$OUT/m2b" | sed 's/^writes=\([0-9]*\) .*/\1/')"
        echo "rss=$(awk -v a="$rss1" -v b="$rss2" 'BEGIN{print (a > b) ? a : b}')"
        echo "own_gets=$own_gets"
        echo "restart_ready_s=$(cat "$OUT/$side-$n-restart.log.ready_s" 2>/dev/null)"
        echo "load=$(printf '%s\n' "${load[@]}" | sort -g | awk '{a[NR] = $1} END {printf "%s-%s", a[1], a[NR]}')"
        [[ -f $r.timeout ]] && cat "$r.timeout"
    } >"$r"
    python3 "$ROOT/bench/controller/apicount.py" "$OUT/m0" "$OUT/m2" "$n" | tail -n +2 >"$r.by"
    python3 "$ROOT/bench/controller/apicount.py" "$OUT/m3" "$OUT/m4" "$n" | tail -n +2 >"$r.noop"
    cluster_down
}
get() { sed -n "s/^$2=//p" "$OUT/result-$1"; }

report() { # side n [tag]
    local k=$1-$2${3:-}
    [[ -n $(get "$k" timeout_done) ]] && echo "   $1 N=$2: TIMEOUT: $(get "$k" timeout_done) of $2 done after $TIMEOUT s"
    printf '   %-5s N=%-5d all created %7.1f s  writes/MCPServer %5.2f  reads/MCPServer %5.2f  (mean request %s ms write, %s ms read)\n' \
        "$1" "$2" "$(get "$k" seconds)" "$(echo "$(get "$k" writes) / $2" | bc -l)" "$(echo "$(get "$k" reads) / $2" | bc -l)" \
        "$(get "$k" write_ms)" "$(get "$k" read_ms)"
    printf '         events %d; then %d writes in %d s of steady state; no-op resync (restart, ready after %s s): %d writes, %d reads; peak RSS %s MiB; load average %s\n' \
        "$(get "$k" events)" "$(get "$k" steady_writes)" "$TAIL" "$(get "$k" restart_ready_s)" "$(get "$k" noop_writes)" "$(get "$k" noop_reads)" "$(get "$k" rss)" "$(get "$k" load)"
    [[ -n $(get "$k" own_gets) ]] && echo "         GETs by the controller's own count (initial lists included): $(get "$k" own_gets)"
    echo "         requests per MCPServer by verb and resource (first reconcile):"
    cat "$OUT/result-$k.by"
    echo "         no-op resync (restart), per MCPServer:"
    cat "$OUT/result-$k.noop"
}

[[ -x $CTL ]] || { echo "missing $CTL (run make)" >&2; exit 1; }
WORKERS=${WORKERS:-$("$CTL" --help 2>&1 | sed -n 's/.*--workers N.*default \([0-9]*\).*/\1/p')}
WORKERS=${WORKERS:-2}
if [[ $PEER == 1 ]]; then
    THV=$("$ROOT/bench/peers/build.sh" thv-operator)
    THV_CRDS=$("$ROOT/bench/peers/build.sh" thv-crds)
    THV_VERSION=$(basename "$(dirname "$(dirname "$THV")")")
fi
RAW=$("$ROOT/bench/peers/build.sh" rawwrite)
read -ra sizes <<<"$SIZES"
largest=${sizes[-1]}

if [[ $SCALE == 1 ]]; then
    read -ra layouts <<<"$LAYOUTS"
    echo "== controller scale check: ours = $CTL (--workers $WORKERS), N in $SIZES, namespaces in $LAYOUTS"
    for nsc in "${layouts[@]}"; do
        NSCOUNT=$nsc
        for n in "${sizes[@]}"; do
            measure ours "$n" "-ns$nsc"
            report ours "$n" "-ns$nsc"
        done
    done
    echo
    echo "command: SCALE=1 SIZES=\"$SIZES\" LAYOUTS=\"$LAYOUTS\" bench/controller/run.sh $BUILD"
    printf '%-8s %-11s %10s %12s %12s %10s %12s\n' N namespaces seconds writes/srv noop_writes MiB load
    args=()
    for nsc in "${layouts[@]}"; do
        for n in "${sizes[@]}"; do
            k=ours-$n-ns$nsc
            printf '%-8d %-11d %10.1f %12.2f %12d %10.1f %12s\n' "$n" "$nsc" "$(get "$k" seconds)" \
                "$(echo "$(get "$k" writes) / $n" | bc -l)" "$(get "$k" noop_writes)" "$(get "$k" rss)" "$(get "$k" load)"
            args+=("scale_ns${nsc}_n${n}_seconds=$(get "$k" seconds)" "scale_ns${nsc}_n${n}_rss_mib=$(get "$k" rss)"
                "scale_ns${nsc}_n${n}_noop_resync_writes=$(get "$k" noop_writes)"
                "scale_ns${nsc}_n${n}_restart_ready_s=$(get "$k" restart_ready_s)"
                "scale_ns${nsc}_n${n}_writes_per_server=$(echo "scale=3; $(get "$k" writes) / $n" | bc)")
        done
        if ((${#sizes[@]} > 1)); then # growth per MCPServer between the smallest and the largest
            a=ours-${sizes[0]}-ns$nsc b=ours-$largest-ns$nsc dn=$((largest - sizes[0]))
            ms=$(echo "scale=2; 1000 * ($(get "$b" seconds) - $(get "$a" seconds)) / $dn" | bc)
            kib=$(echo "scale=2; 1024 * ($(get "$b" rss) - $(get "$a" rss)) / $dn" | bc)
            echo "   $nsc namespace(s): from ${sizes[0]} to $largest MCPServers, +$ms ms to all-created and +$kib KiB peak RSS per MCPServer"
            args+=("scale_ns${nsc}_ms_per_server=$ms" "scale_ns${nsc}_kib_per_server=$kib")
        fi
    done
    sum "${args[@]}" "scale_workers=$WORKERS"
    exit 0
fi

echo "== controller: ours = $CTL (--workers $WORKERS), peer = ToolHive thv-operator ${THV_VERSION:-(PEER=0: not run)}"
echo "   each on a fresh control plane (e2e/local/cluster.sh, MCP_CLUSTER_NODE=0), N MCPServers by 4 parallel kubectl create"
for n in "${sizes[@]}"; do
    measure ours "$n"
    report ours "$n"
    if [[ $PEER == 1 ]]; then
        measure peer "$n"
        report peer "$n"
        [[ -z $(get "ours-$n" timeout_done)$(get "peer-$n" timeout_done) ]] &&
            awk -v a="$(get "ours-$n" seconds)" -v b="$(get "peer-$n" seconds)" -v n="$n" \
            'BEGIN{printf "   N=%d: ours %.2fx faster to all-created (target >= 4)\n", n, b / a}'
    fi
done

per_s() { sed -n 's/.* per_s=\([0-9]*\).*/\1/p' "$OUT/raw-$1"; }
raw_rate=$(per_s apply) raw_post_rate=$(per_s post)
echo "== raw limit: bench/peers/rawwrite -n $largest -workers $WORKERS -mode apply|post (small ConfigMaps, keep-alive HTTP/1.1)"
sed 's/^/   /' "$OUT/raw-apply" "$OUT/raw-post"

k=ours-$largest
ours_rate=$(echo "$(get "$k" window_writes) / $(get "$k" seconds)" | bc -l)
printf '   ours: %.0f writes/s while creating %d MCPServers = %.2f of the raw apply limit (target >= 0.50), %.2f of the raw POST rate\n' \
    "$ours_rate" "$largest" "$(echo "$ours_rate / $raw_rate" | bc -l)" "$(echo "$ours_rate / $raw_post_rate" | bc -l)"

echo
echo "command: SIZES=\"$SIZES\" bench/controller/run.sh $BUILD"
printf '%-8s %10s %10s %12s %12s %10s %10s\n' N ours_s peer_s ours_w/srv peer_w/srv ours_MiB peer_MiB
: >"$OUT/plot.dat"
for n in "${sizes[@]}"; do
    ps=NaN pw=NaN pm=NaN
    if [[ $PEER == 1 ]]; then
        ps=$(get "peer-$n" seconds) pw=$(echo "$(get "peer-$n" writes) / $n" | bc -l) pm=$(get "peer-$n" rss)
    fi
    printf '%-8d %10.1f %10.1f %12.2f %12.2f %10.1f %10.1f\n' "$n" "$(get "ours-$n" seconds)" "$ps" \
        "$(echo "$(get "ours-$n" writes) / $n" | bc -l)" "$pw" "$(get "ours-$n" rss)" "$pm"
    echo "$n $(get "ours-$n" seconds) $ps $(get "ours-$n" timeout_done) $( [[ $PEER == 1 ]] && get "peer-$n" timeout_done)" |
        awk '{print $1, $2, $3, ($4 == "" ? "-" : $4), ($5 == "" ? "-" : $5)}' >>"$OUT/plot.dat"
done

sum "n=$largest" "seconds_all_created=$(get "$k" seconds)" \
    "writes_per_server=$(echo "scale=3; $(get "$k" writes) / $largest" | bc)" \
    "reads_per_server=$(echo "scale=3; $(get "$k" reads) / $largest" | bc)" \
    "noop_resync_writes=$(get "$k" noop_writes)" "rss_mib=$(get "$k" rss)" \
    "writes_per_s=$(printf '%.0f' "$ours_rate")" "raw_write_limit_per_s=$raw_rate" "raw_post_limit_per_s=$raw_post_rate" \
    "workers=$WORKERS" "mean_write_ms=$(get "$k" write_ms)" "mean_read_ms=$(get "$k" read_ms)" \
    "steady_writes_per_s=$(echo "scale=2; $(get "$k" steady_writes) / $TAIL" | bc)"
if [[ $PEER == 1 ]]; then
    sum "peer_seconds_all_created=$(get "peer-$largest" seconds)" \
        "peer_writes_per_server=$(echo "scale=3; $(get "peer-$largest" writes) / $largest" | bc)" \
        "peer_reads_per_server=$(echo "scale=3; $(get "peer-$largest" reads) / $largest" | bc)" \
        "peer_noop_resync_writes=$(get "peer-$largest" noop_writes)" "peer_rss_mib=$(get "peer-$largest" rss)" \
        "peer_steady_writes_per_s=$(echo "scale=2; $(get "peer-$largest" steady_writes) / $TAIL" | bc)" \
        "peer_mean_write_ms=$(get "peer-$largest" write_ms)"
else
    why="PEER=0: the ToolHive operator was not run"
    sum "peer_seconds_all_created=null:$why" "peer_writes_per_server=null:$why" "peer_rss_mib=null:$why"
fi

mkdir -p "$BUILD/bench"
cp "$OUT/plot.dat" "$BUILD/bench/controller-time.dat"
# a curve needs two sizes (with one, the x range is empty and Debian's gnuplot 5.4 segfaults);
# a plot that fails costs the plot, not the figures above
if ! command -v gnuplot >/dev/null || [[ -z $PLOT ]]; then
    echo "plot: not drawn (${PLOT:+gnuplot missing}${PLOT:-PLOT empty})"
elif (($(grep -c . "$BUILD/bench/controller-time.dat") < 2)); then
    echo "plot: not drawn (one size; SIZES needs two or more for a curve)"
elif "$ROOT/bench/controller/plot.sh" "$BUILD/bench/controller-time.dat" "$PLOT" "$WORKERS" "${THV_VERSION:-}" "$TIMEOUT"; then
    echo "plot: $PLOT (data: $BUILD/bench/controller-time.dat)"
else
    echo "plot: gnuplot failed; the data is in $BUILD/bench/controller-time.dat" >&2
fi
