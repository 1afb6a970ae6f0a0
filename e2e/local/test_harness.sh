#!/usr/bin/env bash
# Harness self-test: checks that the local cluster (cluster.sh) behaves like a
# real cluster for what the e2e tests need: the control plane and, when the
# cluster has a node (MCP_CLUSTER_NODE_NAME set by `cluster.sh env`), the node:
# pods run, CoreDNS answers for cluster.local only, ClusterIPs are reachable
# from the machine, kubectl logs/exec/attach/port-forward work, and the egress
# firewall is in place. Requires a running cluster; uses KUBECONFIG if set,
# otherwise `cluster.sh env`.
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

NODE=${MCP_CLUSTER_NODE_NAME:-}
NS=harness-$$-$RANDOM
TMP=$(mktemp -d)
PF_PID=""
cleanup() {
  [[ -n $PF_PID ]] && kill "$PF_PID" 2>/dev/null
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
pod_phase_is() { # PHASE: the web Deployment's one pod is in it
  [[ $(k -n "$NS" get pods -l app=web -o jsonpath='{.items[*].status.phase}') == "$1" ]]
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
  # without a node nothing schedules the pod; with one it runs
  if [[ -n $NODE ]]; then t_eventually 60 pod_phase_is Running; else t_eventually 30 pod_phase_is Pending; fi
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

# ---------------------------------------------------------------- node
# A throwaway image for the node tests (lib.sh's node_test_image): Debian's
# static busybox on an empty base, pushed to the local registry under the
# project's own name.
TEST_IMAGE=$NODE_TEST_IMAGE
push_test_image() { t_check "push $TEST_IMAGE" node_test_image; }

test_node_ready() {
  t_check "get node" k get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' || return 1
  [[ $T_LAST_OUTPUT == True ]] || { t_fail "node $NODE Ready=$T_LAST_OUTPUT"; return 1; }
  t_check "nodes" k get nodes -o name || return 1
  [[ $T_LAST_OUTPUT == "node/$NODE" ]] || t_fail "nodes: $T_LAST_OUTPUT"
}

test_coredns() {
  t_check "coredns deployment" k -n kube-system get deployment coredns -o jsonpath='{.status.availableReplicas}' || return 1
  [[ $T_LAST_OUTPUT == 1 ]] || { t_fail "coredns available replicas: $T_LAST_OUTPUT"; return 1; }
  t_check "kube-dns service" k -n kube-system get service kube-dns -o jsonpath='{.spec.clusterIP}' || return 1
  local ip=$T_LAST_OUTPUT cidr=${MCP_CLUSTER_SERVICE_CIDR%/*}
  # like kubeadm: the 10th address of the service CIDR
  [[ $ip == "${cidr%.*}.10" && $ip == "${MCP_CLUSTER_DNS_IP:-}" ]] || t_fail "kube-dns at $ip (service CIDR $MCP_CLUSTER_SERVICE_CIDR)"
}

# pod "box": a web server (logs a line, serves /www) and a stdin echo loop
test_pod_runs() {
  push_test_image || return 1
  t_check "create pod" k -n "$NS" apply -f - <<EOF || return 1
apiVersion: v1
kind: Pod
metadata:
  name: box
  labels: {app: box}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: web
    image: $TEST_IMAGE
    command: [/bin/sh, -c, 'mkdir -p /www && echo hello-from-box >/www/index.html && echo box-started && exec httpd -f -p 8080 -h /www']
    ports: [{containerPort: 8080}]
  - name: echo
    image: $TEST_IMAGE
    stdin: true
    command: [/bin/sh, -c, 'while read -r l; do echo "got:\$l"; done']
---
apiVersion: v1
kind: Service
metadata:
  name: box
spec:
  selector: {app: box}
  ports: [{port: 80, targetPort: 8080}]
EOF
  t_check "pod ready" k -n "$NS" wait --for=condition=Ready pod/box --timeout=90s || return 1
  t_check "pod ip" k -n "$NS" get pod box -o jsonpath='{.status.podIP}' || return 1
  [[ $T_LAST_OUTPUT == "${MCP_CLUSTER_POD_CIDR%.*}."* ]] || t_fail "pod IP $T_LAST_OUTPUT not in $MCP_CLUSTER_POD_CIDR"
}

test_logs() {
  t_eventually 20 bash -c "'$KUBECTL' -n '$NS' logs box -c web | grep -qx box-started" || return 1
}

test_exec() {
  t_check "exec" k -n "$NS" exec box -c web -- sh -c 'echo $((6 * 7))' || return 1
  [[ $T_LAST_OUTPUT == 42 ]] || { t_fail "exec printed: $T_LAST_OUTPUT"; return 1; }
  t_check "exec -i" bash -c "echo through-stdin | '$KUBECTL' -n '$NS' exec -i box -c web -- cat" || return 1
  [[ $T_LAST_OUTPUT == through-stdin ]] || t_fail "exec -i printed: $T_LAST_OUTPUT"
}

test_attach() {
  # the echo container answers each line written to its stdin
  local out
  out=$( (printf 'ping\n'; sleep 3) | timeout 20 "$KUBECTL" -n "$NS" attach -i box -c echo 2>&1)
  grep -qx 'got:ping' <<<"$out" || t_fail "attach printed: $out"
}

test_port_forward() {
  "$KUBECTL" -n "$NS" port-forward pod/box :8080 >"$TMP/pf.log" 2>&1 &
  PF_PID=$!
  t_eventually 20 grep -q 'Forwarding from 127.0.0.1:' "$TMP/pf.log" || return 1
  local port
  port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$TMP/pf.log" | head -1)
  t_check "curl through port-forward" curl -fsS --max-time 5 "http://127.0.0.1:$port/index.html" || return 1
  [[ $T_LAST_OUTPUT == hello-from-box ]] || t_fail "port-forward served: $T_LAST_OUTPUT"
  kill "$PF_PID" 2>/dev/null; PF_PID=""
}

test_cluster_ip() {
  t_check "service ip" k -n "$NS" get service box -o jsonpath='{.spec.clusterIP}' || return 1
  local ip=$T_LAST_OUTPUT
  t_eventually 30 curl -fsS --max-time 3 "http://$ip/index.html" || return 1
  [[ $T_LAST_OUTPUT == hello-from-box ]] || t_fail "ClusterIP $ip served: $T_LAST_OUTPUT"
}

test_dns() {
  t_check "cluster name" k -n "$NS" exec box -c web -- nslookup "box.$NS.svc.cluster.local" || return 1
  local svc
  svc=$(k -n "$NS" get service box -o jsonpath='{.spec.clusterIP}')
  grep -q "Address: $svc" <<<"$T_LAST_OUTPUT" || { t_fail "box.$NS.svc.cluster.local: $T_LAST_OUTPUT"; return 1; }
  t_check "kubernetes.default" k -n "$NS" exec box -c web -- nslookup kubernetes.default.svc.cluster.local || return 1
  # anything outside the cluster domain is NXDOMAIN, answered by CoreDNS
  # itself (no forward plugin, no resolver of the machine's behind it)
  k -n "$NS" exec box -c web -- nslookup example.com >"$TMP/nx" 2>&1
  grep -q NXDOMAIN "$TMP/nx" || t_fail "example.com: $(tr '\n' ' ' <"$TMP/nx")"
  # and the pods' resolver is the cluster DNS alone
  t_check "resolv.conf" k -n "$NS" exec box -c web -- cat /etc/resolv.conf || return 1
  [[ $(grep -c '^nameserver' <<<"$T_LAST_OUTPUT") == 1 ]] && grep -qx "nameserver $MCP_CLUSTER_DNS_IP" <<<"$T_LAST_OUTPUT" ||
    t_fail "resolv.conf: $T_LAST_OUTPUT"
}

# the egress firewall, inspected (never probed by sending traffic out)
test_firewall() {
  local nsx=(nsenter --net="/proc/$MCP_CLUSTER_NODE_PID/ns/net") slot=$MCP_CLUSTER_NODE_SLOT
  # (in the mangle table, which runs before kube-router's ACCEPTs in filter)
  t_check "node chain" "${nsx[@]}" iptables -w -t mangle -S MCP-NODE-EGRESS || return 1
  local rules=$T_LAST_OUTPUT
  grep -qx -- '-A MCP-NODE-EGRESS -j DROP' <<<"$rules" || { t_fail "no DROP in MCP-NODE-EGRESS: $rules"; return 1; }
  t_check "node FORWARD" "${nsx[@]}" iptables -w -t mangle -S FORWARD || return 1
  grep -qx -- "-A FORWARD -s $MCP_CLUSTER_POD_CIDR -j MCP-NODE-EGRESS" <<<"$T_LAST_OUTPUT" ||
    { t_fail "mangle FORWARD does not send the pods to MCP-NODE-EGRESS: $T_LAST_OUTPUT"; return 1; }
  t_check "host chain" iptables -w -S "MCP-NODE-$slot" || return 1
  grep -qx -- "-A MCP-NODE-$slot -j DROP" <<<"$T_LAST_OUTPUT" || { t_fail "host chain: $T_LAST_OUTPUT"; return 1; }
  t_check "host FORWARD" iptables -w -S FORWARD || return 1
  grep -qx -- "-A FORWARD -i mcpn$slot -j MCP-NODE-$slot" <<<"$T_LAST_OUTPUT" || { t_fail "host FORWARD: $T_LAST_OUTPUT"; return 1; }
  # no way out: the node has no default route, and nothing masquerades the pods
  t_check "node routes" "${nsx[@]}" ip route || return 1
  grep -q '^default' <<<"$T_LAST_OUTPUT" && { t_fail "node has a default route: $T_LAST_OUTPUT"; return 1; }
  t_check "node nat" "${nsx[@]}" iptables -w -t nat -S || return 1
  grep -E -- "-s $MCP_CLUSTER_POD_CIDR .*-j MASQUERADE" <<<"$T_LAST_OUTPUT" && t_fail "pod CIDR masqueraded: $T_LAST_OUTPUT"
  return 0
}

test_pod_deleted() {
  t_check "delete pod" k -n "$NS" delete pod box --wait=true --timeout=60s || return 1
}

t_test "apiserver /readyz" test_readyz
t_test "kubectl version shows server $K8S_VERSION" test_server_version
t_test "namespace gets default ServiceAccount and root CA" test_namespace_sa
t_test "kubectl create token authenticates" test_token
if [[ -n $NODE ]]; then
  t_test "Deployment creates ReplicaSet and a Running Pod" test_deployment
else
  t_test "Deployment creates ReplicaSet and Pending Pod" test_deployment
fi
t_test "deleting Deployment garbage-collects ReplicaSet and Pods" test_gc
t_test "helm version is $HELM_VERSION" test_helm_version
t_test "helm template renders a chart" test_helm_template
if [[ -n $NODE ]]; then
  t_test "node $NODE is Ready and alone" test_node_ready
  t_test "CoreDNS runs in-cluster behind Service kube-dns" test_coredns
  t_test "a pod runs on the node with an IP of the pod CIDR" test_pod_runs
  t_test "kubectl logs" test_logs
  t_test "kubectl exec (with and without stdin)" test_exec
  t_test "kubectl attach -i" test_attach
  t_test "kubectl port-forward" test_port_forward
  t_test "a ClusterIP answers from the machine" test_cluster_ip
  t_test "CoreDNS serves cluster.local and NXDOMAIN for the rest" test_dns
  t_test "egress firewall in place, no default route, no masquerade" test_firewall
  t_test "pod deletion completes" test_pod_deleted
fi
t_test "namespace deletion is finalized" test_namespace_delete

t_summary
