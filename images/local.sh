#!/usr/bin/env bash
# Build the container images without Docker and push them to the local
# registry (e2e/local/registry.sh) under their full names minus the registry
# host, which is how containerd's mirror asks for them:
#   ghcr.io/mcp-operator/mcp-webhook:<ver>  -> 127.0.0.1:5000/mcp-operator/mcp-webhook:<ver>
#   docker.io/mcp/fetch:latest              -> 127.0.0.1:5000/mcp/fetch:latest
#   registry.k8s.io/pause:3.10              -> 127.0.0.1:5000/pause:3.10
#
# How: Debian root filesystems from mmdebstrap (release and packages pinned in
# images/versions.env), cached as tarballs; the project's binaries, a venv of
# a PyPI package or an npm install as a second layer; `crane append` (root fs
# + layer) and `crane mutate` (entrypoint, user, env, ports). An image whose
# inputs (root fs, layer contents, config, pins) hash as last time and
# that the registry still holds is not rebuilt. Every built image is also kept
# as an OCI layout, so a restarted registry (it keeps manifests in memory) is
# refilled by `restore` in seconds.
#
# Usage: images/local.sh [build] [NAME...]   build and push (default: all);
#                                            NAME: webhook controller proxy chart-test
#                                            pause coredns fetch time github everything
#                                            gofetch (a stand-in, see build_one) dex
#                                            github-mcp-server
#                                            thv-proxyrunner (bench only, not in the default set)
#        images/local.sh restore             push cached images the registry lacks
#        images/local.sh list                print the full image names
#        images/local.sh rootfs NAME         print the path of a cached root fs tarball
#                                            (slim runtime chart-test python node certs)
# Environment: BUILD (build dir, default build), MCP_REGISTRY_PORT (5000),
# MCP_IMAGES_CACHE (default ~/.cache/mcp-operator/images).
# Needs root (mmdebstrap --mode=root, chroot).
set -euo pipefail
shopt -s inherit_errexit

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=versions.env
. "$ROOT/images/versions.env"
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator
IMG_CACHE=${MCP_IMAGES_CACHE:-$CACHE_ROOT/images}
REG=127.0.0.1:${MCP_REGISTRY_PORT:-5000}
BUILD_DIR=${BUILD:-build}
[[ $BUILD_DIR == /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
TAG=$(awk '/^appVersion:/ {gsub(/"/, "", $2); print $2}' "$ROOT/charts/mcp-operator/Chart.yaml")
COREDNS_VERSION=$(awk '$1=="github.com/coredns/coredns" {print $2; exit}' "$ROOT/tools/coredns/go.mod")
BIN_DIRS=$("$ROOT/e2e/local/build.sh" paths)
NODE_BIN_DIR=$(sed -n 's/^NODE_BIN_DIR=//p' <<<"$BIN_DIRS")
DEX_BIN_DIR=$(sed -n 's/^DEX_BIN_DIR=//p' <<<"$BIN_DIRS")
DEX_VERSION=$(awk '$1=="require" && $2=="github.com/dexidp/dex" {print $3; exit}' "$ROOT/tools/dex/go.mod")
GITHUB_MCP_BIN_DIR=$(sed -n 's/^GITHUB_MCP_BIN_DIR=//p' <<<"$BIN_DIRS")
GITHUB_MCP_VERSION=$(basename "$(dirname "$GITHUB_MCP_BIN_DIR")")
CRANE=$NODE_BIN_DIR/crane
# part of every image's cache key: bump it when a change here changes what
# goes into an image (the other inputs -- root fs, files, pins, config -- are
# hashed as they are)
LAYOUT=1
ENV_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[images %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ---- root file systems ---------------------------------------------------------
# Slim like debian:<suite>-slim (docs, man pages, locales left out by dpkg),
# no Recommends; /dev is left to the runtime. The same options are stored in
# the root fs (/etc/dpkg/dpkg.cfg.d, /etc/apt/apt.conf.d), so the Docker path,
# which starts from the `slim` tarball, installs packages the same way.
# shellcheck source=mmdebstrap.sh
. "$ROOT/images/mmdebstrap.sh"

MMDEB_VERSION=

sources() {
  local s=$1
  printf '%s\n' "deb $DEBIAN_MIRROR $s main" "deb $DEBIAN_MIRROR $s-updates main" \
    "deb $DEBIAN_SECURITY $s-security main"
}

# rootfs NAME -> path of the cached tarball (built when missing)
rootfs() {
  local name=$1 suite=$DEBIAN_SUITE pkgs key tar
  case $name in
    slim) pkgs= ;;
    runtime) pkgs=$RUNTIME_PKGS ;;
    chart-test) pkgs=$CHART_TEST_PKGS ;;
    python) pkgs=$PYTHON_PKGS ;;
    node) pkgs=$NODE_PKGS suite=$NODE_SUITE ;;
    certs) pkgs=$CERTS_PKGS ;;
    *) die "unknown root fs $name" ;;
  esac
  [[ -n $MMDEB_VERSION ]] || MMDEB_VERSION=$(mmdebstrap --version)
  key=$({ echo "$MMDEB_VERSION"; echo "$suite $pkgs"; sources "$suite"; printf '%s\n' "${MMDEB_OPTS[@]}"; } |
    sha256sum | cut -c1-16)
  tar=$IMG_CACHE/rootfs/$name-$suite-$key.tar
  if [[ ! -f $tar ]]; then
    log "root fs $name: mmdebstrap $suite ${pkgs:-(base only)}"
    local t0=$SECONDS
    mapfile -t srcs < <(sources "$suite")
    mmdeb_cached "$IMG_CACHE/debs/$suite" "$suite" "$tar" "$pkgs" "${srcs[@]}" || die "mmdebstrap $name"
    log "root fs $name: $(du -h "$tar" | cut -f1) in $((SECONDS - t0))s"
    # older root file systems of this name (other pins) are not needed again
    local old
    for old in "$IMG_CACHE/rootfs/$name"-*.tar; do [[ $old == "$tar" ]] || rm -f "$old"; done
  fi
  echo "$tar"
}

# ---- layers ------------------------------------------------------------------------
# pack DIR OUT: a reproducible layer tarball of DIR's contents (root-owned)
pack() {
  tar --numeric-owner --owner=0 --group=0 --sort=name --xattrs --xattrs-include=security.capability \
    -C "$1" -cf "$2" .
}

# extract TAR DIR
extract() { mkdir -p "$2" && tar --numeric-owner -C "$2" -xf "$1"; }

# in_root DIR CMD...: run CMD chrooted in DIR with /dev and /proc, in a
# private mount namespace (nothing to unmount afterwards) and a clean
# environment (none of the host's PIP_*, PYTHON* settings)
in_root() {
  local dir=$1
  shift
  mkdir -p "$dir/dev" "$dir/proc"
  unshare --mount --pid --fork -- /bin/sh -ec \
    'd=$1; shift; mount --rbind /dev "$d/dev"; mount -t proc proc "$d/proc"; exec chroot "$d" /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 "$@"' \
    sh "$dir" "$@"
}

# layer_bin WORK OUT FILE DEST [CAPS]: one binary (stripped) at DEST, with
# the file capabilities CAPS (setcap syntax) if given
layer_bin() {
  local work=$1 out=$2 file=$3 dest=$4 caps=${5:-}
  mkdir -p "$work/l$(dirname "$dest")"
  install -m 0755 "$file" "$work/l$dest"
  strip --strip-unneeded "$work/l$dest" 2>/dev/null || true
  [[ -z $caps ]] || setcap "$caps" "$work/l$dest"
  find "$work/l" -exec touch -h -d @0 {} +
  pack "$work/l" "$out"
}

# layer_static WORK OUT FILE DEST: a static binary at DEST and an empty /tmp
# (1777), like ko's default base (distroless static) under it
layer_static() {
  mkdir -p "$1/l/tmp"
  chmod 1777 "$1/l/tmp"
  layer_bin "$@"
}

# layer_go WORK OUT CERTS FILE DEST: layer_static plus the CA bundle
# (/etc/ssl/certs/ca-certificates.crt, where Go looks first) of the root fs
# tarball CERTS, Debian's ca-certificates: for a Go server that calls HTTPS
# APIs, as upstream's distroless base has one
layer_go() {
  local work=$1 out=$2 certs=$3
  mkdir -p "$work/l/etc/ssl/certs"
  tar -xOf "$certs" ./etc/ssl/certs/ca-certificates.crt >"$work/l/etc/ssl/certs/ca-certificates.crt"
  chmod 0644 "$work/l/etc/ssl/certs/ca-certificates.crt"
  [[ -s $work/l/etc/ssl/certs/ca-certificates.crt ]] || die "no CA bundle in $certs"
  layer_static "$work" "$out" "$4" "$5"
}

# pip_wheels PKG VER -> directory of the wheels (downloaded once, by the
# host's pip: this machine is the root fs's release, so its python3.11 and
# glibc pick the same wheels as the root fs's own pip would)
pip_wheels() {
  local dir=$IMG_CACHE/pip/$1-$2
  if [[ ! -d $dir ]]; then
    log "pip download $1==$2"
    rm -rf "$dir.tmp"
    env -u PIP_FIND_LINKS -u PIP_NO_INDEX python3 -m pip download --quiet --disable-pip-version-check --dest "$dir.tmp" \
      --only-binary=:all: --python-version 3.11 "$1==$2" >&2
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

# layer_venv WORK OUT ROOTFS PKG VER [DEST PKG VER]...: /opt/venv with
# PKG==VER installed by the root fs's own python (from the downloaded wheels,
# no network in the chroot); each further triple another venv at DEST (for
# packages whose dependencies conflict, e.g. mcp 1.x and 2.x)
layer_venv() {
  local work=$1 out=$2 base=$3 dest=/opt/venv pkg=$4 ver=$5 wheels
  shift 5
  extract "$base" "$work/r"
  while :; do
    wheels=$(pip_wheels "$pkg" "$ver")
    rm -rf "$work/r/tmp/wheels"
    mkdir -p "$work/r/tmp/wheels"
    cp "$wheels"/* "$work/r/tmp/wheels/"
    in_root "$work/r" /usr/bin/python3 -m venv "$dest"
    in_root "$work/r" "$dest/bin/pip" install --quiet --no-index --no-cache-dir \
      --disable-pip-version-check --find-links /tmp/wheels "$pkg==$ver" >&2
    mkdir -p "$work/l$(dirname "$dest")"
    mv "$work/r$dest" "$work/l$dest"
    (($#)) || break
    dest=$1 pkg=$2 ver=$3
    shift 3
  done
  pack "$work/l" "$out"
}

# npm_tree PKG VER -> directory with node_modules (installed once, no scripts)
npm_tree() {
  local dir=$IMG_CACHE/npm/${1//\//+}@$2
  if [[ ! -d $dir ]]; then
    log "npm install $1@$2"
    rm -rf "$dir.tmp"
    mkdir -p "$dir.tmp"
    npm install --silent --prefix "$dir.tmp" --omit=dev --ignore-scripts --no-audit --no-fund \
      --no-update-notifier "$1@$2" >&2
    mv "$dir.tmp" "$dir"
  fi
  echo "$dir"
}

# layer_npm WORK OUT PKG VER: /opt/mcp/{package.json,node_modules}
layer_npm() {
  local work=$1 out=$2 tree
  tree=$(npm_tree "$3" "$4")
  mkdir -p "$work/l/opt/mcp"
  cp -a "$tree"/. "$work/l/opt/mcp/"
  pack "$work/l" "$out"
}

# ---- images ----------------------------------------------------------------------
# regpath NAME: the path inside the registry (registry host stripped,
# docker.io single names under library/)
regpath() {
  local n=$1 first=${1%%/*}
  if [[ $n == */* && ($first == *.* || $first == *:* || $first == localhost) ]]; then
    n=${n#*/}
    [[ $first == docker.io && $n != */* ]] && n=library/$n
  fi
  echo "$n"
}

# crane_q ARGS...: crane with its progress lines shown only when it fails
crane_q() {
  local err
  err=$("$CRANE" "$@" 2>&1 >/dev/null) || { printf '%s\n' "$err" >&2; return 1; }
}

has_manifest() { [[ $("$CRANE" digest "$1" 2>/dev/null) == "$2" ]]; }

# publish ID NAME TAGS KEY LAYER_CMD -- MUTATE_ARGS...
#   LAYER_CMD (a function name and its arguments, run with WORK and OUT
#   prepended) makes the top layer; "-" for none. Skipped when the key
#   matches the last build and the registry holds the manifest.
publish() {
  local id=$1 name=$2 tags=$3 key=$4 base=$5 layer_cmd=() mutate=() out path ref t work digest
  shift 5
  while (($#)) && [[ $1 != -- ]]; do layer_cmd+=("$1"); shift; done
  shift
  mutate=("$@")
  key=$(printf '%s\n' "$key" "$base" "${layer_cmd[*]}" "${mutate[*]}" "$LAYOUT" | sha256sum | cut -c1-32)
  out=$IMG_CACHE/out/$id
  path=$(regpath "$name")
  ref=$REG/$path:${tags%% *}
  if [[ -f $out.key && $(<"$out.key") == "$key" && -d $out.oci ]]; then
    digest=$(<"$out.digest")
    local missing=0
    for t in $tags; do has_manifest "$REG/$path:$t" "$digest" || missing=1; done
    if ((missing == 0)); then
      log "$name: up to date ($digest)"
      return 0
    fi
    log "$name: pushing the cached image again"
    for t in $tags; do crane_q push "$out.oci" "$REG/$path:$t"; done
    return 0
  fi
  local t0=$SECONDS
  work=$(mktemp -d "$IMG_CACHE/work.XXXXXX")
  WORK=$work
  local layers=(-f "$base")
  if [[ ${layer_cmd[0]} != - ]]; then
    "${layer_cmd[0]}" "$work" "$work/layer.tar" "${layer_cmd[@]:1}"
    layers+=(-f "$work/layer.tar")
  fi
  [[ -n $base ]] || layers=("${layers[@]:2}")
  crane_q append --oci-empty-base "${layers[@]}" -t "$ref"
  crane_q mutate "$ref" --set-platform linux/amd64 -w / -e "PATH=$ENV_PATH" "${mutate[@]}" -t "$ref" >/dev/null
  for t in ${tags#* }; do [[ $t == "${tags%% *}" ]] || crane_q tag "$ref" "$t"; done
  digest=$("$CRANE" digest "$ref")
  rm -rf "$out.oci.tmp" "$work"
  WORK=
  mkdir -p "$(dirname "$out")"
  crane_q pull --format=oci "$ref" "$out.oci.tmp"
  rm -rf "$out.oci"
  mv "$out.oci.tmp" "$out.oci"
  echo "$digest" >"$out.digest"
  for t in $tags; do echo "$REG/$path:$t"; done | sed "s|^$REG/||" >"$out.refs"
  echo "$key" >"$out.key"
  log "$name: built and pushed $tags ($digest, $((SECONDS - t0))s)"
}

sha() { sha256sum "$1" | cut -c1-16; }

need_bin() { [[ -x $1 ]] || die "$1 missing (make all / e2e/local/build.sh node dex github-mcp-server)"; }

build_one() {
  local t
  case $1 in
    webhook | controller | proxy)
      local b=$BUILD_DIR/mcp-$1 ports=()
      need_bin "$b"
      case $1 in
        webhook) ports=(--exposed-ports 8443/tcp,8081/tcp) ;;
        controller) ports=(--exposed-ports 8081/tcp) ;;
        proxy) ports=(--exposed-ports 8080/tcp) ;;
      esac
      t=$(rootfs runtime)
      publish "mcp-$1" "ghcr.io/mcp-operator/mcp-$1" "$TAG dev" "$(sha "$b")" "$t" \
        layer_bin "$b" "/usr/local/bin/mcp-$1" -- \
        --entrypoint "/usr/local/bin/mcp-$1" -u "$IMAGE_USER" "${ports[@]}" ;;
    chart-test)
      t=$(rootfs chart-test)
      publish mcp-chart-test ghcr.io/mcp-operator/mcp-chart-test "$TAG dev" "" "$t" - -- \
        --cmd /bin/sh -u "$IMAGE_USER" ;;
    pause)
      need_bin /usr/bin/catatonit
      publish pause registry.k8s.io/pause "$PAUSE_TAG" "$(sha /usr/bin/catatonit)" "" \
        layer_bin /usr/bin/catatonit /catatonit -- \
        --entrypoint /catatonit,-P -u "$PAUSE_USER" ;;
    coredns)
      # non-root: like upstream's image, /coredns carries the file capability
      # to bind port 53 (the Deployment adds NET_BIND_SERVICE to its bounding set)
      need_bin "$NODE_BIN_DIR/coredns"
      publish coredns registry.k8s.io/coredns/coredns "$COREDNS_VERSION" "$(sha "$NODE_BIN_DIR/coredns")" "" \
        layer_bin "$NODE_BIN_DIR/coredns" /coredns cap_net_bind_service=+ep -- \
        --entrypoint /coredns -u "$IMAGE_USER" --exposed-ports 53/tcp,53/udp,9153/tcp ;;
    fetch | time)
      local pkg=mcp-server-$1 ver
      [[ $1 == fetch ]] && ver=$MCP_SERVER_FETCH_VERSION || ver=$MCP_SERVER_TIME_VERSION
      t=$(rootfs python)
      publish "mcp-$1" "docker.io/mcp/$1" "latest $ver" "" "$t" \
        layer_venv "$t" "$pkg" "$ver" -- \
        --entrypoint "$pkg" -u "$IMAGE_USER" -e "PATH=/opt/venv/bin:$ENV_PATH" \
        -e PYTHONUNBUFFERED=1 ;;
    gofetch)
      # ToolHive's tool-filter example names ghcr.io/stackloklabs/gofetch/server
      # (a Go fetch server). Its Go module cannot be fetched here (the Go
      # module proxy refuses github.com/stackloklabs/gofetch at every version
      # tried, see tools/github-mcp-server/go.mod), so this
      # name carries an honest stand-in made only of published packages:
      # PyPI's mcp-server-fetch (tool `fetch`), served over streamable HTTP
      # (/mcp, and HTTP+SSE at /sse) on 0.0.0.0:8080 by PyPI's mcp-proxy
      # (sparfenyuk; its mcp<2 and the server's mcp 2.x need two venvs).
      # --allow-private-ips: so that it can fetch in-cluster pages (the
      # acceptance test fetches one); whether gofetch itself refuses private
      # addresses was not checked. Arguments of the MCPServer follow it.
      t=$(rootfs python)
      publish mcp-gofetch ghcr.io/stackloklabs/gofetch/server "latest" "" "$t" \
        layer_venv "$t" mcp-server-fetch "$MCP_SERVER_FETCH_VERSION" \
        /opt/bridge mcp-proxy "$MCP_PROXY_PY_VERSION" -- \
        --entrypoint "/opt/bridge/bin/mcp-proxy,--host=0.0.0.0,--port=8080,--,/opt/venv/bin/mcp-server-fetch,--allow-private-ips" \
        -u "$IMAGE_USER" --exposed-ports 8080/tcp -e PYTHONUNBUFFERED=1 \
        -l "org.opencontainers.image.description=stand-in for ghcr.io/stackloklabs/gofetch/server: PyPI mcp-server-fetch $MCP_SERVER_FETCH_VERSION behind PyPI mcp-proxy $MCP_PROXY_PY_VERSION (streamable HTTP on :8080/mcp)" ;;
    github | everything)
      local pkg=@modelcontextprotocol/server-$1 ver
      [[ $1 == github ]] && ver=$SERVER_GITHUB_VERSION || ver=$SERVER_EVERYTHING_VERSION
      t=$(rootfs node)
      publish "mcp-$1" "docker.io/mcp/$1" "latest $ver" "" "$t" \
        layer_npm "$pkg" "$ver" -- \
        --entrypoint "mcp-server-$1" -u "$IMAGE_USER" \
        -e "PATH=/opt/mcp/node_modules/.bin:$ENV_PATH" -e NODE_ENV=production ;;
    dex)
      # the e2e tests' OpenID provider (e2e/lib/dex.sh): the static dex
      # binary built by e2e/local/build.sh dex (CGO off; no CA certificates,
      # it makes no outgoing TLS connection with the e2e config) and /tmp,
      # non-root; config from a mounted ConfigMap (`serve /etc/dex/config.yaml`).
      # The project's name, not ghcr.io/dexidp/dex: the build leaves out
      # the gRPC admin API (tools/dex/serve-no-grpc-api.patch)
      need_bin "$DEX_BIN_DIR/dex"
      publish dex ghcr.io/mcp-operator/dex "$DEX_VERSION" "$(sha "$DEX_BIN_DIR/dex")" "" \
        layer_static "$DEX_BIN_DIR/dex" /usr/local/bin/dex -- \
        --entrypoint /usr/local/bin/dex --cmd version -u "$IMAGE_USER" --exposed-ports 5556/tcp ;;
    github-mcp-server)
      # GitHub's MCP server (ToolHive's examples name it, run with transport
      # stdio and GITHUB_PERSONAL_ACCESS_TOKEN from a Secret): the static
      # binary built by e2e/local/build.sh github-mcp-server from its Go module
      # (tools/github-mcp-server), laid out as upstream's Dockerfile does --
      # /server/github-mcp-server, workdir /server, entrypoint the binary and
      # cmd `stdio` (an MCPServer's args replace the cmd), port 8082 for its
      # `http` mode -- on no base but /tmp and a CA bundle, non-root
      need_bin "$GITHUB_MCP_BIN_DIR/github-mcp-server"
      t=$(rootfs certs)
      publish github-mcp-server ghcr.io/github/github-mcp-server "latest $GITHUB_MCP_VERSION" \
        "$(sha "$GITHUB_MCP_BIN_DIR/github-mcp-server")" "" \
        layer_go "$t" "$GITHUB_MCP_BIN_DIR/github-mcp-server" /server/github-mcp-server -- \
        --entrypoint /server/github-mcp-server --cmd stdio -w /server -u "$IMAGE_USER" \
        --exposed-ports 8082/tcp -l io.modelcontextprotocol.server.name=io.github.github/github-mcp-server ;;
    thv-proxyrunner)
      # the proxy bench's peer on the node (bench/proxy/node.sh): ToolHive's
      # cmd/thv-proxyrunner built by bench/peers/build.sh, laid out as its
      # ko-built image is (/ko-app/NAME, nonroot), under its published name
      local b v
      b=$(PEERS_NO_BUILD=1 "$ROOT/bench/peers/build.sh" thv-proxyrunner) ||
        die "thv-proxyrunner not built (bench/peers/build.sh thv-proxyrunner)"
      v=$(basename "$(dirname "$(dirname "$b")")")
      publish thv-proxyrunner ghcr.io/stacklok/toolhive/proxyrunner "$v" "$(sha "$b")" "" \
        layer_static "$b" /ko-app/thv-proxyrunner -- \
        --entrypoint /ko-app/thv-proxyrunner -u "$IMAGE_USER" ;;
    *) die "unknown image $1" ;;
  esac
}

all_names() {
  echo webhook controller
  [[ -d $ROOT/proxy ]] && echo proxy
  echo chart-test pause coredns fetch time github everything gofetch dex github-mcp-server
}

full_name() {
  case $1 in
    webhook | controller | proxy) echo "ghcr.io/mcp-operator/mcp-$1:$TAG" ;;
    chart-test) echo "ghcr.io/mcp-operator/mcp-chart-test:$TAG" ;;
    pause) echo "registry.k8s.io/pause:$PAUSE_TAG" ;;
    coredns) echo "registry.k8s.io/coredns/coredns:$COREDNS_VERSION" ;;
    fetch | time | github | everything) echo "docker.io/mcp/$1:latest" ;;
    gofetch) echo "ghcr.io/stackloklabs/gofetch/server:latest" ;;
    dex) echo "ghcr.io/mcp-operator/dex:$DEX_VERSION" ;;
    github-mcp-server) echo "ghcr.io/github/github-mcp-server:latest" ;;
  esac
}

restore() {
  local refs digest ref
  [[ -d $IMG_CACHE/out ]] || return 0
  for refs in "$IMG_CACHE"/out/*.refs; do
    [[ -f $refs && -d ${refs%.refs}.oci ]] || continue
    digest=$(<"${refs%.refs}.digest")
    while read -r ref; do
      has_manifest "$REG/$ref" "$digest" && continue
      log "restore $ref"
      crane_q push "${refs%.refs}.oci" "$REG/$ref"
    done <"$refs"
  done
}

# the root file system an image starts from (none for pause and coredns)
rootfs_of() {
  case $1 in
    webhook | controller | proxy) echo runtime ;;
    chart-test) echo chart-test ;;
    fetch | time | gofetch) echo python ;;
    github | everything) echo node ;;
    github-mcp-server) echo certs ;;
  esac
}

# prebuild NAME...: the missing root file systems of these images, all at
# once (mmdebstrap mostly waits on the archive and dpkg)
prebuild() {
  local r pids=() rc=0
  MMDEB_VERSION=$(mmdebstrap --version)
  for r in $(for n in "$@"; do rootfs_of "$n"; done | sort -u); do
    rootfs "$r" >/dev/null &
    pids+=($!)
  done
  for r in "${pids[@]}"; do wait "$r" || rc=1; done
  ((rc == 0)) || die "a root file system failed to build"
}

main() {
  [[ -x $CRANE ]] || die "$CRANE missing: run e2e/local/build.sh node"
  local cmd=${1:-build} n names
  case $cmd in
    list)
      for n in $(all_names); do full_name "$n"; done
      return 0 ;;
    restore | build | rootfs) shift || true ;;
    *) cmd=build ;;
  esac
  mkdir -p "$IMG_CACHE"
  exec 9>"$IMG_CACHE/.lock"
  if [[ $cmd == restore ]]; then
    # a build in progress pushes its images itself: never wait for it here
    flock -n 9 || { log "a build is running: restore left to it"; return 0; }
    restore
    return 0
  fi
  [[ $(id -u) == 0 ]] || die "needs root (mmdebstrap --mode=root, chroot)"
  WORK=
  trap '[[ -z $WORK ]] || rm -rf "$WORK"' EXIT
  flock 9
  case $cmd in
    rootfs) rootfs "${1:?rootfs NAME}" ;;
    build)
      curl -fsS --max-time 2 -o /dev/null "http://$REG/v2/" ||
        die "no registry on $REG (e2e/local/registry.sh up)"
      T0=$SECONDS
      names=("$@")
      ((${#names[@]})) || mapfile -t names < <(all_names | tr ' ' '\n')
      prebuild "${names[@]}"
      for n in "${names[@]}"; do build_one "$n"; done
      log "done in $((SECONDS - T0))s" ;;
  esac
}

# one line, parsed whole before it runs: editing this file while a build
# runs cannot make bash read on into the new text
main "$@"; exit $?
