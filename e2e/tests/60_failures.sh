#!/usr/bin/env bash
# Failure modes, as a user meets them: the webhook down (failurePolicy Fail),
# the controller down, the webhook's certificate rotated while applies run,
# and a namespace deleted with an MCPServer in it.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
source "$ROOT/e2e/lib/operator.sh"
NS=failures
SAMPLE=$ROOT/config/samples/my-mcpserver.yaml

webhook_down() {
    op_stop_webhook
    local out
    out=$(kubectl -n $NS apply -f "$SAMPLE" 2>&1) && { t_fail "apply succeeded: $out"; return 1; }
    grep -qF 'failed calling webhook "default.mcpserver.toolhive.stacklok.dev"' <<<"$out" ||
        t_fail "unexpected error: $out"
    kubectl -n $NS get mcpserver fetch >/dev/null 2>&1 && t_fail "object stored"
    op_start_webhook || { t_fail "webhook did not come back"; return 1; }
    t_check "apply after restart" kubectl -n $NS apply -f "$SAMPLE" || return 1
    [ "$T_LAST_OUTPUT" = "mcpserver.toolhive.stacklok.dev/fetch created" ] ||
        t_fail "printed: $T_LAST_OUTPUT"
}

controller_down() {
    op_stop_controller
    for n in p1 p2 p3; do
        kubectl -n $NS apply -f - >/dev/null <<YAML || { t_fail "apply $n"; return 1; }
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: $n
spec:
  image: docker.io/mcp/time
  permissionProfile:
    name: network
YAML
    done
    # accepted and defaulted by the webhook, but not reconciled
    t_check "defaulted" kubectl -n $NS get mcpservers.v1alpha1.toolhive.stacklok.dev p1 -o jsonpath='{.spec.transport}/{.spec.port}/{.spec.permissionProfile.type}' || return 1
    [ "$T_LAST_OUTPUT" = "stdio/8080/builtin" ] || t_fail "defaults: $T_LAST_OUTPUT"
    sleep 2
    kubectl -n $NS get deployment p1 >/dev/null 2>&1 && t_fail "reconciled without a controller"
    op_start_controller || { t_fail "controller did not start"; return 1; }
    for n in p1 p2 p3; do
        t_eventually 60 bash -c "kubectl -n $NS get deployment $n >/dev/null && [ -n \"\$(kubectl -n $NS get mcpserver $n -o jsonpath={.status.url})\" ]" ||
            return 1
    done
}

# Rotate to a serving certificate from a second CA: the configurations trust
# both CAs first (as an operator rotating a CA would), then the files swap
# under the running webhook while applies keep coming.
cert_rotation() {
    local certs=$E2E_WORK/op/certs new=$E2E_WORK/rotated bundle fails=0 i
    "$ROOT/certs/gen.sh" --out "$new" --ip 127.0.0.1 --dns localhost >/dev/null || return 1
    bundle=$(cat "$certs/ca.crt" "$new/ca.crt" | base64 -w0)
    for kind in mutatingwebhookconfiguration validatingwebhookconfiguration; do
        for cfg in $(kubectl get $kind -o name | grep mcp); do
            kubectl patch "$cfg" --type=json \
                -p "[{\"op\":\"replace\",\"path\":\"/webhooks/0/clientConfig/caBundle\",\"value\":\"$bundle\"}]" >/dev/null ||
                { t_fail "patch $cfg"; return 1; }
        done
    done
    sleep 2
    (
        for i in $(seq 1 40); do
            kubectl -n $NS apply --dry-run=server -f "$SAMPLE" >/dev/null 2>&1 || echo fail
            sleep 0.1
        done
    ) >"$E2E_WORK/rotation.out" &
    local loop=$!
    sleep 1
    cp "$new/tls.key" "$certs/tls.key.new" && cp "$new/tls.crt" "$certs/tls.crt.new"
    mv "$certs/tls.key.new" "$certs/tls.key" && mv "$certs/tls.crt.new" "$certs/tls.crt"
    wait $loop
    fails=$(grep -c fail "$E2E_WORK/rotation.out")
    [ "$fails" -eq 0 ] || { t_fail "$fails of 40 applies failed during rotation"; return 1; }
    # the webhook now serves the new certificate
    t_eventually 10 bash -c "echo | openssl s_client -connect 127.0.0.1:$(op_webhook_port) -CAfile '$new/ca.crt' 2>/dev/null | grep -q 'Verify return code: 0'"
}

namespace_delete() {
    t_check "ns" kubectl create namespace doomed || return 1
    t_check "apply" kubectl -n doomed apply -f "$ROOT/config/samples/my-mcpserver-with-secrets.yaml" || return 1
    t_eventually 60 kubectl -n doomed get deployment github || return 1
    t_check "delete ns" kubectl delete namespace doomed --wait=false || return 1
    t_eventually 120 bash -c '! kubectl get namespace doomed 2>/dev/null'
}

op_install_case
kubectl create namespace $NS >/dev/null
t_test "webhook down: apply fails clearly, nothing stored; back up: apply succeeds" webhook_down
t_test "controller down: applies defaulted; on start every pending MCPServer reconciled" controller_down
t_test "certificate rotated while applies run: none fails" cert_rotation
t_test "deleting the namespace removes the MCPServer and its children" namespace_delete
[ $T_FAILED -gt 0 ] && op_logs
kubectl delete namespace $NS --wait=false >/dev/null 2>&1
op_uninstall >/dev/null 2>&1
t_summary
