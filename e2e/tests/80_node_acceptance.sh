#!/usr/bin/env bash
# Acceptance on the local cluster's node (issues 10 and 12): the operator runs
# in-cluster, every sample runs, and a real MCP client talks to each one.
#   - `helm install` of charts/mcp-operator with the chart's own images
#     (ghcr.io/mcp-operator/...:<appVersion>, pulled by the node's containerd
#     from the local registry): webhook and controller run as Pods, the API
#     server calls the webhook through its Service, the controller runs as
#     the chart's ServiceAccount (not cluster-admin); `helm test` passes;
#   - every config/samples/*.yaml (the two seed examples among them) reaches
#     Running (`kubectl wait --for=condition=Ready`), and the Python `mcp` SDK
#     (1.x and 2.x, test/proxy/e2e_client.py) lists the tools and calls one
#     through Service mcp-<name>-proxy's ClusterIP (routed to the node by the
#     machine): stdio (fetch, time, github), sse and streamable-http
#     (everything, and ToolHive's tool-filter example with its tools/list
#     filtered and other calls refused). fetch fetches a page served
#     in-cluster; github gets its
#     token only through a secretKeyRef, and the token is in no object,
#     Event or log;
#   - broken MCPServers (image not found, an HTTP server's wrong targetPort,
#     a missing Secret, a crash loop) say why in the status, the Message
#     column, a Warning Event and the controller's log; a refused apply
#     prints no warnings;
#   - resilience: after the MCP server pod is deleted, the proxy pod is
#     deleted, and the server's container is killed in place, a tools/call
#     succeeds again within 30 s; a StatefulSet or headless Service deleted
#     by hand comes back; deleting the MCPServer leaves nothing.
# One cluster for all cases (the suite's). Needs the images in the local
# registry (`make images-local`, run first when they are missing).
set -u
# shellcheck source=../node/prologue.sh
. "$(dirname "${BASH_SOURCE[0]}")/../node/prologue.sh"

NS=acc
TOKEN=ghp-e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
TMP=$E2E_WORK/80_node
mkdir -p "$TMP"

cleanup() {
  kubectl delete namespace "$NS" toolhive-system --ignore-not-found --wait=false >/dev/null 2>&1
}
trap cleanup EXIT

images() { ensure_images; }

install() {
  t_check "helm install" op_install || { op_logs; return 1; }
  local sa_ctl sa
  sa_ctl=$(_op_component_name controller)
  for c in webhook controller; do
    t_check "$c pod Running" kubectl -n "$OP_NS" wait --for=condition=Ready pod \
      -l "app.kubernetes.io/instance=$OP_RELEASE,app.kubernetes.io/component=$c" --timeout=60s || return 1
  done
  expect_eq "images" "$(kubectl -n "$OP_NS" get pods -o jsonpath='{.items[*].spec.containers[0].image}' | tr ' ' '\n' | sort | tr '\n' ' ')" \
    "ghcr.io/mcp-operator/mcp-controller:${OP_IMAGE_TAG:-$APP_VERSION} ghcr.io/mcp-operator/mcp-webhook:${OP_IMAGE_TAG:-$APP_VERSION} " || return 1
  expect_eq "webhook reached through its Service" \
    "$(kubectl get validatingwebhookconfigurations,mutatingwebhookconfigurations -l "app.kubernetes.io/instance=$OP_RELEASE" -o json |
      jq -c '[.items[].webhooks[].clientConfig | {url, svc: .service.name}] | unique')" \
    "[{\"url\":null,\"svc\":\"$(_op_component_name webhook)\"}]" || return 1
  sa=$(kubectl -n "$OP_NS" get pods -l "app.kubernetes.io/component=controller" -o jsonpath='{.items[0].spec.serviceAccountName}')
  expect_eq "controller ServiceAccount" "$sa" "$sa_ctl" || return 1
  expect_eq "controller is not cluster-admin" \
    "$(kubectl auth can-i '*' '*' --as="system:serviceaccount:$OP_NS:$sa" 2>/dev/null)" "no" || return 1
  expect_eq "controller cannot delete nodes" \
    "$(kubectl auth can-i delete nodes --as="system:serviceaccount:$OP_NS:$sa" 2>/dev/null)" "no" || return 1
  t_check "helm test" helm test "$OP_RELEASE" -n "$OP_NS" --timeout 120s || return 1
}

samples() {
  # a previous run's namespaces may still be terminating, and an earlier test
  # file (40_walkthrough applies ToolHive's tool-filter example) may have left
  # toolhive-system: start from none of them
  kubectl delete namespace "$NS" toolhive-system --ignore-not-found --timeout=180s >/dev/null 2>&1
  kubectl wait --for=delete namespace "$NS" toolhive-system --timeout=60s >/dev/null 2>&1
  t_check "namespaces" bash -c "kubectl create namespace $NS && kubectl create namespace toolhive-system" || return 1
  # the token only ever travels in this Secret
  t_check "secret" kubectl -n "$NS" create secret generic github-token --from-literal=token="$TOKEN" || return 1
  t_check "static page" kubectl -n "$NS" apply -f e2e/node/static-page.yaml || return 1
  local f
  for f in config/samples/*.yaml; do
    if grep -q '^  namespace:' "$f"; then
      t_check "apply $f" kubectl apply -f "$f" || return 1
    else
      t_check "apply $f" kubectl -n "$NS" apply -f "$f" || return 1
    fi
  done
  # (earlier test files may have left MCPServers elsewhere: only ours)
  SAMPLES=$(for n in "$NS" toolhive-system; do
    kubectl -n "$n" get mcpservers -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}'
  done)
  [[ $(wc -l <<<"$SAMPLES") -ge 8 ]] || { t_fail "expected 8 MCPServers, got: $SAMPLES"; return 1; }
  local s
  for s in $SAMPLES; do
    t_check "$s Ready" kubectl -n "${s%/*}" wait --for=condition=Ready "mcpserver/${s#*/}" --timeout=240s ||
      { kubectl -n "${s%/*}" describe "mcpserver/${s#*/}" | tail -20; kubectl -n "${s%/*}" get pods; return 1; }
    expect_eq "$s phase" "$(kubectl -n "${s%/*}" get "mcpserver/${s#*/}" -o jsonpath='{.status.phase}')" Running || return 1
  done
  t_check "static page Ready" kubectl -n "$NS" wait --for=condition=Ready pod/static-page --timeout=120s || return 1
}

# stdio servers: both SDKs, streamable HTTP and SSE
stdio_time() {
  mcp_call time "$NS" time mcp2 mcp:modern,mcp:legacy,sse:auto || return 1
  mcp_call time "$NS" time mcp1 mcp:legacy,sse:legacy || return 1
  mcp_call time "$NS" time-all-fields mcp2 mcp:modern || return 1
  # and through `kubectl port-forward`, as from a machine without a route to the Service CIDR
  local port pf rc
  port=$((20000 + RANDOM % 10000))
  kubectl -n "$NS" port-forward service/mcp-time-all-fields-proxy "$port:9090" >"$TMP/pf.log" 2>&1 &
  pf=$!
  t_eventually 20 grep -q Forwarding "$TMP/pf.log"
  timeout 60 "$MCP_VENV/mcp2/bin/python" test/proxy/e2e_client.py --url "http://127.0.0.1:$port" \
    --server time --runs mcp:modern,sse:auto --calls 1
  rc=$?
  kill "$pf" 2>/dev/null
  wait "$pf" 2>/dev/null
  ((rc == 0)) || { t_fail "tools/call through kubectl port-forward failed: $(tail -n 3 "$TMP/pf.log")"; return 1; }
}

stdio_fetch() {
  local page="http://static-page.$NS.svc.cluster.local/"
  # the seed's fetch server (no arguments) refuses cluster addresses: the
  # refusal comes from the real server, through the proxy
  mcp_call fetch "$NS" fetch mcp2 mcp:modern --fetch-url "$page" >"$TMP/fetch-refused" 2>&1
  t_check "seed fetch refuses private addresses" grep -q 'not a public address' "$TMP/fetch-refused" || return 1
  mcp_call fetch "$NS" fetch-restricted mcp1 mcp:legacy --fetch-url "$page" >"$TMP/fetch-refused2" 2>&1
  t_check "fetch-restricted refuses private addresses" grep -q 'not a public address' "$TMP/fetch-refused2" || return 1
  # ToolHive's tool-filter example, verbatim: streamable-http, tools [fetch], the gofetch
  # stand-in (images/local.sh: mcp-server-fetch --allow-private-ips behind PyPI's mcp-proxy).
  # tools/list through mcp-fetch-proxy is exactly [fetch], another tool is refused by the
  # proxy ("not in this server's tool filter"), and the in-cluster page is fetched
  expect_eq "tool-filter example image" "$(kubectl -n toolhive-system get statefulset fetch \
    -o jsonpath='{.spec.template.spec.containers[?(@.name=="mcp")].image}')" ghcr.io/stackloklabs/gofetch/server || return 1
  mcp_call fetch toolhive-system fetch mcp2 mcp:auto,mcp:legacy --tools fetch --refused get-env \
    --fetch-url "$page" || return 1
  mcp_call fetch toolhive-system fetch mcp1 mcp:legacy --tools fetch --refused get-env --fetch-url "$page" || return 1
  # and so does the seed's, given the flag
  t_check "patch fetch args" kubectl -n "$NS" patch mcpserver fetch --type=merge -p '{"spec":{"args":["--allow-private-ips"]}}' || return 1
  t_eventually 60 mcp_call fetch "$NS" fetch mcp2 mcp:modern --fetch-url "$page" || return 1
}

# HTTP servers of the handshake era, bridged: 2026-07-28 clients too, and either client
# transport in front of either server transport
http_everything() {
  mcp_call everything "$NS" everything mcp2 mcp:modern,mcp:legacy,sse:legacy || return 1
  mcp_call everything "$NS" everything mcp1 mcp:legacy,sse:legacy || return 1
  mcp_call everything "$NS" everything-sse mcp2 sse:modern,mcp:modern,sse:legacy || return 1
  mcp_call everything "$NS" everything-sse mcp1 sse:legacy,mcp:legacy || return 1
}

github_secret() {
  mcp_call github "$NS" github mcp2 mcp:modern || return 1
  mcp_call github "$NS" github mcp1 sse:legacy || return 1
  local env
  env=$(kubectl -n "$NS" get statefulset github -o json | jq -c '.spec.template.spec.containers[] | select(.name == "mcp") | .env')
  t_check "token from a secretKeyRef" jq -e 'any(.[]; .valueFrom.secretKeyRef == {"name": "github-token", "key": "token"})' <<<"$env" || return 1
  token_nowhere "$TOKEN" "$TMP" || return 1
}

# broken MCPServers say why, in the status, the Message column, a Warning
# Event of the same reason and the controller's log; a refused apply has no
# warnings
broken() {
  kubectl -n "$NS" apply -f - >/dev/null <<'YAML' || { t_fail "apply"; return 1; }
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata: {name: no-image}
spec: {image: docker.io/mcp/no-such-image:1, permissionProfile: {type: builtin, name: none}}
---
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata: {name: wrong-port}
spec:
  image: docker.io/mcp/everything:latest
  args: ["streamableHttp"]
  transport: streamable-http
  targetPort: 3002
  permissionProfile: {type: builtin, name: none}
---
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata: {name: no-secret}
spec:
  image: docker.io/mcp/time
  secrets: [{name: absent-token, key: token, targetEnvName: TOKEN}]
  permissionProfile: {type: builtin, name: none}
---
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata: {name: crashing}
spec:
  image: docker.io/mcp/time
  args: ["--no-such-flag"]
  permissionProfile: {type: builtin, name: none}
YAML
  # NAME|REASON|MESSAGE (a glob: * stands for the pod's address)
  local n reason want ip out
  while IFS='|' read -r n reason want; do
    # shellcheck disable=SC2016 # $0 is the inner shell's
    t_eventually 120 bash -c '[[ $(kubectl -n "$1" get mcpserver "$2" -o jsonpath="{.status.message}") == $0 ]]' "$want" "$NS" "$n" ||
      { t_fail "$n: $(kubectl -n "$NS" get mcpserver "$n" -o jsonpath='{.status.phase}: {.status.message}'), want: $want"; return 1; }
    expect_eq "$n: Ready reason" \
      "$(kubectl -n "$NS" get mcpserver "$n" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')" "$reason" || return 1
    # shellcheck disable=SC2016
    t_eventually 20 bash -c 'kubectl -n "$1" get events --field-selector "involvedObject.name=$2,type=Warning,reason=$3" \
        -o jsonpath="{.items[*].message}" | grep -qF "$0"' "${want%%\**}" "$NS" "$n" "$reason" ||
      { t_fail "$n: no Warning Event $reason: $(kubectl -n "$NS" get events --field-selector "involvedObject.name=$n" -o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}')"; return 1; }
  done <<EOF
no-image|ImageNotFound|MCP server pod failed: image "docker.io/mcp/no-such-image:1" not found: the registry has no such name or tag; check spec.image
wrong-port|ProxyNotReady|MCP server is starting: waiting for the proxy to be ready: the MCP server cannot be reached: connection refused to *:3002
no-secret|SecretNotFound|MCP server is starting: secret "absent-token" not found: create it with kubectl create secret generic absent-token -n $NS --from-literal=token=...
crashing|CrashLoopBackOff|MCP server pod failed: CrashLoopBackOff (exit code 2)
EOF
  ip=$(kubectl -n "$NS" get pod wrong-port-0 -o jsonpath='{.status.podIP}')
  expect_eq "wrong-port: the MCP server pod's address" \
    "$(kubectl -n "$NS" get mcpserver wrong-port -o jsonpath='{.status.message}' | grep -o 'to [^ ]*$')" "to $ip:3002" || return 1
  t_check "Message column" bash -c "kubectl -n $NS get mcpserver no-image | grep -F Failed | grep -qF 'not found: the registry has no such name or tag'" || return 1
  t_check "controller log" bash -c "kubectl -n $OP_NS logs -l app.kubernetes.io/component=controller --tail=-1 | grep -F '\"MCP server not running\"' | grep -qF '\"name\":\"no-image\"'" || return 1
  # a refused object gets its error and no warnings (it has no permissionProfile)
  out=$(kubectl -n "$NS" apply -f - 2>&1 <<'YAML'
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata: {name: refused}
spec: {image: docker.io/mcp/time, port: 70000}
YAML
)
  grep -qF 'spec.port: Invalid value: 70000' <<<"$out" || { t_fail "not refused: $out"; return 1; }
  if grep -q 'Warning' <<<"$out"; then t_fail "a refused apply printed a warning: $out"; return 1; fi
  t_check "delete" kubectl -n "$NS" delete mcpserver no-image wrong-port no-secret crashing --wait=false || return 1
}

# server_back NAME OLD_UID SERVER RUNS: pod NAME-0 is a new one and a tools/call works
server_back() {
  local u
  u=$(kubectl -n "$NS" get pod "$1-0" -o jsonpath='{.metadata.uid}' 2>/dev/null)
  [[ -n $u && $u != "$2" ]] && MCP_CALL_TIMEOUT=10 mcp_call "$3" "$NS" "$1" mcp2 "$4" >/dev/null 2>&1
}

# proxy_back NAME OLD_POD SERVER RUNS: the Service's endpoints are other pods, and a tools/call works
proxy_back() {
  local eps
  eps=$(kubectl -n "$NS" get endpointslices -l "kubernetes.io/service-name=mcp-$1-proxy" \
    -o jsonpath='{range .items[*].endpoints[?(@.conditions.ready==true)]}{.targetRef.name}{" "}{end}')
  [[ -n $eps && " $eps " != *" $2 "* ]] && MCP_CALL_TIMEOUT=10 mcp_call "$3" "$NS" "$1" mcp2 "$4" >/dev/null 2>&1
}

# restarted NAME OLD_COUNT SERVER RUNS: NAME-0's mcp container restarted in place, and a tools/call works
restarted() {
  local n
  n=$(kubectl -n "$NS" get pod "$1-0" -o jsonpath='{.status.containerStatuses[?(@.name=="mcp")].restartCount}')
  [[ -n $n ]] && ((n > $2)) && MCP_CALL_TIMEOUT=10 mcp_call "$3" "$NS" "$1" mcp2 "$4" >/dev/null 2>&1
}

# resilient NAME SERVER RUNS: the three disruptions, each healed within 30 s
resilient() {
  local name=$1 server=$2 runs=$3 t0 uid pod n
  uid=$(kubectl -n "$NS" get pod "$name-0" -o jsonpath='{.metadata.uid}')
  t0=$SECONDS
  t_check "delete $name-0" kubectl -n "$NS" delete pod "$name-0" --wait=false || return 1
  t_eventually 30 server_back "$name" "$uid" "$server" "$runs" ||
    { t_fail "$name: no tools/call on a new server pod within 30 s of deleting it"; return 1; }
  echo "# $name: tools/call on a new server pod $((SECONDS - t0)) s after deleting the old one"

  pod=$(kubectl -n "$NS" get pods -l "app.kubernetes.io/instance=$name,app.kubernetes.io/name=mcpserver" -o jsonpath='{.items[0].metadata.name}')
  [[ -n $pod ]] || { t_fail "no proxy pod for $name"; return 1; }
  t0=$SECONDS
  t_check "delete $pod" kubectl -n "$NS" delete pod "$pod" --wait=false || return 1
  t_eventually 30 proxy_back "$name" "$pod" "$server" "$runs" ||
    { t_fail "$name: no tools/call through a new proxy pod within 30 s of deleting the old one"; return 1; }
  echo "# $name: tools/call through a new proxy pod $((SECONDS - t0)) s after deleting the old one"

  n=$(kubectl -n "$NS" get pod "$name-0" -o jsonpath='{.status.containerStatuses[?(@.name=="mcp")].restartCount}')
  t0=$SECONDS
  t_check "kill the mcp container of $name-0" kill_container "$NS" "$name-0" mcp || return 1
  t_eventually 30 restarted "$name" "$n" "$server" "$runs" ||
    { t_fail "$name: no tools/call within 30 s of killing the container (restarts: $n -> $(kubectl -n "$NS" get pod "$name-0" -o jsonpath='{.status.containerStatuses[0].restartCount}'))"; return 1; }
  echo "# $name: tools/call $((SECONDS - t0)) s after killing the container in place"
}

resilience() {
  resilient time time mcp:modern || return 1
  resilient everything everything mcp:modern || return 1
}

recreated() {
  local uid
  uid=$(kubectl -n "$NS" get statefulset everything-sse -o jsonpath='{.metadata.uid}')
  t_check "delete statefulset" kubectl -n "$NS" delete statefulset everything-sse || return 1
  t_eventually 30 bash -c "u=\$(kubectl -n $NS get statefulset everything-sse -o jsonpath='{.metadata.uid}') && [ -n \"\$u\" ] && [ \"\$u\" != $uid ]" ||
    { t_fail "StatefulSet not recreated"; return 1; }
  uid=$(kubectl -n "$NS" get service mcp-everything-sse-headless -o jsonpath='{.metadata.uid}')
  t_check "delete headless service" kubectl -n "$NS" delete service mcp-everything-sse-headless || return 1
  t_eventually 30 bash -c "u=\$(kubectl -n $NS get service mcp-everything-sse-headless -o jsonpath='{.metadata.uid}') && [ -n \"\$u\" ] && [ \"\$u\" != $uid ]" ||
    { t_fail "headless Service not recreated"; return 1; }
  t_check "Ready again" kubectl -n "$NS" wait --for=condition=Ready mcpserver/everything-sse --timeout=90s || return 1
  # the proxy reaches the server pod by the IP its watch learns, not by the
  # headless Service's name (CoreDNS caches its answers, NXDOMAIN too, for
  # up to 30 s): the data path is back as soon as the pod is
  local t0=$SECONDS
  t_eventually 30 mcp_call everything "$NS" everything-sse mcp2 sse:auto || return 1
  echo "# tools/call again $((SECONDS - t0)) s after the headless Service came back"
}

nothing_left() {
  t_check "delete MCPServer" kubectl -n "$NS" delete mcpserver everything-sse --wait=true --timeout=60s || return 1
  t_eventually 60 bash -c "[ -z \"\$(kubectl -n $NS get all,serviceaccounts,rolebindings,roles,networkpolicies,configmaps,poddisruptionbudgets -o name | grep everything-sse)\" ]" ||
    { t_fail "left: $(kubectl -n "$NS" get all,serviceaccounts,rolebindings,roles,networkpolicies,configmaps -o name | grep everything-sse | tr '\n' ' ')"; return 1; }
}

# step NAME FUNC: t_test, then how long it took
step() {
  local t0=$SECONDS
  t_test "$@"
  echo "# $((SECONDS - t0)) s: $1"
  [[ $T_STATE != failed ]]
}

step "images in the local registry, MCP clients installed" images
step "operator installed in-cluster by helm (Pods, Service, own ServiceAccount, helm test)" install || { t_summary; exit 1; }
step "every sample Running" samples || { kubectl get pods -A; op_logs; t_summary; exit 1; }
step "stdio: time (SDK 1.x and 2.x, /mcp and /sse)" stdio_time
step "fetch of an in-cluster page (stdio), ToolHive's tool-filter example (streamable-http)" stdio_fetch
step "streamable-http and sse: everything, bridged for both eras and transports" http_everything
step "stdio: github, token only from a secretKeyRef" github_secret
step "broken MCPServers say why: status, Message column, Event, log" broken
step "resilience: pod, proxy pod, container restart" resilience
step "StatefulSet and headless Service recreated" recreated
step "deleting an MCPServer leaves nothing" nothing_left
step "helm uninstall" op_uninstall
t_summary
