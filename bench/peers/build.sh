#!/usr/bin/env bash
# Build (once) the benchmark's peers and print the path of what was asked for.
# Everything comes from its registry (Go module proxy, PyPI), pinned in this
# repository, and is cached outside it:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/peers/<name>/<version>/bin/...
#
# usage: bench/peers/build.sh NAME    prints the binary's path on stdout
#   webhook-go     controller-runtime webhook (bench/peers/webhook-go)
#   thv-operator   ToolHive's operator, cmd/thv-operator (bench/peers/thv-operator)
#   thv-proxyrunner ToolHive's proxy runner, cmd/thv-proxyrunner (same module)
#   thv-crds       ToolHive's CRD directory from the same module version
#   rawwrite       the trivial apiserver write client (bench/peers/rawwrite)
#   mcp-proxy-py   the Python mcp-proxy (PyPI)
#   mcp-server-time the stdio MCP server used by the proxy bench (PyPI)
#
# Go builds run niced with -p ${PEERS_BUILD_P:-1}: the machine is shared.
# PEERS_NO_BUILD=1: print the path only when already built, else exit 3.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/mcp-operator/peers
P=${PEERS_BUILD_P:-1}
MCP_PROXY_PY_VERSION=0.13.0
MCP_SERVER_TIME_VERSION=2026.10.19
export CGO_ENABLED=0 GOFLAGS=-buildvcs=false
# shellcheck source=../../e2e/local/go.sh
. "$HERE/../../e2e/local/go.sh"

log() { printf '[peers %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# modver DIR MODULE -> the version DIR's go.mod (or go.sum) pins MODULE at
modver() {
    awk -v m="$2" '($1 == m || ($1 == "require" && $2 == m)) { v = ($1 == m) ? $2 : $3; if (v ~ /^v/) { print v; exit } }' \
        "$HERE/$1/go.mod"
}
# srchash DIR -> short hash of the wrapper's own files (the pins and any source)
srchash() { (cd "$HERE/$1" && cat go.mod go.sum ./*.go 2>/dev/null | sha256sum | cut -c1-10); }
gobuild() { # DIR OUT PKG
    local dir=$1 out=$2 pkg=$3 t0
    if [[ -x $out ]]; then echo "$out"; return 0; fi
    [[ ${PEERS_NO_BUILD:-0} == 1 ]] && { log "not built yet: $out"; return 3; }
    ensure_go
    mkdir -p "$(dirname "$out")"
    log "building $pkg -> $out (go build -p $P, nice 19; first time only)"
    t0=$(date +%s)
    (cd "$HERE/$dir" && GOTOOLCHAIN=local nice -n 19 go build -p "$P" -trimpath -ldflags '-s -w' \
        -o "$out.tmp.$$" "$pkg") >&2
    mv -f "$out.tmp.$$" "$out"
    log "built $(basename "$out") in $(($(date +%s) - t0)) s"
    echo "$out"
}
venv() { # NAME VERSION PACKAGE BIN
    local d=$CACHE/$1/$2
    if [[ ! -x $d/bin/$4 ]]; then
        log "installing $3==$2 from PyPI into $d"
        rm -rf "$d"
        python3 -m venv "$d" >&2
        "$d/bin/pip" install -q "$3==$2" >&2
    fi
    echo "$d/bin/$4"
}

case ${1:-} in
webhook-go)
    v=$(modver webhook-go sigs.k8s.io/controller-runtime)
    gobuild webhook-go "$CACHE/webhook-go/$v-$(srchash webhook-go)/bin/webhook-go" .
    ;;
thv-operator)
    v=$(modver thv-operator github.com/stacklok/toolhive)
    gobuild thv-operator "$CACHE/thv-operator/$v/bin/thv-operator" github.com/stacklok/toolhive/cmd/thv-operator
    ;;
thv-proxyrunner)
    v=$(modver thv-operator github.com/stacklok/toolhive)
    gobuild thv-operator "$CACHE/thv-proxyrunner/$v/bin/thv-proxyrunner" github.com/stacklok/toolhive/cmd/thv-proxyrunner
    ;;
thv-crds)
    v=$(modver thv-operator github.com/stacklok/toolhive)
    ensure_go
    d=$(cd "$HERE/thv-operator" && GOTOOLCHAIN=local go mod download -json "github.com/stacklok/toolhive@$v" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
    [[ -d $d/deploy/charts/operator-crds/files/crds ]] || { log "no CRDs in $d"; exit 1; }
    echo "$d/deploy/charts/operator-crds/files/crds"
    ;;
rawwrite)
    gobuild rawwrite "$CACHE/rawwrite/$(srchash rawwrite)/bin/rawwrite" .
    ;;
mcp-proxy-py) venv mcp-proxy-py "$MCP_PROXY_PY_VERSION" mcp-proxy mcp-proxy ;;
mcp-server-time) venv mcp-server-time "$MCP_SERVER_TIME_VERSION" mcp-server-time mcp-server-time ;;
*)
    sed -n '2,17p' "$0" >&2
    exit 2
    ;;
esac
