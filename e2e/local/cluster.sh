#!/usr/bin/env bash
# Local Kubernetes cluster for e2e tests and `make run`: etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler and a real node (containerd + runc,
# CNI bridge, kubelet, kube-proxy, kube-router's network policy controller
# enforcing NetworkPolicy with iptables + ipset, CoreDNS in-cluster), all
# built from Go modules (e2e/local/build.sh) and run on this machine, no
# Docker. (Not kube-network-policies: its nftables `queue` rules need
# CONFIG_NFT_QUEUE, which this kernel lacks: "netlink receive: no such file
# or directory", nothing enforced.) The node
# lives in its own network and mount namespaces (see node/node.sh); pods
# cannot reach anything off the machine. Needs root; MCP_CLUSTER_NODE=0 runs
# the control plane alone (on 127.0.0.1, Pods stay Pending).
#
# Usage: e2e/local/cluster.sh up|down|env|status|restart
#   up       start (no-op when already up and healthy; restarts a stale one)
#   down     stop the processes started by `up` and remove the state
#            (only logs/ is kept, for post-mortem)
#   env      print `export VAR=...` lines; use: eval "$(e2e/local/cluster.sh env)"
#   status   print state; exit 0 when up and ready, 1 otherwise
#
# Environment:
#   MCP_CLUSTER_DIR       state dir (default /tmp/mcp-operator-cluster)
#   K8S_BIN_DIR, ETCD_BIN_DIR, HELM_BIN_DIR   override binary dirs
#                         (default: the cache dirs printed by build.sh paths)
#   CLUSTER_UP_TIMEOUT    seconds to wait for readiness (default 60)
#   CLUSTER_VERBOSITY     klog -v for the Kubernetes components (default 1)
#   MCP_CLUSTER_NODE      0 = no node (control plane only)
#   MCP_REGISTRY_PORT     local registry port (default 5000)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
D=${MCP_CLUSTER_DIR:-/tmp/mcp-operator-cluster}
PKI=$D/pki
RUN=$D/run
LOGS=$D/logs
MARKER=$D/.mcp-operator-cluster
UP_TIMEOUT=${CLUSTER_UP_TIMEOUT:-120}
VERBOSITY=${CLUSTER_VERBOSITY:-1}
# without a node (MCP_CLUSTER_NODE=0); with one, node_addrs sets these per slot
HOST_IP=127.0.0.1
SERVICE_CIDR=10.96.0.0/16
SERVICE_IP=10.96.0.1   # first IP of SERVICE_CIDR (the kubernetes Service)

log() { printf '[cluster %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# shellcheck source=node/node.sh
. "$HERE/node/node.sh"

resolve_bins() {
  local paths
  paths=$("$HERE/build.sh" paths)
  : "${K8S_BIN_DIR:=$(sed -n 's/^K8S_BIN_DIR=//p' <<<"$paths")}"
  : "${ETCD_BIN_DIR:=$(sed -n 's/^ETCD_BIN_DIR=//p' <<<"$paths")}"
  : "${HELM_BIN_DIR:=$(sed -n 's/^HELM_BIN_DIR=//p' <<<"$paths")}"
  APISERVER=$K8S_BIN_DIR/kube-apiserver
  KCM=$K8S_BIN_DIR/kube-controller-manager
  KUBECTL=$K8S_BIN_DIR/kubectl
  ETCD=$ETCD_BIN_DIR/etcd
  if [[ ! -x $ETCD && -x /usr/bin/etcd ]]; then
    log "built etcd missing, falling back to /usr/bin/etcd"
    ETCD=/usr/bin/etcd
  fi
  local b
  for b in "$APISERVER" "$KCM" "$KUBECTL" "$ETCD"; do
    [[ -x $b ]] || die "missing binary $b (run e2e/local/build.sh or make k8s-bins)"
  done
  if node_enabled; then node_resolve_bins; fi
}

# ---------------------------------------------------------------- ports
# listening TCP ports (decimal), from /proc/net/tcp{,6}
listening_ports() {
  local f
  for f in /proc/net/tcp /proc/net/tcp6; do
    [[ -r $f ]] || continue
    while read -r _ local _ st _; do
      if [[ $st == 0A ]]; then echo $((16#${local##*:})); fi
    done < <(tail -n +2 "$f")
  done
  return 0 # the loop's status is its last test's, which must not trip set -e
}

# free_port VAR: pick a port in 20000-31999 (below the ephemeral range) that
# nothing listens on and that this run has not handed out yet.
TAKEN=" "
free_port() {
  local used p i
  used=" $(listening_ports | tr '\n' ' ') "
  for i in $(seq 1 500); do
    p=$((20000 + RANDOM % 12000))
    [[ $used == *" $p "* || $TAKEN == *" $p "* ]] && continue
    TAKEN+="$p "
    printf -v "$1" '%s' "$p"
    return 0
  done
  die "no free port found"
}

# ---------------------------------------------------------------- pids
# pid_alive NAME -> 0 when $RUN/NAME.pid names a live process running our
# binary (NAME, or the name in $RUN/NAME.exe)
pid_alive() {
  local f=$RUN/$1.pid pid exe want=$1
  [[ -f $f ]] || return 1
  pid=$(<"$f")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  [[ -d /proc/$pid ]] || return 1
  [[ -f $RUN/$1.exe ]] && want=$(<"$RUN/$1.exe")
  exe=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -d' ' -f1)
  [[ -n $exe && $(basename "$exe") == "$want" ]]
}

# await_exec NAME PID: a process just started in the background is still
# the forked shell (or setsid, or a wrapper) until it execs the program, and
# pid_alive does not know it yet; wait for the exec (or the exit), at most
# 10 s, so that a check right after the start cannot take it for dead.
await_exec() {
  local i
  for ((i = 0; i < 500; i++)); do
    pid_alive "$1" || [[ ! -d /proc/$2 ]] && return 0
    sleep 0.02
  done
}

# signal_one NAME: SIGTERM the recorded process if it is still ours
signal_one() {
  if pid_alive "$1"; then
    log "stopping $1 (pid $(<"$RUN/$1.pid"))"
    kill -TERM "$(<"$RUN/$1.pid")" 2>/dev/null || true
  fi
}

# reap NAME...: wait up to 10 s for the processes to exit, then SIGKILL
reap() {
  local n pid i
  for n in "$@"; do
    [[ -f $RUN/$n.pid ]] || continue
    pid=$(cat "$RUN/$n.pid" 2>/dev/null) || continue
    for i in $(seq 1 50); do
      pid_alive "$n" || break
      sleep 0.2
    done
    if pid_alive "$n"; then
      log "$n did not exit, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
    rm -f "$RUN/$n.pid" "$RUN/$n.exe"
  done
}

stop_all() {
  [[ -d $RUN ]] || return 0
  local node=0
  [[ -f $RUN/node-holder.pid || -f $RUN/node-slot ]] && node=1
  if ((node)); then node_stop; fi
  signal_one kube-scheduler
  signal_one kube-controller-manager
  signal_one kube-apiserver
  reap kube-scheduler kube-controller-manager kube-apiserver
  signal_one etcd
  reap etcd
  if ((node)); then node_teardown; fi
}

# remove everything `up` created except logs/
clean_state() {
  [[ -d $D ]] || return 0
  if [[ ! -f $MARKER ]]; then
    # never rm a directory we did not create
    [[ -z $(ls -A "$D" 2>/dev/null) ]] && { rmdir "$D"; return 0; }
    die "$D exists but was not created by cluster.sh (no $MARKER); refusing to clean it"
  fi
  local shm
  if [[ -f $RUN/etcd-data-dir ]]; then
    shm=$(<"$RUN/etcd-data-dir")
    [[ $shm == */mcp-operator-etcd.* ]] && rm -rf -- "$shm"
  fi
  rm -rf -- "$PKI" "$RUN" "$D/etcd-data" "$D/kcm-certs" "$D/scheduler-certs"
  rm -f -- "$D/kubeconfig" "$D/env.sh"
}

# ---------------------------------------------------------------- pki
# ECDSA P-256: as good as RSA here and ten times faster to generate
gen_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

# sign NAME SUBJ EXT  (client/server cert signed by the test CA)
sign() {
  local name=$1 subj=$2 ext=$3
  gen_key "$PKI/$name.key"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>>"$LOGS/pki.log"
  printf '%b\n' "$ext" >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -days 30 -sha256 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>>"$LOGS/pki.log"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

gen_pki() {
  mkdir -p "$PKI"
  gen_key "$PKI/ca.key"
  openssl req -x509 -new -key "$PKI/ca.key" -sha256 -days 30 -subj "/CN=mcp-operator-test-ca" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -out "$PKI/ca.crt" 2>>"$LOGS/pki.log"
  local ku="basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment"
  sign apiserver "/CN=kube-apiserver" \
    "$ku\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:$SERVICE_IP$([[ $HOST_IP != 127.0.0.1 ]] && echo ",IP:$HOST_IP")"
  sign admin "/O=system:masters/CN=kubernetes-admin" "$ku\nextendedKeyUsage=clientAuth"
  sign kube-controller-manager "/CN=system:kube-controller-manager" "$ku\nextendedKeyUsage=clientAuth"
  # aggregation layer / requestheader authn (same test CA, restricted by CN)
  sign front-proxy-client "/CN=front-proxy-client" "$ku\nextendedKeyUsage=clientAuth"
  # service-account token signing key pair
  gen_key "$PKI/sa.key"
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>>"$LOGS/pki.log"
  chmod 600 "$PKI"/*.key
  if node_enabled; then node_pki; fi
}

# write_kubeconfig FILE USER
write_kubeconfig() {
  local file=$1 user=$2
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: mcp-operator
  cluster:
    server: $API_URL
    certificate-authority: $PKI/ca.crt
users:
- name: $user
  user:
    client-certificate: $PKI/$user.crt
    client-key: $PKI/$user.key
contexts:
- name: mcp-operator
  context:
    cluster: mcp-operator
    user: $user
current-context: mcp-operator
EOF
  chmod 600 "$file"
}

# ---------------------------------------------------------------- start
start_bg() { # NAME CMD... ; logs to $LOGS/NAME.log, pid to $RUN/NAME.pid
  local name=$1; shift
  setsid "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  echo $! >"$RUN/$name.pid"
  STARTED+=("$name")
  await_exec "$name" $!
}

# wait_for WHAT CMD... (retries CMD until success or timeout; dies if a started process exited)
wait_for() {
  local what=$1 n; shift
  local deadline=$((SECONDS + UP_TIMEOUT))
  while ! "$@" >/dev/null 2>&1; do
    for n in "${STARTED[@]}"; do
      pid_alive "$n" || { log "$n exited; last log lines:"; tail -n 30 "$LOGS/$n.log" >&2; die "$n failed to start"; }
    done
    ((SECONDS < deadline)) || die "timed out after ${UP_TIMEOUT}s waiting for $what"
    sleep 0.25
  done
}

curl_api() { # PATH
  curl -fsS --max-time 2 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$API_URL$1"
}

is_up() {
  [[ -f $RUN/api-url ]] || return 1
  API_URL=$(<"$RUN/api-url")
  pid_alive etcd && pid_alive kube-apiserver && pid_alive kube-controller-manager || return 1
  if [[ -f $RUN/node-slot ]]; then
    node_is_up && pid_alive kube-scheduler || return 1
  elif node_enabled; then
    return 1 # up without a node, but a node is wanted now
  fi
  [[ $(curl_api /readyz 2>/dev/null) == ok ]]
}

cmd_up() {
  if [[ -d $D ]] && is_up; then
    log "already up: $API_URL (state $D)"
    return 0
  fi
  resolve_bins
  if [[ -d $D ]]; then
    [[ -d $RUN ]] && log "stale state in $D (not ready), cleaning"
    stop_all
    clean_state
  fi
  local t0=$SECONDS
  mkdir -p "$D" "$RUN" "$LOGS"
  touch "$MARKER"
  rm -f "$LOGS"/*.log
  STARTED=()
  UP_OK=0
  trap 'rc=$?; if [[ $UP_OK != 1 ]]; then log "up failed (rc=$rc), cleaning up; logs kept in $LOGS"; stop_all; clean_state; fi' EXIT
  trap 'exit 130' INT TERM

  if node_enabled; then
    node_preflight
    node_ns_up
  fi
  local etcd_port etcd_peer api_port kcm_port sched_port data
  free_port etcd_port; free_port etcd_peer; free_port api_port; free_port kcm_port; free_port sched_port
  API_URL=https://$HOST_IP:$api_port
  echo "$API_URL" >"$RUN/api-url"
  ETCD_URL=http://127.0.0.1:$etcd_port

  if [[ -d /dev/shm && -w /dev/shm ]]; then
    data=$(mktemp -d /dev/shm/mcp-operator-etcd.XXXXXX)
  else
    data=$D/etcd-data; mkdir -p "$data"
  fi
  echo "$data" >"$RUN/etcd-data-dir"

  log "generating test PKI"
  gen_pki
  write_kubeconfig "$D/kubeconfig" admin
  write_kubeconfig "$RUN/kube-controller-manager.kubeconfig" kube-controller-manager

  log "starting etcd on $ETCD_URL (data $data)"
  start_bg etcd "$ETCD" --name=mcp --data-dir="$data/member-data" \
    --listen-client-urls="$ETCD_URL" --advertise-client-urls="$ETCD_URL" \
    --listen-peer-urls="http://127.0.0.1:$etcd_peer" --initial-advertise-peer-urls="http://127.0.0.1:$etcd_peer" \
    --initial-cluster="mcp=http://127.0.0.1:$etcd_peer" --initial-cluster-state=new \
    --unsafe-no-fsync=true --snapshot-count=100000 --log-level=warn

  wait_for "etcd" curl -fsS --max-time 2 "$ETCD_URL/health"

  local node_flags=(--endpoint-reconciler-type=none)
  if node_enabled; then
    node_flags=(--endpoint-reconciler-type=lease
      --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt"
      --kubelet-client-key="$PKI/apiserver-kubelet-client.key"
      --kubelet-certificate-authority="$PKI/ca.crt"
      --kubelet-preferred-address-types=InternalIP
      --enable-admission-plugins=NodeRestriction)
  fi
  log "starting kube-apiserver on $API_URL"
  start_bg kube-apiserver "$APISERVER" \
    --bind-address="$HOST_IP" --advertise-address="$HOST_IP" --secure-port="$api_port" \
    --etcd-servers="$ETCD_URL" \
    --cert-dir="$RUN/apiserver-certs" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --client-ca-file="$PKI/ca.crt" \
    --service-account-issuer="$API_URL" \
    --service-account-key-file="$PKI/sa.pub" \
    --service-account-signing-key-file="$PKI/sa.key" \
    --authorization-mode=Node,RBAC \
    --requestheader-client-ca-file="$PKI/ca.crt" \
    --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User \
    --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" \
    --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    "${node_flags[@]}" \
    --allow-privileged=true \
    --profiling=false \
    --v="$VERBOSITY"

  wait_for "kube-apiserver /readyz" curl_api /readyz

  log "starting kube-controller-manager (healthz port $kcm_port)"
  local kcfg=$RUN/kube-controller-manager.kubeconfig
  start_bg kube-controller-manager "$KCM" \
    --kubeconfig="$kcfg" --authentication-kubeconfig="$kcfg" --authorization-kubeconfig="$kcfg" \
    --bind-address=127.0.0.1 --secure-port="$kcm_port" --cert-dir="$D/kcm-certs" \
    --leader-elect=false \
    --use-service-account-credentials=true \
    --service-account-private-key-file="$PKI/sa.key" \
    --root-ca-file="$PKI/ca.crt" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --service-cluster-ip-range="$SERVICE_CIDR" \
    --cluster-name=mcp-operator \
    --profiling=false \
    --v="$VERBOSITY"

  wait_for "kube-controller-manager /healthz" curl -fsSk --max-time 2 "https://127.0.0.1:$kcm_port/healthz"
  # the serviceaccount controller is running once the default SA exists
  wait_for "default ServiceAccount" curl_api /api/v1/namespaces/default/serviceaccounts/default

  if node_enabled; then
    log "starting kube-scheduler (healthz port $sched_port)"
    write_kubeconfig "$RUN/kube-scheduler.kubeconfig" kube-scheduler
    local scfg=$RUN/kube-scheduler.kubeconfig
    start_bg kube-scheduler "$SCHEDULER" \
      --kubeconfig="$scfg" --authentication-kubeconfig="$scfg" --authorization-kubeconfig="$scfg" \
      --bind-address=127.0.0.1 --secure-port="$sched_port" --cert-dir="$D/scheduler-certs" \
      --leader-elect=false --profiling=false --v="$VERBOSITY"
    wait_for "kube-scheduler /healthz" curl -fsSk --max-time 2 "https://127.0.0.1:$sched_port/healthz"
    node_start
  fi

  cat >"$D/env.sh" <<EOF
export MCP_CLUSTER_DIR=$D
export KUBECONFIG=$D/kubeconfig
export MCP_CLUSTER_API_URL=$API_URL
export MCP_CLUSTER_CA=$PKI/ca.crt
export MCP_CLUSTER_CA_KEY=$PKI/ca.key
export MCP_CLUSTER_ADMIN_CERT=$PKI/admin.crt
export MCP_CLUSTER_ADMIN_KEY=$PKI/admin.key
export MCP_CLUSTER_SA_ISSUER=$API_URL
export MCP_CLUSTER_ETCD_URL=$ETCD_URL
export MCP_CLUSTER_LOGS=$LOGS
export MCP_KUBECTL=$KUBECTL
export MCP_CLUSTER_SERVICE_CIDR=$SERVICE_CIDR
$(node_enabled && node_env)
export MCP_HELM=$HELM_BIN_DIR/helm
export PATH=$K8S_BIN_DIR:$HELM_BIN_DIR:$ETCD_BIN_DIR:\$PATH
EOF
  UP_OK=1
  trap - EXIT INT TERM
  log "up in $((SECONDS - t0))s: $API_URL"
  log "kubeconfig: $D/kubeconfig"
  log "use: eval \"\$($HERE/cluster.sh env)\""
}

cmd_down() {
  if [[ ! -d $D ]]; then
    log "not running (no $D)"
    return 0
  fi
  [[ -f $MARKER ]] || die "$D was not created by cluster.sh; refusing"
  stop_all
  clean_state
  log "down (logs kept in $LOGS)"
}

cmd_env() {
  [[ -f $D/env.sh ]] || die "cluster not up (no $D/env.sh); run: $0 up"
  cat "$D/env.sh"
}

cmd_status() {
  local n
  if [[ ! -f $RUN/api-url ]]; then
    echo "down"
    return 1
  fi
  API_URL=$(<"$RUN/api-url")
  for n in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy kube-router; do
    [[ -f $RUN/$n.pid ]] || continue
    if pid_alive "$n"; then echo "$n: running (pid $(<"$RUN/$n.pid"))"; else echo "$n: not running"; fi
  done
  if is_up; then
    echo "up: $API_URL (KUBECONFIG=$D/kubeconfig)"
    [[ -f $RUN/node-slot ]] && echo "node: $NODE_NAME slot $(<"$RUN/node-slot") (pods 10.244.$(<"$RUN/node-slot").0/24)"
  else
    echo "not ready: $API_URL"
    return 1
  fi
}

case ${1:-} in
  up) cmd_up ;;
  down) cmd_down ;;
  restart) cmd_down; cmd_up ;;
  env) cmd_env ;;
  status) cmd_status ;;
  *) echo "usage: $0 up|down|env|status|restart" >&2; exit 2 ;;
esac
