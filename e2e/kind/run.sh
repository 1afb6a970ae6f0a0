#!/usr/bin/env bash
# The operator on a kind cluster, everything built on this machine and nothing
# pulled from the internet (`make test-kind`):
#
#   1. Debian's dockerd, its data root, exec root and socket in a temporary
#      directory (e2e/kind/lib.sh: no default bridge, no iptables rules, no
#      masquerading, no IP forwarding)
#   2. the kind node image of e2e/kind/build.sh (built once, then loaded from
#      its cached tarball); the docker network "kind" made here on a bridge
#      whose forwarded traffic the machine drops; `kind create cluster` with
#      e2e/kind/cluster.yaml, the node Ready and kube-system Running
#   3. the operator's images built by Docker (`make images`, the Dockerfile,
#      from the mmdebstrap root fs imported as debian:bookworm(-slim), as
#      `make test-images-docker` does) and the MCP server image taken from the
#      local registry, all `kind load docker-image`d
#   4. `helm install` of charts/mcp-operator as the README tells a user
#   5. a sample MCPServer (config/samples/builtin-none-profile.yaml) Running,
#      and the Python `mcp` SDK (2.x and 1.x) calling a tool through its proxy
#      Service, reached by `kubectl port-forward`
#   6. `kind delete cluster`, the network removed, dockerd stopped and its
#      directory removed: no container, network, bridge, firewall rule, mount
#      or process left, the machine's kernel settings unchanged
#
# Prints "N passed, N failed". KEEP_CLUSTER=1 leaves the cluster and its
# daemon running (the lines to use them are printed; remove them with
# e2e/kind/run.sh down DIR). Needs root, the local registry with the images
# of `make images-local` (make test-kind does both).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
# shellcheck source=../local/lib.sh
. "$ROOT/e2e/local/lib.sh"
# shellcheck source=lib.sh
. "$ROOT/e2e/kind/lib.sh"
# shellcheck source=../../images/versions.env
. "$ROOT/images/versions.env"
kind_paths
eval "$("$ROOT/e2e/local/build.sh" paths)"
export PATH=$K8S_BIN_DIR:$HELM_BIN_DIR:$KIND_BIN_DIR:$PATH
REG=$("$ROOT/e2e/local/registry.sh" addr)
MCP_VENV=${MCP_VENV:-$KIND_CACHE_ROOT/venv}
APP_VERSION=$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' charts/mcp-operator/Chart.yaml)
CLUSTER=mcp-e2e
NS=mcp-kind-smoke
# the sample's image, pinned: the kubelet pulls an untagged or :latest image
# again every time (imagePullPolicy Always), and the node has no registry to
# pull from; a pinned tag is used as kind-loaded (IfNotPresent)
TIME_IMAGE=docker.io/mcp/time:$MCP_SERVER_TIME_VERSION

# the machine's global kernel settings (what a privileged container could
# change for everyone), minus counters
kernel_settings() {
  sysctl -a 2>/dev/null | grep -E '^(kernel|vm|fs|net\.core|net\.netfilter\.nf_conntrack_max|net\.ipv4\.ip_forward )' |
    grep -vE 'random|ns_last_pid|-nr|-state|_nr |nr_|\.stat|perf_event|sched_domain|tainted|printk_ratelimit|overflow|aio-|pty\.nr|fs\.quota|dentry|inode'
}

# the veths named as dockerd names them
docker_veths() { ip -o link show type veth 2>/dev/null | awk -F': ' '{sub(/@.*/, "", $2); print $2}' | grep -E '^veth[0-9a-f]{7}$' | sort; }

# ---------------------------------------------------------------- teardown
W=
BRIDGE=
CHAIN=
LIB_MODULES_MADE=0
PF_PID=
down() {
  local t0=$SECONDS
  [[ -z $PF_PID ]] || { kill "$PF_PID" 2>/dev/null; wait "$PF_PID" 2>/dev/null; PF_PID=; }
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1
    docker network rm kind >/dev/null 2>&1
  fi
  dockerd_stop
  if [[ -n $CHAIN ]]; then
    iptables -D FORWARD -i "$BRIDGE" -j "$CHAIN" 2>/dev/null
    iptables -D FORWARD -o "$BRIDGE" -j "$CHAIN" 2>/dev/null
    iptables -F "$CHAIN" 2>/dev/null
    iptables -X "$CHAIN" 2>/dev/null
  fi
  [[ -z $BRIDGE ]] || ! ip link show "$BRIDGE" >/dev/null 2>&1 || ip link del "$BRIDGE"
  # docker made the machine's /lib/modules for kind's read-only mount of it
  if ((LIB_MODULES_MADE)); then rmdir /lib/modules 2>/dev/null; fi
  [[ -z $W ]] || rm -rf "$W"
  klog "torn down ($((SECONDS - t0))s)"
}
on_exit() {
  if [[ ${KEEP_CLUSTER:-0} == 1 && -n $W && -d $W ]]; then
    {
      echo "KEEP_CLUSTER=1: the cluster and its daemon keep running. To use them:"
      echo "  export DOCKER_HOST=$DOCKER_HOST KUBECONFIG=$W/kubeconfig"
      echo "  export PATH=$KIND_BIN_DIR:$K8S_BIN_DIR:$HELM_BIN_DIR:\$PATH"
      echo "To remove them: kill $DOCKERD_PID and run: $0 down $W $BRIDGE $CHAIN $LIB_MODULES_MADE"
    } >&2
    return
  fi
  down
}

if [[ ${1:-} == down ]]; then
  # the leftovers of a KEEP_CLUSTER=1 run: down DIR BRIDGE CHAIN LIB_MODULES_MADE
  W=${2:?down DIR BRIDGE CHAIN LIB_MODULES_MADE} BRIDGE=${3:-} CHAIN=${4:-} LIB_MODULES_MADE=${5:-0}
  DOCKERD_DIR=$W
  export DOCKER_HOST=unix://$W/docker.sock PATH=$W/bin:$PATH
  DOCKERD_PID=$(cat "$W/dockerd.pid" 2>/dev/null)
  down
  exit 0
fi

[[ $(id -u) == 0 ]] || { echo "e2e/kind/run.sh: needs root"; echo "0 passed, 1 failed"; exit 1; }
W=$(mktemp -d /var/tmp/mcp-kind.XXXXXX)
export KUBECONFIG=$W/kubeconfig
BRIDGE=mcpkind$$
BRIDGE=${BRIDGE:0:15}
[[ -e /lib/modules ]] || LIB_MODULES_MADE=1
KERNEL_BEFORE=$(kernel_settings)
VETHS_BEFORE=$(docker_veths)
T_START=$SECONDS
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- tests
test_daemon() {
  local t0=$SECONDS
  # not under t_check: that runs its command in a subshell (DOCKERD_PID)
  dockerd_start "$W" >"$W.start" 2>&1 || { t_fail "dockerd: $(tail -5 "$W.start" | tr '\n' ' ')"; rm -f "$W.start"; return 1; }
  rm -f "$W.start"
  klog "dockerd $(docker version --format '{{.Server.Version}}') started ($((SECONDS - t0))s), data root $W/data"
}

test_node_image() {
  local t0=$SECONDS
  t_check "e2e/kind/build.sh load" "$ROOT/e2e/kind/build.sh" load || return 1
  eval "$("$ROOT/e2e/kind/build.sh" paths)"
  t_check "node image present" docker image inspect "$KIND_NODE_IMAGE" || return 1
  klog "node image $KIND_NODE_IMAGE ready ($((SECONDS - t0))s)"
}

# node_pod_cidr CIDR: the node's spec.podCIDR is CIDR
node_pod_cidr() {
  local got
  got=$(kubectl get node "$CLUSTER-control-plane" -o jsonpath='{.spec.podCIDR}') || return 1
  [[ $got == "$1" ]] || { echo "node podCIDR '$got', want $1"; return 1; }
}

test_cluster() {
  local t0=$SECONDS
  # kind uses an existing network "kind" as it is: this one's bridge has a
  # known name, and the machine drops whatever would be forwarded to or from
  # it (it forwards nothing anyway: dockerd runs with --ip-forward=false)
  t_check "docker network create" docker network create -d bridge \
    -o com.docker.network.bridge.name="$BRIDGE" \
    -o com.docker.network.bridge.enable_ip_masquerade=false kind || return 1
  CHAIN=MCP-KIND-$$
  if ! { iptables -N "$CHAIN" && iptables -A "$CHAIN" -i "$BRIDGE" -o "$BRIDGE" -j ACCEPT &&
    iptables -A "$CHAIN" -j DROP && iptables -I FORWARD -i "$BRIDGE" -j "$CHAIN" &&
    iptables -I FORWARD -o "$BRIDGE" -j "$CHAIN"; }; then
    t_fail "iptables $CHAIN"
    return 1
  fi
  t_check "kind create cluster" kind create cluster --name "$CLUSTER" --config e2e/kind/cluster.yaml \
    --image "$KIND_NODE_IMAGE" --kubeconfig "$KUBECONFIG" --wait 180s ||
    { docker logs "$CLUSTER-control-plane" 2>&1 | tail -20; return 1; }
  klog "kind create cluster: $((SECONDS - t0))s"
  t_check "node Ready" kubectl wait --for=condition=Ready node --all --timeout=60s || return 1
  # the pod network is the node image's bridge (e2e/kind/node/etc/cni/net.d):
  # its fixed range must be the pod CIDR the controller manager gives the node
  t_eventually 60 node_pod_cidr 10.244.0.0/24 || return 1
  # every kube-system pod (CoreDNS, kube-proxy, the control plane) Ready:
  # CoreDNS is Ready once it reaches the API server through its Service
  t_check "kube-system Ready" kubectl -n kube-system wait --for=condition=Ready pod --all --timeout=120s ||
    { kubectl get pods -A; return 1; }
  t_check "CoreDNS Ready" kubectl -n kube-system wait --for=condition=Ready pod -l k8s-app=kube-dns --timeout=120s ||
    return 1
  klog "cluster $CLUSTER Ready ($((SECONDS - t0))s): $(kubectl get nodes --no-headers | tr -s ' ')"
}

# NetworkPolicy: nothing enforces it on this kind cluster (kind's own
# enforcer is kindnet's, which needs the nftables queue expression; the local
# cluster enforces it with kube-router)
test_network_policy() {
  t_skip "no NetworkPolicy enforcer on kind here: kindnet needs nftables queue (CONFIG_NFT_QUEUE), absent from this kernel; the local node uses kube-router"
}

test_images() {
  local t0=$SECONDS slim key tar t
  # the operator's images by Docker, as `make test-images-docker` builds them;
  # the result is kept, keyed by everything the Docker build context holds
  slim=$("$ROOT/images/local.sh" rootfs slim) || { t_fail "no slim root fs"; return 1; }
  key=$( {
    echo "$slim $(docker version --format '{{.Server.Version}}')"
    git ls-files -co --exclude-standard -- Dockerfile Makefile mk common webhook controller proxy images/versions.env |
      sort | xargs sha256sum
  } | sha256sum | cut -c1-16)
  tar=$KIND_CACHE/operator-images-$key.tar
  local images=()
  for t in webhook controller chart-test $([[ -d proxy ]] && echo proxy); do
    images+=("ghcr.io/mcp-operator/mcp-$t:$APP_VERSION")
  done
  if [[ -f $tar && ${KIND_REBUILD_IMAGES:-0} != 1 ]]; then
    t_check "docker load (built by Docker in an earlier run: $tar)" docker load -i "$tar" || return 1
    klog "operator images: loaded the ones Docker built earlier ($((SECONDS - t0))s)"
  else
    t_check "docker import debian:$DEBIAN_SUITE" docker import "$slim" "debian:$DEBIAN_SUITE" || return 1
    t_check "tag -slim" docker tag "debian:$DEBIAN_SUITE" "debian:$DEBIAN_SUITE-slim" || return 1
    # (the build stage installs its compilers from the Debian archive: host network)
    if ! make --no-print-directory images DOCKER=docker IMAGE_TAG="$APP_VERSION" \
      DOCKER_BUILD_FLAGS=--network=host >"$W/make-images.log" 2>&1; then
      t_fail "make images: $(tail -n 15 "$W/make-images.log" | tr '\n' ' ')"
      return 1
    fi
    klog "make images: $((SECONDS - t0))s"
    rm -f "$KIND_CACHE"/operator-images-*.tar
    docker save -o "$tar.tmp" "${images[@]}" && mv "$tar.tmp" "$tar"
  fi
  # the MCP server image, from the local registry (images/local.sh built it)
  t_check "docker pull $REG/mcp/time" docker pull "$REG/mcp/time:$MCP_SERVER_TIME_VERSION" || return 1
  docker tag "$REG/mcp/time:$MCP_SERVER_TIME_VERSION" "$TIME_IMAGE"
  docker rmi "$REG/mcp/time:$MCP_SERVER_TIME_VERSION" >/dev/null
  images+=("$TIME_IMAGE")
  t_check "kind load docker-image ${images[*]}" kind load docker-image --name "$CLUSTER" "${images[@]}" || return 1
  klog "images built and loaded ($((SECONDS - t0))s): ${images[*]}"
}

test_helm() {
  local t0=$SECONDS
  # README, Installing: helm install ... -n mcp-system --create-namespace
  t_check "helm install" helm install mcp-operator charts/mcp-operator -n mcp-system --create-namespace \
    --set webhook.image.repository=ghcr.io/mcp-operator/mcp-webhook \
    --set controller.image.repository=ghcr.io/mcp-operator/mcp-controller \
    --set proxy.image.repository=ghcr.io/mcp-operator/mcp-proxy --wait --timeout 180s ||
    { kubectl -n mcp-system get pods; kubectl -n mcp-system describe pods | tail -20; return 1; }
  t_check "operator pods Ready" kubectl -n mcp-system wait --for=condition=Ready pod --all --timeout=60s || return 1
  klog "helm install: $((SECONDS - t0))s: $(kubectl -n mcp-system get pods --no-headers | awk '{print $1, $3}' | tr '\n' ' ')"
}

test_sample() {
  local t0=$SECONDS
  t_check "namespace" kubectl create namespace "$NS" || return 1
  sed "s|image: docker.io/mcp/time\$|image: $TIME_IMAGE|" config/samples/builtin-none-profile.yaml >"$W/time.yaml"
  grep -q "image: $TIME_IMAGE" "$W/time.yaml" || { t_fail "the sample's image line changed"; return 1; }
  # (the webhook's Service answers once kube-proxy has its endpoint, a few
  # seconds after its pod is Ready: until then the API server's call is refused)
  t_eventually 60 kubectl -n "$NS" apply -f "$W/time.yaml" || return 1
  t_check "MCPServer time Ready" kubectl -n "$NS" wait --for=condition=Ready mcpserver/time --timeout=180s ||
    { kubectl -n "$NS" describe mcpserver time | tail -20; kubectl -n "$NS" get pods; return 1; }
  local phase
  phase=$(kubectl -n "$NS" get mcpserver time -o jsonpath='{.status.phase}')
  [[ $phase == Running ]] || { t_fail "phase $phase, want Running"; return 1; }
  klog "MCPServer time Running ($((SECONDS - t0))s): $(kubectl -n "$NS" get pods --no-headers | awk '{print $1, $3}' | tr '\n' ' ')"
}

test_call() {
  local port rport rc=0 sdk runs
  t_check "MCP clients" test/proxy/setup_servers.sh || return 1
  rport=$(kubectl -n "$NS" get service mcp-time-proxy -o jsonpath='{.spec.ports[0].port}') || { t_fail "no Service mcp-time-proxy"; return 1; }
  port=$((20000 + RANDOM % 10000))
  kubectl -n "$NS" port-forward service/mcp-time-proxy "$port:$rport" >"$W/pf.log" 2>&1 &
  PF_PID=$!
  t_eventually 20 grep -q Forwarding "$W/pf.log" || { t_fail "port-forward: $(tail -3 "$W/pf.log")"; return 1; }
  for sdk in mcp2:mcp:modern,mcp:legacy mcp1:mcp:legacy; do
    runs=${sdk#*:}
    if ! timeout 90 "$MCP_VENV/${sdk%%:*}/bin/python" test/proxy/e2e_client.py --url "http://127.0.0.1:$port" \
      --server time --runs "$runs" --calls 1 >"$W/call.out" 2>&1; then
      t_fail "${sdk%%:*} $runs: $(tail -3 "$W/call.out" | tr '\n' ' ')"
      rc=1
    else
      klog "${sdk%%:*} $runs: $(tr '\n' ' ' <"$W/call.out" | cut -c1-300)"
    fi
  done
  kill "$PF_PID" 2>/dev/null
  wait "$PF_PID" 2>/dev/null
  PF_PID=
  return $rc
}

test_delete() {
  local t0=$SECONDS
  t_check "kind delete cluster" kind delete cluster --name "$CLUSTER" --kubeconfig "$KUBECONFIG" || return 1
  if docker network inspect kind >/dev/null 2>&1; then
    t_check "docker network rm kind" docker network rm kind || return 1
  fi
  t_check "no container left" test -z "$(docker ps -aq)" || return 1
  klog "kind delete cluster: $((SECONDS - t0))s"
}

test_nothing_left() {
  local pid=$DOCKERD_PID dir=$W left
  down
  W=
  ! kill -0 "$pid" 2>/dev/null || { t_fail "dockerd (pid $pid) still runs"; return 1; }
  left=$(pgrep -a -f -- "$dir/" | cut -c1-100 | tr '\n' ' ')
  [[ -z $left ]] || { t_fail "processes left: $left"; return 1; }
  ! grep -q " $dir" /proc/self/mounts || { t_fail "mounts left under $dir"; return 1; }
  [[ ! -e $dir ]] || { t_fail "$dir left"; return 1; }
  ! ip link show "$BRIDGE" >/dev/null 2>&1 || { t_fail "bridge $BRIDGE left"; return 1; }
  ! iptables -S "$CHAIN" >/dev/null 2>&1 || { t_fail "iptables chain $CHAIN left"; return 1; }
  left=$(comm -13 <(echo "$VETHS_BEFORE") <(docker_veths) | tr '\n' ' ')
  [[ -z ${left// /} ]] || { t_fail "veths left: $left"; return 1; }
  ((LIB_MODULES_MADE == 0)) || [[ ! -e /lib/modules ]] || { t_fail "/lib/modules left"; return 1; }
  local after
  after=$(kernel_settings)
  [[ $after == "$KERNEL_BEFORE" ]] ||
    { t_fail "kernel settings changed: $(diff <(echo "$KERNEL_BEFORE") <(echo "$after") | grep '^[<>]' | tr '\n' ' ')"; return 1; }
}

step() { # NAME FUNC: a test; when it fails, what follows cannot run
  t_test "$1" "$2"
  ((T_FAILED == 0)) || { klog "stopping after: $1"; return 1; }
}

step "Debian's dockerd starts (own data root and socket, no bridge, no forwarding)" test_daemon &&
  step "the kind node image built here is loaded" test_node_image &&
  step "kind create cluster: the node and kube-system Ready" test_cluster &&
  { t_test "NetworkPolicy enforcement" test_network_policy; true; } &&
  step "images built by Docker and the MCP server's, kind-loaded" test_images &&
  step "helm install of charts/mcp-operator: operator pods Ready" test_helm &&
  step "sample MCPServer time Running" test_sample &&
  t_test "tools/call through mcp-time-proxy (kubectl port-forward, mcp 2.x and 1.x)" test_call
if [[ ${KEEP_CLUSTER:-0} != 1 ]]; then
  if [[ -n $DOCKERD_PID ]]; then t_test "kind delete cluster: no container left" test_delete; fi
  t_test "dockerd stopped: no process, mount, bridge, rule or file left, kernel settings unchanged" test_nothing_left
fi
klog "total: $((SECONDS - T_START))s"
t_summary
