#!/usr/bin/env bash
# The seed walkthrough (../shared/seeds/000_*.txt), step by step with the
# YAML taken verbatim from the seed, then the promises of the overview seed
# (002_*.txt): a StatefulSet runs the server behind the mcp-proxy Deployment,
# a Service exposes it, permissions are configured, and the lifecycle is
# managed (update, delete, garbage collection). Driven only through kubectl,
# as a user would. Pods may or may not run here (that depends on the node):
# these checks look at objects, never wait for Running.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
source "$ROOT/e2e/lib/operator.sh"
SEEDS=${MCP_SEEDS:-$ROOT/../shared/seeds}
NS=default
TOKEN=ghp_walkthroughNotARealToken0123456789
WD=$E2E_WORK/walkthrough
mkdir -p "$WD"

# Print the fenced block titled $2 from seed file $1.
seed_block() {
    awk -v t="title=\"$2\"" 'index($0, "```") == 1 && index($0, t) { on = 1; next }
        on && index($0, "```") == 1 { exit } on { print }' "$1"
}

extract() {
    local seed
    seed=$(ls "$SEEDS"/000_*.txt) || { t_fail "no seed in $SEEDS"; return 1; }
    seed_block "$seed" my-mcpserver.yaml >"$WD/my-mcpserver.yaml"
    seed_block "$seed" my-mcpserver-with-secrets.yaml >"$WD/my-mcpserver-with-secrets.yaml"
    grep -q 'name: fetch' "$WD/my-mcpserver.yaml" || { t_fail "fetch block not found"; return 1; }
    grep -q 'name: github' "$WD/my-mcpserver-with-secrets.yaml" || { t_fail "github block"; return 1; }
    # config/samples carries the same two examples, byte for byte
    cmp -s "$WD/my-mcpserver.yaml" "$ROOT/config/samples/my-mcpserver.yaml" || t_fail "sample drift"
    cmp -s "$WD/my-mcpserver-with-secrets.yaml" \
        "$ROOT/config/samples/my-mcpserver-with-secrets.yaml" || t_fail "sample drift (secrets)"
}

apply_fetch() {
    t_check "apply" bash -c "cd '$WD' && kubectl apply -f my-mcpserver.yaml" || return 1
    [ "$T_LAST_OUTPUT" = "mcpserver.toolhive.stacklok.dev/fetch created" ] ||
        t_fail "printed: $T_LAST_OUTPUT"
}

apply_github() {
    # The seed writes --from-literal=token=<YOUR_TOKEN>; a real token stands in.
    t_check "secret" kubectl create secret generic github-token --from-literal=token=$TOKEN ||
        return 1
    [ "$T_LAST_OUTPUT" = "secret/github-token created" ] || t_fail "printed: $T_LAST_OUTPUT"
    t_check "apply" bash -c "cd '$WD' && kubectl apply -f my-mcpserver-with-secrets.yaml" ||
        return 1
    [ "$T_LAST_OUTPUT" = "mcpserver.toolhive.stacklok.dev/github created" ] ||
        t_fail "printed: $T_LAST_OUTPUT"
}

url_of() { kubectl get mcpserver "$1" -o jsonpath='{.status.url}'; }

get_columns() {
    t_eventually 30 bash -c '[ "$(kubectl get mcpserver github -o jsonpath={.status.url})" != "" ] &&
        [ "$(kubectl get mcpserver fetch -o jsonpath={.status.url})" != "" ]' || return 1
    t_check "get" kubectl get mcpservers || return 1
    local out=$T_LAST_OUTPUT
    [ "$(head -1 <<<"$out" | tr -s ' ')" = "NAME STATUS URL AGE MESSAGE" ] || t_fail "header: $out"
    grep -Eq '^fetch +(Pending|Running) +http://mcp-fetch-proxy\.default\.svc\.cluster\.local:8080/mcp +[0-9]+s' \
        <<<"$out" || t_fail "fetch row: $out"
    grep -Eq '^github +(Pending|Running) +http://mcp-github-proxy\.default\.svc\.cluster\.local:8080/mcp +[0-9]+s' \
        <<<"$out" || t_fail "github row: $out"
}

describe_github() {
    t_check "describe" kubectl describe mcpserver github || return 1
    local out
    out=$(tr -s ' ' <<<"$T_LAST_OUTPUT")
    for want in "Name: github" "Image: docker.io/mcp/github" "Transport: stdio" "Port: 8080" \
        "Target Env Name: GITHUB_PERSONAL_ACCESS_TOKEN" "Phase: " "MCP server is" \
        "URL: http://mcp-github-proxy.default.svc.cluster.local:8080/mcp" "Type: Ready" \
        "Type: Valid" "Events:"; do
        grep -qF "$want" <<<"$out" || { t_fail "describe lacks '$want': $T_LAST_OUTPUT"; return 1; }
    done
}

children() {
    local n=$1
    t_eventually 30 kubectl get deployment "$n" || return 1
    t_check "service" kubectl get service "mcp-$n-proxy" -o jsonpath='{.spec.ports[0].port}' || return 1
    [ "$T_LAST_OUTPUT" = 8080 ] || t_fail "service port $T_LAST_OUTPUT"
    t_check "proxy" kubectl get deployment "$n" -o jsonpath='{.spec.template.spec.containers[*].name}' ||
        return 1
    [ "$T_LAST_OUTPUT" = proxy ] || t_fail "proxy containers: $T_LAST_OUTPUT"
    t_check "server" kubectl get statefulset "$n" \
        -o jsonpath='{.spec.serviceName} {.spec.template.spec.containers[?(@.name=="mcp")].stdin}' ||
        return 1
    [ "$T_LAST_OUTPUT" = "mcp-$n-headless true" ] || t_fail "statefulset: $T_LAST_OUTPUT"
    t_check "binding" kubectl get rolebinding "$n-proxy-runner" -o jsonpath='{.roleRef.kind}' || return 1
    [ "$T_LAST_OUTPUT" = ClusterRole ] || t_fail "roleRef: $T_LAST_OUTPUT"
    for o in serviceaccount/$n-proxy-runner rolebinding/$n-proxy-runner serviceaccount/$n-sa \
        statefulset/$n service/mcp-$n-headless deployment/$n service/mcp-$n-proxy; do
        t_check "$o" kubectl get "$o" -o jsonpath='{.metadata.ownerReferences[0].kind}' || return 1
        [ "$T_LAST_OUTPUT" = MCPServer ] || t_fail "$o owner: $T_LAST_OUTPUT"
    done
}

secret_by_reference() {
    t_check "env" kubectl get statefulset github \
        -o jsonpath='{.spec.template.spec.containers[?(@.name=="mcp")].env}' || return 1
    local args=$T_LAST_OUTPUT
    grep -qF 'secretKeyRef' <<<"$args" || t_fail "no secretKeyRef in the MCP server container: $args"
    grep -qF 'GITHUB_PERSONAL_ACCESS_TOKEN' <<<"$args" || t_fail "no target env: $args"
    t_check "image" kubectl get statefulset github -o jsonpath='{.spec.template.spec.containers[?(@.name=="mcp")].image}' ||
        return 1
    grep -qF 'docker.io/mcp/github' <<<"$T_LAST_OUTPUT" || t_fail "no image: $T_LAST_OUTPUT"
    if kubectl get deploy,sts,pods,svc,sa,rolebinding,events -o yaml | grep -qF "$TOKEN"; then
        t_fail "the token value appears in a generated object or event"
    fi
    if grep -qF "$TOKEN" "$E2E_WORK"/op/*.log; then t_fail "the token value is in a log"; fi
}

expect_types() { # NAME TYPES
    local got
    got=$(kubectl get networkpolicy "$1" -o jsonpath='{.spec.policyTypes[*]}')
    [ "$got" = "$2" ] || { t_fail "networkpolicy $1: policyTypes '$got', want '$2'"; return 1; }
}

profiles() {
    t_check "none" kubectl apply -f "$ROOT/config/samples/builtin-none-profile.yaml" || return 1
    t_check "configmap" kubectl apply -f "$ROOT/config/samples/configmap-profile.yaml" || return 1
    # one NetworkPolicy per MCPServer, named like it: egress restricted for none (DNS) and the
    # ConfigMap profile (DNS and the proxy's egress port), not for network; ingress always
    t_eventually 30 kubectl get networkpolicy time fetch-restricted || return 1
    t_eventually 30 kubectl get networkpolicy fetch || return 1
    expect_types time "Ingress Egress" && expect_types fetch-restricted "Ingress Egress" &&
        expect_types fetch "Ingress"
}

all_samples() {
    # ToolHive's own tool-filter example names its namespace
    kubectl create namespace toolhive-system --dry-run=client -o yaml | kubectl apply -f - >/dev/null
    for f in "$ROOT"/config/samples/*.yaml; do
        t_check "$(basename "$f")" kubectl apply -f "$f" || return 1
    done
}

update_port() {
    local gen
    gen=$(kubectl get mcpserver fetch -o jsonpath='{.metadata.generation}')
    t_check "patch" kubectl patch mcpserver fetch --type=merge -p '{"spec":{"port":9090}}' || return 1
    t_eventually 30 bash -c '[ "$(kubectl get service mcp-fetch-proxy -o jsonpath={.spec.ports[0].port})" = 9090 ]' ||
        return 1
    t_eventually 30 bash -c 'kubectl get deployment fetch -o jsonpath={.spec.template.spec.containers[0].args} | grep -q -- --port=9090' ||
        return 1
    t_eventually 30 bash -c "[ \"\$(kubectl get mcpserver fetch -o jsonpath={.status.observedGeneration})\" -gt $gen ]" ||
        return 1
    t_eventually 30 bash -c '[ "$(kubectl get mcpserver fetch -o jsonpath={.status.url})" = http://mcp-fetch-proxy.default.svc.cluster.local:9090/mcp ]'
}

drift() {
    local uid
    t_check "delete child" kubectl delete service mcp-fetch-proxy || return 1
    t_eventually 30 kubectl get service mcp-fetch-proxy || return 1
    # the MCP server workload is the controller's too
    uid=$(kubectl get statefulset fetch -o jsonpath='{.metadata.uid}')
    t_check "delete statefulset" kubectl delete statefulset fetch --wait=false || return 1
    t_eventually 30 bash -c "u=\$(kubectl get statefulset fetch -o jsonpath={.metadata.uid} 2>/dev/null); [ -n \"\$u\" ] && [ \"\$u\" != $uid ]" ||
        return 1
    t_check "delete headless" kubectl delete service mcp-fetch-headless || return 1
    t_eventually 30 kubectl get service mcp-fetch-headless
}

delete_gc() {
    t_check "delete" kubectl delete mcpserver github || return 1
    # the garbage collector's view: no object of any kind we make is left
    t_eventually 60 bash -c '[ -z "$(kubectl get serviceaccounts,roles,rolebindings,networkpolicies,services,statefulsets,deployments,replicasets,pods,controllerrevisions -l toolhive-name=github -o name 2>/dev/null)" ]' ||
        { t_fail "left: $(kubectl get serviceaccounts,roles,rolebindings,networkpolicies,services,statefulsets,deployments,replicasets,pods,controllerrevisions -l toolhive-name=github -o name 2>&1 | tr '\n' ' ')"; return 1; }
}

op_install_case
t_test "seed blocks extracted verbatim" extract
t_test "kubectl apply -f my-mcpserver.yaml" apply_fetch
t_test "secret + kubectl apply -f my-mcpserver-with-secrets.yaml" apply_github
t_test "kubectl get mcpservers shows status, URL and age" get_columns
t_test "kubectl describe mcpserver github" describe_github
t_test "fetch: StatefulSet, proxy Deployment, Services, RBAC owned by the MCPServer" children fetch
t_test "github: StatefulSet, proxy Deployment, Services, RBAC owned by the MCPServer" children github
t_test "secrets travel by reference only" secret_by_reference
t_test "permission profiles: builtin none and ConfigMap" profiles
t_test "every sample applies" all_samples
t_test "update spec.port: Service, Deployment and status follow" update_port
t_test "a deleted child (proxy Service, StatefulSet, headless Service) is restored" drift
t_test "deleting the MCPServer garbage-collects its children" delete_gc
[ $T_FAILED -gt 0 ] && op_logs
kubectl delete mcpservers --all --wait=false >/dev/null 2>&1
op_uninstall >/dev/null 2>&1
t_summary
