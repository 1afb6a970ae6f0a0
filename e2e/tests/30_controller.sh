#!/usr/bin/env bash
# The controller against the real control plane, beyond the walkthrough:
# objects in the way that we do not own, an invalid spec that slipped past
# the webhook, two replicas with Lease leader election and a hand-over, and
# a kube-apiserver restart mid-run, and the upgrade from the previous
# version's objects. Driven through kubectl and helm.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
source "$ROOT/e2e/lib/operator.sh"
source "$ROOT/e2e/lib/mcpserver.sh"
NS=ctl
LEASE="-n mcp-system lease mcp-controller-leader"

not_ours() {
    t_check "foreign service" kubectl -n $NS create service clusterip mcp-taken-proxy --tcp=80:80 ||
        return 1
    t_check "apply" mk taken || return 1
    t_eventually 30 bash -c "[ \"\$(kubectl -n $NS get mcpserver taken -o jsonpath={.status.phase})\" = Failed ]" ||
        return 1
    local msg
    msg=$(field taken '{.status.message}')
    grep -qF 'Service "mcp-taken-proxy" already exists and is not controlled by this MCPServer' <<<"$msg" ||
        t_fail "message: $msg"
    [ -z "$(kubectl -n $NS get service mcp-taken-proxy -o jsonpath='{.metadata.ownerReferences}')" ] ||
        t_fail "the foreign Service was taken over"
    t_check "get shows Failed" kubectl -n $NS get mcpserver taken || return 1
    grep -Eq '^taken +Failed' <<<"$T_LAST_OUTPUT" || t_fail "get: $T_LAST_OUTPUT"
    t_check "remove the obstacle" kubectl -n $NS delete service mcp-taken-proxy || return 1
    t_eventually 90 bash -c "kubectl -n $NS get mcpservers.v1alpha1.toolhive.stacklok.dev taken -o jsonpath={.status.phase} | grep -qxE 'Pending|Running'"
}

invalid_slipped_past() {
    # As if the webhook were down with failurePolicy Ignore.
    op_upgrade --set webhook.failurePolicy=Ignore || { t_fail "upgrade"; return 1; }
    op_stop_webhook
    kubectl -n $NS apply -f - >/dev/null 2>&1 <<'YAML' || { t_fail "apply was refused"; op_start_webhook; return 1; }
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: sneaky
spec:
  image: docker.io/mcp/time
  transport: grpc
  port: 70000
YAML
    op_start_webhook
    op_upgrade --set webhook.failurePolicy=Fail || { t_fail "upgrade back"; return 1; }
    t_eventually 30 bash -c "[ \"\$(kubectl -n $NS get mcpserver sneaky -o jsonpath={.status.phase})\" = Failed ]" ||
        return 1
    local want='MCPServer "sneaky" is invalid: [spec.port: Invalid value: 70000: must be between 1 and 65535, spec.transport: Unsupported value: "grpc": supported values: "stdio", "sse", "streamable-http"]'
    [ "$(field sneaky '{.status.conditions[?(@.type=="Valid")].status}')" = False ] ||
        t_fail "Valid is not False"
    [ "$(field sneaky '{.status.conditions[?(@.type=="Valid")].message}')" = "$want" ] ||
        t_fail "Valid message: $(field sneaky '{.status.conditions[?(@.type=="Valid")].message}')"
    t_check "wait Valid=false" kubectl -n $NS wait --for=condition=Valid=false --timeout=5s mcpserver/sneaky ||
        return 1
    sleep 2
    kubectl -n $NS get deployment sneaky >/dev/null 2>&1 && t_fail "created a Deployment for it"
    kubectl -n $NS get sa sneaky-proxy-runner >/dev/null 2>&1 && t_fail "created a ServiceAccount"
    return 0
}

# Start a second controller like the first (same flags, its own health port).
second_controller() {
    local line words=() port
    line=$(grep -m1 '^# env WATCH_NAMESPACE=' "$E2E_WORK/op/controller.log") || return 1
    read -r -a words <<<"${line#\# }"
    port=$((31000 + RANDOM % 1000))
    words=("${words[@]/--health-port=*/--health-port=$port}")
    words=("${words[@]/POD_NAME=*/POD_NAME=second-$$}")
    setsid "${words[@]}" </dev/null >"$E2E_WORK/controller2.log" 2>&1 &
    SECOND=$!
    echo $SECOND >>"$E2E_WORK/pids"
}

leader_handover() {
    local first holder
    t_eventually 30 bash -c "[ -n \"\$(kubectl get $LEASE -o jsonpath={.spec.holderIdentity})\" ]" || return 1
    first=$(kubectl get $LEASE -o jsonpath='{.spec.holderIdentity}')
    second_controller || { t_fail "could not start a second controller"; return 1; }
    sleep 3
    t_check "apply while two run" mk duo || return 1
    t_eventually 60 reconciled duo || return 1
    [ "$(kubectl get $LEASE -o jsonpath='{.spec.holderIdentity}')" = "$first" ] ||
        t_fail "the lease moved while its holder was alive"
    grep -q '"msg":"write"' "$E2E_WORK/controller2.log" && t_fail "the non-leader wrote to the API"
    kill -9 "$(cat "$E2E_WORK/op/controller.pid")"
    local t0=$SECONDS
    t_eventually 25 bash -c "h=\$(kubectl get $LEASE -o jsonpath={.spec.holderIdentity}); [ -n \"\$h\" ] && [ \"\$h\" != '$first' ]" ||
        return 1
    echo "# hand-over took $((SECONDS - t0))s"
    [ $((SECONDS - t0)) -le 20 ] || t_fail "hand-over took $((SECONDS - t0))s"
    t_check "apply after hand-over" mk solo || return 1
    t_eventually 60 reconciled solo
}

apiserver_restart() {
    local run=$MCP_CLUSTER_DIR/run pid args=()
    pid=$(cat "$run/kube-apiserver.pid") || return 1
    mapfile -d '' args <"/proc/$pid/cmdline"
    # kube-apiserver v1.37 stops listening at once on SIGTERM but may not exit
    # (this cluster has no load balancer to drain), so it gets SIGKILL after 10 s.
    kill "$pid"
    gone() { ! grep -qv '^State:.*Z' <(grep ^State: "/proc/$1/status" 2>/dev/null); }
    for _ in $(seq 20); do gone "$pid" && break; sleep 0.5; done
    gone "$pid" || kill -9 "$pid"
    t_eventually 20 bash -c "! grep -qv '^State:.*Z' <(grep ^State: /proc/$pid/status 2>/dev/null)" ||
        return 1
    setsid "${args[@]}" </dev/null >>"$MCP_CLUSTER_DIR/logs/kube-apiserver.log" 2>&1 &
    echo $! >"$run/kube-apiserver.pid"
    t_eventually 60 kubectl get --raw /readyz || return 1
    t_check "apply after restart" mk after-restart || return 1
    t_eventually 90 reconciled after-restart
}

# A finalizer of the user's holds the object while it is deleted: the
# controller shows Terminating and leaves the children to the collector.
terminating() {
    t_check "apply" mk held || return 1
    t_eventually 30 reconciled held || return 1
    t_check "finalizer" kubectl -n $NS patch mcpserver held --type=merge \
        -p '{"metadata":{"finalizers":["example.com/hold"]}}' || return 1
    t_check "delete" kubectl -n $NS delete mcpserver held --wait=false || return 1
    t_eventually 30 bash -c "kubectl -n $NS get mcpserver held | grep -Eq '^held +Terminating '" ||
        return 1
    t_check "release" kubectl -n $NS patch mcpserver held --type=merge \
        -p '{"metadata":{"finalizers":null}}' || return 1
    t_eventually 60 bash -c "! kubectl -n $NS get mcpserver held 2>/dev/null && ! kubectl -n $NS get deployment held 2>/dev/null"
}

# The previous version (ToolHive's proxy runner) made a Role, a RoleBinding
# to it and a proxy-runner Deployment, applied by the same field manager.
# With the controller stopped, those objects are server-side applied from
# the unit test's fixtures; the new controller converts them in place, by
# real server-side apply: the old container, its volume and the Role go.
upgrade() {
    local dir=$ROOT/test/fixtures/controller/upgrade/seed-configmap-profile n=cmprof uid left want vols
    # no controller may run: the second one of the hand-over may be the leader
    if [ -n "${SECOND:-}" ]; then
        kill "$SECOND" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$SECOND" 2>/dev/null || break; sleep 0.2; done
        SECOND=
    fi
    op_stop_controller
    t_check "profile" kubectl -n $NS create configmap my-permission-profile \
        --from-file=profile.json="$dir/profile.json" || { op_start_controller; return 1; }
    jq '{apiVersion, kind, metadata: {name: .metadata.name}, spec}' "$dir/mcpserver.json" |
        kubectl -n $NS apply -f - >/dev/null || { t_fail "apply"; op_start_controller; return 1; }
    uid=$(field $n '{.metadata.uid}')
    [ -n "$uid" ] || { t_fail "no uid for $n"; op_start_controller; return 1; }
    jq --arg uid "$uid" --arg ns "$NS" '{apiVersion: "v1", kind: "List", items: [.[] |
        .metadata.namespace = $ns | .metadata.ownerReferences[0].uid = $uid |
        if .kind == "RoleBinding" then .subjects[0].namespace = $ns else . end]}' \
        "$dir/previous.json" >"$E2E_WORK/previous.json"
    t_check "previous objects" kubectl apply --server-side --field-manager=mcp-controller \
        -f "$E2E_WORK/previous.json" || { op_start_controller; return 1; }
    [ "$(kubectl -n $NS get deployment $n -o jsonpath='{.spec.template.spec.containers[*].name}')" = toolhive ] ||
        { t_fail "the old Deployment is not there"; op_start_controller; return 1; }
    op_start_controller || { t_fail "controller did not start"; return 1; }
    t_eventually 60 bash -c "[ \"\$(kubectl -n $NS get deployment $n -o jsonpath='{.spec.template.spec.containers[*].name}')\" = proxy ] &&
        ! kubectl -n $NS get role $n-proxy-runner 2>/dev/null &&
        [ \"\$(kubectl -n $NS get rolebinding $n-proxy-runner -o jsonpath={.roleRef.kind})\" = ClusterRole ]" || {
        t_fail "not converted: $(kubectl -n $NS get deployment $n -o jsonpath='{.spec.template.spec.containers[*].name}') $(kubectl -n $NS get role,rolebinding -o name | tr '\n' ' ')"
        return 1
    }
    # the runner's profile volume becomes this version's: the same ConfigMap, mounted for the
    # proxy's forward proxy as profile.json
    vols=$(kubectl -n $NS get deployment $n -o jsonpath='{range .spec.template.spec.volumes[*]}{.name}={.configMap.name}/{.configMap.items[*].path} {end}')
    [ "$vols" = "permission-profile=my-permission-profile/profile.json " ] ||
        t_fail "the profile volume was not converted: $vols"
    kubectl -n $NS get deployment $n -o jsonpath='{.spec.template.spec.containers[0].args}' | grep -q -- --k8s-pod-patch &&
        t_fail "old args stayed"
    # exactly the objects this version makes (Role and the egress-only policy gone, StatefulSet,
    # headless Service and the NetworkPolicy named like the MCPServer new)
    left=$(kubectl -n $NS get serviceaccounts,roles,rolebindings,networkpolicies,services,statefulsets,deployments \
        -l toolhive-name=$n -o name | sort | tr '\n' ' ')
    want="deployment.apps/$n networkpolicy.networking.k8s.io/$n rolebinding.rbac.authorization.k8s.io/$n-proxy-runner service/mcp-$n-headless service/mcp-$n-proxy serviceaccount/$n-proxy-runner serviceaccount/$n-sa statefulset.apps/$n "
    [ "$left" = "$want" ] || t_fail "objects: $left"
}

op_install_case
kubectl create namespace $NS >/dev/null
t_test "an object in the way that we do not own: Failed, untouched, then recovers" not_ours
t_test "an invalid spec that slipped past the webhook: Failed, Valid=False, nothing created" invalid_slipped_past
t_test "deleting with a finalizer pending: kubectl get shows Terminating" terminating
t_test "two controllers: only the Lease holder writes; hand-over within 20 s" leader_handover
t_test "kube-apiserver restarted mid-run: the controller recovers by itself" apiserver_restart
t_test "upgrade: the previous version's objects converted in place, nothing left behind" upgrade
[ $T_FAILED -gt 0 ] && { op_logs; tail -20 "$E2E_WORK/controller2.log" 2>/dev/null; }
[ -n "${SECOND:-}" ] && kill "$SECOND" 2>/dev/null
kubectl delete namespace $NS --wait=false >/dev/null 2>&1
op_uninstall >/dev/null 2>&1
t_summary
