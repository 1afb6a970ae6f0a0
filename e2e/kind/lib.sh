# shellcheck shell=bash
# Shared by e2e/kind/build.sh and e2e/kind/run.sh: where kind's pieces are
# cached, and a private Docker daemon.
#
#   kind_paths                  set KIND_VERSION, KIND_BIN_DIR (kind, kubeadm,
#                               crictl), KIND_CACHE
#   dockerd_start DIR           Debian's dockerd (docker.io, installed when
#                               missing) with its data root, exec root
#                               and socket under DIR (a new, empty directory):
#                               no default bridge, no iptables rules, no
#                               masquerading, no IP forwarding; exports
#                               DOCKER_HOST and DOCKER_CONFIG, puts DIR/bin
#                               (docker -> /usr/bin/docker) first on PATH
#   dockerd_stop                stop it (SIGTERM, then SIGKILL after 30 s),
#                               unmount what it left under DIR, remove DIR
#
# Needs ROOT (the repository) set by the caller.

KIND_CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator
# MCP_KIND_CACHE: another directory for kind's binaries and node image (e.g. an
# empty one, to time a cold build without wiping this one)
KIND_CACHE=${MCP_KIND_CACHE:-$KIND_CACHE_ROOT/kind}

klog() { printf '[kind %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# _kind_modver DIR MODULE -> version of MODULE required by tools/DIR/go.mod
_kind_modver() {
  awk -v m="$2" '$1==m && $2 ~ /^v/ {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$ROOT/tools/$1/go.mod"
}

# shellcheck disable=SC2034 # for the callers
kind_paths() {
  KIND_VERSION=$(_kind_modver kind sigs.k8s.io/kind)
  KIND_KUBEADM_VERSION=$(_kind_modver kind-kubeadm k8s.io/kubernetes)
  KIND_CRICTL_VERSION=$(_kind_modver kind-crictl sigs.k8s.io/cri-tools)
  KIND_BIN_DIR=$KIND_CACHE/bin/kind-$KIND_VERSION-kubeadm-$KIND_KUBEADM_VERSION-crictl-$KIND_CRICTL_VERSION
}

DOCKERD_PID=
DOCKERD_DIR=
dockerd_start() {
  local d=$1 i
  if [[ ! -x /usr/sbin/dockerd || ! -x /usr/bin/docker ]]; then
    klog "installing Debian's docker.io"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null || return 1
  fi
  DOCKERD_DIR=$d
  mkdir -p "$d/config" "$d/bin"
  ln -sf /usr/bin/docker "$d/bin/docker"
  export DOCKER_HOST=unix://$d/docker.sock DOCKER_CONFIG=$d/config DOCKER_BUILDKIT=0
  export PATH=$d/bin:$PATH
  # --ip-forward=false: dockerd would otherwise turn on the machine's IP
  # forwarding; without it nothing a container sends to an address that is not
  # the machine's own is routed anywhere (the containers' DNS requests to the
  # machine's resolver included: dockerd's embedded DNS sends them from the
  # container's network namespace)
  # runc-bounded: runc given only the capabilities this machine can grant (a
  # kind node is --privileged)
  /usr/sbin/dockerd --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/dockerd.pid" \
    -H "$DOCKER_HOST" --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    --ip-forward=false --add-runtime "bounded=$ROOT/e2e/kind/runc-bounded" --default-runtime=bounded \
    >"$d/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for ((i = 0; i < 300; i++)); do
    docker info >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.2
  done
  klog "dockerd did not start:"
  tail -20 "$d/dockerd.log" >&2
  return 1
}

# (safe under set -e: build.sh runs with it)
dockerd_stop() {
  local i m
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
  DOCKERD_PID=
  [[ -n $DOCKERD_DIR ]] || return 0
  # whatever dockerd (or its containerd) left mounted under its directories
  { grep -o " $DOCKERD_DIR/[^ ]*" /proc/self/mounts || true; } | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  rm -rf "$DOCKERD_DIR"
  DOCKERD_DIR=
}
