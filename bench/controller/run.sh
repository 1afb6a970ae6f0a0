#!/usr/bin/env bash
# Controller benchmark against the local control plane (e2e/local):
# create N MCPServers (default 1,000) in a fresh namespace and report
#   - time until every one has its Deployment, its Service and status.url
#   - reconciles/s over that window
#   - apiserver writes (and requests) per MCPServer, from the controller's
#     own metrics (Lease traffic excluded)
#   - writes during a no-op resync (must be 0)
#   - the controller's peak RSS (VmHWM)
# Usage: bench/controller/run.sh [BUILD_DIR]   (env: N, CLUSTER_SH, KEEP=1)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$ROOT/build}
N=${N:-1000}
RESYNC=${RESYNC:-20}
CLUSTER_SH=${CLUSTER_SH:-$ROOT/e2e/local/cluster.sh}
CTL=$BUILD/mcp-controller
OUT=$(mktemp -d /tmp/bench-controller.XXXXXX)
NS=bench-ctl-$$
PORT=$((18000 + RANDOM % 2000))
CTL_PID=
STARTED_CLUSTER=0
# its own control plane unless told otherwise, so a user's `make cluster-up` is left alone
export MCP_CLUSTER_DIR=${MCP_CLUSTER_DIR:-/tmp/mcp-operator-bench}

log() { printf '[bench-controller %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
now() { date +%s.%N; }

cleanup() {
    [[ -n $CTL_PID ]] && kill "$CTL_PID" 2>/dev/null && wait "$CTL_PID" 2>/dev/null || true
    if [[ ${KEEP:-0} != 1 ]]; then
        kubectl delete namespace "$NS" --wait=false >/dev/null 2>&1 || true
        rm -rf "$OUT"
        [[ $STARTED_CLUSTER == 1 ]] && "$CLUSTER_SH" down >/dev/null 2>&1
    fi
    return 0
}
trap cleanup EXIT

metric() { # metric NAME -> value (0 when absent)
    curl -s "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" '$1 == n {print $2; f=1} END {if (!f) print 0}'
}
sum_metric() { # sum of all samples whose name starts with $1
    curl -s "http://127.0.0.1:$PORT/metrics" | awk -v n="$1" 'index($1, n) == 1 {s += $2} END {print s + 0}'
}

[[ -x $CTL ]] || { echo "missing $CTL (run make)" >&2; exit 1; }
if ! "$CLUSTER_SH" status >/dev/null 2>&1; then
    "$CLUSTER_SH" up
    STARTED_CLUSTER=1
fi
eval "$("$CLUSTER_SH" env)"
kubectl apply -f "$ROOT/config/crd/bases/toolhive.stacklok.dev_mcpservers.yaml" >/dev/null
kubectl wait --for condition=established crd/mcpservers.toolhive.stacklok.dev --timeout=60s >/dev/null
kubectl create namespace "$NS" >/dev/null

log "controller: $CTL (WATCH_NAMESPACE=$NS, metrics on :$PORT, resync ${RESYNC}s)"
WATCH_NAMESPACE=$NS "$CTL" --leader-elect=false --health-port "$PORT" --resync-period "$RESYNC" \
    --log-level warn >"$OUT/controller.log" 2>&1 &
CTL_PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
    sleep 0.1
done

log "generating $N MCPServers"
for part in 0 1 2 3; do
    for ((i = part; i < N; i += 4)); do
        printf 'apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata:\n  name: srv-%04d\n  namespace: %s\nspec:\n  image: docker.io/mcp/fetch\n  permissionProfile: {type: builtin, name: network}\n---\n' "$i" "$NS"
    done >"$OUT/part$part.yaml"
done

w0=$(metric mcp_controller_apiserver_writes_total)
r0=$(sum_metric mcp_controller_apiserver_requests_total)
t0=$(now)
log "creating $N MCPServers (4 parallel kubectl)"
for part in 0 1 2 3; do kubectl create -f "$OUT/part$part.yaml" >/dev/null & done
wait %2 %3 %4 %5 2>/dev/null || true
t_created=$(now)

count_ready() {
    local d s u
    d=$(kubectl get deployments -n "$NS" --no-headers 2>/dev/null | wc -l)
    s=$(kubectl get services -n "$NS" --no-headers 2>/dev/null | wc -l)
    u=$(kubectl get mcpservers -n "$NS" -o jsonpath='{range .items[*]}{.status.url}{"\n"}{end}' 2>/dev/null | grep -c . || true)
    echo "$d $s $u"
}
while :; do
    read -r d s u < <(count_ready)
    [[ $d -ge $N && $s -ge $N && $u -ge $N ]] && break
    if (($(echo "$(now) - $t0 > 600" | bc))); then log "timeout: $d deployments, $s services, $u urls"; exit 1; fi
    sleep 0.5
done
t1=$(now)
w1=$(metric mcp_controller_apiserver_writes_total)
r1=$(sum_metric mcp_controller_apiserver_requests_total)
rec=$(sum_metric mcp_controller_reconciles_total)

log "waiting for the queue to drain, then one resync period"
while [[ $(metric mcp_controller_queue_depth) != 0 ]]; do sleep 0.5; done
sleep 3
w2=$(metric mcp_controller_apiserver_writes_total)
rec2=$(sum_metric mcp_controller_reconciles_total)
sleep $((RESYNC + 5))
w3=$(metric mcp_controller_apiserver_writes_total)
rec3=$(sum_metric mcp_controller_reconciles_total)
hwm=$(awk '/VmHWM/ {print $2}' /proc/$CTL_PID/status)
rss=$(awk '/VmRSS/ {print $2}' /proc/$CTL_PID/status)

echo
echo "command: N=$N bench/controller/run.sh $BUILD   (controller: --leader-elect=false --resync-period $RESYNC)"
printf 'MCPServers                      %d\n' "$N"
printf 'kubectl create of all objects   %.1f s\n' "$(echo "$t_created - $t0" | bc)"
printf 'all Deployment+Service+url      %.1f s after the first create\n' "$(echo "$t1 - $t0" | bc)"
printf 'reconciles                      %d (%.0f/s)\n' "$rec" "$(echo "$rec / ($t1 - $t0)" | bc -l)"
printf 'apiserver writes per MCPServer  %.2f (first reconcile; target <= 8)\n' "$(echo "($w1 - $w0) / $N" | bc -l)"
printf 'apiserver requests per MCPServer %.2f (reads + writes)\n' "$(echo "($r1 - $r0) / $N" | bc -l)"
printf 'writes after settling           %d (status/Deployment echoes between t1 and drain)\n' "$((w2 - w1))"
printf 'no-op resync writes             %d over %d reconciles (target 0)\n' "$((w3 - w2))" "$((rec3 - rec2))"
printf 'controller peak RSS (VmHWM)     %.1f MiB (now %.1f MiB; target < 24)\n' "$(echo "$hwm / 1024" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
