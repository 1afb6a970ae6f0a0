#!/usr/bin/env bash
# The Docker path (`make images`, Dockerfile) and the Docker-less path
# (`make images-local`, images/local.sh) give the same images: same files,
# same user, entrypoint and ports. Slow (Docker builds the binaries from
# source): `make test-images-docker`, not part of `make test`.
#
# Nothing can be pulled here, so Debian's own docker.io (installed when
# missing) runs with its data root, exec root and socket in a temporary
# directory, without a bridge or iptables rules (builds use the host's
# network, only for the Debian archive); the Docker-less path's mmdebstrap
# `slim` root file system is `docker import`ed as debian:<release> and
# debian:<release>-slim. The daemon is stopped and its directory removed at
# the end, whatever happens.
#
# Needs root and the images of `make images-local` in the local registry.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../e2e/local/lib.sh
. "$ROOT/e2e/local/lib.sh"
. "$ROOT/images/versions.env"
eval "$("$ROOT/e2e/local/build.sh" paths)"
CRANE=$NODE_BIN_DIR/crane
REG=$("$ROOT/e2e/local/registry.sh" addr)
TAG=$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' "$ROOT/charts/mcp-operator/Chart.yaml")
CMP_TAG=docker-compare
DOCKER=/usr/bin/docker
D=$(mktemp -d /var/tmp/mcp-docker.XXXXXX)
export DOCKER_HOST=unix://$D/docker.sock DOCKER_CONFIG=$D/config DOCKER_BUILDKIT=0
TARGETS=(webhook controller chart-test)
[[ -n $(ls "$ROOT"/proxy/*.c 2>/dev/null) ]] && TARGETS+=(proxy)

log() { printf '# %s %s\n' "$(date +%H:%M:%S)" "$*"; }

DOCKERD_PID=
DOCKERD_STARTED=0
stop_daemon() {
  if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
    kill "$DOCKERD_PID"
    for ((i = 0; i < 300; i++)); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$DOCKERD_PID" 2>/dev/null
    log "dockerd stopped"
  fi
  DOCKERD_PID=
  # whatever dockerd left mounted under its directories
  grep -o " $D/[^ ]*" /proc/self/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  rm -rf "$D"
}
trap stop_daemon EXIT
trap 'exit 130' INT TERM

install_docker() {
  [[ -x /usr/sbin/dockerd && -x $DOCKER ]] && return 0
  log "installing Debian's docker.io"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
}

start_daemon() {
  mkdir -p "$D/config"
  /usr/sbin/dockerd --data-root "$D/data" --exec-root "$D/exec" --pidfile "$D/dockerd.pid" \
    -H "$DOCKER_HOST" --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    >"$D/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  DOCKERD_STARTED=$DOCKERD_PID
  for ((i = 0; i < 300; i++)); do
    "$DOCKER" info >/dev/null 2>&1 && return 0
    kill -0 "$DOCKERD_PID" 2>/dev/null || break
    sleep 0.2
  done
  echo "dockerd did not start:"; tail -20 "$D/dockerd.log"
  return 1
}

# files LISTING: one path a line, "./" and trailing "/" dropped, without
# what only a container runtime puts there (/dev, /proc, /sys, /.dockerenv,
# the files Docker's init layer adds: hosts, hostname, resolv.conf, mtab) and package-manager logs and caches
files() {
  sed -e 's|^\./||' -e 's|/$||' -e '/^\.\?$/d' |
    grep -Ev '^(\.dockerenv|dev|proc|sys)(/|$)|^etc/(hosts|hostname|resolv\.conf|mtab)$|^var/(log|cache)/.|^var/lib/apt/lists/.|^var/lib/dpkg/[^/]*-old$|^tmp/.' |
    sort -u
}

local_ref() { echo "$REG/mcp-operator/mcp-$1:$TAG"; }

# ---------------------------------------------------------------- tests
test_daemon() {
  t_check "install docker.io" install_docker || return 1
  # not under t_check: that runs its command in a subshell, which would
  # lose DOCKERD_PID
  start_daemon >"$D/start.out" 2>&1 || { t_fail "start dockerd: $(tr '\n' ' ' <"$D/start.out")"; return 1; }
  t_check "docker version" "$DOCKER" version --format '{{.Server.Version}}' || return 1
  log "dockerd $T_LAST_OUTPUT (data root $D/data)"
}

test_import() {
  local slim
  slim=$("$ROOT/images/local.sh" rootfs slim) || { t_fail "no slim root fs"; return 1; }
  t_check "docker import debian:$DEBIAN_SUITE" "$DOCKER" import "$slim" "debian:$DEBIAN_SUITE" || return 1
  t_check "tag -slim" "$DOCKER" tag "debian:$DEBIAN_SUITE" "debian:$DEBIAN_SUITE-slim" || return 1
}

test_make_images() {
  local t0=$SECONDS
  if ! make -C "$ROOT" --no-print-directory images DOCKER="$DOCKER" IMAGE_TAG=$CMP_TAG \
      DOCKER_BUILD_FLAGS=--network=host >"$D/build.log" 2>&1; then
    t_fail "make images: $(tail -n 15 "$D/build.log" | tr '\n' ' ')"
    return 1
  fi
  log "make images: $((SECONDS - t0))s"
}

# compare TARGET
test_compare() {
  local t=$1 cid a b
  t_check "docker create" "$DOCKER" create "ghcr.io/mcp-operator/mcp-$t:$CMP_TAG" || return 1
  cid=$T_LAST_OUTPUT
  "$DOCKER" export "$cid" | tar -t | files >"$D/$t.docker"
  "$DOCKER" rm "$cid" >/dev/null
  "$CRANE" export "$(local_ref "$t")" - | tar -t | files >"$D/$t.local"
  if ! diff -u "$D/$t.local" "$D/$t.docker" >"$D/$t.diff"; then
    t_fail "file lists differ (local vs docker, $(wc -l <"$D/$t.local") vs $(wc -l <"$D/$t.docker") files): $(grep '^[-+][^-+]' "$D/$t.diff" | head -20 | tr '\n' ' ')"
    return 1
  fi
  a=$("$CRANE" config "$(local_ref "$t")" | jq -c '.config | [.User, .Entrypoint, (.ExposedPorts // {} | keys), .Cmd]')
  b=$("$DOCKER" image inspect "ghcr.io/mcp-operator/mcp-$t:$CMP_TAG" |
    jq -c '.[0].Config | [.User, .Entrypoint, (.ExposedPorts // {} | keys), .Cmd]')
  [[ $a == "$b" ]] || { t_fail "config [user, entrypoint, ports, cmd]: local $a, docker $b"; return 1; }
  log "$t: $(wc -l <"$D/$t.local") files, config $a: same"
}

t_test "Debian's dockerd starts (own data root and socket, no bridge)" test_daemon
if ((T_FAILED > 0)); then stop_daemon; t_summary; exit 1; fi
t_test "mmdebstrap slim root fs imported as debian:$DEBIAN_SUITE(-slim)" test_import
t_test "make images (Dockerfile) builds ${TARGETS[*]}" test_make_images
for t in "${TARGETS[@]}"; do
  t_test "mcp-$t: same files and config as images-local" test_compare "$t"
done
stop_daemon
stopped() {
  ((DOCKERD_STARTED > 0)) || { t_fail "no dockerd pid recorded"; return 1; }
  if kill -0 "$DOCKERD_STARTED" 2>/dev/null; then
    t_fail "dockerd (pid $DOCKERD_STARTED) still runs"
    return 1
  fi
  ! pgrep -f -- "$D/" >/dev/null || { t_fail "processes left: $(pgrep -a -f -- "$D/" | cut -c1-80 | tr '\n' ' ')"; return 1; }
  ! grep -q " $D" /proc/self/mounts || { t_fail "mounts left under $D"; return 1; }
  [[ ! -e $D ]] || { t_fail "$D left"; return 1; }
}
t_test "dockerd stopped, nothing left mounted, its directory removed" stopped
t_summary
