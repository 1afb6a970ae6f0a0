#!/usr/bin/env bash
# Network isolation on the local cluster's node, where kube-router's policy controller
# enforces NetworkPolicy (issue 20), with the chart's images and real MCP
# servers and clients:
#   - permission profiles: the fetch server (--allow-private-ips) with
#     builtin "network" fetches an in-cluster page, with "none" it cannot;
#     with a ConfigMap profile whose allow_host names that page's Service it
#     fetches it through its proxy's forward proxy, while another Service is
#     refused (403 in the tool's error, the rule in the proxy's log and in
#     the body a client of the forward proxy reads), and a direct connection
#     from the MCP server pod, skipping the forward proxy, times out;
#   - the MCP server only behind its proxy: a pod in another namespace, a pod
#     in the same namespace and this machine (outside the node) cannot open a
#     connection to the streamable-HTTP MCP server pod, while tools/call
#     through its proxy works for clients of both eras;
#   - the policy follows the MCPServer: `kubectl patch` from "network" to
#     "none" and back, and the next connection obeys within 10 s;
#   - an edited allow_host reaches the running proxy without a restart.
set -u
# shellcheck source=../node/prologue.sh
. "$(dirname "${BASH_SOURCE[0]}")/../node/prologue.sh"

NS=netiso
OTHER=netiso-other
PAGE=http://static-page.$NS.svc.cluster.local/
OTHER_PAGE=http://other-page.$NS.svc.cluster.local/
TMP=$E2E_WORK/87_netiso
mkdir -p "$TMP"

cleanup() {
  kubectl delete namespace "$NS" "$OTHER" --ignore-not-found --wait=false >/dev/null 2>&1
}
trap cleanup EXIT

# fetch_server NAME PROFILE-YAML: the fetch server, allowed to fetch private
# addresses (the page is in-cluster) and not asking robots.txt first
fetch_server() {
  cat <<EOF
---
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: $1
spec:
  image: docker.io/mcp/fetch
  args: ["--allow-private-ips", "--ignore-robots-txt"]
  permissionProfile:
$2
EOF
}

# probe_pod NAME: a pod with python3 that does nothing but wait for kubectl exec
probe_pod() {
  cat <<EOF
---
apiVersion: v1
kind: Pod
metadata:
  name: $1
spec:
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  terminationGracePeriodSeconds: 0
  containers:
    - name: probe
      image: docker.io/mcp/fetch:latest
      command: ["sleep", "infinity"]
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: ["ALL"]}}
EOF
}

install() {
  t_check "helm install" op_install || { op_logs; return 1; }
  kubectl delete namespace "$NS" "$OTHER" --ignore-not-found --timeout=120s >/dev/null 2>&1
  t_check "namespaces" kubectl create namespace "$NS" || return 1
  t_check "namespace $OTHER" kubectl create namespace "$OTHER" || return 1
  t_check "pages" kubectl -n "$NS" apply -f e2e/node/static-page.yaml || return 1
  t_check "other page" kubectl -n "$NS" apply -f <(sed 's/static-page/other-page/g' e2e/node/static-page.yaml) || return 1
  t_check "probe pods" kubectl -n "$NS" apply -f <(probe_pod probe) || return 1
  t_check "probe pod elsewhere" kubectl -n "$OTHER" apply -f <(probe_pod probe) || return 1
  t_check "MCPServers" kubectl -n "$NS" apply -f - <<EOF || return 1
apiVersion: v1
kind: ConfigMap
metadata:
  name: page-only
data:
  profile.json: |
    {"network": {"outbound": {"allow_host": ["static-page.$NS.svc.cluster.local"], "allow_port": [80]}}}
$(fetch_server fnet "    type: builtin
    name: network")
$(fetch_server fnone "    type: builtin
    name: none")
$(fetch_server fhosts "    type: configmap
    name: page-only
    key: profile.json")
---
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: web
spec:
  image: docker.io/mcp/everything:latest
  args: ["streamableHttp"]
  transport: streamable-http
  port: 8081
  targetPort: 3001
  permissionProfile:
    type: builtin
    name: network
EOF
  t_check "MCPServers Ready" kubectl -n "$NS" wait --for=condition=Ready mcpserver --all --timeout=300s ||
    { kubectl -n "$NS" get mcpserver,pods; op_logs; return 1; }
  t_check "pods Ready" kubectl -n "$NS" wait --for=condition=Ready pod --all --timeout=180s || return 1
  t_check "pod elsewhere Ready" kubectl -n "$OTHER" wait --for=condition=Ready pod/probe --timeout=180s || return 1
}

# fetch NAME URL: the fetch tool's answer through mcp-NAME-proxy, as one line
# {"is_error": bool, "text": "..."} (a 2026-07-28 client of the mcp 2.x SDK)
fetch() {
  local addr
  addr=$(proxy_addr "$NS" "$1") || return 1
  timeout 90 "$MCP_VENV/mcp2/bin/python" - "http://$addr/mcp" "$2" <<'EOF'
import asyncio, json, sys
from mcp.client import Client

async def main():
    async with Client(sys.argv[1], mode="2026-07-28") as c:
        r = await c.call_tool("fetch", {"url": sys.argv[2], "raw": True})
        text = "".join(getattr(x, "text", "") or "" for x in r.content or [])
        print(json.dumps({"is_error": bool(getattr(r, "is_error", False)), "text": text[:600]}))

asyncio.run(main())
EOF
}

fetched() { fetch "$@" 2>&1 | grep -q mcp-proxy-fetch-marker; }

# connects NS POD HOST PORT: a TCP connection from that pod (3 s to connect)
connects() {
  kubectl -n "$1" exec "$2" -- python3 -c \
    'import socket, sys; socket.create_connection((sys.argv[1], int(sys.argv[2])), 3).close()' \
    "$3" "$4" >/dev/null 2>&1
}
refused() { ! connects "$@"; }

svc_ip() { kubectl -n "$NS" get service "$1" -o jsonpath='{.spec.clusterIP}'; }

profiles() {
  local rc=0
  fetch fnet "$PAGE" >"$TMP/fnet" 2>&1
  t_check "network: the page is fetched" grep -q 'mcp-proxy-fetch-marker' "$TMP/fnet" || rc=1
  fetch fnone "$PAGE" >"$TMP/fnone" 2>&1
  if grep -q 'mcp-proxy-fetch-marker' "$TMP/fnone" || ! grep -q '"is_error": true' "$TMP/fnone"; then
    t_fail "none: the page must not be fetched: $(head -c 400 "$TMP/fnone")"
    rc=1
  fi
  echo "# none: $(head -c 200 "$TMP/fnone")"
  fetch fhosts "$PAGE" >"$TMP/fhosts" 2>&1
  t_check "allow_host: the named page is fetched through the proxy" grep -q 'mcp-proxy-fetch-marker' "$TMP/fhosts" ||
    { cat "$TMP/fhosts"; rc=1; }
  fetch fhosts "$OTHER_PAGE" >"$TMP/fhosts-other" 2>&1
  t_check "allow_host: another Service is refused (403 in the tool's error)" \
    grep -q '"is_error": true.*403' "$TMP/fhosts-other" || { cat "$TMP/fhosts-other"; rc=1; }
  echo "# allow_host, other Service: $(head -c 200 "$TMP/fhosts-other")"
  t_eventually 10 grep -q "other-page.$NS.svc.cluster.local.*refused" \
    <(kubectl -n "$NS" logs deployment/fhosts -c proxy) ||
    { t_fail "no refusal of other-page in the proxy's log"; rc=1; }
  echo "# proxy log: $(kubectl -n "$NS" logs deployment/fhosts -c proxy | grep -m1 "other-page.*refused")"
  # what a client of the forward proxy reads: the rule that refused it
  kubectl -n "$NS" exec fhosts-0 -c mcp -- python3 -c '
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=10)
except urllib.error.HTTPError as e:
    print(e.code, e.read().decode()[:300])' "$OTHER_PAGE" >"$TMP/body" 2>&1
  t_check "the refusal names allow_host" grep -q '^403 .*allow_host' "$TMP/body" || { cat "$TMP/body"; rc=1; }
  echo "# forward proxy's answer: $(head -c 300 "$TMP/body")"
  t_check "allow_host: a direct connection from the server pod times out" \
    refused "$NS" fhosts-0 "$(svc_ip static-page)" 80 || rc=1
  t_check "allow_host: the forward proxy is reachable from the server pod" \
    connects "$NS" fhosts-0 "mcp-fhosts-proxy.$NS.svc" 3128 || rc=1
  return $rc
}

ingress() {
  local ip rc=0
  ip=$(kubectl -n "$NS" get pod web-0 -o jsonpath='{.status.podIP}')
  [[ -n $ip ]] || { t_fail "no pod IP for web-0"; return 1; }
  t_check "a pod in another namespace cannot reach the MCP server pod" refused "$OTHER" probe "$ip" 3001 || rc=1
  t_check "a pod in the same namespace cannot reach the MCP server pod" refused "$NS" probe "$ip" 3001 || rc=1
  t_check "this machine cannot reach the MCP server pod" \
    bash -c "! timeout 4 curl -s -o /dev/null -m 3 http://$ip:3001/mcp" || rc=1
  t_check "the proxy's port stays open to a pod" connects "$NS" probe "$(svc_ip mcp-web-proxy)" 8081 || rc=1
  t_check "tools/call through the proxy (2026-07-28 and handshake era)" \
    mcp_call everything "$NS" web mcp2 mcp:modern,mcp:legacy,sse:auto || rc=1
  t_check "tools/call through the proxy (mcp 1.x)" mcp_call everything "$NS" web mcp1 mcp:legacy || rc=1
  return $rc
}

follows_patch() {
  local ip start rc=0
  ip=$(svc_ip static-page)
  t_check "network: fnet-0 connects to the page" connects "$NS" fnet-0 "$ip" 80 || return 1
  t_check "patch to none" kubectl -n "$NS" patch mcpserver fnet --type=merge \
    -p '{"spec":{"permissionProfile":{"type":"builtin","name":"none"}}}' || return 1
  start=$SECONDS
  t_eventually 10 refused "$NS" fnet-0 "$ip" 80 || rc=1
  echo "# none took effect after $((SECONDS - start)) s"
  t_check "patch back to network" kubectl -n "$NS" patch mcpserver fnet --type=merge \
    -p '{"spec":{"permissionProfile":{"type":"builtin","name":"network"}}}' || return 1
  start=$SECONDS
  t_eventually 10 connects "$NS" fnet-0 "$ip" 80 || rc=1
  echo "# network took effect after $((SECONDS - start)) s"
  return $rc
}

reload() {
  local pod restarts start
  pod=$(kubectl -n "$NS" get pods -l app.kubernetes.io/instance=fhosts,app=mcpserver -o jsonpath='{.items[0].metadata.name}')
  restarts=$(kubectl -n "$NS" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')
  t_check "allow_host edited" kubectl -n "$NS" patch configmap page-only --type=merge -p \
    "{\"data\":{\"profile.json\":\"{\\\"network\\\":{\\\"outbound\\\":{\\\"allow_host\\\":[\\\"static-page.$NS.svc.cluster.local\\\",\\\"other-page.$NS.svc.cluster.local\\\"],\\\"allow_port\\\":[80]}}}\"}}" ||
    return 1
  # the kubelet refreshes a mounted ConfigMap on its sync period (about a minute)
  start=$SECONDS
  t_eventually 150 fetched fhosts "$OTHER_PAGE" || return 1
  echo "# the edited allow_host was in force after $((SECONDS - start)) s"
  expect_eq "same proxy pod" "$(kubectl -n "$NS" get pods -l app.kubernetes.io/instance=fhosts,app=mcpserver \
    -o jsonpath='{.items[0].metadata.name}')" "$pod" || return 1
  expect_eq "no restart" "$(kubectl -n "$NS" get pod "$pod" -o jsonpath='{.status.containerStatuses[0].restartCount}')" \
    "$restarts"
}

t_test "images in the local registry, MCP clients installed" ensure_images
t_test "operator installed; fetch servers with three profiles and a streamable-HTTP server Ready" install ||
  { t_summary; exit 1; }
t_test "profiles: network fetches, none cannot, allow_host only the named Service through the proxy" profiles
t_test "the MCP server pod takes connections from its proxy only" ingress
t_test "the policy follows kubectl patch within 10 s" follows_patch
t_test "an edited allow_host reaches the proxy without a restart" reload
t_test "helm uninstall" op_uninstall
t_summary
