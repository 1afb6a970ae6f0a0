#!/usr/bin/env bash
# What a hostile or unlucky object or a frozen process can do to the
# controller (issue 11), on the real control plane: MCPServers nested 1,800
# levels deep or holding U+0000, stored while the webhook was down, are
# marked Failed (or run) while the others keep being reconciled; a leader
# frozen with SIGSTOP mid-work writes nothing once it wakes after another
# took over; WATCH_NAMESPACE with 40 namespaces runs (it used to exit 1).
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
source "$ROOT/e2e/lib/operator.sh"
source "$ROOT/e2e/lib/mcpserver.sh"
NS=hard
LEASE="-n mcp-system lease mcp-controller-leader"

phase_is() { [ "$(field "$1" '{.status.phase}')" = "$2" ]; }

# An MCPServer whose podTemplateSpec holds `x` (JSON text).
poisoned() { # NAME X-JSON
    printf '{"apiVersion":"toolhive.stacklok.dev/v1alpha1","kind":"MCPServer","metadata":{"name":"%s","namespace":"%s"},"spec":{"image":"docker.io/mcp/time","permissionProfile":{"type":"builtin","name":"none"},"podTemplateSpec":{"metadata":{"annotations":{"note":"a\\u0000b"}},"x":%s}}}' \
        "$1" "$NS" "$2"
}

poisoned_objects() {
    local deep40 deep1800 msg
    deep40=$(printf '[%.0s' $(seq 40))1$(printf ']%.0s' $(seq 40))
    deep1800=$(printf '[%.0s' $(seq 1800))1$(printf ']%.0s' $(seq 1800))
    # stored while the webhook was down (failurePolicy Ignore)
    op_upgrade --set webhook.failurePolicy=Ignore || { t_fail "upgrade"; return 1; }
    op_stop_webhook
    poisoned deep "$deep1800" >"$E2E_WORK/deep.json"
    t_check "create 1,800 levels" kubectl create -f "$E2E_WORK/deep.json"
    poisoned deep40 "$deep40" | kubectl create -f - >/dev/null || t_fail "create 40 levels"
    # a valid pod template whose annotation holds U+0000: runs like any other
    poisoned nul '""' | sed 's/,"x":""//' | kubectl create -f - >/dev/null || t_fail "create U+0000"
    op_start_webhook
    op_upgrade --set webhook.failurePolicy=Fail || { t_fail "upgrade back"; return 1; }
    t_eventually 60 phase_is deep Failed || return 1
    msg=$(field deep '{.status.message}')
    [ "$msg" = 'MCPServer "deep" is invalid: spec: Invalid value: "object": nested more than 64 levels deep' ] ||
        t_fail "deep: message: $msg"
    t_eventually 30 phase_is deep40 Failed || return 1
    msg=$(field deep40 '{.status.message}')
    grep -qF 'spec.podTemplateSpec: Invalid value: "object": must be nested at most 32 levels deep' <<<"$msg" ||
        t_fail "deep40: message: $msg"
    kubectl -n $NS get deployment deep >/dev/null 2>&1 && t_fail "created a Deployment for deep"
    t_eventually 60 reconciled nul || return 1
    # the controller is alive and everyone else still gets reconciled
    _op_alive controller || t_fail "the controller died"
    t_check "apply a good one" mk after-poison || return 1
    t_eventually 60 reconciled after-poison || return 1
    # a restart lists them all again: still fine
    op_stop_controller && op_start_controller || { t_fail "restart"; return 1; }
    t_check "apply after restart" mk after-restart || return 1
    t_eventually 60 reconciled after-restart || return 1
    phase_is deep Failed || t_fail "deep is not Failed after the restart"
    kubectl -n $NS delete mcpserver deep deep40 nul after-poison after-restart --wait=false >/dev/null 2>&1
    return 0
}

# Start another controller like the first (same flags, its own health port).
other_controller() { # LOG [ENV=VALUE...]
    local log=$1 line words=() port
    shift
    line=$(grep -m1 '^# env WATCH_NAMESPACE=' "$E2E_WORK/op/controller.log") || return 1
    read -r -a words <<<"${line#\# }"
    port=$((31000 + RANDOM % 1000))
    words=("${words[@]/--health-port=*/--health-port=$port}")
    words=("${words[@]/POD_NAME=*/POD_NAME=other-$$-$RANDOM}")
    for kv in "$@"; do words=("${words[@]/${kv%%=*}=*/$kv}"); done
    setsid "${words[@]}" </dev/null >"$log" 2>&1 &
    OTHER=$!
    OTHER_PORT=$port
    echo $OTHER >>"$E2E_WORK/pids"
}

# Writes other than Lease traffic in controller log $1 from line $2 on that
# were sent at or after epoch second $3 (a write is logged when it returns,
# "ms" later: one sent before a freeze may be logged after it).
writes_after() {
    tail -n +"$2" "$1" | grep '"msg":"write"' | grep -v '/leases/' |
        jq -c --argjson t "$3" 'select(((.ts[0:19] + "Z" | fromdate) + (.ts[20:23] | tonumber) / 1000
            - (.ms | tonumber) / 1000) >= $t)'
}

frozen_leader() {
    local first a_pid a_log=$E2E_WORK/op/controller.log b_log=$E2E_WORK/controller-b.log mark woke
    t_eventually 30 bash -c "[ -n \"\$(kubectl get $LEASE -o jsonpath={.spec.holderIdentity})\" ]" || return 1
    first=$(kubectl get $LEASE -o jsonpath='{.spec.holderIdentity}')
    a_pid=$(cat "$E2E_WORK/op/controller.pid")
    other_controller "$b_log" || { t_fail "could not start a second controller"; return 1; }
    B=$OTHER
    sleep 3
    # work in flight when the leader freezes
    for i in $(seq 1 20); do
        printf 'apiVersion: toolhive.stacklok.dev/v1alpha1\nkind: MCPServer\nmetadata: {name: burst-%s}\nspec: {image: docker.io/mcp/time, permissionProfile: {name: none}}\n---\n' "$i"
    done | kubectl -n $NS apply -f - >/dev/null || t_fail "apply burst"
    sleep 0.3
    kill -STOP "$a_pid"
    local t0=$SECONDS
    t_eventually 40 bash -c "h=\$(kubectl get $LEASE -o jsonpath={.spec.holderIdentity}); [ -n \"\$h\" ] && [ \"\$h\" != '$first' ]" ||
        { kill -CONT "$a_pid"; return 1; }
    echo "# the standby took over $((SECONDS - t0))s after the freeze"
    # more work for both while the old leader still sleeps
    kubectl -n $NS delete deployment burst-1 burst-2 --wait=false >/dev/null 2>&1
    kubectl -n $NS label mcpserver burst-3 poke=1 --overwrite >/dev/null 2>&1
    sleep 2
    mark=$(($(wc -l <"$a_log") + 1))
    woke=$(date +%s.%N)
    kill -CONT "$a_pid"
    sleep 10
    if writes_after "$a_log" "$mark" "$woke" | grep -q .; then
        t_fail "the old leader wrote after waking: $(writes_after "$a_log" "$mark" "$woke" | head -3)"
    fi
    tail -n +"$mark" "$a_log" | grep -qE 'lost leadership|renew deadline passed' ||
        t_fail "the old leader did not say it stepped down"
    grep '"msg":"write"' "$b_log" | grep -qv '/leases/' || t_fail "the new leader wrote nothing"
    for i in $(seq 1 20); do
        t_eventually 90 reconciled "burst-$i" || return 1
    done
    [ "$(kubectl get $LEASE -o jsonpath='{.spec.holderIdentity}')" != "$first" ] ||
        t_fail "the frozen leader took the Lease back"
    kill "$B" 2>/dev/null
    return 0
}

many_namespaces() {
    local list="" n log=$E2E_WORK/controller-ns.log
    for n in $(seq 1 40); do
        kubectl create namespace "wn-$n" >/dev/null 2>&1
        list="$list${list:+,}wn-$n"
    done
    op_stop_controller
    other_controller "$log" WATCH_NAMESPACE="$list" || { t_fail "start"; op_start_controller; return 1; }
    t_eventually 60 curl -fsS --max-time 1 "http://127.0.0.1:$OTHER_PORT/readyz" ||
        { t_fail "not ready: $(tail -3 "$log")"; kill "$OTHER"; op_start_controller; return 1; }
    t_check "apply in the 40th" mk far wn-40 || return 1
    t_eventually 60 reconciled far wn-40 || t_fail "not reconciled in wn-40"
    kill "$OTHER" 2>/dev/null
    wait "$OTHER" 2>/dev/null
    grep -q '"msg":"shutting down","exit":"0"' "$log" || t_fail "did not stop cleanly: $(tail -2 "$log")"
    op_start_controller || t_fail "restart the first controller"
    for n in $(seq 1 40); do kubectl delete namespace "wn-$n" --wait=false >/dev/null 2>&1; done
    return 0
}

op_install_case
kubectl create namespace $NS >/dev/null
t_test "poisoned MCPServers (1,800 levels, 40 levels, U+0000): Failed or run, the rest reconciled" poisoned_objects
t_test "a leader frozen mid-work writes nothing after waking; the standby took over" frozen_leader
t_test "WATCH_NAMESPACE with 40 namespaces: ready, reconciles, stops with exit 0" many_namespaces
[ $T_FAILED -gt 0 ] && { op_logs; tail -20 "$E2E_WORK/controller-b.log" "$E2E_WORK/controller-ns.log" 2>/dev/null; }
kubectl delete namespace $NS --wait=false >/dev/null 2>&1
op_uninstall >/dev/null 2>&1
t_summary
