# shellcheck shell=bash
# The local cluster's node: containerd + runc + CNI bridge, kubelet, kube-proxy,
# kube-router's network policy controller (enforces NetworkPolicy with
# iptables + ipset in the node's network namespace) and the pods they run, all
# on this machine, no Docker. Sourced by e2e/local/cluster.sh (uses its D,
# RUN, LOGS, PKI, log, die, sign, ...). Not kube-network-policies (kindnet's
# enforcer, tried first): it needs the nftables `queue` expression, which
# this kernel lacks (# CONFIG_NFT_QUEUE is not set, no modules): its rules
# were refused with "netlink receive: no such file or directory".
#
# Isolation. The node lives in its own network namespace and its own private
# mount namespace, both held by one "holder" process (unshare ... sleep):
#   - network: a veth pair mcpn<slot> (machine side, 10.243.<slot>.1/30) <->
#     eth0 (node side, 10.243.<slot>.2/30). The node has no default route, so
#     nothing a pod sends can leave the machine; the machine routes the pod and
#     service CIDRs to the node, so ClusterIPs are reachable from here.
#     kube-proxy's KUBE-* chains, kube-router's KUBE-ROUTER-*, KUBE-POD-FW-*
#     and KUBE-NWPLCY-* chains and its ipsets, the bridge and the pods' veths
#     all live in the node's namespace and vanish with it.
#   - mounts: /run, /var/lib and /var/log are fresh tmpfs inside the node's
#     mount namespace (containerd's shim sockets, runc state, the pods'
#     netns files, the kubelet's bind mount of its root dir, overlay rootfs
#     mounts: none of them is visible on the machine, all vanish with it).
#     The kubelet's machine-wide kernel settings (vm.overcommit_memory,
#     kernel.panic, ...) are shown to it read-only with the values it wants
#     (protectKernelDefaults: true), so it never changes the machine's.
#   - cgroups: kubelet's cgroupRoot is /mcp-node-<slot>; the node's daemons sit
#     in /mcp-node-<slot>/node. `down` kills whatever is left in that tree.
# The slot (0-15) is taken atomically by creating the veth mcpn<slot>, so
# several clusters (e.g. concurrent `make test` runs) can be up at once; each
# slot has its own addresses:
#   pods      10.244.<slot>.0/24
#   services  10.<96+slot>.0.0/16  (kubernetes = .0.1, kube-dns = .0.10)
# The API server listens on 10.243.<slot>.1 (reachable from the machine and
# from pods); the kubelet on 10.243.<slot>.2:10250.

NODE_DIR=$D/node
NODE_NAME=${MCP_NODE_NAME:-mcp-node}
NODE_MAX_SLOTS=16
REGISTRY_PORT=${MCP_REGISTRY_PORT:-5000}
REGISTRY_ADDR=127.0.0.1:$REGISTRY_PORT
SANDBOX_IMAGE=registry.k8s.io/pause:3.10
CONTAINERD_LOG_LEVEL=${MCP_CONTAINERD_LOG_LEVEL:-warn}
NODE_ENV_VARS='${NODE_DIR} ${CONTAINERD_SOCK} ${SANDBOX_IMAGE} ${RUNC} ${CNI_BIN_DIR} ${POD_CIDR} ${POD_GW} ${NODE_IP} ${PKI} ${CGROUP_ROOT} ${DNS_IP} ${RUN} ${NODE_NAME} ${COREDNS_IMAGE} ${REGISTRY_URL} ${REGISTRY_HOST} ${CONTAINERD_LOG_LEVEL}'

node_enabled() { [[ ${MCP_CLUSTER_NODE:-1} != 0 ]]; }

node_resolve_bins() {
  : "${NODE_BIN_DIR:=$(sed -n 's/^NODE_BIN_DIR=//p' <<<"$("$HERE/build.sh" paths)")}"
  SCHEDULER=$K8S_BIN_DIR/kube-scheduler
  KUBELET=$K8S_BIN_DIR/kubelet
  KUBE_PROXY=$K8S_BIN_DIR/kube-proxy
  KUBE_ROUTER=$NODE_BIN_DIR/kube-router
  CONTAINERD=$NODE_BIN_DIR/containerd
  CRANE=$NODE_BIN_DIR/crane
  CNI_BIN_DIR=$NODE_BIN_DIR/cni
  RUNC=${MCP_RUNC:-/usr/sbin/runc}
  COREDNS_VERSION=$(awk '$1=="github.com/coredns/coredns" && $2 ~ /^v/ {print $2; exit}' "$HERE/../../tools/coredns/go.mod")
  COREDNS_IMAGE=registry.k8s.io/coredns/coredns:$COREDNS_VERSION
  local b
  for b in "$SCHEDULER" "$KUBELET" "$KUBE_PROXY" "$KUBE_ROUTER" "$CONTAINERD" "$NODE_BIN_DIR/containerd-shim-runc-v2" "$CRANE" \
    "$NODE_BIN_DIR/coredns" "$CNI_BIN_DIR/bridge" "$CNI_BIN_DIR/host-local" "$CNI_BIN_DIR/loopback" "$CNI_BIN_DIR/portmap"; do
    [[ -x $b ]] || die "missing binary $b (run e2e/local/build.sh)"
  done
}

# what the node needs from the machine; dies with the first thing missing
node_preflight() {
  [[ $(id -u) == 0 ]] || die "the node needs root (containerd, kubelet, network namespaces); MCP_CLUSTER_NODE=0 runs the control plane alone"
  local c
  for c in "$RUNC" unshare nsenter ip iptables iptables-save iptables-restore ipset socat envsubst; do
    command -v "$c" >/dev/null || die "missing $c (make deps installs it)"
  done
  grep -qw overlay /proc/filesystems || die "the kernel has no overlayfs (containerd's snapshotter needs it)"
  [[ -e /proc/sys/net/bridge/bridge-nf-call-iptables ]] ||
    die "no br_netfilter (/proc/sys/net/bridge missing): modprobe br_netfilter"
  for c in cpu cpuacct cpuset memory pids; do
    [[ -n $(node_cgroup_mount "$c") ]] || die "no cgroup v1 '$c' hierarchy mounted (the node runs the kubelet in cgroup v1 mode)"
  done
}

# node_cgroup_mount CONTROLLER -> mount point of its v1 hierarchy (empty if none)
node_cgroup_mount() {
  awk -v c="$1" '$3=="cgroup" { n=split($4, o, ","); for (i=1;i<=n;i++) if (o[i]==c) { print $2; exit } }' /proc/self/mounts
}

# every cgroup hierarchy mounted on the machine (v1 and v2)
node_cgroup_mounts() { awk '$3=="cgroup" || $3=="cgroup2" {print $2}' /proc/self/mounts; }

# node_addrs SLOT: the addresses of that slot
node_addrs() {
  local n=$1
  NODE_SLOT=$n
  NODE_LINK=mcpn$n
  HOST_IP=10.243.$n.1
  NODE_IP=10.243.$n.2
  LINK_CIDR=10.243.$n.0/30
  POD_CIDR=10.244.$n.0/24
  POD_GW=10.244.$n.1
  SERVICE_CIDR=10.$((96 + n)).0.0/16
  SERVICE_IP=10.$((96 + n)).0.1
  DNS_IP=10.$((96 + n)).0.10
  CGROUP_ROOT=/mcp-node-$n
  HOST_CHAIN=MCP-NODE-$n
  CONTAINERD_SOCK=$NODE_DIR/containerd/containerd.sock
  REGISTRY_URL=http://$REGISTRY_ADDR
}

# run CMD... inside the node's network and mount namespaces
node_exec() { nsenter --target "$(<"$RUN/node-holder.pid")" --mount --net -- "$@"; }
node_net() { nsenter --target "$(<"$RUN/node-holder.pid")" --net -- "$@"; }

holder_alive() {
  local pid
  [[ -f $RUN/node-holder.pid ]] || return 1
  pid=$(<"$RUN/node-holder.pid")
  [[ $pid =~ ^[0-9]+$ && -d /proc/$pid ]] || return 1
  if [[ -f $RUN/node-mntns ]]; then
    [[ $(readlink "/proc/$pid/ns/mnt" 2>/dev/null) == "$(<"$RUN/node-mntns")" ]]
  else # `up` stopped before the holder was ready
    [[ $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) =~ ^(unshare|mcp-node-holder|sleep\ infinity) ]]
  fi
}

# ---------------------------------------------------------------- up
# node_ns_up: holder process, slot, veth, addresses, routes, firewall
node_ns_up() {
  mkdir -p "$NODE_DIR"
  log "node: creating its network and mount namespaces"
  # the holder makes /run, /var/lib, /var/log private tmpfs and remounts /sys
  # for its network namespace (keeping the cgroup mounts), then sleeps
  setsid unshare --mount --net --propagation private -- bash -c '
    set -e
    mount -t tmpfs -o mode=0755,size=256m mcp-node-run /run
    mount -t tmpfs -o mode=0755,size=256m mcp-node-varlib /var/lib
    mount -t tmpfs -o mode=0755,size=256m mcp-node-varlog /var/log
    mkdir -p /run/.cgroup
    mount --rbind /sys/fs/cgroup /run/.cgroup
    mount -t sysfs mcp-node-sysfs /sys
    mount --move /run/.cgroup /sys/fs/cgroup
    rmdir /run/.cgroup
    # the kernel settings the kubelet insists on are machine-wide: show it
    # the values it wants (read-only) instead of letting it change the machine
    mkdir -p /run/.sysctl
    for kv in vm/overcommit_memory=1 vm/panic_on_oom=0 kernel/panic=10 kernel/panic_on_oops=1 \
      kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000; do
      k=${kv%=*} v=${kv#*=}
      [ "$(cat "/proc/sys/$k")" = "$v" ] && continue
      f=/run/.sysctl/${k//\//.}
      echo "$v" >"$f"
      mount --bind -o ro "$f" "/proc/sys/$k"
    done
    ip link set lo up
    echo 1 >/proc/sys/net/ipv4/ip_forward
    echo 1 >/proc/sys/net/bridge/bridge-nf-call-iptables
    echo 0 >/proc/sys/net/bridge/bridge-nf-call-ip6tables
    echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6
    touch "$1"
    exec sleep infinity' mcp-node-holder "$NODE_DIR/holder.ready" </dev/null >"$LOGS/node-holder.log" 2>&1 &
  echo $! >"$RUN/node-holder.pid"
  local pid=$! i
  for i in $(seq 1 100); do
    [[ -f $NODE_DIR/holder.ready ]] && break
    [[ -d /proc/$pid ]] || { cat "$LOGS/node-holder.log" >&2; die "node namespace holder exited"; }
    sleep 0.05
  done
  [[ -f $NODE_DIR/holder.ready ]] || die "node namespace holder not ready"
  readlink "/proc/$pid/ns/mnt" >"$RUN/node-mntns"

  # the slot: first free mcpn<n> (creating the veth is the atomic claim)
  local n=-1
  for i in $(seq 0 $((NODE_MAX_SLOTS - 1))); do
    if ip link add "mcpn$i" type veth peer name eth0 netns "$pid" 2>/dev/null; then n=$i; break; fi
  done
  ((n >= 0)) || die "no free node slot (mcpn0..mcpn$((NODE_MAX_SLOTS - 1)) all exist)"
  echo "$n" >"$RUN/node-slot"
  node_addrs "$n"
  # the link's alias names its owner (tests tell concurrent clusters apart)
  ip link set "$NODE_LINK" alias "$D"
  ip addr add "$HOST_IP/30" dev "$NODE_LINK"
  ip link set "$NODE_LINK" up
  node_net ip addr add "$NODE_IP/30" dev eth0
  node_net ip link set eth0 up
  ip route add "$POD_CIDR" via "$NODE_IP" dev "$NODE_LINK"
  ip route add "$SERVICE_CIDR" via "$NODE_IP" dev "$NODE_LINK"
  log "node: slot $n, link $NODE_LINK $HOST_IP <-> $NODE_IP, pods $POD_CIDR, services $SERVICE_CIDR"
  node_firewall_up
  node_cgroups_up "$pid"
}

# The egress firewall. In the node's namespace (where pods' traffic is
# routed): chain MCP-NODE-EGRESS in the mangle table's FORWARD drops anything
# from the pod CIDR to an address that is not the node's own (the link), a
# pod's or a Service's. Mangle, not filter: netfilter runs mangle's FORWARD
# first, and kube-router keeps its own jump first in filter's FORWARD and
# ACCEPTs there whatever the NetworkPolicies admit, so a filter chain after it
# would never see a pod's traffic. On the machine: chain MCP-NODE-<slot> in
# FORWARD drops anything forwarded from or to the node's link (the machine
# never routes for it).
node_firewall_up() {
  node_firewall_down "${HOST_CHAIN#MCP-NODE-}" # a dead cluster's leftovers in this slot
  node_net iptables -w -t mangle -N MCP-NODE-EGRESS
  node_net iptables -w -t mangle -A MCP-NODE-EGRESS -d "$POD_CIDR" -j RETURN
  node_net iptables -w -t mangle -A MCP-NODE-EGRESS -d "$SERVICE_CIDR" -j RETURN
  node_net iptables -w -t mangle -A MCP-NODE-EGRESS -d "$LINK_CIDR" -j RETURN
  node_net iptables -w -t mangle -A MCP-NODE-EGRESS -j DROP
  node_net iptables -w -t mangle -I FORWARD 1 -s "$POD_CIDR" -j MCP-NODE-EGRESS
  iptables -w -N "$HOST_CHAIN"
  iptables -w -A "$HOST_CHAIN" -j DROP
  iptables -w -I FORWARD 1 -i "$NODE_LINK" -j "$HOST_CHAIN"
  iptables -w -I FORWARD 1 -o "$NODE_LINK" -j "$HOST_CHAIN"
}

node_firewall_down() { # SLOT
  local chain=MCP-NODE-$1 link=mcpn$1
  iptables -w -n -L "$chain" >/dev/null 2>&1 || return 0
  while iptables -w -D FORWARD -i "$link" -j "$chain" 2>/dev/null; do :; done
  while iptables -w -D FORWARD -o "$link" -j "$chain" 2>/dev/null; do :; done
  iptables -w -F "$chain" 2>/dev/null || true
  iptables -w -X "$chain" 2>/dev/null || log "node: could not delete iptables chain $chain"
}

# cgroup root /mcp-node-<slot> in every hierarchy; the holder goes to .../node
node_cgroups_up() {
  local pid=$1 h cs
  node_cgroups_down "$NODE_SLOT" # leftovers of a dead cluster in this slot
  while read -r h; do
    mkdir -p "$h$CGROUP_ROOT/node"
    if [[ -f $h/cpuset.cpus ]]; then
      for cs in cpuset.cpus cpuset.mems; do
        cat "$h/$cs" >"$h$CGROUP_ROOT/$cs"
        cat "$h/$cs" >"$h$CGROUP_ROOT/node/$cs"
      done
    fi
    echo "$pid" >"$h$CGROUP_ROOT/node/cgroup.procs"
  done < <(node_cgroup_mounts)
}

# all pids in the slot's cgroup tree
node_cgroup_pids() {
  local pids_h
  pids_h=$(node_cgroup_mount pids)
  [[ -d $pids_h/mcp-node-$1 ]] || return 0
  find "$pids_h/mcp-node-$1" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -un
}

node_cgroups_down() { # SLOT: kill what is left in the tree, remove the dirs
  local slot=$1 h i pids
  for i in $(seq 1 50); do
    pids=$(node_cgroup_pids "$slot")
    [[ -z $pids ]] && break
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    sleep 0.1
  done
  [[ -z $pids ]] || log "node: processes left in cgroup mcp-node-$slot: $pids"
  while read -r h; do
    [[ -d $h/mcp-node-$slot ]] || continue
    for i in $(seq 1 50); do
      find "$h/mcp-node-$slot" -depth -type d -exec rmdir {} + 2>/dev/null || true
      [[ -d $h/mcp-node-$slot ]] || break
      sleep 0.1
    done
    [[ -d $h/mcp-node-$slot ]] && log "node: could not remove cgroup $h/mcp-node-$slot"
  done < <(node_cgroup_mounts)
  return 0
}

# start_node NAME [--host] CMD...: like start_bg, in the node's cgroup and
# (unless --host) in its namespaces
start_node() {
  local name=$1 cg ns=1 a; shift
  [[ $1 == --host ]] && { ns=0; shift; }
  for a in "$@"; do # the program that ends up running: past env and VAR=value
    [[ $a == env || $a == *=* ]] && continue
    basename "$a" >"$RUN/$name.exe"
    break
  done
  cg=$(node_cgroup_mount pids)$CGROUP_ROOT/node/cgroup.procs
  if ((ns)); then
    setsid bash -c 'echo $$ >"$1"; shift; exec nsenter --target "$1" --mount --net -- "${@:2}"' \
      _ "$cg" "$(<"$RUN/node-holder.pid")" "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  else
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$cg" "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  fi
  local pid=$!
  echo "$pid" >"$RUN/$name.pid"
  STARTED+=("$name")
  await_exec "$name" "$pid"
}

render() { # TEMPLATE OUT (only the variables named in NODE_ENV_VARS are replaced)
  (
    # shellcheck disable=SC2046
    export $(tr -d '${}' <<<"$NODE_ENV_VARS")
    envsubst "$NODE_ENV_VARS" <"$HERE/node/$1" >"$2"
  )
}

node_pki() {
  local ku="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment"
  sign kubelet-client "/O=system:nodes/CN=system:node:$NODE_NAME" "$ku\nextendedKeyUsage=clientAuth"
  sign kubelet "/CN=$NODE_NAME" "$ku\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:$NODE_NAME,IP:$NODE_IP"
  sign kube-proxy "/CN=system:kube-proxy" "$ku\nextendedKeyUsage=clientAuth"
  sign kube-router "/CN=kube-router" "$ku\nextendedKeyUsage=clientAuth"
  sign kube-scheduler "/CN=system:kube-scheduler" "$ku\nextendedKeyUsage=clientAuth"
  sign apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$ku\nextendedKeyUsage=clientAuth"
  chmod 600 "$PKI"/*.key
}

# ---------------------------------------------------------------- registry
registry_alive() { curl -fsS --max-time 2 "http://$REGISTRY_ADDR/v2/" >/dev/null 2>&1; }

# The local registry: e2e/local/registry.sh (images helper) when it exists;
# until then a crane registry of our own, machine-wide like registry.sh's
# (not stopped by `down`: images pushed there outlive the cluster).
node_registry_up() {
  if [[ -x $HERE/registry.sh ]]; then
    "$HERE/registry.sh" up >&2 || die "registry.sh up failed"
    return 0
  fi
  registry_alive && return 0
  # same pid file and log as registry.sh, so that it adopts this one
  local cache=${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator
  local state=$cache/registry-state/$REGISTRY_PORT
  mkdir -p "$cache/registry" "$state"
  log "starting the local registry on $REGISTRY_ADDR (blobs in $cache/registry)"
  setsid "$CRANE" registry serve --address "$REGISTRY_ADDR" --disk "$cache/registry" \
    </dev/null >>"$state/registry.log" 2>&1 &
  echo $! >"$state/pid"
  local i
  for i in $(seq 1 100); do registry_alive && return 0; sleep 0.1; done
  die "local registry did not start (see $state/registry.log)"
}

# registry path of IMAGE (docker.io single names under library/)
registry_path() {
  local ref=$1 host=${1%%/*} rest
  if [[ $ref != */* || ( $host != *.* && $host != *:* && $host != localhost ) ]]; then
    rest=$ref; [[ $rest == */* ]] || rest=library/$rest
  else
    rest=${ref#*/}
  fi
  echo "$rest"
}

image_present() { "$CRANE" digest --insecure "$REGISTRY_ADDR/$(registry_path "$1")" >/dev/null 2>&1; }

# push_static_image IMAGE USER BINARY ENTRYPOINT...: a one-binary image (the
# stand-in until the images helper's `make images-local` pushes the real one)
push_static_image() {
  local image=$1 user=$2 bin=$3; shift 3
  local tmp ep
  tmp=$(mktemp -d)
  mkdir -p "$tmp/root/bin" "$tmp/root/etc" "$tmp/root/tmp"
  cp "$bin" "$tmp/root/bin/"
  printf 'root:x:0:0:root:/:/bin/sh\nnonroot:x:65532:65532:nonroot:/:/sbin/nologin\n' >"$tmp/root/etc/passwd"
  printf 'root:x:0:\nnonroot:x:65532:\n' >"$tmp/root/etc/group"
  tar -C "$tmp/root" --owner=0 --group=0 -cf "$tmp/layer.tar" .
  ep=$(IFS=,; echo "$*")
  "$CRANE" append --insecure --oci-empty-base -f "$tmp/layer.tar" -t "$REGISTRY_ADDR/$(registry_path "$image")" >/dev/null &&
    "$CRANE" mutate --insecure --set-platform linux/amd64 --entrypoint "$ep" --user "$user" \
      "$REGISTRY_ADDR/$(registry_path "$image")" >/dev/null
  local rc=$?
  rm -rf "$tmp"
  return $rc
}

# the two images the node itself needs: the sandbox (pause) and CoreDNS,
# built by images/local.sh (`make images-local`) when it exists, else pushed
# as one-binary stand-ins
node_images() {
  if ! image_present "$SANDBOX_IMAGE" || ! image_present "$COREDNS_IMAGE"; then
    if [[ -x $HERE/../../images/local.sh ]]; then
      log "node: building the pause and CoreDNS images (images/local.sh build pause coredns)"
      MCP_REGISTRY_PORT=$REGISTRY_PORT "$HERE/../../images/local.sh" build pause coredns >>"$LOGS/images.log" 2>&1 ||
        log "node: images/local.sh failed (see $LOGS/images.log); using stand-ins"
    fi
  fi
  if ! image_present "$SANDBOX_IMAGE"; then
    log "node: $SANDBOX_IMAGE not in the local registry; pushing a catatonit -P stand-in"
    [[ -x /usr/bin/catatonit ]] || die "missing /usr/bin/catatonit (make deps installs it)"
    push_static_image "$SANDBOX_IMAGE" 65535 /usr/bin/catatonit /bin/catatonit -P || die "could not push $SANDBOX_IMAGE"
  fi
  if ! image_present "$COREDNS_IMAGE"; then
    log "node: $COREDNS_IMAGE not in the local registry; pushing a stand-in with the cached coredns binary"
    push_static_image "$COREDNS_IMAGE" 65532 "$NODE_BIN_DIR/coredns" /bin/coredns || die "could not push $COREDNS_IMAGE"
  fi
}

# ---------------------------------------------------------------- daemons
node_start() {
  node_registry_up
  node_images
  mkdir -p "$NODE_DIR/containerd" "$NODE_DIR/cni/net.d" "$NODE_DIR/kubelet" "$NODE_DIR/pod-logs"
  local r
  for r in docker.io ghcr.io registry.k8s.io quay.io; do
    mkdir -p "$NODE_DIR/containerd/certs.d/$r"
    REGISTRY_HOST=$r render hosts.toml "$NODE_DIR/containerd/certs.d/$r/hosts.toml"
  done
  render containerd.toml "$NODE_DIR/containerd/config.toml"
  render 10-mcp-bridge.conflist "$NODE_DIR/cni/net.d/10-mcp-bridge.conflist"
  render kubelet.yaml "$NODE_DIR/kubelet/config.yaml"
  render kube-proxy.yaml "$RUN/kube-proxy.yaml"
  write_kubeconfig "$RUN/kubelet.kubeconfig" kubelet-client
  write_kubeconfig "$RUN/kube-proxy.kubeconfig" kube-proxy
  write_kubeconfig "$RUN/kube-router.kubeconfig" kube-router

  # the registry, seen from inside the node on the same address: a unix
  # socket crosses the namespaces (machine: socket -> registry; node:
  # 127.0.0.1:port -> socket)
  start_node registry-forward-host --host socat "UNIX-LISTEN:$NODE_DIR/registry.sock,fork,mode=600" "TCP:$REGISTRY_ADDR"
  start_node registry-forward-node socat "TCP-LISTEN:$REGISTRY_PORT,bind=127.0.0.1,fork,reuseaddr" "UNIX-CONNECT:$NODE_DIR/registry.sock"

  log "node: starting containerd ($CONTAINERD_SOCK)"
  start_node containerd env "PATH=$NODE_BIN_DIR:/usr/sbin:/usr/bin:/sbin:/bin" \
    "$CONTAINERD" --config "$NODE_DIR/containerd/config.toml"
  wait_for "containerd socket" test -S "$CONTAINERD_SOCK"

  log "node: starting kubelet ($NODE_NAME at $NODE_IP)"
  start_node kubelet env "PATH=$NODE_BIN_DIR:/usr/sbin:/usr/bin:/sbin:/bin" \
    "$KUBELET" --config="$NODE_DIR/kubelet/config.yaml" --kubeconfig="$RUN/kubelet.kubeconfig" \
    --root-dir="$NODE_DIR/kubelet" --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" \
    --v="$VERBOSITY"

  log "node: starting kube-proxy (iptables mode)"
  start_node kube-proxy env "PATH=/usr/sbin:/usr/bin:/sbin:/bin" \
    "$KUBE_PROXY" --config="$RUN/kube-proxy.yaml" --v="$VERBOSITY"

  wait_for "node $NODE_NAME Ready" node_ready
  node_netpol_start
  log "node: $NODE_NAME Ready; deploying CoreDNS ($COREDNS_IMAGE, kube-dns at $DNS_IP)"
  render coredns.yaml "$RUN/coredns.yaml"
  "$KUBECTL" --kubeconfig="$D/kubeconfig" apply -f "$RUN/coredns.yaml" >>"$LOGS/coredns-apply.log" 2>&1 ||
    { cat "$LOGS/coredns-apply.log" >&2; die "could not apply CoreDNS"; }
  wait_for "CoreDNS available" coredns_ready
}

# ---------------------------------------------------------------- netpol
# kube-router v2.1.0 with its network policy controller alone (no routing: the
# CNI bridge routes; no service proxy: kube-proxy serves Services), as k3s
# runs it beside kube-proxy. It reads the Node object (its InternalIP tells
# its pods from the others; no podCIDR needed), so it starts once the node
# is registered, as the user kube-router (client certificate; RBAC in
# node/kube-router.yaml). It puts jumps to KUBE-ROUTER-{INPUT,FORWARD,OUTPUT}
# first in the filter table, a KUBE-POD-FW-* chain per pod (REJECT what no
# policy admits; traffic from the node itself to its pods, e.g. the kubelet's
# probes, always passes) and KUBE-NWPLCY-* chains matching KUBE-SRC-*/
# KUBE-DST-* ipsets, by running iptables, iptables-save/restore and ipset:
# the same PATH, so the same iptables backend, as kube-proxy. Health and
# metrics servers off (its health server cannot bind to loopback only).
# SIGTERM stops it and leaves its rules; they go with the node's namespace.
node_netpol_start() {
  "$KUBECTL" --kubeconfig="$D/kubeconfig" apply -f "$HERE/node/kube-router.yaml" \
    >>"$LOGS/kube-router-apply.log" 2>&1 ||
    { cat "$LOGS/kube-router-apply.log" >&2; die "could not apply the kube-router RBAC"; }
  log "node: starting kube-router (NetworkPolicy: firewall only)"
  start_node kube-router env "PATH=/usr/sbin:/usr/bin:/sbin:/bin" "NODE_NAME=$NODE_NAME" \
    "$KUBE_ROUTER" --kubeconfig="$RUN/kube-router.kubeconfig" --hostname-override="$NODE_NAME" \
    --run-firewall=true --run-router=false --run-service-proxy=false --run-loadbalancer=false \
    --enable-ipv4=true --enable-ipv6=false --service-cluster-ip-range="$SERVICE_CIDR" \
    --health-port=0 --metrics-port=0 --v="$VERBOSITY"
  wait_for "kube-router's chains" node_netpol_chains
  log "node: NetworkPolicy enforced (kube-router's KUBE-ROUTER-* chains in the node's filter table)"
}

# the filter table's INPUT, FORWARD and OUTPUT jump to kube-router's chains
node_netpol_chains() {
  local rules c
  rules=$(node_net iptables-save -t filter) || return 1
  for c in INPUT FORWARD OUTPUT; do
    grep -q -- "^-A $c .*-j KUBE-ROUTER-$c\$" <<<"$rules" || return 1
  done
}

node_ready() {
  [[ $("$KUBECTL" --kubeconfig="$D/kubeconfig" get node "$NODE_NAME" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null) == True ]]
}

coredns_ready() {
  [[ $("$KUBECTL" --kubeconfig="$D/kubeconfig" -n kube-system get deployment coredns \
    -o jsonpath='{.status.availableReplicas}' 2>/dev/null) == 1 ]]
}

node_env() {
  cat <<EOF
export MCP_CLUSTER_NODE_NAME=$NODE_NAME
export MCP_CLUSTER_NODE_IP=$NODE_IP
export MCP_CLUSTER_NODE_PID=$(<"$RUN/node-holder.pid")
export MCP_CLUSTER_NODE_SLOT=$NODE_SLOT
export MCP_CLUSTER_POD_CIDR=$POD_CIDR
export MCP_CLUSTER_DNS_IP=$DNS_IP
export MCP_CLUSTER_CONTAINERD_SOCK=$CONTAINERD_SOCK
export MCP_REGISTRY=$REGISTRY_ADDR
EOF
}

node_is_up() {
  holder_alive && pid_alive containerd && pid_alive kubelet && pid_alive kube-proxy &&
    pid_alive kube-router
}

# ---------------------------------------------------------------- down
# Everything node_ns_up/node_start made goes, in an order that never leaves a
# process holding a mount or a namespace. Two steps, so that the control
# plane stops in between while the API server's address still exists:
# node_stop: the kubelet, kube-proxy, the pods' processes, containerd
node_stop() {
  local slot=""
  [[ -f $RUN/node-slot ]] && slot=$(<"$RUN/node-slot")
  # stop the kubelet first so it restarts nothing
  signal_one kubelet
  signal_one kube-proxy
  signal_one kube-router
  reap kubelet kube-proxy kube-router
  # the pods' processes, then containerd and its shims
  if [[ -n $slot ]]; then
    local pids_h k
    pids_h=$(node_cgroup_mount pids)
    for k in "$pids_h/mcp-node-$slot/kubepods"; do
      [[ -d $k ]] && { find "$k" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true; }
    done
  fi
  signal_one containerd
  reap containerd
  signal_one registry-forward-node
  signal_one registry-forward-host
  reap registry-forward-node registry-forward-host
}

# node_teardown: the shims, the namespaces, the link, the firewall, the
# cgroups and the files
node_teardown() {
  local slot=""
  [[ -f $RUN/node-slot ]] && slot=$(<"$RUN/node-slot")
  # the slot's processes and firewall first, then the link (deleting one end
  # deletes the pair), which frees the slot: a concurrent `up` that claims it
  # must find neither our chain nor our cgroups. Then the holder: the
  # namespaces go when their last process does
  if [[ -n $slot ]]; then
    node_cgroups_down "$slot" # kills the shims, the holder and anything left
    node_firewall_down "$slot"
    [[ $(cat "/sys/class/net/mcpn$slot/ifalias" 2>/dev/null) == "$D" ]] && { ip link del "mcpn$slot" 2>/dev/null || true; }
  fi
  # A namespace's number is reused as soon as the namespace is freed: only
  # while we hold it open (pin) can its number name nothing but our node's
  # processes, so without a live holder to pin it from, nothing is killed
  # by that number (the cgroups above already killed the node's own).
  local pin=""
  if [[ -f $RUN/node-holder.pid ]]; then
    local pid i
    pid=$(<"$RUN/node-holder.pid")
    if holder_alive; then
      exec {pin}<"/proc/$pid/ns/mnt" || pin=""
      kill -KILL "$pid" 2>/dev/null || true
    fi
    for i in $(seq 1 50); do holder_alive || break; sleep 0.1; done
    rm -f "$RUN/node-holder.pid"
  fi
  # no process may still be in the node's mount namespace
  if [[ -f $RUN/node-mntns && -n $pin ]]; then
    local ns left p
    ns=$(<"$RUN/node-mntns")
    left=$(node_ns_pids "$ns")
    if [[ -n $left ]]; then
      log "node: killing processes left in its mount namespace: $left"
      # shellcheck disable=SC2086
      kill -KILL $left 2>/dev/null || true
      for p in $(seq 1 50); do [[ -z $(node_ns_pids "$ns") ]] && break; sleep 0.1; done
    fi
  fi
  [[ -n $pin ]] && exec {pin}<&-
  # nothing of the node may be mounted on the machine before its files go
  if [[ -d $NODE_DIR ]] && grep -qF " $NODE_DIR" /proc/self/mountinfo; then
    log "node: unmounting leftovers under $NODE_DIR"
    awk -v d="$NODE_DIR" '$5 ~ "^"d {print $5}' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l || true
  fi
  rm -rf -- "$NODE_DIR"
  rm -f "$RUN/node-slot" "$RUN/node-mntns"
}

node_ns_pids() { # MNTNS-ID -> pids whose mount namespace it is
  # (find fails on processes that exit meanwhile: not an error here)
  { find /proc/[0-9]*/ns/mnt -maxdepth 0 -printf '%p %l\n' 2>/dev/null || true; } |
    awk -v ns="$1" '$2 == ns {split($1, a, "/"); print a[3]}'
}
