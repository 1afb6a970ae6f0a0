#!/usr/bin/env bash
# make bench-proxy-node: the proxy bench on the local cluster's node (DESIGN.md
# section 8): the same stdio MCP server image (docker.io/mcp/time) twice in
# the cluster, fronted
#   ours: by mcp-proxy in attach mode (image ghcr.io/mcp-operator/mcp-proxy,
#         --namespace NS --pod time-ours-0 --container mcp): the objects
#         mcp-controller makes for such an MCPServer (its Deployment,
#         StatefulSet, ServiceAccounts, RoleBinding, Services), applied as
#         they are rendered (the controller itself is not run);
#   peer: by ToolHive's proxy runner (cmd/thv-proxyrunner v0.47.0, image
#         ghcr.io/stacklok/toolhive/proxyrunner:v0.47.0 built by
#         images/local.sh from bench/peers/build.sh), set up the way ToolHive
#         runs it: ToolHive's operator (same version, on the host like in
#         bench/controller) makes its Deployment, RunConfig ConfigMap, RBAC and
#         Service from an MCPServer; the runner then makes the MCP server's
#         StatefulSet itself and attaches to its stdio. The operator is stopped
#         once the proxy is ready (it would only poll during the load).
# Each proxy is reached the same way, at its Service's ClusterIP (routed to
# the node, kube-proxy), with bench/run.sh's load: wrk + bench/proxy/mcp.lua,
# SESSIONS MCP sessions calling tools/call, the sides in turn, ROUNDS rounds,
# medians; peak RSS is VmHWM of each proxy's own process (found by its
# container's cgroup). Figures: node_* (ours) and peer_thv_* under "proxy" in
# SUMMARY; a side that cannot run leaves its keys null with the reason.
# Without a node (cluster.sh up fails) every key is null and the exit is 0.
#
# usage: bench/proxy/node.sh [BUILD_DIR]
#   env: SESSIONS (16), DURATION (10), ROUNDS (3), SUMMARY, MCP_CLUSTER_DIR
#        (default /tmp/mcp-operator-bench-proxy-node), KEEP=1 (leave it up),
#        PEERS_NO_BUILD=1 (do not compile a missing peer: its keys go null)
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
[[ $build == /* ]] || build=$PWD/$build
SESSIONS=${SESSIONS:-16}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
SUMMARY=${SUMMARY:-$build/bench/summary.json}
export MCP_CLUSTER_DIR=${MCP_CLUSTER_DIR:-/tmp/mcp-operator-bench-proxy-node}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
NS=bench-proxy
OURS_KEYS=(node_calls_per_s node_p50_ms node_p99_ms node_rss_mib)
PEER_KEYS=(peer_thv_calls_per_s peer_thv_p50_ms peer_thv_p99_ms peer_thv_rss_mib)
export TOOL=get_current_time ARGS='{"timezone":"UTC"}'

sum() { python3 "$root/bench/summary.py" "$SUMMARY" proxy "$@"; }
log() { printf '[bench-proxy-node %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
# nulls REASON KEY...: these keys null, with REASON
nulls() {
    local why=$1 k a=()
    shift
    for k in "$@"; do a+=("$k=null:$why"); done
    sum "${a[@]}"
}
k() { "$MCP_KUBECTL" "$@"; }

bench_scratch mcp-proxy-node
up=0
node_cleanup() {
    if ((up)) && [[ ${KEEP:-0} != 1 ]]; then
        "$root/e2e/local/cluster.sh" down >/dev/null 2>&1 || true
    fi
    bench_cleanup
}
trap node_cleanup EXIT

# ---- what each side needs ----------------------------------------------------
have_ours=1 have_peer=1
if [[ ! -x $build/mcp-proxy ]]; then
    have_ours=0
    nulls "$build/mcp-proxy not built" "${OURS_KEYS[@]}"
fi
thv_why=
for p in thv-proxyrunner thv-operator thv-crds; do
    if ! out=$("$root/bench/peers/build.sh" "$p" 2>"$tmp/peer-build.log"); then
        thv_why="ToolHive peer $p not built: $(tail -1 "$tmp/peer-build.log")"
        break
    fi
    case $p in thv-operator) thv_op=$out ;; thv-crds) thv_crds=$out ;; esac
done
if [[ -n $thv_why ]]; then
    have_peer=0
    log "$thv_why"
    nulls "$thv_why" "${PEER_KEYS[@]}"
fi
((have_ours + have_peer)) || exit 0

# ---- the node ------------------------------------------------------------------
log "cluster with its node in $MCP_CLUSTER_DIR"
"$root/e2e/local/cluster.sh" down >/dev/null 2>&1 || true
if ! "$root/e2e/local/cluster.sh" up >"$tmp/cluster-up.log" 2>&1; then
    why="no node: e2e/local/cluster.sh up failed: $(grep -m1 'ERROR' "$tmp/cluster-up.log" || tail -1 "$tmp/cluster-up.log")"
    log "$why"
    nulls "$why" "${OURS_KEYS[@]}" "${PEER_KEYS[@]}"
    "$root/e2e/local/cluster.sh" down >/dev/null 2>&1 || true
    exit 0
fi
up=1
eval "$("$root/e2e/local/cluster.sh" env)"
images=(time)
((have_ours)) && images+=(proxy)
((have_peer)) && images+=(thv-proxyrunner)
log "images: ${images[*]} (images/local.sh, cached after the first time)"
BUILD=$build "$root/images/local.sh" build "${images[@]}" >"$tmp/images.log" 2>&1 ||
    { tail -5 "$tmp/images.log" >&2; exit 1; }
k create namespace "$NS" >/dev/null

# ---- ours: what mcp-controller makes for an MCPServer "time-ours" (stdio) ------
# The objects of test/fixtures/controller/desired/transport-stdio-minimal (the
# MCPServer {image: docker.io/mcp/time}; test_desired checks they are exactly
# what the controller renders) renamed, without the owner reference (no
# MCPServer here), and the chart's ClusterRole that their RoleBinding names.
ours_manifests() {
    "$MCP_HELM" template mcp-operator "$root/charts/mcp-operator" -s templates/proxy-rbac.yaml
    echo ---
    python3 - "$root/test/fixtures/controller/desired/transport-stdio-minimal/desired.json" "$NS" <<'PY'
import json, sys
objs = json.load(open(sys.argv[1]))["objects"]
for o in objs:
    o["metadata"].pop("ownerReferences", None)
text = json.dumps({"apiVersion": "v1", "kind": "List", "items": objs})
text = text.replace('"namespace": "default"', '"namespace": "%s"' % sys.argv[2])
text = text.replace("--namespace=default", "--namespace=" + sys.argv[2])
print(text.replace("minimal", "time-ours"))
PY
}

# ---- peer: ToolHive's operator makes the proxy runner from this MCPServer ------
# (its RunConfig lists the middlewares: bodylimit, auth (anonymous), mcp-parser,
# recovery; no usage metrics, so the runner sends nothing off the machine)
thv_mcpserver() {
    cat <<EOF
apiVersion: toolhive.stacklok.dev/v1beta1
kind: MCPServer
metadata: {name: time-thv, namespace: $NS}
spec:
  image: docker.io/mcp/time:latest
  transport: stdio
  proxyPort: 8080
EOF
}

op_pid=
stop_op() {
    [[ -n $op_pid ]] || return 0
    kill "$op_pid" 2>/dev/null || true
    wait "$op_pid" 2>/dev/null || true
    op_pid=
}
start_peer() {
    local v
    v=$(basename "$(dirname "$(dirname "$(PEERS_NO_BUILD=1 "$root/bench/peers/build.sh" thv-proxyrunner)")")")
    k apply --server-side -f "$thv_crds" >/dev/null &&
        k wait --for condition=established crd --all --timeout=60s >/dev/null || return 1
    WATCH_NAMESPACE=$NS POD_NAMESPACE=$NS TOOLHIVE_SKIP_UPDATE_CHECK=true \
        TOOLHIVE_RUNNER_IMAGE=ghcr.io/stacklok/toolhive/proxyrunner:$v \
        "$thv_op" --leader-elect=false --metrics-bind-address 0 \
        --health-probe-bind-address "127.0.0.1:$(free_port)" >"$tmp/thv-operator.log" 2>&1 &
    op_pid=$!
    pids+=($op_pid)
    thv_mcpserver | k apply -f - >/dev/null
}

# ready KIND/NAME...: once each exists (made by an operator or the runner), rolled out (180 s)
ready() {
    local o
    for o in "$@"; do
        for _ in $(seq 120); do
            k -n "$NS" get "$o" >/dev/null 2>&1 && break
            sleep 1
        done
        k -n "$NS" rollout status "$o" --timeout=180s >>"$tmp/${o#*/}.rollout" 2>&1 || return 1
    done
}
# pod_of DEPLOYMENT -> the name of its (one) running pod
pod_of() {
    k -n "$NS" get pods -o json | python3 -c '
import json, sys
d = sys.argv[1]
for p in json.load(sys.stdin)["items"]:
    refs = p["metadata"].get("ownerReferences", [])
    if any(r["kind"] == "ReplicaSet" and r["name"].rsplit("-", 1)[0] == d for r in refs) \
            and p["status"].get("phase") == "Running":
        print(p["metadata"]["name"]); break' "$1"
}
# proxy_pid POD -> the host pid of POD's first container's process, by the
# container id in its cgroup
proxy_pid() {
    local id p
    id=$(k -n "$NS" get pod "$1" -o jsonpath='{.status.containerStatuses[0].containerID}')
    id=${id#*://}
    [[ -n $id ]] || return 1
    for p in $(grep -l "$id" /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3 | sort -n); do
        [[ $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null) == *proxy* ]] && { echo "$p"; return 0; }
    done
    return 1
}
restarts() { k -n "$NS" get pod "$1" -o jsonpath='{.status.containerStatuses[0].restartCount}'; }
# why_not NAME: a line saying why deployment NAME's proxy is not there
why_not() {
    tail -1 "$tmp/$1.rollout" 2>/dev/null
    k -n "$NS" get pods -o wide 2>&1 | sed 's/^/     /' >&2
}
# side_up SIDE NAME LABEL KEYS KIND/NAME...: once the objects are rolled out, deployment NAME's
# pod runs and its proxy answers /health at the ClusterIP of Service mcp-NAME-proxy, that proxy
# is SIDE of the run (in sides, side_pod and side_pid); if not, it says why (LABEL did not
# become ready), the keys in the array named KEYS go null, and it returns 1
declare -A side_pod side_pid
side_up() {
    local side=$1 name=$2 label=$3 pod ip why
    local -n keys=$4
    shift 4
    if ready "$@" && pod=$(pod_of "$name") && [[ -n $pod ]] &&
        ip=$(k -n "$NS" get svc "mcp-$name-proxy" -o jsonpath='{.spec.clusterIP}') &&
        wait_http "http://$ip:8080/health"; then
        side_pod[$side]=$pod
        side_pid[$side]=$(proxy_pid "$pod") || side_pid[$side]=
        sides+=("$side=http://$ip:8080")
        return 0
    fi
    why="$label did not become ready: $(why_not "$name")"
    log "$why"
    k -n "$NS" logs "deployment/$name" --tail=20 >&2 2>&1 || true
    nulls "$why" "${keys[@]}"
    return 1
}

if ((have_ours)); then
    ours_manifests | k apply -f - >/dev/null
fi
if ((have_peer)) && ! start_peer; then
    have_peer=0
    nulls "ToolHive's CRDs or operator did not start: $(tail -1 "$tmp/thv-operator.log" 2>/dev/null)" "${PEER_KEYS[@]}"
fi

sides=()
if ((have_peer)); then
    if ! side_up thv time-thv thv-proxyrunner PEER_KEYS deployment/time-thv statefulset/time-thv; then
        have_peer=0
        tail -5 "$tmp/thv-operator.log" >&2 || true
    fi
    stop_op
fi
if ((have_ours)) && ! side_up ours time-ours "mcp-proxy (attach)" OURS_KEYS deployment/time-ours; then
    have_ours=0
fi
((${#sides[@]})) || exit 1

echo "== proxy on the node: wrk -t$SESSIONS -c$SESSIONS -d${DURATION}s --latency -s bench/proxy/mcp.lua http://CLUSTER-IP:8080"
echo "   $SESSIONS MCP sessions (streamable HTTP /mcp), tools/call $TOOL $ARGS; $(nproc) CPUs; $(uptime | sed 's/.*load/load/')"
echo "   server: docker.io/mcp/time (stdio) in a StatefulSet, one per proxy"
((have_ours)) && echo "   ours:   mcp-proxy --transport stdio --namespace $NS --pod time-ours-0 --container mcp (pod ${side_pod[ours]})"
((have_peer)) && echo "   peer:   thv-proxyrunner run docker.io/mcp/time:latest (pod ${side_pod[thv]}, made by thv-operator)"
proxy_rounds "${sides[@]}"
echo "   after the run: $(uptime | sed 's/.*load/load/')"

rc=0
# report SIDE LABEL PID POD KEY...: medians and RSS into the summary
report() {
    local side=$1 label=$2 pid=$3 pod=$4 rps p50 p99 rss n
    shift 4
    rps=$(side_median "$side" rps)
    p50=$(side_median "$side" p50_us)
    p99=$(side_median "$side" p99_us)
    rss=null:"its process was not found on the host (pod $pod)"
    [[ -n $pid && -r /proc/$pid/status ]] && rss=$(hwm_mib "$pid")
    n=$(restarts "$pod")
    printf '   %-26s %s calls/s, p50 %s ms, p99 %s ms (medians), peak RSS %s MiB, failed calls %s, restarts %s\n' \
        "$label:" "$rps" "$(us_to_ms "$p50")" "$(us_to_ms "$p99")" "${rss%%:*}" \
        "$(side_total "$side" calls_failed)" "$n"
    if [[ $(side_total "$side" calls_ok) == 0 || $n != 0 ]]; then
        echo "   $side: no tools/call answered or the proxy restarted"
        nulls "$label answered no tools/call or restarted during the run" "$@"
        rc=1
        return 0
    fi
    sum "$1=$rps" "$2=$(us_to_ms "$p50")" "$3=$(us_to_ms "$p99")" "$4=$rss"
}
((have_peer)) && report thv "thv-proxyrunner v0.47.0" "${side_pid[thv]}" "${side_pod[thv]}" "${PEER_KEYS[@]}"
((have_ours)) && report ours "mcp-proxy (attach)" "${side_pid[ours]}" "${side_pod[ours]}" "${OURS_KEYS[@]}"
if ((have_ours && have_peer)); then
    awk -v a="$(side_median ours rps)" -v b="$(side_median thv rps)" -v p="$(side_median ours p99_us)" \
        -v q="$(side_median thv p99_us)" 'BEGIN {
        printf "   ours/thv-proxyrunner: throughput %.2fx, p99 ratio %.2f\n", a / b, p / q }'
fi
exit $rc
