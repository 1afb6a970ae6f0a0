#!/usr/bin/env bash
# Both API versions on a real API server (issue 22): v1alpha1 (stored) and
# v1beta1 (ToolHive v0.44's MCPServer, kubectl's default), converted by the
# webhook's /convert, which the controller configures in the CRD. The chart's
# CRD serves v1alpha1 only for now: this file applies the generated
# two-version CRD (mcp-crdgen --with-v1beta1) and removes it at the end.
#   - upgrade: the CRD of the release before v1beta1 (v1alpha1 only), the
#     operator installed and MCPServers reconciled under it; then the
#     two-version CRD applied as install.md says for a new CRD: both served, the controller points
#     the conversion at the webhook, the objects read as v1beta1 (proxyPort,
#     Ready), and nothing in their children changed (no write, no rollout);
#   - round trips: random valid objects of each version, created, read in
#     the other version, written back in it and read again: byte-equal;
#   - ToolHive v0.44.0's examples (test/fixtures/toolhive-v0.44.0/) apply as
#     they are: each MCPServer is stored, and the ones naming a kind not
#     served yet are Failed naming the field (the others are reconciled).
# Local mode (the binaries on the host, as 20_chart); no MCP server pod runs.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
source "$ROOT/e2e/local/lib.sh"
source "$ROOT/e2e/lib/operator.sh"
source "$ROOT/e2e/lib/mcpserver.sh"
NS=versions
CRD_NAME=mcpservers.toolhive.stacklok.dev
OLD_CRD=$ROOT/test/fixtures/crd-before-v1beta1.yaml
TH=$ROOT/test/fixtures/toolhive-v0.44.0
TMP=$E2E_WORK/25_versions
mkdir -p "$TMP"

# children NS: every child's kind/name, its applied-hash and what changes when
# it is written: the generation of a workload (its status moves on its own),
# the resourceVersion of the others; sorted
children() {
    kubectl -n "$1" get statefulsets,deployments -l app.kubernetes.io/managed-by=mcp-operator \
        -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} gen={.metadata.generation} {.metadata.annotations.toolhive\.stacklok\.dev/applied-hash}{"\n"}{end}'
    kubectl -n "$1" get services,serviceaccounts,rolebindings,networkpolicies -l app.kubernetes.io/managed-by=mcp-operator \
        -o jsonpath='{range .items[*]}{.kind}/{.metadata.name} rv={.metadata.resourceVersion} {.metadata.annotations.toolhive\.stacklok\.dev/applied-hash}{"\n"}{end}'
}

expect_eq() {
    [[ $2 == "$3" ]] && return 0
    t_fail "$1: got '$2', want '$3'"
    return 1
}

conversion_configured() {
    [[ $(kubectl get crd $CRD_NAME -o jsonpath='{.spec.conversion.strategy}') == Webhook ]]
}

upgrade() {
    kubectl delete crd $CRD_NAME --ignore-not-found --wait=true >/dev/null 2>&1
    # the previous release: this chart with the CRD it shipped (v1alpha1 only)
    rm -rf "$TMP/old-chart" && cp -r "$ROOT/charts/mcp-operator" "$TMP/old-chart" &&
        cp "$OLD_CRD" "$TMP/old-chart/crds/toolhive.stacklok.dev_mcpservers.yaml" || return 1
    OP_CHART=$TMP/old-chart op_install || { t_fail "op_install"; op_logs; return 1; }
    t_check "CRD Established" kubectl wait --for=condition=Established --timeout=30s crd/$CRD_NAME || return 1
    expect_versions "before" "v1alpha1" || return 1
    kubectl create namespace $NS >/dev/null 2>&1
    local n
    for n in time fetch; do mk "$n" || { t_fail "mk $n"; return 1; }; done
    t_check "seed example" kubectl -n $NS apply -f "$ROOT/config/samples/my-mcpserver-with-secrets.yaml" || return 1
    for n in time fetch github; do
        t_eventually 60 reconciled "$n" || { t_fail "$n not reconciled"; return 1; }
    done
    sleep 2 # the last status writes settle
    children $NS | sort >"$TMP/before"
    [[ -s $TMP/before ]] || { t_fail "no children"; return 1; }
    # the upgrade, as docs/install.md says: the new CRD, then the chart
    "${OP_CRDGEN:-$ROOT/build/mcp-crdgen}" --with-v1beta1 >"$TMP/crd-v1beta1.yaml" || { t_fail "mcp-crdgen"; return 1; }
    t_check "new CRD" kubectl apply --server-side --force-conflicts -f "$TMP/crd-v1beta1.yaml" || return 1
    t_check "helm upgrade" op_upgrade || return 1
    t_check "CRD Established" kubectl wait --for=condition=Established --timeout=30s crd/$CRD_NAME || return 1
    expect_versions "after the upgrade" "v1alpha1 v1beta1" || return 1
    t_eventually 90 conversion_configured || { t_fail "conversion not configured: $(kubectl get crd $CRD_NAME -o jsonpath='{.spec.conversion}')"; op_logs; return 1; }
    expect_eq "conversion service or url" \
        "$(kubectl get crd $CRD_NAME -o jsonpath='{.spec.conversion.webhook.clientConfig.url}')" \
        "https://127.0.0.1:$(op_webhook_port)/convert" || return 1
    # the stored objects, read as v1beta1 (kubectl's default now)
    t_eventually 30 bash -c "kubectl -n $NS get mcpserver time -o jsonpath='{.apiVersion} {.spec.proxyPort} {.status.phase}' | grep -qxE 'toolhive.stacklok.dev/v1beta1 8080 (Pending|Ready)'" ||
        { t_fail "time as v1beta1: $(kubectl -n $NS get mcpserver time -o jsonpath='{.apiVersion} {.spec} {.status.phase}')"; return 1; }
    expect_eq "github as v1beta1: the v1alpha1-only fields in the annotation" \
        "$(kubectl -n $NS get mcpserver github -o jsonpath='{.spec.port}|{.spec.proxyPort}|{.metadata.annotations.toolhive\.stacklok\.dev/v1alpha1-fields}')" \
        '|8080|{"port":8080,"proxyPort":null}' || return 1
    expect_eq "github as v1alpha1: unchanged" \
        "$(field github '{.spec.port}|{.spec.proxyPort}|{.metadata.annotations.toolhive\.stacklok\.dev/v1alpha1-fields}')" "8080||" || return 1
    sleep 5 # a reconcile the upgrade might cause would have written by now
    children $NS | sort >"$TMP/after"
    diff -u "$TMP/before" "$TMP/after" >&2 || { t_fail "children changed by the upgrade"; return 1; }
}

# expect_versions WHAT "v..." : the CRD's served versions
expect_versions() {
    expect_eq "$1: served versions" \
        "$(kubectl get crd $CRD_NAME -o jsonpath='{range .spec.versions[?(@.served==true)]}{.name} {end}' | sed 's/ $//')" "$2"
}

round_trips() {
    # no workloads for these: the controller stays off (the conversion is configured)
    op_stop_controller
    t_check "v1alpha1 objects" python3 "$ROOT/e2e/lib/roundtrip.py" $NS v1alpha1 15 1 || return 1
    echo "# $T_LAST_OUTPUT" | tail -1
    t_check "v1beta1 objects" python3 "$ROOT/e2e/lib/roundtrip.py" $NS v1beta1 15 2 || return 1
    echo "# $T_LAST_OUTPUT" | tail -1
    op_start_controller || { t_fail "controller did not start"; return 1; }
}

toolhive_examples() {
    local ns=toolhive-system f out
    kubectl create namespace $ns >/dev/null 2>&1
    for f in "$TH"/mcpserver_*.yaml; do
        # the kinds not served yet (MCPToolConfig, MCPOIDCConfig,
        # MCPTelemetryConfig) are refused by the API server; every other
        # document, the MCPServers among them, applies as written
        out=$(kubectl apply -f "$f" 2>&1)
        grep -v '^Warning: ' <<<"$out" | grep -vE '(created|configured|unchanged)$' |
            grep -vE 'no matches for kind "(MCPToolConfig|MCPOIDCConfig|MCPTelemetryConfig)" in version "toolhive.stacklok.dev/v1beta1"|ensure CRDs are installed first' |
            grep . && { t_fail "$(basename "$f"): $out"; return 1; }
    done
    local names
    names=$(kubectl get mcpservers -A -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {end}')
    local want
    for want in toolhive-system/fetch toolhive-system/fetch-with-shared-oidc toolhive-system/github \
        toolhive-system/github-with-overrides toolhive-system/mkp toolhive-system/yardstick \
        default/my-server default/sample-with-pod-template; do
        grep -qw "$want" <<<"$names" || { t_fail "$want not stored: $names"; return 1; }
    done
    # an oidcConfigRef (not implemented yet): not run, saying why
    t_eventually 60 bash -c "kubectl -n $ns get $MCPS_V1ALPHA1 fetch-with-shared-oidc -o jsonpath='{.status.phase}: {.status.message}' | grep -qxF 'Failed: spec.oidcConfigRef is not implemented by this operator yet: the MCP server is not run while set, so that it never runs without the protection asked for'" ||
        { t_fail "fetch-with-shared-oidc: $(kubectl -n $ns get mcpserver fetch-with-shared-oidc -o jsonpath='{.status.phase}: {.status.message}')"; return 1; }
    t_check "nothing created for it" bash -c "! kubectl -n $ns get deployment fetch-with-shared-oidc 2>/dev/null" || return 1
    # the others are reconciled (their pods are the node tests' business)
    local n
    for n in toolhive-system/github toolhive-system/mkp default/my-server default/sample-with-pod-template; do
        t_eventually 60 reconciled "${n#*/}" "${n%/*}" || { t_fail "$n not reconciled"; return 1; }
    done
    kubectl delete -f "$TH" --ignore-not-found --wait=false >/dev/null 2>&1
    kubectl delete namespace $ns --wait=false >/dev/null 2>&1
    kubectl -n default delete mcpservers --all --wait=false >/dev/null 2>&1
}

t_test "upgrade from the v1alpha1-only CRD: both versions served, conversion configured, no child written" upgrade
[[ $T_STATE == failed ]] && { op_logs; t_summary; exit 1; }
t_test "round trips of random objects of each version through the API server: byte-equal" round_trips
t_test "ToolHive v0.44.0's examples apply as they are" toolhive_examples
kubectl delete namespace $NS --wait=false >/dev/null 2>&1
op_uninstall --crd >/dev/null 2>&1
t_summary
