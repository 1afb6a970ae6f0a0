#!/usr/bin/env bash
# Build the local cluster's binaries from Go modules (no Docker, no release
# tarballs): kube-apiserver, kube-controller-manager, kube-scheduler, kubelet,
# kube-proxy, kubectl, etcd, helm, and for the node containerd (+ its runc
# shim and ctr), the CNI plugins, CoreDNS, crane and kube-router (its network
# policy controller is the node's NetworkPolicy enforcer), Dex (the e2e
# tests' OpenID provider) and github-mcp-server (an MCP server image of
# ToolHive's examples). Every version is pinned in one place: the wrapper
# modules under tools/<name>/go.mod (tools/dex/go.mod only pins: Dex is built
# inside its own module source, see build_dex).
#
# Binaries are cached outside the repository:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/k8s/<ver>/bin/{kube-apiserver,kube-controller-manager,kubectl}
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/etcd/<ver>/bin/etcd
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/helm/<ver>/bin/helm
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/node/<the pins>/bin/{containerd,...,coredns,crane,kube-router}
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/dex/<ver>-<patch>/bin/dex
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/github-mcp-server/<ver>/bin/github-mcp-server
# A binary that already exists is not rebuilt (K8S_FORCE_REBUILD=1 to force).
#
# Usage: e2e/local/build.sh [k8s|etcd|helm|node|dex|github-mcp-server|paths]...   (default: k8s etcd helm node)
#   paths   print the bin directories (K8S_BIN_DIR=..., ETCD_BIN_DIR=..., HELM_BIN_DIR=..., NODE_BIN_DIR=..., DEX_BIN_DIR=...,
#           GITHUB_MCP_BIN_DIR=...)
#        e2e/local/build.sh gen-k8s-mod v1.X.Y
#   regenerate tools/k8s/go.mod for another Kubernetes release: the staging
#   modules that k8s.io/kubernetes@v1.X.Y requires at v0.0.0 are replaced by
#   their published v0.X.Y tags, then `go mod tidy`. Bump tools/etcd to the
#   go.etcd.io/etcd/server/v3 version printed at the end.
#
# Environment:
#   K8S_BUILD_P        go build -p value (default: number of CPUs)
#   K8S_FORCE_REBUILD  1 = rebuild even when cached
#   K8S_GOFLAGS_EXTRA  extra flags passed to go build
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_ROOT=${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator

# modver DIR MODULE -> version of MODULE required by the wrapper's go.mod
modver() {
  [[ -f $ROOT/$1/go.mod ]] || return 0
  awk -v m="$2" '$1==m && $2 ~ /^v/ {print $2; exit} $1=="require" && $2==m {print $3; exit}' "$ROOT/$1/go.mod"
}

K8S_VERSION=$(modver tools/k8s k8s.io/kubernetes)
ETCD_VERSION=$(modver tools/etcd go.etcd.io/etcd/server/v3)
HELM_MODULE=$(awk '$1 ~ /^helm\.sh\/helm\// {print $1; exit} $1=="require" && $2 ~ /^helm\.sh\/helm\// {print $2; exit}' "$ROOT/tools/helm/go.mod" 2>/dev/null || true)
HELM_VERSION=$(modver tools/helm "$HELM_MODULE")

K8S_BIN_DIR=$CACHE_ROOT/k8s/$K8S_VERSION/bin
ETCD_BIN_DIR=$CACHE_ROOT/etcd/$ETCD_VERSION/bin
HELM_BIN_DIR=$CACHE_ROOT/helm/$HELM_VERSION/bin
CONTAINERD_VERSION=$(modver tools/containerd github.com/containerd/containerd/v2)
CNI_VERSION=$(modver tools/cni github.com/containernetworking/plugins)
COREDNS_VERSION=$(modver tools/coredns github.com/coredns/coredns)
CRANE_VERSION=$(modver tools/crane github.com/google/go-containerregistry)
KUBE_ROUTER_VERSION=$(modver tools/kube-router github.com/cloudnativelabs/kube-router/v2)
NODE_BIN_DIR=$CACHE_ROOT/node/containerd-$CONTAINERD_VERSION-cni-$CNI_VERSION-coredns-$COREDNS_VERSION-crane-$CRANE_VERSION-kube-router-$KUBE_ROUTER_VERSION/bin
DEX_VERSION=$(modver tools/dex github.com/dexidp/dex)
DEX_PATCH=$ROOT/tools/dex/serve-no-grpc-api.patch
DEX_BIN_DIR=$CACHE_ROOT/dex/$DEX_VERSION-$(sha256sum "$DEX_PATCH" 2>/dev/null | cut -c1-8)/bin
GITHUB_MCP_VERSION=$(modver tools/github-mcp-server github.com/github/github-mcp-server/v2)
GITHUB_MCP_BIN_DIR=$CACHE_ROOT/github-mcp-server/$GITHUB_MCP_VERSION/bin

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-buildvcs=false
# shellcheck source=go.sh
. "$ROOT/e2e/local/go.sh"
P=${K8S_BUILD_P:-$(nproc 2>/dev/null || echo 2)}
FORCE=${K8S_FORCE_REBUILD:-0}
BUILD_DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)

log() { printf '[build %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# gobuild DIR OUT PKG LDFLAGS
gobuild() {
  local dir=$1 out=$2 pkg=$3 ldflags=$4 t0 t1
  if [[ -x $out && $FORCE != 1 ]]; then
    log "cached: $out"
    return 0
  fi
  ensure_go || return 1
  mkdir -p "$(dirname "$out")"
  log "building $pkg -> $out (-p $P)"
  t0=$(date +%s)
  (cd "$ROOT/$dir" && go build -p "$P" -trimpath -pgo=off ${K8S_GOFLAGS_EXTRA:-} \
      -ldflags "-s -w $ldflags" -o "$out.tmp.$$" "$pkg")
  mv -f "$out.tmp.$$" "$out"
  t1=$(date +%s)
  log "built $(basename "$out") in $((t1 - t0))s"
}

build_k8s() {
  local v=$K8S_VERSION major minor ld="" p
  major=${v#v}; major=${major%%.*}
  minor=${v#v*.}; minor=${minor%%.*}
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $p.gitVersion=$v -X $p.gitMajor=$major -X $p.gitMinor=$minor"
    ld+=" -X $p.gitTreeState=clean -X $p.buildDate=$BUILD_DATE"
  done
  for b in kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl; do
    gobuild tools/k8s "$K8S_BIN_DIR/$b" "k8s.io/kubernetes/cmd/$b" "$ld"
  done
}

build_etcd() {
  local v=$ETCD_VERSION
  gobuild tools/etcd "$ETCD_BIN_DIR/etcd" . \
    "-X go.etcd.io/etcd/api/v3/version.GitSHA=${v}"
}

build_helm() {
  local v=$HELM_VERSION ld
  ld="-X ${HELM_MODULE}/internal/version.version=$v -X ${HELM_MODULE}/internal/version.gitTreeState=clean"
  gobuild tools/helm "$HELM_BIN_DIR/helm" "${HELM_MODULE}/cmd/helm" "$ld"
}

build_node() {
  local b ver=github.com/containerd/containerd/v2/version
  for b in containerd containerd-shim-runc-v2 ctr; do
    gobuild tools/containerd "$NODE_BIN_DIR/$b" "github.com/containerd/containerd/v2/cmd/$b" \
      "-X $ver.Version=$CONTAINERD_VERSION -X $ver.Package=github.com/containerd/containerd/v2"
  done
  for b in ipam/host-local main/bridge main/loopback meta/portmap; do
    gobuild tools/cni "$NODE_BIN_DIR/cni/${b#*/}" "github.com/containernetworking/plugins/plugins/$b" ""
  done
  gobuild tools/coredns "$NODE_BIN_DIR/coredns" github.com/coredns/coredns \
    "-X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION"
  gobuild tools/crane "$NODE_BIN_DIR/crane" github.com/google/go-containerregistry/cmd/crane ""
  gobuild tools/kube-router "$NODE_BIN_DIR/kube-router" github.com/cloudnativelabs/kube-router/v2/cmd/kube-router \
    "-X github.com/cloudnativelabs/kube-router/v2/pkg/version.Version=$KUBE_ROUTER_VERSION -X github.com/cloudnativelabs/kube-router/v2/pkg/version.BuildDate=$BUILD_DATE"
}

# Dex from its module source: its go.mod replaces github.com/dexidp/dex/api/v2
# with ./api/v2, a nested module that is not in the module's zip, and that
# module's version at this commit is not on the proxy (only its v2.4.0,
# older than the commit's server/apiserver). So: download the source (hash
# checked against tools/dex/go.sum), drop the gRPC admin API from cmd/dex
# (tools/dex/serve-no-grpc-api.patch: the only importer of api/v2 and
# server/apiserver; OIDC does not use it), drop the replace and the
# requirement, and build ./cmd/dex with Dex's own go.sum for everything else.
# CGO off: no sqlite storage (the e2e config uses storage: memory).
build_dex() {
  local out=$DEX_BIN_DIR/dex json dir sum want work t0
  if [[ -x $out && $FORCE != 1 ]]; then
    log "cached: $out"
    return 0
  fi
  ensure_go || return 1
  t0=$(date +%s)
  want=$(awk -v m=github.com/dexidp/dex -v v="$DEX_VERSION" '$1==m && $2==v {print $3; exit}' "$ROOT/tools/dex/go.sum")
  work=$(mktemp -d "${TMPDIR:-/tmp}/dex-build.XXXXXX")
  # outside any module: the download alone, verified by the checksum database too
  json=$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/dexidp/dex@$DEX_VERSION") || {
    printf '%s\n' "$json" >&2; rm -rf "$work"; return 1; }
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p' <<<"$json")
  sum=$(sed -n 's/^[[:space:]]*"Sum": "\(.*\)",*$/\1/p' <<<"$json")
  if [[ -z $want || $sum != "$want" ]]; then
    log "dex $DEX_VERSION: module hash $sum, tools/dex/go.sum says ${want:-nothing}"
    rm -rf "$work"
    return 1
  fi
  cp -r "$dir" "$work/src" && chmod -R u+w "$work/src"
  patch -s -d "$work/src" -p1 <"$DEX_PATCH"
  mkdir -p "$(dirname "$out")"
  log "building github.com/dexidp/dex/cmd/dex $DEX_VERSION -> $out (-p $P)"
  (cd "$work/src" &&
    go mod edit -dropreplace=github.com/dexidp/dex/api/v2 -droprequire=github.com/dexidp/dex/api/v2 &&
    go build -p "$P" -trimpath -pgo=off ${K8S_GOFLAGS_EXTRA:-} \
      -ldflags "-s -w -X main.version=$DEX_VERSION+mcp-no-grpc-api" -o "$out.tmp.$$" ./cmd/dex) || {
    rm -rf "$work" "$out.tmp.$$"; return 1; }
  mv -f "$out.tmp.$$" "$out"
  rm -rf "$work"
  log "built dex in $(($(date +%s) - t0))s"
}

# github-mcp-server from its wrapper module (tools/github-mcp-server), as
# upstream's Dockerfile builds it (CGO off, -s -w, main.version) minus the
# OAuth app credentials it bakes in from build secrets: with none, stdio needs
# GITHUB_PERSONAL_ACCESS_TOKEN (or GitHub App settings), as the examples give.
# Its web UI (pkg/github/ui_dist, built by npm upstream) is the module's
# placeholder page.
build_github_mcp() {
  gobuild tools/github-mcp-server "$GITHUB_MCP_BIN_DIR/github-mcp-server" \
    github.com/github/github-mcp-server/v2/cmd/github-mcp-server "-X main.version=$GITHUB_MCP_VERSION"
}

gen_k8s_mod() {
  local v=$1 gomod minor
  [[ $v =~ ^v1\.[0-9]+\.[0-9]+$ ]] || { echo "usage: $0 gen-k8s-mod v1.X.Y" >&2; exit 2; }
  minor=v0.${v#v1.}
  ensure_go
  gomod=$(cd "$ROOT/tools/k8s" && go mod download -json "k8s.io/kubernetes@$v" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
  [[ -f $gomod ]] || { echo "cannot download k8s.io/kubernetes@$v" >&2; exit 1; }
  {
    sed -n '1,/^module /{/^module /d;p}' "$ROOT/tools/k8s/go.mod"
    echo 'module github.com/mcp-operator/tools/k8s'
    echo
    echo "go $(awk '$1=="go" {print $2; exit}' "$gomod")"
    awk '$1=="godebug" {print ""; print; exit}' "$gomod"
    echo
    echo 'tool ('
    printf '\tk8s.io/kubernetes/cmd/%s\n' kube-apiserver kube-controller-manager kube-proxy kube-scheduler kubectl kubelet
    echo ')'
    echo
    echo "require k8s.io/kubernetes $v"
    echo
    echo 'replace ('
    awk -v mv="$minor" '/^\tk8s\.io\/[^ ]+ v0\.0\.0$/ {printf "\t%s => %s %s\n", $1, $1, mv}' "$gomod"
    echo ')'
  } >"$ROOT/tools/k8s/go.mod.new"
  mv "$ROOT/tools/k8s/go.mod.new" "$ROOT/tools/k8s/go.mod"
  (cd "$ROOT/tools/k8s" && go mod tidy)
  log "tools/k8s/go.mod now at $v; etcd pinned by it: $(awk '$1=="go.etcd.io/etcd/server/v3" {print $2}' "$gomod")"
}

if [[ ${1:-} == gen-k8s-mod ]]; then
  gen_k8s_mod "${2:-}"
  exit 0
fi

targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(k8s etcd helm node)

T0=$(date +%s)
for t in "${targets[@]}"; do
  case $t in
    k8s) log "kubernetes $K8S_VERSION"; build_k8s ;;
    etcd) log "etcd $ETCD_VERSION"; build_etcd ;;
    helm) log "helm $HELM_VERSION ($HELM_MODULE)"; build_helm ;;
    dex) log "dex $DEX_VERSION"; build_dex ;;
    github-mcp-server) log "github-mcp-server $GITHUB_MCP_VERSION"; build_github_mcp ;;
    node) log "containerd $CONTAINERD_VERSION, CNI plugins $CNI_VERSION, CoreDNS $COREDNS_VERSION, crane $CRANE_VERSION, kube-router $KUBE_ROUTER_VERSION"; build_node ;;
    paths)
      echo "K8S_BIN_DIR=$K8S_BIN_DIR"
      echo "ETCD_BIN_DIR=$ETCD_BIN_DIR"
      echo "HELM_BIN_DIR=$HELM_BIN_DIR"
      echo "NODE_BIN_DIR=$NODE_BIN_DIR"
      echo "DEX_BIN_DIR=$DEX_BIN_DIR"
      echo "GITHUB_MCP_BIN_DIR=$GITHUB_MCP_BIN_DIR"
      exit 0 ;;
    *) echo "usage: $0 [k8s|etcd|helm|node|dex|github-mcp-server|paths]..." >&2; exit 2 ;;
  esac
done
log "done in $(( $(date +%s) - T0 ))s"
