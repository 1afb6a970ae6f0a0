# shellcheck shell=bash
# Helpers of the node acceptance tests (e2e/tests/80_node_acceptance.sh) and
# `make run` (e2e/run-local.sh). Needs KUBECONFIG, kubectl on PATH, and for
# the clients the Python `mcp` SDK virtualenvs under
# ~/.cache/mcp-operator/venv/{mcp1,mcp2} (made by test/proxy/setup_servers.sh).
#
#   mcp_call SERVER NS NAME SDK RUNS [client args...]
#       test/proxy/e2e_client.py with venv SDK (mcp1 | mcp2) against Service
#       mcp-NAME-proxy's ClusterIP: tools/list, then a tools/call checked
#       against what the real server SERVER (time, fetch, everything, github)
#       must answer. RUNS: transport:mode,... (mcp|sse : modern|legacy|auto).
#   expect_eq WHAT GOT WANT      t_fail unless equal
#   registry_has NAME            the local registry serves image NAME
#   ensure_images                the MCP client venvs, and every image of
#                                images/local.sh in the local registry
#                                (make images-local when one is missing)
#   kill_container NS POD CONT   SIGKILL every process of that container on
#                                the node (the kubelet restarts it in place)
#   token_nowhere TOKEN DIR      TOKEN is in no object but Secrets, no Event,
#                                no container log, no cluster component log

APP_VERSION=$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' "${ROOT:-.}/charts/mcp-operator/Chart.yaml")
MCP_VENV=${MCP_VENV:-$HOME/.cache/mcp-operator/venv}

proxy_addr() { # NS NAME -> clusterIP:port of Service mcp-NAME-proxy
  kubectl -n "$1" get service "mcp-$2-proxy" -o jsonpath='{.spec.clusterIP}:{.spec.ports[0].port}'
}

mcp_call() {
  local server=$1 ns=$2 name=$3 sdk=$4 runs=$5 addr
  shift 5
  addr=$(proxy_addr "$ns" "$name") || return 1
  timeout "${MCP_CALL_TIMEOUT:-90}" "$MCP_VENV/$sdk/bin/python" "${ROOT:-.}/test/proxy/e2e_client.py" \
    --url "http://$addr" --server "$server" --runs "$runs" --calls 1 "$@"
}

expect_eq() {
  [[ $2 == "$3" ]] && return 0
  t_fail "$1: got '$2', want '$3'"
  return 1
}

registry_has() {
  local n=$1 path tag
  tag=${n##*:} path=${n%:*}
  path=${path#*/}
  [[ $path == */* ]] || path=library/$path
  [[ $n == docker.io/* || $n == registry.k8s.io/* || $n == ghcr.io/* || $n == quay.io/* ]] || return 1
  [[ $n == registry.k8s.io/* && $path == library/* ]] && path=${path#library/}
  curl -fsS -o /dev/null --max-time 5 \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "http://${MCP_REGISTRY:-127.0.0.1:5000}/v2/$path/manifests/$tag"
}

ensure_images() {
  local missing=0 n
  # the Python mcp SDKs (1.x and 2.x) the clients use; quick when present
  t_check "MCP clients" test/proxy/setup_servers.sh || return 1
  for n in $(images/local.sh list); do
    registry_has "$n" || missing=1
  done
  if ((missing)); then
    t_check "make images-local" make -s images-local || return 1
  fi
}

kill_container() {
  local ns=$1 pod=$2 cont=$3 id uid dir pids
  id=$(kubectl -n "$ns" get pod "$pod" -o jsonpath="{.status.containerStatuses[?(@.name==\"$cont\")].containerID}")
  uid=$(kubectl -n "$ns" get pod "$pod" -o jsonpath='{.metadata.uid}')
  id=${id#*://}
  [[ -n $id && -n $uid ]] || { echo "no container $cont in $ns/$pod"; return 1; }
  dir=$(find "/sys/fs/cgroup/pids/mcp-node-${MCP_CLUSTER_NODE_SLOT:?}" /sys/fs/cgroup/unified/"mcp-node-$MCP_CLUSTER_NODE_SLOT" \
    -maxdepth 5 -type d -path "*pod$uid*" -name "$id" 2>/dev/null | head -1)
  [[ -n $dir ]] || { echo "no cgroup for container $id"; return 1; }
  pids=$(cat "$dir/cgroup.procs")
  [[ -n $pids ]] || { echo "container $id has no processes"; return 1; }
  # shellcheck disable=SC2086
  kill -KILL $pids
}

token_nowhere() {
  local token=$1 dir=$2 res p c hits=""
  res=$(kubectl api-resources --verbs=list -o name | grep -v -x -e secrets | tr '\n' ',')
  kubectl get "${res%,}" -A -o json >"$dir/objects.json" 2>"$dir/objects.err" ||
    { t_fail "listing objects: $(tail -n 3 "$dir/objects.err")"; return 1; }
  [[ -s $dir/objects.json ]] || { t_fail "no objects listed"; return 1; }
  grep -qF "$token" "$dir/objects.json" && hits+=" objects/events"
  : >"$dir/logs.txt"
  while read -r ns p; do
    for c in $(kubectl -n "$ns" get pod "$p" -o jsonpath='{.spec.containers[*].name}'); do
      kubectl -n "$ns" logs "$p" -c "$c" >>"$dir/logs.txt" 2>/dev/null
      kubectl -n "$ns" logs "$p" -c "$c" --previous >>"$dir/logs.txt" 2>/dev/null
    done
  done < <(kubectl get pods -A -o jsonpath='{range .items[*]}{.metadata.namespace} {.metadata.name}{"\n"}{end}')
  [[ -s $dir/logs.txt ]] || { t_fail "no container logs read"; return 1; }
  grep -qF "$token" "$dir/logs.txt" && hits+=" container-logs"
  if [[ -n ${MCP_CLUSTER_LOGS:-} ]] && grep -rqF "$token" "$MCP_CLUSTER_LOGS" 2>/dev/null; then
    hits+=" cluster-logs($(grep -rlF "$token" "$MCP_CLUSTER_LOGS" | tr '\n' ' '))"
  fi
  [[ -z $hits ]] && return 0
  t_fail "the token appears in:$hits"
  return 1
}
