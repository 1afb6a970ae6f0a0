#!/usr/bin/env bash
# The generated CRD on a real apiserver: it is accepted and Established,
# `kubectl explain` shows the table's descriptions, `kubectl get mcpservers`
# shows the Status/URL/Age columns, and unknown fields are rejected by strict
# field validation. Removes the CRD again at the end.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
CRD=$ROOT/config/crd/bases/toolhive.stacklok.dev_mcpservers.yaml
NS=crd-test

apply_crd() {
    t_check "apply CRD" kubectl apply -f "$CRD" || return 1
    t_check "CRD Established" kubectl wait --for=condition=Established --timeout=30s \
        crd/mcpservers.toolhive.stacklok.dev
}

explain_spec() {
    t_eventually 20 kubectl explain mcpserver.spec || return 1
    local out=$T_LAST_OUTPUT
    for want in "Container image of the MCP server." "Transport of the MCP server" \
        "permissionProfile" "podTemplateSpec" "resourceOverrides" "targetPort"; do
        grep -qF "$want" <<<"$out" || { t_fail "explain lacks: $want"; return 1; }
    done
    t_check "explain secrets" kubectl explain mcpserver.spec.secrets.targetEnvName || return 1
    grep -qF "Defaults to the key." <<<"$T_LAST_OUTPUT" || t_fail "no targetEnvName description"
}

columns() {
    kubectl create namespace $NS >/dev/null 2>&1
    t_check "create" kubectl -n $NS apply -f "$ROOT/config/samples/my-mcpserver.yaml" || return 1
    t_check "get" kubectl -n $NS get mcpservers || return 1
    local header
    header=$(head -1 <<<"$T_LAST_OUTPUT" | tr -s ' ')
    [ "$header" = "NAME STATUS URL AGE MESSAGE" ] || t_fail "header is '$header'"
    grep -q '^fetch ' <<<"$T_LAST_OUTPUT" || t_fail "no fetch row: $T_LAST_OUTPUT"
}

unknown_field() {
    local out
    out=$(kubectl -n $NS apply -f - 2>&1 <<'YAML'
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: strict
spec:
  image: docker.io/mcp/fetch
  imagePullPolicy: Always
YAML
    ) && { t_fail "unknown field accepted"; return 1; }
    grep -qF 'unknown field "spec.imagePullPolicy"' <<<"$out" || t_fail "got: $out"
}

t_test "CRD applies and is Established" apply_crd
t_test "kubectl explain mcpserver.spec shows field descriptions" explain_spec
t_test "kubectl get mcpservers shows Status, URL, Age, Message" columns
t_test "unknown fields are rejected (strict field validation)" unknown_field
kubectl delete namespace $NS --wait=false >/dev/null 2>&1
kubectl delete -f "$CRD" --wait=true >/dev/null 2>&1
t_summary
