#!/usr/bin/env bash
# Harness self-test: checks that the local control plane (cluster.sh) behaves
# like a real cluster for what the e2e tests need. Requires a running cluster;
# uses KUBECONFIG if set, otherwise `cluster.sh env`.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=lib.sh
. "$HERE/lib.sh"

if [[ -z ${KUBECONFIG:-} ]]; then
  eval "$("$HERE/cluster.sh" env)" || { echo "cluster not up" >&2; exit 1; }
fi
eval "$("$HERE/build.sh" paths)"
KUBECTL=${MCP_KUBECTL:-$K8S_BIN_DIR/kubectl}
HELM=${MCP_HELM:-$HELM_BIN_DIR/helm}
K8S_VERSION=$(awk '$1=="k8s.io/kubernetes" && $2 ~ /^v/ {print $2; exit}' "$ROOT/tools/k8s/go.mod")
HELM_VERSION=$(awk '$1 ~ /^helm\.sh\/helm\// && $2 ~ /^v/ {print $2; exit}' "$ROOT/tools/helm/go.mod")

NS=harness-$$-$RANDOM
TMP=$(mktemp -d)
cleanup() {
  "$KUBECTL" delete namespace "$NS" --ignore-not-found --wait=false >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

k() { "$KUBECTL" "$@"; }

# ---------------------------------------------------------------- tests
test_server_version() {
  t_check "kubectl version" k version -o json || return 1
  local out=$T_LAST_OUTPUT
  grep -q "\"gitVersion\": \"$K8S_VERSION\"" <<<"$(sed -n '/serverVersion/,$p' <<<"$out")" ||
    { t_fail "server version is not $K8S_VERSION: $(tr -d '\n ' <<<"$out")"; return 1; }
  grep -q "\"gitVersion\": \"$K8S_VERSION\"" <<<"$(sed -n '/clientVersion/,/}/p' <<<"$out")" ||
    { t_fail "client version is not $K8S_VERSION"; return 1; }
}

test_readyz() {
  t_check "readyz" k get --raw='/readyz' || return 1
  [[ $T_LAST_OUTPUT == ok ]] || t_fail "readyz: $T_LAST_OUTPUT"
}

test_namespace_sa() {
  t_check "create namespace" k create namespace "$NS" || return 1
  # serviceaccount controller creates "default", root-ca-cert-publisher the CA configmap
  t_eventually 30 k -n "$NS" get serviceaccount default || return 1
  t_eventually 30 k -n "$NS" get configmap kube-root-ca.crt || return 1
}

test_token() {
  t_check "create token" k -n "$NS" create token default --duration=10m || return 1
  local tok=$T_LAST_OUTPUT server tls
  [[ $tok == *.*.* ]] || { t_fail "not a JWT: $tok"; return 1; }
  server=${MCP_CLUSTER_API_URL:-$(k config view --minify -o jsonpath='{.clusters[0].cluster.server}')}
  if [[ -n ${MCP_CLUSTER_CA:-} ]]; then tls=--certificate-authority=$MCP_CLUSTER_CA; else tls=--insecure-skip-tls-verify; fi
  # authenticate with the token only (no kubeconfig, hence no client cert)
  t_check "whoami with token" k --token="$tok" --kubeconfig=/dev/null --server="$server" "$tls" \
    auth whoami -o jsonpath='{.status.userInfo.username}' || return 1
  [[ $T_LAST_OUTPUT == "system:serviceaccount:$NS:default" ]] || t_fail "whoami: $T_LAST_OUTPUT"
}

rs_for_web() {
  k -n "$NS" get rs -l app=web -o jsonpath='{range .items[*]}{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}{"\n"}{end}' |
    grep -qx 'Deployment/web'
}
pending_pod() {
  [[ $(k -n "$NS" get pods -l app=web -o jsonpath='{.items[*].status.phase}') == Pending ]]
}
no_rs() {
  [[ -z $(k -n "$NS" get rs -l app=web -o name) ]]
}
no_pods() {
  [[ -z $(k -n "$NS" get pods -l app=web -o name) ]]
}

test_deployment() {
  t_check "create deployment" k -n "$NS" create deployment web --image=registry.k8s.io/pause:3.10 || return 1
  t_eventually 30 rs_for_web || return 1
  t_eventually 30 pending_pod || return 1
}

test_gc() {
  t_check "delete deployment" k -n "$NS" delete deployment web --wait=false || return 1
  t_eventually 30 no_rs || return 1
  t_eventually 30 no_pods || return 1
}

test_helm_version() {
  t_check "helm version" "$HELM" version || return 1
  [[ $T_LAST_OUTPUT == *"$HELM_VERSION"* ]] || t_fail "helm version: $T_LAST_OUTPUT"
}

test_helm_template() {
  local c=$TMP/chart
  mkdir -p "$c/templates"
  cat >"$c/Chart.yaml" <<'EOF'
apiVersion: v2
name: harness
version: 0.1.0
EOF
  printf 'greeting: hello\n' >"$c/values.yaml"
  cat >"$c/templates/cm.yaml" <<'EOF'
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-cm
  namespace: {{ .Release.Namespace }}
data:
  greeting: {{ .Values.greeting | quote }}
EOF
  t_check "helm template" "$HELM" template rel "$c" -n "$NS" --set greeting=world || return 1
  local out=$T_LAST_OUTPUT
  grep -q 'name: rel-cm' <<<"$out" && grep -q 'greeting: "world"' <<<"$out" ||
    { t_fail "unexpected render: $out"; return 1; }
  # and the rendered manifest is accepted by the API server
  t_check "server dry-run" k apply --dry-run=server -f - <<<"$out" || return 1
}

test_namespace_delete() {
  t_check "delete namespace" k delete namespace "$NS" --wait=false || return 1
  t_eventually 60 bash -c "! '$KUBECTL' get namespace '$NS' >/dev/null 2>&1" || return 1
}

t_test "apiserver /readyz" test_readyz
t_test "kubectl version shows server $K8S_VERSION" test_server_version
t_test "namespace gets default ServiceAccount and root CA" test_namespace_sa
t_test "kubectl create token authenticates" test_token
t_test "Deployment creates ReplicaSet and Pending Pod" test_deployment
t_test "deleting Deployment garbage-collects ReplicaSet and Pods" test_gc
t_test "helm version is $HELM_VERSION" test_helm_version
t_test "helm template renders a chart" test_helm_template
t_test "namespace deletion is finalized" test_namespace_delete

t_summary
