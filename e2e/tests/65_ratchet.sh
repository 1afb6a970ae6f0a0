#!/usr/bin/env bash
# Ratcheting (DESIGN.md section 3, issue 11 item 5): an MCPServer stored while
# the validating webhook was bypassed, breaking today's rules (port 70000),
# can still have its metadata changed and be deleted, with a foreground
# cascade (the garbage collector's finalizer removal is an UPDATE) or with a
# user's finalizer; a spec change is judged by today's rules. Against the real
# apiserver, so the object and oldObject it sends are compared as it
# serializes them.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
source "$ROOT/e2e/lib/operator.sh"
NS=ratchet

# Store an invalid MCPServer with the validating configuration set aside (as
# when the webhook was bypassed), then put the configuration back.
store_invalid() { # NAME [FINALIZER]
    local cfg saved=$E2E_WORK/vwc.json
    cfg=$(kubectl get validatingwebhookconfiguration -o name | grep mcp) || { t_fail "no configuration"; return 1; }
    kubectl get "$cfg" -o json |
        jq 'del(.metadata.resourceVersion, .metadata.uid, .metadata.creationTimestamp, .metadata.generation, .metadata.managedFields)' >"$saved" || return 1
    kubectl delete "$cfg" >/dev/null || return 1
    kubectl -n $NS apply -f - >/dev/null <<YAML || { t_fail "store $1"; kubectl create -f "$saved" >/dev/null; return 1; }
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: $1
  finalizers: [${2:-}]
spec:
  image: docker.io/mcp/fetch
  port: 70000
  permissionProfile:
    name: network
YAML
    kubectl create -f "$saved" >/dev/null || { t_fail "configuration not restored"; return 1; }
    # the webhook judges again
    t_eventually 30 bash -c "! kubectl -n $NS patch mcpserver $1 --type=merge -p '{\"spec\":{\"port\":70001}}' --dry-run=server >/dev/null 2>&1"
}

metadata_changes() {
    store_invalid meta || return 1
    t_check "label" kubectl -n $NS label mcpserver meta team=a || return 1
    t_check "annotate" kubectl -n $NS annotate mcpserver meta note=x || return 1
    # a spec change is judged by today's rules
    if out=$(kubectl -n $NS patch mcpserver meta --type=merge -p '{"spec":{"port":70001}}' 2>&1); then
        t_fail "a spec change to another invalid port passed: $out"; return 1
    fi
    grep -qF 'spec.port: Invalid value: 70001: must be between 1 and 65535' <<<"$out" ||
        { t_fail "unexpected: $out"; return 1; }
    t_check "a spec change that fixes it" kubectl -n $NS patch mcpserver meta --type=merge -p '{"spec":{"port":8080}}'
}

foreground_delete() {
    store_invalid fg || return 1
    t_check "delete" kubectl -n $NS delete mcpserver fg --cascade=foreground --wait=false || return 1
    t_eventually 90 bash -c "! kubectl -n $NS get mcpserver fg 2>/dev/null"
}

user_finalizer() {
    store_invalid held example.com/hold || return 1
    t_check "delete" kubectl -n $NS delete mcpserver held --wait=false || return 1
    t_check "finalizer removed" kubectl -n $NS patch mcpserver held --type=json \
        -p '[{"op":"remove","path":"/metadata/finalizers"}]' || return 1
    t_eventually 60 bash -c "! kubectl -n $NS get mcpserver held 2>/dev/null"
}

op_install_case
kubectl create namespace $NS >/dev/null
t_test "stored invalid: metadata changes pass, a spec change is judged" metadata_changes
t_test "stored invalid: deleted with --cascade=foreground, it goes" foreground_delete
t_test "stored invalid: a user's finalizer can be removed while it is deleted" user_finalizer
[ $T_FAILED -gt 0 ] && op_logs
kubectl delete namespace $NS --wait=false >/dev/null 2>&1
op_uninstall >/dev/null 2>&1
t_summary
