#!/usr/bin/env bash
# The operator on a kind cluster, everything built on this machine and nothing
# pulled from the internet (`make test-kind`), the same scenarios as the local
# node's acceptance (e2e/tests/80_node_acceptance.sh, 40_walkthrough.sh,
# 87_network_isolation.sh):
#
#   1. Debian's dockerd, its data root, exec root and socket in a temporary
#      directory (e2e/kind/lib.sh: no default bridge, no iptables rules, no
#      masquerading, no IP forwarding); the docker network "kind" made here on
#      a bridge whose forwarded traffic the machine drops
#   2. the kind node image of e2e/kind/build.sh (built once, then loaded from
#      its cached tarball), the operator's images built by Docker (`make
#      images`, cached by the build context's hash), the MCP server images
#      from the local registry (`make images-local`) and the registry:2
#      stand-in (crane registry serve)
#   3. docs/kind.md as written: its `sh kind-test` blocks, run in order
#      (kind create cluster, a registry on kind's network as the mirror of
#      docker.io and ghcr.io, kind load, helm install as the README does, a
#      sample Running and called with curl through kubectl port-forward);
#      `kind create cluster` gets this machine's node image and settings
#      (e2e/kind/cluster.yaml) and `make images` the cached build
#   4. every sample of config/samples/ Running (their images pulled from that
#      registry: the untagged and :latest ones have imagePullPolicy Always),
#      the Python mcp SDK 2.x (2026-07-28) and 1.x (handshake era) calling a
#      tool through each proxy (stdio, sse, streamable-http; /mcp and /sse),
#      reached by `kubectl port-forward` as a user would, with mcp_call of
#      e2e/node/acceptance.sh; the github token only as a secretKeyRef and in
#      no object, Event or log; the documentation's bad MCPServer (bad.yaml)
#      rejected with its exact message; the NetworkPolicy of each sample of the right
#      shape (enforcement skipped: see test_network_policy); deleting the
#      MCPServers leaves nothing
#   5. the seed walkthrough and the bad-input catalogue, the local suite's own
#      files (e2e/tests/40_walkthrough.sh, 50_catalogue.sh) with the chart
#      installed from the kind-loaded images (OP_MODE=cluster)
#   6. docs/kind.md's clean-up block, `kind delete cluster`, the network
#      removed, dockerd stopped and its directory removed: no container,
#      network, bridge, firewall rule, mount, cgroup or process left, the
#      machine's kernel settings unchanged
#
# Prints "N passed, N failed". KIND_SMOKE=1: 1-3 and 6 only (make
# test-kind-smoke, part of make test), and `make images` there is the images
# of `make images-local` unless a Docker build of the same context is cached.
# KEEP_CLUSTER=1 leaves the cluster and its daemon running (the lines to use
# them are printed; remove them with e2e/kind/run.sh down DIR). Needs root,
# the local registry with the images of `make images-local` (make test-kind
# does both).
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
APP_VERSION=$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' charts/mcp-operator/Chart.yaml)
# docs/kind.md's names
CLUSTER=mcp
KREG=mcp-registry
KREG_PORT=5001
NS=acc
KIND_SMOKE=${KIND_SMOKE:-0}
# the MCP server images the samples (and the static page) name, as the local
# registry holds them
MCP_IMAGES=(docker.io/mcp/fetch:latest docker.io/mcp/github:latest docker.io/mcp/everything:latest
  ghcr.io/stackloklabs/gofetch/server:latest)

# the machine's global kernel settings (what a privileged container could
# change for everyone), minus counters
kernel_settings() {
  sysctl -a 2>/dev/null | grep -E '^(kernel|vm|fs|net\.core|net\.netfilter\.nf_conntrack_max|net\.ipv4\.ip_forward )' |
    grep -vE 'random|ns_last_pid|-nr|-state|_nr |nr_|\.stat|perf_event|sched_domain|tainted|printk_ratelimit|overflow|aio-|pty\.nr|fs\.quota|dentry|inode'
}

# what a Docker daemon, its containers and a kind cluster could leave on the
# machine, one line each (as e2e/local/test_node_cycles.sh snapshots the
# machine, restricted to Docker's and kind's own names: another cluster may
# come and go on this machine meanwhile)
docker_traces() {
  local p c
  {
    findmnt -rn -o TARGET | grep -E '/docker|/mcp-kind\.|/kind' | sed 's/^/mount /'
    ip -o link show | awk -F': ' '{sub(/@.*/, "", $2); print "link " $2}' | grep -E '^link (veth[0-9a-f]{7}|br-[0-9a-f]{12}|docker[0-9]|mcpkind)'
    iptables-save | grep -E 'DOCKER|MCP-KIND|mcpkind|br-[0-9a-f]{12}' | sed -E 's/ \[[0-9:]+\]//; s/^/ipt /'
    while read -r p; do
      find "$p" -mindepth 1 -maxdepth 1 -type d \( -name docker -o -name 'kubelet*' \) -printf "cgroup $p/%f\n"
    done < <(awk '$3=="cgroup" || $3=="cgroup2" {print $2}' /proc/self/mounts)
    for c in /proc/[0-9]*/cgroup; do
      grep -q ':/docker/' "$c" 2>/dev/null && echo "process in a docker cgroup: $(tr '\0' ' ' <"${c%/cgroup}/cmdline" 2>/dev/null | cut -c1-80)"
    done
    pgrep -a -x 'dockerd|docker-proxy|kind' | grep -v "^$$ " | awk '{print "process " $2}'
  } 2>/dev/null | sort -u
}

# ---------------------------------------------------------------- teardown
W=
BRIDGE=
CHAIN=
LIB_MODULES_MADE=0
PF_PIDS=()
down() {
  local t0=$SECONDS p
  for p in "${PF_PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
  PF_PIDS=()
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kind delete cluster --name "$CLUSTER" >/dev/null 2>&1
    docker rm -f "$KREG" >/dev/null 2>&1
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
  # shellcheck disable=SC2034 # dockerd_stop's
  DOCKERD_DIR=$W/docker
  export DOCKER_HOST=unix://$W/docker/docker.sock PATH=$W/docker/bin:$PATH
  DOCKERD_PID=$(cat "$W/docker/dockerd.pid" 2>/dev/null)
  down
  exit 0
fi

[[ $(id -u) == 0 ]] || { echo "e2e/kind/run.sh: needs root"; echo "0 passed, 1 failed"; exit 1; }
W=$(mktemp -d /var/tmp/mcp-kind.XXXXXX)
export KUBECONFIG=$W/kubeconfig E2E_WORK=$W/e2e
mkdir -p "$E2E_WORK"
BRIDGE=mcpkind$$
BRIDGE=${BRIDGE:0:15}
[[ -e /lib/modules ]] || LIB_MODULES_MADE=1
KERNEL_BEFORE=$(kernel_settings)
TRACES_BEFORE=$(docker_traces)
T_START=$SECONDS
trap on_exit EXIT
trap 'exit 130' INT TERM

# the helpers of the node acceptance (mcp_call, expect_eq, registry_has,
# token_nowhere); proxy_addr, which names a Service's ClusterIP there (the
# machine routes the Service CIDR to the local node), is replaced below by
# the address of a kubectl port-forward
# shellcheck source=../node/acceptance.sh
. "$ROOT/e2e/node/acceptance.sh"
# (for _op_free_port)
# shellcheck source=../lib/operator.sh
. "$ROOT/e2e/lib/operator.sh"

# ---------------------------------------------------------------- tests
test_daemon() {
  local t0=$SECONDS
  # not under t_check: that runs its command in a subshell (DOCKERD_PID)
  dockerd_start "$W/docker" >"$W/start" 2>&1 || { t_fail "dockerd: $(tail -5 "$W/start" | tr '\n' ' ')"; return 1; }
  klog "dockerd $(docker version --format '{{.Server.Version}}') started ($((SECONDS - t0))s), data root $W/docker/data"
}

test_node_image() {
  local t0=$SECONDS
  t_check "e2e/kind/build.sh load" "$ROOT/e2e/kind/build.sh" load || return 1
  eval "$("$ROOT/e2e/kind/build.sh" paths)"
  t_check "node image present" docker image inspect "$KIND_NODE_IMAGE" || return 1
  klog "node image $KIND_NODE_IMAGE ready ($((SECONDS - t0))s, $(docker image inspect -f '{{.Size}}' "$KIND_NODE_IMAGE" | numfmt --to=iec-i)B)"
}

# kind uses an existing network "kind" as it is: this one's bridge has a
# known name, and the machine drops whatever would be forwarded to or from it
# (it forwards nothing anyway: dockerd runs with --ip-forward=false)
test_network() {
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
}

# operator_images: the operator's images by Docker, as `make images` builds
# them (the Dockerfile, from the mmdebstrap root fs imported as
# debian:bookworm(-slim), as `make test-images-docker` does); the result is
# kept, keyed by everything the Docker build context holds, and loaded
# instead when that did not change. docs/kind.md's `make images`.
operator_images() {
  local t0=$SECONDS slim key tar t images=()
  slim=$("$ROOT/images/local.sh" rootfs slim) || { echo "no slim root fs"; return 1; }
  key=$( {
    echo "$slim $(docker version --format '{{.Server.Version}}')"
    git ls-files -co --exclude-standard -- Dockerfile Makefile mk common webhook controller proxy images/versions.env |
      sort | xargs sha256sum
  } | sha256sum | cut -c1-16)
  tar=$KIND_CACHE/operator-images-$key.tar
  for t in webhook controller chart-test proxy; do images+=("ghcr.io/mcp-operator/mcp-$t:$APP_VERSION"); done
  if ((KIND_SMOKE)) && [[ ! -f $tar ]]; then
    # the smoke (make test) does not wait for a Docker build: it takes the
    # same images as `make images-local` built them for the local cluster
    # (same Debian release, packages, binaries, user and entrypoint; make
    # test-images and make test-images-docker compare the two paths)
    echo "make images: (smoke) the images of make images-local, from the local registry"
    for t in "${images[@]}"; do
      docker pull -q "$REG/${t#*/}" >/dev/null && docker tag "$REG/${t#*/}" "$t" && docker rmi "$REG/${t#*/}" >/dev/null || return 1
    done
    return 0
  fi
  if [[ -f $tar && ${KIND_REBUILD_IMAGES:-0} != 1 ]]; then
    echo "make images: the images Docker built from the same context in an earlier run: docker load -i $tar"
    docker load -q -i "$tar" || return 1
  else
    docker import "$slim" "debian:$DEBIAN_SUITE" >/dev/null && docker tag "debian:$DEBIAN_SUITE" "debian:$DEBIAN_SUITE-slim" || return 1
    # (the build stage installs its compilers from the Debian archive: this
    # daemon has no bridge, so the host's network)
    command make --no-print-directory images DOCKER=docker IMAGE_TAG="$APP_VERSION" \
      DOCKER_BUILD_FLAGS=--network=host >"$W/make-images.log" 2>&1 ||
      { tail -n 15 "$W/make-images.log"; return 1; }
    rm -f "$KIND_CACHE"/operator-images-*.tar
    docker save -o "$tar.tmp" "${images[@]}" && mv "$tar.tmp" "$tar"
    echo "make images: built by Docker in $((SECONDS - t0))s"
  fi
}

# the registry:2 stand-in docs/kind.md runs
test_images() {
  local t0=$SECONDS
  # registry:2 stand-in: go-containerregistry's registry (crane registry
  # serve, built by e2e/local/build.sh) on port 5000, as Docker's listens
  mkdir -p "$W/reg/bin" && cp "$NODE_BIN_DIR/crane" "$W/reg/bin/crane" &&
    tar -C "$W/reg" -cf "$W/reg.tar" bin || return 1
  t_check "registry:2 stand-in" docker import \
    -c 'ENTRYPOINT ["/bin/crane", "registry", "serve", "--address", ":5000"]' -c 'EXPOSE 5000' \
    "$W/reg.tar" registry:2 || return 1
  klog "the registry stand-in ready ($((SECONDS - t0))s)"
}

# the samples' other MCP server images (images/local.sh built them into the
# local registry), copied into the registry on kind's network as docs/kind.md
# pushes the time image there
test_mcp_images() {
  local t0=$SECONDS i
  for i in "${MCP_IMAGES[@]}"; do
    t_check "crane copy $i" "$NODE_BIN_DIR/crane" copy --insecure "$REG/${i#*/}" "127.0.0.1:$KREG_PORT/${i#*/}" || return 1
  done
  klog "MCP server images in the kind registry ($((SECONDS - t0))s): ${MCP_IMAGES[*]}"
}

# doc_blocks TAG: the fenced blocks of docs/kind.md whose info string is "sh TAG"
doc_blocks() { awk -v t="$1" '$0 == "```sh " t { on = 1; next } on && /^```/ { on = 0; next } on' docs/kind.md; }

# the shims docs/kind.md runs with (its "How this page is tested")
doc_shims() {
  cat <<SH
kind() {
  if [[ \${1:-} == create && \${2:-} == cluster ]]; then
    local a=() cfg=
    shift 2
    while ((\$#)); do
      case \$1 in --config) cfg=\$2; shift 2 ;; --config=*) cfg=\${1#*=}; shift ;; *) a+=("\$1"); shift ;; esac
    done
    python3 - "\$cfg" "$ROOT/e2e/kind/cluster.yaml" >"$W/kind-config.yaml" <<'PY' || return 1
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1])) if sys.argv[1] else {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4"}
ours = yaml.safe_load(open(sys.argv[2]))
for k in ("containerdConfigPatches", "kubeadmConfigPatches"):
    doc[k] = (doc.get(k) or []) + (ours.get(k) or [])
doc["networking"] = {**(doc.get("networking") or {}), **ours["networking"]}
doc.setdefault("nodes", ours["nodes"])
print(yaml.safe_dump(doc, sort_keys=False))
PY
    echo "(test: kind create cluster --image $KIND_NODE_IMAGE, e2e/kind/cluster.yaml merged into the config)"
    command kind create cluster "\${a[@]}" --config "$W/kind-config.yaml" --image "$KIND_NODE_IMAGE" --wait 180s
  else
    command kind "\$@"
  fi
}
make() {
  case "\$*" in
    images) operator_images ;;
    images-local) registry_has docker.io/mcp/time:latest && echo "(test: make images-local done by make test-kind)" || command make "\$@" ;;
    *) command make "\$@" ;;
  esac
}
SH
}

# doc_run TAG: docs/kind.md's blocks TAG, in order, bash -eu from the root
doc_run() {
  doc_blocks "$1" >"$W/doc-$1.sh"
  [[ -s $W/doc-$1.sh ]] || { echo "no sh $1 blocks in docs/kind.md"; return 1; }
  doc_shims >"$W/doc-shims.sh"
  (
    set -eu
    # shellcheck disable=SC1090,SC1091
    . "$W/doc-shims.sh"
    # shellcheck disable=SC1090
    . "$W/doc-$1.sh"
  ) >"$W/doc-$1.log" 2>&1
}

test_doc() {
  local t0=$SECONDS
  if ! doc_run kind-test; then
    t_fail "docs/kind.md: $(tail -n 12 "$W/doc-kind-test.log" | tr '\n' ' ')"
    docker logs "$CLUSTER-control-plane" 2>&1 | tail -n 10
    return 1
  fi
  # (its last lines: the sample and the answer; the whole log is kept with KEEP_CLUSTER=1)
  tail -n 6 "$W/doc-kind-test.log" | sed 's/^/# doc: /' | cut -c1-300
  t_check "the sample created" grep -q 'mcpserver.toolhive.stacklok.dev/time created' "$W/doc-kind-test.log" || return 1
  t_check "curl's answer holds the time" grep -q '\\"datetime\\"' "$W/doc-kind-test.log" || return 1
  klog "docs/kind.md ran as written ($((SECONDS - t0))s)"
}

# node_pod_cidr CIDR: the node's spec.podCIDR is CIDR
node_pod_cidr() {
  local got
  got=$(kubectl get node "$CLUSTER-control-plane" -o jsonpath='{.spec.podCIDR}') || return 1
  [[ $got == "$1" ]] || { echo "node podCIDR '$got', want $1"; return 1; }
}

test_cluster() {
  t_check "node Ready" kubectl wait --for=condition=Ready node --all --timeout=60s || return 1
  # the pod network is the node image's bridge (e2e/kind/node/etc/cni/net.d):
  # its fixed range must be the pod CIDR the controller manager gives the node
  t_eventually 60 node_pod_cidr 10.244.0.0/24 || return 1
  t_check "kube-system Ready" kubectl -n kube-system wait --for=condition=Ready pod --all --timeout=120s ||
    { kubectl get pods -A; return 1; }
  expect_eq "operator images" "$(kubectl -n mcp-system get pods -o jsonpath='{.items[*].spec.containers[0].image}' | tr ' ' '\n' | sort | tr '\n' ' ')" \
    "ghcr.io/mcp-operator/mcp-controller:$APP_VERSION ghcr.io/mcp-operator/mcp-webhook:$APP_VERSION " || return 1
  klog "cluster $CLUSTER: $(kubectl get nodes --no-headers | tr -s ' '); $(kubectl get pods -A --no-headers | awk '{print $2}' | tr '\n' ' ')"
}

# NetworkPolicy enforcement: kind's enforcer is kindnet's (kube-network-
# policies), which sends new connections to user space with an nftables
# `queue` rule; this kernel has no nft_queue (CONFIG_NFT_QUEUE). Tried in the
# node's own network namespace, so the skip states what the kernel answered.
test_network_policy() {
  local out
  if out=$(docker exec -i "$CLUSTER-control-plane" nft -f - 2>&1 <<'NFT'
table inet mcp-queue-probe {
  chain c { type filter hook forward priority 0; queue num 100 bypass; }
}
NFT
  ); then
    docker exec "$CLUSTER-control-plane" nft delete table inet mcp-queue-probe
    t_skip "not enforced on this kind cluster: the kernel takes nftables queue rules, but kindnet is not built here (bridge CNI)"
  else
    t_skip "not enforced on kind here: kindnet enforces NetworkPolicy with kube-network-policies' nftables queue rules (nfqueue), and this kernel has no CONFIG_NFT_QUEUE (an nft queue rule in the node: $(grep -m1 -o 'Error: [^:;]*' <<<"$out"); /proc/config.gz: $(zcat /proc/config.gz 2>/dev/null | grep -m1 'NFT_QUEUE')); the local node enforces them with kube-router"
  fi
}

test_samples() {
  local f s
  t_check "namespaces" bash -c "kubectl create namespace $NS && kubectl create namespace toolhive-system" || return 1
  # the token only ever travels in this Secret
  t_check "secret" kubectl -n "$NS" create secret generic github-token --from-literal=token="$TOKEN" || return 1
  t_check "static page" kubectl -n "$NS" apply -f e2e/node/static-page.yaml || return 1
  for f in config/samples/*.yaml; do
    if grep -q '^  namespace:' "$f"; then
      t_check "apply $f" kubectl apply -f "$f" || return 1
    else
      t_check "apply $f" kubectl -n "$NS" apply -f "$f" || return 1
    fi
  done
  SAMPLES=$(for n in "$NS" toolhive-system; do
    kubectl -n "$n" get mcpservers -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name}{"\n"}{end}'
  done)
  [[ $(wc -l <<<"$SAMPLES") -ge 8 ]] || { t_fail "expected 8 MCPServers, got: $SAMPLES"; return 1; }
  for s in $SAMPLES; do
    t_check "$s Ready" kubectl -n "${s%/*}" wait --for=condition=Ready "mcpserver/${s#*/}" --timeout=300s ||
      { kubectl -n "${s%/*}" describe "mcpserver/${s#*/}" | tail -20; kubectl -n "${s%/*}" get pods; return 1; }
    expect_eq "$s phase" "$(kubectl -n "${s%/*}" get "mcpserver/${s#*/}" -o jsonpath='{.status.phase}')" Running || return 1
  done
  t_check "static page Ready" kubectl -n "$NS" wait --for=condition=Ready pod/static-page --timeout=120s || return 1
  klog "samples Running: $(tr '\n' ' ' <<<"$SAMPLES")"
}

# every MCP server pod ran the image the registry on kind's network serves:
# the :latest and untagged ones pulled (imagePullPolicy Always), all-fields'
# IfNotPresent (its podTemplateSpec) the same digest, present on the node
test_pull_policy() {
  local s pod pol img id want rc=0
  for s in $SAMPLES; do
    pod=${s#*/}-0
    read -r pol img id < <(kubectl -n "${s%/*}" get pod "$pod" -o json |
      jq -r '[(.spec.containers[] | select(.name == "mcp") | .imagePullPolicy, .image),
        (.status.containerStatuses[] | select(.name == "mcp") | .imageID)] | join(" ")')
    want=$("$NODE_BIN_DIR/crane" digest --insecure "127.0.0.1:$KREG_PORT/$(sed -E 's|^[^/]+/||; s|(:[^/:]*)?$||' <<<"$img"):latest" 2>&1)
    echo "# $s: $img, imagePullPolicy $pol, ran ${id##*@}"
    [[ $id == *"@$want" ]] || { t_fail "$s ran $id, the registry serves $want"; rc=1; }
    if [[ ${s#*/} == time-all-fields ]]; then
      expect_eq "$s imagePullPolicy" "$pol" IfNotPresent || rc=1
    else
      expect_eq "$s imagePullPolicy" "$pol" Always || rc=1
    fi
  done
  return $rc
}

# one kubectl port-forward per proxy Service (a user's way in); proxy_addr
# (used by mcp_call) names it
declare -A PF_ADDR=()
test_port_forwards() {
  local s svc port rport
  for s in $SAMPLES; do
    svc=mcp-${s#*/}-proxy
    rport=$(kubectl -n "${s%/*}" get service "$svc" -o jsonpath='{.spec.ports[0].port}') || { t_fail "no Service $svc"; return 1; }
    _op_free_port port || return 1
    kubectl -n "${s%/*}" port-forward "service/$svc" "$port:$rport" >"$W/pf-$svc.log" 2>&1 &
    PF_PIDS+=($!)
    PF_ADDR[${s%/*}/${s#*/}]=127.0.0.1:$port
    t_eventually 30 grep -q Forwarding "$W/pf-$svc.log" || return 1
  done
}
proxy_addr() { # NS NAME
  [[ -n ${PF_ADDR[$1/$2]:-} ]] || { echo "no port-forward to mcp-$2-proxy in $1" >&2; return 1; }
  echo "${PF_ADDR[$1/$2]}"
}

# as e2e/tests/80_node_acceptance.sh's stdio_time, http_everything,
# stdio_fetch and github_secret
stdio_time() {
  mcp_call time "$NS" time mcp2 mcp:modern,mcp:legacy,sse:auto || return 1
  mcp_call time "$NS" time mcp1 mcp:legacy,sse:legacy || return 1
  mcp_call time "$NS" time-all-fields mcp2 mcp:modern,sse:auto || return 1
}
http_everything() {
  mcp_call everything "$NS" everything mcp2 mcp:modern,mcp:legacy,sse:legacy || return 1
  mcp_call everything "$NS" everything mcp1 mcp:legacy,sse:legacy || return 1
  mcp_call everything "$NS" everything-sse mcp2 sse:modern,mcp:modern,sse:legacy || return 1
  mcp_call everything "$NS" everything-sse mcp1 sse:legacy,mcp:legacy || return 1
}
stdio_fetch() {
  local page="http://static-page.$NS.svc.cluster.local/"
  mcp_call fetch "$NS" fetch mcp2 mcp:modern --fetch-url "$page" >"$W/fetch-refused" 2>&1
  t_check "seed fetch refuses private addresses" grep -q 'not a public address' "$W/fetch-refused" || return 1
  mcp_call fetch "$NS" fetch-restricted mcp1 mcp:legacy --fetch-url "$page" >"$W/fetch-refused2" 2>&1
  t_check "fetch-restricted refuses private addresses" grep -q 'not a public address' "$W/fetch-refused2" || return 1
  # ToolHive's tool-filter example: tools/list exactly [fetch], another tool
  # refused by the proxy, the in-cluster page fetched
  mcp_call fetch toolhive-system fetch mcp2 mcp:auto,mcp:legacy --tools fetch --refused get-env --fetch-url "$page" || return 1
  mcp_call fetch toolhive-system fetch mcp1 mcp:legacy --tools fetch --refused get-env --fetch-url "$page" || return 1
}
github_secret() {
  mcp_call github "$NS" github mcp2 mcp:modern || return 1
  mcp_call github "$NS" github mcp1 sse:legacy || return 1
  local env
  env=$(kubectl -n "$NS" get statefulset github -o json | jq -c '.spec.template.spec.containers[] | select(.name == "mcp") | .env')
  t_check "token from a secretKeyRef" jq -e 'any(.[]; .valueFrom.secretKeyRef == {"name": "github-token", "key": "token"})' <<<"$env" || return 1
  t_check "no token value in the StatefulSet" bash -c "! kubectl -n $NS get statefulset github -o json | jq -e '[.. | objects | select(has(\"value\")) | .value] | any(. == \"$TOKEN\")' >/dev/null" || return 1
  mkdir -p "$W/token"
  token_nowhere "$TOKEN" "$W/token" || return 1
}

# the documentation's bad MCPServer (README.md, docs/), rejected with the
# documented words exactly
bad_mcpserver() {
  local want got
  want=$(grep -h -m1 '^ *The request is invalid: error when creating "bad.yaml"' README.md docs/*.md | head -n 1 | sed 's/^ *//')
  [[ -n $want ]] || { t_fail "no bad.yaml message in README.md or docs/"; return 1; }
  kubectl create namespace walk >/dev/null || return 1
  mkdir -p "$W/walk"
  cat >"$W/walk/bad.yaml" <<'YAML'
apiVersion: toolhive.stacklok.dev/v1alpha1
kind: MCPServer
metadata:
  name: fetch
spec:
  image: docker.io/mcp/fetch
  transport: grpc
  port: 70000
  permissionProfile:
    type: builtin
    name: network
YAML
  got=$(cd "$W/walk" && kubectl -n walk apply -f bad.yaml 2>&1) && { t_fail "bad.yaml was accepted: $got"; return 1; }
  expect_eq "kubectl apply -f bad.yaml" "$got" "$want" || return 1
  t_check "nothing stored" bash -c "! kubectl -n walk get mcpserver fetch" || return 1
  kubectl delete namespace walk --wait=false >/dev/null
}

# netpol_of NS NAME: the MCPServer's NetworkPolicy, named like it
netpol_of() { kubectl -n "$1" get networkpolicy "$2" -o json; }
# pods_selected NS SELECTOR-JSON: names of the pods a matchLabels selects
pods_selected() {
  kubectl -n "$1" get pods -l "$(jq -r 'to_entries | map("\(.key)=\(.value)") | join(",")' <<<"$2")" \
    -o jsonpath='{.items[*].metadata.name}'
}
# DESIGN §4: selects exactly the MCP server pod; ingress only from this
# MCPServer's proxy pods on targetPort (HTTP transports), none for stdio;
# egress by profile: none -> DNS only, network -> unrestricted, ConfigMap
# profile -> DNS + the proxy's egress port
netpol_shape() {
  local s ns name np transport profile tport proxy rc=0 got
  for s in $SAMPLES; do
    ns=${s%/*} name=${s#*/}
    np=$(netpol_of "$ns" "$name") || { t_fail "no NetworkPolicy $s"; rc=1; continue; }
    read -r transport tport profile < <(kubectl -n "$ns" get mcpservers.v1alpha1.toolhive.stacklok.dev "$name" -o json |
      jq -r '[.spec.transport, (.spec.targetPort // .spec.port), (.spec.permissionProfile.type + "/" + (.spec.permissionProfile.name // ""))] | join(" ")')
    expect_eq "$s: pods selected" "$(pods_selected "$ns" "$(jq -c .spec.podSelector.matchLabels <<<"$np")")" "$name-0" || rc=1
    proxy=$(kubectl -n "$ns" get pods -l "app=mcpserver,app.kubernetes.io/instance=$name" -o jsonpath='{.items[*].metadata.name}')
    if [[ $transport == stdio ]]; then
      expect_eq "$s: ingress rules (stdio: none)" "$(jq -c '.spec.ingress // []' <<<"$np")" "[]" || rc=1
    else
      expect_eq "$s: ingress ports" "$(jq -c '[.spec.ingress[].ports[]?.port]' <<<"$np")" "[$tport]" || rc=1
      got=$(jq -c '[.spec.ingress[].from[] | .podSelector.matchLabels]' <<<"$np")
      expect_eq "$s: ingress from" "$(pods_selected "$ns" "$(jq -c '.[0]' <<<"$got")") ($(jq length <<<"$got") peer)" "$proxy (1 peer)" || rc=1
    fi
    case $profile in
      builtin/network)
        expect_eq "$s: policyTypes" "$(jq -c .spec.policyTypes <<<"$np")" '["Ingress"]' || rc=1 ;;
      builtin/none)
        expect_eq "$s: policyTypes" "$(jq -c .spec.policyTypes <<<"$np")" '["Ingress","Egress"]' || rc=1
        expect_eq "$s: egress (DNS only)" "$(jq -c '[.spec.egress[] | (.to // []), [.ports[] | "\(.protocol)/\(.port)"]]' <<<"$np")" '[[],["UDP/53","TCP/53"]]' || rc=1 ;;
      configmap/*)
        expect_eq "$s: policyTypes" "$(jq -c .spec.policyTypes <<<"$np")" '["Ingress","Egress"]' || rc=1
        t_check "$s: egress has DNS" jq -e '[.spec.egress[].ports[]? | select(.port == 53)] | length == 2' <<<"$np" >/dev/null || rc=1 ;;
    esac
    echo "# $s ($transport, $profile): $(jq -c '{types: .spec.policyTypes, ingress: .spec.ingress, egress: .spec.egress}' <<<"$np" | cut -c1-200)"
  done
  return $rc
}

# deleting every MCPServer leaves nothing the operator made
nothing_left_k8s() {
  local sel=app.kubernetes.io/managed-by=mcp-operator kinds=statefulsets,deployments,replicasets,pods,services,serviceaccounts,rolebindings,networkpolicies,configmaps,controllerrevisions
  t_check "delete MCPServers" kubectl delete mcpservers --all -A --wait=true --timeout=120s || return 1
  t_eventually 90 bash -c "[ -z \"\$(kubectl get $kinds -A -l $sel -o name)\" ]" ||
    { t_fail "left: $(kubectl get "$kinds" -A -l "$sel" -o name | tr '\n' ' ')"; return 1; }
  t_eventually 30 bash -c "[ -z \"\$(kubectl get $kinds -A -o name | grep -E 'time|fetch|github|everything')\" ]" ||
    { t_fail "left: $(kubectl get "$kinds" -A -o name | grep -E 'time|fetch|github|everything' | tr '\n' ' ')"; return 1; }
}

# e2e_file FILE: one of the local suite's files on this cluster (the chart
# from the kind-loaded images: OP_MODE=cluster, pullPolicy Never); its
# "N passed, N failed" adds to ours
e2e_file() {
  local f=$1 out line p fl t0=$SECONDS
  out=$W/$(basename "$f").log
  echo "=== $f (on kind)"
  OP_MODE=cluster OP_IMAGE_TAG=$APP_VERSION OP_LOG_LEVEL=info bash "$f" 2>&1 | tee "$out" | sed 's/^/  /'
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
  p=$(awk '{print $1}' <<<"${line:-0 passed, 1 failed}")
  fl=$(awk '{print $3}' <<<"${line:-0 passed, 1 failed}")
  T_PASSED=$((T_PASSED + p)) T_FAILED=$((T_FAILED + fl))
  ((fl == 0)) || T_FAILED_NAMES+=("$f")
  echo "# $f: $p passed, $fl failed ($((SECONDS - t0))s)"
}

test_doc_cleanup() {
  doc_run kind-test-cleanup || { t_fail "docs/kind.md clean-up: $(tail -n 5 "$W/doc-kind-test-cleanup.log" | tr '\n' ' ')"; return 1; }
  if docker network inspect kind >/dev/null 2>&1; then
    t_check "docker network rm kind" docker network rm kind || return 1
  fi
  t_check "no container left" test -z "$(docker ps -aq)" || return 1
}

test_nothing_left() {
  local pid=$DOCKERD_PID dir=$W left after
  down
  W=
  ! kill -0 "$pid" 2>/dev/null || { t_fail "dockerd (pid $pid) still runs"; return 1; }
  left=$(pgrep -a -f -- "$dir/" | cut -c1-100 | tr '\n' ' ')
  [[ -z $left ]] || { t_fail "processes left: $left"; return 1; }
  ! grep -q " $dir" /proc/self/mounts || { t_fail "mounts left under $dir"; return 1; }
  [[ ! -e $dir ]] || { t_fail "$dir left"; return 1; }
  ! ip link show "$BRIDGE" >/dev/null 2>&1 || { t_fail "bridge $BRIDGE left"; return 1; }
  ! iptables -S "$CHAIN" >/dev/null 2>&1 || { t_fail "iptables chain $CHAIN left"; return 1; }
  ((LIB_MODULES_MADE == 0)) || [[ ! -e /lib/modules ]] || { t_fail "/lib/modules left"; return 1; }
  after=$(docker_traces)
  [[ $after == "$TRACES_BEFORE" ]] ||
    { t_fail "left (> new, < gone): $(diff <(echo "$TRACES_BEFORE") <(echo "$after") | grep '^[<>]' | head -n 20 | tr '\n' ';')"; return 1; }
  after=$(kernel_settings)
  [[ $after == "$KERNEL_BEFORE" ]] ||
    { t_fail "kernel settings changed: $(diff <(echo "$KERNEL_BEFORE") <(echo "$after") | grep '^[<>]' | tr '\n' ' ')"; return 1; }
}

step() { # NAME FUNC: a test; when it fails, what follows cannot run
  local t0=$SECONDS
  t_test "$1" "$2"
  echo "# $((SECONDS - t0)) s: $1"
  ((T_FAILED == 0)) || { klog "stopping after: $1"; return 1; }
}
check() { # NAME FUNC: a test the next ones do not need
  local t0=$SECONDS
  t_test "$1" "$2"
  echo "# $((SECONDS - t0)) s: $1"
}

TOKEN=ghp-e2e-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
SAMPLES=
step "Debian's dockerd starts (own data root and socket, no bridge, no forwarding)" test_daemon &&
  step "the kind node image built here is loaded" test_node_image &&
  step "the docker network kind, its forwarding dropped by the machine" test_network &&
  step "the registry:2 stand-in (crane registry serve)" test_images &&
  step "docs/kind.md as written: cluster, registry mirror, kind load, helm install, a sample called by curl" test_doc &&
  step "node Ready, pod CIDR, kube-system Ready, the operator's kind-loaded images" test_cluster &&
  { check "NetworkPolicy enforcement" test_network_policy; true; } &&
  if ((KIND_SMOKE)); then true; else
    step "MCP clients installed, MCP server images in the local registry" ensure_images &&
      step "MCP server images copied into the registry on kind's network" test_mcp_images &&
      step "every sample of config/samples Running" test_samples &&
      step "samples' images from the registry on kind's network (:latest: imagePullPolicy Always)" test_pull_policy &&
      step "kubectl port-forward to every proxy" test_port_forwards &&
      { check "stdio: time (SDK 1.x and 2.x, /mcp and /sse)" stdio_time
        check "streamable-http and sse: everything, bridged for both eras and transports" http_everything
        check "stdio fetch: private addresses refused; ToolHive's tool-filter example (streamable-http)" stdio_fetch
        check "stdio: github, token only from a secretKeyRef, in no object, Event or log" github_secret
        check "the documented bad MCPServer rejected with the documented message (README.md, docs/)" bad_mcpserver
        check "NetworkPolicy objects: selection, ingress, egress by profile" netpol_shape
        check "deleting the MCPServers leaves nothing" nothing_left_k8s
        for PF in "${PF_PIDS[@]}"; do kill "$PF" 2>/dev/null; wait "$PF" 2>/dev/null; done; PF_PIDS=()
        e2e_file e2e/tests/40_walkthrough.sh
        e2e_file e2e/tests/50_catalogue.sh; }
  fi
if [[ ${KEEP_CLUSTER:-0} != 1 ]]; then
  if [[ -n $DOCKERD_PID ]]; then t_test "docs/kind.md's clean-up: no container left" test_doc_cleanup; fi
  t_test "dockerd stopped: no process, mount, link, rule, cgroup or file left, kernel settings unchanged" test_nothing_left
fi
klog "total: $((SECONDS - T_START))s"
t_summary
